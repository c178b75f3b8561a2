/* rule.c — BPTT, e-prop and RFLO gradients of the task loss for one batch.
 *
 * With g_t = dL/dh_t (B,N), D_t = f'(h_t) and dr_t = dL/dy_t F (B,N), where
 * F = W_out (O,N) (bptt, eprop) or B_fb^T (rflo), the exact recursion is
 *
 *   g_T     = D_T o dr_T
 *   g_{t-1} = D_{t-1} o (dr_{t-1} + a g_t W_rec) + (1-a) g_t
 *
 * and e-prop/RFLO drop the product with W_rec (dL/dh_t reaches h_{t-1} only
 * through the leak).  One backward pass over the steps computes, per step, the
 * product g_t W_rec (bptt) and then, row by row in one elementwise sweep,
 * g_{t-1} and the gradients that are sums over steps of rank-one terms with a
 * small side: db = a colsum G, dW_in = a G^T X, dW_out = dY^T R,
 * db_out = colsum dY.  The only large product left is
 *
 *   dW_rec = a G^T R_{0..T-1} = a sum_t g_t^T r_{t-1}    (N,T*B)x(T*B,N),
 *
 * where the rows of R_0 = f(0) = 0 are skipped: one dgemm, or for small N a
 * rank-B update per step while g_t is in cache (DW_STEP_MAX_N).
 *
 * Workload: training calls rule_gradient once per iteration, romo T = 56,
 * B = 32, N = 64..512.  The 2(T-1) products of a (B,N) block with W_rec or
 * W_rec^T (forward h_t += a r_{t-1} W_rec^T, backward g_t += a g_{t+1} W_rec)
 * are two thirds of the FLOPs; they run on a kernel with W_rec packed once
 * per gradient (below), which is why the forward pass of rule_gradient is
 * here rather than rnn_forward (same arithmetic, same results to rounding).
 * Everything else is elementwise, in one pass per step and direction.
 *
 * The workspace holds G (T,B,N), dY (T,B,O), F^T for rflo, the (I,N)
 * accumulator of dW_in, the two packed copies of W_rec, one step's packed
 * r_{t-1}, and the online e-prop traces; rule_gradient allocates nothing.
 */
#include "rnnsweep/rule.h"
#include "rnnsweep/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Hot elementwise loops are compiled for AVX-512, AVX2 and the baseline and
 * chosen at load time (the default x86-64 target has only SSE2). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef SIMD_CLONES
#define SIMD_CLONES
#endif

/* ---- Products C += alpha A P with a packed right operand P ----
 *
 * A BLAS call packs its operands on every call: for the per-step products,
 * (B,N)x(N,N) with the same W_rec 2(T-1) times per gradient, that repacking
 * was a fifth of the whole gradient at N = 256.  Here P (K,N) is packed once
 * per gradient into panels of PK_NR = 16 columns, panel j holding rows
 * P[k][16j .. 16j+15] for k = 0..K-1 contiguously (zeros past N), and an
 * AVX-512 kernel computes 8x16 tiles of C, 16 accumulators, broadcasting A's
 * elements straight from its rows (A needs no packing).  K is blocked by
 * PK_KC so that a panel block stays in L1.  Measured on this machine class at
 * B = 32: ~1.6x OpenBLAS's dgemm at N = 256, on a par at N = 64.  Without
 * AVX-512 the products go to cblas_dgemm instead. */
enum { PK_NR = 16, PK_KC = 256 };

/* dW_rec = a sum_t g_t^T r_{t-1}: up to this N as a rank-B update per step on
 * the kernel (g_t still in cache, dW_rec fits in L2; 1.15-1.35x OpenBLAS's
 * single dgemm at N = 32..128 here), above it as one dgemm (OpenBLAS is
 * faster once dW_rec no longer stays in L2). */
enum { DW_STEP_MAX_N = 128 };

/* Doubles of a packed (K,N) operand. */
static size_t pk_size(int K, int N)
{
    return (size_t)((N + PK_NR - 1) / PK_NR) * PK_NR * (size_t)K;
}

