/*
 * tcmtrace/entry.h: the ledger entry, a wire format (DESIGN §3).
 *
 *   u8      version = 1
 *   u64be   seq
 *   u64be   time_ms      commit time assigned by the daemon (UTC, ms)
 *   u8[32]  prev         entry hash of seq-1; 32 zero bytes for seq 0
 *   u8[32]  actor        Ed25519 public key of the signer
 *   u8[64]  sig          Ed25519 over "tcmtrace/event/v2\n" || origin || "\n" || body
 *   u32be   body_len     at most 65536
 *   u8[]    body         the event JSON exactly as the actor signed it
 *
 * entry hash = SHA-256(0x00 || entry bytes), the RFC 6962 leaf hash; it is
 * both the chain link and the Merkle leaf.
 */
#ifndef TCMTRACE_ENTRY_H
#define TCMTRACE_ENTRY_H

#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/err.h"

#define TT_ENTRY_VERSION 1
#define TT_ENTRY_HEADER_SIZE 149 /* 1 + 8 + 8 + 32 + 32 + 64 + 4 */
/* An entry is at most 65,535 bytes, so that every entry fits a C2SP
 * tlog-tiles entry bundle (a 2-byte length before each): the body is what
 * is left after the header. */
#define TT_ENTRY_LIMIT 65535
#define TT_BODY_MAX (TT_ENTRY_LIMIT - TT_ENTRY_HEADER_SIZE)
#define TT_ENTRY_MAX (TT_ENTRY_HEADER_SIZE + TT_BODY_MAX)
#define TT_PK_SIZE 32
#define TT_SK_SIZE 64
#define TT_SIG_SIZE 64

/* The domain-separation prefix of an event signature: "tcmtrace/event/v2\n", then the
 * origin of the ledger the event is for and "\n" (docs/formats.md, "Events name their
 * ledger"). The v1 prefix, without an origin, is what ledgers made before it signed. */
#define TT_EVENT_SIG_PREFIX "tcmtrace/event/v2\n"
#define TT_EVENT_SIG_PREFIX_V1 "tcmtrace/event/v1\n"
/* Room for a prefix with its origin (an origin is at most 255 bytes). */
#define TT_EVENT_PREFIX_MAX (sizeof TT_EVENT_SIG_PREFIX + 256)

/* The prefix an event for the ledger `origin` is signed with (NULL: the v1 prefix). */
void tt_event_prefix(const char *origin, char out[TT_EVENT_PREFIX_MAX]);

typedef struct tt_entry {
    uint8_t version;
    uint64_t seq;
    uint64_t time_ms;
    uint8_t prev[TT_HASH_SIZE];
    uint8_t actor[TT_PK_SIZE];
    uint8_t sig[TT_SIG_SIZE];
    tt_bytes body; /* borrowed */
} tt_entry;

/* Encoded size of `e` (header plus body). */
size_t tt_entry_size(const tt_entry *e);

/*
 * Encodes `e` into `out` (capacity `cap`), writing the length to `*len`.
 * Fails with TT_ERR_TOO_LARGE for a body over TT_BODY_MAX or a short buffer.
 */
tt_err tt_entry_encode(const tt_entry *e, uint8_t *out, size_t cap, size_t *len, tt_error *err);

/*
 * Decodes `in` into `e`; e->body then points into `in`. Every length is
 * checked: a truncated record, trailing bytes, an unknown version or a body
 * over TT_BODY_MAX is TT_ERR_MALFORMED or TT_ERR_TOO_LARGE, never a crash.
 */
tt_err tt_entry_decode(tt_bytes in, tt_entry *e, tt_error *err);

/* The entry hash of the encoded entry `in`: SHA-256(0x00 || in). */
void tt_entry_hash(tt_bytes in, uint8_t out[TT_HASH_SIZE]);

/* Signs `body` as an event for the ledger `origin` with the Ed25519 secret key `sk`
 * (origin NULL: the legacy v1 message, for tests of old ledgers only). */
void tt_event_sign(const char *origin, tt_bytes body, const uint8_t sk[TT_SK_SIZE],
                   uint8_t sig[TT_SIG_SIZE]);

/* Checks an event signature for the ledger `origin` (NULL: as v1, naming no ledger);
 * TT_ERR_BAD_SIGNATURE when it does not verify. */
tt_err tt_event_verify(const char *origin, tt_bytes body, const uint8_t actor[TT_PK_SIZE],
                       const uint8_t sig[TT_SIG_SIZE]);

#endif
