/* Template body of norm.c: included once per element type T with suffix SFX. */
#define FN(name) NC_CAT(name, SFX)

double FN(nc_sum_squares)(const T *x, int64_t n)
{
    // x is (n,)
    if (n <= 0) return 0.0;
    int64_t len = nc_red_chunk_len(n);
    int64_t chunks = (n + len - 1) / len;
    double part[NC_RED_CHUNKS];
    /* a chunk is a few microseconds of loads: give each thread several */
    int nt = nc_threads_for(chunks, 4);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < chunks; c++) {
        const T *xc = x + c * len;
        int64_t m = NC_MIN(len, n - c * len);
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
        part[c] = (a0 + a1) + (a2 + a3);
    }
    double total = 0.0;
    for (int64_t c = 0; c < chunks; c++) total += part[c];
    return total;
}

#undef FN
