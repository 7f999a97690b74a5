/*
 * test_event.c: trace codes, event validation and the limits judge.
 *
 * The event fixtures in tests/fixtures/events/ are shared with the JSON
 * Schema check (tests/check_schemas.py): every valid one must pass both
 * the C parser and its schema, every invalid one must fail both.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/event.h"
#include "tcmtrace/herbs.h"
#include "tcmtrace/limits.h"
#include "tcmtrace/tracecode.h"

static void test_damm_catches_single_errors_and_swaps(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        char code[TT_CODE_LEN + 1], bad[TT_CODE_LEN + 1], out[TT_CODE_LEN + 1];
        tt_code_new(tt_now_ms(), code);
        assert_int_equal(tt_code_parse(code, out, NULL), TT_OK);
        for (int i = 0; i < TT_CODE_LEN; i++) {
            for (char d = '0'; d <= '9'; d++) { /* every single wrong digit */
                if (d == code[i])
                    continue;
                memcpy(bad, code, sizeof bad);
                bad[i] = d;
                assert_int_equal(tt_code_parse(bad, out, NULL), TT_ERR_MALFORMED);
            }
            if (i + 1 < TT_CODE_LEN && code[i] != code[i + 1]) { /* every adjacent swap */
                memcpy(bad, code, sizeof bad);
                bad[i] = code[i + 1];
                bad[i + 1] = code[i];
                assert_int_equal(tt_code_parse(bad, out, NULL), TT_ERR_MALFORMED);
            }
        }
    }
}

static void test_code_format(void **state)
{
    (void)state;
    char code[TT_CODE_LEN + 1], out[TT_CODE_LEN + 1], pretty[TT_CODE_PRETTY + 1];
    tt_error err;
    /* 2026-11-22 12:00 UTC */
    tt_code_new(UINT64_C(1795348800000), code);
    assert_int_equal(strlen(code), 16);
    assert_memory_equal(code, "261122", 6);
    tt_code_pretty(code, pretty);
    assert_int_equal(strlen(pretty), 19);
    assert_int_equal(pretty[4], ' ');
    assert_int_equal(tt_code_parse(pretty, out, &err), TT_OK);
    assert_string_equal(out, code);
    char dashed[32];
    snprintf(dashed, sizeof dashed, "%.4s-%.4s-%.4s-%.4s", code, code + 4, code + 8, code + 12);
    assert_int_equal(tt_code_parse(dashed, out, &err), TT_OK);
    assert_int_equal(tt_code_parse("12345", out, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "5 digits"));
    assert_int_equal(tt_code_parse("26112212345678901", out, &err), TT_ERR_MALFORMED);
    assert_int_equal(tt_code_parse("2611221234567A90", out, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "only digits"));
}

static tt_err parse_str(const char *s, tt_event *ev, tt_error *err)
{
    return tt_event_parse(tt_bytes_str(s), ev, err);
}

#define HEAD "\"v\":1,\"at\":\"2026-11-22T09:30:00+08:00\",\"nonce\":\"q83vEjRWeJASNFZ4kBI0Vg\""

