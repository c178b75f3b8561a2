/* test_floss.c — gradient flossing (floss.c) against independent references.
 *
 * 1. FLOSS_FULL gradient vs central finite differences of F, F computed by
 *    another route (rnn_forward + lyap_driven), for every element of W_rec,
 *    W_in and b; tanh and relu, chaotic (g = 2) and ordered (g = 0.5) nets.
 * 2. FLOSS_LOCAL gradient vs central finite differences of the local
 *    objective: each step applies J_t(W') to the frozen h_{t-1} and Q_{t-1}
 *    of the unperturbed run, written here as a naive loop over dense
 *    Jacobians with GSL's Householder QR.
 * 3. 100 Adam steps of flossing in both modes lower F and move lambda_max
 *    toward 0 on a chaotic and an ordered N = 64 net with Romo-like inputs.
 * 4. FLOSS_DETACH_H gradient vs central finite differences of the objective
 *    with the trajectory frozen (f'(h_t) of the unperturbed run) and the Q
 *    chain recomputed from Q0 with the perturbed W_rec, by the naive loop.
 * 5. A nonzero target lambda* in full, local and detach_h mode vs finite
 *    differences of (lambda - lambda*)^2 by the same references.
 * 6. 100 full-mode Adam steps toward lambda* = -0.2 and +0.05 end with
 *    lambda_max within 0.05 of the target at g = 0.5 and g = 2.
 * Exits non-zero on any failure; prints the worst deviation of each check.
 */
#include "rnnsweep/floss.h"
#include "rnnsweep/config.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "check.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static const char *act_name(int act) { return act == ACT_RELU ? "relu" : "tanh"; }

/* A net as SPEC §1 plus a small random bias, so that b's gradient is not
 * taken at a special point. */
static void make_net(rnn_params *p, double g, gsl_rng *r)
{
    rnn_params_init(p, g, r);
    for (int i = 0; i < p->N; i++)
        p->b[i] = 0.1 * gsl_ran_gaussian(r, 1.0);
}

/* Objective by the independent route: rnn_forward + lyap_driven. */
static double F_ref(const rnn_params *p, int act, double alpha, const double *x, const double *Q0,
                    int k, int warmup, double target, rnn_cache *c, lyap_work *lw, double *lam)
{
    rnn_forward(p, act, alpha, x, c);
    if (lyap_driven(p, act, alpha, c, Q0, k, warmup, 1, lam, lw) != 0)
        return NAN;
    double F = 0.0;
    for (int q = 0; q < c->B * k; q++)
        F += (lam[q] - target) * (lam[q] - target);
    return F / (c->B * k);
}

/* ---- naive local objective ---- */

typedef struct naive {
    int T, B, N, k, warmup;
    double alpha;
    int act;
    int chain;      /* 0: Q_{t-1} frozen (local); 1: Q chain recomputed from Q0 (detach_h) */
    double target;  /* lambda* */
    double *d;      /* (T+1,B,N) f'(h_t) of the unperturbed run */
    double *Qf;     /* (T+1,B,N,k) frozen Q_t of the unperturbed run */
    gsl_matrix *J, *M, *Qfull, *Rfull;
    gsl_vector *tau;
} naive;

/* M = J_t(W) Qprev with J = (1-a) I + a W diag(d), dense; QR by GSL; returns
 * the log|R_ii| in lr (k) and, if Qnext, the first k columns of Q. */
static void naive_step(naive *nv, const double *W, const double *d /* (N) */,
                       const double *Qprev /* (N,k) */, double *lr, double *Qnext)
{
    const int N = nv->N, k = nv->k;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            gsl_matrix_set(nv->J, i, j, (i == j ? 1.0 - nv->alpha : 0.0) +
                                            nv->alpha * W[i * N + j] * d[j]);
    for (int i = 0; i < N; i++)
        for (int a = 0; a < k; a++) {
            double s = 0.0;
            for (int j = 0; j < N; j++)
                s += gsl_matrix_get(nv->J, i, j) * Qprev[j * k + a];
            gsl_matrix_set(nv->M, i, a, s);
        }
    gsl_linalg_QR_decomp(nv->M, nv->tau);
    for (int a = 0; a < k; a++)
        lr[a] = log(fabs(gsl_matrix_get(nv->M, a, a)));
    if (Qnext) {
        gsl_linalg_QR_unpack(nv->M, nv->tau, nv->Qfull, nv->Rfull);
        for (int i = 0; i < N; i++)
            for (int a = 0; a < k; a++)
                Qnext[i * k + a] = gsl_matrix_get(nv->Qfull, i, a);
    }
}

