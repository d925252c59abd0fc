/* Optimizer steps over a flat parameter buffer, for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

#define NC_CAT_(a, b) a##_##b
#define NC_CAT(a, b) NC_CAT_(a, b)

/* Elements per parallel block: an update is a few flops per element, so a block must be
 * long for a thread to pay for itself. */
#define OPT_GRAIN 16384

#define T float
#define SFX f32
#include "optim_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "optim_impl.h"
#undef T
#undef SFX
