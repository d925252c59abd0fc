"""The training loop: schedules, early stopping, clipping, divergence, callbacks,
interruption and reproducibility; optimizer classes against their formulas."""
import math

import numpy as np
import pytest

from neuralcli import training
from neuralcli.datasets import spirals
from neuralcli.network import MLP
from neuralcli.optim import make_optimizer
from neuralcli.schedules import make_schedule
from neuralcli.training import Callback, Task, TrainConfig, Trainer, TrainingError

BINARY = Task("binary", "bce", 1)


def _data(n=200):
    X, y, *_ = spirals(n=n)
    return X, y.reshape(-1, 1).astype(float)


def _trainer(cfg, sizes=(2, 16, 1), callbacks=(), dtype="float32"):
    net = MLP(list(sizes), ["relu"] * (len(sizes) - 2) + ["identity"], seed=0, dtype=dtype)
    return net, Trainer(net, BINARY, cfg, callbacks)


def test_history_has_losses_and_metrics():
    X, y = _data()
    net, tr = _trainer(TrainConfig(epochs=5, batch_size=32, lr=0.01))
    st = tr.fit(X, y, X_val=X[:50], y_val=y[:50])
    assert st.stop_reason == "completed" and len(st.history) == 5
    h = st.history[-1]
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"} <= set(h)
    assert st.history[-1]["loss"] < st.history[0]["loss"]
    # the reported validation loss is the model's loss on that set, recomputed
    assert math.isclose(h["val_loss"], tr.evaluate(X[:50], y[:50])[0], rel_tol=1e-6)


@pytest.mark.parametrize("name,expect", [
    ("constant", [0.1, 0.1, 0.1, 0.1]),
    ("step", [0.1, 0.1, 0.05, 0.05]),
    ("cosine", [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05,
                0.1 * (1 + math.cos(3 * math.pi / 4)) / 2]),
])
def test_schedules(name, expect):
    kw = {"step_size": 2, "gamma": 0.5} if name == "step" else {}
    s = make_schedule(name, 0.1, 4, **kw)
    np.testing.assert_allclose([s.lr(e) for e in range(4)], expect, rtol=1e-12)


def test_warmup_then_cosine():
    s = make_schedule("warmup_cosine", 1.0, 10, warmup=2)
    lrs = [s.lr(e) for e in range(10)]
    assert lrs[0] == 0.5 and lrs[1] == 1.0 and lrs[2] == 1.0
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] < 0.1


def test_reduce_on_plateau():
    s = make_schedule("plateau", 1.0, 100, patience=2, factor=0.5)
    for e, loss in enumerate([1.0, 0.9, 0.9, 0.9, 0.9]):
        s.observe(e, loss)
    assert s.lr(5) == 0.5


def test_early_stopping_restores_best_weights():
    X, y = _data()
    seen = {}

    class Snap(Callback):
        def on_epoch_end(self, state, logs):
            seen[logs["epoch"]] = self.net.params.copy()

    snap = Snap()
    net, tr = _trainer(TrainConfig(epochs=400, batch_size=0, lr=0.05, early_stopping=True,
                                   patience=5, min_delta=0.0), callbacks=[snap])
    snap.net = net
    # a validation set the model cannot fit well makes the validation loss turn upward
    Xv = X[:40] + np.random.default_rng(0).normal(0, 0.3, (40, 2))
    st = tr.fit(X[40:], y[40:], X_val=Xv, y_val=1 - y[:40])
    assert st.stop_reason == "early_stopping"
    assert len(st.history) == st.best_epoch + 5
    assert net.params.tobytes() == seen[st.best_epoch].tobytes()


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-runs", "per-batch"])
def test_clipping_sets_the_update_norm(compiled):
    X, y = _data(50)
    net, tr = _trainer(TrainConfig(epochs=1, batch_size=0, lr=1.0, optimizer="sgd",
                                   clip_norm=1e-3), dtype="float64")
    tr.compiled_runs = compiled
    assert tr._runs_in_c() == compiled
    before = net.params.copy()
    tr.fit(X, y)
    # the gradient's norm is far above 1e-3, so plain SGD moves by exactly lr * clip_norm
    step = np.linalg.norm(net.params - before)
    assert math.isclose(step, 1e-3, rel_tol=1e-9)


