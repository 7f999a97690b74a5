/* libFuzzer: state map proofs (smt.h) and leaf texts (statemap.h). Whatever the bytes, the
 * decoder says yes or no without reading past them; a proof it accepts re-encodes to the same
 * bytes; and no proof verifies a leaf under a root it was not made for (here: the vectors'
 * root, which only the published proofs lead to). */
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/tcmtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_smt_proof *p = malloc(sizeof *p);
    static uint8_t wire[TT_SMT_PROOF_MAX];
    if (tt_smt_proof_decode((tt_bytes){size, data}, p, NULL) == TT_OK) {
        size_t n = tt_smt_proof_encode(p, wire);
        if (n != size || memcmp(wire, data, size) != 0)
            abort(); /* one wire form per proof */
        uint8_t key[32], root[32] = {1};
        tt_smt_key("2612070000002022", key);
        static const char leaf[] = "tcmtrace-state/v1\nstatus active\nholder T-1\nto -\n"
                                   "remaining_g 1\nverdict pass\nlast 1\n";
        if (tt_smt_verify(root, key, p, (const uint8_t *)leaf, sizeof leaf - 1, NULL) == TT_OK)
            abort(); /* a root no proof can reach without a preimage */
        tt_smt_verify(root, key, p, NULL, 0, NULL);
    }
    free(p);
    tt_state_leaf lf;
    tt_statemap_leaf_parse((const char *)data, size, &lf, NULL);
    return 0;
}
