/*
 * audit.c: recompute the ledger from its entries and compare.
 *
 * One read transaction gives a consistent snapshot even while the daemon
 * appends. Entries are read with a cursor in key order; a gap, a decode
 * error or any mismatch stops the walk with the seq named. Stored Merkle
 * hashes are compared as the in-memory builder produces them, so a flipped
 * node is caught at the entry that wrote it. Checkpoints are met in size
 * order as the walk reaches their sizes.
 */
#include "tcmtrace/audit.h"

#include <sodium.h>
#include <string.h>

#include "ledger_internal.h"

typedef struct audit {
    tt_ledger *l;
    MDB_txn *txn;
    tt_audit_report *r;
    const tt_verifier *keys;
    size_t nkeys;
    tt_merkle_builder tree;
    uint8_t prev[TT_HASH_SIZE];
} audit;

static tt_err bad(audit *a, uint64_t seq, tt_err code, const char *what)
{
    a->r->ok = 0;
    a->r->bad_seq = seq;
    a->r->bad_seq_known = 1;
    tt_fail(&a->r->why, code, "entry %llu: %s", (unsigned long long)seq, what);
    return code;
}

static tt_err bad_other(audit *a, tt_err code, const char *what)
{
    a->r->ok = 0;
    a->r->bad_seq_known = 0;
    tt_fail(&a->r->why, code, "%s", what);
    return code;
}

