/* Activations, forward and backward, for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

#define NC_CAT_(a, b) a##_##b
#define NC_CAT(a, b) NC_CAT_(a, b)

int nc_act_needs_z(int act)
{
    return act == NC_ACT_GELU;
}

#define T float
#define SFX f32
#include "activations_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "activations_impl.h"
#undef T
#undef SFX
