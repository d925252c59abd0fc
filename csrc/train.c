/* Runs of consecutive training batches in one call: the rows of each batch gathered into
 * buffers, the same step the model layer takes one batch at a time (fused small step or
 * forward, loss and backward; clipping; one optimizer pass), and the epoch's loss and
 * correct-prediction sums, until the batches run out or a time budget passes. The
 * caller returns to Python between runs for callbacks and signals. */
#include "internal.h"
#include <math.h>
#include <string.h>
#include <time.h>

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define NC_TEMPLATE "train_impl.h"
#include "instantiate.h"
