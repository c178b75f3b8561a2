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
 * initial weights, B_fb, Q0, training batches, flossing batches, and the
 * held-out trials of SPEC §7: the validation trials (STREAM_EVAL; the lr is
 * chosen on them, and exponents are measured on their first lyap_batch) and
 * the test trials (STREAM_TEST; what is reported).  Jobs that differ only in
 * gain, lr, rule, init or flossing therefore share their random numbers
 * (common random numbers), and every job of a seed is evaluated on the same
 * held-out trials, which no training batch contains.
 *
 * Evaluation runs in chunks of lyap_batch trials (val_batch and test_batch
 * are multiples of it): the task draws trial after trial, so chunk c of a
 * stream holds exactly trials c*E..(c+1)*E-1 of one big batch, and the sums
 * of task_loss_sums/task_correct over the chunks give that batch's loss and
 * accuracy; memory stays that of one chunk whatever the batch sizes.
 */
#include "rnnsweep/train.h"
#include "rnnsweep/adam.h"
#include "rnnsweep/blasenv.h"
#include "rnnsweep/clock.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/init.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "train_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
    task_batch_free(j->lyb);
    task_batch_free(j->ev);
    rnn_cache_free(&j->ecache);
    rnn_cache_free(&j->cache);
    rule_work_free(j->rw);
    lyap_work_free(j->lw);
    floss_work_free(j->fw);
    free(j->curve);
    free(j->lrows);
    free(j->drows);
    rnn_params_free(&j->gref);
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
    config_init_spec(c, &j->init);
    j->hash = config_hash(c);
    task_dims(c->task, &j->T, &j->I, &j->O);
    j->N = (int)c->hidden;
    j->B = (int)c->batch;
    const int T = j->T, N = j->N, I = j->I, O = j->O, B = j->B;
    const int K = (int)(c->lyap_k > c->floss_k ? c->lyap_k : c->floss_k);
    const int E = (int)c->lyap_batch;
    j->maxcurve = (size_t)(c->iters / c->log_every) + 2;
    j->maxlyap = (size_t)c->lyap_k * (3 + (c->lyap_every ? (size_t)(c->iters / c->lyap_every) : 0));
    j->maxdiag = c->diag_every ? (size_t)train_diag_per_step(c->rule) *
                                     ((size_t)(c->iters / c->diag_every) + 2) : 0;
    int ok = rnn_params_alloc(&j->p, N, I, O) == 0 && rnn_params_alloc(&j->p0, N, I, O) == 0 &&
             rnn_params_alloc(&j->grad, N, I, O) == 0 &&
             rnn_cache_alloc(&j->cache, T, B, N, O) == 0 &&
             rnn_cache_alloc(&j->ecache, T, E, N, O) == 0;
    j->B_fb = malloc((size_t)N * O * sizeof(double));
    j->Q0 = malloc((size_t)N * c->lyap_k * sizeof(double));
    j->Qf = malloc((size_t)N * c->floss_k * sizeof(double));
    j->lam = malloc((size_t)(B > E ? B : E) * K * sizeof(double));
    j->opt = adam_alloc(j->p.size);
    j->fopt = adam_alloc(j->p.size);
    j->r_task = train_stream_rng(c->seed, STREAM_TASK);
    j->r_floss = train_stream_rng(c->seed, STREAM_FLOSS);
    j->tb = task_batch_alloc(c->task, B);
    j->lyb = task_batch_alloc(c->task, E);
    j->ev = task_batch_alloc(c->task, E);
    j->rw = rule_work_alloc(T, B, N, I, O);
    j->lw = lyap_work_alloc(N, (int)c->lyap_k, E);
    j->curve = calloc(j->maxcurve, sizeof *j->curve); /* zeroed: images repeat bit for bit */
    j->lrows = calloc(j->maxlyap, sizeof *j->lrows);
    j->drows = calloc(j->maxdiag ? j->maxdiag : 1, sizeof *j->drows);
    if (c->diag_every && train_diag_per_step(c->rule) == DIAG_COUNT) /* alignment needs BPTT's */
        ok = ok && rnn_params_alloc(&j->gref, N, I, O) == 0;
    if (c->floss_iters > 0 || c->floss_every > 0) {
        j->fb = task_batch_alloc(c->task, B);
        j->fw = floss_work_alloc(T, B, N, I, O, (int)c->floss_k);
        ok = ok && j->fb && j->fw;
        if (j->fw)
            floss_work_set_target(j->fw, c->floss_target);
    }
    ok = ok && j->B_fb && j->Q0 && j->Qf && j->lam && j->opt && j->fopt && j->r_task &&
         j->r_floss && j->tb && j->lyb && j->ev && j->rw && j->lw && j->curve && j->lrows &&
         j->drows;
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
    if (init_params(&j->p, &j->init, r, err) != 0) {
        gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
        train_free(j);
        return NULL;
    }
    memcpy(j->p0.data, j->p.data, j->p.size * sizeof(double));
    rule_feedback_init(j->B_fb, N, O, rf);
    lyap_q0(j->Q0, N, (int)c->lyap_k, rq);
    lyap_q0(j->Qf, N, (int)c->floss_k, rq);
    task_batch_fill(j->lyb, re);
    gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
    return j;
}