def test_divergence_stops_cleanly_with_advice():
    X, y = _data()
    net, tr = _trainer(TrainConfig(epochs=50, batch_size=0, lr=1e12, optimizer="sgd"))
    st = tr.fit(X * 1e3, y)
    assert st.stop_reason == "diverged"
    assert "is likely too large for sgd, which usually trains at 0.001 to 0.1: try 0.1" \
        in st.message and "clip" in st.message
    assert np.isfinite(net.params).all()


class _StopAt(Callback):
    def __init__(self, batch, exc=None):
        self.batch, self.exc, self.count = batch, exc, 0

    def on_batch_end(self, state, logs):
        # a report may cover a run of several batches: stop in the run that reaches it
        before = self.count
        self.count += logs["batches"]
        if before < self.batch <= self.count:
            if self.exc:
                raise self.exc
            state.stop = True


def test_interrupt_keeps_best_weights():
    X, y = _data()
    seen = {}

    class Snap(Callback):
        def on_epoch_end(self, state, logs):
            seen[logs["epoch"]] = (logs["loss"], self.net.params.copy())

    snap = Snap()
    net, tr = _trainer(TrainConfig(epochs=100, batch_size=50, lr=0.01),
                       callbacks=[snap, _StopAt(4 * 7 + 2, KeyboardInterrupt())])
    snap.net = net
    st = tr.fit(X, y)
    best = min(seen, key=lambda e: seen[e][0])
    assert st.stop_reason == "interrupted"
    assert st.message == (f"interrupted in epoch 8; kept the weights of epoch {best}, the "
                          f"best by loss")
    assert st.best_epoch == best
    assert net.params.tobytes() == seen[best][1].tobytes()


def test_callback_can_stop():
    X, y = _data()
    net, tr = _trainer(TrainConfig(epochs=100, batch_size=50), callbacks=[_StopAt(10)])
    st = tr.fit(X, y)
    assert st.stop_reason == "stopped" and len(st.history) == 2
    assert st.message == "stopped by a callback"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reproducible_bitwise_across_runs_and_threads(dtype, threads):
    X, y = _data()
    out = []
    for n in (1, 2, 1):
        threads(n)
        net, tr = _trainer(TrainConfig(epochs=4, batch_size=32, lr=0.01, seed=9),
                           sizes=(2, 64, 64, 1), dtype=dtype)
        tr.fit(X, y)
        out.append(net.params.tobytes())
    assert out[0] == out[1] == out[2]


def test_sample_weights_are_repeated_rows():
    """Full batch, no shuffling: integer weights train exactly as the rows repeated that
    many times (a weight of 0 as the row left out), and differ from no weights."""
    X, y = _data()
    sw = np.random.default_rng(4).integers(0, 4, len(y)).astype(float)
    cfg = dict(epochs=3, batch_size=0, lr=0.01, shuffle=False)
    a, tra = _trainer(TrainConfig(**cfg), dtype="float64")
    b, trb = _trainer(TrainConfig(**cfg), dtype="float64")
    c, trc = _trainer(TrainConfig(**cfg), dtype="float64")
    tra.fit(X, y)
    trb.fit(X, y, sample_weight=sw)
    rows = np.repeat(np.arange(len(y)), sw.astype(int))
    trc.fit(X[rows], y[rows])
    np.testing.assert_allclose(b.params, c.params, rtol=1e-10, atol=1e-13)
    assert np.abs(a.params - b.params).max() > 1e-4


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(lr=-1.0), dict(lr=float("nan")),
                                 dict(batch_size=-3), dict(patience=0), dict(clip_norm=-1)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(TrainingError):
        TrainConfig(**bad).validate()


