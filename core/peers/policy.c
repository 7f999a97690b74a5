/*
 * policy.c: a log's witness policy (tcmtrace/policy.h): parse, and check a
 * checkpoint's cosignatures against it.
 */
#include "tcmtrace/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS 40

/* Splits a line in place at spaces and tabs; returns the count (at most WORDS). */
static int split_words(char *line, char **w)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r", &save); t && n < WORDS; t = strtok_r(NULL, " \t\r", &save))
        w[n++] = t;
    return n;
}

/* A defined label's member reference, or 0 when none (refs are >= 0 or < 0, so out-param). */
static int find_label(const tt_policy *p, const char *label, int *ref)
{
    for (size_t i = 0; i < p->nwitness; i++)
        if (strcmp(p->label[i], label) == 0) {
            *ref = (int)i;
            return 1;
        }
    for (size_t g = 0; g < p->ngroup; g++)
        if (strcmp(p->group[g].label, label) == 0) {
            *ref = -(int)g - 1;
            return 1;
        }
    return 0;
}

static tt_err label_ok(const tt_policy *p, const char *label, unsigned line, tt_error *err)
{
    int ref;
    if (strlen(label) >= TT_POLICY_LABEL)
        return tt_fail(err, TT_ERR_MALFORMED, "policy line %u: the label is longer than %d bytes",
                       line, TT_POLICY_LABEL - 1);
    if (find_label(p, label, &ref) || strcmp(label, "none") == 0)
        return tt_fail(err, TT_ERR_MALFORMED, "policy line %u: \"%.64s\" is already defined",
                       line, label);
    return TT_OK;
}

tt_err tt_policy_parse(const char *text, size_t len, tt_policy *p, tt_error *err)
{
    memset(p, 0, sizeof *p);
    unsigned lineno = 0;
    int quorum_lines = 0;
    const char *pos = text, *end = text + len;
    while (pos < end) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        size_t l = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
        lineno++;
        char buf[2048];
        if (l >= sizeof buf)
            return tt_fail(err, TT_ERR_MALFORMED, "policy line %u is longer than %zu bytes",
                           lineno, sizeof buf - 1);
        memcpy(buf, pos, l);
        buf[l] = '\0';
        pos = nl ? nl + 1 : end;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *w[WORDS];
        int n = split_words(buf, w);
        if (n == 0)
            continue;
        if (strcmp(w[0], "witness") == 0) {
            if (n < 3 || n > 4)
                return tt_fail(err, TT_ERR_MALFORMED,
                               "policy line %u: write \"witness <label> <vkey> [<url>]\"", lineno);
            if (p->nwitness == TT_POLICY_MAX)
                return tt_fail(err, TT_ERR_TOO_LARGE, "policy line %u: more than %d witnesses",
                               lineno, TT_POLICY_MAX);
            tt_err rc = label_ok(p, w[1], lineno, err);
            if (rc != TT_OK)
                return rc;
            tt_verifier *v = &p->witness[p->nwitness];
            tt_error e2 = {0};
            if (tt_verifier_parse(w[2], v, &e2) != TT_OK)
                return tt_fail(err, TT_ERR_KEY_FORMAT, "policy line %u: witness %.64s: %s", lineno,
                               w[1], e2.message);
            if (v->type != TT_SIG_COSIG)
                return tt_fail(err, TT_ERR_KEY_FORMAT,
                               "policy line %u: witness %.64s's key is a log key (type 0x01), not "
                               "a cosigner's (type 0x04)",
                               lineno, w[1]);
            for (size_t i = 0; i < p->nwitness; i++)
                if (memcmp(p->witness[i].pk, v->pk, TT_PK_SIZE) == 0)
                    return tt_fail(err, TT_ERR_MALFORMED,
                                   "policy line %u: witness %.64s has the key of witness %.64s",
                                   lineno, w[1], p->label[i]);
            if (n == 4) {
                if (strlen(w[3]) >= TT_POLICY_URL ||
                    (strncmp(w[3], "http://", 7) != 0 && strncmp(w[3], "https://", 8) != 0))
                    return tt_fail(err, TT_ERR_MALFORMED,
                                   "policy line %u: witness %.64s's URL must start with http:// or "
                                   "https:// (at most %d bytes)",
                                   lineno, w[1], TT_POLICY_URL - 1);
                snprintf(p->url[p->nwitness], TT_POLICY_URL, "%s", w[3]);
            }
            snprintf(p->label[p->nwitness], TT_POLICY_LABEL, "%s", w[1]);
            p->nwitness++;
        } else if (strcmp(w[0], "group") == 0) {
            if (n < 4)
                return tt_fail(err, TT_ERR_MALFORMED,
                               "policy line %u: write \"group <label> <k>|all|any <member>...\"",
                               lineno);
            if (p->ngroup == TT_POLICY_MAX)
                return tt_fail(err, TT_ERR_TOO_LARGE, "policy line %u: more than %d groups",
                               lineno, TT_POLICY_MAX);
            tt_err rc = label_ok(p, w[1], lineno, err);
            if (rc != TT_OK)
                return rc;
            tt_policy_group *g = &p->group[p->ngroup];
            g->n = (unsigned)(n - 3);
            for (int m = 3; m < n; m++) {
                if (!find_label(p, w[m], &g->member[m - 3]))
                    return tt_fail(err, TT_ERR_MALFORMED,
                                   "policy line %u: group %.64s names \"%.64s\", which is not "
                                   "defined above it",
                                   lineno, w[1], w[m]);
                for (int o = 3; o < m; o++)
                    if (strcmp(w[o], w[m]) == 0)
                        return tt_fail(err, TT_ERR_MALFORMED,
                                       "policy line %u: group %.64s names \"%.64s\" twice", lineno,
                                       w[1], w[m]);
            }
            if (strcmp(w[2], "all") == 0)
                g->k = g->n;
            else if (strcmp(w[2], "any") == 0)
                g->k = 1;
            else {
                char *e;
                unsigned long k = strtoul(w[2], &e, 10);
                if (*e != '\0' || w[2][0] == '-' || k < 1 || k > g->n)
                    return tt_fail(err, TT_ERR_MALFORMED,
                                   "policy line %u: group %.64s's threshold \"%.16s\" must be 1 to "
                                   "%u, all or any",
                                   lineno, w[1], w[2], g->n);
                g->k = (unsigned)k;
            }
            snprintf(g->label, sizeof g->label, "%s", w[1]);
            p->ngroup++;
        } else if (strcmp(w[0], "quorum") == 0) {
            if (n != 2)
                return tt_fail(err, TT_ERR_MALFORMED,
                               "policy line %u: write \"quorum <label>\" or \"quorum none\"", lineno);
            if (++quorum_lines > 1)
                return tt_fail(err, TT_ERR_MALFORMED, "policy line %u: a second quorum line",
                               lineno);
            if (strcmp(w[1], "none") != 0) {
                if (!find_label(p, w[1], &p->quorum))
                    return tt_fail(err, TT_ERR_MALFORMED,
                                   "policy line %u: the quorum \"%.64s\" is not defined above it",
                                   lineno, w[1]);
                p->has_quorum = 1;
            }
        } else {
            return tt_fail(err, TT_ERR_MALFORMED,
                           "policy line %u: \"%.32s\" is not witness, group or quorum", lineno,
                           w[0]);
        }
    }
    if (p->nwitness > 0 && quorum_lines == 0)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "the policy names witnesses but no quorum line (add \"quorum <label>\")");
    return TT_OK;
}

