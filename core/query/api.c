/*
 * api.c: the operations of the API (DESIGN §5), transport-free: a request
 * (a JSON object with "op") in, an answer out, over a ledger handle. The
 * daemon serves them over nanomsg and tcmtrace-web over HTTP, so the two
 * can never disagree. Every answer is {"ok":true,...} or
 * {"ok":false,"error":{"code","message"}}; schemas/api/ has them all.
 * Submits are not here: checking and appending them is the writer's.
 */
#include "tcmtrace/api.h"
#include "tcmtrace/epcis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/tcmtrace.h"

json_t *tt_api_error(tt_err code, const char *message)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", tt_err_name(code), "message",
                     message && *message ? message : tt_strerror(code));
}

tt_err tt_api_init(tt_api *a, tt_ledger *l, tt_error *err)
{
    char *origin = NULL, *vkey = NULL;
    size_t len;
    memset(a, 0, sizeof *a);
    a->ledger = l;
    tt_err rc = tt_ledger_meta_get(l, "origin", &origin, &len, err);
    if (rc == TT_OK)
        rc = tt_ledger_meta_get(l, "log_vkey", &vkey, &len, err);
    if (rc == TT_OK) {
        snprintf(a->origin, sizeof a->origin, "%s", origin);
        snprintf(a->vkey, sizeof a->vkey, "%s", vkey);
    }
    free(origin);
    free(vkey);
    json_t *g = NULL;
    const char *u = NULL;
    if (rc == TT_OK && tt_state_genesis(l, &g, NULL) == TT_OK)
        u = json_string_value(json_object_get(g, "base_url"));
    if (u)
        snprintf(a->base_url, sizeof a->base_url, "%s", u);
    else
        snprintf(a->base_url, sizeof a->base_url, "https://%s", a->origin);
    json_decref(g);
    return rc;
}

static json_t *fail(tt_err code, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    return tt_api_error(code, msg);
}

static json_t *from_err(const tt_error *e)
{
    return tt_api_error(e->code, e->message);
}

/* A non-negative integer field; -1 when absent, -2 when of the wrong kind. */
static int64_t uint_field(json_t *req, const char *k)
{
    json_t *v = json_object_get(req, k);
    if (v == NULL)
        return -1;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -2;
    return (int64_t)json_integer_value(v);
}

static json_t *b64_json(const uint8_t *data, size_t len)
{
    char *b = malloc(tt_b64_len(len));
    if (b == NULL)
        return NULL; /* the answer cannot be made: nomem */
    tt_b64((tt_bytes){len, data}, b);
    json_t *s = json_string(b);
    free(b);
    return s;
}

static json_t *proof_json(const tt_hash *proof, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, b64_json(proof[i], TT_HASH_SIZE));
    return a;
}

static json_t *op_status(const tt_api *s)
{
    uint64_t size = 0;
    uint8_t last[32];
    char hex[65];
    tt_ledger_head(s->ledger, &size, last, NULL);
    tt_hex((tt_bytes){32, last}, hex);
    json_t *r =
        json_pack("{s:b, s:s, s:s, s:s, s:I, s:s}", "ok", 1, "version", TT_VERSION, "origin",
                  s->origin, "log_key", s->vkey, "size", (json_int_t)size, "last_hash", hex);
    if (r)
        json_object_set_new(r, "base_url", json_string(s->base_url));
    if (r && s->status)
        s->status(s->status_ctx, r);
    return r;
}

static json_t *op_batch(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    json_t *b, *ev;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (a trace code) is missing%s", "");
    if (tt_state_batch(s->ledger, id, &b, &err) != TT_OK)
        return from_err(&err);
    const char *code = json_string_value(json_object_get(b, "id"));
    json_t *kids = NULL;
    size_t total = 0; /* the first children; all of them: the paged trace */
    if (tt_state_children(s->ledger, code, 1000, &kids, &total, &err) == TT_OK) {
        json_object_set_new(b, "children", kids);
        json_object_set_new(b, "children_total", json_integer((json_int_t)total));
    }
    size_t nev = 0;
    if (tt_state_batch_events_bounded(s->ledger, code, &ev, &nev, &err) != TT_OK)
        ev = json_array();
    json_t *r = json_pack("{s:b, s:o, s:o, s:I}", "ok", 1, "batch", b, "events", ev,
                          "events_total", (json_int_t)nev);
    /* a lot with a long history: its first and newest events, and how many are left out */
    if (r && nev > json_array_size(ev))
        json_object_set_new(r, "events_omitted", json_integer((json_int_t)(nev - json_array_size(ev))));
    return r;
}

