/*
 * main.c: tcmtraced — `init` creates a ledger, `run` serves it.
 *
 * A ledger directory holds data.mdb and lock.mdb (LMDB), writer.lock,
 * log.key (the log's secret key, 0600), log.vkey (its C2SP verifier key,
 * the string users trust) and tcmtraced.conf. The daemon listens on
 * ipc://DIR/api.sock and publishes on ipc://DIR/feed.sock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "daemon.h"
#include "tcmtrace/messages.h"
#include "tcmtrace/util.h"

static const char USAGE[] =
    "usage: tcmtraced init DIR --origin ORIGIN --market NAME --authority-key FILE\n"
    "                     --authority-id ID --authority-name NAME [--base-url URL]\n"
    "                     [--limits FILE] [--herbs FILE]\n"
    "                     [--passphrase-file FILE] [--log-passphrase-file FILE]\n"
    "                     [--unsealed-log-key]\n"
    "       tcmtraced [run] DIR [--tcp tcp://HOST:PORT] [--threads N] [--read-threads N]\n"
    "                     [--batch-max N]\n"
    "                     [--log-passphrase-file FILE] [--config FILE] [--quiet]\n"
    "       tcmtraced follow URL DIR [--log-key VKEY|FILE] [--interval MS] [--once] [--quiet]\n"
    "       tcmtraced promote DIR --log-key-file FILE [--log-passphrase-file FILE]\n"
    "       tcmtraced --help | --version\n"
    "\n"
    "init   creates a ledger in DIR: a new log key (sealed with a passphrase unless\n"
    "       --unsealed-log-key), the genesis signed by the market authority's key, and the\n"
    "       pharmacopoeia limits table (the shipped ChP 2020 one unless --limits) and the\n"
    "       herb dictionary (the shipped ChP 2020 one unless --herbs).\n"
    "run    serves DIR in the foreground: API on ipc://DIR/api.sock (and --tcp), feed on\n"
    "       ipc://DIR/feed.sock. SIGTERM or SIGINT stops it after answering every request\n"
    "       it has received. Settings come from DIR/tcmtraced.conf, then the flags.\n"
    "follow keeps DIR a verified replica of the ledger served at URL (tcmtrace-web's base\n"
    "       URL): every signature, the chain, the Merkle tree and the rules replayed here.\n"
    "promote makes such a replica the primary when the primary is lost (then run it).\n"
    "\n"
    "Passphrases: --passphrase-file, or TCMTRACE_PASSPHRASE (authority key), or\n"
    "TCMTRACE_LOG_PASSPHRASE (log key), or asked on the terminal.\n";

static int die(const char *what, const tt_error *err)
{
    const tt_message *m = tt_message_get(tt_err_name(err->code));
    fprintf(stderr, "tcmtraced: %s%s / %s: %s\n", m ? m->zh : "", m ? m->todo : "", what, err->message);
    return 1;
}

/* Appends one event signed by `kp` through the rules; 0 on success. */
static int append_signed(tt_ledger *l, const char *origin, const tt_keypair *kp, char *body,
                         const char *what)
{
    uint8_t sig[64];
    tt_error err;
    tt_event_sign(origin, tt_bytes_str(body), kp->sk, sig);
    tt_append it = {.actor = kp->pk, .sig = sig, .body = tt_bytes_str(body)};
    tt_err rc = tt_ledger_append(l, &it, 1, tt_now_ms(), tt_rules_apply, NULL, &err);
    free(body);
    if (rc != TT_OK)
        return die(what, &err);
    if (it.result.code != TT_OK)
        return die(what, &it.result);
    return 0;
}

static int write_text(const char *dir, const char *name, const char *text, unsigned mode)
{
    char path[4096];
    tt_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (tt_write_file_new(path, text, strlen(text), mode, &err) != TT_OK)
        return die(name, &err);
    return 0;
}

