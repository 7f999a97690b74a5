/* libFuzzer: the entry codec. Whatever decodes must re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_entry e;
    if (tt_entry_decode((tt_bytes){size, data}, &e, NULL) != TT_OK)
        return 0;
    uint8_t *out = malloc(size);
    size_t len = 0;
    if (tt_entry_encode(&e, out, size, &len, NULL) != TT_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort(); /* one entry, one encoding */
    free(out);
    tt_event_verify("tcmtrace.test/fuzz", e.body, e.actor, e.sig);
    return 0;
}
