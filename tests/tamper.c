/*
 * tamper: a test helper. Changes what remains of batch CODE in the ledger in
 * DIR straight in LMDB, behind the rules' back (as a damaged disk or a
 * dishonest operator with the files would), so that the tests can show the
 * daemon refuses to serve or sign from it.
 *
 *   tamper DIR CODE GRAMS
 *   tamper DIR --old-layout    (the ledger as an older tcmtraced left it: no layout record,
 *                               and the digest moved to match, so only the layout tells)
 *   tamper DIR --body FROM TO  (every entry whose signed body holds the text FROM gets TO
 *                               instead, same length, and is stored back in its stored form,
 *                               as one who had the files and this program would)
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/store/ledger_internal.h"

int main(int argc, char **argv)
{
    tt_ledger *l;
    if (argc == 3 && strcmp(argv[2], "--old-layout") == 0) {
        MDB_txn *txn;
        MDB_val k = {6, "layout"}, v, dk = {7, "derived"}, dv;
        uint8_t d[TT_DIGEST_SIZE];
        if (tt_ledger_open(argv[1], 0, &l, NULL) != TT_OK || mdb_txn_begin(l->env, NULL, 0, &txn) != 0 ||
            mdb_get(txn, l->dbi[TT_DB_STATE], &k, &v) != 0 ||
            mdb_get(txn, l->dbi[TT_DB_META], &dk, &dv) != 0 || dv.mv_size != sizeof d)
            return fprintf(stderr, "tamper: no layout record in %s\n", argv[1]), 1;
        memcpy(d, dv.mv_data, sizeof d);
        tt_digest_move(d, -1, TT_DB_STATE, &k, &v);
        /* and no children index: the links lived in the records then */
        MDB_cursor *cur;
        MDB_val ck, cv;
        if (mdb_cursor_open(txn, l->dbi[TT_DB_CHILDREN], &cur) == 0) {
            for (int m = mdb_cursor_get(cur, &ck, &cv, MDB_FIRST); m == 0;
                 m = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT))
                tt_digest_move(d, -1, TT_DB_CHILDREN, &ck, &cv);
            mdb_cursor_close(cur);
        }
        MDB_val nd = {sizeof d, d};
        int rc = mdb_del(txn, l->dbi[TT_DB_STATE], &k, NULL) ||
                 mdb_drop(txn, l->dbi[TT_DB_CHILDREN], 1) ||
                 mdb_put(txn, l->dbi[TT_DB_META], &dk, &nd, 0) || mdb_txn_commit(txn);
        tt_ledger_close(l);
        return rc ? 1 : 0;
    }
    if (argc == 5 && strcmp(argv[2], "--body") == 0) {
        size_t fl = strlen(argv[3]), changed = 0;
        if (fl == 0 || strlen(argv[4]) != fl || tt_ledger_open(argv[1], 0, &l, NULL) != TT_OK)
            return fprintf(stderr, "usage: tamper DIR --body FROM TO (same length)\n"), 2;
        MDB_txn *txn;
        MDB_cursor *cur;
        MDB_val k, v;
        static uint8_t wire[TT_ENTRY_MAX], packed[TT_ENTRY_MAX];
        if (mdb_txn_begin(l->env, NULL, 0, &txn) != 0 ||
            mdb_cursor_open(txn, l->dbi[TT_DB_ENTRIES], &cur) != 0)
            return fprintf(stderr, "tamper: cannot read %s\n", argv[1]), 1;
        for (int m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            size_t len;
            if (tt_stored_unpack((tt_bytes){v.mv_size, v.mv_data}, wire, sizeof wire, &len,
                                 NULL) != TT_OK)
                return fprintf(stderr, "tamper: an entry does not read\n"), 1;
            uint8_t *at = memmem(wire + TT_ENTRY_HEADER_SIZE, len - TT_ENTRY_HEADER_SIZE, argv[3], fl);
            if (at == NULL)
                continue;
            memcpy(at, argv[4], fl);
            size_t n = tt_stored_pack(wire, len, packed, sizeof packed);
            MDB_val nv = {n ? n : len, n ? packed : wire};
            if (mdb_cursor_put(cur, &k, &nv, MDB_CURRENT) != 0)
                return fprintf(stderr, "tamper: cannot write an entry\n"), 1;
            changed++;
        }
        mdb_cursor_close(cur);
        int rc = mdb_txn_commit(txn);
        tt_ledger_close(l);
        printf("%zu entries changed\n", changed);
        return rc || changed == 0 ? 1 : 0;
    }
    if (argc != 4 || tt_ledger_open(argv[1], 0, &l, NULL) != TT_OK)
        return fprintf(stderr, "usage: tamper DIR CODE GRAMS (daemon stopped)\n"), 2;
    MDB_txn *txn;
    MDB_val k = {strlen(argv[2]), argv[2]}, v;
    if (mdb_txn_begin(l->env, NULL, 0, &txn) != 0 ||
        mdb_get(txn, l->dbi[TT_DB_BATCHES], &k, &v) != 0)
        return fprintf(stderr, "tamper: no batch %s\n", argv[2]), 1;
    json_t *b = tt_rec_decode(v.mv_data, v.mv_size);
    json_object_set_new(json_object_get(b, "qty"), "remaining", json_integer(atoll(argv[3])));
    size_t len = 0;
    char *s = tt_rec_encode(b, &len);
    MDB_val nv = {len, s};
    int rc = mdb_put(txn, l->dbi[TT_DB_BATCHES], &k, &nv, 0) || mdb_txn_commit(txn);
    free(s);
    json_decref(b);
    tt_ledger_close(l);
    return rc ? 1 : 0;
}
