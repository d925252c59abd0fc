/*
 * neuralcli compute core: the one public header.
 *
 * Size letters used in every shape comment:
 *   N   rows of a batch (samples)
 *   C   input features of a layer
 *   Cd  the dense part of a first layer's inputs (the first Cd rows of its weights)
 *   NC  categorical columns of a first layer's inputs (codes per row)
 *   OC  output features of a layer
 *   K   classes or outputs of a loss
 *   M, Nc, Kc  the GEMM's own sizes: op(A) is (M,Kc), op(B) is (Kc,Nc), C is (M,Nc)
 *   P   length of a flat parameter buffer
 *
 * Everything is row-major. A leading dimension (ld*) is the distance in elements between
 * the starts of two consecutive rows. Kernels take raw pointers, sizes and leading
 * dimensions; they allocate nothing, do no I/O and never touch a Python object. Each
 * kernel exists for float (_f32) and double (_f64).
 *
 * Argument order: outputs, saved caches, inputs, weights, sizes, then scalars and flags.
 *
 * Determinism: for one build and one ISA path, every result is bitwise identical for any
 * thread count. Reductions are split into chunks whose bounds depend on the sizes only.
 */
#ifndef NEURALCLI_H
#define NEURALCLI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- runtime settings */

enum nc_isa { NC_ISA_PORTABLE = 0, NC_ISA_AVX2 = 1, NC_ISA_AVX512 = 2 };

/* The thread count is the core's one process-wide setting (plus the ISA path chosen once
 * at import). n < 1 is taken as 1. */
void nc_set_num_threads(int n);
int nc_get_num_threads(void);
/* Best path this CPU and OS support. */
int nc_detect_isa(void);
/* Select a path; asking for more than the CPU has selects the best it has. Returns the
 * path now in force. */
int nc_set_isa(int isa);
int nc_get_isa(void);

/* The core's thread pool, checked from outside: runs `units` units on at most max_threads
 * threads; unit u adds 1 to hits[u], stores the slot it ran on in slots[u], spins for
 * `spin` iterations and, when nested is set, runs a job of its own from inside the unit.
 * Returns the number of violations seen (a slot used by two threads at once, a slot out
 * of range, a nested job not run exactly once per unit); 0 is a pass. workers, when
 * non-NULL, receives how many pool threads exist afterwards. */
int64_t nc_pool_probe(int64_t *hits, int32_t *slots, int64_t units, int max_threads,
                      int64_t spin, int nested, int *workers);

/* ---------------------------------------------------------------- activations */

enum nc_act {
    NC_ACT_IDENTITY = 0,
    NC_ACT_RELU = 1,
    NC_ACT_LEAKY_RELU = 2, /* param: negative slope */
    NC_ACT_ELU = 3,        /* param: alpha */
    NC_ACT_SIGMOID = 4,
    NC_ACT_TANH = 5,
    NC_ACT_GELU = 6,       /* exact: z * Phi(z), Phi via erf */
    NC_ACT_SOFTMAX = 7,    /* row-wise, max-subtracted */
    NC_ACT_STEP = 8,       /* forward only: 1 if z >= 0 else 0 */
    NC_ACT_SWISH = 9,      /* SiLU: z * sigmoid(z) */
    NC_ACT_COUNT = 10
};

/* 1 when the derivative needs the pre-activation z (gelu, swish); else it is computed
 * from y. */
int nc_act_needs_z(int act);

/* y = act(z).  z is (N,C) with leading dim ldz, y is (N,C) with ldy; y may equal z. */
void nc_act_forward_f32(float *y, const float *z, int64_t n, int64_t c, int64_t ldy,
                        int64_t ldz, int act, float param);
void nc_act_forward_f64(double *y, const double *z, int64_t n, int64_t c, int64_t ldy,
                        int64_t ldz, int act, double param);

/* dz = dy * act'(z), from what forward saved: y always, z when nc_act_needs_z (else z may
 * be NULL). For softmax, dz_i = y_i * (dy_i - sum_j dy_j y_j) per row. All (N,C) with
 * leading dim ld. dz may equal dy. Step has no useful derivative: returns -1, else 0. */
int nc_act_backward_f32(float *dz, const float *dy, const float *y, const float *z,
                        int64_t n, int64_t c, int64_t ld, int act, float param);
int nc_act_backward_f64(double *dz, const double *dy, const double *y, const double *z,
                        int64_t n, int64_t c, int64_t ld, int act, double param);

/* ---------------------------------------------------------------- gemm */

/* A fused write-back applied to each finished tile of C, while it is still in cache:
 *   z = alpha*op(A)*op(B) + beta*C + bias[j];  if (z_out) z_out[i*ldz+j] = z;  C = act(z)
 * Softmax is a row operation and is not allowed here (the dense layer handles it). */