@pytest.mark.parametrize("name,value,message", [
    ("epochs", 0, "must be at least 1, got 0"),
    ("batch_size", -1, "must be at least 0, got -1"),
    ("patience", 0, "must be at least 1, got 0"),
    ("seed", -1, "must be at least 0, got -1"),
    ("lr", math.inf, "must be a positive number, got inf"),
    ("weight_decay", math.nan, "must be a non-negative number, got nan"),
    ("l2", -0.5, "must be a non-negative number, got -0.5"),
    ("clip_norm", math.inf, "must be a non-negative number, got inf"),
])
def test_a_setting_out_of_range_is_named(name, value, message):
    """The error names the setting and says what is wrong with its value, apart, so a
    front end can say it of its own option; str() is the two together."""
    with pytest.raises(TrainingError) as info:
        TrainConfig(**{name: value}).validate()
    err = info.value
    assert (err.setting, err.message, str(err)) == (name, message, f"{name} {message}")


def test_batch_size_and_clip_norm_may_be_none():
    TrainConfig(batch_size=None, clip_norm=None).validate()


# ------------------------------------------------------------------ optimizer classes

def _one_step(name, **kw):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(50)
    g = rng.standard_normal(50)
    opt = make_optimizer(name, 50, np.float64, **kw)
    p1 = p.copy()
    opt.step(p1, g, 0.1)
    return p, g, p1


def test_sgd_momentum_nesterov_step():
    p, g, p1 = _one_step("sgd", momentum=0.9, nesterov=True, weight_decay=0.01)
    gg = g + 0.01 * p
    v = gg
    np.testing.assert_allclose(p1, p - 0.1 * (gg + 0.9 * v), rtol=1e-14)


def test_adam_step():
    p, g, p1 = _one_step("adam", weight_decay=0.01)
    gg = g + 0.01 * p
    m, v = 0.1 * gg, 0.001 * gg * gg
    want = p - 0.1 / 0.1 * m / (np.sqrt(v) / np.sqrt(0.001) + 1e-8)
    np.testing.assert_allclose(p1, want, rtol=1e-12)


def test_adamw_step():
    p, g, p1 = _one_step("adamw", weight_decay=0.01)
    m, v = 0.1 * g, 0.001 * g * g
    want = p * (1 - 0.1 * 0.01) - 0.1 / 0.1 * m / (np.sqrt(v) / np.sqrt(0.001) + 1e-8)
    np.testing.assert_allclose(p1, want, rtol=1e-12)


def test_rmsprop_step():
    p, g, p1 = _one_step("rmsprop")
    v = 0.01 * g * g
    np.testing.assert_allclose(p1, p - 0.1 * g / (np.sqrt(v) + 1e-8), rtol=1e-12)


ADVICE = ("the learning rate {lr} is likely too large for sgd, which usually trains at "
          "0.001 to 0.1: try 0.1")


@pytest.mark.parametrize("cfg,scale,message", [
    # full batches: epoch 1's loss is the untrained network's, and the weights its step
    # made have a loss of 6e29, which epoch 2 reports
    (TrainConfig(epochs=50, batch_size=0, lr=1e12, optimizer="sgd"), 1e3,
     "training diverged in epoch 2: the loss grew to 6.121e+29, more than 1,000 times the "
     "starting loss 102.9; no epoch ended with weights better than the untrained "
     "network's; " + ADVICE.format(lr="1e+12") + ", or clip the gradient norm (at 1.0, say)"),
    (TrainConfig(epochs=50, batch_size=16, lr=3.0, optimizer="sgd", clip_norm=1e9), 1e20,
     "training diverged in epoch 1, batch 13: the loss became nan; no epoch ended; "
     + ADVICE.format(lr="3")),
    # float32 weights: the learning rate itself is infinite there, so one step makes the
    # weights non-finite while the loss it stepped on was finite
    (TrainConfig(epochs=3, batch_size=0, lr=1e39, optimizer="sgd"), 1.0,
     "training diverged in epoch 1, batch 1: the weights became non-finite; no epoch ended; "
     + ADVICE.format(lr="1e+39") + ", or clip the gradient norm (at 1.0, say)"),
    # every epoch's weights are worse than the untrained ones, none is kept
    (TrainConfig(epochs=50, batch_size=0, lr=3, optimizer="sgd"), 10,
     "training diverged in epoch 6: the loss grew to 2022, more than 1,000 times the "
     "starting loss 1.24; no epoch ended with weights better than the untrained "
     "network's; " + ADVICE.format(lr="3") + ", or clip the gradient norm (at 1.0, say)"),
])
def test_divergence_message_says_where_and_what_was_kept(cfg, scale, message):
    X, y = _data()
    net, tr = _trainer(cfg)
    first = net.params.copy()
    st = tr.fit(X * scale, y)
    assert st.stop_reason == "diverged" and st.message == message
    assert st.best_epoch == 0 and net.params.tobytes() == first.tobytes()


