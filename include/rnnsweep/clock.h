/* clock.h — elapsed time, measured and shown one way for the whole program.
 *
 * clock_now is the monotonic clock every duration, deadline, rate and ETA
 * is measured on (the trainer's job time limit, the farm's scheduling and
 * progress, the commands' meters, the tests' timeouts); clock_cpu is this
 * process's CPU time (`bench --cpu-time`).  clock_duration is the one format
 * in which a person reads a duration: the sweep's ETA line and the status
 * report's ages and ETA.  clock_sleep and clock_iso_now are the one sleep
 * and the one timestamp.
 */
#ifndef RNNSWEEP_CLOCK_H
#define RNNSWEEP_CLOCK_H

#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences). */
double clock_now(void);

/* CPU seconds of this process (CLOCK_PROCESS_CPUTIME_ID), all threads. */
double clock_cpu(void);

/* Sleep `seconds` (fractions too); a signal may end it early. */
void clock_sleep(double seconds);

/* The wall-clock time now as ISO-8601 UTC with seconds, 2024-05-01T12:00:00Z
 * (the database's timestamps). */
void clock_iso_now(char buf[32]);

/* A duration in seconds as text into out[n]: "42s" below 2 minutes,
 * "3m05s" below 2 hours, else "2h07m", rounded to the unit shown; "?" when
 * unknown (NaN, negative, or over 1e9 s). */
void clock_duration(double seconds, char *out, size_t n);

#endif
