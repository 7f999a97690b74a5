/*
 * tcmtrace/tiles.h: the log as C2SP tlog-tiles (DESIGN §3 "Tiles";
 * c2sp.org/tlog-tiles): hash tiles and entry bundles, computed from the
 * Merkle hashes and entries the store already holds, never a second copy.
 *
 * The n'th hash tile at level L is the 256 Merkle Tree Hashes of the
 * subtrees D[(n*256+i)*256^L : (n*256+i+1)*256^L]; those are exactly the
 * stored complete subtrees at tree level 8L. A partial tile has its first
 * W < 256 hashes. An entry bundle holds entries n*256 ... each after its
 * big-endian 2-byte length (an entry is at most 65,535 bytes for that).
 * Full tiles and bundles never change.
 */
#ifndef TCMTRACE_TILES_H
#define TCMTRACE_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/err.h"
#include "tcmtrace/ledger.h"

#define TT_TILE_WIDTH 256
#define TT_TILE_PATH_MAX 96

typedef struct tt_tile {
    int entries;    /* 1: an entry bundle; 0: a hash tile */
    unsigned level; /* hash tiles: 0..63 */
    uint64_t n;     /* index within its level */
    unsigned width; /* 1..255 for a partial tile, 256 for a full one */
} tt_tile;

/*
 * Parses a tile path relative to the log's tile/ directory: "<L>/<N>" or
 * "entries/<N>", then ".p/<W>" for a partial tile; N in 3-digit elements,
 * all but the last with an "x" ("x001/x234/067"); no leading zeroes in L or
 * W. TT_ERR_MALFORMED for anything else.
 */
tt_err tt_tile_parse(const char *path, tt_tile *t, tt_error *err);

/* The path of t relative to tile/ ("0/x001/234.p/7"); returns its length. */
size_t tt_tile_path(const tt_tile *t, char out[TT_TILE_PATH_MAX]);

/*
 * The bytes of tile t in the tree of `size` leaves (the size of a signed
 * checkpoint): *out is malloc'd. TT_ERR_NOT_FOUND when the tree has no such
 * tile (beyond its end, or a partial tile wider than the tree allows).
 */
tt_err tt_tile_read(tt_ledger *l, const tt_tile *t, uint64_t size, uint8_t **out, size_t *len,
                    tt_error *err);

#endif
