/*
 * libFuzzer: entries in their stored form (core/stored.c), as a damaged
 * store could hold them. Bytes that begin with the stored form's first byte
 * are read as a stored entry: inflating never reads or writes past its
 * buffers, and what it gives back is a whole entry of the length its header
 * names. Any other bytes are taken as an event body: its entry, stored and
 * read back, is exactly its wire bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/store/ledger_internal.h"
#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t wire[TT_ENTRY_MAX], packed[TT_ENTRY_MAX], back[TT_ENTRY_MAX];
    size_t len, n, blen;
    if (size > 0 && data[0] == TT_STORED_DEFLATED) {
        if (tt_stored_unpack((tt_bytes){size, data}, back, sizeof back, &blen, NULL) != TT_OK)
            return 0;
        tt_entry e;
        if (blen != tt_stored_size((tt_bytes){size, data}) || back[0] != TT_ENTRY_VERSION ||
            memcmp(back + 1, data + 1, TT_ENTRY_HEADER_SIZE - 1) != 0 ||
            tt_entry_decode((tt_bytes){blen, back}, &e, NULL) != TT_OK)
            abort();
        return 0;
    }
    if (size > TT_BODY_MAX)
        return 0;
    tt_entry e = {.version = TT_ENTRY_VERSION, .seq = size, .time_ms = 1};
    e.body = (tt_bytes){size, data};
    if (tt_entry_encode(&e, wire, sizeof wire, &len, NULL) != TT_OK)
        abort();
    n = tt_stored_pack(wire, len, packed, sizeof packed);
    tt_bytes stored = n ? (tt_bytes){n, packed} : (tt_bytes){len, wire};
    if ((n && n >= len) || tt_stored_unpack(stored, back, sizeof back, &blen, NULL) != TT_OK ||
        blen != len || memcmp(back, wire, len) != 0)
        abort();
    return 0;
}
