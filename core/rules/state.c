/*
 * state.c: the batch rules, and queries over the state they derive.
 *
 * Records are JSON objects stored with sorted keys in compact form, so the
 * same state always has the same bytes and audit can compare stores
 * byte for byte. Every handler reads what it needs, checks every rule it
 * owes before writing anything, then writes; the ledger's nested
 * transaction undoes the writes of a refused event in any case.
 *
 * A batch or actor record that is stored stays parsed in this thread's
 * cache, checked against the stored bytes when the next event takes it
 * (jcache.c). So a record must not change once stored, and must hold no
 * value of the event's own (the event is freed by another thread): values
 * from the event are copied in (set_copy).
 *
 * Keys: batches by trace code; actors as "a:" + id, and "k:" + raw public
 * key -> id for every key an actor ever had; event indexes as code || seq
 * and id || 0x00 || seq (seq big-endian, so a cursor lists them in order).
 */
#include "tcmtrace/state.h"
#include "tcmtrace/statemap.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jalloc.h"
#include "store/ledger_internal.h"
#include "tcmtrace/event.h"
#include "tcmtrace/herbs.h"
#include "tcmtrace/limits.h"
#include "tcmtrace/policy.h"
#include "tcmtrace/tracecode.h"

typedef struct rctx {
    struct tt_txn *t;
    const tt_entry *e;
    tt_event ev;
    json_t *signer; /* the signer's actor record (NULL for genesis) */
    const char *signer_id;
    tt_error *err;
    unsigned long mark; /* jansson's failures before this event (jalloc.h) */
} rctx;

/* Whether memory ran out while this event was applied: then what was built may lack parts,
 * and is not to be read on (tt_rules_apply refuses the event as out of memory). */
static int short_of_memory(const rctx *c)
{
    return tt_jalloc_ran_out(c->mark);
}

/* ---- records ------------------------------------------------------------- */

/* Whether records of db are kept parsed for the next event (tt_jcache). Not
 * in a scratch store (the audit's replay): its records are mostly never read
 * again, and freeing each one later, evicted and cold, cost the 1M-entry
 * audit a quarter of its time. */
static int kept_parsed(const struct tt_txn *t, tt_db db)
{
    return (db == TT_DB_BATCHES || db == TT_DB_ACTORS) && !(t->ledger->flags & TT_LEDGER_SCRATCH);
}

/* The record under k, for the caller to change (a reference of its own). */
static json_t *rec_get(struct tt_txn *t, tt_db db, const void *k, size_t kl)
{
    if (kept_parsed(t, db))
        return tt_jcache_take(t->ledger, t->txn, db, k, kl);
    MDB_val key = {kl, (void *)k}, v;
    if (mdb_get(t->txn, t->ledger->dbi[db], &key, &v) != 0)
        return NULL;
    return tt_rec_decode(v.mv_data, v.mv_size);
}

