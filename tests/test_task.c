/* test_task.c — checks of the three tasks (src/task.c) against SPEC §2.
 *
 * Every trial of a large batch is compared exactly with the timing the spec
 * prescribes (rebuilt here from the trial's recorded draws in aux); the
 * random parts are compared statistically with their distributions, with
 * tolerances of 5 standard errors of the estimate at the sample size used;
 * task_loss's dy is compared with central finite differences of task_loss,
 * and the loss and accuracy with closed forms.  Each check prints what it
 * checked and its worst deviation; the program exits 1 if any check fails.
 */
#include "rnnsweep/task.h"
#include "rnnsweep/config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include "check.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define NSE 5.0  /* tolerance of statistical checks, in standard errors */

/* Record one check of a task: check.h's check, the task named first
 * (passes iff worst <= tol; NaN fails). */
static void report(const char *task, const char *what, double worst, double tol)
{
    char line[160];
    snprintf(line, sizeof line, "%-5s %s", task, what);
    check(line, worst, tol);
}

/* Index of (t, b, k) in a (T,B,K) array. */
static size_t ix(int t, int b, int k, int B, int K)
{
    return ((size_t)t * (size_t)B + (size_t)b) * (size_t)K + (size_t)k;
}

static gsl_rng *rng_new(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        gsl_rng_set(r, seed);
    return r;
}

/* A filled batch of B trials of `kind` from seed; NULL on failure. */
static task_batch *batch_new(int kind, int B, unsigned long seed)
{
    task_batch *tb = task_batch_alloc(kind, B);
    gsl_rng *r = rng_new(seed);
    if (!tb || !r || task_batch_fill(tb, r) != 0) {
        task_batch_free(tb);
        tb = NULL;
    }
    gsl_rng_free(r);
    return tb;
}

/* |z| of an observed count n of N against probability p. */
static double count_z(double n, double N, double p)
{
    return fabs(n - N * p) / sqrt(N * p * (1.0 - p));
}

/* Running moments of residuals expected to have mean 0. */
typedef struct { double n, s1, s2, s4; } moments;

static void mom_add(moments *m, double r)
{
    m->n += 1;
    m->s1 += r;
    m->s2 += r * r;
    m->s4 += r * r * r * r;
}

/* |z| of the mean of m against 0, using the sample sd. */
static double mom_meanz(const moments *m)
{
    double mean = m->s1 / m->n, var = m->s2 / m->n - mean * mean;
    return fabs(mean) / sqrt(var / m->n);
}

/* Check pooled residual sd == sigma (SE sigma/sqrt(2n)) and kurtosis == 3
 * (SE sqrt(24/n)): Gaussian noise of the right size. */
static void noise_checks(const char *task, const moments *m, double sigma)
{
    double sd = sqrt(m->s2 / m->n);
    report(task, "noise sd == 0.1 (pooled residual sd)", fabs(sd - sigma),
           NSE * sigma / sqrt(2 * m->n));
    double kurt = (m->s4 / m->n) / (sd * sd * sd * sd);
    report(task, "noise kurtosis == 3 (Gaussian)", fabs(kurt - 3.0), NSE * sqrt(24.0 / m->n));
}

/* ---------------------------------------------------------------- all tasks */

/* Largest |a - b| over two batches' arrays (inf if shapes differ). */
static double batch_diff(const task_batch *a, const task_batch *b)
{
    if (a->T != b->T || a->B != b->B || a->I != b->I || a->O != b->O || a->xent != b->xent)
        return INFINITY;
    size_t TB = (size_t)a->T * (size_t)a->B, w = 0;
    double d = 0;
    for (size_t i = 0; i < TB * (size_t)a->I; i++)
        d = fmax(d, fabs(a->x[i] - b->x[i]));
    for (size_t i = 0; i < TB; i++) {
        d = fmax(d, fabs(a->mask[i] - b->mask[i]));
        d = fmax(d, abs(a->decide[i] - b->decide[i]));
        if (a->xent)
            d = fmax(d, labs(a->labels[i] - b->labels[i]));
    }
    if (!a->xent)
        for (size_t i = 0; i < TB * (size_t)a->O; i++)
            d = fmax(d, fabs(a->target[i] - b->target[i]));
    for (w = 0; w < (size_t)a->B; w++) {
        d = fmax(d, abs(a->truth[w] - b->truth[w]));
        for (int k = 0; k < 3; k++)
            d = fmax(d, fabs(a->aux[3 * w + k] - b->aux[3 * w + k]));
    }
    return d;
}

