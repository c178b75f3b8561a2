/* cmd_bench.c — `rnnsweep bench`: speed of training, exponents and flossing
 * against the dgemm peak measured in the same run.
 *
 * What is timed (wall clock, or with --cpu-time the process's CPU time;
 * medians over --reps runs, each run about --seconds long):
 *   dgemm     cblas_dgemm at 1024^3 (the "peak" every other line is compared
 *             with) and at the small shapes one training step uses;
 *   train     one training iteration, the trainer's own train_step (task
 *             batch, rule gradient, Adam step), for romo, B = 32, N in
 *             {64, 256}, rules bptt, eprop, rflo; and an eprop step with
 *             diag_every = 1, against which the diagnostics' cost shows;
 *   eval      one held-out evaluation (256 + 1024 trials) of an N = 64 job,
 *             as a share of that job's 2000 iterations;
 *   lyap      lyap_driven, N = 256, k = 16, a romo batch of 32, QR every step;
 *   floss     one full-mode floss_gradient, N = 256, k = 16, same batch.
 * GFLOP/s are counted FLOPs (rule_flops, lyap_flops, floss_flops: the matrix
 * products; elementwise work is not counted) over the median time.  Setup and
 * a warm-up run are outside the timing; nothing is allocated inside it.
 * With --json FILE the same numbers are also written as one JSON object
 * (read by tools/bench to put them next to PyTorch's).
 */
#include "rnnsweep/adam.h"
#include "rnnsweep/blasenv.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/clock.h"
#include "rnnsweep/commands.h"
#include "rnnsweep/config.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "rnnsweep/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>

enum { BENCH_B = 32, BENCH_K = 16, BENCH_LYAP_N = 256, MAX_REPS = 1000 };

/* The clock of every measurement: wall time, or with --cpu-time the CPU time
 * of this process (not counting time the scheduler gave to other processes,
 * which is what a shared machine adds to wall time). */
static int bench_cpu_time;

static double tick(void)
{
    return bench_cpu_time ? clock_cpu() : clock_now();
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n-1] (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A timed operation: run(ctx) once per call. */
typedef void (*bench_fn)(void *ctx);

typedef struct timing {
    double med, min, max; /* seconds per call */
    long calls;           /* calls per run */
} timing;

/* Warm up, choose the calls per run so that a run lasts about `seconds`
 * (at least min_calls), then time `reps` runs; per-call median, min, max. */
static timing time_op(bench_fn run, void *ctx, int reps, double seconds, long min_calls)
{
    double t0 = tick();
    run(ctx);
    double one = tick() - t0;
    t0 = tick();
    run(ctx);
    const double two = tick() - t0;
    one = two < one ? two : one;
    long calls = (long)ceil(seconds / (one > 1e-9 ? one : 1e-9));
    if (calls < min_calls)
        calls = min_calls;
    double v[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        t0 = tick();
        for (long i = 0; i < calls; i++)
            run(ctx);
        v[r] = (tick() - t0) / calls;
    }
    timing t = {.calls = calls};
    t.med = median(v, reps);
    t.min = v[0];
    t.max = v[reps - 1];
    return t;
}

/* ---- dgemm ---- */

typedef struct gemm_case {
    const char *what;
    int m, n, k;
    int ta, tb; /* 1 = the operand is transposed */
    double gflops;
} gemm_case;

typedef struct gemm_ctx {
    const gemm_case *g;
    double *A, *B, *C;
} gemm_ctx;

static void run_gemm(void *ctx)
{
    gemm_ctx *c = ctx;
    const gemm_case *g = c->g;
    cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                g->m, g->n, g->k, 1.0, c->A, g->ta ? g->m : g->k, c->B, g->tb ? g->k : g->n, 0.0,
                c->C, g->n);
}

