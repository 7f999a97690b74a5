/* jalloc.c: jansson's allocations, watched for failure (jalloc.h). */
#include "base/jalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

static _Thread_local unsigned long failures;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *watched_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        failures++;
    return p;
}

/* jansson frees with the free that goes with its malloc: both are the C library's, so values
 * made before the watch was installed are freed as before */
static void install(void)
{
    json_set_alloc_funcs(watched_malloc, free);
}

unsigned long tt_jalloc_watch(void)
{
    pthread_once(&once, install);
    return failures;
}

int tt_jalloc_ran_out(unsigned long mark)
{
    return failures != mark;
}
