/* libFuzzer: QR label payloads (what a phone camera hands us). */
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
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tt_label lb;
    if (tt_label_parse(s, &lb, NULL) == TT_OK)
        tt_label_verify(&lb, &v, NULL);
    char code[TT_CODE_LEN + 1];
    tt_code_parse(s, code, NULL);
    free(s);
    return 0;
}
