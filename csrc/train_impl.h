/* Template body of train.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

/* Copy rows [lo, lo+m) of the order into the batch buffers, or point at the rows
 * themselves when they are consecutive (no permutation). */
static void FN(train_gather)(const T **x, const int32_t **codes, const T **t,
                             const int32_t **labels, const T **sw, const nc_rows *rows,
                             const nc_batch_bufs *bufs, int64_t lo, int64_t m)
{
    const T *rx = (const T *)rows->x, *rt = (const T *)rows->t, *rsw = (const T *)rows->sw;
    int64_t cd = rows->cd, nc = rows->ncat, k = rows->k;
    if (!rows->perm) {
        *x = cd ? rx + lo * cd : NULL;
        *codes = nc ? rows->codes + lo * nc : NULL;
        *t = rt ? rt + lo * k : NULL;
        *labels = rows->labels ? rows->labels + lo : NULL;
        *sw = rsw ? rsw + lo : NULL;
        return;
    }
    T *bx = (T *)bufs->x, *bt = (T *)bufs->t, *bsw = (T *)bufs->sw;
    for (int64_t i = 0; i < m; i++) {
        int64_t r = rows->perm[lo + i];
        if (cd) memcpy(bx + i * cd, rx + r * cd, (size_t)cd * sizeof(T));
        if (nc) memcpy(bufs->codes + i * nc, rows->codes + r * nc, (size_t)nc * sizeof(int32_t));
        if (rt) memcpy(bt + i * k, rt + r * k, (size_t)k * sizeof(T));
        if (rows->labels) bufs->labels[i] = rows->labels[r];
        if (rsw) bsw[i] = rsw[r];
    }
    *x = cd ? bx : NULL;
    *codes = nc ? bufs->codes : NULL;
    *t = rt ? bt : NULL;
    *labels = rows->labels ? bufs->labels : NULL;
    *sw = rsw ? bsw : NULL;
}

/* Ask for the `bytes` bytes at p to be brought toward the cache (L2), without waiting. */
static inline void FN(prefetch_span)(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o, 0, 2);
}

/* Ask for rows [lo, lo+m) of the order. The gather of a shuffled batch reads rows
 * scattered over the whole data set, each a miss; asked for one batch ahead, they arrive
 * while the step before computes. */
static void FN(train_prefetch)(const nc_rows *rows, int64_t lo, int64_t m)
{
    if (!rows->perm || m <= 0) return;
    int64_t cd = rows->cd, nc = rows->ncat, k = rows->k;
    for (int64_t i = 0; i < m; i++) {
        int64_t r = rows->perm[lo + i];
        if (cd) FN(prefetch_span)((const T *)rows->x + r * cd, (size_t)cd * sizeof(T));
        if (nc) FN(prefetch_span)(rows->codes + r * nc, (size_t)nc * sizeof(int32_t));
        if (rows->t) FN(prefetch_span)((const T *)rows->t + r * k, (size_t)k * sizeof(T));
        if (rows->labels) FN(prefetch_span)(rows->labels + r, sizeof(int32_t));
        if (rows->sw) FN(prefetch_span)((const T *)rows->sw + r, sizeof(T));
    }
}

