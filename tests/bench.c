/*
 * bench.c: `make bench` — figures, not pass/fail.
 *
 *  1. Ed25519 verifications per second on all cores: the write path's ceiling.
 *  2. Durable ingest through the real API: a tcmtraced on a fresh ledger, N
 *     concurrent clients each sending pre-signed events of realistic size and
 *     mix (a registration, then sales from it), every submit answered only
 *     once durable. Throughput, its ratio to the ceiling, latency p50/p99/p999,
 *     and the bound that parsing the API's JSON alone sets on that ratio;
 *     then the same with the events sent --bulk at a time in submit_many.
 *  3. A large ledger (--entries, default 1,000,000) built in-process, with a
 *     10-deep lineage: trace and show latency (library and API), jansson's
 *     share of a first trace, audit
 *     throughput, bytes per entry on disk.
 *
 * tcmtrace-bench [--clients N] [--events N] [--bulk N] [--entries N] [--keep]
 *                [--spread-codes] [--daemon-log FILE] [--dir DIR]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/store/ledger_internal.h"
#include "tcmtrace/tcmtrace.h"

#define ORIGIN "tcmtrace.bench/cq"
#define GROWERS 64

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- 1. the Ed25519 ceiling ---------------------------------------------------- */

static volatile int stop_flag, start_flag;

#define SIGNERS 1000 /* distinct signers and bodies of verify_rate(1): "1,000" below */

/* One thread of the ceiling: one signature verified again and again, or (distinct) a
 * different signer and body each time, in turn among SIGNERS made before the clock starts */
typedef struct vloop {
    uint64_t count;
    int distinct;
} vloop;

static void *verify_loop(void *arg)
{
    vloop *v = arg;
    size_t n = v->distinct ? SIGNERS : 1;
    tt_keypair *kp = calloc(n, sizeof *kp);
    uint8_t(*sig)[64] = calloc(n, 64);
    char(*body)[96] = calloc(n, 96);
    for (size_t i = 0; i < n; i++) {
        tt_keypair_generate(&kp[i]);
        snprintf(body[i], sizeof body[i],
                 "{\"v\":1,\"type\":\"batch.sell\",\"id\":\"26112248%08zu\",\"qty_g\":250}", i);
        tt_event_sign(ORIGIN, tt_bytes_str(body[i]), kp[i].sk, sig[i]);
    }
    while (!start_flag)
        usleep(1000);
    for (size_t k = 0; !stop_flag; k = k + 1 == n ? 0 : k + 1) {
        if (tt_event_verify(ORIGIN, tt_bytes_str(body[k]), kp[k].pk, sig[k]) == TT_OK)
            v->count++;
    }
    free(kp);
    free(sig);
    free(body);
    return NULL;
}

static double verify_rate(int distinct)
{
    int n = ncpu();
    pthread_t t[256];
    vloop v[256];
    stop_flag = start_flag = 0;
    for (int i = 0; i < n; i++) {
        v[i] = (vloop){0, distinct};
        pthread_create(&t[i], NULL, verify_loop, &v[i]);
    }
    usleep(distinct ? 300000 : 10000); /* each thread makes its signatures first */
    start_flag = 1;
    double t0 = now_s();
    usleep(1500000);
    stop_flag = 1;
    double t1 = now_s();
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        total += v[i].count;
    }
    return (double)total / (t1 - t0);
}

/* The ceiling every target divides by: one signature verified again and again on every
 * core, the best case verification has. */
static double ed25519_ceiling(void)
{
    return verify_rate(0);
}

/* ---- ledger setup --------------------------------------------------------------- */

static tt_keypair authority, logkey, growers[GROWERS];

static void append_one(tt_ledger *l, const tt_keypair *kp, char *body)
{
    uint8_t sig[64];
    tt_error err;
    tt_event_sign(ORIGIN, tt_bytes_str(body), kp->sk, sig);
    tt_append it = {.actor = kp->pk, .sig = sig, .body = tt_bytes_str(body)};
    if (tt_ledger_append(l, &it, 1, tt_now_ms(), tt_rules_apply, NULL, &err) != TT_OK ||
        it.result.code != TT_OK) {
        fprintf(stderr, "setup failed: %s %s\n", err.message, it.result.message);
        exit(1);
    }
    free(body);
}

/* A ledger with genesis, limits and GROWERS enrolled growers/traders. */
static tt_ledger *make_ledger(const char *dir, const char *limits_path, unsigned flags)
{
    tt_ledger *l;
    tt_error err;
    char vkey[TT_VKEY_MAX + 1], pk[64], path[PATH_MAX + 16];
    if (tt_ledger_open(dir, TT_LEDGER_CREATE | flags, &l, &err) != TT_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    tt_ledger_set_signer(l, ORIGIN, &logkey, NULL);
    tt_ledger_meta_put(l, "origin", ORIGIN, strlen(ORIGIN), NULL);
    tt_ledger_meta_put(l, "log_vkey", vkey, strlen(vkey), NULL);
    snprintf(path, sizeof path, "%s/log.key", dir);
    tt_key_save_secret(path, &logkey, NULL, 0, TT_KDF_INTERACTIVE, NULL); /* bench only */
    tt_b64((tt_bytes){32, authority.pk}, pk);
    append_one(l, &authority,
               tt_event_build("ledger.genesis",
                              json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "origin", ORIGIN,
                                        "log_key", vkey, "market", "bench", "authorities", "id",
                                        "MKT", "name", "bench", "key", pk)));
    json_t *table = json_load_file(limits_path, 0, NULL);
    json_object_del(table, "edition");
    append_one(l, &authority,
               tt_event_build("ledger.limits",
                              json_pack("{s:s, s:o}", "edition", "ChP 2020", "table", table)));
    /* the herb dictionary beside the limits table, as init publishes it */
    char herbs[PATH_MAX + 64];
    snprintf(herbs, sizeof herbs, "%.*s/herbs/chp2020-herbs.json",
             (int)(strstr(limits_path, "/limits/") - limits_path), limits_path);
    json_t *doc = json_load_file(herbs, 0, NULL), *evs = NULL, *f;
    if (doc == NULL || tt_herbs_events(doc, &evs, &err) != TT_OK) {
        fprintf(stderr, "cannot read the herb dictionary %s\n", herbs);
        exit(1);
    }
    size_t hi;
    json_array_foreach(evs, hi, f)
        append_one(l, &authority, tt_event_build("ledger.herbs", json_incref(f)));
    json_decref(evs);
    json_decref(doc);
    for (int i = 0; i < GROWERS; i++) {
        char id[16];
        snprintf(id, sizeof id, "G-%04d", i);
        tt_b64((tt_bytes){32, growers[i].pk}, pk);
        append_one(
            l, &authority,
            tt_event_build("actor.enroll",
                           json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s, s]}", "id", id, "key", pk,
                                     "name", "马建国", "org", "岷县梅川当归专业合作社", "licence",
                                     "GAP-甘-2026-0142", "roles", "grower", "trader")));
    }
    return l;
}

/* Unique codes for the bench (random ones collide at a million a day). */
/*
 * A fresh trace code: the day, then nine digits counted up (the default, as
 * every earlier figure was measured) or, with --spread-codes, the counter
 * through a fixed permutation of the nine digits. Real codes (tt_code_new)
 * are the day and nine random digits, so a day's lots land all over the
 * batch B-tree; counting up inserts every key at the right edge, where
 * LMDB leaves its pages fuller, and puts a lineage's records side by side
 * in a few pages, which no market's ledger does. Spread codes are unique,
 * as the bench needs, and lie like random ones.
 */
static int spread_codes;

static void next_code(char code[TT_CODE_LEN + 1])
{
    static uint64_t counter = 100000000;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    uint64_t n = counter++;
    pthread_mutex_unlock(&lock);
    /* a bijection of 30-bit numbers (multiply by odd, xor-shift), walked until it falls
     * below 10^9: a permutation of 0 .. 10^9 - 1 in an order without pattern */
    while (spread_codes) {
        n = (n * 0x2545F491u) & 0x3FFFFFFFu;
        n ^= n >> 15;
        n = (n * 0x1B873593u) & 0x3FFFFFFFu;
        n ^= n >> 13;
        if (n < 1000000000u)
            break;
    }
    snprintf(code, TT_CODE_LEN + 1, "261122%09llu", (unsigned long long)n);
    code[15] = (char)('0' + tt_damm(code, 15));
    code[16] = '\0';
}

/* A registration body of realistic size. */
static char *register_body(const char *code, int64_t qty)
{
    return tt_event_build(
        "batch.register",
        json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:b}, "
                  "s:s, s:s, s:s, s:I, s:[{s:s, s:s}]}",
                  "id", code, "herb", "name_zh", "当归", "latin", "Angelica sinensis (Oliv.) Diels",
                  "part", "根", "category", "plant", "form", "药材", "origin", "province", "甘肃省",
                  "city", "定西市", "county", "岷县", "base", "梅川镇当归种植基地", "lat",
                  "34.4337", "lon", "104.0362", "daodi", 1, "harvest_date", "2026-10-12", "grade",
                  "一等", "processing", "晒干", "qty_g", (json_int_t)qty, "documents", "sha256",
                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "kind",
                  "产地证明"));
}

static char *sell_body(const char *code, int64_t qty)
{
    return tt_event_build(
        "batch.sell",
        json_pack("{s:s, s:I, s:s}", "id", code, "qty_g", (json_int_t)qty, "buyer_commitment",
                  "3f1c0a6f6a1b5e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"));
}

static char *request_of(const tt_keypair *kp, char *body);

