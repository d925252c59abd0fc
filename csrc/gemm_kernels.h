/* The GEMM's micro-kernels and AVX-512 packing helpers (gemm_kernels.c), as the driver
 * (gemm.c) calls them. gemm_kernels.c includes this header too, so the compiler checks
 * every definition against its declaration. The full contracts are in gemm_kernels.c. */
#ifndef NEURALCLI_GEMM_KERNELS_H
#define NEURALCLI_GEMM_KERNELS_H

#include "internal.h"

/* Packed kernels: a is a packed (kc, MR) A micro-panel, b a packed, 64-byte aligned
 * (kc, NR) B micro-panel, c a full (MR, NR) tile with leading dim ldc.
 * C = alpha * (a^T b) + beta * C; beta == 0 never reads C. Every packed kernel of element
 * type T takes NC_PACKED_KERNEL_ARGS(T); the ones reading A in place, NC_ROWS_KERNEL_ARGS. */
#define NC_PACKED_KERNEL_ARGS(T)                                                             \
    int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha, T beta
#define NC_ROWS_KERNEL_ARGS(T)                                                               \
    int64_t kc, const T *a, int64_t lda, const T *b, T *c, int64_t ldc, T alpha, T beta

void nc_kernel_portable_4x8_f32(NC_PACKED_KERNEL_ARGS(float));
void nc_kernel_portable_4x8_f64(NC_PACKED_KERNEL_ARGS(double));

#if NC_X86
NC_TARGET_AVX512 void nc_kernel_avx512_12x32_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_14x32_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_12x16_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_14x16_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_12x16_f64(NC_PACKED_KERNEL_ARGS(double));
NC_TARGET_AVX2 void nc_kernel_avx2_6x16_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX2 void nc_kernel_avx2_6x8_f64(NC_PACKED_KERNEL_ARGS(double));

/* Short kernels for a last row panel: the first R rows (4, 8 or 12) of a panel packed
 * with stride MR (_s12: 12, _s14: 14), 32 or 16 columns wide. */
NC_TARGET_AVX512 void nc_kernel_avx512_4x32_s12_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_4x16_s12_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_8x32_s12_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_8x16_s12_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_4x32_s14_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_4x16_s14_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_8x32_s14_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_8x16_s14_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_12x32_s14_f32(NC_PACKED_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_12x16_s14_f32(NC_PACKED_KERNEL_ARGS(float));

/* The packed kernels with A read in place: A(i,p) = a[i*lda + p] (rows of A, not
 * transposed); b and c as above. */
NC_TARGET_AVX512 void nc_kernel_avx512_12x32_rows_f32(NC_ROWS_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_14x32_rows_f32(NC_ROWS_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_12x16_rows_f32(NC_ROWS_KERNEL_ARGS(float));
NC_TARGET_AVX512 void nc_kernel_avx512_14x16_rows_f32(NC_ROWS_KERNEL_ARGS(float));

/* Unpacked kernels of the small-problem path.
 * row: C(i,j) for rows i < rows and j < n, A(i,p) = a[i*sai + p*sa], B(p,j) = b[p*sb + j].
 * dot: c[j*sc] = alpha * sum_p x[p] * y[j*sy + p] + beta * c[j*sc] for j < n. */
NC_TARGET_AVX512 void nc_kernel_avx512_row_f32(int64_t rows, int64_t n, int64_t k,
                                               const float *a, int64_t sai, int64_t sa,
                                               const float *b, int64_t sb, float *c,
                                               int64_t ldc, float alpha, float beta);
NC_TARGET_AVX512 void nc_kernel_avx512_row_f64(int64_t rows, int64_t n, int64_t k,
                                               const double *a, int64_t sai, int64_t sa,
                                               const double *b, int64_t sb, double *c,
                                               int64_t ldc, double alpha, double beta);
NC_TARGET_AVX512 void nc_kernel_avx512_dot_f32(int64_t n, int64_t k, const float *x,
                                               const float *y, int64_t sy, float *c,
                                               int64_t sc, float alpha, float beta);
NC_TARGET_AVX512 void nc_kernel_avx512_dot_f64(int64_t n, int64_t k, const double *x,
                                               const double *y, int64_t sy, double *c,
                                               int64_t sc, double alpha, double beta);

/* Packing. tr: dst[p*dstride + x] = x < nload ? src[x*lds + p] : 0 for p < np and
 * x < nstore. copy: dst[p*w + x] = x < ncopy ? src[p*lds + x] : 0 for p < np and x < w. */
NC_TARGET_AVX512 void nc_pack_tr_avx512_f32(float *dst, int64_t dstride, const float *src,
                                            int64_t lds, int nload, int nstore, int64_t np);
NC_TARGET_AVX512 void nc_pack_tr_avx512_f64(double *dst, int64_t dstride, const double *src,
                                            int64_t lds, int nload, int nstore, int64_t np);
NC_TARGET_AVX512 void nc_pack_copy_avx512_f32(float *dst, int64_t w, const float *src,
                                              int64_t lds, int64_t ncopy, int64_t np);
NC_TARGET_AVX512 void nc_pack_copy_avx512_f64(double *dst, int64_t w, const double *src,
                                              int64_t lds, int64_t ncopy, int64_t np);
#endif /* NC_X86 */

#endif
