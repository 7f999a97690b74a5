/*
 * qrimage.c: QR labels out and in, for the programs that draw or read them
 * (tcmtrace, tcmtrace-web), in its own archive so that the daemon and
 * libtcmtrace need no image library.
 *
 * Symbols are encoded at error correction M with a four-module quiet zone
 * and drawn with whole-pixel modules, so a 300 dpi print scans from a phone
 * and survives a photo's blur. Text is drawn with FreeType from a CJK font
 * (WenQuanYi Micro Hei from Debian's fonts-wqy-microhei, or another one
 * named by TCMTRACE_FONT).
 */
#define _GNU_SOURCE
#include "tcmtrace/qrimage.h"
#include "tcmtrace/tracecode.h"
#include "tcmtrace/util.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include <jpeglib.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zbar.h>

#define QUIET 4

static const char *const FONTS[] = {
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
};

/* A label URL whose token is digits ("?n=") goes in two segments: the URL in
 * byte mode, the digits in numeric mode (10 bits for 3 digits). */
static QRcode *encode(const char *text)
{
    const char *n = strstr(text, "?n=");
    size_t len = strlen(text);
    if (n == NULL || n[3] == '\0' || strspn(n + 3, "0123456789") != strlen(n + 3))
        return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    QRinput *in = QRinput_new2(0, QR_ECLEVEL_M);
    size_t head = (size_t)(n + 3 - text);
    QRcode *q = NULL;
    if (in && QRinput_append(in, QR_MODE_8, (int)head, (const unsigned char *)text) == 0 &&
        QRinput_append(in, QR_MODE_NUM, (int)(len - head), (const unsigned char *)n + 3) == 0)
        q = QRcode_encodeInput(in);
    if (in)
        QRinput_free(in);
    return q;
}

int qr_version(const char *text)
{
    QRcode *q = encode(text);
    if (q == NULL)
        return -1;
    int v = q->version;
    QRcode_free(q);
    return v;
}

int qr_image_new(qr_image *img, int w, int h)
{
    img->w = w;
    img->h = h;
    img->px = malloc((size_t)w * (size_t)h);
    if (img->px == NULL)
        return -1;
    memset(img->px, 255, (size_t)w * (size_t)h);
    return 0;
}

void qr_image_free(qr_image *img)
{
    free(img->px);
    img->px = NULL;
}

void qr_label_size(const qr_geometry *g, int *w, int *h)
{
    *w = (int)(g->width_mm * g->dpi / 25.4 + 0.5);
    *h = (int)(g->height_mm * g->dpi / 25.4 + 0.5);
}

static void fill(qr_image *img, int x, int y, int w, int h, uint8_t v)
{
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++)
            if (i >= 0 && j >= 0 && i < img->w && j < img->h)
                img->px[(size_t)j * (size_t)img->w + (size_t)i] = v;
}

int qr_symbol_image(const char *text, int mod, qr_image *img)
{
    QRcode *q = encode(text);
    if (q == NULL || mod < 1 || mod > 32 ||
        qr_image_new(img, (q->width + 2 * QUIET) * mod, (q->width + 2 * QUIET) * mod) != 0) {
        if (q)
            QRcode_free(q);
        return -1;
    }
    for (int r = 0; r < q->width; r++)
        for (int c = 0; c < q->width; c++)
            if (q->data[r * q->width + c] & 1)
                fill(img, (QUIET + c) * mod, (QUIET + r) * mod, mod, mod, 0);
    QRcode_free(q);
    return 0;
}

/* ---- text with FreeType ---------------------------------------------------- */

typedef struct font {
    FT_Library lib;
    FT_Face face;
} font;