typedef struct {
    const float *bias; /* (Nc,) or NULL */
    float *z_out;      /* (M,Nc) with leading dim ldz, or NULL */
    int64_t ldz;
    int act;           /* enum nc_act, not NC_ACT_SOFTMAX */
    float act_param;
} nc_epilogue_f32;

typedef struct {
    const double *bias;
    double *z_out;
    int64_t ldz;
    int act;
    double act_param;
} nc_epilogue_f64;

/* Bytes of scratch the GEMM needs for these sizes at up to `threads` threads. The
 * workspace must be 64-byte aligned. A call given less scratch than it needs for the
 * current thread count uses fewer threads, or no packing, never more memory. */
size_t nc_gemm_workspace_f32(int64_t m, int64_t n, int64_t k, int threads);
size_t nc_gemm_workspace_f64(int64_t m, int64_t n, int64_t k, int threads);

/* C = alpha * op(A) * op(B) + beta * C, then the optional epilogue.
 *   op(A) is (M,Kc): A is (M,Kc) with lda, or (Kc,M) if trans_a.
 *   op(B) is (Kc,Nc): B is (Kc,Nc) with ldb, or (Nc,Kc) if trans_b.
 *   C is (M,Nc) with ldc.
 * beta == 0 never reads C (NaN in C does not propagate). Any size, including 0. */
void nc_gemm_f32(float *c, const float *a, const float *b, int64_t m, int64_t n, int64_t k,
                 int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,
                 float alpha, float beta, const nc_epilogue_f32 *ep, void *work,
                 size_t work_bytes);
void nc_gemm_f64(double *c, const double *a, const double *b, int64_t m, int64_t n,
                 int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,
                 double alpha, double beta, const nc_epilogue_f64 *ep, void *work,
                 size_t work_bytes);

/* ---------------------------------------------------------------- dense layer */

/* y = act(x*w + b), bias and activation fused into the GEMM write-back.
 *   x is (N,C), w is (C,OC), b is (OC,) or NULL, y is (N,OC), z is (N,OC) or NULL.
 *   z (the pre-activation) is stored when non-NULL; it is required when
 *   nc_act_needs_z(act). All contiguous rows (ld = row length). */
void nc_dense_forward_f32(float *y, float *z, const float *x, const float *w,
                          const float *b, int64_t n, int64_t c, int64_t oc, int act,
                          float act_param, void *work, size_t work_bytes);
void nc_dense_forward_f64(double *y, double *z, const double *x, const double *w,
                          const double *b, int64_t n, int64_t c, int64_t oc, int act,
                          double act_param, void *work, size_t work_bytes);

/* Backward of dense_forward.
 *   dz = dy * act'(.)  (N,OC), written into dz (may equal dy); db (OC,) = column sums of
 *   dz, fused into the same pass; dw (C,OC) = x^T dz; dx (N,C) = dz w^T.
 *   dx, dw or db may be NULL to skip them (dx is NULL for a first layer). */
void nc_dense_backward_f32(float *dx, float *dw, float *db, float *dz, const float *dy,
                           const float *y, const float *z, const float *x, const float *w,
                           int64_t n, int64_t c, int64_t oc, int act, float act_param,
                           void *work, size_t work_bytes);
void nc_dense_backward_f64(double *dx, double *dw, double *db, double *dz, const double *dy,
                           const double *y, const double *z, const double *x,
                           const double *w, int64_t n, int64_t c, int64_t oc, int act,
                           double act_param, void *work, size_t work_bytes);

/* Workspace bytes for a dense layer's forward and backward at up to `threads` threads. */
size_t nc_dense_workspace_f32(int64_t n, int64_t c, int64_t oc, int threads);
size_t nc_dense_workspace_f64(int64_t n, int64_t c, int64_t oc, int threads);

/* ---------------------------------------------------------------- categorical inputs */

/* A categorical column is a one-hot block of a first layer's inputs; instead of its zeros
 * and one, a code names the row of w the one selects: an absolute row of w, or -1 for
 * none. The sums run over rows i in order, then the columns of codes in order: the same
 * bits for any thread count and on every ISA path. */

/* y (N,OC) += sum over c of w[codes[i,c]] (rows with code -1 skipped); w is (C,OC),
 * codes (N,NC) int32 with every code -1 or a row of w. */
void nc_gather_rows_add_f32(float *y, const int32_t *codes, const float *w, int64_t n,
                            int64_t ncat, int64_t oc);
void nc_gather_rows_add_f64(double *y, const int32_t *codes, const double *w, int64_t n,
                            int64_t ncat, int64_t oc);

