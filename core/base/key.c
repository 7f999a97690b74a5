/*
 * key.c: key pairs and the key file formats.
 *
 * Secret keys live in memory only as long as needed and are wiped after
 * use; on disk they are sealed unless the caller explicitly passes no
 * passphrase. Files are created with O_EXCL so that an existing key is
 * never overwritten, and synced (with their directory) before returning.
 */
#include "tcmtrace/key.h"
#include "tcmtrace/bytes.h"
#include "tcmtrace/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAGIC "tcmtrace secret key v1"
#define PUBLIC_MAGIC "tcmtrace public key v1"
#define SEED_SIZE 32
#define KEY_FILE_MAX 4096

void tt_keypair_generate(tt_keypair *kp)
{
    crypto_sign_keypair(kp->pk, kp->sk);
}

void tt_keypair_from_seed(tt_keypair *kp, const uint8_t seed[32])
{
    crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
}

void tt_keypair_wipe(tt_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

static tt_err sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return TT_ERR_NOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return TT_ERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? TT_OK : TT_ERR_IO;
}

tt_err tt_write_file_new(const char *path, const void *data, size_t len, unsigned mode,
                         tt_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return tt_fail(err, TT_ERR_EXISTS, "%s exists already; it was not overwritten", path);
        return tt_fail(err, TT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    /* The umask must not widen or narrow what we asked for. */
    if (fchmod(fd, (mode_t)mode) != 0)
        goto fail;
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    if (sync_dir_of(path) != TT_OK)
        return tt_fail(err, TT_ERR_IO, "cannot sync the directory of %s", path);
    return TT_OK;
fail:;
    int saved = errno;
    close(fd);
    unlink(path);
    return tt_fail(err, saved == ENOSPC ? TT_ERR_DISK_FULL : TT_ERR_IO, "cannot write %s: %s", path,
                   strerror(saved));
}

tt_err tt_read_file(const char *path, size_t max, char **data, size_t *len, tt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return tt_fail(err, errno == ENOENT ? TT_ERR_NOT_FOUND : TT_ERR_IO, "cannot open %s: %s",
                       path, strerror(errno));
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return tt_fail(err, TT_ERR_IO, "cannot read %s", path);
    }
    if (n > max) {
        free(buf);
        return tt_fail(err, TT_ERR_TOO_LARGE, "%s is larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TT_OK;
}

/* Finds "field: value\n" in a key file; value copied into out (NUL-ended). */
static int get_field(const char *text, const char *field, char *out, size_t cap)
{
    size_t flen = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':' && p[flen + 1] == ' ') {
            const char *v = p + flen + 2;
            const char *nl = strchr(v, '\n');
            size_t vlen = nl ? (size_t)(nl - v) : strlen(v);
            if (vlen + 1 > cap)
                return 0;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 1;
        }
    }
    return 0;
}

static tt_err get_b64_field(const char *text, const char *field, uint8_t *out, size_t want,
                            const char *path, tt_error *err)
{
    char v[256];
    size_t n = 0;
    if (!get_field(text, field, v, sizeof v))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s has no \"%s:\" line", path, field);
    if (tt_unb64(v, strlen(v), 0, out, want, &n) != TT_OK || n != want)
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s: \"%s\" is not %zu bytes of base64", path, field,
                       want);
    return TT_OK;
}

static void ad_for(const uint8_t pk[TT_PK_SIZE], uint8_t ad[sizeof SECRET_MAGIC - 1 + TT_PK_SIZE])
{
    memcpy(ad, SECRET_MAGIC, sizeof SECRET_MAGIC - 1);
    memcpy(ad + sizeof SECRET_MAGIC - 1, pk, TT_PK_SIZE);
}

static void b64_of(const uint8_t *data, size_t len, char *out)
{
    tt_b64((tt_bytes){len, data}, out);
}

