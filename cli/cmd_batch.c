/*
 * cmd_batch.c: the events that move goods — register, transfer, receive,
 * reject, split, process, inspect, hold, release, recall, sell, destroy.
 * Each builds its event, signs it with the user's key, submits it and
 * prints what the person at the stall needs to see (the trace code, the
 * entry it became) or the daemon's refusal.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int usage(const char *text, int help)
{
    return cli_usage(text, help);
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

static int code_arg(const char *in, char code[TT_CODE_LEN + 1])
{
    tt_error err;
    if (tt_code_parse(in, code, &err) != TT_OK)
        return cli_fail(EX_USAGE, "malformed", "%s", err.message);
    return 0;
}

/* A GTIN-8, -12, -13 or -14 (spaces ignored) as the GTIN-14 events carry, its check digit checked. */
static int gtin_arg(const char *in, char out[15])
{
    char d[15];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || n == 14) {
            n = 99;
            break;
        }
        d[n++] = *p;
    }
    if (n != 8 && n != 12 && n != 13 && n != 14)
        return cli_fail(EX_USAGE, "malformed",
                        "--gtin 不是 GTIN：应为 8、12、13 或 14 位数字 / --gtin \"%s\" is not a GTIN: it takes 8, 12, 13 or 14 digits", in);
    memset(out, '0', 14 - n);
    memcpy(out + 14 - n, d, n);
    out[14] = '\0';
    if (!tt_gtin_valid(out))
        return cli_fail(EX_USAGE, "malformed",
                        "--gtin 的校验位不对：请从商品条码上重新抄写 / --gtin %s has a wrong check digit (it should end in %d); copy it again "
                        "from the product's barcode",
                        in, tt_gtin_check_digit(out, 13));
    return 0;
}

static int qty_arg(const char *in, int64_t *g)
{
    if (fmt_parse_qty(in, g) != 0)
        return cli_fail(EX_USAGE, "usage",
                        "这不是数量：请写成 500kg、1.5kg、20g、2t 或 10斤（精确到克） / \"%s\" is not a quantity: write e.g. 500kg, 1.5kg, 20g, 2t or 10斤 "
                        "(whole grams)",
                        in);
    return 0;
}

static int sha256_file(const char *path, char hex[65])
{
    char *data;
    size_t len;
    tt_error err;
    uint8_t h[32];
    if (tt_read_file(path, 64u << 20, &data, &len, &err) != TT_OK)
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
    tt_sha256(h, (uint8_t *)data, len);
    free(data);
    tt_hex((tt_bytes){32, h}, hex);
    return 0;
}

/* Prints an accepted event: what it did, its codes, its entry. */
static int done(cli *c, json_t *resp, const char *what, const char *const *codes, size_t ncodes)
{
    if (c->json) {
        json_t *cs = json_array();
        for (size_t i = 0; i < ncodes; i++)
            json_array_append_new(cs, json_string(codes[i]));
        json_object_set_new(resp, "codes", cs);
        fmt_json(resp);
        json_decref(resp);
        return EX_DONE;
    }
    char pretty[TT_CODE_PRETTY + 1];
    if (what)
        printf("%s\n", what);
    for (size_t i = 0; i < ncodes; i++)
        fmt_kv(i == 0 ? "追溯码" : "", "%s", fmt_code(codes[i], pretty));
    fmt_kv("账本序号", "#%lld", (long long)json_integer_value(json_object_get(resp, "seq")));
    fmt_kv("条目哈希", "%s", json_string_value(json_object_get(resp, "hash")));
    json_decref(resp);
    return EX_DONE;
}

/* Traditional forms of characters common in herb names, with their simplified ones: a
 * name typed in 繁体 is found in the (simplified) dictionary. */
static const char *const TRAD[][2] = {
    {"當", "当"}, {"歸", "归"}, {"參", "参"}, {"黃", "黄"}, {"術", "术"}, {"鬱", "郁"},
    {"薑", "姜"}, {"棗", "枣"}, {"蘇", "苏"}, {"麥", "麦"}, {"陳", "陈"}, {"靈", "灵"},
    {"膽", "胆"}, {"貝", "贝"}, {"龍", "龙"}, {"葉", "叶"}, {"烏", "乌"}, {"藥", "药"},
    {"蓮", "莲"}, {"蘆", "芦"}, {"雞", "鸡"}, {"決", "决"}, {"門", "门"}, {"東", "东"},
    {"銀", "银"}, {"連", "连"}, {"細", "细"}, {"樸", "朴"}, {"澤", "泽"}, {"瀉", "泻"},
    {"絲", "丝"}, {"頭", "头"}, {"實", "实"}, {"殼", "壳"}, {"紅", "红"}, {"蔞", "蒌"},
    {"車", "车"}, {"錢", "钱"}, {"蠶", "蚕"}, {"薊", "蓟"}, {"蟲", "虫"}, {"羅", "罗"},
    {"蘭", "兰"}, {"鈎", "钩"}, {"鉤", "钩"}, {"荊", "荆"}, {"遠", "远"}, {"誌", "志"},
    {"淨", "净"}, {"厚", "厚"}, {"懷", "怀"}, {"膠", "胶"}, {"蒼", "苍"}, {"薺", "荠"},
    {"竊", "窃"}, {"茲", "兹"}, {"蘿", "萝"}, {"蔔", "卜"}, {"樹", "树"}, {"魚", "鱼"},
    {"馬", "马"}, {"鹿", "鹿"}, {"茸", "茸"}, {"牽", "牵"}, {"僵", "僵"}, {"殭", "僵"}};

