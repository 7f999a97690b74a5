/*
 * tcmtrace/state.h: the batch rules and the state they derive (DESIGN §4).
 *
 * tt_rules_apply is the tt_apply_fn the daemon passes to tt_ledger_append:
 * it parses the event, checks every rule against the current state and
 * writes the new state, all in the event's own nested transaction, so a
 * refused event changes nothing. Derived state (batches, actors, their
 * event indexes, the genesis and the limits table in force) is a pure
 * function of the entries: tt_state_audit rebuilds it by replaying every
 * entry and compares.
 *
 * Rules: the ledger starts with ledger.genesis (and nothing else is a
 * genesis); the signer is enrolled, not revoked, signs with its current key
 * and has the role the event needs; only the holder moves a batch;
 * transfers put a batch in transit until the recipient receives (or
 * rejects) it; quantities are conserved across transfer of a part, split,
 * process, sell and destroy; a held or recalled batch is touched only by
 * hold, release, recall and inspect; a recall reaches every descendant; an
 * inspection's verdict is computed from the limits table in the ledger and
 * a fail holds the batch; trace codes and actor ids are unique.
 */
#ifndef TCMTRACE_STATE_H
#define TCMTRACE_STATE_H

#include <jansson.h>

#include "tcmtrace/audit.h"
#include "tcmtrace/event.h"
#include "tcmtrace/ledger.h"

/*
 * Events the caller has parsed already (the daemon's workers do, while
 * checking signatures), so that the single writer does not parse them
 * again: events[i] was parsed from exactly the bytes at bodies[i].data.
 * An entry whose body is not among them is parsed as usual.
 */
typedef struct tt_parsed {
    const uint8_t *const *bodies;
    const tt_event *events;
    size_t n;
    size_t next; /* where to look first: entries come in order */
} tt_parsed;

/* The rules, as a tt_apply_fn; ctx is a tt_parsed, or NULL. */
tt_err tt_rules_apply(void *ctx, tt_txn *txn, const tt_entry *entry, tt_error *err);

/* The state of a batch (a new reference; json_decref it). */
tt_err tt_state_batch(tt_ledger *l, const char *code, json_t **out, tt_error *err);

/* The links {id, qty_g, via, seq} to a batch's children, in log order, at most max (0: all);
 * *total (when not NULL) gets how many there are. */
tt_err tt_state_children(tt_ledger *l, const char *code, size_t max, json_t **out, size_t *total,
                         tt_error *err);

/* An actor by id, or by base64 public key when `id` is 44 characters. */
tt_err tt_state_actor(tt_ledger *l, const char *id, json_t **out, tt_error *err);

/* The actor id of a public key (current or retired), or TT_ERR_NOT_FOUND. */
tt_err tt_state_actor_of_key(tt_ledger *l, const uint8_t pk[32], char id[33], tt_error *err);

/* The herb dictionary in force: {"edition", "herbs": [{name_zh, pinyin?, latin?, species?,
 * part?, parts?, category?, review?}]} in the order of their 中文名's bytes. */
tt_err tt_state_herbs(tt_ledger *l, json_t **out, tt_error *err);

/* The events that touched a batch: [{"seq":n,"type":"..."}] in order. */
tt_err tt_state_batch_events(tt_ledger *l, const char *code, json_t **out, tt_error *err);

/* As tt_state_batch_events, bounded whatever the lot's history: its first 20 events and its
 * newest 480 (all when it has no more than 500); *total is how many it has. */
tt_err tt_state_batch_events_bounded(tt_ledger *l, const char *code, json_t **out, size_t *total,
                                     tt_error *err);

/* The events an actor signed or received: [{"seq":n,"type":"..."}]. */
tt_err tt_state_actor_events(tt_ledger *l, const char *id, json_t **out, tt_error *err);

/*
 * The lineage of a batch: {"id", "up": node, "down": node} where a node is
 * {"id","herb","form","status","holder","qty","origin","events":[...],
 *  "parents"|"children":[node...]} and each event is
 * {"seq","type","at","by", ...what it moved}. Up reaches every origin,
 * down every descendant and sale.
 */
