/*
 * scans.c: label scans, observations beside the signed log.
 *
 * Only a scan signed by an enrolled actor is evidence of where a lot was
 * seen; anonymous scans are counted and nothing more, so an anonymous
 * client can neither frame an honest holder (two invented scanners used to
 * mark a genuine lot as cloned) nor stay invisible. A signed scan's "at"
 * must be close to the clock and later than its signer's previous signed
 * scan, which is all the replay protection a scan needs: one number per
 * actor, not a set of nonces that grows. Beside it the actor's minute
 * (its start and count: TT_SCAN_PER_MINUTE); a record of before, the number
 * alone, is read as a fresh minute.
 *
 * The scans have an LMDB environment of their own (DIR/scans/), so a scan
 * commit never takes the ledger's write lock and never waits for, or holds
 * up, a group commit. Each lot's record is bounded: counters and the
 * TT_SCAN_PLACES places it was seen at most recently. A record that does not
 * parse is reported as damaged, never silently reset.
 */
#include "tcmtrace/scans.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/ledger_internal.h"
#include "tcmtrace/api.h"
#include "tcmtrace/event.h"
#include "tcmtrace/tracecode.h"

#define SCAN_PREFIX TT_SCAN_SIG_PREFIX
#define SCAN_PREFIX_LEN (sizeof SCAN_PREFIX - 1)
#define SCAN_MAP (64u << 20)

/* ---- the scans' environment ------------------------------------------------ */

static tt_err open_env(tt_ledger *l, tt_error *err)
{
    int ro = (l->flags & TT_LEDGER_RDONLY) != 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/scans", l->dir);
    if (!ro && mkdir(path, 0700) != 0 && errno != EEXIST)
        return tt_fail(err, TT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0)
        return tt_fail(err, TT_ERR_NOT_FOUND, "no label of this ledger has been scanned yet");
    MDB_env *env;
    MDB_txn *txn;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return tt_mdb_fail(err, rc, "cannot create the scans' environment");
    mdb_env_set_maxdbs(env, 2);
    mdb_env_set_mapsize(env, SCAN_MAP);
    unsigned flags =
        MDB_NOTLS | (ro ? MDB_RDONLY : 0) | (l->flags & TT_LEDGER_NOSYNC ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_open(env, path, flags, 0600)) != 0) {
        mdb_env_close(env);
        return tt_mdb_fail(err, rc, "cannot open the scans' store");
    }
    mdb_env_set_mapsize(env, 0); /* adopt a larger file's size */
    if ((rc = mdb_txn_begin(env, NULL, ro ? MDB_RDONLY : 0, &txn)) == 0) {
        rc = mdb_dbi_open(txn, "scans", ro ? 0 : MDB_CREATE, &l->scan_dbi);
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    }
    if (rc != 0) {
        mdb_env_close(env);
        return rc == MDB_NOTFOUND
                   ? tt_fail(err, TT_ERR_NOT_FOUND, "no label of this ledger has been scanned yet")
                   : tt_mdb_fail(err, rc, "cannot open the scans' database");
    }
    l->scan_env = env;
    return TT_OK;
}

static tt_err scans_env(tt_ledger *l, tt_error *err)
{
    pthread_mutex_lock(&l->scan_open);
    tt_err rc = l->scan_env ? TT_OK : open_env(l, err);
    pthread_mutex_unlock(&l->scan_open);
    return rc;
}

/* ---- a signed scan ----------------------------------------------------------- */

void tt_scan_prefix(const char *origin, char out[sizeof TT_SCAN_SIG_PREFIX + 256])
{
    snprintf(out, sizeof TT_SCAN_SIG_PREFIX + 256, "%s%.255s\n", SCAN_PREFIX, origin ? origin : "");
}

/* prefix || body in msg (room for the longest of both); its length */
static size_t scan_message(const char *origin, tt_bytes body, uint8_t *msg)
{
    char prefix[sizeof TT_SCAN_SIG_PREFIX + 256];
    tt_scan_prefix(origin, prefix);
    size_t pl = strlen(prefix);
    memcpy(msg, prefix, pl);
    memcpy(msg + pl, body.data, body.size);
    return pl + body.size;
}

