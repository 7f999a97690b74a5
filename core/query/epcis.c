/*
 * core/epcis.c: ledger entries as GS1 EPCIS 2.0 events (tcmtrace/epcis.h;
 * the mapping, with one example per event type, is docs/epcis.md).
 *
 * A lot is a class of goods with a quantity, so it is named in quantity
 * lists (epcClass, KGM), never in epcList. What an event's body does not
 * say (who sent what a receive accepts, an inspection's verdict) comes from
 * the ledger: the transfer's entry, the verdict the rules kept.
 */
#define _GNU_SOURCE
#include "tcmtrace/epcis.h"
#include "tcmtrace/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcmtrace/api.h"
#include "tcmtrace/bytes.h"
#include "tcmtrace/entry.h"
#include "tcmtrace/event.h"
#include "tcmtrace/state.h"
#include "tcmtrace/tracecode.h"

#define PAGE_ENTRIES 5000
#define PAGE_BYTES (1u << 20)
#define GS1_CONTEXT "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"

json_t *tt_epcis_context(const char *base_url)
{
    char ns[400];
    snprintf(ns, sizeof ns, "%s/ns/epcis#", base_url);
    return json_pack("[s, {s:s}]", GS1_CONTEXT, "tcmtrace", ns);
}

void tt_epcis_lot_uri(const char *base_url, const char *code, const char *gtin, char *out,
                      size_t cap)
{
    if (gtin && *gtin)
        snprintf(out, cap, "%s/01/%s/10/%s", base_url, gtin, code);
    else
        snprintf(out, cap, "%s/b/%s", base_url, code);
}

void tt_epcis_event_id(const uint8_t h[32], unsigned idx, char out[46])
{
    static const char tag[] = "tcmtrace/epcis/v1\n";
    uint8_t msg[sizeof tag - 1 + 33], d[32];
    memcpy(msg, tag, sizeof tag - 1);
    memcpy(msg + sizeof tag - 1, h, 32);
    msg[sizeof msg - 1] = (uint8_t)idx;
    tt_sha256(d, msg, sizeof msg);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x80); /* version 8: custom */
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    char hex[33];
    tt_hex((tt_bytes){16, d}, hex);
    snprintf(out, 46, "urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

/* ---- one entry ------------------------------------------------------------------------------ */

typedef struct ectx {
    tt_ledger *l;
    const char *base;
    json_t *gtins; /* code -> GTIN ("" for none), the page's cache */
    uint64_t seq;
    uint8_t hash[32];
    const tt_entry *e;
    const uint8_t *data;
    size_t len;
    json_t *body;
    char signer[33];
    unsigned idx; /* the next event's index within the entry */
} ectx;

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *lot(ectx *c, const char *code)
{
    json_t *g = json_object_get(c->gtins, code);
    if (g == NULL) {
        json_t *b = NULL;
        tt_state_batch(c->l, code, &b, NULL);
        const char *v = b ? jstr(b, "gtin") : NULL;
        json_object_set_new(c->gtins, code, g = json_string(v ? v : ""));
        json_decref(b);
    }
    char uri[512];
    tt_epcis_lot_uri(c->base, code, json_string_value(g), uri, sizeof uri);
    return json_string(uri);
}

/* {"epcClass", "quantity" (kg), "uom": "KGM"}; no quantity when qty_g < 0. */
static json_t *qty_el(ectx *c, const char *code, json_int_t qty_g)
{
    json_t *q = json_pack("{s:o}", "epcClass", lot(c, code));
    if (qty_g >= 0) {
        json_object_set_new(q, "quantity", json_real((double)qty_g / 1000.0));
        json_object_set_new(q, "uom", json_string("KGM"));
    }
    return q;
}

static json_t *one_qty(ectx *c, const char *code, json_int_t qty_g)
{
    json_t *a = json_array();
    json_array_append_new(a, qty_el(c, code, qty_g));
    return a;
}

static json_t *party(ectx *c, const char *kind, const char *actor)
{
    char uri[400];
    snprintf(uri, sizeof uri, "%s/api/v1/actors/%s", c->base, actor);
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s, s:s}", "type", "owning_party", kind, uri));
    return a;
}

static void ms_time(int64_t ms, char out[64])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static void set_copy(json_t *o, const char *k, json_t *v)
{
    if (v)
        json_object_set_new(o, k, json_deep_copy(v));
}

