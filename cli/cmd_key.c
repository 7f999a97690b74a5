/*
 * cmd_key.c: `tcmtrace key new|show` and `tcmtrace actor enroll|revoke|
 * rotate|show` — identities.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tcmtrace/qrimage.h"
#include "tcmtrace/util.h"

static const char KEY_USAGE[] =
    "usage: tcmtrace key new FILE [--unsealed] [--passphrase-file F]\n"
    "       tcmtrace key show FILE [--open]\n"
    "\n"
    "new   makes an Ed25519 key pair: FILE (secret, mode 0600, sealed with a passphrase\n"
    "      unless --unsealed) and FILE.pub. Existing files are never overwritten.\n"
    "show  prints the public key of a key file (secret or .pub), and of a secret key\n"
    "      file how it is kept; --open also opens it with its passphrase (the stall\n"
    "      page's backups are such files) and checks the secret matches the public key.\n";

static int key_new(cli *c, int argc, char **argv)
{
    int unsealed = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--unsealed") == 0)
            unsealed = 1;
        else if (strcmp(argv[i], "--passphrase-file") == 0 && i + 1 < argc)
            c->pass_file = argv[++i];
        else if (argv[i][0] == '-' || file)
            return cli_unknown_arg(argv[i]), cli_usage(KEY_USAGE, 0);
        else
            file = argv[i];
    }
    if (file == NULL)
        return cli_usage(KEY_USAGE, 0);
    tt_keypair kp;
    tt_error err;
    char pub[4096], pk64[64];
    tt_keypair_generate(&kp);
    char *pass = NULL;
    if (!unsealed) {
        pass = tt_passphrase(c->pass_file, "TCMTRACE_PASSPHRASE", "新密钥的口令 / passphrase: ", 1,
                             &err);
        if (pass == NULL)
            return cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
    }
    tt_err rc =
        tt_key_save_secret(file, &kp, pass, pass ? strlen(pass) : 0, TT_KDF_INTERACTIVE, &err);
    tt_passphrase_free(pass);
    snprintf(pub, sizeof pub, "%s.pub", file);
    if (rc == TT_OK)
        rc = tt_key_save_public(pub, kp.pk, &err);
    tt_b64((tt_bytes){32, kp.pk}, pk64);
    char check[TT_KEY_CHECK_LEN + 1];
    tt_key_check(kp.pk, check);
    tt_keypair_wipe(&kp);
    if (rc != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(rc), "%s", err.message);
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "secret", file, "public", pub, "key",
                              pk64, "check", check, "sealed", !unsealed);
        fmt_json(j);
        json_decref(j);
        return EX_DONE;
    }
    printf("已生成密钥 / key pair created\n");
    fmt_kv("私钥", "%s (%s)", file, unsealed ? "未加密 / unsealed" : "口令加密 / sealed");
    fmt_kv("公钥文件", "%s", pub);
    fmt_kv("公钥", "%s", pk64);
    fmt_kv("核对码", "%s（登记时请市场管理处逐组读回 / read back at enrolment）", check);
    return EX_DONE;
}

static int key_show(cli *c, int argc, char **argv)
{
    int open = argc == 3 && strcmp(argv[2], "--open") == 0;
    if (argc != 2 && !open)
        return cli_usage(KEY_USAGE, 0);
    uint8_t pk[32];
    tt_error err;
    char pk64[64];
    int sealed = -1; /* -1: a public key file */
    if (tt_key_load_public(argv[1], pk, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s", err.message);
    tt_b64((tt_bytes){32, pk}, pk64);
    char check[TT_KEY_CHECK_LEN + 1];
    tt_key_check(pk, check);
    if (tt_key_secret_is_sealed(argv[1], &sealed, &err) != TT_OK)
        sealed = -1;
    if (open && sealed < 0)
        return cli_fail(EX_USAGE, "key_format", "这是公钥文件，里面没有可以打开的私钥 / %s is a public key file: there is nothing to open",
                        argv[1]);
    if (open) {
        tt_keypair kp;
        if (tt_secret_load(argv[1], c->pass_file, "TCMTRACE_PASSPHRASE", &kp, &err) != TT_OK)
            return cli_fail(EX_REFUSED, tt_err_name(err.code), "%s", err.message);
        tt_keypair_wipe(&kp); /* tt_key_load_secret checked it against the public key */
    }
    const char *kind = sealed < 0 ? "public" : sealed ? "sealed" : "unsealed";
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "key", pk64, "check", check, "file", kind);
        if (open)
            json_object_set_new(j, "opened", json_true());
        fmt_json(j);
        json_decref(j);
        return EX_DONE;
    }
    printf("%s\n", pk64);
    printf("  核对码 check: %s\n", check);
    if (sealed == 1)
        printf("  私钥文件，用密码加密（Argon2id + XChaCha20-Poly1305） / secret key, sealed with a "
               "passphrase\n");
    else if (sealed == 0)
        printf("  私钥文件，未加密 / secret key, NOT sealed: keep it offline\n");
    if (open && sealed)
        printf("  ✓ 密码正确，私钥与公钥相符 / the passphrase opens it and the secret key matches "
               "its public key\n");
    else if (open)
        printf("  ✓ 私钥与公钥相符 / the secret key matches its public key\n");
    return EX_DONE;
}