static void test_event_strictness(void **state)
{
    (void)state;
    tt_event ev;
    tt_error err;
    char code[17], body[1024];
    tt_code_new(tt_now_ms(), code);
    snprintf(body, sizeof body, "{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":500}",
             code);
    assert_int_equal(parse_str(body, &ev, &err), TT_OK);
    assert_int_equal(ev.type, TT_EV_SELL);
    assert_int_equal(tt_event_int(&ev, "qty_g"), 500);
    tt_event_free(&ev);
    struct {
        const char *body, *needle;
    } bad[] = {
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":500,\"qty_g\":9}", "duplicate"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":1.5}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":-5}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":0}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":1000000000001}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":99999999999999999999}", "JSON"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":\"500\"}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\"}", "qty_g"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5,\"extra\":1}", "extra"},
        {"{" HEAD ",\"type\":\"batch.steal\",\"id\":\"%s\",\"qty_g\":5}", "unknown event type"},
        {"{\"v\":2,\"at\":\"2026-11-22T09:30:00+08:00\",\"nonce\":\"q83vEjRWeJASNFZ4kBI0Vg\","
         "\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5}",
         "\"v\""},
        {"{\"v\":1,\"at\":\"2026-11-22 09:30\",\"nonce\":\"q83vEjRWeJASNFZ4kBI0Vg\","
         "\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5}",
         "RFC 3339"},
        {"{\"v\":1,\"at\":\"2026-11-22T09:30:00\",\"nonce\":\"q83vEjRWeJASNFZ4kBI0Vg\","
         "\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5}",
         "RFC 3339"},
        {"{\"v\":1,\"at\":\"2026-11-22T09:30:00Z\",\"nonce\":\"short\","
         "\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5}",
         "nonce"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5} trailing", "JSON"},
        {"[" HEAD "]", "JSON"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5,\"buyer\":\"a\\u0000b\"}",
         "JSON"},
        {"{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5,\"buyer\":\"\"}", "buyer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, bad[i].body, code);
        err.message[0] = '\0';
        tt_err rc = parse_str(body, &ev, &err);
        if (rc == TT_OK || strstr(err.message, bad[i].needle) == NULL)
            fail_msg("case %zu: got %s \"%s\", wanted an error about %s", i, tt_err_name(rc),
                     err.message, bad[i].needle);
    }
    /* a wrong check digit in the trace code */
    char wrong[17];
    memcpy(wrong, code, 17);
    wrong[15] = wrong[15] == '9' ? '0' : (char)(wrong[15] + 1);
    snprintf(body, sizeof body, "{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5}",
             wrong);
    assert_int_equal(parse_str(body, &ev, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "check digit"));
    /* invalid UTF-8 */
    snprintf(body, sizeof body,
             "{" HEAD ",\"type\":\"batch.sell\",\"id\":\"%s\",\"qty_g\":5,\"buyer\":\"\xC0\xAF\"}",
             code);
    assert_int_equal(parse_str(body, &ev, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "UTF-8"));
    /* oversized */
    char *big = malloc(TT_BODY_MAX + 2);
    memset(big, ' ', TT_BODY_MAX + 1);
    big[TT_BODY_MAX + 1] = '\0';
    assert_int_equal(parse_str(big, &ev, &err), TT_ERR_TOO_LARGE);
    free(big);
}

static void test_scalars(void **state)
{
    (void)state;
    assert_true(tt_rfc3339_valid("2026-11-22T09:30:00+08:00"));
    assert_true(tt_rfc3339_valid("2026-11-22T01:30:00.123Z"));
    assert_false(tt_rfc3339_valid("2026-02-30T01:30:00Z"));
    assert_false(tt_rfc3339_valid("2026-11-22T24:30:00Z"));
    assert_false(tt_rfc3339_valid("2026-11-22T09:30:00+0800"));
    assert_true(tt_date_valid("2024-02-29"));
    assert_false(tt_date_valid("2025-02-29"));
    assert_true(tt_decimal_valid("0.35"));
    assert_true(tt_decimal_valid("-104.0312"));
    assert_false(tt_decimal_valid("0."));
    assert_false(tt_decimal_valid(".5"));
    assert_false(tt_decimal_valid("1e3"));
    assert_false(tt_decimal_valid("0.1234567890"));
    assert_int_equal(tt_decimal_cmp("150", "150.000"), 0);
    assert_true(tt_decimal_cmp("150.0001", "150") > 0);
    assert_true(tt_decimal_cmp("0.2", "0.19") > 0);
    assert_true(tt_decimal_cmp("-1", "0") < 0);
    assert_true(tt_actor_id_valid("T-0017"));
    assert_false(tt_actor_id_valid("T 17"));
    assert_false(tt_actor_id_valid(""));
}

