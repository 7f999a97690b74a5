/*
 * tiles.c: the log as C2SP tlog-tiles, read from what the store holds.
 *
 * A hash tile's hashes are stored complete subtrees (merkle.c keeps every
 * one), so a tile costs one read transaction and W lookups; an entry bundle
 * is a run of the entries database. Paths are parsed strictly: a tile has one
 * path, and a client or cache that asks for another form gets "malformed"
 * rather than a second name for the same bytes.
 */
#include "tcmtrace/tiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/ledger_internal.h"
#include "tcmtrace/merkle.h"

/* A decimal of 1..max with no leading zero, ending at *end. */
static int small_decimal(const char *s, const char **end, unsigned max, unsigned *out)
{
    unsigned v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        if (v > max)
            return 0;
    }
    *end = p;
    *out = v;
    return 1;
}

tt_err tt_tile_parse(const char *path, tt_tile *t, tt_error *err)
{
    const char *p = path;
    memset(t, 0, sizeof *t);
    t->width = TT_TILE_WIDTH;
    if (strncmp(p, "entries/", 8) == 0) {
        t->entries = 1;
        p += 8;
    } else if (!small_decimal(p, &p, 63, &t->level) || *p++ != '/') {
        return tt_fail(err, TT_ERR_MALFORMED, "a tile level is 0 to 63, without leading zeroes");
    }
    /* N: ("x" ddd "/")* ddd, at most 7 elements (2^64 has 20 digits) */
    for (int elems = 1;; elems++) {
        int x = *p == 'x';
        p += x;
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
              p[2] <= '9') ||
            t->n > UINT64_MAX / 1000 - 1)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "a tile index is 3-digit path elements, all but the last with an x");
        t->n = t->n * 1000 + (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
        p += 3;
        if (x) {
            if (*p++ != '/' || elems == 7)
                return tt_fail(err, TT_ERR_MALFORMED,
                               "a tile index element xNNN is followed by /, 7 elements at most");
            continue;
        }
        if (*p == '\0')
            return TT_OK;
        unsigned w;
        if (strncmp(p, ".p/", 3) == 0 && small_decimal(p + 3, &p, 255, &w) && w > 0 && *p == '\0') {
            t->width = w;
            return TT_OK;
        }
        return tt_fail(err, TT_ERR_MALFORMED, "a partial tile ends in .p/W, W from 1 to 255");
    }
}

size_t tt_tile_path(const tt_tile *t, char out[TT_TILE_PATH_MAX])
{
    char digits[32], num[40];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)t->n);
    int groups = (nd + 2) / 3, pad = groups * 3 - nd;
    memset(num, '0', (size_t)pad);
    memcpy(num + pad, digits, (size_t)nd + 1);
    size_t n = t->entries ? (size_t)snprintf(out, TT_TILE_PATH_MAX, "entries/")
                          : (size_t)snprintf(out, TT_TILE_PATH_MAX, "%u/", t->level);
    for (int g = 0; g < groups; g++) {
        int last = g + 1 == groups;
        n += (size_t)snprintf(out + n, TT_TILE_PATH_MAX - n, "%s%.3s%s", last ? "" : "x",
                              num + g * 3, last ? "" : "/");
    }
    if (t->width < TT_TILE_WIDTH)
        n += (size_t)snprintf(out + n, TT_TILE_PATH_MAX - n, ".p/%u", t->width);
    return n;
}

/* How many items (hashes at tree level 8L, or entries) a tree of `size` has. */
static uint64_t items_at(const tt_tile *t, uint64_t size)
{
    if (t->entries)
        return size;
    unsigned shift = 8 * t->level;
    return shift >= 64 ? 0 : size >> shift;
}

static tt_err read_hashes(tt_ledger *l, MDB_txn *txn, const tt_tile *t, uint8_t *out, tt_error *err)
{
    struct tt_txn tx = {l, txn, 0, 0, NULL, NULL};
    for (unsigned i = 0; i < t->width; i++) {
        uint64_t k = t->n * TT_TILE_WIDTH + i;
        if (tt_merkle_read_txn(&tx, tt_merkle_stored_index(8 * t->level, k),
                               out + (size_t)i * TT_HASH_SIZE) != TT_OK)
            return tt_fail(err, TT_ERR_STORE, "the store lacks Merkle hash %llu at level %u",
                           (unsigned long long)k, 8 * t->level);
    }
    return TT_OK;
}

static tt_err read_bundle(tt_ledger *l, MDB_txn *txn, const tt_tile *t, uint8_t **out, size_t *len,
                          tt_error *err)
{
    MDB_cursor *cur;
    uint8_t kb[8];
    tt_put_u64be(kb, t->n * TT_TILE_WIDTH);
    MDB_val k = {8, kb}, v;
    int m = mdb_cursor_open(txn, l->dbi[TT_DB_ENTRIES], &cur);
    if (m != 0)
        return tt_mdb_fail(err, m, "cannot read the entries");
    size_t cap = 0, n = 0;
    uint8_t *buf = NULL;
    tt_err rc = TT_OK;
    m = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    for (unsigned i = 0; rc == TT_OK && i < t->width; i++) {
        tt_bytes stored = {m == 0 ? v.mv_size : 0, m == 0 ? v.mv_data : NULL};
        size_t wire = tt_stored_size(stored), got;
        if (m != 0 || wire > TT_ENTRY_LIMIT ||
            tt_get_u64be(k.mv_data) != t->n * TT_TILE_WIDTH + i) {
            rc = tt_fail(err, TT_ERR_STORE, "the store lacks entry %llu, or it is too large",
                         (unsigned long long)(t->n * TT_TILE_WIDTH + i));
            break;
        }
        if (n + 2 + wire > cap) {
            size_t ncap = (cap ? cap * 2 : 64 * 1024) + wire;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                rc = tt_fail(err, TT_ERR_NOMEM, NULL);
                break;
            }
            buf = nb, cap = ncap;
        }
        if (tt_stored_unpack(stored, buf + n + 2, wire, &got, NULL) != TT_OK) {
            rc =
                tt_fail(err, TT_ERR_STORE, "entry %llu is damaged in the store: run tcmtrace audit",
                        (unsigned long long)(t->n * TT_TILE_WIDTH + i));
            break;
        }
        buf[n] = (uint8_t)(got >> 8);
        buf[n + 1] = (uint8_t)got;
        n += 2 + got;
        m = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != TT_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return TT_OK;
}

tt_err tt_tile_read(tt_ledger *l, const tt_tile *t, uint64_t size, uint8_t **out, size_t *len,
                    tt_error *err)
{
    uint64_t have = items_at(t, size);
    if (t->width == 0 || t->width > TT_TILE_WIDTH || t->n > UINT64_MAX / TT_TILE_WIDTH - 1 ||
        t->n * TT_TILE_WIDTH + t->width > have)
        return tt_fail(err, TT_ERR_NOT_FOUND, "the log of %llu entries has no such tile",
                       (unsigned long long)size);
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    if (t->entries) {
        rc = read_bundle(l, txn, t, out, len, err);
    } else if ((*out = malloc((size_t)t->width * TT_HASH_SIZE)) == NULL) {
        rc = tt_fail(err, TT_ERR_NOMEM, NULL);
    } else if ((rc = read_hashes(l, txn, t, *out, err)) != TT_OK) {
        free(*out);
    } else {
        *len = (size_t)t->width * TT_HASH_SIZE;
    }
    tt_rtxn_end(l, txn);
    return rc;
}