/* Backward of the gather for rows [r0, r1) of dw (C,OC): dw[r] = sum of dz[i] (N,OC) over
 * every (i, c) with codes[i,c] == r, and 0 for a row no code selects. Every row in
 * [r0, r1) is written; codes outside it (and -1) are skipped; other rows are untouched. */
void nc_scatter_rows_add_f32(float *dw, const float *dz, const int32_t *codes, int64_t n,
                             int64_t ncat, int64_t r0, int64_t r1, int64_t oc);
void nc_scatter_rows_add_f64(double *dw, const double *dz, const int32_t *codes, int64_t n,
                             int64_t ncat, int64_t r0, int64_t r1, int64_t oc);

/* Naive serial loops: the C-level oracle of the pair above. Same contracts. */
void nc_gather_rows_add_ref_f32(float *y, const int32_t *codes, const float *w, int64_t n,
                                int64_t ncat, int64_t oc);
void nc_gather_rows_add_ref_f64(double *y, const int32_t *codes, const double *w, int64_t n,
                                int64_t ncat, int64_t oc);
void nc_scatter_rows_add_ref_f32(float *dw, const float *dz, const int32_t *codes, int64_t n,
                                 int64_t ncat, int64_t r0, int64_t r1, int64_t oc);
void nc_scatter_rows_add_ref_f64(double *dw, const double *dz, const int32_t *codes,
                                 int64_t n, int64_t ncat, int64_t r0, int64_t r1, int64_t oc);

/* The dense layer whose inputs are x (N,Cd) for rows [0,Cd) of w (C,OC) and codes (N,NC)
 * for rows [Cd,C): y = act(x*w[:Cd] + b + sum_c w[codes[:,c]]). codes == NULL or
 * ncat == 0 is exactly nc_dense_forward on x and w[:Cd]. Workspace: nc_dense_workspace
 * with (n, C, oc). */
void nc_dense_codes_forward_f32(float *y, float *z, const float *x, const int32_t *codes,
                                const float *w, const float *b, int64_t n, int64_t cd,
                                int64_t ncat, int64_t oc, int act, float act_param,
                                void *work, size_t work_bytes);
void nc_dense_codes_forward_f64(double *y, double *z, const double *x, const int32_t *codes,
                                const double *w, const double *b, int64_t n, int64_t cd,
                                int64_t ncat, int64_t oc, int act, double act_param,
                                void *work, size_t work_bytes);

/* Backward of dense_codes_forward: dz and db as nc_dense_backward; dw[:Cd] = x^T dz;
 * dw[Cd:C] as nc_scatter_rows_add (every row written); dx (N,Cd) = dz w[:Cd]^T when
 * non-NULL. With Cd == C and no codes it is exactly nc_dense_backward. */
void nc_dense_codes_backward_f32(float *dx, float *dw, float *db, float *dz, const float *dy,
                                 const float *y, const float *z, const float *x,
                                 const int32_t *codes, const float *w, int64_t n, int64_t c,
                                 int64_t cd, int64_t ncat, int64_t oc, int act,
                                 float act_param, void *work, size_t work_bytes);
void nc_dense_codes_backward_f64(double *dx, double *dw, double *db, double *dz,
                                 const double *dy, const double *y, const double *z,
                                 const double *x, const int32_t *codes, const double *w,
                                 int64_t n, int64_t c, int64_t cd, int64_t ncat, int64_t oc,
                                 int act, double act_param, void *work, size_t work_bytes);

/* ---------------------------------------------------------------- losses */

enum nc_loss { NC_LOSS_MSE = 0, NC_LOSS_MAE = 1, NC_LOSS_BCE = 2, NC_LOSS_CE = 3 };

/* Each loss returns its weighted mean value (accumulated in double) and, when the
 * gradient pointer is non-NULL, writes d(loss)/d(input) in the same pass.
 *   pred/logits and target are (N,K), contiguous. sw is per-sample weights (N,) or NULL
 *   (all ones). The mean is  sum_i s_i * l_i / sum_i s_i  where l_i averages the K
 *   outputs of row i (mse, mae, bce), so unweighted calls match PyTorch's 'mean'.
 * Softmax cross-entropy takes labels (N,) in [0,K) and optional class weights cw (K,):
 *   s_i = sw_i * cw[label_i], as in PyTorch's CrossEntropyLoss(weight=cw).
 *   probs (N,K) receives the softmax when non-NULL.
 * A zero total weight gives a loss of 0 and a zero gradient. */
double nc_mse_f32(float *dpred, const float *pred, const float *target, const float *sw,
                  int64_t n, int64_t k);
