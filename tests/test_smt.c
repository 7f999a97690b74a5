/*
 * test_smt.c: the state map's hashes and proofs (smt.h) against the published vectors
 * (tests/data/statemap-vectors.json, also in docs/statemap.md, checked by
 * tests/check_statemap.py with code of its own), and on random maps.
 *
 * TT_WRITE_VECTORS=PATH writes the vectors file afresh instead of checking it.
 */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/smt.h"
#include "tcmtrace/tracecode.h"

static int by_key(const void *a, const void *b)
{
    return memcmp(a, b, TT_SMT_HASH);
}

/* A trace code of `prefix` (15 digits) with its check digit. */
static void code_of(const char *prefix, char out[17])
{
    memcpy(out, prefix, 15);
    out[15] = (char)('0' + tt_damm(prefix, 15));
    out[16] = '\0';
}

static const char *const leaves[] = {
    "tcmtrace-state/v1\nstatus active\nholder T-0017\nto -\nremaining_g 50000\nverdict pass\nlast 12\n",
    "tcmtrace-state/v1\nstatus recalled\nholder P-0005\nto -\nremaining_g 8000\nverdict fail\nlast 31\n",
    "tcmtrace-state/v1\nstatus in_transit\nholder G-0001\nto T-0023\nremaining_g 120000\nverdict none\nlast 7\n",
    "tcmtrace-state/v1\nstatus held\nholder T-0023\nto -\nremaining_g 2500\nverdict fail\nlast 40\n",
    "tcmtrace-state/v1\nstatus depleted\nholder PH-0009\nto -\nremaining_g 0\nverdict pass\nlast 44\n",
};
#define NLOTS 5

static char codes[NLOTS][17];
static tt_smt_pair pairs[NLOTS];

static int has_empty_end(void);

/* Five lots: four fixed, the fifth the first of its series to make a map in which some absent
 * lot's path ends at an empty subtree (so that the vectors show all three kinds of proof). */
static void vector_map(uint8_t root[32])
{
    static const char *const prefixes[NLOTS - 1] = {"261207000000101", "261207000000202",
                                                    "261207000000303", "261207000000404"};
    for (int i = 0; i < NLOTS - 1; i++) {
        code_of(prefixes[i], codes[i]);
        tt_smt_pair_set(&pairs[i], codes[i], leaves[i], strlen(leaves[i]));
    }
    for (int j = 0; j < 1000; j++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "26120700000%04d", 5000 + j);
        code_of(prefix, codes[NLOTS - 1]);
        tt_smt_pair_set(&pairs[NLOTS - 1], codes[NLOTS - 1], leaves[NLOTS - 1],
                        strlen(leaves[NLOTS - 1]));
        if (has_empty_end())
            break;
    }
    tt_smt_pair sorted[NLOTS];
    memcpy(sorted, pairs, sizeof pairs);
    qsort(sorted, NLOTS, sizeof *sorted, by_key);
    tt_smt_root_of(sorted, NLOTS, root);
}

/* The absent code (of the series 2612079999xxxxx) whose proof is of `kind`; 0 when none. */
static int try_absent_of_kind(int kind, char out[17], tt_smt_proof *p, int tries)
{
    tt_smt_pair sorted[NLOTS];
    memcpy(sorted, pairs, sizeof pairs);
    qsort(sorted, NLOTS, sizeof *sorted, by_key);
    for (int i = 0; i < tries; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "2612079999%05d", i);
        code_of(prefix, out);
        uint8_t key[32];
        tt_smt_key(out, key);
        tt_smt_prove_of(sorted, NLOTS, key, p);
        if (p->kind == kind)
            return 1;
    }
    return 0;
}

static int has_empty_end(void)
{
    char c[17];
    tt_smt_proof p;
    return try_absent_of_kind(TT_SMT_EMPTY, c, &p, 2000);
}

static void absent_of_kind(int kind, char out[17], tt_smt_proof *p)
{
    if (!try_absent_of_kind(kind, out, p, 100000))
        fail_msg("no absent code with a proof of kind %d", kind);
}

