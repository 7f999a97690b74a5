/*
 * http.c: tcmtrace-web's requests. Every path is checked on its raw form
 * (an encoded "/", backslash or NUL is refused: a path is decoded exactly
 * once and means one thing), then matched under the base URL's path:
 *
 *   /api/v1/...            REST over the library's operations; writes and
 *                          label tokens are forwarded to tcmtraced
 *   /log/checkpoint        the latest signed checkpoint
 *   /log/tile/...          C2SP tlog-tiles, computed from the store
 *
 * A request costs bounded memory: headers within libmicrohttpd's per
 * connection memory, a body within web_max_body (counted as it arrives, not
 * trusted from Content-Length), and writes within a per-address rate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tcmtrace/qrimage.h"
#include "web.h"
#include "tcmtrace/messages.h"

typedef struct request {
    char *raw;  /* the URI as it came, before any decoding */
    uintptr_t raw_at; /* where that URI stood in the request line (see method_exact) */
    char *body; /* a POST body as it arrives */
    size_t len;
    int too_large, started;
} request;

void *web_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    request *r = calloc(1, sizeof *r);
    if (r) {
        r->raw = strdup(uri ? uri : "");
        r->raw_at = (uintptr_t)uri;
    }
    return r;
}

void web_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode why)
{
    (void)why;
    /* the next request on this connection has its headers' time from now */
    web_guard_phase(cls, c, WEB_PHASE_HEADERS, 0);
    request *r = *con_cls;
    if (r) {
        free(r->raw);
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

/* ---- answers ---------------------------------------------------------------------------- */

static int accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    return ae && strstr(ae, "gzip") != NULL;
}

/* data gzip'd into a new buffer, or NULL. */
static uint8_t *gzip_of(const uint8_t *data, size_t len, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, len);
    uint8_t *out = malloc(cap);
    z.next_in = (uint8_t *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* Queues `data` (copied) with its type and caching; gzip when asked and worth it. */
static enum MHD_Result send_bytes_h(struct MHD_Connection *c, unsigned status, const void *data,
                                    size_t len, const char *type, const char *cache,
                                    const char *hname, const char *hvalue)
{
    uint8_t *gz = NULL;
    size_t glen = 0;
    if (len > 512 && accepts_gzip(c))
        gz = gzip_of(data, len, &glen);
    struct MHD_Response *resp =
        gz ? MHD_create_response_from_buffer(glen, gz, MHD_RESPMEM_MUST_FREE)
           : MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        free(gz);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", cache);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (strncmp(type, "text/html", 9) == 0) { /* the pages run only their own code */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self' "
                                "'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' "
                                "blob:; object-src 'none'; base-uri 'none'; frame-ancestors "
                                "'none'; form-action 'none'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (gz)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const void *data,
                                  size_t len, const char *type, const char *cache)
{
    return send_bytes_h(c, status, data, len, type, cache, NULL, NULL);
}

/* The HTTP status of an answer's error code. */
static unsigned status_of(const char *code)
{
    static const struct {
        const char *code;
        unsigned status;
    } map[] = {
        {"malformed", 400},    {"argument", 400},      {"range", 400},
        {"not_found", 404},    {"unknown_batch", 404}, {"unknown_actor", 404},
        {"duplicate_id", 409}, {"replay", 409},        {"exists", 409},
        {"bad_state", 409},    {"frozen", 409},        {"quantity", 409},
        {"too_large", 413},    {"busy", 503},          {"read_only", 503},
        {"nomem", 503},        {"disk_full", 507},     {"io", 500},
        {"store", 500},        {"audit", 500},         {"unavailable", 503},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].status;
    return 422; /* a rule refused it: forbidden, not_holder, unknown_herb, bad_time... */
}

static enum MHD_Result send_json(struct MHD_Connection *c, json_t *answer, const char *cache)
{
    if (answer == NULL)
        answer = tt_api_error(TT_ERR_NOMEM, "tcmtrace-web is out of memory; try again");
    unsigned status = 200;
    if (!json_is_true(json_object_get(answer, "ok")))
        status =
            status_of(json_string_value(json_object_get(json_object_get(answer, "error"), "code")));
    size_t len = 0;
    char *s = tt_json_compact(answer, JSON_COMPACT, &len);
    json_decref(answer);
    if (s == NULL)
        return MHD_NO;
    enum MHD_Result rc = send_bytes(c, status, s, len, "application/json; charset=utf-8",
                                    status == 200 ? cache : "no-store");
    free(s);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, tt_err code,
                                  const char *msg)
{
    json_t *a = tt_api_error(code, msg);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    enum MHD_Result rc = send_bytes(c, status, s ? s : "", s ? strlen(s) : 0,
                                    "application/json; charset=utf-8", "no-store");
    free(s);
    return rc;
}

/* ---- forwarding to tcmtraced -------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define DAEMON_DOWN_MS 3000 /* how long a daemon that did not answer is taken as down */

static json_t *unavailable(void)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", "unavailable", "message",
                     "the ledger's daemon (tcmtraced) is not answering; nothing was "
                     "written: try again in a moment, or ask the market office to start it");
}

/* The daemon's answer to `req` (stolen), or a 503 answer when it is down. A daemon that let a
 * request time out is taken as down for DAEMON_DOWN_MS: the requests meanwhile are answered
 * at once instead of each holding a thread for the whole timeout, and then one tries again
 * (the others still answered at once) until it answers. */
