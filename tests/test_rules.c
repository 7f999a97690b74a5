/*
 * test_rules.c: the batch rules on a real ledger.
 *
 * A scenario (a grower in 甘肃岷县 registers 当归; a trader at the Jiefang
 * Road market receives and splits it; a processor makes 饮片; an inspector
 * fails one lot on SO2; a regulator recalls it; a pharmacy sells) is
 * asserted step by step, trace included. Then every rule is broken once:
 * each refusal must carry its code and leave every database unchanged.
 * Finally audit replays the entries and must find the derived state equal,
 * and must notice when it is not.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "../core/store/ledger_internal.h"
#include "tcmtrace/event.h"
#include "tcmtrace/limits.h"
#include "tcmtrace/state.h"
#include "tcmtrace/statemap.h"
#include "tcmtrace/tracecode.h"

#define ORIGIN "tcmtrace.test/cq-jiefanglu"
/* a sale carries a commitment to its buyer, never the buyer */
#define BUYER_C "3f1c0a6f6a1b5e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"

typedef struct who {
    const char *id;
    tt_keypair kp;
} who;

static who MKT = {"MKT-01", {{0}, {0}}}, G = {"G-0001", {{0}, {0}}}, T1 = {"T-0017", {{0}, {0}}},
           T2 = {"T-0023", {{0}, {0}}}, P = {"P-0005", {{0}, {0}}}, I = {"I-0002", {{0}, {0}}},
           R = {"R-0001", {{0}, {0}}}, PH = {"PH-0009", {{0}, {0}}}, X = {"X-9999", {{0}, {0}}};

static char *dir, *dump;
static tt_ledger *L;
static tt_keypair logkey;
static int dumped;
static uint64_t last_seq;

/* Builds a body: the common fields, then `fields` (stolen). */
static char *body_of(const char *type, json_t *fields)
{
    uint8_t n[16];
    char nonce[32];
    randombytes_buf(n, sizeof n);
    tt_b64url((tt_bytes){16, n}, nonce);
    char at[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "v", 1, "type", type, "at", at, "nonce", nonce);
    json_object_update(o, fields);
    json_decref(fields);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Signs and appends one event; returns the item's result code. */
static tt_err submit_as(const tt_keypair *kp, const char *type, json_t *fields, tt_error *why)
{
    char *body = body_of(type, fields);
    uint8_t sig[64];
    tu_sign(ORIGIN, kp, body, sig);
    tt_append it = {.actor = kp->pk, .sig = sig, .body = tt_bytes_str(body)};
    tt_error err;
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, &err), TT_OK);
    if (it.result.code == TT_OK) {
        last_seq = it.seq;
        char *path; /* keep every accepted body for the schema check */
        assert_true(asprintf(&path, "%s/%03d.json", dump, dumped++) > 0);
        FILE *f = fopen(path, "w");
        fputs(body, f);
        fclose(f);
        free(path);
    }
    if (why)
        *why = it.result;
    free(body);
    return it.result.code;
}

static tt_err submit(const who *w, const char *type, json_t *fields)
{
    return submit_as(&w->kp, type, fields, NULL);
}

/* The event must be accepted; says why not. */
static void accepted(const who *w, const char *type, json_t *fields)
{
    tt_error why;
    if (submit_as(&w->kp, type, fields, &why) != TT_OK)
        fail_msg("%s by %s: refused %s (%s)", type, w->id, tt_err_name(why.code), why.message);
}

#define OK(w, type, ...) accepted(w, type, json_pack(__VA_ARGS__))

static void digest(uint8_t out[32])
{
    tu_ledger_digest(L, out);
}

/* The event must be refused with `code` and change nothing at all. */
static void refused(const tt_keypair *kp, tt_err code, const char *type, json_t *fields,
                    const char *needle)
{
    uint8_t before[32], after[32];
    tt_error why;
    digest(before);
    tt_err rc = submit_as(kp, type, fields, &why);
    if (rc != code)
        fail_msg("%s: wanted %s, got %s (%s)", type, tt_err_name(code), tt_err_name(rc),
                 why.message);
    if (needle && strstr(why.message, needle) == NULL)
        fail_msg("%s: message \"%s\" does not mention \"%s\"", type, why.message, needle);
    digest(after);
    assert_memory_equal(before, after, 32);
}

#define NO(w, code, needle, type, ...) refused(&(w)->kp, code, type, json_pack(__VA_ARGS__), needle)

static char *b64key(const tt_keypair *kp)
{
    static char buf[8][64];
    static int i;
    char *b = buf[i++ % 8];
    tt_b64((tt_bytes){32, kp->pk}, b);
    return b;
}

static char *new_code(void)
{
    char *c = malloc(TT_CODE_LEN + 1);
    tt_code_new(tt_now_ms(), c);
    return c;
}

static json_t *batch(const char *code)
{
    json_t *b = NULL;
    assert_int_equal(tt_state_batch(L, code, &b, NULL), TT_OK);
    return b;
}

static const char *status_of(const char *code)
{
    static char st[32];
    json_t *b = batch(code);
    snprintf(st, sizeof st, "%s", json_string_value(json_object_get(b, "status")));
    json_decref(b);
    return st;
}

static long long qty(const char *code, const char *k)
{
    json_t *b = batch(code);
    long long v = json_integer_value(json_object_get(json_object_get(b, "qty"), k));
    json_decref(b);
    return v;
}

static const char *holder_of(const char *code)
{
    static char h[40];
    json_t *b = batch(code);
    snprintf(h, sizeof h, "%s", json_string_value(json_object_get(b, "holder")));
    json_decref(b);
    return h;
}

static void enroll(who *w, const char *name, const char *org, const char *roles_csv)
{
    json_t *roles = json_array();
    char buf[64];
    snprintf(buf, sizeof buf, "%s", roles_csv);
    for (char *r = strtok(buf, ","); r; r = strtok(NULL, ","))
        json_array_append_new(roles, json_string(r));
    OK(&MKT, "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:o}", "id", w->id, "key", b64key(&w->kp),
       "name", name, "org", org, "licence", "渝药监 2026-001", "roles", roles);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    tt_error err;
    if (asprintf(&dump, "%s/bodies", dir) < 0 || mkdir(dump, 0700) != 0)
        return 1;
    char *ldir;
    if (asprintf(&ldir, "%s/ledger", dir) < 0)
        return 1;
    if (tt_ledger_open(ldir, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &L, &err) != TT_OK)
        return 1;
    free(ldir);
    who *all[] = {&MKT, &G, &T1, &T2, &P, &I, &R, &PH, &X};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        tt_keypair_generate(&all[i]->kp);
    tt_keypair_generate(&logkey);
    return tt_ledger_set_signer(L, ORIGIN, &logkey, &err) == TT_OK ? 0 : 1;
}

static int teardown(void **state)
{
    (void)state;
    tt_ledger_close(L);
    /* hand the signed bodies to the schema check when asked */
    const char *keep = getenv("TT_KEEP_BODIES");
    if (keep) {
        char *cmd;
        if (asprintf(&cmd, "rm -rf '%s' && cp -r '%s' '%s'", keep, dump, keep) > 0 &&
            system(cmd) != 0)
            fprintf(stderr, "could not keep the bodies in %s\n", keep);
        free(cmd);
    }
    tu_rmtree(dir);
    free(dir);
    free(dump);
    return 0;
}

/* The shipped herb dictionary, as init publishes it. */
static void load_herbs(void)
{
    char *path;
    json_error_t jerr;
    assert_true(asprintf(&path, "%s/../../schemas/herbs/chp2020-herbs.json", tu_datadir()) > 0);
    json_t *doc = json_load_file(path, 0, &jerr), *events = NULL, *f;
    free(path);
    assert_non_null(doc);
    assert_int_equal(tt_herbs_events(doc, &events, NULL), TT_OK);
    assert_true(json_array_size(events) >= 2); /* 616 rows do not fit one entry */
    size_t i;
    json_array_foreach(events, i, f)
    {
        if (i == 0)
            NO(&G, TT_ERR_FORBIDDEN, "authority", "ledger.herbs", "O", f);
        assert_int_equal(submit(&MKT, "ledger.herbs", json_incref(f)), TT_OK);
    }
    json_decref(events);
    json_decref(doc);
}

static void genesis_and_actors(void)
{
    tt_verifier v;
    char vkey[TT_VKEY_MAX + 1];
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    /* nothing but a genesis may come first */
    NO(&MKT, TT_ERR_GENESIS, "first entry", "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:[s]}",
       "id", "G-0001", "key", b64key(&G.kp), "name", "x", "org", "x", "licence", "x", "roles",
       "grower");
    /* a genesis must be signed by an authority it names */
    NO(&X, TT_ERR_FORBIDDEN, "signed by one of the authorities", "ledger.genesis",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "origin", ORIGIN, "log_key", vkey, "market",
       "重庆解放路中药材专业市场", "authorities", "id", MKT.id, "name", "解放路中药材市场管理处",
       "key", b64key(&MKT.kp));
    OK(&MKT, "ledger.genesis", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "origin", ORIGIN, "log_key",
       vkey, "market", "重庆解放路中药材专业市场", "authorities", "id", MKT.id, "name",
       "解放路中药材市场管理处", "key", b64key(&MKT.kp));
    assert_int_equal(last_seq, 0);
    NO(&MKT, TT_ERR_GENESIS, "already", "ledger.genesis", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}",
       "origin", ORIGIN, "log_key", vkey, "market", "again", "authorities", "id", "MKT-02", "name",
       "x", "key", b64key(&X.kp));
    enroll(&G, "马建国", "岷县梅川当归专业合作社", "grower");
    enroll(&T1, "陈秀兰", "陈氏药材行 (解放路 A 区 17 号)", "trader");
    enroll(&T2, "刘德明", "德明参茸药材 (解放路 C 区 3 号)", "trader");
    enroll(&P, "王志强", "重庆渝中饮片厂", "processor");
    enroll(&I, "李静", "重庆市药品检验所", "inspector");
    enroll(&R, "赵国栋", "渝中区市场监督管理局", "regulator");
    enroll(&PH, "周敏", "同仁堂解放碑店", "pharmacy");
    load_herbs();
}

static void load_limits(void)
{
    char *path;
    json_error_t jerr;
    assert_true(asprintf(&path, "%s/../../schemas/limits/chp2020.json", tu_datadir()) > 0);
    json_t *t = json_load_file(path, 0, &jerr);
    free(path);
    assert_non_null(t);
    json_t *edition = json_incref(json_object_get(t, "edition"));
    json_object_del(t, "edition");
    NO(&T1, TT_ERR_FORBIDDEN, "authority", "ledger.limits", "{s:O, s:O}", "edition", edition,
       "table", t);
    OK(&MKT, "ledger.limits", "{s:o, s:o}", "edition", edition, "table", t);
}

/* Event seqs of a trace node, in order. */
static int has_event(json_t *node, const char *type, uint64_t seq)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(node, "events"), i,
                       e) if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
                              (uint64_t)json_integer_value(json_object_get(e, "seq")) ==
                                  seq) return 1;
    return 0;
}

/* The qty_g the trace shows for the event at seq in node's events (-1: none). */
static long long event_qty(json_t *node, uint64_t seq)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(node, "events"), i, e)
    {
        if ((uint64_t)json_integer_value(json_object_get(e, "seq")) == seq)
            return json_object_get(e, "qty_g") ? json_integer_value(json_object_get(e, "qty_g"))
                                               : -1;
    }
    return -1;
}

