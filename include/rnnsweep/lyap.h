/* lyap.h — the first k Lyapunov exponents of the leaky RNN by the QR method (SPEC §4).
 *
 * Jacobian of the map h_{t-1} -> h_t:
 *
 *     J_t = (1 - alpha) I + alpha W_rec diag(f'(h_{t-1}))
 *
 * Q_0 (N,k) orthonormal; each step M = J_t Q_{t-1} = Q_t R_t (thin QR,
 * diag(R_t) >= 0); lambda_i = sum_{t > warmup} log R_t,ii / (T - warmup), in
 * nats per step (divide by alpha for units of 1/tau).  Every trial of a batch
 * has its own tangent space and its own exponents, lam (B,k).
 *
 * Panel layout.  The tangent vectors of all B trials live in one row-major
 * (N, k*B) matrix whose column j*B + b is column j of trial b ("(N,k,B)" in
 * the shape comments): W_rec times all tangent vectors of all trials is one
 * dgemm, and the per-trial Householder QRs run in lock-step with the trial
 * index innermost, so their inner loops are SIMD over trials.  Triangular
 * factors follow the same rule, R (k,k,B) with R[(a*k + c)*B + b].
 *
 * Sparse QR (every_qr > 1): between two QR steps the product of Jacobians is
 * applied without re-orthonormalisation, and the R of the next QR holds the
 * growth of all those steps, so its log R_ii counts for all of them.  QRs are
 * done at every step t with t == warmup, t == T, or (t - warmup) a multiple of
 * every_qr (t a multiple of every_qr during the warm-up), so a QR block never
 * straddles the end of the warm-up and the sums cover exactly the steps
 * warmup+1..T.  The caller must keep every_qr small enough that the growth
 * exp(lambda_1 * every_qr) and the spread exp((lambda_1 - lambda_k) *
 * every_qr) stay far from overflow and from 1/eps.
 *
 * All workspaces are allocated by lyap_work_alloc; no function allocates.
 * Functions return 0, or -1 for bad arguments (k > N, warmup >= T, shapes
 * that disagree with the workspace), with nothing written to lam.
 */
#ifndef RNNSWEEP_LYAP_H
#define RNNSWEEP_LYAP_H

#include <gsl/gsl_rng.h>
#include "rnnsweep/rnn.h"

typedef struct lyap_work lyap_work;

/* Workspace for N units, k exponents, B trials; NULL on failure or bad sizes. */
lyap_work *lyap_work_alloc(int N, int k, int B);
void lyap_work_free(lyap_work *w);     /* accepts NULL */

/* Q0 = k Haar-random orthonormal columns: a Gaussian (N,k) matrix (N k
 * draws from r, row-major) orthonormalised by modified Gram-Schmidt with two
 * passes per column (not the Householder QR of lyap_qr), orthonormal to
 * rounding because a Gaussian matrix is well conditioned.  No-op if k < 1,
 * k > N, or Q0 or r is NULL. */
void lyap_q0(double *Q0 /* (N,k) */, int N, int k, gsl_rng *r);

/* Driven mode: exponents along the trajectory cached in c (rnn_forward with
 * the task inputs: c->h (T+1,B,N), c->r (T+1,B,N), T = c->T); step t uses
 * h_{t-1}.  c->B and c->N must match the workspace.  Q0 is used for every trial. */
int lyap_driven(const rnn_params *p, int act, double alpha, const rnn_cache *c,
                const double *Q0 /* (N,k) */, int k, int warmup, int every_qr,
                double *lam /* (B,k) */, lyap_work *w);

/* Autonomous mode: no input, bias b as in p, from h0 (B,N), T steps; the
 * state is simulated in the workspace together with the tangent vectors (one
 * dgemm per step covers both). */
int lyap_autonomous(const rnn_params *p, int act, double alpha, const double *h0 /* (B,N) */,
                    int T, const double *Q0 /* (N,k) */, int k, int warmup, int every_qr,
                    double *lam /* (B,k) */, lyap_work *w);

/* Mean and sample standard deviation (divisor B - 1; 0 when B = 1) over the
 * B trials of exponent i (0 <= i < k) of lam (B,k): what a measurement
 * reports (train.h's exponent rows, `rnnsweep lyap`). */
void lyap_mean_sd(const double *lam /* (B,k) */, int B, int k, int i, double *mean, double *sd);

/* Counted floating-point operations of lyap_driven with every_qr = 1: the
 * tangent product 2 N^2 k, the leak and f' scaling 3 N k, and the Householder
 * QR with explicit thin Q 4 N k^2 - 4 k^3 / 3, per step and trial. */
double lyap_flops(int T, int B, int N, int k);

/* ---- Building blocks (shared with floss.c and the tests) ---- */

/* A general product of per-step linear maps: step(t, Q, M, ctx) must write
 * M = J_t Q for t = 1..T (called once per t, in increasing order; Q and M
 * (N,k,B) contiguous panels, distinct).  Same QR schedule, warm-up and
 * output as lyap_driven.  Q0 is used for every trial. */
typedef void (*lyap_step_fn)(int t, const double *Q /* (N,k,B) */, double *M /* (N,k,B) */,
                             void *ctx);
int lyap_general(int N, int k, int B, int T, lyap_step_fn step, void *ctx,
                 const double *Q0 /* (N,k) */, int warmup, int every_qr,
                 double *lam /* (B,k) */, lyap_work *w);

/* M = J Q for all trials of a panel: M = (1 - alpha) Q + alpha W_rec (dT o Q)
 * with dT[i*B + b] = f'(h_{t-1})_{b,i}.  Y is scratch; Q, Y, M distinct. */
void lyap_jacobian_apply(int N, int k, int B, const double *W_rec /* (N,N) */, double alpha,
                         const double *dT /* (N,B) */, const double *Q /* (N,k,B) */,
                         double *Y /* (N,k,B) */, double *M /* (N,k,B) */);

/* Doubles of scratch that lyap_qr needs. */
#define LYAP_QR_WORK(n, k) (8 * ((size_t)(n) * (k) + (size_t)(k) * (k) + 2 * (size_t)(k) + 1))

/* In-place thin Householder QR of the B (n,k) matrices of a panel whose rows
 * are ld >= k*B apart: A is overwritten by Q (orthonormal columns to
 * rounding), R (k,k,B) receives the upper-triangular factor with
 * diag(R) >= 0 (zeros below the diagonal).  A zero column gives R_jj = 0
 * (log = -inf downstream) and still an orthonormal Q.  Returns -1 if k > n. */
int lyap_qr(double *A /* (n,k,B), row stride ld */, int ld, int n, int k, int B,
            double *R /* (k,k,B) */, double *work /* LYAP_QR_WORK(n,k) */);

#endif
