"""Training against the float64 oracle: the optimizer classes over several steps from a
nonzero state, whole training runs (both the compiled runs and the per-batch loop) against
a numpy training loop built from tests/reference.py, exact gradient clipping, and what
row and class weights mean (a weight of 2 is a repeated row, a weight of 0 a removed one)."""
import warnings

import numpy as np
import pytest

import reference as ref
from helpers import assert_close
from neuralcli import MLPClassifier, MLPRegressor
from neuralcli.network import MLP
from neuralcli.optim import make_optimizer
from neuralcli.training import Task, TrainConfig, Trainer, validation_split

STEPS = 7

# (optimizer name, options) for every optimizer and option of the table
CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("sgd", {"momentum": 0.5, "weight_decay": 0.05}),
    ("sgd", {"weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05}),
    ("adamw", {"weight_decay": 0.05}),
    ("adamw", {}),
    ("adamw", {"beta1": 0.85, "beta2": 0.95, "eps": 1e-7, "weight_decay": 0.2}),
    ("rmsprop", {}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"alpha": 0.9, "eps": 1e-6, "momentum": 0.5, "weight_decay": 0.01}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'plain'}"
       for name, kw in CASES]


class RefOptimizer:
    """One optimizer of tests/reference.py with its state and step counter."""

    def __init__(self, name, kw, n):
        self.name, self.kw = name, dict(kw)
        self.t = 0
        self.s0 = np.zeros(n) if name in ("adam", "adamw", "rmsprop") else None
        self.s1 = None if name == "sgd" else np.zeros(n)

    def step(self, p, g, lr, grad_scale=1.0):
        self.t += 1
        kw = self.kw
        if self.name == "sgd":
            p, self.s0 = ref.sgd(p, self.s0, g, lr, grad_scale=grad_scale, **kw)
        elif self.name in ("adam", "adamw"):
            kw = dict(kw)
            if self.name == "adamw":
                kw.setdefault("weight_decay", 0.01)
            p, self.s0, self.s1 = ref.adam(p, self.s0, self.s1, g, self.t, lr,
                                           decoupled=self.name == "adamw",
                                           grad_scale=grad_scale, **kw)
        else:
            p, self.s0, self.s1 = ref.rmsprop(p, self.s0, self.s1, g, lr,
                                              grad_scale=grad_scale, **kw)
        return p


def _seed_state(opt, ref_opt, rng, t0):
    """Give the optimizer and the oracle the same nonzero state after t0 earlier steps."""
    opt.t = ref_opt.t = t0
    for i, buf in enumerate(opt.state):
        # second moments are non-negative; the momentum buffers may have any sign
        square = (opt.name in ("adam", "adamw") and i == 1) or (opt.name == "rmsprop"
                                                                and i == 0)
        v = rng.standard_normal(buf.shape)
        buf[...] = v * v * 0.1 if square else v
    if opt.name == "sgd":
        ref_opt.s0 = opt.state[0].copy() if opt.state else None
    elif opt.name == "rmsprop":
        ref_opt.s0 = opt.state[0].copy()
        ref_opt.s1 = opt.state[1].copy() if len(opt.state) > 1 else None
    else:
        ref_opt.s0, ref_opt.s1 = opt.state[0].copy(), opt.state[1].copy()


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_optimizer_class_steps_match_oracle(name, kw):
    """Several steps of the model layer's Optimizer from a nonzero state and step count:
    each step must take the next step number (Adam's bias correction) and the state."""
    rng = np.random.default_rng(5)
    n = 40
    opt = make_optimizer(name, n, np.float64, **kw)
    want_opt = RefOptimizer(name, kw, n)
    _seed_state(opt, want_opt, rng, t0=3)
    p = rng.standard_normal(n)
    want = p.copy()
    for i in range(STEPS):
        g = rng.standard_normal(n)
        lr, scale = 0.05 * (1 + 0.1 * i), 0.5 + 0.25 * i
        opt.step(p, g, lr, scale)
        want = want_opt.step(want, g, lr, scale)
        assert_close(p, want, 1e-11, 1e-13, f"{name} params after step {i + 1}")
    assert opt.t == 3 + STEPS