static void test_market_day(void **state)
{
    (void)state;
    genesis_and_actors();
    char *A = new_code(), *A1 = new_code(), *A2 = new_code(), *A3 = new_code();
    char *Y = new_code(), *Y1 = new_code(), *A3a = new_code(), *A3b = new_code();
    uint64_t s_reg, s_tr, s_rcv, s_split, s_tr2, s_rcv2, s_proc, s_tr3, s_rcv3, s_sell, s_insp,
        s_recall;

    /* inspections need the limits table in the ledger */
    OK(&G, "batch.register",
       "{s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}",
       "id", A, "herb", "name_zh", "当归", "latin", "Angelica sinensis (Oliv.) Diels", "part", "根",
       "category", "plant", "origin", "province", "甘肃省", "city", "定西市", "county", "岷县",
       "base", "梅川镇当归种植基地", "lat", "34.4337", "lon", "104.0362", "daodi", 1,
       "harvest_date", "2026-10-12", "grade", "一等", "processing", "晒干", "qty_g", 500000);
    s_reg = last_seq;
    NO(&I, TT_ERR_NO_LIMITS, "ledger.limits", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", A, "lab", "重庆市药品检验所", "standard",
       "ChP 2020", "results", "test", "so2", "value", "10", "unit", "mg/kg", "report_sha256",
       "0000000000000000000000000000000000000000000000000000000000000000");
    load_limits();
    assert_string_equal(holder_of(A), G.id);
    assert_string_equal(status_of(A), "active");

    /* 岷县 → Jiefang Road: two-party custody */
    OK(&G, "batch.transfer", "{s:s, s:s}", "id", A, "to", T1.id);
    s_tr = last_seq;
    assert_string_equal(status_of(A), "in_transit");
    assert_string_equal(holder_of(A), G.id); /* holder changes only on receive */
    OK(&T1, "batch.receive", "{s:s}", "id", A);
    s_rcv = last_seq;
    assert_string_equal(holder_of(A), T1.id);
    assert_string_equal(status_of(A), "active");

    /* the trader splits the lot at the stall */
    OK(&T1, "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}]}", "id", A, "children",
       "id", A1, "qty_g", 200000, "id", A2, "qty_g", 200000, "id", A3, "qty_g", 100000);
    s_split = last_seq;
    assert_string_equal(status_of(A), "depleted");
    assert_int_equal(qty(A, "remaining"), 0);
    assert_int_equal(qty(A2, "remaining"), 200000);

    /* to the processor, who makes 饮片 */
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", A1, "to", P.id);
    s_tr2 = last_seq;
    OK(&P, "batch.receive", "{s:s}", "id", A1);
    s_rcv2 = last_seq;
    OK(&P, "batch.process", "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs", "id", A1,
       "qty_g", 200000, "output", "id", Y, "qty_g", 180000, "form", "饮片", "name_zh", "当归片",
       "method", "净制、润透、切薄片、晒干");
    s_proc = last_seq;
    json_t *yb = batch(Y);
    assert_string_equal(json_string_value(json_object_get(yb, "form")), "饮片");
    assert_int_equal(json_integer_value(json_object_get(yb, "yield_permille")), 900);
    assert_string_equal(json_string_value(json_object_get(json_object_get(yb, "origin"), "county")),
                        "岷县");
    json_decref(yb);

    /* a part of the 饮片 goes to the pharmacy as a child batch */
    OK(&P, "batch.transfer", "{s:s, s:s, s:i, s:s}", "id", Y, "to", PH.id, "qty_g", 50000, "child",
       Y1);
    s_tr3 = last_seq;
    assert_int_equal(qty(Y, "remaining"), 130000);
    assert_string_equal(status_of(Y1), "in_transit");
    OK(&PH, "batch.receive", "{s:s}", "id", Y1);
    s_rcv3 = last_seq;
    OK(&PH, "batch.sell", "{s:s, s:i, s:s}", "id", Y1, "qty_g", 250, "buyer_commitment", BUYER_C);
    s_sell = last_seq;
    assert_int_equal(qty(Y1, "sold"), 250);
    assert_int_equal(qty(Y1, "remaining"), 49750);

    /* another lot goes to a second trader, who splits it; it fails on SO2 */
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", A3, "to", T2.id);
    OK(&T2, "batch.receive", "{s:s}", "id", A3);
    OK(&T2, "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", A3, "children", "id", A3a, "qty_g",
       40000);
    OK(&T2, "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", A3a, "children", "id", A3b, "qty_g",
       10000);
    OK(&I, "batch.inspect", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:s}", "id", A3,
       "lab", "重庆市药品检验所", "standard", "中国药典 2020 年版", "results", "test", "so2",
       "value", "520", "unit", "mg/kg", "test", "moisture", "value", "12.5", "unit", "%",
       "report_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    s_insp = last_seq;
    json_t *a3 = batch(A3);
    assert_string_equal(json_string_value(json_object_get(a3, "status")), "held");
    json_t *insp = json_array_get(json_object_get(a3, "inspections"), 0);
    assert_string_equal(json_string_value(json_object_get(insp, "verdict")), "fail");
    assert_non_null(strstr(json_string_value(json_object_get(a3, "hold_reason")), "so2 520"));
    json_decref(a3);
    /* the fail holds every descendant, not only the children: the grandchild too */
    assert_string_equal(status_of(A3a), "held");
    assert_string_equal(status_of(A3b), "held");
    NO(&T2, TT_ERR_FROZEN, "held", "batch.sell", "{s:s, s:i}", "id", A3b, "qty_g", 100);
    /* a held lot is frozen */
    NO(&T2, TT_ERR_FROZEN, "held", "batch.sell", "{s:s, s:i}", "id", A3, "qty_g", 100);
    NO(&T2, TT_ERR_FROZEN, "held", "batch.transfer", "{s:s, s:s}", "id", A3, "to", T1.id);

    /* the regulator recalls the failed lot: it and its descendants */
    OK(&R, "batch.recall", "{s:s, s:s}", "id", A3, "reason", "二氧化硫残留超标");
    s_recall = last_seq;
    assert_string_equal(status_of(A3), "recalled");
    assert_string_equal(status_of(A3a), "recalled");
    assert_string_equal(status_of(A3b), "recalled");
    assert_string_equal(status_of(Y1), "active"); /* other lineages are untouched */
    NO(&T2, TT_ERR_FROZEN, "recalled", "batch.sell", "{s:s, s:i}", "id", A3a, "qty_g", 100);
    NO(&I, TT_ERR_BAD_STATE, "not held", "batch.release", "{s:s, s:s}", "id", A3, "reason", "x");

    /* trace upward from the pharmacy's lot to the field, with seqs */
    json_t *tr = NULL;
    assert_int_equal(tt_trace(L, Y1, &tr, NULL), TT_OK);
    json_t *n0 = json_object_get(tr, "up");
    assert_string_equal(json_string_value(json_object_get(n0, "id")), Y1);
    assert_true(has_event(n0, "batch.transfer", s_tr3));
    assert_true(has_event(n0, "batch.receive", s_rcv3));
    assert_true(has_event(n0, "batch.sell", s_sell));
    json_t *n1 = json_array_get(json_object_get(n0, "parents"), 0);
    assert_string_equal(json_string_value(json_object_get(n1, "id")), Y);
    assert_string_equal(json_string_value(json_object_get(n1, "via")), "transfer");
    assert_true(has_event(n1, "batch.process", s_proc));
    json_t *n2 = json_array_get(json_object_get(n1, "parents"), 0);
    assert_string_equal(json_string_value(json_object_get(n2, "id")), A1);
    assert_string_equal(json_string_value(json_object_get(n2, "via")), "process");
    assert_true(has_event(n2, "batch.transfer", s_tr2));
    assert_true(has_event(n2, "batch.receive", s_rcv2));
    json_t *n3 = json_array_get(json_object_get(n2, "parents"), 0);
    assert_string_equal(json_string_value(json_object_get(n3, "id")), A);
    assert_string_equal(json_string_value(json_object_get(n3, "via")), "split");
    assert_true(has_event(n3, "batch.register", s_reg));
    assert_true(has_event(n3, "batch.transfer", s_tr));
    assert_true(has_event(n3, "batch.receive", s_rcv));
    assert_true(has_event(n3, "batch.split", s_split));
    assert_int_equal(json_array_size(json_object_get(n3, "parents")), 0); /* the origin */
    assert_string_equal(json_string_value(json_object_get(json_object_get(n3, "origin"), "county")),
                        "岷县");
    json_decref(tr);

    /* trace downward from the origin reaches every descendant and the sale */
    assert_int_equal(tt_trace(L, A, &tr, NULL), TT_OK);
    json_t *down = json_object_get(tr, "down");
    json_t *kids = json_object_get(down, "children");
    assert_int_equal(json_array_size(kids), 3);
    json_t *k1 = json_array_get(kids, 0), *k3 = json_array_get(kids, 2);
    assert_string_equal(json_string_value(json_object_get(k1, "id")), A1);
    json_t *ky = json_array_get(json_object_get(k1, "children"), 0);
    assert_string_equal(json_string_value(json_object_get(ky, "id")), Y);
    json_t *ky1 = json_array_get(json_object_get(ky, "children"), 0);
    assert_string_equal(json_string_value(json_object_get(ky1, "id")), Y1);
    assert_true(has_event(ky1, "batch.sell", s_sell));
    assert_string_equal(json_string_value(json_object_get(k3, "status")), "recalled");
    assert_true(has_event(k3, "batch.inspect", s_insp));
    assert_true(has_event(k3, "batch.recall", s_recall));
    json_t *k3a = json_array_get(json_object_get(k3, "children"), 0);
    assert_string_equal(json_string_value(json_object_get(k3a, "id")), A3a);
    assert_true(has_event(k3a, "batch.recall", s_recall));
    /* one split, read once, shown for each child with that child's part */
    assert_int_equal(event_qty(k1, s_split), 200000);
    assert_int_equal(event_qty(k3, s_split), 100000);
    assert_int_equal(event_qty(down, s_split), -1);
    json_decref(tr);

    /* an actor's history */
    json_t *hist;
    assert_int_equal(tt_state_actor_events(L, PH.id, &hist, NULL), TT_OK);
    assert_int_equal(json_array_size(hist), 4); /* enrolled, sent to, received, sold */
    /* the index keeps each type as its number; it reads back as the type's name */
    static const char *const ph_types[] = {"actor.enroll", "batch.transfer", "batch.receive",
                                           "batch.sell"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(hist, i), "type")),
                            ph_types[i]);
    json_decref(hist);

    /* a later recall of the origin reaches into the pharmacy's stock */
    assert_int_equal(tt_trace(L, Y1, &tr, NULL), TT_OK); /* read (and cached) before */
    json_decref(tr);
    OK(&R, "batch.recall", "{s:s, s:s}", "id", A, "reason", "同批次溯源召回");
    uint64_t s_recall2 = last_seq;
    assert_int_equal(tt_trace(L, Y1, &tr, NULL), TT_OK); /* and the trace shows it at once */
    n0 = json_object_get(tr, "up");
    assert_string_equal(json_string_value(json_object_get(n0, "status")), "recalled");
    assert_true(has_event(n0, "batch.recall", s_recall2));
    n1 = json_array_get(json_object_get(n0, "parents"), 0);
    assert_string_equal(json_string_value(json_object_get(n1, "status")), "recalled");
    json_decref(tr);
    assert_string_equal(status_of(Y1), "recalled");
    assert_string_equal(status_of(Y), "recalled");
    NO(&PH, TT_ERR_FROZEN, "recalled", "batch.sell", "{s:s, s:i}", "id", Y1, "qty_g", 250);
    free(A), free(A1), free(A2), free(A3), free(Y), free(Y1), free(A3a), free(A3b);
}

/* Traces on other threads while a lot is sold from: each sees one
 * consistent snapshot, and the last one sees every sale. */
typedef struct tracing {
    const char *code;
    int traces, bad;
} tracing;

static void *trace_loop(void *arg)
{
    tracing *t = arg;
    for (int i = 0; i < t->traces; i++) {
        json_t *tr;
        if (tt_trace(L, t->code, &tr, NULL) != TT_OK) {
            t->bad++;
            continue;
        }
        json_t *n = json_object_get(tr, "up"), *q = json_object_get(n, "qty");
        /* remaining + sold is what was registered, and one sale is one event */
        int64_t rem = json_integer_value(json_object_get(q, "remaining"));
        int64_t sold = json_integer_value(json_object_get(q, "sold"));
        size_t events = json_array_size(json_object_get(n, "events"));
        if (rem + sold != 100000 || (size_t)(sold / 100) + 1 != events) {
            t->bad++;
        }
        json_decref(tr);
    }
    return NULL;
}

/* A new lot of 黄芪 registered by trader T1; its trace code (free it). */
static char *register_by_t1(int qty_g)
{
    char *Z = new_code();
    OK(&T1, "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", Z, "herb",
       "name_zh", "黄芪", "latin", "Astragalus membranaceus", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "陇西县", "base", "首阳镇", "daodi", 0, "harvest_date",
       "2026-09-30", "grade", "统货", "processing", "晒干", "qty_g", qty_g);
    return Z;
}

static void test_traces_while_writing(void **state)
{
    (void)state;
    char *Z = register_by_t1(100000);
    pthread_t th[3];
    tracing t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = (tracing){Z, 300, 0};
        pthread_create(&th[i], NULL, trace_loop, &t[i]);
    }
    for (int i = 0; i < 60; i++)
        OK(&T1, "batch.sell", "{s:s, s:i, s:s}", "id", Z, "qty_g", 100, "buyer_commitment",
           BUYER_C);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].bad, 0);
    }
    t[0] = (tracing){Z, 1, 0};
    trace_loop(&t[0]);
    assert_int_equal(t[0].bad, 0);
    assert_int_equal(qty(Z, "sold"), 6000);
    json_t *tr;
    assert_int_equal(tt_trace(L, Z, &tr, NULL), TT_OK);
    assert_int_equal(json_array_size(json_object_get(json_object_get(tr, "up"), "events")), 61);
    json_decref(tr);
    free(Z);
}

