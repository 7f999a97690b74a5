/*
 * cmd_list.c: the everyday lists: `stock` (what an actor holds and what is
 * on its way to and from it), `search` and `actor list`. Each follows the
 * API's pages (the "batches" and "actors" operations, 100 a page).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Every page of op (with the filter in req, stolen) into *all, up to max items. */
int cli_fetch_all(cli *c, json_t *req, const char *key, size_t max, json_t **all, int *more)
{
    char *cursor = NULL;
    int ex = EX_DONE;
    *all = json_array();
    *more = 0;
    for (;;) {
        json_t *r = json_deep_copy(req), *resp;
        json_object_set_new(r, "limit", json_integer(100));
        if (cursor)
            json_object_set_new(r, "cursor", json_string(cursor));
        if ((ex = cli_request(c, r, &resp)) != EX_DONE)
            break;
        json_array_extend(*all, json_object_get(resp, key));
        free(cursor);
        const char *n = json_string_value(json_object_get(resp, "next"));
        cursor = n ? strdup(n) : NULL;
        json_decref(resp);
        if (cursor && json_array_size(*all) >= max) {
            *more = 1;
            break;
        }
        if (cursor == NULL)
            break;
    }
    free(cursor);
    json_decref(req);
    while (json_array_size(*all) > max) {
        json_array_remove(*all, json_array_size(*all) - 1);
        *more = 1;
    }
    return ex;
}

static void batch_header(fmt_table *t)
{
    fmt_table_init(t, 5);
    fmt_table_row(t, "追溯码 code", "药材 herb", "剩余 left", "状态 state", "持有/对方 holder");
}

static void batch_row(fmt_table *t, json_t *b, const char *other)
{
    char pretty[TT_CODE_PRETTY + 3], q[48], herb[200], code[TT_CODE_PRETTY + 8];
    tt_code_pretty(js(b, "id"), pretty);
    fmt_sale why;
    const char *no = fmt_not_saleable(b, &why);
    snprintf(herb, sizeof herb, "%s%s%s", *js(b, "product_name") ? js(b, "product_name") : js(b, "herb"),
             *js(b, "form") ? "·" : "", js(b, "form"));
    snprintf(code, sizeof code, "%s%s", no && strcmp(no, "in_transit") ? "✗ " : "", pretty);
    fmt_table_row(t, code, herb, fmt_qty(json_integer_value(json_object_get(b, "remaining_g")), q),
                  fmt_status(js(b, "status")), other);
}

static const char STOCK_USAGE[] =
    "usage: tcmtrace stock [ACTOR] [--all]\n"
    "The lots ACTOR holds (default: the actor whose --key signs), those it has sent\n"
    "that are still in transit, and those on their way to it. Used-up and destroyed\n"
    "lots are left out unless --all.\n";

