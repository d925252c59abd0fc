/* Template body: the block kernels of the fused small-network step for one ISA,
 * instantiated by isa_instantiate.h inside the T/SFX template of mlp_small_impl.h.
 *
 * Each of the block's three products (forward, weight gradient, backprop) is a small
 * GEMM computed in register tiles of up to SMALL_MR rows by two native vectors. Every
 * output element is one chain of fused multiply-adds in a fixed order (the bias or zero
 * first, then the terms in index order), whatever the vector width, the tile it falls in
 * or the scalar tail that computes it, so every ISA and every blocking give the same bits.
 * Layers narrower than 8 outputs take dot products split over 8 partial sums in a fixed
 * pattern instead. */
/* The register tile of all three products: nr rows by ns vectors of
 *   out[m][:] = start[m][:] + sum over k of a[m*am + k*ak] * b[k*ldb + :]
 * with the terms added in k order by one fused multiply-add each. start is read with
 * leading dimension lds (0: the same row, a bias, for every m), or is zero when NULL.
 * The epilogue, applied before the store, is the element-wise step that follows the
 * product, so that it costs no pass of its own: relu sets v < 0 to 0 (a NaN stays), and a
 * mask ym (leading dimension ldm) keeps v where ym > 0 and sets 0 elsewhere (ReLU's
 * backward). Both give exactly the bits of the separate passes. */
ISA_TARGET NC_INLINE void FNI(tile)(T *out, int64_t ldo, const T *start, int64_t lds,
                                    const T *restrict a, int64_t am, int64_t ak,
                                    const T *restrict b, int64_t ldb, int64_t kdim,
                                    const int nr, const int ns, const int relu,
                                    const T *restrict ym, int64_t ldm)
{
    FNI(vec) acc[6][4]; /* nr <= SMALL_MR = 6, ns <= 4 */
#pragma GCC unroll 8
    for (int m = 0; m < nr; m++)
#pragma GCC unroll 4
        for (int s = 0; s < ns; s++)
            acc[m][s] = start ? LD(start + m * lds + s * NV) : FNI(splat)((T)0);
    for (int64_t k = 0; k < kdim; k++) {
        FNI(vec) bv[4];
#pragma GCC unroll 4
        for (int s = 0; s < ns; s++) bv[s] = LD(b + k * ldb + s * NV);
#pragma GCC unroll 8
        for (int m = 0; m < nr; m++) {
            FNI(vec) av = FNI(splat)(a[m * am + k * ak]);
#pragma GCC unroll 4
            for (int s = 0; s < ns; s++) acc[m][s] = FNI(vfma)(av, bv[s], acc[m][s]);
        }
    }
    const FNI(vec) zero = FNI(splat)((T)0);
#pragma GCC unroll 8
    for (int m = 0; m < nr; m++)
#pragma GCC unroll 4
        for (int s = 0; s < ns; s++) {
            FNI(vec) v = acc[m][s];
            if (relu) {
                __typeof__(v < zero) neg = v < zero;
                v = (FNI(vec))(~neg & (__typeof__(neg))v);
            }
            if (ym) {
                __typeof__(v < zero) on = LD(ym + m * ldm + s * NV) > zero;
                v = (FNI(vec))(on & (__typeof__(on))v);
            }
            ST(out + m * ldo + s * NV, v);
        }
}

/* the scalar epilogues of the tile's, for the columns no vector covers */
#define SMALL_RELU(v) ((v) < 0 ? (T)0 : (v))
#define SMALL_MASK(m, v) ((m) > 0 ? (v) : (T)0)

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

/* ---- forward: z (R,OC) = h (R,C) W (C,OC) + b, then ReLU when relu ------------------ */

/* One output of a layer narrower than 8: the dot product of a row of h with a column of
 * W (a row of Wt) in 8 partial sums, lane q taking the terms p = q mod 8 of the whole
 * vectors and the tail's terms from lane 0 on, added up as
 * ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) onto the bias. */
ISA_TARGET NC_INLINE T FNI(narrow_dot)(const T *restrict hr, const T *restrict wr, int64_t c,
                                       T bias)
{
    T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t p = 0;
    for (; p + 8 <= c; p += 8)
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++) acc[q] = NC_FMA_T(hr[p + q], wr[p + q], acc[q]);
    for (int q = 0; p < c; p++, q++) acc[q] = NC_FMA_T(hr[p], wr[p], acc[q]);
    return bias + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

#if ISA_FMA
/* narrow_dot in float for four rows at once (h rows at stride c), the 8 partial sums of
 * each row the lanes of one vector: four independent chains of multiply-adds in flight,
 * and the lanes summed in registers in narrow_dot's order. */
