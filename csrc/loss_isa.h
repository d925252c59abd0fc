/* Template body: the vector math of the losses for one ISA, instantiated by
 * isa_instantiate.h inside the T/SFX template of loss_impl.h.
 *
 * Binary cross-entropy needs e^-|z| and log1p of it for every element. libm's scalar
 * calls cost more than the rest of a small network's step; here both are polynomials
 * in vectors. Every operation is an IEEE add, multiply, divide or a fused multiply-add
 * in a fixed order, and the portable path's vectors compute the same operations lane by
 * lane, so every ISA gives the same bits. Accuracy: within a few units in the last
 * place of T (tests/test_loss.py measures it against float64 and long double). */

/* e^x for x <= 0 (x = -inf gives 0, a NaN stays NaN): x = n ln2 + r with |r| <= ln2/2,
 * e^r by its Taylor polynomial (degree 7 for float, 13 for double: the first omitted
 * term is below a tenth of an ulp), times 2^n built in the exponent bits, in two factors
 * so that a subnormal result is right too. */
ISA_TARGET NC_INLINE FNI(vec) FNI(exp_nonpos)(FNI(vec) x)
{
    const int dbl = sizeof(T) == 8;
    /* 1.5 * 2^(mantissa bits): adding it rounds to an integer, held in the low bits */
    const T magic = dbl ? (T)6755399441055744.0 : (T)12582912.0;
    const T log2e = (T)1.44269504088896340736;
    /* ln 2 split so that n * ln2_hi is exact for the n that occur */
    const T ln2_hi = dbl ? (T)6.93147180369123816490e-01 : (T)0.693145751953125;
    const T ln2_lo = dbl ? (T)1.90821492927058770002e-10 : (T)1.428606765330187045e-06;
    const T lowest = dbl ? (T)-745.2 : (T)-103.98;
    typedef __typeof__(x < x) ivec;
    /* below `lowest` the result is under half the smallest subnormal: clamp, then 0 */
    ivec under = x < FNI(splat)(lowest);
    FNI(vec) xs = (FNI(vec))((under & (ivec)FNI(splat)(lowest)) | (~under & (ivec)x));
    FNI(vec) kf = xs * FNI(splat)(log2e) + FNI(splat)(magic);
    FNI(vec) n = kf - FNI(splat)(magic);
    FNI(vec) r = FNI(vfma)(-n, FNI(splat)(ln2_hi), xs);
    r = FNI(vfma)(-n, FNI(splat)(ln2_lo), r);
    int deg = dbl ? 13 : 7;
    /* Horner from 1/deg! down to 1: p = 1 + r (1 + r/2 (1 + r/3 (...))) in fma form */
    static const double inv_fact[14] = {1.0,
                                        1.0,
                                        0.5,
                                        1.6666666666666666e-01,
                                        4.1666666666666664e-02,
                                        8.3333333333333332e-03,
                                        1.3888888888888889e-03,
                                        1.9841269841269841e-04,
                                        2.4801587301587302e-05,
                                        2.7557319223985893e-06,
                                        2.7557319223985888e-07,
                                        2.5052108385441720e-08,
                                        2.0876756987868100e-09,
                                        1.6059043836821613e-10};
    FNI(vec) p = FNI(splat)((T)inv_fact[deg]);
    for (int d = deg - 1; d >= 0; d--) p = FNI(vfma)(p, r, FNI(splat)((T)inv_fact[d]));
    /* n in the integer lanes: kf's bits minus magic's */
    ivec ni = (ivec)kf - (ivec)FNI(splat)(magic);
    ivec n1 = ni >> 1, n2 = ni - n1; /* both >= -538 (double) or -76 (float) */
    const int mbits = dbl ? 52 : 23, bias = dbl ? 1023 : 127;
    FNI(vec) s1 = (FNI(vec))((n1 + bias) << mbits), s2 = (FNI(vec))((n2 + bias) << mbits);
    FNI(vec) e = (p * s1) * s2;
    return (FNI(vec))(~under & (ivec)e);
}

/* log1p(e) for 0 <= e <= 1: 2 atanh(s) with s = e / (2 + e) in [0, 1/3], by its series
 * s + s^3/3 + ... up to s^15 for float and s^33 for double (the first omitted term is
 * below a tenth of an ulp). u = 2s is formed first, so that a subnormal e gives e. */
ISA_TARGET NC_INLINE FNI(vec) FNI(log1p_unit)(FNI(vec) e)
{
    const int dbl = sizeof(T) == 8;
    FNI(vec) u = (e + e) / (FNI(splat)((T)2) + e);
    FNI(vec) s2 = (u * u) * FNI(splat)((T)0.25);
    int top = dbl ? 33 : 15;
    FNI(vec) q = FNI(splat)((T)(1.0 / top));
    for (int d = top - 2; d >= 1; d -= 2) q = FNI(vfma)(q, s2, FNI(splat)((T)(1.0 / d)));
    return u * q;
}

/* For m elements of logits z and targets t: term = max(z,0) - z t + log1p(e^-|z|), the
 * element's loss, and sig = sigmoid(z) from the same exponential. */
ISA_TARGET static void FNI(bce_terms)(T *restrict term, T *restrict sig, const T *restrict z,
                                      const T *restrict t, int64_t m)
{
    const FNI(vec) zero = FNI(splat)((T)0), one = FNI(splat)((T)1);
    for (int64_t i = 0; i < m; i += NV) {
        FNI(vec) zv, tv;
        T zb[NV], tb[NV];
        int64_t lanes = NC_MIN(NV, m - i);
        if (lanes == NV) {
            zv = LD(z + i);
            tv = LD(t + i);
        } else {
            /* the tail in a full vector: the same operations, only `lanes` kept */
            for (int64_t q = 0; q < NV; q++) {
                zb[q] = q < lanes ? z[i + q] : (T)0;
                tb[q] = q < lanes ? t[i + q] : (T)0;
            }
            zv = LD(zb);
            tv = LD(tb);
        }
        typedef __typeof__(zv < zv) ivec;
        FNI(vec) az = (FNI(vec))((ivec)zv & ~(ivec)FNI(splat)((T)-0.0)); /* |z| */
        FNI(vec) e = FNI(exp_nonpos)(-az);
        FNI(vec) pos = (FNI(vec))((zv > zero) & (ivec)zv); /* z > 0 ? z : 0 */
        FNI(vec) tr = (pos - zv * tv) + FNI(log1p_unit)(e);
        FNI(vec) d = one + e;
        ivec nonneg = zv >= zero;
        FNI(vec) sg = (FNI(vec))((nonneg & (ivec)(one / d)) | (~nonneg & (ivec)(e / d)));
        if (lanes == NV) {
            ST(term + i, tr);
            ST(sig + i, sg);
        } else {
            ST(zb, tr);
            ST(tb, sg);
            for (int64_t q = 0; q < lanes; q++) {
                term[i + q] = zb[q];
                sig[i + q] = tb[q];
            }
        }
    }
}