tt_err tt_key_save_secret(const char *path, const tt_keypair *kp, const char *pass, size_t passlen,
                          tt_kdf_level level, tt_error *err)
{
    char text[KEY_FILE_MAX];
    char pk64[64], f1[128], f2[128], f3[128];
    b64_of(kp->pk, TT_PK_SIZE, pk64);
    int n;
    if (pass == NULL) {
        b64_of(kp->sk, SEED_SIZE, f1);
        n = snprintf(text, sizeof text, "%s\npublic: %s\nkdf: none\nsecret: %s\n", SECRET_MAGIC,
                     pk64, f1);
        sodium_memzero(f1, sizeof f1);
    } else {
        unsigned long long ops = level == TT_KDF_MODERATE ? crypto_pwhash_OPSLIMIT_MODERATE
                                                          : crypto_pwhash_OPSLIMIT_INTERACTIVE;
        size_t mem = level == TT_KDF_MODERATE ? crypto_pwhash_MEMLIMIT_MODERATE
                                              : crypto_pwhash_MEMLIMIT_INTERACTIVE;
        uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
        uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
        uint8_t sealed[SEED_SIZE + crypto_aead_xchacha20poly1305_ietf_ABYTES];
        uint8_t ad[sizeof SECRET_MAGIC - 1 + TT_PK_SIZE];
        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        if (crypto_pwhash(key, sizeof key, pass, passlen, salt, ops, mem,
                          crypto_pwhash_ALG_ARGON2ID13) != 0)
            return tt_fail(err, TT_ERR_NOMEM, "not enough memory for Argon2id");
        ad_for(kp->pk, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, NULL, kp->sk, SEED_SIZE, ad, sizeof ad,
                                                   NULL, nonce, key);
        sodium_memzero(key, sizeof key);
        b64_of(salt, sizeof salt, f1);
        b64_of(nonce, sizeof nonce, f2);
        b64_of(sealed, sizeof sealed, f3);
        n = snprintf(text, sizeof text,
                     "%s\npublic: %s\nkdf: argon2id\nopslimit: %llu\nmemlimit: %zu\n"
                     "salt: %s\nnonce: %s\nsealed: %s\n",
                     SECRET_MAGIC, pk64, ops, mem, f1, f2, f3);
    }
    tt_err rc = tt_write_file_new(path, text, (size_t)n, 0600, err);
    sodium_memzero(text, sizeof text);
    return rc;
}

static tt_err load_secret_text(const char *path, char **text, tt_error *err)
{
    size_t len;
    tt_err rc = tt_read_file(path, KEY_FILE_MAX, text, &len, err);
    if (rc != TT_OK)
        return rc;
    if (strncmp(*text, SECRET_MAGIC "\n", sizeof SECRET_MAGIC) != 0) {
        free(*text);
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s is not a tcmtrace secret key file", path);
    }
    return TT_OK;
}

