/*
 * standby.c: ack_after = follower URL. The primary answers a submit only once the named
 * follower's replica holds its entry, so that a lost primary loses no acknowledged event:
 * a thread asks the replica's tcmtrace-web (URL/api/v1/status, its size) whenever an answer
 * waits, every 10 ms; the acker waits for the size its entry needs. A follower that is down
 * holds the answers back (the entries are written here; the clients hear nothing until it
 * is back), and at shutdown an answer waits 5 s at most, then says not_replicated.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "tcmtrace/util.h"

static struct {
    server *s;
    pthread_mutex_t lock;
    pthread_cond_t more;
    uint64_t want, held; /* entries an answer waits for; entries the follower holds */
    uint64_t polled_ms;  /* when it last answered */
    char last_error[256];
    int stop;
    pthread_t thread;
    char url[4200];
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER};

static void *poller(void *arg)
{
    (void)arg;
    tt_thread_name("tt-standby");
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return NULL;
    curl_easy_setopt(curl, CURLOPT_URL, S.url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 500L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, answer_gather);
    pthread_mutex_lock(&S.lock);
    while (!S.stop) {
        if (S.want <= S.held) {
            pthread_cond_wait(&S.more, &S.lock);
            continue;
        }
        pthread_mutex_unlock(&S.lock);
        answer_buf b = {.len = 0};
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
        CURLcode cc = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        json_t *j = cc == CURLE_OK && status == 200 ? json_loads(b.data, 0, NULL) : NULL;
        json_t *size = json_object_get(j, "size");
        int answered = json_is_integer(size);
        pthread_mutex_lock(&S.lock);
        if (answered) {
            uint64_t n = (uint64_t)json_integer_value(size);
            if (n > S.held)
                S.held = n;
            S.polled_ms = tt_now_ms();
            S.last_error[0] = '\0';
            pthread_cond_broadcast(&S.more);
        } else {
            snprintf(S.last_error, sizeof S.last_error, "%.120s: %.120s", S.url,
                     cc != CURLE_OK ? curl_easy_strerror(cc) : "no size in its status");
        }
        json_decref(j);
        pthread_mutex_unlock(&S.lock);
        usleep(answered ? 10000 : 200000);
        pthread_mutex_lock(&S.lock);
    }
    pthread_mutex_unlock(&S.lock);
    curl_easy_cleanup(curl);
    return NULL;
}

void standby_start(server *s)
{
    S.s = s;
    const char *u = s->cfg.ack_follower;
    size_t ul = strlen(u);
    snprintf(S.url, sizeof S.url, "%.*s/api/v1/status", (int)(ul && u[ul - 1] == '/' ? ul - 1 : ul),
             u);
    logf_(s, "INFO", "answers wait for the follower at %s to hold each entry (ack_after)", u);
    pthread_create(&S.thread, NULL, poller, NULL);
}

int standby_wait(uint64_t size)
{
    pthread_mutex_lock(&S.lock);
    if (size > S.want) {
        S.want = size;
        pthread_cond_broadcast(&S.more);
    }
    uint64_t gave_up_at = 0;
    int warned = 0;
    while (S.held < size) {
        uint64_t now = tt_now_ms();
        if (atomic_load(&S.s->stop)) {
            if (gave_up_at == 0)
                gave_up_at = now + 5000;
            else if (now >= gave_up_at)
                break;
        }
        if (!warned && S.last_error[0] && S.polled_ms + 2000 < now) {
            logf_(S.s, "WARN", "answers wait: the follower does not answer (%s)", S.last_error);
            warned = 1;
        }
        struct timespec ts;
        tt_realtime_in(&ts, 100);
        pthread_cond_timedwait(&S.more, &S.lock, &ts);
    }
    int held = S.held >= size;
    pthread_mutex_unlock(&S.lock);
    return held;
}

void standby_stop(void)
{
    pthread_mutex_lock(&S.lock);
    S.stop = 1;
    pthread_cond_broadcast(&S.more);
    pthread_mutex_unlock(&S.lock);
    pthread_join(S.thread, NULL);
}

void standby_status(json_t *r)
{
    pthread_mutex_lock(&S.lock);
    json_t *o = json_pack("{s:s, s:I}", "url", S.url, "held", (json_int_t)S.held);
    if (S.last_error[0])
        json_object_set_new(o, "last_error", json_string(S.last_error));
    pthread_mutex_unlock(&S.lock);
    json_object_set_new(r, "standby", o);
}
