/*
 * test_note.c: C2SP signed-note, verifier keys and tlog-checkpoint.
 *
 * Vectors: the C2SP signed-note spec example (example.com/foo), and the
 * deterministic signing vector of golang.org/x/mod sumdb/note (PeterNeumann),
 * as collected in the project's reference notes.
 */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define SPEC_NOTE                                                                                  \
    "This is an example message.\n\n"                                                              \
    "\xE2\x80\x94 example.com/foo "                                                                \
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM"  \
    "=\n"

#define PN_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PN_TEXT                                                                                    \
    "If you think cryptography is the answer to your problem,\n"                                   \
    "then you don't know what your problem is.\n"
#define PN_SIG                                                                                     \
    "\xE2\x80\x94 PeterNeumann "                                                                   \
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM"  \
    "=\n"

static void test_spec_example_verifies(void **state)
{
    (void)state;
    tt_verifier v;
    size_t text_len = 0;
    assert_int_equal(tt_verifier_parse(SPEC_VKEY, &v, NULL), TT_OK);
    assert_string_equal(v.name, "example.com/foo");
    assert_int_equal(v.key_id, 0x530d903au);
    char back[TT_VKEY_MAX + 1];
    tt_verifier_format(&v, back, sizeof back);
    assert_string_equal(back, SPEC_VKEY);
    assert_int_equal(tt_note_verify(tt_bytes_str(SPEC_NOTE), &v, 1, &text_len, NULL), TT_OK);
    assert_int_equal(text_len, strlen("This is an example message.\n"));
}

static void test_deterministic_signature(void **state)
{
    (void)state;
    /* PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)> */
    uint8_t seed[32];
    size_t n;
    uint8_t raw[33];
    assert_int_equal(tt_unb64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", 44, 0, raw, 33, &n),
                     TT_OK);
    assert_int_equal(n, 33);
    assert_int_equal(raw[0], 1);
    memcpy(seed, raw + 1, 32);
    tt_keypair kp;
    tt_keypair_from_seed(&kp, seed);
    tt_verifier v, parsed;
    assert_int_equal(tt_verifier_init(&v, "PeterNeumann", kp.pk, NULL), TT_OK);
    char vkey[TT_VKEY_MAX + 1];
    tt_verifier_format(&v, vkey, sizeof vkey);
    assert_string_equal(vkey, PN_VKEY);
    assert_int_equal(tt_verifier_parse(PN_VKEY, &parsed, NULL), TT_OK);
    char *note;
    size_t len;
    assert_int_equal(tt_note_sign(tt_bytes_str(PN_TEXT), "PeterNeumann", kp.sk, &note, &len, NULL),
                     TT_OK);
    assert_string_equal(note, PN_TEXT "\n" PN_SIG);
    assert_int_equal(len, strlen(note));
    assert_int_equal(tt_note_verify((tt_bytes){len, (uint8_t *)note}, &parsed, 1, NULL, NULL),
                     TT_OK);
    free(note);
}

static void test_vkey_negatives(void **state)
{
    (void)state;
    tt_verifier v;
    tt_error err;
    const char *good = PN_VKEY;
    size_t len = strlen(good);
    char buf[256];
    /* every proper prefix and suffix */
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, good, i);
        buf[i] = '\0';
        assert_int_not_equal(tt_verifier_parse(buf, &v, &err), TT_OK);
        assert_int_not_equal(tt_verifier_parse(good + i + 1, &v, &err), TT_OK);
    }
    /* every single-byte increment */
    for (size_t i = 0; i < len; i++) {
        snprintf(buf, sizeof buf, "%s", good);
        buf[i]++;
        assert_int_not_equal(tt_verifier_parse(buf, &v, &err), TT_OK);
    }
    assert_int_equal(tt_verifier_parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
                                       "LDE4izWy10TWBADKEY==",
                                       &v, &err),
                     TT_ERR_KEY_FORMAT);
    assert_int_equal(tt_verifier_parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
                                       "LDE4izWy10TW",
                                       &v, &err),
                     TT_ERR_KEY_FORMAT);
    assert_non_null(strstr(err.message, "Ed25519"));
    assert_int_equal(tt_verifier_parse("bananas.sigstore.dev+12344556", &v, &err),
                     TT_ERR_KEY_FORMAT);
    assert_int_equal(tt_verifier_parse("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", &v, &err),
                     TT_ERR_KEY_FORMAT);
    assert_int_equal(tt_verifier_parse("rekor.sigstore.dev+12345678+AwEB", &v, &err),
                     TT_ERR_KEY_FORMAT);
    assert_int_equal(
        tt_verifier_parse("has space+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &v,
                          &err),
        TT_ERR_KEY_FORMAT);
}

