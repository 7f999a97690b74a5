/*
 * submit.c: the daemon's side of a submit: a request's actor, signature and
 * body checked (from JSON, or from a binary submit frame), the body parsed
 * for the writer and its time held to the daemon's window. Every other
 * operation is the library's (core/api.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* An event's "at" must fall in the daemon's window around its own clock. */
static tt_err check_window(const config *cfg, const tt_event *ev, tt_error *err)
{
    const char *at = tt_event_str(ev, "at");
    int64_t ms = 0, now = (int64_t)tt_now_ms();
    tt_rfc3339_ms(at, &ms);
    if (ms > now + cfg->at_ahead_ms)
        return tt_fail(err, TT_ERR_BAD_TIME,
                       "\"at\" %s is %lld minutes ahead of the ledger's clock (at most %lld); "
                       "set the signing device's clock right and sign again",
                       at, (long long)((ms - now) / 60000), (long long)(cfg->at_ahead_ms / 60000));
    if (ms < now - cfg->at_behind_ms)
        return tt_fail(err, TT_ERR_BAD_TIME,
                       "\"at\" %s is %lld days behind the ledger's clock (at most %lld); a device "
                       "catching up on older events needs at_behind_days raised in tcmtraced.conf",
                       at, (long long)((now - ms) / 86400000),
                       (long long)(cfg->at_behind_ms / 86400000));
    return TT_OK;
}

tt_err api_check_submit(const config *cfg, job *j, tt_error *err)
{
    const char *actor = json_string_value(json_object_get(j->req, "actor"));
    const char *sig = json_string_value(json_object_get(j->req, "sig"));
    json_t *body = json_object_get(j->req, "body");
    size_t n = 0;
    if (actor == NULL || tt_unb64(actor, strlen(actor), 0, j->actor, TT_PK_SIZE, &n) != TT_OK ||
        n != TT_PK_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "\"actor\" must be a base64 32-byte public key");
    if (sig == NULL || tt_unb64(sig, strlen(sig), 0, j->sig, TT_SIG_SIZE, &n) != TT_OK ||
        n != TT_SIG_SIZE)
        return tt_fail(err, TT_ERR_MALFORMED, "\"sig\" must be a base64 64-byte signature");
    if (!json_is_string(body))
        return tt_fail(err, TT_ERR_MALFORMED,
                       "\"body\" must be the signed event JSON, as a string");
    /* the ledger the client signed for, when it says: another's is refused by name */
    json_t *ledger = json_object_get(j->req, "ledger");
    if (ledger && !json_is_string(ledger))
        return tt_fail(err, TT_ERR_MALFORMED, "\"ledger\" must be the origin of a ledger");
    if (ledger && cfg->origin && strcmp(json_string_value(ledger), cfg->origin) != 0)
        return tt_fail(err, TT_ERR_WRONG_LEDGER,
                       "this event was signed for the ledger %.100s, and this is %s; an event "
                       "counts only on the ledger it names",
                       json_string_value(ledger), cfg->origin);
    j->body_len = json_string_length(body);
    if (j->body_len > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "event body is %zu bytes; the limit is %d",
                       j->body_len, TT_BODY_MAX);
    if ((j->body = malloc(j->body_len + 1)) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, "the daemon is out of memory; nothing was written");
    memcpy(j->body, json_string_value(body), j->body_len + 1);
    return api_check_signed(cfg, j, err);
}

tt_err api_check_signed(const config *cfg, job *j, tt_error *err)
{
    tt_bytes b = {j->body_len, (uint8_t *)j->body};
    if (tt_event_verify(cfg->origin, b, j->actor, j->sig) != TT_OK)
        return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                       "the signature does not verify for this body and key, as an event for "
                       "the ledger %s", cfg->origin ? cfg->origin : "(none)");
    tt_err rc = tt_event_parse(b, &j->ev, err); /* kept for the writer's rules */
    if (rc == TT_OK)
        rc = check_window(cfg, &j->ev, err);
    /* deflated here, on the worker, so the writer does not (it stores the body as it is if
     * there is no room for this) */
    if (rc == TT_OK && (j->stored = malloc(j->body_len)) != NULL &&
        (j->stored_len = tt_stored_body(b, j->stored, j->body_len)) == 0) {
        free(j->stored);
        j->stored = NULL;
    }
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

tt_err api_frame_parse(const uint8_t *p, size_t n, int *many, frame_event *ev, size_t *count,
                       tt_error *err)
{
    if (n < TT_FRAME_HEADER || memcmp(p, TT_FRAME_MAGIC, 4) != 0)
        return tt_fail(err, TT_ERR_MALFORMED, "a binary submit frame starts with \\x89TSB");
    if (p[4] != 1)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "binary submit frame version %u is not known here; this daemon reads "
                       "version 1",
                       p[4]);
    if (p[5] != 1 && p[5] != 2)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "a binary submit frame's kind is 1 (submit) or 2 (submit_many), not %u",
                       p[5]);
    size_t c = (size_t)p[6] << 8 | p[7];
    *many = p[5] == 2;
    if (c == 0 || (!*many && c != 1) || c > TT_SUBMIT_MANY_MAX)
        return tt_fail(err, *many && c > TT_SUBMIT_MANY_MAX ? TT_ERR_TOO_LARGE : TT_ERR_MALFORMED,
                       "a binary submit frame holds one event (kind 1) or 1 to %d (kind 2), "
                       "not %zu",
                       TT_SUBMIT_MANY_MAX, c);
    size_t off = TT_FRAME_HEADER;
    for (size_t i = 0; i < c; i++) {
        if (n - off < TT_FRAME_EVENT_HEADER)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "the binary submit frame ends inside event %zu's header", i);
        uint32_t len = be32(p + off + 96);
        if (len > TT_BODY_MAX)
            return tt_fail(err, TT_ERR_TOO_LARGE, "event %zu's body is %u bytes; the limit is %d",
                           i, len, TT_BODY_MAX);
        if (n - off - TT_FRAME_EVENT_HEADER < len)
            return tt_fail(err, TT_ERR_MALFORMED,
                           "the binary submit frame ends inside event %zu's body", i);
        ev[i] = (frame_event){p + off, p + off + 32, p + off + TT_FRAME_EVENT_HEADER, len};
        off += TT_FRAME_EVENT_HEADER + len;
    }
    if (off != n)
        return tt_fail(err, TT_ERR_MALFORMED,
                       "%zu bytes follow the last event of the binary submit frame", n - off);
    *count = c;
    return TT_OK;
}

tt_err api_check_frame_event(const config *cfg, const frame_event *fe, job *j, tt_error *err)
{
    memcpy(j->actor, fe->actor, TT_PK_SIZE);
    memcpy(j->sig, fe->sig, TT_SIG_SIZE);
    j->body_len = fe->body_len;
    if ((j->body = malloc(fe->body_len + 1)) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, "the daemon is out of memory; nothing was written");
    memcpy(j->body, fe->body, fe->body_len);
    j->body[fe->body_len] = '\0';
    if (memchr(j->body, '\0', fe->body_len))
        return tt_fail(err, TT_ERR_MALFORMED, "an event body holds a NUL byte");
    return api_check_signed(cfg, j, err);
}
