/*
 * tracecode.c: trace codes with a Damm check digit.
 *
 * Damm's table is a weakly totally anti-symmetric quasigroup: for any two
 * distinct digits the interim results differ, so one wrong digit or two
 * swapped neighbours always change the check. The table is the one Damm
 * published (2004).
 */
#include "tcmtrace/tracecode.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const unsigned char damm_table[10][10] = {
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3}, {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
    {1, 7, 5, 0, 9, 8, 3, 4, 2, 6}, {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7}, {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
    {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

int tt_damm(const char *s, int len)
{
    int interim = 0;
    for (int i = 0; i < len; i++)
        interim = damm_table[interim][s[i] - '0'];
    return interim;
}

void tt_code_new(uint64_t time_ms, char out[TT_CODE_LEN + 1])
{
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, TT_CODE_LEN + 1, "%02d%02d%02d", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday);
    for (int i = 6; i < TT_CODE_LEN - 1; i++)
        out[i] = (char)('0' + randombytes_uniform(10));
    out[TT_CODE_LEN - 1] = (char)('0' + tt_damm(out, TT_CODE_LEN - 1));
    out[TT_CODE_LEN] = '\0';
}

tt_err tt_code_parse(const char *in, char out[TT_CODE_LEN + 1], tt_error *err)
{
    int n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p < '0' || *p > '9')
            return tt_fail(err, TT_ERR_MALFORMED, "trace code \"%.40s\" may hold only digits", in);
        if (n == TT_CODE_LEN)
            return tt_fail(err, TT_ERR_MALFORMED, "trace code \"%.40s\" has more than %d digits",
                           in, TT_CODE_LEN);
        out[n++] = *p;
    }
    out[n] = '\0';
    if (n != TT_CODE_LEN)
        return tt_fail(err, TT_ERR_MALFORMED, "trace code \"%.40s\" has %d digits, not %d", in, n,
                       TT_CODE_LEN);
    if (tt_damm(out, TT_CODE_LEN) != 0)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "trace code \"%.40s\" fails its check digit: a digit is wrong or two "
                       "are swapped",
                       in);
    return TT_OK;
}

void tt_code_pretty(const char *code, char out[TT_CODE_PRETTY + 1])
{
    int o = 0;
    for (int i = 0; i < TT_CODE_LEN && code[i]; i++) {
        if (i && i % 4 == 0)
            out[o++] = ' ';
        out[o++] = code[i];
    }
    out[o] = '\0';
}
