/* The dense layer, forward and backward, for float and double from one template. */
#include "internal.h"

#define NC_TEMPLATE "dense_impl.h"
#include "instantiate.h"