static int font_open(font *f, char *err, size_t errlen)
{
    const char *env = getenv("TCMTRACE_FONT");
    if (FT_Init_FreeType(&f->lib) != 0) {
        snprintf(err, errlen, "FreeType failed to start");
        return -1;
    }
    if (env && FT_New_Face(f->lib, env, 0, &f->face) == 0)
        return 0;
    for (size_t i = 0; i < sizeof FONTS / sizeof *FONTS; i++)
        if (access(FONTS[i], R_OK) == 0 && FT_New_Face(f->lib, FONTS[i], 0, &f->face) == 0)
            return 0;
    FT_Done_FreeType(f->lib);
    snprintf(err, errlen,
             "no font with Chinese characters was found: install fonts-wqy-microhei or set "
             "TCMTRACE_FONT");
    return -1;
}

static void font_close(font *f)
{
    FT_Done_Face(f->face);
    FT_Done_FreeType(f->lib);
}

static uint32_t next_cp(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : 4;
    uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1F : n == 3 ? s[0] & 0x0F : s[0] & 0x07;
    for (int i = 1; i < n && s[i]; i++)
        cp = cp << 6 | (s[i] & 0x3F);
    *p += n;
    return cp;
}

/* The width of `text` at `px` pixels. */
static int text_width(font *f, int px, const char *text)
{
    int w = 0;
    FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px);
    for (const char *p = text; *p;) {
        uint32_t cp = next_cp(&p);
        if (FT_Load_Char(f->face, cp, FT_LOAD_DEFAULT) == 0)
            w += (int)(f->face->glyph->advance.x >> 6);
    }
    return w;
}

/* Draws `text` with its baseline at y, clipped at x_max; returns the end x. */
static int draw_text(qr_image *img, font *f, int px, int x, int y, int x_max, const char *text)
{
    FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px);
    for (const char *p = text; *p;) {
        uint32_t cp = next_cp(&p);
        if (FT_Load_Char(f->face, cp, FT_LOAD_RENDER) != 0)
            continue;
        FT_GlyphSlot g = f->face->glyph;
        if (x + (int)(g->advance.x >> 6) > x_max)
            break;
        for (unsigned r = 0; r < g->bitmap.rows; r++)
            for (unsigned col = 0; col < g->bitmap.width; col++) {
                int X = x + g->bitmap_left + (int)col, Y = y - g->bitmap_top + (int)r;
                if (X < 0 || Y < 0 || X >= img->w || Y >= img->h)
                    continue;
                uint8_t a = g->bitmap.buffer[r * (unsigned)g->bitmap.pitch + col];
                uint8_t *d = &img->px[(size_t)Y * (size_t)img->w + (size_t)X];
                int v = *d * (255 - a) / 255;
                *d = (uint8_t)v;
            }
        x += (int)(g->advance.x >> 6);
    }
    return x;
}

/* The forms of line i, longest first, and its size: the header, the code, herb, detail,
 * origin and footer. The code has one form (people type it): it only shrinks. */
static int line_forms(const qr_label_text *t, int i, const char *forms[3])
{
    const char *all[QR_LABEL_LINES][3] = {
        {"追溯码 Trace code", "追溯码", NULL},
        {t->code_pretty, NULL, NULL},
        {t->herb, t->herb_short, NULL},
        {t->detail, t->detail_short, NULL},
        {t->origin, t->origin_short, NULL},
        {"扫码验真 · scan to verify", "扫码验真", NULL},
    };
    int n = 0;
    for (int k = 0; k < 3; k++)
        if (all[i][k] && *all[i][k])
            forms[n++] = all[i][k];
    return n;
}

/* Sizes (per cent of the label's height) and baselines (from its top) of the six lines. */
static void line_sizes(int h, int margin, int px[QR_LABEL_LINES], int base[QR_LABEL_LINES])
{
    int line = h / 7, big = h * 12 / 100, small = h * 7 / 100, mid = h * 9 / 100;
    int want[QR_LABEL_LINES] = {small, big, mid, mid, mid, small};
    int by = margin + small;
    for (int i = 0; i < QR_LABEL_LINES; i++) {
        px[i] = want[i];
        base[i] = i == 5 ? h - margin : by;
        by += line + (i == 0 ? big / 4 : i == 1 ? mid / 5 : 0);
    }
}