/* Pack P (K,N) = M (trans = 0) or M^T (trans = 1), M row-major, rows ld apart. */
static void pk_pack(int K, int N, const double *restrict M, size_t ld, int trans,
                    double *restrict P)
{
    for (int j0 = 0; j0 < N; j0 += PK_NR) {
        double *dst = P + (size_t)j0 * K;
        const int nc = N - j0 < PK_NR ? N - j0 : PK_NR;
        for (int k = 0; k < K; k++) {
            double *d = dst + (size_t)k * PK_NR;
            if (trans)
                for (int c = 0; c < nc; c++)
                    d[c] = M[(size_t)(j0 + c) * ld + k];
            else if (nc == PK_NR)
                memcpy(d, M + (size_t)k * ld + j0, PK_NR * sizeof(double));
            else
                memcpy(d, M + (size_t)k * ld + j0, (size_t)nc * sizeof(double));
            for (int c = nc; c < PK_NR; c++)
                d[c] = 0.0;
        }
    }
}

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wpsabi"
/* C[0..MR-1][0..15] (masks m0, m1 for columns 0-7, 8-15) += alpha A P over
 * K, P one panel block (K,16); A's element (m,k) is A[m*lda + k], or
 * A[k*lda + m] if TA (A^T stored).  TA and MR are constants at every call, so
 * the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
pk_tile(const int TA, const int MR, int K, const double *restrict A, size_t lda,
        const double *restrict P, double *restrict C, size_t ldc, double alpha, __mmask8 m0,
        __mmask8 m1)
{
    __m512d c0[8], c1[8];
    for (int m = 0; m < MR; m++) {
        c0[m] = _mm512_setzero_pd();
        c1[m] = _mm512_setzero_pd();
    }
    for (int k = 0; k < K; k++) {
        const __m512d b0 = _mm512_load_pd(P + (size_t)PK_NR * k);
        const __m512d b1 = _mm512_load_pd(P + (size_t)PK_NR * k + 8);
        for (int m = 0; m < MR; m++) {
            const __m512d a = _mm512_set1_pd(TA ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k]);
            c0[m] = _mm512_fmadd_pd(a, b0, c0[m]);
            c1[m] = _mm512_fmadd_pd(a, b1, c1[m]);
        }
    }
    const __m512d va = _mm512_set1_pd(alpha);
    for (int m = 0; m < MR; m++) {
        double *cr = C + (size_t)m * ldc;
        _mm512_mask_storeu_pd(cr, m0, _mm512_fmadd_pd(va, c0[m], _mm512_maskz_loadu_pd(m0, cr)));
        _mm512_mask_storeu_pd(cr + 8, m1,
                              _mm512_fmadd_pd(va, c1[m], _mm512_maskz_loadu_pd(m1, cr + 8)));
    }
}

/* C (M,N) += alpha A P, A (M,K) row-major with rows lda apart, or if TA
 * A^T (K,M) stored; C row-major (ldc); P (K,N) packed by pk_pack. */
__attribute__((target("avx512f"), always_inline)) static inline void
pk_gemm(const int TA, int M, int N, int K, double alpha, const double *A, size_t lda,
        const double *P, double *C, size_t ldc)
{
    for (int k0 = 0; k0 < K; k0 += PK_KC) {
        const int kc = K - k0 < PK_KC ? K - k0 : PK_KC;
        for (int j0 = 0; j0 < N; j0 += PK_NR) {
            const int left = N - j0;
            const __mmask8 m0 = left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
            const __mmask8 m1 = left >= 16 ? 0xff : left <= 8 ? 0 : (__mmask8)((1u << (left - 8)) - 1);
            const double *Pj = P + (size_t)j0 * K + (size_t)k0 * PK_NR;
            double *Cj = C + j0;
            int i = 0;
#define PK_TILE(mr)                                                                          \
    pk_tile(TA, mr, kc, A + (TA ? (size_t)k0 * lda + i : (size_t)i * lda + k0), lda, Pj,     \
            Cj + (size_t)i * ldc, ldc, alpha, m0, m1)
            for (; i + 8 <= M; i += 8)
                PK_TILE(8);
            switch (M - i) {
            case 7: PK_TILE(7); break;
            case 6: PK_TILE(6); break;
            case 5: PK_TILE(5); break;
            case 4: PK_TILE(4); break;
            case 3: PK_TILE(3); break;
            case 2: PK_TILE(2); break;
            case 1: PK_TILE(1); break;
            default: break;
            }
#undef PK_TILE
        }
    }
}

