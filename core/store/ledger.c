/*
 * ledger.c: the LMDB store.
 *
 * Invariants kept by every committed write transaction:
 *   - entries hold seq 0..size-1 with no gap; entry seq's prev is the entry
 *     hash of seq-1 (zeros for 0); meta "head" names size and last hash;
 *   - hashes and bodies index every entry exactly once;
 *   - merkle holds exactly tt_merkle_stored_count(size) hashes;
 *   - a checkpoint stored under size N signs the root of the first N entries.
 * All of it is derived from the entries and rechecked by audit.
 *
 * Growth: LMDB fails a write with MDB_MAP_FULL when the map is too small.
 * Before each write the map is grown when less than a margin is free, and a
 * write that still hits MAP_FULL is aborted, the map doubled and the whole
 * batch replayed — the rules callback sees a fresh transaction each time.
 */
#define _GNU_SOURCE
#include "store/ledger_internal.h"
#include "tcmtrace/scans.h"
#include "tcmtrace/sha256.h"
#include "tcmtrace/statemap.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "tcmtrace/label.h"
#include "tcmtrace/note.h"

#include <jansson.h>

static const char *const db_names[TT_DB_COUNT] = {
    "entries", "hashes",       "bodies", "merkle",       "checkpoints", "meta",
    "batches", "batch_events", "children", "actors", "actor_events", "state", "cosigs",
    "statemap",
};

#define INITIAL_MAP (64u << 20)
#define HEAD_SIZE (8 + TT_HASH_SIZE + 8)
#define MAX_RETRIES 8

tt_err tt_mdb_fail(tt_error *err, int rc, const char *what)
{
    if (rc == ENOSPC)
        return tt_fail(err, TT_ERR_DISK_FULL, "%s: the disk holding the ledger is full", what);
    if (rc == EACCES || rc == EROFS)
        return tt_fail(err, TT_ERR_IO, "%s: %s", what, mdb_strerror(rc));
    return tt_fail(err, TT_ERR_STORE, "%s: %s", what, mdb_strerror(rc));
}

static void key_u64(uint8_t buf[8], MDB_val *k, uint64_t v)
{
    tt_put_u64be(buf, v);
    k->mv_size = 8;
    k->mv_data = buf;
}

tt_err tt_rtxn_begin(tt_ledger *l, MDB_txn **txn, tt_error *err)
{
    for (int tries = 0; tries < MAX_RETRIES; tries++) {
        pthread_rwlock_rdlock(&l->resize_lock);
        int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return TT_OK;
        pthread_rwlock_unlock(&l->resize_lock);
        if (rc != MDB_MAP_RESIZED)
            return tt_mdb_fail(err, rc, "cannot begin a read transaction");
        /* Another process grew the map: adopt its size, with no txn open. */
        pthread_rwlock_wrlock(&l->resize_lock);
        mdb_env_set_mapsize(l->env, 0);
        pthread_rwlock_unlock(&l->resize_lock);
    }
    return tt_fail(err, TT_ERR_STORE, "the ledger map keeps changing size");
}

void tt_rtxn_end(tt_ledger *l, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&l->resize_lock);
}

static tt_err take_writer_lock(tt_ledger *l, tt_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/writer.lock", l->dir);
    l->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->lock_fd < 0)
        return tt_fail(err, TT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return tt_fail(err, TT_ERR_BUSY,
                       "another process is writing the ledger in %s; stop it first", l->dir);
    return TT_OK;
}

static tt_err open_dbs(tt_ledger *l, tt_error *err)
{
    MDB_txn *txn;
    int ro = l->flags & TT_LEDGER_RDONLY;
    int rc = mdb_txn_begin(l->env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return tt_mdb_fail(err, rc, "cannot open the ledger databases");
    for (int i = 0; i < TT_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, db_names[i], ro ? 0 : MDB_CREATE, &l->dbi[i]);
        if (rc == MDB_NOTFOUND && i == TT_DB_COSIGS) { /* never cosigned, read-only: none */
            l->no_cosigs = 1;
            rc = 0;
        }
        if (rc == MDB_NOTFOUND && i == TT_DB_STATEMAP) { /* older than the map, read-only */
            l->no_statemap = 1;
            rc = 0;
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND && i > 0) /* a ledger, but an older layout's */
                return tt_fail(err, TT_ERR_AUDIT,
                               "%s was left by an older tcmtraced (it has no \"%s\" "
                               "database): stop the daemon and run 'tcmtrace rebuild %s' once",
                               l->dir, db_names[i], l->dir);
            if (rc == MDB_NOTFOUND)
                return tt_fail(err, TT_ERR_NOT_FOUND, "%s holds no tcmtrace ledger", l->dir);
            return tt_mdb_fail(err, rc, "cannot open a ledger database");
        }
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? TT_OK : tt_mdb_fail(err, rc, "cannot open the ledger databases");
}

tt_err tt_ledger_open(const char *dir, unsigned flags, tt_ledger **out, tt_error *err)
{
    return tt_ledger_open_with(dir, flags, NULL, out, err);
}

