/*
 * cmd_query.c: reading the ledger — show, trace, log, checkpoint, proof,
 * verify, audit, status, watch and api.
 *
 * verify trusts nothing the daemon says: it checks the checkpoint's
 * signature with the log key the user trusts, then for every entry in the
 * batch's trace the entry's own signature, that its hash is the leaf, and
 * the inclusion proof against that checkpoint's root.
 */
#define _GNU_SOURCE
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long jint_(json_t *v)
{
    return (long long)json_integer_value(v);
}

static long long ji(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static int one_code(int argc, char **argv, const char *usage_text, char code[TT_CODE_LEN + 1])
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return -1;
    }
    tt_error err;
    if (argc != 2) {
        fputs(usage_text, stderr);
        return EX_USAGE;
    }
    if (tt_code_parse(argv[1], code, &err) != TT_OK)
        return cli_fail(EX_USAGE, "malformed", "%s", err.message);
    return 0;
}

static void print_event_line(json_t *e, const char *indent)
{
    char t[32], q[48];
    printf("%s#%-6lld %s  ", indent, ji(e, "seq"),
           json_object_get(e, "time_ms") ? fmt_time((uint64_t)ji(e, "time_ms"), t) : "");
    fmt_pad(fmt_type(js(e, "type")), 9);
    if (*js(e, "by"))
        printf(" %s", js(e, "by"));
    if (*js(e, "to"))
        printf(" → %s", js(e, "to"));
    if (json_object_get(e, "qty_g"))
        printf("  %s", fmt_qty(ji(e, "qty_g"), q));
    if (*js(e, "buyer_commitment"))
        printf("  (买方承诺 buyer commitment %.12s…)", js(e, "buyer_commitment"));
    if (*js(e, "reason"))
        printf("  «%s»", js(e, "reason"));
    putchar('\n');
}

static void print_batch(json_t *b)
{
    char pretty[TT_CODE_PRETTY + 1], q1[48], q2[48], q3[48];
    json_t *herb = json_object_get(b, "herb"), *o = json_object_get(b, "origin");
    json_t *qty = json_object_get(b, "qty");
    printf("批次 / batch %s\n", fmt_code(js(b, "id"), pretty));
    const char *listing = js(herb, "listing");
    fmt_kv("药材", "%s (%s) %s · %s%s", js(herb, "name_zh"), js(herb, "latin"), js(herb, "part"),
           js(b, "form"),
           strcmp(listing, "unlisted") == 0      ? "  [药材目录未收录 unlisted]"
           : strcmp(listing, "unconfirmed") == 0 ? "  [目录条目待核实 unconfirmed]"
           : strcmp(listing, "compound") == 0    ? "  [复方产品 compound]"
                                                 : "");
    fmt_kv("状态", "%s (%s)", fmt_status(js(b, "status")), js(b, "status"));
    fmt_kv("持有人", "%s%s%s", js(b, "holder"), *js(b, "pending_to") ? " → 在途至 " : "",
           js(b, "pending_to"));
    fmt_kv("数量", "剩余 %s / 登记 %s，已售 %s", fmt_qty(ji(qty, "remaining"), q1),
           fmt_qty(ji(qty, "registered"), q2), fmt_qty(ji(qty, "sold"), q3));
    if (json_is_true(json_object_get(o, "mixed")))
        fmt_kv("产地", "多个产地 mixed origins%s%s", *js(o, "province") ? " · " : "",
               js(o, "province"));
    else
        fmt_kv("产地", "%s %s %s · %s%s", js(o, "province"), js(o, "city"), js(o, "county"),
               js(o, "base"), json_is_true(json_object_get(o, "daodi")) ? "（道地药材）" : "");
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(b, "composition"), k, p)
        fmt_kv(k ? "" : "成分", "%s %s %s %s%s  %s", js(p, "name_zh"), js(p, "province"),
               js(p, "city"), js(p, "county"),
               json_is_true(json_object_get(p, "daodi")) ? " 道地" : "", fmt_qty(ji(p, "g"), q1));
    fmt_kv("采收/等级", "%s · %s · %s", js(b, "harvest_date"), js(b, "grade"), js(b, "processing"));
    if (*js(b, "hold_reason"))
        fmt_kv("扣留原因", "%s", js(b, "hold_reason"));
    if (*js(b, "recall_root") && strcmp(js(b, "recall_root"), js(b, "id")) == 0)
        fmt_kv("召回", "本批次被召回 «%s»", js(b, "recall_reason"));
    else if (*js(b, "recall_root"))
        fmt_kv("召回", "随上游批次 %s 一并召回 «%s»", fmt_code(js(b, "recall_root"), pretty),
               js(b, "recall_reason"));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(b, "parents"), i, x)
        fmt_kv(i ? "" : "上游", "%s (%s, %s)", fmt_code(js(x, "id"), pretty), js(x, "via"),
               fmt_qty(ji(x, "qty_g"), q1));
    json_array_foreach(json_object_get(b, "children"), i, x)
        fmt_kv(i ? "" : "下游", "%s (%s, %s)", fmt_code(js(x, "id"), pretty), js(x, "via"),
               fmt_qty(ji(x, "qty_g"), q1));
    if (json_array_size(json_object_get(b, "inspections")))
        printf("  检验 / inspections\n");
    json_array_foreach(json_object_get(b, "inspections"), i, x) fmt_inspection(x, "    ");
}

int cmd_show(cli *c, int argc, char **argv)
{
    char code[TT_CODE_LEN + 1];
    int ex =
        one_code(argc, argv, "usage: tcmtrace show CODE\nThe current state of a batch.\n", code);
    if (ex)
        return ex < 0 ? EX_DONE : ex;
    json_t *resp;
    if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &resp)))
        return ex;
    json_t *b = json_object_get(resp, "batch");
    if (c->json) {
        ex = fmt_sale_line(b, resp);
        fmt_json(resp);
    } else {
        ex = fmt_sale_line(b, NULL);
        print_batch(b);
        printf("  记录 / events\n");
        size_t i;
        json_t *e;
        json_t *evs = json_object_get(resp, "events");
        long long omitted = ji(resp, "events_omitted");
        json_array_foreach(evs, i, e)
        {
            printf("    #%-6lld %s\n", ji(e, "seq"), fmt_type(js(e, "type")));
            /* a lot with a long history: its first events, then its newest */
            if (omitted > 0 && i + 1 < json_array_size(evs) &&
                ji(json_array_get(evs, i + 1), "seq") > ji(e, "seq") && i == 19)
                printf("    …… 中间 %lld 条记录未列出（tcmtrace export %s 列出全部） / %lld entries not "
                       "listed\n",
                       omitted, js(b, "id"), omitted);
        }
    }
    json_decref(resp);
    return ex;
}

/* How many lots lie below n along links. */
static size_t count_below(json_t *n, const char *links)
{
    size_t k = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(n, links), i, x) k += 1 + count_below(x, links);
    return k;
}

/* One node of a trace tree, then its parents or children, indented, down
 * to max levels (0: all); `brief` leaves out the events. */
static void print_node(json_t *n, int depth, const char *links, int max, int brief)
{
    char pretty[TT_CODE_PRETTY + 1], q[48], q2[48], ind[160];
    int pad = depth * 4;
    snprintf(ind, sizeof ind, "%*s", pad, "");
    json_t *herb = json_object_get(n, "herb");
    if (depth)
        printf("%s%s %s %s 的 %s\n", ind, strcmp(links, "parents") == 0 ? "↑ 来自" : "↓ 流向",
               js(n, "via"), fmt_qty(ji(n, "link_qty_g"), q), fmt_code(js(n, "id"), pretty));
    else
        printf("%s\n", fmt_code(js(n, "id"), pretty));
    if (json_is_true(json_object_get(n, "shown_above"))) {
        printf("%s    (见上 / shown above)\n", ind);
        return;
    }
    json_t *qty = json_object_get(n, "qty");
    printf("%s    %s %s · %s · %s · 持有人 %s · 剩余 %s/%s\n", ind, js(herb, "name_zh"),
           js(n, "form"), js(json_object_get(n, "origin"), "county"), fmt_status(js(n, "status")),
           js(n, "holder"), fmt_qty(ji(qty, "remaining"), q), fmt_qty(ji(qty, "registered"), q2));
    char evind[170];
    snprintf(evind, sizeof evind, "%s    ", ind);
    size_t i;
    json_t *x;
    if (!brief) {
        json_array_foreach(json_object_get(n, "events"), i, x)
        {
            print_event_line(x, evind);
            long long all = ji(n, "events_total");
            if (all > (long long)json_array_size(json_object_get(n, "events")) && i == 19)
                printf("%s…… 中间 %lld 条记录未列出 / %lld entries not listed\n", evind,
                       all - (long long)json_array_size(json_object_get(n, "events")),
                       all - (long long)json_array_size(json_object_get(n, "events")));
        }
        json_array_foreach(json_object_get(n, "inspections"), i, x) fmt_inspection(x, evind);
    }
    if (max && depth >= max) {
        size_t k = count_below(n, links);
        if (k)
            printf("%s    (还有 %zu 批未显示 / %zu more lots %s; raise --depth)\n", ind, k, k,
                   strcmp(links, "parents") == 0 ? "above" : "below");
        return;
    }
    json_array_foreach(json_object_get(n, links), i, x) print_node(x, depth + 1, links, max, brief);
}

