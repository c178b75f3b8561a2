/* init.h — the families of initial recurrent connectivity (SPEC §9) and Dale's law.
 *
 * Every family is scaled so that the gain g keeps its meaning: the bulk of
 * W_rec's eigenvalues fills a disc of radius ~g (circular law: entries of
 * variance s_j^2 in column j give a bulk radius sqrt(sum_j s_j^2), which is
 * g when the variances sum to g^2 along every row).  With chi = Z / sqrt(N),
 * Z (N,N) i.i.d. standard normal:
 *
 *   gaussian    W = g chi                              Var W_ij = g^2/N
 *   orthogonal  W = g O, O = Q diag(sign R_ii), chi = QR    W W^T = g^2 I
 *   sparse      W_ij = m_ij g chi_ij / sqrt(density),  m_ij ~ Bernoulli(density)
 *               (nonzeros ~ N(0, g^2/(density N)); Var W_ij = g^2/N)
 *   dale        W_ij = s_j b_j |chi_ij|: columns j < N_E = round(frac_exc N)
 *               excitatory (s_j = +1, b_j = b_E), the N_I = N - N_E others
 *               inhibitory (s_j = -1, b_j = b_I), with
 *                 b_E = g sqrt(N_I / (c N_E)),  b_I = g sqrt(N_E / (c N_I)),
 *                 c = 1 - 2/pi  (the variance of |z|, z ~ N(0,1); E|z| = sqrt(2/pi))
 *               so rows balance in expectation (N_E b_E = N_I b_I) and the
 *               column variances b_j^2 c / N sum to g^2 along every row: the
 *               zero-mean part then has bulk radius g (circular law with a
 *               column variance profile, Rajan & Abbott 2006).  Then each row's
 *               inhibitory weights are multiplied by beta_i = (sum_{j<N_E} W_ij)
 *               / (sum_{j>=N_E} |W_ij|) = 1 + O(N^-1/2), so every row sums to 0
 *               exactly (W 1 = 0, Rajan & Abbott's constraint).  Without that
 *               step the mean part 1 mu^T (mu^T 1 = 0 but norm ~ sqrt(N) g)
 *               throws eigenvalues out of the disc: at N = 400 and 1000 the
 *               largest |lambda| was 1.18-1.91 g over 6 seeds each, against
 *               1.01-1.09 g with it.
 *   lowrank     W = g chi + (lowrank_scale / N) sum_{r<lowrank_rank} m_r n_r^T,
 *               m_r, n_r ~ N(0, I_N) (Schuessler et al. 2020)
 *
 * gain_norm = radius then rescales W_rec by g / rho(W_rec), rho the largest
 * |eigenvalue| (gsl_eigen_nonsymm), so its spectral radius is g exactly.
 *
 * Random numbers, all from the job's init stream in this order: Z row-major,
 * W_in, W_out (exactly rnn_params_init's draws, so `gaussian` is
 * bit-identical to it and every family of a seed shares Z, W_in and W_out),
 * then the family's own: sparse's mask (one uniform per entry, row-major),
 * lowrank's m_0, n_0, m_1, n_1, ... (N normals each).
 *
 * Dale's law through learning: a unit's sign is that of its column, fixed by
 * the config (column j excitatory iff j < N_E).  After every update
 * init_dale_clamp sets every W_rec entry whose sign is opposite to its
 * column's to 0.  A weight at 0 therefore stays consistent: it can leave 0
 * only in its column's direction (a step the other way is clamped back to 0).
 */
#ifndef RNNSWEEP_INIT_H
#define RNNSWEEP_INIT_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "rnnsweep/rnn.h"

enum init_kind { INIT_GAUSSIAN = 0, INIT_ORTHOGONAL = 1, INIT_SPARSE = 2, INIT_DALE = 3,
                 INIT_LOWRANK = 4 };
enum gain_norm { GAIN_STD = 0, GAIN_RADIUS = 1 };

/* The names, indexed by the enums (the config keys `init` and `gain_norm`). */
#define INIT_NAMES "gaussian", "orthogonal", "sparse", "dale", "lowrank"
#define GAIN_NORM_NAMES "std", "radius"

/* What the initialisation of a job reads (config_init_spec fills it from a
 * job config): the family and its parameters, as described above. */
typedef struct init_spec {
    int family;          /* enum init_kind */
    int gain_norm;       /* enum gain_norm */
    double gain;         /* g */
    double density;      /* sparse */
    double frac_exc;     /* dale */
    long lowrank_rank;   /* lowrank */
    double lowrank_scale;/* lowrank */
} init_spec;

#define INIT_ERRLEN 256

/* Initial parameters for spec s into p (hidden N = p->N): W_rec by
 * s->family and s->gain_norm as above, W_in, W_out and zero biases as
 * rnn_params_init.  Allocates and frees its own scratch (N^2 doubles for
 * orthogonal and radius).  Returns 0, or -1 with a one-line reason in err
 * (out of memory, eigenvalues not found); p is then undefined. */
int init_params(rnn_params *p, const init_spec *s, gsl_rng *r, char err[INIT_ERRLEN]);

/* Number of excitatory units N_E of a dale spec with N units (columns
 * 0..N_E-1); 0 when s->family is not dale. */
int init_dale_n_exc(const init_spec *s, int N);

/* Dale's law after an update: where s->family is dale, set to 0 every entry of
 * W_rec whose sign is opposite to its column's; returns how many.  No-op
 * (returns 0) for the other families. */
size_t init_dale_clamp(const init_spec *s, double *W_rec /* (N,N) */, int N);

/* Largest |eigenvalue| of A (N,N, row-major; not modified) by
 * gsl_eigen_nonsymm; -1 on failure (out of memory, no convergence). */
double init_spectral_radius(const double *A /* (N,N) */, int N);

#endif
