"""Training diagnostics: each epoch's figures against a numpy recomputation, their
independence of the thread count and of the path (fused, GEMM, per batch), the weights
they leave alone, and the trouble they report through `train` and `info`."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import assert_bitwise_equal, assert_close
from neuralcli import diagnostics, network
from neuralcli.cli import cli
from neuralcli.network import MLP
from neuralcli.training import Task, TrainConfig, Trainer

REG = Task("regression", "mse", 1)
NP_ACTS = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
           "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def _data(n=200, c=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, c))
    y = (X[:, :1] - 0.5 * X[:, 1:2] ** 2)
    return X, y


def _fit(net, X, y, compiled=True, **cfg):
    cfg = {"epochs": 1, "batch_size": 0, "optimizer": "sgd", "lr": 0.1, **cfg}
    tr = Trainer(net, REG, TrainConfig(**cfg))
    tr.compiled_runs = compiled
    return tr.fit(X.astype(net.dtype), y.astype(net.dtype))


def _preacts(net, X):
    """Each layer's pre-activation (rows, units) in float64, from the current weights."""
    h, zs = X, []
    for w, b, act in zip(net.weights, net.biases, net.activations):
        z = h @ w.astype(np.float64) + b.astype(np.float64)
        zs.append(z)
        h = NP_ACTS[act](z)
    return zs


def _grad(params, net, X, y):
    """(loss, gradient) of the trainer's mse on params, backpropagated in numpy float64."""
    hs, zs = [X], []
    for (ws, bs), c, oc, act in zip(network.layer_slices(net.sizes), net.sizes[:-1],
                                    net.sizes[1:], net.activations):
        zs.append(hs[-1] @ params[ws].reshape(c, oc) + params[bs])
        hs.append(NP_ACTS[act](zs[-1]))
    out = hs[-1]
    grad = np.empty_like(params)
    dh = 2 * (out - y) / out.size
    for l in reversed(range(len(zs))):
        act = net.activations[l]
        dz = dh * {"relu": zs[l] > 0, "tanh": 1 - hs[l + 1] ** 2, "identity": 1.0}[act]
        ws, bs = network.layer_slices(net.sizes)[l]
        grad[ws] = (hs[l].T @ dz).reshape(-1)
        grad[bs] = dz.sum(axis=0)
        dh = dz @ params[ws].reshape(net.sizes[l], net.sizes[l + 1]).T
    return np.mean((out - y) ** 2), grad


def test_numpy_gradient_against_finite_differences():
    X, y = _data(50)
    net = MLP([3, 5, 4, 1], ["tanh", "tanh", "identity"], dtype="float64", seed=3)
    p = net.params.copy()
    _, grad = _grad(p, net, X, y)
    eps = 1e-6
    fd = np.empty_like(p)
    for i in range(len(p)):
        up, down = p.copy(), p.copy()
        up[i] += eps
        down[i] -= eps
        fd[i] = (_grad(up, net, X, y)[0] - _grad(down, net, X, y)[0]) / (2 * eps)
    assert_close(grad, fd, 1e-6, 1e-9, "numpy gradient")


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("hidden,act", [([5, 4], "tanh"), ([600], "relu")])
def test_one_step_figures_against_numpy(compiled, hidden, act):
    """One full-batch SGD step: the gradient RMS against numpy's backpropagation (itself
    checked by finite differences above), the update ratio and the weight norm against the weights before and after,
    the dead and saturated shares against the pre-activations."""
    X, y = _data()
    net = MLP([3] + hidden + [1], [act] * len(hidden) + ["identity"], dtype="float64",
              seed=3)
    if act == "relu":
        net.biases[0][:200] = -100.0       # these 200 units never fire
    assert net.fused == (act == "tanh")  # both paths: the fused step and the GEMM one
    before = net.params.astype(np.float64)
    zs = _preacts(net, X)
    d = _fit(net, X, y, compiled).history[0]["diagnostics"]

    _, grad = _grad(before, net, X, y)
    after = net.params.astype(np.float64)
    L = len(net.sizes) - 1
    want_rms, want_ratio, want_norm = [], [], []
    for ws, bs in network.layer_slices(net.sizes):
        g = np.concatenate([grad[ws], grad[bs]])
        want_rms.append(np.sqrt(np.mean(g ** 2)))
        want_ratio.append(np.linalg.norm(after[ws] - before[ws]) / np.linalg.norm(before[ws]))
        want_norm.append(np.linalg.norm(after[ws]))
    assert_close(d["grad_rms"], want_rms, 1e-12, 0, "grad_rms")
    assert_close(d["update_ratio"], want_ratio, 1e-9, 0, "update_ratio")
    assert_close(d["weight_norm"], want_norm, 1e-12, 0, "weight_norm")

    hidden_z = zs[:-1]
    if act == "relu":
        want_dead = [float(np.mean((z <= 0).all(axis=0))) for z in hidden_z]
        assert want_dead[0] >= 200 / 600
        assert d["dead"] == want_dead + [None]
        assert d["saturated"] == [None] * L
    else:
        want_sat = [float(np.mean(np.abs(np.tanh(z)) > 0.99)) for z in hidden_z]
        assert d["saturated"] == pytest.approx(want_sat + [None], abs=0)
        assert d["dead"] == [None] * L