int cmd_key(cli *c, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "new") == 0)
        return key_new(c, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return key_show(c, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(KEY_USAGE, stdout), EX_DONE;
    return cli_usage(KEY_USAGE, 0);
}

/* ---- actors ---------------------------------------------------------------- */

static const char ACTOR_USAGE[] =
    "usage: tcmtrace actor enroll --id ID --name NAME --org ORG --licence NO\n"
    "                             --role ROLE[,ROLE] [--stall STALL]\n"
    "                             (--pubkey FILE | --pubkey-photo IMAGE | --pubkey BASE64 --check DIGITS)\n"
    "       tcmtrace actor revoke ID --reason TEXT\n"
    "       tcmtrace actor succeed ID --to SUCCESSOR --reason TEXT\n"
    "       tcmtrace actor rotate --new-key FILE\n"
    "       tcmtrace actor show ID|KEY\n"
    "\n"
    "enroll and revoke are signed by a market authority's --key; rotate by the actor's\n"
    "current --key, moving its identity to the key in FILE. Roles: grower, trader,\n"
    "processor, inspector, regulator, pharmacy.\n"
    "\n"
    "The key to enroll: a .pub file (or a key file) made by `tcmtrace key new`; a photo or\n"
    "screenshot of the key QR the stall page shows (--pubkey-photo); or a key typed by hand,\n"
    "only with the 20-digit check shown beside it (--check), so that one wrong character is\n"
    "caught before it is enrolled. The check is printed back: read it to the key's owner.\n";

static int print_seq(cli *c, json_t *resp, const char *what)
{
    if (c->json) {
        fmt_json(resp);
    } else {
        printf("%s\n", what);
        fmt_kv("账本序号", "#%lld", (long long)json_integer_value(json_object_get(resp, "seq")));
        fmt_kv("条目哈希", "%s", json_string_value(json_object_get(resp, "hash")));
    }
    json_decref(resp);
    return EX_DONE;
}

/* The key to enroll or rotate to: a file, a key QR's text, or a typed key with its check
 * (`check` NULL: a file or a key QR's text only). */
static int pubkey_arg(const char *arg, const char *check, uint8_t pk[32], char out[64])
{
    tt_error err;
    if (access(arg, F_OK) != 0 && strlen(arg) <= 120) { /* not a file: typed or pasted */
        if (tt_key_qr_parse(arg, pk, &err) != TT_OK)
            return cli_fail(EX_USAGE, tt_err_name(err.code),
                            "“%s”既不是密钥文件，也不是公钥：请给出 .pub 文件、密钥二维码的照片"
                            "（--pubkey-photo），或照抄的公钥加核对码（--check） / %s",
                            arg, err.message);
        if (strncmp(arg, "tcmtrace-key:", 13) != 0) {
            if (check == NULL)
                return cli_fail(EX_USAGE, "usage",
                                "手工输入的公钥必须附上核对码 --check（对方页面上公钥旁的 20 位数字），"
                                "以免抄错一个字符就登记了别人的钥匙 / a key typed by hand needs its "
                                "20-digit check: --check DIGITS (or use --pubkey-photo)");
            if (!tt_key_check_matches(pk, check)) {
                char want[TT_KEY_CHECK_LEN + 1];
                tt_key_check(pk, want);
                return cli_fail(EX_USAGE, "key_check",
                                "核对码不符：这把公钥的核对码是 %s，不是 %s。公钥很可能抄错了，"
                                "请重新核对，或用 --pubkey-photo 拍下二维码 / the check does not "
                                "match the key: it was most likely mistyped; nothing was sent",
                                want, check);
            }
        }
    } else if (check != NULL) {
        return cli_fail(EX_USAGE, "usage", "--check 只用于手工输入的公钥（--pubkey） / --check goes with a key typed by hand (--pubkey BASE64)");
    } else if (tt_key_load_public(arg, pk, &err) != TT_OK)
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
    tt_b64((tt_bytes){32, pk}, out);
    return 0;
}

/* The key from a photo of its QR symbol (the stall page's 密钥 tab). */
static int pubkey_photo(const char *file, uint8_t pk[32], char out[64])
{
    qr_image img;
    char why[300], **texts = NULL;
    if (qr_load_image(file, &img, why, sizeof why) != 0)
        return cli_fail(EX_USAGE, "malformed", "%s", why);
    size_t n = qr_decode_all(&img, &texts);
    qr_image_free(&img);
    int ex = EX_USAGE, keys = 0;
    tt_error err;
    for (size_t i = 0; i < n; i++) {
        uint8_t k[32];
        if (tt_key_qr_parse(texts[i], k, &err) == TT_OK) {
            memcpy(pk, k, 32);
            keys++;
        } else if (err.code == TT_ERR_KEY_FORMAT)
            keys = -1000;
        free(texts[i]);
    }
    free(texts);
    if (n == 0)
        return cli_fail(EX_USAGE, "malformed",
                        "%s 里读不出二维码：请拍得更近、更稳 / no QR symbol could be read in %s",
                        file, file);
    if (keys < 0)
        return cli_fail(EX_USAGE, "key_format", "%s 里的密钥二维码已损坏或被改动 / %s", file,
                        err.message);
    if (keys == 0)
        return cli_fail(EX_USAGE, "malformed",
                        "%s 里的二维码不是公钥（可能是药材标签）：请拍“我的摊位”页“密钥”一栏的二维码 / "
                        "the QR symbol in %s is not a public key",
                        file, file);
    if (keys > 1)
        return cli_fail(EX_USAGE, "malformed",
                        "%s 里有不止一把公钥：请只拍一个二维码 / more than one key in %s", file,
                        file);
    tt_b64((tt_bytes){32, pk}, out);
    ex = EX_DONE;
    return ex;
}

static int actor_enroll(cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"id", 1, 0, 'i'},   {"name", 1, 0, 'n'},   {"org", 1, 0, 'o'},   {"licence", 1, 0, 'l'},
        {"role", 1, 0, 'r'}, {"pubkey", 1, 0, 'p'}, {"stall", 1, 0, 's'},
        {"pubkey-photo", 1, 0, 'P'}, {"check", 1, 0, 'c'}, {0, 0, 0, 0}};
    const char *id = 0, *name = 0, *org = 0, *lic = 0, *roles = 0, *pub = 0, *stall = 0;
    const char *photo = 0, *check = 0;
    int ch;
    optind = 1;
    while ((ch = cli_getopt(argc, argv, o)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 'l':
            lic = optarg;
            break;
        case 'r':
            roles = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 's':
            stall = optarg;
            break;
        case 'P':
            photo = optarg;
            break;
        case 'c':
            check = optarg;
            break;
        default:
            return cli_usage(ACTOR_USAGE, 0);
        }
    }
    if (!id || !name || !org || !lic || !roles || (!pub == !photo))
        return cli_fail(EX_USAGE, "usage",
                        "登记人员需要 --id、--name、--org、--licence、--role，以及 --pubkey 或 --pubkey-photo 之一 / actor enroll needs --id, --name, --org, --licence, --role and one of "
                        "--pubkey or --pubkey-photo");
    if (photo && check)
        return cli_fail(EX_USAGE, "usage", "--check 只用于手工输入的公钥（--pubkey） / --check goes with a key typed by hand (--pubkey BASE64)");
    char pk64[64], kcheck[TT_KEY_CHECK_LEN + 1];
    uint8_t pk[32];
    if (photo ? pubkey_photo(photo, pk, pk64) : pubkey_arg(pub, check, pk, pk64))
        return EX_USAGE;
    tt_key_check(pk, kcheck);
    json_t *rl = json_array();
    char *copy = strdup(roles);
    for (char *r = strtok(copy, ","); r; r = strtok(NULL, ","))
        json_array_append_new(rl, json_string(r));
    free(copy);
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "key", pk64, "name", name,
                          "org", org, "licence", lic, "roles", rl);
    if (stall)
        json_object_set_new(f, "stall", json_string(stall));
    json_t *resp;
    int ex = cli_submit(c, "actor.enroll", f, &resp);
    if (ex)
        return ex;
    char what[256];
    snprintf(what, sizeof what, "已登记主体 / actor enrolled: %s %s (%s)", id, name, roles);
    if (!c->json)
        printf("公钥核对码 / key check: %s\n  请对方看着自己手机上的核对码，逐组读给您听：对不上就撤销这次登记 / "
               "have the owner read back the check shown beside their key\n",
               kcheck);
    return print_seq(c, resp, what);
}

