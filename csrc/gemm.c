/* Blocked GEMM in the BLIS shape: driver, packing and dispatch (micro-kernels live in
 * gemm_kernels.c).
 *
 *   C is cut into work units: a grid of rectangles on MR/NR panel boundaries. Each unit is
 *   computed whole by one thread, with its own packs:
 *     for jc in the unit's columns by NC     B block (KC,NC), private to the thread
 *       for pc in K by KC                    the only loop that sums: never split
 *         pack B(pc:pc+kc, jc:jc+nc)
 *         for ic in the unit's rows by MC    A block (MC,KC), private, in the core's L2
 *           pack A(ic:ic+mc, pc:pc+kc)
 *           macro-kernel over the (MC/MR) x (NC/NR) micro-tiles
 *             micro-kernel MR x NR; after the last pc, the epilogue on the hot tile
 *
 * Threads take units from a shared counter and never wait for one another inside a
 * call: there is no barrier between the fork and the join. A thread slowed by other work
 * on its core just takes fewer units. The price is packing the rows (columns) of A (B)
 * once per unit column (row) instead of once; the grid is chosen to keep that small.
 * Units start on the global MR/NR grid and the K blocks depend on K alone, so every tile
 * is the same tile, summed over the same pc blocks in the same order, whoever computes
 * it: results are bitwise equal for any thread count.
 *
 * Small, skinny or scratch-less calls take an unpacked path: C rows computed directly
 * (axpy form when op(B) rows are contiguous, dot form otherwise), split by rows.
 *
 * This file is its own template: the part below NC_GEMM_TEMPLATE is included twice, once
 * for float and once for double, as dense.c does with dense_impl.h.
 */
#ifndef NC_GEMM_TEMPLATE

#include <string.h>

#include "internal.h"
#include "gemm_kernels.h"

/* ---------------------------------------------------------------- blocking constants */

/* KC: depth of one packed block (A and B micro-panels of kc rows stream from L2).
 * MC: rows of a thread's A block, kept in its core's L2 (a multiple of MR).
 * NC: columns of a thread's B block, kept in L3 (a multiple of NR).
 * The blocks actually used are balanced: K = 784 with KC 384 runs three blocks of 262
 * rather than 384 + 384 + 16. */
#define A512_MR_F32 14
#define A512_NR_F32 32
#define A512_MC_F32 140
#define A512_KC_F32 384
#define A512_NC_F32 2048

/* second AVX-512 float shape, used when it pads M less (M = 128: 11 x 12 rows beat
 * 10 x 14); same NR, KC and NC */
#define A512_MR2_F32 12
#define A512_MC2_F32 144

#define A512_MR_F64 12
#define A512_NR_F64 16
#define A512_MC_F64 96
#define A512_KC_F64 256
#define A512_NC_F64 2048
#define A512_MR2_F64 A512_MR_F64
#define A512_MC2_F64 A512_MC_F64

#define AVX2_MR_F32 6
#define AVX2_NR_F32 16
#define AVX2_MC_F32 144
#define AVX2_KC_F32 256
#define AVX2_NC_F32 2048

#define AVX2_MR_F64 6
#define AVX2_NR_F64 8
#define AVX2_MC_F64 96
#define AVX2_KC_F64 256
#define AVX2_NC_F64 2048

#define PORT_MR 4
#define PORT_NR 8
#define PORT_MC 64
#define PORT_KC 256
#define PORT_NC 1024

/* Largest MR*NR of any kernel: the stack tile an edge tile is computed into. */
#define MAX_TILE (14 * 32)

/* The unpacked path is used when m*n*k is at most this (packing and barriers cost more
 * than they save), when k is this small (a packed pass would be all C traffic), and for
 * m == 1 or n == 1. */
#define SMALL_MNK (24 * 24 * 24)
#define SMALL_K 4
/* ... and, where the AVX-512 unpacked row kernel applies (op(B) rows contiguous), up to
 * this m*n*k or for fewer rows than this */
#define SMALL_MNK_ROW (64 * 64 * 64)
#define SMALL_M_ROW 6
/* Multiply-adds worth one element operation of nc_threads_for: the unpacked kernels
 * retire about 4 in that time, the packed ones about 16. */
#define SMALL_MADDS_PER_OP 4
#define PACKED_MADDS_PER_OP 16
/* Below this many multiply-adds the packed path runs on one thread: a fork and join, the
 * second thread's packs and a split that rarely halves the tiles cost what a second
 * thread saves (measured: 80^3 and 64x128x64 no faster on two, 100^3 15% faster). */
#define PACKED_MIN_MNK ((int64_t)3 << 18)

/* ---------------------------------------------------------------- micro-kernels */

/* The x86 kernels of each configuration (declared in gemm_kernels.h). */
#if NC_X86
#define KERN_A512_F32 nc_kernel_avx512_14x32_f32
#define KERN_A512_2_F32 nc_kernel_avx512_12x32_f32
#define KERN_A512_2_F64 nc_kernel_avx512_12x16_f64
#define KERN_A512_F64 nc_kernel_avx512_12x16_f64
#define KERN_A512_ROWS_F32 nc_kernel_avx512_14x32_rows_f32
#define KERN_A512_2_ROWS_F32 nc_kernel_avx512_12x32_rows_f32
#define KERN_A512_ROWS_F64 NULL
#define KERN_A512_2_ROWS_F64 NULL
#define KERN_A512_HALF_F32 nc_kernel_avx512_14x16_f32
#define KERN_A512_2_HALF_F32 nc_kernel_avx512_12x16_f32
#define KERN_A512_HALF_ROWS_F32 nc_kernel_avx512_14x16_rows_f32
#define KERN_A512_2_HALF_ROWS_F32 nc_kernel_avx512_12x16_rows_f32
/* short kernels for a last row panel: [half width][rows / 4 - 1] */
#define KERN_A512_SHORT_F32                                                                  \
    {{nc_kernel_avx512_4x32_s14_f32, nc_kernel_avx512_8x32_s14_f32,                          \
      nc_kernel_avx512_12x32_s14_f32},                                                       \
     {nc_kernel_avx512_4x16_s14_f32, nc_kernel_avx512_8x16_s14_f32,                          \
      nc_kernel_avx512_12x16_s14_f32}}
