/*
 * main.c: tcmtrace-witness — cosigns other logs' checkpoints (C2SP
 * tlog-witness, tlog-cosignature "cosignature/v1").
 *
 *   tcmtrace-witness init DIR --name NAME [--passphrase-file FILE | --unsealed-key]
 *   tcmtrace-witness [run] DIR [--listen HOST:PORT] [--passphrase-file FILE]
 *                    [--log-rate N] [--address-rate N] [--quiet]
 *
 * DIR holds witness.key (its Ed25519 key, sealed unless asked, 0600),
 * witness.vkey (the cosigner verifier key, type 0x04, to put in a log's
 * policy), logs (the logs it witnesses, reloaded on SIGHUP) and state.mdb
 * (LMDB: per origin, the largest checkpoint it cosigned).
 *
 * HTTP:
 *   POST /add-checkpoint                  tlog-witness add-checkpoint
 *   GET  /<hex SHA-256 of origin>/checkpoint   the latest cosigned checkpoint (monitors)
 *
 * The check of the old size and the record of the new checkpoint are one
 * LMDB write transaction, synced before the answer: a crash never lets it
 * cosign two inconsistent trees.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tcmtrace/tcmtrace.h"
#include "tcmtrace/util.h"

static const char USAGE[] =
    "usage: tcmtrace-witness init DIR --name NAME [--passphrase-file FILE | --unsealed-key]\n"
    "       tcmtrace-witness [run] DIR [--listen HOST:PORT] [--passphrase-file FILE]\n"
    "                        [--log-rate N] [--address-rate N] [--quiet]\n"
    "\n"
    "init   makes a witness in DIR: its key (witness.key, sealed with a passphrase unless\n"
    "       --unsealed-key), its verifier key (witness.vkey) and an empty list of logs (logs).\n"
    "run    answers C2SP tlog-witness add-checkpoint for the logs in DIR/logs (default\n"
    "       127.0.0.1:8090); SIGHUP reloads DIR/logs. --log-rate and --address-rate are\n"
    "       requests a second per log and per client address (defaults 50 and 100).\n"
    "\n"
    "DIR/logs: one line a log, \"log <origin> <vkey> [<url> | replica=DIR]\"; '#' starts a\n"
    "comment. With replica=DIR (a 'tcmtraced follow' replica of that log) the witness\n"
    "cosigns a checkpoint only once the replica has replayed its tree through the rules.\n"
    "Passphrase: --passphrase-file, or TCMTRACE_WITNESS_PASSPHRASE, or asked on the terminal.\n";

#define BODY_MAX TT_WITNESS_BODY_MAX
#define MAX_LOGS 256
#define MAX_LOG_KEYS 4

typedef struct wlog {
    char origin[TT_NOTE_NAME_MAX + 1];
    char origin_hash[65];
    tt_verifier key[MAX_LOG_KEYS];
    size_t nkey;
    char replica[PATH_MAX]; /* "replica=DIR": cosign only what that follower replayed */
} wlog;

typedef struct wlogs {
    size_t n;
    wlog log[MAX_LOGS];
} wlogs;

static struct {
    char dir[PATH_MAX];
    char name[TT_NOTE_NAME_MAX + 1];
    tt_keypair key;
    MDB_env *env;
    MDB_dbi db;
    pthread_rwlock_t lock; /* logs */
    wlogs *logs;
    tt_rate by_log, by_addr;
    int quiet;
} W;

