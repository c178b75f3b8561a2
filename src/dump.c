/* dump.c — the verification commands `task`, `gradient` and `lyap` (SPEC §6).
 *
 * Each writes NumPy .npy files and a config.txt of canonical `key=value`
 * lines into --out DIR (outdir.h: written aside, swapped in whole, only ever
 * replacing an earlier dump), so another framework can recompute every
 * number: a task batch, the initial weights with a gradient of one batch
 * (the rule's, or the flossing objective's), and the Lyapunov exponents of
 * the initial network.  The job's random streams are the trainer's
 * (train_stream_rng), so a dump shows exactly what training starts from.
 */
#include "outdir.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/commands.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "rnnsweep/train.h"

#include <gsl/gsl_randist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_batch(outdir *o, const task_batch *tb)
{
    const size_t T = tb->T, B = tb->B;
    outdir_put_f8(o, "x.npy", tb->x, 3, T, B, tb->I);
    outdir_put_f8(o, "mask.npy", tb->mask, 2, T, B, 0);
    if (tb->xent)
        outdir_put_i8(o, "labels.npy", tb->labels, 2, T, B);
    else
        outdir_put_f8(o, "target.npy", tb->target, 3, T, B, tb->O);
}

static cli_opt task_opts[] = {{"out", "DIR", "directory to write (required)", NULL}};
static cli_cmd task_cmd = {
    "task", "rnnsweep task --task T [--batch B] [--seed S] --out DIR",
    "Write the first training batch of the job: x.npy (T,B,I), mask.npy (T,B), and\n"
    "target.npy (T,B,O) for romo or labels.npy (T,B) for 2af/dms; plus config.txt.",
    task_opts, 1, 1};

int cmd_task(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&task_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (cli_resolve(&task_cmd, &c, 0))
        return EXIT_USAGE;
    gsl_rng *r = train_stream_rng(c.seed, STREAM_TASK);
    task_batch *tb = task_batch_alloc(c.task, (int)c.batch);
    if (!r || !tb) {
        fprintf(stderr, "rnnsweep task: out of memory\n");
        gsl_rng_free(r);
        task_batch_free(tb);
        return EXIT_FAIL;
    }
    task_batch_fill(tb, r);
    outdir o;
    rc = EXIT_USAGE;
    if (outdir_open(&o, "task", task_opts[0].value) == 0) {
        put_batch(&o, tb);
        outdir_put_config(&o, &c, "");
        rc = outdir_close(&o, "task");
    }
    gsl_rng_free(r);
    task_batch_free(tb);
    return rc;
}

static cli_opt grad_opts[] = {
    {"out", "DIR", "directory to write (required)", NULL},
    {"objective", "task|floss", "task: the rule's gradient of the task loss (default); "
                                "floss: the flossing objective's gradient", NULL},
};
static cli_cmd grad_cmd = {
    "gradient", "rnnsweep gradient [job options] [--objective task|floss] --out DIR",
    "One batch at initialisation: the batch files of `rnnsweep task`, the weights\n"
    "(W_in W_rec b W_out b_out, and B_fb for rflo), y.npy (T,B,O), loss.npy (), and\n"
    "grad_<name>.npy for each tensor (zeros where the objective does not reach).\n"
    "floss also writes Q0.npy (N,floss_k) and lyap.npy (B,floss_k); loss is then F.",
    grad_opts, 2, 1};

