/* floss.h — gradient flossing (SPEC §5, §10; Engelken 2023): the objective
 *
 *     F = mean_b (1/k) sum_{i<=k} (lambda_{b,i} - lambda*)^2
 *
 * (lambda* = 0 unless floss_work_set_target says otherwise)
 * over the first k Lyapunov exponents of each trial along its input
 * sequence (computed as lyap_driven does with a QR every step, lyap.h), and
 * its gradient with respect to W_rec, W_in and b (the W_out and b_out parts
 * of the gradient are zero).
 *
 * FLOSS_FULL is the exact reverse-mode gradient through the trajectory h_t
 * and through every QR step; FLOSS_LOCAL holds h_{t-1} and Q_{t-1} constant
 * in each step, so only the explicit W_rec in J_t carries gradient (W_in and
 * b gradients are zero); FLOSS_DETACH_H holds only h_{t-1} constant (J_t
 * from h.detach(), M = J_t Q_{t-1} in PyTorch terms), so the gradient flows
 * through W_rec in every J_t and along the chain of Q's, not through the
 * trajectory (W_in and b gradients are zero).  The workspace keeps the whole forward pass (h, Q_t,
 * R_t for every step and trial, O(T B N k) doubles) and is sized once.
 */
#ifndef RNNSWEEP_FLOSS_H
#define RNNSWEEP_FLOSS_H

#include "rnnsweep/rnn.h"

enum floss_mode { FLOSS_FULL = 0, FLOSS_LOCAL = 1, FLOSS_DETACH_H = 2 };

/* The modes' names, indexed by enum floss_mode (the config key `floss_mode`). */
#define FLOSS_MODE_NAMES "full", "local", "detach_h"

typedef struct floss_work floss_work;

/* Workspace for T steps, B trials, N units, I inputs, O outputs, k
 * exponents (k <= N); NULL on failure or bad sizes. */
floss_work *floss_work_alloc(int T, int B, int N, int I, int O, int k);
void floss_work_free(floss_work *w);    /* accepts NULL */

/* The target lambda* of F for every later call on w (0 after alloc). */
void floss_work_set_target(floss_work *w, double target);

/* Objective F and its gradient at p on inputs x (T,B,I), T and B from the
 * alloc, Q0 the initial tangent basis of every trial, `warmup` QR steps
 * excluded from the sums (0 <= warmup < T).  lam (B,k) receives the
 * exponents (nats per step); grad (p's layout and sizes) is overwritten.
 * mode is enum floss_mode.  Returns F, or NaN on bad arguments
 * (then grad and lam are untouched).  An exactly singular step (R_ii = 0,
 * possible with relu at alpha = 1) makes F and the gradient non-finite. */
double floss_gradient(int mode, const rnn_params *p, int act, double alpha,
                      const double *x /* (T,B,I) */, const double *Q0 /* (N,k) */, int warmup,
                      rnn_params *grad, double *lam /* (B,k) */, floss_work *w);

/* Objective only (the forward half of floss_gradient), same contract. */
double floss_objective(const rnn_params *p, int act, double alpha,
                       const double *x /* (T,B,I) */, const double *Q0 /* (N,k) */, int warmup,
                       double *lam /* (B,k) */, floss_work *w);

/* Counted floating-point operations of floss_gradient with warm-up 0,
 * leaving out the input and readout products of the forward pass (they
 * depend on I and O and are small); mode as above. */
double floss_flops(int mode, int T, int B, int N, int k);

#endif
