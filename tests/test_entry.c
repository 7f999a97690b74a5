/* test_entry.c: the entry codec and event signatures (DESIGN §3). */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/store/ledger_internal.h"

#define ORIGIN "tcmtrace.test/entry"

static tt_entry sample(const tt_keypair *kp, const char *body, uint8_t *sig)
{
    tt_entry e = {0};
    e.version = TT_ENTRY_VERSION;
    e.seq = 0x0102030405060708ull;
    e.time_ms = 1763800000123ull;
    memset(e.prev, 0xAB, sizeof e.prev);
    memcpy(e.actor, kp->pk, TT_PK_SIZE);
    tu_sign(ORIGIN, kp, body, sig);
    memcpy(e.sig, sig, TT_SIG_SIZE);
    e.body = tt_bytes_str(body);
    return e;
}

static void test_layout_is_exact(void **state)
{
    (void)state;
    tt_keypair kp;
    uint8_t sig[64], buf[512];
    size_t len = 0;
    tt_keypair_generate(&kp);
    tt_entry e = sample(&kp, "{\"v\":1}", sig);
    assert_int_equal(tt_entry_encode(&e, buf, sizeof buf, &len, NULL), TT_OK);
    assert_int_equal(len, 149 + 7);
    assert_int_equal(buf[0], 1);
    assert_memory_equal(buf + 1, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_int_equal(tt_get_u64be(buf + 9), 1763800000123ull);
    assert_memory_equal(buf + 17, e.prev, 32);
    assert_memory_equal(buf + 49, kp.pk, 32);
    assert_memory_equal(buf + 81, sig, 64);
    assert_memory_equal(buf + 145, "\x00\x00\x00\x07", 4);
    assert_memory_equal(buf + 149, "{\"v\":1}", 7);

    /* entry hash = SHA-256(0x00 || bytes) */
    uint8_t h[32], want[32], pre[1 + 156];
    pre[0] = 0;
    memcpy(pre + 1, buf, len);
    crypto_hash_sha256(want, pre, len + 1);
    tt_entry_hash((tt_bytes){len, buf}, h);
    assert_memory_equal(h, want, 32);
}

static void test_roundtrip(void **state)
{
    (void)state;
    tt_keypair kp;
    uint8_t sig[64], buf[1024];
    size_t len;
    tt_keypair_generate(&kp);
    tt_entry e = sample(&kp, "{\"type\":\"batch.register\",\"herb\":\"当归\"}", sig), d;
    assert_int_equal(tt_entry_encode(&e, buf, sizeof buf, &len, NULL), TT_OK);
    assert_int_equal(tt_entry_decode((tt_bytes){len, buf}, &d, NULL), TT_OK);
    assert_int_equal(d.seq, e.seq);
    assert_int_equal(d.time_ms, e.time_ms);
    assert_memory_equal(d.prev, e.prev, 32);
    assert_memory_equal(d.actor, e.actor, 32);
    assert_memory_equal(d.sig, e.sig, 64);
    assert_int_equal(d.body.size, e.body.size);
    assert_memory_equal(d.body.data, e.body.data, e.body.size);
    assert_int_equal(tt_event_verify(ORIGIN, d.body, d.actor, d.sig), TT_OK);
}

static void test_every_truncation_is_an_error(void **state)
{
    (void)state;
    tt_keypair kp;
    uint8_t sig[64], buf[512];
    size_t len;
    tt_error err;
    tt_keypair_generate(&kp);
    tt_entry e = sample(&kp, "{\"type\":\"x\"}", sig), d;
    assert_int_equal(tt_entry_encode(&e, buf, sizeof buf, &len, NULL), TT_OK);
    for (size_t n = 0; n < len; n++) {
        tt_err rc = tt_entry_decode((tt_bytes){n, buf}, &d, &err);
        assert_int_equal(rc, TT_ERR_MALFORMED);
        assert_true(strlen(err.message) > 0);
    }
    /* one trailing byte too many */
    buf[len] = 'x';
    assert_int_equal(tt_entry_decode((tt_bytes){len + 1, buf}, &d, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "body_len"));
}

static void test_bad_version_and_oversize(void **state)
{
    (void)state;
    uint8_t buf[TT_ENTRY_HEADER_SIZE] = {0};
    tt_entry d;
    tt_error err;
    buf[0] = 2;
    assert_int_equal(tt_entry_decode((tt_bytes){sizeof buf, buf}, &d, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "version"));
    buf[0] = 1;
    tt_put_u32be(buf + 145, TT_BODY_MAX + 1);
    assert_int_equal(tt_entry_decode((tt_bytes){sizeof buf, buf}, &d, &err), TT_ERR_TOO_LARGE);
    tt_put_u32be(buf + 145, 0xFFFFFFFFu);
    assert_int_equal(tt_entry_decode((tt_bytes){sizeof buf, buf}, &d, &err), TT_ERR_TOO_LARGE);

    /* encode refuses a body over the limit and a short buffer */
    tt_entry e = {0};
    uint8_t *big = calloc(1, TT_BODY_MAX + 1), out[200];
    size_t len;
    e.version = 1;
    e.body = (tt_bytes){TT_BODY_MAX + 1, big};
    assert_int_equal(tt_entry_encode(&e, out, sizeof out, &len, &err), TT_ERR_TOO_LARGE);
    e.body = (tt_bytes){100, big};
    assert_int_equal(tt_entry_encode(&e, out, sizeof out, &len, &err), TT_ERR_TOO_LARGE);
    e.body = (tt_bytes){TT_BODY_MAX, big};
    uint8_t *max = malloc(TT_ENTRY_MAX);
    assert_int_equal(tt_entry_encode(&e, max, TT_ENTRY_MAX, &len, &err), TT_OK);
    assert_int_equal(len, TT_ENTRY_MAX);
    assert_int_equal(tt_entry_decode((tt_bytes){len, max}, &d, &err), TT_OK);
    free(max);
    free(big);
}

static void test_random_bytes_never_crash(void **state)
{
    (void)state;
    uint8_t buf[400];
    tt_entry d;
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = randombytes_uniform(sizeof buf);
        randombytes_buf(buf, n);
        if (i & 1) { /* make many plausible headers */
            if (n >= TT_ENTRY_HEADER_SIZE) {
                buf[0] = 1;
                tt_put_u32be(buf + 145, (uint32_t)(n - TT_ENTRY_HEADER_SIZE));
            }
        }
        if (tt_entry_decode((tt_bytes){n, buf}, &d, NULL) == TT_OK) {
            accepted++;
            assert_true(d.body.data + d.body.size <= buf + n);
        }
    }
    assert_true(accepted > 0); /* the plausible ones decode */
}