static json_t *forward(web *w, json_t *req)
{
    int64_t now = mono_ms(), until = atomic_load(&w->daemon_down_until);
    if (until != 0 &&
        (now < until || !atomic_compare_exchange_strong(&w->daemon_down_until, &until,
                                                        now + w->set.daemon_timeout_ms + 2000))) {
        json_decref(req);
        return unavailable();
    }
    char *msg = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (msg == NULL)
        return tt_api_error(TT_ERR_NOMEM, NULL);
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/api.sock", w->dir);
    int s = access(sock, F_OK) == 0 ? nn_socket(AF_SP, NN_REQ) : -1;
    int sto = 2000, rto = (int)w->set.daemon_timeout_ms;
    json_t *answer = NULL;
    int timed_out = 0;
    if (s >= 0) {
        nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &sto, sizeof sto);
        nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &rto, sizeof rto);
        char *buf = NULL;
        int n = -1;
        if (nn_connect(s, w->api_url) >= 0 && nn_send(s, msg, strlen(msg), 0) >= 0) {
            n = nn_recv(s, &buf, NN_MSG, 0);
            timed_out = n < 0 && nn_errno() == ETIMEDOUT;
        } else
            timed_out = nn_errno() == ETIMEDOUT;
        if (n > 0) {
            answer = tt_json_load(buf, (size_t)n, 0, NULL);
            nn_freemsg(buf);
        }
        nn_close(s);
    }
    free(msg);
    /* a daemon that is not there fails at once and is tried again each time; one that took
     * the whole timeout is taken as down for a while */
    atomic_store(&w->daemon_down_until, timed_out ? mono_ms() + DAEMON_DOWN_MS : 0);
    if (answer == NULL)
        answer = unavailable();
    return answer;
}

/* ---- rate limit of writes, per address ---------------------------------------------------- */

static int rate_ok(web *w, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[48];
    tt_rate_addr_key(ci ? ci->client_addr : NULL, addr);
    return tt_rate_take(&w->writes, addr);
}

/* ---- paths --------------------------------------------------------------------------------- */

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* The raw path (before '?'): printable ASCII, no backslash, no encoded '/',
 * '\\', '%', '.' or control character, no empty, "." or ".." segment. */
