"""How the estimators turn the network's output into probabilities, labels and scores:
stable at extreme logits, no warnings where scikit-learn's give none, the fitted
attributes that record training as scikit-learn's do, and the scores used when
scikit-learn is not installed."""
import warnings

import numpy as np
import pytest

from helpers import run_python
from neuralcli import MLPClassifier, MLPRegressor


def _quiet(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kw)


def _blobs(k, n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.standard_normal((n, 3)) + 3.0 * y[:, None]
    return X, y


def _stable_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def test_softmax_probabilities_at_extreme_logits():
    X, y = _blobs(3)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X, y)
    clf._model.weights[-1][...] *= 1e4        # logits of order 1e4: exp overflows unshifted
    clf._model.biases[-1][...] = [300.0, -200.0, 100.0]
    logits = clf._model.forward(X).astype(np.float64)
    assert np.abs(logits).max() > 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = clf.predict_proba(X)
        logp = clf.predict_log_proba(X)      # some probabilities are exactly 0: log is -inf
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p, _stable_softmax(logits), rtol=1e-12, atol=1e-300)
    assert (p == 0).any() and np.isneginf(logp).any()
    assert np.array_equal(np.isneginf(logp), p == 0)
    assert np.array_equal(clf.predict(X), clf.classes_[logits.argmax(axis=1)])


def test_softmax_probabilities_per_row_of_modest_logits():
    # one large row must not shift the others: each row subtracts its own maximum
    X, y = _blobs(3)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X, y)
    clf._model.weights[-1][...] *= 2000
    logits = clf._model.forward(X).astype(np.float64)
    spread = logits.max(axis=1)
    assert spread.max() - spread.min() > 800  # unshareable by one shift
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p, _stable_softmax(logits), rtol=1e-12, atol=1e-300)


def test_binary_probabilities_at_extreme_logits():
    X, y = _blobs(2)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X, y)
    clf._model.weights[-1][...] *= 1e5
    z = clf._model.forward(X).astype(np.float64)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = clf.predict_proba(X)
    assert p.shape == (len(X), 2) and np.isfinite(p).all()
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-np.clip(z, -700, 700))),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.array_equal(clf.predict(X), clf.classes_[(z > 0).astype(int)])


@pytest.mark.parametrize("early", [False, True])
def test_fitted_attributes_record_training(early):
    X, y = _blobs(3, n=90)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=7, random_state=0,
                               early_stopping=early, n_iter_no_change=100, batch_size=16),
                 X, y)
    assert clf.n_iter_ == 7 == len(clf.loss_curve_)
    n_train = 90 - (len(clf._val_rows) if early and hasattr(clf, "_val_rows") else 0)
    if not early:
        assert clf.t_ == 7 * 90
        assert clf.best_loss_ == min(clf.loss_curve_)
        assert not hasattr(clf, "validation_scores_") or clf.validation_scores_ in (None, [])
    else:
        assert clf.t_ % 7 == 0 and clf.t_ < 7 * 90
        assert clf.best_loss_ is None
        assert len(clf.validation_scores_) == 7
        assert clf.best_validation_score_ == max(clf.validation_scores_)
        assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    del n_train
    bin_clf = _quiet(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0),
                     *_blobs(2))
    assert bin_clf.out_activation_ == "logistic" and bin_clf.n_outputs_ == 1
    assert bin_clf.n_layers_ == 3
    reg = _quiet(MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0),
                 X, X[:, 0] * 2.0)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1
    assert reg.t_ == 3 * 90 and reg.n_iter_ == 3


def test_partial_fit_extends_the_record():
    X, y = _blobs(2)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0), X, y)
    curve = list(clf.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 4 and clf.loss_curve_[:3] == curve and len(clf.loss_curve_) == 4
    assert clf.t_ == 4 * len(X) and clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)


NO_SKLEARN = r"""
import sys, json
sys.modules["sklearn"] = None      # import sklearn fails: the estimators' own fallbacks
import numpy as np, warnings
from neuralcli import MLPClassifier, MLPRegressor
from neuralcli import estimators
assert not estimators._HAVE_SKLEARN
rng = np.random.default_rng(0)
X = rng.standard_normal((80, 3)); y = (X[:, 0] + 0.5 * rng.standard_normal(80) > 0).astype(int)
w = rng.uniform(0.1, 3.0, 80)
t = X[:, 0] * 2 + X[:, 1] + 0.3 * rng.standard_normal(80)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, t)
print(json.dumps({"pred": clf.predict(X).tolist(), "acc": clf.score(X, y),
                  "acc_w": clf.score(X, y, sample_weight=w),
                  "value": reg.predict(X).tolist(), "r2": reg.score(X, t),
                  "r2_w": reg.score(X, t, sample_weight=w), "w": w.tolist(),
                  "y": y.tolist(), "t": t.tolist()}))
"""