/* {"op":"submit_many","events":[...]} of the submit requests reqs[0..n) (freed). */
static char *bulk_of(char **reqs, size_t n)
{
    json_t *events = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_loads(reqs[i], 0, NULL);
        json_object_del(r, "op");
        json_array_append_new(events, r);
        free(reqs[i]);
    }
    json_t *m = json_pack("{s:s, s:o}", "op", "submit_many", "events", events);
    char *out = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return out;
}

/* The submit requests reqs[0..n) (freed) as one binary submit frame (daemon/daemon.h) of
 * *len bytes: kind 1 for one event, else kind 2. */
static char *frame_of(char **reqs, size_t n, size_t *len)
{
    size_t cap = 8, off = 8;
    for (size_t i = 0; i < n; i++)
        cap += 100 + strlen(reqs[i]);
    uint8_t *f = malloc(cap);
    memcpy(f, "\x89TSB\x01", 5);
    f[5] = n == 1 ? 1 : 2;
    f[6] = (uint8_t)(n >> 8), f[7] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_loads(reqs[i], 0, NULL);
        const char *a = json_string_value(json_object_get(r, "actor"));
        const char *s = json_string_value(json_object_get(r, "sig"));
        const char *b = json_string_value(json_object_get(r, "body"));
        size_t got, bl = strlen(b);
        tt_unb64(a, strlen(a), 0, f + off, 32, &got);
        tt_unb64(s, strlen(s), 0, f + off + 32, 64, &got);
        f[off + 96] = (uint8_t)(bl >> 24), f[off + 97] = (uint8_t)(bl >> 16);
        f[off + 98] = (uint8_t)(bl >> 8), f[off + 99] = (uint8_t)bl;
        memcpy(f + off + 100, b, bl);
        off += 100 + bl;
        json_decref(r);
        free(reqs[i]);
    }
    *len = off;
    return (char *)f;
}

static char *request_of(const tt_keypair *kp, char *body)
{
    uint8_t sig[64];
    char pk[64], s64[100];
    tt_event_sign(ORIGIN, tt_bytes_str(body), kp->sk, sig);
    tt_b64((tt_bytes){32, kp->pk}, pk);
    tt_b64((tt_bytes){64, sig}, s64);
    json_t *r =
        json_pack("{s:s, s:s, s:s, s:s}", "op", "submit", "actor", pk, "sig", s64, "body", body);
    char *out = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    free(body);
    return out;
}

/* ---- 2. ingest through the API --------------------------------------------------- */

typedef struct client {
    const char *url;
    char **reqs;
    size_t *lens;              /* binary frames: their lengths (NULL: JSON text) */
    size_t n, per_req, events; /* requests, events in each, events in all */
    double *lat;
    size_t ok, errors;
} client;

static void *client_run(void *arg)
{
    client *c = arg;
    int s = nn_socket(AF_SP, NN_REQ), to = 60000;
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof to);
    nn_connect(s, c->url);
    for (size_t i = 0; i < c->n; i++) {
        double t0 = now_s();
        nn_send(s, c->reqs[i], c->lens ? c->lens[i] : strlen(c->reqs[i]), 0);
        char *buf = NULL;
        int n = nn_recv(s, &buf, NN_MSG, 0);
        c->lat[i] = now_s() - t0;
        size_t accepted = 0; /* one "seq" per accepted event (submit_many answers many) */
        for (const char *p = buf; n > 0 && (p = memmem(p, (size_t)(buf + n - p), "\"seq\":", 6));
             p += 6)
            accepted++;
        c->ok += accepted;
        size_t want = c->per_req; /* the last request may carry fewer */
        if (i + 1 == c->n && c->events % c->per_req)
            want = c->events % c->per_req;
        if (n > 0 && accepted == want)
            ;
        else if (c->errors++ == 0) /* the first refusal of each client, as evidence */
            fprintf(stderr, "  client refused: %.*s\n", n > 0 ? (n > 300 ? 300 : n) : 20,
                    n > 0 ? buf : nn_strerror(nn_errno()));
        if (n > 0)
            nn_freemsg(buf);
    }
    nn_close(s);
    return NULL;
}

/* ---- scans beside the writes ---------------------------------------------------- */

#define SCAN_CODE "2611220000000000" /* a lot registered before the clients start */

typedef struct scanner {
    int heavy; /* loops on the heaviest read instead of scanning */
    const char *url;
    const tt_keypair *kp; /* signs every other scan; each scanner its own key */
    size_t done;
} scanner;

static void *scan_loop(void *arg)
{
    scanner *sc = arg;
    int s = nn_socket(AF_SP, NN_REQ), to = 60000;
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof to);
    nn_connect(s, sc->url);
    char code[TT_CODE_LEN + 1] = SCAN_CODE;
    code[15] = (char)('0' + tt_damm(code, 15));
    for (size_t i = 0; !stop_flag; i++) {
        char *req;
        if (sc->heavy) { /* a whole page of the log: the largest answer there is */
            req = strdup(i % 2 ? "{\"op\":\"log\",\"from\":0,\"limit\":1000}"
                               : "{\"op\":\"batches\",\"limit\":100}");
        } else if (i % 2 == 0) {
            json_t *r = json_pack("{s:s, s:s}", "op", "scan", "id", code);
            req = json_dumps(r, JSON_COMPACT);
            json_decref(r);
        } else {
            char at[32], nonce[32], pk[64], s64[100];
            uint8_t raw[16], sig[64];
            tt_rfc3339_now(at);
            randombytes_buf(raw, sizeof raw);
            tt_b64url((tt_bytes){16, raw}, nonce);
            json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "type", "scan", "id", code,
                                  "at", at, "nonce", nonce);
            char *body = json_dumps(b, JSON_COMPACT);
            json_decref(b);
            tt_scan_sign(ORIGIN, tt_bytes_str(body), sc->kp->sk, sig);
            tt_b64((tt_bytes){32, sc->kp->pk}, pk);
            tt_b64((tt_bytes){64, sig}, s64);
            json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "scan", "id", code, "actor",
                                  pk, "sig", s64, "body", body);
            req = json_dumps(r, JSON_COMPACT);
            json_decref(r);
            free(body);
        }
        nn_send(s, req, strlen(req), 0);
        free(req);
        char *buf = NULL;
        int n = nn_recv(s, &buf, NN_MSG, 0);
        if (n > 0 && memmem(buf, (size_t)n, "\"ok\":true", 9))
            sc->done++;
        if (n > 0)
            nn_freemsg(buf);
        if (!sc->heavy)
            usleep(50000); /* 20 a second each: a busy market floor, not a flood */
    }
    nn_close(s);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *daemon_log; /* --daemon-log: the daemon's own log, for a closer look */

static pid_t start_daemon(const char *bin, const char *dir)
{
    char exe[PATH_MAX + 16];
    snprintf(exe, sizeof exe, "%s/tcmtraced", bin);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(daemon_log ? daemon_log : "/dev/null", "a", stderr) == NULL)
            _exit(127);
        if (daemon_log)
            execl(exe, exe, "run", dir, (char *)NULL);
        execl(exe, exe, "run", dir, "--quiet", (char *)NULL);
        _exit(127);
    }
    char sock[PATH_MAX + 16];
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
        usleep(25000);
    usleep(100000);
    return pid;
}

/* Stops the daemon; returns the CPU seconds it used. */
static double stop_daemon(pid_t pid)
{
    struct rusage ru;
    kill(pid, SIGTERM);
    if (wait4(pid, NULL, 0, &ru) != pid)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The bytes process pid has handed to files (wchar, from /proc/PID/io; -1 when it cannot be
 * read). What reached the disk is read from the device instead (below): the process's own
 * write_bytes counts a whole page-cache folio as written when any of it is dirtied, and
 * where the kernel keeps a file in large folios (ext4 on Linux 6.18 does, for a file made
 * by large writes, as LMDB makes its map) one 4 KB page written counts as up to 2 MB, while
 * only the 4 KB reach the device (docs/bench.md). */
static long long wchar_of(pid_t pid)
{
    char path[64], line[128];
    long long wchar = -1;
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "wchar: %lld", &wchar);
    if (f)
        fclose(f);
    return wchar;
}

/* Sectors of 512 bytes written to the block device that holds dir, by every process, from
 * /sys/dev/block/MAJOR:MINOR/stat; -1 when the kernel keeps no such count for dir's device (a
 * tmpfs, or a file system such as btrfs whose files are on no one block device). */
static long long device_sectors_written(const char *dir)
{
    struct stat st;
    char path[96];
    long long v[7];
    if (stat(dir, &st) != 0)
        return -1;
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int n = fscanf(f, "%lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6]);
    fclose(f);
    return n == 7 ? v[6] : -1;
}

/* The daemon's count of commits, from its status answer (-1 when it does not answer). */
static long long daemon_commits(const char *url)
{
    int sock = nn_socket(AF_SP, NN_REQ), ms = 5000;
    long long commits = -1;
    char *buf = NULL;
    const char *req = "{\"op\":\"status\"}";
    if (sock < 0)
        return -1;
    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms);
    int n = -1;
    if (nn_connect(sock, url) >= 0 && nn_send(sock, req, strlen(req), 0) >= 0)
        n = nn_recv(sock, &buf, NN_MSG, 0);
    json_t *a = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
    if (json_is_integer(json_object_get(a, "commits")))
        commits = (long long)json_integer_value(json_object_get(a, "commits"));
    json_decref(a);
    if (buf)
        nn_freemsg(buf);
    nn_close(sock);
    return commits;
}

