/*
 * witnesses.c: tcmtraced asks the witnesses of the ledger's policy (its
 * ledger.witnesses entry) to cosign each new checkpoint (C2SP tlog-witness
 * add-checkpoint), one thread a witness, all in parallel: bounded timeouts,
 * retries with backoff, and a witness that is down never stalls the writer
 * (the writer only raises a size and signals). Each cosignature is checked
 * against the witness's key before it is kept in the ledger (cosigs).
 *
 * A new ledger.witnesses entry restarts the threads with its policy.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "tcmtrace/util.h"

#define ASK_TIMEOUT_MS 3000
#define CONNECT_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

typedef struct peer {
    struct witnesses *ws;
    size_t index;
    tt_verifier key;
    char label[TT_POLICY_LABEL];
    char url[TT_POLICY_URL + 32];
    pthread_t thread;
    /* under ws->lock */
    uint64_t cosigned;    /* the largest size the witness cosigned for us, as far as we know */
    uint64_t asked_ms;    /* when it was last asked */
    uint64_t ok_ms;       /* when it last cosigned */
    unsigned failures;    /* in a row */
    char last_error[256]; /* the last failure, for status */
} peer;

typedef struct witnesses {
    server *s;
    pthread_mutex_t lock;
    pthread_cond_t more;   /* a new checkpoint, a reload, or stop */
    uint64_t latest;       /* the latest checkpoint's size */
    int stop_peers, stop;  /* the peers of this policy end; everything ends */
    int reload;            /* a new policy is in the ledger */
    uint64_t policy_seq;   /* the entry of the policy in force, 0 for none */
    tt_policy *policy;
    size_t npeer;
    peer peer[TT_POLICY_MAX];
    pthread_t manager;
} witnesses;

static witnesses W;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t answer_gather(char *p, size_t size, size_t n, void *ctx)
{
    answer_buf *b = ctx;
    size_t len = size * n;
    if (b->len + len >= sizeof b->data)
        return 0; /* a witness's answer is a few lines: more is not one */
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* Keeps each of the witness's lines that verifies on `note`; returns how many. */
static int keep_cosigs(peer *p, uint64_t size, const char *note, size_t note_len,
                       const char *lines, char *why, size_t why_cap)
{
    tt_error err = {0};
    int kept = 0;
    const char *q = lines;
    while (*q) {
        const char *nl = strchr(q, '\n');
        if (nl == NULL)
            break;
        size_t ll = (size_t)(nl - q) + 1;
        char *one = malloc(note_len + ll + 1);
        if (one == NULL)
            break;
        memcpy(one, note, note_len);
        memcpy(one + note_len, q, ll);
        int found = 0;
        if (tt_note_verify_each((tt_bytes){note_len + ll, (uint8_t *)one}, &p->key, 1, &found,
                                NULL, NULL, &err) == TT_OK &&
            found) {
            if (tt_ledger_put_cosig(W.s->ledger, size, p->key.key_id, q, ll, &err) == TT_OK)
                kept++;
            else
                snprintf(why, why_cap, "its cosignature could not be kept: %.180s", err.message);
        } else if (err.code == TT_ERR_BAD_SIGNATURE) {
            snprintf(why, why_cap, "it answered a cosignature that does not verify");
        }
        free(one);
        q = nl + 1;
    }
    return kept;
}

/* One add-checkpoint round with peer p for the latest checkpoint; 1 when it cosigned,
 * 0 to try again at once (it told its size), -1 on a failure (in p->last_error), -2 when
 * it is busy or has not replayed that far yet (503, 429: again shortly, not backed off).
 * With `refresh`, a checkpoint it cosigned already is sent again (old = its size, no proof),
 * for a cosignature of today's time: clients take an old one as an old view of the log. */
static int ask(peer *p, CURL *curl, int refresh)
{
    tt_error err;
    char *note = NULL, *body = NULL;
    size_t note_len, body_len;
    char why[256] = "";
    int result = -1;
    if (tt_ledger_checkpoint(W.s->ledger, UINT64_MAX, &note, &note_len, &err) != TT_OK) {
        snprintf(why, sizeof why, "no checkpoint: %.200s", err.message);
        goto done;
    }
    size_t text_len;
    tt_checkpoint cp;
    if (tt_note_split((tt_bytes){note_len, (uint8_t *)note}, &text_len, &err) != TT_OK ||
        tt_checkpoint_parse((tt_bytes){text_len, (uint8_t *)note}, &cp, &err) != TT_OK) {
        snprintf(why, sizeof why, "the latest checkpoint does not parse: %.180s", err.message);
        goto done;
    }
    pthread_mutex_lock(&W.lock);
    uint64_t old = p->cosigned;
    pthread_mutex_unlock(&W.lock);
    if (old > cp.size || (old == cp.size && !refresh)) {
        result = 1;
        goto done;
    }
    tt_hash proof[TT_MERKLE_PROOF_MAX];
    size_t nproof = 0;
    if (old > 0 && old < cp.size &&
        tt_ledger_consistency_proof(W.s->ledger, old, cp.size, proof, &nproof, &err) != TT_OK) {
        snprintf(why, sizeof why, "no consistency proof from %" PRIu64 ": %.180s", old, err.message);
        goto done;
    }
    if (tt_addcp_format(old, proof, nproof, note, note_len, &body, &body_len, &err) != TT_OK) {
        snprintf(why, sizeof why, "%s", err.message);
        goto done;
    }
    answer_buf rb = {.len = 0};
    rb.data[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, p->url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_gather);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rb);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    pthread_mutex_lock(&W.lock);
    p->asked_ms = now_ms();
    pthread_mutex_unlock(&W.lock);
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "not reached: %s", curl_easy_strerror(cc));
        goto done;
    }
    if (status == 200) {
        /* the note's text and the blank line: the lines are appended to it */
        if (keep_cosigs(p, cp.size, note, text_len + 1, rb.data, why, sizeof why) == 0) {
            if (!*why)
                snprintf(why, sizeof why, "its answer holds no cosignature by its key");
            goto done;
        }
        /* the note's own signature lines come back with the cosignature, as kept */
        pthread_mutex_lock(&W.lock);
        p->cosigned = cp.size;
        p->ok_ms = now_ms();
        p->failures = 0;
        p->last_error[0] = '\0';
        pthread_mutex_unlock(&W.lock);
        result = 1;
    } else if (status == 409) {
        char *e;
        unsigned long long had = strtoull(rb.data, &e, 10);
        if (e == rb.data || *e != '\n') {
            snprintf(why, sizeof why, "409 without a size");
        } else if (had > cp.size) {
            /* the witness cosigned more of this log than it has: restored from an old copy? */
            snprintf(why, sizeof why,
                     "it has cosigned size %llu, larger than this log's %" PRIu64
                     " (was the ledger restored from an older copy?)",
                     had, cp.size);
            logf_(W.s, "ERROR", "witness %s: %s", p->label, why);
        } else {
            pthread_mutex_lock(&W.lock);
            p->cosigned = had;
            pthread_mutex_unlock(&W.lock);
            result = 0;
        }
    } else {
        size_t n = strcspn(rb.data, "\n");
        snprintf(why, sizeof why, "HTTP %ld: %.*s", status, (int)(n > 200 ? 200 : n), rb.data);
        if (status == 503 || status == 429)
            result = -2; /* busy or not there yet (a replica replaying): soon, not backed off */
        if (status == 422 || status == 403)
            logf_(W.s, "ERROR", "witness %s refused checkpoint %" PRIu64 ": %s", p->label,
                  cp.size, why);
    }