/* One direction, from the paged trace (breadth first, 500 lots a page): the lots only. */
static void print_paged(json_t *nodes, const char *id, int depth, int max, int up)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        if (strcmp(js(n, "id"), id) != 0 || ji(n, "depth") != depth)
            continue;
        char pretty[TT_CODE_PRETTY + 1], q[48], q2[48], ind[160];
        snprintf(ind, sizeof ind, "%*s", depth * 4, "");
        if (depth)
            printf("%s%s %s %s 的 %s\n", ind, up ? "↑ 来自" : "↓ 流向", js(n, "via"),
                   fmt_qty(ji(n, "qty_g"), q), fmt_code(id, pretty));
        else
            printf("%s\n", fmt_code(id, pretty));
        printf("%s    %s %s · %s · %s · 持有人 %s · 剩余 %s/%s%s\n", ind, js(n, "herb"),
               js(n, "form"), js(n, "county"), fmt_status(js(n, "status")), js(n, "holder"),
               fmt_qty(ji(n, "remaining_g"), q), fmt_qty(ji(n, "registered_g"), q2),
               ji(n, "inspections") ? " · 有检验记录" : "");
        size_t k, below = 0;
        json_t *m;
        json_array_foreach(nodes, k, m)
        {
            if (strcmp(js(m, "from"), id) != 0 || ji(m, "depth") != depth + 1)
                continue;
            if (max && depth >= max)
                below++;
            else
                print_paged(nodes, js(m, "id"), depth + 1, max, up);
        }
        if (below)
            printf("%s    (还有 %zu 批未显示 / %zu more lots %s; raise --depth)\n", ind, below,
                   below, up ? "above" : "below");
        return;
    }
}

static int trace_one_way(cli *c, const char *code, int up, int depth)
{
    json_t *nodes = json_array();
    int64_t cursor = 0;
    int ex = EX_DONE;
    while (cursor >= 0) { /* every page, one level past --depth to count what is left out */
        json_t *resp;
        json_t *req = json_pack("{s:s, s:s, s:s, s:I, s:i}", "op", "trace", "id", code,
                                "direction", up ? "up" : "down", "cursor", (json_int_t)cursor,
                                "limit", 500);
        json_object_set_new(req, "depth", json_integer(depth ? depth + 1 : 64));
        if ((ex = cli_request(c, req, &resp)) != EX_DONE)
            break;
        json_t *t = json_object_get(resp, "trace");
        json_array_extend(nodes, json_object_get(t, "nodes"));
        json_t *next = json_object_get(t, "next");
        cursor = json_is_integer(next) ? (int64_t)json_integer_value(next) : -1;
        json_decref(resp);
    }
    json_t *root = NULL, *x;
    size_t i;
    json_array_foreach(nodes, i, x) if (!root && ji(x, "depth") == 0) root = x;
    if (ex == EX_DONE && c->json) {
        json_t *j = json_pack("{s:s, s:s, s:O}", "id", code, "direction", up ? "up" : "down",
                              "nodes", nodes);
        ex = root ? fmt_sale_line(root, j) : EX_DONE;
        fmt_json(j);
        json_decref(j);
    } else if (ex == EX_DONE) {
        ex = root ? fmt_sale_line(root, NULL) : EX_DONE;
        printf("%s\n", up ? "来源 (向上追溯至产地) / upstream to the origin"
                          : "去向 (向下追踪至销售) / downstream to every sale");
        print_paged(nodes, code, 0, depth, up);
    }
    json_decref(nodes);
    return ex;
}

static const char TRACE_USAGE[] =
    "usage: tcmtrace trace CODE [--up | --down] [--depth N] [--brief]\n"
    "The lineage of a batch: up to every origin and down to every descendant and sale,\n"
    "each lot with its events and inspections (--brief: the lots only). --up or --down:\n"
    "one direction, read a page of 500 lots at a time however large the tree, the lots\n"
    "only. --depth N: N levels, saying how many lots it leaves out.\n";

int cmd_trace(cli *c, int argc, char **argv)
{
    char code[TT_CODE_LEN + 1];
    const char *arg = NULL;
    int up = 1, down = 1, depth = 0, brief = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(TRACE_USAGE, stdout), EX_DONE;
        if (strcmp(argv[i], "--up") == 0)
            down = 0;
        else if (strcmp(argv[i], "--down") == 0)
            up = 0;
        else if (strcmp(argv[i], "--brief") == 0)
            brief = 1;
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
            char *end;
            long d = strtol(argv[++i], &end, 10);
            if (*end || d < 1 || d > 64)
                return cli_fail(EX_USAGE, "usage", "--depth 是 1 到 64 / --depth is 1 to 64, not \"%s\"", argv[i]);
            depth = (int)d;
        } else if (argv[i][0] != '-' && arg == NULL)
            arg = argv[i];
        else
            return cli_unknown_arg(argv[i]), cli_usage(TRACE_USAGE, 0);
    }
    tt_error err;
    if (arg == NULL || (!up && !down))
        return cli_usage(TRACE_USAGE, 0);
    if (tt_code_parse(arg, code, &err) != TT_OK)
        return cli_fail(EX_USAGE, "malformed", "%s", err.message);
    if (!up || !down) /* one direction: the paged trace, however large the tree */
        return trace_one_way(c, code, up, depth);
    json_t *resp;
    int ex;
    if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "trace", "id", code), &resp)))
        return ex;
    json_t *t = json_object_get(resp, "trace");
    if (c->json) {
        ex = fmt_sale_line(json_object_get(t, "up"), resp);
        fmt_json(resp);
        json_decref(resp);
        return ex;
    }
    ex = fmt_sale_line(json_object_get(t, "up"), NULL);
    if (up) {
        printf("来源 (向上追溯至产地) / upstream to the origin\n");
        print_node(json_object_get(t, "up"), 0, "parents", depth, brief);
    }
    if (down) {
        printf("%s去向 (向下追踪至销售) / downstream to every sale\n", up ? "\n" : "");
        print_node(json_object_get(t, "down"), 0, "children", depth, brief);
    }
    if (json_is_true(json_object_get(t, "truncated")))
        printf("(追溯树过大，已截断 / the tree was cut short)\n");
    json_decref(resp);
    return ex;
}

int cmd_log(cli *c, int argc, char **argv)
{
    json_t *req = json_pack("{s:s}", "op", "log"), *resp;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--from") == 0 || strcmp(argv[i], "--limit") == 0) && i + 1 < argc) {
            json_object_set_new(req, argv[i] + 2, json_integer(atoll(argv[i + 1])));
            i++;
        } else {
            json_decref(req);
            fputs("usage: tcmtrace log [--from SEQ] [--limit N]\nThe latest entries (50 unless "
                  "--limit).\n",
                  strcmp(argv[i], "--help") == 0 ? stdout : stderr);
            return strcmp(argv[i], "--help") == 0 ? EX_DONE : EX_USAGE;
        }
    }
    int ex = cli_request(c, req, &resp);
    if (ex)
        return ex;
    if (c->json) {
        fmt_json(resp);
        json_decref(resp);
        return EX_DONE;
    }
    printf("账本共 %lld 条 / %lld entries\n", ji(resp, "size"), ji(resp, "size"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp, "entries"), i, e)
    {
        json_t *body = json_loads(js(e, "body"), 0, NULL);
        char t[32], pretty[TT_CODE_PRETTY + 1];
        printf("  #%-6lld %s  ", ji(e, "seq"), fmt_time((uint64_t)ji(e, "time_ms"), t));
        fmt_pad(fmt_type(js(body, "type")), 10);
        fmt_pad(js(e, "by"), 10);
        const char *id = js(body, "id");
        printf(" %s\n", strlen(id) == TT_CODE_LEN ? fmt_code(id, pretty) : id);
        json_decref(body);
    }
    json_decref(resp);
    return EX_DONE;
}

/* ---- the largest checkpoint seen, per log ---------------------------------------------- */

/* Where this computer keeps the largest checkpoint it has verified of log v:
 * $TCMTRACE_STATE_DIR, else $XDG_STATE_HOME/tcmtrace, else
 * ~/.local/state/tcmtrace; a file per log, named by its origin and key ID. */