/* The common members, and the entry that proves the event. */
static json_t *event_new(ectx *c, const char *type, const char *action, const char *step,
                         const char *disposition)
{
    const char *at = jstr(c->body, "at");
    size_t n = strlen(at);
    char off[8] = "+00:00", id[46], rec[64], hex[65], url[400], step_uri[400];
    if (n > 6 && at[n - 1] != 'Z' && at[n - 1] != 'z')
        snprintf(off, sizeof off, "%s", at + n - 6);
    tt_epcis_event_id(c->hash, c->idx++, id);
    ms_time((int64_t)c->e->time_ms, rec);
    tt_hex((tt_bytes){32, c->hash}, hex);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "eventID", id, "eventTime",
                           at, "eventTimeZoneOffset", off, "recordTime", rec);
    if (action)
        json_object_set_new(ev, "action", json_string(action));
    if (step && strchr(step, ':') == NULL)
        json_object_set_new(ev, "bizStep", json_string(step));
    else if (step) { /* a step CBV lacks: the ledger's own term */
        snprintf(step_uri, sizeof step_uri, "%s/ns/epcis#%s", c->base, step + 1);
        json_object_set_new(ev, "bizStep", json_string(step_uri));
    }
    if (disposition)
        json_object_set_new(ev, "disposition", json_string(disposition));
    json_object_set_new(ev, "tcmtrace:seq", json_integer((json_int_t)c->seq));
    json_object_set_new(ev, "tcmtrace:entryHash", json_string(hex));
    char *b64 = malloc(tt_b64_len(c->len));
    if (b64) {
        tt_b64((tt_bytes){c->len, c->data}, b64);
        json_object_set_new(ev, "tcmtrace:entry", json_string(b64));
        free(b64);
    }
    snprintf(url, sizeof url, "%s/api/v1/entries/%llu/proof", c->base, (unsigned long long)c->seq);
    json_object_set_new(ev, "tcmtrace:proof", json_string(url));
    set_str(ev, "tcmtrace:eventType", jstr(c->body, "type"));
    if (*c->signer)
        json_object_set_new(ev, "tcmtrace:signer", json_string(c->signer));
    return ev;
}

/* The transfer before this entry that moved `code` (its body, and its signer). */
static json_t *transfer_before(ectx *c, const char *code, char sender[33])
{
    json_t *evs = NULL, *found = NULL;
    if (tt_state_batch_events(c->l, code, &evs, NULL) != TT_OK)
        return NULL;
    for (size_t i = json_array_size(evs); i-- > 0 && found == NULL;) {
        json_t *x = json_array_get(evs, i);
        if ((uint64_t)jint(x, "seq") >= c->seq || strcmp(jstr(x, "type"), "batch.transfer") != 0)
            continue;
        uint8_t *data;
        size_t len;
        tt_entry e;
        if (tt_ledger_entry(c->l, (uint64_t)jint(x, "seq"), &data, &len, NULL) != TT_OK)
            break;
        if (tt_entry_decode((tt_bytes){len, data}, &e, NULL) == TT_OK) {
            found = tt_json_load((const char *)e.body.data, e.body.size, 0, NULL);
            sender[0] = '\0';
            tt_state_actor_of_key(c->l, e.actor, sender, NULL);
        }
        free(data);
    }
    json_decref(evs);
    return found;
}

