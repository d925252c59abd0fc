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

// y is (N,OC), codes is (N,NC), w is (C,OC)
void FN(nc_gather_rows_add)(T *restrict y, const int32_t *restrict codes, const T *restrict w,
                            int64_t n, int64_t ncat, int64_t oc)
{
    if (n <= 0 || ncat <= 0 || oc <= 0) return;
    int nt = nc_threads_for(n * ncat * oc, 1 << 15);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < n; i++) {
        T *restrict yr = y + i * oc;
        for (int64_t c = 0; c < ncat; c++) {
            int32_t r = codes[i * ncat + c];
            if (r < 0) continue;
            const T *restrict wr = w + (int64_t)r * oc;
            for (int64_t j = 0; j < oc; j++) yr[j] += wr[j];
        }
    }
}

// dw is (C,OC), dz is (N,OC), codes is (N,NC); rows [r0,r1) of dw are written
void FN(nc_scatter_rows_add)(T *restrict dw, const T *restrict dz,
                             const int32_t *restrict codes, int64_t n, int64_t ncat,
                             int64_t r0, int64_t r1, int64_t oc)
{
    if (r1 <= r0 || oc <= 0) return;
    int64_t rows = r1 - r0;
    int nz = nc_threads_for(rows * oc, 1 << 16);
    (void)nz;
#pragma omp parallel for num_threads(nz) schedule(static) if (nz > 1)
    for (int64_t r = r0; r < r1; r++)
        for (int64_t j = 0; j < oc; j++) dw[r * oc + j] = 0;
    if (n <= 0 || ncat <= 0) return;
    /* each thread owns a stripe of columns and walks every (row, column of codes) pair in
     * order: each element's sum is in a fixed order, whatever the thread count */
    int64_t stripes = (oc + SCATTER_STRIPE - 1) / SCATTER_STRIPE;
    int nt = nc_threads_for(n * ncat * oc, 1 << 15);
    if (nt > stripes) nt = (int)stripes;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t s = 0; s < stripes; s++) {
        int64_t j0 = s * SCATTER_STRIPE, j1 = NC_MIN(oc, j0 + SCATTER_STRIPE);
        for (int64_t i = 0; i < n; i++) {
            const T *restrict dzr = dz + i * oc;
            for (int64_t c = 0; c < ncat; c++) {
                int64_t r = codes[i * ncat + c];
                if (r < r0 || r >= r1) continue;
                T *restrict dwr = dw + r * oc;
                for (int64_t j = j0; j < j1; j++) dwr[j] += dzr[j];
            }
        }
    }
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