tt_err tt_trace(tt_ledger *l, const char *code, json_t **out, tt_error *err);

/*
 * One page of a lot's lineage: breadth first from `code` up to its origins
 * (up) or down to every descendant, at most `depth` links away (0: 64), as a
 * flat list of nodes [cursor, cursor + limit) (limit at most 500), each a
 * batch summary with its "depth", the node it was reached "from", "via"
 * (split, transfer, process), the link's "qty_g" and "seq". *out is
 * {"id","direction","nodes","next"}: next is the cursor of the next page, or
 * null. A page costs at most cursor + limit record reads, whatever the size
 * of the lineage.
 */
tt_err tt_trace_page(tt_ledger *l, const char *code, int up, unsigned depth, size_t cursor,
                     size_t limit, json_t **out, tt_error *err);

/*
 * One page of batches (actors = 0) or actors (1) matching `filter`: for
 * batches {"holder"?, "herb"?, "state"?, "origin"?} (holder also matches a
 * lot on its way to that actor, origin any of province, city, county), for
 * actors {"role"?}. Starts after `cursor` (NULL: the first), returns at most
 * `limit` summaries in *items and looks at no more than a bounded number of
 * records; *next is the cursor of the next page (malloc'd), NULL at the end.
 */
tt_err tt_state_list(tt_ledger *l, int actors, json_t *filter, const char *cursor, size_t limit,
                     json_t **items, char **next, tt_error *err);

/*
 * Checks the derived state against the digest every commit records with the
 * head (a sum of one hash per derived record, moved by every write the rules
 * make): TT_ERR_AUDIT when a record was changed, added or removed outside
 * the rules, or a rebuild was cut short; TT_ERR_NOT_FOUND when the ledger
 * predates the digest. The daemon runs it before it serves or writes.
 */
tt_err tt_state_check(tt_ledger *l, tt_error *err);

/* Only whether the derived state is of the layout this code reads (cheap: a reader's check). */
tt_err tt_state_layout_check(tt_ledger *l, tt_error *err);

/* Records the digest of the derived state as it is (a ledger that predates it). */
tt_err tt_state_digest_record(tt_ledger *l, tt_error *err);

/*
 * Rebuilds every derived record from the entries, on a ledger open for
 * writing (no daemon): empties the derived databases and replays each entry
 * through the rules, a chunk to a transaction; until it finishes, the
 * ledger is marked so that no daemon starts on a half-built state.
 */
tt_err tt_state_rebuild(tt_ledger *l, tt_progress_fn progress, void *progress_ctx, tt_error *err);

/* The witness policy in force {"policy": text, "seq": its entry}; TT_ERR_NOT_FOUND if none. */
tt_err tt_state_witnesses(tt_ledger *l, json_t **out, tt_error *err);

/* The genesis record {"origin","log_key","market","authorities":[...]}. */
tt_err tt_state_genesis(tt_ledger *l, json_t **out, tt_error *err);

/*
 * A full audit (tt_audit) that also replays every entry through the rules
 * into a scratch store under `scratch_dir` (created and removed) and
 * compares the derived state with the ledger's.
 */
tt_err tt_state_audit(tt_ledger *l, const tt_verifier *keys, size_t nkeys, const char *scratch_dir,
                      tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                      tt_error *err);

/* The path of this process's audit scratch store under `parent` (the CLI's:
 * $TMPDIR or /tmp): 0, or -1 when it does not fit in n bytes. */
int tt_state_audit_scratch(const char *parent, char *out, size_t n);

/*
 * Removes the scratch stores that audits which were stopped (killed, the
 * machine down) left in `parent`: every directory tt_state_audit_scratch named
 * that belongs to this user and whose process is gone. Calls `removed`
 * with each one's path, if given.
 */
void tt_state_audit_clean(const char *parent, void (*removed)(const char *path));

#endif
