/* lyap.c — Lyapunov exponents of the leaky RNN by repeated thin QR (SPEC §4).
 *
 * Tuned for the benchmark case N = 256, k = 16, T = 56, B = 32.  Per step the
 * tangent vectors of all trials form one (N, k*B) panel (see lyap.h), so
 * W_rec (dT o Q) is a single dgemm (N,N) x (N,k*B) — 2 N^2 k B flops, the
 * bulk of the work.  The B thin QRs are Householder (LAPACK's dgeqr2 +
 * dorg2r, 4 N k^2 flops per trial), run 8 trials at a time in an L2-resident
 * slab of 8-lane vectors so that every operation is SIMD over trials.
 * Householder rather than Gram-Schmidt because its Q is orthonormal to
 * rounding whatever the conditioning of M = J Q — which matters for k = N,
 * for relu (f' = 0 makes J singular when alpha = 1) and for sparse QR
 * (every_qr > 1, where the columns of M align with the leading direction);
 * CGS2 needs cond(M) << 1/eps and Cholesky-QR far less.  GSL's QR (level 3
 * in 2.7) only unpacks a full N x N Q, which would cost as much as the
 * tangent product, and per-trial level-2 BLAS calls on 256 x 16 matrices are
 * call-overhead bound.  Measured at the benchmark case (one core, OpenBLAS
 * SkylakeX kernels): ~125 ms per lyap_driven, of which ~73 ms is the dgemm.
 *
 * In autonomous mode the state columns ride in the same panel: one dgemm
 * W_rec [dT o Q | f(h)] (N,N) x (N,(k+1)B) advances the tangent space and
 * the state together.  Nothing here allocates after lyap_work_alloc.
 */
#include "rnnsweep/lyap.h"
#include "kernel.h"
#include "slab.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

struct lyap_work {
    int N, k, B;
    double *Qa, *Qb;   /* (N,(k+1)B) panels: current Q and the next M (swapped) */
    double *Y;         /* (N,(k+1)B) dT o Q, and f(h) columns in autonomous mode */
    double *R;         /* (k,k,B) */
    double *qrw;       /* LYAP_QR_WORK(N,k) */
    double *lsum;      /* (k,B) running sums of log R_ii */
    double *dBN;       /* (B,N) f'(h) in the cache's layout */
    double *dT;        /* (N,B) f'(h_{t-1}) */
    double *hT, *rT;   /* (N,B) autonomous state and f(state) */
};

lyap_work *lyap_work_alloc(int N, int k, int B)
{
    if (N < 1 || k < 1 || B < 1 || k > N)
        return NULL;
    lyap_work *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->N = N;
    w->k = k;
    w->B = B;
    const size_t P = (size_t)N * (k + 1) * B, BN = (size_t)B * N;
    w->Qa = malloc(P * sizeof(double));
    w->Qb = malloc(P * sizeof(double));
    w->Y = malloc(P * sizeof(double));
    w->R = malloc((size_t)k * k * B * sizeof(double));
    w->qrw = malloc(LYAP_QR_WORK(N, k) * sizeof(double));
    w->lsum = malloc((size_t)k * B * sizeof(double));
    w->dBN = malloc(BN * sizeof(double));
    w->dT = malloc(BN * sizeof(double));
    w->hT = malloc(BN * sizeof(double));
    w->rT = malloc(BN * sizeof(double));
    if (!w->Qa || !w->Qb || !w->Y || !w->R || !w->qrw || !w->lsum || !w->dBN || !w->dT ||
        !w->hT || !w->rT) {
        lyap_work_free(w);
        return NULL;
    }
    return w;
}

void lyap_work_free(lyap_work *w)
{
    if (!w)
        return;
    free(w->Qa);
    free(w->Qb);
    free(w->Y);
    free(w->R);
    free(w->qrw);
    free(w->lsum);
    free(w->dBN);
    free(w->dT);
    free(w->hT);
    free(w->rT);
    free(w);
}

/* Modified Gram-Schmidt, two passes, on the columns of a row-major (N,k)
 * Gaussian matrix: orthonormal to rounding (a Gaussian matrix is well
 * conditioned, and the second pass removes what the first left). */
