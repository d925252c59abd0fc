/* Template body of activations.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

/* Rows per parallel block: enough elements per block that threading pays. */
#define ACT_GRAIN_ELEMS 16384

/* 1 / (1 + e^-v), taking exp of a non-positive argument only, so neither branch
 * overflows */
static inline T FN(sigmoid)(T v)
{
    if (v >= 0) {
        return (T)1 / ((T)1 + exp(-v));
    } else {
        T e = exp(v);
        return e / ((T)1 + e);
    }
}

/* y = act(z) over an (n,c) tile, serially. */
void FN(nc_act_tile)(T *y, const T *z, int64_t n, int64_t c, int64_t ldy, int64_t ldz,
                     int act, T param)
{
    /* packed rows of an element-wise activation are one long row: one dispatch, and
     * loops long enough to vectorize well */
    if (act != NC_ACT_SOFTMAX && ldy == c && ldz == c && n > 1) {
        c *= n;
        n = 1;
    }
    for (int64_t i = 0; i < n; i++) {
        T *yr = y + i * ldy;
        const T *zr = z + i * ldz;
        switch (act) {
        case NC_ACT_IDENTITY:
            if (yr != zr)
                for (int64_t j = 0; j < c; j++) yr[j] = zr[j];
            break;
        case NC_ACT_RELU:
            /* written as z < 0 so that NaN passes through, as in PyTorch */
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j];
                yr[j] = v < 0 ? (T)0 : v;
            }
            break;
        case NC_ACT_LEAKY_RELU:
            /* a multiply by a selected factor (exact for the factor 1) vectorizes, where a
             * select between v and param*v keeps a branch */
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j];
                yr[j] = v * (v < 0 ? param : (T)1);
            }
            break;
        case NC_ACT_ELU:
            for (int64_t j = 0; j < c; j++) yr[j] = zr[j] > 0 ? zr[j] : param * expm1(zr[j]);
            break;
        case NC_ACT_SIGMOID:
            for (int64_t j = 0; j < c; j++) yr[j] = FN(sigmoid)(zr[j]);
            break;
        case NC_ACT_TANH:
            for (int64_t j = 0; j < c; j++) yr[j] = tanh(zr[j]);
            break;
        case NC_ACT_GELU:
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j];
                yr[j] = v * (T)0.5 * ((T)1 + erf(v * (T)0.70710678118654752440));
            }
            break;
        case NC_ACT_STEP:
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j];
                yr[j] = v >= 0 ? (T)1 : (T)0;
            }
            break;
        case NC_ACT_SWISH:
            for (int64_t j = 0; j < c; j++) yr[j] = zr[j] * FN(sigmoid)(zr[j]);
            break;
        case NC_ACT_SOFTMAX: {
            if (c == 0) break;
            T mx = zr[0];
            for (int64_t j = 1; j < c; j++) mx = zr[j] > mx ? zr[j] : mx;
            T s = 0;
            for (int64_t j = 0; j < c; j++) {
                yr[j] = exp(zr[j] - mx);
                s += yr[j];
            }
            T inv = (T)1 / s;
            for (int64_t j = 0; j < c; j++) yr[j] *= inv;
            break;
        }
        default:
            break;
        }
    }
}

typedef struct {
    T *y;
    const T *z;
    int64_t n, c, ldy, ldz, rows;
    int act;
    T param;
} FN(act_fwd_job);

static void FN(act_fwd_unit)(void *arg, int64_t bi, int slot)
{
    const FN(act_fwd_job) *j = arg;
    int64_t i0 = bi * j->rows, i1 = NC_MIN(j->n, i0 + j->rows);
    (void)slot;
    FN(nc_act_tile)(j->y + i0 * j->ldy, j->z + i0 * j->ldz, i1 - i0, j->c, j->ldy, j->ldz,
                    j->act, j->param);
}

void FN(nc_act_forward)(T *y, const T *z, int64_t n, int64_t c, int64_t ldy, int64_t ldz,
                        int act, T param)
{
    int64_t rows = c > 0 ? NC_MAX(1, ACT_GRAIN_ELEMS / c) : n;
    int64_t blocks = (n + rows - 1) / rows;
    FN(act_fwd_job) job = {y, z, n, c, ldy, ldz, rows, act, param};
    nc_parallel(FN(act_fwd_unit), &job, blocks, nc_threads_for(n * c));
}

