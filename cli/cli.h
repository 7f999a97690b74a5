/*
 * cli.h: the command-line tool's shared state, client and formatting.
 *
 * Exit codes (also in README and `tcmtrace --help`):
 *   0  done
 *   1  refused: the daemon (or the ledger) said no, or the object is unknown
 *   2  usage: the command line or an input file is wrong; nothing was sent
 *   3  unreachable: no daemon, or a local file or key could not be used
 *   4  not verified: a proof, signature, checkpoint or audit does not hold
 *   5  not for sale: what was shown is proved, but the lot may not be sold or used
 *      (held, recalled, destroyed, used up, in transit)
 */
#ifndef TCMTRACE_CLI_H
#define TCMTRACE_CLI_H

#include <jansson.h>
#include <stdint.h>

#include "tcmtrace/tcmtrace.h"
#include "tcmtrace/statemap.h"

enum { EX_DONE = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3, EX_UNVERIFIED = 4, EX_NOT_SALEABLE = 5 };

typedef struct cli {
    const char *dir;       /* ledger directory: ipc://DIR/api.sock */
    const char *connect;   /* or an explicit nanomsg address */
    const char *key;       /* the user's secret key file */
    const char *pass_file; /* its passphrase */
    const char *log_key;   /* the log verifier key the user trusts (string or file) */
    int json;              /* print JSON for scripts */
    int timeout_ms;
    int sock;
    int no_agent; /* load keys from their files even when an agent holds them */
} cli;

typedef struct command {
    const char *name;
    int (*fn)(cli *c, int argc, char **argv);
    const char *summary;
} command;

/* client.c */
int cli_connect(cli *c);
/* Whether a daemon listens on the ipc socket at path. */
int cli_ipc_listening(const char *path);
/* Sends `req` (stolen); *resp is the answer. Returns an exit code. */
int cli_call(cli *c, json_t *req, json_t **resp);
/* Like cli_call, but prints the daemon's error and returns EX_REFUSED. */
int cli_request(cli *c, json_t *req, json_t **resp);
/* Builds, signs and submits an event with the user's key; prints errors. */
int cli_submit(cli *c, const char *type, json_t *fields, json_t **resp);
/*
 * Like cli_submit, for an event that creates batches under codes[0..ncodes)
 * made here (tt_code_new), each a string somewhere in `fields`. If the
 * daemon finds one taken already (duplicate_id), all of them are made afresh
 * in fields and in codes and the event is signed and sent again, up to
 * CLI_NEW_CODE_TRIES times in all.
 */
#define CLI_NEW_CODE_TRIES 5
/* The origin of the ledger the CLI talks to (asked once a run): what events and scans name. */
int cli_ledger_origin(cli *c, const char **origin);
int cli_submit_new(cli *c, const char *type, json_t *fields, char (*codes)[TT_CODE_LEN + 1],
                   size_t ncodes, json_t **resp);
/* Loads the user's key (--key / TCMTRACE_KEY). When a running agent holds it,
 * only kp->pk is set and kp->sk is zero: cli_sign asks the agent. */
int cli_load_key(cli *c, tt_keypair *kp);
/* Signs prefix || body with kp (or through the agent that holds it). */
int cli_sign(cli *c, const tt_keypair *kp, const char *prefix, tt_bytes body, uint8_t sig[64]);

/* agent.c */
int cli_agent_path(char *out, size_t cap);
int cli_agent_has(const uint8_t pk[32]);
int cli_agent_sign(const uint8_t pk[32], const uint8_t *msg, size_t len, uint8_t sig[64]);
int cmd_agent(cli *c, int argc, char **argv);
/* The trusted log verifier key: --log-key, TCMTRACE_LOG_KEY or DIR/log.vkey. */
int cli_log_verifier(cli *c, tt_verifier *v);
/* The event type being submitted (NULL: none), for cli_fail's own sentences (cli/say.c). */
void cli_submitting(const char *type);
/* A command line that is wrong: a Chinese sentence, then the command's usage text, on stderr
 * (EX_USAGE); with help, the usage text alone on stdout (EX_DONE). */
int cli_usage(const char *text, int help);
/* Names a word of the command line that is not understood (before cli_usage). */
void cli_unknown_arg(const char *arg);
/* getopt_long without its English complaint: an unknown option or a missing value is said in
 * Chinese and English (naming it), and '?' returned. */
