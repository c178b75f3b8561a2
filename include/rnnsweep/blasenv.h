/* blasenv.h — run OpenBLAS with the right kernels and one thread, without the user knowing.
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its SSE3 "Prescott" kernels on some
 * AVX-512 CPUs, 4x slower than its SkylakeX kernels (DESIGN.md).  It reads
 * OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS only when it loads, before
 * main(), so blasenv_ensure sets them from the CPU's features and re-executes
 * the program once.  A value the user set is kept.
 */
#ifndef RNNSWEEP_BLASENV_H
#define RNNSWEEP_BLASENV_H

/* Call first in main(), before MPI_Init.  Returns only if no re-exec was
 * needed or it failed (then the program runs, slower). */
void blasenv_ensure(char **argv);

/* Core type OpenBLAS is using (e.g. "SkylakeX") and its thread count. */
const char *blasenv_core(void);
int blasenv_threads(void);

#endif
