/* train.h — one job end to end: init, flossing, training, exponents, checkpoint.
 *
 * A train_job owns everything a job needs (parameters, Adam state, task
 * batch, caches, rule and Lyapunov workspaces, rng streams, curve and
 * exponent rows), all allocated by train_alloc; train_run allocates nothing.
 * The rng streams derive from the config's seed only (never from the rank or
 * the process), so a job gives the same numbers wherever it runs.  The run is
 * cooperative: hooks report progress and can ask it to stop, in which case a
 * checkpoint taken afterwards continues it bit-identically.
 */
#ifndef RNNSWEEP_TRAIN_H
#define RNNSWEEP_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "rnnsweep/config.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/train_rows.h" /* the curve, exponent and diagnostic rows */

enum train_status {
    TRAIN_DONE = 0,     /* all iterations run */
    TRAIN_DIVERGED = 1, /* non-finite loss; curve kept up to it */
    TRAIN_STOPPED = 2,  /* hooks asked to stop; checkpoint to continue */
    TRAIN_TIMEOUT = 3   /* per-job wall-clock limit reached */
};

/* "done", "diverged", "stopped", "timeout" for an enum train_status value;
 * NULL if out of range. */
const char *train_status_name(int status);

/* Diagnostic rows per diagnostic step for a rule: 7 (eprop, rflo) or 3. */
int train_diag_per_step(int rule);

typedef struct train_hooks {
    void *ctx;
    /* Called after every iteration (it = 0..iters, the one just done) and after flossing steps
     * (phase PHASE_FLOSS); return nonzero to stop at this point. */
    int (*progress)(void *ctx, int phase, long it, long total, double loss);
    /* Called for each new curve row and each phase's exponents, as they appear. */
    void (*curve)(void *ctx, const train_curve_row *row);
    void (*lyap)(void *ctx, const train_lyap_row *rows, int k);
    double time_limit; /* seconds of this call, 0 = none -> TRAIN_TIMEOUT */
    /* Called with each diagnostic step's rows, as they appear (may be NULL). */
    void (*diag)(void *ctx, const train_diag_row *rows, int n);
} train_hooks;

typedef struct train_job train_job;

/* Allocate a job for a resolved config (config_resolve).  NULL with err on failure. */
train_job *train_alloc(const config *c, char err[256]);
void train_free(train_job *j);

/* Run (or continue after train_checkpoint_load) to completion, divergence,
 * stop or timeout.  Returns enum train_status. */
int train_run(train_job *j, const train_hooks *hooks);

/* One training iteration exactly as train_run does it (batch, gradient,
 * curve row, diagnostics, Adam update, Dale clamp, interleaved flossing and
 * exponents), for benchmarks: call after flossing pretraining is done or
 * with floss_iters = 0.  Returns the loss; NaN once iters + 1 iterations
 * have run or on divergence. */
double train_step(train_job *j);

/* Rows recorded so far. */
const train_curve_row *train_curve(const train_job *j, size_t *n);
const train_lyap_row *train_lyap(const train_job *j, size_t *n);
const train_diag_row *train_diag(const train_job *j, size_t *n);

/* Parameters now, and as initialised (before flossing). */
const rnn_params *train_params(const train_job *j);
const rnn_params *train_params_init(const train_job *j);
const config *train_config(const train_job *j);

/* What the verification dumps need: the rflo feedback B_fb (N,O), the
 * orthonormal Q0 (N,lyap_k) of measurements and (N,floss_k) of flossing, and
 * the next training batch drawn from the job's task stream. */
const double *train_feedback(const train_job *j);
const double *train_q0(const train_job *j, int floss);
const struct task_batch *train_next_batch(train_job *j);

/* The job's rng stream `stream` (1..15) for seed: mt19937 seeded by splitmix64. */
gsl_rng *train_stream_rng(long seed, int stream);
enum { STREAM_INIT = 1, STREAM_FB, STREAM_Q0, STREAM_TASK, STREAM_FLOSS, STREAM_EVAL, STREAM_H0,
       STREAM_TEST };

