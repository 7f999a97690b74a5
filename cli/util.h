/*
 * util.h: what the daemon and the command-line tool share that is not part
 * of the library: reading passphrases, locating shipped data, loading keys.
 */
#ifndef TCMTRACE_UTIL_H
#define TCMTRACE_UTIL_H

#include <stddef.h>

#include "tcmtrace/tcmtrace.h"

/*
 * A passphrase: from the file named by `file` (first line), else from the
 * environment variable `env`, else asked on the terminal (twice when
 * `confirm`). Returns a malloc'd string (wipe and free with tu_pass_free)
 * or NULL with a sentence in err.
 */
char *tu_passphrase(const char *file, const char *env, const char *prompt, int confirm,
                    tt_error *err);
void tu_pass_free(char *p);

/* Loads a secret key file, asking for its passphrase only if it is sealed. */
tt_err tu_load_secret(const char *path, const char *pass_file, const char *pass_env, tt_keypair *kp,
                      tt_error *err);

/* The path of shipped data `name` (as under schemas/, "limits/chp2020.json"):
 * beside the build tree, or installed in share/tcmtrace/. Free it. */
char *tu_shipped_path(const char *name);

#endif
