"""The oracle's own backward, checked by central finite differences."""
import numpy as np
import pytest

import reference as ref
from neuralcli.activations import ACTIVATIONS

ACTS = [n for n, a in ACTIVATIONS.items() if a.trainable]


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


# ------------------------------------------------------------------ losses and dropout

@pytest.mark.parametrize("name", ["mse", "mae", "bce_logits", "softmax_ce"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_backward_matches_finite_differences(name, weighted):
    rng = np.random.default_rng(3)
    n, k = 4, 3
    pred = 2 * rng.standard_normal((n, k))
    if name == "softmax_ce":
        target = rng.integers(0, k, n)
    elif name == "bce_logits":
        target = rng.random((n, k))
    else:
        # keep pred - target off mae's kink at 0
        target = pred + np.where(rng.random((n, k)) < 0.5, -1, 1) * rng.uniform(0.1, 1, (n, k))
    sw = rng.uniform(0.1, 2, n) if weighted else None
    cw = rng.uniform(0.1, 2, k) if weighted and name == "softmax_ce" else None
    got = ref.loss_backward(name, pred, target, sw, cw)
    num = ref.numeric_grad(lambda v: ref.loss_forward(name, v, target, sw, cw), pred)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)


def test_dropout_backward_matches_finite_differences():
    rng = np.random.default_rng(4)
    x, up = rng.standard_normal(9), rng.standard_normal(9)
    mask = rng.random(9) >= 0.4
    got = ref.dropout_backward(up, mask, 0.4)
    num = ref.numeric_grad(lambda v: float((ref.dropout_forward(v, mask, 0.4) * up).sum()), x)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)
