/* rnn.c — parameters, initialisation, activations and the forward pass of the leaky RNN.
 *
 * The forward pass does one dgemm (B,N)x(N,N) per step for the recurrent
 * drive and, per step, one elementwise pass over the (B,N) block that applies
 * f, the readout (O small: dot products) and the leak, bias and input drive
 * of the next step (I small), so each state is read once after its product.
 * tanh, the largest elementwise cost, has its own AVX-512 kernel (2.2x
 * libmvec's here), libmvec's AVX2 kernel, or libm.  rule_gradient runs the
 * same loop with the products on a packed W_rec (rule.c); this one serves
 * evaluation, exponents and flossing.
 */
#include "rnnsweep/rnn.h"
#include "rnnsweep/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wpsabi"
/* glibc libmvec (>= 2.35) vector tanh, 4 lanes. */
__m256d _ZGVdN4v_tanh(__m256d x);
#endif

size_t rnn_params_size(int N, int I, int O)
{
    return (size_t)N * I + (size_t)N * N + N + (size_t)O * N + O;
}

void rnn_params_wrap(rnn_params *p, int N, int I, int O, double *data)
{
    p->N = N;
    p->I = I;
    p->O = O;
    p->size = rnn_params_size(N, I, O);
    p->data = data;
    p->W_in = data;
    p->W_rec = p->W_in + (size_t)N * I;
    p->b = p->W_rec + (size_t)N * N;
    p->W_out = p->b + N;
    p->b_out = p->W_out + (size_t)O * N;
    p->owner = 0;
}

int rnn_params_alloc(rnn_params *p, int N, int I, int O)
{
    double *d = calloc(rnn_params_size(N, I, O), sizeof(double));
    if (!d) {
        memset(p, 0, sizeof *p);
        return -1;
    }
    rnn_params_wrap(p, N, I, O, d);
    p->owner = 1;
    return 0;
}

void rnn_params_free(rnn_params *p)
{
    if (!p)
        return;
    if (p->owner)
        free(p->data);
    memset(p, 0, sizeof *p);
}

static const char *const tensor_names[RNN_NTENSORS] = {"W_in", "W_rec", "b", "W_out", "b_out"};

const char *rnn_tensor_name(int t)
{
    return t >= 0 && t < RNN_NTENSORS ? tensor_names[t] : NULL;
}

void rnn_tensor_shape(const rnn_params *p, int t, int *rows, int *cols)
{
    switch (t) {
    case RNN_W_IN: *rows = p->N; *cols = p->I; break;
    case RNN_W_REC: *rows = p->N; *cols = p->N; break;
    case RNN_B: *rows = p->N; *cols = 1; break;
    case RNN_W_OUT: *rows = p->O; *cols = p->N; break;
    default: *rows = p->O; *cols = 1; break;
    }
}

double *rnn_tensor(const rnn_params *p, int t)
{
    double *v[RNN_NTENSORS] = {p->W_in, p->W_rec, p->b, p->W_out, p->b_out};
    return t >= 0 && t < RNN_NTENSORS ? v[t] : NULL;
}

/* Draw order: W_rec (row-major), W_in, W_out.  Z is drawn at unit variance
 * and scaled, so jobs that differ only in gain share the same Z. */
void rnn_params_init(rnn_params *p, double gain, gsl_rng *r)
{
    const int N = p->N, I = p->I, O = p->O;
    const double srec = gain / sqrt((double)N);
    for (size_t i = 0; i < (size_t)N * N; i++)
        p->W_rec[i] = srec * gsl_ran_gaussian_ziggurat(r, 1.0);
    const double ain = 1.0 / sqrt((double)I), aout = 1.0 / sqrt((double)N);
    for (size_t i = 0; i < (size_t)N * I; i++)
        p->W_in[i] = ain * (2.0 * gsl_rng_uniform(r) - 1.0);
    for (size_t i = 0; i < (size_t)O * N; i++)
        p->W_out[i] = aout * (2.0 * gsl_rng_uniform(r) - 1.0);
    memset(p->b, 0, N * sizeof(double));
    memset(p->b_out, 0, O * sizeof(double));
}

#if defined(__x86_64__)
/* tanh of 4 x 8 lanes (lanes outside mask untouched in out):
 *   tanh x = sign(x) e / (e + 2),  e = expm1(2|x|) = 2^k (1 + q) - 1,
 *   2|x| = k ln2 + r, |r| <= ln2/2, q = expm1(r) by its Taylor series to r^13
 *   (truncation < 2e-17), 1/(e + 2) by rcp14 and two Newton steps, and one
 *   residual correction of the quotient.  Within 4 ulp of glibc's tanh over
 *   the whole range (measured), tanh(+-0) = +-0, tanh(+-inf) = +-1, NaN stays
 *   NaN.  The four vectors are interleaved because one tanh is a ~100-cycle
 *   dependency chain: 2.2x the throughput of libmvec's _ZGVeN8v_tanh here. */