static json_t *proof_json(const char *code, const tt_smt_proof *p, const char *leaf)
{
    uint8_t wire[TT_SMT_PROOF_MAX];
    size_t n = tt_smt_proof_encode(p, wire);
    char *b64 = malloc(tt_b64_len(n));
    tt_b64((tt_bytes){n, wire}, b64);
    json_t *j = json_pack("{s:s, s:b, s:s}", "code", code, "present", leaf != NULL, "proof", b64);
    if (leaf)
        json_object_set_new(j, "leaf", json_string(leaf));
    free(b64);
    return j;
}

static json_t *vectors(void)
{
    uint8_t root[32];
    char r64[48];
    vector_map(root);
    tt_b64((tt_bytes){32, root}, r64);
    json_t *lots = json_array(), *proofs = json_array();
    for (int i = 0; i < NLOTS; i++)
        json_array_append_new(lots, json_pack("{s:s, s:s}", "code", codes[i], "leaf", leaves[i]));
    tt_smt_pair sorted[NLOTS];
    memcpy(sorted, pairs, sizeof pairs);
    qsort(sorted, NLOTS, sizeof *sorted, by_key);
    tt_smt_proof p;
    tt_smt_prove_of(sorted, NLOTS, pairs[1].key, &p);
    json_array_append_new(proofs, proof_json(codes[1], &p, leaves[1]));
    char absent[17];
    absent_of_kind(TT_SMT_OTHER, absent, &p);
    json_array_append_new(proofs, proof_json(absent, &p, NULL));
    absent_of_kind(TT_SMT_EMPTY, absent, &p);
    json_array_append_new(proofs, proof_json(absent, &p, NULL));
    return json_pack("{s:s, s:o, s:s, s:o}", "about",
                     "tcmtrace state map test vectors (docs/statemap.md): a map of five lots, its "
                     "root, and three proofs: a lot's leaf, an absent lot ending at another "
                     "lot's leaf, an absent lot ending at an empty subtree",
                     "lots", lots, "root", r64, "proofs", proofs);
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *mine = vectors();
    const char *out = getenv("TT_WRITE_VECTORS");
    if (out) {
        assert_int_equal(json_dump_file(mine, out, JSON_INDENT(2) | JSON_ENSURE_ASCII), 0);
        json_decref(mine);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/statemap-vectors.json", tu_datadir());
    json_t *file = json_load_file(path, 0, NULL);
    assert_non_null(file);
    assert_true(json_equal(mine, file));
    /* every proof in the file verifies, and fails for any other claim */
    uint8_t root[32];
    size_t rl;
    const char *r64 = json_string_value(json_object_get(file, "root"));
    assert_int_equal(tt_unb64(r64, strlen(r64), 0, root, sizeof root, &rl), TT_OK);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(file, "proofs"), i, v)
    {
        const char *code = json_string_value(json_object_get(v, "code"));
        const char *p64 = json_string_value(json_object_get(v, "proof"));
        const char *leaf = json_string_value(json_object_get(v, "leaf"));
        uint8_t wire[TT_SMT_PROOF_MAX], key[32];
        size_t wl;
        tt_smt_proof p;
        assert_int_equal(tt_unb64(p64, strlen(p64), 0, wire, sizeof wire, &wl), TT_OK);
        assert_int_equal(tt_smt_proof_decode((tt_bytes){wl, wire}, &p, NULL), TT_OK);
        tt_smt_key(code, key);
        assert_int_equal(tt_smt_verify(root, key, &p, (const uint8_t *)leaf, leaf ? strlen(leaf) : 0,
                                       NULL), TT_OK);
        assert_int_equal(tt_smt_verify(root, key, &p, leaf ? NULL : (const uint8_t *)leaves[0],
                                       leaf ? 0 : strlen(leaves[0]), NULL),
                         TT_ERR_BAD_PROOF);
        root[0] ^= 1;
        assert_int_equal(tt_smt_verify(root, key, &p, (const uint8_t *)leaf, leaf ? strlen(leaf) : 0,
                                       NULL), TT_ERR_BAD_PROOF);
        root[0] ^= 1;
    }
    json_decref(file);
    json_decref(mine);
}