#define KERN_A512_2_SHORT_F32                                                                \
    {{nc_kernel_avx512_4x32_s12_f32, nc_kernel_avx512_8x32_s12_f32, NULL},                   \
     {nc_kernel_avx512_4x16_s12_f32, nc_kernel_avx512_8x16_s12_f32, NULL}}
#define KERN_A512_SHORT_F64 {{NULL}}
#define KERN_A512_2_SHORT_F64 {{NULL}}
#define KERN_A512_HALF_F64 NULL
#define KERN_A512_2_HALF_F64 NULL
#define KERN_A512_HALF_ROWS_F64 NULL
#define KERN_A512_2_HALF_ROWS_F64 NULL
#define KERN_AVX2_F32 nc_kernel_avx2_6x16_f32
#define KERN_AVX2_F64 nc_kernel_avx2_6x8_f64
#endif

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static inline size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

/* Balanced block length: the fewest blocks of at most `max`, equal up to rounding to
 * `unit`. Depends on the sizes only, so the summation order does too. */
static inline int64_t balanced(int64_t len, int64_t max, int64_t unit)
{
    int64_t nb = ceil_div(len, max);
    return round_up(ceil_div(len, nb), unit);
}

#define NC_GEMM_TEMPLATE
#define T float
#define SFX f32
#define UP F32
#include "gemm.c"
#undef T
#undef SFX
#undef UP

#define T double
#define SFX f64
#define UP F64
#include "gemm.c"
#undef T
#undef SFX
#undef UP

#else /* ---------------------------------------------------------- template body */

#define FN(name) NC_CAT(name, SFX)
#define CAT3_(a, b, c) a##_##b##_##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#define EPILOGUE NC_CAT(nc_epilogue, SFX)
#define CFG NC_CAT(gemm_cfg, SFX)

typedef void (*FN(kern_t))(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha,
                           T beta);

/* A kernel reading A unpacked: A(i,p) = a[i*lda + p] */
typedef void (*FN(kern_rows_t))(int64_t kc, const T *a, int64_t lda, const T *b, T *c,
                                int64_t ldc, T alpha, T beta);

typedef struct {
    int64_t mr, nr, mc, kc, nc;
    FN(kern_t) kern;
    FN(kern_rows_t) kern_rows; /* or NULL */
    /* (MR, NR/2) kernels for a last column panel of at most NR/2 columns, or NULL; they
     * read the first half of a packed NR-wide B panel */
    FN(kern_t) kern_half;
    FN(kern_rows_t) kern_half_rows;
    /* kernels for the first 4, 8, 12 rows of a packed panel (a short last panel), full and
     * half width, or NULL */
    FN(kern_t) kern_short[2][3];
    void (*pack_a)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t, int64_t, int64_t,
                   int64_t, int64_t);
    void (*pack_b)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t, int64_t, int64_t,
                   int64_t, int64_t);
} CFG;

static void FN(pack_a_portable)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, int64_t);
static void FN(pack_b_portable)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, int64_t);
#if NC_X86
static void FN(pack_a_avx2)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t, int64_t,
                            int64_t, int64_t, int64_t);
static void FN(pack_b_avx2)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t, int64_t,
                            int64_t, int64_t, int64_t);
static void FN(pack_a_avx512)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t,
                              int64_t, int64_t, int64_t, int64_t);
static void FN(pack_b_avx512)(T *, const T *, int64_t, int, int64_t, int64_t, int64_t,
                              int64_t, int64_t, int64_t, int64_t);
#endif

/* The configuration for an ISA path; for AVX-512 float, of the two kernel heights the
 * one that pads M's last panel less (M alone decides, so the summation order does too). */
static const CFG *FN(config)(int isa, int64_t m)
{
    static const CFG portable = {PORT_MR, PORT_NR, PORT_MC, PORT_KC, PORT_NC,
                                 FN(nc_kernel_portable_4x8), NULL, NULL, NULL, {{NULL}},
                                 FN(pack_a_portable),
                                 FN(pack_b_portable)};
#if NC_X86
    static const CFG avx2 = {CAT3(AVX2, MR, UP), CAT3(AVX2, NR, UP), CAT3(AVX2, MC, UP),
                             CAT3(AVX2, KC, UP), CAT3(AVX2, NC, UP), NC_CAT(KERN_AVX2, UP),
                             NULL, NULL, NULL, {{NULL}}, FN(pack_a_avx2),
                             FN(pack_b_avx2)};
    static const CFG avx512 = {CAT3(A512, MR, UP), CAT3(A512, NR, UP), CAT3(A512, MC, UP),
                               CAT3(A512, KC, UP), CAT3(A512, NC, UP), NC_CAT(KERN_A512, UP),
                               NC_CAT(KERN_A512_ROWS, UP), NC_CAT(KERN_A512_HALF, UP),
                               NC_CAT(KERN_A512_HALF_ROWS, UP), NC_CAT(KERN_A512_SHORT, UP),
                               FN(pack_a_avx512),
                               FN(pack_b_avx512)};
    static const CFG avx512b = {CAT3(A512, MR2, UP), CAT3(A512, NR, UP), CAT3(A512, MC2, UP),
                                CAT3(A512, KC, UP), CAT3(A512, NC, UP),
                                NC_CAT(KERN_A512_2, UP), NC_CAT(KERN_A512_2_ROWS, UP),
                                NC_CAT(KERN_A512_2_HALF, UP),
                                NC_CAT(KERN_A512_2_HALF_ROWS, UP),
                                NC_CAT(KERN_A512_2_SHORT, UP), FN(pack_a_avx512),
                                FN(pack_b_avx512)};
    if (isa == NC_ISA_AVX512) {
        int64_t pad1 = round_up(m, avx512.mr) - m, pad2 = round_up(m, avx512b.mr) - m;
        return pad2 < pad1 ? &avx512b : &avx512;
    }
    if (isa == NC_ISA_AVX2) return &avx2;
#endif
    (void)isa;
    (void)m;
    return &portable;
}