tt_err tt_key_secret_is_sealed(const char *path, int *sealed, tt_error *err)
{
    char *text, kdf[32];
    tt_err rc = load_secret_text(path, &text, err);
    if (rc != TT_OK)
        return rc;
    if (!get_field(text, "kdf", kdf, sizeof kdf))
        rc = tt_fail(err, TT_ERR_KEY_FORMAT, "%s has no \"kdf:\" line", path);
    else
        *sealed = strcmp(kdf, "none") != 0;
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

static tt_err open_sealed(const char *text, const char *path, const char *pass, size_t passlen,
                          const uint8_t pk[TT_PK_SIZE], uint8_t seed[SEED_SIZE], tt_error *err)
{
    char num[32];
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t sealed[SEED_SIZE + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    uint8_t ad[sizeof SECRET_MAGIC - 1 + TT_PK_SIZE];
    tt_err rc;
    if (pass == NULL)
        return tt_fail(err, TT_ERR_BAD_PASSPHRASE, "%s is sealed: a passphrase is needed", path);
    if ((rc = get_b64_field(text, "salt", salt, sizeof salt, path, err)) != TT_OK ||
        (rc = get_b64_field(text, "nonce", nonce, sizeof nonce, path, err)) != TT_OK ||
        (rc = get_b64_field(text, "sealed", sealed, sizeof sealed, path, err)) != TT_OK)
        return rc;
    if (!get_field(text, "opslimit", num, sizeof num))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s has no \"opslimit:\" line", path);
    unsigned long long ops = strtoull(num, NULL, 10);
    if (!get_field(text, "memlimit", num, sizeof num))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s has no \"memlimit:\" line", path);
    unsigned long long mem = strtoull(num, NULL, 10);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > 64 || mem < crypto_pwhash_MEMLIMIT_MIN ||
        mem > (UINT64_C(4) << 30))
        return tt_fail(err, TT_ERR_KEY_FORMAT, "%s has Argon2id limits out of range", path);
    if (crypto_pwhash(key, sizeof key, pass, passlen, salt, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return tt_fail(err, TT_ERR_NOMEM, "not enough memory for Argon2id");
    ad_for(pk, ad);
    int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, sealed, sizeof sealed,
                                                         ad, sizeof ad, nonce, key);
    sodium_memzero(key, sizeof key);
    if (bad)
        return tt_fail(err, TT_ERR_BAD_PASSPHRASE,
                       "the passphrase does not open %s (or the file was altered)", path);
    return TT_OK;
}

