/* Template body: the block kernels of the fused small-network step for one ISA.
 * Included by mlp_small_impl.h once per ISA with ISA (name suffix), VB (native vector
 * bytes), ISA_TARGET (function attribute) and ISA_FMA (1 when the ISA has vector FMA),
 * inside the T/SFX template.
 *
 * Each of the block's three products (forward, weight gradient, backprop) is a small
 * GEMM computed in register tiles of up to SMALL_MR rows by two native vectors. Every
 * output element is one chain of fused multiply-adds in a fixed order (the bias or zero
 * first, then the terms in index order), whatever the vector width, the tile it falls in
 * or the scalar tail that computes it, so every ISA and every blocking give the same bits.
 * Layers narrower than 8 outputs take dot products split over 8 partial sums in a fixed
 * pattern instead. */
#define FNI(name) NC_CAT(FN(name), ISA)
#define NV ((int64_t)(VB / sizeof(T)))
typedef T FNI(vec) __attribute__((vector_size(VB)));
/* the same vector at any element-aligned address */
typedef T FNI(vecu) __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));
#define LD(p) ((FNI(vec)) * (const FNI(vecu) *)(p))
#define ST(p, v) (*(FNI(vecu) *)(p) = (v))

/* a*b + c rounded once, lane by lane */
ISA_TARGET NC_INLINE FNI(vec) FNI(vfma)(FNI(vec) a, FNI(vec) b, FNI(vec) c)
{
#if ISA_FMA == 512
    if (sizeof(T) == 4) return (FNI(vec))_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    return (FNI(vec))_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif ISA_FMA == 256
    if (sizeof(T) == 4) return (FNI(vec))_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    return (FNI(vec))_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    FNI(vec) r;
    for (int q = 0; q < (int)NV; q++) r[q] = SMALL_FMA(a[q], b[q], c[q]);
    return r;
#endif
}

ISA_TARGET NC_INLINE FNI(vec) FNI(splat)(T v)
{
#if ISA_FMA == 512
    if (sizeof(T) == 4) return (FNI(vec))_mm512_set1_ps((float)v);
    return (FNI(vec))_mm512_set1_pd((double)v);
#elif ISA_FMA == 256
    if (sizeof(T) == 4) return (FNI(vec))_mm256_set1_ps((float)v);
    return (FNI(vec))_mm256_set1_pd((double)v);
#else
    FNI(vec) r;
    for (int q = 0; q < (int)NV; q++) r[q] = v;
    return r;
#endif
}

/* The register tile of all three products: nr rows by ns vectors of
 *   out[m][:] = start[m][:] + sum over k of a[m*am + k*ak] * b[k*ldb + :]
 * with the terms added in k order by one fused multiply-add each. start is read with
 * leading dimension lds (0: the same row, a bias, for every m), or is zero when NULL. */