double nc_mse_f64(double *dpred, const double *pred, const double *target,
                  const double *sw, int64_t n, int64_t k);
/* The subgradient of |d| at d == 0 is taken as 0, as PyTorch does. */
double nc_mae_f32(float *dpred, const float *pred, const float *target, const float *sw,
                  int64_t n, int64_t k);
double nc_mae_f64(double *dpred, const double *pred, const double *target,
                  const double *sw, int64_t n, int64_t k);
/* Binary cross-entropy on logits: max(z,0) - z*t + log1p(exp(-|z|)); stable for any z. */
double nc_bce_logits_f32(float *dlogits, const float *logits, const float *target,
                         const float *sw, int64_t n, int64_t k);
double nc_bce_logits_f64(double *dlogits, const double *logits, const double *target,
                         const double *sw, int64_t n, int64_t k);
double nc_softmax_ce_f32(float *dlogits, float *probs, const float *logits,
                         const int32_t *labels, const float *sw, const float *cw, int64_t n,
                         int64_t k);
double nc_softmax_ce_f64(double *dlogits, double *probs, const double *logits,
                         const int32_t *labels, const double *sw, const double *cw,
                         int64_t n, int64_t k);

/* ---------------------------------------------------------------- optimizers */

/* One pass over a flat parameter buffer p (P,), its gradient g (P,) and the state buffers
 * of the same length. The gradient is first multiplied by grad_scale (global-norm
 * clipping folds in here, at no extra pass). Formulas follow PyTorch's torch.optim:
 *
 * SGD: g += wd*p; v = momentum*v + g; g = nesterov ? g + momentum*v : v; p -= lr*g.
 *      With momentum == 0, v is not touched and may be NULL. */
void nc_sgd_f32(float *p, float *v, const float *g, int64_t n, float lr, float momentum,
                float weight_decay, int nesterov, float grad_scale);
void nc_sgd_f64(double *p, double *v, const double *g, int64_t n, double lr,
                double momentum, double weight_decay, int nesterov, double grad_scale);

/* Adam (decoupled == 0: g += wd*p) and AdamW (decoupled == 1: p *= 1 - lr*wd).
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps),  t = step >= 1. */
void nc_adam_f32(float *p, float *m, float *v, const float *g, int64_t n, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int64_t step,
                 int decoupled, float grad_scale);
void nc_adam_f64(double *p, double *m, double *v, const double *g, int64_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, int64_t step,
                 int decoupled, double grad_scale);

/* RMSprop: g += wd*p; v = alpha*v + (1-alpha)*g^2;
 *   momentum == 0: p -= lr * g / (sqrt(v) + eps)   (buf unused, may be NULL)
 *   else: buf = momentum*buf + g/(sqrt(v)+eps); p -= lr*buf */
void nc_rmsprop_f32(float *p, float *v, float *buf, const float *g, int64_t n, float lr,
                    float alpha, float eps, float weight_decay, float momentum,
                    float grad_scale);
void nc_rmsprop_f64(double *p, double *v, double *buf, const double *g, int64_t n,
                    double lr, double alpha, double eps, double weight_decay,
                    double momentum, double grad_scale);

/* ---------------------------------------------------------------- dropout */

/* Inverted dropout over a flat array of n elements: y = keep_i ? x / (1-p) : 0, where
 * keep_i = u(seed, step, i) >= p and u is a uniform in [0,1) from a counter-based RNG
 * keyed by (seed, step, element index) alone, so the mask never depends on the thread
 * count. mask (n,) receives keep_i when non-NULL. p in [0,1); y may equal x. */
void nc_dropout_forward_f32(float *y, uint8_t *mask, const float *x, int64_t n, float p,
                            uint64_t seed, uint64_t step);
void nc_dropout_forward_f64(double *y, uint8_t *mask, const double *x, int64_t n,
                            double p, uint64_t seed, uint64_t step);
/* dx = keep_i ? dy / (1-p) : 0, the mask regenerated from the same key. dx may equal dy. */
void nc_dropout_backward_f32(float *dx, const float *dy, int64_t n, float p, uint64_t seed,
                             uint64_t step);
void nc_dropout_backward_f64(double *dx, const double *dy, int64_t n, double p,
                             uint64_t seed, uint64_t step);

/* ---------------------------------------------------------------- norms */

/* sum of x_i^2 over (n,), accumulated in double in fixed chunks: the global gradient
 * L2 norm is sqrt of this over the flat gradient buffer. */
double nc_sum_squares_f32(const float *x, int64_t n);
double nc_sum_squares_f64(const double *x, int64_t n);

/* ---------------------------------------------------------------- whole network */

