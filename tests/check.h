/* check.h — reporting shared by every C unit test (header only).
 *
 * check() prints one line per comparison — ok/FAIL, what was compared, the
 * worst deviation and its tolerance — and counts failures; a NaN deviation
 * fails.  check_true() does the same for a yes/no property, with a detail
 * (what was seen) formatted like printf.  check_summary() prints the totals
 * and gives the exit code, so a test that finds a failure cannot return 0.
 */
#ifndef RNNSWEEP_TESTS_CHECK_H
#define RNNSWEEP_TESTS_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include "rnnsweep/clock.h" /* clock_now for timings and timeouts */

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

/* One yes/no check: passes iff ok; detail (fmt may be NULL) says what was seen. */
static inline void check_true(int ok, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void check_true(int ok, const char *what, const char *fmt, ...)
{
    char detail[1200] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    printf("%-4s %-64s %s\n", ok ? "ok" : "FAIL", what, detail);
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

/* "NAME: P passed, F failed"; returns the exit code (1 if anything failed). */
static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passes, check_failures);
    return check_failures ? 1 : 0;
}

#endif
