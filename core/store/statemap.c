/*
 * statemap.c: the state map in LMDB (statemap.h, smt.h; docs/statemap.md).
 *
 * One database, three kinds of key (the layout of a Jellyfish Merkle tree, binary):
 *   'n' || version || depth || path  -> a node: 0x00 || key || leaf text, or
 *                                      0x01 || left hash || its version || right hash || its version
 *   'h' || size (u64 BE)             -> the root's hash and version at that tree size
 *   'g' || size                      -> the keys of the nodes that left the map at `size`,
 *                                      each after a byte of its length
 * A node is written once, under the version (the commit's tree size) that made it and its
 * place in the tree (its depth and the first `depth` bits of its keys), and never changed:
 * the nodes a commit writes sort after every key there is, and are appended (sorted, with
 * MDB_APPEND) at its end: full pages, a few a commit, not one a node.
 * A commit writes the nodes on the paths of the lots it changed and notes the ones they
 * replace as stale, so every version kept can still be proved; a node that left the map
 * more than TT_STATEMAP_WINDOW entries ago is in no version kept, and goes.
 */
#include "tcmtrace/statemap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/ledger_internal.h"
#include "tcmtrace/sha256.h"
#include "tcmtrace/util.h"

void tt_touched_add(tt_touched *t, const void *code, size_t len)
{
    if (t->failed)
        return;
    if (len != 16) { /* every batch key is a trace code */
        t->failed = 1;
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        tt_touched_lot *nl = realloc(t->lots, cap * sizeof *nl);
        if (nl == NULL) {
            t->failed = 1;
            return;
        }
        t->lots = nl, t->cap = cap;
    }
    tt_touched_lot *x = &t->lots[t->n];
    memcpy(x->code, code, 16);
    x->code[16] = '\0';
    x->vlen = 0;
    x->order = (uint32_t)t->n++;
}

_Static_assert(sizeof ((tt_touched_lot *)0)->value == TT_STATEMAP_VALUE_MAX + 1,
               "a touched lot holds a whole leaf text");

void tt_touched_value(tt_touched *t, const char *code, json_t *rec)
{
    if (t == NULL || t->failed || t->n == 0 || strcmp(t->lots[t->n - 1].code, code) != 0)
        return;
    tt_touched_lot *x = &t->lots[t->n - 1];
    x->vlen = (uint16_t)tt_statemap_value(rec, x->value);
}

void tt_touched_free(tt_touched *t)
{
    free(t->lots);
    memset(t, 0, sizeof *t);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

size_t tt_statemap_value(json_t *rec, char *out)
{
    const char *status = jstr(rec, "status");
    const char *to = strcmp(status, "in_transit") == 0 ? jstr(rec, "pending_to") : "";
    json_t *ins = json_object_get(rec, "inspections");
    const char *verdict = json_array_size(ins)
                              ? jstr(json_array_get(ins, json_array_size(ins) - 1), "verdict")
                              : "none";
    json_int_t rem = json_integer_value(json_object_get(json_object_get(rec, "qty"), "remaining"));
    json_int_t last = json_integer_value(json_object_get(rec, "updated_seq"));
    int n = snprintf(out, TT_STATEMAP_VALUE_MAX + 1,
                     "tcmtrace-state/v1\nstatus %.24s\nholder %.64s\nto %.64s\nremaining_g %lld\n"
                     "verdict %.8s\nlast %lld\n",
                     status[0] ? status : "-", jstr(rec, "holder")[0] ? jstr(rec, "holder") : "-",
                     to[0] ? to : "-", (long long)rem, verdict[0] ? verdict : "none", (long long)last);
    return n > 0 && n <= TT_STATEMAP_VALUE_MAX ? (size_t)n : 0;
}

/* One "name value\n" line of a leaf into out (cap bytes with its NUL). */
static int leaf_line(const char **p, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *e = memchr(*p, '\n', (size_t)(end - *p));
    if (e == NULL || (size_t)(e - *p) <= nl + 1 || memcmp(*p, name, nl) != 0 || (*p)[nl] != ' ')
        return 0;
    size_t vl = (size_t)(e - *p) - nl - 1;
    if (vl >= cap)
        return 0;
    memcpy(out, *p + nl + 1, vl);
    out[vl] = '\0';
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)out[i] <= ' ')
            return 0;
    *p = e + 1;
    return 1;
}

