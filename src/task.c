/* task.c — the three cognitive tasks of SPEC §2 (romo, 2af, dms): batch
 * generation, loss, loss gradient and accuracy.
 *
 * A task_batch (task.h) is B independent trials of one task, all T steps long,
 * stored time-major: x (T,B,I), target (T,B,O) or labels (T,B), mask and
 * decide (T,B), truth (B), aux (B,3).  The element of trial b at step t is at
 * index (t*B + b)*K + k for K channels.  task_batch_alloc sizes every array
 * once; task_batch_fill rewrites all of them from the rng it is given and
 * allocates nothing, so a batch is reused across training iterations.  The
 * batch owns its arrays; task_batch_free releases them (NULL is a no-op).
 *
 * Discretisation (romo, dt = 0.5 tau): fixation 6 steps, stimulus 1 at steps
 * 6-7, delay of d steps with d = round(U(2,8) / 0.5) = nearest integer to a
 * continuous U(4,16) (so d in 4..16, P(4) = P(16) = 1/24, P(5..15) = 1/12,
 * mean 10), stimulus 2 at steps 8+d .. 9+d, decision delay 10 steps, decision
 * 20 steps at 20+d .. 39+d, then zero-padding to T = 56 (the latest decision
 * ends at step 55).  2af: fixation step 0, stimulus steps 1..20, decision
 * step 21.  dms: fixation 0..2, sample 3..7, delay 8..17, test 18..22,
 * decision 23..31.
 *
 * Draw order (fixed, so one seeded rng gives one batch): trials b = 0..B-1 in
 * turn, and within a trial
 *   romo: repeat { f1 = 0.5 + U, f2 = 0.5 + U } until |f1 - f2| >= 0.2;
 *         then u for the delay, d = floor(4 + 12 u + 0.5);
 *   2af:  gt = uniform_int(2), coherence index = uniform_int(5), then the
 *         noise z for stimulus steps t = 1..20, channel 1 before channel 2;
 *   dms:  gt = 1 + uniform_int(2), sample direction index = uniform_int(2)
 *         (0 -> 0, 1 -> pi), then noise for the sample steps and then the test
 *         steps, each step channel 1 before channel 2.
 * U is gsl_rng_uniform, z is gsl_ran_gaussian_ziggurat.  Because the draws of
 * a trial do not depend on B, the first B trials of a larger batch from the
 * same seed equal a batch of B.
 */
#include "rnnsweep/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* romo timing in steps of dt = 0.5 tau */
enum {
    ROMO_T = 56, ROMO_I = 1, ROMO_O = 2,
    ROMO_FIX = 6,        /* 3 tau */
    ROMO_STIM = 2,       /* 1 tau */
    ROMO_DELAY_MIN = 4,  /* 2 tau */
    ROMO_DELAY_SPAN = 12,/* 8 tau - 2 tau */
    ROMO_DDELAY = 10,    /* 5 tau */
    ROMO_DEC = 20        /* 10 tau */
};
/* 2af timing in steps of dt = 100 ms */
enum { TAF_T = 22, TAF_I = 3, TAF_O = 3, TAF_FIX = 1, TAF_STIM = 20 };
/* dms timing in steps of dt = 100 ms */
enum {
    DMS_T = 32, DMS_I = 3, DMS_O = 3,
    DMS_FIX = 3, DMS_SAMPLE = 5, DMS_DELAY = 10, DMS_TEST = 5, DMS_DEC = 9
};

#define ROMO_FMIN 0.5
#define ROMO_FMAX 1.5
#define ROMO_MINDIFF 0.2
#define ROMO_TARGET 0.5
#define TAF_SIGMA 0.1
#define DMS_SIGMA 0.1

static const double taf_coh[5] = {0.0, 6.4, 12.8, 25.6, 51.2};

