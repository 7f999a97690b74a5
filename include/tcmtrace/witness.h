/*
 * tcmtrace/witness.h: the C2SP tlog-witness add-checkpoint body, as a log
 * writes it and as a witness reads it.
 *
 *   old <size>\n
 *   <base64 hash>\n         zero to 63 consistency proof lines
 *   \n
 *   <checkpoint note>
 */
#ifndef TCMTRACE_WITNESS_H
#define TCMTRACE_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "tcmtrace/err.h"
#include "tcmtrace/merkle.h"

#define TT_WITNESS_PROOF_MAX 63
#define TT_WITNESS_BODY_MAX (16 + TT_WITNESS_PROOF_MAX * 45 + 1 + 65536)

typedef struct tt_addcp {
    uint64_t old_size;
    size_t nproof;
    tt_hash proof[TT_WITNESS_PROOF_MAX];
    const char *note; /* into the body */
    size_t note_len;
} tt_addcp;

/* Reads a request body (which must outlive `req`); TT_ERR_MALFORMED names what is wrong. */
tt_err tt_addcp_parse(const char *body, size_t len, tt_addcp *req, tt_error *err);

/* Writes a request body (malloc'd, NUL-ended). */
tt_err tt_addcp_format(uint64_t old_size, const tt_hash *proof, size_t nproof, const char *note,
                       size_t note_len, char **body, size_t *len, tt_error *err);

#endif