void lyap_q0(double *Q0 /* (N,k) */, int N, int k, gsl_rng *r)
{
    if (!Q0 || !r || k < 1 || k > N)
        return;
    for (size_t i = 0; i < (size_t)N * k; i++)
        Q0[i] = gsl_ran_gaussian(r, 1.0);
    for (int j = 0; j < k; j++) {
        for (int pass = 0; pass < 2; pass++) {
            for (int c = 0; c < j; c++) {
                double dot = 0.0;
                for (int i = 0; i < N; i++)
                    dot += Q0[(size_t)i * k + c] * Q0[(size_t)i * k + j];
                for (int i = 0; i < N; i++)
                    Q0[(size_t)i * k + j] -= dot * Q0[(size_t)i * k + c];
            }
        }
        double nrm = 0.0;
        for (int i = 0; i < N; i++)
            nrm += Q0[(size_t)i * k + j] * Q0[(size_t)i * k + j];
        nrm = 1.0 / sqrt(nrm);
        for (int i = 0; i < N; i++)
            Q0[(size_t)i * k + j] *= nrm;
    }
}

void lyap_mean_sd(const double *lam /* (B,k) */, int B, int k, int i, double *mean, double *sd)
{
    double s = 0, ss = 0;
    for (int b = 0; b < B; b++)
        s += lam[(size_t)b * k + i];
    const double m = s / B;
    for (int b = 0; b < B; b++) {
        const double d = lam[(size_t)b * k + i] - m;
        ss += d * d;
    }
    *mean = m;
    *sd = B > 1 ? sqrt(ss / (B - 1)) : 0.0;
}

/* ---- Householder QR of a panel, in lock-step over trials ----
 *
 * Trials are processed in blocks of 8: a block is copied into a contiguous
 * slab S (n,k) of 8-lane vectors (lane = trial; a short last block is padded
 * with zero columns, which give tau = 0 and stay finite), factored there with
 * every inner operation a SIMD operation over the 8 trials, and copied back.
 * The slab (n k 64 bytes, 256 KiB at n = 256, k = 16) stays in L2 through
 * all 2k Householder sweeps, and columns are updated four at a time so that
 * each reflector element is loaded once per four columns and four independent
 * accumulators hide the FMA latency. */

/* slab_qr is compiled for AVX-512 and AVX2 besides the baseline and chosen
 * at load time (KERNEL_SIMD_CLONES): the baseline's 16 SSE registers cannot
 * hold the four 8-lane accumulators. */

/* Apply H_j = I - tau v v^T, v = [1; S[j+1:n, j]], to columns j+1..k-1 of
 * the slab, in the factorisation and in the Q formation alike (there row j
 * of those columns is zero on entry). */
static inline __attribute__((always_inline)) void
slab_apply(v8d *S /* (n,k) x 8 */, int n, int k, int j, const v8d *taup /* (1) x 8 */)
{
    const v8d tau = *taup;
    int c = j + 1;
    for (; c + 4 <= k; c += 4) {
        v8d a0 = S[j * k + c], a1 = S[j * k + c + 1], a2 = S[j * k + c + 2], a3 = S[j * k + c + 3];
        for (int i = j + 1; i < n; i++) {
            const v8d vi = S[i * k + j];
            const v8d *row = S + i * k + c;
            a0 += vi * row[0];
            a1 += vi * row[1];
            a2 += vi * row[2];
            a3 += vi * row[3];
        }
        a0 *= tau;
        a1 *= tau;
        a2 *= tau;
        a3 *= tau;
        S[j * k + c] -= a0;
        S[j * k + c + 1] -= a1;
        S[j * k + c + 2] -= a2;
        S[j * k + c + 3] -= a3;
        for (int i = j + 1; i < n; i++) {
            const v8d vi = S[i * k + j];
            v8d *row = S + i * k + c;
            row[0] -= vi * a0;
            row[1] -= vi * a1;
            row[2] -= vi * a2;
            row[3] -= vi * a3;
        }
    }
    for (; c < k; c++) {
        v8d a0 = S[j * k + c], a1 = {0};
        int i = j + 1;
        for (; i + 1 < n; i += 2) {
            a0 += S[i * k + j] * S[i * k + c];
            a1 += S[(i + 1) * k + j] * S[(i + 1) * k + c];
        }
        for (; i < n; i++)
            a0 += S[i * k + j] * S[i * k + c];
        a0 = (a0 + a1) * tau;
        S[j * k + c] -= a0;
        for (i = j + 1; i < n; i++)
            S[i * k + c] -= S[i * k + j] * a0;
    }
}