/* Random maps: every key's proof verifies with its value only, absent keys verify absent, and
 * a proof's size follows the number of lots. */
static void test_random_maps(void **state)
{
    (void)state;
    for (int round = 0; round < 40; round++) {
        size_t n = round < 4 ? (size_t)round : 1 + randombytes_uniform(400);
        tt_smt_pair *a = calloc(n + 1, sizeof *a);
        char(*cs)[17] = calloc(n + 1, sizeof *cs);
        for (size_t i = 0; i < n; i++) {
            tt_code_new(tt_now_ms(), cs[i]);
            char val[64];
            uint8_t key[32];
            tt_smt_key(cs[i], key);
            snprintf(val, sizeof val, "value %02x%02x%02x%02x", key[0], key[1], key[2], key[3]);
            tt_smt_pair_set(&a[i], cs[i], val, strlen(val));
        }
        qsort(a, n, sizeof *a, by_key);
        uint8_t root[32];
        tt_smt_root_of(a, n, root);
        if (n == 0)
            assert_true(tt_smt_is_empty(root));
        if (n == 1)
            assert_memory_equal(root, a[0].leaf, 32);
        for (size_t i = 0; i < n; i++) {
            tt_smt_proof p;
            char val[64];
            tt_smt_prove_of(a, n, a[i].key, &p);
            assert_int_equal(p.kind, TT_SMT_INCLUDED);
            const uint8_t *k = a[i].key;
            snprintf(val, sizeof val, "value %02x%02x%02x%02x", k[0], k[1], k[2], k[3]);
            assert_int_equal(tt_smt_verify(root, a[i].key, &p, (uint8_t *)val, strlen(val), NULL),
                             TT_OK);
            assert_int_equal(tt_smt_verify(root, a[i].key, &p, NULL, 0, NULL), TT_ERR_BAD_PROOF);
            if (n > 1) /* another lot's proof is not this one's */
                assert_int_equal(tt_smt_verify(root, a[(i + 1) % n].key, &p, (uint8_t *)val,
                                               strlen(val), NULL),
                                 TT_ERR_BAD_PROOF);
        }
        for (int k = 0; k < 20; k++) {
            char code[17];
            uint8_t key[32];
            tt_smt_proof p;
            tt_code_new(tt_now_ms(), code);
            tt_smt_key(code, key);
            tt_smt_prove_of(a, n, key, &p);
            assert_true(p.kind != TT_SMT_INCLUDED);
            assert_int_equal(tt_smt_verify(root, key, &p, NULL, 0, NULL), TT_OK);
            /* the round trip through the wire form keeps it a proof */
            uint8_t wire[TT_SMT_PROOF_MAX];
            size_t wl = tt_smt_proof_encode(&p, wire);
            tt_smt_proof back;
            assert_int_equal(tt_smt_proof_decode((tt_bytes){wl, wire}, &back, NULL), TT_OK);
            assert_int_equal(tt_smt_verify(root, key, &back, NULL, 0, NULL), TT_OK);
            /* an absent key's proof made to look present fails */
            back.kind = TT_SMT_INCLUDED;
            assert_int_equal(tt_smt_verify(root, key, &back, (const uint8_t *)"x", 1, NULL),
                             TT_ERR_BAD_PROOF);
        }
        free(a);
        free(cs);
    }
}