static int seen_path(const tt_verifier *v, char *out, size_t cap)
{
    const char *d = getenv("TCMTRACE_STATE_DIR"), *x = getenv("XDG_STATE_HOME"),
               *h = getenv("HOME");
    char dir[3000];
    if (d && *d)
        snprintf(dir, sizeof dir, "%s", d);
    else if (x && *x)
        snprintf(dir, sizeof dir, "%s/tcmtrace", x);
    else if (h && *h)
        snprintf(dir, sizeof dir, "%s/.local/state/tcmtrace", h);
    else
        return -1;
    char name[TT_NOTE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", v->name);
    for (char *p = name; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    /* make each missing level, as mkdir -p would */
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    snprintf(out, cap, "%s/checkpoint-%s-%08x", dir, name, v->key_id);
    return 0;
}

/* Refuses a checkpoint older than, or forked from, the largest one seen of
 * this log; remembers cp (note) when it is newer, once a consistency proof
 * from the one seen holds. */
static int check_seen(cli *c, const tt_verifier *v, const tt_checkpoint *cp, const char *note)
{
    char path[4200];
    if (seen_path(v, path, sizeof path) != 0)
        return EX_DONE;
    char *old = NULL;
    size_t len;
    tt_error err;
    tt_checkpoint prev;
    if (tt_read_file(path, 1 << 16, &old, &len, NULL) == TT_OK) {
        tt_err rc = tt_checkpoint_open((tt_bytes){len, (uint8_t *)old}, v, 1, &prev, &err);
        free(old);
        if (rc != TT_OK)
            return cli_fail(EX_UNVERIFIED, "bad_signature",
                            "本机记住的检查点验证不通过：除非确知它为何改变，否则不要删除它 / the checkpoint remembered in %s does not verify (%s); remove it "
                            "only if you know why it changed",
                            path, err.message);
        if (cp->size < prev.size)
            return cli_fail(EX_UNVERIFIED, "range",
                            "账本给出的检查点比本机已核验过的更旧：这可能是旧的或分叉的账本 / the ledger offered a checkpoint of %llu entries, older than the "
                            "%llu this computer has already verified (%s): an old or forked "
                            "view of the log, not trusted",
                            (unsigned long long)cp->size, (unsigned long long)prev.size, path);
        if (cp->size == prev.size) {
            if (memcmp(cp->root, prev.root, TT_HASH_SIZE) != 0)
                return cli_fail(EX_UNVERIFIED, "bad_proof",
                                "同样大小的两个检查点根不相同，却都有账本的签名：账本已分叉 / two checkpoints of %llu entries with different roots are "
                                "signed by %s: the log has forked",
                                (unsigned long long)cp->size, v->name);
            return EX_DONE;
        }
        json_t *resp;
        int ex = cli_request(c,
                             json_pack("{s:s, s:I, s:I}", "op", "consistency", "from",
                                       (json_int_t)prev.size, "to", (json_int_t)cp->size),
                             &resp);
        if (ex)
            return ex;
        json_t *pa = json_object_get(resp, "proof");
        size_t n = json_array_size(pa), hl;
        uint8_t *proof = calloc(n ? n : 1, TT_HASH_SIZE);
        rc = json_is_array(pa) && n <= 2 * TT_MERKLE_PROOF_MAX && proof ? TT_OK : TT_ERR_MALFORMED;
        for (size_t i = 0; rc == TT_OK && i < n; i++) {
            const char *h = json_string_value(json_array_get(pa, i));
            if (h == NULL ||
                tt_unb64(h, strlen(h), 0, proof + i * TT_HASH_SIZE, TT_HASH_SIZE, &hl) != TT_OK ||
                hl != TT_HASH_SIZE)
                rc = TT_ERR_MALFORMED;
        }
        if (rc == TT_OK)
            rc = tt_merkle_verify_consistency(prev.size, cp->size, (tt_bytes){32, prev.root},
                                              (tt_bytes){32, (uint8_t *)cp->root},
                                              (tt_bytes){n * TT_HASH_SIZE, proof}, &err);
        free(proof);
        json_decref(resp);
        if (rc != TT_OK)
            return cli_fail(EX_UNVERIFIED, "bad_proof",
                            "这个账本不是本机之前核验过的那个账本的延续 / the log of %llu entries is not an extension of the %llu this "
                            "computer verified before: %s",
                            (unsigned long long)cp->size, (unsigned long long)prev.size,
                            rc == TT_ERR_MALFORMED ? "the consistency proof is malformed"
                                                   : err.message);
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(note, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "tcmtrace: warning: cannot remember the checkpoint in %s, so an older one "
                        "offered later would go unnoticed\n",
                path);
    return EX_DONE;
}

static int check_entry_t(cli *c, uint64_t seq, const tt_checkpoint *cp, uint64_t *time_ms,
                         const uint8_t *want_hash, json_t *have, json_t **proof_out);

/* What the last trusted checkpoint's witnesses were: how many of the policy's cosigned it
 * and how many the policy asks (policy_seq 0: the ledger has no witness policy). */
static struct {
    uint64_t policy_seq;
    unsigned cosigned, required;
} witnessed;

/* The path remembering the witness policy seen of log v (beside the checkpoint seen). */
static int policy_path(const tt_verifier *v, char *out, size_t cap)
{
    char path[4200];
    if (seen_path(v, path, sizeof path) != 0)
        return -1;
    snprintf(out, cap, "%s.policy", path);
    return 0;
}

/* The actor key and body of entry seq, proved included in cp (a new reference; NULL if not);
 * its entry hash too when `hash` is not NULL. */
static json_t *proved_body(cli *c, uint64_t seq, const tt_checkpoint *cp, uint8_t actor[32],
                           uint8_t *hash)
{
    json_t *e;
    if (cli_call(c, json_pack("{s:s, s:I}", "op", "entry", "seq", (json_int_t)seq), &e) != EX_DONE)
        return NULL;
    json_incref(e);
    if (check_entry_t(c, seq, cp, NULL, NULL, e, NULL) != EX_DONE) {
        json_decref(e);
        return NULL;
    }
    const char *b64 = js(e, "entry");
    size_t len = 0;
    uint8_t *raw = malloc(strlen(b64) + 1);
    tt_entry en;
    json_t *body = NULL;
    if (raw && tt_unb64(b64, strlen(b64), 0, raw, strlen(b64), &len) == TT_OK &&
        tt_entry_decode((tt_bytes){len, raw}, &en, NULL) == TT_OK) {
        memcpy(actor, en.actor, 32);
        if (hash)
            tt_entry_hash((tt_bytes){len, raw}, hash);
        body = json_loadb((const char *)en.body.data, en.body.size, 0, NULL);
    }
    free(raw);
    json_decref(e);
    return body;
}

/*
 * The witness policy: the one the ledger published (its ledger.witnesses entry, proved in cp
 * and signed by an authority of the proved genesis), checked against the checkpoint's
 * cosignatures. A checkpoint short of its quorum is not trusted; so is one from a server
 * that hides a policy this computer saw. Returns EX_DONE, EX_UNVERIFIED, or -1 when the
 * quorum is short (worth asking again: the witnesses may not have answered yet).
 */
static int check_policy(cli *c, const tt_verifier *v, json_t *resp, const tt_checkpoint *cp,
                        const char *note)
{
    char path[4300], *seen = NULL;
    size_t len;
    uint64_t seen_seq = 0;
    witnessed.policy_seq = 0;
    if (policy_path(v, path, sizeof path) == 0 &&
        tt_read_file(path, 64, &seen, &len, NULL) == TT_OK) {
        seen_seq = strtoull(seen, NULL, 10);
        free(seen);
    }
    json_t *w = json_object_get(resp, "witnesses");
    if (w == NULL) {
        if (seen_seq)
            return cli_fail(EX_UNVERIFIED, "unverified",
                            "服务器没有给出见证策略，本机却见过它：缺少见证的检查点不可信 / the server shows no witness policy, but this computer saw the one "
                            "of entry #%llu (%s): a checkpoint without its witnesses is not "
                            "trusted",
                            (unsigned long long)seen_seq, path);
        return EX_DONE;
    }
    uint64_t seq = (uint64_t)ji(w, "seq");
    const char *text = js(w, "policy");
    if (seq < seen_seq)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "服务器给出的见证策略比本机见过的旧：不可信 / the server shows the witness policy of entry #%llu, older than the one "
                        "of entry #%llu this computer saw: not trusted",
                        (unsigned long long)seq, (unsigned long long)seen_seq);
    if (seq >= cp->size)
        return cli_fail(EX_UNVERIFIED, "range",
                        "见证策略所在的记录不在这个检查点里 / the witness policy's entry #%llu is not in the checkpoint of %llu "
                        "entries",
                        (unsigned long long)seq, (unsigned long long)cp->size);
    /* the entry is the authority's ledger.witnesses of exactly this text */
    uint8_t actor[32], gactor[32];
    json_t *body = proved_body(c, seq, cp, actor, NULL), *genesis = proved_body(c, 0, cp, gactor, NULL);
    int authority = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(genesis, "authorities"), i, a)
    {
        uint8_t pk[32];
        size_t pl = 0;
        const char *k = js(a, "key");
        if (k && tt_unb64(k, strlen(k), 0, pk, sizeof pk, &pl) == TT_OK && pl == 32 &&
            memcmp(pk, actor, 32) == 0)
            authority = 1;
    }
    int same = body && strcmp(js(body, "type"), "ledger.witnesses") == 0 &&
               strcmp(js(body, "policy"), text) == 0;
    json_decref(body);
    json_decref(genesis);
    if (!same || !authority)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "这条记录不是市场管理方签署的这份见证策略：服务器对见证方的说法不可信 / entry #%llu is not a market authority's witness policy of that text: "
                        "the server's account of the witnesses is not trusted",
                        (unsigned long long)seq);
    tt_policy *pol = malloc(sizeof *pol);
    tt_error err;
    int cosigned[TT_POLICY_MAX] = {0}, met = 0;
    uint64_t times[TT_POLICY_MAX] = {0};
    tt_err rc = pol ? tt_policy_parse(text, strlen(text), pol, &err) : TT_ERR_NOMEM;
    if (rc == TT_OK)
        rc = tt_policy_check(pol, note, strlen(note), cosigned, times, &met, &err);
    if (rc != TT_OK) {
        free(pol);
        return cli_fail(EX_UNVERIFIED, tt_err_name(rc), "见证方的共同签名验证不通过 / the witnesses' cosignatures: %s",
                        rc == TT_ERR_NOMEM ? "out of memory" : err.message);
    }
    witnessed.policy_seq = seq;
    witnessed.cosigned = 0;
    for (size_t k = 0; k < pol->nwitness; k++)
        witnessed.cosigned += (unsigned)cosigned[k];
    witnessed.required = tt_policy_required(pol);
    uint64_t newest = 0;
    for (size_t k = 0; k < pol->nwitness; k++)
        if (cosigned[k] && times[k] > newest)
            newest = times[k];
    free(pol);
    if (!met)
        return -1;
    /* a witness cosigns only its latest view, and the log asks again every few minutes: a
     * newest cosignature older than TCMTRACE_FRESH_SECONDS (an hour) is an old view */
    const char *fe = getenv("TCMTRACE_FRESH_SECONDS");
    long long fresh = fe && atoll(fe) > 0 ? atoll(fe) : 3600;
    long long age = (long long)time(NULL) - (long long)newest;
    if (age > fresh)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "见证方最近一次确认这份账本是在 %lld 秒前：服务器给出的可能是旧的账本状态"
                        "（例如召回之前的） / the witnesses last cosigned this checkpoint %lld s "
                        "ago (more than %lld s): it may be an old view of the ledger, from before a "
                        "recall say",
                        age, age, fresh);
    if (seq > seen_seq && *path) {
        char num[32];
        int n = snprintf(num, sizeof num, "%llu\n", (unsigned long long)seq);
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s.new", path);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fwrite(num, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0 ||
            rename(tmp, path) != 0)
            fprintf(stderr, "tcmtrace: warning: cannot remember the witness policy in %s\n", path);
    }
    return EX_DONE;
}

