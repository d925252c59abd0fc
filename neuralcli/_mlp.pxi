# Shim for the whole-network kernels (included by _kernels.pyx).
import numpy as np

MAX_LAYERS = 256


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