static int met(const tt_policy *p, int ref, const int *cosigned)
{
    if (ref >= 0)
        return cosigned[ref] != 0;
    const tt_policy_group *g = &p->group[-ref - 1];
    unsigned yes = 0;
    for (unsigned m = 0; m < g->n; m++)
        yes += (unsigned)met(p, g->member[m], cosigned);
    return yes >= g->k;
}

int tt_policy_met(const tt_policy *p, const int *cosigned)
{
    return !p->has_quorum || met(p, p->quorum, cosigned);
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static unsigned least(const tt_policy *p, int ref)
{
    if (ref >= 0)
        return 1;
    const tt_policy_group *g = &p->group[-ref - 1];
    unsigned need[TT_POLICY_MAX], sum = 0;
    for (unsigned m = 0; m < g->n; m++)
        need[m] = least(p, g->member[m]);
    qsort(need, g->n, sizeof need[0], cmp_unsigned);
    for (unsigned m = 0; m < g->k; m++)
        sum += need[m];
    return sum;
}

unsigned tt_policy_required(const tt_policy *p)
{
    return p->has_quorum ? least(p, p->quorum) : 0;
}

tt_err tt_policy_check(const tt_policy *p, const char *note, size_t len, int *cosigned,
                       uint64_t *times, int *ok, tt_error *err)
{
    tt_err rc = tt_note_verify_each((tt_bytes){len, (const uint8_t *)note}, p->witness,
                                    p->nwitness, cosigned, times, NULL, err);
    if (rc != TT_OK)
        return rc;
    *ok = tt_policy_met(p, cosigned);
    return TT_OK;
}