/* Each rule broken once; refused with its code, nothing changed. */
static void test_every_rule_refuses(void **state)
{
    (void)state;
    char *B = new_code(), *C = new_code(), *D = new_code(), *E = new_code(), *F = new_code();
    OK(&T1, "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", B, "herb",
       "name_zh", "党参", "latin", "Codonopsis pilosula", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "渭源县", "base", "会川镇", "daodi", 1, "harvest_date",
       "2026-09-20", "grade", "统货", "processing", "晒干", "qty_g", 10000);
    json_t *reg_fields = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", B,
        "herb", "name_zh", "党参", "latin", "Codonopsis pilosula", "part", "根", "origin",
        "province", "甘肃省", "city", "定西市", "county", "渭源县", "base", "会川镇", "daodi", 1,
        "harvest_date", "2026-09-20", "grade", "统货", "processing", "晒干", "qty_g", 10000);

    /* who may sign */
    refused(&X.kp, TT_ERR_NOT_ENROLLED, "batch.register", json_deep_copy(reg_fields), "enroll");
    json_object_set_new(reg_fields, "id", json_string(C));
    refused(&I.kp, TT_ERR_FORBIDDEN, "batch.register", json_deep_copy(reg_fields), "register");
    NO(&T1, TT_ERR_FORBIDDEN, "authority", "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:[s]}", "id",
       "Z-1", "key", b64key(&X.kp), "name", "x", "org", "x", "licence", "x", "roles", "trader");
    NO(&T1, TT_ERR_FORBIDDEN, "inspect", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", B, "lab", "x", "standard", "x", "results",
       "test", "so2", "value", "1", "unit", "mg/kg", "report_sha256",
       "0000000000000000000000000000000000000000000000000000000000000000");
    NO(&T1, TT_ERR_FORBIDDEN, "recall", "batch.recall", "{s:s, s:s}", "id", B, "reason", "x");
    NO(&T1, TT_ERR_FORBIDDEN, "hold", "batch.hold", "{s:s, s:s}", "id", B, "reason", "x");
    NO(&G, TT_ERR_FORBIDDEN, "sell", "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 1);
    NO(&MKT, TT_ERR_FORBIDDEN, "market authority", "actor.revoke", "{s:s, s:s}", "id", MKT.id,
       "reason", "x");

    /* only the holder moves a batch */
    NO(&T2, TT_ERR_NOT_HOLDER, "held by", "batch.transfer", "{s:s, s:s}", "id", B, "to", PH.id);
    NO(&T2, TT_ERR_NOT_HOLDER, "held by", "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", B,
       "children", "id", C, "qty_g", 1);
    NO(&T2, TT_ERR_NOT_HOLDER, "held by", "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 1);
    NO(&P, TT_ERR_NOT_HOLDER, "held by", "batch.process",
       "{s:[{s:s, s:i}], s:{s:s, s:i, s:s}, s:s}", "inputs", "id", B, "qty_g", 10, "output", "id",
       C, "qty_g", 9, "form", "饮片", "method", "切片");
    NO(&T2, TT_ERR_NOT_HOLDER, "held by", "batch.destroy", "{s:s, s:s}", "id", B, "reason", "x");

    /* recipients */
    NO(&T1, TT_ERR_UNKNOWN_ACTOR, "no actor", "batch.transfer", "{s:s, s:s}", "id", B, "to",
       "NOBODY");
    NO(&T1, TT_ERR_FORBIDDEN, "hold goods", "batch.transfer", "{s:s, s:s}", "id", B, "to", I.id);
    NO(&T1, TT_ERR_ARGUMENT, "its holder", "batch.transfer", "{s:s, s:s}", "id", B, "to", T1.id);

    /* quantities are conserved */
    NO(&T1, TT_ERR_QUANTITY, "left", "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", B,
       "children", "id", C, "qty_g", 6000, "id", D, "qty_g", 4001);
    NO(&T1, TT_ERR_QUANTITY, "left", "batch.transfer", "{s:s, s:s, s:i, s:s}", "id", B, "to", T2.id,
       "qty_g", 10001, "child", C);
    NO(&T1, TT_ERR_ARGUMENT, "child", "batch.transfer", "{s:s, s:s, s:i}", "id", B, "to", T2.id,
       "qty_g", 5000);
    NO(&T1, TT_ERR_QUANTITY, "more than", "batch.process",
       "{s:[{s:s, s:i}], s:{s:s, s:i, s:s}, s:s}", "inputs", "id", B, "qty_g", 1000, "output", "id",
       C, "qty_g", 1001, "form", "饮片", "method", "切片");
    NO(&T1, TT_ERR_QUANTITY, "left", "batch.process", "{s:[{s:s, s:i}], s:{s:s, s:i, s:s}, s:s}",
       "inputs", "id", B, "qty_g", 10001, "output", "id", C, "qty_g", 10, "form", "饮片", "method",
       "切片");
    NO(&T1, TT_ERR_QUANTITY, "left", "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 10001);
    OK(&T1, "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 1000);
    assert_int_equal(qty(B, "remaining"), 9000);

    /* ids are unique */
    refused(&T1.kp, TT_ERR_DUPLICATE_ID, "batch.register",
            json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}",
                      "id", B, "herb", "name_zh", "党参", "latin", "Codonopsis pilosula", "part",
                      "根", "origin", "province", "甘肃省", "city", "定西市", "county", "渭源县",
                      "base", "会川镇", "daodi", 1, "harvest_date", "2026-09-20", "grade", "统货",
                      "processing", "晒干", "qty_g", 1),
            "taken");
    NO(&T1, TT_ERR_DUPLICATE_ID, "twice", "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id",
       B, "children", "id", C, "qty_g", 1, "id", C, "qty_g", 1);
    NO(&T1, TT_ERR_DUPLICATE_ID, "taken", "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", B,
       "children", "id", B, "qty_g", 1);
    NO(&MKT, TT_ERR_DUPLICATE_ID, "taken", "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:[s]}", "id",
       T1.id, "key", b64key(&X.kp), "name", "x", "org", "x", "licence", "x", "roles", "trader");
    NO(&MKT, TT_ERR_DUPLICATE_ID, "belongs", "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:[s]}",
       "id", "Z-2", "key", b64key(&T1.kp), "name", "x", "org", "x", "licence", "x", "roles",
       "trader");

    /* unknown batches; bad trace codes never reach the rules */
    NO(&T1, TT_ERR_UNKNOWN_BATCH, "no batch", "batch.sell", "{s:s, s:i}", "id", E, "qty_g", 1);
    char bad[17];
    memcpy(bad, B, 17);
    bad[3] = bad[3] == '0' ? '1' : '0';
    NO(&T1, TT_ERR_MALFORMED, "check digit", "batch.sell", "{s:s, s:i}", "id", bad, "qty_g", 1);

    /* two-party custody */
    NO(&T2, TT_ERR_BAD_STATE, "in_transit", "batch.receive", "{s:s}", "id", B);
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", B, "to", T2.id);
    NO(&T1, TT_ERR_BAD_STATE, "in_transit", "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 1);
    NO(&PH, TT_ERR_NOT_HOLDER, "on its way", "batch.receive", "{s:s}", "id", B);
    OK(&T2, "batch.reject", "{s:s, s:s}", "id", B, "reason", "数量不符");
    assert_string_equal(holder_of(B), T1.id); /* back with the sender */
    assert_string_equal(status_of(B), "active");

    /* hold and release */
    OK(&I, "batch.hold", "{s:s, s:s}", "id", B, "reason", "待复检");
    NO(&T1, TT_ERR_FROZEN, "held", "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", B, "children",
       "id", C, "qty_g", 1);
    NO(&I, TT_ERR_BAD_STATE, "cannot be held", "batch.hold", "{s:s, s:s}", "id", B, "reason", "x");
    OK(&I, "batch.inspect", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", B, "lab", "x",
       "standard", "ChP 2020", "results", "test", "so2", "value", "380", "unit", "mg/kg",
       "report_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assert_string_equal(status_of(B), "held"); /* 党参 allows 400: pass, but still held */
    OK(&R, "batch.release", "{s:s, s:s}", "id", B, "reason", "复检合格");
    assert_string_equal(status_of(B), "active");
    NO(&I, TT_ERR_BAD_UNIT, "measured in", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", B, "lab", "x", "standard", "x", "results",
       "test", "so2", "value", "1", "unit", "%", "report_sha256",
       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");

    /* revocation and key rotation */
    tt_keypair newkey;
    tt_keypair_generate(&newkey);
    NO(&T1, TT_ERR_FORBIDDEN, "own key", "actor.rotate", "{s:s, s:s}", "id", T2.id, "new_key",
       b64key(&newkey));
    NO(&T1, TT_ERR_DUPLICATE_ID, "belongs", "actor.rotate", "{s:s, s:s}", "id", T1.id, "new_key",
       b64key(&T2.kp));
    OK(&T1, "actor.rotate", "{s:s, s:s}", "id", T1.id, "new_key", b64key(&newkey));
    NO(&T1, TT_ERR_REVOKED, "retired", "batch.sell", "{s:s, s:i}", "id", B, "qty_g", 1);
    assert_int_equal(
        submit_as(&newkey, "batch.sell", json_pack("{s:s, s:i}", "id", B, "qty_g", 1), NULL),
        TT_OK);
    OK(&MKT, "actor.revoke", "{s:s, s:s}", "id", T2.id, "reason", "营业执照过期");
    NO(&T2, TT_ERR_REVOKED, "revoked", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", F, "herb",
       "name_zh", "黄芪", "latin", "Astragalus membranaceus", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "陇西县", "base", "x", "daodi", 0, "harvest_date",
       "2026-09-01", "grade", "统货", "processing", "晒干", "qty_g", 5);
    assert_int_equal(
        submit_as(&newkey, "batch.transfer", json_pack("{s:s, s:s}", "id", B, "to", T2.id), NULL),
        TT_ERR_REVOKED);
    NO(&MKT, TT_ERR_BAD_STATE, "already", "actor.revoke", "{s:s, s:s}", "id", T2.id, "reason", "x");
    NO(&MKT, TT_ERR_UNKNOWN_ACTOR, "no actor", "actor.revoke", "{s:s, s:s}", "id", "NOBODY",
       "reason", "x");

    /* destroy by a regulator, not the holder; then nothing more */
    OK(&R, "batch.destroy", "{s:s, s:s, s:s}", "id", B, "reason", "过期", "method", "焚烧");
    assert_string_equal(status_of(B), "destroyed");
    assert_int_equal(qty(B, "destroyed"), 8999);
    assert_int_equal(qty(B, "remaining"), 0);
    assert_int_equal(
        submit_as(&newkey, "batch.sell", json_pack("{s:s, s:i}", "id", B, "qty_g", 1), NULL),
        TT_ERR_BAD_STATE);
    NO(&R, TT_ERR_BAD_STATE, "already", "batch.recall", "{s:s, s:s}", "id", B, "reason", "x");
    json_decref(reg_fields);
    free(B), free(C), free(D), free(E), free(F);
}

/* Events parsed beforehand (as the daemon's workers do) are matched to their
 * entries by their bytes, whatever order they are handed over in. */
static void test_parsed_events_are_matched(void **state)
{
    (void)state;
    char *codes[3], *bodies[3];
    uint8_t sigs[3][64];
    tt_append items[3] = {{0}};
    tt_event events[3];
    const uint8_t *ptrs[3];
    for (int i = 0; i < 3; i++) {
        codes[i] = new_code();
        bodies[i] =
            body_of("batch.register",
                    json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, "
                              "s:s, s:s, s:i}",
                              "id", codes[i], "herb", "name_zh", "黄芪", "latin", "Astragali Radix",
                              "part", "根", "origin", "province", "p", "city", "c", "county", "x",
                              "base", "b", "daodi", 0, "harvest_date", "2026-09-01", "grade", "g",
                              "processing", "p", "qty_g", 1000 * (i + 1)));
        tu_sign(ORIGIN, &G.kp, bodies[i], sigs[i]);
        items[i] = (tt_append){.actor = G.kp.pk, .sig = sigs[i], .body = tt_bytes_str(bodies[i])};
    }
    for (int i = 0; i < 3; i++) { /* handed over in reverse order */
        ptrs[i] = items[2 - i].body.data;
        assert_int_equal(tt_event_parse(items[2 - i].body, &events[i], NULL), TT_OK);
    }
    tt_parsed parsed = {ptrs, events, 3, 0};
    assert_int_equal(tt_ledger_append(L, items, 3, tt_now_ms(), tt_rules_apply, &parsed, NULL),
                     TT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].result.code, TT_OK);
        assert_int_equal(qty(codes[i], "registered"), 1000 * (i + 1));
        tt_event_free(&events[i]);
        free(codes[i]);
        free(bodies[i]);
    }
    /* parsed events of other bytes are not taken for these: the body is parsed afresh (and
     * here refused: it holds a lot no one registered); and a parsed event of a type the rules do not
     * know is refused, not applied */
    char *again = body_of("batch.hold", json_pack("{s:s, s:s}", "id", "2612070791659125",
                                                   "reason", "x"));
    uint8_t sig[64], before[32], after[32];
    tu_sign(ORIGIN, &I.kp, again, sig);
    tt_append it = {.actor = I.kp.pk, .sig = sig, .body = tt_bytes_str(again)};
    tt_event other;
    assert_int_equal(tt_event_parse(it.body, &other, NULL), TT_OK);
    const uint8_t *elsewhere[1] = {(const uint8_t *)"not these bytes"};
    tt_parsed miss = {elsewhere, &other, 1, 0};
    digest(before);
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, &miss, NULL), TT_OK);
    assert_int_equal(it.result.code, TT_ERR_UNKNOWN_BATCH); /* the bytes' own event was read */
    const uint8_t *these[1] = {it.body.data};
    other.type = TT_EV_COUNT;
    tt_parsed odd = {these, &other, 1, 0};
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, &odd, NULL), TT_OK);
    assert_int_equal(it.result.code, TT_ERR_MALFORMED);
    assert_non_null(strstr(it.result.message, "unknown event type"));
    digest(after);
    assert_memory_equal(before, after, 32);
    tt_event_free(&other);
    free(again);
}

/* The rules, then a refusal of one chosen event after all of its writes. */
typedef struct spoiler {
    const uint8_t *body;
    int calls;
} spoiler;

static tt_err apply_then_spoil(void *ctx, tt_txn *txn, const tt_entry *e, tt_error *err)
{
    spoiler *s = ctx;
    tt_err rc = tt_rules_apply(NULL, txn, e, err);
    if (rc == TT_OK && e->body.data == s->body) {
        s->calls++;
        return tt_fail(err, TT_ERR_ARGUMENT, "refused after its writes");
    }
    return rc;
}

/* The writer keeps the records it stores parsed; a write that is undone
 * (the group redone, then the event's own nested transaction) must not
 * leave the next event reading the undone record. */
static void test_undone_writes_are_not_remembered(void **state)
{
    (void)state;
    char *Z = register_by_t1(10000);
    OK(&T1, "batch.sell", "{s:s, s:i, s:s}", "id", Z, "qty_g", 100, "buyer_commitment", BUYER_C);
    char *bodies[2] = {body_of("batch.sell", json_pack("{s:s, s:i, s:s}", "id", Z, "qty_g", 1000,
                                                       "buyer_commitment", BUYER_C)),
                       body_of("batch.sell", json_pack("{s:s, s:i, s:s}", "id", Z, "qty_g", 200,
                                                       "buyer_commitment", BUYER_C))};
    uint8_t sigs[2][64];
    tt_append items[2];
    for (int i = 0; i < 2; i++) {
        tu_sign(ORIGIN, &T1.kp, bodies[i], sigs[i]);
        items[i] = (tt_append){.actor = T1.kp.pk, .sig = sigs[i], .body = tt_bytes_str(bodies[i])};
    }
    spoiler sp = {items[0].body.data, 0};
    assert_int_equal(tt_ledger_append(L, items, 2, tt_now_ms(), apply_then_spoil, &sp, NULL),
                     TT_OK);
    assert_int_equal(sp.calls, 2); /* straight in the group, then in its own transaction */
    assert_int_equal(items[0].result.code, TT_ERR_ARGUMENT);
    assert_int_equal(items[1].result.code, TT_OK);
    assert_int_equal(qty(Z, "sold"), 300);
    assert_int_equal(qty(Z, "remaining"), 9700);
    OK(&T1, "batch.sell", "{s:s, s:i, s:s}", "id", Z, "qty_g", 50, "buyer_commitment", BUYER_C);
    assert_int_equal(qty(Z, "remaining"), 9650);
    free(bodies[0]);
    free(bodies[1]);
    free(Z);
}

/* Registers `qty_g` of a herb at an origin as `w`; returns its new code. */
static char *reg_herb(const who *w, const char *herb, const char *latin, const char *part,
                      const char *county, int daodi, long long qty_g)
{
    char *code = new_code();
    OK(w, "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:I}", "id", code,
       "herb", "name_zh", herb, "latin", latin, "part", part, "origin", "province", "甘肃省",
       "city", "定西市", "county", county, "base", "基地", "daodi", daodi, "harvest_date",
       "2026-10-12", "grade", "统货", "processing", "晒干", "qty_g", (json_int_t)qty_g);
    return code;
}

