/* test_fuzz_lf.c — libFuzzer entry points for the sweep-file and option parsers.
 *
 * Built by tests/test_fuzz_lf.sh with clang -fsanitize=fuzzer,address,undefined,
 * once with -DFUZZ_SWEEP (the input is a sweep file for sweep_load) and once
 * without (the input is argv, one argument a line, for cli_parse).  Every
 * input must pass the properties of test_fuzz.h, the same as the seeded
 * fuzzer's; a failure prints why and traps, which libFuzzer reports as a
 * crash and saves the input.  Sweep inputs go through one scratch file in
 * $TMPDIR, removed at exit.
 */
#include "test_fuzz.h"

#include <stdint.h>
#include <unistd.h>

#ifdef FUZZ_SWEEP
static char path[600];

static void remove_path(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/rnnsweep-fuzz-%d.ini", t ? t : "/tmp", (int)getpid());
    atexit(remove_path);
    return 0;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[FUZZ_WHY];
    double cpu;
#ifdef FUZZ_SWEEP
    size_t jobs;
    int rc = fuzz_sweep_one(path, data, size, &cpu, &jobs, why);
#else
    int rc = fuzz_cli_one(data, size, &cpu, why);
#endif
    if (rc != 0) {
        fprintf(stderr, "rnnsweep fuzz property failed: %s\n", why);
        __builtin_trap();
    }
    return 0;
}