/* F of exponents with W' along the frozen trajectory f'(h_t) of the
 * unperturbed run: with chain = 0 each step also starts from the frozen
 * Q_{t-1} (local objective; with record, run and freeze the Q's at W), with
 * chain = 1 the Q's are recomputed from Q0 with W' (detach_h objective; Qf
 * is the scratch of the chain).  lam (B,k). */
static double naive_F(naive *nv, const double *W, int record, double *lam)
{
    const int T = nv->T, B = nv->B, N = nv->N, k = nv->k;
    double lr[64], F = 0.0;
    for (int b = 0; b < B; b++) {
        for (int a = 0; a < k; a++)
            lam[b * k + a] = 0.0;
        for (int t = 1; t <= T; t++) {
            const double *Qp = nv->Qf + ((size_t)(t - 1) * B + b) * N * k;
            double *Qn = record || nv->chain ? nv->Qf + ((size_t)t * B + b) * N * k : NULL;
            naive_step(nv, W, nv->d + ((size_t)(t - 1) * B + b) * N, Qp, lr, Qn);
            if (t > nv->warmup)
                for (int a = 0; a < k; a++)
                    lam[b * k + a] += lr[a] / (T - nv->warmup);
        }
        for (int a = 0; a < k; a++)
            F += (lam[b * k + a] - nv->target) * (lam[b * k + a] - nv->target);
    }
    return F / (B * k);
}

/* ---- finite-difference checks ---- */

static const int fd_tensors[3] = {RNN_W_REC, RNN_W_IN, RNN_B};

/* Tolerance 1e-6: central differences with h = 1e-5 have truncation error
 * ~ h^2 |F'''| / 6 ~ 1e-10 relative for these O(1) weights and T = 15
 * steps, and rounding error ~ eps |F| / h ~ 1e-11 relative to gradients of
 * size ~ F; the rest of the budget covers the growth of F''' in the chaotic
 * net (e^{lambda T}).  An error in any adjoint term is O(1) relative. */
static void fd_full(int act, double g, double target, gsl_rng *r)
{
    const int N = 10, I = 2, O = 2, k = 3, T = 15, B = 3, warmup = 3;
    const double alpha = 0.5, h = 1e-5;
    rnn_params p, grad;
    rnn_params_alloc(&p, N, I, O);
    rnn_params_alloc(&grad, N, I, O);
    make_net(&p, g, r);
    double *x = malloc(sizeof(double) * T * B * I), Q0[N * k], lam[B * k], lam2[B * k];
    for (int q = 0; q < T * B * I; q++)
        x[q] = gsl_ran_gaussian(r, 1.0);
    lyap_q0(Q0, N, k, r);
    floss_work *fw = floss_work_alloc(T, B, N, I, O, k);
    floss_work_set_target(fw, target);
    lyap_work *lw = lyap_work_alloc(N, k, B);
    rnn_cache c;
    rnn_cache_alloc(&c, T, B, N, O);
    const double F = floss_gradient(FLOSS_FULL, &p, act, alpha, x, Q0, warmup, &grad, lam, fw);
    const double F2 = F_ref(&p, act, alpha, x, Q0, k, warmup, target, &c, lw, lam2);
    double dl = 0.0;
    for (int q = 0; q < B * k; q++)
        dl = fmax(dl, fabs(lam[q] - lam2[q]));
    char what[128];
    char tg[32] = "";
    if (target != 0)
        snprintf(tg, sizeof tg, " target=%+.2f", target);
    snprintf(what, sizeof what, "full %s g=%.1f%s: F, lam == lyap_driven (F=%.4f)", act_name(act), g,
             tg, F);
    check(what, fmax(fabs(F - F2), dl), 1e-12);
    for (int ti = 0; ti < 3; ti++) {
        int rows, cols;
        rnn_tensor_shape(&p, fd_tensors[ti], &rows, &cols);
        const size_t n = (size_t)rows * cols;
        double *v = rnn_tensor(&p, fd_tensors[ti]), *gt = rnn_tensor(&grad, fd_tensors[ti]);
        double *fd = malloc(n * sizeof(double));
        for (size_t q = 0; q < n; q++) {
            const double v0 = v[q];
            v[q] = v0 + h;
            const double Fp = F_ref(&p, act, alpha, x, Q0, k, warmup, target, &c, lw, lam2);
            v[q] = v0 - h;
            const double Fm = F_ref(&p, act, alpha, x, Q0, k, warmup, target, &c, lw, lam2);
            v[q] = v0;
            fd[q] = (Fp - Fm) / (2 * h);
        }
        snprintf(what, sizeof what, "full %s g=%.1f%s: d%s vs central FD (rel, norm-wise)",
                 act_name(act), g, tg, rnn_tensor_name(fd_tensors[ti]));
        check(what, check_rel_err(gt, fd, n), 1e-6);
        free(fd);
    }
    double z = 0.0;
    for (size_t q = 0; q < (size_t)O * N + O; q++)
        z = fmax(z, fabs(grad.W_out[q]));
    snprintf(what, sizeof what, "full %s g=%.1f%s: dW_out, db_out exactly 0", act_name(act), g, tg);
    check(what, z, 0.0);
    rnn_cache_free(&c);
    lyap_work_free(lw);
    floss_work_free(fw);
    free(x);
    rnn_params_free(&p);
    rnn_params_free(&grad);
}