tt_err tt_ledger_open_with(const char *dir, unsigned flags, const tt_ledger_opts *opts,
                           tt_ledger **out, tt_error *err)
{
    tt_err rc;
    int mrc;
    if (sodium_init() < 0)
        return tt_fail(err, TT_ERR_IO, "libsodium failed to initialise");
    if ((flags & TT_LEDGER_CREATE) && !(flags & TT_LEDGER_RDONLY) && mkdir(dir, 0700) != 0 &&
        errno != EEXIST)
        return tt_fail(err, TT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tt_fail(err, TT_ERR_NOT_FOUND, "ledger directory %s does not exist", dir);
    tt_ledger *l = calloc(1, sizeof *l);
    if (l == NULL || (l->dir = strdup(dir)) == NULL) {
        free(l);
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    }
    l->flags = flags;
    l->lock_fd = -1;
    pthread_rwlock_init(&l->resize_lock, NULL);
    pthread_mutex_init(&l->scan_open, NULL);
    pthread_rwlock_init(&l->scan_resize, NULL);
    if (!(flags & TT_LEDGER_RDONLY) && (rc = take_writer_lock(l, err)) != TT_OK)
        goto fail;
    if ((mrc = mdb_env_create(&l->env)) != 0) {
        rc = tt_mdb_fail(err, mrc, "cannot create the LMDB environment");
        goto fail;
    }
    mdb_env_set_maxdbs(l->env, TT_DB_COUNT + 2);
    mdb_env_set_maxreaders(l->env, 512);
    mdb_env_set_mapsize(l->env, opts && opts->initial_map ? opts->initial_map : INITIAL_MAP);
    unsigned mflags = MDB_NOTLS;
    if (flags & TT_LEDGER_RDONLY)
        mflags |= MDB_RDONLY;
    if (flags & (TT_LEDGER_NOSYNC | TT_LEDGER_SCRATCH))
        mflags |= MDB_NOSYNC;
    /* A scratch store is written through its map, with no copies of pages to write back (see
     * tt_scratch_reserve), and only ever used by one thread of one process: no lock file,
     * which LMDB would map too and write into before any space is reserved. */
    if (flags & TT_LEDGER_SCRATCH)
        mflags |= MDB_WRITEMAP | MDB_MAPASYNC | MDB_NOLOCK;
    if ((mrc = mdb_env_open(l->env, dir, mflags, 0600)) != 0) {
        rc = mrc == ENOENT ? tt_fail(err, TT_ERR_NOT_FOUND, "%s holds no tcmtrace ledger", dir)
                           : tt_mdb_fail(err, mrc, "cannot open the ledger");
        goto fail;
    }
    /* The file may be larger than our initial map: adopt its size. */
    mdb_env_set_mapsize(l->env, 0);
    /* a scratch store's file is written through the map: room first (tt_scratch_reserve) */
    if ((flags & TT_LEDGER_SCRATCH) && (rc = tt_scratch_reserve(l, 1u << 20, err)) != TT_OK)
        goto fail;
    if ((rc = open_dbs(l, err)) != TT_OK)
        goto fail;
    l->uid = tt_jcache_uid();
    *out = l;
    return TT_OK;
fail:
    tt_ledger_close(l);
    return rc;
}

void tt_ledger_close(tt_ledger *l)
{
    if (l == NULL)
        return;
    if (l->env)
        mdb_env_close(l->env);
    if (l->scan_env)
        mdb_env_close(l->scan_env);
    pthread_mutex_destroy(&l->scan_open);
    pthread_rwlock_destroy(&l->scan_resize);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    pthread_rwlock_destroy(&l->resize_lock);
    tt_keypair_wipe(&l->log_key);
    free(l->dir);
    free(l);
}

const char *tt_ledger_dir(const tt_ledger *l)
{
    return l->dir;
}

/* Head: size, last hash, last time. Absent on an empty ledger. */
static tt_err read_head(tt_ledger *l, MDB_txn *txn, uint64_t *size, uint8_t hash[TT_HASH_SIZE],
                        uint64_t *time_ms, tt_error *err)
{
    MDB_val k = {4, "head"}, v;
    int rc = mdb_get(txn, l->dbi[TT_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *size = 0;
        memset(hash, 0, TT_HASH_SIZE);
        *time_ms = 0;
        return TT_OK;
    }
    if (rc != 0)
        return tt_mdb_fail(err, rc, "cannot read the ledger head");
    if (v.mv_size != HEAD_SIZE)
        return tt_fail(err, TT_ERR_STORE, "the ledger head record is damaged");
    const uint8_t *p = v.mv_data;
    *size = tt_get_u64be(p);
    memcpy(hash, p + 8, TT_HASH_SIZE);
    *time_ms = tt_get_u64be(p + 8 + TT_HASH_SIZE);
    return TT_OK;
}

/* The derived-state digest recorded with the head (zero for a new ledger). */
static tt_err read_digest(tt_ledger *l, MDB_txn *txn, uint8_t out[TT_DIGEST_SIZE], tt_error *err)
{
    MDB_val k = {7, "derived"}, v;
    int rc = mdb_get(txn, l->dbi[TT_DB_META], &k, &v);
    memset(out, 0, TT_DIGEST_SIZE);
    if (rc == MDB_NOTFOUND)
        return TT_OK;
    if (rc != 0 || v.mv_size != TT_DIGEST_SIZE)
        return rc ? tt_mdb_fail(err, rc, "cannot read the derived-state digest")
                  : tt_fail(err, TT_ERR_STORE, "the derived-state digest is damaged");
    memcpy(out, v.mv_data, TT_DIGEST_SIZE);
    return TT_OK;
}

tt_err tt_ledger_head(tt_ledger *l, uint64_t *size, uint8_t last_hash[TT_HASH_SIZE], tt_error *err)
{
    MDB_txn *txn;
    uint64_t t;
    uint8_t h[TT_HASH_SIZE];
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = read_head(l, txn, size, h, &t, err);
    if (rc == TT_OK && last_hash)
        memcpy(last_hash, h, TT_HASH_SIZE);
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_ledger_entry(tt_ledger *l, uint64_t seq, uint8_t **data, size_t *len, tt_error *err)
{
    MDB_txn *txn;
    uint8_t kb[8];
    MDB_val k, v;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    key_u64(kb, &k, seq);
    int mrc = mdb_get(txn, l->dbi[TT_DB_ENTRIES], &k, &v);
    if (mrc == MDB_NOTFOUND)
        rc =
            tt_fail(err, TT_ERR_NOT_FOUND, "the ledger has no entry %llu", (unsigned long long)seq);
    else if (mrc != 0)
        rc = tt_mdb_fail(err, mrc, "cannot read an entry");
    else {
        tt_bytes stored = {v.mv_size, v.mv_data};
        size_t cap = tt_stored_size(stored);
        if (cap > TT_ENTRY_LIMIT)
            rc = tt_fail(err, TT_ERR_STORE, "entry %llu is damaged in the store",
                         (unsigned long long)seq);
        else if ((*data = malloc(cap ? cap : 1)) == NULL)
            rc = tt_fail(err, TT_ERR_NOMEM, NULL);
        else if ((rc = tt_stored_unpack(stored, *data, cap, len, err)) != TT_OK) {
            if (rc == TT_ERR_MALFORMED)
                rc = tt_fail(err, TT_ERR_STORE,
                             "entry %llu is damaged in the store (its body does not inflate): "
                             "run tcmtrace audit",
                             (unsigned long long)seq);
            free(*data);
            *data = NULL;
        }
    }
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_ledger_find_hash(tt_ledger *l, const uint8_t hash[TT_HASH_SIZE], uint64_t *seq,
                           tt_error *err)
{
    MDB_txn *txn;
    MDB_val k = {TT_HASH_SIZE, (void *)hash}, v;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    int mrc = mdb_get(txn, l->dbi[TT_DB_HASHES], &k, &v);
    if (mrc == MDB_NOTFOUND)
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "no entry has that hash");
    else if (mrc != 0)
        rc = tt_mdb_fail(err, mrc, "cannot read the hash index");
    else if (v.mv_size != 8)
        rc = tt_fail(err, TT_ERR_STORE, "the hash index is damaged");
    else
        *seq = tt_get_u64be(v.mv_data);
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_merkle_read_txn(void *ctx, uint64_t index, uint8_t out[TT_HASH_SIZE])
{
    struct tt_txn *t = ctx;
    uint8_t kb[8];
    MDB_val k, v;
    key_u64(kb, &k, index);
    int rc = mdb_get(t->txn, t->ledger->dbi[TT_DB_MERKLE], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TT_ERR_NOT_FOUND;
    if (rc != 0)
        return TT_ERR_STORE;
    if (v.mv_size != TT_HASH_SIZE)
        return TT_ERR_STORE;
    memcpy(out, v.mv_data, TT_HASH_SIZE);
    return TT_OK;
}

/* Runs a Merkle computation against a read snapshot, checking sizes. */
typedef tt_err (*merkle_op)(struct tt_txn *t, uint64_t a, uint64_t b, void *out, size_t *len);

static tt_err with_tree(tt_ledger *l, uint64_t a, uint64_t b, uint64_t need, merkle_op op,
                        void *out, size_t *len, tt_error *err)
{
    MDB_txn *txn;
    uint64_t size, t;
    uint8_t h[TT_HASH_SIZE];
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = read_head(l, txn, &size, h, &t, err);
    if (rc == TT_OK && need > size)
        rc = tt_fail(err, TT_ERR_RANGE, "the ledger has %llu entries, fewer than %llu",
                     (unsigned long long)size, (unsigned long long)need);
    if (rc == TT_OK) {
        struct tt_txn tx = {l, txn, 0, 0, NULL, NULL};
        rc = op(&tx, a, b, out, len);
        if (rc == TT_ERR_RANGE)
            tt_fail(err, rc, "sizes %llu and %llu do not make a proof", (unsigned long long)a,
                    (unsigned long long)b);
        else if (rc != TT_OK)
            tt_fail(err, rc, "the Merkle tree store is damaged or incomplete");
    }
    tt_rtxn_end(l, txn);
    return rc;
}

static tt_err op_root(struct tt_txn *t, uint64_t a, uint64_t b, void *out, size_t *len)
{
    (void)b;
    (void)len;
    return tt_merkle_root(a, tt_merkle_read_txn, t, out);
}

static tt_err op_inclusion(struct tt_txn *t, uint64_t a, uint64_t b, void *out, size_t *len)
{
    return tt_merkle_inclusion_proof(a, b, tt_merkle_read_txn, t, out, len);
}

static tt_err op_consistency(struct tt_txn *t, uint64_t a, uint64_t b, void *out, size_t *len)
{
    return tt_merkle_consistency_proof(a, b, tt_merkle_read_txn, t, out, len);
}

static tt_err op_builder(struct tt_txn *t, uint64_t a, uint64_t b, void *out, size_t *len)
{
    (void)b;
    (void)len;
    tt_merkle_builder *mb = out;
    tt_merkle_builder_init(mb);
    uint64_t before = 0;
    for (int level = 63; level >= 0; level--) {
        if (!((a >> level) & 1))
            continue;
        tt_err rc = tt_merkle_read_txn(t, tt_merkle_stored_index((unsigned)level, before >> level),
                                       mb->stack[mb->depth]);
        if (rc != TT_OK)
            return rc;
        mb->depth++;
        before += (uint64_t)1 << level;
    }
    mb->size = a;
    return TT_OK;
}

tt_err tt_ledger_builder(tt_ledger *l, uint64_t size, tt_merkle_builder *b, tt_error *err)
{
    return with_tree(l, size, 0, size, op_builder, b, NULL, err);
}

tt_err tt_ledger_root(tt_ledger *l, uint64_t size, uint8_t root[TT_HASH_SIZE], tt_error *err)
{
    return with_tree(l, size, 0, size, op_root, root, NULL, err);
}

tt_err tt_ledger_inclusion_proof(tt_ledger *l, uint64_t seq, uint64_t size, tt_hash *proof,
                                 size_t *len, tt_error *err)
{
    if (seq >= size)
        return tt_fail(err, TT_ERR_RANGE, "entry %llu is not in a tree of %llu entries",
                       (unsigned long long)seq, (unsigned long long)size);
    return with_tree(l, seq, size, size, op_inclusion, proof, len, err);
}

tt_err tt_ledger_consistency_proof(tt_ledger *l, uint64_t size1, uint64_t size2, tt_hash *proof,
                                   size_t *len, tt_error *err)
{
    if (size1 == 0 || size1 > size2)
        return tt_fail(err, TT_ERR_RANGE, "a consistency proof needs 0 < size1 <= size2");
    return with_tree(l, size1, size2, size2, op_consistency, proof, len, err);
}

tt_err tt_ledger_checkpoint(tt_ledger *l, uint64_t size, char **note, size_t *len, tt_error *err)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    uint8_t kb[8];
    MDB_val k, v;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    int mrc = mdb_cursor_open(txn, l->dbi[TT_DB_CHECKPOINTS], &cur);
    if (mrc == 0) {
        if (size == UINT64_MAX) {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        } else {
            key_u64(kb, &k, size);
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        }
    }
    if (mrc == MDB_NOTFOUND)
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "no checkpoint has been signed for that size");
    else if (mrc != 0)
        rc = tt_mdb_fail(err, mrc, "cannot read checkpoints");
    else if ((*note = malloc(v.mv_size + 1)) == NULL)
        rc = tt_fail(err, TT_ERR_NOMEM, NULL);
    else {
        memcpy(*note, v.mv_data, v.mv_size);
        (*note)[v.mv_size] = '\0';
        *len = v.mv_size;
    }
    if (cur)
        mdb_cursor_close(cur);
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_ledger_set_signer(tt_ledger *l, const char *origin, const tt_keypair *log_key,
                            tt_error *err)
{
    if (!tt_note_name_valid(origin) || strlen(origin) >= sizeof l->origin)
        return tt_fail(err, TT_ERR_ARGUMENT, "log origin \"%.64s\" is not a valid key name",
                       origin);
    snprintf(l->origin, sizeof l->origin, "%s", origin);
    l->log_key = *log_key;
    l->has_signer = 1;
    return TT_OK;
}

tt_err tt_ledger_set_origin(tt_ledger *l, const char *origin, tt_error *err)
{
    if (origin && (!tt_note_name_valid(origin) || strlen(origin) >= sizeof l->origin))
        return tt_fail(err, TT_ERR_ARGUMENT, "log origin \"%.64s\" is not a valid key name",
                       origin);
    snprintf(l->origin, sizeof l->origin, "%s", origin ? origin : "");
    return TT_OK;
}

tt_err tt_ledger_meta_get(tt_ledger *l, const char *key, char **value, size_t *len, tt_error *err)
{
    MDB_txn *txn;
    MDB_val k = {strlen(key), (void *)key}, v;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    int mrc = mdb_get(txn, l->dbi[TT_DB_META], &k, &v);
    if (mrc == MDB_NOTFOUND)
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "the ledger has no setting \"%s\"", key);
    else if (mrc != 0)
        rc = tt_mdb_fail(err, mrc, "cannot read ledger settings");
    else if ((*value = malloc(v.mv_size + 1)) == NULL)
        rc = tt_fail(err, TT_ERR_NOMEM, NULL);
    else {
        memcpy(*value, v.mv_data, v.mv_size);
        (*value)[v.mv_size] = '\0';
        if (len)
            *len = v.mv_size;
    }
    tt_rtxn_end(l, txn);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

tt_err tt_scratch_reserve(tt_ledger *l, uint64_t ahead, tt_error *err)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_filehandle_t fd;
    if (!(l->flags & TT_LEDGER_SCRATCH))
        return TT_OK;
    mdb_env_info(l->env, &info);
    mdb_env_stat(l->env, &st);
    uint64_t want = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize + ahead;
    if (want > info.me_mapsize)
        want = info.me_mapsize;
    if (want <= l->reserved)
        return TT_OK;
    if (mdb_env_get_fd(l->env, &fd) != 0)
        return tt_fail(err, TT_ERR_IO, "cannot reach the scratch store's file in %s", l->dir);
    int rc = posix_fallocate(fd, (off_t)l->reserved, (off_t)(want - l->reserved));
    if (rc == ENOSPC || rc == EDQUOT)
        return tt_fail(err, TT_ERR_DISK_FULL,
                       "no room for the audit's scratch store in %s: it needs %llu MB more there; "
                       "free some space, or set TMPDIR to a directory on a larger disk",
                       l->dir, (unsigned long long)((want - l->reserved) >> 20) + 1);
    if (rc != 0)
        return tt_fail(err, TT_ERR_IO, "cannot allocate the scratch store in %s: %s", l->dir,
                       strerror(rc));
    l->reserved = want;
    return TT_OK;
}

/* Grows the map when less than `need` bytes (and a quarter) are free. */
static tt_err ensure_room(tt_ledger *l, size_t need, int force, tt_error *err)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(l->env, &info);
    mdb_env_stat(l->env, &st);
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    size_t want = used + need * 4 + (8u << 20);
    if (!force && want + info.me_mapsize / 4 <= info.me_mapsize)
        return TT_OK;
    size_t size = info.me_mapsize;
    while (size < want + size / 4 || (force && size < info.me_mapsize * 2))
        size *= 2;
    pthread_rwlock_wrlock(&l->resize_lock);
    int rc = mdb_env_set_mapsize(l->env, size);
    pthread_rwlock_unlock(&l->resize_lock);
    return rc == 0 ? TT_OK : tt_mdb_fail(err, rc, "cannot grow the ledger map");
}

static tt_err begin_write(tt_ledger *l, MDB_txn **txn, tt_error *err)
{
    if (l->flags & TT_LEDGER_RDONLY)
        return tt_fail(err, TT_ERR_READ_ONLY, "the ledger is open read-only");
    pthread_rwlock_rdlock(&l->resize_lock);
    int rc = mdb_txn_begin(l->env, NULL, 0, txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&l->resize_lock);
        return tt_mdb_fail(err, rc, "cannot begin a write transaction");
    }
    return TT_OK;
}

/*
 * LMDB reports a write cut short as EIO (not ENOSPC), which is what a disk
 * that fills up in the middle of a commit gives; it is a full disk when the
 * file system has (almost) no room left. Nothing was committed either way:
 * LMDB writes the new meta page only after the data pages.
 */
static int disk_nearly_full(const tt_ledger *l)
{
    struct statvfs vfs;
    if (statvfs(l->dir, &vfs) != 0)
        return 0;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize < (UINT64_C(1) << 20);
}

/* Commits (or aborts when rc != TT_OK) and releases the resize lock. */
static tt_err end_write(tt_ledger *l, MDB_txn *txn, tt_err rc, int *mrc_out, tt_error *err)
{
    int mrc = 0;
    if (rc == TT_OK) {
        mrc = mdb_txn_commit(txn);
        if (mrc == EIO && disk_nearly_full(l))
            mrc = ENOSPC;
        if (mrc != 0)
            rc = tt_mdb_fail(err, mrc, "cannot commit to the ledger");
    } else {
        mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&l->resize_lock);
    if (mrc_out)
        *mrc_out = mrc;
    return rc;
}

tt_err tt_ledger_meta_put(tt_ledger *l, const char *key, const void *value, size_t len,
                          tt_error *err)
{
    if (strcmp(key, "head") == 0)
        return tt_fail(err, TT_ERR_ARGUMENT, "\"head\" is kept by the ledger itself");
    MDB_txn *txn;
    tt_err rc = ensure_room(l, len, 0, err);
    if (rc == TT_OK)
        rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)value};
    int mrc = mdb_put(txn, l->dbi[TT_DB_META], &k, &v, 0);
    if (mrc != 0)
        rc = tt_mdb_fail(err, mrc, "cannot write a ledger setting");
    return end_write(l, txn, rc, NULL, err);
}