static int path_ok(const char *raw)
{
    size_t n = strcspn(raw, "?");
    if (n == 0 || raw[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch == '\\' || ch < 0x21 || ch >= 0x7f)
            return 0;
        if (ch == '%') {
            int hi = i + 2 < n ? hexval(raw[i + 1]) : -1, lo = i + 2 < n ? hexval(raw[i + 2]) : -1;
            int v = hi * 16 + lo;
            if (hi < 0 || lo < 0 || v < 0x20 || v == '/' || v == '\\' || v == '%' || v == '.' ||
                v == 0x7f)
                return 0;
        }
    }
    const char *seg = raw + 1, *end = raw + n;
    while (seg <= end) {
        const char *e = memchr(seg, '/', (size_t)(end - seg));
        size_t len = (size_t)((e ? e : end) - seg);
        if ((len == 0 && e) || (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (e == NULL)
            break;
        seg = e + 1;
    }
    return 1;
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

/* A query value as a non-negative integer into req[k]: 0 absent, -1 bad. */
static int int_arg(struct MHD_Connection *c, json_t *req, const char *k)
{
    const char *v = arg(c, k);
    if (v == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || n > (unsigned long long)INT64_MAX)
        return -1;
    json_object_set_new(req, k, json_integer((json_int_t)n));
    return 1;
}

static int str_arg(struct MHD_Connection *c, json_t *req, const char *k)
{
    const char *v = arg(c, k);
    if (v)
        json_object_set_new(req, k, json_string(v));
    return v != NULL;
}

/* The latest signed checkpoint's size, or 0. */
static uint64_t checkpoint_size(web *w, char **note)
{
    size_t len;
    *note = NULL;
    if (tt_ledger_checkpoint(w->ledger, UINT64_MAX, note, &len, NULL) != TT_OK)
        return 0;
    const char *nl = strchr(*note, '\n');
    return nl ? strtoull(nl + 1, NULL, 10) : 0;
}

static enum MHD_Result serve_log(web *w, struct MHD_Connection *c, const char *rest)
{
    char *note;
    if (strcmp(rest, "checkpoint") == 0) {
        /* the one the witness policy's quorum cosigned, with the cosignatures (else the latest) */
        uint64_t at;
        size_t nlen;
        int met;
        if (tt_api_checkpoint(&w->ops, 0, &at, &note, &nlen, &met, NULL) != TT_OK)
            return send_error(c, 404, TT_ERR_NOT_FOUND, "the log has no checkpoint yet");
        enum MHD_Result rc = send_bytes(c, 200, note, strlen(note), "text/plain; charset=utf-8",
                                        "public, max-age=2");
        free(note);
        return rc;
    }
    uint64_t size = checkpoint_size(w, &note);
    free(note);
    tt_tile t;
    tt_error err;
    uint8_t *data;
    size_t len;
    if (strncmp(rest, "tile/", 5) != 0 || tt_tile_parse(rest + 5, &t, &err) != TT_OK)
        return send_error(c, strncmp(rest, "tile/", 5) ? 404 : 400,
                          strncmp(rest, "tile/", 5) ? TT_ERR_NOT_FOUND : TT_ERR_MALFORMED,
                          strncmp(rest, "tile/", 5) ? "no such log resource" : err.message);
    if (tt_tile_read(w->ledger, &t, size, &data, &len, &err) != TT_OK)
        return send_error(c, err.code == TT_ERR_NOT_FOUND ? 404 : 500, err.code, err.message);
    enum MHD_Result rc = send_bytes(c, 200, data, len, "application/octet-stream",
                                    "public, max-age=31536000, immutable");
    free(data);
    return rc;
}

/* GET /api/v1/...: the request for the library's operations (NULL: no such route). */
static json_t *route_get(struct MHD_Connection *c, const char *p, int *bad, int *daemon_op)
{
    char code[72], extra[64];
    int n = 0;
    json_t *req = NULL;
    if (strcmp(p, "status") == 0)
        req = json_pack("{s:s}", "op", "status");
    else if (strcmp(p, "checkpoint") == 0) {
        req = json_pack("{s:s}", "op", "checkpoint");
        *bad |= int_arg(c, req, "size") < 0 || int_arg(c, req, "need") < 0;
    } else if (strcmp(p, "entries") == 0) {
        req = json_pack("{s:s}", "op", "log");
        *bad |= int_arg(c, req, "from") < 0 || int_arg(c, req, "limit") < 0;
    } else if (sscanf(p, "entries/%20[0-9]%n", code, &n) == 1 &&
               (p[n] == '\0' || strcmp(p + n, "/proof") == 0)) {
        req = json_pack("{s:s, s:I}", "op", p[n] ? "proof_bundle" : "entry", "seq",
                        (json_int_t)strtoll(code, NULL, 10));
        *bad |= strlen(code) > 18 || (p[n] && int_arg(c, req, "size") < 0);
    } else if (sscanf(p, "entries/%64[0-9a-fA-F]%n", code, &n) == 1 && n == 8 + 64 &&
               (p[n] == '\0' || strcmp(p + n, "/proof") == 0)) {
        /* an entry by its hash, as a submit's answer gave it: a receipt finds its entry */
        req = json_pack("{s:s, s:s}", "op", p[n] ? "proof_bundle" : "entry", "hash", code);
        *bad |= p[n] && int_arg(c, req, "size") < 0;
    } else if (strcmp(p, "proofs/inclusion") == 0) {
        req = json_pack("{s:s}", "op", "proof");
        *bad |= int_arg(c, req, "seq") <= 0 || int_arg(c, req, "size") < 0;
    } else if (strcmp(p, "proofs/consistency") == 0) {
        req = json_pack("{s:s}", "op", "consistency");
        *bad |= int_arg(c, req, "from") <= 0 || int_arg(c, req, "to") <= 0;
    } else if (strcmp(p, "batches") == 0) {
        req = json_pack("{s:s}", "op", "batches");
        str_arg(c, req, "holder"), str_arg(c, req, "herb"), str_arg(c, req, "state");
        str_arg(c, req, "origin"), str_arg(c, req, "cursor");
        str_arg(c, req, "harvest_from"), str_arg(c, req, "harvest_to");
        *bad |= int_arg(c, req, "limit") < 0;
    } else if (sscanf(p, "batches/%40[0-9 -]%n", code, &n) == 1 && p[n] == '\0') {
        req = json_pack("{s:s, s:s}", "op", "batch", "id", code);
    } else if (sscanf(p, "batches/%40[0-9 -]/%40[a-z]%n", code, extra, &n) == 2 && p[n] == '\0' &&
               (strcmp(extra, "trace") == 0 || strcmp(extra, "label") == 0 ||
                strcmp(extra, "scans") == 0 || strcmp(extra, "state") == 0)) {
        req = json_pack("{s:s, s:s}", "op", strcmp(extra, "scans") == 0 ? "scan_get" : extra, "id",
                        code);
        *daemon_op = strcmp(extra, "label") == 0; /* a label token is signed by the log key */
        if (strcmp(extra, "state") == 0)            /* under the checkpoint of size N */
            *bad |= int_arg(c, req, "size") < 0;
        if (strcmp(extra, "trace") == 0) {        /* over HTTP always a page, bounded */
            if (!str_arg(c, req, "direction"))
                json_object_set_new(req, "direction", json_string("down"));
            *bad |= int_arg(c, req, "depth") < 0 || int_arg(c, req, "cursor") < 0 ||
                    int_arg(c, req, "limit") < 0;
        }
    } else if (strcmp(p, "herbs") == 0) {
        req = json_pack("{s:s}", "op", "herbs");
    } else if (strcmp(p, "actors") == 0 && arg(c, "key")) { /* a base64 key holds '/' */
        req = json_pack("{s:s, s:s}", "op", "actor", "id", arg(c, "key"));
    } else if (strcmp(p, "actors") == 0) {
        req = json_pack("{s:s}", "op", "actors");
        str_arg(c, req, "role"), str_arg(c, req, "cursor");
        *bad |= int_arg(c, req, "limit") < 0;
    } else if (sscanf(p, "actors/%40[A-Za-z0-9_-]%n", code, &n) == 1 && p[n] == '\0') {
        req = json_pack("{s:s, s:s}", "op", "actor", "id", code);
    }
    return req;
}

/* ---- GS1 EPCIS 2.0 query: GET /api/v1/epcis/events ----------------------------------------- */

static const char *const epcis_params[] = {"EQ_bizStep",    "MATCH_epc",    "MATCH_anyEPCClass",
                                           "GE_eventTime",  "LT_eventTime", "perPage",
                                           "nextPageToken", NULL};

typedef struct epcis_args {
    const char *unknown;
} epcis_args;

static enum MHD_Result epcis_arg_seen(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind, (void)value;
    epcis_args *a = cls;
    for (size_t i = 0; epcis_params[i]; i++)
        if (strcmp(key, epcis_params[i]) == 0)
            return MHD_YES;
    if (a->unknown == NULL)
        a->unknown = key;
    return MHD_YES;
}

/* "a|b|c" as ["a","b","c"] in q[k]; 0 when empty parts. */
static int list_arg(struct MHD_Connection *c, json_t *q, const char *param, const char *k)
{
    const char *v = arg(c, param);
    if (v == NULL)
        return 1;
    json_t *a = json_array();
    for (const char *p = v;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == 0) {
            json_decref(a);
            return 0;
        }
        json_array_append_new(a, json_stringn(p, n));
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    json_object_set_new(q, k, a);
    return 1;
}

static void url_encode(char *out, size_t cap, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 4 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            out[n++] = (char)*p;
        else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
}

static enum MHD_Result serve_epcis(web *w, struct MHD_Connection *c)
{
    epcis_args ea = {NULL};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, epcis_arg_seen, &ea);
    if (ea.unknown) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "query parameter \"%.60s\" is not supported; this ledger answers EQ_bizStep, "
                 "MATCH_epc, MATCH_anyEPCClass, GE_eventTime, LT_eventTime, perPage and "
                 "nextPageToken",
                 ea.unknown);
        return send_error(c, 400, TT_ERR_MALFORMED, msg);
    }
    json_t *q = json_pack("{s:s}", "op", "epcis");
    int ok = list_arg(c, q, "EQ_bizStep", "bizStep") && list_arg(c, q, "MATCH_epc", "epc") &&
             list_arg(c, q, "MATCH_anyEPCClass", "epcClass");
    if (arg(c, "GE_eventTime"))
        json_object_set_new(q, "ge_time", json_string(arg(c, "GE_eventTime")));
    if (arg(c, "LT_eventTime"))
        json_object_set_new(q, "lt_time", json_string(arg(c, "LT_eventTime")));
    if (arg(c, "nextPageToken"))
        json_object_set_new(q, "cursor", json_string(arg(c, "nextPageToken")));
    json_t *lim = json_object();
    int per = int_arg(c, lim, "perPage");
    if (per > 0)
        json_object_set(q, "limit", json_object_get(lim, "perPage"));
    json_decref(lim);
    if (!ok || per < 0) {
        json_decref(q);
        return send_error(c, 400, TT_ERR_MALFORMED,
                          "a list parameter has an empty value (values are separated by |), or "
                          "perPage is not a whole number");
    }
    json_t *a = tt_api_read(&w->ops, q);
    json_decref(q);
    if (!json_is_true(json_object_get(a, "ok")))
        return send_json(c, a, "no-store");
    char now[32];
    tt_rfc3339_now(now);
    json_t *doc = json_pack(
        "{s:O, s:s, s:s, s:s, s:{s:{s:s, s:{s:O}}}}", "@context", json_object_get(a, "@context"),
        "type", "EPCISQueryDocument", "schemaVersion", "2.0", "creationDate", now, "epcisBody",
        "queryResults", "queryName", "SimpleEventQuery", "resultsBody", "eventList",
        json_object_get(a, "events"));
    const char *next = json_string_value(json_object_get(a, "next"));
    char *link = NULL;
    if (next) { /* the same query, from the next page on */
        size_t cap = 8192, n = 0;
        link = malloc(cap);
        if (link)
            n = (size_t)snprintf(link, cap, "<%s/api/v1/epcis/events?", w->ops.base_url);
        for (size_t i = 0; link && epcis_params[i] && n < cap - 1; i++) {
            const char *v = strcmp(epcis_params[i], "nextPageToken") == 0 ? next
                                                                          : arg(c, epcis_params[i]);
            char enc[2048];
            if (v == NULL)
                continue;
            url_encode(enc, sizeof enc, v);
            n += (size_t)snprintf(link + n, cap - n, "%s%s=%s", link[n - 1] == '?' ? "" : "&",
                                  epcis_params[i], enc);
        }
        if (link && n < cap - 16)
            snprintf(link + n, cap - n, ">; rel=\"next\"");
    }
    json_decref(a);
    size_t len = 0;
    char *s = tt_json_compact(doc, JSON_COMPACT | JSON_REAL_PRECISION(12), &len);
    json_decref(doc);
    if (s == NULL) {
        free(link);
        return MHD_NO;
    }
    enum MHD_Result rc = send_bytes_h(c, 200, s, len, "application/ld+json; charset=utf-8",
                                      "no-cache", link ? "Link" : NULL, link);
    free(s);
    free(link);
    return rc;
}