/* s with the traditional characters above made simplified, into out. */
static void simplify(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    while (*s && n + 4 < cap) {
        size_t k = 0, len = 1;
        for (; k < sizeof TRAD / sizeof *TRAD; k++)
            if (strncmp(s, TRAD[k][0], strlen(TRAD[k][0])) == 0)
                break;
        if (k < sizeof TRAD / sizeof *TRAD) {
            n += (size_t)snprintf(out + n, cap - n, "%s", TRAD[k][1]);
            s += strlen(TRAD[k][0]);
            continue;
        }
        while ((s[len] & 0xC0) == 0x80)
            len++;
        memcpy(out + n, s, len);
        n += len;
        s += len;
    }
    out[n] = '\0';
}

/* The code points of a UTF-8 string, up to max; returns how many. */
static size_t codepoints(const char *s, const char **at, size_t max)
{
    size_t n = 0;
    for (; *s && n < max; n++) {
        at[n] = s++;
        while ((*s & 0xC0) == 0x80)
            s++;
    }
    at[n] = s;
    return n;
}

/* Whether a and b are names of the same length that differ in one character (当皈, 当归). */
static int one_char_off(const char *a, const char *b)
{
    const char *pa[17], *pb[17];
    size_t na = codepoints(a, pa, 16), nb = codepoints(b, pb, 16), diff = 0;
    if (na != nb || na < 2 || *pa[na] || *pb[nb])
        return 0;
    for (size_t i = 0; i < na; i++)
        diff += (pa[i + 1] - pa[i] != pb[i + 1] - pb[i]) || memcmp(pa[i], pb[i], (size_t)(pa[i + 1] - pa[i]));
    return diff == 1;
}

/* Letters of s, lower case (pinyin as typed: "Dang Gui", "danggui"). */
static void letters(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
            out[n++] = (char)(*s | 0x20);
    out[n] = '\0';
}

/*
 * The herb dictionary row of `name` (*row, owned by *dict), or, when there is none, a usage
 * error that names the herbs meant most likely: the same name in simplified characters, the
 * name whose pinyin was typed, or a name one character off ("您是否要登记：当归？").
 */
static int herb_row(cli *c, const char *name, json_t **dict, json_t **row)
{
    json_t *resp;
    *dict = *row = NULL;
    int ex = cli_request(c, json_pack("{s:s}", "op", "herbs"), &resp);
    if (ex)
        return ex;
    json_t *hs = json_object_get(resp, "herbs"), *h;
    char simp[256], typed[128], py[128];
    simplify(name, simp, sizeof simp);
    letters(name, typed, sizeof typed);
    size_t i;
    json_array_foreach(hs, i, h)
        if (strcmp(json_string_value(json_object_get(h, "name_zh")), name) == 0) {
            *dict = resp;
            *row = h;
            return EX_DONE;
        }
    char guess[512] = "";
    size_t n = 0, found = 0;
    json_array_foreach(hs, i, h)
    {
        const char *z = json_string_value(json_object_get(h, "name_zh"));
        const char *p = json_string_value(json_object_get(h, "pinyin"));
        letters(p ? p : "", py, sizeof py);
        if (strcmp(z, simp) == 0 || (*typed && strcmp(py, typed) == 0) || one_char_off(z, name)) {
            if (found++ < 4)
                n += (size_t)snprintf(guess + n, sizeof guess - n, "%s%s", found > 1 ? "、" : "", z);
            if (n >= sizeof guess)
                n = sizeof guess - 1;
        }
    }
    json_decref(resp);
    if (found)
        return cli_fail(EX_USAGE, "unknown_herb",
                        "药材目录里没有“%s”。您是否要登记：%s？请用目录里的写法重新输入 --herb；"
                        "目录未收录的药材加 --unlisted / the herb dictionary has no \"%s\": did "
                        "you mean %s?",
                        name, guess, name, guess);
    return cli_fail(EX_USAGE, "unknown_herb",
                    "药材目录里没有“%s”：请用 tcmtrace herbs 查找正确的名称，目录未收录的药材加 "
                    "--unlisted（并写明 --latin 和 --part） / the herb dictionary has no \"%s\"",
                    name, name);
}

