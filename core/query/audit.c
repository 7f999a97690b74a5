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
 * Everything about an entry that does not depend on the entries before it
 * is done on every core: the walk reads a chunk of stored entries, and a
 * pool of threads (one per core, the walk among them) inflates, decodes
 * and hashes each and verifies its signature, a block at a time. This
 * thread checks each entry in order as soon as its block is ready (the
 * chain, the indexes, the Merkle tree, checkpoints and the replay), and
 * prepares blocks itself whenever the one it has reached is not ready.
 * Checking in order keeps the first entry that disagrees the one named.
 */
#include "tcmtrace/audit.h"
#include "tcmtrace/sha256.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/ledger_internal.h"
#include "tcmtrace/util.h"

#define CHUNK 2048
#define BLOCK 16 /* entries a thread takes at a time */

/* What the pool makes of one entry of a chunk, for the walk to check in order. */
typedef struct prepared {
    tt_entry e;
    uint8_t hash[TT_HASH_SIZE];      /* of the entry's bytes, inflated */
    uint8_t body_hash[TT_HASH_SIZE]; /* of its body */
    uint8_t decoded;                 /* 0: missing or does not decode (err says which) */
    uint8_t bad_sig;                 /* decoded, and the signature does not verify */
    tt_error err;
} prepared;

/*
 * A chunk's entries, prepared (inflated, decoded, hashed, their signatures verified) by
 * whoever takes the next block: the pool's threads, and the walk whenever the block it has
 * reached is not ready. All that the threads share is taken and given back under the lock.
 */
typedef struct vpool {
    pthread_mutex_t lock;
    pthread_cond_t work, finished;
    int stop;
    uint64_t first;   /* the chunk's first seq */
    MDB_val *ks, *vs; /* the chunk's stored entries (in the walk's read transaction) */
    size_t *off;      /* where a deflated entry is inflated in wire */
    prepared *pre;
    uint8_t *block_done;
    size_t n, next, done;     /* entries in the chunk, taken, prepared (or skipped) */
    uint64_t prepare_ns;      /* CPU every thread spent preparing, this audit */
    uint64_t verify_ns;       /* the part of it in tt_event_verify */
    uint64_t walk_prepare_ns; /* the walk's share of it */
    pthread_t *threads;
    size_t nthreads;
    tt_stored_buf wire; /* the chunk's deflated entries, inflated */
    const char *origin; /* the ledger every event is signed for */
    int legacy;         /* its genesis is signed v1 (a ledger made before events named it) */
} vpool;

