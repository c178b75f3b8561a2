/* npy.h — NumPy .npy files (format 1.0, little-endian, C order).
 *
 * The writer serves the verification dumps of SPEC §6 (`<f8` and `<i8`);
 * the reader exists so that tests can check dumps without NumPy.
 */
#ifndef RNNSWEEP_NPY_H
#define RNNSWEEP_NPY_H

#include <stddef.h>

#define NPY_MAXDIM 8

/* Write an array of doubles / int64 with the given shape (ndim 0 = scalar).
 * Returns 0, or -1 with errno set. */
int npy_write_f8(const char *path, const double *data, int ndim, const size_t *shape);
int npy_write_i8(const char *path, const long *data, int ndim, const size_t *shape);

/* Read a '<f8' or '<i8' file.  *data is malloc'ed (caller frees); *is_int
 * tells which; shape receives up to NPY_MAXDIM sizes.  Returns 0 or -1. */
int npy_read(const char *path, void **data, int *is_int, int *ndim, size_t shape[NPY_MAXDIM]);

#endif
