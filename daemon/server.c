/*
 * server.c: sockets, threads and the write path of tcmtraced.
 *
 * The write path is built for throughput: signatures (the dominant cost)
 * are checked by a pool of workers in parallel; one writer appends every
 * verified event waiting in one LMDB transaction (group commit) and answers
 * each submit only after that transaction is on disk. A busy ledger thus
 * commits large groups and an idle one answers at once.
 */
#define _GNU_SOURCE
#include <curl/curl.h>

#include "daemon.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcmtrace/util.h"

void queue_init(queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->head = q->tail = NULL;
    q->len = 0;
    memset(&q->end, 0, sizeof q->end);
}

void queue_push(queue *q, job *j)
{
    pthread_mutex_lock(&q->lock);
    if (j == NULL) /* the end marker: pushed once, at shutdown */
        j = &q->end;
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

void queue_push_many(queue *q, job **jobs, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i + 1 < n; i++)
        jobs[i]->next = jobs[i + 1];
    jobs[n - 1]->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = jobs[0];
    else
        q->head = jobs[0];
    q->tail = jobs[n - 1];
    q->len += n;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static job *take(queue *q)
{
    job *j = q->head;
    q->head = j->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    return j;
}

static int is_end(queue *q, job *j)
{
    return j == &q->end;
}

job *queue_pop(queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL)
        pthread_cond_wait(&q->ready, &q->lock);
    job *j = take(q);
    pthread_mutex_unlock(&q->lock);
    if (is_end(q, j))
        return NULL;
    return j;
}

