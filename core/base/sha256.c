/*
 * sha256.c: SHA-256 over nettle (tcmtrace/sha256.h says why nettle).
 */
#include "tcmtrace/sha256.h"

void tt_sha256_init(tt_sha256_state *st)
{
    sha256_init(st);
}

void tt_sha256_update(tt_sha256_state *st, const void *p, size_t n)
{
    if (n)
        sha256_update(st, n, p);
}

void tt_sha256_final(tt_sha256_state *st, uint8_t out[TT_SHA256_SIZE])
{
    sha256_digest(st, TT_SHA256_SIZE, out);
}

void tt_sha256(uint8_t out[TT_SHA256_SIZE], const void *p, size_t n)
{
    tt_sha256_state st;
    tt_sha256_init(&st);
    tt_sha256_update(&st, p, n);
    tt_sha256_final(&st, out);
}