/* Rows of an A block: MC sized for KC; a shallower K block lets it grow in proportion
 * (same L2 footprint), so short-K products run fewer blocks. */
static int64_t FN(mc_cap)(const CFG *cf, int64_t kcb)
{
    int64_t mc = cf->mc * cf->kc / kcb;
    return NC_MAX(cf->mc, mc - mc % cf->mr);
}

/* Scratch of one thread: its A block, then its B block, each as large as any unit needs;
 * *a_bytes (when non-NULL) receives the A block's share. */
/* Row stride of A's rows copied for a _rows kernel: whole cache lines, an odd number of
 * them, so MR consecutive rows fall in MR different L1 sets. */
static inline int64_t FN(row_stride)(int64_t kc)
{
    int64_t line = 64 / (int64_t)sizeof(T);
    return line * (ceil_div(kc, line) | 1);
}

static size_t FN(thread_bytes)(const CFG *cf, int64_t m, int64_t n, int64_t k,
                               size_t *a_bytes)
{
    int64_t kcb = balanced(k, cf->kc, 1);
    int64_t mcb = NC_MIN(FN(mc_cap)(cf, kcb), round_up(m, cf->mr));
    int64_t ncb = NC_MIN(cf->nc, round_up(n, cf->nr));
    /* packed panels, or copied rows and one packed short panel */
    int64_t a_elems = mcb * kcb;
    if (cf->kern_rows) a_elems = NC_MAX(a_elems, mcb * FN(row_stride)(kcb) + cf->mr * kcb);
    size_t ab = align64((size_t)a_elems * sizeof(T));
    if (a_bytes) *a_bytes = ab;
    return ab + align64((size_t)(kcb * ncb) * sizeof(T));
}

static size_t FN(packed_bytes)(const CFG *cf, int64_t m, int64_t n, int64_t k, int threads)
{
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    /* 64 bytes of slack: a caller's buffer that is not 64-byte aligned still works */
    return 64 + (size_t)NC_MAX(threads, 1) * FN(thread_bytes)(cf, m, n, k, NULL);
}

/* Every thread packs privately, so the scratch grows with the thread count; the largest
 * over the ISA paths this CPU has keeps a buffer valid across a switch. */
size_t FN(nc_gemm_workspace)(int64_t m, int64_t n, int64_t k, int threads)
{
    size_t best = 0;
    for (int isa = NC_ISA_PORTABLE; isa <= nc_detect_isa(); isa++) {
        size_t b = FN(packed_bytes)(FN(config)(isa, m), m, n, k, threads);
        if (b > best) best = b;
    }
    return best;
}

/* ---------------------------------------------------------------- epilogue */

// c is a finished (rows,cols) tile of C at (i0,j0) of the whole, leading dim ldc
static void FN(epilogue_tile)(T *c, int64_t ldc, int64_t rows, int64_t cols, int64_t i0,
                              int64_t j0, const EPILOGUE *ep)
{
    for (int64_t r = 0; r < rows; r++) {
        T *cr = c + r * ldc;
        if (ep->bias) {
            const T *bias = ep->bias + j0;
            for (int64_t j = 0; j < cols; j++) cr[j] += bias[j];
        }
        if (ep->z_out) memcpy(ep->z_out + (i0 + r) * ep->ldz + j0, cr, (size_t)cols * sizeof(T));
    }
    if (ep->act != NC_ACT_IDENTITY)
        FN(nc_act_tile)(c, c, rows, cols, ldc, ldc, ep->act, ep->act_param);
}

/* ---------------------------------------------------------------- unpacked path */

/* Rows [i0,i1) of C, straight from A and B. Inlined into one copy per ISA so the compiler
 * vectorizes the contiguous loops for it; with -ffp-contract=off every copy rounds alike. */