const char *task_name(int kind)
{
    static const char *const names[] = {TASK_NAMES};
    return kind >= 0 && kind < (int)(sizeof names / sizeof names[0]) ? names[kind] : NULL;
}

/* Steps, inputs, outputs of task `kind`; returns 0, or -1 (outputs untouched)
 * if kind is unknown.  Any output pointer may be NULL. */
int task_dims(int kind, int *T, int *I, int *O)
{
    int t, i, o;
    switch (kind) {
    case TASK_ROMO: t = ROMO_T; i = ROMO_I; o = ROMO_O; break;
    case TASK_2AF:  t = TAF_T;  i = TAF_I;  o = TAF_O;  break;
    case TASK_DMS:  t = DMS_T;  i = DMS_I;  o = DMS_O;  break;
    default: return -1;
    }
    if (T) *T = t;
    if (I) *I = i;
    if (O) *O = o;
    return 0;
}

/* alpha = dt/tau: 0.5 for romo (dt = 0.5 tau) and for 2af/dms (dt = 100 ms,
 * tau = 200 ms, SPEC §2).  Returns -1.0 if kind is unknown. */
double task_default_alpha(int kind)
{
    return task_dims(kind, NULL, NULL, NULL) == 0 ? 0.5 : -1.0;
}

/* Allocate a batch of B >= 1 trials of task `kind`, arrays zeroed.  Returns
 * NULL if kind is unknown, B < 1, or memory runs out.  Caller frees with
 * task_batch_free. */
task_batch *task_batch_alloc(int kind, int B)
{
    int T, I, O;
    if (task_dims(kind, &T, &I, &O) != 0 || B < 1)
        return NULL;
    task_batch *tb = calloc(1, sizeof *tb);
    if (!tb)
        return NULL;
    size_t TB = (size_t)T * (size_t)B;
    tb->kind = kind;
    tb->T = T; tb->B = B; tb->I = I; tb->O = O;
    tb->xent = (kind != TASK_ROMO);
    tb->x = calloc(TB * (size_t)I, sizeof *tb->x);
    tb->mask = calloc(TB, sizeof *tb->mask);
    tb->decide = calloc(TB, sizeof *tb->decide);
    tb->truth = calloc((size_t)B, sizeof *tb->truth);
    tb->aux = calloc((size_t)B * 3, sizeof *tb->aux);
    if (tb->xent)
        tb->labels = calloc(TB, sizeof *tb->labels);
    else
        tb->target = calloc(TB * (size_t)O, sizeof *tb->target);
    if (!tb->x || !tb->mask || !tb->decide || !tb->truth || !tb->aux
        || (tb->xent ? !tb->labels : !tb->target)) {
        task_batch_free(tb);
        return NULL;
    }
    return tb;
}

/* Release a batch and all its arrays; NULL is a no-op. */
void task_batch_free(task_batch *tb)
{
    if (!tb)
        return;
    free(tb->x);
    free(tb->target);
    free(tb->labels);
    free(tb->mask);
    free(tb->decide);
    free(tb->truth);
    free(tb->aux);
    free(tb);
}

/* Zero every per-step array of tb (inputs, targets/labels, mask, decide). */
static void batch_clear(task_batch *tb)
{
    size_t TB = (size_t)tb->T * (size_t)tb->B;
    memset(tb->x, 0, TB * (size_t)tb->I * sizeof *tb->x);
    if (tb->target)
        memset(tb->target, 0, TB * (size_t)tb->O * sizeof *tb->target);
    if (tb->labels)
        memset(tb->labels, 0, TB * sizeof *tb->labels);
    memset(tb->mask, 0, TB * sizeof *tb->mask);
    memset(tb->decide, 0, TB * sizeof *tb->decide);
}

/* Index of (t, b) in a (T,B) array. */
static size_t tbi(const task_batch *tb, int t, int b)
{
    return (size_t)t * (size_t)tb->B + (size_t)b;
}

