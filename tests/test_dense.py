"""The fused dense layer against the oracle: forward with bias and activation in the
GEMM write-back, backward with dz and db in one pass."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close
from neuralcli import kernels as K
from neuralcli.activations import ACTIVATIONS

ACTS = [n for n, a in ACTIVATIONS.items() if a.trainable]
DTYPES = [np.float32, np.float64]
# (N, C, OC): straddling tile and stripe edges, plus a first layer of width 2 and an
# output layer of width 1
SHAPES = [(1, 1, 1), (5, 3, 7), (33, 17, 65), (130, 64, 129), (500, 2, 64), (500, 64, 1)]


def _tol(dtype, k):
    if dtype == np.float32:
        return 3e-5 * np.sqrt(k + 1), 3e-6 * np.sqrt(k + 1)
    return 1e-11, 1e-12


def _layer(shape, dtype, seed=0):
    n, c, oc = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)).astype(dtype)
    w = (rng.standard_normal((c, oc)) / np.sqrt(c)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS + ["step"])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_oracle(act, dtype, shape):
    x, w, b = _layer(shape, dtype)
    y, z = K.dense_forward(x, w, b, act, return_z=True)
    want_y, want_z = ref.dense_forward(x, w, b, act)
    rtol, atol = _tol(dtype, shape[1])
    assert_close(z, want_z, rtol, atol, f"{act} z")
    if act != "step":  # step flips on z's last-bit rounding near 0
        assert_close(y, want_y, rtol, atol, f"{act} y")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_oracle(act, dtype, shape):
    x, w, b = _layer(shape, dtype, 1)
    y, z = K.dense_forward(x, w, b, act, return_z=True)
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    dx, dw, db = K.dense_backward(dy, x, w, y, z, act)
    # the oracle gets the kernel's own z so that relu-family kinks agree exactly
    want = ref.dense_backward(dy, x, w, z, act)
    n, c, oc = shape
    for got, exp, name, k in ((dx, want[0], "dx", oc), (dw, want[1], "dw", n), (db, want[2], "db", n)):
        rtol, atol = _tol(dtype, k)
        assert_close(got, exp, rtol, atol, f"{act} {name}")


def test_bias_may_be_absent():
    x, w, _ = _layer((9, 4, 6), np.float64)
    assert_close(K.dense_forward(x, w, None, "tanh"), np.tanh(x @ w), 1e-13, 1e-14, "no bias")


def test_first_layer_skips_dx():
    x, w, b = _layer((9, 4, 6), np.float64)
    y = K.dense_forward(x, w, b, "relu")
    dx, dw, db = K.dense_backward(np.ones_like(y), x, w, y, None, "relu", need_dx=False)
    assert dx is None and dw.shape == (4, 6) and db.shape == (6,)


@pytest.mark.parametrize("act", ["relu", "gelu", "softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_equal_across_thread_counts(act, dtype, threads):
    x, w, b = _layer((257, 300, 190), dtype, 2)
    dy = np.random.default_rng(7).standard_normal((257, 190)).astype(dtype)
    runs = []
    for n in (1, 2):
        threads(n)
        y, z = K.dense_forward(x, w, b, act, return_z=True)
        runs.append((y, z) + K.dense_backward(dy, x, w, y, z, act))
    for a, b_, name in zip(runs[0], runs[1], ["y", "z", "dx", "dw", "db"]):
        assert_bitwise_equal(a, b_, f"{act} {name}")


def test_shape_errors_are_clear():
    x, w, b = _layer((4, 3, 2), np.float32)
    with pytest.raises(ValueError, match="do not chain"):
        K.dense_forward(x, w.T.copy(), b)
    with pytest.raises(ValueError, match="shape"):
        K.dense_forward(x, w, b[:1])
    with pytest.raises(TypeError, match="share one dtype"):
        K.dense_forward(x, w.astype(np.float64), b)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "gelu", "elu", "leaky_relu"])
def test_matches_torch_autograd(act):
    torch = pytest.importorskip("torch")
    x, w, b = _layer((37, 19, 23), np.float64, 3)
    dy = np.random.default_rng(9).standard_normal((37, 23))
    y, z = K.dense_forward(x, w, b, act, return_z=True)
    dx, dw, db = K.dense_backward(dy, x, w, y, z, act)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
          "gelu": torch.nn.functional.gelu, "elu": torch.nn.functional.elu,
          "leaky_relu": torch.nn.functional.leaky_relu}[act]
    ty = fn(tx @ tw + tb)
    ty.backward(torch.tensor(dy))
    assert_close(y, ty.detach().numpy(), 1e-12, 1e-13, "y")
    for got, t, name in ((dx, tx, "dx"), (dw, tw, "dw"), (db, tb, "db")):
        assert_close(got, t.grad.numpy(), 1e-11, 1e-12, name)
