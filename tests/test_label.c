/*
 * test_label.c: QR label payloads and real images.
 *
 * Tokens are made and checked offline: a tampered token, a token for another
 * ledger and a swapped trace code are each refused with their own code. Then
 * labels for many batches are drawn to PNG, read back from the file by zbar
 * and verified — also after scaling, a mild blur and JPEG compression.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/qr.h"
#include "tcmtrace/label.h"

#define ORIGIN "tcmtrace.example/cq-jiefanglu"
#define BASE "https://" ORIGIN

static tt_keypair logkey, otherkey;
static tt_verifier vlog, vother;
static char *dir;

static int setup(void **state)
{
    (void)state;
    tt_keypair_generate(&logkey);
    tt_keypair_generate(&otherkey);
    tt_verifier_init(&vlog, ORIGIN, logkey.pk, NULL);
    tt_verifier_init(&vother, "tcmtrace.example/other-market", otherkey.pk, NULL);
    dir = tu_tempdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void make_url(const char *code, const tt_keypair *kp, const char *origin, char *url)
{
    uint8_t h[32];
    char token[TT_LABEL_TOKEN_LEN + 1];
    randombytes_buf(h, sizeof h);
    tt_label_token(origin, code, h, kp->sk, token);
    assert_int_equal(strlen(token), TT_LABEL_TOKEN_LEN);
    assert_int_equal(tt_label_url(BASE "/", code, token, url, TT_LABEL_URL_MAX, NULL), TT_OK);
}

static tt_err check(const char *url, const tt_verifier *v, tt_error *err)
{
    tt_label lb;
    tt_err rc = tt_label_parse(url, &lb, err);
    return rc == TT_OK ? tt_label_verify(&lb, v, err) : rc;
}

static void test_token_roundtrip_and_refusals(void **state)
{
    (void)state;
    char code[17], other[17], url[TT_LABEL_URL_MAX], bad[TT_LABEL_URL_MAX];
    tt_error err;
    tt_code_new(tt_now_ms(), code);
    tt_code_new(tt_now_ms(), other);
    make_url(code, &logkey, ORIGIN, url);
    assert_non_null(strstr(url, BASE "/b/"));
    assert_int_equal(check(url, &vlog, &err), TT_OK);
    tt_label lb;
    assert_int_equal(tt_label_parse(url, &lb, &err), TT_OK);
    assert_string_equal(lb.base, BASE);
    assert_string_equal(lb.code, code);
    assert_string_equal(lb.token_code, code);

    /* the default URL fits QR version 10 at error correction M */
    int version = qr_version(url);
    assert_true(version >= 1 && version <= 10);

    /* a tampered token: every position of the signature part */
    char *t = strstr(url, "?t=") + 3;
    for (int i = 40; i < TT_LABEL_TOKEN_LEN - 1; i += 7) {
        strcpy(bad, url);
        char *bt = strstr(bad, "?t=") + 3;
        bt[i] = bt[i] == 'A' ? 'B' : 'A';
        assert_int_equal(check(bad, &vlog, &err), TT_ERR_BAD_SIGNATURE);
        assert_non_null(strstr(err.message, "altered or forged"));
    }
    (void)t;
    /* a token for another ledger */
    make_url(code, &otherkey, "tcmtrace.example/other-market", bad);
    assert_int_equal(check(bad, &vlog, &err), TT_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(err.message, "another ledger"));
    assert_int_equal(check(bad, &vother, &err), TT_OK);
    /* the same key under another origin is another log, too */
    make_url(code, &logkey, "tcmtrace.example/elsewhere", bad);
    assert_int_not_equal(check(bad, &vlog, &err), TT_OK);
    /* a swapped trace code: the URL says one lot, the token another */
    strcpy(bad, url);
    memcpy(strstr(bad, "/b/") + 3, other, 16);
    assert_int_equal(check(bad, &vlog, &err), TT_ERR_CODE_MISMATCH);
    assert_non_null(strstr(err.message, other));
    /* a mistyped code fails its check digit before anything else */
    strcpy(bad, url);
    char *c = strstr(bad, "/b/") + 3;
    c[5] = c[5] == '0' ? '1' : '0';
    assert_int_equal(check(bad, &vlog, &err), TT_ERR_MALFORMED);
    /* not a label at all */
    static const char *junk[] = {"",
                                 "hello",
                                 "https://x/b/",
                                 "https://x/b/1234?t=abc",
                                 BASE "/b/2611224839105527",
                                 BASE "/b/2611224839105527?t=",
                                 "https://example.com/?q=1"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        assert_int_equal(check(junk[i], &vlog, &err), TT_ERR_MALFORMED);
}

/* ---- images ------------------------------------------------------------------ */