class _Rates:
    """A schedule of given learning rates per epoch (the last one from then on)."""

    def __init__(self, rates):
        self.rates = rates

    def lr(self, epoch):
        return self.rates[min(epoch, len(self.rates) - 1)]

    def observe(self, epoch, value):
        pass


def _ramped(rates, with_val, factor=None, monkeypatch=None):
    X, y = _data()
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order] * 3, y[order]
    net, tr = _trainer(TrainConfig(epochs=50, batch_size=20, optimizer="sgd", seed=1))
    tr.schedule = _Rates(rates)
    seen = {}

    class Snap(Callback):
        def on_epoch_end(self, state, logs):
            seen[logs["epoch"]] = net.params.copy()

    tr.callbacks = [Snap()]
    if with_val:
        st = tr.fit(X[:150], y[:150], None, X[150:], y[150:])
    else:
        st = tr.fit(X, y)
    return net, tr, st, seen


def test_divergence_keeps_the_best_epoch_by_validation_not_the_last():
    net, tr, st, seen = _ramped([0.05, 0.05, 0.5, 5, 50], True)
    val = [h["val_loss"] for h in st.history]
    assert st.stop_reason == "diverged" and len(val) == 4
    # the validation loss rose in epoch 4: the weights of epoch 3 are the ones kept
    assert val.index(min(val)) == 2 and val[3] > val[2]
    assert st.best_epoch == 3 and net.params.tobytes() == seen[3].tobytes()
    assert f"kept the weights of epoch 3 (val_loss {val[2]:.4g})" in st.message
    # what the kept weights score is what the history says they scored
    assert tr.evaluate(*_ramped_val())[0] == val[2]


def _ramped_val():
    X, y = _data()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order][150:] * 3, y[order][150:]


def test_divergence_without_validation_measures_the_kept_weights():
    net, tr, st, seen = _ramped([0.3, 0.3, 0.3, 1e4], False)
    assert st.stop_reason == "diverged" and "epoch 4, batch" in st.message
    assert st.best_epoch == 3 and net.params.tobytes() == seen[3].tobytes()
    X, y = _data()
    order = np.random.default_rng(0).permutation(len(X))
    loss = tr.evaluate(X[order] * 3, y[order])[0]
    # the training loss of the kept weights themselves, not epoch 3's mean over batches
    assert loss != st.history[2]["loss"]
    assert f"kept the weights of epoch 3 (training loss {loss:.4g})" in st.message


