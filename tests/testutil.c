/* testutil.c: helpers shared by the unit tests. */
#define _GNU_SOURCE
#include "testutil.h"

#include <ftw.h>
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

void tu_sign(const tt_keypair *kp, const char *body, uint8_t sig[TT_SIG_SIZE])
{
    tt_event_sign(tt_bytes_str(body), kp->sk, sig);
}
