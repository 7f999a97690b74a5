/*
 * test_jsonout.c: tt_json_compact gives json_dumps's bytes.
 *
 * Every value here is dumped by both and the two must be equal: random
 * trees of every JSON type (escapes, control bytes, NUL inside strings and
 * keys, CJK and four-byte characters, the integer extremes, reals with and
 * without a precision), every schema and fixture the project ships, and
 * strings that are not UTF-8 (both refuse them as values; as keys, which
 * jansson writes out unchecked, tt_json_compact refuses them too).
 *
 * The derived records' binary layout (core/rec.c) is checked here too: every
 * such value comes back from its record equal, and the same value always
 * gives the same bytes.
 */
#include "testutil.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/store/ledger_internal.h"
#include "tcmtrace/api.h"

static void same(const json_t *v, size_t flags)
{
    char *want = json_dumps(v, flags);
    size_t len = 12345;
    char *got = tt_json_compact(v, flags, &len);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    if (got == NULL)
        fail_msg("tt_json_compact refused what json_dumps gives as %.200s", want);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
}

static void test_random_trees(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = tu_random_document();
        same(v, JSON_COMPACT);
        same(v, JSON_COMPACT | JSON_REAL_PRECISION(12));
        same(v, JSON_COMPACT | JSON_SORT_KEYS); /* jansson's own: still the same */
        same(v, JSON_INDENT(2));
        json_decref(v);
    }
    /* empty containers, and values that are not containers (jansson refuses those) */
    json_t *e = json_pack("{s:{}, s:[], s:[[]], s:{s:{}}}", "o", "a", "aa", "oo", "x");
    same(e, JSON_COMPACT);
    json_decref(e);
    json_t *bare = json_integer(7);
    same(bare, JSON_COMPACT);
    same(bare, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(bare);
    assert_null(tt_json_compact(NULL, JSON_COMPACT, NULL));
}

static void test_not_utf8_is_refused(void **state)
{
    (void)state;
    static const char *bad[] = {"\xC0\xAF",   "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                "ab\xE5\xBD", "\x80",         "\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "v", json_stringn_nocheck(bad[i], strlen(bad[i])));
        assert_null(json_dumps(o, JSON_COMPACT)); /* jansson refuses it */
        assert_null(tt_json_compact(o, JSON_COMPACT, NULL));
        json_decref(o);
        json_t *k = json_object();
        json_object_setn_new_nocheck(k, bad[i], strlen(bad[i]), json_true());
        /* jansson writes such a key out as it is; an answer must be UTF-8, so not here */
        assert_null(tt_json_compact(k, JSON_COMPACT, NULL));
        json_decref(k);
    }
}

/* The writer looks at eight bytes at a time: every byte that needs escaping, and every
 * byte that is not UTF-8, is found wherever it falls in a run of plain ASCII or Chinese. */
static void test_every_offset(void **state)
{
    (void)state;
    static const char *special[] = {"\"", "\\", "\n", "\x01", "\x1f", "\t", " ", "\x7f", "~"};
    static const char *fill[] = {"abcdefghijklmnopqrstuvwxyz0123456789", "当归黄芪党参川芎白芍"};
    static const char *bad[] = {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xE5\xBD", "\xFF"};
    char s[128];
    for (size_t f = 0; f < 2; f++)
        for (size_t at = 0; at <= 24; at++) {
            size_t step = f ? 3 : 1; /* a Chinese character is three bytes */
            size_t pre = at * step < strlen(fill[f]) ? at * step : strlen(fill[f]);
            for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
                snprintf(s, sizeof s, "%.*s%s%s", (int)pre, fill[f], special[k], fill[f]);
                json_t *o = json_pack("{s:s, s:[s]}", s, s, "a", s);
                same(o, JSON_COMPACT);
                json_decref(o);
            }
            for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
                snprintf(s, sizeof s, "%.*s%s%s", (int)pre, fill[f], bad[k], fill[f]);
                assert_int_equal(tt_utf8_valid((const uint8_t *)s, strlen(s)), 0);
                json_t *o = json_object();
                json_object_set_new(o, "v", json_stringn_nocheck(s, strlen(s)));
                assert_null(tt_json_compact(o, JSON_COMPACT, NULL));
                json_decref(o);
            }
            snprintf(s, sizeof s, "%.*s%s", (int)pre, fill[f], fill[f]);
            assert_int_equal(tt_utf8_valid((const uint8_t *)s, strlen(s)), 1);
        }
}

static int dump_same(const char *path, void *ctx)
{
    (void)ctx;
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        return 0; /* some fixtures are broken on purpose */
    same(v, JSON_COMPACT);
    json_decref(v);
    return 1;
}

static void test_shipped_documents(void **state)
{
    (void)state;
    int n = tu_each_shipped_json(dump_same, NULL);
    print_message("%d shipped JSON documents dump the same\n", n);
    assert_true(n >= 40);
}