static inline __attribute__((always_inline)) void
FN(small_rows_impl)(T *restrict c, const T *restrict a, const T *restrict b, int64_t n,
                    int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int ta, int tb, T alpha,
                    T beta, const EPILOGUE *ep, int64_t i0, int64_t i1)
{
    int64_t sa_i = ta ? 1 : lda, sa_p = ta ? lda : 1; /* A(i,p) = a[i*sa_i + p*sa_p] */
    int64_t sb_p = tb ? 1 : ldb, sb_j = tb ? ldb : 1; /* B(p,j) = b[p*sb_p + j*sb_j] */
    if (n == 1 && ta) {
        /* a column of C from columns of op(A), which are rows of A: axpy over i */
        for (int64_t i = i0; i < i1; i++) c[i * ldc] = beta == 0 ? 0 : beta * c[i * ldc];
        for (int64_t p = 0; p < k; p++) {
            T t = alpha * b[p * sb_p];
            const T *ar = a + p * lda;
            for (int64_t i = i0; i < i1; i++) c[i * ldc] += t * ar[i];
        }
        if (ep) FN(epilogue_tile)(c + i0 * ldc, ldc, i1 - i0, 1, i0, 0, ep);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        T *restrict cr = c + i * ldc;
        const T *ar = a + i * sa_i;
        if (tb || n == 1) {
            /* dot form: B's rows of op(B) columns are contiguous (or n is 1) */
            for (int64_t j = 0; j < n; j++) {
                const T *bc = b + j * sb_j;
                T s = 0;
                for (int64_t p = 0; p < k; p++) s += ar[p * sa_p] * bc[p * sb_p];
                cr[j] = beta == 0 ? alpha * s : alpha * s + beta * cr[j];
            }
        } else {
            /* axpy form: C row += (alpha*A(i,p)) * B row p, contiguous in j */
            if (beta == 0)
                for (int64_t j = 0; j < n; j++) cr[j] = 0;
            else if (beta != 1)
                for (int64_t j = 0; j < n; j++) cr[j] *= beta;
            for (int64_t p = 0; p < k; p++) {
                T t = alpha * ar[p * sa_p];
                const T *restrict br = b + p * ldb;
                for (int64_t j = 0; j < n; j++) cr[j] += t * br[j];
            }
        }
        if (ep) FN(epilogue_tile)(cr, ldc, 1, n, i, 0, ep);
    }
}

#define SMALL_ARGS                                                                           \
    T *restrict c, const T *restrict a, const T *restrict b, int64_t n, int64_t k,           \
        int64_t lda, int64_t ldb, int64_t ldc, int ta, int tb, T alpha, T beta,              \
        const EPILOGUE *ep, int64_t i0, int64_t i1
#define SMALL_PASS c, a, b, n, k, lda, ldb, ldc, ta, tb, alpha, beta, ep, i0, i1

static void FN(small_rows_portable)(SMALL_ARGS) { FN(small_rows_impl)(SMALL_PASS); }
#if NC_X86
NC_TARGET_AVX2 static void FN(small_rows_avx2)(SMALL_ARGS) { FN(small_rows_impl)(SMALL_PASS); }
NC_TARGET_AVX512 static void FN(small_rows_avx512)(SMALL_ARGS)
{
    FN(small_rows_impl)(SMALL_PASS);
}

/* AVX-512: the unpacked kernels where the operands' strides allow, else the loops. */
static void FN(small_rows_a512k)(SMALL_ARGS)
{
    int64_t sa_i = ta ? 1 : lda, sa_p = ta ? lda : 1;
    int64_t sb_p = tb ? 1 : ldb, sb_j = tb ? ldb : 1;
    if (n == 1 && ta && ldc == 1) {
        /* a column of C is a row of the transposed product C^T = op(B)^T A: the row
         * kernel over i, broadcasting op(B)'s column, streaming A's contiguous rows */
        FN(nc_kernel_avx512_row)(1, i1 - i0, k, b, 0, sb_p, a + i0, lda, c + i0, 0, alpha,
                                 beta);
        if (ep) FN(epilogue_tile)(c + i0 * ldc, ldc, i1 - i0, 1, i0, 0, ep);
        return;
    }
    int dot = sa_p == 1 && sb_p == 1 && (n == 1 || sb_j != 1);
    if (!dot && sb_j != 1 && n != 1) {
        FN(small_rows_avx512)(SMALL_PASS);
        return;
    }
    if (!dot) {
        FN(nc_kernel_avx512_row)(i1 - i0, n, k, a + i0 * sa_i, sa_i, sa_p, b, sb_p,
                                 c + i0 * ldc, ldc, alpha, beta);
        if (ep) FN(epilogue_tile)(c + i0 * ldc, ldc, i1 - i0, n, i0, 0, ep);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        T *cr = c + i * ldc;
        FN(nc_kernel_avx512_dot)(n, k, a + i * lda, b, sb_j, cr, 1, alpha, beta);
        if (ep) FN(epilogue_tile)(cr, ldc, 1, n, i, 0, ep);
    }
}
#endif
#undef SMALL_ARGS
#undef SMALL_PASS

typedef struct {
    T *c;
    const T *a, *b;
    int64_t m, n, k, lda, ldb, ldc, rows;
    int ta, tb, isa;
    T alpha, beta;
    const EPILOGUE *ep;
} FN(small_job);

static void FN(small_unit)(void *arg, int64_t u, int slot)
{
    const FN(small_job) *j = arg;
    int64_t i0 = u * j->rows, i1 = NC_MIN(j->m, i0 + j->rows);
    (void)slot;
#if NC_X86
    if (j->isa == NC_ISA_AVX512)
        FN(small_rows_a512k)(j->c, j->a, j->b, j->n, j->k, j->lda, j->ldb, j->ldc, j->ta,
                             j->tb, j->alpha, j->beta, j->ep, i0, i1);
    else if (j->isa == NC_ISA_AVX2)
        FN(small_rows_avx2)(j->c, j->a, j->b, j->n, j->k, j->lda, j->ldb, j->ldc, j->ta,
                            j->tb, j->alpha, j->beta, j->ep, i0, i1);
    else
#endif
        FN(small_rows_portable)(j->c, j->a, j->b, j->n, j->k, j->lda, j->ldb, j->ldc, j->ta,
                                j->tb, j->alpha, j->beta, j->ep, i0, i1);
}

