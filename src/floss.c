/* floss.c — the gradient-flossing objective and its reverse-mode gradient (SPEC §5).
 *
 * Forward: rnn_forward for the trajectory, then the QR iteration of
 * lyap_driven (a QR every step) with every Q_t (N,k,B) and R_t (k,k,B)
 * kept in the workspace, in lyap.h's panel layout (column j*B + b is column
 * j of trial b).  With lambda_{b,i} = sum_{t>w} log R_t,ii / (T - w) and the
 * target lambda* (floss_work_set_target, default 0),
 *
 *     F = mean_b (1/k) sum_i (lambda_{b,i} - lambda*)^2
 *     dF/dlog R_t,ii = coef_{b,i} = 2 (lambda_{b,i} - lambda*) / (B k (T - w))   (t > w)
 *
 * so the adjoint of R_t is diagonal, Rbar_t = diag(coef / R_t,ii).
 *
 * Backward, one step t = T..1 at a time, all trials at once:
 *   1. thin-QR adjoint of M_t = Q_t R_t (Seeger et al./Walter & Lehmann):
 *        S    = copyltu(R Rbar^T - Qbar^T Q)
 *        Mbar = (Qbar + Q S) R^{-T}
 *   2. adjoint of M_t = (1-a) Q_{t-1} + a W_rec (d_{t-1} o Q_{t-1}),
 *      d = f'(h): with G = W_rec^T Mbar (one dgemm for all trials),
 *        dW_rec  += a Mbar (d o Q_{t-1})^T
 *        Qbar    <- (1-a) Mbar + a d o G                 (Qbar of step t-1)
 *        hbar_{t-1} += a f''(h_{t-1}) o sum_j Q_{t-1} o G   (full mode)
 *   3. (full mode) adjoint of the state update h_t -> h_{t-1}:
 *        hbar_{t-1} += (1-a) hbar_t + a f'(h_{t-1}) o (W_rec^T hbar_t)
 *      with the weight gradients a hbar_t^T [r_{t-1} | x_t | 1] summed over
 *      all steps at the end as one dgemm each.
 * Local mode keeps only steps 1 and 2's dW_rec with Qbar = 0 (Q_{t-1} and
 * h_{t-1} are constants there), where step 1 reduces to Mbar = Q diag(coef)
 * R^{-T}.  detach_h mode keeps steps 1 and 2 without the f'' term (h_{t-1},
 * hence d_{t-1}, is a constant; Q_{t-1} is not) and drops step 3.  Per-trial
 * small-matrix work runs with the trial index innermost.
 */
#include "rnnsweep/floss.h"
#include "rnnsweep/lyap.h"
#include "kernel.h"
#include "slab.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>

struct floss_work {
    int T, B, N, I, O, k;
    rnn_cache c;      /* trajectory h, r (T+1,B,N) */
    double *dT;       /* (T+1,N,B) f'(h_t), trial index innermost */
    double *Q;        /* (T+1,N,k,B) Q_t */
    double *R;        /* (T,k,k,B) R_t at index t-1 */
    double *Y;        /* (N,k,B) d o Q scratch */
    double *Qbar;     /* (N,k,B) */
    double *Mbar;     /* (N,k,B) */
    double *G;        /* (N,k,B) W_rec^T Mbar */
    double *slab;     /* adj_slab_size(N,k): qr_adjoint's 8-trial slabs */
    double *rho;      /* (k,B) diagonal of Rbar */
    double *coef;     /* (k,B) dF/dlog R_ii for t > warmup */
    double *hbar;     /* (T+1,B,N) adjoint of h_t */
    double *tBN;      /* (B,N) scratch */
    double *qrw;      /* LYAP_QR_WORK(N,k) */
    double target;    /* lambda* */
};

static size_t adj_slab_size(int N, int k);

