/*
 * event.c: parsing and validating event bodies.
 *
 * Each type is a table of fields; the validator walks the table and the
 * object together, so a missing required field, a field of the wrong kind
 * and a field the type does not know are all refused with the field's
 * path in the message. The tables are written to match schemas/events/
 * exactly; tests/test_event.c checks both against the same fixtures.
 */
#include "tcmtrace/event.h"

#include "base/jalloc.h"
#include "tcmtrace/sha256.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcmtrace/api.h"
#include "tcmtrace/entry.h"
#include "tcmtrace/ledger.h"
#include "tcmtrace/note.h"
#include "tcmtrace/tracecode.h"

static const char *const type_names[] = {
#define TT_EV_NAME_(name, str) str,
    TT_EVENT_TYPES(TT_EV_NAME_)
#undef TT_EV_NAME_
};

static const char *const role_names[] = {
#define TT_ROLE_NAME_(name, str) str,
    TT_ROLES(TT_ROLE_NAME_)
#undef TT_ROLE_NAME_
        NULL};

const char *tt_event_type_name(tt_event_type t)
{
    return (unsigned)t < TT_EV_COUNT ? type_names[t] : NULL;
}

tt_event_type tt_event_type_from_name(const char *name)
{
    for (int i = 0; i < TT_EV_COUNT; i++)
        if (strcmp(type_names[i], name) == 0)
            return (tt_event_type)i;
    return TT_EV_COUNT;
}

typedef enum kind {
    K_END,
    K_V,       /* the integer 1 */
    K_TYPE,    /* checked before the table */
    K_STR,     /* text, min..max bytes, no control characters */
    K_CODE,    /* trace code, 16 digits with a valid check digit */
    K_ACTOR,   /* actor id */
    K_KEY,     /* base64 of a 32-byte Ed25519 public key */
    K_QTY,     /* integer grams 1..TT_QTY_MAX */
    K_BOOL,    /* true or false */
    K_DATE,    /* YYYY-MM-DD */
    K_TIME,    /* RFC 3339 with offset */
    K_NONCE,   /* base64url, 16..64 bytes */
    K_SHA256,  /* 64 lower-case hex digits */
    K_GTIN,    /* a GTIN-14 with its GS1 check digit */
    K_DECIMAL, /* decimal string */
    K_ORIGIN,  /* a log origin: a note key name */
    K_VKEY,    /* a C2SP verifier key */
    K_ENUM,    /* one of sub (a NULL-ended list of strings) */
    K_ROLES,   /* unique roles, 1..6 */
    K_OBJ,     /* an object of the fields in sub */
    K_ARR,     /* min..max items, each the field in sub */
    K_TABLE,   /* any object (checked by its own module) */
    K_LINES    /* text of min..max characters in lines: newlines, no other control characters */
} kind;

typedef struct field {
    const char *name;
    kind k;
    int required;
    const void *sub;
    size_t min, max;
} field;

#define END                                                                                        \
    {                                                                                              \
        NULL, K_END, 0, NULL, 0, 0                                                                 \
    }
#define COMMON                                                                                     \
    {"v", K_V, 1, NULL, 0, 0}, {"type", K_TYPE, 1, NULL, 0, 0}, {"at", K_TIME, 1, NULL, 0, 0},     \
    {                                                                                              \
        "nonce", K_NONCE, 1, NULL, 0, 0                                                            \
    }
#define STR(n, req, lo, hi)                                                                        \
    {                                                                                              \
        n, K_STR, req, NULL, lo, hi                                                                \
    }
#define REQ(n, k)                                                                                  \
    {                                                                                              \
        n, k, 1, NULL, 0, 0                                                                        \
    }
#define OPT(n, k)                                                                                  \
    {                                                                                              \
        n, k, 0, NULL, 0, 0                                                                        \
    }

static const char *const forms[] = {"药材", "饮片", NULL};
static const char *const categories[] = {"plant", "animal", "mineral", "fungus", NULL};

static const field authority_f[] = {REQ("id", K_ACTOR), STR("name", 1, 1, 200), REQ("key", K_KEY),
                                    END};
static const field authority_item = {"", K_OBJ, 1, authority_f, 0, 0};
static const field genesis_f[] = {COMMON,
                                  REQ("origin", K_ORIGIN),
                                  REQ("log_key", K_VKEY),
                                  STR("market", 1, 1, 200),
                                  {"authorities", K_ARR, 1, &authority_item, 1, 16},
                                  STR("base_url", 0, 1, 200),
                                  END};
