/*
 * tcmtrace/api.h: the API's operations (DESIGN §5), one module over a
 * ledger handle and no transport: tcmtraced serves them over nanomsg and
 * tcmtrace-web over HTTP, the same answers from the same code.
 *
 * A request is a JSON object with "op" (status, batch, trace, entry, log,
 * proof, consistency, checkpoint, actor, label, scan); the answer is
 * {"ok":true,...} or {"ok":false,"error":{"code","message"}} with the wire
 * codes of tcmtrace/err.h. Submits are the daemon's (its writer appends
 * them); a read-only handle answers everything else but scan.
 */
#ifndef TCMTRACE_API_H
#define TCMTRACE_API_H

#include <jansson.h>

#include "tcmtrace/err.h"
#include "tcmtrace/ledger.h"
#include "tcmtrace/note.h"

typedef struct tt_api {
    tt_ledger *ledger;
    char origin[256];
    char vkey[TT_VKEY_MAX + 1];
    char base_url[300]; /* what labels point to: the genesis's, or https://<origin> */
    /* adds a transport's own counters to a status answer; may be NULL */
    void (*status)(void *ctx, json_t *answer);
    void *status_ctx;
} tt_api;

/* Sets a up over ledger l (its origin and log key from the ledger's meta). */
tt_err tt_api_init(tt_api *a, tt_ledger *l, tt_error *err);

/* The answer to `req` (a new reference; NULL only when out of memory). */
json_t *tt_api_read(const tt_api *a, json_t *req);

/*
 * The checkpoint to show and prove against: with a witness policy in the
 * ledger, the largest checkpoint whose cosignatures meet it and that holds at
 * least `need` entries (*met = 1); else the latest (*met = 0, or -1 when the
 * ledger has no policy). The note carries the cosignatures kept for it.
 */
tt_err tt_api_checkpoint(const tt_api *a, uint64_t need, uint64_t *size, char **note, size_t *len,
                         int *met, tt_error *err);

/* {"ok":false,"error":{"code","message"}}; the default sentence when message is empty. */
json_t *tt_api_error(tt_err code, const char *message);

/*
 * What json_dumps(v, flags) gives, byte for byte, faster for the API's
 * answers (core/jsonout.c): JSON_COMPACT with or without
 * JSON_REAL_PRECISION, an object or an array; any other call is jansson's
 * own. A malloc'd string and its length, or NULL (no memory, or a string
 * or an object key that is not UTF-8: jansson writes such keys unchecked).
 */
char *tt_json_compact(const json_t *v, size_t flags, size_t *len);

/*
 * What json_loadb(buf, len, flags, err) gives, faster (core/jsonin.c): with
 * flags 0 or JSON_REJECT_DUPLICATES a document jansson would read is read
 * into the same values in the same order; every error, and any other call,
 * is jansson's own, message and position included.
 */
json_t *tt_json_load(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