static int decimal(const char *s, int sign_ok, long long *out)
{
    char *end;
    if (!((s[0] >= '0' && s[0] <= '9') || (sign_ok && s[0] == '-')))
        return 0;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

tt_err tt_statemap_leaf_parse(const char *text, size_t len, tt_state_leaf *out, tt_error *err)
{
    const char *p = text, *end = text + len;
    static const char head[] = "tcmtrace-state/v1\n";
    char rem[24], last[24];
    memset(out, 0, sizeof *out);
    if (len < sizeof head - 1 || memcmp(text, head, sizeof head - 1) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "the state leaf does not begin tcmtrace-state/v1");
    p += sizeof head - 1;
    long long v;
    if (!leaf_line(&p, end, "status", out->status, sizeof out->status) ||
        !leaf_line(&p, end, "holder", out->holder, sizeof out->holder) ||
        !leaf_line(&p, end, "to", out->to, sizeof out->to) ||
        !leaf_line(&p, end, "remaining_g", rem, sizeof rem) ||
        !leaf_line(&p, end, "verdict", out->verdict, sizeof out->verdict) ||
        !leaf_line(&p, end, "last", last, sizeof last) || p != end)
        return tt_fail(err, TT_ERR_MALFORMED, "the state leaf's lines are not the six it must have");
    if (!decimal(rem, 1, &out->remaining_g) || !decimal(last, 0, &v))
        return tt_fail(err, TT_ERR_MALFORMED, "the state leaf's numbers are not decimal");
    out->last = (uint64_t)v;
    return TT_OK;
}

/* ---- keys ------------------------------------------------------------------ */

/* A reference to a stored node: its hash and the version (commit size) it was written at;
 * the empty subtree is all zeros. */
typedef struct ref {
    uint8_t h[32];
    uint64_t v;
} ref;

#define NODE_KEY_MAX (1 + 8 + 1 + 32)
/* The kinds of key, in the order they sort: nodes last, so that a commit's nodes (of a
 * version above every other) are appended at the end of the database, in full pages. */
#define GONE_P 'g'
#define ROOT_P 'h'
#define NODE_P 'n'

/* The key of the node written at version v at `depth` on the path of `key` (its first
 * `depth` bits; the bits after them zero): the nodes a commit writes sort together. */
static size_t node_key(uint8_t k[NODE_KEY_MAX], uint64_t v, unsigned depth, const uint8_t *key)
{
    size_t pl = (depth + 7) / 8;
    k[0] = NODE_P;
    tt_put_u64be(k + 1, v);
    k[9] = (uint8_t)depth;
    memcpy(k + 10, key, pl);
    if (depth % 8)
        k[10 + pl - 1] &= (uint8_t)(0xff << (8 - depth % 8));
    return 10 + pl;
}

static void root_key(uint8_t k[9], uint64_t size)
{
    k[0] = ROOT_P;
    tt_put_u64be(k + 1, size);
}

/* The root kept for `size`: 1 found, 0 not, -1 damaged or unreadable. */
static int root_ref(tt_ledger *l, MDB_txn *txn, uint64_t size, ref *out)
{
    if (size == 0) { /* the empty log's map is empty */
        memset(out, 0, sizeof *out);
        return 1;
    }
    if (l->no_statemap)
        return 0;
    uint8_t kb[9];
    root_key(kb, size);
    MDB_val k = {9, kb}, v;
    int rc = mdb_get(txn, l->dbi[TT_DB_STATEMAP], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0 || v.mv_size != 40)
        return -1;
    memcpy(out->h, v.mv_data, 32);
    out->v = tt_get_u64be((const uint8_t *)v.mv_data + 32);
    return 1;
}

int tt_statemap_root_txn(tt_ledger *l, MDB_txn *txn, uint64_t size, uint8_t root[32])
{
    ref r;
    int have = root_ref(l, txn, size, &r);
    if (have == 1)
        memcpy(root, r.h, 32);
    return have;
}

/* ---- the update ------------------------------------------------------------ */

typedef struct upd {
    uint8_t key[32];
    uint8_t leaf[32];
    const char *value;
    size_t vlen;
} upd;

typedef struct mapw {
    struct tt_txn *t;
    uint64_t size; /* the version written */
    tt_error *err;
    uint8_t *nodes; /* the nodes to write: key length, key, value length (u16), value */
    size_t nnodes, capnodes, count;
    uint8_t *stale; /* the keys of the nodes this commit replaced, each after its length byte */
    size_t nstale, capstale;
} mapw;

static int by_key(const void *a, const void *b)
{
    return memcmp(((const upd *)a)->key, ((const upd *)b)->key, 32);
}

static tt_err put(mapw *w, const void *key, size_t kl, const void *val, size_t vl)
{
    MDB_val k = {kl, (void *)key}, v = {vl, (void *)val};
    return tt_txn_put(w->t, TT_DB_STATEMAP, &k, &v, 0, w->err, "state map");
}

/* The node of `r` at `depth` on `key`'s path leaves the map at this version (noted in the
 * commit's one stale record, written with its root). */
static tt_err stale(mapw *w, const ref *r, unsigned depth, const uint8_t *key)
{
    if (w->nstale + 1 + NODE_KEY_MAX > w->capstale) {
        size_t cap = w->capstale ? 2 * w->capstale : 4096;
        uint8_t *ns = realloc(w->stale, cap);
        if (ns == NULL)
            return tt_fail(w->err, TT_ERR_NOMEM, NULL);
        w->stale = ns, w->capstale = cap;
    }
    size_t n = node_key(w->stale + w->nstale + 1, r->v, depth, key);
    w->stale[w->nstale] = (uint8_t)n;
    w->nstale += 1 + n;
    return TT_OK;
}

static tt_err flush_nodes(mapw *w);

/* A node of this commit, kept to be appended with the others in key order (a map built from
 * nothing is written 64 MB at a time). */
static tt_err put_node_rec(mapw *w, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    size_t need = 1 + kl + 2 + vl;
    if (w->nnodes + need > ((size_t)64 << 20)) {
        tt_err rc = flush_nodes(w);
        if (rc != TT_OK)
            return rc;
    }
    if (w->nnodes + need > w->capnodes) {
        size_t cap = w->capnodes ? 2 * w->capnodes : 65536;
        while (cap < w->nnodes + need)
            cap *= 2;
        uint8_t *nb = realloc(w->nodes, cap);
        if (nb == NULL)
            return tt_fail(w->err, TT_ERR_NOMEM, NULL);
        w->nodes = nb, w->capnodes = cap;
    }
    uint8_t *p = w->nodes + w->nnodes;
    p[0] = (uint8_t)kl;
    memcpy(p + 1, k, kl);
    p[1 + kl] = (uint8_t)(vl >> 8);
    p[2 + kl] = (uint8_t)vl;
    memcpy(p + 3 + kl, v, vl);
    w->nnodes += need;
    w->count++;
    return TT_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
    size_t n = x[0] < y[0] ? x[0] : y[0];
    int c = memcmp(x + 1, y + 1, n);
    return c ? c : (int)x[0] - (int)y[0];
}

/* The commit's nodes, in key order, appended at the end of the map (a plain put for one
 * that is not after every key, which a map rebuilt in place would have). */
static tt_err flush_nodes(mapw *w)
{
    if (w->count == 0)
        return TT_OK;
    const uint8_t **recs = malloc(w->count * sizeof *recs);
    if (recs == NULL)
        return tt_fail(w->err, TT_ERR_NOMEM, NULL);
    size_t i = 0;
    for (size_t o = 0; o < w->nnodes; i++) {
        recs[i] = w->nodes + o;
        o += 1 + recs[i][0] + 2 + ((size_t)recs[i][1 + recs[i][0]] << 8 | recs[i][2 + recs[i][0]]);
    }
    qsort(recs, w->count, sizeof *recs, rec_cmp);
    tt_err rc = TT_OK;
    MDB_dbi dbi = w->t->ledger->dbi[TT_DB_STATEMAP];
    for (i = 0; i < w->count && rc == TT_OK; i++) {
        const uint8_t *r = recs[i];
        size_t kl = r[0], vl = (size_t)r[1 + kl] << 8 | r[2 + kl];
        MDB_val k = {kl, (void *)(r + 1)}, v = {vl, (void *)(r + 3 + kl)};
        int mrc = mdb_put(w->t->txn, dbi, &k, &v, MDB_APPEND);
        if (mrc == MDB_KEYEXIST)
            mrc = mdb_put(w->t->txn, dbi, &k, &v, 0);
        if (mrc != 0) {
            w->t->mdb_rc = mrc;
            rc = tt_mdb_fail(w->err, mrc, "state map");
        }
        w->t->puts++;
    }
    free(recs);
    w->nnodes = w->count = 0;
    return rc;
}

static tt_err put_leaf(mapw *w, const upd *u, unsigned depth, ref *out)
{
    uint8_t k[NODE_KEY_MAX], v[1 + 32 + TT_STATEMAP_VALUE_MAX];
    size_t kl = node_key(k, w->size, depth, u->key);
    v[0] = 0;
    memcpy(v + 1, u->key, 32);
    memcpy(v + 33, u->value, u->vlen);
    memcpy(out->h, u->leaf, 32);
    out->v = w->size;
    return put_node_rec(w, k, kl, v, 33 + u->vlen);
}

static tt_err put_node(mapw *w, unsigned depth, const uint8_t *key, const ref *l, const ref *r,
                       ref *out)
{
    uint8_t k[NODE_KEY_MAX], v[81];
    size_t kl = node_key(k, w->size, depth, key);
    v[0] = 1;
    memcpy(v + 1, l->h, 32);
    tt_put_u64be(v + 33, l->v);
    memcpy(v + 41, r->h, 32);
    tt_put_u64be(v + 73, r->v);
    tt_smt_node(l->h, r->h, out->h);
    out->v = w->size;
    return put_node_rec(w, k, kl, v, sizeof v);
}

/* The first of us[0..n) whose bit `depth` is 1 (us sorted by key). */
static size_t split_at(const upd *us, size_t n, unsigned depth)
{
    size_t i = 0;
    while (i < n && !tt_smt_bit(us[i].key, depth))
        i++;
    return i;
}

/* The subtree at `depth` holding exactly the lots us[0..n) (sorted, distinct), written. */
static tt_err build(mapw *w, const upd *us, size_t n, unsigned depth, ref *out)
{
    if (n == 0) {
        memset(out, 0, sizeof *out);
        return TT_OK;
    }
    if (n == 1)
        return put_leaf(w, &us[0], depth, out);
    if (depth > TT_SMT_DEPTH_MAX)
        return tt_fail(w->err, TT_ERR_STORE, "two lots' map keys share %u bits", depth);
    size_t m = split_at(us, n, depth);
    ref l, r;
    tt_err rc = build(w, us, m, depth + 1, &l);
    if (rc == TT_OK)
        rc = build(w, us + m, n - m, depth + 1, &r);
    return rc == TT_OK ? put_node(w, depth, us[0].key, &l, &r, out) : rc;
}

/* The node `r` at `depth` on the path of `key`. */
static tt_err read_node(MDB_txn *txn, tt_ledger *l, const ref *r, unsigned depth, const uint8_t *key,
                        MDB_val *v, tt_error *err)
{
    uint8_t k[NODE_KEY_MAX];
    MDB_val mk = {node_key(k, r->v, depth, key), k};
    int rc = mdb_get(txn, l->dbi[TT_DB_STATEMAP], &mk, v);
    const uint8_t *d = v->mv_data;
    if (rc == 0 && v->mv_size >= 33 && (d[0] == 0 || (d[0] == 1 && v->mv_size == 81)))
        return TT_OK;
    if (rc == 0 || rc == MDB_NOTFOUND)
        return tt_fail(err, TT_ERR_STORE,
                       "the state map is missing or has a damaged node; run 'tcmtrace rebuild DIR'");
    return tt_mdb_fail(err, rc, "cannot read the state map");
}

/* The subtree `node` at `depth` with us[0..n) (sorted, distinct) set in it. */
static tt_err update(mapw *w, const ref *node, const upd *us, size_t n, unsigned depth, ref *out)
{
    if (n == 0) {
        *out = *node;
        return TT_OK;
    }
    if (tt_smt_is_empty(node->h))
        return build(w, us, n, depth, out);
    MDB_val v;
    tt_err rc = read_node(w->t->txn, w->t->ledger, node, depth, us[0].key, &v, w->err);
    if (rc != TT_OK)
        return rc;
    const uint8_t *nd = v.mv_data;
    if (nd[0] == 0) { /* a lone lot: it moves down (or is replaced) and us join it */
        uint8_t okey[32];
        memcpy(okey, nd + 1, 32);
        size_t i = 0;
        while (i < n && memcmp(us[i].key, okey, 32) != 0)
            i++;
        if (i < n && n == 1 && memcmp(us[0].leaf, node->h, 32) == 0) { /* written, the same */
            *out = *node;
            return TT_OK;
        }
        if ((rc = stale(w, node, depth, okey)) != TT_OK)
            return rc;
        if (i < n)
            return build(w, us, n, depth, out);
        /* the old lot, rewritten where it now sits: its text copied (the node may move) */
        char val[TT_STATEMAP_VALUE_MAX];
        size_t vl = v.mv_size - 33 < sizeof val ? v.mv_size - 33 : sizeof val;
        memcpy(val, nd + 33, vl);
        upd *all = malloc((n + 1) * sizeof *all);
        if (all == NULL)
            return tt_fail(w->err, TT_ERR_NOMEM, NULL);
        size_t j = 0;
        for (i = 0; i < n && memcmp(us[i].key, okey, 32) < 0; i++)
            all[j++] = us[i];
        memcpy(all[j].key, okey, 32);
        memcpy(all[j].leaf, node->h, 32);
        all[j].value = val;
        all[j++].vlen = vl;
        for (; i < n; i++)
            all[j++] = us[i];
        rc = build(w, all, n + 1, depth, out);
        free(all);
        return rc;
    }
    if (depth > TT_SMT_DEPTH_MAX)
        return tt_fail(w->err, TT_ERR_STORE, "the state map is deeper than a map can be");
    ref l, r, nl, nr;
    memcpy(l.h, nd + 1, 32);
    l.v = tt_get_u64be(nd + 33);
    memcpy(r.h, nd + 41, 32);
    r.v = tt_get_u64be(nd + 73);
    uint8_t path[32];
    memcpy(path, us[0].key, 32); /* the node's own path, before the children are read */
    size_t m = split_at(us, n, depth);
    rc = update(w, &l, us, m, depth + 1, &nl);
    if (rc == TT_OK)
        rc = update(w, &r, us + m, n - m, depth + 1, &nr);
    if (rc != TT_OK)
        return rc;
    if (memcmp(l.h, nl.h, 32) == 0 && memcmp(r.h, nr.h, 32) == 0) {
        *out = *node;
        return TT_OK;
    }
    rc = stale(w, node, depth, path);
    return rc == TT_OK ? put_node(w, depth, path, &nl, &nr, out) : rc;
}

/* The update of the lot `code`: from the leaf text the rules gave (`given`, `glen`), else
 * from its record in the transaction. */
static tt_err make_upd(mapw *w, const char *code, upd *u, char *valbuf, const char *given,
                       size_t glen)
{
    if (glen) {
        memcpy(valbuf, given, glen);
        u->vlen = glen;
        u->value = valbuf;
        uint8_t vh[32];
        tt_smt_key(code, u->key);
        tt_sha256(vh, valbuf, glen);
        tt_smt_leaf(u->key, vh, u->leaf);
        return TT_OK;
    }
    MDB_val k = {strlen(code), (void *)code}, v;
    int rc = mdb_get(w->t->txn, w->t->ledger->dbi[TT_DB_BATCHES], &k, &v);
    if (rc != 0)
        return tt_mdb_fail(w->err, rc, "cannot read a lot for the state map");
    json_t *rec = tt_rec_decode(v.mv_data, v.mv_size);
    if (rec == NULL)
        return tt_fail(w->err, TT_ERR_STORE, "the record of lot %s does not decode", code);
    u->vlen = tt_statemap_value(rec, valbuf);
    json_decref(rec);
    if (u->vlen == 0)
        return tt_fail(w->err, TT_ERR_STORE, "the state of lot %s does not fit a map leaf", code);
    u->value = valbuf;
    uint8_t vh[32];
    tt_smt_key(code, u->key);
    tt_sha256(vh, valbuf, u->vlen);
    tt_smt_leaf(u->key, vh, u->leaf);
    return TT_OK;
}

/* By code, and the later write of a code first. */
static int by_code(const void *a, const void *b)
{
    const tt_touched_lot *x = a, *y = b;
    int c = memcmp(x->code, y->code, 16);
    return c ? c : x->order < y->order ? 1 : -1;
}

/* Deletes the keys of `prefix` whose 8-byte size (after the prefix byte) is below `below`;
 * for stale marks, the nodes they name too. */
static tt_err prune(mapw *w, char prefix, uint64_t below)
{
    MDB_cursor *c;
    MDB_dbi dbi = w->t->ledger->dbi[TT_DB_STATEMAP];
    int rc = mdb_cursor_open(w->t->txn, dbi, &c);
    if (rc != 0)
        return tt_mdb_fail(w->err, rc, "cannot read the state map");
    uint8_t start = (uint8_t)prefix;
    MDB_val k = {1, &start}, v;
    tt_err out = TT_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) { /* after a delete: the one after it */
        const uint8_t *kd = k.mv_data;
        if (k.mv_size < 9 || kd[0] != (uint8_t)prefix || tt_get_u64be(kd + 1) >= below)
            break;
        if (prefix == GONE_P) { /* every node the commit of that size replaced */
            uint8_t *list = malloc(v.mv_size ? v.mv_size : 1);
            if (list == NULL) {
                rc = ENOMEM;
                break;
            }
            memcpy(list, v.mv_data, v.mv_size); /* the deletes below move the map's pages */
            for (size_t o = 0; rc == 0 && o < v.mv_size && o + 1 + list[o] <= v.mv_size;
                 o += 1 + list[o]) {
                MDB_val key = {list[o], list + o + 1};
                rc = mdb_del(w->t->txn, dbi, &key, NULL);
                rc = rc == MDB_NOTFOUND ? 0 : rc;
            }
            free(list);
            if (rc != 0)
                break;
            MDB_val again = {9, (void *)kd};
            uint8_t kcopy[9];
            memcpy(kcopy, kd, 9);
            again.mv_data = kcopy;
            if ((rc = mdb_cursor_get(c, &again, &v, MDB_SET)) != 0) /* back where it was */
                break;
        }
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        w->t->mdb_rc = rc;
        out = tt_mdb_fail(w->err, rc, "cannot prune the state map");
    }
    mdb_cursor_close(c);
    return out;
}

