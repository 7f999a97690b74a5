/*
 * tcmtrace/ledger.h: the ledger store — one LMDB environment per directory.
 *
 * Named databases (all keys of sequence numbers are u64 big-endian):
 *   entries      seq -> entry bytes (DESIGN §3)
 *   hashes       entry hash -> seq
 *   bodies       SHA-256(body) -> seq          (refuses replays)
 *   merkle       stored-hash index -> 32-byte hash (see merkle.h)
 *   checkpoints  tree size -> signed checkpoint note
 *   meta         "head" -> size || last entry hash || last time_ms, and
 *                free-form settings (origin, log verifier key, ...)
 * plus the derived-state databases of the batch rules (state.h).
 *
 * One process writes (it holds <dir>/writer.lock); any number read, from
 * any process, while it writes. The map grows by itself. A write is one
 * transaction for many events (group commit), with a nested transaction per
 * event so that a refused event leaves no trace; it returns only once the
 * transaction is durable on disk.
 */
#ifndef TCMTRACE_LEDGER_H
#define TCMTRACE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/entry.h"
#include "tcmtrace/err.h"
#include "tcmtrace/key.h"
#include "tcmtrace/label.h"
#include "tcmtrace/merkle.h"

typedef struct tt_ledger tt_ledger;

/* A write transaction, as seen by a rules callback. */
typedef struct tt_txn tt_txn;

enum {
    TT_LEDGER_RDONLY = 1 << 0, /* open for reading only; no writer lock */
    TT_LEDGER_CREATE = 1 << 1, /* create the directory if it is missing */
    TT_LEDGER_NOSYNC = 1 << 2, /* tests and bulk loads only: no fsync per commit */
    TT_LEDGER_SCRATCH = 1 << 3, /* a throw-away store (the audit's replay): nothing synced,
                                  no record kept parsed for the next event */
    TT_LEDGER_NO_STATEMAP = 1 << 4 /* the benchmark's comparison only: no state map, and
                                      checkpoints without its root (no client accepts them) */
};

/* Opens (or creates) the ledger in `dir`. */
tt_err tt_ledger_open(const char *dir, unsigned flags, tt_ledger **out, tt_error *err);

/* Tuning for tt_ledger_open_with; zero fields take the defaults. */
typedef struct tt_ledger_opts {
    size_t initial_map; /* bytes of address space mapped at first (64 MiB) */
} tt_ledger_opts;

tt_err tt_ledger_open_with(const char *dir, unsigned flags, const tt_ledger_opts *opts,
                           tt_ledger **out, tt_error *err);

/* Closes the ledger; NULL is allowed. */
void tt_ledger_close(tt_ledger *l);

/* The ledger's directory. */
const char *tt_ledger_dir(const tt_ledger *l);

/* Number of entries, and the hash of the last one (zeros when empty). */
tt_err tt_ledger_head(tt_ledger *l, uint64_t *size, uint8_t last_hash[TT_HASH_SIZE], tt_error *err);

/* A copy of entry `seq` (free with free()). */
tt_err tt_ledger_entry(tt_ledger *l, uint64_t seq, uint8_t **data, size_t *len, tt_error *err);

/* The seq of the entry whose entry hash is `hash`. */
tt_err tt_ledger_find_hash(tt_ledger *l, const uint8_t hash[TT_HASH_SIZE], uint64_t *seq,
                           tt_error *err);

/* Merkle root of the first `size` entries (size <= current size). */
tt_err tt_ledger_root(tt_ledger *l, uint64_t size, uint8_t root[TT_HASH_SIZE], tt_error *err);

/* Inclusion proof of `seq` in the tree of `size` (TT_MERKLE_PROOF_MAX room). */
tt_err tt_ledger_inclusion_proof(tt_ledger *l, uint64_t seq, uint64_t size, tt_hash *proof,
                                 size_t *len, tt_error *err);

/* Consistency proof from `size1` to `size2`. */
tt_err tt_ledger_consistency_proof(tt_ledger *l, uint64_t size1, uint64_t size2, tt_hash *proof,
                                   size_t *len, tt_error *err);

/*
 * The signed checkpoint for tree size `size`, or the latest one when `size`
 * is UINT64_MAX. A malloc'd note (NUL-terminated); free with free().
 */
tt_err tt_ledger_checkpoint(tt_ledger *l, uint64_t size, char **note, size_t *len, tt_error *err);

/*
 * Keeps another log's signed checkpoint of `size` as this ledger's (a
 * follower's: it signs none of its own). Its root must be this ledger's root
 * at `size` (TT_ERR_BAD_PROOF otherwise); the note is the log's signature
 * lines only, its cosignatures go to tt_ledger_put_cosig.
 */
tt_err tt_ledger_put_checkpoint(tt_ledger *l, uint64_t size, const char *note, size_t len,
                                tt_error *err);

/* A Merkle builder holding this ledger's first `size` leaves (its complete subtrees' roots). */
tt_err tt_ledger_builder(tt_ledger *l, uint64_t size, tt_merkle_builder *b, tt_error *err);

