/*
 * cmd_label.c: `tcmtrace label` prints QR labels; `tcmtrace scan` reads one
 * from a photo (or its text), checks it offline against the trusted log key
 * and, when a daemon is reachable, shows the lot's state and trace with
 * proofs and any counterfeit signal — loudly when something is wrong.
 */
#define _GNU_SOURCE
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tcmtrace/qrimage.h"

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static const char LABEL_USAGE[] =
    "usage: tcmtrace label CODE [--format png|svg|term] [--out FILE] [--all-children]\n"
    "         [--width-mm N] [--height-mm N] [--dpi N] [--base-url URL] [--digital-link]\n"
    "         [--force]\n"
    "Prints the QR label of a batch: the symbol (error correction M, quiet zone) with\n"
    "the trace code, herb (中文 and Latin), quantity and origin beside it. PNG and SVG\n"
    "need --out; with --all-children the children of a split lot go on one sheet,\n"
    "three labels to a row. Default size 60 × 30 mm at 300 dpi; default base URL\n"
    "the ledger's base URL (set at tcmtraced init --base-url; https://<log origin>\n"
    "when none was set). --digital-link, for a lot with a GTIN, writes the symbol as a\n"
    "GS1 Digital Link, <base URL>/01/<GTIN-14>/10/<trace code>?n=<token>, which\n"
    "tcmtrace-web opens as the same page. A size at which a QR module would be fewer\n"
    "than 3 printer dots is refused (it does not scan after a thermal printer's blur),\n"
    "with the smallest size that works; --force prints it anyway.\n";

typedef struct one_label {
    char code[TT_CODE_LEN + 1];
    char url[TT_LABEL_URL_MAX];
    qr_label_strings s;
} one_label;

static int fetch_label(cli *c, const char *code, const char *base, int dl, one_label *l)
{
    json_t *lr, *br;
    int ex = cli_request(c, json_pack("{s:s, s:s}", "op", "label", "id", code), &lr);
    if (ex)
        return ex;
    if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &br))) {
        json_decref(lr);
        return ex;
    }
    json_t *b = json_object_get(br, "batch");
    char base_buf[300];
    if (base == NULL) {
        if (*js(lr, "base_url"))
            snprintf(base_buf, sizeof base_buf, "%s", js(lr, "base_url"));
        else
            snprintf(base_buf, sizeof base_buf, "https://%s", js(lr, "origin"));
        base = base_buf;
    }
    snprintf(l->code, sizeof l->code, "%s", code);
    tt_error err;
    if (dl && !*js(b, "gtin"))
        ex = cli_fail(EX_USAGE, "no_gtin",
                      "该批次没有 GTIN，因此没有 GS1 数字链接：去掉 --digital-link，或登记时加 --gtin / batch %s carries no GTIN, so it has no GS1 Digital Link; label it without "
                      "--digital-link, or register the product with --gtin",
                      code);
    else
        ex = (dl ? tt_label_dl_url(base, js(b, "gtin"), code, js(lr, "token"), l->url,
                                   sizeof l->url, &err)
                 : tt_label_url(base, code, js(lr, "token"), l->url, sizeof l->url, &err)) == TT_OK
                 ? EX_DONE
                 : cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
    qr_label_of_batch(b, &l->s);
    const char *st = js(b, "status");
    if (strcmp(st, "recalled") == 0 || strcmp(st, "held") == 0 || strcmp(st, "depleted") == 0 ||
        strcmp(st, "destroyed") == 0)
        fprintf(stderr, "⚠ 批次 %s %s：标签上的货不应出售 / batch %s is %s: goods under this label "
                        "must not be sold\n",
                l->s.pretty, fmt_status(st), code, st);
    json_decref(lr);
    json_decref(br);
    return ex;
}

static int children_of(cli *c, const char *code, char (**out)[TT_CODE_LEN + 1], size_t *n)
{
    json_t *br;
    int ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &br);
    if (ex)
        return ex;
    json_t *kids = json_object_get(json_object_get(br, "batch"), "children");
    *n = json_array_size(kids);
    *out = calloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++)
        snprintf((*out)[i], TT_CODE_LEN + 1, "%s", js(json_array_get(kids, i), "id"));
    json_decref(br);
    if (*n == 0)
        return cli_fail(EX_REFUSED, "not_found", "该批次没有子批次可以打标签 / batch %s has no children to label", code);
    return EX_DONE;
}

