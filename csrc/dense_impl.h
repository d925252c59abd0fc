/* Template body of dense.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)
#define EPILOGUE NC_CAT(nc_epilogue, SFX)

/* Columns per stripe of the fused dz/db pass; rows per tile inside a stripe. */
#define DB_STRIPE 64
#define DB_ROWS 16

size_t FN(nc_dense_workspace)(int64_t n, int64_t c, int64_t oc, int threads)
{
    size_t fw = FN(nc_gemm_workspace)(n, oc, c, threads);  /* y = x w      */
    size_t dw = FN(nc_gemm_workspace)(c, oc, n, threads);  /* dw = x^T dz  */
    size_t dx = FN(nc_gemm_workspace)(n, c, oc, threads);  /* dx = dz w^T  */
    size_t mx = fw > dw ? fw : dw;
    return mx > dx ? mx : dx;
}

// x is (N,C), w is (C,OC), b is (OC,), y and z are (N,OC)
void FN(nc_dense_forward)(T *y, T *z, const T *x, const T *w, const T *b, int64_t n,
                          int64_t c, int64_t oc, int act, T act_param, void *work,
                          size_t work_bytes)
{
    EPILOGUE ep;
    ep.bias = b;
    ep.z_out = z;
    ep.ldz = oc;
    ep.act_param = act_param;
    /* softmax needs whole rows, which a GEMM tile does not have: bias in the write-back,
     * then one row pass */
    ep.act = act == NC_ACT_SOFTMAX ? NC_ACT_IDENTITY : act;
    FN(nc_gemm)(y, x, w, n, oc, c, c, oc, oc, 0, 0, (T)1, (T)0, &ep, work, work_bytes);
    if (act == NC_ACT_SOFTMAX) FN(nc_act_forward)(y, y, n, oc, oc, oc, act, act_param);
}

/* dz = dy * act'(.) and db = column sums of dz in one pass. Each thread owns a stripe of
 * columns and walks every row in order, so db never depends on the thread count. */
typedef struct {
    T *db, *dz;
    const T *dy, *y, *z;
    int64_t n, oc;
    int act;
    T act_param;
} FN(dz_db_job);

static void FN(dz_db_unit)(void *arg, int64_t s, int slot)
{
    const FN(dz_db_job) *jb = arg;
    T *db = jb->db, *dz = jb->dz;
    const T *dy = jb->dy, *y = jb->y, *z = jb->z;
    int64_t n = jb->n, oc = jb->oc;
    int64_t j0 = s * DB_STRIPE;
    int64_t w = NC_MIN(oc, j0 + DB_STRIPE) - j0;
    double acc[DB_STRIPE];
    (void)slot;
    for (int64_t j = 0; j < w; j++) acc[j] = 0;
    for (int64_t i0 = 0; i0 < n; i0 += DB_ROWS) {
        int64_t h = NC_MIN(n, i0 + DB_ROWS) - i0;
        int64_t off = i0 * oc + j0;
        FN(nc_act_backward_tile)(dz + off, dy + off, y + off, z ? z + off : NULL, h, w, oc,
                                 jb->act, jb->act_param);
        if (db)
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++) acc[j] += dz[off + i * oc + j];
    }
    if (db)
        for (int64_t j = 0; j < w; j++) db[j0 + j] = (T)acc[j];
}

/* dz = dy * act'(.) and db = column sums of dz in one pass. A unit is a stripe of
 * columns walked over every row in order, so db never depends on the thread count. */
static void FN(dz_db)(T *db, T *dz, const T *dy, const T *y, const T *z, int64_t n,
                      int64_t oc, int act, T act_param)
{
    int64_t stripes = (oc + DB_STRIPE - 1) / DB_STRIPE;
    FN(dz_db_job) job = {db, dz, dy, y, z, n, oc, act, act_param};
    nc_parallel(FN(dz_db_unit), &job, stripes, nc_threads_for(n * oc));
}

// dy, dz are (N,OC); y, z are (N,OC); x is (N,C); w is (C,OC);
// dx is (N,C), dw is (C,OC), db is (OC,)
void FN(nc_dense_backward)(T *dx, T *dw, T *db, T *dz, const T *dy, const T *y, const T *z,
                           const T *x, const T *w, int64_t n, int64_t c, int64_t oc, int act,
                           T act_param, void *work, size_t work_bytes)
{
    if (act == NC_ACT_SOFTMAX) {
        /* the row reduction of softmax's Jacobian comes first; db is then a plain sum */
        FN(nc_act_backward)(dz, dy, y, z, n, oc, oc, act, act_param);
        FN(dz_db)(db, dz, dz, dz, NULL, n, oc, NC_ACT_IDENTITY, act_param);
    } else {
        FN(dz_db)(db, dz, dy, y, z, n, oc, act, act_param);
    }
    if (dw)
        FN(nc_gemm)(dw, x, dz, c, oc, n, c, oc, oc, 1, 0, (T)1, (T)0, NULL, work, work_bytes);
    if (dx)
        FN(nc_gemm)(dx, dz, w, n, c, oc, oc, oc, c, 0, 1, (T)1, (T)0, NULL, work, work_bytes);
}

/* The first layer with categorical inputs: rows [cd, C) of w are reached through codes
 * (absolute rows of w, -1 for none) instead of one-hot columns of x. */

// x is (N,Cd), codes is (N,NC), w is (C,OC), b is (OC,), y and z are (N,OC)
void FN(nc_dense_codes_forward)(T *y, T *z, const T *x, const int32_t *codes, const T *w,
                                const T *b, int64_t n, int64_t cd, int64_t ncat, int64_t oc,
                                int act, T act_param, void *work, size_t work_bytes)
{
    if (!codes || ncat <= 0) {
        FN(nc_dense_forward)(y, z, x, w, b, n, cd, oc, act, act_param, work, work_bytes);
        return;
    }
    /* the activation waits for the gathered rows, so the GEMM writes the bare
     * pre-activation, into z when forward keeps it */
    T *acc = z ? z : y;
    EPILOGUE ep;
    ep.bias = b;
    ep.z_out = NULL;
    ep.ldz = oc;
    ep.act = NC_ACT_IDENTITY;
    ep.act_param = 0;
    FN(nc_gemm)(acc, x, w, n, oc, cd, NC_MAX(cd, 1), oc, oc, 0, 0, (T)1, (T)0, &ep, work,
                work_bytes);
    FN(nc_gather_rows_add)(acc, codes, w, n, ncat, oc);
    FN(nc_act_forward)(y, acc, n, oc, oc, oc, act, act_param);
}

// dy, dz, y, z are (N,OC); x, dx are (N,Cd); codes is (N,NC); w, dw are (C,OC); db is (OC,)
void FN(nc_dense_codes_backward)(T *dx, T *dw, T *db, T *dz, const T *dy, const T *y,
                                 const T *z, const T *x, const int32_t *codes, const T *w,
                                 int64_t n, int64_t c, int64_t cd, int64_t ncat, int64_t oc,
                                 int act, T act_param, void *work, size_t work_bytes)
{
    FN(nc_dense_backward)(dx, dw, db, dz, dy, y, z, x, w, n, cd, oc, act, act_param, work,
                          work_bytes);
    if (dw) FN(nc_scatter_rows_add)(dw, dz, codes, n, codes ? ncat : 0, cd, c, oc);
}

#undef DB_STRIPE
#undef DB_ROWS
#undef EPILOGUE
#undef FN
