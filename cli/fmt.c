/*
 * fmt.c: output for people. Chinese characters take two columns on a
 * terminal, so labels are padded by display width, not by bytes.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tcmtrace/util.h"

static uint32_t next_cp(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    uint32_t cp;
    int n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        n = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        n = 3;
    } else {
        cp = s[0] & 0x07;
        n = 4;
    }
    for (int i = 1; i < n && s[i]; i++)
        cp = cp << 6 | (s[i] & 0x3F);
    *p += n;
    return cp;
}

int fmt_width(const char *s)
{
    int w = 0;
    while (*s) {
        uint32_t cp = next_cp(&s);
        int wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                   (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                   (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                   (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
        w += wide ? 2 : 1;
    }
    return w;
}

void fmt_pad(const char *s, int width)
{
    fputs(s, stdout);
    for (int w = fmt_width(s); w < width; w++)
        putchar(' ');
}

void fmt_table_init(fmt_table *t, size_t cols)
{
    *t = (fmt_table){cols, 0, 0, NULL, NULL};
}

#define MARK "\xe2\x9c\x97 " /* "✗ " */

void fmt_table_row(fmt_table *t, ...)
{
    va_list ap;
    if (t->n + t->cols > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16 * t->cols;
        char **nc = realloc(t->cells, cap * sizeof *nc);
        if (nc == NULL)
            return;
        t->cells = nc;
        unsigned char *nm = realloc(t->marked, cap / t->cols + 1);
        if (nm == NULL)
            return;
        t->marked = nm, t->cap = cap;
    }
    va_start(ap, t);
    for (size_t i = 0; i < t->cols; i++) {
        const char *s = va_arg(ap, const char *);
        s = s ? s : "";
        if (i == 0)
            t->marked[t->n / t->cols] = strncmp(s, MARK, 4) == 0;
        t->cells[t->n++] = strdup(i == 0 && strncmp(s, MARK, 4) == 0 ? s + 4 : s);
    }
    va_end(ap);
}

void fmt_table_print(fmt_table *t, const char *indent)
{
    int w[16] = {0};
    for (size_t i = 0; i < t->n; i++)
        if (i % t->cols < 16 && t->cells[i] && fmt_width(t->cells[i]) > w[i % t->cols])
            w[i % t->cols] = fmt_width(t->cells[i]);
    for (size_t r = 0; r * t->cols < t->n; r++) {
        char **row = t->cells + r * t->cols;
        fputs(t->marked[r] ? "✗ " : indent, stdout);
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = row[c] ? row[c] : "";
            if (c + 1 == t->cols)
                printf("%s\n", s);
            else
                fmt_pad(s, (c < 16 ? w[c] : 0) + 2);
        }
    }
    fmt_table_free(t);
}

void fmt_table_free(fmt_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->marked);
    *t = (fmt_table){0, 0, 0, NULL, NULL};
}

const char *fmt_role(const char *role)
{
    static const char *const names[][2] = {
        {"grower", "种植户 grower"},       {"trader", "经营户 trader"},
        {"processor", "加工企业 processor"}, {"inspector", "检验员 inspector"},
        {"regulator", "监管人员 regulator"}, {"pharmacy", "药房 pharmacy"},
        {"authority", "市场管理处 authority"}};
    for (size_t i = 0; role && i < sizeof names / sizeof *names; i++)
        if (strcmp(role, names[i][0]) == 0)
            return names[i][1];
    return role ? role : "";
}

void fmt_kv(const char *label, const char *fmt, ...)
{
    va_list ap;
    fputs("  ", stdout);
    fmt_pad(label, 10);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

const char *fmt_qty(int64_t g, char buf[48])
{
    return tt_qty_text(g, buf);
}

const char *fmt_qty_both(int64_t g, const char *typed, char buf[96])
{
    char kg[48];
    tt_qty_text(g, kg);
    int jin_typed = typed && strstr(typed, "斤");
    if (typed && strstr(typed, "两") && g % 5 == 0)
        snprintf(buf, 96, "%g 两（%s）", (double)g / 50, kg);
    else if (typed && strstr(typed, "钱"))
        snprintf(buf, 96, "%g 钱（%s）", (double)g / 5, kg);
    else if (g % 50 != 0) /* not a whole 两: 斤 would need more places than people write */
        snprintf(buf, 96, "%s", kg);
    else if (jin_typed)
        snprintf(buf, 96, "%g 斤（%s）", (double)g / 500, kg);
    else
        snprintf(buf, 96, "%s（%g 斤）", kg, (double)g / 500);
    return buf;
}

/* "500kg", "1.5 kg", "20g", "2t", "10斤", "3两", "500公斤": whole grams only. */
/* A quantity as people type it, made plain: full-width digits, point and
 * letters (a Chinese input method's) become ASCII, ASCII letters lower case,
 * spaces (either width) go. */
static void qty_plain(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n + 4 < cap) {
        if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99) { /* ０-９ */
            out[n++] = (char)('0' + p[2] - 0x90);
            p += 3;
        } else if (p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x8E) { /* ． */
            out[n++] = '.';
            p += 3;
        } else if (p[0] == 0xEF && p[1] == 0xBD && p[2] >= 0x81 && p[2] <= 0x9A) { /* ａ-ｚ */
            out[n++] = (char)('a' + p[2] - 0x81);
            p += 3;
        } else if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0xA1 && p[2] <= 0xBA) { /* Ａ-Ｚ */
            out[n++] = (char)('a' + p[2] - 0xA1);
            p += 3;
        } else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) { /* ideographic space */
            p += 3;
        } else if (*p == ' ' || *p == '\t') {
            p++;
        } else {
            out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            p++;
        }
    }
    out[n] = '\0';
}

