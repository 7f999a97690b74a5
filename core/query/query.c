/*
 * query.c: reading derived state — batches, actors, their histories, the
 * lineage of a batch — and the audit that rebuilds all of it.
 *
 * Each query runs in one read transaction, so it sees one consistent
 * snapshot while the daemon writes. A trace walks parents up to every
 * origin and children down to every descendant, and lists each batch's
 * events with the seq of its entry; a visited set keeps a batch that is
 * reached twice (a process with several inputs from one lot) from being
 * expanded twice.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/ledger_internal.h"
#include "tcmtrace/statemap.h"
#include "tcmtrace/api.h"
#include "tcmtrace/event.h"
#include "tcmtrace/state.h"
#include "tcmtrace/tracecode.h"
#include "tcmtrace/util.h"

#define TRACE_MAX_NODES 2000 /* the two-way trace; the paged one has no such bound */
/* A lot's events in one answer: its first EVENTS_HEAD and its newest EVENTS_TAIL. */
#define EVENTS_HEAD 20
#define EVENTS_TAIL 480

static json_t *get_json(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl)
{
    MDB_val key = {kl, (void *)k}, v;
    if (mdb_get(txn, dbi, &key, &v) != 0)
        return NULL;
    return tt_rec_decode(v.mv_data, v.mv_size);
}

static tt_err parse_code(const char *in, char code[TT_CODE_LEN + 1], tt_error *err)
{
    return tt_code_parse(in, code, err);
}

tt_err tt_state_batch(tt_ledger *l, const char *in, json_t **out, tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    MDB_txn *txn;
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &txn, err)) != TT_OK)
        return rc;
    MDB_val key = {TT_CODE_LEN, code}, v;
    int there = mdb_get(txn, l->dbi[TT_DB_BATCHES], &key, &v) == 0;
    *out = there ? tt_rec_decode(v.mv_data, v.mv_size) : NULL;
    tt_rtxn_end(l, txn);
    if (*out == NULL && there)
        return tt_fail(err, TT_ERR_STORE,
                       "the record of batch %s is damaged: run tcmtrace audit, then tcmtrace "
                       "rebuild DIR",
                       code);
    if (*out == NULL)
        return tt_fail(err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
    return TT_OK;
}

static json_t *actor_in_txn(tt_ledger *l, MDB_txn *txn, const char *id)
{
    char k[40];
    uint8_t pk[34] = {'k', ':'};
    size_t n = 0;
    if (strlen(id) == 44 && tt_unb64(id, 44, 0, pk + 2, 32, &n) == TT_OK && n == 32) {
        MDB_val key = {34, pk}, v;
        if (mdb_get(txn, l->dbi[TT_DB_ACTORS], &key, &v) != 0 || v.mv_size > 32)
            return NULL;
        int kl = snprintf(k, sizeof k, "a:%.*s", (int)v.mv_size, (char *)v.mv_data);
        return get_json(txn, l->dbi[TT_DB_ACTORS], k, (size_t)kl);
    }
    if (!tt_actor_id_valid(id))
        return NULL;
    int kl = snprintf(k, sizeof k, "a:%s", id);
    return get_json(txn, l->dbi[TT_DB_ACTORS], k, (size_t)kl);
}

tt_err tt_state_actor(tt_ledger *l, const char *id, json_t **out, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    *out = actor_in_txn(l, txn, id);
    tt_rtxn_end(l, txn);
    if (*out == NULL)
        return tt_fail(err, TT_ERR_UNKNOWN_ACTOR, "no actor has id or key \"%.44s\"", id);
    return TT_OK;
}

static int owner_in_txn(tt_ledger *l, MDB_txn *txn, const uint8_t pk[32], char id[33])
{
    uint8_t k[34] = {'k', ':'};
    memcpy(k + 2, pk, 32);
    MDB_val key = {34, k}, v;
    if (mdb_get(txn, l->dbi[TT_DB_ACTORS], &key, &v) != 0 || v.mv_size > 32)
        return 0;
    memcpy(id, v.mv_data, v.mv_size);
    id[v.mv_size] = '\0';
    return 1;
}

tt_err tt_state_actor_of_key(tt_ledger *l, const uint8_t pk[32], char id[33], tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    if (!owner_in_txn(l, txn, pk, id))
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "that key belongs to no actor");
    tt_rtxn_end(l, txn);
    return rc;
}

/* Calls fn with the seq and value of every key (prefix, seq) in `db`, in order. */
static void each_event(tt_ledger *l, MDB_txn *txn, tt_db db, const uint8_t *prefix, size_t plen,
                       void (*fn)(void *ctx, uint64_t seq, const MDB_val *v), void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, l->dbi[db], &cur) != 0)
        return;
    MDB_val k = {plen, (void *)prefix}, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        fn(ctx, tt_get_u64be((uint8_t *)k.mv_data + plen), &v);
    }
    mdb_cursor_close(cur);
}

/* As each_event, but only the first `head` and the last `tail` keys go to fn (all of them when
 * there are no more): the keys are walked, no more is read. Returns how many there are. */
static size_t each_event_capped(tt_ledger *l, MDB_txn *txn, tt_db db, const uint8_t *prefix,
                                size_t plen, size_t head, size_t tail,
                                void (*fn)(void *ctx, uint64_t seq, const MDB_val *v), void *ctx)
{
    MDB_cursor *cur;
    size_t total = 0, i = 0;
    if (mdb_cursor_open(txn, l->dbi[db], &cur) != 0)
        return 0;
    MDB_val k = {plen, (void *)prefix}, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        total++;
    }
    k = (MDB_val){plen, (void *)prefix};
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && i < total;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (total <= head + tail || i < head || i >= total - tail)
            fn(ctx, tt_get_u64be((uint8_t *)k.mv_data + plen), &v);
    }
    mdb_cursor_close(cur);
    return total;
}

static void append_event(void *arr, uint64_t seq, const MDB_val *v)
{
    const char *type =
        v->mv_size == 1 ? tt_event_type_name((tt_event_type) * (const uint8_t *)v->mv_data) : NULL;
    json_array_append_new(arr, json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "type",
                                         type ? type : "unknown"));
}

/* [{"seq","type"}] for every key starting with `prefix` in `db`. */
static json_t *list_events(tt_ledger *l, MDB_txn *txn, tt_db db, const uint8_t *prefix, size_t plen)
{
    json_t *arr = json_array();
    each_event(l, txn, db, prefix, plen, append_event, arr);
    return arr;
}

