"""Compiled runs of training batches (nc_train_batches) against the per-batch loop they
replace, over the same kernels: bitwise the same weights, history, counters and
divergence for every optimizer, loss, input kind and step path, at 1 and 2 threads."""
import numpy as np
import pytest

from helpers import assert_bitwise_equal
from test_training_stream import BINARY, MULTI, REGRESSION, _data, _net, _spill
from neuralcli.network import MLP
from neuralcli.spill import SpilledRows
from neuralcli.training import Callback, Task, TrainConfig, Trainer

SOFTMAX_MSE = Task("multiclass", "mse", 3)
MAE = Task("regression", "mae", 2)


class _Reports(Callback):
    def __init__(self):
        self.batches = []

    def on_batch_end(self, state, logs):
        self.batches.append((logs["epoch"], logs["batch"], logs["batches"]))


def _fit(compiled, task, X, y, sw, cfg, net_kw, run_seconds=0.1, spilled=None):
    net = _net(task, **net_kw)
    reports = _Reports()
    tr = Trainer(net, task, TrainConfig(**cfg), [reports])
    tr.compiled_runs = compiled
    tr.run_seconds = run_seconds
    if spilled is not None:
        st = tr.fit(SpilledRows(spilled, window_rows=spilled.n_rows // 3 + 5,
                                block_rows=7))
    else:
        st = tr.fit(X, y, sw)
    assert tr._runs_in_c() == compiled
    return net, tr, st, reports


def _same(a, b):
    (net_a, tr_a, st_a, _), (net_b, tr_b, st_b, _) = a, b
    assert_bitwise_equal(net_a.params, net_b.params, "weights")
    assert st_a.history and len(st_a.history) == len(st_b.history)
    for ha, hb in zip(st_a.history, st_b.history):
        for key in ha:
            if key != "time":
                assert ha[key] == hb[key], (key, ha[key], hb[key])
    assert (st_a.step, tr_a.optimizer.t) == (st_b.step, tr_b.optimizer.t)
    for sa, sb in zip(tr_a.optimizer.state, tr_b.optimizer.state):
        assert_bitwise_equal(sa, sb, "optimizer state")
    assert (st_a.stop_reason, st_a.message) == (st_b.stop_reason, st_b.message)


OPTIMIZERS = [
    pytest.param({"optimizer": "adam"}, id="adam"),
    pytest.param({"optimizer": "adamw", "weight_decay": 0.05}, id="adamw"),
    pytest.param({"optimizer": "adam", "weight_decay": 0.01, "clip_norm": 0.05}, id="adam-l2-clip"),
    pytest.param({"optimizer": "sgd", "lr": 0.05}, id="sgd"),
    pytest.param({"optimizer": "sgd", "lr": 0.02, "optimizer_options":
                  {"momentum": 0.9, "nesterov": True}, "weight_decay": 1e-3}, id="sgd-nesterov"),
    pytest.param({"optimizer": "rmsprop"}, id="rmsprop"),
    pytest.param({"optimizer": "rmsprop", "optimizer_options": {"momentum": 0.5},
                  "clip_norm": 0.5}, id="rmsprop-momentum-clip"),
]

PATHS = [
    pytest.param({}, id="fused"),
    pytest.param({"dropout": 0.2}, id="gemm-dropout"),
    pytest.param({"hidden": 128}, id="gemm"),
]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_runs_are_bitwise_the_per_batch_loop(opt, path, n_threads, threads):
    threads(n_threads)
    X, y, sw = _data(203, BINARY, weights=True, seed=1)
    cfg = dict(epochs=3, batch_size=16, lr=0.01, seed=4, l2=0.01)
    cfg.update(opt)
    want = _fit(False, BINARY, X, y, sw, cfg, path)
    got = _fit(True, BINARY, X, y, sw, cfg, path)
    _same(got, want)
    assert want[0].fused == ("dropout" not in path and "hidden" not in path)


INPUTS = [  # task, encoded, weights, dtype
    pytest.param(BINARY, True, True, "float32", id="encoded-weights"),
    pytest.param(MULTI, True, False, "float64", id="encoded-labels-f64"),
    pytest.param(MULTI, False, True, "float32", id="labels-weights"),
    pytest.param(REGRESSION, False, False, "float64", id="mse-f64"),
    pytest.param(MAE, False, True, "float32", id="mae-weights"),
]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("task,encoded,weights,dtype", INPUTS)
def test_runs_match_for_every_input_and_loss(task, encoded, weights, dtype, dropout,
                                             n_threads, threads):
    threads(n_threads)
    X, y, sw = _data(150, task, encoded=encoded, weights=weights, seed=2,
                     dtype=np.dtype(dtype))
    cfg = dict(epochs=3, batch_size=20, lr=0.01, seed=1, loss_scale=0.5, clip_norm=1.0,
               l2=0.02, schedule="step", schedule_options={"step_size": 1, "gamma": 0.5})
    kw = {"encoded": encoded, "dropout": dropout, "dtype": dtype}
    _same(_fit(True, task, X, y, sw, cfg, kw), _fit(False, task, X, y, sw, cfg, kw))