static void test_signature_domain(void **state)
{
    (void)state;
    tt_keypair kp, other;
    uint8_t sig[64];
    tt_keypair_generate(&kp);
    tt_keypair_generate(&other);
    const char *body = "{\"v\":1,\"type\":\"batch.sell\"}";
    tu_sign(ORIGIN, &kp, body, sig);
    assert_int_equal(tt_event_verify(ORIGIN, tt_bytes_str(body), kp.pk, sig), TT_OK);
    assert_int_equal(tt_event_verify(ORIGIN, tt_bytes_str(body), other.pk, sig), TT_ERR_BAD_SIGNATURE);
    assert_int_equal(
        tt_event_verify(ORIGIN, tt_bytes_str("{\"v\":1,\"type\":\"batch.sell\"} "), kp.pk, sig),
        TT_ERR_BAD_SIGNATURE);
    /* a plain signature of the body (without the domain prefix) is refused */
    uint8_t raw[64];
    crypto_sign_detached(raw, NULL, (const uint8_t *)body, strlen(body), kp.sk);
    assert_int_equal(tt_event_verify(ORIGIN, tt_bytes_str(body), kp.pk, raw), TT_ERR_BAD_SIGNATURE);
    /* an event names its ledger: for another origin, or as v1 naming none, it does not verify */
    assert_int_equal(tt_event_verify("tcmtrace.test/another", tt_bytes_str(body), kp.pk, sig),
                     TT_ERR_BAD_SIGNATURE);
    assert_int_equal(tt_event_verify(NULL, tt_bytes_str(body), kp.pk, sig), TT_ERR_BAD_SIGNATURE);
    /* the message is exactly "tcmtrace/event/v2\n" origin "\n" body, as docs/formats.md says */
    char msg[256];
    snprintf(msg, sizeof msg, "tcmtrace/event/v2\n%s\n%s", ORIGIN, body);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)msg, strlen(msg), kp.pk), 0);
    /* one origin that is a prefix of another is not it */
    tt_event_sign("tcmtrace.test/en", tt_bytes_str(body), kp.sk, raw);
    assert_int_equal(tt_event_verify(ORIGIN, tt_bytes_str(body), kp.pk, raw), TT_ERR_BAD_SIGNATURE);
    /* a v1 signature (a ledger of before) verifies only as v1 */
    tt_event_sign(NULL, tt_bytes_str(body), kp.sk, raw);
    assert_int_equal(tt_event_verify(NULL, tt_bytes_str(body), kp.pk, raw), TT_OK);
    assert_int_equal(tt_event_verify(ORIGIN, tt_bytes_str(body), kp.pk, raw), TT_ERR_BAD_SIGNATURE);
}

