/* rnn.c — parameters, initialisation, activations and the forward pass of the leaky RNN.
 *
 * The forward pass is the only one in the program: evaluation, training
 * (rule_gradient), exponents, dumps and flossing all run it.  Per step it
 * does one product (B,N)x(N,N) for the recurrent drive, on the packed-operand
 * kernel (kernel.h) with W_rec^T packed once per call into the cache, or by
 * cblas_dgemm where the CPU lacks the kernel; then one elementwise pass over
 * the (B,N) block that applies f (tanh by kernel_tanh), the readout (O small:
 * dot products) and the leak, bias and input drive of the next step (I
 * small), so each state is read once after its product.  The cache is sized
 * once by rnn_cache_alloc; the forward pass allocates nothing.
 */
#include "rnnsweep/rnn.h"
#include "kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

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

void rnn_act(int act, const double *h, double *r, size_t n)
{
    if (act == ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            r[i] = h[i] > 0 ? h[i] : 0.0;
    } else {
        kernel_tanh(h, r, n);
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

/* The packed W_rec^T exists only where the kernel runs (kernel_available);
 * without it rnn_forward's products go to cblas_dgemm on W_rec. */
int rnn_cache_alloc(rnn_cache *c, int T, int B, int N, int O)
{
    c->T = T;
    c->B = B;
    c->N = N;
    c->O = O;
    c->h = calloc((size_t)(T + 1) * B * N, sizeof(double));
    c->r = calloc((size_t)(T + 1) * B * N, sizeof(double));
    c->y = calloc((size_t)T * B * O, sizeof(double));
    c->W_rec_packed = kernel_available() ? kernel_alloc_aligned(kernel_pack_size(N, N)) : NULL;
    if (!c->h || !c->r || !c->y || (kernel_available() && !c->W_rec_packed)) {
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
    free(c->W_rec_packed);
    memset(c, 0, sizeof *c);
}

/* y_o = W_out[o,:] . r + b_out[o] for one row r (N), y (O): 8 partial sums
 * per dot product, added as a tree, so that it vectorises without
 * reassociation flags. */
static inline void readout_row(int N, int O, const double *restrict r,
                               const double *restrict W_out /* (O,N) */,
                               const double *restrict b_out /* (O) */, double *restrict y)
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
KERNEL_SIMD_CLONES static void forward_block(int act, int B, int N, int I, int O, double alpha,
                                             const double *restrict h, double *restrict r,
                                             double *restrict y, const double *restrict W_out,
                                             const double *restrict b_out, double *restrict hn,
                                             const double *restrict x,
                                             const double *restrict W_in,
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

/* Per step t = 1..T (rows = trials):
 *   h_t = (1-a) h_{t-1} + a (W_in x_t + b)     elementwise, in the pass of step t-1
 *   h_t += a r_{t-1} W_rec^T                   one product (B,N)x(N,N) on the packed
 *                                              W_rec^T; none at t = 1, where
 *                                              r_0 = f(0) = 0 (tanh and relu)
 *   r_t = f(h_t), y_t = W_out r_t + b_out      elementwise, same pass
 * so each step reads its (B,N) block once after the product. */
void rnn_forward(const rnn_params *p, int act, double alpha,
                 const double *x /* (T,B,I) */, rnn_cache *c)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    double *H = c->h, *R = c->r;
    if (c->W_rec_packed && T > 1)
        kernel_pack(N, N, p->W_rec, (size_t)N, 1, c->W_rec_packed);
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
            kernel_step_product(B, N, alpha, R + (size_t)(t - 1) * BN, p->W_rec, 1,
                                c->W_rec_packed, h);
        forward_block(act, B, N, I, O, alpha, h, R + (size_t)t * BN,
                      c->y + (size_t)(t - 1) * B * O, p->W_out, p->b_out, t < T ? h + BN : NULL,
                      t < T ? x + (size_t)t * B * I : NULL, p->W_in, p->b);
    }
}
