/* train.c — one job end to end: phases, learning curve, exponents, stop and checkpoint.
 *
 * A job runs as a resumable state machine:
 *   init exponents -> floss_iters flossing steps -> floss exponents ->
 *   iterations i = 0..iters (loss of the batch drawn for i with the parameters
 *   after i updates; an update follows for i < iters; i = iters is the final
 *   evaluation) with optional interleaved flossing and exponents -> trained
 *   exponents.
 * Its state at every loop head is fully described by the counters, the
 * parameters, both Adam states and the rng states, which is what a checkpoint
 * stores; a resumed job draws the same batches and reaches the same numbers.
 *
 * rng streams derive from the seed alone (splitmix64(seed, stream)): the
 * initial weights, B_fb, Q0, training batches, flossing batches and the fixed
 * batch on which exponents are measured.  Jobs that differ only in gain, lr or
 * rule therefore share their random numbers (common random numbers).
 */
#include "rnnsweep/train.h"
#include "rnnsweep/adam.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/init.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct train_job {
    config cfg;
    uint64_t hash;
    int T, N, I, O, B;
    rnn_params p, p0, grad;  /* parameters now, at init, gradient */
    double *B_fb;            /* (N,O) rflo feedback */
    double *Q0;              /* (N,lyap_k) */
    double *Qf;              /* (N,floss_k) */
    double *lam;             /* (B,max(lyap_k,floss_k)) */
    adam *opt, *fopt;        /* training and flossing Adam */
    gsl_rng *r_task, *r_floss;
    task_batch *tb, *fb, *eval;
    rnn_cache cache;
    rule_work *rw;
    lyap_work *lw;
    floss_work *fw;
    train_curve_row *curve;
    size_t ncurve, maxcurve;
    train_lyap_row *lrows;   /* (maxlyap) */
    size_t nlyap, maxlyap;
    /* counters: the resumable state */
    long floss_done, iter;
    int init_measured, floss_measured;
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

gsl_rng *train_stream_rng(long seed, int stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        gsl_rng_set(r, (unsigned long)(splitmix64(splitmix64((uint64_t)seed) ^ (uint64_t)stream) &
                                       0xffffffffUL));
    return r;
}

void train_free(train_job *j)
{
    if (!j)
        return;
    rnn_params_free(&j->p);
    rnn_params_free(&j->p0);
    rnn_params_free(&j->grad);
    free(j->B_fb);
    free(j->Q0);
    free(j->Qf);
    free(j->lam);
    adam_free(j->opt);
    adam_free(j->fopt);
    gsl_rng_free(j->r_task);
    gsl_rng_free(j->r_floss);
    task_batch_free(j->tb);
    task_batch_free(j->fb);
    task_batch_free(j->eval);
    rnn_cache_free(&j->cache);
    rule_work_free(j->rw);
    lyap_work_free(j->lw);
    floss_work_free(j->fw);
    free(j->curve);
    free(j->lrows);
    free(j);
}

