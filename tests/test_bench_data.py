"""Smoke test of the data benchmark harness: it generates its files, runs every installed
reader and returns well-formed rows. Speed is never asserted."""
import math

from neuralcli.cli.bench import tables_text


def test_run_quick_file_i_one_thread(tmp_path):
    from neuralcli.benchmarks import data as bench

    out = bench.run(files=("i",), threads=(1,), quick=True, directory=str(tmp_path),
                    end_to_end=True)
    (row,) = out["read"]
    assert (row["file"], row["threads"], row["rows"]) == ("i", 1, bench.QUICK_ROWS["i"])
    for peer in bench.PEERS:
        if not bench.available(peer):
            continue
        assert math.isfinite(row[f"{peer}_s"]) and row[f"{peer}_s"] > 0, peer
        assert row[f"{peer}_rss"] > 10e6, peer
        if peer != "ours":
            assert row[f"ratio_{peer}"] > 0
    (train,) = out["train"]
    assert train["train_s"] > 0 and train["train_rss"] > 10e6
    text = tables_text({"data": out})
    assert "| i (" in text and "End to end" in text
    # the generated file is what the table says: a header and QUICK_ROWS rows of 29 fields
    lines = open(bench.make_file("i", str(tmp_path), bench.QUICK_ROWS["i"])).read().splitlines()
    assert len(lines) == bench.QUICK_ROWS["i"] + 1
    assert all(len(line.split(",")) == 29 for line in lines[:100])
