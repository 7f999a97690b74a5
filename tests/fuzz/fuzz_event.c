/* libFuzzer: event bodies, as the rules see them. */
#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_event ev;
    tt_error err;
    if (tt_event_parse((tt_bytes){size, data}, &ev, &err) == TT_OK)
        tt_event_free(&ev);
    return 0;
}