tt_err tt_statemap_clear(struct tt_txn *t, tt_error *err)
{
    int rc = mdb_drop(t->txn, t->ledger->dbi[TT_DB_STATEMAP], 0);
    if (rc != 0) {
        t->mdb_rc = rc;
        return tt_mdb_fail(err, rc, "cannot empty the state map");
    }
    return TT_OK;
}

/* Every lot's update, for a map built from nothing. */
static tt_err all_lots(mapw *w, upd **out, char **vals, size_t *n)
{
    MDB_stat st;
    MDB_cursor *c;
    MDB_dbi dbi = w->t->ledger->dbi[TT_DB_BATCHES];
    int rc = mdb_stat(w->t->txn, dbi, &st);
    if (rc == 0)
        rc = mdb_cursor_open(w->t->txn, dbi, &c);
    if (rc != 0)
        return tt_mdb_fail(w->err, rc, "cannot read the lots for the state map");
    size_t cap = st.ms_entries ? st.ms_entries : 1;
    upd *us = malloc(cap * sizeof *us);
    char *vb = malloc(cap * (TT_STATEMAP_VALUE_MAX + 1));
    tt_err e = us && vb ? TT_OK : tt_fail(w->err, TT_ERR_NOMEM, NULL);
    size_t i = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); e == TT_OK && rc == 0 && i < cap;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), i++) {
        char code[17];
        if (k.mv_size != 16) {
            e = tt_fail(w->err, TT_ERR_STORE, "a lot's key is not a trace code");
            break;
        }
        memcpy(code, k.mv_data, 16);
        code[16] = '\0';
        e = make_upd(w, code, &us[i], vb + i * (TT_STATEMAP_VALUE_MAX + 1), NULL, 0);
    }
    mdb_cursor_close(c);
    if (e != TT_OK) {
        free(us);
        free(vb);
        return e;
    }
    qsort(us, i, sizeof *us, by_key);
    *out = us, *vals = vb, *n = i;
    return TT_OK;
}

