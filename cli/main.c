/*
 * main.c: tcmtrace — git-style subcommands dispatched from a table.
 *
 * Global options may stand anywhere on the line and are taken out before
 * the subcommand sees its arguments.
 */
#define _GNU_SOURCE
#include <nanomsg/nn.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const command commands[] = {
    {"key", cmd_key, "make or show a key pair (key new FILE, key show FILE)"},
    {"actor", cmd_actor, "enroll, revoke, rotate or show an actor"},
    {"herbs", cmd_herbs, "publish a herb dictionary edition (authority)"},
    {"limits", cmd_limits, "publish a limits table (authority)"},
    {"witnesses", cmd_witnesses, "the witness policy: publish one (authority), or each witness's lag"},
    {"register", cmd_register, "register a new batch at its origin"},
    {"transfer", cmd_transfer, "send a batch (or part of it) to another actor"},
    {"receive", cmd_receive, "confirm receipt of a batch sent to you"},
    {"reject", cmd_reject, "refuse a batch sent to you"},
    {"cancel", cmd_cancel, "take back a transfer still in transit"},
    {"split", cmd_split, "split a batch into children"},
    {"process", cmd_process, "process batches into one output (e.g. 饮片)"},
    {"inspect", cmd_inspect, "record measured values; the verdict is computed"},
    {"hold", cmd_hold, "quarantine a batch"},
    {"release", cmd_release, "lift a hold"},
    {"review", cmd_review, "clear a lot's scan signals, with a reason (market office)"},
    {"recall", cmd_recall, "recall a batch and every descendant"},
    {"sell", cmd_sell, "record a retail sale"},
    {"buyer-check", cmd_buyer_check, "open a sale's buyer commitment"},
    {"destroy", cmd_destroy, "dispose of what remains of a batch"},
    {"show", cmd_show, "the state of a batch"},
    {"stock", cmd_stock, "the lots an actor holds, and those in transit to and from it"},
    {"search", cmd_search, "lots by herb, origin, holder, state and harvest date"},
    {"trace", cmd_trace, "the lineage of a batch, up to origins and down to sales"},
    {"log", cmd_log, "the latest entries of the ledger"},
    {"export", cmd_export, "the ledger's entries as GS1 EPCIS 2.0, CSV or JSON"},
    {"checkpoint", cmd_checkpoint, "the latest signed checkpoint, verified"},
    {"proof", cmd_proof, "the inclusion proof of an entry, verified"},
    {"verify", cmd_verify, "prove every entry of a batch's trace against a checkpoint"},
    {"audit", cmd_audit, "full offline audit of a ledger directory"},
    {"rebuild", cmd_rebuild, "rebuild the derived state from the entries (daemon stopped)"},
    {"backup", cmd_backup, "a consistent copy of a ledger while the daemon writes"},
    {"tiles", cmd_tiles, "export the log as C2SP tlog-tiles files for a static server"},
    {"label", cmd_label, "print QR labels (PNG, SVG or terminal)"},
    {"scan", cmd_scan, "read a label from a photo and check it"},
    {"agent", cmd_agent, "hold opened keys for a set time, as ssh-agent does"},
    {"status", cmd_status, "the daemon's status"},
    {"watch", cmd_watch, "follow entries and checkpoints as they are committed"},
    {"api", cmd_api, "send one raw API request"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tcmtrace [--dir DIR | --connect ADDR] [--key FILE] [--passphrase-file F]\n"
                 "                [--log-key VKEY|FILE] [--json] [--timeout MS] COMMAND [ARGS]\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n'tcmtrace COMMAND --help' tells more. Environment: TCMTRACE_DIR, TCMTRACE_KEY,\n"
            "TCMTRACE_PASSPHRASE, TCMTRACE_LOG_KEY. Quantities: 500kg, 1.5kg, 20g, 2t, 10斤.\n"
            "Exit codes: 0 done, 1 refused, 2 usage, 3 unreachable, 4 not verified, 5 not for sale.\n");
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return EX_UNREACHABLE;
    cli c = {.dir = getenv("TCMTRACE_DIR"), .timeout_ms = 30000, .sock = -1};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--json") == 0)
            c.json = 1;
        else if (strcmp(a, "--dir") == 0 && has)
            c.dir = argv[++i];
        else if (strcmp(a, "--connect") == 0 && has)
            c.connect = argv[++i];
        else if (strcmp(a, "--key") == 0 && has)
            c.key = argv[++i];
        else if (strcmp(a, "--passphrase-file") == 0 && has)
            c.pass_file = argv[++i];
        else if (strcmp(a, "--log-key") == 0 && has)
            c.log_key = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && has)
            c.timeout_ms = atoi(argv[++i]);
        else
            rest[n++] = argv[i];
    }
    char *absdir = c.dir ? realpath(c.dir, NULL) : NULL; /* ipc:// wants a stable path */
    if (absdir)
        c.dir = absdir;
    int ex = EX_USAGE;
    if (n < 2 || strcmp(rest[1], "--help") == 0 || strcmp(rest[1], "-h") == 0 ||
        strcmp(rest[1], "help") == 0) {
        usage(n < 2 ? stderr : stdout);
        ex = n < 2 ? EX_USAGE : EX_DONE;
    } else if (strcmp(rest[1], "--version") == 0) {
        printf("tcmtrace %s\n", TT_VERSION);
        ex = EX_DONE;
    } else {
        size_t i = 0;
        while (i < sizeof commands / sizeof *commands && strcmp(commands[i].name, rest[1]) != 0)
            i++;
        if (i == sizeof commands / sizeof *commands) {
            fprintf(stderr,
                    "tcmtrace: 没有“%s”这个命令，下面是全部命令 / usage: unknown command \"%s\"\n\n",
                    rest[1], rest[1]);
            usage(stderr);
        } else {
            ex = commands[i].fn(&c, n - 1, rest + 1);
        }
    }
    if (c.sock >= 0)
        nn_close(c.sock);
    free(rest);
    free(absdir);
    return ex;
}