done:
    if (result < 0) {
        pthread_mutex_lock(&W.lock);
        p->failures++;
        snprintf(p->last_error, sizeof p->last_error, "%s", why);
        pthread_mutex_unlock(&W.lock);
    }
    free(body);
    free(note);
    return result;
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    char name[16];
    snprintf(name, sizeof name, "tt-witness%zu", p->index);
    tt_thread_name(name);
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return NULL;
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)ASK_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tcmtraced");
    uint64_t backoff = 0, retry_at = 0;
    pthread_mutex_lock(&W.lock);
    while (!W.stop_peers) {
        uint64_t now = now_ms();
        int stale = p->cosigned > 0 && W.latest == p->cosigned &&
                    now - p->ok_ms >= (uint64_t)W.s->cfg.witness_refresh_ms;
        if ((W.latest <= p->cosigned && !stale) || now < retry_at) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait = now < retry_at ? retry_at - now : 1000;
            if (wait > 1000)
                wait = 1000;
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&W.more, &W.lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&W.lock);
        int r = ask(p, curl, stale);
        if (r == 0)
            r = ask(p, curl, 0); /* it told its size: once more, from there */
        if (r == -2) {
            retry_at = now_ms() + 2 * BACKOFF_MIN_MS;
        } else if (r < 0) {
            backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
            if (backoff > BACKOFF_MAX_MS)
                backoff = BACKOFF_MAX_MS;
            retry_at = now_ms() + backoff;
        } else {
            backoff = 0;
            retry_at = 0;
        }
        pthread_mutex_lock(&W.lock);
    }
    pthread_mutex_unlock(&W.lock);
    curl_easy_cleanup(curl);
    return NULL;
}

/* The largest size witness `key_id` cosigned, from what the ledger kept. */
static uint64_t kept_size(uint32_t key_id)
{
    uint64_t below = UINT64_MAX, size;
    char *note;
    size_t len;
    for (int tries = 0; tries < 64; tries++) {
        if (tt_ledger_cosigned_below(W.s->ledger, below, &size, &note, &len, NULL) != TT_OK)
            return 0;
        tt_verifier v = {0};
        for (size_t i = 0; i < W.npeer; i++)
            if (W.peer[i].key.key_id == key_id)
                v = W.peer[i].key;
        int found = 0;
        tt_note_verify_each((tt_bytes){len, (uint8_t *)note}, &v, 1, &found, NULL, NULL, NULL);
        free(note);
        if (found)
            return size;
        below = size;
    }
    return 0;
}