/* Each lot once, as its last write left it: touched->lots[0..return). */
static size_t touched_dedupe(tt_touched *touched)
{
    if (touched->n > 1)
        qsort(touched->lots, touched->n, sizeof *touched->lots, by_code);
    size_t m = 0;
    for (size_t i = 0; i < touched->n; i++)
        if (m == 0 || memcmp(touched->lots[m - 1].code, touched->lots[i].code, 16) != 0)
            touched->lots[m++] = touched->lots[i];
    return touched->n = m;
}

tt_err tt_statemap_touched_leaves(struct tt_txn *t, tt_touched *touched,
                                  int (*fn)(void *ctx, const uint8_t key[32], const uint8_t leaf[32]),
                                  void *ctx, tt_error *err)
{
    mapw w = {t, 0, err, NULL, 0, 0, 0, NULL, 0, 0};
    tt_err rc = TT_OK;
    if (touched->failed) { /* every lot's */
        upd *us;
        char *vals;
        size_t n;
        if ((rc = all_lots(&w, &us, &vals, &n)) != TT_OK)
            return rc;
        for (size_t i = 0; rc == TT_OK && i < n; i++)
            if (fn(ctx, us[i].key, us[i].leaf) != 0)
                rc = tt_fail(err, TT_ERR_NOMEM, "out of memory for the state map");
        free(us);
        free(vals);
        return rc;
    }
    size_t m = touched_dedupe(touched);
    char val[TT_STATEMAP_VALUE_MAX + 1];
    for (size_t i = 0; rc == TT_OK && i < m; i++) {
        upd u;
        rc = make_upd(&w, touched->lots[i].code, &u, val, touched->lots[i].value,
                      touched->lots[i].vlen);
        if (rc == TT_OK && fn(ctx, u.key, u.leaf) != 0)
            rc = tt_fail(err, TT_ERR_NOMEM, "out of memory for the state map");
    }
    return rc;
}

