"""Smoke tests of the training benchmark harness: it runs and returns well-formed rows,
its FLOP floors use the shapes they say, and busy mode leaves no process behind. Speed
is never asserted."""
import json
import math
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from neuralcli.cli.bench import tables_text

pytest.importorskip("threadpoolctl")


def _load():
    from neuralcli.benchmarks import train
    return train


def _gone(pid):
    """Whether a process has exited (a zombie no one has reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])        # utime + stime


def test_run_quick_case_a_one_thread():
    bench = _load()
    rows = bench.run(threads=(1,), cases=("a",), quick=True)
    assert [r["id"] for r in rows] == ["a", "a-fit"]
    row = rows[0]
    for key in ("case", "model", "batch", "threads", "dtype", "ours_ms", "torch_ms",
                "sklearn_ms", "numpy_ms", "ratio_torch", "ratio_sklearn", "ratio_numpy",
                "target", "kind", "busy", "threads_ratio"):
        assert key in row, key
    assert (row["case"], row["model"], row["batch"], row["threads"]) == ("a", "2-64-1", 500, 1)
    assert row["kind"] == "step" and row["busy"] is False and row["threads_ratio"] is None
    for peer in bench.PEERS:
        ms = row[f"{peer}_ms"]
        if not bench.available(peer):
            assert ms is None
            continue
        assert math.isfinite(ms) and ms > 0, (peer, ms)
        if peer != "ours":
            ratio = row[f"ratio_{peer}"]
            assert math.isfinite(ratio) and ratio > 0, (peer, ratio)
    fit = rows[1]
    assert (fit["kind"], fit["epochs"], fit["batch"]) == ("fit", bench.FIT_EPOCHS, 500)
    assert fit["ours_s"] > 0 and "numpy_s" not in fit      # no numpy peer for fits
    if bench.available("torch"):
        assert fit["ratio_torch"] == pytest.approx(fit["torch_s"] / fit["ours_s"])
    table = tables_text({"train": rows})
    assert "| a 2-64-1 | 1 |" in table and "via MLPClassifier.fit" in table


def test_floor_shapes_are_the_layers_gemms():
    bench = _load()
    from neuralcli.benchmarks.gemm import MLP_SHAPES

    known = {s[1:]: s[0] for s in MLP_SHAPES}
    for case, count in (("b", 5), ("c", 3)):
        shapes = bench.gemm_shapes(case)
        assert len(shapes) == count, shapes
        for label, *geometry in shapes:
            # the same shape and label as bench_gemm.py's table
            assert known.get(tuple(geometry)) == label, (case, label)
    # c: 2*256*(1024*1024*2 + 1024*10) forward, as much for dW, dX all but the first layer
    flops = bench.train_flops("c")
    fwd = 2 * 256 * (1024 * 1024 * 2 + 1024 * 10)
    assert flops == {"fwd": fwd, "dW": fwd, "dX": fwd - 2 * 256 * 1024 * 1024}
    # b's output layer is charged at its last hidden layer's rates
    assert bench.layer_gemms("b")[2] == bench.layer_gemms("b")[1]


def test_case_d_labels_are_learnable():
    bench = _load()
    X, y = bench.d_data(20_000)
    assert X.shape == (20_000, 28) and X.dtype.name == "float32"
    assert 0.3 < y.mean() < 0.7
    # the label follows the rule more often than not, and not on the features alone
    rule = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] > 0)
    assert 0.75 < (rule == y).mean() < 1.0
    X2, y2 = bench.d_data(20_000)
    assert (X2 == X).all() and (y2 == y).all()


def test_cli_case_d_quick_json(tmp_path, monkeypatch):
    from neuralcli.cli import cli

    bench = _load()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["bench", "train", "--cases", "d", "--quick", "--json",
                                      "--threads", "1", "--rows", "2000"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["train"]
    assert [r["id"] for r in rows] == ["d-b32", "d-b256", "d-e2e"]
    for r in rows:
        for key in ("case", "kind", "model", "batch", "epochs", "rows", "threads", "ours_s",
                    "torch_s", "sklearn_s", "ratio_torch", "ratio_sklearn", "repeats",
                    "others_cpu", "threads_ratio", "busy", "target"):
            assert key in r, (r["id"], key)
        assert (r["case"], r["model"], r["rows"], r["threads"]) == ("d", "28-64-64-1", 2000, 1)
        assert r["target"] == {} and r["busy"] is False and r["threads_ratio"] is None
        assert r["repeats"]["ours"] == 1            # --quick: one run each
        assert math.isfinite(r["ours_s"]) and r["ours_s"] > 0
        for peer in ("torch", "sklearn"):
            if r[f"{peer}_s"] is None:
                assert not bench.available(peer)
                continue
            assert r[f"ratio_{peer}"] == pytest.approx(r[f"{peer}_s"] / r["ours_s"])
    assert [(r["kind"], r["batch"], r["epochs"]) for r in rows] == \
        [("epoch", 32, 1), ("epoch", 256, 1), ("end_to_end", 256, 5)]
    e2e = rows[2]
    # the CSV was generated where the cache directory says, with the rows asked for
    assert e2e["file"].startswith(str(tmp_path)) and os.path.exists(e2e["file"])
    with open(e2e["file"]) as f:
        assert sum(1 for _ in f) == 2001
    assert "--epochs 5 --batch-size 256 --hidden 64,64" in e2e["command"]
    assert e2e["ours_rss"] > 0
    # the table a user reads, from the same rows
    monkeypatch.setattr(bench, "run", lambda **kw: rows)
    result = CliRunner().invoke(cli, ["bench", "train", "--cases", "d", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    for label in ("one epoch, batch 32", "one epoch, batch 256",
                  "CSV to saved model, 5 epochs, batch 256", "x PyTorch", "2t/1t"):
        assert label in result.stdout, label
    result = CliRunner().invoke(cli, ["bench", "train", "--cases", "x", "--quick"])
    assert result.exit_code == 2 and "--cases" in result.stderr
    result = CliRunner().invoke(cli, ["bench", "gemm", "--busy"])
    assert result.exit_code == 2 and "--busy" in result.stderr


def test_busy_core_spins_and_is_killed():
    from neuralcli.benchmarks import busy_core

    with busy_core() as proc:
        assert proc.poll() is None
        t_end = time.monotonic() + 10
        while _cpu_ticks(proc.pid) == 0 and time.monotonic() < t_end:
            time.sleep(0.05)
        assert _cpu_ticks(proc.pid) > 0          # it spins, not sleeps
    assert proc.returncode is not None and _gone(proc.pid)
    with pytest.raises(KeyboardInterrupt):
        with busy_core() as proc:
            raise KeyboardInterrupt
    assert proc.returncode is not None and _gone(proc.pid)


def test_busy_spinner_ends_with_a_killed_parent():
    # a parent that dies without its finally (os._exit) leaves no spinner behind
    code = ("from neuralcli.benchmarks import busy_core\n"
            "import os\n"
            "cm = busy_core()\n"
            "print(cm.__enter__().pid, flush=True)\n"
            "os._exit(0)\n")
    import neuralcli

    # run beside the package this test imports (the source tree, or site-packages when
    # the project is installed), so the child imports the same one
    root = os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, check=True)
    pid = int(out.stdout.split()[0])
    t_end = time.monotonic() + 20
    while not _gone(pid) and time.monotonic() < t_end:
        time.sleep(0.1)
    assert _gone(pid)


def test_run_busy_marks_rows_and_stops_its_spinner(tmp_path, monkeypatch):
    import contextlib

    bench = _load()
    from neuralcli.benchmarks import busy_core

    seen = []

    @contextlib.contextmanager
    def watched():
        with busy_core() as proc:
            seen.append(proc)
            yield proc
            # still spinning when the last measurement is done
            seen.append(proc.poll() is None)

    monkeypatch.setattr(bench, "busy_core", watched)
    monkeypatch.setattr(bench, "available", lambda peer: peer == "ours")
    rows = bench.run(threads=(1, 2), cases=("a", "d"), quick=True, busy=True, d_rows=600,
                     directory=str(tmp_path))
    proc, alive_at_end = seen
    assert alive_at_end and proc.returncode is not None and _gone(proc.pid)
    assert [(r["id"], r["threads"]) for r in rows] == [
        (i, t) for t in (1, 2) for i in ("a", "a-fit", "d-b32", "d-b256", "d-e2e")]
    for r in rows:
        assert r["busy"] is True
        if r["threads"] == 1:
            assert r["target"] == {} and r["threads_ratio"] is None
        else:
            assert r["target"] == {"threads_ratio": bench.BUSY_TARGET}
            ours = r["ours_ms"] if r["kind"] == "step" else r["ours_s"]
            one = next(o for o in rows if o["id"] == r["id"] and o["threads"] == 1)
            base = one["ours_ms"] if r["kind"] == "step" else one["ours_s"]
            assert r["threads_ratio"] == pytest.approx(ours / base)
        assert r["torch_s" if r["kind"] != "step" else "torch_ms"] is None
    table = tables_text({"train": rows})
    assert "other core busy" in table and "2t/1t ≤1.3x" in table