ISA_TARGET NC_INLINE void FNI(tile)(T *out, int64_t ldo, const T *start, int64_t lds,
                                    const T *restrict a, int64_t am, int64_t ak,
                                    const T *restrict b, int64_t ldb, int64_t kdim,
                                    const int nr, const int ns)
{
    FNI(vec) acc[6][2]; /* SMALL_MR <= 6 */
#pragma GCC unroll 8
    for (int m = 0; m < nr; m++)
#pragma GCC unroll 2
        for (int s = 0; s < ns; s++)
            acc[m][s] = start ? LD(start + m * lds + s * NV) : FNI(splat)((T)0);
    for (int64_t k = 0; k < kdim; k++) {
        FNI(vec) bv[2];
#pragma GCC unroll 2
        for (int s = 0; s < ns; s++) bv[s] = LD(b + k * ldb + s * NV);
#pragma GCC unroll 8
        for (int m = 0; m < nr; m++) {
            FNI(vec) av = FNI(splat)(a[m * am + k * ak]);
#pragma GCC unroll 2
            for (int s = 0; s < ns; s++) acc[m][s] = FNI(vfma)(av, bv[s], acc[m][s]);
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < nr; m++)
#pragma GCC unroll 2
        for (int s = 0; s < ns; s++) ST(out + m * ldo + s * NV, acc[m][s]);
}

#define SMALL_ROW_TILES(CALL)                                                                \
    do {                                                                                     \
        int64_t i = 0;                                                                       \
        for (; i + SMALL_MR <= rows; i += SMALL_MR) CALL(SMALL_MR);                          \
        switch (rows - i) {                                                                  \
        case 5: CALL(5); break;                                                              \
        case 4: CALL(4); break;                                                              \
        case 3: CALL(3); break;                                                              \
        case 2: CALL(2); break;                                                              \
        case 1: CALL(1); break;                                                              \
        default: break;                                                                      \
        }                                                                                    \
    } while (0)

/* ---- forward: z (R,OC) = h (R,C) W (C,OC) + b ---------------------------------------- */

ISA_TARGET NC_INLINE void FNI(small_forward)(T *restrict z, const T *restrict h, const T *restrict w,
                                  const T *restrict wt, const T *restrict b, int64_t rows,
                                  int64_t c, int64_t oc)
{
    if (oc >= 8) {
        int64_t j0 = 0;
        for (; j0 + 2 * NV <= oc; j0 += 2 * NV) {
#define FWD(NR) FNI(tile)(z + i * oc + j0, oc, b + j0, 0, h + i * c, c, 1, w + j0, oc, c, NR, 2)
            SMALL_ROW_TILES(FWD);
#undef FWD
        }
        if (j0 + NV <= oc) {
#define FWD(NR) FNI(tile)(z + i * oc + j0, oc, b + j0, 0, h + i * c, c, 1, w + j0, oc, c, NR, 1)
            SMALL_ROW_TILES(FWD);
#undef FWD
            j0 += NV;
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = j0; j < oc; j++) {
                T a = b[j];
                for (int64_t p = 0; p < c; p++) a = SMALL_FMA(h[i * c + p], w[p * oc + j], a);
                z[i * oc + j] = a;
            }
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        const T *hr = h + i * c;
        for (int64_t j = 0; j < oc; j++) {
            const T *wr = wt + j * c;
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t p = 0;
#if ISA_FMA
            if (sizeof(T) == 4) {
                /* the 8 partial sums are the 8 lanes of one vector */
                __m256 a8 = _mm256_setzero_ps();
                for (; p + 8 <= c; p += 8)
                    a8 = _mm256_fmadd_ps(_mm256_loadu_ps((const float *)hr + p),
                                         _mm256_loadu_ps((const float *)wr + p), a8);
                _mm256_storeu_ps((float *)acc, a8);
            }
#endif
            for (; p + 8 <= c; p += 8)
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++) acc[q] = SMALL_FMA(hr[p + q], wr[p + q], acc[q]);
            for (int q = 0; p < c; p++, q++) acc[q] = SMALL_FMA(hr[p], wr[p], acc[q]);
            z[i * oc + j] = b[j] + (((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                                    ((acc[4] + acc[5]) + (acc[6] + acc[7])));
        }
    }
}

/* ---- weight gradient: gw (C,OC) (+)= h^T dz, gb (OC,) (+)= column sums of dz ---------- */

ISA_TARGET NC_INLINE void FNI(small_accumulate)(T *restrict gw, T *restrict gb, const T *restrict h,
                                     const T *restrict dz, int64_t rows, int64_t c,
                                     int64_t oc, int first)
{
    int64_t j0 = 0;
    if (oc >= NV) {
        /* row tiles of gw run over p, the input index */
        for (; j0 + 2 * NV <= oc; j0 += 2 * NV) {
#define DW(NP)                                                                       \
    FNI(tile)(gw + p * oc + j0, oc, first ? NULL : gw + p * oc + j0, oc, h + p, 1, c, dz + j0, \
              oc, rows, NP, 2)
            int64_t p = 0;
            for (; p + SMALL_MR <= c; p += SMALL_MR) DW(SMALL_MR);
            for (; p < c; p++) DW(1);
#undef DW
        }
        if (j0 + NV <= oc) {
#define DW(NP)                                                                       \
    FNI(tile)(gw + p * oc + j0, oc, first ? NULL : gw + p * oc + j0, oc, h + p, 1, c, dz + j0, \
              oc, rows, NP, 1)
            int64_t p = 0;
            for (; p + SMALL_MR <= c; p += SMALL_MR) DW(SMALL_MR);
            for (; p < c; p++) DW(1);
#undef DW
            j0 += NV;
        }
    } else if (oc == 1) {
        /* gw is a column: vectors run over p */
        int64_t p = 0;
        /* four vectors at a time: four chains of multiply-adds in flight */
        for (; p + 4 * NV <= c; p += 4 * NV) {
            FNI(vec) a[4];
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) a[s] = first ? FNI(splat)((T)0) : LD(gw + p + s * NV);
            for (int64_t r = 0; r < rows; r++) {
                FNI(vec) d = FNI(splat)(dz[r]);
#pragma GCC unroll 4
                for (int s = 0; s < 4; s++) a[s] = FNI(vfma)(d, LD(h + r * c + p + s * NV), a[s]);
            }
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) ST(gw + p + s * NV, a[s]);
        }
        for (; p + NV <= c; p += NV) {
            FNI(vec) a = first ? FNI(splat)((T)0) : LD(gw + p);
            for (int64_t r = 0; r < rows; r++)
                a = FNI(vfma)(FNI(splat)(dz[r]), LD(h + r * c + p), a);
            ST(gw + p, a);
        }
        for (; p < c; p++) {
            T a = first ? (T)0 : gw[p];
            for (int64_t r = 0; r < rows; r++) a = SMALL_FMA(dz[r], h[r * c + p], a);
            gw[p] = a;
        }
        j0 = 1;
    }
    for (int64_t p = 0; p < c; p++)
        for (int64_t j = j0; j < oc; j++) {
            T a = first ? (T)0 : gw[p * oc + j];
            for (int64_t r = 0; r < rows; r++) a = SMALL_FMA(dz[r * oc + j], h[r * c + p], a);
            gw[p * oc + j] = a;
        }
    /* bias: the rows in order, four vectors at a time where the layer is that wide */
    int64_t j = 0;
    for (; j + 4 * NV <= oc; j += 4 * NV) {
        FNI(vec) a[4];
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) a[s] = first ? FNI(splat)((T)0) : LD(gb + j + s * NV);
        for (int64_t r = 0; r < rows; r++)
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) a[s] += LD(dz + r * oc + j + s * NV);
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) ST(gb + j + s * NV, a[s]);
    }
    for (; j + NV <= oc; j += NV) {
        FNI(vec) a = first ? FNI(splat)((T)0) : LD(gb + j);
        for (int64_t r = 0; r < rows; r++) a += LD(dz + r * oc + j);
        ST(gb + j, a);
    }
    for (; j < oc; j++) {
        T a = first ? (T)0 : gb[j];
        for (int64_t r = 0; r < rows; r++) a += dz[r * oc + j];
        gb[j] = a;
    }
}

