/*
 * stored.c: how an entry lies in the store.
 *
 * An entry's wire bytes (DESIGN §3) are what everything outside the store
 * sees: what is hashed, proved, served in tiles and verified. In the store
 * an entry whose body deflates smaller is kept as
 *
 *   u8      0x81          the stored form: a version 1 entry, body deflated
 *   u8[148] header        the entry's own header after its version byte,
 *                         body_len (the inflated length) included
 *   u8[]    deflated      the body as a raw deflate stream (RFC 1951) made
 *                         with the preset dictionary below
 *
 * and any other entry as its wire bytes, which begin with 0x01. Inflating
 * gives back the signed bytes exactly, so nothing is ever re-serialized; a
 * stored value that does not inflate to exactly body_len bytes, or whose
 * last byte's padding is not zero, is damage, named as such.
 *
 * The dictionary is the text an event body is made of (its field names,
 * types and the syntax around them), most common last, where deflate
 * reaches it most cheaply. An entry's stored bytes depend on it forever:
 * it must never change (test_entry checks its hash). A new dictionary
 * would be a new first byte.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/ledger_internal.h"

static const char dictionary[] =
    "\"log_key\":\"\",\"market\":\"\",\"authorities\":[{\"base_url\":\"https://\","
    "\"edition\":\"\",\"source\":\"\",\"herbs\":[{\"pinyin\":\"\",\"species\":\"\",\"parts\":[\"\"]"
    ","
    "\"parent\":\"\",\"review\":\"\",\"withdrawn\":true,\"table\":{"
    "\"type\":\"ledger.limits\",\"type\":\"ledger.herbs\",\"type\":\"ledger.genesis\","
    "\"type\":\"actor.rotate\",\"new_key\":\"\",\"type\":\"actor.revoke\","
    "\"type\":\"actor.enroll\",\"key\":\"\",\"name\":\"\",\"org\":\"\",\"licence\":\"\",\"stall\":"
    "\"\","
    "\"roles\":[\"grower\",\"trader\",\"processor\",\"inspector\",\"pharmacy\",\"regulator\"],"
    "\"type\":\"batch.process\",\"inputs\":[\"\"],\"output\":{\"compound\":true,\"gtin\":\"\","
    "\"type\":\"batch.recall\",\"type\":\"batch.release\",\"type\":\"batch.hold\","
    "\"type\":\"batch.destroy\",\"method\":\"\",\"type\":\"batch.reject\",\"reason\":\"\","
    "\"type\":\"batch.cancel\",\"type\":\"batch.inspect\",\"lab\":\"\",\"standard\":\"\","
    "\"results\":[{\"test\":\"\",\"value\":\"\",\"unit\":\"mg/kg\"},{\"test\":\"\",\"value\":\"\","
    "\"unit\":\"%\"}],\"report_sha256\":\"\",\"type\":\"batch.split\",\"children\":[{\"id\":\"\","
    "\"qty_g\":},{\"id\":\"\",\"qty_g\":}],\"type\":\"batch.transfer\",\"to\":\"\",\"child\":\"\","
    "\"note\":\"\",\"type\":\"batch.receive\",\"type\":\"batch.sell\",\"buyer_commitment\":\"\","
    "{\"v\":1,\"type\":\"batch.register\",\"at\":\"2026-01-01T00:00:00+08:00\",\"nonce\":\"\","
    "\"id\":\"\",\"herb\":{\"name_zh\":\"\",\"latin\":\"\",\"part\":\"\",\"category\":\"plant\"},"
    "\"unlisted\":true,\"form\":\"\",\"origin\":{\"province\":\"\",\"city\":\"\",\"county\":\"\","
    "\"base\":\"\",\"lat\":\"\",\"lon\":\"\",\"daodi\":true},\"harvest_date\":\"20\",\"grade\":"
    "\"\","
    "\"processing\":\"\",\"qty_g\":,\"documents\":[{\"sha256\":\"\",\"kind\":\"\"}]}";

/* Raw deflate with a 2 KB window: a body and the dictionary both fit in it, and the
 * state is small enough to live on the stack, so no call allocates. Memory level 4:
 * zlib's symbol buffer holds 1,024 symbols, so a registration's body is one block with
 * one set of Huffman trees (at level 2 a body of more than 255 literals and matches is
 * cut into several blocks, each with trees of its own), and its hash has 2,048 heads.
 * On 3,000 bodies of the bench's 1M ledger: 17% fewer instructions than level 2 and
 * 1.5% fewer bytes (docs/bench.md). Its state (about 22 KB) fits the arena. */
#define WINDOW_BITS 11
#define MEM_LEVEL 4
/* zlib's level 3 (its fast matcher): 18% fewer instructions than the default 6 for a
 * registration's body, 1-4% larger bodies (docs/bench.md). Any level inflates the same. */
#define LEVEL 3

/* zlib's memory comes from an arena on the caller's stack. */
typedef struct arena {
    size_t used;
    _Alignas(max_align_t) unsigned char mem[24 * 1024];
} arena;