__attribute__((target("avx512f"))) static void pk_gemm_nn(int M, int N, int K, double alpha,
                                                          const double *A, size_t lda,
                                                          const double *P, double *C, size_t ldc)
{
    pk_gemm(0, M, N, K, alpha, A, lda, P, C, ldc);
}

__attribute__((target("avx512f"))) static void pk_gemm_tn(int M, int N, int K, double alpha,
                                                          const double *A, size_t lda,
                                                          const double *P, double *C, size_t ldc)
{
    pk_gemm(1, M, N, K, alpha, A, lda, P, C, ldc);
}
#endif

/* 1 if the packed kernel can run on this CPU. */
static int pk_available(void)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* C (B,N) += alpha A (B,N) M, with M (N,N) = W_rec^T (trans) or W_rec: from
 * the packed copy P if there is one, else by cblas_dgemm on W_rec. */
static void step_product(int B, int N, double alpha, const double *A, const double *W_rec,
                         int trans, const double *P, double *C)
{
#if defined(__x86_64__)
    if (P) {
        pk_gemm_nn(B, N, N, alpha, A, (size_t)N, P, C, (size_t)N);
        return;
    }
#endif
    (void)P;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans, B, N, N, alpha, A,
                N, W_rec, N, 1.0, C, N);
}

struct rule_work {
    int T, B, N, I, O;
    double *G;    /* (T,B,N) dL/dh_t, t = 1..T */
    double *dY;   /* (T,B,O) dL/dy_t */
    double *F;    /* (O,N) B_fb^T for rflo */
    double *dWiT; /* (I,N) dW_in^T accumulator */
    double *Pf;   /* W_rec^T packed (pk_size(N,N)); NULL without the kernel */
    double *Pb;   /* W_rec packed; NULL without the kernel */
    double *Pr;   /* one step's r_{t-1} (B,N) packed, for dW_rec by steps; NULL: one dgemm */
    double *p;    /* (B,N) online trace of W_rec */
    double *q;    /* (B,I) online trace of W_in */
    double *L;    /* (B,N) online learning signal */
};

/* 64-byte aligned doubles (the kernel's aligned panel loads). */
static double *alloc_aligned(size_t n)
{
    size_t bytes = (n * sizeof(double) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

rule_work *rule_work_alloc(int T, int B, int N, int I, int O)
{
    rule_work *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->T = T;
    w->B = B;
    w->N = N;
    w->I = I;
    w->O = O;
    w->G = malloc((size_t)T * B * N * sizeof(double));
    w->dY = malloc((size_t)T * B * O * sizeof(double));
    w->F = malloc((size_t)O * N * sizeof(double));
    w->dWiT = malloc((size_t)I * N * sizeof(double));
    w->p = malloc((size_t)B * N * sizeof(double));
    w->q = malloc((size_t)B * I * sizeof(double));
    w->L = malloc((size_t)B * N * sizeof(double));
    int ok = w->G && w->dY && w->F && w->dWiT && w->p && w->q && w->L;
    if (ok && pk_available()) {
        w->Pf = alloc_aligned(pk_size(N, N));
        w->Pb = alloc_aligned(pk_size(N, N));
        ok = w->Pf && w->Pb;
        if (N <= DW_STEP_MAX_N) {
            w->Pr = alloc_aligned(pk_size(B, N));
            ok = ok && w->Pr;
        }
    }
    if (!ok) {
        rule_work_free(w);
        return NULL;
    }
    return w;
}

void rule_work_free(rule_work *w)
{
    if (!w)
        return;
    free(w->G);
    free(w->dY);
    free(w->F);
    free(w->dWiT);
    free(w->Pf);
    free(w->Pb);
    free(w->Pr);
    free(w->p);
    free(w->q);
    free(w->L);
    free(w);
}

void rule_feedback_init(double *B_fb /* (N,O) */, int N, int O, gsl_rng *r)
{
    const double sd = 1.0 / sqrt((double)O);
    for (size_t i = 0; i < (size_t)N * O; i++)
        B_fb[i] = gsl_ran_gaussian_ziggurat(r, sd);
}

/* d[i] *= f'(h[i]) given h and r = f(h). */
static void mul_deriv(int act, const double *h, const double *r, double *d, size_t n)
{
    if (act == ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            d[i] = h[i] > 0 ? d[i] : 0.0;
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] *= 1.0 - r[i] * r[i];
    }
}

/* Readout gradients, exact for every rule: dW_out = dY^T R_{1..T}, db_out = colsum dY. */
static void readout_grad(const rnn_params *p, const rnn_cache *c, const rule_work *w,
                         rnn_params *grad)
{
    const int TB = c->T * c->B, N = p->N, O = p->O;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, N, TB,
                1.0, w->dY, O, c->r + (size_t)c->B * N, N, 0.0, grad->W_out, N);
    memset(grad->b_out, 0, O * sizeof(double));
    for (int row = 0; row < TB; row++)
        for (int o = 0; o < O; o++)
            grad->b_out[o] += w->dY[(size_t)row * O + o];
}