static int actor_revoke(cli *c, int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[2], "--reason") != 0)
        return cli_usage(ACTOR_USAGE, 0);
    json_t *resp;
    int ex = cli_submit(c, "actor.revoke",
                        json_pack("{s:s, s:s}", "id", argv[1], "reason", argv[3]), &resp);
    if (ex)
        return ex;
    char what[128];
    snprintf(what, sizeof what, "已撤销主体 / actor revoked: %s", argv[1]);
    return print_seq(c, resp, what);
}

/* A revoked actor's open lots (held, or on their way to it) handed to its successor, in signed
 * events of at most 1,000 lots each. */
static int actor_succeed(cli *c, int argc, char **argv)
{
    const char *id = argc > 1 ? argv[1] : NULL, *to = NULL, *why = NULL;
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--to") == 0)
            to = argv[i + 1];
        else if (strcmp(argv[i], "--reason") == 0)
            why = argv[i + 1];
        else
            return cli_unknown_arg(argv[i]), cli_usage(ACTOR_USAGE, 0);
    if (id == NULL || to == NULL || why == NULL || argc % 2 != 0)
        return cli_usage(ACTOR_USAGE, 0);
    json_t *all;
    int more;
    int ex = cli_fetch_all(c, json_pack("{s:s, s:s}", "op", "batches", "holder", id), "batches",
                           1000000, &all, &more);
    if (ex)
        return ex;
    json_t *open = json_array(), *b;
    size_t i;
    json_array_foreach(all, i, b)
    {
        const char *st = json_string_value(json_object_get(b, "status"));
        if (st && strcmp(st, "depleted") != 0 && strcmp(st, "destroyed") != 0)
            json_array_append(open, json_object_get(b, "id"));
    }
    json_decref(all);
    if (json_array_size(open) == 0) {
        json_decref(open);
        return cli_fail(EX_REFUSED, "not_found",
                        "%s 名下没有未了结的批次，无需移交 / actor %s holds no open lot to hand on", id, id);
    }
    size_t n = json_array_size(open), done = 0;
    while (ex == EX_DONE && done < n) {
        json_t *chunk = json_array(), *resp;
        for (size_t k = done; k < n && k < done + 1000; k++)
            json_array_append(chunk, json_array_get(open, k));
        size_t m = json_array_size(chunk);
        ex = cli_submit(c, "actor.succeed",
                        json_pack("{s:s, s:s, s:o, s:s}", "id", id, "successor", to, "lots", chunk,
                                  "reason", why),
                        &resp);
        if (ex == EX_DONE) {
            char what[200];
            snprintf(what, sizeof what, "已移交 %zu 个批次：%s → %s / %zu lots handed on", m, id, to, m);
            ex = print_seq(c, resp, what);
            done += m;
        }
    }
    json_decref(open);
    return ex;
}

