/*
 * util.c: passphrases, shipped data, key loading — shared by tcmtraced,
 * tcmtrace and tcmtrace-web. Passphrases never pass through argv: they come from a file, an
 * environment variable or the terminal with echo off.
 */
#define _GNU_SOURCE
#include "tcmtrace/util.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

static char *ask(const char *prompt)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return NULL;
    struct termios old, quiet;
    int have = tcgetattr(fileno(tty), &old) == 0;
    if (have) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    fprintf(tty, "%s", prompt);
    fflush(tty);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, tty);
    if (have)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (n < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

char *tt_passphrase(const char *file, const char *env, const char *prompt, int confirm,
                    tt_error *err)
{
    if (file) {
        char *data;
        size_t len;
        struct stat st;
        if (stat(file, &st) == 0 && (st.st_mode & 077)) { /* as ssh refuses a readable key */
            tt_fail(err, TT_ERR_KEY_FORMAT,
                    "passphrase file %s can be read by others: run 'chmod 600 %s'", file, file);
            return NULL;
        }
        if (tt_read_file(file, 4096, &data, &len, err) != TT_OK)
            return NULL;
        data[strcspn(data, "\r\n")] = '\0';
        if (*data == '\0') {
            free(data);
            tt_fail(err, TT_ERR_BAD_PASSPHRASE, "passphrase file %s is empty", file);
            return NULL;
        }
        return data;
    }
    const char *e = env ? getenv(env) : NULL;
    if (e && *e)
        return strdup(e);
    char *p = ask(prompt);
    if (p && *p == '\0') {
        tt_passphrase_free(p);
        tt_fail(err, TT_ERR_BAD_PASSPHRASE,
                "an empty passphrase seals nothing: type one (or make the key with --unsealed)");
        return NULL;
    }
    if (p == NULL) {
        tt_fail(err, TT_ERR_BAD_PASSPHRASE,
                "a passphrase is needed: give --passphrase-file FILE, set %s, or run on a terminal",
                env ? env : "TCMTRACE_PASSPHRASE");
        return NULL;
    }
    if (confirm) {
        char *again = ask("再输入一次 / again: ");
        int same = again && strcmp(p, again) == 0;
        tt_passphrase_free(again);
        if (!same) {
            tt_passphrase_free(p);
            tt_fail(err, TT_ERR_BAD_PASSPHRASE, "the two passphrases differ");
            return NULL;
        }
    }
    return p;
}

void tt_passphrase_free(char *p)
{
    if (p == NULL)
        return;
    sodium_memzero(p, strlen(p));
    free(p);
}

tt_err tt_secret_load(const char *path, const char *pass_file, const char *pass_env, tt_keypair *kp,
                      tt_error *err)
{
    int sealed = 0;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        return tt_fail(err, TT_ERR_KEY_FORMAT,
                       "secret key %s can be read by others: run 'chmod 600 %s'", path, path);
    tt_err rc = tt_key_secret_is_sealed(path, &sealed, err);
    if (rc != TT_OK)
        return rc;
    if (!sealed)
        return tt_key_load_secret(path, NULL, 0, kp, err);
    char prompt[512];
    snprintf(prompt, sizeof prompt, "%s 的口令 / passphrase for %s: ", path, path);
    char *pass = tt_passphrase(pass_file, pass_env, prompt, 0, err);
    if (pass == NULL)
        return TT_ERR_BAD_PASSPHRASE;
    rc = tt_key_load_secret(path, pass, strlen(pass), kp, err);
    tt_passphrase_free(pass);
    return rc;
}

char *tt_shipped_path(const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    /* beside the build tree (build/, build/asan/...), or installed */
    static const char *rel[] = {"/../schemas/%s", "/../../schemas/%s", "/../share/tcmtrace/%s"};
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            char *p, *f;
            if (asprintf(&f, rel[i], i == 2 ? base : name) < 0)
                return NULL;
            int ok = asprintf(&p, "%s%s", exe, f) >= 0;
            free(f);
            if (!ok)
                return NULL;
            if (access(p, R_OK) == 0)
                return p;
            free(p);
        }
    }
    char *p;
    return asprintf(&p, "/usr/local/share/tcmtrace/%s", base) < 0 ? NULL : p;
}

const char *tt_qty_text(int64_t g, char buf[48])
{
    if (g >= 1000 && g % 1000 == 0)
        snprintf(buf, 48, "%lld kg", (long long)(g / 1000));
    else if (g >= 1000)
        snprintf(buf, 48, "%lld.%03lld kg", (long long)(g / 1000), (long long)(g % 1000));
    else
        snprintf(buf, 48, "%lld g", (long long)g);
    if (g >= 1000 && g % 1000) { /* drop trailing zeros: 1.500 -> 1.5 */
        char *kg = strstr(buf, " kg");
        while (kg[-1] == '0')
            memmove(kg - 1, kg, strlen(kg) + 1), kg--;
    }
    return buf;
}

size_t tt_work_threads(void)
{
    const char *e = getenv("TCMTRACE_AUDIT_THREADS");
    long n = e && *e ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

void tt_thread_name(const char *name)
{
    (void)prctl(PR_SET_NAME, name, 0, 0, 0); /* only a label: nothing depends on it */
}

void tt_mem_keep(void)
{
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

void tt_mem_warm(size_t bytes)
{
    enum { BLOCK = 32 * 1024 }; /* below the mmap threshold: from the thread's own heap */
    size_t n = bytes / BLOCK, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char **blocks = calloc(n, sizeof *blocks);
    if (blocks == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if ((blocks[i] = malloc(BLOCK)) == NULL)
            break;
        /* not zeros: pages written with zeros alone faulted again when first used, where
         * this was measured */
        for (size_t at = 0; at < BLOCK; at += page)
            blocks[i][at] = 1;
    }
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
}

void tt_realtime_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

uint64_t tt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
