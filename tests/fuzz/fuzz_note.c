/* libFuzzer: signed notes, checkpoints and verifier keys. */
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tt_verifier v;
    static int ready;
    if (!ready) {
        tt_verifier_parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                          &v, NULL);
        ready = 1;
    }
    tt_checkpoint cp;
    size_t text = 0;
    tt_note_verify((tt_bytes){size, data}, &v, 1, &text, NULL);
    tt_checkpoint_parse((tt_bytes){size, data}, &cp, NULL);
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tt_verifier out;
    tt_verifier_parse(s, &out, NULL);
    free(s);
    return 0;
}