/* The daemon's CPU so far by what its threads do, from their names (tt_thread_name) in
 * /proc/PID/task/TID/stat: seconds, the ticks of utime and stime. */
typedef struct thread_cpu {
    double writer, workers, acker, other;
} thread_cpu;

static thread_cpu daemon_threads(pid_t pid)
{
    thread_cpu c = {0, 0, 0, 0};
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (d == NULL)
        return c;
    double tick = (double)sysconf(_SC_CLK_TCK);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[384], buf[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%.256s/stat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        unsigned long ut, st;
        /* after the name: state, ppid, pgrp, session, tty, tpgid, flags, four fault
         * counts, then utime and stime */
        if (open == NULL || close == NULL || close < open ||
            sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) !=
                2)
            continue;
        double s = (double)(ut + st) / tick;
        *close = '\0';
        const char *name = open + 1;
        if (strcmp(name, "tt-writer") == 0)
            c.writer += s;
        else if (strcmp(name, "tt-worker") == 0)
            c.workers += s;
        else if (strcmp(name, "tt-acker") == 0)
            c.acker += s;
        else
            c.other += s;
    }
    closedir(d);
    return c;
}

/*
 * What keeping each event's body deflated costs, on one core: deflating it as a worker
 * does (tt_stored_body) and the writer's check of the worker's bytes (tt_stored_pack_with
 * inflates them and compares), over bodies made as this run's events are (a registration,
 * then two sales from it). Seconds per event: the price of the bytes-per-entry target.
 */