static void say(const char *fmt, ...)
{
    if (W.quiet)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s tcmtrace-witness: ", when);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the list of logs --------------------------------------------------------------------- */

/* Reads DIR/logs; on error prints which line is wrong and returns NULL. */
static wlogs *read_logs(const char *dir)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/logs", dir);
    char *text;
    size_t len;
    tt_error err;
    if (tt_read_file(path, 1 << 20, &text, &len, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 名单文件读不出来 / %s: %s\n", path, err.message);
        return NULL;
    }
    wlogs *ls = calloc(1, sizeof *ls);
    if (ls == NULL) {
        free(text);
        return NULL;
    }
    unsigned lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++; /* strtok_r skips empty lines; the count is of the ones with text */
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s2 = NULL, *w[5];
        int n = 0;
        for (char *t = strtok_r(line, " \t\r", &s2); t && n < 5; t = strtok_r(NULL, " \t\r", &s2))
            w[n++] = t;
        if (n == 0)
            continue;
        if (strcmp(w[0], "log") != 0 || n < 3 || n > 4) {
            fprintf(stderr,
                    "tcmtrace-witness: 名单这一行应写成 log 来源 公钥 [网址 | replica=目录] / %s line %u: write \"log <origin> <vkey> [<url> | "
                    "replica=DIR]\"\n",
                    path, lineno);
            goto bad;
        }
        tt_verifier v;
        if (tt_verifier_parse(w[2], &v, &err) != TT_OK || v.type != TT_SIG_NOTE) {
            fprintf(stderr, "tcmtrace-witness: 名单里这把公钥不对 / %s line %u: %s\n", path, lineno,
                    v.type != TT_SIG_NOTE ? "the key is a cosigner's (type 0x04), not a log's"
                                          : err.message);
            goto bad;
        }
        if (!tt_note_name_valid(w[1])) {
            fprintf(stderr, "tcmtrace-witness: 名单里这个来源名不合规 / %s line %u: \"%.64s\" is not a valid origin\n",
                    path, lineno, w[1]);
            goto bad;
        }
        wlog *l = NULL;
        for (size_t i = 0; i < ls->n; i++)
            if (strcmp(ls->log[i].origin, w[1]) == 0)
                l = &ls->log[i];
        if (l == NULL) {
            if (ls->n == MAX_LOGS) {
                fprintf(stderr, "tcmtrace-witness: 名单里的账本太多 / %s: more than %d logs\n", path, MAX_LOGS);
                goto bad;
            }
            l = &ls->log[ls->n++];
            snprintf(l->origin, sizeof l->origin, "%s", w[1]);
            uint8_t h[32];
            tt_sha256(h, l->origin, strlen(l->origin));
            tt_hex((tt_bytes){32, h}, l->origin_hash);
        }
        if (l->nkey == MAX_LOG_KEYS) {
            fprintf(stderr, "tcmtrace-witness: 名单里一个账本的公钥太多 / %s line %u: more than %d keys for %s\n", path,
                    lineno, MAX_LOG_KEYS, l->origin);
            goto bad;
        }
        l->key[l->nkey++] = v;
        if (n == 4 && strncmp(w[3], "replica=", 8) == 0) {
            char p2[PATH_MAX + 16];
            snprintf(p2, sizeof p2, "%s/data.mdb", w[3] + 8);
            if (access(p2, R_OK) != 0) {
                fprintf(stderr, "tcmtrace-witness: 名单里的副本目录里还没有账本 / %s line %u: %s holds no ledger to read (start "
                                "'tcmtraced follow' into it first)\n",
                        path, lineno, w[3] + 8);
                goto bad;
            }
            snprintf(l->replica, sizeof l->replica, "%s", w[3] + 8);
        }
    }
    free(text);
    return ls;
bad:
    free(text);
    free(ls);
    return NULL;
}

/* ---- the state: per origin, size(8) || root(32) || the cosigned checkpoint note ----------- */

