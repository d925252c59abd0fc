"""R² and the regression baselines at their edges: float32 and integer inputs scored in
float64, targets of small spread, constant targets, weights merged over chunks, and the
baselines' shapes, means and errors. Compared with scikit-learn where it is installed and
with the closed forms otherwise."""
import numpy as np
import pytest

from neuralcli import metrics
from neuralcli.metrics import R2Sum as _R2


def r2_score(y, pred, w=None):
    """R² as training takes it: R2Sum over one chunk, with no check of the weights."""
    acc = _R2()
    acc.add(y, pred, w)
    return acc.score()


def _r2_oracle(y, pred, w=None):
    """Mean over outputs of 1 - SS_res/SS_tot in float64; constant outputs score 1.0 when
    predicted exactly, else 0.0 (scikit-learn's force_finite)."""
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, np.float64).reshape(len(y), -1)
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    mean = (w[:, None] * y).sum(0) / w.sum()
    res = (w[:, None] * (y - pred) ** 2).sum(0)
    tot = (w[:, None] * (y - mean) ** 2).sum(0)
    out = [1 - r / t if t > 0 else (0.0 if r > 0 else 1.0) for r, t in zip(res, tot)]
    return float(np.mean(out))


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_r2_of_float32_and_integer_inputs_is_taken_in_float64(dtype):
    rng = np.random.default_rng(0)
    y = (rng.standard_normal((40, 2)) * 1000 + 7).astype(dtype)
    pred = (y + rng.standard_normal(y.shape) * 300).astype(dtype)
    w = rng.uniform(0.5, 2.0, 40).astype(np.float32)
    want = _r2_oracle(y, pred, w)
    assert abs(r2_score(y, pred, w) - want) < 1e-14
    assert abs(metrics.r2(y, pred, w) - want) < 1e-14
    r2 = _R2()
    r2.add(y[:13], pred[:13], w[:13])
    r2.add(y[13:], pred[13:], w[13:])
    assert abs(r2.score() - want) < 1e-13


def test_r2_of_a_small_spread_and_of_constant_outputs():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 0.01, (30, 3))           # SS_tot far below 1
    y[:, 1] = 5.0                               # constant, predicted exactly below
    pred = y + rng.standard_normal(y.shape) * 0.002
    pred[:, 1] = 5.0
    want = _r2_oracle(y, pred)
    assert 0 < want < 1
    assert abs(r2_score(y, pred) - want) < 1e-13
    assert abs(metrics.r2(y, pred) - want) < 1e-13
    pred[:, 1] = 5.5                            # constant, predicted wrong: 0
    want = _r2_oracle(y, pred)
    assert abs(r2_score(y, pred) - want) < 1e-13
    assert abs(metrics.r2(y, pred) - want) < 1e-13
    assert r2_score(np.full(4, 2.0), np.full(4, 2.0)) == 1.0
    assert r2_score(np.full(4, 2.0), np.full(4, 2.5)) == 0.0


def test_r2_chunks_whose_weights_sum_to_one_or_zero():
    rng = np.random.default_rng(2)
    y = rng.standard_normal(9)
    pred = y + 0.5 * rng.standard_normal(9)
    w = np.array([0.25, 0.75, 0.0, 0.0, 2.0, 1.0, 0.5, 0.5, 3.0])
    r2 = _R2()
    for lo, hi in [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]:  # sums 1, 0, 3, 1, 3
        r2.add(y[lo:hi], pred[lo:hi], w[lo:hi])
    assert abs(r2.score() - _r2_oracle(y, pred, w)) < 1e-13
    with_sklearn = pytest.importorskip("sklearn.metrics")
    assert abs(r2.score() - with_sklearn.r2_score(y, pred, sample_weight=w)) < 1e-13


def test_r2_is_none_below_two_samples():
    assert metrics.r2([1.0], [2.0]) is None
    assert metrics.regression_report([1.0], [2.0])["r2"] is None


def test_baseline_regression_predicts_the_weighted_mean():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 10.0], [8.0, 40.0]])
    w = np.array([1.0, 0.0, 2.0, 1.0])
    rep = metrics.baseline_regression(y, sample_weight=w)
    mean = (w[:, None] * y).sum(0) / w.sum()
    assert rep["n_samples"] == 4 and rep["n_outputs"] == 2
    assert rep["r2"] == 0.0
    want_mse = ((w[:, None] * (y - mean) ** 2).sum(0) / w.sum()).mean()
    assert rep["mse"] == pytest.approx(want_mse, rel=1e-15)
    assert rep["mae"] == pytest.approx(((w[:, None] * abs(y - mean)).sum(0) / w.sum()).mean(),
                                       rel=1e-15)