train_job *train_alloc(const config *c, char err[256])
{
    train_job *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, 256, "out of memory");
        return NULL;
    }
    j->cfg = *c;
    j->hash = config_hash(c);
    task_dims(c->task, &j->T, &j->I, &j->O);
    j->N = (int)c->hidden;
    j->B = (int)c->batch;
    const int T = j->T, N = j->N, I = j->I, O = j->O, B = j->B;
    const int K = (int)(c->lyap_k > c->floss_k ? c->lyap_k : c->floss_k);
    j->maxcurve = (size_t)(c->iters / c->log_every) + 2;
    j->maxlyap = (size_t)c->lyap_k * (3 + (c->lyap_every ? (size_t)(c->iters / c->lyap_every) : 0));
    int ok = rnn_params_alloc(&j->p, N, I, O) == 0 && rnn_params_alloc(&j->p0, N, I, O) == 0 &&
             rnn_params_alloc(&j->grad, N, I, O) == 0 &&
             rnn_cache_alloc(&j->cache, T, B, N, O) == 0;
    j->B_fb = malloc((size_t)N * O * sizeof(double));
    j->Q0 = malloc((size_t)N * c->lyap_k * sizeof(double));
    j->Qf = malloc((size_t)N * c->floss_k * sizeof(double));
    j->lam = malloc((size_t)B * K * sizeof(double));
    j->opt = adam_alloc(j->p.size);
    j->fopt = adam_alloc(j->p.size);
    j->r_task = train_stream_rng(c->seed, STREAM_TASK);
    j->r_floss = train_stream_rng(c->seed, STREAM_FLOSS);
    j->tb = task_batch_alloc(c->task, B);
    j->eval = task_batch_alloc(c->task, B);
    j->rw = rule_work_alloc(T, B, N, I, O);
    j->lw = lyap_work_alloc(N, (int)c->lyap_k, B);
    j->curve = malloc(j->maxcurve * sizeof *j->curve);
    j->lrows = malloc(j->maxlyap * sizeof *j->lrows);
    if (c->floss_iters > 0 || c->floss_every > 0) {
        j->fb = task_batch_alloc(c->task, B);
        j->fw = floss_work_alloc(T, B, N, I, O, (int)c->floss_k);
        ok = ok && j->fb && j->fw;
        if (j->fw)
            floss_work_set_target(j->fw, c->floss_target);
    }
    ok = ok && j->B_fb && j->Q0 && j->Qf && j->lam && j->opt && j->fopt && j->r_task &&
         j->r_floss && j->tb && j->eval && j->rw && j->lw && j->curve && j->lrows;
    if (!ok) {
        snprintf(err, 256, "out of memory allocating a job with hidden=%d batch=%d", N, B);
        train_free(j);
        return NULL;
    }

    gsl_rng *r = train_stream_rng(c->seed, STREAM_INIT);
    gsl_rng *rf = train_stream_rng(c->seed, STREAM_FB);
    gsl_rng *rq = train_stream_rng(c->seed, STREAM_Q0);
    gsl_rng *re = train_stream_rng(c->seed, STREAM_EVAL);
    if (!r || !rf || !rq || !re) {
        gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
        snprintf(err, 256, "out of memory");
        train_free(j);
        return NULL;
    }
    if (init_params(&j->p, c, r, err) != 0) {
        gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
        train_free(j);
        return NULL;
    }
    memcpy(j->p0.data, j->p.data, j->p.size * sizeof(double));
    rule_feedback_init(j->B_fb, N, O, rf);
    lyap_q0(j->Q0, N, (int)c->lyap_k, rq);
    lyap_q0(j->Qf, N, (int)c->floss_k, rq);
    task_batch_fill(j->eval, re);
    gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
    return j;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Exponents on the fixed evaluation batch, appended as rows of one phase. */
static void measure(train_job *j, int phase, long iter, const train_hooks *h)
{
    const config *c = &j->cfg;
    const int k = (int)c->lyap_k, B = j->B;
    rnn_forward(&j->p, c->activation, c->alpha, j->eval->x, &j->cache);
    lyap_driven(&j->p, c->activation, c->alpha, &j->cache, j->Q0, k, (int)c->lyap_warmup,
                (int)c->lyap_every_qr, j->lam, j->lw);
    if (j->nlyap + (size_t)k > j->maxlyap) /* cannot happen: maxlyap counts every phase */
        return;
    train_lyap_row *rows = j->lrows + j->nlyap;
    for (int i = 0; i < k; i++) {
        double s = 0, ss = 0;
        for (int b = 0; b < B; b++)
            s += j->lam[(size_t)b * k + i];
        const double mean = s / B;
        for (int b = 0; b < B; b++) {
            const double d = j->lam[(size_t)b * k + i] - mean;
            ss += d * d;
        }
        rows[i] = (train_lyap_row){phase, iter, i + 1, mean, B > 1 ? sqrt(ss / (B - 1)) : 0.0};
    }
    j->nlyap += (size_t)k;
    if (h && h->lyap)
        h->lyap(h->ctx, rows, k);
}

/* One flossing step on a fresh batch (then Dale's clamp, init.h); returns F. */
static double floss_step(train_job *j)
{
    const config *c = &j->cfg;
    task_batch_fill(j->fb, j->r_floss);
    double F = floss_gradient(c->floss_mode, &j->p, c->activation, c->alpha, j->fb->x, j->Qf,
                              (int)c->lyap_warmup, &j->grad, j->lam, j->fw);
    if (isfinite(F)) {
        adam_step(j->fopt, j->p.data, j->grad.data, c->floss_lr);
        init_dale_clamp(c, j->p.W_rec, j->N);
    }
    return F;
}

