/*
 * witness.c: the tlog-witness add-checkpoint body (tcmtrace/witness.h).
 */
#include "tcmtrace/witness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/bytes.h"

tt_err tt_addcp_parse(const char *body, size_t len, tt_addcp *req, tt_error *err)
{
    memset(req, 0, sizeof *req);
    const char *p = body, *end = body + len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL || nl - p < 5 || memcmp(p, "old ", 4) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "the body must start with \"old <size>\\n\"");
    uint64_t old = 0;
    for (const char *d = p + 4; d < nl; d++) {
        if (*d < '0' || *d > '9' || (d == p + 4 && *d == '0' && nl - d > 1) ||
            old > (UINT64_MAX - 9) / 10)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "the old size must be a decimal number without leading zeroes");
        old = old * 10 + (uint64_t)(*d - '0');
    }
    req->old_size = old;
    p = nl + 1;
    for (;;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "the proof lines must end with an empty line before the checkpoint");
        if (nl == p)
            break;
        if (req->nproof == TT_WITNESS_PROOF_MAX)
            return tt_fail(err, TT_ERR_MALFORMED, "more than %d consistency proof lines",
                           TT_WITNESS_PROOF_MAX);
        size_t got = 0;
        if (tt_unb64(p, (size_t)(nl - p), 0, req->proof[req->nproof], TT_HASH_SIZE, &got) != TT_OK ||
            got != TT_HASH_SIZE)
            return tt_fail(err, TT_ERR_MALFORMED, "proof line %zu is not a base64 32-byte hash",
                           req->nproof + 1);
        req->nproof++;
        p = nl + 1;
    }
    req->note = nl + 1;
    req->note_len = (size_t)(end - (nl + 1));
    if (req->note_len == 0)
        return tt_fail(err, TT_ERR_MALFORMED, "the body holds no checkpoint after the empty line");
    return TT_OK;
}

tt_err tt_addcp_format(uint64_t old_size, const tt_hash *proof, size_t nproof, const char *note,
                       size_t note_len, char **body, size_t *len, tt_error *err)
{
    if (nproof > TT_WITNESS_PROOF_MAX)
        return tt_fail(err, TT_ERR_ARGUMENT, "a proof of %zu hashes is longer than %d", nproof,
                       TT_WITNESS_PROOF_MAX);
    size_t cap = 32 + nproof * 46 + 1 + note_len + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    size_t n = (size_t)snprintf(out, cap, "old %" PRIu64 "\n", old_size);
    for (size_t i = 0; i < nproof; i++) {
        tt_b64((tt_bytes){TT_HASH_SIZE, proof[i]}, out + n);
        n += strlen(out + n);
        out[n++] = '\n';
    }
    out[n++] = '\n';
    memcpy(out + n, note, note_len);
    n += note_len;
    out[n] = '\0';
    *body = out;
    *len = n;
    return TT_OK;
}
