/* Inverted dropout with a counter-based RNG, for float and double from one template.
 *
 * The random bits for element i are a pure function of (seed, step, i): Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) with key =
 * seed and counter = (i / 4, step); lane i % 4 of the four outputs belongs to element i.
 * No state is carried between calls, so the mask is the same for any thread count or
 * chunking, and backward regenerates it instead of storing it. */
#include "internal.h"
#include <math.h>

/* Round multipliers and key schedule (Weyl sequence) constants from the paper. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Elements per parallel block; a multiple of 4 so no Philox block straddles two. */
#define DROPOUT_GRAIN 16384

static inline void philox4x32_10(uint32_t out[4], uint64_t ctr_lo, uint64_t ctr_hi,
                                 uint64_t key)
{
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
    uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Element i is kept when its 32 random bits u satisfy u / 2^32 >= p, i.e. u >= ceil(p 2^32).
 * The comparison is done on integers so the mask does not depend on the element type's
 * rounding; p * 2^32 is exact in double. The result is at most 2^32 (keep none). */
static uint64_t dropout_threshold(double p)
{
    if (!(p > 0.0)) return 0;
    return (uint64_t)ceil(p * 4294967296.0);
}

#define NC_TEMPLATE "dropout_impl.h"
#include "instantiate.h"