/* The edges of the scalar checks, the builder and the buyer's commitment. */
static void test_edges(void **state)
{
    (void)state;
    tt_event ev;
    tt_error err;
    assert_false(tt_date_valid("2026-1a-01")); /* not digits */
    assert_false(tt_date_valid("2026/11/22"));
    assert_false(tt_date_valid("2026-13-01"));
    assert_false(tt_date_valid("1899-12-31"));
    assert_false(tt_rfc3339_valid("2026-11-22T0a:30:00Z"));
    assert_false(tt_rfc3339_valid("2026-11-22T09:30:00.Z")); /* a point and no digits */
    assert_false(tt_rfc3339_valid("2026-11-22T09:30:00+08:0x"));
    int64_t ms, ms2;
    assert_false(tt_rfc3339_ms("2026-11-22 09:30:00Z", &ms));
    assert_true(tt_rfc3339_ms("2026-11-22T01:30:00.5Z", &ms));
    assert_true(tt_rfc3339_ms("2026-11-22T09:30:00.500+08:00", &ms2));
    assert_int_equal(ms, ms2); /* .5 is 500 ms, and +08:00 is eight hours ahead */
    assert_int_equal(ms % 1000, 500);
    assert_int_equal(tt_gtin_check_digit("690123456789", 12), 2);
    assert_int_equal(tt_gtin_check_digit("69012345678x", 12), -1);
    assert_true(tt_base_url_valid("https://trace.example.cn/cq"));
    assert_false(tt_base_url_valid("ftp://trace.example.cn"));
    assert_false(tt_base_url_valid("https://trace.example.cn/a b"));
    assert_false(tt_base_url_valid("https://trace.example.cn/"));

    char code[17], body[4096], longkey[1500];
    tt_code_new(tt_now_ms(), code);
    struct {
        const char *fmt, *needle;
    } bad[] = {
        /* a hash that is 64 characters but not hex */
        {"{" HEAD ",\"type\":\"batch.inspect\",\"id\":\"%s\",\"lab\":\"l\",\"standard\":\"s\","
         "\"results\":[{\"test\":\"so2\",\"value\":\"1\",\"unit\":\"mg/kg\"}],\"report_sha256\":"
         "\"g000000000000000000000000000000000000000000000000000000000000000\"}",
         "report_sha256"},
        /* an object field that is not an object */
        {"{" HEAD ",\"type\":\"batch.register\",\"id\":\"%s\",\"herb\":5}", "herb"},
        /* a body that is a list, and one with no type */
        {"[%s]", "JSON object"},
        {"{" HEAD ",\"id\":\"%s\"}", "\"type\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, bad[i].fmt, code);
        if (i == 2)
            snprintf(body, sizeof body, "[\"%s\"]", code);
        tt_err rc = parse_str(body, &ev, &err);
        if (rc != TT_ERR_MALFORMED)
            fail_msg("case %zu: %s (%s)", i, tt_err_name(rc), err.message);
        if (strstr(err.message, bad[i].needle) == NULL)
            fail_msg("case %zu: \"%s\" does not name %s", i, err.message, bad[i].needle);
    }
    /* an unknown member with a very long name: the path in the refusal is cut, not overrun */
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    snprintf(body, sizeof body,
             "{" HEAD ",\"type\":\"batch.register\",\"id\":\"%s\",\"origin\":{\"%s\":1}}", code,
             longkey);
    assert_int_equal(parse_str(body, &ev, &err), TT_ERR_MALFORMED);
    assert_true(strlen(err.message) < sizeof err.message);
    /* a child whose code begins with no date (month 13), and one from the future */
    char nodate[17] = "261301000000000", later[17] = "991231000000000";
    nodate[15] = (char)('0' + tt_damm(nodate, 15)), nodate[16] = '\0';
    later[15] = (char)('0' + tt_damm(later, 15)), later[16] = '\0';
    const char *kids[] = {nodate, later};
    const char *why[] = {"does not begin with a date", "children"};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{" HEAD ",\"type\":\"batch.split\",\"id\":\"%s\",\"children\":[{\"id\":\"%s\","
                 "\"qty_g\":10}]}",
                 code, kids[i]);
        tt_err rc = parse_str(body, &ev, &err);
        if (rc != (i == 0 ? TT_ERR_MALFORMED : TT_ERR_BAD_TIME) || strstr(err.message, why[i]) == NULL)
            fail_msg("child %s: %s \"%s\"", kids[i], tt_err_name(rc), err.message);
    }

    /* limits tables that are not: each refused, naming what is wrong */
    const char *tables[][2] = {
        {"{}", "needs \"tests\" and \"rules\""},
        {"{\"tests\":{\"so2\":{\"name_zh\":\"二氧化硫\"}},\"rules\":[]}", "known unit"},
        {"{\"tests\":{\"so2\":{\"name_zh\":\"二氧化硫\",\"unit\":\"mg/kg\",\"aliases\":\"SO2\"}},"
         "\"rules\":[]}",
         "aliases must be a list"},
        {"{\"tests\":{\"so2\":{\"name_zh\":\"二氧化硫\",\"unit\":\"mg/kg\"}},\"rules\":[{\"test\":"
         "\"so2\",\"max\":\"150\",\"status\":\"maybe\",\"source\":\"x\"}]}",
         "unknown status"},
        {"{\"tests\":{\"so2\":{\"name_zh\":\"二氧化硫\",\"unit\":\"mg/kg\"}},\"rules\":[{\"test\":"
         "\"so2\",\"max\":\"150\",\"status\":\"draft\",\"source\":\"x\",\"herbs\":[]}]}",
         "must be a list"},
    };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        json_t *t = json_loads(tables[i][0], 0, NULL);
        assert_non_null(t);
        assert_int_equal(tt_limits_check(t, &err), TT_ERR_MALFORMED);
        if (strstr(err.message, tables[i][1]) == NULL)
            fail_msg("table %zu: \"%s\" does not say %s", i, err.message, tables[i][1]);
        json_decref(t);
    }

    /* the builder: a body the parser takes, of the type asked, stamped now with an offset */
    char *built = tt_event_build("batch.sell", json_pack("{s:s, s:i}", "id", code, "qty_g", 250));
    assert_non_null(built);
    assert_int_equal(parse_str(built, &ev, &err), TT_OK);
    assert_int_equal(ev.type, TT_EV_SELL);
    const char *at = tt_event_str(&ev, "at");
    assert_true(tt_rfc3339_ms(at, &ms));
    assert_true(llabs((long long)(ms - (int64_t)tt_now_ms())) < 120000);
    assert_int_equal(strlen(tt_event_str(&ev, "nonce")), 22);
    tt_event_free(&ev);
    free(built);

    /* the buyer's commitment, against SHA-256 computed here */
    char got[65], want[65];
    uint8_t h[32];
    const char *salt = "00112233445566778899aabbccddeeff", *buyer = "周敏 13800000000";
    char *msg;
    assert_true(asprintf(&msg, "tcmtrace/buyer/v1\n%s\n%s", salt, buyer) > 0);
    crypto_hash_sha256(h, (const unsigned char *)msg, strlen(msg));
    sodium_bin2hex(want, sizeof want, h, sizeof h);
    tt_buyer_commitment(salt, buyer, got);
    assert_string_equal(got, want);
    free(msg);
}