void tt_scan_sign(const char *origin, tt_bytes body, const uint8_t sk[64], uint8_t sig[64])
{
    uint8_t msg[SCAN_PREFIX_LEN + 257 + TT_SCAN_BODY_MAX];
    if (body.size > TT_SCAN_BODY_MAX) {
        memset(sig, 0, 64);
        return;
    }
    crypto_sign_detached(sig, NULL, msg, scan_message(origin, body, msg), sk);
}

/* The body's shape: exactly v, type, id, at, nonce. */
static tt_err check_body(const char *origin, const tt_scan_sig *s, const char *code,
                         int64_t *at_ms, tt_error *err)
{
    uint8_t msg[SCAN_PREFIX_LEN + 257 + TT_SCAN_BODY_MAX];
    if (s->body.size > TT_SCAN_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "a scan body is at most %d bytes", TT_SCAN_BODY_MAX);
    if (crypto_sign_verify_detached(s->sig, msg, scan_message(origin, s->body, msg), s->actor) != 0)
        return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                       "the scan's signature does not verify for this body and key, as a scan "
                       "for the ledger %s", origin);
    json_t *j = tt_json_load((const char *)s->body.data, s->body.size, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *at = json_string_value(json_object_get(j, "at"));
    const char *nonce = json_string_value(json_object_get(j, "nonce"));
    uint8_t n[64];
    size_t nl = 0;
    int ok = json_is_object(j) && json_object_size(j) == 5 &&
             json_integer_value(json_object_get(j, "v")) == 1 && type &&
             strcmp(type, "scan") == 0 && id && at && nonce && tt_rfc3339_ms(at, at_ms) &&
             tt_unb64(nonce, strlen(nonce), 1, n, sizeof n, &nl) == TT_OK && nl >= 16;
    int same = ok && strcmp(id, code) == 0;
    json_decref(j);
    if (!ok)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "a scan body is {\"v\":1,\"type\":\"scan\",\"id\",\"at\",\"nonce\"} and "
                       "nothing else");
    if (!same)
        return tt_fail(err, TT_ERR_MALFORMED, "the signed scan is of another trace code");
    int64_t now = (int64_t)tt_now_ms();
    if (*at_ms > now + TT_SCAN_WINDOW_MS || *at_ms < now - TT_SCAN_WINDOW_MS)
        return tt_fail(err, TT_ERR_BAD_TIME,
                       "the scan's \"at\" is more than 10 minutes from the ledger's clock; set "
                       "the device's clock and scan again");
    return TT_OK;
}

/* The signer of a scan: enrolled, active, signing with its current key. */
static tt_err signer_of(tt_ledger *l, MDB_txn *txn, const uint8_t pk[32], char id[33],
                        char org[201], int *observer, tt_error *err)
{
    uint8_t k[34] = {'k', ':'};
    memcpy(k + 2, pk, 32);
    MDB_val key = {34, k}, v;
    if (mdb_get(txn, l->dbi[TT_DB_ACTORS], &key, &v) != 0 || v.mv_size > 32)
        return tt_fail(err, TT_ERR_NOT_ENROLLED,
                       "the scan's key belongs to no enrolled actor; scan anonymously or ask the "
                       "market authority to enroll it");
    memcpy(id, v.mv_data, v.mv_size);
    id[v.mv_size] = '\0';
    char ak[40];
    int n = snprintf(ak, sizeof ak, "a:%s", id);
    MDB_val akey = {(size_t)n, ak}, av;
    json_t *a = mdb_get(txn, l->dbi[TT_DB_ACTORS], &akey, &av) == 0
                    ? tt_rec_decode(av.mv_data, av.mv_size)
                    : NULL;
    const char *st = json_string_value(json_object_get(a, "status"));
    const char *cur = json_string_value(json_object_get(a, "key"));
    const char *o = json_string_value(json_object_get(a, "org"));
    snprintf(org, 201, "%s", o ? o : id); /* an actor of no organisation is one of its own */
    uint8_t cpk[32];
    size_t cl = 0;
    int active = st && strcmp(st, "active") == 0;
    /* inspectors and regulators observe goods; they are not places goods go */
    *observer = 1;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(a, "roles"), i, r)
    {
        const char *role = json_string_value(r);
        *observer &= strcmp(role, "inspector") == 0 || strcmp(role, "regulator") == 0;
    }
    int current = cur && tt_unb64(cur, strlen(cur), 0, cpk, 32, &cl) == TT_OK && cl == 32 &&
                  memcmp(cpk, pk, 32) == 0;
    json_decref(a);
    if (!active || !current)
        return tt_fail(err, TT_ERR_REVOKED, "actor %s %s", id,
                       !active ? "was revoked and may not sign scans"
                               : "signed with a key it has rotated away");
    return TT_OK;
}