typedef struct init_opts {
    const char *dir, *origin, *market, *auth_key, *auth_id, *auth_name, *limits, *herbs, *base_url;
    const char *pass_file, *log_pass_file;
    int unsealed;
} init_opts;

static int make_log_key(const init_opts *o, tt_keypair *log)
{
    char path[4096];
    tt_error err;
    tt_keypair_generate(log);
    snprintf(path, sizeof path, "%s/log.key", o->dir);
    if (o->unsealed)
        return tt_key_save_secret(path, log, NULL, 0, TT_KDF_INTERACTIVE, &err) == TT_OK
                   ? 0
                   : die("log.key", &err);
    char *pass = tt_passphrase(o->log_pass_file, "TCMTRACE_LOG_PASSPHRASE",
                               "新日志密钥的口令 / passphrase for the new log key: ", 1, &err);
    if (pass == NULL)
        return die("log key", &err);
    tt_err rc = tt_key_save_secret(path, log, pass, strlen(pass), TT_KDF_INTERACTIVE, &err);
    tt_passphrase_free(pass);
    return rc == TT_OK ? 0 : die("log.key", &err);
}

/* The herb dictionary, as the ledger.herbs events it takes to fit entries. */
static int publish_herbs(const init_opts *o, tt_ledger *l, const tt_keypair *auth)
{
    char *path = o->herbs ? strdup(o->herbs) : tt_shipped_path("herbs/chp2020-herbs.json");
    json_error_t jerr;
    tt_error err;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *events = NULL, *f;
    if (doc == NULL) {
        fprintf(stderr, "tcmtraced: 药材目录文件读不出来，请检查它是有效的 JSON / cannot read the herb dictionary %s: %s\n", path, jerr.text);
        free(path);
        return 1;
    }
    free(path);
    int rc = tt_herbs_events(doc, &events, &err) != TT_OK ? die("herb dictionary", &err) : 0;
    size_t i;
    json_array_foreach(events, i, f) if (rc == 0) rc =
        append_signed(l, o->origin, auth, tt_event_build("ledger.herbs", json_incref(f)), "herb dictionary");
    json_decref(events);
    json_decref(doc);
    return rc;
}

static int genesis_and_limits(const init_opts *o, tt_ledger *l, const tt_keypair *auth,
                              const char *vkey)
{
    char pk64[64];
    tt_b64((tt_bytes){32, auth->pk}, pk64);
    json_t *gf = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "origin", o->origin, "log_key",
                           vkey, "market", o->market, "authorities", "id", o->auth_id, "name",
                           o->auth_name, "key", pk64);
    if (o->base_url)
        json_object_set_new(gf, "base_url", json_string(o->base_url));
    char *body = tt_event_build("ledger.genesis", gf);
    if (append_signed(l, o->origin, auth, body, "genesis"))
        return 1;
    char *limits_path = o->limits ? strdup(o->limits) : tt_shipped_path("limits/chp2020.json");
    json_error_t jerr;
    json_t *table = json_load_file(limits_path, JSON_REJECT_DUPLICATES, &jerr);
    if (table == NULL) {
        fprintf(stderr, "tcmtraced: 限量表文件读不出来，请检查它是有效的 JSON / cannot read the limits table %s: %s\n", limits_path, jerr.text);
        free(limits_path);
        return 1;
    }
    free(limits_path);
    json_t *edition = json_incref(json_object_get(table, "edition"));
    json_object_del(table, "edition");
    body = tt_event_build("ledger.limits",
                          json_pack("{s:o, s:o}", "edition",
                                    edition ? edition : json_string("unnamed"), "table", table));
    if (append_signed(l, o->origin, auth, body, "limits table"))
        return 1;
    return publish_herbs(o, l, auth);
}