static void test_note_rules(void **state)
{
    (void)state;
    tt_keypair a, b;
    tt_verifier va, vb, va_other_id;
    tt_keypair_generate(&a);
    tt_keypair_generate(&b);
    tt_verifier_init(&va, "log.example", a.pk, NULL);
    tt_verifier_init(&vb, "witness.example", b.pk, NULL);
    va_other_id = va;
    va_other_id.key_id ^= 1;
    char *n1, *n2;
    size_t l1, l2;
    tt_error err;
    const char *text = "hello\n\nwith an empty line inside\n";
    assert_int_equal(tt_note_sign(tt_bytes_str(text), "log.example", a.sk, &n1, &l1, NULL), TT_OK);
    assert_int_equal(tt_note_sign(tt_bytes_str(text), "witness.example", b.sk, &n2, &l2, NULL),
                     TT_OK);
    /* text with a blank line in it: the last blank line separates */
    size_t tl = 0;
    assert_int_equal(tt_note_verify((tt_bytes){l1, (uint8_t *)n1}, &va, 1, &tl, &err), TT_OK);
    assert_int_equal(tl, strlen(text));
    /* no known key: rejected; unknown key (same name, other ID) ignored */
    assert_int_equal(tt_note_verify((tt_bytes){l1, (uint8_t *)n1}, &vb, 1, NULL, &err),
                     TT_ERR_UNKNOWN_KEY);
    assert_int_equal(tt_note_verify((tt_bytes){l1, (uint8_t *)n1}, &va_other_id, 1, NULL, &err),
                     TT_ERR_UNKNOWN_KEY);
    /* two signatures: known + unknown is fine */
    char both[1024];
    snprintf(both, sizeof both, "%s%s", n1, n2 + strlen(text) + 1);
    assert_int_equal(tt_note_verify(tt_bytes_str(both), &va, 1, NULL, &err), TT_OK);
    tt_verifier two[2] = {va, vb};
    assert_int_equal(tt_note_verify(tt_bytes_str(both), two, 2, NULL, &err), TT_OK);
    /* a known key whose signature fails rejects the whole note */
    char *sigline = strstr(both, "witness.example ") + strlen("witness.example ");
    sigline[10] = sigline[10] == 'A' ? 'B' : 'A';
    assert_int_equal(tt_note_verify(tt_bytes_str(both), &va, 1, NULL, &err), TT_OK);
    assert_int_equal(tt_note_verify(tt_bytes_str(both), two, 2, NULL, &err), TT_ERR_BAD_SIGNATURE);
    /* altered text */
    n1[0] = 'j';
    assert_int_equal(tt_note_verify((tt_bytes){l1, (uint8_t *)n1}, &va, 1, NULL, &err),
                     TT_ERR_BAD_SIGNATURE);
    free(n1);
    free(n2);
}

static void test_note_malformed(void **state)
{
    (void)state;
    tt_verifier v;
    tt_error err;
    assert_int_equal(tt_verifier_parse(SPEC_VKEY, &v, NULL), TT_OK);
    static const char *bad[] = {
        "",
        "\n",
        "no blank line\n\xE2\x80\x94 example.com/foo AAAA\n",
        "text\n\n",
        "text\n\nnot a signature line\n",
        "text\n\n\xE2\x80\x94 example.com/foo not-base64!\n",
        "text\n\n\xE2\x80\x94 example.com/foo\n",
        "text\n\n\xE2\x80\x94 example.com/foo AAAA", /* no final newline */
        "te\x01xt\n\n\xE2\x80\x94 example.com/foo AAAAAA==\n",
        "te\xFFxt\n\n\xE2\x80\x94 example.com/foo AAAAAA==\n",
        "text\r\n\n\xE2\x80\x94 example.com/foo AAAAAA==\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.message[0] = '\0';
        tt_err rc = tt_note_verify(tt_bytes_str(bad[i]), &v, 1, NULL, &err);
        assert_true(rc == TT_ERR_MALFORMED || rc == TT_ERR_UNKNOWN_KEY);
        assert_true(strlen(err.message) > 0);
    }
    /* the spec note with its signature bit-flipped */
    char note[512];
    snprintf(note, sizeof note, "%s", SPEC_NOTE);
    note[strlen(note) - 10] ^= 0x01;
    assert_int_not_equal(tt_note_verify(tt_bytes_str(note), &v, 1, NULL, &err), TT_OK);
}