floss_work *floss_work_alloc(int T, int B, int N, int I, int O, int k)
{
    if (T < 1 || B < 1 || N < 1 || I < 1 || O < 1 || k < 1 || k > N)
        return NULL;
    floss_work *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->T = T;
    w->B = B;
    w->N = N;
    w->I = I;
    w->O = O;
    w->k = k;
    const size_t P = (size_t)N * k * B, BN = (size_t)B * N, KK = (size_t)k * k * B;
    if (rnn_cache_alloc(&w->c, T, B, N, O) != 0) {
        free(w);
        return NULL;
    }
    w->dT = malloc((T + 1) * BN * sizeof(double));
    w->Q = malloc((T + 1) * P * sizeof(double));
    w->R = malloc((size_t)T * KK * sizeof(double));
    w->Y = malloc(P * sizeof(double));
    w->Qbar = malloc(P * sizeof(double));
    w->Mbar = malloc(P * sizeof(double));
    w->G = malloc(P * sizeof(double));
    w->slab = malloc(adj_slab_size(N, k) * sizeof(double));
    w->rho = malloc((size_t)k * B * sizeof(double));
    w->coef = malloc((size_t)k * B * sizeof(double));
    w->hbar = malloc((T + 1) * BN * sizeof(double));
    w->tBN = malloc(BN * sizeof(double));
    w->qrw = malloc(LYAP_QR_WORK(N, k) * sizeof(double));
    if (!w->dT || !w->Q || !w->R || !w->Y || !w->Qbar || !w->Mbar || !w->G || !w->slab ||
        !w->rho || !w->coef || !w->hbar || !w->tBN || !w->qrw) {
        floss_work_free(w);
        return NULL;
    }
    return w;
}

void floss_work_free(floss_work *w)
{
    if (!w)
        return;
    rnn_cache_free(&w->c);
    free(w->dT);
    free(w->Q);
    free(w->R);
    free(w->Y);
    free(w->Qbar);
    free(w->Mbar);
    free(w->G);
    free(w->slab);
    free(w->rho);
    free(w->coef);
    free(w->hbar);
    free(w->tBN);
    free(w->qrw);
    free(w);
}

void floss_work_set_target(floss_work *w, double target)
{
    w->target = target;
}

static int args_ok(const rnn_params *p, const double *x, const double *Q0, int warmup,
                   const double *lam, const floss_work *w)
{
    return p && x && Q0 && lam && w && p->N == w->N && p->I == w->I && p->O == w->O &&
           warmup >= 0 && warmup < w->T;
}

/* Forward pass: trajectory, f'(h_t), Q_t, R_t; lam (B,k), coef; returns F. */
static double forward(const rnn_params *p, int act, double alpha, const double *x /* (T,B,I) */,
                      const double *Q0 /* (N,k) */, int warmup, double *lam /* (B,k) */,
                      floss_work *w)
{
    const int T = w->T, B = w->B, N = w->N, k = w->k;
    const size_t BN = (size_t)B * N, P = (size_t)N * k * B, KK = (size_t)k * k * B;
    rnn_forward(p, act, alpha, x, &w->c);
    for (int t = 0; t <= T; t++) {
        rnn_act_deriv(act, w->c.h + t * BN, w->c.r + t * BN, w->tBN, BN);
        double *dT = w->dT + t * BN;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++)
                dT[(size_t)i * B + b] = w->tBN[(size_t)b * N + i];
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < k; j++)
            for (int b = 0; b < B; b++)
                w->Q[((size_t)i * k + j) * B + b] = Q0[(size_t)i * k + j];
    double *lsum = w->coef;
    memset(lsum, 0, (size_t)k * B * sizeof(double));
    for (int t = 1; t <= T; t++) {
        double *Qt = w->Q + t * P, *Rt = w->R + (t - 1) * KK;
        lyap_jacobian_apply(N, k, B, p->W_rec, alpha, w->dT + (t - 1) * BN, Qt - P, w->Y, Qt);
        lyap_qr(Qt, k * B, N, k, B, Rt, w->qrw);
        if (t > warmup)
            for (int a = 0; a < k; a++)
                for (int b = 0; b < B; b++)
                    lsum[(size_t)a * B + b] += log(Rt[((size_t)a * k + a) * B + b]);
    }
    const int n = T - warmup;
    double F = 0.0;
    for (int b = 0; b < B; b++)
        for (int a = 0; a < k; a++) {
            const double l = lsum[(size_t)a * B + b] / n;
            lam[(size_t)b * k + a] = l;
            F += (l - w->target) * (l - w->target);
        }
    F /= (double)B * k;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < B; b++) {
            const double l = lam[(size_t)b * k + a] - w->target;
            w->coef[(size_t)a * B + b] = 2.0 * l / ((double)B * k * n);
        }
    return F;
}

double floss_objective(const rnn_params *p, int act, double alpha,
                       const double *x /* (T,B,I) */, const double *Q0 /* (N,k) */, int warmup,
                       double *lam /* (B,k) */, floss_work *w)
{
    if (!args_ok(p, x, Q0, warmup, lam, w))
        return NAN;
    return forward(p, act, alpha, x, Q0, warmup, lam, w);
}

