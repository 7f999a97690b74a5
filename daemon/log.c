/*
 * log.c: the daemon's log lines on standard error, time and level first (shared by the
 * server, its TCP front and the witness client).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"

void logf_(server *s, const char *level, const char *fmt, ...)
{
    if (s->cfg.quiet && strcmp(level, "ERROR") != 0)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fprintf(stderr, "%s %-5s ", when, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}
