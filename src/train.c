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
#include "rnnsweep/floss.h"
#include "rnnsweep/init.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "kernel.h"

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
    double *lam;             /* (max(B,E),max(lyap_k,floss_k)) */
    adam *opt, *fopt;        /* training and flossing Adam */
    gsl_rng *r_task, *r_floss;
    task_batch *tb, *fb;
    task_batch *lyb;         /* (E trials) the first lyap_batch validation trials */
    task_batch *ev;          /* (E trials) one evaluation chunk */
    rnn_cache cache;         /* (T,B) training */
    rnn_cache ecache;        /* (T,E) exponents and evaluation */
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
    task_batch_free(j->lyb);
    task_batch_free(j->ev);
    rnn_cache_free(&j->ecache);
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
    const int E = (int)c->lyap_batch;
    j->maxcurve = (size_t)(c->iters / c->log_every) + 2;
    j->maxlyap = (size_t)c->lyap_k * (3 + (c->lyap_every ? (size_t)(c->iters / c->lyap_every) : 0));
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
    if (c->floss_iters > 0 || c->floss_every > 0) {
        j->fb = task_batch_alloc(c->task, B);
        j->fw = floss_work_alloc(T, B, N, I, O, (int)c->floss_k);
        ok = ok && j->fb && j->fw;
        if (j->fw)
            floss_work_set_target(j->fw, c->floss_target);
    }
    ok = ok && j->B_fb && j->Q0 && j->Qf && j->lam && j->opt && j->fopt && j->r_task &&
         j->r_floss && j->tb && j->lyb && j->ev && j->rw && j->lw && j->curve && j->lrows;
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
    task_batch_fill(j->lyb, re);
    gsl_rng_free(r), gsl_rng_free(rf), gsl_rng_free(rq), gsl_rng_free(re);
    return j;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
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

/* The counters this loop leaves at each stop are restated by ckpt_expected
 * (checkpoint section below), which refuses images this loop cannot produce:
 * change both together. */
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

/* ---- checkpoint: layout and validity rules in train.h ----
 *
 * The reader checks the whole image in place (it is const and may be
 * unaligned: every field is read with memcpy) and copies into the job only
 * when every check has passed, so a refused image leaves the job as
 * train_alloc made it.  The counters are checked against ckpt_expected, which
 * restates train_run's loop: change both together. */

_Static_assert(sizeof(train_ckpt_head) == 160, "train_ckpt_head has no padding");

/* gsl's mt19937 state (gsl/rng/mt.c), for checking a stored one: words of
 * 32 bits and a position 0..624, which gsl uses as an index unchecked. */
typedef struct mt_state { unsigned long mt[624]; int mti; } mt_state;

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes. */
static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[b] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* Bytes of an image with these counts (no overflow: counts already bounded). */
static size_t ckpt_bytes(size_t nparams, size_t ncurve, size_t nlyap, size_t rt, size_t rf)
{
    return sizeof(train_ckpt_head) + 5 * nparams * sizeof(double) +
           ncurve * sizeof(train_curve_row) + nlyap * sizeof(train_lyap_row) + rt + rf +
           sizeof(uint32_t);
}

size_t train_checkpoint_size(const train_job *j)
{
    return ckpt_bytes(j->p.size, j->ncurve, j->nlyap, gsl_rng_size(j->r_task),
                      gsl_rng_size(j->r_floss));
}

/* Copy n bytes to w; returns w + n. */
static unsigned char *put(unsigned char *w, const void *src, size_t n)
{
    if (n)
        memcpy(w, src, n);
    return w + n;
}

int train_checkpoint_save(const train_job *j, void *buf, size_t n)
{
    const size_t need = train_checkpoint_size(j);
    if (n < need)
        return -1;
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    train_ckpt_head hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, TRAIN_CKPT_MAGIC, sizeof hd.magic);
    hd.version = TRAIN_CKPT_VERSION;
    hd.head_size = sizeof hd;
    hd.hash = j->hash;
    hd.size = need;
    hd.nparams = j->p.size;
    hd.ncurve = j->ncurve;
    hd.nlyap = j->nlyap;
    hd.rng_task = gsl_rng_size(j->r_task);
    hd.rng_floss = gsl_rng_size(j->r_floss);
    hd.floss_done = j->floss_done;
    hd.iter = j->iter;
    hd.opt_t = *t;
    hd.fopt_t = *ft;
    hd.init_measured = j->init_measured;
    hd.floss_measured = j->floss_measured;
    snprintf(hd.blas_core, sizeof hd.blas_core, "%s", blasenv_core());
    snprintf(hd.simd, sizeof hd.simd, "%s", kernel_simd());
    /* One statement per section: the layout is the order of these lines. */
    const size_t pb = j->p.size * sizeof(double);
    unsigned char *w = buf;
    w = put(w, &hd, sizeof hd);
    w = put(w, j->p.data, pb);
    w = put(w, m, pb);
    w = put(w, v, pb);
    w = put(w, fm, pb);
    w = put(w, fv, pb);
    w = put(w, j->curve, j->ncurve * sizeof *j->curve);
    w = put(w, j->lrows, j->nlyap * sizeof *j->lrows);
    w = put(w, gsl_rng_state(j->r_task), hd.rng_task);
    w = put(w, gsl_rng_state(j->r_floss), hd.rng_floss);
    const uint32_t crc = crc32_ieee(buf, need - sizeof crc);
    put(w, &crc, sizeof crc);
    return 0;
}

