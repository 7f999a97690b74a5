/*
 * tcmtrace/qrimage.h: QR symbols and label images — encoding (libqrencode), drawing
 * (FreeType for text, libpng to write), SVG and terminal output, and
 * reading a symbol back from a PNG or JPEG photo (zbar).
 */
#ifndef TCMTRACE_QRIMAGE_H
#define TCMTRACE_QRIMAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* An 8-bit grey image, 255 = white. */
typedef struct qr_image {
    int w, h;
    uint8_t *px;
} qr_image;

/* What is printed beside the symbol. */
typedef struct qr_label_text {
    const char *code_pretty; /* "2611 2248 3910 5527" */
    const char *herb;        /* "当归 Angelica sinensis" */
    const char *detail;      /* "500 kg · 药材 · 一等" */
    const char *origin;      /* "甘肃省 定西市 岷县（道地）" */
    /* shorter forms for a small label, or NULL: "当归", "500 kg · 一等", "岷县（道地）" */
    const char *herb_short, *detail_short, *origin_short;
} qr_label_text;

/* One line of text beside the symbol, as a label of some size prints it. */
typedef struct qr_label_line {
    const char *text; /* the form chosen: the longest that is legible whole, else the shortest */
    int px;           /* its size in pixels */
    int width, room;  /* its width and the width it has, in pixels */
} qr_label_line;
#define QR_LABEL_LINES 6

/* The text of a batch's label, from its state record (tcmtrace/state.h). */
typedef struct qr_label_strings {
    char pretty[24], herb[256], detail[160], origin[256], herb_s[128], detail_s[96], origin_s[128];
    qr_label_text text; /* pointing into the above */
} qr_label_strings;
void qr_label_of_batch(json_t *batch, qr_label_strings *out);

typedef struct qr_geometry {
    double width_mm, height_mm;
    int dpi;
} qr_geometry;

/* Printer dots per module of the label's symbol for `url` at g (whole dots, as drawn). */
int qr_module_dots(const qr_geometry *g, const char *url);

/* The QR version (1-40) `text` needs at error correction M, or -1. */
int qr_version(const char *text);

/* Draws one label (symbol with quiet zone, text beside) into `img` at x, y.
 * Returns 0, or -1 with a sentence in err (e.g. no CJK font). */
int qr_draw_label(qr_image *img, int x, int y, const qr_geometry *g, const char *url,
                  const qr_label_text *t, char *err, size_t errlen);

/* The lines a label of geometry g prints beside the symbol of `url`: for each, the longest of
 * its forms that fits whole at no less than four fifths of its size, else its shortest form
 * made as small as it must be. Returns how many lines still do not fit whole (0 for every
 * size `label` accepts), or -1 with a sentence in err. */
int qr_label_layout(const qr_geometry *g, const char *url, const qr_label_text *t,
                    qr_label_line lines[QR_LABEL_LINES], char *err, size_t errlen);

/* The bare symbol of `text` (error correction M, quiet zone), `mod` pixels a module. */
int qr_symbol_image(const char *text, int mod, qr_image *img);

/* Pixel size of one label. */
void qr_label_size(const qr_geometry *g, int *w, int *h);

/* A white image; free with qr_image_free. */
int qr_image_new(qr_image *img, int w, int h);
void qr_image_free(qr_image *img);

/* Writes a grey PNG with its DPI recorded. */
int qr_write_png(const qr_image *img, int dpi, const char *path, char *err, size_t errlen);

/* The same PNG in memory: *buf (free it) of *len bytes. */
int qr_png_bytes(const qr_image *img, int dpi, char **buf, size_t *len);

/* Appends one label as SVG elements at (x, y) mm to `out` (a FILE *). */
int qr_svg_label(void *out, double x_mm, double y_mm, const qr_geometry *g, const char *url,
                 const qr_label_text *t);

/* Prints the symbol in UTF-8 half blocks with the text beside it. */
int qr_print_terminal(const char *url, const qr_label_text *t);

/* Loads a PNG or JPEG (by its first bytes) as grey. */
int qr_load_image(const char *path, qr_image *img, char *err, size_t errlen);

/* Writes a grey JPEG (tests use it to make "photos"). */
int qr_write_jpeg(const qr_image *img, int quality, const char *path);

/* Decodes the first QR symbol in `img` into a malloc'd string, or NULL. */
char *qr_decode(const qr_image *img);
/* Every QR symbol in img (a sheet of labels): *texts gets n malloc'd strings (NULL-ended). */
size_t qr_decode_all(const qr_image *img, char ***texts);

#endif
