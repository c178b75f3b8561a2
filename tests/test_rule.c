/* test_rule.c — the learning rules against independent references.
 *
 *   bptt  == central finite differences of the loss, every element of every
 *            tensor, each task, tanh and relu (norm-wise relative error < 1e-6);
 *   eprop (truncated backward) == eprop online eligibility traces (1e-12);
 *   eprop == bptt when W_rec = 0 (1e-12);
 *   rflo  == eprop when B_fb = W_out^T (1e-12);
 *   rflo and eprop readout gradients == bptt's (1e-12).
 * Prints the worst deviation of every check; exits nonzero on any failure.
 */
#include "rnnsweep/blasenv.h"
#include "rnnsweep/config.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Norm-wise relative difference ||a - b|| / max(||a||, ||b||, tiny). */
static double reldiff(const double *a, const double *b, size_t n)
{
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    double s = sqrt(na > nb ? na : nb);
    return sqrt(d) / (s > 1e-300 ? s : 1e-300);
}

typedef struct fixture {
    int task, act, T, B, N, I, O;
    double alpha;
    rnn_params p, g, g2, fd;
    rnn_cache c;
    task_batch *tb;
    rule_work *w;
    double *B_fb;
} fixture;

static void setup(fixture *f, int task, int act, int N, int B, double gain, unsigned long seed)
{
    memset(f, 0, sizeof *f);
    f->task = task;
    f->act = act;
    f->N = N;
    f->B = B;
    task_dims(task, &f->T, &f->I, &f->O);
    f->alpha = task_default_alpha(task);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    rnn_params_alloc(&f->p, N, f->I, f->O);
    rnn_params_alloc(&f->g, N, f->I, f->O);
    rnn_params_alloc(&f->g2, N, f->I, f->O);
    rnn_params_alloc(&f->fd, N, f->I, f->O);
    rnn_params_init(&f->p, gain, r);
    /* Nonzero biases so that their gradients are exercised away from 0. */
    for (int i = 0; i < N; i++)
        f->p.b[i] = 0.1 * (gsl_rng_uniform(r) - 0.5);
    for (int o = 0; o < f->O; o++)
        f->p.b_out[o] = 0.1 * (gsl_rng_uniform(r) - 0.5);
    rnn_cache_alloc(&f->c, f->T, B, N, f->O);
    f->tb = task_batch_alloc(task, B);
    task_batch_fill(f->tb, r);
    f->w = rule_work_alloc(f->T, B, N, f->I, f->O);
    f->B_fb = malloc((size_t)N * f->O * sizeof(double));
    rule_feedback_init(f->B_fb, N, f->O, r);
    gsl_rng_free(r);
}

static void teardown(fixture *f)
{
    rnn_params_free(&f->p);
    rnn_params_free(&f->g);
    rnn_params_free(&f->g2);
    rnn_params_free(&f->fd);
    rnn_cache_free(&f->c);
    task_batch_free(f->tb);
    rule_work_free(f->w);
    free(f->B_fb);
}

static double loss_at(fixture *f)
{
    rnn_forward(&f->p, f->act, f->alpha, f->tb->x, &f->c);
    return task_loss(f->tb, f->c.y, NULL);
}

/* 1 if any unit of the cached trajectory has another relu branch than in sign. */
static int branch_changed(const fixture *f, const unsigned char *sign)
{
    const size_t n = (size_t)(f->T + 1) * f->B * f->N;
    for (size_t i = 0; i < n; i++)
        if ((f->c.h[i] > 0) != sign[i])
            return 1;
    return 0;
}

/* BPTT vs central differences, per tensor.  relu's loss is smooth only
 * between kinks: a difference whose +-eps evaluations put a unit on the other
 * side of 0 is redone with a step ten times smaller (down to 1e-8). */