/* Fetches and verifies the latest (or `size`) checkpoint; the latest must
 * not be older than the largest seen of this log, and becomes it. With a
 * witness policy in the ledger, its quorum must have cosigned it (asked
 * again for up to 3 s while the witnesses answer). */
static int trusted_checkpoint_of(cli *c, int64_t size, uint64_t need, tt_checkpoint *cp,
                                 char **note)
{
    tt_verifier v;
    int ex = cli_log_verifier(c, &v);
    if (ex)
        return ex;
    for (int round = 0;; round++) {
        json_t *req = json_pack("{s:s}", "op", "checkpoint"), *resp;
        if (size >= 0)
            json_object_set_new(req, "size", json_integer(size));
        if (need > 0)
            json_object_set_new(req, "need", json_integer((json_int_t)need));
        if ((ex = cli_request(c, req, &resp)))
            return ex;
        tt_error err;
        const char *n = js(resp, "checkpoint");
        tt_err rc = tt_checkpoint_open(tt_bytes_str(n), &v, 1, cp, &err);
        if (rc == TT_OK && strcmp(cp->origin, v.name) != 0)
            rc = tt_fail(&err, TT_ERR_UNKNOWN_KEY,
                         "it is the checkpoint of log \"%s\", not of \"%s\" (the key's name)",
                         cp->origin, v.name);
        if (rc != TT_OK) {
            json_decref(resp);
            return cli_fail(EX_UNVERIFIED, tt_err_name(rc), "账本的检查点验证不通过 / the checkpoint does not verify: %s",
                            err.message);
        }
        ex = check_policy(c, &v, resp, cp, n);
        if (ex == -1 && round < 15) {
            json_decref(resp);
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (ex == -1)
            ex = cli_fail(EX_UNVERIFIED, "unverified",
                          "见证不足：已由 %u 个见证方共同签署（要求 %u 个） / cosigned by %u "
                          "witness%s, %u required: the checkpoint of %llu entries is not trusted",
                          witnessed.cosigned, witnessed.required, witnessed.cosigned,
                          witnessed.cosigned == 1 ? "" : "es", witnessed.required,
                          (unsigned long long)cp->size);
        if (ex == EX_DONE && size < 0)
            ex = check_seen(c, &v, cp, n);
        if (ex == EX_DONE && note)
            *note = strdup(n);
        json_decref(resp);
        return ex;
    }
}

static int trusted_checkpoint(cli *c, int64_t size, tt_checkpoint *cp, char **note)
{
    return trusted_checkpoint_of(c, size, 0, cp, note);
}

/* The recorded time of the checkpoint's last entry, proved by its inclusion: how old the view is. */
static int checkpoint_age(cli *c, const tt_checkpoint *cp, uint64_t *ms);
static void print_age(uint64_t ms);

int cmd_checkpoint(cli *c, int argc, char **argv)
{
    if (argc > 1) {
        int help = strcmp(argv[1], "--help") == 0;
        fputs("usage: tcmtrace checkpoint\nThe latest signed checkpoint, verified with the "
              "trusted log key.\n",
              help ? stdout : stderr);
        return help ? EX_DONE : EX_USAGE;
    }
    tt_checkpoint cp;
    char *note = NULL;
    uint64_t ms = 0;
    int ex = trusted_checkpoint(c, -1, &cp, &note);
    if (ex == EX_DONE)
        ex = checkpoint_age(c, &cp, &ms);
    if (ex == EX_DONE) {
        if (c->json) {
            json_t *j = json_pack("{s:s, s:I, s:s, s:b, s:I}", "origin", cp.origin, "size",
                                  (json_int_t)cp.size, "checkpoint", note, "verified", 1,
                                  "latest_entry_ms", (json_int_t)ms);
            if (witnessed.policy_seq)
                json_object_set_new(j, "witnesses",
                                    json_pack("{s:I, s:i, s:i}", "policy_seq",
                                              (json_int_t)witnessed.policy_seq, "cosigned",
                                              (int)witnessed.cosigned, "required",
                                              (int)witnessed.required));
            fmt_json(j);
            json_decref(j);
        } else {
            printf("%s", note);
            printf("✓ 签名有效 / signature verified: %s, %llu 条\n", cp.origin,
                   (unsigned long long)cp.size);
            if (witnessed.policy_seq)
                printf("✓ 已由 %u 个见证方共同签署（要求 %u 个） / cosigned by %u witness%s (%u "
                       "required)\n",
                       witnessed.cosigned, witnessed.required, witnessed.cosigned,
                       witnessed.cosigned == 1 ? "" : "es", witnessed.required);
            print_age(ms);
        }
    }
    free(note);
    return ex;
}

/* Whether the ledger of cp was made before events named their ledger: its genesis (entry 0,
 * proved included in cp) is signed v1. Only then is a v1 signature taken (docs/formats.md,
 * "Events name their ledger"). Asked once a run. */
static int legacy_ledger(cli *c, const tt_checkpoint *cp)
{
    static int known = -1;
    if (known >= 0)
        return known;
    known = 0;
    json_t *e = NULL, *p = NULL;
    if (cli_call(c, json_pack("{s:s, s:I}", "op", "entry", "seq", (json_int_t)0), &e) != EX_DONE ||
        cli_call(c, json_pack("{s:s, s:I, s:I}", "op", "proof", "seq", (json_int_t)0, "size",
                              (json_int_t)cp->size), &p) != EX_DONE) {
        json_decref(e);
        return known;
    }
    const char *b64 = js(e, "entry");
    json_t *pa = json_object_get(p, "proof");
    size_t len = 0, n = json_array_size(pa);
    uint8_t *raw = malloc(strlen(b64) + 1), *proof = calloc(n ? n : 1, 32), leaf[32];
    tt_entry en;
    tt_error err;
    int ok = raw && proof && n <= TT_MERKLE_PROOF_MAX &&
             tt_unb64(b64, strlen(b64), 0, raw, strlen(b64), &len) == TT_OK &&
             tt_entry_decode((tt_bytes){len, raw}, &en, &err) == TT_OK && en.seq == 0 &&
             tt_event_verify(cp->origin, en.body, en.actor, en.sig) != TT_OK &&
             tt_event_verify(NULL, en.body, en.actor, en.sig) == TT_OK;
    for (size_t i = 0; ok && i < n; i++) {
        const char *h = json_string_value(json_array_get(pa, i));
        size_t hl = 0;
        ok = h && tt_unb64(h, strlen(h), 0, proof + i * 32, 32, &hl) == TT_OK && hl == 32;
    }
    if (ok) {
        tt_entry_hash((tt_bytes){len, raw}, leaf);
        ok = tt_merkle_verify_inclusion(0, cp->size, (tt_bytes){32, leaf},
                                        (tt_bytes){n * 32, proof}, (tt_bytes){32, cp->root},
                                        &err) == TT_OK;
    }
    known = ok;
    free(raw);
    free(proof);
    json_decref(e);
    json_decref(p);
    return known;
}

/* Checks entry seq against cp: its signature and its inclusion proof, and when want_hash is
 * given, that it is the entry with that hash; prints nothing on success. `have` is the
 * daemon's answer for the entry when the caller asked for it already (taken over), else it
 * is asked for here; the proof answer is handed to the caller in *proof_out when it is not
 * NULL and the entry verifies. */
static int check_entry_t(cli *c, uint64_t seq, const tt_checkpoint *cp, uint64_t *time_ms,
                         const uint8_t *want_hash, json_t *have, json_t **proof_out)
{
    json_t *e = have, *p;
    int ex = e ? EX_DONE
               : cli_request(c, json_pack("{s:s, s:I}", "op", "entry", "seq", (json_int_t)seq),
                             &e);
    if (ex)
        return ex;
    ex = cli_request(c,
                     json_pack("{s:s, s:I, s:I}", "op", "proof", "seq", (json_int_t)seq, "size",
                               (json_int_t)cp->size),
                     &p);
    if (ex) {
        json_decref(e);
        return ex;
    }
    json_t *pa = json_object_get(p, "proof");
    size_t len = 0, n = json_array_size(pa);
    if (!json_is_array(pa) || n > TT_MERKLE_PROOF_MAX) { /* every answer is checked */
        json_decref(e);
        json_decref(p);
        return cli_fail(EX_UNVERIFIED, "malformed",
                        "账本给出的证明格式不对 / the daemon's proof of entry #%llu is not a list of at most %d hashes",
                        (unsigned long long)seq, TT_MERKLE_PROOF_MAX);
    }
    const char *b64 = js(e, "entry");
    uint8_t *raw = malloc(strlen(b64) + 1), leaf[32];
    uint8_t *proof = calloc(n ? n : 1, 32);
    int other = 0;
    tt_entry en;
    tt_error err;
    tt_err rc = tt_unb64(b64, strlen(b64), 0, raw, strlen(b64), &len);
    if (rc == TT_OK)
        rc = tt_entry_decode((tt_bytes){len, raw}, &en, &err);
    if (rc == TT_OK && en.seq != seq)
        rc = TT_ERR_BAD_SEQ;
    if (rc == TT_OK) {
        rc = tt_event_verify(cp->origin, en.body, en.actor, en.sig);
        if (rc == TT_ERR_BAD_SIGNATURE && legacy_ledger(c, cp))
            rc = tt_event_verify(NULL, en.body, en.actor, en.sig);
    }
    for (size_t i = 0; rc == TT_OK && i < n; i++) {
        const char *h = json_string_value(json_array_get(pa, i));
        size_t hl = 0;
        if (h == NULL || tt_unb64(h, strlen(h), 0, proof + i * 32, 32, &hl) != TT_OK || hl != 32)
            rc = TT_ERR_MALFORMED;
    }
    if (rc == TT_OK) {
        tt_entry_hash((tt_bytes){len, raw}, leaf);
        other = want_hash && memcmp(leaf, want_hash, 32) != 0; /* not the entry asked for */
        if (other)
            rc = TT_ERR_BAD_PROOF;
    }
    if (rc == TT_OK) {
        rc = tt_merkle_verify_inclusion(seq, cp->size, (tt_bytes){32, leaf},
                                        (tt_bytes){n * 32, proof}, (tt_bytes){32, cp->root}, &err);
    }
    if (rc == TT_OK && time_ms)
        *time_ms = en.time_ms;
    free(raw);
    free(proof);
    json_decref(e);
    if (rc == TT_OK && proof_out)
        *proof_out = p;
    else
        json_decref(p);
    if (other)
        return cli_fail(EX_UNVERIFIED, "bad_proof",
                        "服务器给出的记录与所要的哈希不符：这台服务器没有如实展示账本 / the daemon gave entry #%llu for that hash, and that entry's hash is "
                        "another: this server is not showing the ledger as it is",
                        (unsigned long long)seq);
    if (rc != TT_OK)
        return cli_fail(EX_UNVERIFIED, tt_err_name(rc), "这条记录验证不通过 / entry #%llu does not verify",
                        (unsigned long long)seq);
    return EX_DONE;
}

static int check_entry(cli *c, uint64_t seq, const tt_checkpoint *cp)
{
    return check_entry_t(c, seq, cp, NULL, NULL, NULL, NULL);
}

static int checkpoint_age(cli *c, const tt_checkpoint *cp, uint64_t *ms)
{
    *ms = 0;
    return cp->size ? check_entry_t(c, cp->size - 1, cp, ms, NULL, NULL, NULL) : EX_DONE;
}

/* "最新记录 2026-12-01 13:13（3 分钟前）/ latest entry 3 minutes ago" */
static void print_age(uint64_t ms)
{
    if (ms == 0)
        return;
    char t[32];
    int64_t ago = (int64_t)tt_now_ms() - (int64_t)ms;
    long min = ago < 0 ? 0 : (long)(ago / 60000);
    if (min < 120)
        printf("  检查点最新记录于 %s（%ld 分钟前）/ its latest entry is %ld minutes old\n",
               fmt_time(ms, t), min, min);
    else
        printf("  检查点最新记录于 %s（%ld 小时前）/ its latest entry is %ld hours old\n",
               fmt_time(ms, t), min / 60, min / 60);
}

int cmd_proof(cli *c, int argc, char **argv)
{
    uint8_t hash[32];
    int by_hash = argc == 2 && strlen(argv[1]) == 64 && tt_unhex(argv[1], hash, 32) == TT_OK;
    if (argc != 2 || (!by_hash && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        int help = argc == 2 && strcmp(argv[1], "--help") == 0;
        fputs("usage: tcmtrace proof SEQ|HASH\nThe inclusion proof of entry SEQ, or of the entry "
              "whose hash a submit answered\n(64 hexadecimal digits), in the latest checkpoint, "
              "verified.\n",
              help ? stdout : stderr);
        return help ? EX_DONE : EX_USAGE;
    }
    uint64_t seq = 0;
    json_t *e = NULL, *p = NULL;
    if (by_hash) { /* the daemon says which; check_entry_t makes sure it is that entry */
        int ex = cli_request(c, json_pack("{s:s, s:s}", "op", "entry", "hash", argv[1]), &e);
        if (ex)
            return ex;
        seq = (uint64_t)ji(e, "seq");
    } else {
        seq = strtoull(argv[1], NULL, 10);
    }
    tt_checkpoint cp;
    int ex = trusted_checkpoint(c, -1, &cp, NULL);
    if (ex) {
        json_decref(e);
        return ex;
    }
    /* the entry (when asked by hash, the one already here) and its proof, each asked once */
    if ((ex = check_entry_t(c, seq, &cp, NULL, by_hash ? hash : NULL, e, &p)))
        return ex;
    if (c->json) {
        json_object_set_new(p, "verified", json_true());
        if (by_hash)
            json_object_set_new(p, "hash", json_string(argv[1]));
        fmt_json(p);
    } else {
        printf("条目 #%llu 在 %llu 条的树中的包含证明 / inclusion proof\n", (unsigned long long)seq,
               (unsigned long long)cp.size);
        if (by_hash)
            printf("  条目哈希 / entry hash  %s\n", argv[1]);
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(p, "proof"), i, h)
            printf("  %2zu  %s\n", i, json_is_string(h) ? json_string_value(h) : "?");
        printf("✓ 已验证 / verified against the signed checkpoint of %s\n", cp.origin);
    }
    json_decref(p);
    return EX_DONE;
}

static void collect_seqs(json_t *node, const char *links, json_t *seen)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(node, "events"), i, x)
    {
        char k[32];
        snprintf(k, sizeof k, "%lld", ji(x, "seq"));
        json_object_set_new(seen, k, json_integer(ji(x, "seq")));
    }
    json_array_foreach(json_object_get(node, links), i, x) collect_seqs(x, links, seen);
}

