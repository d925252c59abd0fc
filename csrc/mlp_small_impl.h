/* Template body: the fused training step for small networks (included by mlp_impl.h).
 *
 * A small network's layers are too narrow for a GEMM to pay: each call streams a whole
 * (N, width) activation through memory for a few FLOPs per element. Here the batch goes
 * through in blocks of SMALL_ROWS rows that stay in L1 from forward through loss to
 * backward. Each block's weight gradient is added into one of at most SMALL_GROUPS
 * partial sums, fixed by the batch size alone; the partials are added in group order at
 * the end, so the result is identical for any thread count. */

#define ISA portable
#define VB 16
#define ISA_TARGET
#include "mlp_small_isa.h"
#undef ISA
#undef VB
#undef ISA_TARGET
#if NC_X86
#define ISA avx2
#define VB 32
#define ISA_TARGET NC_TARGET_AVX2
#include "mlp_small_isa.h"
#undef ISA
#undef VB
#undef ISA_TARGET
#define ISA avx512
#define VB 64
#define ISA_TARGET NC_TARGET_AVX512
#include "mlp_small_isa.h"
#undef ISA
#undef VB
#undef ISA_TARGET
#endif

#define SMALL_ARGS                                                                           \
    T *gpart, T *out, T *scratch, const T *x, const int32_t *codes, const T *t,               \
        const int32_t *labels, const T *sw, const T *cw, const T *params, const T *wt,        \
        const int64_t *offs, const nc_mlp *net, int64_t cd, int64_t ncat, int64_t r0,         \
        int64_t r1, int kind, double inv
#define SMALL_PASS gpart, out, scratch, x, codes, t, labels, sw, cw, params, wt, offs, net, \
                   cd, ncat, r0, r1, kind, inv

static double FN(small_block)(int isa, SMALL_ARGS)
{
#if NC_X86
    if (isa == NC_ISA_AVX512) return NC_CAT(FN(small_block), avx512)(SMALL_PASS);
    if (isa == NC_ISA_AVX2) return NC_CAT(FN(small_block), avx2)(SMALL_PASS);
#endif
    (void)isa;
    return NC_CAT(FN(small_block), portable)(SMALL_PASS);
}
#undef SMALL_ARGS
#undef SMALL_PASS

static size_t FN(small_scratch_bytes)(const nc_mlp *net)
{
    int64_t elems = 0, maxw = 1;
    for (int l = 0; l < net->n_layers; l++) {
        int64_t oc = net->sizes[l + 1];
        if (l < net->n_layers - 1) elems += oc;
        if (nc_act_needs_z(net->acts[l])) elems += oc;
        maxw = NC_MAX(maxw, NC_MAX(oc, net->sizes[l]));
    }
    return FN(align64)((size_t)(SMALL_ROWS * (elems + 2 * maxw)) * sizeof(T));
}

/* One gradient group: its blocks in order into its own partial sum; scratch is the
 * running thread's. */
typedef struct {
    T *part, *out;
    double *gloss;
    char *scratch0;
    size_t sbytes, pbytes;
    const T *x, *t, *sw, *cw, *params, *wt;
    const int32_t *codes, *labels;
    const int64_t *offs;
    const nc_mlp *net;
    int64_t n, cd, ncat, p, blocks, groups;
    double inv;
    int kind, isa;
} FN(small_job);

static void FN(small_group)(void *arg, int64_t g, int slot)
{
    const FN(small_job) *j = arg;
    T *part = j->part, *out = j->out;
    double *gloss = j->gloss;
    size_t pbytes = j->pbytes;
    const T *x = j->x, *t = j->t, *sw = j->sw, *cw = j->cw, *params = j->params, *wt = j->wt;
    const int32_t *codes = j->codes, *labels = j->labels;
    const int64_t *offs = j->offs;
    const nc_mlp *net = j->net;
    int64_t n = j->n, cd = j->cd, ncat = j->ncat, p = j->p, blocks = j->blocks;
    int64_t groups = j->groups;
    double inv = j->inv;
    int kind = j->kind, isa = j->isa;
    {
        T *scratch = (T *)(j->scratch0 + j->sbytes * (size_t)slot);
        T *gp = part + (size_t)g * (pbytes / sizeof(T));
        for (int64_t i = 0; i < p; i++) gp[i] = 0;
        /* the blocks of group g: an even split of the blocks, fixed by n */
        int64_t b0 = g * blocks / groups, b1 = (g + 1) * blocks / groups;
        double acc = 0.0;
        for (int64_t bk = b0; bk < b1; bk++) {
            int64_t r0 = bk * SMALL_ROWS, r1 = NC_MIN(n, r0 + SMALL_ROWS);
            acc += FN(small_block)(isa, gp, out, scratch, x, codes, t, labels, sw, cw, params,
                                   wt, offs, net, cd, ncat, r0, r1, kind, inv);
        }
        gloss[g] = acc;
    }
}