/* Largest difference between trial b of `a` and trial b of `big` (b < a->B). */
static double prefix_diff(const task_batch *a, const task_batch *big)
{
    double d = 0;
    for (int b = 0; b < a->B; b++) {
        for (int t = 0; t < a->T; t++) {
            for (int k = 0; k < a->I; k++)
                d = fmax(d, fabs(a->x[ix(t, b, k, a->B, a->I)] - big->x[ix(t, b, k, big->B, a->I)]));
            d = fmax(d, fabs(a->mask[ix(t, b, 0, a->B, 1)] - big->mask[ix(t, b, 0, big->B, 1)]));
            if (a->xent)
                d = fmax(d, labs(a->labels[ix(t, b, 0, a->B, 1)] - big->labels[ix(t, b, 0, big->B, 1)]));
            else
                for (int o = 0; o < a->O; o++)
                    d = fmax(d, fabs(a->target[ix(t, b, o, a->B, a->O)] - big->target[ix(t, b, o, big->B, a->O)]));
        }
        for (int k = 0; k < 3; k++)
            d = fmax(d, fabs(a->aux[3 * b + k] - big->aux[3 * b + k]));
    }
    return d;
}

/* Same seed -> identical batch; different seed -> different inputs; a refill
 * overwrites everything; trials do not depend on B (prefix property). */
static void check_reproducible(const char *name, int kind)
{
    task_batch *a = batch_new(kind, 50, 11), *b = batch_new(kind, 50, 11);
    task_batch *c = batch_new(kind, 50, 12), *big = batch_new(kind, 120, 11);
    gsl_rng *r1 = rng_new(11);
    if (!a || !b || !c || !big || !r1) {
        report(name, "allocation", INFINITY, 0);
        goto done;
    }
    report(name, "same seed -> identical batch (max |diff|)", batch_diff(a, b), 0.0);
    /* nonzero inputs other than fixation come from continuous draws (romo
     * f1/f2, 2af/dms noise), so a different seed must change every one */
    size_t same = 0, drawn = 0, n = (size_t)a->T * a->B * a->I;
    for (size_t i = 0; i < n; i++)
        if (a->x[i] != 0 && a->x[i] != 1) {
            drawn++;
            same += a->x[i] == c->x[i];
        }
    report(name, "different seed -> every drawn input differs (count equal)",
           drawn ? (double)same : INFINITY, 0.0);
    /* c was filled from seed 12; refill from seed 11 must equal a */
    task_batch_fill(c, r1);
    report(name, "refill overwrites every array (max |diff| vs fresh)", batch_diff(a, c), 0.0);
    report(name, "trials independent of B (first 50 of 120 == batch of 50)", prefix_diff(a, big), 0.0);
done:
    gsl_rng_free(r1);
    task_batch_free(a);
    task_batch_free(b);
    task_batch_free(c);
    task_batch_free(big);
}

/* dy of task_loss against central differences of task_loss:
 * max_i |fd_i - dy_i| / max_i |dy_i|.  y random N(0, ysd). */
static void check_gradient(const char *name, int kind, double ysd)
{
    task_batch *tb = batch_new(kind, 8, 21);
    gsl_rng *r = rng_new(22);
    size_t n = tb ? (size_t)tb->T * tb->B * tb->O : 0;
    double *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy);
    if (!tb || !r || !y || !dy) {
        report(name, "allocation", INFINITY, 0);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        y[i] = gsl_ran_gaussian(r, ysd);
    double L = task_loss(tb, y, dy), L0 = task_loss(tb, y, NULL);
    report(name, "task_loss with dy == without dy", fabs(L - L0), 0.0);
    const double h = 1e-5;
    double err = 0, gmax = 0;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i];
        y[i] = yi + h;
        double Lp = task_loss(tb, y, NULL);
        y[i] = yi - h;
        double Lm = task_loss(tb, y, NULL);
        y[i] = yi;
        err = fmax(err, fabs((Lp - Lm) / (2 * h) - dy[i]));
        gmax = fmax(gmax, fabs(dy[i]));
    }
    char what[96];
    snprintf(what, sizeof what, "dy vs central differences (%zu entries, max-norm rel)", n);
    report(name, what, gmax > 0 ? err / gmax : INFINITY, 1e-7);