static const field limits_f[] = {COMMON, STR("edition", 1, 1, 200), REQ("table", K_TABLE), END};
static const field text_item = {"", K_STR, 1, NULL, 1, 200};
static const char *const herb_categories[] = {"plant",  "animal", "mineral",
                                              "fungus", "other",  NULL};
static const field herb_row_f[] = {STR("name_zh", 1, 1, 64),
                                   STR("pinyin", 0, 1, 64),
                                   STR("latin", 0, 1, 128),
                                   {"species", K_ARR, 0, &text_item, 1, 8},
                                   STR("part", 0, 1, 64),
                                   {"parts", K_ARR, 0, &text_item, 1, 8},
                                   {"category", K_ENUM, 0, herb_categories, 0, 0},
                                   STR("parent", 0, 1, 64),
                                   STR("review", 0, 1, 200),
                                   OPT("withdrawn", K_BOOL),
                                   END};
static const field herb_row_item = {"", K_OBJ, 1, herb_row_f, 0, 0};
static const field herbs_f[] = {COMMON,
                                STR("edition", 1, 1, 200),
                                STR("source", 0, 1, 500),
                                {"herbs", K_ARR, 1, &herb_row_item, 1, 1000},
                                END};
static const field enroll_f[] = {COMMON,
                                 REQ("id", K_ACTOR),
                                 REQ("key", K_KEY),
                                 STR("name", 1, 1, 100),
                                 STR("org", 1, 1, 200),
                                 STR("licence", 1, 1, 100),
                                 STR("stall", 0, 1, 100),
                                 REQ("roles", K_ROLES),
                                 END};
static const field revoke_f[] = {COMMON, REQ("id", K_ACTOR), STR("reason", 1, 1, 500), END};
static const field rotate_f[] = {COMMON, REQ("id", K_ACTOR), REQ("new_key", K_KEY), END};
static const field code_item = {"", K_CODE, 1, NULL, 0, 0};
static const field succeed_f[] = {COMMON,
                                  REQ("id", K_ACTOR),
                                  REQ("successor", K_ACTOR),
                                  {"lots", K_ARR, 1, &code_item, 1, 1000},
                                  STR("reason", 1, 1, 500),
                                  END};

static const field herb_f[] = {STR("name_zh", 1, 1, 64),
                               STR("latin", 1, 1, 128),
                               STR("part", 1, 1, 64),
                               {"category", K_ENUM, 0, categories, 0, 0},
                               END};
static const field origin_f[] = {STR("province", 1, 1, 64), STR("city", 1, 1, 64),
                                 STR("county", 1, 1, 64),   STR("base", 1, 1, 200),
                                 OPT("lat", K_DECIMAL),     OPT("lon", K_DECIMAL),
                                 REQ("daodi", K_BOOL),      END};
static const field doc_f[] = {REQ("sha256", K_SHA256), STR("kind", 1, 1, 64), END};
static const field doc_item = {"", K_OBJ, 1, doc_f, 0, 0};
static const field register_f[] = {COMMON,
                                   REQ("id", K_CODE),
                                   {"herb", K_OBJ, 1, herb_f, 0, 0},
                                   {"form", K_ENUM, 0, forms, 0, 0},
                                   {"origin", K_OBJ, 1, origin_f, 0, 0},
                                   REQ("harvest_date", K_DATE),
                                   STR("grade", 1, 1, 64),
                                   STR("processing", 1, 1, 200),
                                   REQ("qty_g", K_QTY),
                                   {"documents", K_ARR, 0, &doc_item, 0, 32},
                                   OPT("unlisted", K_BOOL),
                                   OPT("gtin", K_GTIN),
                                   END};
static const field transfer_f[] = {COMMON,
                                   REQ("id", K_CODE),
                                   REQ("to", K_ACTOR),
                                   OPT("qty_g", K_QTY),
                                   OPT("child", K_CODE),
                                   STR("note", 0, 1, 500),
                                   END};