size_t queue_len(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t queue_pop_many(queue *q, job **out, size_t max, int *saw_end)
{
    size_t n = 0;
    *saw_end = 0;
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL)
        pthread_cond_wait(&q->ready, &q->lock);
    while (q->head && n < max) {
        job *j = take(q);
        if (is_end(q, j)) {
            *saw_end = 1;
            break;
        }
        out[n++] = j;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* The daemon's counters in a status answer. */
static void add_counters(void *ctx, json_t *r)
{
    server *s = ctx;
    json_object_set_new(r, "uptime_ms", json_integer((json_int_t)(tt_now_ms() - s->started_ms)));
    json_object_set_new(r, "requests", json_integer((json_int_t)atomic_load(&s->n_requests)));
    json_object_set_new(r, "appended", json_integer((json_int_t)atomic_load(&s->n_appended)));
    json_object_set_new(r, "refused", json_integer((json_int_t)atomic_load(&s->n_refused)));
    json_object_set_new(r, "commits", json_integer((json_int_t)atomic_load(&s->n_commits)));
    witnesses_status(r);
    if (s->cfg.ack_follower)
        standby_status(r);
}

static void job_free(job *j)
{
    if (j->frame)
        nn_freemsg(j->frame);
    if (j->req)
        json_decref(j->req);
    tt_event_free(&j->ev);
    free(j->body);
    free(j->stored);
    free(j->done.entry);
    free(j);
}

/* What a request is answered when its answer cannot be made for want of memory. */
static const char NOMEM_REPLY[] =
    "{\"ok\":false,\"error\":{\"code\":\"nomem\",\"message\":\"the daemon is out of memory; "
    "nothing was done\"}}";

/* Sends `len` bytes of `text` along the routing header `*control` (consumed). */
static void send_text(server *s, void **control, const char *text, size_t len)
{
    void *msg = nn_allocmsg(len, 0);
    if (msg == NULL) { /* the client times out, and is told to check */
        logf_(s, "WARN", "out of memory: a %zu-byte answer was not sent", len);
        nn_freemsg(*control);
        *control = NULL;
        return;
    }
    memcpy(msg, text, len);
    struct nn_iovec iov = {&msg, NN_MSG};
    struct nn_msghdr hdr = {&iov, 1, control, NN_MSG};
    if (nn_sendmsg(s->api, &hdr, 0) < 0) {
        nn_freemsg(msg);
        nn_freemsg(*control);
    }
    *control = NULL;
}

/* Sends `resp` (stolen; NULL when making it ran out of memory). */
static void send_reply(server *s, void **control, json_t *resp)
{
    size_t len = 0;
    char *text = resp ? tt_json_compact(resp, JSON_COMPACT, &len) : NULL;
    json_decref(resp);
    if (text == NULL)
        send_text(s, control, NOMEM_REPLY, sizeof NOMEM_REPLY - 1);
    else
        send_text(s, control, text, len);
    free(text);
}

void reply(server *s, job *j, json_t *resp)
{
    send_reply(s, &j->control, resp);
    job_free(j);
}

/* Answers a submit_many whose events are all answered, and frees it. */
static void bulk_reply(server *s, bulk *b)
{
    send_reply(s, &b->control, json_pack("{s:b, s:o}", "ok", 1, "results", b->results));
    free(b);
}

/* ---- receiving ------------------------------------------------------------ */

/* The next well-formed request for this worker, or NULL once the daemon
 * stops. Requests that are not JSON objects with an "op" are answered here. */
static job *receive(server *s)
{
    while (!atomic_load(&s->stop)) {
        void *body = NULL, *control = NULL;
        struct nn_iovec iov = {&body, NN_MSG};
        struct nn_msghdr hdr = {&iov, 1, &control, NN_MSG};
        int n = nn_recvmsg(s->api, &hdr, 0);
        if (n < 0) {
            if (nn_errno() == ETIMEDOUT || nn_errno() == EINTR || nn_errno() == EAGAIN)
                continue;
            if (nn_errno() == ETERM || nn_errno() == EBADF)
                break;
            logf_(s, "WARN", "receive failed: %s", nn_strerror(nn_errno()));
            continue;
        }
        atomic_fetch_add(&s->n_requests, 1);
        job *j = calloc(1, sizeof *j);
        if (j == NULL) {
            nn_freemsg(body);
            send_text(s, &control, NOMEM_REPLY, sizeof NOMEM_REPLY - 1);
            continue;
        }
        j->control = control;
        json_error_t jerr;
        tt_err rc = TT_OK;
        char msg[256];
        if ((size_t)n > TT_REQUEST_MAX) {
            rc = TT_ERR_TOO_LARGE;
            snprintf(msg, sizeof msg, "request is %d bytes; the limit is %d", n, TT_REQUEST_MAX);
        } else if (n >= 4 && memcmp(body, TT_FRAME_MAGIC, 4) == 0) {
            j->frame = body; /* a binary submit frame: the worker splits it */
            j->frame_len = (size_t)n;
            return j;
        } else if ((j->req = tt_json_load(body, (size_t)n, JSON_REJECT_DUPLICATES, &jerr)) ==
                   NULL) {
            rc = TT_ERR_MALFORMED;
            snprintf(msg, sizeof msg, "request is not valid JSON: %s", jerr.text);
        } else if (!json_is_object(j->req) || !json_is_string(json_object_get(j->req, "op"))) {
            rc = TT_ERR_MALFORMED;
            snprintf(msg, sizeof msg, "a request is a JSON object with a string \"op\"");
        }
        nn_freemsg(body);
        if (rc == TT_OK)
            return j;
        reply(s, j, tt_api_error(rc, msg));
    }
    return NULL;
}

/* ---- workers ------------------------------------------------------------------ */

/* Checks event i of a submit_many (JSON or frame) into the new job e. */
typedef tt_err (*check_fn)(server *s, job *src, const void *events, size_t i, job *e,
                           tt_error *err);

/*
 * submit_many: each event is checked here like a submit; the good ones go
 * to the writer, in order, as jobs of their own that answer through the
 * bulk; the request is answered once the last of them is.
 */
static void submit_events(server *s, job *j, size_t n, check_fn check, const void *events)
{
    bulk *b = calloc(1, sizeof *b);
    job **good = calloc(n, sizeof *good);
    int ok = b && good && (b->results = json_array()) != NULL;
    for (size_t i = 0; ok && i < n; i++) /* one answer per event, in place before any is queued */
        ok = json_array_append_new(b->results, json_null()) == 0;
    if (!ok) {
        if (b)
            json_decref(b->results);
        free(b);
        free(good);
        reply(s, j, NULL); /* nomem */
        return;
    }
    b->control = j->control;
    j->control = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        job *e = calloc(1, sizeof *e);
        tt_error err;
        tt_err rc =
            e ? check(s, j, events, i, e, &err)
              : tt_fail(&err, TT_ERR_NOMEM, "the daemon is out of memory; nothing was written");
        if (rc == TT_OK) {
            e->bulk = b;
            e->index = i;
            good[k++] = e;
        } else {
            atomic_fetch_add(&s->n_refused, 1);
            json_array_set_new(b->results, i, tt_api_error(err.code, err.message));
            if (e)
                job_free(e);
        }
    }
    job_free(j);
    b->pending = k;
    if (k == 0)
        bulk_reply(s, b);
    else /* from here on the bulk is the acker's */
        queue_push_many(&s->writes, good, k);
    free(good);
}

static tt_err check_json_event(server *s, job *src, const void *events, size_t i, job *e,
                               tt_error *err)
{
    (void)src;
    e->req = json_array_get((json_t *)events, i); /* borrowed while it is checked */
    tt_err rc =
        json_is_object(e->req)
            ? api_check_submit(&s->cfg, e, err)
            : tt_fail(err, TT_ERR_MALFORMED, "each event is an object with actor, sig and body");
    e->req = NULL;
    return rc;
}

static tt_err check_frame_event(server *s, job *src, const void *events, size_t i, job *e,
                                tt_error *err)
{
    (void)src;
    return api_check_frame_event(&s->cfg, (const frame_event *)events + i, e, err);
}

static void submit_many(server *s, job *j)
{
    json_t *events = json_object_get(j->req, "events");
    size_t n = json_array_size(events);
    if (!json_is_array(events) || n == 0) {
        reply(s, j,
              tt_api_error(TT_ERR_MALFORMED, "\"events\" must be an array of signed events, "
                                             "each an object with actor, sig and body"));
        return;
    }
    if (n > TT_SUBMIT_MANY_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "%zu events in one submit_many; the limit is %d", n,
                 TT_SUBMIT_MANY_MAX);
        reply(s, j, tt_api_error(TT_ERR_TOO_LARGE, msg));
        return;
    }
    submit_events(s, j, n, check_json_event, events);
}