tt_err tt_statemap_commit(struct tt_txn *t, uint64_t prev_size, uint64_t size, tt_touched *touched,
                          uint8_t root[32], tt_error *err)
{
    mapw w = {t, size, err, NULL, 0, 0, 0, NULL, 0, 0};
    ref old, nr;
    int have = root_ref(t->ledger, t->txn, prev_size, &old);
    if (have < 0)
        return tt_fail(err, TT_ERR_STORE, "the state map's root of size %llu is damaged",
                       (unsigned long long)prev_size);
    upd *us = NULL;
    char *vals = NULL;
    size_t n = 0;
    tt_err rc;
    if (!have || touched == NULL || touched->failed) { /* all of it, from nothing */
        if ((rc = tt_statemap_clear(t, err)) != TT_OK)
            return rc;
        if ((rc = all_lots(&w, &us, &vals, &n)) != TT_OK)
            return rc;
        rc = build(&w, us, n, 0, &nr);
    } else {
        size_t m = touched_dedupe(touched);
        us = malloc((m ? m : 1) * sizeof *us);
        vals = malloc((m ? m : 1) * (TT_STATEMAP_VALUE_MAX + 1));
        rc = us && vals ? TT_OK : tt_fail(err, TT_ERR_NOMEM, NULL);
        for (size_t i = 0; rc == TT_OK && i < m; i++)
            rc = make_upd(&w, touched->lots[i].code, &us[n++], vals + i * (TT_STATEMAP_VALUE_MAX + 1),
                          touched->lots[i].value, touched->lots[i].vlen);
        if (rc == TT_OK) {
            qsort(us, n, sizeof *us, by_key);
            rc = update(&w, &old, us, n, 0, &nr);
        }
    }
    free(us);
    free(vals);
    if (rc == TT_OK)
        rc = flush_nodes(&w);
    free(w.nodes);
    uint8_t kb[9], rv[40];
    root_key(kb, size);
    memcpy(rv, nr.h, 32);
    tt_put_u64be(rv + 32, nr.v);
    if (rc == TT_OK)
        rc = put(&w, kb, sizeof kb, rv, sizeof rv);
    if (rc == TT_OK && w.nstale) { /* the nodes this commit replaced */
        kb[0] = GONE_P;
        rc = put(&w, kb, sizeof kb, w.stale, w.nstale);
    }
    free(w.stale);
    w.stale = NULL;
    if (rc == TT_OK)
        memcpy(root, nr.h, 32);
    if (rc == TT_OK && size > TT_STATEMAP_WINDOW) {
        rc = prune(&w, GONE_P, size - TT_STATEMAP_WINDOW + 1);
        if (rc == TT_OK)
            rc = prune(&w, ROOT_P, size - TT_STATEMAP_WINDOW);
    }
    return rc;
}