/* The decoder refuses what is not a proof, saying what. */
static void test_decode_edges(void **state)
{
    (void)state;
    tt_smt_proof p;
    tt_error err;
    static const struct {
        const char *hex;
        const char *needle;
    } bad[] = {
        {"", "shorter"},
        {"03", "shorter"},
        {"0300", "kind"},
        {"0001", "bitmap is cut"},
        {"000101", "past its depth"},
        {"000180", "fewer hashes"},
        {"0100", "other leaf"},
        {"020000", "after its end"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t b[8];
        size_t n = strlen(bad[i].hex) / 2;
        for (size_t j = 0; j < n; j++)
            sscanf(bad[i].hex + 2 * j, "%2hhx", &b[j]);
        assert_int_equal(tt_smt_proof_decode((tt_bytes){n, b}, &p, &err), TT_ERR_MALFORMED);
        if (!strstr(err.message, bad[i].needle))
            fail_msg("%s: \"%s\" does not say %s", bad[i].hex, err.message, bad[i].needle);
    }
    /* a sibling listed present must not be the empty hash */
    uint8_t z[2 + 1 + 32] = {2, 1, 0x80};
    assert_int_equal(tt_smt_proof_decode((tt_bytes){sizeof z, z}, &p, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "empty sibling"));
    /* against a root no honest map has (a node whose two children are the same leaf), a
     * non-inclusion proof whose other leaf is off the lot's path is refused all the same */
    {
        tt_smt_pair o;
        uint8_t root[32], k2[32];
        tt_smt_pair_set(&o, "2612070000001019", "v", 1);
        tt_smt_node(o.leaf, o.leaf, root);
        int b0 = tt_smt_bit(o.key, 0);
        char code[32];
        for (unsigned i = 0;; i++) { /* a key whose first bit is not the other leaf's */
            snprintf(code, sizeof code, "26120800%08u", i % 100000000u);
            tt_smt_key(code, k2);
            if (tt_smt_bit(k2, 0) != b0)
                break;
        }
        tt_smt_proof q = {.kind = TT_SMT_OTHER, .depth = 1};
        q.present[0] = 1;
        memcpy(q.siblings[0], o.leaf, 32);
        memcpy(q.other_key, o.key, 32);
        memcpy(q.other_value, o.value, 32);
        assert_int_equal(tt_smt_verify(root, k2, &q, NULL, 0, &err), TT_ERR_BAD_PROOF);
        assert_non_null(strstr(err.message, "not on the lot's path"));
    }
    /* the empty map proves every key absent, and nothing present */
    uint8_t empty[32] = {0}, key[32];
    uint8_t e[2] = {2, 0};
    tt_smt_key("2612070000000010", key);
    assert_int_equal(tt_smt_proof_decode((tt_bytes){2, e}, &p, NULL), TT_OK);
    assert_int_equal(tt_smt_verify(empty, key, &p, NULL, 0, NULL), TT_OK);
    assert_int_equal(tt_smt_verify(empty, key, &p, (const uint8_t *)"x", 1, NULL), TT_ERR_BAD_PROOF);
}

/* The map in memory, lots added and changed in any order, has the root of the map of the same
 * set made from nothing, at every step checked. */
static void test_memory_map(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        size_t n = 1 + randombytes_uniform(round < 10 ? 40 : 3000);
        tt_smt_pair *a = calloc(n, sizeof *a), *sorted = calloc(n, sizeof *sorted);
        char(*cs)[17] = calloc(n, sizeof *cs);
        tt_smt_mem *m = tt_smt_mem_new();
        uint8_t got[32], want[32];
        tt_smt_mem_root(m, got);
        assert_true(tt_smt_is_empty(got));
        size_t have = 0;
        for (size_t step = 0; step < 2 * n; step++) {
            size_t i;
            if (have < n && (have == 0 || randombytes_uniform(3))) {
                i = have++;
                tt_code_new(tt_now_ms(), cs[i]);
            } else {
                i = randombytes_uniform((uint32_t)have); /* a lot's state changes */
            }
            char val[48];
            snprintf(val, sizeof val, "value %zu at step %zu", i, step);
            tt_smt_pair_set(&a[i], cs[i], val, strlen(val));
            assert_int_equal(tt_smt_mem_set(m, a[i].key, a[i].leaf), 0);
            if (step % 17 == 0 || step == 2 * n - 1 || n < 40) {
                memcpy(sorted, a, have * sizeof *a);
                qsort(sorted, have, sizeof *sorted, by_key);
                tt_smt_root_of(sorted, have, want);
                tt_smt_mem_root(m, got);
                assert_memory_equal(got, want, 32);
            }
        }
        tt_smt_mem_free(m);
        free(a);
        free(sorted);
        free(cs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_random_maps),
        cmocka_unit_test(test_decode_edges),
        cmocka_unit_test(test_memory_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