tt_err tt_ledger_write(tt_ledger *l, size_t room,
                       tt_err (*fn)(void *ctx, struct tt_txn *t, tt_error *err), void *ctx,
                       tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = ensure_room(l, room, 0, err);
    if (rc == TT_OK)
        rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
    rc = fn(ctx, &t, err);
    return end_write(l, txn, rc, NULL, err);
}

tt_err tt_ledger_label_token(tt_ledger *l, const char *code, char token[TT_LABEL_TOKEN_LEN + 1],
                             uint64_t *reg_seq, uint8_t reg_hash[TT_HASH_SIZE], tt_error *err)
{
    if (!l->has_signer)
        return tt_fail(err, TT_ERR_READ_ONLY,
                       "only the daemon, which holds the log key, signs labels");
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_val k = {strlen(code), (void *)code}, v;
    uint64_t seq = 0;
    if (mdb_get(txn, l->dbi[TT_DB_BATCHES], &k, &v) != 0) {
        rc = tt_fail(err, TT_ERR_UNKNOWN_BATCH, "no batch has trace code %s", code);
    } else {
        json_t *b = tt_rec_decode(v.mv_data, v.mv_size);
        seq = (uint64_t)json_integer_value(json_object_get(b, "created_seq"));
        json_decref(b);
        uint8_t kb[8];
        key_u64(kb, &k, seq);
        tt_stored_buf sb = {NULL, 0};
        tt_bytes wire;
        if (mdb_get(txn, l->dbi[TT_DB_ENTRIES], &k, &v) != 0)
            rc = tt_fail(err, TT_ERR_STORE, "the registration entry of %s is missing", code);
        else if ((rc = tt_stored_view((tt_bytes){v.mv_size, v.mv_data}, &sb, &wire, err)) ==
                 TT_ERR_MALFORMED)
            rc = tt_fail(err, TT_ERR_STORE, "the registration entry of %s is damaged in the store",
                         code);
        else if (rc == TT_OK)
            tt_entry_hash(wire, reg_hash);
        tt_stored_buf_free(&sb);
    }
    tt_rtxn_end(l, txn);
    if (rc != TT_OK)
        return rc;
    *reg_seq = seq;
    tt_label_token(l->origin, code, reg_hash, l->log_key.sk, token);
    return TT_OK;
}