def test_a_loss_past_the_factor_is_a_divergence(monkeypatch):
    rates = [0.05, 0.05, 0.5, 5, 0.5, 0.05]
    monkeypatch.setattr(training, "DIVERGENCE_FACTOR", 1e30)
    _, tr, free, _ = _ramped(rates, True)
    assert free.stop_reason == "completed"
    # each epoch's loss over the starting loss, the larger of training and validation
    grown = [max(h["loss"], h["val_loss"]) / tr._start_loss
             for h in free.history[:6]]
    assert max(grown) > 1.2
    for factor in sorted(set(grown))[-3:]:
        for f in (factor * 0.999, factor * 1.001):
            monkeypatch.setattr(training, "DIVERGENCE_FACTOR", f)
            net, _, st, seen = _ramped(rates, True)
            first = next((e for e, g in enumerate(grown) if g > f), None)
            if first is None:
                assert st.stop_reason == "completed"
                continue
            assert st.stop_reason == "diverged"
            assert st.message.startswith(f"training diverged in epoch {first + 1}: ")
            assert [h["val_loss"] for h in st.history] == \
                [h["val_loss"] for h in free.history[:first]]
            best = st.best_epoch
            assert best == 0 or net.params.tobytes() == seen[best].tobytes()


def test_a_training_loss_grown_a_thousandfold_is_a_divergence():
    # adam at 1e6 keeps the loss finite (about 1e19) but useless
    X, y = _data()
    net, tr = _trainer(TrainConfig(epochs=5, batch_size=20, lr=1e6))
    first = net.params.copy()
    st = tr.fit(X, y)
    assert st.stop_reason == "diverged" and not st.history
    assert st.message.startswith("training diverged in epoch 1: the loss grew to ")
    assert f"more than 1,000 times the starting loss {tr._start_loss:.4g}" in st.message
    assert "too large for adam, which usually trains at 0.0001 to 0.01: try 0.01" \
        in st.message
    assert net.params.tobytes() == first.tobytes()


def _accuracy_case(kind, loss, seed=4):
    """A trained-a-little network and data for which accuracy is neither 0 nor 1."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((120, 3))
    if kind == "binary":
        y = (X[:, 0] + 0.8 * rng.standard_normal(120) > 0).astype(float).reshape(-1, 1)
        sizes, out_act = (3, 6, 1), ("sigmoid" if loss == "mse" else "identity")
    else:
        lab = np.digitize(X[:, 0] + 0.8 * rng.standard_normal(120), [-0.5, 0.5])
        y = lab.astype(np.int32) if loss == "cross_entropy" else np.eye(3)[lab]
        sizes, out_act = (3, 6, 3), ("softmax" if loss == "mse" else "identity")
    net = MLP(list(sizes), ["tanh", out_act], seed=seed, dtype="float64")
    tr = Trainer(net, Task(kind, loss, sizes[-1]), TrainConfig(epochs=3, batch_size=16,
                                                               lr=0.05))
    return net, tr, X, y


@pytest.mark.parametrize("kind,loss", [("binary", "bce"), ("binary", "mse"),
                                       ("multiclass", "cross_entropy"), ("multiclass", "mse")])
def test_accuracy_counts_the_predicted_class(kind, loss):
    net, tr, X, y = _accuracy_case(kind, loss)
    st = tr.fit(X, y)
    out = net.forward(X)
    if kind == "binary":
        # bce outputs a logit (class 1 above 0), mse a sigmoid probability (above 0.5)
        pred = out[:, 0] > (0.0 if loss == "bce" else 0.5)
        want = np.mean(pred == (y[:, 0] > 0.5))
    else:
        labels = y if y.ndim == 1 else y.argmax(axis=1)
        want = np.mean(out.argmax(axis=1) == labels)
    assert 0.2 < want < 0.99
    assert tr.evaluate(X, y)[1] == want
    # the epochs' training accuracy, per-batch and in compiled runs alike
    net2, tr2, _, _ = _accuracy_case(kind, loss)
    tr2.compiled_runs = False
    st2 = tr2.fit(X, y)
    assert [h["accuracy"] for h in st.history] == [h["accuracy"] for h in st2.history]
    assert all(0 < h["accuracy"] < 1 for h in st.history)


@pytest.mark.parametrize("sizes,acts", [((2, 16, 1), ("relu", "identity")),
                                        ((2, 80, 80, 2), ("tanh", "tanh", "sigmoid"))])
def test_l2_with_a_loss_scale_per_batch_as_in_compiled_runs(sizes, acts):
    # the second network's weights (54 KB in float64) are too many for the fused small
    # step, so the per-batch path runs forward, loss and backward apart, with a sigmoid
    # output whose derivative is taken from the output
    X, y = _data(96)
    y = np.column_stack([y[:, 0], 1 - y[:, 0]]) if sizes[-1] == 2 else y
    got = []
    for compiled in (True, False):
        net = MLP(list(sizes), list(acts), seed=0, dtype="float64")
        assert net.fused == (len(sizes) == 3)
        task = Task("regression", "mse", sizes[-1])
        tr = Trainer(net, task, TrainConfig(epochs=3, batch_size=16, lr=0.05, l2=0.3,
                                            loss_scale=0.5, optimizer="sgd"))
        tr.compiled_runs = compiled
        st = tr.fit(X, y)
        got.append((net.params.copy(), [h["loss"] for h in st.history]))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-12)


def test_per_batch_callbacks_count_each_batch():
    X, y = _data(100)
    seen = []

    class Batches(Callback):
        def on_batch_end(self, state, logs):
            seen.append((logs["epoch"], logs["batch"], logs["batches"], logs["loss"]))

    net, tr = _trainer(TrainConfig(epochs=2, batch_size=32, lr=0.01), callbacks=[Batches()])
    tr.compiled_runs = False
    st = tr.fit(X, y)
    assert [s[:3] for s in seen] == [(e, b, 1) for e in (1, 2) for b in (1, 2, 3, 4)]
    assert all(np.isfinite(s[3]) and s[3] > 0 for s in seen)
    assert st.history[-1]["loss"] > 0


def _still(**kw):
    """A float64 trainer whose steps leave the weights as they are (SGD at a learning
    rate of 1e-300), so every epoch's figures are those of the starting weights."""
    cfg = dict(epochs=6, batch_size=16, lr=1e-300, optimizer="sgd")
    cfg.update(kw)
    return _trainer(TrainConfig(**cfg), dtype="float64")