/* Checks every entry of `code`'s trace against the latest trusted checkpoint. */
/* Whether the last trace verify_trace proved was cut short (a tree or a history too large for
 * one answer): what it proved holds, and it is not all. */
static int verify_cut;

/* The upward tree of the trace verify_trace last proved (its every entry checked): what the
 * state proofs are held to, never a second answer the server could make up. */
static json_t *verified_up;

int verify_trace(cli *c, const char *code, size_t *entries, tt_checkpoint *cp)
{
    int ex = trusted_checkpoint(c, -1, cp, NULL);
    if (ex)
        return ex;
    json_t *resp;
    if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "trace", "id", code), &resp)))
        return ex;
    json_t *t = json_object_get(resp, "trace"), *seen = json_object();
    collect_seqs(json_object_get(t, "up"), "parents", seen);
    collect_seqs(json_object_get(t, "down"), "children", seen);
    const char *k;
    json_t *v;
    size_t n = 0, total = json_object_size(seen);
    json_object_foreach(seen, k, v)
    {
        uint64_t seq = (uint64_t)json_integer_value(v);
        if (seq >= cp->size && (ex = trusted_checkpoint_of(c, -1, seq + 1, cp, NULL)) != EX_DONE)
            break; /* committed after the checkpoint was read: a newer one covers it */
        if (seq >= cp->size) {
            ex = cli_fail(EX_UNVERIFIED, "range",
                          "这条追溯里有记录不在账本的检查点内，无法证明 / entry #%llu of this trace is not covered by the ledger's checkpoint "
                          "of %llu entries: the trace cannot be proved",
                          (unsigned long long)seq, (unsigned long long)cp->size);
            break;
        }
        if ((ex = check_entry(c, seq, cp)))
            break;
        fmt_progress("核验 verify", ++n, total);
    }
    verify_cut = json_is_true(json_object_get(t, "truncated"));
    json_decref(verified_up);
    verified_up = ex == 0 ? json_incref(json_object_get(t, "up") ? json_object_get(t, "up") : t)
                          : NULL;
    json_decref(resp);
    json_decref(seen);
    *entries = n;
    return ex;
}

