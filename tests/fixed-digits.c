/*
 * fixed-digits.c: a test shim, preloaded into tcmtrace (LD_PRELOAD), so that
 * the e2e suite can make a trace code the CLI draws collide with one on the
 * ledger. The first strlen($TT_FIXED_DIGITS) calls of libsodium's
 * randombytes_uniform() return those digits in order (tt_code_new draws a
 * code's nine random digits with it); every later call is libsodium's own.
 * Not installed; not linked into anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

uint32_t randombytes_uniform(const uint32_t upper_bound);

uint32_t randombytes_uniform(const uint32_t upper_bound)
{
    static size_t used;
    const char *d = getenv("TT_FIXED_DIGITS");
    if (d && used < strlen(d) && upper_bound == 10)
        return (uint32_t)(d[used++] - '0');
    uint32_t (*real)(uint32_t) = (uint32_t(*)(uint32_t))dlsym(RTLD_NEXT, "randombytes_uniform");
    return real(upper_bound);
}
