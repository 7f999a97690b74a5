/*
 * tcp.c: the API on tcp:// (the `tcp` setting), with limits of its own.
 *
 * nanomsg's own TCP listener has none: idle connections took every file
 * descriptor, its accept loop then spun at ~98% of a core and the local
 * socket was shut out, and each half-sent message held its declared size in
 * memory (300 connections one byte short of 1 MiB: 313 MB). So the daemon
 * accepts TCP itself and speaks nanomsg's wire protocol (SP over TCP: an
 * 8-byte greeting, then messages as a 64-bit length and the bytes, a REQ's
 * message led by its request id) to any nanomsg REQ client, such as
 * `tcmtrace --connect tcp://...`:
 *
 *   - at most `tcp_max_connections` connections (default 256, fewer when
 *     the descriptor limit is low); one more is accepted and closed at once,
 *     and a spare descriptor kept for it means running out never spins;
 *   - a message's bytes are held only as they arrive, at most 256 KiB and a
 *     few bytes of routing; a larger one is read and thrown away and
 *     answered `too_large`, one over 1 MiB closes the connection;
 *   - a connection that stalls inside a message for `tcp_stall_seconds`
 *     (30), or is idle for `tcp_idle_seconds` (600), is closed;
 *   - one request at a time per connection, handed to the daemon over its
 *     own in-process nanomsg socket, so that TCP requests meet exactly the
 *     workers, checks and answers the local socket does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "tcmtrace/util.h"

#define HARD_MAX (4u * TT_REQUEST_MAX) /* beyond this a message closes its connection */
#define ROUTE_MAX 32                   /* request id and hops */

enum { GREETING, HEADER, BODY, DISCARD, WAITING };

typedef struct conn {
    int fd, nn, nn_rcvfd;
    int state;
    uint8_t greet[8];
    size_t got;          /* bytes of the current part read */
    uint8_t hdr[8];      /* the message's 64-bit length */
    uint64_t len;        /* the message's length */
    uint8_t *msg;        /* its bytes, as they arrive */
    char *out;           /* what is to be written back */
    size_t out_len, out_off;
    uint8_t route[ROUTE_MAX];
    size_t route_len;
    uint8_t head[ROUTE_MAX]; /* the first bytes of a message read and thrown away */
    uint64_t last_ms;    /* when a byte last came */
    struct conn *next;   /* all connections */
} conn;

typedef struct front {
    server *s;
    int listen_fd, ep, spare;
    conn *conns;
    size_t n, max;
    char inproc[64];
    uint64_t refused, last_warn_ms;
} front;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_close(front *f, conn *c)
{
    epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->nn >= 0) {
        epoll_ctl(f->ep, EPOLL_CTL_DEL, c->nn_rcvfd, NULL);
        nn_close(c->nn);
    }
    close(c->fd);
    for (conn **p = &f->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    free(c->msg);
    free(c->out);
    free(c);
    f->n--;
}