/* ---- reading ----------------------------------------------------------------- */

tt_err tt_statemap_root(tt_ledger *l, uint64_t size, uint8_t root[TT_SMT_HASH], tt_error *err)
{
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    int have = tt_statemap_root_txn(l, txn, size, root);
    tt_rtxn_end(l, txn);
    if (have < 0)
        return tt_fail(err, TT_ERR_STORE, "the state map's root of size %llu is damaged",
                       (unsigned long long)size);
    if (have == 0)
        return tt_fail(err, TT_ERR_NOT_FOUND, "no state map is kept for tree size %llu",
                       (unsigned long long)size);
    return TT_OK;
}

/* The latest size with a root, in txn (0 when none: *found says). */
static int latest_root(tt_ledger *l, MDB_txn *txn, uint64_t *size, int oldest)
{
    MDB_cursor *c;
    if (l->no_statemap || mdb_cursor_open(txn, l->dbi[TT_DB_STATEMAP], &c) != 0)
        return 0;
    uint8_t probe = oldest ? ROOT_P : ROOT_P + 1;
    MDB_val k = {1, &probe}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (!oldest)
        rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    int found = rc == 0 && k.mv_size == 9 && ((const uint8_t *)k.mv_data)[0] == ROOT_P;
    if (found)
        *size = tt_get_u64be((const uint8_t *)k.mv_data + 1);
    mdb_cursor_close(c);
    return found;
}

