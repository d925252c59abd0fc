/* Optimizer steps over a flat parameter buffer, for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

/* Elements per parallel block: an update is a few flops per element, so a block must be
 * long for a thread to pay for itself. */
#define OPT_GRAIN 16384

#define NC_TEMPLATE "optim_impl.h"
#include "instantiate.h"