int cmd_gradient(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&grad_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    const char *obj = grad_opts[1].value ? grad_opts[1].value : "task";
    const int floss = strcmp(obj, "floss") == 0;
    if (!floss && strcmp(obj, "task") != 0) {
        fprintf(stderr, "rnnsweep gradient: --objective: unknown value '%s' (choose task or floss)\n",
                obj);
        return EXIT_USAGE;
    }
    /* config_resolve resets floss_target for a job that does not floss, but
     * the floss objective of this dump uses it */
    const double floss_target = c.floss_target;
    if (cli_resolve(&grad_cmd, &c, 0))
        return EXIT_USAGE;
    if (floss)
        c.floss_target = floss_target;
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j) {
        fprintf(stderr, "rnnsweep gradient: %s\n", err);
        return EXIT_FAIL;
    }
    const rnn_params *p = train_params(j);
    const task_batch *tb = train_next_batch(j);
    const int T = tb->T, B = tb->B, N = p->N, I = p->I, O = p->O, k = (int)c.floss_k;
    rnn_params g = {0};
    rnn_cache cache = {0};
    rule_work *rw = rule_work_alloc(T, B, N, I, O);
    floss_work *fw = floss ? floss_work_alloc(T, B, N, I, O, k) : NULL;
    double *lam = malloc((size_t)B * k * sizeof(double));
    outdir o;
    rc = EXIT_FAIL;
    if (rnn_params_alloc(&g, N, I, O) || rnn_cache_alloc(&cache, T, B, N, O) || !rw || !lam ||
        (floss && !fw)) {
        fprintf(stderr, "rnnsweep gradient: out of memory\n");
    } else if (outdir_open(&o, "gradient", grad_opts[0].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        double loss;
        if (floss) {
            floss_work_set_target(fw, c.floss_target);
            loss = floss_gradient(c.floss_mode, p, c.activation, c.alpha, tb->x,
                                  train_q0(j, 1), (int)c.lyap_warmup, &g, lam, fw);
            rnn_forward(p, c.activation, c.alpha, tb->x, &cache);
        } else {
            loss = rule_gradient(c.rule, p, train_feedback(j), c.activation, c.alpha, tb,
                                 &cache, &g, rw);
        }
        put_batch(&o, tb);
        outdir_put_params(&o, p, "");
        if (c.rule == RULE_RFLO)
            outdir_put_f8(&o, "B_fb.npy", train_feedback(j), 2, N, O, 0);
        outdir_put_f8(&o, "y.npy", cache.y, 3, T, B, O);
        outdir_put_f8(&o, "loss.npy", &loss, 0, 0, 0, 0);
        outdir_put_params(&o, &g, "grad_");
        char extra[128];
        snprintf(extra, sizeof extra, "objective=%s\n", obj);
        /* floss_target is omitted from the canonical text at its default;
         * a floss dump names it anyway (floss_mode is always there) */
        const int kt = config_key_find("floss_target");
        if (floss && config_is_default(&c, kt)) {
            char v[64];
            config_get(&c, kt, v, sizeof v);
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "floss_target=%s\n", v);
        }
        if (floss) {
            outdir_put_f8(&o, "Q0.npy", train_q0(j, 1), 2, N, k, 0);
            outdir_put_f8(&o, "lyap.npy", lam, 2, B, k, 0);
        }
        outdir_put_config(&o, &c, extra);
        rc = outdir_close(&o, "gradient");
    }
    free(lam);
    floss_work_free(fw);
    rule_work_free(rw);
    rnn_cache_free(&cache);
    rnn_params_free(&g);
    train_free(j);
    return rc;
}

static cli_opt lyap_opts[] = {
    {"out", "DIR", "directory to write (required)", NULL},
    {"autonomous", NULL, "no input; h0 ~ N(0,1) per unit, written as h0.npy (B,N)", NULL},
    {"steps", "T", "steps of the autonomous run (default 1000)", NULL},
};
static cli_cmd lyap_cmd = {
    "lyap", "rnnsweep lyap [job options] [--autonomous --steps T] --out DIR",
    "The first lyap_k Lyapunov exponents of the initial network, per trial, by the\n"
    "QR method with J_t = (1-alpha) I + alpha W_rec diag(f'(h_{t-1})): along the\n"
    "first training batch's inputs from h_0 = 0, or autonomously from random h0.\n"
    "Writes the weights, x.npy (zeros when autonomous), h0.npy (autonomous), Q0.npy\n"
    "(N,k), lyap.npy (B,k) in nats per step, and config.txt. Prints mean ± sd.",
    lyap_opts, 3, 1};

