/* The vector helpers of a per-ISA template body, included by isa_instantiate.h before
 * the body: FNI(name) names a function for this element type and ISA, FNI(vec) is a
 * native vector of T (VB bytes, NV lanes), LD and ST move one at any element-aligned
 * address, and vfma and splat are the lane-wise fused multiply-add and broadcast. The
 * portable path's vectors are GCC's generic ones, its multiply-add the scalar fma, so
 * it computes the bits the SIMD paths do. */
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
    for (int q = 0; q < (int)NV; q++) r[q] = NC_FMA_T(a[q], b[q], c[q]);
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
