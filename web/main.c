/*
 * main.c: tcmtrace-web DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]
 * [--config FILE]. Opens the ledger read-only, serves it over HTTP with
 * libmicrohttpd until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcmtrace/util.h"
#include "web.h"

static const char USAGE[] =
    "usage: tcmtrace-web DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n"
    "                    [--config FILE]\n"
    "       tcmtrace-web --help | --version\n"
    "\n"
    "Serves the ledger in DIR over HTTP (default 127.0.0.1:8080): the REST API under\n"
    "<base path>/api/v1/, the log as C2SP tlog-tiles under <base path>/log/. It reads\n"
    "the ledger read-only and forwards writes to tcmtraced over ipc://DIR/api.sock.\n"
    "Settings: the web_* lines of DIR/tcmtraced.conf (see the README); flags win.\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void defaults(web_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->listen, sizeof s->listen, "127.0.0.1:8080");
    s->max_connections = 1000;
    s->per_address = 64;
    s->timeout_s = 10;
    s->fresh_s = 3600;
    s->header_memory = 32 * 1024;
    s->max_body = 256 * 1024;
    s->writes_per_s = 20;
    s->write_burst = 40;
    s->threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    s->daemon_timeout_ms = 15000;
    s->header_s = 20;
    s->min_rate = 1024;
    s->answer_s = 120;
    s->send_buffer = 256 * 1024;
}

int web_read_settings(const char *path, int explicit_path, web_settings *s)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!explicit_path)
            return 0;
        fprintf(stderr, "tcmtrace-web: 配置文件读不出来 / cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    static const struct {
        const char *key;
        size_t off;
        unsigned lo, hi;
    } nums[] = {
        {"web_max_connections", offsetof(web_settings, max_connections), 1, 100000},
        {"web_max_per_address", offsetof(web_settings, per_address), 1, 100000},
        {"web_timeout_seconds", offsetof(web_settings, timeout_s), 1, 3600},
        {"web_header_memory", offsetof(web_settings, header_memory), 4096, 1 << 24},
        {"web_max_body", offsetof(web_settings, max_body), 1024, 1 << 24},
        {"web_writes_per_second", offsetof(web_settings, writes_per_s), 1, 100000},
        {"web_write_burst", offsetof(web_settings, write_burst), 1, 100000},
        {"web_threads", offsetof(web_settings, threads), 1, 256},
        {"web_daemon_timeout_ms", offsetof(web_settings, daemon_timeout_ms), 100, 600000},
        {"web_fresh_seconds", offsetof(web_settings, fresh_s), 5, 604800},
        {"web_header_seconds", offsetof(web_settings, header_s), 1, 3600},
        {"web_min_bytes_per_second", offsetof(web_settings, min_rate), 1, 1 << 30},
        {"web_answer_seconds", offsetof(web_settings, answer_s), 1, 86400},
        {"web_send_buffer", offsetof(web_settings, send_buffer), 4096, 1 << 26},
    };
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char key[64], val[1100];
        const char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0' || strncmp(p, "web_", 4) != 0)
            continue; /* tcmtraced's settings are its own */
        if (sscanf(p, "%63[a-z_] = %1099[^\n]", key, val) != 2) {
            fprintf(stderr, "tcmtrace-web: 配置文件的这一行应写成“名称 = 值” / %s:%d: expected \"key = value\"\n", path, lineno);
            rc = 2;
            break;
        }
        size_t i, known = 0;
        for (i = 0; i < sizeof nums / sizeof *nums; i++) {
            if (strcmp(key, nums[i].key) != 0)
                continue;
            char *end;
            unsigned long v = strtoul(val, &end, 10);
            if (end == val || *end || v < nums[i].lo || v > nums[i].hi) {
                fprintf(stderr, "tcmtrace-web: 这项设置的数值超出范围 / %s:%d: %s must be a whole number from %u to %u\n",
                        path, lineno, key, nums[i].lo, nums[i].hi);
                rc = 2;
            }
            *(unsigned *)((char *)s + nums[i].off) = (unsigned)v;
            known = 1;
        }
        if (strcmp(key, "web_listen") == 0)
            known = (size_t)snprintf(s->listen, sizeof s->listen, "%s", val) > 0;
        else if (strcmp(key, "web_tls_cert") == 0)
            known = (size_t)snprintf(s->tls_cert, sizeof s->tls_cert, "%s", val) > 0;
        else if (strcmp(key, "web_tls_key") == 0)
            known = (size_t)snprintf(s->tls_key, sizeof s->tls_key, "%s", val) > 0;
        if (!known && rc == 0) {
            fprintf(stderr, "tcmtrace-web: 配置文件里有不认识的设置 / %s:%d: unknown setting \"%s\"\n", path, lineno, key);
            rc = 2;
        }
    }
    fclose(f);
    return rc;
}