static voidpf arena_alloc(voidpf opaque, uInt items, uInt size)
{
    arena *a = opaque;
    size_t n = (size_t)items * size, at = (a->used + 15) & ~(size_t)15;
    if (items != 0 && n / items != size)
        return Z_NULL;
    if (at > sizeof a->mem || n > sizeof a->mem - at)
        return Z_NULL;
    a->used = at + n;
    return a->mem + at;
}

static void arena_free(voidpf opaque, voidpf p)
{
    (void)opaque, (void)p;
}

const void *tt_stored_dictionary(size_t *len)
{
    *len = sizeof dictionary - 1;
    return dictionary;
}

/* zlib's memory for a copy of a thread's primed deflater: from the arena the copy's
 * caller points `at` to (deflateCopy allocates through the source's allocator). */
typedef struct redirect {
    arena *at;
} redirect;

static voidpf redirect_alloc(voidpf opaque, uInt items, uInt size)
{
    return arena_alloc(((redirect *)opaque)->at, items, size);
}

/* A deflater with the dictionary already set, one a thread: setting the dictionary
 * hashes all of its 1,382 bytes, a third of what deflating a body cost; copying a
 * primed state is a few memcpys. */
typedef struct primed {
    arena mem;
    redirect to;
    z_stream z;
} primed;

static pthread_key_t primed_key;
static pthread_once_t primed_once = PTHREAD_ONCE_INIT;

static void primed_free(void *p)
{
    primed *pr = p;
    pr->to.at = &pr->mem;
    deflateEnd(&pr->z);
    free(pr);
}

static void primed_init(void)
{
    (void)pthread_key_create(&primed_key, primed_free);
}

static primed *thread_primed(void)
{
    pthread_once(&primed_once, primed_init);
    primed *pr = pthread_getspecific(primed_key);
    if (pr)
        return pr;
    if ((pr = malloc(sizeof *pr)) == NULL)
        return NULL;
    pr->mem.used = 0;
    pr->to.at = &pr->mem;
    memset(&pr->z, 0, sizeof pr->z);
    pr->z.zalloc = redirect_alloc;
    pr->z.zfree = arena_free;
    pr->z.opaque = &pr->to;
    if (deflateInit2(&pr->z, LEVEL, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(pr);
        return NULL;
    }
    if (deflateSetDictionary(&pr->z, (const Bytef *)dictionary, sizeof dictionary - 1) != Z_OK ||
        pthread_setspecific(primed_key, pr) != 0) {
        primed_free(pr);
        return NULL;
    }
    return pr;
}

size_t tt_stored_body(tt_bytes body, uint8_t *out, size_t cap)
{
    if (body.size <= 16 || body.size > TT_BODY_MAX)
        return 0;
    primed *pr = thread_primed();
    if (pr == NULL)
        return 0;
    arena a; /* not zeroed: zlib initializes what it takes */
    a.used = 0;
    z_stream z;
    pr->to.at = &a; /* the copy's memory */
    int copied = deflateCopy(&z, &pr->z);
    pr->to.at = &pr->mem; /* the primed deflater never points at this call's stack after it */
    if (copied != Z_OK)
        return 0;
    size_t room = body.size - 1 < cap ? body.size - 1 : cap; /* only a smaller form is kept */
    size_t n = 0;
    z.next_in = (Bytef *)body.data;
    z.avail_in = (uInt)body.size;
    z.next_out = out;
    z.avail_out = (uInt)room;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END)
        n = z.total_out;
    deflateEnd(&z);
    return n;
}

size_t tt_stored_pack_with(const uint8_t *entry, size_t len, const uint8_t *body, size_t blen,
                           uint8_t *out, size_t cap)
{
    if (len <= TT_ENTRY_HEADER_SIZE || entry[0] != TT_ENTRY_VERSION || cap < TT_ENTRY_HEADER_SIZE)
        return 0;
    tt_bytes wire = {len - TT_ENTRY_HEADER_SIZE, entry + TT_ENTRY_HEADER_SIZE};
    size_t n;
    if (body) { /* deflated before, by another thread: inflated here to be sure of it */
        uint8_t *check = malloc(len);
        size_t back = 0;
        int same = check && blen > 0 && blen < wire.size && blen <= cap - TT_ENTRY_HEADER_SIZE;
        if (same) {
            out[0] = TT_STORED_DEFLATED;
            memcpy(out + 1, entry + 1, TT_ENTRY_HEADER_SIZE - 1);
            memcpy(out + TT_ENTRY_HEADER_SIZE, body, blen);
            same = tt_stored_unpack((tt_bytes){TT_ENTRY_HEADER_SIZE + blen, out}, check, len, &back,
                                    NULL) == TT_OK &&
                   back == len && memcmp(check, entry, len) == 0;
        }
        free(check);
        return same ? TT_ENTRY_HEADER_SIZE + blen
                    : tt_stored_pack_with(entry, len, NULL, 0, out, cap);
    }
    n = tt_stored_body(wire, out + TT_ENTRY_HEADER_SIZE, cap - TT_ENTRY_HEADER_SIZE);
    if (n == 0)
        return 0;
    out[0] = TT_STORED_DEFLATED;
    memcpy(out + 1, entry + 1, TT_ENTRY_HEADER_SIZE - 1);
    return TT_ENTRY_HEADER_SIZE + n;
}