ISA_TARGET NC_INLINE void FNI(narrow_dot4)(float *z, int64_t ldz, const float *restrict h,
                                           const float *restrict wr, int64_t c, float bias)
{
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int64_t p = 0;
    for (; p + 8 <= c; p += 8) {
        __m256 wv = _mm256_loadu_ps(wr + p);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(h + r * c + p), wv, a[r]);
    }
    if (p < c) {
        /* the tail's terms go to lanes 0.. as in narrow_dot; the other lanes keep their
         * bits (a blend, not an add of zero, which would turn -0 into +0) */
        int tail = (int)(c - p);
        __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i on = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), idx);
        __m256 wv = _mm256_maskload_ps(wr + p, on);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m256 f = _mm256_fmadd_ps(_mm256_maskload_ps(h + r * c + p, on), wv, a[r]);
            a[r] = _mm256_blendv_ps(a[r], f, _mm256_castsi256_ps(on));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        /* [a0+a1, a2+a3, ., ., a4+a5, a6+a7, ., .], then [(a0+a1)+(a2+a3), ., ., ., (a4+a5)+(a6+a7), ...] */
        __m256 s = _mm256_hadd_ps(a[r], a[r]);
        s = _mm256_hadd_ps(s, s);
        float lo = _mm_cvtss_f32(_mm256_castps256_ps128(s));
        float hi = _mm_cvtss_f32(_mm256_extractf128_ps(s, 1));
        z[r * ldz] = bias + (lo + hi);
    }
}
#endif

ISA_TARGET NC_INLINE void FNI(small_forward)(T *restrict z, const T *restrict h, const T *restrict w,
                                  const T *restrict wt, const T *restrict b, int64_t rows,
                                  int64_t c, int64_t oc, int relu)
{
    if (oc >= 8) {
        int64_t j0 = 0;
#define FWD_COLS(NS)                                                                         \
    do {                                                                                     \
        if (relu) {                                                                          \
            for (; j0 + (NS) * NV <= oc; j0 += (NS) * NV) {         \
                SMALL_ROW_TILES(FWD_RELU);                                                   \
            }                                                                                \
        } else {                                                                             \
            for (; j0 + (NS) * NV <= oc; j0 += (NS) * NV) {         \
                SMALL_ROW_TILES(FWD_PLAIN);                                                  \
            }                                                                                \
        }                                                                                    \
    } while (0)
#define FWD_RELU(NR)                                                                         \
    FNI(tile)(z + i * oc + j0, oc, b + j0, 0, h + i * c, c, 1, w + j0, oc, c, NR, FWD_NS, 1, NULL, 0)
#define FWD_PLAIN(NR)                                                                        \
    FNI(tile)(z + i * oc + j0, oc, b + j0, 0, h + i * c, c, 1, w + j0, oc, c, NR, FWD_NS, 0, NULL, 0)
#define FWD_NS 2
        FWD_COLS(2);
#undef FWD_NS
#define FWD_NS 1
        FWD_COLS(1);
#undef FWD_NS
#undef FWD_RELU
#undef FWD_PLAIN
#undef FWD_COLS
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = j0; j < oc; j++) {
                T a = b[j];
                for (int64_t p = 0; p < c; p++) a = NC_FMA_T(h[i * c + p], w[p * oc + j], a);
                z[i * oc + j] = relu ? SMALL_RELU(a) : a;
            }
        return;
    }
    for (int64_t j = 0; j < oc; j++) {
        const T *wr = wt + j * c;
        int64_t i = 0;
#if ISA_FMA
        if (sizeof(T) == 4)
            for (; i + 4 <= rows; i += 4)
                FNI(narrow_dot4)((float *)z + i * oc + j, oc, (const float *)h + i * c,
                                 (const float *)wr, c, (float)b[j]);
#endif
        for (; i < rows; i++) z[i * oc + j] = FNI(narrow_dot)(h + i * c, wr, c, b[j]);
        if (relu)
            for (i = 0; i < rows; i++) z[i * oc + j] = SMALL_RELU(z[i * oc + j]);
    }
}

/* ---- weight gradient: gw (C,OC) (+)= h^T dz, gb (OC,) (+)= column sums of dz ---------- */