/* ---- the record ---------------------------------------------------------------- */

static int64_t ival(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static void bump(json_t *o, const char *k)
{
    json_object_set_new(o, k, json_integer((json_int_t)(ival(o, k) + 1)));
}

/* Moves `by` to the front of the places, counting it (and its scans after the lot was used
 * up); keeps the newest. An observer is listed but is not a place the goods went. */
static void seen_at(json_t *rec, const char *by, const char *org, int observer, int after_end,
                    int64_t epoch, uint64_t now)
{
    json_t *places = json_object_get(rec, "places"), *p = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(places, i,
                       x) if (strcmp(json_string_value(json_object_get(x, "by")), by) == 0)
    {
        p = json_incref(x);
        json_array_remove(places, i);
        break;
    }
    if (p == NULL) {
        p = json_pack("{s:s, s:s, s:i}", "by", by, "org", org, "n", 0);
        if (observer)
            json_object_set_new(p, "observer", json_true());
        else
            bump(rec, "places_seen");
    }
    bump(p, "n");
    /* the review this scan came after (the lot's flags_cleared_seq as it was read): what the
     * place did before a later review no longer counts */
    if (ival(p, "epoch") != epoch) {
        json_object_del(p, "after_end");
        json_object_set_new(p, "epoch", json_integer((json_int_t)epoch));
    }
    if (after_end)
        bump(p, "after_end");
    json_object_set_new(p, "last_ms", json_integer((json_int_t)now));
    json_array_insert_new(places, 0, p);
    while (json_array_size(places) > TT_SCAN_PLACES)
        json_array_remove(places, TT_SCAN_PLACES);
}

/* What an answer adds to the stored counters: the lot's status, where it was ever sent, and
 * the flags signed scans raise. A flag is a pattern no one actor can make: it counts only the
 * places of strangers (signers who never held the lot or any lot of its lineage, and are no
 * observers), only scans read after the market office's last review of the lot (a place keeps
 * the review it last scanned after: its epoch, no clock), and needs strangers of at
 * least TT_SCAN_FLAG_ORGS organisations. `kin`: every holder of the lot and its lineage. */
static void annotate(json_t *rec, json_t *batch, json_t *kin)
{
    const char *st = json_string_value(json_object_get(batch, "status"));
    json_t *hs = json_object_get(batch, "holders"), *h;
    const char *pending = json_string_value(json_object_get(batch, "pending_to"));
    size_t holders = json_array_size(hs), i;
    int known = 0;
    json_array_foreach(hs, i, h) known |= pending && strcmp(json_string_value(h), pending) == 0;
    holders += pending && !known;
    int64_t cleared = ival(batch, "flags_cleared_seq");
    json_t *orgs = json_object(), *late_orgs = json_object(), *p;
    int64_t late = 0;
    json_array_foreach(json_object_get(rec, "places"), i, p)
    {
        const char *by = json_string_value(json_object_get(p, "by"));
        const char *org = json_string_value(json_object_get(p, "org"));
        if (by == NULL || json_is_true(json_object_get(p, "observer")) ||
            json_object_get(kin, by) || ival(p, "epoch") < cleared)
            continue;
        json_object_set_new(orgs, org ? org : by, json_true());
        if (ival(p, "after_end") > 0) {
            late += ival(p, "after_end");
            json_object_set_new(late_orgs, org ? org : by, json_true());
        }
    }
    json_t *flags = json_array();
    if (late >= TT_SCAN_AFTER_END_FLAG && json_object_size(late_orgs) >= TT_SCAN_FLAG_ORGS)
        json_array_append_new(flags, json_string("scanned_after_depleted"));
    if (json_object_size(orgs) >= TT_SCAN_FLAG_ORGS)
        json_array_append_new(flags, json_string("more_holders_than_sent"));
    json_object_set_new(rec, "flags", flags);
    json_object_set_new(rec, "strangers", json_integer((json_int_t)json_object_size(orgs)));
    json_object_set_new(rec, "holders", json_integer((json_int_t)holders));
    json_object_set_new(rec, "status", json_string(st ? st : ""));
    if (cleared > 0) {
        json_t *rv = json_pack("{s:I, s:I}", "seq", (json_int_t)cleared, "ms",
                               ival(batch, "flags_cleared_ms"));
        const char *why = json_string_value(json_object_get(batch, "review_reason"));
        if (why)
            json_object_set_new(rv, "reason", json_string(why));
        json_object_set_new(rec, "reviewed", rv);
    }
    json_decref(orgs);
    json_decref(late_orgs);
}

/* Every holder (and receiver on the way) of `b` and of each lot of its lineage, up to
 * TT_SCAN_LINEAGE lots: {id: true}. A trader who held the parent saw these goods honestly. */
static json_t *kin_of(tt_ledger *l, MDB_txn *txn, json_t *b)
{
    json_t *kin = json_object(), *todo = json_array(), *seen = json_object();
    json_array_append(todo, b);
    size_t n = 0;
    while (json_array_size(todo) > 0 && n++ < TT_SCAN_LINEAGE) {
        json_t *x = json_incref(json_array_get(todo, 0)), *h;
        json_array_remove(todo, 0);
        size_t i;
        json_array_foreach(json_object_get(x, "holders"), i, h) if (json_is_string(h))
            json_object_set_new(kin, json_string_value(h), json_true());
        const char *pend = json_string_value(json_object_get(x, "pending_to"));
        if (pend)
            json_object_set_new(kin, pend, json_true());
        json_array_foreach(json_object_get(x, "parents"), i, h)
        {
            const char *pid = json_string_value(json_object_get(h, "id"));
            if (pid == NULL || strlen(pid) != TT_CODE_LEN || json_object_get(seen, pid))
                continue;
            json_object_set_new(seen, pid, json_true());
            MDB_val k = {TT_CODE_LEN, (void *)pid}, v;
            json_t *pb = mdb_get(txn, l->dbi[TT_DB_BATCHES], &k, &v) == 0
                             ? tt_rec_decode(v.mv_data, v.mv_size)
                             : NULL;
            if (pb)
                json_array_append_new(todo, pb);
        }
        json_decref(x);
    }
    json_decref(todo);
    json_decref(seen);
    return kin;
}

static tt_err read_batch(tt_ledger *l, const char *code, const tt_scan_sig *sig, char signer[33],
                         char org[201], int *observer, json_t **batch, json_t **kin,
                         tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_val k = {TT_CODE_LEN, (void *)code}, v;
    int there = mdb_get(txn, l->dbi[TT_DB_BATCHES], &k, &v) == 0;
    *batch = there ? tt_rec_decode(v.mv_data, v.mv_size) : NULL;
    if (*batch == NULL)
        rc = there ? tt_fail(err, TT_ERR_STORE,
                             "the record of batch %s is damaged: run tcmtrace audit, then "
                             "tcmtrace rebuild DIR",
                             code)
                   : tt_fail(err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
    else if (sig)
        rc = signer_of(l, txn, sig->actor, signer, org, observer, err);
    if (*batch)
        *kin = kin_of(l, txn, *batch);
    tt_rtxn_end(l, txn);
    return rc;
}

static json_t *stored(MDB_txn *txn, MDB_dbi dbi, const char *code, tt_err *rc, tt_error *err)
{
    MDB_val k = {TT_CODE_LEN, (void *)code}, v;
    int m = mdb_get(txn, dbi, &k, &v);
    if (m == MDB_NOTFOUND)
        return json_pack("{s:i, s:i, s:i, s:i, s:[], s:i}", "count", 0, "anonymous", 0, "signed", 0,
                         "after_end", 0, "places", "places_seen", 0);
    json_t *r = m == 0 ? tt_json_load(v.mv_data, v.mv_size, 0, NULL) : NULL;
    if (!json_is_object(r) || !json_is_array(json_object_get(r, "places"))) {
        json_decref(r);
        *rc = m ? tt_mdb_fail(err, m, "cannot read a scan record")
                : tt_fail(err, TT_ERR_STORE,
                          "the scan record of %s in scans/ is damaged; nothing was recorded "
                          "(restore scans/ from a backup, or move it aside to start the counts "
                          "afresh)",
                          code);
        return NULL;
    }
    return r;
}

typedef struct scan_job {
    const char *code, *signer, *org;
    int64_t at_ms;
    uint64_t now;
    int after_end, observer;
    int64_t epoch; /* the lot's flags_cleared_seq when the scan was read: 0, no review yet */
    json_t *out;
} scan_job;

static tt_err scan_write(tt_ledger *l, MDB_txn *txn, scan_job *j, tt_error *err)
{
    tt_err rc = TT_OK;
    if (j->signer) {
        /* a replayed (or older) signed scan counts nowhere; and an actor signs at most
         * TT_SCAN_PER_MINUTE a minute (a window a minute long: its start and its count) */
        char ak[40];
        int n = snprintf(ak, sizeof ak, "a:%s", j->signer);
        MDB_val k = {(size_t)n, ak}, v;
        uint8_t be[24] = {0};
        uint64_t win = j->now, count = 0;
        if (mdb_get(txn, l->scan_dbi, &k, &v) == 0 && (v.mv_size == 8 || v.mv_size == 24)) {
            if ((int64_t)tt_get_u64be(v.mv_data) >= j->at_ms)
                return tt_fail(err, TT_ERR_REPLAY,
                               "actor %s signed a scan at the same time or later already; sign a "
                               "new one",
                               j->signer);
            if (v.mv_size == 24 && j->now - tt_get_u64be((uint8_t *)v.mv_data + 8) < 60000) {
                win = tt_get_u64be((uint8_t *)v.mv_data + 8);
                count = tt_get_u64be((uint8_t *)v.mv_data + 16);
            }
        }
        if (count >= TT_SCAN_PER_MINUTE)
            return tt_fail(err, TT_ERR_BUSY,
                           "actor %s has signed %d scans in the last minute, as many as one "
                           "actor may; wait a minute and scan again",
                           j->signer, TT_SCAN_PER_MINUTE);
        tt_put_u64be(be, (uint64_t)j->at_ms);
        tt_put_u64be(be + 8, win);
        tt_put_u64be(be + 16, count + 1);
        MDB_val nv = {24, be};
        int m = mdb_put(txn, l->scan_dbi, &k, &nv, 0);
        if (m != 0)
            return tt_mdb_fail(err, m, "cannot record the scan");
    }
    json_t *r = stored(txn, l->scan_dbi, j->code, &rc, err);
    if (r == NULL)
        return rc;
    bump(r, "count");
    bump(r, j->signer ? "signed" : "anonymous");
    if (json_object_get(r, "first_ms") == NULL)
        json_object_set_new(r, "first_ms", json_integer((json_int_t)j->now));
    json_object_set_new(r, "last_ms", json_integer((json_int_t)j->now));
    if (j->signer) {
        if (j->after_end)
            bump(r, "after_end");
        seen_at(r, j->signer, j->org, j->observer, j->after_end, j->epoch, j->now);
    }
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    MDB_val k = {TT_CODE_LEN, (void *)j->code}, v = {s ? strlen(s) : 0, s};
    int m = s ? mdb_put(txn, l->scan_dbi, &k, &v, 0) : ENOMEM;
    free(s);
    if (m != 0) {
        json_decref(r);
        return tt_mdb_fail(err, m, "cannot record the scan");
    }
    j->out = r;
    return TT_OK;
}

/* One write transaction on the scans' environment; the map grows when full. */
static tt_err scan_txn(tt_ledger *l, scan_job *j, tt_error *err)
{
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        pthread_rwlock_rdlock(&l->scan_resize);
        int m = mdb_txn_begin(l->scan_env, NULL, 0, &txn);
        tt_err rc = m ? tt_mdb_fail(err, m, "cannot begin a scan") : scan_write(l, txn, j, err);
        if (m == 0 && rc == TT_OK && (m = mdb_txn_commit(txn)) != 0)
            rc = tt_mdb_fail(err, m, "cannot commit a scan");
        else if (m == 0 && rc != TT_OK)
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&l->scan_resize);
        if (rc == TT_OK || m != MDB_MAP_FULL || attempt > 0) {
            if (rc != TT_OK && j->out) {
                json_decref(j->out);
                j->out = NULL;
            }
            return rc;
        }
        json_decref(j->out);
        j->out = NULL;
        MDB_envinfo info;
        pthread_rwlock_wrlock(&l->scan_resize);
        mdb_env_info(l->scan_env, &info);
        mdb_env_set_mapsize(l->scan_env, info.me_mapsize * 2);
        pthread_rwlock_unlock(&l->scan_resize);
    }
}