size_t FN(nc_mlp_small_workspace)(const nc_mlp *net, int64_t n, int threads)
{
    int64_t p = nc_mlp_num_params(net);
    size_t pbytes = FN(align64)((size_t)p * sizeof(T));
    int64_t groups = small_groups(n);
    int nt = (int)NC_MAX(1, NC_MIN(threads, groups));
    return pbytes * (size_t)(1 + groups) + FN(align64)((size_t)groups * sizeof(double)) +
           FN(small_scratch_bytes)(net) * (size_t)nt;
}

// x is (N,Cd); codes is (N,NC); t is (N,K) targets or NULL; labels, sw are (N,); cw is
// (K,); params, grads are (P,); out is (N,K) = sizes[L]
double FN(nc_mlp_step_small)(T *grads, T *out, void *work, const T *x, const int32_t *codes,
                             const T *t, const int32_t *labels, const T *sw, const T *cw,
                             const T *params, const nc_mlp *net, int64_t n, int64_t cd,
                             int64_t ncat, int kind, double l2, size_t work_bytes)
{
    if (!codes) ncat = 0;
    int L = net->n_layers;
    int64_t offs[MLP_MAX_LAYERS];
    int64_t p = 0;
    for (int l = 0; l < L; l++) {
        offs[l] = p;
        p += net->sizes[l] * net->sizes[l + 1] + net->sizes[l + 1];
    }
    int64_t k = net->sizes[L];
    size_t pbytes = FN(align64)((size_t)p * sizeof(T));
    int64_t groups = small_groups(n);
    char *base = (char *)work;
    T *wt = (T *)base;
    T *part = (T *)(base + pbytes);
    double *gloss = (double *)(base + pbytes * (size_t)(1 + groups));
    char *scratch0 = (char *)gloss + FN(align64)((size_t)groups * sizeof(double));
    size_t sbytes = FN(small_scratch_bytes)(net);
    size_t fixed = (size_t)(scratch0 - base);
    int64_t fit = work_bytes > fixed ? (int64_t)((work_bytes - fixed) / sbytes) : 0;
    int nt = (int)NC_MIN(NC_MIN((int64_t)nc_get_num_threads(), groups), fit);
    if (nt < 1) return NAN; /* the caller sized the workspace with nc_mlp_small_workspace */
    /* a row does three multiply-adds per weight (forward, dX, dW), in vectors: about one
     * element operation's worth */
    nt = NC_MIN(nt, nc_threads_for(n * p));

    /* the transposed weights serve the narrow forward layers and the backward pass; the
     * first layer's forward reads the dense rows of W_0 only */
    for (int l = 0; l < L; l++) {
        int64_t c = l == 0 ? cd : net->sizes[l], oc = net->sizes[l + 1];
        const T *w = params + offs[l];
        T *d = wt + offs[l];
        for (int64_t i = 0; i < c; i++)
            for (int64_t j = 0; j < oc; j++) d[j * c + i] = w[i * oc + j];
    }
    double inv;
    double wsum = FN(nc_loss_weight_total)(sw, cw, labels, n, k, kind, &inv);
    int64_t blocks = (n + SMALL_ROWS - 1) / SMALL_ROWS;
    int isa = nc_get_isa();
    FN(small_job) job = {part, out,    gloss, scratch0, sbytes, pbytes, x,    t,
                         sw,   cw,     params, wt,   codes,  labels, offs,  net,
                         n,    cd,     ncat,  p,    blocks, groups, inv,   kind, isa};
    nc_parallel(FN(small_group), &job, groups, nt);
    /* add the groups' partials in group order, then the L2 term on the weights */
    size_t stride = pbytes / sizeof(T);
    for (int l = 0; l < L; l++) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        int64_t o = offs[l];
        for (int64_t i = o; i < o + c * oc + oc; i++) {
            T sum = part[i];
            for (int64_t g = 1; g < groups; g++) sum += part[(size_t)g * stride + i];
            grads[i] = sum;
        }
        if (l2 != 0) {
            const T l2t = (T)l2;
            for (int64_t i = o; i < o + c * oc; i++) grads[i] += l2t * params[i];
        }
    }
    if (wsum == 0.0) return 0.0;
    double total = 0.0;
    for (int64_t g = 0; g < groups; g++) total += gloss[g];
    return kind == NC_LOSS_CE ? total / wsum : total / ((double)k * wsum);
}
