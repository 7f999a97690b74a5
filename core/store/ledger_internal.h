/*
 * ledger_internal.h: what the rest of core/ (rules, state, audit) may see of
 * the store. Not installed; nothing outside core/ includes it.
 */
#ifndef TCMTRACE_LEDGER_INTERNAL_H
#define TCMTRACE_LEDGER_INTERNAL_H

#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>

#include "tcmtrace/ledger.h"

/* Named databases; the order is the order of db_names in ledger.c. */
typedef enum tt_db {
    TT_DB_ENTRIES,
    TT_DB_HASHES,
    TT_DB_BODIES,
    TT_DB_MERKLE,
    TT_DB_CHECKPOINTS,
    TT_DB_META,
    TT_DB_BATCHES,      /* batch id -> batch state (state.c) */
    TT_DB_BATCH_EVENTS, /* batch id || seq -> event type (its number, one byte) */
    TT_DB_CHILDREN,     /* batch id || seq || ordinal (u32) -> the link (JSON), out of the record */
    TT_DB_ACTORS,       /* "a:" id -> actor record; "k:" public key -> id */
    TT_DB_ACTOR_EVENTS, /* actor id || 0x00 || seq -> event type (its number, one byte) */
    TT_DB_STATE,        /* rules-wide records: genesis, limits */
    TT_DB_COSIGS,       /* size || witness key ID -> its cosignature line (not derived: peers') */
    TT_DB_STATEMAP,     /* the state map (statemap.c): nodes, roots by size, stale nodes */
    TT_DB_COUNT
} tt_db;

/* The lots whose records a group commit wrote (codes, perhaps repeated), for the state map. */
typedef struct tt_touched_lot {
    char code[17];
    uint16_t vlen; /* its leaf text, when the rules gave it with the write (else 0: read back) */
    uint32_t order;
    char value[257]; /* TT_STATEMAP_VALUE_MAX + 1 (statemap.h) */
} tt_touched_lot;

typedef struct tt_touched {
    tt_touched_lot *lots;
    size_t n, cap;
    int failed; /* memory ran out: the map is built again from every record */
} tt_touched;

void tt_touched_add(tt_touched *t, const void *code, size_t len);
/* The leaf text of the record just written for `code` (the rules' own, parsed record). */
void tt_touched_value(tt_touched *t, const char *code, json_t *rec);
void tt_touched_free(tt_touched *t);

struct tt_txn {
    tt_ledger *ledger;
    MDB_txn *txn;
    int mdb_rc;      /* the last failing LMDB code, so MAP_FULL can be retried */
    unsigned puts;   /* writes made through it, so a refusal after a write is seen */
    uint8_t *digest; /* the derived-state digest its writes move, or NULL */
    tt_touched *touched; /* where a batch record's write is noted, or NULL */
};

/*
 * Moves the state map to tree size `size` (statemap.c): the leaves of the
 * touched lots are made from their records as `t` holds them, and the new
 * root is kept under `size` (in *root). A map with no version at the size
 * before (a ledger older than the map, a touched list cut short) is built
 * again from every record. Versions older than the window are pruned.
 */
tt_err tt_statemap_commit(struct tt_txn *t, uint64_t prev_size, uint64_t size, tt_touched *touched,
                          uint8_t root[32], tt_error *err);

/* The leaf of each touched lot (each once, as its last write left it; every lot's when the
 * list was cut short), handed to fn: the audit's replay keeps its map in memory with them. */
tt_err tt_statemap_touched_leaves(struct tt_txn *t, tt_touched *touched,
                                  int (*fn)(void *ctx, const uint8_t key[32], const uint8_t leaf[32]),
                                  void *ctx, tt_error *err);

/* The root kept for `size` in txn: 1 found, 0 not, negative an LMDB failure. */
int tt_statemap_root_txn(tt_ledger *l, MDB_txn *txn, uint64_t size, uint8_t root[32]);

/* Empties the map (a rebuild starts it again). */
tt_err tt_statemap_clear(struct tt_txn *t, tt_error *err);

