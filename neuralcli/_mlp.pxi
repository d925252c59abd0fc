# Shim for the whole-network kernels and the categorical-input gather and scatter
# (included by _kernels.pyx).
import numpy as np

MAX_LAYERS = NC_MLP_MAX_LAYERS


def _codes_array(codes, int64_t n):
    """codes as the kernels take them: C-contiguous int32 (n, n_cat), else a ValueError."""
    arr = np.asarray(codes)
    if arr.dtype != np.int32:
        raise ValueError(f"codes must be int32, got {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"codes has shape {arr.shape}, expected ({n}, n_cat)")
    if not arr.flags.c_contiguous:
        raise ValueError("codes must be C-contiguous")
    return arr

cdef _check_codes(const int32_t[:, ::1] codes, int64_t lo, int64_t hi):
    """Every code -1 or a row in [lo, hi), else a ValueError naming the first bad one."""
    cdef Py_ssize_t i, j, bi = -1, bj = -1
    cdef int32_t v
    with nogil:
        for i in range(codes.shape[0]):
            for j in range(codes.shape[1]):
                v = codes[i, j]
                if v != -1 and (v < lo or v >= hi):
                    bi, bj = i, j
                    break
            if bi >= 0:
                break
    if bi >= 0:
        raise ValueError(f"codes[{bi}, {bj}] = {codes[bi, bj]} is neither -1 nor a "
                         f"categorical row of the first layer's weights in [{lo}, {hi})")


cdef tuple _first_inputs(int64_t n_in, int64_t n_dense, int64_t n, int64_t xcols, codes):
    """(columns of x, checked codes or None) for a batch of n rows. Without codes x holds
    every input (n, n_in); with them, the dense ones (n, n_dense)."""
    if codes is None:
        if xcols != n_in:
            also = f", or ({n}, {n_dense}) with codes" if n_dense < n_in else ""
            raise ValueError(f"x has shape ({n}, {xcols}), expected ({n}, {n_in}){also}")
        return n_in, None
    if xcols != n_dense:
        raise ValueError(f"x has shape ({n}, {xcols}), expected ({n}, {n_dense}): the "
                         f"network's dense inputs, beside codes")
    arr = _codes_array(codes, n)
    _check_codes(arr, n_dense, n_in)
    return n_dense, arr


def gather_rows_add(floating[:, ::1] y, codes, const floating[:, ::1] w, bint ref=False):
    """y += the rows of w that codes select (-1: none), in place."""
    cdef int64_t n = y.shape[0], oc = y.shape[1]
    if w.shape[1] != oc:
        raise ValueError(f"w has {w.shape[1]} columns, y {oc}")
    cdef const int32_t[:, ::1] cv = _codes_array(codes, n)
    _check_codes(cv, 0, w.shape[0])
    cdef int64_t ncat = cv.shape[1]
    if n == 0 or ncat == 0 or oc == 0:
        return
    with nogil:
        if floating is float:
            if ref:
                nc_gather_rows_add_ref_f32(&y[0, 0], &cv[0, 0], &w[0, 0], n, ncat, oc)
            else:
                nc_gather_rows_add_f32(&y[0, 0], &cv[0, 0], &w[0, 0], n, ncat, oc)
        else:
            if ref:
                nc_gather_rows_add_ref_f64(&y[0, 0], &cv[0, 0], &w[0, 0], n, ncat, oc)
            else:
                nc_gather_rows_add_f64(&y[0, 0], &cv[0, 0], &w[0, 0], n, ncat, oc)


def scatter_rows_add(floating[:, ::1] dw, const floating[:, ::1] dz, codes, int64_t r0,
                     int64_t r1, bint ref=False):
    """Rows [r0, r1) of dw = the sums of dz's rows by code (0 where none selects)."""
    cdef int64_t n = dz.shape[0], oc = dz.shape[1]
    if dw.shape[1] != oc:
        raise ValueError(f"dw has {dw.shape[1]} columns, dz {oc}")
    if not 0 <= r0 <= r1 <= dw.shape[0]:
        raise ValueError(f"rows [{r0}, {r1}) are not inside dw's {dw.shape[0]} rows")
    cdef const int32_t[:, ::1] cv = _codes_array(codes, n)
    _check_codes(cv, r0, r1)
    cdef int64_t ncat = cv.shape[1]
    if r1 == r0 or oc == 0:
        return
    cdef const floating *dzp = &dz[0, 0] if n > 0 else NULL
    cdef const int32_t *cp = &cv[0, 0] if n > 0 and ncat > 0 else NULL
    with nogil:
        if floating is float:
            if ref:
                nc_scatter_rows_add_ref_f32(&dw[0, 0], dzp, cp, n, ncat, r0, r1, oc)
            else:
                nc_scatter_rows_add_f32(&dw[0, 0], dzp, cp, n, ncat, r0, r1, oc)
        else:
            if ref:
                nc_scatter_rows_add_ref_f64(&dw[0, 0], dzp, cp, n, ncat, r0, r1, oc)
            else:
                nc_scatter_rows_add_f64(&dw[0, 0], dzp, cp, n, ncat, r0, r1, oc)


def diag_family(int act):
    """What the training diagnostics watch in a hidden layer of this activation code
    (enum nc_diag_family)."""
    _check_act(act)
    return nc_act_diag_family(act)


cdef class Diagnostics:
    """A network's training diagnostics over an epoch (see nc_diag), in buffers owned
    here: the hidden layers' saturated values and fired units per part (sat, fired), the
    measured steps' gradient squares and update ratios (grad_sq, ratio), and the weights
    before a measured update (prev). A step is measured when seen % every == 0. Net's
    steps and a TrainRun made with it add to it; reset() starts an epoch."""
    cdef nc_diag d
    cdef readonly Net net
    cdef readonly object sat, fired, grad_sq, ratio, prev
    cdef readonly bint f64

    def __init__(self, Net net, bint double, int64_t every):
        if every < 1:
            raise ValueError(f"every is {every}; a step in every `every` is measured, so it "
                             f"is at least 1")
        cdef int L = net.net.n_layers
        cdef int64_t units = int(net._sizes[1:L].sum())
        self.net, self.f64 = net, double
        self.sat = np.zeros((NC_DIAG_PARTS, L), np.int64)
        self.fired = np.zeros((NC_DIAG_PARTS, max(units, 1)), np.uint8)
        self.grad_sq = np.zeros(L, np.float64)
        self.ratio = np.zeros(L, np.float64)
        self.prev = np.zeros(net.n_params, np.float64 if double else np.float32)
        cdef int64_t[:, ::1] sv = self.sat
        cdef uint8_t[:, ::1] fv = self.fired
        cdef double[::1] gv = self.grad_sq
        cdef double[::1] rv = self.ratio
        cdef uint8_t[::1] pv = self.prev.view(np.uint8)
        self.d.sat, self.d.fired = &sv[0, 0], &fv[0, 0]
        self.d.grad_sq, self.d.ratio, self.d.prev = &gv[0], &rv[0], &pv[0]
        self.d.units, self.d.every = units, every
        self.reset()

    def reset(self):
        """Zero the sums, for a new epoch."""
        for a in (self.sat, self.fired, self.grad_sq, self.ratio):
            a[...] = 0
        self.d.seen = self.d.measured = self.d.rows = 0

    def measures(self):
        """Whether the next step's gradient and update are measured."""
        return self.d.seen % self.d.every == 0

    def count(self, int64_t m):
        """Count a step of m rows that is not measured: what diag_before and diag_after
        do for it, in one call."""
        if self.d.seen % self.d.every == 0:
            raise ValueError("this step is measured: call diag_before and diag_after")
        self.d.rows += m
        self.d.seen += 1

    @property
    def every(self):
        return self.d.every

    @property
    def seen(self):
        return self.d.seen

    @property
    def measured(self):
        return self.d.measured

    @property
    def rows(self):
        return self.d.rows


cdef nc_diag *_diag_of(Diagnostics diag, Net net, bint double) except? NULL:
    """The C sums of diag (NULL for None), checked to be of this network and dtype."""
    if diag is None:
        return NULL
    if diag.net is not net or diag.f64 != double:
        raise ValueError("the diagnostics were made for another network or dtype")
    return &diag.d


cdef class Net:
    """Owns the C description of an MLP: sizes, activations and dropout rates. Forward and
    backward check shapes once, then run the whole network in C without the GIL."""
    cdef nc_mlp net
    cdef object _sizes, _acts, _params, _dropout
    cdef readonly int64_t n_params, n_in, n_out, n_dense

    def __init__(self, sizes, acts, act_params, dropout, n_dense=None):
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
        self.n_dense = sizes[0] if n_dense is None else n_dense
        if not 0 <= self.n_dense <= self.n_in:
            raise ValueError(f"n_dense is {self.n_dense}; the first layer has {self.n_in} "
                             f"inputs, so it lies in [0, {self.n_in}]")

    def workspace(self, int64_t n, int threads, bint double):
        if double:
            return nc_mlp_workspace_f64(&self.net, n, threads)
        return nc_mlp_workspace_f32(&self.net, n, threads)

    def forward(self, floating[:, ::1] out, uint8_t[::1] work, const floating[:, ::1] x,
                const floating[::1] params, bint train, uint64_t seed, uint64_t step,
                codes=None):
        """out = net(x, codes): codes (n, n_cat) int32 rows of W_0 beside x (n, n_dense),
        or None with x holding every input (n, n_in)."""
        cdef int64_t n = x.shape[0]
        cdef int64_t cd
        cd, carr = _first_inputs(self.n_in, self.n_dense, n, x.shape[1], codes)
        cdef const int32_t[:, ::1] cv = carr
        cdef int64_t ncat = cv.shape[1] if cv is not None else 0
        _mat(x, n, cd, "x", True)
        _mat(out, n, self.n_out, "out", True)
        if params.shape[0] != self.n_params:
            raise ValueError(f"params has {params.shape[0]} values, the network {self.n_params}")
        cdef size_t need = self.workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        if n == 0:
            return
        cdef const floating *xp = &x[0, 0] if cd > 0 else NULL
        cdef const int32_t *cp = &cv[0, 0] if ncat > 0 else NULL
        with nogil:
            if floating is float:
                nc_mlp_forward_f32(&out[0, 0], &work[0], xp, cp, &params[0], &self.net, n,
                                   cd, ncat, train, seed, step, work.shape[0])
            else:
                nc_mlp_forward_f64(&out[0, 0], &work[0], xp, cp, &params[0], &self.net, n,
                                   cd, ncat, train, seed, step, work.shape[0])

    def backward(self, floating[::1] grads, floating[:, ::1] dx, uint8_t[::1] work,
                 const floating[:, ::1] dout, const floating[:, ::1] x,
                 const floating[:, ::1] out, const floating[::1] params, uint64_t seed,
                 uint64_t step, double l2=0.0, codes=None):
        """grads (and dx (n, n_dense) unless None) of the last forward on x and codes."""
        cdef int64_t n = x.shape[0]
        cdef int64_t cd
        cd, carr = _first_inputs(self.n_in, self.n_dense, n, x.shape[1], codes)
        cdef const int32_t[:, ::1] cv = carr
        cdef int64_t ncat = cv.shape[1] if cv is not None else 0
        _mat(x, n, cd, "x", True)
        _mat(out, n, self.n_out, "out", True)
        _mat(dout, n, self.n_out, "dout", True)
        _mat(dx, n, cd, "dx", True)
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        cdef size_t need = self.workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        cdef floating *dxp = &dx[0, 0] if dx is not None and n and cd else NULL
        cdef const floating *xp = &x[0, 0] if n and cd else NULL
        cdef const int32_t *cp = &cv[0, 0] if n and ncat else NULL
        with nogil:
            if floating is float:
                nc_mlp_backward_f32(&grads[0], dxp, &work[0], &dout[0, 0] if n else NULL,
                                    xp, cp, &out[0, 0] if n else NULL, &params[0],
                                    &self.net, n, cd, ncat, seed, step, l2, work.shape[0])
            else:
                nc_mlp_backward_f64(&grads[0], dxp, &work[0], &dout[0, 0] if n else NULL,
                                    xp, cp, &out[0, 0] if n else NULL, &params[0],
                                    &self.net, n, cd, ncat, seed, step, l2, work.shape[0])

    def diag_acts(self, Diagnostics diag, uint8_t[::1] work, int64_t n):
        """Add the hidden activations the last training forward of n rows left in work
        to diag."""
        cdef nc_diag *d = _diag_of(diag, self, diag.f64)
        if work.shape[0] < self.workspace(n, 1, diag.f64):
            raise ValueError(f"a workspace of {work.shape[0]} bytes holds no forward of {n} rows")
        if n == 0:
            return
        with nogil:
            if diag.f64:
                nc_mlp_diag_acts_f64(d, &work[0], &self.net, n)
            else:
                nc_mlp_diag_acts_f32(d, &work[0], &self.net, n)

    def diag_before(self, Diagnostics diag, const floating[::1] params,
                    const floating[::1] grads, int64_t m):
        """diag's measures before the optimizer's update of a step of m rows, with the
        step's gradient in grads."""
        cdef nc_diag *d = _diag_of(diag, self, floating is double)
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        with nogil:
            if floating is float:
                nc_diag_before_f32(d, &params[0], &grads[0], &self.net, m)
            else:
                nc_diag_before_f64(d, &params[0], &grads[0], &self.net, m)

    def diag_after(self, Diagnostics diag, const floating[::1] params):
        """diag's measures after the optimizer's update."""
        cdef nc_diag *d = _diag_of(diag, self, floating is double)
        if params.shape[0] != self.n_params:
            raise ValueError(f"params need {self.n_params} values")
        with nogil:
            if floating is float:
                nc_diag_after_f32(d, &params[0], &self.net)
            else:
                nc_diag_after_f64(d, &params[0], &self.net)

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
                   const floating[::1] params, int kind, double l2=0.0, codes=None,
                   Diagnostics diag=None):
        """Fused forward, loss and backward of a small network over the batch x (and
        codes, as in forward); returns the mean loss. t holds mse/mae/bce targets (N,K),
        labels cross-entropy's; class weights come folded into the row weights sw. diag,
        when given, receives the hidden activations' counts."""
        cdef nc_diag *d = _diag_of(diag, self, floating is double)
        cdef int64_t n = x.shape[0], k = self.n_out
        if not nc_mlp_small_ok(&self.net, sizeof(floating)):
            raise ValueError("this network is not small enough for the fused step")
        cdef int64_t cd
        cd, carr = _first_inputs(self.n_in, self.n_dense, n, x.shape[1], codes)
        cdef const int32_t[:, ::1] cv = carr
        cdef int64_t ncat = cv.shape[1] if cv is not None else 0
        _mat(x, n, cd, "x", True)
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
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        cdef size_t need = self.small_workspace(n, 1, floating is double)
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        if n == 0:
            raise ValueError("an empty batch has no loss")
        cdef double loss
        cdef const floating *xp = &x[0, 0] if cd > 0 else NULL
        cdef const int32_t *cp = &cv[0, 0] if ncat > 0 else NULL
        with nogil:
            if floating is float:
                loss = nc_mlp_step_small_f32(
                    &grads[0], &out[0, 0], &work[0], xp, cp,
                    &t[0, 0] if t is not None else NULL,
                    &labels[0] if labels is not None else NULL,
                    &sw[0] if sw is not None else NULL, &params[0], &self.net, n, cd,
                    ncat, kind, l2, work.shape[0], d)
            else:
                loss = nc_mlp_step_small_f64(
                    &grads[0], &out[0, 0], &work[0], xp, cp,
                    &t[0, 0] if t is not None else NULL,
                    &labels[0] if labels is not None else NULL,
                    &sw[0] if sw is not None else NULL, &params[0], &self.net, n, cd,
                    ncat, kind, l2, work.shape[0], d)
        return loss

    def train_run(self, floating[::1] params, floating[::1] grads, floating[:, ::1] out,
                  floating[:, ::1] dout, uint8_t[::1] work, const floating[:, ::1] x, codes,
                  const floating[:, ::1] t, const int32_t[::1] labels,
                  const floating[::1] sw, tuple bufs, tuple cfg, tuple opt,
                  int64_t batch_rows, Diagnostics diag=None):
        """A TrainRun: compiled training runs over the rows (x, codes, t or labels, sw)
        in batches of batch_rows rows, with everything that stays the same from run to
        run checked here, once. bufs: (x, codes, t, labels, sw) batch_rows-row buffers for
        the gathered rows; cfg: (loss code, task code, fused, loss scale, l2, clip norm,
        dropout seed); opt: (kind, momentum, beta1, beta2, eps, alpha, weight decay,
        nesterov, decoupled, state0, state1, t), whose t each run takes anew. diag, when
        given, receives every step's diagnostics."""
        cdef int64_t n = x.shape[0], k = self.n_out
        cdef int64_t cd
        carr = None
        if codes is None:
            cd = self.n_in
        else:
            cd = self.n_dense
            carr = _codes_array(codes, n)
        if x.shape[1] != cd:
            raise ValueError(f"x has {x.shape[1]} columns, the network takes {cd}"
                             f"{' beside codes' if codes is not None else ''}")
        cdef const int32_t[:, ::1] cv = carr
        if cv is not None:
            _check_codes(cv, self.n_dense, self.n_in)
        cdef int64_t ncat = cv.shape[1] if cv is not None else 0
        cdef int kind = cfg[0]
        if kind == NC_LOSS_CE:
            if labels is None or labels.shape[0] != n:
                raise ValueError("cross-entropy needs one label per row")
        else:
            if t is None:
                raise ValueError("this loss needs targets of shape (n, outputs)")
            _mat(t, n, k, "targets", True)
        if sw is not None and sw.shape[0] != n:
            raise ValueError(f"sample weights have {sw.shape[0]} values for {n} rows")
        if batch_rows < 1:
            raise ValueError(f"batches of {batch_rows} rows")
        if params.shape[0] != self.n_params or grads.shape[0] != self.n_params:
            raise ValueError(f"params and grads need {self.n_params} values")
        _mat(out, batch_rows, k, "out", True)
        cdef bint fused = cfg[2]
        if not fused:
            _mat(dout, batch_rows, k, "dout", True)
        cdef size_t need = (self.small_workspace(batch_rows, 1, floating is double) if fused
                            else self.workspace(batch_rows, 1, floating is double))
        if fused and not nc_mlp_small_ok(&self.net, sizeof(floating)):
            raise ValueError("this network is not small enough for the fused step")
        if work.shape[0] < need:
            raise ValueError(f"workspace of {work.shape[0]} bytes, need at least {need}")
        cdef floating[:, ::1] bx = bufs[0]
        cdef int32_t[:, ::1] bc = bufs[1]
        cdef floating[:, ::1] bt = bufs[2]
        cdef int32_t[::1] bl = bufs[3]
        cdef floating[::1] bsw = bufs[4]
        _mat(bx, batch_rows, cd, "x buffer", True)
        if cv is not None:
            if bc is None or bc.shape[0] != batch_rows or bc.shape[1] != ncat:
                raise ValueError(f"the codes buffer needs shape ({batch_rows}, {ncat})")
        if t is not None:
            _mat(bt, batch_rows, k, "targets buffer", True)
        if labels is not None and (bl is None or bl.shape[0] != batch_rows):
            raise ValueError(f"the labels buffer needs {batch_rows} values")
        if sw is not None and (bsw is None or bsw.shape[0] != batch_rows):
            raise ValueError(f"the weights buffer needs {batch_rows} values")
        cdef TrainRun run = TrainRun.__new__(TrainRun)
        run.rows.x = &x[0, 0] if n and cd else NULL
        run.rows.codes = &cv[0, 0] if n and ncat else NULL
        run.rows.t = &t[0, 0] if t is not None and n else NULL
        run.rows.labels = &labels[0] if labels is not None and n else NULL
        run.rows.sw = &sw[0] if sw is not None and n else NULL
        run.rows.perm = NULL
        run.rows.n, run.rows.first, run.rows.cd, run.rows.ncat, run.rows.k = n, 0, cd, ncat, k
        run.b.x = &bx[0, 0] if bx is not None and cd else NULL
        run.b.codes = &bc[0, 0] if bc is not None and ncat else NULL
        run.b.t = &bt[0, 0] if bt is not None else NULL
        run.b.labels = &bl[0] if bl is not None else NULL
        run.b.sw = &bsw[0] if bsw is not None else NULL
        run.c.loss, run.c.task, run.c.fused = cfg[0], cfg[1], cfg[2]
        run.c.loss_scale, run.c.l2, run.c.clip_norm, run.c.seed = cfg[3], cfg[4], cfg[5], cfg[6]
        run.o.kind, run.o.momentum, run.o.beta1, run.o.beta2, run.o.eps, run.o.alpha = opt[:6]
        run.o.weight_decay, run.o.nesterov, run.o.decoupled = opt[6:9]
        cdef floating[::1] s0 = opt[9]
        cdef floating[::1] s1 = opt[10]
        run.o.state0 = &s0[0] if s0 is not None else NULL
        run.o.state1 = &s1[0] if s1 is not None else NULL
        if (s0 is not None and s0.shape[0] != self.n_params) or \
                (s1 is not None and s1.shape[0] != self.n_params):
            raise ValueError(f"optimizer state buffers need {self.n_params} values")
        need_states = {NC_OPT_SGD: (run.o.momentum != 0, False), NC_OPT_ADAM: (True, True),
                       NC_OPT_RMSPROP: (True, run.o.momentum != 0)}.get(run.o.kind)
        if need_states is None:
            raise ValueError(f"unknown optimizer code {run.o.kind}")
        if (need_states[0] and s0 is None) or (need_states[1] and s1 is None):
            raise ValueError("the optimizer is missing a state buffer")
        run.o.t = opt[11]
        run.net = self
        run.params, run.grads, run.out = &params[0], &grads[0], &out[0, 0]
        run.dout = &dout[0, 0] if dout is not None else NULL
        run.work, run.work_bytes = &work[0], work.shape[0]
        run.batch_rows, run.f64 = batch_rows, floating is double
        run.diag = _diag_of(diag, self, floating is double)
        # every array whose memory the pointers above reach stays alive with the run
        run.refs = (params, grads, out, dout, work, x, carr, t, labels, sw, bufs, opt, diag)
        return run