static const field receive_f[] = {COMMON, REQ("id", K_CODE), END};
static const field reason_f[] = {COMMON, REQ("id", K_CODE), STR("reason", 1, 1, 500), END};
static const field part_f[] = {REQ("id", K_CODE), REQ("qty_g", K_QTY), END};
static const field part_item = {"", K_OBJ, 1, part_f, 0, 0};
static const field split_f[] = {
    COMMON, REQ("id", K_CODE), {"children", K_ARR, 1, &part_item, 1, 1000}, END};
static const field output_f[] = {REQ("id", K_CODE),
                                 REQ("qty_g", K_QTY),
                                 {"form", K_ENUM, 1, forms, 0, 0},
                                 STR("name_zh", 0, 1, 64),
                                 STR("grade", 0, 1, 64),
                                 OPT("compound", K_BOOL),
                                 {"herb", K_OBJ, 0, herb_f, 0, 0},
                                 OPT("gtin", K_GTIN),
                                 END};
static const field process_f[] = {COMMON,
                                  {"inputs", K_ARR, 1, &part_item, 1, 64},
                                  {"output", K_OBJ, 1, output_f, 0, 0},
                                  STR("method", 1, 1, 200),
                                  END};
static const field result_f[] = {STR("test", 1, 1, 32), REQ("value", K_DECIMAL),
                                 STR("unit", 1, 1, 16), END};
static const field result_item = {"", K_OBJ, 1, result_f, 0, 0};
static const field inspect_f[] = {COMMON,
                                  REQ("id", K_CODE),
                                  STR("lab", 1, 1, 200),
                                  STR("standard", 1, 1, 200),
                                  {"results", K_ARR, 1, &result_item, 1, 64},
                                  REQ("report_sha256", K_SHA256),
                                  END};
static const field sell_f[] = {COMMON, REQ("id", K_CODE), REQ("qty_g", K_QTY),
                               OPT("buyer_commitment", K_SHA256), END};
static const field destroy_f[] = {COMMON, REQ("id", K_CODE), STR("reason", 1, 1, 500),
                                  STR("method", 0, 1, 200), END};

static const field witnesses_f[] = {COMMON, {"policy", K_LINES, 1, NULL, 1, 16384}, END};

static const field *const type_fields[TT_EV_COUNT] = {
    [TT_EV_GENESIS] = genesis_f, [TT_EV_LIMITS] = limits_f,     [TT_EV_HERBS] = herbs_f,
    [TT_EV_CANCEL] = receive_f,  [TT_EV_ENROLL] = enroll_f,     [TT_EV_REVOKE] = revoke_f,
    [TT_EV_ROTATE] = rotate_f,   [TT_EV_REGISTER] = register_f, [TT_EV_TRANSFER] = transfer_f,
    [TT_EV_RECEIVE] = receive_f, [TT_EV_REJECT] = reason_f,     [TT_EV_SPLIT] = split_f,
    [TT_EV_PROCESS] = process_f, [TT_EV_INSPECT] = inspect_f,   [TT_EV_HOLD] = reason_f,
    [TT_EV_RELEASE] = reason_f,  [TT_EV_RECALL] = reason_f,     [TT_EV_SELL] = sell_f,
    [TT_EV_DESTROY] = destroy_f, [TT_EV_WITNESSES] = witnesses_f, [TT_EV_REVIEW] = reason_f,
    [TT_EV_SUCCEED] = succeed_f,
};

/* ---- scalar checks ------------------------------------------------------ */

static int all_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int tt_date_valid(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int tt_rfc3339_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 20 || n > 40)
        return 0;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!tt_date_valid(date) || (s[10] != 'T' && s[10] != 't'))
        return 0;
    const char *t = s + 11;
    if (!all_digits(t, 2) || t[2] != ':' || !all_digits(t + 3, 2) || t[5] != ':' ||
        !all_digits(t + 6, 2))
        return 0;
    if (atoi(t) > 23 || atoi(t + 3) > 59 || atoi(t + 6) > 60)
        return 0;
    const char *p = t + 8;
    if (*p == '.') {
        const char *q = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == q || p - q > 9)
            return 0;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return 1;
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || !all_digits(p + 1, 2) || p[3] != ':' ||
        !all_digits(p + 4, 2))
        return 0;
    return atoi(p + 1) <= 23 && atoi(p + 4) <= 59;
}

int tt_decimal_valid(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    int intd = 0, fracd = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        intd++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            fracd++;
        }
        if (fracd == 0)
            return 0;
    }
    return *p == '\0' && intd >= 1 && intd <= 12 && fracd <= 9;
}