def test_baseline_regression_with_a_given_mean():
    y = np.array([1.0, 3.0, 5.0])
    rep = metrics.baseline_regression(y, mean=2.0)
    assert rep["n_outputs"] == 1
    assert rep["mse"] == pytest.approx((1 + 1 + 9) / 3, rel=1e-15)
    assert rep["r2"] == pytest.approx(1 - 11 / 8, rel=1e-15)
    y2 = np.column_stack([y, 2 * y])
    per_output = metrics.baseline_regression(y2, mean=[3.0, 6.0])
    assert per_output["r2"] == 0.0 and per_output["n_outputs"] == 2
    one = metrics.baseline_regression(y2, mean=[3.0])       # one value for every output
    assert one["mse"] == pytest.approx((8 / 3 + (1 + 9 + 49) / 3) / 2, rel=1e-15)
    m = np.float32(2.3)                         # taken as the float64 of its float32 value
    ints = metrics.baseline_regression(np.array([1, 2, 4]), mean=m)
    m = float(m)
    assert ints["mse"] == pytest.approx(((1 - m) ** 2 + (2 - m) ** 2 + (4 - m) ** 2) / 3,
                                        rel=1e-15)
    assert metrics.baseline_regression(np.full(3, 7.0))["r2"] == 1.0


@pytest.mark.parametrize("y,kw,message", [
    (np.zeros(0), {}, r"y_true must be a non-empty \(N,\) or \(N, K\) array, got \(0,\)"),
    (np.zeros((2, 2, 2)), {}, "non-empty"),
    (np.zeros((3, 2)), {"mean": [1.0, 2.0, 3.0]}, "mean must be a scalar or 2 values, got 3"),
    (np.zeros((3, 2)), {"mean": [1.0, 2.0], "sample_weight": [1.0, 1.0]},
     r"sample_weight must have shape \(3,\)"),
])
def test_baseline_regression_errors(y, kw, message):
    with pytest.raises(ValueError, match=message):
        metrics.baseline_regression(y, **kw)


def test_class_prior_names_its_argument():
    assert metrics.class_prior([0, 2, 2, 1], 3) == [0.25, 0.25, 0.5]
    assert metrics.class_prior([0, 2], 3, sample_weight=[3.0, 1.0]) == [0.75, 0.0, 0.25]
    with pytest.raises(ValueError, match=r"^y holds class 3, outside 0..2$"):
        metrics.class_prior([0, 3], 3)


def test_regression_figures_of_float32_inputs_are_taken_in_float64():
    rng = np.random.default_rng(3)
    y = (rng.standard_normal((25, 2)) * 1000).astype(np.float32)
    p = (y + rng.standard_normal(y.shape) * 100).astype(np.float32)
    w = rng.uniform(0.5, 2.0, 25)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    rep = metrics.regression_report(y, p, w)
    assert rep == {"n_samples": 25, "n_outputs": 2, "mse": metrics.mse(y64, p64, w),
                   "rmse": metrics.rmse(y64, p64, w), "mae": metrics.mae(y64, p64, w),
                   "r2": metrics.r2(y64, p64, w)}
    per = (w[:, None] * (y64 - p64) ** 2).sum(0) / w.sum()
    assert rep["mse"] == pytest.approx(per.mean(), rel=1e-15)
    assert rep["rmse"] == pytest.approx(np.sqrt(per).mean(), rel=1e-15)
    assert rep["mae"] == pytest.approx(((w[:, None] * abs(y64 - p64)).sum(0) / w.sum()).mean(),
                                       rel=1e-15)
    plain = metrics.regression_report(y, p)
    assert plain["rmse"] != rep["rmse"] and plain["mae"] != rep["mae"]


@pytest.mark.parametrize("y,p,message", [
    ([], [], "y_true is empty"),
    ([1.0, 2.0], [1.0, np.nan], "y_true or y_pred holds NaN or infinite values"),
    ([np.inf, 2.0], [1.0, 2.0], "y_true or y_pred holds NaN"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "must both be"),
])
def test_regression_figures_refuse_bad_targets(y, p, message):
    with pytest.raises(ValueError, match=message):
        metrics.mse(y, p)


@pytest.mark.parametrize("fn", [metrics.confusion_matrix, metrics.precision_recall_f1])
def test_class_figures_name_the_bad_argument(fn):
    with pytest.raises(ValueError, match=r"^y_pred holds class 4, outside 0..2$"):
        fn([0, 1, 2], [0, 4, 2], 3)
    with pytest.raises(ValueError, match=r"^y_true holds class -1, outside 0..2$"):
        fn([0, -1, 2], [0, 1, 2], 3)