static void FN(gemm_small)(T *c, const T *a, const T *b, int64_t m, int64_t n, int64_t k,
                           int64_t lda, int64_t ldb, int64_t ldc, int ta, int tb, T alpha,
                           T beta, const EPILOGUE *ep, int isa)
{
    if (k <= 0) {
        /* C = beta*C (zeros for beta == 0, never reading C); A and B may be NULL */
        for (int64_t i = 0; i < m; i++) {
            T *cr = c + i * ldc;
            for (int64_t j = 0; j < n; j++) cr[j] = beta == 0 ? (T)0 : beta * cr[j];
            if (ep) FN(epilogue_tile)(cr, ldc, 1, n, i, 0, ep);
        }
        return;
    }
    /* Rows are split in units of a quarter of one thread's least share (so two or three
     * threads still split the rows evenly); the AVX-512 column case
     * (n == 1, A transposed) runs the row kernel along i, whose 64-wide blocks pick their
     * accumulator layout by their width, so its split must fall on multiples of 64 to
     * leave every block as one thread would see it. */
    int64_t align = isa == NC_ISA_AVX512 && n == 1 && ta && ldc == 1 ? 64 : 1;
    int64_t share = NC_WORK_PER_THREAD * SMALL_MADDS_PER_OP / 4;
    int64_t rows = round_up(NC_MAX(1, share / (n * k)), align);
    FN(small_job) job = {c, a, b, m, n, k, lda, ldb, ldc, rows, ta, tb, isa, alpha, beta, ep};
    nc_parallel(FN(small_unit), &job, ceil_div(m, rows),
                nc_threads_for(m * n * k / SMALL_MADDS_PER_OP));
}

/* ---------------------------------------------------------------- packing */

/* MR-row panels [lo,hi) of A(i0:i0+mc, p0:p0+kc) into dst, panel q at dst + q*mr*kc,
 * element (p, r) at p*mr + r; rows past mc are zero. */
static inline __attribute__((always_inline)) void FN(pack_a_impl)(T *restrict dst, const T *restrict a, int64_t lda, int ta, int64_t i0,
                       int64_t mc, int64_t p0, int64_t kc, int64_t mr, int64_t lo, int64_t hi)
{
    for (int64_t q = lo; q < hi; q++) {
        T *d = dst + q * mr * kc;
        int64_t i = i0 + q * mr, rows = NC_MIN(mr, mc - q * mr);
        if (ta) {
            /* A is (K,M): each p gives `rows` contiguous values */
            for (int64_t p = 0; p < kc; p++) {
                const T *s = a + (p0 + p) * lda + i;
                T *dp = d + p * mr;
                int64_t r = 0;
                for (; r < rows; r++) dp[r] = s[r];
                for (; r < mr; r++) dp[r] = 0;
            }
        } else {
            for (int64_t r = 0; r < rows; r++) {
                const T *s = a + (i + r) * lda + p0;
                for (int64_t p = 0; p < kc; p++) d[p * mr + r] = s[p];
            }
            for (int64_t r = rows; r < mr; r++)
                for (int64_t p = 0; p < kc; p++) d[p * mr + r] = 0;
        }
    }
}

/* NR-column panels [lo,hi) of B(p0:p0+kc, j0:j0+nc) into dst, panel q at dst + q*nr*kc,
 * element (p, j) at p*nr + j; columns past nc are zero. */
static inline __attribute__((always_inline)) void FN(pack_b_impl)(T *restrict dst, const T *restrict b, int64_t ldb, int tb, int64_t p0,
                       int64_t kc, int64_t j0, int64_t nc, int64_t nr, int64_t lo, int64_t hi)
{
    for (int64_t q = lo; q < hi; q++) {
        T *d = dst + q * nr * kc;
        int64_t j = j0 + q * nr, cols = NC_MIN(nr, nc - q * nr);
        if (!tb) {
            for (int64_t p = 0; p < kc; p++) {
                const T *s = b + (p0 + p) * ldb + j;
                T *dp = d + p * nr;
                int64_t x = 0;
                for (; x < cols; x++) dp[x] = s[x];
                for (; x < nr; x++) dp[x] = 0;
            }
        } else {
            /* B is (N,K): column j of op(B) is row j of B, contiguous in p */
            for (int64_t x = 0; x < cols; x++) {
                const T *s = b + (j + x) * ldb + p0;
                for (int64_t p = 0; p < kc; p++) d[p * nr + x] = s[p];
            }
            for (int64_t x = cols; x < nr; x++)
                for (int64_t p = 0; p < kc; p++) d[p * nr + x] = 0;
        }
    }
}

#define PACK_A_ARGS                                                                          \
    T *restrict dst, const T *restrict a, int64_t lda, int ta, int64_t i0, int64_t mc,       \
        int64_t p0, int64_t kc, int64_t mr, int64_t lo, int64_t hi
#define PACK_B_ARGS                                                                          \
    T *restrict dst, const T *restrict b, int64_t ldb, int tb, int64_t p0, int64_t kc,       \
        int64_t j0, int64_t nc, int64_t nr, int64_t lo, int64_t hi