/* Stores rec under k; a record kept parsed must not change after this. */
static tt_err rec_put(struct tt_txn *t, tt_db db, const void *k, size_t kl, json_t *rec,
                      tt_error *err)
{
    size_t len;
    char *s = tt_rec_encode(rec, &len);
    if (s == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    MDB_val key = {kl, (void *)k}, v = {len, s};
    tt_err rc = tt_txn_put(t, db, &key, &v, 0, err, "state");
    if (rc == TT_OK && kept_parsed(t, db))
        tt_jcache_put(t->ledger->uid, TT_JCACHE_RECORDS, k, kl, s, v.mv_size, rec);
    free(s);
    return rc;
}

/* Whether a record is stored under k, without reading it. */
static int rec_exists(struct tt_txn *t, tt_db db, const void *k, size_t kl)
{
    MDB_val key = {kl, (void *)k}, v;
    return mdb_get(t->txn, t->ledger->dbi[db], &key, &v) == 0;
}

/* o[k] = a copy of v (nothing when v is NULL): records keep no value of
 * the event's. */
static void set_copy(json_t *o, const char *k, json_t *v)
{
    if (v)
        json_object_set_new(o, k, json_deep_copy(v));
}

static tt_err raw_put(struct tt_txn *t, tt_db db, const void *k, size_t kl, const void *val,
                      size_t vl, tt_error *err)
{
    MDB_val key = {kl, (void *)k}, v = {vl, (void *)val};
    return tt_txn_put(t, db, &key, &v, 0, err, "state index");
}

static json_t *batch_get(struct tt_txn *t, const char *code)
{
    return rec_get(t, TT_DB_BATCHES, code, strlen(code));
}

static tt_err batch_put(rctx *c, json_t *b)
{
    json_object_set_new(b, "updated_seq", json_integer((json_int_t)c->e->seq));
    const char *code = json_string_value(json_object_get(b, "id"));
    if (code == NULL) /* a record that could not be made (memory ran out) */
        return tt_fail(c->err, TT_ERR_NOMEM, NULL);
    tt_err rc = rec_put(c->t, TT_DB_BATCHES, code, strlen(code), b, c->err);
    if (rc == TT_OK) /* the state map's leaf, from the record in hand */
        tt_touched_value(c->t->touched, code, b);
    return rc;
}

/* The key of actor `id`'s record ("a:" + id); returns its length. */
static size_t actor_key(char k[40], const char *id)
{
    int n = snprintf(k, 40, "a:%s", id);
    return n < 40 ? (size_t)n : 39;
}

static json_t *actor_get(struct tt_txn *t, const char *id)
{
    char k[40];
    return rec_get(t, TT_DB_ACTORS, k, actor_key(k, id));
}

/* Actor `id`'s record shared with this thread's cache: read-only. */
static json_t *actor_shared(struct tt_txn *t, const char *id)
{
    char k[40];
    return tt_jcache_record(t->ledger, t->txn, TT_DB_ACTORS, k, actor_key(k, id));
}

static tt_err actor_put(rctx *c, json_t *a)
{
    char k[40];
    const char *id = json_string_value(json_object_get(a, "id"));
    if (id == NULL) /* a record that could not be made (memory ran out) */
        return tt_fail(c->err, TT_ERR_NOMEM, NULL);
    return rec_put(c->t, TT_DB_ACTORS, k, actor_key(k, id), a, c->err);
}

/* The id owning raw key `pk` (copied into id), or 0. */
static int key_owner(struct tt_txn *t, const uint8_t pk[32], char id[33])
{
    uint8_t k[34] = {'k', ':'};
    memcpy(k + 2, pk, 32);
    MDB_val key = {34, k}, v;
    if (mdb_get(t->txn, t->ledger->dbi[TT_DB_ACTORS], &key, &v) != 0 || v.mv_size > 32)
        return 0;
    memcpy(id, v.mv_data, v.mv_size);
    id[v.mv_size] = '\0';
    return 1;
}

static tt_err key_put(rctx *c, const uint8_t pk[32], const char *id)
{
    uint8_t k[34] = {'k', ':'};
    memcpy(k + 2, pk, 32);
    return raw_put(c->t, TT_DB_ACTORS, k, 34, id, strlen(id), c->err);
}

static int key_from_b64(const char *b64, uint8_t pk[32])
{
    size_t n = 0;
    return tt_unb64(b64, strlen(b64), 0, pk, 32, &n) == TT_OK && n == 32;
}

static tt_err index_batch(rctx *c, const char *code)
{
    uint8_t k[TT_CODE_LEN + 8];
    memcpy(k, code, TT_CODE_LEN);
    tt_put_u64be(k + TT_CODE_LEN, c->e->seq);
    uint8_t type = (uint8_t)c->ev.type; /* one byte: the type's number (layout 4) */
    return raw_put(c->t, TT_DB_BATCH_EVENTS, k, sizeof k, &type, 1, c->err);
}

static tt_err index_actor(rctx *c, const char *id)
{
    uint8_t k[32 + 1 + 8];
    size_t n = strlen(id);
    memcpy(k, id, n);
    k[n] = 0;
    tt_put_u64be(k + n + 1, c->e->seq);
    uint8_t type = (uint8_t)c->ev.type;
    return raw_put(c->t, TT_DB_ACTOR_EVENTS, k, n + 9, &type, 1, c->err);
}

/* ---- small accessors ---------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t jint(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static int64_t qty_get(json_t *b, const char *k)
{
    return jint(json_object_get(b, "qty"), k);
}

static void qty_set(json_t *b, const char *k, int64_t v)
{
    json_object_set_new(json_object_get(b, "qty"), k, json_integer((json_int_t)v));
}

static void qty_add(json_t *b, const char *k, int64_t v)
{
    qty_set(b, k, qty_get(b, k) + v);
}

static int has_role(json_t *actor, const char *role)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(actor, "roles"), i,
                       r) if (strcmp(json_string_value(r), role) == 0) return 1;
    return 0;
}

static int is_authority(json_t *actor)
{
    return json_is_true(json_object_get(actor, "authority"));
}

/* ---- rule checks -------------------------------------------------------- */

static tt_err load_signer(rctx *c)
{
    char id[33];
    if (!key_owner(c->t, c->e->actor, id))
        return tt_fail(c->err, TT_ERR_NOT_ENROLLED,
                       "the signing key belongs to no enrolled actor; ask the market authority "
                       "to enroll it");
    /* every event reads its signer's: shared, so on_rotate copies it */
    c->signer = actor_shared(c->t, id);
    if (c->signer == NULL)
        return tt_fail(c->err, TT_ERR_STORE, "actor %s is indexed but has no record", id);
    c->signer_id = jstr(c->signer, "id");
    if (strcmp(jstr(c->signer, "status"), "active") != 0)
        return tt_fail(c->err, TT_ERR_REVOKED, "actor %s was revoked and may sign nothing", id);
    uint8_t pk[32];
    if (!key_from_b64(jstr(c->signer, "key"), pk) || memcmp(pk, c->e->actor, 32) != 0)
        return tt_fail(c->err, TT_ERR_REVOKED,
                       "this key of actor %s was retired by actor.rotate; sign with the new key",
                       id);
    return TT_OK;
}

static tt_err need_role(rctx *c, const char *const *roles, const char *what)
{
    for (; *roles; roles++)
        if (has_role(c->signer, *roles))
            return TT_OK;
    return tt_fail(c->err, TT_ERR_FORBIDDEN, "actor %s may not %s", c->signer_id, what);
}

static tt_err need_authority(rctx *c)
{
    if (is_authority(c->signer))
        return TT_OK;
    return tt_fail(c->err, TT_ERR_FORBIDDEN,
                   "only a market authority named in the genesis may sign %s",
                   tt_event_type_name(c->ev.type));
}

static tt_err load_batch(rctx *c, const char *code, json_t **b)
{
    *b = batch_get(c->t, code);
    if (*b == NULL)
        return tt_fail(c->err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
    return TT_OK;
}

/* The batch must have status `want`; held or recalled ones are frozen. */
static tt_err need_status(rctx *c, json_t *b, const char *want)
{
    const char *st = jstr(b, "status");
    if (strcmp(st, want) == 0)
        return TT_OK;
    if (strcmp(st, "held") == 0 || strcmp(st, "recalled") == 0)
        return tt_fail(c->err, TT_ERR_FROZEN,
                       "batch %s is %s: only hold, release, recall and inspect may touch it",
                       jstr(b, "id"), st);
    return tt_fail(c->err, TT_ERR_BAD_STATE, "batch %s is %s; %s needs it %s", jstr(b, "id"), st,
                   tt_event_type_name(c->ev.type), want);
}

static tt_err need_holder(rctx *c, json_t *b)
{
    if (strcmp(jstr(b, "holder"), c->signer_id) == 0)
        return TT_OK;
    return tt_fail(c->err, TT_ERR_NOT_HOLDER, "batch %s is held by %s, not by %s", jstr(b, "id"),
                   jstr(b, "holder"), c->signer_id);
}

static tt_err need_new_code(rctx *c, const char *code)
{
    if (!rec_exists(c->t, TT_DB_BATCHES, code, strlen(code)))
        return TT_OK;
    return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "trace code %s is taken already", code);
}

static tt_err need_qty(rctx *c, json_t *b, int64_t want)
{
    int64_t rem = qty_get(b, "remaining");
    if (want <= rem)
        return TT_OK;
    return tt_fail(c->err, TT_ERR_QUANTITY, "batch %s has %lld g left, not %lld g", jstr(b, "id"),
                   (long long)rem, (long long)want);
}

static void deplete_if_empty(json_t *b)
{
    if (qty_get(b, "remaining") == 0)
        json_object_set_new(b, "status", json_string("depleted"));
}

/* Moves `qty` out of what remains of `b` into its counter `into`. */
static void take_qty(json_t *b, int64_t qty, const char *into)
{
    qty_add(b, "remaining", -qty);
    qty_add(b, into, qty);
    deplete_if_empty(b);
}

/* Stores `b` and indexes this event under it when rc is TT_OK; releases b. */
static tt_err put_and_index(rctx *c, json_t *b, tt_err rc)
{
    if (rc == TT_OK)
        rc = batch_put(c, b);
    if (rc == TT_OK)
        rc = index_batch(c, json_string_value(json_object_get(b, "id")));
    json_decref(b);
    return rc;
}

static json_t *link_of(const char *id, int64_t qty, const char *via, uint64_t seq)
{
    return json_pack("{s:s, s:I, s:s, s:I}", "id", id, "qty_g", (json_int_t)qty, "via", via, "seq",
                     (json_int_t)seq);
}

/* Links parent b to a child in the children index (out of b's record, so that a lot
 * with 100,000 children costs an event what a fresh lot does) and counts it. */
static tt_err child_put(rctx *c, json_t *b, const char *child, int64_t qty, const char *via)
{
    uint8_t k[TT_CODE_LEN + 8 + 4]; /* parent, seq, the child's place among its children */
    memcpy(k, jstr(b, "id"), TT_CODE_LEN);
    tt_put_u64be(k + TT_CODE_LEN, c->e->seq);
    tt_put_u32be(k + TT_CODE_LEN + 8, (uint32_t)jint(b, "children_count"));
    json_t *l = link_of(child, qty, via, c->e->seq);
    size_t vlen;
    char *v = tt_rec_encode(l, &vlen);
    json_decref(l);
    if (v == NULL)
        return tt_fail(c->err, TT_ERR_NOMEM, "out of memory");
    tt_err rc = raw_put(c->t, TT_DB_CHILDREN, k, sizeof k, v, vlen, c->err);
    free(v);
    json_object_set_new(b, "children_count", json_integer(jint(b, "children_count") + 1));
    return rc;
}

/* Whether the string array `a` holds `v`. */
static int list_has_str(json_t *a, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) if (strcmp(json_string_value(x), v) == 0) return 1;
    return 0;
}

static void list_add_str(json_t *a, const char *v)
{
    if (!list_has_str(a, v))
        json_array_append_new(a, json_string(v));
}

/* What batch b is made of, by herb and origin, in grams of source material
 * (a new array): its stored composition, or, for a batch registered from
 * the field, its own herb and origin and the grams registered. */
static json_t *composition_of(json_t *b)
{
    json_t *comp = json_object_get(b, "composition");
    if (comp)
        return json_deep_copy(comp);
    json_t *h = json_object_get(b, "herb"), *o = json_object_get(b, "origin");
    json_t *one = json_pack("{s:O, s:I}", "name_zh", json_object_get(h, "name_zh"), "g",
                            (json_int_t)qty_get(b, "registered"));
    static const char *copy[] = {"province", "city", "county", "daodi"};
    for (size_t i = 0; i < 4; i++)
        set_copy(one, copy[i], json_object_get(o, copy[i]));
    return json_pack("[o]", one);
}

/* The share of `comp` that `part` of `whole` grams carries: each mass
 * scaled by part/whole, rounded down, the rest to the first. */
static json_t *composition_share(json_t *comp, int64_t part, int64_t whole)
{
    json_t *out = json_deep_copy(comp), *x;
    size_t i;
    __int128 total = 0, given = 0;
    json_array_foreach(out, i, x) total += jint(x, "g");
    __int128 want = whole > 0 ? total * part / whole : 0;
    json_array_foreach(out, i, x)
    {
        __int128 g = whole > 0 ? (__int128)jint(x, "g") * part / whole : 0;
        given += g;
        json_object_set_new(x, "g", json_integer((json_int_t)g));
    }
    if (json_array_size(out))
        json_object_set_new(json_array_get(out, 0), "g",
                            json_integer((json_int_t)(jint(json_array_get(out, 0), "g") +
                                                      (int64_t)(want - given))));
    return out;
}

/* A new batch inheriting what it is (herb, origin...) from `from`, and who
 * has held its material: the same goods under a new code. */