/* Reflector j (dgeqr2 step) in every lane: from x = S[j:n, j] make
 * v = [1; x(1:)/(alpha - beta)], tau = (beta - alpha)/beta, S[j,j] = beta =
 * -sign(alpha) |x|; a column already zero below the diagonal gets tau = 0. */
static inline __attribute__((always_inline)) void
slab_reflector(v8d *S /* (n,k) x 8 */, int n, int k, int j, v8d *taup /* (1) x 8 */)
{
    v8d s0 = {0}, s1 = {0};
    int i = j + 1;
    for (; i + 1 < n; i += 2) {
        s0 += S[i * k + j] * S[i * k + j];
        s1 += S[(i + 1) * k + j] * S[(i + 1) * k + j];
    }
    for (; i < n; i++)
        s0 += S[i * k + j] * S[i * k + j];
    s0 += s1;
    v8d tau = {0}, scale = {0}, al = S[j * k + j];
    for (int b = 0; b < SLAB_LANES; b++) {
        if (s0[b] == 0.0) {
            tau[b] = 0.0;
            scale[b] = 0.0;
        } else {
            const double nrm = sqrt(al[b] * al[b] + s0[b]), beta = al[b] >= 0.0 ? -nrm : nrm;
            tau[b] = (beta - al[b]) / beta;
            scale[b] = 1.0 / (al[b] - beta);
            al[b] = beta;
        }
    }
    S[j * k + j] = al;
    for (i = j + 1; i < n; i++)
        S[i * k + j] *= scale;
    *taup = tau;
}

/* Factor the slab (dgeqr2), copy R (k,k) with rows scaled to diag >= 0 into
 * Rs, then overwrite the slab with the thin Q = H_0 ... H_{k-1} [I; 0]
 * (dorg2r) scaled by the same signs, so that Q R is unchanged. */
KERNEL_SIMD_CLONES static void slab_qr(v8d *S /* (n,k) x 8 */, int n, int k, v8d *Rs /* (k,k) */, v8d *tau /* (k) */,
                                v8d *sg /* (k) */)
{
    const v8d one = {1, 1, 1, 1, 1, 1, 1, 1}, zero = {0};
    for (int j = 0; j < k; j++) {
        slab_reflector(S, n, k, j, tau + j);
        slab_apply(S, n, k, j, tau + j);
    }
    for (int a = 0; a < k; a++) {
        for (int b = 0; b < SLAB_LANES; b++)
            sg[a][b] = S[a * k + a][b] < 0.0 ? -1.0 : 1.0;
        for (int c = 0; c < k; c++)
            Rs[a * k + c] = c < a ? zero : sg[a] * S[a * k + c];
    }
    for (int j = k - 1; j >= 0; j--) {
        slab_apply(S, n, k, j, tau + j);
        for (int i = j + 1; i < n; i++)
            S[i * k + j] *= -tau[j];
        S[j * k + j] = one - tau[j];
        for (int i = 0; i < j; i++)
            S[i * k + j] = zero;
    }
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            S[i * k + c] *= sg[c];
}

int lyap_qr(double *A /* (n,k,B), row stride ld */, int ld, int n, int k, int B,
            double *R /* (k,k,B) */, double *work /* LYAP_QR_WORK(n,k) */)
{
    if (!A || !R || !work || k < 1 || B < 1 || k > n || ld < k * B)
        return -1;
    v8d *S = slab_align(work);
    v8d *Rs = S + (size_t)n * k, *tau = Rs + (size_t)k * k, *sg = tau + k;
    for (int b0 = 0; b0 < B; b0 += SLAB_LANES) {
        const int nb = B - b0 < SLAB_LANES ? B - b0 : SLAB_LANES;
        slab_pack(S, A + b0, (size_t)ld, B, n, k, nb, 0.0); /* zero columns: tau = 0, finite */
        slab_qr(S, n, k, Rs, tau, sg);
        slab_unpack(S, A + b0, (size_t)ld, B, n, k, nb);
        slab_unpack(Rs, R + b0, (size_t)k * B, B, k, k, nb);
    }
    return 0;
}

/* ---- Tangent products ---- */

