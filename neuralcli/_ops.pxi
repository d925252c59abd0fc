# Shims for losses, optimizers, dropout and norms (included by _kernels.pyx).
#
# Each public function picks the float or double body from its arrays' dtype itself:
# Cython's fused dispatch judges by the first argument, which here is often an optional
# output passed as None.

_DTYPE_NAMES = {"f": "float32", "d": "float64"}

cdef bint _is_double(str what, tuple named) except -1:
    """True for float64, False for float32, from the (name, array) pairs that are not None.
    They must all agree; anything else is a TypeError naming the culprit."""
    cdef object kind = None, first = None
    for name, arr in named:
        if arr is None:
            continue
        try:
            fmt = memoryview(arr).format.lstrip("@=<")
        except TypeError:
            raise TypeError(f"{what}: {name} must be an array, got {type(arr).__name__}") from None
        if fmt not in _DTYPE_NAMES:
            raise TypeError(f"{what}: {name} must be float32 or float64, got buffer format {fmt!r}")
        if kind is None:
            kind, first = fmt, name
        elif fmt != kind:
            raise TypeError(f"{what}: {name} is {_DTYPE_NAMES[fmt]} but {first} is "
                            f"{_DTYPE_NAMES[kind]}; all arrays must share one dtype")
    if kind is None:
        raise TypeError(f"{what}: no input array given")
    return kind == "d"

cdef inline _vec(const floating[::1] v, int64_t n, str name):
    """Check a 1-D view's length; None passes (the caller decides if it is optional)."""
    if v is not None and v.shape[0] != n:
        raise ValueError(f"{name} has length {v.shape[0]}, expected {n}")

cdef inline _check_labels(const int32_t[::1] labels, int64_t k):
    """Every label in [0, k), else a ValueError naming the first bad one."""
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(labels.shape[0]):
            if labels[i] < 0 or labels[i] >= k:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"labels[{bad}] = {labels[bad]} is outside [0, {k})")

cdef inline _check_p(double p):
    if not (0.0 <= p < 1.0):
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")


# ------------------------------------------------------------------ losses

cdef object _pointwise_t(int kind, floating[:, ::1] grad, const floating[:, ::1] a,
                         const floating[:, ::1] t, const floating[::1] sw):
    cdef int64_t n = a.shape[0], k = a.shape[1]
    _mat(t, n, k, "target", True)
    _mat(grad, n, k, "gradient", True)
    _vec(sw, n, "sample weights")
    cdef double out = 0.0
    if n == 0 or k == 0:
        return out
    cdef floating *gp = &grad[0, 0] if grad is not None else NULL
    cdef const floating *sp = &sw[0] if sw is not None else NULL
    with nogil:
        if floating is float:
            if kind == NC_LOSS_MSE:
                out = nc_mse_f32(gp, &a[0, 0], &t[0, 0], sp, n, k)
            elif kind == NC_LOSS_MAE:
                out = nc_mae_f32(gp, &a[0, 0], &t[0, 0], sp, n, k)
            else:
                out = nc_bce_logits_f32(gp, &a[0, 0], &t[0, 0], sp, n, k)
        else:
            if kind == NC_LOSS_MSE:
                out = nc_mse_f64(gp, &a[0, 0], &t[0, 0], sp, n, k)
            elif kind == NC_LOSS_MAE:
                out = nc_mae_f64(gp, &a[0, 0], &t[0, 0], sp, n, k)
            else:
                out = nc_bce_logits_f64(gp, &a[0, 0], &t[0, 0], sp, n, k)
    return out

cdef object _pointwise(int kind, str what, grad, a, t, sw):
    """The loss `kind` (enum nc_loss) of the shim function `what`, which names it in
    errors."""
    if a is None or t is None:
        raise ValueError(f"{what}: input and target are required")
    if _is_double(what, (("input", a), ("target", t), ("gradient", grad),
                         ("sample weights", sw))):
        return _pointwise_t[double](kind, grad, a, t, sw)
    return _pointwise_t[float](kind, grad, a, t, sw)

def mse(dpred, pred, target, sw):
    """Weighted mean squared error of (N,K) arrays; gradient into dpred unless None."""
    return _pointwise(NC_LOSS_MSE, "mse", dpred, pred, target, sw)

def mae(dpred, pred, target, sw):
    """Weighted mean absolute error of (N,K) arrays; gradient into dpred unless None."""
    return _pointwise(NC_LOSS_MAE, "mae", dpred, pred, target, sw)

def bce_logits(dlogits, logits, target, sw):
    """Weighted mean binary cross-entropy on (N,K) logits; gradient into dlogits unless
    None."""
    return _pointwise(NC_LOSS_BCE, "bce_logits", dlogits, logits, target, sw)