static json_t *batch_new(rctx *c, const char *code, json_t *from, int64_t qty, const char *holder,
                         const char *status)
{
    json_t *b = json_object();
    static const char *inherit[] = {"herb",  "form",       "origin",    "harvest_date",
                                    "grade", "processing", "documents", "holders", "gtin",
                                    "product_name"};
    for (size_t i = 0; from && i < sizeof inherit / sizeof *inherit; i++) {
        json_t *v = json_object_get(from, inherit[i]);
        if (v)
            json_object_set_new(b, inherit[i], json_deep_copy(v));
    }
    json_object_set_new(b, "id", json_string(code));
    json_object_set_new(b, "status", json_string(status));
    json_object_set_new(b, "holder", json_string(holder));
    if (json_object_get(b, "holders") == NULL)
        json_object_set_new(b, "holders", json_array());
    list_add_str(json_object_get(b, "holders"), holder);
    if (from && json_object_get(from, "composition"))
        json_object_set_new(b, "composition",
                            composition_share(json_object_get(from, "composition"), qty,
                                              qty_get(from, "registered")));
    json_object_set_new(b, "qty",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "registered", (json_int_t)qty,
                                  "remaining", (json_int_t)qty, "sold", (json_int_t)0, "destroyed",
                                  (json_int_t)0, "moved_out", (json_int_t)0));
    json_object_set_new(b, "parents", json_array());
    json_object_set_new(b, "children_count", json_integer(0)); /* the links: in TT_DB_CHILDREN */
    json_object_set_new(b, "inspections", json_array());
    json_object_set_new(b, "created_seq", json_integer((json_int_t)c->e->seq));
    return b;
}

/* ---- handlers: the ledger and actors ------------------------------------- */

static tt_err on_genesis(rctx *c)
{
    if (c->e->seq != 0)
        return tt_fail(c->err, TT_ERR_GENESIS, "this ledger has its genesis already (entry 0)");
    json_t *auths = json_object_get(c->ev.json, "authorities");
    int signed_by_authority = 0;
    size_t i;
    json_t *a;
    json_array_foreach(auths, i, a)
    {
        uint8_t pk[32];
        char owner[33];
        key_from_b64(jstr(a, "key"), pk);
        json_t *dup = actor_get(c->t, jstr(a, "id"));
        if (dup || key_owner(c->t, pk, owner)) {
            json_decref(dup);
            return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "authority %s is named twice",
                           jstr(a, "id"));
        }
        signed_by_authority |= memcmp(pk, c->e->actor, 32) == 0;
        json_t *rec = json_pack("{s:s, s:s, s:s, s:b, s:[], s:s, s:I}", "id", jstr(a, "id"), "name",
                                jstr(a, "name"), "key", jstr(a, "key"), "authority", 1, "roles",
                                "status", "active", "enrolled_seq", (json_int_t)0);
        tt_err rc = actor_put(c, rec);
        json_decref(rec);
        if (rc == TT_OK)
            rc = key_put(c, pk, jstr(a, "id"));
        if (rc == TT_OK)
            rc = index_actor(c, jstr(a, "id"));
        if (rc != TT_OK)
            return rc;
    }
    if (!signed_by_authority)
        return tt_fail(c->err, TT_ERR_FORBIDDEN,
                       "the genesis must be signed by one of the authorities it names");
    json_t *g = json_pack(
        "{s:O, s:O, s:O, s:O, s:O}", "origin", json_object_get(c->ev.json, "origin"), "log_key",
        json_object_get(c->ev.json, "log_key"), "market", json_object_get(c->ev.json, "market"),
        "authorities", auths, "at", json_object_get(c->ev.json, "at"));
    set_copy(g, "base_url", json_object_get(c->ev.json, "base_url"));
    tt_err rc = rec_put(c->t, TT_DB_STATE, "genesis", 7, g, c->err);
    json_decref(g);
    char layout[16];
    int n = snprintf(layout, sizeof layout, "%d", TT_STATE_LAYOUT);
    if (rc == TT_OK) /* what derived state this is: an older layout is rebuilt, never misread */
        rc = raw_put(c->t, TT_DB_STATE, "layout", 6, layout, (size_t)n, c->err);
    return rc;
}

static tt_err on_limits(rctx *c)
{
    tt_err rc = need_authority(c);
    json_t *table = json_object_get(c->ev.json, "table");
    if (rc == TT_OK)
        rc = tt_limits_check(table, c->err);
    if (rc != TT_OK)
        return rc;
    json_t *rec = json_pack("{s:O, s:O, s:I}", "edition", json_object_get(c->ev.json, "edition"),
                            "table", table, "seq", (json_int_t)c->e->seq);
    rc = rec_put(c->t, TT_DB_STATE, "limits", 6, rec, c->err);
    json_decref(rec);
    return rc;
}

/* The witnesses the log asks and the quorum a checkpoint needs (tcmtrace/policy.h): in force
 * from its entry on, for every client that reads the log */
static tt_err on_witnesses(rctx *c)
{
    tt_err rc = need_authority(c);
    const char *text = jstr(c->ev.json, "policy");
    tt_policy *p = rc == TT_OK ? malloc(sizeof *p) : NULL;
    if (rc != TT_OK)
        return rc;
    if (p == NULL)
        return tt_fail(c->err, TT_ERR_NOMEM, NULL);
    rc = tt_policy_parse(text, strlen(text), p, c->err);
    for (size_t i = 0; rc == TT_OK && i < p->nwitness; i++)
        if (!*p->url[i])
            rc = tt_fail(c->err, TT_ERR_MALFORMED,
                         "witness %s has no URL: the log must know where to ask it", p->label[i]);
    free(p);
    if (rc != TT_OK)
        return rc;
    json_t *rec = json_pack("{s:s, s:I}", "policy", text, "seq", (json_int_t)c->e->seq);
    rc = rec_put(c->t, TT_DB_STATE, "witnesses", 9, rec, c->err);
    json_decref(rec);
    return rc;
}

/* The key of herb `name`'s dictionary row in the state database. */
static size_t herb_key(char k[80], const char *name)
{
    int n = snprintf(k, 80, "h:%s", name);
    return n < 80 ? (size_t)n : 79;
}

/* The herb dictionary's row for `name`, or NULL: shared with this thread's cache, read-only
 * (every registration reads its herb's row, and rows change only with a new edition). */
static json_t *herb_row(rctx *c, const char *name)
{
    char k[80];
    return tt_jcache_record(c->t->ledger, c->t->txn, TT_DB_STATE, k, herb_key(k, name));
}

static tt_err on_herbs(rctx *c)
{
    tt_err rc = need_authority(c);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(c->ev.json, "herbs"), i, row)
    {
        char k[80];
        size_t kl = herb_key(k, jstr(row, "name_zh"));
        if (rc != TT_OK)
            break;
        if (json_is_true(json_object_get(row, "withdrawn"))) {
            MDB_val key = {kl, k};
            rc = tt_txn_del(c->t, TT_DB_STATE, &key, c->err, "herb dictionary");
            continue;
        }
        json_t *rec = json_deep_copy(row);
        json_object_set_new(rec, "edition", json_deep_copy(json_object_get(c->ev.json, "edition")));
        json_object_set_new(rec, "seq", json_integer((json_int_t)c->e->seq));
        rc = rec_put(c->t, TT_DB_STATE, k, kl, rec, c->err);
        json_decref(rec);
    }
    if (rc != TT_OK)
        return rc;
    json_t *ed = json_pack("{s:O, s:I}", "edition", json_object_get(c->ev.json, "edition"), "seq",
                           (json_int_t)c->e->seq);
    rc = rec_put(c->t, TT_DB_STATE, "herbs", 5, ed, c->err);
    json_decref(ed);
    return rc;
}

static tt_err on_enroll(rctx *c)
{
    tt_err rc = need_authority(c);
    if (rc != TT_OK)
        return rc;
    const char *id = tt_event_str(&c->ev, "id");
    uint8_t pk[32];
    char owner[33];
    key_from_b64(tt_event_str(&c->ev, "key"), pk);
    json_t *dup = actor_get(c->t, id);
    if (dup) {
        json_decref(dup);
        return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "actor id %s is taken already", id);
    }
    if (key_owner(c->t, pk, owner))
        return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "that key belongs to actor %s already", owner);
    json_t *rec = json_deep_copy(c->ev.json);
    static const char *drop[] = {"v", "type", "at", "nonce"};
    for (size_t i = 0; i < 4; i++)
        json_object_del(rec, drop[i]);
    json_object_set_new(rec, "status", json_string("active"));
    json_object_set_new(rec, "enrolled_seq", json_integer((json_int_t)c->e->seq));
    json_object_set_new(rec, "enrolled_by", json_string(c->signer_id));
    rc = actor_put(c, rec);
    json_decref(rec);
    if (rc == TT_OK)
        rc = key_put(c, pk, id);
    if (rc == TT_OK)
        rc = index_actor(c, id);
    return rc;
}