#define SHA0 "0000000000000000000000000000000000000000000000000000000000000000"

/* One result {test, value, unit} in an inspection of `code` by `w`. */
static tt_err inspect1(const who *w, const char *code, const char *test, const char *value,
                       const char *unit, tt_error *why)
{
    return submit_as(&w->kp, "batch.inspect",
                     json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", code, "lab",
                               "重庆市药品检验所", "standard", "ChP 2020", "results", "test", test,
                               "value", value, "unit", unit, "report_sha256", SHA0),
                     why);
}

/* The last inspection's result for test index i of batch `code`. */
static json_t *last_result(const char *code, size_t i, char *verdict_out)
{
    json_t *b = batch(code), *ins = json_object_get(b, "inspections");
    json_t *last = json_array_get(ins, json_array_size(ins) - 1);
    if (verdict_out)
        strcpy(verdict_out, json_string_value(json_object_get(last, "verdict")));
    json_t *r = json_deep_copy(json_array_get(json_object_get(last, "results"), i));
    json_decref(b);
    return r;
}

/* A lot registered by T1 and received by `to` (T1 itself when NULL); its code (free it). */
static char *lot_at(const who *to, const char *herb, const char *latin, const char *part,
                    long long qty_g)
{
    char *code = reg_herb(&T1, herb, latin, part, "陇西县", 0, qty_g);
    if (to) {
        OK(&T1, "batch.transfer", "{s:s, s:s}", "id", code, "to", to->id);
        OK(to, "batch.receive", "{s:s}", "id", code);
    }
    return code;
}

/* The paths of the rules the market day does not walk: a lot that does not exist for each
 * kind of event, quantities that add up past what any lot can hold, a 饮片 made from a 饮片
 * with its own grade, a product the dictionary names under another name (炙甘草 of 甘草), and
 * a failed inspection whose descendants meet again in one product (each held once) or are
 * used up already (left as they are). */
static void test_every_path(void **state)
{
    (void)state;
    char *none = new_code(), *kid = new_code();
    NO(&T1, TT_ERR_UNKNOWN_BATCH, none, "batch.transfer", "{s:s, s:s}", "id", none, "to", T2.id);
    NO(&T1, TT_ERR_UNKNOWN_BATCH, none, "batch.receive", "{s:s}", "id", none);
    NO(&T1, TT_ERR_UNKNOWN_BATCH, none, "batch.cancel", "{s:s}", "id", none);
    NO(&T1, TT_ERR_UNKNOWN_BATCH, none, "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", none, "children",
       "id", kid, "qty_g", 10);
    NO(&T1, TT_ERR_UNKNOWN_BATCH, none, "batch.destroy", "{s:s, s:s}", "id", none, "reason", "霉变");
    NO(&T1, TT_ERR_FORBIDDEN, "authority", "actor.revoke", "{s:s, s:s}", "id", T2.id, "reason",
       "x");
    free(none), free(kid);

    /* 65 children of 1,000 tonnes each: more than any sum is allowed to reach */
    char *big = lot_at(NULL, "黄芪", "Astragali Radix", "干燥根", 1000);
    json_t *kids = json_array();
    for (int i = 0; i < 65; i++) {
        char *k = new_code();
        json_array_append_new(kids, json_pack("{s:s, s:I}", "id", k, "qty_g", (json_int_t)TT_QTY_MAX));
        free(k);
    }
    NO(&T1, TT_ERR_QUANTITY, "add up to too much", "batch.split", "{s:s, s:o}", "id", big,
       "children", kids);
    free(big);

    /* 饮片 of 饮片, graded; and 炙甘草 is 甘草's by the dictionary's parent */
    char *gc = lot_at(&P, "甘草", "Glycyrrhizae Radix et Rhizoma", "干燥根和根茎", 10000);
    char *y1 = new_code(), *y2 = new_code();
    OK(&P, "batch.process", "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs", "id", gc,
       "qty_g", 10000, "output", "id", y1, "qty_g", 9000, "form", "饮片", "name_zh", "炙甘草",
       "method", "蜜炙");
    OK(&P, "batch.process", "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:s, s:s}, s:s}", "inputs", "id",
       y1, "qty_g", 9000, "output", "id", y2, "qty_g", 8800, "form", "饮片", "name_zh", "炙甘草",
       "grade", "一级", "method", "筛净");
    json_t *b2 = batch(y2);
    assert_string_equal(json_string_value(json_object_get(b2, "grade")), "一级");
    json_t *comp = json_object_get(b2, "composition");
    assert_int_equal(json_array_size(comp), 1); /* the 饮片's composition, carried over */
    assert_string_equal(json_string_value(json_object_get(json_array_get(comp, 0), "name_zh")),
                        "甘草");
    json_decref(b2);
    free(gc), free(y1), free(y2);

    /* a diamond: A split in two, both halves processed into one product, A fails */
    char *A = lot_at(NULL, "黄芪", "Astragali Radix", "干燥根", 20000), *h1 = new_code(),
         *h2 = new_code(), *Z = new_code();
    OK(&T1, "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", A, "children", "id", h1,
       "qty_g", 10000, "id", h2, "qty_g", 10000);
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", h1, "to", P.id);
    OK(&P, "batch.receive", "{s:s}", "id", h1);
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", h2, "to", P.id);
    OK(&P, "batch.receive", "{s:s}", "id", h2);
    OK(&P, "batch.process", "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s}, s:s}", "inputs", "id",
       h1, "qty_g", 10000, "id", h2, "qty_g", 10000, "output", "id", Z, "qty_g", 19000, "form",
       "饮片", "method", "切片");
    tt_error why;
    assert_int_equal(inspect1(&I, A, "so2", "520", "mg/kg", &why), TT_OK);
    assert_string_equal(status_of(Z), "held");
    assert_string_equal(status_of(h1), "depleted"); /* used up: nothing left to hold */
    assert_string_equal(status_of(h2), "depleted");
    json_t *zb = batch(Z);
    assert_int_equal(json_integer_value(json_object_get(zb, "hold_fail_seq")), last_seq);
    json_decref(zb);
    free(A), free(h1), free(h2), free(Z);

    /* a product of more than 256 herbs and origins: five 饮片 of 64 counties' 黄芪 each, then
     * the five together */
    json_t *five = json_array();
    for (int l = 0; l < 5; l++) {
        json_t *ins = json_array();
        for (int k = 0; k < 64; k++) {
            char county[16];
            snprintf(county, sizeof county, "县%d", l * 64 + k);
            char *x = reg_herb(&T1, "黄芪", "Astragali Radix", "干燥根", county, 0, 100);
            OK(&T1, "batch.transfer", "{s:s, s:s}", "id", x, "to", P.id);
            OK(&P, "batch.receive", "{s:s}", "id", x);
            json_array_append_new(ins, json_pack("{s:s, s:i}", "id", x, "qty_g", 100));
            free(x);
        }
        char *y = new_code();
        OK(&P, "batch.process", "{s:o, s:{s:s, s:i, s:s}, s:s}", "inputs", ins, "output", "id", y,
           "qty_g", 6000, "form", "饮片", "method", "切片");
        json_array_append_new(five, json_pack("{s:s, s:i}", "id", y, "qty_g", 6000));
        free(y);
    }
    char *all = new_code();
    NO(&P, TT_ERR_TOO_LARGE, "at most 256", "batch.process", "{s:o, s:{s:s, s:i, s:s}, s:s}",
       "inputs", five, "output", "id", all, "qty_g", 30000, "form", "饮片", "method", "混匀");
    free(all);
}

static who DUAL = {"D-0001", {{0}, {0}}}, I3 = {"I-0003", {{0}, {0}}}, T3 = {"T-0031", {{0}, {0}}},
           IP = {"I-0005", {{0}, {0}}};

/* Issue: every claim checked. Each rule is broken once by the actor who
 * would gain from breaking it. */
