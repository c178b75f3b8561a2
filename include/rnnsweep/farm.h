/* farm.h — MPI master/worker scheduling of a sweep's jobs.
 *
 * Rank 0 is the master: it alone touches the database (store.h), hands out
 * pending jobs longest-expected-first, and writes each result in one
 * transaction.  Its main thread does only bookkeeping and sleeps when idle
 * (polling with MPI_Iprobe, never a busy blocking receive); a second thread
 * on rank 0 trains jobs like any worker, so P ranks keep P cores training and
 * `-n 1` runs the whole sweep in one process.  Ranks 1..P-1 are workers.
 * Only the main threads call MPI (MPI_THREAD_FUNNELED).
 *
 * SIGTERM, SIGINT, SIGUSR1, SIGHUP and SIGPIPE on any rank stop
 * dispatching; running jobs stop at their next iteration, checkpoint, and
 * are sent back; the master stores the checkpoints and the launch ends with
 * exit code 3 (resumable).  While a job runs, its worker sends the rows
 * recorded since its last message every `flush` seconds, which the master
 * writes (store_progress), so running jobs can be watched.
 */
#ifndef RNNSWEEP_FARM_H
#define RNNSWEEP_FARM_H

#include <stddef.h>
#include "rnnsweep/store.h"

typedef struct farm_opts {
    double grace;          /* seconds to wait for in-flight jobs after a signal */
    double job_time_limit; /* seconds per job attempt, 0 = none (status timeout) */
    double progress;       /* seconds between progress lines, 0 = none */
    double flush;          /* seconds between a running job's live rows, 0 = none */
    int save_weights;      /* store final weights of finished jobs */
} farm_opts;

enum farm_rc {
    FARM_DONE = 0,        /* nothing pending any more */
    FARM_INTERRUPTED = 3, /* stopped by a signal; checkpoints saved */
    FARM_ERROR = 1,       /* database or MPI failure; running jobs were stopped in order */
    FARM_ABANDONED = 4    /* grace period over with jobs still running: caller aborts */
};

/* Install the SIGTERM/SIGINT/SIGUSR1/SIGHUP/SIGPIPE handlers (every rank,
 * after MPI_Init). */
void farm_signals_install(void);

/* Every rank, after MPI_Init: MPI errors return codes (which the farm
 * checks) instead of aborting.  FARM_DONE or FARM_ERROR. */
int farm_init(void);

/* Check an MPI return code: MPI_SUCCESS -> 0; otherwise a one-line message
 * "rnnsweep sweep: MPI <what>: <MPI_Error_string>" on stderr and -1. */
int farm_mpi(int rc, const char *what);

/* Rank 0: run the sweep's pending jobs on ranks 0..nranks-1 until none is
 * left or a signal stops it; returns enum farm_rc.  hosts holds each rank's
 * processor name, one every `stride` chars (recorded when a job is claimed).
 * *done counts jobs finished by this launch. */
int farm_master(store *st, long sweep_id, long run_id, int nranks, const char *hosts,
                size_t stride, const farm_opts *o, size_t *done);

/* Rank 0, when it ends the launch without farm_master (which stops the
 * workers itself): tell ranks 1..nranks-1 to stop with exit code rc, so that
 * every rank reaches MPI_Finalize.  0, or -1 if a rank could not be told
 * (then the caller aborts). */
int farm_stop_workers(int nranks, int rc);

/* Ranks > 0: serve jobs until the master says stop; returns the exit code
 * the master sent (0 or 3), or FARM_ERROR. */
int farm_worker(void);

#endif