int cmd_stock(cli *c, int argc, char **argv)
{
    const char *who = NULL;
    int all = 0, ex, more;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(STOCK_USAGE, stdout), EX_DONE;
        if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (argv[i][0] != '-' && who == NULL)
            who = argv[i];
        else
            return cli_unknown_arg(argv[i]), cli_usage(STOCK_USAGE, 0);
    }
    char id[40];
    if (who == NULL) { /* the signer's own stock */
        tt_keypair kp;
        if (c->key == NULL && getenv("TCMTRACE_KEY") == NULL)
            return cli_fail(EX_USAGE, "usage", "stock 要指明人员编号，或用 --key 查看您自己的库存 / stock needs an ACTOR, or --key to show your own");
        if ((ex = cli_load_key(c, &kp)) != EX_DONE)
            return ex;
        char b64[48];
        tt_b64((tt_bytes){32, kp.pk}, b64);
        sodium_memzero(&kp, sizeof kp);
        json_t *resp;
        if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "actor", "id", b64), &resp)))
            return ex;
        snprintf(id, sizeof id, "%s", js(json_object_get(resp, "actor"), "id"));
        json_decref(resp);
        who = id;
    }
    json_t *lots;
    if ((ex = cli_fetch_all(c, json_pack("{s:s, s:s}", "op", "batches", "holder", who), "batches",
                        100000, &lots, &more)) != EX_DONE)
        return ex;
    json_t *held = json_array(), *out = json_array(), *in = json_array(), *b;
    size_t i;
    json_array_foreach(lots, i, b)
    {
        const char *st = js(b, "status");
        if (strcmp(js(b, "pending_to"), who) == 0)
            json_array_append(in, b);
        else if (*js(b, "pending_to"))
            json_array_append(out, b);
        else if (all || (strcmp(st, "depleted") && strcmp(st, "destroyed")))
            json_array_append(held, b);
    }
    size_t unsaleable = 0; /* of the lots shown as held: in transit ones are said so apart */
    json_array_foreach(lots, i, b)
    {
        if (c->json)
            fmt_sale_line(b, b);
    }
    json_array_foreach(held, i, b)
    {
        fmt_sale why;
        unsaleable += fmt_not_saleable(b, &why) != NULL;
    }
    if (c->json) {
        json_t *j = json_pack("{s:s, s:O, s:O, s:O}", "actor", who, "held", held, "sent", out,
                              "incoming", in);
        fmt_json(j);
        json_decref(j);
    } else {
        int64_t g = 0;
        json_array_foreach(held, i, b) g += json_integer_value(json_object_get(b, "remaining_g"));
        char q[48];
        printf("%s 的库存 / stock of %s: %zu 批在库 (%s)，%zu 批发出在途，%zu 批待收\n", who, who,
               json_array_size(held), fmt_qty(g, q), json_array_size(out), json_array_size(in));
        if (unsaleable)
            printf("✗ 其中 %zu 批不可销售（扣留、召回、已用尽或已销毁），见下表标 ✗ 的行 / %zu lots "
                   "marked ✗ may not be sold\n",
                   unsaleable, unsaleable);
        const struct {
            const char *title;
            json_t *list;
            int peer; /* 0 none, 1 pending_to, 2 holder */
        } parts[] = {{"在库 held", held, 0}, {"发出在途 sent, not yet received", out, 1},
                     {"待收 on the way to you", in, 2}};
        for (int p = 0; p < 3; p++) {
            if (json_array_size(parts[p].list) == 0)
                continue;
            printf("\n%s\n", parts[p].title);
            fmt_table t;
            batch_header(&t);
            json_array_foreach(parts[p].list, i, b)
            {
                char other[80];
                snprintf(other, sizeof other, "%s%s", parts[p].peer == 1 ? "→ " : parts[p].peer == 2 ? "← " : "",
                         parts[p].peer == 1 ? js(b, "pending_to") : js(b, "holder"));
                batch_row(&t, b, other);
            }
            fmt_table_print(&t, "  ");
        }
        if (json_array_size(lots) == 0)
            printf("  (没有批次 / no lots)\n");
    }
    json_decref(held), json_decref(out), json_decref(in), json_decref(lots);
    return EX_DONE;
}

static const char SEARCH_USAGE[] =
    "usage: tcmtrace search [--herb 中文名] [--origin PLACE] [--holder ACTOR]\n"
    "         [--state active|in_transit|held|recalled|depleted|destroyed]\n"
    "         [--harvest-from YYYY-MM-DD] [--harvest-to YYYY-MM-DD] [--limit N]\n"
    "Lots matching every condition given (PLACE: a province, city or county), in trace\n"
    "code order, at most N (default 100).\n";

