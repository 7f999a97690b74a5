/*
 * tcmtrace/label.h: the QR label payload (DESIGN §6), a wire format.
 *
 *   <base URL>/b/<trace code>?t=<token>
 *
 * token = base64url (no padding) of 91 bytes:
 *
 *   u8[4]   key ID of the log key (as in C2SP signed notes)
 *   u8[7]   the trace code the token was made for, as a 56-bit big-endian integer
 *   u8[16]  the first 16 bytes of the entry hash of the batch's registration
 *           (the entry that created it: batch.register, or the split, transfer
 *           or process that made a child)
 *   u8[64]  Ed25519 signature by the log key over
 *           "tcmtrace/label/v1\n" || origin || "\n" || code || "\n" || hash16
 *
 * A label is checked offline with nothing but the trusted log verifier key:
 * a key ID of another log is TT_ERR_UNKNOWN_KEY, a trace code in the URL that
 * is not the token's is TT_ERR_CODE_MISMATCH (a cloned or relabelled lot),
 * and any other change breaks the signature (TT_ERR_BAD_SIGNATURE). Online,
 * hash16 is compared with the registration entry in the ledger. With the
 * default base URL (https://<origin>) the symbol fits QR version 10 at
 * error correction M.
 */
#ifndef TCMTRACE_LABEL_H
#define TCMTRACE_LABEL_H

#include <stdint.h>

#include "tcmtrace/note.h"
#include "tcmtrace/tracecode.h"

#define TT_LABEL_TOKEN_RAW 91
#define TT_LABEL_TOKEN_LEN 122   /* base64url characters */
#define TT_LABEL_TOKEN_DIGITS 220 /* the same 91 bytes as one decimal number */
#define TT_LABEL_URL_MAX 512

typedef struct tt_label {
    char base[256];             /* the URL before "/b/" */
    char code[TT_CODE_LEN + 1]; /* the code in the URL path */
    uint32_t key_id;
    char token_code[TT_CODE_LEN + 1]; /* the code the token was made for */
    uint8_t hash16[16];
    uint8_t sig[64];
    char gtin[15]; /* a GS1 Digital Link label's GTIN-14, or "" */
} tt_label;

/* Makes the token for `code` whose registration entry hash is `reg_hash`. */
void tt_label_token(const char *origin, const char *code, const uint8_t reg_hash[TT_HASH_SIZE],
                    const uint8_t sk[TT_SK_SIZE], char token[TT_LABEL_TOKEN_LEN + 1]);

/* Writes "<base>/b/<code>?n=<token as 220 digits>" (a trailing '/' on base is dropped):
 * the token (base64url, as the API gives it) in decimal, for QR numeric mode. */
tt_err tt_label_url(const char *base, const char *code, const char *token, char *out, size_t cap,
                    tt_error *err);

/* Writes the GS1 Digital Link form "<base>/01/<GTIN-14>/10/<code>?n=<token digits>". */
tt_err tt_label_dl_url(const char *base, const char *gtin, const char *code, const char *token,
                       char *out, size_t cap, tt_error *err);

/* Parses a label URL (or the text a QR symbol holds); strict. The token may be
 * "?n=" 220 digits or "?t=" 122 base64url characters (labels printed before). */
tt_err tt_label_parse(const char *url, tt_label *out, tt_error *err);

/* Verifies a parsed label offline against the trusted log key. */
tt_err tt_label_verify(const tt_label *lb, const tt_verifier *log, tt_error *err);

#endif
