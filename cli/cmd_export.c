/*
 * cmd_export.c: `tcmtrace export`: what a market office hands a regulator
 * or another supply-chain system. --format epcis writes one GS1 EPCIS 2.0
 * EPCISDocument (docs/epcis.md); csv and json write one row per entry.
 * Pages are fetched from the daemon's paged operations and written as they
 * come, so the export of a large ledger holds one page in memory.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <iconv.h>
#include <strings.h>

#include "cli.h"

static const char EXPORT_USAGE[] =
    "usage: tcmtrace export [--format epcis|csv|json] [--from SEQ|DATE] [--to SEQ|DATE]\n"
    "                       [--encoding utf-8-bom|gb18030|utf-8] [CODE]\n"
    "Writes the ledger's entries to standard output: as one GS1 EPCIS 2.0 JSON-LD\n"
    "EPCISDocument (epcis, the default), or one row per entry (csv, json). --from and\n"
    "--to take an entry number or a day (YYYY-MM-DD, local time), both inclusive;\n"
    "CODE keeps the entries about that lot. Each EPCIS event carries the entry that\n"
    "proves it (tcmtrace:seq, tcmtrace:entryHash, tcmtrace:entry). csv is for Excel and\n"
    "WPS: UTF-8 with a BOM (or --encoding gb18030), one row shape for every event (herb,\n"
    "kg, verdict and new lots in fixed columns, codes kept as text; docs/csv.md);\n"
    "--encoding utf-8 writes it plain for programs.\n";

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* A bound: an entry number (*seq) or a local day (*time, RFC 3339); the
 * day after it when `end` (so that --to DAY includes that day). */
static int bound_arg(const char *opt, const char *in, int end, long long *seq, char time[40])
{
    char *e;
    if (*in >= '0' && *in <= '9' && strchr(in, '-') == NULL) {
        *seq = strtoll(in, &e, 10);
        if (*e == '\0' && *seq >= 0)
            return 0;
    } else if (tt_date_valid(in)) {
        struct tm tm = {0};
        sscanf(in, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_mday += end;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        struct tm lt;
        localtime_r(&t, &lt);
        int off = (int)(lt.tm_gmtoff / 60);
        snprintf(time, 40, "%04d-%02d-%02dT00:00:00%c%02d:%02d", (lt.tm_year + 1900) % 10000,
                 (lt.tm_mon + 1) % 100, lt.tm_mday % 100, off < 0 ? '-' : '+',
                 (abs(off) / 60) % 100, abs(off) % 60);
        return 0;
    }
    return cli_fail(EX_USAGE, "usage",
                    "这既不是记录编号，也不是 YYYY-MM-DD 格式的日期 / %s \"%s\" is neither an entry number nor a day YYYY-MM-DD", opt, in);
}

/* The CSV a spreadsheet opens (docs/csv.md): UTF-8 with a byte-order mark (Excel and WPS
 * then read the Chinese), or GB 18030; trace codes as ="…" so that 16 digits stay digits, not
 * 2.61207E+15. `plain`: UTF-8 without a mark and codes as they are, for scripts. */
typedef struct csv_out {
    int gb18030, plain;
    iconv_t cd;
    json_t *lots; /* code -> the lot's record, fetched once for its herb and verdicts */
} csv_out;

static void csv_put(csv_out *o, const char *s)
{
    if (!o->gb18030) {
        fputs(s, stdout);
        return;
    }
    char buf[8192], *in = (char *)s, *out;
    size_t inl = strlen(s);
    while (inl > 0) {
        size_t outl = sizeof buf;
        out = buf;
        if (iconv(o->cd, &in, &inl, &out, &outl) == (size_t)-1 && errno != E2BIG) {
            fwrite(buf, 1, sizeof buf - outl, stdout);
            putchar('?'); /* no GB 18030 form (none is missing for Unicode text) */
            in++, inl--;
            continue;
        }
        fwrite(buf, 1, sizeof buf - outl, stdout);
    }
}

static void csv_field(csv_out *o, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        csv_put(o, "\"");
        for (; *s; s++) {
            char one[3] = {*s, 0, 0};
            if (*s == '"')
                one[1] = '"';
            if ((*s & 0xC0) == 0xC0) { /* a UTF-8 sequence whole, for the converter */
                char seq[5] = {0};
                size_t n = 1;
                seq[0] = *s;
                while ((s[n] & 0xC0) == 0x80 && n < 4)
                    seq[n] = s[n], n++;
                csv_put(o, seq);
                s += n - 1;
                continue;
            }
            csv_put(o, one);
        }
        csv_put(o, "\"");
    } else
        csv_put(o, s);
    csv_put(o, last ? "\r\n" : ",");
}

