/*
 * limits.c: judging measured values against a limits table.
 *
 * Decimals are read into 128-bit integers scaled by 10^9 (the most
 * fractional digits a decimal string may have), so comparison is exact.
 * A verdict is a pure function of the table and the event, which is what
 * lets audit replay it.
 */
#include "tcmtrace/limits.h"

#include <stdio.h>
#include <string.h>

#include "tcmtrace/event.h"

typedef __int128 dec;
#define SCALE_DIGITS 9

static dec dec_parse(const char *s)
{
    int neg = *s == '-';
    if (neg)
        s++;
    dec v = 0;
    int frac = -1;
    for (; *s; s++) {
        if (*s == '.') {
            frac = 0;
            continue;
        }
        v = v * 10 + (*s - '0');
        if (frac >= 0)
            frac++;
    }
    for (int f = frac < 0 ? 0 : frac; f < SCALE_DIGITS; f++)
        v *= 10;
    return neg ? -v : v;
}

int tt_decimal_cmp(const char *a, const char *b)
{
    dec x = dec_parse(a), y = dec_parse(b);
    return x < y ? -1 : x > y;
}

/* Unit families: 1 = mass fraction (factor to µg/kg), 2 = percent. */
static int unit_of(const char *u, int *family, int *factor)
{
    static const struct {
        const char *name;
        int family, factor;
    } units[] = {
        {"mg/kg", 1, 1000}, {"ppm", 1, 1000},
        {"µg/kg", 1, 1}, /* micro sign */
        {"μg/kg", 1, 1},    /* Greek mu */ {"ug/kg", 1, 1},
        {"ppb", 1, 1},      {"%", 2, 1},
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(u, units[i].name) == 0) {
            *family = units[i].family;
            *factor = units[i].factor;
            return 1;
        }
    return 0;
}

static int list_has(json_t *rule, const char *key, const char *value)
{
    json_t *list = json_object_get(rule, key);
    if (list == NULL)
        return 1; /* no list: applies to all */
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (value && strcmp(json_string_value(v), value) == 0) return 1;
    return 0;
}

tt_err tt_limits_check(json_t *table, tt_error *err)
{
    json_t *tests = json_object_get(table, "tests"), *rules = json_object_get(table, "rules");
    if (!json_is_object(tests) || !json_is_array(rules))
        return tt_fail(err, TT_ERR_MALFORMED, "a limits table needs \"tests\" and \"rules\"");
    const char *name;
    json_t *t;
    json_object_foreach(tests, name, t)
    {
        int fam, fac;
        const char *unit = json_string_value(json_object_get(t, "unit"));
        if (unit == NULL || !unit_of(unit, &fam, &fac) ||
            !json_is_string(json_object_get(t, "name_zh")))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "limits test \"%.32s\" needs name_zh and a known unit", name);
        json_t *al = json_object_get(t, "aliases");
        size_t j;
        json_t *a;
        if (al && !json_is_array(al))
            return tt_fail(err, TT_ERR_MALFORMED, "limits test \"%.32s\": aliases must be a list",
                           name);
        json_array_foreach(al, j, a) if (!json_is_string(a)) return tt_fail(
            err, TT_ERR_MALFORMED, "limits test \"%.32s\": aliases must be strings", name);
    }
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *test = json_string_value(json_object_get(r, "test"));
        const char *max = json_string_value(json_object_get(r, "max"));
        const char *status = json_string_value(json_object_get(r, "status"));
        if (test == NULL || json_object_get(tests, test) == NULL || max == NULL ||
            !tt_decimal_valid(max) || status == NULL ||
            !json_is_string(json_object_get(r, "source")))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "limits rule %zu needs a known test, a decimal max, status and source",
                           i);
        if (strcmp(status, "confirmed") && strcmp(status, "confirmed_2015") &&
            strcmp(status, "draft") && strcmp(status, "unconfirmed"))
            return tt_fail(err, TT_ERR_MALFORMED, "limits rule %zu has unknown status \"%.20s\"", i,
                           status);
        static const char *lists[] = {"herbs", "forms", "categories"};
        for (int k = 0; k < 3; k++) {
            json_t *l = json_object_get(r, lists[k]);
            size_t j;
            json_t *v;
            if (l == NULL)
                continue;
            if (!json_is_array(l) || json_array_size(l) == 0)
                return tt_fail(err, TT_ERR_MALFORMED, "limits rule %zu: \"%s\" must be a list", i,
                               lists[k]);
            json_array_foreach(l, j, v) if (!json_is_string(v)) return tt_fail(
                err, TT_ERR_MALFORMED, "limits rule %zu: \"%s\" must hold strings", i, lists[k]);
        }
    }
    return TT_OK;
}

/* ASCII letters compare without case; everything else (Chinese names,
 * symbols) byte for byte. */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x < 0x80 && y < 0x80) {
            if (x >= 'A' && x <= 'Z')
                x += 32;
            if (y >= 'A' && y <= 'Z')
                y += 32;
        }
        if (x != y)
            return 0;
    }
    return *a == *b;
}

const char *tt_limits_test_id(json_t *table, const char *name)
{
    const char *id;
    json_t *t;
    json_object_foreach(json_object_get(table, "tests"), id, t)
    {
        if (same_name(id, name) ||
            same_name(json_string_value(json_object_get(t, "name_zh")), name))
            return id;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(t, "aliases"), i,
                           a) if (same_name(json_string_value(a), name)) return id;
    }
    return NULL;
}

