/*
 * smt.c: the state map's hashes and its proofs (smt.h; docs/statemap.md).
 */
#include "tcmtrace/smt.h"

#include <stdlib.h>
#include <string.h>

#include "tcmtrace/sha256.h"

void tt_smt_key(const char *code, uint8_t key[TT_SMT_HASH])
{
    tt_sha256(key, code, strlen(code));
}

int tt_smt_bit(const uint8_t key[TT_SMT_HASH], unsigned i)
{
    return (key[i / 8] >> (7 - i % 8)) & 1;
}

/* SHA-256(tag || a || b), the map's one shape of hash. */
static void tagged(uint8_t tag, const uint8_t a[TT_SMT_HASH], const uint8_t b[TT_SMT_HASH],
                   uint8_t out[TT_SMT_HASH])
{
    tt_sha256_state st;
    tt_sha256_init(&st);
    tt_sha256_update(&st, &tag, 1);
    tt_sha256_update(&st, a, TT_SMT_HASH);
    tt_sha256_update(&st, b, TT_SMT_HASH);
    tt_sha256_final(&st, out);
}

void tt_smt_leaf(const uint8_t key[TT_SMT_HASH], const uint8_t value_hash[TT_SMT_HASH],
                 uint8_t out[TT_SMT_HASH])
{
    tagged(0x00, key, value_hash, out);
}

void tt_smt_node(const uint8_t left[TT_SMT_HASH], const uint8_t right[TT_SMT_HASH],
                 uint8_t out[TT_SMT_HASH])
{
    tagged(0x01, left, right, out);
}

int tt_smt_is_empty(const uint8_t h[TT_SMT_HASH])
{
    uint8_t any = 0;
    for (int i = 0; i < TT_SMT_HASH; i++)
        any |= h[i];
    return any == 0;
}

size_t tt_smt_proof_encode(const tt_smt_proof *p, uint8_t *out)
{
    size_t n = 0;
    out[n++] = (uint8_t)p->kind;
    out[n++] = (uint8_t)p->depth;
    size_t map = n, maplen = (p->depth + 7) / 8;
    memset(out + map, 0, maplen);
    n += maplen;
    for (unsigned i = 0; i < p->depth; i++)
        if (p->present[i]) {
            out[map + i / 8] |= (uint8_t)(0x80 >> (i % 8));
            memcpy(out + n, p->siblings[i], TT_SMT_HASH);
            n += TT_SMT_HASH;
        }
    if (p->kind == TT_SMT_OTHER) {
        memcpy(out + n, p->other_key, TT_SMT_HASH);
        memcpy(out + n + TT_SMT_HASH, p->other_value, TT_SMT_HASH);
        n += 2 * TT_SMT_HASH;
    }
    return n;
}

tt_err tt_smt_proof_decode(tt_bytes in, tt_smt_proof *p, tt_error *err)
{
    memset(p, 0, sizeof *p);
    if (in.size < 2)
        return tt_fail(err, TT_ERR_MALFORMED, "the state proof is shorter than its header");
    if (in.data[0] > TT_SMT_EMPTY)
        return tt_fail(err, TT_ERR_MALFORMED, "the state proof's kind %u is not 0, 1 or 2",
                       in.data[0]);
    p->kind = in.data[0];
    p->depth = in.data[1];
    size_t n = 2, maplen = (p->depth + 7) / 8;
    if (in.size < n + maplen)
        return tt_fail(err, TT_ERR_MALFORMED, "the state proof's bitmap is cut short");
    const uint8_t *map = in.data + n;
    n += maplen;
    if (p->depth % 8 && (map[maplen - 1] & (0xff >> (p->depth % 8))))
        return tt_fail(err, TT_ERR_MALFORMED, "the state proof's bitmap has bits past its depth");
    for (unsigned i = 0; i < p->depth; i++) {
        if (!(map[i / 8] & (0x80 >> (i % 8))))
            continue;
        if (in.size - n < TT_SMT_HASH)
            return tt_fail(err, TT_ERR_MALFORMED, "the state proof has fewer hashes than its bitmap");
        p->present[i] = 1;
        memcpy(p->siblings[i], in.data + n, TT_SMT_HASH);
        if (tt_smt_is_empty(p->siblings[i]))
            return tt_fail(err, TT_ERR_MALFORMED, "the state proof lists an empty sibling as present");
        n += TT_SMT_HASH;
    }
    if (p->kind == TT_SMT_OTHER) {
        if (in.size - n < 2 * TT_SMT_HASH)
            return tt_fail(err, TT_ERR_MALFORMED, "the state proof's other leaf is cut short");
        memcpy(p->other_key, in.data + n, TT_SMT_HASH);
        memcpy(p->other_value, in.data + n + TT_SMT_HASH, TT_SMT_HASH);
        n += 2 * TT_SMT_HASH;
    }
    if (n != in.size)
        return tt_fail(err, TT_ERR_MALFORMED, "the state proof has %zu bytes after its end",
                       in.size - n);
    return TT_OK;
}