/* A trace code (or list of them) as a spreadsheet keeps it: ="2612…" */
static void csv_code(csv_out *o, const char *code, int last)
{
    if (o->plain || *code == '\0') {
        csv_field(o, code, last);
        return;
    }
    char buf[2100];
    snprintf(buf, sizeof buf, "=\"%s\"", code);
    csv_field(o, buf, last);
}

static const char *const CSV_HEAD[] = {
    "序号 seq",         "记录时间 recorded", "签名时间 signed_at", "事件 event",  "type",
    "签名人 by",        "批次 lot",          "药材 herb",          "数量(kg) qty_kg", "收货方 to",
    "新批次 new_lots",  "检验结论 verdict",  "说明 detail"};

static const char *event_zh(const char *type)
{
    return fmt_type(type);
}

/* The lot's record (cached): its herb and its inspections' verdicts. */
static json_t *csv_lot(cli *c, csv_out *o, const char *code)
{
    if (*code == '\0')
        return NULL;
    json_t *b = json_object_get(o->lots, code), *resp;
    if (b)
        return json_is_object(b) ? b : NULL;
    if (json_object_size(o->lots) > 20000) /* bounded: the oldest go (rarely met) */
        json_object_clear(o->lots);
    if (cli_call(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &resp) == EX_DONE &&
        json_is_true(json_object_get(resp, "ok"))) {
        b = json_incref(json_object_get(resp, "batch"));
        json_decref(resp);
    } else {
        json_decref(resp);
        b = json_null();
    }
    json_object_set_new(o->lots, code, b);
    return json_is_object(b) ? b : NULL;
}

static void csv_row(cli *c, csv_out *o, json_t *e, json_t *body)
{
    char t[32], n[32], q[32] = "", kids[2048] = "";
    long long seq = (long long)json_integer_value(json_object_get(e, "seq"));
    snprintf(n, sizeof n, "%lld", seq);
    time_t s = (time_t)(json_integer_value(json_object_get(e, "time_ms")) / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm);
    json_t *out = json_object_get(body, "output"), *x;
    json_t *qv = json_object_get(body, "qty_g");
    if (qv == NULL && out)
        qv = json_object_get(out, "qty_g");
    if (qv) {
        long long g = (long long)json_integer_value(qv);
        snprintf(q, sizeof q, "%lld.%03lld", g / 1000, g % 1000);
    }
    /* the new lots an event makes: a split's children, a part transfer's child, an output */
    size_t i, k = 0;
    json_array_foreach(json_object_get(body, "children"), i, x)
        if (k < sizeof kids - 40)
            k += (size_t)snprintf(kids + k, sizeof kids - k, "%s%s", i ? " " : "", js(x, "id"));
    if (*js(body, "child"))
        snprintf(kids, sizeof kids, "%s", js(body, "child"));
    if (out)
        snprintf(kids, sizeof kids, "%s", js(out, "id"));
    const char *type = js(body, "type");
    int about_lot = strncmp(type, "batch.", 6) == 0;
    const char *lot = !about_lot ? "" : *js(body, "id") ? js(body, "id") : js(out, "id");
    json_t *b = csv_lot(c, o, strcmp(type, "batch.process") == 0 ? js(out, "id") : lot);
    const char *herb = json_object_get(body, "herb") ? js(json_object_get(body, "herb"), "name_zh")
                       : out && json_object_get(out, "herb")
                           ? js(json_object_get(out, "herb"), "name_zh")
                           : js(json_object_get(b, "herb"), "name_zh");
    const char *verdict = "";
    if (strcmp(type, "batch.inspect") == 0)
        json_array_foreach(json_object_get(b, "inspections"), i, x)
            if (json_integer_value(json_object_get(x, "seq")) == seq)
                verdict = fmt_verdict(js(x, "verdict"));
    char detail[2400];
    const char *said = *js(body, "reason")   ? js(body, "reason")
                       : *js(body, "note")   ? js(body, "note")
                       : *js(body, "method") ? js(body, "method")
                                             : js(body, "lab");
    if (!about_lot) /* an actor's event: whom it is about */
        snprintf(detail, sizeof detail, "%s%s%s%s", js(body, "id"), *js(body, "name") ? " " : "",
                 js(body, "name"), *said ? "" : "");
    else if (json_array_size(json_object_get(body, "inputs"))) { /* what went into a process */
        k = (size_t)snprintf(detail, sizeof detail, "投料 inputs:");
        json_array_foreach(json_object_get(body, "inputs"), i, x)
            if (k < sizeof detail - 64)
                k += (size_t)snprintf(detail + k, sizeof detail - k, " %s=%lld.%03lldkg",
                                      js(x, "id"),
                                      (long long)json_integer_value(json_object_get(x, "qty_g")) / 1000,
                                      (long long)json_integer_value(json_object_get(x, "qty_g")) % 1000);
        if (*said && k < sizeof detail - 8)
            snprintf(detail + k, sizeof detail - k, "; %s", said);
    } else
        snprintf(detail, sizeof detail, "%s", said);
    csv_field(o, n, 0);
    csv_field(o, t, 0);
    csv_field(o, js(body, "at"), 0);
    csv_field(o, *type ? event_zh(type) : "", 0);
    csv_field(o, type, 0);
    csv_field(o, js(e, "by"), 0);
    csv_code(o, lot, 0);
    csv_field(o, herb, 0);
    csv_field(o, q, 0);
    csv_field(o, js(body, "to"), 0);
    csv_code(o, kids, 0);
    csv_field(o, verdict, 0);
    csv_field(o, detail, 1);
}