/* Starts a peer a witness of the policy in the ledger (none: no threads). */
static void start_peers(void)
{
    json_t *rec = NULL;
    tt_error err;
    W.npeer = 0;
    W.policy_seq = 0;
    W.stop_peers = 0;
    if (tt_state_witnesses(W.s->ledger, &rec, &err) != TT_OK)
        return;
    const char *text = json_string_value(json_object_get(rec, "policy"));
    if (text == NULL || tt_policy_parse(text, strlen(text), W.policy, &err) != TT_OK) {
        logf_(W.s, "ERROR", "the ledger's witness policy does not parse: %s",
              text ? err.message : "no text");
        json_decref(rec);
        return;
    }
    W.policy_seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
    json_decref(rec);
    for (size_t i = 0; i < W.policy->nwitness; i++) {
        peer *p = &W.peer[W.npeer];
        memset(p, 0, sizeof *p);
        p->ws = &W;
        p->index = W.npeer;
        p->key = W.policy->witness[i];
        snprintf(p->label, sizeof p->label, "%s", W.policy->label[i]);
        const char *u = W.policy->url[i];
        size_t ul = strlen(u);
        snprintf(p->url, sizeof p->url, "%s%sadd-checkpoint", u, ul && u[ul - 1] == '/' ? "" : "/");
        W.npeer++;
    }
    for (size_t i = 0; i < W.npeer; i++)
        W.peer[i].cosigned = kept_size(W.peer[i].key.key_id);
    for (size_t i = 0; i < W.npeer; i++)
        pthread_create(&W.peer[i].thread, NULL, peer_main, &W.peer[i]);
    logf_(W.s, "INFO", "witness policy of entry #%" PRIu64 ": %zu witness%s, %u to cosign",
          W.policy_seq, W.npeer, W.npeer == 1 ? "" : "es", tt_policy_required(W.policy));
}

static void stop_peers(void)
{
    pthread_mutex_lock(&W.lock);
    W.stop_peers = 1;
    pthread_cond_broadcast(&W.more);
    pthread_mutex_unlock(&W.lock);
    for (size_t i = 0; i < W.npeer; i++)
        pthread_join(W.peer[i].thread, NULL);
    pthread_mutex_lock(&W.lock);
    W.npeer = 0;
    pthread_mutex_unlock(&W.lock);
}

static void *manager_main(void *arg)
{
    (void)arg;
    tt_thread_name("tt-witnesses");
    pthread_mutex_lock(&W.lock);
    while (!W.stop) {
        if (!W.reload) {
            pthread_cond_wait(&W.more, &W.lock);
            continue;
        }
        W.reload = 0;
        pthread_mutex_unlock(&W.lock);
        stop_peers();
        pthread_mutex_lock(&W.lock);
        if (!W.stop)
            start_peers();
    }
    pthread_mutex_unlock(&W.lock);
    stop_peers();
    return NULL;
}

void witnesses_start(server *s)
{
    W.s = s;
    W.policy = calloc(1, sizeof *W.policy);
    pthread_mutex_init(&W.lock, NULL);
    pthread_cond_init(&W.more, NULL);
    uint64_t size = 0;
    tt_ledger_head(s->ledger, &size, NULL, NULL);
    W.latest = size;
    W.reload = 1;
    pthread_create(&W.manager, NULL, manager_main, NULL);
}

void witnesses_notify(uint64_t size, int policy_changed)
{
    pthread_mutex_lock(&W.lock);
    if (size > W.latest)
        W.latest = size;
    if (policy_changed)
        W.reload = 1;
    pthread_cond_broadcast(&W.more);
    pthread_mutex_unlock(&W.lock);
}

void witnesses_stop(void)
{
    pthread_mutex_lock(&W.lock);
    W.stop = 1;
    pthread_cond_broadcast(&W.more);
    pthread_mutex_unlock(&W.lock);
    pthread_join(W.manager, NULL);
    free(W.policy);
}

void witnesses_status(json_t *r)
{
    json_t *list = json_array();
    pthread_mutex_lock(&W.lock);
    uint64_t now = now_ms();
    for (size_t i = 0; i < W.npeer; i++) {
        peer *p = &W.peer[i];
        char vkey[TT_VKEY_MAX + 1];
        tt_verifier_format(&p->key, vkey, sizeof vkey);
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "label", p->label, "key", vkey,
                              "url", p->url, "cosigned_size", (json_int_t)p->cosigned, "lag",
                              (json_int_t)(W.latest > p->cosigned ? W.latest - p->cosigned : 0),
                              "failures", (int)p->failures);
        if (p->ok_ms)
            json_object_set_new(o, "cosigned_ms_ago", json_integer((json_int_t)(now - p->ok_ms)));
        if (p->last_error[0])
            json_object_set_new(o, "last_error", json_string(p->last_error));
        json_array_append_new(list, o);
    }
    if (W.policy_seq) {
        json_object_set_new(r, "witness_policy",
                            json_pack("{s:I, s:i}", "seq", (json_int_t)W.policy_seq, "required",
                                      (int)tt_policy_required(W.policy)));
    }
    pthread_mutex_unlock(&W.lock);
    json_object_set_new(r, "witnesses", list);
}
