/*
 * test_faults.c: the rules when the machine fails them.
 *
 * Memory runs out at every allocation of an event's append in turn (from the first on, then
 * from the second on, and so on until the event goes through): each time the event must be
 * refused with every database as it was, or go through whole, and never crash. The allocator is replaced
 * in this program by one that forwards to glibc's and can be told to fail; the sanitizer
 * builds bring an allocator of their own, so there this program says so and checks the rest
 * only. Then a store that contradicts itself (an actor indexed whose record is gone) and a
 * genesis naming one authority twice, on ledgers of their own.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/store/ledger_internal.h"
#include "tcmtrace/audit.h"
#include "tcmtrace/event.h"
#include "tcmtrace/state.h"
#include "tcmtrace/tracecode.h"

#define ORIGIN "tcmtrace.test/faults"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define INJECT 0
#else
#define INJECT 1
/* glibc's own allocator, under the names it exports for this */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static _Atomic long countdown = -1; /* -1: fail nothing; else fail when it reaches 0 */
static _Atomic int failed;
static int fail_now(void)
{
    if (atomic_load(&countdown) < 0)
        return 0;
    /* from the k-th on, every allocation fails: memory that has run out stays out */
    if (atomic_fetch_sub(&countdown, 1) <= 0) {
        atomic_store(&countdown, 0);
        atomic_store(&failed, 1);
        return 1;
    }
    return 0;
}
void *malloc(size_t n)
{
    return fail_now() ? NULL : __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    return fail_now() ? NULL : __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
#endif

typedef struct who {
    const char *id;
    tt_keypair kp;
} who;

static who MKT = {"MKT-01", {{0}, {0}}}, T = {"T-0001", {{0}, {0}}}, P = {"P-0001", {{0}, {0}}},
           I = {"I-0001", {{0}, {0}}}, T2 = {"T-0002", {{0}, {0}}}, R = {"R-0001", {{0}, {0}}};
static char *dir;
static tt_ledger *L;
static tt_keypair logkey;

/* A body as the CLI builds it (the library's builder): the common fields, then `fields`. */
static char *body_of(const char *type, json_t *fields)
{
    return tt_event_build(type, fields);
}

static void digest(uint8_t out[32])
{
    tu_ledger_digest(L, out);
}

static size_t injected; /* allocations failed, over the whole run */

/*
 * Appends one event signed by w, failing its allocations from the k-th on for k = 0, 1, ...
 * until an append fails none it needs: each refused one (or an append that fails as a whole)
 * must leave the ledger unchanged. The last must be accepted. Returns its result.
 */
static tt_err append_hurt(const who *w, const char *type, json_t *fields)
{
    char *body = body_of(type, fields);
    uint8_t sig[64];
    tu_sign(ORIGIN, &w->kp, body, sig);
    for (long k = 0;; k++) {
        uint8_t before[32], after[32];
        digest(before);
        tt_append it = {.actor = w->kp.pk, .sig = sig, .body = tt_bytes_str(body)};
        tt_error err = {0};
#if INJECT
        atomic_store(&failed, 0);
        atomic_store(&countdown, k);
#endif
        tt_err rc = tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, &err);
#if INJECT
        atomic_store(&countdown, -1);
        int hurt = atomic_load(&failed);
#else
        int hurt = 0;
#endif
        if (!hurt) {
            if (rc != TT_OK || it.result.code != TT_OK)
                fail_msg("%s by %s: refused unhurt: %s %s", type, w->id, tt_err_name(rc),
                         rc != TT_OK ? err.message : it.result.message);
            free(body);
            return TT_OK;
        }
        injected++;
        if (getenv("TT_FAULTS_VERBOSE"))
            fprintf(stderr, "%s: allocation %ld failed: %s\n", type, k,
                    rc != TT_OK ? err.message : it.result.message);
        if (rc == TT_OK && it.result.code == TT_OK) {
            /* the failed allocation was one the append could do without: it is in */
            free(body);
            return TT_OK;
        }
        /* said as what it is: memory ran out (or the store could not get its own) */
        tt_err said = rc != TT_OK ? rc : it.result.code;
        if (said != TT_ERR_NOMEM && said != TT_ERR_STORE)
            fail_msg("%s: allocation %ld failed, and the refusal says %s: %s", type, k,
                     tt_err_name(said), rc != TT_OK ? err.message : it.result.message);
        digest(after);
        if (memcmp(before, after, 32) != 0)
            fail_msg("%s: allocation %ld failed, refused (%s), but the ledger changed", type, k,
                     tt_err_name(rc != TT_OK ? rc : it.result.code));
    }
}

