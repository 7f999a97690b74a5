/*
 * note.c: C2SP signed notes and checkpoints.
 *
 * Parsing is strict where the spec says MUST (UTF-8, no control characters
 * but newline, the text ends in a newline, signature lines are well formed)
 * and follows the spec's verification rule exactly: unknown keys are
 * ignored, even when they share a name or an ID (not both) with a known key;
 * a known key's bad signature rejects the whole note.
 */
#include "tcmtrace/note.h"
#include "tcmtrace/sha256.h"
#include "tcmtrace/smt.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char EM_DASH[] = "\xE2\x80\x94 ";
#define EM_DASH_LEN 4 /* E2 80 94 + space */
#define SIG_RAW 68    /* key ID + signature */

static uint32_t key_id_of(const char *name, uint8_t type, const uint8_t pk[TT_PK_SIZE])
{
    tt_sha256_state st;
    uint8_t h[32];
    const uint8_t sep[2] = {'\n', type};
    tt_sha256_init(&st);
    tt_sha256_update(&st, (const uint8_t *)name, strlen(name));
    tt_sha256_update(&st, sep, 2);
    tt_sha256_update(&st, pk, TT_PK_SIZE);
    tt_sha256_final(&st, h);
    return tt_get_u32be(h);
}

uint32_t tt_note_key_id(const char *name, const uint8_t pk[TT_PK_SIZE])
{
    return key_id_of(name, TT_SIG_NOTE, pk);
}

uint32_t tt_cosig_key_id(const char *name, const uint8_t pk[TT_PK_SIZE])
{
    return key_id_of(name, TT_SIG_COSIG, pk);
}

int tt_note_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TT_NOTE_NAME_MAX)
        return 0;
    if (!tt_utf8_valid((const uint8_t *)name, len))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == '+' || c == 0x7F)
            return 0;
        /* U+00A0, U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000 */
        if (c == 0xC2 && (unsigned char)name[i + 1] == 0xA0)
            return 0;
        if (c == 0xE3 && (unsigned char)name[i + 1] == 0x80 && (unsigned char)name[i + 2] == 0x80)
            return 0;
        if (c == 0xE2 && (unsigned char)name[i + 1] == 0x80) {
            unsigned char d = (unsigned char)name[i + 2];
            if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF)
                return 0;
        }
    }
    return 1;
}

tt_err tt_verifier_init(tt_verifier *v, const char *name, const uint8_t pk[TT_PK_SIZE],
                        tt_error *err)
{
    if (!tt_note_name_valid(name))
        return tt_fail(err, TT_ERR_ARGUMENT,
                       "key name \"%.64s\" must be non-empty, without spaces or '+'", name);
    snprintf(v->name, sizeof v->name, "%s", name);
    memcpy(v->pk, pk, TT_PK_SIZE);
    v->key_id = tt_note_key_id(name, pk);
    v->type = TT_SIG_NOTE;
    return TT_OK;
}

tt_err tt_cosigner_init(tt_verifier *v, const char *name, const uint8_t pk[TT_PK_SIZE],
                        tt_error *err)
{
    tt_err rc = tt_verifier_init(v, name, pk, err);
    if (rc != TT_OK)
        return rc;
    v->key_id = tt_cosig_key_id(name, pk);
    v->type = TT_SIG_COSIG;
    return TT_OK;
}