/* dW (N,N) += alpha g^T r for one step's blocks g, r (B,N): r packed into P. */
static void dw_step(int B, int N, double alpha, const double *g, const double *r, double *P,
                    double *dW)
{
    pk_pack(B, N, r, (size_t)N, 0, P);
#if defined(__x86_64__)
    pk_gemm_tn(N, N, B, alpha, g, (size_t)N, P, dW, (size_t)N);
#else
    (void)alpha, (void)g, (void)dW; /* not reached: w->Pr is NULL without the kernel */
#endif
}

/* ---- forward pass (rnn_forward's arithmetic, products on the packed kernel) ---- */

/* y_o = W_out[o,:] . r + b_out[o] for one row r (N): 8 partial sums per dot
 * product, added as a tree, so that it vectorises without reassociation flags. */
static inline void readout_row(int N, int O, const double *restrict r,
                               const double *restrict W_out, const double *restrict b_out,
                               double *restrict y)
{
    for (int o = 0; o < O; o++) {
        const double *wo = W_out + (size_t)o * N;
        double s[8] = {0};
        int i = 0;
        for (; i + 8 <= N; i += 8)
            for (int j = 0; j < 8; j++)
                s[j] += wo[i + j] * r[i + j];
        for (int j = 0; i < N; i++, j++)
            s[j] += wo[i] * r[i];
        for (int j = 0; j < 4; j++)
            s[j] += s[j + 4];
        y[o] = (s[0] + s[2]) + (s[1] + s[3]) + b_out[o];
    }
}

/* Step t's elementwise work once its block h (B,N) is complete: r = f(h),
 * y = r W_out^T + b_out (B,O), and the part of h_{t+1} known before the
 * recurrent product (hn NULL at t = T):
 *   hn = (1-a) h + a (b + x W_in^T),   x (B,I) the inputs of step t+1. */
SIMD_CLONES static void forward_block(int act, int B, int N, int I, int O, double alpha,
                                      const double *restrict h, double *restrict r,
                                      double *restrict y, const double *restrict W_out,
                                      const double *restrict b_out, double *restrict hn,
                                      const double *restrict x, const double *restrict W_in,
                                      const double *restrict bias)
{
    rnn_act(act, h, r, (size_t)B * N);
    const double leak = 1.0 - alpha;
    for (int bi = 0; bi < B; bi++) {
        const size_t row = (size_t)bi * N;
        readout_row(N, O, r + row, W_out, b_out, y + (size_t)bi * O);
        if (!hn)
            continue;
        double *hr = hn + row;
        const double *hb = h + row;
        for (int i = 0; i < N; i++)
            hr[i] = leak * hb[i] + alpha * bias[i];
        for (int k = 0; k < I; k++) {
            const double ax = alpha * x[(size_t)bi * I + k];
            if (ax != 0.0)
                for (int i = 0; i < N; i++)
                    hr[i] += ax * W_in[(size_t)i * I + k];
        }
    }
}

