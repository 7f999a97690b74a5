/*
 * label.c: QR label tokens — making, parsing and checking them offline.
 *
 * The token repeats the trace code it was made for, so that a label whose
 * printed code was changed (or whose symbol was copied onto another lot)
 * is told apart from a token that was tampered with: both fail, each with
 * its own error. The signature is what makes either check meaningful.
 */
#include "tcmtrace/label.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/event.h"

#define LABEL_PREFIX "tcmtrace/label/v1\n"

/* The signed message, laid out flat (Ed25519 pure, not the prehash mode). */
static size_t message(const char *origin, const char *code, const uint8_t hash16[16], uint8_t *buf,
                      size_t cap)
{
    int n = snprintf((char *)buf, cap, LABEL_PREFIX "%s\n%s\n", origin, code);
    if (n < 0 || (size_t)n + 16 > cap)
        return 0;
    memcpy(buf + n, hash16, 16);
    return (size_t)n + 16;
}

void tt_label_token(const char *origin, const char *code, const uint8_t reg_hash[TT_HASH_SIZE],
                    const uint8_t sk[TT_SK_SIZE], char token[TT_LABEL_TOKEN_LEN + 1])
{
    uint8_t raw[TT_LABEL_TOKEN_RAW], pk[32], msg[512];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    tt_put_u32be(raw, tt_note_key_id(origin, pk));
    uint64_t v = strtoull(code, NULL, 10);
    for (int i = 6; i >= 0; i--, v >>= 8)
        raw[4 + i] = (uint8_t)v;
    memcpy(raw + 11, reg_hash, 16);
    size_t len = message(origin, code, reg_hash, msg, sizeof msg);
    crypto_sign_detached(raw + 27, NULL, msg, len, sk);
    tt_b64url((tt_bytes){sizeof raw, raw}, token);
}

/* The token's 91 bytes as one big-endian number in 220 decimal digits (QR numeric mode
 * packs 3 digits in 10 bits: a smaller symbol than 122 base64url characters in byte mode). */
static int token_digits(const char *token, char out[TT_LABEL_TOKEN_DIGITS + 1])
{
    uint8_t raw[TT_LABEL_TOKEN_RAW + 8];
    size_t n = 0;
    if (strlen(token) != TT_LABEL_TOKEN_LEN ||
        tt_unb64(token, strlen(token), 1, raw, sizeof raw, &n) != TT_OK || n != TT_LABEL_TOKEN_RAW)
        return -1;
    for (int d = TT_LABEL_TOKEN_DIGITS - 1; d >= 0; d--) { /* divide by 10, keep the rest */
        unsigned rem = 0;
        for (size_t i = 0; i < TT_LABEL_TOKEN_RAW; i++) {
            unsigned cur = rem << 8 | raw[i];
            raw[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        out[d] = (char)('0' + rem);
    }
    out[TT_LABEL_TOKEN_DIGITS] = '\0';
    return 0;
}

/* The inverse: 220 digits to the 91 token bytes; -1 when they are more than 91 bytes hold. */
static int digits_token(const char *d, uint8_t raw[TT_LABEL_TOKEN_RAW])
{
    memset(raw, 0, TT_LABEL_TOKEN_RAW);
    for (size_t k = 0; k < TT_LABEL_TOKEN_DIGITS; k++) {
        if (d[k] < '0' || d[k] > '9')
            return -1;
        unsigned carry = (unsigned)(d[k] - '0');
        for (size_t i = TT_LABEL_TOKEN_RAW; i-- > 0;) {
            unsigned cur = raw[i] * 10u + carry;
            raw[i] = (uint8_t)cur;
            carry = cur >> 8;
        }
        if (carry)
            return -1;
    }
    return 0;
}

tt_err tt_label_url(const char *base, const char *code, const char *token, char *out, size_t cap,
                    tt_error *err)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char digits[TT_LABEL_TOKEN_DIGITS + 1];
    if (token_digits(token, digits) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "the label token is not %d base64url characters",
                       TT_LABEL_TOKEN_LEN);
    int n = snprintf(out, cap, "%.*s/b/%s?n=%s", (int)bl, base, code, digits);
    if (n < 0 || (size_t)n >= cap)
        return tt_fail(err, TT_ERR_TOO_LARGE, "the label URL would be longer than %zu bytes", cap);
    return TT_OK;
}

tt_err tt_label_dl_url(const char *base, const char *gtin, const char *code, const char *token,
                       char *out, size_t cap, tt_error *err)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    if (!tt_gtin_valid(gtin))
        return tt_fail(err, TT_ERR_MALFORMED, "\"%.20s\" is not a GTIN-14", gtin);
    char digits[TT_LABEL_TOKEN_DIGITS + 1];
    if (token_digits(token, digits) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "the label token is not %d base64url characters",
                       TT_LABEL_TOKEN_LEN);
    int n = snprintf(out, cap, "%.*s/01/%s/10/%s?n=%s", (int)bl, base, gtin, code, digits);
    if (n < 0 || (size_t)n >= cap)
        return tt_fail(err, TT_ERR_TOO_LARGE, "the label URL would be longer than %zu bytes", cap);
    return TT_OK;
}