/* The base URL's path: "https://host/cq" -> "/cq"; none -> "". */
static void prefix_of(const char *base, char *out, size_t cap)
{
    const char *p = strstr(base, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    snprintf(out, cap, "%s", p ? p : "");
}

/* The pages beside the build tree (build/, build/asan/...) or installed. */
static int find_pages(web *w)
{
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    static const char *rel[] = {"/../web", "/../../web", "/../share/tcmtrace/web"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s/pages/b.html", exe, rel[i]);
        if (access(p, R_OK) == 0) {
            snprintf(w->pages, sizeof w->pages, "%s%s/pages", exe, rel[i]);
            snprintf(w->modules, sizeof w->modules, "%s%s/node_modules", exe, rel[i]);
            return 1;
        }
    }
    return 0;
}

static void logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fprintf(stderr, "tcmtrace-web: ");
    vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
    static web w; /* large: the rate buckets */
    web_settings flags;
    tt_mem_keep(); /* its pool's threads read all day: freed memory stays theirs */
    const char *config = NULL;
    memset(&flags, 0, sizeof flags);
    static const struct option o[] = {
        {"listen", 1, 0, 'l'}, {"tls-cert", 1, 0, 'c'}, {"tls-key", 1, 0, 'k'},
        {"config", 1, 0, 'f'}, {"help", 0, 0, 'h'},     {"version", 0, 0, 'V'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
        switch (ch) {
        case 'l':
            snprintf(flags.listen, sizeof flags.listen, "%s", optarg);
            break;
        case 'c':
            snprintf(flags.tls_cert, sizeof flags.tls_cert, "%s", optarg);
            break;
        case 'k':
            snprintf(flags.tls_key, sizeof flags.tls_key, "%s", optarg);
            break;
        case 'f':
            config = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        case 'V':
            printf("tcmtrace-web %s\n", TT_VERSION);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fputs(USAGE, stderr);
        return 2;
    }
    snprintf(w.dir, sizeof w.dir, "%s", argv[optind]);
    defaults(&w.set);
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/tcmtraced.conf", w.dir);
    if (web_read_settings(config ? config : conf, config != NULL, &w.set))
        return 2;
    if (*flags.listen)
        memcpy(w.set.listen, flags.listen, sizeof w.set.listen);
    if (*flags.tls_cert)
        memcpy(w.set.tls_cert, flags.tls_cert, sizeof w.set.tls_cert);
    if (*flags.tls_key)
        memcpy(w.set.tls_key, flags.tls_key, sizeof w.set.tls_key);
    if (!*w.set.tls_cert != !*w.set.tls_key) {
        fprintf(stderr, "tcmtrace-web: HTTPS 要同时给出 --tls-cert 和 --tls-key / HTTPS needs both --tls-cert and --tls-key\n");
        return 2;
    }
    struct sockaddr_storage addr = {0};
    if (!tt_listen_parse(w.set.listen, &addr)) {
        fprintf(stderr,
                "tcmtrace-web: --listen 要写成 主机:端口，如 127.0.0.1:8080 / --listen takes HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080, not "
                "\"%s\"\n",
                w.set.listen);
        return 2;
    }
    tt_error err;
    if (tt_ledger_open(w.dir, TT_LEDGER_RDONLY, &w.ledger, &err) != TT_OK ||
        tt_state_layout_check(w.ledger, &err) != TT_OK ||
        tt_api_init(&w.ops, w.ledger, &err) != TT_OK) {
        fprintf(stderr, "tcmtrace-web: 账本打不开 / %s: %s%s\n", w.dir, err.message,
                err.code == TT_ERR_NOT_FOUND ? " (run 'tcmtraced init' first)" : "");
        return 3;
    }
    prefix_of(w.ops.base_url, w.prefix, sizeof w.prefix);
    if (!find_pages(&w))
        fprintf(stderr, "tcmtrace-web: 程序旁边找不到网页文件，/b/ 会回答 404 / no pages found beside the program; /b/ answers 404\n");
    snprintf(w.api_url, sizeof w.api_url, "ipc://%s/api.sock", w.dir);
    tt_rate_init(&w.writes, w.set.writes_per_s, w.set.write_burst);
    /* every connection is a descriptor: room for the cap, or say so */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < w.set.max_connections + 64) {
        rl.rlim_cur =
            rl.rlim_max < w.set.max_connections + 64 ? rl.rlim_max : w.set.max_connections + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < w.set.max_connections + 64)
            w.set.max_connections = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
    }
    char *cert = NULL, *key = NULL;
    unsigned mflags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        mflags |= MHD_USE_IPv6;
    if (*w.set.tls_cert) {
        size_t len;
        cert = web_read_file(w.set.tls_cert, &len);
        key = web_read_file(w.set.tls_key, &len);
        if (cert == NULL || key == NULL) {
            fprintf(stderr, "tcmtrace-web: 证书或私钥文件读不出来 / cannot read %s\n",
                    cert ? w.set.tls_key : w.set.tls_cert);
            return 3;
        }
        mflags |= MHD_USE_TLS;
    }
    if (!web_guard_start(&w.guard, &w.set)) {
        fprintf(stderr, "tcmtrace-web: 无法启动连接计时线程 / cannot start the deadline thread\n");
        return 3;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        mflags, 0, web_guard_accept, &w, (MHD_AccessHandlerCallback)web_handle, &w,
        MHD_OPTION_EXTERNAL_LOGGER, logger, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, w.set.threads, MHD_OPTION_CONNECTION_LIMIT,
        w.set.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, w.set.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)w.set.header_memory, MHD_OPTION_URI_LOG_CALLBACK, web_uri_log, &w,
        MHD_OPTION_NOTIFY_COMPLETED, web_completed, &w, MHD_OPTION_NOTIFY_CONNECTION,
        web_guard_notify, &w,
        cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_END);
    if (d == NULL) {
        /* libmicrohttpd does not say why: a bind of our own does, for the sentence */
        int e = errno, fd = socket(addr.ss_family, SOCK_STREAM, 0), one = 1;
        socklen_t alen = addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_in);
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, (struct sockaddr *)&addr, alen) != 0)
                e = errno;
            close(fd);
        }
        fprintf(stderr,
                "tcmtrace-web: 无法在 %s 上监听：%s。请换一个 --listen 地址或端口（或 tcmtraced.conf "
                "里的 web_listen），或先停止占用它的程序 / cannot listen on %s: %s\n",
                w.set.listen,
                e == EADDRINUSE       ? "这个端口已被别的程序占用"
                : e == EADDRNOTAVAIL  ? "本机没有这个地址"
                : e == EACCES         ? "没有权限使用这个端口（1024 以下的端口需要 root）"
                                      : "系统拒绝了",
                w.set.listen, strerror(e));
        web_guard_stop(&w.guard);
        return 3;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "tcmtrace-web: %s on %s://%s%s/ (ledger %s, base URL %s)\n", w.ops.origin,
            cert ? "https" : "http", w.set.listen, w.prefix, w.dir, w.ops.base_url);
    while (!stopping)
        pause();
    MHD_stop_daemon(d);
    web_guard_stop(&w.guard);
    tt_ledger_close(w.ledger);
    free(cert);
    free(key);
    fprintf(stderr, "tcmtrace-web: stopped\n");
    return 0;
}
