/* Activations, forward and backward, for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

int nc_act_needs_z(int act)
{
    return act == NC_ACT_GELU || act == NC_ACT_SWISH;
}

#define NC_TEMPLATE "activations_impl.h"
#include "instantiate.h"