static int write_sheet(const char *fmt, const char *out, one_label *ls, size_t n,
                       const qr_geometry *g)
{
    int cols = n < 3 ? (int)n : 3, rows = (int)((n + 2) / 3);
    char err[300];
    if (strcmp(fmt, "svg") == 0) {
        FILE *f = fopen(out, "w");
        if (f == NULL)
            return cli_fail(EX_UNREACHABLE, "io", "无法写入输出文件：请检查目录和磁盘空间 / cannot write %s", out);
        double W = cols * g->width_mm, H = rows * g->height_mm;
        fprintf(
            f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%.2fmm\" height=\"%.2fmm\" viewBox=\"0 0 %.3f %.3f\" "
            "font-family=\"WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif\">\n",
            W, H, W, H);
        for (size_t i = 0; i < n; i++)
            qr_svg_label(f, (double)(i % 3) * g->width_mm, (double)(i / 3) * g->height_mm, g,
                         ls[i].url,
                         &ls[i].s.text);
        fprintf(f, "</svg>\n");
        return fclose(f) == 0 ? EX_DONE : cli_fail(EX_UNREACHABLE, "io", "无法写入输出文件：请检查目录和磁盘空间 / cannot write %s", out);
    }
    int w, h;
    qr_image img;
    qr_label_size(g, &w, &h);
    if (qr_image_new(&img, w * cols, h * rows) != 0)
        return cli_fail(EX_UNREACHABLE, "nomem", "标签页太大，内存不够 / the sheet is too large");
    int ex = EX_DONE;
    for (size_t i = 0; i < n && ex == EX_DONE; i++)
        if (qr_draw_label(&img, (int)(i % 3) * w, (int)(i / 3) * h, g, ls[i].url,
                          &ls[i].s.text,
                          err, sizeof err) != 0)
            ex = cli_fail(EX_UNREACHABLE, "io", "%s", err);
    if (ex == EX_DONE && qr_write_png(&img, g->dpi, out, err, sizeof err) != 0)
        ex = cli_fail(EX_UNREACHABLE, "io", "%s", err);
    qr_image_free(&img);
    return ex;
}

