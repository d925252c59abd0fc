/* GEMM micro-kernels: one register-blocked MR x NR update of C per call.
 *
 * Every kernel has the same contract (gemm.c holds the driver and the packing):
 *   a is a packed A micro-panel, (kc, MR): element (p, i) at a[p*MR + i]
 *   b is a packed B micro-panel, (kc, NR): element (p, j) at b[p*NR + j], 64-byte aligned
 *   c is a full (MR, NR) tile of C with leading dim ldc
 *   C = alpha * (a^T b) + beta * C, where beta == 0 never reads C.
 * (The _rows kernels take A unpacked instead: see there.)
 * Edge tiles are zero-padded by the packing, so a kernel always runs the full MR x NR.
 * The x86 kernels carry their own target attributes, so this file builds for baseline
 * x86-64 (and elsewhere, where only the portable kernel exists); gemm.c picks one at run
 * time. Summation order over p is the same for every tile, so where a tile is computed
 * (which thread) never changes its bits.
 */
#include "internal.h"
#include "gemm_kernels.h"

#if NC_X86
#include <immintrin.h>
#endif

/* Row lists that unroll a statement over the MR rows of a kernel. */
#define NC_ROWS4(X) X(0) X(1) X(2) X(3)
#define NC_ROWS8(X) NC_ROWS4(X) X(4) X(5) X(6) X(7)
#define NC_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define NC_ROWS12(X) NC_ROWS6(X) X(6) X(7) X(8) X(9) X(10) X(11)
#define NC_ROWS14(X) NC_ROWS12(X) X(12) X(13)

/* ---------------------------------------------------------------- portable, 4x8 */

#define PORTABLE_KERNEL(T, SFX)                                                              \
    void nc_kernel_portable_4x8_##SFX(int64_t kc, const T *restrict a, const T *restrict b, \
                                      T *restrict c, int64_t ldc, T alpha, T beta)           \
    {                                                                                        \
        T acc[4][8];                                                                         \
        for (int i = 0; i < 4; i++)                                                          \
            for (int j = 0; j < 8; j++) acc[i][j] = 0;                                       \
        for (int64_t p = 0; p < kc; p++, a += 4, b += 8)                                     \
            for (int i = 0; i < 4; i++)                                                      \
                for (int j = 0; j < 8; j++) acc[i][j] += a[i] * b[j];                        \
        for (int i = 0; i < 4; i++) {                                                        \
            T *cr = c + i * ldc;                                                             \
            if (beta == 0)                                                                   \
                for (int j = 0; j < 8; j++) cr[j] = alpha * acc[i][j];                       \
            else                                                                             \
                for (int j = 0; j < 8; j++) cr[j] = alpha * acc[i][j] + beta * cr[j];        \
        }                                                                                    \
    }

PORTABLE_KERNEL(float, f32)
PORTABLE_KERNEL(double, f64)

#if NC_X86

/* ---------------------------------------------------------------- AVX-512 */

/* Two zmm per row of C: MR*2 accumulators, two B vectors, and A broadcast straight from
 * memory (the compiler folds set1 of a load into an embedded {1toN} broadcast). */
#define K512_DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
#define K512_STEP(i)                                                                         \
    {                                                                                        \
        __m512 ai = _mm512_set1_ps(a[i]);                                                    \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                          \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                          \
    }
#define K512_PF(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);                 \
    _mm_prefetch((const char *)(c + (i) * ldc + 31), _MM_HINT_T0);
