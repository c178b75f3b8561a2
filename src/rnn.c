/* rnn.c — parameters, initialisation, activations and the forward pass of the leaky RNN.
 *
 * The forward pass is written for batched BLAS: the input drive W_in x_t of
 * all T steps is one dgemm (T*B,I)x(I,N) into the state buffer, then each step
 * adds the recurrent drive with one dgemm (B,N)x(N,N) and the leak.  The
 * readout of all steps is one dgemm (T*B,N)x(N,O).  tanh uses glibc's
 * vectorised libmvec kernels where the CPU has AVX-512 or AVX2.
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
/* glibc libmvec (>= 2.35) vector tanh, 8 and 4 lanes. */
__m512d _ZGVeN8v_tanh(__m512d x);
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
__attribute__((target("avx512f"))) static size_t tanh_avx512(const double *h, double *r, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(r + i, _ZGVeN8v_tanh(_mm512_loadu_pd(h + i)));
    return i;
}

__attribute__((target("avx2"))) static size_t tanh_avx2(const double *h, double *r, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(r + i, _ZGVdN4v_tanh(_mm256_loadu_pd(h + i)));
    return i;
}
#endif

/* tanh over n values; libmvec's vector kernels where the CPU has them. */
static void tanh_n(const double *h, double *r, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__)
    static int level = -1;
    if (level < 0)
        level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    if (level == 2)
        i = tanh_avx512(h, r, n);
    else if (level == 1)
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

/* h_t = (1-a) h_{t-1} + a (r_{t-1} W_rec^T + x_t W_in^T + b), rows = trials. */
void rnn_forward(const rnn_params *p, int act, double alpha,
                 const double *x /* (T,B,I) */, rnn_cache *c)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    double *H = c->h, *R = c->r;
    memset(H, 0, BN * sizeof(double));
    memset(R, 0, BN * sizeof(double));
    rnn_act(act, H, R, BN);
    /* H[1..T] = a * X W_in^T, one dgemm over all steps: (T*B,I) x (I,N). */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, N, I,
                alpha, x, I, p->W_in, I, 0.0, H + BN, N);
    const double leak = 1.0 - alpha;
    for (int t = 1; t <= T; t++) {
        double *h = H + (size_t)t * BN;
        const double *hp = H + (size_t)(t - 1) * BN;
        for (int bi = 0; bi < B; bi++) {
            double *hr = h + (size_t)bi * N;
            const double *hpr = hp + (size_t)bi * N;
            for (int i = 0; i < N; i++)
                hr[i] += leak * hpr[i] + alpha * p->b[i];
        }
        /* h += a * r_{t-1} W_rec^T: (B,N) x (N,N). */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, N,
                    alpha, R + (size_t)(t - 1) * BN, N, p->W_rec, N, 1.0, h, N);
        rnn_act(act, h, R + (size_t)t * BN, BN);
    }
    /* Y = R[1..T] W_out^T + b_out: (T*B,N) x (N,O). */
    for (size_t row = 0; row < (size_t)T * B; row++)
        memcpy(c->y + row * O, p->b_out, O * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, O, N,
                1.0, R + BN, N, p->W_out, N, 1.0, c->y, O);
}