/* A sequential MLP of L dense layers, 1 <= L <= NC_MLP_MAX_LAYERS. Layer l maps sizes[l]
 * inputs to sizes[l+1] outputs with activation acts[l]; dropout[l] in [0,1) drops layer
 * l's output during training (never set it on the last layer). All parameters live in
 * one flat buffer, layer by layer: W_l (sizes[l], sizes[l+1]) row-major, then b_l
 * (sizes[l+1],). Gradients use the same layout. */
#define NC_MLP_MAX_LAYERS 256 /* the kernels keep per-layer tables on the stack */

typedef struct {
    int n_layers;
    const int64_t *sizes;     /* (L+1,) */
    const int *acts;          /* (L,) enum nc_act */
    const double *act_params; /* (L,) */
    const double *dropout;    /* (L,) or NULL */
} nc_mlp;

int64_t nc_mlp_num_params(const nc_mlp *net);

/* Scratch for a batch of n rows at up to `threads` threads: every layer's saved
 * activations, two gradient buffers and the GEMM's packing space. 64-byte aligned. */
size_t nc_mlp_workspace_f32(const nc_mlp *net, int64_t n, int threads);
size_t nc_mlp_workspace_f64(const nc_mlp *net, int64_t n, int threads);

/* out (N, sizes[L]) = net(x, codes). The first layer's inputs are x (N, Cd) for the
 * first Cd rows of W_0 and codes (N, NC) for the rest (see nc_dense_codes_forward);
 * Cd == sizes[0] with codes == NULL is the all-dense network. What backward needs stays
 * in work. train != 0 applies dropout, its masks keyed by (seed + layer, step). */
void nc_mlp_forward_f32(float *out, void *work, const float *x, const int32_t *codes,
                        const float *params, const nc_mlp *net, int64_t n, int64_t cd,
                        int64_t ncat, int train, uint64_t seed, uint64_t step,
                        size_t work_bytes);
void nc_mlp_forward_f64(double *out, void *work, const double *x, const int32_t *codes,
                        const double *params, const nc_mlp *net, int64_t n, int64_t cd,
                        int64_t ncat, int train, uint64_t seed, uint64_t step,
                        size_t work_bytes);

/* Backward of the last training-mode forward with the same work, x, codes, out and key.
 *   dout (N, sizes[L]) is d(loss)/d(out); grads (P,) receives every layer's dW and db
 *   (W_0's rows reached through codes as nc_scatter_rows_add: every one written);
 *   dx (N, Cd) receives d(loss)/d(x) when non-NULL. l2 adds the gradient of
 *   0.5*l2*sum(W^2) to every dW (biases are not penalized). */
void nc_mlp_backward_f32(float *grads, float *dx, void *work, const float *dout,
                         const float *x, const int32_t *codes, const float *out,
                         const float *params, const nc_mlp *net, int64_t n, int64_t cd,
                         int64_t ncat, uint64_t seed, uint64_t step, double l2,
                         size_t work_bytes);
void nc_mlp_backward_f64(double *grads, double *dx, void *work, const double *dout,
                         const double *x, const int32_t *codes, const double *out,
                         const double *params, const nc_mlp *net, int64_t n, int64_t cd,
                         int64_t ncat, uint64_t seed, uint64_t step, double l2,
                         size_t work_bytes);

/* Training diagnostics, summed over an epoch's steps in buffers the caller owns and
 * zeroes at the epoch's start. Every sum is of integers or in a fixed order, so the
 * result is the same for any thread count.
 *   sat (NC_DIAG_PARTS, L): per part and layer, the (row, unit) activations of a sigmoid
 *     or tanh hidden layer within 0.01 of its range's ends (sigmoid < 0.01 or > 0.99,
 *     |tanh| > 0.99);
 *   fired (NC_DIAG_PARTS, units): per part and hidden unit (layer 0's units first),
 *     nonzero once the unit's activation was > 0 on a row, for the relu family (relu,
 *     leaky relu, elu, gelu, swish: activation > 0 exactly when the pre-activation is);
 *   the parts (the fused step's gradient groups; part 0 on the GEMM path) are added, or
 *     OR-ed, by the reader;
 *   grad_sq (L,): over the measured steps, the sum of the squared entries of the
 *     gradient of W_l and b_l as backward returns it (before loss scaling and clipping);
 *   ratio (L,): over the measured steps, the sum of |W_l after - W_l before| / |W_l
 *     before| (Frobenius norms of the weight matrix, biases apart) across the update;
 *   prev (P,): scratch in the model's dtype holding the weights before a measured update.
 * A step is measured when seen % every == 0 (seen: the epoch's steps so far), so that the
 * gradient and update passes cost a fraction of the steps; rows and measured count. */