static int bench_gemm(gemm_case *g, int reps, double seconds)
{
    gemm_ctx c = {g, malloc((size_t)g->m * g->k * sizeof(double)),
                  malloc((size_t)g->k * g->n * sizeof(double)),
                  malloc((size_t)g->m * g->n * sizeof(double))};
    if (!c.A || !c.B || !c.C) {
        free(c.A), free(c.B), free(c.C);
        return -1;
    }
    for (size_t i = 0; i < (size_t)g->m * g->k; i++)
        c.A[i] = 1.0 / (1.0 + (double)(i % 17));
    for (size_t i = 0; i < (size_t)g->k * g->n; i++)
        c.B[i] = 1.0 / (2.0 + (double)(i % 13));
    timing t = time_op(run_gemm, &c, reps, seconds, 1);
    g->gflops = 2.0 * g->m * g->n * g->k / t.med * 1e-9;
    free(c.A), free(c.B), free(c.C);
    return 0;
}

/* ---- training iterations: the trainer's own step (train_step) ---- */

/* A romo job, B = 32, that never ends within a benchmark. */
static config bench_job(int N, int rule, long diag_every)
{
    config c;
    char err[CONFIG_ERRLEN];
    config_default(&c);
    c.task = TASK_ROMO;
    c.rule = rule;
    c.hidden = N;
    c.batch = BENCH_B;
    /* room for every step a run can take; with diagnostics their rows are
     * allocated up front, so fewer */
    c.iters = diag_every ? 200000L : 1000000000L;
    c.log_every = 1000000000L;
    c.diag_every = diag_every;
    config_resolve(&c, 0, err);
    return c;
}

static void run_step(void *ctx)
{
    train_step(ctx);
}

typedef struct train_case {
    int N, rule;
    long diag_every; /* 1: a diagnostic on every step (its cost); 0: plain */
    timing t;
    double gflops;
} train_case;

static int bench_train(train_case *tc, int reps, double seconds)
{
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    config c = bench_job(tc->N, tc->rule, tc->diag_every);
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j)
        return -1;
    tc->t = time_op(run_step, j, reps, seconds, 3);
    tc->gflops = rule_flops(tc->rule, T, BENCH_B, tc->N, I, O) / tc->t.med * 1e-9;
    const int rc = isfinite(train_step(j)) ? 0 : -1;
    train_free(j);
    return rc;
}

/* ---- held-out evaluation against a 2000-iteration job (N = 64) ---- */

static void run_eval(void *ctx)
{
    train_eval ev;
    train_evaluate(ctx, &ev);
}

typedef struct eval_case {
    timing eval;      /* one train_evaluate: 256 validation + 1024 test trials */
    double share;     /* eval / (2000 steps + eval) */
} eval_case;

static int bench_eval(eval_case *ec, double step_seconds, int reps, double seconds)
{
    config c = bench_job(64, RULE_BPTT, 0);
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j)
        return -1;
    ec->eval = time_op(run_eval, j, reps, seconds, 2);
    ec->share = ec->eval.med / (2000 * step_seconds + ec->eval.med);
    train_free(j);
    return 0;
}

/* ---- exponents and flossing at N = 256, k = 16 ---- */

typedef struct dyn_ctx {
    rnn_params p, grad;
    rnn_cache c;
    task_batch *tb;
    lyap_work *lw;
    floss_work *fw;
    double *Q0, *lam;
    double value;
} dyn_ctx;

static void run_lyap(void *ctx)
{
    dyn_ctx *d = ctx;
    d->value = lyap_driven(&d->p, ACT_TANH, 0.5, &d->c, d->Q0, BENCH_K, 0, 1, d->lam, d->lw);
}

static void run_floss(void *ctx)
{
    dyn_ctx *d = ctx;
    d->value = floss_gradient(FLOSS_FULL, &d->p, ACT_TANH, 0.5, d->tb->x, d->Q0, 0, &d->grad,
                              d->lam, d->fw);
}

typedef struct dyn_result {
    timing lyap, floss;
    double lyap_gflops, floss_gflops;
    int lyap_ok, floss_ok;
} dyn_result;