/* One romo trial b (draws: f1, f2 until |f1-f2| >= 0.2, then the delay).
 *   x[t] = f1 on stimulus 1, f2 on stimulus 2, 0 elsewhere      (T,B,1)
 *   target[t, c] = 0.5 on c = argmax(f1,f2) in the decision period (T,B,2)
 *   mask = 1 on [0, end of stimulus 2) and on the decision period. */
static void romo_trial(task_batch *tb, int b, gsl_rng *r)
{
    double f1, f2;
    do {
        f1 = ROMO_FMIN + (ROMO_FMAX - ROMO_FMIN) * gsl_rng_uniform(r);
        f2 = ROMO_FMIN + (ROMO_FMAX - ROMO_FMIN) * gsl_rng_uniform(r);
    } while (fabs(f1 - f2) < ROMO_MINDIFF);
    /* delay U(2,8) tau = U(4,16) steps, rounded to the nearest step */
    int d = (int)floor(ROMO_DELAY_MIN + ROMO_DELAY_SPAN * gsl_rng_uniform(r) + 0.5);
    int c = f1 > f2 ? 0 : 1;

    int s1 = ROMO_FIX;                    /* stimulus 1: [s1, s1+STIM) */
    int s2 = s1 + ROMO_STIM + d;          /* stimulus 2: [s2, s2+STIM) */
    int d0 = s2 + ROMO_STIM + ROMO_DDELAY;/* decision:   [d0, d0+DEC)  */
    for (int t = 0; t < tb->T; t++) {
        size_t i = tbi(tb, t, b);
        if (t >= s1 && t < s1 + ROMO_STIM)
            tb->x[i] = f1;
        else if (t >= s2 && t < s2 + ROMO_STIM)
            tb->x[i] = f2;
        int dec = (t >= d0 && t < d0 + ROMO_DEC);
        tb->mask[i] = (t < s2 + ROMO_STIM || dec) ? 1.0 : 0.0;
        tb->decide[i] = dec;
        if (dec)
            tb->target[i * ROMO_O + (size_t)c] = ROMO_TARGET;
    }
    tb->truth[b] = c;
    tb->aux[3 * (size_t)b + 0] = f1;
    tb->aux[3 * (size_t)b + 1] = f2;
    tb->aux[3 * (size_t)b + 2] = d;
}

/* Write stimulus channels 1, 2 of trial b for steps [t0, t1):
 *   x[t, k] = cos(theta_k - dir) * amp + 0.5 + sigma z,  theta = (0, pi),
 * drawing z step by step, channel 1 before channel 2. */
static void stim_fill(task_batch *tb, int b, int t0, int t1, double dir,
                      double amp, double sigma, gsl_rng *r)
{
    static const double theta[2] = {0.0, M_PI};
    for (int t = t0; t < t1; t++) {
        double *xt = tb->x + tbi(tb, t, b) * (size_t)tb->I;
        for (int k = 0; k < 2; k++)
            xt[1 + k] = cos(theta[k] - dir) * amp + 0.5
                        + gsl_ran_gaussian_ziggurat(r, sigma);
    }
}

/* Fixation channel 0 = 1 on steps [0, t1) of trial b. */
static void fix_fill(task_batch *tb, int b, int t1)
{
    for (int t = 0; t < t1; t++)
        tb->x[tbi(tb, t, b) * (size_t)tb->I] = 1.0;
}

/* One 2af trial b (draws: gt, coherence, stimulus noise).  Labels 0 except
 * 1 + gt at the decision step T-1; mask all ones. */