tt_err tt_smt_verify(const uint8_t root[TT_SMT_HASH], const uint8_t key[TT_SMT_HASH],
                     const tt_smt_proof *p, const uint8_t *value, size_t value_len, tt_error *err)
{
    uint8_t h[TT_SMT_HASH], vh[TT_SMT_HASH];
    if (value && p->kind != TT_SMT_INCLUDED)
        return tt_fail(err, TT_ERR_BAD_PROOF, "the state proof says the lot is not in the map");
    if (!value && p->kind == TT_SMT_INCLUDED)
        return tt_fail(err, TT_ERR_BAD_PROOF, "the state proof is of a leaf but none was given");
    if (p->depth > TT_SMT_DEPTH_MAX)
        return tt_fail(err, TT_ERR_BAD_PROOF, "the state proof is deeper than a map can be");
    switch (p->kind) {
    case TT_SMT_INCLUDED:
        tt_sha256(vh, value, value_len);
        tt_smt_leaf(key, vh, h);
        break;
    case TT_SMT_OTHER:
        if (memcmp(p->other_key, key, TT_SMT_HASH) == 0)
            return tt_fail(err, TT_ERR_BAD_PROOF,
                           "the state proof shows the lot's own leaf as another's");
        for (unsigned i = 0; i < p->depth; i++)
            if (tt_smt_bit(p->other_key, i) != tt_smt_bit(key, i))
                return tt_fail(err, TT_ERR_BAD_PROOF,
                               "the state proof's other leaf is not on the lot's path");
        tt_smt_leaf(p->other_key, p->other_value, h);
        break;
    default:
        memset(h, 0, sizeof h);
        break;
    }
    static const uint8_t zero[TT_SMT_HASH];
    for (unsigned i = p->depth; i-- > 0;) {
        const uint8_t *s = p->present[i] ? p->siblings[i] : zero;
        if (tt_smt_bit(key, i))
            tt_smt_node(s, h, h);
        else
            tt_smt_node(h, s, h);
    }
    if (memcmp(h, root, TT_SMT_HASH) != 0)
        return tt_fail(err, TT_ERR_BAD_PROOF, "the state proof does not lead to the map's root");
    return TT_OK;
}

void tt_smt_pair_set(tt_smt_pair *p, const char *code, const void *value, size_t len)
{
    tt_smt_key(code, p->key);
    tt_sha256(p->value, value, len);
    tt_smt_leaf(p->key, p->value, p->leaf);
}

static size_t first_one(const tt_smt_pair *a, size_t n, unsigned depth)
{
    size_t m = 0;
    while (m < n && !tt_smt_bit(a[m].key, depth))
        m++;
    return m;
}

static void root_at(const tt_smt_pair *a, size_t n, unsigned depth, uint8_t out[TT_SMT_HASH])
{
    if (n == 0) {
        memset(out, 0, TT_SMT_HASH);
        return;
    }
    if (n == 1 || depth > TT_SMT_DEPTH_MAX) {
        memcpy(out, a[0].leaf, TT_SMT_HASH);
        return;
    }
    size_t m = first_one(a, n, depth);
    uint8_t l[TT_SMT_HASH], r[TT_SMT_HASH];
    root_at(a, m, depth + 1, l);
    root_at(a + m, n - m, depth + 1, r);
    tt_smt_node(l, r, out);
}

void tt_smt_root_of(const tt_smt_pair *sorted, size_t n, uint8_t root[TT_SMT_HASH])
{
    root_at(sorted, n, 0, root);
}