done:
    free(y);
    free(dy);
    gsl_rng_free(r);
    task_batch_free(tb);
}

static void check_dims(void)
{
    int T, I, O;
    const int want[3][3] = {{56, 1, 2}, {22, 3, 3}, {32, 3, 3}};
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        if (task_dims(k, &T, &I, &O) != 0) {
            worst = INFINITY;
            continue;
        }
        worst = fmax(worst, abs(T - want[k][0]) + abs(I - want[k][1]) + abs(O - want[k][2]));
        worst = fmax(worst, fabs(task_default_alpha(k) - 0.5));
        task_batch *tb = task_batch_alloc(k, 3);
        if (!tb || tb->T != T || tb->I != I || tb->O != O || tb->B != 3 || tb->xent != (k != TASK_ROMO)
            || (tb->xent ? (!tb->labels || tb->target) : (tb->labels || !tb->target)))
            worst = INFINITY;
        task_batch_free(tb);
    }
    report("all", "task_dims (56,1,2) (22,3,3) (32,3,3), alpha 0.5, alloc shapes", worst, 0);
    int bad = (task_dims(7, &T, &I, &O) != -1) + (task_batch_alloc(7, 4) != NULL)
              + (task_batch_alloc(TASK_ROMO, 0) != NULL) + (task_default_alpha(7) > 0);
    task_batch_free(NULL);
    report("all", "unknown kind / B=0 rejected, free(NULL) ok (count bad)", bad, 0);
}

/* --------------------------------------------------------------------- romo */

/* Expected romo trial from its draws: stimulus 1 at steps 6-7, stimulus 2 at
 * 8+d..9+d, decision at 20+d..39+d, mask on [0, 10+d) and the decision. */
static void check_romo_structure(const task_batch *tb)
{
    int B = tb->B;
    double worst = 0, worst_d = 0, worst_f = 0, worst_truth = 0;
    double mindiff = INFINITY, lastdec = 0;
    for (int b = 0; b < B; b++) {
        double f1 = tb->aux[3 * b], f2 = tb->aux[3 * b + 1], dd = tb->aux[3 * b + 2];
        int d = (int)dd;
        if (dd != d || d < 4 || d > 16) {
            worst_d = fmax(worst_d, fmax(fabs(dd - d), fmax(4 - dd, dd - 16)));
            d = d < 4 ? 4 : d > 16 ? 16 : d;
        }
        worst_f = fmax(worst_f, fmax(0.5 - fmin(f1, f2), fmax(f1, f2) - 1.5));
        mindiff = fmin(mindiff, fabs(f1 - f2));
        int c = f1 > f2 ? 0 : 1;
        worst_truth = fmax(worst_truth, abs(tb->truth[b] - c));
        lastdec = fmax(lastdec, 39 + d);
        for (int t = 0; t < tb->T; t++) {
            double x = (t == 6 || t == 7) ? f1 : (t == 8 + d || t == 9 + d) ? f2 : 0.0;
            int dec = t >= 20 + d && t < 40 + d;
            double m = (t < 10 + d || dec) ? 1.0 : 0.0;
            worst = fmax(worst, fabs(tb->x[ix(t, b, 0, B, 1)] - x));
            worst = fmax(worst, fabs(tb->mask[ix(t, b, 0, B, 1)] - m));
            worst = fmax(worst, abs(tb->decide[ix(t, b, 0, B, 1)] - dec));
            for (int o = 0; o < 2; o++)
                worst = fmax(worst, fabs(tb->target[ix(t, b, o, B, 2)] - (dec && o == c ? 0.5 : 0.0)));
        }
    }
    report("romo", "delay steps integer in 4..16 (excursion)", worst_d, 0);
    report("romo", "f1, f2 in [0.5, 1.5] (excursion)", worst_f, 0);
    report("romo", "min |f1-f2| >= 0.2 (shortfall)", fmax(0.0, 0.2 - mindiff), 0);
    report("romo", "min |f1-f2| near 0.2, no over-rejection (min - 0.2)", mindiff - 0.2, 0.01);
    report("romo", "truth == argmax(f1, f2) (max |diff|)", worst_truth, 0);
    report("romo", "x, target, mask, decide == spec timing, every step (max |diff|)", worst, 0);
    report("romo", "latest decision step <= 55 (excess)", lastdec - 55, 0);
}

