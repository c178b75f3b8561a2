/* test_kernel.c — the packed step products and the vector tanh (src/kernel.c)
 * against naive references, and the scalar fallback against the SIMD path.
 *
 * 1. kernel_pack: every element of every 16-column panel (zeros past N),
 *    both orientations, against the index formula, exactly.
 * 2. kernel_step_product and kernel_step_outer on the packed operand (the
 *    AVX-512 kernel) and with P = NULL (cblas_dgemm) against a naive
 *    triple loop in long double, for N = 1..70 and B = 1..9, 15, 16, 17,
 *    31, 32, 33 (every tail of the 8-row tiles and 16-column panels), and
 *    N = 127..129, 255..257, 300, 513 and B = 257, 300 (the 256-deep
 *    blocking of the inner dimension and its tail).  The error of each
 *    element is measured against the rounding bound (K + 2) u (|alpha|
 *    sum_k |a_k m_k| + |c_0|), u = 2^-53: the worst ratio must stay <= 1.
 * 3. kernel_tanh against libm's tanh in ulps on a dense sweep: 4,000,001
 *    points evenly over [-22, 22] (tanh rounds to +-1 beyond ~19.06), 2 x
 *    200,000 log-spaced |x| from 1e-310 (subnormal) to 1e3, and the edges
 *    (+-0 with its sign, +-inf, NaN, the largest double, every binade from
 *    2^-1074 to 2^10): within 4 ulp (kernel.h's claim) for the AVX-512 kernel
 *    and libmvec's AVX2 kernel, exact for the scalar path; the worst ulp is
 *    printed.  Array lengths 0..70 give the same bits as whole 32-element
 *    blocks (the masked tail), in place too, and write nothing past n.
 * 4. The scalar fallback forced (kernel_force_level(0): no packed operands,
 *    libm tanh) against the full SIMD path through the real callers: the
 *    forward pass and the BPTT and e-prop gradients of a romo batch (N = 37,
 *    B = 13, tanh and relu), norm-wise relative difference <= 1e-13.
 * Sections 2 and 4 need AVX-512 for the packed path; without it they say so
 * and test the cblas path only.  Exits non-zero on any failure.
 */
#include "kernel.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include "check.h"

#define PANEL 16 /* kernel.c's PK_NR: columns per packed panel */

static void fill(double *x, size_t n, gsl_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_ran_gaussian(r, 1.0);
}

/* ---- 1. kernel_pack ---- */

static void test_pack(gsl_rng *r)
{
    const int Ks[3] = {1, 3, 17};
    double worst = 0.0;
    for (int t = 0; t < 3; t++)
        for (int N = 1; N <= 40; N++)
            for (int trans = 0; trans < 2; trans++) {
                const int K = Ks[t];
                const size_t ld = (size_t)(trans ? K : N) + 3; /* rows of M ld apart */
                const size_t rows = trans ? (size_t)N : (size_t)K;
                double *M = malloc(rows * ld * sizeof(double));
                double *P = kernel_alloc_aligned(kernel_pack_size(K, N));
                fill(M, rows * ld, r);
                for (size_t q = 0; q < kernel_pack_size(K, N); q++)
                    P[q] = NAN; /* every element must be written */
                kernel_pack(K, N, M, ld, trans, P);
                const int npanels = (N + PANEL - 1) / PANEL;
                for (int p = 0; p < npanels; p++)
                    for (int k = 0; k < K; k++)
                        for (int c = 0; c < PANEL; c++) {
                            const int j = p * PANEL + c;
                            const double want = j >= N ? 0.0
                                                : trans ? M[(size_t)j * ld + k]
                                                        : M[(size_t)k * ld + j];
                            const double got = P[(size_t)p * PANEL * K + (size_t)k * PANEL + c];
                            if (!(got == want))
                                worst = 1.0;
                        }
                free(M);
                free(P);
            }
    check("kernel_pack: panels of K = 1, 3, 17, N = 1..40, both orientations (1 = mismatch)",
          worst, 0.0);
}

/* ---- 2. the step products ---- */