/* How many authorities named in the genesis are still active. */
static int active_authorities(rctx *c)
{
    json_t *g = rec_get(c->t, TT_DB_STATE, "genesis", 7), *a;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(g, "authorities"), i, a)
    {
        json_t *rec = actor_shared(c->t, jstr(a, "id"));
        n += rec && strcmp(jstr(rec, "status"), "active") == 0;
        json_decref(rec);
    }
    json_decref(g);
    return n;
}

static tt_err on_revoke(rctx *c)
{
    tt_err rc = need_authority(c);
    if (rc != TT_OK)
        return rc;
    const char *id = tt_event_str(&c->ev, "id");
    json_t *a = actor_get(c->t, id);
    if (a == NULL)
        return tt_fail(c->err, TT_ERR_UNKNOWN_ACTOR, "no actor has id %s", id);
    if (strcmp(jstr(a, "status"), "active") != 0)
        rc = tt_fail(c->err, TT_ERR_BAD_STATE, "actor %s is revoked already", id);
    else if (is_authority(a) && active_authorities(c) < 2)
        rc = tt_fail(c->err, TT_ERR_FORBIDDEN,
                     "%s is the last active market authority and cannot be revoked; revoke it "
                     "only after another authority has been named",
                     id);
    if (rc == TT_OK) {
        json_object_set_new(a, "status", json_string("revoked"));
        json_object_set_new(a, "revoked_seq", json_integer((json_int_t)c->e->seq));
        set_copy(a, "revoke_reason", json_object_get(c->ev.json, "reason"));
        rc = actor_put(c, a);
    }
    if (rc == TT_OK)
        rc = index_actor(c, id);
    json_decref(a);
    return rc;
}

/* A revoked actor's open lots go to its successor (a lost phone, a closed stall): the market
 * authority names the lots, each held by the revoked actor or on its way to it, and each lot's
 * history holds the entry. Status is untouched: a held lot stays held. */
static tt_err on_succeed(rctx *c)
{
    tt_err rc = need_authority(c);
    if (rc != TT_OK)
        return rc;
    const char *id = tt_event_str(&c->ev, "id"), *to = tt_event_str(&c->ev, "successor");
    json_t *a = actor_get(c->t, id), *s = actor_get(c->t, to);
    int keeper = 0;
    static const char *const keepers[] = {"grower", "trader", "processor", "pharmacy"};
    for (size_t i = 0; s && i < sizeof keepers / sizeof *keepers; i++)
        keeper |= has_role(s, keepers[i]);
    if (a == NULL || s == NULL)
        rc = tt_fail(c->err, TT_ERR_UNKNOWN_ACTOR, "no actor has id %s", a ? to : id);
    else if (strcmp(jstr(a, "status"), "revoked") != 0)
        rc = tt_fail(c->err, TT_ERR_BAD_STATE,
                     "actor %s is still active: revoke it first (actor revoke), then hand its lots "
                     "on",
                     id);
    else if (strcmp(id, to) == 0 || strcmp(jstr(s, "status"), "active") != 0)
        rc = tt_fail(c->err, TT_ERR_BAD_STATE, "the successor %s must be another, active actor", to);
    else if (!keeper)
        rc = tt_fail(c->err, TT_ERR_FORBIDDEN,
                     "the successor %s holds no goods (grower, trader, processor or pharmacy)", to);
    json_t *seen = json_object(), *x;
    size_t i;
    json_array_foreach(json_object_get(c->ev.json, "lots"), i, x)
    {
        const char *code = json_string_value(x);
        json_t *b;
        if (rc != TT_OK)
            break;
        if (json_object_get(seen, code)) {
            rc = tt_fail(c->err, TT_ERR_DUPLICATE_ID, "lot %s is named twice", code);
            break;
        }
        json_object_set_new(seen, code, json_true());
        if ((rc = load_batch(c, code, &b)) != TT_OK)
            break;
        const char *st = jstr(b, "status"), *pend = jstr(b, "pending_to");
        int held = strcmp(jstr(b, "holder"), id) == 0, coming = pend && strcmp(pend, id) == 0;
        if (!held && !coming)
            rc = tt_fail(c->err, TT_ERR_NOT_HOLDER, "lot %s is neither held by %s nor on its way to it",
                         code, id);
        else if (strcmp(st, "depleted") == 0 || strcmp(st, "destroyed") == 0)
            rc = tt_fail(c->err, TT_ERR_BAD_STATE, "lot %s is %s: there is nothing to hand on", code,
                         st);
        else {
            if (held) {
                json_object_set_new(b, "holder", json_string(to));
                list_add_str(json_object_get(b, "holders"), to);
            }
            if (coming)
                json_object_set_new(b, "pending_to", json_string(to));
        }
        rc = put_and_index(c, b, rc);
    }
    json_decref(seen);
    if (rc == TT_OK) {
        json_object_set_new(a, "successor", json_string(to));
        rc = actor_put(c, a);
    }
    if (rc == TT_OK)
        rc = index_actor(c, id);
    if (rc == TT_OK)
        rc = index_actor(c, to);
    json_decref(a);
    json_decref(s);
    return rc;
}

static tt_err on_rotate(rctx *c)
{
    const char *id = tt_event_str(&c->ev, "id");
    if (strcmp(id, c->signer_id) != 0)
        return tt_fail(c->err, TT_ERR_FORBIDDEN, "actor %s may rotate only its own key, not %s's",
                       c->signer_id, id);
    uint8_t pk[32];
    char owner[33];
    key_from_b64(tt_event_str(&c->ev, "new_key"), pk);
    if (key_owner(c->t, pk, owner))
        return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "the new key belongs to actor %s already",
                       owner);
    json_t *a = json_deep_copy(c->signer); /* the signer's record is shared */
    json_t *old = json_object_get(a, "retired_keys");
    if (old == NULL)
        json_object_set_new(a, "retired_keys", old = json_array());
    json_array_append(old, json_object_get(a, "key"));
    set_copy(a, "key", json_object_get(c->ev.json, "new_key"));
    json_object_set_new(a, "rotated_seq", json_integer((json_int_t)c->e->seq));
    tt_err rc = actor_put(c, a);
    json_decref(a);
    if (rc == TT_OK)
        rc = key_put(c, pk, id);
    return rc;
}

/* ---- handlers: batches --------------------------------------------------- */

static const char *const PRODUCERS[] = {"grower", "trader", "processor", NULL};
static const char *const HOLDERS[] = {"grower", "trader", "processor", "pharmacy", NULL};
static const char *const SELLERS[] = {"pharmacy", "trader", NULL};
static const char *const INSPECTORS[] = {"inspector", NULL};
static const char *const WARDENS[] = {"inspector", "regulator", NULL};
static const char *const REGULATORS[] = {"regulator", NULL};

static tt_err on_register(rctx *c)
{
    tt_err rc = need_role(c, PRODUCERS, "register batches (grower, trader or processor)");
    const char *code = tt_event_str(&c->ev, "id");
    if (rc == TT_OK)
        rc = need_new_code(c, code);
    json_t *herb = json_object_get(c->ev.json, "herb"), *row = NULL;
    const char *name = jstr(herb, "name_zh"), *listing = "unlisted";
    int unlisted = json_is_true(json_object_get(c->ev.json, "unlisted")), confirmed = 0;
    if (rc == TT_OK)
        row = herb_row(c, name);
    if (rc == TT_OK && row == NULL && !unlisted)
        rc = tt_fail(c->err, TT_ERR_UNKNOWN_HERB,
                     "%s is not in the ledger's herb dictionary; check the name, or register it "
                     "marked \"unlisted\": true (--unlisted) and it is shown as unlisted",
                     name);
    else if (rc == TT_OK && row && unlisted)
        rc = tt_fail(c->err, TT_ERR_UNKNOWN_HERB,
                     "%s is in the herb dictionary, so it cannot be registered as unlisted", name);
    else if (rc == TT_OK && row) {
        rc = tt_herbs_match(row, herb, &confirmed, c->err);
        listing = confirmed ? "confirmed" : "unconfirmed";
    }
    if (rc != TT_OK) {
        json_decref(row);
        return rc;
    }
    json_t *b =
        batch_new(c, code, c->ev.json, tt_event_int(&c->ev, "qty_g"), c->signer_id, "active");
    json_t *bh = json_object_get(b, "herb");
    json_object_set_new(bh, "listing", json_string(listing));
    if (row) {
        set_copy(bh, "latin_drug", json_object_get(row, "latin"));
        set_copy(bh, "pinyin", json_object_get(row, "pinyin"));
        if (json_object_get(bh, "category") == NULL && strcmp(jstr(row, "category"), "other") != 0)
            set_copy(bh, "category", json_object_get(row, "category"));
    }
    json_decref(row);
    if (json_object_get(b, "form") == NULL)
        json_object_set_new(b, "form", json_string("药材"));
    json_object_set_new(b, "registered_by", json_string(c->signer_id));
    rc = batch_put(c, b);
    json_decref(b);
    return rc == TT_OK ? index_batch(c, code) : rc;
}