static const char *uom_of(const char *unit)
{
    static const char *const map[][2] = {{"%", "P1"},       {"mg/kg", "NA"}, {"ppm", "59"},
                                         {"µg/kg", "J33"}, {"μg/kg", "J33"}, {"ug/kg", "J33"},
                                         {"ppb", "61"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(unit, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static json_t *inspection(ectx *c, json_t *ev)
{
    const char *code = jstr(c->body, "id");
    json_t *b = NULL, *verdict = NULL, *x;
    size_t i;
    tt_state_batch(c->l, code, &b, NULL);
    json_array_foreach(json_object_get(b, "inspections"), i, x)
    {
        if ((uint64_t)jint(x, "seq") == c->seq)
            verdict = x;
    }
    const char *v = verdict ? jstr(verdict, "verdict") : NULL;
    json_object_set_new(ev, "disposition",
                        json_string(v && strcmp(v, "fail") == 0   ? "non_conformant"
                                    : v && strcmp(v, "pass") == 0 ? "conformant"
                                                                  : "unknown"));
    set_str(ev, "tcmtrace:verdict", v);
    json_t *reports = json_array();
    json_array_foreach(json_object_get(c->body, "results"), i, x)
    {
        json_t *judged = json_array_get(json_object_get(verdict, "results"), i);
        const char *unit = jstr(x, "unit"), *uom = uom_of(unit);
        json_t *r = json_pack("{s:s, s:f}", "type", "Dimensionless", "value",
                              strtod(jstr(x, "value"), NULL));
        if (uom)
            json_object_set_new(r, "uom", json_string(uom));
        set_str(r, "tcmtrace:test", judged ? jstr(judged, "test") : jstr(x, "test"));
        set_str(r, "tcmtrace:nameZh", jstr(judged, "name_zh"));
        set_str(r, "tcmtrace:value", jstr(x, "value"));
        set_str(r, "tcmtrace:unit", unit);
        set_str(r, "tcmtrace:limit", jstr(judged, "limit"));
        set_str(r, "tcmtrace:limitUnit", jstr(judged, "limit_unit"));
        set_str(r, "tcmtrace:verdict", jstr(judged, "verdict"));
        json_array_append_new(reports, r);
    }
    json_t *meta = json_pack("{s:s}", "time", jstr(c->body, "at"));
    set_str(meta, "tcmtrace:lab", jstr(c->body, "lab"));
    set_str(meta, "tcmtrace:standard", jstr(c->body, "standard"));
    set_str(meta, "tcmtrace:reportSha256", jstr(c->body, "report_sha256"));
    json_t *el = json_array();
    json_array_append_new(el, json_pack("{s:o, s:o}", "sensorMetadata", meta, "sensorReport",
                                        reports));
    json_object_set_new(ev, "sensorElementList", el);
    json_decref(b);
    return ev;
}

static json_t *transformation(ectx *c, json_t *in, json_t *out, const char *step,
                              const char *disposition)
{
    json_t *ev = event_new(c, "TransformationEvent", NULL, step, disposition);
    json_object_set_new(ev, "inputQuantityList", in);
    json_object_set_new(ev, "outputQuantityList", out);
    return ev;
}

/* Appends the EPCIS events of the entry in c to `to`. */
static void entry_events(ectx *c, json_t *to)
{
    json_t *b = c->body, *ev = NULL, *x;
    const char *type = jstr(b, "type"), *id = jstr(b, "id");
    tt_event_type t = tt_event_type_from_name(type ? type : "");
    size_t i;
    switch (t) {
    case TT_EV_REGISTER: {
        ev = event_new(c, "ObjectEvent", "ADD", "commissioning", "active");
        json_object_set_new(ev, "quantityList", one_qty(c, id, jint(b, "qty_g")));
        json_t *o = json_object_get(b, "origin");
        if (jstr(o, "lat") && jstr(o, "lon")) {
            char geo[80];
            snprintf(geo, sizeof geo, "geo:%s,%s", jstr(o, "lat"), jstr(o, "lon"));
            json_object_set_new(ev, "readPoint", json_pack("{s:s}", "id", geo));
        }
        json_object_set_new(ev, "destinationList", party(c, "destination", c->signer));
        json_t *ilmd = json_object();
        set_copy(ilmd, "tcmtrace:herb", json_object_get(b, "herb"));
        set_copy(ilmd, "tcmtrace:origin", o);
        set_copy(ilmd, "tcmtrace:harvestDate", json_object_get(b, "harvest_date"));
        set_copy(ilmd, "tcmtrace:grade", json_object_get(b, "grade"));
        set_copy(ilmd, "tcmtrace:processing", json_object_get(b, "processing"));
        set_str(ilmd, "tcmtrace:form", jstr(b, "form") ? jstr(b, "form") : "药材");
        set_copy(ilmd, "tcmtrace:gtin", json_object_get(b, "gtin"));
        set_copy(ilmd, "tcmtrace:documents", json_object_get(b, "documents"));
        if (json_is_true(json_object_get(b, "unlisted")))
            json_object_set_new(ilmd, "tcmtrace:unlisted", json_true());
        json_object_set_new(ev, "ilmd", ilmd);
        break;
    }
    case TT_EV_TRANSFER: {
        const char *child = jstr(b, "child");
        json_int_t q = json_object_get(b, "qty_g") ? jint(b, "qty_g") : -1;
        if (child) /* the part becomes a lot of its own, then ships */
            json_array_append_new(to, transformation(c, one_qty(c, id, q), one_qty(c, child, q),
                                                     "repackaging", "in_progress"));
        ev = event_new(c, "ObjectEvent", "OBSERVE", "shipping", "in_transit");
        json_object_set_new(ev, "quantityList", one_qty(c, child ? child : id, q));
        json_object_set_new(ev, "sourceList", party(c, "source", c->signer));
        json_object_set_new(ev, "destinationList", party(c, "destination", jstr(b, "to")));
        set_copy(ev, "tcmtrace:note", json_object_get(b, "note"));
        break;
    }
    case TT_EV_RECEIVE:
    case TT_EV_REJECT:
    case TT_EV_CANCEL: {
        char sender[33] = "";
        json_t *tr = transfer_before(c, id, sender);
        json_int_t q = tr && json_object_get(tr, "qty_g") ? jint(tr, "qty_g") : -1;
        ev = t == TT_EV_RECEIVE  ? event_new(c, "ObjectEvent", "OBSERVE", "receiving", "in_progress")
             : t == TT_EV_REJECT ? event_new(c, "ObjectEvent", "OBSERVE", "receiving", "returned")
                                 : event_new(c, "ObjectEvent", "OBSERVE", "void_shipping",
                                             "in_progress");
        json_object_set_new(ev, "quantityList", one_qty(c, id, q));
        const char *to_actor = tr ? jstr(tr, "to") : NULL;
        if (*sender)
            json_object_set_new(ev, "sourceList", party(c, "source", sender));
        if (to_actor)
            json_object_set_new(ev, "destinationList", party(c, "destination", to_actor));
        set_copy(ev, "tcmtrace:reason", json_object_get(b, "reason"));
        json_decref(tr);
        break;
    }
    case TT_EV_SPLIT: {
        json_int_t sum = 0;
        json_t *outs = json_array();
        json_array_foreach(json_object_get(b, "children"), i, x)
        {
            sum += jint(x, "qty_g");
            json_array_append_new(outs, qty_el(c, jstr(x, "id"), jint(x, "qty_g")));
        }
        ev = transformation(c, one_qty(c, id, sum), outs, "repackaging", "active");
        break;
    }
    case TT_EV_PROCESS: {
        json_t *ins = json_array(), *out = json_object_get(b, "output");
        json_array_foreach(json_object_get(b, "inputs"), i, x)
        {
            json_array_append_new(ins, qty_el(c, jstr(x, "id"), jint(x, "qty_g")));
        }
        ev = transformation(c, ins, one_qty(c, jstr(out, "id"), jint(out, "qty_g")),
                            "commissioning", "active");
        json_t *ilmd = json_object();
        set_copy(ilmd, "tcmtrace:form", json_object_get(out, "form"));
        set_copy(ilmd, "tcmtrace:productName", json_object_get(out, "name_zh"));
        set_copy(ilmd, "tcmtrace:grade", json_object_get(out, "grade"));
        set_copy(ilmd, "tcmtrace:herb", json_object_get(out, "herb"));
        set_copy(ilmd, "tcmtrace:gtin", json_object_get(out, "gtin"));
        set_copy(ilmd, "tcmtrace:processing", json_object_get(b, "method"));
        json_object_set_new(ev, "ilmd", ilmd);
        break;
    }
    case TT_EV_INSPECT:
        ev = event_new(c, "ObjectEvent", "OBSERVE", "inspecting", NULL);
        json_object_set_new(ev, "quantityList", one_qty(c, id, -1));
        inspection(c, ev);
        break;
    case TT_EV_HOLD:
    case TT_EV_RELEASE:
    case TT_EV_RECALL:
        ev = t == TT_EV_HOLD ? event_new(c, "ObjectEvent", "OBSERVE", "holding",
                                         "non_sellable_other")
             : t == TT_EV_RELEASE
                 ? event_new(c, "ObjectEvent", "OBSERVE", ":releasing", "active")
                 : event_new(c, "ObjectEvent", "OBSERVE", ":recalling", "recalled");
        json_object_set_new(ev, "quantityList", one_qty(c, id, -1));
        set_copy(ev, "tcmtrace:reason", json_object_get(b, "reason"));
        if (t == TT_EV_RECALL)
            json_object_set_new(ev, "tcmtrace:scope", json_string("lot-and-descendants"));
        break;
    case TT_EV_SELL:
        ev = event_new(c, "ObjectEvent", "OBSERVE", "retail_selling", "retail_sold");
        json_object_set_new(ev, "quantityList", one_qty(c, id, jint(b, "qty_g")));
        json_object_set_new(ev, "sourceList", party(c, "source", c->signer));
        set_copy(ev, "tcmtrace:buyerCommitment", json_object_get(b, "buyer_commitment"));
        break;
    case TT_EV_SUCCEED: { /* a revoked actor's lots handed to its successor */
        json_t *q = json_array();
        json_array_foreach(json_object_get(b, "lots"), i, x)
            json_array_append_new(q, qty_el(c, json_string_value(x), -1));
        ev = event_new(c, "ObjectEvent", "OBSERVE", ":succeeding", NULL);
        json_object_set_new(ev, "quantityList", q);
        json_object_set_new(ev, "sourceList", party(c, "source", jstr(b, "id")));
        json_object_set_new(ev, "destinationList", party(c, "destination", jstr(b, "successor")));
        set_copy(ev, "tcmtrace:reason", json_object_get(b, "reason"));
        break;
    }
    case TT_EV_REVIEW: /* the office's review of a lot's scan signals */
        ev = event_new(c, "ObjectEvent", "OBSERVE", ":reviewing", NULL);
        json_object_set_new(ev, "quantityList", one_qty(c, id, -1));
        set_copy(ev, "tcmtrace:reason", json_object_get(b, "reason"));
        break;
    case TT_EV_DESTROY:
        ev = event_new(c, "ObjectEvent", "DELETE", "destroying", "destroyed");
        json_object_set_new(ev, "quantityList", one_qty(c, id, -1));
        set_copy(ev, "tcmtrace:reason", json_object_get(b, "reason"));
        set_copy(ev, "tcmtrace:method", json_object_get(b, "method"));
        break;
    default: /* ledger.* and actor.*: master data, not events about goods */
        break;
    }
    if (ev)
        json_array_append_new(to, ev);
}

/* ---- the query ------------------------------------------------------------------------------ */

typedef struct filter {
    json_t *steps, *epcs, *classes; /* arrays of strings, or NULL */
    int64_t ge_ms, lt_ms;           /* -1: none */
} filter;

static int uri_matches(json_t *patterns, const char *uri)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p)
    {
        const char *s = json_string_value(p);
        size_t n = strlen(s);
        if (n && s[n - 1] == '*' ? strncmp(s, uri, n - 1) == 0 : strcmp(s, uri) == 0)
            return 1;
    }
    return 0;
}

static int any_class(json_t *ev, json_t *patterns)
{
    static const char *const lists[] = {"quantityList", "inputQuantityList",
                                        "outputQuantityList"};
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(ev, lists[k]), i, q)
        {
            if (uri_matches(patterns, jstr(q, "epcClass")))
                return 1;
        }
    }
    return 0;
}