int cmd_lyap(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&lyap_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    const int autonomous = lyap_opts[1].value != NULL;
    long steps = 0;
    if (lyap_opts[2].value && !autonomous) {
        fprintf(stderr, "rnnsweep lyap: --steps applies only with --autonomous\n");
        return EXIT_USAGE;
    }
    if (autonomous) {
        steps = 1000;
        if (lyap_opts[2].value && cli_long(&lyap_cmd, &lyap_opts[2], 1, 100000000, &steps))
            return EXIT_USAGE;
    }
    if (cli_resolve(&lyap_cmd, &c, steps))
        return EXIT_USAGE;
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j) {
        fprintf(stderr, "rnnsweep lyap: %s\n", err);
        return EXIT_FAIL;
    }
    const rnn_params *p = train_params(j);
    const task_batch *tb = train_next_batch(j);
    const int B = tb->B, N = p->N, I = p->I, O = p->O, k = (int)c.lyap_k;
    const int T = autonomous ? (int)steps : tb->T;
    double *lam = malloc((size_t)B * k * sizeof(double));
    double *h0 = autonomous ? malloc((size_t)B * N * sizeof(double)) : NULL;
    double *x0 = autonomous ? calloc((size_t)T * B * I, sizeof(double)) : NULL;
    lyap_work *lw = lyap_work_alloc(N, k, B);
    rnn_cache cache = {0};
    int ok = lam && lw && (!autonomous || (h0 && x0)) &&
             (autonomous || rnn_cache_alloc(&cache, T, B, N, O) == 0);
    outdir o;
    rc = EXIT_FAIL;
    if (!ok) {
        fprintf(stderr, "rnnsweep lyap: out of memory\n");
    } else if (outdir_open(&o, "lyap", lyap_opts[0].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        int lrc;
        if (autonomous) {
            gsl_rng *r = train_stream_rng(c.seed, STREAM_H0);
            for (size_t i = 0; i < (size_t)B * N; i++)
                h0[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
            gsl_rng_free(r);
            lrc = lyap_autonomous(p, c.activation, c.alpha, h0, T, train_q0(j, 0), k,
                                  (int)c.lyap_warmup, (int)c.lyap_every_qr, lam, lw);
        } else {
            rnn_forward(p, c.activation, c.alpha, tb->x, &cache);
            lrc = lyap_driven(p, c.activation, c.alpha, &cache, train_q0(j, 0), k,
                              (int)c.lyap_warmup, (int)c.lyap_every_qr, lam, lw);
        }
        o.failed |= lrc != 0;
        outdir_put_params(&o, p, "");
        outdir_put_f8(&o, "x.npy", autonomous ? x0 : tb->x, 3, T, B, I);
        if (autonomous)
            outdir_put_f8(&o, "h0.npy", h0, 2, B, N, 0);
        outdir_put_f8(&o, "Q0.npy", train_q0(j, 0), 2, N, k, 0);
        outdir_put_f8(&o, "lyap.npy", lam, 2, B, k, 0);
        char extra[96];
        snprintf(extra, sizeof extra, "autonomous=%d\nsteps=%d\n", autonomous, T);
        outdir_put_config(&o, &c, extra);
        for (int i = 0; i < k && !o.failed; i++) {
            double mean, sd;
            lyap_mean_sd(lam, B, k, i, &mean, &sd);
            printf("lambda_%d = %.6f ± %.6f nats/step (%.6f per tau)\n", i + 1, mean, sd,
                   mean / c.alpha);
        }
        rc = outdir_close(&o, "lyap");
    }
    rnn_cache_free(&cache);
    lyap_work_free(lw);
    free(x0);
    free(h0);
    free(lam);
    train_free(j);
    return rc;
}