int cmd_label(cli *c, int argc, char **argv)
{
    const char *fmt = NULL, *out = NULL, *base = NULL, *arg = NULL;
    int all = 0, dl = 0, force = 0;
    qr_geometry g = {60, 30, 300};
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(LABEL_USAGE, stdout), EX_DONE;
        else if (strcmp(argv[i], "--format") == 0 && has)
            fmt = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && has)
            out = argv[++i];
        else if (strcmp(argv[i], "--base-url") == 0 && has)
            base = argv[++i];
        else if (strcmp(argv[i], "--all-children") == 0)
            all = 1;
        else if (strcmp(argv[i], "--digital-link") == 0)
            dl = 1;
        else if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else if (strcmp(argv[i], "--width-mm") == 0 && has)
            g.width_mm = atof(argv[++i]);
        else if (strcmp(argv[i], "--height-mm") == 0 && has)
            g.height_mm = atof(argv[++i]);
        else if (strcmp(argv[i], "--dpi") == 0 && has)
            g.dpi = atoi(argv[++i]);
        else if (argv[i][0] != '-' && arg == NULL)
            arg = argv[i];
        else
            return cli_unknown_arg(argv[i]), cli_usage(LABEL_USAGE, 0);
    }
    if (fmt == NULL) /* from the file name, else the terminal */
        fmt = out && strstr(out, ".svg") ? "svg" : out ? "png" : "term";
    if (arg == NULL || (strcmp(fmt, "png") && strcmp(fmt, "svg") && strcmp(fmt, "term")))
        return cli_usage(LABEL_USAGE, 0);
    if (strcmp(fmt, "term") != 0 && out == NULL)
        return cli_fail(EX_USAGE, "usage", "这种格式要用 --out 指明输出文件 / --format %s needs --out FILE", fmt);
    if (g.width_mm < 20 || g.height_mm < 15 || g.width_mm > 300 || g.height_mm > 300 ||
        g.dpi < 72 || g.dpi > 2400)
        return cli_fail(EX_USAGE, "usage", "标签尺寸应在 20–300 × 15–300 毫米、72–2400 dpi 之间 / a label is 20-300 × 15-300 mm at 72-2400 dpi");
    char code[TT_CODE_LEN + 1], (*codes)[TT_CODE_LEN + 1] = NULL;
    tt_error err;
    size_t n = 1;
    if (tt_code_parse(arg, code, &err) != TT_OK)
        return cli_fail(EX_USAGE, "malformed", "%s", err.message);
    int ex = EX_DONE;
    if (all)
        ex = children_of(c, code, &codes, &n);
    else {
        codes = calloc(1, sizeof *codes);
        memcpy(codes[0], code, sizeof code);
    }
    one_label *ls = calloc(n ? n : 1, sizeof *ls);
    for (size_t i = 0; ex == EX_DONE && i < n; i++)
        ex = fetch_label(c, codes[i], base, dl, &ls[i]);
    /* a module of fewer than 3 printer dots does not survive a thermal printer's blur */
    for (size_t i = 0; ex == EX_DONE && i < n && strcmp(fmt, "term") != 0; i++) {
        int dots = qr_module_dots(&g, ls[i].url);
        if (dots >= 3)
            continue;
        qr_geometry big = g;
        while (qr_module_dots(&big, ls[i].url) < 3 && big.height_mm < 300) {
            big.height_mm += 1;
            big.width_mm = big.height_mm * g.width_mm / g.height_mm;
        }
        if (!force) {
            ex = cli_fail(EX_USAGE, "too_small",
                          "二维码每个模块的打印点太少，扫不准：请把标签印大一些，或用更高的 dpi / at %.0f × %.0f mm and %d dpi a QR module is %d printer dot%s, too few "
                          "to scan reliably (at least 3): print at %.0f × %.0f mm or larger, or "
                          "at a higher --dpi (--force prints it anyway)",
                          g.width_mm, g.height_mm, g.dpi, dots, dots == 1 ? "" : "s",
                          big.width_mm + 0.49, big.height_mm);
        } else
            fprintf(stderr,
                    "⚠ 二维码模块仅 %d 个打印点，可能扫不出 / a QR module is only %d printer "
                    "dots; it may not scan\n",
                    dots, dots);
        break;
    }
    if (ex == EX_DONE && strcmp(fmt, "term") == 0) {
        for (size_t i = 0; i < n; i++) {
            qr_print_terminal(
                ls[i].url, &ls[i].s.text);
            printf("%s\n\n", ls[i].url);
        }
    } else if (ex == EX_DONE) {
        ex = write_sheet(fmt, out, ls, n, &g);
        if (ex == EX_DONE && c->json) {
            json_t *j = json_pack("{s:s, s:s, s:[]}", "file", out, "format", fmt, "labels");
            for (size_t i = 0; i < n; i++)
                json_array_append_new(json_object_get(j, "labels"),
                                      json_pack("{s:s, s:s, s:i}", "id", ls[i].code, "url",
                                                ls[i].url, "qr_version", qr_version(ls[i].url)));
            fmt_json(j);
            json_decref(j);
        } else if (ex == EX_DONE) {
            printf("已生成标签 / %zu label%s written to %s (%s, %.0f × %.0f mm, %d dpi)\n", n,
                   n == 1 ? "" : "s", out, fmt, g.width_mm, g.height_mm, g.dpi);
            for (size_t i = 0; i < n; i++)
                printf("  %s  QR version %d\n", ls[i].s.pretty, qr_version(ls[i].url));
        }
    }
    free(ls);
    free(codes);
    return ex;
}

/* ---- scan ------------------------------------------------------------------------------ */

static const char SCAN_USAGE[] =
    "usage: tcmtrace scan IMAGE|TEXT [--anonymous]\n"
    "Reads a label from a PNG or JPEG photo (or its URL text), checks its token offline\n"
    "against the trusted log key, and, when a daemon is reachable (--dir/--connect),\n"
    "records the scan and shows the lot's state, its trace proved against a signed\n"
    "checkpoint, every inspection and any warning. With a key (--key or TCMTRACE_KEY)\n"
    "the scan is signed and counts as a place the lot was seen; without one, or with\n"
    "--anonymous, it is only counted. A photo of a sheet: every label on it, in reading\n"
    "order. Exit 0: genuine and in order; 1: genuine but held, recalled, used up, or\n"
    "flagged; 2: no label could be read from the image (or it is no image); 3: no\n"
    "daemon; 4: not genuine (on a sheet: the worst of its labels).\n";