static void add_curve(train_job *j, long it, double loss, double acc, const train_hooks *h)
{
    if (j->ncurve >= j->maxcurve)
        return;
    train_curve_row *row = &j->curve[j->ncurve++];
    *row = (train_curve_row){it, loss, acc};
    if (h && h->curve)
        h->curve(h->ctx, row);
}

int train_run(train_job *j, const train_hooks *h)
{
    const config *c = &j->cfg;
    const double t0 = now();
    const double limit = h ? h->time_limit : 0;
    int stop = 0;
#define CHECK_STOP()                                   \
    do {                                               \
        if (stop)                                      \
            return TRAIN_STOPPED;                      \
        if (limit > 0 && now() - t0 > limit)           \
            return TRAIN_TIMEOUT;                      \
    } while (0)

    if (!j->init_measured) {
        measure(j, PHASE_INIT, 0, h);
        j->init_measured = 1;
    }
    while (j->floss_done < c->floss_iters) {
        CHECK_STOP();
        double F = floss_step(j);
        if (!isfinite(F))
            return TRAIN_DIVERGED;
        j->floss_done++;
        if (h && h->progress)
            stop = h->progress(h->ctx, PHASE_FLOSS, j->floss_done, c->floss_iters, F);
    }
    if (c->floss_iters > 0 && !j->floss_measured) {
        measure(j, PHASE_FLOSS, 0, h);
        j->floss_measured = 1;
    }
    while (j->iter <= c->iters) {
        CHECK_STOP();
        const long i = j->iter;
        task_batch_fill(j->tb, j->r_task);
        double loss = rule_gradient(c->rule, &j->p, j->B_fb, c->activation, c->alpha, j->tb,
                                    &j->cache, &j->grad, j->rw);
        if (!isfinite(loss))
            return TRAIN_DIVERGED;
        if (i % c->log_every == 0 || i == c->iters)
            add_curve(j, i, loss, task_accuracy(j->tb, j->cache.y), h);
        if (i < c->iters) {
            adam_step(j->opt, j->p.data, j->grad.data, c->lr);
            init_dale_clamp(c, j->p.W_rec, j->N);
            if (c->floss_every > 0 && (i + 1) % c->floss_every == 0 && !isfinite(floss_step(j)))
                return TRAIN_DIVERGED;
            if (c->lyap_every > 0 && (i + 1) % c->lyap_every == 0 && i + 1 < c->iters)
                measure(j, PHASE_TRAIN, i + 1, h);
        }
        j->iter++;
        if (h && h->progress)
            stop = h->progress(h->ctx, PHASE_TRAIN, i, c->iters, loss);
    }
    measure(j, PHASE_TRAINED, c->iters, h);
    return TRAIN_DONE;
#undef CHECK_STOP
}

const train_curve_row *train_curve(const train_job *j, size_t *n)
{
    *n = j->ncurve;
    return j->curve;
}

const train_lyap_row *train_lyap(const train_job *j, size_t *n)
{
    *n = j->nlyap;
    return j->lrows;
}

const rnn_params *train_params(const train_job *j) { return &j->p; }
const rnn_params *train_params_init(const train_job *j) { return &j->p0; }
const config *train_config(const train_job *j) { return &j->cfg; }
long train_iter(const train_job *j) { return j->iter; }
const double *train_feedback(const train_job *j) { return j->B_fb; }
const double *train_q0(const train_job *j, int floss) { return floss ? j->Qf : j->Q0; }

const task_batch *train_next_batch(train_job *j)
{
    task_batch_fill(j->tb, j->r_task);
    return j->tb;
}

void train_evaluate(train_job *j, double *loss, double *accuracy)
{
    const config *c = &j->cfg;
    rnn_forward(&j->p, c->activation, c->alpha, j->eval->x, &j->cache);
    *loss = task_loss(j->eval, j->cache.y, NULL);
    *accuracy = task_accuracy(j->eval, j->cache.y);
}

double train_cost(const config *c)
{
    int T, I, O;
    task_dims(c->task, &T, &I, &O);
    const int N = (int)c->hidden, B = (int)c->batch;
    double f = (double)(c->iters + 1) * rule_flops(c->rule, T, B, N, I, O);
    const double nfloss = (double)c->floss_iters + (c->floss_every ? (double)c->iters / c->floss_every : 0);
    f += nfloss * floss_flops(c->floss_mode, T, B, N, (int)c->floss_k);
    const double nlyap = 2.0 + (c->floss_iters > 0) + (c->lyap_every ? (double)c->iters / c->lyap_every : 0);
    return f + nlyap * lyap_flops(T, B, N, (int)c->lyap_k);
}