cdef class TrainRun:
    """Compiled training runs over one set of rows, made by Net.train_run, which checked
    and took everything that stays the same from run to run; run() takes what changes
    (the order, where the batches start, the progress so far, the rate, the budget and
    the optimizer's step count), so that a run costs one call and no buffer unpacking."""
    cdef Net net
    cdef object refs
    cdef nc_rows rows
    cdef nc_batch_bufs b
    cdef nc_train_cfg c
    cdef nc_optim o
    cdef void *params
    cdef void *grads
    cdef void *out
    cdef void *dout
    cdef uint8_t *work
    cdef size_t work_bytes
    cdef int64_t batch_rows
    cdef bint f64
    cdef nc_diag *diag

    def run(self, const int64_t[::1] perm, int64_t first, int64_t batch, uint64_t step,
            double loss_sum, int64_t correct, int64_t b1, double lr, double budget,
            int64_t t_opt):
        """Train on batches batch .. b1-1 of the rows taken in the order perm (None: as
        they are) from position first, in C without the GIL, until they run out or
        `budget` seconds pass (see nc_train_batches); step, loss_sum and correct are the
        progress so far, t_opt the optimizer's step count. Returns (batch, step,
        optimizer t, loss sum, correct, last loss, diverged)."""
        cdef int64_t n = self.rows.n
        if perm is not None and perm.shape[0] != n:
            raise ValueError(f"the order has {perm.shape[0]} positions for {n} rows")
        if first < 0 or (b1 > batch >= 0 and first + (b1 - 1) * self.batch_rows >= n):
            raise ValueError(f"batches up to {b1} of {self.batch_rows} rows from {first} do "
                             f"not fit in {n} rows")
        cdef nc_train_progress prog
        prog.batch, prog.step, prog.loss_sum, prog.correct = batch, step, loss_sum, correct
        self.rows.perm = &perm[0] if perm is not None and n else NULL
        self.rows.first = first
        self.o.t = t_opt
        with nogil:
            if self.f64:
                nc_train_batches_f64(&prog, <double *>self.params, <double *>self.grads,
                                     <double *>self.out, <double *>self.dout, self.work,
                                     &self.b, &self.rows, &self.net.net, &self.c, &self.o,
                                     self.batch_rows, b1, lr, budget, self.work_bytes,
                                     self.diag)
            else:
                nc_train_batches_f32(&prog, <float *>self.params, <float *>self.grads,
                                     <float *>self.out, <float *>self.dout, self.work,
                                     &self.b, &self.rows, &self.net.net, &self.c, &self.o,
                                     self.batch_rows, b1, lr, budget, self.work_bytes,
                                     self.diag)
        self.rows.perm = NULL
        return (prog.batch, prog.step, self.o.t, prog.loss_sum, prog.correct,
                prog.last_loss, bool(prog.diverged))
