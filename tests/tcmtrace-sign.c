/*
 * tcmtrace-sign: a test helper. Prints a raw "submit" API request for the
 * event fields given as JSON (the common fields v, at and nonce are added),
 * signed with the unsealed or TCMTRACE_PASSPHRASE-sealed key FILE.
 *
 *   tcmtrace-sign KEYFILE '{"type":"batch.sell","id":"...","qty_g":1}'
 *   tcmtrace-sign --raw KEYFILE 'BODY'    signs BODY byte for byte, as given
 *   tcmtrace-sign --scan KEYFILE CODE [AT] a signed "scan" request (AT: its "at",
 *                                          default now)
 *   tcmtrace-sign --label LOGKEY BASE CODE TEXT  a label URL for CODE signed by the log key
 *                                          LOGKEY, bound to SHA-256(TEXT) as the lot's
 *                                          registration hash (not its real one)
 *   tcmtrace-sign --frame|--frame-many    the submit requests on standard input, one a
 *                                          line, as one binary submit frame (kind 1 or 2)
 *
 * Events are signed for the ledger named by $TCMTRACE_ORIGIN, else by the origin of
 * $TCMTRACE_DIR/log.vkey, and the request says so ("ledger"); TCMTRACE_ORIGIN=v1 signs
 * with the v1 prefix, naming no ledger, as ledgers of before did.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcmtrace/label.h"
#include "tcmtrace/util.h"

static const char *sign_origin(void);

static int scan_request(int argc, char **argv)
{
    tt_keypair kp;
    tt_error err;
    if (argc < 4 || argc > 5)
        return fprintf(stderr, "usage: tcmtrace-sign --scan KEYFILE CODE [AT]\n"), 2;
    if (tt_secret_load(argv[2], NULL, "TCMTRACE_PASSPHRASE", &kp, &err) != TT_OK)
        return fprintf(stderr, "%s\n", err.message), 1;
    char at[40], nonce[32];
    uint8_t raw[16], sig[64];
    tt_rfc3339_now(at);
    randombytes_buf(raw, sizeof raw);
    tt_b64url((tt_bytes){16, raw}, nonce);
    json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "type", "scan", "id", argv[3], "at",
                          argc == 5 ? argv[4] : at, "nonce", nonce);
    char *body = json_dumps(b, JSON_COMPACT), pk[64], s64[100];
    tt_scan_sign(sign_origin(), tt_bytes_str(body), kp.sk, sig);
    tt_b64((tt_bytes){32, kp.pk}, pk);
    tt_b64((tt_bytes){64, sig}, s64);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "scan", "id", argv[3], "actor", pk,
                            "sig", s64, "body", body);
    char *out = json_dumps(req, JSON_COMPACT);
    puts(out);
    free(out);
    free(body);
    json_decref(req);
    json_decref(b);
    return 0;
}

/* The JSON submits on stdin as a binary submit frame (daemon/daemon.h) on stdout. */
static int frame(int many)
{
    char line[200000];
    uint8_t *out = malloc(8 + 256 * (100 + 65536));
    size_t n = 8, count = 0;
    memcpy(out, "\x89TSB\x01", 5);
    out[5] = many ? 2 : 1;
    while (fgets(line, sizeof line, stdin) && count < 256) {
        json_t *r = json_loads(line, 0, NULL);
        const char *a = json_string_value(json_object_get(r, "actor"));
        const char *s = json_string_value(json_object_get(r, "sig"));
        const char *b = json_string_value(json_object_get(r, "body"));
        size_t got, bl = b ? strlen(b) : 0;
        if (!a || !s || !b || tt_unb64(a, strlen(a), 0, out + n, 32, &got) != TT_OK ||
            tt_unb64(s, strlen(s), 0, out + n + 32, 64, &got) != TT_OK)
            return fprintf(stderr, "tcmtrace-sign: not a submit request: %.80s\n", line), 2;
        out[n + 96] = (uint8_t)(bl >> 24), out[n + 97] = (uint8_t)(bl >> 16);
        out[n + 98] = (uint8_t)(bl >> 8), out[n + 99] = (uint8_t)bl;
        memcpy(out + n + 100, b, bl);
        n += 100 + bl;
        count++;
        json_decref(r);
    }
    out[6] = (uint8_t)(count >> 8), out[7] = (uint8_t)count;
    fwrite(out, 1, n, stdout);
    free(out);
    return 0;
}

