/* farm_int.h — what the master (farm.c), the workers (farm_worker.c) and
 * the wire format (farm_wire.c) share; not a public header.
 *
 * Messages between ranks (all MPI_BYTE, at most FARM_MAX_MSG bytes):
 *   TAG_JOB       master -> worker: job_head + checkpoint bytes
 *   TAG_PROGRESS  worker -> master: prog_head + new curve rows + new exponent
 *                 rows + new diagnostic rows (live, at most one per --flush s)
 *   TAG_RESULT    worker -> master: res_head + curve rows + exponent rows +
 *                 diagnostic rows + final weights + checkpoint bytes
 *   TAG_SIGNAL    worker -> master: int32 signal number (an idle worker was
 *                 signalled; a busy one stops its job and says so in its result)
 *   TAG_INTERRUPT master -> worker: stop the running job at its next iteration
 *   TAG_STOP      master -> worker: no more jobs; int32 exit code
 * The config travels as the plain struct: every rank runs the same binary.
 * Rank 0's local worker thread exchanges the same packed messages through a
 * mutex-protected mailbox (farm_local), so both kinds of worker share
 * farm_run_job and the master one handler per tag.
 *
 * MPI error policy: farm_init sets MPI_ERRORS_RETURN on MPI_COMM_WORLD and
 * every call goes through farm_mpi(), which turns an error into FARM_ERROR
 * with MPI_Error_string's text on stderr.  (A dead rank still ends the
 * whole launch: Open MPI's runtime kills the job; store_recover then works
 * out whom to blame.)
 */
#ifndef RNNSWEEP_FARM_INT_H
#define RNNSWEEP_FARM_INT_H

#include "rnnsweep/clock.h"
#include "rnnsweep/farm.h"
#include "rnnsweep/train.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { TAG_JOB = 11, TAG_RESULT, TAG_INTERRUPT, TAG_STOP, TAG_PROGRESS, TAG_SIGNAL };

/* MPI counts are int: no message may be longer. */
#define FARM_MAX_MSG ((size_t)INT_MAX)

/* The last signal any thread of this process received (0 = none). */
extern atomic_int farm_got_signal;

/* Growable byte buffer; oom is sticky. */
typedef struct farm_buf { unsigned char *p; size_t n, cap; int oom; } farm_buf;
void farm_put(farm_buf *b, const void *src, size_t n);

typedef struct job_head {
    int64_t job_id;
    double time_limit;  /* seconds of this attempt, 0 = none */
    double flush;       /* seconds between progress messages, 0 = none */
    uint64_t ckpt;      /* checkpoint bytes after the head */
    config cfg;
} job_head;

typedef struct prog_head {
    int64_t job_id, iter;   /* iterations done so far */
    int32_t rank, pad;
    uint64_t ncurve, nlyap, ndiag; /* rows after the head: only those new since the last message */
} prog_head;

typedef struct res_head {
    int64_t job_id;
    int32_t status, rank, interrupted, N, I, O;
    double wall, val_loss, val_acc, test_loss, test_acc; /* NaN when not evaluated */
    uint64_t ncurve, nlyap, ndiag, nweights, ckpt;
    char host[64];
    char error[256];
} res_head;
_Static_assert(sizeof(res_head) % 8 == 0 && sizeof(prog_head) % 8 == 0 &&
                   sizeof(train_curve_row) % 8 == 0 && sizeof(train_lyap_row) % 8 == 0 &&
                   sizeof(train_diag_row) % 8 == 0,
               "message sections must keep 8-byte alignment");

/* A result message read in place (p must stay alive): the arrays point into
 * it.  0, or -1 if the sizes in the head do not add up to n. */
typedef struct res_view {
    res_head h;
    const train_curve_row *curve;
    const train_lyap_row *lyap;
    const train_diag_row *diag;
    const double *weights;
    const unsigned char *ckpt;
} res_view;
int farm_res_view(const unsigned char *p, size_t n, res_view *v);

/* The same for a progress message. */
typedef struct prog_view {
    prog_head h;
    const train_curve_row *curve;
    const train_lyap_row *lyap;
    const train_diag_row *diag;
} prog_view;
int farm_prog_view(const unsigned char *p, size_t n, prog_view *v);

/* Rank 0's worker thread and its mailbox (guarded by mu). */
typedef struct farm_local {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *job;   /* to run (owned), NULL when none */
    size_t job_len;
    farm_buf result;      /* finished result, valid when has_result */
    farm_buf progress;    /* progress messages not yet taken, each a u64 length + message */
    int has_result, quit;
    atomic_int interrupt;
    char host[256];       /* a copy: the thread may outlive the caller's buffers */
} farm_local;

/* Start the local worker thread (its mailbox on the heap); NULL on failure. */
farm_local *farm_local_start(const char *host);

/* Tell it to quit.  join: wait for it and free everything.  Without join
 * (it is still running a job the launch abandons) the mailbox stays
 * allocated on purpose, since the thread keeps using it until the caller
 * aborts the launch. */
void farm_local_stop(farm_local *l, int join);

/* Take the local thread's pending messages: its result (if any, ownership
 * passes to the caller) and its progress bytes (swapped out). */
int farm_local_take(farm_local *l, farm_buf *result, farm_buf *progress);

#endif