def test_epoch_figures_are_the_models_on_the_training_and_validation_rows():
    X, y = _data(90)
    Xv, yv = X[:31], y[:31]
    wv = np.linspace(0.1, 3.0, 31)
    net, tr = _still()
    st = tr.fit(X, y, X_val=Xv, y_val=yv, val_weight=wv)
    loss, acc = tr.evaluate(X, y)
    vloss, vacc = tr.evaluate(Xv, yv, wv)
    assert vloss != tr.evaluate(Xv, yv)[0]               # the weights matter
    assert [h["epoch"] for h in st.history] == [1, 2, 3, 4, 5, 6]
    for h in st.history:
        assert math.isclose(h["loss"], loss, rel_tol=1e-12)
        assert h["accuracy"] == acc and h["val_accuracy"] == vacc
        assert h["val_loss"] == vloss
    times = [h["time"] for h in st.history]
    assert 0 < times[0] and times == sorted(times) and times[-1] <= st.elapsed


def test_early_stopping_counts_only_improvements_beyond_min_delta():
    X, y = _data(60)
    # the same validation loss every epoch: no improvement after the first
    net, tr = _still(epochs=50, early_stopping=True, patience=3, min_delta=0.0)
    st = tr.fit(X, y, X_val=X[:20], y_val=y[:20])
    assert st.stop_reason == "early_stopping" and len(st.history) == 4
    assert st.best_epoch == 1
    assert st.message == ("no improvement in val_loss for 3 epochs; restored the weights of "
                          "epoch 1")
    # a real improvement smaller than min_delta does not count either
    net, tr = _trainer(TrainConfig(epochs=50, batch_size=0, lr=1e-4, optimizer="sgd",
                                   early_stopping=True, patience=2, min_delta=1e9),
                       dtype="float64")
    st = tr.fit(X, y, X_val=X[:20], y_val=y[:20])
    assert st.history[1]["val_loss"] < st.history[0]["val_loss"]
    assert st.stop_reason == "early_stopping" and len(st.history) == 3
    assert st.best_epoch == 1