/* A herb against its dictionary row: the readings of a part, a name of one word, and
 * dictionaries that cannot be split into events. */
static void test_herb_rows(void **state)
{
    (void)state;
    tt_error err;
    int ok;
    json_t *row = json_pack("{s:s, s:s, s:[s], s:s, s:[s], s:s}", "name_zh", "甘草", "latin",
                            "Glycyrrhizae Radix et Rhizoma", "species", "Glycyrrhiza uralensis Fisch.",
                            "part", "干燥根和根茎", "parts", "根茎", "category", "plant");
    struct {
        const char *latin, *part;
        int want;
    } cases[] = {
        {"Glycyrrhizae Radix et Rhizoma", "根 及 根茎", 1}, /* 及 read as 和, spaces aside */
        {"Glycyrrhiza uralensis", "干燥根茎", 1},           /* the binomial; another reading */
        {"Glycyrrhiza", "根和根茎", 0},                     /* a genus alone is no species */
        {"Glycyrrhiza uralensis", "叶", 0},                  /* a part the row does not have */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *herb = json_pack("{s:s, s:s, s:s}", "name_zh", "甘草", "latin", cases[i].latin,
                                 "part", cases[i].part);
        tt_err rc = tt_herbs_match(row, herb, &ok, &err);
        if ((rc == TT_OK) != cases[i].want || ok != cases[i].want)
            fail_msg("case %zu (%s, %s): %s", i, cases[i].latin, cases[i].part,
                     rc == TT_OK ? "matched" : err.message);
        json_decref(herb);
    }
    json_decref(row);
    json_t *evs = NULL;
    json_t *doc = json_pack("{s:[{s:s}]}", "herbs", "name_zh", "甘草");
    assert_int_equal(tt_herbs_events(doc, &evs, &err), TT_ERR_MALFORMED); /* no edition */
    assert_non_null(strstr(err.message, "edition"));
    json_decref(doc);
    char *huge = malloc(TT_BODY_MAX);
    memset(huge, 'x', TT_BODY_MAX - 1);
    huge[TT_BODY_MAX - 1] = '\0';
    doc = json_pack("{s:s, s:[{s:s, s:s}]}", "edition", "e", "herbs", "name_zh", "甘草", "review",
                    huge);
    assert_int_equal(tt_herbs_events(doc, &evs, &err), TT_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "row 0 is not a small object"));
    json_decref(doc);
    free(huge);
}

