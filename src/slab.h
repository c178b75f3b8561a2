/* slab.h — internal: 8-trial slabs, the layout in which lyap.c's batched QR
 * and floss.c's QR adjoint run every operation SIMD over trials (header only).
 *
 * A panel holds the same small matrix for each of B trials with the trial
 * index innermost: element (i, c) of trial b at A[i*ld + c*B + b], rows ld
 * apart (ld = k*B for a contiguous (rows,k,B) panel).  A slab holds 8 of
 * those trials as one (rows,k) matrix of 8-lane vectors, lane = trial, so
 * that a loop over the matrix is one vector operation per element for all
 * 8 trials.  A short last group (nb < 8 trials) is padded with a value the
 * caller chooses (zeros for Q, ones for R so that it stays invertible).
 * Slabs are 64-byte aligned (slab_align), for whole-vector loads.
 */
#ifndef RNNSWEEP_SLAB_H
#define RNNSWEEP_SLAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SLAB_LANES 8
typedef double v8d __attribute__((vector_size(SLAB_LANES * sizeof(double))));

/* The first 64-byte aligned address at or after p (scratch of doubles is
 * only 8-byte aligned: allocate SLAB_LANES doubles more than needed). */
static inline v8d *slab_align(double *p)
{
    return (v8d *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* S (rows,k) x 8 = trials 0..nb-1 of the panel A (A points at the group's
 * first trial; rows ld apart, trial stride 1, column stride B); lanes
 * nb..7 get `pad`.  Full groups move whole 64-byte vectors. */
static inline void slab_pack(v8d *S /* (rows,k) x 8 */, const double *A /* (rows,k,B) */,
                             size_t ld, int B, int rows, int k, int nb, double pad)
{
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < k; c++) {
            const double *a = A + (size_t)i * ld + (size_t)c * B;
            v8d *s = &S[(size_t)i * k + c];
            if (nb == SLAB_LANES) {
                memcpy(s, a, sizeof(v8d));
            } else {
                v8d v;
                for (int b = 0; b < SLAB_LANES; b++)
                    v[b] = b < nb ? a[b] : pad;
                *s = v;
            }
        }
}

/* The inverse for the first nb lanes: panel A (same layout) = S; the padded
 * lanes are not written. */
static inline void slab_unpack(const v8d *S /* (rows,k) x 8 */, double *A /* (rows,k,B) */,
                               size_t ld, int B, int rows, int k, int nb)
{
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < k; c++) {
            double *a = A + (size_t)i * ld + (size_t)c * B;
            const v8d *s = &S[(size_t)i * k + c];
            if (nb == SLAB_LANES)
                memcpy(a, s, sizeof(v8d));
            else
                for (int b = 0; b < nb; b++)
                    a[b] = (*s)[b];
        }
}

#endif