json_t *tt_children_list(tt_ledger *l, MDB_txn *txn, const char *code, size_t max, size_t *total)
{
    json_t *arr = json_array();
    MDB_cursor *cur;
    size_t n = 0;
    if (strlen(code) != TT_CODE_LEN || mdb_cursor_open(txn, l->dbi[TT_DB_CHILDREN], &cur) != 0) {
        if (total)
            *total = 0;
        return arr;
    }
    MDB_val k = {TT_CODE_LEN, (void *)code}, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != TT_CODE_LEN + 12 || memcmp(k.mv_data, code, TT_CODE_LEN) != 0)
            break;
        if (max && n >= max) {
            if (total == NULL)
                break; /* no one asks how many */
            n++;
            continue;
        }
        json_t *link = tt_rec_decode(v.mv_data, v.mv_size);
        if (link)
            json_array_append_new(arr, link);
        n++;
    }
    mdb_cursor_close(cur);
    if (total)
        *total = n;
    return arr;
}

tt_err tt_state_children(tt_ledger *l, const char *in, size_t max, json_t **out, size_t *total,
                         tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    MDB_txn *txn;
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &txn, err)) != TT_OK)
        return rc;
    *out = tt_children_list(l, txn, code, max, total);
    tt_rtxn_end(l, txn);
    return TT_OK;
}

tt_err tt_state_herbs(tt_ledger *l, json_t **out, tt_error *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    json_t *rows = json_array(), *ed = get_json(txn, l->dbi[TT_DB_STATE], "herbs", 5);
    if (mdb_cursor_open(txn, l->dbi[TT_DB_STATE], &cur) == 0) {
        MDB_val k = {2, "h:"}, v;
        for (int m = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); m == 0;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size < 2 || memcmp(k.mv_data, "h:", 2) != 0)
                break;
            json_t *row = tt_rec_decode(v.mv_data, v.mv_size);
            if (row == NULL) {
                rc = tt_fail(err, TT_ERR_STORE, "a herb dictionary row does not parse: run "
                                                "tcmtrace audit, then tcmtrace rebuild DIR");
                break;
            }
            json_t *r = json_object(); /* what a picker needs */
            static const char *const keep[] = {"name_zh", "pinyin", "latin",  "species",
                                               "part",    "parts",  "category", "review"};
            for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
                if (json_object_get(row, keep[i]))
                    json_object_set(r, keep[i], json_object_get(row, keep[i]));
            json_array_append_new(rows, r);
            json_decref(row);
        }
        mdb_cursor_close(cur);
    }
    tt_rtxn_end(l, txn);
    if (rc != TT_OK) {
        json_decref(rows);
        json_decref(ed);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "edition",
                     ed && json_object_get(ed, "edition") ? json_incref(json_object_get(ed, "edition"))
                                                          : json_null(),
                     "herbs", rows);
    json_decref(ed);
    return TT_OK;
}

tt_err tt_state_batch_events(tt_ledger *l, const char *in, json_t **out, tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    MDB_txn *txn;
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &txn, err)) != TT_OK)
        return rc;
    *out = list_events(l, txn, TT_DB_BATCH_EVENTS, (const uint8_t *)code, TT_CODE_LEN);
    tt_rtxn_end(l, txn);
    return TT_OK;
}

tt_err tt_state_batch_events_bounded(tt_ledger *l, const char *in, json_t **out, size_t *total,
                                     tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    MDB_txn *txn;
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &txn, err)) != TT_OK)
        return rc;
    *out = json_array();
    *total = each_event_capped(l, txn, TT_DB_BATCH_EVENTS, (const uint8_t *)code, TT_CODE_LEN,
                               EVENTS_HEAD, EVENTS_TAIL, append_event, *out);
    tt_rtxn_end(l, txn);
    return TT_OK;
}

tt_err tt_state_actor_events(tt_ledger *l, const char *id, json_t **out, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    json_t *a = actor_in_txn(l, txn, id);
    if (a == NULL) {
        tt_rtxn_end(l, txn);
        return tt_fail(err, TT_ERR_UNKNOWN_ACTOR, "no actor has id or key \"%.44s\"", id);
    }
    const char *aid = json_string_value(json_object_get(a, "id"));
    uint8_t prefix[33];
    size_t n = strlen(aid);
    memcpy(prefix, aid, n);
    prefix[n] = 0;
    *out = list_events(l, txn, TT_DB_ACTOR_EVENTS, prefix, n + 1);
    json_decref(a);
    tt_rtxn_end(l, txn);
    return TT_OK;
}

tt_err tt_state_witnesses(tt_ledger *l, json_t **out, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    *out = get_json(txn, l->dbi[TT_DB_STATE], "witnesses", 9);
    tt_rtxn_end(l, txn);
    return *out ? TT_OK
                : tt_fail(err, TT_ERR_NOT_FOUND, "the ledger has published no witness policy");
}

tt_err tt_state_genesis(tt_ledger *l, json_t **out, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    *out = get_json(txn, l->dbi[TT_DB_STATE], "genesis", 7);
    tt_rtxn_end(l, txn);
    return *out ? TT_OK : tt_fail(err, TT_ERR_NOT_FOUND, "the ledger has no genesis yet");
}

/* ---- trace --------------------------------------------------------------- */

typedef struct tracer {
    tt_ledger *l;
    MDB_txn *txn;
    json_t *seen;   /* code -> true, per direction */
    json_t *bodies; /* seq -> what entry_read found: a split is read for its parent and each child */
    tt_stored_buf entry; /* an entry's wire bytes, when its stored form is deflated */
    size_t nodes;
    int truncated;
} tracer;

static json_t *event_summary_read(tracer *t, uint64_t seq, const char *code);

/* What one event did for batch `code`: entries never change, so the
 * summary is kept under (seq, code). Shared: read-only. */
static json_t *event_summary(tracer *t, uint64_t seq, const char *code)
{
    uint8_t key[8 + TT_CODE_LEN];
    tt_put_u64be(key, seq);
    memcpy(key + 8, code, TT_CODE_LEN);
    json_t *s = tt_jcache_get(t->l->uid, TT_JCACHE_EVENTS, key, sizeof key, NULL, 0);
    if (s == NULL) {
        s = event_summary_read(t, seq, code);
        if (json_object_get(s, "type")) /* a complete one */
            tt_jcache_put(t->l->uid, TT_JCACHE_EVENTS, key, sizeof key, NULL, 0, s);
    }
    return s;
}

/* What a trace needs of entry `seq`: its body parsed, who signed it and when, as
 * {"body", "by", "time_ms"}; kept in the tracer, since a split is read for its
 * parent and for each child. NULL when the entry cannot be read. Borrowed. */