static int layout(font *f, int h, int margin, int room, const qr_label_text *t,
                  qr_label_line lines[QR_LABEL_LINES], int base[QR_LABEL_LINES])
{
    int want[QR_LABEL_LINES], cut = 0;
    line_sizes(h, margin, want, base);
    for (int i = 0; i < QR_LABEL_LINES; i++) {
        const char *forms[3];
        int n = line_forms(t, i, forms), k = 0, px = want[i];
        if (n == 0) {
            lines[i] = (qr_label_line){"", px, 0, room};
            continue;
        }
        /* the longest form legible whole at four fifths of the size, else the shortest */
        while (k < n - 1 && text_width(f, want[i] * 4 / 5, forms[k]) > room)
            k++;
        while (px > 6 && text_width(f, px, forms[k]) > room)
            px--;
        int wd = text_width(f, px, forms[k]);
        lines[i] = (qr_label_line){forms[k], px, wd, room};
        cut += wd > room;
    }
    return cut;
}

int qr_label_layout(const qr_geometry *g, const char *url, const qr_label_text *t,
                    qr_label_line lines[QR_LABEL_LINES], char *err, size_t errlen)
{
    int w, h;
    qr_label_size(g, &w, &h);
    QRcode *q = encode(url);
    if (q == NULL) {
        snprintf(err, errlen, "the label URL does not fit in a QR symbol");
        return -1;
    }
    font f;
    if (font_open(&f, err, errlen) != 0) {
        QRcode_free(q);
        return -1;
    }
    int margin = h / 16 > 2 ? h / 16 : 2;
    int mod = (h - 2 * margin) / (q->width + 2 * QUIET);
    if (mod < 1)
        mod = 1;
    int side = mod * (q->width + 2 * QUIET);
    int tx = margin + side + margin / 2, tmax = w - margin / 2, base[QR_LABEL_LINES];
    int cut = layout(&f, h, margin, tmax - tx, t, lines, base);
    font_close(&f);
    QRcode_free(q);
    return cut;
}

int qr_draw_label(qr_image *img, int x, int y, const qr_geometry *g, const char *url,
                  const qr_label_text *t, char *err, size_t errlen)
{
    int w, h;
    qr_label_size(g, &w, &h);
    QRcode *q = encode(url);
    if (q == NULL) {
        snprintf(err, errlen, "the label URL does not fit in a QR symbol");
        return -1;
    }
    font f;
    if (font_open(&f, err, errlen) != 0) {
        QRcode_free(q);
        return -1;
    }
    int margin = h / 16 > 2 ? h / 16 : 2;
    int mod = (h - 2 * margin) / (q->width + 2 * QUIET);
    if (mod < 1)
        mod = 1;
    int side = mod * (q->width + 2 * QUIET);
    int qx = x + margin, qy = y + (h - side) / 2;
    fill(img, x, y, w, 1, 160); /* a thin cutting frame */
    fill(img, x, y + h - 1, w, 1, 160);
    fill(img, x, y, 1, h, 160);
    fill(img, x + w - 1, y, 1, h, 160);
    for (int r = 0; r < q->width; r++)
        for (int c = 0; c < q->width; c++)
            if (q->data[r * q->width + c] & 1)
                fill(img, qx + (QUIET + c) * mod, qy + (QUIET + r) * mod, mod, mod, 0);
    int tx = qx + side + margin / 2, tmax = x + w - margin / 2;
    qr_label_line lines[QR_LABEL_LINES];
    int base[QR_LABEL_LINES];
    layout(&f, h, margin, tmax - tx, t, lines, base);
    for (int i = 0; i < QR_LABEL_LINES; i++)
        draw_text(img, &f, lines[i].px, tx, y + base[i], tmax, lines[i].text);
    font_close(&f);
    QRcode_free(q);
    return 0;
}