/* Signs a checkpoint of the first `size` entries and stores it. */
static tt_err put_checkpoint(tt_ledger *l, MDB_txn *txn, uint64_t size, int *mrc, tt_error *err)
{
    struct tt_txn rt = {l, txn, 0, 0, NULL, NULL};
    tt_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "%s", l->origin);
    cp.size = size;
    tt_err rc = tt_merkle_root(size, tt_merkle_read_txn, &rt, cp.root);
    if (rc != TT_OK)
        return tt_fail(err, rc, "cannot compute the root for a checkpoint");
    int have = tt_statemap_root_txn(l, txn, size, cp.state_root);
    if (have < 0)
        return tt_fail(err, TT_ERR_STORE, "the state map's root for a checkpoint is damaged");
    cp.has_state = have;
    char *note;
    size_t len;
    rc = tt_checkpoint_sign(&cp, l->origin, l->log_key.sk, &note, &len, err);
    if (rc != TT_OK)
        return rc;
    uint8_t kb[8];
    MDB_val k, v = {len, note};
    key_u64(kb, &k, size);
    struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
    rc = tt_txn_put(&t, TT_DB_CHECKPOINTS, &k, &v, 0, err, "checkpoints");
    free(note);
    if (mrc)
        *mrc = t.mdb_rc;
    return rc;
}

