/*
 * tcmtrace/bytes.h: borrowed byte strings and their text encodings.
 *
 * A tt_bytes is a view: it never owns its data. Encodings are thin wrappers
 * over libsodium's constant-time hex and base64 codecs.
 */
#ifndef TCMTRACE_BYTES_H
#define TCMTRACE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/err.h"

#define TT_HASH_SIZE 32

typedef struct tt_bytes {
    size_t size;
    const uint8_t *data;
} tt_bytes;

/* A view of a NUL-terminated string (without the NUL). */
tt_bytes tt_bytes_str(const char *s);

/* Writes lower-case hex of `in` and a NUL into `out` (capacity 2*size+1). */
void tt_hex(tt_bytes in, char *out);

/* Decodes exactly `outlen` bytes of hex from `hex` (NUL-terminated). */
tt_err tt_unhex(const char *hex, uint8_t *out, size_t outlen);

/* Standard base64 with padding (RFC 4648 §4). Capacity: tt_b64_len(n). */
size_t tt_b64_len(size_t n);
void tt_b64(tt_bytes in, char *out);

/* URL-safe base64 without padding (RFC 4648 §5). */
size_t tt_b64url_len(size_t n);
void tt_b64url(tt_bytes in, char *out);

/*
 * Decodes `len` characters of base64 (`url` selects the URL-safe alphabet
 * without padding) into `out` of capacity `cap`; the decoded size goes to
 * `*outlen`. Anything that is not strict base64 is TT_ERR_MALFORMED.
 */
tt_err tt_unb64(const char *in, size_t len, int url, uint8_t *out, size_t cap, size_t *outlen);

/* Big-endian integer helpers for the wire formats. */
void tt_put_u32be(uint8_t *p, uint32_t v);
void tt_put_u64be(uint8_t *p, uint64_t v);
uint32_t tt_get_u32be(const uint8_t *p);
uint64_t tt_get_u64be(const uint8_t *p);

/* True when `s[0..len)` is well-formed UTF-8 (no overlongs, no surrogates). */
int tt_utf8_valid(const uint8_t *s, size_t len);

#endif