static double deflate_floor(void)
{
    enum { TRIPLES = 300 };
    char *bodies[TRIPLES * 3];
    for (int i = 0; i < TRIPLES; i++) {
        char code[TT_CODE_LEN + 1];
        next_code(code);
        bodies[3 * i] = register_body(code, 100000);
        bodies[3 * i + 1] = sell_body(code, 1000);
        bodies[3 * i + 2] = sell_body(code, 500);
    }
    static uint8_t wire[TT_ENTRY_MAX], body[TT_ENTRY_MAX], out[TT_ENTRY_MAX];
    double best = 0;
    for (int round = 0; round < 3; round++) { /* the best of three: the least noise */
        double t = 0;
        for (int i = 0; i < TRIPLES * 3; i++) {
            tt_entry e = {.version = TT_ENTRY_VERSION, .seq = (uint64_t)i, .time_ms = 1};
            e.body = tt_bytes_str(bodies[i]);
            size_t len;
            if (tt_entry_encode(&e, wire, sizeof wire, &len, NULL) != TT_OK)
                continue;
            double t0 = now_s();
            size_t bl = tt_stored_body(e.body, body, sizeof body);
            tt_stored_pack_with(wire, len, bl ? body : NULL, bl, out, sizeof out);
            t += now_s() - t0;
        }
        if (round == 0 || t < best)
            best = t;
    }
    for (int i = 0; i < TRIPLES * 3; i++)
        free(bodies[i]);
    return best / (TRIPLES * 3);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * The JSON the API itself makes the daemon parse, on one core: each request
 * (tt_json_load, as the daemon receives it) and each event body in it (the
 * rules need its fields), and nothing else. Seconds per event: no daemon can
 * spend less than this per event besides verifying, whatever it does.
 */
static double json_floor(char **reqs, size_t nreqs, size_t events)
{
    double parse = 0;
    for (int round = 0; round < 3; round++) { /* the best of three: the least noise */
        double t = 0;
        for (size_t i = 0; i < nreqs; i++) {
            double t0 = now_s();
            json_t *r = tt_json_load(reqs[i], strlen(reqs[i]), JSON_REJECT_DUPLICATES, NULL);
            t += now_s() - t0;
            json_t *evs = json_object_get(r, "events");
            size_t n = evs ? json_array_size(evs) : 1;
            for (size_t k = 0; k < n; k++) {
                json_t *ev = evs ? json_array_get(evs, k) : r;
                json_t *body = json_object_get(ev, "body");
                t0 = now_s();
                json_t *b = tt_json_load(json_string_value(body), json_string_length(body),
                                         JSON_REJECT_DUPLICATES, NULL);
                t += now_s() - t0;
                json_decref(b);
            }
            json_decref(r);
        }
        if (round == 0 || t < parse)
            parse = t;
    }
    return parse / (double)events;
}

/* bulk: events per request (1: submit, more: submit_many); frame: sent as binary submit
 * frames, not JSON; target: the ratio to the ceiling the issue asks for (0: none) */
static void ingest(const char *bin, const char *dir, const char *limits, int nclients,
                   size_t nevents, size_t bulk, int nscanners, double ceiling, int frame,
                   double target)
{
    tt_ledger *l = make_ledger(dir, limits, 0);
    char scode[TT_CODE_LEN + 1] = SCAN_CODE;
    scode[15] = (char)('0' + tt_damm(scode, 15));
    append_one(l, &growers[0], register_body(scode, 100000));
    tt_ledger_close(l);
    /* pre-sign everything: each client registers a lot, then sells from it twice */
    client *cs = calloc((size_t)nclients, sizeof *cs);
    char url[PATH_MAX + 32];
    snprintf(url, sizeof url, "ipc://%s/api.sock", dir);
    size_t per = nevents / (size_t)nclients / 3 * 3;
    double t0 = now_s();
    for (int i = 0; i < nclients; i++) {
        client *c = &cs[i];
        c->url = url;
        c->n = per;
        c->reqs = calloc(per, sizeof *c->reqs);
        c->lat = calloc(per, sizeof *c->lat);
        const tt_keypair *kp = &growers[i % GROWERS];
        for (size_t k = 0; k < per; k += 3) {
            char code[TT_CODE_LEN + 1];
            next_code(code);
            c->reqs[k] = request_of(kp, register_body(code, 100000));
            c->reqs[k + 1] = request_of(kp, sell_body(code, 1000));
            c->reqs[k + 2] = request_of(kp, sell_body(code, 500));
        }
        c->per_req = 1;
        c->events = per;
        if (frame) { /* the same events, in order, bulk to a binary frame */
            size_t m = 0;
            c->lens = calloc(per, sizeof *c->lens);
            for (size_t k = 0; k < per; k += bulk) {
                char *fr = frame_of(c->reqs + k, per - k < bulk ? per - k : bulk, &c->lens[m]);
                c->reqs[m++] = fr;
            }
            c->n = m;
            c->per_req = bulk;
        } else if (bulk > 1) { /* the same events, in order, bulk to a request */
            size_t m = 0;
            for (size_t k = 0; k < per; k += bulk)
                c->reqs[m++] = bulk_of(c->reqs + k, per - k < bulk ? per - k : bulk);
            c->n = m;
            c->per_req = bulk;
        }
    }
    printf("  pre-signed %zu events in %.1f s\n", per * (size_t)nclients, now_s() - t0);
    pid_t pid = start_daemon(bin, dir);
    pthread_t *t = calloc((size_t)nclients, sizeof *t), st[GROWERS];
    scanner scs[GROWERS] = {{0}};
    stop_flag = 0;
    int heavy = nscanners > 1000; /* 1000 + N: N clients on the heaviest reads */
    if (heavy)
        nscanners -= 1000;
    for (int i = 0; i < nscanners && i < GROWERS; i++) {
        scs[i] = (scanner){heavy, url, &growers[i], 0};
        pthread_create(&st[i], NULL, scan_loop, &scs[i]);
    }
    long long commits0 = daemon_commits(url);
    long long wchar0 = wchar_of(pid);
    long long sectors0 = device_sectors_written(dir);
    t0 = now_s();
    double c0 = self_cpu();
    for (int i = 0; i < nclients; i++)
        pthread_create(&t[i], NULL, client_run, &cs[i]);
    for (int i = 0; i < nclients; i++)
        pthread_join(t[i], NULL);
    double wall = now_s() - t0, client_cpu = self_cpu() - c0;
    stop_flag = 1;
    size_t scans = 0;
    for (int i = 0; i < nscanners && i < GROWERS; i++) {
        pthread_join(st[i], NULL);
        scans += scs[i].done;
    }
    thread_cpu by = daemon_threads(pid); /* before it stops: what the ingest cost */
    long long wchar1 = wchar_of(pid);
    long long sectors1 = device_sectors_written(dir);
    long long commits1 = daemon_commits(url);
    double daemon_cpu = stop_daemon(pid);
    size_t total = per * (size_t)nclients, ok = 0, nreq = cs[0].n * (size_t)nclients;
    double *all = calloc(nreq, sizeof *all);
    for (int i = 0; i < nclients; i++) {
        memcpy(all + (size_t)i * cs[0].n, cs[i].lat, cs[0].n * sizeof *all);
        ok += cs[i].ok;
    }
    qsort(all, nreq, sizeof *all, cmp_double);
    double rate = (double)ok / wall;
    char how[96];
    if (bulk > 1)
        snprintf(how, sizeof how, "submit_many of %zu events%s", bulk,
                 frame ? ", as binary frames" : "");
    else
        snprintf(how, sizeof how, "one event per submit%s", frame ? ", as binary frames" : "");
    if (nscanners) { /* the scan runs print latencies (-1: the same run without scans) */
        if (heavy) {
            printf("| submit latency p50 / p99 with %d clients looping on the heaviest reads (a "
                   "1,000-entry log page, a 100-lot stock page) | %.2f / %.2f ms (p99 / 50 ms "
                   "limit: %.2f); %.0f reads/s answered |\n",
                   nscanners, all[nreq / 2] * 1e3, all[nreq * 99 / 100] * 1e3,
                   all[nreq * 99 / 100] * 1e3 / 50, (double)scans / wall);
            goto free_all;
        }
        if (nscanners < 0)
            printf("| submit latency p50 / p99, no scans (%d clients, %zu events) | %.2f / %.2f "
                   "ms |\n",
                   nclients, total, all[nreq / 2] * 1e3, all[nreq * 99 / 100] * 1e3);
        else
            printf("| the same with %d clients scanning one lot meanwhile | %.2f / %.2f ms |\n",
                   nscanners, all[nreq / 2] * 1e3, all[nreq * 99 / 100] * 1e3);
        if (nscanners < 0)
            goto free_all;
        printf("| scans answered meanwhile (each client 20 a second, half of them signed) | %.0f "
               "/s |\n",
               (double)scans / wall);
        char sp[PATH_MAX + 32];
        snprintf(sp, sizeof sp, "%s/scans/data.mdb", dir);
        struct stat sst;
        printf("| the scanned lot's scan store after %zu scans | %lld KB on disk |\n", scans,
               stat(sp, &sst) == 0 ? (long long)sst.st_size / 1024 : -1LL);
        goto free_all;
    }
    printf("| durable ingest (%d clients, %s; %zu events, %zu accepted) | %.0f events/s |\n",
           nclients, how, total, ok, rate);
    if (target > 0)
        printf("| ingest / Ed25519 ceiling (target %.2f: %s) | %.2f |\n", target,
               rate / ceiling >= target ? "met" : "not met", rate / ceiling);
    else
        printf("| ingest / Ed25519 ceiling | %.2f |\n", rate / ceiling);
    printf("| %s latency p50 / p99 / p999 | %.2f / %.2f / %.2f ms |\n",
           bulk > 1 ? "submit_many" : "submit", all[nreq / 2] * 1e3, all[nreq * 99 / 100] * 1e3,
           all[nreq * 999 / 1000] * 1e3);
    double verify_s = ncpu() / ceiling, client_s = client_cpu / (double)total;
    printf("| CPU per event: daemon (verification %.0f µs of it) / clients | %.0f µs / %.0f µs |\n",
           verify_s * 1e6, daemon_cpu * 1e6 / (double)total, client_s * 1e6);
    double ev = (double)total / 1e6; /* µs an event, from seconds */
    printf("| of the daemon's CPU an event, by thread: writer (rules, store, commit) / workers "
           "(read, verify, deflate) / acker (answers) / the rest | %.0f / %.0f / %.0f / %.0f µs "
           "|\n",
           by.writer / ev, by.workers / ev, by.acker / ev, by.other / ev);
    /* what its commits wrote: the writer's largest cost after the rules in small groups */
    if (commits0 >= 0 && commits1 > commits0 && wchar0 >= 0 && wchar1 >= 0) {
        char disk[80] = "not measured (no device count for the directory)";
        if (sectors0 >= 0 && sectors1 >= sectors0)
            snprintf(disk, sizeof disk, "%.1f KB",
                     (double)(sectors1 - sectors0) * 512 / (double)total / 1024);
        printf("| its commits: events a commit / handed to the file an event / written to the "
               "disk an event (the device's count, its syncs and the file system's own writes) "
               "| %.1f / %.1f KB / %s |\n",
               (double)ok / (double)(commits1 - commits0),
               (double)(wchar1 - wchar0) / (double)total / 1024, disk);
    }
    /* what a daemon that did nothing but verify could reach, with these
     * clients on the same cores */
    printf("| bound with the clients on the same cores: verification only | %.2f of the ceiling "
           "|\n",
           (ncpu() / (verify_s + client_s)) / ceiling);
    /* and what the API's JSON alone leaves, with nothing else done at all */
    double json_s = frame ? 0 : json_floor(cs[0].reqs, cs[0].n, cs[0].events);
    if (!frame)
        printf("| bound from the API's JSON alone (request and event body read as the daemon "
               "reads them: %.1f µs per event), verification on all cores | %.2f of the ceiling "
               "|\n",
               json_s * 1e6, verify_s / (verify_s + json_s));
free_all:
    for (int i = 0; i < nclients; i++) {
        for (size_t k = 0; k < cs[i].n; k++)
            free(cs[i].reqs[k]);
        free(cs[i].reqs);
        free(cs[i].lens);
        free(cs[i].lat);
    }
    free(cs);
    free(t);
    free(all);
}

/* ---- 4. HTTP: tcmtrace-web under 64 keep-alive connections ------------------------ */

typedef struct hclient {
    int port;
    const char *code; /* NULL: fetch random full level-0 tiles */
    uint64_t tiles;
    double until;
    double *lat;
    size_t n, cap, errors;
    unsigned seed;
} hclient;

static int http_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request and its whole answer on a kept-alive connection; the status or -1. */
static int http_get(int fd, const char *path, char *buf, size_t cap)
{
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    char *end = NULL;
    while (end == NULL) {
        ssize_t r = read(fd, buf + got, cap - got - 1);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    while (got < want) {
        ssize_t r = read(fd, buf + got, cap - got - 1 < want - got ? cap - got - 1 : want - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return atoi(buf + 9);
}

static void *http_loop(void *arg)
{
    hclient *h = arg;
    char *buf = malloc(1 << 20), path[128];
    int fd = http_connect(h->port);
    while (fd >= 0 && now_s() < h->until) {
        if (h->code)
            snprintf(path, sizeof path, "/cq/api/v1/batches/%s", h->code);
        else { /* C2SP tile index: groups of three digits, "x" before all but the last */
            unsigned n = (unsigned)(rand_r(&h->seed) % h->tiles);
            if (n >= 1000000)
                snprintf(path, sizeof path, "/cq/log/tile/0/x%03u/x%03u/%03u", n / 1000000,
                         n / 1000 % 1000, n % 1000);
            else if (n >= 1000)
                snprintf(path, sizeof path, "/cq/log/tile/0/x%03u/%03u", n / 1000, n % 1000);
            else
                snprintf(path, sizeof path, "/cq/log/tile/0/%03u", n);
        }
        double t0 = now_s();
        int st = http_get(fd, path, buf, 1 << 20);
        if (st != 200) {
            if (h->errors++ == 0 && st > 0)
                fprintf(stderr, "  HTTP %d: %.200s\n", st,
                        strstr(buf, "\r\n\r\n") ? strstr(buf, "\r\n\r\n") + 4 : buf);
            else if (h->errors == 1)
                fprintf(stderr, "  HTTP: the connection closed (%s)\n", strerror(errno));
            close(fd);
            fd = http_connect(h->port);
            continue;
        }
        if (h->n == h->cap)
            h->lat = realloc(h->lat, (h->cap = h->cap * 2 + 1024) * sizeof *h->lat);
        h->lat[h->n++] = now_s() - t0;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

static void http_run(int port, const char *code, uint64_t tiles, const char *what)
{
    enum { CONNS = 64 };
    static hclient hs[CONNS];
    pthread_t t[CONNS];
    double t0 = now_s(), secs = 3;
    for (int i = 0; i < CONNS; i++) {
        hs[i] = (hclient){port, code, tiles, t0 + secs, NULL, 0, 0, 0, (unsigned)i * 7919u + 1};
        pthread_create(&t[i], NULL, http_loop, &hs[i]);
    }
    size_t total = 0, errors = 0;
    for (int i = 0; i < CONNS; i++) {
        pthread_join(t[i], NULL);
        total += hs[i].n;
        errors += hs[i].errors;
    }
    double wall = now_s() - t0, *all = calloc(total + 1, sizeof *all);
    size_t k = 0;
    for (int i = 0; i < CONNS; i++) {
        memcpy(all + k, hs[i].lat, hs[i].n * sizeof *all);
        k += hs[i].n;
        free(hs[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    if (total == 0)
        printf("| HTTP GET %s | not measured: no request was answered (%zu errors) |\n", what,
               errors);
    else
        printf("| HTTP GET %s, %d keep-alive connections | %.0f requests/s, p50 / p99 %.2f / %.2f "
               "ms%s |\n",
               what, CONNS, (double)total / wall, all[total / 2] * 1e3, all[total * 99 / 100] * 1e3,
               errors ? " (errors!)" : "");
    free(all);
}

static void http_bench(const char *bin, const char *dir, const char *code, uint64_t size)
{
    int probe = socket(AF_INET, SOCK_STREAM, 0), port;
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(probe, (struct sockaddr *)&a, sizeof a);
    getsockname(probe, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(probe);
    char exe[PATH_MAX + 16], listen[64];
    snprintf(exe, sizeof exe, "%s/tcmtrace-web", bin);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "a", stderr) == NULL)
            _exit(127);
        execl(exe, exe, dir, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        int fd = http_connect(port);
        if (fd >= 0) {
            close(fd);
            up = 1;
        } else
            usleep(25000);
    }
    if (!up) { /* no figures of nothing: say why there are none */
        printf("| HTTP GET | not measured: %s did not answer on %s within 5 s |\n", exe, listen);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return;
    }
    http_run(port, code, 0, "/api/v1/batches/{code} (≈ 1 KB)");
    http_run(port, NULL, size / 256, "a full level-0 tile (8 KB)");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* ---- 3. a large ledger ---------------------------------------------------------- */

typedef struct signjob {
    tt_append *items;
    char **bodies;
    uint8_t (*sigs)[64];
    size_t from, to;
} signjob;

static void *sign_range(void *arg)
{
    signjob *j = arg;
    for (size_t i = j->from; i < j->to; i++) {
        const tt_keypair *kp = &growers[i % GROWERS];
        tt_event_sign(ORIGIN, tt_bytes_str(j->bodies[i]), kp->sk, j->sigs[i]);
        j->items[i] = (tt_append){.actor = kp->pk,
                                  .sig = j->sigs[i],
                                  .body = tt_bytes_str(j->bodies[i]),
                                  .sig_checked = 1};
    }
    return NULL;
}

/* Appends bodies[0..n) signed by growers[i % GROWERS], signing on all cores. */
static void bulk_append(tt_ledger *l, char **bodies, size_t n)
{
    tt_append *items = calloc(n, sizeof *items);
    uint8_t(*sigs)[64] = calloc(n, 64);
    int nt = ncpu();
    pthread_t t[256];
    signjob jobs[256];
    for (int i = 0; i < nt; i++) {
        jobs[i] = (signjob){items, bodies, sigs, n * (size_t)i / (size_t)nt,
                            n * (size_t)(i + 1) / (size_t)nt};
        pthread_create(&t[i], NULL, sign_range, &jobs[i]);
    }
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < n; i += 4096) {
        size_t m = n - i < 4096 ? n - i : 4096;
        tt_error err;
        if (tt_ledger_append(l, items + i, m, tt_now_ms(), tt_rules_apply, NULL, &err) != TT_OK) {
            fprintf(stderr, "bulk append: %s\n", err.message);
            exit(1);
        }
        for (size_t k = i; k < i + m; k++)
            if (items[k].result.code != TT_OK) {
                fprintf(stderr, "bulk append refused an event: %s\n", items[k].result.message);
                exit(1);
            }
    }
    free(items);
    free(sigs);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r  audit %3d%%", total ? (int)(done * 100 / total) : 100);
}

/*
 * What decoding alone costs a first trace of lineage `chain` (its leaf last):
 * each batch record on the way up from its binary layout and each entry's
 * body by tt_json_load (the same documents tt_trace reads), and encoding the
 * answer `tr` by tt_json_compact, as the API does. Microseconds, the best of several rounds.
 */
static void trace_json_floor(tt_ledger *l, char chain[11][TT_CODE_LEN + 1], json_t *tr,
                             double *parse_us, double *dump_us)
{
    char *texts[64];
    size_t n = 0, lens[64], recs = 0; /* texts[0..recs) are records */
    json_t *seqs = json_object();
    for (int d = 0; d <= 10; d++) {
        json_t *b, *evs, *ev;
        size_t i;
        if (tt_state_batch(l, chain[d], &b, NULL) != TT_OK ||
            tt_state_batch_events(l, chain[d], &evs, NULL) != TT_OK)
            exit(1);
        (void)d;
        json_decref(b);
        json_array_foreach(evs, i, ev)
        {
            char key[24];
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
            snprintf(key, sizeof key, "%llu", (unsigned long long)seq);
            uint8_t *data;
            size_t len;
            tt_entry e;
            if (json_object_get(seqs, key) || n == sizeof texts / sizeof *texts ||
                tt_ledger_entry(l, seq, &data, &len, NULL) != TT_OK)
                continue;
            if (tt_entry_decode((tt_bytes){len, data}, &e, NULL) == TT_OK)
                texts[n++] = strndup((const char *)e.body.data, e.body.size);
            free(data);
            json_object_set_new(seqs, key, json_true());
        }
        json_decref(evs);
    }
    json_decref(seqs);
    /* the records first, as stored */
    char *bodies[64];
    size_t nb = n;
    memcpy(bodies, texts, n * sizeof *texts);
    n = 0;
    for (int d = 0; d <= 10; d++) {
        json_t *b;
        tt_state_batch(l, chain[d], &b, NULL);
        texts[n] = tt_rec_encode(b, &lens[n]);
        n++;
        json_decref(b);
    }
    recs = n;
    for (size_t i = 0; i < nb && n < 64; i++)
        texts[n++] = bodies[i];
    *parse_us = *dump_us = 1e9;
    for (int round = 0; round < 50; round++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++)
            json_decref(i < recs ? tt_rec_decode(texts[i], lens[i])
                                 : tt_json_load(texts[i], strlen(texts[i]), 0, NULL));
        double p = (now_s() - t0) * 1e6;
        t0 = now_s();
        free(tt_json_compact(tr, JSON_COMPACT, NULL));
        double d = (now_s() - t0) * 1e6;
        *parse_us = p < *parse_us ? p : *parse_us;
        *dump_us = d < *dump_us ? d : *dump_us;
    }
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
}

#define LINEAGES 64 /* distinct 10-deep lineages, so that a first trace of each can be timed */

/* The median and the mean of n figures (sorted in place). A first trace can be timed
 * once a lineage, and a run of this machine's neighbours shows in a mean, so the median
 * of LINEAGES - 1 of them is what a target is held to; the mean is printed beside it. */
static double median_of(double *v, size_t n, double *mean)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    *mean = n ? sum / (double)n : 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sends `req` and waits for the answer; returns its length. */
/* A split of `code` into n children of `each` g, signed by its holder growers[0]. */
static char *split_body(const char *code, int n, int64_t each)
{
    json_t *kids = json_array();
    for (int i = 0; i < n; i++) {
        char c[TT_CODE_LEN + 1];
        next_code(c);
        json_array_append_new(kids, json_pack("{s:s, s:I}", "id", c, "qty_g", (json_int_t)each));
    }
    return tt_event_build("batch.split", json_pack("{s:s, s:o}", "id", code, "children", kids));
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Records stay small: an event on a lot with 100,000 children against one on a fresh lot.
 * A lot's children live in their own index, so its record, rewritten by every event on
 * it, does not grow with them. */
static void wide_lot(const char *dir, const char *limits, int children)
{
    tt_ledger *l = make_ledger(dir, limits, TT_LEDGER_NOSYNC);
    char wide[TT_CODE_LEN + 1], fresh[TT_CODE_LEN + 1];
    next_code(wide);
    next_code(fresh);
    append_one(l, &growers[0], register_body(wide, (int64_t)children * 10 + 100000));
    append_one(l, &growers[0], register_body(fresh, 100000));
    double t0 = now_s();
    for (int done = 0; done < children; done += 1000)
        append_one(l, &growers[0],
                   split_body(wide, children - done < 1000 ? children - done : 1000, 10));
    double setup = now_s() - t0;
    enum { N = 300 };
    double w[N], f[N];
    for (int i = 0; i < N; i++) { /* alternate, so both see the same store */
        double c0 = cpu_now();
        append_one(l, &growers[0], split_body(wide, 1, 1));
        double c1 = cpu_now();
        append_one(l, &growers[0], split_body(fresh, 1, 1));
        f[i] = cpu_now() - c1;
        w[i] = c1 - c0;
    }
    qsort(w, N, sizeof *w, cmp_double);
    qsort(f, N, sizeof *f, cmp_double);
    json_t *b = NULL;
    tt_state_batch(l, wide, &b, NULL);
    char *rec = NULL;
    size_t reclen = 0;
    if (b) /* the record as stored, in its binary layout */
        rec = tt_rec_encode(b, &reclen);
    printf("| a lot split into %d children (setup %.1f s): its record | %zu bytes |\n", children,
           setup, reclen);
    printf("| an event on that lot, CPU p50 / p99 (one split off, rules and commit) | %.2f / %.2f "
           "ms |\n",
           w[N / 2] * 1e3, w[N * 99 / 100] * 1e3);
    printf("| the same event on a fresh lot, CPU p50 / p99 | %.2f / %.2f ms |\n", f[N / 2] * 1e3,
           f[N * 99 / 100] * 1e3);
    printf("| ratio, p50: lot with %d children / fresh lot | %.2f (1 = costs the same) |\n",
           children, w[N / 2] / f[N / 2]);
    free(rec);
    json_decref(b);
    tt_ledger_close(l);
}

/* Minor and major page faults of process pid so far (/proc/PID/stat), or -1. */
static long page_faults(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long minflt = 0, cminflt = 0, majflt = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %lu %lu", &minflt, &cminflt, &majflt) != 3)
        return -1;
    return (long)(minflt + majflt);
}

static int round_trip(int sock, const char *req)
{
    char *buf;
    nn_send(sock, req, strlen(req), 0);
    int n = nn_recv(sock, &buf, NN_MSG, 0);
    if (n > 0)
        nn_freemsg(buf);
    return n;
}

static void large(const char *bin, const char *dir, const char *limits, size_t entries)
{
    tt_ledger *l = make_ledger(dir, limits, TT_LEDGER_NOSYNC);
    double t0 = now_s();
    /* 10-deep lineages: each split child is split again, all by grower 0 */
    static char chain[LINEAGES][11][TT_CODE_LEN + 1];
    for (int c = 0; c < LINEAGES; c++) {
        next_code(chain[c][0]);
        char *b0 = register_body(chain[c][0], 1000000);
        bulk_append(l, &b0, 1);
        free(b0);
        int64_t q = 1000000;
        for (int d = 1; d <= 10; d++, q /= 2) {
            char other[TT_CODE_LEN + 1];
            next_code(chain[c][d]);
            next_code(other);
            char *b = tt_event_build(
                "batch.split", json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", chain[c][d - 1],
                                         "children", "id", chain[c][d], "qty_g", (int)(q / 2), "id",
                                         other, "qty_g", (int)(q / 4)));
            bulk_append(l, &b, 1);
            free(b);
        }
    }
    /* the rest: registrations, in chunks (sales by the same grower of its own lots) */
    uint64_t size = 0;
    tt_ledger_head(l, &size, NULL, NULL);
    size_t chunk = 100000;
    while (size < entries) {
        size_t n = entries - size < chunk ? entries - size : chunk;
        char **bodies = calloc(n, sizeof *bodies);
        for (size_t i = 0; i < n; i++) {
            char code[TT_CODE_LEN + 1];
            next_code(code);
            bodies[i] = register_body(code, 50000);
        }
        bulk_append(l, bodies, n);
        for (size_t i = 0; i < n; i++)
            free(bodies[i]);
        free(bodies);
        tt_ledger_head(l, &size, NULL, NULL);
        if (isatty(STDERR_FILENO))
            fprintf(stderr, "\r  built %llu entries", (unsigned long long)size);
    }
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
    tt_ledger_close(l);
    /* built without a sync per commit: flush it now, so that no write-back
     * of the whole file runs under the measurements */
    char *data;
    if (asprintf(&data, "%s/data.mdb", dir) < 0)
        exit(1);
    int fd = open(data, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        perror(data);
        exit(1);
    }
    close(fd);
    free(data);
    printf("  built a ledger of %llu entries in %.1f s (on disk; trace codes %s)\n",
           (unsigned long long)size, now_s() - t0,
           spread_codes ? "spread like random ones" : "counted up");
    /* Latency. Lineage 0 is traced over and over (its records parsed
     * already: "repeated"); then each other lineage once, by a reader that
     * has been serving but never saw it ("first"). */
    tt_ledger_open(dir, TT_LEDGER_RDONLY, &l, NULL);
    double cold[LINEAGES], cold_mean, cold_us, trace_us, show_us;
    int reps = 2000;
    t0 = now_s();
    for (int i = 0; i < reps; i++) {
        json_t *tr;
        tt_error err;
        if (tt_trace(l, chain[0][10], &tr, &err) != TT_OK) {
            fprintf(stderr, "trace: %s\n", err.message);
            exit(1);
        }
        json_decref(tr);
    }
    trace_us = (now_s() - t0) / reps * 1e6;
    t0 = now_s();
    for (int i = 0; i < reps; i++) {
        json_t *b;
        if (tt_state_batch(l, chain[0][10], &b, NULL) != TT_OK)
            exit(1);
        json_decref(b);
    }
    show_us = (now_s() - t0) / reps * 1e6;
    /* an inclusion proof of an entry anywhere in the log, under the latest size */
    double proof_us;
    {
        tt_hash pr[TT_MERKLE_PROOF_MAX];
        size_t pn;
        t0 = now_s();
        for (int i = 0; i < reps; i++)
            if (tt_ledger_inclusion_proof(l, (uint64_t)randombytes_uniform((uint32_t)size), size,
                                          pr, &pn, NULL) != TT_OK)
                exit(1);
        proof_us = (now_s() - t0) / reps * 1e6;
    }
    for (int c = 1; c < LINEAGES; c++) {
        json_t *tr;
        t0 = now_s();
        if (tt_trace(l, chain[c][10], &tr, NULL) != TT_OK)
            exit(1);
        cold[c - 1] = (now_s() - t0) * 1e6;
        json_decref(tr);
    }
    double parse_us, dump_us;
    {
        json_t *tr;
        if (tt_trace(l, chain[1][10], &tr, NULL) != TT_OK)
            exit(1);
        trace_json_floor(l, chain[1], tr, &parse_us, &dump_us);
        json_decref(tr);
    }
    tt_ledger_close(l);
    cold_us = median_of(cold, LINEAGES - 1, &cold_mean);
    printf("| trace of a 10-deep lineage, library (%llu entries): first (median / mean of %d "
           "lineages) / repeated | %.0f / %.0f / %.0f µs |\n",
           (unsigned long long)size, LINEAGES - 1, cold_us, cold_mean, trace_us);
    printf("| of a first trace, decoding alone: its 11 batch records (binary) and entry bodies "
           "(the library's reader) / encoding the answer | %.0f / %.0f µs |\n",
           parse_us, dump_us);
    printf("| show, library | %.1f µs |\n", show_us);
    printf("| inclusion proof of a random entry, library | %.1f µs |\n", proof_us);
    /* the same through the API, on a daemon started afresh */
    pid_t pid = start_daemon(bin, dir);
    char url[PATH_MAX + 32], req[128];
    snprintf(url, sizeof url, "ipc://%s/api.sock", dir);
    int s = nn_socket(AF_SP, NN_REQ);
    nn_connect(s, url);
    round_trip(s, "{\"op\":\"status\"}"); /* connected */
    double api_first[LINEAGES], api_mean, api_cold, api_trace, api_show, api_proof;
    int tlen = 0, slen = 0, plen = 0;
    snprintf(req, sizeof req, "{\"op\":\"trace\",\"id\":\"%s\"}", chain[0][10]);
    t0 = now_s();
    for (int i = 0; i < 1000; i++)
        tlen = round_trip(s, req);
    api_trace = (now_s() - t0) / 1000 * 1e6;
    snprintf(req, sizeof req, "{\"op\":\"batch\",\"id\":\"%s\"}", chain[0][10]);
    t0 = now_s();
    for (int i = 0; i < 1000; i++)
        slen = round_trip(s, req);
    api_show = (now_s() - t0) / 1000 * 1e6;
    t0 = now_s();
    for (int i = 0; i < 1000; i++) {
        snprintf(req, sizeof req, "{\"op\":\"proof\",\"seq\":%u}",
                 randombytes_uniform((uint32_t)size));
        plen = round_trip(s, req);
    }
    api_proof = (now_s() - t0) / 1000 * 1e6;
    long faults0 = page_faults(pid);
    for (int c = 1; c < LINEAGES; c++) {
        snprintf(req, sizeof req, "{\"op\":\"trace\",\"id\":\"%s\"}", chain[c][10]);
        t0 = now_s();
        round_trip(s, req);
        api_first[c - 1] = (now_s() - t0) * 1e6;
    }
    long faults = page_faults(pid) - faults0;
    nn_close(s);
    stop_daemon(pid);
    api_cold = median_of(api_first, LINEAGES - 1, &api_mean);
    printf("| trace of a 10-deep lineage, API round trip (%d-byte answer): first (median / mean "
           "/ 90th percentile of %d lineages) / repeated | %.0f / %.0f / %.0f / %.0f µs |\n",
           tlen, LINEAGES - 1, api_cold, api_mean, api_first[(LINEAGES - 1) * 9 / 10], api_trace);
    printf("| first trace through the API, median / the 0.5 ms target | %.2f (%s) |\n",
           api_cold / 500, api_cold <= 500 ? "met" : "not met");
    /* each read thread takes its caches' memory when it starts (tt_mem_warm): a first trace
     * should fault no page in */
    if (faults0 >= 0 && faults >= 0)
        printf("| page faults in the daemon a first trace (minor and major) | %.1f |\n",
               (double)faults / (LINEAGES - 1));
    printf("| show, API round trip (%d-byte answer) | %.0f µs |\n", slen, api_show);
    printf(
        "| inclusion proof with its signed checkpoint, API round trip (%d-byte answer) | %.0f µs "
        "|\n",
        plen, api_proof);
    fflush(stdout);
    http_bench(bin, dir, chain[0][10], size);
    /* audit */
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_ledger_open(dir, TT_LEDGER_RDONLY, &l, NULL);
    char *scratch;
    if (asprintf(&scratch, "%s-audit", dir) < 0)
        exit(1);
    tt_audit_report r;
    /* the ceiling again, just before: this machine's speed moves within a run */
    double audit_ceiling = ed25519_ceiling();
    t0 = now_s();
    double ac0 = self_cpu();
    tt_state_audit(l, &v, 1, scratch, progress, NULL, &r, NULL);
    free(scratch);
    double at = now_s() - t0, acpu = self_cpu() - ac0;
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
    tt_ledger_close(l);
    printf("| full audit (signatures, chain, Merkle, replayed state: %s) | %.0f entries/s |\n",
           r.ok ? "passed" : "FAILED", (double)r.entries / at);
    double ratio = (double)r.entries / at / audit_ceiling;
    printf("| Ed25519 verifications on all cores, measured again just before the audit | %.0f /s "
           "|\n",
           audit_ceiling);
    printf("| audit / that ceiling (target 0.80: %s) | %.2f |\n", ratio >= 0.8 ? "met" : "not met",
           ratio);
    /* where the time goes, as the audit measured it thread by thread */
    double n = (double)r.entries, prep = (double)r.prepare_cpu_ns / 1e9,
           walk = (double)r.walk_cpu_ns / 1e9, other = acpu - prep - walk;
    double prep_us = prep / n * 1e6, walk_us = walk / n * 1e6,
           verify_us = ncpu() / audit_ceiling * 1e6;
    printf("| of the audit's %.1f s of CPU in %.1f s: preparing entries on every core (inflate, "
           "decode, hash, verify the signature) / the walk in order on one thread (chain, "
           "indexes, Merkle, checkpoints, replay of the rules) / comparing the replayed state "
           "and the rest | %.1f s / %.1f s / %.1f s (%.0f and %.0f µs an entry) |\n",
           acpu, at, prep, walk, other > 0 ? other : 0, prep_us, walk_us);
    double audit_verify_us = (double)r.verify_cpu_ns / 1e3 / n;
    printf("| of preparing an entry: verifying its signature (one verification at that ceiling: "
           "%.0f µs) / inflating, decoding and hashing it | %.0f / %.0f µs |\n",
           verify_us, audit_verify_us, prep_us - audit_verify_us);
    /* the same ratio against verification as fast as it ran inside the audit: both figures
     * come from the same minutes, so this machine's changes of speed cancel out */
    double inside = audit_verify_us > 0 ? ncpu() * 1e6 / audit_verify_us : 0;
    printf("| audit / verification on every core at the speed it ran inside the audit (%.0f /s) | "
           "%.2f |\n",
           inside, inside > 0 ? (double)r.entries / at / inside : 0);
    printf(
        "| bound from that CPU on %d cores, audit / ceiling (all of it spread evenly) | %.2f |\n",
        ncpu(), n > 0 ? ncpu() / ((prep + walk + (other > 0 ? other : 0)) / n) / audit_ceiling : 0);
    /* what no audit can leave out, each entry's signature verified at the ceiling's own speed
     * and the entry inflated, decoded and hashed, and the room the target leaves the walk */
    double floor_us = verify_us + (prep_us - audit_verify_us);
    printf("| bound with no walk at all (verification at the ceiling's speed, then inflating, "
           "decoding and hashing) / the walk's room under the 0.80 target (µs an entry; it "
           "takes %.0f) | %.2f / %.1f µs |\n",
           walk_us, floor_us > 0 ? verify_us / floor_us : 0,
           ncpu() * 1e6 / (0.8 * audit_ceiling) - floor_us);
    char *path;
    struct stat st;
    if (asprintf(&path, "%s/data.mdb", dir) < 0 || stat(path, &st) != 0)
        exit(1);
    free(path);
    double bpe = (double)st.st_size / (double)size;
    printf("| bytes per entry on disk (entry, indexes, Merkle nodes, checkpoints, state; target "
           "1,500: %s) | %.0f |\n",
           bpe <= 1500 ? "met" : "not met", bpe);
    /* where the bytes go: each database's pages, per entry */
    {
        static const char *const names[TT_DB_COUNT] = {
            "entries", "hash index",   "body index", "Merkle", "checkpoints",  "meta",
            "batches", "batch events", "children",   "actors", "actor events", "state",
            "cosignatures", "state map"};
        tt_ledger_open(dir, TT_LEDGER_RDONLY, &l, NULL);
        MDB_txn *txn;
        char line[1024];
        size_t off = 0, used = 0;
        if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn) == 0) {
            for (int i = 0; i < TT_DB_COUNT; i++) {
                MDB_stat ms;
                if (mdb_stat(txn, l->dbi[i], &ms) != 0)
                    continue;
                size_t b = (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) *
                           (size_t)ms.ms_psize;
                used += b;
                if ((double)b / (double)size >= 5)
                    off += (size_t)snprintf(line + off, sizeof line - off, "%s%s %.0f",
                                            off ? ", " : "", names[i], (double)b / (double)size);
            }
            mdb_txn_abort(txn);
        }
        tt_ledger_close(l);
        printf("| of the bytes per entry: %s; free and other pages %.0f |\n", line,
               ((double)st.st_size - (double)used) / (double)size);
    }
}

/* ---- the state map (docs/statemap.md) ---------------------------------------------- */

/* The wire size of the proof of `key` in the map of the sorted keys k[0..n): the map's shape
 * alone decides it, so the keys are enough. */
static size_t proof_bytes(uint8_t (*k)[32], size_t n, const uint8_t key[32])
{
    size_t lo = 0, hi = n, present = 0;
    unsigned depth = 0;
    while (hi - lo > 1 && depth < 255) {
        size_t a = lo, b = hi; /* the first of [lo, hi) with bit `depth` set: 0s, then 1s */
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (tt_smt_bit(k[mid], depth))
                b = mid;
            else
                a = mid + 1;
        }
        size_t m = a;
        if (tt_smt_bit(key, depth)) {
            present += m > lo;
            lo = m;
        } else {
            present += hi > m;
            hi = m;
        }
        depth++;
    }
    int other = hi - lo == 1 && memcmp(k[lo], key, 32) != 0;
    return 2 + (depth + 7) / 8 + 32 * present + (other ? 64 : 0);
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Proof sizes in a map of n lots (random keys, as SHA-256 of codes are). */
static void proof_sizes(size_t n)
{
    uint8_t(*k)[32] = malloc(n * 32);
    if (k == NULL) {
        printf("| state map proofs at %zu lots | not measured: no memory |\n", n);
        return;
    }
    double t0 = now_s();
    randombytes_buf(k, n * 32);
    qsort(k, n, 32, key_cmp);
    enum { S = 20000 };
    static size_t in[S], out[S];
    double sum_in = 0, sum_out = 0;
    for (size_t i = 0; i < S; i++) {
        uint8_t absent[32];
        in[i] = proof_bytes(k, n, k[randombytes_uniform((uint32_t)n)]);
        randombytes_buf(absent, 32);
        out[i] = proof_bytes(k, n, absent);
        sum_in += (double)in[i];
        sum_out += (double)out[i];
    }
    qsort(in, S, sizeof *in, size_cmp);
    qsort(out, S, sizeof *out, size_cmp);
    unsigned lg = 0;
    while ((1ull << lg) < n)
        lg++;
    size_t limit = 32 * (lg + 4);
    printf("| state map proof of a lot at %zu lots (%d sampled, %.1f s): mean / p99 / largest | "
           "%.0f / %zu / %zu bytes; limit 32 × (⌈log2⌉ + 4) = %zu: mean %.2f, p99 %.2f |\n",
           n, S, now_s() - t0, sum_in / S, in[S * 99 / 100], in[S - 1], limit, sum_in / S / (double)limit,
           (double)in[S * 99 / 100] / (double)limit);
    printf("| the same, of an absent lot (non-inclusion): mean / p99 / largest | %.0f / %zu / %zu "
           "bytes: mean %.2f, p99 %.2f of the limit |\n",
           sum_out / S, out[S * 99 / 100], out[S - 1], sum_out / S / (double)limit,
           (double)out[S * 99 / 100] / (double)limit);
    free(k);
}

/* The writer with the state map against the writer without it: the same pre-signed groups of
 * 48 events (as submit_many brings them; signatures checked already, as the daemon's workers
 * do), durable, into two ledgers of `lots` lots, alternately. */
static void statemap_writer(const char *root, const char *limits, size_t lots)
{
    char da[PATH_MAX + 32], db[PATH_MAX + 32];
    snprintf(da, sizeof da, "%s/map-with", root);
    snprintf(db, sizeof db, "%s/map-without", root);
    tt_ledger *a = make_ledger(da, limits, TT_LEDGER_NOSYNC), *b = make_ledger(db, limits, TT_LEDGER_NOSYNC | TT_LEDGER_NO_STATEMAP);
    char **fill = calloc(lots, sizeof *fill), (*codes)[TT_CODE_LEN + 1] = calloc(lots, TT_CODE_LEN + 1);
    for (size_t i = 0; i < lots; i++) {
        next_code(codes[i]);
        fill[i] = register_body(codes[i], 1000000);
    }
    double t0 = now_s();
    bulk_append(a, fill, lots);
    double fill_a = now_s() - t0;
    t0 = now_s();
    bulk_append(b, fill, lots);
    double fill_b = now_s() - t0;
    for (size_t i = 0; i < lots; i++)
        free(fill[i]);
    free(fill);
    enum { GROUP = 48, GROUPS = 300 };
    size_t n = (size_t)GROUP * GROUPS;
    char **bodies = calloc(n, sizeof *bodies);
    for (size_t i = 0; i < n; i++) { /* half new lots, half sales of lots the ledger holds */
        char code[TT_CODE_LEN + 1];
        if (i % 2) {
            next_code(code);
            bodies[i] = register_body(code, 50000);
        } else {
            /* a lot its signer holds: lot j was registered by growers[j % GROWERS] */
            size_t j = (size_t)randombytes_uniform((uint32_t)(lots / GROWERS)) * GROWERS + i % GROWERS;
            bodies[i] = sell_body(codes[j], 1);
        }
    }
    tt_append *items = calloc(n, sizeof *items), *copy = calloc(GROUP, sizeof *copy);
    uint8_t(*sigs)[64] = calloc(n, 64);
    int nt = ncpu();
    pthread_t t[256];
    signjob jobs[256];
    for (int i = 0; i < nt; i++) {
        jobs[i] = (signjob){items, bodies, sigs, n * (size_t)i / (size_t)nt, n * (size_t)(i + 1) / (size_t)nt};
        pthread_create(&t[i], NULL, sign_range, &jobs[i]);
    }
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    /* first the writer's own work (no sync: what the CPU allows), then durable (a commit is
     * fsynced, as the daemon's are); each half of the groups, alternately in the two ledgers */
    for (int durable = 0; durable < 2; durable++) {
        if (durable) {
            tt_ledger_close(a);
            tt_ledger_close(b);
            tt_ledger_open(da, 0, &a, NULL);
            tt_ledger_open(db, TT_LEDGER_NO_STATEMAP, &b, NULL);
            tt_ledger_set_signer(a, ORIGIN, &logkey, NULL);
            tt_ledger_set_signer(b, ORIGIN, &logkey, NULL);
            tt_ledger_set_origin(a, ORIGIN, NULL);
            tt_ledger_set_origin(b, ORIGIN, NULL);
        }
        double with = 0, without = 0;
        size_t from = durable ? GROUPS / 2 : 0, to = durable ? GROUPS : GROUPS / 2;
        for (size_t g = from; g < to; g++)
            for (int which = 0; which < 2; which++) { /* alternate: both see the same disk */
                tt_ledger *l = (g + which) % 2 ? a : b;
                memcpy(copy, items + g * GROUP, GROUP * sizeof *copy);
                double c0 = now_s();
                tt_error err;
                if (tt_ledger_append(l, copy, GROUP, tt_now_ms(), tt_rules_apply, NULL, &err) != TT_OK) {
                    fprintf(stderr, "map bench: %s\n", err.message);
                    exit(1);
                }
                for (int k = 0; k < GROUP; k++)
                    if (copy[k].result.code != TT_OK) {
                        fprintf(stderr, "map bench: refused: %s\n", copy[k].result.message);
                        exit(1);
                    }
                *(l == a ? &with : &without) += now_s() - c0;
            }
        size_t m = (to - from) * GROUP;
        printf("| the writer (rules, store, commit), groups of %d events, %s, at %zu lots: with the "
               "state map / without | %.0f / %.0f events/s (%.1f / %.1f µs an event): %.2f%s |\n",
               GROUP, durable ? "durable" : "no sync", lots, (double)m / with, (double)m / without,
               with * 1e6 / (double)m, without * 1e6 / (double)m, without / with,
               durable ? "" : without / with >= 0.9 ? " (goal 0.90: met)" : " (goal 0.90: not met)");
    }
    printf("| building %zu lots in groups of 4,096 (signatures checked already): with / without the "
           "map | %.0f / %.0f entries/s |\n",
           lots, (double)lots / fill_a, (double)lots / fill_b);
    /* the map built afresh from every lot's record, as rebuild ends */
    MDB_txn *txn;
    uint8_t mroot[32];
    uint64_t size = 0;
    tt_ledger_head(a, &size, NULL, NULL);
    t0 = now_s();
    if (mdb_txn_begin(a->env, NULL, 0, &txn) == 0) {
        struct tt_txn tx = {a, txn, 0, 0, NULL, NULL};
        tt_error err;
        if (tt_statemap_commit(&tx, size, size, NULL, mroot, &err) == TT_OK)
            mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    double built = now_s() - t0;
    tt_statemap_stats st;
    tt_statemap_stats_get(a, &st, NULL);
    printf("| the map of %llu lots built afresh from their records (the end of rebuild) | %.2f s: "
           "%.0f lots/s |\n",
           (unsigned long long)st.lots, built, (double)st.lots / built);
    /* a lot's proof through the library, at this size */
    enum { P = 2000 };
    double p0 = now_s();
    size_t bytes = 0;
    for (int i = 0; i < P; i++) {
        tt_state_answer ans;
        uint8_t wire[TT_SMT_PROOF_MAX];
        if (tt_statemap_prove(a, UINT64_MAX, codes[randombytes_uniform((uint32_t)lots)], &ans, NULL) == TT_OK)
            bytes += tt_smt_proof_encode(&ans.proof, wire);
    }
    printf("| a lot's state proof, library, %llu lots: time / bytes (mean of %d) | %.1f µs / %.0f |\n",
           (unsigned long long)st.lots, P, (now_s() - p0) * 1e6 / P, (double)bytes / P);
    for (size_t i = 0; i < n; i++)
        free(bodies[i]);
    free(bodies);
    free(items);
    free(copy);
    free(sigs);
    free(codes);
    tt_ledger_close(a);
    tt_ledger_close(b);
}

int main(int argc, char **argv)
{
    int clients = 64;
    size_t events = 30000, entries = 1000000;
    int keep = 0, bulk = 48, map_only = 0;
    const char *under = "/tmp"; /* where the run's ledgers are made */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            events = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
            entries = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--spread-codes") == 0)
            spread_codes = 1;
        else if (strcmp(argv[i], "--state-map-only") == 0) /* the state map's figures alone */
            map_only = 1;
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--bulk") == 0 && i + 1 < argc)
            bulk = atoi(argv[++i]);
        else if (strcmp(argv[i], "--daemon-log") == 0 && i + 1 < argc)
            daemon_log = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            under = argv[++i];
        else if (strcmp(argv[i], "--ceiling") == 0) { /* for the peers bench: the ceiling only */
            if (sodium_init() < 0)
                return 2;
            printf("%.0f\n", ed25519_ceiling());
            return 0;
        } else {
            fprintf(stderr, "usage: tcmtrace-bench [--clients N] [--events N] [--bulk N] "
                            "[--entries N] [--keep]\n"
                            "                      [--spread-codes] [--daemon-log FILE] "
                            "[--dir DIR] | --ceiling\n");
            return 2;
        }
    }
    if (bulk != 1 && (bulk < 3 || bulk > 255 || bulk % 3 != 0)) {
        /* a request carries whole lots: a registration and its two sales */
        fprintf(stderr, "tcmtrace-bench: --bulk must be 1 (none) or a multiple of 3 up to 255\n");
        return 2;
    }
    if (sodium_init() < 0 || clients < 1 || clients > 500) {
        /* nanomsg allows 512 sockets in one process; the bench is one process */
        fprintf(stderr, "tcmtrace-bench: --clients must be 1 to 500\n");
        return 2;
    }
    char exe[PATH_MAX], bin[PATH_MAX], limits[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(bin, sizeof bin, "%s", exe);
    *strrchr(bin, '/') = '\0';
    snprintf(limits, sizeof limits, "%s/../schemas/limits/chp2020.json", bin);
    if (access(limits, R_OK) != 0)
        snprintf(limits, sizeof limits, "%s/../../schemas/limits/chp2020.json", bin);
    char tmpl[PATH_MAX];
    char *root = NULL;
    if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/tcmtrace-bench-XXXXXX", under) < sizeof tmpl)
        root = mkdtemp(tmpl);
    else
        errno = ENAMETOOLONG;
    if (root == NULL) {
        fprintf(stderr,
                "tcmtrace-bench: cannot make a directory for the ledgers under %s (%s); "
                "give --dir a directory you can write to\n",
                under, strerror(errno));
        return 2;
    }
    tt_keypair_generate(&authority);
    tt_keypair_generate(&logkey);
    for (int i = 0; i < GROWERS; i++)
        tt_keypair_generate(&growers[i]);
    printf("tcmtrace bench — %d cores\n\n", ncpu());
    double ceiling = ed25519_ceiling();
    printf("| measure | result |\n| --- | --- |\n");
    printf("| Ed25519 verifications on all cores | %.0f /s |\n", ceiling);
    /* Verification is variable-time: verifying one signature again and again, the branch
     * predictor learns its every branch, which real events, each signed afresh, never allow */
    double distinct = verify_rate(1);
    printf("| the same with 1,000 signers and bodies in turn, as real events come | %.0f /s "
           "(%.2f of the ceiling) |\n",
           distinct, distinct / ceiling);
    /* the same for every ingest run below: their events are made alike */
    double deflate_s = deflate_floor(), verify_s = ncpu() / ceiling;
    printf("| bound from keeping bodies deflated alone (a worker deflates, the writer checks: "
           "%.1f µs an event), verification on all cores, for every ingest run below | %.2f of "
           "the ceiling |\n",
           deflate_s * 1e6, verify_s / (verify_s + deflate_s));
    fflush(stdout);
    char d1[PATH_MAX + 16], d2[PATH_MAX + 16];
    snprintf(d1, sizeof d1, "%s/ingest", root);
    snprintf(d2, sizeof d2, "%s/large", root);
    if (map_only) {
        proof_sizes(1000000);
        proof_sizes(10000000);
        statemap_writer(root, limits, entries / 10 > 20000 ? entries / 10 : 20000);
        char *cmd;
        if (asprintf(&cmd, "rm -rf '%s'", root) > 0 && system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
        return 0;
    }
    ingest(bin, d1, limits, clients, events, 1, 0, ceiling, 0, 0);
    fflush(stdout);
    snprintf(d1, sizeof d1, "%s/ingest-frame", root);
    ingest(bin, d1, limits, clients, events, 1, 0, ceiling, 1, 0.30);
    fflush(stdout);
    if (bulk > 1) {
        snprintf(d1, sizeof d1, "%s/ingest-many", root);
        ingest(bin, d1, limits, clients, events, (size_t)bulk, 0, ceiling, 0, 0);
        fflush(stdout);
        snprintf(d1, sizeof d1, "%s/ingest-many-frame", root);
        ingest(bin, d1, limits, clients, events, (size_t)bulk, 0, ceiling, 1, 0.65);
        fflush(stdout);
    }
    /* scans beside the writes: the same submits, 16 clients, with and without
     * 16 clients scanning one lot (scans have their own store and lock) */
    snprintf(d1, sizeof d1, "%s/ingest-calm", root);
    ingest(bin, d1, limits, 16, events / 3, 1, -1, ceiling, 0, 0);
    snprintf(d1, sizeof d1, "%s/ingest-scans", root);
    ingest(bin, d1, limits, 16, events / 3, 1, 16, ceiling, 0, 0);
    /* reads cannot starve writes: 8 clients on the heaviest reads meanwhile */
    snprintf(d1, sizeof d1, "%s/ingest-reads", root);
    ingest(bin, d1, limits, 16, events / 3, 1, 1000 + 8, ceiling, 0, 0);
    fflush(stdout);
    snprintf(d1, sizeof d1, "%s/wide", root);
    wide_lot(d1, limits, 100000);
    fflush(stdout);
    proof_sizes(1000000);
    proof_sizes(10000000);
    fflush(stdout);
    statemap_writer(root, limits, entries / 10 > 20000 ? entries / 10 : 20000);
    fflush(stdout);
    large(bin, d2, limits, entries);
    if (keep) {
        printf("\nledgers kept in %s\n", root);
    } else {
        char *cmd;
        asprintf(&cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
        free(cmd);
    }
    return 0;
}