int fmt_parse_qty(const char *in, int64_t *grams)
{
    /* 市制: 1 斤 = 500 g, 1 两 = 50 g, 1 钱 = 5 g */
    static const struct {
        const char *unit;
        int64_t g;
    } units[] = {{"kg", 1000},   {"公斤", 1000},  {"千克", 1000}, {"g", 1},   {"克", 1},
                 {"t", 1000000}, {"吨", 1000000}, {"斤", 500},    {"两", 50}, {"钱", 5}};
    char s[128];
    qty_plain(in, s, sizeof s);
    const char *p = s;
    int64_t whole = 0, frac = 0, fscale = 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (whole > INT64_C(1000000000000))
            return -1;
        whole = whole * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9' && fscale < 1000000) {
            frac = frac * 10 + (*p++ - '0');
            fscale *= 10;
            digits++;
        }
    }
    while (*p == ' ')
        p++;
    if (digits == 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        int64_t g = units[i].g;
        if ((frac * g) % fscale != 0)
            return -1; /* not a whole number of grams */
        *grams = whole * g + frac * g / fscale;
        return *grams >= 1 && *grams <= TT_QTY_MAX ? 0 : -1;
    }
    return -1;
}

const char *fmt_time(uint64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

const char *fmt_status(const char *st)
{
    static const char *map[][2] = {{"active", "在库"},     {"in_transit", "在途"},
                                   {"held", "扣留中"},     {"recalled", "已召回"},
                                   {"depleted", "已用尽"}, {"destroyed", "已销毁"},
                                   {"revoked", "已撤销"}};
    for (size_t i = 0; st && i < sizeof map / sizeof *map; i++)
        if (strcmp(st, map[i][0]) == 0)
            return map[i][1];
    return st ? st : "?";
}

const char *fmt_type(const char *t)
{
    static const char *map[][2] = {{"ledger.genesis", "账本创建"}, {"ledger.limits", "限量标准"},
                                   {"ledger.herbs", "药材目录"},
                                   {"actor.enroll", "登记主体"},   {"actor.revoke", "撤销主体"},
                                   {"actor.rotate", "更换密钥"},   {"batch.register", "产地登记"},
                                   {"batch.transfer", "发货"},     {"batch.receive", "收货"},
                                   {"batch.reject", "拒收"},       {"batch.split", "分拆"},
                                   {"batch.process", "加工"},      {"batch.inspect", "检验"},
                                   {"batch.hold", "扣留"},         {"batch.release", "放行"},
                                   {"batch.recall", "召回"},       {"batch.sell", "销售"},
                                   {"batch.destroy", "销毁"},      {"ledger.witnesses", "见证策略"},
                                   {"batch.review", "扫码复核"},
                                   {"actor.succeed", "移交库存"}};
    for (size_t i = 0; t && i < sizeof map / sizeof *map; i++)
        if (strcmp(t, map[i][0]) == 0)
            return map[i][1];
    return t ? t : "?";
}

const char *fmt_code(const char *code, char buf[TT_CODE_PRETTY + 1])
{
    if (code == NULL || strlen(code) != TT_CODE_LEN)
        snprintf(buf, TT_CODE_PRETTY + 1, "%s", code ? code : "?");
    else
        tt_code_pretty(code, buf);
    return buf;
}

void fmt_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
    puts(s);
    free(s);
}