static int step_matches(json_t *steps, const char *step)
{
    static const char cbv[] = "https://ref.gs1.org/cbv/BizStep-";
    size_t i;
    json_t *p;
    if (step == NULL)
        return 0;
    json_array_foreach(steps, i, p)
    {
        const char *s = json_string_value(p);
        if (strncmp(s, cbv, sizeof cbv - 1) == 0)
            s += sizeof cbv - 1;
        if (strcmp(s, step) == 0)
            return 1;
    }
    return 0;
}

static int keep(const filter *f, json_t *ev)
{
    int64_t ms = 0;
    tt_rfc3339_ms(jstr(ev, "eventTime"), &ms);
    if ((f->ge_ms >= 0 && ms < f->ge_ms) || (f->lt_ms >= 0 && ms >= f->lt_ms))
        return 0;
    if (f->steps && !step_matches(f->steps, jstr(ev, "bizStep")))
        return 0;
    /* a lot is a class here: MATCH_epc names it as MATCH_anyEPCClass does (docs/epcis.md) */
    if (f->epcs && !any_class(ev, f->epcs))
        return 0;
    return f->classes == NULL || any_class(ev, f->classes);
}

static tt_err str_list(json_t *q, const char *k, json_t **out, tt_error *err)
{
    json_t *v = json_object_get(q, k), *x;
    size_t i;
    *out = NULL;
    if (v == NULL)
        return TT_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 64)
        return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a list of 1 to 64 strings", k);
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > 400)
            return tt_fail(err, TT_ERR_MALFORMED, "\"%s\" must be a list of 1 to 64 strings", k);
    }
    *out = v;
    return TT_OK;
}

