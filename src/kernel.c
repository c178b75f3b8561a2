/* kernel.c — packed matrix products and vector tanh for the per-step work of
 * the forward and backward passes (kernel.h).
 *
 * Workload: training, exponents and flossing run T = 56 steps of a (B,N)
 * block, B = 32, N = 64..512, each step a product with the same W_rec or
 * W_rec^T and an elementwise pass dominated by tanh.
 *
 * Products C += alpha A P with a packed right operand P.  A BLAS call packs
 * its operands on every call: for the per-step products, (B,N)x(N,N) with the
 * same W_rec 2(T-1) times per gradient, that repacking was a fifth of the
 * whole gradient at N = 256.  Here P (K,N) is packed once per pass into
 * panels of PK_NR = 16 columns, panel j holding rows P[k][16j .. 16j+15] for
 * k = 0..K-1 contiguously (zeros past N), and an AVX-512 kernel computes 8x16
 * tiles of C, 16 accumulators, broadcasting A's elements straight from its
 * rows (A needs no packing).  K is blocked by PK_KC so that a panel block
 * stays in L1.  Measured on this machine class at B = 32: ~1.6x OpenBLAS's
 * dgemm at N = 256, on a par at N = 64.  Without AVX-512 no operand is packed
 * and the products go to cblas_dgemm.
 *
 * tanh has its own AVX-512 kernel (2.2x libmvec's here), else libmvec's AVX2
 * kernel, else libm.
 */
#include "kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>

#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wpsabi"
/* glibc libmvec (>= 2.35) vector tanh, 4 lanes. */
__m256d _ZGVdN4v_tanh(__m256d x);
#endif

enum { PK_NR = 16, PK_KC = 256 };

/* 2 with AVX-512F, 1 with AVX2, else 0: the same choice as target_clones. */
static int simd_level(void)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* kernel_force_level's cap, -1 = none. */
static int forced_level = -1;

/* The level kernel_available and kernel_tanh use: the CPU's, capped. */
static int kernel_level(void)
{
    static int cpu = -1;
    if (cpu < 0)
        cpu = simd_level();
    return forced_level >= 0 && forced_level < cpu ? forced_level : cpu;
}

int kernel_force_level(int level)
{
    forced_level = level < 0 ? -1 : level;
    return kernel_level();
}

int kernel_available(void)
{
    return kernel_level() == 2;
}

