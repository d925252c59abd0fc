"""The oracle: plain numpy float64 forward and backward for every op of the C core.

Written for clarity, not speed. Its backward functions are themselves checked by central
finite differences in tests/test_reference.py, so the chain kernel -> oracle -> calculus
is closed. Each backward takes the upstream gradient and returns the input gradients.
"""
import math

import numpy as np

f64 = np.float64


def _d(x):
    return np.asarray(x, dtype=f64)


# ------------------------------------------------------------------ gemm

def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    a, b = _d(a), _d(b)
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a @ b)
    if beta != 0:
        out = out + beta * _d(c)
    return out


# ------------------------------------------------------------------ activations

_erf = np.vectorize(math.erf, otypes=[f64])


def act_forward(name, z, param=None):
    z = _d(z)
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        p = 0.01 if param is None else param
        return np.where(z > 0, z, p * z)
    if name == "elu":
        p = 1.0 if param is None else param
        return np.where(z > 0, z, p * np.expm1(np.minimum(z, 0)))
    if name == "sigmoid":
        return 0.5 * (1 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "gelu":
        return 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "step":
        return (z >= 0).astype(f64)
    raise ValueError(name)


def act_backward(name, dy, z, param=None):
    """dL/dz given dL/dy and the pre-activation z."""
    dy, z = _d(dy), _d(z)
    if name == "identity":
        return dy.copy()
    if name == "relu":
        return dy * (z > 0)
    if name == "leaky_relu":
        p = 0.01 if param is None else param
        return dy * np.where(z > 0, 1.0, p)
    if name == "elu":
        p = 1.0 if param is None else param
        return dy * np.where(z > 0, 1.0, p * np.exp(np.minimum(z, 0)))
    if name == "sigmoid":
        s = act_forward("sigmoid", z)
        return dy * s * (1 - s)
    if name == "tanh":
        return dy * (1 - np.tanh(z) ** 2)
    if name == "gelu":
        cdf = 0.5 * (1 + _erf(z / math.sqrt(2)))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return dy * (cdf + z * pdf)
    if name == "softmax":
        y = act_forward("softmax", z)
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))
    raise ValueError(f"{name} has no backward")


# ------------------------------------------------------------------ dense layer

def dense_forward(x, w, b, act="identity", param=None):
    """y = act(x @ w + b); returns (y, z)."""
    z = _d(x) @ _d(w) + (0.0 if b is None else _d(b))
    return act_forward(act, z, param), z


def dense_backward(dy, x, w, z, act="identity", param=None):
    """Returns (dx, dw, db)."""
    dz = act_backward(act, dy, z, param)
    return dz @ _d(w).T, _d(x).T @ dz, dz.sum(axis=0)


# ------------------------------------------------------------------ finite differences

def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f at x (float64 array)."""
    x = _d(x).copy()
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f(x)
        flat[i] = old - eps
        fm = f(x)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g