tt_err tt_statemap_stats_get(tt_ledger *l, tt_statemap_stats *s, tt_error *err)
{
    memset(s, 0, sizeof *s);
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    MDB_stat st;
    if (mdb_stat(txn, l->dbi[TT_DB_BATCHES], &st) == 0)
        s->lots = st.ms_entries;
    s->have = latest_root(l, txn, &s->latest, 0) && latest_root(l, txn, &s->oldest, 1);
    tt_rtxn_end(l, txn);
    return TT_OK;
}

tt_err tt_statemap_prove(tt_ledger *l, uint64_t size, const char *code, tt_state_answer *out,
                         tt_error *err)
{
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    if (size == UINT64_MAX && !latest_root(l, txn, &size, 0)) {
        tt_rtxn_end(l, txn);
        return tt_fail(err, TT_ERR_NOT_FOUND, "this ledger keeps no state map yet");
    }
    int have = tt_statemap_root_txn(l, txn, size, out->root);
    if (have <= 0) {
        tt_rtxn_end(l, txn);
        return have < 0 ? tt_fail(err, TT_ERR_STORE, "the state map's root is damaged")
                        : tt_fail(err, TT_ERR_NOT_FOUND,
                                  "no state map is kept for tree size %llu (only for the sizes "
                                  "of the last %d entries)",
                                  (unsigned long long)size, TT_STATEMAP_WINDOW);
    }
    out->size = size;
    uint8_t key[32];
    ref at;
    root_ref(l, txn, size, &at);
    tt_smt_key(code, key);
    tt_smt_proof *p = &out->proof;
    rc = TT_OK;
    for (unsigned depth = 0;; depth++) {
        if (tt_smt_is_empty(at.h)) {
            p->kind = TT_SMT_EMPTY;
            break;
        }
        MDB_val v;
        if ((rc = read_node(txn, l, &at, depth, key, &v, err)) != TT_OK)
            break;
        const uint8_t *nd = v.mv_data;
        if (nd[0] == 0) {
            if (memcmp(nd + 1, key, 32) == 0) {
                p->kind = TT_SMT_INCLUDED;
                out->present = 1;
                out->value_len = v.mv_size - 33 < TT_STATEMAP_VALUE_MAX ? v.mv_size - 33
                                                                         : TT_STATEMAP_VALUE_MAX;
                memcpy(out->value, nd + 33, out->value_len);
            } else {
                p->kind = TT_SMT_OTHER;
                memcpy(p->other_key, nd + 1, 32);
                tt_sha256(p->other_value, nd + 33, v.mv_size - 33);
            }
            break;
        }
        if (depth >= TT_SMT_DEPTH_MAX) {
            rc = tt_fail(err, TT_ERR_STORE, "the state map is deeper than a map can be");
            break;
        }
        int bit = tt_smt_bit(key, depth);
        const uint8_t *sib = nd + (bit ? 1 : 41), *mine = nd + (bit ? 41 : 1);
        memcpy(p->siblings[depth], sib, 32);
        p->present[depth] = !tt_smt_is_empty(sib);
        memcpy(at.h, mine, 32);
        at.v = tt_get_u64be(mine + 32);
        p->depth = depth + 1;
    }
    tt_rtxn_end(l, txn);
    return rc;
}

