/* cmd_train.c — `rnnsweep train`: one job in the foreground.
 *
 * The learning curve goes to stdout as CSV (`iter,loss,accuracy`), so it can
 * be piped or redirected; everything for the human — BLAS core, a progress
 * line with rate and ETA about once a second, the Lyapunov exponents of each
 * phase, the final status — goes to stderr.
 */
#include "rnnsweep/blasenv.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/clock.h"
#include "rnnsweep/commands.h"
#include "rnnsweep/train.h"

#include <stdio.h>
#include <unistd.h>

typedef struct meter {
    double t0, last;
    int tty;
    const config *cfg;
} meter;

static int on_progress(void *ctx, int phase, long it, long total, double loss)
{
    meter *m = ctx;
    const double t = clock_now();
    if (t - m->last < 1.0 && it < total)
        return 0;
    m->last = t;
    const double rate = it / (t - m->t0 > 1e-9 ? t - m->t0 : 1e-9);
    fprintf(stderr, "%s%s %ld/%ld  %s %.6g  %.1f it/s  ETA %.0f s%s",
            m->tty ? "\r" : "", train_phase_name(phase), it, total,
            phase == PHASE_FLOSS ? "F" : "loss", loss, rate, (total - it) / (rate > 0 ? rate : 1),
            m->tty ? "   " : "\n");
    if (m->tty && it >= total)
        fputc('\n', stderr);
    if (phase == PHASE_FLOSS && it >= total)
        m->t0 = clock_now(); /* training rate starts afresh */
    return 0;
}

static void on_curve(void *ctx, const train_curve_row *r)
{
    (void)ctx;
    printf("%ld,%.10g,%.6g\n", r->iter, r->loss, r->accuracy);
    fflush(stdout);
}

static void on_lyap(void *ctx, const train_lyap_row *rows, int k)
{
    meter *m = ctx;
    if (m->tty)
        fputc('\n', stderr);
    fprintf(stderr, "lyapunov %s (iter %ld), nats/step [x%.3g for 1/tau]:",
            train_phase_name(rows[0].phase),
            rows[0].iter, 1.0 / m->cfg->alpha);
    for (int i = 0; i < k; i++)
        fprintf(stderr, " %.5f±%.5f", rows[i].mean, rows[i].sd);
    fputc('\n', stderr);
}

static cli_cmd cmd = {
    "train", "rnnsweep train [job options]",
    "Train one job: initial exponents, optional flossing pretraining, training,\n"
    "exponents after each phase. Curve rows (iter,loss,accuracy) go to stdout;\n"
    "iter i is the loss of the batch drawn at i with the parameters after i updates.",
    NULL, 0, 1};

static void on_diag(void *ctx, const train_diag_row *rows, int n)
{
    (void)ctx;
    fprintf(stderr, "diagnostics (iter %ld):", rows[0].iter);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s %.6g", train_diag_name(rows[i].name), rows[i].value);
    fputc('\n', stderr);
}

int cmd_train(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (cli_resolve(&cmd, &c, 0))
        return EXIT_USAGE;
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j) {
        fprintf(stderr, "rnnsweep train: %s\n", err);
        return EXIT_FAIL;
    }
    fprintf(stderr, "rnnsweep train: %s/%s N=%ld B=%ld gain=%g lr=%g seed=%ld; OpenBLAS core %s, %d thread(s)\n",
            task_name(c.task), rule_name(c.rule), c.hidden, c.batch,
            c.gain, c.lr, c.seed, blasenv_core(), blasenv_threads());
    meter m = {clock_now(), clock_now(), isatty(2), &c};
    train_hooks h = {.ctx = &m, .progress = on_progress, .curve = on_curve, .lyap = on_lyap,
                     .diag = on_diag};
    printf("iter,loss,accuracy\n");
    const int status = train_run(j, &h);
    const long done = train_iter(j) < c.iters ? train_iter(j) : c.iters;
    fprintf(stderr, "status: %s after %ld of %ld iterations, %.2f s\n", train_status_name(status),
            done, c.iters,
            clock_now() - m.t0);
    if (status == TRAIN_DONE) {
        train_eval ev;
        const double t = clock_now();
        train_evaluate(j, &ev);
        fprintf(stderr, "validation (%ld trials, choose lr on these): loss %.6g  accuracy %.4f\n"
                        "test (%ld trials, report these):             loss %.6g  accuracy %.4f\n"
                        "evaluation took %.3f s\n",
                c.val_batch, ev.val_loss, ev.val_accuracy, c.test_batch, ev.test_loss,
                ev.test_accuracy, clock_now() - t);
    }
    train_free(j);
    return EXIT_OK;
}
