/*
 * agent.c: `tcmtrace agent`, which holds opened secret keys for a set time,
 * as ssh-agent does, so that a pharmacy counter is not asked for the
 * passphrase on every sale. The keys live in memory libsodium locks and
 * guards (sodium_malloc: mlock'd, never swapped, wiped when freed), in a
 * process that cannot be traced or dumped (PR_SET_DUMPABLE 0). It answers
 * on a UNIX socket, 0600 in a 0700 directory, only to processes of its own
 * user (SO_PEERCRED), and never hands a key out: it signs.
 *
 * Wire: each message is a 4-byte big-endian length and a payload whose
 * first byte is the operation:
 *   'A' pk(32) sk(64) ttl(4)  add a key      -> 'K'
 *   'S' pk(32) message        sign           -> 'K' sig(64) | 'N'
 *   'L'                       list           -> 'K' n(4) then n x (pk(32) seconds left(4))
 *   'R' pk(32)                remove (zeros: all) -> 'K'
 *   'Q'                       stop           -> 'K'
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tcmtrace/event.h"
#include "tcmtrace/note.h"
#include "tcmtrace/scans.h"

#define AGENT_KEYS 16
#define AGENT_MSG_MAX (TT_BODY_MAX + 4096)

typedef struct slot {
    uint8_t pk[32], sk[64];
    time_t until; /* 0: empty */
} slot;

/* The socket: $TCMTRACE_AGENT, else $XDG_RUNTIME_DIR/tcmtrace-agent.sock, else
 * /tmp/tcmtrace-<uid>/agent.sock (the directory made 0700 and checked ours). */
int cli_agent_path(char *out, size_t cap)
{
    const char *e = getenv("TCMTRACE_AGENT"), *r = getenv("XDG_RUNTIME_DIR");
    if (e && *e)
        return snprintf(out, cap, "%s", e) < (int)cap ? 0 : -1;
    if (r && *r)
        return snprintf(out, cap, "%s/tcmtrace-agent.sock", r) < (int)cap ? 0 : -1;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tcmtrace-%u", (unsigned)getuid());
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077))
        return -1; /* someone else's, or open to others: not a place for keys */
    return snprintf(out, cap, "%s/agent.sock", dir) < (int)cap ? 0 : -1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w, n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r, n -= (size_t)r;
    }
    return 0;
}

static int send_msg(int fd, const uint8_t *p, size_t n)
{
    uint8_t len[4];
    tt_put_u32be(len, (uint32_t)n);
    return write_all(fd, len, 4) || write_all(fd, p, n) ? -1 : 0;
}

/* A message into a malloc'd buffer (*n bytes); NULL when the peer is gone or it is too long. */
static uint8_t *recv_msg(int fd, size_t *n)
{
    uint8_t len[4];
    if (read_all(fd, len, 4))
        return NULL;
    *n = tt_get_u32be(len);
    if (*n == 0 || *n > AGENT_MSG_MAX)
        return NULL;
    uint8_t *p = sodium_malloc(*n); /* it may carry a secret key: locked, wiped */
    if (p && read_all(fd, p, *n)) {
        sodium_free(p);
        return NULL;
    }
    return p;
}

/* One request to the agent; the answer (sodium_malloc'd) in *ans, or -1 when none answers. */
static int agent_call(const uint8_t *req, size_t n, uint8_t **ans, size_t *an)
{
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (cli_agent_path(path, sizeof path) != 0)
        return -1;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = send_msg(fd, req, n);
    *ans = rc == 0 ? recv_msg(fd, an) : NULL;
    close(fd);
    return *ans ? 0 : -1;
}

int cli_agent_has(const uint8_t pk[32])
{
    uint8_t req[1] = {'L'}, *ans;
    size_t an;
    if (agent_call(req, 1, &ans, &an) != 0)
        return 0;
    int has = 0;
    if (an >= 5 && ans[0] == 'K') {
        uint32_t k = tt_get_u32be(ans + 1);
        for (uint32_t i = 0; i < k && 5 + (i + 1) * 36 <= an; i++)
            has |= memcmp(ans + 5 + i * 36, pk, 32) == 0;
    }
    sodium_free(ans);
    return has;
}

