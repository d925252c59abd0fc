/* Template body of mlp.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

/* Where layer l's saved arrays live inside the workspace. */
typedef struct {
    T *act;  /* (n, OC) activation output, before dropout; NULL for the last layer (out) */
    T *in;   /* (n, OC) next layer's input: act after dropout, or act itself */
    T *z;    /* (n, OC) pre-activation, when the derivative needs it */
} FN(mlp_saved);

static size_t FN(align64)(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* Lay the workspace out (or, with base == NULL, only size it). The GEMM scratch comes
 * last so that every other offset is independent of the thread count. Returns the bytes
 * before the GEMM scratch; *gemm_bytes receives what the GEMM wants at `threads`. */
static size_t FN(mlp_layout)(const nc_mlp *net, int64_t n, int threads, char *base,
                             FN(mlp_saved) *saved, T **g0, T **g1, size_t *gemm_bytes)
{
    size_t off = 0, gemm = 0;
    int64_t maxw = 1;
    int L = net->n_layers;
    for (int l = 0; l < L; l++) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        size_t tile = FN(align64)((size_t)(n * oc) * sizeof(T));
        FN(mlp_saved) s = {NULL, NULL, NULL};
        if (l < L - 1) {
            s.act = base ? (T *)(base + off) : NULL;
            off += tile;
            s.in = s.act;
            if (layer_dropout(net, l) > 0) {
                s.in = base ? (T *)(base + off) : NULL;
                off += tile;
            }
        }
        if (nc_act_needs_z(net->acts[l])) {
            s.z = base ? (T *)(base + off) : NULL;
            off += tile;
        }
        if (saved) saved[l] = s;
        maxw = NC_MAX(maxw, NC_MAX(oc, l > 0 ? c : 1));
        size_t g = FN(nc_dense_workspace)(n, c, oc, threads);
        gemm = g > gemm ? g : gemm;
    }
    size_t gbuf = FN(align64)((size_t)(n * maxw) * sizeof(T));
    if (g0) *g0 = base ? (T *)(base + off) : NULL;
    off += gbuf;
    if (g1) *g1 = base ? (T *)(base + off) : NULL;
    off += gbuf;
    if (gemm_bytes) *gemm_bytes = gemm;
    return off;
}

size_t FN(nc_mlp_workspace)(const nc_mlp *net, int64_t n, int threads)
{
    size_t gemm = 0;
    size_t off = FN(mlp_layout)(net, n, threads, NULL, NULL, NULL, NULL, &gemm);
    return off + gemm;
}

// x is (N,Cd), codes is (N,NC), params is (P,), out is (N, sizes[L])
void FN(nc_mlp_forward)(T *out, void *work, const T *x, const int32_t *codes,
                        const T *params, const nc_mlp *net, int64_t n, int64_t cd,
                        int64_t ncat, int train, uint64_t seed, uint64_t step,
                        size_t work_bytes)
{
    FN(mlp_saved) saved[NC_MLP_MAX_LAYERS];
    int L = net->n_layers;
    if (n <= 0 || L <= 0 || L > NC_MLP_MAX_LAYERS) return;
    size_t off = FN(mlp_layout)(net, n, 1, (char *)work, saved, NULL, NULL, NULL);
    char *gwork = (char *)work + off;
    size_t gbytes = work_bytes > off ? work_bytes - off : 0;

    const T *in = x;
    const T *p = params;
    for (int l = 0; l < L; l++) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        const T *w = p, *b = p + c * oc;
        T *y = l == L - 1 ? out : saved[l].act;
        if (l == 0)
            FN(nc_dense_codes_forward)(y, saved[l].z, in, codes, w, b, n, cd, ncat, oc,
                                       net->acts[l], (T)net->act_params[l], gwork, gbytes);
        else
            FN(nc_dense_forward)(y, saved[l].z, in, w, b, n, c, oc, net->acts[l],
                                 (T)net->act_params[l], gwork, gbytes);
        if (l < L - 1) {
            double rate = layer_dropout(net, l);
            if (train && rate > 0) {
                FN(nc_dropout_forward)(saved[l].in, NULL, y, n * oc, (T)rate,
                                       layer_seed(seed, l), step);
                in = saved[l].in;
            } else {
                in = y;
            }
        }
        p += nc_layer_params(c, oc);
    }
}