cdef object _softmax_ce_t(floating[:, ::1] dlogits, floating[:, ::1] probs,
                          const floating[:, ::1] logits, const int32_t[::1] labels,
                          const floating[::1] sw, const floating[::1] cw):
    cdef int64_t n = logits.shape[0], k = logits.shape[1]
    _mat(dlogits, n, k, "dlogits", True)
    _mat(probs, n, k, "probs", True)
    if labels.shape[0] != n:
        raise ValueError(f"labels has length {labels.shape[0]}, expected {n}")
    _vec(sw, n, "sample weights")
    _vec(cw, k, "class weights")
    _check_labels(labels, k)
    cdef double out = 0.0
    if n == 0:
        return out
    cdef floating *dp = &dlogits[0, 0] if dlogits is not None else NULL
    cdef floating *pp = &probs[0, 0] if probs is not None else NULL
    cdef const floating *sp = &sw[0] if sw is not None else NULL
    cdef const floating *cp = &cw[0] if cw is not None else NULL
    with nogil:
        if floating is float:
            out = nc_softmax_ce_f32(dp, pp, &logits[0, 0], &labels[0], sp, cp, n, k)
        else:
            out = nc_softmax_ce_f64(dp, pp, &logits[0, 0], &labels[0], sp, cp, n, k)
    return out

def softmax_ce(dlogits, probs, logits, labels, sw, cw):
    """Weighted mean softmax cross-entropy of (N,K) logits against int32 labels (N,) with
    optional sample (N,) and class (K,) weights; dlogits and probs written unless None."""
    if logits is None or labels is None:
        raise ValueError("softmax_ce: logits and labels are required")
    try:
        lv = memoryview(labels)
    except TypeError:
        raise TypeError(f"softmax_ce: labels must be an int32 array, "
                        f"got {type(labels).__name__}") from None
    if lv.itemsize != 4 or lv.format.lstrip("@=<") not in ("i", "l"):
        raise TypeError(f"softmax_ce: labels must be int32, got buffer format {lv.format!r}")
    if _is_double("softmax_ce", (("logits", logits), ("dlogits", dlogits), ("probs", probs),
                                 ("sample weights", sw), ("class weights", cw))):
        return _softmax_ce_t[double](dlogits, probs, logits, labels, sw, cw)
    return _softmax_ce_t[float](dlogits, probs, logits, labels, sw, cw)


# ------------------------------------------------------------------ optimizers

cdef object _sgd_t(floating[::1] p, floating[::1] v, const floating[::1] g, double lr,
                   double momentum, double weight_decay, bint nesterov, double grad_scale):
    cdef int64_t n = p.shape[0]
    _vec(g, n, "grad")
    _vec(v, n, "velocity")
    if n == 0:
        return
    cdef floating *vp = &v[0] if v is not None else NULL
    with nogil:
        if floating is float:
            nc_sgd_f32(&p[0], vp, &g[0], n, <float>lr, <float>momentum,
                       <float>weight_decay, nesterov, <float>grad_scale)
        else:
            nc_sgd_f64(&p[0], vp, &g[0], n, lr, momentum, weight_decay, nesterov,
                       grad_scale)

def sgd(p, v, g, double lr, double momentum, double weight_decay, bint nesterov,
        double grad_scale):
    """One SGD step in place over flat (P,) buffers; v (velocity) may be None when
    momentum == 0."""
    if p is None or g is None:
        raise ValueError("sgd: params and grad are required")
    if momentum != 0 and v is None:
        raise ValueError("sgd: momentum needs a velocity buffer")
    if nesterov and momentum == 0:
        raise ValueError("sgd: nesterov needs momentum > 0")
    if _is_double("sgd", (("params", p), ("grad", g), ("velocity", v))):
        _sgd_t[double](p, v, g, lr, momentum, weight_decay, nesterov, grad_scale)
    else:
        _sgd_t[float](p, v, g, lr, momentum, weight_decay, nesterov, grad_scale)

cdef object _adam_t(floating[::1] p, floating[::1] m, floating[::1] v, const floating[::1] g,
                    double lr, double beta1, double beta2, double eps, double weight_decay,
                    int64_t step, bint decoupled, double grad_scale):
    cdef int64_t n = p.shape[0]
    _vec(g, n, "grad")
    _vec(m, n, "first moment")
    _vec(v, n, "second moment")
    if n == 0:
        return
    with nogil:
        if floating is float:
            nc_adam_f32(&p[0], &m[0], &v[0], &g[0], n, <float>lr, <float>beta1,
                        <float>beta2, <float>eps, <float>weight_decay, step, decoupled,
                        <float>grad_scale)
        else:
            nc_adam_f64(&p[0], &m[0], &v[0], &g[0], n, lr, beta1, beta2, eps, weight_decay,
                        step, decoupled, grad_scale)

def adam(p, m, v, g, double lr, double beta1, double beta2, double eps, double weight_decay,
         int64_t step, bint decoupled, double grad_scale):
    """One Adam (decoupled=False, L2 in the gradient) or AdamW (decoupled=True) step in
    place over flat (P,) buffers; step counts from 1."""
    if p is None or g is None or m is None or v is None:
        raise ValueError("adam: params, grad and both moment buffers are required")
    if step < 1:
        raise ValueError(f"adam: step counts from 1, got {step}")
    if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
        raise ValueError(f"adam: betas must be in [0, 1), got ({beta1}, {beta2})")
    if _is_double("adam", (("params", p), ("grad", g), ("first moment", m),
                           ("second moment", v))):
        _adam_t[double](p, m, v, g, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                        grad_scale)
    else:
        _adam_t[float](p, m, v, g, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                       grad_scale)