#define K512_ST0(i)                                                                          \
    _mm512_storeu_ps(c + (i) * ldc, _mm512_mul_ps(c##i##0, va));                             \
    _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_mul_ps(c##i##1, va));
#define K512_ST1(i)                                                                          \
    {                                                                                        \
        float *cr = c + (i) * ldc;                                                           \
        _mm512_storeu_ps(cr, _mm512_fmadd_ps(c##i##0, va,                                    \
                                             _mm512_mul_ps(_mm512_loadu_ps(cr), vb)));       \
        _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(c##i##1, va,                               \
                                                  _mm512_mul_ps(_mm512_loadu_ps(cr + 16),    \
                                                                vb)));                       \
    }

NC_TARGET_AVX512
void nc_kernel_avx512_12x32_f32(int64_t kc, const float *restrict a, const float *restrict b,
                                float *restrict c, int64_t ldc, float alpha, float beta)
{
    NC_ROWS12(K512_DECL)
    NC_ROWS12(K512_PF)
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        NC_ROWS12(K512_STEP)
        a += 12;
        b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (beta == 0) {
        NC_ROWS12(K512_ST0)
    } else {
        NC_ROWS12(K512_ST1)
    }
}

NC_TARGET_AVX512
void nc_kernel_avx512_14x32_f32(int64_t kc, const float *restrict a, const float *restrict b,
                                float *restrict c, int64_t ldc, float alpha, float beta)
{
    NC_ROWS14(K512_DECL)
    NC_ROWS14(K512_PF)
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        NC_ROWS14(K512_STEP)
        a += 14;
        b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (beta == 0) {
        NC_ROWS14(K512_ST0)
    } else {
        NC_ROWS14(K512_ST1)
    }
}

/* The same kernels reading A where it lies, rows of A (not transposed) with leading dim
 * lda: A(i,p) = a[i*lda + p]. For a product with few columns the transposing pack of A
 * costs a tenth of the multiply-adds; read in place, each row is a stream of its own.
 * Row i is addressed as base (3*(i/3)) plus (i%3) row strides, so the rows cost five
 * base registers and one stride register instead of one register each. */
#define K512R_STEP(i)                                                                        \
    {                                                                                        \
        __m512 ai = _mm512_set1_ps(*(const float *)(ab[(i) / 3] + ((i) % 3) * lds));        \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                          \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                          \
    }
#define K512R_BODY(ROWS, MR)                                                                 \
    {                                                                                        \
        ROWS(K512_DECL)                                                                      \
        ROWS(K512_PF)                                                                        \
        ptrdiff_t lds = (ptrdiff_t)lda * (ptrdiff_t)sizeof(float);                           \
        const char *ab[5];                                                                   \
        for (int q = 0; q < 5; q++) ab[q] = (const char *)a + 3 * q * lds;                   \
        _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; p++)                             \
        {                                                                                    \
            __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);                      \
            ROWS(K512R_STEP)                                                                 \
            for (int q = 0; q < 5; q++) ab[q] += sizeof(float);                              \
            b += 32;                                                                         \
        }                                                                                    \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                        \
        if (beta == 0) {                                                                     \
            ROWS(K512_ST0)                                                                   \
        } else {                                                                             \
            ROWS(K512_ST1)                                                                   \
        }                                                                                    \
    }

NC_TARGET_AVX512
void nc_kernel_avx512_12x32_rows_f32(int64_t kc, const float *restrict a, int64_t lda,
                                     const float *restrict b, float *restrict c, int64_t ldc,
                                     float alpha, float beta)
K512R_BODY(NC_ROWS12, 12)

NC_TARGET_AVX512
void nc_kernel_avx512_14x32_rows_f32(int64_t kc, const float *restrict a, int64_t lda,
                                     const float *restrict b, float *restrict c, int64_t ldc,
                                     float alpha, float beta)
K512R_BODY(NC_ROWS14, 14)

#undef K512R_STEP
#undef K512R_BODY
/* Half-width kernels for a last column panel of at most 16 columns: b is still a packed
 * 32-wide panel (the kernel reads its first 16 columns) and c is an (MR,16) tile. A
 * 32-wide tile there would spend half or more of its multiply-adds on padding. */
