/*
 * test_note.c: C2SP signed-note, verifier keys and tlog-checkpoint.
 *
 * Vectors: the C2SP signed-note spec example (example.com/foo), and the
 * deterministic signing vector of golang.org/x/mod sumdb/note (PeterNeumann),
 * as collected in the project's reference notes.
 */
#include <arpa/inet.h>
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

/* ---- cosignatures (C2SP tlog-cosignature, cosignature/v1) ------------------------------------ */

/* A checkpoint of example.test/log at `size` (root bytes all `fill`) signed by log: its signed
 * note and its text, both malloc'd. */
static void signed_checkpoint(const tt_keypair *log, uint64_t size, uint8_t fill, tt_checkpoint *cp,
                              char **note, size_t *len, char **text, size_t *tlen)
{
    *cp = (tt_checkpoint){.size = size};
    snprintf(cp->origin, sizeof cp->origin, "example.test/log");
    memset(cp->root, fill, sizeof cp->root);
    assert_int_equal(tt_checkpoint_sign(cp, cp->origin, log->sk, note, len, NULL), TT_OK);
    assert_int_equal(tt_checkpoint_format(cp, text, tlen), TT_OK);
}

static void test_cosig_roundtrip(void **state)
{
    (void)state;
    tt_keypair log, w1, w2;
    uint8_t s1[32] = {1}, s2[32] = {2}, s3[32] = {3};
    tt_keypair_from_seed(&log, s1);
    tt_keypair_from_seed(&w1, s2);
    tt_keypair_from_seed(&w2, s3);
    tt_checkpoint cp;
    char *note, *text;
    size_t len, tlen;
    signed_checkpoint(&log, 7, 0xAB, &cp, &note, &len, &text, &tlen);
    tt_verifier k[3];
    assert_int_equal(tt_verifier_init(&k[0], cp.origin, log.pk, NULL), TT_OK);
    assert_int_equal(tt_cosigner_init(&k[1], "w.test/one", w1.pk, NULL), TT_OK);
    assert_int_equal(tt_cosigner_init(&k[2], "w.test/two", w2.pk, NULL), TT_OK);
    /* a cosigner's key ID is of type 0x04, not the note key's */
    assert_int_not_equal(k[1].key_id, tt_note_key_id("w.test/one", w1.pk));
    assert_int_equal(k[1].key_id, tt_cosig_key_id("w.test/one", w1.pk));
    char vk[TT_VKEY_MAX + 1];
    tt_verifier back;
    tt_verifier_format(&k[1], vk, sizeof vk);
    assert_int_equal(tt_verifier_parse(vk, &back, NULL), TT_OK);
    assert_int_equal(back.type, TT_SIG_COSIG);
    assert_int_equal(back.key_id, k[1].key_id);

    char line[384];
    assert_int_equal(tt_cosig_sign((tt_bytes){tlen, (uint8_t *)text}, "w.test/one", w1.sk,
                                   1700000000, line, sizeof line, NULL),
                     TT_OK);
    assert_int_equal(tt_cosig_sign((tt_bytes){tlen, (uint8_t *)text}, "w.test/one", w1.sk, 0,
                                   line + 200, 100, NULL),
                     TT_ERR_ARGUMENT);
    char *both = malloc(len + strlen(line) + 1);
    memcpy(both, note, len);
    strcpy(both + len, line);
    int found[3];
    uint64_t times[3];
    size_t tl = 0;
    assert_int_equal(tt_note_verify_each(tt_bytes_str(both), k, 3, found, times, &tl, NULL),
                     TT_OK);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 1);
    assert_int_equal(found[2], 0);
    assert_int_equal(times[0], 0);
    assert_int_equal(times[1], 1700000000u);
    assert_int_equal(tl, tlen);
    /* the timestamp is signed: one changed (in the base64, byte 4..11) fails the signature */
    char *bad = strdup(both);
    char *b64 = strrchr(bad, ' ') + 1;
    b64 += 8; /* the 6th to 11th bytes are characters 8 to 15 */
    *b64 = *b64 == 'A' ? 'B' : 'A';
    tt_error err;
    assert_int_equal(tt_note_verify_each(tt_bytes_str(bad), k, 3, found, NULL, NULL, &err),
                     TT_ERR_BAD_SIGNATURE);
    /* signed by another key under w.test/one's name: not that witness's (IDs differ) */
    assert_int_equal(tt_cosig_sign((tt_bytes){tlen, (uint8_t *)text}, "w.test/one", w2.sk,
                                   1700000000, line, sizeof line, NULL),
                     TT_OK);
    free(both);
    both = malloc(len + strlen(line) + 1);
    memcpy(both, note, len);
    strcpy(both + len, line);
    assert_int_equal(tt_note_verify_each(tt_bytes_str(both), k, 3, found, NULL, NULL, NULL),
                     TT_OK);
    assert_int_equal(found[1], 0);
    free(bad);
    free(both);
    free(note);
    free(text);
}