def test_class_labels_in_the_forms_users_pass():
    y = np.array([0, 2, 1, 2])
    p = np.array([0, 1, 1, 2])
    want = metrics.confusion_matrix(y, p, 3)
    assert want == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    for yt in (y.reshape(-1, 1), y.astype(np.float32), y.astype(np.uint8), y.tolist()):
        assert metrics.confusion_matrix(yt, p, 3) == want
    assert metrics.confusion_matrix([True, False], [1, 1], 2) == [[0, 1], [0, 1]]
    assert metrics.confusion_matrix([0, 0, 0], [0, 0, 0], 1) == [[3]]
    assert metrics.accuracy(y.reshape(-1, 1), p) == 0.75
    assert metrics.accuracy([1], [1]) == 1.0


@pytest.mark.parametrize("y,n,message", [
    ([], 3, "^y_true is empty$"),
    ([[0, 1], [1, 0]], 3, r"^y_true must be 1-D class indices, got shape \(2, 2\)$"),
    (np.zeros((2, 1, 1)), 3, "must be 1-D class indices"),
    ([0.0, 1.5], 3, "^y_true must hold integer class indices$"),
    ([0.0, np.nan], 3, "must hold integer class indices"),
    ([0.0, np.inf], 3, "must hold integer class indices"),
    (["a", "b"], 3, "must hold integer class indices"),
    ([0, 1], 0, "^n_classes must be at least 1, got 0$"),
])
def test_class_labels_refused(y, n, message):
    with pytest.raises(ValueError, match=message):
        metrics.confusion_matrix(y, np.zeros(len(y), int) if len(y) else [], n)


def test_baseline_classification_normalizes_the_prior():
    y = [0, 1, 1, 1]
    rep = metrics.baseline_classification(y, 2, prior=[2.0, 6.0])
    assert rep["accuracy"] == 0.75
    want = -np.mean(np.log([0.25, 0.75, 0.75, 0.75]))
    assert rep["log_loss"] == pytest.approx(want, rel=1e-15)
    assert metrics.baseline_classification(y, 2, prior=[1, 3])["log_loss"] == rep["log_loss"]


@pytest.mark.parametrize("prior", [[0.5, -0.1], [0.0, 0.0], [np.nan, 1.0], [np.inf, 1.0]])
def test_baseline_classification_refuses_a_bad_prior(prior):
    with pytest.raises(ValueError, match="^prior must be finite, non-negative and not all zero$"):
        metrics.baseline_classification([0, 1], 2, prior=prior)


def test_counts_are_ints_unweighted_and_floats_weighted():
    y, p = [0, 1, 1, 2], [0, 1, 2, 2]
    cm = metrics.confusion_matrix(y, p, 3)
    assert all(type(v) is int for row in cm for v in row)
    rep = metrics.classification_report(y, np.eye(3)[p], 3)
    assert rep["support"] == [1, 2, 1] and all(type(v) is int for v in rep["support"])
    w = [0.5, 1.25, 1.0, 2.0]
    cmw = metrics.confusion_matrix(y, p, 3, sample_weight=w)
    assert cmw == [[0.5, 0.0, 0.0], [0.0, 1.25, 1.0], [0.0, 0.0, 2.0]]
    assert all(type(v) is float for row in cmw for v in row)
    repw = metrics.classification_report(y, np.eye(3)[p], 3, sample_weight=w)
    assert repw["support"] == [0.5, 2.25, 2.0]


def test_log_loss_of_float32_and_certain_probabilities_is_scikit_learns():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    p = rng.dirichlet([1.0, 1.0, 1.0], 30)
    p[:10] = np.eye(3)[np.arange(10) % 3]              # certain and right
    y = np.arange(30) % 3
    assert metrics.log_loss(y, p, 3) == sk.log_loss(y, p, labels=[0, 1, 2])
    p32 = p.astype(np.float32)
    assert metrics.log_loss(y, p32, 3) == metrics.log_loss(y, p32.astype(np.float64), 3)


def test_r2_of_float32_targets_without_weights():
    rng = np.random.default_rng(6)
    y = (rng.standard_normal(40) * 1000 + 5000).astype(np.float32)
    p = (y + rng.standard_normal(40) * 200).astype(np.float32)
    want = _r2_oracle(y, p)
    assert abs(metrics.r2(y, p) - want) < 1e-14
    assert abs(metrics.r2(y, p.astype(np.float64)) - want) < 1e-14


def test_roc_auc_skips_a_class_whose_weight_is_zero():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    y = np.arange(60) % 3
    p = rng.dirichlet([1.0, 1.0, 1.0], 60)
    w = np.where(y == 2, 0.0, rng.uniform(0.5, 2.0, 60))
    want = np.mean([sk.roc_auc_score(y == k, p[:, k], sample_weight=w) for k in (0, 1)])
    assert abs(metrics.roc_auc(y, p, 3, sample_weight=w) - want) < 1e-14
    assert metrics.roc_auc(y, p, 3, sample_weight=np.where(y == 0, 1.0, 0.0)) is None