/* rnn_forward (rnn.h) with the recurrent products on w->Pf:
 *   h_t = (1-a) h_{t-1} + a (W_in x_t + b)   elementwise, in step t-1's pass
 *   h_t += a r_{t-1} W_rec^T                 none at t = 1: r_0 = f(0) = 0
 *   r_t = f(h_t), y_t = W_out r_t + b_out. */
static void forward(const rnn_params *p, int act, double alpha, const double *x /* (T,B,I) */,
                    rnn_cache *c, rule_work *w)
{
    if (!w->Pf) {
        rnn_forward(p, act, alpha, x, c);
        return;
    }
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    double *H = c->h, *R = c->r;
    pk_pack(N, N, p->W_rec, (size_t)N, 1, w->Pf);
    memset(H, 0, BN * sizeof(double));
    rnn_act(act, H, R, BN);
    for (int bi = 0; bi < B; bi++) {
        double *hn = H + BN + (size_t)bi * N;
        const double *xb = x + (size_t)bi * I;
        for (int i = 0; i < N; i++) {
            double acc = p->b[i];
            for (int k = 0; k < I; k++)
                acc += p->W_in[(size_t)i * I + k] * xb[k];
            hn[i] = alpha * acc;
        }
    }
    for (int t = 1; t <= T; t++) {
        double *h = H + (size_t)t * BN, *r = R + (size_t)t * BN;
        if (t > 1)
            step_product(B, N, alpha, R + (size_t)(t - 1) * BN, p->W_rec, 1, w->Pf, h);
        forward_block(act, B, N, I, O, alpha, h, r, c->y + (size_t)(t - 1) * B * O, p->W_out,
                      p->b_out, t < T ? h + BN : NULL, t < T ? x + (size_t)t * B * I : NULL,
                      p->W_in, p->b);
    }
}

/* Learning signal of one step, all B rows: g = dy F (B,N), dy (B,O), F (O,N). */
SIMD_CLONES static void signal_block(int B, int N, int O, const double *restrict dy,
                                     const double *restrict F, double *restrict g)
{
    for (int bi = 0; bi < B; bi++) {
        double *gr = g + (size_t)bi * N;
        const double *d = dy + (size_t)bi * O;
        if (O == 0) {
            memset(gr, 0, (size_t)N * sizeof(double));
            continue;
        }
        for (int i = 0; i < N; i++)
            gr[i] = d[0] * F[i];
        for (int o = 1; o < O; o++) {
            const double *f = F + (size_t)o * N;
            const double dyo = d[o];
            if (dyo != 0.0)
                for (int i = 0; i < N; i++)
                    gr[i] += dyo * f[i];
        }
    }
}

/* Step t's elementwise backward work on its block, given g = dr + s (B,N) on
 * entry (dr = dy F, s = a g_{t+1} W_rec for bptt, 0 otherwise):
 *   g = D o g + (1-a) gn,   D = f'(h) from h and r = f(h) (B,N),
 * with gn = g_{t+1} (NULL at t = T); accumulates db += colsum g,
 * dWiT += x^T g (I,N), dW_out += dy^T r (O,N), db_out += colsum dy. */