#define HURT(w, type, ...) assert_int_equal(append_hurt(w, type, json_pack(__VA_ARGS__)), TT_OK)

static char *b64key(const tt_keypair *kp)
{
    static char out[4][48];
    static int i;
    i = (i + 1) % 4;
    tt_b64((tt_bytes){32, kp->pk}, out[i]);
    return out[i];
}

static char *new_code(void)
{
    char *c = malloc(TT_CODE_LEN + 1);
    tt_code_new(tt_now_ms(), c);
    return c;
}

static int open_ledger(const char *name)
{
    char *ldir;
    tt_error err;
    if (asprintf(&ldir, "%s/%s", dir, name) < 0)
        return 1;
    tt_err rc = tt_ledger_open(ldir, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &L, &err);
    free(ldir);
    return rc == TT_OK && tt_ledger_set_signer(L, ORIGIN, &logkey, &err) == TT_OK ? 0 : 1;
}

static void genesis(void)
{
    tt_verifier v;
    char vkey[TT_VKEY_MAX + 1];
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    HURT(&MKT, "ledger.genesis", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "origin", ORIGIN,
         "log_key", vkey, "market", "测试市场", "authorities", "id", MKT.id, "name", "管理处", "key",
         b64key(&MKT.kp));
}

static void enroll(const who *w, const char *role)
{
    HURT(&MKT, "actor.enroll", "{s:s, s:s, s:s, s:s, s:s, s:[s]}", "id", w->id, "key",
         b64key(&w->kp), "name", w->id, "org", w->id, "licence", "L-1", "roles", role);
}

static char *reg(const char *herb, const char *latin, const char *part, long long g)
{
    char *code = new_code();
    HURT(&T, "batch.register",
         "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:I, s:b}", "id", code,
         "herb", "name_zh", herb, "latin", latin, "part", part, "origin", "province", "甘肃省",
         "city", "定西市", "county", "陇西县", "base", "基地", "daodi", 0, "harvest_date",
         "2026-09-30", "grade", "统货", "processing", "晒干", "qty_g", (json_int_t)g, "unlisted", 1);
    return code;
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    who *all[] = {&MKT, &T, &P, &I, &T2, &R};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        tt_keypair_generate(&all[i]->kp);
    tt_keypair_generate(&logkey);
    return open_ledger("day");
}