/* One copy of the packing loops per ISA, vectorized for it (they are pure copies). */
static void FN(pack_a_portable)(PACK_A_ARGS)
{
    FN(pack_a_impl)(dst, a, lda, ta, i0, mc, p0, kc, mr, lo, hi);
}
static void FN(pack_b_portable)(PACK_B_ARGS)
{
    FN(pack_b_impl)(dst, b, ldb, tb, p0, kc, j0, nc, nr, lo, hi);
}
#if NC_X86
NC_TARGET_AVX2 static void FN(pack_a_avx2)(PACK_A_ARGS)
{
    FN(pack_a_impl)(dst, a, lda, ta, i0, mc, p0, kc, mr, lo, hi);
}
NC_TARGET_AVX2 static void FN(pack_b_avx2)(PACK_B_ARGS)
{
    FN(pack_b_impl)(dst, b, ldb, tb, p0, kc, j0, nc, nr, lo, hi);
}
/* AVX-512: the packs that transpose (A as stored, B transposed) go through register
 * transposes of LANES x LANES blocks; the others are plain copies of masked vectors
 * (panels are at most two vectors wide). */
#define LANES ((int64_t)(64 / sizeof(T)))
NC_TARGET_AVX512 static void FN(pack_a_avx512)(PACK_A_ARGS)
{
    if (ta && mr <= 2 * LANES) {
        for (int64_t q = lo; q < hi; q++)
            FN(nc_pack_copy_avx512)(dst + q * mr * kc, mr, a + p0 * lda + i0 + q * mr, lda,
                                    NC_MIN(mr, mc - q * mr), kc);
        return;
    }
    if (ta) {
        FN(pack_a_impl)(dst, a, lda, ta, i0, mc, p0, kc, mr, lo, hi);
        return;
    }
    for (int64_t q = lo; q < hi; q++) {
        T *d = dst + q * mr * kc;
        int64_t rows = NC_MIN(mr, mc - q * mr);
        const T *s = a + (i0 + q * mr) * lda + p0;
        for (int64_t x0 = 0; x0 < mr; x0 += LANES)
            FN(nc_pack_tr_avx512)(d + x0, mr, s + x0 * lda, lda,
                                  (int)NC_MAX(0, NC_MIN(LANES, rows - x0)),
                                  (int)NC_MIN(LANES, mr - x0), kc);
    }
}
NC_TARGET_AVX512 static void FN(pack_b_avx512)(PACK_B_ARGS)
{
    if (!tb && nr <= 2 * LANES) {
        for (int64_t q = lo; q < hi; q++)
            FN(nc_pack_copy_avx512)(dst + q * nr * kc, nr, b + p0 * ldb + j0 + q * nr, ldb,
                                    NC_MIN(nr, nc - q * nr), kc);
        return;
    }
    if (!tb) {
        FN(pack_b_impl)(dst, b, ldb, tb, p0, kc, j0, nc, nr, lo, hi);
        return;
    }
    for (int64_t q = lo; q < hi; q++) {
        T *d = dst + q * nr * kc;
        int64_t cols = NC_MIN(nr, nc - q * nr);
        const T *s = b + (j0 + q * nr) * ldb + p0;
        for (int64_t x0 = 0; x0 < nr; x0 += LANES)
            FN(nc_pack_tr_avx512)(d + x0, nr, s + x0 * ldb, ldb,
                                  (int)NC_MAX(0, NC_MIN(LANES, cols - x0)),
                                  (int)NC_MIN(LANES, nr - x0), kc);
    }
}
#undef LANES
#endif

/* ---------------------------------------------------------------- macro-kernel */

/* Micro-tiles [t0,t1) of one (mc,nc) block, numbered column panel first so consecutive
 * tiles share a B micro-panel. c is the block's corner at (i0,j0) of the whole C. With
 * ar (A(i0,pc) of an A that is not transposed, leading dim lda), full-height panels are
 * read from A in place and only a short last panel comes from the pack. */
static void FN(macro_kernel)(const CFG *cf, const T *pa, const T *ar, int64_t lda,
                             const T *pb, T *c, int64_t ldc, int64_t mc, int64_t nc,
                             int64_t kc, T alpha, T beta, const EPILOGUE *ep, int64_t i0,
                             int64_t j0, int64_t t0, int64_t t1)
{
    int64_t mr = cf->mr, nr = cf->nr, n_ir = ceil_div(mc, mr);
    T tile[MAX_TILE] __attribute__((aligned(64)));
    for (int64_t t = t0; t < t1; t++) {
        int64_t jq = t / n_ir, iq = t % n_ir;
        int64_t i = iq * mr, j = jq * nr;
        int64_t rows = NC_MIN(mr, mc - i), cols = NC_MIN(nr, nc - j);
        const T *a = pa + iq * mr * kc, *b = pb + jq * nr * kc;
        T *ct = c + i * ldc + j;
        /* a narrow last column panel takes a half-width kernel, a short last row panel a
         * short one (of rows rounded up to 4) */
        int half = cols <= nr / 2 && cf->kern_half;
        int64_t rk = mr;
        FN(kern_t) kshort = NULL;
        if (rows < mr && rows <= 12) kshort = cf->kern_short[half][(rows + 3) / 4 - 1];
        if (kshort) rk = round_up(rows, 4);
        int whole = rows == rk && cols == (half ? nr / 2 : nr);
        /* an edge tile: the kernel into a stack tile, then the part that exists */
        T *dst = whole ? ct : tile;
        int64_t ldd = whole ? ldc : nr;
        T al = whole ? alpha : (T)1, be = whole ? beta : (T)0;
        if (kshort)
            kshort(kc, a, b, dst, ldd, al, be);
        else if (ar && rows == mr)
            (half ? cf->kern_half_rows : cf->kern_rows)(kc, ar + i * lda, lda, b, dst, ldd, al,
                                                        be);
        else
            (half ? cf->kern_half : cf->kern)(kc, a, b, dst, ldd, al, be);
        if (!whole) {
            for (int64_t r = 0; r < rows; r++) {
                T *cr = ct + r * ldc;
                const T *tr = tile + r * nr;
                if (beta == 0)
                    for (int64_t x = 0; x < cols; x++) cr[x] = alpha * tr[x];
                else
                    for (int64_t x = 0; x < cols; x++) cr[x] = alpha * tr[x] + beta * cr[x];
            }
        }
        if (ep) FN(epilogue_tile)(ct, ldc, rows, cols, i0 + i, j0 + j, ep);
    }
}

