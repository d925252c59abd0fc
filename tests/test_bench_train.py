"""Smoke test of the training-step benchmark harness: it runs and returns well-formed
rows. Speed is never asserted."""
import math

import pytest

pytest.importorskip("threadpoolctl")


def _load():
    from neuralcli.benchmarks import train
    return train


def test_run_quick_case_a_one_thread():
    bench = _load()
    rows = bench.run(threads=(1,), cases=("a",), quick=True)
    assert len(rows) == 1
    row = rows[0]
    for key in ("case", "model", "batch", "threads", "dtype", "ours_ms", "torch_ms",
                "sklearn_ms", "numpy_ms", "ratio_torch", "ratio_sklearn", "ratio_numpy",
                "target"):
        assert key in row, key
    assert (row["case"], row["model"], row["batch"], row["threads"]) == ("a", "2-64-1", 500, 1)
    for peer in bench.PEERS:
        ms = row[f"{peer}_ms"]
        if not bench.available(peer):
            assert ms is None
            continue
        assert math.isfinite(ms) and ms > 0, (peer, ms)
        if peer != "ours":
            ratio = row[f"ratio_{peer}"]
            assert math.isfinite(ratio) and ratio > 0, (peer, ratio)
    assert "|" in bench.format_table(rows)