static json_t *entry_read(tracer *t, uint64_t seq)
{
    char sk[24];
    snprintf(sk, sizeof sk, "%llu", (unsigned long long)seq);
    json_t *got = json_object_get(t->bodies, sk);
    if (got)
        return got;
    uint8_t kb[8];
    tt_put_u64be(kb, seq);
    MDB_val k = {8, kb}, v;
    tt_entry e;
    tt_bytes wire;
    json_t *body;
    if (mdb_get(t->txn, t->l->dbi[TT_DB_ENTRIES], &k, &v) != 0 ||
        tt_stored_view((tt_bytes){v.mv_size, v.mv_data}, &t->entry, &wire, NULL) != TT_OK ||
        tt_entry_decode(wire, &e, NULL) != TT_OK ||
        (body = tt_json_load((const char *)e.body.data, e.body.size, 0, NULL)) == NULL)
        return NULL;
    got = json_pack("{s:o, s:I}", "body", body, "time_ms", (json_int_t)e.time_ms);
    char by[33];
    if (got && owner_in_txn(t->l, t->txn, e.actor, by))
        json_object_set_new(got, "by", json_string(by));
    json_object_set_new(t->bodies, sk, got);
    return got;
}

/* What one event did, read back from its entry. */
static json_t *event_summary_read(tracer *t, uint64_t seq, const char *code)
{
    json_t *s = json_pack("{s:I}", "seq", (json_int_t)seq);
    json_t *got = entry_read(t, seq);
    if (got == NULL)
        return s;
    json_t *body = json_object_get(got, "body");
    if (json_object_get(got, "by"))
        json_object_set(s, "by", json_object_get(got, "by"));
    json_object_set(s, "time_ms", json_object_get(got, "time_ms"));
    static const char *keep[] = {
        "type", "at", "to", "qty_g", "child", "reason", "lab", "buyer_commitment", "method"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        json_t *x = json_object_get(body, keep[i]);
        if (x)
            json_object_set(s, keep[i], x);
    }
    json_t *type = json_object_get(body, "type");
    const char *ts = json_string_value(type);
    if (ts && strcmp(ts, "batch.split") == 0) {
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(body, "children"), i,
                           ch) if (strcmp(json_string_value(json_object_get(ch, "id")), code) == 0)
            json_object_set(s, "qty_g", json_object_get(ch, "qty_g"));
    }
    if (ts && strcmp(ts, "batch.process") == 0)
        json_object_set(s, "output", json_object_get(json_object_get(body, "output"), "id"));
    return s;
}

typedef struct summaries {
    tracer *t;
    const char *code;
    json_t *out;
} summaries;

static void append_summary(void *ctx, uint64_t seq, const MDB_val *v)
{
    (void)v;
    summaries *sm = ctx;
    json_array_append_new(sm->out, event_summary(sm->t, seq, sm->code));
}

static json_t *trace_node(tracer *t, const char *code, int up, int depth)
{
    json_t *b = tt_jcache_record(t->l, t->txn, TT_DB_BATCHES, code, strlen(code)); /* read-only */
    if (b == NULL)
        return NULL;
    json_t *n = json_object();
    static const char *keep[] = {
        "id",    "herb",       "form",        "status",      "holder",       "qty",       "origin",
        "grade", "pending_to", "hold_reason", "recall_root", "harvest_date", "processing"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        json_t *x = json_object_get(b, keep[i]);
        if (x)
            json_object_set(n, keep[i], x);
    }
    json_t *insp = json_object_get(b, "inspections");
    if (json_array_size(insp))
        json_object_set(n, "inspections", insp);
    /* the lot's events, from its index (code, seq) straight to their summaries */
    summaries sm = {t, code, json_array()};
    size_t total = each_event_capped(t->l, t->txn, TT_DB_BATCH_EVENTS, (const uint8_t *)code,
                                     strlen(code), EVENTS_HEAD, EVENTS_TAIL, append_summary, &sm);
    json_t *detailed = sm.out;
    if (total > json_array_size(detailed)) { /* a lot with a long history: its ends */
        json_object_set_new(n, "events_total", json_integer((json_int_t)total));
        t->truncated = 1;
    }
    size_t i;
    json_object_set_new(n, "events", detailed);
    t->nodes++;
    const char *dir = up ? "parents" : "children";
    json_t *own = up ? NULL : tt_children_list(t->l, t->txn, code, 0, NULL);
    json_t *links = up ? json_object_get(b, dir) : own, *kids = json_array();
    json_t *link;
    json_array_foreach(links, i, link)
    {
        const char *id = json_string_value(json_object_get(link, "id"));
        json_t *k;
        if (json_object_get(t->seen, id)) {
            k = json_pack("{s:s, s:b}", "id", id, "shown_above", 1);
        } else if (depth >= 64 || t->nodes >= TRACE_MAX_NODES) {
            t->truncated = 1;
            continue;
        } else {
            json_object_set_new(t->seen, id, json_true());
            k = trace_node(t, id, up, depth + 1);
            if (k == NULL)
                continue;
        }
        json_object_set(k, "via", json_object_get(link, "via"));
        json_object_set(k, "link_qty_g", json_object_get(link, "qty_g"));
        json_object_set(k, "link_seq", json_object_get(link, "seq"));
        json_array_append_new(kids, k);
    }
    json_object_set_new(n, dir, kids);
    json_decref(own);
    json_decref(b);
    return n;
}

tt_err tt_trace(tt_ledger *l, const char *in, json_t **out, tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    tracer t = {.l = l};
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &t.txn, err)) != TT_OK)
        return rc;
    t.bodies = json_object();
    t.seen = json_pack("{s:b}", code, 1);
    json_t *up = trace_node(&t, code, 1, 0);
    json_decref(t.seen);
    t.seen = json_pack("{s:b}", code, 1);
    json_t *down = up ? trace_node(&t, code, 0, 0) : NULL;
    json_decref(t.seen);
    json_decref(t.bodies);
    tt_stored_buf_free(&t.entry);
    tt_rtxn_end(l, t.txn);
    if (up == NULL)
        return tt_fail(err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
    *out = json_pack("{s:s, s:o, s:o, s:b}", "id", code, "up", up, "down", down, "truncated",
                     t.truncated);
    return TT_OK;
}

/* ---- audit of derived state ------------------------------------------------ */