size_t tt_stored_pack(const uint8_t *entry, size_t len, uint8_t *out, size_t cap)
{
    return tt_stored_pack_with(entry, len, NULL, 0, out, cap);
}

size_t tt_stored_size(tt_bytes stored)
{
    if (stored.size >= TT_ENTRY_HEADER_SIZE && stored.data[0] == TT_STORED_DEFLATED) {
        const uint8_t *p = stored.data + TT_ENTRY_HEADER_SIZE - 4;
        uint32_t body = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        return TT_ENTRY_HEADER_SIZE + (size_t)body;
    }
    return stored.size;
}

tt_err tt_stored_unpack(tt_bytes stored, uint8_t *out, size_t cap, size_t *len, tt_error *err)
{
    if (stored.size == 0 || stored.data[0] != TT_STORED_DEFLATED) {
        if (stored.size > cap)
            return tt_fail(err, TT_ERR_TOO_LARGE, "a stored entry is larger than its room");
        memcpy(out, stored.data, stored.size);
        *len = stored.size;
        return TT_OK;
    }
    size_t want = tt_stored_size(stored);
    if (stored.size < TT_ENTRY_HEADER_SIZE || want > TT_ENTRY_LIMIT)
        return tt_fail(err, TT_ERR_MALFORMED, "a stored entry's header is damaged");
    if (want > cap)
        return tt_fail(err, TT_ERR_TOO_LARGE, "a stored entry is larger than its room");
    arena a; /* not zeroed: zlib initializes what it takes */
    a.used = 0;
    z_stream z = {.zalloc = arena_alloc, .zfree = arena_free, .opaque = &a};
    if (inflateInit2(&z, -WINDOW_BITS) != Z_OK)
        return tt_fail(err, TT_ERR_NOMEM, "cannot inflate a stored entry");
    int zr = inflateSetDictionary(&z, (const Bytef *)dictionary, sizeof dictionary - 1);
    if (zr == Z_OK) {
        z.next_in = (Bytef *)(stored.data + TT_ENTRY_HEADER_SIZE);
        z.avail_in = (uInt)(stored.size - TT_ENTRY_HEADER_SIZE);
        z.next_out = out + TT_ENTRY_HEADER_SIZE;
        z.avail_out = (uInt)(want - TT_ENTRY_HEADER_SIZE);
        /* block by block, to stop after the last one and see its padding: deflate pads the
         * last byte with zero bits, and an entry whose padding is not zero has been changed
         * in the store, though its body would inflate the same */
        do
            zr = inflate(&z, Z_BLOCK);
        while (zr == Z_OK && (z.data_type & (64 | 128)) != (64 | 128) && z.avail_in > 0);
        unsigned unused = (unsigned)z.data_type & 63;
        if (zr == Z_OK && (z.data_type & (64 | 128)) == (64 | 128) && unused < 8 &&
            z.next_in > stored.data + TT_ENTRY_HEADER_SIZE &&
            (unused == 0 || (z.next_in[-1] >> (8 - unused)) == 0))
            zr = inflate(&z, Z_FINISH);
        else if (zr == Z_OK || zr == Z_STREAM_END)
            zr = Z_DATA_ERROR;
    }
    int whole = zr == Z_STREAM_END && z.avail_in == 0 && z.avail_out == 0;
    inflateEnd(&z);
    if (!whole)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "a stored entry's body does not inflate to its %zu bytes: the store is "
                       "damaged",
                       want - TT_ENTRY_HEADER_SIZE);
    out[0] = TT_ENTRY_VERSION;
    memcpy(out + 1, stored.data + 1, TT_ENTRY_HEADER_SIZE - 1);
    *len = want;
    return TT_OK;
}

tt_err tt_stored_view(tt_bytes stored, tt_stored_buf *buf, tt_bytes *entry, tt_error *err)
{
    if (stored.size == 0 || stored.data[0] != TT_STORED_DEFLATED) {
        *entry = stored; /* the wire bytes themselves, in the map */
        return TT_OK;
    }
    size_t want = tt_stored_size(stored), len;
    if (want > TT_ENTRY_LIMIT)
        return tt_fail(err, TT_ERR_MALFORMED, "a stored entry's header is damaged");
    if (buf->cap < want) {
        uint8_t *nb = realloc(buf->data, want);
        if (nb == NULL)
            return tt_fail(err, TT_ERR_NOMEM, NULL);
        buf->data = nb, buf->cap = want;
    }
    tt_err rc = tt_stored_unpack(stored, buf->data, buf->cap, &len, err);
    if (rc == TT_OK)
        *entry = (tt_bytes){len, buf->data};
    return rc;
}

void tt_stored_buf_free(tt_stored_buf *buf)
{
    free(buf->data);
    buf->data = NULL, buf->cap = 0;
}