static void loud(const char *zh, const char *en)
{
    int tty = isatty(STDOUT_FILENO);
    printf("%s⚠ %s / %s%s\n", tty ? "\033[1;41;37m" : "", zh, en, tty ? "\033[0m" : "");
}

/* A signed scan request for `code`, or NULL (and *ex) when the key fails. */
static json_t *signed_scan(cli *c, const char *code, int *ex)
{
    tt_keypair kp;
    if ((*ex = cli_load_key(c, &kp)) != EX_DONE)
        return NULL;
    uint8_t raw[16], sig[64];
    char nonce[32], pk64[64], sig64[100], at[40];
    randombytes_buf(raw, sizeof raw);
    tt_b64url((tt_bytes){16, raw}, nonce);
    tt_rfc3339_now(at);
    json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "type", "scan", "id", code, "at", at,
                          "nonce", nonce);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    const char *origin = NULL;
    char prefix[sizeof TT_SCAN_SIG_PREFIX + 256];
    if ((*ex = cli_ledger_origin(c, &origin)) == EX_DONE)
        tt_scan_prefix(origin, prefix);
    if (*ex != EX_DONE || (*ex = cli_sign(c, &kp, prefix, tt_bytes_str(body), sig)) != EX_DONE) {
        free(body);
        tt_keypair_wipe(&kp);
        return NULL;
    }
    tt_b64((tt_bytes){32, kp.pk}, pk64);
    tt_b64((tt_bytes){64, sig}, sig64);
    tt_keypair_wipe(&kp);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "scan", "id", code, "actor", pk64,
                            "sig", sig64, "body", body);
    free(body);
    return req;
}

/* Online: the scan recorded, then the lot proved (its trace, its state and its lineage's under
 * the checkpoint, its first entry), and the label's registration hash held to that proved first
 * entry. What is shown of the lot is the proved state; the server's record is kept in the
 * report for what no proof covers (its inspections' values, its GTIN), said as its word. */
static int scan_online(cli *c, const tt_label *lb, int sign, json_t *report, cli_proved_lot *pl)
{
    json_t *sr, *br;
    int ex = EX_DONE;
    json_t *req = sign ? signed_scan(c, lb->code, &ex)
                       : json_pack("{s:s, s:s}", "op", "scan", "id", lb->code);
    if (req == NULL)
        return ex;
    ex = cli_request(c, req, &sr);
    if (ex)
        return ex;
    ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", lb->code), &br);
    if (ex) {
        json_decref(sr);
        return ex;
    }
    json_t *b = json_object_get(br, "batch");
    size_t n = 0;
    tt_checkpoint cp;
    int vx = verify_lot(c, lb->code, &n, &cp, pl);
    /* the token's registration hash must be the proved entry that created this lot */
    int bound = vx == EX_DONE && memcmp(pl->first_hash, lb->hash16, 16) == 0;
    if (vx == EX_DONE) {
        /* what is judged and shown is the proved state, not the server's word */
        const char *st = pl->leaf.status;
        if (pl->held_by[0] && strcmp(st, "active") == 0)
            st = pl->held_status;
        json_object_set_new(b, "status", json_string(st));
        json_object_set_new(b, "holder", json_string(pl->leaf.holder));
        json_object_set_new(json_object_get(b, "qty"), "remaining", json_integer(pl->leaf.remaining_g));
        json_t *state = json_pack("{s:I, s:I, s:s, s:s, s:I, s:s, s:I}", "size", (json_int_t)cp.size,
                                  "lots", (json_int_t)pl->lots, "status", pl->leaf.status, "holder",
                                  pl->leaf.holder, "remaining_g", (json_int_t)pl->leaf.remaining_g,
                                  "verdict", pl->leaf.verdict, "last", (json_int_t)pl->leaf.last);
        if (pl->held_by[0])
            json_object_set_new(state, "held_ancestor", json_string(pl->held_by));
        json_object_set_new(report, "state", state);
        /* the GTIN a Digital Link label is held to: the proved entry's where it names one (a
         * registration, a product), else the record's (a part keeps its parent's) */
        const char *pg = js(pl->first_body, "gtin");
        if (!*pg)
            pg = js(json_object_get(pl->first_body, "output"), "gtin");
        if (*pg)
            json_object_set_new(b, "gtin", json_string(pg));
        json_t *herb = json_object_get(pl->first_body, "herb");
        json_object_set_new(report, "herb_proved", json_boolean(json_is_object(herb)));
        if (json_is_object(herb))
            json_object_set(b, "herb", herb);
    }
    json_object_set(report, "batch", b);
    json_object_set(report, "scan", json_object_get(sr, "scan"));
    json_object_set_new(report, "registration_matches", json_boolean(bound));
    json_object_set_new(report, "trace_verified", json_boolean(vx == EX_DONE));
    json_object_set_new(report, "entries_verified", json_integer((json_int_t)n));
    json_decref(sr);
    json_decref(br);
    if (vx != EX_DONE)
        return vx;
    return bound ? EX_DONE : EX_UNVERIFIED;
}