/* Delay distribution (round of U(4,16)), f1 mean, |f1-f2| mean, balance. */
static void check_romo_stats(const task_batch *tb)
{
    int B = tb->B;
    double hist[17] = {0}, s = 0, s2 = 0, f = 0, ff = 0, a = 0, aa = 0, c0 = 0;
    for (int b = 0; b < B; b++) {
        double f1 = tb->aux[3 * b], f2 = tb->aux[3 * b + 1];
        int d = (int)tb->aux[3 * b + 2];
        if (d >= 0 && d <= 16)
            hist[d]++;
        s += d;
        s2 += (double)d * d;
        f += f1;
        ff += f1 * f1;
        a += fabs(f1 - f2);
        aa += (f1 - f2) * (f1 - f2);
        c0 += tb->truth[b] == 0;
    }
    double zmax = 0;
    for (int d = 0; d <= 16; d++) {
        double p = d < 4 ? 0 : (d == 4 || d == 16) ? 1.0 / 24 : 1.0 / 12;
        zmax = fmax(zmax, p > 0 ? count_z(hist[d], B, p) : hist[d]);
    }
    char what[96];
    snprintf(what, sizeof what, "delay histogram P(4)=P(16)=1/24, else 1/12 (max |z|, B=%d)", B);
    report("romo", what, zmax, NSE);
    double m = s / B, sd = sqrt(s2 / B - m * m);
    report("romo", "delay mean == 10 steps (|mean - 10| in SE)", fabs(m - 10) / (sd / sqrt(B)), NSE);
    printf("     romo delay: mean %.4f sd %.4f (exact 10, %.4f); P(4)=%.4f P(16)=%.4f (exact %.4f)\n",
           m, sd, sqrt(73.0 / 6), hist[4] / B, hist[16] / B, 1.0 / 24);
    m = f / B; sd = sqrt(ff / B - m * m);
    report("romo", "f1 mean == 1 (symmetry; |mean - 1| in SE)", fabs(m - 1) / (sd / sqrt(B)), NSE);
    m = a / B; sd = sqrt(aa / B - m * m);
    report("romo", "mean |f1-f2| == 7/15 (rejection region; in SE)", fabs(m - 7.0 / 15) / (sd / sqrt(B)), NSE);
    report("romo", "truth balanced P(f1>f2) = 1/2 (|z|)", count_z(c0, B, 0.5), NSE);
}

/* Closed forms of the masked MSE and the decision-period accuracy. */
static void check_romo_loss(task_batch *tb)
{
    size_t n = (size_t)tb->T * tb->B * 2;
    double *y = malloc(n * sizeof *y);
    if (!y) {
        report("romo", "allocation", INFINITY, 0);
        return;
    }
    /* perfect output, garbage where the mask is 0 */
    for (size_t i = 0; i < n; i++)
        y[i] = tb->mask[i / 2] > 0 ? tb->target[i] : 7.0;
    report("romo", "loss of target (garbage where mask=0) == 0", fabs(task_loss(tb, y, NULL)), 0);
    report("romo", "accuracy of target == 1", fabs(task_accuracy(tb, y) - 1), 0);
    /* constant error c on both channels: L = 2 c^2 / 2 = c^2 */
    for (size_t i = 0; i < n; i++)
        y[i] = tb->target[i] + 0.3;
    /* tolerance: rounding bound of a recursive sum of n terms, n eps */
    report("romo", "loss of target + 0.3 == 0.09 (rel, tol n eps)",
           fabs(task_loss(tb, y, NULL) / 0.09 - 1), (double)n * DBL_EPSILON);
    /* channels swapped */
    for (size_t i = 0; i < n; i += 2) {
        y[i] = tb->target[i + 1];
        y[i + 1] = tb->target[i];
    }
    report("romo", "accuracy of swapped target == 0", task_accuracy(tb, y), 0);
    /* equal channels are no answer */
    memset(y, 0, n * sizeof *y);
    report("romo", "accuracy of y = 0 (tie) == 0", task_accuracy(tb, y), 0);
    /* a large wrong output outside the decision period must not count */
    for (size_t i = 0; i < n; i++) {
        int dec = tb->decide[i / 2];
        y[i] = dec ? tb->target[i] : (i % 2 == (size_t)(1 - tb->truth[(i / 2) % tb->B]) ? 100.0 : 0.0);
    }
    report("romo", "accuracy uses decision period only (== 1)", fabs(task_accuracy(tb, y) - 1), 0);
    free(y);
}

