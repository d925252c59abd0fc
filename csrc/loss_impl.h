/* Template body of loss.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

#define NC_ISA_TEMPLATE "loss_isa.h"
#include "isa_instantiate.h"

static void FN(bce_terms)(int isa, T *term, T *sig, const T *z, const T *t, int64_t m)
{
#if NC_X86
    if (isa == NC_ISA_AVX512) {
        NC_CAT(FN(bce_terms), avx512)(term, sig, z, t, m);
        return;
    }
    if (isa == NC_ISA_AVX2) {
        NC_CAT(FN(bce_terms), avx2)(term, sig, z, t, m);
        return;
    }
#endif
    (void)isa;
    NC_CAT(FN(bce_terms), portable)(term, sig, z, t, m);
}


/* Weight of row i: s_i = sw_i * cw[label_i], either factor 1 when absent. The total and
 * the per-row gradient factor must use this one expression so they agree bit for bit. */
static inline T FN(row_weight)(const T *sw, const T *cw, const int32_t *labels, int64_t i)
{
    T s = sw ? sw[i] : (T)1;
    if (cw) s *= cw[labels[i]];
    return s;
}

/* Elements per vector pass of bce_rows: the terms wait on the stack for the row sums */
#define BCE_SPAN 256

/* Rows [i0, i1) of binary cross-entropy on logits a against targets t (N,K), as
 * nc_loss_rows computes every loss: the gradient (s_i * inv * (sigmoid(a) - t)) into grad
 * when non-NULL, and sum_i s_i * (the row's terms summed in double) returned. */
static double FN(bce_rows)(T *grad, const T *a, const T *t, const T *sw, int64_t i0,
                           int64_t i1, int64_t k, double inv)
{
    if (i1 <= i0) return 0.0;
    T term[BCE_SPAN], sig[BCE_SPAN];
    int isa = nc_get_isa();
    double acc = 0.0, rs = 0.0;
    int64_t i = i0, j = 0;
    T s = FN(row_weight)(sw, NULL, NULL, i0), gs = (T)((double)s * inv);
    for (int64_t e0 = i0 * k; e0 < i1 * k; e0 += BCE_SPAN) {
        int64_t m = NC_MIN((int64_t)BCE_SPAN, i1 * k - e0);
        FN(bce_terms)(isa, term, sig, a + e0, t + e0, m);
        for (int64_t q = 0; q < m; q++) {
            rs += (double)term[q];
            if (grad) grad[e0 + q] = gs * (sig[q] - t[e0 + q]);
            if (++j == k) {
                acc += (double)s * rs;
                rs = 0.0;
                j = 0;
                if (++i < i1) {
                    s = FN(row_weight)(sw, NULL, NULL, i);
                    gs = (T)((double)s * inv);
                }
            }
        }
    }
    return acc;
}

typedef struct {
    const T *sw, *cw;
    const int32_t *labels;
    double *part;
    int64_t n, len;
} FN(weight_job);

static void FN(weight_unit)(void *arg, int64_t c, int slot)
{
    const FN(weight_job) *j = arg;
    int64_t i1 = NC_MIN(j->n, (c + 1) * j->len);
    double acc = 0.0;
    (void)slot;
    for (int64_t i = c * j->len; i < i1; i++)
        acc += (double)FN(row_weight)(j->sw, j->cw, j->labels, i);
    j->part[c] = acc;
}

/* sum_i s_i over fixed chunks of rows. */
static double FN(weight_total)(const T *sw, const T *cw, const int32_t *labels, int64_t n)
{
    // sw and labels are (N,), cw is (K,)
    if (!sw && !cw) return (double)n;
    int64_t len = nc_red_chunk_len(n);
    int64_t chunks = (n + len - 1) / len;
    double part[NC_RED_CHUNKS];
    FN(weight_job) job = {sw, cw, labels, part, n, len};
    nc_parallel(FN(weight_unit), &job, chunks, nc_threads_for(n));
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return total;
}

static void FN(zero_rows)(T *x, int64_t n, int64_t k)
{
    // x is (N,K)
    if (!x) return;
    for (int64_t i = 0; i < n * k; i++) x[i] = 0;
}

/* Rows [i0, i1) of any loss, serially: writes each row's gradient (scaled by s_i * inv)
 * when grad is non-NULL, the softmax when probs is non-NULL (cross-entropy), and returns
 * sum_i s_i * l_i. The public kernels and the fused network step both call this, so a
 * loss is computed by one piece of code wherever it is reported.
 *   a (logits or predictions) and t are (N,K); labels, sw are (N,); cw is (K,) */
