"""The epoch benchmark, and `neuralcli bench` as the one front end of the benchmarks: its
options, and benchmarks/bench_*.py running it. Speed is never asserted."""
import json
import math
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from neuralcli.cli import cli
from neuralcli.cli.bench import tables_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_epoch_quick_json_and_table():
    result = CliRunner().invoke(cli, ["bench", "epoch", "--quick", "--threads", "1",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"date", "cpu", "cores", "load_average", "load_average_after"} <= \
        set(out["environment"])
    rows = out["epoch"]
    assert [(r["case"], r["threads"]) for r in rows] == [
        ("28-64-64-1 epoch, batch 32", 1), ("28-64-64-1 epoch, batch 256", 1),
        ("spirals 2-64-1 fit, batch auto", 1), ("spirals 2-64-1 fit, batch 500", 1),
        ("spirals 2-64-1 fit, batch 32", 1)]
    for r in rows:
        assert r["repeats"] == 1 and r["per_batch_s"] > 0 and r["runs_s"] > 0
        assert math.isclose(r["speedup"], r["per_batch_s"] / r["runs_s"])
    text = tables_text(out)
    assert "| 28-64-64-1 epoch, batch 32 | 1 |" in text and "| speed-up |" in text
    assert text.startswith(f"date {out['environment']['date']}")
    plain = tables_text(out, "plain")
    assert "per batch (s)" in plain and "|" not in plain


@pytest.mark.parametrize("args,flag", [
    (["gemm", "--busy"], "--busy"), (["all", "--busy"], "--busy"),
    (["train", "--rounds", "2"], "--rounds"), (["gemm", "--repeats", "1"], "--repeats"),
    (["epoch", "--files", "i"], "--files"), (["gemm", "--no-train"], "--no-train"),
    (["train", "--cases", "a,e"], "--cases"), (["data", "--files", "iv"], "--files"),
    (["epoch", "--threads", "0"], "--threads"),
])
def test_options_of_other_benchmarks_are_usage_errors(args, flag):
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0]


def test_the_benchmark_scripts_run_the_command():
    """benchmarks/bench_*.py are `neuralcli bench NAME` with Markdown tables."""
    for name in ("gemm", "train", "data", "epoch"):
        out = subprocess.run([sys.executable, os.path.join("benchmarks", f"bench_{name}.py"),
                              "--help"], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "Usage: neuralcli bench" in out.stdout
    out = subprocess.run([sys.executable, os.path.join("benchmarks", "bench_epoch.py"),
                          "--quick", "--threads", "1"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "| case | threads | per batch (s) | runs in C (s) | speed-up |" in out.stdout
    out = subprocess.run([sys.executable, os.path.join("benchmarks", "bench_epoch.py"),
                          "--quick", "--threads", "1", "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["epoch"]) == 5