tt_err tt_verifier_parse(const char *vkey, tt_verifier *v, tt_error *err)
{
    const char *p1 = strchr(vkey, '+');
    const char *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
    if (p1 == NULL || p2 == NULL || p2 - p1 != 9)
        return tt_fail(err, TT_ERR_KEY_FORMAT,
                       "verifier key must read <name>+<8 hex digits>+<base64 key>");
    size_t nlen = (size_t)(p1 - vkey);
    if (nlen == 0 || nlen > TT_NOTE_NAME_MAX)
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key has an empty or overlong name");
    char name[TT_NOTE_NAME_MAX + 1];
    memcpy(name, vkey, nlen);
    name[nlen] = '\0';
    if (!tt_note_name_valid(name))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key name is not a valid key name");
    char hex[9];
    memcpy(hex, p1 + 1, 8);
    hex[8] = '\0';
    uint8_t idb[4];
    for (int i = 0; i < 8; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return tt_fail(err, TT_ERR_KEY_FORMAT,
                           "verifier key ID must be 8 lower-case hex digits");
    if (tt_unhex(hex, idb, 4) != TT_OK)
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key ID is not hex");
    uint8_t raw[64];
    size_t rawlen = 0;
    if (tt_unb64(p2 + 1, strlen(p2 + 1), 0, raw, sizeof raw, &rawlen) != TT_OK)
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key is not valid base64");
    if (rawlen == 0 || (raw[0] != TT_SIG_NOTE && raw[0] != TT_SIG_COSIG))
        return tt_fail(err, TT_ERR_KEY_FORMAT,
                       "verifier key is neither an Ed25519 signer (type 0x01) nor an Ed25519 "
                       "cosigner (type 0x04) key");
    if (rawlen != 1 + TT_PK_SIZE)
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key holds %zu bytes, not 33", rawlen);
    uint32_t id = tt_get_u32be(idb);
    if (id != key_id_of(name, raw[0], raw + 1))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "verifier key ID %s does not match its key", hex);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->key_id = id;
    v->type = raw[0];
    memcpy(v->pk, raw + 1, TT_PK_SIZE);
    return TT_OK;
}

void tt_verifier_format(const tt_verifier *v, char *out, size_t cap)
{
    uint8_t raw[1 + TT_PK_SIZE];
    raw[0] = v->type == TT_SIG_COSIG ? TT_SIG_COSIG : TT_SIG_NOTE;
    memcpy(raw + 1, v->pk, TT_PK_SIZE);
    char b64[64];
    tt_b64((tt_bytes){sizeof raw, raw}, b64);
    snprintf(out, cap, "%s+%08" PRIx32 "+%s", v->name, v->key_id, b64);
}

/* UTF-8 and no control characters other than newline (signed-note MUSTs). */
static tt_err check_note_chars(tt_bytes note, tt_error *err)
{
    if (!tt_utf8_valid(note.data, note.size))
        return tt_fail(err, TT_ERR_MALFORMED, "note is not valid UTF-8");
    for (size_t i = 0; i < note.size; i++)
        if ((note.data[i] < 0x20 && note.data[i] != '\n') || note.data[i] == 0x7F)
            return tt_fail(err, TT_ERR_MALFORMED, "note holds control character 0x%02x at byte %zu",
                           note.data[i], i);
    return TT_OK;
}

