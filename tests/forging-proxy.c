/*
 * forging-proxy: a test helper. Listens on ipc://DIR/api.sock as a daemon
 * would and relays every request to the real daemon at UPSTREAM, but
 * answers every "proof" with its hashes replaced by numbers: what a hostile
 * or broken server might send. The client must refuse it, not crash.
 * With --old-checkpoint N it forges nothing but answers every request for
 * the latest checkpoint with the genuinely signed one of size N: a server
 * showing an old view of the log.
 *
 * With --checkpoint-note FILE it answers every checkpoint request with the
 * note in FILE: a checkpoint of another log, say, signed with this log's key.
 *
 * With --wrong-entry it forges nothing but answers a request for an entry by
 * its hash with entry 1, a genuine entry that is not the one asked for.
 *
 * With --hide TYPE it leaves every event of that type (batch.recall, say) out of every
 * batch and trace answer, and says the lots are active: a server that hides a recall.
 * With --state-size N it answers every state request with the genuine leaf and proof of
 * size N, said to be of the size asked for.
 *
 *   forging-proxy DIR UPSTREAM [--old-checkpoint N | --checkpoint-note FILE | --wrong-entry |
 *                               --hide TYPE | --state-size N]
 *   (until killed)
 */
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drops the events of `type` from every "events" array in v, and marks lots active. */
static void hide(json_t *v, const char *type)
{
    if (json_is_object(v)) {
        json_t *ev = json_object_get(v, "events");
        if (json_is_array(ev))
            for (size_t i = json_array_size(ev); i-- > 0;) {
                const char *t = json_string_value(json_object_get(json_array_get(ev, i), "type"));
                if (t && strcmp(t, type) == 0)
                    json_array_remove(ev, i);
            }
        if (json_object_get(v, "status") && json_object_get(v, "id"))
            json_object_set_new(v, "status", json_string("active"));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) hide(x, type);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) hide(x, type);
    }
}

int main(int argc, char **argv)
{
    long old = -1;
    char *note = NULL;
    int wrong_entry = argc == 4 && strcmp(argv[3], "--wrong-entry") == 0;
    const char *hidden = NULL;
    long state_size = -1;
    if (wrong_entry)
        ;
    else if (argc == 5 && strcmp(argv[3], "--hide") == 0)
        hidden = argv[4];
    else if (argc == 5 && strcmp(argv[3], "--state-size") == 0)
        state_size = atol(argv[4]);
    else if (argc == 5 && strcmp(argv[3], "--old-checkpoint") == 0)
        old = atol(argv[4]);
    else if (argc == 5 && strcmp(argv[3], "--checkpoint-note") == 0) {
        FILE *f = fopen(argv[4], "r");
        static char buf[8192];
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        note = buf;
    } else if (argc != 3)
        return fprintf(stderr, "usage: forging-proxy DIR UPSTREAM [--old-checkpoint N | --checkpoint-note FILE | --wrong-entry | --hide TYPE | --state-size N]\n"), 2;
    char url[4200];
    snprintf(url, sizeof url, "ipc://%s/api.sock", argv[1]);
    int rep = nn_socket(AF_SP, NN_REP), req = nn_socket(AF_SP, NN_REQ);
    if (nn_bind(rep, url) < 0 || nn_connect(req, argv[2]) < 0)
        return fprintf(stderr, "forging-proxy: %s\n", nn_strerror(nn_errno())), 1;
    for (;;) {
        char *in = NULL, *out = NULL;
        int n = nn_recv(rep, &in, NN_MSG, 0);
        if (n < 0)
            break;
        json_t *r = json_loadb(in, (size_t)n, 0, NULL);
        const char *op = r ? json_string_value(json_object_get(r, "op")) : NULL;
        if (note && op && strcmp(op, "checkpoint") == 0) { /* the forged note, as the answer */
            json_t *a = json_pack("{s:b, s:s}", "ok", 1, "checkpoint", note);
            char *s = json_dumps(a, JSON_COMPACT);
            nn_send(rep, s, strlen(s), 0);
            free(s);
            json_decref(a);
            json_decref(r);
            nn_freemsg(in);
            continue;
        }
        int forge = old < 0 && !wrong_entry && !hidden && state_size < 0 && op &&
                    strcmp(op, "proof") == 0;
        int hiding = hidden && op && (strcmp(op, "batch") == 0 || strcmp(op, "trace") == 0);
        json_t *asked_size = NULL;
        if (state_size >= 0 && op && strcmp(op, "state") == 0) { /* another size's answer */
            asked_size = json_incref(json_object_get(r, "size"));
            json_object_set_new(r, "size", json_integer(state_size));
            char *s2 = json_dumps(r, JSON_COMPACT);
            nn_freemsg(in);
            n = (int)strlen(s2);
            in = nn_allocmsg((size_t)n, 0);
            memcpy(in, s2, (size_t)n);
            free(s2);
        }
        if (wrong_entry && op && strcmp(op, "entry") == 0 && json_object_get(r, "hash")) {
            const char *other = "{\"op\":\"entry\",\"seq\":1}"; /* not the one asked for */
            nn_send(req, other, strlen(other), 0);
        } else if (old >= 0 && op && strcmp(op, "checkpoint") == 0 && !json_object_get(r, "size")) {
            json_object_set_new(r, "size", json_integer(old)); /* the old view */
            char *s = json_dumps(r, JSON_COMPACT);
            nn_send(req, s, strlen(s), 0);
            free(s);
        } else
            nn_send(req, in, (size_t)n, 0);
        json_decref(r);
        nn_freemsg(in);
        int m = nn_recv(req, &out, NN_MSG, 0);
        if (m < 0)
            break;
        json_t *a = forge || hiding || asked_size ? json_loadb(out, (size_t)m, 0, NULL) : NULL;
        size_t i;
        json_t *h;
        if (a && (hiding || asked_size)) {
            if (hiding)
                hide(a, hidden);
            if (asked_size)
                json_object_set(a, "size", asked_size);
            char *s = json_dumps(a, JSON_COMPACT);
            nn_send(rep, s, strlen(s), 0);
            free(s);
            json_decref(a);
        } else if (a) {
            json_array_foreach(json_object_get(a, "proof"), i, h)
                json_array_set_new(json_object_get(a, "proof"), i, json_integer(42));
            if (json_array_size(json_object_get(a, "proof")) == 0)
                json_object_set_new(a, "proof", json_pack("[i, {}]", 42));
            char *s = json_dumps(a, JSON_COMPACT);
            nn_send(rep, s, strlen(s), 0);
            free(s);
            json_decref(a);
        } else {
            nn_send(rep, out, (size_t)m, 0);
        }
        nn_freemsg(out);
        json_decref(asked_size);
    }
    return 0;
}
