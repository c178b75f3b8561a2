/* kernel.h — internal: the hand-vectorised kernels of the forward and backward
 * passes (src/kernel.c), shared by rnn.c and rule.c.  Not installed.
 *
 *   - products C += alpha A P with the right operand P (K,N) packed once into
 *     16-column panels (kernel_pack) and reused for many left operands: the
 *     per-step products with W_rec or W_rec^T, which BLAS would repack on
 *     every call;
 *   - tanh over an array (AVX-512, libmvec AVX2, or libm);
 *   - KERNEL_SIMD_CLONES, the target_clones dispatch of hot elementwise loops;
 *   - kernel_alloc_aligned, the 64-byte aligned buffers packed operands need.
 *
 * Matrices are row-major doubles.  A packed operand exists only where
 * kernel_available() is true; callers keep P = NULL otherwise and the step
 * products fall back to cblas_dgemm.  Nothing here allocates except
 * kernel_alloc_aligned.
 */
#ifndef RNNSWEEP_KERNEL_H
#define RNNSWEEP_KERNEL_H

#include <stddef.h>

/* Hot loops are compiled for AVX-512, AVX2 and the baseline and chosen at
 * load time (the default x86-64 target has only SSE2): the elementwise
 * passes of rnn.c and rule.c, and the 8-trial slab loops of lyap.c's QR and
 * floss.c's QR adjoint (slab.h), whose four 8-lane accumulators do not fit
 * the baseline's 16 SSE registers.  The one copy of this attribute. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KERNEL_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef KERNEL_SIMD_CLONES
#define KERNEL_SIMD_CLONES
#endif

/* 1 if the packed-product kernel can run on this CPU (AVX-512F, and not
 * capped by kernel_force_level); a packed operand must not be passed to
 * any kernel_* function otherwise. */
int kernel_available(void);

/* n doubles, 64-byte aligned (the kernel's aligned panel loads); NULL on
 * failure.  Released with free(). */
double *kernel_alloc_aligned(size_t n);

/* Doubles of a packed (K,N) operand (N rounded up to whole 16-column panels). */
size_t kernel_pack_size(int K, int N);

/* Pack P (K,N) = M (trans = 0) or M^T (trans = 1), M row-major with rows ld
 * apart, into P (kernel_pack_size(K,N), from kernel_alloc_aligned). */
void kernel_pack(int K, int N, const double *M, size_t ld, int trans, double *P);

/* C (B,N) += alpha A (B,N) M, M (N,N) = W_rec^T (trans = 1) or W_rec
 * (trans = 0): on the packed copy P of that M (kernel_pack of W_rec with the
 * same trans) if P is not NULL, else by cblas_dgemm on W_rec (N,N). */
void kernel_step_product(int B, int N, double alpha, const double *A /* (B,N) */,
                         const double *W_rec /* (N,N) */, int trans, const double *P,
                         double *C /* (B,N) */);

/* C (N,N) += alpha A^T R for one step's blocks A, R (B,N): R is packed into
 * the scratch P (kernel_pack_size(B,N), aligned) and multiplied on the
 * kernel if P is not NULL, else by cblas_dgemm. */
void kernel_step_outer(int B, int N, double alpha, const double *A /* (B,N) */,
                       const double *R /* (B,N) */, double *P, double *C /* (N,N) */);

/* r[i] = tanh(h[i]) for i < n; within 4 ulp of libm's tanh, r may equal h. */
void kernel_tanh(const double *h, double *r, size_t n);

/* The instruction set the kernels and KERNEL_SIMD_CLONES loops use on this
 * CPU: "avx512", "avx2" or "scalar".  Results agree to the last bit only
 * between processes of the same level (checkpoints record it). */
const char *kernel_simd(void);

/* For tests only: cap the level kernel_available and kernel_tanh use at
 * `level` (0 scalar: no packed operands, so the step products go to
 * cblas_dgemm, and libm's tanh; 1 avx2: libmvec's tanh; 2 avx512: all of
 * the CPU's), or lift the cap with -1.  A level above the CPU's changes
 * nothing.  Returns the level now in force.  Buffers sized by
 * kernel_available (rnn_cache_alloc, rule_work_alloc) must be allocated
 * after the call; KERNEL_SIMD_CLONES loops (chosen by the loader) and
 * kernel_simd() (the CPU's level) are not affected.  Not thread-safe. */
int kernel_force_level(int level);

#endif
