/*
 * tcmtrace/audit.h: a full offline audit of a ledger.
 *
 * Audit trusts nothing the store derived: it walks every entry in order and
 * rechecks its encoding, seq, prev link, signature and entry hash; that the
 * hash and body indexes point back to it; that every stored Merkle hash is
 * what the entries give; that the head record is right; and that every
 * signed checkpoint verifies with a trusted log key and commits to the root
 * the entries give at its size. It names the first seq that disagrees.
 */
#ifndef TCMTRACE_AUDIT_H
#define TCMTRACE_AUDIT_H

#include <stdint.h>

#include "tcmtrace/ledger.h"
#include "tcmtrace/note.h"

typedef struct tt_audit_report {
    int ok;                     /* 1 when everything checked out */
    uint64_t entries;           /* entries in the ledger */
    uint64_t checked;           /* entries checked before stopping */
    uint64_t checkpoints;       /* signed checkpoints verified */
    uint64_t latest_checkpoint; /* tree size of the latest one (0: none) */
    uint64_t state_roots;       /* checkpoints whose state map root was recomputed and matched */
    uint8_t root[TT_HASH_SIZE]; /* root recomputed from the entries */
    uint64_t bad_seq;           /* first seq that disagrees (when !ok) */
    int bad_seq_known;          /* bad_seq names an entry */
    tt_error why;               /* what disagrees */
    /* Where the CPU went, summed over threads: inflating, decoding, hashing and verifying
     * the entries (on every core), and the one thread's walk in order (chain, indexes,
     * Merkle, checkpoints and the extra check, such as the replay of the rules). */
    uint64_t prepare_cpu_ns;
    uint64_t verify_cpu_ns; /* the part of prepare_cpu_ns spent verifying signatures */
    uint64_t walk_cpu_ns;
} tt_audit_report;

/* Called now and then with how many of `total` entries are done. */
typedef void (*tt_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Extra per-entry check, for derived state kept beside the log (rules).
 * Called for every entry in order after the log checks pass.
 */
typedef tt_err (*tt_audit_entry_fn)(void *ctx, const tt_entry *e, tt_error *err);

/*
 * Audits `l` with the log keys the caller trusts (`nkeys` may be 0: then
 * checkpoints are only checked against the recomputed roots, and the report
 * says no checkpoint was verified). Returns TT_OK when the audit ran, with
 * the verdict in `r`; another code when it could not run at all.
 */
tt_err tt_audit(tt_ledger *l, const tt_verifier *keys, size_t nkeys, tt_audit_entry_fn extra,
                void *extra_ctx, tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                tt_error *err);

/*
 * The state map's root after the entries so far (the replay's), asked for at
 * each checkpoint: the checkpoint's state map line must carry it, and once a
 * checkpoint has carried one every later checkpoint must.
 */
typedef tt_err (*tt_audit_state_fn)(void *ctx, uint64_t size, uint8_t root[TT_HASH_SIZE],
                                    tt_error *err);

/* tt_audit with the state map's roots checked too (state NULL: they are not). */
tt_err tt_audit_with_state(tt_ledger *l, const tt_verifier *keys, size_t nkeys,
                           tt_audit_entry_fn extra, tt_audit_state_fn state, void *extra_ctx,
                           tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                           tt_error *err);

#endif