static int scan_text(cli *c, const tt_verifier *vk, const char *text, int anonymous);

int cmd_scan(cli *c, int argc, char **argv)
{
    const char *arg = NULL;
    int anonymous = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(SCAN_USAGE, stdout), EX_DONE;
        else if (strcmp(argv[i], "--anonymous") == 0)
            anonymous = 1;
        else if (strcmp(argv[i], "--by") == 0)
            return cli_fail(EX_USAGE, "usage",
                            "--by 不再被采信：请给出您的密钥（--key），扫码记录会以您的名义签名 / --by is not taken on trust any more: give your key (--key) and the "
                            "scan is signed as yours");
        else if (arg == NULL)
            arg = argv[i];
        else
            return cli_unknown_arg(argv[i]), cli_usage(SCAN_USAGE, 0);
    }
    if (arg == NULL)
        return cli_usage(SCAN_USAGE, 0);
    tt_verifier v;
    int ex = cli_log_verifier(c, &v);
    if (ex)
        return ex;
    char **texts = NULL, err[300];
    size_t ntexts = 0;
    if (access(arg, R_OK) == 0) {
        qr_image img;
        if (qr_load_image(arg, &img, err, sizeof err) != 0)
            return cli_fail(EX_USAGE, "malformed", "%s", err);
        ntexts = qr_decode_all(&img, &texts);
        qr_image_free(&img);
        if (ntexts == 0)
            return cli_fail(EX_USAGE, "malformed",
                            "照片里读不出二维码：请拿稳相机、靠近一些再拍 / no QR symbol could be read in %s: hold the camera steady and closer",
                            arg);
    } else {
        texts = calloc(2, sizeof *texts);
        texts[0] = strdup(arg);
        ntexts = 1;
    }
    /* a sheet: every label on it, and the worst outcome as the exit code */
    int worst = EX_DONE;
    for (size_t i = 0; i < ntexts; i++) {
        if (ntexts > 1 && !c->json)
            printf("%s[%zu/%zu]\n", i ? "\n" : "", i + 1, ntexts);
        int r = scan_text(c, &v, texts[i], anonymous);
        worst = r == EX_UNVERIFIED || worst == EX_UNVERIFIED ? EX_UNVERIFIED
                : r > worst                                  ? r
                                                             : worst;
        free(texts[i]);
    }
    free(texts);
    if (ntexts > 1 && !c->json)
        printf("\n%zu 张标签已扫描 / %zu labels scanned\n", ntexts, ntexts);
    return worst;
}

/* A key QR (the stall page's 密钥 tab) is no label: say what it is and how to enroll it. */
static int key_symbol(cli *c, const uint8_t *pk, const char *why)
{
    char b64[48] = "", check[TT_KEY_CHECK_LEN + 1] = "";
    if (pk) {
        tt_b64((tt_bytes){32, pk}, b64);
        tt_key_check(pk, check);
    }
    if (c->json) {
        json_t *j = pk ? json_pack("{s:s, s:s, s:s}", "kind", "public_key", "key", b64, "check", check)
                       : json_pack("{s:s, s:s, s:s}", "kind", "public_key", "code", "key_format",
                                   "message", why);
        fmt_json(j);
        json_decref(j);
    } else if (pk) {
        printf("这是一把公钥的二维码，不是药材标签 / this QR symbol is a public key, not a label\n");
        fmt_kv("公钥", "%s", b64);
        fmt_kv("核对码", "%s", check);
        printf("  登记它 / to enroll it: tcmtrace actor enroll --pubkey-photo PHOTO --id ID --name 姓名 "
               "--org 商号 --licence 证照号 --role trader\n");
    } else {
        printf("这个公钥二维码已损坏或被改动，不能用来登记 / this key symbol is damaged or altered\n");
        printf("  key_format: %s\n", why);
    }
    return pk ? EX_DONE : EX_UNVERIFIED;
}