int cli_agent_sign(const uint8_t pk[32], const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (len + 33 > AGENT_MSG_MAX)
        return -1;
    uint8_t *req = malloc(len + 33), *ans;
    size_t an;
    if (req == NULL)
        return -1;
    req[0] = 'S';
    memcpy(req + 1, pk, 32);
    memcpy(req + 33, msg, len);
    int rc = agent_call(req, len + 33, &ans, &an);
    free(req);
    if (rc != 0)
        return -1;
    rc = an == 65 && ans[0] == 'K' ? (memcpy(sig, ans + 1, 64), 0) : -1;
    sodium_free(ans);
    /* the agent's signature is checked like any answer */
    return rc == 0 && crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
}

/* ---- the agent process ------------------------------------------------------------------- */

static volatile sig_atomic_t stopping;
static void on_signal(int s)
{
    (void)s;
    stopping = 1;
}

static void expire(slot *keys)
{
    time_t now = time(NULL);
    for (int i = 0; i < AGENT_KEYS; i++)
        if (keys[i].until && keys[i].until <= now)
            sodium_memzero(&keys[i], sizeof keys[i]);
}

/* What the agent will sign: a tcmtrace event for a named ledger whose body the daemon's own
 * parser takes, or a label scan; nothing else (no raw bytes, no v1 event naming no ledger).
 * Writes what it is into what[] for the log. */
static int signable(const uint8_t *m, size_t n, char *what, size_t cap)
{
    static const char ev[] = TT_EVENT_SIG_PREFIX, scan[] = TT_SCAN_SIG_PREFIX;
    if (n > sizeof ev - 1 && memcmp(m, ev, sizeof ev - 1) == 0) {
        const uint8_t *o = m + sizeof ev - 1, *nl = memchr(o, '\n', n - (sizeof ev - 1));
        char origin[256];
        if (nl == NULL || (size_t)(nl - o) >= sizeof origin)
            return 0;
        memcpy(origin, o, (size_t)(nl - o));
        origin[nl - o] = '\0';
        tt_event e;
        tt_error err;
        tt_bytes body = {n - (size_t)(nl + 1 - m), nl + 1};
        if (!tt_note_name_valid(origin) || tt_event_parse(body, &e, &err) != TT_OK)
            return 0;
        snprintf(what, cap, "event %s for %s%s%s", tt_event_str(&e, "type"), origin,
                 tt_event_str(&e, "id") ? " " : "", tt_event_str(&e, "id") ? tt_event_str(&e, "id") : "");
        tt_event_free(&e);
        return 1;
    }
    if (n > sizeof scan - 1 && memcmp(m, scan, sizeof scan - 1) == 0) {
        /* the ledger's origin, then the body */
        const uint8_t *o = m + sizeof scan - 1, *nl = memchr(o, '\n', n - (sizeof scan - 1));
        char origin[256];
        if (nl == NULL || (size_t)(nl - o) >= sizeof origin)
            return 0;
        memcpy(origin, o, (size_t)(nl - o));
        origin[nl - o] = '\0';
        if (!tt_note_name_valid(origin))
            return 0;
        json_error_t je;
        json_t *j = json_loadb((const char *)nl + 1, n - (size_t)(nl + 1 - m), JSON_REJECT_DUPLICATES, &je);
        int ok = json_is_object(j) && json_is_string(json_object_get(j, "id")) &&
                 strcmp(json_string_value(json_object_get(j, "type")) ?: "", "scan") == 0;
        if (ok)
            snprintf(what, cap, "scan of %s for %s", json_string_value(json_object_get(j, "id")), origin);
        json_decref(j);
        return ok;
    }
    return 0;
}