static void check_romo(void)
{
    task_batch *tb = batch_new(TASK_ROMO, 4000, 1);
    if (!tb) {
        report("romo", "allocation", INFINITY, 0);
        return;
    }
    check_romo_structure(tb);
    check_romo_stats(tb);
    check_romo_loss(tb);
    task_batch_free(tb);
}

/* ---------------------------------------------------------------- 2af / dms */

/* Labels at the last step set to the label (perfect) or to the other choice
 * 3 - label (opposite); accuracy must be 1 and 0. */
static void check_xent_accuracy(const char *name, const task_batch *tb)
{
    size_t n = (size_t)tb->T * tb->B * tb->O;
    double *y = calloc(n, sizeof *y);
    if (!y) {
        report(name, "allocation", INFINITY, 0);
        return;
    }
    for (int t = 0; t < tb->T; t++)
        for (int b = 0; b < tb->B; b++)
            y[ix(t, b, (int)tb->labels[ix(t, b, 0, tb->B, 1)], tb->B, tb->O)] = 1.0;
    report(name, "accuracy of one-hot labels == 1", fabs(task_accuracy(tb, y) - 1), 0);
    memset(y, 0, n * sizeof *y);
    for (int t = 0; t < tb->T; t++)
        for (int b = 0; b < tb->B; b++) {
            long l = tb->labels[ix(t, b, 0, tb->B, 1)];
            y[ix(t, b, t == tb->T - 1 ? (int)(3 - l) : (int)l, tb->B, tb->O)] = 1.0;
        }
    report(name, "accuracy of the other choice at the last step == 0", task_accuracy(tb, y), 0);
    /* the last step decides alone: wrong everywhere else, right at the end */
    memset(y, 0, n * sizeof *y);
    for (int t = 0; t < tb->T; t++)
        for (int b = 0; b < tb->B; b++) {
            long l = tb->labels[ix(t, b, 0, tb->B, 1)];
            y[ix(t, b, t == tb->T - 1 ? (int)l : (int)((l + 1) % 3), tb->B, tb->O)] = 1.0;
        }
    report(name, "accuracy uses the last step only (== 1)", fabs(task_accuracy(tb, y) - 1), 0);
    free(y);
}

/* Closed forms and stability of the cross-entropy. */
static void check_xent_loss(const char *name, const task_batch *tb)
{
    size_t n = (size_t)tb->T * tb->B * tb->O;
    double *y = calloc(n, sizeof *y), *y2 = malloc(n * sizeof *y2);
    gsl_rng *r = rng_new(5);
    if (!y || !y2 || !r) {
        report(name, "allocation", INFINITY, 0);
        goto done;
    }
    /* tolerances of exact values: recursive-sum rounding bound, T*B eps */
    double tol = (double)tb->T * tb->B * DBL_EPSILON;
    report(name, "loss of y = 0 == log 3 (rel, tol T*B eps)", fabs(task_loss(tb, y, NULL) / log(3.0) - 1), tol);
    for (int t = 0; t < tb->T; t++)
        for (int b = 0; b < tb->B; b++)
            y[ix(t, b, (int)tb->labels[ix(t, b, 0, tb->B, 1)], tb->B, tb->O)] = 800.0;
    double L = task_loss(tb, y, NULL);
    report(name, "loss of +800 logit on label == 0 (no overflow)", isfinite(L) ? fabs(L) : INFINITY, 0);
    for (size_t i = 0; i < n; i++)
        y[i] = -y[i];
    L = task_loss(tb, y, NULL);
    report(name, "loss of -800 logit on label == 800 + log 2 (rel, tol T*B eps)",
           isfinite(L) ? fabs(L / (800 + log(2.0)) - 1) : INFINITY, tol);
    for (size_t i = 0; i < n; i++) {
        y[i] = gsl_ran_gaussian(r, 2.0);
        y2[i] = y[i] + 1000.0;
    }
    L = task_loss(tb, y, NULL);
    double L2 = task_loss(tb, y2, NULL);
    report(name, "loss invariant to a +1000 logit shift (rel)", isfinite(L2) ? fabs(L2 / L - 1) : INFINITY, 1e-11);
done:
    gsl_rng_free(r);
    free(y);
    free(y2);
}