static void taf_trial(task_batch *tb, int b, gsl_rng *r)
{
    int gt = (int)gsl_rng_uniform_int(r, 2);
    double coh = taf_coh[gsl_rng_uniform_int(r, 5)];
    int dec = TAF_FIX + TAF_STIM;  /* = T-1 */
    fix_fill(tb, b, dec);
    stim_fill(tb, b, TAF_FIX, dec, gt ? M_PI : 0.0, coh / 200.0, TAF_SIGMA, r);
    for (int t = 0; t < tb->T; t++)
        tb->mask[tbi(tb, t, b)] = 1.0;
    tb->labels[tbi(tb, dec, b)] = 1 + gt;
    tb->decide[tbi(tb, dec, b)] = 1;
    tb->truth[b] = gt;
    tb->aux[3 * (size_t)b + 0] = coh;
    tb->aux[3 * (size_t)b + 1] = gt;
    tb->aux[3 * (size_t)b + 2] = 0.0;
}

/* One dms trial b (draws: gt, sample direction, sample noise, test noise).
 * Labels gt (1 match, 2 non-match) in the decision period, 0 elsewhere. */
static void dms_trial(task_batch *tb, int b, gsl_rng *r)
{
    int gt = 1 + (int)gsl_rng_uniform_int(r, 2);
    double sample = gsl_rng_uniform_int(r, 2) ? M_PI : 0.0;
    double test = gt == 1 ? sample : sample + M_PI;
    int s0 = DMS_FIX, t0 = s0 + DMS_SAMPLE + DMS_DELAY, d0 = t0 + DMS_TEST;
    fix_fill(tb, b, d0);
    stim_fill(tb, b, s0, s0 + DMS_SAMPLE, sample, 0.5, DMS_SIGMA, r);
    stim_fill(tb, b, t0, t0 + DMS_TEST, test, 0.5, DMS_SIGMA, r);
    for (int t = 0; t < tb->T; t++) {
        size_t i = tbi(tb, t, b);
        tb->mask[i] = 1.0;
        if (t >= d0) {
            tb->labels[i] = gt;
            tb->decide[i] = 1;
        }
    }
    tb->truth[b] = gt;
    tb->aux[3 * (size_t)b + 0] = sample;
    tb->aux[3 * (size_t)b + 1] = gt;
    tb->aux[3 * (size_t)b + 2] = 0.0;
}

/* Overwrite every array of tb with B fresh trials drawn from r in the order
 * documented above.  Allocates nothing.  Returns 0, or -1 if tb or r is NULL
 * or tb->kind is unknown. */
int task_batch_fill(task_batch *tb, gsl_rng *r)
{
    if (!tb || !r)
        return -1;
    void (*trial)(task_batch *, int, gsl_rng *);
    switch (tb->kind) {
    case TASK_ROMO: trial = romo_trial; break;
    case TASK_2AF:  trial = taf_trial;  break;
    case TASK_DMS:  trial = dms_trial;  break;
    default: return -1;
    }
    batch_clear(tb);
    for (int b = 0; b < tb->B; b++)
        trial(tb, b, r);
    return 0;
}

/* Masked MSE over y, target (T,B,O), mask m (T,B):
 *   L = sum_{t,b} m_tb ||y_tb - target_tb||^2 / (2 M),  M = sum m,
 *   dy = m_tb (y_tb - target_tb) / M.
 * M = 0 gives L = 0 and dy = 0. */
static double mse_loss(const task_batch *tb, const double *y, double *dy)
{
    size_t TB = (size_t)tb->T * (size_t)tb->B, O = (size_t)tb->O;
    double M = 0.0, L = 0.0;
    for (size_t i = 0; i < TB; i++)
        M += tb->mask[i];
    double inv = M > 0.0 ? 1.0 / M : 0.0;
    for (size_t i = 0; i < TB; i++) {
        double m = tb->mask[i];
        for (size_t o = 0; o < O; o++) {
            double e = y[i * O + o] - tb->target[i * O + o];
            L += m * e * e;
            if (dy)
                dy[i * O + o] = m * e * inv;
        }
    }
    return 0.5 * L * inv;
}