static int state_open(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/state.mdb", dir);
    MDB_txn *txn;
    int rc = mdb_env_create(&W.env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(W.env, (size_t)1 << 30);
    if (rc == 0)
        rc = mdb_env_open(W.env, path, MDB_NOSUBDIR, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(W.env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &W.db);
        rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    }
    if (rc != 0)
        fprintf(stderr, "tcmtrace-witness: 见证状态库打不开 / %s: %s\n", path, mdb_strerror(rc));
    return rc == 0;
}

/* ---- answers ------------------------------------------------------------------------------ */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 429 || status == 503)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* A refusal: a stable code and a sentence, as text. */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *code,
                              const char *fmt, ...)
{
    char msg[640];
    int n = snprintf(msg, sizeof msg, "%s: ", code);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof msg - 2)
        n = (int)sizeof msg - 2;
    msg[n++] = '\n';
    msg[n] = '\0';
    return answer(c, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

/* The signature lines of `note` (after `text_len`) that a key of `l` made, appended to out. */
static size_t keep_log_lines(const char *note, size_t len, size_t text_len, const wlog *l,
                             char *out, size_t cap)
{
    size_t n = 0;
    const char *p = note + text_len + 1, *end = note + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(nl - p) + 1;
        char *one = malloc(text_len + 1 + ll);
        if (one != NULL) {
            memcpy(one, note, text_len + 1);
            memcpy(one + text_len + 1, p, ll);
            if (tt_note_verify((tt_bytes){text_len + 1 + ll, (uint8_t *)one}, l->key, l->nkey,
                               NULL, NULL) == TT_OK &&
                n + ll < cap) {
                memcpy(out + n, p, ll);
                n += ll;
            }
            free(one);
        }
        p = nl + 1;
    }
    return n;
}

