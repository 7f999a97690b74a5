/*
 * test_ledger.c: the LMDB store on a real file: group commit, the hash
 * chain, indexes, proofs and checkpoints from stored nodes, refusals that
 * leave nothing behind, replay refusal, the writer lock, map growth, and a
 * reader in another process while the writer writes.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "../core/store/ledger_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ORIGIN "tcmtrace.test/ledger"

static char *dir;
static tt_keypair actor, logkey;

static int setup(void **state)
{
    (void)state;
    dir = tu_tempdir();
    tt_keypair_generate(&actor);
    tt_keypair_generate(&logkey);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static tt_ledger *open_fresh(const char *name, size_t initial_map)
{
    char *p;
    tt_ledger *l = NULL;
    tt_error err;
    tt_ledger_opts o = {initial_map};
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    assert_int_equal(tt_ledger_open_with(p, TT_LEDGER_CREATE, &o, &l, &err), TT_OK);
    free(p);
    assert_int_equal(tt_ledger_set_signer(l, ORIGIN, &logkey, &err), TT_OK);
    return l;
}

/* Items with bodies "{"n":<i>,"pad":"..."}" signed by `actor`. */
typedef struct batch {
    tt_append *items;
    char **bodies;
    uint8_t (*sigs)[64];
    size_t n;
} batch;

static batch make_batch(size_t n, size_t first, size_t pad)
{
    batch b = {calloc(n, sizeof(tt_append)), calloc(n, sizeof(char *)), calloc(n, 64), n};
    char *padding = malloc(pad + 1); /* letters at random: the store cannot deflate them */
    for (size_t i = 0; i < pad; i++)
        padding[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[randombytes_uniform(36)];
    padding[pad] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_true(asprintf(&b.bodies[i], "{\"n\":%zu,\"pad\":\"%s\"}", first + i, padding) > 0);
        tu_sign(ORIGIN, &actor, b.bodies[i], b.sigs[i]);
        b.items[i].actor = actor.pk;
        b.items[i].sig = b.sigs[i];
        b.items[i].body = tt_bytes_str(b.bodies[i]);
    }
    free(padding);
    return b;
}

static void free_batch(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->bodies[i]);
    free(b->bodies);
    free(b->sigs);
    free(b->items);
}

static void assert_chain(tt_ledger *l, uint64_t size)
{
    uint8_t prev[32] = {0};
    tt_error err;
    for (uint64_t s = 0; s < size; s++) {
        uint8_t *data, h[32];
        size_t len;
        tt_entry e;
        uint64_t found;
        assert_int_equal(tt_ledger_entry(l, s, &data, &len, &err), TT_OK);
        assert_int_equal(tt_entry_decode((tt_bytes){len, data}, &e, &err), TT_OK);
        assert_int_equal(e.seq, s);
        assert_memory_equal(e.prev, prev, 32);
        assert_int_equal(tt_event_verify(ORIGIN, e.body, e.actor, e.sig), TT_OK);
        tt_entry_hash((tt_bytes){len, data}, h);
        assert_int_equal(tt_ledger_find_hash(l, h, &found, &err), TT_OK);
        assert_int_equal(found, s);
        memcpy(prev, h, 32);
        free(data);
    }
    uint64_t got;
    uint8_t last[32];
    assert_int_equal(tt_ledger_head(l, &got, last, &err), TT_OK);
    assert_int_equal(got, size);
    assert_memory_equal(last, prev, 32);
}