/* Index of a row's largest value, the first one on ties; a NaN counts as the largest. */
static int64_t FN(train_argmax)(const T *v, int64_t k)
{
    int64_t best = 0;
    for (int64_t j = 0; j < k; j++)
        if (v[j] != v[j]) return j;
    for (int64_t j = 1; j < k; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* Correct predictions of a batch from the raw output (N,K): the label (or the target
 * row's argmax) against the output's argmax for multiclass; for binary, the output above
 * 0 (logits, bce) or 0.5 (probabilities) against the target above 0.5. */
static int64_t FN(train_correct)(const T *out, const T *t, const int32_t *labels,
                                 int64_t m, int64_t k, int task, int loss)
{
    int64_t c = 0;
    if (task == NC_TASK_MULTICLASS) {
        for (int64_t i = 0; i < m; i++) {
            int64_t want = labels ? labels[i] : FN(train_argmax)(t + i * k, k);
            c += FN(train_argmax)(out + i * k, k) == want;
        }
    } else if (task == NC_TASK_BINARY) {
        const T thr = loss == NC_LOSS_BCE ? (T)0 : (T)0.5;
        for (int64_t i = 0; i < m; i++)
            c += (out[i * k] > thr) == (t[i * k] > (T)0.5);
    }
    return c;
}

static void FN(train_optimize)(T *params, const T *grads, int64_t np, nc_optim *opt,
                               double lr, double scale)
{
    opt->t += 1;
    switch (opt->kind) {
    case NC_OPT_SGD:
        FN(nc_sgd)(params, (T *)opt->state0, grads, np, (T)lr, (T)opt->momentum,
                   (T)opt->weight_decay, opt->nesterov, (T)scale);
        break;
    case NC_OPT_ADAM:
        FN(nc_adam)(params, (T *)opt->state0, (T *)opt->state1, grads, np, (T)lr,
                    (T)opt->beta1, (T)opt->beta2, (T)opt->eps, (T)opt->weight_decay, opt->t,
                    opt->decoupled, (T)scale);
        break;
    default:
        FN(nc_rmsprop)(params, (T *)opt->state0, (T *)opt->state1, grads, np, (T)lr,
                       (T)opt->alpha, (T)opt->eps, (T)opt->weight_decay, (T)opt->momentum,
                       (T)scale);
        break;
    }
}

/* One training step on a batch of m rows, the model layer's step in C; returns the loss
 * (scaled, with the L2 term), non-finite when the batch diverged. */
static double FN(train_step)(T *params, T *grads, T *out, T *dout, void *work,
                             size_t work_bytes, const T *x, const int32_t *codes,
                             const T *t, const int32_t *labels, const T *sw,
                             const nc_mlp *net, const nc_train_cfg *cfg, nc_optim *opt,
                             int64_t m, int64_t cd, int64_t ncat, int64_t np, double lr,
                             uint64_t step, nc_diag *diag)
{
    /* objective s*loss + l2/(2m)*|W|^2: backward adds l2'*W and the optimizer multiplies
     * by s, so l2' = l2/(m*s) */
    double s = cfg->loss_scale;
    double l2 = cfg->l2 != 0 ? cfg->l2 / ((double)m * s) : 0.0;
    double loss;
    if (cfg->fused) {
        loss = FN(nc_mlp_step_small)(grads, out, work, x, codes, t, labels, sw, params, net,
                                     m, cd, ncat, cfg->loss, l2, work_bytes, diag);
        if (!isfinite(loss)) return loss;
    } else {
        FN(nc_mlp_forward)(out, work, x, codes, params, net, m, cd, ncat, 1, cfg->seed, step,
                           work_bytes);
        if (diag) FN(nc_mlp_diag_acts)(diag, work, net, m);
        int64_t k = net->sizes[net->n_layers];
        switch (cfg->loss) {
        case NC_LOSS_MSE: loss = FN(nc_mse)(dout, out, t, sw, m, k); break;
        case NC_LOSS_MAE: loss = FN(nc_mae)(dout, out, t, sw, m, k); break;
        case NC_LOSS_BCE: loss = FN(nc_bce_logits)(dout, out, t, sw, m, k); break;
        default: loss = FN(nc_softmax_ce)(dout, NULL, out, labels, sw, NULL, m, k); break;
        }
        if (!isfinite(loss)) return loss;
        FN(nc_mlp_backward)(grads, NULL, work, dout, x, codes, out, params, net, m, cd, ncat,
                            cfg->seed, step, l2, work_bytes);
    }
    double scale = s;
    if (cfg->clip_norm != 0) {
        double norm = s * sqrt(FN(nc_sum_squares)(grads, np));
        if (!isfinite(norm)) return NAN;
        if (norm > cfg->clip_norm) scale = s * cfg->clip_norm / norm;
    }
    if (diag) FN(nc_diag_before)(diag, params, grads, net, m);
    FN(train_optimize)(params, grads, np, opt, lr, scale);
    if (diag) FN(nc_diag_after)(diag, params, net);
    loss *= s;
    if (cfg->l2 != 0) {
        double wsq = 0.0;
        const T *w = params;
        for (int l = 0; l < net->n_layers; l++) {
            int64_t c = net->sizes[l], oc = net->sizes[l + 1];
            wsq += FN(nc_sum_squares)(w, c * oc);
            w += nc_layer_params(c, oc);
        }
        loss += 0.5 * (cfg->l2 / (double)m) * wsq;
    }
    return loss;
}

void FN(nc_train_batches)(nc_train_progress *prog, T *params, T *grads, T *out, T *dout,
                          void *work, const nc_batch_bufs *bufs, const nc_rows *rows,
                          const nc_mlp *net, const nc_train_cfg *cfg, nc_optim *opt,
                          int64_t batch_rows, int64_t b1, double lr, double budget,
                          size_t work_bytes, nc_diag *diag)
{
    int64_t np = nc_mlp_num_params(net), k = rows->k;
    double t0 = budget > 0 ? monotonic_seconds() : 0.0;
    prog->diverged = 0;
    while (prog->batch < b1) {
        int64_t lo = rows->first + prog->batch * batch_rows;
        int64_t m = NC_MIN(batch_rows, rows->n - lo);
        if (m <= 0) break;
        const T *x, *t, *sw;
        const int32_t *codes, *labels;
        FN(train_gather)(&x, &codes, &t, &labels, &sw, rows, bufs, lo, m);
        if (prog->batch + 1 < b1)
            FN(train_prefetch)(rows, lo + m, NC_MIN(batch_rows, rows->n - lo - m));
        prog->step += 1;
        double loss = FN(train_step)(params, grads, out, dout, work, work_bytes, x, codes, t,
                                     labels, sw, net, cfg, opt, m, rows->cd, rows->ncat, np,
                                     lr, prog->step, diag);
        prog->last_loss = loss;
        if (!isfinite(loss)) {
            prog->diverged = 1;
            return;
        }
        prog->loss_sum += loss * (double)m;
        prog->correct += FN(train_correct)(out, t, labels, m, k, cfg->task, cfg->loss);
        prog->batch += 1;
        if (budget > 0 && monotonic_seconds() - t0 >= budget) return;
    }
}

#undef FN