static json_t *op_trace(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    json_t *t;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (a trace code) is missing%s", "");
    const char *dir = json_string_value(json_object_get(req, "direction"));
    int64_t depth = uint_field(req, "depth"), cursor = uint_field(req, "cursor"),
            limit = uint_field(req, "limit");
    if (json_object_get(req, "direction") && (!dir || (strcmp(dir, "up") && strcmp(dir, "down"))))
        return fail(TT_ERR_MALFORMED, "\"direction\" is up or down%s", "");
    if (depth == -2 || cursor == -2 || limit == -2)
        return fail(TT_ERR_MALFORMED,
                    "\"depth\", \"cursor\" and \"limit\" are non-negative integers%s", "");
    if (dir || depth >= 0 || cursor >= 0 || limit >= 0) { /* a page */
        if (tt_trace_page(s->ledger, id, dir && strcmp(dir, "up") == 0,
                          depth < 0 ? 0 : (unsigned)(depth > 64 ? 64 : depth),
                          cursor < 0 ? 0 : (size_t)cursor, limit < 0 ? 100 : (size_t)limit, &t,
                          &err) != TT_OK)
            return from_err(&err);
        return json_pack("{s:b, s:o}", "ok", 1, "trace", t);
    }
    if (tt_trace(s->ledger, id, &t, &err) != TT_OK)
        return from_err(&err);
    return json_pack("{s:b, s:o}", "ok", 1, "trace", t);
}

static json_t *entry_json(const tt_api *s, uint64_t seq, tt_error *err)
{
    uint8_t *data, h[32];
    size_t len;
    tt_entry e;
    char hex[65];
    if (tt_ledger_entry(s->ledger, seq, &data, &len, err) != TT_OK)
        return NULL;
    if (tt_entry_decode((tt_bytes){len, data}, &e, err) != TT_OK) {
        free(data);
        return NULL;
    }
    tt_entry_hash((tt_bytes){len, data}, h);
    tt_hex((tt_bytes){32, h}, hex);
    char by[33] = "";
    tt_state_actor_of_key(s->ledger, e.actor, by, NULL);
    json_t *j =
        json_pack("{s:I, s:I, s:s, s:o, s:o, s:s#, s:s, s:o}", "seq", (json_int_t)e.seq, "time_ms",
                  (json_int_t)e.time_ms, "hash", hex, "actor", b64_json(e.actor, 32), "sig",
                  b64_json(e.sig, 64), "body", (const char *)e.body.data, (int)e.body.size, "by",
                  by, "entry", b64_json(data, len));
    free(data);
    return j;
}

/* The entry a request names: by "seq", or by "hash", its entry hash in hex (what a submit's
 * answer and the feed give, so a receipt finds its entry). -1 with *why set when the request
 * names none. */
static int64_t entry_named(const tt_api *s, json_t *req, json_t **why)
{
    json_t *h = json_object_get(req, "hash");
    int64_t seq = uint_field(req, "seq");
    *why = NULL;
    if (h == NULL) {
        if (seq < 0)
            *why =
                fail(TT_ERR_MALFORMED,
                     "\"seq\" must be a non-negative integer (or give the entry's \"hash\")%s", "");
        return *why ? -1 : seq;
    }
    const char *hex = json_string_value(h);
    uint8_t hash[TT_HASH_SIZE];
    uint64_t found = 0;
    tt_error err;
    if (seq != -1)
        *why = fail(TT_ERR_MALFORMED, "give \"seq\" or \"hash\", not both%s", "");
    else if (hex == NULL || strlen(hex) != 2 * TT_HASH_SIZE ||
             tt_unhex(hex, hash, TT_HASH_SIZE) != TT_OK)
        *why = fail(TT_ERR_MALFORMED,
                    "\"hash\" must be an entry hash: 64 hexadecimal digits, as a submit's answer "
                    "gives it%s",
                    "");
    else if (tt_ledger_find_hash(s->ledger, hash, &found, &err) != TT_OK)
        *why = err.code == TT_ERR_NOT_FOUND
                   ? fail(TT_ERR_NOT_FOUND,
                          "no entry of this ledger has the hash %.64s; check it, or the ledger "
                          "it came from",
                          hex)
                   : from_err(&err);
    return *why ? -1 : (int64_t)found;
}