static void test_claims_are_checked(void **state)
{
    (void)state;
    tt_keypair_generate(&DUAL.kp);
    tt_keypair_generate(&I3.kp);
    tt_keypair_generate(&T3.kp);
    tt_keypair_generate(&IP.kp);
    enroll(&DUAL, "孙某", "孙记药材", "inspector,trader");
    enroll(&I3, "陈小明", "陈氏药材行 (解放路 A 区 17 号)", "inspector"); /* T1's organisation */
    enroll(&T3, "黄丽", "黄记药材 (解放路 B 区 9 号)", "trader");
    enroll(&IP, "吴质检", "重庆渝中饮片厂", "inspector"); /* P's organisation */
    char v[16];
    tt_error why;

    /* quality: test names from the table's vocabulary, any case, Chinese, aliases */
    char *Q = reg_herb(&T1, "当归", "Angelicae Sinensis Radix", "干燥根", "岷县", 1, 10000);
    assert_int_equal(inspect1(&I, Q, "SO2", "12", "mg/kg", NULL), TT_OK);
    json_t *r = last_result(Q, 0, v);
    assert_string_equal(json_string_value(json_object_get(r, "test")), "so2");
    assert_string_equal(json_string_value(json_object_get(r, "as_written")), "SO2");
    assert_string_equal(json_string_value(json_object_get(r, "limit")), "150");
    assert_string_equal(v, "pass");
    json_decref(r);
    /* at the limit exactly is within it (≤), in any number of decimals */
    assert_int_equal(inspect1(&I, Q, "SO2", "150", "mg/kg", NULL), TT_OK);
    json_decref(last_result(Q, 0, v));
    assert_string_equal(v, "pass");
    assert_int_equal(inspect1(&I, Q, "SO2", "150.000", "mg/kg", NULL), TT_OK);
    json_decref(last_result(Q, 0, v));
    assert_string_equal(v, "pass");
    assert_int_equal(inspect1(&I, Q, "铅", "1.2", "mg/kg", NULL), TT_OK);
    r = last_result(Q, 0, v);
    assert_string_equal(json_string_value(json_object_get(r, "test")), "pb");
    json_decref(r);
    /* a test with no limit for this herb is recorded as no_limit, with its value */
    assert_int_equal(inspect1(&I, Q, "AFB1", "12", "µg/kg", NULL), TT_OK);
    r = last_result(Q, 0, v);
    assert_string_equal(json_string_value(json_object_get(r, "test")), "aflatoxin_b1");
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "no_limit");
    assert_string_equal(json_string_value(json_object_get(r, "value")), "12");
    assert_string_equal(v, "no_limit");
    json_decref(r);
    /* an unknown test is refused, naming the valid ones */
    NO(&I, TT_ERR_UNKNOWN_TEST, "so2 (二氧化硫残留)", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", Q, "lab", "x", "standard", "x", "results",
       "test", "aflatoxin-x", "value", "12", "unit", "µg/kg", "report_sha256", SHA0);

    /* a fail holds the lot and every lot split off it before the test */
    char *Q1 = new_code(), *Q2 = new_code();
    OK(&T1, "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", Q, "children", "id", Q1,
       "qty_g", 3000, "id", Q2, "qty_g", 2000);
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", Q2, "to", T2.id);
    assert_int_equal(inspect1(&I, Q, "二氧化硫", "390", "mg/kg", NULL), TT_OK);
    assert_string_equal(status_of(Q), "held");
    assert_string_equal(status_of(Q1), "held");
    assert_string_equal(status_of(Q2), "held"); /* held on its way, too */
    NO(&T1, TT_ERR_FROZEN, "held", "batch.sell", "{s:s, s:i}", "id", Q1, "qty_g", 1);
    NO(&T2, TT_ERR_FROZEN, "held", "batch.receive", "{s:s}", "id", Q2);
    /* only a regulator releases after a fail: not the inspector who failed it */
    NO(&I, TT_ERR_FORBIDDEN, "only a regulator", "batch.release", "{s:s, s:s}", "id", Q, "reason",
       "复检合格");
    NO(&I, TT_ERR_FORBIDDEN, "only a regulator", "batch.release", "{s:s, s:s}", "id", Q1, "reason",
       "复检合格");
    OK(&R, "batch.release", "{s:s, s:s}", "id", Q1, "reason", "复检合格，监管放行");
    assert_string_equal(status_of(Q1), "active");
    assert_string_equal(status_of(Q), "held");

    /* separation of duties: not its own lots, not its organisation's */
    char *S = reg_herb(&DUAL, "当归", "Angelica sinensis", "根", "岷县", 1, 1000);
    /* its own: refused as its own, not only as its organisation's (which holds too) */
    NO(&DUAL, TT_ERR_FORBIDDEN, "and may not inspect it", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", S, "lab", "x", "standard", "x", "results",
       "test", "so2", "value", "1", "unit", "mg/kg", "report_sha256", SHA0);
    NO(&I3, TT_ERR_FORBIDDEN, "陈氏药材行", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", Q1, "lab", "x", "standard", "x",
       "results", "test", "so2", "value", "1", "unit", "mg/kg", "report_sha256", SHA0);
    NO(&I3, TT_ERR_FORBIDDEN, "陈氏药材行", "batch.hold", "{s:s, s:s}", "id", Q1, "reason", "x");
    /* custody history follows the material: T1 held Q2's material, so T1's
     * organisation may not judge Q2 after T2 took it */
    OK(&R, "batch.release", "{s:s, s:s}", "id", Q2, "reason", "复检合格，监管放行");
    OK(&T2, "batch.receive", "{s:s}", "id", Q2);
    NO(&I3, TT_ERR_FORBIDDEN, "T-0017", "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", Q2, "lab", "x", "standard", "x",
       "results", "test", "so2", "value", "1", "unit", "mg/kg", "report_sha256", SHA0);

    /* a held or recalled lot can be destroyed: by its holder, or a regulator */
    OK(&R, "batch.recall", "{s:s, s:s}", "id", Q1, "reason", "二氧化硫超标");
    OK(&T1, "batch.destroy", "{s:s, s:s, s:s}", "id", Q1, "reason", "召回销毁", "method", "焚烧");
    assert_string_equal(status_of(Q1), "destroyed");
    assert_int_equal(qty(Q1, "destroyed"), 3000);
    NO(&T1, TT_ERR_BAD_STATE, "destroyed", "batch.destroy", "{s:s, s:s}", "id", Q1, "reason", "x");
    OK(&R, "batch.destroy", "{s:s, s:s}", "id", Q, "reason", "检验不合格，监督销毁");
    assert_string_equal(status_of(Q), "destroyed");

    /* origin: processing cannot relabel herb or origin */
    char *M1 = reg_herb(&P, "当归", "Angelica sinensis", "根", "岷县", 1, 1);
    char *M2 = reg_herb(&P, "独活", "Angelicae Pubescentis Radix", "根", "巴东县", 0, 999999);
    char *M3 = reg_herb(&P, "当归", "Angelica sinensis", "根", "渭源县", 0, 999999);
    char *O1 = new_code(), *O2 = new_code(), *O3 = new_code();
    NO(&P, TT_ERR_RELABEL, "compound", "batch.process",
       "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs", "id", M1, "qty_g", 1,
       "id", M2, "qty_g", 999999, "output", "id", O1, "qty_g", 1000000, "form", "饮片", "name_zh",
       "当归", "method", "切片");
    NO(&P, TT_ERR_RELABEL, "cannot rename", "batch.process",
       "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs", "id", M2, "qty_g", 1000, "output",
       "id", O1, "qty_g", 900, "form", "饮片", "name_zh", "党参", "method", "切片");
    /* 1 g of 道地 岷县 当归 with 999,999 g from elsewhere is not 道地 岷县 */
    OK(&P, "batch.process", "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs",
       "id", M1, "qty_g", 1, "id", M3, "qty_g", 999999, "output", "id", O1, "qty_g", 900000, "form",
       "饮片", "name_zh", "当归片", "method", "切片");
    json_t *ob = batch(O1), *origin = json_object_get(ob, "origin");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ob, "herb"), "name_zh")),
                        "当归");
    assert_string_equal(json_string_value(json_object_get(ob, "product_name")), "当归片");
    assert_false(json_is_true(json_object_get(origin, "daodi")));
    assert_true(json_is_true(json_object_get(origin, "mixed")));
    assert_null(json_object_get(origin, "county"));
    json_t *comp = json_object_get(ob, "composition");
    assert_int_equal(json_array_size(comp), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(comp, 0), "county")),
                        "岷县");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(comp, 0), "g")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(comp, 1), "g")), 999999);
    json_decref(ob);
    /* 道地 only when every input is 道地 from one county */
    char *W1 = reg_herb(&P, "当归", "Angelica sinensis", "根", "岷县", 1, 1000);
    char *W2 = reg_herb(&P, "当归", "Angelica sinensis", "根", "渭源县", 1, 1000);
    char *W3 = reg_herb(&P, "当归", "Angelica sinensis", "根", "岷县", 1, 1000);
    char *OW = new_code(), *OW2 = new_code();
    OK(&P, "batch.process", "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s}, s:s}", "inputs", "id",
       W1, "qty_g", 500, "id", W2, "qty_g", 500, "output", "id", OW, "qty_g", 900, "form", "饮片",
       "method", "切片");
    ob = batch(OW);
    assert_false(json_is_true(json_object_get(json_object_get(ob, "origin"), "daodi")));
    json_decref(ob);
    OK(&P, "batch.process", "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s}, s:s}", "inputs", "id",
       W1, "qty_g", 500, "id", W3, "qty_g", 500, "output", "id", OW2, "qty_g", 900, "form", "饮片",
       "method", "切片");
    ob = batch(OW2);
    assert_true(json_is_true(json_object_get(json_object_get(ob, "origin"), "daodi")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(ob, "origin"), "county")),
                        "岷县");
    assert_int_equal(json_array_size(json_object_get(ob, "composition")), 1);
    json_decref(ob);
    free(W1), free(W2), free(W3), free(OW), free(OW2);
    /* a part split off the output carries its share of the composition */
    char *O1a = new_code();
    OK(&P, "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", O1, "children", "id", O1a, "qty_g",
       450000);
    ob = batch(O1a);
    comp = json_object_get(ob, "composition");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(comp, 0), "g")) +
                         json_integer_value(json_object_get(json_array_get(comp, 1), "g")),
                     500000);
    json_decref(ob);
    /* a declared compound is judged against the strictest limit of its herbs:
     * 党参 alone allows SO2 400 mg/kg, 当归 150 */
    char *D1 = reg_herb(&P, "党参", "Codonopsis Radix", "根", "渭源县", 1, 5000);
    NO(&P, TT_ERR_RELABEL, "cannot rename", "batch.process",
       "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}", "inputs", "id", M2, "qty_g", 1000, "output",
       "id", O2, "qty_g", 900, "form", "饮片", "name_zh", "党参", "method", "切片");
    /* nor is a one-herb "compound", or one named after a dictionary herb */
    NO(&P, TT_ERR_RELABEL, "two herbs or more", "batch.process",
       "{s:[{s:s, s:i}], s:{s:s, s:i, s:s, s:b, s:{s:s, s:s, s:s}}, s:s}", "inputs", "id", M2,
       "qty_g", 1000, "output", "id", O2, "qty_g", 900, "form", "饮片", "compound", 1, "herb",
       "name_zh", "当归饮片", "latin", "x", "part", "复方", "method", "切片");
    NO(&P, TT_ERR_RELABEL, "single herb of the dictionary", "batch.process",
       "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s, s:b, s:{s:s, s:s, s:s}}, s:s}", "inputs",
       "id", D1, "qty_g", 100, "id", M2, "qty_g", 100, "output", "id", O2, "qty_g", 180, "form",
       "饮片", "compound", 1, "herb", "name_zh", "当归", "latin", "x", "part", "复方", "method",
       "配伍");
    OK(&P, "batch.process",
       "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s, s:b, s:{s:s, s:s, s:s}}, s:s}", "inputs",
       "id", D1, "qty_g", 4000, "id", M2, "qty_g", 1000, "output", "id", O2, "qty_g", 4500, "form",
       "饮片", "compound", 1, "herb", "name_zh", "参活饮片", "latin", "Codonopsis et Angelica",
       "part", "复方", "method", "配伍切片");
    OK(&P, "batch.transfer", "{s:s, s:s}", "id", O2, "to", T3.id);
    OK(&T3, "batch.receive", "{s:s}", "id", O2);
    assert_int_equal(inspect1(&I, O2, "so2", "390", "mg/kg", NULL), TT_OK);
    r = last_result(O2, 0, v);
    assert_string_equal(v, "fail");
    assert_string_equal(json_string_value(json_object_get(r, "limit")), "150");
    json_decref(r);
    /* the processor's own output is still the processor's to answer for:
     * it held the material, so its organisation may not judge it either,
     * though T3 holds it now */
    NO(&IP, TT_ERR_FORBIDDEN, P.id, "batch.inspect",
       "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", O2, "lab", "x", "standard", "x",
       "results", "test", "so2", "value", "1", "unit", "mg/kg", "report_sha256", SHA0);

    /* the herb dictionary */
    NO(&T1, TT_ERR_UNKNOWN_HERB, "Angelicae Pubescentis Radix", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", O3,
       "herb", "name_zh", "独活", "latin", "Angelica sinensis", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "岷县", "base", "x", "daodi", 0, "harvest_date",
       "2026-10-01", "grade", "统货", "processing", "晒干", "qty_g", 5);
    NO(&T1, TT_ERR_UNKNOWN_HERB, "part", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", O3,
       "herb", "name_zh", "当归", "latin", "Angelica sinensis", "part", "叶", "origin", "province",
       "甘肃省", "city", "定西市", "county", "岷县", "base", "x", "daodi", 0, "harvest_date",
       "2026-10-01", "grade", "统货", "processing", "晒干", "qty_g", 5);
    NO(&T1, TT_ERR_UNKNOWN_HERB, "unlisted", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", O3,
       "herb", "name_zh", "川银花", "latin", "Lonicera confusa", "part", "花蕾", "origin",
       "province", "重庆市", "city", "重庆市", "county", "秀山县", "base", "x", "daodi", 0,
       "harvest_date", "2026-06-01", "grade", "统货", "processing", "晒干", "qty_g", 5);
    NO(&T1, TT_ERR_UNKNOWN_HERB, "cannot be registered as unlisted", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i, s:b}", "id", O3,
       "herb", "name_zh", "当归", "latin", "x", "part", "根", "origin", "province", "甘肃省",
       "city", "定西市", "county", "岷县", "base", "x", "daodi", 0, "harvest_date", "2026-10-01",
       "grade", "统货", "processing", "晒干", "qty_g", 5, "unlisted", 1);
    OK(&T1, "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i, s:b}", "id", O3,
       "herb", "name_zh", "川银花", "latin", "Lonicera confusa", "part", "花蕾", "origin",
       "province", "重庆市", "city", "重庆市", "county", "秀山县", "base", "x", "daodi", 0,
       "harvest_date", "2026-06-01", "grade", "统货", "processing", "晒干", "qty_g", 5, "unlisted",
       1);
    ob = batch(O3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ob, "herb"), "listing")),
                        "unlisted");
    json_decref(ob);
    /* a row the data marks for review: its Chinese name alone, shown unconfirmed */
    char *U = reg_herb(&T1, "三颗针", "Berberis", "根", "岷县", 0, 5);
    ob = batch(U);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ob, "herb"), "listing")),
                        "unconfirmed");
    json_decref(ob);
    char *C1 = reg_herb(&T1, "当归", "ANGELICA  SINENSIS (Oliv.) Diels", "干燥根", "岷县", 1, 5);
    ob = batch(C1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ob, "herb"), "listing")),
                        "confirmed");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ob, "herb"), "latin_drug")),
        "Angelicae Sinensis Radix");
    json_decref(ob);
    /* a new dictionary edition withdraws a row; registering it is refused */
    OK(&MKT, "ledger.herbs", "{s:s, s:[{s:s, s:b}]}", "edition", "勘误 2026-12", "herbs", "name_zh",
       "三颗针", "withdrawn", 1);
    char *U2 = new_code();
    NO(&T1, TT_ERR_UNKNOWN_HERB, "not in the ledger's herb dictionary", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", U2,
       "herb", "name_zh", "三颗针", "latin", "Berberis", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "岷县", "base", "x", "daodi", 0, "harvest_date",
       "2026-10-01", "grade", "统货", "processing", "晒干", "qty_g", 5);

    /* plausible values */
    NO(&T1, TT_ERR_BAD_TIME, "after the event was signed", "batch.register",
       "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:i}", "id", U2,
       "herb", "name_zh", "当归", "latin", "Angelica sinensis", "part", "根", "origin", "province",
       "甘肃省", "city", "定西市", "county", "岷县", "base", "x", "daodi", 0, "harvest_date",
       "2999-10-01", "grade", "统货", "processing", "晒干", "qty_g", 5);

    /* custody: the sender takes back a transfer still in transit, even to an
     * actor revoked meanwhile; nobody else can */
    char *K = reg_herb(&T1, "当归", "Angelica sinensis", "根", "岷县", 1, 2000);
    NO(&T1, TT_ERR_BAD_STATE, "in_transit", "batch.cancel", "{s:s}", "id", K);
    OK(&T1, "batch.transfer", "{s:s, s:s}", "id", K, "to", T3.id);
    OK(&MKT, "actor.revoke", "{s:s, s:s}", "id", T3.id, "reason", "停业");
    NO(&T3, TT_ERR_REVOKED, "revoked", "batch.receive", "{s:s}", "id", K);
    NO(&T2, TT_ERR_NOT_HOLDER, "held by", "batch.cancel", "{s:s}", "id", K);
    OK(&T1, "batch.cancel", "{s:s}", "id", K);
    assert_string_equal(status_of(K), "active");
    assert_string_equal(holder_of(K), T1.id);
    OK(&T1, "batch.sell", "{s:s, s:i, s:s}", "id", K, "qty_g", 100, "buyer_commitment", BUYER_C);

    /* the last authority can never be revoked */
    NO(&MKT, TT_ERR_FORBIDDEN, "last active market authority", "actor.revoke", "{s:s, s:s}", "id",
       MKT.id, "reason", "x");
    (void)why;
    free(K), free(U), free(U2), free(C1), free(D1);
    free(M1), free(M2), free(M3), free(O1), free(O1a), free(O2), free(O3);
    free(S);
    free(Q), free(Q1), free(Q2);
}

/* An authority may revoke another authority, never the last one: on a
 * ledger of its own whose genesis names two. */
static void test_authorities(void **state)
{
    (void)state;
    tt_ledger *keep = L;
    who A1 = {"MKT-A", {{0}, {0}}}, A2 = {"MKT-B", {{0}, {0}}};
    tt_keypair_generate(&A1.kp);
    tt_keypair_generate(&A2.kp);
    char *ldir, vkey[TT_VKEY_MAX + 1];
    assert_true(asprintf(&ldir, "%s/two-authorities", dir) > 0);
    assert_int_equal(tt_ledger_open(ldir, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &L, NULL), TT_OK);
    assert_int_equal(tt_ledger_set_signer(L, ORIGIN, &logkey, NULL), TT_OK);
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    OK(&A1, "ledger.genesis", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "origin",
       ORIGIN, "log_key", vkey, "market", "两个管理处", "authorities", "id", A1.id, "name", "甲",
       "key", b64key(&A1.kp), "id", A2.id, "name", "乙", "key", b64key(&A2.kp));
    OK(&A1, "actor.revoke", "{s:s, s:s}", "id", A2.id, "reason", "密钥遗失");
    NO(&A2, TT_ERR_REVOKED, "revoked", "actor.revoke", "{s:s, s:s}", "id", A1.id, "reason", "x");
    NO(&A1, TT_ERR_FORBIDDEN, "last active market authority", "actor.revoke", "{s:s, s:s}", "id",
       A1.id, "reason", "x");
    tt_ledger_close(L);
    L = keep;
    free(ldir);
}

/* A signed scan of `code` by kp, now. */
static tt_err scan_as(const tt_keypair *kp, const char *code, const char *at, json_t **out,
                      tt_error *why)
{
    char now[32], nonce[32];
    uint8_t raw[16], sig[64];
    tt_rfc3339_now(now);
    randombytes_buf(raw, sizeof raw);
    tt_b64url((tt_bytes){16, raw}, nonce);
    json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "type", "scan", "id", code, "at",
                          at ? at : now, "nonce", nonce);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    tt_scan_sign(ORIGIN, tt_bytes_str(body), kp->sk, sig);
    tt_scan_sig ss = {kp->pk, sig, tt_bytes_str(body)};
    *out = NULL;
    tt_err rc = tt_scan_record(L, code, &ss, out, why);
    free(body);
    return rc;
}

