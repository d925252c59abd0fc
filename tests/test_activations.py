"""Activation kernels against the oracle, finite differences and PyTorch, in both dtypes,
at 1 and 2 threads, for every activation of the table."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, tolerance
from neuralcli import kernels as K
from neuralcli.activations import ACTIVATIONS

ACTS = [name for name, a in ACTIVATIONS.items() if a.trainable]
FORWARD_ONLY = [name for name, a in ACTIVATIONS.items() if not a.trainable]
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 1), (3, 7), (17, 33), (300, 129)]


def _z(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS + FORWARD_ONLY)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_oracle(act, dtype, shape):
    z = _z(shape, dtype)
    rtol, atol = tolerance(dtype, 4)
    assert_close(K.activation_forward(act, z), ref.act_forward(act, z), rtol, atol, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_oracle(act, dtype, shape):
    z = _z(shape, dtype, 1)
    dy = _z(shape, dtype, 2)
    y = K.activation_forward(act, z)
    got = K.activation_backward(act, dy, y, z)
    rtol, atol = tolerance(dtype, 8)
    assert_close(got, ref.act_backward(act, dy, z), rtol, atol, act)


@pytest.mark.parametrize("act", ACTS)
def test_backward_matches_finite_differences(act):
    """The kernels' own backward against central differences of their own forward, in
    float64, away from the relu family's kinks."""
    rng = np.random.default_rng(6)
    z = rng.standard_normal((4, 7)) * 2
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    up = rng.standard_normal(z.shape)
    got = K.activation_backward(act, up, K.activation_forward(act, z), z)
    num = ref.numeric_grad(lambda zz: float((K.activation_forward(act, zz) * up).sum()), z)
    assert_close(got, num, 1e-6, 1e-8, act)


@pytest.mark.parametrize("act", ACTS)
def test_matches_torch(act):
    """Forward and autograd's backward of PyTorch's function, in float64."""
    torch = pytest.importorskip("torch")
    fn = ref.torch_activation(act)
    assert fn is not None, f"tests/reference.py names no PyTorch function for {act}"
    z = _z((37, 19), np.float64, 5)
    dy = _z((37, 19), np.float64, 6)
    tz = torch.tensor(z, requires_grad=True)
    ty = fn(tz)
    ty.backward(torch.tensor(dy))
    y = K.activation_forward(act, z)
    assert_close(y, ty.detach().numpy(), 1e-12, 1e-14, f"{act} vs torch")
    assert_close(K.activation_backward(act, dy, y, z), tz.grad.numpy(), 1e-11, 1e-13,
                 f"{act} backward vs torch")


@pytest.mark.parametrize("act", [n for n in ACTS if ACTIVATIONS[n].param])
def test_parameter_is_used(act):
    z = _z((4, 5), np.float64)
    y = K.activation_forward(act, z, param=0.3)
    assert_close(y, ref.act_forward(act, z, 0.3), 1e-12, 1e-14, act)
    dz = K.activation_backward(act, np.ones_like(z), y, param=0.3)
    assert_close(dz, ref.act_backward(act, np.ones_like(z), z, 0.3), 1e-12, 1e-14, act)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes_stay_finite(dtype):
    z = np.array([[-1e4, -100, -1, 0, 1, 100, 1e4]], dtype=dtype)
    for act in ACTS + FORWARD_ONLY:
        y = K.activation_forward(act, z)
        assert np.isfinite(y).all(), act
        if act in ACTS:
            assert np.isfinite(K.activation_backward(act, np.ones_like(z), y, z)).all(), act
    s = K.activation_forward("sigmoid", z)
    assert s[0, 0] == 0 and s[0, -1] == 1
    sm = K.activation_forward("softmax", z)
    assert sm[0, -1] == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (40, 9), (300, 129)])
def test_softmax_wide_logits_max_off_column_zero(dtype, shape):
    """Rows spanning more than 90 with the maximum away from column 0: only the shift by
    the row maximum keeps float32 exp finite."""
    n, k = shape
    rng = np.random.default_rng(3)
    z = rng.uniform(-47, 37, shape)
    z[np.arange(n), rng.integers(1, k, n)] = 47.5
    z[:, 0] = -48
    z = z.astype(dtype)
    y = K.activation_forward("softmax", z)
    assert np.isfinite(y).all()
    rtol, atol = tolerance(dtype, 4)
    assert_close(y, ref.act_forward("softmax", z), rtol, atol, "softmax")
    dy = _z(shape, dtype, 4)
    assert_close(K.activation_backward("softmax", dy, y, z), ref.act_backward("softmax", dy, z),
                 *tolerance(dtype, 8), "softmax backward")


def test_relu_passes_nan_through():
    z = np.array([[np.nan, -1.0, 2.0]])
    y = K.activation_forward("relu", z)
    assert np.isnan(y[0, 0]) and y[0, 1] == 0 and y[0, 2] == 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_at_zero_is_one(dtype):
    """The perceptron's step is 1 for z >= 0, so an exact zero (either sign) fires."""
    z = np.array([[0.0, -0.0, -1e-30, 1e-30, -2.0, 3.0]], dtype)
    y = K.activation_forward("step", z)
    assert_bitwise_equal(y, np.array([[1, 1, 0, 1, 0, 1]], dtype), "step")
    assert_bitwise_equal(y, ref.act_forward("step", z).astype(dtype), "step vs oracle")


@pytest.mark.parametrize("act", ACTS)
def test_bitwise_equal_across_thread_counts(act, threads):
    z = _z((700, 257), np.float32, 3)
    dy = _z((700, 257), np.float32, 4)
    out = []
    for n in (1, 2):
        threads(n)
        y = K.activation_forward(act, z)
        out.append((y, K.activation_backward(act, dy, y, z)))
    assert_bitwise_equal(out[0][0], out[1][0], act)
    assert_bitwise_equal(out[0][1], out[1][1], act)


def test_step_has_no_backward():
    z = _z((2, 2), np.float64)
    with pytest.raises(ValueError, match="forward only"):
        K.activation_backward("step", z, z)


def test_gelu_backward_needs_z():
    z = _z((2, 2), np.float64)
    with pytest.raises(ValueError, match="pre-activation"):
        K.activation_backward("gelu", z, z)


def test_bad_inputs_raise_clear_errors():
    z = _z((2, 3), np.float32)
    with pytest.raises(ValueError, match="unknown activation"):
        K.activation_forward("mish", z)
    with pytest.raises(TypeError, match="float32 or float64"):
        K.activation_forward("relu", z.astype(np.int32))
    with pytest.raises(TypeError, match="share one dtype"):
        K.activation_backward("relu", z, z.astype(np.float64))
    with pytest.raises(ValueError, match="shape"):
        K.activation_backward("relu", z, z[:, :2])


def test_non_contiguous_input_is_handled():
    z = _z((6, 8), np.float64)
    view = z[::2, ::3]
    assert_close(K.activation_forward("tanh", view), np.tanh(view), 1e-14, 1e-15, "tanh")


def test_gelu_matches_torch():
    """PyTorch's float32 gelu is itself off by up to ~8e-7 in the negative tail, where
    1 + erf(z) cancels; against the float64 oracle ours stays within 3e-7."""
    torch = pytest.importorskip("torch")
    z = _z((64, 33), np.float32)
    got = K.activation_forward("gelu", z)
    want = torch.nn.functional.gelu(torch.from_numpy(z)).numpy()
    assert_close(got, want, 1e-6, 1.5e-6, "gelu vs torch")
    assert_close(got, ref.act_forward("gelu", z), 1e-6, 3e-7, "gelu vs oracle")