static const char REGISTER_USAGE[] =
    "usage: tcmtrace register --herb 中文名 [--latin NAME --part PART] --qty QTY\n"
    "         --province P --city C --county X --base BASE [--lat DEG --lon DEG] [--daodi]\n"
    "         --harvest YYYY-MM-DD --grade GRADE --processing TEXT\n"
    "         [--category plant|animal|mineral|fungus] [--form 药材|饮片]\n"
    "         [--doc FILE:KIND]... [--id CODE] [--unlisted] [--gtin GTIN]\n"
    "Registers a new batch held by the signer (--key). A trace code is made unless --id.\n"
    "The herb must agree with the ledger's herb dictionary (中文名, Latin drug name or\n"
    "source species, part); without --latin and --part they are the dictionary's own, and\n"
    "a name it lacks is refused before anything is sent, naming the herb most likely meant\n"
    "(繁体, pinyin or one character off). A herb the dictionary lacks needs --unlisted\n"
    "(with --latin and --part) and is shown as unlisted everywhere. --gtin gives the trade item's GTIN (8 to 14 digits, check\n"
    "digit checked): its labels can then be GS1 Digital Link (label --digital-link).\n";

int cmd_register(cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"herb", 1, 0, 'h'},     {"latin", 1, 0, 'l'},      {"part", 1, 0, 'p'},
        {"qty", 1, 0, 'q'},      {"province", 1, 0, 'P'},   {"city", 1, 0, 'C'},
        {"county", 1, 0, 'X'},   {"base", 1, 0, 'b'},       {"lat", 1, 0, 'y'},
        {"lon", 1, 0, 'x'},      {"daodi", 0, 0, 'd'},      {"harvest", 1, 0, 'H'},
        {"grade", 1, 0, 'g'},    {"processing", 1, 0, 'r'}, {"category", 1, 0, 'c'},
        {"form", 1, 0, 'f'},     {"doc", 1, 0, 'D'},        {"id", 1, 0, 'i'},
        {"unlisted", 0, 0, 'U'}, {"help", 0, 0, '?'},       {"gtin", 1, 0, 'G'},
        {0, 0, 0, 0}};
    const char *v[128] = {0};
    char gtin[15];
    int daodi = 0, unlisted = 0, ch, ex = EX_USAGE;
    if (wants_help(argc, argv))
        return usage(REGISTER_USAGE, 1);
    json_t *docs = json_array(), *dict = NULL, *row = NULL;
    optind = 1;
    while ((ch = cli_getopt(argc, argv, o)) != -1) {
        if (ch == 'd')
            daodi = 1;
        else if (ch == 'U')
            unlisted = 1;
        else if (ch == 'D') {
            char *sep = strrchr(optarg, ':'), hex[65];
            if (sep == NULL) {
                cli_fail(EX_USAGE, "usage", "--doc 要写成 文件:种类 / --doc takes FILE:KIND, e.g. cert.pdf:产地证明");
                goto out;
            }
            *sep = '\0';
            if (sha256_file(optarg, hex))
                goto out;
            json_array_append_new(docs, json_pack("{s:s, s:s}", "sha256", hex, "kind", sep + 1));
        } else if (ch == '?' || ch < 0 || ch > 127) {
            usage(REGISTER_USAGE, 0);
            goto out;
        } else
            v[ch] = optarg;
    }
    static const char req[] = "hqPCXbHgr";
    for (const char *r = req; *r; r++)
        if (v[(int)*r] == NULL) {
            cli_fail(EX_USAGE, "usage",
                     "登记需要 --herb、--qty、--province、--city、--county、--base、--harvest、--grade 和 --processing / register needs --herb, --qty, --province, --city, --county, --base, "
                     "--harvest, --grade and --processing");
            goto out;
        }
    if (unlisted && (!v['l'] || !v['p'])) {
        cli_fail(EX_USAGE, "usage",
                 "目录未收录的药材（--unlisted）要写明 --latin 和 --part / a herb the dictionary lacks (--unlisted) needs its --latin and --part");
        goto out;
    }
    if (!unlisted) { /* the dictionary's: names checked, --latin and --part from it if not given */
        if ((ex = herb_row(c, v['h'], &dict, &row)) != EX_DONE)
            goto out;
        ex = EX_USAGE;
        if (!v['l'])
            v['l'] = json_string_value(json_object_get(row, "latin"));
        if (!v['p'])
            v['p'] = json_string_value(json_object_get(row, "part"));
    }
    int64_t g;
    char code[TT_CODE_LEN + 1];
    if (qty_arg(v['q'], &g))
        goto out;
    if (v['i'] ? code_arg(v['i'], code) : (tt_code_new(tt_now_ms(), code), 0))
        goto out;
    if (v['G'] && gtin_arg(v['G'], gtin))
        goto out;
    json_t *herb = json_pack("{s:s, s:s, s:s}", "name_zh", v['h'], "latin", v['l'], "part", v['p']);
    if (v['c'])
        json_object_set_new(herb, "category", json_string(v['c']));
    json_t *origin = json_pack("{s:s, s:s, s:s, s:s, s:b}", "province", v['P'], "city", v['C'],
                               "county", v['X'], "base", v['b'], "daodi", daodi);
    if (v['y'])
        json_object_set_new(origin, "lat", json_string(v['y']));
    if (v['x'])
        json_object_set_new(origin, "lon", json_string(v['x']));
    json_t *f = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:I}", "id", code, "herb", herb, "origin",
                          origin, "harvest_date", v['H'], "grade", v['g'], "processing", v['r'],
                          "qty_g", (json_int_t)g);
    if (v['f'])
        json_object_set_new(f, "form", json_string(v['f']));
    if (json_array_size(docs))
        json_object_set(f, "documents", docs);
    if (unlisted)
        json_object_set_new(f, "unlisted", json_true());
    if (v['G'])
        json_object_set_new(f, "gtin", json_string(gtin));
    json_t *resp;
    if ((ex = cli_submit_new(c, "batch.register", f, v['i'] ? NULL : &code, v['i'] ? 0 : 1,
                             &resp)) != EX_DONE)
        goto out;
    char what[512], q[96];
    snprintf(what, sizeof what, "已登记批次 / batch registered: %s %s %s，%s%s %s，%s", v['h'],
             v['l'], v['p'], v['P'], v['C'], v['X'], fmt_qty_both(g, v['q'], q));
    json_decref(docs);
    json_decref(dict);
    const char *codes[] = {code};
    return done(c, resp, what, codes, 1);
