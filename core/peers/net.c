/*
 * net.c: token buckets per key in an exact, bounded table, and listen
 * addresses (tcmtrace/net.h).
 */
#include "tcmtrace/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void tt_rate_init(tt_rate *r, double per_s, double burst)
{
    memset(r->slot, 0, sizeof r->slot);
    pthread_mutex_init(&r->lock, NULL);
    r->per_s = per_s;
    r->burst = burst;
}

int tt_rate_take(tt_rate *r, const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    pthread_mutex_lock(&r->lock);
    tt_rate_bucket *b = NULL, *free_slot = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < TT_RATE_PROBE && b == NULL; i++) {
        tt_rate_bucket *x = &r->slot[(h + i) % TT_RATE_SLOTS];
        if (x->key[0] == '\0')
            free_slot = free_slot ? free_slot : x;
        else if (strncmp(x->key, key, TT_RATE_KEY - 1) == 0)
            b = x;
        else if (oldest == NULL || x->at < oldest->at)
            oldest = x;
    }
    if (b == NULL) { /* a new key: a full bucket */
        b = free_slot ? free_slot : oldest;
        snprintf(b->key, sizeof b->key, "%s", key);
        b->tokens = r->burst;
        b->at = now;
    }
    b->tokens += (now - b->at) * r->per_s;
    if (b->tokens > r->burst)
        b->tokens = r->burst;
    b->at = now;
    int ok = b->tokens >= 1;
    if (ok)
        b->tokens -= 1;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void tt_rate_addr_key(const struct sockaddr *sa, char out[48])
{
    snprintf(out, 48, "?");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 48);
    else if (sa->sa_family == AF_INET6) {
        struct in6_addr a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            /* an IPv4 client of a dual-stack listener is its IPv4 address, not one /64 for all */
            inet_ntop(AF_INET, a6.s6_addr + 12, out, 48);
            return;
        }
        memset(a6.s6_addr + 8, 0, 8);
        inet_ntop(AF_INET6, &a6, out, 48 - 4);
        strcat(out, "/64");
    }
}

int tt_listen_parse(const char *s, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return 0;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        snprintf(host, sizeof host, "%.*s", (int)hl - 2, s + 1);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, s);
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}