/* One line a signature (and a refusal) in agent.log beside the socket, 0600. */
static void agent_log(const char *sock, const uint8_t pk[32], const char *what, int signed_it)
{
    char path[4200], b64[48], when[40];
    snprintf(path, sizeof path, "%s.log", sock);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    tt_b64((tt_bytes){32, pk}, b64);
    tt_rfc3339_now(when);
    dprintf(fd, "%s %s key %.12s… %s\n", when, signed_it ? "signed" : "refused", b64, what);
    close(fd);
}

static const char *agent_sock;

static void serve(int fd, slot *keys, int *quit)
{
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cr.uid != getuid())
        return; /* only its own user */
    size_t n;
    uint8_t *m = recv_msg(fd, &n), ok = 'K', no = 'N';
    if (m == NULL)
        return;
    expire(keys);
    time_t now = time(NULL);
    if (m[0] == 'A' && n == 1 + 32 + 64 + 4) {
        int at = -1;
        for (int i = 0; i < AGENT_KEYS; i++)
            if ((keys[i].until && memcmp(keys[i].pk, m + 1, 32) == 0) ||
                (at < 0 && !keys[i].until))
                at = i;
        if (at >= 0) {
            memcpy(keys[at].pk, m + 1, 32);
            memcpy(keys[at].sk, m + 33, 64);
            keys[at].until = now + (time_t)tt_get_u32be(m + 97);
        }
        send_msg(fd, at >= 0 ? &ok : &no, 1);
    } else if (m[0] == 'S' && n >= 33) {
        uint8_t out[65] = {'K'};
        int i = 0;
        while (i < AGENT_KEYS && !(keys[i].until && memcmp(keys[i].pk, m + 1, 32) == 0))
            i++;
        char what[400] = "a message that is no tcmtrace event or scan";
        int ok_msg = i < AGENT_KEYS && signable(m + 33, n - 33, what, sizeof what);
        if (i < AGENT_KEYS && agent_sock)
            agent_log(agent_sock, m + 1, what, ok_msg);
        if (ok_msg) {
            crypto_sign_detached(out + 1, NULL, m + 33, n - 33, keys[i].sk);
            send_msg(fd, out, sizeof out);
        } else
            send_msg(fd, &no, 1);
    } else if (m[0] == 'L') {
        uint8_t out[5 + AGENT_KEYS * 36] = {'K'};
        uint32_t k = 0;
        for (int i = 0; i < AGENT_KEYS; i++)
            if (keys[i].until) {
                memcpy(out + 5 + k * 36, keys[i].pk, 32);
                tt_put_u32be(out + 5 + k * 36 + 32, (uint32_t)(keys[i].until - now));
                k++;
            }
        tt_put_u32be(out + 1, k);
        send_msg(fd, out, 5 + k * 36);
    } else if (m[0] == 'R' && n == 33) {
        static const uint8_t zero[32];
        int all = memcmp(m + 1, zero, 32) == 0;
        for (int i = 0; i < AGENT_KEYS; i++)
            if (keys[i].until && (all || memcmp(keys[i].pk, m + 1, 32) == 0))
                sodium_memzero(&keys[i], sizeof keys[i]);
        send_msg(fd, &ok, 1);
    } else if (m[0] == 'Q') {
        send_msg(fd, &ok, 1);
        *quit = 1;
    } else
        send_msg(fd, &no, 1);
    sodium_free(m);
}

static int run_agent(int lfd, const char *path)
{
    slot *keys = sodium_malloc(sizeof(slot) * AGENT_KEYS);
    if (keys == NULL)
        return 1;
    agent_sock = path;
    sodium_memzero(keys, sizeof(slot) * AGENT_KEYS);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int quit = 0;
    while (!quit && !stopping) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) { /* each second: keys past their time are wiped */
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                struct timeval tv = {5, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                serve(fd, keys, &quit);
                close(fd);
            }
        }
        expire(keys);
    }
    sodium_free(keys); /* wipes them */
    close(lfd);
    unlink(path);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