static json_t *op_entry(const tt_api *s, json_t *req)
{
    json_t *why;
    int64_t seq = entry_named(s, req, &why);
    tt_error err;
    if (seq < 0)
        return why;
    json_t *e = entry_json(s, (uint64_t)seq, &err);
    if (e == NULL)
        return from_err(&err);
    json_object_set_new(e, "ok", json_true());
    return e;
}

#define LOG_ANSWER_BYTES (1u << 20)

static json_t *op_log(const tt_api *s, json_t *req)
{
    int64_t from = uint_field(req, "from"), limit = uint_field(req, "limit");
    uint64_t size = 0;
    if (from == -2 || limit == -2)
        return fail(TT_ERR_MALFORMED, "\"from\" and \"limit\" must be non-negative integers%s", "");
    tt_ledger_head(s->ledger, &size, NULL, NULL);
    if (limit < 0 || limit > 1000)
        limit = limit < 0 ? 50 : 1000;
    if (from < 0)
        from = size > (uint64_t)limit ? (int64_t)(size - (uint64_t)limit) : 0;
    json_t *arr = json_array();
    size_t bytes = 0; /* an answer is bounded in bytes, not only in entries */
    uint64_t i = (uint64_t)from;
    for (; i < size && i < (uint64_t)(from + limit) && bytes < LOG_ANSWER_BYTES; i++) {
        json_t *e = entry_json(s, i, NULL);
        if (e) {
            json_object_del(e, "entry");
            json_object_del(e, "sig");
            bytes += json_string_length(json_object_get(e, "body")) + 200;
            json_array_append_new(arr, e);
        }
    }
    json_t *r = json_pack("{s:b, s:I, s:o}", "ok", 1, "size", (json_int_t)size, "entries", arr);
    json_object_set_new(r, "next", i < size ? json_integer((json_int_t)i) : json_null());
    return r;
}

/* The size of a checkpoint note, from its text. */
static tt_err note_size(const char *note, size_t len, uint64_t *size, tt_error *err)
{
    tt_checkpoint cp;
    size_t text = 0;
    if (tt_note_split((tt_bytes){len, (const uint8_t *)note}, &text, err) != TT_OK ||
        tt_checkpoint_parse((tt_bytes){text, (const uint8_t *)note}, &cp, err) != TT_OK)
        return TT_ERR_STORE;
    *size = cp.size;
    return TT_OK;
}

tt_err tt_api_checkpoint(const tt_api *s, uint64_t need, uint64_t *size, char **note, size_t *len,
                         int *met, tt_error *err)
{
    json_t *rec = NULL;
    tt_policy *pol = NULL;
    *met = -1;
    if (tt_state_witnesses(s->ledger, &rec, NULL) == TT_OK) {
        const char *text = json_string_value(json_object_get(rec, "policy"));
        pol = malloc(sizeof *pol);
        if (pol && (text == NULL || tt_policy_parse(text, strlen(text), pol, NULL) != TT_OK)) {
            free(pol);
            pol = NULL;
        }
        json_decref(rec);
    }
    if (pol != NULL) {
        /* the largest checkpoint the quorum cosigned, if it holds what is to be proved */
        uint64_t below = UINT64_MAX, at;
        *met = 0;
        for (int tries = 0; tries < 64; tries++) {
            char *n;
            size_t l;
            if (tt_ledger_cosigned_below(s->ledger, below, &at, &n, &l, NULL) != TT_OK)
                break;
            if (at < need) {
                free(n);
                break;
            }
            int cosigned[TT_POLICY_MAX], ok = 0;
            if (tt_policy_check(pol, n, l, cosigned, NULL, &ok, NULL) == TT_OK && ok) {
                free(pol);
                *met = 1;
                *size = at;
                *note = n;
                *len = l;
                return TT_OK;
            }
            free(n);
            below = at;
        }
        free(pol);
    }
    char *latest;
    size_t l;
    tt_err rc = tt_ledger_checkpoint(s->ledger, UINT64_MAX, &latest, &l, err);
    if (rc != TT_OK)
        return rc;
    rc = note_size(latest, l, size, err);
    free(latest);
    if (rc != TT_OK)
        return rc;
    return tt_ledger_cosigned(s->ledger, *size, note, len, err);
}

