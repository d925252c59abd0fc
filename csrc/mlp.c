/* A whole MLP, forward and backward, over the dense-layer kernels: one call per pass so a
 * training step costs a few calls from Python whatever the depth. */
#include "internal.h"

#define NC_CAT_(a, b) a##_##b
#define NC_CAT(a, b) NC_CAT_(a, b)

int64_t nc_mlp_num_params(const nc_mlp *net)
{
    int64_t total = 0;
    for (int l = 0; l < net->n_layers; l++)
        total += net->sizes[l] * net->sizes[l + 1] + net->sizes[l + 1];
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

#define T float
#define SFX f32
#include "mlp_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "mlp_impl.h"
#undef T
#undef SFX