tt_err tt_ledger_sign_checkpoint(tt_ledger *l, tt_error *err)
{
    if (!l->has_signer)
        return tt_fail(err, TT_ERR_ARGUMENT, "no log key has been set to sign checkpoints");
    MDB_txn *txn;
    uint64_t size, t;
    uint8_t h[TT_HASH_SIZE];
    tt_err rc = ensure_room(l, 4096, 0, err);
    if (rc == TT_OK)
        rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = read_head(l, txn, &size, h, &t, err);
    if (rc == TT_OK)
        rc = put_checkpoint(l, txn, size, NULL, err);
    return end_write(l, txn, rc, NULL, err);
}

tt_err tt_ledger_put_checkpoint(tt_ledger *l, uint64_t size, const char *note, size_t len,
                                tt_error *err)
{
    size_t text_len;
    tt_checkpoint cp;
    uint8_t root[TT_HASH_SIZE];
    tt_err rc = tt_note_split((tt_bytes){len, (const uint8_t *)note}, &text_len, err);
    if (rc == TT_OK)
        rc = tt_checkpoint_parse((tt_bytes){text_len, (const uint8_t *)note}, &cp, err);
    if (rc == TT_OK && cp.size != size)
        rc = tt_fail(err, TT_ERR_ARGUMENT, "the checkpoint is of size %llu, not %llu",
                     (unsigned long long)cp.size, (unsigned long long)size);
    if (rc == TT_OK)
        rc = tt_ledger_root(l, size, root, err);
    if (rc == TT_OK && memcmp(root, cp.root, TT_HASH_SIZE) != 0)
        rc = tt_fail(err, TT_ERR_BAD_PROOF,
                     "the checkpoint of size %llu signs another root than this ledger's",
                     (unsigned long long)size);
    if (rc == TT_OK && cp.has_state) { /* the map root it asserts is the one replayed here */
        uint8_t mine[TT_HASH_SIZE];
        rc = tt_statemap_root(l, size, mine, err);
        if (rc == TT_OK && memcmp(mine, cp.state_root, TT_HASH_SIZE) != 0)
            rc = tt_fail(err, TT_ERR_BAD_PROOF,
                         "the checkpoint of size %llu carries another state map root than the "
                         "one replaying its entries gives here",
                         (unsigned long long)size);
    }
    if (rc != TT_OK)
        return rc;
    MDB_txn *txn;
    uint8_t kb[8];
    MDB_val k, v = {len, (void *)note};
    key_u64(kb, &k, size);
    rc = ensure_room(l, len + 64, 0, err);
    if (rc == TT_OK)
        rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
    rc = tt_txn_put(&t, TT_DB_CHECKPOINTS, &k, &v, 0, err, "checkpoints");
    return end_write(l, txn, rc, NULL, err);
}

