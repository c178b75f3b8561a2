/* blasenv.c — choose OpenBLAS's core type and thread count before it loads.
 *
 * The core type follows the CPU's instruction sets: AVX-512 (F, BW, DQ, VL)
 * -> SkylakeX, AVX2 + FMA -> Haswell; otherwise OpenBLAS's own choice stands.
 * Ranks are the unit of parallelism, so BLAS gets one thread unless the user
 * says otherwise.  RNNSWEEP_BLASENV=1 marks the re-executed process.
 */
#include "rnnsweep/blasenv.h"

#include <stdlib.h>
#include <unistd.h>

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

static const char *wanted_core(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}

void blasenv_ensure(char **argv)
{
    if (getenv("RNNSWEEP_BLASENV"))
        return;
    int change = 0;
    const char *core = wanted_core();
    if (core && !getenv("OPENBLAS_CORETYPE")) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        change = 1;
    }
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        change = 1;
    }
    setenv("RNNSWEEP_BLASENV", "1", 1);
    if (change)
        execv("/proc/self/exe", argv);
}

const char *blasenv_core(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

int blasenv_threads(void)
{
    return openblas_get_num_threads();
}