static int png_to(FILE *fp, const qr_image *img, int dpi)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_uint_32 ppm = (png_uint_32)(dpi / 0.0254 + 0.5);
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    png_write_info(png, info);
    for (int r = 0; r < img->h; r++)
        png_write_row(png, img->px + (size_t)r * (size_t)img->w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int qr_write_png(const qr_image *img, int dpi, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    if (png_to(fp, img, dpi) != 0) {
        fclose(fp);
        snprintf(err, errlen, "libpng failed writing %s", path);
        return -1;
    }
    if (fclose(fp) != 0) {
        snprintf(err, errlen, "cannot finish %s", path);
        return -1;
    }
    return 0;
}

int qr_png_bytes(const qr_image *img, int dpi, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *fp = open_memstream(buf, len);
    if (fp == NULL)
        return -1;
    int rc = png_to(fp, img, dpi);
    if (fclose(fp) != 0 || rc != 0) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void qr_label_of_batch(json_t *b, qr_label_strings *l)
{
    json_t *h = json_object_get(b, "herb"), *o = json_object_get(b, "origin");
    char q[48];
    tt_code_pretty(jstr(b, "id"), l->pretty);
    snprintf(l->herb, sizeof l->herb, "%s %s", jstr(h, "name_zh"), jstr(h, "latin"));
    /* what remains now, as the goods on the table weigh */
    snprintf(l->detail, sizeof l->detail, "%s · %s · %s",
             tt_qty_text(json_integer_value(json_object_get(json_object_get(b, "qty"), "remaining")),
                         q),
             jstr(b, "form"), jstr(b, "grade"));
    snprintf(l->origin, sizeof l->origin, "%s %s %s%s", jstr(o, "province"), jstr(o, "city"),
             jstr(o, "county"), json_is_true(json_object_get(o, "daodi")) ? "（道地）" : "");
    snprintf(l->herb_s, sizeof l->herb_s, "%s", jstr(h, "name_zh"));
    snprintf(l->detail_s, sizeof l->detail_s, "%s · %s", q, jstr(b, "grade"));
    snprintf(l->origin_s, sizeof l->origin_s, "%s%s", jstr(o, "county"),
             json_is_true(json_object_get(o, "daodi")) ? "（道地）" : "");
    l->text = (qr_label_text){l->pretty, l->herb,   l->detail,  l->origin,
                              l->herb_s, l->detail_s, l->origin_s};
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

int qr_module_dots(const qr_geometry *g, const char *url)
{
    int w, h;
    qr_label_size(g, &w, &h);
    QRcode *q = encode(url);
    if (q == NULL)
        return 0;
    int margin = h / 16 > 2 ? h / 16 : 2;
    int mod = (h - 2 * margin) / (q->width + 2 * QUIET);
    QRcode_free(q);
    return mod;
}

/* The font size (mm) at which s fits in width mm, at most want: a wide
 * (CJK) character is about 1 em, a narrow one about 0.6 em. */
static double fit_size(const char *s, double want, double width)
{
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p < 0x80) {
            em += 0.6;
            p++;
        } else {
            em += 1.0;
            p += *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        }
    }
    return em * want <= width || em == 0 ? want : width / em;
}

static int svg_clip_id;

int qr_svg_label(void *out, double x, double y, const qr_geometry *g, const char *url,
                 const qr_label_text *t)
{
    FILE *f = out;
    QRcode *q = encode(url);
    if (q == NULL)
        return -1;
    double h = g->height_mm, w = g->width_mm, margin = h / 16;
    double mod = (h - 2 * margin) / (q->width + 2 * QUIET), side = mod * (q->width + 2 * QUIET);
    double qx = x + margin + QUIET * mod, qy = y + (h - side) / 2 + QUIET * mod;
    int id = ++svg_clip_id; /* nothing of one label may spill onto the next */
    fprintf(f,
            "<clipPath id=\"label%d\"><rect x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" "
            "height=\"%.3f\"/></clipPath>\n<g clip-path=\"url(#label%d)\">\n",
            id, x, y, w, h, id);
    fprintf(f,
            "<rect x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" fill=\"white\" "
            "stroke=\"#a0a0a0\" stroke-width=\"0.1\"/>\n",
            x, y, w, h);
    fprintf(f, "<path fill=\"black\" stroke=\"none\" d=\"");
    for (int r = 0; r < q->width; r++)
        for (int c = 0; c < q->width; c++)
            if (q->data[r * q->width + c] & 1)
                fprintf(f, "M%.3f %.3fh%.3fv%.3fh-%.3fz", qx + c * mod, qy + r * mod, mod, mod,
                        mod);
    fprintf(f, "\"/>\n");
    double tx = x + margin + side + margin / 2, line = h / 7;
    double sizes[] = {h * 0.07, h * 0.12, h * 0.09, h * 0.09, h * 0.09, h * 0.07};
    double by = y + margin + sizes[0], room = x + w - margin / 2 - tx;
    for (int i = 0; i < QR_LABEL_LINES; i++) {
        /* as the PNG: the longest form legible whole at four fifths of its size */
        const char *forms[3];
        int n = line_forms(t, i, forms), k = 0;
        if (n == 0)
            continue;
        while (k < n - 1 && fit_size(forms[k], sizes[i], room) < sizes[i] * 0.8)
            k++;
        double fs = fit_size(forms[k], sizes[i], room); /* the trace code stays whole */
        fprintf(f, "<text x=\"%.3f\" y=\"%.3f\" font-size=\"%.3f\">", tx,
                i == 5 ? y + h - margin : by, fs);
        xml_text(f, forms[k]);
        fprintf(f, "</text>\n");
        by += line + (i == 0 ? sizes[1] / 4 : i == 1 ? sizes[2] / 5 : 0);
    }
    fprintf(f, "</g>\n");
    QRcode_free(q);
    return 0;
}

int qr_print_terminal(const char *url, const qr_label_text *t)
{
    QRcode *q = encode(url);
    if (q == NULL)
        return -1;
    int n = q->width + 2 * QUIET;
    const char *text[] = {"",        t->code_pretty, t->herb,
                          t->detail, t->origin,      "扫码验真 · scan to verify"};
    int row = 0;
    for (int r = 0; r < n; r += 2, row++) {
        fputs("\033[30;47m", stdout); /* black on white, whatever the terminal's colours */
        for (int c = 0; c < n; c++) {
            int qr = r - QUIET, qc = c - QUIET;
            int top = qr >= 0 && qr < q->width && qc >= 0 && qc < q->width &&
                      (q->data[qr * q->width + qc] & 1);
            int bot = qr + 1 >= 0 && qr + 1 < q->width && qc >= 0 && qc < q->width &&
                      (q->data[(qr + 1) * q->width + qc] & 1);
            fputs(top && bot ? "█" : top ? "▀" : bot ? "▄" : " ", stdout);
        }
        fputs("\033[0m", stdout);
        int k = row - 2;
        if (k >= 0 && k < (int)(sizeof text / sizeof *text))
            printf("  %s", text[k]);
        putchar('\n');
    }
    QRcode_free(q);
    return 0;
}

/* ---- reading -------------------------------------------------------------------------- */

static int load_png(FILE *fp, qr_image *img, char *err, size_t errlen)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    img->px = NULL;
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(img->px);
        img->px = NULL;
        snprintf(err, errlen, "the PNG file is damaged");
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w == 0 || h == 0 || w > 20000 || h > 20000)
        png_error(png, "size");
    /* everything to 8-bit grey */
    png_set_strip_16(png);
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 1)
        png_error(png, "channels");
    img->w = (int)w;
    img->h = (int)h;
    img->px = malloc((size_t)w * h);
    png_bytep *rows = malloc(sizeof(png_bytep) * h);
    for (png_uint_32 r = 0; r < h; r++)
        rows[r] = img->px + (size_t)r * w;
    png_read_image(png, rows);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
};

