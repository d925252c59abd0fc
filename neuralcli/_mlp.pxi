# Shim for the whole-network kernels (included by _kernels.pyx).
import numpy as np

MAX_LAYERS = 256
LOSS_CODES = {"mse": NC_LOSS_MSE, "mae": NC_LOSS_MAE, "bce": NC_LOSS_BCE,
              "cross_entropy": NC_LOSS_CE}


cdef class Net:
    """Owns the C description of an MLP: sizes, activations and dropout rates. Forward and
    backward check shapes once, then run the whole network in C without the GIL."""
    cdef nc_mlp net
    cdef object _sizes, _acts, _params, _dropout
    cdef readonly int64_t n_params, n_in, n_out

    def __init__(self, sizes, acts, act_params, dropout):
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        L = sizes.shape[0] - 1
        if L < 1 or L > MAX_LAYERS:
            raise ValueError(f"a network has 1 to {MAX_LAYERS} layers, got {L}")
        if (sizes < 1).any():
            raise ValueError(f"every layer needs at least one unit, got sizes {sizes.tolist()}")
        acts = np.ascontiguousarray(acts, dtype=np.intc)
        act_params = np.ascontiguousarray(act_params, dtype=np.float64)
        dropout = np.ascontiguousarray(dropout, dtype=np.float64)
        if acts.shape[0] != L or act_params.shape[0] != L or dropout.shape[0] != L:
            raise ValueError("one activation, parameter and dropout rate per layer")
        for code in acts:
            _check_act(code)
            if code == NC_ACT_STEP:
                raise ValueError("step has no derivative; it cannot be trained")
        if ((dropout < 0) | (dropout >= 1)).any():
            raise ValueError("dropout rates lie in [0, 1)")
        if dropout[L - 1] != 0:
            raise ValueError("the output layer takes no dropout")
        self._sizes, self._acts, self._params, self._dropout = sizes, acts, act_params, dropout
        cdef int64_t[::1] sv = sizes
        cdef int[::1] av = acts
        cdef double[::1] pv = act_params
        cdef double[::1] dv = dropout
        self.net.n_layers = L
        self.net.sizes = &sv[0]
        self.net.acts = &av[0]
        self.net.act_params = &pv[0]
        self.net.dropout = &dv[0]
        self.n_params = nc_mlp_num_params(&self.net)
        self.n_in = sizes[0]
        self.n_out = sizes[L]

    def workspace(self, int64_t n, int threads, bint double):
        if double:
            return nc_mlp_workspace_f64(&self.net, n, threads)
        return nc_mlp_workspace_f32(&self.net, n, threads)

    def forward(self, floating[:, ::1] out, uint8_t[::1] work, const floating[:, ::1] x,
                const floating[::1] params, bint train, uint64_t seed, uint64_t step):
        cdef int64_t n = x.shape[0]
        _mat(x, n, self.n_in, "x", True)
        _mat(out, n, self.n_out, "out", True)
        if params.shape[0] != self.n_params:
            raise ValueError(f"params has {params.shape[0]} values, the network {self.n_params}")
        cdef size_t need = self.workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        if n == 0:
            return
        with nogil:
            if floating is float:
                nc_mlp_forward_f32(&out[0, 0], &work[0], &x[0, 0], &params[0], &self.net, n,
                                   train, seed, step, work.shape[0])
            else:
                nc_mlp_forward_f64(&out[0, 0], &work[0], &x[0, 0], &params[0], &self.net, n,
                                   train, seed, step, work.shape[0])

    def backward(self, floating[::1] grads, floating[:, ::1] dx, uint8_t[::1] work,
                 const floating[:, ::1] dout, const floating[:, ::1] x,
                 const floating[:, ::1] out, const floating[::1] params, uint64_t seed,
                 uint64_t step, double l2=0.0):
        cdef int64_t n = x.shape[0]
        _mat(x, n, self.n_in, "x", True)
        _mat(out, n, self.n_out, "out", True)
        _mat(dout, n, self.n_out, "dout", True)
        _mat(dx, n, self.n_in, "dx", True)
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        cdef size_t need = self.workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        with nogil:
            if floating is float:
                nc_mlp_backward_f32(&grads[0], &dx[0, 0] if dx is not None else NULL,
                                    &work[0], &dout[0, 0] if n else NULL,
                                    &x[0, 0] if n else NULL, &out[0, 0] if n else NULL,
                                    &params[0], &self.net, n, seed, step, l2, work.shape[0])
            else:
                nc_mlp_backward_f64(&grads[0], &dx[0, 0] if dx is not None else NULL,
                                    &work[0], &dout[0, 0] if n else NULL,
                                    &x[0, 0] if n else NULL, &out[0, 0] if n else NULL,
                                    &params[0], &self.net, n, seed, step, l2, work.shape[0])

    def small(self, bint double):
        """True when the fused small-network step applies to this network and dtype."""
        return bool(nc_mlp_small_ok(&self.net, 8 if double else 4))

    def small_workspace(self, int64_t n, int threads, bint double):
        if double:
            return nc_mlp_small_workspace_f64(&self.net, n, threads)
        return nc_mlp_small_workspace_f32(&self.net, n, threads)

    def step_small(self, floating[::1] grads, floating[:, ::1] out, uint8_t[::1] work,
                   const floating[:, ::1] x, const floating[:, ::1] t,
                   const int32_t[::1] labels, const floating[::1] sw,
                   const floating[::1] cw, const floating[::1] params, int kind,
                   double l2=0.0):
        """Fused forward, loss and backward of a small network over the batch x; returns
        the mean loss. t holds mse/mae/bce targets (N,K), labels cross-entropy's."""
        cdef int64_t n = x.shape[0], k = self.n_out
        if not nc_mlp_small_ok(&self.net, sizeof(floating)):
            raise ValueError("this network is not small enough for the fused step")
        _mat(x, n, self.n_in, "x", True)
        _mat(out, n, k, "out", True)
        if kind == NC_LOSS_CE:
            if labels is None or labels.shape[0] != n:
                raise ValueError("cross-entropy needs one label per row")
        elif kind in (NC_LOSS_MSE, NC_LOSS_MAE, NC_LOSS_BCE):
            if t is None:
                raise ValueError("this loss needs targets of shape (n, outputs)")
            _mat(t, n, k, "targets", True)
        else:
            raise ValueError(f"unknown loss code {kind}")
        if sw is not None and sw.shape[0] != n:
            raise ValueError(f"sample weights have {sw.shape[0]} values for {n} rows")
        if cw is not None and cw.shape[0] != k:
            raise ValueError(f"class weights have {cw.shape[0]} values for {k} classes")
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        cdef size_t need = self.small_workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        if n == 0:
            raise ValueError("an empty batch has no loss")
        cdef double loss
        with nogil:
            if floating is float:
                loss = nc_mlp_step_small_f32(
                    &grads[0], &out[0, 0], &work[0], &x[0, 0],
                    &t[0, 0] if t is not None else NULL,
                    &labels[0] if labels is not None else NULL,
                    &sw[0] if sw is not None else NULL, &cw[0] if cw is not None else NULL,
                    &params[0], &self.net, n, kind, l2, work.shape[0])
            else:
                loss = nc_mlp_step_small_f64(
                    &grads[0], &out[0, 0], &work[0], &x[0, 0],
                    &t[0, 0] if t is not None else NULL,
                    &labels[0] if labels is not None else NULL,
                    &sw[0] if sw is not None else NULL, &cw[0] if cw is not None else NULL,
                    &params[0], &self.net, n, kind, l2, work.shape[0])
        return loss