/* The checkpoint to prove against: the size asked for, else tt_api_checkpoint's (one that
 * holds entry need - 1), with the cosignatures kept for it. */
static tt_err proof_size(const tt_api *s, json_t *req, uint64_t need, uint64_t *size, char **note,
                         tt_error *err)
{
    int64_t want = uint_field(req, "size");
    size_t len;
    int met;
    if (want == -2)
        return tt_fail(err, TT_ERR_MALFORMED, "\"size\" must be a non-negative integer");
    if (want < 0)
        return tt_api_checkpoint(s, need, size, note, &len, &met, err);
    tt_err rc = tt_ledger_cosigned(s->ledger, (uint64_t)want, note, &len, err);
    if (rc != TT_OK)
        return rc;
    if (note_size(*note, len, size, err) != TT_OK) {
        free(*note);
        return TT_ERR_STORE;
    }
    return TT_OK;
}

static json_t *op_proof(const tt_api *s, json_t *req)
{
    int64_t seq = uint_field(req, "seq");
    uint64_t size;
    char *note;
    tt_hash proof[TT_MERKLE_PROOF_MAX];
    size_t n;
    tt_error err;
    if (seq < 0)
        return fail(TT_ERR_MALFORMED, "\"seq\" must be a non-negative integer%s", "");
    if (proof_size(s, req, (uint64_t)seq + 1, &size, &note, &err) != TT_OK)
        return from_err(&err);
    json_t *r;
    if (tt_ledger_inclusion_proof(s->ledger, (uint64_t)seq, size, proof, &n, &err) != TT_OK)
        r = from_err(&err);
    else
        r = json_pack("{s:b, s:I, s:I, s:o, s:s}", "ok", 1, "seq", (json_int_t)seq, "size",
                      (json_int_t)size, "proof", proof_json(proof, n), "checkpoint", note);
    free(note);
    return r;
}

static json_t *op_consistency(const tt_api *s, json_t *req)
{
    int64_t from = uint_field(req, "from"), to = uint_field(req, "to");
    tt_hash proof[TT_MERKLE_PROOF_MAX];
    size_t n;
    tt_error err;
    if (from < 0 || to < 0)
        return fail(TT_ERR_MALFORMED, "\"from\" and \"to\" must be non-negative integers%s", "");
    if (tt_ledger_consistency_proof(s->ledger, (uint64_t)from, (uint64_t)to, proof, &n, &err) !=
        TT_OK)
        return from_err(&err);
    return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "from", (json_int_t)from, "to",
                     (json_int_t)to, "proof", proof_json(proof, n));
}

static json_t *op_checkpoint(const tt_api *s, json_t *req)
{
    uint64_t size;
    char *note;
    tt_error err;
    int64_t need = uint_field(req, "need"); /* entries it must hold at least */
    if (need == -2)
        return fail(TT_ERR_MALFORMED, "\"need\" must be a non-negative integer%s", "");
    if (proof_size(s, req, need > 0 ? (uint64_t)need : 0, &size, &note, &err) != TT_OK)
        return from_err(&err);
    json_t *r = json_pack("{s:b, s:I, s:s, s:s}", "ok", 1, "size", (json_int_t)size, "checkpoint",
                          note, "log_key", s->vkey);
    /* the policy the checkpoint is to meet, from the ledger: a client checks it itself */
    json_t *rec;
    if (tt_state_witnesses(s->ledger, &rec, NULL) == TT_OK) {
        tt_policy *pol = malloc(sizeof *pol);
        const char *text = json_string_value(json_object_get(rec, "policy"));
        int cosigned[TT_POLICY_MAX] = {0}, met = 0;
        if (pol && text && tt_policy_parse(text, strlen(text), pol, NULL) == TT_OK &&
            tt_policy_check(pol, note, strlen(note), cosigned, NULL, &met, NULL) == TT_OK) {
            unsigned n = 0;
            for (size_t i = 0; i < pol->nwitness; i++)
                n += (unsigned)cosigned[i];
            json_object_set_new(r, "witnesses",
                                json_pack("{s:s, s:O, s:i, s:i, s:b}", "policy", text, "seq",
                                          json_object_get(rec, "seq"), "cosigned", (int)n,
                                          "required", (int)tt_policy_required(pol), "met", met));
        }
        free(pol);
        json_decref(rec);
    }
    free(note);
    return r;
}