/* ---- backprop: dh (R,C) = dz (R,OC) W^T, from Wt (OC,C) --------------------------------- */

ISA_TARGET NC_INLINE void FNI(small_backprop)(T *restrict dh, const T *restrict dz, const T *restrict wt,
                                   int64_t rows, int64_t c, int64_t oc)
{
    int64_t p0 = 0;
    for (; p0 + 2 * NV <= c; p0 += 2 * NV) {
#define BP(NR) FNI(tile)(dh + i * c + p0, c, NULL, 0, dz + i * oc, oc, 1, wt + p0, c, oc, NR, 2)
        SMALL_ROW_TILES(BP);
#undef BP
    }
    if (p0 + NV <= c) {
#define BP(NR) FNI(tile)(dh + i * c + p0, c, NULL, 0, dz + i * oc, oc, 1, wt + p0, c, oc, NR, 1)
        SMALL_ROW_TILES(BP);
#undef BP
        p0 += NV;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t p = p0; p < c; p++) {
            T a = 0;
            for (int64_t j = 0; j < oc; j++) a = SMALL_FMA(dz[i * oc + j], wt[j * c + p], a);
            dh[i * c + p] = a;
        }
}

/* ---- category codes ----------------------------------------------------------------- */

/* z (R,OC) += the rows of W (C,OC) that the block's codes (R,NC) select. */
ISA_TARGET NC_INLINE void FNI(small_gather)(T *restrict z, const int32_t *restrict codes,
                                 const T *restrict w, int64_t rows, int64_t ncat, int64_t oc)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < ncat; c++) {
            int32_t r = codes[i * ncat + c];
            if (r < 0) continue;
            const T *restrict wr = w + (int64_t)r * oc;
            T *restrict zr = z + i * oc;
            for (int64_t j = 0; j < oc; j++) zr[j] += wr[j];
        }
}

