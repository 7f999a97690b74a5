/*
 * fill-ledger: a test helper. Creates a ledger in DIR as tcmtraced init would
 * (genesis with a base URL, limits table, herb dictionary, an enrolled
 * grower) with an unsealed log key, then appends registrations until it holds
 * N entries, many to a transaction, each commit with its signed checkpoint.
 * Writes DIR/log.vkey. The tiles and web tests read what it makes.
 *
 *   fill-ledger DIR N BASE-URL
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/tcmtrace.h"
#include "tcmtrace/util.h"

#define ORIGIN "tcmtrace.test/tiles"

static tt_ledger *L;

static void append(const tt_keypair *kp, char **bodies, size_t n)
{
    tt_append *items = calloc(n, sizeof *items);
    uint8_t(*sigs)[64] = calloc(n, 64);
    tt_error err;
    for (size_t i = 0; i < n; i++) {
        tt_event_sign(ORIGIN, tt_bytes_str(bodies[i]), kp->sk, sigs[i]);
        items[i] = (tt_append){.actor = kp->pk, .sig = sigs[i], .body = tt_bytes_str(bodies[i])};
    }
    if (tt_ledger_append(L, items, n, tt_now_ms(), tt_rules_apply, NULL, &err) != TT_OK) {
        fprintf(stderr, "fill-ledger: %s\n", err.message);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].result.code != TT_OK) {
            fprintf(stderr, "fill-ledger: refused: %s\n", items[i].result.message);
            exit(1);
        }
        free(bodies[i]);
    }
    free(items);
    free(sigs);
}

static void one(const tt_keypair *kp, char *body)
{
    append(kp, &body, 1);
}

int main(int argc, char **argv)
{
    if (argc != 4 || sodium_init() < 0)
        return fprintf(stderr, "usage: fill-ledger DIR N BASE-URL\n"), 2;
    const char *dir = argv[1], *base = argv[3];
    size_t want = strtoull(argv[2], NULL, 10);
    tt_keypair auth, logk, grower;
    tt_error err;
    tt_keypair_generate(&auth);
    tt_keypair_generate(&logk);
    tt_keypair_generate(&grower);
    if (tt_ledger_open(dir, TT_LEDGER_CREATE | TT_LEDGER_NOSYNC, &L, &err) != TT_OK)
        return fprintf(stderr, "fill-ledger: %s\n", err.message), 1;
    char vkey[TT_VKEY_MAX + 1], pk[64], path[4096];
    tt_verifier v;
    tt_verifier_init(&v, ORIGIN, logk.pk, NULL);
    tt_verifier_format(&v, vkey, sizeof vkey);
    tt_ledger_set_signer(L, ORIGIN, &logk, NULL);
    tt_ledger_meta_put(L, "origin", ORIGIN, strlen(ORIGIN), NULL);
    tt_ledger_meta_put(L, "log_vkey", vkey, strlen(vkey), NULL);
    snprintf(path, sizeof path, "%s/log.key", dir);
    tt_key_save_secret(path, &logk, NULL, 0, TT_KDF_INTERACTIVE, NULL);
    snprintf(path, sizeof path, "%s/log.vkey", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", vkey);
    fclose(f);
    tt_b64((tt_bytes){32, auth.pk}, pk);
    one(&auth,
        tt_event_build("ledger.genesis",
                       json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s}", "origin", ORIGIN,
                                 "log_key", vkey, "market", "解放路", "authorities", "id", "MKT",
                                 "name", "市场管理处", "key", pk, "base_url", base)));
    char *lp = tt_shipped_path("limits/chp2020.json"),
         *hp = tt_shipped_path("herbs/chp2020-herbs.json");
    json_t *table = json_load_file(lp, 0, NULL), *doc = json_load_file(hp, 0, NULL), *evs, *e;
    free(lp);
    free(hp);
    if (table == NULL || doc == NULL || tt_herbs_events(doc, &evs, &err) != TT_OK)
        return fprintf(stderr, "fill-ledger: cannot read the shipped limits or herbs\n"), 1;
    json_object_del(table, "edition");
    one(&auth, tt_event_build("ledger.limits",
                              json_pack("{s:s, s:o}", "edition", "ChP 2020", "table", table)));
    size_t i;
    json_array_foreach(evs, i, e) one(&auth, tt_event_build("ledger.herbs", json_incref(e)));
    json_decref(evs);
    json_decref(doc);
    tt_b64((tt_bytes){32, grower.pk}, pk);
    one(&auth,
        tt_event_build("actor.enroll", json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "id", "G-0001",
                                                 "key", pk, "name", "马建国", "org", "岷县合作社",
                                                 "licence", "L-1", "roles", "grower")));
    uint64_t size = 0, n = 100000000;
    tt_ledger_head(L, &size, NULL, NULL);
    while (size < want) {
        size_t k = want - size > 2000 ? 2000 : (size_t)(want - size);
        char **bodies = calloc(k, sizeof *bodies);
        for (size_t j = 0; j < k; j++) {
            char code[TT_CODE_LEN + 1];
            snprintf(code, sizeof code, "261122%09llu", (unsigned long long)n++);
            code[15] = (char)('0' + tt_damm(code, 15));
            code[16] = '\0';
            bodies[j] = tt_event_build(
                "batch.register",
                json_pack(
                    "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:I}",
                    "id", code, "herb", "name_zh", "当归", "latin", "Angelica sinensis", "part",
                    "根", "origin", "province", "甘肃省", "city", "定西市", "county", "岷县",
                    "base", "梅川镇", "daodi", 1, "harvest_date", "2026-10-12", "grade", "一等",
                    "processing", "晒干", "qty_g", (json_int_t)(1000 + j)));
        }
        append(&grower, bodies, k);
        free(bodies);
        size += k;
    }
    tt_ledger_close(L);
    printf("%llu\n", (unsigned long long)size);
    return 0;
}
