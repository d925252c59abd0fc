/* Private helpers shared by the C files of the core; not part of the public API. */
#ifndef NEURALCLI_INTERNAL_H
#define NEURALCLI_INTERNAL_H

#include "neuralcli.h"

#if defined(__x86_64__) || defined(_M_X64)
#define NC_X86 1
#else
#define NC_X86 0
#endif

/* Per-function ISA targets for the SIMD paths, chosen at run time by nc_get_isa(). */
#define NC_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define NC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define NC_INLINE static inline __attribute__((always_inline))

/* Token pasting for the float/double templates: NC_CAT(name, f32) is name_f32. */
#define NC_CAT_(a, b) a##_##b
#define NC_CAT(a, b) NC_CAT_(a, b)

/* a*b + c rounded once, in a template's element type T */
#define NC_FMA_T(a, b, c)                                                                    \
    (sizeof(T) == 4 ? (T)__builtin_fmaf((float)(a), (float)(b), (float)(c))                  \
                    : (T)__builtin_fma((double)(a), (double)(b), (double)(c)))

#define NC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---------------------------------------------------------------- thread pool (pool.c)
 *
 * nc_parallel runs fn(ctx, unit, slot) for every unit in [0, units) on at most
 * max_threads threads (and never more than the thread setting), and returns when all
 * are done. The calling thread runs units too and never waits for a worker that has not
 * started one. slot is in [0, max_threads) and is used by one thread at a time during
 * the call: index per-thread scratch with it. Which thread runs a unit, and how many
 * threads there are, must not change the unit's result: split work into units by sizes
 * alone and sum per-unit partials in unit order. A call from inside a unit runs inline. */
typedef void (*nc_task)(void *ctx, int64_t unit, int slot);
void nc_parallel(nc_task fn, void *ctx, int64_t units, int max_threads);

/* Workers started so far (for tests). */
int nc_pool_workers(void);

#define NC_MAX_THREADS 256

/* Threads worth using for a region of `work` element operations: one element read,
 * combined and written by an element-wise kernel counts 1 (an activation, an optimizer
 * update, a loss row's element, a column-sum term); a GEMM counts its multiply-adds
 * divided by how many of them its kernels retire per element-wise operation. Each thread
 * must get NC_WORK_PER_THREAD of them, some 5-20 microseconds on one core: several
 * times what handing units to a spinning worker costs, so a second thread pays when the
 * machine is quiet, and small enough that a late worker costs the caller nothing (it
 * runs the units itself). Never more than the setting. */
#define NC_WORK_PER_THREAD 16384

static inline int nc_threads_for(int64_t work)
{
    int nt = nc_get_num_threads();
    int64_t useful = work / NC_WORK_PER_THREAD;
    if (useful < 1) useful = 1;
    return useful < nt ? (int)useful : nt;
}

/* Deterministic reductions. A sum over n items is split into NC_RED_CHUNKS chunks at most;
 * the chunk length depends on n alone, so the partial sums and the order they are added
 * in never depend on the thread count. */
#define NC_RED_CHUNKS 256
#define NC_RED_MIN_CHUNK 2048

static inline int64_t nc_red_chunk_len(int64_t n)
{
    int64_t len = (n + NC_RED_CHUNKS - 1) / NC_RED_CHUNKS;
    return len < NC_RED_MIN_CHUNK ? NC_RED_MIN_CHUNK : len;
}

/* Length of a layer's slice of the flat parameter buffer (nc_mlp): its weights (C,OC),
 * then its bias (OC,). */
static inline int64_t nc_layer_params(int64_t c, int64_t oc) { return c * oc + oc; }

/* Serial y = act(z) over one (n,c) tile (activations.c): nc_act_forward without the
 * threads, for the GEMM epilogue and the fused small step. */
void nc_act_tile_f32(float *y, const float *z, int64_t n, int64_t c, int64_t ldy,
                     int64_t ldz, int act, float param);
void nc_act_tile_f64(double *y, const double *z, int64_t n, int64_t c, int64_t ldy,
                     int64_t ldz, int act, double param);

/* Serial dz = dy * act'(.) over one (n,c) tile sharing leading dim ld (activations.c).
 * Returns -1 for an activation with no derivative (step). */
int nc_act_backward_tile_f32(float *dz, const float *dy, const float *y, const float *z,
                             int64_t n, int64_t c, int64_t ld, int act, float param);
int nc_act_backward_tile_f64(double *dz, const double *dy, const double *y, const double *z,
                             int64_t n, int64_t c, int64_t ld, int act, double param);

/* Serial loss over rows [i0,i1) (loss.c): returns sum_i s_i * l_i and writes the gradient
 * scaled by s_i * inv; nc_loss_weight_total gives sum s and that inv for the whole batch. */
double nc_loss_rows_f32(float *grad, float *probs, const float *a, const float *t,
                        const int32_t *labels, const float *sw, const float *cw, int64_t i0,
                        int64_t i1, int64_t k, int kind, double inv);
double nc_loss_rows_f64(double *grad, double *probs, const double *a, const double *t,
                        const int32_t *labels, const double *sw, const double *cw,
                        int64_t i0, int64_t i1, int64_t k, int kind, double inv);
double nc_loss_weight_total_f32(const float *sw, const float *cw, const int32_t *labels,
                                int64_t n, int64_t k, int kind, double *inv);
double nc_loss_weight_total_f64(const double *sw, const double *cw, const int32_t *labels,
                                int64_t n, int64_t k, int kind, double *inv);

#endif