out:
    json_decref(docs);
    json_decref(dict);
    return ex;
}

static const char TRANSFER_USAGE[] =
    "usage: tcmtrace transfer CODE --to ACTOR [--qty QTY] [--note TEXT]\n"
    "Sends the batch (or QTY of it, as a new child batch) to ACTOR; it is in transit\n"
    "until ACTOR runs 'tcmtrace receive'.\n";

int cmd_transfer(cli *c, int argc, char **argv)
{
    static const struct option o[] = {{"to", 1, 0, 't'},
                                      {"qty", 1, 0, 'q'},
                                      {"note", 1, 0, 'n'},
                                      {"help", 0, 0, '?'},
                                      {0, 0, 0, 0}};
    const char *to = 0, *qs = 0, *note = 0;
    int ch;
    if (wants_help(argc, argv))
        return usage(TRANSFER_USAGE, 1);
    optind = 1;
    while ((ch = cli_getopt(argc, argv, o)) != -1) {
        if (ch == 't')
            to = optarg;
        else if (ch == 'q')
            qs = optarg;
        else if (ch == 'n')
            note = optarg;
        else
            return usage(TRANSFER_USAGE, 0);
    }
    char code[TT_CODE_LEN + 1], child[TT_CODE_LEN + 1];
    if (optind + 1 != argc || to == NULL)
        return usage(TRANSFER_USAGE, 0);
    if (code_arg(argv[optind], code))
        return EX_USAGE;
    int64_t g = 0;
    if (qs && qty_arg(qs, &g))
        return EX_USAGE;
    json_t *f = json_pack("{s:s, s:s}", "id", code, "to", to), *resp;
    int part = 0;
    if (qs) { /* a part of what remains becomes a child batch */
        int ex = cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &resp);
        if (ex) {
            json_decref(f);
            return ex;
        }
        int64_t rem = json_integer_value(
            json_object_get(json_object_get(json_object_get(resp, "batch"), "qty"), "remaining"));
        json_decref(resp);
        if (g < rem) {
            part = 1;
            tt_code_new(tt_now_ms(), child);
            json_object_set_new(f, "qty_g", json_integer(g));
            json_object_set_new(f, "child", json_string(child));
        } else if (g > rem) {
            json_object_set_new(f, "qty_g", json_integer(g)); /* let the daemon say no */
        }
    }
    if (note)
        json_object_set_new(f, "note", json_string(note));
    int ex = cli_submit_new(c, "batch.transfer", f, part ? &child : NULL, part ? 1 : 0, &resp);
    if (ex)
        return ex;
    char what[256], q[96], pretty[TT_CODE_PRETTY + 1];
    if (!part || c->json) {
        snprintf(what, sizeof what, "已发货 / sent: 整批给 %s（在途，待对方收货）", to);
        const char *codes[] = {part ? child : code, code};
        return done(c, resp, what, codes, part ? 2 : 1);
    }
    /* a part: which code went, and what stays under the old one */
    printf("已发货 / sent: %s 给 %s（在途，待对方收货）\n", fmt_qty_both(g, qs, q), to);
    fmt_kv("发出", "%s  %s：新批次，对方收货后归对方 / the part sent, a new lot",
           fmt_code(child, pretty), fmt_qty_both(g, qs, q));
    json_t *left;
    if (cli_call(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &left) == EX_DONE &&
        json_is_true(json_object_get(left, "ok"))) {
        json_t *qty = json_object_get(json_object_get(left, "batch"), "qty");
        fmt_kv("留下", "%s  剩余 %s：原批次，仍归您 / what stays with you", fmt_code(code, pretty),
               fmt_qty_both(json_integer_value(json_object_get(qty, "remaining")), NULL, q));
        json_decref(left);
    }
    return done(c, resp, NULL, NULL, 0);
}