/* dw += l2 * w over one block of L2_BLOCK weights */
typedef struct {
    T *dw;
    const T *w;
    int64_t cnt;
    T l2;
} FN(l2_job);

static void FN(l2_unit)(void *arg, int64_t b, int slot)
{
    const FN(l2_job) *j = arg;
    int64_t i1 = NC_MIN(j->cnt, (b + 1) * L2_BLOCK);
    (void)slot;
    for (int64_t i = b * L2_BLOCK; i < i1; i++) j->dw[i] += j->l2 * j->w[i];
}

// dout, out are (N, sizes[L]); x, dx are (N,Cd); codes is (N,NC); params, grads are (P,)
void FN(nc_mlp_backward)(T *grads, T *dx, void *work, const T *dout, const T *x,
                         const int32_t *codes, const T *out, const T *params,
                         const nc_mlp *net, int64_t n, int64_t cd, int64_t ncat,
                         uint64_t seed, uint64_t step, double l2, size_t work_bytes)
{
    FN(mlp_saved) saved[NC_MLP_MAX_LAYERS];
    int64_t offsets[NC_MLP_MAX_LAYERS];
    int L = net->n_layers;
    if (L <= 0 || L > NC_MLP_MAX_LAYERS) return;
    T *g0, *g1;
    size_t off = FN(mlp_layout)(net, n, 1, (char *)work, saved, &g0, &g1, NULL);
    char *gwork = (char *)work + off;
    size_t gbytes = work_bytes > off ? work_bytes - off : 0;

    int64_t o = 0;
    for (int l = 0; l < L; l++) {
        offsets[l] = o;
        o += nc_layer_params(net->sizes[l], net->sizes[l + 1]);
    }
    if (n <= 0) {
        /* an empty batch contributes nothing */
        for (int64_t i = 0; i < o; i++) grads[i] = 0;
        return;
    }

    /* dy of the current layer; dz overwrites it in place except at the last layer, whose
     * dy (dout) belongs to the caller */
    const T *dy = dout;
    T *dz = g0, *spare = g1;
    for (int l = L - 1; l >= 0; l--) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        const T *w = params + offsets[l];
        T *dw = grads + offsets[l], *db = dw + c * oc;
        const T *xin = l == 0 ? x : saved[l - 1].in;
        const T *y = l == L - 1 ? out : saved[l].act;
        T *dxl = l == 0 ? dx : spare;
        if (l == 0)
            FN(nc_dense_codes_backward)(dxl, dw, db, dz, dy, y, saved[l].z, xin, codes, w, n,
                                        c, cd, ncat, oc, net->acts[l],
                                        (T)net->act_params[l], gwork, gbytes);
        else
            FN(nc_dense_backward)(dxl, dw, db, dz, dy, y, saved[l].z, xin, w, n, c, oc,
                                  net->acts[l], (T)net->act_params[l], gwork, gbytes);
        if (l2 != 0) {
            FN(l2_job) job = {dw, w, c * oc, (T)l2};
            nc_parallel(FN(l2_unit), &job, (c * oc + L2_BLOCK - 1) / L2_BLOCK,
                        nc_threads_for(c * oc));
        }
        if (l > 0) {
            double rate = layer_dropout(net, l - 1);
            if (rate > 0)
                FN(nc_dropout_backward)(dxl, dxl, n * c, (T)rate, layer_seed(seed, l - 1),
                                        step);
            /* the gradient just written becomes the next dy, and dz goes in place */
            dy = dxl;
            T *t = dz;
            dz = dxl;
            spare = t;
        }
    }
}

/* ---- training diagnostics (nc_diag) ---------------------------------------------------- */

/* Add hidden layer l's activations y (rows, oc), whose units start at uoff, to part
 * `part` of d: which units fired (relu family) or how many values saturated (sigmoid,
 * tanh). The units are looked at DIAG_UNITS at a time, and a run of units that have all
 * fired is not looked at again: once a layer's units have all fired this costs a byte
 * per unit. */