/* Watches the TCP side for reading, writing, or neither (while the daemon answers). */
static void want(front *f, conn *c)
{
    struct epoll_event ev = {0};
    ev.data.ptr = c;
    if (c->out_len > c->out_off)
        ev.events = EPOLLOUT;
    else if (c->state != WAITING)
        ev.events = EPOLLIN;
    epoll_ctl(f->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queues one SP message (route, then body) to be written back. */
static int queue_out(conn *c, const void *body, size_t len)
{
    size_t total = 8 + c->route_len + len;
    char *o = realloc(c->out, c->out_len - c->out_off + total);
    if (o == NULL)
        return -1;
    if (c->out_off) {
        memmove(o, o + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    c->out = o;
    uint64_t n = c->route_len + len;
    for (int i = 0; i < 8; i++)
        o[c->out_len + (size_t)i] = (char)(n >> (56 - 8 * i));
    memcpy(o + c->out_len + 8, c->route, c->route_len);
    memcpy(o + c->out_len + 8 + c->route_len, body, len);
    c->out_len += total;
    return 0;
}

static void answer_local(front *f, conn *c, tt_err code, const char *msg)
{
    json_t *a = tt_api_error(code, msg);
    char *t = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (t == NULL || queue_out(c, t, strlen(t)) != 0) {
        free(t);
        conn_close(f, c);
        return;
    }
    free(t);
    c->state = HEADER;
    c->got = 0;
    want(f, c);
}

/* A whole message is in: its route split off, the request handed to the daemon. */
static void dispatch(front *f, conn *c)
{
    size_t r = 0;
    while (r + 4 <= c->len && r < ROUTE_MAX) { /* hop ids, then the request id (top bit set) */
        uint8_t top = c->msg[r];
        r += 4;
        if (top & 0x80)
            break;
    }
    if (r == 0 || !(c->msg[r - 4] & 0x80)) {
        conn_close(f, c); /* not a REQ's message */
        return;
    }
    memcpy(c->route, c->msg, r);
    c->route_len = r;
    if (nn_send(c->nn, c->msg + r, c->len - r, 0) < 0) {
        answer_local(f, c, TT_ERR_BUSY, "the daemon did not take the request; send it again");
        return;
    }
    free(c->msg);
    c->msg = NULL;
    c->state = WAITING;
    want(f, c);
}

static void on_reply(front *f, conn *c)
{
    char *buf = NULL;
    int n = nn_recv(c->nn, &buf, NN_MSG, NN_DONTWAIT);
    if (n < 0)
        return;
    int bad = queue_out(c, buf, (size_t)n);
    nn_freemsg(buf);
    if (bad) {
        conn_close(f, c);
        return;
    }
    c->state = HEADER;
    c->got = 0;
    want(f, c);
}

static void on_readable(front *f, conn *c)
{
    for (;;) {
        uint8_t *dst;
        size_t need;
        uint8_t sink[16384];
        switch (c->state) {
        case GREETING:
            dst = c->greet + c->got, need = 8 - c->got;
            break;
        case HEADER:
            dst = c->hdr + c->got, need = 8 - c->got;
            break;
        case BODY:
            dst = c->msg + c->got, need = (size_t)c->len - c->got;
            break;
        case DISCARD:
            dst = c->got < ROUTE_MAX ? c->head + c->got : sink;
            need = c->got < ROUTE_MAX ? ROUTE_MAX - c->got : sizeof sink;
            if (need > c->len - c->got)
                need = (size_t)(c->len - c->got);
            break;
        default:
            return;
        }
        ssize_t got = need ? read(c->fd, dst, need) : 0;
        if (need && got == 0) {
            conn_close(f, c);
            return;
        }
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_close(f, c);
            return;
        }
        c->got += (size_t)got;
        c->last_ms = now_ms();
        if (c->state == GREETING && c->got == 8) {
            static const uint8_t req[8] = {0, 'S', 'P', 0, 0, NN_REQ & 0xff, 0, 0};
            if (memcmp(c->greet, req, 8) != 0) {
                conn_close(f, c); /* not a nanomsg REQ */
                return;
            }
            c->state = HEADER, c->got = 0;
        } else if (c->state == HEADER && c->got == 8) {
            c->len = 0;
            for (int i = 0; i < 8; i++)
                c->len = c->len << 8 | c->hdr[i];
            c->got = 0;
            if (c->len > HARD_MAX) {
                conn_close(f, c);
                return;
            }
            if (c->len > TT_REQUEST_MAX + ROUTE_MAX) {
                c->state = DISCARD;
                continue;
            }
            if ((c->msg = malloc(c->len ? c->len : 1)) == NULL) {
                conn_close(f, c);
                return;
            }
            c->state = BODY;
            if (c->len == 0) {
                dispatch(f, c);
                return;
            }
        } else if (c->state == BODY && c->got == c->len) {
            dispatch(f, c);
            return;
        } else if (c->state == DISCARD && c->got == c->len) {
            size_t r = 0; /* its route, from the bytes kept */
            while (r + 4 <= ROUTE_MAX && !(c->head[r] & 0x80))
                r += 4;
            if (r + 4 > ROUTE_MAX) {
                conn_close(f, c);
                return;
            }
            c->route_len = r + 4;
            memcpy(c->route, c->head, c->route_len);
            char msg[96];
            snprintf(msg, sizeof msg, "request is %llu bytes; the limit is %d",
                     (unsigned long long)(c->len - c->route_len), TT_REQUEST_MAX);
            answer_local(f, c, TT_ERR_TOO_LARGE, msg);
            return;
        }
    }
}

static void on_writable(front *f, conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_close(f, c);
            return;
        }
        c->out_off += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    want(f, c);
    if (c->state == HEADER && c->got == 0)
        on_readable(f, c); /* a request may be waiting already */
}

static void warn_full(front *f)
{
    f->refused++;
    uint64_t t = now_ms();
    if (t - f->last_warn_ms > 10000) {
        logf_(f->s, "WARN",
              "tcp: %zu connections open, the most allowed (tcp_max_connections); %llu refused "
              "so far",
              f->n, (unsigned long long)f->refused);
        f->last_warn_ms = t;
    }
}

static void on_accept(front *f)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && f->spare >= 0) {
            /* out of descriptors: take the connection with the spare one and close it, so
             * that the listener is not left ready (and spinning) */
            close(f->spare);
            fd = accept(f->listen_fd, NULL, NULL);
            if (fd >= 0)
                close(fd);
            f->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
            warn_full(f);
            continue;
        }
        if (fd < 0)
            return;
        if (f->n >= f->max) {
            close(fd);
            warn_full(f);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        int to = 3600 * 1000, one = 1;
        if (c == NULL || (c->nn = nn_socket(AF_SP, NN_REQ)) < 0) {
            free(c);
            close(fd);
            continue;
        }
        size_t sz = sizeof c->nn_rcvfd;
        nn_setsockopt(c->nn, NN_REQ, NN_REQ_RESEND_IVL, &to, sizeof to); /* never resend */
        if (nn_connect(c->nn, f->inproc) < 0 ||
            nn_getsockopt(c->nn, NN_SOL_SOCKET, NN_RCVFD, &c->nn_rcvfd, &sz) != 0) {
            nn_close(c->nn);
            free(c);
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->state = GREETING;
        c->last_ms = now_ms();
        static const uint8_t rep[8] = {0, 'S', 'P', 0, 0, NN_REP & 0xff, 0, 0};
        if (write(fd, rep, 8) != 8) {
            nn_close(c->nn);
            free(c);
            close(fd);
            continue;
        }
        c->next = f->conns;
        f->conns = c;
        f->n++;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev);
        struct epoll_event rv = {.events = EPOLLIN, .data.u64 = 0};
        rv.data.ptr = (char *)c + 1; /* odd: this connection's daemon side */
        epoll_ctl(f->ep, EPOLL_CTL_ADD, c->nn_rcvfd, &rv);
    }
}

