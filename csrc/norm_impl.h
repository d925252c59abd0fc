/* Template body of norm.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

typedef struct {
    const T *x;
    double *part;
    int64_t n, len;
} FN(sumsq_job);

static void FN(sumsq_unit)(void *arg, int64_t c, int slot)
{
    const FN(sumsq_job) *j = arg;
    const T *xc = j->x + c * j->len;
    int64_t m = NC_MIN(j->len, j->n - c * j->len);
    (void)slot;
    /* four running sums break the add latency chain; their pattern is fixed by the
     * chunk, so the result still depends on n alone */
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        a0 += (double)xc[i] * (double)xc[i];
        a1 += (double)xc[i + 1] * (double)xc[i + 1];
        a2 += (double)xc[i + 2] * (double)xc[i + 2];
        a3 += (double)xc[i + 3] * (double)xc[i + 3];
    }
    for (; i < m; i++) a0 += (double)xc[i] * (double)xc[i];
    j->part[c] = (a0 + a1) + (a2 + a3);
}

double FN(nc_sum_squares)(const T *x, int64_t n)
{
    // x is (n,)
    if (n <= 0) return 0.0;
    int64_t len = nc_red_chunk_len(n);
    int64_t chunks = (n + len - 1) / len;
    double part[NC_RED_CHUNKS];
    FN(sumsq_job) job = {x, part, n, len};
    nc_parallel(FN(sumsq_unit), &job, chunks, nc_threads_for(n));
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return total;
}

#undef FN