/* The lots of a trace's upward tree (the lot and every ancestor), each with the seqs shown for
 * it: {code: {seq: seq}}. */
static void collect_lots(json_t *node, json_t *lots)
{
    const char *id = js(node, "id");
    if (id[0] && json_object_get(lots, id) == NULL) {
        json_t *seqs = json_object();
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(node, "events"), i, x)
        {
            char k[32];
            snprintf(k, sizeof k, "%lld", ji(x, "seq"));
            json_object_set_new(seqs, k, json_true());
        }
        json_object_set_new(lots, id, seqs);
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(node, "parents"), i, x) collect_lots(x, lots);
}

/* What verify_state proved. */
static struct {
    size_t lots;            /* lots whose state was proved (the lot and its ancestors) */
    tt_state_leaf leaf;     /* the lot's own */
    char held_by[TT_CODE_LEN + 1]; /* a held or recalled ancestor, if any */
    char held_status[25];
} proved;

/* Proves the state map leaf of `code` and of every ancestor under the checkpoint `cp` the trace
 * was proved against: each leaf's last entry must be one the trace showed for that lot (else the
 * server left part of its history out), and the verdict is drawn from the proved leaves. */
static int verify_state(cli *c, const char *code, const tt_checkpoint *cp)
{
    memset(&proved, 0, sizeof proved);
    if (!cp->has_state)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "账本的检查点没有状态根，无法证明这批货现在的状态 / the checkpoint of %llu "
                        "entries carries no state map root: the lot's latest state cannot be proved",
                        (unsigned long long)cp->size);
    int ex = 0;
    if (verified_up == NULL)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "批次 %s 的追溯未经核验，无法核对它的状态 / lot %s: no proved trace to hold "
                        "its state to",
                        code, code);
    json_t *lots = json_object();
    collect_lots(verified_up, lots);
    const char *id;
    json_t *seqs;
    json_object_foreach(lots, id, seqs)
    {
        json_t *sr;
        if ((ex = cli_request(c, json_pack("{s:s, s:s, s:I}", "op", "state", "id", id, "size",
                                           (json_int_t)cp->size), &sr)))
            break;
        tt_smt_proof p;
        tt_error err;
        size_t pl = 0;
        uint8_t key[TT_SMT_HASH], wire[TT_SMT_PROOF_MAX];
        const char *leaf = js(sr, "leaf"), *p64 = js(sr, "proof");
        tt_smt_key(id, key);
        tt_state_leaf lf;
        if (tt_unb64(p64, strlen(p64), 0, wire, sizeof wire, &pl) != TT_OK ||
            tt_smt_proof_decode((tt_bytes){pl, wire}, &p, &err) != TT_OK ||
            tt_smt_verify(cp->state_root, key, &p, json_is_string(json_object_get(sr, "leaf"))
                          ? (const uint8_t *)leaf : NULL, strlen(leaf), &err) != TT_OK) {
            ex = cli_fail(EX_UNVERIFIED, "bad_proof",
                          "批次 %s 的状态证明不通过：服务器给出的状态不是账本签名的状态 / the state "
                          "proof of lot %s does not verify against the checkpoint of %llu entries",
                          id, id, (unsigned long long)cp->size);
        } else if (!json_is_string(json_object_get(sr, "leaf"))) {
            ex = cli_fail(EX_UNVERIFIED, "bad_proof",
                          "账本证明批次 %s 不在检查点 (%llu 条) 的状态里 / the ledger proves lot %s "
                          "is not in its state at %llu entries",
                          id, (unsigned long long)cp->size, id, (unsigned long long)cp->size);
        } else if (tt_statemap_leaf_parse(leaf, strlen(leaf), &lf, &err) != TT_OK) {
            ex = cli_fail(EX_UNVERIFIED, "malformed", "批次 %s 的状态记录读不懂 / lot %s: %s", id,
                          id, err.message);
        } else {
            char k[32];
            snprintf(k, sizeof k, "%llu", (unsigned long long)lf.last);
            if (json_object_get(seqs, k) == NULL)
                ex = cli_fail(EX_UNVERIFIED, "unverified",
                              "批次 %s 的最后一条记录 #%llu 没有给出：服务器隐瞒了这批货的部分记录 "
                              "/ the ledger's state of lot %s names entry #%llu as its last "
                              "change, which the trace did not show: part of its history was "
                              "left out",
                              id, (unsigned long long)lf.last, id, (unsigned long long)lf.last);
        }
        if (ex == 0) {
            proved.lots++;
            if (strcmp(id, code) == 0)
                proved.leaf = lf;
            else if ((strcmp(lf.status, "held") == 0 || strcmp(lf.status, "recalled") == 0) &&
                     proved.held_by[0] == '\0') {
                snprintf(proved.held_by, sizeof proved.held_by, "%s", id);
                snprintf(proved.held_status, sizeof proved.held_status, "%s", lf.status);
            }
        }
        json_decref(sr);
        if (ex)
            break;
    }
    json_decref(lots);
    return ex;
}

int verify_lot(cli *c, const char *code, size_t *entries, tt_checkpoint *cp, cli_proved_lot *out)
{
    memset(out, 0, sizeof *out);
    int ex;
    if ((ex = verify_trace(c, code, entries, cp)) || (ex = verify_state(c, code, cp)))
        return ex;
    out->lots = proved.lots;
    out->leaf = proved.leaf;
    memcpy(out->held_by, proved.held_by, sizeof out->held_by);
    memcpy(out->held_status, proved.held_status, sizeof out->held_status);
    /* the lot's first entry: the lowest seq the proved trace showed for the lot itself */
    json_t *root = verified_up, *x;
    size_t i;
    long long first = -1;
    if (strcmp(js(root, "id"), code) == 0)
        json_array_foreach(json_object_get(root, "events"), i, x) if (first < 0 || ji(x, "seq") < first)
            first = ji(x, "seq");
    if (first < 0)
        return cli_fail(EX_UNVERIFIED, "unverified",
                        "追溯里没有批次 %s 自己的记录 / the proved trace shows no entry of lot %s", code,
                        code);
    uint8_t actor[32];
    out->first_seq = (uint64_t)first;
    out->first_body = proved_body(c, (uint64_t)first, cp, actor, out->first_hash);
    if (out->first_body == NULL)
        ex = cli_fail(EX_UNVERIFIED, "unverified",
                      "批次 %s 的第一条记录 #%lld 无法证明 / entry #%lld, the first of lot %s, "
                      "does not verify",
                      code, first, first, code);
    return ex;
}