double *kernel_alloc_aligned(size_t n)
{
    size_t bytes = (n * sizeof(double) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

size_t kernel_pack_size(int K, int N)
{
    return (size_t)((N + PK_NR - 1) / PK_NR) * PK_NR * (size_t)K;
}

void kernel_pack(int K, int N, const double *restrict M, size_t ld, int trans,
                 double *restrict P)
{
    for (int j0 = 0; j0 < N; j0 += PK_NR) {
        double *dst = P + (size_t)j0 * K;
        const int nc = N - j0 < PK_NR ? N - j0 : PK_NR;
        for (int k = 0; k < K; k++) {
            double *d = dst + (size_t)k * PK_NR;
            if (trans)
                for (int c = 0; c < nc; c++)
                    d[c] = M[(size_t)(j0 + c) * ld + k];
            else if (nc == PK_NR)
                memcpy(d, M + (size_t)k * ld + j0, PK_NR * sizeof(double));
            else
                memcpy(d, M + (size_t)k * ld + j0, (size_t)nc * sizeof(double));
            for (int c = nc; c < PK_NR; c++)
                d[c] = 0.0;
        }
    }
}

/* ---- the AVX-512 product kernel ---- */

#if defined(__x86_64__)
/* C[0..MR-1][0..15] (masks m0, m1 for columns 0-7, 8-15) += alpha A P over
 * K, P one panel block (K,16); A's element (m,k) is A[m*lda + k], or
 * A[k*lda + m] if TA (A^T stored).  TA and MR are constants at every call, so
 * the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
pk_tile(const int TA, const int MR, int K, const double *restrict A, size_t lda,
        const double *restrict P, double *restrict C, size_t ldc, double alpha, __mmask8 m0,
        __mmask8 m1)
{
    __m512d c0[8], c1[8];
    for (int m = 0; m < MR; m++) {
        c0[m] = _mm512_setzero_pd();
        c1[m] = _mm512_setzero_pd();
    }
    for (int k = 0; k < K; k++) {
        const __m512d b0 = _mm512_load_pd(P + (size_t)PK_NR * k);
        const __m512d b1 = _mm512_load_pd(P + (size_t)PK_NR * k + 8);
        for (int m = 0; m < MR; m++) {
            const __m512d a = _mm512_set1_pd(TA ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k]);
            c0[m] = _mm512_fmadd_pd(a, b0, c0[m]);
            c1[m] = _mm512_fmadd_pd(a, b1, c1[m]);
        }
    }
    const __m512d va = _mm512_set1_pd(alpha);
    for (int m = 0; m < MR; m++) {
        double *cr = C + (size_t)m * ldc;
        _mm512_mask_storeu_pd(cr, m0, _mm512_fmadd_pd(va, c0[m], _mm512_maskz_loadu_pd(m0, cr)));
        _mm512_mask_storeu_pd(cr + 8, m1,
                              _mm512_fmadd_pd(va, c1[m], _mm512_maskz_loadu_pd(m1, cr + 8)));
    }
}

/* C (M,N) += alpha A P, A (M,K) row-major with rows lda apart, or if TA
 * A^T (K,M) stored; C row-major (ldc); P (K,N) packed by kernel_pack. */
__attribute__((target("avx512f"), always_inline)) static inline void
pk_gemm(const int TA, int M, int N, int K, double alpha, const double *A, size_t lda,
        const double *P, double *C, size_t ldc)
{
    for (int k0 = 0; k0 < K; k0 += PK_KC) {
        const int kc = K - k0 < PK_KC ? K - k0 : PK_KC;
        for (int j0 = 0; j0 < N; j0 += PK_NR) {
            const int left = N - j0;
            const __mmask8 m0 = left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
            const __mmask8 m1 = left >= 16 ? 0xff : left <= 8 ? 0 : (__mmask8)((1u << (left - 8)) - 1);
            const double *Pj = P + (size_t)j0 * K + (size_t)k0 * PK_NR;
            double *Cj = C + j0;
            int i = 0;
#define PK_TILE(mr)                                                                          \
    pk_tile(TA, mr, kc, A + (TA ? (size_t)k0 * lda + i : (size_t)i * lda + k0), lda, Pj,     \
            Cj + (size_t)i * ldc, ldc, alpha, m0, m1)
            for (; i + 8 <= M; i += 8)
                PK_TILE(8);
            switch (M - i) {
            case 7: PK_TILE(7); break;
            case 6: PK_TILE(6); break;
            case 5: PK_TILE(5); break;
            case 4: PK_TILE(4); break;
            case 3: PK_TILE(3); break;
            case 2: PK_TILE(2); break;
            case 1: PK_TILE(1); break;
            default: break;
            }
#undef PK_TILE
        }
    }
}

__attribute__((target("avx512f"))) static void pk_gemm_nn(int M, int N, int K, double alpha,
                                                          const double *A, size_t lda,
                                                          const double *P, double *C, size_t ldc)
{
    pk_gemm(0, M, N, K, alpha, A, lda, P, C, ldc);
}

__attribute__((target("avx512f"))) static void pk_gemm_tn(int M, int N, int K, double alpha,
                                                          const double *A, size_t lda,
                                                          const double *P, double *C, size_t ldc)
{
    pk_gemm(1, M, N, K, alpha, A, lda, P, C, ldc);
}
#endif

void kernel_step_product(int B, int N, double alpha, const double *A, const double *W_rec,
                         int trans, const double *P, double *C)
{
#if defined(__x86_64__)
    if (P) {
        pk_gemm_nn(B, N, N, alpha, A, (size_t)N, P, C, (size_t)N);
        return;
    }
#endif
    (void)P;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans, B, N, N, alpha, A,
                N, W_rec, N, 1.0, C, N);
}

void kernel_step_outer(int B, int N, double alpha, const double *A, const double *R, double *P,
                       double *C)
{
#if defined(__x86_64__)
    if (P) {
        kernel_pack(B, N, R, (size_t)N, 0, P);
        pk_gemm_tn(N, N, B, alpha, A, (size_t)N, P, C, (size_t)N);
        return;
    }
#endif
    (void)P;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, B, alpha, A, N, R, N, 1.0, C, N);
}