void lyap_jacobian_apply(int N, int k, int B, const double *W_rec /* (N,N) */, double alpha,
                         const double *dT /* (N,B) */, const double *Q /* (N,k,B) */,
                         double *Y /* (N,k,B) */, double *M /* (N,k,B) */)
{
    const int kB = k * B;
    const double leak = 1.0 - alpha;
    for (int i = 0; i < N; i++) {
        const double *d = dT + (size_t)i * B;
        const double *q = Q + (size_t)i * kB;
        double *y = Y + (size_t)i * kB, *m = M + (size_t)i * kB;
        for (int c = 0; c < kB; c += B)
            for (int b = 0; b < B; b++) {
                y[c + b] = d[b] * q[c + b];
                m[c + b] = leak * q[c + b];
            }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, kB, N,
                alpha, W_rec, N, Y, kB, 1.0, M, kB);
}

/* Is a QR due at step t (see lyap.h, "Sparse QR")? */
static int qr_due(int t, int T, int warmup, int every)
{
    if (t == T || t == warmup)
        return 1;
    return t > warmup ? (t - warmup) % every == 0 : t % every == 0;
}

typedef void (*panel_step_fn)(int t, const double *Q /* (N,k,B), row stride ld */,
                              double *M /* (N,k,B), row stride ld */, int ld, void *ctx);

/* The QR iteration shared by all modes: panels of row stride ld, Q0 copied
 * into every trial, exponents into lam (B,k). */
static void run(lyap_work *w, int T, int k, int ld, panel_step_fn step, void *ctx,
                const double *Q0 /* (N,k) */, int warmup, int every, double *lam /* (B,k) */)
{
    const int N = w->N, B = w->B;
    double *Q = w->Qa, *M = w->Qb;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < k; j++)
            for (int b = 0; b < B; b++)
                Q[(size_t)i * ld + (size_t)j * B + b] = Q0[(size_t)i * k + j];
    memset(w->lsum, 0, (size_t)k * B * sizeof(double));
    for (int t = 1; t <= T; t++) {
        step(t, Q, M, ld, ctx);
        if (qr_due(t, T, warmup, every)) {
            lyap_qr(M, ld, N, k, B, w->R, w->qrw);
            if (t > warmup)
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < B; b++)
                        w->lsum[(size_t)a * B + b] += log(w->R[((size_t)a * k + a) * B + b]);
        }
        double *tmp = Q;
        Q = M;
        M = tmp;
    }
    const double inv = 1.0 / (T - warmup);
    for (int b = 0; b < B; b++)
        for (int a = 0; a < k; a++)
            lam[(size_t)b * k + a] = w->lsum[(size_t)a * B + b] * inv;
}

static int args_ok(const lyap_work *w, const double *Q0, int k, int T, int warmup, int every,
                   const double *lam)
{
    return w && Q0 && lam && k >= 1 && k <= w->k && T >= 1 && warmup >= 0 && warmup < T &&
           every >= 1;
}

/* ---- General products ---- */

struct general_ctx {
    lyap_step_fn step;
    void *ctx;
};

static void general_step(int t, const double *Q /* (N,k,B) */, double *M /* (N,k,B) */, int ld,
                         void *ctx)
{
    (void)ld;
    const struct general_ctx *g = ctx;
    g->step(t, Q, M, g->ctx);
}

int lyap_general(int N, int k, int B, int T, lyap_step_fn step, void *ctx,
                 const double *Q0 /* (N,k) */, int warmup, int every_qr,
                 double *lam /* (B,k) */, lyap_work *w)
{
    if (!args_ok(w, Q0, k, T, warmup, every_qr, lam) || !step || N != w->N || B != w->B)
        return -1;
    struct general_ctx g = {step, ctx};
    run(w, T, k, k * B, general_step, &g, Q0, warmup, every_qr, lam);
    return 0;
}

/* ---- Driven mode ---- */

struct driven_ctx {
    const rnn_params *p;
    int act, k;
    double alpha;
    const rnn_cache *c;
    lyap_work *w;
};