/* ---- checkpoint: magic, hash, counters, then arrays in a fixed order ---- */

#define CKPT_MAGIC "RNSWCK01"

typedef struct ckpt_head {
    char magic[8];
    uint64_t hash;
    uint64_t nparams, ncurve, nlyap, rng_task, rng_floss;
    int64_t floss_done, iter, opt_t, fopt_t;
    int32_t init_measured, floss_measured;
} ckpt_head;

size_t train_checkpoint_size(const train_job *j)
{
    return sizeof(ckpt_head) + 5 * j->p.size * sizeof(double) +
           j->ncurve * sizeof(train_curve_row) + j->nlyap * sizeof(train_lyap_row) +
           gsl_rng_size(j->r_task) + gsl_rng_size(j->r_floss);
}

typedef struct cursor { unsigned char *w; const unsigned char *r; size_t left; } cursor;

static int put(cursor *cu, const void *src, size_t n)
{
    if (n > cu->left)
        return -1;
    memcpy(cu->w, src, n);
    cu->w += n;
    cu->left -= n;
    return 0;
}

static int get(cursor *cu, void *dst, size_t n)
{
    if (n > cu->left)
        return -1;
    memcpy(dst, cu->r, n);
    cu->r += n;
    cu->left -= n;
    return 0;
}

int train_checkpoint_save(const train_job *j, void *buf, size_t n)
{
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    ckpt_head hd = {.hash = j->hash, .nparams = j->p.size, .ncurve = j->ncurve,
                    .nlyap = j->nlyap, .rng_task = gsl_rng_size(j->r_task),
                    .rng_floss = gsl_rng_size(j->r_floss), .floss_done = j->floss_done,
                    .iter = j->iter, .opt_t = *t, .fopt_t = *ft,
                    .init_measured = j->init_measured, .floss_measured = j->floss_measured};
    memcpy(hd.magic, CKPT_MAGIC, 8);
    const size_t pb = j->p.size * sizeof(double);
    cursor cu = {.w = buf, .left = n};
    int rc = put(&cu, &hd, sizeof hd) | put(&cu, j->p.data, pb) | put(&cu, m, pb) |
             put(&cu, v, pb) | put(&cu, fm, pb) | put(&cu, fv, pb) |
             put(&cu, j->curve, j->ncurve * sizeof *j->curve) |
             put(&cu, j->lrows, j->nlyap * sizeof *j->lrows) |
             put(&cu, gsl_rng_state(j->r_task), hd.rng_task) |
             put(&cu, gsl_rng_state(j->r_floss), hd.rng_floss);
    return rc ? -1 : 0;
}

int train_checkpoint_load(train_job *j, const void *buf, size_t n)
{
    ckpt_head hd;
    cursor cu = {.r = buf, .left = n};
    if (get(&cu, &hd, sizeof hd) || memcmp(hd.magic, CKPT_MAGIC, 8) != 0 || hd.hash != j->hash ||
        hd.nparams != j->p.size || hd.ncurve > j->maxcurve || hd.nlyap > j->maxlyap ||
        hd.rng_task != gsl_rng_size(j->r_task) || hd.rng_floss != gsl_rng_size(j->r_floss))
        return -1;
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    const size_t pb = j->p.size * sizeof(double);
    int rc = get(&cu, j->p.data, pb) | get(&cu, m, pb) | get(&cu, v, pb) | get(&cu, fm, pb) |
             get(&cu, fv, pb) | get(&cu, j->curve, hd.ncurve * sizeof *j->curve) |
             get(&cu, j->lrows, hd.nlyap * sizeof *j->lrows) |
             get(&cu, gsl_rng_state(j->r_task), hd.rng_task) |
             get(&cu, gsl_rng_state(j->r_floss), hd.rng_floss);
    if (rc)
        return -1;
    j->ncurve = hd.ncurve;
    j->nlyap = hd.nlyap;
    j->floss_done = hd.floss_done;
    j->iter = hd.iter;
    *t = hd.opt_t;
    *ft = hd.fopt_t;
    j->init_measured = hd.init_measured;
    j->floss_measured = hd.floss_measured;
    return 0;
}
