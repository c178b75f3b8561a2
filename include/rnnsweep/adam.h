/* adam.h — the Adam optimiser (beta1 0.9, beta2 0.999, eps 1e-8) over one flat vector.
 *
 * The state (first and second moments, step count) is opaque; adam_state
 * exposes it as plain arrays for checkpoints.
 */
#ifndef RNNSWEEP_ADAM_H
#define RNNSWEEP_ADAM_H

#include <stddef.h>

typedef struct adam adam;

adam *adam_alloc(size_t n);
void adam_free(adam *a);

/* theta -= lr * mhat / (sqrt(vhat) + eps), after updating the moments with g. */
void adam_step(adam *a, double *theta /* (n) */, const double *g /* (n) */, double lr);

/* Direct access to the state for checkpoint save/restore: m (n), v (n), step count. */
void adam_state(adam *a, double **m, double **v, long **t, size_t *n);

#endif
