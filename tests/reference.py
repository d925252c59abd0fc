"""The oracle: plain numpy float64 forward and backward for every op of the C core.

Written for clarity, not speed. Its backward functions are themselves checked by central
finite differences in tests/test_reference.py, so the chain kernel -> oracle -> calculus
is closed. Each backward takes the upstream gradient and returns the input gradients.
"""
import math

import numpy as np

from neuralcli.losses import loss_name

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
    if name == "swish":
        return z * act_forward("sigmoid", z)
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
    if name == "swish":
        s = act_forward("sigmoid", z)
        return dy * (s + z * s * (1 - s))
    raise ValueError(f"{name} has no backward")


def torch_activation(name, param=None):
    """PyTorch's function for the activation, for tests that have torch; None when it has
    none."""
    import torch
    F = torch.nn.functional
    if name == "leaky_relu":
        return lambda v: F.leaky_relu(v, 0.01 if param is None else param)
    if name == "elu":
        return lambda v: F.elu(v, 1.0 if param is None else param)
    if name == "softmax":
        return lambda v: torch.softmax(v, dim=1)
    return {"identity": lambda v: v, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "gelu": F.gelu, "swish": F.silu}.get(name)


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


# ------------------------------------------------------------------ losses

def _loss_parts(name, pred, target, sw, cw):
    """(per-row loss l_i, row weight s_i) of a loss; the value is sum s l / sum s."""
    name = loss_name(name)
    z = _d(pred)
    n = z.shape[0]
    s = np.ones(n) if sw is None else _d(sw).copy()
    if name == "cross_entropy":
        y = np.asarray(target, dtype=np.int64)
        if cw is not None:
            s = s * _d(cw)[y]
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        return lse - z[np.arange(n), y], s
    t = _d(target)
    if name == "mse":
        e = (z - t) ** 2
    elif name == "mae":
        e = np.abs(z - t)
    elif name == "bce":
        e = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    else:
        raise ValueError(name)
    return e.mean(axis=1), s


def loss_forward(name, pred, target, sw=None, cw=None):
    """Weighted mean loss sum_i s_i l_i / sum_i s_i (0 when the weights sum to 0).

    The names are losses.LOSSES's (or aliases). mse, mae, bce (on logits): pred and
    target (N,K), l_i the mean over row i. cross_entropy (softmax on logits): logits
    (N,K), integer labels (N,), s_i = sw_i * cw[label_i]."""
    l, s = _loss_parts(name, pred, target, sw, cw)
    w = s.sum()
    return 0.0 if w == 0 else float((s * l).sum() / w)


def loss_backward(name, pred, target, sw=None, cw=None):
    """d(loss_forward)/d(pred), shaped like pred."""
    name = loss_name(name)
    z = _d(pred)
    n, k = z.shape
    _, s = _loss_parts(name, pred, target, sw, cw)
    w = s.sum()
    if w == 0:
        return np.zeros_like(z)
    if name == "cross_entropy":
        y = np.asarray(target, dtype=np.int64)
        p = act_forward("softmax", z)
        p[np.arange(n), y] -= 1.0
        return s[:, None] * p / w
    t = _d(target)
    if name == "mse":
        d = 2 * (z - t)
    elif name == "mae":
        d = np.sign(z - t)
    else:
        d = act_forward("sigmoid", z) - t
    return s[:, None] * d / (k * w)


# ------------------------------------------------------------------ optimizers
# torch.optim's documented algorithms, one step; each returns the new (params, *state).

def sgd(p, v, g, lr, momentum=0.0, weight_decay=0.0, nesterov=False, grad_scale=1.0):
    p, g = _d(p), _d(g) * grad_scale
    v = np.zeros_like(p) if v is None else _d(v)
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        v = momentum * v + g
        g = g + momentum * v if nesterov else v
    return p - lr * g, v


def adam(p, m, v, g, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
         decoupled=False, grad_scale=1.0):
    p, m, v, g = _d(p), _d(m), _d(v), _d(g) * grad_scale
    if decoupled:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    p = p - (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + eps)
    return p, m, v


def rmsprop(p, v, buf, g, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            grad_scale=1.0):
    p, v, g = _d(p), _d(v), _d(g) * grad_scale
    buf = np.zeros_like(p) if buf is None else _d(buf)
    if weight_decay:
        g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    avg = np.sqrt(v) + eps
    if momentum:
        buf = momentum * buf + g / avg
        return p - lr * buf, v, buf
    return p - lr * g / avg, v, buf


# ------------------------------------------------------------------ dropout and norms

# Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
# SC 2011): two multipliers, two Weyl key increments, ten rounds.
_PHILOX_M = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_LO32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr, key):
    """The four 32-bit output words for counters ctr = (c0, c1, c2, c3) and key = (k0, k1);
    each may be an integer or an array of them (broadcast), as uint64 arrays."""
    c0, c1, c2, c3 = (np.asarray(v, dtype=np.uint64) & _LO32 for v in ctr)
    k0, k1 = (np.uint64(int(v) & 0xFFFFFFFF) for v in key)
    m0, m1 = np.uint64(_PHILOX_M[0]), np.uint64(_PHILOX_M[1])
    w0, w1 = np.uint64(_PHILOX_W[0]), np.uint64(_PHILOX_W[1])
    s32 = np.uint64(32)
    for _ in range(10):
        p0, p1 = m0 * c0, m1 * c2  # 32 x 32 bits: exact in 64
        c0, c1, c2, c3 = ((p1 >> s32) ^ c1 ^ k0, p1 & _LO32, (p0 >> s32) ^ c3 ^ k1, p0 & _LO32)
        k0, k1 = (k0 + w0) & _LO32, (k1 + w1) & _LO32
    return c0, c1, c2, c3


def dropout_mask(n, p, seed, step):
    """The keep-mask of n elements: element i takes lane i % 4 of the Philox block with
    counter (i // 4, step) and key seed, and is kept when those 32 bits u satisfy
    u / 2^32 >= p, i.e. u >= ceil(p * 2^32)."""
    q = np.arange((n + 3) // 4, dtype=np.uint64)
    words = philox4x32_10((q, q >> np.uint64(32), step & 0xFFFFFFFF, step >> 32),
                          (seed & 0xFFFFFFFF, seed >> 32))
    u = np.stack(words, axis=1).reshape(-1)[:n]
    thresh = math.ceil(float(p) * 2.0 ** 32) if p > 0 else 0
    return u >= np.uint64(thresh), u


def dropout_forward(x, mask, p):
    """Inverted dropout given the keep-mask: kept elements scaled by 1/(1-p)."""
    return np.where(np.asarray(mask, dtype=bool), _d(x) / (1 - p), 0.0)


def dropout_backward(dy, mask, p):
    return dropout_forward(dy, mask, p)


def sum_squares(x):
    return float(np.sum(_d(x) ** 2))