static tt_err time_arg(json_t *q, const char *k, int64_t *ms, tt_error *err)
{
    json_t *v = json_object_get(q, k);
    *ms = -1;
    if (v == NULL)
        return TT_OK;
    if (!json_is_string(v) || !tt_rfc3339_valid(json_string_value(v)) ||
        !tt_rfc3339_ms(json_string_value(v), ms))
        return tt_fail(err, TT_ERR_MALFORMED,
                       "\"%s\" must be an RFC 3339 time with an offset, e.g. "
                       "2026-11-22T00:00:00+08:00",
                       k);
    return TT_OK;
}

static int64_t seq_arg(json_t *q, const char *k)
{
    json_t *v = json_object_get(q, k);
    if (v == NULL)
        return -1;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -2;
}

/* The trace code a lot URI of this ledger names, or 0. */
static int code_of_uri(const char *base, const char *uri, char code[TT_CODE_LEN + 1])
{
    size_t n = strlen(base);
    const char *p = uri + n, *c = NULL;
    if (strncmp(uri, base, n) != 0)
        return 0;
    if (strncmp(p, "/b/", 3) == 0)
        c = p + 3;
    else if (strncmp(p, "/01/", 4) == 0 && strlen(p) == 4 + 14 + 4 + TT_CODE_LEN &&
             strncmp(p + 18, "/10/", 4) == 0)
        c = p + 22;
    return c && strlen(c) == TT_CODE_LEN && tt_code_parse(c, code, NULL) == TT_OK &&
           strcmp(code, c) == 0;
}

