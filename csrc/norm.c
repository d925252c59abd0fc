/* Norms over flat buffers, for float and double from one template. */
#include "internal.h"

#define NC_TEMPLATE "norm_impl.h"
#include "instantiate.h"