static tt_err need_recipient(rctx *c, const char *to)
{
    json_t *r = actor_shared(c->t, to);
    tt_err rc = TT_OK;
    if (r == NULL)
        return tt_fail(c->err, TT_ERR_UNKNOWN_ACTOR, "no actor has id %s", to);
    if (strcmp(jstr(r, "status"), "active") != 0)
        rc = tt_fail(c->err, TT_ERR_REVOKED, "recipient %s was revoked", to);
    else if (strcmp(to, c->signer_id) == 0)
        rc = tt_fail(c->err, TT_ERR_ARGUMENT, "a batch cannot be transferred to its holder");
    else {
        int ok = 0;
        for (const char *const *h = HOLDERS; *h; h++)
            ok |= has_role(r, *h);
        if (!ok)
            rc = tt_fail(c->err, TT_ERR_FORBIDDEN, "recipient %s holds no role that may hold goods",
                         to);
    }
    json_decref(r);
    return rc;
}

static tt_err on_transfer(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id"), *to = tt_event_str(&c->ev, "to");
    const char *child = tt_event_str(&c->ev, "child");
    json_t *b;
    tt_err rc = load_batch(c, code, &b);
    if (rc != TT_OK)
        return rc;
    int64_t rem = qty_get(b, "remaining");
    int64_t qty = json_object_get(c->ev.json, "qty_g") ? tt_event_int(&c->ev, "qty_g") : rem;
    if ((rc = need_status(c, b, "active")) == TT_OK && (rc = need_holder(c, b)) == TT_OK &&
        (rc = need_recipient(c, to)) == TT_OK)
        rc = need_qty(c, b, qty);
    if (rc == TT_OK && child == NULL && qty != rem)
        rc = tt_fail(c->err, TT_ERR_ARGUMENT,
                     "moving %lld g of the %lld g left needs a \"child\" trace code for the part",
                     (long long)qty, (long long)rem);
    if (rc == TT_OK && child)
        rc = need_new_code(c, child);
    if (rc != TT_OK)
        goto out;
    json_t *moved = b;
    if (child) { /* a part becomes a child batch, in transit */
        json_t *cb = batch_new(c, child, b, qty, c->signer_id, "in_transit");
        json_array_append_new(json_object_get(cb, "parents"),
                              link_of(code, qty, "transfer", c->e->seq));
        rc = child_put(c, b, child, qty, "transfer");
        take_qty(b, qty, "moved_out");
        moved = cb;
        if (rc == TT_OK && (rc = batch_put(c, b)) == TT_OK)
            rc = index_batch(c, child);
    } else {
        json_object_set_new(b, "status", json_string("in_transit"));
    }
    json_object_set_new(moved, "pending_to", json_string(to));
    json_object_set_new(moved, "transfer_seq", json_integer((json_int_t)c->e->seq));
    if (rc == TT_OK)
        rc = batch_put(c, moved);
    if (moved != b)
        json_decref(moved);
    if (rc == TT_OK)
        rc = index_batch(c, code);
    if (rc == TT_OK)
        rc = index_actor(c, to);
out:
    json_decref(b);
    return rc;
}

static tt_err on_receive_or_reject(rctx *c, int accept)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = load_batch(c, code, &b);
    if (rc != TT_OK)
        return rc;
    rc = need_status(c, b, "in_transit");
    const char *to = jstr(b, "pending_to");
    if (rc == TT_OK && (to == NULL || strcmp(to, c->signer_id) != 0))
        rc = tt_fail(c->err, TT_ERR_NOT_HOLDER, "batch %s is on its way to %s, not to %s", code,
                     to ? to : "nobody", c->signer_id);
    if (rc == TT_OK) {
        if (accept) {
            json_object_set_new(b, "holder", json_string(c->signer_id));
            list_add_str(json_object_get(b, "holders"), c->signer_id);
        } else
            set_copy(b, "reject_reason", json_object_get(c->ev.json, "reason"));
        json_object_del(b, "pending_to");
        json_object_set_new(b, "status", json_string("active"));
    }
    return put_and_index(c, b, rc);
}

/* The sender takes back a transfer still in transit; custody returns to it,
 * whatever became of the recipient meanwhile. */
static tt_err on_cancel(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = load_batch(c, code, &b);
    if (rc != TT_OK)
        return rc;
    char to[40] = "";
    if ((rc = need_status(c, b, "in_transit")) == TT_OK && (rc = need_holder(c, b)) == TT_OK) {
        snprintf(to, sizeof to, "%s", jstr(b, "pending_to"));
        json_object_del(b, "pending_to");
        json_object_set_new(b, "status", json_string("active"));
        json_object_set_new(b, "cancel_seq", json_integer((json_int_t)c->e->seq));
    }
    rc = put_and_index(c, b, rc);
    if (rc == TT_OK && *to)
        rc = index_actor(c, to);
    return rc;
}

/* Sums quantities of `parts` (a list of {id, qty_g}), checking overflow
 * and that the ids are distinct and new (`fresh`) or not. */
static tt_err sum_parts(rctx *c, json_t *parts, int fresh, int64_t *sum)
{
    size_t i, k;
    json_t *p;
    *sum = 0;
    json_array_foreach(parts, i, p)
    {
        int64_t q = jint(p, "qty_g");
        if (*sum > TT_QTY_MAX * 64 - q)
            return tt_fail(c->err, TT_ERR_QUANTITY, "the quantities add up to too much");
        *sum += q;
        for (k = 0; k < i; k++)
            if (strcmp(jstr(json_array_get(parts, k), "id"), jstr(p, "id")) == 0)
                return tt_fail(c->err, TT_ERR_DUPLICATE_ID, "trace code %s is listed twice",
                               jstr(p, "id"));
        if (fresh) {
            tt_err rc = need_new_code(c, jstr(p, "id"));
            if (rc != TT_OK)
                return rc;
        }
    }
    return TT_OK;
}

static tt_err on_split(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *children = json_object_get(c->ev.json, "children");
    json_t *b;
    int64_t sum;
    tt_err rc = load_batch(c, code, &b);
    if (rc != TT_OK)
        return rc;
    if ((rc = need_status(c, b, "active")) == TT_OK && (rc = need_holder(c, b)) == TT_OK &&
        (rc = sum_parts(c, children, 1, &sum)) == TT_OK)
        rc = need_qty(c, b, sum);
    size_t i;
    json_t *p;
    json_array_foreach(children, i, p)
    {
        if (rc != TT_OK)
            break;
        json_t *cb = batch_new(c, jstr(p, "id"), b, jint(p, "qty_g"), c->signer_id, "active");
        json_array_append_new(json_object_get(cb, "parents"),
                              link_of(code, jint(p, "qty_g"), "split", c->e->seq));
        rc = child_put(c, b, jstr(p, "id"), jint(p, "qty_g"), "split");
        if (rc == TT_OK)
            rc = batch_put(c, cb);
        json_decref(cb);
        if (rc == TT_OK)
            rc = index_batch(c, jstr(p, "id"));
    }
    if (rc == TT_OK)
        take_qty(b, sum, "moved_out");
    return put_and_index(c, b, rc);
}

/* Adds `part` (a composition) into `into`, merging rows of the same herb
 * and origin. */
