/*
 * test_jsonin.c: tt_json_load reads what json_loadb reads.
 *
 * Two things are held here. Whatever the project's reader reads on its own
 * (tt_json_load_fast), jansson reads too, to the same values in the same
 * order; and the documents the project meets (random trees written every
 * way jansson writes them, every schema and fixture it ships) are read by
 * the reader itself, not handed back. Then tt_json_load, on those and on
 * broken and mutated documents, gives what json_loadb gives: the same
 * values, or the same error message at the same position.
 */
#define _GNU_SOURCE /* memmem */
#include "testutil.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/query/jsonin.h"

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* v and w are the same values, members in the same order */
static void same_value(const json_t *v, const json_t *w, const char *text, size_t len)
{
    char *a = dump(v), *b = dump(w);
    if (!json_equal(v, w) || strcmp(a, b) != 0)
        fail_msg("read differently from jansson: %.*s\n  jansson: %s\n  here: %s", (int)len, text,
                 a, b);
    free(a);
    free(b);
}

/*
 * The reader, tt_json_load and json_loadb on one document. Returns 1 when
 * the reader read it on its own.
 */
static int check(const char *text, size_t len, size_t flags)
{
    json_error_t e1, e2;
    json_t *want = json_loadb(text, len, flags, &e1);
    json_t *got = tt_json_load(text, len, flags, &e2);
    json_t *fast = tt_json_load_fast(text, len);
    if (fast) {
        /* what the reader reads, jansson reads (duplicates are left to it either way) */
        json_t *plain = json_loadb(text, len, 0, NULL);
        if (plain == NULL)
            fail_msg("read here but refused by jansson: %.*s", (int)len, text);
        same_value(plain, fast, text, len);
        json_decref(plain);
    }
    if (want == NULL) {
        if (got != NULL)
            fail_msg("tt_json_load read what jansson refuses (%s): %.*s", e1.text, (int)len, text);
        assert_string_equal(e1.text, e2.text);
        assert_int_equal(e1.position, e2.position);
        assert_int_equal(e1.line, e2.line);
    } else {
        if (got == NULL)
            fail_msg("tt_json_load refused (%s) what jansson reads: %.*s", e2.text, (int)len, text);
        same_value(want, got, text, len);
    }
    json_decref(want);
    json_decref(got);
    json_decref(fast);
    return fast != NULL;
}

/* jansson reads it, and nothing in it is beyond the reader: \u0000, 19 or more digits */
static int ordinary(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_decref(v);
    if (v == NULL || memmem(text, len, "\\u0000", 6) != NULL)
        return 0;
    size_t run = 0;
    for (size_t i = 0; i < len; i++)
        if ((run = text[i] >= '0' && text[i] <= '9' ? run + 1 : 0) >= 19)
            return 0;
    return 1;
}

/* the ways jansson writes a document: compact, indented, ASCII only (\u escapes and
 * surrogate pairs), escaped slashes, sorted, with fewer digits */
static const size_t WRITES[] = {
    JSON_COMPACT,
    JSON_INDENT(2),
    JSON_COMPACT | JSON_ENSURE_ASCII,
    JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH,
    JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6),
    0,
};

static void test_random_documents(void **state)
{
    (void)state;
    int read = 0, ord = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *v = tu_random_document();
        for (size_t w = 0; w < sizeof WRITES / sizeof *WRITES; w++) {
            char *text = json_dumps(v, WRITES[w]);
            assert_non_null(text);
            size_t len = strlen(text);
            int o = ordinary(text, len);
            int f = check(text, len, JSON_REJECT_DUPLICATES);
            check(text, len, 0);
            if (o && !f)
                fail_msg("left to jansson though nothing in it is unusual: %s", text);
            ord += o;
            read += f;
            free(text);
        }
        json_decref(v);
    }
    print_message("%d of 18000 random documents read here (%d of them ordinary)\n", read, ord);
    assert_true(ord > 9000); /* most have no NUL and no 19-digit integer */
    assert_int_equal(read, ord);
}

