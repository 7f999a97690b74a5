/*
 * libFuzzer: Merkle proof verification. Input: u64 index or size1, u64
 * size or size2, a mode byte, then 32-byte leaf/root1, 32-byte root/root2
 * and the proof.
 */
#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17 + 64)
        return 0;
    uint64_t a = tt_get_u64be(data), b = tt_get_u64be(data + 8);
    tt_bytes x = {32, data + 17}, y = {32, data + 49}, proof = {size - 81, data + 81};
    if (data[16] & 1)
        tt_merkle_verify_consistency(a, b, x, y, proof, NULL);
    else
        tt_merkle_verify_inclusion(a, b, x, proof, y, NULL);
    return 0;
}
