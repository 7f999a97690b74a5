/*
 * follow.c: tcmtraced follow URL DIR — keeps DIR a verified replica of the
 * ledger that tcmtrace-web serves at URL, read as C2SP tlog-tiles.
 *
 * Each round: the log's checkpoint, its signature checked with the trusted
 * log key (and, once the replica holds a witness policy, its cosignatures
 * against it); the entry bundles from the replica's size up to it, written
 * to a scratch file while their leaf hashes extend the replica's own Merkle
 * tree, whose root must be the checkpoint's (so the checkpoint extends what
 * the replica has, and the entries are the ones it signs); then the entries
 * appended through the rules, as audit replays them, each checked to come
 * out byte for byte as the log has it. Entries, tree and derived state are
 * the replica's own. A log that rewrites, forks or serves a bad entry stops
 * the follower with a sentence naming it; what the replica had is kept.
 * A restart continues from the replica's size.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "tcmtrace/util.h"

static const char FOLLOW_USAGE[] =
    "usage: tcmtraced follow URL DIR [--log-key VKEY|FILE] [--interval MS] [--once] [--quiet]\n"
    "Keeps DIR a verified replica of the ledger tcmtrace-web serves at URL (its base URL,\n"
    "e.g. https://trace.cq-market.example/cq): every signature, the hash chain, the Merkle\n"
    "tree against the log's signed (and witnessed) checkpoints, and the rules replayed.\n"
    "--log-key is the log's verifier key, needed when DIR is new. --once stops once caught\n"
    "up. Serve the replica with tcmtrace-web DIR. Exit: 0 stopped, 2 usage, 3 unreachable\n"
    "or a local file, 4 the log misbehaved (said how; the replica keeps what it had).\n";

#define MAX_BODY (64u << 20)

static volatile sig_atomic_t stop_now;
static void on_signal(int sig)
{
    (void)sig;
    stop_now = 1;
}

typedef struct fetched {
    uint8_t *data;
    size_t len, cap;
} fetched;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    fetched *f = ctx;
    size_t len = size * n;
    if (f->len + len > MAX_BODY)
        return 0;
    if (f->len + len + 1 > f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 65536;
        while (cap < f->len + len + 1)
            cap *= 2;
        uint8_t *d = realloc(f->data, cap);
        if (d == NULL)
            return 0;
        f->data = d;
        f->cap = cap;
    }
    memcpy(f->data + f->len, p, len);
    f->len += len;
    f->data[f->len] = 0;
    return len;
}

/* GETs url into f; 200 gives 0, else the status (or -1 with why in err). */
static long get(CURL *curl, const char *url, fetched *f, char *why, size_t cap)
{
    f->len = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        snprintf(why, cap, "%s: %s", url, curl_easy_strerror(cc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        snprintf(why, cap, "%s: HTTP %ld", url, status);
    return status == 200 ? 0 : status;
}

typedef struct follower {
    const char *url;
    tt_ledger *l;
    tt_verifier log;
    CURL *curl;
    int quiet;
    /* the entries of a round, as the log has them, to check what the rules make */
    tt_entry *want;
    uint8_t **want_bytes;
    uint64_t want_first;
    size_t nwant;
} follower;

static void say(const follower *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const follower *f, const char *fmt, ...)
{
    /* --quiet keeps the progress to itself, never why it stopped or waits */
    if (f->quiet && strncmp(fmt, "STOPPED", 7) != 0 && strncmp(fmt, "cannot", 6) != 0 &&
        strncmp(fmt, "waiting", 7) != 0)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s follow ", when);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The rules, replayed; first the entry the append made must be the log's own, byte for byte. */
static tt_err apply_checked(void *ctx, tt_txn *txn, const tt_entry *e, tt_error *err)
{
    follower *f = ctx;
    if (e->seq < f->want_first || e->seq - f->want_first >= f->nwant)
        return tt_fail(err, TT_ERR_BAD_SEQ, "entry #%" PRIu64 " was not expected", e->seq);
    const tt_entry *w = &f->want[e->seq - f->want_first];
    if (w->seq != e->seq || w->time_ms != e->time_ms || memcmp(w->prev, e->prev, TT_HASH_SIZE) ||
        w->version != e->version || w->body.size != e->body.size ||
        memcmp(w->body.data, e->body.data, e->body.size))
        return tt_fail(err, TT_ERR_BAD_PROOF,
                       "entry #%" PRIu64 " does not come out here as the log has it (its time "
                       "or its link to the entry before differ)",
                       e->seq);
    return tt_rules_apply(NULL, txn, e, err);
}

/* Signatures verified on every core before the append (which then need not): the serial
 * writer spends its time on the rules and the store, not on Ed25519. */
typedef struct verify_job {
    tt_append *items;
    size_t from, to;
    const char *origin;
} verify_job;

static void *verify_part(void *arg)
{
    verify_job *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        j->items[i].sig_checked =
            tt_event_verify(j->origin, j->items[i].body, j->items[i].actor, j->items[i].sig) ==
            TT_OK; /* a bad one is left to the append, which refuses it by name */
    return NULL;
}

static void verify_all(tt_append *items, size_t n, const char *origin)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = cpus < 1 ? 1 : cpus > 8 ? 8 : (size_t)cpus;
    pthread_t t[8];
    verify_job jobs[8];
    for (size_t i = 0; i < k; i++) {
        jobs[i] = (verify_job){items, n * i / k, n * (i + 1) / k, origin};
        if (i > 0)
            pthread_create(&t[i], NULL, verify_part, &jobs[i]);
    }
    verify_part(&jobs[0]);
    for (size_t i = 1; i < k; i++)
        pthread_join(t[i], NULL);
}

/* A cosignature line's key ID (its base64's first 4 bytes), or 0 when it has none. */
static uint32_t line_key_id(const char *line, size_t len)
{
    const char *sp = memrchr(line, ' ', len);
    uint8_t raw[128];
    size_t got = 0;
    if (sp == NULL || tt_unb64(sp + 1, len - (size_t)(sp + 1 - line), 0, raw, sizeof raw, &got) !=
                          TT_OK ||
        got < 4)
        return 0;
    return tt_get_u32be(raw);
}

/* Keeps the log's checkpoint: its text and the log's signature as this replica's, the
 * other lines (cosignatures, checked by whoever reads them against the policy) beside. */
static tt_err keep_checkpoint(follower *f, uint64_t size, const char *note, size_t len,
                              size_t text_len, tt_error *err)
{
    char *mine = malloc(len + 1);
    if (mine == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    size_t n = text_len + 1;
    memcpy(mine, note, n);
    const char *p = note + text_len + 1, *end = note + len;
    size_t first_sig = n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(nl - p) + 1;
        char one[TT_NOTE_MAX];
        int by_log = 0;
        if (text_len + 1 + ll <= sizeof one) {
            memcpy(one, note, text_len + 1);
            memcpy(one + text_len + 1, p, ll);
            by_log = tt_note_verify((tt_bytes){text_len + 1 + ll, (uint8_t *)one}, &f->log, 1,
                                    NULL, NULL) == TT_OK;
        }
        if (by_log) {
            memcpy(mine + n, p, ll);
            n += ll;
        } else {
            uint32_t id = line_key_id(p, ll - 1);
            if (id)
                tt_ledger_put_cosig(f->l, size, id, p, ll, NULL);
        }
        p = nl + 1;
    }
    tt_err rc = n > first_sig ? tt_ledger_put_checkpoint(f->l, size, mine, n, err)
                              : tt_fail(err, TT_ERR_BAD_SIGNATURE, "no signature by the log");
    free(mine);
    return rc;
}

/* The replica's witness policy, if it holds one: the checkpoint must meet it. 1 met (or no
 * policy), 0 short (wait for the witnesses), -1 a bad cosignature. */
static int witnessed(follower *f, const char *note, size_t len, char *why, size_t cap)
{
    json_t *rec;
    if (tt_state_witnesses(f->l, &rec, NULL) != TT_OK)
        return 1;
    const char *text = json_string_value(json_object_get(rec, "policy"));
    tt_policy *p = malloc(sizeof *p);
    int cosigned[TT_POLICY_MAX], met = 0, r = 1;
    tt_error err;
    if (p && text && tt_policy_parse(text, strlen(text), p, &err) == TT_OK) {
        if (tt_policy_check(p, note, len, cosigned, NULL, &met, &err) != TT_OK) {
            snprintf(why, cap, "the checkpoint's cosignatures: %.200s", err.message);
            r = -1;
        } else if (!met) {
            unsigned n = 0;
            for (size_t i = 0; i < p->nwitness; i++)
                n += (unsigned)cosigned[i];
            snprintf(why, cap, "cosigned by %u witness%s, %u required", n, n == 1 ? "" : "es",
                     tt_policy_required(p));
            r = 0;
        }
    }
    free(p);
    json_decref(rec);
    return r;
}

/* One round; returns 0 (caught up with the checkpoint, or nothing new), 3 (unreachable: try
 * again), 4 (the log misbehaved: stop). */
static int round_once(follower *f, uint64_t *appended)
{
    char url[8192], why[512] = "";
    fetched note = {0}, bundle = {0};
    tt_error err;
    int ex = 3;
    FILE *scratch = NULL;
    *appended = 0;
    snprintf(url, sizeof url, "%s/log/checkpoint", f->url);
    if (get(f->curl, url, &note, why, sizeof why) != 0) {
        say(f, "cannot read the checkpoint: %s", why);
        goto done;
    }
    tt_checkpoint cp;
    size_t text_len;
    if (tt_checkpoint_open((tt_bytes){note.len, note.data}, &f->log, 1, &cp, &err) != TT_OK ||
        tt_note_split((tt_bytes){note.len, note.data}, &text_len, &err) != TT_OK) {
        say(f, "STOPPED: the checkpoint at %s does not verify with the log key: %s", url,
            err.message);
        ex = 4;
        goto done;
    }
    if (strcmp(cp.origin, f->log.name) != 0) {
        say(f, "STOPPED: the checkpoint is of log %s, not %s", cp.origin, f->log.name);
        ex = 4;
        goto done;
    }
    uint64_t have = 0;
    tt_ledger_head(f->l, &have, NULL, NULL);
    if (cp.size < have) {
        say(f, "STOPPED: the log signs a checkpoint of %" PRIu64 " entries, fewer than the %" PRIu64
               " this replica holds: it was rolled back or forked",
            cp.size, have);
        ex = 4;
        goto done;
    }
    tt_merkle_builder b;
    if (tt_ledger_builder(f->l, have, &b, &err) != TT_OK) {
        say(f, "cannot read the replica's tree: %s", err.message);
        goto done;
    }
    if (cp.size == have) {
        uint8_t root[TT_HASH_SIZE];
        tt_merkle_builder_root(&b, root);
        if (memcmp(root, cp.root, TT_HASH_SIZE) != 0) {
            say(f, "STOPPED: the log signs a checkpoint of %" PRIu64 " entries with another root "
                   "than the replica's: the log has forked",
                cp.size);
            ex = 4;
        } else {
            ex = 0;
        }
        goto done;
    }
    int w = witnessed(f, (const char *)note.data, note.len, why, sizeof why);
    if (w < 0) {
        say(f, "STOPPED: %s", why);
        ex = 4;
        goto done;
    }
    if (w == 0) {
        say(f, "waiting: the checkpoint of %" PRIu64 " entries is short of the witness policy (%s)",
            cp.size, why);
        ex = 0;
        goto done;
    }
    /* pass 1: the bundles, to a scratch file, their leaves extending the replica's tree */
    scratch = tmpfile();
    if (scratch == NULL) {
        say(f, "cannot make a scratch file: %s", strerror(errno));
        goto done;
    }
    uint64_t next = have;
    while (next < cp.size) {
        tt_tile t = {.entries = 1, .level = 0, .n = next / TT_TILE_WIDTH};
        uint64_t end = (t.n + 1) * TT_TILE_WIDTH;
        t.width = (unsigned)((end <= cp.size ? end : cp.size) - t.n * TT_TILE_WIDTH);
        char path[TT_TILE_PATH_MAX];
        tt_tile_path(&t, path);
        snprintf(url, sizeof url, "%s/log/tile/%s", f->url, path);
        if (get(f->curl, url, &bundle, why, sizeof why) != 0) {
            say(f, "cannot read entries: %s", why);
            goto done;
        }
        size_t off = 0;
        for (uint64_t k = t.n * TT_TILE_WIDTH; k < t.n * TT_TILE_WIDTH + t.width; k++) {
            if (off + 2 > bundle.len) {
                say(f, "STOPPED: the bundle %s ends before entry #%" PRIu64, path, k);
                ex = 4;
                goto done;
            }
            size_t el = (size_t)bundle.data[off] << 8 | bundle.data[off + 1];
            tt_entry e;
            if (off + 2 + el > bundle.len ||
                tt_entry_decode((tt_bytes){el, bundle.data + off + 2}, &e, &err) != TT_OK ||
                e.seq != k) {
                say(f, "STOPPED: entry #%" PRIu64 " of bundle %s does not decode as entry #%" PRIu64,
                    k, path, k);
                ex = 4;
                goto done;
            }
            if (k >= next) {
                uint8_t leaf[TT_HASH_SIZE];
                tt_hash out[65];
                size_t c;
                tt_entry_hash((tt_bytes){el, bundle.data + off + 2}, leaf);
                tt_merkle_builder_push(&b, leaf, out, &c);
                uint8_t len2[4];
                tt_put_u32be(len2, (uint32_t)el);
                if (fwrite(len2, 1, 4, scratch) != 4 ||
                    fwrite(bundle.data + off + 2, 1, el, scratch) != el) {
                    say(f, "cannot write the scratch file: %s", strerror(errno));
                    goto done;
                }
            }
            off += 2 + el;
        }
        next = t.n * TT_TILE_WIDTH + t.width;
        if (stop_now)
            goto done;
    }
    uint8_t root[TT_HASH_SIZE];
    tt_merkle_builder_root(&b, root);
    if (memcmp(root, cp.root, TT_HASH_SIZE) != 0) {
        say(f, "STOPPED: the entries %" PRIu64 " to %" PRIu64 " the log serves do not make the "
               "root its checkpoint of %" PRIu64 " signs (a forked log, or bad entries): nothing "
               "of them was kept",
            have, cp.size - 1, cp.size);
        ex = 4;
        goto done;
    }
    /* pass 2: through the rules, 256 at a time */
    rewind(scratch);
    size_t chunk = 16 * TT_TILE_WIDTH; /* entries a transaction: fewer syncs */
    f->want = calloc(chunk, sizeof *f->want);
    f->want_bytes = calloc(chunk, sizeof *f->want_bytes);
    tt_append *items = calloc(chunk, sizeof *items);
    if (!f->want || !f->want_bytes || !items) {
        free(items);
        say(f, "out of memory");
        goto done;
    }
    uint64_t seq = have;
    int origin_known = have > 0, v2 = 1;
    if (have > 0) { /* as the replica's genesis was signed */
        uint8_t *g = NULL;
        size_t gl;
        tt_entry ge;
        v2 = tt_ledger_entry(f->l, 0, &g, &gl, NULL) == TT_OK &&
             tt_entry_decode((tt_bytes){gl, g}, &ge, NULL) == TT_OK &&
             tt_event_verify(f->log.name, ge.body, ge.actor, ge.sig) == TT_OK;
        free(g);
    }
    while (seq < cp.size && !stop_now) {
        size_t n = 0;
        f->want_first = seq;
        for (; n < chunk && seq + n < cp.size; n++) {
            uint8_t len4[4];
            if (fread(len4, 1, 4, scratch) != 4)
                break;
            size_t el = tt_get_u32be(len4);
            f->want_bytes[n] = malloc(el);
            if (f->want_bytes[n] == NULL || fread(f->want_bytes[n], 1, el, scratch) != el ||
                tt_entry_decode((tt_bytes){el, f->want_bytes[n]}, &f->want[n], &err) != TT_OK)
                break;
            items[n] = (tt_append){.actor = f->want[n].actor,
                                   .sig = f->want[n].sig,
                                   .body = f->want[n].body,
                                   .at_ms = f->want[n].time_ms};
        }
        f->nwant = n;
        if (!origin_known && n > 0) {
            /* events name this ledger, unless its genesis was signed before they did */
            const tt_entry *g = &f->want[0];
            v2 = tt_event_verify(f->log.name, g->body, g->actor, g->sig) == TT_OK;
            tt_ledger_set_origin(f->l, v2 ? f->log.name : NULL, NULL);
            origin_known = 1;
        }
        verify_all(items, n, v2 ? f->log.name : NULL);
        tt_err rc = n ? tt_ledger_append(f->l, items, n, tt_now_ms(), apply_checked, f, &err)
                      : tt_fail(&err, TT_ERR_IO, "the scratch file ends early");
        size_t ok = 0;
        while (rc == TT_OK && ok < n && items[ok].result.code == TT_OK)
            ok++;
        for (size_t i = 0; i < n; i++)
            free(f->want_bytes[i]);
        if (rc != TT_OK || ok < n) {
            uint64_t bad = seq + ok;
            if (rc == TT_OK)
                say(f, "STOPPED: entry #%" PRIu64 " is refused by the rules replayed here (%s: %s); "
                       "the replica keeps its %" PRIu64 " entries",
                    bad, tt_err_name(items[ok].result.code), items[ok].result.message, bad);
            else
                say(f, "STOPPED: cannot append to the replica: %s", err.message);
            free(items);
            ex = rc == TT_OK ? 4 : 3;
            /* what was appended before it is kept; a checkpoint of it is the log's only if
             * it signed one of that size, which the replica does not have */
            goto done;
        }
        seq += n;
        *appended += n;
    }
    free(items);
    if (seq == cp.size && keep_checkpoint(f, cp.size, (const char *)note.data, note.len,
                                          text_len, &err) != TT_OK) {
        say(f, "STOPPED: the replica's tree at %" PRIu64 " is not the checkpoint's: %s", cp.size,
            err.message);
        ex = 4;
        goto done;
    }
    ex = 0;
done:
    if (scratch)
        fclose(scratch);
    free(f->want);
    free(f->want_bytes);
    f->want = NULL;
    f->want_bytes = NULL;
    free(note.data);
    free(bundle.data);
    return ex;
}

/* The trusted log key: a verifier key, or a file holding one. */
static int read_log_key(const char *arg, tt_verifier *v)
{
    char *text = NULL;
    size_t len;
    tt_error err;
    if (strchr(arg, '+') == NULL && tt_read_file(arg, 4096, &text, &len, &err) != TT_OK) {
        fprintf(stderr, "tcmtraced follow: --log-key 读不出来 / --log-key %s: %s\n", arg, err.message);
        return 0;
    }
    if (text)
        text[strcspn(text, "\r\n")] = '\0';
    int ok = tt_verifier_parse(text ? text : arg, v, &err) == TT_OK && v->type == TT_SIG_NOTE;
    if (!ok)
        fprintf(stderr, "tcmtraced follow: --log-key 不是账本的公钥 / --log-key is not a log's verifier key: %s\n",
                err.message);
    free(text);
    return ok;
}

int follow_main(int argc, char **argv)
{
    const char *key = NULL;
    long interval = 1000;
    int once = 0, quiet = 0;
    static const struct option opts[] = {{"log-key", 1, 0, 'k'}, {"interval", 1, 0, 'i'},
                                         {"once", 0, 0, 'o'},    {"quiet", 0, 0, 'q'},
                                         {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k': key = optarg; break;
        case 'i': interval = strtol(optarg, NULL, 10); break;
        case 'o': once = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(FOLLOW_USAGE, stdout); return 0;
        default: fputs(FOLLOW_USAGE, stderr); return 2;
        }
    }
    if (optind + 2 != argc || interval < 50 || interval > 3600000) {
        fputs(FOLLOW_USAGE, stderr);
        return 2;
    }
    follower f = {.url = argv[optind], .quiet = quiet};
    const char *dir = argv[optind + 1];
    size_t ul = strlen(f.url);
    if ((strncmp(f.url, "http://", 7) != 0 && strncmp(f.url, "https://", 8) != 0) || ul > 4000) {
        fprintf(stderr, "tcmtraced follow: 网址应是账本 http:// 或 https:// 的基础网址 / URL must be the ledger's http:// or https:// base URL\n");
        return 2;
    }
    char *base = strdup(f.url);
    if (base[ul - 1] == '/')
        base[ul - 1] = '\0';
    f.url = base;
    tt_error err;
    tt_verifier given;
    if (key && !read_log_key(key, &given)) {
        free(base);
        return 2;
    }
    int fresh = access(dir, F_OK) != 0;
    if (!fresh) {
        char p[4200];
        snprintf(p, sizeof p, "%s/data.mdb", dir);
        fresh = access(p, F_OK) != 0;
    }
    if (fresh && key == NULL) {
        fprintf(stderr, "tcmtraced follow: 新的副本目录要给出 --log-key（账本的公钥） / %s is new: give --log-key, the log's verifier key (its "
                        "log.vkey), so the replica knows whose signatures to trust\n",
                dir);
        free(base);
        return 2;
    }
    if (tt_ledger_open(dir, TT_LEDGER_CREATE, &f.l, &err) != TT_OK) {
        fprintf(stderr, "tcmtraced follow: 副本目录打不开 / %s: %s\n", dir, err.message);
        free(base);
        return 3;
    }
    char *origin = NULL, *vkey = NULL;
    size_t len;
    int ex = 0;
    if (tt_ledger_meta_get(f.l, "log_vkey", &vkey, &len, NULL) == TT_OK) {
        if (tt_verifier_parse(vkey, &f.log, &err) != TT_OK) {
            fprintf(stderr, "tcmtraced follow: 副本里记下的账本公钥读不出来 / %s: its log key does not parse: %s\n", dir,
                    err.message);
            ex = 3;
        } else if (key && (strcmp(given.name, f.log.name) || memcmp(given.pk, f.log.pk, 32))) {
            fprintf(stderr, "tcmtraced follow: 这个副本跟随的是另一个账本 / %s follows the log %s, not the one --log-key "
                            "names\n",
                    dir, f.log.name);
            ex = 2;
        }
    } else if (key) {
        f.log = given;
        char vk[TT_VKEY_MAX + 1];
        tt_verifier_format(&given, vk, sizeof vk);
        if (tt_ledger_meta_put(f.l, "origin", given.name, strlen(given.name), &err) != TT_OK ||
            tt_ledger_meta_put(f.l, "log_vkey", vk, strlen(vk), &err) != TT_OK) {
            fprintf(stderr, "tcmtraced follow: 副本目录打不开 / %s: %s\n", dir, err.message);
            ex = 3;
        }
        char path[4200], line[TT_VKEY_MAX + 2];
        snprintf(path, sizeof path, "%s/log.vkey", dir);
        snprintf(line, sizeof line, "%s\n", vk);
        if (ex == 0 && access(path, F_OK) != 0)
            tt_write_file_new(path, line, strlen(line), 0644, NULL);
    } else {
        fprintf(stderr, "tcmtraced follow: 这个目录里是账本，但不是副本 / %s is a ledger that is not a replica (no log key in "
                        "it): give --log-key\n",
                dir);
        ex = 2;
    }
    free(origin);
    free(vkey);
    f.curl = curl_easy_init();
    if (ex || f.curl == NULL) {
        if (f.curl)
            curl_easy_cleanup(f.curl);
        tt_ledger_close(f.l);
        free(base);
        return ex ? ex : 3;
    }
    curl_easy_setopt(f.curl, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(f.curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f.curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(f.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f.curl, CURLOPT_USERAGENT, "tcmtraced-follow");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t size = 0;
    tt_ledger_head(f.l, &size, NULL, NULL);
    if (size > 0) { /* as its genesis was signed: naming this ledger, or (legacy) not */
        uint8_t *g = NULL;
        size_t gl;
        tt_entry ge;
        int v2 = tt_ledger_entry(f.l, 0, &g, &gl, NULL) == TT_OK &&
                 tt_entry_decode((tt_bytes){gl, g}, &ge, NULL) == TT_OK &&
                 tt_event_verify(f.log.name, ge.body, ge.actor, ge.sig) == TT_OK;
        free(g);
        tt_ledger_set_origin(f.l, v2 ? f.log.name : NULL, NULL);
    }
    say(&f, "%s into %s (%s), from entry %" PRIu64, f.url, dir, f.log.name, size);
    uint64_t t0 = tt_now_ms();
    for (;;) {
        uint64_t n;
        ex = round_once(&f, &n);
        if (n) {
            tt_ledger_head(f.l, &size, NULL, NULL);
            say(&f, "%" PRIu64 " entries (+%" PRIu64 ", %.0f entries/s)", size, n,
                n * 1000.0 / (double)(tt_now_ms() - t0 + 1));
        }
        if (ex == 4 || stop_now || (once && ex == 0 && n == 0))
            break;
        if (once && ex == 3)
            break;
        if (n == 0) {
            for (long slept = 0; slept < interval && !stop_now; slept += 50)
                usleep(50000);
        }
        t0 = tt_now_ms();
    }
    curl_easy_cleanup(f.curl);
    tt_ledger_close(f.l);
    free(base);
    return stop_now ? 0 : ex;
}

static const char PROMOTE_USAGE[] =
    "usage: tcmtraced promote DIR --log-key-file FILE [--log-passphrase-file FILE]\n"
    "Makes the replica in DIR (kept by 'tcmtraced follow') the log's primary when the primary\n"
    "is lost: the log key is copied into DIR/log.key (as it is: sealed stays sealed) and a\n"
    "checkpoint of what the replica holds is signed. Then 'tcmtraced run DIR' continues the\n"
    "same log, and the witnesses cosign it only where it extends what they cosigned. The old\n"
    "primary must not run again. Exit: 0, 2 usage, 3 a file or key could not be used.\n";

int promote_main(int argc, char **argv)
{
    const char *keyfile = NULL, *passfile = NULL;
    static const struct option opts[] = {{"log-key-file", 1, 0, 'k'},
                                         {"log-passphrase-file", 1, 0, 'p'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k': keyfile = optarg; break;
        case 'p': passfile = optarg; break;
        case 'h': fputs(PROMOTE_USAGE, stdout); return 0;
        default: fputs(PROMOTE_USAGE, stderr); return 2;
        }
    }
    if (optind + 1 != argc || keyfile == NULL) {
        fputs(PROMOTE_USAGE, stderr);
        return 2;
    }
    const char *dir = argv[optind];
    char path[4200];
    snprintf(path, sizeof path, "%s/log.key", dir);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "tcmtraced promote: 这个目录里已有账本私钥：它是主库，不是副本 / %s holds a log key already: it is a primary, not a "
                        "replica; nothing was changed\n",
                dir);
        return 2;
    }
    tt_ledger *l;
    tt_error err;
    if (tt_ledger_open(dir, 0, &l, &err) != TT_OK) {
        fprintf(stderr, "tcmtraced promote: 副本目录打不开 / %s: %s%s\n", dir, err.message,
                err.code == TT_ERR_BUSY ? " (stop the follower first)" : "");
        return 3;
    }
    char *vkey = NULL;
    size_t len;
    tt_verifier v;
    tt_keypair kp;
    int ex = 0;
    if (tt_ledger_meta_get(l, "log_vkey", &vkey, &len, &err) != TT_OK ||
        tt_verifier_parse(vkey, &v, &err) != TT_OK) {
        fprintf(stderr, "tcmtraced promote: 这个目录不是副本 / %s is not a replica: %s\n", dir, err.message);
        ex = 2;
    } else if (tt_secret_load(keyfile, passfile, "TCMTRACE_LOG_PASSPHRASE", &kp, &err) != TT_OK) {
        fprintf(stderr, "tcmtraced promote: 账本私钥打不开 / %s: %s\n", keyfile, err.message);
        ex = 3;
    } else if (memcmp(kp.pk, v.pk, TT_PK_SIZE) != 0) {
        fprintf(stderr, "tcmtraced promote: 这把私钥不是这个副本所跟随账本的 / %s is not the key of the log %s this replica "
                        "follows; nothing was changed\n",
                keyfile, v.name);
        tt_keypair_wipe(&kp);
        ex = 2;
    } else {
        char *bytes = NULL;
        size_t blen;
        uint64_t size = 0;
        tt_ledger_head(l, &size, NULL, NULL);
        if (tt_read_file(keyfile, 1 << 16, &bytes, &blen, &err) != TT_OK ||
            tt_write_file_new(path, bytes, blen, 0600, &err) != TT_OK ||
            tt_ledger_set_signer(l, v.name, &kp, &err) != TT_OK ||
            (size > 0 && tt_ledger_sign_checkpoint(l, &err) != TT_OK)) {
            fprintf(stderr, "tcmtraced promote: 副本没有转为主库 / %s\n", err.message);
            ex = 3;
        }
        free(bytes);
        tt_keypair_wipe(&kp);
        if (ex == 0) {
            char conf[4200];
            snprintf(conf, sizeof conf, "%s/tcmtraced.conf", dir);
            char *abs = passfile ? realpath(passfile, NULL) : NULL;
            if (abs && access(conf, F_OK) != 0) {
                char line[4400];
                int n = snprintf(line, sizeof line,
                                 "# written by 'tcmtraced promote': the log key's passphrase\n"
                                 "log_passphrase_file = %s\n",
                                 abs);
                tt_write_file_new(conf, line, (size_t)n, 0600, NULL);
            }
            free(abs);
            printf("已提升为主账本 / promoted: %s continues the log %s at %llu entries\n"
                   "  启动 start          tcmtraced run %s\n"
                   "  旧主机不得再运行 / the old primary must not run again\n",
                   dir, v.name, (unsigned long long)size, dir);
        }
    }
    free(vkey);
    tt_ledger_close(l);
    return ex;
}
