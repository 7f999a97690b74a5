/*
 * test_sha256.c: the library's SHA-256 (nettle's, with the CPU's SHA
 * instructions where there are any) against FIPS 180-4's examples and
 * against libsodium's portable SHA-256, which every ledger before it was
 * hashed with: in one call and in pieces, at every length around the
 * block boundaries, and through the functions that hash for the ledger.
 */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void hex_is(const uint8_t h[32], const char *want)
{
    char got[65];
    tt_hex((tt_bytes){.data = h, .size = 32}, got);
    assert_string_equal(got, want);
}

/* FIPS 180-4 (NIST's examples for SHA-256), and the hash of nothing. */
static void test_known_answers(void **state)
{
    (void)state;
    uint8_t h[32];
    tt_sha256(h, "abc", 3);
    hex_is(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tt_sha256(h, two, strlen(two));
    hex_is(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    tt_sha256(h, NULL, 0);
    hex_is(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* a million 'a', fed a thousand at a time */
    char a[1000];
    memset(a, 'a', sizeof a);
    tt_sha256_state st;
    tt_sha256_init(&st);
    for (int i = 0; i < 1000; i++)
        tt_sha256_update(&st, a, sizeof a);
    tt_sha256_final(&st, h);
    hex_is(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* final leaves the state ready for a hash of its own */
    tt_sha256_init(&st);
    tt_sha256_update(&st, "abc", 3);
    tt_sha256_final(&st, h);
    hex_is(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Every length from 0 to 1,200 bytes of random data, whole and cut at two
 * random places, equals libsodium's hash of the same bytes. */
static void test_against_libsodium(void **state)
{
    (void)state;
    enum { MAX = 1200 };
    uint8_t *buf = malloc(MAX);
    assert_non_null(buf);
    for (size_t n = 0; n <= MAX; n++) {
        randombytes_buf(buf, n);
        uint8_t want[32], whole[32], pieces[32];
        crypto_hash_sha256(want, buf, n);
        tt_sha256(whole, buf, n);
        assert_memory_equal(whole, want, 32);
        size_t a = n ? randombytes_uniform((uint32_t)n + 1) : 0;
        size_t b = a + (n - a ? randombytes_uniform((uint32_t)(n - a) + 1) : 0);
        tt_sha256_state st;
        tt_sha256_init(&st);
        tt_sha256_update(&st, buf, a);
        tt_sha256_update(&st, n ? buf + a : NULL, b - a);
        tt_sha256_update(&st, n ? buf + b : NULL, n - b);
        tt_sha256_final(&st, pieces);
        assert_memory_equal(pieces, want, 32);
    }
    free(buf);
}

/* The ledger's own hashes through it: a Merkle leaf is SHA-256(0x00 || data),
 * a node SHA-256(0x01 || left || right), the empty tree's root SHA-256(""). */
static void test_merkle_hashes(void **state)
{
    (void)state;
    uint8_t data[700], pre[701], left[32], right[32], node[65], got[32], want[32];
    for (int round = 0; round < 50; round++) {
        size_t n = randombytes_uniform(sizeof data + 1);
        randombytes_buf(data, n);
        pre[0] = 0x00;
        memcpy(pre + 1, data, n);
        crypto_hash_sha256(want, pre, n + 1);
        tt_merkle_leaf_hash((tt_bytes){.data = data, .size = n}, got);
        assert_memory_equal(got, want, 32);
        randombytes_buf(left, 32);
        randombytes_buf(right, 32);
        node[0] = 0x01;
        memcpy(node + 1, left, 32);
        memcpy(node + 33, right, 32);
        crypto_hash_sha256(want, node, sizeof node);
        tt_merkle_node_hash(left, right, got);
        assert_memory_equal(got, want, 32);
    }
    crypto_hash_sha256(want, NULL, 0);
    tt_merkle_empty_root(got);
    assert_memory_equal(got, want, 32);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_against_libsodium),
        cmocka_unit_test(test_merkle_hashes),
    };
    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
