"""Checkpoints and resuming: a fit stopped after any epoch and resumed ends bitwise as the
fit that was never stopped (weights, history, optimizer, counters), for every optimizer
and schedule, with and without early stopping and dropout, at 1 and 2 threads; and the
command line's --checkpoint and --resume, through the real command: the file is a model
that eval and predict take, and a run on other data, network or task is refused."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import assert_bitwise_equal
from test_training_stream import MULTI, _data, _net, _spill
from neuralcli.cli import cli
from neuralcli.spill import SpilledRows
from neuralcli.training import Callback, TrainConfig, Trainer

EPOCHS = 5

OPTIMIZERS = [
    pytest.param({"optimizer": "sgd", "lr": 0.05}, id="sgd"),
    pytest.param({"optimizer": "sgd", "lr": 0.02, "weight_decay": 1e-3,
                  "optimizer_options": {"momentum": 0.9, "nesterov": True}},
                 id="sgd-nesterov"),
    pytest.param({"optimizer": "adam", "clip_norm": 0.5}, id="adam-clip"),
    pytest.param({"optimizer": "adamw", "weight_decay": 0.05}, id="adamw"),
    pytest.param({"optimizer": "rmsprop", "optimizer_options": {"momentum": 0.5}},
                 id="rmsprop-momentum"),
]

SCHEDULES = [
    pytest.param({"schedule": "constant"}, id="constant"),
    pytest.param({"schedule": "step", "schedule_options": {"step_size": 2}}, id="step"),
    pytest.param({"schedule": "cosine"}, id="cosine"),
    pytest.param({"schedule": "warmup_cosine", "schedule_options": {"warmup": 2}},
                 id="warmup_cosine"),
    pytest.param({"schedule": "plateau", "schedule_options": {"patience": 0,
                                                              "factor": 0.5}},
                 id="plateau"),
    pytest.param({"schedule": "invscaling", "schedule_options": {"samples_per_epoch": 60}},
                 id="invscaling"),
]


class _States(Callback):
    """The FitState of every epoch's end, and optionally a stop: `stop` set at the end of
    epoch `at`, or Ctrl-C (KeyboardInterrupt) in the middle of the epoch after it."""

    def __init__(self, at=None, how="stop"):
        self.states, self.at, self.how = [], at, how

    def on_epoch_end(self, state, logs):
        self.states.append(state.fit_state)
        if self.how == "stop" and logs["epoch"] == self.at:
            state.stop = True

    def on_batch_end(self, state, logs):
        if self.how == "interrupt" and logs["epoch"] == self.at + 1 and logs["batch"] >= 2:
            raise KeyboardInterrupt


def _fit(cfg, data, net_kw, resume=None, stop=None, how="stop", spilled=None):
    # a resumed fit's network starts from other weights: the state replaces them all
    net = _net(MULTI, **net_kw, seed=3 if resume is None else 11)
    states = _States(stop, how)
    tr = Trainer(net, MULTI, TrainConfig(**cfg), [states])
    tr.keep_fit_state = True
    tr.run_seconds = 1e-9           # a run of batches per report, so Ctrl-C lands inside
    X, y, Xv, yv = data
    if spilled is not None:
        st = tr.fit(SpilledRows(spilled, window_rows=25, block_rows=7), resume=resume)
    else:
        st = tr.fit(X, y, None, Xv, yv, resume=resume)
    return net, tr, st, states


def _same(got, want):
    (net_a, tr_a, st_a, _), (net_b, tr_b, st_b, _) = got, want
    assert_bitwise_equal(net_a.params, net_b.params, "weights")
    assert len(st_a.history) == len(st_b.history)
    for ha, hb in zip(st_a.history, st_b.history):
        assert {k: v for k, v in ha.items() if k != "time"} == \
            {k: v for k, v in hb.items() if k != "time"}
    assert (st_a.step, tr_a.optimizer.t) == (st_b.step, tr_b.optimizer.t)
    for sa, sb in zip(tr_a.optimizer.state, tr_b.optimizer.state):
        assert_bitwise_equal(sa, sb, "optimizer state")
    assert (st_a.stop_reason, st_a.message, st_a.best_epoch, st_a.kept_epoch) == \
        (st_b.stop_reason, st_b.message, st_b.best_epoch, st_b.kept_epoch)
    assert tr_a.schedule.lr(EPOCHS) == tr_b.schedule.lr(EPOCHS)
    # the weights before training, which a divergence falls back to
    assert_bitwise_equal(tr_a._kept[0], tr_b._kept[0], "initial weights")


@pytest.fixture(scope="module")
def data():
    X, y, _ = _data(60, MULTI, seed=4)
    Xv, yv, _ = _data(20, MULTI, seed=5)
    return X, y, Xv, yv


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("early", [False, True], ids=["", "early"])
@pytest.mark.parametrize("dropout", [0.0, 0.25], ids=["", "dropout"])
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_a_fit_resumed_after_any_epoch_ends_as_the_one_never_stopped(
        opt, schedule, dropout, early, n_threads, threads, data):
    threads(n_threads)
    cfg = {"epochs": EPOCHS, "batch_size": 16, "lr": 0.01, "seed": 3,
           "early_stopping": early, "patience": 1, **opt, **schedule}
    kw = {"dropout": dropout}
    whole = _fit(cfg, data, kw)
    states = whole[3].states
    assert [s.epoch for s in states] == list(range(1, len(states) + 1))
    for fs in states:
        _same(_fit(cfg, data, kw, resume=fs), whole)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("how", ["stop", "interrupt"])
def test_a_stopped_or_interrupted_fit_leaves_the_state_of_its_last_epoch(how, n_threads,
                                                                         threads, data):
    threads(n_threads)
    cfg = dict(epochs=EPOCHS, batch_size=8, lr=0.01, seed=1, schedule="cosine")
    kw = {"dropout": 0.2}
    whole = _fit(cfg, data, kw)
    for at in range(1, EPOCHS):
        stopped = _fit(cfg, data, kw, stop=at, how=how)
        assert stopped[2].stop_reason == ("stopped" if how == "stop" else "interrupted")
        fs = stopped[2].fit_state
        assert fs.epoch == at and len(fs.history) == at
        # the weights of the epoch's end, not of the batches the interruption cut short
        assert_bitwise_equal(fs.params, whole[3].states[at - 1].params, "state's weights")
        _same(_fit(cfg, data, kw, resume=fs), whole)


def test_a_resumed_fit_whose_patience_ran_out_stops_early_at_once(data):
    cfg = dict(epochs=40, batch_size=16, lr=0.5, seed=3, optimizer="sgd",
               early_stopping=True, patience=2)
    whole = _fit(cfg, data, {})
    assert whole[2].stop_reason == "early_stopping" and len(whole[2].history) < 40
    last = whole[3].states[-1]
    assert last.no_improve == 2
    again = _fit(cfg, data, {}, resume=last)
    _same(again, whole)
    assert again[3].states == []                # no epoch ran


@pytest.mark.parametrize("opt,lr", [("rmsprop", 0.3), ("sgd", 3.0)])
def test_a_resumed_fit_diverges_where_the_whole_one_does(opt, lr, data):
    """The divergence check measures against the first batch's loss and falls back to
    the weights before training: both come back with the state."""
    X, y, Xv, yv = data
    big = (3 * X, y, 3 * Xv, yv)
    cfg = dict(epochs=12, batch_size=16, lr=lr, optimizer=opt, schedule="step",
               schedule_options={"step_size": 1, "gamma": 1.6})
    whole = _fit(cfg, big, {})
    assert whole[2].stop_reason == "diverged" and len(whole[2].history) >= 5
    for fs in whole[3].states:
        _same(_fit(cfg, big, {}, resume=fs), whole)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_spilled_rows_resume_in_their_block_order(dropout, data):
    X, y, _, _ = data
    cfg = dict(epochs=4, batch_size=8, lr=0.01, seed=2)
    kw = {"dropout": dropout}
    with _spill(X, y) as s:
        whole = _fit(cfg, data, kw, spilled=s)
        for fs in whole[3].states[:-1]:
            _same(_fit(cfg, data, kw, resume=fs, spilled=s), whole)


def test_a_state_of_another_network_or_optimizer_is_refused(data):
    from neuralcli.training import TrainingError

    cfg = dict(epochs=2, batch_size=16, optimizer="adam")
    fs = _fit(cfg, data, {})[3].states[0]
    with pytest.raises(TrainingError, match="2 optimizer buffers; sgd here keeps 0"):
        _fit(dict(cfg, optimizer="sgd"), data, {}, resume=fs)
    with pytest.raises(TrainingError, match="this network has float32"):
        _fit(cfg, data, {"hidden": 8}, resume=fs)


# ------------------------------------------------------------------ the command line

OPTS = ["--hidden", "8", "--batch-size", "16", "--patience", "2", "--dropout", "0.2",
        "--schedule", "cosine", "--lr", "0.01"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = ["age,income,city,bought"]
    for i in range(80):
        age = int(rng.integers(18, 70))
        income = round(float(rng.normal(50, 15)), 2)
        city = ["paris", "rome", "oslo"][i % 3]
        bought = "yes" if income + age / 10 + (city == "oslo") * 10 > 55 else "no"
        rows.append(f"{age},{income},{city},{bought}")
    path = tmp_path_factory.mktemp("shop") / "shop.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _load(path):
    from neuralcli.model import TrainedModel

    return TrainedModel.load(str(path))


def _same_model(a, b):
    a, b = _load(a), _load(b)
    assert_bitwise_equal(a.net.params, b.net.params, "weights")
    assert [{k: v for k, v in h.items() if k != "time"} for h in a.history] == \
        [{k: v for k, v in h.items() if k != "time"} for h in b.history]


@pytest.fixture(scope="module")
def whole(shop):
    """The run never stopped (6 epochs), its checkpoint written every epoch."""
    out = shop.parent / "whole.ncm"
    ok(run("train", shop, *OPTS, "--epochs", 6, "--threads", 1, "-o", out,
           "--checkpoint", shop.parent / "whole.ckpt"))
    return out


def _interrupt_at(monkeypatch, epoch):
    """Ctrl-C as the progress display shows the end of `epoch`."""
    from neuralcli.cli import report

    real = report.TrainProgress.on_epoch_end

    def on_epoch_end(self, state, logs):
        real(self, state, logs)
        if logs["epoch"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(report.TrainProgress, "on_epoch_end", on_epoch_end)


@pytest.mark.parametrize("epoch,threads", [(1, 2), (4, 1)])
def test_ctrl_c_leaves_a_checkpoint_that_resumes_to_the_whole_run(epoch, threads, shop,
                                                                  whole, tmp_path,
                                                                  monkeypatch):
    out, ckpt = tmp_path / "cut.ncm", tmp_path / "cut.ckpt"
    with monkeypatch.context() as m:
        _interrupt_at(m, epoch)
        cut = run("train", shop, *OPTS, "--epochs", 6, "--threads", 1, "-o", out,
                  "--checkpoint", ckpt, "--checkpoint-every", 2)
    assert cut.exit_code == 130, cut.stderr
    assert (f"checkpoint: {ckpt} holds the run after epoch {epoch}; continue it with: "
            f"neuralcli train --resume {ckpt}") in cut.stderr
    # the checkpoint is a model: the weights the interrupted run kept, as its -o file
    assert_bitwise_equal(_load(ckpt).net.params, _load(out).net.params, "kept weights")
    # DATA, the options and -o come from the checkpoint; the thread count may change
    again = ok(run("train", "--resume", ckpt, "--threads", threads))
    assert f"resuming the run in {ckpt} after epoch {epoch}, to epoch 6" in again.stderr
    _same_model(out, whole)
    # it went on writing the same checkpoint, which now holds the whole run
    _same_model(ckpt, shop.parent / "whole.ckpt")
    assert len(_load(ckpt).history) == 6


def test_a_finished_run_goes_on_with_more_epochs(shop, tmp_path):
    ckpt = tmp_path / "c.ckpt"
    longer = ["--hidden", "8", "--no-early-stopping", "--epochs"]
    ok(run("train", shop, *longer, 2, "-o", tmp_path / "a.ncm", "--checkpoint", ckpt))
    ok(run("train", "--resume", ckpt, "--epochs", 4, "-o", tmp_path / "b.ncm"))
    ok(run("train", shop, *longer, 4, "-o", tmp_path / "c.ncm"))
    _same_model(tmp_path / "b.ncm", tmp_path / "c.ncm")
    # the checkpoint now holds a run of 4 epochs, which resumes to its end at once
    again = ok(run("train", "--resume", ckpt, "-o", tmp_path / "d.ncm"))
    assert "after epoch 4, to epoch 4" in again.stderr
    _same_model(tmp_path / "d.ncm", tmp_path / "c.ncm")


def test_a_run_with_a_validation_file_resumes_from_another_folder(shop, tmp_path,
                                                                 monkeypatch):
    lines = shop.read_text().splitlines()
    (tmp_path / "train.csv").write_text("\n".join(lines[:60]) + "\n")
    (tmp_path / "val.csv").write_text("\n".join(lines[:1] + lines[60:]) + "\n")
    monkeypatch.chdir(tmp_path)
    opts = ["train.csv", "--val", "val.csv", "--hidden", "8", "--no-early-stopping"]
    ok(run("train", *opts, "--epochs", 2, "-o", "a.ncm", "--checkpoint", "a.ckpt"))
    ok(run("train", *opts, "--epochs", 3, "-o", "whole.ncm"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ok(run("train", "--resume", tmp_path / "a.ckpt", "--epochs", 3))
    _same_model(tmp_path / "a.ncm", tmp_path / "whole.ncm")
    assert _load(tmp_path / "a.ncm").info["rows_val"] == 21


def test_a_checkpoint_is_a_model_for_eval_and_predict(shop, whole):
    ckpt = shop.parent / "whole.ckpt"
    ev = ok(run("eval", ckpt, shop, "--json"))
    assert json.loads(ev.stdout) == json.loads(ok(run("eval", whole, shop, "--json")).stdout)
    assert ok(run("predict", ckpt, shop)).stdout == ok(run("predict", whole, shop)).stdout
    info = ok(run("info", ckpt, "--json"))
    assert json.loads(info.stdout)["training"]["stop_reason"] == "checkpoint"


def _one_error(result, *needles):
    assert result.exit_code != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def test_resuming_on_other_columns_network_or_task_is_refused(shop, whole, tmp_path):
    ckpt = shop.parent / "whole.ckpt"
    lines = shop.read_text().splitlines()
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("\n".join(ln.rsplit(",", 2)[0] + "," + ln.rsplit(",", 1)[1]
                               for ln in lines) + "\n")
    _one_error(run("train", fewer, "--resume", ckpt),
               "the data's columns differ from those the checkpoint", "without 'city'")
    _one_error(run("train", shop, "--resume", ckpt, "--hidden", "16"),
               "--hidden 16 differs from the run in", "which has 8")
    _one_error(run("train", "--resume", ckpt, "--activation", "tanh"),
               "--activation tanh differs from the run in", "which has relu")
    # the same target read as numbers: auto makes it a regression
    numeric = tmp_path / "numeric.csv"
    numeric.write_text("\n".join([lines[0]] + [ln.replace(",yes", ",1.5").replace(",no", ",0.25")
                                               for ln in lines[1:]]) + "\n")
    _one_error(run("train", numeric, "--resume", ckpt),
               "the task is regression; the checkpoint", "was trained for binary")
    _one_error(run("train", "--resume", ckpt, "--task", "multiclass"),
               "--task multiclass differs from the run in")
    # other rows of the same columns
    shifted = tmp_path / "shifted.csv"
    shifted.write_text("\n".join([lines[0]] + lines[2:]) + "\n")
    _one_error(run("train", shifted, "--resume", ckpt), "the data has 63 training")


def test_resuming_to_fewer_epochs_than_were_run_is_refused(shop, whole):
    result = run("train", "--resume", shop.parent / "whole.ckpt", "--epochs", 3)
    assert result.exit_code == 2, result.stderr
    assert "--epochs" in result.stderr and \
        "must be at least the 6 epochs the run to resume has trained, got 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_model_or_a_broken_file_is_not_a_checkpoint(shop, whole, tmp_path):
    _one_error(run("train", "--resume", whole),
               f"{whole}: a model file without training state, not a checkpoint")
    broken = tmp_path / "broken.ckpt"
    raw = bytearray((shop.parent / "whole.ckpt").read_bytes())
    raw[len(raw) - 40] ^= 1  # in the arrays, before the 32-byte checksum
    broken.write_bytes(bytes(raw))
    _one_error(run("train", "--resume", broken), "checksum mismatch")
    _one_error(run("train", "--resume", shop), "not a neuralcli model file")
    _one_error(run("train", "--resume", tmp_path / "none.ckpt"), "no such file")


def test_checkpoint_options_are_checked(shop, whole, tmp_path):
    _one_error(run("train", shop, "--checkpoint", whole), "already exists; pass --force")
    _one_error(run("train", "--resume", shop.parent / "whole.ckpt", "--checkpoint", whole),
               "already exists; pass --force")
    out = tmp_path / "m.ncm"
    _one_error(run("train", shop, "-o", out, "--checkpoint", out),
               "is the model file (-o)")
    bad = run("train", shop, "--checkpoint", tmp_path / "c.ckpt", "--checkpoint-every", 0)
    assert bad.exit_code == 2 and "--checkpoint-every" in bad.stderr
    assert not (tmp_path / "c.ckpt").exists()


def test_sigterm_leaves_a_resumable_checkpoint(shop, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import neuralcli

    root = os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))
    ckpt, out = tmp_path / "t.ckpt", tmp_path / "t.ncm"
    args = ["train", str(shop), "--hidden", "8", "--batch-size", "8",
            "--no-early-stopping", "-o", str(out)]
    code = "import sys\nfrom neuralcli.cli import main\nsys.argv[0] = 'neuralcli'\nmain()\n"
    proc = subprocess.Popen([sys.executable, "-c", code, *args, "--epochs", "1000000",
                             "--checkpoint", str(ckpt)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ckpt.exists(), proc.communicate(timeout=30)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (stdout, stderr)
    assert "Traceback" not in stderr and "continue it with" in stderr
    done = len(_load(ckpt).history)
    assert done >= 1
    ok(run("train", "--resume", ckpt, "--epochs", done + 1, "-o", tmp_path / "r.ncm"))
    ok(run("train", *args[1:-2], "--epochs", done + 1, "-o", tmp_path / "u.ncm"))
    _same_model(tmp_path / "r.ncm", tmp_path / "u.ncm")