def test_scores_without_scikit_learn_are_scikit_learns():
    import json

    metrics = pytest.importorskip("sklearn.metrics")
    out = run_python(NO_SKLEARN, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    w = np.array(r["w"])
    assert r["acc"] == metrics.accuracy_score(r["y"], r["pred"])
    assert abs(r["acc_w"] - metrics.accuracy_score(r["y"], r["pred"], sample_weight=w)) < 1e-15
    assert abs(r["acc_w"] - r["acc"]) > 1e-3
    assert abs(r["r2"] - metrics.r2_score(r["t"], r["value"])) < 1e-12
    assert abs(r["r2_w"] - metrics.r2_score(r["t"], r["value"], sample_weight=w)) < 1e-12
    assert abs(r["r2_w"] - r["r2"]) > 1e-4


def test_binary_prediction_at_a_logit_of_zero_is_the_first_class():
    # scikit-learn's label binarizer takes class 1 only above probability 0.5
    X, y = _blobs(2)
    clf = _quiet(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, y)
    clf._model.weights[-1][...] = 0.0
    clf._model.biases[-1][...] = 0.0
    assert (clf.predict(X) == clf.classes_[0]).all()
    assert (clf.predict_proba(X) == 0.5).all()


def test_regressor_targets_must_be_numbers():
    X, _ = _blobs(2, n=10)
    with pytest.raises(ValueError, match="^y must be numeric for a regressor$"):
        MLPRegressor(max_iter=1).fit(X, np.array(["a", "b"] * 5))
    reg = _quiet(MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X,
                 np.array(["1.5", "2"] * 5))
    assert reg.predict(X).shape == (10,)


def test_balanced_weights_with_sample_weights_and_a_single_sample_class():
    # n/(k * count) per class times the sample's own weight; a class of one sample
    # weighs n/k; a class the data lacks still has its place in the counts
    X, _ = _blobs(3, n=9)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2])
    sw = np.linspace(0.5, 2.5, 9)
    clf = MLPClassifier(class_weight="balanced")
    clf.classes_ = np.array([0, 1, 2])
    want = 9 / (3 * np.array([5.0, 3.0, 1.0]))[y]
    np.testing.assert_allclose(clf._fold_class_weight(y, None), want, rtol=1e-15)
    np.testing.assert_allclose(clf._fold_class_weight(y, sw), sw * want, rtol=1e-15)
    clf.classes_ = np.array([0, 1, 2, 3])           # class 3 absent from this batch
    np.testing.assert_allclose(clf._fold_class_weight(y, None),
                               9 / (4 * np.array([5.0, 3.0, 1.0]))[y], rtol=1e-15)


def test_classifier_refuses_non_finite_labels():
    X, _ = _blobs(2, n=4)
    with pytest.raises(ValueError, match=r"^Input y contains NaN or infinity\.$"):
        MLPClassifier(max_iter=1).fit(X, np.array([0.0, 1.0, np.nan, 1.0]))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("method", ["predict", "score"])
def test_prediction_with_the_wrong_feature_count_names_the_estimator(cls, method):
    X, y = _blobs(2, n=20)
    est = _quiet(cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X,
                 y if cls is MLPClassifier else y.astype(float))
    with pytest.raises(ValueError, match=rf"^X has 5 features, but {cls.__name__} is "
                                         rf"expecting 3 features as input\.$"):
        args = (np.zeros((4, 5)),) + ((y[:4],) if method == "score" else ())
        getattr(est, method)(*args)


def test_regressor_early_stopping_records_validation_r2():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + rng.normal(size=200)
    reg = _quiet(MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True, max_iter=6,
                              n_iter_no_change=50, random_state=0), X, y)
    assert reg.n_iter_ == 6 and len(reg.validation_scores_) == 6
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_loss_ is None and reg.stop_reason_ == "completed"
    assert all(s < 1 for s in reg.validation_scores_)          # R², not an accuracy


def test_divergence_in_the_first_epoch_leaves_an_empty_curve():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 1e10
    y = rng.normal(size=200)
    with pytest.warns(RuntimeWarning, match="^training diverged in epoch 1, batch 1"):
        reg = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e30,
                           max_iter=5, random_state=0).fit(X, y)
    assert (reg.n_iter_, reg.loss_curve_, reg.loss_, reg.best_loss_) == (0, [], np.inf, np.inf)
    assert reg.stop_reason_ == "diverged"
    # with a validation split: no validation score either
    with pytest.warns(RuntimeWarning, match="^training diverged in epoch 1, batch 1"):
        reg = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e30,
                           early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert reg.validation_scores_ == [] and reg.best_validation_score_ is None