/* Local mode (h_{t-1} and Q_{t-1} frozen) or detach_h (h_{t-1} frozen, Q
 * chain live) against central FD of the naive objective with the same
 * things frozen.  Same tolerance argument as fd_full; these objectives do
 * not go through the trajectory, so they are smoother than F. */
static void fd_frozen(int mode, int act, double g, double target, gsl_rng *r)
{
    const char *mname = mode == FLOSS_LOCAL ? "local" : "detach_h";
    const int N = 10, I = 2, O = 2, k = 3, T = 15, B = 3, warmup = 3;
    const double alpha = 0.5, h = 1e-5;
    rnn_params p, grad;
    rnn_params_alloc(&p, N, I, O);
    rnn_params_alloc(&grad, N, I, O);
    make_net(&p, g, r);
    double *x = malloc(sizeof(double) * T * B * I), Q0[N * k], lam[B * k], lam2[B * k];
    for (int q = 0; q < T * B * I; q++)
        x[q] = gsl_ran_gaussian(r, 1.0);
    lyap_q0(Q0, N, k, r);
    floss_work *fw = floss_work_alloc(T, B, N, I, O, k);
    floss_work_set_target(fw, target);
    const double F = floss_gradient(mode, &p, act, alpha, x, Q0, warmup, &grad, lam, fw);

    /* Unperturbed run, naive: trajectory by rnn_forward, f' by hand, Q frozen
     * (local) or recomputed (detach_h). */
    naive nv = {T, B, N, k, warmup, alpha, act, mode == FLOSS_DETACH_H, target, NULL, NULL,
                gsl_matrix_alloc(N, N),
                gsl_matrix_alloc(N, k), gsl_matrix_alloc(N, N), gsl_matrix_alloc(N, k),
                gsl_vector_alloc(k)};
    nv.d = malloc(sizeof(double) * (T + 1) * B * N);
    nv.Qf = malloc(sizeof(double) * (T + 1) * B * N * k);
    rnn_cache c;
    rnn_cache_alloc(&c, T, B, N, O);
    rnn_forward(&p, act, alpha, x, &c);
    for (size_t q = 0; q < (size_t)(T + 1) * B * N; q++) {
        const double hv = c.h[q];
        nv.d[q] = act == ACT_RELU ? (hv > 0 ? 1.0 : 0.0) : 1.0 - tanh(hv) * tanh(hv);
    }
    for (int b = 0; b < B; b++)
        memcpy(nv.Qf + (size_t)b * N * k, Q0, sizeof(double) * N * k);
    const double Fn = naive_F(&nv, p.W_rec, 1, lam2);
    double dl = 0.0;
    for (int q = 0; q < B * k; q++)
        dl = fmax(dl, fabs(lam[q] - lam2[q]));
    char what[128];
    char tg[32] = "";
    if (target != 0)
        snprintf(tg, sizeof tg, " target=%+.2f", target);
    /* 1e-10: two QR implementations over 15 steps, O(1) conditioning. */
    snprintf(what, sizeof what, "%s %s g=%.1f%s: F, lam == naive loop (F=%.4f)", mname,
             act_name(act), g, tg, F);
    check(what, fmax(fabs(F - Fn), dl), 1e-10);

    const size_t n = (size_t)N * N;
    double *fd = malloc(n * sizeof(double));
    for (size_t q = 0; q < n; q++) {
        const double v0 = p.W_rec[q];
        p.W_rec[q] = v0 + h;
        const double Fp = naive_F(&nv, p.W_rec, 0, lam2);
        p.W_rec[q] = v0 - h;
        const double Fm = naive_F(&nv, p.W_rec, 0, lam2);
        p.W_rec[q] = v0;
        fd[q] = (Fp - Fm) / (2 * h);
    }
    snprintf(what, sizeof what, "%s %s g=%.1f%s: dW_rec vs FD of frozen-%s objective", mname,
             act_name(act), g, tg, mode == FLOSS_LOCAL ? "state" : "h");
    check(what, check_rel_err(grad.W_rec, fd, n), 1e-6);
    double z = 0.0;
    for (int q = 0; q < N * I; q++)
        z = fmax(z, fabs(grad.W_in[q]));
    for (int q = 0; q < N; q++)
        z = fmax(z, fabs(grad.b[q]));
    for (size_t q = 0; q < (size_t)O * N + O; q++)
        z = fmax(z, fabs(grad.W_out[q]));
    snprintf(what, sizeof what, "%s %s g=%.1f%s: dW_in, db, dW_out, db_out exactly 0", mname,
             act_name(act), g, tg);
    check(what, z, 0.0);
    free(fd);
    rnn_cache_free(&c);
    free(nv.d);
    free(nv.Qf);
    gsl_matrix_free(nv.J);
    gsl_matrix_free(nv.M);
    gsl_matrix_free(nv.Qfull);
    gsl_matrix_free(nv.Rfull);
    gsl_vector_free(nv.tau);
    floss_work_free(fw);
    free(x);
    rnn_params_free(&p);
    rnn_params_free(&grad);
}