tt_err tt_scan_record(tt_ledger *l, const char *in, const tt_scan_sig *sig, json_t **out,
                      tt_error *err)
{
    char code[TT_CODE_LEN + 1], signer[33] = "", org[201] = "";
    json_t *batch = NULL, *kin = NULL;
    scan_job j = {code, NULL, org, 0, tt_now_ms(), 0, 0, 0, NULL};
    if (l->flags & TT_LEDGER_RDONLY)
        return tt_fail(err, TT_ERR_READ_ONLY, "scans are recorded by the daemon");
    tt_err rc = tt_code_parse(in, code, err);
    if (rc == TT_OK && sig)
        rc = check_body(l->origin, sig, code, &j.at_ms, err);
    if (rc == TT_OK)
        rc = read_batch(l, code, sig, signer, org, &j.observer, &batch, &kin, err);
    if (rc == TT_OK)
        rc = scans_env(l, err);
    if (rc == TT_OK) {
        const char *st = json_string_value(json_object_get(batch, "status"));
        j.after_end = st && (strcmp(st, "depleted") == 0 || strcmp(st, "destroyed") == 0);
        j.epoch = ival(batch, "flags_cleared_seq");
        j.signer = sig ? signer : NULL;
        rc = scan_txn(l, &j, err);
    }
    if (rc == TT_OK) {
        annotate(j.out, batch, kin);
        if (sig)
            json_object_set_new(j.out, "by", json_string(signer));
        *out = j.out;
    }
    json_decref(batch);
    json_decref(kin);
    return rc;
}