/* The origin events are signed for: $TCMTRACE_ORIGIN, else $TCMTRACE_DIR/log.vkey's name. */
static const char *sign_origin(void)
{
    static char o[256];
    const char *env = getenv("TCMTRACE_ORIGIN"), *dir = getenv("TCMTRACE_DIR");
    if (env)
        return strcmp(env, "v1") == 0 ? NULL : env;
    char path[4096];
    snprintf(path, sizeof path, "%s/log.vkey", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(o, sizeof o, f) == NULL || strchr(o, '+') == NULL) {
        fprintf(stderr, "tcmtrace-sign: set TCMTRACE_ORIGIN, or TCMTRACE_DIR to a ledger\n");
        exit(2);
    }
    fclose(f);
    *strchr(o, '+') = '\0';
    return o;
}

static int label_url(int argc, char **argv)
{
    tt_keypair kp;
    tt_error err;
    if (argc != 6)
        return fprintf(stderr, "usage: tcmtrace-sign --label LOGKEY BASE CODE TEXT\n"), 2;
    if (tt_secret_load(argv[2], NULL, "TCMTRACE_PASSPHRASE", &kp, &err) != TT_OK)
        return fprintf(stderr, "%s\n", err.message), 1;
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)argv[5], strlen(argv[5]));
    char token[TT_LABEL_TOKEN_LEN + 1], url[1024];
    tt_label_token(sign_origin(), argv[4], h, kp.sk, token);
    if (tt_label_url(argv[3], argv[4], token, url, sizeof url, &err) != TT_OK)
        return fprintf(stderr, "%s\n", err.message), 1;
    puts(url);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--label") == 0)
        return sodium_init() < 0 ? 1 : label_url(argc, argv);
    if (argc == 2 && (strcmp(argv[1], "--frame") == 0 || strcmp(argv[1], "--frame-many") == 0))
        return frame(strcmp(argv[1], "--frame-many") == 0);
    if (argc >= 2 && strcmp(argv[1], "--scan") == 0)
        return sodium_init() < 0 ? 1 : scan_request(argc, argv);
    tt_keypair kp;
    tt_error err;
    json_error_t jerr;
    int raw = argc == 4 && strcmp(argv[1], "--raw") == 0;
    if (raw) {
        argv++;
        argc--;
    }
    if (argc != 3 || sodium_init() < 0)
        return fprintf(stderr, "usage: tcmtrace-sign [--raw] KEYFILE FIELDS-JSON\n"), 2;
    if (tt_secret_load(argv[1], NULL, "TCMTRACE_PASSPHRASE", &kp, &err) != TT_OK)
        return fprintf(stderr, "%s\n", err.message), 1;
    char *body, *t = NULL;
    if (raw) {
        body = strdup(argv[2]);
    } else {
        json_t *fields = json_loads(argv[2], 0, &jerr);
        if (fields == NULL)
            return fprintf(stderr, "%s\n", jerr.text), 2;
        const char *type = json_string_value(json_object_get(fields, "type"));
        t = strdup(type ? type : "");
        json_object_del(fields, "type");
        body = tt_event_build(t, fields);
    }
    uint8_t sig[64];
    char pk[64], s64[100];
    const char *origin = sign_origin();
    tt_event_sign(origin, tt_bytes_str(body), kp.sk, sig);
    tt_b64((tt_bytes){32, kp.pk}, pk);
    tt_b64((tt_bytes){64, sig}, s64);
    json_t *req =
        json_pack("{s:s, s:s, s:s, s:s}", "op", "submit", "actor", pk, "sig", s64, "body", body);
    if (origin)
        json_object_set_new(req, "ledger", json_string(origin));
    char *out = json_dumps(req, JSON_COMPACT);
    puts(out);
    free(out);
    free(body);
    free(t);
    json_decref(req);
    return 0;
}