def test_softmax_mse_counts_correct_by_the_target_rows():
    X, y, _ = _data(120, MULTI, seed=3)
    onehot = np.eye(3, dtype=np.float32)[y]
    runs = []
    for compiled in (True, False):
        net = MLP([5, 16, 3], ["relu", "softmax"], seed=0)
        tr = Trainer(net, SOFTMAX_MSE, TrainConfig(epochs=3, batch_size=16, lr=0.05))
        tr.compiled_runs = compiled
        runs.append((net, tr, tr.fit(X, onehot), None))
    _same(*runs)
    assert 0 < runs[0][2].history[-1]["accuracy"] < 1


@pytest.mark.parametrize("compiled", [True, False])
def test_tied_outputs_predict_the_first_class(compiled):
    """With every weight zero the three outputs tie exactly; the prediction is the first
    of them, as np.argmax takes it, so the accuracy of the one batch (counted on the
    outputs before its update) is the share of rows labelled 0."""
    X, y, _ = _data(120, MULTI, seed=3)
    net = _net(MULTI)
    net.params[...] = 0
    tr = Trainer(net, MULTI, TrainConfig(epochs=1, batch_size=120, optimizer="sgd", lr=0.1))
    tr.compiled_runs = compiled
    st = tr.fit(X, y)
    assert tr._runs_in_c() == compiled
    assert 0 < np.mean(y == 0) < 1
    assert st.history[-1]["accuracy"] == pytest.approx(np.mean(y == 0), abs=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("encoded,dropout", [(False, 0.0), (True, 0.2)])
def test_spilled_runs_carry_rows_across_windows(encoded, dropout, shuffle, n_threads,
                                                threads):
    threads(n_threads)
    X, y, sw = _data(301, BINARY, encoded=encoded, weights=True, seed=5)
    cfg = dict(epochs=2, batch_size=24, lr=0.01, seed=2, shuffle=shuffle)
    kw = {"encoded": encoded, "dropout": dropout}
    runs = []
    for compiled in (True, False):
        with _spill(X, y, sw) as s:
            runs.append(_fit(compiled, BINARY, None, None, None, cfg, kw, spilled=s))
    _same(*runs)
    # windows of 105 rows and batches of 24 leave rows over at every window's end
    per_epoch = sum(n for e, b, n in runs[0][3].batches if e == 1)
    assert per_epoch == (301 + 23) // 24


def test_time_budget_changes_only_how_batches_are_reported():
    X, y, sw = _data(200, BINARY, seed=6)
    cfg = dict(epochs=2, batch_size=10, lr=0.01)
    whole = _fit(True, BINARY, X, y, sw, cfg, {}, run_seconds=60.0)
    each = _fit(True, BINARY, X, y, sw, cfg, {}, run_seconds=1e-9)
    _same(whole, each)
    assert whole[3].batches == [(1, 20, 20), (2, 20, 20)]
    # training's first batch runs alone (its loss is the starting loss) and is reported
    # with the run after it
    assert each[3].batches == [(1, 2, 2)] + [(e, b, 1) for e in (1, 2)
                                             for b in range(1, 21) if (e, b) > (1, 2)]


@pytest.mark.parametrize("path", PATHS)
def test_divergence_is_found_at_the_same_batch(path):
    X, y, sw = _data(200, REGRESSION, seed=7)
    cfg = dict(epochs=20, batch_size=16, lr=3.0, optimizer="sgd")
    runs = [_fit(c, REGRESSION, X * 30, y, sw, cfg, path) for c in (True, False)]
    st = runs[0][2]
    assert st.stop_reason == "diverged" and "batch" in st.message, st.message
    # found in the middle of a run, after batches that did update the weights
    assert "batch 1:" not in st.message
    assert st.message == runs[1][2].message and st.step == runs[1][2].step
    assert_bitwise_equal(runs[0][0].params, runs[1][0].params, "kept weights")
    assert [h["loss"] for h in st.history] == [h["loss"] for h in runs[1][2].history]


def test_a_callback_stops_after_the_run():
    class Stop(Callback):
        def on_batch_end(self, state, logs):
            state.stop = True

    X, y, sw = _data(200, BINARY, seed=8)
    net = _net(BINARY)
    tr = Trainer(net, BINARY, TrainConfig(epochs=5, batch_size=10), [Stop()])
    tr.run_seconds = 60.0
    st = tr.fit(X, y)
    assert st.stop_reason == "stopped" and st.batch == 20 and st.step == 20


def test_a_changed_step_keeps_the_per_batch_loop():
    calls = []

    class Counting(Trainer):
        def step(self, *a, **kw):
            calls.append(1)
            return super().step(*a, **kw)

    X, y, sw = _data(100, BINARY, seed=9)
    net = _net(BINARY)
    tr = Counting(net, BINARY, TrainConfig(epochs=2, batch_size=10))
    st = tr.fit(X, y, sw)
    assert not tr._runs_in_c() and len(calls) == 20 and st.stop_reason == "completed"