/* A binary submit frame: one submit, or a submit_many, with no JSON to parse. */
static void submit_frame(server *s, job *j)
{
    static __thread frame_event ev[TT_SUBMIT_MANY_MAX];
    size_t n = 0;
    int many = 0;
    tt_error err;
    if (api_frame_parse(j->frame, j->frame_len, &many, ev, &n, &err) != TT_OK) {
        atomic_fetch_add(&s->n_refused, 1);
        reply(s, j, tt_api_error(err.code, err.message));
        return;
    }
    if (many) {
        submit_events(s, j, n, check_frame_event, ev);
        return;
    }
    tt_err rc = api_check_frame_event(&s->cfg, &ev[0], j, &err);
    nn_freemsg(j->frame); /* the event is copied */
    j->frame = NULL;
    if (rc != TT_OK) {
        atomic_fetch_add(&s->n_refused, 1);
        reply(s, j, tt_api_error(err.code, err.message));
        return;
    }
    queue_push(&s->writes, j);
}

#define READS_WAITING_MAX 1024

/* A read thread's caches hold about 13 MB when full (core/jcache.c): taken when it
 * starts, so that the first reads of a daemon just started do not wait on page faults
 * while the caches grow (about 20 a first trace, a quarter of its time, before). */
#define READ_WARM_BYTES (16u << 20)

static void *reader(void *arg)
{
    server *s = arg;
    job *j;
    tt_thread_name("tt-reader");
    tt_mem_warm(READ_WARM_BYTES);
    while ((j = queue_pop(&s->reads)) != NULL)
        reply(s, j, tt_api_read(&s->ops, j->req));
    queue_push(&s->reads, NULL); /* the end marker, for the next reader */
    return NULL;
}

