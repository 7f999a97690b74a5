/*
 * audit.c: recompute the ledger from its entries and compare.
 *
 * One read transaction gives a consistent snapshot even while the daemon
 * appends. Entries are read with a cursor in key order; a gap, a decode
 * error or any mismatch stops the walk with the seq named. Stored Merkle
 * hashes are compared as the in-memory builder produces them, so a flipped
 * node is caught at the entry that wrote it. Checkpoints are met in size
 * order as the walk reaches their sizes.
 *
 * Signatures are verified on every core: the walk takes entries a chunk at
 * a time, a pool of threads (one per core) verifies the chunk's signatures
 * while this thread checks the chain, the indexes, the Merkle tree and the
 * replay, then helps with what verification is left. The first entry that
 * disagrees is still the one named: a chunk's failures are compared in seq
 * order, a bad signature ranking where check_entry would have met it.
 */
#include "tcmtrace/audit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger_internal.h"

#define CHUNK 2048

/* A chunk's signatures, verified by whoever takes the next few indexes: all that the threads
 * share is taken and given back under the lock. */
typedef struct vpool {
    pthread_mutex_t lock;
    pthread_cond_t work, finished;
    unsigned generation; /* a new chunk */
    int stop;
    tt_entry *es;
    uint8_t *ok_decoded; /* 1: es[i] decoded and its signature is to be verified */
    uint8_t *bad_sig;
    size_t n, next, done;
    pthread_t *threads;
    size_t nthreads;
    tt_stored_buf wire; /* the chunk's deflated entries, inflated */
} vpool;

/* Takes part in chunk `gen` until none of it is left to take. Called with the lock held. */
static void verify_some(vpool *p, unsigned gen)
{
    while (p->generation == gen && p->next < p->n) {
        size_t from = p->next, to = from + 16 < p->n ? from + 16 : p->n;
        p->next = to;
        pthread_mutex_unlock(&p->lock);
        for (size_t i = from; i < to; i++)
            if (p->ok_decoded[i])
                p->bad_sig[i] =
                    tt_event_verify(p->es[i].body, p->es[i].actor, p->es[i].sig) != TT_OK;
        pthread_mutex_lock(&p->lock);
        p->done += to - from;
        if (p->done == p->n)
            pthread_cond_broadcast(&p->finished);
    }
}

static void *verifier(void *arg)
{
    vpool *p = arg;
    unsigned seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        verify_some(p, seen);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static size_t audit_threads(void)
{
    const char *e = getenv("TCMTRACE_AUDIT_THREADS");
    long n = e && *e ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

static int pool_start(vpool *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->es = calloc(CHUNK, sizeof *p->es);
    p->ok_decoded = calloc(CHUNK, 1);
    p->bad_sig = calloc(CHUNK, 1);
    size_t want = audit_threads() - 1; /* this thread verifies too */
    p->threads = calloc(want ? want : 1, sizeof *p->threads);
    if (!p->es || !p->ok_decoded || !p->bad_sig || !p->threads)
        return -1;
    for (; p->nthreads < want; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, verifier, p) != 0)
            break;
    return 0;
}

static void pool_stop(vpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p->es);
    free(p->ok_decoded);
    free(p->bad_sig);
    tt_stored_buf_free(&p->wire);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->lock);
}

