/* The naive GEMM: the fallback for awkward shapes and the C-level oracle. */
#include "internal.h"

#define NC_GEMM_REF(T, SFX)                                                                  \
    void nc_gemm_ref_##SFX(T *c, const T *a, const T *b, int64_t m, int64_t n, int64_t k,    \
                           int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b, \
                           T alpha, T beta)                                                  \
    {                                                                                        \
        for (int64_t i = 0; i < m; i++) {                                                    \
            for (int64_t j = 0; j < n; j++) {                                                \
                T acc = 0;                                                                   \
                for (int64_t p = 0; p < k; p++) {                                            \
                    T av = trans_a ? a[p * lda + i] : a[i * lda + p];                        \
                    T bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];                        \
                    acc += av * bv;                                                          \
                }                                                                            \
                /* beta == 0 must not read C: it may hold garbage or NaN */                 \
                c[i * ldc + j] = beta == 0 ? alpha * acc : alpha * acc + beta * c[i * ldc + j]; \
            }                                                                                \
        }                                                                                    \
    }

NC_GEMM_REF(float, f32)
NC_GEMM_REF(double, f64)