static void *worker(void *arg)
{
    server *s = arg;
    job *j;
    tt_thread_name("tt-worker");
    while ((j = receive(s)) != NULL) {
        if (j->frame) {
            submit_frame(s, j);
            continue;
        }
        const char *op = json_string_value(json_object_get(j->req, "op"));
        if (strcmp(op, "submit_many") == 0) {
            submit_many(s, j);
            continue;
        }
        if (strcmp(op, "submit") != 0) {
            /* reads have threads of their own: a heavy one never holds a
             * worker that submits need; too many waiting are turned away */
            if (queue_len(&s->reads) >= READS_WAITING_MAX)
                reply(s, j,
                      tt_api_error(TT_ERR_BUSY, "the daemon has too many reads waiting; "
                                                "ask again in a moment"));
            else
                queue_push(&s->reads, j);
            continue;
        }
        tt_error err;
        if (api_check_submit(&s->cfg, j, &err) != TT_OK) {
            atomic_fetch_add(&s->n_refused, 1);
            reply(s, j, tt_api_error(err.code, err.message));
            continue;
        }
        queue_push(&s->writes, j);
    }
    return NULL;
}

/* ---- writer ---------------------------------------------------------------------- */

/* Whether anyone is subscribed to the feed: when nobody is, nothing is made for it. */
static int feed_wanted(server *s)
{
    return nn_get_statistic(s->feed, NN_STAT_CURRENT_CONNECTIONS) > 0;
}

static void publish(server *s, const tt_append *it)
{
    if (it->entry == NULL)
        return;
    char *b64 = malloc(tt_b64_len(it->entry_len)), hex[65], *msg;
    if (b64 == NULL) { /* the feed is best effort: a mirror catches up with the log */
        logf_(s, "WARN", "out of memory: entry %llu was not published",
              (unsigned long long)it->seq);
        return;
    }
    tt_b64((tt_bytes){it->entry_len, it->entry}, b64);
    tt_hex((tt_bytes){32, it->hash}, hex);
    int n = asprintf(&msg, "entry {\"seq\":%llu,\"hash\":\"%s\",\"entry\":\"%s\"}",
                     (unsigned long long)it->seq, hex, b64);
    if (n > 0)
        nn_send(s->feed, msg, (size_t)n, NN_DONTWAIT);
    free(msg);
    free(b64);
}

static void publish_checkpoint(server *s, int policy_changed)
{
    char *note, *msg;
    size_t len;
    uint64_t size = 0;
    if (tt_ledger_head(s->ledger, &size, NULL, NULL) == TT_OK)
        witnesses_notify(size, policy_changed);
    if (!feed_wanted(s) || tt_ledger_checkpoint(s->ledger, UINT64_MAX, &note, &len, NULL) != TT_OK)
        return;
    int n = asprintf(&msg, "checkpoint %s", note);
    if (n > 0)
        nn_send(s->feed, msg, (size_t)n, NN_DONTWAIT);
    free(msg);
    free(note);
}