typedef struct replay {
    tt_ledger *scratch;
    MDB_txn *txn;
    uint64_t pending, puts;
    uint64_t ahead; /* what one transaction may add to the scratch file (tt_scratch_reserve) */
    int failed;     /* the scratch store itself failed (full disk, I/O): no verdict on the ledger */
    tt_error why;
    tt_touched touched; /* the lots written since the state map was last brought up to date */
    tt_smt_mem *map;    /* the replayed state map, in memory */
    uint64_t map_size;  /* the size it was brought up to */
    uint8_t map_root[32];
} replay;

/* A failure of the scratch store: kept, so that the audit reports it as such. */
static tt_err scratch_failed(replay *r, tt_err rc, tt_error *err)
{
    if (!r->failed && err) {
        r->failed = 1;
        r->why = *err;
    }
    return rc;
}

/* A replay transaction ends after this many entries or writes, whichever comes first. */
#define REPLAY_ENTRIES 4096
#define REPLAY_PUTS 8192

/* The replay's write transaction, begun when there is none (room for it reserved first). */
static tt_err replay_txn(replay *r, tt_error *err)
{
    if (r->txn != NULL)
        return TT_OK;
    tt_err rc = tt_scratch_reserve(r->scratch, r->ahead, err);
    if (rc != TT_OK)
        return scratch_failed(r, rc, err);
    int mrc = mdb_txn_begin(r->scratch->env, NULL, 0, &r->txn);
    if (mrc != 0)
        return scratch_failed(r, tt_mdb_fail(err, mrc, "cannot write the scratch store"), err);
    return TT_OK;
}

static tt_err replay_entry(void *ctx, const tt_entry *e, tt_error *err)
{
    replay *r = ctx;
    int mrc;
    tt_err rc = replay_txn(r, err);
    if (rc != TT_OK)
        return rc;
    struct tt_txn t = {r->scratch, r->txn, 0, 0, NULL, &r->touched};
    tt_error why;
    if (tt_rules_apply(NULL, &t, e, &why) != TT_OK)
        return tt_fail(err, TT_ERR_AUDIT, "replaying it breaks a rule: %.200s", why.message);
    r->puts += t.puts;
    if (++r->pending == REPLAY_ENTRIES || r->puts >= REPLAY_PUTS) {
        mrc = mdb_txn_commit(r->txn);
        r->txn = NULL;
        r->pending = r->puts = 0;
        if (mrc != 0)
            return scratch_failed(r, tt_mdb_fail(err, mrc, "cannot write the scratch store"), err);
    }
    return TT_OK;
}

static int map_set(void *ctx, const uint8_t key[32], const uint8_t leaf[32])
{
    return tt_smt_mem_set(ctx, key, leaf);
}

/* The replayed state map's root at `size` (the entries replayed so far): the map is kept in
 * memory, its leaves set from the lots each checkpoint's entries wrote. */
static tt_err replay_state(void *ctx, uint64_t size, uint8_t root[32], tt_error *err)
{
    replay *r = ctx;
    if (size == r->map_size) {
        memcpy(root, r->map_root, 32);
        return TT_OK;
    }
    if (r->map == NULL && (r->map = tt_smt_mem_new()) == NULL)
        return scratch_failed(r, tt_fail(err, TT_ERR_NOMEM, "out of memory for the state map"), err);
    tt_err rc = replay_txn(r, err); /* a lot whose leaf text was not handed over is read back */
    if (rc != TT_OK)
        return rc;
    struct tt_txn t = {r->scratch, r->txn, 0, 0, NULL, NULL};
    rc = tt_statemap_touched_leaves(&t, &r->touched, map_set, r->map, err);
    r->touched.n = 0;
    r->touched.failed = 0;
    if (rc != TT_OK)
        return scratch_failed(r, rc, err);
    tt_smt_mem_root(r->map, root);
    r->map_size = size;
    memcpy(r->map_root, root, 32);
    return TT_OK;
}

/*
 * How much one replay transaction may add to the scratch file. It writes
 * at most REPLAY_PUTS records and one entry's more (a body of 64 KB makes
 * fewer than 10,000), each copying at most a path of pages and splitting one;
 * and it can allocate no more pages than the state it rebuilds holds, which
 * is the ledger's own derived state. The smaller of the two, with room for
 * LMDB's free list.
 */
static uint64_t replay_ahead(tt_ledger *l)
{
    uint64_t derived = 0, bound = (uint64_t)(REPLAY_PUTS + 10000) * 6 * 4096;
    MDB_txn *txn;
    if (tt_rtxn_begin(l, &txn, NULL) == TT_OK) {
        for (int db = 0; db < TT_DB_COUNT; db++) {
            MDB_stat ms;
            if (TT_DB_IS_DERIVED(db) && mdb_stat(txn, l->dbi[db], &ms) == 0)
                derived += (uint64_t)(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) *
                           ms.ms_psize;
        }
        tt_rtxn_end(l, txn);
    }
    return (derived < bound ? derived : bound) + (16u << 20);
}

/* The seq a differing record names as its last change, if it has one. */
static int record_seq(MDB_val *v, uint64_t *seq)
{
    json_t *j = v ? tt_rec_decode(v->mv_data, v->mv_size) : NULL;
    json_t *s = json_object_get(j, "updated_seq");
    int ok = json_is_integer(s);
    if (ok)
        *seq = (uint64_t)json_integer_value(s);
    json_decref(j);
    return ok;
}

static const tt_db state_dbs[] = {TT_DB_BATCHES, TT_DB_BATCH_EVENTS, TT_DB_CHILDREN,
                                  TT_DB_ACTORS,  TT_DB_ACTOR_EVENTS, TT_DB_STATE};
static const char *const state_names[] = {"batch",      "batch event index", "children index",
                                          "actor",      "actor event index", "ledger state"};

/* Compares one derived database of the ledger with the replayed one. */
static int compare_db(tt_ledger *l, MDB_txn *a, tt_ledger *s, MDB_txn *b, size_t which,
                      tt_audit_report *r)
{
    MDB_cursor *ca, *cb;
    MDB_val ka, va, kb, vb;
    tt_db db = state_dbs[which];
    mdb_cursor_open(a, l->dbi[db], &ca);
    mdb_cursor_open(b, s->dbi[db], &cb);
    int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST), rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
    int same = 1;
    while (same && (ra == 0 || rb == 0)) {
        if (ra != 0 || rb != 0 || ka.mv_size != kb.mv_size ||
            memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 || va.mv_size != vb.mv_size ||
            memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0) {
            same = 0;
            MDB_val *k = ra == 0 ? &ka : &kb;
            uint64_t seq = 0;
            r->ok = 0;
            r->bad_seq_known =
                record_seq(ra == 0 ? &va : NULL, &seq) || record_seq(rb == 0 ? &vb : NULL, &seq);
            r->bad_seq = seq;
            char key[80];
            size_t n = k->mv_size < 40 ? k->mv_size : 40;
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = ((unsigned char *)k->mv_data)[i];
                key[i] = ch >= 0x20 && ch < 0x7F ? (char)ch : '.';
            }
            key[n] = '\0';
            tt_fail(&r->why, TT_ERR_AUDIT,
                    "derived %s state \"%s\" differs from what replaying the entries gives",
                    state_names[which], key);
            break;
        }
        ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return same;
}

