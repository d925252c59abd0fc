/* Optimizer steps over a flat parameter buffer, for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

/* Elements per parallel block: an update is a few flops per element, so a block must be
 * long for a thread to pay for itself. */
#define OPT_GRAIN 16384
/* Adam's units are shorter: its divisions and square root make an element several times
 * dearer, so a small network's few thousand parameters already pay for a second thread. */
#define ADAM_GRAIN 2048

#define NC_TEMPLATE "optim_impl.h"
#include "instantiate.h"
