/*
 * tcmtrace/note.h: C2SP signed-note (Ed25519) and tlog-checkpoint, wire
 * formats any C2SP-conformant verifier accepts.
 *
 * A note is its text (ending in a newline), a blank line, then signature
 * lines "— <name> base64(key ID[4] || Ed25519 signature[64])". The key ID is
 * SHA-256(name || "\n" || 0x01 || pk)[:4]. A verifier key is written
 * "<name>+<hex key ID>+base64(0x01 || pk)".
 *
 * A cosignature (C2SP tlog-cosignature, Ed25519 "cosignature/v1") is a
 * signature line of a witness on a checkpoint: base64(key ID[4] ||
 * timestamp[8, big-endian] || Ed25519 signature[64]) over "cosignature/v1\n"
 * "time <timestamp>\n" || the checkpoint's text; its key ID is
 * SHA-256(name || "\n" || 0x04 || pk)[:4] and its verifier key carries 0x04.
 *
 * A checkpoint is a note whose text is the log's origin line, the tree size
 * in decimal and the base64 root hash, each followed by a newline, then
 * optional non-empty extension lines.
 */
#ifndef TCMTRACE_NOTE_H
#define TCMTRACE_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/bytes.h"
#include "tcmtrace/entry.h"
#include "tcmtrace/err.h"

#define TT_NOTE_NAME_MAX 255
#define TT_NOTE_MAX_SIGS 32
#define TT_NOTE_MAX 65536
#define TT_VKEY_MAX (TT_NOTE_NAME_MAX + 1 + 8 + 1 + 48)

/* A key that may have signed a note. */
typedef struct tt_verifier {
    char name[TT_NOTE_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pk[TT_PK_SIZE];
    uint8_t type; /* TT_SIG_NOTE (0 reads as it) or TT_SIG_COSIG */
} tt_verifier;

#define TT_SIG_NOTE 0x01  /* a signed-note Ed25519 signature */
#define TT_SIG_COSIG 0x04 /* a tlog-cosignature/v1 Ed25519 cosignature */

/* The key ID of a cosigner's Ed25519 key under `name` (type 0x04). */
uint32_t tt_cosig_key_id(const char *name, const uint8_t pk[TT_PK_SIZE]);

/* Builds a cosigner's verifier (type TT_SIG_COSIG) from a name and a public key. */
tt_err tt_cosigner_init(tt_verifier *v, const char *name, const uint8_t pk[TT_PK_SIZE],
                        tt_error *err);

/*
 * Cosigns a checkpoint's text at `timestamp` (POSIX seconds, non-zero): writes
 * the signature line "— <name> <base64>\n" into `line` (capacity 384).
 */
tt_err tt_cosig_sign(tt_bytes text, const char *name, const uint8_t sk[TT_SK_SIZE],
                     uint64_t timestamp, char *line, size_t cap, tt_error *err);

/* Where a note's text ends (the length up to and with its last "\n" before the blank line). */
tt_err tt_note_split(tt_bytes note, size_t *text_len, tt_error *err);

/* The C2SP key ID of an Ed25519 key under `name`. */
uint32_t tt_note_key_id(const char *name, const uint8_t pk[TT_PK_SIZE]);

/* True when `name` is a valid key name (non-empty, no spaces, no '+'). */
int tt_note_name_valid(const char *name);

/* Builds a verifier from a name and a public key. */
tt_err tt_verifier_init(tt_verifier *v, const char *name, const uint8_t pk[TT_PK_SIZE],
                        tt_error *err);

/* Parses "<name>+<hex id>+base64(type||pk)" (type 0x01 or 0x04); the ID must match the key. */
tt_err tt_verifier_parse(const char *vkey, tt_verifier *v, tt_error *err);

/* Writes the verifier-key string of `v` (capacity TT_VKEY_MAX + 1). */
void tt_verifier_format(const tt_verifier *v, char *out, size_t cap);

/*
 * Signs `text` (which must end in a newline) with `sk` under `name` and
 * returns the whole note, NUL-terminated, in *note (free with free()).
 */
tt_err tt_note_sign(tt_bytes text, const char *name, const uint8_t sk[TT_SK_SIZE], char **note,
                    size_t *note_len, tt_error *err);

/*
 * Verifies `note` against the known keys: signatures from unknown keys are
 * ignored; a known key whose signature fails rejects the note; at least one
 * known key must have signed. On success *text_len is the length of the
 * note's text (which starts at note[0]).
 */
tt_err tt_note_verify(tt_bytes note, const tt_verifier *known, size_t nknown, size_t *text_len,
                      tt_error *err);

/*
 * As tt_note_verify, but tells which known keys signed: found[k] is set to 1
 * for each that did (and times[k], when times is not NULL, to a cosignature's
 * timestamp, 0 for a note signature). A note no known key signed is TT_OK
 * here, with every found[k] 0; a known key's bad signature is still an error.
 */
tt_err tt_note_verify_each(tt_bytes note, const tt_verifier *known, size_t nknown, int *found,
                           uint64_t *times, size_t *text_len, tt_error *err);

typedef struct tt_checkpoint {
    char origin[TT_NOTE_NAME_MAX + 1];
    uint64_t size;
    uint8_t root[TT_HASH_SIZE];
    /* the state map's root at this size (statemap.h): the extension line
     * "tcmtrace-state <base64>", when has_state */
    int has_state;
    uint8_t state_root[TT_HASH_SIZE];
} tt_checkpoint;

/* Parses a checkpoint's text strictly (extension lines are allowed; the state map's line is
 * read, at most one of it, and any other is ignored). */
tt_err tt_checkpoint_parse(tt_bytes text, tt_checkpoint *cp, tt_error *err);

/* Formats the checkpoint text; returns a malloc'd NUL-terminated string. */
tt_err tt_checkpoint_format(const tt_checkpoint *cp, char **text, size_t *len);

/* Formats and signs a checkpoint with key `name` (normally the origin). */
tt_err tt_checkpoint_sign(const tt_checkpoint *cp, const char *name, const uint8_t sk[TT_SK_SIZE],
                          char **note, size_t *note_len, tt_error *err);

/* Verifies a checkpoint note against the known keys and parses its text. */
tt_err tt_checkpoint_open(tt_bytes note, const tt_verifier *known, size_t nknown, tt_checkpoint *cp,
                          tt_error *err);

#endif