/* ---- flossing with Adam ---- */

/* Romo-like inputs (SPEC §2 at dt = 0.5): f1 for 2 steps after 6 steps of
 * fixation, a delay of 4..16 steps, f2 for 2 steps, zeros elsewhere. */
static void romo_inputs(double *x /* (T,B,1) */, int T, int B, gsl_rng *r)
{
    memset(x, 0, sizeof(double) * T * B);
    for (int b = 0; b < B; b++) {
        const double f1 = 0.5 + gsl_rng_uniform(r), f2 = 0.5 + gsl_rng_uniform(r);
        const int delay = 4 + (int)gsl_rng_uniform_int(r, 13);
        for (int t = 6; t < 8; t++)
            x[t * B + b] = f1;
        for (int t = 8 + delay; t < 10 + delay && t < T; t++)
            x[t * B + b] = f2;
    }
}

static double lam_max_mean(const double *lam, int B, int k)
{
    double s = 0.0;
    for (int b = 0; b < B; b++)
        s += lam[b * k];
    return s / B;
}

/* Step `it` (1-based) of Adam, beta 0.9/0.999, eps 1e-8, written out as the
 * textbook update (independent of train.c's): p -= lr * mhat / (sqrt(vhat) + eps).
 * m, v (p->size) are the moment estimates, zero before step 1. */
static void adam_step(rnn_params *p, const rnn_params *grad, double *m, double *v, int it,
                      double lr)
{
    const double c1 = 1.0 - pow(0.9, it), c2 = 1.0 - pow(0.999, it);
    for (size_t q = 0; q < p->size; q++) {
        m[q] = 0.9 * m[q] + 0.1 * grad->data[q];
        v[q] = 0.999 * v[q] + 0.001 * grad->data[q] * grad->data[q];
        p->data[q] -= lr * (m[q] / c1) / (sqrt(v[q] / c2) + 1e-8);
    }
}

/* 100 Adam steps (beta 0.9/0.999, eps 1e-8, lr below) on W_rec, W_in, b
 * with a fresh input batch each step; F and lambda_max on a fixed
 * evaluation batch before and after. */
