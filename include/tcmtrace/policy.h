/*
 * tcmtrace/policy.h: which witnesses a log asks and how many must cosign.
 *
 * A policy is text, one statement a line ('#' starts a comment), after
 * Sigsum's trust policy with C2SP verifier keys:
 *
 *   witness <label> <vkey> [<url>]        a cosigner (its vkey has type 0x04) and where it
 *                                          takes add-checkpoint (its submission prefix)
 *   group <label> <k>|all|any <label>...  k of the named witnesses or groups
 *   quorum <label>|none                   what a checkpoint needs
 *
 * Labels are defined before they are used (so no cycle can form); a policy
 * with witnesses has exactly one quorum line.
 */
#ifndef TCMTRACE_POLICY_H
#define TCMTRACE_POLICY_H

#include <stddef.h>

#include "tcmtrace/err.h"
#include "tcmtrace/note.h"

#define TT_POLICY_MAX 32       /* witnesses, and groups, in one policy */
#define TT_POLICY_LABEL 64
#define TT_POLICY_URL 512

typedef struct tt_policy_group {
    char label[TT_POLICY_LABEL];
    unsigned k, n;
    int member[TT_POLICY_MAX]; /* >= 0: a witness; < 0: group -(m + 1) */
} tt_policy_group;

typedef struct tt_policy {
    size_t nwitness, ngroup;
    tt_verifier witness[TT_POLICY_MAX];
    char label[TT_POLICY_MAX][TT_POLICY_LABEL];
    char url[TT_POLICY_MAX][TT_POLICY_URL];
    tt_policy_group group[TT_POLICY_MAX];
    int has_quorum; /* 0: no quorum line (no witnesses) or "quorum none" */
    int quorum;     /* as a group member */
} tt_policy;

/* Parses a policy; the error names the line and what is wrong with it. */
tt_err tt_policy_parse(const char *text, size_t len, tt_policy *p, tt_error *err);

/* Whether witnesses that cosigned (cosigned[i] for witness i) meet the quorum. */
int tt_policy_met(const tt_policy *p, const int *cosigned);

/*
 * For people: how many cosigned and how many the quorum asks at least (the
 * smallest number of witnesses that can meet it), e.g. "3 cosigned, 2 required".
 */
unsigned tt_policy_required(const tt_policy *p);

/*
 * Checks a checkpoint note's cosignatures against the policy: which
 * witnesses cosigned it (cosigned, capacity TT_POLICY_MAX; times, may be
 * NULL) and whether the quorum is met. A witness's bad cosignature is an
 * error (the note is malformed), as in signed-note.
 */
tt_err tt_policy_check(const tt_policy *p, const char *note, size_t len, int *cosigned,
                       uint64_t *times, int *met, tt_error *err);

#endif