/* Per-trial timing of 2af, and noise/mean statistics per (coh, gt, channel). */
static void check_2af(void)
{
    static const double coh[5] = {0, 6.4, 12.8, 25.6, 51.2};
    const int B = 10000, T = 22, I = 3;
    task_batch *tb = batch_new(TASK_2AF, B, 2);
    if (!tb) {
        report("2af", "allocation", INFINITY, 0);
        return;
    }
    double worst = 0, worst_aux = 0, ngt = 0, ncoh[5] = {0};
    moments cell[5][2][2] = {{{{0}}}}, all = {0};
    double cross = 0, lag = 0, nlag = 0;
    for (int b = 0; b < B; b++) {
        int gt = tb->truth[b], ci = -1;
        for (int c = 0; c < 5; c++)
            if (tb->aux[3 * b] == coh[c])
                ci = c;
        if (ci < 0 || (gt != 0 && gt != 1) || tb->aux[3 * b + 1] != gt || tb->aux[3 * b + 2] != 0) {
            worst_aux = INFINITY;
            continue;
        }
        ngt += gt;
        ncoh[ci]++;
        double prev[2] = {0, 0};
        for (int t = 0; t < T; t++) {
            const double *x = tb->x + ix(t, b, 0, B, I);
            int stim = t >= 1 && t <= 20;
            worst = fmax(worst, fabs(x[0] - (t < 21 ? 1.0 : 0.0)));
            worst = fmax(worst, fabs(tb->mask[ix(t, b, 0, B, 1)] - 1.0));
            worst = fmax(worst, abs(tb->decide[ix(t, b, 0, B, 1)] - (t == 21)));
            worst = fmax(worst, labs(tb->labels[ix(t, b, 0, B, 1)] - (t == 21 ? 1 + gt : 0)));
            if (!stim) {
                worst = fmax(worst, fmax(fabs(x[1]), fabs(x[2])));
                continue;
            }
            double res[2];
            for (int k = 0; k < 2; k++) {
                double mu = cos(k * M_PI - gt * M_PI) * coh[ci] / 200 + 0.5;
                res[k] = x[1 + k] - mu;
                mom_add(&cell[ci][gt][k], res[k]);
                mom_add(&all, res[k]);
                if (t > 1) {
                    lag += res[k] * prev[k];
                    nlag++;
                }
                prev[k] = res[k];
            }
            cross += res[0] * res[1];
        }
    }
    report("2af", "aux: coh in set, gt in {0,1} == truth, aux[2] = 0", worst_aux, 0);
    report("2af", "fixation, zero stim outside 1..20, labels 1+gt at 21, decide, mask", worst, 0);
    double zmax = 0, dmax = 0;
    for (int c = 0; c < 5; c++)
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < 2; k++) {
                zmax = fmax(zmax, mom_meanz(&cell[c][g][k]));
                dmax = fmax(dmax, fabs(cell[c][g][k].s1 / cell[c][g][k].n));
            }
    printf("     2af channel means: worst |mean - (cos*coh/200 + 0.5)| = %.3g over 20 cells\n", dmax);
    report("2af", "channel mean == cos(theta_k - theta_gt) coh/200 + 0.5 (max |z|)", zmax, NSE);
    noise_checks("2af", &all, 0.1);
    double var = all.s2 / all.n;
    report("2af", "noise channels 1,2 uncorrelated (|r| in SE)", fabs(cross / (all.n / 2) / var) * sqrt(all.n / 2), NSE);
    report("2af", "noise steps t,t+1 uncorrelated (|r| in SE)", fabs(lag / nlag / var) * sqrt(nlag), NSE);
    report("2af", "gt balanced (|z|)", count_z(ngt, B, 0.5), NSE);
    zmax = 0;
    for (int c = 0; c < 5; c++)
        zmax = fmax(zmax, count_z(ncoh[c], B, 0.2));
    report("2af", "coherences uniform over 5 values (max |z|)", zmax, NSE);
    check_xent_accuracy("2af", tb);
    check_xent_loss("2af", tb);
    task_batch_free(tb);
}

