/*
 * rec.c: derived records (batches, actors, the children index, the ledger's
 * state) in a versioned binary layout instead of sorted JSON text.
 *
 * A record is the byte TT_REC_V1 and then one value:
 *
 *   0x00 null   0x01 false   0x02 true
 *   0x03 integer: a zigzag varint (LEB128)
 *   0x04 real: 8 bytes, IEEE 754 binary64, little-endian
 *   0x05 string: varint length, then its UTF-8 bytes
 *   0x06 array: varint count, then that many values
 *   0x07 object: varint count, then for each member (keys in bytewise order,
 *        as JSON_SORT_KEYS orders them) its key and value. A key is a varint
 *        h: h odd names key number h >> 1 of the table below (the keys the
 *        rules write), h even gives the length h >> 1 of the UTF-8 bytes
 *        that follow
 *   0x08 a string of exactly 64 lowercase hex digits (a SHA-256, a key):
 *        its 32 bytes (layout 4)
 *
 * The same value always gives the same bytes, so audit's replay still
 * rebuilds every record byte for byte. Writing needs no number formatting or
 * string escaping and reading no lexing, which is where the sorted-JSON
 * records cost the writer and every reader most (docs/bench.md). A record
 * that does not decode (damaged, or of another layout) reads as NULL.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/jalloc.h"
#include "base/buf.h"
#include "store/ledger_internal.h"

#define DEPTH_MAX 32

/* The keys derived records use most, by number. Layout 3 fixes this table: a key added,
 * removed or moved is a new layout (TT_STATE_LAYOUT), which rebuilds the records. */
static const char *const KEYS[] = {
    "id", "status", "holder", "holders", "pending_to", "qty", "registered", "remaining", "sold",
    "moved_out", "destroyed", "herb", "name_zh", "latin", "latin_drug", "part", "pinyin",
    "category", "listing", "origin", "province", "city", "county", "base", "daodi", "lat", "lon",
    "form", "grade", "processing", "harvest_date", "created_seq", "updated_seq", "transfer_seq",
    "children_count", "parents", "qty_g", "via", "seq", "registered_by", "inspections", "lab",
    "standard", "results", "test", "value", "unit", "verdict", "limit", "limit_unit",
    "report_sha256", "at", "by", "held_from", "held_seq", "hold_reason", "hold_fail_seq",
    "release_reason", "recalled_seq", "recall_root", "recall_reason", "reject_reason",
    "cancel_seq", "destroy_reason", "gtin", "product_name", "composition", "compound",
    "yield_permille", "mixed", "as_written", "key", "name", "org", "licence", "stall", "roles",
    "enrolled_seq", "enrolled_by", "revoked_seq", "revoke_reason", "retired_keys",
    "rotated_seq", "authority", "edition", "source", "species", "parts", "parent", "review",
    "market", "limits_seq", "base_url", "g", "inspector", "documents", "kind", "sha256",
    "unlisted", "note", "method", "inputs", "output", "children", "buyer_commitment",
    "children_total", "plant", "type"};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

/* key -> its number + 1, by open addressing over FNV-1a; made once */
static uint16_t key_slots[512];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static uint32_t fnv(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

static void keys_init(void)
{
    for (size_t i = 0; i < NKEYS; i++) {
        uint32_t h = fnv(KEYS[i], strlen(KEYS[i])) & 511;
        while (key_slots[h])
            h = (h + 1) & 511;
        key_slots[h] = (uint16_t)(i + 1);
    }
}

/* The number of key k, or -1. */
static int key_number(const char *k, size_t n)
{
    pthread_once(&key_once, keys_init);
    for (uint32_t h = fnv(k, n) & 511; key_slots[h]; h = (h + 1) & 511) {
        const char *c = KEYS[key_slots[h] - 1];
        if (strncmp(c, k, n) == 0 && c[n] == '\0')
            return key_slots[h] - 1;
    }
    return -1;
}

typedef tt_buf obuf;

static void need(obuf *b, size_t more)
{
    (void)tt_buf_need(b, more); /* b->failed says how it went */
}

static void put_byte(obuf *b, uint8_t c)
{
    tt_buf_putc(b, (char)c);
}

static void put_varint(obuf *b, uint64_t v)
{
    need(b, 10);
    if (b->failed)
        return;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        b->p[b->n++] = (char)(c | (v ? 0x80 : 0));
    } while (v);
}

static void put_bytes(obuf *b, const void *s, size_t len)
{
    put_varint(b, len);
    tt_buf_put(b, s, len);
}

typedef struct member {
    const char *key;
    size_t len;
    json_t *value;
} member;