# ------------------------------------------------------------------ whole training runs

SIZES = (3, 5, 2)
ACTS = ("tanh", "identity")


def _problem(n=24, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, SIZES[0]))
    y = np.column_stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 0]])
    return X, y


def _net(seed=1):
    return MLP(list(SIZES), list(ACTS), seed=seed, dtype="float64")


def _unpack(p):
    """(W, b) per layer from a flat parameter vector laid out as MLP.params."""
    out, off = [], 0
    for c, oc in zip(SIZES[:-1], SIZES[1:]):
        w = p[off:off + c * oc].reshape(c, oc)
        off += c * oc
        out.append((w, p[off:off + oc]))
        off += oc
    return out


def ref_gradient(p, X, y, sw=None):
    """d(mse)/d(params) of the network with flat parameters p, by the oracle."""
    layers = _unpack(p)
    acts, zs, h = [X], [], X
    for (w, b), act in zip(layers, ACTS):
        h, z = ref.dense_forward(h, w, b, act)
        acts.append(h)
        zs.append(z)
    d = ref.loss_backward("mse", h, y, sw)
    grads = []
    for i in reversed(range(len(layers))):
        d, dw, db = ref.dense_backward(d, acts[i], layers[i][0], zs[i], ACTS[i])
        grads[:0] = [dw.ravel(), db]
    return np.concatenate(grads)


def ref_train(p0, X, y, name, kw, lr, epochs, clip=0.0):
    p = p0.astype(np.float64).copy()
    opt = RefOptimizer(name, kw, len(p))
    for _ in range(epochs):
        g = ref_gradient(p, X, y)
        scale = 1.0
        norm = np.sqrt((g * g).sum())
        if clip and norm > clip:
            scale = clip / norm
        p = opt.step(p, g, lr, scale)
    return p


def _fit(name, kw, compiled, epochs, lr, X, y, sw=None, clip=0.0):
    net = _net()
    p0 = net.params.copy()
    wd = kw.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    opts = {k: v for k, v in kw.items() if k != "weight_decay"}
    cfg = TrainConfig(epochs=epochs, batch_size=0, optimizer=name, lr=lr,
                      optimizer_options=opts, weight_decay=wd, shuffle=False, seed=0,
                      clip_norm=clip)
    tr = Trainer(net, Task("regression", "mse", SIZES[-1]), cfg)
    tr.compiled_runs = compiled
    st = tr.fit(X, y, sw)
    assert st.stop_reason == "completed"
    return p0, net, tr


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "per-batch"])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_training_matches_oracle_loop(name, kw, compiled):
    """Full-batch training over several epochs equals the oracle's loop step for step, so
    the optimizer's state and step counter carry over from one step (and run) to the next."""
    X, y = _problem()
    lr = 0.01 if name in ("adam", "adamw", "rmsprop") else 0.05
    p0, net, tr = _fit(name, kw, compiled, STEPS, lr, X, y)
    want = ref_train(p0, X, y, name, kw, lr, STEPS)
    assert_close(net.params, want, 1e-9, 1e-12, f"{name} weights after {STEPS} epochs")
    assert tr.optimizer.t == STEPS


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "per-batch"])
def test_clipping_scales_the_gradient_to_the_clip_norm(compiled):
    """Plain SGD with the gradient norm above clip_norm moves the weights by exactly
    lr * clip_norm, in the gradient's direction."""
    X, y = _problem()
    clip, lr = 1e-2, 0.5
    net0 = _net()
    g = ref_gradient(net0.params, X, y)
    assert np.linalg.norm(g) > 10 * clip
    p0, net, _ = _fit("sgd", {}, compiled, 1, lr, X, y, clip=clip)
    step = net.params - p0
    assert_close(np.linalg.norm(step), lr * clip, 1e-10, 0.0, "update norm")
    assert_close(step, -lr * clip * g / np.linalg.norm(g), 1e-9, 1e-15, "update")
    # below the threshold nothing is scaled
    p0, net, _ = _fit("sgd", {}, compiled, 1, lr, X, y, clip=2 * np.linalg.norm(g))
    assert_close(net.params - p0, -lr * g, 1e-9, 1e-15, "unclipped update")


