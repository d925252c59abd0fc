/* Template body of optim.c: included once per element type T with suffix SFX.
 *
 * Every update is elementwise, so threads split the buffer into blocks and the result
 * cannot depend on the thread count. The order of operations copies torch.optim's
 * single-tensor path (e.g. p - lr*(m/denom), not (lr*m)/denom) so results track it to
 * the last few ulps. */
#define FN(name) NC_CAT(name, SFX)

typedef struct {
    T *p, *v;
    const T *g;
    int64_t n;
    T lr, momentum, weight_decay, grad_scale;
    int nesterov;
} FN(sgd_job);
static void FN(sgd_unit)(void *arg, int64_t b, int slot);

void FN(nc_sgd)(T *p, T *v, const T *g, int64_t n, T lr, T momentum, T weight_decay,
                int nesterov, T grad_scale)
{
    // p, v and g are (P,)
    FN(sgd_job) job = {p, v, g, n, lr, momentum, weight_decay, grad_scale, nesterov};
    nc_parallel(FN(sgd_unit), &job, (n + OPT_GRAIN - 1) / OPT_GRAIN, nc_threads_for(n));
}

/* one block of OPT_GRAIN elements */
static void FN(sgd_unit)(void *arg, int64_t b, int slot)
{
    const FN(sgd_job) *j = arg;
    T *p = j->p, *v = j->v;
    const T *g = j->g;
    int64_t n = j->n;
    T lr = j->lr, momentum = j->momentum, weight_decay = j->weight_decay;
    T grad_scale = j->grad_scale;
    int nesterov = j->nesterov;
    (void)slot;
    {
        int64_t i1 = NC_MIN(n, (b + 1) * OPT_GRAIN);
        for (int64_t i = b * OPT_GRAIN; i < i1; i++) {
            T d = g[i] * grad_scale;
            /* skipping a zero decay keeps p's inf/NaN out of d, as torch does */
            if (weight_decay != 0) d += weight_decay * p[i];
            if (momentum != 0) {
                /* from a zeroed v the first step gives v = d exactly, torch's clone */
                T buf = momentum * v[i] + d;
                v[i] = buf;
                d = nesterov ? d + momentum * buf : buf;
            }
            p[i] -= lr * d;
        }
    }
}

typedef struct {
    T *p, *m, *v;
    const T *g;
    int64_t n;
    T beta1, beta2, eps, weight_decay, grad_scale, step_size, bc2_sqrt, shrink, c1, c2;
    int decoupled, isa;
} FN(adam_job);
static void FN(adam_unit)(void *arg, int64_t b, int slot);

/* Adam over [i0, i1): elementwise in T, so the vector width of the ISA path that runs it
 * cannot change a bit (no contraction: each operation rounds as written). */
NC_INLINE void FN(adam_span)(T *restrict p, T *restrict m, T *restrict v,
                             const T *restrict g, int64_t i0, int64_t i1, T beta1, T beta2,
                             T c1, T c2, T eps, T weight_decay, int decoupled, T shrink,
                             T step_size, T bc2_sqrt, T grad_scale)
{
    for (int64_t i = i0; i < i1; i++) {
        T d = g[i] * grad_scale;
        if (weight_decay != 0) {
            if (decoupled)
                p[i] *= shrink;
            else
                d += weight_decay * p[i];
        }
        T mi = beta1 * m[i] + c1 * d;
        T vi = beta2 * v[i] + c2 * d * d;
        m[i] = mi;
        v[i] = vi;
        T denom = sqrt(vi) / bc2_sqrt + eps;
        p[i] -= step_size * (mi / denom);
    }
}

#define ADAM_ARGS                                                                            \
    T *restrict p, T *restrict m, T *restrict v, const T *restrict g, int64_t i0, int64_t i1, \
        T beta1, T beta2, T c1, T c2, T eps, T weight_decay, int decoupled, T shrink,         \
        T step_size, T bc2_sqrt, T grad_scale
#define ADAM_PASS                                                                            \
    p, m, v, g, i0, i1, beta1, beta2, c1, c2, eps, weight_decay, decoupled, shrink,         \
        step_size, bc2_sqrt, grad_scale
#if NC_X86
NC_TARGET_AVX2 static void FN(adam_span_avx2)(ADAM_ARGS) { FN(adam_span)(ADAM_PASS); }
NC_TARGET_AVX512 static void FN(adam_span_avx512)(ADAM_ARGS) { FN(adam_span)(ADAM_PASS); }
#endif
static void FN(adam_span_isa)(int isa, ADAM_ARGS)
{
#if NC_X86
    if (isa == NC_ISA_AVX512) {
        FN(adam_span_avx512)(ADAM_PASS);
        return;
    }
    if (isa == NC_ISA_AVX2) {
        FN(adam_span_avx2)(ADAM_PASS);
        return;
    }
#endif
    (void)isa;
    FN(adam_span)(ADAM_PASS);
}
#undef ADAM_ARGS
#undef ADAM_PASS

