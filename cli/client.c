/*
 * client.c: talking to tcmtraced, and the user's keys.
 *
 * nanomsg connects lazily, so a missing daemon would only show as a
 * timeout; for a local ledger the socket file is probed first so that the
 * user hears at once that no daemon is running.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netdb.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "tcmtrace/messages.h"
#include "tcmtrace/util.h"

int cli_ipc_listening(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(path) >= sizeof a.sun_path)
        return fd >= 0 ? (close(fd), 1) : 1; /* cannot probe: let nanomsg try */
    strcpy(a.sun_path, path);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0, e = errno;
    close(fd);
    errno = e; /* EACCES: there is a socket this user may not use */
    return ok;
}

/* Whether something accepts TCP connections at HOST:PORT (a quick probe, so
 * that a dead port fails at once rather than after the timeout). */
static int tcp_listening(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || colon == hostport || (size_t)(colon - hostport) >= sizeof host)
        return 1; /* let nanomsg say what is wrong */
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return 1;
    int ok = 0;
    for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

int cli_connect(cli *c)
{
    if (c->sock >= 0)
        return EX_DONE;
    char url[4200];
    if (c->connect && strncmp(c->connect, "tcp://", 6) != 0 &&
        strncmp(c->connect, "ipc://", 6) != 0) {
        return cli_fail(EX_USAGE, "usage",
                        "--connect 只接受 tcp://主机:端口 或 ipc://路径 / --connect takes a nanomsg address, tcp://HOST:PORT or ipc://PATH, not "
                        "\"%s\"",
                        c->connect);
    } else if (c->connect && strncmp(c->connect, "tcp://", 6) == 0 &&
               !tcp_listening(c->connect + 6)) {
        return cli_fail(EX_UNREACHABLE, "unreachable",
                        "该地址上没有 tcmtraced 应答：请确认它在那里以 --tcp 运行 / nothing answers on %s: is tcmtraced running there with --tcp?",
                        c->connect);
    } else if (c->connect) {
        snprintf(url, sizeof url, "%s", c->connect);
    } else if (c->dir) {
        snprintf(url, sizeof url, "ipc://%s/api.sock", c->dir);
        /* a ledger the user may not read is not a daemon that is down */
        if (access(c->dir, X_OK) != 0 && errno == EACCES)
            return cli_fail(EX_UNREACHABLE, "io",
                            "没有权限打开这个账本：请把自己加入 tcmtrace 组，然后重新登录 / permission denied on %s: add yourself to the tcmtrace group "
                            "('sudo adduser %s tcmtrace', then log in again)",
                            c->dir, getenv("USER") ? getenv("USER") : "$USER");
        if (!cli_ipc_listening(url + 6) && errno == EACCES)
            return cli_fail(EX_UNREACHABLE, "io",
                            "没有权限连接这个账本：请把自己加入 tcmtrace 组，然后重新登录 / permission denied on %s/api.sock: add yourself to the tcmtrace "
                            "group ('sudo adduser %s tcmtrace', then log in again)",
                            c->dir, getenv("USER") ? getenv("USER") : "$USER");
        if (!cli_ipc_listening(url + 6))
            return cli_fail(EX_UNREACHABLE, "unreachable",
                            "这个目录上没有运行 tcmtraced：请先用 tcmtraced run 启动它 / no tcmtraced is running on %s (start it with 'tcmtraced run %s')",
                            c->dir, c->dir);
    } else {
        return cli_fail(EX_USAGE, "usage",
                        "请指明账本：--dir 目录（或环境变量 TCMTRACE_DIR），或 --connect 地址 / say which "
                        "ledger: --dir DIR (or TCMTRACE_DIR), or --connect ADDRESS");
    }
    c->sock = nn_socket(AF_SP, NN_REQ);
    if (c->sock < 0 || nn_connect(c->sock, url) < 0)
        return cli_fail(EX_UNREACHABLE, "unreachable", "无法连接账本 / cannot connect to %s: %s", url,
                        nn_strerror(nn_errno()));
    nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &c->timeout_ms, sizeof c->timeout_ms);
    nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &c->timeout_ms, sizeof c->timeout_ms);
    int resend = 3600 * 1000; /* never resend a submit behind the user's back */
    nn_setsockopt(c->sock, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof resend);
    return EX_DONE;
}

