/*
 * guard.c: what a connection may cost tcmtrace-web in time and in slots.
 *
 * libmicrohttpd closes a connection that sends nothing for web_timeout_seconds,
 * but one byte every few seconds resets that clock for ever. Here every
 * connection has a deadline for what it is doing, whatever it trickles:
 *
 *   waiting for or reading headers   web_header_seconds from the connection's
 *                                    start or the previous answer's end
 *   reading a body                   web_header_seconds more, plus its length
 *                                    (declared, else web_max_body) at
 *                                    web_min_bytes_per_second
 *   sending the answer               web_answer_seconds
 *
 * A watcher thread shuts down the socket of a connection past its deadline,
 * with no linger (libmicrohttpd then reads its end and closes it as any other,
 * and the kernel drops what it still held for it: a reset, not a slow drain). And an
 * address holds at most web_max_per_address connections, an IPv6 address
 * counted by its /64 (in place of libmicrohttpd's own limit, which counts
 * whole addresses only, and one machine holds a /64's worth of them).
 *
 * And the kernel holds at most web_send_buffer bytes of a connection's
 * answer (a fixed send buffer: autotuned, it grows to 4 MiB for a reader
 * that takes a byte a second, 4 GiB of kernel memory for 1,000 of them).
 *
 * The table is a list under one lock: a connection joins it once, leaves it
 * once (before libmicrohttpd closes its descriptor, so the watcher never
 * shuts a descriptor down that another connection has taken since).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcmtrace/net.h"
#include "tcmtrace/util.h"
#include "web.h"

struct web_conn {
    int fd;
    char key[48];
    int64_t deadline; /* monotonic ms; INT64_MAX once shut down */
    struct web_conn *prev, *next;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watch(void *arg)
{
    web_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        int64_t t = now_ms();
        for (web_conn *c = g->head; c; c = c->next)
            if (c->deadline <= t) {
                /* at once: what the kernel still holds for it is dropped, not sent after */
                struct linger now = {1, 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
                shutdown(c->fd, SHUT_RDWR);
                c->deadline = INT64_MAX;
            }
        struct timespec until;
        tt_realtime_in(&until, 250);
        pthread_cond_timedwait(&g->wake, &g->mu, &until);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int web_guard_start(web_guard *g, const web_settings *set)
{
    memset(g, 0, sizeof *g);
    g->per_key = set->per_address;
    g->header_ms = (int64_t)set->header_s * 1000;
    g->answer_ms = (int64_t)set->answer_s * 1000;
    g->min_rate = set->min_rate;
    g->max_body = set->max_body;
    g->send_buffer = set->send_buffer;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->thread, NULL, watch, g) != 0)
        return 0;
    g->running = 1;
    return 1;
}

void web_guard_stop(web_guard *g)
{
    if (g->running) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
        g->running = 0;
    }
    /* libmicrohttpd has said every connection closed by now; free what it did not */
    while (g->head) {
        web_conn *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->mu);
}

static unsigned count_key(web_guard *g, const char *key)
{
    unsigned n = 0;
    for (web_conn *c = g->head; c; c = c->next)
        n += strcmp(c->key, key) == 0;
    return n;
}

enum MHD_Result web_guard_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    web *w = cls;
    char key[48];
    tt_rate_addr_key(addr, key);
    pthread_mutex_lock(&w->guard.mu);
    unsigned n = count_key(&w->guard, key);
    pthread_mutex_unlock(&w->guard.mu);
    return n < w->guard.per_key ? MHD_YES : MHD_NO;
}

void web_guard_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    web *w = cls;
    web_guard *g = &w->guard;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        web_conn *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = c;
        if (c == NULL || fd == NULL)
            return;
        c->fd = fd->connect_fd;
        int sb = (int)g->send_buffer;
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
        tt_rate_addr_key(ad ? ad->client_addr : NULL, c->key);
        pthread_mutex_lock(&g->mu);
        c->deadline = now_ms() + g->header_ms;
        /* the accept check and this one race across the pool's threads: the count here is the one kept */
        if (count_key(g, c->key) >= g->per_key) {
            shutdown(c->fd, SHUT_RDWR);
            c->deadline = INT64_MAX;
        }
        c->next = g->head;
        if (g->head)
            g->head->prev = c;
        g->head = c;
        pthread_mutex_unlock(&g->mu);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        web_conn *c = *socket_context;
        *socket_context = NULL;
        if (c == NULL)
            return;
        pthread_mutex_lock(&g->mu);
        if (c->prev)
            c->prev->next = c->next;
        else if (g->head == c)
            g->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&g->mu);
        free(c);
    }
}

void web_guard_phase(web *w, struct MHD_Connection *mc, int phase, unsigned long long body_len)
{
    web_guard *g = &w->guard;
    if (!g->running)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    web_conn *c = ci ? ci->socket_context : NULL;
    if (c == NULL)
        return;
    int64_t t = now_ms(), d;
    if (phase == WEB_PHASE_BODY) {
        if (body_len > g->max_body)
            body_len = g->max_body;
        d = t + g->header_ms + (int64_t)(body_len * 1000 / (g->min_rate ? g->min_rate : 1));
    } else if (phase == WEB_PHASE_ANSWER) {
        d = t + g->answer_ms;
    } else {
        d = t + g->header_ms;
    }
    pthread_mutex_lock(&g->mu);
    if (c->deadline != INT64_MAX)
        c->deadline = d;
    pthread_mutex_unlock(&g->mu);
}
