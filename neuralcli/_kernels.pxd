# Declarations of the C core (csrc/neuralcli.h); nothing else belongs here.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t


cdef extern from "neuralcli.h" nogil:
    enum:
        NC_ISA_PORTABLE
        NC_ISA_AVX2
        NC_ISA_AVX512

    # The C core's codes that the model layer's tables name (activations.ACTIVATIONS,
    # losses.LOSSES, optim.OPTIMIZERS, training.TASK_CODES): cpdef makes each enum a
    # Python IntEnum of the module, so those tables take the values from here.
    cpdef enum nc_act:
        NC_ACT_IDENTITY
        NC_ACT_RELU
        NC_ACT_LEAKY_RELU
        NC_ACT_ELU
        NC_ACT_SIGMOID
        NC_ACT_TANH
        NC_ACT_GELU
        NC_ACT_SOFTMAX
        NC_ACT_STEP
        NC_ACT_SWISH
        NC_ACT_COUNT

    void nc_set_num_threads(int n)
    int nc_get_num_threads()
    int nc_detect_isa()
    int nc_set_isa(int isa)
    int nc_get_isa()
    int64_t nc_pool_probe(int64_t *hits, int32_t *slots, int64_t units, int max_threads,
                          int64_t spin, int nested, int *workers)

    int nc_act_needs_z(int act)
    void nc_act_forward_f32(float *y, const float *z, int64_t n, int64_t c, int64_t ldy,
                            int64_t ldz, int act, float param)
    void nc_act_forward_f64(double *y, const double *z, int64_t n, int64_t c, int64_t ldy,
                            int64_t ldz, int act, double param)
    int nc_act_backward_f32(float *dz, const float *dy, const float *y, const float *z,
                            int64_t n, int64_t c, int64_t ld, int act, float param)
    int nc_act_backward_f64(double *dz, const double *dy, const double *y, const double *z,
                            int64_t n, int64_t c, int64_t ld, int act, double param)

    ctypedef struct nc_epilogue_f32:
        const float *bias
        float *z_out
        int64_t ldz
        int act
        float act_param

    ctypedef struct nc_epilogue_f64:
        const double *bias
        double *z_out
        int64_t ldz
        int act
        double act_param

    size_t nc_gemm_workspace_f32(int64_t m, int64_t n, int64_t k, int threads)
    size_t nc_gemm_workspace_f64(int64_t m, int64_t n, int64_t k, int threads)
    void nc_gemm_f32(float *c, const float *a, const float *b, int64_t m, int64_t n,
                     int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                     int trans_b, float alpha, float beta, const nc_epilogue_f32 *ep,
                     void *work, size_t work_bytes)
    void nc_gemm_f64(double *c, const double *a, const double *b, int64_t m, int64_t n,
                     int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                     int trans_b, double alpha, double beta, const nc_epilogue_f64 *ep,
                     void *work, size_t work_bytes)

    size_t nc_dense_workspace_f32(int64_t n, int64_t c, int64_t oc, int threads)
    size_t nc_dense_workspace_f64(int64_t n, int64_t c, int64_t oc, int threads)
    void nc_dense_forward_f32(float *y, float *z, const float *x, const float *w,
                              const float *b, int64_t n, int64_t c, int64_t oc, int act,
                              float act_param, void *work, size_t work_bytes)
    void nc_dense_forward_f64(double *y, double *z, const double *x, const double *w,
                              const double *b, int64_t n, int64_t c, int64_t oc, int act,
                              double act_param, void *work, size_t work_bytes)
    void nc_dense_backward_f32(float *dx, float *dw, float *db, float *dz, const float *dy,
                               const float *y, const float *z, const float *x,
                               const float *w, int64_t n, int64_t c, int64_t oc, int act,
                               float act_param, void *work, size_t work_bytes)
    void nc_dense_backward_f64(double *dx, double *dw, double *db, double *dz,
                               const double *dy, const double *y, const double *z,
                               const double *x, const double *w, int64_t n, int64_t c,
                               int64_t oc, int act, double act_param, void *work,
                               size_t work_bytes)

    void nc_gather_rows_add_f32(float *y, const int32_t *codes, const float *w, int64_t n,
                                int64_t ncat, int64_t oc)
    void nc_gather_rows_add_f64(double *y, const int32_t *codes, const double *w, int64_t n,
                                int64_t ncat, int64_t oc)
    void nc_scatter_rows_add_f32(float *dw, const float *dz, const int32_t *codes, int64_t n,
                                 int64_t ncat, int64_t r0, int64_t r1, int64_t oc)
    void nc_scatter_rows_add_f64(double *dw, const double *dz, const int32_t *codes,
                                 int64_t n, int64_t ncat, int64_t r0, int64_t r1, int64_t oc)
    void nc_gather_rows_add_ref_f32(float *y, const int32_t *codes, const float *w,
                                    int64_t n, int64_t ncat, int64_t oc)
    void nc_gather_rows_add_ref_f64(double *y, const int32_t *codes, const double *w,
                                    int64_t n, int64_t ncat, int64_t oc)
    void nc_scatter_rows_add_ref_f32(float *dw, const float *dz, const int32_t *codes,
                                     int64_t n, int64_t ncat, int64_t r0, int64_t r1,
                                     int64_t oc)
    void nc_scatter_rows_add_ref_f64(double *dw, const double *dz, const int32_t *codes,
                                     int64_t n, int64_t ncat, int64_t r0, int64_t r1,
                                     int64_t oc)

    double nc_mse_f32(float *dpred, const float *pred, const float *target, const float *sw,
                      int64_t n, int64_t k)
    double nc_mse_f64(double *dpred, const double *pred, const double *target,
                      const double *sw, int64_t n, int64_t k)
    double nc_mae_f32(float *dpred, const float *pred, const float *target, const float *sw,
                      int64_t n, int64_t k)
    double nc_mae_f64(double *dpred, const double *pred, const double *target,
                      const double *sw, int64_t n, int64_t k)
    double nc_bce_logits_f32(float *dlogits, const float *logits, const float *target,
                             const float *sw, int64_t n, int64_t k)
    double nc_bce_logits_f64(double *dlogits, const double *logits, const double *target,
                             const double *sw, int64_t n, int64_t k)
    double nc_softmax_ce_f32(float *dlogits, float *probs, const float *logits,
                             const int32_t *labels, const float *sw, const float *cw,
                             int64_t n, int64_t k)
    double nc_softmax_ce_f64(double *dlogits, double *probs, const double *logits,
                             const int32_t *labels, const double *sw, const double *cw,
                             int64_t n, int64_t k)

    void nc_sgd_f32(float *p, float *v, const float *g, int64_t n, float lr, float momentum,
                    float weight_decay, int nesterov, float grad_scale)
    void nc_sgd_f64(double *p, double *v, const double *g, int64_t n, double lr,
                    double momentum, double weight_decay, int nesterov, double grad_scale)
    void nc_adam_f32(float *p, float *m, float *v, const float *g, int64_t n, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int64_t step,
                     int decoupled, float grad_scale)
    void nc_adam_f64(double *p, double *m, double *v, const double *g, int64_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay,
                     int64_t step, int decoupled, double grad_scale)
    void nc_rmsprop_f32(float *p, float *v, float *buf, const float *g, int64_t n, float lr,
                        float alpha, float eps, float weight_decay, float momentum,
                        float grad_scale)
    void nc_rmsprop_f64(double *p, double *v, double *buf, const double *g, int64_t n,
                        double lr, double alpha, double eps, double weight_decay,
                        double momentum, double grad_scale)

    void nc_dropout_forward_f32(float *y, uint8_t *mask, const float *x, int64_t n, float p,
                                uint64_t seed, uint64_t step)
    void nc_dropout_forward_f64(double *y, uint8_t *mask, const double *x, int64_t n,
                                double p, uint64_t seed, uint64_t step)
    void nc_dropout_backward_f32(float *dx, const float *dy, int64_t n, float p,
                                 uint64_t seed, uint64_t step)
    void nc_dropout_backward_f64(double *dx, const double *dy, int64_t n, double p,
                                 uint64_t seed, uint64_t step)

    double nc_sum_squares_f32(const float *x, int64_t n)
    double nc_sum_squares_f64(const double *x, int64_t n)

    enum:
        NC_MLP_MAX_LAYERS

    ctypedef struct nc_mlp:
        int n_layers
        const int64_t *sizes
        const int *acts
        const double *act_params
        const double *dropout

    int64_t nc_mlp_num_params(const nc_mlp *net)
    size_t nc_mlp_workspace_f32(const nc_mlp *net, int64_t n, int threads)
    size_t nc_mlp_workspace_f64(const nc_mlp *net, int64_t n, int threads)
    void nc_mlp_forward_f32(float *out, void *work, const float *x, const int32_t *codes,
                            const float *params, const nc_mlp *net, int64_t n, int64_t cd,
                            int64_t ncat, int train, uint64_t seed, uint64_t step,
                            size_t work_bytes)
    void nc_mlp_forward_f64(double *out, void *work, const double *x, const int32_t *codes,
                            const double *params, const nc_mlp *net, int64_t n, int64_t cd,
                            int64_t ncat, int train, uint64_t seed, uint64_t step,
                            size_t work_bytes)
    void nc_mlp_backward_f32(float *grads, float *dx, void *work, const float *dout,
                             const float *x, const int32_t *codes, const float *out,
                             const float *params, const nc_mlp *net, int64_t n, int64_t cd,
                             int64_t ncat, uint64_t seed, uint64_t step, double l2,
                             size_t work_bytes)
    void nc_mlp_backward_f64(double *grads, double *dx, void *work, const double *dout,
                             const double *x, const int32_t *codes, const double *out,
                             const double *params, const nc_mlp *net, int64_t n, int64_t cd,
                             int64_t ncat, uint64_t seed, uint64_t step, double l2,
                             size_t work_bytes)

    cpdef enum nc_loss:
        NC_LOSS_MSE
        NC_LOSS_MAE
        NC_LOSS_BCE
        NC_LOSS_CE

    enum: NC_DIAG_PARTS

    cpdef enum nc_diag_family:
        NC_DIAG_NONE
        NC_DIAG_FIRES
        NC_DIAG_SATURATES

    int nc_act_diag_family(int act)

    ctypedef struct nc_diag:
        int64_t *sat
        uint8_t *fired
        double *grad_sq
        double *ratio
        void *prev
        int64_t units, every, seen, measured, rows

    void nc_mlp_diag_acts_f32(nc_diag *d, const void *work, const nc_mlp *net, int64_t n)
    void nc_mlp_diag_acts_f64(nc_diag *d, const void *work, const nc_mlp *net, int64_t n)
    void nc_diag_before_f32(nc_diag *d, const float *params, const float *grads,
                            const nc_mlp *net, int64_t m)
    void nc_diag_before_f64(nc_diag *d, const double *params, const double *grads,
                            const nc_mlp *net, int64_t m)
    void nc_diag_after_f32(nc_diag *d, const float *params, const nc_mlp *net)
    void nc_diag_after_f64(nc_diag *d, const double *params, const nc_mlp *net)

    int nc_mlp_small_ok(const nc_mlp *net, int elem_bytes)
    size_t nc_mlp_small_workspace_f32(const nc_mlp *net, int64_t n, int threads)
    size_t nc_mlp_small_workspace_f64(const nc_mlp *net, int64_t n, int threads)
    double nc_mlp_step_small_f32(float *grads, float *out, void *work, const float *x,
                                 const int32_t *codes, const float *t, const int32_t *labels,
                                 const float *sw, const float *params, const nc_mlp *net,
                                 int64_t n, int64_t cd, int64_t ncat, int kind, double l2,
                                 size_t work_bytes, nc_diag *diag)
    double nc_mlp_step_small_f64(double *grads, double *out, void *work, const double *x,
                                 const int32_t *codes, const double *t,
                                 const int32_t *labels, const double *sw,
                                 const double *params, const nc_mlp *net, int64_t n,
                                 int64_t cd, int64_t ncat, int kind, double l2,
                                 size_t work_bytes, nc_diag *diag)

    cpdef enum nc_optim_kind:
        NC_OPT_SGD
        NC_OPT_ADAM
        NC_OPT_RMSPROP

    cpdef enum nc_task:
        NC_TASK_REGRESSION
        NC_TASK_BINARY
        NC_TASK_MULTICLASS

    ctypedef struct nc_optim:
        int kind
        double momentum, beta1, beta2, eps, alpha, weight_decay
        int nesterov, decoupled
        void *state0
        void *state1
        int64_t t

    ctypedef struct nc_rows:
        const void *x
        const int32_t *codes
        const void *t
        const int32_t *labels
        const void *sw
        const int64_t *perm
        int64_t n, first, cd, ncat, k

    ctypedef struct nc_batch_bufs:
        void *x
        int32_t *codes
        void *t
        int32_t *labels
        void *sw

    ctypedef struct nc_train_cfg:
        int loss, task, fused
        double loss_scale, l2, clip_norm
        uint64_t seed

    ctypedef struct nc_train_progress:
        int64_t batch
        uint64_t step
        double loss_sum
        int64_t correct
        double last_loss
        int diverged

    void nc_train_batches_f32(nc_train_progress *prog, float *params, float *grads,
                              float *out, float *dout, void *work, const nc_batch_bufs *bufs,
                              const nc_rows *rows, const nc_mlp *net,
                              const nc_train_cfg *cfg, nc_optim *opt, int64_t batch_rows,
                              int64_t b1, double lr, double budget, size_t work_bytes,
                              nc_diag *diag)
    void nc_train_batches_f64(nc_train_progress *prog, double *params, double *grads,
                              double *out, double *dout, void *work,
                              const nc_batch_bufs *bufs, const nc_rows *rows,
                              const nc_mlp *net, const nc_train_cfg *cfg, nc_optim *opt,
                              int64_t batch_rows, int64_t b1, double lr, double budget,
                              size_t work_bytes, nc_diag *diag)

    ctypedef struct nc_csv:
        pass

    enum:
        NC_CSV_NUMBER
        NC_CSV_TEXT
        NC_CSV_DATE
        NC_CSV_OK
        NC_CSV_NOMEM
        NC_CSV_RAGGED
        NC_CSV_UNCLOSED
        NC_CSV_BADUTF8
        NC_CSV_VALUES
        NC_CSV_MISSING
        NC_CSV_CODES
        NC_CSV_LINES

    ctypedef struct nc_csv_error:
        int status
        int64_t line
        int byte
        int64_t fields
        int multiline
        int last_empty

    ctypedef struct nc_csv_stats:
        int64_t present, bad, nonfinite, numbers
        int64_t bad_row, nonfinite_row, text_row
        const char *bad_text
        const char *nonfinite_text
        const char *text_text
        size_t bad_len, nonfinite_len, text_len
        int integral, has_time

    nc_csv *nc_csv_new(int64_t ncols, const int *kinds, char delimiter, int64_t skip_records,
                       int threads)
    void nc_csv_free(nc_csv *p)
    int nc_csv_set_format(nc_csv *p, int64_t col, const char *decimal, const char *thousands,
                          const char *currency, int percent)
    int nc_csv_add_na(nc_csv *p, const char *s, size_t len)
    uint8_t *nc_csv_space(nc_csv *p, size_t block, size_t *avail)
    void nc_csv_expect(nc_csv *p, size_t nbytes)
    int nc_csv_feed(nc_csv *p, size_t n, int eof)
    const nc_csv_error *nc_csv_last_error(const nc_csv *p)
    int64_t nc_csv_rows(const nc_csv *p)
    void nc_csv_flush(nc_csv *p)
    void nc_csv_column_stats(const nc_csv *p, int64_t col, nc_csv_stats *st)
    void *nc_csv_take(nc_csv *p, int64_t col, int what)
    void nc_csv_release(void *buf, size_t nbytes)
    int64_t nc_csv_categories(const nc_csv *p, int64_t col)
    const char *nc_csv_category(const nc_csv *p, int64_t col, int64_t code, size_t *len)
