"""Losses: value and gradient against the float64 oracle and PyTorch, thread-count
independence, stability at extreme logits, and input checks."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, tolerance
from neuralcli import _kernels, kernels
from neuralcli.losses import ALIASES, LOSSES

DTYPES = [np.float32, np.float64]
POINTWISE = ["mse", "mae", "bce"]
ALL = POINTWISE + ["cross_entropy"]
# (N, K) straddling the reduction chunk edges: chunks hold >= 2048 elements of whole
# rows, at most 256 of them, so 600002 elements take the full 256 chunks.
SHAPES = [(1, 1), (1, 4), (7, 3), (2047, 1), (2048, 1), (2049, 1), (682, 3), (683, 3),
          (700, 3), (300001, 2)]
LARGE = (300001, 2)


def make(name, n, k, dtype, seed=0, weighted=False):
    """(pred, target, sample weights, class weights) for a loss."""
    rng = np.random.default_rng(seed + 7 * n + k)
    pred = (2 * rng.standard_normal((n, k))).astype(dtype)
    if name == "cross_entropy":
        target = rng.integers(0, k, n)
    elif name == "bce":
        target = rng.random((n, k)).astype(dtype)
    else:
        target = rng.standard_normal((n, k)).astype(dtype)
    sw = rng.uniform(0.1, 2.0, n).astype(dtype) if weighted else None
    cw = rng.uniform(0.1, 2.0, k).astype(dtype) if weighted and name == "cross_entropy" else None
    return pred, target, sw, cw


def check_against_oracle(name, pred, target, sw, cw, dtype, scale=1.0):
    value, grad = kernels.loss(name, pred, target, sample_weight=sw, class_weight=cw)
    rtol, atol = tolerance(dtype, scale)
    assert_close(value, ref.loss_forward(name, pred, target, sw, cw), rtol, atol,
                 f"{name} value")
    # the gradient of a mean is O(1/(N*K)); scale it to O(1) so atol means something
    n, k = pred.shape
    f = n if name == "cross_entropy" else n * k
    assert_close(grad * f, ref.loss_backward(name, pred, target, sw, cw) * f, rtol, atol,
                 f"{name} gradient")
    assert grad.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_oracle(name, shape, dtype, weighted):
    pred, target, sw, cw = make(name, *shape, dtype, weighted=weighted)
    check_against_oracle(name, pred, target, sw, cw, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_weights_separately(dtype):
    pred, target, sw, cw = make("cross_entropy", 2049, 5, dtype, weighted=True)
    check_against_oracle("cross_entropy", pred, target, sw, None, dtype)
    check_against_oracle("cross_entropy", pred, target, None, cw, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_probs_and_no_grad(dtype):
    pred, target, sw, cw = make("cross_entropy", 50, 4, dtype, weighted=True)
    probs = np.empty_like(pred)
    value, grad = kernels.loss("cross_entropy", pred, target, sample_weight=sw, class_weight=cw,
                               probs_out=probs)
    assert_close(probs, ref.act_forward("softmax", pred), *tolerance(dtype), "probs")
    # every combination of outputs gives the same value and the same gradient
    v2, none = kernels.loss("cross_entropy", pred, target, sample_weight=sw, class_weight=cw,
                            need_grad=False)
    assert none is None and v2 == value
    g3 = np.empty_like(pred)
    v3 = _kernels.softmax_ce(g3, None, pred, target.astype(np.int32), sw, cw)
    assert v3 == value
    assert_bitwise_equal(g3, grad, "gradient without probs")


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_no_grad_and_1d(name):
    pred, target, sw, _ = make(name, 33, 1, np.float64, weighted=True)
    value, grad = kernels.loss(name, pred, target, sample_weight=sw)
    v1, g1 = kernels.loss(name, pred[:, 0], target[:, 0], sample_weight=sw)
    assert v1 == value and g1.shape == (33,)
    assert_bitwise_equal(g1, grad[:, 0], "1-D gradient")
    v2, g2 = kernels.loss(name, pred, target, sample_weight=sw, need_grad=False)
    assert v2 == value and g2 is None


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_total_weight(name, dtype):
    pred, target, _, _ = make(name, 9, 3, dtype)
    value, grad = kernels.loss(name, pred, target, sample_weight=np.zeros(9, dtype))
    assert value == 0.0
    assert not grad.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_zero_total_weight_still_gives_probs(dtype):
    """With every row weighted 0 the loss is 0 and the gradient all zeros, but the
    probabilities are still the softmax of the logits."""
    pred, target, _, _ = make("cross_entropy", 9, 3, dtype)
    probs = np.full_like(pred, np.nan)
    value, grad = kernels.loss("cross_entropy", pred, target, sample_weight=np.zeros(9, dtype),
                               probs_out=probs)
    assert value == 0.0 and not grad.any()
    assert_close(probs, ref.act_forward("softmax", pred), *tolerance(dtype), "probs")


@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_total_weight_ignores_non_finite_predictions(name, dtype):
    """A batch whose rows all weigh 0 contributes nothing, whatever its predictions."""
    pred, target, _, _ = make(name, 9, 3, dtype)
    pred[2, 1] = np.inf
    value, grad = kernels.loss(name, pred, target, sample_weight=np.zeros(9, dtype))
    assert value == 0.0
    assert not grad.any(), "the gradient of a zero-weight batch is all zeros, not NaN"


@pytest.mark.parametrize("dtype", DTYPES)
def test_mae_subgradient_at_zero_is_zero(dtype):
    pred = np.array([[1.0, -2.0, 3.0]], dtype)
    target = np.array([[1.0, 0.0, 5.0]], dtype)
    _, grad = kernels.loss("mae", pred, target)
    assert_close(grad, [[0.0, -1 / 3, -1 / 3]], *tolerance(dtype), "mae gradient")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_equal(name, dtype, threads):
    pred, target, sw, cw = make(name, *LARGE, dtype, weighted=True)
    out = []
    for nt in (1, 2):
        threads(nt)
        value, grad = kernels.loss(name, pred, target, sample_weight=sw, class_weight=cw)
        out.append((np.array([value]), grad))
    assert_bitwise_equal(out[0][0], out[1][0], f"{name} value")
    assert_bitwise_equal(out[0][1], out[1][1], f"{name} gradient")


# ------------------------------------------------------------------ stability

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("big", [1e4, 1e30])
def test_bce_extreme_logits(dtype, big):
    z = np.array([[big, -big, big, -big, 0.0]], dtype)
    t = np.array([[1.0, 0.0, 0.0, 1.0, 0.5]], dtype)
    value, grad = kernels.loss("bce", z, t)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_close(value, ref.loss_forward("bce", z, t), *tolerance(dtype), "value")
    # sigmoid saturates to exactly 0 or 1: the gradient is (sigmoid(z) - t) / K
    assert_close(grad * 5, [[0.0, 0.0, 1.0, -1.0, 0.0]], *tolerance(dtype), "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("big", [1e4, 1e30])
def test_softmax_ce_extreme_logits(dtype, big):
    z = np.array([[big, -big, 0.0], [big, big, -big], [-big, -big, -big]], dtype)
    y = np.array([0, 2, 1])
    value, grad = kernels.loss("cross_entropy", z, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_close(value, ref.loss_forward("cross_entropy", z, y), *tolerance(dtype), "value")
    assert_close(grad * 3, ref.loss_backward("cross_entropy", z, y) * 3, *tolerance(dtype),
                 "gradient")


def _bce_grid(dtype):
    """Logits from 1e-30 to past where e^-|z| leaves the normal range, both signs, and 0."""
    top = 100.0 if dtype == np.float32 else 740.0
    mags = np.concatenate([np.geomspace(1e-30, 1.0, 200), np.linspace(1.0, top, 1500)])
    return np.concatenate([[0.0], mags, -mags]).astype(dtype)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs an 80-bit long double")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_bce_each_element_within_a_few_ulps(dtype, target):
    """Each element's loss max(z,0) - z t + log1p(e^-|z|) (the row weight one-hot picks
    it out of the mean) against long double, and its gradient sigmoid(z) - t within a few
    ulps of 1: the exponential and log1p are the core's own polynomials."""
    eps = np.finfo(dtype).eps / 2
    grid = _bce_grid(dtype)
    z = grid.reshape(-1, 1)
    t = np.full_like(z, target)
    worst = 0.0
    for i in range(len(grid)):
        sw = np.zeros(len(grid), dtype)
        sw[i] = 1
        value, grad = kernels.loss("bce", z, t, sample_weight=sw)
        zl = np.longdouble(grid[i])
        want = max(zl, 0) - zl * np.longdouble(target) + np.log1p(np.exp(-abs(zl)))
        if want < np.finfo(dtype).tiny:
            assert abs(value - want) <= 2 * np.finfo(dtype).smallest_subnormal, grid[i]
            continue
        worst = max(worst, float(abs(value - want) / want / eps))
        # sigmoid is within a few ulps of a number in [0, 1]; t's subtraction keeps that
        # absolute error
        gwant = 1 / (1 + np.exp(-zl)) - np.longdouble(target)
        assert abs(grad[i, 0] - gwant) <= 4 * eps, grid[i]
    assert worst <= 4, f"worst error {worst:.2f} ulps"