#define TANH_U 4
#define TANH_EACH(s)                  \
    _Pragma("GCC unroll 4")           \
    for (int j = 0; j < TANH_U; j++) { \
        s;                            \
    }
__attribute__((target("avx512f"))) static inline void tanh_x32(const double *in, double *out,
                                                               const __mmask8 *m)
{
#define C(v) _mm512_set1_pd(v)
    const __m512i absmask = _mm512_set1_epi64(0x7fffffffffffffffLL);
    const __m512d one = C(1.0), magic = C(6755399441055744.0); /* 1.5 * 2^52 */
    __m512d x[TANH_U], y[TANH_U], km[TANH_U], k[TANH_U], r[TANH_U], r2[TANH_U], r4[TANH_U];
    __m512d a[TANH_U], b[TANH_U], p[TANH_U], e[TANH_U], d[TANH_U], z[TANH_U], t[TANH_U];
    TANH_EACH(x[j] = _mm512_maskz_loadu_pd(m[j], in + 8 * j))
    TANH_EACH(y[j] = _mm512_castsi512_pd(_mm512_and_epi64(_mm512_castpd_si512(x[j]), absmask)))
    TANH_EACH(y[j] = _mm512_min_pd(C(40.0), y[j])) /* min(c, NaN) = NaN */
    TANH_EACH(y[j] = _mm512_add_pd(y[j], y[j]))
    TANH_EACH(km[j] = _mm512_fmadd_pd(y[j], C(1.4426950408889634), magic))
    TANH_EACH(k[j] = _mm512_sub_pd(km[j], magic)) /* round(y / ln2) */
    TANH_EACH(r[j] = _mm512_fnmadd_pd(k[j], C(6.93147180369123816490e-01), y[j]))
    TANH_EACH(r[j] = _mm512_fnmadd_pd(k[j], C(1.90821492927058770002e-10), r[j]))
    TANH_EACH(r2[j] = _mm512_mul_pd(r[j], r[j]))
    TANH_EACH(r4[j] = _mm512_mul_pd(r2[j], r2[j]))
    /* p = 1/2! + r/3! + ... + r^11/13! (Estrin); q = r + r^2 p */
    TANH_EACH(a[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 6227020800.0), r[j], C(1.0 / 479001600.0)),
                                     r2[j], _mm512_fmadd_pd(C(1.0 / 39916800.0), r[j], C(1.0 / 3628800.0))))
    TANH_EACH(b[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 362880.0), r[j], C(1.0 / 40320.0)), r2[j],
                                     _mm512_fmadd_pd(C(1.0 / 5040.0), r[j], C(1.0 / 720.0))))
    TANH_EACH(p[j] = _mm512_fmadd_pd(a[j], r4[j], b[j]))
    TANH_EACH(a[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 120.0), r[j], C(1.0 / 24.0)), r2[j],
                                     _mm512_fmadd_pd(C(1.0 / 6.0), r[j], C(0.5))))
    TANH_EACH(p[j] = _mm512_fmadd_pd(p[j], r4[j], a[j]))
    TANH_EACH(p[j] = _mm512_fmadd_pd(p[j], r2[j], r[j]))
    /* 2^k from the low bits of km; e = 2^k q + (2^k - 1) */
    TANH_EACH(b[j] = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_slli_epi64(_mm512_castpd_si512(km[j]), 52),
                                                          _mm512_castpd_si512(one))))
    TANH_EACH(e[j] = _mm512_fmadd_pd(b[j], p[j], _mm512_sub_pd(b[j], one)))
    TANH_EACH(d[j] = _mm512_add_pd(e[j], C(2.0)))
    TANH_EACH(z[j] = _mm512_rcp14_pd(d[j]))
    TANH_EACH(z[j] = _mm512_fmadd_pd(z[j], _mm512_fnmadd_pd(d[j], z[j], one), z[j]))
    TANH_EACH(z[j] = _mm512_fmadd_pd(z[j], _mm512_fnmadd_pd(d[j], z[j], one), z[j]))
    TANH_EACH(t[j] = _mm512_mul_pd(e[j], z[j]))
    TANH_EACH(t[j] = _mm512_fmadd_pd(_mm512_fnmadd_pd(t[j], d[j], e[j]), z[j], t[j]))
    /* copy the sign of x */
    TANH_EACH(t[j] = _mm512_castsi512_pd(_mm512_ternarylogic_epi64(
                  absmask, _mm512_castpd_si512(t[j]), _mm512_castpd_si512(x[j]), 0xca)))
    TANH_EACH(_mm512_mask_storeu_pd(out + 8 * j, m[j], t[j]))
#undef C
}