#define NC_DIAG_PARTS 8
/* What the diagnostics watch in a hidden layer of activation act: nothing, which units
 * fire (the relu family) or how many values saturate (sigmoid, tanh). */
enum nc_diag_family { NC_DIAG_NONE = 0, NC_DIAG_FIRES = 1, NC_DIAG_SATURATES = 2 };
int nc_act_diag_family(int act);
typedef struct {
    int64_t *sat;
    uint8_t *fired;
    double *grad_sq, *ratio;
    void *prev;
    int64_t units, every, seen, measured, rows;
} nc_diag;

/* Add the hidden layers' activations that the last nc_mlp_forward (training mode, n rows)
 * left in work to d's part 0. */
void nc_mlp_diag_acts_f32(nc_diag *d, const void *work, const nc_mlp *net, int64_t n);
void nc_mlp_diag_acts_f64(nc_diag *d, const void *work, const nc_mlp *net, int64_t n);
/* Around one optimizer update of a step of m rows: before it, with the gradient in
 * grads, and after it. A step that the caller abandons (a non-finite loss) calls neither. */
void nc_diag_before_f32(nc_diag *d, const float *params, const float *grads,
                        const nc_mlp *net, int64_t m);
void nc_diag_before_f64(nc_diag *d, const double *params, const double *grads,
                        const nc_mlp *net, int64_t m);
void nc_diag_after_f32(nc_diag *d, const float *params, const nc_mlp *net);
void nc_diag_after_f64(nc_diag *d, const double *params, const nc_mlp *net);

/* The fused training step for small networks: forward, loss and backward per block of
 * rows kept in cache, in one call. Applies when nc_mlp_small_ok (every width <= 512, at
 * most 48 KiB of parameters of elem_bytes each, no dropout). Returns the mean loss
 * exactly as the loss kernel named by `kind` (enum nc_loss) defines it, writes the
 * network's output to out (N,K) and d(loss)/d(params) + l2*W to grads (P,). t (N,K)
 * holds the targets of mse, mae and bce; labels (N,) those of cross-entropy; sw (N,) the
 * sample weights or NULL (a caller with class weights folds them in). Bitwise identical
 * for any thread count (the gradient is summed in a fixed number of groups fixed by N).
 * x, codes, Cd and NC are the first layer's inputs as in nc_mlp_forward. diag, when not
 * NULL, receives the hidden activations' counts (part g: gradient group g). */
int nc_mlp_small_ok(const nc_mlp *net, int elem_bytes);
size_t nc_mlp_small_workspace_f32(const nc_mlp *net, int64_t n, int threads);
size_t nc_mlp_small_workspace_f64(const nc_mlp *net, int64_t n, int threads);
double nc_mlp_step_small_f32(float *grads, float *out, void *work, const float *x,
                             const int32_t *codes, const float *t, const int32_t *labels,
                             const float *sw, const float *params, const nc_mlp *net,
                             int64_t n, int64_t cd, int64_t ncat, int kind, double l2,
                             size_t work_bytes, nc_diag *diag);
double nc_mlp_step_small_f64(double *grads, double *out, void *work, const double *x,
                             const int32_t *codes, const double *t, const int32_t *labels,
                             const double *sw, const double *params, const nc_mlp *net,
                             int64_t n, int64_t cd, int64_t ncat, int kind, double l2,
                             size_t work_bytes, nc_diag *diag);

/* ---------------------------------------------------------------- training runs */

enum nc_optim_kind { NC_OPT_SGD = 0, NC_OPT_ADAM = 1, NC_OPT_RMSPROP = 2 };
enum nc_task { NC_TASK_REGRESSION = 0, NC_TASK_BINARY = 1, NC_TASK_MULTICLASS = 2 };

/* An optimizer as the nc_sgd / nc_adam / nc_rmsprop calls take it, with its state
 * buffers (P,) in the model's dtype (NULL where the kernel takes none) and its step
 * counter t, advanced before every update (Adam's bias correction uses the new t). */
typedef struct {
    int kind;                 /* enum nc_optim_kind */
    double momentum, beta1, beta2, eps, alpha, weight_decay;
    int nesterov, decoupled;  /* decoupled: AdamW */
    void *state0, *state1;    /* SGD: velocity; Adam: m, v; RMSprop: v, momentum buffer */
    int64_t t;
} nc_optim;

/* The rows of a run, in memory. Row r of the data is x[r] (Cd,), codes[r] (NC,),
 * t[r] (K,) (mse, mae, bce) or labels[r] (cross-entropy) and sw[r] (or NULL: all 1).
 * Position i of the order is row perm[i], or row i when perm is NULL; batch b covers
 * positions [first + b*batch_rows, first + (b+1)*batch_rows) clipped to n. K is the
 * network's outputs. */