static void remove_scratch(const char *dir)
{
    static const char *files[] = {"data.mdb", "lock.mdb", "writer.lock"};
    char p[4096 + 16]; /* dir is at most 4096 with its NUL */
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/*
 * Makes the audit's scratch directory, new and private (0700). The replayed
 * state in it is what the ledger's own is compared with, so nobody else may
 * be able to write there while the audit runs: a directory already at that
 * path is used only if it is this user's own private one (not a link), and
 * is emptied first.
 */
static tt_err scratch_dir_new(const char *dir, tt_error *err)
{
    if (mkdir(dir, 0700) == 0)
        return TT_OK;
    if (errno != EEXIST)
        return tt_fail(err, errno == ENOSPC ? TT_ERR_DISK_FULL : TT_ERR_IO,
                       "cannot make the audit's scratch store %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return tt_fail(err, TT_ERR_IO,
                       "%s is there already and is not this user's own private directory, so the "
                       "audit will not replay into it: remove it, or set TMPDIR to another "
                       "directory",
                       dir);
    remove_scratch(dir);
    if (mkdir(dir, 0700) != 0)
        return tt_fail(err, TT_ERR_IO,
                       "%s holds files an audit did not leave there; remove it and audit again",
                       dir);
    return TT_OK;
}

#define SCRATCH_NAME "tcmtrace-audit-" /* + the pid of the audit */

int tt_state_audit_scratch(const char *parent, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/" SCRATCH_NAME "%d", parent, (int)getpid());
    return len > 0 && (size_t)len < n ? 0 : -1;
}

void tt_state_audit_clean(const char *parent, void (*removed)(const char *path))
{
    DIR *d = opendir(parent);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid = 0, end = 0;
        if (sscanf(e->d_name, SCRATCH_NAME "%d%n", &pid, &end) != 1 || e->d_name[end] != '\0' ||
            pid <= 0 || pid == (int)getpid())
            continue;
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%.64s", parent, e->d_name) >= (int)sizeof path - 32)
            continue; /* no room for its files' names */
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) /* its audit may still run */
            continue;
        remove_scratch(path);
        if (removed && access(path, F_OK) != 0)
            removed(path);
    }
    closedir(d);
}

tt_err tt_state_audit(tt_ledger *l, const tt_verifier *keys, size_t nkeys, const char *scratch_dir,
                      tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                      tt_error *err)
{
    replay rp = {.ahead = replay_ahead(l)};
    tt_ledger_opts o = {(size_t)16 << 30};
    tt_error why;
    tt_err rc = scratch_dir_new(scratch_dir, err);
    if (rc != TT_OK)
        return rc;
    rc = tt_ledger_open_with(scratch_dir, TT_LEDGER_CREATE | TT_LEDGER_SCRATCH, &o, &rp.scratch, &why);
    if (rc != TT_OK) {
        remove_scratch(scratch_dir);
        if (rc == TT_ERR_DISK_FULL)
            return tt_fail(err, rc,
                           "no room for the audit's scratch store in %s; free some space, or set "
                           "TMPDIR to a directory on a larger disk",
                           scratch_dir);
        return tt_fail(err, rc, "cannot make the audit's scratch store in %s: %s", scratch_dir,
                       why.message);
    }
    rc = tt_audit_with_state(l, keys, nkeys, replay_entry, replay_state, &rp, progress,
                             progress_ctx, r, err);
    tt_touched_free(&rp.touched);
    tt_smt_mem_free(rp.map);
    if (rp.txn && mdb_txn_commit(rp.txn) != 0 && rc == TT_OK && r->ok)
        rc = tt_fail(err, TT_ERR_STORE, "cannot write the scratch store");
    if (rc == TT_OK && rp.failed) { /* not the ledger's fault: no verdict at all */
        if (err)
            *err = rp.why;
        rc = rp.why.code;
    }
    if (rc == TT_OK && r->ok) {
        MDB_txn *a, *b;
        if ((rc = tt_rtxn_begin(l, &a, err)) == TT_OK) {
            if ((rc = tt_rtxn_begin(rp.scratch, &b, err)) == TT_OK) {
                for (size_t i = 0; i < sizeof state_dbs / sizeof *state_dbs; i++)
                    if (!compare_db(l, a, rp.scratch, b, i, r))
                        break;
                tt_rtxn_end(rp.scratch, b);
            }
            tt_rtxn_end(l, a);
        }
    }
    tt_ledger_close(rp.scratch);
    remove_scratch(scratch_dir);
    return rc;
}

/* ---- listing: stock, search, actors -------------------------------------------------------- */

#define LIST_BUDGET 20000 /* records looked at for one page, matching or not */

static const char *js(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Whether a place name as recorded ("甘肃省", "定西市") is the one asked for, with or without
 * its administrative suffix ("甘肃", "定西"), as people say them. */
static int place_is(const char *recorded, const char *want)
{
    static const char *const suffix[] = {"省", "市", "县", "区", "自治区", "自治州", "自治县",
                                         "特别行政区", "壮族自治区", "回族自治区",
                                         "维吾尔自治区", "地区", "盟", "旗"};
    size_t n = strlen(want);
    if (n == 0)
        return 0;
    if (strcmp(recorded, want) == 0)
        return 1;
    if (strncmp(recorded, want, n) != 0)
        return 0;
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++)
        if (strcmp(recorded + n, suffix[i]) == 0)
            return 1;
    return 0;
}