/* ---- thin-QR adjoint, 8 trials at a time ----
 *
 * Trials are processed in groups of 8 packed into slabs of 8-lane vectors
 * (lane = trial, as in lyap.c's QR): the k x k accumulators of one group
 * (16 KiB at k = 16) stay in L1, and every operation is SIMD over trials.
 * Lanes past B in the last group are padded with Q = 0, R = all ones
 * (invertible), rho = 0 (slab.h). */

/* Doubles of slab space for qr_adjoint (plus 8 for alignment). */
static size_t adj_slab_size(int N, int k)
{
    return SLAB_LANES * (3 * (size_t)N * k + (size_t)k * k * 2 + k) + SLAB_LANES;
}

/* Mbar = (Qbar + Q S) R^{-T}, S = copyltu(R diag(rho) - Qbar^T Q), on slabs.
 * Only the lower triangle of R diag(rho) - Qbar^T Q is needed, and R diag(rho)
 * contributes there only on the diagonal. */
KERNEL_SIMD_CLONES static void adjoint_group(int N, int k, const v8d *Q /* (N,k) x 8 */,
                                     const v8d *R /* (k,k) x 8 */,
                                     const v8d *Qbar /* (N,k) x 8 or NULL */,
                                     const v8d *rho /* (k) x 8 */, v8d *S /* (k,k) x 8 */,
                                     v8d *Mbar /* (N,k) x 8 */)
{
    const v8d zero = {0};
    for (int q = 0; q < k * k; q++)
        S[q] = zero;
    if (Qbar)
        for (int i = 0; i < N; i++) {
            const v8d *qb = Qbar + (size_t)i * k, *q = Q + (size_t)i * k;
            for (int a = 0; a < k; a++)
                for (int c = 0; c <= a; c++)
                    S[a * k + c] -= qb[a] * q[c];
        }
    for (int a = 0; a < k; a++) {
        S[a * k + a] += R[a * k + a] * rho[a];
        for (int c = 0; c < a; c++)
            S[c * k + a] = S[a * k + c];
    }
    for (int i = 0; i < N; i++) {
        const v8d *q = Q + (size_t)i * k;
        v8d *m = Mbar + (size_t)i * k;
        for (int a = 0; a < k; a++)
            m[a] = Qbar ? Qbar[(size_t)i * k + a] : zero;
        for (int c = 0; c < k; c++)
            for (int a = 0; a < k; a++)
                m[a] += q[c] * S[c * k + a];
        /* Mbar R^T = X: back substitution over a = k-1..0 (R upper). */
        for (int a = k - 1; a >= 0; a--) {
            v8d v = m[a];
            for (int c = a + 1; c < k; c++)
                v -= m[c] * R[a * k + c];
            m[a] = v / R[a * k + a];
        }
    }
}

/* Thin-QR adjoint for all trials of a panel (Rbar = diag(rho); Qbar NULL
 * means 0); slab is adj_slab_size(N,k) doubles of scratch. */
static void qr_adjoint(int N, int k, int B, const double *Q /* (N,k,B) */,
                       const double *R /* (k,k,B) */, const double *Qbar /* (N,k,B) */,
                       const double *rho /* (k,B) */, double *slab, double *Mbar /* (N,k,B) */)
{
    v8d *Qs = slab_align(slab);
    v8d *Qbs = Qs + (size_t)N * k, *Ms = Qbs + (size_t)N * k, *Rs = Ms + (size_t)N * k;
    v8d *Ss = Rs + (size_t)k * k, *rs = Ss + (size_t)k * k;
    const size_t ld = (size_t)k * B; /* row stride of the (.,k,B) panels */
    for (int b0 = 0; b0 < B; b0 += SLAB_LANES) {
        const int nb = B - b0 < SLAB_LANES ? B - b0 : SLAB_LANES;
        slab_pack(Qs, Q + b0, ld, B, N, k, nb, 0.0);
        if (Qbar)
            slab_pack(Qbs, Qbar + b0, ld, B, N, k, nb, 0.0);
        slab_pack(Rs, R + b0, ld, B, k, k, nb, 1.0); /* padding R = all ones: invertible */
        slab_pack(rs, rho + b0, ld, B, 1, k, nb, 0.0);
        adjoint_group(N, k, Qs, Rs, Qbar ? Qbs : NULL, rs, Ss, Ms);
        slab_unpack(Ms, Mbar + b0, ld, B, N, k, nb);
    }
}