/* receive, reject, hold, release, recall: a code and maybe a reason. */
static int simple(cli *c, int argc, char **argv, const char *type, int need_reason,
                  const char *usage_text, const char *what)
{
    if (wants_help(argc, argv))
        return usage(usage_text, 1);
    const char *reason = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (argv[i][0] != '-' && arg == NULL)
            arg = argv[i];
        else
            return usage(usage_text, 0);
    }
    char code[TT_CODE_LEN + 1];
    if (arg == NULL || (need_reason && reason == NULL))
        return usage(usage_text, 0);
    if (code_arg(arg, code))
        return EX_USAGE;
    json_t *f = json_pack("{s:s}", "id", code), *resp;
    if (need_reason)
        json_object_set_new(f, "reason", json_string(reason));
    int ex = cli_submit(c, type, f, &resp);
    if (ex)
        return ex;
    const char *codes[] = {code};
    return done(c, resp, what, codes, 1);
}

int cmd_receive(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.receive", 0,
                  "usage: tcmtrace receive CODE\nConfirms receipt; you become the holder.\n",
                  "已收货 / received: 您现在是持有人");
}

int cmd_reject(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.reject", 1,
                  "usage: tcmtrace reject CODE --reason TEXT\nRefuses a batch sent to you; it "
                  "returns to the sender.\n",
                  "已拒收 / rejected: 退回发货人");
}

int cmd_cancel(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.cancel", 0,
                  "usage: tcmtrace cancel CODE\nTakes back a transfer still in transit (the "
                  "sender); custody returns to you.\n",
                  "已撤回发货 / transfer cancelled: 批次回到您手中");
}

int cmd_hold(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.hold", 1,
                  "usage: tcmtrace hold CODE --reason TEXT\nQuarantines a batch (inspector, "
                  "regulator).\n",
                  "已扣留 / held: 该批次冻结，只能检验、放行或召回");
}

int cmd_release(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.release", 1,
                  "usage: tcmtrace release CODE --reason TEXT\nLifts a hold (inspector, "
                  "regulator).\n",
                  "已放行 / released");
}

int cmd_review(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.review", 1,
                  "usage: tcmtrace review CODE --reason TEXT\nClears a lot's scan signals after "
                  "the market office has looked into them (market authority); the reason is "
                  "shown with the lot.\n",
                  "已复核 / reviewed: 此前的扫码疑点不再计入");
}

int cmd_recall(cli *c, int argc, char **argv)
{
    return simple(c, argc, argv, "batch.recall", 1,
                  "usage: tcmtrace recall CODE --reason TEXT\nRecalls a batch and every "
                  "descendant (regulator).\n",
                  "已召回 / recalled: 该批次及其全部下游批次");
}

static const char SPLIT_USAGE[] =
    "usage: tcmtrace split CODE --into QTY[,QTY...]\n"
    "Splits the batch into children of those quantities (new trace codes).\n";

