/* testutil.c: helpers shared by the unit tests. */
#define _GNU_SOURCE
#include "testutil.h"

#include "../core/store/ledger_internal.h"
#include "tcmtrace/state.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/tcmtrace-test-XXXXXX", base ? base : "/tmp") < 0)
        abort();
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_datadir(void)
{
    const char *d = getenv("TT_TESTDATA");
    return d ? d : "tests/data";
}

uint8_t *tu_unb64(const char *s, size_t *len)
{
    size_t cap = strlen(s) + 1;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        abort();
    if (sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        *len = SIZE_MAX;
    return out;
}

char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

void tu_copy(const char *from, const char *to)
{
    size_t len;
    char *data = tu_slurp(from, &len);
    if (data == NULL)
        abort();
    FILE *f = fopen(to, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
    free(data);
}

void tu_sign(const char *origin, const tt_keypair *kp, const char *body, uint8_t sig[TT_SIG_SIZE])
{
    tt_event_sign(origin, tt_bytes_str(body), kp->sk, sig);
}

/* a random string: ASCII with the escaped bytes, NUL, 2-, 3- and 4-byte characters */
static json_t *random_string(void)
{
    static const char *pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n",
                                   "\r", "\t", "\x01", "\x1f", "\x7f", "é", "当归", "岷县",
                                   "\xF0\x9F\x8C\xBF", "\xE2\x80\xA8", "~"};
    char s[256];
    size_t n = 0, parts = randombytes_uniform(12);
    for (size_t i = 0; i < parts; i++) {
        if (randombytes_uniform(10) == 0) { /* a NUL inside */
            s[n++] = '\0';
            continue;
        }
        const char *p = pieces[randombytes_uniform(sizeof pieces / sizeof *pieces)];
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    return json_stringn(s, n);
}

json_t *tu_random_json(int depth)
{
    uint32_t kind = randombytes_uniform(depth > 4 ? 6 : 8);
    switch (kind) {
    case 0: {
        static const json_int_t ints[] = {0, 1, -1, 9, 10, -10, 250, 1000000, INT64_MAX, INT64_MIN,
                                         INT64_MIN + 1, 1793412853000};
        return randombytes_uniform(2) ? json_integer(ints[randombytes_uniform(12)])
                                      : json_integer((json_int_t)randombytes_random() -
                                                     (json_int_t)randombytes_random() * 65536);
    }
    case 1: {
        static const double reals[] = {0.5, -0.0, 1e300, 1.5e-7, 29.58, 106.55, 3.0, 1e21};
        return json_real(reals[randombytes_uniform(8)] * (randombytes_uniform(3) + 1));
    }
    case 2:
        return json_true();
    case 3:
        return json_false();
    case 4:
        return json_null();
    case 5:
        return random_string();
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = 0, n = randombytes_uniform(6); i < n; i++)
            json_array_append_new(a, tu_random_json(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = 0, n = randombytes_uniform(6); i < n; i++) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 tu_random_json(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

int tu_each_json_file(const char *dir, int (*fn)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            n += fn(path, ctx);
        else if (e->d_type == DT_DIR)
            n += tu_each_json_file(path, fn, ctx);
    }
    closedir(d);
    return n;
}

json_t *tu_random_document(void)
{
    json_t *v = randombytes_uniform(2) ? json_object() : json_array();
    for (uint32_t k = 0, n = randombytes_uniform(8); k < n; k++) {
        json_t *x = tu_random_json(1);
        if (json_is_object(v))
            json_object_set_new(v, k % 2 ? "id" : "当归\n\"k\"", x);
        else
            json_array_append_new(v, x);
    }
    return v;
}

int tu_each_shipped_json(int (*fn)(const char *path, void *ctx), void *ctx)
{
    return tu_each_json_file("schemas", fn, ctx) + tu_each_json_file("tests/fixtures", fn, ctx);
}

/*
 * Random inputs that can be repeated: before main (and so before sodium_init) every unit
 * test's randombytes_* (keys, nonces, the random cases of test_entry, test_jsonin, test_merkle
 * and the others) comes from ChaCha20 keyed by a seed, printed at the start: TT_TEST_SEED=HEX
 * gives the same inputs again, so a failure on a random case can be replayed.
 */
static uint8_t seed_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t seed_ctr;
static pthread_mutex_t seed_lock = PTHREAD_MUTEX_INITIALIZER;

static void seeded_buf(void *const buf, const size_t size)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    pthread_mutex_lock(&seed_lock);
    uint64_t n = seed_ctr++;
    pthread_mutex_unlock(&seed_lock);
    memcpy(nonce, &n, sizeof nonce);
    crypto_stream_chacha20(buf, size, nonce, seed_key);
}

static uint32_t seeded_random(void)
{
    uint32_t r;
    seeded_buf(&r, sizeof r);
    return r;
}

static const char *seeded_name(void)
{
    return "tcmtrace-test-seeded";
}

static struct randombytes_implementation seeded = {
    .implementation_name = seeded_name, .random = seeded_random, .buf = seeded_buf};

__attribute__((constructor)) static void tu_seed_random(void)
{
    const char *given = getenv("TT_TEST_SEED");
    char hex[2 * sizeof seed_key + 1];
    size_t n = 0;
    if (given == NULL || sodium_hex2bin(seed_key, sizeof seed_key, given, strlen(given), NULL, &n,
                                        NULL) != 0 ||
        n != sizeof seed_key) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (f == NULL || fread(seed_key, 1, sizeof seed_key, f) != sizeof seed_key)
            abort();
        fclose(f);
    }
    sodium_bin2hex(hex, sizeof hex, seed_key, sizeof seed_key);
    fprintf(stderr, "random inputs from TT_TEST_SEED=%s (set it to repeat them)\n", hex);
    if (randombytes_set_implementation(&seeded) != 0)
        abort();
}

void tu_ledger_digest(tt_ledger *l, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    MDB_txn *txn;
    crypto_hash_sha256_init(&st);
    assert_int_equal(tt_rtxn_begin(l, &txn, NULL), TT_OK);
    for (int db = 0; db < TT_DB_COUNT; db++) {
        MDB_cursor *c;
        MDB_val k, v;
        mdb_cursor_open(txn, l->dbi[db], &c);
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            crypto_hash_sha256_update(&st, k.mv_data, k.mv_size);
            crypto_hash_sha256_update(&st, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(c);
    }
    tt_rtxn_end(l, txn);
    crypto_hash_sha256_final(&st, out);
}

void tu_audit_ok(tt_ledger *l, const char *origin, const uint8_t pk[TT_PK_SIZE], const char *dir,
                 tt_audit_report *r)
{
    tt_verifier v;
    tt_verifier_init(&v, origin, pk, NULL);
    char *scratch;
    assert_true(asprintf(&scratch, "%s/scratch", dir) > 0);
    assert_int_equal(tt_state_audit(l, &v, 1, scratch, NULL, NULL, r, NULL), TT_OK);
    if (!r->ok)
        fail_msg("audit: %s", r->why.message);
    free(scratch);
}