static json_t *op_actor(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    json_t *a, *ev;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (an actor id or key) is missing%s", "");
    if (tt_state_actor(s->ledger, id, &a, &err) != TT_OK)
        return from_err(&err);
    tt_state_actor_events(s->ledger, json_string_value(json_object_get(a, "id")), &ev, &err);
    return json_pack("{s:b, s:o, s:o}", "ok", 1, "actor", a, "events", ev);
}

static json_t *op_label(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    char code[TT_CODE_LEN + 1], token[TT_LABEL_TOKEN_LEN + 1], hex[65];
    uint8_t h[32];
    uint64_t seq;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (a trace code) is missing%s", "");
    if (tt_code_parse(id, code, &err) != TT_OK ||
        tt_ledger_label_token(s->ledger, code, token, &seq, h, &err) != TT_OK)
        return from_err(&err);
    tt_hex((tt_bytes){32, h}, hex);
    return json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s}", "ok", 1, "id", code, "origin",
                     s->origin, "base_url", s->base_url, "token", token, "reg_seq", (json_int_t)seq,
                     "reg_hash", hex);
}

/* A scan: anonymous ({"id"}) or signed by an enrolled actor ({"id",
 * "actor","sig","body"}); only signed scans count toward the flags. */
static json_t *op_scan(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    const char *actor = json_string_value(json_object_get(req, "actor"));
    const char *sig = json_string_value(json_object_get(req, "sig"));
    json_t *body = json_object_get(req, "body"), *rec;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (a trace code) is missing%s", "");
    if (json_object_get(req, "by"))
        return fail(TT_ERR_MALFORMED,
                    "\"by\" is not taken on trust: sign the scan (actor, sig, body) to count as "
                    "an enrolled actor's, or leave it out to scan anonymously%s",
                    "");
    if (!actor && !sig && !body) {
        if (tt_scan_record(s->ledger, id, NULL, &rec, &err) != TT_OK)
            return from_err(&err);
        return json_pack("{s:b, s:o}", "ok", 1, "scan", rec);
    }
    uint8_t pk[32], sg[64];
    size_t n = 0, m = 0;
    if (!actor || tt_unb64(actor, strlen(actor), 0, pk, 32, &n) != TT_OK || n != 32 || !sig ||
        tt_unb64(sig, strlen(sig), 0, sg, 64, &m) != TT_OK || m != 64 || !json_is_string(body))
        return fail(TT_ERR_MALFORMED,
                    "a signed scan has \"actor\" (base64 key), \"sig\" (base64 signature) and "
                    "\"body\" (the signed scan JSON, as a string)%s",
                    "");
    tt_scan_sig ss = {pk, sg, {json_string_length(body), (const uint8_t *)json_string_value(body)}};
    if (tt_scan_record(s->ledger, id, &ss, &rec, &err) != TT_OK)
        return from_err(&err);
    return json_pack("{s:b, s:o}", "ok", 1, "scan", rec);
}

