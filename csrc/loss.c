/* Losses (value and gradient in one pass) for float and double from one template. */
#include "internal.h"
#include <tgmath.h>

/* The element-wise losses share one row routine keyed by the public enum nc_loss. */
#define LOSS_MSE NC_LOSS_MSE
#define LOSS_MAE NC_LOSS_MAE
#define LOSS_BCE NC_LOSS_BCE

/* Rows per reduction chunk. The bounds follow from (n, k) alone, so the partial sums and
 * the order they are added in are the same at any thread count. A chunk holds whole rows
 * of at least nc_red_chunk_len(n*k) elements; there are never more than NC_RED_CHUNKS. */
static int64_t loss_chunk_rows(int64_t n, int64_t k)
{
    int64_t by_elems = (nc_red_chunk_len(n * k) + k - 1) / k;
    int64_t by_count = (n + NC_RED_CHUNKS - 1) / NC_RED_CHUNKS;
    return NC_MAX(1, NC_MAX(by_elems, by_count));
}

#define NC_TEMPLATE "loss_impl.h"
#include "instantiate.h"