static int cmd_init(const init_opts *o)
{
    tt_error err;
    tt_keypair auth, log;
    tt_ledger *l = NULL;
    char path[4096], vkey[TT_VKEY_MAX + 1], conf[8192];
    if (!o->dir || !o->origin || !o->market || !o->auth_key || !o->auth_id || !o->auth_name) {
        fprintf(stderr,
                "tcmtraced init: 目录、--origin、--market、--authority-key、--authority-id 和 --authority-name 都要给出 / DIR, --origin, --market, --authority-key, "
                "--authority-id and --authority-name are all needed\n\n%s",
                USAGE);
        return 2;
    }
    if (o->base_url && !tt_base_url_valid(o->base_url)) {
        fprintf(stderr,
                "tcmtraced init: --base-url 要以 http:// 或 https:// 开头、有主机名、末尾不带斜杠 / the base URL \"%s\" must be http:// or https:// with a host and "
                "no trailing slash, e.g. https://trace.example.cn/cq\n",
                o->base_url);
        return 2;
    }
    if (!tt_note_name_valid(o->origin)) {
        fprintf(stderr,
                "tcmtraced init: --origin 里不能有空格或“+” / the origin \"%s\" must have no spaces or '+', e.g. "
                "tcmtrace.example/cq-jiefanglu\n",
                o->origin);
        return 2;
    }
    snprintf(path, sizeof path, "%s/data.mdb", o->dir);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "tcmtraced init: 这个目录里已经有账本，什么都没有改动 / %s holds a ledger already; nothing was changed\n", o->dir);
        return 1;
    }
    if (tt_secret_load(o->auth_key, o->pass_file, "TCMTRACE_PASSPHRASE", &auth, &err) != TT_OK)
        return die(o->auth_key, &err);
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "tcmtraced init: 无法建立账本目录 / cannot create %s: %s\n", o->dir, strerror(errno));
        return 1;
    }
    if (make_log_key(o, &log))
        return 1;
    tt_verifier v;
    tt_verifier_init(&v, o->origin, log.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    if (tt_ledger_open(o->dir, TT_LEDGER_CREATE, &l, &err) != TT_OK)
        return die(o->dir, &err);
    int rc = tt_ledger_set_signer(l, o->origin, &log, &err) != TT_OK ||
             tt_ledger_meta_put(l, "origin", o->origin, strlen(o->origin), &err) != TT_OK ||
             tt_ledger_meta_put(l, "log_vkey", vkey, strlen(vkey), &err) != TT_OK;
    if (rc)
        die("ledger", &err);
    if (!rc)
        rc = genesis_and_limits(o, l, &auth, vkey);
    tt_keypair_wipe(&auth);
    tt_keypair_wipe(&log);
    tt_ledger_close(l);
    if (rc)
        return 1;
    char line[TT_VKEY_MAX + 2];
    snprintf(line, sizeof line, "%s\n", vkey);
    /* the passphrase file given to init is the one run needs: by its absolute path, in the
     * settings and in the command printed */
    char passline[PATH_MAX + 64] = "# log_passphrase_file = /etc/tcmtrace/log.pass\n";
    char abs_pass[PATH_MAX] = "";
    if (o->log_pass_file && !o->unsealed && realpath(o->log_pass_file, abs_pass) != NULL)
        snprintf(passline, sizeof passline, "log_passphrase_file = %s\n", abs_pass);
    snprintf(conf, sizeof conf,
             "# tcmtraced settings for this ledger; flags given to 'tcmtraced run' win.\n"
             "# tcp = tcp://127.0.0.1:7400\n"
             "# tcp_max_connections = 256\n"
             "# tcp_stall_seconds = 30\n"
             "# tcp_idle_seconds = 600\n"
             "# ask each witness again for a fresh cosignature of an unchanged checkpoint after:\n"
             "# witness_refresh_seconds = 600\n"
             "# threads = %ld\n"
             "# batch_max = 1024\n"
             "# read_threads = 2\n"
             "# answer a submit only once this follower's replica holds it (its tcmtrace-web):\n"
             "# ack_after = follower https://standby.example/cq\n"
             "# an event's \"at\" may be this far ahead of the clock, and behind it:\n"
             "# at_ahead_minutes = 10\n"
             "# at_behind_days = 30\n"
             "# the file holding the log key's passphrase (0600), read by 'tcmtraced run':\n"
             "%s",
             sysconf(_SC_NPROCESSORS_ONLN), passline);
    if (write_text(o->dir, "log.vkey", line, 0644) ||
        write_text(o->dir, "tcmtraced.conf", conf, 0644))
        return 1;
    printf("已创建账本 / ledger created: %s\n", o->dir);
    printf("  日志来源 origin     %s\n", o->origin);
    printf("  日志公钥 log key    %s\n", vkey);
    printf("  (发给所有核验者 / give this verifier key to everyone who verifies)\n");
    char absdir[PATH_MAX];
    const char *dir = realpath(o->dir, absdir) ? absdir : o->dir;
    if (o->unsealed)
        printf("  启动 start          tcmtraced run %s\n", dir);
    else if (*abs_pass)
        printf("  启动 start          tcmtraced run %s\n"
               "  (口令文件已写入 %s/tcmtraced.conf / the passphrase file %s is in the settings)\n",
               dir, dir, abs_pass);
    else
        printf("  启动 start          tcmtraced run %s --log-passphrase-file 口令文件\n"
               "  (或不带此项，启动时输入日志密钥的口令 / or type the log key's passphrase when it asks)\n",
               dir);
    return 0;
}