def test_large_weights_saturate_tanh_and_sigmoid():
    X, y = _data(300)
    for act, lo, hi in (("tanh", -0.99, 0.99), ("sigmoid", 0.01, 0.99)):
        net = MLP([3, 16, 1], [act, "identity"], dtype="float32", seed=1)
        net.weights[0][...] *= 30
        z = _preacts(net, X)[0]
        a = np.tanh(z) if act == "tanh" else 1 / (1 + np.exp(-z))
        want = float(np.mean((a < lo) | (a > hi)))
        assert want > 0.5
        got = _fit(net, X, y, lr=1e-6).history[0]["diagnostics"]["saturated"]
        assert got[1] is None and got[0] == pytest.approx(want, abs=2 / a.size), act


def test_dead_share_over_an_epoch_of_batches():
    """A unit counts as dead only when no row of the whole epoch fired it: a unit that
    fires on a single row (batch 7 of 10) is alive."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 2)) * 0.1
    X[73] = [50.0, 0.0]
    y = np.zeros((100, 1))
    net = MLP([2, 4, 1], ["relu", "identity"], dtype="float64", seed=0)
    net.weights[0][...] = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]
    net.biases[0][...] = [-10.0, -10.0, -10.0, 1.0]
    st = _fit(net, X, y, batch_size=10, shuffle=False, lr=1e-9)
    # unit 0 fires on row 73 only; units 1 and 2 never; unit 3 always
    assert st.history[0]["diagnostics"]["dead"] == [0.5, None]


def _history(threads, n_threads, hidden, dtype, bs, act="relu", epochs=3):
    threads(n_threads)
    X, y = _data(400, 8, seed=4)
    net = MLP([8] + hidden + [1], [act] * len(hidden) + ["identity"], dtype=dtype, seed=5)
    net.biases[0][: hidden[0] // 3] = -3.0
    st = _fit(net, X, y, epochs=epochs, batch_size=bs, optimizer="adam", lr=0.01)
    return net, [h["diagnostics"] for h in st.history]


@pytest.mark.parametrize("hidden,dtype,bs", [([64, 64], "float32", 64),
                                             ([600, 8], "float32", 100),
                                             ([32, 32], "float64", 200)])
def test_bitwise_the_same_for_any_thread_count(threads, hidden, dtype, bs):
    net1, d1 = _history(threads, 1, hidden, dtype, bs)
    net2, d2 = _history(threads, 2, hidden, dtype, bs)
    assert_bitwise_equal(net1.params, net2.params, "weights")
    assert d1 == d2
    assert any(v > 0 for v in d1[-1]["dead"][:-1])
    assert all(v is not None for v in d1[-1]["grad_rms"])


def test_diagnostics_leave_the_weights_alone(monkeypatch, threads):
    """Training with the kernels' diagnostics switched off gives the same bits."""
    with_diag = [_history(threads, 2, h, "float32", 32, act)[0].params.copy()
                 for h, act in (([64, 64], "relu"), ([600], "tanh"))]
    train_run, fused_step = network.MLP.train_run, network.MLP.fused_step
    # (grads, out, dout, work, x, codes, t, labels, sw, bufs, cfg, optimizer, batch_rows)
    monkeypatch.setattr(network.MLP, "train_run",
                        lambda self, *a: train_run(self, *a[:13], None))
    monkeypatch.setattr(network.MLP, "fused_step",
                        lambda self, *a, diag=None, **kw: fused_step(self, *a, **kw))
    for name in ("diag_acts", "diag_before", "diag_after"):
        monkeypatch.setattr(network.MLP, name, lambda self, *a: None)
    monkeypatch.setattr(diagnostics, "epoch", lambda *a, **kw: {})
    without = [_history(threads, 2, h, "float32", 32, act)[0].params
               for h, act in (([64, 64], "relu"), ([600], "tanh"))]
    for a, b in zip(with_diag, without):
        assert_bitwise_equal(a, b, "weights")