# ------------------------------------------------------------------ row weights

@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "per-batch"])
def test_trainer_weight_two_is_a_repeated_row_and_zero_a_removed_row(compiled):
    X, y = _problem()
    sw = np.ones(len(X))
    sw[[2, 7]] = 2.0
    sw[[4, 11, 12]] = 0.0
    _, weighted, _ = _fit("adam", {}, compiled, 5, 0.01, X, y, sw)
    rows = np.concatenate([np.flatnonzero(sw > 0), [2, 7]])
    _, expanded, _ = _fit("adam", {}, compiled, 5, 0.01, X[rows], y[rows])
    assert_close(weighted.params, expanded.params, 1e-10, 1e-13, "weighted vs expanded")
    _, plain, _ = _fit("adam", {}, compiled, 5, 0.01, X, y)
    assert np.abs(plain.params - weighted.params).max() > 1e-6


def _quiet_fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


def _deterministic(cls, **kw):
    return cls((6,), solver="adam", batch_size=10_000, shuffle=False, alpha=0.0,
               learning_rate_init=0.01, max_iter=6, random_state=0, dtype="float64",
               n_iter_no_change=100, **kw)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_estimator_weight_semantics(cls):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) if cls is MLPClassifier else X @ [1.0, -2.0, .5]
    sw = np.ones(len(X))
    sw[[1, 5, 9]] = 2.0
    sw[[3, 4]] = 0.0
    rows = np.concatenate([np.flatnonzero(sw > 0), [1, 5, 9]])
    a = _quiet_fit(_deterministic(cls), X, y, sample_weight=sw)
    b = _quiet_fit(_deterministic(cls), X[rows], y[rows])
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_close(wa, wb, 1e-10, 1e-13, "weighted vs expanded rows")


def test_classifier_score_with_sample_weight_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    clf = _quiet_fit(_deterministic(MLPClassifier), X, y)
    sw = rng.uniform(0, 3, len(X))
    pred = clf.predict(X)
    want = metrics.accuracy_score(y, pred, sample_weight=sw)
    assert want != metrics.accuracy_score(y, pred)
    assert abs(clf.score(X, y, sample_weight=sw) - want) < 1e-12


@pytest.mark.parametrize("outputs", [1, 2])
def test_regressor_score_with_sample_weight_matches_sklearn(outputs):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 3))
    y = X @ rng.standard_normal((3, outputs)) + 0.3 * rng.standard_normal((60, outputs))
    # weights that shift the weighted mean of y away from the plain one
    sw = np.where(y[:, 0] > 0, 4.0, 0.5)
    y = y[:, 0] if outputs == 1 else y
    reg = _quiet_fit(_deterministic(MLPRegressor), X, y)
    pred = reg.predict(X)
    want = metrics.r2_score(y, pred, sample_weight=sw)
    assert abs(want - metrics.r2_score(y, pred)) > 1e-3
    assert abs(reg.score(X, y, sample_weight=sw) - want) < 1e-10


