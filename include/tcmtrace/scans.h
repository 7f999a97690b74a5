/*
 * tcmtrace/scans.h: label scans, the observations kept beside the signed log
 * (DESIGN §4 "Scans").
 *
 * A scan is anonymous (anyone who opens a label) or signed by an enrolled
 * actor: a scan body
 *
 *   {"v":1,"type":"scan","id":"<trace code>","at":"<RFC 3339>","nonce":"<b64url>"}
 *
 * signed with Ed25519 over "tcmtrace/scan/v2\n" || origin || "\n" || body (a scan names the ledger
 * it is for, as an event does: docs/formats.md). Anonymous scans only
 * count: they are the public scan count people are shown, and never raise a
 * flag. A signed scan is a place the lot was seen, and only signed scans raise
 * the counterfeit flags, so nobody can frame a holder or stay invisible by
 * scanning anonymously. Its "at" must be within TT_SCAN_WINDOW_MS of the
 * clock and later than the actor's previous signed scan, so a scan cannot be
 * replayed.
 *
 * Scans live in their own LMDB environment (DIR/scans/), so that recording
 * one never holds the ledger's write lock, and each lot's record is bounded:
 * counters and the TT_SCAN_PLACES most recent places.
 */
#ifndef TCMTRACE_SCANS_H
#define TCMTRACE_SCANS_H

#include <jansson.h>
#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/err.h"
#include "tcmtrace/ledger.h"

#define TT_SCAN_BODY_MAX 1024
#define TT_SCAN_WINDOW_MS (10 * 60 * 1000)
#define TT_SCAN_PLACES 16
#define TT_SCAN_AFTER_END_FLAG 3 /* signed scans of a used-up lot that make a pattern */
#define TT_SCAN_FLAG_ORGS 2      /* organisations of strangers a flag needs: no one actor's */
#define TT_SCAN_LINEAGE 64       /* lots of a lineage whose holders are no strangers to it */
#define TT_SCAN_PER_MINUTE 30    /* signed scans one actor may record a minute */

/* A signed scan as it arrives: the signer's key, its signature, the body. */
typedef struct tt_scan_sig {
    const uint8_t *actor; /* 32 bytes */
    const uint8_t *sig;   /* 64 bytes */
    tt_bytes body;
} tt_scan_sig;

/* Signs a scan body (for clients and tests). */
#define TT_SCAN_SIG_PREFIX "tcmtrace/scan/v2\n"
/* The prefix a scan for the ledger `origin` is signed with: TT_SCAN_SIG_PREFIX, origin, "\n". */
void tt_scan_prefix(const char *origin, char out[sizeof TT_SCAN_SIG_PREFIX + 256]);
void tt_scan_sign(const char *origin, tt_bytes body, const uint8_t sk[64], uint8_t sig[64]);

/*
 * Records a scan of `code` (its written form: spaces and hyphens allowed),
 * anonymous when `sig` is NULL, and returns the lot's scan record:
 *   {"count", "anonymous", "signed", "after_end", "places": [{"by","org","n","last_ms",
 *    "after_end"?, "observer"?}], "places_seen", "holders", "strangers", "status",
 *    "flags": [...], "reviewed"?: {"seq","ms","reason"}, "by"?}
 * "by" is the signer of this scan. Flags come from signed scans alone, and only from
 * strangers' (signers who never held the lot or a lot of its lineage, and are no inspector
 * or regulator), only since the market office's last batch.review of the lot ("reviewed"),
 * and only from strangers of TT_SCAN_FLAG_ORGS organisations or more: one dishonest actor,
 * or one organisation's staff, cannot brand an honest lot. "more_holders_than_sent": such
 * strangers saw the lot; "scanned_after_depleted": they scanned it TT_SCAN_AFTER_END_FLAG
 * times after it was used up or destroyed. A signed scan is refused with bad_signature,
 * malformed, not_enrolled, revoked, bad_time (outside the window), replay (not later than
 * the signer's last signed scan) or busy (its signer's TT_SCAN_PER_MINUTE this minute are
 * used), and then counts nowhere.
 */
tt_err tt_scan_record(tt_ledger *l, const char *code, const tt_scan_sig *sig, json_t **out,
                      tt_error *err);

/* The scan record of `code` without recording anything (NOT_FOUND: never scanned). */
tt_err tt_scan_get(tt_ledger *l, const char *code, json_t **out, tt_error *err);

/* Copies the scans (if any) into out/scans/, consistently (tt_ledger_backup). */
tt_err tt_scan_backup(tt_ledger *l, const char *out, tt_error *err);

#endif
