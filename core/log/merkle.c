/*
 * merkle.c: RFC 6962 trees over an append-only store of subtree hashes.
 *
 * Only complete, aligned subtrees are stored. Every range a proof needs is
 * either such a subtree (one read) or, at the right edge of a tree whose
 * size is not a power of two, the fold of at most log2(n) of them. Proof
 * generation follows the recursive PATH/SUBPROOF definitions of RFC 6962
 * §2.1.1-2.1.2; verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 to the
 * letter, since other implementations must accept what we produce.
 */
#include "tcmtrace/merkle.h"
#include "tcmtrace/sha256.h"

#include <sodium.h>
#include <string.h>

void tt_merkle_leaf_hash(tt_bytes data, uint8_t out[TT_HASH_SIZE])
{
    static const uint8_t zero = 0x00;
    tt_sha256_state st;
    tt_sha256_init(&st);
    tt_sha256_update(&st, &zero, 1);
    if (data.size)
        tt_sha256_update(&st, data.data, data.size);
    tt_sha256_final(&st, out);
}

void tt_merkle_node_hash(const uint8_t left[TT_HASH_SIZE], const uint8_t right[TT_HASH_SIZE],
                         uint8_t out[TT_HASH_SIZE])
{
    uint8_t buf[1 + 2 * TT_HASH_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, TT_HASH_SIZE);
    memcpy(buf + 1 + TT_HASH_SIZE, right, TT_HASH_SIZE);
    tt_sha256(out, buf, sizeof buf);
}

void tt_merkle_empty_root(uint8_t out[TT_HASH_SIZE])
{
    tt_sha256(out, NULL, 0);
}

uint64_t tt_merkle_stored_index(unsigned level, uint64_t n)
{
    for (unsigned l = level; l > 0; l--)
        n = 2 * n + 1;
    uint64_t i = 0;
    for (; n > 0; n >>= 1)
        i += n;
    return i + level;
}

uint64_t tt_merkle_stored_count(uint64_t size)
{
    if (size == 0)
        return 0;
    uint64_t count = tt_merkle_stored_index(0, size - 1) + 1;
    for (uint64_t i = size - 1; i & 1; i >>= 1)
        count++;
    return count;
}

static unsigned trailing_ones(uint64_t n)
{
    unsigned c = 0;
    while (n & 1) {
        c++;
        n >>= 1;
    }
    return c;
}

tt_err tt_merkle_append_hashes(uint64_t n, const uint8_t leaf[TT_HASH_SIZE], tt_merkle_read_fn read,
                               void *ctx, tt_hash out[65], size_t *count)
{
    unsigned m = trailing_ones(n);
    memcpy(out[0], leaf, TT_HASH_SIZE);
    for (unsigned i = 0; i < m; i++) {
        /* The left sibling at level i is the complete subtree just before. */
        tt_hash left;
        tt_err rc = read(ctx, tt_merkle_stored_index(i, (n >> i) - 1), left);
        if (rc != TT_OK)
            return rc;
        tt_merkle_node_hash(left, out[i], out[i + 1]);
    }
    *count = m + 1;
    return TT_OK;
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static int is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned l = 0;
    while ((UINT64_C(1) << l) < n)
        l++;
    return l;
}

/* MTH(D[lo:hi]) where lo is aligned to the largest power of two <= hi-lo. */
static tt_err range_hash(uint64_t lo, uint64_t hi, tt_merkle_read_fn read, void *ctx,
                         uint8_t out[TT_HASH_SIZE])
{
    uint64_t n = hi - lo;
    if (is_pow2(n)) {
        unsigned level = log2_exact(n);
        return read(ctx, tt_merkle_stored_index(level, lo >> level), out);
    }
    uint64_t k = split_point(n);
    tt_hash left, right;
    tt_err rc = range_hash(lo, lo + k, read, ctx, left);
    if (rc == TT_OK)
        rc = range_hash(lo + k, hi, read, ctx, right);
    if (rc == TT_OK)
        tt_merkle_node_hash(left, right, out);
    return rc;
}

tt_err tt_merkle_root(uint64_t size, tt_merkle_read_fn read, void *ctx, uint8_t out[TT_HASH_SIZE])
{
    if (size == 0) {
        tt_merkle_empty_root(out);
        return TT_OK;
    }
    return range_hash(0, size, read, ctx, out);
}

