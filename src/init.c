/* init.c — initial W_rec by family (SPEC §9), spectral-radius normalisation, Dale's clamp.
 *
 * The formulas, draw order and the Dale rule are in init.h.  Each family
 * starts from the draws of rnn_params_init: with gain g for `gaussian` (so it
 * is that function, bit for bit) and gain 1 for the others, which leaves
 * chi = Z / sqrt(N) in W_rec to transform in place.  Runs once per job: the
 * orthogonal QR and the eigenvalues of gain_norm = radius (O(N^3)) allocate
 * their scratch here and free it before returning.
 */
#include "rnnsweep/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

/* W = g O with O = Q diag(sign R_ii), chi = Q R (Householder QR): O is Haar
 * distributed (Mezzadri 2007).  Returns 0 or -1 (out of memory). */
static int init_orthogonal(double *W /* (N,N) chi in, g O out */, int N, double g)
{
    gsl_matrix *A = gsl_matrix_alloc(N, N), *Q = gsl_matrix_alloc(N, N),
               *R = gsl_matrix_alloc(N, N);
    gsl_vector *tau = gsl_vector_alloc(N);
    int rc = -1;
    if (A && Q && R && tau) {
        memcpy(A->data, W, (size_t)N * N * sizeof(double));
        gsl_linalg_QR_decomp(A, tau);
        gsl_linalg_QR_unpack(A, tau, Q, R);
        for (int j = 0; j < N; j++) {
            const double s = gsl_matrix_get(R, j, j) < 0 ? -g : g;
            for (int i = 0; i < N; i++)
                W[(size_t)i * N + j] = s * gsl_matrix_get(Q, i, j);
        }
        rc = 0;
    }
    gsl_matrix_free(A);
    gsl_matrix_free(Q);
    gsl_matrix_free(R);
    gsl_vector_free(tau);
    return rc;
}

/* W_ij = m_ij g chi_ij / sqrt(density), m_ij = [u_ij < density], u uniform. */
static void init_sparse(double *W /* (N,N) */, int N, double g, double density, gsl_rng *r)
{
    const double s = g / sqrt(density);
    for (size_t q = 0; q < (size_t)N * N; q++)
        W[q] = gsl_rng_uniform(r) < density ? s * W[q] : 0.0;
}

/* W_ij = s_j b_j |chi_ij| with b_E, b_I of init.h, then each row's
 * inhibitory part rescaled by beta_i = (sum_E W_ij) / (sum_I |W_ij|) (= 1 +
 * O(N^-1/2)) so that the row sums to 0 exactly (init.h: without it, outliers
 * up to ~1.9 g). */
static void init_dale(double *W /* (N,N) */, int N, int ne, double g)
{
    const int ni = N - ne;
    const double c = 1.0 - 2.0 / M_PI;
    const double bE = g * sqrt((double)ni / (c * ne)), bI = g * sqrt((double)ne / (c * ni));
    for (int i = 0; i < N; i++) {
        double *w = W + (size_t)i * N, se = 0.0, si = 0.0;
        for (int j = 0; j < ne; j++)
            se += w[j] = bE * fabs(w[j]);
        for (int j = ne; j < N; j++)
            si += bI * fabs(w[j]);
        const double beta = si > 0 ? se / si : 0.0;
        for (int j = ne; j < N; j++)
            w[j] = -beta * bI * fabs(w[j]);
    }
}

/* W = g chi + (scale/N) sum_r m_r n_r^T; m (N) scratch, n (N) scratch. */
static void init_lowrank(double *W /* (N,N) */, int N, double g, int rank, double scale,
                         double *m /* (N) */, double *n /* (N) */, gsl_rng *r)
{
    for (size_t q = 0; q < (size_t)N * N; q++)
        W[q] *= g;
    const double s = scale / N;
    for (int k = 0; k < rank; k++) {
        for (int i = 0; i < N; i++)
            m[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
        for (int i = 0; i < N; i++)
            n[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                W[(size_t)i * N + j] += s * m[i] * n[j];
    }
}

double init_spectral_radius(const double *A /* (N,N) */, int N)
{
    gsl_matrix *M = gsl_matrix_alloc(N, N);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(N);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(N);
    double rho = -1.0;
    if (M && ev && w) {
        memcpy(M->data, A, (size_t)N * N * sizeof(double));
        gsl_eigen_nonsymm_params(0, 1, w); /* eigenvalues only; balance the matrix first */
        const int rc = gsl_eigen_nonsymm(M, ev, w); /* main.c turned GSL's aborting handler off */
        if (rc == GSL_SUCCESS) {
            rho = 0.0;
            for (int i = 0; i < N; i++)
                rho = fmax(rho, gsl_complex_abs(gsl_vector_complex_get(ev, i)));
        }
    }
    gsl_matrix_free(M);
    gsl_vector_complex_free(ev);
    gsl_eigen_nonsymm_free(w);
    return rho;
}

int init_dale_n_exc(const init_spec *s, int N)
{
    return s->family == INIT_DALE ? (int)lround(s->frac_exc * N) : 0;
}

int init_params(rnn_params *p, const init_spec *s, gsl_rng *r, char err[INIT_ERRLEN])
{
    const int N = p->N;
    const double g = s->gain;
    rnn_params_init(p, s->family == INIT_GAUSSIAN ? g : 1.0, r);
    int rc = 0;
    switch (s->family) {
    case INIT_ORTHOGONAL: rc = init_orthogonal(p->W_rec, N, g); break;
    case INIT_SPARSE: init_sparse(p->W_rec, N, g, s->density, r); break;
    case INIT_DALE: init_dale(p->W_rec, N, init_dale_n_exc(s, N), g); break;
    case INIT_LOWRANK: {
        double *mn = malloc(2 * (size_t)N * sizeof(double));
        if (!mn) {
            rc = -1;
            break;
        }
        init_lowrank(p->W_rec, N, g, (int)s->lowrank_rank, s->lowrank_scale, mn, mn + N, r);
        free(mn);
        break;
    }
    default: break;
    }
    if (rc) {
        snprintf(err, INIT_ERRLEN, "out of memory initialising W_rec (hidden=%d)", N);
        return -1;
    }
    if (s->gain_norm == GAIN_RADIUS) {
        const double rho = init_spectral_radius(p->W_rec, N);
        if (rho < 0) {
            snprintf(err, INIT_ERRLEN,
                     "gain_norm: eigenvalues of W_rec not found (hidden=%d, out of memory or no "
                     "convergence)", N);
            return -1;
        }
        if (rho > 0) /* rho = 0: W_rec = 0 (g = 0) or nilpotent, no radius to rescale */
            for (size_t q = 0; q < (size_t)N * N; q++)
                p->W_rec[q] *= g / rho;
    }
    return 0;
}

size_t init_dale_clamp(const init_spec *s, double *W_rec /* (N,N) */, int N)
{
    const int ne = init_dale_n_exc(s, N);
    if (s->family != INIT_DALE)
        return 0;
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        double *w = W_rec + (size_t)i * N;
        for (int j = 0; j < ne; j++)
            if (w[j] < 0) {
                w[j] = 0.0;
                n++;
            }
        for (int j = ne; j < N; j++)
            if (w[j] > 0) {
                w[j] = 0.0;
                n++;
            }
    }
    return n;
}