/* ---- label images: GET /api/v1/labels.png?ids=A,B&width_mm&height_mm&dpi&digital_link ------ */

#define LABELS_MAX 24
#define LABEL_PIXELS_MAX (40u * 1000u * 1000u)

/* A whole number in [lo, hi] from the query, or def when absent; -1 when bad. */
static long num_arg(struct MHD_Connection *c, const char *k, long def, long lo, long hi)
{
    const char *v = arg(c, k);
    if (v == NULL)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *v >= '0' && *v <= '9' && *end == '\0' && n >= lo && n <= hi ? n : -1;
}

static enum MHD_Result serve_labels(web *w, struct MHD_Connection *c, const char *one)
{
    char ids[LABELS_MAX][TT_CODE_LEN + 1];
    size_t n = 0;
    tt_error err;
    const char *list = one ? one : arg(c, "ids");
    long wmm = num_arg(c, "width_mm", 60, 20, 150), hmm = num_arg(c, "height_mm", 30, 10, 100);
    long dpi = num_arg(c, "dpi", 300, 100, 600), dl = num_arg(c, "digital_link", 0, 0, 1);
    if (wmm < 0 || hmm < 0 || dpi < 0 || dl < 0)
        return send_error(c, 400, TT_ERR_ARGUMENT,
                          "width_mm is 20 to 150, height_mm 10 to 100, dpi 100 to 600 and "
                          "digital_link 0 or 1, each a whole number");
    if (list == NULL || *list == '\0')
        return send_error(c, 400, TT_ERR_ARGUMENT,
                          "name the lots to label: ids=CODE or ids=CODE,CODE,... (at most 24)");
    for (const char *p = list; *p;) {
        char one_code[48];
        size_t len = strcspn(p, ",");
        if (n == LABELS_MAX || len == 0 || len >= sizeof one_code)
            return send_error(c, 400, TT_ERR_ARGUMENT,
                              "ids is 1 to 24 trace codes separated by commas");
        memcpy(one_code, p, len);
        one_code[len] = '\0';
        if (tt_code_parse(one_code, ids[n], &err) != TT_OK)
            return send_error(c, 400, err.code, err.message);
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    qr_geometry g = {(double)wmm, (double)hmm, (int)dpi};
    int lw, lh, cols = n < 3 ? (int)n : 3, rows = (int)((n + 2) / 3);
    qr_label_size(&g, &lw, &lh);
    if ((uint64_t)lw * (uint64_t)cols * (uint64_t)lh * (uint64_t)rows > LABEL_PIXELS_MAX)
        return send_error(c, 400, TT_ERR_TOO_LARGE,
                          "that sheet is over 40 million pixels: print fewer labels at a time, "
                          "or a lower dpi");
    if (!rate_ok(w, c))
        return send_error(c, 429, TT_ERR_BUSY,
                          "too many labels or writes from this address; wait a second and ask "
                          "again");
    qr_image img = {0, 0, NULL};
    if (qr_image_new(&img, lw * cols, lh * rows) != 0)
        return send_error(c, 503, TT_ERR_NOMEM, "not enough memory for that sheet; try again");
    char base[300], msg[600] = "";
    unsigned status = 200;
    tt_err code = TT_OK;
    if (*w->ops.base_url)
        snprintf(base, sizeof base, "%s", w->ops.base_url);
    else
        snprintf(base, sizeof base, "https://%s", w->ops.origin);
    for (size_t i = 0; i < n && code == TT_OK; i++) {
        json_t *la = forward(w, json_pack("{s:s, s:s}", "op", "label", "id", ids[i]));
        json_t *breq = json_pack("{s:s, s:s}", "op", "batch", "id", ids[i]);
        json_t *ba = tt_api_read(&w->ops, breq); /* the request stays the caller's */
        json_decref(breq);
        json_t *b = json_object_get(ba, "batch");
        const char *token = json_string_value(json_object_get(la, "token"));
        const char *gtin = json_string_value(json_object_get(b, "gtin"));
        char url[TT_LABEL_URL_MAX];
        json_t *bad = !json_is_true(json_object_get(la, "ok"))   ? la
                      : !json_is_true(json_object_get(ba, "ok")) ? ba
                                                                 : NULL;
        if (bad) {
            json_t *e = json_object_get(bad, "error");
            const char *cn = json_string_value(json_object_get(e, "code"));
            code = cn && tt_err_from_name(cn) != TT_ERR_COUNT_ ? tt_err_from_name(cn) : TT_ERR_IO;
            snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(e, "message")));
            status = code == TT_ERR_UNKNOWN_BATCH ? 404 : 503;
        } else if (dl && gtin == NULL) {
            code = TT_ERR_ARGUMENT, status = 400;
            snprintf(msg, sizeof msg,
                     "batch %s carries no GTIN, so it has no GS1 Digital Link; label it without "
                     "digital_link",
                     ids[i]);
        } else if ((dl ? tt_label_dl_url(base, gtin, ids[i], token, url, sizeof url, &err)
                       : tt_label_url(base, ids[i], token, url, sizeof url, &err)) != TT_OK) {
            code = err.code, status = 400;
            snprintf(msg, sizeof msg, "%s", err.message);
        } else if (qr_module_dots(&g, url) < 3) {
            code = TT_ERR_ARGUMENT, status = 400;
            snprintf(msg, sizeof msg,
                     "at %ld × %ld mm and %ld dpi a QR module is under 3 printer dots and will not "
                     "scan after a thermal printer's blur: make the label taller or the dpi higher",
                     wmm, hmm, dpi);
        } else {
            qr_label_strings t;
            qr_label_of_batch(b, &t);
            if (qr_draw_label(&img, (int)(i % 3) * lw, (int)(i / 3) * lh, &g, url, &t.text, msg,
                              sizeof msg) != 0)
                code = TT_ERR_IO, status = 503;
        }
        json_decref(la);
        json_decref(ba);
    }
    char *png = NULL;
    size_t len = 0;
    if (code == TT_OK && qr_png_bytes(&img, (int)dpi, &png, &len) != 0)
        code = TT_ERR_NOMEM, status = 503, snprintf(msg, sizeof msg, "the PNG could not be made");
    qr_image_free(&img);
    if (code != TT_OK)
        return send_error(c, status, code, msg);
    enum MHD_Result rc = send_bytes(c, 200, png, len, "image/png", "no-store");
    free(png);
    return rc;
}

