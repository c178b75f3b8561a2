/* check.h — reporting shared by the numerical unit tests (header only).
 *
 * check() prints one line per comparison — ok/FAIL, what was compared, the
 * worst deviation and its tolerance — and counts failures; a NaN deviation
 * fails.  check_summary() prints the totals and gives the exit code, so a
 * test that finds a deviation cannot return 0.
 */
#ifndef RNNSWEEP_TESTS_CHECK_H
#define RNNSWEEP_TESTS_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

static int check_failures, check_passes;

static inline void check(const char *what, double dev, double tol)
{
    const int ok = dev <= tol; /* NaN fails */
    printf("%-4s %-64s worst %.3e  tol %.1e\n", ok ? "ok" : "FAIL", what, dev, tol);
    if (ok)
        check_passes++;
    else
        check_failures++;
}

/* Norm-wise relative error ||g - ref|| / ||ref|| (||ref|| = 0 counts as 1). */
static inline double check_rel_err(const double *g, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t q = 0; q < n; q++) {
        num += (g[q] - ref[q]) * (g[q] - ref[q]);
        den += ref[q] * ref[q];
    }
    return sqrt(num) / (sqrt(den) > 0 ? sqrt(den) : 1.0);
}

static inline double check_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* "NAME: P passed, F failed"; returns the exit code (1 if anything failed). */
static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passes, check_failures);
    return check_failures ? 1 : 0;
}

#endif
