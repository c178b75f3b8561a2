/* adam.c — Adam (Kingma & Ba 2015) over one flat parameter vector.
 *
 * Bias-corrected moments with beta1 = 0.9, beta2 = 0.999, eps = 1e-8, as
 * PyTorch's torch.optim.Adam with default arguments.
 */
#include "rnnsweep/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct adam {
    size_t n;
    long t;
    double *m; /* (n) first moment */
    double *v; /* (n) second moment */
};

adam *adam_alloc(size_t n)
{
    adam *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->n = n;
    a->m = calloc(n ? n : 1, sizeof(double));
    a->v = calloc(n ? n : 1, sizeof(double));
    if (!a->m || !a->v) {
        adam_free(a);
        return NULL;
    }
    return a;
}

void adam_free(adam *a)
{
    if (!a)
        return;
    free(a->m);
    free(a->v);
    free(a);
}

void adam_step(adam *a, double *theta, const double *g, double lr)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    a->t++;
    const double c1 = 1.0 - pow(b1, (double)a->t);
    const double c2 = 1.0 - pow(b2, (double)a->t);
    const double step = lr / c1, sc2 = 1.0 / sqrt(c2);
    for (size_t i = 0; i < a->n; i++) {
        a->m[i] = b1 * a->m[i] + (1.0 - b1) * g[i];
        a->v[i] = b2 * a->v[i] + (1.0 - b2) * g[i] * g[i];
        theta[i] -= step * a->m[i] / (sqrt(a->v[i]) * sc2 + eps);
    }
}

void adam_state(adam *a, double **m, double **v, long **t, size_t *n)
{
    *m = a->m;
    *v = a->v;
    *t = &a->t;
    *n = a->n;
}
