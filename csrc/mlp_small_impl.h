/* Template body: the fused training step for small networks (included by mlp_impl.h).
 *
 * A small network's layers are too narrow for a GEMM to pay: each call streams a whole
 * (N, width) activation through memory for a few FLOPs per element. Here the batch goes
 * through in blocks of SMALL_ROWS rows that stay in L1 from forward through loss to
 * backward. The batch's rows are split into at most SMALL_GROUPS groups, fixed by the
 * batch size alone; each group's blocks add their weight gradient into the group's own
 * partial sum (group 0's is the gradient itself), and the partials are added in group
 * order at the end, so the result is identical for any thread count. */

/* rows of a register tile */
#define SMALL_MR 6

#define NC_ISA_TEMPLATE "mlp_small_isa.h"
#include "isa_instantiate.h"

#define SMALL_ARGS                                                                           \
    T *gpart, T *out, T *scratch, const T *x, const int32_t *codes, const T *t,               \
        const int32_t *labels, const T *sw, const T *params, T *const *wts,                   \
        const int64_t *offs, const nc_mlp *net, int64_t cd, int64_t ncat, int64_t r0,         \
        int64_t r1, int kind, double inv, int first
#define SMALL_PASS gpart, out, scratch, x, codes, t, labels, sw, params, wts, offs, net, cd, \
                   ncat, r0, r1, kind, inv, first

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

/* One gradient group: its rows in blocks, in order, into its own partial sum (group 0's
 * is the gradient itself); scratch is the running thread's slot. */
typedef struct {
    T *grads, *part, *out;
    double *gloss;
    char *scratch0;
    size_t sbytes, stride;
    const T *x, *t, *sw, *params;
    T *const *wts;
    const int32_t *codes, *labels;
    const int64_t *offs;
    const nc_mlp *net;
    nc_diag *diag;
    int64_t n, cd, ncat, groups;
    double inv;
    int kind, isa;
} FN(small_job);

/* Add a block's hidden activations, as small_block left them in scratch, to part `part`
 * of the diagnostics. */
static void FN(small_diag)(nc_diag *d, int part, const T *scratch, const nc_mlp *net,
                           int64_t rows)
{
    int L = net->n_layers;
    const T *s = scratch;
    int64_t uoff = 0;
    for (int l = 0; l < L - 1; l++) {
        int64_t oc = net->sizes[l + 1];
        FN(diag_layer)(d, part, s, rows, oc, net->acts[l], l, L, uoff);
        s += SMALL_ROWS * oc;
        if (nc_act_needs_z(net->acts[l])) s += SMALL_ROWS * oc;
        uoff += oc;
    }
}

static void FN(small_group)(void *arg, int64_t g, int slot)
{
    const FN(small_job) *j = arg;
    T *scratch = (T *)(j->scratch0 + j->sbytes * (size_t)slot);
    T *gp = g == 0 ? j->grads : j->part + (size_t)(g - 1) * j->stride;
    /* the rows of group g, an even split fixed by n, in blocks of SMALL_ROWS */
    int64_t g0 = g * j->n / j->groups, g1 = (g + 1) * j->n / j->groups;
    double acc = 0.0;
    for (int64_t r0 = g0; r0 < g1; r0 += SMALL_ROWS) {
        int64_t r1 = NC_MIN(g1, r0 + SMALL_ROWS);
        acc += FN(small_block)(j->isa, gp, j->out, scratch, j->x, j->codes, j->t, j->labels,
                               j->sw, j->params, j->wts, j->offs, j->net, j->cd, j->ncat, r0,
                               r1, j->kind, j->inv, r0 == g0);
        /* a group is a part of its own: SMALL_GROUPS <= NC_DIAG_PARTS */
        if (j->diag) FN(small_diag)(j->diag, (int)g, scratch, j->net, r1 - r0);
    }
    j->gloss[g] = acc;
}