int tt_actor_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static int text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return 1;
}

static int lines_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7F)
            return 0;
    return 1;
}

/* Length in characters (code points), as JSON Schema counts it. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int b64_bytes(const char *s, int url, size_t want_min, size_t want_max)
{
    uint8_t buf[128];
    size_t n = 0;
    if (tt_unb64(s, strlen(s), url, buf, sizeof buf, &n) != TT_OK)
        return 0;
    return n >= want_min && n <= want_max;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* ---- the walker ---------------------------------------------------------- */

static tt_err check_value(const field *f, json_t *v, const char *path, tt_error *err);

/* "path.name" (or "name" at the top) into out, cut to fit as snprintf would:
 * every checked field has one, so no format is parsed for it */
static void path_join(char *out, size_t cap, const char *path, const char *name)
{
    size_t a = strlen(path), b = strlen(name), n;
    n = a < cap - 1 ? a : cap - 1;
    memcpy(out, path, n);
    if (a && n < cap - 1)
        out[n++] = '.';
    b = b < cap - 1 - n ? b : cap - 1 - n;
    memcpy(out + n, name, b);
    out[n + b] = '\0';
}

static tt_err check_object(const field *fields, json_t *obj, const char *path, tt_error *err)
{
    if (!json_is_object(obj))
        return tt_fail(err, TT_ERR_MALFORMED, "%s must be a JSON object", path);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        const field *f = fields;
        while (f->k != K_END && strcmp(f->name, key) != 0)
            f++;
        if (f->k == K_END)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "%s has a field \"%.40s\" this event does not know", path, key);
    }
    for (const field *f = fields; f->k != K_END; f++) {
        json_t *v = json_object_get(obj, f->name);
        if (v == NULL && !f->required)
            continue;
        char sub[160];
        path_join(sub, sizeof sub, path, f->name);
        if (v == NULL)
            return tt_fail(err, TT_ERR_MALFORMED, "field \"%s\" is missing", sub);
        tt_err rc = check_value(f, v, sub, err);
        if (rc != TT_OK)
            return rc;
    }
    return TT_OK;
}

static tt_err check_string(const field *f, const char *s, size_t len, const char *path,
                           tt_error *err)
{
    char code[TT_CODE_LEN + 1];
    tt_verifier v;
    switch (f->k) {
    case K_STR:
        if (utf8_chars(s, len) < f->min || utf8_chars(s, len) > f->max || !text_ok(s, len))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"%s\" must be text of %zu to %zu characters without control "
                           "characters",
                           path, f->min, f->max);
        return TT_OK;
    case K_LINES:
        if (utf8_chars(s, len) < f->min || utf8_chars(s, len) > f->max || !lines_ok(s, len))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"%s\" must be lines of text, %zu to %zu characters, without control "
                           "characters but newlines",
                           path, f->min, f->max);
        return TT_OK;
    case K_CODE:
        if (tt_code_parse(s, code, err) != TT_OK || strcmp(code, s) != 0)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"%s\" must be a 16-digit trace code with a valid check digit", path);
        return TT_OK;
    case K_ACTOR:
        return tt_actor_id_valid(s)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED,
                             "\"%s\" must be an actor id (1-32 of A-Z a-z 0-9 _ -)", path);
    case K_KEY:
        return b64_bytes(s, 0, 32, 32)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a base64 32-byte public key",
                             path);
    case K_DATE:
        return tt_date_valid(s)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a date YYYY-MM-DD", path);
    case K_TIME:
        return tt_rfc3339_valid(s) ? TT_OK
                                   : tt_fail(err, TT_ERR_MALFORMED,
                                             "\"%s\" must be an RFC 3339 time with offset, e.g. "
                                             "2026-11-22T09:30:00+08:00",
                                             path);
    case K_NONCE:
        return b64_bytes(s, 1, 16, 64) ? TT_OK
                                       : tt_fail(err, TT_ERR_MALFORMED,
                                                 "\"%s\" must be 16 to 64 random bytes in "
                                                 "unpadded base64url",
                                                 path);
    case K_SHA256:
        return is_hex64(s) ? TT_OK
                           : tt_fail(err, TT_ERR_MALFORMED,
                                     "\"%s\" must be a SHA-256 in 64 lower-case hex digits", path);
    case K_GTIN:
        return tt_gtin_valid(s) ? TT_OK
                                : tt_fail(err, TT_ERR_MALFORMED,
                                          "\"%s\" must be a GTIN-14: 14 digits, the last its GS1 "
                                          "check digit (pad a GTIN-8, -12 or -13 with leading "
                                          "zeros)",
                                          path);
    case K_DECIMAL:
        return tt_decimal_valid(s) ? TT_OK
                                   : tt_fail(err, TT_ERR_MALFORMED,
                                             "\"%s\" must be a decimal number written as a string, "
                                             "e.g. \"0.35\"",
                                             path);
    case K_ORIGIN:
        return tt_note_name_valid(s)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED,
                             "\"%s\" must be a log origin without spaces or '+'", path);
    case K_VKEY:
        return tt_verifier_parse(s, &v, NULL) == TT_OK
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a C2SP verifier key", path);
    case K_ENUM:
        return in_list(s, f->sub)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" has a value it may not have", path);
    /* only string kinds come here (check_value): this is for a kind added later */
    default:                                                                 /* LCOV_EXCL_LINE */
        return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" wrong type", path); /* LCOV_EXCL_LINE */
    }
}