/* Per-trial timing and match logic of dms, and noise/mean statistics. */
static void check_dms(void)
{
    const int B = 10000, T = 32, I = 3;
    task_batch *tb = batch_new(TASK_DMS, B, 3);
    if (!tb) {
        report("dms", "allocation", INFINITY, 0);
        return;
    }
    double worst = 0, worst_aux = 0, nmatch = 0, npi = 0, logic = 0;
    moments cell[2][2][2][2] = {{{{{0}}}}}, all = {0}; /* [dir][gt-1][period][k] */
    for (int b = 0; b < B; b++) {
        int gt = tb->truth[b];
        double dir = tb->aux[3 * b];
        int di = dir == M_PI ? 1 : dir == 0 ? 0 : -1;
        if (di < 0 || (gt != 1 && gt != 2) || tb->aux[3 * b + 1] != gt || tb->aux[3 * b + 2] != 0) {
            worst_aux = INFINITY;
            continue;
        }
        nmatch += gt == 1;
        npi += di;
        double test = gt == 1 ? dir : dir + M_PI, sdiff[2] = {0, 0};
        for (int t = 0; t < T; t++) {
            const double *x = tb->x + ix(t, b, 0, B, I);
            int per = (t >= 3 && t < 8) ? 0 : (t >= 18 && t < 23) ? 1 : -1;
            int dec = t >= 23;
            worst = fmax(worst, fabs(x[0] - (dec ? 0.0 : 1.0)));
            worst = fmax(worst, fabs(tb->mask[ix(t, b, 0, B, 1)] - 1.0));
            worst = fmax(worst, abs(tb->decide[ix(t, b, 0, B, 1)] - dec));
            worst = fmax(worst, labs(tb->labels[ix(t, b, 0, B, 1)] - (dec ? gt : 0)));
            if (per < 0) {
                worst = fmax(worst, fmax(fabs(x[1]), fabs(x[2])));
                continue;
            }
            sdiff[per] += x[1] - x[2];
            for (int k = 0; k < 2; k++) {
                double mu = cos(k * M_PI - (per ? test : dir)) * 0.5 + 0.5;
                mom_add(&cell[di][gt - 1][per][k], x[1 + k] - mu);
                mom_add(&all, x[1 + k] - mu);
            }
        }
        /* channel 1 - channel 2 is +-1 + noise of sd 0.063 per step mean:
         * its sign gives each period's direction; same sign iff match */
        int same = (sdiff[0] > 0) == (sdiff[1] > 0);
        logic += (same != (gt == 1)) + ((sdiff[0] > 0) != (di == 0));
    }
    report("dms", "aux: sample dir in {0,pi}, gt in {1,2} == truth, aux[2] = 0", worst_aux, 0);
    report("dms", "fixation, zero stim outside sample/test, labels gt in 23..31, decide", worst, 0);
    report("dms", "per trial: sample sign == dir, test same sign iff match (count bad)", logic, 0);
    double zmax = 0, dmax = 0;
    for (int d = 0; d < 2; d++)
        for (int g = 0; g < 2; g++)
            for (int p = 0; p < 2; p++)
                for (int k = 0; k < 2; k++) {
                    zmax = fmax(zmax, mom_meanz(&cell[d][g][p][k]));
                    dmax = fmax(dmax, fabs(cell[d][g][p][k].s1 / cell[d][g][p][k].n));
                }
    printf("     dms channel means: worst |mean - (0.5 cos + 0.5)| = %.3g over 16 cells\n", dmax);
    report("dms", "sample/test channel mean == 0.5 cos(theta_k - dir) + 0.5 (max |z|)", zmax, NSE);
    noise_checks("dms", &all, 0.1);
    report("dms", "match / non-match balanced (|z|)", count_z(nmatch, B, 0.5), NSE);
    report("dms", "sample direction balanced (|z|)", count_z(npi, B, 0.5), NSE);
    check_xent_accuracy("dms", tb);
    check_xent_loss("dms", tb);
    task_batch_free(tb);
}

int main(void)
{
    check_dims();
    check_romo();
    check_2af();
    check_dms();
    const char *names[3] = {"romo", "2af", "dms"};
    for (int k = 0; k < 3; k++) {
        check_reproducible(names[k], k);
        check_gradient(names[k], k, k == TASK_ROMO ? 0.5 : 1.0);
    }
    return check_summary("task");
}
