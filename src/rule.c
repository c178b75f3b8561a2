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
 * are two thirds of the FLOPs; they run on the packed-operand kernel
 * (kernel.h): the forward ones in rnn_forward on the cache's packed W_rec^T,
 * the backward ones here on W_rec packed once per gradient.  Everything else
 * is elementwise, in one pass per step and direction.
 *
 * The workspace holds G (T,B,N), dY (T,B,O), F^T for rflo, the (I,N)
 * accumulator of dW_in, the packed W_rec, one step's packed r_{t-1}, and the
 * online e-prop traces; rule_gradient allocates nothing.
 */
#include "rnnsweep/rule.h"
#include "kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

/* dW_rec = a sum_t g_t^T r_{t-1}: up to this N as a rank-B update per step on
 * the kernel (g_t still in cache, dW_rec fits in L2; 1.15-1.35x OpenBLAS's
 * single dgemm at N = 32..128 here), above it as one dgemm (OpenBLAS is
 * faster once dW_rec no longer stays in L2). */
enum { DW_STEP_MAX_N = 128 };

struct rule_work {
    int T, B, N, I, O;
    double *G;    /* (T,B,N) dL/dh_t, t = 1..T */
    double *dY;   /* (T,B,O) dL/dy_t */
    double *F;    /* (O,N) B_fb^T for rflo */
    double *dWiT; /* (I,N) dW_in^T accumulator */
    double *Pb;   /* W_rec packed (kernel_pack_size(N,N)); NULL without the kernel */
    double *Pr;   /* one step's r_{t-1} (B,N) packed, for dW_rec by steps; NULL: one dgemm */
    double *p;    /* (B,N) online trace of W_rec */
    double *q;    /* (B,I) online trace of W_in */
    double *L;    /* (B,N) online learning signal */
};

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
    if (ok && kernel_available()) {
        w->Pb = kernel_alloc_aligned(kernel_pack_size(N, N));
        ok = w->Pb != NULL;
        if (N <= DW_STEP_MAX_N) {
            w->Pr = kernel_alloc_aligned(kernel_pack_size(B, N));
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
    free(w->Pb);
    free(w->Pr);
    free(w->p);
    free(w->q);
    free(w->L);
    free(w);
}

const char *rule_name(int rule)
{
    static const char *const names[] = {RULE_NAMES};
    return rule >= 0 && rule < (int)(sizeof names / sizeof names[0]) ? names[rule] : NULL;
}

void rule_feedback_init(double *B_fb /* (N,O) */, int N, int O, gsl_rng *r)
{
    const double sd = 1.0 / sqrt((double)O);
    for (size_t i = 0; i < (size_t)N * O; i++)
        B_fb[i] = gsl_ran_gaussian_ziggurat(r, sd);
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

/* Learning signal of one step, all B rows: g = dy F (B,N), dy (B,O), F (O,N). */
KERNEL_SIMD_CLONES static void signal_block(int B, int N, int O, const double *restrict dy,
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
KERNEL_SIMD_CLONES static void backward_block(int act, int B, int N, int I, int O, double leak,
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
    rnn_forward(p, act, alpha, tb->x, c);
    const double loss = task_loss(tb, c->y, w->dY);
    if (isfinite(loss))
        rule_backward(rule, p, B_fb, act, alpha, tb, c, grad, w);
    return loss;
}

void rule_backward(int rule, const rnn_params *p, const double *B_fb, int act, double alpha,
                   const task_batch *tb, const rnn_cache *c, rnn_params *grad, rule_work *w)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    if (rule == RULE_READOUT) {
        memset(grad->W_in, 0, (size_t)N * I * sizeof(double));
        memset(grad->W_rec, 0, (size_t)N * N * sizeof(double));
        memset(grad->b, 0, N * sizeof(double));
        readout_grad(p, c, w, grad);
        return;
    }
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
        kernel_pack(N, N, p->W_rec, (size_t)N, 0, w->Pb);

    /* Backward in time; G[t-1] = g_t. */
    const double leak = 1.0 - alpha;
    for (int t = T; t >= 1; t--) {
        double *g = w->G + (size_t)(t - 1) * BN;
        const double *gn = t < T ? g + BN : NULL;
        const double *dY = w->dY + (size_t)(t - 1) * B * O;
        signal_block(B, N, O, dY, F, g);
        if (rule == RULE_BPTT && gn) /* g += a g_{t+1} W_rec */
            kernel_step_product(B, N, alpha, gn, p->W_rec, 0, w->Pb, g);
        backward_block(act, B, N, I, O, leak, dY, c->h + (size_t)t * BN, c->r + (size_t)t * BN, gn,
                       g, tb->x + (size_t)(t - 1) * B * I, grad->b, w->dWiT, grad->W_out,
                       grad->b_out);
        if (w->Pr && t > 1) /* dW_rec += a g_t^T r_{t-1} */
            kernel_step_outer(B, N, alpha, g, c->r + (size_t)(t - 1) * BN, w->Pr, grad->W_rec);
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
        rnn_act_deriv(act, c->h + (size_t)t * BN, c->r + (size_t)t * BN, w->G, BN); /* G: scratch */
        for (size_t i = 0; i < BN; i++)
            w->L[i] *= w->G[i];
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
    if (rule == RULE_READOUT)
        return f + 2 * tb * N * O;                    /* dW_out only */
    f += 2 * tb * N * O + 2 * tb * N * O;             /* dr, dW_out */
    f += rec + 2 * tb * N * I;                        /* dW_rec, dW_in */
    if (rule == RULE_BPTT)
        f += rec;                                     /* backward recurrence */
    return f;
}