typedef struct exp {
    cli *c;
    const char *format;
    long long from, to;
    char ge[40], lt[40];
    const char *code;
    size_t written;
    csv_out csv;
} exp_t;

/* The EPCIS document, page by page from the "epcis" operation. */
static int export_epcis(exp_t *x)
{
    json_t *resp = NULL;
    char *cursor = NULL;
    int first = 1, ex = EX_DONE;
    for (;;) {
        json_t *req = json_pack("{s:s, s:i}", "op", "epcis", "limit", 500);
        if (x->from >= 0)
            json_object_set_new(req, "from", json_integer(x->from));
        if (x->to >= 0)
            json_object_set_new(req, "to", json_integer(x->to));
        if (*x->ge)
            json_object_set_new(req, "ge_time", json_string(x->ge));
        if (*x->lt)
            json_object_set_new(req, "lt_time", json_string(x->lt));
        if (x->code)
            json_object_set_new(req, "id", json_string(x->code));
        if (cursor)
            json_object_set_new(req, "cursor", json_string(cursor));
        if ((ex = cli_request(x->c, req, &resp)) != EX_DONE)
            break;
        if (first) {
            char now[32], *ctx = json_dumps(json_object_get(resp, "@context"), JSON_COMPACT);
            tt_rfc3339_now(now);
            printf("{\"@context\":%s,\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\","
                   "\"creationDate\":\"%s\",\"epcisBody\":{\"eventList\":[",
                   ctx ? ctx : "null", now);
            free(ctx);
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(resp, "events"), i, ev)
        {
            char *s = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(12));
            printf("%s\n%s", x->written++ ? "," : "", s ? s : "null");
            free(s);
        }
        first = 0;
        free(cursor);
        const char *n = json_string_value(json_object_get(resp, "next"));
        cursor = n ? strdup(n) : NULL;
        if (cursor && isatty(2))
            fprintf(stderr, "\r导出 exporting: %zu events, at entry %s ", x->written, cursor);
        json_decref(resp);
        resp = NULL;
        if (cursor == NULL)
            break;
    }
    free(cursor);
    if (!first)
        printf("]}}\n");
    if (isatty(2) && x->written)
        fprintf(stderr, "\r%-60s\r", "");
    return ex;
}

/* One entry (by seq) as a csv or json row, when it lies in the time bounds. */
static void row(exp_t *x, json_t *e)
{
    json_t *body = json_loads(js(e, "body"), 0, NULL);
    int64_t at = 0, ge = -1, lt = -1;
    tt_rfc3339_ms(js(body, "at"), &at);
    if (*x->ge)
        tt_rfc3339_ms(x->ge, &ge);
    if (*x->lt)
        tt_rfc3339_ms(x->lt, &lt);
    if (body && (ge < 0 || at >= ge) && (lt < 0 || at < lt)) {
        if (strcmp(x->format, "csv") == 0)
            csv_row(x->c, &x->csv, e, body);
        else {
            json_t *r = json_pack("{s:O, s:O, s:O, s:O, s:O}", "seq", json_object_get(e, "seq"),
                                  "time_ms", json_object_get(e, "time_ms"), "hash",
                                  json_object_get(e, "hash"), "by", json_object_get(e, "by"),
                                  "body", body);
            char *s = json_dumps(r, JSON_COMPACT);
            printf("%s\n%s", x->written ? "," : "", s ? s : "null");
            free(s);
            json_decref(r);
        }
        x->written++;
    }
    json_decref(body);
}