static void composition_merge(json_t *into, json_t *part)
{
    static const char *keys[] = {"name_zh", "province", "city", "county", "daodi"};
    size_t i, k, n;
    json_t *p, *q;
    json_array_foreach(part, i, p)
    {
        json_t *same = NULL;
        json_array_foreach(into, k, q)
        {
            int eq = 1;
            for (n = 0; n < 5; n++)
                eq &= json_equal(json_object_get(p, keys[n]), json_object_get(q, keys[n])) ||
                      (!json_object_get(p, keys[n]) && !json_object_get(q, keys[n]));
            if (eq) {
                same = q;
                break;
            }
        }
        if (same)
            json_object_set_new(same, "g",
                                json_integer((json_int_t)(jint(same, "g") + jint(p, "g"))));
        else
            json_array_append(into, p);
    }
}

/* The output's origin: what every part of its composition shares, 道地 only
 * when every part is 道地 from one county. */
static json_t *composition_origin(json_t *comp, json_t *first_origin)
{
    static const char *keys[] = {"province", "city", "county"};
    json_t *o = json_object();
    int same_place = 1, all_daodi = 1;
    size_t i, k;
    json_t *p;
    for (k = 0; k < 3; k++) {
        json_t *v = json_object_get(json_array_get(comp, 0), keys[k]);
        int same = v != NULL;
        json_array_foreach(comp, i, p) same &= json_equal(json_object_get(p, keys[k]), v);
        if (same && (k == 0 || json_object_get(o, keys[k - 1])))
            json_object_set(o, keys[k], v);
        else
            same_place = 0;
    }
    json_array_foreach(comp, i, p) all_daodi &= json_is_true(json_object_get(p, "daodi"));
    if (same_place && json_object_get(first_origin, "base"))
        json_object_set(o, "base", json_object_get(first_origin, "base"));
    if (!same_place)
        json_object_set_new(o, "mixed", json_true());
    json_object_set_new(o, "daodi", json_boolean(same_place && all_daodi));
    return o;
}

/* Loads and checks every input of a process: active, held by the signer,
 * with enough left; all of one herb unless the output is a compound. */
static tt_err process_inputs(rctx *c, json_t *inputs, json_t *out, json_t *in)
{
    tt_err rc = TT_OK;
    int compound = json_is_true(json_object_get(out, "compound"));
    size_t i;
    json_t *p;
    json_array_foreach(inputs, i, p)
    {
        json_t *b = NULL;
        if ((rc = load_batch(c, jstr(p, "id"), &b)) != TT_OK)
            return rc;
        if (json_array_append_new(in, b) != 0) /* b is gone with it */
            return tt_fail(c->err, TT_ERR_NOMEM, NULL);
        if ((rc = need_status(c, b, "active")) != TT_OK || (rc = need_holder(c, b)) != TT_OK ||
            (rc = need_qty(c, b, jint(p, "qty_g"))) != TT_OK)
            return rc;
        const char *h0 = jstr(json_object_get(json_array_get(in, 0), "herb"), "name_zh");
        const char *h = jstr(json_object_get(b, "herb"), "name_zh");
        if (!compound && strcmp(h, h0) != 0)
            return tt_fail(c->err, TT_ERR_RELABEL,
                           "inputs %s (%s) and %s (%s) are different herbs; a mixture must be "
                           "declared a compound product (\"compound\": true) naming its own herb",
                           jstr(json_array_get(inputs, 0), "id"), h0, jstr(p, "id"), h);
    }
    const char *name = jstr(out, "name_zh");
    const char *h0 = jstr(json_object_get(json_array_get(in, 0), "herb"), "name_zh");
    if (compound || name == NULL || strncmp(name, h0, strlen(h0)) == 0)
        return TT_OK; /* 当归 → 当归片: the same herb under its 饮片 name */
    json_t *row = herb_row(c, name);
    int child_of = row && jstr(row, "parent") && strcmp(jstr(row, "parent"), h0) == 0;
    json_decref(row); /* 甘草 → 炙甘草: the dictionary names it a product of the herb */
    if (child_of)
        return TT_OK;
    return tt_fail(c->err, TT_ERR_RELABEL,
                   "processing cannot rename %s as %s: the output is the herb its inputs prove "
                   "(a product name must be the herb's own, e.g. %s片)",
                   h0, name, h0);
}

/* A compound is what its name says: two herbs or more, and a name that is
 * no single herb of the dictionary (else 独活 could be "compounded" into 当归). */
static tt_err need_true_compound(rctx *c, json_t *out, json_t *comp)
{
    json_t *names = json_array(), *p;
    size_t i;
    json_array_foreach(comp, i, p) list_add_str(names, jstr(p, "name_zh"));
    size_t herbs = json_array_size(names);
    json_decref(names);
    const char *name = jstr(json_object_get(out, "herb"), "name_zh");
    json_t *row = herb_row(c, name);
    json_decref(row);
    if (herbs < 2)
        return tt_fail(c->err, TT_ERR_RELABEL,
                       "a compound product is made of two herbs or more; these inputs are all one "
                       "herb, and the output keeps its name");
    if (row)
        return tt_fail(c->err, TT_ERR_RELABEL,
                       "%s is a single herb of the dictionary; a compound product names itself "
                       "otherwise",
                       name);
    return TT_OK;
}

static tt_err on_process(rctx *c)
{
    json_t *inputs = json_object_get(c->ev.json, "inputs");
    json_t *out = json_object_get(c->ev.json, "output");
    const char *out_code = jstr(out, "id");
    int compound = json_is_true(json_object_get(out, "compound"));
    int64_t sum, out_qty = jint(out, "qty_g");
    tt_err rc = sum_parts(c, inputs, 0, &sum);
    if (rc == TT_OK)
        rc = need_new_code(c, out_code);
    if (rc == TT_OK && out_qty > sum)
        rc = tt_fail(c->err, TT_ERR_QUANTITY, "output of %lld g is more than the %lld g of inputs",
                     (long long)out_qty, (long long)sum);
    json_t *in = json_array(), *comp = json_array(), *holders = json_array();
    if (rc == TT_OK)
        rc = process_inputs(c, inputs, out, in);
    if (rc != TT_OK)
        goto done;
    size_t i;
    json_t *p;
    json_array_foreach(inputs, i, p)
    {
        json_t *b = json_array_get(in, i), *all = composition_of(b), *h;
        json_t *share = composition_share(all, jint(p, "qty_g"), qty_get(b, "registered"));
        composition_merge(comp, share);
        json_decref(share);
        json_decref(all);
        size_t k;
        json_array_foreach(json_object_get(b, "holders"), k, h)
            list_add_str(holders, json_string_value(h));
    }
    if (json_array_size(comp) > 256) {
        rc = tt_fail(c->err, TT_ERR_TOO_LARGE,
                     "the output would be made of %zu herbs and origins; at most 256",
                     json_array_size(comp));
        goto done;
    }
    if (compound && (rc = need_true_compound(c, out, comp)) != TT_OK)
        goto done;
    json_t *first = json_array_get(in, 0);
    json_t *ob = batch_new(c, out_code, first, out_qty, c->signer_id, "active");
    json_object_set(ob, "holders", holders);
    list_add_str(holders, c->signer_id);
    json_object_set(ob, "composition", comp);
    json_object_set_new(ob, "origin", composition_origin(comp, json_object_get(first, "origin")));
    if (compound) {
        json_t *h = json_deep_copy(json_object_get(out, "herb"));
        json_object_set_new(h, "compound", json_true());
        json_object_set_new(h, "listing", json_string("compound"));
        json_object_set_new(ob, "herb", h);
    }
    set_copy(ob, "form", json_object_get(out, "form"));
    json_object_del(ob, "gtin"); /* a new product: its own GTIN and name, or none */
    json_object_del(ob, "product_name");
    set_copy(ob, "gtin", json_object_get(out, "gtin"));
    if (!compound && jstr(out, "name_zh"))
        set_copy(ob, "product_name", json_object_get(out, "name_zh"));
    if (jstr(out, "grade"))
        set_copy(ob, "grade", json_object_get(out, "grade"));
    set_copy(ob, "processing", json_object_get(c->ev.json, "method"));
    json_object_set_new(ob, "yield_permille", json_integer((json_int_t)(out_qty * 1000 / sum)));
    json_array_foreach(inputs, i, p)
    {
        json_t *b = json_array_get(in, i);
        json_array_append_new(json_object_get(ob, "parents"),
                              link_of(jstr(p, "id"), jint(p, "qty_g"), "process", c->e->seq));
        if (rc == TT_OK)
            rc = child_put(c, b, out_code, jint(p, "qty_g"), "process");
        take_qty(b, jint(p, "qty_g"), "moved_out");
        if (rc == TT_OK)
            rc = batch_put(c, b);
        if (rc == TT_OK)
            rc = index_batch(c, jstr(p, "id"));
    }
    if (rc == TT_OK)
        rc = batch_put(c, ob);
    if (rc == TT_OK)
        rc = index_batch(c, out_code);
    json_decref(ob);
done:
    json_decref(holders);
    json_decref(comp);
    json_decref(in);
    return rc;
}