static int batch_matches(json_t *b, json_t *filter)
{
    const char *k;
    json_t *v;
    json_object_foreach(filter, k, v)
    {
        const char *want = json_string_value(v);
        json_t *o = json_object_get(b, "origin");
        int ok = strcmp(k, "holder") == 0
                     ? !strcmp(js(b, "holder"), want) || !strcmp(js(b, "pending_to"), want)
                 : strcmp(k, "herb") == 0 ? !strcmp(js(json_object_get(b, "herb"), "name_zh"), want)
                 : strcmp(k, "state") == 0 ? !strcmp(js(b, "status"), want)
                 : strcmp(k, "origin") == 0
                     ? place_is(js(o, "province"), want) || place_is(js(o, "city"), want) ||
                           place_is(js(o, "county"), want)
                 : strcmp(k, "harvest_from") == 0 ? strcmp(js(b, "harvest_date"), want) >= 0
                 : strcmp(k, "harvest_to") == 0   ? strcmp(js(b, "harvest_date"), want) <= 0
                                                  : 0;
        if (!ok)
            return 0;
    }
    return 1;
}

static int actor_matches(json_t *a, json_t *filter)
{
    const char *role = json_string_value(json_object_get(filter, "role"));
    if (role == NULL)
        return 1;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(a, "roles"), i,
                       r) if (strcmp(json_string_value(r), role) == 0) return 1;
    return role && strcmp(role, "authority") == 0 && json_is_true(json_object_get(a, "authority"));
}

static json_t *batch_summary(json_t *b)
{
    json_t *q = json_object_get(b, "qty"), *o = json_object_get(b, "origin");
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:O}", "id", js(b, "id"),
                          "herb", js(json_object_get(b, "herb"), "name_zh"), "form", js(b, "form"),
                          "status", js(b, "status"), "holder", js(b, "holder"), "remaining_g",
                          json_object_get(q, "remaining"), "registered_g",
                          json_object_get(q, "registered"), "province", js(o, "province"), "county",
                          js(o, "county"), "created_seq", json_object_get(b, "created_seq"));
    if (*js(b, "harvest_date"))
        json_object_set_new(s, "harvest_date", json_string(js(b, "harvest_date")));
    if (*js(b, "gtin"))
        json_object_set_new(s, "gtin", json_string(js(b, "gtin")));
    if (*js(b, "product_name"))
        json_object_set_new(s, "product_name", json_string(js(b, "product_name")));
    if (*js(b, "pending_to"))
        json_object_set_new(s, "pending_to", json_string(js(b, "pending_to")));
    return s;
}

static json_t *actor_summary(json_t *a)
{
    json_t *s =
        json_pack("{s:s, s:s, s:s, s:O, s:s}", "id", js(a, "id"), "name", js(a, "name"), "org",
                  js(a, "org"), "roles", json_object_get(a, "roles"), "status", js(a, "status"));
    if (*js(a, "stall"))
        json_object_set_new(s, "stall", json_string(js(a, "stall")));
    if (json_is_true(json_object_get(a, "authority")))
        json_object_set_new(s, "authority", json_true());
    return s;
}

tt_err tt_state_list(tt_ledger *l, int actors, json_t *filter, const char *cursor, size_t limit,
                     json_t **items, char **next, tt_error *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    *items = NULL;
    *next = NULL;
    if (rc != TT_OK)
        return rc;
    int m = mdb_cursor_open(txn, l->dbi[actors ? TT_DB_ACTORS : TT_DB_BATCHES], &cur);
    if (m != 0) {
        tt_rtxn_end(l, txn);
        return tt_mdb_fail(err, m, "cannot list");
    }
    char start[48];
    snprintf(start, sizeof start, "%s%s", actors ? "a:" : "", cursor ? cursor : "");
    MDB_val k = {strlen(start), start}, v;
    json_t *out = json_array();
    size_t looked = 0;
    m = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
    /* the cursor names the last item of the page before: start after it */
    if (m == 0 && cursor && k.mv_size == strlen(start) && memcmp(k.mv_data, start, k.mv_size) == 0)
        m = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; m == 0; m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (actors && (k.mv_size < 2 || memcmp(k.mv_data, "a:", 2) != 0))
            break; /* past the actor records ("k:" keys follow) */
        if (json_array_size(out) == limit || looked++ == LIST_BUDGET) {
            /* more may follow: continue after the last key looked at */
            break;
        }
        json_t *rec = tt_rec_decode(v.mv_data, v.mv_size);
        if (rec && (actors ? actor_matches(rec, filter) : batch_matches(rec, filter)))
            json_array_append_new(out, actors ? actor_summary(rec) : batch_summary(rec));
        json_decref(rec);
        size_t off = actors ? 2 : 0;
        free(*next);
        *next = strndup((const char *)k.mv_data + off, k.mv_size - off);
    }
    if (m != 0 && m != MDB_NOTFOUND)
        rc = tt_mdb_fail(err, m, "cannot list");
    if (m != 0 || (actors && !(k.mv_size >= 2 && memcmp(k.mv_data, "a:", 2) == 0))) {
        free(*next); /* the end: no page follows */
        *next = NULL;
    }
    mdb_cursor_close(cur);
    tt_rtxn_end(l, txn);
    if (rc != TT_OK) {
        json_decref(out);
        free(*next);
        *next = NULL;
        return rc;
    }
    *items = out;
    return TT_OK;
}

/* ---- a trace, a page at a time ------------------------------------------------------------ */

#define TRACE_PAGE_MAX 500
#define TRACE_DEPTH_MAX 64