#define K512H_DECL(i) __m512 c##i##0 = _mm512_setzero_ps();
#define K512H_PF(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);
#define K512H_STEP(i) c##i##0 = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, c##i##0);
#define K512HR_STEP(i)                                                                       \
    c##i##0 = _mm512_fmadd_ps(                                                               \
        _mm512_set1_ps(*(const float *)(ab[(i) / 3] + ((i) % 3) * lds)), b0, c##i##0);
#define K512H_ST0(i) _mm512_storeu_ps(c + (i) * ldc, _mm512_mul_ps(c##i##0, va));
#define K512H_ST1(i)                                                                         \
    _mm512_storeu_ps(c + (i) * ldc,                                                          \
                     _mm512_fmadd_ps(c##i##0, va,                                            \
                                     _mm512_mul_ps(_mm512_loadu_ps(c + (i) * ldc), vb)));
#define K512H_STORE(ROWS)                                                                    \
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                            \
    if (beta == 0) {                                                                         \
        ROWS(K512H_ST0)                                                                      \
    } else {                                                                                 \
        ROWS(K512H_ST1)                                                                      \
    }
#define K512H_BODY(ROWS, MR)                                                                 \
    {                                                                                        \
        ROWS(K512H_DECL)                                                                     \
        ROWS(K512H_PF)                                                                       \
        _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; p++)                             \
        {                                                                                    \
            __m512 b0 = _mm512_load_ps(b);                                                   \
            ROWS(K512H_STEP)                                                                 \
            a += MR;                                                                         \
            b += 32;                                                                         \
        }                                                                                    \
        K512H_STORE(ROWS)                                                                    \
    }
#define K512HR_BODY(ROWS)                                                                    \
    {                                                                                        \
        ROWS(K512H_DECL)                                                                     \
        ROWS(K512H_PF)                                                                       \
        ptrdiff_t lds = (ptrdiff_t)lda * (ptrdiff_t)sizeof(float);                           \
        const char *ab[5];                                                                   \
        for (int q = 0; q < 5; q++) ab[q] = (const char *)a + 3 * q * lds;                   \
        _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; p++)                             \
        {                                                                                    \
            __m512 b0 = _mm512_load_ps(b);                                                   \
            ROWS(K512HR_STEP)                                                                \
            for (int q = 0; q < 5; q++) ab[q] += sizeof(float);                              \
            b += 32;                                                                         \
        }                                                                                    \
        K512H_STORE(ROWS)                                                                    \
    }

NC_TARGET_AVX512
void nc_kernel_avx512_12x16_f32(int64_t kc, const float *restrict a, const float *restrict b,
                                float *restrict c, int64_t ldc, float alpha, float beta)
K512H_BODY(NC_ROWS12, 12)

NC_TARGET_AVX512
void nc_kernel_avx512_14x16_f32(int64_t kc, const float *restrict a, const float *restrict b,
                                float *restrict c, int64_t ldc, float alpha, float beta)
K512H_BODY(NC_ROWS14, 14)

NC_TARGET_AVX512
void nc_kernel_avx512_12x16_rows_f32(int64_t kc, const float *restrict a, int64_t lda,
                                     const float *restrict b, float *restrict c, int64_t ldc,
                                     float alpha, float beta)
K512HR_BODY(NC_ROWS12)

NC_TARGET_AVX512
void nc_kernel_avx512_14x16_rows_f32(int64_t kc, const float *restrict a, int64_t lda,
                                     const float *restrict b, float *restrict c, int64_t ldc,
                                     float alpha, float beta)
K512HR_BODY(NC_ROWS14)

/* Short kernels for a last row panel: the first R (4, 8 or 12) rows of a packed panel of
 * stride MR, 32 or 16 wide, so a panel of 4 rows does not cost 12 or 14 rows' work. Each
 * row's sum is the same chain of FMAs as in the full kernel. */
