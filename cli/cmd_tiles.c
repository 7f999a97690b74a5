/*
 * cmd_tiles.c: `tcmtrace tiles export DIR OUT` writes the log as C2SP
 * tlog-tiles files, the same bytes tcmtrace-web serves, for a plain static
 * server or object storage: OUT/checkpoint, OUT/tile/<L>/<N>[.p/<W>],
 * OUT/tile/entries/<N>[.p/<W>]. Full tiles never change, so a second export
 * into the same OUT writes only what is new.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char TILES_USAGE[] =
    "usage: tcmtrace tiles export DIR OUT\n"
    "Writes the log of the ledger in DIR as C2SP tlog-tiles under OUT (checkpoint,\n"
    "tile/...), for any static HTTP server, cache or object store. Serve OUT at the\n"
    "ledger's base URL + /log. Full tiles already in OUT are kept as they are.\n";

/* mkdir -p of path's parent directories */
static int parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int write_file(const char *out, const char *rel, const void *data, size_t len)
{
    char path[8192], tmp[8300];
    snprintf(path, sizeof path, "%s/%s", out, rel);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (parents(path) != 0)
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

/* Writes every tile of one kind (level, or entries) for a tree of `size`. */
static int export_level(tt_ledger *l, const char *out, int entries, unsigned level, uint64_t size,
                        uint64_t *written, uint64_t *kept)
{
    uint64_t count = entries ? size : (8 * level >= 64 ? 0 : size >> (8 * level));
    for (uint64_t n = 0; n * TT_TILE_WIDTH < count; n++) {
        tt_tile t = {entries, level, n, TT_TILE_WIDTH};
        if ((n + 1) * TT_TILE_WIDTH > count)
            t.width = (unsigned)(count - n * TT_TILE_WIDTH);
        char rel[TT_TILE_PATH_MAX + 8], path[8192];
        memcpy(rel, "tile/", 5);
        tt_tile_path(&t, rel + 5);
        snprintf(path, sizeof path, "%s/%s", out, rel);
        struct stat st;
        if (t.width == TT_TILE_WIDTH && stat(path, &st) == 0) {
            ++*kept; /* full tiles never change */
            continue;
        }
        uint8_t *data;
        size_t len;
        tt_error err;
        if (tt_tile_read(l, &t, size, &data, &len, &err) != TT_OK)
            return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s: %s", rel, err.message);
        int rc = write_file(out, rel, data, len);
        free(data);
        if (rc != 0)
            return cli_fail(EX_UNREACHABLE, "io", "无法写入输出目录：请检查目录和磁盘空间 / cannot write %s/%s: %s", out, rel,
                            strerror(errno));
        ++*written;
    }
    return EX_DONE;
}

int cmd_tiles(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return fputs(TILES_USAGE, stdout), EX_DONE;
    if (argc != 4 || strcmp(argv[1], "export") != 0)
        return cli_usage(TILES_USAGE, 0);
    tt_ledger *l;
    tt_error err;
    if (tt_ledger_open(argv[2], TT_LEDGER_RDONLY, &l, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s: %s", argv[2], err.message);
    char *note;
    size_t nlen;
    int ex = EX_DONE;
    if (tt_ledger_checkpoint(l, UINT64_MAX, &note, &nlen, &err) != TT_OK) {
        tt_ledger_close(l);
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s: %s", argv[2], err.message);
    }
    uint64_t size = strtoull(strchr(note, '\n') + 1, NULL, 10), written = 0, kept = 0;
    ex = export_level(l, argv[3], 1, 0, size, &written, &kept);
    for (unsigned level = 0; ex == EX_DONE && (8 * level < 64) && (size >> (8 * level)); level++)
        ex = export_level(l, argv[3], 0, level, size, &written, &kept);
    /* the checkpoint last: a mirror that reads it finds every tile it names */
    if (ex == EX_DONE && write_file(argv[3], "checkpoint", note, nlen) != 0)
        ex = cli_fail(EX_UNREACHABLE, "io", "无法写入输出目录：请检查目录和磁盘空间 / cannot write %s/checkpoint: %s", argv[3],
                      strerror(errno));
    free(note);
    tt_ledger_close(l);
    if (ex != EX_DONE)
        return ex;
    if (c->json)
        printf("{\"ok\":true,\"size\":%llu,\"written\":%llu,\"kept\":%llu}\n",
               (unsigned long long)size, (unsigned long long)written, (unsigned long long)kept);
    else
        printf("已导出日志瓦片 / tiles exported: %llu 条, %llu files written, %llu full tiles "
               "kept, in %s\n",
               (unsigned long long)size, (unsigned long long)written, (unsigned long long)kept,
               argv[3]);
    return EX_DONE;
}

/* ---- backup ------------------------------------------------------------------------------ */

static const char BACKUP_USAGE[] =
    "usage: tcmtrace backup DIR OUT\n"
    "A consistent, compacted copy of the ledger in DIR (and its scans, verifier key,\n"
    "settings and sealed log key) in the new directory OUT, while the daemon writes\n"
    "(LMDB's own copy). Check it with `tcmtrace audit OUT`; restore by serving OUT\n"
    "in place of DIR with the daemon stopped.\n";

/* Copies DIR/name to OUT/name with `mode`, if DIR has it. */
static int copy_small(const char *dir, const char *out, const char *name, mode_t mode)
{
    char from[4200], to[4200], buf[8192];
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s", out, name);
    FILE *f = fopen(from, "rb");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, mode);
    size_t n;
    int ok = fd >= 0;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = write(fd, buf, n) == (ssize_t)n;
    ok = ok && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    fclose(f);
    return ok ? 0 : -1;
}

int cmd_backup(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return fputs(BACKUP_USAGE, stdout), EX_DONE;
    if (argc != 3)
        return cli_usage(BACKUP_USAGE, 0);
    tt_ledger *l;
    tt_error err;
    if (tt_ledger_open(argv[1], TT_LEDGER_RDONLY, &l, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s: %s", argv[1], err.message);
    uint64_t size = 0;
    tt_ledger_head(l, &size, NULL, NULL);
    tt_err rc = tt_ledger_backup(l, argv[2], &err);
    tt_ledger_close(l);
    if (rc != TT_OK)
        return cli_fail(rc == TT_ERR_EXISTS ? EX_USAGE : EX_UNREACHABLE, tt_err_name(err.code),
                        "%s", err.message);
    static const struct {
        const char *name;
        mode_t mode;
    } small[] = {{"log.vkey", 0644}, {"tcmtraced.conf", 0644}, {"log.key", 0600}};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++)
        if (copy_small(argv[1], argv[2], small[i].name, small[i].mode) != 0)
            return cli_fail(EX_UNREACHABLE, "io", "无法复制到备份目录：请检查目录和磁盘空间 / cannot copy %s into %s: %s", small[i].name,
                            argv[2], strerror(errno));
    /* what the copy holds, read back from the copy */
    uint64_t copied = 0;
    if (tt_ledger_open(argv[2], TT_LEDGER_RDONLY, &l, &err) != TT_OK)
        return cli_fail(EX_UNVERIFIED, tt_err_name(err.code), "备份副本打不开，备份没有成功 / the copy does not open: %s",
                        err.message);
    tt_ledger_head(l, &copied, NULL, NULL);
    tt_ledger_close(l);
    if (c->json)
        printf("{\"ok\":true,\"entries\":%llu}\n", (unsigned long long)copied);
    else
        printf("已备份 / backed up: %llu 条 into %s (check it: tcmtrace audit %s)\n",
               (unsigned long long)copied, argv[2], argv[2]);
    return copied >= size ? EX_DONE
                          : cli_fail(EX_UNVERIFIED, "audit",
                                     "备份副本的记录比账本少，备份没有成功 / the copy holds fewer entries than the ledger had");
}

/* ---- rebuild ------------------------------------------------------------------------------ */

static const char REBUILD_USAGE[] =
    "usage: tcmtrace rebuild DIR\n"
    "Rebuilds the derived state of the ledger in DIR (batches, actors, their indexes) from\n"
    "its entries, with the daemon stopped: what to do when tcmtraced refuses to start\n"
    "because the derived state does not match its digest. The entries are not touched.\n";

static void rebuild_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fmt_progress("重建 rebuilding", done, total);
}

int cmd_rebuild(cli *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return fputs(REBUILD_USAGE, stdout), EX_DONE;
    if (argc != 2)
        return cli_usage(REBUILD_USAGE, 0);
    tt_ledger *l;
    tt_error err;
    if (tt_ledger_open(argv[1], 0, &l, &err) != TT_OK)
        return cli_fail(EX_UNREACHABLE, tt_err_name(err.code), "%s: %s%s", argv[1], err.message,
                        err.code == TT_ERR_BUSY ? " (stop tcmtraced first)" : "");
    uint64_t size = 0;
    tt_ledger_head(l, &size, NULL, NULL);
    tt_err rc = tt_state_rebuild(l, c->json ? NULL : rebuild_progress, NULL, &err);
    if (rc == TT_OK)
        rc = tt_state_check(l, &err);
    tt_ledger_close(l);
    if (rc != TT_OK)
        return cli_fail(EX_UNVERIFIED, tt_err_name(err.code), "%s", err.message);
    if (c->json)
        printf("{\"ok\":true,\"entries\":%llu}\n", (unsigned long long)size);
    else
        printf("已重建 / rebuilt: the derived state of %llu entries, checked against its digest\n",
               (unsigned long long)size);
    return EX_DONE;
}