tt_err tt_key_load_secret(const char *path, const char *pass, size_t passlen, tt_keypair *kp,
                          tt_error *err)
{
    char *text, kdf[32];
    uint8_t pk[TT_PK_SIZE], seed[SEED_SIZE];
    tt_err rc = load_secret_text(path, &text, err);
    if (rc != TT_OK)
        return rc;
    if ((rc = get_b64_field(text, "public", pk, sizeof pk, path, err)) != TT_OK)
        goto out;
    if (!get_field(text, "kdf", kdf, sizeof kdf)) {
        rc = tt_fail(err, TT_ERR_KEY_FORMAT, "%s has no \"kdf:\" line", path);
        goto out;
    }
    if (strcmp(kdf, "none") == 0)
        rc = get_b64_field(text, "secret", seed, sizeof seed, path, err);
    else if (strcmp(kdf, "argon2id") == 0)
        rc = open_sealed(text, path, pass, passlen, pk, seed, err);
    else
        rc = tt_fail(err, TT_ERR_KEY_FORMAT, "%s uses unknown kdf \"%s\"", path, kdf);
    if (rc != TT_OK)
        goto out;
    tt_keypair_from_seed(kp, seed);
    if (sodium_memcmp(kp->pk, pk, TT_PK_SIZE) != 0) {
        tt_keypair_wipe(kp);
        rc = tt_fail(err, TT_ERR_KEY_FORMAT, "%s: the public key does not match the secret key",
                     path);
    }
out:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

tt_err tt_key_secret_public(const char *path, uint8_t pk[TT_PK_SIZE], tt_error *err)
{
    char *text;
    tt_err rc = load_secret_text(path, &text, err);
    if (rc != TT_OK)
        return rc;
    rc = get_b64_field(text, "public", pk, TT_PK_SIZE, path, err);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

tt_err tt_key_save_public(const char *path, const uint8_t pk[TT_PK_SIZE], tt_error *err)
{
    char text[256], pk64[64];
    b64_of(pk, TT_PK_SIZE, pk64);
    int n = snprintf(text, sizeof text, "%s\npublic: %s\n", PUBLIC_MAGIC, pk64);
    return tt_write_file_new(path, text, (size_t)n, 0644, err);
}

tt_err tt_key_load_public(const char *path, uint8_t pk[TT_PK_SIZE], tt_error *err)
{
    char *text;
    size_t len;
    tt_err rc = tt_read_file(path, KEY_FILE_MAX, &text, &len, err);
    if (rc != TT_OK)
        return rc;
    if (strncmp(text, PUBLIC_MAGIC "\n", sizeof PUBLIC_MAGIC) != 0 &&
        strncmp(text, SECRET_MAGIC "\n", sizeof SECRET_MAGIC) != 0)
        rc = tt_fail(err, TT_ERR_KEY_FORMAT, "%s is not a tcmtrace key file", path);
    else
        rc = get_b64_field(text, "public", pk, TT_PK_SIZE, path, err);
    free(text);
    return rc;
}

/* ---- key checks and key QR symbols ------------------------------------------- */

#define CHECK_DOMAIN "tcmtrace/keycheck/v1\n"
#define QR_PREFIX "tcmtrace-key:v1:"

void tt_key_check(const uint8_t pk[TT_PK_SIZE], char out[TT_KEY_CHECK_LEN + 1])
{
    uint8_t h[TT_SHA256_SIZE];
    tt_sha256_state st;
    tt_sha256_init(&st);
    tt_sha256_update(&st, CHECK_DOMAIN, sizeof CHECK_DOMAIN - 1);
    tt_sha256_update(&st, pk, TT_PK_SIZE);
    tt_sha256_final(&st, h);
    for (int i = 0; i < 5; i++) {
        unsigned v = ((unsigned)h[3 * i] << 16 | (unsigned)h[3 * i + 1] << 8 | h[3 * i + 2]) % 10000;
        snprintf(out + 5 * i, TT_KEY_CHECK_LEN + 1 - 5 * (size_t)i, i < 4 ? "%04u " : "%04u", v);
    }
}

int tt_key_check_matches(const uint8_t pk[TT_PK_SIZE], const char *typed)
{
    char want[TT_KEY_CHECK_LEN + 1];
    tt_key_check(pk, want);
    const char *w = want;
    for (const char *t = typed; *t; t++) {
        if (*t == ' ' || *t == '-')
            continue;
        while (*w == ' ')
            w++;
        if (*t != *w)
            return 0;
        w++;
    }
    while (*w == ' ')
        w++;
    return *w == '\0';
}

void tt_key_qr_text(const uint8_t pk[TT_PK_SIZE], char out[TT_KEY_QR_MAX])
{
    char b64[48], check[TT_KEY_CHECK_LEN + 1], digits[24];
    tt_b64((tt_bytes){TT_PK_SIZE, pk}, b64);
    tt_key_check(pk, check);
    size_t n = 0;
    for (const char *p = check; *p; p++)
        if (*p != ' ')
            digits[n++] = *p;
    digits[n] = '\0';
    snprintf(out, TT_KEY_QR_MAX, QR_PREFIX "%s:%s", b64, digits);
}

tt_err tt_key_qr_parse(const char *text, uint8_t pk[TT_PK_SIZE], tt_error *err)
{
    size_t n = 0;
    const char *key = text, *check = NULL;
    if (strncmp(text, QR_PREFIX, sizeof QR_PREFIX - 1) == 0) {
        key = text + sizeof QR_PREFIX - 1;
        if (strlen(key) != 44 + 1 + 20 || key[44] != ':')
            return tt_fail(err, TT_ERR_KEY_FORMAT,
                           "the key symbol is damaged: it should hold a 44-character key and "
                           "20 check digits");
        check = key + 45;
    } else if (strlen(text) != 44)
        return tt_fail(err, TT_ERR_MALFORMED, "this is not a tcmtrace public key");
    if (tt_unb64(key, 44, 0, pk, TT_PK_SIZE, &n) != TT_OK || n != TT_PK_SIZE)
        return tt_fail(err, check ? TT_ERR_KEY_FORMAT : TT_ERR_MALFORMED,
                       "this is not a tcmtrace public key (not 32 bytes of base64)");
    if (check && !tt_key_check_matches(pk, check))
        return tt_fail(err, TT_ERR_KEY_FORMAT,
                       "the key symbol's check digits do not match its key: it was altered");
    return TT_OK;
}