int cli_call(cli *c, json_t *req, json_t **resp)
{
    int ex = cli_connect(c);
    if (ex != EX_DONE) {
        json_decref(req);
        return ex;
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    int writes = op && (strncmp(op, "submit", 6) == 0 || strcmp(op, "scan") == 0);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int n = nn_send(c->sock, text, strlen(text), 0);
    free(text);
    if (n < 0)
        return cli_fail(EX_UNREACHABLE, "unreachable", "无法把请求发给 tcmtraced / cannot send to tcmtraced: %s",
                        nn_strerror(nn_errno()));
    char *buf = NULL;
    n = nn_recv(c->sock, &buf, NN_MSG, 0);
    if (n < 0)
        return cli_fail(
            EX_UNREACHABLE, "unreachable", "tcmtraced 没有及时应答 / no answer from tcmtraced within %d ms: %s%s",
            c->timeout_ms, nn_strerror(nn_errno()),
            writes ? " (it may still have been written; check with 'tcmtrace log')" : "");
    json_error_t jerr;
    *resp = tt_json_load(buf, (size_t)n, 0, &jerr);
    nn_freemsg(buf);
    if (*resp == NULL)
        return cli_fail(EX_UNREACHABLE, "malformed", "tcmtraced 的回答无法读懂（不是有效的 JSON） / tcmtraced answered with invalid JSON");
    return EX_DONE;
}

/* Prints the daemon's refusal in *resp (freed) and returns EX_REFUSED. */
static int refused(cli *c, json_t **resp)
{
    json_t *e = json_object_get(*resp, "error");
    if (c->json)
        fmt_json(*resp);
    int ex = cli_fail(EX_REFUSED, json_string_value(json_object_get(e, "code")), "%s",
                      json_string_value(json_object_get(e, "message")));
    json_decref(*resp);
    *resp = NULL;
    return ex;
}

int cli_request(cli *c, json_t *req, json_t **resp)
{
    int ex = cli_call(c, req, resp);
    if (ex != EX_DONE)
        return ex;
    return json_is_true(json_object_get(*resp, "ok")) ? EX_DONE : refused(c, resp);
}

int cli_submit(cli *c, const char *type, json_t *fields, json_t **resp)
{
    return cli_submit_new(c, type, fields, NULL, 0, resp);
}

/* Sets every string in `j` equal to `from` to `to`. */
static void replace_string(json_t *j, const char *from, const char *to)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_string(j) && strcmp(json_string_value(j), from) == 0)
        json_string_set(j, to);
    else if (json_is_object(j))
        json_object_foreach(j, k, v) replace_string(v, from, to);
    else if (json_is_array(j))
        json_array_foreach(j, i, v) replace_string(v, from, to);
}

int cli_ledger_origin(cli *c, const char **origin)
{
    static char o[256];
    if (o[0] == '\0') {
        json_t *st;
        int ex = cli_request(c, json_pack("{s:s}", "op", "status"), &st);
        if (ex != EX_DONE)
            return ex;
        snprintf(o, sizeof o, "%s", json_string_value(json_object_get(st, "origin")) ?: "");
        json_decref(st);
    }
    *origin = o;
    return EX_DONE;
}

int cli_submit_new(cli *c, const char *type, json_t *fields, char (*codes)[TT_CODE_LEN + 1],
                   size_t ncodes, json_t **resp)
{
    cli_submitting(type);
    /* the daemon's own parser first: a bad input is told here (exit 2), nothing sent */
    char *draft = tt_event_build(type, json_incref(fields));
    tt_event ev;
    tt_error perr;
    tt_err prc = draft ? tt_event_parse(tt_bytes_str(draft), &ev, &perr) : TT_ERR_NOMEM;
    free(draft);
    if (prc == TT_OK)
        tt_event_free(&ev);
    else {
        json_decref(fields);
        return cli_fail(EX_USAGE, tt_err_name(prc), "%s; nothing was sent",
                        prc == TT_ERR_NOMEM ? "out of memory" : perr.message);
    }
    tt_keypair kp;
    int ex = cli_load_key(c, &kp);
    if (ex != EX_DONE) {
        json_decref(fields);
        return ex;
    }
    char pk64[64];
    tt_b64((tt_bytes){32, kp.pk}, pk64);
    /* the event names the ledger it is for: the origin the daemon serves */
    const char *origin = NULL;
    if ((ex = cli_ledger_origin(c, &origin)) != EX_DONE) {
        tt_keypair_wipe(&kp);
        json_decref(fields);
        return ex;
    }
    char prefix[TT_EVENT_PREFIX_MAX];
    tt_event_prefix(origin, prefix);
    for (int attempt = 1;; attempt++) {
        char *body = tt_event_build(type, json_incref(fields)), sig64[100];
        uint8_t sig[64];
        if ((ex = cli_sign(c, &kp, prefix, tt_bytes_str(body), sig)) != EX_DONE) {
            free(body);
            break;
        }
        tt_b64((tt_bytes){64, sig}, sig64);
        json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "submit", "actor", pk64, "sig",
                                sig64, "body", body, "ledger", origin);
        free(body);
        if ((ex = cli_call(c, req, resp)) != EX_DONE)
            break;
        if (json_is_true(json_object_get(*resp, "ok")))
            break;
        const char *code =
            json_string_value(json_object_get(json_object_get(*resp, "error"), "code"));
        if (ncodes == 0 || attempt == CLI_NEW_CODE_TRIES || code == NULL ||
            strcmp(code, tt_err_name(TT_ERR_DUPLICATE_ID)) != 0) {
            ex = refused(c, resp);
            break;
        }
        /* a code made here is taken already: make them all afresh and sign again */
        json_decref(*resp);
        *resp = NULL;
        for (size_t i = 0; i < ncodes; i++) {
            char fresh[TT_CODE_LEN + 1];
            tt_code_new(tt_now_ms(), fresh);
            replace_string(fields, codes[i], fresh);
            memcpy(codes[i], fresh, sizeof fresh);
        }
    }
    tt_keypair_wipe(&kp);
    json_decref(fields);
    return ex;
}