static void test_group_commit_and_chain(void **state)
{
    (void)state;
    tt_ledger *l = open_fresh("chain", 0);
    tt_error err;
    uint64_t size = 1;
    assert_int_equal(tt_ledger_head(l, &size, NULL, &err), TT_OK);
    assert_int_equal(size, 0);
    for (int round = 0; round < 5; round++) {
        batch b = make_batch(40, (size_t)round * 40, 10);
        assert_int_equal(tt_ledger_append(l, b.items, b.n, tt_now_ms(), NULL, NULL, &err), TT_OK);
        for (size_t i = 0; i < b.n; i++) {
            assert_int_equal(b.items[i].result.code, TT_OK);
            assert_int_equal(b.items[i].seq, (uint64_t)round * 40 + i);
        }
        free_batch(&b);
    }
    assert_chain(l, 200);
    /* want_entry hands back exactly the bytes that were stored */
    batch w = make_batch(3, 5000, 7);
    for (size_t i = 0; i < w.n; i++)
        w.items[i].want_entry = 1;
    assert_int_equal(tt_ledger_append(l, w.items, w.n, tt_now_ms(), NULL, NULL, &err), TT_OK);
    for (size_t i = 0; i < w.n; i++) {
        uint8_t *stored;
        size_t len;
        assert_int_equal(tt_ledger_entry(l, w.items[i].seq, &stored, &len, &err), TT_OK);
        assert_int_equal(w.items[i].entry_len, len);
        assert_memory_equal(w.items[i].entry, stored, len);
        free(stored);
        free(w.items[i].entry);
    }
    free_batch(&w);
    /* time is non-decreasing even if the clock steps back */
    batch b = make_batch(1, 1000, 0);
    assert_int_equal(tt_ledger_append(l, b.items, 1, 1, NULL, NULL, &err), TT_OK);
    assert_true(b.items[0].time_ms > 1);
    free_batch(&b);
    tt_ledger_close(l);
}

static void test_proofs_and_checkpoints(void **state)
{
    (void)state;
    tt_ledger *l = open_fresh("proofs", 0);
    tt_error err;
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    uint8_t leaves[137][32];
    uint64_t sizes[137];
    size_t nsizes = 0;
    for (size_t done = 0; done < 137;) {
        size_t n = 1 + done % 13;
        if (done + n > 137)
            n = 137 - done;
        batch b = make_batch(n, done, 3);
        assert_int_equal(tt_ledger_append(l, b.items, n, tt_now_ms(), NULL, NULL, &err), TT_OK);
        for (size_t i = 0; i < n; i++)
            memcpy(leaves[done + i], b.items[i].hash, 32);
        done += n;
        sizes[nsizes++] = done;
        free_batch(&b);
    }
    /* every commit signed a checkpoint of its size, verifiable with the log key */
    for (size_t k = 0; k < nsizes; k++) {
        char *note;
        size_t len;
        tt_checkpoint cp;
        uint8_t root[32];
        assert_int_equal(tt_ledger_checkpoint(l, sizes[k], &note, &len, &err), TT_OK);
        assert_int_equal(tt_checkpoint_open((tt_bytes){len, (uint8_t *)note}, &v, 1, &cp, &err),
                         TT_OK);
        assert_int_equal(cp.size, sizes[k]);
        assert_string_equal(cp.origin, ORIGIN);
        assert_int_equal(tt_ledger_root(l, sizes[k], root, &err), TT_OK);
        assert_memory_equal(root, cp.root, 32);
        free(note);
        /* inclusion of a few leaves in this historical size */
        for (uint64_t s = 0; s < sizes[k]; s += 1 + sizes[k] / 5) {
            tt_hash proof[TT_MERKLE_PROOF_MAX];
            size_t plen;
            assert_int_equal(tt_ledger_inclusion_proof(l, s, sizes[k], proof, &plen, &err), TT_OK);
            assert_int_equal(tt_merkle_verify_inclusion(s, sizes[k], (tt_bytes){32, leaves[s]},
                                                        (tt_bytes){plen * 32, (uint8_t *)proof},
                                                        (tt_bytes){32, cp.root}, &err),
                             TT_OK);
        }
        /* consistency from every earlier checkpoint */
        for (size_t j = 0; j < k; j++) {
            uint8_t r1[32];
            tt_hash proof[TT_MERKLE_PROOF_MAX];
            size_t plen;
            assert_int_equal(tt_ledger_root(l, sizes[j], r1, &err), TT_OK);
            assert_int_equal(tt_ledger_consistency_proof(l, sizes[j], sizes[k], proof, &plen, &err),
                             TT_OK);
            assert_int_equal(tt_merkle_verify_consistency(
                                 sizes[j], sizes[k], (tt_bytes){32, r1}, (tt_bytes){32, cp.root},
                                 (tt_bytes){plen * 32, (uint8_t *)proof}, &err),
                             TT_OK);
        }
    }
    char *latest;
    size_t llen;
    assert_int_equal(tt_ledger_checkpoint(l, UINT64_MAX, &latest, &llen, &err), TT_OK);
    assert_non_null(strstr(latest, "\n137\n"));
    free(latest);
    /* out of range */
    tt_hash proof[TT_MERKLE_PROOF_MAX];
    size_t plen;
    uint8_t root[32];
    assert_int_equal(tt_ledger_root(l, 138, root, &err), TT_ERR_RANGE);
    assert_int_equal(tt_ledger_inclusion_proof(l, 137, 137, proof, &plen, &err), TT_ERR_RANGE);
    assert_int_equal(tt_ledger_consistency_proof(l, 0, 10, proof, &plen, &err), TT_ERR_RANGE);
    uint8_t *data;
    size_t len;
    assert_int_equal(tt_ledger_entry(l, 137, &data, &len, &err), TT_ERR_NOT_FOUND);
    char *none;
    assert_int_equal(tt_ledger_checkpoint(l, 2, &none, &len, &err), TT_ERR_NOT_FOUND);
    tt_ledger_close(l);
}