ISA_TARGET NC_INLINE void FNI(small_accumulate)(T *restrict gw, T *restrict gb, const T *restrict h,
                                     const T *restrict dz, int64_t rows, int64_t c,
                                     int64_t oc, int first)
{
    int64_t j0 = 0;
    if (oc >= NV) {
        /* row tiles of gw run over p, the input index; a tile of one or two rows takes four
         * vectors, so that eight chains of multiply-adds are in flight, not two or four */
        int64_t p = 0;
#define DW(NP, NS, J)                                                                        \
    FNI(tile)(gw + p * oc + (J), oc, first ? NULL : gw + p * oc + (J), oc, h + p, 1, c,     \
              dz + (J), oc, rows, NP, NS, 0, NULL, 0)
#define DW_COLS(NP)                                                                          \
    do {                                                                                     \
        int64_t j = 0;                                                                       \
        if ((NP) <= 2)                                                                       \
            for (; j + 4 * NV <= oc; j += 4 * NV) DW(NP, 4, j);                              \
        for (; j + 2 * NV <= oc; j += 2 * NV) DW(NP, 2, j);                                  \
        if (j + NV <= oc) {                                                                  \
            DW(NP, 1, j);                                                                    \
            j += NV;                                                                         \
        }                                                                                    \
        j0 = j;                                                                              \
    } while (0)
        for (; p + SMALL_MR <= c; p += SMALL_MR) DW_COLS(SMALL_MR);
        switch (c - p) {
        case 5: DW_COLS(5); break;
        case 4: DW_COLS(4); break;
        case 3: DW_COLS(3); break;
        case 2: DW_COLS(2); break;
        case 1: DW_COLS(1); break;
        default: break;
        }
#undef DW_COLS
#undef DW
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
            for (int64_t r = 0; r < rows; r++) a = NC_FMA_T(dz[r], h[r * c + p], a);
            gw[p] = a;
        }
        j0 = 1;
    }
    for (int64_t p = 0; p < c; p++)
        for (int64_t j = j0; j < oc; j++) {
            T a = first ? (T)0 : gw[p * oc + j];
            for (int64_t r = 0; r < rows; r++) a = NC_FMA_T(dz[r * oc + j], h[r * c + p], a);
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

/* ---- backprop: dh (R,C) = dz (R,OC) W^T, from Wt (OC,C), masked by ym > 0 when ym ---- */

ISA_TARGET NC_INLINE void FNI(small_backprop)(T *restrict dh, const T *restrict dz, const T *restrict wt,
                                   const T *restrict ym, int64_t rows, int64_t c, int64_t oc)
{
    int64_t p0 = 0;
#define BP(NR)                                                                               \
    FNI(tile)(dh + i * c + p0, c, NULL, 0, dz + i * oc, oc, 1, wt + p0, c, oc, NR, BP_NS, 0,  \
              ym ? ym + i * c + p0 : NULL, c)
#define BP_NS 2
    for (; p0 + 2 * NV <= c; p0 += 2 * NV) SMALL_ROW_TILES(BP);
#undef BP_NS
#define BP_NS 1
    if (p0 + NV <= c) {
        SMALL_ROW_TILES(BP);
        p0 += NV;
    }
#undef BP_NS
#undef BP
    for (int64_t i = 0; i < rows; i++)
        for (int64_t p = p0; p < c; p++) {
            T a = 0;
            for (int64_t j = 0; j < oc; j++) a = NC_FMA_T(dz[i * oc + j], wt[j * c + p], a);
            dh[i * c + p] = ym ? SMALL_MASK(ym[i * c + p], a) : a;
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
        /* ReLU goes into the product's epilogue, unless category rows are added after it */
        int relu = net->acts[l] == NC_ACT_RELU && cin > 0 && !(l == 0 && ncat > 0);
        if (cin > 0)
            FNI(small_forward)(zd, h, w, wts[l], w + c * oc, rows, cin, oc, relu);
        else
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < oc; j++) zd[i * oc + j] = w[c * oc + j];
        if (l == 0 && ncat > 0) FNI(small_gather)(zd, codes + r0 * ncat, w, rows, ncat, oc);
        if (!relu && net->acts[l] != NC_ACT_IDENTITY)
            FN(nc_act_tile)(ys[l], zd, rows, oc, oc, oc, net->acts[l], (T)net->act_params[l]);
        h = ys[l];
    }

    double acc = FN(nc_loss_rows)(g0, NULL, ys[L - 1], t ? t + r0 * k : NULL,
                                  labels ? labels + r0 : NULL, sw ? sw + r0 : NULL, NULL, 0,
                                  rows, k, kind, inv);

    T *dy = g0, *spare = g1;
    int masked = 0; /* dy already holds ReLU's backward, done in the backprop's epilogue */
    for (int l = L - 1; l >= 0; l--) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        if (!masked && net->acts[l] != NC_ACT_IDENTITY)
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
            masked = net->acts[l - 1] == NC_ACT_RELU;
            FNI(small_backprop)(spare, dy, wts[l], masked ? ys[l - 1] : NULL, rows, c, oc);
            T *tmp = dy;
            dy = spare;
            spare = tmp;
        }
    }
    return acc;
}