__attribute__((target("avx512f"))) static void tanh_avx512(const double *h, double *r, size_t n)
{
    const __mmask8 full[TANH_U] = {0xff, 0xff, 0xff, 0xff};
    size_t i = 0;
    for (; i + 8 * TANH_U <= n; i += 8 * TANH_U)
        tanh_x32(h + i, r + i, full);
    if (i < n) {
        __mmask8 m[TANH_U];
        for (int j = 0; j < TANH_U; j++) {
            const size_t lo = i + 8 * (size_t)j;
            m[j] = lo >= n ? 0 : n - lo >= 8 ? 0xff : (__mmask8)((1u << (n - lo)) - 1);
        }
        tanh_x32(h + i, r + i, m);
    }
}

__attribute__((target("avx2"))) static size_t tanh_avx2(const double *h, double *r, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(r + i, _ZGVdN4v_tanh(_mm256_loadu_pd(h + i)));
    return i;
}
#endif

/* tanh over n values: the AVX-512 kernel above, libmvec's AVX2 kernel, or libm. */
static void tanh_n(const double *h, double *r, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__)
    static int level = -1;
    if (level < 0)
        level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    if (level == 2) {
        tanh_avx512(h, r, n);
        return;
    }
    if (level == 1)
        i = tanh_avx2(h, r, n);
#endif
    for (; i < n; i++)
        r[i] = tanh(h[i]);
}

void rnn_act(int act, const double *h, double *r, size_t n)
{
    if (act == ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            r[i] = h[i] > 0 ? h[i] : 0.0;
    } else {
        tanh_n(h, r, n);
    }
}

/* tanh' = 1 - tanh^2 (from r); relu' = [h > 0]. */
void rnn_act_deriv(int act, const double *h, const double *r, double *d, size_t n)
{
    if (act == ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            d[i] = h[i] > 0 ? 1.0 : 0.0;
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0 - r[i] * r[i];
    }
}

int rnn_cache_alloc(rnn_cache *c, int T, int B, int N, int O)
{
    c->T = T;
    c->B = B;
    c->N = N;
    c->O = O;
    c->h = calloc((size_t)(T + 1) * B * N, sizeof(double));
    c->r = calloc((size_t)(T + 1) * B * N, sizeof(double));
    c->y = calloc((size_t)T * B * O, sizeof(double));
    if (!c->h || !c->r || !c->y) {
        rnn_cache_free(c);
        return -1;
    }
    return 0;
}

void rnn_cache_free(rnn_cache *c)
{
    if (!c)
        return;
    free(c->h);
    free(c->r);
    free(c->y);
    memset(c, 0, sizeof *c);
}

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

/* Step t's elementwise work once its block h (B,N) is complete: r = f(h),
 * y = r W_out^T + b_out (B,O), and the part of h_{t+1} known before the
 * recurrent product (hn NULL at t = T):
 *   hn = (1-a) h + a (b + x W_in^T),   x (B,I) the inputs of step t+1.
 * The dot products keep 8 partial sums, added as a tree, so that they
 * vectorise without reassociation flags. */
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
        const double *rr = r + row;
        for (int o = 0; o < O; o++) {
            const double *wo = W_out + (size_t)o * N;
            double s[8] = {0};
            int i = 0;
            for (; i + 8 <= N; i += 8)
                for (int j = 0; j < 8; j++)
                    s[j] += wo[i + j] * rr[i + j];
            for (int j = 0; i < N; i++, j++)
                s[j] += wo[i] * rr[i];
            for (int j = 0; j < 4; j++)
                s[j] += s[j + 4];
            y[(size_t)bi * O + o] = (s[0] + s[2]) + (s[1] + s[3]) + b_out[o];
        }
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

/* Per step t = 1..T (rows = trials):
 *   h_t = (1-a) h_{t-1} + a (W_in x_t + b)     elementwise, in the pass of step t-1
 *   h_t += a r_{t-1} W_rec^T                   one dgemm (B,N)x(N,N); none at t = 1,
 *                                              where r_0 = f(0) = 0 (tanh and relu)
 *   r_t = f(h_t), y_t = W_out r_t + b_out      elementwise, same pass
 * so each step reads its (B,N) block once after the dgemm.  (rule_gradient
 * has its own copy of this loop with the products on a packed W_rec.) */
void rnn_forward(const rnn_params *p, int act, double alpha,
                 const double *x /* (T,B,I) */, rnn_cache *c)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    double *H = c->h, *R = c->r;
    memset(H, 0, BN * sizeof(double));
    rnn_act(act, H, R, BN);
    /* h_1 = (1-a) h_0 + a (W_in x_1 + b) with h_0 = 0 */
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
        double *h = H + (size_t)t * BN;
        if (t > 1)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, N, alpha,
                        R + (size_t)(t - 1) * BN, N, p->W_rec, N, 1.0, h, N);
        forward_block(act, B, N, I, O, alpha, h, R + (size_t)t * BN,
                      c->y + (size_t)(t - 1) * B * O, p->W_out, p->b_out, t < T ? h + BN : NULL,
                      t < T ? x + (size_t)t * B * I : NULL, p->W_in, p->b);
    }
}