/* An entry in the store (stored.c): its wire bytes, or for a body that deflates smaller the
 * header behind this first byte and the body deflated with a fixed dictionary. Whoever reads
 * TT_DB_ENTRIES reads through tt_stored_view or tt_stored_unpack. */
#define TT_STORED_DEFLATED 0x81

/* What to store for the wire entry `entry`: writes the deflated form to `out` (capacity `cap`)
 * and returns its length, or returns 0 when the wire bytes are to be stored as they are. */
size_t tt_stored_pack(const uint8_t *entry, size_t len, uint8_t *out, size_t cap);

/* The same, with the body already deflated by tt_stored_body (`body`, `blen`; NULL: not):
 * that is inflated and compared with the entry's body before it is used, else the body is
 * deflated here. */
size_t tt_stored_pack_with(const uint8_t *entry, size_t len, const uint8_t *body, size_t blen,
                           uint8_t *out, size_t cap);

/* The wire length of a stored entry (its header says it), unchecked. */
size_t tt_stored_size(tt_bytes stored);

/* The wire bytes of a stored entry, written to `out` (capacity `cap`); TT_ERR_MALFORMED
 * when a deflated body does not inflate to exactly its length. */
tt_err tt_stored_unpack(tt_bytes stored, uint8_t *out, size_t cap, size_t *len, tt_error *err);

/* A buffer tt_stored_view grows as it needs; zero it to begin, free it with
 * tt_stored_buf_free. */
typedef struct tt_stored_buf {
    uint8_t *data;
    size_t cap;
} tt_stored_buf;

/* The wire bytes of a stored entry in *entry: the stored bytes themselves when they are the
 * wire bytes, else inflated into `buf` (valid until its next use). */
tt_err tt_stored_view(tt_bytes stored, tt_stored_buf *buf, tt_bytes *entry, tt_error *err);
void tt_stored_buf_free(tt_stored_buf *buf);

/* The dictionary deflated bodies are made with (for tests). */
const void *tt_stored_dictionary(size_t *len);

/* The derived databases: what the rules write, and the digest covers. */
#define TT_DB_IS_DERIVED(db) ((db) >= TT_DB_BATCHES && (db) <= TT_DB_STATE)
#define TT_DIGEST_SIZE 32

/* Adds (sign 1) or takes away (-1) one record from a derived-state digest:
 * the sum, mod 2^256, of SHA-256(db || key length || key || value) over
 * every derived record, so it follows puts and deletes in any order. */
void tt_digest_move(uint8_t acc[TT_DIGEST_SIZE], int sign, tt_db db, const MDB_val *k,
                    const MDB_val *v);

/* acc += h (sign 1) or acc -= h (-1), mod 2^256: how two digests' parts are joined. */
void tt_digest_sum(uint8_t acc[TT_DIGEST_SIZE], int sign, const uint8_t h[TT_DIGEST_SIZE]);

/* mdb_del through a tt_txn (a derived record leaves the digest). */
tt_err tt_txn_del(struct tt_txn *t, tt_db db, MDB_val *k, tt_error *err, const char *what);

/* mdb_put through a tt_txn: records a failing code in t->mdb_rc. */
tt_err tt_txn_put(struct tt_txn *t, tt_db db, MDB_val *k, MDB_val *v, unsigned flags, tt_error *err,
                  const char *what);

/* The links {id, qty_g, via, seq} to the children of batch `code` (16 digits), in log
 * order, from the children index: at most max of them (0: all); *total gets how many
 * there are when not NULL. */
json_t *tt_children_list(tt_ledger *l, MDB_txn *txn, const char *code, size_t max,
                         size_t *total);

/* The derived-state layout this code writes; an older one must be rebuilt. */
#define TT_STATE_LAYOUT 4

/* Derived records in their binary layout (rec.c): a record starts with this byte. */
#define TT_REC_V1 0xB1
/* A record of json_t v: malloc'd bytes, *len of them; NULL for want of memory. */
char *tt_rec_encode(json_t *v, size_t *len);
/* The value of a record, or NULL when the bytes are not one. */
json_t *tt_rec_decode(const void *data, size_t len);