static void jpeg_fail(j_common_ptr c)
{
    longjmp(((struct jerr *)c->err)->jb, 1);
}

static int load_jpeg(FILE *fp, qr_image *img, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    struct jerr je;
    d.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    img->px = NULL;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&d);
        free(img->px);
        img->px = NULL;
        snprintf(err, errlen, "the JPEG file is damaged");
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&d);
    if (d.output_width > 20000 || d.output_height > 20000)
        longjmp(je.jb, 1);
    img->w = (int)d.output_width;
    img->h = (int)d.output_height;
    img->px = malloc((size_t)img->w * (size_t)img->h);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = img->px + (size_t)d.output_scanline * (size_t)img->w;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return 0;
}

int qr_load_image(const char *path, qr_image *img, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    unsigned char magic[8] = {0};
    if (fp == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    size_t n = fread(magic, 1, sizeof magic, fp);
    rewind(fp);
    int rc;
    if (n == 8 && png_sig_cmp(magic, 0, 8) == 0)
        rc = load_png(fp, img, err, errlen);
    else if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        rc = load_jpeg(fp, img, err, errlen);
    else {
        snprintf(err, errlen, "%s is neither a PNG nor a JPEG image", path);
        rc = -1;
    }
    fclose(fp);
    return rc;
}

int qr_write_jpeg(const qr_image *img, int quality, const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = (JDIMENSION)img->w;
    c.image_height = (JDIMENSION)img->h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->px + (size_t)c.next_scanline * (size_t)img->w;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(fp);
}

size_t qr_decode_all(const qr_image *img, char ***texts)
{
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_t *zi = zbar_image_create();
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, (unsigned)img->w, (unsigned)img->h);
    zbar_image_set_data(zi, img->px, (unsigned long)img->w * (unsigned long)img->h, NULL);
    size_t n = 0;
    long *ys = NULL, *xs = NULL;
    *texts = NULL;
    if (zbar_scan_image(sc, zi) > 0) {
        for (const zbar_symbol_t *s = zbar_image_first_symbol(zi); s; s = zbar_symbol_next(s)) {
            if (zbar_symbol_get_type(s) != ZBAR_QRCODE)
                continue;
            char **nt = realloc(*texts, (n + 2) * sizeof *nt);
            long *ny = realloc(ys, (n + 1) * sizeof *ny), *nx = realloc(xs, (n + 1) * sizeof *nx);
            if (nt)
                *texts = nt;
            if (ny)
                ys = ny;
            if (nx)
                xs = nx;
            if (nt == NULL || ny == NULL || nx == NULL)
                break;
            long y = (long)zbar_symbol_get_loc_y(s, 0), x = (long)zbar_symbol_get_loc_x(s, 0);
            for (unsigned k = 1; k < zbar_symbol_get_loc_size(s); k++) {
                if ((long)zbar_symbol_get_loc_y(s, k) < y)
                    y = (long)zbar_symbol_get_loc_y(s, k);
                if ((long)zbar_symbol_get_loc_x(s, k) < x)
                    x = (long)zbar_symbol_get_loc_x(s, k);
            }
            /* reading order: rows top to bottom (within a tolerance), then left to right */
            size_t at = n;
            while (at > 0 && (ys[at - 1] > y + 16 || (labs(ys[at - 1] - y) <= 16 && xs[at - 1] > x))) {
                nt[at] = nt[at - 1], ys[at] = ys[at - 1], xs[at] = xs[at - 1];
                at--;
            }
            nt[at] = strdup(zbar_symbol_get_data(s)), ys[at] = y, xs[at] = x;
            nt[++n] = NULL;
        }
    }
    free(ys);
    free(xs);
    zbar_image_destroy(zi);
    zbar_image_scanner_destroy(sc);
    return n;
}

char *qr_decode(const qr_image *img)
{
    char **texts, *first = NULL;
    size_t n = qr_decode_all(img, &texts);
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            first = texts[0];
        else
            free(texts[i]);
    }
    free(texts);
    return first;
}