typedef struct {
    const void *x;
    const int32_t *codes;
    const void *t;
    const int32_t *labels;
    const void *sw;
    const int64_t *perm;
    int64_t n, first, cd, ncat, k;
} nc_rows;

/* Buffers of batch_rows rows for the gathered batch, each as its row array, or NULL
 * where the rows have no such array. Unused when the order has no permutation. */
typedef struct {
    void *x;
    int32_t *codes;
    void *t;
    int32_t *labels;
    void *sw;
} nc_batch_bufs;

/* What a step does: the loss (enum nc_loss), the task (enum nc_task) whose correct
 * predictions are counted, the fused small step (needs nc_mlp_small_ok) or forward, loss
 * and backward, the objective loss_scale * loss + l2/(2m) * |W|^2 on a batch of m rows,
 * global gradient clipping at clip_norm (0: none) and the dropout seed. */
typedef struct {
    int loss, task, fused;
    double loss_scale, l2, clip_norm;
    uint64_t seed;
} nc_train_cfg;

/* A run's position and sums, carried from call to call through an epoch. */
typedef struct {
    int64_t batch;     /* in: the first batch to run; out: the first batch not run */
    uint64_t step;     /* steps taken; a batch's dropout masks are keyed by step + 1 */
    double loss_sum;   /* sum over the batches run of loss * rows, in batch order */
    int64_t correct;   /* correct predictions (classification tasks) */
    double last_loss;  /* the loss of the last batch run */
    int diverged;      /* 1: batch `batch` gave a non-finite loss or gradient norm */
} nc_train_progress;

/* Train on batches prog->batch, ..., b1 - 1 in order, each exactly as one step of the
 * model layer: gather, forward/loss/backward (or the fused small step), the finite-loss
 * check, clipping, one optimizer update at learning rate lr, then the loss and correct
 * sums. Stops early after the batch during which `budget` seconds (monotonic clock; 0:
 * no limit) have passed since the call began, or at the first non-finite loss (nothing
 * updated for that batch). params, grads (P,); out (batch_rows, K); dout the same
 * (GEMM path; NULL for the fused step); work as
 * nc_mlp_workspace (GEMM path) or nc_mlp_small_workspace (fused) for batch_rows rows,
 * work_bytes long. diag, when not NULL, receives each step's diagnostics (nc_diag).
 * Every result is the same for any thread count and budget. */
void nc_train_batches_f32(nc_train_progress *prog, float *params, float *grads, float *out,
                          float *dout, void *work, const nc_batch_bufs *bufs,
                          const nc_rows *rows, const nc_mlp *net, const nc_train_cfg *cfg,
                          nc_optim *opt, int64_t batch_rows, int64_t b1, double lr,
                          double budget, size_t work_bytes, nc_diag *diag);
void nc_train_batches_f64(nc_train_progress *prog, double *params, double *grads,
                          double *out, double *dout, void *work, const nc_batch_bufs *bufs,
                          const nc_rows *rows, const nc_mlp *net, const nc_train_cfg *cfg,
                          nc_optim *opt, int64_t batch_rows, int64_t b1, double lr,
                          double budget, size_t work_bytes, nc_diag *diag);

/* ---------------------------------------------------------------- CSV reading */

/* A CSV parser, one object per read of a file, holding all its state. The caller writes
 * the file's bytes into the parser's own buffer (nc_csv_space) a large block at a time and
 * hands them over with nc_csv_feed; the parser keeps the incomplete last record of a block
 * for the next one, so memory stays at about one block plus the output columns.
 *
 * Syntax (Python's csv module with skipinitialspace and strict off, then str.strip() on
 * every cell): a field starting with '"' (after spaces) is quoted and may hold the
 * delimiter, "" for a quote and line ends; text after its closing quote is appended;
 * a quote elsewhere is literal. Records end at LF or CRLF (a lone CR is an ordinary byte,
 * stripped as whitespace at a cell's ends). Blank records and records of only empty cells
 * are skipped. Each block's records are parsed in parallel chunks and merged in order, so
 * every result is identical for any thread count and block size.
 *
 * Cells: empty or equal to a missing marker -> missing. Number columns take what
 * Python's float() takes (ASCII only, no underscores), correctly rounded, or the column's
 * number format (decimal mark, thousands grouping, currency, percent). Date columns take
 * ISO 8601 dates and date-times, stored as days since 1970-01-01 UTC. Text columns are
 * dictionary-encoded: int32 codes in order of first appearance, -1 where missing. */
typedef struct nc_csv nc_csv;