/* One label's text: checked offline, then (online) against the ledger. */
static int scan_text(cli *c, const tt_verifier *vk, const char *arg_text, int anonymous)
{
    int ex = EX_DONE;
    tt_verifier v = *vk;
    char *text = strdup(arg_text);
    tt_label lb;
    tt_error terr;
    uint8_t kpk[32];
    if (strncmp(text, "tcmtrace-key:", 13) == 0 || tt_key_qr_parse(text, kpk, NULL) == TT_OK) {
        int ok = tt_key_qr_parse(text, kpk, &terr) == TT_OK;
        free(text);
        return key_symbol(c, ok ? kpk : NULL, terr.message);
    }
    tt_err rc = tt_label_parse(text, &lb, &terr);
    if (rc == TT_OK)
        rc = tt_label_verify(&lb, &v, &terr);
    json_t *report = json_pack("{s:s, s:b}", "text", text, "genuine", rc == TT_OK);
    free(text);
    if (rc != TT_OK) {
        json_object_set_new(report, "code", json_string(tt_err_name(rc)));
        json_object_set_new(report, "message", json_string(terr.message));
        if (c->json)
            fmt_json(report);
        else {
            loud("标签验证失败，可能是伪造或克隆的标签", "LABEL NOT GENUINE");
            printf("  %s: %s\n", tt_err_name(rc), terr.message);
        }
        json_decref(report);
        return EX_UNVERIFIED;
    }
    char pretty[TT_CODE_PRETTY + 1];
    tt_code_pretty(lb.code, pretty);
    int online = c->dir || c->connect;
    cli_proved_lot pl;
    memset(&pl, 0, sizeof pl);
    if (online)
        ex = scan_online(c, &lb, !anonymous && (c->key || getenv("TCMTRACE_KEY")), report, &pl);
    json_decref(pl.first_body);
    json_object_set_new(report, "online", json_boolean(online));
    json_t *b = json_object_get(report, "batch"), *s = json_object_get(report, "scan");
    if (online && ex == EX_DONE && lb.gtin[0] && strcmp(js(b, "gtin"), lb.gtin) != 0) {
        /* a Digital Link label names a GTIN: it must be this lot's */
        json_object_set_new(report, "genuine", json_false());
        json_object_set_new(report, "code", json_string("gtin_mismatch"));
        if (c->json)
            fmt_json(report);
        else {
            loud("标签上的 GTIN 与该批次不符", "LABEL NOT GENUINE");
            printf("  gtin_mismatch: the label names GTIN %s but batch %s carries %s\n", lb.gtin,
                   pretty, *js(b, "gtin") ? js(b, "gtin") : "none");
        }
        json_decref(report);
        return EX_UNVERIFIED;
    }
    const char *st = js(b, "status");
    int warn = 0;
    if (!c->json) {
        printf("✓ 标签签名有效 / label signed by %s: %s\n", v.name, pretty);
        if (!online)
            printf("  (离线核验；连接账本可查看批次状态 / offline check only)\n");
    }
    if (online && ex == EX_DONE) {
        json_t *h = json_object_get(b, "herb");
        char q[48];
        if (!c->json) {
            printf("✓ 追溯记录已由检查点证明 / %lld entries proved\n",
                   json_integer_value(json_object_get(report, "entries_verified")));
            if (pl.lots > 1)
                printf("✓ 已核验：本批次及其 %zu 个上游批次在第 %lld 条记录时的状态 / state proved\n",
                       pl.lots - 1, json_integer_value(json_object_get(json_object_get(report, "state"), "size")));
            else
                printf("✓ 已核验：本批次在第 %lld 条记录时的状态 / state proved\n",
                       json_integer_value(json_object_get(json_object_get(report, "state"), "size")));
            fmt_kv("药材", "%s %s · %s%s", js(h, "name_zh"), js(h, "latin"), js(b, "form"),
                   json_is_true(json_object_get(report, "herb_proved")) ? "" : "（服务器记录 / the server's word）");
            fmt_kv("状态", "%s (%s)", fmt_status(st), st);
            if (pl.held_by[0])
                fmt_kv("", "上游批次 %s 已%s / ancestor %s is %s", pl.held_by,
                       strcmp(pl.held_status, "held") == 0 ? "扣留" : "召回", pl.held_by, pl.held_status);
            fmt_kv("持有人", "%s", js(b, "holder"));
            fmt_kv(
                "剩余", "%s",
                fmt_qty(json_integer_value(json_object_get(json_object_get(b, "qty"), "remaining")),
                        q));
            if (*pl.leaf.verdict && strcmp(pl.leaf.verdict, "none") != 0)
                fmt_kv("最新检验", "%s", strcmp(pl.leaf.verdict, "pass") == 0   ? "合格 pass"
                                         : strcmp(pl.leaf.verdict, "fail") == 0 ? "不合格 fail"
                                                                                : pl.leaf.verdict);
            fmt_kv("扫描次数", "%lld 次，其中实名 %lld 次（服务器统计）/ %lld scans, %lld signed (the server's count)",
                   json_integer_value(json_object_get(s, "count")),
                   json_integer_value(json_object_get(s, "signed")),
                   json_integer_value(json_object_get(s, "count")),
                   json_integer_value(json_object_get(s, "signed")));
            json_t *rv = json_object_get(s, "reviewed");
            if (rv)
                fmt_kv("扫码复核", "市场管理处已复核此前的扫码疑点（第 %lld 条记录）：%s / reviewed by the "
                       "market office",
                       json_integer_value(json_object_get(rv, "seq")),
                       json_string_value(json_object_get(rv, "reason")) ? json_string_value(json_object_get(rv, "reason")) : "");
            size_t k;
            json_t *p;
            json_array_foreach(json_object_get(s, "places"), k, p)
                fmt_kv(k ? "" : "实名扫描", "%s（%lld 次）", js(p, "by"),
                       json_integer_value(json_object_get(p, "n")));
            json_array_foreach(json_object_get(b, "inspections"), k, p)
            {
                if (k == 0)
                    printf("  检验（服务器记录的数值）/ inspections, as the server records them\n");
                fmt_inspection(p, "    ");
            }
        }
        if (strcmp(st, "held") == 0 || strcmp(st, "recalled") == 0 || strcmp(st, "depleted") == 0 ||
            strcmp(st, "destroyed") == 0) {
            warn = 1;
            if (!c->json)
                loud(strcmp(st, "recalled") == 0 ? "该批次已被召回，禁止销售和使用"
                     : strcmp(st, "held") == 0   ? "该批次被扣留，禁止销售"
                     : strcmp(st, "destroyed") == 0 ? "该批次已销毁，不应再出现"
                                                    : "该批次已用尽，不应再出现",
                     strcmp(st, "recalled") == 0 ? "RECALLED — do not sell or dispense"
                     : strcmp(st, "held") == 0   ? "HELD — do not sell"
                                                 : "USED UP — this label should not be in use");
        }
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(s, "flags"), i, f)
        {
            warn = 1;
            if (!c->json)
                loud(strcmp(json_string_value(f), "scanned_after_depleted") == 0
                         ? "已用尽的批次仍在被反复扫描：疑似克隆标签"
                         : "扫描地点多于该批次到过的持有人：疑似克隆标签",
                     json_string_value(f));
        }
    } else if (online && ex == EX_UNVERIFIED &&
               json_is_true(json_object_get(report, "trace_verified"))) {
        /* the lot proved, and the label's registration hash is not its first entry's */
        if (!c->json)
            loud("标签与账本中的登记记录不符", "LABEL DOES NOT MATCH THE LEDGER");
    }
    json_object_set_new(report, "warning", json_boolean(warn));
    if (c->json)
        fmt_json(report);
    json_decref(report);
    if (ex != EX_DONE)
        return ex;
    return warn ? EX_REFUSED : EX_DONE;
}