/* Held-out evaluation of the current parameters (SPEC §7): loss and
 * accuracy on the seed's val_batch validation trials (STREAM_EVAL; the lr
 * is chosen on them) and test_batch test trials (STREAM_TEST; reported),
 * the same trials for every job of the seed and none of them a training
 * trial.  Forward passes only, in chunks of lyap_batch trials. */
typedef struct train_eval {
    double val_loss, val_accuracy, test_loss, test_accuracy;
} train_eval;
void train_evaluate(train_job *j, train_eval *out);

/* Expected cost of a job in FLOPs (training, flossing, exponents), for
 * scheduling the longest jobs first. */
double train_cost(const config *c);

/* Iterations done (flossing counts separately). */
long train_iter(const train_job *j);

/* Checkpoint: a byte image of the whole job state (parameters, both Adam
 * states, rng states, counters, curve and exponent rows), in this layout
 * (format version TRAIN_CKPT_VERSION, native byte order, no padding):
 *
 *   train_ckpt_head                    168 bytes
 *   parameters, Adam m, Adam v,        5 x nparams doubles
 *   flossing Adam m, flossing Adam v
 *   curve rows                         ncurve x train_curve_row
 *   exponent rows                      nlyap x train_lyap_row
 *   diagnostic rows                    ndiag x train_diag_row
 *   rng states (task, flossing)        rng_task + rng_floss bytes (gsl mt19937)
 *   CRC-32 of every byte before it     uint32 (IEEE 802.3 / zlib crc32)
 *
 * An image is valid for a job only if all of these hold: magic, version and
 * size match, the CRC matches, the config hash and array sizes are the job's,
 * and the counters describe a state train_run can stop in (or a fresh job):
 * 0 <= floss_done <= floss_iters, 0 <= iter <= iters, training only after
 * flossing, and ncurve, nlyap, opt_t, fopt_t and the rows' iteration keys are
 * exactly those the run produces up to that point (ndiag and the
 * diagnostic rows' iterations and names too); the rng states are
 * well-formed.  The writer's OpenBLAS core and kernel SIMD level are recorded:
 * results are bit-identical only when both match on resume. */
#define TRAIN_CKPT_MAGIC "RNSWCKPT"
enum { TRAIN_CKPT_VERSION = 2 };

typedef struct train_ckpt_head {
    char magic[8];       /* TRAIN_CKPT_MAGIC, not NUL-terminated */
    uint32_t version;    /* TRAIN_CKPT_VERSION */
    uint32_t head_size;  /* sizeof(train_ckpt_head) */
    uint64_t hash;       /* config_hash of the job */
    uint64_t size;       /* bytes of the whole image, CRC included */
    uint64_t nparams, ncurve, nlyap, rng_task, rng_floss, ndiag;
    int64_t floss_done, iter, opt_t, fopt_t; /* counters; opt_t, fopt_t Adam steps */
    int32_t init_measured, floss_measured;   /* 0 or 1 */
    char blas_core[32];  /* OpenBLAS core of the writer (blasenv_core), NUL-terminated */
    char simd[16];       /* kernel SIMD level of the writer (avx512, avx2, scalar) */
} train_ckpt_head;

/* Bytes train_checkpoint_save writes for the job's state now. */
size_t train_checkpoint_size(const train_job *j);

/* Write the image into buf (n >= train_checkpoint_size bytes).  0, or -1
 * if n is too small (buf then holds no valid image). */
int train_checkpoint_save(const train_job *j, void *buf, size_t n);

/* Continue a job from an image.  j must be fresh (from train_alloc, not yet
 * run).  The whole image is checked before anything is copied, so:
 *   0   loaded; note is "" or, when the image was written with
 *       another OpenBLAS core or SIMD level, a one-line warning that results
 *       may differ in the last bits;
 *   -1  invalid (short, truncated, damaged, another config, impossible
 *       counters); j is untouched, so running it equals a clean run; note
 *       says why in one line. */
int train_checkpoint_load(train_job *j, const void *buf, size_t n, char note[256]);

#endif