/* max that keeps a NaN (a NaN result must fail the check). */
static double fmax_nan(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

/* Worst |C - ref| / bound of C (M,N) += alpha A' B' over inner dimension K,
 * with A'(m,k) and B'(k,n) given by the strides (element (m,k) of A' at
 * A[m*am + k*ak]).  C0 is C before, C after. */
static double worst_ratio(int M, int N, int K, double alpha, const double *A, size_t am, size_t ak,
                          const double *Bm, size_t bk, size_t bn, const double *C0,
                          const double *C)
{
    double worst = 0.0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            long double s = 0.0L, abs = 0.0L;
            for (int k = 0; k < K; k++) {
                const long double p = (long double)A[m * am + k * ak] * Bm[k * bk + n * bn];
                s += p;
                abs += fabsl(p);
            }
            const size_t q = (size_t)m * N + n;
            const long double ref = C0[q] + (long double)alpha * s;
            const long double bound =
                (K + 2) * 0x1p-53L * (fabsl((long double)alpha) * abs + fabsl((long double)C0[q]));
            const long double err = fabsl((long double)C[q] - ref);
            const double ratio = (double)(bound > 0 ? err / bound : (err > 0 ? INFINITY : 0));
            worst = fmax_nan(worst, ratio);
        }
    return worst;
}

/* kernel_step_product for one (B,N), both orientations; packed = use P.
 * Returns the worst ratio. */
static double one_product(int B, int N, int packed, gsl_rng *r)
{
    double *A = malloc((size_t)B * N * sizeof(double)), *W = malloc((size_t)N * N * sizeof(double));
    double *C = malloc((size_t)B * N * sizeof(double)), *C0 = malloc((size_t)B * N * sizeof(double));
    double *P = packed ? kernel_alloc_aligned(kernel_pack_size(N, N)) : NULL;
    double worst = 0.0;
    fill(A, (size_t)B * N, r);
    fill(W, (size_t)N * N, r);
    for (int trans = 0; trans < 2; trans++) {
        const double alpha = trans ? 0.75 : -1.3;
        fill(C0, (size_t)B * N, r);
        memcpy(C, C0, (size_t)B * N * sizeof(double));
        if (P)
            kernel_pack(N, N, W, (size_t)N, trans, P);
        kernel_step_product(B, N, alpha, A, W, trans, P, C);
        /* M = W^T (trans) or W: M(k,n) = W[n*N + k] or W[k*N + n] */
        worst = fmax_nan(worst, worst_ratio(B, N, N, alpha, A, (size_t)N, 1, W,
                                            trans ? 1 : (size_t)N, trans ? (size_t)N : 1, C0, C));
    }
    free(A), free(W), free(C), free(C0), free(P);
    return worst;
}

/* kernel_step_outer for one (B,N): C (N,N) += alpha A^T R. */
static double one_outer(int B, int N, int packed, gsl_rng *r)
{
    double *A = malloc((size_t)B * N * sizeof(double)), *R = malloc((size_t)B * N * sizeof(double));
    double *C = malloc((size_t)N * N * sizeof(double)), *C0 = malloc((size_t)N * N * sizeof(double));
    double *P = packed ? kernel_alloc_aligned(kernel_pack_size(B, N)) : NULL;
    const double alpha = 0.6;
    fill(A, (size_t)B * N, r);
    fill(R, (size_t)B * N, r);
    fill(C0, (size_t)N * N, r);
    memcpy(C, C0, (size_t)N * N * sizeof(double));
    kernel_step_outer(B, N, alpha, A, R, P, C);
    /* A^T(m,k) = A[k*N + m]; R(k,n) = R[k*N + n] */
    const double w = worst_ratio(N, N, B, alpha, A, 1, (size_t)N, R, (size_t)N, 1, C0, C);
    free(A), free(R), free(C), free(C0), free(P);
    return w;
}

static void test_products(gsl_rng *r)
{
    static const int Bs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33};
    static const int bigN[] = {127, 128, 129, 255, 256, 257, 300, 513};
    static const int bigB[] = {1, 7, 8, 9, 33};
    const int nB = sizeof Bs / sizeof Bs[0];
    for (int packed = 0; packed < 2; packed++) {
        if (packed && !kernel_available()) {
            printf("     no AVX-512 here: the packed kernel is not tested, only the cblas path\n");
            continue;
        }
        const char *how = packed ? "packed" : "cblas (P = NULL)";
        double wp = 0.0, wo = 0.0, wpb = 0.0, wob = 0.0;
        for (int N = 1; N <= 70; N++)
            for (int b = 0; b < nB; b++) {
                wp = fmax_nan(wp, one_product(Bs[b], N, packed, r));
                wo = fmax_nan(wo, one_outer(Bs[b], N, packed, r));
            }
        for (size_t n = 0; n < sizeof bigN / sizeof bigN[0]; n++)
            for (size_t b = 0; b < sizeof bigB / sizeof bigB[0]; b++)
                wpb = fmax_nan(wpb, one_product(bigB[b], bigN[n], packed, r));
        /* K = B: B over 256 crosses the inner blocking; and large N (M and N of C) */
        const int outer[][2] = {{257, 1},  {257, 9},   {257, 17}, {257, 64}, {300, 1},
                                {300, 17}, {300, 129}, {5, 127},  {15, 255}, {33, 300}};
        for (size_t q = 0; q < sizeof outer / sizeof outer[0]; q++)
            wob = fmax_nan(wob, one_outer(outer[q][0], outer[q][1], packed, r));
        char what[128];
        snprintf(what, sizeof what, "step_product %s, N = 1..70 x 15 B, both W orientations", how);
        check(what, wp, 1.0);
        snprintf(what, sizeof what, "step_product %s, N = 127..513 (K blocks of 256 and tails)", how);
        check(what, wpb, 1.0);
        snprintf(what, sizeof what, "step_outer %s, N = 1..70 x 15 B", how);
        check(what, wo, 1.0);
        snprintf(what, sizeof what, "step_outer %s, B = 257, 300 (K blocking) and large N", how);
        check(what, wob, 1.0);
    }
}

