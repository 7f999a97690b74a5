/*
 * api.c: the daemon's side of a submit: a request's actor, signature and
 * body checked, the body parsed for the writer and its time held to the
 * daemon's window. Every other operation is the library's (core/api.c).
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
    j->body_len = json_string_length(body);
    if (j->body_len > TT_BODY_MAX)
        return tt_fail(err, TT_ERR_TOO_LARGE, "event body is %zu bytes; the limit is %d",
                       j->body_len, TT_BODY_MAX);
    if ((j->body = malloc(j->body_len + 1)) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, "the daemon is out of memory; nothing was written");
    memcpy(j->body, json_string_value(body), j->body_len + 1);
    tt_bytes b = {j->body_len, (uint8_t *)j->body};
    if (tt_event_verify(b, j->actor, j->sig) != TT_OK)
        return tt_fail(err, TT_ERR_BAD_SIGNATURE,
                       "the signature does not verify for this body and key");
    tt_err rc = tt_event_parse(b, &j->ev, err); /* kept for the writer's rules */
    return rc == TT_OK ? check_window(cfg, &j->ev, err) : rc;
}