static void test_policy(void **state)
{
    (void)state;
    tt_keypair w[4];
    char vk[4][TT_VKEY_MAX + 1], text[4096];
    for (int i = 0; i < 4; i++) {
        uint8_t seed[32] = {(uint8_t)(10 + i)};
        tt_keypair_from_seed(&w[i], seed);
        tt_verifier v;
        char name[32];
        snprintf(name, sizeof name, "w.test/%d", i);
        tt_cosigner_init(&v, name, w[i].pk, NULL);
        tt_verifier_format(&v, vk[i], sizeof vk[i]);
    }
    tt_policy *p = malloc(sizeof *p);
    tt_error err;
    snprintf(text, sizeof text,
             "# two of the market's three, and the regulator's\n"
             "witness a %s http://127.0.0.1:1\nwitness b %s http://127.0.0.1:2\n"
             "witness c %s https://w.example/c/\nwitness r %s\n"
             "group market 2 a b c\ngroup both all market r\nquorum both\n",
             vk[0], vk[1], vk[2], vk[3]);
    assert_int_equal(tt_policy_parse(text, strlen(text), p, &err), TT_OK);
    assert_int_equal(p->nwitness, 4);
    assert_int_equal(p->ngroup, 2);
    assert_string_equal(p->url[2], "https://w.example/c/");
    assert_string_equal(p->url[3], "");
    assert_int_equal(tt_policy_required(p), 3);
    int yes[4] = {1, 1, 0, 0};
    assert_false(tt_policy_met(p, yes));
    yes[3] = 1;
    assert_true(tt_policy_met(p, yes));
    yes[1] = 0;
    assert_false(tt_policy_met(p, yes));
    yes[2] = 1;
    assert_true(tt_policy_met(p, yes));
    /* any / a number */
    snprintf(text, sizeof text, "witness a %s\nwitness b %s\ngroup g any a b\nquorum g\n", vk[0],
             vk[1]);
    assert_int_equal(tt_policy_parse(text, strlen(text), p, &err), TT_OK);
    assert_int_equal(tt_policy_required(p), 1);
    int one[2] = {0, 1}, none[2] = {0, 0};
    assert_true(tt_policy_met(p, one));
    assert_false(tt_policy_met(p, none));
    /* quorum none, and an empty policy: always met */
    assert_int_equal(tt_policy_parse("quorum none\n", 12, p, &err), TT_OK);
    assert_true(tt_policy_met(p, none));
    assert_int_equal(tt_policy_required(p), 0);

    struct {
        const char *fmt, *says;
    } bad[] = {
        {"witness a %s\n", "no quorum line"},
        {"witness a %s\nquorum b\n", "not defined above"},
        {"witness a %s\nwitness a %s\nquorum a\n", "already defined"},
        {"witness a %s\ngroup g 2 a\nquorum g\n", "threshold"},
        {"witness a %s\ngroup g 0 a\nquorum g\n", "threshold"},
        {"witness a %s\ngroup g 1 a a\nquorum g\n", "twice"},
        {"witness a %s\nquorum a\nquorum a\n", "second quorum"},
        {"witness a %s ftp://x\nquorum a\n", "http://"},
        {"witnes a %s\nquorum a\n", "is not witness, group or quorum"},
        {"witness a %s\nwitness b %s\nquorum a\n", "has the key of witness a"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i].fmt, vk[0], vk[0]);
        assert_int_not_equal(tt_policy_parse(text, strlen(text), p, &err), TT_OK);
        if (strstr(err.message, bad[i].says) == NULL)
            fail_msg("policy case %zu: \"%s\" does not say \"%s\"", i, err.message, bad[i].says);
    }
    /* a log key (type 0x01) is not a cosigner's */
    tt_verifier lv;
    char lk[TT_VKEY_MAX + 1];
    tt_verifier_init(&lv, "log.test", w[0].pk, NULL);
    tt_verifier_format(&lv, lk, sizeof lk);
    snprintf(text, sizeof text, "witness a %s\nquorum a\n", lk);
    assert_int_equal(tt_policy_parse(text, strlen(text), p, &err), TT_ERR_KEY_FORMAT);
    assert_non_null(strstr(err.message, "log key"));
    /* the edges: a label too long, a key that is none, lines that lack words, a label taken
     * by a group, and more witnesses and groups than a policy holds */
    char label[80];
    memset(label, 'L', 64);
    label[64] = '\0';
    struct {
        const char *text;
        tt_err code;
        const char *says;
    } edge[] = {
        {"witness %s KEY\nquorum none\n", TT_ERR_MALFORMED, "longer than 63 bytes"},
        {"witness a notakey\nquorum none\n", TT_ERR_KEY_FORMAT, "witness a"},
        {"witness a\nquorum none\n", TT_ERR_MALFORMED, "write \"witness"},
        {"group g 1\nquorum none\n", TT_ERR_MALFORMED, "write \"group"},
        {"quorum\n", TT_ERR_MALFORMED, "write \"quorum"},
        {"witness a KEY\ngroup a 1 a\nquorum a\n", TT_ERR_MALFORMED, "already defined"},
        {"witness a KEY\ngroup g 1 a z\nquorum g\n", TT_ERR_MALFORMED, "which is not defined above it"},
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        char fmt[256];
        snprintf(fmt, sizeof fmt, "%s", edge[i].text);
        char *at = strstr(fmt, "KEY");
        if (at) /* the key in the middle */
            snprintf(text, sizeof text, "%.*s%s%s", (int)(at - fmt), fmt, vk[0], at + 3);
        else
            snprintf(text, sizeof text, "%s", fmt);
        if (i == 0) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, text, label);
            snprintf(text, sizeof text, "%s", tmp);
        }
        tt_err rc = tt_policy_parse(text, strlen(text), p, &err);
        if (rc != edge[i].code || strstr(err.message, edge[i].says) == NULL)
            fail_msg("policy edge %zu: %s \"%s\"", i, tt_err_name(rc), err.message);
    }
    size_t o = 0;
    for (int i = 0; i < TT_POLICY_MAX + 1; i++) {
        tt_keypair k;
        uint8_t seed[32] = {(uint8_t)(100 + i)};
        tt_keypair_from_seed(&k, seed);
        tt_verifier v;
        char name[32], key[TT_VKEY_MAX + 1];
        snprintf(name, sizeof name, "w.test/m%d", i);
        tt_cosigner_init(&v, name, k.pk, NULL);
        tt_verifier_format(&v, key, sizeof key);
        o += (size_t)snprintf(text + o, sizeof text - o, "witness w%d %s\n", i, key);
    }
    assert_int_equal(tt_policy_parse(text, o, p, &err), TT_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "more than 32 witnesses"));
    o = (size_t)snprintf(text, sizeof text, "witness a %s\n", vk[0]);
    for (int i = 0; i < TT_POLICY_MAX + 1; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "group g%d 1 a\n", i);
    assert_int_equal(tt_policy_parse(text, o, p, &err), TT_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "more than 32 groups"));

    /* a checkpoint cosigned by two of three: checked against the policy, met; by one, not */
    snprintf(text, sizeof text,
             "witness a %s\nwitness b %s\nwitness c %s\ngroup g 2 a b c\nquorum g\n", vk[0],
             vk[1], vk[2]);
    assert_int_equal(tt_policy_parse(text, strlen(text), p, &err), TT_OK);
    tt_keypair logk;
    uint8_t ls[32] = {77};
    tt_keypair_from_seed(&logk, ls);
    tt_checkpoint cp;
    char *note, *ctext;
    size_t nlen, clen;
    signed_checkpoint(&logk, 3, 0x5A, &cp, &note, &nlen, &ctext, &clen);
    char l0[384], l2[384], *full = malloc(nlen + 2 * 384);
    assert_int_equal(tt_cosig_sign((tt_bytes){clen, (uint8_t *)ctext}, "w.test/0", w[0].sk,
                                   1700000000, l0, sizeof l0, NULL), TT_OK);
    assert_int_equal(tt_cosig_sign((tt_bytes){clen, (uint8_t *)ctext}, "w.test/2", w[2].sk,
                                   1700000001, l2, sizeof l2, NULL), TT_OK);
    int cosigned[TT_POLICY_MAX], met = -1;
    memcpy(full, note, nlen);
    strcpy(full + nlen, l0);
    assert_int_equal(tt_policy_check(p, full, strlen(full), cosigned, NULL, &met, &err), TT_OK);
    assert_int_equal(met, 0);
    assert_true(cosigned[0] && !cosigned[1] && !cosigned[2]);
    strcat(full, l2);
    assert_int_equal(tt_policy_check(p, full, strlen(full), cosigned, NULL, &met, &err), TT_OK);
    assert_int_equal(met, 1);
    /* a note that is not one is an error, not "not met" */
    assert_int_not_equal(tt_policy_check(p, "not a note", 10, cosigned, NULL, &met, &err), TT_OK);
    free(full), free(note), free(ctext);
    free(p);
}