tt_err tt_note_sign(tt_bytes text, const char *name, const uint8_t sk[TT_SK_SIZE], char **note,
                    size_t *note_len, tt_error *err)
{
    if (text.size == 0 || text.data[text.size - 1] != '\n')
        return tt_fail(err, TT_ERR_ARGUMENT, "note text must end with a newline");
    tt_err rc = check_note_chars(text, err);
    if (rc != TT_OK)
        return rc;
    if (!tt_note_name_valid(name))
        return tt_fail(err, TT_ERR_ARGUMENT, "key name must be non-empty, without spaces or '+'");
    uint8_t pk[TT_PK_SIZE];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    uint8_t raw[SIG_RAW];
    tt_put_u32be(raw, tt_note_key_id(name, pk));
    crypto_sign_detached(raw + 4, NULL, text.data, text.size, sk);
    char b64[128];
    tt_b64((tt_bytes){sizeof raw, raw}, b64);
    size_t len = text.size + 1 + EM_DASH_LEN + strlen(name) + 1 + strlen(b64) + 1;
    char *out = malloc(len + 1);
    if (out == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    memcpy(out, text.data, text.size);
    snprintf(out + text.size, len + 1 - text.size, "\n%s%s %s\n", EM_DASH, name, b64);
    *note = out;
    if (note_len)
        *note_len = len;
    return TT_OK;
}

#define COSIG_RAW 76 /* key ID + timestamp + signature */

/* "cosignature/v1\ntime T\n" || text, the message a cosigner signs (malloc'd). */
static uint8_t *cosig_message(tt_bytes text, uint64_t timestamp, size_t *len)
{
    char head[64];
    int h = snprintf(head, sizeof head, "cosignature/v1\ntime %" PRIu64 "\n", timestamp);
    uint8_t *m = malloc((size_t)h + text.size);
    if (m == NULL)
        return NULL;
    memcpy(m, head, (size_t)h);
    memcpy(m + h, text.data, text.size);
    *len = (size_t)h + text.size;
    return m;
}

tt_err tt_cosig_sign(tt_bytes text, const char *name, const uint8_t sk[TT_SK_SIZE],
                     uint64_t timestamp, char *line, size_t cap, tt_error *err)
{
    if (text.size == 0 || text.data[text.size - 1] != '\n')
        return tt_fail(err, TT_ERR_ARGUMENT, "checkpoint text must end with a newline");
    if (timestamp == 0 || timestamp > INT64_MAX)
        return tt_fail(err, TT_ERR_ARGUMENT, "a cosignature's time must be 1 to 2^63-1");
    if (!tt_note_name_valid(name))
        return tt_fail(err, TT_ERR_ARGUMENT, "key name must be non-empty, without spaces or '+'");
    uint8_t pk[TT_PK_SIZE];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    uint8_t raw[COSIG_RAW];
    tt_put_u32be(raw, tt_cosig_key_id(name, pk));
    tt_put_u64be(raw + 4, timestamp);
    size_t mlen;
    uint8_t *m = cosig_message(text, timestamp, &mlen);
    if (m == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    crypto_sign_detached(raw + 12, NULL, m, mlen, sk);
    free(m);
    char b64[128];
    tt_b64((tt_bytes){sizeof raw, raw}, b64);
    int n = snprintf(line, cap, "%s%s %s\n", EM_DASH, name, b64);
    if (n < 0 || (size_t)n >= cap)
        return tt_fail(err, TT_ERR_ARGUMENT, "no room for the cosignature line");
    return TT_OK;
}

/* Checks one signature line (without its newline) against the known keys. */
static tt_err check_sig_line(const char *line, size_t len, tt_bytes text, const tt_verifier *known,
                             size_t nknown, int *verified, int *found, uint64_t *times,
                             tt_error *err)
{
    if (len < EM_DASH_LEN || memcmp(line, EM_DASH, EM_DASH_LEN) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "signature line does not start with an em dash");
    const char *name = line + EM_DASH_LEN;
    const char *sp = memchr(name, ' ', len - EM_DASH_LEN);
    if (sp == NULL || sp == name || (size_t)(sp - name) > TT_NOTE_NAME_MAX)
        return tt_fail(err, TT_ERR_MALFORMED, "signature line has no key name");
    char nbuf[TT_NOTE_NAME_MAX + 1];
    memcpy(nbuf, name, (size_t)(sp - name));
    nbuf[sp - name] = '\0';
    if (!tt_note_name_valid(nbuf))
        return tt_fail(err, TT_ERR_MALFORMED, "signature line has an invalid key name");
    uint8_t raw[512];
    size_t rawlen = 0;
    const char *b64 = sp + 1;
    size_t b64len = len - (size_t)(b64 - line);
    if (tt_unb64(b64, b64len, 0, raw, sizeof raw, &rawlen) != TT_OK || rawlen < 5)
        return tt_fail(err, TT_ERR_MALFORMED, "signature of key \"%.64s\" is not base64", nbuf);
    uint32_t id = tt_get_u32be(raw);
    for (size_t k = 0; k < nknown; k++) {
        if (known[k].key_id != id || strcmp(known[k].name, nbuf) != 0)
            continue;
        uint64_t ts = 0;
        int good;
        if (known[k].type == TT_SIG_COSIG) {
            ts = rawlen == COSIG_RAW ? tt_get_u64be(raw + 4) : 0;
            size_t mlen = 0;
            uint8_t *m = rawlen == COSIG_RAW && ts != 0 && ts <= INT64_MAX
                             ? cosig_message(text, ts, &mlen)
                             : NULL;
            good = m && crypto_sign_verify_detached(raw + 12, m, mlen, known[k].pk) == 0;
            free(m);
        } else {
            good = rawlen == SIG_RAW &&
                   crypto_sign_verify_detached(raw + 4, text.data, text.size, known[k].pk) == 0;
        }
        if (!good)
            return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                           "signature by trusted key \"%.64s\" does not verify", nbuf);
        *verified = 1;
        if (found)
            found[k] = 1;
        if (times)
            times[k] = ts;
    }
    return TT_OK;
}

tt_err tt_note_split(tt_bytes note, size_t *text_len, tt_error *err)
{
    if (note.size < 2 || note.data[note.size - 1] != '\n')
        return tt_fail(err, TT_ERR_MALFORMED, "note does not end with a newline");
    for (size_t i = note.size - 1; i-- > 0;)
        if (note.data[i] == '\n' && note.data[i + 1] == '\n') {
            *text_len = i + 1;
            return TT_OK;
        }
    return tt_fail(err, TT_ERR_MALFORMED, "note has no blank line before its signatures");
}

tt_err tt_note_verify(tt_bytes note, const tt_verifier *known, size_t nknown, size_t *text_len,
                      tt_error *err)
{
    return tt_note_verify_each(note, known, nknown, NULL, NULL, text_len, err);
}

tt_err tt_note_verify_each(tt_bytes note, const tt_verifier *known, size_t nknown, int *found,
                           uint64_t *times, size_t *text_len, tt_error *err)
{
    int any = found != NULL;
    for (size_t k = 0; k < nknown; k++) {
        if (found)
            found[k] = 0;
        if (times)
            times[k] = 0;
    }
    if (note.size > TT_NOTE_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "note is %zu bytes; the limit is %d", note.size,
                       TT_NOTE_MAX);
    tt_err rc = check_note_chars(note, err);
    if (rc != TT_OK)
        return rc;
    /* The text ends at the last blank line. */
    size_t split = 0;
    rc = tt_note_split(note, &split, err);
    if (rc != TT_OK)
        return rc;
    tt_bytes text = {split, note.data};
    const char *p = (const char *)note.data + split + 1;
    const char *end = (const char *)note.data + note.size;
    if (p >= end)
        return tt_fail(err, TT_ERR_MALFORMED, "note has no signature lines");
    int verified = 0, nsigs = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (++nsigs > TT_NOTE_MAX_SIGS)
            return tt_fail(err, TT_ERR_TOO_LARGE, "note carries more than %d signatures",
                           TT_NOTE_MAX_SIGS);
        rc = check_sig_line(p, (size_t)(nl - p), text, known, nknown, &verified, found, times,
                            err);
        if (rc != TT_OK)
            return rc;
        p = nl + 1;
    }
    if (!verified && !any)
        return tt_fail(err, TT_ERR_UNKNOWN_KEY, "no trusted key signed this note");
    if (text_len)
        *text_len = text.size;
    return TT_OK;
}