/* gw rows [cd, C) (C,OC) += dz (R,OC) rows by the block's codes, rows in order; the
 * block's dense rows were written first, so first only matters for rows not yet seen. */
ISA_TARGET NC_INLINE void FNI(small_scatter)(T *restrict gw, const T *restrict dz,
                                  const int32_t *restrict codes, int64_t rows, int64_t ncat,
                                  int64_t cd, int64_t c, int64_t oc)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < ncat; k++) {
            int64_t r = codes[i * ncat + k];
            if (r < cd || r >= c) continue;
            T *restrict gr = gw + r * oc;
            const T *restrict dr = dz + i * oc;
            for (int64_t j = 0; j < oc; j++) gr[j] += dr[j];
        }
}

/* One block of rows [r0, r1): forward, loss rows, backward into the group's partials,
 * which it starts from zero when first. Returns sum_i s_i * l_i over the block. scratch
 * holds SMALL_ROWS rows per layer. */
ISA_TARGET static double FNI(small_block)(T *gpart, T *out, T *scratch, const T *x,
                                          const int32_t *codes, const T *t,
                                          const int32_t *labels, const T *sw,
                                          const T *params, T *const *wts, const int64_t *offs,
                                          const nc_mlp *net, int64_t cd, int64_t ncat,
                                          int64_t r0, int64_t r1, int kind, double inv,
                                          int first)
{
    int L = net->n_layers;
    int64_t rows = r1 - r0, k = net->sizes[L];
    T *ys[NC_MLP_MAX_LAYERS], *zs[NC_MLP_MAX_LAYERS];
    int64_t maxw = 1;
    T *s = scratch;
    for (int l = 0; l < L; l++) {
        int64_t oc = net->sizes[l + 1];
        ys[l] = l == L - 1 ? out + r0 * k : s;
        if (l < L - 1) s += SMALL_ROWS * oc;
        zs[l] = NULL;
        if (nc_act_needs_z(net->acts[l])) {
            zs[l] = s;
            s += SMALL_ROWS * oc;
        }
        maxw = NC_MAX(maxw, NC_MAX(oc, net->sizes[l]));
    }
    T *g0 = s, *g1 = s + SMALL_ROWS * maxw;

    const T *h = cd > 0 ? x + r0 * cd : x; /* x may be NULL when every input is a code */
    for (int l = 0; l < L; l++) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        const T *w = params + offs[l];
        T *zd = zs[l] ? zs[l] : ys[l];
        int64_t cin = l == 0 ? cd : c;
        if (cin > 0)
            FNI(small_forward)(zd, h, w, wts[l], w + c * oc, rows, cin, oc);
        else
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < oc; j++) zd[i * oc + j] = w[c * oc + j];
        if (l == 0 && ncat > 0) FNI(small_gather)(zd, codes + r0 * ncat, w, rows, ncat, oc);
        FN(nc_act_tile)(ys[l], zd, rows, oc, oc, oc, net->acts[l], (T)net->act_params[l]);
        h = ys[l];
    }

    double acc = FN(nc_loss_rows)(g0, NULL, ys[L - 1], t ? t + r0 * k : NULL,
                                  labels ? labels + r0 : NULL, sw ? sw + r0 : NULL, NULL, 0,
                                  rows, k, kind, inv);

    T *dy = g0, *spare = g1;
    for (int l = L - 1; l >= 0; l--) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        FN(nc_act_backward_tile)(dy, dy, ys[l], zs[l], rows, oc, oc, net->acts[l],
                                 (T)net->act_params[l]);
        const T *hprev = l > 0 ? ys[l - 1] : cd > 0 ? x + r0 * cd : x;
        T *gw = gpart + offs[l];
        int64_t cin = l == 0 ? cd : c;
        if (first && cin < c) /* code rows: zero them, the scatter adds into them */
            for (int64_t i = cin * oc; i < c * oc; i++) gw[i] = 0;
        FNI(small_accumulate)(gw, gw + c * oc, hprev, dy, rows, cin, oc, first);
        if (l == 0 && ncat > 0)
            FNI(small_scatter)(gw, dy, codes + r0 * ncat, rows, ncat, cd, c, oc);
        if (l > 0) {
            FNI(small_backprop)(spare, dy, wts[l], rows, c, oc);
            T *tmp = dy;
            dy = spare;
            spare = tmp;
        }
    }
    return acc;
}

#undef LD
#undef ST
#undef NV
#undef FNI
