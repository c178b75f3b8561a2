/* test_init.c — the W_rec families of init.c (SPEC §9) and Dale's law through learning.
 *
 * 1. gaussian is bit-identical to the initialisation before the families
 *    existed: FNV-1a checksums of W_rec and of all parameters of
 *    train_alloc'ed jobs equal literals printed by commit e9afea4.
 * 2. orthogonal: W W^T = g^2 I to 1e-12.
 * 3. sparse (N = 400): the number of nonzeros is within the 1e-6 two-sided
 *    binomial bounds of density N^2 (normal approximation, 5 sd), and the
 *    sum of squares of the nonzeros over g^2/(density N) within the 1e-6
 *    chi-square quantiles with that many degrees of freedom.
 * 4. dale: every column has its sign and N_E = round(frac_exc N) exactly;
 *    rows sum to 0 (each matrix to 1e-12, and the mean over 400 seeds within
 *    5 standard errors); at N = 400 (GSL eigenvalues, 5 seeds) the bulk
 *    radius, |lambda| holding 99% of the eigenvalues, is within 10% of g
 *    and the spectral radius within 15%; after 200 iterations of each
 *    rule (with interleaved flossing every 10) and after 50 flossing steps
 *    of each flossing mode, through train_run, every weight still has its
 *    column's sign, and the clamp did act (some weights are exactly 0).
 * 5. lowrank with g = 1e-6: exactly lowrank_rank dominant singular values
 *    (ratio of the last of them to the next > 10) for ranks 1 and 3.
 * 6. gain_norm = radius: spectral radius = g to 1e-10 for every family.
 * Exits non-zero on any failure.
 */
#include "rnnsweep/config.h"
#include "rnnsweep/init.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/train.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include "check.h"

