/*
 * libFuzzer: derived records in their binary layout (core/rec.c), as a
 * damaged store could hold them: decoding never reads past the bytes, and
 * whatever decodes encodes to bytes that decode to the same value.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/store/ledger_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = tt_rec_decode(data, size);
    if (v == NULL)
        return 0;
    size_t n1, n2;
    char *a = tt_rec_encode(v, &n1);
    json_t *w = a ? tt_rec_decode(a, n1) : NULL;
    char *b = w ? tt_rec_encode(w, &n2) : NULL;
    if (a == NULL || w == NULL || b == NULL || n1 != n2 || memcmp(a, b, n1) != 0 ||
        !json_equal(v, w))
        abort();
    free(a);
    free(b);
    json_decref(v);
    json_decref(w);
    return 0;
}