/* Elements of the gradient per unit of the partials' sum. */
#define SMALL_SUM_GRAIN 2048
typedef struct {
    T *grads;
    const T *part;
    size_t stride;
    int64_t p, groups;
} FN(small_sum_job);

/* grads[i] += the partials of groups 1.. in group order, over one unit's elements. */
static void FN(small_sum_unit)(void *arg, int64_t u, int slot)
{
    const FN(small_sum_job) *j = arg;
    int64_t i0 = u * SMALL_SUM_GRAIN, i1 = NC_MIN(j->p, i0 + SMALL_SUM_GRAIN);
    (void)slot;
    for (int64_t g = 1; g < j->groups; g++) {
        const T *gp = j->part + (size_t)(g - 1) * j->stride;
        for (int64_t i = i0; i < i1; i++) j->grads[i] += gp[i];
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

// x is (N,Cd); codes is (N,NC); t is (N,K) targets or NULL; labels, sw are (N,); params,
// grads are (P,); out is (N,K) = sizes[L]
double FN(nc_mlp_step_small)(T *grads, T *out, void *work, const T *x, const int32_t *codes,
                             const T *t, const int32_t *labels, const T *sw, const T *params,
                             const nc_mlp *net, int64_t n, int64_t cd, int64_t ncat, int kind,
                             double l2, size_t work_bytes, nc_diag *diag)
{
    if (!codes) ncat = 0;
    int L = net->n_layers;
    int64_t offs[NC_MLP_MAX_LAYERS];
    int64_t p = 0;
    for (int l = 0; l < L; l++) {
        offs[l] = p;
        p += nc_layer_params(net->sizes[l], net->sizes[l + 1]);
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

    /* the transposed weights serve the backward pass and the narrow forward layers; a
     * one-output layer's weights are their own transpose */
    T *wts[NC_MLP_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        int64_t c = l == 0 ? cd : net->sizes[l], oc = net->sizes[l + 1];
        const T *w = params + offs[l];
        wts[l] = (T *)w;
        if (oc == 1 || (l == 0 && oc >= 8)) continue;
        T *d = wt + offs[l];
        wts[l] = d;
        for (int64_t i0 = 0; i0 < c; i0 += 16)
            for (int64_t j0 = 0; j0 < oc; j0 += 16) {
                int64_t i1 = NC_MIN(c, i0 + 16), j1 = NC_MIN(oc, j0 + 16);
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) d[j * c + i] = w[i * oc + j];
            }
    }
    double inv;
    double wsum = FN(nc_loss_weight_total)(sw, NULL, labels, n, k, kind, &inv);
    int isa = nc_get_isa();
    size_t stride = pbytes / sizeof(T);
    FN(small_job) job = {grads, part, out, gloss, scratch0, sbytes, stride, x, t, sw,
                         params, wts, codes, labels, offs, net, diag, n, cd, ncat, groups,
                         inv, kind, isa};
    nc_parallel(FN(small_group), &job, groups, nt);
    /* add the groups' partials in group order, then the L2 term on the weights */
    if (groups > 1) {
        FN(small_sum_job) sj = {grads, part, stride, p, groups};
        nc_parallel(FN(small_sum_unit), &sj, (p + SMALL_SUM_GRAIN - 1) / SMALL_SUM_GRAIN,
                    nc_threads_for(p * (groups - 1)));
    }
    if (l2 != 0) {
        const T l2t = (T)l2;
        for (int l = 0; l < L; l++) {
            int64_t o = offs[l], cw_ = net->sizes[l] * net->sizes[l + 1];
            for (int64_t i = o; i < o + cw_; i++) grads[i] += l2t * params[i];
        }
    }
    if (wsum == 0.0) return 0.0;
    double total = 0.0;
    for (int64_t g = 0; g < groups; g++) total += gloss[g];
    return kind == NC_LOSS_CE ? total / wsum : total / ((double)k * wsum);
}
