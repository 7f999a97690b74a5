/*
 * bytes.c: hex, base64, big-endian integers and UTF-8 validation.
 *
 * The codecs are libsodium's; this file only fixes the variants the wire
 * formats use (C2SP notes want standard padded base64, nonces and labels
 * want URL-safe unpadded) and makes decoding strict: no trailing garbage.
 * libsodium itself refuses whitespace (no ignore set), wrong padding and
 * non-zero padding bits, so each value has one encoding.
 */
#include "tcmtrace/bytes.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

tt_bytes tt_bytes_str(const char *s)
{
    tt_bytes b = {strlen(s), (const uint8_t *)s};
    return b;
}

void tt_hex(tt_bytes in, char *out)
{
    sodium_bin2hex(out, in.size * 2 + 1, in.data, in.size);
}

tt_err tt_unhex(const char *hex, uint8_t *out, size_t outlen)
{
    size_t len = 0;
    const char *end = NULL;
    if (strlen(hex) != outlen * 2)
        return TT_ERR_MALFORMED;
    if (sodium_hex2bin(out, outlen, hex, outlen * 2, NULL, &len, &end) != 0 || len != outlen ||
        *end != '\0')
        return TT_ERR_MALFORMED;
    return TT_OK;
}

size_t tt_b64_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

void tt_b64(tt_bytes in, char *out)
{
    sodium_bin2base64(out, tt_b64_len(in.size), in.data, in.size, sodium_base64_VARIANT_ORIGINAL);
}

size_t tt_b64url_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void tt_b64url(tt_bytes in, char *out)
{
    sodium_bin2base64(out, tt_b64url_len(in.size), in.data, in.size,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

tt_err tt_unb64(const char *in, size_t len, int url, uint8_t *out, size_t cap, size_t *outlen)
{
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, len, NULL, &n, &end, variant) != 0)
        return TT_ERR_MALFORMED;
    if (end != in + len)
        return TT_ERR_MALFORMED;
    if (outlen)
        *outlen = n;
    return TT_OK;
}

void tt_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void tt_put_u64be(uint8_t *p, uint64_t v)
{
    tt_put_u32be(p, (uint32_t)(v >> 32));
    tt_put_u32be(p + 4, (uint32_t)v);
}

uint32_t tt_get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t tt_get_u64be(const uint8_t *p)
{
    return (uint64_t)tt_get_u32be(p) << 32 | tt_get_u32be(p + 4);
}

int tt_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ULL) == 0)) {
            i += 8; /* eight ASCII bytes at once: most of what is checked */
            continue;
        }
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}
