/*
 * jcache.c: parsed JSON kept for the next read of the same bytes.
 *
 * Reading state means parsing JSON records, and a trace parses the same
 * ancestors and entries again for every descendant that is looked up.
 * A slot holds a key, the raw bytes the value was parsed from and the
 * parsed value. A lookup hits only when the key and the bytes read in the
 * caller's transaction are both equal, so a record that changed is parsed
 * afresh: the cache never needs to be told about writes. Values are
 * shared between threads and must be treated as read-only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

#define KEY_MAX 40

typedef struct slot {
    uint8_t key[KEY_MAX];
    size_t klen, rlen;
    uint8_t *raw; /* NULL: the key alone decides (immutable content) */
    json_t *json;
} slot;

struct tt_jcache {
    pthread_mutex_t lock;
    size_t n; /* a power of two */
    slot *slots;
};

tt_jcache *tt_jcache_new(size_t n)
{
    tt_jcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->slots = calloc(n, sizeof *c->slots);
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->n = n;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void tt_jcache_free(tt_jcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->slots[i].raw);
        json_decref(c->slots[i].json);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c);
}

static slot *slot_of(tt_jcache *c, const void *key, size_t klen)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ ((const uint8_t *)key)[i]) * 1099511628211u;
    return &c->slots[h & (c->n - 1)];
}

json_t *tt_jcache_get(tt_jcache *c, const void *key, size_t klen, const void *raw, size_t rlen)
{
    if (c == NULL || klen > KEY_MAX)
        return NULL;
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    slot *s = slot_of(c, key, klen);
    if (s->json && s->klen == klen && memcmp(s->key, key, klen) == 0 &&
        (raw == NULL ? s->raw == NULL
                     : s->raw && s->rlen == rlen && memcmp(s->raw, raw, rlen) == 0))
        j = json_incref(s->json);
    pthread_mutex_unlock(&c->lock);
    return j;
}

void tt_jcache_put(tt_jcache *c, const void *key, size_t klen, const void *raw, size_t rlen,
                   json_t *json)
{
    if (c == NULL || klen > KEY_MAX || json == NULL)
        return;
    uint8_t *copy = NULL;
    if (raw && (copy = malloc(rlen ? rlen : 1)) == NULL)
        return;
    if (raw)
        memcpy(copy, raw, rlen);
    pthread_mutex_lock(&c->lock);
    slot *s = slot_of(c, key, klen);
    json_t *old = s->json;
    uint8_t *old_raw = s->raw;
    memcpy(s->key, key, klen);
    s->klen = klen;
    s->raw = copy;
    s->rlen = rlen;
    s->json = json_incref(json);
    pthread_mutex_unlock(&c->lock);
    free(old_raw);
    json_decref(old);
}
