/* Template body of gather.c: included once per element type T with suffix SFX.
 *
 * A categorical column of K categories is the one-hot product x_onehot (N,K) @ W[r0:r0+K],
 * which is one row of W per sample. The gather adds those rows; the scatter sums dz into
 * them. Both are plain additions in a fixed order (rows i in order, then the columns of
 * codes in order), so every ISA path and every thread count gives the same bits. */
#define FN(name) NC_CAT(name, SFX)

/* Output columns per stripe of the scatter: one cache line of floats, so two threads
 * never write the same line of a row. */
#define SCATTER_STRIPE 16

typedef struct {
    T *y;
    const int32_t *codes;
    const T *w;
    int64_t n, ncat, oc, rows;
} FN(gather_job);

static void FN(gather_unit)(void *arg, int64_t b, int slot)
{
    const FN(gather_job) *jb = arg;
    int64_t ncat = jb->ncat, oc = jb->oc;
    int64_t i1 = NC_MIN(jb->n, (b + 1) * jb->rows);
    (void)slot;
    for (int64_t i = b * jb->rows; i < i1; i++) {
        T *restrict yr = jb->y + i * oc;
        for (int64_t c = 0; c < ncat; c++) {
            int32_t r = jb->codes[i * ncat + c];
            if (r < 0) continue;
            const T *restrict wr = jb->w + (int64_t)r * oc;
            for (int64_t j = 0; j < oc; j++) yr[j] += wr[j];
        }
    }
}

// y is (N,OC), codes is (N,NC), w is (C,OC)
void FN(nc_gather_rows_add)(T *restrict y, const int32_t *restrict codes, const T *restrict w,
                            int64_t n, int64_t ncat, int64_t oc)
{
    if (n <= 0 || ncat <= 0 || oc <= 0) return;
    /* a unit is a block of rows worth one thread's minimum share */
    int64_t rows = NC_MAX(1, NC_WORK_PER_THREAD / (ncat * oc));
    FN(gather_job) job = {y, codes, w, n, ncat, oc, rows};
    nc_parallel(FN(gather_unit), &job, (n + rows - 1) / rows, nc_threads_for(n * ncat * oc));
}

typedef struct {
    T *dw;
    const T *dz;
    const int32_t *codes;
    int64_t n, ncat, r0, r1, oc, rows;
} FN(scatter_job);

static void FN(scatter_zero_unit)(void *arg, int64_t b, int slot)
{
    const FN(scatter_job) *jb = arg;
    int64_t r0 = jb->r0 + b * jb->rows, r1 = NC_MIN(jb->r1, r0 + jb->rows);
    (void)slot;
    for (int64_t i = r0 * jb->oc; i < r1 * jb->oc; i++) jb->dw[i] = 0;
}

static void FN(scatter_unit)(void *arg, int64_t s, int slot)
{
    const FN(scatter_job) *jb = arg;
    int64_t ncat = jb->ncat, oc = jb->oc, r0 = jb->r0, r1 = jb->r1;
    int64_t j0 = s * SCATTER_STRIPE, j1 = NC_MIN(oc, j0 + SCATTER_STRIPE);
    (void)slot;
    for (int64_t i = 0; i < jb->n; i++) {
        const T *restrict dzr = jb->dz + i * oc;
        for (int64_t c = 0; c < ncat; c++) {
            int64_t r = jb->codes[i * ncat + c];
            if (r < r0 || r >= r1) continue;
            T *restrict dwr = jb->dw + r * oc;
            for (int64_t j = j0; j < j1; j++) dwr[j] += dzr[j];
        }
    }
}

// dw is (C,OC), dz is (N,OC), codes is (N,NC); rows [r0,r1) of dw are written
void FN(nc_scatter_rows_add)(T *restrict dw, const T *restrict dz,
                             const int32_t *restrict codes, int64_t n, int64_t ncat,
                             int64_t r0, int64_t r1, int64_t oc)
{
    if (r1 <= r0 || oc <= 0) return;
    int64_t rows = NC_MAX(1, NC_WORK_PER_THREAD / oc);
    FN(scatter_job) job = {dw, dz, codes, n, ncat, r0, r1, oc, rows};
    nc_parallel(FN(scatter_zero_unit), &job, (r1 - r0 + rows - 1) / rows,
                nc_threads_for((r1 - r0) * oc));
    if (n <= 0 || ncat <= 0) return;
    /* a unit is a stripe of columns walked over every (row, column of codes) pair in
     * order: each element's sum is in a fixed order, whatever the thread count */
    int64_t stripes = (oc + SCATTER_STRIPE - 1) / SCATTER_STRIPE;
    nc_parallel(FN(scatter_unit), &job, stripes, nc_threads_for(n * ncat * oc));
}

/* The naive forms: the C-level oracle of the pair above. */

// y is (N,OC), codes is (N,NC), w is (C,OC)
void FN(nc_gather_rows_add_ref)(T *y, const int32_t *codes, const T *w, int64_t n,
                                int64_t ncat, int64_t oc)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < ncat; c++)
            if (codes[i * ncat + c] >= 0)
                for (int64_t j = 0; j < oc; j++)
                    y[i * oc + j] += w[(int64_t)codes[i * ncat + c] * oc + j];
}

// dw is (C,OC), dz is (N,OC), codes is (N,NC); rows [r0,r1) of dw are written
void FN(nc_scatter_rows_add_ref)(T *dw, const T *dz, const int32_t *codes, int64_t n,
                                 int64_t ncat, int64_t r0, int64_t r1, int64_t oc)
{
    for (int64_t r = r0; r < r1; r++)
        for (int64_t j = 0; j < oc; j++) dw[r * oc + j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < ncat; c++) {
            int64_t r = codes[i * ncat + c];
            if (r >= r0 && r < r1)
                for (int64_t j = 0; j < oc; j++) dw[r * oc + j] += dz[i * oc + j];
        }
}

#undef SCATTER_STRIPE
#undef FN
