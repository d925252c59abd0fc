"""The oracle's own backward, checked by central finite differences."""
import numpy as np
import pytest

import reference as ref

ACTS = ["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softmax"]


def _away_from_kinks(rng, shape):
    """Inputs kept off relu-family kinks, where a finite difference is meaningless."""
    z = rng.standard_normal(shape)
    return np.where(np.abs(z) < 1e-3, 0.5, z)


@pytest.mark.parametrize("act", ACTS)
def test_activation_backward_matches_finite_differences(act):
    rng = np.random.default_rng(1)
    z = _away_from_kinks(rng, (3, 5))
    up = rng.standard_normal((3, 5))
    got = ref.act_backward(act, up, z)
    num = ref.numeric_grad(lambda zz: float((ref.act_forward(act, zz) * up).sum()), z)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", "softmax"])
def test_dense_backward_matches_finite_differences(act):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    up = rng.standard_normal((4, 5))
    _, z = ref.dense_forward(x, w, b, act)
    dx, dw, db = ref.dense_backward(up, x, w, z, act)

    def loss(x_, w_, b_):
        return float((ref.dense_forward(x_, w_, b_, act)[0] * up).sum())

    np.testing.assert_allclose(dx, ref.numeric_grad(lambda v: loss(v, w, b), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, ref.numeric_grad(lambda v: loss(x, v, b), w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, ref.numeric_grad(lambda v: loss(x, w, v), b), rtol=1e-6, atol=1e-8)


def test_numeric_grad_catches_a_wrong_gradient():
    """The checker itself must fail on a wrong derivative."""
    z = np.linspace(-2, 2, 7).reshape(1, 7)
    num = ref.numeric_grad(lambda v: float(np.sin(v).sum()), z)
    assert np.abs(num - np.cos(z)).max() < 1e-8
    assert np.abs(num - np.sin(z)).max() > 0.1