static int teardown(void **state)
{
    (void)state;
    tt_ledger_close(L);
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* A day's kinds of event, each with every allocation failing in turn. */
static void test_every_allocation_fails(void **state)
{
    (void)state;
    genesis();
    enroll(&T, "trader");
    enroll(&T2, "trader");
    enroll(&P, "processor");
    enroll(&I, "inspector");
    enroll(&R, "regulator");
    HURT(&MKT, "ledger.witnesses", "{s:s}", "policy", "quorum none\n");
    char *path;
    assert_true(asprintf(&path, "%s/../../schemas/limits/chp2020.json", tu_datadir()) > 0);
    json_t *t = json_load_file(path, 0, NULL);
    free(path);
    assert_non_null(t);
    json_t *edition = json_incref(json_object_get(t, "edition"));
    json_object_del(t, "edition");
    HURT(&MKT, "ledger.limits", "{s:o, s:o}", "edition", edition, "table", t);
    char *A = reg("黄芪", "Astragali Radix", "干燥根", 30000), *a1 = new_code(), *a2 = new_code();
    HURT(&T, "batch.split", "{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", A, "children", "id", a1,
         "qty_g", 10000, "id", a2, "qty_g", 10000);
    char *part = new_code();
    HURT(&T, "batch.transfer", "{s:s, s:s, s:i, s:s}", "id", A, "to", P.id, "qty_g", 5000, "child",
         part);
    HURT(&P, "batch.receive", "{s:s}", "id", part);
    HURT(&T, "batch.transfer", "{s:s, s:s}", "id", a1, "to", P.id);
    HURT(&T, "batch.cancel", "{s:s}", "id", a1);
    HURT(&T, "batch.transfer", "{s:s, s:s}", "id", a1, "to", P.id);
    HURT(&P, "batch.reject", "{s:s, s:s}", "id", a1, "reason", "货不对板");
    HURT(&T, "batch.transfer", "{s:s, s:s}", "id", a1, "to", P.id);
    HURT(&P, "batch.receive", "{s:s}", "id", a1);
    char *y = new_code();
    HURT(&P, "batch.process", "{s:[{s:s, s:i}, {s:s, s:i}], s:{s:s, s:i, s:s, s:s}, s:s}",
         "inputs", "id", part, "qty_g", 5000, "id", a1, "qty_g", 10000, "output", "id", y, "qty_g",
         14000, "form", "饮片", "grade", "一级", "method", "切片");
    HURT(&I, "batch.hold", "{s:s, s:s}", "id", a2, "reason", "待检");
    HURT(&I, "batch.release", "{s:s, s:s}", "id", a2, "reason", "复查无误");
    HURT(&I, "batch.inspect", "{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "id", A, "lab", "检验所",
         "standard", "ChP 2020", "results", "test", "so2", "value", "520", "unit", "mg/kg",
         "report_sha256", "0000000000000000000000000000000000000000000000000000000000000000");
    HURT(&R, "batch.recall", "{s:s, s:s}", "id", A, "reason", "二氧化硫超标");
    HURT(&T, "batch.destroy", "{s:s, s:s}", "id", a2, "reason", "召回销毁");
    char *B = reg("黄芪", "Astragali Radix", "干燥根", 1000);
    HURT(&T, "batch.sell", "{s:s, s:i, s:s}", "id", B, "qty_g", 250, "buyer_commitment",
         "3f1c0a6f6a1b5e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d");
    tt_keypair fresh;
    tt_keypair_generate(&fresh);
    HURT(&T2, "actor.rotate", "{s:s, s:s}", "id", T2.id, "new_key", b64key(&fresh));
    HURT(&MKT, "actor.revoke", "{s:s, s:s}", "id", T2.id, "reason", "退出市场");
    /* what a failure left behind is nothing: the state replayed from the entries is the one
     * kept, down to the byte */
    tt_audit_report r;
    tu_audit_ok(L, ORIGIN, logkey.pk, dir, &r);
#if INJECT
    printf("%zu allocations failed in turn; each refused its event and changed nothing\n", injected);
    assert_true(injected > 500);
#else
    printf("the sanitizer's allocator cannot be told to fail: allocation failures are injected "
           "in the normal and coverage builds\n");
#endif
    free(A), free(a1), free(a2), free(part), free(y), free(B);
}

/* An actor indexed by its key whose record is gone: the store contradicts itself, said so. */
static void test_store_that_contradicts_itself(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(L->env, NULL, 0, &txn), 0);
    char k[64];
    snprintf(k, sizeof k, "a:%s", P.id);
    MDB_val key = {strlen(k), k};
    assert_int_equal(mdb_del(txn, L->dbi[TT_DB_ACTORS], &key, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    char *body = body_of("batch.hold", json_pack("{s:s, s:s}", "id", "2612070791659125", "reason",
                                                 "x"));
    uint8_t sig[64];
    tu_sign(ORIGIN, &P.kp, body, sig);
    tt_append it = {.actor = P.kp.pk, .sig = sig, .body = tt_bytes_str(body)};
    tt_error err = {0};
    tt_err rc = tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, &err);
    if (rc == TT_OK) /* the item refused, or the whole append: either way, said */
        err = it.result;
    assert_int_equal(err.code, TT_ERR_STORE);
    if (strstr(err.message, "indexed but has no record") == NULL)
        fail_msg("the store's contradiction is not named: %s", err.message);
    free(body);
}

/* A genesis that names one authority twice is refused, on a ledger of its own. */
static void test_genesis_names_an_authority_twice(void **state)
{
    (void)state;
    tt_ledger_close(L);
    assert_int_equal(open_ledger("twice"), 0);
    tt_verifier v;
    char vkey[TT_VKEY_MAX + 1];
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    char *body = body_of(
        "ledger.genesis",
        json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "origin", ORIGIN,
                  "log_key", vkey, "market", "测试市场", "authorities", "id", MKT.id, "name", "甲",
                  "key", b64key(&MKT.kp), "id", MKT.id, "name", "乙", "key", b64key(&T.kp)));
    uint8_t sig[64], before[32], after[32];
    tu_sign(ORIGIN, &MKT.kp, body, sig);
    tt_append it = {.actor = MKT.kp.pk, .sig = sig, .body = tt_bytes_str(body)};
    digest(before);
    assert_int_equal(tt_ledger_append(L, &it, 1, tt_now_ms(), tt_rules_apply, NULL, NULL), TT_OK);
    assert_int_equal(it.result.code, TT_ERR_DUPLICATE_ID);
    assert_non_null(strstr(it.result.message, "named twice"));
    digest(after);
    assert_memory_equal(before, after, 32);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails),
        cmocka_unit_test(test_store_that_contradicts_itself),
        cmocka_unit_test(test_genesis_names_an_authority_twice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