int cmd_search(cli *c, int argc, char **argv)
{
    static const char *const opts[][2] = {{"--herb", "herb"},
                                          {"--origin", "origin"},
                                          {"--holder", "holder"},
                                          {"--state", "state"},
                                          {"--harvest-from", "harvest_from"},
                                          {"--harvest-to", "harvest_to"}};
    json_t *req = json_pack("{s:s}", "op", "batches");
    long limit = 100;
    for (int i = 1; i < argc; i++) {
        int hit = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            json_decref(req);
            return fputs(SEARCH_USAGE, stdout), EX_DONE;
        }
        for (size_t k = 0; k < sizeof opts / sizeof *opts && i + 1 < argc; k++)
            if (strcmp(argv[i], opts[k][0]) == 0) {
                static const char STATES[] = " active in_transit held recalled depleted destroyed ";
                char word[64];
                snprintf(word, sizeof word, " %s ", argv[i + 1]);
                if (strcmp(argv[i], "--state") == 0 && (strlen(argv[i + 1]) > 40 || !strstr(STATES, word))) {
                    json_decref(req);
                    return cli_fail(EX_USAGE, "usage",
                                    "没有“%s”这种状态；--state 可以是 active（在库）、in_transit（在途）、"
                                    "held（扣留）、recalled（召回）、depleted（已用尽）或 destroyed（已销毁） / "
                                    "--state is one of active, in_transit, held, recalled, depleted, destroyed",
                                    argv[i + 1]);
                }
                if (strncmp(opts[k][1], "harvest", 7) == 0 && !tt_date_valid(argv[i + 1])) {
                    json_decref(req);
                    return cli_fail(EX_USAGE, "usage", "日期要写成 YYYY-MM-DD / %s takes a date YYYY-MM-DD, not \"%s\"",
                                    argv[i], argv[i + 1]);
                }
                json_object_set_new(req, opts[k][1], json_string(argv[++i]));
                hit = 1;
            }
        if (!hit && strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            char *end;
            limit = strtol(argv[++i], &end, 10);
            if (*end || limit < 1 || limit > 100000) {
                json_decref(req);
                return cli_fail(EX_USAGE, "usage", "--limit 是 1 到 100000 / --limit is 1 to 100000");
            }
            hit = 1;
        }
        if (!hit) {
            json_decref(req);
            cli_unknown_arg(argv[i]);
            return cli_usage(SEARCH_USAGE, 0);
        }
    }
    json_t *lots;
    int more, ex = cli_fetch_all(c, req, "batches", (size_t)limit, &lots, &more);
    if (ex != EX_DONE)
        return ex;
    if (c->json) {
        json_t *j = json_pack("{s:O, s:b}", "batches", lots, "more", more);
        fmt_json(j);
        json_decref(j);
    } else {
        printf("找到 %zu 批%s / %zu lots found%s\n", json_array_size(lots), more ? "以上" : "",
               json_array_size(lots), more ? " (more: narrow the search or raise --limit)" : "");
        fmt_table t;
        batch_header(&t);
        size_t i;
        json_t *b;
        json_array_foreach(lots, i, b)
        {
            char other[80];
            snprintf(other, sizeof other, "%s%s%s", js(b, "holder"), *js(b, "pending_to") ? " → " : "",
                     js(b, "pending_to"));
            batch_row(&t, b, other);
        }
        if (json_array_size(lots))
            fmt_table_print(&t, "  ");
        else
            fmt_table_free(&t);
    }
    json_decref(lots);
    return EX_DONE;
}

int actor_list(cli *c, int argc, char **argv)
{
    json_t *req = json_pack("{s:s}", "op", "actors");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            json_object_set_new(req, "role", json_string(argv[++i]));
        else {
            json_decref(req);
            int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fputs("usage: tcmtrace actor list [--role ROLE|authority]\nEvery enrolled actor "
                  "(revoked ones marked), or those with ROLE.\n",
                  help ? stdout : stderr);
            return help ? EX_DONE : EX_USAGE;
        }
    }
    json_t *all;
    int more, ex = cli_fetch_all(c, req, "actors", 1000000, &all, &more);
    if (ex != EX_DONE)
        return ex;
    if (c->json) {
        json_t *j = json_pack("{s:O}", "actors", all);
        fmt_json(j);
        json_decref(j);
        json_decref(all);
        return EX_DONE;
    }
    printf("%zu 个主体 / %zu actors\n", json_array_size(all), json_array_size(all));
    fmt_table t;
    fmt_table_init(&t, 5);
    fmt_table_row(&t, "编号 id", "姓名 name", "单位 organisation", "角色 roles", "状态 status");
    size_t i, k;
    json_t *a, *r;
    json_array_foreach(all, i, a)
    {
        char roles[300] = "", org[300];
        size_t o = 0;
        json_array_foreach(json_object_get(a, "roles"), k, r)
            o += (size_t)snprintf(roles + o, sizeof roles - o, "%s%s", k ? "、" : "",
                                  fmt_role(json_string_value(r)));
        if (json_is_true(json_object_get(a, "authority")) && o < sizeof roles)
            snprintf(roles + o, sizeof roles - o, "%s%s", o ? "、" : "", fmt_role("authority"));
        snprintf(org, sizeof org, "%s%s%s", js(a, "org"), *js(a, "stall") ? " · " : "",
                 js(a, "stall"));
        fmt_table_row(&t, js(a, "id"), js(a, "name"), org, roles,
                      strcmp(js(a, "status"), "revoked") == 0 ? "已撤销 revoked" : "有效 active");
    }
    fmt_table_print(&t, "  ");
    json_decref(all);
    return EX_DONE;
}
