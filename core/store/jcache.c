/*
 * jcache.c: parsed JSON kept for the next read of the same bytes.
 *
 * Reading state means parsing JSON records, and a trace parses the same
 * ancestors and entries again for every descendant that is looked up.
 * A slot holds a key, the raw bytes the value was parsed from and the
 * parsed value. A lookup hits only when the key and the bytes read in the
 * caller's transaction are both equal, so a record that changed is parsed
 * afresh: the cache never needs to be told about writes.
 *
 * Each thread has caches of its own, for one ledger at a time: jansson
 * does no locking, so no parsed value is ever seen by two threads. Values
 * handed out are shared with the cache and must be treated as read-only.
 *
 * The writer uses the same cache the other way round: a record it stores
 * is put here with the bytes it was stored as, and the next event that
 * changes it takes it out again (tt_jcache_take) instead of parsing it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/ledger_internal.h"

#define KEY_MAX 40

typedef struct slot {
    uint8_t key[KEY_MAX];
    size_t klen, rlen;
    uint8_t *raw; /* NULL: the key alone decides (immutable content) */
    json_t *json;
} slot;

typedef struct cache {
    size_t n; /* a power of two */
    slot *slots;
} cache;

typedef struct thread_caches {
    uint64_t ledger; /* the tt_ledger uid the caches are for */
    cache *c[TT_JCACHE_COUNT];
} thread_caches;

/* full, about 10 MB of records (9 KB each, parsed) and 3 MB of summaries a thread */
static const size_t SLOTS[TT_JCACHE_COUNT] = {1024, 2048};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t next_uid = 1;

static void cache_free(cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->slots[i].raw);
        json_decref(c->slots[i].json);
    }
    free(c->slots);
    free(c);
}

static void caches_free(void *p)
{
    thread_caches *t = p;
    for (int i = 0; i < TT_JCACHE_COUNT; i++)
        cache_free(t->c[i]);
    free(t);
}

static void tls_init(void)
{
    pthread_key_create(&tls_key, caches_free);
}

uint64_t tt_jcache_uid(void)
{
    return atomic_fetch_add(&next_uid, 1);
}

/* This thread's cache `which` for ledger `uid` (NULL without memory). */
static cache *cache_of(uint64_t uid, tt_jcache_id which)
{
    pthread_once(&tls_once, tls_init);
    thread_caches *t = pthread_getspecific(tls_key);
    if (t == NULL) {
        if ((t = calloc(1, sizeof *t)) == NULL)
            return NULL;
        pthread_setspecific(tls_key, t);
    }
    if (t->ledger != uid) { /* another ledger: start afresh */
        for (int i = 0; i < TT_JCACHE_COUNT; i++) {
            cache_free(t->c[i]);
            t->c[i] = NULL;
        }
        t->ledger = uid;
    }
    if (t->c[which] == NULL) {
        cache *c = calloc(1, sizeof *c);
        if (c == NULL || (c->slots = calloc(SLOTS[which], sizeof *c->slots)) == NULL) {
            free(c);
            return NULL;
        }
        c->n = SLOTS[which];
        t->c[which] = c;
    }
    return t->c[which];
}

static slot *slot_of(cache *c, const void *key, size_t klen)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ ((const uint8_t *)key)[i]) * 1099511628211u;
    return &c->slots[h & (c->n - 1)];
}

/* The slot holding the value of `key` parsed from `raw`, or NULL. */
static slot *slot_hit(uint64_t uid, tt_jcache_id which, const void *key, size_t klen,
                      const void *raw, size_t rlen)
{
    cache *c = klen <= KEY_MAX ? cache_of(uid, which) : NULL;
    if (c == NULL)
        return NULL;
    slot *s = slot_of(c, key, klen);
    if (s->json && s->klen == klen && memcmp(s->key, key, klen) == 0 &&
        (raw == NULL ? s->raw == NULL
                     : s->raw && s->rlen == rlen && memcmp(s->raw, raw, rlen) == 0))
        return s;
    return NULL;
}

json_t *tt_jcache_get(uint64_t uid, tt_jcache_id which, const void *key, size_t klen,
                      const void *raw, size_t rlen)
{
    slot *s = slot_hit(uid, which, key, klen, raw, rlen);
    return s ? json_incref(s->json) : NULL;
}

void tt_jcache_put(uint64_t uid, tt_jcache_id which, const void *key, size_t klen, const void *raw,
                   size_t rlen, json_t *json)
{
    cache *c = klen <= KEY_MAX && json ? cache_of(uid, which) : NULL;
    if (c == NULL)
        return;
    uint8_t *copy = NULL;
    if (raw && (copy = malloc(rlen ? rlen : 1)) == NULL)
        return;
    if (raw)
        memcpy(copy, raw, rlen);
    slot *s = slot_of(c, key, klen);
    free(s->raw);
    json_decref(s->json);
    memcpy(s->key, key, klen);
    s->klen = klen;
    s->raw = copy;
    s->rlen = rlen;
    s->json = json_incref(json);
}

json_t *tt_jcache_record(tt_ledger *l, MDB_txn *txn, tt_db db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key}, v;
    if (mdb_get(txn, l->dbi[db], &k, &v) != 0)
        return NULL;
    json_t *j = tt_jcache_get(l->uid, TT_JCACHE_RECORDS, key, klen, v.mv_data, v.mv_size);
    if (j == NULL && (j = tt_rec_decode(v.mv_data, v.mv_size)) != NULL)
        tt_jcache_put(l->uid, TT_JCACHE_RECORDS, key, klen, v.mv_data, v.mv_size, j);
    return j;
}

json_t *tt_jcache_take(tt_ledger *l, MDB_txn *txn, tt_db db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key}, v;
    if (mdb_get(txn, l->dbi[db], &k, &v) != 0)
        return NULL;
    slot *s = slot_hit(l->uid, TT_JCACHE_RECORDS, key, klen, v.mv_data, v.mv_size);
    if (s == NULL)
        return tt_rec_decode(v.mv_data, v.mv_size);
    json_t *j = s->json;
    s->json = NULL;
    free(s->raw);
    s->raw = NULL;
    if (j->refcount == 1) /* the cache's was the only reference: now the caller's */
        return j;
    json_t *copy = json_deep_copy(j); /* a reader of this thread still holds it */
    json_decref(j);
    return copy;
}
