"""Public entry points to the compiled kernels, for numpy arrays.

These validate and adapt arguments (dtype, layout, output buffers), then call the thin
Cython shim in neuralcli._kernels. The model layer calls the shim directly with buffers
it owns; these functions suit tests, teaching code and one-off calls.
"""
import numpy as np

from neuralcli import _kernels

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
ACTIVATIONS = dict(_kernels.ACT_CODES)

# Default parameter of the activations that take one (leaky_relu's slope, elu's alpha).
ACT_DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}


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


def _row_major(a):
    """A view or copy whose rows are contiguous and aligned, as the C core wants."""
    if a.ndim == 2 and a.strides[1] == a.itemsize and a.flags.aligned and \
            (a.shape[0] <= 1 or a.strides[0] % a.itemsize == 0):
        return a
    return np.ascontiguousarray(a)


def _act_code(activation):
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; "
                         f"choose from {', '.join(ACTIVATIONS)}") from None


def _act_param(activation, param):
    return ACT_DEFAULT_PARAM.get(activation, 0.0) if param is None else float(param)


def workspace(nbytes):
    """A 64-byte aligned scratch buffer of nbytes for the GEMM and dense kernels."""
    raw = np.empty(int(nbytes) + 64, dtype=np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + int(nbytes)]


def gemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None):
    """Return alpha * op(a) @ op(b) + beta * out, with op a transpose when asked.

    a and b are 2-D float32 or float64 arrays of one dtype. A Fortran-ordered operand is
    read as the transpose of a row-major one rather than copied. With beta != 0, `out`
    holds C on entry; the result is written into `out` when it is given.
    """
    a = _as_array(a, "a")
    b = _as_array(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm needs 2-D arrays, got {a.ndim}-D and {b.ndim}-D")
    dt = _dtype_of(a, b)
    # a transposed C-order array is Fortran-ordered: flip the flag instead of copying
    if not a.flags.c_contiguous and a.T.flags.c_contiguous and a.flags.aligned:
        a, trans_a = a.T, not trans_a
    if not b.flags.c_contiguous and b.T.flags.c_contiguous and b.flags.aligned:
        b, trans_b = b.T, not trans_b
    a, b = _row_major(a), _row_major(b)
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
        c = out if (out.strides[1] == out.itemsize and out.flags.aligned) else \
            np.ascontiguousarray(out)
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
    z = _row_major(_as_array(z, "z"))
    _dtype_of(z)
    y = np.empty_like(z) if out is None else out
    _kernels.act_forward(y, z, code, _act_param(activation, param))
    return y


def activation_backward(activation, dy, y, z=None, *, param=None):
    """Return dz = dy * act'(.), from the forward output y (and z for gelu)."""
    code = _act_code(activation)
    dy = np.ascontiguousarray(_as_array(dy, "dy"))
    y = np.ascontiguousarray(_as_array(y, "y"))
    arrays = [dy, y]
    if z is not None:
        z = np.ascontiguousarray(_as_array(z, "z"))
        arrays.append(z)
    _dtype_of(*arrays)
    dz = np.empty_like(dy)
    _kernels.act_backward(dz, dy, y, z, code, _act_param(activation, param))
    return dz


def dense_forward(x, w, b=None, activation="identity", *, param=None, return_z=False):
    """Return y = act(x @ w + b) (and z = x @ w + b when return_z), fused in one pass."""
    code = _act_code(activation)
    x = np.ascontiguousarray(_as_array(x, "x"))
    w = np.ascontiguousarray(_as_array(w, "w"))
    arrays = [x, w]
    if b is not None:
        b = np.ascontiguousarray(_as_array(b, "b"))
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
    dy, x, w, y = (np.ascontiguousarray(_as_array(v, name))
                   for v, name in ((dy, "dy"), (x, "x"), (w, "w"), (y, "y")))
    arrays = [dy, x, w, y]
    if z is not None:
        z = np.ascontiguousarray(_as_array(z, "z"))
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