static void commit_group(server *s, job **jobs, size_t n, tt_append *items, const uint8_t **bodies,
                         tt_event *events)
{
    int feed = feed_wanted(s); /* the entries' bytes are copied out only for subscribers */
    for (size_t i = 0; i < n; i++) {
        items[i] = (tt_append){.actor = jobs[i]->actor,
                               .sig = jobs[i]->sig,
                               .body = {jobs[i]->body_len, (uint8_t *)jobs[i]->body},
                               .sig_checked = 1,
                               .want_entry = feed,
                               .stored_body = jobs[i]->stored,
                               .stored_body_len = jobs[i]->stored_len};
        bodies[i] = items[i].body.data;
        events[i] = jobs[i]->ev;
    }
    tt_parsed parsed = {bodies, events, n, 0};
    tt_error err;
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    tt_err rc = tt_ledger_append(s->ledger, items, n, tt_now_ms(), tt_rules_apply, &parsed, &err);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != TT_OK)
        logf_(s, "ERROR", "a group of %zu events was not written: %s", n, err.message);
    size_t ok = 0;
    uint64_t first = 0, size = 0;
    for (size_t i = 0; i < n; i++) {
        /* the result (a failed group gives each item its error) and the entry copy */
        jobs[i]->done = items[i];
        jobs[i]->group_end = 0;
        if (rc == TT_OK && items[i].result.code == TT_OK) {
            if (ok++ == 0)
                first = items[i].seq;
            size = items[i].seq + 1;
        }
    }
    if (ok) {
        jobs[n - 1]->group_end = 1;
        atomic_fetch_add(&s->n_appended, ok);
        atomic_fetch_add(&s->n_commits, 1);
    }
    atomic_fetch_add(&s->n_refused, n - ok);
    queue_push_many(&s->acks, jobs, n);
    if (ok) {
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        double cpu =
            (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
        logf_(s, "INFO",
              "committed %zu event%s (seq %llu-%llu) in %.1f ms (%.1f ms CPU); size %llu", ok,
              ok == 1 ? "" : "s", (unsigned long long)first, (unsigned long long)(size - 1), ms,
              cpu, (unsigned long long)size);
    }
}

/* Answers each submit of a committed group, in order, and publishes. */
static void *acker(void *arg)
{
    server *s = arg;
    job *j;
    int policy_changed = 0;
    tt_thread_name("tt-acker");
    while ((j = queue_pop(&s->acks)) != NULL) {
        tt_append *it = &j->done;
        int group_end = j->group_end;
        if (it->result.code == TT_OK && j->ev.type == TT_EV_WITNESSES)
            policy_changed = 1;
        /* ack_after = follower: no answer before the follower holds the entry */
        if (it->result.code == TT_OK && s->cfg.ack_follower && !standby_wait(it->seq + 1))
            it->result = (tt_error){TT_ERR_NOT_REPLICATED,
                                    "the event is written here, but the standby follower does "
                                    "not hold it yet"};
        json_t *answer;
        if (it->result.code == TT_OK) {
            char hex[65];
            tt_hex((tt_bytes){32, it->hash}, hex);
            publish(s, it);
            if (j->bulk == NULL) { /* made without the heap: a written event is never "nomem" */
                char text[192];
                int len =
                    snprintf(text, sizeof text,
                             "{\"ok\":true,\"seq\":%llu,\"hash\":\"%s\",\"time_ms\":%llu}",
                             (unsigned long long)it->seq, hex, (unsigned long long)it->time_ms);
                send_text(s, &j->control, text, (size_t)len);
                job_free(j);
                if (group_end) {
                    publish_checkpoint(s, policy_changed);
                    policy_changed = 0;
                }
                continue;
            }
            answer = json_pack("{s:b, s:I, s:s, s:I}", "ok", 1, "seq", (json_int_t)it->seq, "hash",
                               hex, "time_ms", (json_int_t)it->time_ms);
        } else {
            if (!s->cfg.quiet)
                logf_(s, "INFO", "refused %s: %s", tt_err_name(it->result.code),
                      it->result.message);
            answer = tt_api_error(it->result.code, it->result.message);
        }
        bulk *b = j->bulk;
        if (b == NULL) {
            reply(s, j, answer);
        } else {
            json_array_set_new(b->results, j->index, answer);
            job_free(j);
            if (--b->pending == 0)
                bulk_reply(s, b);
        }
        if (group_end) {
            publish_checkpoint(s, policy_changed);
            policy_changed = 0;
        }
    }
    return NULL;
}

static void *writer(void *arg)
{
    server *s = arg;
    int end = 0;
    tt_thread_name("tt-writer");
    while (!end) {
        size_t n = queue_pop_many(&s->writes, s->w.jobs, (size_t)s->cfg.batch_max, &end);
        if (n)
            commit_group(s, s->w.jobs, n, s->w.items, s->w.bodies, s->w.events);
    }
    return NULL;
}

