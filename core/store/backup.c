/*
 * backup.c: a consistent, compacted copy of a ledger and of its scans, while the daemon
 * writes (LMDB's own hot copy, mdb_env_copy2, of each environment).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "store/ledger_internal.h"
#include "tcmtrace/scans.h"

tt_err tt_ledger_backup(tt_ledger *l, const char *out, tt_error *err)
{
    if (mkdir(out, 0700) != 0)
        return tt_fail(err, errno == EEXIST ? TT_ERR_EXISTS : TT_ERR_IO,
                       "cannot create %s for the backup: %s%s", out, strerror(errno),
                       errno == EEXIST ? " (a backup goes into a new directory)" : "");
    /* LMDB's own copy: one read transaction, so consistent while the
     * daemon writes, and compacted */
    pthread_rwlock_rdlock(&l->resize_lock);
    int rc = mdb_env_copy2(l->env, out, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&l->resize_lock);
    if (rc != 0)
        return tt_mdb_fail(err, rc, "cannot copy the ledger");
    return tt_scan_backup(l, out, err);
}