/* ---- the bookkeeping checked ---------------------------------------------------------------- */

typedef struct keyset {
    uint8_t (*k)[1 + NODE_KEY_MAX]; /* length, then the key */
    size_t n, cap;
} keyset;

static int keyset_add(keyset *s, const uint8_t *key, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint8_t(*nk)[1 + NODE_KEY_MAX] = realloc(s->k, cap * sizeof *nk);
        if (nk == NULL)
            return -1;
        s->k = nk, s->cap = cap;
    }
    memset(s->k[s->n], 0, sizeof *s->k);
    s->k[s->n][0] = (uint8_t)len;
    memcpy(s->k[s->n] + 1, key, len);
    s->n++;
    return 0;
}

static int keyset_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 1 + NODE_KEY_MAX);
}

static int keyset_has(const keyset *s, const uint8_t *key, size_t len)
{
    uint8_t probe[1 + NODE_KEY_MAX] = {(uint8_t)len};
    memcpy(probe + 1, key, len);
    return bsearch(probe, s->k, s->n, sizeof *s->k, keyset_cmp) != NULL;
}

/* Adds the keys of the subtree `r` at `depth` (path from `path`) to s. */
static tt_err reach(MDB_txn *txn, tt_ledger *l, const ref *r, unsigned depth, uint8_t path[32],
                    keyset *s, tt_error *err)
{
    if (tt_smt_is_empty(r->h))
        return TT_OK;
    uint8_t k[NODE_KEY_MAX];
    size_t kl = node_key(k, r->v, depth, path);
    MDB_val v;
    tt_err rc = read_node(txn, l, r, depth, path, &v, err);
    if (rc != TT_OK)
        return rc;
    if (keyset_add(s, k, kl) != 0)
        return tt_fail(err, TT_ERR_NOMEM, NULL);
    const uint8_t *nd = v.mv_data;
    if (nd[0] == 0 || depth >= TT_SMT_DEPTH_MAX)
        return TT_OK;
    ref c[2];
    memcpy(c[0].h, nd + 1, 32);
    c[0].v = tt_get_u64be(nd + 33);
    memcpy(c[1].h, nd + 41, 32);
    c[1].v = tt_get_u64be(nd + 73);
    for (int side = 0; side < 2 && rc == TT_OK; side++) {
        uint8_t p2[32];
        memcpy(p2, path, 32);
        if (side)
            p2[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
        else
            p2[depth / 8] &= (uint8_t)~(0x80 >> (depth % 8));
        rc = reach(txn, l, &c[side], depth + 1, p2, s, err);
    }
    return rc;
}

tt_err tt_statemap_check(tt_ledger *l, uint64_t *nodes, tt_error *err)
{
    *nodes = 0;
    MDB_txn *txn;
    tt_err rc = tt_rtxn_begin(l, &txn, err);
    if (rc != TT_OK)
        return rc;
    keyset live = {0}, gone = {0};
    uint64_t latest = 0;
    ref r;
    if (latest_root(l, txn, &latest, 0) && root_ref(l, txn, latest, &r) == 1) {
        uint8_t path[32] = {0};
        rc = reach(txn, l, &r, 0, path, &live, err);
    }
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int mrc = rc == TT_OK && !l->no_statemap ? mdb_cursor_open(txn, l->dbi[TT_DB_STATEMAP], &c) : -1;
    for (mrc = mrc == 0 ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : MDB_NOTFOUND; rc == TT_OK && mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kd = k.mv_data, *list = v.mv_data;
        if (k.mv_size != 9 || kd[0] != GONE_P)
            continue;
        for (size_t o = 0; o < v.mv_size && rc == TT_OK; o += 1 + list[o])
            if (o + 1 + list[o] > v.mv_size || keyset_add(&gone, list + o + 1, list[o]) != 0)
                rc = tt_fail(err, TT_ERR_AUDIT, "a stale record of the state map is damaged");
    }
    qsort(live.k, live.n, sizeof *live.k, keyset_cmp);
    qsort(gone.k, gone.n, sizeof *gone.k, keyset_cmp);
    for (mrc = rc == TT_OK && c ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : MDB_NOTFOUND; rc == TT_OK && mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kd = k.mv_data;
        if (k.mv_size < 10 || kd[0] != NODE_P)
            continue;
        (*nodes)++;
        if (!keyset_has(&live, kd, k.mv_size) && !keyset_has(&gone, kd, k.mv_size))
            rc = tt_fail(err, TT_ERR_AUDIT,
                         "a node of the state map (version %llu, depth %u) is in no version kept "
                         "and no commit lists it as replaced: it would never be pruned",
                         (unsigned long long)tt_get_u64be(kd + 1), kd[9]);
    }
    if (c)
        mdb_cursor_close(c);
    free(live.k);
    free(gone.k);
    tt_rtxn_end(l, txn);
    return rc;
}