/* What train_run has produced when it stands at the loop head with these
 * counters: curve rows, exponent rows, and the steps of both Adams.  The
 * counters must already be in range (see ckpt_counters_ok). */
typedef struct ckpt_expect { long ncurve, nlyap, opt_t, fopt_t; } ckpt_expect;

static ckpt_expect ckpt_expected(const config *c, const train_ckpt_head *hd)
{
    const long it = (long)hd->iter;
    ckpt_expect e;
    /* curve rows at i = 0..it-1 with i % log_every == 0 (i = iters is not reached) */
    e.ncurve = it > 0 ? (it - 1) / c->log_every + 1 : 0;
    /* training exponents after updates m = 1..it with m % lyap_every == 0, m < iters */
    const long last = it < c->iters - 1 ? it : c->iters - 1;
    const long ntrain = c->lyap_every > 0 && last > 0 ? last / c->lyap_every : 0;
    e.nlyap = c->lyap_k * (hd->init_measured + hd->floss_measured + ntrain);
    e.opt_t = it;
    e.fopt_t = hd->floss_done + (c->floss_every > 0 ? it / c->floss_every : 0);
    return e;
}

/* The counters describe a state train_run can stop in, or a fresh job. */
static int ckpt_counters_ok(const config *c, const train_ckpt_head *hd)
{
    if ((hd->init_measured != 0 && hd->init_measured != 1) ||
        (hd->floss_measured != 0 && hd->floss_measured != 1))
        return 0;
    if (hd->floss_done < 0 || hd->floss_done > c->floss_iters || hd->iter < 0 ||
        hd->iter > c->iters)
        return 0;
    if (!hd->init_measured && (hd->floss_done || hd->iter || hd->floss_measured))
        return 0; /* exponents at init come first */
    if (hd->floss_measured && (c->floss_iters == 0 || hd->floss_done != c->floss_iters))
        return 0;
    if (hd->iter > 0 && (hd->floss_done != c->floss_iters || (c->floss_iters > 0 && !hd->floss_measured)))
        return 0; /* training starts after flossing and its exponents */
    const ckpt_expect e = ckpt_expected(c, hd);
    return (long)hd->ncurve == e.ncurve && (long)hd->nlyap == e.nlyap && hd->opt_t == e.opt_t &&
           hd->fopt_t == e.fopt_t;
}

/* Curve rows at iterations 0, log_every, ...; exponent rows in blocks of
 * lyap_k (idx 1..k) for init, flossing, then training at lyap_every,
 * 2 lyap_every, ... as far as the counters say. */
static int ckpt_rows_ok(const config *c, const train_ckpt_head *hd, const unsigned char *curve,
                        const unsigned char *lyap)
{
    for (size_t r = 0; r < hd->ncurve; r++) {
        train_curve_row row;
        memcpy(&row, curve + r * sizeof row, sizeof row);
        if (row.iter != (long)r * c->log_every)
            return 0;
    }
    const size_t k = (size_t)c->lyap_k, before = (size_t)(hd->init_measured + hd->floss_measured);
    for (size_t r = 0; r < hd->nlyap; r++) {
        const size_t b = r / k;
        const int phase = b < (size_t)hd->init_measured ? PHASE_INIT
                          : b < before                  ? PHASE_FLOSS
                                                        : PHASE_TRAIN;
        const long at = phase == PHASE_TRAIN ? (long)(b - before + 1) * c->lyap_every : 0;
        train_lyap_row row;
        memcpy(&row, lyap + r * sizeof row, sizeof row);
        if (row.phase != phase || row.iter != at || row.idx != (int)(r % k) + 1)
            return 0;
    }
    return 1;
}