static uint64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Entry i of the chunk: missing, undecodable, or decoded with its hashes (its signature is
 * verified after, with the rest of its block's). */
static void prepare(vpool *p, size_t i)
{
    prepared *x = &p->pre[i];
    MDB_val *k = &p->ks[i];
    tt_bytes bytes = {p->vs[i].mv_size, p->vs[i].mv_data};
    uint64_t seq = p->first + i;
    x->decoded = x->bad_sig = 0;
    if (k->mv_size != 8 || tt_get_u64be(k->mv_data) != seq) {
        tt_fail(&x->err, TT_ERR_BAD_SEQ, "missing: the entries skip this number");
        return;
    }
    if (bytes.size > 0 && bytes.data[0] == TT_STORED_DEFLATED) {
        uint8_t *at = p->wire.data + p->off[i];
        size_t len;
        if (tt_stored_unpack(bytes, at, tt_stored_size(bytes), &len, &x->err) != TT_OK) {
            x->err.code = TT_ERR_MALFORMED;
            return;
        }
        bytes = (tt_bytes){len, at};
    }
    if (tt_entry_decode(bytes, &x->e, &x->err) != TT_OK) {
        x->err.code = TT_ERR_MALFORMED;
        return;
    }
    x->decoded = 1;
    tt_entry_hash(bytes, x->hash);
    tt_sha256(x->body_hash, x->e.body.data, x->e.body.size);
}

/* Prepares the next block of the chunk, if one is left: 1 when it did. Called with the lock
 * held, which it lets go while it works. The walk counts its own share in p->walk_prepare_ns.
 * The block's entries are inflated, decoded and hashed first, then their signatures verified
 * one after another: verification's tables stay in the caches from one to the next instead
 * of meeting zlib's and the decoder's between each (and its CPU is read twice a block, not
 * twice an entry). */
static int take_block(vpool *p, int walk)
{
    if (p->next >= p->n)
        return 0;
    size_t from = p->next, to = from + BLOCK < p->n ? from + BLOCK : p->n;
    p->next = to;
    pthread_mutex_unlock(&p->lock);
    uint64_t c0 = thread_cpu_ns();
    for (size_t i = from; i < to; i++)
        prepare(p, i);
    uint64_t v0 = thread_cpu_ns();
    for (size_t i = from; i < to; i++) {
        prepared *x = &p->pre[i];
        if (x->decoded)
            x->bad_sig = tt_event_verify(p->origin, x->e.body, x->e.actor, x->e.sig) != TT_OK &&
                         !(p->legacy &&
                           tt_event_verify(NULL, x->e.body, x->e.actor, x->e.sig) == TT_OK);
    }
    uint64_t v1 = thread_cpu_ns(), verify = v1 - v0;
    uint64_t spent = v1 - c0;
    pthread_mutex_lock(&p->lock);
    p->prepare_ns += spent;
    p->verify_ns += verify;
    if (walk)
        p->walk_prepare_ns += spent;
    p->block_done[from / BLOCK] = 1;
    p->done += to - from;
    pthread_cond_broadcast(&p->finished);
    return 1;
}

static void *verifier(void *arg)
{
    vpool *p = arg;
    tt_thread_name("tt-audit");
    pthread_mutex_lock(&p->lock);
    while (!p->stop)
        if (!take_block(p, 0))
            pthread_cond_wait(&p->work, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int pool_start(vpool *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->ks = calloc(CHUNK, sizeof *p->ks);
    p->vs = calloc(CHUNK, sizeof *p->vs);
    p->off = calloc(CHUNK, sizeof *p->off);
    p->pre = calloc(CHUNK, sizeof *p->pre);
    p->block_done = calloc(CHUNK / BLOCK, 1);
    size_t want = tt_work_threads() - 1; /* the walk prepares too, whenever it would wait */
    p->threads = calloc(want ? want : 1, sizeof *p->threads);
    if (!p->ks || !p->vs || !p->off || !p->pre || !p->block_done || !p->threads)
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
    free(p->ks);
    free(p->vs);
    free(p->off);
    free(p->pre);
    free(p->block_done);
    tt_stored_buf_free(&p->wire);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->lock);
}

/* Hands the chunk's n entries from seq `first` to the pool. */
static void pool_begin(vpool *p, uint64_t first, size_t n)
{
    pthread_mutex_lock(&p->lock);
    memset(p->block_done, 0, CHUNK / BLOCK);
    p->first = first;
    p->n = n;
    p->next = p->done = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

/* Waits until block b is prepared, preparing blocks meanwhile. */
static void pool_wait(vpool *p, size_t b)
{
    pthread_mutex_lock(&p->lock);
    while (!p->block_done[b])
        if (!take_block(p, 1))
            pthread_cond_wait(&p->finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* Ends the chunk: what nobody has taken is skipped when the walk stopped early, else
 * prepared here; then waits for the blocks other threads hold. */
static void pool_finish(vpool *p, int stopped)
{
    pthread_mutex_lock(&p->lock);
    if (stopped) {
        p->done += p->n - p->next;
        p->next = p->n;
    }
    while (p->done < p->n)
        if (!take_block(p, 1))
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
    const char *origin;
    int legacy;
    tt_audit_state_fn state; /* the replay's state map root, or NULL */
    void *state_ctx;
    uint64_t state_since;    /* 1 + the size of the first checkpoint with a state line */
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
    struct tt_txn t = {a->l, a->txn, 0, 0, NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        tt_hash stored;
        if (tt_merkle_read_txn(&t, base + i, stored) != TT_OK ||
            memcmp(stored, hashes[i], TT_HASH_SIZE) != 0)
            return 0;
    }
    return 1;
}

/* Everything about one prepared entry, in the order a reader would check it. */
static tt_err check_entry(audit *a, uint64_t seq, const prepared *x, tt_audit_entry_fn extra,
                          void *extra_ctx)
{
    tt_error derr;
    const tt_entry *e = &x->e;
    if (e->seq != seq)
        return bad(a, seq, TT_ERR_BAD_SEQ, "its seq field names another entry");
    if (memcmp(e->prev, a->prev, TT_HASH_SIZE) != 0)
        return bad(a, seq, TT_ERR_BAD_CHAIN, "its prev is not the hash of the entry before it");
    if (x->bad_sig)
        return bad(a, seq, TT_ERR_BAD_SIGNATURE, "its signature does not verify");
    if (!index_points_to(a, TT_DB_HASHES, x->hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the hash index does not point to it");
    if (!index_points_to(a, TT_DB_BODIES, x->body_hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the body index does not point to it");
    if (!merkle_matches(a, seq, x->hash))
        return bad(a, seq, TT_ERR_BAD_PROOF, "a stored Merkle hash it wrote is wrong");
    if (extra && extra(extra_ctx, e, &derr) != TT_OK)
        return bad(a, seq, derr.code, derr.message);
    memcpy(a->prev, x->hash, TT_HASH_SIZE);
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
    if (a->state && (cp.has_state || a->state_since)) {
        uint8_t mroot[TT_HASH_SIZE];
        tt_error serr;
        if (!cp.has_state) {
            snprintf(msg, sizeof msg,
                     "the checkpoint of size %llu carries no state map root, though the one of "
                     "size %llu did",
                     (unsigned long long)size, (unsigned long long)(a->state_since - 1));
            return size ? bad(a, size - 1, TT_ERR_BAD_PROOF, msg)
                        : bad_other(a, TT_ERR_BAD_PROOF, msg);
        }
        if (a->state(a->state_ctx, size, mroot, &serr) != TT_OK) {
            snprintf(msg, sizeof msg, "the state map of size %llu cannot be replayed: %.200s",
                     (unsigned long long)size, serr.message);
            return bad_other(a, serr.code, msg);
        }
        if (memcmp(mroot, cp.state_root, TT_HASH_SIZE) != 0) {
            snprintf(msg, sizeof msg,
                     "the state map root in the checkpoint of size %llu is not the one replaying "
                     "the entries gives",
                     (unsigned long long)size);
            return size ? bad(a, size - 1, TT_ERR_BAD_PROOF, msg)
                        : bad_other(a, TT_ERR_BAD_PROOF, msg);
        }
        if (!a->state_since)
            a->state_since = size + 1;
        a->r->state_roots++;
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

/* One chunk: up to CHUNK entries from `first`, the cursor at the first of them. The pool
 * prepares them while this thread checks each in order as soon as its block is ready.
 * Returns the first failure (the report says which entry), *mrc the cursor's state after. */
static tt_err walk_chunk(audit *a, vpool *p, MDB_cursor *ents, MDB_cursor *cps, MDB_val *ck,
                         MDB_val *cv, int *more, uint64_t first, int *mrc, tt_audit_entry_fn extra,
                         void *extra_ctx)
{
    size_t n = 0, wire = 0; /* the wire bytes of the chunk's deflated entries */
    for (; *mrc == 0 && n < CHUNK; n++) {
        if (mdb_cursor_get(ents, &p->ks[n], &p->vs[n], MDB_GET_CURRENT) != 0)
            break;
        tt_bytes stored = {p->vs[n].mv_size, p->vs[n].mv_data};
        p->off[n] = wire;
        /* a damaged header's size is not believed: unpacking it fails before it writes */
        if (stored.size > 0 && stored.data[0] == TT_STORED_DEFLATED &&
            tt_stored_size(stored) <= TT_ENTRY_LIMIT)
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
    pool_begin(p, first, n);
    tt_err rc = TT_OK;
    size_t i = 0;
    for (; i < n; i++) {
        if (i % BLOCK == 0)
            pool_wait(p, i / BLOCK);
        const prepared *x = &p->pre[i];
        rc = x->decoded ? check_entry(a, first + i, x, extra, extra_ctx)
                        : bad(a, first + i, x->err.code, x->err.message);
        if (rc == TT_OK)
            rc = checkpoints_at(a, cps, ck, cv, more);
        if (rc != TT_OK)
            break;
    }
    pool_finish(p, rc != TT_OK);
    a->r->checked = first + i;
    return rc;
}

static tt_err walk(audit *a, MDB_cursor *ents, MDB_cursor *cps, tt_audit_entry_fn extra,
                   void *extra_ctx, tt_progress_fn progress, void *pctx)
{
    MDB_val k, v, ck, cv;
    vpool p;
    uint64_t c0 = thread_cpu_ns();
    if (pool_start(&p) != 0) {
        pool_stop(&p);
        return bad_other(a, TT_ERR_NOMEM, "out of memory for the audit's verifiers");
    }
    p.origin = a->origin;
    p.legacy = a->legacy;
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
    a->r->prepare_cpu_ns = p.prepare_ns;
    a->r->verify_cpu_ns = p.verify_ns;
    a->r->walk_cpu_ns = thread_cpu_ns() - c0 - p.walk_prepare_ns;
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
    return tt_audit_with_state(l, keys, nkeys, extra, NULL, extra_ctx, progress, progress_ctx, r,
                               err);
}

tt_err tt_audit_with_state(tt_ledger *l, const tt_verifier *keys, size_t nkeys,
                           tt_audit_entry_fn extra, tt_audit_state_fn state, void *extra_ctx,
                           tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                           tt_error *err)
{
    memset(r, 0, sizeof *r);
    audit a = {.l = l, .r = r, .keys = keys, .nkeys = nkeys, .state = state, .state_ctx = extra_ctx};
    tt_merkle_builder_init(&a.tree);
    /* the origin events are signed for; a genesis signed v1 makes it a ledger of before */
    char origin[256] = "";
    {
        char *o = NULL;
        size_t olen = 0;
        tt_error e2;
        if (tt_ledger_meta_get(l, "origin", &o, &olen, &e2) == TT_OK && olen < sizeof origin) {
            memcpy(origin, o, olen);
            origin[olen] = '\0';
        }
        free(o);
        /* a ledger that keeps no origin of its own: its signer's, else the trusted key's name */
        if (origin[0] == '\0')
            snprintf(origin, sizeof origin, "%s", l->origin[0] || nkeys == 0 ? l->origin : keys[0].name);
        uint8_t *g = NULL;
        size_t glen = 0;
        tt_entry ge;
        if (tt_ledger_entry(l, 0, &g, &glen, &e2) == TT_OK &&
            tt_entry_decode((tt_bytes){glen, g}, &ge, &e2) == TT_OK &&
            tt_event_verify(origin, ge.body, ge.actor, ge.sig) != TT_OK &&
            tt_event_verify(NULL, ge.body, ge.actor, ge.sig) == TT_OK)
            a.legacy = 1;
        free(g);
    }
    a.origin = origin;
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