static void hold(json_t *b, const char *reason, uint64_t seq)
{
    const char *st = jstr(b, "status");
    if (strcmp(st, "held") != 0 && strcmp(st, "recalled") != 0) {
        json_object_set_new(b, "held_from", json_string(st));
        json_object_set_new(b, "status", json_string("held"));
    }
    json_object_set_new(b, "hold_reason", json_string(reason));
    json_object_set_new(b, "held_seq", json_integer((json_int_t)seq));
}

/* Separation of duties: no actor judges goods that it, or an actor of its
 * organisation, holds, has ever held or is about to receive. */
static tt_err need_independent(rctx *c, json_t *b, const char *verb)
{
    const char *org = jstr(c->signer, "org");
    json_t *hs = json_object_get(b, "holders");
    const char *pending = jstr(b, "pending_to");
    size_t n = json_array_size(hs) + (pending != NULL);
    for (size_t i = 0; i < n; i++) {
        const char *h =
            i < json_array_size(hs) ? json_string_value(json_array_get(hs, i)) : pending;
        if (strcmp(h, c->signer_id) == 0)
            return tt_fail(c->err, TT_ERR_FORBIDDEN,
                           "%s holds or has held batch %s and may not %s it; an independent "
                           "inspector or regulator must",
                           c->signer_id, jstr(b, "id"), verb);
        json_t *a = org ? actor_shared(c->t, h) : NULL;
        int same = a && jstr(a, "org") && strcmp(jstr(a, "org"), org) == 0;
        json_decref(a);
        if (same)
            return tt_fail(c->err, TT_ERR_FORBIDDEN,
                           "%s is of %s, as is %s, which holds or has held batch %s; it may not "
                           "%s it, an independent inspector or regulator must",
                           c->signer_id, org, h, jstr(b, "id"), verb);
    }
    return TT_OK;
}

/* Calls fn on every descendant of b (not b itself), breadth first; the
 * visited set stops cycles. */
static tt_err each_descendant(rctx *c, json_t *b, tt_err (*fn)(rctx *, json_t *, void *), void *arg)
{
    json_t *queue = json_array(), *seen = json_object();
    tt_err rc = TT_OK;
    json_array_append(queue, b);
    json_object_set_new(seen, jstr(b, "id"), json_true());
    for (size_t i = 0; rc == TT_OK && i < json_array_size(queue); i++) {
        json_t *x = json_array_get(queue, i);
        size_t k;
        json_t *ch, *kids = tt_children_list(c->t->ledger, c->t->txn, jstr(x, "id"), 0, NULL);
        json_array_foreach(kids, k, ch)
        {
            const char *id = jstr(ch, "id");
            if (json_object_get(seen, id))
                continue;
            json_object_set_new(seen, id, json_true());
            json_t *cb = batch_get(c->t, id);
            if (cb)
                json_array_append_new(queue, cb);
        }
        json_decref(kids);
        if (i > 0)
            rc = fn(c, x, arg);
    }
    json_decref(seen);
    json_decref(queue);
    return rc;
}

static int is_live(json_t *b)
{
    const char *st = jstr(b, "status");
    return strcmp(st, "active") == 0 || strcmp(st, "in_transit") == 0 || strcmp(st, "held") == 0;
}

/* Held by a failed inspection: only a regulator lifts it. */
static void hold_for_fail(rctx *c, json_t *b, const char *why)
{
    hold(b, why, c->e->seq);
    json_object_set_new(b, "hold_fail_seq", json_integer((json_int_t)c->e->seq));
}

static tt_err hold_descendant(rctx *c, json_t *b, void *why)
{
    if (!is_live(b))
        return TT_OK;
    hold_for_fail(c, b, why);
    tt_err rc = batch_put(c, b);
    return rc == TT_OK ? index_batch(c, jstr(b, "id")) : rc;
}

/* The herbs a batch is judged as: its own, or for a compound every herb
 * of its composition (a new array). */
static json_t *judged_herbs(json_t *b)
{
    json_t *herb = json_object_get(b, "herb"), *out = json_array();
    if (!json_is_true(json_object_get(herb, "compound"))) {
        json_array_append(out, json_object_get(herb, "name_zh"));
        return out;
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(b, "composition"), i, p)
        list_add_str(out, jstr(p, "name_zh"));
    return out;
}

/* "检验不合格 / inspection failed: so2 380 mg/kg > 150 mg/kg; ..." */
static void fail_reason(json_t *verdict, char *why, size_t cap)
{
    size_t i;
    json_t *r;
    why[0] = '\0';
    json_array_foreach(json_object_get(verdict, "results"), i, r)
    {
        if (strcmp(jstr(r, "verdict"), "fail") != 0)
            continue;
        size_t n = strlen(why);
        snprintf(why + n, cap - n, "%s%s %s %s > %s %s",
                 n ? "; " : "检验不合格 / inspection failed: ", jstr(r, "test"), jstr(r, "value"),
                 jstr(r, "unit"), jstr(r, "limit"), jstr(r, "limit_unit"));
    }
}

static tt_err on_inspect(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b, *limits, *verdict = NULL, *herbs = NULL;
    tt_err rc = need_role(c, INSPECTORS, "inspect batches (inspector)");
    if (rc != TT_OK || (rc = load_batch(c, code, &b)) != TT_OK)
        return rc;
    rc = need_independent(c, b, "inspect");
    limits = tt_jcache_record(c->t->ledger, c->t->txn, TT_DB_STATE, "limits", 6); /* read-only */
    if (rc == TT_OK && limits == NULL)
        rc = tt_fail(c->err, TT_ERR_NO_LIMITS,
                     "no limits table is in the ledger; the authority must sign ledger.limits "
                     "first");
    const char *cat = jstr(json_object_get(b, "herb"), "category");
    if (rc == TT_OK) {
        herbs = judged_herbs(b);
        rc = tt_limits_judge(json_object_get(limits, "table"), herbs, jstr(b, "form"),
                             cat ? cat : "plant", json_object_get(c->ev.json, "results"), &verdict,
                             c->err);
        if (rc == TT_OK && short_of_memory(c))
            rc = tt_fail(c->err, TT_ERR_NOMEM, NULL);
    }
    int failed = 0;
    char why[400];
    if (rc == TT_OK) {
        json_object_set_new(verdict, "seq", json_integer((json_int_t)c->e->seq));
        json_object_set_new(verdict, "inspector", json_string(c->signer_id));
        static const char *copy[] = {"lab", "standard", "report_sha256", "at"};
        for (size_t i = 0; i < 4; i++)
            set_copy(verdict, copy[i], json_object_get(c->ev.json, copy[i]));
        set_copy(verdict, "limits_seq", json_object_get(limits, "seq"));
        json_array_append(json_object_get(b, "inspections"), verdict);
        failed = strcmp(jstr(verdict, "verdict"), "fail") == 0;
        if (failed) {
            fail_reason(verdict, why, sizeof why);
            hold_for_fail(c, b, why);
        }
        rc = batch_put(c, b);
    }
    if (rc == TT_OK)
        rc = index_batch(c, code);
    /* what was split or sent off before the test is the same material */
    if (rc == TT_OK && failed)
        rc = each_descendant(c, b, hold_descendant, why);
    json_decref(herbs);
    json_decref(verdict);
    json_decref(limits);
    json_decref(b);
    return rc;
}

