/*
 * libFuzzer: the project's JSON reader (core/jsonin.c) against jansson's.
 * Whatever it reads on its own, jansson reads to the same values in the
 * same order; tt_json_load reads exactly what json_loadb reads, or fails
 * with its message.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/query/jsonin.h"

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

static void same(const json_t *a, const json_t *b)
{
    char *x = dump(a), *y = dump(b);
    if (!json_equal(a, b) || x == NULL || y == NULL || strcmp(x, y) != 0)
        abort();
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *fast = tt_json_load_fast(text, size);
    json_t *plain = json_loadb(text, size, 0, NULL);
    if (fast != NULL) {
        if (plain == NULL)
            abort();
        same(plain, fast);
    }
    static const size_t flags[] = {0, JSON_REJECT_DUPLICATES};
    for (int i = 0; i < 2; i++) {
        json_error_t e1, e2;
        json_t *want = json_loadb(text, size, flags[i], &e1);
        json_t *got = tt_json_load(text, size, flags[i], &e2);
        if ((want == NULL) != (got == NULL))
            abort();
        if (want)
            same(want, got);
        else if (strcmp(e1.text, e2.text) != 0 || e1.position != e2.position)
            abort();
        json_decref(want);
        json_decref(got);
    }
    json_decref(fast);
    json_decref(plain);
    return 0;
}