def wide_logits(n, k, dtype, span=95.0, seed=0):
    """Logits spanning more than `span` in every row, the row maximum in a column other
    than 0 and column 0 the row minimum: a shift by anything but the row maximum
    overflows exp in float32 (exp(89) > float32 max)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-span / 2, span / 2 - 10, (n, k))
    top = rng.integers(1, k, n)
    z[np.arange(n), top] = span / 2
    z[:, 0] = -span / 2 - 1
    assert (z.max(axis=1) - z.min(axis=1) > 90).all()
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k", [(5, 3), (64, 7), (2049, 4)])
def test_softmax_ce_wide_logits_max_off_column_zero(dtype, n, k):
    z = wide_logits(n, k, dtype)
    y = np.random.default_rng(1).integers(0, k, n)
    value, grad = kernels.loss("cross_entropy", z, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    rtol, atol = tolerance(dtype, 4)
    assert_close(value, ref.loss_forward("cross_entropy", z, y), rtol, atol, "value")
    assert_close(grad * n, ref.loss_backward("cross_entropy", z, y) * n, rtol, atol, "gradient")
    probs = np.empty_like(z)
    kernels.loss("cross_entropy", z, y, probs_out=probs)
    assert_close(probs, ref.act_forward("softmax", z), rtol, atol, "probabilities")


# ------------------------------------------------------------------ PyTorch

def _torch_loss(name, pred, target, sw, cw):
    """(value, grad) from torch.nn.functional for the same weighted mean."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z = torch.tensor(pred, requires_grad=True)
    if name == "cross_entropy":
        y = torch.tensor(target, dtype=torch.int64)
        w = None if cw is None else torch.tensor(cw)
        if sw is None:
            out = F.cross_entropy(z, y, weight=w)
        else:
            # CrossEntropyLoss has no per-sample weight: weigh the unreduced losses
            s = torch.tensor(sw) * (1 if w is None else w[y])
            out = (F.cross_entropy(z, y, weight=w, reduction="none") * torch.tensor(sw)).sum() \
                / s.sum()
    else:
        t = torch.tensor(target)
        if name == "mse":
            assert sw is None
            out = F.mse_loss(z, t)
        elif name == "mae":
            assert sw is None
            out = F.l1_loss(z, t)
        else:
            # torch's BCE weight is not normalized (mean of w*l over N*K): passing
            # s_i / mean(s) gives sum_i s_i l_i / sum_i s_i
            w = None if sw is None else torch.tensor(sw / sw.mean())[:, None]
            out = F.binary_cross_entropy_with_logits(z, t, weight=w)
    out.backward()
    return out.item(), z.grad.numpy()


