/* cmd_db.h — internal: how a command opens the results database (src/cmd_db.c).
 *
 * Every command that reads or writes a database (sweep, sweep --check,
 * status, export) reports a store failure the same way: one line
 * "rnnsweep CMD: MESSAGE" on stderr (the store's message names the file),
 * and exit code 2 for what the store refuses (not a database, not ours, a
 * newer schema, damaged, locked by a live launch, ...: bad input, nothing
 * written) or 1 for any other failure.
 */
#ifndef RNNSWEEP_CMD_DB_H
#define RNNSWEEP_CMD_DB_H

#include "rnnsweep/store.h"

/* The exit code of store return code rc for command cmd: EXIT_OK for
 * STORE_OK; otherwise "rnnsweep CMD: msg" is printed and the code is
 * EXIT_USAGE for STORE_REFUSED, EXIT_FAIL for anything else. */
int cmd_db_exit(const char *cmd, int rc, const char *msg);

/* store_open(out, path, flags) for command cmd, mapped by cmd_db_exit:
 * EXIT_OK with *out open, or the message and EXIT_USAGE / EXIT_FAIL with
 * *out NULL. */
int cmd_db_open(const char *cmd, const char *path, int flags, store **out);

#endif
