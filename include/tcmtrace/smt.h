/*
 * tcmtrace/smt.h: the state map's hashing and proofs (DESIGN §11; wire format in
 * docs/statemap.md).
 *
 * The state map is a binary Merkle tree over 256-bit keys, one leaf per lot:
 *   key        SHA-256 of the lot's 16-digit trace code (ASCII)
 *   leaf       SHA-256(0x00 || key || SHA-256(value)), value the leaf text (statemap.h)
 *   node       SHA-256(0x01 || left || right)
 *   empty      32 zero bytes
 * A subtree holding no lot is empty, one holding one lot is that lot's leaf
 * (paths are compressed), one holding more is a node; bit i of a key (most
 * significant bit of byte 0 first) chooses the side at depth i, 0 the left.
 * So the root is a function of the set of (key, value) pairs alone.
 *
 * A proof of a key shows the place its path ends at: the key's own leaf
 * (inclusion), another key's leaf with the same first `depth` bits, or an
 * empty subtree (both: the key is absent). On the wire:
 *   kind (1 byte: 0 this key's leaf, 1 another leaf, 2 empty)
 *   depth d (1 byte)
 *   bitmap (ceil(d/8) bytes, most significant bit first: sibling i is not empty)
 *   the non-empty siblings, 32 bytes each, from the root down
 *   kind 1 only: the other leaf's key (32) and SHA-256 of its value (32)
 */
#ifndef TCMTRACE_SMT_H
#define TCMTRACE_SMT_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/err.h"

#define TT_SMT_HASH 32
/* The checkpoint extension line that carries the map's root: this word, a space, base64. */
#define TT_STATEMAP_LINE "tcmtrace-state"
#define TT_SMT_DEPTH_MAX 255
/* The longest proof: every sibling present, and another leaf. */
#define TT_SMT_PROOF_MAX (2 + 32 + TT_SMT_DEPTH_MAX * TT_SMT_HASH + 2 * TT_SMT_HASH)

enum { TT_SMT_INCLUDED = 0, TT_SMT_OTHER = 1, TT_SMT_EMPTY = 2 };

typedef struct tt_smt_proof {
    int kind;
    unsigned depth;
    uint8_t present[TT_SMT_DEPTH_MAX];                  /* sibling i is not empty */
    uint8_t siblings[TT_SMT_DEPTH_MAX][TT_SMT_HASH];    /* zeros where empty */
    uint8_t other_key[TT_SMT_HASH], other_value[TT_SMT_HASH]; /* kind TT_SMT_OTHER */
} tt_smt_proof;

/* The key of a lot. */
void tt_smt_key(const char *code, uint8_t key[TT_SMT_HASH]);

/* Bit i of a key. */
int tt_smt_bit(const uint8_t key[TT_SMT_HASH], unsigned i);

/* A leaf's hash from its key and the SHA-256 of its value. */
void tt_smt_leaf(const uint8_t key[TT_SMT_HASH], const uint8_t value_hash[TT_SMT_HASH],
                 uint8_t out[TT_SMT_HASH]);

/* A node's hash. */
void tt_smt_node(const uint8_t left[TT_SMT_HASH], const uint8_t right[TT_SMT_HASH],
                 uint8_t out[TT_SMT_HASH]);

/* Whether a hash is the empty subtree's. */
int tt_smt_is_empty(const uint8_t h[TT_SMT_HASH]);

/* The wire form of a proof into out (TT_SMT_PROOF_MAX room); its length. */
size_t tt_smt_proof_encode(const tt_smt_proof *p, uint8_t *out);

/* A proof from its wire form, strictly (TT_ERR_MALFORMED says what is wrong). */
tt_err tt_smt_proof_decode(tt_bytes in, tt_smt_proof *p, tt_error *err);

/*
 * Checks a proof of `key` under `root`. With `value` (the leaf text) it must
 * prove that the key has that value; with value NULL that the key is absent.
 * TT_ERR_BAD_PROOF when it does not.
 */
tt_err tt_smt_verify(const uint8_t root[TT_SMT_HASH], const uint8_t key[TT_SMT_HASH],
                     const tt_smt_proof *p, const uint8_t *value, size_t value_len,
                     tt_error *err);

/*
 * The map of a set held in memory (vectors, checks, the benchmark): pairs sorted by key,
 * distinct. tt_smt_pair_set fills one from a code and its leaf text.
 */
typedef struct tt_smt_pair {
    uint8_t key[TT_SMT_HASH], value[TT_SMT_HASH], leaf[TT_SMT_HASH]; /* value: its SHA-256 */
} tt_smt_pair;

void tt_smt_pair_set(tt_smt_pair *p, const char *code, const void *value, size_t len);
void tt_smt_root_of(const tt_smt_pair *sorted, size_t n, uint8_t root[TT_SMT_HASH]);
void tt_smt_prove_of(const tt_smt_pair *sorted, size_t n, const uint8_t key[TT_SMT_HASH],
                     tt_smt_proof *p);

/*
 * The map held in memory and kept up to date a lot at a time, its root hashed again only along
 * the paths that changed (the audit's replay: every checkpoint's root from the entries alone).
 * About 200 bytes a lot.
 */
typedef struct tt_smt_mem tt_smt_mem;

tt_smt_mem *tt_smt_mem_new(void);
/* Sets the leaf of `key` (adds the lot, or changes its leaf): 0, or -1 for want of memory. */
int tt_smt_mem_set(tt_smt_mem *m, const uint8_t key[TT_SMT_HASH], const uint8_t leaf[TT_SMT_HASH]);
void tt_smt_mem_root(tt_smt_mem *m, uint8_t root[TT_SMT_HASH]);
void tt_smt_mem_free(tt_smt_mem *m);

#endif
