/*
 * tcmtrace/net.h: what the programs on the network share: token buckets per key (a client's address, a log's
 * origin), in an exact table of bounded size: a key has its own slot among
 * TT_RATE_PROBE from its hash; a new key takes an empty slot, else the one idle
 * longest. tcmtrace-web limits writes per address with it, tcmtrace-witness
 * add-checkpoint per address and per log. Thread-safe.
 */
#ifndef TCMTRACE_NET_H
#define TCMTRACE_NET_H

#include <pthread.h>
#include <stddef.h>

#include "tcmtrace/err.h"

#define TT_RATE_SLOTS 4096
#define TT_RATE_PROBE 32
#define TT_RATE_KEY 80

struct sockaddr;
struct sockaddr_storage;

/* "HOST:PORT" or "[V6]:PORT" (numeric) into an address; 1 on success. */
int tt_listen_parse(const char *s, struct sockaddr_storage *ss);

typedef struct tt_rate_bucket {
    char key[TT_RATE_KEY];
    double tokens, at;
} tt_rate_bucket;

typedef struct tt_rate {
    pthread_mutex_t lock;
    double per_s, burst;
    tt_rate_bucket slot[TT_RATE_SLOTS];
} tt_rate;

/* Sets a table up: `per_s` tokens a second, at most `burst` saved. */
void tt_rate_init(tt_rate *r, double per_s, double burst);

/* Takes a token for `key` now; 1 when there was one, 0 when the key is over its rate. */
int tt_rate_take(tt_rate *r, const char *key);

/* The key of a client's address: an IPv4 address, or an IPv6 address's /64 ("?" if none). */
void tt_rate_addr_key(const struct sockaddr *sa, char out[48]);

#endif