tt_err tt_ledger_put_cosig(tt_ledger *l, uint64_t size, uint32_t key_id, const char *line,
                           size_t len, tt_error *err)
{
    MDB_txn *txn;
    uint8_t kb[12];
    tt_put_u64be(kb, size);
    tt_put_u32be(kb + 8, key_id);
    MDB_val k = {sizeof kb, kb}, v = {len, (void *)line};
    tt_err rc = ensure_room(l, len + 64, 0, err);
    if (rc == TT_OK)
        rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
    rc = tt_txn_put(&t, TT_DB_COSIGS, &k, &v, 0, err, "cosigs");
    return end_write(l, txn, rc, NULL, err);
}

/* The checkpoint of `size` and the cosignature lines kept for it, in txn. */
static tt_err cosigned_in(tt_ledger *l, MDB_txn *txn, uint64_t size, char **note, size_t *len,
                          tt_error *err)
{
    uint8_t kb[12];
    MDB_val k, v;
    key_u64(kb, &k, size);
    int mrc = mdb_get(txn, l->dbi[TT_DB_CHECKPOINTS], &k, &v);
    if (mrc == MDB_NOTFOUND)
        return tt_fail(err, TT_ERR_NOT_FOUND, "no checkpoint has been signed for size %llu",
                       (unsigned long long)size);
    if (mrc != 0)
        return tt_mdb_fail(err, mrc, "cannot read checkpoints");
    size_t n = v.mv_size, cap = v.mv_size + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    memcpy(out, v.mv_data, n);
    MDB_cursor *cur;
    if (!l->no_cosigs && mdb_cursor_open(txn, l->dbi[TT_DB_COSIGS], &cur) == 0) {
        tt_put_u64be(kb, size);
        memset(kb + 8, 0, 4);
        k.mv_size = sizeof kb;
        k.mv_data = kb;
        int signs = 0;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && signs < 24;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), signs++) {
            if (k.mv_size != 12 || tt_get_u64be(k.mv_data) != size)
                break;
            char *grown = realloc(out, cap + v.mv_size);
            if (grown == NULL) {
                free(out);
                mdb_cursor_close(cur);
                return tt_fail(err, TT_ERR_NOMEM, NULL);
            }
            out = grown;
            cap += v.mv_size;
            memcpy(out + n, v.mv_data, v.mv_size);
            n += v.mv_size;
        }
        mdb_cursor_close(cur);
    }
    out[n] = '\0';
    *note = out;
    *len = n;
    return TT_OK;
}

tt_err tt_ledger_cosigned(tt_ledger *l, uint64_t size, char **note, size_t *len, tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = cosigned_in(l, txn, size, note, len, err);
    tt_rtxn_end(l, txn);
    return rc;
}

tt_err tt_ledger_cosigned_below(tt_ledger *l, uint64_t below, uint64_t *size, char **note,
                                size_t *len, tt_error *err)
{
    if (l->no_cosigs || below == 0)
        return tt_fail(err, TT_ERR_NOT_FOUND, "no witness has cosigned a checkpoint");
    MDB_txn *txn;
    MDB_cursor *cur;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    int mrc = mdb_cursor_open(txn, l->dbi[TT_DB_COSIGS], &cur);
    if (mrc != 0) {
        tt_rtxn_end(l, txn);
        return tt_mdb_fail(err, mrc, "cannot read cosignatures");
    }
    uint8_t kb[12];
    tt_put_u64be(kb, below);
    memset(kb + 8, 0, 4);
    MDB_val k = {sizeof kb, kb}, v;
    /* the first key at or past (below, 0), then one back: the last of a smaller size */
    mrc = below == UINT64_MAX ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                              : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (below != UINT64_MAX)
        mrc = mrc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                       : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (mrc == 0 && k.mv_size == 12 && tt_get_u64be(k.mv_data) < below) {
        *size = tt_get_u64be(k.mv_data);
        rc = cosigned_in(l, txn, *size, note, len, err);
    } else {
        rc = tt_fail(err, TT_ERR_NOT_FOUND, "no witness has cosigned a checkpoint below that size");
    }
    mdb_cursor_close(cur);
    tt_rtxn_end(l, txn);
    return rc;
}

typedef struct write_state {
    uint64_t size;
    uint8_t last[TT_HASH_SIZE];
    uint64_t time_ms;
    uint8_t digest[TT_DIGEST_SIZE]; /* of the derived state, as written */
    tt_touched touched;             /* the lots whose records this commit wrote */
} write_state;

void tt_digest_sum(uint8_t acc[TT_DIGEST_SIZE], int sign, const uint8_t h[TT_DIGEST_SIZE])
{
    int carry = 0; /* little-endian 256-bit add or subtract */
    for (int i = 0; i < TT_DIGEST_SIZE; i++) {
        int x = sign > 0 ? acc[i] + h[i] + carry : acc[i] - h[i] - carry;
        carry = sign > 0 ? x > 255 : x < 0;
        acc[i] = (uint8_t)(x & 0xff);
    }
}

void tt_digest_move(uint8_t acc[TT_DIGEST_SIZE], int sign, tt_db db, const MDB_val *k,
                    const MDB_val *v)
{
    tt_sha256_state st;
    uint8_t h[32], pre[5] = {(uint8_t)db};
    tt_put_u32be(pre + 1, (uint32_t)k->mv_size);
    tt_sha256_init(&st);
    tt_sha256_update(&st, pre, 5);
    tt_sha256_update(&st, k->mv_data, k->mv_size);
    tt_sha256_update(&st, v->mv_data, v->mv_size);
    tt_sha256_final(&st, h);
    tt_digest_sum(acc, sign, h);
}

tt_err tt_txn_del(struct tt_txn *t, tt_db db, MDB_val *k, tt_error *err, const char *what)
{
    MDB_val old;
    int rc = mdb_get(t->txn, t->ledger->dbi[db], k, &old);
    if (rc == MDB_NOTFOUND)
        return TT_OK;
    if (rc == 0 && t->digest && TT_DB_IS_DERIVED(db))
        tt_digest_move(t->digest, -1, db, k, &old);
    if (rc == 0 && (rc = mdb_del(t->txn, t->ledger->dbi[db], k, NULL)) == 0) {
        t->puts++;
        return TT_OK;
    }
    t->mdb_rc = rc;
    return tt_mdb_fail(err, rc, what);
}