tt_err tt_scan_get(tt_ledger *l, const char *in, json_t **out, tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    json_t *batch = NULL, *kin = NULL;
    tt_err rc = tt_code_parse(in, code, err);
    if (rc == TT_OK)
        rc = read_batch(l, code, NULL, NULL, NULL, NULL, &batch, &kin, err);
    if (rc == TT_OK)
        rc = scans_env(l, err);
    MDB_txn *txn;
    int m = 0;
    if (rc == TT_OK) {
        pthread_rwlock_rdlock(&l->scan_resize);
        if ((m = mdb_txn_begin(l->scan_env, NULL, MDB_RDONLY, &txn)) == MDB_MAP_RESIZED) {
            pthread_rwlock_unlock(&l->scan_resize);
            pthread_rwlock_wrlock(&l->scan_resize); /* the daemon grew it: follow */
            mdb_env_set_mapsize(l->scan_env, 0);
            pthread_rwlock_unlock(&l->scan_resize);
            pthread_rwlock_rdlock(&l->scan_resize);
            m = mdb_txn_begin(l->scan_env, NULL, MDB_RDONLY, &txn);
        }
        if (m != 0) {
            pthread_rwlock_unlock(&l->scan_resize);
            rc = tt_mdb_fail(err, m, "cannot read the scans");
        }
    }
    if (rc == TT_OK) {
        json_t *r = stored(txn, l->scan_dbi, code, &rc, err);
        mdb_txn_abort(txn);
        pthread_rwlock_unlock(&l->scan_resize);
        if (r) {
            annotate(r, batch, kin);
            *out = r;
        }
    }
    json_decref(batch);
    json_decref(kin);
    return rc;
}

tt_err tt_scan_backup(tt_ledger *l, const char *out, tt_error *err)
{
    tt_error ignored;
    if (scans_env(l, &ignored) != TT_OK)
        return TT_OK; /* never scanned: nothing to copy */
    char path[4200];
    snprintf(path, sizeof path, "%s/scans", out);
    if (mkdir(path, 0700) != 0)
        return tt_fail(err, TT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    pthread_rwlock_rdlock(&l->scan_resize);
    int rc = mdb_env_copy2(l->scan_env, path, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&l->scan_resize);
    return rc == 0 ? TT_OK : tt_mdb_fail(err, rc, "cannot copy the scans");
}
