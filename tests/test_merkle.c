/*
 * test_merkle.c: RFC 6962 / 9162 hashing, proofs and verification.
 *
 * Checked three ways: the published constants of transparency-dev/merkle,
 * every JSON vector in tests/data/merkle-testdata (happy paths and their
 * mutations), and a brute-force reference (the recursive definitions of
 * RFC 6962 §2.1, computed from all leaves) on trees of many sizes.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex32(const char *hex, uint8_t out[32])
{
    assert_int_equal(tt_unhex(hex, out, 32), TT_OK);
}

/* ---- an in-memory store of stored hashes -------------------------------- */

typedef struct mem_store {
    tt_hash *h;
    uint64_t count;
    uint64_t cap;
} mem_store;

static tt_err mem_read(void *ctx, uint64_t index, uint8_t out[32])
{
    mem_store *m = ctx;
    if (index >= m->count)
        return TT_ERR_NOT_FOUND;
    memcpy(out, m->h[index], 32);
    return TT_OK;
}

static void mem_append(mem_store *m, uint64_t n, const uint8_t leaf[32])
{
    tt_hash out[65];
    size_t c = 0;
    assert_int_equal(tt_merkle_append_hashes(n, leaf, mem_read, m, out, &c), TT_OK);
    assert_int_equal(tt_merkle_stored_index(0, n), m->count);
    if (m->count + c > m->cap) {
        m->cap = (m->count + c) * 2;
        m->h = realloc(m->h, m->cap * sizeof *m->h);
    }
    memcpy(m->h + m->count, out, c * sizeof *out);
    m->count += c;
    assert_int_equal(m->count, tt_merkle_stored_count(n + 1));
}

/* ---- the brute-force reference ------------------------------------------ */

