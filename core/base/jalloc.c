/* jalloc.c: jansson's allocations, watched for failure (jalloc.h). */
#include "base/jalloc.h"

#include <jansson.h>
#include <stdlib.h>

static _Thread_local unsigned long failures;

static void *watched_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        failures++;
    return p;
}

/* Installed as the program starts, before any thread: jansson reads its allocator without a
 * lock, so it is never changed while another thread allocates. jansson frees with the free
 * that goes with its malloc: both are the C library's. */
__attribute__((constructor)) static void install(void)
{
    json_set_alloc_funcs(watched_malloc, free);
}

unsigned long tt_jalloc_watch(void)
{
    return failures;
}

int tt_jalloc_ran_out(unsigned long mark)
{
    return failures != mark;
}