/* Exponents on the first lyap_batch validation trials, appended as rows of one phase. */
static void measure(train_job *j, int phase, long iter, const train_hooks *h)
{
    const config *c = &j->cfg;
    const int k = (int)c->lyap_k, B = (int)c->lyap_batch;
    rnn_forward(&j->p, c->activation, c->alpha, j->lyb->x, &j->ecache);
    lyap_driven(&j->p, c->activation, c->alpha, &j->ecache, j->Q0, k, (int)c->lyap_warmup,
                (int)c->lyap_every_qr, j->lam, j->lw);
    if (j->nlyap + (size_t)k > j->maxlyap) /* cannot happen: maxlyap counts every phase */
        return;
    train_lyap_row *rows = j->lrows + j->nlyap;
    for (int i = 0; i < k; i++) {
        double mean, sd;
        lyap_mean_sd(j->lam, B, k, i, &mean, &sd);
        rows[i] = (train_lyap_row){.phase = phase, .iter = iter, .idx = i + 1, .mean = mean, .sd = sd};
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
        init_dale_clamp(&j->init, j->p.W_rec, j->N);
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

const char *train_status_name(int status)
{
    static const char *const names[] = {"done", "diverged", "stopped", "timeout"};
    return status >= 0 && status < (int)(sizeof names / sizeof names[0]) ? names[status] : NULL;
}

int train_diag_per_step(int rule)
{
    return rule == RULE_EPROP || rule == RULE_RFLO ? DIAG_COUNT : DIAG_COUNT - DIAG_DRIFT_W_REC;
}

/* cos(a, b) = a.b / (|a| |b|) over n entries; NaN if either is zero. */
static double cosine(const double *a, const double *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
}

/* ||x - x0|| / ||x0|| over n entries; NaN if x0 is zero. */
static double drift(const double *x, const double *x0, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += (x[i] - x0[i]) * (x[i] - x0[i]);
        r += x0[i] * x0[i];
    }
    return r > 0 ? sqrt(d / r) : NAN;
}

/* Diagnostic step i: j->grad holds the rule's gradient and j->cache the
 * forward pass of this step's batch, both before the update.  For eprop and
 * rflo, BPTT's gradient of the same pass costs one backward pass. */
static void diagnose(train_job *j, long i, const train_hooks *h)
{
    const config *c = &j->cfg;
    const int per = train_diag_per_step(c->rule);
    if (j->ndiag + (size_t)per > j->maxdiag) /* cannot happen: maxdiag counts every step */
        return;
    train_diag_row *rows = j->drows + j->ndiag;
    const rnn_params *p = &j->p, *p0 = &j->p0;
    const size_t nrec = (size_t)j->N * j->N, nin = (size_t)j->N * j->I, nout = (size_t)j->O * j->N;
    int k = 0;
    if (per == DIAG_COUNT) {
        rule_backward(RULE_BPTT, p, j->B_fb, c->activation, c->alpha, j->tb, &j->cache, &j->gref,
                      j->rw);
        const rnn_params *g = &j->grad, *r = &j->gref;
        rows[k++] = (train_diag_row){i, DIAG_ALIGN_W_REC, 0, cosine(g->W_rec, r->W_rec, nrec)};
        rows[k++] = (train_diag_row){i, DIAG_ALIGN_W_IN, 0, cosine(g->W_in, r->W_in, nin)};
        rows[k++] = (train_diag_row){i, DIAG_ALIGN_B, 0, cosine(g->b, r->b, (size_t)j->N)};
        /* W_in, W_rec and b lie next to each other in the flat vector */
        rows[k++] = (train_diag_row){i, DIAG_ALIGN_REC, 0, cosine(g->data, r->data, nin + nrec + (size_t)j->N)};
    }
    rows[k++] = (train_diag_row){i, DIAG_DRIFT_W_REC, 0, drift(p->W_rec, p0->W_rec, nrec)};
    rows[k++] = (train_diag_row){i, DIAG_DRIFT_W_IN, 0, drift(p->W_in, p0->W_in, nin)};
    rows[k++] = (train_diag_row){i, DIAG_DRIFT_W_OUT, 0, drift(p->W_out, p0->W_out, nout)};
    j->ndiag += (size_t)k;
    if (h && h->diag)
        h->diag(h->ctx, rows, k);
}

/* Training iteration i = j->iter: the loss of a fresh batch with the
 * parameters after i updates, its curve row and diagnostics, then (for
 * i < iters) the update, the Dale clamp, interleaved flossing and exponents;
 * the counter advances.  Returns the loss (non-finite: diverged, counter
 * not advanced). */
static double step(train_job *j, const train_hooks *h)
{
    const config *c = &j->cfg;
    const long i = j->iter;
    task_batch_fill(j->tb, j->r_task);
    double loss = rule_gradient(c->rule, &j->p, j->B_fb, c->activation, c->alpha, j->tb,
                                &j->cache, &j->grad, j->rw);
    if (!isfinite(loss))
        return loss;
    if (i % c->log_every == 0 || i == c->iters)
        add_curve(j, i, loss, task_accuracy(j->tb, j->cache.y), h);
    if (c->diag_every > 0 && (i % c->diag_every == 0 || i == c->iters))
        diagnose(j, i, h);
    if (i < c->iters) {
        adam_step(j->opt, j->p.data, j->grad.data, c->lr);
        init_dale_clamp(&j->init, j->p.W_rec, j->N);
        if (c->floss_every > 0 && (i + 1) % c->floss_every == 0 && !isfinite(floss_step(j)))
            return NAN;
        if (c->lyap_every > 0 && (i + 1) % c->lyap_every == 0 && i + 1 < c->iters)
            measure(j, PHASE_TRAIN, i + 1, h);
    }
    j->iter++;
    return loss;
}

double train_step(train_job *j)
{
    return j->iter <= j->cfg.iters ? step(j, NULL) : NAN;
}

/* The counters this loop leaves at each stop are restated by ckpt_expected
 * (checkpoint section below), which refuses images this loop cannot produce:
 * change both together. */
int train_run(train_job *j, const train_hooks *h)
{
    const config *c = &j->cfg;
    const double t0 = clock_now();
    const double limit = h ? h->time_limit : 0;
    int stop = 0;
#define CHECK_STOP()                                   \
    do {                                               \
        if (stop)                                      \
            return TRAIN_STOPPED;                      \
        if (limit > 0 && clock_now() - t0 > limit)           \
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
        const double loss = step(j, h);
        if (!isfinite(loss))
            return TRAIN_DIVERGED;
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

const train_diag_row *train_diag(const train_job *j, size_t *n)
{
    *n = j->ndiag;
    return j->drows;
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

/* Loss and accuracy on the first n trials of stream `stream`, chunk by chunk. */
static void evaluate_stream(train_job *j, int stream, long n, double *loss, double *accuracy)
{
    const config *c = &j->cfg;
    gsl_rng *r = train_stream_rng(c->seed, stream);
    if (!r) {
        *loss = *accuracy = NAN;
        return;
    }
    double sum = 0, weight = 0;
    long correct = 0;
    for (long done = 0; done < n; done += j->ev->B) {
        task_batch_fill(j->ev, r);
        rnn_forward(&j->p, c->activation, c->alpha, j->ev->x, &j->ecache);
        double s, w;
        task_loss_sums(j->ev, j->ecache.y, &s, &w);
        sum += s;
        weight += w;
        correct += task_correct(j->ev, j->ecache.y);
    }
    gsl_rng_free(r);
    *loss = weight > 0 ? sum / weight : 0.0;
    *accuracy = (double)correct / (double)n;
}

void train_evaluate(train_job *j, train_eval *out)
{
    evaluate_stream(j, STREAM_EVAL, j->cfg.val_batch, &out->val_loss, &out->val_accuracy);
    evaluate_stream(j, STREAM_TEST, j->cfg.test_batch, &out->test_loss, &out->test_accuracy);
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
