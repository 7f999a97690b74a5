/*
 * jsonout.c: API answers as compact JSON, the bytes json_dumps(v, JSON_COMPACT)
 * gives, made faster.
 *
 * jansson 2.14's dumper checks every object and array for a loop by
 * printing its address into a hash table, and hands every token to a
 * callback; for a 10 KB trace answer that was about as much CPU as the
 * trace itself (docs/bench.md). Answers are trees the API builds, so they
 * have no loops: this walks them once into one growing buffer. Reals are
 * rare in answers and are left to jansson, so their digits are its own.
 * tests/test_jsonout.c holds the output to jansson's, byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tcmtrace/api.h"
#include "tcmtrace/bytes.h"

typedef tt_buf buf;

static void put(buf *b, const char *s, size_t n)
{
    tt_buf_put(b, s, n);
}

static void put_c(buf *b, char c)
{
    tt_buf_putc(b, c);
}

/* what a byte below 0x80 becomes inside a string: 0 itself, 'u' \u00XX, else \<c> */
static const char ESC[128] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    [0] = 'u',    [1] = 'u',    [2] = 'u',    [3] = 'u',    [4] = 'u',    [5] = 'u',
    [6] = 'u',    [7] = 'u',    [11] = 'u',   [14] = 'u',   [15] = 'u',   [16] = 'u',
    [17] = 'u',   [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',   [22] = 'u',
    [23] = 'u',   [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',   [28] = 'u',
    [29] = 'u',   [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

/* Whether none of the 8 bytes at s needs escaping: none below 0x20, none '"' or '\\'.
 * Exact for any bytes (x - 0x20.. & ~x & 0x80.. is nonzero just when a byte is below
 * 0x20, and the same with 1 after an XOR finds an equal byte); those of 0x80 and up
 * never count. */
static int plain8(const char *s)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t x, q, e;
    memcpy(&x, s, 8);
    q = x ^ (ones * '"');
    e = x ^ (ones * '\\');
    return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((e - ones) & ~e)) & high) == 0;
}

static void put_string(buf *b, const char *s, size_t n)
{
    if (!tt_utf8_valid((const uint8_t *)s, n)) { /* json_dumps refuses it too */
        b->failed = 1;
        return;
    }
    put_c(b, '"');
    size_t run = 0; /* the start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        while (n - i >= 8 && plain8(s + i))
            i += 8;
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || ESC[c] == 0)
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        if (ESC[c] == 'u') {
            static const char hex[] = "0123456789ABCDEF";
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(b, u, 6);
        } else {
            char e[2] = {'\\', ESC[c]};
            put(b, e, 2);
        }
    }
    put(b, s + run, n - run);
    put_c(b, '"');
}

static void put_integer(buf *b, json_int_t v)
{
    char d[24], *e = d + sizeof d, *p = e;
    /* the magnitude as unsigned, so that the most negative value has one */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    put(b, p, (size_t)(e - p));
}

static void put_value(buf *b, const json_t *v, size_t flags)
{
    if (b->failed)
        return;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put_c(b, '{');
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                put_c(b, ',');
            first = 0;
            put_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            put_c(b, ':');
            put_value(b, json_object_iter_value(it), flags);
        }
        put_c(b, '}');
        break;
    }
    case JSON_ARRAY: {
        put_c(b, '[');
        for (size_t i = 0, n = json_array_size(v); i < n; i++) {
            if (i)
                put_c(b, ',');
            put_value(b, json_array_get(v, i), flags);
        }
        put_c(b, ']');
        break;
    }
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        put_integer(b, json_integer_value(v));
        break;
    case JSON_REAL: {
        char *r = json_dumps(v, flags | JSON_ENCODE_ANY);
        if (r == NULL)
            b->failed = 1;
        else
            put(b, r, strlen(r));
        free(r);
        break;
    }
    case JSON_TRUE:
        put(b, "true", 4);
        break;
    case JSON_FALSE:
        put(b, "false", 5);
        break;
    case JSON_NULL:
        put(b, "null", 4);
        break;
    }
}

char *tt_json_compact(const json_t *v, size_t flags, size_t *len)
{
    /* anything but compactness and the precision of reals: jansson's own */
    if (v == NULL || (flags & ~(size_t)(JSON_COMPACT | JSON_REAL_PRECISION(31))) != 0 ||
        !(flags & JSON_COMPACT) || !(json_is_object(v) || json_is_array(v))) {
        char *s = v ? json_dumps(v, flags) : NULL;
        if (s && len)
            *len = strlen(s);
        return s;
    }
    buf b = {0};
    put_value(&b, v, flags);
    put_c(&b, '\0');
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.n - 1;
    return b.p;
}