static tt_err check_roles(json_t *v, const char *path, tt_error *err)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n < 1 || n > 6)
        return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must list 1 to 6 roles", path);
    for (size_t i = 0; i < n; i++) {
        const char *r = json_string_value(json_array_get(v, i));
        if (r == NULL || !in_list(r, role_names))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"%s\" holds an unknown role; roles are grower, trader, processor, "
                           "inspector, regulator, pharmacy",
                           path);
        for (size_t k = 0; k < i; k++)
            if (strcmp(r, json_string_value(json_array_get(v, k))) == 0)
                return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" names role %s twice", path, r);
    }
    return TT_OK;
}

static tt_err check_value(const field *f, json_t *v, const char *path, tt_error *err)
{
    switch (f->k) {
    case K_V:
        if (!json_is_integer(v) || json_integer_value(v) != 1)
            return tt_fail(err, TT_ERR_MALFORMED, "\"v\" must be 1");
        return TT_OK;
    case K_TYPE:
        return TT_OK;
    case K_QTY:
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > TT_QTY_MAX)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"%s\" must be a whole number of grams from 1 to 10^12", path);
        return TT_OK;
    case K_BOOL:
        return json_is_boolean(v)
                   ? TT_OK
                   : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be true or false", path);
    case K_OBJ:
        return check_object(f->sub, v, path, err);
    case K_TABLE:
        return json_is_object(v) ? TT_OK
                                 : tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be an object", path);
    case K_ROLES:
        return check_roles(v, path, err);
    case K_ARR: {
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n < f->min || n > f->max)
            return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a list of %zu to %zu items", path,
                           f->min, f->max);
        for (size_t i = 0; i < n; i++) {
            char sub[160];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            tt_err rc = check_value(f->sub, json_array_get(v, i), sub, err);
            if (rc != TT_OK)
                return rc;
        }
        return TT_OK;
    }
    default:
        if (!json_is_string(v))
            return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a string", path);
        return check_string(f, json_string_value(v), json_string_length(v), path, err);
    }
}

/* ---- plausible values ------------------------------------------------------ */

/* Days since 1970-01-01 of a valid proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int tt_rfc3339_ms(const char *s, int64_t *ms)
{
    if (!tt_rfc3339_valid(s))
        return 0;
    int64_t days = days_from_civil(atoi(s), atoi(s + 5), atoi(s + 8));
    int64_t sec = days * 86400 + atoi(s + 11) * 3600 + atoi(s + 14) * 60 + atoi(s + 17);
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        for (; n < 3; n++)
            frac *= 10;
    }
    if (*p == '+' || *p == '-') {
        int64_t off = atoi(p + 1) * 3600 + atoi(p + 4) * 60;
        sec -= *p == '+' ? off : -off;
    }
    *ms = sec * 1000 + frac;
    return 1;
}

#define EARLIEST_HARVEST "1950-01-01"

/* A trace code's date (its first six digits, YYMMDD in UTC) must not come
 * after the moment the event was signed. */