static int export_rows(exp_t *x)
{
    int ex = EX_DONE;
    json_t *resp;
    if (strcmp(x->format, "csv") == 0) {
        if (!x->csv.gb18030 && !x->csv.plain)
            fputs("\xEF\xBB\xBF", stdout); /* the byte-order mark Excel and WPS look for */
        for (size_t i = 0; i < sizeof CSV_HEAD / sizeof *CSV_HEAD; i++)
            csv_field(&x->csv, x->csv.plain ? strchr(CSV_HEAD[i], ' ') ? strchr(CSV_HEAD[i], ' ') + 1
                                                                       : CSV_HEAD[i]
                                            : CSV_HEAD[i],
                      i + 1 == sizeof CSV_HEAD / sizeof *CSV_HEAD);
    } else
        putchar('[');
    if (x->code) { /* the lot's entries, one by one */
        if ((ex = cli_request(x->c, json_pack("{s:s, s:s}", "op", "batch", "id", x->code),
                              &resp)) != EX_DONE)
            return ex;
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(resp, "events"), i, ev)
        {
            long long seq = (long long)json_integer_value(json_object_get(ev, "seq"));
            if ((x->from >= 0 && seq < x->from) || (x->to >= 0 && seq > x->to))
                continue;
            json_t *e;
            if ((ex = cli_request(x->c, json_pack("{s:s, s:I}", "op", "entry", "seq", seq),
                                  &e)) != EX_DONE)
                break;
            row(x, e);
            json_decref(e);
        }
        json_decref(resp);
    } else {
        long long from = x->from < 0 ? 0 : x->from;
        for (;;) {
            if ((ex = cli_request(x->c,
                                  json_pack("{s:s, s:I, s:i}", "op", "log", "from", from, "limit",
                                            1000),
                                  &resp)) != EX_DONE)
                break;
            size_t i;
            json_t *e;
            int past = 0;
            json_array_foreach(json_object_get(resp, "entries"), i, e)
            {
                long long seq = (long long)json_integer_value(json_object_get(e, "seq"));
                if (x->to >= 0 && seq > x->to) {
                    past = 1;
                    break;
                }
                row(x, e);
            }
            json_t *next = json_object_get(resp, "next");
            long long size = (long long)json_integer_value(json_object_get(resp, "size"));
            from = json_is_integer(next) ? (long long)json_integer_value(next) : size;
            if (isatty(2) && size > 0)
                fmt_progress("导出 exporting", (uint64_t)from, (uint64_t)size);
            json_decref(resp);
            if (past || !json_is_integer(next))
                break;
        }
    }
    if (strcmp(x->format, "json") == 0)
        puts("]");
    return ex;
}

int cmd_export(cli *c, int argc, char **argv)
{
    exp_t x = {.c = c, .format = "epcis", .from = -1, .to = -1};
    char code[TT_CODE_LEN + 1];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(EXPORT_USAGE, stdout);
            return EX_DONE;
        } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            x.format = argv[++i];
            if (strcmp(x.format, "epcis") && strcmp(x.format, "csv") && strcmp(x.format, "json"))
                return cli_fail(EX_USAGE, "usage", "--format 只能是 epcis、csv 或 json / --format is epcis, csv or json, not \"%s\"",
                                x.format);
        } else if (strcmp(a, "--encoding") == 0 && i + 1 < argc) {
            const char *enc = argv[++i];
            if (strcasecmp(enc, "gb18030") == 0)
                x.csv.gb18030 = 1;
            else if (strcasecmp(enc, "utf-8") == 0 || strcasecmp(enc, "utf8") == 0)
                x.csv.plain = 1;
            else if (strcasecmp(enc, "utf-8-bom") != 0)
                return cli_fail(EX_USAGE, "usage",
                                "--encoding 是 utf-8-bom（默认，Excel 和 WPS 直接打开）、gb18030 或 "
                                "utf-8（给程序读，无 BOM） / --encoding is utf-8-bom, gb18030 or "
                                "utf-8, not \"%s\"",
                                enc);
        } else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) && i + 1 < argc) {
            int end = a[2] == 't';
            if (bound_arg(a, argv[++i], end, end ? &x.to : &x.from, end ? x.lt : x.ge))
                return EX_USAGE;
        } else if (a[0] != '-' && x.code == NULL) {
            tt_error err;
            if (tt_code_parse(a, code, &err) != TT_OK)
                return cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
            x.code = code;
        } else {
            cli_unknown_arg(a);
            return cli_usage(EXPORT_USAGE, 0);
        }
    }
    if (c->json && strcmp(x.format, "epcis") != 0)
        x.format = "json";
    if ((x.csv.gb18030 || x.csv.plain) && strcmp(x.format, "csv") != 0)
        return cli_fail(EX_USAGE, "usage", "--encoding 只用于 --format csv / --encoding goes with --format csv");
    if (x.csv.gb18030 && (x.csv.cd = iconv_open("GB18030", "UTF-8")) == (iconv_t)-1)
        return cli_fail(EX_UNREACHABLE, "io", "这台电脑的 iconv 不支持 GB18030，请改用 --encoding utf-8-bom / this system's iconv has no GB18030");
    x.csv.lots = json_object();
    int ex = strcmp(x.format, "epcis") == 0 ? export_epcis(&x) : export_rows(&x);
    fflush(stdout);
    json_decref(x.csv.lots);
    if (x.csv.gb18030)
        iconv_close(x.csv.cd);
    return ex;
}
