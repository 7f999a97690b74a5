/*
 * tcmtrace/tracecode.h: batch ids, the trace codes printed on labels.
 *
 * A trace code is 16 decimal digits: YYMMDD of its creation, 9 random
 * digits and a Damm check digit. The Damm check (a totally anti-symmetric
 * quasigroup of order 10) catches every single wrong digit and every swap
 * of two adjacent digits. Codes are written in groups of four
 * ("2611 2248 3910 5527"); spaces and hyphens are ignored on input.
 */
#ifndef TCMTRACE_TRACECODE_H
#define TCMTRACE_TRACECODE_H

#include <stdint.h>

#include "tcmtrace/err.h"

#define TT_CODE_LEN 16
#define TT_CODE_PRETTY 19 /* with three spaces */

/* The Damm check digit of the digits in `s` (length `len`). */
int tt_damm(const char *s, int len);

/* Makes a new code for the UTC day of `time_ms`; out has 17 bytes. */
void tt_code_new(uint64_t time_ms, char out[TT_CODE_LEN + 1]);

/*
 * Normalises user input (drops spaces and hyphens) into `out` and checks
 * length, digits and the check digit.
 */
tt_err tt_code_parse(const char *in, char out[TT_CODE_LEN + 1], tt_error *err);

/* "2611 2248 3910 5527"; out has TT_CODE_PRETTY + 1 bytes. */
void tt_code_pretty(const char *code, char out[TT_CODE_PRETTY + 1]);

#endif
