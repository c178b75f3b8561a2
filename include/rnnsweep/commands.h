/* commands.h — the rnnsweep commands; main.c dispatches argv[1] to one of these.
 *
 * Each takes the argument vector after the command name (argv[0] is the
 * command) and returns the process exit code: 0 done, 1 failure, 2 bad input
 * (nothing written), 3 interrupted and resumable.
 */
#ifndef RNNSWEEP_COMMANDS_H
#define RNNSWEEP_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_gradient(int argc, char **argv);
int cmd_lyap(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
