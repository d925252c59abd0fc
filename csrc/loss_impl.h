/* Template body of loss.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

/* Weight of row i: s_i = sw_i * cw[label_i], either factor 1 when absent. The total and
 * the per-row gradient factor must use this one expression so they agree bit for bit. */
static inline T FN(row_weight)(const T *sw, const T *cw, const int32_t *labels, int64_t i)
{
    T s = sw ? sw[i] : (T)1;
    if (cw) s *= cw[labels[i]];
    return s;
}

/* sum_i s_i over fixed chunks of rows. */
static double FN(weight_total)(const T *sw, const T *cw, const int32_t *labels, int64_t n)
{
    // sw and labels are (N,), cw is (K,)
    if (!sw && !cw) return (double)n;
    int64_t len = nc_red_chunk_len(n);
    int64_t chunks = (n + len - 1) / len;
    double part[NC_RED_CHUNKS];
    /* one multiply-add per row: threads pay only for long batches */
    int nt = nc_threads_for(chunks, 8);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t i1 = NC_MIN(n, (c + 1) * len);
        double acc = 0.0;
        for (int64_t i = c * len; i < i1; i++) acc += (double)FN(row_weight)(sw, cw, labels, i);
        part[c] = acc;
    }
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

/* Shared body of mse, mae and bce: each element's loss and gradient depend only on
 * (a, t) at that element, so one chunked driver serves all three. */
static double FN(pointwise_loss)(T *grad, const T *a, const T *t, const T *sw, int64_t n,
                                 int64_t k, int kind)
{
    // a, t and grad are (N,K); sw is (N,)
    if (n <= 0 || k <= 0) return 0.0;
    double wsum = FN(weight_total)(sw, NULL, NULL, n);
    if (wsum == 0.0) {
        FN(zero_rows)(grad, n, k);
        return 0.0;
    }
    /* the gradient is of the mean, so each row carries s_i / (K * sum s) */
    double inv = 1.0 / ((double)k * wsum);
    int64_t rows = loss_chunk_rows(n, k);
    int64_t chunks = (n + rows - 1) / rows;
    double part[NC_RED_CHUNKS];
    int nt = nc_threads_for(chunks, 1);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t i1 = NC_MIN(n, (c + 1) * rows);
        double acc = 0.0;
        for (int64_t i = c * rows; i < i1; i++) {
            const T *ar = a + i * k;
            const T *tr = t + i * k;
            T *gr = grad ? grad + i * k : NULL;
            T s = FN(row_weight)(sw, NULL, NULL, i);
            double rs = 0.0;
            switch (kind) {
            case LOSS_MSE: {
                T gs = (T)(2.0 * (double)s * inv);
                for (int64_t j = 0; j < k; j++) {
                    T d = ar[j] - tr[j];
                    rs += (double)d * (double)d;
                    if (gr) gr[j] = gs * d;
                }
                break;
            }
            case LOSS_MAE: {
                T gs = (T)((double)s * inv);
                for (int64_t j = 0; j < k; j++) {
                    T d = ar[j] - tr[j];
                    rs += (double)fabs(d);
                    /* sign(0) = 0 as in PyTorch; d * 0 keeps a NaN a NaN */
                    if (gr) gr[j] = d > 0 ? gs : d < 0 ? -gs : d * (T)0;
                }
                break;
            }
            default: { /* LOSS_BCE */
                T gs = (T)((double)s * inv);
                for (int64_t j = 0; j < k; j++) {
                    T z = ar[j];
                    T az = fabs(z);
                    /* max(z,0) - z t + log1p(e^-|z|): exp only of a non-positive
                     * argument, so no overflow at any z */
                    T e = exp(-az);
                    rs += (double)(((z > 0 ? z : (T)0) - z * tr[j]) + log1p(e));
                    if (gr) {
                        T sig = z >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
                        gr[j] = gs * (sig - tr[j]);
                    }
                }
                break;
            }
            }
            acc += (double)s * rs;
        }
        part[c] = acc;
    }
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return total / ((double)k * wsum);
}

double FN(nc_mse)(T *dpred, const T *pred, const T *target, const T *sw, int64_t n, int64_t k)
{
    // pred, target and dpred are (N,K); sw is (N,)
    return FN(pointwise_loss)(dpred, pred, target, sw, n, k, LOSS_MSE);
}

double FN(nc_mae)(T *dpred, const T *pred, const T *target, const T *sw, int64_t n, int64_t k)
{
    // pred, target and dpred are (N,K); sw is (N,)
    return FN(pointwise_loss)(dpred, pred, target, sw, n, k, LOSS_MAE);
}

double FN(nc_bce_logits)(T *dlogits, const T *logits, const T *target, const T *sw,
                         int64_t n, int64_t k)
{
    // logits, target and dlogits are (N,K); sw is (N,)
    return FN(pointwise_loss)(dlogits, logits, target, sw, n, k, LOSS_BCE);
}

double FN(nc_softmax_ce)(T *dlogits, T *probs, const T *logits, const int32_t *labels,
                         const T *sw, const T *cw, int64_t n, int64_t k)
{
    // logits, probs and dlogits are (N,K); labels and sw are (N,); cw is (K,)
    if (n <= 0 || k <= 0) return 0.0;
    double wsum = FN(weight_total)(sw, cw, labels, n);
    /* a zero total weight still yields the probabilities; the gradient is all zeros */
    double inv = wsum == 0.0 ? 0.0 : 1.0 / wsum;
    int64_t rows = loss_chunk_rows(n, k);
    int64_t chunks = (n + rows - 1) / rows;
    double part[NC_RED_CHUNKS];
    int nt = nc_threads_for(chunks, 1);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t i1 = NC_MIN(n, (c + 1) * rows);
        double acc = 0.0;
        for (int64_t i = c * rows; i < i1; i++) {
            const T *z = logits + i * k;
            T *pr = probs ? probs + i * k : NULL;
            T *dr = dlogits ? dlogits + i * k : NULL;
            /* the exponentials are kept in whichever output exists, else recomputed */
            T *e = pr ? pr : dr;
            int32_t y = labels[i];
            T mx = z[0];
            for (int64_t j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
            /* shifting by the row max keeps every exponent <= 0: no overflow, and the
             * largest term is 1 so the log of the sum never sees 0 */
            T sum = 0;
            if (e) {
                for (int64_t j = 0; j < k; j++) {
                    e[j] = exp(z[j] - mx);
                    sum += e[j];
                }
            } else {
                for (int64_t j = 0; j < k; j++) sum += exp(z[j] - mx);
            }
            T s = FN(row_weight)(sw, cw, labels, i);
            acc += (double)s * (double)(log(sum) - (z[y] - mx));
            if (!e) continue;
            T r = (T)1 / sum;
            if (pr)
                for (int64_t j = 0; j < k; j++) pr[j] *= r;
            if (dr) {
                T gs = (T)((double)s * inv);
                T py = pr ? pr[y] : dr[y] * r;
                if (pr)
                    for (int64_t j = 0; j < k; j++) dr[j] = gs * pr[j];
                else
                    for (int64_t j = 0; j < k; j++) dr[j] = gs * (dr[j] * r);
                dr[y] = gs * (py - (T)1);
            }
        }
        part[c] = acc;
    }
    if (wsum == 0.0) return 0.0;
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return total / wsum;
}

#undef FN