double FN(nc_loss_rows)(T *grad, T *probs, const T *a, const T *t, const int32_t *labels,
                        const T *sw, const T *cw, int64_t i0, int64_t i1, int64_t k,
                        int kind, double inv)
{
    if (kind == NC_LOSS_BCE) return FN(bce_rows)(grad, a, t, sw, i0, i1, k, inv);
    double acc = 0.0;
    for (int64_t i = i0; i < i1; i++) {
        const T *ar = a + i * k;
        T *gr = grad ? grad + i * k : NULL;
        T s = FN(row_weight)(sw, kind == NC_LOSS_CE ? cw : NULL, labels, i);
        double rs = 0.0;
        switch (kind) {
        case NC_LOSS_MSE: {
            const T *tr = t + i * k;
            T gs = (T)(2.0 * (double)s * inv);
            for (int64_t j = 0; j < k; j++) {
                T d = ar[j] - tr[j];
                rs += (double)d * (double)d;
                if (gr) gr[j] = gs * d;
            }
            break;
        }
        case NC_LOSS_MAE: {
            const T *tr = t + i * k;
            T gs = (T)((double)s * inv);
            for (int64_t j = 0; j < k; j++) {
                T d = ar[j] - tr[j];
                rs += (double)fabs(d);
                /* sign(0) = 0 as in PyTorch; d * 0 keeps a NaN a NaN */
                if (gr) gr[j] = d > 0 ? gs : d < 0 ? -gs : d * (T)0;
            }
            break;
        }
        default: { /* NC_LOSS_CE */
            T *pr = probs ? probs + i * k : NULL;
            /* the exponentials are kept in whichever output exists, else recomputed */
            T *e = pr ? pr : gr;
            int32_t y = labels[i];
            T mx = ar[0];
            for (int64_t j = 1; j < k; j++) mx = ar[j] > mx ? ar[j] : mx;
            /* shifting by the row max keeps every exponent <= 0: no overflow, and the
             * largest term is 1 so the log of the sum never sees 0 */
            T sum = 0;
            if (e) {
                for (int64_t j = 0; j < k; j++) {
                    e[j] = exp(ar[j] - mx);
                    sum += e[j];
                }
            } else {
                for (int64_t j = 0; j < k; j++) sum += exp(ar[j] - mx);
            }
            acc += (double)s * (double)(log(sum) - (ar[y] - mx));
            if (!e) continue;
            T r = (T)1 / sum;
            if (pr)
                for (int64_t j = 0; j < k; j++) pr[j] *= r;
            if (gr) {
                T gs = (T)((double)s * inv);
                T py = pr ? pr[y] : gr[y] * r;
                if (pr)
                    for (int64_t j = 0; j < k; j++) gr[j] = gs * pr[j];
                else
                    for (int64_t j = 0; j < k; j++) gr[j] = gs * (gr[j] * r);
                gr[y] = gs * (py - (T)1);
            }
            continue;
        }
        }
        acc += (double)s * rs;
    }
    return acc;
}

/* Total weight and the gradient's normalizer of a loss over n rows: the mean divides by
 * K * sum s for the element-wise losses and by sum s for cross-entropy. */
double FN(nc_loss_weight_total)(const T *sw, const T *cw, const int32_t *labels, int64_t n,
                                int64_t k, int kind, double *inv)
{
    double wsum = FN(weight_total)(sw, kind == NC_LOSS_CE ? cw : NULL, labels, n);
    double denom = kind == NC_LOSS_CE ? wsum : (double)k * wsum;
    *inv = wsum == 0.0 ? 0.0 : 1.0 / denom;
    return wsum;
}

typedef struct {
    T *grad, *probs;
    const T *a, *t;
    const int32_t *labels;
    const T *sw, *cw;
    double *part;
    int64_t n, k, rows;
    double inv;
    int kind;
} FN(loss_job);

static void FN(loss_unit)(void *arg, int64_t c, int slot)
{
    const FN(loss_job) *j = arg;
    (void)slot;
    j->part[c] = FN(nc_loss_rows)(j->grad, j->probs, j->a, j->t, j->labels, j->sw, j->cw,
                                  c * j->rows, NC_MIN(j->n, (c + 1) * j->rows), j->k, j->kind,
                                  j->inv);
}

/* Any loss over all rows in fixed chunks, threaded; see nc_loss_rows. */
static double FN(chunked_loss)(T *grad, T *probs, const T *a, const T *t,
                               const int32_t *labels, const T *sw, const T *cw, int64_t n,
                               int64_t k, int kind)
{
    if (n <= 0 || k <= 0) return 0.0;
    double inv;
    double wsum = FN(nc_loss_weight_total)(sw, cw, labels, n, k, kind, &inv);
    if (wsum == 0.0 && kind != NC_LOSS_CE) {
        FN(zero_rows)(grad, n, k);
        return 0.0;
    }
    int64_t rows = loss_chunk_rows(n, k);
    int64_t chunks = (n + rows - 1) / rows;
    double part[NC_RED_CHUNKS];
    FN(loss_job) job = {grad, probs, a, t, labels, sw, cw, part, n, k, rows, inv, kind};
    nc_parallel(FN(loss_unit), &job, chunks, nc_threads_for(n * k));
    /* a zero total weight still yields the probabilities; the gradient is all zeros */
    if (wsum == 0.0) return 0.0;
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return kind == NC_LOSS_CE ? total / wsum : total / ((double)k * wsum);
}

double FN(nc_mse)(T *dpred, const T *pred, const T *target, const T *sw, int64_t n, int64_t k)
{
    // pred, target and dpred are (N,K); sw is (N,)
    return FN(chunked_loss)(dpred, NULL, pred, target, NULL, sw, NULL, n, k, NC_LOSS_MSE);
}

double FN(nc_mae)(T *dpred, const T *pred, const T *target, const T *sw, int64_t n, int64_t k)
{
    // pred, target and dpred are (N,K); sw is (N,)
    return FN(chunked_loss)(dpred, NULL, pred, target, NULL, sw, NULL, n, k, NC_LOSS_MAE);
}

double FN(nc_bce_logits)(T *dlogits, const T *logits, const T *target, const T *sw,
                         int64_t n, int64_t k)
{
    // logits, target and dlogits are (N,K); sw is (N,)
    return FN(chunked_loss)(dlogits, NULL, logits, target, NULL, sw, NULL, n, k,
                            NC_LOSS_BCE);
}

double FN(nc_softmax_ce)(T *dlogits, T *probs, const T *logits, const int32_t *labels,
                         const T *sw, const T *cw, int64_t n, int64_t k)
{
    // logits, probs and dlogits are (N,K); labels and sw are (N,); cw is (K,)
    return FN(chunked_loss)(dlogits, probs, logits, NULL, labels, sw, cw, n, k, NC_LOSS_CE);
}

#undef FN