/* ---------------------------------------------------------------- packed driver */

/* The unit grid: gm row groups by gn column groups of panels. A unit of r x c rows and
 * columns costs about r*c*k multiply-adds plus (r + c)*k packed elements, one packed
 * element weighing PACK_WEIGHT multiply-adds (a 16-lane FMA per cycle against a few
 * elements packed per cycle). The busiest thread runs ceil(units / nt) units. Products of
 * at least BUSY_MNK multiply-adds are cut into BUSY_UNITS units per thread, so a thread
 * whose core is shared with other work hands some of its share to the others; smaller
 * ones into exactly one unit per thread, the cheapest split when every core is free (more
 * units measured 5-8% slower on an idle machine at 512^3 and 256x1024x1024). */
#define PACK_WEIGHT 8
#define BUSY_MNK ((int64_t)1 << 30)
#define BUSY_UNITS 2

static void FN(unit_grid)(const CFG *cf, int64_t m, int64_t n, int64_t k, int nt,
                          int64_t *gm, int64_t *gn)
{
    int64_t pm = ceil_div(m, cf->mr), pn = ceil_div(n, cf->nr);
    int64_t umin = nt, umax = nt;
    if (nt > 1 && m * n * k >= BUSY_MNK) umin = umax = (int64_t)BUSY_UNITS * nt;
    umin = NC_MIN(umin, pm * pn);
    umax = NC_MAX(umin, umax);
    int64_t best = -1;
    *gm = *gn = 1;
    for (int64_t i = 1; i <= NC_MIN(pm, umax); i++) {
        for (int64_t j = ceil_div(umin, i); j <= NC_MIN(pn, umax / i); j++) {
            int64_t r = ceil_div(pm, i) * cf->mr, c = ceil_div(pn, j) * cf->nr;
            int64_t cost = ceil_div(i * j, nt) * (r * c + PACK_WEIGHT * (r + c));
            if (best < 0 || cost < best) {
                best = cost;
                *gm = i;
                *gn = j;
            }
        }
    }
}

/* A not transposed, with a _rows kernel: its full-height panels are read as rows, never
 * through the transposing pack. In place when the product is narrow (the A block is
 * reused over few columns) and A's rows do not crowd into a few L1 sets (a row stride of
 * a multiple of 4 KiB puts every row's stream in one 8-way set); else copied, row by row,
 * to a stride that spreads them. */
#define ROWS_MAX_N 1024
static int FN(in_place_ok)(const CFG *cf, int64_t lda, int64_t nu)
{
    if (nu > ROWS_MAX_N) return 0;
    int per_set[64] = {0}, worst = 0;
    for (int64_t i = 0; i < cf->mr; i++) {
        int s = (int)(((uint64_t)(i * lda) * sizeof(T) / 64) % 64);
        per_set[s]++;
        worst = NC_MAX(worst, per_set[s]);
    }
    return worst <= 4;
}

// dst (rows,kc) with leading dim ldd = src (rows,kc) with leading dim lds
static void FN(copy_rows)(T *restrict dst, int64_t ldd, const T *restrict src, int64_t lds,
                          int64_t rows, int64_t kc)
{
    for (int64_t r = 0; r < rows; r++)
        memcpy(dst + r * ldd, src + r * lds, (size_t)kc * sizeof(T));
}

// Unit rows [i0,i0+mu) and columns [j0,j0+nu) of C, whole, with this thread's packs.
static void FN(gemm_unit)(const CFG *cf, T *c, const T *a, const T *b, int64_t k,
                          int64_t lda, int64_t ldb, int64_t ldc, int ta, int tb, T alpha,
                          T beta, const EPILOGUE *ep, T *abuf, T *bbuf, int64_t i0,
                          int64_t mu, int64_t j0, int64_t nu)
{
    int64_t mr = cf->mr, nr = cf->nr;
    int64_t kcb = balanced(k, cf->kc, 1);
    int64_t ncb = balanced(nu, cf->nc, nr);
    int64_t mcb = balanced(mu, FN(mc_cap)(cf, kcb), mr);
    int rows = !ta && cf->kern_rows;
    int in_place = rows && FN(in_place_ok)(cf, lda, nu);
    int64_t lda_r = in_place ? lda : FN(row_stride)(kcb);
    for (int64_t jc = j0; jc < j0 + nu; jc += ncb) {
        int64_t nc = NC_MIN(ncb, j0 + nu - jc), n_jr = ceil_div(nc, nr);
        for (int64_t pc = 0; pc < k; pc += kcb) {
            int64_t kc = NC_MIN(kcb, k - pc);
            T beta_pc = pc == 0 ? beta : (T)1;
            const EPILOGUE *ep_pc = pc + kc >= k ? ep : NULL;
            cf->pack_b(bbuf, b, ldb, tb, pc, kc, jc, nc, nr, 0, n_jr);
            for (int64_t ic = i0; ic < i0 + mu; ic += mcb) {
                int64_t mc = NC_MIN(mcb, i0 + mu - ic), n_ir = ceil_div(mc, mr);
                const T *ar = NULL;
                T *pa = abuf;
                if (rows && in_place) {
                    ar = a + ic * lda + pc;
                } else if (rows) {
                    FN(copy_rows)(abuf, lda_r, a + ic * lda + pc, lda, mc / mr * mr, kc);
                    ar = abuf;
                    /* the short panel's pack goes after the rows (panel q lands at
                     * pa + q*mr*kc) */
                    pa = abuf + mcb * lda_r - mc / mr * mr * kc;
                }
                /* with rows, only a short last panel is packed (zero rows past M) */
                cf->pack_a(pa, a, lda, ta, ic, mc, pc, kc, mr, rows ? mc / mr : 0, n_ir);
                FN(macro_kernel)(cf, pa, ar, lda_r, bbuf, c + ic * ldc + jc, ldc, mc, nc, kc,
                                 alpha, beta_pc, ep_pc, ic, jc, 0, n_ir * n_jr);
            }
        }
    }
}

