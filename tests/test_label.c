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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/qrimage.h"
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

/* h: the registration hash the token names; NULL for a random one */
static void make_url_h(const char *code, const tt_keypair *kp, const char *origin,
                       const uint8_t *fixed_h, char *url)
{
    uint8_t h[32];
    char token[TT_LABEL_TOKEN_LEN + 1];
    if (fixed_h)
        memcpy(h, fixed_h, sizeof h);
    else
        randombytes_buf(h, sizeof h);
    tt_label_token(origin, code, h, kp->sk, token);
    assert_int_equal(strlen(token), TT_LABEL_TOKEN_LEN);
    assert_int_equal(tt_label_url(BASE "/", code, token, url, TT_LABEL_URL_MAX, NULL), TT_OK);
}

static void make_url(const char *code, const tt_keypair *kp, const char *origin, char *url)
{
    make_url_h(code, kp, origin, NULL, url);
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

    /* the token goes as 220 digits; the same token in base64url (labels printed before
     * numeric mode) reads the same, and its symbol is larger */
    assert_non_null(strstr(url, "?n="));
    assert_int_equal(strlen(strstr(url, "?n=") + 3), TT_LABEL_TOKEN_DIGITS);
    char b64url[TT_LABEL_URL_MAX], tok[TT_LABEL_TOKEN_LEN + 1];
    {
        uint8_t h[32];
        randombytes_buf(h, sizeof h);
        tt_label_token(ORIGIN, code, h, logkey.sk, tok);
        snprintf(b64url, sizeof b64url, BASE "/b/%s?t=%s", code, tok);
        char num[TT_LABEL_URL_MAX];
        assert_int_equal(tt_label_url(BASE, code, tok, num, sizeof num, NULL), TT_OK);
        tt_label a, b;
        assert_int_equal(tt_label_parse(b64url, &a, &err), TT_OK);
        assert_int_equal(tt_label_parse(num, &b, &err), TT_OK);
        assert_memory_equal(a.sig, b.sig, 64);
        assert_memory_equal(a.hash16, b.hash16, 16);
        assert_int_equal(a.key_id, b.key_id);
        assert_int_equal(check(b64url, &vlog, &err), TT_OK);
        int vb = qr_version(b64url), vn = qr_version(num);
        print_message("QR version at error correction M: %d with the token in base64url, %d in "
                      "digits (numeric mode)\n",
                      vb, vn);
        assert_true(vn >= 1 && vn < vb);
    }
    /* a tampered token: positions of the signature part, in both forms */
    for (int i = 40; i < TT_LABEL_TOKEN_LEN - 1; i += 7) {
        strcpy(bad, b64url);
        char *bt = strstr(bad, "?t=") + 3;
        bt[i] = bt[i] == 'A' ? 'B' : 'A';
        assert_int_equal(check(bad, &vlog, &err), TT_ERR_BAD_SIGNATURE);
        assert_non_null(strstr(err.message, "altered or forged"));
    }
    for (int i = 120; i < TT_LABEL_TOKEN_DIGITS; i += 9) {
        strcpy(bad, url);
        char *bt = strstr(bad, "?n=") + 3;
        bt[i] = (char)('0' + (bt[i] - '0' + 1) % 10);
        assert_int_equal(check(bad, &vlog, &err), TT_ERR_BAD_SIGNATURE);
    }
    /* digits that make more than 91 bytes, or a digit short */
    strcpy(bad, url);
    memset(strstr(bad, "?n=") + 3, '9', TT_LABEL_TOKEN_DIGITS);
    assert_int_equal(check(bad, &vlog, &err), TT_ERR_MALFORMED);
    strcpy(bad, url);
    bad[strlen(bad) - 1] = '\0';
    assert_int_equal(check(bad, &vlog, &err), TT_ERR_MALFORMED);
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

static void draw_at(const qr_geometry *gp, const char *url, const char *code, qr_image *img)
{
    qr_geometry g = *gp;
    int w, h;
    char pretty[TT_CODE_PRETTY + 1], err[200];
    tt_code_pretty(code, pretty);
    qr_label_text t = {pretty, "当归 Angelica sinensis", "500 kg · 药材 · 一等",
                       "甘肃省 定西市 岷县（道地）", NULL, NULL, NULL};
    qr_label_size(&g, &w, &h);
    assert_int_equal(qr_image_new(img, w, h), 0);
    if (qr_draw_label(img, 0, 0, &g, url, &t, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void draw(const char *url, const char *code, qr_image *img)
{
    qr_geometry g = {60, 30, 300};
    draw_at(&g, url, code, img);
}

/* A Gaussian blur of sigma 1 pixel: a thermal print head's spread, a phone's focus. */
static void gauss(const qr_image *in, qr_image *out)
{
    static const double k[7] = {0.0044, 0.0540, 0.2420, 0.3991, 0.2420, 0.0540, 0.0044};
    qr_image tmp;
    qr_image_new(&tmp, in->w, in->h);
    qr_image_new(out, in->w, in->h);
    for (int pass = 0; pass < 2; pass++) {
        const qr_image *src = pass ? &tmp : in;
        qr_image *dst = pass ? out : &tmp;
        for (int y = 0; y < in->h; y++)
            for (int x = 0; x < in->w; x++) {
                double v = 0;
                for (int d = -3; d <= 3; d++) {
                    int X = pass ? x : x + d, Y = pass ? y + d : y;
                    X = X < 0 ? 0 : X >= in->w ? in->w - 1 : X;
                    Y = Y < 0 ? 0 : Y >= in->h ? in->h - 1 : Y;
                    v += k[d + 3] * src->px[Y * in->w + X];
                }
                dst->px[y * in->w + x] = (uint8_t)(v + 0.5);
            }
    }
    qr_image_free(&tmp);
}

/* The label photographed 6 degrees askew. */
static void tilt(const qr_image *in, qr_image *out)
{
    double a = 6 * 3.14159265358979 / 180, c = cos(a), s = sin(a);
    qr_image_new(out, in->w, in->h);
    double cx = in->w / 2.0, cy = in->h / 2.0;
    for (int y = 0; y < in->h; y++)
        for (int x = 0; x < in->w; x++) {
            double sx = c * (x - cx) + s * (y - cy) + cx, sy = -s * (x - cx) + c * (y - cy) + cy;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            double v = 255;
            if (x0 >= 0 && y0 >= 0 && x0 + 1 < in->w && y0 + 1 < in->h) {
                double ax = sx - x0, ay = sy - y0;
                v = (1 - ax) * (1 - ay) * in->px[y0 * in->w + x0] +
                    ax * (1 - ay) * in->px[y0 * in->w + x0 + 1] +
                    (1 - ax) * ay * in->px[(y0 + 1) * in->w + x0] +
                    ax * ay * in->px[(y0 + 1) * in->w + x0 + 1];
            }
            out->px[y * in->w + x] = (uint8_t)(v + 0.5);
        }
}

static int decodes(const qr_image *img, const char *url)
{
    char *text = qr_decode(img);
    int ok = text && strcmp(text, url) == 0;
    free(text);
    return ok;
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

/* Decode rates at a small thermal label, at the size the CLI asks for instead, and at
 * the default, under blur, tilt and JPEG: why label refuses fewer than 3 dots a module. */
/* Every line beside the symbol is printed whole on every label size `label` takes: on a
 * small one the short forms (当归, 岷县（道地）), on 60 x 30 mm the full ones. */
static void test_every_line_fits(void **state)
{
    (void)state;
    const char *url = "https://trace.example.cn/cq/b/2611224839105527?t=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xN";
    qr_label_text t = {"2611 2248 3910 5527", "金银花 Lonicerae Japonicae Flos", "1250.5 kg · 药材 · 统货",
                       "新疆维吾尔自治区 伊犁哈萨克自治州 伊宁县（道地）", "金银花", "1250.5 kg · 统货",
                       "伊宁县（道地）"};
    const double sizes[][2] = {{60, 30}, {50, 30}, {40, 30}, {40, 25}, {50, 25}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        qr_geometry g = {sizes[i][0], sizes[i][1], 300};
        qr_label_line lines[QR_LABEL_LINES];
        char err[200];
        int cut = qr_label_layout(&g, url, &t, lines, err, sizeof err);
        if (cut != 0)
            fail_msg("%g x %g mm: %d lines cut (%s)", g.width_mm, g.height_mm, cut, err);
        for (int k = 0; k < QR_LABEL_LINES; k++)
            if (lines[k].width > lines[k].room || lines[k].px < 6)
                fail_msg("%g x %g mm: line %d \"%s\" is %d px wide in %d", g.width_mm,
                         g.height_mm, k, lines[k].text, lines[k].width, lines[k].room);
        assert_string_equal(lines[1].text, t.code_pretty); /* the code is never shortened */
        if (g.width_mm >= 60) { /* room enough: the full forms */
            assert_string_equal(lines[0].text, "追溯码 Trace code");
            assert_string_equal(lines[2].text, t.herb);
        }
        if (g.width_mm <= 40) /* too little room: the short ones, whole */
            assert_string_equal(lines[4].text, t.origin_short);
    }
}

static void test_decode_rates_by_size(void **state)
{
    (void)state;
    static const qr_geometry sizes[] = {{40, 20, 203}, {54, 27, 203}, {60, 30, 300}};
    enum { N = 12 };
    char *jpg;
    /* the same twelve symbols every run (fixed codes, a fixed log key): a rate, not a draw */
    tt_keypair fixed;
    uint8_t seed[32];
    memset(seed, 7, sizeof seed);
    tt_keypair_from_seed(&fixed, seed);
    assert_true(asprintf(&jpg, "%s/rate.jpg", dir) > 0);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int ok_blur = 0, ok_tilt = 0, ok_jpeg = 0, dots = 0;
        for (int i = 0; i < N; i++) {
            char code[17], url[TT_LABEL_URL_MAX], err[200];
            qr_image img, b, t, back;
            snprintf(code, sizeof code, "261122%09d", 104729 * (i + 1));
            code[15] = (char)('0' + tt_damm(code, 15));
            code[16] = '\0';
            uint8_t h[32]; /* the hash too: the token, and so the symbol, is the same */
            crypto_generichash(h, sizeof h, (const uint8_t *)code, 16, NULL, 0);
            make_url_h(code, &fixed, ORIGIN, h, url);
            dots = qr_module_dots(&sizes[k], url);
            draw_at(&sizes[k], url, code, &img);
            gauss(&img, &b);
            ok_blur += decodes(&b, url);
            tilt(&img, &t);
            ok_tilt += decodes(&t, url);
            assert_int_equal(qr_write_jpeg(&b, 50, jpg), 0);
            assert_int_equal(qr_load_image(jpg, &back, err, sizeof err), 0);
            ok_jpeg += decodes(&back, url);
            qr_image_free(&img), qr_image_free(&b), qr_image_free(&t), qr_image_free(&back);
        }
        print_message("%2.0f × %2.0f mm at %d dpi, %d dots a module: decoded %d/%d blurred "
                      "(σ 1 px), %d/%d tilted 6°, %d/%d blurred and JPEG q50\n",
                      sizes[k].width_mm, sizes[k].height_mm, sizes[k].dpi, dots, ok_blur, N,
                      ok_tilt, N, ok_jpeg, N);
        if (k == 0) /* what label refuses */
            assert_true(dots < 3);
        else { /* what it prints: every label reads */
            assert_true(dots >= 3);
            assert_int_equal(ok_blur, N);
            assert_int_equal(ok_tilt, N);
            assert_int_equal(ok_jpeg, N);
        }
    }
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
        cmocka_unit_test(test_every_line_fits),
        cmocka_unit_test(test_decode_rates_by_size),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