/* Mean cross-entropy of logits y (T,B,O) against labels (T,B), weighted by
 * the mask (all ones for these tasks, so M = T*B and this is the plain mean):
 *   L = sum_{t,b} m_tb (lse(y_tb) - y_tb[l_tb]) / M,
 *   dy = m_tb (softmax(y_tb) - onehot(l_tb)) / M,
 * with lse(v) = max v + log sum exp(v - max v) (no overflow). */
static double xent_loss(const task_batch *tb, const double *y, double *dy)
{
    size_t TB = (size_t)tb->T * (size_t)tb->B, O = (size_t)tb->O;
    double M = 0.0, L = 0.0;
    for (size_t i = 0; i < TB; i++)
        M += tb->mask[i];
    double inv = M > 0.0 ? 1.0 / M : 0.0;
    for (size_t i = 0; i < TB; i++) {
        const double *yi = y + i * O;
        double m = tb->mask[i], mx = yi[0], s = 0.0;
        size_t l = (size_t)tb->labels[i];
        for (size_t o = 1; o < O; o++)
            if (yi[o] > mx)
                mx = yi[o];
        for (size_t o = 0; o < O; o++)
            s += exp(yi[o] - mx);
        L += m * (mx + log(s) - yi[l]);
        if (dy)
            for (size_t o = 0; o < O; o++)
                dy[i * O + o] = m * inv * (exp(yi[o] - mx) / s - (o == l ? 1.0 : 0.0));
    }
    return L * inv;
}

/* Loss of outputs y (T,B,O) on batch tb (masked MSE for romo, mean
 * cross-entropy for 2af/dms); dy (T,B,O), if not NULL, receives dL/dy.
 * Allocates nothing.  Returns NaN if tb or y is NULL. */
double task_loss(const task_batch *tb, const double *y, double *dy)
{
    if (!tb || !y)
        return NAN;
    return tb->xent ? xent_loss(tb, y, dy) : mse_loss(tb, y, dy);
}

/* Index of the largest of v[0..n-1] (first one on ties). */
static int argmax(const double *v, int n)
{
    int k = 0;
    for (int o = 1; o < n; o++)
        if (v[o] > v[k])
            k = o;
    return k;
}

/* Number of the B trials answered correctly, outputs y (T,B,O):
 *   romo: the sum (equivalently the mean) of y over the trial's decision
 *         steps is strictly larger on channel truth than on the other;
 *   2af, dms: argmax of y at the last step equals the label there.
 * Allocates nothing.  0 if tb or y is NULL (task_accuracy: NaN). */
int task_correct(const task_batch *tb, const double *y)
{
    if (!tb || !y)
        return 0;
    size_t O = (size_t)tb->O;
    int correct = 0;
    for (int b = 0; b < tb->B; b++) {
        if (tb->xent) {
            size_t i = tbi(tb, tb->T - 1, b);
            correct += argmax(y + i * O, tb->O) == (int)tb->labels[i];
        } else {
            int c = tb->truth[b];
            double diff = 0.0;
            for (int t = 0; t < tb->T; t++) {
                size_t i = tbi(tb, t, b);
                if (tb->decide[i])
                    diff += y[i * O + (size_t)c] - y[i * O + (size_t)(1 - c)];
            }
            correct += diff > 0.0;
        }
    }
    return correct;
}

double task_accuracy(const task_batch *tb, const double *y)
{
    if (!tb || !y)
        return NAN;
    return (double)task_correct(tb, y) / tb->B;
}

void task_loss_sums(const task_batch *tb, const double *y, double *sum, double *weight)
{
    size_t TB = (size_t)tb->T * (size_t)tb->B;
    double M = 0.0;
    for (size_t i = 0; i < TB; i++)
        M += tb->mask[i];
    /* The loss functions divide by M once; multiplying back is exact up to
     * one rounding, and the chunks' sums then add. */
    *weight = M;
    *sum = M > 0.0 ? task_loss(tb, y, NULL) * M : 0.0;
}