int cmd_verify(cli *c, int argc, char **argv)
{
    char code[TT_CODE_LEN + 1];
    int ex = one_code(argc, argv,
                      "usage: tcmtrace verify CODE [--log-key VKEY|FILE]\nProves every entry of "
                      "the batch's trace is in the log, against a checkpoint signed by the log\n"
                      "key you trust.\n",
                      code);
    if (ex)
        return ex < 0 ? EX_DONE : ex;
    tt_checkpoint cp;
    size_t n = 0;
    uint64_t ms = 0;
    json_t *resp;
    if ((ex = verify_trace(c, code, &n, &cp)) || (ex = verify_state(c, code, &cp)) ||
        (ex = checkpoint_age(c, &cp, &ms)) ||
        (ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &resp)))
        return ex;
    json_t *b = json_object_get(resp, "batch");
    /* what is judged is the proved state, not the server's word */
    json_object_set_new(b, "status", json_string(proved.leaf.status));
    if (proved.held_by[0] && strcmp(proved.leaf.status, "active") == 0)
        json_object_set_new(b, "status", json_string(proved.held_status));
    char pretty[TT_CODE_PRETTY + 1];
    if (c->json) {
        json_t *j =
            json_pack("{s:s, s:b, s:b, s:I, s:I, s:s, s:I, s:s}", "id", code, "verified", 1,
                      "complete", !verify_cut, "entries",
                      (json_int_t)n, "checkpoint_size", (json_int_t)cp.size, "origin", cp.origin,
                      "latest_entry_ms", (json_int_t)ms, "status", json_string_value(
                                                                     json_object_get(b, "status")));
        json_object_set_new(j, "state",
                            json_pack("{s:I, s:I, s:s, s:s, s:I, s:s, s:I, s:i}", "size",
                                      (json_int_t)cp.size, "lots", (json_int_t)proved.lots,
                                      "status", proved.leaf.status, "holder", proved.leaf.holder,
                                      "remaining_g", (json_int_t)proved.leaf.remaining_g,
                                      "verdict", proved.leaf.verdict, "last",
                                      (json_int_t)proved.leaf.last, "witnesses",
                                      (int)witnessed.cosigned));
        if (proved.held_by[0])
            json_object_set_new(json_object_get(j, "state"), "held_ancestor",
                                json_string(proved.held_by));
        ex = fmt_sale_line(b, j);
        fmt_json(j);
        json_decref(j);
    } else {
        ex = fmt_sale_line(b, NULL);
        if (verify_cut)
            printf("%s批次 %s 的 %zu 条追溯记录已验证，但不是全部：追溯树或记录太多，一次只给出每批"
                   "最早和最新的记录；全部请用 tcmtrace audit 核验 / verified %zu entries, not all of "
                   "the trace%s\n",
                   ex ? "  " : "⚠ ", fmt_code(code, pretty), n, n,
                   ex ? "：记录真实，但这批货不能卖" : "");
        else
            printf("%s批次 %s 的 %zu 条追溯记录均已验证%s\n", ex ? "  " : "✓ ", fmt_code(code, pretty), n,
                   ex ? "：记录真实，但这批货不能卖" : "");
        printf("  每条记录签名有效，且包含在 %s 签名的检查点 (%llu 条) 中\n", cp.origin,
               (unsigned long long)cp.size);
        printf("  verified: %zu entries, signatures and inclusion proofs, checkpoint size %llu\n",
               n, (unsigned long long)cp.size);
        if (proved.lots > 1)
            printf("  已核验：本批次及其 %zu 个上游批次在第 %llu 条记录时的状态", proved.lots - 1,
                   (unsigned long long)cp.size);
        else
            printf("  已核验：本批次在第 %llu 条记录时的状态", (unsigned long long)cp.size);
        if (witnessed.cosigned)
            printf("，经 %u 个见证方确认", witnessed.cosigned);
        printf("\n  state proved at %llu entries: %s\n", (unsigned long long)cp.size,
               proved.leaf.status);
        if (proved.held_by[0])
            printf("  ⚠ 上游批次 %s 已%s / ancestor %s is %s\n", proved.held_by,
                   strcmp(proved.held_status, "held") == 0 ? "扣留" : "召回", proved.held_by,
                   proved.held_status);
        print_age(ms);
    }
    json_decref(resp);
    return ex;
}

static void audit_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fmt_progress("审计 audit", done, total);
}

static void scratch_removed(const char *path)
{
    fprintf(stderr, "已删除中断的审计留下的临时库 / removed the scratch store of an audit that was "
                    "stopped: %s\n",
            path);
}

static char bus_message[4400];

static void on_bus(int sig)
{
    (void)sig;
    ssize_t n = write(STDERR_FILENO, bus_message, strlen(bus_message));
    (void)n;
    _exit(EX_UNREACHABLE);
}

int cmd_audit(cli *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        int help = argc == 2 && strcmp(argv[1], "--help") == 0;
        fputs("usage: tcmtrace audit DIR [--log-key VKEY|FILE]\nA full offline audit of the "
              "ledger in DIR: every link, signature, hash, Merkle node,\ncheckpoint and all "
              "derived state. Needs no daemon.\n",
              help ? stdout : stderr);
        return help ? EX_DONE : EX_USAGE;
    }
    const char *saved = c->dir;
    c->dir = argv[1];
    tt_verifier v;
    int ex = cli_log_verifier(c, &v);
    c->dir = saved;
    if (ex)
        return ex;
    tt_ledger *l;
    tt_error err;
    if (tt_ledger_open(argv[1], TT_LEDGER_RDONLY, &l, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s", err.message);
    char scratch[4096];
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    if (tt_state_audit_scratch(tmp, scratch, sizeof scratch) != 0) {
        tt_ledger_close(l);
        return cli_fail(EX_USAGE, "usage", "TMPDIR 路径太长，审计无法建立临时库 / TMPDIR is too long a path for the audit's scratch store");
    }
    tt_state_audit_clean(tmp, scratch_removed);
    /* the scratch store is written through its map and reserves its disk space ahead
     * (tt_scratch_reserve); should a write into a map fail anyway, say so, not "Bus error" */
    snprintf(bus_message, sizeof bus_message,
             "tcmtrace: io: a mapped file could not be written or read (SIGBUS); most likely the "
             "disk holding the audit's scratch store %s is full. Free some space or set TMPDIR to "
             "a larger disk and audit again: the next audit removes what this one left\n",
             scratch);
    signal(SIGBUS, on_bus);
    tt_audit_report r;
    tt_err rc = tt_state_audit(l, &v, 1, scratch, audit_progress, NULL, &r, &err);
    tt_ledger_close(l);
    if (rc != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(rc), "%s", err.message);
    char root[65];
    tt_hex((tt_bytes){32, r.root}, root);
    if (c->json) {
        json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", r.ok, "entries",
                              (json_int_t)r.entries, "checkpoints", (json_int_t)r.checkpoints,
                              "latest_checkpoint", (json_int_t)r.latest_checkpoint, "root", root);
        if (!r.ok) {
            json_object_set_new(j, "code", json_string(tt_err_name(r.why.code)));
            json_object_set_new(j, "message", json_string(r.why.message));
            if (r.bad_seq_known)
                json_object_set_new(j, "bad_seq", json_integer((json_int_t)r.bad_seq));
        }
        fmt_json(j);
        json_decref(j);
    } else if (r.ok) {
        printf("✓ 审计通过 / audit passed: %llu 条记录，%llu 个检查点已验证\n",
               (unsigned long long)r.entries, (unsigned long long)r.checkpoints);
        printf("  Merkle 根 root %s\n", root);
    } else {
        printf("✗ 审计未通过 / audit FAILED\n");
        if (r.why.code == TT_ERR_UNKNOWN_KEY && r.bad_seq_known && r.bad_seq == 0)
            printf(
                "  检查点由另一个日志密钥签名 / the checkpoints are signed by another key than the "
                "one given (--log-key, TCMTRACE_LOG_KEY or DIR/log.vkey): give this ledger's "
                "own log.vkey\n");
        else if (r.bad_seq_known)
            printf("  第一个不一致的条目 / first entry that disagrees: #%llu\n",
                   (unsigned long long)r.bad_seq);
        printf("  %s: %s\n", tt_err_name(r.why.code), r.why.message);
    }
    return r.ok ? EX_DONE : EX_UNVERIFIED;
}