static int actor_rotate(cli *c, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--new-key") != 0)
        return cli_usage(ACTOR_USAGE, 0);
    char pk64[64];
    uint8_t newpk[32];
    if (pubkey_arg(argv[2], NULL, newpk, pk64))
        return EX_USAGE;
    tt_keypair kp;
    int ex = cli_load_key(c, &kp);
    if (ex)
        return ex;
    char old64[64], id[33];
    tt_b64((tt_bytes){32, kp.pk}, old64);
    tt_keypair_wipe(&kp);
    json_t *resp;
    if ((ex = cli_request(c, json_pack("{s:s, s:s}", "op", "actor", "id", old64), &resp)))
        return ex;
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_object_get(resp, "actor"), "id")));
    json_decref(resp);
    if ((ex = cli_submit(c, "actor.rotate", json_pack("{s:s, s:s}", "id", id, "new_key", pk64),
                         &resp)))
        return ex;
    char what[160];
    snprintf(what, sizeof what, "已更换密钥 / key rotated: %s → %s", id, pk64);
    return print_seq(c, resp, what);
}

static int actor_show(cli *c, int argc, char **argv)
{
    if (argc != 2)
        return cli_usage(ACTOR_USAGE, 0);
    json_t *resp;
    int ex = cli_request(c, json_pack("{s:s, s:s}", "op", "actor", "id", argv[1]), &resp);
    if (ex)
        return ex;
    if (c->json) {
        fmt_json(resp);
        json_decref(resp);
        return EX_DONE;
    }
    json_t *a = json_object_get(resp, "actor");
    char roles[256] = "";
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(a, "roles"), i, r)
        snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s", i ? ", " : "",
                 json_string_value(r));
    if (json_is_true(json_object_get(a, "authority")))
        snprintf(roles, sizeof roles, "market authority / 市场管理方");
    printf("主体 / actor %s\n", json_string_value(json_object_get(a, "id")));
    fmt_kv("名称", "%s", json_string_value(json_object_get(a, "name")));
    if (json_object_get(a, "org"))
        fmt_kv("单位", "%s", json_string_value(json_object_get(a, "org")));
    if (json_object_get(a, "licence"))
        fmt_kv("许可证号", "%s", json_string_value(json_object_get(a, "licence")));
    if (json_object_get(a, "stall"))
        fmt_kv("摊位", "%s", json_string_value(json_object_get(a, "stall")));
    fmt_kv("角色", "%s", roles);
    fmt_kv("状态", "%s",
           strcmp(json_string_value(json_object_get(a, "status")), "active") == 0
               ? "有效 / active"
               : "已撤销 / revoked");
    fmt_kv("公钥", "%s", json_string_value(json_object_get(a, "key")));
    printf("  记录 / history (%zu)\n", json_array_size(json_object_get(resp, "events")));
    json_array_foreach(json_object_get(resp, "events"), i, r)
    {
        printf("    #%-6lld %s\n", (long long)json_integer_value(json_object_get(r, "seq")),
               fmt_type(json_string_value(json_object_get(r, "type"))));
    }
    json_decref(resp);
    return EX_DONE;
}

int cmd_actor(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(cli *, int, char **);
    } subs[] = {{"enroll", actor_enroll},
                {"revoke", actor_revoke},
                {"succeed", actor_succeed},
                {"rotate", actor_rotate},
                {"show", actor_show},
                {"list", actor_list}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(c, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(ACTOR_USAGE, stdout), EX_DONE;
    return cli_usage(ACTOR_USAGE, 0);
}
