/* rule.c — BPTT, e-prop and RFLO gradients of the task loss for one batch.
 *
 * With g_t = dL/dh_t (B,N) and D_t = f'(h_t), the exact recursion is
 *
 *   g_T     = D_T o dr_T,                       dr_t = dL/dy_t W_out   (B,N)
 *   g_{t-1} = D_{t-1} o dr_{t-1} + (1-a) g_t + D_{t-1} o (a g_t W_rec)
 *
 * and e-prop/RFLO drop the last term (dL/dh_t reaches h_{t-1} only through
 * the leak); RFLO replaces W_out in dr_t by B_fb^T.  Then, with U = a G stacked
 * over all steps (T*B,N), every weight gradient is one dgemm:
 *
 *   dW_rec = U^T R_{0..T-1},  dW_in = U^T X,  db = colsum U,
 *   dW_out = dY^T R_{1..T},   db_out = colsum dY.
 *
 * The workspace holds G (T,B,N), dY (T,B,O) and one (B,N) row block; the
 * e-prop online form keeps its traces in the same workspace.
 */
#include "rnnsweep/rule.h"
#include "rnnsweep/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

struct rule_work {
    int T, B, N, I, O;
    double *G;   /* (T,B,N) dL/dh_t, t = 1..T */
    double *dY;  /* (T,B,O) dL/dy_t */
    double *tmp; /* (B,N) */
    double *p;   /* (B,N) online trace of W_rec */
    double *q;   /* (B,I) online trace of W_in */
    double *L;   /* (B,N) online learning signal */
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
    w->tmp = malloc((size_t)B * N * sizeof(double));
    w->p = malloc((size_t)B * N * sizeof(double));
    w->q = malloc((size_t)B * I * sizeof(double));
    w->L = malloc((size_t)B * N * sizeof(double));
    if (!w->G || !w->dY || !w->tmp || !w->p || !w->q || !w->L) {
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
    free(w->tmp);
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

double rule_gradient(int rule, const rnn_params *p, const double *B_fb,
                     int act, double alpha, const task_batch *tb,
                     rnn_cache *c, rnn_params *grad, rule_work *w)
{
    const int T = c->T, B = c->B, N = p->N, I = p->I, O = p->O;
    const size_t BN = (size_t)B * N;
    rnn_forward(p, act, alpha, tb->x, c);
    const double loss = task_loss(tb, c->y, w->dY);
    if (!isfinite(loss))
        return loss;
    readout_grad(p, c, w, grad);

    /* G_t = D_t o dr_t for all t: dr = dY W_out (T*B,O)x(O,N), or dY B_fb^T for rflo. */
    if (rule == RULE_RFLO)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, N, O,
                    1.0, w->dY, O, B_fb, O, 0.0, w->G, N);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T * B, N, O,
                    1.0, w->dY, O, p->W_out, N, 0.0, w->G, N);
    mul_deriv(act, c->h + BN, c->r + BN, w->G, (size_t)T * BN);

    /* Backward in time: G_{t-1} += (1-a) G_t [+ D_{t-1} o (a G_t W_rec) for bptt]. */
    const double leak = 1.0 - alpha;
    for (int t = T; t >= 2; t--) {
        const double *g = w->G + (size_t)(t - 1) * BN; /* g_t */
        double *gp = w->G + (size_t)(t - 2) * BN;      /* g_{t-1} */
        if (rule == RULE_BPTT) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, N,
                        alpha, g, N, p->W_rec, N, 0.0, w->tmp, N);
            mul_deriv(act, c->h + (size_t)(t - 1) * BN, c->r + (size_t)(t - 1) * BN, w->tmp, BN);
            for (size_t i = 0; i < BN; i++)
                gp[i] += leak * g[i] + w->tmp[i];
        } else {
            for (size_t i = 0; i < BN; i++)
                gp[i] += leak * g[i];
        }
    }

    /* Weight gradients from U = a G: dW_rec = U^T R_{0..T-1}, dW_in = U^T X, db = colsum U. */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, T * B,
                alpha, w->G, N, c->r, N, 0.0, grad->W_rec, N);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, I, T * B,
                alpha, w->G, N, tb->x, I, 0.0, grad->W_in, I);
    memset(grad->b, 0, N * sizeof(double));
    for (size_t row = 0; row < (size_t)T * B; row++) {
        const double *g = w->G + row * N;
        for (int i = 0; i < N; i++)
            grad->b[i] += alpha * g[i];
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

double rule_flops(int rule, int T, int B, int N, int I, int O)
{
    const double tb = (double)T * B;
    double f = 2 * tb * N * I + 2 * tb * N * N + 2 * tb * N * O; /* forward */
    f += 2 * tb * N * O + 2 * tb * N * O;                         /* dr, dW_out */
    f += 2 * tb * N * N + 2 * tb * N * I;                         /* dW_rec, dW_in */
    if (rule == RULE_BPTT)
        f += 2.0 * (T - 1) * B * N * N;                          /* backward recurrence */
    return f;
}