#define K512S_BODY(ROWS, MR)                                                                 \
    {                                                                                        \
        ROWS(K512_DECL)                                                                      \
        _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; p++)                             \
        {                                                                                    \
            __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);                      \
            ROWS(K512_STEP)                                                                  \
            a += MR;                                                                         \
            b += 32;                                                                         \
        }                                                                                    \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                        \
        if (beta == 0) {                                                                     \
            ROWS(K512_ST0)                                                                   \
        } else {                                                                             \
            ROWS(K512_ST1)                                                                   \
        }                                                                                    \
    }
#define K512S_KERNELS(R, MR)                                                                 \
    NC_TARGET_AVX512                                                                         \
    void nc_kernel_avx512_##R##x32_s##MR##_f32(int64_t kc, const float *restrict a,          \
                                              const float *restrict b, float *restrict c,   \
                                              int64_t ldc, float alpha, float beta)         \
        K512S_BODY(NC_ROWS##R, MR)                                                           \
    NC_TARGET_AVX512                                                                         \
    void nc_kernel_avx512_##R##x16_s##MR##_f32(int64_t kc, const float *restrict a,          \
                                              const float *restrict b, float *restrict c,   \
                                              int64_t ldc, float alpha, float beta)         \
        K512H_BODY(NC_ROWS##R, MR)

K512S_KERNELS(4, 12)
K512S_KERNELS(8, 12)
K512S_KERNELS(4, 14)
K512S_KERNELS(8, 14)
K512S_KERNELS(12, 14)

#undef K512S_BODY
#undef K512S_KERNELS
#undef K512H_DECL
#undef K512H_PF
#undef K512H_STEP
#undef K512HR_STEP
#undef K512H_ST0
#undef K512H_ST1
#undef K512H_STORE
#undef K512H_BODY
#undef K512HR_BODY
#undef K512_DECL
#undef K512_STEP
#undef K512_PF
#undef K512_ST0
#undef K512_ST1

#define K512D_DECL(i) __m512d c##i##0 = _mm512_setzero_pd(), c##i##1 = _mm512_setzero_pd();
#define K512D_STEP(i)                                                                        \
    {                                                                                        \
        __m512d ai = _mm512_set1_pd(a[i]);                                                   \
        c##i##0 = _mm512_fmadd_pd(ai, b0, c##i##0);                                          \
        c##i##1 = _mm512_fmadd_pd(ai, b1, c##i##1);                                          \
    }
#define K512D_PF(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);                \
    _mm_prefetch((const char *)(c + (i) * ldc + 15), _MM_HINT_T0);
#define K512D_ST0(i)                                                                         \
    _mm512_storeu_pd(c + (i) * ldc, _mm512_mul_pd(c##i##0, va));                             \
    _mm512_storeu_pd(c + (i) * ldc + 8, _mm512_mul_pd(c##i##1, va));
#define K512D_ST1(i)                                                                         \
    {                                                                                        \
        double *cr = c + (i) * ldc;                                                          \
        _mm512_storeu_pd(cr, _mm512_fmadd_pd(c##i##0, va,                                    \
                                             _mm512_mul_pd(_mm512_loadu_pd(cr), vb)));       \
        _mm512_storeu_pd(cr + 8, _mm512_fmadd_pd(c##i##1, va,                                \
                                                 _mm512_mul_pd(_mm512_loadu_pd(cr + 8), vb))); \
    }

NC_TARGET_AVX512
void nc_kernel_avx512_12x16_f64(int64_t kc, const double *restrict a,
                                const double *restrict b, double *restrict c, int64_t ldc,
                                double alpha, double beta)
{
    NC_ROWS12(K512D_DECL)
    NC_ROWS12(K512D_PF)
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
        NC_ROWS12(K512D_STEP)
        a += 12;
        b += 16;
    }
    __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
    if (beta == 0) {
        NC_ROWS12(K512D_ST0)
    } else {
        NC_ROWS12(K512D_ST1)
    }
}

#undef K512D_DECL
#undef K512D_STEP
#undef K512D_PF
#undef K512D_ST0
#undef K512D_ST1

/* ---------------------------------------------------------------- AVX2 */

/* 16 ymm registers: 12 accumulators, two B vectors, one broadcast. */
#define K256_DECL(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
#define K256_STEP(i)                                                                         \
    {                                                                                        \
        __m256 ai = _mm256_broadcast_ss(a + (i));                                            \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                          \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                          \
    }
#define K256_ST0(i)                                                                          \
    _mm256_storeu_ps(c + (i) * ldc, _mm256_mul_ps(c##i##0, va));                             \
    _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_mul_ps(c##i##1, va));
#define K256_ST1(i)                                                                          \
    {                                                                                        \
        float *cr = c + (i) * ldc;                                                           \
        _mm256_storeu_ps(cr, _mm256_fmadd_ps(c##i##0, va,                                    \
                                             _mm256_mul_ps(_mm256_loadu_ps(cr), vb)));       \
        _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(c##i##1, va,                                \
                                                 _mm256_mul_ps(_mm256_loadu_ps(cr + 8), vb))); \
    }

NC_TARGET_AVX2
void nc_kernel_avx2_6x16_f32(int64_t kc, const float *restrict a, const float *restrict b,
                             float *restrict c, int64_t ldc, float alpha, float beta)
{
    NC_ROWS6(K256_DECL)
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        NC_ROWS6(K256_STEP)
        a += 6;
        b += 16;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (beta == 0) {
        NC_ROWS6(K256_ST0)
    } else {
        NC_ROWS6(K256_ST1)
    }
}

#define K256D_DECL(i) __m256d c##i##0 = _mm256_setzero_pd(), c##i##1 = _mm256_setzero_pd();
#define K256D_STEP(i)                                                                        \
    {                                                                                        \
        __m256d ai = _mm256_broadcast_sd(a + (i));                                           \
        c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);                                          \
        c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);                                          \
    }
#define K256D_ST0(i)                                                                         \
    _mm256_storeu_pd(c + (i) * ldc, _mm256_mul_pd(c##i##0, va));                             \
    _mm256_storeu_pd(c + (i) * ldc + 4, _mm256_mul_pd(c##i##1, va));
#define K256D_ST1(i)                                                                         \
    {                                                                                        \
        double *cr = c + (i) * ldc;                                                          \
        _mm256_storeu_pd(cr, _mm256_fmadd_pd(c##i##0, va,                                    \
                                             _mm256_mul_pd(_mm256_loadu_pd(cr), vb)));       \
        _mm256_storeu_pd(cr + 4, _mm256_fmadd_pd(c##i##1, va,                                \
                                                 _mm256_mul_pd(_mm256_loadu_pd(cr + 4), vb))); \
    }

NC_TARGET_AVX2
void nc_kernel_avx2_6x8_f64(int64_t kc, const double *restrict a, const double *restrict b,
                            double *restrict c, int64_t ldc, double alpha, double beta)
{
    NC_ROWS6(K256D_DECL)
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
        NC_ROWS6(K256D_STEP)
        a += 6;
        b += 8;
    }
    __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    if (beta == 0) {
        NC_ROWS6(K256D_ST0)
    } else {
        NC_ROWS6(K256D_ST1)
    }
}

#endif /* NC_X86 */

#if NC_X86
/* ---------------------------------------------------------------- AVX-512, unpacked */

/* The unpacked (small-problem) kernels read A and B where they lie.
 *
 * row: rows of C, c[i*ldc + j] for j < n (unit stride), from
 *      C(i,j) = alpha * sum_p A(i,p) * B(p,j) + beta * C(i,j),
 *      A(i,p) = a[i*sai + p*sa] (broadcast), B(p,j) = b[p*sb + j] (unit stride in j).
 *      64 columns at a time in four accumulators, masked at the right edge; the column
 *      block is the outer loop so its masks are set up once for all rows.
 * dot: c[j*sc] = alpha * sum_p x[p] * y_j[p] + beta * c[j*sc] with y_j = y + j*sy, both
 *      unit stride in p: 16 lanes of partial sums in a fixed order, then one fixed
 *      horizontal reduction, so the bits depend on the sizes alone. */
#define UNPACKED_KERNELS(T, SFX, V, L, SET1, ZERO, MLOAD, MSTORE, FMA, MUL, REDUCE, MASKT,     \
                         ONES, ADD)                                                               \
    NC_TARGET_AVX512                                                                         \
    void nc_kernel_avx512_row_##SFX(int64_t rows, int64_t n, int64_t k, const T *a0,         \
                                    int64_t sai, int64_t sa, const T *b, int64_t sb, T *c0,  \
                                    int64_t ldc, T alpha, T beta)                            \
    {                                                                                        \
        V va = SET1(alpha), vb = SET1(beta);                                                 \
        for (int64_t j = 0; j < n; j += 4 * L) {                                             \
            MASKT mk[4];                                                                     \
            int nv = 0;                                                                      \
            for (int v = 0; v < 4; v++) {                                                    \
                int64_t left = n - j - v * L;                                                \
                mk[v] = left >= L ? (MASKT)ONES                                              \
                        : left <= 0 ? (MASKT)0 : (MASKT)(((uint32_t)1 << left) - 1);         \
                nv += left > 0;                                                              \
            }                                                                                \
            for (int64_t i = 0; i < rows; i++) {                                             \
            const T *a = a0 + i * sai;                                                       \
            T *c = c0 + i * ldc;                                                             \
            V c0 = ZERO(), c1 = ZERO(), c2 = ZERO(), c3 = ZERO();                            \
            const T *bp = b + j;                                                             \
            int64_t p = 0;                                                                   \
            if (nv >= 3) {                                                                   \
                for (; p < k; p++, bp += sb) {                                               \
                    V t = SET1(a[p * sa]);                                                   \
                    c0 = FMA(t, MLOAD(mk[0], bp), c0);                                       \
                    c1 = FMA(t, MLOAD(mk[1], bp + L), c1);                                   \
                    c2 = FMA(t, MLOAD(mk[2], bp + 2 * L), c2);                               \
                    c3 = FMA(t, MLOAD(mk[3], bp + 3 * L), c3);                               \
                }                                                                            \
            } else {                                                                         \
                /* few columns: split p over independent accumulators (fixed: by p's        \
                 * residue) so the FMA latency does not serialize, then add them in a       \
                 * fixed order */                                                            \
                V d0 = ZERO(), d1 = ZERO(), d2 = ZERO(), d3 = ZERO();                        \
                for (; p + 4 <= k; p += 4, bp += 4 * sb) {                                   \
                    V t0 = SET1(a[p * sa]), t1 = SET1(a[(p + 1) * sa]);                      \
                    V t2 = SET1(a[(p + 2) * sa]), t3 = SET1(a[(p + 3) * sa]);                \
                    c0 = FMA(t0, MLOAD(mk[0], bp), c0);                                      \
                    c1 = FMA(t1, MLOAD(mk[0], bp + sb), c1);                                 \
                    c2 = FMA(t2, MLOAD(mk[0], bp + 2 * sb), c2);                             \
                    c3 = FMA(t3, MLOAD(mk[0], bp + 3 * sb), c3);                             \
                    d0 = FMA(t0, MLOAD(mk[1], bp + L), d0);                                  \
                    d1 = FMA(t1, MLOAD(mk[1], bp + sb + L), d1);                             \
                    d2 = FMA(t2, MLOAD(mk[1], bp + 2 * sb + L), d2);                         \
                    d3 = FMA(t3, MLOAD(mk[1], bp + 3 * sb + L), d3);                         \
                }                                                                            \
                for (; p < k; p++, bp += sb) {                                               \
                    V t = SET1(a[p * sa]);                                                   \
                    c0 = FMA(t, MLOAD(mk[0], bp), c0);                                       \
                    d0 = FMA(t, MLOAD(mk[1], bp + L), d0);                                   \
                }                                                                            \
                c0 = ADD(ADD(c0, c1), ADD(c2, c3));                                          \
                c1 = ADD(ADD(d0, d1), ADD(d2, d3));                                          \
                c2 = c3 = ZERO();                                                            \
            }                                                                                \
            V acc[4] = {c0, c1, c2, c3};                                                     \
            for (int v = 0; v < nv; v++) {                                                   \
                T *cp = c + j + v * L;                                                       \
                V r = beta == 0 ? MUL(acc[v], va)                                            \
                                : FMA(acc[v], va, MUL(MLOAD(mk[v], cp), vb));                \
                MSTORE(cp, mk[v], r);                                                        \
            }                                                                                \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
                                                                                             \
    NC_TARGET_AVX512                                                                         \
    void nc_kernel_avx512_dot_##SFX(int64_t n, int64_t k, const T *x, const T *y,            \
                                    int64_t sy, T *c, int64_t sc, T alpha, T beta)           \
    {                                                                                        \
        int64_t kv = k - k % L;                                                              \
        MASKT tail = (MASKT)(((uint32_t)1 << (k % L)) - 1);                                  \
        for (int64_t j = 0; j < n; j++) {                                                    \
            const T *yj = y + j * sy;                                                        \
            V acc = ZERO();                                                                  \
            int64_t p = 0;                                                                   \
            for (; p < kv; p += L) acc = FMA(MLOAD((MASKT)ONES, x + p), MLOAD((MASKT)ONES, yj + p), acc); \
            if (tail) acc = FMA(MLOAD(tail, x + p), MLOAD(tail, yj + p), acc);               \
            T s = REDUCE(acc);                                                               \
            c[j * sc] = beta == 0 ? alpha * s : alpha * s + beta * c[j * sc];                \
        }                                                                                    \
    }

UNPACKED_KERNELS(float, f32, __m512, 16, _mm512_set1_ps, _mm512_setzero_ps,
                 _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps,
                 _mm512_reduce_add_ps, __mmask16, 0xFFFF, _mm512_add_ps)
UNPACKED_KERNELS(double, f64, __m512d, 8, _mm512_set1_pd, _mm512_setzero_pd,
                 _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, _mm512_fmadd_pd, _mm512_mul_pd,
                 _mm512_reduce_add_pd, __mmask8, 0xFF, _mm512_add_pd)
#endif /* NC_X86 */

#if NC_X86
/* ---------------------------------------------------------------- AVX-512, packing */

/* Transposing copy for the packs whose source runs along p (A not transposed, B
 * transposed): dst[p*dstride + x] = x < nload ? src[x*lds + p] : 0 for p < np and
 * x < nstore (nstore <= L). L rows of L values are transposed in registers by log2(L)
 * rounds of block swaps: round s exchanges the s-wide column blocks of rows i and i+s. */
#define PACK_TR(T, SFX, V, L, IDXT, IDXV, LOADIDX, ZERO, MLOAD, MSTORE, PERM, MASKT, ONES)    \
    NC_TARGET_AVX512                                                                         \
    void nc_pack_tr_avx512_##SFX(T *restrict dst, int64_t dstride, const T *restrict src,    \
                                 int64_t lds, int nload, int nstore, int64_t np)             \
    {                                                                                        \
        IDXV lo[4], hi[4];                                                                   \
        int rounds = 0;                                                                      \
        for (int s = L / 2; s >= 1; s /= 2, rounds++) {                                      \
            IDXT l_[L], h_[L];                                                               \
            for (int j = 0; j < L; j++) {                                                    \
                l_[j] = (j & s) ? L + j - s : j;                                             \
                h_[j] = (j & s) ? L + j : j + s;                                             \
            }                                                                                \
            lo[rounds] = LOADIDX(l_);                                                        \
            hi[rounds] = LOADIDX(h_);                                                        \
        }                                                                                    \
        MASKT sm = nstore >= L ? (MASKT)ONES : (MASKT)(((uint32_t)1 << nstore) - 1);          \
        for (int64_t p = 0; p < np; p += L) {                                                \
            int64_t w = NC_MIN((int64_t)L, np - p);                                          \
            MASKT lm = w >= L ? (MASKT)ONES : (MASKT)(((uint32_t)1 << w) - 1);               \
            V r[L];                                                                          \
            _Pragma("GCC unroll 16") for (int x = 0; x < L; x++)                             \
                r[x] = x < nload ? MLOAD(lm, src + x * lds + p) : ZERO();                    \
            int q = 0;                                                                       \
            for (int s = L / 2; s >= 1; s /= 2, q++) {                                       \
                _Pragma("GCC unroll 16") for (int i = 0; i < L; i++) {                       \
                    if (i & s) continue;                                                     \
                    V a = r[i], b = r[i + s];                                                \
                    r[i] = PERM(a, lo[q], b);                                                \
                    r[i + s] = PERM(a, hi[q], b);                                            \
                }                                                                            \
            }                                                                                \
            for (int64_t x = 0; x < w; x++) MSTORE(dst + (p + x) * dstride, sm, r[x]);       \
        }                                                                                    \
    }

PACK_TR(float, f32, __m512, 16, int32_t, __m512i, _mm512_loadu_si512, _mm512_setzero_ps,
        _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_permutex2var_ps, __mmask16,
        0xFFFF)
PACK_TR(double, f64, __m512d, 8, int64_t, __m512i, _mm512_loadu_si512, _mm512_setzero_pd,
        _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, _mm512_permutex2var_pd, __mmask8, 0xFF)
#endif /* NC_X86 */

#if NC_X86
/* Plain copy for the packs whose source runs along the panel (A transposed, B as stored):
 * dst[p*w + x] = x < ncopy ? src[p*lds + x] : 0 for p < np and x < w (w <= 2L). Two
 * masked vectors a row: a compiler's memcpy call per 12 or 32 values cost a tenth of a
 * short-K product. */
#define PACK_COPY(T, SFX, V, L, MLOAD, STORE, MASKT, ONES)                                  \
    NC_TARGET_AVX512                                                                         \
    void nc_pack_copy_avx512_##SFX(T *restrict dst, int64_t w, const T *restrict src,       \
                                   int64_t lds, int64_t ncopy, int64_t np)                  \
    {                                                                                        \
        int64_t n0 = NC_MIN(ncopy, (int64_t)L), n1 = NC_MAX((int64_t)0, ncopy - L);          \
        MASKT m0 = n0 >= L ? (MASKT)ONES : (MASKT)(((uint32_t)1 << n0) - 1);                 \
        MASKT m1 = n1 >= L ? (MASKT)ONES : (MASKT)(((uint32_t)1 << n1) - 1);                 \
        MASKT s0 = w >= L ? (MASKT)ONES : (MASKT)(((uint32_t)1 << w) - 1);                   \
        MASKT s1 = w - L >= L ? (MASKT)ONES                                                  \
                   : w <= L  ? (MASKT)0 : (MASKT)(((uint32_t)1 << (w - L)) - 1);             \
        for (int64_t p = 0; p < np; p++, src += lds, dst += w) {                             \
            STORE(dst, s0, MLOAD(m0, src));                                                  \
            if (s1) STORE(dst + L, s1, MLOAD(m1, src + L));                                  \
        }                                                                                    \
    }

PACK_COPY(float, f32, __m512, 16, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, __mmask16,
          0xFFFF)
PACK_COPY(double, f64, __m512d, 8, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, __mmask8,
          0xFF)
#endif /* NC_X86 */
