/*
 * tcmtrace/sha256.h: SHA-256 for every hash the ledger keeps — entry and
 * Merkle hashes, body hashes, the derived-state digest, key hashes of
 * signed notes.
 *
 * The work is nettle's (the hashing library under GnuTLS, which
 * libmicrohttpd already brings): it picks the CPU's SHA instructions at
 * run time where there are any and falls back to portable C elsewhere (and
 * under valgrind, which hides them). libsodium's SHA-256 is portable C
 * only; on this project's machines nettle's is about four times as fast.
 * test_sha256 holds the two to each other and to FIPS 180-4's examples.
 */
#ifndef TCMTRACE_SHA256_H
#define TCMTRACE_SHA256_H

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdint.h>

#define TT_SHA256_SIZE 32

/* A hash under way (nettle's context): tt_sha256_init, any number of
 * tt_sha256_update, then tt_sha256_final, which leaves the state to be
 * initialised again. */
typedef struct sha256_ctx tt_sha256_state;

void tt_sha256_init(tt_sha256_state *st);
/* `n` bytes at `p`; `p` may be NULL when `n` is 0. */
void tt_sha256_update(tt_sha256_state *st, const void *p, size_t n);
void tt_sha256_final(tt_sha256_state *st, uint8_t out[TT_SHA256_SIZE]);

/* The hash of `n` bytes at `p` in one call (`p` may be NULL when `n` is 0). */
void tt_sha256(uint8_t out[TT_SHA256_SIZE], const void *p, size_t n);

#endif