/* Refuses bodies containing "refuse"; writes a marker first to prove undo. */
static tt_err refuse_some(void *ctx, tt_txn *txn, const tt_entry *e, tt_error *err)
{
    (void)ctx;
    (void)txn;
    if (memmem(e->body.data, e->body.size, "refuse", 6))
        return tt_fail(err, TT_ERR_ARGUMENT, "refused by the test rules");
    return TT_OK;
}

static void test_refusals_change_nothing(void **state)
{
    (void)state;
    tt_ledger *l = open_fresh("refuse", 0);
    tt_error err;
    batch b = make_batch(3, 0, 0);
    assert_int_equal(tt_ledger_append(l, b.items, 3, tt_now_ms(), NULL, NULL, &err), TT_OK);
    uint64_t size;
    uint8_t head[32];
    assert_int_equal(tt_ledger_head(l, &size, head, &err), TT_OK);

    /* a batch of: replay, bad signature, rule refusal, good, oversized */
    tt_keypair other;
    tt_keypair_generate(&other);
    uint8_t badsig[64], goodsig[64], rsig[64];
    const char *good = "{\"n\":\"good\"}", *refused = "{\"n\":\"refuse me\"}";
    tu_sign(ORIGIN, &other, good, badsig); /* signed by another key than claimed */
    tu_sign(ORIGIN, &actor, good, goodsig);
    tu_sign(ORIGIN, &actor, refused, rsig);
    uint8_t *big = calloc(1, TT_BODY_MAX + 1);
    tt_append items[6] = {
        {.actor = actor.pk, .sig = b.sigs[1], .body = tt_bytes_str(b.bodies[1])},
        {.actor = actor.pk, .sig = badsig, .body = tt_bytes_str(good)},
        {.actor = actor.pk, .sig = rsig, .body = tt_bytes_str(refused)},
        {.actor = actor.pk, .sig = goodsig, .body = tt_bytes_str(good)},
        {.actor = actor.pk, .sig = goodsig, .body = {TT_BODY_MAX + 1, big}},
        {.actor = actor.pk, .sig = goodsig, .body = tt_bytes_str(good)}, /* replay in-batch */
    };
    assert_int_equal(tt_ledger_append(l, items, 6, tt_now_ms(), refuse_some, NULL, &err), TT_OK);
    assert_int_equal(items[0].result.code, TT_ERR_REPLAY);
    assert_non_null(strstr(items[0].result.message, "entry 1"));
    assert_int_equal(items[1].result.code, TT_ERR_BAD_SIGNATURE);
    assert_int_equal(items[2].result.code, TT_ERR_ARGUMENT);
    assert_int_equal(items[3].result.code, TT_OK);
    assert_int_equal(items[3].seq, 3);
    assert_int_equal(items[4].result.code, TT_ERR_TOO_LARGE);
    assert_int_equal(items[5].result.code, TT_ERR_REPLAY);
    assert_chain(l, 4);

    /* a batch where everything is refused changes nothing, not even checkpoints */
    char *cp_before, *cp_after;
    size_t n1, n2;
    assert_int_equal(tt_ledger_checkpoint(l, UINT64_MAX, &cp_before, &n1, &err), TT_OK);
    assert_int_equal(tt_ledger_append(l, items, 3, tt_now_ms(), refuse_some, NULL, &err), TT_OK);
    assert_int_equal(tt_ledger_checkpoint(l, UINT64_MAX, &cp_after, &n2, &err), TT_OK);
    assert_string_equal(cp_before, cp_after);
    assert_int_equal(tt_ledger_head(l, &size, NULL, &err), TT_OK);
    assert_int_equal(size, 4);
    free(cp_before);
    free(cp_after);
    free(big);
    free_batch(&b);
    tt_ledger_close(l);
}