/* One value, one encoding: base64 with stray bits, bad padding, whitespace
 * or trailing bytes is refused. */
static void test_base64_is_strict(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n;
    assert_int_equal(tt_unb64("AA==", 4, 0, out, sizeof out, &n), TT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tt_unb64("AA", 2, 1, out, sizeof out, &n), TT_OK);
    static const struct {
        const char *s;
        int url;
    } bad[] = {{"AB==", 0}, {"AAB=", 0}, {"AA=", 0},   {"AA", 0},   {"AB", 1},   {"A", 1},
               {" AA=", 0}, {"AA= ", 0}, {"AA==x", 0}, {"A+==", 1}, {"A_==", 0}, {"AA==", 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tt_unb64(bad[i].s, strlen(bad[i].s), bad[i].url, out, sizeof out, &n) !=
            TT_ERR_MALFORMED)
            fail_msg("\"%s\" (url=%d) was accepted", bad[i].s, bad[i].url);
    /* too long for the buffer */
    assert_int_equal(tt_unb64("AAAAAAAAAAAAAAAAAAAAAAAA", 24, 0, out, 4, &n), TT_ERR_MALFORMED);
}

static void test_error_table(void **state)
{
    (void)state;
    assert_string_equal(tt_err_name(TT_ERR_BAD_SIGNATURE), "bad_signature");
    assert_int_equal(tt_err_from_name("replay"), TT_ERR_REPLAY);
    assert_int_equal(tt_err_from_name("no_such_code"), TT_ERR_COUNT_);
    for (int i = 0; i < TT_ERR_COUNT_; i++) {
        assert_int_equal(tt_err_from_name(tt_err_name((tt_err)i)), i);
        assert_true(strlen(tt_strerror((tt_err)i)) > 3);
    }
}

/* ---- the stored form (core/stored.c) ---- */

/* SHA-256 of the stored form's dictionary, fixed when the first deflated entry was written */
#define STORED_DICTIONARY_SHA256 "0e71c9f223c78afd0767e19d935d2f596917713623cc91c28c8932d9e56afd15"

/* Packs the entry of `body` and checks that what the store keeps gives back exactly its wire
 * bytes; returns the stored length (the wire length when it is kept as it is). */
static size_t stored_round_trip(const char *body, size_t blen)
{
    tt_keypair kp;
    tt_keypair_generate(&kp);
    tt_entry e = {0};
    e.version = TT_ENTRY_VERSION;
    e.seq = 77;
    e.time_ms = 1763800000123ull;
    randombytes_buf(e.prev, sizeof e.prev);
    memcpy(e.actor, kp.pk, TT_PK_SIZE);
    randombytes_buf(e.sig, sizeof e.sig);
    e.body = (tt_bytes){blen, (const uint8_t *)body};
    uint8_t *wire = malloc(TT_ENTRY_MAX), *packed = malloc(TT_ENTRY_MAX),
            *back = malloc(TT_ENTRY_MAX);
    size_t len, blen2;
    assert_int_equal(tt_entry_encode(&e, wire, TT_ENTRY_MAX, &len, NULL), TT_OK);
    size_t n = tt_stored_pack(wire, len, packed, TT_ENTRY_MAX);
    tt_bytes stored = n ? (tt_bytes){n, packed} : (tt_bytes){len, wire};
    if (n) {
        assert_true(n < len);
        assert_int_equal(packed[0], TT_STORED_DEFLATED);
        assert_memory_equal(packed + 1, wire + 1, TT_ENTRY_HEADER_SIZE - 1);
    }
    assert_int_equal(tt_stored_size(stored), len);
    assert_int_equal(tt_stored_unpack(stored, back, TT_ENTRY_MAX, &blen2, NULL), TT_OK);
    assert_int_equal(blen2, len);
    assert_memory_equal(back, wire, len);
    tt_stored_buf sb = {NULL, 0};
    tt_bytes view;
    assert_int_equal(tt_stored_view(stored, &sb, &view, NULL), TT_OK);
    assert_int_equal(view.size, len);
    assert_memory_equal(view.data, wire, len);
    assert_true(n ? view.data == sb.data : view.data == wire); /* a wire entry is not copied */
    tt_stored_buf_free(&sb);
    free(wire);
    free(packed);
    free(back);
    return n ? n : len;
}

static int pack_fixture(const char *path, void *ctx)
{
    size_t *sums = ctx, len;
    char *body = tu_slurp(path, &len);
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
        len--;
    sums[0] += TT_ENTRY_HEADER_SIZE + len;
    sums[1] += stored_round_trip(body, len);
    free(body);
    return 0;
}

static void test_stored_gives_back_the_wire_bytes(void **state)
{
    (void)state;
    /* every valid event the tests know, and random documents */
    size_t sums[2] = {0, 0};
    assert_int_equal(tu_each_json_file("tests/fixtures/events/valid", pack_fixture, sums), 0);
    assert_true(sums[0] > 0);
    /* the events of a market day take a good deal less room */
    assert_true(sums[1] * 10 < sums[0] * 7);
    for (int i = 0; i < 300; i++) {
        json_t *d = tu_random_document();
        char *t = json_dumps(d, JSON_COMPACT | (i % 2 ? JSON_SORT_KEYS : 0));
        stored_round_trip(t, strlen(t));
        free(t);
        json_decref(d);
    }
    /* what deflate cannot make smaller is kept as it is */
    char noise[400];
    randombytes_buf(noise, sizeof noise);
    assert_int_equal(stored_round_trip(noise, sizeof noise), TT_ENTRY_HEADER_SIZE + sizeof noise);
    /* the largest body */
    char *big = malloc(TT_BODY_MAX);
    for (size_t i = 0; i < TT_BODY_MAX; i++)
        big[i] = "{\"qty_g\":1234567890}"[i % 20];
    assert_true(stored_round_trip(big, TT_BODY_MAX) < TT_BODY_MAX / 4);
    free(big);
}

static void test_stored_damage_is_found(void **state)
{
    (void)state;
    const char *body = "{\"v\":1,\"type\":\"batch.transfer\",\"at\":\"2026-11-22T10:00:00+08:00\","
                       "\"nonce\":\"Qm9keSBub25jZSBoZXJl\",\"id\":\"2611221001037865\","
                       "\"to\":\"T-0002\",\"qty_g\":20000,\"note\":\"解放路 12 号摊\"}";
    uint8_t wire[1024], packed[1024], back[1024];
    tt_entry e = {.version = TT_ENTRY_VERSION, .seq = 5, .time_ms = 1};
    e.body = tt_bytes_str(body);
    size_t len, n, blen;
    assert_int_equal(tt_entry_encode(&e, wire, sizeof wire, &len, NULL), TT_OK);
    n = tt_stored_pack(wire, len, packed, sizeof packed);
    assert_true(n > TT_ENTRY_HEADER_SIZE && n < len);
    /* every bit of the deflated body flipped: it fails, or it gives other bytes (which the
     * entry hash then tells) — never the same body from other stored bytes */
    for (size_t i = TT_ENTRY_HEADER_SIZE; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            packed[i] ^= (uint8_t)(1 << bit);
            tt_error err;
            tt_err rc = tt_stored_unpack((tt_bytes){n, packed}, back, sizeof back, &blen, &err);
            if (rc == TT_OK)
                assert_false(blen == len && memcmp(back, wire, len) == 0);
            else
                assert_int_equal(rc, TT_ERR_MALFORMED);
            packed[i] ^= (uint8_t)(1 << bit);
        }
    /* every truncation, and trailing bytes */
    for (size_t cut = 0; cut < n; cut++) {
        tt_err rc = tt_stored_unpack((tt_bytes){cut, packed}, back, sizeof back, &blen, NULL);
        assert_true(rc != TT_OK || blen != len || memcmp(back, wire, len) != 0);
    }
    packed[n] = 0;
    assert_int_equal(tt_stored_unpack((tt_bytes){n + 1, packed}, back, sizeof back, &blen, NULL),
                     TT_ERR_MALFORMED);
    /* a body length that lies: longer, shorter, past the limit */
    for (int d = -1; d <= 1; d += 2) {
        uint8_t copy[1024];
        memcpy(copy, packed, n);
        copy[TT_ENTRY_HEADER_SIZE - 1] = (uint8_t)(copy[TT_ENTRY_HEADER_SIZE - 1] + d);
        assert_int_equal(tt_stored_unpack((tt_bytes){n, copy}, back, sizeof back, &blen, NULL),
                         TT_ERR_MALFORMED);
    }
    packed[TT_ENTRY_HEADER_SIZE - 3] = 0xFF;
    assert_int_equal(tt_stored_unpack((tt_bytes){n, packed}, back, sizeof back, &blen, NULL),
                     TT_ERR_MALFORMED);
    /* random stored bytes behind the first byte never crash */
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[600];
        size_t jl = randombytes_uniform(sizeof junk);
        randombytes_buf(junk, jl);
        if (jl)
            junk[0] = TT_STORED_DEFLATED;
        if (jl >= TT_ENTRY_HEADER_SIZE)
            junk[TT_ENTRY_HEADER_SIZE - 3] = 0, junk[TT_ENTRY_HEADER_SIZE - 4] = 0;
        tt_err rc = tt_stored_unpack((tt_bytes){jl, junk}, back, sizeof back, &blen, NULL);
        assert_true(rc == TT_OK || rc == TT_ERR_MALFORMED || rc == TT_ERR_TOO_LARGE);
    }
}