/* The key a client's address is counted by: IPv4 whole, IPv6 by its /64, an IPv4 client of a
 * dual-stack listener as its IPv4 address (else every IPv4 client would share one count). */
static void test_addr_key(void **state)
{
    (void)state;
    char k[48];
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
    tt_rate_addr_key((struct sockaddr *)&a4, k);
    assert_string_equal(k, "192.0.2.7");
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &a6.sin6_addr);
    tt_rate_addr_key((struct sockaddr *)&a6, k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    char k2[48];
    inet_pton(AF_INET6, "2001:db8:1:2::1", &a6.sin6_addr);
    tt_rate_addr_key((struct sockaddr *)&a6, k2);
    assert_string_equal(k, k2); /* one /64, one count */
    inet_pton(AF_INET6, "2001:db8:1:3::1", &a6.sin6_addr);
    tt_rate_addr_key((struct sockaddr *)&a6, k2);
    assert_string_not_equal(k, k2);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &a6.sin6_addr);
    tt_rate_addr_key((struct sockaddr *)&a6, k);
    assert_string_equal(k, "192.0.2.7");
    inet_pton(AF_INET6, "::ffff:192.0.2.8", &a6.sin6_addr);
    tt_rate_addr_key((struct sockaddr *)&a6, k2);
    assert_string_not_equal(k, k2);
    tt_rate_addr_key(NULL, k);
    assert_string_equal(k, "?");
}

