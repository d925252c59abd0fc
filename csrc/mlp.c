/* A whole MLP, forward and backward, over the dense-layer kernels: one call per pass so a
 * training step costs a few calls from Python whatever the depth. */
#include "internal.h"
#include <math.h>
#include <string.h>

int64_t nc_mlp_num_params(const nc_mlp *net)
{
    int64_t total = 0;
    for (int l = 0; l < net->n_layers; l++)
        total += nc_layer_params(net->sizes[l], net->sizes[l + 1]);
    return total;
}

/* The dropout stream of layer l: the seed moved by a large odd constant per layer. */
static inline uint64_t layer_seed(uint64_t seed, int l)
{
    return seed + (uint64_t)(l + 1) * 0x9E3779B97F4A7C15ull;
}

static inline double layer_dropout(const nc_mlp *net, int l)
{
    return net->dropout ? net->dropout[l] : 0.0;
}

/* The fused small-network step: rows per block, gradient groups, and the limits within
 * which a network counts as small. The fused kernels stream every weight once per row,
 * which pays while the weights stay in L1; measured on Zen 4, a 5-64-64-1 network (18 KB
 * of float weights) trains 1.3-1.6x faster fused, a 5-128-128-1 one (68 KB) 1.2x slower,
 * where the GEMM path's register blocking wins. */
#define SMALL_ROWS 32
#define SMALL_GROUPS 8
_Static_assert(SMALL_GROUPS <= NC_DIAG_PARTS, "a gradient group is a diagnostics part");
#define SMALL_MAX_WIDTH 512
#define SMALL_MAX_WEIGHT_BYTES (48 * 1024)

int nc_mlp_small_ok(const nc_mlp *net, int elem_bytes)
{
    if (net->n_layers < 1 || net->n_layers > NC_MLP_MAX_LAYERS) return 0;
    if (nc_mlp_num_params(net) * (int64_t)elem_bytes > SMALL_MAX_WEIGHT_BYTES) return 0;
    for (int l = 0; l < net->n_layers; l++) {
        if (net->sizes[l + 1] > SMALL_MAX_WIDTH || net->sizes[l] > SMALL_MAX_WIDTH) return 0;
        if (layer_dropout(net, l) > 0 || net->acts[l] == NC_ACT_STEP) return 0;
    }
    return 1;
}

/* Gradient groups for a batch of n rows: a function of n alone. A group holds a block of
 * SMALL_ROWS rows or more, except that a batch of 32 to 63 rows splits in two halves so
 * that a second thread has work. */
static int64_t small_groups(int64_t n)
{
    int64_t g = n / SMALL_ROWS;
    if (g < 2 && n >= SMALL_ROWS) g = 2;
    return NC_MAX(1, NC_MIN(SMALL_GROUPS, g));
}

int nc_act_diag_family(int act)
{
    if (act == NC_ACT_RELU || act == NC_ACT_LEAKY_RELU || act == NC_ACT_ELU ||
        act == NC_ACT_GELU || act == NC_ACT_SWISH)
        return NC_DIAG_FIRES;
    if (act == NC_ACT_SIGMOID || act == NC_ACT_TANH) return NC_DIAG_SATURATES;
    return NC_DIAG_NONE;
}

/* Weights per block of the backward's L2 term, a unit of the pool. */
#define L2_BLOCK 16384

#define NC_TEMPLATE "mlp_impl.h"
#include "instantiate.h"