/* ---- 3. tanh in ulps ---- */

/* Distance in units in the last place between two doubles of the same
 * sign region (the order of their bit patterns); NaN against NaN is 0,
 * NaN against a number is huge. */
static uint64_t ulps(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : UINT64_MAX;
    int64_t ia, ib;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    if (ia < 0)
        ia = INT64_MIN - ia;
    if (ib < 0)
        ib = INT64_MIN - ib;
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

typedef struct sweep_pts { double *x; size_t n; } sweep_pts;

static sweep_pts tanh_points(void)
{
    const size_t ngrid = 4000001, nlog = 200000, nbin = 1085;
    sweep_pts s = {malloc((ngrid + 2 * nlog + 2 * nbin + 16) * sizeof(double)), 0};
    for (size_t i = 0; i < ngrid; i++)
        s.x[s.n++] = -22.0 + 44.0 * (double)i / (double)(ngrid - 1);
    for (size_t i = 0; i < nlog; i++) {
        const double v = exp(log(1e-310) + (log(1e3) - log(1e-310)) * (double)i / (double)(nlog - 1));
        s.x[s.n++] = v;
        s.x[s.n++] = -v;
    }
    for (int e = -1074; e <= 10; e++) {
        s.x[s.n++] = ldexp(1.0, e);
        s.x[s.n++] = -ldexp(1.0, e) * 1.3;
    }
    const double edge[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, DBL_MAX, -DBL_MAX, DBL_MIN,
                           -DBL_MIN, 19.06, 20.0, 40.0, 710.0, -1e-300};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        s.x[s.n++] = edge[i];
    return s;
}

/* Worst ulp of kernel_tanh at the forced level over the points; *at gets
 * the argument of the worst one.  The signs of 0 and the values at +-inf
 * and NaN count as exact matches only. */
static uint64_t tanh_worst(const sweep_pts *s, int level, double *at, int *sign_ok)
{
    kernel_force_level(level);
    double *y = malloc(s->n * sizeof(double));
    kernel_tanh(s->x, y, s->n);
    kernel_force_level(-1);
    uint64_t worst = 0;
    *at = 0;
    *sign_ok = 1;
    for (size_t i = 0; i < s->n; i++) {
        const double ref = tanh(s->x[i]);
        const uint64_t u = ulps(y[i], ref);
        if (u > worst) {
            worst = u;
            *at = s->x[i];
        }
        if (!isnan(ref) && signbit(y[i]) != signbit(ref))
            *sign_ok = 0;
    }
    free(y);
    return worst;
}

static void test_tanh(void)
{
    sweep_pts s = tanh_points();
    static const char *const names[3] = {"scalar (libm)", "avx2 (libmvec)", "avx512 (own kernel)"};
    const int top = kernel_force_level(-1);
    for (int level = 0; level <= top; level++) {
        double at;
        int sign_ok;
        const uint64_t w = tanh_worst(&s, level, &at, &sign_ok);
        char what[128];
        snprintf(what, sizeof what, "kernel_tanh %s vs libm over %zu points: worst ulp (at x = %.17g)",
                 names[level], s.n, at);
        check(what, (double)w, level == 0 ? 0.0 : 4.0);
        snprintf(what, sizeof what, "kernel_tanh %s: signs of +-0, +-inf, NaN and all others", names[level]);
        check_true(sign_ok, what, NULL);
    }
    if (top < 2)
        printf("     this CPU's level is %s: the faster kernels are not tested\n", names[top]);

    /* Tails: length n at any offset gives the bits of a whole-block call. */
    double x[128], whole[128], y[128 + 1];
    for (int i = 0; i < 128; i++)
        x[i] = -9.5 + 0.15 * i;
    kernel_tanh(x, whole, 128);
    int bad = 0;
    for (int n = 0; n <= 70; n++)
        for (int off = 0; off < 3; off++) {
            for (int i = 0; i <= n; i++)
                y[i] = 12345.0; /* sentinel past the end */
            kernel_tanh(x + off, y, (size_t)n);
            for (int i = 0; i < n; i++)
                bad += memcmp(&y[i], &whole[off + i], 8) != 0;
            bad += y[n] != 12345.0;
            memcpy(y, x + off, (size_t)n * sizeof(double));
            kernel_tanh(y, y, (size_t)n); /* in place */
            for (int i = 0; i < n; i++)
                bad += memcmp(&y[i], &whole[off + i], 8) != 0;
        }
    check_true(bad == 0, "kernel_tanh lengths 0..70 at offsets 0..2: block bits, in place, no overrun",
               "%d mismatches", bad);
    free(s.x);
}

/* ---- 4. scalar fallback vs SIMD through rnn_forward and rule_gradient ---- */

typedef struct run_out { double loss; rnn_cache c; rnn_params g; } run_out;

static int run(int level, int rule, int act, const rnn_params *p, const task_batch *tb,
               const double *B_fb, run_out *o)
{
    kernel_force_level(level);
    const int T = tb->T, B = tb->B, N = p->N;
    rule_work *w = rule_work_alloc(T, B, N, p->I, p->O);
    int rc = -1;
    memset(o, 0, sizeof *o);
    if (w && rnn_cache_alloc(&o->c, T, B, N, p->O) == 0 && rnn_params_alloc(&o->g, N, p->I, p->O) == 0) {
        o->loss = rule_gradient(rule, p, B_fb, act, 0.5, tb, &o->c, &o->g, w);
        rc = 0;
    }
    rule_work_free(w);
    kernel_force_level(-1);
    return rc;
}

static void test_fallback(gsl_rng *r)
{
    if (!kernel_available())
        printf("     no AVX-512 here: scalar and SIMD paths are the same code\n");
    const int N = 37, B = 13;
    task_batch *tb = task_batch_alloc(TASK_ROMO, B);
    int Ti, I, O;
    task_dims(TASK_ROMO, &Ti, &I, &O);
    rnn_params p;
    rnn_params_alloc(&p, N, I, O);
    rnn_params_init(&p, 0.9, r);
    for (size_t q = 0; q < (size_t)N; q++)
        p.b[q] = 0.1 * gsl_ran_gaussian(r, 1.0); /* relu units not all on one side */
    task_batch_fill(tb, r);
    static const struct { int rule, act; const char *name; } cases[] = {
        {RULE_BPTT, ACT_TANH, "bptt tanh"}, {RULE_EPROP, ACT_TANH, "eprop tanh"},
        {RULE_BPTT, ACT_RELU, "bptt relu"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        run_out s, v;
        const int ok = run(0, cases[c].rule, cases[c].act, &p, tb, NULL, &s) == 0 &&
                       run(2, cases[c].rule, cases[c].act, &p, tb, NULL, &v) == 0;
        char what[128];
        snprintf(what, sizeof what, "scalar fallback vs SIMD, %s: packed operand only in SIMD",
                 cases[c].name);
        check_true(ok && s.c.W_rec_packed == NULL &&
                       (v.c.W_rec_packed != NULL) == (kernel_available() != 0),
                   what, NULL);
        if (ok) {
            const size_t nh = (size_t)(tb->T + 1) * B * N, ny = (size_t)tb->T * B * O;
            snprintf(what, sizeof what, "scalar fallback vs SIMD, %s: states h (rel. norm)",
                     cases[c].name);
            check(what, check_rel_err(s.c.h, v.c.h, nh), 1e-13);
            snprintf(what, sizeof what, "scalar fallback vs SIMD, %s: outputs y, loss", cases[c].name);
            check(what, fmax(check_rel_err(s.c.y, v.c.y, ny), fabs(s.loss - v.loss) / fabs(v.loss)),
                  1e-13);
            snprintf(what, sizeof what, "scalar fallback vs SIMD, %s: gradient (rel. norm)",
                     cases[c].name);
            check(what, check_rel_err(s.g.data, v.g.data, p.size), 1e-13);
        }
        rnn_cache_free(&s.c), rnn_cache_free(&v.c);
        rnn_params_free(&s.g), rnn_params_free(&v.g);
    }
    rnn_params_free(&p);
    task_batch_free(tb);
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20240611);
    printf("     CPU level: %s; kernel_available %d\n", kernel_simd(), kernel_available());
    const double t0 = clock_now();
    test_pack(r);
    test_products(r);
    test_tanh();
    test_fallback(r);
    printf("     total %.1f s\n", clock_now() - t0);
    gsl_rng_free(r);
    return check_summary("kernel");
}
