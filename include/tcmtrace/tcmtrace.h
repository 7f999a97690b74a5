/* tcmtrace/tcmtrace.h: the whole public API of libtcmtrace. */
#ifndef TCMTRACE_H
#define TCMTRACE_H

#include "tcmtrace/api.h"
#include "tcmtrace/audit.h"
#include "tcmtrace/bytes.h"
#include "tcmtrace/entry.h"
#include "tcmtrace/err.h"
#include "tcmtrace/event.h"
#include "tcmtrace/herbs.h"
#include "tcmtrace/key.h"
#include "tcmtrace/label.h"
#include "tcmtrace/ledger.h"
#include "tcmtrace/limits.h"
#include "tcmtrace/merkle.h"
#include "tcmtrace/note.h"
#include "tcmtrace/policy.h"
#include "tcmtrace/net.h"
#include "tcmtrace/scans.h"
#include "tcmtrace/sha256.h"
#include "tcmtrace/smt.h"
#include "tcmtrace/state.h"
#include "tcmtrace/statemap.h"
#include "tcmtrace/tiles.h"
#include "tcmtrace/tracecode.h"
#include "tcmtrace/witness.h"

#define TT_VERSION "0.1.0"

#endif