int cmd_split(cli *c, int argc, char **argv)
{
    if (wants_help(argc, argv))
        return usage(SPLIT_USAGE, 1);
    if (argc != 4 || strcmp(argv[2], "--into") != 0)
        return usage(SPLIT_USAGE, 0);
    char code[TT_CODE_LEN + 1];
    if (code_arg(argv[1], code))
        return EX_USAGE;
    json_t *kids = json_array();
    char *list = strdup(argv[3]);
    char codes[1000][TT_CODE_LEN + 1];
    const char *cp[1001];
    size_t n = 0;
    cp[n] = code;
    for (char *q = strtok(list, ",，"); q; q = strtok(NULL, ",，")) {
        int64_t g;
        if (n == 999 || qty_arg(q, &g)) {
            free(list);
            json_decref(kids);
            return EX_USAGE;
        }
        tt_code_new(tt_now_ms(), codes[n]);
        json_array_append_new(kids,
                              json_pack("{s:s, s:I}", "id", codes[n], "qty_g", (json_int_t)g));
        cp[n + 1] = codes[n];
        n++;
    }
    free(list);
    json_t *resp;
    json_incref(kids); /* listed after it is sent */
    int ex = cli_submit_new(c, "batch.split", json_pack("{s:s, s:o}", "id", code, "children", kids),
                            codes, n, &resp);
    if (ex || c->json) {
        json_decref(kids);
        return ex ? ex : done(c, resp, NULL, cp, n + 1);
    }
    char pretty[TT_CODE_PRETTY + 1], q[96];
    int64_t sum = 0;
    size_t k;
    json_t *x;
    json_array_foreach(kids, k, x) sum += json_integer_value(json_object_get(x, "qty_g"));
    printf("已分拆 / split into %zu:\n", n);
    fmt_kv("原批次", "%s  分出 %s，其余仍在原批次 / the rest stays under this code",
           fmt_code(code, pretty), fmt_qty_both(sum, NULL, q));
    json_array_foreach(kids, k, x)
    {
        int64_t g = json_integer_value(json_object_get(x, "qty_g"));
        char label[32];
        snprintf(label, sizeof label, "新批次 %zu", k + 1);
        fmt_kv(label, "%s  %s", fmt_code(codes[k], pretty), fmt_qty_both(g, NULL, q));
    }
    json_decref(kids);
    return done(c, resp, NULL, NULL, 0);
}

static const char PROCESS_USAGE[] =
    "usage: tcmtrace process --in CODE=QTY [--in CODE=QTY]... --out-qty QTY\n"
    "         --method TEXT [--form 饮片|药材] [--grade GRADE]\n"
    "         [--compound 中文名 --compound-latin NAME] [--gtin GTIN]\n"
    "Turns the inputs you hold into one output batch (e.g. 饮片 after 炮制). The output\n"
    "is the herb its inputs prove, all of one herb; a mixture of herbs must be declared\n"
    "a compound product with its own name. Its origin and 道地 follow from the inputs.\n";

int cmd_process(cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"in", 1, 0, 'i'},   {"out-qty", 1, 0, 'q'},  {"method", 1, 0, 'm'},
        {"form", 1, 0, 'f'}, {"name", 1, 0, 'n'},     {"grade", 1, 0, 'g'},
        {"help", 0, 0, '?'}, {"compound", 1, 0, 'c'}, {"compound-latin", 1, 0, 'L'},
        {"gtin", 1, 0, 'G'}, {0, 0, 0, 0}};
    const char *v[128] = {0};
    int ch;
    if (wants_help(argc, argv))
        return usage(PROCESS_USAGE, 1);
    json_t *inputs = json_array();
    optind = 1;
    while ((ch = cli_getopt(argc, argv, o)) != -1) {
        if (ch == 'i') {
            char *eq = strchr(optarg, '='), code[TT_CODE_LEN + 1];
            int64_t g;
            if (eq == NULL) {
                json_decref(inputs);
                return cli_fail(EX_USAGE, "usage", "--in 要写成 批次码=数量 / --in takes CODE=QTY");
            }
            *eq = '\0';
            if (code_arg(optarg, code) || qty_arg(eq + 1, &g)) {
                json_decref(inputs);
                return EX_USAGE;
            }
            json_array_append_new(inputs,
                                  json_pack("{s:s, s:I}", "id", code, "qty_g", (json_int_t)g));
        } else if (ch > 0 && ch < 128 && ch != '?') {
            v[ch] = optarg;
        } else {
            json_decref(inputs);
            return usage(PROCESS_USAGE, 0);
        }
    }
    int64_t out;
    if (!json_array_size(inputs) || !v['q'] || !v['m'] || qty_arg(v['q'], &out)) {
        json_decref(inputs);
        return v['q'] && v['m'] && json_array_size(inputs) ? EX_USAGE : usage(PROCESS_USAGE, 0);
    }
    char code[TT_CODE_LEN + 1], gtin[15];
    if (v['G'] && gtin_arg(v['G'], gtin)) {
        json_decref(inputs);
        return EX_USAGE;
    }
    tt_code_new(tt_now_ms(), code);
    json_t *output = json_pack("{s:s, s:I, s:s}", "id", code, "qty_g", (json_int_t)out, "form",
                               v['f'] ? v['f'] : "饮片");
    if (v['G'])
        json_object_set_new(output, "gtin", json_string(gtin));
    if (v['n'])
        json_object_set_new(output, "name_zh", json_string(v['n']));
    if (v['c']) {
        json_object_set_new(output, "compound", json_true());
        json_object_set_new(output, "herb",
                            json_pack("{s:s, s:s, s:s}", "name_zh", v['c'], "latin",
                                      v['L'] ? v['L'] : v['c'], "part", "复方"));
    }
    if (v['g'])
        json_object_set_new(output, "grade", json_string(v['g']));
    json_t *resp;
    int ex = cli_submit_new(
        c, "batch.process",
        json_pack("{s:o, s:o, s:s}", "inputs", inputs, "output", output, "method", v['m']), &code,
        1, &resp);
    if (ex)
        return ex;
    char what[256], q[48];
    snprintf(what, sizeof what, "已加工 / processed: 产出 %s %s", fmt_qty(out, q),
             v['f'] ? v['f'] : "饮片");
    const char *codes[] = {code};
    return done(c, resp, what, codes, 1);
}