tt_err tt_trace_page(tt_ledger *l, const char *in, int up, unsigned depth, size_t cursor,
                     size_t limit, json_t **out, tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    MDB_txn *txn;
    tt_err rc = parse_code(in, code, err);
    if (rc != TT_OK || (rc = tt_rtxn_begin(l, &txn, err)) != TT_OK)
        return rc;
    if (limit == 0 || limit > TRACE_PAGE_MAX)
        limit = limit ? TRACE_PAGE_MAX : 1;
    if (depth == 0 || depth > TRACE_DEPTH_MAX)
        depth = TRACE_DEPTH_MAX;
    /* breadth first from the lot; node i of the walk is the same on every
     * page, so a page is nodes [cursor, cursor + limit) */
    json_t *queue = json_array(), *seen = json_object(), *nodes = json_array();
    json_array_append_new(queue, json_pack("{s:s, s:i}", "id", code, "depth", 0));
    json_object_set_new(seen, code, json_true());
    size_t i = 0;
    int more = 0;
    for (; i < json_array_size(queue); i++) {
        if (i >= cursor + limit) {
            more = 1;
            break;
        }
        json_t *q = json_array_get(queue, i);
        const char *id = json_string_value(json_object_get(q, "id"));
        json_t *b = get_json(txn, l->dbi[TT_DB_BATCHES], id, strlen(id));
        if (b == NULL) {
            if (i == 0)
                rc = tt_fail(err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
            continue;
        }
        int d = (int)json_integer_value(json_object_get(q, "depth"));
        size_t k;
        json_t *lnk;
        json_t *own = up ? NULL : tt_children_list(l, txn, id, 0, NULL);
        if ((unsigned)d < depth)
            json_array_foreach(up ? json_object_get(b, "parents") : own, k, lnk)
            {
                const char *nid = js(lnk, "id");
                if (json_object_get(seen, nid))
                    continue;
                json_object_set_new(seen, nid, json_true());
                json_array_append_new(queue,
                                      json_pack("{s:s, s:i, s:s, s:s, s:O, s:O}", "id", nid,
                                                "depth", d + 1, "from", id, "via", js(lnk, "via"),
                                                "qty_g", json_object_get(lnk, "qty_g"), "seq",
                                                json_object_get(lnk, "seq")));
            }
        if (i >= cursor) {
            json_t *n = batch_summary(b);
            json_object_update(n, q);
            json_object_set_new(
                n, "origin_daodi",
                json_boolean(json_is_true(json_object_get(json_object_get(b, "origin"), "daodi"))));
            json_object_set_new(
                n, "inspections",
                json_integer((json_int_t)json_array_size(json_object_get(b, "inspections"))));
            json_array_append_new(nodes, n);
        }
        json_decref(own);
        json_decref(b);
        if (rc != TT_OK)
            break;
    }
    tt_rtxn_end(l, txn);
    json_decref(queue);
    json_decref(seen);
    if (rc != TT_OK) {
        json_decref(nodes);
        return rc;
    }
    *out =
        json_pack("{s:s, s:s, s:o}", "id", code, "direction", up ? "up" : "down", "nodes", nodes);
    json_object_set_new(*out, "next",
                        more ? json_integer((json_int_t)(cursor + limit)) : json_null());
    return TT_OK;
}

/* ---- derived state: its digest, checked; rebuilt from the entries ------------------------- */

/*
 * The digest of the derived state is a sum over its records, so it is taken on every core:
 * this thread reads the records a chunk at a time (pointers into the read transaction's
 * map, which any thread may read), then every thread hashes its share of the chunk into a
 * sum of its own, and the sums are added at the end. A daemon starting on a large ledger
 * waits for this before it answers anything.
 */
#define DIGEST_CHUNK 65536 /* records: on this machine, waking the helpers for fewer cost more */
#define DIGEST_THREADS_MAX 8

typedef struct digest_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    unsigned generation; /* a new chunk */
    int stop;
    size_t nthreads, finished; /* helpers, and how many have done this chunk */
    size_t n, chunk;           /* records in the chunk, and at most */
    tt_db db[DIGEST_CHUNK];
    MDB_val k[DIGEST_CHUNK], v[DIGEST_CHUNK];
    _Alignas(64) uint8_t sum[DIGEST_THREADS_MAX][64]; /* [0]: this thread's; a line each */
} digest_pool;

typedef struct digest_helper {
    digest_pool *p;
    size_t index; /* 1..nthreads: which records of a chunk are its own */
} digest_helper;

/* Adds records index, index + stride, ... of the chunk into sum. */
static void digest_share(digest_pool *p, size_t index, size_t stride, uint8_t *sum)
{
    for (size_t i = index; i < p->n; i += stride)
        tt_digest_move(sum, 1, p->db[i], &p->k[i], &p->v[i]);
}

static void *digest_helper_run(void *arg)
{
    digest_helper *h = arg;
    tt_thread_name("tt-digest");
    digest_pool *p = h->p;
    unsigned seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        digest_share(p, h->index, p->nthreads + 1, p->sum[h->index]);
        pthread_mutex_lock(&p->lock);
        if (++p->finished == p->nthreads)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Hashes the chunk on every thread and waits until all are done with it. */
static void digest_chunk(digest_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->finished = 0;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    digest_share(p, 0, p->nthreads + 1, p->sum[0]);
    pthread_mutex_lock(&p->lock);
    while (p->finished < p->nthreads)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    p->n = 0;
}

static tt_err derived_digest(tt_ledger *l, MDB_txn *txn, uint8_t out[TT_DIGEST_SIZE], tt_error *err)
{
    memset(out, 0, TT_DIGEST_SIZE);
    digest_pool *p = NULL; /* aligned as its type says: a thread's sum has a line of its own */
    if (posix_memalign((void **)&p, _Alignof(digest_pool), sizeof *p) != 0)
        return tt_fail(err, TT_ERR_NOMEM, "out of memory for the derived-state digest");
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    /* threads as for the audit; TCMTRACE_DIGEST_CHUNK sets the records a chunk (the tests
     * make many chunks of a small ledger) */
    const char *ce = getenv("TCMTRACE_DIGEST_CHUNK");
    long chunk = ce && *ce ? atol(ce) : DIGEST_CHUNK;
    size_t cores = tt_work_threads();
    size_t want = (cores > DIGEST_THREADS_MAX ? DIGEST_THREADS_MAX : cores) - 1;
    p->chunk = chunk < 1 ? 1 : chunk > DIGEST_CHUNK ? DIGEST_CHUNK : (size_t)chunk;
    pthread_t threads[DIGEST_THREADS_MAX];
    digest_helper helpers[DIGEST_THREADS_MAX];
    for (; p->nthreads < want; p->nthreads++) {
        helpers[p->nthreads] = (digest_helper){p, p->nthreads + 1};
        if (pthread_create(&threads[p->nthreads], NULL, digest_helper_run,
                           &helpers[p->nthreads]) != 0)
            break;
    }
    tt_err rc = TT_OK;
    for (size_t i = 0; rc == TT_OK && i < sizeof state_dbs / sizeof *state_dbs; i++) {
        MDB_cursor *c;
        int m = mdb_cursor_open(txn, l->dbi[state_dbs[i]], &c);
        if (m != 0) {
            rc = tt_mdb_fail(err, m, "cannot read the derived state");
            break;
        }
        for (m = mdb_cursor_get(c, &p->k[p->n], &p->v[p->n], MDB_FIRST); m == 0;
             m = mdb_cursor_get(c, &p->k[p->n], &p->v[p->n], MDB_NEXT)) {
            p->db[p->n++] = state_dbs[i];
            if (p->n == p->chunk)
                digest_chunk(p);
        }
        mdb_cursor_close(c);
        if (m != MDB_NOTFOUND)
            rc = tt_mdb_fail(err, m, "cannot read the derived state");
    }
    if (rc == TT_OK && p->n > 0)
        digest_chunk(p);
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t t = 0; t < p->nthreads; t++)
        pthread_join(threads[t], NULL);
    for (size_t t = 0; t <= p->nthreads; t++)
        tt_digest_sum(out, 1, p->sum[t]);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return rc;
}