/* Replicas the witness reads (opened read-only once, kept): a follower's directory each. */
static struct {
    pthread_mutex_t lock;
    size_t n;
    char dir[16][PATH_MAX];
    tt_ledger *l[16];
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

static tt_ledger *replica_of(const char *dir)
{
    pthread_mutex_lock(&R.lock);
    tt_ledger *l = NULL;
    for (size_t i = 0; i < R.n && !l; i++)
        if (strcmp(R.dir[i], dir) == 0)
            l = R.l[i];
    if (l == NULL && R.n < 16 && tt_ledger_open(dir, TT_LEDGER_RDONLY, &l, NULL) == TT_OK) {
        snprintf(R.dir[R.n], sizeof R.dir[R.n], "%s", dir);
        R.l[R.n++] = l;
    }
    pthread_mutex_unlock(&R.lock);
    return l;
}

/* 0 when the replica holds the checkpoint's tree (it replayed every entry of it through the
 * rules), else the number of entries it holds (and *differs when it holds another tree). */
static uint64_t replayed(const char *dir, const tt_checkpoint *cp, int *differs)
{
    *differs = 0;
    tt_ledger *l = replica_of(dir);
    uint64_t size = 0;
    uint8_t root[TT_HASH_SIZE];
    if (l == NULL || tt_ledger_head(l, &size, NULL, NULL) != TT_OK)
        return 1;
    if (size < cp->size)
        return size ? size : 1;
    if (cp->size > 0 && tt_ledger_root(l, cp->size, root, NULL) == TT_OK &&
        memcmp(root, cp->root, TT_HASH_SIZE) != 0) {
        *differs = 1;
        return size;
    }
    /* and the state map root it asserts is the one the replica's replay gave */
    if (!cp->has_state) {
        *differs = 2;
        return size;
    }
    if (tt_statemap_root(l, cp->size, root, NULL) != TT_OK)
        return size; /* not replayed to exactly that size: a later checkpoint will be */
    if (memcmp(root, cp->state_root, TT_HASH_SIZE) != 0) {
        *differs = 3;
        return size;
    }
    return 0;
}

static enum MHD_Result add_checkpoint(struct MHD_Connection *c, const char *body, size_t len,
                                      const char *addr)
{
    tt_addcp req;
    tt_error err;
    if (tt_addcp_parse(body, len, &req, &err) != TT_OK)
        return refuse(c, 400, "malformed", "%s", err.message);
    const char *nl = memchr(req.note, '\n', req.note_len);
    if (nl == NULL || nl == req.note || (size_t)(nl - req.note) > TT_NOTE_NAME_MAX)
        return refuse(c, 400, "malformed", "the checkpoint has no origin line");
    char origin[TT_NOTE_NAME_MAX + 1];
    snprintf(origin, sizeof origin, "%.*s", (int)(nl - req.note), req.note);

    pthread_rwlock_rdlock(&W.lock);
    wlog l = {0};
    int known = 0;
    for (size_t i = 0; i < W.logs->n && !known; i++)
        if (strcmp(W.logs->log[i].origin, origin) == 0) {
            l = W.logs->log[i];
            known = 1;
        }
    pthread_rwlock_unlock(&W.lock);
    if (!known)
        return refuse(c, 404, "unknown_log",
                      "this witness does not witness the log \"%.64s\"; its operator adds it to "
                      "the witness's list of logs",
                      origin);
    if (!tt_rate_take(&W.by_log, origin))
        return refuse(c, 429, "rate_limited",
                      "the log \"%.64s\" asks more often than this witness answers; try again in "
                      "a second",
                      origin);

    int found[MAX_LOG_KEYS];
    size_t text_len = 0;
    tt_err rc = tt_note_verify_each((tt_bytes){req.note_len, (const uint8_t *)req.note}, l.key,
                                    l.nkey, found, NULL, &text_len, &err);
    int signed_by_log = 0;
    for (size_t k = 0; k < l.nkey; k++)
        signed_by_log |= found[k];
    if (rc == TT_ERR_BAD_SIGNATURE)
        return refuse(c, 403, "bad_signature", "%s", err.message);
    if (rc != TT_OK)
        return refuse(c, 400, "malformed", "the checkpoint is not a signed note: %s", err.message);
    if (!signed_by_log)
        return refuse(c, 403, "unknown_key",
                      "the checkpoint carries no signature by the key this witness trusts for "
                      "\"%.64s\"",
                      origin);
    tt_checkpoint cp;
    if (tt_checkpoint_parse((tt_bytes){text_len, (const uint8_t *)req.note}, &cp, &err) != TT_OK)
        return refuse(c, 400, "malformed", "%s", err.message);
    if (req.old_size > cp.size)
        return refuse(c, 400, "malformed", "the old size %" PRIu64 " is larger than the checkpoint's %" PRIu64,
                      req.old_size, cp.size);
    uint8_t empty[TT_HASH_SIZE];
    tt_merkle_empty_root(empty);
    if (cp.size == 0 && memcmp(cp.root, empty, TT_HASH_SIZE) != 0)
        return refuse(c, 422, "bad_proof", "a checkpoint of size 0 must have the empty tree's root");
    if (req.old_size == 0 && req.nproof != 0)
        return refuse(c, 422, "bad_proof", "from size 0 the consistency proof must be empty");
    if (*l.replica) { /* the additional statement: the rules were replayed up to this size */
        int differs;
        uint64_t has = replayed(l.replica, &cp, &differs);
        static const char *const what[] = {
            "", "signs another tree than the one this witness's replica replayed",
            "carries no state map root, and this witness cosigns only a state it replayed",
            "carries another state map root than the one this witness's replica replayed"};
        if (differs) {
            say("REFUSED %s: the checkpoint of size %" PRIu64 " %s; the log signed:\n%.*s",
                origin, cp.size, what[differs], (int)req.note_len, req.note);
            return refuse(c, 422, "bad_proof", "the checkpoint of size %" PRIu64 " %s", cp.size,
                          what[differs]);
        }
        if (has)
            return refuse(c, 503, "not_replayed",
                          "this witness cosigns once its replica has replayed the log up to "
                          "size %" PRIu64 " (it has %" PRIu64 "); try again shortly",
                          cp.size, has);
    }

    /* the check against the record and the new record: one write transaction */
    MDB_txn *txn;
    int mrc = mdb_txn_begin(W.env, NULL, 0, &txn);
    if (mrc != 0)
        return refuse(c, 503, "unavailable", "the witness's state cannot be written: %s",
                      mdb_strerror(mrc));
    MDB_val k = {strlen(origin), origin}, v;
    uint64_t had = 0;
    uint8_t had_root[TT_HASH_SIZE] = {0};
    mrc = mdb_get(txn, W.db, &k, &v);
    if (mrc == 0 && v.mv_size >= 8 + TT_HASH_SIZE) {
        had = tt_get_u64be(v.mv_data);
        memcpy(had_root, (uint8_t *)v.mv_data + 8, TT_HASH_SIZE);
    }
    if (req.old_size != had) {
        mdb_txn_abort(txn);
        char size[32];
        int n = snprintf(size, sizeof size, "%" PRIu64 "\n", had);
        say("409 %s: old %" PRIu64 ", the witness has %" PRIu64 " (from %s)", origin, req.old_size,
            had, addr);
        return answer(c, 409, "text/x.tlog.size", size, (size_t)n);
    }
    if (had > 0) {
        tt_error perr;
        if (tt_merkle_verify_consistency(had, cp.size, (tt_bytes){TT_HASH_SIZE, had_root},
                                         (tt_bytes){TT_HASH_SIZE, cp.root},
                                         (tt_bytes){req.nproof * TT_HASH_SIZE, req.proof[0]},
                                         &perr) != TT_OK) {
            mdb_txn_abort(txn);
            /* a signed checkpoint inconsistent with one cosigned: evidence of a fork */
            say("REFUSED %s: size %" PRIu64 " is not consistent with the cosigned size %" PRIu64
                " (%s); the log signed:\n%.*s",
                origin, cp.size, had, perr.message, (int)req.note_len, req.note);
            return refuse(c, 422, "bad_proof",
                          "the checkpoint of size %" PRIu64 " is not consistent with the one of "
                          "size %" PRIu64 " this witness cosigned: %s",
                          cp.size, had, perr.message);
        }
    }
    char line[384];
    if (tt_cosig_sign((tt_bytes){text_len, (const uint8_t *)req.note}, W.name, W.key.sk,
                      (uint64_t)time(NULL), line, sizeof line, &err) != TT_OK) {
        mdb_txn_abort(txn);
        return refuse(c, 500, "internal", "%s", err.message);
    }
    size_t cap = 8 + TT_HASH_SIZE + req.note_len + strlen(line) + 1;
    char *rec = malloc(cap);
    if (rec == NULL) {
        mdb_txn_abort(txn);
        return refuse(c, 503, "nomem", "the witness is out of memory; try again");
    }
    tt_put_u64be((uint8_t *)rec, cp.size);
    memcpy(rec + 8, cp.root, TT_HASH_SIZE);
    size_t n = 8 + TT_HASH_SIZE;
    memcpy(rec + n, req.note, text_len + 1);
    n += text_len + 1;
    n += keep_log_lines(req.note, req.note_len, text_len, &l, rec + n, cap - n);
    memcpy(rec + n, line, strlen(line));
    n += strlen(line);
    v.mv_size = n;
    v.mv_data = rec;
    mrc = mdb_put(txn, W.db, &k, &v, 0);
    mrc = mrc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), mrc);
    free(rec);
    if (mrc != 0)
        return refuse(c, 503, "unavailable",
                      "the witness could not record the checkpoint (%s), so it does not cosign it",
                      mdb_strerror(mrc));
    say("cosigned %s at size %" PRIu64 " (from %" PRIu64 ", %s)", origin, cp.size, had, addr);
    return answer(c, 200, "text/plain; charset=utf-8", line, strlen(line));
}

