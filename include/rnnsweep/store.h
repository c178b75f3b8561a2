/* store.h — the results database: the only module that speaks SQL.
 *
 * One SQLite file holds every job of every sweep written into it: `jobs`
 * (one row per distinct config, identified by its hash, one typed column per
 * config key), `curves`, `lyapunov`, `weights`, `checkpoints`, `sweeps`,
 * `sweep_jobs`, `runs`, and the views `summary` and `best_lr` (README).  The
 * file is marked as ours by PRAGMA application_id and versioned by PRAGMA
 * user_version; a file that is not SQLite, not ours, or of a newer schema is
 * refused without a byte changed.  Only one process (rank 0) writes; readers
 * may read while a sweep runs (WAL by default).  Each result is one
 * transaction.  A lock held by another process is waited for (up to 60 s,
 * logged on stderr) before an operation fails.
 */
#ifndef RNNSWEEP_STORE_H
#define RNNSWEEP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "rnnsweep/config.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/train_rows.h"

typedef struct store store;

enum store_rc { STORE_OK = 0, STORE_ERROR = 1, STORE_REFUSED = 2 };

enum store_flags {
    STORE_CREATE = 1,        /* create the file if it does not exist */
    STORE_READONLY = 2,      /* status/export: never write */
    STORE_JOURNAL_DELETE = 4,/* rollback journal instead of WAL (NFS/Lustre) */
    STORE_LOCK = 8           /* hold the launch lock (on the database file itself, whatever its
                                name; a note "pid N on HOST" in REALPATH.lock) for the store's life */
};

enum job_status { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_DIVERGED, JOB_FAILED, JOB_TIMEOUT, JOB_NSTATUS };

#define STORE_ERRLEN 512

/* "pending", "running", "done", "diverged", "failed", "timeout" for an enum
 * job_status value (the jobs.status text); NULL if out of range. */
const char *store_status_name(int status);

/* Open (creating if asked) and check the database.  STORE_REFUSED (exit 2)
 * for an empty path, a file that is not an SQLite database, another
 * application's database, a newer schema, a damaged one (a missing table or
 * column; with write access also PRAGMA quick_check), a missing file
 * without STORE_CREATE, and for a read-write open a file or directory this
 * user cannot write or (with STORE_LOCK) a database held by another live
 * launch under any name; the message names the file.  Nothing is written
 * before all checks pass, and a refused database gets no side files.
 * A journal or WAL left by a writer that died is recovered (read-only
 * opens too, when this user may write the file and its directory; if not,
 * they are refused with that reason).  STORE_READONLY opens a finished
 * database in a read-only directory or file too. */
int store_open(store **out, const char *path, int flags, char err[STORE_ERRLEN]);

/* Every check a read-write open with `flags` (STORE_CREATE,
 * STORE_JOURNAL_DELETE) makes, without creating, locking or writing
 * anything except the recovery of a crashed writer's journal or WAL:
 * `sweep --check`.  Whether another launch holds the lock is not checked.
 * STORE_OK, or STORE_REFUSED / STORE_ERROR with the message in err. */
int store_check(const char *path, int flags, char err[STORE_ERRLEN]);

/* Switch a read-write store back to the rollback journal, so the finished
 * file is one self-contained file that reads from read-only places without
 * -wal and -shm.  Call when a sweep is complete; the next launch switches to
 * WAL again.  STORE_ERROR (message in store_errmsg; not worth failing a
 * launch for) when another process holds the file open.  No-op for a
 * read-only store. */
int store_finish(store *s);

/* Release the lock (if held) and close.  NULL is a no-op. */
void store_close(store *s);
const char *store_errmsg(const store *s);

/* Record a sweep file (sweeps row, by text hash) and its jobs: INSERT OR
 * IGNORE by config hash, link them in sweep_jobs; one transaction.
 * *sweep_id and *added (new jobs) are returned. */
int store_add_sweep(store *s, const char *path, const char *text, uint64_t hash,
                    const config *jobs, size_t n, long *sweep_id, size_t *added);

typedef struct store_run_info {
    long sweep_id;
    const char *version, *git, *compiler, *mpi, *blas, *sqlite, *hosts, *slurm_job, *command;
    int ranks;
} store_run_info;

/* Open a runs row (started now) / close it with the exit code. */
int store_run_begin(store *s, const store_run_info *info, long *run_id);
int store_run_end(store *s, long run_id, int exit_code, size_t jobs_done);

/* What store_recover did. */
typedef struct store_recovery {
    size_t requeued; /* running -> pending (blamed and suspect ones included) */
    size_t blamed;   /* ran alone when its launch died: crashes + 1 */
    size_t failed;   /* crashes reached max_attempts: failed, not requeued */
    size_t suspects; /* ran beside others when their launch died: suspect = 1 */
} store_recovery;

/* Jobs left `running` by earlier launches go back to `pending`.  Blame
 * (count an attempt only against the job that can be blamed):
 *  - a launch that ended in order (its runs row closed: a signal, a
 *    database error, an abandoned grace period) blames nobody;
 *  - a launch that died while running one job blames that job: crashes + 1,
 *    and `failed` once crashes >= max_attempts; it also becomes a suspect;
 *  - a launch that died with several jobs running blames none: they become
 *    suspects (jobs.suspect = 1).
 * Suspects run first and one at a time, nothing beside them, so a job that
 * kills its launch is caught alone and blamed once per death; a stored
 * result other than an interruption clears suspect.  One transaction. */
int store_recover(store *s, int max_attempts, store_recovery *out);