TORCH_CASES = [("mse", False), ("mae", False), ("bce", False), ("bce", True),
               ("cross_entropy", False), ("cross_entropy", True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,weighted", TORCH_CASES)
def test_loss_matches_torch(name, weighted, dtype):
    pred, target, sw, cw = make(name, 513, 4, dtype, seed=3, weighted=weighted)
    want_v, want_g = _torch_loss(name, pred, target, sw, cw)
    value, grad = kernels.loss(name, pred, target, sample_weight=sw, class_weight=cw)
    rtol, atol = tolerance(dtype, 10)
    assert_close(value, want_v, rtol, atol, f"{name} value vs torch")
    f = grad.size
    assert_close(grad * f, want_g * f, rtol, atol, f"{name} gradient vs torch")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_class_weight_only_matches_torch(dtype):
    pred, target, _, cw = make("cross_entropy", 300, 6, dtype, seed=5, weighted=True)
    want_v, want_g = _torch_loss("cross_entropy", pred, target, None, cw)
    value, grad = kernels.loss("cross_entropy", pred, target, class_weight=cw)
    rtol, atol = tolerance(dtype, 10)
    assert_close(value, want_v, rtol, atol, "value vs torch")
    assert_close(grad * 300, want_g * 300, rtol, atol, "gradient vs torch")


# ------------------------------------------------------------------ bad input

def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        kernels.loss("hinge", np.zeros((2, 2)), np.zeros((2, 2)))


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_give_their_loss(alias):
    """The kernels' own names (bce_logits, softmax_ce) and the other aliases compute the
    table's loss they stand for, bit for bit."""
    name = ALIASES[alias]
    pred, target, sw, _ = make(name, 9, 3, np.float64, weighted=True)
    want = kernels.loss(name, pred, target, sample_weight=sw)
    got = kernels.loss(alias, pred, target, sample_weight=sw)
    assert got[0] == want[0]
    assert_bitwise_equal(got[1], want[1], alias)


@pytest.mark.parametrize("name", ALL)
def test_bad_dtype(name):
    pred, target, _, _ = make(name, 4, 3, np.float64)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.loss(name, pred.astype(np.int64), target)
    with pytest.raises(TypeError, match="share one dtype"):
        if name == "cross_entropy":
            _kernels.softmax_ce(np.empty((4, 3), np.float32), None, pred,
                                target.astype(np.int32), None, None)
        else:
            LOSSES[name].kernel(None, pred, target.astype(np.float32), None)


@pytest.mark.parametrize("name", POINTWISE)
def test_bad_shapes(name):
    pred, target, sw, _ = make(name, 4, 3, np.float64, weighted=True)
    with pytest.raises(ValueError, match="target has shape"):
        kernels.loss(name, pred, target[:3])
    with pytest.raises(ValueError, match="sample_weight has shape"):
        kernels.loss(name, pred, target, sample_weight=sw[:3])
    with pytest.raises(ValueError, match="gradient has shape"):
        LOSSES[name].kernel(np.empty((4, 2)), pred, target, None)
    with pytest.raises(ValueError, match="class_weight applies to cross_entropy only"):
        kernels.loss(name, pred, target, class_weight=np.ones(3))


def test_softmax_ce_bad_labels():
    pred = np.zeros((5, 3))
    for bad, idx in ((np.array([0, 1, 3, 0, 1]), 2), (np.array([0, -1, 2, 0, 1]), 1),
                     (np.array([0, 1, 2, 0, 2 ** 40]), 4)):
        with pytest.raises(ValueError, match=rf"labels\[{idx}\] = .* is outside \[0, 3\)"):
            kernels.loss("cross_entropy", pred, bad)
    # the shim checks too, so a direct caller never reads out of bounds
    with pytest.raises(ValueError, match=r"labels\[4\] = 7"):
        _kernels.softmax_ce(None, None, pred, np.array([0, 1, 2, 0, 7], np.int32), None, None)
    with pytest.raises(TypeError, match="int32"):
        _kernels.softmax_ce(None, None, pred, np.zeros(5, np.int64), None, None)
    with pytest.raises(TypeError, match="integers"):
        kernels.loss("cross_entropy", pred, np.zeros(5))
    with pytest.raises(ValueError, match="labels has shape"):
        kernels.loss("cross_entropy", pred, np.zeros(4, int))
    with pytest.raises(ValueError, match="class_weight has shape"):
        kernels.loss("cross_entropy", pred, np.zeros(5, int), class_weight=np.ones(2))


def test_non_contiguous_rejected_by_shim():
    a = np.zeros((4, 6))[:, ::2]
    with pytest.raises(ValueError):
        _kernels.mse(None, a, a, None)
    # the public wrapper copies instead
    value, _ = kernels.loss("mse", a, a)
    assert value == 0.0
