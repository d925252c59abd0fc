"""neuralcli.metrics: hand-computed cases (no optional packages), then every function against
scikit-learn on random binary, multiclass and regression data."""
import json
import math

import numpy as np
import pytest

from helpers import assert_close
from neuralcli import metrics as M

RTOL = ATOL = 1e-12


def close(got, want, name):
    assert_close(got, want, RTOL, ATOL, name)


# ---------------------------------------------------------------------------- by hand

def test_accuracy_by_hand():
    assert M.accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == 0.75
    # weights 1, 1, 2, 4: the one miss carries 2 of 8
    assert M.accuracy([0, 1, 1, 2], [0, 1, 2, 2], sample_weight=[1, 1, 2, 4]) == 0.75
    assert M.accuracy([0, 1, 1, 2], [0, 1, 2, 2], sample_weight=[1, 1, 6, 0]) == 0.25


def test_count_correct_by_hand():
    # binary logits under bce: class 1 above 0; a sigmoid's probabilities: above 0.5
    out = np.array([[-2.0], [0.0], [0.3], [0.7]])
    target = np.array([[0.0], [0.0], [1.0], [1.0]])
    assert M.count_correct(target, out, "binary", "bce") == 4
    assert M.count_correct(target, out, "binary", "mse") == 3
    # multiclass: the argmax against labels, or against one-hot rows (mse on a softmax)
    out = np.array([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0], [0.0, 0.2, 0.9]])
    labels = np.array([1, 1, 2])
    assert M.count_correct(labels, out, "multiclass", "cross_entropy") == 2
    assert M.count_correct(np.eye(3)[labels], out, "multiclass", "mse") == 2
    with pytest.raises(ValueError, match="task must be 'binary' or 'multiclass'"):
        M.count_correct(target, out, "regression", "mse")


@pytest.mark.parametrize("task,loss", [("binary", "bce"), ("binary", "mse"),
                                       ("multiclass", "cross_entropy"),
                                       ("multiclass", "mse")])
def test_count_correct_agrees_with_the_predictions_of_the_head(task, loss):
    """Training counts a row correct exactly when the class read from the head's
    probabilities of that output (what predict and eval report) is the row's class."""
    from neuralcli import head

    rng = np.random.default_rng(4)
    k = 2 if task == "binary" else 4
    spec = head.output_spec(task, k, 1, loss)
    labels = rng.integers(0, k, 500)
    out = rng.standard_normal((500, spec.n_out))
    if spec.out_act == "sigmoid":
        out = 1 / (1 + np.exp(-out))
    elif spec.out_act == "softmax":
        out = np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)
    predicted = head.probabilities(out.copy(), spec, task).argmax(axis=1)
    target = head.encode_targets(labels, spec, task)
    got = M.count_correct(target, out, task, spec.loss)
    assert got == int(np.count_nonzero(predicted == labels))
    assert 0 < got < 500


def test_log_loss_by_hand():
    proba = [[0.8, 0.2], [0.3, 0.7]]
    close(M.log_loss([0, 1], proba, 2), -(math.log(0.8) + math.log(0.7)) / 2, "log_loss")
    close(M.log_loss([0, 1], proba, 2, sample_weight=[3, 1]),
          -(3 * math.log(0.8) + math.log(0.7)) / 4, "weighted log_loss")
    # a zero on the true class costs -log(eps), not infinity
    close(M.log_loss([1], [[1.0, 0.0]], 2), -math.log(M.LOG_LOSS_EPS), "clipped log_loss")
    # rows are renormalised
    close(M.log_loss([0], [[2.0, 2.0]], 2), math.log(2.0), "renormalised log_loss")