static tt_err code_not_future(json_t *code, int64_t at_ms, const char *path, tt_error *err)
{
    const char *c = json_string_value(code);
    if (c == NULL)
        return TT_OK;
    int y = 2000 + (c[0] - '0') * 10 + (c[1] - '0'), m = (c[2] - '0') * 10 + (c[3] - '0'),
        d = (c[4] - '0') * 10 + (c[5] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" %s does not begin with a date YYMMDD", path,
                       c);
    if (days_from_civil(y, m, d) * 86400000 > at_ms)
        return tt_fail(err, TT_ERR_BAD_TIME,
                       "trace code %s in \"%s\" is dated 20%.6s, after the event was signed; "
                       "draw a new code",
                       c, path, c);
    return TT_OK;
}

static tt_err coord_ok(json_t *origin, const char *k, int limit, tt_error *err)
{
    const char *v = json_string_value(json_object_get(origin, k));
    if (v == NULL)
        return TT_OK;
    char lim[8];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *mag = v[0] == '-' ? v + 1 : v;
    /* decimal strings: compare the magnitude against the limit exactly */
    size_t il = strcspn(mag, ".");
    int over = il > strlen(lim) || (il == strlen(lim) && strncmp(mag, lim, il) > 0) ||
               (il == strlen(lim) && strncmp(mag, lim, il) == 0 && mag[il] == '.' &&
                strspn(mag + il + 1, "0") != strlen(mag + il + 1));
    if (over)
        return tt_fail(err, TT_ERR_MALFORMED, "\"origin.%s\" %s is outside -%d to %d degrees", k, v,
                       limit, limit);
    return TT_OK;
}

int tt_gtin_check_digit(const char *digits, size_t n)
{
    int sum = 0; /* GS1 mod 10: weights 3,1,3,... from the right, check digit excluded */
    for (size_t i = 0; i < n; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        sum += (digits[i] - '0') * ((n - i) % 2 ? 3 : 1);
    }
    return (10 - sum % 10) % 10;
}

int tt_gtin_valid(const char *s)
{
    return strlen(s) == 14 && tt_gtin_check_digit(s, 13) == s[13] - '0';
}

int tt_base_url_valid(const char *u)
{
    const char *p = strncmp(u, "https://", 8) == 0  ? u + 8
                    : strncmp(u, "http://", 7) == 0 ? u + 7
                                                    : NULL;
    if (p == NULL || *p == '\0' || *p == '/' || u[strlen(u) - 1] == '/')
        return 0;
    for (const char *q = u; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == '?' || *q == '#' || *q == '\\' ||
            (unsigned char)*q >= 0x7f)
            return 0;
    return strstr(p, "/../") == NULL && strstr(p, "/./") == NULL && strstr(p, "//") == NULL;
}

/* What the shape alone cannot say: dates and places that cannot be. */
static tt_err check_plausible(tt_event_type t, json_t *j, tt_error *err)
{
    const char *at = json_string_value(json_object_get(j, "at"));
    int64_t at_ms = 0;
    tt_rfc3339_ms(at, &at_ms);
    if (strncmp(at, EARLIEST_HARVEST, 10) < 0)
        return tt_fail(err, TT_ERR_BAD_TIME, "\"at\" %s is before 1950; sign with a true clock",
                       at);
    tt_err rc = TT_OK;
    size_t i;
    json_t *p;
    switch (t) {
    case TT_EV_GENESIS: {
        const char *u = json_string_value(json_object_get(j, "base_url"));
        if (u && !tt_base_url_valid(u))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"base_url\" must be an http:// or https:// URL with a host and no "
                           "query, fragment, spaces or trailing slash, e.g. "
                           "https://trace.example.cn/cq");
        return TT_OK;
    }
    case TT_EV_REGISTER: {
        const char *h = json_string_value(json_object_get(j, "harvest_date"));
        json_t *o = json_object_get(j, "origin");
        if (strcmp(h, EARLIEST_HARVEST) < 0)
            return tt_fail(err, TT_ERR_BAD_TIME, "harvest date %s is before 1950", h);
        if (strncmp(h, at, 10) > 0)
            return tt_fail(err, TT_ERR_BAD_TIME,
                           "harvest date %s is after the event was signed (%.10s)", h, at);
        if ((rc = coord_ok(o, "lat", 90, err)) == TT_OK &&
            (rc = coord_ok(o, "lon", 180, err)) == TT_OK)
            rc = code_not_future(json_object_get(j, "id"), at_ms, "id", err);
        return rc;
    }
    case TT_EV_TRANSFER:
        return code_not_future(json_object_get(j, "child"), at_ms, "child", err);
    case TT_EV_SPLIT:
        json_array_foreach(json_object_get(j, "children"), i, p)
        {
            if ((rc = code_not_future(json_object_get(p, "id"), at_ms, "children", err)) != TT_OK)
                return rc;
        }
        return TT_OK;
    case TT_EV_PROCESS: {
        json_t *out = json_object_get(j, "output");
        int compound = json_is_true(json_object_get(out, "compound"));
        if (compound != (json_object_get(out, "herb") != NULL))
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"output.compound\": true and \"output.herb\" go together: a "
                           "compound product names its own herb");
        return code_not_future(json_object_get(out, "id"), at_ms, "output.id", err);
    }
    default:
        return TT_OK;
    }
}