static const char INSPECT_USAGE[] =
    "usage: tcmtrace inspect CODE --lab LAB --result TEST=VALUE[UNIT]... \n"
    "         (--report FILE | --report-sha256 HEX) [--standard TEXT]\n"
    "Records measured values, e.g. --result so2=520mg/kg --result moisture=12.5%.\n"
    "Tests: so2, pb, cd, as, hg, cu, aflatoxin_b1, aflatoxin_total, moisture. The\n"
    "verdict is computed against the limits table in the ledger; a fail holds the batch.\n";

static json_t *result_arg(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return NULL;
    const char *v = eq + 1, *u = v;
    if (*u == '-')
        u++;
    while ((*u >= '0' && *u <= '9') || *u == '.')
        u++;
    char test[64], value[64];
    snprintf(test, sizeof test, "%.*s", (int)(eq - arg), arg);
    snprintf(value, sizeof value, "%.*s", (int)(u - v), v);
    while (*u == ' ')
        u++;
    if (!tt_decimal_valid(value) || *u == '\0')
        return NULL;
    return json_pack("{s:s, s:s, s:s}", "test", test, "value", value, "unit", u);
}

int cmd_inspect(cli *c, int argc, char **argv)
{
    static const struct option o[] = {{"lab", 1, 0, 'l'},
                                      {"result", 1, 0, 'r'},
                                      {"report", 1, 0, 'f'},
                                      {"report-sha256", 1, 0, 's'},
                                      {"standard", 1, 0, 'S'},
                                      {"help", 0, 0, '?'},
                                      {0, 0, 0, 0}};
    const char *lab = 0, *report = 0, *sha = 0, *standard = "中国药典 2020 年版";
    int ch;
    if (wants_help(argc, argv))
        return usage(INSPECT_USAGE, 1);
    json_t *results = json_array();
    optind = 1;
    while ((ch = cli_getopt(argc, argv, o)) != -1) {
        json_t *r;
        switch (ch) {
        case 'l':
            lab = optarg;
            break;
        case 'f':
            report = optarg;
            break;
        case 's':
            sha = optarg;
            break;
        case 'S':
            standard = optarg;
            break;
        case 'r':
            if ((r = result_arg(optarg)) == NULL) {
                json_decref(results);
                return cli_fail(EX_USAGE, "usage",
                                "--result 要写成 项目=数值 单位 / --result takes TEST=VALUE UNIT, e.g. so2=520mg/kg, not \"%s\"",
                                optarg);
            }
            json_array_append_new(results, r);
            break;
        default:
            json_decref(results);
            return usage(INSPECT_USAGE, 0);
        }
    }
    char code[TT_CODE_LEN + 1], hex[65];
    if (optind + 1 != argc || !lab || !json_array_size(results) || (!report && !sha)) {
        json_decref(results);
        return usage(INSPECT_USAGE, 0);
    }
    if (code_arg(argv[optind], code) || (report && sha256_file(report, hex))) {
        json_decref(results);
        return EX_USAGE;
    }
    /* whether the lot is held already: a second fail then says so, instead of "held" anew */
    json_t *before = NULL;
    char held_why[256] = "";
    long long held_seq = -1;
    if (!c->json && cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &before) == 0) {
        json_t *bb = json_object_get(before, "batch");
        if (strcmp(json_string_value(json_object_get(bb, "status")) ?: "", "held") == 0) {
            snprintf(held_why, sizeof held_why, "%s",
                     json_string_value(json_object_get(bb, "hold_reason")) ?: "");
            held_seq = json_integer_value(json_object_get(bb, "held_seq"));
        }
        json_decref(before);
    }
    json_t *resp;
    int ex =
        cli_submit(c, "batch.inspect",
                   json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", code, "lab", lab, "standard",
                             standard, "results", results, "report_sha256", report ? hex : sha),
                   &resp);
    if (ex)
        return ex;
    /* show the computed verdict, every value with its limit */
    json_t *b;
    if (!c->json && cli_request(c, json_pack("{s:s, s:s}", "op", "batch", "id", code), &b) == 0) {
        json_t *ins = json_object_get(json_object_get(b, "batch"), "inspections");
        json_t *last = json_array_get(ins, json_array_size(ins) - 1);
        const char *verdict = json_string_value(json_object_get(last, "verdict"));
        int fail = strcmp(verdict, "fail") == 0;
        printf("检验结论 / verdict: %s%s\n", fmt_verdict(verdict),
               fail && held_seq < 0
                   ? " — 批次及其全部下游批次已扣留，只有监管人员可以解除 / held with every "
                     "descendant; only a regulator may release it"
                   : "");
        fmt_inspection(last, "  ");
        if (held_seq >= 0)
            printf("该批次此前已扣留（第 %lld 条记录：%s），%s / the lot was held already "
                   "(entry %lld)%s\n",
                   held_seq, held_why,
                   fail ? "本次不合格已记录，扣留继续；只有监管人员可以解除"
                        : "本次检验已记录，扣留不因此解除：解除需另行放行（release）",
                   held_seq,
                   fail ? "; this fail is recorded and the hold stays"
                        : "; this result does not lift it: a release does");
        json_decref(b);
    }
    const char *codes[] = {code};
    return done(c, resp, "已记录检验 / inspection recorded", codes, 1);
}