/* Scans: only signed ones are places; a lot's record stays bounded however
 * many actors scan it; replays and strangers count nowhere. */
static void test_scans_are_bounded(void **state)
{
    (void)state;
    char *S = reg_herb(&T2, "当归", "Angelica sinensis", "根", "岷县", 1, 1000);
    json_t *r = NULL;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tt_scan_record(L, S, NULL, &r, NULL), TT_OK);
        json_decref(r);
    }
    enum { N = 40 };
    who many[N];
    char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "S-%04d", i);
        many[i].id = ids[i];
        tt_keypair_generate(&many[i].kp);
        enroll(&many[i], "扫码者", ids[i], "trader");
        assert_int_equal(scan_as(&many[i].kp, S, NULL, &r, NULL), TT_OK);
        if (i < N - 1)
            json_decref(r);
    }
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 5 + N);
    assert_int_equal(json_integer_value(json_object_get(r, "anonymous")), 5);
    assert_int_equal(json_integer_value(json_object_get(r, "signed")), N);
    assert_int_equal(json_integer_value(json_object_get(r, "places_seen")), N);
    assert_int_equal(json_array_size(json_object_get(r, "places")), TT_SCAN_PLACES);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(r, "places"), 0), "by")),
        ids[N - 1]);
    char *dumped = json_dumps(r, JSON_COMPACT);
    assert_true(strlen(dumped) < 2048); /* bounded: not one entry per scanner */
    free(dumped);
    json_decref(r);
    /* a replayed or older signed scan, a stranger's, one far from the clock */
    tt_error why;
    assert_int_equal(scan_as(&many[0].kp, S, "2026-01-01T00:00:00Z", &r, &why), TT_ERR_BAD_TIME);
    char past[32];
    tt_rfc3339_now(past);
    assert_int_equal(scan_as(&many[1].kp, S, past, &r, &why), TT_OK);
    json_decref(r);
    assert_int_equal(scan_as(&many[1].kp, S, past, &r, &why), TT_ERR_REPLAY);
    assert_int_equal(scan_as(&X.kp, S, NULL, &r, &why), TT_ERR_NOT_ENROLLED);
    assert_int_equal(tt_scan_get(L, S, &r, NULL), TT_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "signed")), N + 1);
    json_decref(r);
    free(S);
}

/* An RFC 3339 time `off` seconds from now: an actor's scans each say a later time. */
static const char *stamp(int off)
{
    static char out[4][32];
    static int k;
    char *o = out[k++ % 4];
    struct tm tm;
    time_t t = time(NULL) + off;
    gmtime_r(&t, &tm);
    strftime(o, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return o;
}

static int has_flag(json_t *r, const char *flag)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "flags"), i, f) if (strcmp(json_string_value(f), flag) == 0)
        return 1;
    return 0;
}

/* A "seen where it never went" flag takes strangers of two organisations: the holder's own
 * scans, a parent's holder's, one dishonest stranger's or one organisation's staff raise
 * nothing; the market office's batch.review clears what came before it, with its reason;
 * one actor signs at most TT_SCAN_PER_MINUTE scans a minute. */
static void test_scan_flags_need_strangers(void **state)
{
    (void)state;
    static who F1 = {"F-0001", {{0}, {0}}}, F2 = {"F-0002", {{0}, {0}}}, F3 = {"F-0003", {{0}, {0}}},
               F4 = {"F-0004", {{0}, {0}}}, F5 = {"F-0005", {{0}, {0}}};
    who *fs[] = {&F1, &F2, &F3, &F4, &F5};
    const char *orgs[] = {"甲药行", "甲药行", "乙药行", "丙药行", "丁药行"};
    for (int i = 0; i < 5; i++) {
        tt_keypair_generate(&fs[i]->kp);
        enroll(fs[i], "扫码者", orgs[i], "trader");
    }
    char *S = reg_herb(&T2, "当归", "Angelica sinensis", "根", "岷县", 1, 2000);
    char *K = new_code();
    OK(&T2, "batch.split", "{s:s, s:[{s:s, s:i}]}", "id", S, "children", "id", K, "qty_g", 500);
    json_t *r = NULL;
    /* the holder, and the parent's holder scanning the child */
    assert_int_equal(scan_as(&T2.kp, S, NULL, &r, NULL), TT_OK);
    assert_int_equal(json_array_size(json_object_get(r, "flags")), 0);
    json_decref(r);
    OK(&T2, "batch.transfer", "{s:s, s:s}", "id", K, "to", T1.id);
    OK(&T1, "batch.receive", "{s:s}", "id", K);
    assert_int_equal(scan_as(&T2.kp, K, stamp(2), &r, NULL), TT_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "strangers")), 0);
    json_decref(r);
    /* one stranger; a second of the same organisation: still one organisation */
    assert_int_equal(scan_as(&F1.kp, S, NULL, &r, NULL), TT_OK);
    assert_false(has_flag(r, "more_holders_than_sent"));
    json_decref(r);
    assert_int_equal(scan_as(&F2.kp, S, NULL, &r, NULL), TT_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "strangers")), 1);
    assert_false(has_flag(r, "more_holders_than_sent"));
    json_decref(r);
    /* a stranger of another organisation: a pattern */
    assert_int_equal(scan_as(&F3.kp, S, NULL, &r, NULL), TT_OK);
    assert_true(has_flag(r, "more_holders_than_sent"));
    json_decref(r);
    /* only the market office reviews; its review clears what came before, with its reason */
    NO(&T2, TT_ERR_FORBIDDEN, "authority", "batch.review", "{s:s, s:s}", "id", S, "reason", "x");
    OK(&MKT, "batch.review", "{s:s, s:s}", "id", S, "reason", "两家同一买家的店员，已核实");
    assert_int_equal(tt_scan_get(L, S, &r, NULL), TT_OK);
    assert_int_equal(json_array_size(json_object_get(r, "flags")), 0);
    json_t *rv = json_object_get(r, "reviewed");
    assert_non_null(rv);
    assert_string_equal(json_string_value(json_object_get(rv, "reason")), "两家同一买家的店员，已核实");
    json_decref(r);
    /* after the review, new strangers count afresh: one, then another organisation's */
    assert_int_equal(scan_as(&F4.kp, S, NULL, &r, NULL), TT_OK);
    assert_false(has_flag(r, "more_holders_than_sent"));
    json_decref(r);
    /* F3 scanned already this second: its next scan says a later time (within the window) */
    assert_int_equal(scan_as(&F3.kp, S, stamp(5), &r, NULL), TT_OK);
    assert_true(has_flag(r, "more_holders_than_sent"));
    json_decref(r);
    /* the rate: an actor's scans in a minute, each later than the one before */
    tt_error why;
    int ok = 0;
    for (int i = 0; i <= TT_SCAN_PER_MINUTE; i++) {
        tt_err rc = scan_as(&F5.kp, K, stamp(i - 300), &r, &why);
        if (rc == TT_OK) {
            ok++;
            json_decref(r);
        } else {
            assert_int_equal(rc, TT_ERR_BUSY);
            assert_non_null(strstr(why.message, "wait a minute"));
        }
    }
    assert_int_equal(ok, TT_SCAN_PER_MINUTE);
    free(S);
    free(K);
}

/* A revoked actor's open lots go to its successor, by the market authority only, each named and
 * each its own or on its way to it; status stays (a held lot stays held); each lot's history
 * holds the entry. */
static void test_succession(void **state)
{
    (void)state;
    static who OLD = {"T-0101", {{0}, {0}}}, HEIR = {"T-0102", {{0}, {0}}}, INS = {"I-0101", {{0}, {0}}};
    tt_keypair_generate(&OLD.kp);
    tt_keypair_generate(&HEIR.kp);
    tt_keypair_generate(&INS.kp);
    enroll(&OLD, "王福", "王氏药行", "trader");
    enroll(&HEIR, "王明", "王氏药行", "trader");
    enroll(&INS, "检验员", "检验所", "inspector");
    char *A = reg_herb(&OLD, "当归", "Angelica sinensis", "根", "岷县", 1, 1000);
    char *B = reg_herb(&OLD, "当归", "Angelica sinensis", "根", "岷县", 1, 2000);
    char *C = reg_herb(&T2, "当归", "Angelica sinensis", "根", "岷县", 1, 3000);
    char *D = reg_herb(&T2, "当归", "Angelica sinensis", "根", "岷县", 1, 500);
    OK(&T2, "batch.transfer", "{s:s, s:s}", "id", C, "to", OLD.id); /* on its way to OLD */
    OK(&I, "batch.hold", "{s:s, s:s}", "id", B, "reason", "待复检");
    /* not before it is revoked; not by anyone but the authority */
    NO(&MKT, TT_ERR_BAD_STATE, "revoke it first", "actor.succeed", "{s:s, s:s, s:[s], s:s}", "id", OLD.id,
       "successor", HEIR.id, "lots", A, "reason", "手机丢失");
    OK(&MKT, "actor.revoke", "{s:s, s:s}", "id", OLD.id, "reason", "手机丢失");
    NO(&HEIR, TT_ERR_FORBIDDEN, "authority", "actor.succeed", "{s:s, s:s, s:[s], s:s}", "id", OLD.id,
       "successor", HEIR.id, "lots", A, "reason", "x");
    /* a lot it neither holds nor awaits; a lot named twice; a successor that holds no goods */
    NO(&MKT, TT_ERR_NOT_HOLDER, D, "actor.succeed", "{s:s, s:s, s:[s, s], s:s}", "id", OLD.id,
       "successor", HEIR.id, "lots", A, D, "reason", "x");
    NO(&MKT, TT_ERR_DUPLICATE_ID, "twice", "actor.succeed", "{s:s, s:s, s:[s, s], s:s}", "id", OLD.id,
       "successor", HEIR.id, "lots", A, A, "reason", "x");
    NO(&MKT, TT_ERR_FORBIDDEN, "holds no goods", "actor.succeed", "{s:s, s:s, s:[s], s:s}", "id",
       OLD.id, "successor", INS.id, "lots", A, "reason", "x");
    NO(&MKT, TT_ERR_BAD_STATE, "another, active", "actor.succeed", "{s:s, s:s, s:[s], s:s}", "id",
       OLD.id, "successor", OLD.id, "lots", A, "reason", "x");
    OK(&MKT, "actor.succeed", "{s:s, s:s, s:[s, s, s], s:s}", "id", OLD.id, "successor", HEIR.id,
       "lots", A, B, C, "reason", "手机丢失，摊位由其子王明接手");
    json_t *a = batch(A), *b = batch(B), *cb = batch(C);
    assert_string_equal(json_string_value(json_object_get(a, "holder")), HEIR.id);
    assert_string_equal(json_string_value(json_object_get(b, "holder")), HEIR.id);
    assert_string_equal(json_string_value(json_object_get(b, "status")), "held");
    assert_string_equal(json_string_value(json_object_get(cb, "pending_to")), HEIR.id);
    assert_string_equal(json_string_value(json_object_get(cb, "holder")), T2.id);
    json_decref(a), json_decref(b), json_decref(cb);
    /* the successor now acts on them: sells from A, receives C */
    OK(&HEIR, "batch.sell", "{s:s, s:i}", "id", A, "qty_g", 100);
    OK(&HEIR, "batch.receive", "{s:s}", "id", C);
    /* handed on once: OLD holds them no more */
    NO(&MKT, TT_ERR_NOT_HOLDER, A, "actor.succeed", "{s:s, s:s, s:[s], s:s}", "id", OLD.id,
       "successor", HEIR.id, "lots", A, "reason", "x");
    free(A), free(B), free(C), free(D);
}

/* Distinct codes for a big lineage: 20,000 random 9-digit ones would
 * collide about one time in five. */
static void counted_code(char out[TT_CODE_LEN + 1])
{
    static unsigned long n = 300000000;
    snprintf(out, TT_CODE_LEN + 1, "261122%09lu", n++);
    out[15] = (char)('0' + tt_damm(out, 15));
    out[16] = '\0';
}

/* A lot with 20,020 descendants comes back a bounded page at a time. */
static void test_trace_pages(void **state)
{
    (void)state;
    char *root = reg_herb(&T1, "当归", "Angelica sinensis", "根", "岷县", 1, 100000000);
    char mids[20][TT_CODE_LEN + 1];
    json_t *kids = json_array();
    for (int i = 0; i < 20; i++) {
        counted_code(mids[i]);
        json_array_append_new(kids, json_pack("{s:s, s:i}", "id", mids[i], "qty_g", 2000000));
    }
    OK(&T1, "batch.split", "{s:s, s:o}", "id", root, "children", kids);
    for (int i = 0; i < 20; i++) {
        json_t *leaves = json_array();
        for (int k = 0; k < 1000; k++) {
            char c[TT_CODE_LEN + 1];
            counted_code(c);
            json_array_append_new(leaves, json_pack("{s:s, s:i}", "id", c, "qty_g", 1000));
        }
        OK(&T1, "batch.split", "{s:s, s:o}", "id", mids[i], "children", leaves);
    }
    size_t cursor = 0, total = 0, pages = 0, biggest = 0;
    json_t *seen = json_object();
    for (;;) {
        json_t *t = NULL;
        assert_int_equal(tt_trace_page(L, root, 0, 0, cursor, 500, &t, NULL), TT_OK);
        char *dumped = json_dumps(t, JSON_COMPACT);
        if (strlen(dumped) > biggest)
            biggest = strlen(dumped);
        free(dumped);
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(t, "nodes"), i, n)
            json_object_set_new(seen, json_string_value(json_object_get(n, "id")), json_true());
        total += json_array_size(json_object_get(t, "nodes"));
        pages++;
        json_t *next = json_object_get(t, "next");
        if (json_is_null(next)) {
            json_decref(t);
            break;
        }
        cursor = (size_t)json_integer_value(next);
        json_decref(t);
    }
    assert_int_equal(total, 1 + 20 + 20000);
    assert_int_equal(json_object_size(seen), total); /* every node once */
    assert_int_equal(pages, (total + 499) / 500);
    assert_true(biggest < 500 * 400); /* a page is bounded in bytes, not by the lineage */
    json_t *t = NULL;
    assert_int_equal(tt_trace_page(L, mids[3], 1, 1, 0, 10, &t, NULL), TT_OK);
    assert_int_equal(json_array_size(json_object_get(t, "nodes")), 2); /* itself and its parent */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(t, "nodes"), 1), "id")),
        root);
    json_decref(t);
    json_decref(seen);
    free(root);
}