/* GET /api/v1/keys/qr.png?key=<base64 Ed25519 public key>: a stall's public key as a QR
 * symbol holding "tcmtrace-key:v1:<key>:<check digits>" (tt_key_qr_text), for the market
 * office to enroll from the trader's screen (`actor enroll --pubkey-photo`). */
static enum MHD_Result serve_key_qr(struct MHD_Connection *c)
{
    const char *k = arg(c, "key");
    uint8_t pk[32];
    size_t n = 0;
    if (k == NULL || strlen(k) != 44 || tt_unb64(k, 44, 0, pk, sizeof pk, &n) != TT_OK || n != 32)
        return send_error(c, 400, TT_ERR_ARGUMENT,
                          "key is an Ed25519 public key in base64 (44 characters)");
    qr_image img;
    char *png = NULL, text[TT_KEY_QR_MAX];
    size_t len = 0;
    tt_key_qr_text(pk, text); /* a scanner knows it for a key, with its check digits */
    if (qr_symbol_image(text, 8, &img) != 0)
        return send_error(c, 503, TT_ERR_NOMEM, "the symbol could not be drawn");
    int bad = qr_png_bytes(&img, 300, &png, &len);
    qr_image_free(&img);
    if (bad)
        return send_error(c, 503, TT_ERR_NOMEM, "the PNG could not be made");
    enum MHD_Result rc = send_bytes(c, 200, png, len, "image/png", "public, max-age=86400");
    free(png);
    return rc;
}