/* A record of v decodes to a value equal to v, and v's record is always the same bytes. */
static size_t record_round_trip(json_t *v)
{
    size_t len = 0, len2 = 0;
    char *r = tt_rec_encode(v, &len), *r2 = tt_rec_encode(v, &len2);
    assert_non_null(r);
    assert_int_equal(len, len2);
    assert_memory_equal(r, r2, len);
    json_t *back = tt_rec_decode(r, len);
    if (back == NULL) {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        fail_msg("no record back for %s", t ? t : "?");
    }
    assert_true(json_equal(back, v));
    for (size_t cut = 0; cut < len; cut++) /* a cut record is not one */
        assert_null(tt_rec_decode(r, cut));
    json_decref(back);
    free(r);
    free(r2);
    return len;
}

static void test_records(void **state)
{
    (void)state;
    for (int i = 0, n = 0; n < 300; i++) {
        json_t *d = tu_random_document();
        char *t = json_dumps(d, JSON_ENSURE_ASCII);
        if (strstr(t, "\\u0000") == NULL) /* a record's keys hold no NUL, the rules' never do */
            record_round_trip(d), n++;
        free(t);
        json_decref(d);
        assert_true(i < 3000);
    }
    /* a SHA-256 in lowercase hex takes its 32 bytes; anything like it but not it, its text */
    const char *hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    json_t *h = json_pack("{s:s}", "sha256", hash);
    size_t small = record_round_trip(h);
    assert_true(small <= 1 + 1 + 1 + 2 + 1 + 32); /* version, object, count, key, tag, bytes */
    json_decref(h);
    char near[66];
    const char *edits[] = {"9F", "g0", "9f 0"};
    for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
        snprintf(near, sizeof near, "%s%s", edits[e], hash + 2);
        near[64 + (e == 2)] = '\0';
        h = json_pack("{s:s}", "sha256", near);
        assert_true(record_round_trip(h) > small + 30);
        json_decref(h);
    }
    snprintf(near, sizeof near, "%.62s", hash); /* 62 digits */
    h = json_pack("[s]", near);
    assert_true(record_round_trip(h) > 62);
    json_decref(h);
}

/* A record's object members are in key order (byte by byte, a shorter key before a longer
 * one it begins), whatever order they were added in: the derived-state digest hashes the
 * record's bytes, so the writer and an audit's replay must make the same ones. Around 32
 * members, where the encoder changes how it sorts. */
static void test_record_key_order(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 40; n++) {
        char keys[40][10];
        for (size_t i = 0; i < n;
             i++) /* all different, and prefixes of each other: "b", "b7", "b7a" */
            snprintf(keys[i], sizeof keys[i], "%c%.*s", 'a' + (int)(i % 5), (int)(i / 5),
                     "7a97a97a9");
        json_t *ordered = json_object(), *shuffled = json_object();
        size_t idx[40];
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        for (size_t i = n; i > 1; i--) { /* a random order to add them in */
            size_t j = randombytes_uniform((uint32_t)i), t = idx[i - 1];
            idx[i - 1] = idx[j], idx[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            json_object_set_new(shuffled, keys[idx[i]], json_integer((json_int_t)idx[i]));
        }
        /* the same members added in sorted order */
        size_t sorted[40];
        for (size_t i = 0; i < n; i++)
            sorted[i] = i;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(keys[sorted[j - 1]], keys[sorted[j]]) > 0; j--) {
                size_t t = sorted[j];
                sorted[j] = sorted[j - 1], sorted[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++)
            json_object_set_new(ordered, keys[sorted[i]], json_integer((json_int_t)sorted[i]));
        size_t n1 = 0, n2 = 0;
        char *r1 = tt_rec_encode(shuffled, &n1), *r2 = tt_rec_encode(ordered, &n2);
        assert_non_null(r1);
        assert_non_null(r2);
        assert_int_equal(n1, n2);
        assert_memory_equal(r1, r2, n1);
        json_t *back = tt_rec_decode(r1, n1); /* jansson keeps the order members came in */
        assert_non_null(back);
        assert_int_equal(json_object_size(back), json_object_size(ordered));
        const char *k, *prev = NULL;
        json_t *v;
        json_object_foreach(back, k, v)
        {
            if (prev)
                assert_true(strcmp(prev, k) < 0);
            prev = k;
        }
        json_decref(back);
        free(r1);
        free(r2);
        json_decref(ordered);
        json_decref(shuffled);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_trees), cmocka_unit_test(test_not_utf8_is_refused),
        cmocka_unit_test(test_every_offset), cmocka_unit_test(test_shipped_documents),
        cmocka_unit_test(test_records),      cmocka_unit_test(test_record_key_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