static uint64_t fnv(const void *d, size_t n)
{
    const unsigned char *p = d;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* A resolved config: defaults, then "key=value" pairs. */
static config make_config(const char *const *kv, int n)
{
    config c;
    char err[CONFIG_ERRLEN];
    config_default(&c);
    for (int i = 0; i < n; i++) {
        char key[64];
        const char *eq = strchr(kv[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        if (config_set(&c, config_key_find(key), eq + 1, err) != 0)
            check_true(0, kv[i], "%s", err);
    }
    if (config_resolve(&c, 0, err) != 0)
        check_true(0, "config_resolve", "%s", err);
    return c;
}

/* W_rec (N,N) of a family for N, g, seed (job init stream); caller frees. */
static double *draw(const char *init, int N, double g, long seed, const char *extra)
{
    char kv[4][64];
    snprintf(kv[0], 64, "init=%s", init);
    snprintf(kv[1], 64, "hidden=%d", N);
    snprintf(kv[2], 64, "gain=%.17g", g);
    snprintf(kv[3], 64, "%s", extra ? extra : "");
    const char *p[4] = {kv[0], kv[1], kv[2], kv[3]};
    config c = make_config(p, extra ? 4 : 3);
    rnn_params par;
    rnn_params_alloc(&par, N, 1, 2);
    gsl_rng *r = train_stream_rng(seed, STREAM_INIT);
    char err[INIT_ERRLEN];
    init_spec s;
    config_init_spec(&c, &s);
    if (init_params(&par, &s, r, err) != 0)
        check_true(0, "init_params", "%s", err);
    gsl_rng_free(r);
    double *W = malloc((size_t)N * N * sizeof(double));
    memcpy(W, par.W_rec, (size_t)N * N * sizeof(double));
    rnn_params_free(&par);
    return W;
}

/* |eigenvalues| of A (N,N), sorted descending, into a (N). */
static int cmp_desc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void abs_eigs(const double *A, int N, double *a)
{
    gsl_matrix *M = gsl_matrix_alloc(N, N);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(N);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(N);
    memcpy(M->data, A, (size_t)N * N * sizeof(double));
    if (gsl_eigen_nonsymm(M, ev, w) != GSL_SUCCESS)
        check_true(0, "gsl_eigen_nonsymm", NULL);
    for (int i = 0; i < N; i++)
        a[i] = gsl_complex_abs(gsl_vector_complex_get(ev, i));
    qsort(a, N, sizeof(double), cmp_desc);
    gsl_matrix_free(M);
    gsl_vector_complex_free(ev);
    gsl_eigen_nonsymm_free(w);
}

/* 1. Literals printed by e9afea4 (train_alloc, gain 1.5, romo). */
static void gaussian_identical(void)
{
    static const struct { long seed, N; uint64_t wrec, all; } ref[] = {
        {0, 64, 0xadded0972a142935ULL, 0x553d9a0b17c1de1dULL},
        {1, 64, 0x27958a9dec8fd025ULL, 0xe9cde91e3a0b506bULL},
        {12345, 64, 0x42850e692f595c8fULL, 0x9e26a1a38f1af288ULL},
        {0, 50, 0xdd46b46247a8ded1ULL, 0x84ab9027fb06f7a0ULL},
        {1, 50, 0x5e8631bfe7d0c394ULL, 0x83b9068557b5c4e9ULL},
        {12345, 50, 0x6a6e8eee52864b6eULL, 0x87112d24f114df61ULL},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char s[32], n[32], line[160], err[256];
        snprintf(s, sizeof s, "seed=%ld", ref[i].seed);
        snprintf(n, sizeof n, "hidden=%ld", ref[i].N);
        const char *kv[3] = {s, n, "gain=1.5"};
        config c = make_config(kv, 3);
        train_job *j = train_alloc(&c, err);
        const rnn_params *p = train_params_init(j);
        const uint64_t w = fnv(p->W_rec, sizeof(double) * p->N * p->N);
        const uint64_t a = fnv(p->data, sizeof(double) * p->size);
        snprintf(line, sizeof line, "gaussian seed %ld N %ld: W_rec, all params bit-identical to e9afea4",
                 ref[i].seed, ref[i].N);
        check(line, w == ref[i].wrec && a == ref[i].all ? 0.0 : 1.0, 0.0);
        train_free(j);
    }
}

/* 2. */
static void orthogonal(void)
{
    const int Ns[2] = {64, 400};
    for (int t = 0; t < 2; t++) {
        const int N = Ns[t];
        const double g = 1.5;
        double *W = draw("orthogonal", N, g, 3, NULL), dev = 0.0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N; k++) {
                double s = 0.0;
                for (int j = 0; j < N; j++)
                    s += W[(size_t)i * N + j] * W[(size_t)k * N + j];
                dev = fmax(dev, fabs(s - (i == k ? g * g : 0.0)));
            }
        char line[128];
        snprintf(line, sizeof line, "orthogonal N=%d g=%.1f: max |W W^T - g^2 I|", N, g);
        check(line, dev, 1e-12);
        free(W);
    }
}

/* 3. */
static void sparse(void)
{
    const int N = 400;
    const double g = 1.5, d = 0.1;
    double *W = draw("sparse", N, g, 5, "density=0.1");
    size_t K = 0;
    double ss = 0.0;
    for (size_t q = 0; q < (size_t)N * N; q++)
        if (W[q] != 0.0) {
            K++;
            ss += W[q] * W[q];
        }
    const double n2 = (double)N * N, mean = d * n2, sd = sqrt(n2 * d * (1 - d));
    char line[160];
    snprintf(line, sizeof line, "sparse N=400 density=0.1: nonzeros %zu vs %.0f, in sd units (5 sd)",
             K, mean);
    check(line, fabs((double)K - mean) / sd, 5.0);
    /* sum of K squared N(0, s2) values / s2 ~ chi-square(K) */
    const double s2 = g * g / (d * N), x = ss / s2;
    const double lo = gsl_cdf_chisq_Pinv(1e-6, (double)K), hi = gsl_cdf_chisq_Qinv(1e-6, (double)K);
    snprintf(line, sizeof line, "sparse: variance %.5f vs g^2/(dN) %.5f; chi2 %.0f in [%.0f, %.0f]",
             ss / K, s2, x, lo, hi);
    check(line, x >= lo && x <= hi ? 0.0 : 1.0, 0.0);
    free(W);
}

/* Worst sign violation of W (N,N) for N_E excitatory columns; zeros counted. */
static double sign_violation(const double *W, int N, int ne, size_t *zeros)
{
    double worst = 0.0;
    *zeros = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            const double w = W[(size_t)i * N + j];
            worst = fmax(worst, j < ne ? -w : w);
            *zeros += w == 0.0;
        }
    return worst;
}

/* 4a-c. */
static void dale_init(void)
{
    char line[160];
    const int Ns[2] = {64, 400};
    for (int t = 0; t < 2; t++) {
        const int N = Ns[t];
        double *W = draw("dale", N, 1.5, 7, "frac_exc=0.8");
        const char *kv[2] = {"init=dale", t ? "hidden=400" : "hidden=64"};
        config c = make_config(kv, 2);
        init_spec s;
        config_init_spec(&c, &s);
        const int ne = init_dale_n_exc(&s, N), want = (int)lround(0.8 * N);
        size_t zeros;
        const double v = sign_violation(W, N, ne, &zeros);
        double rs = 0.0;
        for (int i = 0; i < N; i++) {
            double s = 0.0;
            for (int j = 0; j < N; j++)
                s += W[(size_t)i * N + j];
            rs = fmax(rs, fabs(s));
        }
        snprintf(line, sizeof line, "dale N=%d: N_E = %d (want %d), column signs (worst violation)",
                 N, ne, want);
        check(line, ne == want ? fmax(v, 0.0) : 1.0, 0.0);
        snprintf(line, sizeof line, "dale N=%d: every row sums to 0 (max |row sum|)", N);
        check(line, rs, 1e-12);
        free(W);
    }
    /* expected row sums: mean over seeds */
    const int N = 100, S = 400;
    const double g = 1.5;
    double *mean = calloc(N, sizeof(double)), all = 0.0;
    for (int s = 0; s < S; s++) {
        double *W = draw("dale", N, g, 1000 + s, NULL);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                mean[i] += W[(size_t)i * N + j] / S;
        free(W);
    }
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        worst = fmax(worst, fabs(mean[i]));
        all += mean[i] / N;
    }
    /* a row sum has sd <= g (its variance is at most the sum of the entries'
     * variances, g^2); over S seeds the mean has sd g/sqrt(S) */
    snprintf(line, sizeof line, "dale N=100: row sums, mean over %d seeds, worst row (5 se = %.3f)",
             S, 5 * g / sqrt(S));
    check(line, worst, 5 * g / sqrt(S));
    check("dale N=100: row sums, mean over seeds and rows (5 se)", fabs(all), 5 * g / sqrt((double)S * N));
    free(mean);

    /* bulk spectral radius at N = 400: the radius holding 99% of the
     * eigenvalues (the 5th largest |lambda|, leaving out the finite-N
     * overshoot of the few largest), and the spectral radius itself */
    const int M = 400;
    double bulk[5], rad[5], *a = malloc(M * sizeof(double));
    for (int s = 0; s < 5; s++) {
        double *W = draw("dale", M, g, 20 + s, NULL);
        abs_eigs(W, M, a);
        rad[s] = a[0] / g;
        bulk[s] = a[4] / g;
        free(W);
    }
    double wb = 0.0, wr = 0.0;
    for (int s = 0; s < 5; s++) {
        wb = fmax(wb, fabs(bulk[s] - 1));
        wr = fmax(wr, fabs(rad[s] - 1));
    }
    printf("     dale N=400 g=1.5, 5 seeds: bulk radius / g %.3f %.3f %.3f %.3f %.3f, "
           "spectral radius / g %.3f %.3f %.3f %.3f %.3f\n",
           bulk[0], bulk[1], bulk[2], bulk[3], bulk[4], rad[0], rad[1], rad[2], rad[3], rad[4]);
    check("dale N=400: |bulk radius (99% of eigenvalues) / g - 1|, worst of 5 seeds", wb, 0.10);
    check("dale N=400: |spectral radius / g - 1|, worst of 5 seeds", wr, 0.15);
    free(a);
}