struct option;
int cli_getopt(int argc, char **argv, const struct option *o);
/* Prints an error line "tcmtrace: CODE: message" and returns `ex`. */
int cli_fail(int ex, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* fmt.c */
int fmt_width(const char *utf8);
void fmt_kv(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fmt_pad(const char *s, int width);
/* A table printed in columns as wide as their widest cell (display width: a Chinese
 * character is two columns), two spaces apart. Cells are copied. */
typedef struct fmt_table {
    size_t cols, n, cap;
    char **cells;
    unsigned char *marked; /* a row whose first cell began with "✗ " */
} fmt_table;
void fmt_table_init(fmt_table *t, size_t cols);
/* Appends one row of t->cols cells (NULL prints nothing). */
void fmt_table_row(fmt_table *t, ...);
/* Prints every row, each line starting with indent (the first row's cell 0 may begin with a
 * two-column mark such as "✗ " in place of the indent), and frees the table. */
void fmt_table_print(fmt_table *t, const char *indent);
void fmt_table_free(fmt_table *t);
/* A role as people say it: "经营户 trader" */
const char *fmt_role(const char *role);
const char *fmt_qty(int64_t grams, char buf[48]);
int fmt_parse_qty(const char *s, int64_t *grams);
/* A quantity in both the units people use: "200 斤（100 kg）" when it was typed in 斤
 * ("3 两（150 g）" in 两, 钱 likewise), else "100 kg（200 斤）"; kg alone when it is not a
 * whole 两. */
const char *fmt_qty_both(int64_t grams, const char *typed, char buf[96]);
const char *fmt_time(uint64_t ms, char buf[32]);
const char *fmt_status(const char *status);
const char *fmt_type(const char *type);
const char *fmt_code(const char *code, char buf[TT_CODE_PRETTY + 1]);
void fmt_json(json_t *j);
/* "不合格 FAIL", "合格 PASS", "无适用限量 no limit" for a verdict. */
const char *fmt_verdict(const char *verdict);
/* An inspection: who, which lab, the verdict, then every measured value
 * with its limit, its own verdict and the limit's status. */
void fmt_inspection(json_t *inspection, const char *indent);
/* Why a lot may not be sold: a stable code ("held", "recalled", "destroyed", "depleted",
 * "in_transit", "bad_state") and a sentence in Chinese and in English. */
typedef struct fmt_sale {
    const char *code;
    char zh[512], en[512];
} fmt_sale;
/* NULL when the lot (a batch record, trace node or list row) may be sold, else why->code. */
const char *fmt_not_saleable(json_t *batch, fmt_sale *why);
/* The verdict for people (out NULL: printed first, ✓ or ✗) or for scripts (set in out as
 * "saleable" and "not_saleable"); returns EX_DONE or EX_NOT_SALEABLE. */
int fmt_sale_line(json_t *batch, json_t *out);
/* A progress bar on stderr when it is a terminal. */
void fmt_progress(const char *what, uint64_t done, uint64_t total);

/* commands */
int cmd_key(cli *c, int argc, char **argv);
int cmd_actor(cli *c, int argc, char **argv);
int cmd_register(cli *c, int argc, char **argv);
int cmd_transfer(cli *c, int argc, char **argv);
int cmd_receive(cli *c, int argc, char **argv);
int cmd_reject(cli *c, int argc, char **argv);
int cmd_split(cli *c, int argc, char **argv);
int cmd_process(cli *c, int argc, char **argv);
int cmd_inspect(cli *c, int argc, char **argv);
int cmd_hold(cli *c, int argc, char **argv);
int cmd_cancel(cli *c, int argc, char **argv);
int cmd_tiles(cli *c, int argc, char **argv);
int cmd_backup(cli *c, int argc, char **argv);
int cmd_rebuild(cli *c, int argc, char **argv);
int cmd_herbs(cli *c, int argc, char **argv);
int cmd_limits(cli *c, int argc, char **argv);
int cmd_witnesses(cli *c, int argc, char **argv);
int cmd_buyer_check(cli *c, int argc, char **argv);
int cmd_release(cli *c, int argc, char **argv);
int cmd_recall(cli *c, int argc, char **argv);
int cmd_sell(cli *c, int argc, char **argv);
int cmd_destroy(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_trace(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_stock(cli *c, int argc, char **argv);
int cmd_search(cli *c, int argc, char **argv);
int actor_list(cli *c, int argc, char **argv);
int cmd_checkpoint(cli *c, int argc, char **argv);
int cmd_proof(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_watch(cli *c, int argc, char **argv);
int cmd_api(cli *c, int argc, char **argv);
int cmd_label(cli *c, int argc, char **argv);
int cmd_scan(cli *c, int argc, char **argv);
int cmd_review(cli *c, int argc, char **argv);
/* Every item of a paged list answer (key) to `req` (consumed), up to max; *more when cut. */
int cli_fetch_all(cli *c, json_t *req, const char *key, size_t max, json_t **all, int *more);
/* Verifies every entry of a batch's trace against the latest trusted checkpoint. */
int verify_trace(cli *c, const char *code, size_t *entries, tt_checkpoint *cp);

/* What verify_lot proved of a lot: its state leaf (and how many lots of its lineage had theirs
 * proved, the first held or recalled ancestor), and its first entry (the one a label's
 * registration hash names): its seq, hash and body. */
typedef struct cli_proved_lot {
    size_t lots;
    tt_state_leaf leaf;
    char held_by[TT_CODE_LEN + 1], held_status[25];
    uint64_t first_seq;
    uint8_t first_hash[32];
    json_t *first_body; /* a reference of its own: json_decref it */
} cli_proved_lot;

/* verify_trace, then the state of the lot and its ancestors proved under the same checkpoint
 * (each leaf's last entry one the trace showed), then the lot's first entry proved and decoded.
 * EX_DONE, or the exit code of the first check that failed (said already). */
int verify_lot(cli *c, const char *code, size_t *entries, tt_checkpoint *cp, cli_proved_lot *out);

#endif