static uint64_t kpow(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static void ref_mth(tt_hash *leaves, uint64_t lo, uint64_t hi, uint8_t out[32])
{
    if (hi - lo == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    uint64_t k = kpow(hi - lo);
    uint8_t l[32], r[32];
    ref_mth(leaves, lo, lo + k, l);
    ref_mth(leaves, lo + k, hi, r);
    tt_merkle_node_hash(l, r, out);
}

static void ref_path(tt_hash *leaves, uint64_t m, uint64_t lo, uint64_t hi, tt_hash *p, size_t *n)
{
    if (hi - lo == 1)
        return;
    uint64_t k = kpow(hi - lo);
    if (m - lo < k) {
        ref_path(leaves, m, lo, lo + k, p, n);
        ref_mth(leaves, lo + k, hi, p[(*n)++]);
    } else {
        ref_path(leaves, m, lo + k, hi, p, n);
        ref_mth(leaves, lo, lo + k, p[(*n)++]);
    }
}

static void ref_sub(tt_hash *leaves, uint64_t m, uint64_t lo, uint64_t hi, int b, tt_hash *p,
                    size_t *n)
{
    if (m == hi - lo) {
        if (!b)
            ref_mth(leaves, lo, hi, p[(*n)++]);
        return;
    }
    uint64_t k = kpow(hi - lo);
    if (m <= k) {
        ref_sub(leaves, m, lo, lo + k, b, p, n);
        ref_mth(leaves, lo + k, hi, p[(*n)++]);
    } else {
        ref_sub(leaves, m - k, lo + k, hi, 0, p, n);
        ref_mth(leaves, lo, lo + k, p[(*n)++]);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_rfc6962_constants(void **state)
{
    (void)state;
    uint8_t h[32], want[32];
    tt_merkle_empty_root(h);
    hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(h, want, 32);
    tt_merkle_leaf_hash((tt_bytes){0, NULL}, h);
    hex32("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
    assert_memory_equal(h, want, 32);
    tt_merkle_leaf_hash(tt_bytes_str("L123456"), h);
    hex32("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56", want);
    assert_memory_equal(h, want, 32);
    /* node("N123","N456") hashes the raw strings: check via the builder of
     * SHA256(0x01||l||r) with a manual computation. */
    uint8_t buf[1 + 8];
    buf[0] = 1;
    memcpy(buf + 1, "N123N456", 8);
    crypto_hash_sha256(h, buf, sizeof buf);
    hex32("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb", want);
    assert_memory_equal(h, want, 32);
}

/* transparency-dev/merkle testonly/constants.go: roots of sizes 0..8 */
static void test_reference_roots(void **state)
{
    (void)state;
    static const char *inputs[] = {"",
                                   "00",
                                   "10",
                                   "2021",
                                   "3031",
                                   "40414243",
                                   "5051525354555657",
                                   "606162636465666768696a6b6c6d6e6f"};
    static const char *roots[] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    mem_store m = {0};
    tt_merkle_builder b;
    tt_merkle_builder_init(&b);
    for (int size = 0; size <= 8; size++) {
        uint8_t want[32], got[32];
        hex32(roots[size], want);
        assert_int_equal(tt_merkle_root((uint64_t)size, mem_read, &m, got), TT_OK);
        assert_memory_equal(got, want, 32);
        tt_merkle_builder_root(&b, got);
        assert_memory_equal(got, want, 32);
        if (size == 8)
            break;
        uint8_t data[16], leaf[32];
        size_t len = strlen(inputs[size]) / 2;
        if (len)
            assert_int_equal(tt_unhex(inputs[size], data, len), TT_OK);
        tt_merkle_leaf_hash((tt_bytes){len, data}, leaf);
        mem_append(&m, (uint64_t)size, leaf);
        tt_hash out[65];
        size_t c;
        tt_merkle_builder_push(&b, leaf, out, &c);
        assert_memory_equal(out, m.h + m.count - c, c * 32);
    }
    free(m.h);
}

/* Concatenates a JSON array of base64 hashes; *ok=0 if any is not 32 bytes. */
static uint8_t *json_proof(json_t *arr, size_t *len, int *ok)
{
    size_t n = json_array_size(arr);
    uint8_t *out = malloc(n * 32 + 1);
    *len = 0;
    *ok = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        uint8_t *h = tu_unb64(json_string_value(json_array_get(arr, i)), &l);
        if (l != 32)
            *ok = 0;
        else
            memcpy(out + *len, h, 32);
        *len += l == 32 ? 32 : 0;
        free(h);
    }
    return out;
}

/* Jansson's integers are signed; the vectors use sizes up to 2^64-1. */
static uint64_t u64_field(const char *text, const char *name)
{
    char key[32];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(text, key);
    assert_non_null(p);
    return strtoull(p + strlen(key), NULL, 10);
}

static int run_vector(const char *path, int consistency)
{
    json_error_t jerr;
    char *text = tu_slurp(path, NULL);
    json_t *j = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr);
    if (j == NULL)
        fprintf(stderr, "%s: %s\n", path, jerr.text);
    assert_non_null(j);
    int want_err = json_is_true(json_object_get(j, "wantErr"));
    size_t plen;
    int shape_ok;
    uint8_t *proof = json_proof(json_object_get(j, "proof"), &plen, &shape_ok);
    tt_err rc;
    if (consistency) {
        size_t l1, l2;
        uint8_t *r1 = tu_unb64(json_string_value(json_object_get(j, "root1")), &l1);
        uint8_t *r2 = tu_unb64(json_string_value(json_object_get(j, "root2")), &l2);
        rc = tt_merkle_verify_consistency(u64_field(text, "size1"), u64_field(text, "size2"),
                                          (tt_bytes){l1, r1}, (tt_bytes){l2, r2},
                                          (tt_bytes){plen, proof}, NULL);
        free(r1);
        free(r2);
    } else {
        size_t lr, ll;
        uint8_t *root = tu_unb64(json_string_value(json_object_get(j, "root")), &lr);
        uint8_t *leaf = tu_unb64(json_string_value(json_object_get(j, "leafHash")), &ll);
        rc = tt_merkle_verify_inclusion(u64_field(text, "leafIdx"), u64_field(text, "treeSize"),
                                        (tt_bytes){ll, leaf}, (tt_bytes){plen, proof},
                                        (tt_bytes){lr, root}, NULL);
        free(root);
        free(leaf);
    }
    if (!shape_ok)
        rc = TT_ERR_MALFORMED; /* such a proof cannot even be passed to us */
    free(proof);
    free(text);
    json_decref(j);
    int failed = (rc != TT_OK) != want_err;
    if (failed)
        fprintf(stderr, "vector %s: wantErr=%d got %s\n", path, want_err, tt_err_name(rc));
    return failed;
}

static int run_dir(const char *dir, int consistency, int *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int failed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path;
        assert_true(asprintf(&path, "%s/%s", dir, de->d_name) > 0);
        if (strstr(de->d_name, ".json")) {
            failed += run_vector(path, consistency);
            (*count)++;
        } else {
            failed += run_dir(path, consistency, count);
        }
        free(path);
    }
    closedir(d);
    return failed;
}

static void test_vector_corpus(void **state)
{
    (void)state;
    char *inc, *con;
    int count = 0;
    assert_true(asprintf(&inc, "%s/merkle-testdata/inclusion", tu_datadir()) > 0);
    assert_true(asprintf(&con, "%s/merkle-testdata/consistency", tu_datadir()) > 0);
    int failed = run_dir(inc, 0, &count);
    int ninc = count;
    failed += run_dir(con, 1, &count);
    free(inc);
    free(con);
    assert_true(ninc >= 90);
    assert_true(count >= 180);
    assert_int_equal(failed, 0);
}

static void random_leaves(tt_hash *leaves, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint8_t data[8];
        tt_put_u64be(data, i * 2654435761u);
        tt_merkle_leaf_hash((tt_bytes){8, data}, leaves[i]);
    }
}

/* Checks root, every inclusion proof and sampled consistency proofs. */
static void check_tree(mem_store *m, tt_hash *leaves, uint64_t size, int all_pairs)
{
    uint8_t want[32], got[32];
    tt_hash proof[TT_MERKLE_PROOF_MAX], ref[TT_MERKLE_PROOF_MAX];
    size_t plen, rlen;
    ref_mth(leaves, 0, size, want);
    assert_int_equal(tt_merkle_root(size, mem_read, m, got), TT_OK);
    assert_memory_equal(got, want, 32);
    tt_bytes root = {32, want};
    for (uint64_t i = 0; i < size; i++) {
        assert_int_equal(tt_merkle_inclusion_proof(i, size, mem_read, m, proof, &plen), TT_OK);
        rlen = 0;
        ref_path(leaves, i, 0, size, ref, &rlen);
        assert_int_equal(plen, rlen);
        assert_memory_equal(proof, ref, plen * 32);
        assert_int_equal(tt_merkle_verify_inclusion(i, size, (tt_bytes){32, leaves[i]},
                                                    (tt_bytes){plen * 32, (uint8_t *)proof}, root,
                                                    NULL),
                         TT_OK);
        /* the same proof for a neighbour or a bit flip must fail */
        if (size > 1)
            assert_int_not_equal(
                tt_merkle_verify_inclusion((i + 1) % size, size, (tt_bytes){32, leaves[i]},
                                           (tt_bytes){plen * 32, (uint8_t *)proof}, root, NULL),
                TT_OK);
        if (plen) {
            proof[plen / 2][i % 32] ^= 1;
            assert_int_equal(tt_merkle_verify_inclusion(i, size, (tt_bytes){32, leaves[i]},
                                                        (tt_bytes){plen * 32, (uint8_t *)proof},
                                                        root, NULL),
                             TT_ERR_BAD_PROOF);
        }
    }
    for (uint64_t s1 = 1; s1 <= size; s1++) {
        if (!all_pairs && s1 != 1 && s1 != size && (s1 * 7919) % size > 5)
            continue;
        uint8_t r1[32];
        ref_mth(leaves, 0, s1, r1);
        assert_int_equal(tt_merkle_consistency_proof(s1, size, mem_read, m, proof, &plen), TT_OK);
        rlen = 0;
        ref_sub(leaves, s1, 0, size, 1, ref, &rlen);
        assert_int_equal(plen, rlen);
        assert_memory_equal(proof, ref, plen * 32);
        assert_int_equal(tt_merkle_verify_consistency(s1, size, (tt_bytes){32, r1}, root,
                                                      (tt_bytes){plen * 32, (uint8_t *)proof},
                                                      NULL),
                         TT_OK);
        if (s1 < size) {
            proof[0][0] ^= 0x80;
            assert_int_not_equal(
                tt_merkle_verify_consistency(s1, size, (tt_bytes){32, r1}, root,
                                             (tt_bytes){plen * 32, (uint8_t *)proof}, NULL),
                TT_OK);
        }
    }
}

static void test_brute_force_small_trees(void **state)
{
    (void)state;
    const uint64_t max = 70;
    tt_hash *leaves = malloc(max * sizeof *leaves);
    random_leaves(leaves, max);
    mem_store m = {0};
    for (uint64_t size = 1; size <= max; size++) {
        mem_append(&m, size - 1, leaves[size - 1]);
        check_tree(&m, leaves, size, 1);
    }
    free(m.h);
    free(leaves);
}

static void test_brute_force_random_sizes(void **state)
{
    (void)state;
    const uint64_t max = 3000;
    tt_hash *leaves = malloc(max * sizeof *leaves);
    random_leaves(leaves, max);
    mem_store m = {0};
    for (uint64_t i = 0; i < max; i++)
        mem_append(&m, i, leaves[i]);
    /* Historical sizes are answered from the one store of the full tree. */
    static const uint64_t sizes[] = {127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 1025, 3000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        check_tree(&m, leaves, sizes[i], 0);
    for (int r = 0; r < 10; r++)
        check_tree(&m, leaves, 1 + randombytes_uniform((uint32_t)max), 0);
    free(m.h);
    free(leaves);
}

static void test_verifier_edges(void **state)
{
    (void)state;
    uint8_t leaf[32] = {1}, root[32];
    tt_error err;
    memcpy(root, leaf, 32);
    /* single leaf: empty proof, root = leaf */
    assert_int_equal(tt_merkle_verify_inclusion(0, 1, (tt_bytes){32, leaf}, (tt_bytes){0, NULL},
                                                (tt_bytes){32, root}, &err),
                     TT_OK);
    assert_int_equal(tt_merkle_verify_inclusion(1, 1, (tt_bytes){32, leaf}, (tt_bytes){0, NULL},
                                                (tt_bytes){32, root}, &err),
                     TT_ERR_RANGE);
    assert_int_equal(tt_merkle_verify_inclusion(0, 1, (tt_bytes){32, leaf}, (tt_bytes){31, leaf},
                                                (tt_bytes){32, root}, &err),
                     TT_ERR_MALFORMED);
    uint8_t *huge = calloc(TT_MERKLE_PROOF_MAX + 1, 32);
    assert_int_equal(tt_merkle_verify_inclusion(0, UINT64_MAX, (tt_bytes){32, leaf},
                                                (tt_bytes){(TT_MERKLE_PROOF_MAX + 1) * 32, huge},
                                                (tt_bytes){32, root}, &err),
                     TT_ERR_TOO_LARGE);
    free(huge);
    assert_int_equal(tt_merkle_verify_consistency(0, 5, (tt_bytes){32, leaf}, (tt_bytes){32, root},
                                                  (tt_bytes){0, NULL}, &err),
                     TT_ERR_RANGE);
    assert_non_null(strstr(err.message, "empty tree"));
    tt_hash p[TT_MERKLE_PROOF_MAX];
    size_t n;
    assert_int_equal(tt_merkle_consistency_proof(0, 3, mem_read, NULL, p, &n), TT_ERR_RANGE);
    assert_int_equal(tt_merkle_inclusion_proof(3, 3, mem_read, NULL, p, &n), TT_ERR_RANGE);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6962_constants),
        cmocka_unit_test(test_reference_roots),
        cmocka_unit_test(test_vector_corpus),
        cmocka_unit_test(test_brute_force_small_trees),
        cmocka_unit_test(test_brute_force_random_sizes),
        cmocka_unit_test(test_verifier_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