/* dT = f'(h_{t-1})^T from the cache, then M = J_t Q. */
static void driven_step(int t, const double *Q /* (N,k,B) */, double *M /* (N,k,B) */, int ld,
                        void *ctx)
{
    (void)ld;
    const struct driven_ctx *d = ctx;
    lyap_work *w = d->w;
    const int N = w->N, B = w->B;
    const size_t off = (size_t)(t - 1) * B * N;
    rnn_act_deriv(d->act, d->c->h + off, d->c->r + off, w->dBN, (size_t)B * N);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++)
            w->dT[(size_t)i * B + b] = w->dBN[(size_t)b * N + i];
    lyap_jacobian_apply(N, d->k, B, d->p->W_rec, d->alpha, w->dT, Q, w->Y, M);
}

int lyap_driven(const rnn_params *p, int act, double alpha, const rnn_cache *c,
                const double *Q0 /* (N,k) */, int k, int warmup, int every_qr,
                double *lam /* (B,k) */, lyap_work *w)
{
    if (!p || !c || !args_ok(w, Q0, k, c->T, warmup, every_qr, lam) || p->N != w->N ||
        c->N != w->N || c->B != w->B)
        return -1;
    struct driven_ctx d = {p, act, k, alpha, c, w};
    run(w, c->T, k, k * w->B, driven_step, &d, Q0, warmup, every_qr, lam);
    return 0;
}

/* ---- Autonomous mode ---- */

struct auto_ctx {
    const rnn_params *p;
    int act, k;
    double alpha;
    lyap_work *w;
};

/* Y = [dT o Q | f(h_{t-1})], Z = W_rec Y (into M), then
 * M[:, :kB] = alpha Z + (1-alpha) Q and h_t = (1-alpha) h + alpha (Z[:, kB:] + b). */
static void auto_step(int t, const double *Q /* (N,k+1,B), stride ld */,
                      double *M /* (N,k+1,B), stride ld */, int ld, void *ctx)
{
    (void)t;
    const struct auto_ctx *a = ctx;
    lyap_work *w = a->w;
    const int N = w->N, B = w->B, kB = a->k * B;
    const double al = a->alpha, leak = 1.0 - al;
    for (int i = 0; i < N; i++) {
        const double *d = w->dT + (size_t)i * B;
        const double *q = Q + (size_t)i * ld;
        double *y = w->Y + (size_t)i * ld;
        for (int c = 0; c < kB; c += B)
            for (int b = 0; b < B; b++)
                y[c + b] = d[b] * q[c + b];
        memcpy(y + kB, w->rT + (size_t)i * B, B * sizeof(double));
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, kB + B, N,
                1.0, a->p->W_rec, N, w->Y, ld, 0.0, M, ld);
    for (int i = 0; i < N; i++) {
        const double *q = Q + (size_t)i * ld;
        double *m = M + (size_t)i * ld;
        for (int c = 0; c < kB; c++)
            m[c] = al * m[c] + leak * q[c];
        double *h = w->hT + (size_t)i * B;
        const double bi = a->p->b[i];
        for (int b = 0; b < B; b++)
            h[b] = leak * h[b] + al * (m[kB + b] + bi);
    }
    rnn_act(a->act, w->hT, w->rT, (size_t)N * B);
    rnn_act_deriv(a->act, w->hT, w->rT, w->dT, (size_t)N * B);
}

int lyap_autonomous(const rnn_params *p, int act, double alpha, const double *h0 /* (B,N) */,
                    int T, const double *Q0 /* (N,k) */, int k, int warmup, int every_qr,
                    double *lam /* (B,k) */, lyap_work *w)
{
    if (!p || !h0 || !args_ok(w, Q0, k, T, warmup, every_qr, lam) || p->N != w->N)
        return -1;
    const int N = w->N, B = w->B;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++)
            w->hT[(size_t)i * B + b] = h0[(size_t)b * N + i];
    rnn_act(act, w->hT, w->rT, (size_t)N * B);
    rnn_act_deriv(act, w->hT, w->rT, w->dT, (size_t)N * B);
    struct auto_ctx a = {p, act, k, alpha, w};
    run(w, T, k, (k + 1) * B, auto_step, &a, Q0, warmup, every_qr, lam);
    return 0;
}

double lyap_flops(int T, int B, int N, int k)
{
    const double n = N, kk = k;
    return (double)T * B * (2.0 * n * n * kk + 3.0 * n * kk + 4.0 * n * kk * kk -
                            4.0 * kk * kk * kk / 3.0);
}