enum nc_csv_kind { NC_CSV_NUMBER = 0, NC_CSV_TEXT = 1, NC_CSV_DATE = 2 };

enum nc_csv_status {
    NC_CSV_OK = 0,
    NC_CSV_NOMEM = 1,
    NC_CSV_RAGGED = 2,   /* a non-blank record with another field count */
    NC_CSV_UNCLOSED = 3, /* a quoted field still open at the end of the data */
    NC_CSV_BADUTF8 = 4   /* bytes that are not UTF-8 */
};

/* What stopped a read: the line of the record (or of the bad byte), and for a ragged
 * record its field count, whether a cell spans lines and whether its last cell is empty. */
typedef struct {
    int status;
    int64_t line;
    int byte;
    int64_t fields;
    int multiline;
    int last_empty;
} nc_csv_error;

/* A column's counts. present: non-missing cells; bad: cells that do not parse (number
 * and date columns); nonfinite: nan, inf and overflowing numbers; numbers: cells of a
 * text column that are numbers. *_row: the 0-based data row of the first such cell, -1
 * if none, with its text (UTF-8, not terminated) in *_text / *_len. integral: every
 * present finite value is whole and below 2**53; has_time: a date carried a time. */
typedef struct {
    int64_t present, bad, nonfinite, numbers;
    int64_t bad_row, nonfinite_row, text_row;
    const char *bad_text, *nonfinite_text, *text_text;
    size_t bad_len, nonfinite_len, text_len;
    int integral, has_time;
} nc_csv_stats;

/* A parser for records of ncols fields, kinds[j] an enum nc_csv_kind. delimiter is one
 * ASCII byte other than '"', CR and LF; the first skip_records non-blank records are
 * skipped (a header); threads >= 1. NULL when out of memory. */
nc_csv *nc_csv_new(int64_t ncols, const int *kinds, char delimiter, int64_t skip_records,
                   int threads);
void nc_csv_free(nc_csv *p);
/* Column j's number format: decimal mark, thousands separator and currency symbol as
 * UTF-8 strings (NULL: none), percent: a trailing '%' is allowed. Returns -1 for a mark
 * of 8 bytes or more (a currency of 16 or more). */
int nc_csv_set_format(nc_csv *p, int64_t col, const char *decimal, const char *thousands,
                      const char *currency, int percent);
/* A cell equal to s (len bytes, after stripping) is missing. 0, or -1 out of memory. */
int nc_csv_add_na(nc_csv *p, const char *s, size_t len);

/* Where the next bytes of the file go: at least a block's worth (fewer only while the
 * carried record is short), *avail bytes. NULL when out of memory. */
uint8_t *nc_csv_space(nc_csv *p, size_t block, size_t *avail);
/* The file's size in bytes, when known before reading: the columns are then sized once
 * for the whole file (estimated from the first block) instead of growing. Optional. */
void nc_csv_expect(nc_csv *p, size_t bytes);
/* Parse the complete records after n more bytes were written at nc_csv_space; eof != 0
 * when the file has ended. Returns an enum nc_csv_status; after an error the parser only
 * reports it (nc_csv_last_error). */
int nc_csv_feed(nc_csv *p, size_t n, int eof);
const nc_csv_error *nc_csv_last_error(const nc_csv *p);

/* Results, after the last feed. Rows read so far and column j's counts. */
int64_t nc_csv_rows(const nc_csv *p);
void nc_csv_column_stats(const nc_csv *p, int64_t col, nc_csv_stats *st);

enum nc_csv_output { NC_CSV_VALUES = 0, NC_CSV_MISSING = 1, NC_CSV_CODES = 2,
                     NC_CSV_LINES = 3 };
/* Hand one output buffer of nc_csv_rows() elements to the caller, who frees it with
 * nc_csv_release: values (double, NaN where missing or bad) and missing (uint8 0/1) of a
 * number or date column, codes (int32) of a text column, lines (int64, col ignored: the
 * 1-based line where each row starts). NULL when the column has no such output (or it
 * was taken), there are no rows, or memory ran out. */
void *nc_csv_take(nc_csv *p, int64_t col, int what);
/* Free a buffer from nc_csv_take, bytes its size (rows times the element size). */
void nc_csv_release(void *buf, size_t bytes);
/* Start the next chunk of rows: output buffers not taken are freed and rows restart at
 * 0, while the dictionaries, the counts and the first bad cells go on (their rows count
 * from the start of the file). For reading a file in pieces. */
void nc_csv_flush(nc_csv *p);
/* The distinct strings of text column j, in code order. */
int64_t nc_csv_categories(const nc_csv *p, int64_t col);
const char *nc_csv_category(const nc_csv *p, int64_t col, int64_t code, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