def test_plateau_schedule_follows_the_monitored_loss_in_training():
    X, y = _data(60)
    net, tr = _still(lr=1e-300, epochs=7, schedule="plateau",
                     schedule_options={"patience": 2, "factor": 0.5, "min_lr": 0.0})
    st = tr.fit(X, y, X_val=X[:20], y_val=y[:20])
    assert [h["lr"] for h in st.history] == [1e-300] * 4 + [5e-301] * 3


def test_validation_of_one_row_and_of_none():
    X, y = _data(40)
    net, tr = _still(epochs=2)
    st = tr.fit(X, y, X_val=X[:1], y_val=y[:1])
    assert st.history[-1]["val_loss"] == tr.evaluate(X[:1], y[:1])[0]
    net, tr = _still(epochs=2)
    st = tr.fit(X, y, X_val=X[:0], y_val=y[:0])
    assert "val_loss" not in st.history[-1]


def test_config_ranges_at_their_boundaries():
    for cfg in (dict(lr=0.0), dict(weight_decay=-1e-9), dict(l2=-1e-9), dict(patience=0)):
        with pytest.raises(TrainingError):
            TrainConfig(**cfg).validate()
    TrainConfig(patience=1, weight_decay=0.0, l2=0.0, lr=1e-300).validate()


class _Watch(Callback):
    def __init__(self):
        self.lrs, self.ended = [], []

    def on_epoch_end(self, state, logs):
        self.lrs.append(state.lr)

    def on_train_end(self, state):
        self.ended.append(state)


def test_callbacks_see_the_state_and_a_stop_keeps_the_best_weights():
    X, y = _data(64)
    seen = {}
    watch = _Watch()

    class Snap(Callback):
        def on_epoch_end(self, state, logs):
            seen[logs["epoch"]] = (logs["val_loss"], net.params.copy())

    net, tr = _trainer(TrainConfig(epochs=50, batch_size=16, lr=0.3, optimizer="sgd",
                                   schedule="step", schedule_options={"step_size": 2},
                                   min_delta=0.0),
                       callbacks=[Snap(), watch, _StopAt(4 * 6 + 2)])
    # a validation set the model cannot fit: its loss is best early on
    st = tr.fit(X, y, X_val=X[:20], y_val=1 - y[:20])
    assert st.stop_reason == "stopped" and len(st.history) == 6
    assert watch.lrs == [h["lr"] for h in st.history] and len(set(watch.lrs)) > 1
    assert watch.ended == [st] and 0 < st.elapsed < 600
    best = min(seen, key=lambda e: seen[e][0])
    assert best < 6
    assert st.best_epoch == best and net.params.tobytes() == seen[best][1].tobytes()


def test_an_interrupt_in_the_first_epoch_keeps_the_starting_weights():
    X, y = _data(64)
    net, tr = _trainer(TrainConfig(epochs=5, batch_size=16, lr=0.3, optimizer="sgd"),
                       callbacks=[_StopAt(2, KeyboardInterrupt())])
    start = net.params.copy()
    st = tr.fit(X, y)
    assert st.stop_reason == "interrupted" and st.history == []
    assert st.message == "interrupted before the first epoch ended; kept the weights from " \
                         "before it"
    assert net.params.tobytes() == start.tobytes()


def test_two_batches_are_shuffled_and_counted():
    X, y = _data(33)
    net, tr = _trainer(TrainConfig(epochs=1, batch_size=16))
    assert tr.fit(X, y).batches_per_epoch == 3
    order = []

    class Rec(Trainer):
        def step(self, xb, yb, swb, lr, seed, codes=None):
            order.append(xb[:, 0].copy())
            return super().step(xb, yb, swb, lr, seed, codes)

    net = MLP([2, 4, 1], ["relu", "identity"], seed=0, dtype="float64")
    Rec(net, BINARY, TrainConfig(epochs=1, batch_size=16, seed=3)).fit(X[:32], y[:32])
    assert not np.array_equal(np.concatenate(order), X[:32, 0])
