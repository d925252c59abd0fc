/* Template body of dropout.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

/* y = keep ? x / (1-p) : 0 over elements [i0, i1), mask written when non-NULL. */
static void FN(dropout_range)(T *y, uint8_t *mask, const T *x, int64_t i0, int64_t i1,
                              uint64_t thresh, T keep_prob, uint64_t seed, uint64_t step)
{
    // y, mask and x are (n,); only [i0, i1) is touched
    for (int64_t q = i0 >> 2; q << 2 < i1; q++) {
        uint32_t u[4];
        philox4x32_10(u, (uint64_t)q, step, seed);
        int64_t j0 = NC_MAX(i0, q << 2), j1 = NC_MIN(i1, (q << 2) + 4);
        for (int64_t i = j0; i < j1; i++) {
            int keep = (uint64_t)u[i & 3] >= thresh;
            y[i] = keep ? x[i] / keep_prob : (T)0;
            if (mask) mask[i] = (uint8_t)keep;
        }
    }
}

typedef struct {
    T *y;
    uint8_t *mask;
    const T *x;
    int64_t n;
    uint64_t thresh, seed, step;
    T keep_prob;
} FN(dropout_job);

static void FN(dropout_unit)(void *arg, int64_t b, int slot)
{
    const FN(dropout_job) *j = arg;
    (void)slot;
    FN(dropout_range)(j->y, j->mask, j->x, b * DROPOUT_GRAIN,
                      NC_MIN(j->n, (b + 1) * DROPOUT_GRAIN), j->thresh, j->keep_prob, j->seed,
                      j->step);
}

static void FN(dropout_apply)(T *y, uint8_t *mask, const T *x, int64_t n, T p, uint64_t seed,
                              uint64_t step)
{
    // y, mask and x are (n,)
    FN(dropout_job) job = {y, mask, x, n, dropout_threshold((double)p), seed, step, (T)1 - p};
    int64_t blocks = (n + DROPOUT_GRAIN - 1) / DROPOUT_GRAIN;
    nc_parallel(FN(dropout_unit), &job, blocks, nc_threads_for(n));
}

void FN(nc_dropout_forward)(T *y, uint8_t *mask, const T *x, int64_t n, T p, uint64_t seed,
                            uint64_t step)
{
    // y, mask and x are (n,)
    FN(dropout_apply)(y, mask, x, n, p, seed, step);
}

void FN(nc_dropout_backward)(T *dx, const T *dy, int64_t n, T p, uint64_t seed, uint64_t step)
{
    // dx and dy are (n,)
    FN(dropout_apply)(dx, NULL, dy, n, p, seed, step);
}

#undef FN
