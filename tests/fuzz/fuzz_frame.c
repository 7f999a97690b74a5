/*
 * libFuzzer: binary submit frames, through the daemon's own frame parser and
 * the check of each event it holds (the writer is not run).
 */
#include <stdlib.h>
#include <string.h>

#include "../../daemon/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static frame_event ev[TT_SUBMIT_MANY_MAX];
    config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.at_ahead_ms = 600000;
    cfg.at_behind_ms = 30LL * 86400000;
    size_t n = 0;
    int many = 0;
    tt_error err;
    if (api_frame_parse(data, size, &many, ev, &n, &err) != TT_OK)
        return 0;
    if (n == 0 || n > TT_SUBMIT_MANY_MAX || (!many && n != 1))
        abort(); /* the parser let through what the format forbids */
    for (size_t i = 0; i < n; i++) {
        if (ev[i].body + ev[i].body_len > data + size || ev[i].actor < data)
            abort(); /* an event reaching outside the frame */
        job j;
        memset(&j, 0, sizeof j);
        api_check_frame_event(&cfg, &ev[i], &j, &err);
        tt_event_free(&j.ev); /* parsed even when its time is refused */
        free(j.body);
        free(j.stored);
    }
    return 0;
}