SIMD_CLONES static void backward_block(int act, int B, int N, int I, int O, double leak,
                                       const double *restrict dy, const double *restrict h,
                                       const double *restrict r, const double *restrict gn,
                                       double *restrict g, const double *restrict x,
                                       double *restrict db, double *restrict dWiT,
                                       double *restrict dW_out, double *restrict db_out)
{
    for (int bi = 0; bi < B; bi++) {
        const size_t row = (size_t)bi * N;
        double *gr = g + row;
        const double *hr = h + row, *rr = r + row;
#define ROW_LOOP(deriv)                                             \
    do {                                                            \
        if (gn) {                                                   \
            const double *gnr = gn + row;                           \
            for (int i = 0; i < N; i++) {                           \
                const double v = (deriv) + leak * gnr[i];           \
                gr[i] = v;                                          \
                db[i] += v;                                         \
            }                                                       \
        } else {                                                    \
            for (int i = 0; i < N; i++) {                           \
                const double v = (deriv);                           \
                gr[i] = v;                                          \
                db[i] += v;                                         \
            }                                                       \
        }                                                           \
    } while (0)
        if (act == ACT_RELU)
            ROW_LOOP(hr[i] > 0 ? gr[i] : 0.0);
        else
            ROW_LOOP((1.0 - rr[i] * rr[i]) * gr[i]);
#undef ROW_LOOP
        for (int k = 0; k < I; k++) {
            double *acc = dWiT + (size_t)k * N;
            const double xk = x[(size_t)bi * I + k];
            if (xk != 0.0)
                for (int i = 0; i < N; i++)
                    acc[i] += xk * gr[i];
        }
        for (int o = 0; o < O; o++) {
            double *acc = dW_out + (size_t)o * N;
            const double dyo = dy[(size_t)bi * O + o];
            db_out[o] += dyo;
            if (dyo != 0.0)
                for (int i = 0; i < N; i++)
                    acc[i] += dyo * rr[i];
        }
    }
}

double rule_gradient(int rule, const rnn_params *p, const double *B_fb,
                     int act, double alpha, const task_batch *tb,
                     rnn_cache *c, rnn_params *grad, rule_work *w)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    forward(p, act, alpha, tb->x, c, w);
    const double loss = task_loss(tb, c->y, w->dY);
    if (!isfinite(loss))
        return loss;

    const double *F = p->W_out;
    if (rule == RULE_RFLO) {
        for (int i = 0; i < N; i++)
            for (int o = 0; o < O; o++)
                w->F[(size_t)o * N + i] = B_fb[(size_t)i * O + o];
        F = w->F;
    }
    memset(grad->b, 0, N * sizeof(double));
    memset(grad->W_out, 0, (size_t)O * N * sizeof(double));
    memset(grad->b_out, 0, O * sizeof(double));
    memset(w->dWiT, 0, (size_t)I * N * sizeof(double));
    if (w->Pr || T <= 1)
        memset(grad->W_rec, 0, (size_t)N * N * sizeof(double));
    if (rule == RULE_BPTT && w->Pb)
        pk_pack(N, N, p->W_rec, (size_t)N, 0, w->Pb);

    /* Backward in time; G[t-1] = g_t. */
    const double leak = 1.0 - alpha;
    for (int t = T; t >= 1; t--) {
        double *g = w->G + (size_t)(t - 1) * BN;
        const double *gn = t < T ? g + BN : NULL;
        const double *dY = w->dY + (size_t)(t - 1) * B * O;
        signal_block(B, N, O, dY, F, g);
        if (rule == RULE_BPTT && gn) /* g += a g_{t+1} W_rec */
            step_product(B, N, alpha, gn, p->W_rec, 0, w->Pb, g);
        backward_block(act, B, N, I, O, leak, dY, c->h + (size_t)t * BN, c->r + (size_t)t * BN, gn,
                       g, tb->x + (size_t)(t - 1) * B * I, grad->b, w->dWiT, grad->W_out,
                       grad->b_out);
        if (w->Pr && t > 1) /* dW_rec += a g_t^T r_{t-1} */
            dw_step(B, N, alpha, g, c->r + (size_t)(t - 1) * BN, w->Pr, grad->W_rec);
    }

    /* dW_rec = a G^T R_{0..T-1} in one product, skipping t = 1 where R_0 = 0. */
    if (!w->Pr && T > 1)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, (T - 1) * B,
                    alpha, w->G + BN, N, c->r + BN, N, 0.0, grad->W_rec, N);
    for (int i = 0; i < N; i++) {
        grad->b[i] *= alpha;
        for (int k = 0; k < I; k++)
            grad->W_in[(size_t)i * I + k] = alpha * w->dWiT[(size_t)k * N + i];
    }
    return loss;
}