def test_confusion_and_prf_by_hand():
    # class 3 is neither present nor predicted; class 2 is present but never predicted
    y_true = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0]
    assert M.confusion_matrix(y_true, y_pred, 4) == [
        [1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    r = M.precision_recall_f1(y_true, y_pred, 4)
    close(r["precision"], [1 / 2, 2 / 3, 0, 0], "precision")
    close(r["recall"], [1 / 2, 1, 0, 0], "recall")
    close(r["f1"], [1 / 2, 4 / 5, 0, 0], "f1")
    assert r["support"] == [2, 2, 1, 0]
    close(r["macro_f1"], (1 / 2 + 4 / 5) / 4, "macro_f1")
    close(r["weighted_f1"], (2 * 1 / 2 + 2 * 4 / 5) / 5, "weighted_f1")

    cm = M.confusion_matrix(y_true, y_pred, 4, sample_weight=[1, 2, 1, 1, 0.5])
    assert cm == [[1.0, 2.0, 0, 0], [0, 2.0, 0, 0], [0.5, 0, 0, 0], [0, 0, 0, 0]]
    assert all(isinstance(v, float) for row in cm for v in row)


def test_roc_auc_by_hand():
    # the classic four-point example: 3 of 4 (positive, negative) pairs ordered right
    assert M.roc_auc([0, 0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]], 2) == 0.75
    # a tie counts one half
    assert M.roc_auc([0, 1], [[0.5, 0.5], [0.5, 0.5]], 2) == 0.5
    assert M.roc_auc([0, 1, 1], [[0.7, 0.3], [0.5, 0.5], [0.7, 0.3]], 2) == 0.75
    # weights count pairs: the positive at 0.35 (weight 3) beats only the negative at 0.1
    assert M.roc_auc([0, 0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]], 2,
                     sample_weight=[1, 1, 3, 1]) == (3 + 1 + 1) / 8
    # undefined with one class: None, not NaN
    assert M.roc_auc([1, 1], [[0.3, 0.7], [0.6, 0.4]], 2) is None
    assert M.roc_auc([2, 2], np.full((2, 3), 1 / 3), 3) is None
    assert M.roc_auc([0, 1], [[0.3, 0.7], [0.6, 0.4]], 2, sample_weight=[1, 0]) is None


def test_roc_auc_multiclass_skips_absent_classes():
    y = [0, 0, 1, 1]                      # class 2 absent
    proba = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1]]
    # class 0 vs rest: scores 0.6, 0.2 against 0.3, 0.1 -> 3 of 4 pairs
    # class 1 vs rest: scores 0.6, 0.8 against 0.3, 0.5 -> 4 of 4 pairs
    assert M.roc_auc(y, proba, 3) == (0.75 + 1.0) / 2