@pytest.mark.parametrize("outputs", [1, 3])
def test_r2_with_sample_weight_matches_sklearn_in_any_chunks(outputs):
    """The library's own R^2 (validation scores, evaluate, score without scikit-learn),
    over one chunk and merged over uneven chunks, equals scikit-learn's weighted R^2."""
    from neuralcli.metrics import R2Sum, r2

    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(9)
    y = rng.standard_normal((50, outputs)) * [1.0, 3.0, 0.5][:outputs] + 2.0
    pred = y + 0.7 * rng.standard_normal(y.shape)
    sw = np.where(y[:, 0] > 2.0, 5.0, 0.2)
    want = metrics.r2_score(y, pred, sample_weight=sw)
    assert abs(want - metrics.r2_score(y, pred)) > 1e-3
    assert abs(r2(y, pred, sw) - want) < 1e-12
    acc = R2Sum()
    for lo, hi in [(0, 7), (7, 8), (8, 31), (31, 50)]:
        acc.add(y[lo:hi], pred[lo:hi], sw[lo:hi])
    assert abs(acc.score() - want) < 1e-12


@pytest.mark.parametrize("rows", [1, 2, 5])
def test_train_and_eval_score_r2_alike_for_few_rows(rows):
    """Training's R² (Trainer.evaluate, in memory and spilled) and eval's (metrics.r2) are
    one computation: equal for any number of rows, None for fewer than two."""
    from neuralcli.metrics import r2
    from neuralcli.spill import SpillArrays, SpilledRows

    X, y = _problem(40)
    _, net, tr = _fit("sgd", {}, True, 2, 0.05, X, y)
    Xs, ys = X[:rows], y[:rows]
    want = r2(ys, net.forward(Xs))
    assert (want is None) == (rows < 2)
    assert tr.evaluate(Xs, ys)[1] == want
    spec = {"dense": (net.dtype, (X.shape[1],)), "y": (net.dtype, (y.shape[1],))}
    with SpillArrays(spec) as spill:
        spill.append(dense=Xs.astype(net.dtype), y=ys.astype(net.dtype))
        # one row a window: the R² is merged over `rows` windows
        got = tr.evaluate(SpilledRows(spill, window_rows=1))[1]
    assert got == want if want is None else abs(got - want) < 1e-12


def test_evaluate_r2_with_sample_weight_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    X, y = _problem(40)
    sw = np.where(y[:, 0] > 0, 6.0, 0.3)
    _, net, tr = _fit("sgd", {}, True, 2, 0.05, X, y)
    out = net.forward(X)
    want = metrics.r2_score(y, out, sample_weight=sw)
    assert abs(want - metrics.r2_score(y, out)) > 1e-3
    assert abs(tr.evaluate(X, y, sw)[1] - want) < 1e-10


SCORE_WITHOUT_SKLEARN = r"""
import sys, json
sys.modules["sklearn"] = None  # the estimators' own score methods
import numpy as np
from neuralcli import MLPClassifier, MLPRegressor
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 2))
sw = rng.uniform(0, 3, 40)
yr = X[:, 0] - 2 * X[:, 1] + 0.5 * rng.standard_normal(40)
yc = (X[:, 0] > 0).astype(int)
kw = dict(max_iter=5, random_state=0, dtype="float64", shuffle=False)
reg = MLPRegressor((4,), **kw).fit(X, yr)
clf = MLPClassifier((4,), **kw).fit(X, yc)
print(json.dumps({"reg": reg.score(X, yr, sample_weight=sw), "reg_pred": reg.predict(X).tolist(),
                  "clf": clf.score(X, yc, sample_weight=sw), "clf_pred": clf.predict(X).tolist(),
                  "sw": sw.tolist(), "yr": yr.tolist(), "yc": yc.tolist()}))
"""


def test_score_without_sklearn_matches_sklearn():
    import json

    from helpers import run_python

    metrics = pytest.importorskip("sklearn.metrics")
    res = run_python(SCORE_WITHOUT_SKLEARN)
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout.strip().splitlines()[-1])
    want = metrics.r2_score(d["yr"], d["reg_pred"], sample_weight=d["sw"])
    assert abs(d["reg"] - want) < 1e-12
    want = metrics.accuracy_score(d["yc"], d["clf_pred"], sample_weight=d["sw"])
    assert abs(d["clf"] - want) < 1e-12