cdef object _rmsprop_t(floating[::1] p, floating[::1] v, floating[::1] buf,
                       const floating[::1] g, double lr, double alpha, double eps,
                       double weight_decay, double momentum, double grad_scale):
    cdef int64_t n = p.shape[0]
    _vec(g, n, "grad")
    _vec(v, n, "square average")
    _vec(buf, n, "momentum buffer")
    if n == 0:
        return
    cdef floating *bp = &buf[0] if buf is not None else NULL
    with nogil:
        if floating is float:
            nc_rmsprop_f32(&p[0], &v[0], bp, &g[0], n, <float>lr, <float>alpha, <float>eps,
                           <float>weight_decay, <float>momentum, <float>grad_scale)
        else:
            nc_rmsprop_f64(&p[0], &v[0], bp, &g[0], n, lr, alpha, eps, weight_decay,
                           momentum, grad_scale)

def rmsprop(p, v, buf, g, double lr, double alpha, double eps, double weight_decay,
            double momentum, double grad_scale):
    """One RMSprop step in place over flat (P,) buffers; buf may be None when
    momentum == 0."""
    if p is None or g is None or v is None:
        raise ValueError("rmsprop: params, grad and the square-average buffer are required")
    if momentum != 0 and buf is None:
        raise ValueError("rmsprop: momentum needs a momentum buffer")
    if _is_double("rmsprop", (("params", p), ("grad", g), ("square average", v),
                              ("momentum buffer", buf))):
        _rmsprop_t[double](p, v, buf, g, lr, alpha, eps, weight_decay, momentum, grad_scale)
    else:
        _rmsprop_t[float](p, v, buf, g, lr, alpha, eps, weight_decay, momentum, grad_scale)


# ------------------------------------------------------------------ dropout

cdef object _dropout_forward_t(floating[::1] y, uint8_t[::1] mask, const floating[::1] x,
                               double p, uint64_t seed, uint64_t step):
    cdef int64_t n = x.shape[0]
    _vec(y, n, "y")
    if mask is not None and mask.shape[0] != n:
        raise ValueError(f"mask has length {mask.shape[0]}, expected {n}")
    if n == 0:
        return
    cdef uint8_t *mp = &mask[0] if mask is not None else NULL
    with nogil:
        if floating is float:
            nc_dropout_forward_f32(&y[0], mp, &x[0], n, <float>p, seed, step)
        else:
            nc_dropout_forward_f64(&y[0], mp, &x[0], n, p, seed, step)

def dropout_forward(y, mask, x, double p, uint64_t seed, uint64_t step):
    """y = inverted dropout of flat x (n,), keyed by (seed, step); the keep mask (uint8)
    is written unless mask is None. y may be x."""
    if y is None or x is None:
        raise ValueError("dropout_forward: y and x are required")
    _check_p(p)
    if _is_double("dropout_forward", (("x", x), ("y", y))):
        _dropout_forward_t[double](y, mask, x, p, seed, step)
    else:
        _dropout_forward_t[float](y, mask, x, p, seed, step)

cdef object _dropout_backward_t(floating[::1] dx, const floating[::1] dy, double p,
                                uint64_t seed, uint64_t step):
    cdef int64_t n = dy.shape[0]
    _vec(dx, n, "dx")
    if n == 0:
        return
    with nogil:
        if floating is float:
            nc_dropout_backward_f32(&dx[0], &dy[0], n, <float>p, seed, step)
        else:
            nc_dropout_backward_f64(&dx[0], &dy[0], n, p, seed, step)

def dropout_backward(dx, dy, double p, uint64_t seed, uint64_t step):
    """dx = dy through the mask dropout_forward drew for the same (seed, step); dx may
    be dy."""
    if dx is None or dy is None:
        raise ValueError("dropout_backward: dx and dy are required")
    _check_p(p)
    if _is_double("dropout_backward", (("dy", dy), ("dx", dx))):
        _dropout_backward_t[double](dx, dy, p, seed, step)
    else:
        _dropout_backward_t[float](dx, dy, p, seed, step)


# ------------------------------------------------------------------ norms

cdef object _sum_squares_t(const floating[::1] x):
    cdef int64_t n = x.shape[0]
    cdef double out = 0.0
    if n == 0:
        return out
    with nogil:
        if floating is float:
            out = nc_sum_squares_f32(&x[0], n)
        else:
            out = nc_sum_squares_f64(&x[0], n)
    return out

def sum_squares(x):
    """sum of x**2 over a flat (n,) array, accumulated in double in fixed chunks, so the
    result does not depend on the thread count."""
    if x is None:
        raise ValueError("sum_squares: x is required")
    if _is_double("sum_squares", (("x", x),)):
        return _sum_squares_t[double](x)
    return _sum_squares_t[float](x)