/* a string literal and its length, NUL bytes inside included */
#define LIT(s) (s), sizeof(s) - 1

typedef struct doc {
    const char *text;
    size_t len;
} doc;

static void test_hand_made(void **state)
{
    (void)state;
    static const doc yes[] = {
        {LIT("{}")},
        {LIT("[]")},
        {LIT(" \t\r\n[ 1 , -0 , 0.5e-3 , 1E+2 , 2e2, -12.25, true,false,null ] \n")},
        {LIT("{\"a\":\"\\u00e9\\ud83c\\udf3F\\/\\b\\f\\n\\r\\t\\\"\\\\\",\"\":[{}]}")},
        {LIT("{\"k\\u00e9\\n\":1,\"k\\u00e9\":2}")},
        {LIT("[\"\x7f\",\"当归\",\"\xF0\x9F\x8C\xBF\",\"\xEF\xBF\xBF\",\"\xF4\x8F\xBF\xBF\"]")},
        {LIT("[999999999999999999,-999999999999999999,1.7976931348623157e308]")},
        {LIT("{\"v\":1,\"type\":\"batch.sell\",\"id\":\"2611221000000017\",\"qty_g\":250}")},
    };
    static const doc no[] = {
        {LIT("")},
        {LIT("   ")},
        {LIT("\"str\"")},
        {LIT("1")},
        {LIT("true")},
        {LIT("[01]")},
        {LIT("[1.]")},
        {LIT("[.5]")},
        {LIT("[-]")},
        {LIT("[1e]")},
        {LIT("[1e+]")},
        {LIT("[+1]")},
        {LIT("[1,]")},
        {LIT("{\"a\":1,}")},
        {LIT("{\"a\" 1}")},
        {LIT("{a:1}")},
        {LIT("{\"a\":1 \"b\":2}")},
        {LIT("[\"\\u0000\"]")},
        {LIT("{\"\\u0000\":1}")},
        {LIT("[\"\\ud800\"]")},
        {LIT("[\"\\udc00\"]")},
        {LIT("[\"\\ud800\\u0041\"]")},
        {LIT("[\"\\ud800\\n\"]")},
        {LIT("[\"\\x\"]")},
        {LIT("[\"\\u12G4\"]")},
        {LIT("[\"\\u12\"]")},
        {LIT("[\"a\nb\"]")},
        {LIT("[\"a\tb\"]")},
        {LIT("[\"abc")},
        {LIT("[1] x")},
        {LIT("[1]\0")},
        {LIT("[1\0]")},
        {LIT("[truex]")},
        {LIT("[nul]")},
        {LIT("[True]")},
        {LIT("[\"\xC0\xAF\"]")},
        {LIT("[\"\xED\xA0\x80\"]")},
        {LIT("[\"\xF4\x90\x80\x80\"]")},
        {LIT("[\"\xE0\x80\xAF\"]")},
        {LIT("[\"\xE5\xBD\"]")},
        {LIT("[\"\x80\"]")},
        {LIT("[\"\xFF\"]")},
        {LIT("[\xE5\xBD\x93]")},
        {LIT("{\"a\":1,\"a\":2}")},
        {LIT("[9223372036854775807]")},
        {LIT("[-9223372036854775808]")},
        {LIT("[9223372036854775808]")},
        {LIT("[1e400]")},
        {LIT("[-1e400]")},
        {LIT("[1e-400]")},
        {LIT("[4.9e-324]")},
        {LIT("[1]]")},
        {LIT("{}}")},
        {LIT("[[]")},
        {LIT("{\"a\":}")},
        {LIT("{\"a\"}")},
        {LIT("[,1]")},
        {LIT("\xEF\xBB\xBF{}")},
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!check(yes[i].text, yes[i].len, JSON_REJECT_DUPLICATES))
            fail_msg("left to jansson: %s", yes[i].text);
        check(yes[i].text, yes[i].len, 0);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        json_t *f = tt_json_load_fast(no[i].text, no[i].len);
        if (f != NULL)
            fail_msg("read here though it is jansson's to judge: %.*s", (int)no[i].len, no[i].text);
        check(no[i].text, no[i].len, JSON_REJECT_DUPLICATES);
        check(no[i].text, no[i].len, 0);
    }
    /* jansson reads 2048 levels; the reader leaves more than 256 to it */
    char deep[2 * 600 + 1];
    for (int d = 255; d <= 600; d += 345) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        json_t *f = tt_json_load_fast(deep, 2 * (size_t)d);
        if (d <= 256)
            assert_non_null(f);
        else
            assert_null(f);
        json_decref(f);
        check(deep, 2 * (size_t)d, 0);
    }
    /* an error is jansson's own, with its position */
    json_error_t e;
    assert_null(tt_json_load("{\"a\":1,}", 8, JSON_REJECT_DUPLICATES, &e));
    assert_non_null(strstr(e.text, "string or '}' expected"));
    assert_null(tt_json_load("{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, &e));
    assert_non_null(strstr(e.text, "duplicate object key"));
    json_t *last =
        tt_json_load("{\"a\":1,\"a\":2}", 13, 0, &e); /* without the flag jansson keeps the last */
    assert_int_equal(json_integer_value(json_object_get(last, "a")), 2);
    json_decref(last);
    assert_null(tt_json_load(NULL, 0, 0, &e));
}

/* random damage to a document: a byte changed, removed, doubled or one of the
 * grammar's own put in, or the end cut off */
static void mutate(char *s, size_t *len, size_t cap)
{
    static const char put[] = "{}[]\",:\\u0-.eE+ \n\x01\x80\xC3\xED\xF4"
                              "tfn1";
    size_t n = *len, at = n ? randombytes_uniform((uint32_t)n) : 0;
    switch (randombytes_uniform(5)) {
    case 0:
        if (n)
            s[at] = (char)randombytes_uniform(256);
        break;
    case 1:
        if (n) {
            memmove(s + at, s + at + 1, n - at - 1);
            n--;
        }
        break;
    case 2:
        if (n && n + 1 < cap) {
            memmove(s + at + 1, s + at, n - at);
            n++;
        }
        break;
    case 3:
        if (n + 1 < cap) {
            memmove(s + at + 1, s + at, n - at);
            s[at] = put[randombytes_uniform(sizeof put - 1)];
            n++;
        }
        break;
    default:
        n = at;
    }
    *len = n;
}

static int mutated(const char *path, void *ctx)
{
    size_t len, *count = ctx;
    char *text = tu_slurp(path, &len);
    json_t *plain = json_loadb(text, len, 0, NULL);
    if (plain != NULL && ordinary(text, len) && !check(text, len, JSON_REJECT_DUPLICATES))
        fail_msg("a shipped document was left to jansson: %s", path);
    json_decref(plain);
    size_t cap = len + 64;
    char *m = malloc(cap);
    for (int i = 0; i < 60; i++) {
        size_t n = len;
        memcpy(m, text, len);
        for (uint32_t k = 0, times = 1 + randombytes_uniform(3); k < times; k++)
            mutate(m, &n, cap);
        check(m, n, JSON_REJECT_DUPLICATES);
        check(m, n, 0);
        (*count)++;
    }
    free(m);
    free(text);
    return plain != NULL;
}

static void test_shipped_and_damaged(void **state)
{
    (void)state;
    size_t damaged = 0;
    int n = tu_each_shipped_json(mutated, &damaged);
    print_message("%d shipped JSON documents read here, %zu damaged copies read as jansson does\n",
                  n, damaged);
    assert_true(n >= 40);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_hand_made),
        cmocka_unit_test(test_shipped_and_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