/* 4d. A dale job through train_run: signs of the final W_rec. */
static void dale_training(const char *const *kv, int n, const char *what)
{
    char err[256], line[200];
    config c = make_config(kv, n);
    train_job *j = train_alloc(&c, err);
    if (!j) {
        check_true(0, what, "%s", err);
        return;
    }
    const int st = train_run(j, NULL);
    const rnn_params *p = train_params(j), *p0 = train_params_init(j);
    init_spec s;
    config_init_spec(&c, &s);
    const int N = p->N, ne = init_dale_n_exc(&s, N);
    size_t zeros, zeros0;
    const double v0 = sign_violation(p0->W_rec, N, ne, &zeros0);
    const double v = sign_violation(p->W_rec, N, ne, &zeros);
    double moved = 0.0;
    for (size_t q = 0; q < (size_t)N * N; q++)
        moved = fmax(moved, fabs(p->W_rec[q] - p0->W_rec[q]));
    snprintf(line, sizeof line, "%s: signs kept (%zu of %d weights clamped to 0, max move %.2f)",
             what, zeros, N * N, moved);
    check(line, st == TRAIN_DONE && v0 <= 0 && zeros0 == 0 && zeros > 0 ? fmax(v, 0.0) : 1.0, 0.0);
    train_free(j);
}

