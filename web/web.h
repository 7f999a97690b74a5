/*
 * web.h: tcmtrace-web, the HTTP front end (DESIGN §7). It reads the ledger
 * read-only through the library's operations (core/api.c), computes tiles
 * from the store (core/tiles.c), and forwards writes to tcmtraced over
 * ipc://DIR/api.sock. Threads: libmicrohttpd's pool calls web_handle; the
 * settings and the ledger handle are read-only once the server runs; the
 * rate limiter has its own lock.
 */
#ifndef TCMTRACE_WEB_H
#define TCMTRACE_WEB_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "tcmtrace/net.h"
#include "tcmtrace/tcmtrace.h"

/* Every limit a setting, with a safe default (DIR/tcmtraced.conf, web_*). */
typedef struct web_settings {
    char listen[128];           /* web_listen: HOST:PORT */
    char tls_cert[1024];        /* web_tls_cert */
    char tls_key[1024];         /* web_tls_key */
    unsigned max_connections;   /* web_max_connections */
    unsigned per_address;       /* web_max_per_address */
    unsigned timeout_s;         /* web_timeout_seconds: idle or slow connection */
    unsigned header_memory;     /* web_header_memory: bytes a connection may use for its headers */
    unsigned max_body;          /* web_max_body: bytes of a POST body */
    unsigned writes_per_s;      /* web_writes_per_second, per address */
    unsigned write_burst;       /* web_write_burst */
    unsigned threads;           /* web_threads */
    unsigned daemon_timeout_ms; /* web_daemon_timeout_ms: waiting for tcmtraced */
    unsigned fresh_s;           /* web_fresh_seconds: the newest witness cosignature a page
                                 * takes as today's view of the log is at most this old */
    unsigned header_s;          /* web_header_seconds: a request's headers, whatever trickles */
    unsigned min_rate;          /* web_min_bytes_per_second: a body at least this fast */
    unsigned answer_s;          /* web_answer_seconds: an answer taken in at most this long */
    unsigned send_buffer;       /* web_send_buffer: bytes the kernel may hold for a connection's
                                 * answer (not the autotuned 4 MiB a slow reader could pin) */
} web_settings;

/* Deadlines and per-address counts of connections (guard.c). */
typedef struct web_conn web_conn;
typedef struct web_guard {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    web_conn *head;
    unsigned per_key, min_rate, max_body, send_buffer;
    int64_t header_ms, answer_ms;
} web_guard;
enum { WEB_PHASE_HEADERS, WEB_PHASE_BODY, WEB_PHASE_ANSWER };

typedef struct web {
    web_settings set;
    char dir[4096];
    char api_url[4200]; /* ipc://DIR/api.sock */
    char prefix[256];   /* the base URL's path ("/cq"), or "" */
    char pages[4400];   /* the pages and their assets (web/pages, or installed) */
    char modules[4400]; /* the pinned npm modules the pages fall back on (node_modules) */
    tt_ledger *ledger;
    tt_api ops;
    tt_rate writes; /* writes per address */
    /* until when (monotonic ms) the daemon is known not to answer: forwards are answered 503
     * at once, but for one that tries again when the time is up (0: it answers) */
    _Atomic int64_t daemon_down_until;
    web_guard guard;
} web;

/* Reads the web_* settings of DIR/tcmtraced.conf (or `path`) into s; 0 or 2. */
int web_read_settings(const char *path, int explicit_path, web_settings *s);

/* A file's bytes (malloc'd, NUL-ended, at most 4 MiB) and length, or NULL. */
char *web_read_file(const char *path, size_t *len);

/* The libmicrohttpd callbacks (http.c). */
void *web_uri_log(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result web_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                           const char *version, const char *upload, size_t *upload_size,
                           void **con_cls);
void web_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode why);

/* guard.c: the watcher of deadlines, libmicrohttpd's accept and connection callbacks, and
 * what a request moves on to (WEB_PHASE_*; body_len for a body, declared or 0 for unknown). */
int web_guard_start(web_guard *g, const web_settings *set);
void web_guard_stop(web_guard *g);
enum MHD_Result web_guard_accept(void *cls, const struct sockaddr *addr, socklen_t len);
void web_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
void web_guard_phase(web *w, struct MHD_Connection *c, int phase, unsigned long long body_len);

#endif
