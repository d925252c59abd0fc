/* Template body: the block kernels of the fused small-network step for one ISA.
 * Included by mlp_small_impl.h once per ISA with ISA (name suffix), VB (native vector
 * bytes) and ISA_TARGET (function attribute), inside the T/SFX template.
 *
 * Four native vectors of accumulators stay in registers across a loop; each output
 * element still adds its terms in the same order as the scalar tails, so every ISA and
 * every chunking gives the same bits. */
#define FNI(name) NC_CAT(FN(name), ISA)
#define NV ((int64_t)(VB / sizeof(T)))
typedef T FNI(vec) __attribute__((vector_size(VB)));
/* the same vector at any element-aligned address */
typedef T FNI(vecu) __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));
#define LD(p) (*(const FNI(vecu) *)(p))
#define ST(p, v) (*(FNI(vecu) *)(p) = (v))

/* z (R,OC) = h (R,C) W (C,OC) + b. Wide layers keep 4*NV columns of z in registers while
 * streaming W's rows; narrow ones take dot products with Wt's rows, split over 8
 * accumulators in a fixed pattern. */
NC_INLINE void FNI(small_forward)(T *restrict z, const T *restrict h, const T *restrict w,
                                  const T *restrict wt, const T *restrict b, int64_t rows,
                                  int64_t c, int64_t oc)
{
    if (oc >= 8) {
        for (int64_t i = 0; i < rows; i++) {
            T *restrict zr = z + i * oc;
            const T *hr = h + i * c;
            int64_t j0 = 0;
            for (; j0 + 4 * NV <= oc; j0 += 4 * NV) {
                FNI(vec) a0 = LD(b + j0), a1 = LD(b + j0 + NV), a2 = LD(b + j0 + 2 * NV),
                         a3 = LD(b + j0 + 3 * NV);
                for (int64_t p = 0; p < c; p++) {
                    T hv = hr[p];
                    const T *wr = w + p * oc + j0;
                    a0 += hv * LD(wr);
                    a1 += hv * LD(wr + NV);
                    a2 += hv * LD(wr + 2 * NV);
                    a3 += hv * LD(wr + 3 * NV);
                }
                ST(zr + j0, a0);
                ST(zr + j0 + NV, a1);
                ST(zr + j0 + 2 * NV, a2);
                ST(zr + j0 + 3 * NV, a3);
            }
            for (; j0 + NV <= oc; j0 += NV) {
                FNI(vec) a0 = LD(b + j0);
                for (int64_t p = 0; p < c; p++) a0 += hr[p] * LD(w + p * oc + j0);
                ST(zr + j0, a0);
            }
            for (int64_t j = j0; j < oc; j++) {
                T a = b[j];
                for (int64_t p = 0; p < c; p++) a += hr[p] * w[p * oc + j];
                zr[j] = a;
            }
        }
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        const T *hr = h + i * c;
        for (int64_t j = 0; j < oc; j++) {
            const T *wr = wt + j * c;
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t p = 0;
            for (; p + 8 <= c; p += 8)
                for (int q = 0; q < 8; q++) acc[q] += hr[p + q] * wr[p + q];
            for (int q = 0; p < c; p++, q++) acc[q] += hr[p] * wr[p];
            z[i * oc + j] = b[j] + (((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                                    ((acc[4] + acc[5]) + (acc[6] + acc[7])));
        }
    }
}

/* g (len,) += sum over rows of s_i * v_i, v_i = src + i*stride, s_i = scale[i*sstride]
 * (or 1 when scale is NULL): 4*NV elements of g in registers across all the rows. */
NC_INLINE void FNI(small_axpy_rows)(T *restrict g, const T *restrict src, int64_t stride,
                                    const T *restrict scale, int64_t sstride, int64_t rows,
                                    int64_t len)
{
    int64_t j0 = 0;
    for (; j0 + 4 * NV <= len; j0 += 4 * NV) {
        FNI(vec) a0 = LD(g + j0), a1 = LD(g + j0 + NV), a2 = LD(g + j0 + 2 * NV),
                 a3 = LD(g + j0 + 3 * NV);
        for (int64_t i = 0; i < rows; i++) {
            const T *v = src + i * stride + j0;
            if (scale) {
                T sv = scale[i * sstride];
                a0 += sv * LD(v);
                a1 += sv * LD(v + NV);
                a2 += sv * LD(v + 2 * NV);
                a3 += sv * LD(v + 3 * NV);
            } else {
                a0 += LD(v);
                a1 += LD(v + NV);
                a2 += LD(v + 2 * NV);
                a3 += LD(v + 3 * NV);
            }
        }
        ST(g + j0, a0);
        ST(g + j0 + NV, a1);
        ST(g + j0 + 2 * NV, a2);
        ST(g + j0 + 3 * NV, a3);
    }
    for (; j0 + NV <= len; j0 += NV) {
        FNI(vec) a0 = LD(g + j0);
        for (int64_t i = 0; i < rows; i++) {
            FNI(vec) v = LD(src + i * stride + j0);
            if (scale)
                a0 += scale[i * sstride] * v;
            else
                a0 += v;
        }
        ST(g + j0, a0);
    }
    for (int64_t j = j0; j < len; j++) {
        T a = g[j];
        for (int64_t i = 0; i < rows; i++)
            a += scale ? scale[i * sstride] * src[i * stride + j] : src[i * stride + j];
        g[j] = a;
    }
}

/* gw (C,OC) += h^T dz and gb (OC,) += column sums of dz over the block's rows; each
 * element adds the rows in order. */
NC_INLINE void FNI(small_accumulate)(T *restrict gw, T *restrict gb, const T *restrict h,
                                     const T *restrict dz, int64_t rows, int64_t c,
                                     int64_t oc)
{
    if (oc == 1)
        FNI(small_axpy_rows)(gw, h, c, dz, 1, rows, c);  /* gw += sum_i dz_i * h_i */
    else
        for (int64_t p = 0; p < c; p++)  /* row p of gw += sum_i h_ip * dz_i */
            FNI(small_axpy_rows)(gw + p * oc, dz, oc, h + p, c, rows, oc);
    FNI(small_axpy_rows)(gb, dz, oc, NULL, 0, rows, oc);
}

/* dh (R,C) = dz (R,OC) W^T: rows of Wt (OC,C) scaled by dz's row and added. */
NC_INLINE void FNI(small_backprop)(T *restrict dh, const T *restrict dz, const T *restrict wt,
                                   int64_t rows, int64_t c, int64_t oc)
{
    for (int64_t i = 0; i < rows; i++) {
        T *restrict hr = dh + i * c;
        for (int64_t p = 0; p < c; p++) hr[p] = 0;
        /* a zero start then the terms in order: the same bits as starting from the first */
        FNI(small_axpy_rows)(hr, wt, c, dz + i * oc, 1, oc, c);
    }
}

/* z (R,OC) += the rows of W (C,OC) that the block's codes (R,NC) select. */
NC_INLINE void FNI(small_gather)(T *restrict z, const int32_t *restrict codes,
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

/* gw rows [cd, C) (C,OC) += dz (R,OC) rows by the block's codes, rows in order. */
NC_INLINE void FNI(small_scatter)(T *restrict gw, const T *restrict dz,
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

/* One block of rows [r0, r1): forward, loss rows, backward into the group's partials.
 * Returns sum_i s_i * l_i over the block. scratch holds SMALL_ROWS rows per layer. */
ISA_TARGET static double FNI(small_block)(T *gpart, T *out, T *scratch, const T *x,
                                          const int32_t *codes, const T *t,
                                          const int32_t *labels, const T *sw, const T *cw,
                                          const T *params, const T *wt, const int64_t *offs,
                                          const nc_mlp *net, int64_t cd, int64_t ncat,
                                          int64_t r0, int64_t r1, int kind, double inv)
{
    int L = net->n_layers;
    int64_t rows = r1 - r0, k = net->sizes[L];
    T *ys[MLP_MAX_LAYERS], *zs[MLP_MAX_LAYERS];
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
        FNI(small_forward)(zd, h, w, wt + offs[l], w + c * oc, rows, l == 0 ? cd : c, oc);
        if (l == 0 && ncat > 0) FNI(small_gather)(zd, codes + r0 * ncat, w, rows, ncat, oc);
        FN(nc_act_tile)(ys[l], zd, rows, oc, oc, oc, net->acts[l], (T)net->act_params[l]);
        h = ys[l];
    }

    double acc = FN(nc_loss_rows)(g0, NULL, ys[L - 1], t ? t + r0 * k : NULL,
                                  labels ? labels + r0 : NULL, sw ? sw + r0 : NULL, cw, 0,
                                  rows, k, kind, inv);

    T *dy = g0, *spare = g1;
    for (int l = L - 1; l >= 0; l--) {
        int64_t c = net->sizes[l], oc = net->sizes[l + 1];
        FN(nc_act_backward_tile)(dy, dy, ys[l], zs[l], rows, oc, oc, net->acts[l],
                                 (T)net->act_params[l]);
        const T *hprev = l > 0 ? ys[l - 1] : cd > 0 ? x + r0 * cd : x;
        T *gw = gpart + offs[l];
        FNI(small_accumulate)(gw, gw + c * oc, hprev, dy, rows, l == 0 ? cd : c, oc);
        if (l == 0 && ncat > 0)
            FNI(small_scatter)(gw, dy, codes + r0 * ncat, rows, ncat, cd, c, oc);
        if (l > 0) {
            FNI(small_backprop)(spare, dy, wt + offs[l], rows, c, oc);
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