/* Stock, search and the actor list: a page, and the cursor of the next. */
static json_t *op_list(const tt_api *s, json_t *req, int actors)
{
    static const char *const bkeys[] = {"holder",       "herb",       "state", "origin",
                                        "harvest_from", "harvest_to", NULL};
    static const char *const akeys[] = {"role", NULL};
    json_t *filter = json_object(), *items;
    const char *cursor = json_string_value(json_object_get(req, "cursor"));
    int64_t limit = uint_field(req, "limit");
    char *next = NULL;
    tt_error err;
    for (const char *const *k = actors ? akeys : bkeys; *k; k++) {
        json_t *v = json_object_get(req, *k);
        if (v && (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64)) {
            json_decref(filter);
            return fail(TT_ERR_MALFORMED, "\"%s\" must be text of 1 to 64 bytes", *k);
        }
        if (v && strncmp(*k, "harvest_", 8) == 0 && !tt_date_valid(json_string_value(v))) {
            json_decref(filter);
            return fail(TT_ERR_MALFORMED, "\"%s\" must be a date YYYY-MM-DD", *k);
        }
        if (v)
            json_object_set(filter, *k, v);
    }
    if (limit == -2 || (json_object_get(req, "cursor") && (!cursor || strlen(cursor) > 40))) {
        json_decref(filter);
        return fail(TT_ERR_MALFORMED,
                    "\"limit\" must be 1 to 100 and \"cursor\" the one a page gave%s", "");
    }
    if (limit < 1 || limit > 100)
        limit = limit < 0 ? 50 : limit == 0 ? 1 : 100;
    tt_err rc =
        tt_state_list(s->ledger, actors, filter, cursor, (size_t)limit, &items, &next, &err);
    json_decref(filter);
    if (rc != TT_OK)
        return from_err(&err);
    json_t *r = json_pack("{s:b, s:o}", "ok", 1, actors ? "actors" : "batches", items);
    json_object_set_new(r, "next", next ? json_string(next) : json_null());
    free(next);
    return r;
}

static json_t *op_batches(const tt_api *s, json_t *req)
{
    return op_list(s, req, 0);
}

static json_t *op_actors(const tt_api *s, json_t *req)
{
    return op_list(s, req, 1);
}

/* A c2sp.org/tlog-proof bundle of an entry: the entry itself in the extra
 * line, its inclusion proof and the checkpoint, all a verifier needs offline. */
static json_t *op_proof_bundle(const tt_api *s, json_t *req)
{
    json_t *why;
    int64_t seq = entry_named(s, req, &why);
    uint64_t size;
    char *note, *entry64 = NULL;
    uint8_t *data = NULL;
    size_t n, len;
    tt_hash proof[TT_MERKLE_PROOF_MAX];
    tt_error err;
    if (seq < 0)
        return why;
    if (proof_size(s, req, (uint64_t)seq + 1, &size, &note, &err) != TT_OK)
        return from_err(&err);
    json_t *r = NULL;
    if (tt_ledger_entry(s->ledger, (uint64_t)seq, &data, &len, &err) != TT_OK ||
        tt_ledger_inclusion_proof(s->ledger, (uint64_t)seq, size, proof, &n, &err) != TT_OK)
        r = from_err(&err);
    else if ((entry64 = malloc(tt_b64_len(len))) == NULL)
        r = tt_api_error(TT_ERR_NOMEM, NULL);
    if (r == NULL) {
        tt_b64((tt_bytes){len, data}, entry64);
        size_t cap = strlen(entry64) + strlen(note) + 64 + n * 46;
        char *text = malloc(cap);
        if (text == NULL) {
            r = tt_api_error(TT_ERR_NOMEM, NULL);
        } else {
            size_t o = (size_t)snprintf(text, cap, "c2sp.org/tlog-proof@v1\nextra %s\nindex %lld\n",
                                        entry64, (long long)seq);
            for (size_t i = 0; i < n; i++) {
                char h64[48];
                tt_b64((tt_bytes){TT_HASH_SIZE, proof[i]}, h64);
                o += (size_t)snprintf(text + o, cap - o, "%s\n", h64);
            }
            snprintf(text + o, cap - o, "\n%s", note);
            r = json_pack("{s:b, s:I, s:I, s:s}", "ok", 1, "seq", (json_int_t)seq, "size",
                          (json_int_t)size, "bundle", text);
            free(text);
        }
    }
    free(entry64);
    free(data);
    free(note);
    return r;
}