static void sweep(front *f)
{
    uint64_t t = now_ms();
    for (conn *c = f->conns, *next; c; c = next) {
        next = c->next;
        int inside = c->state == BODY || c->state == DISCARD || c->state == GREETING ||
                     (c->state == HEADER && c->got > 0);
        if (c->state != WAITING && c->out_len == 0 &&
            ((inside && t - c->last_ms > (uint64_t)f->s->cfg.tcp_stall_ms) ||
             t - c->last_ms > (uint64_t)f->s->cfg.tcp_idle_ms))
            conn_close(f, c);
    }
}

static void *front_run(void *arg)
{
    front *f = arg;
    tt_thread_name("tt-tcp");
    struct epoll_event evs[64];
    while (!atomic_load(&f->s->stop)) {
        int n = epoll_wait(f->ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                on_accept(f);
                continue;
            }
            uintptr_t p = (uintptr_t)evs[i].data.ptr;
            conn *c = (conn *)(p & ~(uintptr_t)1);
            int alive = 0;
            for (conn *x = f->conns; x && !alive; x = x->next) /* closed earlier in this round? */
                alive = x == c;
            if (!alive)
                continue;
            if (p & 1)
                on_reply(f, c);
            else if (evs[i].events & EPOLLOUT)
                on_writable(f, c);
            else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(f, c);
        }
        sweep(f);
    }
    while (f->conns)
        conn_close(f, f->conns);
    return NULL;
}

static front the_front;
static pthread_t front_thread;
static int front_started;

int tcp_start(server *s, tt_error *err)
{
    front *f = &the_front;
    memset(f, 0, sizeof *f);
    f->s = s;
    f->spare = -1;
    const char *a = s->cfg.tcp;
    if (strncmp(a, "tcp://", 6) != 0)
        return tt_fail(err, TT_ERR_ARGUMENT, "tcp = %s: write it tcp://HOST:PORT", a), -1;
    char host[256];
    const char *colon = strrchr(a + 6, ':');
    if (colon == NULL || (size_t)(colon - a - 6) >= sizeof host)
        return tt_fail(err, TT_ERR_ARGUMENT, "tcp = %s: write it tcp://HOST:PORT", a), -1;
    memcpy(host, a + 6, (size_t)(colon - a - 6));
    host[colon - a - 6] = '\0';
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai;
    const char *h = strcmp(host, "*") == 0 || *host == '\0' ? NULL : host;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
        return tt_fail(err, TT_ERR_ARGUMENT, "tcp = %s: no such address", a), -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return tt_fail(err, TT_ERR_IO, "cannot listen on %s: %s", a, strerror(e)), -1;
    }
    freeaddrinfo(ai);
    f->listen_fd = fd;
    /* each connection costs about five descriptors (its socket, nanomsg's); leave room
     * for the ledger, the local socket and the feed */
    struct rlimit rl;
    size_t room = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                      ? (rl.rlim_cur > 256 ? (size_t)(rl.rlim_cur - 256) / 5 : 1)
                      : 4096;
    f->max = (size_t)s->cfg.tcp_max_connections;
    if (f->max > room)
        f->max = room;
    snprintf(f->inproc, sizeof f->inproc, "inproc://tcmtraced-api-%d", (int)getpid());
    if (nn_bind(s->api, f->inproc) < 0) {
        close(fd);
        return tt_fail(err, TT_ERR_IO, "cannot bind %s: %s", f->inproc, nn_strerror(nn_errno())),
               -1;
    }
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev);
    f->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (pthread_create(&front_thread, NULL, front_run, f) != 0) {
        close(fd);
        close(f->ep);
        return tt_fail(err, TT_ERR_NOMEM, "cannot start the tcp thread"), -1;
    }
    front_started = 1;
    logf_(s, "INFO", "API on %s (at most %zu connections)", a, f->max);
    return 0;
}

void tcp_stop(void)
{
    if (!front_started)
        return;
    pthread_join(front_thread, NULL);
    close(the_front.listen_fd);
    close(the_front.ep);
    if (the_front.spare >= 0)
        close(the_front.spare);
    front_started = 0;
}
