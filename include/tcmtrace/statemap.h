/*
 * tcmtrace/statemap.h: the state map kept beside the derived state (DESIGN §11;
 * docs/statemap.md): one leaf per lot, its root in every checkpoint, proofs of a
 * lot's state (or of its absence) under any recent checkpoint.
 *
 * A lot's leaf text (the value smt.h hashes) is six lines, each "name value":
 *   tcmtrace-state/v1
 *   status <active|in_transit|held|recalled|destroyed|depleted>
 *   holder <actor id>
 *   to <the receiver while in transit, else ->
 *   remaining_g <grams left>
 *   verdict <none|pass|fail: the latest inspection's>
 *   last <seq of the last entry that changed the lot>
 *
 * The map is updated once per group commit from the lots whose records the
 * commit wrote, and kept for every commit size of the last
 * TT_STATEMAP_WINDOW entries (older versions are pruned as new ones come).
 */
#ifndef TCMTRACE_STATEMAP_H
#define TCMTRACE_STATEMAP_H

#include <jansson.h>

#include "tcmtrace/ledger.h"
#include "tcmtrace/smt.h"

#define TT_STATEMAP_WINDOW 65536
#define TT_STATEMAP_VALUE_MAX 256

/* The leaf text of a batch record into out (TT_STATEMAP_VALUE_MAX room): its length. */
size_t tt_statemap_value(json_t *rec, char *out);

/* A leaf text, read back strictly (TT_ERR_MALFORMED when it is not one). */
typedef struct tt_state_leaf {
    char status[25], holder[65], to[65], verdict[9];
    long long remaining_g;
    uint64_t last;
} tt_state_leaf;

tt_err tt_statemap_leaf_parse(const char *text, size_t len, tt_state_leaf *out, tt_error *err);

/* The map's root at tree size `size` (TT_ERR_NOT_FOUND when no version of that size is kept). */
tt_err tt_statemap_root(tt_ledger *l, uint64_t size, uint8_t root[TT_SMT_HASH], tt_error *err);

/* A lot's leaf and proof under the map of `size` (UINT64_MAX: the latest kept). */
typedef struct tt_state_answer {
    uint64_t size;
    uint8_t root[TT_SMT_HASH];
    int present;                          /* the lot is in the map */
    char value[TT_STATEMAP_VALUE_MAX + 1]; /* its leaf text when present */
    size_t value_len;
    tt_smt_proof proof;
} tt_state_answer;

tt_err tt_statemap_prove(tt_ledger *l, uint64_t size, const char *code, tt_state_answer *out,
                         tt_error *err);

/* Facts about the map: the lots in it, and the sizes it keeps a version of. */
typedef struct tt_statemap_stats {
    uint64_t lots;
    uint64_t oldest, latest; /* sizes kept (0, 0 when none) */
    int have;
} tt_statemap_stats;

tt_err tt_statemap_stats_get(tt_ledger *l, tt_statemap_stats *s, tt_error *err);

/*
 * The map's own bookkeeping checked: every node of the latest version is there, and every
 * node stored is in it or is listed as replaced by a commit kept (so that pruning will find
 * it). TT_ERR_AUDIT says what is wrong; *nodes gets how many nodes are stored.
 */
tt_err tt_statemap_check(tt_ledger *l, uint64_t *nodes, tt_error *err);

#endif