def test_classification_report_is_json():
    y = np.array([0, 2, 1, 2, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7], [0.2, 0.3, 0.5],
                      [0.3, 0.3, 0.4], [0.6, 0.2, 0.2]])
    rep = M.classification_report(y, proba, 3)
    assert json.loads(json.dumps(rep)) == rep
    assert rep["accuracy"] == 0.6 and rep["n_samples"] == 5 and rep["n_classes"] == 3
    assert rep["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [1, 0, 2]]
    assert type(rep["log_loss"]) is float and type(rep["roc_auc"]) is float
    rep = M.classification_report(y, proba, 3, sample_weight=np.ones(5))
    assert json.loads(json.dumps(rep)) == rep


def test_regression_by_hand():
    y, p = [1.0, 2.0, 3.0], [1.0, 2.0, 4.0]
    close(M.mse(y, p), 1 / 3, "mse")
    close(M.rmse(y, p), math.sqrt(1 / 3), "rmse")
    close(M.mae(y, p), 1 / 3, "mae")
    close(M.r2(y, p), 1 - 1 / 2, "r2")             # SS_tot = 2
    close(M.mse(y, p, sample_weight=[1, 1, 2]), 2 / 4, "weighted mse")
    # rmse over outputs is the mean of per-output rmse
    yy = np.array([[0.0, 0.0], [0.0, 0.0]])
    pp = np.array([[1.0, 3.0], [1.0, 3.0]])
    assert M.rmse(yy, pp) == 2.0 and M.mse(yy, pp) == 5.0
    # constant y_true: 1.0 if predicted perfectly, else 0.0; averaged over outputs
    assert M.r2([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert M.r2([2.0, 2.0], [2.0, 2.5]) == 0.0
    assert M.r2([[2.0, 1.0], [2.0, 3.0]], [[2.0, 1.0], [2.0, 3.0]]) == 1.0
    assert M.r2([[2.0, 1.0], [2.0, 3.0]], [[2.0, 2.0], [2.5, 2.0]]) == 0.0
    assert M.r2([1.0], [1.0]) is None
    rep = M.regression_report(y, p)
    assert json.loads(json.dumps(rep)) == rep and rep["n_outputs"] == 1


def test_majority_baseline():
    y = np.array([0, 1, 1, 2, 1, 0, 1])
    rep = M.baseline_classification(y, 4)
    assert rep["accuracy"] == 4 / 7                 # class 1 holds 4 of 7
    assert rep["confusion_matrix"][0] == [0, 2, 0, 0]
    assert rep["roc_auc"] == 0.5                    # constant scores tie every pair
    close(rep["log_loss"], -(2 * math.log(2 / 7) + 4 * math.log(4 / 7) + math.log(1 / 7)) / 7,
          "baseline log_loss")
    # weighted frequencies
    w = np.array([5, 1, 1, 1, 1, 5, 1], dtype=float)
    assert M.class_prior(y, 4, w) == pytest.approx([10 / 15, 4 / 15, 1 / 15, 0])
    close(M.baseline_classification(y, 4, sample_weight=w)["accuracy"], 10 / 15, "acc")
    # a prior from training labels: predicts class 2 here, scored on y
    prior = M.class_prior([2, 2, 0], 4)
    rep = M.baseline_classification(y, 4, prior=prior)
    assert rep["accuracy"] == 1 / 7
    assert np.isfinite(rep["log_loss"])             # class 1 has prior 0: clipped, finite


def test_mean_baseline():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    assert M.baseline_regression(y)["r2"] == 0.0
    assert M.baseline_regression(y[:, 0])["r2"] == 0.0
    w = rng.uniform(0.1, 2.0, 50)
    assert M.baseline_regression(y, sample_weight=w)["r2"] == 0.0
    rep = M.baseline_regression(y[:, 0], mean=y[:, 0].mean() + 1.0)
    close(rep["mse"], M.mse(y[:, 0], np.full(50, y[:, 0].mean() + 1.0)), "mse")
    assert rep["r2"] < 0
    assert M.baseline_regression([3.0, 3.0, 3.0])["r2"] == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: M.accuracy([0, 1], [0]), "length"),
    (lambda: M.confusion_matrix([0, 3], [0, 1], 3), "outside"),
    (lambda: M.confusion_matrix([0, -1], [0, 1], 3), "outside"),
    (lambda: M.confusion_matrix([0, 0.5], [0, 1], 3), "integer"),
    (lambda: M.log_loss([0, 1], [[1, 0]], 2), "shape"),
    (lambda: M.log_loss([0], [[1.5, -0.5]], 2), "negative"),
    (lambda: M.roc_auc([0, 1], [[np.nan, 1], [0, 1]], 2), "NaN"),
    (lambda: M.accuracy([0, 1], [0, 1], sample_weight=[1, -1]), "non-negative"),
    (lambda: M.accuracy([0, 1], [0, 1], sample_weight=[0, 0]), "zero"),
    (lambda: M.accuracy([], []), "empty"),
    (lambda: M.mse([1.0, 2.0], [[1.0, 2.0]]), "shape"),
    (lambda: M.baseline_classification([0, 1], 2, prior=[1.0]), "prior"),
    (lambda: M.baseline_regression(np.ones((3, 2)), mean=[1, 2, 3]), "mean"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------- scikit-learn

def make_classification(k, n, seed, missing=None, ties=False, perfect=False, constant=False,
                        weights=None):
    """Labels, probabilities and weights for one comparison case."""
    rng = np.random.default_rng(seed)
    classes = [c for c in range(k) if c != missing]
    y = rng.choice(classes, size=n)
    if perfect:
        proba = np.eye(k)[y]
    elif constant:
        proba = np.tile(rng.dirichlet(np.ones(k)), (n, 1))
    elif ties:
        # probabilities in tenths: many equal scores, and zeros that hit the clip
        proba = rng.multinomial(10, rng.dirichlet(np.ones(k)), size=n) / 10.0
    else:
        proba = rng.dirichlet(np.ones(k), size=n)
    if weights == "float":
        w = rng.uniform(0.1, 3.0, n)
    elif weights == "int":
        w = rng.integers(0, 4, n).astype(float)
        for c in classes:                 # every present class keeps some weight
            w[np.flatnonzero(y == c)[0]] = 1.0
    else:
        w = None
    return y, proba, w


CLASSIFICATION_CASES = {
    "binary": dict(k=2, n=200),
    "binary-ties": dict(k=2, n=200, ties=True),
    "binary-one-class": dict(k=2, n=50, missing=0),
    "binary-perfect": dict(k=2, n=60, perfect=True),
    "binary-constant": dict(k=2, n=60, constant=True),
    "multi": dict(k=4, n=300),
    "multi-ties": dict(k=5, n=300, ties=True),
    "multi-missing-class": dict(k=4, n=200, missing=2),
    "multi-missing-ties": dict(k=5, n=200, missing=0, ties=True),
    "multi-perfect": dict(k=3, n=90, perfect=True),
    "multi-constant": dict(k=3, n=90, constant=True),
}


@pytest.fixture(params=[None, "float", "int"], ids=["unweighted", "float-w", "int-w"])
def weights(request):
    return request.param


@pytest.mark.parametrize("case", CLASSIFICATION_CASES)
def test_classification_matches_sklearn(case, weights):
    skm = pytest.importorskip("sklearn.metrics")
    spec = CLASSIFICATION_CASES[case]
    k = spec["k"]
    seed = sum(map(ord, case)) + (0 if weights is None else len(weights))
    y, proba, w = make_classification(seed=seed, weights=weights, **spec)
    y_pred = proba.argmax(axis=1)
    labels = list(range(k))

    close(M.accuracy(y, y_pred, w), skm.accuracy_score(y, y_pred, sample_weight=w), "accuracy")
    close(M.log_loss(y, proba, k, w), skm.log_loss(y, proba, labels=labels, sample_weight=w),
          "log_loss")

    cm = M.confusion_matrix(y, y_pred, k, w)
    close(cm, skm.confusion_matrix(y, y_pred, labels=labels, sample_weight=w), "confusion")

    prf = M.precision_recall_f1(y, y_pred, k, w)
    p, r, f, s = skm.precision_recall_fscore_support(
        y, y_pred, labels=labels, average=None, zero_division=0, sample_weight=w)
    close(prf["precision"], p, "precision")
    close(prf["recall"], r, "recall")
    close(prf["f1"], f, "f1")
    close(prf["support"], s, "support")
    for avg in ("macro", "weighted"):
        close(prf[f"{avg}_f1"], skm.f1_score(y, y_pred, labels=labels, average=avg,
                                             zero_division=0, sample_weight=w), f"{avg}_f1")

    auc = M.roc_auc(y, proba, k, w)
    present = np.unique(y)
    if present.size < 2:
        assert auc is None
    elif k == 2:
        close(auc, skm.roc_auc_score(y, proba[:, 1], sample_weight=w), "binary auc")
    else:
        per_class = [skm.roc_auc_score(y == c, proba[:, c], sample_weight=w) for c in present]
        close(auc, np.mean(per_class), "one-vs-rest auc")
        if present.size == k:
            close(auc, skm.roc_auc_score(y, proba, multi_class="ovr", average="macro",
                                         labels=labels, sample_weight=w), "ovr macro auc")

    rep = M.classification_report(y, proba, k, w)
    assert rep["confusion_matrix"] == cm and rep["f1"] == prf["f1"]
    assert rep["roc_auc"] == auc and rep["log_loss"] == M.log_loss(y, proba, k, w)
    assert json.loads(json.dumps(rep)) == rep


def test_auc_ties_against_roc_curve():
    """The rank formula equals the trapezoid under scikit-learn's full ROC curve."""
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500)
    score = rng.integers(0, 6, 500) / 5.0
    w = rng.uniform(0.5, 2.0, 500)
    fpr, tpr, _ = skm.roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    proba = np.stack([1 - score, score], axis=1)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    close(M.roc_auc(y, proba, 2, w), area, "auc vs trapezoid")


def test_majority_baseline_matches_dummy_classifier():
    sk = pytest.importorskip("sklearn")
    from sklearn.dummy import DummyClassifier
    rng = np.random.default_rng(3)
    y_train = rng.choice(4, size=120, p=[0.1, 0.5, 0.3, 0.1])
    y_test = rng.choice(4, size=80, p=[0.4, 0.2, 0.3, 0.1])
    dummy = DummyClassifier(strategy="prior").fit(np.zeros((120, 1)), y_train)
    proba = dummy.predict_proba(np.zeros((80, 1)))
    want = M.classification_report(y_test, proba, 4)
    got = M.baseline_classification(y_test, 4, prior=M.class_prior(y_train, 4))
    for key in ("accuracy", "log_loss", "macro_f1", "weighted_f1"):
        close(got[key], want[key], key)
    assert got["confusion_matrix"] == want["confusion_matrix"]
    close(got["accuracy"], sk.metrics.accuracy_score(y_test, dummy.predict(np.zeros((80, 1)))),
          "dummy accuracy")


REGRESSION_CASES = ["random", "perfect", "constant-pred", "constant-true"]


@pytest.mark.parametrize("outputs", [None, 1, 3], ids=["1d", "n1", "n3"])
@pytest.mark.parametrize("case", REGRESSION_CASES)
def test_regression_matches_sklearn(case, outputs, weights):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(sum(map(ord, case)) + (outputs or 0))
    n = 100
    shape = (n,) if outputs is None else (n, outputs)
    y = rng.normal(size=shape) * 3.0 + 1.0
    p = y + rng.normal(size=shape)
    if case == "perfect":
        p = y.copy()
    elif case == "constant-pred":
        p = np.broadcast_to(y.mean(axis=0), shape).copy()
    elif case == "constant-true":
        # every output constant; the first predicted perfectly, the others not
        y = np.full(shape, 2.5)
        p = y + rng.normal(size=shape)
        if outputs is None:
            p = y.copy()
        else:
            p[:, 0] = y[:, 0]
    w = {None: None, "float": rng.uniform(0.1, 3.0, n),
         "int": rng.integers(0, 4, n).astype(float)}[weights]

    close(M.mse(y, p, w), skm.mean_squared_error(y, p, sample_weight=w), "mse")
    close(M.rmse(y, p, w), skm.root_mean_squared_error(y, p, sample_weight=w), "rmse")
    close(M.mae(y, p, w), skm.mean_absolute_error(y, p, sample_weight=w), "mae")
    close(M.r2(y, p, w), skm.r2_score(y, p, sample_weight=w), "r2")
    rep = M.regression_report(y, p, w)
    assert rep["r2"] == M.r2(y, p, w) and rep["mse"] == M.mse(y, p, w)
    assert json.loads(json.dumps(rep)) == rep


# ---------------------------------------------------------------------------- input dtypes

def test_float32_weights_are_summed_in_float64():
    """Weights of any float type are read as float64: float32 weights give the AUC (a
    sum over thousands of rows, where float32 accumulation would show) and every other
    figure of the same weights held as float64."""
    rng = np.random.default_rng(11)
    n, k = 4000, 3
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    w32 = rng.uniform(0.1, 3.0, n).astype(np.float32)
    w64 = w32.astype(np.float64)
    for kk, yy, pp in ((k, y, proba), (2, y % 2, np.stack([1 - proba[:, 0], proba[:, 0]], 1))):
        got = M.classification_report(yy, pp, kk, w32)
        want = M.classification_report(yy, pp, kk, w64)
        assert got == want, kk


def test_weighted_f1_with_weights_summing_below_one():
    """The weighted F1 divides by the total weight whatever its size: weights summing to
    0.5 give scikit-learn's figure, not 0."""
    skm = pytest.importorskip("sklearn.metrics")
    y = np.array([0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 2, 2, 2])
    w = np.full(5, 0.1)
    got = M.precision_recall_f1(y, y_pred, 3, w)["weighted_f1"]
    close(got, skm.f1_score(y, y_pred, average="weighted", sample_weight=w), "weighted f1")
    assert got > 0.5


def test_baseline_classification_reads_the_prior_in_float64():
    """A float32 prior (frequencies that need normalising) is normalised in float64: the
    report equals the float64 prior's."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    prior32 = np.array([0.1, 0.3, 0.45], dtype=np.float32)
    got = M.baseline_classification(y, 3, prior=prior32)
    want = M.baseline_classification(y, 3, prior=prior32.astype(np.float64))
    assert got == want


def test_baseline_regression_takes_the_mean_of_float32_targets_in_float64():
    """The default mean of float32 targets is taken in float64, so the baseline's R² is 0
    to rounding even where a float32 mean would be off (a large offset, a small spread)."""
    rng = np.random.default_rng(9)
    y32 = (1000.0 + rng.normal(size=5000)).astype(np.float32)
    rep = M.baseline_regression(y32)
    assert abs(rep["r2"]) < 1e-12
    assert rep == M.baseline_regression(y32.astype(np.float64))