static const char AGENT_USAGE[] =
    "usage: eval \"$(tcmtrace agent start)\"\n"
    "       tcmtrace agent add [FILE] [--ttl DURATION]   (default FILE: --key; 8h)\n"
    "       tcmtrace agent status | remove [FILE|--all] | stop\n"
    "Holds opened secret keys in locked memory for a set time, behind a socket only\n"
    "your user can use ($TCMTRACE_AGENT, else $XDG_RUNTIME_DIR/tcmtrace-agent.sock),\n"
    "so that signing asks for no passphrase until the time runs out. It signs; it\n"
    "never gives a key out. DURATION: 30m, 8h, 2d or seconds.\n";

static int duration_arg(const char *s, uint32_t *sec)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    unsigned long mul = *end == '\0' || !strcmp(end, "s") ? 1
                        : !strcmp(end, "m")                ? 60
                        : !strcmp(end, "h")                ? 3600
                        : !strcmp(end, "d")                ? 86400
                                                           : 0;
    if (end == s || mul == 0 || v == 0 || v * mul > 30UL * 86400)
        return cli_fail(EX_USAGE, "usage",
                        "--ttl 是 1 秒到 30 天之间的时长，如 30m、8h 或 2d / --ttl takes a time from 1s to 30d such as 30m, 8h or 2d, not \"%s\"", s);
    *sec = (uint32_t)(v * mul);
    return 0;
}

static int agent_start(void)
{
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
    if (cli_agent_path(path, sizeof path) != 0)
        return cli_fail(EX_UNREACHABLE, "io",
                        "找不到安全的地方放密钥代理的套接字：请设置 TCMTRACE_AGENT 或 XDG_RUNTIME_DIR / no safe place for the agent's socket: set TCMTRACE_AGENT or "
                        "XDG_RUNTIME_DIR");
    uint8_t q = 'L', *ans;
    size_t an;
    if (agent_call(&q, 1, &ans, &an) == 0) { /* one is running there already */
        sodium_free(ans);
        printf("TCMTRACE_AGENT=%s; export TCMTRACE_AGENT;\n", path);
        fprintf(stderr, "密钥代理已在运行 / an agent already runs on %s\n", path);
        return EX_DONE;
    }
    unlink(path);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int b = fd >= 0 ? bind(fd, (struct sockaddr *)&a, sizeof a) : -1;
    umask(old);
    if (b != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0)
        return cli_fail(EX_UNREACHABLE, "io", "密钥代理无法开始监听 / cannot listen on %s: %s", path, strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail(EX_UNREACHABLE, "io", "无法启动密钥代理 / cannot start the agent: %s", strerror(errno));
    if (pid == 0) {
        setsid();
        prctl(PR_SET_DUMPABLE, 0); /* no core dump, no ptrace by the same user */
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0), dup2(dn, 1), dup2(dn, 2);
            if (dn > 2)
                close(dn);
        }
        _exit(run_agent(fd, path));
    }
    close(fd);
    printf("TCMTRACE_AGENT=%s; export TCMTRACE_AGENT;\necho 密钥代理进程 / agent pid %d;\n", path,
           (int)pid);
    return EX_DONE;
}

