/*
 * entry.c: the entry codec and event signatures.
 *
 * The daemon never re-serializes a body: the bytes the actor signed are the
 * bytes stored, hashed and proved. Decoding is strict so that one entry has
 * exactly one encoding, which makes the entry hash a function of the entry.
 */
#include "tcmtrace/entry.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/merkle.h"

size_t tt_entry_size(const tt_entry *e)
{
    return TT_ENTRY_HEADER_SIZE + e->body.size;
}

tt_err tt_entry_encode(const tt_entry *e, uint8_t *out, size_t cap, size_t *len, tt_error *err)
{
    if (e->body.size > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "event body is %zu bytes; the limit is %d",
                       e->body.size, TT_BODY_MAX);
    size_t need = tt_entry_size(e);
    if (cap < need)
        return tt_fail(err, TT_ERR_TOO_LARGE, "entry needs %zu bytes, buffer has %zu", need, cap);
    uint8_t *p = out;
    *p++ = e->version;
    tt_put_u64be(p, e->seq);
    p += 8;
    tt_put_u64be(p, e->time_ms);
    p += 8;
    memcpy(p, e->prev, TT_HASH_SIZE);
    p += TT_HASH_SIZE;
    memcpy(p, e->actor, TT_PK_SIZE);
    p += TT_PK_SIZE;
    memcpy(p, e->sig, TT_SIG_SIZE);
    p += TT_SIG_SIZE;
    tt_put_u32be(p, (uint32_t)e->body.size);
    p += 4;
    if (e->body.size)
        memcpy(p, e->body.data, e->body.size);
    *len = need;
    return TT_OK;
}

tt_err tt_entry_decode(tt_bytes in, tt_entry *e, tt_error *err)
{
    if (in.size < TT_ENTRY_HEADER_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "entry is %zu bytes, shorter than its %d-byte header",
                       in.size, TT_ENTRY_HEADER_SIZE);
    const uint8_t *p = in.data;
    e->version = *p++;
    if (e->version != TT_ENTRY_VERSION)
        return tt_fail(err, TT_ERR_MALFORMED, "entry version is %u; only %d is known", e->version,
                       TT_ENTRY_VERSION);
    e->seq = tt_get_u64be(p);
    p += 8;
    e->time_ms = tt_get_u64be(p);
    p += 8;
    memcpy(e->prev, p, TT_HASH_SIZE);
    p += TT_HASH_SIZE;
    memcpy(e->actor, p, TT_PK_SIZE);
    p += TT_PK_SIZE;
    memcpy(e->sig, p, TT_SIG_SIZE);
    p += TT_SIG_SIZE;
    uint32_t body_len = tt_get_u32be(p);
    p += 4;
    if (body_len > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "entry body_len is %u; the limit is %d", body_len,
                       TT_BODY_MAX);
    if (in.size - TT_ENTRY_HEADER_SIZE != body_len)
        return tt_fail(err, TT_ERR_MALFORMED, "entry body_len says %u bytes but %zu follow",
                       body_len, in.size - TT_ENTRY_HEADER_SIZE);
    e->body.size = body_len;
    e->body.data = p;
    return TT_OK;
}

void tt_entry_hash(tt_bytes in, uint8_t out[TT_HASH_SIZE])
{
    tt_merkle_leaf_hash(in, out);
}

/*
 * Ed25519 signs the message itself (no pre-hash), so the prefix and body are
 * laid out contiguously: in `stack` when they fit, else on the heap. Returns
 * the message or NULL when memory runs out; free with message_free().
 */
void tt_event_prefix(const char *origin, char out[TT_EVENT_PREFIX_MAX])
{
    if (origin == NULL)
        snprintf(out, TT_EVENT_PREFIX_MAX, "%s", TT_EVENT_SIG_PREFIX_V1);
    else
        snprintf(out, TT_EVENT_PREFIX_MAX, "%s%.255s\n", TT_EVENT_SIG_PREFIX, origin);
}

static uint8_t *message_new(const char *origin, tt_bytes body, uint8_t *stack, size_t stack_cap,
                            size_t *len)
{
    char prefix[TT_EVENT_PREFIX_MAX];
    tt_event_prefix(origin, prefix);
    size_t pl = strlen(prefix);
    uint8_t *buf = pl + body.size <= stack_cap ? stack : malloc(pl + body.size);
    if (buf == NULL)
        return NULL;
    memcpy(buf, prefix, pl);
    if (body.size)
        memcpy(buf + pl, body.data, body.size);
    *len = pl + body.size;
    return buf;
}

static void message_free(uint8_t *buf, const uint8_t *stack)
{
    if (buf != stack)
        free(buf);
}

void tt_event_sign(const char *origin, tt_bytes body, const uint8_t sk[TT_SK_SIZE],
                   uint8_t sig[TT_SIG_SIZE])
{
    uint8_t stack[4096];
    size_t len;
    uint8_t *msg = message_new(origin, body, stack, sizeof stack, &len);
    if (msg == NULL) {
        memset(sig, 0, TT_SIG_SIZE); /* an all-zero signature never verifies */
        return;
    }
    crypto_sign_detached(sig, NULL, msg, len, sk);
    message_free(msg, stack);
}

tt_err tt_event_verify(const char *origin, tt_bytes body, const uint8_t actor[TT_PK_SIZE],
                       const uint8_t sig[TT_SIG_SIZE])
{
    if (body.size > TT_BODY_MAX)
        return TT_ERR_TOO_LARGE;
    uint8_t stack[4096];
    size_t len;
    uint8_t *msg = message_new(origin, body, stack, sizeof stack, &len);
    if (msg == NULL)
        return TT_ERR_NOMEM;
    int rc = crypto_sign_verify_detached(sig, msg, len, actor);
    message_free(msg, stack);
    return rc == 0 ? TT_OK : TT_ERR_BAD_SIGNATURE;
}
