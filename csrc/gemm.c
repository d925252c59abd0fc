/* PROVISIONAL: correct, unblocked GEMM with the epilogue; replaced by the blocked one. */
#include "internal.h"

size_t nc_gemm_workspace_f32(int64_t m, int64_t n, int64_t k, int threads)
{
    (void)m; (void)n; (void)k; (void)threads;
    return 0;
}
size_t nc_gemm_workspace_f64(int64_t m, int64_t n, int64_t k, int threads)
{
    (void)m; (void)n; (void)k; (void)threads;
    return 0;
}

#define NC_GEMM_PROV(T, SFX)                                                                 \
    void nc_gemm_##SFX(T *c, const T *a, const T *b, int64_t m, int64_t n, int64_t k,        \
                       int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,     \
                       T alpha, T beta, const nc_epilogue_##SFX *ep, void *work,             \
                       size_t work_bytes)                                                    \
    {                                                                                        \
        (void)work; (void)work_bytes;                                                        \
        nc_gemm_ref_##SFX(c, a, b, m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta);   \
        if (!ep) return;                                                                     \
        for (int64_t i = 0; i < m; i++) {                                                    \
            T *cr = c + i * ldc;                                                             \
            if (ep->bias)                                                                    \
                for (int64_t j = 0; j < n; j++) cr[j] += ep->bias[j];                        \
            if (ep->z_out)                                                                   \
                for (int64_t j = 0; j < n; j++) ep->z_out[i * ep->ldz + j] = cr[j];          \
            nc_act_tile_##SFX(cr, cr, 1, n, ldc, ldc, ep->act, ep->act_param);               \
        }                                                                                    \
    }

NC_GEMM_PROV(float, f32)
NC_GEMM_PROV(double, f64)