static int by_key(const void *a, const void *b)
{
    const member *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* An object's members in key order. Keys are unique, so any sort gives the same order; most
 * objects hold a few dozen keys at most, where an insertion sort in place beats glibc's qsort
 * (a merge sort through a buffer, with a call through a pointer for every comparison). */
static void sort_members(member *m, size_t n)
{
    if (n > 32) {
        qsort(m, n, sizeof *m, by_key);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        member x = m[i];
        size_t j = i;
        for (; j > 0 && by_key(&m[j - 1], &x) > 0; j--)
            m[j] = m[j - 1];
        m[j] = x;
    }
}

/* Whether s (64 characters and its NUL) is lowercase hex; its bytes to raw. Only lowercase,
 * so that the record gives back the very string (tt_hex writes lowercase). */
static int hex32(const char *s, uint8_t raw[32])
{
    return strspn(s, "0123456789abcdef") == 64 && tt_unhex(s, raw, 32) == TT_OK;
}

static void put_value(obuf *b, json_t *v, int depth)
{
    if (v == NULL || depth > DEPTH_MAX) { /* NULL: a value that could not be made */
        b->failed = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_NULL:
        put_byte(b, 0x00);
        break;
    case JSON_FALSE:
        put_byte(b, 0x01);
        break;
    case JSON_TRUE:
        put_byte(b, 0x02);
        break;
    case JSON_INTEGER: {
        int64_t i = (int64_t)json_integer_value(v);
        put_byte(b, 0x03);
        put_varint(b, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        uint64_t u;
        memcpy(&u, &d, 8);
        put_byte(b, 0x04);
        need(b, 8);
        for (int k = 0; k < 8 && !b->failed; k++)
            b->p[b->n++] = (char)(u >> (8 * k));
        break;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        uint8_t raw[32];
        if (n == 64 && hex32(s, raw)) {
            put_byte(b, 0x08);
            tt_buf_put(b, raw, sizeof raw);
        } else {
            put_byte(b, 0x05);
            put_bytes(b, s, n);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i, n = json_array_size(v);
        json_t *x;
        put_byte(b, 0x06);
        put_varint(b, n);
        json_array_foreach(v, i, x) put_value(b, x, depth + 1);
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        member stack[32], *m = n <= 32 ? stack : malloc(n * sizeof *m);
        if (m == NULL) {
            b->failed = 1;
            return;
        }
        const char *k;
        size_t kl;
        json_t *x;
        json_object_keylen_foreach(v, k, kl, x) m[i++] = (member){k, kl, x};
        sort_members(m, n);
        put_byte(b, 0x07);
        put_varint(b, n);
        for (i = 0; i < n; i++) {
            int id = key_number(m[i].key, m[i].len);
            if (id >= 0) {
                put_varint(b, (uint64_t)id << 1 | 1);
            } else {
                put_varint(b, (uint64_t)m[i].len << 1);
                need(b, m[i].len);
                if (!b->failed && m[i].len) {
                    memcpy(b->p + b->n, m[i].key, m[i].len);
                    b->n += m[i].len;
                }
            }
            put_value(b, m[i].value, depth + 1);
        }
        if (m != stack)
            free(m);
        break;
    }
    }
}

char *tt_rec_encode(json_t *v, size_t *len)
{
    obuf b = {NULL, 0, 0, 0};
    put_byte(&b, TT_REC_V1);
    put_value(&b, v, 0);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

typedef struct ibuf {
    const uint8_t *p, *end;
} ibuf;

static int get_varint(ibuf *b, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p == b->end)
            return 0;
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static json_t *get_value(ibuf *b, int depth)
{
    uint64_t n;
    if (b->p == b->end || depth > DEPTH_MAX)
        return NULL;
    switch (*b->p++) {
    case 0x00:
        return json_null();
    case 0x01:
        return json_false();
    case 0x02:
        return json_true();
    case 0x03:
        if (!get_varint(b, &n))
            return NULL;
        return json_integer((json_int_t)((n >> 1) ^ (~(n & 1) + 1)));
    case 0x04: {
        if (b->end - b->p < 8)
            return NULL;
        uint64_t u = 0;
        for (int k = 0; k < 8; k++)
            u |= (uint64_t)b->p[k] << (8 * k);
        b->p += 8;
        double d;
        memcpy(&d, &u, 8);
        return json_real(d);
    }
    case 0x05:
        if (!get_varint(b, &n) || n > (uint64_t)(b->end - b->p))
            return NULL;
        b->p += n;
        return json_stringn_nocheck((const char *)b->p - n, (size_t)n);
    case 0x08: {
        if (b->end - b->p < 32)
            return NULL;
        char hex[65];
        tt_hex((tt_bytes){32, b->p}, hex);
        b->p += 32;
        return json_stringn_nocheck(hex, 64);
    }
    case 0x06: {
        if (!get_varint(b, &n) || n > (uint64_t)(b->end - b->p))
            return NULL;
        json_t *a = json_array();
        for (uint64_t i = 0; a && i < n; i++) {
            json_t *x = get_value(b, depth + 1);
            if (x == NULL || json_array_append_new(a, x) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case 0x07: {
        if (!get_varint(b, &n) || n > (uint64_t)(b->end - b->p))
            return NULL;
        json_t *o = json_object();
        for (uint64_t i = 0; o && i < n; i++) {
            uint64_t h, kl;
            const char *k;
            if (!get_varint(b, &h)) {
                json_decref(o);
                return NULL;
            }
            if (h & 1) { /* a key of the table */
                if ((h >> 1) >= NKEYS) {
                    json_decref(o);
                    return NULL;
                }
                k = KEYS[h >> 1];
                kl = strlen(k);
            } else {
                kl = h >> 1;
                if (kl > (uint64_t)(b->end - b->p) || memchr(b->p, 0, (size_t)kl)) {
                    json_decref(o);
                    return NULL;
                }
                k = (const char *)b->p;
                b->p += kl;
            }
            json_t *x = get_value(b, depth + 1);
            if (x == NULL || json_object_setn_new_nocheck(o, k, (size_t)kl, x) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_t *tt_rec_decode(const void *data, size_t len)
{
    ibuf b = {data, (const uint8_t *)data + len};
    if (len < 2 || *b.p++ != TT_REC_V1)
        return NULL;
    unsigned long mark = tt_jalloc_watch();
    json_t *v = get_value(&b, 0);
    if (v && (b.p != b.end || tt_jalloc_ran_out(mark))) { /* trailing bytes, or a member lost
                                                          * when memory ran out: no record */
        json_decref(v);
        return NULL;
    }
    return v;
}