static json_t *load_table(void)
{
    char *path;
    json_error_t jerr;
    assert_true(asprintf(&path, "%s/../../schemas/limits/chp2020.json", tu_datadir()) > 0);
    json_t *t = json_load_file(path, 0, &jerr);
    free(path);
    assert_non_null(t);
    assert_int_equal(tt_limits_check(t, NULL), TT_OK);
    return t;
}

static const char *judge(json_t *table, const char *herb, const char *form, const char *cat,
                         const char *test, const char *value, const char *unit, tt_err *rc,
                         json_t **keep)
{
    json_t *results = json_pack("[{s:s, s:s, s:s}]", "test", test, "value", value, "unit", unit);
    json_t *v = NULL;
    json_t *herbs = json_pack("[s]", herb);
    *rc = tt_limits_judge(table, herbs, form, cat, results, &v, NULL);
    json_decref(herbs);
    json_decref(results);
    if (*rc != TT_OK)
        return NULL;
    static char verdict[32];
    snprintf(verdict, sizeof verdict, "%s", json_string_value(json_object_get(v, "verdict")));
    if (keep)
        *keep = v;
    else
        json_decref(v);
    return verdict;
}

static void test_limits_judge(void **state)
{
    (void)state;
    json_t *t = load_table(), *v = NULL;
    tt_err rc;
    /* SO2: general 150 mg/kg; ten herbs 400; 山药片 10 */
    assert_string_equal(judge(t, "当归", "药材", "plant", "so2", "520", "mg/kg", &rc, &v), "fail");
    json_t *r0 = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "limit")), "150");
    assert_string_equal(json_string_value(json_object_get(r0, "status")), "confirmed");
    json_decref(v);
    assert_string_equal(judge(t, "当归", "药材", "plant", "so2", "150", "mg/kg", &rc, NULL),
                        "pass");
    assert_string_equal(judge(t, "当归", "药材", "plant", "so2", "150.001", "mg/kg", &rc, NULL),
                        "fail");
    assert_string_equal(judge(t, "山药", "药材", "plant", "so2", "350", "mg/kg", &rc, NULL),
                        "pass");
    assert_string_equal(judge(t, "党参", "饮片", "plant", "so2", "401", "ppm", &rc, NULL), "fail");
    assert_string_equal(judge(t, "山药", "饮片", "plant", "so2", "15", "mg/kg", &rc, NULL), "fail");
    assert_string_equal(judge(t, "朱砂", "药材", "mineral", "so2", "900", "mg/kg", &rc, NULL),
                        "no_limit");
    /* heavy metals, draft limits for plants; 水蛭 has its own */
    assert_string_equal(judge(t, "黄芪", "药材", "plant", "hg", "0.21", "mg/kg", &rc, &v), "fail");
    r0 = json_array_get(json_object_get(v, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "status")), "draft");
    json_decref(v);
    assert_string_equal(judge(t, "水蛭", "药材", "animal", "pb", "8", "mg/kg", &rc, NULL), "pass");
    assert_string_equal(judge(t, "水蛭", "药材", "animal", "pb", "11", "mg/kg", &rc, NULL), "fail");
    /* aflatoxin with unit conversion: 0.004 mg/kg = 4 µg/kg */
    assert_string_equal(
        judge(t, "桃仁", "药材", "plant", "aflatoxin_b1", "0.004", "mg/kg", &rc, NULL), "pass");
    assert_string_equal(judge(t, "桃仁", "药材", "plant", "aflatoxin_b1", "6", "µg/kg", &rc, NULL),
                        "fail");
    assert_string_equal(judge(t, "当归", "药材", "plant", "aflatoxin_b1", "6", "µg/kg", &rc, NULL),
                        "no_limit");
    /* moisture: herb-specific wins over the 饮片 default */
    assert_string_equal(judge(t, "当归", "饮片", "plant", "moisture", "14.5", "%", &rc, NULL),
                        "pass");
    assert_string_equal(judge(t, "白芍", "饮片", "plant", "moisture", "14.5", "%", &rc, NULL),
                        "fail");
    /* units that do not fit */
    assert_null(judge(t, "当归", "药材", "plant", "so2", "5", "%", &rc, NULL));
    assert_int_equal(rc, TT_ERR_BAD_UNIT);
    assert_null(judge(t, "当归", "药材", "plant", "so2", "5", "furlongs", &rc, NULL));
    assert_int_equal(rc, TT_ERR_BAD_UNIT);
    assert_null(judge(t, "当归", "药材", "plant", "so2", "-5", "mg/kg", &rc, NULL));
    assert_int_equal(rc, TT_ERR_MALFORMED);
    /* malformed tables */
    json_t *bad = json_pack("{s:{}, s:[{s:s, s:s}]}", "tests", "rules", "test", "so2", "max", "1");
    assert_int_equal(tt_limits_check(bad, NULL), TT_ERR_MALFORMED);
    json_decref(bad);
    json_decref(t);
}

