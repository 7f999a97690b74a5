/*
 * tcmtrace/merkle.h: RFC 6962 / RFC 9162 Merkle tree hashing, proofs and
 * their verification.
 *
 * Stored layout. A tree of n leaves is kept as the hashes of all its
 * complete, aligned subtrees, in one append-only sequence of indexes
 * (the layout of Go's sumdb/tlog): level L's n'th hash comes right after
 * level L+1's (2n+1)'th. Appending leaf n writes 1 + trailing_ones(n) hashes
 * at consecutive indexes starting at tt_merkle_stored_index(0, n), so a store
 * only ever appends. Any historical root, inclusion proof or consistency
 * proof is then computed from O(log n) stored hashes.
 *
 * Proof hashes are laid out as consecutive 32-byte hashes, bottom first.
 */
#ifndef TCMTRACE_MERKLE_H
#define TCMTRACE_MERKLE_H

#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/err.h"

/* Longest proof produced or accepted, in hashes. A 64-bit tree needs < 128. */
#define TT_MERKLE_PROOF_MAX 128

typedef uint8_t tt_hash[TT_HASH_SIZE];

/* SHA-256(0x00 || data). */
void tt_merkle_leaf_hash(tt_bytes data, uint8_t out[TT_HASH_SIZE]);

/* SHA-256(0x01 || left || right). */
void tt_merkle_node_hash(const uint8_t left[TT_HASH_SIZE], const uint8_t right[TT_HASH_SIZE],
                         uint8_t out[TT_HASH_SIZE]);

/* SHA-256() — the root of the empty tree. */
void tt_merkle_empty_root(uint8_t out[TT_HASH_SIZE]);

/* Where the hash of the n'th complete subtree at `level` is stored. */
uint64_t tt_merkle_stored_index(unsigned level, uint64_t n);

/* How many hashes a tree of `size` leaves stores. */
uint64_t tt_merkle_stored_count(uint64_t size);

/* Reads the stored hash at `index`; returns TT_ERR_NOT_FOUND if absent. */
typedef tt_err (*tt_merkle_read_fn)(void *ctx, uint64_t index, uint8_t out[TT_HASH_SIZE]);

/*
 * The hashes to store when appending leaf number `n` (0-based) with hash
 * `leaf`: written to out[0..*count), to be stored at consecutive indexes from
 * tt_merkle_stored_index(0, n). At most 65 hashes. Earlier hashes are read
 * through `read`.
 */
tt_err tt_merkle_append_hashes(uint64_t n, const uint8_t leaf[TT_HASH_SIZE], tt_merkle_read_fn read,
                               void *ctx, tt_hash out[65], size_t *count);

/* The root of the first `size` leaves, from stored hashes. */
tt_err tt_merkle_root(uint64_t size, tt_merkle_read_fn read, void *ctx, uint8_t out[TT_HASH_SIZE]);

/*
 * The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
 * `proof` has room for TT_MERKLE_PROOF_MAX hashes; its length goes to *len.
 */
tt_err tt_merkle_inclusion_proof(uint64_t index, uint64_t size, tt_merkle_read_fn read, void *ctx,
                                 tt_hash *proof, size_t *len);

/* The RFC 9162 consistency proof from `size1` to `size2` (0 < size1 <= size2). */
tt_err tt_merkle_consistency_proof(uint64_t size1, uint64_t size2, tt_merkle_read_fn read,
                                   void *ctx, tt_hash *proof, size_t *len);

/*
 * RFC 9162 §2.1.3.2. `leaf`, `root` must be 32 bytes and `proof` a whole
 * number of hashes. TT_OK when the proof holds, else TT_ERR_BAD_PROOF (or
 * TT_ERR_RANGE / TT_ERR_MALFORMED for impossible arguments).
 */
tt_err tt_merkle_verify_inclusion(uint64_t index, uint64_t size, tt_bytes leaf, tt_bytes proof,
                                  tt_bytes root, tt_error *err);

/*
 * RFC 9162 §2.1.4.2. A consistency proof from the empty tree is refused
 * (it proves nothing); equal sizes need an empty proof and equal roots.
 */
tt_err tt_merkle_verify_consistency(uint64_t size1, uint64_t size2, tt_bytes root1, tt_bytes root2,
                                    tt_bytes proof, tt_error *err);

/*
 * An in-memory builder: push leaves in order; it keeps the O(log n) roots of
 * the complete subtrees so far. Used by audit to recompute everything the
 * store holds without trusting it.
 */
typedef struct tt_merkle_builder {
    uint64_t size;
    tt_hash stack[64];
    unsigned depth;
} tt_merkle_builder;

void tt_merkle_builder_init(tt_merkle_builder *b);

/* Adds a leaf; the hashes a store would write for it go to out[0..*count). */
void tt_merkle_builder_push(tt_merkle_builder *b, const uint8_t leaf[TT_HASH_SIZE], tt_hash out[65],
                            size_t *count);

/* The root of all leaves pushed so far. */
void tt_merkle_builder_root(const tt_merkle_builder *b, uint8_t out[TT_HASH_SIZE]);

#endif
