/* main.c — rnnsweep's entry point: sets up the BLAS environment and GSL's
 * error handling, and dispatches a command. */
#include "rnnsweep/blasenv.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/commands.h"
#include "version.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *about;
} commands[] = {
    {"sweep", cmd_sweep, "run a sweep file's jobs under mpirun/srun into a results database"},
    {"status", cmd_status, "counts by status and per grid axis of a results database"},
    {"export", cmd_export, "write a job's initial and final weights as .npy"},
    {"train", cmd_train, "train one job; learning curve as CSV on stdout"},
    {"task", cmd_task, "write one batch of a task as .npy files (SPEC §6)"},
    {"gradient", cmd_gradient, "write weights, batch, loss and gradient at initialisation as .npy"},
    {"lyap", cmd_lyap, "write the Lyapunov exponents of the initial network as .npy"},
    {"bench", cmd_bench, "time training, exponents and flossing against the measured dgemm peak"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: rnnsweep COMMAND [options]    (rnnsweep COMMAND --help for its options)\n\n"
               "How initial connectivity shapes learning in RNNs: train leaky RNNs on\n"
               "romo/2af/dms with BPTT, e-prop or RFLO, measure Lyapunov exponents, floss.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].about);
    fprintf(f, "\n  --version  print version, git commit and BLAS core\n"
               "\nexit codes: 0 done, 1 failure, 2 bad input (nothing written), 3 interrupted (resumable)\n");
}

int main(int argc, char **argv)
{
    blasenv_ensure(argv);
    /* GSL's default handler aborts the process (and with it an MPI launch)
     * on any GSL error; with it off, GSL functions return their error code
     * (or NULL from an _alloc), which the library code checks. */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("rnnsweep %s (git %s), OpenBLAS core %s, %d thread(s)\n", RNNSWEEP_VERSION,
               RNNSWEEP_GIT, blasenv_core(), blasenv_threads());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rnnsweep: unknown command '%s' (see rnnsweep --help)\n", argv[1]);
    return EXIT_USAGE;
}