/* Rules that write a state record for every event, then refuse some: a
 * refusal after a write must take back that event's write and only it. */
static tt_err write_then_refuse(void *ctx, tt_txn *t, const tt_entry *e, tt_error *err)
{
    int *calls = ctx;
    (*calls)++;
    MDB_val k = {e->body.size, (void *)e->body.data}, v = {1, "x"};
    tt_err rc = tt_txn_put(t, TT_DB_STATE, &k, &v, 0, err, "state");
    if (rc == TT_OK && memmem(e->body.data, e->body.size, "refuse", 6))
        rc = tt_fail(err, TT_ERR_ARGUMENT, "refused after a write");
    return rc;
}

static int state_has(tt_ledger *l, const char *key)
{
    MDB_txn *txn;
    MDB_val k = {strlen(key), (void *)key}, v;
    assert_int_equal(tt_rtxn_begin(l, &txn, NULL), TT_OK);
    int found = mdb_get(txn, l->dbi[TT_DB_STATE], &k, &v) == 0;
    tt_rtxn_end(l, txn);
    return found;
}

static void test_refusal_after_a_write(void **state)
{
    (void)state;
    tt_ledger *l = open_fresh("write-then-refuse", 0);
    tt_error err;
    const char *bodies[3] = {"{\"n\":\"first\"}", "{\"n\":\"refuse me\"}", "{\"n\":\"third\"}"};
    uint8_t sigs[3][64];
    tt_append items[3];
    for (int i = 0; i < 3; i++) {
        tu_sign(ORIGIN, &actor, bodies[i], sigs[i]);
        items[i] = (tt_append){.actor = actor.pk, .sig = sigs[i], .body = tt_bytes_str(bodies[i])};
    }
    int calls = 0;
    assert_int_equal(tt_ledger_append(l, items, 3, tt_now_ms(), write_then_refuse, &calls, &err),
                     TT_OK);
    /* applied straight, spoiled by the refusal at the second event, then
     * done again with a nested transaction per event */
    assert_int_equal(calls, 2 + 3);
    assert_int_equal(items[0].result.code, TT_OK);
    assert_int_equal(items[1].result.code, TT_ERR_ARGUMENT);
    assert_int_equal(items[2].result.code, TT_OK);
    assert_int_equal(items[0].seq, 0);
    assert_int_equal(items[2].seq, 1);
    assert_true(state_has(l, bodies[0]));
    assert_false(state_has(l, bodies[1]));
    assert_true(state_has(l, bodies[2]));
    assert_chain(l, 2);
    tt_ledger_close(l);
}

static void test_reopen_and_locks(void **state)
{
    (void)state;
    tt_ledger *l = open_fresh("reopen", 0), *second = NULL, *ro = NULL;
    tt_error err;
    char *p;
    assert_true(asprintf(&p, "%s/reopen", dir) > 0);
    batch b = make_batch(10, 0, 100);
    assert_int_equal(tt_ledger_append(l, b.items, 10, tt_now_ms(), NULL, NULL, &err), TT_OK);
    /* one writer only */
    assert_int_equal(tt_ledger_open(p, 0, &second, &err), TT_ERR_BUSY);
    assert_non_null(strstr(err.message, "another process"));
    /* but readers may open it while it is open for writing */
    assert_int_equal(tt_ledger_open(p, TT_LEDGER_RDONLY, &ro, &err), TT_OK);
    uint64_t size;
    assert_int_equal(tt_ledger_head(ro, &size, NULL, &err), TT_OK);
    assert_int_equal(size, 10);
    assert_int_equal(tt_ledger_append(ro, b.items, 1, 0, NULL, NULL, &err), TT_ERR_READ_ONLY);
    assert_int_equal(tt_ledger_meta_put(ro, "x", "y", 1, &err), TT_ERR_READ_ONLY);
    tt_ledger_close(ro);
    tt_ledger_close(l);
    /* reopen: everything is still there; settings persist */
    assert_int_equal(tt_ledger_open(p, 0, &l, &err), TT_OK);
    assert_chain(l, 10);
    assert_int_equal(tt_ledger_meta_put(l, "origin", ORIGIN, strlen(ORIGIN), &err), TT_OK);
    assert_int_equal(tt_ledger_meta_put(l, "head", "x", 1, &err), TT_ERR_ARGUMENT);
    char *val;
    size_t vlen;
    assert_int_equal(tt_ledger_meta_get(l, "origin", &val, &vlen, &err), TT_OK);
    assert_string_equal(val, ORIGIN);
    free(val);
    assert_int_equal(tt_ledger_meta_get(l, "nothing", &val, &vlen, &err), TT_ERR_NOT_FOUND);
    tt_ledger_close(l);
    /* a directory without a ledger, opened read-only, is a clear error */
    char *empty;
    assert_true(asprintf(&empty, "%s/empty", dir) > 0);
    mkdir(empty, 0700);
    assert_int_equal(tt_ledger_open(empty, TT_LEDGER_RDONLY, &ro, &err), TT_ERR_NOT_FOUND);
    assert_int_equal(tt_ledger_open("/nonexistent/dir", 0, &ro, &err), TT_ERR_NOT_FOUND);
    free(empty);
    free_batch(&b);
    free(p);
}

