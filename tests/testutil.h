/* testutil.h: helpers shared by the unit tests. */
#ifndef TCMTRACE_TESTUTIL_H
#define TCMTRACE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "tcmtrace/tcmtrace.h"

/* A fresh directory under $TMPDIR (or /tmp); free with tu_rmtree + free. */
char *tu_tempdir(void);

/* Removes a directory tree. */
void tu_rmtree(const char *path);

/* Where tests/data is (from $TT_TESTDATA, else "tests/data"). */
const char *tu_datadir(void);

/* Decodes base64 (standard, padded) into a malloc'd buffer. */
uint8_t *tu_unb64(const char *s, size_t *len);

/* Reads a whole file into memory (NUL-terminated). */
char *tu_slurp(const char *path, size_t *len);

/* Copies a file. */
void tu_copy(const char *from, const char *to);

/* A random key pair with a signed event body made from a format string. */
/* Signs body as an event for the ledger `origin`. */
void tu_sign(const char *origin, const tt_keypair *kp, const char *body, uint8_t sig[TT_SIG_SIZE]);

/* A random JSON value (jansson's), of every type: escapes, control bytes
 * and NUL inside strings and keys, CJK and four-byte characters, the
 * integer extremes, reals; `depth` 1 for the members of a document. */
json_t *tu_random_json(int depth);

/* A random document: an object or an array of up to 7 tu_random_json members. */
json_t *tu_random_document(void);

/* Calls fn on every .json file under dir; the sum of what it returned. */
int tu_each_json_file(const char *dir, int (*fn)(const char *path, void *ctx), void *ctx);

/* The same for every JSON document the project ships (schemas/, tests/fixtures/). */
int tu_each_shipped_json(int (*fn)(const char *path, void *ctx), void *ctx);

/* A full audit of l (the log key origin/pk) with the rules replayed in DIR/scratch: it must
 * pass; the report in r. */
struct tt_audit_report;
void tu_audit_ok(tt_ledger *l, const char *origin, const uint8_t pk[TT_PK_SIZE], const char *dir,
                 struct tt_audit_report *r);

/* SHA-256 over every key and value of every database of l: "the ledger", to tell that a
 * refusal changed nothing. */
void tu_ledger_digest(tt_ledger *l, uint8_t out[32]);

#endif