/* A stored gsl mt19937 state has 32-bit words and a position 0..624. */
static int ckpt_rng_ok(const unsigned char *state, size_t n)
{
    if (n != sizeof(mt_state))
        return 0;
    mt_state s;
    memcpy(&s, state, sizeof s);
    if (s.mti < 0 || s.mti > 624)
        return 0;
    for (int i = 0; i < 624; i++)
        if (s.mt[i] > 0xFFFFFFFFUL)
            return 0;
    return 1;
}

/* The first reason the image cannot continue this job, or NULL if it can. */
static const char *ckpt_check(const train_job *j, const unsigned char *b, size_t n,
                              train_ckpt_head *hd)
{
    if (n < sizeof *hd + sizeof(uint32_t))
        return "too short to be a checkpoint";
    memcpy(hd, b, sizeof *hd);
    if (memcmp(hd->magic, TRAIN_CKPT_MAGIC, sizeof hd->magic) != 0)
        return "not a checkpoint of this format";
    if (hd->version != TRAIN_CKPT_VERSION || hd->head_size != sizeof *hd)
        return "checkpoint format version differs";
    if (hd->size != n)
        return "truncated or extended: size differs from its header";
    uint32_t crc;
    memcpy(&crc, b + n - sizeof crc, sizeof crc);
    if (crc != crc32_ieee(b, n - sizeof crc))
        return "damaged: CRC-32 mismatch";
    if (hd->hash != j->hash)
        return "written for another config";
    if (hd->nparams != j->p.size || hd->ncurve > j->maxcurve || hd->nlyap > j->maxlyap ||
        hd->rng_task != gsl_rng_size(j->r_task) || hd->rng_floss != gsl_rng_size(j->r_floss) ||
        n != ckpt_bytes(hd->nparams, hd->ncurve, hd->nlyap, hd->rng_task, hd->rng_floss))
        return "array sizes differ from the job's";
    if (!ckpt_counters_ok(&j->cfg, hd))
        return "counters out of range or inconsistent";
    if (!memchr(hd->blas_core, 0, sizeof hd->blas_core) || !memchr(hd->simd, 0, sizeof hd->simd))
        return "unterminated BLAS core or SIMD name";
    const unsigned char *curve = b + sizeof *hd + 5 * hd->nparams * sizeof(double);
    const unsigned char *lyap = curve + hd->ncurve * sizeof(train_curve_row);
    const unsigned char *rt = lyap + hd->nlyap * sizeof(train_lyap_row);
    if (!ckpt_rows_ok(&j->cfg, hd, curve, lyap))
        return "curve or exponent rows out of order";
    if (!ckpt_rng_ok(rt, hd->rng_task) || !ckpt_rng_ok(rt + hd->rng_task, hd->rng_floss))
        return "malformed rng state";
    return NULL;
}

int train_checkpoint_load(train_job *j, const void *buf, size_t n, char note[256])
{
    train_ckpt_head hd;
    note[0] = 0;
    const char *why = ckpt_check(j, buf, n, &hd);
    if (why) {
        snprintf(note, 256, "%s", why);
        return -1;
    }
    /* Valid: copy in the order of train_checkpoint_save. */
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    const size_t pb = j->p.size * sizeof(double);
    const unsigned char *r = (const unsigned char *)buf + sizeof hd;
    double *const dst[5] = {j->p.data, m, v, fm, fv};
    for (int s = 0; s < 5; s++, r += pb)
        memcpy(dst[s], r, pb);
    memcpy(j->curve, r, hd.ncurve * sizeof *j->curve);
    r += hd.ncurve * sizeof *j->curve;
    memcpy(j->lrows, r, hd.nlyap * sizeof *j->lrows);
    r += hd.nlyap * sizeof *j->lrows;
    memcpy(gsl_rng_state(j->r_task), r, hd.rng_task);
    r += hd.rng_task;
    memcpy(gsl_rng_state(j->r_floss), r, hd.rng_floss);
    j->ncurve = hd.ncurve;
    j->nlyap = hd.nlyap;
    j->floss_done = hd.floss_done;
    j->iter = hd.iter;
    *t = hd.opt_t;
    *ft = hd.fopt_t;
    j->init_measured = hd.init_measured;
    j->floss_measured = hd.floss_measured;
    const char *core = blasenv_core(), *simd = kernel_simd();
    if (strcmp(core, hd.blas_core) != 0 || strcmp(simd, hd.simd) != 0)
        snprintf(note, 256,
                 "resumed on BLAS core %.31s / SIMD %s; checkpoint written with %.31s / %.15s: "
                 "results may differ in the last bits",
                 core, simd, hd.blas_core, hd.simd);
    return 0;
}