static tt_err on_hold_release(rctx *c, int release)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = need_role(c, WARDENS,
                          release ? "release batches (inspector or regulator)"
                                  : "hold batches (inspector or regulator)");
    if (rc != TT_OK || (rc = load_batch(c, code, &b)) != TT_OK)
        return rc;
    const char *st = jstr(b, "status");
    rc = need_independent(c, b, release ? "release" : "hold");
    if (rc != TT_OK) {
    } else if (release) {
        if (strcmp(st, "held") != 0)
            rc = tt_fail(c->err, TT_ERR_BAD_STATE, "batch %s is %s, not held", code, st);
        else if (json_object_get(b, "hold_fail_seq") && !has_role(c->signer, "regulator"))
            rc = tt_fail(c->err, TT_ERR_FORBIDDEN,
                         "batch %s is held after a failed inspection (entry %lld); only a "
                         "regulator may release it, with a reason",
                         code, (long long)jint(b, "hold_fail_seq"));
        else {
            json_object_set(b, "status", json_object_get(b, "held_from"));
            json_object_del(b, "held_from");
            json_object_del(b, "hold_reason");
            json_object_del(b, "hold_fail_seq");
            set_copy(b, "release_reason", json_object_get(c->ev.json, "reason"));
        }
    } else {
        if (strcmp(st, "active") != 0 && strcmp(st, "in_transit") != 0)
            rc = tt_fail(c->err, TT_ERR_BAD_STATE, "batch %s is %s and cannot be held", code, st);
        else
            hold(b, tt_event_str(&c->ev, "reason"), c->e->seq);
    }
    return put_and_index(c, b, rc);
}

/* The market office's review of a lot's scan signals: what signed scans raised before it no
 * longer counts (core/store/scans.c reads flags_cleared_seq; the time and reason are shown
 * with the scan record), and the reason is the lot's. The
 * rules cannot see scans (they are beside the log), so a review of a lot with no flag is
 * allowed: it clears nothing. */
static tt_err on_review(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = need_authority(c); /* the market office reviews */
    if (rc != TT_OK || (rc = load_batch(c, code, &b)) != TT_OK)
        return rc;
    json_object_set_new(b, "flags_cleared_seq", json_integer((json_int_t)c->e->seq));
    json_object_set_new(b, "flags_cleared_ms", json_integer((json_int_t)c->e->time_ms));
    set_copy(b, "review_reason", json_object_get(c->ev.json, "reason"));
    return put_and_index(c, b, rc);
}

static tt_err recall_one(rctx *c, json_t *b, void *root)
{
    const char *st = jstr(b, "status");
    if (strcmp(st, "destroyed") == 0 || strcmp(st, "recalled") == 0)
        return TT_OK;
    json_object_set_new(b, "status", json_string("recalled"));
    json_object_del(b, "held_from");
    json_object_set_new(b, "recalled_seq", json_integer((json_int_t)c->e->seq));
    json_object_set_new(b, "recall_root", json_string(root));
    set_copy(b, "recall_reason", json_object_get(c->ev.json, "reason"));
    tt_err rc = batch_put(c, b);
    return rc == TT_OK ? index_batch(c, jstr(b, "id")) : rc;
}

static tt_err on_recall(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = need_role(c, REGULATORS, "recall batches (regulator)");
    if (rc != TT_OK || (rc = load_batch(c, code, &b)) != TT_OK)
        return rc;
    const char *st = jstr(b, "status");
    if (strcmp(st, "recalled") == 0 || strcmp(st, "destroyed") == 0)
        rc = tt_fail(c->err, TT_ERR_BAD_STATE, "batch %s is %s already", code, st);
    if (rc == TT_OK)
        rc = recall_one(c, b, (void *)code);
    if (rc == TT_OK)
        rc = each_descendant(c, b, recall_one, (void *)code);
    json_decref(b);
    return rc;
}

static tt_err on_sell(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    int64_t qty = tt_event_int(&c->ev, "qty_g");
    json_t *b;
    tt_err rc = need_role(c, SELLERS, "sell (pharmacy or trader)");
    if (rc != TT_OK || (rc = load_batch(c, code, &b)) != TT_OK)
        return rc;
    if ((rc = need_status(c, b, "active")) == TT_OK && (rc = need_holder(c, b)) == TT_OK)
        rc = need_qty(c, b, qty);
    if (rc == TT_OK)
        take_qty(b, qty, "sold");
    return put_and_index(c, b, rc);
}

static tt_err on_destroy(rctx *c)
{
    const char *code = tt_event_str(&c->ev, "id");
    json_t *b;
    tt_err rc = load_batch(c, code, &b);
    if (rc != TT_OK)
        return rc;
    /* destruction is what a recall asks for: held and recalled lots too */
    const char *st = jstr(b, "status");
    if (strcmp(st, "held") != 0 && strcmp(st, "recalled") != 0)
        rc = need_status(c, b, "active");
    if (rc == TT_OK && !has_role(c->signer, "regulator"))
        rc = need_holder(c, b);
    if (rc == TT_OK) {
        take_qty(b, qty_get(b, "remaining"), "destroyed");
        json_object_set_new(b, "status", json_string("destroyed"));
        json_object_del(b, "held_from");
        set_copy(b, "destroy_reason", json_object_get(c->ev.json, "reason"));
    }
    return put_and_index(c, b, rc);
}

/* The event parsed from these very bytes earlier, if the caller has it. */
static const tt_event *parsed_before(tt_parsed *p, const tt_entry *entry)
{
    if (p == NULL || p->n == 0)
        return NULL;
    for (size_t k = 0; k < p->n; k++) {
        size_t i = (p->next + k) % p->n;
        if (p->bodies[i] == entry->body.data && p->events[i].json) {
            p->next = i + 1;
            return &p->events[i];
        }
    }
    return NULL;
}

tt_err tt_rules_apply(void *ctx, tt_txn *txn, const tt_entry *entry, tt_error *err)
{
    /* a record built short of memory is never stored */
    rctx c = {.t = txn, .e = entry, .err = err, .mark = tt_jalloc_watch()};
    const tt_event *pre = parsed_before(ctx, entry);
    tt_err rc = TT_OK;
    if (pre) {
        c.ev.type = pre->type;
        c.ev.json = json_incref(pre->json);
    } else {
        rc = tt_event_parse(entry->body, &c.ev, err);
    }
    if (rc != TT_OK)
        return rc;
    if (c.ev.type == TT_EV_GENESIS) {
        rc = on_genesis(&c);
    } else if (entry->seq == 0) {
        rc = tt_fail(err, TT_ERR_GENESIS, "the ledger's first entry must be a ledger.genesis");
    } else if ((rc = load_signer(&c)) == TT_OK) {
        switch (c.ev.type) {
        case TT_EV_LIMITS:
            rc = on_limits(&c);
            break;
        case TT_EV_HERBS:
            rc = on_herbs(&c);
            break;
        case TT_EV_WITNESSES:
            rc = on_witnesses(&c);
            break;
        case TT_EV_CANCEL:
            rc = on_cancel(&c);
            break;
        case TT_EV_ENROLL:
            rc = on_enroll(&c);
            break;
        case TT_EV_REVOKE:
            rc = on_revoke(&c);
            break;
        case TT_EV_ROTATE:
            rc = on_rotate(&c);
            break;
        case TT_EV_REGISTER:
            rc = on_register(&c);
            break;
        case TT_EV_TRANSFER:
            rc = on_transfer(&c);
            break;
        case TT_EV_RECEIVE:
            rc = on_receive_or_reject(&c, 1);
            break;
        case TT_EV_REJECT:
            rc = on_receive_or_reject(&c, 0);
            break;
        case TT_EV_SPLIT:
            rc = on_split(&c);
            break;
        case TT_EV_PROCESS:
            rc = on_process(&c);
            break;
        case TT_EV_INSPECT:
            rc = on_inspect(&c);
            break;
        case TT_EV_HOLD:
            rc = on_hold_release(&c, 0);
            break;
        case TT_EV_RELEASE:
            rc = on_hold_release(&c, 1);
            break;
        case TT_EV_RECALL:
            rc = on_recall(&c);
            break;
        case TT_EV_SELL:
            rc = on_sell(&c);
            break;
        case TT_EV_DESTROY:
            rc = on_destroy(&c);
            break;
        case TT_EV_REVIEW:
            rc = on_review(&c);
            break;
        case TT_EV_SUCCEED:
            rc = on_succeed(&c);
            break;
        default:
            rc = tt_fail(err, TT_ERR_MALFORMED, "unknown event type");
            break;
        }
        if (rc == TT_OK && c.ev.type != TT_EV_ENROLL && c.ev.type != TT_EV_REVOKE)
            rc = index_actor(&c, c.signer_id);
    }
    if (short_of_memory(&c))
        rc = tt_fail(err, TT_ERR_NOMEM, "out of memory while applying the rules; nothing was "
                                        "changed: send the event again");
    json_decref(c.signer);
    tt_event_free(&c.ev);
    return rc;
}