/* The index `db` must map `key` to `seq`. */
static int index_points_to(audit *a, tt_db db, const uint8_t key[TT_HASH_SIZE], uint64_t seq)
{
    MDB_val k = {TT_HASH_SIZE, (void *)key}, v;
    if (mdb_get(a->txn, a->l->dbi[db], &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return tt_get_u64be(v.mv_data) == seq;
}

static int merkle_matches(audit *a, uint64_t seq, const uint8_t leaf[TT_HASH_SIZE])
{
    tt_hash hashes[65];
    size_t n = 0;
    tt_merkle_builder_push(&a->tree, leaf, hashes, &n);
    uint64_t base = tt_merkle_stored_index(0, seq);
    struct tt_txn t = {a->l, a->txn, 0, 0, NULL};
    for (size_t i = 0; i < n; i++) {
        tt_hash stored;
        if (tt_merkle_read_txn(&t, base + i, stored) != TT_OK ||
            memcmp(stored, hashes[i], TT_HASH_SIZE) != 0)
            return 0;
    }
    return 1;
}

static tt_err check_entry(audit *a, uint64_t seq, MDB_val *k, MDB_val *v, tt_audit_entry_fn extra,
                          void *extra_ctx)
{
    tt_entry e;
    tt_error derr;
    uint8_t hash[TT_HASH_SIZE], body_hash[TT_HASH_SIZE];
    if (k->mv_size != 8 || tt_get_u64be(k->mv_data) != seq)
        return bad(a, seq, TT_ERR_BAD_SEQ, "missing: the entries skip this number");
    tt_bytes bytes = {v->mv_size, v->mv_data};
    if (tt_entry_decode(bytes, &e, &derr) != TT_OK)
        return bad(a, seq, TT_ERR_MALFORMED, derr.message);
    if (e.seq != seq)
        return bad(a, seq, TT_ERR_BAD_SEQ, "its seq field names another entry");
    if (memcmp(e.prev, a->prev, TT_HASH_SIZE) != 0)
        return bad(a, seq, TT_ERR_BAD_CHAIN, "its prev is not the hash of the entry before it");
    if (tt_event_verify(e.body, e.actor, e.sig) != TT_OK)
        return bad(a, seq, TT_ERR_BAD_SIGNATURE, "its signature does not verify");
    tt_entry_hash(bytes, hash);
    if (!index_points_to(a, TT_DB_HASHES, hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the hash index does not point to it");
    crypto_hash_sha256(body_hash, e.body.data, e.body.size);
    if (!index_points_to(a, TT_DB_BODIES, body_hash, seq))
        return bad(a, seq, TT_ERR_AUDIT, "the body index does not point to it");
    if (!merkle_matches(a, seq, hash))
        return bad(a, seq, TT_ERR_BAD_PROOF, "a stored Merkle hash it wrote is wrong");
    if (extra && extra(extra_ctx, &e, &derr) != TT_OK)
        return bad(a, seq, derr.code, derr.message);
    memcpy(a->prev, hash, TT_HASH_SIZE);
    return TT_OK;
}

/* Verifies the checkpoint stored under `size` against the current root. */
static tt_err check_checkpoint(audit *a, MDB_val *k, MDB_val *v)
{
    uint64_t size = tt_get_u64be(k->mv_data);
    tt_checkpoint cp;
    tt_error cerr;
    char msg[320];
    tt_bytes note = {v->mv_size, v->mv_data};
    tt_err rc;
    if (a->nkeys > 0) {
        rc = tt_checkpoint_open(note, a->keys, a->nkeys, &cp, &cerr);
    } else {
        size_t text_len = note.size;
        const uint8_t *sep = NULL;
        for (size_t i = note.size; i-- > 1;)
            if (note.data[i] == '\n' && note.data[i - 1] == '\n') {
                sep = note.data + i;
                break;
            }
        text_len = sep ? (size_t)(sep - note.data) : note.size;
        rc = tt_checkpoint_parse((tt_bytes){text_len, note.data}, &cp, &cerr);
    }
    if (rc != TT_OK) {
        snprintf(msg, sizeof msg, "checkpoint at size %llu: %.200s", (unsigned long long)size,
                 cerr.message);
        return size ? bad(a, size - 1, rc, msg) : bad_other(a, rc, msg);
    }
    uint8_t root[TT_HASH_SIZE];
    tt_merkle_builder_root(&a->tree, root);
    if (cp.size != size || memcmp(root, cp.root, TT_HASH_SIZE) != 0) {
        snprintf(msg, sizeof msg,
                 "the signed checkpoint of size %llu does not commit to these entries",
                 (unsigned long long)size);
        return size ? bad(a, size - 1, TT_ERR_BAD_PROOF, msg) : bad_other(a, TT_ERR_BAD_PROOF, msg);
    }
    if (a->nkeys > 0)
        a->r->checkpoints++;
    a->r->latest_checkpoint = size;
    return TT_OK;
}

/* Checks every checkpoint whose size is the current tree size. */
static tt_err checkpoints_at(audit *a, MDB_cursor *cps, MDB_val *ck, MDB_val *cv, int *more)
{
    while (*more && ck->mv_size == 8 && tt_get_u64be(ck->mv_data) == a->tree.size) {
        tt_err rc = check_checkpoint(a, ck, cv);
        if (rc != TT_OK)
            return rc;
        *more = mdb_cursor_get(cps, ck, cv, MDB_NEXT) == 0;
    }
    return TT_OK;
}

static tt_err check_totals(audit *a, uint64_t size, const uint8_t *last)
{
    MDB_stat st;
    MDB_val k = {4, "head"}, v;
    mdb_stat(a->txn, a->l->dbi[TT_DB_HASHES], &st);
    if (st.ms_entries != size)
        return bad_other(a, TT_ERR_AUDIT, "the hash index holds entries that are not in the log");
    mdb_stat(a->txn, a->l->dbi[TT_DB_BODIES], &st);
    if (st.ms_entries != size)
        return bad_other(a, TT_ERR_AUDIT, "the body index holds entries that are not in the log");
    mdb_stat(a->txn, a->l->dbi[TT_DB_MERKLE], &st);
    if (st.ms_entries != tt_merkle_stored_count(size))
        return bad_other(a, TT_ERR_AUDIT, "the Merkle store holds hashes no entry wrote");
    int rc = mdb_get(a->txn, a->l->dbi[TT_DB_META], &k, &v);
    if (size == 0 && rc == MDB_NOTFOUND)
        return TT_OK;
    if (rc != 0 || v.mv_size != 8 + TT_HASH_SIZE + 8 || tt_get_u64be(v.mv_data) != size ||
        memcmp((uint8_t *)v.mv_data + 8, last, TT_HASH_SIZE) != 0)
        return bad_other(a, TT_ERR_AUDIT, "the head record does not name the last entry");
    return TT_OK;
}

static tt_err walk(audit *a, MDB_cursor *ents, MDB_cursor *cps, tt_audit_entry_fn extra,
                   void *extra_ctx, tt_progress_fn progress, void *pctx)
{
    MDB_val k, v, ck, cv;
    int more = mdb_cursor_get(cps, &ck, &cv, MDB_FIRST) == 0;
    tt_err rc = checkpoints_at(a, cps, &ck, &cv, &more);
    uint64_t seq = 0;
    for (int mrc = mdb_cursor_get(ents, &k, &v, MDB_FIRST); rc == TT_OK && mrc == 0;
         mrc = mdb_cursor_get(ents, &k, &v, MDB_NEXT), seq++) {
        rc = check_entry(a, seq, &k, &v, extra, extra_ctx);
        if (rc == TT_OK)
            rc = checkpoints_at(a, cps, &ck, &cv, &more);
        a->r->checked = seq + (rc == TT_OK);
        if (progress && (seq & 4095) == 0)
            progress(pctx, seq, a->r->entries);
    }
    if (rc != TT_OK)
        return rc;
    if (seq != a->r->entries)
        return bad_other(a, TT_ERR_AUDIT, "the entry count does not match the entries");
    if (more)
        return bad_other(a, TT_ERR_AUDIT, "a checkpoint names a size the log never had");
    if (progress)
        progress(pctx, seq, a->r->entries);
    return check_totals(a, seq, a->prev);
}

tt_err tt_audit(tt_ledger *l, const tt_verifier *keys, size_t nkeys, tt_audit_entry_fn extra,
                void *extra_ctx, tt_progress_fn progress, void *progress_ctx, tt_audit_report *r,
                tt_error *err)
{
    memset(r, 0, sizeof *r);
    audit a = {.l = l, .r = r, .keys = keys, .nkeys = nkeys};
    tt_merkle_builder_init(&a.tree);
    tt_err rc = tt_rtxn_begin(l, &a.txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_cursor *ents = NULL, *cps = NULL;
    MDB_stat st;
    int mrc = mdb_cursor_open(a.txn, l->dbi[TT_DB_ENTRIES], &ents);
    if (mrc == 0)
        mrc = mdb_cursor_open(a.txn, l->dbi[TT_DB_CHECKPOINTS], &cps);
    if (mrc == 0)
        mrc = mdb_stat(a.txn, l->dbi[TT_DB_ENTRIES], &st);
    if (mrc != 0) {
        rc = tt_mdb_fail(err, mrc, "cannot read the ledger for audit");
        goto out;
    }
    r->entries = st.ms_entries;
    r->ok = 1;
    walk(&a, ents, cps, extra, extra_ctx, progress, progress_ctx);
    tt_merkle_builder_root(&a.tree, r->root);
    if (r->ok && nkeys > 0 && r->checkpoints == 0)
        bad_other(&a, TT_ERR_UNKNOWN_KEY, "no signed checkpoint was found to verify");
out:
    if (cps)
        mdb_cursor_close(cps);
    if (ents)
        mdb_cursor_close(ents);
    tt_rtxn_end(l, a.txn);
    return rc;
}