int cli_load_key(cli *c, tt_keypair *kp)
{
    const char *path = c->key ? c->key : getenv("TCMTRACE_KEY");
    tt_error err;
    if (path == NULL)
        return cli_fail(EX_USAGE, "usage", "请指明用谁的密钥签名：--key 文件（或 TCMTRACE_KEY） / say whose key signs: --key FILE (or TCMTRACE_KEY)");
    if (!c->no_agent && tt_key_secret_public(path, kp->pk, NULL) == TT_OK &&
        cli_agent_has(kp->pk)) {
        sodium_memzero(kp->sk, sizeof kp->sk); /* the agent signs */
        return EX_DONE;
    }
    if (tt_secret_load(path, c->pass_file, "TCMTRACE_PASSPHRASE", kp, &err) != TT_OK)
        /* a passphrase that does not open the key: the key cannot be used (3, as any key
         * that cannot be); one not given at all, or empty: the command line (2) */
        return cli_fail(err.code == TT_ERR_BAD_PASSPHRASE && !strstr(err.message, "does not open")
                            ? EX_USAGE
                            : EX_UNREACHABLE,
                        tt_err_name(err.code), "%s", err.message);
    return EX_DONE;
}

int cli_sign(cli *c, const tt_keypair *kp, const char *prefix, tt_bytes body, uint8_t sig[64])
{
    static const uint8_t zero[64];
    size_t pl = strlen(prefix);
    uint8_t *msg = malloc(pl + body.size);
    if (msg == NULL)
        return cli_fail(EX_UNREACHABLE, "nomem", "内存不够 / out of memory");
    memcpy(msg, prefix, pl);
    memcpy(msg + pl, body.data, body.size);
    int own = sodium_memcmp(kp->sk, zero, 64) != 0, ex = EX_DONE;
    if (own)
        crypto_sign_detached(sig, NULL, msg, pl + body.size, kp->sk);
    else if (cli_agent_sign(kp->pk, msg, pl + body.size, sig) != 0) {
        /* the agent let the key go (its time ran out) or stopped: open the file after all */
        tt_keypair file_kp;
        cli nc = *c;
        nc.no_agent = 1;
        if ((ex = cli_load_key(&nc, &file_kp)) == EX_DONE) {
            crypto_sign_detached(sig, NULL, msg, pl + body.size, file_kp.sk);
            tt_keypair_wipe(&file_kp);
        }
    }
    free(msg);
    return ex;
}

int cli_log_verifier(cli *c, tt_verifier *v)
{
    const char *src = c->log_key ? c->log_key : getenv("TCMTRACE_LOG_KEY");
    char *data = NULL, path[4096];
    size_t len;
    tt_error err;
    if (src == NULL && c->dir) {
        snprintf(path, sizeof path, "%s/log.vkey", c->dir);
        src = path;
    }
    if (src == NULL)
        return cli_fail(EX_USAGE, "usage",
                        "请指明您信任的账本公钥：--log-key 公钥或文件（或 TCMTRACE_LOG_KEY） / say which log key you trust: --log-key VKEY|FILE (or TCMTRACE_LOG_KEY)");
    if (strchr(src, '+') == NULL || access(src, R_OK) == 0) {
        if (tt_read_file(src, 4096, &data, &len, &err) != TT_OK)
            return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s", err.message);
        data[strcspn(data, "\r\n")] = '\0';
        src = data;
    }
    tt_err rc = tt_verifier_parse(src, v, &err);
    free(data);
    if (rc != TT_OK)
        return cli_fail(EX_USAGE, "key_format", "您信任的账本公钥格式不对，请重新抄写 / the trusted log key: %s", err.message);
    return EX_DONE;
}