/* POST /api/v1/events and /api/v1/scans: what goes to the daemon. */
static json_t *route_post(const char *p, json_t *body, const char **why)
{
    if (strcmp(p, "events") == 0) {
        if (json_is_array(body))
            return json_pack("{s:s, s:O}", "op", "submit_many", "events", body);
        if (!json_is_object(body)) {
            *why = "the body is one signed event {actor, sig, body} or an array of them";
            return NULL;
        }
        json_t *r = json_deep_copy(body);
        json_object_set_new(r, "op", json_string("submit"));
        return r;
    }
    if (strcmp(p, "scans") == 0) {
        if (!json_is_object(body)) {
            *why = "the body is a scan {id} or a signed scan {id, actor, sig, body}";
            return NULL;
        }
        json_t *r = json_deep_copy(body);
        json_object_set_new(r, "op", json_string("scan"));
        return r;
    }
    return NULL;
}

static enum MHD_Result serve_api(web *w, struct MHD_Connection *c, const char *method,
                                 const char *p, request *r)
{
    int bad = 0, daemon_op = 0;
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        strcmp(p, "epcis/events") == 0)
        return serve_epcis(w, c);
    char one[48];
    int used = 0;
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        strcmp(p, "keys/qr.png") == 0)
        return serve_key_qr(c);
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) && strcmp(p, "messages") == 0) {
        /* the message table the CLI prints from, for the pages (tcmtrace/messages.h) */
        char *m = tt_messages_json();
        if (m == NULL)
            return send_error(c, 503, TT_ERR_NOMEM, "the message table could not be made");
        enum MHD_Result rc = send_bytes(c, 200, m, strlen(m), "application/json; charset=utf-8",
                                        "public, max-age=3600");
        free(m);
        return rc;
    }
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        strcmp(p, "labels.png") == 0)
        return serve_labels(w, c, NULL);
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        sscanf(p, "batches/%40[0-9 -]/label.png%n", one, &used) == 1 && p[used] == '\0')
        return serve_labels(w, c, one);
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        json_t *req = route_get(c, p, &bad, &daemon_op);
        if (req == NULL)
            return send_error(c, 404, TT_ERR_NOT_FOUND,
                              "no such API resource; see schemas/api/openapi.yaml");
        if (bad) {
            json_decref(req);
            return send_error(c, 400, TT_ERR_MALFORMED,
                              "a number in the path or query is missing, negative, not whole or "
                              "too large");
        }
        char op[32];
        snprintf(op, sizeof op, "%s", json_string_value(json_object_get(req, "op")));
        if (strcmp(op, "scan_get") == 0) {
            json_t *rec;
            tt_error err;
            const char *id = json_string_value(json_object_get(req, "id"));
            tt_err rc = tt_scan_get(w->ledger, id, &rec, &err);
            json_decref(req);
            if (rc == TT_ERR_NOT_FOUND && strstr(err.message, "scanned"))
                return send_json(c,
                                 json_pack("{s:b, s:{s:i, s:i, s:i}}", "ok", 1, "scan", "count", 0,
                                           "anonymous", 0, "signed", 0),
                                 "no-store");
            return send_json(c,
                             rc == TT_OK ? json_pack("{s:b, s:o}", "ok", 1, "scan", rec)
                                         : tt_api_error(err.code, err.message),
                             "no-store");
        }
        json_t *a = daemon_op ? forward(w, req) : tt_api_read(&w->ops, req);
        if (!daemon_op)
            json_decref(req);
        if (strcmp(op, "proof_bundle") == 0 && json_is_true(json_object_get(a, "ok"))) {
            const char *b = json_string_value(json_object_get(a, "bundle"));
            enum MHD_Result rc =
                send_bytes(c, 200, b, strlen(b), "text/plain; charset=utf-8", "public, max-age=60");
            json_decref(a);
            return rc;
        }
        return send_json(c, a, "no-cache");
    }
    if (strcmp(method, "POST") != 0)
        return send_error(c, 405, TT_ERR_ARGUMENT,
                          "this resource takes GET, or POST for events and scans");
    if (!rate_ok(w, c))
        return send_error(c, 429, TT_ERR_BUSY,
                          "too many writes from this address; wait a second and send again");
    json_error_t jerr;
    json_t *body = tt_json_load(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL)
        return send_error(c, 400, TT_ERR_MALFORMED, "the body is not valid JSON");
    const char *why = "no such API resource; see schemas/api/openapi.yaml";
    json_t *req = route_post(p, body, &why);
    json_decref(body);
    if (req == NULL)
        return send_error(c, strstr(why, "resource") ? 404 : 400,
                          strstr(why, "resource") ? TT_ERR_NOT_FOUND : TT_ERR_MALFORMED, why);
    return send_json(c, forward(w, req), "no-store");
}

