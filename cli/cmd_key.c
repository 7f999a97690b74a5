/*
 * cmd_key.c: `tcmtrace key new|show` and `tcmtrace actor enroll|revoke|
 * rotate|show` — identities.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
            return fputs(KEY_USAGE, stderr), EX_USAGE;
        else
            file = argv[i];
    }
    if (file == NULL)
        return fputs(KEY_USAGE, stderr), EX_USAGE;
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
    tt_keypair_wipe(&kp);
    if (rc != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(rc), "%s", err.message);
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:b}", "secret", file, "public", pub, "key", pk64,
                              "sealed", !unsealed);
        fmt_json(j);
        json_decref(j);
        return EX_DONE;
    }
    printf("已生成密钥 / key pair created\n");
    fmt_kv("私钥", "%s (%s)", file, unsealed ? "未加密 / unsealed" : "口令加密 / sealed");
    fmt_kv("公钥文件", "%s", pub);
    fmt_kv("公钥", "%s", pk64);
    return EX_DONE;
}

static int key_show(cli *c, int argc, char **argv)
{
    int open = argc == 3 && strcmp(argv[2], "--open") == 0;
    if (argc != 2 && !open)
        return fputs(KEY_USAGE, stderr), EX_USAGE;
    uint8_t pk[32];
    tt_error err;
    char pk64[64];
    int sealed = -1; /* -1: a public key file */
    if (tt_key_load_public(argv[1], pk, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s", err.message);
    tt_b64((tt_bytes){32, pk}, pk64);
    if (tt_key_secret_is_sealed(argv[1], &sealed, &err) != TT_OK)
        sealed = -1;
    if (open && sealed < 0)
        return cli_fail(EX_USAGE, "key_format", "%s is a public key file: there is nothing to open",
                        argv[1]);
    if (open) {
        tt_keypair kp;
        if (tt_secret_load(argv[1], c->pass_file, "TCMTRACE_PASSPHRASE", &kp, &err) != TT_OK)
            return cli_fail(EX_REFUSED, tt_err_name(err.code), "%s", err.message);
        tt_keypair_wipe(&kp); /* tt_key_load_secret checked it against the public key */
    }
    const char *kind = sealed < 0 ? "public" : sealed ? "sealed" : "unsealed";
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s}", "key", pk64, "file", kind);
        if (open)
            json_object_set_new(j, "opened", json_true());
        fmt_json(j);
        json_decref(j);
        return EX_DONE;
    }
    printf("%s\n", pk64);
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
    return fputs(KEY_USAGE, stderr), EX_USAGE;
}

/* ---- actors ---------------------------------------------------------------- */

static const char ACTOR_USAGE[] =
    "usage: tcmtrace actor enroll --id ID --name NAME --org ORG --licence NO\n"
    "                             --role ROLE[,ROLE] --pubkey FILE|BASE64 [--stall STALL]\n"
    "       tcmtrace actor revoke ID --reason TEXT\n"
    "       tcmtrace actor rotate --new-key FILE\n"
    "       tcmtrace actor show ID|KEY\n"
    "\n"
    "enroll and revoke are signed by a market authority's --key; rotate by the actor's\n"
    "current --key, moving its identity to the key in FILE. Roles: grower, trader,\n"
    "processor, inspector, regulator, pharmacy.\n";

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

static int pubkey_arg(const char *arg, char out[64])
{
    uint8_t pk[32];
    size_t n = 0;
    if (strlen(arg) == 44 && tt_unb64(arg, 44, 0, pk, 32, &n) == TT_OK && n == 32) {
        snprintf(out, 64, "%s", arg);
        return 0;
    }
    tt_error err;
    if (tt_key_load_public(arg, pk, &err) != TT_OK)
        return cli_fail(EX_USAGE, tt_err_name(err.code), "%s", err.message);
    tt_b64((tt_bytes){32, pk}, out);
    return 0;
}

static int actor_enroll(cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"id", 1, 0, 'i'},   {"name", 1, 0, 'n'},   {"org", 1, 0, 'o'},   {"licence", 1, 0, 'l'},
        {"role", 1, 0, 'r'}, {"pubkey", 1, 0, 'p'}, {"stall", 1, 0, 's'}, {0, 0, 0, 0}};
    const char *id = 0, *name = 0, *org = 0, *lic = 0, *roles = 0, *pub = 0, *stall = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
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
        default:
            return fputs(ACTOR_USAGE, stderr), EX_USAGE;
        }
    }
    if (!id || !name || !org || !lic || !roles || !pub)
        return cli_fail(EX_USAGE, "usage",
                        "actor enroll needs --id, --name, --org, --licence, --role and --pubkey");
    char pk64[64];
    if (pubkey_arg(pub, pk64))
        return EX_USAGE;
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
    return print_seq(c, resp, what);
}

static int actor_revoke(cli *c, int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[2], "--reason") != 0)
        return fputs(ACTOR_USAGE, stderr), EX_USAGE;
    json_t *resp;
    int ex = cli_submit(c, "actor.revoke",
                        json_pack("{s:s, s:s}", "id", argv[1], "reason", argv[3]), &resp);
    if (ex)
        return ex;
    char what[128];
    snprintf(what, sizeof what, "已撤销主体 / actor revoked: %s", argv[1]);
    return print_seq(c, resp, what);
}

static int actor_rotate(cli *c, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--new-key") != 0)
        return fputs(ACTOR_USAGE, stderr), EX_USAGE;
    char pk64[64];
    if (pubkey_arg(argv[2], pk64))
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
        return fputs(ACTOR_USAGE, stderr), EX_USAGE;
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
                {"rotate", actor_rotate},
                {"show", actor_show},
                {"list", actor_list}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(c, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(ACTOR_USAGE, stdout), EX_DONE;
    return fputs(ACTOR_USAGE, stderr), EX_USAGE;
}