/* ---- tanh ---- */

#if defined(__x86_64__)
/* tanh of 4 x 8 lanes (lanes outside mask untouched in out):
 *   tanh x = sign(x) e / (e + 2),  e = expm1(2|x|) = 2^k (1 + q) - 1,
 *   2|x| = k ln2 + r, |r| <= ln2/2, q = expm1(r) by its Taylor series to r^13
 *   (truncation < 2e-17), 1/(e + 2) by rcp14 and two Newton steps, and one
 *   residual correction of the quotient.  Within 4 ulp of glibc's tanh over
 *   the whole range (measured), tanh(+-0) = +-0, tanh(+-inf) = +-1, NaN stays
 *   NaN.  The four vectors are interleaved because one tanh is a ~100-cycle
 *   dependency chain: 2.2x the throughput of libmvec's _ZGVeN8v_tanh here.
 *   All lanes are loaded before any is stored, so out may equal in. */
#define TANH_U 4
#define TANH_EACH(s)                  \
    _Pragma("GCC unroll 4")           \
    for (int j = 0; j < TANH_U; j++) { \
        s;                            \
    }
__attribute__((target("avx512f"))) static inline void tanh_x32(const double *in, double *out,
                                                               const __mmask8 *m)
{
#define C(v) _mm512_set1_pd(v)
    const __m512i absmask = _mm512_set1_epi64(0x7fffffffffffffffLL);
    const __m512d one = C(1.0), magic = C(6755399441055744.0); /* 1.5 * 2^52 */
    __m512d x[TANH_U], y[TANH_U], km[TANH_U], k[TANH_U], r[TANH_U], r2[TANH_U], r4[TANH_U];
    __m512d a[TANH_U], b[TANH_U], p[TANH_U], e[TANH_U], d[TANH_U], z[TANH_U], t[TANH_U];
    TANH_EACH(x[j] = _mm512_maskz_loadu_pd(m[j], in + 8 * j))
    TANH_EACH(y[j] = _mm512_castsi512_pd(_mm512_and_epi64(_mm512_castpd_si512(x[j]), absmask)))
    TANH_EACH(y[j] = _mm512_min_pd(C(40.0), y[j])) /* min(c, NaN) = NaN */
    TANH_EACH(y[j] = _mm512_add_pd(y[j], y[j]))
    TANH_EACH(km[j] = _mm512_fmadd_pd(y[j], C(1.4426950408889634), magic))
    TANH_EACH(k[j] = _mm512_sub_pd(km[j], magic)) /* round(y / ln2) */
    TANH_EACH(r[j] = _mm512_fnmadd_pd(k[j], C(6.93147180369123816490e-01), y[j]))
    TANH_EACH(r[j] = _mm512_fnmadd_pd(k[j], C(1.90821492927058770002e-10), r[j]))
    TANH_EACH(r2[j] = _mm512_mul_pd(r[j], r[j]))
    TANH_EACH(r4[j] = _mm512_mul_pd(r2[j], r2[j]))
    /* p = 1/2! + r/3! + ... + r^11/13! (Estrin); q = r + r^2 p */
    TANH_EACH(a[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 6227020800.0), r[j], C(1.0 / 479001600.0)),
                                     r2[j], _mm512_fmadd_pd(C(1.0 / 39916800.0), r[j], C(1.0 / 3628800.0))))
    TANH_EACH(b[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 362880.0), r[j], C(1.0 / 40320.0)), r2[j],
                                     _mm512_fmadd_pd(C(1.0 / 5040.0), r[j], C(1.0 / 720.0))))
    TANH_EACH(p[j] = _mm512_fmadd_pd(a[j], r4[j], b[j]))
    TANH_EACH(a[j] = _mm512_fmadd_pd(_mm512_fmadd_pd(C(1.0 / 120.0), r[j], C(1.0 / 24.0)), r2[j],
                                     _mm512_fmadd_pd(C(1.0 / 6.0), r[j], C(0.5))))
    TANH_EACH(p[j] = _mm512_fmadd_pd(p[j], r4[j], a[j]))
    TANH_EACH(p[j] = _mm512_fmadd_pd(p[j], r2[j], r[j]))
    /* 2^k from the low bits of km; e = 2^k q + (2^k - 1) */
    TANH_EACH(b[j] = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_slli_epi64(_mm512_castpd_si512(km[j]), 52),
                                                          _mm512_castpd_si512(one))))
    TANH_EACH(e[j] = _mm512_fmadd_pd(b[j], p[j], _mm512_sub_pd(b[j], one)))
    TANH_EACH(d[j] = _mm512_add_pd(e[j], C(2.0)))
    TANH_EACH(z[j] = _mm512_rcp14_pd(d[j]))
    TANH_EACH(z[j] = _mm512_fmadd_pd(z[j], _mm512_fnmadd_pd(d[j], z[j], one), z[j]))
    TANH_EACH(z[j] = _mm512_fmadd_pd(z[j], _mm512_fnmadd_pd(d[j], z[j], one), z[j]))
    TANH_EACH(t[j] = _mm512_mul_pd(e[j], z[j]))
    TANH_EACH(t[j] = _mm512_fmadd_pd(_mm512_fnmadd_pd(t[j], d[j], e[j]), z[j], t[j]))
    /* copy the sign of x */
    TANH_EACH(t[j] = _mm512_castsi512_pd(_mm512_ternarylogic_epi64(
                  absmask, _mm512_castpd_si512(t[j]), _mm512_castpd_si512(x[j]), 0xca)))
    TANH_EACH(_mm512_mask_storeu_pd(out + 8 * j, m[j], t[j]))
