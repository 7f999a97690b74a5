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

#include "cli.h"

static const char EXPORT_USAGE[] =
    "usage: tcmtrace export [--format epcis|csv|json] [--from SEQ|DATE] [--to SEQ|DATE] [CODE]\n"
    "Writes the ledger's entries to standard output: as one GS1 EPCIS 2.0 JSON-LD\n"
    "EPCISDocument (epcis, the default), or one row per entry (csv, json). --from and\n"
    "--to take an entry number or a day (YYYY-MM-DD, local time), both inclusive;\n"
    "CODE keeps the entries about that lot. Each EPCIS event carries the entry that\n"
    "proves it (tcmtrace:seq, tcmtrace:entryHash, tcmtrace:entry).\n";

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
                    "%s \"%s\" is neither an entry number nor a day YYYY-MM-DD", opt, in);
}

static void csv_field(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else
        fputs(s, stdout);
    putchar(last ? '\n' : ',');
}

static void csv_row(json_t *e, json_t *body)
{
    char t[32], n[32], q[32] = "", kids[2048] = "";
    snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(e, "seq")));
    time_t s = (time_t)(json_integer_value(json_object_get(e, "time_ms")) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *qv = json_object_get(body, "qty_g"), *x;
    if (qv)
        snprintf(q, sizeof q, "%lld", (long long)json_integer_value(qv));
    size_t i, o = 0;
    json_t *list = json_object_get(body, "children");
    if (list == NULL)
        list = json_object_get(body, "inputs");
    json_array_foreach(list, i, x)
    {
        if (o < sizeof kids - 40)
            o += (size_t)snprintf(kids + o, sizeof kids - o, "%s%s=%lld", i ? " " : "",
                                  js(x, "id"),
                                  (long long)json_integer_value(json_object_get(x, "qty_g")));
    }
    json_t *out = json_object_get(body, "output");
    const char *lot = *js(body, "id") ? js(body, "id") : js(out, "id");
    const char *detail = *js(body, "reason")   ? js(body, "reason")
                         : *js(body, "note")   ? js(body, "note")
                         : *js(body, "method") ? js(body, "method")
                                               : js(body, "child");
    csv_field(n, 0);
    csv_field(t, 0);
    csv_field(js(body, "at"), 0);
    csv_field(js(body, "type"), 0);
    csv_field(js(e, "by"), 0);
    csv_field(lot, 0);
    csv_field(q, 0);
    csv_field(js(body, "to"), 0);
    csv_field(kids, 0);
    csv_field(detail, 1);
}

typedef struct exp {
    cli *c;
    const char *format;
    long long from, to;
    char ge[40], lt[40];
    const char *code;
    size_t written;
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
            csv_row(e, body);
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
    if (strcmp(x->format, "csv") == 0)
        puts("seq,recorded_utc,at,type,by,lot,qty_g,to,parts,detail");
    else
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
                return cli_fail(EX_USAGE, "usage", "--format is epcis, csv or json, not \"%s\"",
                                x.format);
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
            fputs(EXPORT_USAGE, stderr);
            return EX_USAGE;
        }
    }
    if (c->json && strcmp(x.format, "epcis") != 0)
        x.format = "json";
    int ex = strcmp(x.format, "epcis") == 0 ? export_epcis(&x) : export_rows(&x);
    fflush(stdout);
    return ex;
}