#define DIAG_UNITS 64
NC_INLINE void FN(diag_layer_body)(nc_diag *d, int part, const T *y, int64_t rows,
                                   int64_t oc, int act, int family, int l, int L,
                                   int64_t uoff)
{
    if (family == NC_DIAG_FIRES) {
        uint8_t *f = d->fired + (int64_t)part * d->units + uoff;
        for (int64_t j0 = 0; j0 < oc; j0 += DIAG_UNITS) {
            int64_t w = NC_MIN(DIAG_UNITS, oc - j0);
            int all = 1;
            for (int64_t j = 0; j < w; j++) all &= f[j0 + j];
            if (all) continue;
            /* the column maxima over the rows, in a form the compiler vectorizes */
            T mx[DIAG_UNITS];
            for (int64_t j = 0; j < w; j++) mx[j] = y[j0 + j];
            for (int64_t i = 1; i < rows; i++) {
                const T *yr = y + i * oc + j0;
                for (int64_t j = 0; j < w; j++) mx[j] = yr[j] > mx[j] ? yr[j] : mx[j];
            }
            for (int64_t j = 0; j < w; j++) f[j0 + j] |= (uint8_t)(mx[j] > 0);
        }
    } else if (family == NC_DIAG_SATURATES) {
        const T lo = act == NC_ACT_TANH ? (T)-0.99 : (T)0.01, hi = (T)0.99;
        int64_t s = 0;
        for (int64_t i = 0; i < rows; i++) {
            /* a row's count in 32-bit lanes, which the compiler vectorizes */
            int32_t r = 0;
            const T *yr = y + i * oc;
            for (int64_t j = 0; j < oc; j++) r += (yr[j] < lo) | (yr[j] > hi);
            s += r;
        }
        d->sat[(int64_t)part * L + l] += s;
    }
}
#undef DIAG_UNITS

/* the body for each ISA path: the scans take whole vectors of it (max and compares, the
 * same bits on every path) */
#define DIAG_ARGS                                                                            \
    nc_diag *d, int part, const T *y, int64_t rows, int64_t oc, int act, int family, int l, \
        int L, int64_t uoff
#define DIAG_PASS d, part, y, rows, oc, act, family, l, L, uoff
#if NC_X86
NC_TARGET_AVX2 static void FN(diag_layer_avx2)(DIAG_ARGS) { FN(diag_layer_body)(DIAG_PASS); }
NC_TARGET_AVX512 static void FN(diag_layer_avx512)(DIAG_ARGS)
{
    FN(diag_layer_body)(DIAG_PASS);
}
#endif
static void FN(diag_layer_portable)(DIAG_ARGS) { FN(diag_layer_body)(DIAG_PASS); }
#undef DIAG_ARGS
#undef DIAG_PASS

static void FN(diag_layer)(nc_diag *d, int part, const T *y, int64_t rows, int64_t oc,
                           int act, int l, int L, int64_t uoff)
{
    int family = nc_act_diag_family(act);
    if (family == NC_DIAG_NONE) return;
#if NC_X86
    int isa = nc_get_isa();
    if (isa == NC_ISA_AVX512) {
        FN(diag_layer_avx512)(d, part, y, rows, oc, act, family, l, L, uoff);
        return;
    }
    if (isa == NC_ISA_AVX2) {
        FN(diag_layer_avx2)(d, part, y, rows, oc, act, family, l, L, uoff);
        return;
    }
#endif
    FN(diag_layer_portable)(d, part, y, rows, oc, act, family, l, L, uoff);
}

/* sum of x[i]^2, or of (x[i] - y[i])^2 when y: DIAG_LANES running sums in T, lane q
 * taking the terms i = q mod DIAG_LANES (independent chains the compiler vectorizes),
 * added up in double in lane order. The pattern depends on n alone. In float the sums
 * keep about five digits, which the figures they serve do not need more of. */