void fmt_progress(const char *what, uint64_t done, uint64_t total)
{
    if (!isatty(STDERR_FILENO) || total == 0)
        return;
    int width = 30, fill = (int)(done * (uint64_t)width / total);
    fprintf(stderr, "\r%s [", what);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d%%  %llu/%llu", (int)(done * 100 / total), (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

static const char *js_(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

const char *fmt_verdict(const char *v)
{
    return strcmp(v, "fail") == 0   ? "不合格 FAIL"
           : strcmp(v, "pass") == 0 ? "合格 PASS"
                                    : "无适用限量 no limit";
}

void fmt_inspection(json_t *x, const char *indent)
{
    printf("%s#%lld %s  %s — %s\n", indent,
           (long long)json_integer_value(json_object_get(x, "seq")), js_(x, "inspector"),
           js_(x, "lab"), fmt_verdict(js_(x, "verdict")));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(x, "results"), i, r)
    {
        char name[96];
        snprintf(name, sizeof name, "%s %s", js_(r, "test"), js_(r, "name_zh"));
        printf("%s  ", indent);
        fmt_pad(name, 26);
        printf(" %10s %-6s", js_(r, "value"), js_(r, "unit"));
        if (*js_(r, "limit"))
            printf("  限量 ≤ %s %s  %s  [%s]\n", js_(r, "limit"), js_(r, "limit_unit"),
                   fmt_verdict(js_(r, "verdict")), js_(r, "status"));
        else
            printf("  %s\n", fmt_verdict("no_limit"));
    }
}

/*
 * Whether a lot may be sold or used, from its record (a batch, a trace node or
 * a list row): a lot may be sold only while it is in stock ("active") with
 * something left. Anything else is said first and loudest by verify, show,
 * trace and stock, and makes verify, show and trace exit EX_NOT_SALEABLE.
 */
const char *fmt_not_saleable(json_t *b, fmt_sale *why)
{
    const char *st = json_string_value(json_object_get(b, "status"));
    json_t *q = json_object_get(b, "qty");
    json_t *left = q ? json_object_get(q, "remaining") : json_object_get(b, "remaining_g");
    const char *hold = json_string_value(json_object_get(b, "hold_reason"));
    const char *recall = json_string_value(json_object_get(b, "recall_reason"));
    if (st == NULL)
        st = "";
    why->code = NULL;
    if (strcmp(st, "recalled") == 0) {
        why->code = "recalled";
        snprintf(why->zh, sizeof why->zh, "该批次已被召回%s%s%s。请勿销售或使用，并联系市场监管部门",
                 recall ? "（" : "", recall ? recall : "", recall ? "）" : "");
        snprintf(why->en, sizeof why->en, "this lot was recalled%s%s%s: do not sell or dispense it",
                 recall ? " («" : "", recall ? recall : "", recall ? "»)" : "");
    } else if (strcmp(st, "held") == 0) {
        why->code = "held";
        snprintf(why->zh, sizeof why->zh, "该批次已被扣留%s%s%s，解除扣留前不得销售或使用",
                 hold ? "（" : "", hold ? hold : "", hold ? "）" : "");
        snprintf(why->en, sizeof why->en,
                 "this lot is held%s%s%s: it may not be sold or used until it is released",
                 hold ? " («" : "", hold ? hold : "", hold ? "»)" : "");
    } else if (strcmp(st, "destroyed") == 0) {
        why->code = "destroyed";
        snprintf(why->zh, sizeof why->zh, "该批次已销毁，市面上不应再有这批货");
        snprintf(why->en, sizeof why->en,
                 "this lot was destroyed: none of it should be on sale anywhere");
    } else if (strcmp(st, "depleted") == 0 ||
               (strcmp(st, "active") == 0 && left && json_integer_value(left) <= 0)) {
        why->code = "depleted";
        snprintf(why->zh, sizeof why->zh,
                 "该批次已全部售出或用完，剩余 0：再有人以这个追溯码出售，应核实来源");
        snprintf(why->en, sizeof why->en,
                 "this lot is used up (nothing remains): goods offered under its code should be "
                 "questioned");
    } else if (strcmp(st, "in_transit") == 0) {
        why->code = "in_transit";
        snprintf(why->zh, sizeof why->zh, "该批次在途中，收货方签收之前不能销售");
        snprintf(why->en, sizeof why->en,
                 "this lot is in transit: it may not be sold until its recipient receives it");
    } else if (strcmp(st, "active") != 0) {
        why->code = "bad_state";
        snprintf(why->zh, sizeof why->zh, "该批次的状态（%s）不允许销售", fmt_status(st));
        snprintf(why->en, sizeof why->en, "this lot's status (%s) does not allow a sale", st);
    }
    return why->code;
}

int fmt_sale_line(json_t *b, json_t *out)
{
    fmt_sale why;
    int no = fmt_not_saleable(b, &why) != NULL;
    if (out) {
        json_object_set_new(out, "saleable", json_boolean(!no));
        if (no)
            json_object_set_new(out, "not_saleable",
                                json_pack("{s:s, s:s, s:s}", "code", why.code, "zh", why.zh,
                                          "en", why.en));
    } else if (no) {
        printf("✗ 不可销售：%s。\n  NOT FOR SALE: %s.\n", why.zh, why.en);
    } else {
        printf("✓ 可以销售：在库，剩余 %s / in stock and may be sold\n",
               fmt_qty(json_integer_value(json_object_get(json_object_get(b, "qty"), "remaining")),
                       (char[48]){0}));
    }
    return no ? EX_NOT_SALEABLE : EX_DONE;
}
