"""MLPClassifier / MLPRegressor: scikit-learn's estimator checks, and that they learn."""
import pickle
import warnings

import numpy as np
import pytest

from neuralcli import MLPClassifier, MLPRegressor
from neuralcli.datasets import regression, spirals, xor

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "mini-batch training with shuffling visits a repeated row twice per epoch, which "
        "is not the same as one row of weight 2 (scikit-learn's own MLP fails it too)",
}


@parametrize_with_checks(
    [MLPClassifier(max_iter=50, random_state=0), MLPRegressor(random_state=0),
     MLPClassifier(solver="lbfgs", max_iter=50, random_state=0),
     MLPRegressor(solver="lbfgs", random_state=0)],
    # lbfgs takes every row at once, so a row of weight 2 is two copies of the row
    expected_failed_checks=lambda est: {} if est.solver == "lbfgs" else EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sklearn_sample_weight_equivalence_full_batch(cls):
    """scikit-learn's check that a weight of k is k repeated rows and 0 a removed row,
    which holds exactly for one full batch without shuffling or an L2 term."""
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    est = cls((8,), batch_size=10_000, shuffle=False, alpha=0.0, max_iter=20,
              learning_rate_init=0.01, random_state=0, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_sample_weight_equivalence_on_dense_data(cls.__name__, est)


def test_parameters_round_trip():
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), solver="adamw", dropout=0.1,
                        class_weight="balanced", dtype="float64", n_threads=1)
    params = clf.get_params()
    for name in ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size",
                 "learning_rate", "learning_rate_init", "max_iter", "shuffle",
                 "random_state", "tol", "early_stopping", "validation_fraction",
                 "n_iter_no_change", "momentum", "nesterovs_momentum", "beta_1", "beta_2",
                 "epsilon", "verbose", "dropout", "class_weight", "lr_schedule",
                 "clip_norm", "dtype", "n_threads"):
        assert name in params, name
    assert clf.set_params(alpha=0.5).alpha == 0.5


def _standardize(a, b):
    m, s = a.mean(axis=0), a.std(axis=0)
    return (a - m) / s, (b - m) / s


def test_solves_xor():
    X, y, *_ = xor(n=200, noise=0.05)
    clf = MLPClassifier((8,), activation="tanh", learning_rate_init=0.05, max_iter=300,
                        random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert clf.score(X, y) == 1.0


def test_learns_two_spirals_full_batch():
    X, y, *_ = spirals(n=500)
    clf = MLPClassifier((64, 64), activation="relu", solver="adam", batch_size=500,
                        learning_rate_init=0.01, max_iter=2000, random_state=0, tol=0,
                        n_iter_no_change=2000, alpha=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert clf.n_iter_ <= 2000
    assert clf.score(X, y) >= 0.97


def test_learns_iris():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    Xtr, Xte = _standardize(Xtr, Xte)
    clf = MLPClassifier((32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.93
    proba = clf.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_learns_regression():
    X, y, *_ = regression(n=800)
    reg = MLPRegressor((64, 64), learning_rate_init=0.003, max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X[:600], y[:600])
    assert reg.score(X[600:], y[600:]) >= 0.9


def test_string_labels_and_binary_probabilities():
    X, y, *_ = spirals(n=200)
    labels = np.where(y == 1, "yes", "no")
    clf = MLPClassifier((16,), max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, labels)
    assert list(clf.classes_) == ["no", "yes"]
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.predict_proba(X).shape == (200, 2)
    assert clf.coefs_[0].shape == (2, 16) and clf.intercepts_[-1].shape == (1,)
    # the network outputs the logit and predict_proba applies the sigmoid, which
    # out_activation_ names as scikit-learn's does
    assert clf.out_activation_ == "logistic"
    (w0, w1), (b0, b1) = clf.coefs_, clf.intercepts_
    logit = (np.maximum(X @ w0 + b0, 0) @ w1 + b1)[:, 0]
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-logit)),
                               rtol=1e-5, atol=1e-7)


def test_partial_fit_keeps_learning():
    X, y, *_ = spirals(n=200)
    clf = MLPClassifier((16,), random_state=0, learning_rate_init=0.01)
    clf.partial_fit(X, y, classes=[0, 1])
    first = clf.loss_
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 31 and len(clf.loss_curve_) == 31
    assert clf.loss_ < first
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 5)