static void test_checkpoint_parse(void **state)
{
    (void)state;
    tt_checkpoint cp;
    tt_error err;
    const char *ok = "example.com/behind-the-sofa\n20852163\n"
                     "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_int_equal(tt_checkpoint_parse(tt_bytes_str(ok), &cp, &err), TT_OK);
    assert_string_equal(cp.origin, "example.com/behind-the-sofa");
    assert_int_equal(cp.size, 20852163);
    const char *ext = "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextension\n";
    assert_int_equal(tt_checkpoint_parse(tt_bytes_str(ext), &cp, &err), TT_OK);
    assert_int_equal(cp.size, 0);
    static const char *bad[] = {
        "Head\n9944\n",
        "\n123\nYmFuYW5hcw==\n",
        "Log\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", /* no final newline */
        "Log\nbananas\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "Log\n-34\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "Log\n3438945738945739845734895735\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "Log\n0123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "Log\n123\nYmFuYW5hcw==\n", /* root not 32 bytes */
        "Log\n123\n!!!!\n",
        "Log\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", /* empty extension */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tt_checkpoint_parse(tt_bytes_str(bad[i]), &cp, &err), TT_ERR_MALFORMED);
}

static void test_checkpoint_roundtrip(void **state)
{
    (void)state;
    tt_keypair kp, other;
    tt_keypair_generate(&kp);
    tt_keypair_generate(&other);
    tt_checkpoint cp = {.size = 123456789012ull}, out;
    snprintf(cp.origin, sizeof cp.origin, "%s", "tcmtrace.example/cq-jiefanglu");
    randombytes_buf(cp.root, 32);
    char *note;
    size_t len;
    assert_int_equal(tt_checkpoint_sign(&cp, cp.origin, kp.sk, &note, &len, NULL), TT_OK);
    assert_non_null(strstr(note, "\n123456789012\n"));
    tt_verifier v, vo;
    tt_verifier_init(&v, cp.origin, kp.pk, NULL);
    tt_verifier_init(&vo, cp.origin, other.pk, NULL);
    assert_int_equal(tt_checkpoint_open((tt_bytes){len, (uint8_t *)note}, &v, 1, &out, NULL),
                     TT_OK);
    assert_string_equal(out.origin, cp.origin);
    assert_int_equal(out.size, cp.size);
    assert_memory_equal(out.root, cp.root, 32);
    tt_error err;
    assert_int_equal(tt_checkpoint_open((tt_bytes){len, (uint8_t *)note}, &vo, 1, &out, &err),
                     TT_ERR_UNKNOWN_KEY);
    /* an origin with a space cannot be signed */
    snprintf(cp.origin, sizeof cp.origin, "%s", "bad origin");
    char *n2;
    assert_int_equal(tt_checkpoint_sign(&cp, "x", kp.sk, &n2, &len, &err), TT_ERR_ARGUMENT);
    free(note);
}

static void test_random_notes_never_crash(void **state)
{
    (void)state;
    tt_verifier v;
    tt_verifier_parse(SPEC_VKEY, &v, NULL);
    char buf[300];
    const char *parts[] = {"\n", "\xE2\x80\x94 ", "example.com/foo ", "AAAA", "Uw2QOk", "=", "a",
                           " ",  "\n\n",          "\xE2\x80",         "12\n", "+"};
    for (int i = 0; i < 20000; i++) {
        size_t len = 0;
        int n = (int)randombytes_uniform(20);
        for (int k = 0; k < n; k++) {
            const char *p = parts[randombytes_uniform(sizeof parts / sizeof *parts)];
            size_t pl = strlen(p);
            if (len + pl >= sizeof buf)
                break;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        tt_checkpoint cp;
        tt_note_verify((tt_bytes){len, (uint8_t *)buf}, &v, 1, NULL, NULL);
        tt_checkpoint_parse((tt_bytes){len, (uint8_t *)buf}, &cp, NULL);
        buf[len] = '\0';
        tt_verifier_parse(buf, &v, NULL);
        tt_verifier_parse(SPEC_VKEY, &v, NULL);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example_verifies),
        cmocka_unit_test(test_deterministic_signature),
        cmocka_unit_test(test_vkey_negatives),
        cmocka_unit_test(test_note_rules),
        cmocka_unit_test(test_note_malformed),
        cmocka_unit_test(test_checkpoint_parse),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_random_notes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