tt_err tt_txn_put(struct tt_txn *t, tt_db db, MDB_val *k, MDB_val *v, unsigned flags, tt_error *err,
                  const char *what)
{
    int rc = 0;
    if (t->digest && TT_DB_IS_DERIVED(db)) { /* the old record leaves, the new one comes */
        MDB_val old;
        rc = mdb_get(t->txn, t->ledger->dbi[db], k, &old);
        if (rc == 0 && !(flags & MDB_NOOVERWRITE))
            tt_digest_move(t->digest, -1, db, k, &old);
        rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
    }
    if (rc == 0)
        rc = mdb_put(t->txn, t->ledger->dbi[db], k, v, flags);
    if (rc == 0) {
        if (t->digest && TT_DB_IS_DERIVED(db))
            tt_digest_move(t->digest, 1, db, k, v);
        if (t->touched && db == TT_DB_BATCHES)
            tt_touched_add(t->touched, k->mv_data, k->mv_size);
        t->puts++;
        return TT_OK;
    }
    t->mdb_rc = rc;
    if (rc == MDB_KEYEXIST)
        return tt_fail(err, TT_ERR_STORE, "%s already holds that key", what);
    return tt_mdb_fail(err, rc, what);
}

/* Stores entry bytes (in their stored form, made in `packed`), indexes and Merkle hashes of
 * one entry. */
static tt_err store_entry(struct tt_txn *t, const tt_entry *e, const uint8_t *bytes, size_t len,
                          const tt_append *it, uint8_t packed[TT_ENTRY_MAX],
                          const uint8_t hash[TT_HASH_SIZE], const uint8_t body_hash[TT_HASH_SIZE],
                          tt_error *err)
{
    uint8_t kb[8], sb[8];
    MDB_val k, v;
    tt_err rc;
    key_u64(kb, &k, e->seq);
    size_t plen =
        tt_stored_pack_with(bytes, len, it->stored_body, it->stored_body_len, packed, TT_ENTRY_MAX);
    v.mv_size = plen ? plen : len;
    v.mv_data = plen ? (void *)packed : (void *)bytes;
    if ((rc = tt_txn_put(t, TT_DB_ENTRIES, &k, &v, MDB_APPEND, err, "entries")) != TT_OK)
        return rc;
    tt_put_u64be(sb, e->seq);
    MDB_val hk = {TT_HASH_SIZE, (void *)hash}, sv = {8, sb};
    if ((rc = tt_txn_put(t, TT_DB_HASHES, &hk, &sv, MDB_NOOVERWRITE, err, "hashes")) != TT_OK)
        return rc;
    MDB_val bk = {TT_HASH_SIZE, (void *)body_hash};
    if ((rc = tt_txn_put(t, TT_DB_BODIES, &bk, &sv, MDB_NOOVERWRITE, err, "bodies")) != TT_OK)
        return rc;
    tt_hash hashes[65];
    size_t n = 0;
    if ((rc = tt_merkle_append_hashes(e->seq, hash, tt_merkle_read_txn, t, hashes, &n)) != TT_OK)
        return tt_fail(err, rc, "the Merkle tree store is damaged");
    uint64_t base = tt_merkle_stored_index(0, e->seq);
    for (size_t i = 0; i < n; i++) {
        key_u64(kb, &k, base + i);
        v.mv_size = TT_HASH_SIZE;
        v.mv_data = hashes[i];
        if ((rc = tt_txn_put(t, TT_DB_MERKLE, &k, &v, MDB_APPEND, err, "merkle")) != TT_OK)
            return rc;
    }
    return TT_OK;
}

/* append_one's *fatal when a refused event had written already: the batch
 * is done again with a nested transaction per event. */
#define REDO_NESTED (-2)

/*
 * Checks, applies and stores one event. The rules check everything before
 * they write, so an event is applied straight into the batch's transaction;
 * a refusal that comes after a write (which the rules should never make)
 * spoils the batch, which is then done again with a nested transaction per
 * event (`nested`), where a refusal undoes the event's own writes.
 */
static tt_err append_one(tt_ledger *l, MDB_txn *parent, tt_append *it, write_state *ws,
                         uint64_t now_ms, tt_apply_fn apply, void *ctx, uint8_t *buf, int nested,
                         int *fatal)
{
    tt_error *err = &it->result;
    tt_entry e;
    uint8_t body_hash[TT_HASH_SIZE];
    MDB_val bk = {TT_HASH_SIZE, body_hash}, bv;
    if (it->body.size > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "event body is %zu bytes; the limit is %d",
                       it->body.size, TT_BODY_MAX);
    tt_err vrc = it->sig_checked ? TT_OK
                 : tt_event_verify(l->origin[0] ? l->origin : NULL, it->body, it->actor, it->sig);
    if (vrc == TT_ERR_NOMEM)
        return tt_fail(err, TT_ERR_NOMEM, "out of memory while checking the signature");
    if (vrc != TT_OK)
        return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                       "the event signature does not verify with the signer's key");
    tt_sha256(body_hash, it->body.data, it->body.size);
    int mrc = mdb_get(parent, l->dbi[TT_DB_BODIES], &bk, &bv);
    if (mrc == 0)
        return tt_fail(err, TT_ERR_REPLAY, "this exact event is already entry %llu",
                       (unsigned long long)tt_get_u64be(bv.mv_data));
    if (mrc != MDB_NOTFOUND) {
        *fatal = mrc;
        return tt_mdb_fail(err, mrc, "cannot read the body index");
    }
    e.version = TT_ENTRY_VERSION;
    e.seq = ws->size;
    uint64_t at = it->at_ms ? it->at_ms : now_ms;
    e.time_ms = at > ws->time_ms ? at : ws->time_ms;
    memcpy(e.prev, ws->last, TT_HASH_SIZE);
    memcpy(e.actor, it->actor, TT_PK_SIZE);
    memcpy(e.sig, it->sig, TT_SIG_SIZE);
    e.body = it->body;
    size_t len;
    tt_err rc = tt_entry_encode(&e, buf, TT_ENTRY_MAX, &len, err);
    if (rc != TT_OK)
        return rc;
    tt_entry_hash((tt_bytes){len, buf}, it->hash);

    MDB_txn *child = parent;
    if (nested && (mrc = mdb_txn_begin(l->env, parent, 0, &child)) != 0) {
        *fatal = mrc;
        return tt_mdb_fail(err, mrc, "cannot begin a nested transaction");
    }
    uint8_t digest[TT_DIGEST_SIZE]; /* kept only if the event's writes are */
    memcpy(digest, ws->digest, sizeof digest);
    struct tt_txn t = {l, child, 0, 0, digest, &ws->touched};
    size_t touched_before = ws->touched.n; /* a refused event's writes leave the map alone */
    if (apply)
        rc = apply(ctx, &t, &e, err);
    if (rc == TT_OK)
        rc = store_entry(&t, &e, buf, len, it, buf + TT_ENTRY_MAX, it->hash, body_hash, err);
    if (rc != TT_OK) {
        if (ws->touched.n > touched_before)
            ws->touched.n = touched_before;
        if (nested)
            mdb_txn_abort(child);
        /* A store failure spoils the parent too: the batch must be redone. */
        if (t.mdb_rc != 0)
            *fatal = t.mdb_rc;
        else if (rc == TT_ERR_STORE || rc == TT_ERR_DISK_FULL || rc == TT_ERR_IO ||
                 rc == TT_ERR_NOMEM)
            *fatal = -1;
        else if (!nested && t.puts > 0)
            *fatal = REDO_NESTED;
        return rc;
    }
    if (nested && (mrc = mdb_txn_commit(child)) != 0) {
        *fatal = mrc;
        return tt_mdb_fail(err, mrc, "cannot commit a nested transaction");
    }
    it->seq = e.seq;
    it->time_ms = e.time_ms;
    if (it->want_entry) { /* a batch replayed after MAP_FULL frees the first copy */
        free(it->entry);
        it->entry = malloc(len);
        if (it->entry)
            memcpy(it->entry, buf, len);
        it->entry_len = it->entry ? len : 0;
    }
    ws->size++;
    memcpy(ws->digest, digest, sizeof digest);
    memcpy(ws->last, it->hash, TT_HASH_SIZE);
    ws->time_ms = e.time_ms;
    tt_error_clear(err);
    return TT_OK;
}

