/* clock.c — monotonic and CPU seconds, and how a duration is written (clock.h). */
#include "rnnsweep/clock.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double clock_now(void)
{
    return seconds(CLOCK_MONOTONIC);
}

double clock_cpu(void)
{
    return seconds(CLOCK_PROCESS_CPUTIME_ID);
}

void clock_sleep(double s)
{
    if (!(s > 0))
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

void clock_iso_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void clock_duration(double s, char *out, size_t n)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(out, n, "?");
        return;
    }
    const long t = lround(s); /* whole seconds first, so "2m60s" cannot appear */
    if (t < 120) {
        snprintf(out, n, "%lds", t);
    } else if (t < 7200) {
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    } else {
        const long m = lround(s / 60);
        snprintf(out, n, "%ldh%02ldm", m / 60, m % 60);
    }
}