/* "so2 (二氧化硫残留), pb (铅), ...": what an unknown test's message lists. */
static void known_tests(json_t *table, char *out, size_t cap)
{
    const char *id;
    json_t *t;
    out[0] = '\0';
    json_object_foreach(json_object_get(table, "tests"), id, t)
    {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s (%s)", n ? ", " : "", id,
                 json_string_value(json_object_get(t, "name_zh")));
    }
}

/* The rule for one test: herb-specific rules first, then the others. */
static json_t *find_rule(json_t *table, const char *test, const char *herb, const char *form,
                         const char *category)
{
    json_t *rules = json_object_get(table, "rules");
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r)
        {
            int herb_specific = json_object_get(r, "herbs") != NULL;
            if (herb_specific != (pass == 0))
                continue;
            if (strcmp(json_string_value(json_object_get(r, "test")), test) != 0)
                continue;
            if (list_has(r, "herbs", herb) && list_has(r, "forms", form) &&
                list_has(r, "categories", category))
                return r;
        }
    }
    return NULL;
}

/* The strictest rule over every herb the batch is made of: a compound is
 * held to the lowest limit any of its herbs has. */
static json_t *strictest_rule(json_t *table, const char *test, json_t *herbs, const char *form,
                              const char *category)
{
    json_t *best = NULL, *h;
    size_t i;
    json_array_foreach(herbs, i, h)
    {
        json_t *r = find_rule(table, test, json_string_value(h), form, category);
        if (r &&
            (best == NULL || tt_decimal_cmp(json_string_value(json_object_get(r, "max")),
                                            json_string_value(json_object_get(best, "max"))) < 0))
            best = r;
    }
    return best;
}

static tt_err judge_one(json_t *table, json_t *res, json_t *herbs, const char *form,
                        const char *category, json_t **out, int *failed, int *judged, tt_error *err)
{
    const char *written = json_string_value(json_object_get(res, "test"));
    const char *value = json_string_value(json_object_get(res, "value"));
    const char *unit = json_string_value(json_object_get(res, "unit"));
    *out = NULL;
    if (value[0] == '-')
        return tt_fail(err, TT_ERR_MALFORMED, "measured value %s of %s is negative", value,
                       written);
    const char *test = tt_limits_test_id(table, written);
    if (test == NULL) {
        char list[700];
        known_tests(table, list, sizeof list);
        return tt_fail(err, TT_ERR_UNKNOWN_TEST,
                       "the limits table knows no test \"%.32s\"; use one of: %.200s", written,
                       list);
    }
    json_t *tdef = json_object_get(json_object_get(table, "tests"), test);
    const char *lunit = json_string_value(json_object_get(tdef, "unit"));
    int fam, fac, lfam, lfac;
    if (!unit_of(unit, &fam, &fac) || !unit_of(lunit, &lfam, &lfac) || fam != lfam)
        return tt_fail(err, TT_ERR_BAD_UNIT, "test %s is measured in %s, not in \"%.16s\"", test,
                       lunit, unit);
    json_t *o = json_deep_copy(res);
    *out = o;
    json_object_set_new(o, "test", json_string(test));
    if (strcmp(test, written) != 0)
        json_object_set_new(o, "as_written", json_string(written));
    json_object_set_new(o, "name_zh", json_deep_copy(json_object_get(tdef, "name_zh")));
    json_t *rule = strictest_rule(table, test, herbs, form, category);
    if (rule == NULL) {
        json_object_set_new(o, "verdict", json_string("no_limit"));
        return TT_OK;
    }
    const char *max = json_string_value(json_object_get(rule, "max"));
    /* compare value*fac with max*lfac, both in the smallest unit */
    dec v = dec_parse(value) * fac, m = dec_parse(max) * lfac;
    int pass = v <= m;
    json_object_set_new(o, "limit", json_string(max));
    json_object_set_new(o, "limit_unit", json_string(lunit));
    /* copies: the verdict is kept in a batch record, the table is shared */
    json_object_set_new(o, "status", json_deep_copy(json_object_get(rule, "status")));
    json_object_set_new(o, "source", json_deep_copy(json_object_get(rule, "source")));
    json_object_set_new(o, "verdict", json_string(pass ? "pass" : "fail"));
    *failed |= !pass;
    *judged = 1;
    return TT_OK;
}

tt_err tt_limits_judge(json_t *table, json_t *herbs, const char *form, const char *category,
                       json_t *results, json_t **verdict, tt_error *err)
{
    json_t *out = json_array();
    int failed = 0, judged = 0;
    size_t i, k;
    json_t *res;
    json_array_foreach(results, i, res)
    {
        json_t *o = NULL;
        tt_err rc = judge_one(table, res, herbs, form, category, &o, &failed, &judged, err);
        for (k = 0; rc == TT_OK && k < json_array_size(out); k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(out, k), "test")),
                       json_string_value(json_object_get(o, "test"))) == 0)
                rc = tt_fail(err, TT_ERR_MALFORMED, "test %s is reported twice",
                             json_string_value(json_object_get(o, "test")));
        if (rc != TT_OK) {
            json_decref(o);
            json_decref(out);
            return rc;
        }
        json_array_append_new(out, o);
    }
    *verdict = json_pack("{s:s, s:o}", "verdict",
                         failed   ? "fail"
                         : judged ? "pass"
                                  : "no_limit",
                         "results", out);
    return TT_OK;
}