/* Reads "key = value" lines of DIR/tcmtraced.conf (or `path`). */
static int read_config(const char *path, config *c, int explicit_path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!explicit_path)
            return 0;
        fprintf(stderr, "tcmtraced: 配置文件读不出来 / cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        char key[64], val[900];
        if (sscanf(p, "%63[a-z_] = %899[^\n]", key, val) != 2) {
            fprintf(stderr, "tcmtraced: 配置文件的这一行应写成“名称 = 值” / %s:%d: expected \"key = value\"\n", path, lineno);
            fclose(f);
            return 2;
        }
        if (strcmp(key, "tcp") == 0)
            c->tcp = strdup(val);
        else if (strcmp(key, "ack_after") == 0) {
            if (strncmp(val, "follower ", 9) != 0 ||
                (strncmp(val + 9, "http://", 7) != 0 && strncmp(val + 9, "https://", 8) != 0)) {
                fprintf(stderr,
                        "tcmtraced: ack_after 要写成“follower 网址”（从库 tcmtrace-web 的基础网址） / %s:%d: ack_after takes \"follower URL\" (the follower's "
                        "tcmtrace-web base URL)\n",
                        path, lineno);
                fclose(f);
                return 2;
            }
            c->ack_follower = strdup(val + 9);
        }
        else if (strcmp(key, "threads") == 0)
            c->threads = atoi(val);
        else if (strcmp(key, "batch_max") == 0)
            c->batch_max = atoi(val);
        else if (strcmp(key, "read_threads") == 0)
            c->read_threads = atoi(val);
        else if (strcmp(key, "tcp_max_connections") == 0) {
            char *end;
            long v = strtol(val, &end, 10);
            if (end == val || *end != '\0' || v < 1 || v > 400) {
                fprintf(stderr, "tcmtraced: tcp_max_connections 要是 1 到 400 的整数 / %s:%d: tcp_max_connections must be a whole number "
                                "from 1 to 400\n",
                        path, lineno);
                fclose(f);
                return 2;
            }
            c->tcp_max_connections = (int)v;
        } else if (strcmp(key, "witness_refresh_seconds") == 0) {
            char *end;
            long v = strtol(val, &end, 10);
            if (end == val || *end != '\0' || v < 1 || v > 86400) {
                fprintf(stderr, "tcmtraced: witness_refresh_seconds 要是 1 到 86400 的整数 / %s:%d: witness_refresh_seconds must be a whole number from 1 to 86400\n",
                        path, lineno);
                fclose(f);
                return 2;
            }
            c->witness_refresh_ms = (int64_t)v * 1000;
        } else if (strcmp(key, "tcp_stall_seconds") == 0 || strcmp(key, "tcp_idle_seconds") == 0) {
            char *end;
            long v = strtol(val, &end, 10);
            if (end == val || *end != '\0' || v < 1 || v > 86400) {
                fprintf(stderr, "tcmtraced: 这项设置要是 1 到 86400 的整数 / %s:%d: %s must be a whole number from 1 to 86400\n",
                        path, lineno, key);
                fclose(f);
                return 2;
            }
            if (key[4] == 's')
                c->tcp_stall_ms = (int64_t)v * 1000;
            else
                c->tcp_idle_ms = (int64_t)v * 1000;
        }
        else if (strcmp(key, "log_passphrase_file") == 0)
            c->passphrase_file = strdup(val);
        else if (strcmp(key, "at_ahead_minutes") == 0 || strcmp(key, "at_behind_days") == 0) {
            char *end;
            long v = strtol(val, &end, 10);
            int days = key[3] == 'b';
            if (end == val || *end != '\0' || v < 0 || v > (days ? 36500 : 1440)) {
                fprintf(stderr, "tcmtraced: 这项设置的数值超出范围 / %s:%d: %s must be a whole number from 0 to %d\n", path,
                        lineno, key, days ? 36500 : 1440);
                fclose(f);
                return 2;
            }
            if (days)
                c->at_behind_ms = (int64_t)v * 86400000;
            else
                c->at_ahead_ms = (int64_t)v * 60000;
        } else if (strncmp(key, "web_", 4) == 0)
            continue; /* tcmtrace-web's, in the same file */
        else {
            fprintf(stderr, "tcmtraced: 配置文件里有不认识的设置 / %s:%d: unknown setting \"%s\"\n", path, lineno, key);
            fclose(f);
            return 2;
        }
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "promote") == 0) {
        if (sodium_init() < 0)
            return 3;
        return promote_main(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "follow") == 0) {
        if (sodium_init() < 0)
            return 3;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int ex = follow_main(argc - 1, argv + 1);
        curl_global_cleanup();
        return ex;
    }
    enum {
        O_ORIGIN = 256,
        O_MARKET,
        O_AKEY,
        O_AID,
        O_ANAME,
        O_LIMITS,
        O_HERBS,
        O_BASE_URL,
        O_PASS,
        O_LOGPASS,
        O_UNSEALED,
        O_TCP,
        O_THREADS,
        O_BATCH,
        O_READERS,
        O_CONFIG,
        O_QUIET,
        O_HELP,
        O_VERSION
    };
    static const struct option longopts[] = {{"origin", 1, 0, O_ORIGIN},
                                             {"market", 1, 0, O_MARKET},
                                             {"authority-key", 1, 0, O_AKEY},
                                             {"authority-id", 1, 0, O_AID},
                                             {"authority-name", 1, 0, O_ANAME},
                                             {"limits", 1, 0, O_LIMITS},
                                             {"herbs", 1, 0, O_HERBS},
                                             {"base-url", 1, 0, O_BASE_URL},
                                             {"passphrase-file", 1, 0, O_PASS},
                                             {"log-passphrase-file", 1, 0, O_LOGPASS},
                                             {"unsealed-log-key", 0, 0, O_UNSEALED},
                                             {"tcp", 1, 0, O_TCP},
                                             {"threads", 1, 0, O_THREADS},
                                             {"batch-max", 1, 0, O_BATCH},
                                             {"read-threads", 1, 0, O_READERS},
                                             {"config", 1, 0, O_CONFIG},
                                             {"quiet", 0, 0, O_QUIET},
                                             {"help", 0, 0, O_HELP},
                                             {"version", 0, 0, O_VERSION},
                                             {0, 0, 0, 0}};
    init_opts io = {0};
    config flags = {0}, cfg = {0};
    cfg.at_ahead_ms = cfg.at_behind_ms = -1; /* unset: the defaults below */
    const char *config_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_ORIGIN:
            io.origin = optarg;
            break;
        case O_MARKET:
            io.market = optarg;
            break;
        case O_AKEY:
            io.auth_key = optarg;
            break;
        case O_AID:
            io.auth_id = optarg;
            break;
        case O_ANAME:
            io.auth_name = optarg;
            break;
        case O_LIMITS:
            io.limits = optarg;
            break;
        case O_HERBS:
            io.herbs = optarg;
            break;
        case O_BASE_URL:
            io.base_url = optarg;
            break;
        case O_PASS:
            io.pass_file = optarg;
            break;
        case O_LOGPASS:
            io.log_pass_file = flags.passphrase_file = optarg;
            break;
        case O_UNSEALED:
            io.unsealed = 1;
            break;
        case O_TCP:
            flags.tcp = optarg;
            break;
        case O_THREADS:
            flags.threads = atoi(optarg);
            break;
        case O_READERS:
            flags.read_threads = atoi(optarg);
            break;
        case O_BATCH:
            flags.batch_max = atoi(optarg);
            break;
        case O_CONFIG:
            config_path = optarg;
            break;
        case O_QUIET:
            flags.quiet = 1;
            break;
        case O_VERSION:
            printf("tcmtraced %s\n", TT_VERSION);
            return 0;
        case 'h':
        case O_HELP:
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    if (cmd && (strcmp(cmd, "init") == 0 || strcmp(cmd, "run") == 0))
        optind++;
    else
        cmd = "run";
    if (optind + 1 != argc) {
        fprintf(stderr, "tcmtraced: 请给出一个且只给一个账本目录 / give exactly one ledger directory\n\n%s", USAGE);
        return 2;
    }
    if (strcmp(cmd, "init") == 0) {
        io.dir = argv[optind];
        return cmd_init(&io);
    }
    cfg.dir = realpath(argv[optind], NULL);
    if (cfg.dir == NULL) {
        fprintf(stderr, "tcmtraced: 账本目录打不开 / ledger directory %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    char defpath[4096];
    snprintf(defpath, sizeof defpath, "%s/tcmtraced.conf", cfg.dir);
    int rc = read_config(config_path ? config_path : defpath, &cfg, config_path != NULL);
    if (rc) { /* the settings read before the bad line are the config file's */
        free(cfg.dir);
        free(cfg.tcp);
        free(cfg.passphrase_file);
        return rc;
    }
    if (flags.tcp)
        cfg.tcp = flags.tcp;
    if (flags.threads)
        cfg.threads = flags.threads;
    if (flags.batch_max)
        cfg.batch_max = flags.batch_max;
    if (flags.passphrase_file)
        cfg.passphrase_file = flags.passphrase_file;
    cfg.quiet = flags.quiet;
    if (cfg.threads <= 0)
        cfg.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (flags.read_threads > 0)
        cfg.read_threads = flags.read_threads;
    if (cfg.read_threads <= 0 || cfg.read_threads > 256)
        cfg.read_threads = 2;
    if (cfg.batch_max <= 0 || cfg.batch_max > 65536)
        cfg.batch_max = 1024;
    if (cfg.tcp_max_connections <= 0)
        cfg.tcp_max_connections = 256;
    if (cfg.tcp_stall_ms <= 0)
        cfg.tcp_stall_ms = 30000;
    if (cfg.witness_refresh_ms <= 0)
        cfg.witness_refresh_ms = 600000;
    if (cfg.tcp_idle_ms <= 0)
        cfg.tcp_idle_ms = 600000;
    if (cfg.at_ahead_ms < 0)
        cfg.at_ahead_ms = 10 * 60000;
    if (cfg.at_behind_ms < 0)
        cfg.at_behind_ms = INT64_C(30) * 86400000;
    rc = server_run(&cfg);
    free(cfg.dir);
    if (cfg.tcp != flags.tcp)
        free(cfg.tcp);
    if (cfg.passphrase_file != flags.passphrase_file)
        free(cfg.passphrase_file);
    return rc;
}
