/*
 * tcmtrace/epcis.h: the ledger's events as GS1 EPCIS 2.0 events (JSON-LD,
 * DESIGN §9). The mapping is docs/epcis.md: each batch.* entry becomes one
 * EPCIS event (a part sent off as a new lot, two: the TransformationEvent
 * that makes the part and the ObjectEvent that ships it), and every EPCIS
 * event carries the entry that proves it ("tcmtrace:seq", ":entryHash",
 * ":entry") and an eventID derived from that entry. ledger.* and actor.*
 * entries are master data, not events about goods, and map to none.
 */
#ifndef TCMTRACE_EPCIS_H
#define TCMTRACE_EPCIS_H

#include <jansson.h>
#include <stdint.h>

#include "tcmtrace/err.h"
#include "tcmtrace/ledger.h"

/* The JSON-LD context of every document: GS1's EPCIS 2.0 context and the
 * ledger's own namespace, "tcmtrace": <base_url>/ns/epcis#. */
json_t *tt_epcis_context(const char *base_url);

/* The URI of a lot: <base_url>/01/<GTIN-14>/10/<code> (GS1 Digital Link)
 * when it carries a GTIN, else <base_url>/b/<code>. */
void tt_epcis_lot_uri(const char *base_url, const char *code, const char *gtin, char *out,
                      size_t cap);

/* The eventID of the idx-th EPCIS event of the entry whose leaf hash is h:
 * urn:uuid: of the first 16 bytes of SHA-256("tcmtrace/epcis/v1\n" || h ||
 * idx), as a version-8 UUID. */
void tt_epcis_event_id(const uint8_t h[32], unsigned idx, char out[46]);

/*
 * One page of EPCIS events (the API's "epcis" op): `q` may hold "from" and
 * "to" (entry seqs, both inclusive), "id" (a trace code: the entries about
 * that lot), "bizStep", "epc" and "epcClass" (arrays of strings; a value
 * ending in '*' matches by prefix), "ge_time" and "lt_time" (RFC 3339),
 * "cursor" (the "next" of the previous page) and "limit" (events, 1-500,
 * default 100). *events gets the page and *next the cursor of the next one
 * (NULL at the end). A page looks at no more than 5,000 entries and holds
 * about 1 MB at most, so it may hold fewer events than asked (even none)
 * with a "next". Errors: TT_ERR_MALFORMED naming the field.
 */
tt_err tt_epcis_page(tt_ledger *l, const char *base_url, json_t *q, json_t **events, char **next,
                     tt_error *err);

#endif
