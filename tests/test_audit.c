/*
 * test_audit.c: audit finds every flipped byte.
 *
 * A real ledger is written and closed; then, for each place in data.mdb
 * that holds a part of an entry (every header field and the body), an
 * index value, a stored Merkle hash or a checkpoint, a copy of the file has
 * one byte flipped there and audit must fail — naming the entry that
 * disagrees where the flip sits in one entry.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/store/ledger_internal.h"

#define ORIGIN "tcmtrace.test/audit"
#define NENTRIES 40

static char *dir, *src;
static tt_keypair actor, logkey;
static tt_verifier vkey;
static uint8_t *entry_bytes[NENTRIES];
static size_t entry_len[NENTRIES];

static int setup(void **state)
{
    (void)state;
    tt_error err;
    tt_ledger *l;
    dir = tu_tempdir();
    tt_keypair_generate(&actor);
    tt_keypair_generate(&logkey);
    tt_verifier_init(&vkey, ORIGIN, logkey.pk, NULL);
    if (asprintf(&src, "%s/src", dir) < 0)
        return 1;
    if (tt_ledger_open(src, TT_LEDGER_CREATE, &l, &err) != TT_OK ||
        tt_ledger_set_signer(l, ORIGIN, &logkey, &err) != TT_OK ||
        tt_ledger_meta_put(l, "origin", ORIGIN, strlen(ORIGIN), &err) != TT_OK)
        return 1;
    for (int i = 0; i < NENTRIES; i += 4) {
        tt_append items[4] = {{0}};
        char *bodies[4];
        uint8_t sigs[4][64];
        for (int k = 0; k < 4; k++) {
            /* every other body is stored deflated (text that repeats), the rest as they are
             * (bodies too short to deflate) */
            if ((k % 2 ? asprintf(&bodies[k], "{\"n\":%d}", i + k)
                       : asprintf(&bodies[k],
                                  "{\"v\":1,\"type\":\"test\",\"n\":%d,\"nonce\":\"%u\","
                                  "\"note\":\"当归 当归 当归 当归 当归 当归 当归 当归\"}",
                                  i + k, randombytes_random())) < 0)
                return 1;
            tu_sign(ORIGIN, &actor, bodies[k], sigs[k]);
            items[k] =
                (tt_append){.actor = actor.pk, .sig = sigs[k], .body = tt_bytes_str(bodies[k])};
        }
        if (tt_ledger_append(l, items, 4, tt_now_ms(), NULL, NULL, &err) != TT_OK)
            return 1;
        for (int k = 0; k < 4; k++)
            free(bodies[k]);
    }
    for (int i = 0; i < NENTRIES; i++)
        if (tt_ledger_entry(l, (uint64_t)i, &entry_bytes[i], &entry_len[i], &err) != TT_OK)
            return 1;
    tt_ledger_close(l);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NENTRIES; i++)
        free(entry_bytes[i]);
    tu_rmtree(dir);
    free(dir);
    free(src);
    return 0;
}