/* 5. */
static void lowrank(void)
{
    const int N = 100, ranks[2] = {1, 3};
    for (int t = 0; t < 2; t++) {
        const int R = ranks[t];
        char rk[32];
        snprintf(rk, sizeof rk, "lowrank_rank=%d", R);
        double *W = draw("lowrank", N, 1e-6, 9, rk);
        gsl_matrix *A = gsl_matrix_alloc(N, N), *V = gsl_matrix_alloc(N, N);
        gsl_vector *S = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
        memcpy(A->data, W, (size_t)N * N * sizeof(double));
        gsl_linalg_SV_decomp(A, V, S, work);
        const double ratio = gsl_vector_get(S, R - 1) / gsl_vector_get(S, R);
        char line[160];
        snprintf(line, sizeof line, "lowrank R=%d g=1e-6: s_R / s_{R+1} = %.3g > 10 (s_1 = %.3f)", R,
                 ratio, gsl_vector_get(S, 0));
        check(line, ratio > 10 ? 0.0 : 1.0, 0.0);
        gsl_matrix_free(A);
        gsl_matrix_free(V);
        gsl_vector_free(S);
        gsl_vector_free(work);
        free(W);
    }
}

/* 6. */
static void radius(void)
{
    static const char *const fams[] = {"gaussian", "orthogonal", "sparse", "dale", "lowrank"};
    const int N = 100;
    const double g = 1.3;
    double *a = malloc(N * sizeof(double));
    for (int f = 0; f < 5; f++) {
        double *W = draw(fams[f], N, g, 11, "gain_norm=radius");
        abs_eigs(W, N, a);
        char line[128];
        snprintf(line, sizeof line, "gain_norm=radius %s N=100 g=1.3: |spectral radius - g|", fams[f]);
        check(line, fabs(a[0] - g), 1e-10);
        free(W);
    }
    free(a);
}

int main(void)
{
    gsl_set_error_handler_off();
    const double t0 = clock_now();
    gaussian_identical();
    orthogonal();
    sparse();
    dale_init();
    lowrank();
    radius();
    printf("     (initialisation checks: %.2f s)\n", clock_now() - t0);

    const double t1 = clock_now();
    static const char *const rules[] = {"rule=bptt", "rule=eprop", "rule=rflo"};
    for (int r = 0; r < 3; r++) {
        const char *kv[] = {"init=dale", rules[r], "hidden=32", "batch=8", "iters=200", "lr=0.01",
                            "floss_every=10", "floss_lr=0.01", "floss_k=2", "lyap_k=2"};
        char what[96];
        snprintf(what, sizeof what, "dale %s, 200 iterations, flossing every 10", rules[r]);
        dale_training(kv, 10, what);
    }
    static const char *const modes[] = {"floss_mode=full", "floss_mode=local", "floss_mode=detach_h"};
    for (int m = 0; m < 3; m++) {
        const char *kv[] = {"init=dale", modes[m], "hidden=32", "batch=8", "iters=0",
                            "floss_iters=50", "floss_lr=0.02", "floss_k=4", "floss_target=0.1"};
        char what[96];
        snprintf(what, sizeof what, "dale %s, 50 flossing steps toward +0.1", modes[m]);
        dale_training(kv, 9, what);
    }
    printf("     (training checks: %.2f s)\n", clock_now() - t1);
    return check_summary("test_init");
}