/* rho = coef / diag(R_t) after the warm-up, 0 during it (and where coef is 0). */
static void rbar_diag(const floss_work *w, int t, int warmup, double *rho /* (k,B) */)
{
    const int k = w->k, B = w->B;
    const double *Rt = w->R + (size_t)(t - 1) * k * k * B;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < B; b++) {
            const double c = w->coef[(size_t)a * B + b];
            rho[(size_t)a * B + b] =
                t > warmup && c != 0.0 ? c / Rt[((size_t)a * k + a) * B + b] : 0.0;
        }
}

/* Y = d_{t-1} o Q_{t-1}, then dW_rec += alpha Mbar Y^T: (N,kB) x (kB,N). */
static void add_dW_tangent(floss_work *w, int t, double alpha, double *dW_rec /* (N,N) */)
{
    const int N = w->N, B = w->B, kB = w->k * B;
    const double *Qp = w->Q + (size_t)(t - 1) * N * kB, *dT = w->dT + (size_t)(t - 1) * B * N;
    for (int i = 0; i < N; i++) {
        const double *d = dT + (size_t)i * B, *q = Qp + (size_t)i * kB;
        double *y = w->Y + (size_t)i * kB;
        for (int c = 0; c < kB; c += B)
            for (int b = 0; b < B; b++)
                y[c + b] = d[b] * q[c + b];
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, kB,
                alpha, w->Mbar, kB, w->Y, kB, 1.0, dW_rec, N);
}

static void backward_local(const rnn_params *p, double alpha, int warmup, rnn_params *grad,
                           floss_work *w)
{
    (void)p;
    for (int t = warmup + 1; t <= w->T; t++) {
        const size_t P = (size_t)w->N * w->k * w->B;
        rbar_diag(w, t, warmup, w->rho);
        qr_adjoint(w->N, w->k, w->B, w->Q + t * P, w->R + (size_t)(t - 1) * w->k * w->k * w->B,
                   NULL, w->rho, w->slab, w->Mbar);
        add_dW_tangent(w, t, alpha, grad->W_rec);
    }
}

/* Steps 2 (Qbar, f'' term) and 3 (state adjoint) of the header comment for
 * step t; with state = 0 (detach_h) only Qbar. */
static void backward_step_full(const rnn_params *p, int act, double alpha, int t, int state,
                               floss_work *w)
{
    const int N = w->N, B = w->B, kB = w->k * B;
    const size_t BN = (size_t)B * N;
    const double *Qp = w->Q + (size_t)(t - 1) * N * kB, *dT = w->dT + (t - 1) * BN;
    const double *rp = w->c.r + (t - 1) * BN;
    double *hb = w->hbar + t * BN, *hbp = w->hbar + (t - 1) * BN;
    const double leak = 1.0 - alpha;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, kB, N,
                1.0, p->W_rec, N, w->Mbar, kB, 0.0, w->G, kB);
    if (!state) {
        for (int i = 0; i < N; i++) {
            const double *d = dT + (size_t)i * B;
            const double *g = w->G + (size_t)i * kB, *mb = w->Mbar + (size_t)i * kB;
            double *qb = w->Qbar + (size_t)i * kB;
            for (int c = 0; c < kB; c += B)
                for (int b = 0; b < B; b++)
                    qb[c + b] = leak * mb[c + b] + alpha * d[b] * g[c + b];
        }
        return;
    }
    for (int i = 0; i < N; i++) {
        const double *d = dT + (size_t)i * B, *q = Qp + (size_t)i * kB;
        const double *g = w->G + (size_t)i * kB, *mb = w->Mbar + (size_t)i * kB;
        double *qb = w->Qbar + (size_t)i * kB;
        double *dd = w->Y + (size_t)i * kB;   /* row i of Y (used up by dW) holds dd (B) */
        for (int b = 0; b < B; b++)
            dd[b] = 0.0;
        for (int c = 0; c < kB; c += B)
            for (int b = 0; b < B; b++) {
                qb[c + b] = leak * mb[c + b] + alpha * d[b] * g[c + b];
                dd[b] += q[c + b] * g[c + b];
            }
    }
    /* f''(h): tanh'' = -2 tanh (1 - tanh^2), relu'' = 0. */
    if (act == ACT_TANH)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++) {
                const double r = rp[(size_t)b * N + i], d = dT[(size_t)i * B + b];
                hbp[(size_t)b * N + i] += alpha * w->Y[(size_t)i * kB + b] * (-2.0 * r * d);
            }
    /* State: hbar_{t-1} += (1-a) hbar_t + a f'(h_{t-1}) o (hbar_t W_rec). */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, N,
                1.0, hb, N, p->W_rec, N, 0.0, w->tBN, N);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) {
            const size_t q = (size_t)b * N + i;
            hbp[q] += leak * hb[q] + alpha * dT[(size_t)i * B + b] * w->tBN[q];
        }
}

