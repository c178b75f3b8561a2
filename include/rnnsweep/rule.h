/* rule.h — gradient estimates of the task loss for one batch (SPEC §3).
 *
 *   bptt   exact gradient (backpropagation through time);
 *   eprop  e-prop with symmetric feedback: dL/dh_t reaches h_{t-1} only
 *          through the leak (1 - alpha); equal to the online eligibility-trace
 *          form (rule_eprop_online), which exists for verification;
 *   rflo   as eprop with a fixed random feedback matrix B_fb (N,O) in place
 *          of W_out^T;
 *   readout the reservoir control (SPEC §8): only W_out and b_out learn; the
 *          gradients of W_in, W_rec and b are exactly zero (so Adam leaves
 *          them exactly as they are), and no backward pass runs.
 * The readout gradient (W_out, b_out) is exact for every rule.  A rule_work
 * holds every buffer one job needs; computing a gradient allocates nothing.
 */
#ifndef RNNSWEEP_RULE_H
#define RNNSWEEP_RULE_H

#include "rnnsweep/rnn.h"
#include "rnnsweep/task.h"

enum rule_kind { RULE_BPTT = 0, RULE_EPROP = 1, RULE_RFLO = 2, RULE_READOUT = 3 };

/* The rules' names, indexed by enum rule_kind: the one list that rule_name
 * and the config key `rule` (config.c) read. */
#define RULE_NAMES "bptt", "eprop", "rflo", "readout"

/* "bptt", "eprop", "rflo" or "readout" for an enum rule_kind value; NULL if unknown. */
const char *rule_name(int rule);

typedef struct rule_work rule_work;

rule_work *rule_work_alloc(int T, int B, int N, int I, int O);
void rule_work_free(rule_work *w);

/* Forward pass on the batch into c, loss, and the rule's gradient into grad
 * (same layout as p).  B_fb (N,O) is read only by RULE_RFLO.  Returns the
 * loss (non-finite if the network diverged; grad is then unspecified). */
double rule_gradient(int rule, const rnn_params *p, const double *B_fb,
                     int act, double alpha, const task_batch *tb,
                     rnn_cache *c, rnn_params *grad, rule_work *w);

/* The backward half of rule_gradient: c must hold the forward pass of p on
 * tb and w the loss gradient dL/dy of that pass, as rule_gradient leaves
 * them; computes the rule's gradient into grad.  Lets a second rule's
 * gradient of the same batch (the diagnostics' BPTT reference) cost one
 * backward pass. */
void rule_backward(int rule, const rnn_params *p, const double *B_fb, int act, double alpha,
                   const task_batch *tb, const rnn_cache *c, rnn_params *grad, rule_work *w);

/* The same e-prop (or rflo, when B_fb is not NULL) gradient computed forward
 * in time from eligibility traces p_t, q_t, s_t, as a synapse could.  Expects
 * c to hold the forward pass of p on tb.  For verification; O(T B N^2) memory-
 * light but slow. */
void rule_eprop_online(const rnn_params *p, const double *B_fb, int act, double alpha,
                       const task_batch *tb, const rnn_cache *c, rnn_params *grad,
                       rule_work *w);

/* Feedback matrix for rflo: B_fb (N,O) ~ N(0, 1/O). */
void rule_feedback_init(double *B_fb, int N, int O, gsl_rng *r);

/* Floating-point operations of one rule_gradient call (counted, for the benchmark). */
double rule_flops(int rule, int T, int B, int N, int I, int O);

#endif