static void test_addcp(void **state)
{
    (void)state;
    tt_hash proof[3];
    for (int i = 0; i < 3; i++)
        memset(proof[i], 0x10 + i, TT_HASH_SIZE);
    const char *note = "o.test\n9\nAAAA\n\n\xE2\x80\x94 o.test AAAA\n";
    char *body;
    size_t len;
    assert_int_equal(tt_addcp_format(5, proof, 3, note, strlen(note), &body, &len, NULL), TT_OK);
    tt_addcp r;
    assert_int_equal(tt_addcp_parse(body, len, &r, NULL), TT_OK);
    assert_int_equal(r.old_size, 5);
    assert_int_equal(r.nproof, 3);
    assert_memory_equal(r.proof[2], proof[2], TT_HASH_SIZE);
    assert_int_equal(r.note_len, strlen(note));
    assert_memory_equal(r.note, note, r.note_len);
    free(body);
    assert_int_equal(tt_addcp_format(0, NULL, 0, note, strlen(note), &body, &len, NULL), TT_OK);
    assert_int_equal(tt_addcp_parse(body, len, &r, NULL), TT_OK);
    assert_int_equal(r.old_size, 0);
    assert_int_equal(r.nproof, 0);
    free(body);
    const char *bad[] = {"old 05\n\nx", "old\n\nx", "new 5\n\nx", "old 5\nAAAA\n\nx", "old 5\n",
                         "old 5\n\n", "old 18446744073709551616\n\nx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tt_addcp_parse(bad[i], strlen(bad[i]), &r, NULL), TT_ERR_MALFORMED);
    /* 63 proof lines are the most */
    char big[64 * 46 + 64];
    size_t n = (size_t)snprintf(big, sizeof big, "old 1\n");
    char h64[48];
    tt_b64((tt_bytes){TT_HASH_SIZE, proof[0]}, h64);
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\n", h64);
    n += (size_t)snprintf(big + n, sizeof big - n, "\nx");
    assert_int_equal(tt_addcp_parse(big, n, &r, NULL), TT_ERR_MALFORMED);
    assert_int_equal(tt_addcp_format(1, proof, 64, note, 1, &body, &len, NULL), TT_ERR_ARGUMENT);
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
        cmocka_unit_test(test_cosig_roundtrip),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_addcp),
        cmocka_unit_test(test_addr_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
