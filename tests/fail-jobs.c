/*
 * fail-jobs.c: a test shim, preloaded into tcmtraced (LD_PRELOAD), that
 * makes the allocation of the daemon's per-request job fail, so that the
 * crash suite can check what the daemon does out of memory. While the file
 * named by $TT_FAIL_JOBS exists, calloc(1, sizeof(job)) fails: every time
 * if the file starts with "all", every second time if it starts with "odd".
 * Other allocations are untouched. Not installed; not linked into anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../daemon/daemon.h"

void *calloc(size_t n, size_t size);

static _Thread_local int resolving;
static char early[4096]; /* what dlsym may ask for while calloc is being found */

void *calloc(size_t n, size_t size)
{
    static void *(*real)(size_t, size_t);
    static atomic_uint odd_calls;
    if (real == NULL) {
        if (resolving)
            return n * size <= sizeof early ? memset(early, 0, sizeof early) : NULL;
        resolving = 1;
        real = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    const char *flag = n == 1 && size == sizeof(job) ? getenv("TT_FAIL_JOBS") : NULL;
    FILE *f = flag ? fopen(flag, "r") : NULL;
    if (f) {
        char mode[4] = "";
        size_t got = fread(mode, 1, 3, f);
        fclose(f);
        if (got == 3 && memcmp(mode, "all", 3) == 0)
            return NULL;
        if (got == 3 && memcmp(mode, "odd", 3) == 0 && atomic_fetch_add(&odd_calls, 1) % 2 == 1)
            return NULL;
    }
    return real(n, size);
}