/* Where "/01/<14 digits>/10/" starts in url (the last such), or NULL. */
static const char *dl_start(const char *url)
{
    const char *found = NULL;
    for (const char *p = strstr(url, "/01/"); p; p = strstr(p + 1, "/01/")) {
        size_t i = 4;
        while (i < 18 && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == 18 && strncmp(p + 18, "/10/", 4) == 0)
            found = p;
    }
    return found;
}

tt_err tt_label_parse(const char *url, tt_label *out, tt_error *err)
{
    const char *b = strstr(url, "/b/"), *dl = dl_start(url), *code;
    while (b && strstr(b + 1, "/b/"))
        b = strstr(b + 1, "/b/"); /* the last "/b/": a base may contain one */
    out->gtin[0] = '\0';
    if (dl && (b == NULL || dl > b)) { /* GS1 Digital Link: <base>/01/<GTIN>/10/<code> */
        b = dl;
        memcpy(out->gtin, dl + 4, 14);
        out->gtin[14] = '\0';
        code = dl + 22;
        if (!tt_gtin_valid(out->gtin))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "the label's GTIN %s has a wrong check digit: not a label this ledger "
                           "printed",
                           out->gtin);
    } else
        code = b ? b + 3 : NULL;
    if (b == NULL || b == url || (size_t)(b - url) >= sizeof out->base)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "this is not a tcmtrace label (no \"/b/<code>\" or "
                       "\"/01/<GTIN>/10/<code>\")");
    memcpy(out->base, url, (size_t)(b - url));
    out->base[b - url] = '\0';
    const char *q = strchr(code, '?');
    if (q == NULL || q - code != TT_CODE_LEN ||
        (strncmp(q, "?t=", 3) != 0 && strncmp(q, "?n=", 3) != 0))
        return tt_fail(err, TT_ERR_MALFORMED,
                       "a tcmtrace label reads <base>/b/<16-digit code>?n=<token digits> or "
                       "?t=<token> (or <base>/01/<GTIN>/10/<code>?n=...)");
    char given[TT_CODE_LEN + 1];
    memcpy(given, code, TT_CODE_LEN);
    given[TT_CODE_LEN] = '\0';
    tt_err rc = tt_code_parse(given, out->code, err);
    if (rc != TT_OK)
        return rc;
    const char *tok = q + 3;
    uint8_t raw[TT_LABEL_TOKEN_RAW + 8];
    size_t n = 0;
    if (q[1] == 'n') { /* the token as digits (numeric mode) */
        if (strlen(tok) != TT_LABEL_TOKEN_DIGITS || digits_token(tok, raw) != 0)
            return tt_fail(err, TT_ERR_MALFORMED, "the label's token is not %d digits",
                           TT_LABEL_TOKEN_DIGITS);
    } else if (strlen(tok) != TT_LABEL_TOKEN_LEN ||
               tt_unb64(tok, strlen(tok), 1, raw, sizeof raw, &n) != TT_OK ||
               n != TT_LABEL_TOKEN_RAW)
        return tt_fail(err, TT_ERR_MALFORMED, "the label's token is not %d base64url characters",
                       TT_LABEL_TOKEN_LEN);
    out->key_id = tt_get_u32be(raw);
    uint64_t v = 0;
    for (int i = 0; i < 7; i++)
        v = v << 8 | raw[4 + i];
    if (v >= UINT64_C(10000000000000000))
        return tt_fail(err, TT_ERR_MALFORMED, "the label's token holds no trace code");
    snprintf(out->token_code, sizeof out->token_code, "%016llu", (unsigned long long)v);
    memcpy(out->hash16, raw + 11, 16);
    memcpy(out->sig, raw + 27, 64);
    return TT_OK;
}

tt_err tt_label_verify(const tt_label *lb, const tt_verifier *log, tt_error *err)
{
    if (lb->key_id != log->key_id)
        return tt_fail(err, TT_ERR_UNKNOWN_KEY,
                       "this label was signed for another ledger (key %08x), not %s (key %08x)",
                       lb->key_id, log->name, log->key_id);
    if (strcmp(lb->code, lb->token_code) != 0)
        return tt_fail(err, TT_ERR_CODE_MISMATCH,
                       "the label reads %s but its token was made for %s: a relabelled or copied "
                       "label",
                       lb->code, lb->token_code);
    uint8_t msg[512];
    size_t len = message(log->name, lb->code, lb->hash16, msg, sizeof msg);
    if (len == 0 || crypto_sign_verify_detached(lb->sig, msg, len, log->pk) != 0)
        return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                       "the label's token does not verify with the log key: it was altered or "
                       "forged");
    return TT_OK;
}
