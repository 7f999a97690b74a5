/* test_key.c: key pairs and the key file formats. */
#define _GNU_SOURCE
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static char *path_of(const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

static void test_sealed_roundtrip(void **state)
{
    (void)state;
    tt_keypair kp, back;
    tt_error err;
    char *p = path_of("grower.key");
    tt_keypair_generate(&kp);
    const char *pass = "解放路 stall 17";
    assert_int_equal(tt_key_save_secret(p, &kp, pass, strlen(pass), TT_KDF_INTERACTIVE, &err),
                     TT_OK);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the seed is nowhere in the file, in any encoding */
    size_t len;
    char *text = tu_slurp(p, &len);
    char seed64[64], seedhex[65];
    tt_b64((tt_bytes){32, kp.sk}, seed64);
    tt_hex((tt_bytes){32, kp.sk}, seedhex);
    assert_null(strstr(text, seed64));
    assert_null(strstr(text, seedhex));
    assert_null(memmem(text, len, kp.sk, 32));
    assert_non_null(strstr(text, "kdf: argon2id\n"));
    int sealed = 0;
    assert_int_equal(tt_key_secret_is_sealed(p, &sealed, &err), TT_OK);
    assert_true(sealed);
    assert_int_equal(tt_key_load_secret(p, pass, strlen(pass), &back, &err), TT_OK);
    assert_memory_equal(back.sk, kp.sk, 64);
    assert_memory_equal(back.pk, kp.pk, 32);
    /* the public half can be read from the secret file too */
    uint8_t pk[32];
    assert_int_equal(tt_key_load_public(p, pk, &err), TT_OK);
    assert_memory_equal(pk, kp.pk, 32);
    free(text);
    free(p);
}

static void test_wrong_passphrase(void **state)
{
    (void)state;
    tt_keypair kp, back;
    tt_error err;
    char *p = path_of("trader.key");
    tt_keypair_generate(&kp);
    assert_int_equal(tt_key_save_secret(p, &kp, "right", 5, TT_KDF_INTERACTIVE, &err), TT_OK);
    assert_int_equal(tt_key_load_secret(p, "wrong", 5, &back, &err), TT_ERR_BAD_PASSPHRASE);
    assert_non_null(strstr(err.message, "passphrase"));
    assert_int_equal(tt_key_load_secret(p, NULL, 0, &back, &err), TT_ERR_BAD_PASSPHRASE);
    free(p);
}

static void test_swapped_public_key_is_detected(void **state)
{
    (void)state;
    tt_keypair kp, other, back;
    tt_error err;
    char *p = path_of("swap.key"), *q = path_of("swap2.key");
    tt_keypair_generate(&kp);
    tt_keypair_generate(&other);
    assert_int_equal(tt_key_save_secret(p, &kp, "pw", 2, TT_KDF_INTERACTIVE, &err), TT_OK);
    size_t len;
    char *text = tu_slurp(p, &len);
    char old64[64], new64[64];
    tt_b64((tt_bytes){32, kp.pk}, old64);
    tt_b64((tt_bytes){32, other.pk}, new64);
    char *at = strstr(text, old64);
    assert_non_null(at);
    memcpy(at, new64, strlen(new64));
    assert_int_equal(tt_write_file_new(q, text, len, 0600, &err), TT_OK);
    assert_int_equal(tt_key_load_secret(q, "pw", 2, &back, &err), TT_ERR_BAD_PASSPHRASE);
    free(text);
    free(p);
    free(q);
}

static void test_unsealed_only_on_request(void **state)
{
    (void)state;
    tt_keypair kp, back;
    tt_error err;
    char *p = path_of("log.key");
    tt_keypair_generate(&kp);
    assert_int_equal(tt_key_save_secret(p, &kp, NULL, 0, TT_KDF_INTERACTIVE, &err), TT_OK);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    int sealed = 1;
    assert_int_equal(tt_key_secret_is_sealed(p, &sealed, &err), TT_OK);
    assert_false(sealed);
    assert_int_equal(tt_key_load_secret(p, NULL, 0, &back, &err), TT_OK);
    assert_memory_equal(back.sk, kp.sk, 64);
    free(p);
}

static void test_never_overwrites(void **state)
{
    (void)state;
    tt_keypair a, b, back;
    tt_error err;
    char *p = path_of("once.key");
    tt_keypair_generate(&a);
    tt_keypair_generate(&b);
    assert_int_equal(tt_key_save_secret(p, &a, NULL, 0, TT_KDF_INTERACTIVE, &err), TT_OK);
    assert_int_equal(tt_key_save_secret(p, &b, NULL, 0, TT_KDF_INTERACTIVE, &err), TT_ERR_EXISTS);
    assert_int_equal(tt_key_load_secret(p, NULL, 0, &back, &err), TT_OK);
    assert_memory_equal(back.pk, a.pk, 32);
    free(p);
}

static void test_public_file_and_bad_files(void **state)
{
    (void)state;
    tt_keypair kp, back;
    tt_error err;
    uint8_t pk[32];
    char *p = path_of("grower.pub"), *bad = path_of("bad.key"), *none = path_of("none.key");
    tt_keypair_generate(&kp);
    assert_int_equal(tt_key_save_public(p, kp.pk, &err), TT_OK);
    assert_int_equal(tt_key_load_public(p, pk, &err), TT_OK);
    assert_memory_equal(pk, kp.pk, 32);
    /* a public file is not a secret key */
    assert_int_equal(tt_key_load_secret(p, NULL, 0, &back, &err), TT_ERR_KEY_FORMAT);
    const char *junk[] = {"", "tcmtrace secret key v1\n",
                          "tcmtrace secret key v1\npublic: AAAA\nkdf: none\nsecret: AAAA\n",
                          "tcmtrace secret key v1\npublic: "
                          "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\nkdf: rot13\n",
                          "tcmtrace secret key v2\n"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        unlink(bad);
        assert_int_equal(tt_write_file_new(bad, junk[i], strlen(junk[i]), 0600, &err), TT_OK);
        assert_int_equal(tt_key_load_secret(bad, "x", 1, &back, &err), TT_ERR_KEY_FORMAT);
        assert_true(strlen(err.message) > 0);
    }
    assert_int_equal(tt_key_load_secret(none, "x", 1, &back, &err), TT_ERR_NOT_FOUND);
    free(p);
    free(bad);
    free(none);
}

/* The key check and the key QR (docs/formats.md "Key checks"); the vectors were computed
 * with Python's hashlib from the definition, not by this code. */
static void test_key_check(void **state)
{
    (void)state;
    uint8_t zero[32] = {0}, seq[32], pk[32];
    for (int i = 0; i < 32; i++)
        seq[i] = (uint8_t)i;
    char check[TT_KEY_CHECK_LEN + 1], qr[TT_KEY_QR_MAX];
    tt_key_check(zero, check);
    assert_string_equal(check, "8114 0497 7670 8649 3248");
    tt_key_check(seq, check);
    assert_string_equal(check, "5148 3237 1960 7041 5271");
    assert_true(tt_key_check_matches(seq, "5148 3237 1960 7041 5271"));
    assert_true(tt_key_check_matches(seq, "51483237196070415271"));
    assert_true(tt_key_check_matches(seq, "5148-3237-1960-7041-5271"));
    assert_false(tt_key_check_matches(seq, "5148 3237 1960 7041 5272"));
    assert_false(tt_key_check_matches(seq, "5148 3237 1960 7041 527"));
    assert_false(tt_key_check_matches(seq, "5148 3237 1960 7041 52711"));
    assert_false(tt_key_check_matches(seq, ""));
    tt_key_qr_text(seq, qr);
    assert_string_equal(qr, "tcmtrace-key:v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
                            "51483237196070415271");
    tt_error err;
    assert_int_equal(tt_key_qr_parse(qr, pk, &err), TT_OK);
    assert_memory_equal(pk, seq, 32);
    /* a bare key (earlier pages) is a key; a label or a damaged symbol is not */
    assert_int_equal(tt_key_qr_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", pk, &err),
                     TT_OK);
    assert_int_equal(tt_key_qr_parse("https://trace.example/b/2612070877101089?t=x", pk, &err),
                     TT_ERR_MALFORMED);
    qr[20] = qr[20] == 'A' ? 'B' : 'A'; /* one character of the key changed */
    assert_int_equal(tt_key_qr_parse(qr, pk, &err), TT_ERR_KEY_FORMAT);
    assert_non_null(strstr(err.message, "altered"));
    assert_int_equal(tt_key_qr_parse("tcmtrace-key:v1:AAEC", pk, &err), TT_ERR_KEY_FORMAT);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_roundtrip),
        cmocka_unit_test(test_wrong_passphrase),
        cmocka_unit_test(test_swapped_public_key_is_detected),
        cmocka_unit_test(test_unsealed_only_on_request),
        cmocka_unit_test(test_never_overwrites),
        cmocka_unit_test(test_public_file_and_bad_files),
        cmocka_unit_test(test_key_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