def test_early_stopping_records_validation_scores():
    X, y, *_ = spirals(n=300)
    clf = MLPClassifier((16,), early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=3, max_iter=500, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 500


def test_class_weight_balanced_shifts_predictions():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] + 0.8 * rng.standard_normal(400) > 1.2).astype(int)  # about 15% positive
    kw = dict(hidden_layer_sizes=(8,), max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = MLPClassifier(**kw).fit(X, y)
        balanced = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    assert balanced.predict(X).sum() > plain.predict(X).sum()


def test_pickle_round_trip_predicts_the_same():
    X, y, *_ = spirals(n=100)
    clf = MLPClassifier((8,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_same_seed_same_weights_at_one_and_two_threads():
    X, y, *_ = spirals(n=300)
    runs = []
    for threads in (1, 2, 2):
        clf = MLPClassifier((32, 32), max_iter=15, random_state=3, n_threads=threads,
                            batch_size=64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
        runs.append(clf._model.params.copy())
    assert runs[0].tobytes() == runs[1].tobytes() == runs[2].tobytes()


def test_an_unknown_solver_is_refused_clearly():
    with pytest.raises(ValueError, match="The solver 'newton' is not supported; choose "
                                         "from lbfgs, sgd, adam, adamw, rmsprop"):
        MLPClassifier(solver="newton").fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize("params,message", [
    (dict(max_iter=0), "max_iter must be at least 1, got 0"),
    (dict(n_iter_no_change=0), "n_iter_no_change must be at least 1, got 0"),
    (dict(learning_rate_init=0.0), "learning_rate_init must be a positive number, got 0.0"),
    (dict(learning_rate_init=float("nan")), "learning_rate_init must be a positive number"),
    (dict(alpha=-1.0), "alpha must be a non-negative number, got -1.0"),
    (dict(weight_decay=float("inf")), "weight_decay must be a non-negative number, got inf"),
    (dict(max_fun=0, solver="lbfgs"), "max_fun must be at least 1, got 0"),
    (dict(tol=-1e-3), "tol must be a non-negative number, got -0.001"),
    (dict(max_iter=2.5), "max_iter must be an integer, got 2.5"),
    (dict(alpha="0.1"), "alpha must be a real number, got '0.1'"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_a_setting_out_of_range_names_the_parameter(cls, params, message):
    """The training settings' ranges are checked where the trainer checks them
    (TrainConfig.validate) and said in the estimator's own parameter names, at fit."""
    est = cls(**params)
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        est.fit([[0.0], [1.0], [2.0]], [0, 1, 1])


@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_save_load_predicts_identically(tmp_path, labels):
    from neuralcli.persist import ModelFileError

    X, y, *_ = spirals(n=200)
    if labels == "strings":
        y = np.where(y == 1, "yes", "no")
    clf = MLPClassifier((16, 8), max_iter=20, random_state=0, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    path = tmp_path / "clf.ncm"
    clf.save(path)
    again = MLPClassifier.load(path)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    assert again.get_params() == clf.get_params()
    assert again.loss_curve_ == clf.loss_curve_ and again.n_iter_ == clf.n_iter_
    with pytest.raises(ModelFileError, match="not a MLPRegressor"):
        MLPRegressor.load(path)
    data = path.read_bytes()
    (tmp_path / "cut.ncm").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        MLPClassifier.load(tmp_path / "cut.ncm")
    bad = bytearray(data)
    bad[-100] ^= 0xFF
    (tmp_path / "bad.ncm").write_bytes(bytes(bad))
    with pytest.raises(ModelFileError):
        MLPClassifier.load(tmp_path / "bad.ncm")


def test_regressor_save_load(tmp_path):
    X, y, *_ = regression(n=200)
    reg = MLPRegressor((16,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, np.column_stack([y, -y]))
    reg.save(tmp_path / "r.ncm")
    again = MLPRegressor.load(tmp_path / "r.ncm")
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    assert again.predict(X).shape == (200, 2)


def _resaved(tmp_path, est, change):
    """est saved, its description changed by change(meta, arrays), and saved again (with a
    right checksum)."""
    from neuralcli import persist

    path = str(tmp_path / "est.ncm")
    est.save(path)
    saved = persist.load(path)
    change(saved.meta, saved.arrays)
    persist.save(path, saved.model, meta=saved.meta, arrays=saved.arrays)
    return path


@pytest.mark.parametrize("change, fragment", [
    # found by fuzzing: these loaded, or stopped with a KeyError, an AttributeError...
    (lambda m, a: m.pop("params"), "description is damaged ('params')"),
    (lambda m, a: m["history"].pop("t"), "description is damaged ('t')"),
    (lambda m, a: m.__setitem__("history", []), "description is damaged"),
    (lambda m, a: a.pop("classes"), "description is damaged"),
    (lambda m, a: m.__setitem__("n_features_in", 5), "(5 features, 1 outputs) does not "
                                                     "match its network (2 inputs, 1 "
                                                     "outputs)"),
    (lambda m, a: a.__setitem__("classes", np.array([0, 1, 2])), "does not match"),
    (lambda m, a: m.__setitem__("y_ndim", 3), "does not match"),
])
def test_a_damaged_estimator_description_is_a_model_file_error(tmp_path, change,
                                                               fragment):
    from neuralcli.persist import ModelFileError

    X, y, *_ = xor(n=40)
    clf = MLPClassifier((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    path = _resaved(tmp_path, clf, change)
    with pytest.raises(ModelFileError) as info:
        MLPClassifier.load(path)
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)


def test_a_single_output_regressor_with_two_outputs_is_refused(tmp_path):
    from neuralcli.persist import ModelFileError

    X, y, *_ = regression(n=40)
    reg = MLPRegressor((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, np.column_stack([y, -y]))
    path = _resaved(tmp_path, reg, lambda m, a: m.__setitem__("y_ndim", 1))
    with pytest.raises(ModelFileError, match="does not match its network"):
        MLPRegressor.load(path)


def test_ctrl_c_in_fit_reaches_the_caller(monkeypatch):
    from neuralcli import training

    calls = {"n": 0}
    real = training.Trainer.step

    def step(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(training.Trainer, "step", step)
    X, y, *_ = spirals(n=200)
    clf = MLPClassifier((8,), max_iter=50, batch_size=20, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.predict(X).shape == (200,)  # the best weights so far are kept