/* Hands the chunk's n entries to the pool. */
static void pool_begin(vpool *p, size_t n)
{
    pthread_mutex_lock(&p->lock);
    memset(p->bad_sig, 0, n);
    p->n = n;
    p->next = p->done = 0;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

/* Verifies what is left of the chunk here, then waits for the rest. */
static void pool_finish(vpool *p)
{
    pthread_mutex_lock(&p->lock);
    verify_some(p, p->generation);
    while (p->done < p->n)
        pthread_cond_wait(&p->finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

typedef struct audit {
    tt_ledger *l;
    MDB_txn *txn;
    tt_audit_report *r;
    const tt_verifier *keys;
    size_t nkeys;
    tt_merkle_builder tree;
    uint8_t prev[TT_HASH_SIZE];
} audit;

static tt_err bad(audit *a, uint64_t seq, tt_err code, const char *what)
{
    a->r->ok = 0;
    a->r->bad_seq = seq;
    a->r->bad_seq_known = 1;
    tt_fail(&a->r->why, code, "entry %llu: %s", (unsigned long long)seq, what);
    return code;
}

static tt_err bad_other(audit *a, tt_err code, const char *what)
{
    a->r->ok = 0;
    a->r->bad_seq_known = 0;
    tt_fail(&a->r->why, code, "%s", what);
    return code;
}

/* The index `db` must map `key` to `seq`. */
static int index_points_to(audit *a, tt_db db, const uint8_t key[TT_HASH_SIZE], uint64_t seq)
{
    MDB_val k = {TT_HASH_SIZE, (void *)key}, v;
    if (mdb_get(a->txn, a->l->dbi[db], &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return tt_get_u64be(v.mv_data) == seq;
}

static int merkle_matches(audit *a, uint64_t seq, const uint8_t leaf[TT_HASH_SIZE])
{
    tt_hash hashes[65];
    size_t n = 0;
    tt_merkle_builder_push(&a->tree, leaf, hashes, &n);
    uint64_t base = tt_merkle_stored_index(0, seq);
    struct tt_txn t = {a->l, a->txn, 0, 0, NULL};
    for (size_t i = 0; i < n; i++) {
        tt_hash stored;
        if (tt_merkle_read_txn(&t, base + i, stored) != TT_OK ||
            memcmp(stored, hashes[i], TT_HASH_SIZE) != 0)
            return 0;
    }
    return 1;
}

/* Decodes entry seq into *e; 0 when it is not there or does not decode (*why set). */
static int decode_entry(uint64_t seq, MDB_val *k, MDB_val *v, tt_entry *e, tt_err *code,
                        const char **why, tt_error *derr)
{
    if (k->mv_size != 8 || tt_get_u64be(k->mv_data) != seq) {
        *code = TT_ERR_BAD_SEQ, *why = "missing: the entries skip this number";
        return 0;
    }
    if (tt_entry_decode((tt_bytes){v->mv_size, v->mv_data}, e, derr) != TT_OK) {
        *code = TT_ERR_MALFORMED, *why = derr->message;
        return 0;
    }
    return 1;
}

/* Everything about one decoded entry but its signature, which the pool checks. *after_sig
 * says whether a failure comes after the signature in check order (a bad signature of the
 * same entry is then named instead). */
static tt_err check_entry(audit *a, uint64_t seq, MDB_val *v, const tt_entry *e,
                          tt_audit_entry_fn extra, void *extra_ctx, int *after_sig)
{
    tt_error derr;
    uint8_t hash[TT_HASH_SIZE], body_hash[TT_HASH_SIZE];
    tt_bytes bytes = {v->mv_size, v->mv_data};
    *after_sig = 0;
    if (e->seq != seq)
        return bad(a, seq, TT_ERR_BAD_SEQ, "its seq field names another entry");
    if (memcmp(e->prev, a->prev, TT_HASH_SIZE) != 0)
        return bad(a, seq, TT_ERR_BAD_CHAIN, "its prev is not the hash of the entry before it");
    *after_sig = 1;
    tt_entry_hash(bytes, hash);
    if (!index_points_to(a, TT_DB_HASHES, hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the hash index does not point to it");
    crypto_hash_sha256(body_hash, e->body.data, e->body.size);
    if (!index_points_to(a, TT_DB_BODIES, body_hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the body index does not point to it");
    if (!merkle_matches(a, seq, hash))
        return bad(a, seq, TT_ERR_BAD_PROOF, "a stored Merkle hash it wrote is wrong");
    if (extra && extra(extra_ctx, e, &derr) != TT_OK)
        return bad(a, seq, derr.code, derr.message);
    memcpy(a->prev, hash, TT_HASH_SIZE);
    return TT_OK;
}

/* Verifies the checkpoint stored under `size` against the current root. */
static tt_err check_checkpoint(audit *a, MDB_val *k, MDB_val *v)
{
    uint64_t size = tt_get_u64be(k->mv_data);
    tt_checkpoint cp;
    tt_error cerr;
    char msg[320];
    tt_bytes note = {v->mv_size, v->mv_data};
    tt_err rc;
    if (a->nkeys > 0) {
        rc = tt_checkpoint_open(note, a->keys, a->nkeys, &cp, &cerr);
    } else {
        size_t text_len = note.size;
        const uint8_t *sep = NULL;
        for (size_t i = note.size; i-- > 1;)
            if (note.data[i] == '\n' && note.data[i - 1] == '\n') {
                sep = note.data + i;
                break;
            }
        text_len = sep ? (size_t)(sep - note.data) : note.size;
        rc = tt_checkpoint_parse((tt_bytes){text_len, note.data}, &cp, &cerr);
    }
    if (rc != TT_OK) {
        snprintf(msg, sizeof msg, "checkpoint at size %llu: %.200s", (unsigned long long)size,
                 cerr.message);
        return size ? bad(a, size - 1, rc, msg) : bad_other(a, rc, msg);
    }
    uint8_t root[TT_HASH_SIZE];
    tt_merkle_builder_root(&a->tree, root);
    if (cp.size != size || memcmp(root, cp.root, TT_HASH_SIZE) != 0) {
        snprintf(msg, sizeof msg,
                 "the signed checkpoint of size %llu does not commit to these entries",
                 (unsigned long long)size);
        return size ? bad(a, size - 1, TT_ERR_BAD_PROOF, msg) : bad_other(a, TT_ERR_BAD_PROOF, msg);
    }
    if (a->nkeys > 0)
        a->r->checkpoints++;
    a->r->latest_checkpoint = size;
    return TT_OK;
}

/* Checks every checkpoint whose size is the current tree size. */
static tt_err checkpoints_at(audit *a, MDB_cursor *cps, MDB_val *ck, MDB_val *cv, int *more)
{
    while (*more && ck->mv_size == 8 && tt_get_u64be(ck->mv_data) == a->tree.size) {
        tt_err rc = check_checkpoint(a, ck, cv);
        if (rc != TT_OK)
            return rc;
        *more = mdb_cursor_get(cps, ck, cv, MDB_NEXT) == 0;
    }
    return TT_OK;
}

static tt_err check_totals(audit *a, uint64_t size, const uint8_t *last)
{
    MDB_stat st;
    MDB_val k = {4, "head"}, v;
    mdb_stat(a->txn, a->l->dbi[TT_DB_HASHES], &st);
    if (st.ms_entries != size)
        return bad_other(a, TT_ERR_AUDIT, "the hash index holds entries that are not in the log");
    mdb_stat(a->txn, a->l->dbi[TT_DB_BODIES], &st);
    if (st.ms_entries != size)
        return bad_other(a, TT_ERR_AUDIT, "the body index holds entries that are not in the log");
    mdb_stat(a->txn, a->l->dbi[TT_DB_MERKLE], &st);
    if (st.ms_entries != tt_merkle_stored_count(size))
        return bad_other(a, TT_ERR_AUDIT, "the Merkle store holds hashes no entry wrote");
    int rc = mdb_get(a->txn, a->l->dbi[TT_DB_META], &k, &v);
    if (size == 0 && rc == MDB_NOTFOUND)
        return TT_OK;
    if (rc != 0 || v.mv_size != 8 + TT_HASH_SIZE + 8 || tt_get_u64be(v.mv_data) != size ||
        memcmp((uint8_t *)v.mv_data + 8, last, TT_HASH_SIZE) != 0)
        return bad_other(a, TT_ERR_AUDIT, "the head record does not name the last entry");
    return TT_OK;
}

/* One chunk: n entries from `first`, the cursor at the first of them. Returns its first failure
 * (the report says which entry), *mrc the cursor's state after the chunk. */
static tt_err walk_chunk(audit *a, vpool *p, MDB_cursor *ents, MDB_cursor *cps, MDB_val *ck,
                         MDB_val *cv, int *more, uint64_t first, int *mrc, tt_audit_entry_fn extra,
                         void *extra_ctx)
{
    MDB_val ks[CHUNK], vs[CHUNK];
    size_t n = 0;
    tt_err dcode[1] = {TT_OK};
    const char *dwhy = NULL;
    tt_error derr;
    size_t dbad = CHUNK; /* the first entry that is missing or does not decode */
    size_t wire = 0;     /* the wire bytes of the chunk's deflated entries */
    for (; *mrc == 0 && n < CHUNK; n++) {
        if (mdb_cursor_get(ents, &ks[n], &vs[n], MDB_GET_CURRENT) != 0)
            break;
        tt_bytes stored = {vs[n].mv_size, vs[n].mv_data};
        if (stored.size > 0 && stored.data[0] == TT_STORED_DEFLATED)
            wire += tt_stored_size(stored);
        MDB_val tk, tv;
        *mrc = mdb_cursor_get(ents, &tk, &tv, MDB_NEXT);
    }
    if (wire > p->wire.cap) {
        uint8_t *nb = realloc(p->wire.data, wire);
        if (nb == NULL)
            return bad_other(a, TT_ERR_NOMEM, "out of memory for the audit's entries");
        p->wire.data = nb, p->wire.cap = wire;
    }
    for (size_t i = 0, used = 0; i < n; i++) {
        tt_bytes stored = {vs[i].mv_size, vs[i].mv_data};
        size_t len;
        p->ok_decoded[i] = 0;
        if (dbad != CHUNK)
            continue;
        if (stored.size > 0 && stored.data[0] == TT_STORED_DEFLATED) {
            if (tt_stored_unpack(stored, p->wire.data + used, p->wire.cap - used, &len, &derr) !=
                TT_OK) {
                dbad = i, dcode[0] = TT_ERR_MALFORMED, dwhy = derr.message;
                continue;
            }
            vs[i].mv_data = p->wire.data + used, vs[i].mv_size = len;
            used += len;
        }
        p->ok_decoded[i] = decode_entry(first + i, &ks[i], &vs[i], &p->es[i], dcode, &dwhy, &derr);
        if (!p->ok_decoded[i])
            dbad = i;
    }
    pool_begin(p, n);
    tt_err rc = TT_OK;
    size_t at = n;
    int after_sig = 0;
    for (size_t i = 0; i < n && i < dbad; i++) {
        rc = check_entry(a, first + i, &vs[i], &p->es[i], extra, extra_ctx, &after_sig);
        if (rc == TT_OK)
            rc = checkpoints_at(a, cps, ck, cv, more);
        if (rc != TT_OK) {
            at = i;
            break;
        }
    }
    pool_finish(p);
    for (size_t i = 0; i < n; i++) /* a bad signature met before the walk's own failure */
        if (p->bad_sig[i] && (i < at || (i == at && after_sig)) && i < dbad + 1) {
            a->r->checked = first + i;
            return bad(a, first + i, TT_ERR_BAD_SIGNATURE, "its signature does not verify");
        }
    if (rc != TT_OK) {
        a->r->checked = first + at;
        return rc;
    }
    if (dbad < n) {
        a->r->checked = first + dbad;
        return bad(a, first + dbad, dcode[0], dwhy);
    }
    a->r->checked = first + n;
    return TT_OK;
}

static tt_err walk(audit *a, MDB_cursor *ents, MDB_cursor *cps, tt_audit_entry_fn extra,
                   void *extra_ctx, tt_progress_fn progress, void *pctx)
{
    MDB_val k, v, ck, cv;
    vpool p;
    if (pool_start(&p) != 0) {
        pool_stop(&p);
        return bad_other(a, TT_ERR_NOMEM, "out of memory for the audit's verifiers");
    }
    int more = mdb_cursor_get(cps, &ck, &cv, MDB_FIRST) == 0;
    tt_err rc = checkpoints_at(a, cps, &ck, &cv, &more);
    uint64_t seq = 0;
    int mrc = mdb_cursor_get(ents, &k, &v, MDB_FIRST);
    while (rc == TT_OK && mrc == 0) {
        rc = walk_chunk(a, &p, ents, cps, &ck, &cv, &more, seq, &mrc, extra, extra_ctx);
        seq = a->r->checked;
        if (progress)
            progress(pctx, seq, a->r->entries);
    }
    pool_stop(&p);
    if (rc != TT_OK)
        return rc;
    if (seq != a->r->entries)
        return bad_other(a, TT_ERR_AUDIT, "the entry count does not match the entries");
    if (more)
        return bad_other(a, TT_ERR_AUDIT, "a checkpoint names a size the log never had");
    if (progress)
        progress(pctx, seq, a->r->entries);
    return check_totals(a, seq, a->prev);
}

tt_err tt_audit(tt_ledger *l, const tt_verifier *keys, size_t nkeys, tt_audit_entry_fn extra,
                void *extra_ctx, tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                tt_error *err)
{
    memset(r, 0, sizeof *r);
    audit a = {.l = l, .r = r, .keys = keys, .nkeys = nkeys};
    tt_merkle_builder_init(&a.tree);
    tt_err rc = tt_rtxn_begin(l, &a.txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_cursor *ents = NULL, *cps = NULL;
    MDB_stat st;
    int mrc = mdb_cursor_open(a.txn, l->dbi[TT_DB_ENTRIES], &ents);
    if (mrc == 0)
        mrc = mdb_cursor_open(a.txn, l->dbi[TT_DB_CHECKPOINTS], &cps);
    if (mrc == 0)
        mrc = mdb_stat(a.txn, l->dbi[TT_DB_ENTRIES], &st);
    if (mrc != 0) {
        rc = tt_mdb_fail(err, mrc, "cannot read the ledger for audit");
        goto out;
    }
    r->entries = st.ms_entries;
    r->ok = 1;
    walk(&a, ents, cps, extra, extra_ctx, progress, progress_ctx);
    tt_merkle_builder_root(&a.tree, r->root);
    if (r->ok && nkeys > 0 && r->checkpoints == 0)
        bad_other(&a, TT_ERR_UNKNOWN_KEY, "no signed checkpoint was found to verify");
out:
    if (cps)
        mdb_cursor_close(cps);
    if (ents)
        mdb_cursor_close(ents);
    tt_rtxn_end(l, a.txn);
    return rc;
}