/* dz = dy * act'(.) over an (n,c) tile, serially; all four share leading dim ld. */
int FN(nc_act_backward_tile)(T *dz, const T *dy, const T *y, const T *z, int64_t n,
                             int64_t c, int64_t ld, int act, T param)
{
    if (act != NC_ACT_SOFTMAX && ld == c && n > 1) {
        c *= n;
        n = 1;
    }
    for (int64_t i = 0; i < n; i++) {
        T *d = dz + i * ld;
        const T *g = dy + i * ld;
        const T *yr = y + i * ld;
        switch (act) {
        case NC_ACT_IDENTITY:
            if (d != g)
                for (int64_t j = 0; j < c; j++) d[j] = g[j];
            break;
        case NC_ACT_RELU:
            /* both operands loaded unconditionally, so the select vectorizes instead of
             * branching on the sign, which mispredicts half the time */
            for (int64_t j = 0; j < c; j++) {
                T gv = g[j], yv = yr[j];
                d[j] = yv > 0 ? gv : (T)0;
            }
            break;
        case NC_ACT_LEAKY_RELU:
            for (int64_t j = 0; j < c; j++) {
                T gv = g[j], yv = yr[j];
                d[j] = gv * (yv > 0 ? (T)1 : param);
            }
            break;
        case NC_ACT_ELU:
            /* for z <= 0, d/dz alpha*(e^z - 1) = y + alpha */
            for (int64_t j = 0; j < c; j++) {
                T gv = g[j], yv = yr[j];
                d[j] = gv * (yv > 0 ? (T)1 : yv + param);
            }
            break;
        case NC_ACT_SIGMOID:
            for (int64_t j = 0; j < c; j++) d[j] = g[j] * yr[j] * ((T)1 - yr[j]);
            break;
        case NC_ACT_TANH:
            for (int64_t j = 0; j < c; j++) d[j] = g[j] * ((T)1 - yr[j] * yr[j]);
            break;
        case NC_ACT_GELU: {
            const T *zr = z + i * ld;
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j];
                T cdf = (T)0.5 * ((T)1 + erf(v * (T)0.70710678118654752440));
                T pdf = exp((T)-0.5 * v * v) * (T)0.39894228040143267794;
                d[j] = g[j] * (cdf + v * pdf);
            }
            break;
        }
        case NC_ACT_SWISH: {
            /* s + z s (1 - s), from z: the s that y = z s gives would divide by z, and
             * y + s (1 - y) cancels for large z */
            const T *zr = z + i * ld;
            for (int64_t j = 0; j < c; j++) {
                T v = zr[j], s = FN(sigmoid)(v);
                d[j] = g[j] * (s * ((T)1 + v * ((T)1 - s)));
            }
            break;
        }
        case NC_ACT_SOFTMAX: {
            T s = 0;
            for (int64_t j = 0; j < c; j++) s += g[j] * yr[j];
            for (int64_t j = 0; j < c; j++) d[j] = yr[j] * (g[j] - s);
            break;
        }
        default:
            return -1;
        }
    }
    return 0;
}

typedef struct {
    T *dz;
    const T *dy, *y, *z;
    int64_t n, c, ld, rows;
    int act;
    T param;
} FN(act_bwd_job);

static void FN(act_bwd_unit)(void *arg, int64_t bi, int slot)
{
    const FN(act_bwd_job) *j = arg;
    int64_t i0 = bi * j->rows, off = i0 * j->ld;
    (void)slot;
    FN(nc_act_backward_tile)(j->dz + off, j->dy + off, j->y + off, j->z ? j->z + off : NULL,
                             NC_MIN(j->n, i0 + j->rows) - i0, j->c, j->ld, j->act, j->param);
}

int FN(nc_act_backward)(T *dz, const T *dy, const T *y, const T *z, int64_t n, int64_t c,
                        int64_t ld, int act, T param)
{
    if (act < 0 || act >= NC_ACT_COUNT || act == NC_ACT_STEP) return -1;
    if (nc_act_needs_z(act) && z == NULL) return -1;
    int64_t rows = c > 0 ? NC_MAX(1, ACT_GRAIN_ELEMS / c) : n;
    int64_t blocks = (n + rows - 1) / rows;
    FN(act_bwd_job) job = {dz, dy, y, z, n, c, ld, rows, act, param};
    nc_parallel(FN(act_bwd_unit), &job, blocks, nc_threads_for(n * c));
    return 0;
}

#undef ACT_GRAIN_ELEMS
#undef FN
