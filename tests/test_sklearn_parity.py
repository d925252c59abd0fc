"""The estimators against scikit-learn's MLPs with the same parameters: the same starting
weights, the lbfgs solver's objective and gradient, and test scores over five data sets
and five seeds. Skipped without scikit-learn."""
import math
import sys
import warnings

import numpy as np
import pytest

from neuralcli import MLPClassifier, MLPRegressor
from neuralcli.lbfgs import objective
from neuralcli.network import MLP

sklearn = pytest.importorskip("sklearn")
from sklearn import datasets  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

threadpoolctl = pytest.importorskip("threadpoolctl")

SETS = {
    "iris": datasets.load_iris, "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
    "diabetes": datasets.load_diabetes,
}


def _split(name, seed):
    X, y = SETS[name](return_X_y=True)
    regression = name == "diabetes"
    if regression:
        y = (y - y.mean()) / y.std()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed,
                                          stratify=None if regression else y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte, regression


def _mean_scores(name, params, ours_only=None):
    ours, theirs = [], []
    for seed in range(5):
        Xtr, Xte, ytr, yte, regression = _split(name, seed)
        mine = (MLPRegressor if regression else MLPClassifier)(
            random_state=seed, n_threads=1, **params, **(ours_only or {}))
        ref = (sk.MLPRegressor if regression else sk.MLPClassifier)(
            random_state=seed, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with threadpoolctl.threadpool_limits(1):
                ref.fit(Xtr, ytr)
            mine.fit(Xtr, ytr)
        ours.append(mine.score(Xte, yte))
        theirs.append(ref.score(Xte, yte))
    return float(np.mean(ours)), float(np.mean(theirs))


# ------------------------------------------------------------------ starting weights

def _frozen(cls, **params):
    """The weights after one epoch of plain SGD at a learning rate so small that no
    weight moves: the starting weights, read through the public coefs_."""
    return cls(solver="sgd", learning_rate_init=1e-300, momentum=0.0, max_iter=1,
               shuffle=False, **params)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
@pytest.mark.parametrize("hidden", [(7,), (9, 4)])
def test_the_starting_weights_are_scikit_learns(activation, hidden):
    X, y = datasets.load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=hidden, activation=activation, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = _frozen(sk.MLPClassifier, **kw).fit(X, y)
        mine = _frozen(MLPClassifier, dtype="float64", **kw).fit(X, y)
    assert len(mine.coefs_) == len(ref.coefs_) == len(hidden) + 1
    for a, b in zip(mine.coefs_ + mine.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("activation,factor", [("relu", 6.0), ("logistic", 2.0)])
def test_the_starting_bound_is_glorots_with_scikit_learns_factor(activation, factor):
    # the uniform distribution on +-b has standard deviation b / sqrt(3)
    net = MLP([300, 500, 200], ["relu", "identity"], dtype="float64", init=False)
    net.initialize_uniform(1, factor)
    for w, b in zip(net.weights, net.biases):
        bound = math.sqrt(factor / sum(w.shape))
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(w).max() > 0.99 * bound
        assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    X, y = datasets.load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(500,), activation=activation, max_iter=1,
                        learning_rate_init=1e-30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    bound = math.sqrt(factor / (4 + 500))
    assert 0.99 * bound < np.abs(est.coefs_[0]).max() <= bound * (1 + 1e-7)


def test_the_command_line_keeps_he_initialization():
    net = MLP([400, 300, 1], ["relu", "identity"], seed=0, dtype="float64")
    assert net.weights[0].std() == pytest.approx(math.sqrt(2 / 400), rel=0.01)
    assert not net.biases[0].any() and not net.biases[1].any()


# ------------------------------------------------------------------ lbfgs

def _numpy_objective(net, X, y, sw, alpha, kind):
    """scikit-learn's lbfgs objective, written out in numpy."""
    h = X
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = h @ w + b
        if i < net.n_layers - 1:
            h = np.maximum(h, 0)
    sw = np.ones(len(X)) if sw is None else sw
    if kind == "regression":
        per = 0.5 * ((h - y.reshape(h.shape)) ** 2).mean(axis=1)
    elif kind == "binary":
        z = h[:, 0]
        per = np.logaddexp(0, z) - y[:, 0] * z
    else:
        z = h - h.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        per = -logp[np.arange(len(y)), y]
    value = (per * sw).sum() / sw.sum()
    return value + 0.5 * alpha * sum((w ** 2).sum() for w in net.weights) / sw.sum()


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_lbfgs_objective_and_its_gradient(kind, weighted):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    k = {"binary": 1, "multiclass": 4, "regression": 2}[kind]
    net = MLP([3, 6, k], ["relu", "identity"], dtype="float64", seed=2)
    net.params[...] += rng.normal(0, 0.1, net.n_params)    # biases away from zero
    if kind == "binary":
        y, loss, scale = (X[:, :1] > 0).astype(float), "bce", 1.0
    elif kind == "multiclass":
        y, loss, scale = rng.integers(0, 4, 40).astype(np.int32), "cross_entropy", 1.0
    else:
        y, loss, scale = rng.normal(size=(40, 2)), "mse", 0.5
    sw = rng.uniform(0.5, 2, 40) if weighted else None
    alpha = 0.3
    f = objective(net, loss, X, y, sw, l2=alpha, loss_scale=scale)
    theta = net.params.copy()
    value, grad = f(theta)
    assert value == pytest.approx(_numpy_objective(net, X, y, sw, alpha, kind), rel=1e-12)
    for i in range(net.n_params):
        e = np.zeros(net.n_params)
        e[i] = 1e-6
        numeric = (f(theta + e)[0] - f(theta - e)[0]) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8), i


@pytest.mark.parametrize("name", list(SETS))
def test_lbfgs_trains_as_scikit_learns(name):
    # float64 networks start from the same weights and minimize the same objective with
    # the same minimizer: the scores agree to rounding
    ours, theirs = _mean_scores(name, {"solver": "lbfgs"}, {"dtype": "float64"})
    assert abs(ours - theirs) < 2e-3, (ours, theirs)


def test_lbfgs_stops_at_max_fun_and_max_iter_and_warns():
    X, y = datasets.load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for limits in ({"max_fun": 7}, {"max_iter": 4}):
        est = MLPClassifier(solver="lbfgs", random_state=0, dtype="float64", **limits)
        ref = sk.MLPClassifier(solver="lbfgs", random_state=0, **limits)
        with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
            est.fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(X, y)
        assert est.n_iter_ == ref.n_iter_
        assert est.loss_ == pytest.approx(ref.loss_, rel=1e-9)
        assert len(est.loss_curve_) == est.n_iter_
        assert est.loss_curve_[-1] == pytest.approx(est.loss_, rel=1e-12)
    with pytest.raises(ValueError, match="max_fun must be at least 1, got 0"):
        MLPClassifier(solver="lbfgs", max_fun=0).fit(X, y)


def test_lbfgs_in_float32_stores_float32_weights():
    X, y = datasets.load_iris(return_X_y=True)
    est = MLPClassifier(solver="lbfgs", random_state=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.coefs_[0].dtype == np.float32 and est.score(X, y) > 0.9


def test_lbfgs_refuses_partial_fit_and_dropout(monkeypatch):
    X, y = datasets.load_iris(return_X_y=True)
    with pytest.raises(AttributeError, match="lbfgs is not stochastic"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(AttributeError, match="lbfgs is not stochastic"):
        MLPRegressor(solver="lbfgs").partial_fit(X, y)
    with pytest.raises(ValueError, match="dropout makes random"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ValueError, match="the lbfgs solver needs scipy"):
        MLPClassifier(solver="lbfgs").fit(X, y)


# ------------------------------------------------------------------ scores

@pytest.mark.parametrize("name", list(SETS))
def test_default_scores_within_a_point_of_scikit_learns(name):
    ours, theirs = _mean_scores(name, {})
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