static enum MHD_Result latest(struct MHD_Connection *c, const char *hash)
{
    char origin[TT_NOTE_NAME_MAX + 1] = "";
    pthread_rwlock_rdlock(&W.lock);
    for (size_t i = 0; i < W.logs->n; i++)
        if (strcmp(W.logs->log[i].origin_hash, hash) == 0)
            snprintf(origin, sizeof origin, "%s", W.logs->log[i].origin);
    pthread_rwlock_unlock(&W.lock);
    if (!*origin)
        return refuse(c, 404, "unknown_log", "this witness witnesses no log of that origin hash");
    MDB_txn *txn;
    if (mdb_txn_begin(W.env, NULL, MDB_RDONLY, &txn) != 0)
        return refuse(c, 503, "unavailable", "the witness's state cannot be read");
    MDB_val k = {strlen(origin), origin}, v;
    enum MHD_Result r;
    if (mdb_get(txn, W.db, &k, &v) == 0 && v.mv_size > 8 + TT_HASH_SIZE)
        r = answer(c, 200, "text/plain; charset=utf-8", (const char *)v.mv_data + 8 + TT_HASH_SIZE,
                   v.mv_size - 8 - TT_HASH_SIZE);
    else
        r = refuse(c, 404, "not_found", "this witness has not cosigned a checkpoint of \"%.64s\" yet",
                   origin);
    mdb_txn_abort(txn);
    return r;
}