static int key_file_pk(cli *c, const char *file, uint8_t pk[32])
{
    tt_error err;
    const char *path = file ? file : c->key ? c->key : getenv("TCMTRACE_KEY");
    if (path == NULL)
        return cli_fail(EX_USAGE, "usage", "请指明哪把密钥：给出密钥文件、--key 或 TCMTRACE_KEY / which key? give FILE, --key or TCMTRACE_KEY");
    if (tt_key_secret_public(path, pk, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s", err.message);
    return EX_DONE;
}

int cmd_agent(cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        return cli_usage(AGENT_USAGE, argc >= 2);
    }
    const char *sub = argv[1], *file = NULL;
    uint32_t ttl = 8 * 3600;
    int all = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            if (duration_arg(argv[++i], &ttl))
                return EX_USAGE;
        } else if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (argv[i][0] != '-' && file == NULL)
            file = argv[i];
        else
            return cli_unknown_arg(argv[i]), cli_usage(AGENT_USAGE, 0);
    }
    uint8_t *ans = NULL, req[1 + 32 + 64 + 4];
    size_t an;
    int ex = EX_DONE;
    if (strcmp(sub, "start") == 0)
        return agent_start();
    if (strcmp(sub, "add") == 0) {
        tt_keypair kp;
        cli sub_c = *c;
        sub_c.no_agent = 1;
        if (file)
            sub_c.key = file;
        if ((ex = cli_load_key(&sub_c, &kp)) != EX_DONE)
            return ex;
        req[0] = 'A';
        memcpy(req + 1, kp.pk, 32);
        memcpy(req + 33, kp.sk, 64);
        tt_put_u32be(req + 97, ttl);
        tt_keypair_wipe(&kp);
        int rc = agent_call(req, sizeof req, &ans, &an);
        sodium_memzero(req, sizeof req);
        if (rc != 0)
            return cli_fail(EX_UNREACHABLE, "unreachable",
                            "没有密钥代理在运行：先用 eval \"$(tcmtrace agent start)\" 启动 / no agent answers: start one with 'eval \"$(tcmtrace agent start)\"'");
        ex = ans[0] == 'K' ? EX_DONE
                           : cli_fail(EX_REFUSED, "range", "密钥代理已装满：先用 tcmtrace agent remove 移除不用的密钥 / the agent holds %d keys already",
                                      AGENT_KEYS);
        if (ex == EX_DONE)
            printf("已加入密钥代理 / key added for %u min: %s\n", (unsigned)(ttl / 60),
                   file ? file : c->key ? c->key : getenv("TCMTRACE_KEY"));
    } else if (strcmp(sub, "status") == 0 || strcmp(sub, "list") == 0) {
        req[0] = 'L';
        if (agent_call(req, 1, &ans, &an) != 0)
            return cli_fail(EX_UNREACHABLE, "unreachable", "没有密钥代理在运行 / no agent answers");
        uint32_t k = an >= 5 ? tt_get_u32be(ans + 1) : 0;
        json_t *j = json_array();
        if (!c->json)
            printf("密钥代理持有 %u 把密钥 / the agent holds %u key%s\n", k, k, k == 1 ? "" : "s");
        for (uint32_t i = 0; i < k && 5 + (i + 1) * 36 <= an; i++) {
            char b64[48];
            tt_b64((tt_bytes){32, ans + 5 + i * 36}, b64);
            uint32_t left = tt_get_u32be(ans + 5 + i * 36 + 32);
            if (!c->json)
                printf("  %s  还剩 %u 分钟 / %u min left\n", b64, left / 60, left / 60);
            json_array_append_new(j, json_pack("{s:s, s:i}", "key", b64, "seconds_left", left));
        }
        if (c->json)
            fmt_json(j);
        json_decref(j);
    } else if (strcmp(sub, "remove") == 0) {
        memset(req, 0, 33);
        req[0] = 'R';
        if (!all && (ex = key_file_pk(c, file, req + 1)) != EX_DONE)
            return ex;
        if (agent_call(req, 33, &ans, &an) != 0)
            return cli_fail(EX_UNREACHABLE, "unreachable", "没有密钥代理在运行 / no agent answers");
        printf("已从密钥代理移除 / removed%s\n", all ? ": every key" : "");
    } else if (strcmp(sub, "stop") == 0) {
        req[0] = 'Q';
        if (agent_call(req, 1, &ans, &an) != 0)
            return cli_fail(EX_UNREACHABLE, "unreachable", "没有密钥代理在运行 / no agent answers");
        printf("密钥代理已停止，密钥已清除 / the agent stopped and wiped its keys\n");
    } else
        return cli_usage(AGENT_USAGE, 0);
    if (ans)
        sodium_free(ans);
    return ex;
}