/* Full mode (state = 1) or detach_h (state = 0: no state adjoint, so only
 * dW_rec through the tangent chain). */
static void backward_full(const rnn_params *p, int act, double alpha, const double *x /* (T,B,I) */,
                          int warmup, int state, rnn_params *grad, floss_work *w)
{
    const int T = w->T, B = w->B, N = w->N, I = w->I, k = w->k;
    const size_t BN = (size_t)B * N, P = (size_t)N * k * B, KK = (size_t)k * k * B;
    memset(w->Qbar, 0, P * sizeof(double));
    memset(w->hbar, 0, (T + 1) * BN * sizeof(double));
    for (int t = T; t >= 1; t--) {
        rbar_diag(w, t, warmup, w->rho);
        qr_adjoint(N, k, B, w->Q + t * P, w->R + (t - 1) * KK, w->Qbar, w->rho, w->slab, w->Mbar);
        add_dW_tangent(w, t, alpha, grad->W_rec);
        if (t > 1 || state) /* Qbar of step 0 is not needed */
            backward_step_full(p, act, alpha, t, state, w);
    }
    if (!state)
        return;
    /* Weight gradients of the state updates, all steps at once:
     * dW_rec += a Hbar^T R_prev, dW_in += a Hbar^T X, db += a sum Hbar
     * over the (T*B) rows of steps 1..T. */
    const double *Hb = w->hbar + BN;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, T * B,
                alpha, Hb, N, w->c.r, N, 1.0, grad->W_rec, N);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, I, T * B,
                alpha, Hb, N, x, I, 1.0, grad->W_in, I);
    for (size_t row = 0; row < (size_t)T * B; row++)
        for (int i = 0; i < N; i++)
            grad->b[i] += alpha * Hb[row * N + i];
}

double floss_gradient(int mode, const rnn_params *p, int act, double alpha,
                      const double *x /* (T,B,I) */, const double *Q0 /* (N,k) */, int warmup,
                      rnn_params *grad, double *lam /* (B,k) */, floss_work *w)
{
    if (!args_ok(p, x, Q0, warmup, lam, w) || !grad || grad->N != p->N || grad->I != p->I ||
        grad->O != p->O || (mode != FLOSS_FULL && mode != FLOSS_LOCAL && mode != FLOSS_DETACH_H))
        return NAN;
    const double F = forward(p, act, alpha, x, Q0, warmup, lam, w);
    memset(grad->data, 0, grad->size * sizeof(double));
    if (mode == FLOSS_LOCAL)
        backward_local(p, alpha, warmup, grad, w);
    else
        backward_full(p, act, alpha, x, warmup, mode == FLOSS_FULL, grad, w);
    return F;
}

double floss_flops(int mode, int T, int B, int N, int k)
{
    const double n = N, kk = k;
    const double fwd = 2.0 * n * n + 3.0 * n + lyap_flops(1, 1, N, k);
    const double tangent_bwd = 2.0 * n * n * kk + n * kk;       /* dW += a Mbar (d o Q)^T */
    double per;
    if (mode == FLOSS_LOCAL)
        per = fwd + tangent_bwd + 3.0 * n * kk * kk;               /* (Q S) R^{-T} */
    else if (mode == FLOSS_DETACH_H)
        per = fwd + tangent_bwd + 4.0 * n * kk * kk                /* QR adjoint */
              + 2.0 * n * n * kk + 3.0 * n * kk;                    /* G, Qbar */
    else
        per = fwd + tangent_bwd + 4.0 * n * kk * kk                /* QR adjoint */
              + 2.0 * n * n * kk + 6.0 * n * kk                     /* G, Qbar, dd */
              + 4.0 * n * n + 8.0 * n;                              /* state adjoint, dW, db */
    return (double)T * B * per;
}