/* Every fixture: valid ones parse, invalid ones are refused; implausible
 * ones have the right shape (the schema takes them) but dates or places
 * that cannot be, and are refused with bad_time or malformed. */
static void check_fixture_dir(const char *sub, int want_ok)
{
    char *dir;
    assert_true(asprintf(&dir, "%s/../fixtures/events/%s", tu_datadir(), sub) > 0);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, ".json"))
            continue;
        char *path;
        size_t len;
        assert_true(asprintf(&path, "%s/%s", dir, de->d_name) > 0);
        char *body = tu_slurp(path, &len);
        while (len && (body[len - 1] == '\n'))
            len--; /* files end in a newline; the signed body does not */
        tt_event ev;
        tt_error err;
        tt_err rc = tt_event_parse((tt_bytes){len, (uint8_t *)body}, &ev, &err);
        if ((rc == TT_OK) != want_ok)
            fail_msg("fixture %s/%s: %s (%s)", sub, de->d_name, tt_err_name(rc), err.message);
        if (strcmp(sub, "implausible") == 0 && rc != TT_ERR_BAD_TIME &&
            !(rc == TT_ERR_MALFORMED &&
              (strstr(err.message, "degrees") || strstr(err.message, "check digit"))))
            fail_msg("fixture %s/%s: refused for another reason: %s (%s)", sub, de->d_name,
                     tt_err_name(rc), err.message);
        tt_event_free(&ev);
        free(body);
        free(path);
        n++;
    }
    closedir(d);
    free(dir);
    assert_true(n >= (strcmp(sub, "implausible") == 0 ? 8 : 10));
}

static void test_fixtures(void **state)
{
    (void)state;
    check_fixture_dir("valid", 1);
    check_fixture_dir("invalid", 0);
    check_fixture_dir("implausible", 0);
}

/* a refusal names the field by its whole path: "origin.city", "documents[0].sha256" */
static void test_paths_in_refusals(void **state)
{
    (void)state;
    char *path;
    size_t len;
    assert_true(asprintf(&path, "%s/../fixtures/events/valid/register.json", tu_datadir()) > 0);
    char *text = tu_slurp(path, &len);
    free(path);
    json_t *good = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(good);
    static const struct {
        const char *change, *needle;
    } cases[] = {
        {"drop origin.city", "field \"origin.city\" is missing"},
        {"drop herb.name_zh", "field \"herb.name_zh\" is missing"},
        {"bad documents[0].sha256", "documents[0].sha256"},
        {"drop id", "field \"id\" is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *b = json_deep_copy(good);
        if (i == 0)
            json_object_del(json_object_get(b, "origin"), "city");
        else if (i == 1)
            json_object_del(json_object_get(b, "herb"), "name_zh");
        else if (i == 2)
            json_object_set_new(json_array_get(json_object_get(b, "documents"), 0), "sha256",
                                json_string("xyz"));
        else
            json_object_del(b, "id");
        char *body = json_dumps(b, JSON_COMPACT);
        tt_event ev;
        tt_error err;
        tt_err rc = tt_event_parse((tt_bytes){strlen(body), (uint8_t *)body}, &ev, &err);
        if (rc != TT_ERR_MALFORMED || strstr(err.message, cases[i].needle) == NULL)
            fail_msg("%s: got %s \"%s\", wanted \"%s\"", cases[i].change, tt_err_name(rc),
                     err.message, cases[i].needle);
        free(body);
        json_decref(b);
    }
    json_decref(good);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damm_catches_single_errors_and_swaps),
        cmocka_unit_test(test_code_format),
        cmocka_unit_test(test_event_strictness),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_herb_rows),
        cmocka_unit_test(test_limits_judge),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_paths_in_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
