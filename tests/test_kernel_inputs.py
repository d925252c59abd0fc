"""Awkward inputs to the public kernel entry points: handled correctly, or a clear
TypeError / ValueError. Never a crash."""
import numpy as np
import pytest

from helpers import assert_close
from neuralcli import kernels as K


def _rand(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _misaligned(a):
    """A copy of a whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layouts_are_handled(dtype):
    a, b = _rand((37, 23), dtype), _rand((23, 41), dtype, 1)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = (2e-5, 2e-5) if dtype == np.float32 else (1e-12, 1e-12)
    big = _rand((74, 46), dtype, 2)
    big[::2, ::2] = a
    strided = big[::2, ::2]
    assert not (strided.flags.c_contiguous or strided.flags.f_contiguous)
    cases = {
        "fortran": (np.asfortranarray(a), np.asfortranarray(b)),
        "strided": (strided, b[:, :]),
        "column-strided": (np.repeat(a, 2, axis=1)[:, ::2], b),
        "misaligned": (_misaligned(a), _misaligned(b)),
        "read-only": (a.copy(), b.copy()),
    }
    cases["read-only"][0].flags.writeable = False
    cases["read-only"][1].flags.writeable = False
    for name, (x, y) in cases.items():
        assert_close(K.gemm(x, y), want, *tol, name=name)
    # transposed views become the transpose flag instead of a copy
    assert_close(K.gemm(b.T, a.T), want.T, *tol, name="views of transposes")


def test_views_reach_the_core_in_place(monkeypatch):
    """Views whose rows or columns are contiguous, out included, go to the shim as they
    are; a view with neither is copied first."""
    from neuralcli import _kernels

    seen = []
    real = _kernels.gemm

    def spy(c, a, b, *rest):
        seen.append((c, a, b))
        return real(c, a, b, *rest)

    monkeypatch.setattr(_kernels, "gemm", spy)
    big = _rand((40, 30))
    a, b = big[:7, :5], big[10:15, :9].T.copy().T
    out = np.asfortranarray(np.zeros((7, 9)))
    K.gemm(a, b, out=out)
    assert_close(out, a @ b, 1e-12, 1e-12, name="padded rows, columns, Fortran out")
    c, a_in, b_in = seen[-1]
    assert c is out and a_in is a and b_in is b
    K.gemm(big[::2, ::2][:7, :5], b)
    assert not np.shares_memory(seen[-1][1], big)


def test_out_and_beta():
    a, b = _rand((5, 4)), _rand((4, 3), seed=1)
    c = _rand((5, 3), seed=2)
    out = c.copy()
    got = K.gemm(a, b, alpha=2.0, beta=0.5, out=out)
    assert got is out
    assert_close(out, 2 * a @ b + 0.5 * c, 1e-12, 1e-12)
    strided = np.zeros((5, 6))[:, ::2]
    K.gemm(a, b, out=strided)
    assert_close(strided, a @ b, 1e-12, 1e-12, name="strided out")


@pytest.mark.parametrize("a,b,err,match", [
    (np.ones((3, 3), np.int64), np.ones((3, 3)), TypeError, "float32 or float64"),
    (np.ones((3, 3), np.float16), np.ones((3, 3), np.float16), TypeError, "float32 or float64"),
    (np.ones((3, 3), np.float32), np.ones((3, 3)), TypeError, "share one dtype"),
    (np.ones(3), np.ones((3, 3)), ValueError, "2-D"),
    (np.ones((2, 3, 3)), np.ones((3, 3)), ValueError, "2-D"),
    (np.ones((3, 4)), np.ones((3, 4)), ValueError, "inner dimensions"),
    ([[1.0]], np.ones((1, 1)), TypeError, "numpy array"),
])
def test_bad_operands(a, b, err, match):
    with pytest.raises(err, match=match):
        K.gemm(a, b)


def test_bad_out():
    a, b = np.ones((3, 2)), np.ones((2, 4))
    with pytest.raises(ValueError, match="shape"):
        K.gemm(a, b, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="dtype"):
        K.gemm(a, b, out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.gemm(a, b, out=ro)
    with pytest.raises(ValueError, match="needs out"):
        K.gemm(a, b, beta=1.0)


@pytest.mark.parametrize("shape", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1)])
def test_degenerate_sizes(shape):
    m, n, k = shape
    a, b = np.ones((m, k)), np.ones((k, n))
    assert_close(K.gemm(a, b), a @ b, 0, 0)


def test_dense_and_activation_inputs():
    x, w, b = _rand((6, 4)), _rand((4, 3), seed=1), _rand(3, seed=2)
    y = K.dense_forward(_misaligned(x), np.asfortranarray(w), b, "tanh")
    assert_close(y, np.tanh(x @ w + b), 1e-12, 1e-12)
    with pytest.raises(TypeError, match="share one dtype"):
        K.dense_forward(x.astype(np.float32), w, b)
    with pytest.raises(ValueError, match="do not chain"):
        K.dense_forward(x, w.T.copy(), b)
    with pytest.raises(TypeError):
        K.activation_forward("relu", x.astype(np.int32))
    rows = np.zeros((6, 9))
    rows[:, :4] = x
    assert_close(K.activation_forward("relu", rows[:, :4]), np.maximum(x, 0), 0, 0,
                 name="a view of longer rows")


def test_loss_inputs():
    logits = _rand((5, 3))
    with pytest.raises(ValueError):
        K.loss("softmax_ce", logits, np.array([0, 1, 2, 3, 0]))  # label 3 of 3 classes
    with pytest.raises(ValueError):
        K.loss("mse", logits, _rand((5, 2)))
    with pytest.raises((TypeError, ValueError)):
        K.loss("nope", logits, logits)


def test_misaligned_inputs_are_copied_before_the_core_sees_them(monkeypatch):
    from neuralcli import _kernels

    seen = []
    real = _kernels.gemm

    def spy(c, a, b, *rest):
        seen.extend(np.asarray(m).ctypes.data % np.asarray(m).itemsize for m in (a, b))
        return real(c, a, b, *rest)

    monkeypatch.setattr(_kernels, "gemm", spy)
    a, b = _rand((9, 5)), _rand((5, 7), seed=1)
    K.gemm(_misaligned(a), _misaligned(b))
    assert seen == [0, 0]