/* Pending jobs of a sweep (all sweeps if sweep_id <= 0): ids and configs
 * (malloc'ed arrays; caller frees), suspects first (*nsuspect of them),
 * then by id. */
int store_pending(store *s, long sweep_id, long **ids, config **cfgs, size_t *n, size_t *nsuspect);

/* Jobs of a sweep by status: counts[enum job_status] (JOB_NSTATUS entries). */
int store_sweep_counts(store *s, long sweep_id, size_t counts[JOB_NSTATUS]);

/* Mark a job running (attempts + 1, host, rank, run, started_at = now) and
 * start its progress: iters_done = its checkpoint's iteration, or NULL
 * without a checkpoint. */
int store_claim(store *s, long job_id, long run_id, const char *host, int rank);

/* The job's saved checkpoint, if any: *buf malloc'ed (NULL, *n = 0 if none). */
int store_checkpoint_get(store *s, long job_id, void **buf, size_t *n);

typedef struct store_result {
    long job_id;
    int status;                    /* enum job_status: DONE, DIVERGED, TIMEOUT, FAILED, or
                                      PENDING with a checkpoint (interrupted) */
    const char *host;
    int rank;
    double wall_seconds;           /* compute time of this attempt */
    double val_loss, val_accuracy;   /* validation trials (lr selection); NaN = unknown (NULL) */
    double test_loss, test_accuracy; /* test trials (reported; also final_loss/_accuracy) */
    const char *error;             /* NULL or a message */
    const train_curve_row *curve;  /* all rows so far (replaces stored rows) */
    size_t ncurve;
    const train_lyap_row *lyap;    /* all rows so far (replaces stored rows) */
    size_t nlyap;
    const train_diag_row *diag;    /* all rows so far (replaces stored rows) */
    size_t ndiag;
    const rnn_params *weights;     /* final weights, or NULL */
    const void *checkpoint;        /* with status PENDING: saved for the next launch */
    size_t checkpoint_size;
} store_result;

/* Write one result in one transaction: the job row, its curve and exponent
 * rows (replacing any earlier rows of the job), final weights, and the
 * checkpoint (stored with PENDING, deleted otherwise).  An interrupted job
 * (PENDING) gets its attempt back (attempts - 1). */
int store_result_put(store *s, const store_result *r);

/* Live progress of a running job: upsert its curve, exponent and diagnostic rows (by
 * primary key, so rows never duplicate) and set iters_done, in one
 * transaction.  Rows of a job that is no longer `running` are ignored (a
 * late message after its result).  Its final result replaces them all. */
int store_progress(store *s, long job_id, long iters_done, const train_curve_row *curve,
                   size_t ncurve, const train_lyap_row *lyap, size_t nlyap,
                   const train_diag_row *diag, size_t ndiag);

/* The status report (`rnnsweep status`), read in one read transaction (a
 * consistent snapshot while a sweep writes) and written to f only when
 * complete.  Both formats give the counts by status and per swept key (a key
 * with more than one value), the running jobs with host, rank, attempt,
 * claim time, iters_done of iters, their rate in iterations per second over
 * this attempt and seconds left, the last launch (runs row), and the time
 * left for the sweep (from finished jobs' mean compute time, or before any
 * has finished from the running jobs' rates; store_status.c has the
 * formulas).  STORE_REPORT_TEXT is for people; STORE_REPORT_JSON is one
 * object on one line (README: `status --json`), unknown numbers null.
 * *unfinished (if not NULL) receives the pending + running count.
 * STORE_OK, or STORE_ERROR with the message in store_errmsg. */
enum store_report { STORE_REPORT_TEXT, STORE_REPORT_JSON };
int store_status_write(store *s, FILE *f, int format, size_t *unfinished);

/* store_status_write(s, f, STORE_REPORT_TEXT, NULL). */
int store_status_print(store *s, FILE *f);

/* The status (enum job_status) of the job with config c, or -1 when the
 * database does not hold it (a job a launch would add); for --check/--list. */
int store_job_status_of(store *s, const config *c, int *status);

/* The tables as CSV (store_export.c): files[0..3] receive jobs, curves,
 * lyapunov and diagnostics (files[3] may be NULL: skipped); rows[] counts
 * the data rows written.  One read transaction. */
enum { STORE_CSV_TABLES = 4 };
int store_export_csv(store *s, FILE *files[STORE_CSV_TABLES], size_t rows[STORE_CSV_TABLES]);

/* 1 if the database has the table `name`. */
int store_has_table(store *s, const char *name);

/* Job config by id; and the stored final weights into p (allocated by the
 * caller with the config's sizes).  STORE_REFUSED if no such job/weights. */
int store_job_config(store *s, long job_id, config *c, int *status);
int store_weights_get(store *s, long job_id, rnn_params *p);

/* Can every result of a job with config c ever be stored?  A checkpoint
 * holds at least five copies of the parameters (~40 N (N + I + O + 1)
 * bytes) and the final W_rec (with_weights) 8 N^2 bytes; a BLOB over
 * SQLite's length limit (s's, or the library default for s == NULL: 1e9
 * bytes) can never be written, so such a job is bad input.  STORE_REFUSED
 * with "key 'hidden' = N: ... (largest storable: hidden = M)" in err. */
int store_check_job(store *s, const config *c, int with_weights, char err[STORE_ERRLEN]);

/* Lower (bytes > 0) the longest string or BLOB s may write; returns the
 * limit in force.  For tests, and for files shared with SQLite builds of a
 * smaller SQLITE_MAX_LENGTH. */
size_t store_blob_limit(store *s, size_t bytes);

#endif