def test_measured_steps_follow_the_batch_size():
    assert diagnostics.measure_every(32) == 32
    assert diagnostics.measure_every(1000) == 2
    assert diagnostics.measure_every(5000) == 1
    X, y = _data(256)
    net = MLP([3, 8, 1], ["relu", "identity"], seed=0)
    tr = Trainer(net, REG, TrainConfig(epochs=1, batch_size=8))
    sums = {}
    real = diagnostics.epoch

    def keep(model, s, scale=1.0):
        sums.update(seen=s.seen, measured=s.measured, rows=s.rows)
        return real(model, s, scale)

    diagnostics.epoch, saved = keep, diagnostics.epoch
    try:
        tr.fit(X.astype(np.float32), y.astype(np.float32))
    finally:
        diagnostics.epoch = saved
    # 32 steps of 8 rows, one in 128 measured: the first
    assert sums == {"seen": 32, "measured": 1, "rows": 256}


def _epochs(**series):
    """A history whose diagnostics hold the given per-layer lists per epoch."""
    n = len(next(iter(series.values())))
    L = len(next(iter(series.values()))[0])
    out = []
    for e in range(n):
        d = {k: [None] * L for k in diagnostics.KEYS}
        for k, v in series.items():
            d[k] = v[e]
        out.append({"epoch": e + 1, "diagnostics": d})
    return out


def test_trouble_in_plain_words_and_thresholds():
    lines = diagnostics.trouble(_epochs(dead=[[0.1, 0.0, None], [0.6, 0.1, None],
                                              [0.62, 0.2, None]]), ["relu", "relu", "identity"])
    assert lines == ["layer 1: 62% of units dead since epoch 2; try a lower learning rate "
                     "or leaky_relu"]
    # below the threshold at the end: no flag, whatever came before
    assert diagnostics.trouble(_epochs(dead=[[0.9, None], [0.49, None]])) == []
    lines = diagnostics.trouble(_epochs(grad_rms=[[1e-2, 1e-1, 1.0], [1e-4, 1e-2, 1.0]]))
    assert lines == ["layer 1's gradients are 1e-4 of layer 3's since epoch 2: vanishing "
                     "gradients: the early layers barely learn; try relu or fewer layers"]
    lines = diagnostics.trouble(_epochs(grad_rms=[[0.0, 0.5, 1.0]]))
    assert lines[0].startswith("layer 1's gradients are zero since epoch 1: vanishing")
    lines = diagnostics.trouble(_epochs(grad_rms=[[5e3, 1.0], [2e4, 1.0]]))
    assert len(lines) == 1 and "exploding gradients" in lines[0] and "since epoch 1" in lines[0]
    lines = diagnostics.trouble(_epochs(update_ratio=[[0.05, 0.2], [0.3, 0.2]]))
    assert lines == [
        "layer 1: each step moves its weights by 30% of their norm since epoch 2 (steady "
        "training moves about 0.1%); try a lower learning rate",
        "layer 2: each step moves its weights by 20% of their norm since epoch 1 (steady "
        "training moves about 0.1%); try a lower learning rate"]
    lines = diagnostics.trouble(_epochs(saturated=[[0.7, None]]), ["sigmoid", "identity"])
    assert lines[0].startswith("layer 1: 70% of its sigmoid values saturated since epoch 1")
    assert diagnostics.trouble([{"epoch": 1, "loss": 1.0}]) == []


def test_train_flags_dead_units_and_info_shows_them(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] * 2 + np.sin(X[:, 1])
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,d,y\n" + "".join(
        ",".join(f"{v:.6f}" for v in list(r) + [t]) + "\n" for r, t in zip(X, y)))
    model = tmp_path / "m.ncm"
    runner = CliRunner()
    res = runner.invoke(cli, ["train", str(data), "--epochs", "8", "--lr", "0.5",
                              "-o", str(model)])
    assert res.exit_code == 0, res.output
    flags = [ln for ln in res.stderr.splitlines() if "units dead since epoch" in ln]
    assert flags and flags[0].startswith("warning: layer ")
    assert flags[0].endswith("try a lower learning rate or leaky_relu")
    res = runner.invoke(cli, ["info", str(model)])
    assert res.exit_code == 0, res.output
    assert "Diagnostics, epoch 8" in res.stdout
    table = res.stdout[res.stdout.index("Diagnostics, epoch 8"):]
    for word in ("grad RMS", "weight norm", "update ratio", "dead", "saturated"):
        assert word in table
    assert flags[0][len("warning: "):] in table
    res = runner.invoke(cli, ["info", str(model), "--json"])
    doc = json.loads(res.stdout)
    assert flags[0][len("warning: "):] in doc["trouble"]
    last = doc["history"][-1]["diagnostics"]
    assert sorted(last) == sorted(diagnostics.KEYS)
    assert all(len(v) == 3 for v in last.values()) and last["dead"][2] is None