static tt_err next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return TT_ERR_MALFORMED;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return TT_OK;
}

tt_err tt_checkpoint_parse(tt_bytes text, tt_checkpoint *cp, tt_error *err)
{
    const char *p = (const char *)text.data, *end = p + text.size;
    const char *line;
    size_t len;
    if (text.size == 0 || text.data[text.size - 1] != '\n')
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint text must end with a newline");
    if (next_line(&p, end, &line, &len) != TT_OK || len == 0 || len > TT_NOTE_NAME_MAX)
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint origin line is missing or empty");
    memcpy(cp->origin, line, len);
    cp->origin[len] = '\0';
    if (next_line(&p, end, &line, &len) != TT_OK || len == 0 || len > 20)
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint tree size line is missing");
    if (len > 1 && line[0] == '0')
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint tree size has a leading zero");
    uint64_t size = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] < '0' || line[i] > '9')
            return tt_fail(err, TT_ERR_MALFORMED, "checkpoint tree size is not a decimal number");
        unsigned d = (unsigned)(line[i] - '0');
        if (size > (UINT64_MAX - d) / 10)
            return tt_fail(err, TT_ERR_MALFORMED, "checkpoint tree size overflows 64 bits");
        size = size * 10 + d;
    }
    cp->size = size;
    if (next_line(&p, end, &line, &len) != TT_OK)
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint root hash line is missing");
    size_t rlen = 0;
    uint8_t root[64];
    if (tt_unb64(line, len, 0, root, sizeof root, &rlen) != TT_OK || rlen != TT_HASH_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "checkpoint root is not a base64 32-byte hash");
    memcpy(cp->root, root, TT_HASH_SIZE);
    cp->has_state = 0;
    memset(cp->state_root, 0, TT_HASH_SIZE);
    static const char word[] = TT_STATEMAP_LINE " ";
    const size_t wl = sizeof word - 1;
    while (p < end) {
        if (next_line(&p, end, &line, &len) != TT_OK || len == 0)
            return tt_fail(err, TT_ERR_MALFORMED, "checkpoint extension lines must be non-empty");
        if (len < wl || memcmp(line, word, wl) != 0)
            continue;
        if (cp->has_state)
            return tt_fail(err, TT_ERR_MALFORMED, "checkpoint has two state map lines");
        if (tt_unb64(line + wl, len - wl, 0, root, sizeof root, &rlen) != TT_OK ||
            rlen != TT_HASH_SIZE)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "checkpoint state map root is not a base64 32-byte hash");
        memcpy(cp->state_root, root, TT_HASH_SIZE);
        cp->has_state = 1;
    }
    return TT_OK;
}