int cmd_status(cli *c, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs("usage: tcmtrace status\nThe daemon's version, ledger size, origin and "
                     "counters.\n",
                     stdout),
               EX_DONE;
    if (argc != 1)
        return fputs("usage: tcmtrace status\n", stderr), EX_USAGE;
    json_t *resp;
    int ex = cli_request(c, json_pack("{s:s}", "op", "status"), &resp);
    if (ex)
        return ex;
    if (c->json)
        fmt_json(resp);
    else {
        printf("tcmtraced %s 运行中 / running\n", js(resp, "version"));
        fmt_kv("日志来源", "%s", js(resp, "origin"));
        fmt_kv("日志公钥", "%s", js(resp, "log_key"));
        fmt_kv("条目数", "%lld", ji(resp, "size"));
        fmt_kv("本次运行", "已写入 %lld，已拒绝 %lld，提交 %lld 次", ji(resp, "appended"),
               ji(resp, "refused"), ji(resp, "commits"));
    }
    json_decref(resp);
    return EX_DONE;
}

/* An entry in words: who did what to which lot. */
static void say_entry(cli *c, json_t *j, json_t *names)
{
    const char *b64 = js(j, "entry");
    uint8_t *raw = malloc(strlen(b64) + 4);
    size_t n = 0;
    tt_entry e;
    if (raw == NULL || tt_unb64(b64, strlen(b64), 0, raw, strlen(b64) + 4, &n) != TT_OK ||
        tt_entry_decode((tt_bytes){n, raw}, &e, NULL) != TT_OK) {
        printf("#%lld %s\n", ji(j, "seq"), js(j, "hash"));
        free(raw);
        return;
    }
    char key[48], t[32], q[48], pretty[TT_CODE_PRETTY + 1], pretty2[TT_CODE_PRETTY + 1];
    tt_b64((tt_bytes){32, e.actor}, key);
    if (json_object_get(names, key) == NULL) { /* the signer's id, asked once */
        json_t *resp = NULL;
        const char *id = "?";
        if (cli_call(c, json_pack("{s:s, s:s}", "op", "actor", "id", key), &resp) == EX_DONE &&
            json_is_true(json_object_get(resp, "ok")))
            id = js(json_object_get(resp, "actor"), "id");
        json_object_set_new(names, key, json_string(id));
        json_decref(resp);
    }
    const char *by = js(names, key);
    json_t *b = tt_json_load((const char *)e.body.data, e.body.size, 0, NULL);
    const char *type = js(b, "type"), *id = js(b, "id");
    printf("#%-6lld %s  %s ", (long long)e.seq, fmt_time(e.time_ms, t), *by ? by : "(new)");
    fmt_pad(fmt_type(type), 8);
    if (strlen(id) == TT_CODE_LEN)
        printf(" %s", fmt_code(id, pretty));
    json_t *qv = json_object_get(b, "qty_g");
    if (strcmp(type, "batch.register") == 0)
        printf(" %s %s，%s%s", js(json_object_get(b, "herb"), "name_zh"), fmt_qty(jint_(qv), q),
               js(json_object_get(b, "origin"), "province"),
               js(json_object_get(b, "origin"), "county"));
    else if (strcmp(type, "batch.transfer") == 0) {
        printf(" → %s", js(b, "to"));
        if (*js(b, "child"))
            printf("，分出 %s %s", fmt_qty(jint_(qv), q), fmt_code(js(b, "child"), pretty2));
    } else if (strcmp(type, "batch.split") == 0)
        printf(" → %zu 批", json_array_size(json_object_get(b, "children")));
    else if (strcmp(type, "batch.process") == 0) {
        json_t *out = json_object_get(b, "output");
        printf(" %zu 批 → %s %s %s", json_array_size(json_object_get(b, "inputs")),
               fmt_code(js(out, "id"), pretty2), js(out, "name_zh"),
               fmt_qty(jint_(json_object_get(out, "qty_g")), q));
    } else if (strcmp(type, "batch.sell") == 0)
        printf(" %s", fmt_qty(jint_(qv), q));
    else if (strcmp(type, "batch.inspect") == 0)
        printf(" %s，%zu 项", js(b, "lab"), json_array_size(json_object_get(b, "results")));
    else if (strcmp(type, "actor.enroll") == 0 || strcmp(type, "actor.revoke") == 0)
        printf(" %s %s", id, js(b, "name"));
    if (*js(b, "reason"))
        printf("：%s", js(b, "reason"));
    printf("  (%s)\n", type);
    json_decref(b);
    free(raw);
}

int cmd_watch(cli *c, int argc, char **argv)
{
    long count = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = atol(argv[++i]);
        else
            return fputs("usage: tcmtrace watch [--count N]\nPrints entries and checkpoints as "
                         "the daemon commits them.\n",
                         strcmp(argv[i], "--help") == 0 ? stdout : stderr),
                   strcmp(argv[i], "--help") == 0 ? EX_DONE : EX_USAGE;
    }
    if (c->dir == NULL)
        return cli_fail(EX_USAGE, "usage", "watch 需要 --dir 目录（或 TCMTRACE_DIR） / watch needs --dir DIR (or TCMTRACE_DIR)");
    char url[4200];
    snprintf(url, sizeof url, "ipc://%s/feed.sock", c->dir);
    if (!cli_ipc_listening(url + 6))
        return cli_fail(EX_UNREACHABLE, "unreachable",
                        "这个目录上没有运行 tcmtraced，无从监看：请先用 tcmtraced run 启动它 / no tcmtraced is running on %s, so there is nothing to watch (start it "
                        "with 'tcmtraced run %s')",
                        c->dir, c->dir);
    int s = nn_socket(AF_SP, NN_SUB);
    if (s < 0 || nn_setsockopt(s, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 || nn_connect(s, url) < 0)
        return cli_fail(EX_UNREACHABLE, "unreachable", "无法订阅账本的新记录 / cannot subscribe to %s", url);
    /* "watching" only once the daemon's feed has us: nothing committed after it is missed */
    for (int i = 0; i < 500 && nn_get_statistic(s, NN_STAT_CURRENT_CONNECTIONS) < 1; i++)
        usleep(10000);
    if (!c->json)
        printf("监听 / watching %s\n", url);
    fflush(stdout);
    json_t *names = json_object();
    for (long n = 0; count < 0 || n < count; n++) {
        char *msg = NULL;
        int len = nn_recv(s, &msg, NN_MSG, 0);
        if (len < 0)
            break;
        if (len > 6 && memcmp(msg, "entry ", 6) == 0) {
            json_t *j = tt_json_load(msg + 6, (size_t)len - 6, 0, NULL);
            if (c->json) {
                fmt_json(j);
            } else
                say_entry(c, j, names);
            json_decref(j);
        } else if (len > 11 && memcmp(msg, "checkpoint ", 11) == 0) {
            const char *nl = memchr(msg + 11, '\n', (size_t)len - 11);
            const char *size = nl ? nl + 1 : "";
            if (!c->json)
                printf("检查点 checkpoint: %.*s 条已签名 / entries signed\n",
                       (int)strcspn(size, "\n"), size);
        }
        fflush(stdout);
        nn_freemsg(msg);
    }
    json_decref(names);
    nn_close(s);
    return EX_DONE;
}

int cmd_api(cli *c, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fputs("usage: tcmtrace api JSON|-\nSends one raw API request (from standard input with "
              "-) and prints the raw\nanswer (exit 1 when ok is false).\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? EX_DONE : EX_USAGE;
    }
    int ex = cli_connect(c);
    if (ex)
        return ex;
    char *req = NULL;
    size_t len = 0;
    if (strcmp(argv[1], "-") == 0) {
        FILE *m = open_memstream(&req, &len);
        int ch;
        while ((ch = getchar()) != EOF)
            fputc(ch, m);
        fclose(m);
    } else {
        req = strdup(argv[1]);
        len = strlen(req);
    }
    /* sent as given, byte for byte: the point is to test what the daemon does */
    int sent = nn_send(c->sock, req, len, 0);
    free(req);
    if (sent < 0)
        return cli_fail(EX_UNREACHABLE, "unreachable", "无法把请求发给 tcmtraced / cannot send: %s", nn_strerror(nn_errno()));
    char *buf = NULL;
    int n = nn_recv(c->sock, &buf, NN_MSG, 0);
    if (n < 0)
        return cli_fail(EX_UNREACHABLE, "unreachable", "tcmtraced 没有应答 / no answer: %s", nn_strerror(nn_errno()));
    printf("%.*s\n", n, buf);
    json_t *resp = tt_json_load(buf, (size_t)n, 0, NULL);
    nn_freemsg(buf);
    ex = json_is_true(json_object_get(resp, "ok")) ? EX_DONE : EX_REFUSED;
    json_decref(resp);
    return ex;
}