#define DIAG_LANES 16
NC_INLINE double FN(diag_sumsq_body)(const T *restrict x, const T *restrict y, int64_t n)
{
    T acc[DIAG_LANES] = {0};
    int64_t i = 0;
    if (y)
        for (; i + DIAG_LANES <= n; i += DIAG_LANES)
            for (int q = 0; q < DIAG_LANES; q++) {
                T v = x[i + q] - y[i + q];
                acc[q] += v * v;
            }
    else
        for (; i + DIAG_LANES <= n; i += DIAG_LANES)
            for (int q = 0; q < DIAG_LANES; q++) acc[q] += x[i + q] * x[i + q];
    double total = 0.0;
    for (int64_t k = i; k < n; k++) {
        double v = y ? (double)x[k] - (double)y[k] : (double)x[k];
        total += v * v;
    }
    for (int q = 0; q < DIAG_LANES; q++) total += (double)acc[q];
    return total;
}
#undef DIAG_LANES

/* each lane rounds the same on every ISA path: the path only sets how many go at once */
#if NC_X86
NC_TARGET_AVX2 static double FN(diag_sumsq_avx2)(const T *x, const T *y, int64_t n)
{
    return FN(diag_sumsq_body)(x, y, n);
}
NC_TARGET_AVX512 static double FN(diag_sumsq_avx512)(const T *x, const T *y, int64_t n)
{
    return FN(diag_sumsq_body)(x, y, n);
}
#endif

static double FN(diag_sumsq)(const T *x, const T *y, int64_t n)
{
#if NC_X86
    int isa = nc_get_isa();
    if (isa == NC_ISA_AVX512) return FN(diag_sumsq_avx512)(x, y, n);
    if (isa == NC_ISA_AVX2) return FN(diag_sumsq_avx2)(x, y, n);
#endif
    return FN(diag_sumsq_body)(x, y, n);
}

void FN(nc_mlp_diag_acts)(nc_diag *d, const void *work, const nc_mlp *net, int64_t n)
{
    FN(mlp_saved) saved[NC_MLP_MAX_LAYERS];
    int L = net->n_layers;
    if (n <= 0 || L <= 1 || L > NC_MLP_MAX_LAYERS) return;
    FN(mlp_layout)(net, n, 1, (char *)work, saved, NULL, NULL, NULL);
    int64_t uoff = 0;
    for (int l = 0; l < L - 1; l++) {
        int64_t oc = net->sizes[l + 1];
        FN(diag_layer)(d, 0, saved[l].act, n, oc, net->acts[l], l, L, uoff);
        uoff += oc;
    }
}

static int FN(diag_measures)(const nc_diag *d)
{
    return d->every > 0 && d->seen % d->every == 0;
}

void FN(nc_diag_before)(nc_diag *d, const T *params, const T *grads, const nc_mlp *net,
                        int64_t m)
{
    d->rows += m;
    if (!FN(diag_measures)(d)) return;
    T *prev = (T *)d->prev;
    int64_t o = 0;
    for (int l = 0; l < net->n_layers; l++) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        d->grad_sq[l] += FN(diag_sumsq)(grads + o, NULL, nc_layer_params(c, oc));
        memcpy(prev + o, params + o, (size_t)(c * oc) * sizeof(T));
        o += nc_layer_params(c, oc);
    }
}

void FN(nc_diag_after)(nc_diag *d, const T *params, const nc_mlp *net)
{
    if (FN(diag_measures)(d)) {
        const T *prev = (const T *)d->prev;
        int64_t o = 0;
        for (int l = 0; l < net->n_layers; l++) {
            int64_t c = net->sizes[l], oc = net->sizes[l + 1], w = c * oc;
            double before = FN(diag_sumsq)(prev + o, NULL, w);
            double moved = FN(diag_sumsq)(params + o, prev + o, w);
            d->ratio[l] += before > 0 ? sqrt(moved / before) : moved > 0 ? INFINITY : 0.0;
            o += nc_layer_params(c, oc);
        }
        d->measured += 1;
    }
    d->seen += 1;
}

#include "mlp_small_impl.h"

#undef FN
