/* Categorical inputs of a first layer: the forward gather of weight rows and its backward
 * scatter, for float and double from one template. */
#include "internal.h"

#define NC_TEMPLATE "gather_impl.h"
#include "instantiate.h"
