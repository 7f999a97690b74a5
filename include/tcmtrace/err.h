/*
 * tcmtrace/err.h: one error enumeration for the whole library.
 *
 * Every function that can fail returns a tt_err. Functions that can say more
 * about a failure also take a `tt_error *` (which may be NULL) and fill it with
 * the code and a sentence naming what is wrong. The stable wire code of an
 * error (what the daemon puts in {"error":{"code":...}}) is tt_err_name():
 * the enum name without the TT_ERR_ prefix, in lower case.
 */
#ifndef TCMTRACE_ERR_H
#define TCMTRACE_ERR_H

#include <stdarg.h>

/* X(NAME, wire code, default sentence) */
#define TT_ERRORS(X)                                                                               \
    X(OK, "ok", "success")                                                                         \
    X(NOMEM, "nomem", "out of memory")                                                             \
    X(IO, "io", "an operating-system call failed")                                                 \
    X(STORE, "store", "the ledger store (LMDB) reported an error")                                 \
    X(DISK_FULL, "disk_full", "the disk holding the ledger is full")                               \
    X(ARGUMENT, "argument", "an argument is invalid")                                              \
    X(MALFORMED, "malformed", "the input is malformed")                                            \
    X(TOO_LARGE, "too_large", "the input is larger than allowed")                                  \
    X(NOT_FOUND, "not_found", "no such object")                                                    \
    X(EXISTS, "exists", "the object exists already")                                               \
    X(BAD_SIGNATURE, "bad_signature", "a signature does not verify")                               \
    X(UNKNOWN_KEY, "unknown_key", "no trusted key signed this")                                    \
    X(BAD_CHAIN, "bad_chain", "an entry does not link to the entry before it")                     \
    X(BAD_SEQ, "bad_seq", "an entry carries the wrong sequence number")                            \
    X(REPLAY, "replay", "this event was submitted before")                                         \
    X(BAD_PROOF, "bad_proof", "a Merkle proof does not verify")                                    \
    X(RANGE, "range", "a size or index is out of range")                                           \
    X(BAD_PASSPHRASE, "bad_passphrase", "the passphrase does not open the secret key")             \
    X(KEY_FORMAT, "key_format", "the key file is not in the tcmtrace key format")                  \
    X(READ_ONLY, "read_only", "the ledger is open read-only")                                      \
    X(BUSY, "busy", "another process is writing this ledger")                                      \
    X(NOT_ENROLLED, "not_enrolled", "the signer is not an enrolled actor")                         \
    X(REVOKED, "revoked", "the signer's enrollment was revoked or its key retired")                \
    X(FORBIDDEN, "forbidden", "the signer's roles do not allow this event")                        \
    X(NOT_HOLDER, "not_holder", "the signer does not hold this batch")                             \
    X(FROZEN, "frozen", "the batch is held or recalled")                                           \
    X(BAD_STATE, "bad_state", "the batch's status does not allow this event")                      \
    X(QUANTITY, "quantity", "the quantities do not add up")                                        \
    X(DUPLICATE_ID, "duplicate_id", "that id is taken already")                                    \
    X(UNKNOWN_BATCH, "unknown_batch", "no batch has that trace code")                              \
    X(UNKNOWN_ACTOR, "unknown_actor", "no actor has that id")                                      \
    X(GENESIS, "genesis", "the ledger's first entry must be, and only it may be, its genesis")     \
    X(NO_LIMITS, "no_limits", "no limits table has been loaded into the ledger")                   \
    X(BAD_UNIT, "bad_unit", "a measured value has a unit that does not fit its test")              \
    X(UNKNOWN_TEST, "unknown_test", "the limits table knows no test of that name")                 \
    X(UNKNOWN_HERB, "unknown_herb", "the herb does not agree with the herb dictionary")            \
    X(RELABEL, "relabel", "processing may not change the herb or origin its inputs prove")         \
    X(BAD_TIME, "bad_time", "a time or date in the event is not plausible")                        \
    X(CODE_MISMATCH, "code_mismatch",                                                              \
      "the label's trace code is not the one its token was made for")                              \
    X(AUDIT, "audit", "the ledger does not pass audit")                                            \
    X(WRONG_LEDGER, "wrong_ledger", "the event was signed for another ledger")                     \
    X(NOT_REPLICATED, "not_replicated",                                                            \
      "the event is written, but the standby follower does not hold it yet")

typedef enum tt_err {
#define TT_ERR_ENUM_(name, wire, text) TT_ERR_##name,
    TT_ERRORS(TT_ERR_ENUM_)
#undef TT_ERR_ENUM_
        TT_ERR_COUNT_
} tt_err;

#define TT_OK TT_ERR_OK

/* A failure with its sentence. `message` is always NUL-terminated. */
typedef struct tt_error {
    tt_err code;
    char message[256];
} tt_error;

/* The default English sentence for `code`; never NULL. */
const char *tt_strerror(tt_err code);

/* The stable wire code of `code` ("bad_signature"); never NULL. */
const char *tt_err_name(tt_err code);

/* Looks a wire code up; returns TT_ERR_COUNT_ when it names no error. */
tt_err tt_err_from_name(const char *name);

/*
 * Records `code` with a printf-style sentence in `err` (which may be NULL) and
 * returns `code`, so that callers can write `return tt_fail(err, ...)`.
 * A NULL `fmt` records the default sentence.
 */
tt_err tt_fail(tt_error *err, tt_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears `err` to TT_OK (NULL is allowed). */
void tt_error_clear(tt_error *err);

#endif