static void bench_dynamics(dyn_result *res, int reps, double seconds)
{
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    const int N = BENCH_LYAP_N, B = BENCH_B, k = BENCH_K;
    dyn_ctx d = {0};
    int ok = rnn_params_alloc(&d.p, N, I, O) == 0 && rnn_params_alloc(&d.grad, N, I, O) == 0 &&
             rnn_cache_alloc(&d.c, T, B, N, O) == 0;
    d.tb = task_batch_alloc(TASK_ROMO, B);
    d.lw = lyap_work_alloc(N, k, B);
    d.fw = floss_work_alloc(T, B, N, I, O, k);
    d.Q0 = malloc((size_t)N * k * sizeof(double));
    d.lam = malloc((size_t)B * k * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    memset(res, 0, sizeof *res);
    if (ok && d.tb && d.lw && d.Q0 && d.lam && r) {
        gsl_rng_set(r, 2);
        rnn_params_init(&d.p, 1.0, r);
        task_batch_fill(d.tb, r);
        lyap_q0(d.Q0, N, k, r);
        rnn_forward(&d.p, ACT_TANH, 0.5, d.tb->x, &d.c);
        res->lyap = time_op(run_lyap, &d, reps, seconds, 2);
        res->lyap_gflops = lyap_flops(T, B, N, k) / res->lyap.med * 1e-9;
        res->lyap_ok = d.value == 0;
        if (d.fw) {
            res->floss = time_op(run_floss, &d, reps, seconds, 2);
            res->floss_gflops = floss_flops(FLOSS_FULL, T, B, N, k) / res->floss.med * 1e-9;
            res->floss_ok = isfinite(d.value);
        }
    }
    rnn_params_free(&d.p);
    rnn_params_free(&d.grad);
    rnn_cache_free(&d.c);
    task_batch_free(d.tb);
    lyap_work_free(d.lw);
    floss_work_free(d.fw);
    free(d.Q0);
    free(d.lam);
    gsl_rng_free(r);
}

/* ---- command ---- */

static cli_opt opts[] = {
    {"reps", "R", "runs per measurement; the median is reported (default 7)", NULL},
    {"seconds", "S", "target length of one run in seconds (default 0.2)", NULL},
    {"quick", NULL, "3 runs of about 0.05 s each: a smoke test, not a measurement", NULL},
    {"cpu-time", NULL, "time with this process's CPU time instead of wall time (busy machines)", NULL},
    {"json", "FILE", "also write the results as one JSON object to FILE ('-' = stdout)", NULL},
};
enum { O_REPS, O_SECONDS, O_QUICK, O_CPU, O_JSON, NOPTS };

static cli_cmd cmd = {
    "bench", "rnnsweep bench [--reps R] [--seconds S] [--quick] [--cpu-time] [--json FILE]",
    "Time one training iteration (task batch + rule gradient + Adam step) on romo,\n"
    "B=32, N=64 and 256, for bptt, eprop and rflo; the Lyapunov exponents (N=256,\n"
    "k=16) and one full flossing step; and cblas_dgemm, single-core, at 1024^3 (the\n"
    "peak) and at the model's shapes. Times are medians of R runs; GFLOP/s count\n"
    "the matrix products. Run on an idle machine: other load shows up directly.",
    opts, NOPTS, 0};


/* ---- options ---- */

typedef struct bench_opts {
    int reps;        /* runs per measurement */
    double seconds;  /* target length of one run */
    int cpu;         /* time with CPU time */
    FILE *js;        /* --json, or NULL */
    const char *json_path;
} bench_opts;

/* Parse the options; EXIT_OK to go on, else the exit code (help: -1 -> 0). */
static int parse_opts(int argc, char **argv, bench_opts *o)
{
    int rc = cli_parse(&cmd, argc, argv, NULL, NULL);
    if (rc)
        return rc > 0 ? -1 : EXIT_USAGE;
    long reps = opts[O_QUICK].value ? 3 : 7;
    *o = (bench_opts){.seconds = opts[O_QUICK].value ? 0.05 : 0.2, .cpu = opts[O_CPU].value != NULL};
    if (opts[O_REPS].value && cli_long(&cmd, &opts[O_REPS], 1, MAX_REPS, &reps) != 0)
        return EXIT_USAGE;
    o->reps = (int)reps;
    if (opts[O_SECONDS].value && cli_real(&cmd, &opts[O_SECONDS], 1e-6, 60, &o->seconds) != 0)
        return EXIT_USAGE;
    if ((o->json_path = opts[O_JSON].value)) {
        o->js = strcmp(o->json_path, "-") == 0 ? stdout : fopen(o->json_path, "w");
        if (!o->js) {
            fprintf(stderr, "rnnsweep bench: --json: cannot write '%s'\n", o->json_path);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* ---- the cases, each printing its rows as it goes ---- */

enum { NGEMM = 7, NTRAIN = 8 };

typedef struct bench_results {
    gemm_case gemms[NGEMM];
    double peak;                 /* GFLOP/s of the square dgemm */
    train_case train[NTRAIN];    /* 3 rules x N = 64, 256; then eprop with diagnostics */
    int ntrain;
    eval_case eval;
    dyn_result dyn;
    double busy;                 /* CPU time / wall time of the whole run */
} bench_results;

static int run_gemms(bench_results *r, const bench_opts *o, FILE *out)
{
    /* The peak, then the shapes of one training step (B = 32, T*B = 1792). */
    const gemm_case cases[NGEMM] = {
        {"peak: square", 1024, 1024, 1024, 0, 0, 0},
        {"step N=256: G W_rec", 32, 256, 256, 0, 0, 0},
        {"step N=256: R W_rec^T", 32, 256, 256, 0, 1, 0},
        {"step N=64:  G W_rec", 32, 64, 64, 0, 0, 0},
        {"step N=64:  R W_rec^T", 32, 64, 64, 0, 1, 0},
        {"dW_rec N=256: U^T R", 256, 256, 1792, 1, 0, 0},
        {"dW_rec N=64:  U^T R", 64, 64, 1792, 1, 0, 0},
    };
    memcpy(r->gemms, cases, sizeof cases);
    fprintf(out, "%-24s %18s %9s %7s\n", "dgemm (row-major)", "m x n x k", "GFLOP/s", "% peak");
    for (int i = 0; i < NGEMM; i++) {
        gemm_case *g = &r->gemms[i];
        if (bench_gemm(g, o->reps, o->seconds) != 0) {
            fprintf(stderr, "rnnsweep bench: out of memory\n");
            return EXIT_FAIL;
        }
        char shape[40];
        snprintf(shape, sizeof shape, "%dx%dx%d %s%s", g->m, g->n, g->k, g->ta ? "T" : "N",
                 g->tb ? "T" : "N");
        fprintf(out, "%-24s %18s %9.1f %6.0f%%\n", g->what, shape, g->gflops,
                100 * g->gflops / r->gemms[0].gflops);
        fflush(out);
    }
    r->peak = r->gemms[0].gflops;
    return EXIT_OK;
}

static void print_train(FILE *out, const train_case *tc, double peak)
{
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    char range[40];
    snprintf(range, sizeof range, "(%.3f .. %.3f)", 1e3 * tc->t.min, 1e3 * tc->t.max);
    fprintf(out, "%-6s %5d %10.3f %19s %8.1f %8.1f %6.0f%%\n", rule_name(tc->rule),
            tc->N, 1e3 * tc->t.med, range, 1e-6 * rule_flops(tc->rule, T, BENCH_B, tc->N, I, O),
            tc->gflops, 100 * tc->gflops / peak);
    fflush(out);
}

/* Training steps per rule and N, then the cost of a diagnostic step (one
 * extra BPTT backward pass) against the plain eprop step, then the held-out
 * evaluation against the 2000 iterations of an N = 64 job. */
static int run_training(bench_results *r, const bench_opts *o, FILE *out)
{
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    static const int sizes[] = {64, 256};
    fprintf(out, "\ntraining iteration, romo T=%d B=%d (task batch + gradient + Adam)\n", T, BENCH_B);
    fprintf(out, "%-6s %5s %10s %19s %8s %8s %7s\n", "rule", "N", "ms/iter", "(min .. max)",
            "MFLOP", "GFLOP/s", "% peak");
    for (int s = 0; s < 2; s++)
        for (int rule = RULE_BPTT; rule <= RULE_RFLO; rule++) {
            train_case *tc = &r->train[r->ntrain++];
            *tc = (train_case){.N = sizes[s], .rule = rule};
            if (bench_train(tc, o->reps, o->seconds) != 0) {
                fprintf(stderr, "rnnsweep bench: training %s N=%d failed (memory or divergence)\n",
                        rule_name(rule), sizes[s]);
                return EXIT_FAIL;
            }
            print_train(out, tc, r->peak);
        }
    fprintf(out, "\ndiagnostics (diag_every): a diagnostic step against a plain one, eprop\n");
    for (int s = 0; s < 2; s++) {
        train_case *tc = &r->train[r->ntrain++];
        *tc = (train_case){.N = sizes[s], .rule = RULE_EPROP, .diag_every = 1};
        if (bench_train(tc, o->reps, o->seconds) != 0) {
            fprintf(stderr, "rnnsweep bench: diagnostic step N=%d failed\n", sizes[s]);
            return EXIT_FAIL;
        }
        const train_case *plain = &r->train[s * 3 + RULE_EPROP];
        fprintf(out, "  N=%-4d plain %8.3f ms, with diagnostics %8.3f ms: x%.2f on diagnostic steps only\n",
                tc->N, 1e3 * plain->t.med, 1e3 * tc->t.med, tc->t.med / plain->t.med);
    }
    if (bench_eval(&r->eval, r->train[0].t.med, o->reps, o->seconds) != 0) {
        fprintf(stderr, "rnnsweep bench: evaluation failed\n");
        return EXIT_FAIL;
    }
    fprintf(out, "\nheld-out evaluation (256 validation + 1024 test trials, N=64): %.2f ms, "
                 "%.2f%% of a 2000-iteration bptt job\n", 1e3 * r->eval.eval.med, 100 * r->eval.share);
    return EXIT_OK;
}

static void run_exponents(bench_results *r, const bench_opts *o, FILE *out)
{
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    dyn_result *d = &r->dyn;
    bench_dynamics(d, o->reps, o->seconds);
    fprintf(out, "\nexponents and flossing, N=%d k=%d, romo batch of %d, QR every step\n",
            BENCH_LYAP_N, BENCH_K, BENCH_B);
    fprintf(out, "%-22s %10s %19s %8s %8s %7s\n", "", "ms/call", "(min .. max)", "MFLOP",
            "GFLOP/s", "% peak");
    char range[40];
    if (d->lyap_ok) {
        snprintf(range, sizeof range, "(%.2f .. %.2f)", 1e3 * d->lyap.min, 1e3 * d->lyap.max);
        fprintf(out, "%-22s %10.2f %19s %8.1f %8.1f %6.0f%%\n", "lyap_driven", 1e3 * d->lyap.med,
                range, 1e-6 * lyap_flops(T, BENCH_B, BENCH_LYAP_N, BENCH_K), d->lyap_gflops,
                100 * d->lyap_gflops / r->peak);
    } else {
        fprintf(out, "%-22s failed\n", "lyap_driven");
    }
    if (d->floss_ok) {
        snprintf(range, sizeof range, "(%.2f .. %.2f)", 1e3 * d->floss.min, 1e3 * d->floss.max);
        fprintf(out, "%-22s %10.2f %19s %8.1f %8.1f %6.0f%%\n", "floss_gradient full",
                1e3 * d->floss.med, range,
                1e-6 * floss_flops(FLOSS_FULL, T, BENCH_B, BENCH_LYAP_N, BENCH_K), d->floss_gflops,
                100 * d->floss_gflops / r->peak);
    } else {
        fprintf(out, "%-22s failed\n", "floss_gradient full");
    }
}

/* ---- the JSON report (read by tools/bench) ---- */

static int write_json(const bench_results *r, const bench_opts *o)
{
    FILE *js = o->js;
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    fprintf(js, "{\"core\": \"%s\", \"threads\": %d, \"reps\": %d, \"seconds\": %g, "
                "\"clock\": \"%s\", \"cpu_share\": %.3f,\n",
            blasenv_core(), blasenv_threads(), o->reps, o->seconds, o->cpu ? "cpu" : "wall", r->busy);
    fprintf(js, " \"peak_gflops\": %.3f,\n \"dgemm\": [", r->peak);
    for (int i = 0; i < NGEMM; i++) {
        const gemm_case *g = &r->gemms[i];
        fprintf(js, "%s\n  {\"what\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"ta\": %d, "
                    "\"tb\": %d, \"gflops\": %.3f}", i ? "," : "", g->what, g->m, g->n, g->k, g->ta,
                g->tb, g->gflops);
    }
    fprintf(js, "],\n \"train\": [");
    for (int i = 0; i < r->ntrain; i++) {
        const train_case *t = &r->train[i];
        fprintf(js, "%s\n  {\"task\": \"romo\", \"T\": %d, \"B\": %d, \"N\": %d, "
                    "\"rule\": \"%s\", \"diag_every\": %ld, \"ms\": %.5f, \"ms_min\": %.5f, "
                    "\"ms_max\": %.5f, \"iters_per_run\": %ld, \"gflops\": %.3f}",
                i ? "," : "", T, BENCH_B, t->N, rule_name(t->rule), t->diag_every, 1e3 * t->t.med,
                1e3 * t->t.min, 1e3 * t->t.max, t->t.calls, t->gflops);
    }
    const dyn_result *d = &r->dyn;
    fprintf(js, "],\n \"eval\": {\"ms\": %.4f, \"share_of_2000_iters\": %.5f},\n",
            1e3 * r->eval.eval.med, r->eval.share);
    fprintf(js, " \"lyap\": {\"ok\": %d, \"N\": %d, \"k\": %d, \"ms\": %.4f, \"gflops\": %.3f},\n",
            d->lyap_ok, BENCH_LYAP_N, BENCH_K, 1e3 * d->lyap.med, d->lyap_gflops);
    fprintf(js, " \"floss\": {\"ok\": %d, \"mode\": \"full\", \"N\": %d, \"k\": %d, \"ms\": %.4f, "
                "\"gflops\": %.3f}}\n",
            d->floss_ok, BENCH_LYAP_N, BENCH_K, 1e3 * d->floss.med, d->floss_gflops);
    if (js != stdout && fclose(js) != 0) {
        fprintf(stderr, "rnnsweep bench: --json: error writing '%s'\n", o->json_path);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    FILE *out = o.js == stdout ? stderr : stdout;
    bench_cpu_time = o.cpu;
    const double wall0 = clock_now(), cpu0 = clock_cpu();
    fprintf(out, "rnnsweep bench: OpenBLAS core %s, %d thread(s); medians of %d runs of ~%.2g s %s\n\n",
            blasenv_core(), blasenv_threads(), o.reps, o.seconds, o.cpu ? "(CPU time)" : "(wall time)");
    static bench_results r; /* large: not on the stack */
    memset(&r, 0, sizeof r);
    if ((rc = run_gemms(&r, &o, out)) != EXIT_OK || (rc = run_training(&r, &o, out)) != EXIT_OK)
        return rc;
    run_exponents(&r, &o, out);
    /* A process that got much less than one core was sharing it: say so. */
    r.busy = (clock_cpu() - cpu0) / (clock_now() - wall0);
    fprintf(out, "\nthis process was on a CPU %.0f%% of the wall time%s\n", 100 * r.busy,
            r.busy < 0.9 ? ": the machine is busy, wall times include waiting (see --cpu-time)" : "");
    if (o.js && (rc = write_json(&r, &o)) != EXIT_OK)
        return rc;
    return r.dyn.lyap_ok && r.dyn.floss_ok ? EXIT_OK : EXIT_FAIL;
}