static void free_buffers(server *s, pthread_t *workers)
{
    free(s->w.jobs);
    free(s->w.items);
    free(s->w.bodies);
    free(s->w.events);
    free(workers);
}

/* ---- start and stop ---------------------------------------------------------------- */

static tt_err load_identity(server *s, tt_error *err)
{
    char path[4096];
    tt_err rc = tt_api_init(&s->ops, s->ledger, err);
    if (rc != TT_OK)
        return tt_fail(err, TT_ERR_NOT_FOUND,
                       "%s is not an initialised ledger; run 'tcmtraced init' first", s->cfg.dir);
    s->ops.status = add_counters;
    s->ops.status_ctx = s;
    /* never serve or sign from derived state the rules did not write */
    uint64_t t0 = tt_now_ms();
    rc = tt_state_check(s->ledger, err);
    if (rc == TT_ERR_NOT_FOUND) { /* a ledger from before the digest: record it once */
        logf_(s, "INFO", "recording the digest of the derived state for the first time");
        rc = tt_state_digest_record(s->ledger, err);
    }
    if (rc != TT_OK)
        return rc;
    logf_(s, "INFO", "derived state checked against its digest in %llu ms",
          (unsigned long long)(tt_now_ms() - t0));
    snprintf(path, sizeof path, "%s/log.key", s->cfg.dir);
    tt_keypair kp;
    rc = tt_secret_load(path, s->cfg.passphrase_file, "TCMTRACE_LOG_PASSPHRASE", &kp, err);
    if (rc == TT_ERR_BAD_PASSPHRASE && strstr(err->message, "is needed"))
        return tt_fail(err, rc,
                       "the log key is sealed: give --log-passphrase-file FILE (or "
                       "log_passphrase_file in tcmtraced.conf), set TCMTRACE_LOG_PASSPHRASE, or "
                       "run on a terminal");
    if (rc != TT_OK)
        return rc;
    tt_verifier v;
    if (tt_verifier_parse(s->ops.vkey, &v, err) != TT_OK || memcmp(v.pk, kp.pk, 32) != 0) {
        tt_keypair_wipe(&kp);
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s is not the key of this log (%s)", path,
                       s->ops.vkey);
    }
    rc = tt_ledger_set_signer(s->ledger, s->ops.origin, &kp, err);
    s->cfg.origin = s->ops.origin;
    tt_keypair_wipe(&kp);
    return rc;
}

static int bind_sockets(server *s)
{
    char url[4200];
    /* Accept up to 4x the limit so that an oversized request gets a
     * too_large answer; beyond that nanomsg drops the connection. */
    int maxsize = 4 * TT_REQUEST_MAX, timeout = 200;
    s->api = nn_socket(AF_SP_RAW, NN_REP);
    s->feed = nn_socket(AF_SP, NN_PUB);
    if (s->api < 0 || s->feed < 0)
        return -1;
    nn_setsockopt(s->api, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof maxsize);
    nn_setsockopt(s->api, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof timeout);
    snprintf(url, sizeof url, "ipc://%s/api.sock", s->cfg.dir);
    if (nn_bind(s->api, url) < 0) {
        logf_(s, "ERROR", "cannot listen on %s: %s", url, nn_strerror(nn_errno()));
        return -1;
    }
    logf_(s, "INFO", "API on %s", url);
    tt_error err;
    if (s->cfg.tcp && tcp_start(s, &err) != 0) {
        logf_(s, "ERROR", "%s", err.message);
        return -1;
    }
    snprintf(url, sizeof url, "ipc://%s/feed.sock", s->cfg.dir);
    if (nn_bind(s->feed, url) < 0) {
        logf_(s, "ERROR", "cannot publish on %s: %s", url, nn_strerror(nn_errno()));
        return -1;
    }
    logf_(s, "INFO", "feed on %s", url);
    return 0;
}

static void *signal_waiter(void *arg)
{
    server *s = arg;
    sigset_t set;
    int sig = 0;
    tt_thread_name("tt-signals");
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    logf_(s, "INFO", "%s: finishing what was received, then stopping",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&s->stop, 1);
    return NULL;
}