static void test_replay_and_state_audit(void **state)
{
    (void)state;
    /* a replayed body is refused by the store, unchanged */
    char *G2 = new_code();
    char *body =
        body_of("batch.register",
                json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, "
                          "s:s, s:i}",
                          "id", G2, "herb", "name_zh", "黄芪", "latin", "Astragalus membranaceus",
                          "part", "根", "origin", "province", "甘肃省", "city", "定西市", "county",
                          "陇西县", "base", "x", "daodi", 0, "harvest_date", "2026-09-01", "grade",
                          "统货", "processing", "晒干", "qty_g", 5));
    uint8_t sig[64], before[32], after[32];
    tu_sign(ORIGIN, &G.kp, body, sig);
    tt_append it = {.actor = G.kp.pk, .sig = sig, .body = tt_bytes_str(body)};
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, NULL), TT_OK);
    assert_int_equal(it.result.code, TT_OK);
    digest(before);
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, NULL), TT_OK);
    assert_int_equal(it.result.code, TT_ERR_REPLAY);
    digest(after);
    assert_memory_equal(before, after, 32);
    free(body);

    /* every commit so far kept the derived-state digest; the check's sum over the records is
     * the same however many threads take it and in however many chunks */
    assert_int_equal(tt_state_check(L, NULL), TT_OK);
    static const char *const digest_threads[] = {"1", "2", "5"}, *const chunks[] = {"1", "7", ""};
    for (size_t t = 0; t < 3; t++)
        for (size_t c = 0; c < 3; c++) {
            setenv("TCMTRACE_AUDIT_THREADS", digest_threads[t], 1);
            setenv("TCMTRACE_DIGEST_CHUNK", chunks[c], 1);
            tt_error derr;
            if (tt_state_check(L, &derr) != TT_OK)
                fail_msg("%s threads, chunks of %s: %s", digest_threads[t], chunks[c],
                         derr.message);
        }
    unsetenv("TCMTRACE_AUDIT_THREADS");
    unsetenv("TCMTRACE_DIGEST_CHUNK");
    /* audit replays every entry through the rules and finds the same state */
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_audit_report r;
    char *scratch;
    assert_true(asprintf(&scratch, "%s/scratch", dir) > 0);
    tu_audit_ok(L, ORIGIN, logkey.pk, dir, &r);
    assert_true(r.checkpoints > 10);
    struct stat st;
    assert_int_not_equal(stat(scratch, &st), 0); /* the scratch store is gone */
    /* the replay goes only into a directory nobody else can write: not one open to others,
     * not a link; a private one of this user's (a stopped audit's) is emptied and used */
    tt_error serr;
    assert_int_equal(mkdir(scratch, 0777), 0);
    assert_int_equal(chmod(scratch, 0777), 0);
    assert_int_equal(tt_state_audit(L, &v, 1, scratch, NULL, NULL, &r, &serr), TT_ERR_IO);
    assert_non_null(strstr(serr.message, "not this user's own private directory"));
    assert_int_equal(rmdir(scratch), 0);
    char *elsewhere;
    assert_true(asprintf(&elsewhere, "%s/elsewhere", dir) > 0);
    assert_int_equal(mkdir(elsewhere, 0700), 0);
    assert_int_equal(symlink(elsewhere, scratch), 0);
    assert_int_equal(tt_state_audit(L, &v, 1, scratch, NULL, NULL, &r, &serr), TT_ERR_IO);
    assert_non_null(strstr(serr.message, "not this user's own private directory"));
    assert_int_equal(unlink(scratch), 0);
    assert_int_equal(rmdir(elsewhere), 0);
    free(elsewhere);
    assert_int_equal(mkdir(scratch, 0700), 0);
    assert_int_equal(tt_state_audit(L, &v, 1, scratch, NULL, NULL, &r, NULL), TT_OK);
    assert_true(r.ok);
    assert_int_not_equal(stat(scratch, &st), 0);

    /* tamper with derived state behind the rules' back: audit names it */
    json_t *b = batch(G2);
    json_object_set_new(json_object_get(b, "qty"), "remaining", json_integer(5000));
    uint64_t changed_at = (uint64_t)json_integer_value(json_object_get(b, "updated_seq"));
    size_t slen = 0;
    char *s = tt_rec_encode(b, &slen);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(L->env, NULL, 0, &txn), 0);
    MDB_val k = {16, G2}, val = {slen, s};
    assert_int_equal(mdb_put(txn, L->dbi[TT_DB_BATCHES], &k, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(tt_state_audit(L, &v, 1, scratch, NULL, NULL, &r, NULL), TT_OK);
    assert_false(r.ok);
    assert_true(r.bad_seq_known);
    assert_int_equal(r.bad_seq, changed_at);
    assert_non_null(strstr(r.why.message, G2));
    /* the digest kept with the head sees it too, and a rebuild undoes it */
    tt_error why;
    assert_int_equal(tt_state_check(L, &why), TT_ERR_AUDIT);
    assert_non_null(strstr(why.message, "rebuild"));
    setenv("TCMTRACE_AUDIT_THREADS", "3", 1);
    setenv("TCMTRACE_DIGEST_CHUNK", "5", 1);
    assert_int_equal(tt_state_check(L, &why), TT_ERR_AUDIT); /* seen from any share */
    unsetenv("TCMTRACE_AUDIT_THREADS");
    unsetenv("TCMTRACE_DIGEST_CHUNK");
    assert_int_equal(tt_state_rebuild(L, NULL, NULL, &why), TT_OK);
    assert_int_equal(tt_state_check(L, &why), TT_OK);
    assert_int_equal(qty(G2, "remaining"), 5);
    assert_int_equal(tt_state_audit(L, &v, 1, scratch, NULL, NULL, &r, NULL), TT_OK);
    assert_true(r.ok);
    /* a rebuild cut short leaves a mark no daemon starts past */
    assert_int_equal(tt_ledger_meta_put(L, "rebuilding", "1", 1, NULL), TT_OK);
    assert_int_equal(tt_state_check(L, &why), TT_ERR_AUDIT);
    assert_non_null(strstr(why.message, "cut short"));
    assert_int_equal(tt_state_rebuild(L, NULL, NULL, &why), TT_OK);
    assert_int_equal(tt_state_check(L, &why), TT_OK);
    free(s);
    json_decref(b);
    free(scratch);
    free(G2);
}

/* The limits vectors (tests/data/limits-vectors.json) that the phone page's own judge
 * (web/pages/assets/limits.js) is held to as well, by tests/browser/limits.mjs. */
static void test_limits_vectors(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/limits-vectors.json", tu_datadir());
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je), *cases = json_object_get(v, "cases"), *c;
    if (v == NULL)
        fail_msg("%s: %s", path, je.text);
    snprintf(path, sizeof path, "%s/../../schemas/limits/chp2020.json", tu_datadir());
    json_t *chp = json_load_file(path, 0, &je);
    if (chp == NULL)
        fail_msg("%s: %s", path, je.text);
    size_t i, k, n = 0;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *tn = json_string_value(json_object_get(c, "table"));
        json_t *table = strcmp(tn, "chp2020") == 0 ? chp : json_object_get(json_object_get(v, "tables"), tn);
        tt_error err;
        assert_int_equal(tt_limits_check(table, &err), TT_OK);
        json_t *verdict = NULL;
        tt_err rc = tt_limits_judge(table, json_object_get(c, "herbs"),
                                    json_string_value(json_object_get(c, "form")),
                                    json_string_value(json_object_get(c, "category")),
                                    json_object_get(c, "results"), &verdict, &err);
        const char *want_err = json_string_value(json_object_get(c, "want_error"));
        if (want_err) {
            if (rc == TT_OK || strcmp(tt_err_name(rc), want_err) != 0)
                fail_msg("%s: wanted %s, got %s", name, want_err, tt_err_name(rc));
            n++;
            continue;
        }
        if (rc != TT_OK)
            fail_msg("%s: refused (%s: %s)", name, tt_err_name(rc), err.message);
        json_t *want = json_object_get(c, "want"), *w;
        assert_string_equal(json_string_value(json_object_get(verdict, "verdict")),
                            json_string_value(json_object_get(want, "verdict")));
        json_t *got = json_object_get(verdict, "results");
        assert_int_equal(json_array_size(got), json_array_size(json_object_get(want, "results")));
        json_array_foreach(json_object_get(want, "results"), k, w)
        {
            json_t *g = json_array_get(got, k);
            static const char *keys[] = {"test", "verdict", "limit"};
            for (int f = 0; f < 3; f++) {
                const char *a = json_string_value(json_object_get(w, keys[f]));
                const char *b = json_string_value(json_object_get(g, keys[f]));
                if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
                    fail_msg("%s: result %zu's %s is %s, wanted %s", name, k, keys[f],
                             b ? b : "(none)", a ? a : "(none)");
            }
        }
        json_decref(verdict);
        n++;
    }
    assert_true(n >= 20);
    json_decref(chp);
    json_decref(v);
}

/* ledger.witnesses: only an authority; the policy must parse and give every witness a URL;
 * the one in force is the latest */
static void test_witness_policy(void **state)
{
    (void)state;
    tt_keypair w1, w2;
    uint8_t s1[32] = {41}, s2[32] = {42};
    tt_keypair_from_seed(&w1, s1);
    tt_keypair_from_seed(&w2, s2);
    tt_verifier v1, v2;
    tt_cosigner_init(&v1, "w.test/1", w1.pk, NULL);
    tt_cosigner_init(&v2, "w.test/2", w2.pk, NULL);
    char k1[TT_VKEY_MAX + 1], k2[TT_VKEY_MAX + 1], text[2048], nourl[1024], logkey[1024];
    tt_verifier_format(&v1, k1, sizeof k1);
    tt_verifier_format(&v2, k2, sizeof k2);
    snprintf(text, sizeof text,
             "witness a %s http://127.0.0.1:9\nwitness b %s http://127.0.0.1:10\n"
             "group g 2 a b\nquorum g\n",
             k1, k2);
    snprintf(nourl, sizeof nourl, "witness a %s\nquorum a\n", k1);
    tt_verifier lv;
    tt_verifier_init(&lv, "log.test", w1.pk, NULL);
    char lk[TT_VKEY_MAX + 1];
    tt_verifier_format(&lv, lk, sizeof lk);
    snprintf(logkey, sizeof logkey, "witness a %s http://x\nquorum a\n", lk);
    NO(&T1, TT_ERR_FORBIDDEN, "authority", "ledger.witnesses", "{s:s}", "policy", text);
    NO(&MKT, TT_ERR_MALFORMED, "has no URL", "ledger.witnesses", "{s:s}", "policy", nourl);
    NO(&MKT, TT_ERR_KEY_FORMAT, "log key", "ledger.witnesses", "{s:s}", "policy", logkey);
    NO(&MKT, TT_ERR_MALFORMED, "not defined above", "ledger.witnesses", "{s:s}", "policy",
       "quorum nobody\n");
    NO(&MKT, TT_ERR_MALFORMED, "lines of text", "ledger.witnesses", "{s:s}", "policy",
       "quorum none\x01\n");
    OK(&MKT, "ledger.witnesses", "{s:s}", "policy", "quorum none\n");
    uint64_t first = last_seq;
    json_t *rec;
    assert_int_equal(tt_state_witnesses(L, &rec, NULL), TT_OK);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), first);
    json_decref(rec);
    OK(&MKT, "ledger.witnesses", "{s:s}", "policy", text);
    uint64_t second = last_seq;
    assert_int_equal(tt_state_witnesses(L, &rec, NULL), TT_OK);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), second);
    assert_string_equal(json_string_value(json_object_get(rec, "policy")), text);
    json_decref(rec);
}

/* ---- the state map -------------------------------------------------------------------------
 * Checked with code of this test's own (libsodium's SHA-256, the leaf text made here from the
 * lot as tt_state_batch shows it): the map's root at random sizes against a map built from
 * nothing over a ledger replayed to that size, every lot's proof, absent lots' proofs. */

typedef struct mkv {
    uint8_t key[32], leaf[32];
} mkv;

static void h2(uint8_t out[32], uint8_t tag, const uint8_t *a, const uint8_t *b)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &tag, 1);
    crypto_hash_sha256_update(&st, a, 32);
    crypto_hash_sha256_update(&st, b, 32);
    crypto_hash_sha256_final(&st, out);
}

static int mbit(const uint8_t *k, unsigned i)
{
    return (k[i / 8] >> (7 - i % 8)) & 1;
}

static int mkv_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void ref_root(const mkv *a, size_t n, unsigned depth, uint8_t out[32])
{
    if (n == 0) {
        memset(out, 0, 32);
        return;
    }
    if (n == 1) {
        memcpy(out, a[0].leaf, 32);
        return;
    }
    size_t m = 0;
    while (m < n && !mbit(a[m].key, depth))
        m++;
    uint8_t l[32], r[32];
    ref_root(a, m, depth + 1, l);
    ref_root(a + m, n - m, depth + 1, r);
    h2(out, 1, l, r);
}

/* The leaf text of a lot, made here from its state. */
static size_t ref_value(json_t *b, char *out, size_t cap)
{
    const char *st = json_string_value(json_object_get(b, "status"));
    const char *to = strcmp(st, "in_transit") == 0
                         ? json_string_value(json_object_get(b, "pending_to")) : NULL;
    json_t *ins = json_object_get(b, "inspections");
    const char *v = json_array_size(ins)
        ? json_string_value(json_object_get(json_array_get(ins, json_array_size(ins) - 1), "verdict"))
        : "none";
    int n = snprintf(out, cap,
                     "tcmtrace-state/v1\nstatus %s\nholder %s\nto %s\nremaining_g %lld\nverdict %s\n"
                     "last %lld\n",
                     st, json_string_value(json_object_get(b, "holder")), to ? to : "-",
                     (long long)json_integer_value(json_object_get(json_object_get(b, "qty"), "remaining")),
                     v, (long long)json_integer_value(json_object_get(b, "updated_seq")));
    return (size_t)n;
}