static const char SELL_USAGE[] =
    "usage: tcmtrace sell CODE --qty QTY [--buyer TEXT]\n"
    "Records a retail sale (pharmacy, trader). --buyer (a prescription or customer\n"
    "reference) is never written to the public log: the sale carries a salted\n"
    "commitment to it, and the salt is printed for you to keep.\n";

int cmd_sell(cli *c, int argc, char **argv)
{
    if (wants_help(argc, argv))
        return usage(SELL_USAGE, 1);
    const char *qs = 0, *buyer = 0, *arg = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--qty") == 0 && i + 1 < argc)
            qs = argv[++i];
        else if (strcmp(argv[i], "--buyer") == 0 && i + 1 < argc)
            buyer = argv[++i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else
            return usage(SELL_USAGE, 0);
    }
    char code[TT_CODE_LEN + 1], q[48], what[128];
    int64_t g;
    if (!arg || !qs)
        return usage(SELL_USAGE, 0);
    if (code_arg(arg, code) || qty_arg(qs, &g))
        return EX_USAGE;
    json_t *f = json_pack("{s:s, s:I}", "id", code, "qty_g", (json_int_t)g), *resp;
    char salt[33] = "", commit[65];
    if (buyer) { /* the buyer stays with the seller: only a commitment is signed */
        uint8_t raw[16];
        randombytes_buf(raw, sizeof raw);
        tt_hex((tt_bytes){16, raw}, salt);
        tt_buyer_commitment(salt, buyer, commit);
        json_object_set_new(f, "buyer_commitment", json_string(commit));
    }
    int ex = cli_submit(c, "batch.sell", f, &resp);
    if (ex)
        return ex;
    if (buyer && c->json)
        json_object_set_new(resp, "buyer_opening",
                            json_pack("{s:s, s:s}", "salt", salt, "buyer", buyer));
    else if (buyer)
        printf("买方记录未公开，账本只存其承诺。请保存以下凭据，以便需要时出示：\n"
               "The buyer is not in the public log, only a commitment to it. Keep this opening:\n"
               "  buyer  %s\n  salt   %s\n  核对 / to check: tcmtrace buyer-check %lld --salt %s "
               "--buyer '%s'\n",
               buyer, salt, (long long)json_integer_value(json_object_get(resp, "seq")), salt,
               buyer);
    char both[96];
    snprintf(what, sizeof what, "已销售 / sold: %s", fmt_qty_both(g, qs, both));
    (void)q;
    const char *codes[] = {code};
    return done(c, resp, what, codes, 1);
}

static const char DESTROY_USAGE[] = "usage: tcmtrace destroy CODE --reason TEXT [--method TEXT]\n"
                                    "Disposes of what remains (holder, regulator).\n";

int cmd_destroy(cli *c, int argc, char **argv)
{
    if (wants_help(argc, argv))
        return usage(DESTROY_USAGE, 1);
    const char *reason = 0, *method = 0, *arg = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (strcmp(argv[i], "--method") == 0 && i + 1 < argc)
            method = argv[++i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else
            return usage(DESTROY_USAGE, 0);
    }
    char code[TT_CODE_LEN + 1];
    if (!arg || !reason)
        return usage(DESTROY_USAGE, 0);
    if (code_arg(arg, code))
        return EX_USAGE;
    json_t *f = json_pack("{s:s, s:s}", "id", code, "reason", reason), *resp;
    if (method)
        json_object_set_new(f, "method", json_string(method));
    int ex = cli_submit(c, "batch.destroy", f, &resp);
    if (ex)
        return ex;
    const char *codes[] = {code};
    return done(c, resp, "已销毁 / destroyed", codes, 1);
}
