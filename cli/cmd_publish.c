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
    return cli_usage(text, help);
}

static json_t *load_doc(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        cli_fail(EX_USAGE, "malformed", "这个文件不是有效的 JSON / cannot read %s: %s (line %d)", path, jerr.text, jerr.line);
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

static const char WITNESSES_USAGE[] =
    "usage: tcmtrace witnesses [show]\n"
    "       tcmtrace witnesses publish FILE\n"
    "show     the ledger's witness policy and, from the daemon, each witness's cosigned size\n"
    "         and lag behind the log.\n"
    "publish  signs FILE, a witness policy (docs/peers.md: \"witness <label> <vkey> <url>\",\n"
    "         \"group <label> <k>|all|any <label>...\", \"quorum <label>\"), as a\n"
    "         ledger.witnesses event (authority). From its entry on the daemon asks those\n"
    "         witnesses to cosign each checkpoint, and every client checks the quorum.\n";

static int witnesses_show(cli *c)
{
    json_t *resp;
    int ex = cli_request(c, json_pack("{s:s}", "op", "status"), &resp);
    if (ex)
        return ex;
    json_t *list = json_object_get(resp, "witnesses"), *pol = json_object_get(resp, "witness_policy");
    if (c->json) {
        json_t *j = json_pack("{s:O, s:O}", "policy", pol ? pol : json_null(), "witnesses",
                              list ? list : json_array());
        fmt_json(j);
        json_decref(j);
        json_decref(resp);
        return EX_DONE;
    }
    if (pol == NULL) {
        printf("本账本未发布见证策略 / this ledger has published no witness policy\n"
               "  (tcmtrace witnesses publish FILE, by a market authority)\n");
        json_decref(resp);
        return EX_DONE;
    }
    printf("见证策略 / witness policy: 账本序号 #%lld，要求 %lld 个见证方共同签署 / %lld to cosign\n\n",
           (long long)json_integer_value(json_object_get(pol, "seq")),
           (long long)json_integer_value(json_object_get(pol, "required")),
           (long long)json_integer_value(json_object_get(pol, "required")));
    fmt_table tb, *t = &tb;
    fmt_table_init(t, 5);
    fmt_table_row(t, "见证方 witness", "已签至 cosigned", "落后 lag", "状态 state", "地址 URL");
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        char size[32], lag[32];
        snprintf(size, sizeof size, "%lld",
                 (long long)json_integer_value(json_object_get(w, "cosigned_size")));
        snprintf(lag, sizeof lag, "%lld", (long long)json_integer_value(json_object_get(w, "lag")));
        const char *e = json_string_value(json_object_get(w, "last_error"));
        fmt_table_row(t, json_string_value(json_object_get(w, "label")), size, lag,
                      e ? "✗ 未应答 failing" : "✓ 正常 ok",
                      json_string_value(json_object_get(w, "url")));
    }
    fmt_table_print(t, "  ");
    json_array_foreach(list, i, w)
    {
        const char *e = json_string_value(json_object_get(w, "last_error"));
        if (e)
            printf("  %s: %s\n", json_string_value(json_object_get(w, "label")), e);
    }
    json_decref(resp);
    return EX_DONE;
}

int cmd_witnesses(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage_of(WITNESSES_USAGE, 1);
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "show") == 0))
        return witnesses_show(c);
    if (argc != 3 || strcmp(argv[1], "publish") != 0)
        return usage_of(WITNESSES_USAGE, 0);
    char *text;
    size_t len;
    tt_error err;
    if (tt_read_file(argv[2], 16384, &text, &len, &err) != TT_OK)
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s: %s", argv[2], err.message);
    tt_policy *pol = malloc(sizeof *pol);
    tt_err rc = pol ? tt_policy_parse(text, len, pol, &err) : TT_ERR_NOMEM;
    for (size_t i = 0; rc == TT_OK && i < pol->nwitness; i++)
        if (!*pol->url[i])
            rc = tt_fail(&err, TT_ERR_MALFORMED,
                         "witness %s has no URL: the log must know where to ask it", pol->label[i]);
    if (rc == TT_OK && pol->nwitness == 0)
        rc = tt_fail(&err, TT_ERR_MALFORMED, "the policy names no witness");
    unsigned required = rc == TT_OK ? tt_policy_required(pol) : 0;
    size_t n = rc == TT_OK ? pol->nwitness : 0;
    free(pol);
    if (rc != TT_OK) {
        free(text);
        return cli_fail(EX_USAGE, tt_err_name(rc), "%s: %s", argv[2],
                        rc == TT_ERR_NOMEM ? "out of memory" : err.message);
    }
    json_t *resp;
    int ex = cli_submit(c, "ledger.witnesses", json_pack("{s:s%}", "policy", text, len), &resp);
    free(text);
    if (ex)
        return ex;
    if (c->json)
        fmt_json(resp);
    else
        printf("已发布见证策略 / witness policy published: 账本序号 #%lld，%zu 个见证方，要求 %u "
               "个共同签署 / %zu witnesses, %u to cosign\n",
               (long long)json_integer_value(json_object_get(resp, "seq")), n, required, n,
               required);
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
                        "这条记录不是带买方承诺的销售 / entry #%lld is not a sale with a buyer commitment", seq);
    }
    tt_buyer_commitment(salt, buyer, want);
    int same = strcmp(want, commit) == 0;
    json_decref(ev);
    json_decref(resp);
    if (!same)
        return cli_fail(EX_UNVERIFIED, "bad_proof",
                        "盐和买方对不上这条记录的承诺：不是这位买方 / salt and buyer do not open the commitment of entry #%lld", seq);
    printf("买方承诺已核对 / the commitment of entry #%lld opens to this buyer\n", seq);
    return EX_DONE;
}