/* Caches of parsed JSON (jcache.c), one set per thread, for one ledger at a
 * time: values are shared with the cache and read-only. */
typedef enum {
    TT_JCACHE_RECORDS, /* batch and actor records, checked against their bytes */
    TT_JCACHE_EVENTS,  /* what an entry did, as a trace shows it (entries never change) */
    TT_JCACHE_COUNT
} tt_jcache_id;
/* A number no other ledger opened by this process has. */
uint64_t tt_jcache_uid(void);
/* A new reference to the value stored under `key` from the same `raw`
 * bytes (raw NULL: the key alone names the content), or NULL. */
json_t *tt_jcache_get(uint64_t ledger, tt_jcache_id which, const void *key, size_t klen,
                      const void *raw, size_t rlen);
void tt_jcache_put(uint64_t ledger, tt_jcache_id which, const void *key, size_t klen,
                   const void *raw, size_t rlen, json_t *json);
/* The JSON record under `key` in `db`, parsed (or found parsed) through this
 * thread's cache: read-only. NULL when there is none. */
json_t *tt_jcache_record(struct tt_ledger *l, MDB_txn *txn, tt_db db, const void *key, size_t klen);
/* The same record for the caller to change and store again: taken out of
 * the cache (copied if the cache was not its only holder). The caller owns
 * the reference. NULL when there is none. */
json_t *tt_jcache_take(struct tt_ledger *l, MDB_txn *txn, tt_db db, const void *key, size_t klen);

/*
 * A scratch store (TT_LEDGER_SCRATCH) is written through its map
 * (MDB_WRITEMAP), and a write into a part of the file the disk has no room
 * for kills the process with SIGBUS instead of failing. So before each
 * write transaction its file is allocated on disk up to what is in use and
 * `ahead` bytes more, and the transaction must not grow the file by more:
 * a full disk is then this error (disk_full), named in a sentence.
 */
tt_err tt_scratch_reserve(struct tt_ledger *l, uint64_t ahead, tt_error *err);

struct tt_ledger {
    MDB_env *env;
    MDB_dbi dbi[TT_DB_COUNT];
    unsigned flags;
    char *dir;
    int lock_fd;
    /* Read transactions hold it shared; growing the map holds it alone. */
    pthread_rwlock_t resize_lock;
    int has_signer;
    int no_cosigs; /* read-only, and the ledger has no cosigs database yet */
    int no_statemap; /* read-only, and the ledger has no state map yet */
    char origin[256];
    tt_keypair log_key;
    uint64_t uid; /* names this handle's entries in the per-thread caches */
    uint64_t reserved; /* a scratch store: bytes of its file allocated on disk (tt_scratch_reserve) */
    /* scans.c: the scans' own environment, DIR/scans/, opened on first use */
    pthread_mutex_t scan_open;
    MDB_env *scan_env;
    MDB_dbi scan_dbi;
    pthread_rwlock_t scan_resize;
};

/* Maps an LMDB return code to a tt_err with a sentence. */
tt_err tt_mdb_fail(tt_error *err, int rc, const char *what);

/* Begins / ends a read transaction (handles a map grown by the writer). */
tt_err tt_rtxn_begin(tt_ledger *l, MDB_txn **txn, tt_error *err);
void tt_rtxn_end(tt_ledger *l, MDB_txn *txn);

/* Runs `fn` in one write transaction (room ensured), then commits. */
tt_err tt_ledger_write(tt_ledger *l, size_t room,
                       tt_err (*fn)(void *ctx, struct tt_txn *t, tt_error *err), void *ctx,
                       tt_error *err);

/* Merkle read callback over a transaction: ctx is a struct tt_txn. */
tt_err tt_merkle_read_txn(void *ctx, uint64_t index, uint8_t out[TT_HASH_SIZE]);

#endif
