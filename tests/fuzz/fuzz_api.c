/*
 * libFuzzer: API requests, through the daemon's own request handling, on a
 * real ledger made once in a temporary directory (reads and the submit
 * check; the writer is not run).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/daemon.h"

static server srv;

static void setup(void)
{
    char tmpl[] = "/tmp/tcmtrace-fuzz-XXXXXX";
    char *dir = mkdtemp(tmpl);
    tt_keypair log;
    tt_keypair_generate(&log);
    tt_ledger_open(dir, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &srv.ledger, NULL);
    tt_ledger_set_signer(srv.ledger, "fuzz.example/log", &log, NULL);
    snprintf(srv.ops.origin, sizeof srv.ops.origin, "fuzz.example/log");
    srv.ops.ledger = srv.ledger;
    srv.cfg.quiet = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv.ledger == NULL)
        setup();
    json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(req) || !json_is_string(json_object_get(req, "op"))) {
        json_decref(req);
        return 0;
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    json_t *resp = NULL;
    if (strcmp(op, "submit") == 0) {
        job j = {.req = req};
        tt_error err;
        api_check_submit(&srv.cfg, &j, &err);
        tt_event_free(&j.ev); /* parsed even when its time is refused */
        free(j.body);
        free(j.stored);
    } else if (strcmp(op, "scan") != 0) { /* scan writes; the writer is not under test here */
        resp = tt_api_read(&srv.ops, req);
    }
    json_decref(resp);
    json_decref(req);
    return 0;
}