typedef struct {
    const CFG *cf;
    T *c;
    const T *a, *b;
    int64_t m, n, k, lda, ldb, ldc, gm, gn, pm, pn;
    int ta, tb;
    T alpha, beta;
    const EPILOGUE *ep;
    char *base;
    size_t per, boff;
} FN(packed_job);

/* Unit u of the grid, in row-group order, with the packs of the running thread's slot. */
static void FN(packed_unit)(void *arg, int64_t u, int slot)
{
    const FN(packed_job) *j = arg;
    const CFG *cf = j->cf;
    char *mine = j->base + (size_t)slot * j->per;
    T *abuf = (T *)mine, *bbuf = (T *)(mine + j->boff);
    int64_t gi = u / j->gn, gj = u % j->gn;
    int64_t i0 = NC_MIN(j->m, j->pm * gi / j->gm * cf->mr);
    int64_t i1 = NC_MIN(j->m, j->pm * (gi + 1) / j->gm * cf->mr);
    int64_t j0 = NC_MIN(j->n, j->pn * gj / j->gn * cf->nr);
    int64_t j1 = NC_MIN(j->n, j->pn * (gj + 1) / j->gn * cf->nr);
    if (i1 > i0 && j1 > j0)
        FN(gemm_unit)(cf, j->c, j->a, j->b, j->k, j->lda, j->ldb, j->ldc, j->ta, j->tb,
                      j->alpha, j->beta, j->ep, abuf, bbuf, i0, i1 - i0, j0, j1 - j0);
}

static void FN(gemm_packed)(const CFG *cf, T *c, const T *a, const T *b, int64_t m,
                            int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                            int ta, int tb, T alpha, T beta, const EPILOGUE *ep, void *work,
                            int nt)
{
    int64_t gm, gn;
    FN(unit_grid)(cf, m, n, k, nt, &gm, &gn);
    int64_t units = gm * gn, pm = ceil_div(m, cf->mr), pn = ceil_div(n, cf->nr);
    if (nt > units) nt = (int)units;
    char *base = (char *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    size_t boff, per = FN(thread_bytes)(cf, m, n, k, &boff);
    FN(packed_job) job = {cf, c,  a,  b,  m,  n,     k,    lda,  ldb, ldc, gm,   gn,
                          pm, pn, ta, tb, alpha, beta, ep, base, per, boff};
    nc_parallel(FN(packed_unit), &job, units, nt);
}

/* ---------------------------------------------------------------- entry point */

// op(A) is (M,Kc), op(B) is (Kc,Nc), C is (M,Nc)
void FN(nc_gemm)(T *c, const T *a, const T *b, int64_t m, int64_t n, int64_t k, int64_t lda,
                 int64_t ldb, int64_t ldc, int trans_a, int trans_b, T alpha, T beta,
                 const EPILOGUE *ep, void *work, size_t work_bytes)
{
    if (m <= 0 || n <= 0) return;
    if (k < 0) k = 0;
    int isa = nc_get_isa();
    const CFG *cf = FN(config)(isa, m);
    /* the unpacked AVX-512 row kernel streams op(B)'s rows well: it wins further */
    int row_ok = isa == NC_ISA_AVX512 && !trans_b;
    int small = k <= SMALL_K || m == 1 || n == 1 || m * n * k <= SMALL_MNK ||
                (row_ok && (m * n * k <= SMALL_MNK_ROW || m < SMALL_M_ROW));
    int nt = 1;
    if (!small) {
        nt = m * n * k < PACKED_MIN_MNK ? 1 : nc_threads_for(m * n * k / PACKED_MADDS_PER_OP);
        /* too little scratch for every thread's packs: fewer threads; for one thread's
         * (or none), the unpacked path, never more memory */
        while (nt > 1 && (!work || work_bytes < FN(packed_bytes)(cf, m, n, k, nt))) nt--;
        if (!work || work_bytes < FN(packed_bytes)(cf, m, n, k, 1)) small = 1;
    }
    if (small)
        FN(gemm_small)(c, a, b, m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta, ep, isa);
    else
        FN(gemm_packed)(cf, c, a, b, m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta, ep,
                        work, nt);
}

#undef PACK_A_ARGS
#undef PACK_B_ARGS
#undef FN
#undef CAT3_
#undef CAT3
#undef EPILOGUE
#undef CFG

#endif /* NC_GEMM_TEMPLATE */