static void floss_adam(int mode, double g, double lr, double ratio_max, double lam_ratio_max,
                       gsl_rng *r)
{
    const int N = 64, I = 1, O = 2, k = 4, T = 56, B = 16, warmup = 5, iters = 100;
    const double alpha = 0.5;
    rnn_params p, grad;
    rnn_params_alloc(&p, N, I, O);
    rnn_params_alloc(&grad, N, I, O);
    rnn_params_init(&p, g, r);
    double *x = malloc(sizeof(double) * T * B), *xe = malloc(sizeof(double) * T * B);
    double Q0[N * k], lam[B * k];
    double *m = calloc(p.size, sizeof(double)), *v = calloc(p.size, sizeof(double));
    lyap_q0(Q0, N, k, r);
    romo_inputs(xe, T, B, r);
    floss_work *fw = floss_work_alloc(T, B, N, I, O, k);
    const double F0 = floss_objective(&p, ACT_TANH, alpha, xe, Q0, warmup, lam, fw);
    const double l0 = lam_max_mean(lam, B, k);
    const double t0 = clock_now();
    for (int it = 1; it <= iters; it++) {
        romo_inputs(x, T, B, r);
        floss_gradient(mode, &p, ACT_TANH, alpha, x, Q0, warmup, &grad, lam, fw);
        adam_step(&p, &grad, m, v, it, lr);
    }
    const double sec = clock_now() - t0;
    const double F1 = floss_objective(&p, ACT_TANH, alpha, xe, Q0, warmup, lam, fw);
    const double l1 = lam_max_mean(lam, B, k);
    printf("     flossing %-5s g=%.1f lr=%.0e: F %.5f -> %.5f (ratio %.3f), lambda_max %+.4f -> %+.4f"
           "  (%d Adam steps, %.2f s)\n",
           mode == FLOSS_FULL ? "full" : "local", g, lr, F0, F1, F1 / F0, l0, l1, iters, sec);
    char what[128];
    snprintf(what, sizeof what, "flossing %s g=%.1f: F_after / F_before", mode == FLOSS_FULL ? "full" : "local", g);
    check(what, F1 / F0, ratio_max);
    snprintf(what, sizeof what, "flossing %s g=%.1f: |lambda_max after| / |lambda_max before|",
             mode == FLOSS_FULL ? "full" : "local", g);
    check(what, fabs(l1) / fabs(l0), lam_ratio_max);
    floss_work_free(fw);
    free(m);
    free(v);
    free(x);
    free(xe);
    rnn_params_free(&p);
    rnn_params_free(&grad);
}

/* 100 full-mode Adam steps toward lambda* (the causal test of SPEC §10):
 * lambda_max, the mean over a fixed evaluation batch's trials of the
 * largest exponent, must end within 0.05 of lambda*.  Same net, inputs and
 * Adam as floss_adam; k exponents flossed. */
static void floss_toward(double g, double target, int k, double lr, gsl_rng *r)
{
    const int N = 64, I = 1, O = 2, T = 56, B = 16, warmup = 5, iters = 100;
    const double alpha = 0.5;
    rnn_params p, grad;
    rnn_params_alloc(&p, N, I, O);
    rnn_params_alloc(&grad, N, I, O);
    rnn_params_init(&p, g, r);
    double *x = malloc(sizeof(double) * T * B), *xe = malloc(sizeof(double) * T * B);
    double *Q0 = malloc(sizeof(double) * N * k), *lam = malloc(sizeof(double) * B * k);
    double *m = calloc(p.size, sizeof(double)), *v = calloc(p.size, sizeof(double));
    lyap_q0(Q0, N, k, r);
    romo_inputs(xe, T, B, r);
    floss_work *fw = floss_work_alloc(T, B, N, I, O, k);
    floss_work_set_target(fw, target);
    floss_objective(&p, ACT_TANH, alpha, xe, Q0, warmup, lam, fw);
    const double l0 = lam_max_mean(lam, B, k);
    for (int it = 1; it <= iters; it++) {
        romo_inputs(x, T, B, r);
        floss_gradient(FLOSS_FULL, &p, ACT_TANH, alpha, x, Q0, warmup, &grad, lam, fw);
        adam_step(&p, &grad, m, v, it, lr);
    }
    floss_objective(&p, ACT_TANH, alpha, xe, Q0, warmup, lam, fw);
    const double l1 = lam_max_mean(lam, B, k);
    char what[160];
    snprintf(what, sizeof what,
             "flossing full g=%.1f toward %+.2f (k=%d lr=%.0e): lambda_max %+.4f -> %+.4f, |off|",
             g, target, k, lr, l0, l1);
    check(what, fabs(l1 - target), 0.05);
    floss_work_free(fw);
    free(m);
    free(v);
    free(x);
    free(xe);
    free(Q0);
    free(lam);
    rnn_params_free(&p);
    rnn_params_free(&grad);
}