static void scale(const qr_image *in, double f, qr_image *out)
{
    qr_image_new(out, (int)(in->w * f), (int)(in->h * f));
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) { /* bilinear */
            double sx = x / f, sy = y / f;
            int x0 = (int)sx, y0 = (int)sy;
            int x1 = x0 + 1 < in->w ? x0 + 1 : x0, y1 = y0 + 1 < in->h ? y0 + 1 : y0;
            double ax = sx - x0, ay = sy - y0;
            double v = (1 - ax) * (1 - ay) * in->px[y0 * in->w + x0] +
                       ax * (1 - ay) * in->px[y0 * in->w + x1] +
                       (1 - ax) * ay * in->px[y1 * in->w + x0] + ax * ay * in->px[y1 * in->w + x1];
            out->px[y * out->w + x] = (uint8_t)(v + 0.5);
        }
}

static void blur(const qr_image *in, qr_image *out)
{
    qr_image_new(out, in->w, in->h);
    for (int y = 0; y < in->h; y++)
        for (int x = 0; x < in->w; x++) { /* 3x3 box */
            int sum = 0, n = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int X = x + dx, Y = y + dy;
                    if (X >= 0 && Y >= 0 && X < in->w && Y < in->h) {
                        sum += in->px[Y * in->w + X];
                        n++;
                    }
                }
            out->px[y * out->w + x] = (uint8_t)(sum / n);
        }
}

static void draw(const char *url, const char *code, qr_image *img)
{
    qr_geometry g = {60, 30, 300};
    int w, h;
    char pretty[TT_CODE_PRETTY + 1], err[200];
    tt_code_pretty(code, pretty);
    qr_label_text t = {pretty, "当归 Angelica sinensis", "500 kg · 药材 · 一等",
                       "甘肃省 定西市 岷县（道地）"};
    qr_label_size(&g, &w, &h);
    assert_int_equal(qr_image_new(img, w, h), 0);
    if (qr_draw_label(img, 0, 0, &g, url, &t, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void expect_decodes(const qr_image *img, const char *url, const char *what)
{
    char *text = qr_decode(img);
    if (text == NULL)
        fail_msg("zbar found no symbol in the %s image", what);
    assert_string_equal(text, url);
    tt_error err;
    assert_int_equal(check(text, &vlog, &err), TT_OK);
    free(text);
}

static void test_png_roundtrip_many_batches(void **state)
{
    (void)state;
    char *png;
    assert_true(asprintf(&png, "%s/label.png", dir) > 0);
    for (int i = 0; i < 40; i++) {
        char code[17], url[TT_LABEL_URL_MAX], err[200];
        qr_image img, back;
        tt_code_new(tt_now_ms(), code);
        make_url(code, &logkey, ORIGIN, url);
        draw(url, code, &img);
        assert_int_equal(qr_write_png(&img, 300, png, err, sizeof err), 0);
        assert_int_equal(qr_load_image(png, &back, err, sizeof err), 0); /* from the file */
        assert_int_equal(back.w, img.w);
        expect_decodes(&back, url, "PNG");
        qr_image_free(&img);
        qr_image_free(&back);
    }
    free(png);
}

static void test_survives_scaling_blur_and_jpeg(void **state)
{
    (void)state;
    char code[17], url[TT_LABEL_URL_MAX], *jpg;
    qr_image img, s1, s2, b, back;
    char err[200];
    assert_true(asprintf(&jpg, "%s/photo.jpg", dir) > 0);
    for (int i = 0; i < 8; i++) {
        tt_code_new(tt_now_ms(), code);
        make_url(code, &logkey, ORIGIN, url);
        draw(url, code, &img);
        scale(&img, 0.6, &s1);
        expect_decodes(&s1, url, "downscaled");
        scale(&img, 1.7, &s2);
        expect_decodes(&s2, url, "upscaled");
        blur(&img, &b);
        expect_decodes(&b, url, "blurred");
        assert_int_equal(qr_write_jpeg(&b, 80, jpg), 0);
        assert_int_equal(qr_load_image(jpg, &back, err, sizeof err), 0);
        expect_decodes(&back, url, "JPEG");
        qr_image_free(&img);
        qr_image_free(&s1);
        qr_image_free(&s2);
        qr_image_free(&b);
        qr_image_free(&back);
    }
    /* a blank image holds no symbol; a non-image is refused */
    qr_image_new(&img, 200, 200);
    assert_null(qr_decode(&img));
    qr_image_free(&img);
    FILE *f = fopen(jpg, "w");
    fputs("not an image", f);
    fclose(f);
    assert_int_equal(qr_load_image(jpg, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "neither"));
    free(jpg);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_roundtrip_and_refusals),
        cmocka_unit_test(test_png_roundtrip_many_batches),
        cmocka_unit_test(test_survives_scaling_blur_and_jpeg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
