/*
 * tcmtrace/limits.h: pharmacopoeia limits and the verdict of an inspection.
 *
 * A limits table is data (schemas/limits/chp2020.json is the one shipped):
 *
 *   {"edition": "...",
 *    "tests": {"so2": {"name_zh": "二氧化硫残留", "unit": "mg/kg",
 *                      "aliases": ["SO2", "二氧化硫", ...]}, ...},
 *    "rules": [{"test": "so2", "max": "150", "herbs": [...], "forms": [...],
 *               "categories": [...], "status": "confirmed", "source": "..."}]}
 *
 * A rule applies to a batch when each list it has contains the batch's herb
 * (中文名), form (药材 / 饮片) or category. Rules naming herbs override
 * rules that do not; within each kind the first rule in table order wins.
 * status is one of confirmed, confirmed_2015, draft, unconfirmed, and is
 * carried into every verdict so that nobody mistakes a draft limit for a
 * binding one. A table enters the ledger as a ledger.limits event, so a
 * market loads a newer table without a rebuild and every verdict replays.
 *
 * Values are compared as exact decimals (no floating point). Units convert
 * between mg/kg (= ppm) and µg/kg (= ppb); % only matches %.
 */
#ifndef TCMTRACE_LIMITS_H
#define TCMTRACE_LIMITS_H

#include <jansson.h>

#include "tcmtrace/err.h"

/* Checks the shape of a limits table. */
tt_err tt_limits_check(json_t *table, tt_error *err);

/*
 * Judges `results` (the inspect event's array of {test, value, unit}) for a
 * batch made of the herbs in `herbs` (an array of 中文名: one for a batch of
 * one herb, every component for a compound; each test is held to the
 * strictest limit any of them has), of form `form` and category `category`.
 * A test is named by its id, its Chinese name or one of its aliases, ASCII
 * letters in any case (tt_limits_test_id); TT_ERR_UNKNOWN_TEST names the
 * tests the table knows when one is not found.
 * *verdict becomes {"verdict": "pass"|"fail"|"no_limit", "results": [...]}
 * where each result carries the canonical "test" (and "as_written" when it
 * was written otherwise), "name_zh", its own "verdict" and, when a limit
 * applies, "limit", "limit_unit", "status", "source". TT_ERR_BAD_UNIT when a
 * unit does not fit its test.
 */
tt_err tt_limits_judge(json_t *table, json_t *herbs, const char *form, const char *category,
                       json_t *results, json_t **verdict, tt_error *err);

/* The id of the test `name` names (its id, 中文名 or an alias; ASCII
 * letters in any case), or NULL. Points into table. */
const char *tt_limits_test_id(json_t *table, const char *name);

/* Compares decimal strings: <0, 0, >0. Both must be tt_decimal_valid. */
int tt_decimal_cmp(const char *a, const char *b);

#endif