# ------------------------------------------------------------------ class weights

def _imbalanced():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 2))
    y = np.array([0] * 28 + [1] * 9 + [2] * 3)
    return X, y


def test_estimator_balanced_class_weight_is_n_over_k_counts():
    X, y = _imbalanced()
    n, k, counts = len(y), 3, np.bincount(y)
    balanced = _quiet_fit(_deterministic(MLPClassifier, class_weight="balanced"), X, y)
    explicit = _quiet_fit(_deterministic(MLPClassifier), X, y,
                          sample_weight=(n / (k * counts))[y])
    for wa, wb in zip(balanced.coefs_, explicit.coefs_):
        assert_close(wa, wb, 1e-10, 1e-13, "balanced vs n/(k*counts)")
    as_dict = {c: n / (k * counts[c]) for c in range(k)}
    with_dict = _quiet_fit(_deterministic(MLPClassifier, class_weight=as_dict), X, y)
    for wa, wb in zip(balanced.coefs_, with_dict.coefs_):
        assert_close(wa, wb, 1e-10, 1e-13, "balanced vs the same weights as a dict")


def test_model_balanced_class_weight_is_n_over_k_counts(tmp_path):
    """The command line's --class-weight balanced: the weights the model layer trains with
    are n/(k*counts) over the training rows, the same as giving those weights by label."""
    from neuralcli.model import Settings, TrainedModel
    from neuralcli.reader import read_table

    X, y = _imbalanced()
    path = tmp_path / "d.csv"
    path.write_text("x0,x1,label\n" + "".join(f"{a!r},{b!r},{'abc'[c]}\n"
                                               for (a, b), c in zip(X, y)))
    table = read_table(str(path))
    n, k, counts = len(y), 3, np.bincount(y)

    def fit(cw):
        s = Settings(hidden=[4], epochs=4, batch_size=0, val_split=0.0,
                     early_stopping=False, class_weight=cw, dtype="float64", seed=1)
        model, _ = TrainedModel.fit(table, s, target="label", keep=["x0", "x1"])
        return model.net.params

    balanced = fit("balanced")
    explicit = fit({lab: n / (k * c) for lab, c in zip("abc", counts)})
    assert_close(balanced, explicit, 1e-12, 1e-14, "balanced vs n/(k*counts) by label")
    assert np.abs(balanced - fit(None)).max() > 1e-6


# ------------------------------------------------------------------ validation split

def test_validation_split_unstratified():
    train, val = validation_split(50, 0.2, seed=3)
    assert len(val) == 10 and len(train) == 40
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(50))
    # the seed picks the rows
    assert not np.array_equal(val, validation_split(50, 0.2, seed=4)[1])
    assert np.array_equal(val, validation_split(50, 0.2, seed=3)[1])


def test_validation_split_stratifies_by_class():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    np.random.default_rng(0).shuffle(labels)
    train, val = validation_split(len(labels), 0.2, seed=1, labels=labels)
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    assert np.bincount(labels[val], minlength=3).tolist() == [12, 6, 2]
    assert np.bincount(labels[train], minlength=3).tolist() == [48, 24, 8]


def test_validation_split_keeps_a_training_row_per_class():
    labels = np.array([0] * 20 + [1])
    train, val = validation_split(len(labels), 0.5, seed=0, labels=labels)
    assert np.bincount(labels[val], minlength=2).tolist() == [10, 0]
    assert 20 in train


def test_validation_split_caps_each_class_one_row_short():
    # 0.9 of one row rounds to 1 and of two rows to 2: capped at 0 and 1, so every class
    # keeps a training row; 0.9 of 20 rows is 18
    labels = np.array([0] * 20 + [1] + [2, 2])
    train, val = validation_split(len(labels), 0.9, seed=0, labels=labels)
    assert np.bincount(labels[val], minlength=3).tolist() == [18, 0, 1]
    assert np.bincount(labels[train], minlength=3).tolist() == [2, 1, 1]