static void check_fd(int task, int act)
{
    fixture f;
    setup(&f, task, act, 12, 3, 1.5, 11 + task * 7 + act);
    rule_gradient(RULE_BPTT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    const size_t nh = (size_t)(f.T + 1) * f.B * f.N;
    unsigned char *sign = malloc(nh);
    for (size_t i = 0; i < nh; i++)
        sign[i] = f.c.h[i] > 0;
    int redone = 0;
    for (size_t i = 0; i < f.p.size; i++) {
        const double keep = f.p.data[i];
        for (double eps = 1e-5; eps >= 1e-8; eps /= 10) {
            f.p.data[i] = keep + eps;
            const double lp = loss_at(&f);
            int changed = act == ACT_RELU && branch_changed(&f, sign);
            f.p.data[i] = keep - eps;
            const double lm = loss_at(&f);
            changed |= act == ACT_RELU && branch_changed(&f, sign);
            f.fd.data[i] = (lp - lm) / (2 * eps);
            if (!changed)
                break;
            redone++;
        }
        f.p.data[i] = keep;
    }
    if (redone)
        printf("     (%d relu differences redone with a smaller step)\n", redone);
    free(sign);
    for (int t = 0; t < RNN_NTENSORS; t++) {
        int rows, cols;
        char what[96];
        rnn_tensor_shape(&f.p, t, &rows, &cols);
        snprintf(what, sizeof what, "bptt vs finite differences %s %s d%s",
                 config_enum_name("task", task), config_enum_name("activation", act),
                 rnn_tensor_name(t));
        check(what, reldiff(rnn_tensor(&f.g, t), rnn_tensor(&f.fd, t), (size_t)rows * cols), 1e-6);
    }
    teardown(&f);
}

static void check_eprop_forms(int task, int act)
{
    fixture f;
    char what[96];
    setup(&f, task, act, 10, 4, 1.2, 101 + task);
    rule_gradient(RULE_EPROP, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_eprop_online(&f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    snprintf(what, sizeof what, "eprop truncated == online traces %s %s",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.data, f.g2.data, f.p.size), 1e-12);

    rule_gradient(RULE_RFLO, &f.p, f.B_fb, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_eprop_online(&f.p, f.B_fb, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    snprintf(what, sizeof what, "rflo truncated == online traces %s %s",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.data, f.g2.data, f.p.size), 1e-12);

    /* Readout gradients are exact for every rule. */
    rule_gradient(RULE_BPTT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    size_t ro = (size_t)f.O * f.N + f.O;
    snprintf(what, sizeof what, "rflo readout gradient == bptt's %s", config_enum_name("task", task));
    check(what, reldiff(f.g.W_out, f.g2.W_out, ro), 1e-12);

    /* rflo with B_fb = W_out^T is eprop. */
    for (int n = 0; n < f.N; n++)
        for (int o = 0; o < f.O; o++)
            f.B_fb[(size_t)n * f.O + o] = f.p.W_out[(size_t)o * f.N + n];
    rule_gradient(RULE_RFLO, &f.p, f.B_fb, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_gradient(RULE_EPROP, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    snprintf(what, sizeof what, "rflo(B_fb = W_out^T) == eprop %s %s",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.data, f.g2.data, f.p.size), 1e-12);

    /* With W_rec = 0 the dropped term vanishes: eprop == bptt. */
    memset(f.p.W_rec, 0, (size_t)f.N * f.N * sizeof(double));
    rule_gradient(RULE_EPROP, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_gradient(RULE_BPTT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    snprintf(what, sizeof what, "eprop == bptt at W_rec = 0 %s %s",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.data, f.g2.data, f.p.size), 1e-12);
    /* ... and not otherwise (the test can tell them apart). */
    teardown(&f);
    setup(&f, task, act, 10, 4, 1.2, 101 + task);
    rule_gradient(RULE_EPROP, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_gradient(RULE_BPTT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    snprintf(what, sizeof what, "eprop != bptt at gain 1.2 (W_rec gradients differ) %s",
             config_enum_name("task", task));
    check(what, 1e-3 / (reldiff(f.g.W_rec, f.g2.W_rec, (size_t)f.N * f.N) + 1e-300), 1.0);
    teardown(&f);
}

/* readout (the reservoir control): W_out and b_out against central finite
 * differences and equal to BPTT's readout gradient; W_in, W_rec, b exactly 0. */
static void check_readout(int task, int act)
{
    fixture f;
    char what[96];
    setup(&f, task, act, 12, 3, 1.5, 211 + task * 7 + act);
    rule_gradient(RULE_READOUT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g, f.w);
    rule_gradient(RULE_BPTT, &f.p, NULL, act, f.alpha, f.tb, &f.c, &f.g2, f.w);
    const size_t nout = (size_t)f.O * f.N + f.O, nin = f.p.size - nout;
    double nz = 0;
    for (size_t i = 0; i < nin; i++) /* W_in, W_rec, b come first in the flat vector */
        nz += f.g.data[i] != 0.0;
    snprintf(what, sizeof what, "readout: dW_in, dW_rec, db exactly 0 (%s %s)",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, nz, 0);
    snprintf(what, sizeof what, "readout: dW_out, db_out == bptt's (%s %s)",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.W_out, f.g2.W_out, nout), 1e-14);
    /* central differences of the readout tensors (the loss is quadratic or
     * log-sum-exp in them: smooth whatever the activation) */
    double *fd = malloc(nout * sizeof *fd);
    for (size_t i = 0; i < nout; i++) {
        double *x = f.p.W_out + i;
        const double keep = *x, eps = 1e-5;
        *x = keep + eps;
        const double lp = loss_at(&f);
        *x = keep - eps;
        const double lm = loss_at(&f);
        *x = keep;
        fd[i] = (lp - lm) / (2 * eps);
    }
    snprintf(what, sizeof what, "readout vs finite differences dW_out, db_out (%s %s)",
             config_enum_name("task", task), config_enum_name("activation", act));
    check(what, reldiff(f.g.W_out, fd, nout), 1e-6);
    free(fd);
    teardown(&f);
}

int main(int argc, char **argv)
{
    (void)argc;
    blasenv_ensure(argv);
    for (int task = 0; task < 3; task++)
        for (int act = 0; act < 2; act++) {
            check_fd(task, act);
            check_eprop_forms(task, act);
            check_readout(task, act);
        }
    return check_summary("test_rule");
}