static void test_stored_body_made_elsewhere(void **state)
{
    (void)state;
    /* a body the daemon's worker deflated is used as it is; one that is not this entry's body
     * deflated is never stored for it */
    const char *body = "{\"v\":1,\"type\":\"batch.sell\",\"at\":\"2026-11-22T10:00:00+08:00\","
                       "\"nonce\":\"c2VsbCBub25jZSBoZXJl\",\"id\":\"2611221001037865\","
                       "\"qty_g\":250}";
    const char *other = "{\"v\":1,\"type\":\"batch.sell\",\"at\":\"2026-11-22T10:00:00+08:00\","
                        "\"nonce\":\"c2VsbCBub25jZSBoZXJl\",\"id\":\"2611221001037865\","
                        "\"qty_g\":990}";
    uint8_t wire[1024], a[1024], b[1024], d[1024], o[1024], back[1024];
    tt_entry e = {.version = TT_ENTRY_VERSION, .seq = 9, .time_ms = 1};
    e.body = tt_bytes_str(body);
    size_t len, blen;
    assert_int_equal(tt_entry_encode(&e, wire, sizeof wire, &len, NULL), TT_OK);
    size_t dn = tt_stored_body(tt_bytes_str(body), d, sizeof d);
    size_t on = tt_stored_body(tt_bytes_str(other), o, sizeof o);
    assert_true(dn > 0 && dn < strlen(body) && on > 0);
    size_t plain = tt_stored_pack(wire, len, a, sizeof a);
    assert_int_equal(tt_stored_pack_with(wire, len, d, dn, b, sizeof b), plain);
    assert_memory_equal(a, b, plain);
    /* another body's, a cut one, a damaged one: deflated afresh, and it reads back right */
    uint8_t bad[1024];
    memcpy(bad, d, dn);
    bad[dn / 2] ^= 0x40;
    const struct {
        const uint8_t *p;
        size_t n;
    } wrong[] = {{o, on}, {d, dn - 1}, {bad, dn}, {d, len}};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        size_t n = tt_stored_pack_with(wire, len, wrong[i].p, wrong[i].n, b, sizeof b);
        assert_int_equal(n, plain);
        assert_int_equal(tt_stored_unpack((tt_bytes){n, b}, back, sizeof back, &blen, NULL), TT_OK);
        assert_int_equal(blen, len);
        assert_memory_equal(back, wire, len);
    }
}

static void test_stored_dictionary_never_changes(void **state)
{
    (void)state;
    /* every deflated entry in every ledger needs exactly this dictionary */
    size_t len;
    const void *d = tt_stored_dictionary(&len);
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, d, len);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(hex, STORED_DICTIONARY_SHA256);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_exact),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_every_truncation_is_an_error),
        cmocka_unit_test(test_bad_version_and_oversize),
        cmocka_unit_test(test_random_bytes_never_crash),
        cmocka_unit_test(test_signature_domain),
        cmocka_unit_test(test_base64_is_strict),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_stored_gives_back_the_wire_bytes),
        cmocka_unit_test(test_stored_damage_is_found),
        cmocka_unit_test(test_stored_body_made_elsewhere),
        cmocka_unit_test(test_stored_dictionary_never_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
