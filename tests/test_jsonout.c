/*
 * test_jsonout.c: tt_json_compact gives json_dumps's bytes.
 *
 * Every value here is dumped by both and the two must be equal: random
 * trees of every JSON type (escapes, control bytes, NUL inside strings and
 * keys, CJK and four-byte characters, the integer extremes, reals with and
 * without a precision), every schema and fixture the project ships, and
 * strings that are not UTF-8 (both refuse them as values; as keys, which
 * jansson writes out unchecked, tt_json_compact refuses them too).
 */
#include "testutil.h"

#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* a random string: ASCII with the escaped bytes, NUL, 2-, 3- and 4-byte characters */
static json_t *random_string(void)
{
    static const char *pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n",
                                   "\r", "\t", "\x01", "\x1f", "\x7f", "é", "当归", "岷县",
                                   "\xF0\x9F\x8C\xBF", "\xE2\x80\xA8", "~"};
    char s[256];
    size_t n = 0, parts = randombytes_uniform(12);
    for (size_t i = 0; i < parts; i++) {
        if (randombytes_uniform(10) == 0) { /* a NUL inside */
            s[n++] = '\0';
            continue;
        }
        const char *p = pieces[randombytes_uniform(sizeof pieces / sizeof *pieces)];
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    return json_stringn(s, n);
}

static json_t *random_value(int depth)
{
    uint32_t kind = randombytes_uniform(depth > 4 ? 6 : 8);
    switch (kind) {
    case 0: {
        static const json_int_t ints[] = {0, 1, -1, 9, 10, -10, 250, 1000000, INT64_MAX, INT64_MIN,
                                         INT64_MIN + 1, 1793412853000};
        return randombytes_uniform(2) ? json_integer(ints[randombytes_uniform(12)])
                                      : json_integer((json_int_t)randombytes_random() -
                                                     (json_int_t)randombytes_random() * 65536);
    }
    case 1: {
        static const double reals[] = {0.5, -0.0, 1e300, 1.5e-7, 29.58, 106.55, 3.0, 1e21};
        return json_real(reals[randombytes_uniform(8)] * (randombytes_uniform(3) + 1));
    }
    case 2:
        return json_true();
    case 3:
        return json_false();
    case 4:
        return json_null();
    case 5:
        return random_string();
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = 0, n = randombytes_uniform(6); i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = 0, n = randombytes_uniform(6); i < n; i++) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random_trees(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = randombytes_uniform(2) ? json_object() : json_array();
        for (uint32_t k = 0, n = randombytes_uniform(8); k < n; k++) {
            json_t *x = random_value(1);
            if (json_is_object(v))
                json_object_set_new(v, k % 2 ? "id" : "当归\n\"k\"", x);
            else
                json_array_append_new(v, x);
        }
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
    static const char *bad[] = {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ab\xE5\xBD",
                                "\x80", "\xFF"};
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

/* every .json file under dir, parsed and dumped by both */
static int walk(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            json_error_t jerr;
            json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
            if (v == NULL)
                continue; /* some fixtures are broken on purpose */
            same(v, JSON_COMPACT);
            json_decref(v);
            n++;
        } else if (e->d_type == DT_DIR) {
            n += walk(path);
        }
    }
    closedir(d);
    return n;
}

static void test_shipped_documents(void **state)
{
    (void)state;
    int n = walk("schemas") + walk("tests/fixtures");
    print_message("%d shipped JSON documents dump the same\n", n);
    assert_true(n >= 40);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_trees),
        cmocka_unit_test(test_not_utf8_is_refused),
        cmocka_unit_test(test_shipped_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
