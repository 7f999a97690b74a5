/*
 * tcmtrace/event.h: events, the signed JSON bodies of entries (DESIGN §4).
 *
 * A body is one JSON object, UTF-8, at most 64 KiB, with no duplicate keys
 * and no fields beyond those of its type. Every event has "v":1, "type",
 * "at" (RFC 3339 with offset) and "nonce" (base64url, 16 to 64 random
 * bytes). Quantities are integers in grams ("qty_g", 1 to 10^12); measured
 * values are decimal strings ("0.35"). The schemas in schemas/events/ say
 * the same, field for field, and the tests hold both to the same fixtures.
 */
#ifndef TCMTRACE_EVENT_H
#define TCMTRACE_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/err.h"

#define TT_QTY_MAX INT64_C(1000000000000) /* 1,000 tonnes in grams */

/* The event types. A type's number (its place here) is what the derived event indexes hold:
 * a type is only ever added at the end, else the derived-state layout changes. */
#define TT_EVENT_TYPES(X)                                                                          \
    X(GENESIS, "ledger.genesis")                                                                   \
    X(LIMITS, "ledger.limits")                                                                     \
    X(HERBS, "ledger.herbs")                                                                       \
    X(ENROLL, "actor.enroll")                                                                      \
    X(REVOKE, "actor.revoke")                                                                      \
    X(ROTATE, "actor.rotate")                                                                      \
    X(REGISTER, "batch.register")                                                                  \
    X(TRANSFER, "batch.transfer")                                                                  \
    X(RECEIVE, "batch.receive")                                                                    \
    X(REJECT, "batch.reject")                                                                      \
    X(CANCEL, "batch.cancel")                                                                      \
    X(SPLIT, "batch.split")                                                                        \
    X(PROCESS, "batch.process")                                                                    \
    X(INSPECT, "batch.inspect")                                                                    \
    X(HOLD, "batch.hold")                                                                          \
    X(RELEASE, "batch.release")                                                                    \
    X(RECALL, "batch.recall")                                                                      \
    X(SELL, "batch.sell")                                                                          \
    X(DESTROY, "batch.destroy")                                                                    \
    X(WITNESSES, "ledger.witnesses")                                                               \
    X(REVIEW, "batch.review")                                                                      \
    X(SUCCEED, "actor.succeed")

typedef enum tt_event_type {
#define TT_EV_ENUM_(name, str) TT_EV_##name,
    TT_EVENT_TYPES(TT_EV_ENUM_)
#undef TT_EV_ENUM_
        TT_EV_COUNT
} tt_event_type;

/* Actor roles, as written in events. */
#define TT_ROLES(X)                                                                                \
    X(GROWER, "grower")                                                                            \
    X(TRADER, "trader")                                                                            \
    X(PROCESSOR, "processor")                                                                      \
    X(INSPECTOR, "inspector")                                                                      \
    X(REGULATOR, "regulator")                                                                      \
    X(PHARMACY, "pharmacy")

typedef struct tt_event {
    tt_event_type type;
    json_t *json; /* owned; the parsed body */
} tt_event;

/* "batch.register" for TT_EV_REGISTER; NULL for an unknown type. */
const char *tt_event_type_name(tt_event_type t);

/* Looks a type name up; TT_EV_COUNT when unknown. */
tt_event_type tt_event_type_from_name(const char *name);

/*
 * Parses and validates `body`. On success ev->json holds the body (free
 * with tt_event_free). Errors are TT_ERR_MALFORMED / TT_ERR_TOO_LARGE with a
 * sentence naming the field.
 */
tt_err tt_event_parse(tt_bytes body, tt_event *ev, tt_error *err);

void tt_event_free(tt_event *ev);

/*
 * Builds an event body: "v", "type", "at" (now, with the local offset) and a
 * fresh 16-byte "nonce", then the members of `fields` (which is stolen).
 * Returns compact JSON (malloc'd) ready to sign.
 */
char *tt_event_build(const char *type, json_t *fields);

/* Field accessors for a validated event (NULL / 0 when absent). */
const char *tt_event_str(const tt_event *ev, const char *field);
int64_t tt_event_int(const tt_event *ev, const char *field);

/* Checks a decimal string ("0.35", "-12", at most 12 + 9 digits). */
int tt_decimal_valid(const char *s);

/* Checks an RFC 3339 date-time with an offset ("2026-11-22T09:30:00+08:00"). */
int tt_rfc3339_valid(const char *s);

/* Checks a base URL for labels: http(s)://host[:port][/path], no query,
 * fragment, spaces or trailing slash. */
int tt_base_url_valid(const char *url);

/* The GS1 check digit (0-9) of the n digits before it; -1 when one is not a digit. */
int tt_gtin_check_digit(const char *digits, size_t n);

/* Checks a GTIN-14: 14 digits, the last the GS1 check digit of the others. */
int tt_gtin_valid(const char *s);

/* Checks a calendar date "YYYY-MM-DD". */
int tt_date_valid(const char *s);

/* Milliseconds since the Unix epoch of a valid RFC 3339 time, in *ms;
 * 0 when s is not one (fractions beyond milliseconds are cut). */
int tt_rfc3339_ms(const char *s, int64_t *ms);

/* Now, as RFC 3339 UTC with milliseconds ("2026-12-01T09:30:00.123Z"), from
 * one reading of the clock, so that successive calls never go back. */
void tt_rfc3339_now(char out[32]);

/* Checks an actor id: 1 to 32 of A-Z a-z 0-9 _ -. */
int tt_actor_id_valid(const char *s);

/*
 * The salted commitment a sale carries instead of its buyer (a person's
 * data stays out of the public log): lower-case hex of
 * SHA-256("tcmtrace/buyer/v1\n" || salt_hex || "\n" || buyer). The seller
 * keeps salt_hex (32 random hex digits) and opens the commitment on request
 * by showing salt and buyer.
 */
void tt_buyer_commitment(const char *salt_hex, const char *buyer, char out[65]);

#endif