tt_err tt_event_parse(tt_bytes body, tt_event *ev, tt_error *err)
{
    ev->json = NULL;
    if (body.size > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "event body is %zu bytes; the limit is %d", body.size,
                       TT_BODY_MAX);
    if (!tt_utf8_valid(body.data, body.size))
        return tt_fail(err, TT_ERR_MALFORMED, "event body is not valid UTF-8");
    json_error_t jerr;
    unsigned long mark = tt_jalloc_watch();
    json_t *j = tt_json_load((const char *)body.data, body.size, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL && tt_jalloc_ran_out(mark))
        return tt_fail(err, TT_ERR_NOMEM, "out of memory while reading the event body");
    if (j == NULL)
        return tt_fail(err, TT_ERR_MALFORMED, "event body is not valid JSON: %s (at byte %d)",
                       jerr.text, jerr.position);
    if (!json_is_object(j)) {
        json_decref(j);
        return tt_fail(err, TT_ERR_MALFORMED, "event body must be a JSON object");
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    tt_event_type t = type ? tt_event_type_from_name(type) : TT_EV_COUNT;
    if (t == TT_EV_COUNT) {
        if (type)
            tt_fail(err, TT_ERR_MALFORMED, "unknown event type \"%.40s\"", type);
        else
            tt_fail(err, TT_ERR_MALFORMED, "field \"type\" is missing or not a string");
        json_decref(j); /* `type` points into j: free it only now */
        return TT_ERR_MALFORMED;
    }
    tt_err rc = check_object(type_fields[t], j, "", err);
    if (rc == TT_OK)
        rc = check_plausible(t, j, err);
    if (rc != TT_OK) {
        json_decref(j);
        return rc;
    }
    ev->type = t;
    ev->json = j;
    return TT_OK;
}

void tt_event_free(tt_event *ev)
{
    if (ev->json)
        json_decref(ev->json);
    ev->json = NULL;
}

const char *tt_event_str(const tt_event *ev, const char *field)
{
    return json_string_value(json_object_get(ev->json, field));
}

int64_t tt_event_int(const tt_event *ev, const char *field)
{
    return (int64_t)json_integer_value(json_object_get(ev->json, field));
}

char *tt_event_build(const char *type, json_t *fields)
{
    uint8_t raw[16];
    char nonce[32], at[40];
    randombytes_buf(raw, sizeof raw);
    tt_b64url((tt_bytes){sizeof raw, raw}, nonce);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S%z", &tm); /* ...+0800 */
    size_t n = strlen(at);                               /* ...+08:00 */
    memmove(at + n - 1, at + n - 2, 3);
    at[n - 2] = ':';
    json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "v", 1, "type", type, "at", at, "nonce", nonce);
    json_object_update(o, fields);
    json_decref(fields);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return body;
}

void tt_buyer_commitment(const char *salt_hex, const char *buyer, char out[65])
{
    static const char pfx[] = "tcmtrace/buyer/v1\n";
    tt_sha256_state st;
    uint8_t h[32];
    tt_sha256_init(&st);
    tt_sha256_update(&st, (const uint8_t *)pfx, sizeof pfx - 1);
    tt_sha256_update(&st, (const uint8_t *)salt_hex, strlen(salt_hex));
    tt_sha256_update(&st, (const uint8_t *)"\n", 1);
    tt_sha256_update(&st, (const uint8_t *)buyer, strlen(buyer));
    tt_sha256_final(&st, h);
    tt_hex((tt_bytes){32, h}, out);
}

void tt_rfc3339_now(char out[32])
{
    uint64_t ms = tt_now_ms();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}