int main(void)
{
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20240611);
    double t0 = clock_now();
    const int acts[2] = {ACT_TANH, ACT_RELU};
    const double gains[2] = {2.0, 0.5};
    for (int a = 0; a < 2; a++)
        for (int gi = 0; gi < 2; gi++)
            fd_full(acts[a], gains[gi], 0.0, r);
    printf("     (full-mode FD checks: %.2f s)\n", clock_now() - t0);
    t0 = clock_now();
    for (int a = 0; a < 2; a++)
        for (int gi = 0; gi < 2; gi++)
            fd_frozen(FLOSS_LOCAL, acts[a], gains[gi], 0.0, r);
    printf("     (local-mode FD checks: %.2f s)\n", clock_now() - t0);
    /* detach_h and targets on a stream of their own, so that the checks
     * above and below see the nets they always saw */
    gsl_rng *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r2, 20250101);
    t0 = clock_now();
    for (int a = 0; a < 2; a++)
        for (int gi = 0; gi < 2; gi++)
            fd_frozen(FLOSS_DETACH_H, acts[a], gains[gi], 0.0, r2);
    fd_frozen(FLOSS_DETACH_H, ACT_TANH, 2.0, -0.2, r2);
    fd_frozen(FLOSS_DETACH_H, ACT_RELU, 0.5, 0.05, r2);
    fd_full(ACT_TANH, 2.0, -0.2, r2);
    fd_full(ACT_TANH, 0.5, 0.05, r2);
    fd_full(ACT_RELU, 2.0, 0.1, r2);
    fd_frozen(FLOSS_LOCAL, ACT_TANH, 2.0, 0.1, r2);
    printf("     (detach_h and target FD checks: %.2f s)\n", clock_now() - t0);

    /* Thresholds from 16 seeds of this stream (1..15 and this one): full
     * mode (lr 1e-2) ended at F ratios <= 0.135 (all but one <= 0.014) and
     * |lambda_max| ratios <= 0.27.  Local mode is weaker and noisier (only
     * W_rec moves, and only through its explicit dependence): at lr 3e-3,
     * F ratios <= 0.66 (ordered) and <= 0.28 (chaotic), |lambda_max| ratios
     * <= 0.62; at lr 1e-2 and 2e-2 it was worse and diverged on some seeds. */
    floss_adam(FLOSS_FULL, 2.0, 1e-2, 0.25, 0.5, r);
    floss_adam(FLOSS_FULL, 0.5, 1e-2, 0.25, 0.5, r);
    floss_adam(FLOSS_LOCAL, 2.0, 3e-3, 0.8, 0.8, r);
    floss_adam(FLOSS_LOCAL, 0.5, 3e-3, 0.8, 0.8, r);

    /* Bad arguments give NaN. */
    {
        rnn_params p, grad;
        rnn_params_alloc(&p, 4, 1, 1);
        rnn_params_alloc(&grad, 4, 1, 1);
        floss_work *fw = floss_work_alloc(5, 1, 4, 1, 1, 2);
        double x[5] = {0}, Q0[8] = {1, 0, 0, 1, 0, 0, 0, 0}, lam[2];
        const double Fb = floss_gradient(FLOSS_FULL, &p, ACT_TANH, 0.5, x, Q0, 5, &grad, lam, fw);
        check("warmup >= T returns NaN (0 = yes)", isnan(Fb) ? 0.0 : 1.0, 0.0);
        check("floss_work_alloc(k > N) returns NULL (0 = yes)",
              floss_work_alloc(5, 1, 4, 1, 1, 5) == NULL ? 0.0 : 1.0, 0.0);
        floss_work_free(fw);
        floss_work_free(NULL);
        rnn_params_free(&p);
        rnn_params_free(&grad);
    }
    /* k = 1, lr = 1e-2: on 6 streams (this one and seeds 1..5) every run
     * ended within 0.004 of its target.  k = 4 at lr 3e-3 and 1e-2 stopped
     * short at g = 2 toward -0.2 (lambda_max -0.08, -0.05): all four
     * exponents must then contract; lr 3e-2 overshot toward +0.05. */
    t0 = clock_now();
    const double targets[2] = {-0.2, 0.05};
    for (int gi = 0; gi < 2; gi++)
        for (int ti = 0; ti < 2; ti++)
            floss_toward(gains[gi], targets[ti], 1, 1e-2, r2);
    printf("     (flossing toward targets: %.2f s)\n", clock_now() - t0);
    gsl_rng_free(r);
    gsl_rng_free(r2);
    return check_summary("test_floss");
}
