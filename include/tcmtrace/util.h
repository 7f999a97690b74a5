/*
 * tcmtrace/util.h: what the programs (tcmtraced, tcmtrace, tcmtrace-web)
 * share besides the ledger itself: reading passphrases, locating shipped
 * data, loading keys. Not included by tcmtrace/tcmtrace.h: a program that
 * asks on the terminal includes it.
 */
#ifndef TCMTRACE_UTIL_H
#define TCMTRACE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/tcmtrace.h"

/*
 * A passphrase: from the file named by `file` (first line), else from the
 * environment variable `env`, else asked on the terminal (twice when
 * `confirm`). Returns a malloc'd string (wipe and free with tu_pass_free)
 * or NULL with a sentence in err.
 */
char *tt_passphrase(const char *file, const char *env, const char *prompt, int confirm,
                    tt_error *err);
void tt_passphrase_free(char *p);

/* Loads a secret key file, asking for its passphrase only if it is sealed. */
tt_err tt_secret_load(const char *path, const char *pass_file, const char *pass_env, tt_keypair *kp,
                      tt_error *err);

/* The path of shipped data `name` (as under schemas/, "limits/chp2020.json"):
 * beside the build tree, or installed in share/tcmtrace/. Free it. */
char *tt_shipped_path(const char *name);

/* A quantity of whole grams as people read it: "500 kg", "1.5 kg", "20 g". */
const char *tt_qty_text(int64_t grams, char buf[48]);

/*
 * Memory for a server that runs for days. glibc hands freed memory at the
 * top of a heap back to the kernel once 128 KB of it is free, so a thread
 * whose caches fill and empty pays a page fault for each page it touches
 * again; tt_mem_keep makes the process keep up to 64 MB free a heap (and
 * serve blocks up to 4 MB from its heaps, as glibc's own adjustment, which
 * setting a threshold turns off, would in time). Call it once, before the
 * threads start.
 */
void tt_mem_keep(void);

/*
 * Takes `bytes` of the calling thread's heap, writes each of its pages and
 * frees it again, so that the thread's caches fill later without a page
 * fault (with tt_mem_keep, the pages stay the thread's).
 */
void tt_mem_warm(size_t bytes);

/* How many threads work spread over the cores takes (the audit, the derived-state digest):
 * TCMTRACE_AUDIT_THREADS when set, else one a core; from 1 to 64. */
size_t tt_work_threads(void);

/* Names the calling thread (at most 15 bytes shown), as `top -H`, `ps -L` and
 * /proc/PID/task/TID/comm show it: "tt-writer", "tt-worker" and the like. */
void tt_thread_name(const char *name);

/* The current UTC time in milliseconds (declared in ledger.h too). */
uint64_t tt_now_ms(void);

struct timespec;
/* The CLOCK_REALTIME time `ms` milliseconds from now, as pthread_cond_timedwait takes it. */
void tt_realtime_in(struct timespec *ts, long ms);

#endif