typedef struct upload {
    size_t len;
    int too_large;
    char data[];
} upload;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_len, void **con_cls)
{
    (void)cls;
    (void)version;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[48];
    tt_rate_addr_key(ci ? ci->client_addr : NULL, addr);
    if (strcmp(method, "POST") == 0 && strcmp(url, "/add-checkpoint") == 0) {
        upload *u = *con_cls;
        if (u == NULL) {
            if (!tt_rate_take(&W.by_addr, addr))
                return refuse(c, 429, "rate_limited",
                              "too many requests from this address; try again in a second");
            u = calloc(1, sizeof *u + BODY_MAX + 1);
            if (u == NULL)
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        if (*data_len > 0) {
            if (u->len + *data_len > BODY_MAX)
                u->too_large = 1;
            else {
                memcpy(u->data + u->len, data, *data_len);
                u->len += *data_len;
            }
            *data_len = 0;
            return MHD_YES;
        }
        if (u->too_large)
            return refuse(c, 413, "too_large", "the body is larger than %d bytes", BODY_MAX);
        return add_checkpoint(c, u->data, u->len, addr);
    }
    if (*con_cls == NULL) { /* the first call of another request */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strlen(url) == 1 + 64 + 11 &&
        strcmp(url + 65, "/checkpoint") == 0) {
        char hash[65];
        memcpy(hash, url + 1, 64);
        hash[64] = '\0';
        return latest(c, hash);
    }
    if (strcmp(url, "/add-checkpoint") == 0)
        return refuse(c, 405, "method", "add-checkpoint is a POST");
    return refuse(c, 404, "not_found",
                  "this is a witness: POST /add-checkpoint, GET /<origin hash>/checkpoint");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    if (*con_cls != NULL && *con_cls != (void *)1)
        free(*con_cls);
    *con_cls = NULL;
}

/* ---- init and run ------------------------------------------------------------------------- */

static int cmd_init(const char *dir, const char *name, const char *pass_file, int unsealed)
{
    if (name == NULL || !tt_note_name_valid(name)) {
        fprintf(stderr, "tcmtrace-witness: init 需要 --name 名称 / init needs --name NAME, the witness's key name (a URL "
                        "without scheme, e.g. witness.cq-market.example/w1)\n");
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "tcmtrace-witness: 无法建立见证目录 / cannot make %s: %s\n", dir, strerror(errno));
        return 3;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/witness.key", dir);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "tcmtrace-witness: 这个目录里已经有见证方，什么都没有改动 / %s already holds a witness (witness.key); nothing was "
                        "changed\n",
                dir);
        return 3;
    }
    tt_keypair kp;
    tt_keypair_generate(&kp);
    tt_error err;
    tt_err rc;
    if (unsealed)
        rc = tt_key_save_secret(path, &kp, NULL, 0, TT_KDF_INTERACTIVE, &err);
    else {
        char *pass = tt_passphrase(pass_file, "TCMTRACE_WITNESS_PASSPHRASE",
                                   "见证方密钥的口令 / passphrase for the witness key: ", 1, &err);
        if (pass == NULL) {
            fprintf(stderr, "tcmtrace-witness: 见证方密钥没有生成 / %s\n", err.message);
            return 2;
        }
        rc = tt_key_save_secret(path, &kp, pass, strlen(pass), TT_KDF_INTERACTIVE, &err);
        tt_passphrase_free(pass);
    }
    if (rc != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 见证方密钥写不进去 / %s: %s\n", path, err.message);
        return 3;
    }
    tt_verifier v;
    tt_cosigner_init(&v, name, kp.pk, &err);
    tt_keypair_wipe(&kp);
    char vkey[TT_VKEY_MAX + 2];
    tt_verifier_format(&v, vkey, sizeof vkey - 1);
    strcat(vkey, "\n");
    snprintf(path, sizeof path, "%s/witness.vkey", dir);
    if (tt_write_file_new(path, vkey, strlen(vkey), 0644, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 见证方公钥写不进去 / %s: %s\n", path, err.message);
        return 3;
    }
    static const char logs[] =
        "# The logs this witness cosigns: log <origin> <vkey> [<url>]\n"
        "# e.g. log cq.jiefanglu.example/ledger cq.jiefanglu.example/ledger+1a2b3c4d+AX...\n";
    snprintf(path, sizeof path, "%s/logs", dir);
    if (access(path, F_OK) != 0 && tt_write_file_new(path, logs, strlen(logs), 0644, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 见证方公钥写不进去 / %s: %s\n", path, err.message);
        return 3;
    }
    printf("见证方已建立 / witness made in %s\n", dir);
    printf("  名称 name           %s\n", name);
    printf("  见证公钥 vkey       %s", vkey);
    printf("  下一步 next         add each log to %s/logs, then: tcmtrace-witness run %s\n", dir, dir);
    return 0;
}

static int load_key(const char *dir, const char *pass_file)
{
    char path[PATH_MAX + 32], *text;
    size_t len;
    tt_error err;
    snprintf(path, sizeof path, "%s/witness.vkey", dir);
    if (tt_read_file(path, 4096, &text, &len, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 见证方密钥打不开：请先运行 tcmtrace-witness init / %s: %s (run 'tcmtrace-witness init' first)\n", path,
                err.message);
        return 0;
    }
    text[strcspn(text, "\r\n")] = '\0';
    tt_verifier v;
    tt_err rc = tt_verifier_parse(text, &v, &err);
    free(text);
    if (rc != TT_OK || v.type != TT_SIG_COSIG) {
        fprintf(stderr, "tcmtrace-witness: 见证方公钥不对 / %s: %s\n", path,
                rc != TT_OK ? err.message : "not a cosigner's key (type 0x04)");
        return 0;
    }
    snprintf(W.name, sizeof W.name, "%s", v.name);
    snprintf(path, sizeof path, "%s/witness.key", dir);
    if (tt_secret_load(path, pass_file, "TCMTRACE_WITNESS_PASSPHRASE", &W.key, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-witness: 见证方密钥打不开 / %s: %s\n", path, err.message);
        return 0;
    }
    if (memcmp(W.key.pk, v.pk, TT_PK_SIZE) != 0) {
        fprintf(stderr, "tcmtrace-witness: 见证方密钥和公钥不是一对 / witness.key is not the key of witness.vkey\n");
        return 0;
    }
    return 1;
}

static int cmd_run(const char *dir, const char *listen, const char *pass_file, double log_rate,
                   double addr_rate)
{
    struct sockaddr_storage sa = {0};
    if (!tt_listen_parse(listen, &sa)) {
        fprintf(stderr,
                "tcmtrace-witness: --listen 要写成 主机:端口 / --listen takes HOST:PORT, e.g. 127.0.0.1:8090, not \"%s\"\n",
                listen);
        return 2;
    }
    snprintf(W.dir, sizeof W.dir, "%s", dir);
    if (!load_key(dir, pass_file))
        return 3;
    W.logs = read_logs(dir);
    if (W.logs == NULL || !state_open(dir))
        return 3;
    pthread_rwlock_init(&W.lock, NULL);
    tt_rate_init(&W.by_log, log_rate, log_rate * 2);
    tt_rate_init(&W.by_addr, addr_rate, addr_rate * 2);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, 4u, MHD_OPTION_CONNECTION_LIMIT, 512u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "tcmtrace-witness: 无法开始监听：请换一个 --listen 端口，或先停止占用它的程序 / cannot listen on %s: %s\n", listen, strerror(errno));
        return 3;
    }
    say("cosigning as %s for %zu log%s on %s", W.name, W.logs->n, W.logs->n == 1 ? "" : "s",
        listen);
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig != SIGHUP)
            break;
        wlogs *fresh = read_logs(dir);
        if (fresh == NULL) {
            say("SIGHUP: %s/logs has an error (above); the witness keeps its old list", dir);
            continue;
        }
        pthread_rwlock_wrlock(&W.lock);
        wlogs *old = W.logs;
        W.logs = fresh;
        pthread_rwlock_unlock(&W.lock);
        free(old);
        say("SIGHUP: %zu log%s", fresh->n, fresh->n == 1 ? "" : "s");
    }
    MHD_stop_daemon(d);
    for (size_t i = 0; i < R.n; i++)
        tt_ledger_close(R.l[i]);
    mdb_env_close(W.env);
    free(W.logs);
    tt_keypair_wipe(&W.key);
    say("stopped");
    return 0;
}