void tt_smt_prove_of(const tt_smt_pair *sorted, size_t n, const uint8_t key[TT_SMT_HASH],
                     tt_smt_proof *p)
{
    memset(p, 0, sizeof *p);
    const tt_smt_pair *a = sorted;
    unsigned depth = 0;
    while (n > 1 && depth < TT_SMT_DEPTH_MAX) {
        size_t m = first_one(a, n, depth);
        int bit = tt_smt_bit(key, depth);
        if (bit)
            root_at(a, m, depth + 1, p->siblings[depth]);
        else
            root_at(a + m, n - m, depth + 1, p->siblings[depth]);
        p->present[depth] = !tt_smt_is_empty(p->siblings[depth]);
        if (bit)
            a += m, n -= m;
        else
            n = m;
        p->depth = ++depth;
    }
    if (n == 0) {
        p->kind = TT_SMT_EMPTY;
    } else if (memcmp(a[0].key, key, TT_SMT_HASH) == 0) {
        p->kind = TT_SMT_INCLUDED;
    } else {
        p->kind = TT_SMT_OTHER;
        memcpy(p->other_key, a[0].key, TT_SMT_HASH);
        memcpy(p->other_value, a[0].value, TT_SMT_HASH);
    }
}

/* ---- the map in memory ------------------------------------------------------------- */

typedef struct mnode {
    uint8_t h[TT_SMT_HASH];   /* a leaf's hash; a node's once it is not dirty */
    uint8_t key[TT_SMT_HASH]; /* a leaf's key */
    struct mnode *c[2];
    uint8_t leaf, dirty;
} mnode;

#define ARENA 65536 /* nodes a block */

struct tt_smt_mem {
    mnode *root;
    mnode **blocks;
    size_t nblocks, capblocks, used; /* nodes used of the last block */
};

tt_smt_mem *tt_smt_mem_new(void)
{
    return calloc(1, sizeof(tt_smt_mem));
}

static mnode *mnode_new(tt_smt_mem *m)
{
    if (m->nblocks == 0 || m->used == ARENA) {
        if (m->nblocks == m->capblocks) {
            size_t cap = m->capblocks ? 2 * m->capblocks : 16;
            mnode **nb = realloc(m->blocks, cap * sizeof *nb);
            if (nb == NULL)
                return NULL;
            m->blocks = nb, m->capblocks = cap;
        }
        mnode *b = malloc(ARENA * sizeof *b);
        if (b == NULL)
            return NULL;
        m->blocks[m->nblocks++] = b;
        m->used = 0;
    }
    mnode *n = &m->blocks[m->nblocks - 1][m->used++];
    memset(n, 0, sizeof *n);
    return n;
}

int tt_smt_mem_set(tt_smt_mem *m, const uint8_t key[TT_SMT_HASH], const uint8_t leaf[TT_SMT_HASH])
{
    mnode **p = &m->root;
    for (unsigned depth = 0;; depth++) {
        mnode *n = *p;
        if (n == NULL) {
            if ((n = mnode_new(m)) == NULL)
                return -1;
            n->leaf = 1;
            memcpy(n->key, key, TT_SMT_HASH);
            memcpy(n->h, leaf, TT_SMT_HASH);
            *p = n;
            return 0;
        }
        if (!n->leaf) {
            n->dirty = 1;
            p = &n->c[tt_smt_bit(key, depth)];
            continue;
        }
        if (memcmp(n->key, key, TT_SMT_HASH) == 0) {
            memcpy(n->h, leaf, TT_SMT_HASH);
            return 0;
        }
        /* another lot here: nodes down to where their keys part, the two leaves below */
        mnode *old = n;
        while (depth <= TT_SMT_DEPTH_MAX) {
            mnode *in = mnode_new(m);
            if (in == NULL)
                return -1;
            in->dirty = 1;
            *p = in;
            int a = tt_smt_bit(key, depth), b = tt_smt_bit(old->key, depth);
            if (a != b) {
                mnode *nl = mnode_new(m);
                if (nl == NULL)
                    return -1;
                nl->leaf = 1;
                memcpy(nl->key, key, TT_SMT_HASH);
                memcpy(nl->h, leaf, TT_SMT_HASH);
                in->c[a] = nl;
                in->c[b] = old;
                return 0;
            }
            p = &in->c[a];
            depth++;
        }
        return -1; /* two keys of 256 equal leading bits: not SHA-256 */
    }
}

static void mroot(mnode *n, uint8_t out[TT_SMT_HASH])
{
    if (n == NULL) {
        memset(out, 0, TT_SMT_HASH);
        return;
    }
    if (!n->leaf && n->dirty) {
        uint8_t l[TT_SMT_HASH], r[TT_SMT_HASH];
        mroot(n->c[0], l);
        mroot(n->c[1], r);
        tt_smt_node(l, r, n->h);
        n->dirty = 0;
    }
    memcpy(out, n->h, TT_SMT_HASH);
}

void tt_smt_mem_root(tt_smt_mem *m, uint8_t root[TT_SMT_HASH])
{
    mroot(m->root, root);
}

void tt_smt_mem_free(tt_smt_mem *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m);
}