int server_run(config *cfg)
{
    server s = {.cfg = *cfg};
    tt_error err;
    tt_mem_keep(); /* once, before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (tt_ledger_open(cfg->dir, 0, &s.ledger, &err) != TT_OK) {
        logf_(&s, "ERROR", "%s", err.message);
        return 1;
    }
    if (load_identity(&s, &err) != TT_OK) {
        logf_(&s, "ERROR", "%s", err.message);
        tt_ledger_close(s.ledger);
        return 1;
    }
    if (bind_sockets(&s) != 0) {
        tt_ledger_close(s.ledger);
        return 1;
    }
    uint64_t size = 0;
    tt_ledger_head(s.ledger, &size, NULL, NULL);
    logf_(&s, "INFO", "ledger %s (%s), %llu entries, %d verification threads, %d read threads",
          s.ops.origin, cfg->dir, (unsigned long long)size, cfg->threads, cfg->read_threads);
    s.started_ms = tt_now_ms();
    json_object_seed(0); /* jansson's hash seed, before any thread could race to make it */
    queue_init(&s.writes);
    queue_init(&s.acks);
    queue_init(&s.reads);
    size_t max = (size_t)cfg->batch_max;
    pthread_t sigt, wr, ack, *workers = calloc((size_t)cfg->threads, sizeof(pthread_t));
    pthread_t *readers = calloc((size_t)cfg->read_threads, sizeof(pthread_t));
    s.w.jobs = calloc(max, sizeof *s.w.jobs);
    s.w.items = calloc(max, sizeof *s.w.items);
    s.w.bodies = calloc(max, sizeof *s.w.bodies);
    s.w.events = calloc(max, sizeof *s.w.events);
    if (!workers || !readers || !s.w.jobs || !s.w.items || !s.w.bodies || !s.w.events) {
        free(readers);
        logf_(&s, "ERROR", "out of memory for %d threads and groups of %d events", cfg->threads,
              cfg->batch_max);
        free_buffers(&s, workers);
        nn_close(s.api);
        nn_close(s.feed);
        tt_ledger_close(s.ledger);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    witnesses_start(&s);
    if (cfg->ack_follower)
        standby_start(&s);
    pthread_create(&sigt, NULL, signal_waiter, &s);
    pthread_create(&ack, NULL, acker, &s);
    pthread_create(&wr, NULL, writer, &s);
    for (int i = 0; i < cfg->read_threads; i++)
        pthread_create(&readers[i], NULL, reader, &s);
    for (int i = 0; i < cfg->threads; i++)
        pthread_create(&workers[i], NULL, worker, &s);
    /* Shutdown: the workers stop taking requests and finish the one each
     * has; then the write and answer queues are drained in order behind an
     * end marker, so every request received is answered and every
     * acknowledged event is on disk before the ledger closes. */
    for (int i = 0; i < cfg->threads; i++)
        pthread_join(workers[i], NULL);
    tcp_stop();
    queue_push(&s.reads, NULL); /* every read received is answered first */
    for (int i = 0; i < cfg->read_threads; i++)
        pthread_join(readers[i], NULL);
    free(readers);
    if (!atomic_load(&s.stop))
        pthread_kill(sigt, SIGTERM); /* let the signal thread end too */
    queue_push(&s.writes, NULL);
    pthread_join(wr, NULL);
    queue_push(&s.acks, NULL);
    pthread_join(ack, NULL);
    pthread_join(sigt, NULL);
    witnesses_stop();
    if (cfg->ack_follower)
        standby_stop();
    curl_global_cleanup();
    tt_ledger_head(s.ledger, &size, NULL, NULL);
    logf_(&s, "INFO", "stopped cleanly: %llu entries, %llu appended and %llu refused this run",
          (unsigned long long)size, (unsigned long long)atomic_load(&s.n_appended),
          (unsigned long long)atomic_load(&s.n_refused));
    nn_close(s.api);
    nn_close(s.feed);
    tt_ledger_close(s.ledger);
    free_buffers(&s, workers);
    return 0;
}