static tt_err push_hash(tt_hash *proof, size_t *len, const uint8_t h[TT_HASH_SIZE])
{
    if (*len >= TT_MERKLE_PROOF_MAX)
        return TT_ERR_RANGE;
    memcpy(proof[(*len)++], h, TT_HASH_SIZE);
    return TT_OK;
}

/* PATH(m, D[lo:hi]) of RFC 6962 §2.1.1, bottom first. */
static tt_err path(uint64_t m, uint64_t lo, uint64_t hi, tt_merkle_read_fn read, void *ctx,
                   tt_hash *proof, size_t *len)
{
    uint64_t n = hi - lo;
    if (n == 1)
        return TT_OK;
    uint64_t k = split_point(n);
    tt_hash sibling;
    tt_err rc;
    if (m - lo < k) {
        rc = path(m, lo, lo + k, read, ctx, proof, len);
        if (rc == TT_OK)
            rc = range_hash(lo + k, hi, read, ctx, sibling);
    } else {
        rc = path(m, lo + k, hi, read, ctx, proof, len);
        if (rc == TT_OK)
            rc = range_hash(lo, lo + k, read, ctx, sibling);
    }
    return rc == TT_OK ? push_hash(proof, len, sibling) : rc;
}

tt_err tt_merkle_inclusion_proof(uint64_t index, uint64_t size, tt_merkle_read_fn read, void *ctx,
                                 tt_hash *proof, size_t *len)
{
    *len = 0;
    if (index >= size)
        return TT_ERR_RANGE;
    return path(index, 0, size, read, ctx, proof, len);
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 6962 §2.1.2, bottom first. */
static tt_err subproof(uint64_t m, uint64_t lo, uint64_t hi, int b, tt_merkle_read_fn read,
                       void *ctx, tt_hash *proof, size_t *len)
{
    uint64_t n = hi - lo;
    tt_hash h;
    tt_err rc;
    if (m == n) {
        if (b)
            return TT_OK;
        rc = range_hash(lo, hi, read, ctx, h);
        return rc == TT_OK ? push_hash(proof, len, h) : rc;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        rc = subproof(m, lo, lo + k, b, read, ctx, proof, len);
        if (rc == TT_OK)
            rc = range_hash(lo + k, hi, read, ctx, h);
    } else {
        rc = subproof(m - k, lo + k, hi, 0, read, ctx, proof, len);
        if (rc == TT_OK)
            rc = range_hash(lo, lo + k, read, ctx, h);
    }
    return rc == TT_OK ? push_hash(proof, len, h) : rc;
}

tt_err tt_merkle_consistency_proof(uint64_t size1, uint64_t size2, tt_merkle_read_fn read,
                                   void *ctx, tt_hash *proof, size_t *len)
{
    *len = 0;
    if (size1 == 0 || size1 > size2)
        return TT_ERR_RANGE;
    return subproof(size1, 0, size2, 1, read, ctx, proof, len);
}

static tt_err check_proof_shape(tt_bytes proof, tt_error *err)
{
    if (proof.size % TT_HASH_SIZE != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "proof is %zu bytes, not a whole number of hashes",
                       proof.size);
    if (proof.size / TT_HASH_SIZE > TT_MERKLE_PROOF_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "proof has %zu hashes; the limit is %d",
                       proof.size / TT_HASH_SIZE, TT_MERKLE_PROOF_MAX);
    return TT_OK;
}

tt_err tt_merkle_verify_inclusion(uint64_t index, uint64_t size, tt_bytes leaf, tt_bytes proof,
                                  tt_bytes root, tt_error *err)
{
    if (leaf.size != TT_HASH_SIZE || root.size != TT_HASH_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "leaf and root must be 32-byte hashes");
    tt_err rc = check_proof_shape(proof, err);
    if (rc != TT_OK)
        return rc;
    if (index >= size)
        return tt_fail(err, TT_ERR_RANGE, "leaf index %llu is not below tree size %llu",
                       (unsigned long long)index, (unsigned long long)size);
    uint64_t fn = index, sn = size - 1;
    tt_hash r;
    memcpy(r, leaf.data, TT_HASH_SIZE);
    for (size_t i = 0; i < proof.size / TT_HASH_SIZE; i++) {
        const uint8_t *p = proof.data + i * TT_HASH_SIZE;
        if (sn == 0)
            return tt_fail(err, TT_ERR_BAD_PROOF, "inclusion proof is longer than the tree");
        if ((fn & 1) || fn == sn) {
            tt_merkle_node_hash(p, r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            tt_merkle_node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(r, root.data, TT_HASH_SIZE) != 0)
        return tt_fail(err, TT_ERR_BAD_PROOF, "inclusion proof does not lead to the root");
    return TT_OK;
}

tt_err tt_merkle_verify_consistency(uint64_t size1, uint64_t size2, tt_bytes root1, tt_bytes root2,
                                    tt_bytes proof, tt_error *err)
{
    if (size1 == 0)
        return tt_fail(err, TT_ERR_RANGE, "a consistency proof from the empty tree proves nothing");
    if (size2 < size1)
        return tt_fail(err, TT_ERR_RANGE, "size1 %llu is larger than size2 %llu",
                       (unsigned long long)size1, (unsigned long long)size2);
    tt_err rc = check_proof_shape(proof, err);
    if (rc != TT_OK)
        return rc;
    if (size1 == size2) {
        if (proof.size != 0)
            return tt_fail(err, TT_ERR_BAD_PROOF, "equal sizes need an empty proof");
        if (root1.size != root2.size || sodium_memcmp(root1.data, root2.data, root1.size) != 0)
            return tt_fail(err, TT_ERR_BAD_PROOF, "equal sizes with different roots");
        return TT_OK;
    }
    if (root1.size != TT_HASH_SIZE || root2.size != TT_HASH_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "roots must be 32-byte hashes");
    if (proof.size == 0)
        return tt_fail(err, TT_ERR_BAD_PROOF, "consistency proof is empty");

    size_t n = proof.size / TT_HASH_SIZE;
    const uint8_t *first = proof.data;
    size_t next = 1;
    if (is_pow2(size1)) { /* the old root is itself a node of the new tree */
        first = root1.data;
        next = 0;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    tt_hash fr, sr;
    memcpy(fr, first, TT_HASH_SIZE);
    memcpy(sr, first, TT_HASH_SIZE);
    for (size_t i = next; i < n; i++) {
        const uint8_t *c = proof.data + i * TT_HASH_SIZE;
        if (sn == 0)
            return tt_fail(err, TT_ERR_BAD_PROOF, "consistency proof is longer than the tree");
        if ((fn & 1) || fn == sn) {
            tt_merkle_node_hash(c, fr, fr);
            tt_merkle_node_hash(c, sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            tt_merkle_node_hash(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(fr, root1.data, TT_HASH_SIZE) != 0 ||
        sodium_memcmp(sr, root2.data, TT_HASH_SIZE) != 0)
        return tt_fail(err, TT_ERR_BAD_PROOF, "consistency proof does not join the two roots");
    return TT_OK;
}

void tt_merkle_builder_init(tt_merkle_builder *b)
{
    memset(b, 0, sizeof *b);
}

void tt_merkle_builder_push(tt_merkle_builder *b, const uint8_t leaf[TT_HASH_SIZE], tt_hash out[65],
                            size_t *count)
{
    memcpy(out[0], leaf, TT_HASH_SIZE);
    size_t c = 1;
    tt_hash h;
    memcpy(h, leaf, TT_HASH_SIZE);
    for (uint64_t n = b->size; n & 1; n >>= 1) {
        tt_merkle_node_hash(b->stack[--b->depth], h, h);
        memcpy(out[c++], h, TT_HASH_SIZE);
    }
    memcpy(b->stack[b->depth++], h, TT_HASH_SIZE);
    b->size++;
    *count = c;
}

void tt_merkle_builder_root(const tt_merkle_builder *b, uint8_t out[TT_HASH_SIZE])
{
    if (b->depth == 0) {
        tt_merkle_empty_root(out);
        return;
    }
    tt_hash h;
    memcpy(h, b->stack[b->depth - 1], TT_HASH_SIZE);
    for (unsigned i = b->depth - 1; i-- > 0;)
        tt_merkle_node_hash(b->stack[i], h, h);
    memcpy(out, h, TT_HASH_SIZE);
}