static int meta_has(tt_ledger *l, MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, l->dbi[TT_DB_META], &k, v) == 0;
}

#define OLD_LAYOUT                                                                                 \
    "the derived state is of an older layout than this program reads (its records are now "        \
    "smaller): stop tcmtraced and run 'tcmtrace rebuild DIR' once"

/* Whether the ledger has a genesis but no layout record of this version. */
static int layout_old(tt_ledger *l, MDB_txn *txn)
{
    MDB_val g = {7, "genesis"}, k = {6, "layout"}, v;
    if (mdb_get(txn, l->dbi[TT_DB_STATE], &g, &v) != 0)
        return 0; /* a new ledger */
    char want[16];
    int n = snprintf(want, sizeof want, "%d", TT_STATE_LAYOUT);
    return mdb_get(txn, l->dbi[TT_DB_STATE], &k, &v) != 0 || v.mv_size != (size_t)n ||
           memcmp(v.mv_data, want, (size_t)n) != 0;
}

tt_err tt_state_layout_check(tt_ledger *l, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    if (layout_old(l, txn))
        rc = tt_fail(err, TT_ERR_AUDIT, OLD_LAYOUT);
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_state_check(tt_ledger *l, tt_error *err)
{
    MDB_txn *txn;
    uint8_t have[TT_DIGEST_SIZE];
    MDB_val rec, busy;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    if (meta_has(l, txn, "rebuilding", &busy))
        rc = tt_fail(err, TT_ERR_AUDIT,
                     "a rebuild of the derived state was cut short; run 'tcmtrace rebuild DIR' "
                     "again before starting the daemon");
    else if (!meta_has(l, txn, "derived", &rec) || rec.mv_size != TT_DIGEST_SIZE)
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "no derived-state digest is recorded");
    else if (layout_old(l, txn))
        rc = tt_fail(err, TT_ERR_AUDIT, OLD_LAYOUT);
    else if ((rc = derived_digest(l, txn, have, err)) == TT_OK &&
             memcmp(have, rec.mv_data, TT_DIGEST_SIZE) != 0)
        rc = tt_fail(err, TT_ERR_AUDIT,
                     "the derived state does not match its digest: a record was changed outside "
                     "the daemon, which serves and signs nothing from it. Name it with 'tcmtrace "
                     "audit DIR', then 'tcmtrace rebuild DIR'");
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_state_digest_record(tt_ledger *l, tt_error *err)
{
    MDB_txn *txn;
    uint8_t d[TT_DIGEST_SIZE];
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = derived_digest(l, txn, d, err);
    tt_rtxn_end(l, txn);
    return rc == TT_OK ? tt_ledger_meta_put(l, "derived", d, sizeof d, err) : rc;
}

#define REBUILD_CHUNK 4096

tt_err tt_state_rebuild(tt_ledger *l, tt_progress_fn progress, void *progress_ctx, tt_error *err)
{
    uint64_t size = 0;
    uint8_t digest[TT_DIGEST_SIZE] = {0};
    tt_err rc = tt_ledger_head(l, &size, NULL, err);
    if (rc != TT_OK || (rc = tt_ledger_meta_put(l, "rebuilding", "1", 1, err)) != TT_OK)
        return rc;
    tt_stored_buf sb = {NULL, 0};
    for (uint64_t from = 0; rc == TT_OK && (from == 0 || from < size); from += REBUILD_CHUNK) {
        MDB_txn *txn;
        int m = mdb_txn_begin(l->env, NULL, 0, &txn);
        if (m != 0) {
            rc = tt_mdb_fail(err, m, "cannot begin the rebuild");
            break;
        }
        struct tt_txn t = {l, txn, 0, 0, digest, NULL};
        for (size_t i = 0; from == 0 && m == 0 && i < sizeof state_dbs / sizeof *state_dbs; i++)
            m = mdb_drop(txn, l->dbi[state_dbs[i]], 0); /* emptied, then replayed */
        MDB_cursor *cur = NULL;
        uint8_t kb[8];
        tt_put_u64be(kb, from);
        MDB_val k = {8, kb}, v;
        if (m == 0)
            m = mdb_cursor_open(txn, l->dbi[TT_DB_ENTRIES], &cur);
        if (m != 0)
            rc = tt_mdb_fail(err, m, "cannot rebuild");
        for (m = rc == TT_OK ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
             rc == TT_OK && m == 0 && tt_get_u64be(k.mv_data) < from + REBUILD_CHUNK;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            tt_entry e;
            tt_error why;
            tt_bytes wire;
            if (tt_stored_view((tt_bytes){v.mv_size, v.mv_data}, &sb, &wire, &why) != TT_OK ||
                tt_entry_decode(wire, &e, &why) != TT_OK ||
                tt_rules_apply(NULL, &t, &e, &why) != TT_OK)
                rc = tt_fail(err, TT_ERR_AUDIT, "entry %llu cannot be replayed: %.180s",
                             (unsigned long long)tt_get_u64be(k.mv_data), why.message);
        }
        if (cur)
            mdb_cursor_close(cur);
        MDB_val dk = {7, "derived"}, dv = {TT_DIGEST_SIZE, digest};
        if (rc == TT_OK && (m = mdb_put(txn, l->dbi[TT_DB_META], &dk, &dv, 0)) != 0)
            rc = tt_mdb_fail(err, m, "cannot rebuild");
        if (rc == TT_OK && (m = mdb_txn_commit(txn)) != 0)
            rc = tt_mdb_fail(err, m, "cannot commit the rebuild");
        else if (rc != TT_OK)
            mdb_txn_abort(txn);
        if (progress)
            progress(progress_ctx, from + REBUILD_CHUNK < size ? from + REBUILD_CHUNK : size, size);
    }
    tt_stored_buf_free(&sb);
    if (rc == TT_OK) { /* the state map of the rebuilt records, as of this size */
        MDB_txn *txn;
        MDB_val k = {10, "rebuilding"};
        uint8_t root[32];
        int m = mdb_txn_begin(l->env, NULL, 0, &txn);
        if (m == 0) {
            struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
            rc = tt_statemap_commit(&t, size, size, NULL, root, err);
            m = rc == TT_OK ? mdb_del(txn, l->dbi[TT_DB_META], &k, NULL) : 0;
            if (rc == TT_OK && m == 0)
                m = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        if (rc == TT_OK && m != 0)
            rc = tt_mdb_fail(err, m, "cannot finish the rebuild");
    }
    return rc;
}