/* A reader process checks, over and over, that what it sees is whole. */
static int reader_child(const char *path, uint64_t target)
{
    tt_ledger *l = NULL;
    tt_error err;
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logkey.pk, NULL);
    for (int i = 0; i < 200 && l == NULL; i++)
        if (tt_ledger_open(path, TT_LEDGER_RDONLY, &l, &err) != TT_OK)
            usleep(10000);
    if (l == NULL)
        return 2;
    uint64_t size = 0, last = 0, reads = 0;
    while (size < target) {
        char *note;
        size_t len;
        tt_checkpoint cp;
        if (tt_ledger_checkpoint(l, UINT64_MAX, &note, &len, &err) != TT_OK) {
            usleep(1000);
            continue;
        }
        if (tt_checkpoint_open((tt_bytes){len, (uint8_t *)note}, &v, 1, &cp, &err) != TT_OK)
            return 3;
        free(note);
        size = cp.size;
        if (size < last)
            return 4; /* never goes backwards */
        last = size;
        uint8_t root[32], *data;
        if (tt_ledger_root(l, size, root, &err) != TT_OK || memcmp(root, cp.root, 32) != 0)
            return 5;
        if (tt_ledger_entry(l, size - 1, &data, &len, &err) != TT_OK)
            return 6;
        free(data);
        reads++;
    }
    tt_ledger_close(l);
    return reads > 0 ? 0 : 7;
}

static void test_growth_with_reader_process(void **state)
{
    (void)state;
    char *p;
    assert_true(asprintf(&p, "%s/grow", dir) > 0);
    const uint64_t rounds = 60, per = 50, target = rounds * per;
    tt_ledger *l = NULL;
    tt_error err;
    tt_ledger_opts o = {1u << 20}; /* 1 MiB: must grow many times */
    assert_int_equal(tt_ledger_open_with(p, TT_LEDGER_CREATE, &o, &l, &err), TT_OK);
    assert_int_equal(tt_ledger_set_signer(l, ORIGIN, &logkey, &err), TT_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(reader_child(p, target));
    for (uint64_t r = 0; r < rounds; r++) {
        batch b = make_batch(per, r * per, 2000);
        assert_int_equal(tt_ledger_append(l, b.items, per, tt_now_ms(), NULL, NULL, &err), TT_OK);
        for (size_t i = 0; i < per; i++)
            assert_int_equal(b.items[i].result.code, TT_OK);
        free_batch(&b);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    char *data;
    assert_true(asprintf(&data, "%s/data.mdb", p) > 0);
    assert_int_equal(stat(data, &st), 0);
    assert_true(st.st_size > (1 << 20) * 4); /* far beyond the first map */
    assert_chain(l, target);
    tt_ledger_close(l);
    free(data);
    free(p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_and_chain),
        cmocka_unit_test(test_proofs_and_checkpoints),
        cmocka_unit_test(test_refusals_change_nothing),
        cmocka_unit_test(test_refusal_after_a_write),
        cmocka_unit_test(test_reopen_and_locks),
        cmocka_unit_test(test_growth_with_reader_process),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