static void ref_leaf(const char *code, json_t *b, mkv *out)
{
    char val[512];
    size_t n = ref_value(b, val, sizeof val);
    uint8_t vh[32];
    crypto_hash_sha256(out->key, (const uint8_t *)code, strlen(code));
    crypto_hash_sha256(vh, (const uint8_t *)val, n);
    h2(out->leaf, 0, out->key, vh);
}

/* Every lot of l, as the test makes their leaves; *codes the codes (free both). */
static mkv *ref_lots(tt_ledger *l, size_t *n, char (**codes)[17])
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    MDB_stat st;
    assert_int_equal(tt_rtxn_begin(l, &txn, NULL), TT_OK);
    mdb_stat(txn, l->dbi[TT_DB_BATCHES], &st);
    char(*cs)[17] = calloc(st.ms_entries + 1, sizeof *cs);
    size_t i = 0;
    mdb_cursor_open(txn, l->dbi[TT_DB_BATCHES], &c);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), i++)
        memcpy(cs[i], k.mv_data, 16);
    mdb_cursor_close(c);
    tt_rtxn_end(l, txn);
    mkv *a = calloc(i + 1, sizeof *a);
    for (size_t j = 0; j < i; j++) {
        json_t *b;
        assert_int_equal(tt_state_batch(l, cs[j], &b, NULL), TT_OK);
        ref_leaf(cs[j], b, &a[j]);
        json_decref(b);
    }
    *n = i;
    *codes = cs;
    return a;
}

/* A proof checked by this test's own walk: the root it leads to. */
static void ref_walk(const uint8_t key[32], const tt_smt_proof *p, const uint8_t leaf[32],
                     uint8_t out[32])
{
    static const uint8_t zero[32];
    memcpy(out, leaf, 32);
    for (unsigned i = p->depth; i-- > 0;) {
        const uint8_t *s = p->present[i] ? p->siblings[i] : zero;
        if (mbit(key, i))
            h2(out, 1, s, out);
        else
            h2(out, 1, out, s);
    }
}

/* A fresh ledger holding the first `size` entries of L, replayed through the rules. */
static tt_ledger *replayed(uint64_t size, char **where)
{
    *where = tu_tempdir();
    tt_ledger *r;
    assert_int_equal(tt_ledger_open(*where, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &r, NULL), TT_OK);
    assert_int_equal(tt_ledger_set_origin(r, ORIGIN, NULL), TT_OK);
    tt_append *items = calloc(size, sizeof *items);
    uint8_t **bytes = calloc(size, sizeof *bytes);
    tt_entry *es = calloc(size, sizeof *es);
    for (uint64_t s = 0; s < size; s++) {
        size_t len;
        assert_int_equal(tt_ledger_entry(L, s, &bytes[s], &len, NULL), TT_OK);
        assert_int_equal(tt_entry_decode((tt_bytes){len, bytes[s]}, &es[s], NULL), TT_OK);
        items[s] = (tt_append){.actor = es[s].actor, .sig = es[s].sig, .body = es[s].body,
                               .at_ms = es[s].time_ms};
    }
    tt_error err;
    assert_int_equal(tt_ledger_append(r, items, size, tt_now_ms(), tt_rules_apply, NULL, &err), TT_OK);
    for (uint64_t s = 0; s < size; s++) {
        assert_int_equal(items[s].result.code, TT_OK);
        free(bytes[s]);
    }
    free(items);
    free(bytes);
    free(es);
    return r;
}

static void test_state_map(void **state)
{
    (void)state;
    uint64_t size;
    assert_int_equal(tt_ledger_head(L, &size, NULL, NULL), TT_OK);
    size_t n;
    char(*codes)[17];
    mkv *lots = ref_lots(L, &n, &codes);
    assert_true(n > 10);
    mkv *sorted = malloc(n * sizeof *sorted);
    memcpy(sorted, lots, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, mkv_cmp);
    uint8_t want[32], root[32];
    ref_root(sorted, n, 0, want);
    assert_int_equal(tt_statemap_root(L, size, root, NULL), TT_OK);
    assert_memory_equal(root, want, 32);
    /* every node stored is in the latest version or listed as replaced (pruning finds it) */
    uint64_t nodes = 0;
    tt_error cerr;
    if (tt_statemap_check(L, &nodes, &cerr) != TT_OK)
        fail_msg("the state map's bookkeeping: %s", cerr.message);
    assert_true(nodes > n);

    /* the checkpoint of this size carries it, and a follower keeps only one that does */
    char *note;
    size_t nlen, tl;
    tt_checkpoint cp;
    assert_int_equal(tt_ledger_checkpoint(L, size, &note, &nlen, NULL), TT_OK);
    assert_int_equal(tt_note_split((tt_bytes){nlen, (uint8_t *)note}, &tl, NULL), TT_OK);
    assert_int_equal(tt_checkpoint_parse((tt_bytes){tl, (uint8_t *)note}, &cp, NULL), TT_OK);
    assert_true(cp.has_state);
    assert_memory_equal(cp.state_root, want, 32);
    assert_non_null(strstr(note, "\n" TT_STATEMAP_LINE " "));
    cp.state_root[5] ^= 1;
    char *forged;
    size_t flen;
    tt_error err;
    assert_int_equal(tt_checkpoint_sign(&cp, ORIGIN, logkey.sk, &forged, &flen, NULL), TT_OK);
    assert_int_equal(tt_ledger_put_checkpoint(L, size, forged, flen, &err), TT_ERR_BAD_PROOF);
    assert_non_null(strstr(err.message, "state map root"));
    /* written behind the store's back, the audit names it; put back, the audit passes and has
     * checked a state map root at every checkpoint since the first */
    for (int round = 0; round < 2; round++) {
        MDB_txn *w;
        uint8_t kb[8];
        tt_put_u64be(kb, size);
        MDB_val k = {8, kb}, v = {round ? nlen : flen, round ? note : forged};
        assert_int_equal(mdb_txn_begin(L->env, NULL, 0, &w), 0);
        assert_int_equal(mdb_put(w, L->dbi[TT_DB_CHECKPOINTS], &k, &v, 0), 0);
        assert_int_equal(mdb_txn_commit(w), 0);
        tt_audit_report r;
        char *scratch;
        assert_true(asprintf(&scratch, "%s/scratch-map", dir) > 0);
        tt_verifier vk;
        tt_verifier_init(&vk, ORIGIN, logkey.pk, NULL);
        assert_int_equal(tt_state_audit(L, &vk, 1, scratch, NULL, NULL, &r, NULL), TT_OK);
        free(scratch);
        if (round == 0) {
            assert_false(r.ok);
            assert_non_null(strstr(r.why.message, "state map root"));
            assert_true(r.bad_seq_known);
            assert_int_equal(r.bad_seq, size - 1);
        } else {
            assert_true(r.ok);
            assert_true(r.state_roots > 0);
            assert_int_equal(r.state_roots, r.checkpoints);
        }
    }
    free(forged);
    free(note);

    /* every lot's proof, by the library's check and by this test's walk */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        tt_state_answer a;
        assert_int_equal(tt_statemap_prove(L, size, codes[i], &a, NULL), TT_OK);
        assert_true(a.present);
        json_t *b;
        char val[512];
        assert_int_equal(tt_state_batch(L, codes[i], &b, NULL), TT_OK);
        size_t vl = ref_value(b, val, sizeof val);
        json_decref(b);
        assert_int_equal(a.value_len, vl);
        assert_memory_equal(a.value, val, vl);
        uint8_t got[32], wire[TT_SMT_PROOF_MAX];
        ref_walk(lots[i].key, &a.proof, lots[i].leaf, got);
        assert_memory_equal(got, want, 32);
        assert_int_equal(tt_smt_verify(want, lots[i].key, &a.proof, (uint8_t *)a.value, a.value_len,
                                       NULL), TT_OK);
        size_t wl = tt_smt_proof_encode(&a.proof, wire);
        bytes += wl;
        tt_smt_proof back;
        assert_int_equal(tt_smt_proof_decode((tt_bytes){wl, wire}, &back, NULL), TT_OK);
        assert_int_equal(tt_smt_verify(want, lots[i].key, &back, (uint8_t *)a.value, a.value_len,
                                       NULL), TT_OK);
        /* another value, no value, a changed byte anywhere: refused */
        a.value[a.value_len - 2] ^= 1;
        assert_int_equal(tt_smt_verify(want, lots[i].key, &back, (uint8_t *)a.value, a.value_len,
                                       NULL), TT_ERR_BAD_PROOF);
        assert_int_equal(tt_smt_verify(want, lots[i].key, &back, NULL, 0, NULL), TT_ERR_BAD_PROOF);
        a.value[a.value_len - 2] ^= 1;
        for (size_t j = 0; j < wl; j++) {
            wire[j] ^= 0x10;
            tt_smt_proof bad;
            if (tt_smt_proof_decode((tt_bytes){wl, wire}, &bad, NULL) == TT_OK)
                assert_int_equal(tt_smt_verify(want, lots[i].key, &bad, (uint8_t *)a.value,
                                               a.value_len, NULL), TT_ERR_BAD_PROOF);
            wire[j] ^= 0x10;
        }
        assert_int_equal(tt_smt_proof_decode((tt_bytes){wl - 1, wire}, &back, NULL),
                         TT_ERR_MALFORMED);
    }
    /* a proof's size, on average, is within 32 × (⌈log2 lots⌉ + 4) bytes */
    unsigned lg = 0;
    while ((1ull << lg) < n)
        lg++;
    assert_true(bytes / n <= 32 * (lg + 4));

    /* lots that are not there: proved absent, never present */
    for (int i = 0; i < 300; i++) {
        char *code = new_code();
        tt_state_answer a;
        uint8_t key[32], got[32], leaf[32];
        assert_int_equal(tt_statemap_prove(L, size, code, &a, NULL), TT_OK);
        assert_false(a.present);
        crypto_hash_sha256(key, (uint8_t *)code, 16);
        assert_int_equal(tt_smt_verify(want, key, &a.proof, NULL, 0, NULL), TT_OK);
        assert_int_equal(tt_smt_verify(want, key, &a.proof, (const uint8_t *)"x", 1, NULL),
                         TT_ERR_BAD_PROOF);
        if (a.proof.kind == TT_SMT_OTHER) {
            h2(leaf, 0, a.proof.other_key, a.proof.other_value);
            for (unsigned d = 0; d < a.proof.depth; d++)
                assert_int_equal(mbit(a.proof.other_key, d), mbit(key, d));
        } else {
            assert_int_equal(a.proof.kind, TT_SMT_EMPTY);
            memset(leaf, 0, 32);
        }
        ref_walk(key, &a.proof, leaf, got);
        assert_memory_equal(got, want, 32);
        /* a present lot's proof does not pass for this one */
        tt_state_answer o;
        assert_int_equal(tt_statemap_prove(L, size, codes[i % n], &o, NULL), TT_OK);
        o.proof.kind = TT_SMT_OTHER;
        memcpy(o.proof.other_key, lots[i % n].key, 32);
        assert_int_equal(tt_smt_verify(want, key, &o.proof, NULL, 0, NULL), TT_ERR_BAD_PROOF);
        free(code);
    }

    /* at random sizes: the root kept then is the map of a ledger replayed to that size, built
     * in one commit, and a lot's proof then verifies against it */
    for (int round = 0; round < 4; round++) {
        uint64_t s = size;
        for (int tries = 0; round > 0 && tries < 1000; tries++) { /* a size a commit ended at */
            s = 1 + randombytes_uniform((uint32_t)size);
            if (tt_statemap_root(L, s, root, NULL) == TT_OK)
                break;
        }
        char *rdir;
        tt_ledger *r = replayed(s, &rdir);
        size_t rn;
        char(*rcodes)[17];
        mkv *rl = ref_lots(r, &rn, &rcodes);
        qsort(rl, rn, sizeof *rl, mkv_cmp);
        uint8_t then[32], mine[32];
        ref_root(rl, rn, 0, then);
        assert_int_equal(tt_statemap_root(L, s, root, NULL), TT_OK);
        assert_memory_equal(root, then, 32);
        assert_int_equal(tt_statemap_root(r, s, mine, NULL), TT_OK);
        assert_memory_equal(mine, then, 32);
        if (rn > 0) {
            tt_state_answer a;
            uint8_t key[32];
            assert_int_equal(tt_statemap_prove(L, s, rcodes[0], &a, NULL), TT_OK);
            crypto_hash_sha256(key, (uint8_t *)rcodes[0], 16);
            assert_int_equal(tt_smt_verify(then, key, &a.proof, (uint8_t *)a.value, a.value_len,
                                           NULL), TT_OK);
        }
        /* the rebuild makes the same map */
        assert_int_equal(tt_state_rebuild(r, NULL, NULL, NULL), TT_OK);
        assert_int_equal(tt_statemap_root(r, s, mine, NULL), TT_OK);
        assert_memory_equal(mine, then, 32);
        free(rl);
        free(rcodes);
        tt_ledger_close(r);
        tu_rmtree(rdir);
        free(rdir);
    }
    assert_int_equal(tt_statemap_root(L, size + 1, root, &err), TT_ERR_NOT_FOUND);
    free(sorted);
    free(lots);
    free(codes);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_market_day),
        cmocka_unit_test(test_every_path),
        cmocka_unit_test(test_traces_while_writing),
        cmocka_unit_test(test_undone_writes_are_not_remembered), /* before T1 rotates its key */
        cmocka_unit_test(test_claims_are_checked),
        cmocka_unit_test(test_authorities),
        cmocka_unit_test(test_witness_policy),
        cmocka_unit_test(test_scans_are_bounded),
        cmocka_unit_test(test_scan_flags_need_strangers),
        cmocka_unit_test(test_succession),
        cmocka_unit_test(test_trace_pages),
        cmocka_unit_test(test_every_rule_refuses),
        cmocka_unit_test(test_parsed_events_are_matched),
        cmocka_unit_test(test_state_map), /* before the rebuild, which keeps the latest map only */
        cmocka_unit_test(test_replay_and_state_audit),
        cmocka_unit_test(test_limits_vectors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