static int seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The entries a page walks: those about the lots named, when every
 * pattern names one lot; else NULL (the whole range). */
static json_t *candidates(tt_ledger *l, const char *base, json_t *q, const filter *f)
{
    json_t *codes = json_array(), *lists[2] = {f->epcs, f->classes}, *x;
    size_t i;
    const char *id = jstr(q, "id");
    if (id)
        json_array_append_new(codes, json_string(id));
    else {
        for (int k = 0; k < 2; k++)
            json_array_foreach(lists[k], i, x)
            {
                char code[TT_CODE_LEN + 1];
                if (!code_of_uri(base, json_string_value(x), code)) {
                    json_decref(codes);
                    return NULL;
                }
                json_array_append_new(codes, json_string(code));
            }
        if (json_array_size(codes) == 0 || (f->epcs && f->classes)) {
            json_decref(codes); /* both lists must match: walk everything (still bounded) */
            return NULL;
        }
    }
    /* the union of their events, in log order */
    size_t n = 0, cap = 0;
    uint64_t *seqs = NULL;
    json_array_foreach(codes, i, x)
    {
        json_t *evs = NULL, *e;
        size_t k;
        if (tt_state_batch_events(l, json_string_value(x), &evs, NULL) != TT_OK)
            continue;
        json_array_foreach(evs, k, e)
        {
            if (n == cap) {
                uint64_t *ns = realloc(seqs, (cap = cap * 2 + 64) * sizeof *seqs);
                if (ns == NULL)
                    break;
                seqs = ns;
            }
            seqs[n++] = (uint64_t)jint(e, "seq");
        }
        json_decref(evs);
    }
    json_decref(codes);
    json_t *out = json_array();
    if (n)
        qsort(seqs, n, sizeof *seqs, seq_cmp);
    for (size_t a = 0; a < n; a++)
        if (a == 0 || seqs[a] != seqs[a - 1])
            json_array_append_new(out, json_integer((json_int_t)seqs[a]));
    free(seqs);
    return out;
}