#undef C
}

__attribute__((target("avx512f"))) static void tanh_avx512(const double *h, double *r, size_t n)
{
    const __mmask8 full[TANH_U] = {0xff, 0xff, 0xff, 0xff};
    size_t i = 0;
    for (; i + 8 * TANH_U <= n; i += 8 * TANH_U)
        tanh_x32(h + i, r + i, full);
    if (i < n) {
        __mmask8 m[TANH_U];
        for (int j = 0; j < TANH_U; j++) {
            const size_t lo = i + 8 * (size_t)j;
            m[j] = lo >= n ? 0 : n - lo >= 8 ? 0xff : (__mmask8)((1u << (n - lo)) - 1);
        }
        tanh_x32(h + i, r + i, m);
    }
}

__attribute__((target("avx2"))) static size_t tanh_avx2(const double *h, double *r, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(r + i, _ZGVdN4v_tanh(_mm256_loadu_pd(h + i)));
    return i;
}
#endif

const char *kernel_simd(void)
{
    static const char *const name[] = {"scalar", "avx2", "avx512"};
    return name[simd_level()];
}

/* The AVX-512 kernel above, libmvec's AVX2 kernel, or libm. */
void kernel_tanh(const double *h, double *r, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__)
    const int level = kernel_level();
    if (level == 2) {
        tanh_avx512(h, r, n);
        return;
    }
    if (level == 1)
        i = tanh_avx2(h, r, n);
#endif
    for (; i < n; i++)
        r[i] = tanh(h[i]);
}
