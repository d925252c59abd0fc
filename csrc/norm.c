/* Norms over flat buffers, for float and double from one template. */
#include "internal.h"

#define NC_CAT_(a, b) a##_##b
#define NC_CAT(a, b) NC_CAT_(a, b)

#define T float
#define SFX f32
#include "norm_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "norm_impl.h"
#undef T
#undef SFX