/* The events of entry `seq` that pass f, appended to `page`; bytes added in *bytes. */
static void add_entry(tt_ledger *l, const char *base, json_t *gtins, uint64_t seq,
                      const filter *f, json_t *page, size_t *bytes)
{
    uint8_t *data;
    size_t len;
    tt_entry e;
    if (tt_ledger_entry(l, seq, &data, &len, NULL) != TT_OK)
        return;
    if (tt_entry_decode((tt_bytes){len, data}, &e, NULL) == TT_OK) {
        ectx c = {.l = l, .base = base, .gtins = gtins, .seq = seq, .e = &e, .data = data,
                  .len = len};
        c.body = tt_json_load((const char *)e.body.data, e.body.size, 0, NULL);
        tt_entry_hash((tt_bytes){len, data}, c.hash);
        tt_state_actor_of_key(l, e.actor, c.signer, NULL);
        json_t *evs = json_array(), *ev;
        size_t i;
        if (c.body)
            entry_events(&c, evs);
        json_array_foreach(evs, i, ev)
        {
            if (keep(f, ev)) {
                json_array_append(page, ev);
                *bytes += len * 2 + 1500;
            }
        }
        json_decref(evs);
        json_decref(c.body);
    }
    free(data);
}

tt_err tt_epcis_page(tt_ledger *l, const char *base_url, json_t *q, json_t **events, char **next,
                     tt_error *err)
{
    filter f;
    tt_err rc;
    *events = NULL;
    *next = NULL;
    if ((rc = str_list(q, "bizStep", &f.steps, err)) != TT_OK ||
        (rc = str_list(q, "epc", &f.epcs, err)) != TT_OK ||
        (rc = str_list(q, "epcClass", &f.classes, err)) != TT_OK ||
        (rc = time_arg(q, "ge_time", &f.ge_ms, err)) != TT_OK ||
        (rc = time_arg(q, "lt_time", &f.lt_ms, err)) != TT_OK)
        return rc;
    int64_t from = seq_arg(q, "from"), to = seq_arg(q, "to"), limit = seq_arg(q, "limit");
    if (from == -2 || to == -2 || limit == -2 || limit == 0 || limit > 500)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "\"from\" and \"to\" must be entry numbers and \"limit\" 1 to 500");
    json_t *cur = json_object_get(q, "cursor");
    int64_t start = from < 0 ? 0 : from;
    if (cur) {
        const char *s = json_string_value(cur);
        char *end;
        long long v = s ? strtoll(s, &end, 10) : -1;
        if (s == NULL || *s < '0' || *s > '9' || *end || v < start)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "\"cursor\" must be the \"next\" of the page before, unchanged");
        start = v;
    }
    const char *id = jstr(q, "id");
    char code[TT_CODE_LEN + 1];
    if (id) {
        if ((rc = tt_code_parse(id, code, err)) != TT_OK)
            return rc;
        json_t *b = NULL;
        if ((rc = tt_state_batch(l, code, &b, err)) != TT_OK)
            return rc;
        json_decref(b);
        json_object_set_new(q, "id", json_string(code));
    }
    uint64_t size = 0;
    tt_ledger_head(l, &size, NULL, NULL);
    uint64_t last = to >= 0 && (uint64_t)to < size ? (uint64_t)to : size ? size - 1 : 0;
    if (limit < 0)
        limit = 100;
    json_t *page = json_array(), *gtins = json_object();
    json_t *cand = candidates(l, base_url, q, &f);
    size_t bytes = 0, looked = 0;
    uint64_t resume = UINT64_MAX;
    /* the seqs to look at: the candidates', or the whole range */
    size_t ncand = cand ? json_array_size(cand) : 0, ci = 0;
    for (uint64_t s = (uint64_t)start;;) {
        if (cand) {
            while (ci < ncand && (uint64_t)json_integer_value(json_array_get(cand, ci)) < s)
                ci++;
            if (ci == ncand)
                break;
            s = (uint64_t)json_integer_value(json_array_get(cand, ci++));
        }
        if (size == 0 || s > last)
            break;
        if (json_array_size(page) >= (size_t)limit || bytes >= PAGE_BYTES ||
            looked >= PAGE_ENTRIES) {
            resume = s;
            break;
        }
        add_entry(l, base_url, gtins, s, &f, page, &bytes);
        looked++;
        if (!cand)
            s++;
    }
    json_decref(cand);
    json_decref(gtins);
    if (resume != UINT64_MAX && asprintf(next, "%llu", (unsigned long long)resume) < 0)
        *next = NULL;
    *events = page;
    return TT_OK;
}
