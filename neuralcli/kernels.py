"""Public entry points to the compiled kernels, for numpy arrays.

These validate and adapt arguments (dtype, layout, output buffers), then call the thin
Cython shim in neuralcli._kernels. The model layer calls the shim directly with buffers
it owns; these functions suit tests, teaching code and one-off calls.
"""
import numpy as np

from neuralcli import _kernels
from neuralcli.activations import ACTIVATIONS, activation_name
from neuralcli.losses import LOSSES, loss_name

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _dtype_of(*arrays):
    dt = np.result_type(*[a.dtype for a in arrays])
    for a in arrays:
        if a.dtype not in FLOAT_DTYPES:
            raise TypeError(f"expected float32 or float64 arrays, got {a.dtype}")
    if any(a.dtype != dt for a in arrays):
        raise TypeError(f"arrays must share one dtype, got {sorted({str(a.dtype) for a in arrays})}")
    return dt


def _as_array(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    return x


def _contiguous(a, dtype=None):
    """a itself when C-contiguous and aligned, else a copy that is: the C core reads
    whole elements at aligned addresses (np.ascontiguousarray keeps a misaligned buffer)."""
    return np.require(a, dtype=dtype, requirements=("C", "A"))


def _strided(a):
    """a itself when the GEMM shim reads it in place: aligned, with its rows (or its
    columns) contiguous and each at least one row (column) past the last; else an aligned
    C-contiguous copy."""
    for (r, c), (sr, sc) in ((a.shape, a.strides), (a.shape[::-1], a.strides[::-1])):
        if a.flags.aligned and (c <= 1 or sc == a.itemsize) and \
                (r <= 1 or sr >= c * a.itemsize):
            return a
    return _contiguous(a)


def _act_code(activation):
    return ACTIVATIONS[activation_name(activation)].code


def _act_param(activation, param):
    """param, or the activation's default (leaky_relu's slope, elu's alpha)."""
    return ACTIVATIONS[activation_name(activation)].param if param is None else float(param)


def workspace(nbytes):
    """A 64-byte aligned scratch buffer of nbytes for the GEMM and dense kernels."""
    raw = np.empty(int(nbytes) + 64, dtype=np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + int(nbytes)]


def gemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None):
    """Return alpha * op(a) @ op(b) + beta * out, with op a transpose when asked.

    a and b are 2-D float32 or float64 arrays of one dtype. An array or view whose rows or
    columns are contiguous (a slice of rows, a transpose, a Fortran-ordered array) is read
    in place, and `out` written in place likewise; others are copied. With beta != 0,
    `out` holds C on entry; the result is written into `out` when it is given.
    """
    a = _as_array(a, "a")
    b = _as_array(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm needs 2-D arrays, got {a.ndim}-D and {b.ndim}-D")
    dt = _dtype_of(a, b)
    a, b = _strided(a), _strided(b)
    m = a.shape[1] if trans_a else a.shape[0]
    ka = a.shape[0] if trans_a else a.shape[1]
    kb = b.shape[1] if trans_b else b.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    if ka != kb:
        raise ValueError(f"inner dimensions differ: op(a) is {m}x{ka}, op(b) is {kb}x{n}")
    if out is None:
        if beta != 0:
            raise ValueError("beta != 0 needs out= holding C")
        c = np.empty((m, n), dtype=dt)
    else:
        out = _as_array(out, "out")
        if out.shape != (m, n):
            raise ValueError(f"out has shape {out.shape}, expected {(m, n)}")
        if out.dtype != dt:
            raise TypeError(f"out has dtype {out.dtype}, expected {dt}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
        c = _strided(out)
    work = workspace(_kernels.gemm_workspace(m, n, ka, _kernels.get_num_threads(),
                                             dt == np.float64))
    _kernels.gemm(c, a, b, bool(trans_a), bool(trans_b), float(alpha), float(beta), work)
    if out is not None and c is not out:
        out[...] = c
        return out
    return c


def activation_forward(activation, z, *, param=None, out=None):
    """Return act(z) for a 2-D float array (row-wise for softmax)."""
    code = _act_code(activation)
    z = _contiguous(_as_array(z, "z"))
    _dtype_of(z)
    y = np.empty_like(z) if out is None else out
    _kernels.act_forward(y, z, code, _act_param(activation, param))
    return y


def activation_backward(activation, dy, y, z=None, *, param=None):
    """Return dz = dy * act'(.), from the forward output y (and z for gelu)."""
    code = _act_code(activation)
    dy = _contiguous(_as_array(dy, "dy"))
    y = _contiguous(_as_array(y, "y"))
    arrays = [dy, y]
    if z is not None:
        z = _contiguous(_as_array(z, "z"))
        arrays.append(z)
    _dtype_of(*arrays)
    dz = np.empty_like(dy)
    _kernels.act_backward(dz, dy, y, z, code, _act_param(activation, param))
    return dz


def dense_forward(x, w, b=None, activation="identity", *, param=None, return_z=False):
    """Return y = act(x @ w + b) (and z = x @ w + b when return_z), fused in one pass."""
    code = _act_code(activation)
    x = _contiguous(_as_array(x, "x"))
    w = _contiguous(_as_array(w, "w"))
    arrays = [x, w]
    if b is not None:
        b = _contiguous(_as_array(b, "b"))
        arrays.append(b)
    dt = _dtype_of(*arrays)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"x {x.shape} and w {w.shape} do not chain: need (N,C) and (C,OC)")
    n, c, oc = x.shape[0], x.shape[1], w.shape[1]
    y = np.empty((n, oc), dtype=dt)
    z = np.empty((n, oc), dtype=dt) if (return_z or _kernels.act_needs_z(code)) else None
    work = workspace(_kernels.dense_workspace(n, c, oc, _kernels.get_num_threads(),
                                              dt == np.float64))
    _kernels.dense_forward(y, z, x, w, b, code, _act_param(activation, param), work)
    return (y, z) if return_z else y


def dense_backward(dy, x, w, y, z=None, activation="identity", *, param=None,
                   need_dx=True):
    """Return (dx, dw, db) for y = act(x @ w + b); dx is None unless need_dx."""
    code = _act_code(activation)
    dy, x, w, y = (_contiguous(_as_array(v, name))
                   for v, name in ((dy, "dy"), (x, "x"), (w, "w"), (y, "y")))
    arrays = [dy, x, w, y]
    if z is not None:
        z = _contiguous(_as_array(z, "z"))
        arrays.append(z)
    dt = _dtype_of(*arrays)
    n, c, oc = x.shape[0], x.shape[1], w.shape[1]
    dx = np.empty((n, c), dtype=dt) if need_dx else None
    dw = np.empty((c, oc), dtype=dt)
    db = np.empty(oc, dtype=dt)
    dz = np.empty((n, oc), dtype=dt)
    work = workspace(_kernels.dense_workspace(n, c, oc, _kernels.get_num_threads(),
                                              dt == np.float64))
    _kernels.dense_backward(dz, dx, dw, db, dy, y, z, x, w, code,
                            _act_param(activation, param), work)
    return dx, dw, db


# ------------------------------------------------------------------ losses

def _cast_numeric(a, dt, name):
    """a as a contiguous array of dtype dt; targets and weights may come as ints or the
    other float type, but not as strings or objects."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got {a.dtype}")
    return _contiguous(a, dtype=dt)


def _row_weights(w, n, dt, name):
    if w is None:
        return None
    w = _cast_numeric(w, dt, name)
    if w.shape != (n,):
        raise ValueError(f"{name} has shape {w.shape}, expected ({n},)")
    return w


def loss(name, pred, target, *, sample_weight=None, class_weight=None, need_grad=True,
         probs_out=None):
    """Return (value, grad) of a mean loss: value a float, grad d(value)/d(pred) shaped
    like pred (None unless need_grad).

    `name` is a name of losses.LOSSES or an alias. mse, mae, bce (on logits): pred (N,K)
    or (N,) and a target of the same shape; the value is sum_i s_i l_i / sum_i s_i with
    l_i the mean over row i's K outputs, so without weights it equals PyTorch's
    reduction='mean'. cross_entropy (softmax on logits): logits (N,K) and integer labels
    (N,) in [0,K); class_weight (K,) weighs each sample by its label's weight as in
    PyTorch's CrossEntropyLoss(weight=...), and probs_out (N,K), if given, receives the
    softmax.
    """
    name = loss_name(name)
    spec = LOSSES[name]
    pred = _as_array(pred, "pred")
    dt = _dtype_of(pred)
    if spec.targets == "labels":
        return _cross_entropy(pred, target, sample_weight, class_weight, need_grad,
                              probs_out)
    if class_weight is not None:
        raise ValueError(f"class_weight applies to cross_entropy only, not {name}")
    if probs_out is not None:
        raise ValueError(f"probs_out applies to cross_entropy only, not {name}")
    if pred.ndim not in (1, 2):
        raise ValueError(f"pred must be (N,K) or (N,), got shape {pred.shape}")
    target = _cast_numeric(target, dt, "target")
    if target.shape != pred.shape:
        raise ValueError(f"target has shape {target.shape}, expected {pred.shape} like pred")
    p2 = _contiguous(pred).reshape(pred.shape[0], -1)
    t2 = target.reshape(p2.shape)
    sw = _row_weights(sample_weight, p2.shape[0], dt, "sample_weight")
    grad = np.empty(p2.shape, dtype=dt) if need_grad else None
    value = spec.kernel(grad, p2, t2, sw)
    return value, (grad.reshape(pred.shape) if need_grad else None)


def _cross_entropy(logits, labels, sample_weight, class_weight, need_grad, probs_out):
    dt = logits.dtype
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy needs (N,K) logits, got shape {logits.shape}")
    n, k = logits.shape
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"labels has shape {labels.shape}, expected ({n},)")
    if n:
        # checked before the cast so that a huge int64 cannot wrap into range
        bad = np.flatnonzero((labels < 0) | (labels >= k))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"labels[{i}] = {labels[i]} is outside [0, {k})")
    labels = _contiguous(labels, dtype=np.int32)
    logits = _contiguous(logits)
    sw = _row_weights(sample_weight, n, dt, "sample_weight")
    cw = None
    if class_weight is not None:
        cw = _cast_numeric(class_weight, dt, "class_weight")
        if cw.shape != (k,):
            raise ValueError(f"class_weight has shape {cw.shape}, expected ({k},)")
    probs = None
    if probs_out is not None:
        probs = _as_array(probs_out, "probs_out")
        if probs.shape != (n, k) or probs.dtype != dt or not probs.flags.c_contiguous:
            raise ValueError(f"probs_out must be a C-contiguous {dt} array of shape {(n, k)}")
    grad = np.empty((n, k), dtype=dt) if need_grad else None
    value = _kernels.softmax_ce(grad, probs, logits, labels, sw, cw)
    return value, grad


# ------------------------------------------------------------------ optimizers

def _flat_state(a, name, size):
    """A flat view of a buffer updated in place: it must be contiguous and writable."""
    a = _as_array(a, name)
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous to be updated in place")
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if a.size != size:
        raise ValueError(f"{name} has {a.size} elements, expected {size} like params")
    return a.reshape(-1)


def _opt_buffers(params, grads, states):
    """Flat views of params, grads and the state buffers (None passes), one dtype."""
    params = _as_array(params, "params")
    grads = _as_array(grads, "grads")
    _dtype_of(params, grads, *[s for s in states.values() if s is not None])
    if grads.shape != params.shape:
        raise ValueError(f"grads has shape {grads.shape}, expected {params.shape} like params")
    p = _flat_state(params, "params", params.size)
    g = _contiguous(grads).reshape(-1)
    st = {k: (None if v is None else _flat_state(v, k, params.size)) for k, v in states.items()}
    return p, g, st


def _nonneg(**values):
    for name, v in values.items():
        if not (v >= 0):
            raise ValueError(f"{name} must be >= 0, got {v}")


def sgd_step(params, grads, velocity=None, *, lr, momentum=0.0, weight_decay=0.0,
             nesterov=False, grad_scale=1.0):
    """One torch.optim.SGD step, in place on params (and velocity, needed when momentum
    > 0; start it at zeros). grads are multiplied by grad_scale first."""
    _nonneg(lr=lr, momentum=momentum, weight_decay=weight_decay)
    p, g, st = _opt_buffers(params, grads, {"velocity": velocity})
    _kernels.sgd(p, st["velocity"], g, float(lr), float(momentum), float(weight_decay),
                 bool(nesterov), float(grad_scale))


def _adam(params, grads, m, v, step, lr, betas, eps, weight_decay, grad_scale, decoupled):
    _nonneg(lr=lr, eps=eps, weight_decay=weight_decay)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be an integer, got {type(step).__name__}")
    p, g, st = _opt_buffers(params, grads, {"m": m, "v": v})
    if st["m"] is None or st["v"] is None:
        raise ValueError("adam needs both moment buffers m and v (start them at zeros)")
    b1, b2 = betas
    _kernels.adam(p, st["m"], st["v"], g, float(lr), float(b1), float(b2), float(eps),
                  float(weight_decay), int(step), decoupled, float(grad_scale))


def adam_step(params, grads, m, v, *, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
              weight_decay=0.0, grad_scale=1.0):
    """One torch.optim.Adam step (weight decay as an L2 term in the gradient), in place
    on params, m and v; step counts from 1."""
    _adam(params, grads, m, v, step, lr, betas, eps, weight_decay, grad_scale, False)


def adamw_step(params, grads, m, v, *, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
               weight_decay=1e-2, grad_scale=1.0):
    """One torch.optim.AdamW step (decoupled weight decay), in place on params, m and v;
    step counts from 1."""
    _adam(params, grads, m, v, step, lr, betas, eps, weight_decay, grad_scale, True)


def rmsprop_step(params, grads, square_avg, momentum_buffer=None, *, lr=1e-2, alpha=0.99,
                 eps=1e-8, weight_decay=0.0, momentum=0.0, grad_scale=1.0):
    """One torch.optim.RMSprop step (not centered), in place on params, square_avg and,
    when momentum > 0, momentum_buffer; start the buffers at zeros."""
    _nonneg(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
    p, g, st = _opt_buffers(params, grads, {"square_avg": square_avg,
                                            "momentum_buffer": momentum_buffer})
    _kernels.rmsprop(p, st["square_avg"], st["momentum_buffer"], g, float(lr), float(alpha),
                     float(eps), float(weight_decay), float(momentum), float(grad_scale))


# ------------------------------------------------------------------ dropout

def _rng_key(seed, step):
    for name, v in (("seed", seed), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
        if not 0 <= int(v) < 2 ** 64:
            raise ValueError(f"{name} must be in [0, 2**64), got {v}")
    return int(seed), int(step)


def dropout_forward(x, p, *, seed, step, return_mask=False):
    """Inverted dropout: each element kept with probability 1-p and scaled by 1/(1-p).

    The mask is a pure function of (seed, step, element index in C order): the same key
    gives the same mask at any thread count, and dropout_backward regenerates it. Returns
    y, or (y, mask) with a boolean keep-mask when return_mask.
    """
    x = _as_array(x, "x")
    _dtype_of(x)
    seed, step = _rng_key(seed, step)
    xc = _contiguous(x)
    y = np.empty_like(xc)
    mask = np.empty(xc.shape, dtype=np.uint8) if return_mask else None
    _kernels.dropout_forward(y.reshape(-1), None if mask is None else mask.reshape(-1),
                             xc.reshape(-1), float(p), seed, step)
    return (y, mask.view(np.bool_)) if return_mask else y


def dropout_backward(dy, p, *, seed, step):
    """dx for y = dropout_forward(x, p, seed=seed, step=step): dy through the same mask."""
    dy = _as_array(dy, "dy")
    _dtype_of(dy)
    seed, step = _rng_key(seed, step)
    dyc = _contiguous(dy)
    dx = np.empty_like(dyc)
    _kernels.dropout_backward(dx.reshape(-1), dyc.reshape(-1), float(p), seed, step)
    return dx


# ------------------------------------------------------------------ norms

def sum_squares(x):
    """sum(x**2) accumulated in double, the same at any thread count."""
    x = _as_array(x, "x")
    _dtype_of(x)
    return _kernels.sum_squares(_contiguous(x).reshape(-1))


def global_grad_norm(g):
    """L2 norm of a flat gradient buffer, or of several arrays taken together in order."""
    if isinstance(g, np.ndarray):
        return float(np.sqrt(sum_squares(g)))
    return float(np.sqrt(sum(sum_squares(a) for a in g)))