static tt_err write_head(tt_ledger *l, MDB_txn *txn, const write_state *ws, int *mrc, tt_error *err)
{
    uint8_t hb[HEAD_SIZE];
    tt_put_u64be(hb, ws->size);
    memcpy(hb + 8, ws->last, TT_HASH_SIZE);
    tt_put_u64be(hb + 8 + TT_HASH_SIZE, ws->time_ms);
    MDB_val k = {4, "head"}, v = {HEAD_SIZE, hb};
    MDB_val dk = {7, "derived"}, dv = {TT_DIGEST_SIZE, (void *)ws->digest};
    struct tt_txn t = {l, txn, 0, 0, NULL, NULL};
    tt_err rc = tt_txn_put(&t, TT_DB_META, &k, &v, 0, err, "meta");
    if (rc == TT_OK) /* the digest of what the rules wrote, with the head it belongs to */
        rc = tt_txn_put(&t, TT_DB_META, &dk, &dv, 0, err, "meta");
    *mrc = t.mdb_rc;
    return rc;
}

/* One attempt at the whole batch; *mrc is the LMDB code of a fatal error. */
static tt_err append_batch(tt_ledger *l, tt_append *items, size_t n, uint64_t now_ms,
                           tt_apply_fn apply, void *ctx, uint8_t *buf, int nested, int *mrc,
                           tt_error *err)
{
    MDB_txn *txn;
    write_state ws;
    *mrc = 0;
    memset(&ws.touched, 0, sizeof ws.touched);
    tt_err rc = begin_write(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    rc = read_head(l, txn, &ws.size, ws.last, &ws.time_ms, err);
    if (rc == TT_OK)
        rc = read_digest(l, txn, ws.digest, err);
    uint64_t start = ws.size;
    for (size_t i = 0; i < n && rc == TT_OK; i++) {
        int fatal = 0;
        tt_err irc = append_one(l, txn, &items[i], &ws, now_ms, apply, ctx, buf, nested, &fatal);
        if (fatal) {
            *mrc = fatal;
            rc = tt_fail(err, irc, "%s", items[i].result.message);
        }
    }
    if (rc == TT_OK && ws.size > start) {
        uint8_t map_root[32];
        struct tt_txn mt = {l, txn, 0, 0, NULL, NULL};
        if (!(l->flags & TT_LEDGER_NO_STATEMAP))
            rc = tt_statemap_commit(&mt, start, ws.size, &ws.touched, map_root, err);
        if (mt.mdb_rc)
            *mrc = mt.mdb_rc;
        if (rc == TT_OK)
            rc = write_head(l, txn, &ws, mrc, err);
        if (rc == TT_OK && l->has_signer)
            rc = put_checkpoint(l, txn, ws.size, mrc, err);
    }
    tt_touched_free(&ws.touched);
    int commit_rc = 0;
    rc = end_write(l, txn, rc, &commit_rc, err);
    if (commit_rc)
        *mrc = commit_rc;
    return rc;
}

tt_err tt_ledger_append(tt_ledger *l, tt_append *items, size_t n, uint64_t now_ms,
                        tt_apply_fn apply, void *ctx, tt_error *err)
{
    size_t need = 4096;
    for (size_t i = 0; i < n; i++)
        need += items[i].body.size + TT_ENTRY_HEADER_SIZE + 65 * TT_HASH_SIZE + 256;
    uint8_t *buf = malloc(2 * (size_t)TT_ENTRY_MAX); /* the entry, then its stored form */
    if (buf == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    tt_err rc = ensure_room(l, need, 0, err);
    int nested = 0;
    for (int attempt = 0; rc == TT_OK; attempt++) {
        int mrc = 0;
        rc = append_batch(l, items, n, now_ms, apply, ctx, buf, nested, &mrc, err);
        if (mrc == REDO_NESTED && !nested) {
            nested = 1; /* nothing was committed; once more, carefully */
            rc = TT_OK;
            attempt--;
            continue;
        }
        if (mrc != MDB_MAP_FULL)
            break;
        if (attempt + 1 == MAX_RETRIES) {
            rc = tt_fail(err, TT_ERR_STORE, "the ledger map could not be grown enough");
            break;
        }
        rc = ensure_room(l, need, 1, err); /* doubled; replay the batch */
    }
    free(buf);
    if (rc != TT_OK) {
        tt_error copy = err ? *err : (tt_error){rc, ""};
        if (err == NULL)
            snprintf(copy.message, sizeof copy.message, "%s", tt_strerror(rc));
        for (size_t i = 0; i < n; i++)
            items[i].result = copy;
    }
    return rc;
}