/*
 * Keeps a witness's cosignature line (C2SP tlog-cosignature, as the witness
 * answered; the caller has verified it) of the checkpoint of `size`, under
 * the witness's key ID: a later one from the same witness replaces it.
 */
tt_err tt_ledger_put_cosig(tt_ledger *l, uint64_t size, uint32_t key_id, const char *line,
                           size_t len, tt_error *err);

/*
 * The checkpoint of the largest size below `below` (UINT64_MAX: any) that
 * witnesses cosigned, with their lines after the log's signature; its size in
 * *size. TT_ERR_NOT_FOUND when none. A malloc'd note; free it.
 */
tt_err tt_ledger_cosigned_below(tt_ledger *l, uint64_t below, uint64_t *size, char **note,
                                size_t *len, tt_error *err);

/* The checkpoint of `size` with every cosignature kept for it (perhaps none). */
tt_err tt_ledger_cosigned(tt_ledger *l, uint64_t size, char **note, size_t *len, tt_error *err);

/*
 * Makes every later append also sign and store a checkpoint of the new
 * tree, in the same transaction, with `log_key` under the key name `origin`.
 * The key is copied and wiped on close.
 */
/* The origin appended events are signed for (a follower's, which signs no checkpoint);
 * NULL: events of a legacy ledger, signed before events named their ledger. */
tt_err tt_ledger_set_origin(tt_ledger *l, const char *origin, tt_error *err);

tt_err tt_ledger_set_signer(tt_ledger *l, const char *origin, const tt_keypair *log_key,
                            tt_error *err);

/*
 * The QR label token of batch `code` (label.h), signed with the log key set
 * by tt_ledger_set_signer; also gives the seq and hash of the entry that
 * created the batch.
 */
tt_err tt_ledger_label_token(tt_ledger *l, const char *code, char token[TT_LABEL_TOKEN_LEN + 1],
                             uint64_t *reg_seq, uint8_t reg_hash[TT_HASH_SIZE], tt_error *err);

/* Signs and stores a checkpoint of the current tree now (e.g. at init). */
tt_err tt_ledger_sign_checkpoint(tt_ledger *l, tt_error *err);

/* Settings in the meta database (values are bytes; keys not "head"). */
tt_err tt_ledger_meta_get(tt_ledger *l, const char *key, char **value, size_t *len, tt_error *err);
tt_err tt_ledger_meta_put(tt_ledger *l, const char *key, const void *value, size_t len,
                          tt_error *err);

/* One event to append and, afterwards, what became of it. */
typedef struct tt_append {
    const uint8_t *actor; /* 32-byte Ed25519 public key */
    const uint8_t *sig;   /* 64-byte signature over the body */
    tt_bytes body;
    int sig_checked; /* the caller verified the signature already */
    int want_entry;  /* also hand back the encoded entry (for a feed) */
    /* optional: the body as the store keeps it, made by tt_stored_body on another thread so
     * that the writer does not deflate it (checked before it is stored) */
    const uint8_t *stored_body;
    size_t stored_body_len;
    /* optional: the entry's time (a follower replaying another log's entry), used in place of
     * the append's now_ms when not 0 (never earlier than the entry before) */
    uint64_t at_ms;
    /* results */
    tt_error result; /* TT_OK when appended, else why it was refused */
    uint64_t seq;
    uint64_t time_ms;
    uint8_t hash[TT_HASH_SIZE];
    uint8_t *entry; /* with want_entry: the encoded entry, malloc'd; caller frees */
    size_t entry_len;
} tt_append;

/*
 * Rules callback: called for each event, inside its nested transaction,
 * before the entry is stored. Returning anything but TT_OK refuses the event
 * and undoes whatever the callback wrote. `entry` has its seq, time and prev.
 */
typedef tt_err (*tt_apply_fn)(void *ctx, tt_txn *txn, const tt_entry *entry, tt_error *err);

/*
 * Appends `items` in one durable transaction, in order. Each item's result
 * says whether it was appended. Returns TT_OK when the transaction committed
 * (even if every item was refused); any other code means nothing was
 * committed and every item carries that error. `now_ms` is the commit time
 * (kept non-decreasing along the log).
 */
/*
 * An event body deflated as the store keeps it (raw deflate with the store's dictionary) into
 * `out` (capacity `cap`): its length, or 0 when the body is stored as it is (not smaller).
 * For tt_append.stored_body.
 */
size_t tt_stored_body(tt_bytes body, uint8_t *out, size_t cap);

tt_err tt_ledger_append(tt_ledger *l, tt_append *items, size_t n, uint64_t now_ms,
                        tt_apply_fn apply, void *ctx, tt_error *err);

/* The current UTC time in milliseconds. */
uint64_t tt_now_ms(void);

/*
 * A consistent, compacted copy of the ledger (and of its scans) in the new
 * directory `out`, with LMDB's own copy (mdb_env_copy2), while the daemon
 * writes. TT_ERR_EXISTS when out exists. The copy is a ledger directory of
 * its own: audit it, or serve it in place of the original.
 */
tt_err tt_ledger_backup(tt_ledger *l, const char *out, tt_error *err);

#endif