/* Audits a copy of the source ledger with byte `off` of data.mdb XORed. */
static tt_audit_report audit_flipped(long off, uint8_t mask)
{
    static int n;
    char *copy, *from, *to;
    assert_true(asprintf(&copy, "%s/copy%d", dir, n++) > 0);
    assert_int_equal(mkdir(copy, 0700), 0);
    assert_true(asprintf(&from, "%s/data.mdb", src) > 0);
    assert_true(asprintf(&to, "%s/data.mdb", copy) > 0);
    tu_copy(from, to);
    if (off >= 0) {
        FILE *f = fopen(to, "r+b");
        assert_non_null(f);
        fseek(f, off, SEEK_SET);
        int c = fgetc(f);
        fseek(f, off, SEEK_SET);
        fputc(c ^ mask, f);
        fclose(f);
    }
    tt_ledger *l;
    tt_error err;
    tt_audit_report r;
    assert_int_equal(tt_ledger_open(copy, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    assert_int_equal(tt_audit(l, &vkey, 1, NULL, NULL, NULL, NULL, &r, &err), TT_OK);
    tt_ledger_close(l);
    tu_rmtree(copy);
    free(copy);
    free(from);
    free(to);
    return r;
}

/* Offsets of every occurrence of `needle` in the source data.mdb. */
static size_t find_all(const uint8_t *needle, size_t len, long *out, size_t max)
{
    char *from;
    size_t flen, n = 0;
    assert_true(asprintf(&from, "%s/data.mdb", src) > 0);
    char *data = tu_slurp(from, &flen);
    for (char *p = data; n < max && (p = memmem(p, flen - (size_t)(p - data), needle, len)); p++)
        out[n++] = p - data;
    free(data);
    free(from);
    return n;
}

/* Where data.mdb of `ledger_dir` is mapped in this process. */
static char *map_base(const char *ledger_dir)
{
    char want[4096], line[8192];
    snprintf(want, sizeof want, "%s/data.mdb", ledger_dir);
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    unsigned long start = 0, off = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t ll = strlen(line), wl = strlen(want);
        if (ll >= wl && strcmp(line + ll - wl, want) == 0 &&
            sscanf(line, "%lx-%*x %*s %lx", &start, &off) == 2 && off == 0)
            break;
        start = 0;
    }
    fclose(f);
    assert_true(start != 0);
    return (char *)start;
}

/*
 * LMDB is copy-on-write: stale copies of pages stay in the file. The live
 * record is the one LMDB maps for a read; its file offset is its distance
 * from the start of the map. Returns the offset of the value (or the key).
 */
static long live_offset(tt_db db, const void *key, size_t klen, int of_key)
{
    tt_ledger *l;
    tt_error err;
    MDB_txn *txn;
    MDB_cursor *cur;
    assert_int_equal(tt_ledger_open(src, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    assert_int_equal(tt_rtxn_begin(l, &txn, &err), TT_OK);
    char *base = map_base(src);
    MDB_val k = {klen, (void *)key}, v;
    assert_int_equal(mdb_cursor_open(txn, l->dbi[db], &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_SET_KEY), 0);
    long off = (long)((char *)(of_key ? k.mv_data : v.mv_data) - base);
    mdb_cursor_close(cur);
    tt_rtxn_end(l, txn);
    tt_ledger_close(l);
    return off;
}

static long live_seq_offset(tt_db db, uint64_t seq)
{
    uint8_t k[8];
    tt_put_u64be(k, seq);
    return live_offset(db, k, 8, 0);
}

/* Entry seq as it lies in the store (its stored form), copied. */
static uint8_t *stored_entry(uint64_t seq, size_t *len)
{
    tt_ledger *l;
    tt_error err;
    MDB_txn *txn;
    uint8_t kb[8];
    tt_put_u64be(kb, seq);
    MDB_val k = {8, kb}, v;
    assert_int_equal(tt_ledger_open(src, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    assert_int_equal(tt_rtxn_begin(l, &txn, &err), TT_OK);
    assert_int_equal(mdb_get(txn, l->dbi[TT_DB_ENTRIES], &k, &v), 0);
    uint8_t *out = malloc(v.mv_size);
    assert_non_null(out);
    memcpy(out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    tt_rtxn_end(l, txn);
    tt_ledger_close(l);
    return out;
}

static void test_clean_copy_passes(void **state)
{
    (void)state;
    tt_audit_report r = audit_flipped(-1, 0);
    assert_true(r.ok);
    assert_int_equal(r.entries, NENTRIES);
    assert_int_equal(r.checked, NENTRIES);
    assert_int_equal(r.checkpoints, NENTRIES / 4);
    assert_int_equal(r.latest_checkpoint, NENTRIES);
}

static void test_every_entry_field_flip_names_the_entry(void **state)
{
    (void)state;
    /* field offsets: version, seq, time, prev, actor, sig, body_len, body */
    static const size_t fields[] = {0, 1, 8, 9, 16, 17, 40, 49, 80, 81, 144, 145, 148, 149, 150};
    int forms[2] = {0, 0}; /* entries met stored as they are / deflated */
    for (int seq = 0; seq < NENTRIES; seq += 7) {
        long at = live_seq_offset(TT_DB_ENTRIES, (uint64_t)seq);
        size_t slen;
        uint8_t *stored = stored_entry((uint64_t)seq, &slen);
        long found[8];
        size_t n = find_all(stored, slen, found, 8);
        int listed = 0;
        for (size_t i = 0; i < n; i++)
            listed |= found[i] == at;
        assert_true(listed); /* the live record is where the flips go */
        int deflated = stored[0] == TT_STORED_DEFLATED;
        forms[deflated]++;
        if (deflated) { /* its header as it is; its body deflated, smaller, inflating back */
            assert_true(slen < entry_len[seq]);
            assert_memory_equal(stored + 1, entry_bytes[seq] + 1, TT_ENTRY_HEADER_SIZE - 1);
            uint8_t back[TT_ENTRY_MAX];
            size_t blen;
            assert_int_equal(tt_stored_unpack((tt_bytes){slen, stored}, back, sizeof back, &blen,
                                              NULL),
                             TT_OK);
            assert_int_equal(blen, entry_len[seq]);
            assert_memory_equal(back, entry_bytes[seq], blen);
        } else { /* exactly the entry bytes */
            assert_int_equal(slen, entry_len[seq]);
            assert_memory_equal(stored, entry_bytes[seq], slen);
        }
        free(stored);
        for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
            tt_audit_report r = audit_flipped(at + (long)fields[f], 0x01);
            assert_false(r.ok);
            assert_true(r.bad_seq_known);
            if (r.bad_seq != (uint64_t)seq)
                fail_msg("flip at field offset %zu of entry %d blamed entry %llu (%s)", fields[f],
                         seq, (unsigned long long)r.bad_seq, r.why.message);
            assert_true(strlen(r.why.message) > 0);
            /* a changed seq is a broken numbering, a changed prev a broken chain: said so */
            if (fields[f] >= 1 && fields[f] <= 8 && r.why.code != TT_ERR_BAD_SEQ)
                fail_msg("a flip in entry %d's seq is reported as %s, not bad_seq", seq,
                         tt_err_name(r.why.code));
            if (fields[f] >= 17 && fields[f] <= 48 && r.why.code != TT_ERR_BAD_CHAIN)
                fail_msg("a flip in entry %d's prev is reported as %s, not bad_chain", seq,
                         tt_err_name(r.why.code));
        }
        /* the last stored byte too, and bytes in the middle of a deflated body */
        tt_audit_report r = audit_flipped(at + (long)slen - 1, 0x20);
        assert_false(r.ok);
        assert_int_equal(r.bad_seq, (uint64_t)seq);
        for (size_t off = TT_ENTRY_HEADER_SIZE + 2; deflated && off < slen - 1; off += 5) {
            r = audit_flipped(at + (long)off, 0x10);
            assert_false(r.ok);
            assert_true(r.bad_seq_known);
            assert_int_equal(r.bad_seq, (uint64_t)seq);
        }
    }
    assert_true(forms[0] > 0 && forms[1] > 0);
}

static void test_every_copy_of_a_hash_is_checked(void **state)
{
    (void)state;
    /* An entry hash is stored as the next entry's prev, as a hash-index key
     * and as a Merkle leaf; a flip in each live copy is caught. */
    for (int seq = 0; seq < NENTRIES - 1; seq += 5) {
        uint8_t h[32];
        tt_entry_hash((tt_bytes){entry_len[seq], entry_bytes[seq]}, h);
        long at[3] = {
            live_seq_offset(TT_DB_ENTRIES, (uint64_t)seq + 1) + 17 + 31, /* next entry's prev */
            live_offset(TT_DB_HASHES, h, 32, 1) + 31,                    /* index key */
            live_seq_offset(TT_DB_MERKLE, tt_merkle_stored_index(0, (uint64_t)seq)) + 31,
        };
        uint64_t blame[3] = {(uint64_t)seq + 1, (uint64_t)seq, (uint64_t)seq};
        for (size_t i = 0; i < 3; i++) {
            tt_audit_report r = audit_flipped(at[i], 0x80);
            assert_false(r.ok);
            assert_true(r.bad_seq_known);
            assert_int_equal(r.bad_seq, blame[i]);
        }
        /* the seq stored in the hash index */
        tt_audit_report r = audit_flipped(live_offset(TT_DB_HASHES, h, 32, 0) + 7, 0x02);
        assert_false(r.ok);
        assert_int_equal(r.bad_seq, (uint64_t)seq);
    }
}

static void test_merkle_node_and_checkpoint_flips(void **state)
{
    (void)state;
    tt_ledger *l;
    tt_error err;
    assert_int_equal(tt_ledger_open(src, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    char *note;
    size_t nlen;
    assert_int_equal(tt_ledger_checkpoint(l, 20, &note, &nlen, &err), TT_OK);
    tt_ledger_close(l);
    /* level 3, node 1 (leaves 8..15) */
    long at = live_seq_offset(TT_DB_MERKLE, tt_merkle_stored_index(3, 1));
    tt_audit_report r = audit_flipped(at + 5, 0x04);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 15);
    assert_non_null(strstr(r.why.message, "Merkle"));

    /* the checkpoint of size 20: its root line and its signature */
    at = live_seq_offset(TT_DB_CHECKPOINTS, 20);
    const char *root_line = strstr(note, "\n20\n") + 4;
    r = audit_flipped(at + (root_line - note) + 3, 0x01);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 19);
    r = audit_flipped(at + (long)nlen - 10, 0x01);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 19);
    assert_non_null(strstr(r.why.message, "checkpoint"));
    free(note);
}

static void test_untrusted_log_key(void **state)
{
    (void)state;
    tt_keypair stranger;
    tt_verifier sv;
    tt_ledger *l;
    tt_error err;
    tt_audit_report r;
    tt_keypair_generate(&stranger);
    tt_verifier_init(&sv, ORIGIN, stranger.pk, NULL);
    assert_int_equal(tt_ledger_open(src, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    assert_int_equal(tt_audit(l, &sv, 1, NULL, NULL, NULL, NULL, &r, &err), TT_OK);
    assert_false(r.ok);
    assert_int_equal(r.why.code, TT_ERR_UNKNOWN_KEY);
    /* without keys the log itself still checks, with no checkpoint verified */
    assert_int_equal(tt_audit(l, NULL, 0, NULL, NULL, NULL, NULL, &r, &err), TT_OK);
    assert_true(r.ok);
    assert_int_equal(r.checkpoints, 0);
    tt_ledger_close(l);
}

/* A ledger of n entries in `sub`, entry i signed v1 (naming no ledger) when v1[i]. */
static tt_audit_report audit_signed(const char *sub, int n, const int *v1)
{
    char *path;
    tt_ledger *l;
    tt_error err;
    tt_audit_report r;
    assert_true(asprintf(&path, "%s/%s", dir, sub) > 0);
    assert_int_equal(tt_ledger_open(path, TT_LEDGER_CREATE, &l, &err), TT_OK);
    assert_int_equal(tt_ledger_set_signer(l, ORIGIN, &logkey, &err), TT_OK);
    assert_int_equal(tt_ledger_meta_put(l, "origin", ORIGIN, strlen(ORIGIN), &err), TT_OK);
    for (int i = 0; i < n; i++) {
        char body[64];
        uint8_t sig[64];
        snprintf(body, sizeof body, "{\"n\":%d}", i);
        tt_event_sign(v1[i] ? NULL : ORIGIN, tt_bytes_str(body), actor.sk, sig);
        /* checked here, not by the ledger: a v1 signature is what the test puts in */
        tt_append it = {.actor = actor.pk, .sig = sig, .body = tt_bytes_str(body), .sig_checked = 1};
        assert_int_equal(tt_ledger_append(l, &it, 1, tt_now_ms(), NULL, NULL, &err), TT_OK);
    }
    char *note;
    size_t nlen;
    assert_int_equal(tt_ledger_checkpoint(l, (uint64_t)n, &note, &nlen, &err), TT_OK);
    free(note);
    assert_int_equal(tt_audit(l, &vkey, 1, NULL, NULL, NULL, NULL, &r, &err), TT_OK);
    tt_ledger_close(l);
    free(path);
    return r;
}

/* Events name their ledger: a ledger made before (its genesis signed v1) keeps its v1
 * entries; in a ledger whose genesis names it, a v1 signature is a bad one. */
static void test_signatures_name_the_ledger(void **state)
{
    (void)state;
    const int all_v1[6] = {1, 1, 1, 1, 1, 1}, upgraded[6] = {1, 1, 1, 0, 0, 0},
              one_v1[6] = {0, 0, 0, 1, 0, 0};
    tt_audit_report r = audit_signed("legacy", 6, all_v1);
    if (!r.ok)
        fail_msg("a ledger of before does not audit: %s", r.why.message);
    r = audit_signed("upgraded", 6, upgraded);
    if (!r.ok)
        fail_msg("a ledger of before, signing v2 since: %s", r.why.message);
    r = audit_signed("new", 6, one_v1);
    assert_false(r.ok);
    assert_int_equal(r.why.code, TT_ERR_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 3);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *last = ctx;
    assert_true(done >= *last);
    assert_true(done <= total);
    *last = done;
}

static void test_progress_reaches_total(void **state)
{
    (void)state;
    tt_ledger *l;
    tt_error err;
    tt_audit_report r;
    uint64_t last = 0;
    assert_int_equal(tt_ledger_open(src, TT_LEDGER_RDONLY, &l, &err), TT_OK);
    assert_int_equal(tt_audit(l, &vkey, 1, NULL, NULL, progress, &last, &r, &err), TT_OK);
    assert_true(r.ok);
    assert_int_equal(last, NENTRIES);
    tt_ledger_close(l);
}

/* A ledger over two of audit's chunks, with bad signatures at entries 2048 and 3000: whatever
 * the number of verifying threads, audit names 2048, the first. */
static void test_parallel_verification_names_the_first_bad_signature(void **state)
{
    (void)state;
    char *big;
    tt_error err;
    tt_ledger *l;
    assert_true(asprintf(&big, "%s/big", dir) > 0);
    assert_int_equal(tt_ledger_open(big, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &l, &err), TT_OK);
    assert_int_equal(tt_ledger_set_signer(l, ORIGIN, &logkey, &err), TT_OK);
    for (int i = 0; i < 4200; i += 100) {
        tt_append items[100] = {{0}};
        char *bodies[100];
        static uint8_t sigs[100][64];
        for (int k = 0; k < 100; k++) {
            assert_true(asprintf(&bodies[k], "{\"v\":1,\"type\":\"test\",\"n\":%d}", i + k) > 0);
            tu_sign(ORIGIN, &actor, bodies[k], sigs[k]);
            items[k] = (tt_append){.actor = actor.pk, .sig = sigs[k], .body = tt_bytes_str(bodies[k])};
        }
        assert_int_equal(tt_ledger_append(l, items, 100, tt_now_ms(), NULL, NULL, &err), TT_OK);
        for (int k = 0; k < 100; k++)
            free(bodies[k]);
    }
    /* the ledger checks what it appends: the signatures are changed in the store */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(l->env, NULL, 0, &txn), 0);
    for (uint64_t seq = 2048; seq <= 3000; seq += 952) {
        uint8_t key[8], copy[512];
        for (int b = 0; b < 8; b++)
            key[b] = (uint8_t)(seq >> (56 - 8 * b));
        MDB_val k = {8, key}, v;
        assert_int_equal(mdb_get(txn, l->dbi[TT_DB_ENTRIES], &k, &v), 0);
        assert_true(v.mv_size <= sizeof copy);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[81 + 5] ^= 1; /* a byte of the signature */
        v.mv_data = copy;
        assert_int_equal(mdb_put(txn, l->dbi[TT_DB_ENTRIES], &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    static const char *const threads[] = {"1", "2", "5"};
    for (size_t t = 0; t < 3; t++) {
        tt_audit_report r;
        setenv("TCMTRACE_AUDIT_THREADS", threads[t], 1);
        assert_int_equal(tt_audit(l, &vkey, 1, NULL, NULL, NULL, NULL, &r, &err), TT_OK);
        if (r.ok || !r.bad_seq_known || r.bad_seq != 2048 || r.checked != 2048 || r.why.code != TT_ERR_BAD_SIGNATURE)
            fail_msg("with %s threads audit said ok=%d, entry %llu (%s), %llu of %llu checked",
                     threads[t], r.ok, (unsigned long long)r.bad_seq, r.why.message,
                     (unsigned long long)r.checked, (unsigned long long)r.entries);
        /* the CPU it reports is what its threads spent: every entry checked was verified
         * (no verification takes under 5 µs), and the walk replayed them in order */
        if (r.prepare_cpu_ns < r.checked * 5000 || r.verify_cpu_ns < r.checked * 5000 ||
            r.verify_cpu_ns > r.prepare_cpu_ns || r.walk_cpu_ns == 0 ||
            r.walk_cpu_ns >= r.prepare_cpu_ns)
            fail_msg("with %s threads audit reported %llu ns preparing and %llu ns walking %llu "
                     "entries",
                     threads[t], (unsigned long long)r.prepare_cpu_ns,
                     (unsigned long long)r.walk_cpu_ns, (unsigned long long)r.checked);
    }
    unsetenv("TCMTRACE_AUDIT_THREADS");
    tt_ledger_close(l);
    free(big);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_copy_passes),
        cmocka_unit_test(test_every_entry_field_flip_names_the_entry),
        cmocka_unit_test(test_every_copy_of_a_hash_is_checked),
        cmocka_unit_test(test_merkle_node_and_checkpoint_flips),
        cmocka_unit_test(test_untrusted_log_key),
        cmocka_unit_test(test_signatures_name_the_ledger),
        cmocka_unit_test(test_progress_reaches_total),
        cmocka_unit_test(test_parallel_verification_names_the_first_bad_signature),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
