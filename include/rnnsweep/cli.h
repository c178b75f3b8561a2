/* cli.h — command-line parsing and help shared by every rnnsweep command.
 *
 * A command accepts the job options (one per config key, `--floss-iters N`
 * or `--floss-iters=N`) when it says so, plus its own options described by a
 * cli_opt table.  Errors are one line naming the command, the option and the
 * problem; the caller exits with code 2.
 */
#ifndef RNNSWEEP_CLI_H
#define RNNSWEEP_CLI_H

#include <stdio.h>
#include "rnnsweep/config.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 3 };

typedef struct cli_opt {
    const char *name;   /* long name without dashes, e.g. "out" */
    const char *arg;    /* metavariable ("DIR"), or NULL for a flag */
    const char *help;
    const char *value;  /* set by cli_parse: the argument, "1" for a given flag, else NULL */
} cli_opt;

typedef struct cli_cmd {
    const char *name;   /* "train" */
    const char *usage;  /* "rnnsweep train [job options]" */
    const char *about;  /* paragraph printed under the usage line */
    cli_opt *opts;      /* the command's own options */
    int nopts;
    int with_job;       /* accepts the job options */
} cli_cmd;

/* Parse argv[1..argc-1] for cmd.  Job options go into *job (defaults first),
 * the command's own options into cmd->opts[i].value, at most one positional
 * argument into *positional (if not NULL).  Returns 0, 1 if --help was given
 * (help printed to stdout), or -1 after printing a one-line error to stderr. */
int cli_parse(const cli_cmd *cmd, int argc, char **argv, config *job, const char **positional);

/* Print a command's help: usage line, description, own options, job options. */
void cli_help(FILE *f, const cli_cmd *cmd);

/* Parse a command option's value as a long within [min,max]; -1 with a message on error. */
int cli_long(const cli_cmd *cmd, const cli_opt *o, long min, long max, long *out);

/* Parse a command option's value as a finite real within [min,max]. */
int cli_real(const cli_cmd *cmd, const cli_opt *o, double min, double max, double *out);

/* Resolve and check the job config (config_resolve); message + -1 on error. */
int cli_resolve(const cli_cmd *cmd, config *job, long steps);

#endif
