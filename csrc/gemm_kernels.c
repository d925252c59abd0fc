/* GEMM micro-kernels: one register-blocked MR x NR update of C per call.
 *
 * Every kernel has the same contract (gemm.c holds the driver and the packing):
 *   a is a packed A micro-panel, (kc, MR): element (p, i) at a[p*MR + i]
 *   b is a packed B micro-panel, (kc, NR): element (p, j) at b[p*NR + j], 64-byte aligned
 *   c is a full (MR, NR) tile of C with leading dim ldc
 *   C = alpha * (a^T b) + beta * C, where beta == 0 never reads C.
 * Edge tiles are zero-padded by the packing, so a kernel always runs the full MR x NR.
 * The x86 kernels carry their own target attributes, so this file builds for baseline
 * x86-64 (and elsewhere, where only the portable kernel exists); gemm.c picks one at run
 * time. Summation order over p is the same for every tile, so where a tile is computed
 * (which thread) never changes its bits.
 */
#include "internal.h"

#if NC_X86
#include <immintrin.h>
#endif

#define NC_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define NC_TARGET_AVX2 __attribute__((target("avx2,fma")))

/* Row lists that unroll a statement over the MR rows of a kernel. */
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