/* ---- pages and their assets ---------------------------------------------------------------- */

char *web_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, 65536, f);
        n += got;
    } while (got > 0 && n < (4u << 20));
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    return !dot                        ? "application/octet-stream"
           : strcmp(dot, ".js") == 0   ? "text/javascript; charset=utf-8"
           : strcmp(dot, ".css") == 0  ? "text/css; charset=utf-8"
           : strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
           : strcmp(dot, ".svg") == 0  ? "image/svg+xml"
           : strcmp(dot, ".png") == 0  ? "image/png"
                                       : "application/octet-stream";
}

/* A file name of [a-z0-9._-] with no leading dot: nothing else is served. */
static int plain_name(const char *s)
{
    if (*s == '\0' || *s == '.' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

/* Whether s ends in ".js": the module itself, never its .map, .d.ts or package.json. */
static int is_js(const char *s)
{
    size_t n = strlen(s);
    return n > 3 && strcmp(s + n - 3, ".js") == 0;
}

/* A pinned module the pages fall back on: assets/noble/ed25519.js,
 * assets/noble/hashes/<file>.js and assets/noble/ciphers/<file>.js (the
 * stall page's key backup), the npm packages' own files. */
static enum MHD_Result serve_asset(web *w, struct MHD_Connection *c, const char *rest)
{
    char path[8400];
    if (strncmp(rest, "noble/hashes/", 13) == 0 && plain_name(rest + 13) && is_js(rest))
        snprintf(path, sizeof path, "%s/@noble/hashes/%s", w->modules, rest + 13);
    else if (strncmp(rest, "noble/ciphers/", 14) == 0 && plain_name(rest + 14) && is_js(rest))
        snprintf(path, sizeof path, "%s/@noble/ciphers/%s", w->modules, rest + 14);
    else if (strcmp(rest, "noble/ed25519.js") == 0)
        snprintf(path, sizeof path, "%s/@noble/ed25519/index.js", w->modules);
    else if (plain_name(rest))
        snprintf(path, sizeof path, "%s/assets/%s", w->pages, rest);
    else
        return send_error(c, 404, TT_ERR_NOT_FOUND, "no such asset");
    size_t len;
    char *data = *w->pages ? web_read_file(path, &len) : NULL;
    if (data == NULL)
        return send_error(c, 404, TT_ERR_NOT_FOUND, "no such asset");
    enum MHD_Result rc = send_bytes(c, 200, data, len, type_of(rest), "public, max-age=300");
    free(data);
    return rc;
}

/* The page a phone opens from a label: the shell, with what it verifies
 * against (the log's verifier key) and where the ledger lives. */
static enum MHD_Result serve_page(web *w, struct MHD_Connection *c, const char *code,
                                  const char *file)
{
    char path[4500];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", w->pages, file);
    char *tpl = *w->pages && strlen(code) <= 40 ? web_read_file(path, &len) : NULL;
    if (tpl == NULL)
        return send_error(c, 404, TT_ERR_NOT_FOUND, "no such page");
    char fresh[16];
    snprintf(fresh, sizeof fresh, "%u", w->set.fresh_s);
    const char *keys[] = {"{{LOG_KEY}}", "{{ORIGIN}}", "{{BASE_URL}}", "{{PREFIX}}", "{{FRESH}}"};
    const char *vals[] = {w->ops.vkey, w->ops.origin, w->ops.base_url, w->prefix, fresh};
    size_t cap = len + 4096, n = 0;
    char *out = malloc(cap);
    for (const char *p = tpl; out && *p;) {
        int hit = 0;
        for (int k = 0; k < 5 && !hit; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(p, keys[k], kl) == 0) { /* values are ASCII without < > " & */
                n += (size_t)snprintf(out + n, cap - n, "%s", vals[k]);
                p += kl;
                hit = 1;
            }
        }
        if (!hit && n + 1 < cap)
            out[n++] = *p++;
        else if (!hit)
            break;
    }
    free(tpl);
    if (out == NULL)
        return MHD_NO;
    out[n] = '\0';
    enum MHD_Result rc = send_bytes(c, 200, out, n, "text/html; charset=utf-8", "no-cache");
    free(out);
    return rc;
}

/* Whether the request line's method is exactly the string libmicrohttpd hands over.
 * It splits the line at its first space and ends the method there with a NUL, so a
 * method holding a NUL of its own ("GET\0 /x") would read as "GET". Both the method and
 * the URI the log callback saw point into that one line: between the method's end and
 * the URI there must be the NUL that replaced the space, then spaces only. Anything
 * else (another layout included) is refused, never guessed. */
static int method_exact(const char *method, uintptr_t raw_at)
{
    size_t n = strlen(method);
    uintptr_t end = (uintptr_t)method + n;
    if (raw_at <= end || raw_at - end > 64)
        return 0;
    for (const char *q = method + n + 1; (uintptr_t)q < raw_at; q++)
        if (*q != ' ')
            return 0;
    return n > 0;
}

enum MHD_Result web_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                           const char *version, const char *upload, size_t *upload_size,
                           void **con_cls)
{
    (void)version;
    web *w = cls;
    request *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    if (!r->started) {
        /* the first call: headers only. Answering now would cost the keep-alive. */
        r->started = 1;
        if (!method_exact(method, r->raw_at))
            return send_error(c, 400, TT_ERR_MALFORMED,
                              "the request's method holds a byte a method may not; send GET, HEAD or POST");
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "POST") != 0)
            return send_error(c, 405, TT_ERR_ARGUMENT, "this server answers GET, HEAD and POST only");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        /* from here the body has its own deadline (its length at the least rate), a GET's answer its */
        if (strcmp(method, "POST") == 0)
            web_guard_phase(w, c, WEB_PHASE_BODY, cl ? strtoull(cl, NULL, 10) : w->set.max_body);
        else
            web_guard_phase(w, c, WEB_PHASE_ANSWER, 0);
        if (cl && strtoull(cl, NULL, 10) > w->set.max_body) {
            /* refused before a byte of it is read */
            char msg[128];
            snprintf(msg, sizeof msg, "the body is larger than %u bytes", w->set.max_body);
            return send_error(c, 413, TT_ERR_TOO_LARGE, msg);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* the body as it arrives, never more than web_max_body */
        if (!r->too_large && r->len + *upload_size <= w->set.max_body) {
            char *nb = realloc(r->body, r->len + *upload_size + 1);
            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + r->len, upload, *upload_size);
            r->body = nb;
            r->len += *upload_size;
        } else {
            r->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    web_guard_phase(w, c, WEB_PHASE_ANSWER, 0);
    if (r->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than %u bytes", w->set.max_body);
        return send_error(c, 413, TT_ERR_TOO_LARGE, msg);
    }
    if (!path_ok(r->raw) || strlen(url) > 512)
        return send_error(c, 400, TT_ERR_MALFORMED,
                          "the path holds an encoded /, a backslash, a NUL or a dot segment");
    size_t pl = strlen(w->prefix);
    /* the base URL itself: the market's landing page */
    if (pl > 0 && strcmp(url, w->prefix) == 0 && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return serve_page(w, c, "", "b.html");
    if (strncmp(url, w->prefix, pl) != 0 || url[pl] != '/')
        return send_error(c, 404, TT_ERR_NOT_FOUND,
                          "nothing here; the ledger is served under its base URL");
    const char *p = url + pl + 1;
    if (strncmp(p, "api/v1/", 7) == 0)
        return serve_api(w, c, method, p + 7, r);
    if (strncmp(p, "log/", 4) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_error(c, 405, TT_ERR_ARGUMENT, "the log is read with GET");
        return serve_log(w, c, p + 4);
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        if (*p == '\0')
            return serve_page(w, c, "", "b.html");
        if (strncmp(p, "b/", 2) == 0 && strchr(p + 2, '/') == NULL)
            return serve_page(w, c, p + 2, "b.html");
        /* GS1 Digital Link: /01/<GTIN-14>/10/<trace code>, the same page */
        char gtin[15];
        if (strncmp(p, "01/", 3) == 0 && strlen(p) > 21 && strncmp(p + 17, "/10/", 4) == 0 &&
            strchr(p + 21, '/') == NULL) {
            memcpy(gtin, p + 3, 14);
            gtin[14] = '\0';
            if (!tt_gtin_valid(gtin))
                return send_error(c, 404, TT_ERR_NOT_FOUND,
                                  "this GS1 Digital Link's GTIN has a wrong check digit");
            return serve_page(w, c, p + 21, "b.html");
        }
        if (strncmp(p, "assets/", 7) == 0)
            return serve_asset(w, c, p + 7);
        /* the trader's page: keys made and kept in the browser, events signed there */
        if (strcmp(p, "stall/") == 0 || strcmp(p, "stall") == 0)
            return serve_page(w, c, "", "stall.html");
    }
    return send_error(c, 404, TT_ERR_NOT_FOUND, "no such page");
}
