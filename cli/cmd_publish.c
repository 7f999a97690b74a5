/*
 * cmd_publish.c: what an authority publishes into the ledger as data (a
 * herb dictionary edition, a limits table), and opening a sale's buyer
 * commitment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int usage_of(const char *text, int help)
{
    fputs(text, help ? stdout : stderr);
    return help ? EX_DONE : EX_USAGE;
}

static json_t *load_doc(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        cli_fail(EX_USAGE, "malformed", "cannot read %s: %s (line %d)", path, jerr.text, jerr.line);
    return doc;
}

static const char HERBS_USAGE[] =
    "usage: tcmtrace herbs publish FILE\n"
    "Publishes a herb dictionary edition (schemas/herbs/ has the shipped one and its\n"
    "format) as the ledger.herbs events it takes, each one entry (authority). Rows\n"
    "add or replace the rows of the same 中文名; {\"name_zh\": ..., \"withdrawn\": true}\n"
    "takes one out. In force for every registration from its entry on.\n";

int cmd_herbs(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage_of(HERBS_USAGE, 1);
    if (argc != 3 || strcmp(argv[1], "publish") != 0)
        return usage_of(HERBS_USAGE, 0);
    json_t *doc = load_doc(argv[2]), *events = NULL, *f, *resp;
    tt_error err;
    if (doc == NULL)
        return EX_USAGE;
    if (tt_herbs_events(doc, &events, &err) != TT_OK) {
        json_decref(doc);
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s: %s", argv[2], err.message);
    }
    size_t i, rows = 0;
    int ex = EX_DONE;
    json_array_foreach(events, i, f)
    {
        rows += json_array_size(json_object_get(f, "herbs"));
        if ((ex = cli_submit(c, "ledger.herbs", json_incref(f), &resp)) != EX_DONE)
            break;
        if (!c->json)
            printf("  #%lld  %zu 条 / rows\n",
                   (long long)json_integer_value(json_object_get(resp, "seq")),
                   json_array_size(json_object_get(f, "herbs")));
        json_decref(resp);
    }
    if (ex == EX_DONE && !c->json)
        printf("已发布药材目录 / herb dictionary published: %s, %zu 条 in %zu entries\n",
               json_string_value(json_object_get(doc, "edition")), rows, json_array_size(events));
    else if (ex == EX_DONE)
        printf("{\"ok\":true,\"rows\":%zu,\"entries\":%zu}\n", rows, json_array_size(events));
    json_decref(events);
    json_decref(doc);
    return ex;
}

static const char LIMITS_USAGE[] =
    "usage: tcmtrace limits publish FILE\n"
    "Publishes a pharmacopoeia limits table (schemas/limits/ has the shipped one and its\n"
    "schema) as a ledger.limits event (authority). Every inspection from its entry on\n"
    "is judged against it; older verdicts keep the table they were judged by.\n";

int cmd_limits(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage_of(LIMITS_USAGE, 1);
    if (argc != 3 || strcmp(argv[1], "publish") != 0)
        return usage_of(LIMITS_USAGE, 0);
    json_t *table = load_doc(argv[2]), *resp;
    tt_error err;
    if (table == NULL)
        return EX_USAGE;
    json_t *edition = json_incref(json_object_get(table, "edition"));
    json_object_del(table, "edition");
    if (!json_is_string(edition) || tt_limits_check(table, &err) != TT_OK) {
        if (!json_is_string(edition))
            tt_fail(&err, TT_ERR_MALFORMED, "the table needs an \"edition\" naming it");
        json_decref(edition);
        json_decref(table);
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s: %s", argv[2], err.message);
    }
    int ex = cli_submit(c, "ledger.limits",
                        json_pack("{s:o, s:o}", "edition", edition, "table", table), &resp);
    if (ex)
        return ex;
    if (c->json)
        fmt_json(resp);
    else
        printf("已发布限量表 / limits table published: 账本序号 #%lld\n",
               (long long)json_integer_value(json_object_get(resp, "seq")));
    json_decref(resp);
    return EX_DONE;
}

static const char BUYER_USAGE[] =
    "usage: tcmtrace buyer-check SEQ --salt HEX --buyer TEXT\n"
    "Opens the buyer commitment of the sale in entry SEQ: exit 0 when salt and buyer are\n"
    "the ones it was made from, 4 when not.\n";

int cmd_buyer_check(cli *c, int argc, char **argv)
{
    const char *salt = NULL, *buyer = NULL, *seqs = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return usage_of(BUYER_USAGE, 1);
        if (strcmp(argv[i], "--salt") == 0 && i + 1 < argc)
            salt = argv[++i];
        else if (strcmp(argv[i], "--buyer") == 0 && i + 1 < argc)
            buyer = argv[++i];
        else if (seqs == NULL && argv[i][0] != '-')
            seqs = argv[i];
        else
            return usage_of(BUYER_USAGE, 0);
    }
    char *end;
    long long seq = seqs ? strtoll(seqs, &end, 10) : -1;
    if (!salt || !buyer || seq < 0 || *end)
        return usage_of(BUYER_USAGE, 0);
    json_t *resp;
    int ex = cli_request(c, json_pack("{s:s, s:I}", "op", "entry", "seq", (json_int_t)seq), &resp);
    if (ex)
        return ex;
    const char *body = json_string_value(json_object_get(resp, "body"));
    json_t *ev = body ? json_loads(body, 0, NULL) : NULL;
    const char *commit = json_string_value(json_object_get(ev, "buyer_commitment"));
    char want[65];
    if (commit == NULL) {
        json_decref(ev);
        json_decref(resp);
        return cli_fail(EX_REFUSED, "not_found",
                        "entry #%lld is not a sale with a buyer commitment", seq);
    }
    tt_buyer_commitment(salt, buyer, want);
    int same = strcmp(want, commit) == 0;
    json_decref(ev);
    json_decref(resp);
    if (!same)
        return cli_fail(EX_UNVERIFIED, "bad_proof",
                        "salt and buyer do not open the commitment of entry #%lld", seq);
    printf("买方承诺已核对 / the commitment of entry #%lld opens to this buyer\n", seq);
    return EX_DONE;
}