static double rate_arg(const char *s, const char *what)
{
    char *e;
    double r = strtod(s, &e);
    if (*e || !(r >= 0.1 && r <= 100000)) {
        fprintf(stderr, "tcmtrace-witness: 请求速率超出范围 / %s takes 0.1 to 100000 requests a second, not \"%s\"\n",
                what, s);
        exit(2);
    }
    return r;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 3;
    const char *name = NULL, *pass_file = NULL, *listen = "127.0.0.1:8090";
    int unsealed = 0;
    double log_rate = 50, addr_rate = 100;
    static const struct option opts[] = {
        {"name", 1, 0, 'n'},        {"passphrase-file", 1, 0, 'p'}, {"unsealed-key", 0, 0, 'u'},
        {"listen", 1, 0, 'l'},      {"log-rate", 1, 0, 'r'},        {"address-rate", 1, 0, 'a'},
        {"quiet", 0, 0, 'q'},       {"help", 0, 0, 'h'},            {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': name = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'u': unsealed = 1; break;
        case 'l': listen = optarg; break;
        case 'r': log_rate = rate_arg(optarg, "--log-rate"); break;
        case 'a': addr_rate = rate_arg(optarg, "--address-rate"); break;
        case 'q': W.quiet = 1; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return 2;
        }
    }
    int rest = argc - optind;
    char **a = argv + optind;
    if (rest == 2 && strcmp(a[0], "init") == 0)
        return cmd_init(a[1], name, pass_file, unsealed);
    if (rest == 2 && strcmp(a[0], "run") == 0)
        return cmd_run(a[1], listen, pass_file, log_rate, addr_rate);
    if (rest == 1 && strcmp(a[0], "init") != 0 && strcmp(a[0], "run") != 0)
        return cmd_run(a[0], listen, pass_file, log_rate, addr_rate);
    fputs(USAGE, stderr);
    return 2;
}
