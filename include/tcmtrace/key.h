/*
 * tcmtrace/key.h: Ed25519 key pairs and their files.
 *
 * Secret key file (text, one "field: value" a line, mode 0600):
 *
 *   tcmtrace secret key v1
 *   public: <base64 32-byte Ed25519 public key>
 *   kdf: argon2id
 *   opslimit: <decimal>
 *   memlimit: <decimal bytes>
 *   salt: <base64 16 bytes>
 *   nonce: <base64 24 bytes>
 *   sealed: <base64 XChaCha20-Poly1305(seed[32]) with its 16-byte tag>
 *
 * The key is derived from the passphrase with Argon2id (libsodium
 * crypto_pwhash); the associated data is the first line and the public key,
 * so a swapped public key fails to open. An unsealed file, written only on
 * request, has "kdf: none" and "secret: <base64 seed>" instead of the last
 * five lines. Public key file:
 *
 *   tcmtrace public key v1
 *   public: <base64 32-byte Ed25519 public key>
 */
#ifndef TCMTRACE_KEY_H
#define TCMTRACE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/entry.h"
#include "tcmtrace/err.h"

typedef struct tt_keypair {
    uint8_t pk[TT_PK_SIZE];
    uint8_t sk[TT_SK_SIZE]; /* libsodium layout: seed || pk */
} tt_keypair;

/* Work factors for sealing; TT_KDF_INTERACTIVE suits keys used often. */
typedef enum tt_kdf_level { TT_KDF_INTERACTIVE, TT_KDF_MODERATE } tt_kdf_level;

/* A fresh key pair from the system's random source. */
void tt_keypair_generate(tt_keypair *kp);

/* The key pair of a 32-byte seed. */
void tt_keypair_from_seed(tt_keypair *kp, const uint8_t seed[32]);

/* Wipes a key pair from memory. */
void tt_keypair_wipe(tt_keypair *kp);

/*
 * Writes the secret key file at `path` (which must not exist), mode 0600,
 * synced to disk. A NULL `pass` writes it unsealed: only do that when the
 * user asked for it.
 */
tt_err tt_key_save_secret(const char *path, const tt_keypair *kp, const char *pass, size_t passlen,
                          tt_kdf_level level, tt_error *err);

/*
 * Reads a secret key file. A sealed file needs `pass`; a wrong one is
 * TT_ERR_BAD_PASSPHRASE. *sealed (may be NULL) tells which kind it was.
 */
tt_err tt_key_load_secret(const char *path, const char *pass, size_t passlen, tt_keypair *kp,
                          tt_error *err);

/* True in *sealed when the secret key file at `path` needs a passphrase. */
tt_err tt_key_secret_is_sealed(const char *path, int *sealed, tt_error *err);

/* Writes / reads a public key file. */
/* The public key a secret key file names in clear ("public:"), without opening it. */
tt_err tt_key_secret_public(const char *path, uint8_t pk[TT_PK_SIZE], tt_error *err);

tt_err tt_key_save_public(const char *path, const uint8_t pk[TT_PK_SIZE], tt_error *err);
tt_err tt_key_load_public(const char *path, uint8_t pk[TT_PK_SIZE], tt_error *err);

/*
 * A public key's check, for people to read back (as phones do when they pair):
 * 20 digits in five groups, "1234 5678 9012 3456 7890". Group i is the big-endian
 * 24-bit number at bytes 3i..3i+2 of SHA-256("tcmtrace/keycheck/v1\n" || pk),
 * modulo 10,000 (about 66 bits in all). docs/formats.md "Key checks".
 */
#define TT_KEY_CHECK_LEN 24
void tt_key_check(const uint8_t pk[TT_PK_SIZE], char out[TT_KEY_CHECK_LEN + 1]);
/* Whether `typed` (digits; spaces and dashes ignored) is pk's check. */
int tt_key_check_matches(const uint8_t pk[TT_PK_SIZE], const char *typed);

/*
 * The text of a public key's QR symbol: "tcmtrace-key:v1:<base64 key>:<20 check digits>",
 * so that a scanner knows it for a key (not a label) and a copy error in either half is
 * caught. tt_key_qr_parse takes that text (or a bare 44-character base64 key, as
 * earlier pages showed): TT_ERR_MALFORMED when it is not a key at all, TT_ERR_KEY_FORMAT
 * when its check does not match its key.
 */
#define TT_KEY_QR_MAX 96
void tt_key_qr_text(const uint8_t pk[TT_PK_SIZE], char out[TT_KEY_QR_MAX]);
tt_err tt_key_qr_parse(const char *text, uint8_t pk[TT_PK_SIZE], tt_error *err);

/* Writes `len` bytes to a new file `path` with `mode`, fsyncs file and dir. */
tt_err tt_write_file_new(const char *path, const void *data, size_t len, unsigned mode,
                         tt_error *err);

/* Reads a whole (small) file into a malloc'd NUL-terminated buffer. */
tt_err tt_read_file(const char *path, size_t max, char **data, size_t *len, tt_error *err);

#endif
