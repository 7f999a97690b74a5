/*
 * say.c: a refusal in the user's own words: the message table's sentence (or one of its own
 * for what people meet most), then the code and the details, in the command's terms.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tcmtrace/messages.h"

/* The event type being submitted, for a refusal's own sentence (cli_submit_new sets it). */
static const char *submitting;

void cli_submitting(const char *type)
{
    submitting = type;
}

/* The details a person reads: a JSON field named as the command's option ("harvest_date"
 * is --harvest), and grams in the units the goods are weighed in ("100000 g" is 100 kg). */
static void humane(const char *in, char *out, size_t cap)
{
    static const char *const opts[][2] = {
        {"harvest_date", "--harvest"}, {"qty_g", "--qty"},        {"to", "--to"},
        {"reason", "--reason"},        {"lab", "--lab"},          {"results", "--result"},
        {"report_sha256", "--report"}, {"province", "--province"}, {"city", "--city"},
        {"county", "--county"},        {"base", "--base"},        {"grade", "--grade"},
        {"processing", "--processing"}, {"name_zh", "--herb"},    {"latin", "--latin"},
        {"part", "--part"},            {"form", "--form"},        {"gtin", "--gtin"},
        {"lat", "--lat"},              {"lon", "--lon"},          {"method", "--method"},
        {"category", "--category"},    {"standard", "--standard"}, {"into", "--into"},
        {"buyer_commitment", "--buyer"}, {"licence", "--licence"}, {"stall", "--stall"},
        {"roles", "--role"},           {"org", "--org"},          {"name", "--name"}};
    size_t o = 0;
    while (*in && o + 1 < cap) {
        int done = 0;
        if (*in == '"')
            for (size_t k = 0; k < sizeof opts / sizeof *opts && !done; k++) {
                size_t n = strlen(opts[k][0]);
                if (strncmp(in + 1, opts[k][0], n) == 0 && in[1 + n] == '"') {
                    o += (size_t)snprintf(out + o, cap - o, "%s", opts[k][1]);
                    in += n + 2;
                    done = 1;
                }
            }
        /* "<digits> g" standing alone: grams, said as the CLI says quantities */
        if (!done && *in >= '0' && *in <= '9' && (o == 0 || out[o - 1] == ' ' || out[o - 1] == '(')) {
            char *end;
            long long g = strtoll(in, &end, 10);
            if (end[0] == ' ' && end[1] == 'g' && (end[2] == '\0' || !((end[2] | 32) >= 'a' && (end[2] | 32) <= 'z'))) {
                char q[48];
                o += (size_t)snprintf(out + o, cap - o, "%s", fmt_qty(g, q));
                in = end + 2;
                done = 1;
            }
        }
        if (!done)
            out[o++] = *in++;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* A sentence of its own for the refusals people meet most, by what they tried. */
static const char *own_sentence(const char *code, const char *detail)
{
    const char *t = submitting ? submitting : "";
    if (strcmp(code, "bad_state") == 0 && strcmp(t, "batch.receive") == 0 && strstr(detail, "is active"))
        return "该批次已签收，无需再次签收 / it was received already";
    if (strcmp(code, "bad_state") == 0 && strcmp(t, "batch.cancel") == 0)
        return "这批货不在途中，无法撤回发货：对方已签收或已拒收 / it is not in transit";
    if (strcmp(code, "forbidden") == 0 && strcmp(t, "batch.release") == 0 && strstr(detail, "regulator"))
        return "检验不合格的批次只有监管人员可以解除扣留 / only a regulator may release a lot that "
               "failed its test";
    if (strcmp(code, "frozen") == 0)
        return "这批货已扣留或召回，不能发货、分拆、加工或销售；用 tcmtrace show 查看原因 / it is "
               "held or recalled";
    if (strcmp(code, "not_holder") == 0)
        return "这批货不在您手上：只有持有人可以这样做；用 tcmtrace show 查看谁持有 / you do not hold it";
    if (strcmp(code, "replay") == 0)
        return "这条记录账本已经收到过，不会重复记账 / the ledger has this very event already";
    return NULL;
}

int cli_fail(int ex, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char raw[2048], detail[2400];
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* a detail that opens with a sentence of its own ("中文 / English ...") says it first */
    char zh[1024] = "";
    const char *rest = raw, *sep = strstr(raw, " / ");
    int cjk = 0;
    for (const char *p = raw; sep && p < sep; p++)
        cjk |= (unsigned char)*p >= 0x80;
    if (cjk && (size_t)(sep - raw) < sizeof zh) {
        memcpy(zh, raw, (size_t)(sep - raw));
        zh[sep - raw] = '\0';
        rest = sep + 3;
    }
    humane(rest, detail, sizeof detail);
    /* what it means and what to do, in Chinese first (the message table), then the details */
    const tt_message *m = tt_message_get(code);
    const char *own = own_sentence(code, raw);
    if (own)
        fprintf(stderr, "tcmtrace: %s\n  ", own);
    else if (zh[0])
        fprintf(stderr, "tcmtrace: %s\n  ", zh);
    else if (m)
        fprintf(stderr, "tcmtrace: %s%s\n  ", m->zh, m->todo);
    else
        fputs("tcmtrace: ", stderr);
    fprintf(stderr, "%s: %s\n", code, detail);
    return ex;
}


/* whether the wrong word was named already (cli_getopt), so cli_usage need not say it again */
static int named;

int cli_getopt(int argc, char **argv, const struct option *o)
{
    opterr = 0;
    int ch = getopt_long(argc, argv, "", o, NULL);
    if (ch == '?') {
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        fprintf(stderr,
                "tcmtrace: 选项“%s”不认识，或者缺少它的值，没有发送任何东西 / unrecognized option, "
                "or its value is missing: %s\n",
                bad, bad);
        named = 1;
    }
    return ch;
}

void cli_unknown_arg(const char *arg)
{
    fprintf(stderr, "tcmtrace: 不认识“%s”，没有发送任何东西 / unrecognized argument: %s\n", arg, arg);
    named = 1;
}

int cli_usage(const char *text, int help)
{
    if (help) {
        fputs(text, stdout);
        return EX_DONE;
    }
    if (!named)
        fputs("tcmtrace: 命令写得不对，没有发送任何东西：请按下面的用法改正 / the command line is "
              "wrong; nothing was sent\n",
              stderr);
    named = 0;
    fputs(text, stderr);
    return EX_USAGE;
}
