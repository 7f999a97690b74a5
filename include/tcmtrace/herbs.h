/*
 * tcmtrace/herbs.h: the herb dictionary a batch's herb is checked against.
 *
 * A dictionary is data (schemas/herbs/chp2020-herbs.json is the one
 * shipped, built from the project's herb reference data):
 *
 *   {"edition": "...", "source": "...",
 *    "herbs": [{"name_zh": "当归", "pinyin": "Danggui",
 *               "latin": "Angelicae Sinensis Radix",
 *               "species": ["Angelica sinensis (Oliv.) Diels"],
 *               "part": "干燥根", "parts": [...], "category": "plant",
 *               "parent": "...", "review": "why the row is not sure"}, ...]}
 *
 * It enters the ledger as ledger.herbs events signed by an authority, each
 * small enough for one entry; each adds or replaces rows by 中文名 (a row
 * {"name_zh": ..., "withdrawn": true} takes one out), in force from its
 * entry on.
 */
#ifndef TCMTRACE_HERBS_H
#define TCMTRACE_HERBS_H

#include <jansson.h>

#include "tcmtrace/err.h"

/*
 * Checks a batch's herb {name_zh, latin, part, category?} against the
 * dictionary row of the same 中文名. The Latin name must be the row's
 * pharmacopoeia drug name or one of its source species (the binomial, with
 * or without authority; case and spacing aside), the part its part used
 * (with or without "干燥", or one of its other readings), and a category,
 * when given, the row's. A row marked for review is checked on its name
 * only. *confirmed tells which. TT_ERR_UNKNOWN_HERB names the row's entry
 * when they disagree.
 */
tt_err tt_herbs_match(json_t *row, json_t *herb, int *confirmed, tt_error *err);

/*
 * Splits a dictionary document into the fields of ledger.herbs events
 * ({"edition", "source"?, "herbs": [...]}), each small enough for one
 * entry. *events is a new array of them.
 */
tt_err tt_herbs_events(json_t *doc, json_t **events, tt_error *err);

#endif