/* Forward in time, per step and trial:
 *   L_t = f'(h_t) o (W_out^T dL/dy_t)  (B_fb dL/dy_t for rflo)
 *   p_t = (1-a) p_{t-1} + a f(h_{t-1}),  q_t = (1-a) q_{t-1} + a x_t,  s_t = (1-a) s_{t-1} + a
 *   dW_rec += L_t p_t^T,  dW_in += L_t q_t^T,  db += L_t s_t. */
void rule_eprop_online(const rnn_params *p, const double *B_fb, int act, double alpha,
                       const task_batch *tb, const rnn_cache *c, rnn_params *grad,
                       rule_work *w)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    const double leak = 1.0 - alpha;
    (void)task_loss(tb, c->y, w->dY);
    readout_grad(p, c, w, grad);
    memset(grad->W_rec, 0, (size_t)N * N * sizeof(double));
    memset(grad->W_in, 0, (size_t)N * I * sizeof(double));
    memset(grad->b, 0, N * sizeof(double));
    memset(w->p, 0, BN * sizeof(double));
    memset(w->q, 0, (size_t)B * I * sizeof(double));
    double s = 0.0;
    for (int t = 1; t <= T; t++) {
        const double *rp = c->r + (size_t)(t - 1) * BN;
        const double *x = tb->x + (size_t)(t - 1) * B * I;
        const double *dy = w->dY + (size_t)(t - 1) * B * O;
        for (size_t i = 0; i < BN; i++)
            w->p[i] = leak * w->p[i] + alpha * rp[i];
        for (size_t i = 0; i < (size_t)B * I; i++)
            w->q[i] = leak * w->q[i] + alpha * x[i];
        s = leak * s + alpha;
        for (int b = 0; b < B; b++) {
            double *Lb = w->L + (size_t)b * N;
            for (int n = 0; n < N; n++) {
                double acc = 0.0;
                for (int o = 0; o < O; o++)
                    acc += (B_fb ? B_fb[(size_t)n * O + o] : p->W_out[(size_t)o * N + n]) *
                           dy[(size_t)b * O + o];
                Lb[n] = acc;
            }
        }
        mul_deriv(act, c->h + (size_t)t * BN, c->r + (size_t)t * BN, w->L, BN);
        for (int b = 0; b < B; b++) {
            const double *Lb = w->L + (size_t)b * N;
            for (int n = 0; n < N; n++) {
                double *row = grad->W_rec + (size_t)n * N;
                const double *pb = w->p + (size_t)b * N;
                for (int m = 0; m < N; m++)
                    row[m] += Lb[n] * pb[m];
                for (int k = 0; k < I; k++)
                    grad->W_in[(size_t)n * I + k] += Lb[n] * w->q[(size_t)b * I + k];
                grad->b[n] += Lb[n] * s;
            }
        }
    }
}

/* Products only, as executed: forward input drive 2TBNI, recurrent drive
 * 2(T-1)BN^2 (none at t = 1: r_0 = 0), readout 2TBNO; backward learning
 * signal dY F 2TBNO, dW_out 2TBNO, dW_in 2TBNI, dW_rec 2(T-1)BN^2 (R_0 rows
 * skipped), and for bptt the recurrence g_{t+1} W_rec 2(T-1)BN^2.  The
 * elementwise work (f, f', leak, sums; tens of operations per state) and
 * Adam are not counted. */
double rule_flops(int rule, int T, int B, int N, int I, int O)
{
    const double tb = (double)T * B, rec = 2.0 * (T - 1) * B * N * N;
    double f = 2 * tb * N * I + rec + 2 * tb * N * O; /* forward */
    f += 2 * tb * N * O + 2 * tb * N * O;             /* dr, dW_out */
    f += rec + 2 * tb * N * I;                        /* dW_rec, dW_in */
    if (rule == RULE_BPTT)
        f += rec;                                     /* backward recurrence */
    return f;
}
