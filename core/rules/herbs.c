/*
 * herbs.c: a batch's herb against the herb dictionary.
 *
 * The dictionary's rows were parsed from monograph text by several sources
 * that write the same name differently (spacing, authorities, "干燥根" or
 * "根"), so matching normalises what a person may fairly type differently
 * and nothing else: case and spaces of Latin names, the authority after a
 * binomial, the word 干燥 (dried) and 及/和 in a part. A relabelled herb (独活
 * sold as 当归, another species, another part) still disagrees.
 */
#include "tcmtrace/herbs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/entry.h"

/* Latin: lower case, single spaces, no dots or commas at word ends. */
static void latin_norm(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int space = 1;
    for (; s && *s && n + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isspace(ch) || ch == '.' || ch == ',') {
            if (!space)
                out[n++] = ' ';
            space = 1;
            continue;
        }
        out[n++] = (char)tolower(ch);
        space = 0;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* The first two words (genus and species) of a normalised name. */
static size_t binomial_len(const char *norm)
{
    const char *sp = strchr(norm, ' ');
    if (sp == NULL)
        return strlen(norm);
    const char *sp2 = strchr(sp + 1, ' ');
    return sp2 ? (size_t)(sp2 - norm) : strlen(norm);
}

static int latin_matches(const char *typed, json_t *row)
{
    char t[160], r[160];
    latin_norm(typed, t, sizeof t);
    latin_norm(json_string_value(json_object_get(row, "latin")), r, sizeof r);
    if (*r && strcmp(t, r) == 0)
        return 1;
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(row, "species"), i, sp)
    {
        latin_norm(json_string_value(sp), r, sizeof r);
        size_t bl = binomial_len(r), tl = binomial_len(t);
        if (strcmp(t, r) == 0 || (bl == tl && strchr(r, ' ') && strncmp(t, r, bl) == 0))
            return 1;
    }
    return 0;
}

/* A part without 干燥 (dried) and with 及 read as 和. */
static void part_norm(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    while (s && *s && n + 4 < cap) {
        if (strncmp(s, "干燥", 6) == 0) {
            s += 6;
        } else if (strncmp(s, "及", 3) == 0) {
            memcpy(out + n, "和", 3);
            n += 3, s += 3;
        } else if (*s == ' ') {
            s++;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
}

static int part_matches(const char *typed, json_t *row)
{
    char t[200], r[200];
    part_norm(typed, t, sizeof t);
    part_norm(json_string_value(json_object_get(row, "part")), r, sizeof r);
    if (*r && strcmp(t, r) == 0)
        return 1;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(row, "parts"), i, p)
    {
        part_norm(json_string_value(p), r, sizeof r);
        if (strcmp(t, r) == 0)
            return 1;
    }
    return 0;
}

tt_err tt_herbs_match(json_t *row, json_t *herb, int *confirmed, tt_error *err)
{
    const char *name = json_string_value(json_object_get(herb, "name_zh"));
    *confirmed = 0;
    if (json_object_get(row, "review"))
        return TT_OK; /* the data is not sure of this row: its name alone */
    const char *latin = json_string_value(json_object_get(herb, "latin"));
    const char *part = json_string_value(json_object_get(herb, "part"));
    const char *cat = json_string_value(json_object_get(herb, "category"));
    const char *rcat = json_string_value(json_object_get(row, "category"));
    const char *what = !latin_matches(latin, row) ? "Latin name"
                       : !part_matches(part, row) ? "part"
                       : (cat && rcat && strcmp(rcat, "other") != 0 && strcmp(cat, rcat) != 0)
                           ? "category"
                           : NULL;
    if (what == NULL) {
        *confirmed = 1;
        return TT_OK;
    }
    json_t *sp = json_array_get(json_object_get(row, "species"), 0);
    return tt_fail(err, TT_ERR_UNKNOWN_HERB,
                   "the %s does not agree with the herb dictionary: %s is %s, from %s, part %s "
                   "(%s); correct it, or mark the lot unlisted",
                   what, name, json_string_value(json_object_get(row, "latin")),
                   sp ? json_string_value(sp) : "?",
                   json_string_value(json_object_get(row, "part")), rcat ? rcat : "?");
}

/* Room for the herbs of one event: an entry less its header, the common
 * fields and the edition, with a margin. */
#define HERBS_CHUNK (TT_BODY_MAX - 4096)

tt_err tt_herbs_events(json_t *doc, json_t **events, tt_error *err)
{
    json_t *herbs = json_object_get(doc, "herbs");
    const char *edition = json_string_value(json_object_get(doc, "edition"));
    json_t *source = json_object_get(doc, "source");
    if (!json_is_array(herbs) || json_array_size(herbs) == 0 || edition == NULL)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "a herb dictionary needs \"edition\" and a list \"herbs\"");
    *events = json_array();
    json_t *chunk = json_array();
    size_t used = 0, i;
    json_t *h;
    json_array_foreach(herbs, i, h)
    {
        char *s = json_dumps(h, JSON_COMPACT);
        size_t n = s ? strlen(s) + 1 : 0;
        free(s);
        if (n == 0 || n > HERBS_CHUNK) {
            json_decref(chunk);
            json_decref(*events);
            return tt_fail(err, TT_ERR_MALFORMED, "herb dictionary row %zu is not a small object",
                           i);
        }
        if (used + n > HERBS_CHUNK || json_array_size(chunk) == 1000) {
            json_array_append_new(*events,
                                  json_pack("{s:s, s:o}", "edition", edition, "herbs", chunk));
            chunk = json_array();
            used = 0;
        }
        json_array_append(chunk, h);
        used += n;
    }
    json_array_append_new(*events, json_pack("{s:s, s:o}", "edition", edition, "herbs", chunk));
    json_array_foreach(*events, i, h) if (json_is_string(source))
        json_object_set(h, "source", source);
    return TT_OK;
}