tt_err tt_checkpoint_format(const tt_checkpoint *cp, char **text, size_t *len)
{
    char b64[64], sb64[64] = "";
    tt_b64((tt_bytes){TT_HASH_SIZE, cp->root}, b64);
    if (cp->has_state)
        tt_b64((tt_bytes){TT_HASH_SIZE, cp->state_root}, sb64);
    size_t need = strlen(cp->origin) + 1 + 20 + 1 + strlen(b64) + 2 + sizeof TT_STATEMAP_LINE + 64;
    char *out = malloc(need);
    if (out == NULL)
        return TT_ERR_NOMEM;
    int n = cp->has_state ? snprintf(out, need, "%s\n%" PRIu64 "\n%s\n" TT_STATEMAP_LINE " %s\n",
                                     cp->origin, cp->size, b64, sb64)
                          : snprintf(out, need, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, b64);
    *text = out;
    *len = (size_t)n;
    return TT_OK;
}

tt_err tt_checkpoint_sign(const tt_checkpoint *cp, const char *name, const uint8_t sk[TT_SK_SIZE],
                          char **note, size_t *note_len, tt_error *err)
{
    if (!tt_note_name_valid(cp->origin))
        return tt_fail(err, TT_ERR_ARGUMENT, "checkpoint origin must have no spaces or '+'");
    char *text;
    size_t len;
    if (tt_checkpoint_format(cp, &text, &len) != TT_OK)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    tt_err rc = tt_note_sign((tt_bytes){len, (const uint8_t *)text}, name, sk, note, note_len, err);
    free(text);
    return rc;
}

tt_err tt_checkpoint_open(tt_bytes note, const tt_verifier *known, size_t nknown, tt_checkpoint *cp,
                          tt_error *err)
{
    size_t text_len = 0;
    tt_err rc = tt_note_verify(note, known, nknown, &text_len, err);
    if (rc != TT_OK)
        return rc;
    return tt_checkpoint_parse((tt_bytes){text_len, note.data}, cp, err);
}