void FN(nc_adam)(T *p, T *m, T *v, const T *g, int64_t n, T lr, T beta1, T beta2, T eps,
                 T weight_decay, int64_t step, int decoupled, T grad_scale)
{
    // p, m, v and g are (P,)
    /* step 0 would divide by 1 - beta^0 = 0 */
    if (step < 1) step = 1;
    /* scalar factors in double, like torch's Python-float arithmetic, then rounded once */
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    T step_size = (T)((double)lr / bc1);
    T bc2_sqrt = (T)sqrt(bc2);
    T shrink = (T)(1.0 - (double)lr * (double)weight_decay);
    T c1 = (T)1 - beta1, c2 = (T)1 - beta2;
    FN(adam_job) job = {p, m, v, g, n, beta1, beta2, eps, weight_decay, grad_scale, step_size,
                        bc2_sqrt, shrink, c1, c2, decoupled, nc_get_isa()};
    /* two divisions and a square root an element: some 8 element operations' worth */
    nc_parallel(FN(adam_unit), &job, (n + ADAM_GRAIN - 1) / ADAM_GRAIN, nc_threads_for(8 * n));
}

/* one block of ADAM_GRAIN elements */
static void FN(adam_unit)(void *arg, int64_t b, int slot)
{
    const FN(adam_job) *j = arg;
    T *p = j->p, *m = j->m, *v = j->v;
    const T *g = j->g;
    int64_t n = j->n;
    T beta1 = j->beta1, beta2 = j->beta2, eps = j->eps, weight_decay = j->weight_decay;
    T grad_scale = j->grad_scale, step_size = j->step_size, bc2_sqrt = j->bc2_sqrt;
    T shrink = j->shrink, c1 = j->c1, c2 = j->c2;
    int decoupled = j->decoupled;
    (void)slot;
    {
        int64_t i1 = NC_MIN(n, (b + 1) * ADAM_GRAIN);
        FN(adam_span_isa)(j->isa, p, m, v, g, b * ADAM_GRAIN, i1, beta1, beta2, c1, c2, eps,
                          weight_decay, decoupled, shrink, step_size, bc2_sqrt, grad_scale);
    }
}

typedef struct {
    T *p, *v, *buf;
    const T *g;
    int64_t n;
    T lr, alpha, eps, weight_decay, momentum, grad_scale, c;
} FN(rmsprop_job);
static void FN(rmsprop_unit)(void *arg, int64_t b, int slot);

void FN(nc_rmsprop)(T *p, T *v, T *buf, const T *g, int64_t n, T lr, T alpha, T eps,
                    T weight_decay, T momentum, T grad_scale)
{
    // p, v, buf and g are (P,)
    T c = (T)1 - alpha;
    FN(rmsprop_job) job = {p, v, buf, g, n, lr, alpha, eps, weight_decay, momentum, grad_scale,
                           c};
    nc_parallel(FN(rmsprop_unit), &job, (n + OPT_GRAIN - 1) / OPT_GRAIN, nc_threads_for(n));
}

/* one block of OPT_GRAIN elements */
static void FN(rmsprop_unit)(void *arg, int64_t b, int slot)
{
    const FN(rmsprop_job) *j = arg;
    T *p = j->p, *v = j->v, *buf = j->buf;
    const T *g = j->g;
    int64_t n = j->n;
    T lr = j->lr, alpha = j->alpha, eps = j->eps, weight_decay = j->weight_decay;
    T momentum = j->momentum, grad_scale = j->grad_scale, c = j->c;
    (void)slot;
    {
        int64_t i1 = NC_MIN(n, (b + 1) * OPT_GRAIN);
        for (int64_t i = b * OPT_GRAIN; i < i1; i++) {
            T d = g[i] * grad_scale;
            if (weight_decay != 0) d += weight_decay * p[i];
            T vi = alpha * v[i] + c * d * d;
            v[i] = vi;
            T avg = sqrt(vi) + eps;
            if (momentum != 0) {
                T bi = momentum * buf[i] + d / avg;
                buf[i] = bi;
                p[i] -= lr * bi;
            } else {
                p[i] -= lr * (d / avg);
            }
        }
    }
}

#undef FN
