/*
 * daemon.h: tcmtraced's parts.
 *
 * Threads and what they own:
 *   workers   (a pool) each receive requests from the raw REP socket,
 *             check each submit's signature and event shape and pass it to
 *             the write queue, or answer a read request themselves
 *   writer    the only thread that writes the ledger: takes every verified
 *             submit waiting (up to batch_max) and appends them in one
 *             durable transaction, then hands them to the acker
 *   acker     answers each submit of a committed group and publishes its
 *             entries and the new checkpoint, while the writer goes on
 *   signals   waits for SIGINT/SIGTERM and starts a clean shutdown
 * The sockets are nanomsg's and thread-safe; the queues have their locks;
 * the ledger handle is shared (reads use their own read transactions).
 */
#ifndef TCMTRACED_DAEMON_H
#define TCMTRACED_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tcmtrace/tcmtrace.h"

#define TT_REQUEST_MAX (256 * 1024)
#define TT_SUBMIT_MANY_MAX 256 /* events in one submit_many */

/* A submit_many request: answered once every one of its events is. */
typedef struct bulk {
    void *control;   /* the request's routing header */
    json_t *results; /* one answer per event, in order */
    size_t pending;  /* events the writer has yet to answer (the acker's, once handed over) */
} bulk;

typedef struct job {
    struct job *next;
    void *control; /* the request's routing header, handed back with the reply */
    json_t *req;
    /* a submit, once checked */
    uint8_t actor[TT_PK_SIZE];
    uint8_t sig[TT_SIG_SIZE];
    char *body;
    size_t body_len;
    tt_event ev;     /* the body, parsed by the worker */
    uint8_t *stored; /* the body deflated by the worker for the store, or NULL */
    size_t stored_len;
    /* a submit, once the writer is done with it */
    tt_append done; /* its result, seq, hash and entry bytes (owned) */
    int group_end;  /* the last of a committed group: publish the checkpoint */
    bulk *bulk;     /* set for one event of a submit_many, answered through it */
    size_t index;   /* its place in the request */
    void *frame;    /* a binary submit frame (nanomsg's message) until its events are copied */
    size_t frame_len;
} job;

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    job *head, *tail;
    size_t len;
    job end; /* the shutdown marker, pushed once */
} queue;

typedef struct config {
    char *dir;
    char *tcp;             /* optional tcp:// address for the API */
    char *passphrase_file; /* for a sealed log key */
    int threads;           /* verification workers */
    int read_threads;      /* threads that answer reads, apart from the workers */
    int batch_max;         /* events per transaction at most */
    int quiet;
    int64_t at_ahead_ms;     /* how far an event's "at" may be ahead of the clock */
    int64_t at_behind_ms;    /* and how far behind it */
    int tcp_max_connections; /* TCP connections open at once at most */
    int64_t tcp_stall_ms;    /* a TCP connection stalled inside a message is closed after this */
    int64_t tcp_idle_ms;     /* and an idle one after this */
    const char *origin;      /* the ledger's origin: every event is signed for it */
    char *ack_follower;      /* ack_after = follower URL: acknowledge once that replica holds it */
    int64_t witness_refresh_ms; /* a witness whose cosignature is older is asked again (fresh time) */
} config;

typedef struct server {
    config cfg;
    tt_ledger *ledger;
    int api, feed;
    queue writes, acks, reads;
    atomic_int stop;
    tt_api ops; /* the operations over this ledger (core/api.c) */
    uint64_t started_ms;
    atomic_ullong n_requests, n_appended, n_refused, n_commits;
    struct { /* the writer's, for one group */
        job **jobs;
        tt_append *items;
        const uint8_t **bodies;
        tt_event *events;
    } w;
} server;

void queue_init(queue *q);
void queue_push(queue *q, job *j);
/* Appends jobs[0..n) in order under one lock. */
void queue_push_many(queue *q, job **jobs, size_t n);
/* Pops one job, waiting; NULL is the shutdown marker. */
job *queue_pop(queue *q);
/* Pops up to `max` jobs (waiting for the first); returns how many. */
size_t queue_pop_many(queue *q, job **out, size_t max, int *saw_end);
/* How many jobs wait in q. */
size_t queue_len(queue *q);

/* Logs a line to stderr with time and level. */
void logf_(server *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends `resp` (stolen; NULL answers nomem) as the reply to `j` and frees the job. */
void reply(server *s, job *j, json_t *resp);

/* Checks a submit request; fills the job's actor, sig and body. */
tt_err api_check_submit(const config *cfg, job *j, tt_error *err);

/*
 * The binary submit frame (README "The binary submit frame"): the signed
 * material with no JSON around it.
 *
 *   magic "\x89TSB" | version 1 | kind (1 submit, 2 submit_many) | count (u16, BE)
 *   then `count` times: actor (32) | sig (64) | body length (u32, BE) | body
 */
#define TT_FRAME_MAGIC "\x89TSB"
#define TT_FRAME_HEADER 8
#define TT_FRAME_EVENT_HEADER (32 + 64 + 4)
typedef struct frame_event {
    const uint8_t *actor, *sig, *body;
    size_t body_len;
} frame_event;
/* Splits a frame into its events (each pointing into p): *many is the kind, *count the
 * events, at most TT_SUBMIT_MANY_MAX. A frame that is not exactly this is refused. */
tt_err api_frame_parse(const uint8_t *p, size_t n, int *many, frame_event *ev, size_t *count,
                       tt_error *err);
/* A submit whose actor, sig and body are in j already: verified, parsed, its time checked. */
tt_err api_check_signed(const config *cfg, job *j, tt_error *err);
/* Copies one frame event into j and checks it. */
tt_err api_check_frame_event(const config *cfg, const frame_event *fe, job *j, tt_error *err);

/* The API on cfg.tcp (daemon/tcp.c): its own listener, with limits; after the local
 * socket is bound. tcp_stop waits for it once the daemon stops. */
int tcp_start(server *s, tt_error *err);
void tcp_stop(void);

/* The witnesses of the ledger's policy (daemon/witnesses.c): started once the ledger is open,
 * told of each committed group's size (and of a new ledger.witnesses entry), stopped last. */
void witnesses_start(server *s);
void witnesses_notify(uint64_t size, int policy_changed);
void witnesses_stop(void);
/* Each witness's cosigned size, lag and last error, into a status answer. */
void witnesses_status(json_t *r);

/* tcmtraced follow URL DIR ...: a verified replica (daemon/follow.c); returns the exit code. */
int follow_main(int argc, char **argv);
/* tcmtraced promote DIR ...: a replica becomes the primary (daemon/follow.c). */
int promote_main(int argc, char **argv);

/* ack_after = follower (daemon/standby.c): a thread that learns how many entries the named
 * follower's replica holds (its tcmtrace-web's status), and a wait for a size. */
void standby_start(server *s);
/* 1 once the follower holds `size` entries; 0 when it gave up (stopping, and 5 s passed). */
int standby_wait(uint64_t size);
void standby_stop(void);
void standby_status(json_t *r);

/* A peer's short answer (a witness's cosignature, a replica's status), gathered by libcurl:
 * CURLOPT_WRITEFUNCTION answer_gather, CURLOPT_WRITEDATA an answer_buf (NUL-ended; an answer
 * longer than it fails the transfer). daemon/witnesses.c. */
typedef struct answer_buf {
    char data[4096];
    size_t len;
} answer_buf;
size_t answer_gather(char *p, size_t size, size_t n, void *ctx);

/* Runs the daemon until a signal; returns the exit code. */
int server_run(config *cfg);

#endif