/* A lot's leaf in the state map and its proof under a checkpoint (the size asked for, else
 * the one a client is to prove against): present or proved absent (statemap.h). */
static json_t *op_state(const tt_api *s, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    char code[TT_CODE_LEN + 1];
    uint64_t size;
    char *note;
    tt_error err;
    if (id == NULL)
        return fail(TT_ERR_MALFORMED, "\"id\" (a trace code) is missing%s", "");
    if (tt_code_parse(id, code, &err) != TT_OK)
        return from_err(&err);
    if (proof_size(s, req, 0, &size, &note, &err) != TT_OK)
        return from_err(&err);
    tt_state_answer *a = malloc(sizeof *a);
    uint8_t *wire = malloc(TT_SMT_PROOF_MAX);
    char *p64 = malloc(tt_b64_len(TT_SMT_PROOF_MAX));
    json_t *r = NULL;
    if (a == NULL || wire == NULL || p64 == NULL)
        r = tt_api_error(TT_ERR_NOMEM, NULL);
    else if (tt_statemap_prove(s->ledger, size, code, a, &err) != TT_OK)
        r = from_err(&err);
    if (r == NULL) {
        size_t wl = tt_smt_proof_encode(&a->proof, wire);
        char root64[48];
        tt_b64((tt_bytes){wl, wire}, p64);
        tt_b64((tt_bytes){TT_SMT_HASH, a->root}, root64);
        r = json_pack("{s:b, s:s, s:I, s:b, s:s, s:s, s:i, s:s}", "ok", 1, "id", code, "size",
                      (json_int_t)size, "present", a->present, "root", root64, "proof", p64,
                      "proof_bytes", (int)wl, "checkpoint", note);
        if (r)
            json_object_set_new(r, "leaf", a->present ? json_stringn(a->value, a->value_len)
                                                      : json_null());
    }
    free(a);
    free(wire);
    free(p64);
    free(note);
    return r;
}

/* The herb dictionary in force, for a picker (the stall page's). */
static json_t *op_herbs(const tt_api *s, json_t *req)
{
    (void)req;
    json_t *d;
    tt_error err;
    if (tt_state_herbs(s->ledger, &d, &err) != TT_OK)
        return from_err(&err);
    json_object_set_new(d, "ok", json_true());
    return d;
}

/* A page of the ledger's events as GS1 EPCIS 2.0 events (tcmtrace/epcis.h). */
static json_t *op_epcis(const tt_api *s, json_t *req)
{
    json_t *q = json_deep_copy(req), *events;
    char *next;
    tt_error err;
    tt_err rc = tt_epcis_page(s->ledger, s->base_url, q, &events, &next, &err);
    json_decref(q);
    if (rc != TT_OK)
        return from_err(&err);
    json_t *r = json_pack("{s:b, s:o, s:o}", "ok", 1, "@context", tt_epcis_context(s->base_url),
                          "events", events);
    json_object_set_new(r, "next", next ? json_string(next) : json_null());
    free(next);
    return r;
}

json_t *tt_api_read(const tt_api *s, json_t *req)
{
    const char *op = json_string_value(json_object_get(req, "op"));
    static const struct {
        const char *name;
        json_t *(*fn)(const tt_api *, json_t *);
    } ops[] = {{"batch", op_batch},
               {"trace", op_trace},
               {"entry", op_entry},
               {"log", op_log},
               {"proof", op_proof},
               {"consistency", op_consistency},
               {"checkpoint", op_checkpoint},
               {"actor", op_actor},
               {"label", op_label},
               {"scan", op_scan},
               {"batches", op_batches},
               {"actors", op_actors},
               {"proof_bundle", op_proof_bundle},
               {"epcis", op_epcis},
               {"herbs", op_herbs},
               {"state", op_state}};
    if (strcmp(op, "status") == 0)
        return op_status(s);
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i].name) == 0)
            return ops[i].fn(s, req);
    return fail(TT_ERR_ARGUMENT,
                "unknown op \"%.40s\"; ops are submit, submit_many, status, batch, trace, entry, "
                "log, proof, consistency, checkpoint, actor, label, scan, batches, actors, state, "
                "proof_bundle, epcis, herbs",
                op);
}
