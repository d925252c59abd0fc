"""Training from a file read in chunks: the same preprocessing and encoded rows as a fit
on the whole table, rows spilled to a temporary file past the memory limit, errors that
name the file's rows, and no temporary file left behind."""
import os

import numpy as np
import pytest

from neuralcli.errors import DataError
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import Scan, read_table
from neuralcli.training import Callback


def make_file(path, n=3000, seed=0, bad_row=None):
    rng = np.random.default_rng(seed)
    colors = np.array(["red", "green", "blue", "teal", "plum"])
    lines = ["x,price,color,day,y"]
    for i in range(n):
        x = rng.normal(1e4, 3)
        price = f'"{rng.integers(1000, 90000):,}"'
        c = colors[rng.integers(0, 5)]
        day = f"2024-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        y = "yes" if (x - 1e4) + (c in ("red", "plum")) + rng.normal(0, .5) > 0.5 else "no"
        if i == bad_row:
            x = "oops"
        lines.append(f"{x},{price},{c},{day},{y}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def settings(**kw):
    base = dict(hidden=[16], epochs=3, batch_size=64, dtype="float64", seed=1)
    base.update(kw)
    return Settings(**base)


def fit_whole(path, s):
    return TrainedModel.fit(read_table(path), s)


def fit_chunked(path, s, **kw):
    with Scan(path, block_size=4096) as scan:
        return TrainedModel.fit_file(scan, s, **kw)


def test_chunked_fit_matches_the_whole_table(tmp_path):
    path = make_file(tmp_path / "d.csv")
    s = settings()
    (whole, _), (chunked, _) = fit_whole(path, s), fit_chunked(path, s)
    a, b = whole.pre, chunked.pre
    assert a.feature_names == b.feature_names and a.n_dense == b.n_dense
    for sa, sb in zip(a.specs, b.specs):
        assert sa["name"] == sb["name"] and sa["kind"] == sb["kind"]
        for key in ("mean", "scale"):
            if key in sa:
                assert sb[key] == pytest.approx(sa[key], rel=1e-12, abs=1e-12 * sa["scale"])
        assert sa.get("categories") == sb.get("categories")
    assert whole.info["rows_train"] == chunked.info["rows_train"]
    assert whole.info["rows_val"] == chunked.info["rows_val"]
    # the same rows encoded the same way
    table = read_table(path)
    Xa, Xb = a.transform(table), b.transform(table)
    np.testing.assert_allclose(Xb.dense, Xa.dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(Xb.codes, Xa.codes)
    for ha, hb in zip(whole.history, chunked.history):
        assert hb["loss"] == pytest.approx(ha["loss"], rel=1e-9)


def test_spilled_rows_train_like_rows_in_memory(tmp_path):
    path = make_file(tmp_path / "d.csv", n=4000)
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    s = settings(epochs=8, dtype="float32")
    mem, _ = fit_chunked(path, s)
    spilled, state = fit_chunked(path, s, memory_limit=20_000, spill_dir=str(spill_dir))
    assert state.stop_reason in ("completed", "early_stopping")
    assert any("temporary file" in n for n in spilled.info["notes"])
    assert not any("temporary file" in n for n in mem.info["notes"])
    assert os.listdir(spill_dir) == []
    acc_mem = mem.info["final"]["val_metric"]
    acc_spill = spilled.info["final"]["val_metric"]
    assert acc_spill > 0.75 and abs(acc_spill - acc_mem) < 0.05


class Interrupt(Callback):
    def on_batch_end(self, state, logs):
        if state.epoch == 1 and logs["batch"] >= 3:
            raise KeyboardInterrupt


def test_spill_file_is_removed_after_ctrl_c(tmp_path):
    path = make_file(tmp_path / "d.csv", n=2000)
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    model, state = fit_chunked(path, settings(epochs=5), memory_limit=10_000,
                               spill_dir=str(spill_dir), callbacks=[Interrupt()])
    assert state.stop_reason == "interrupted"
    assert os.listdir(spill_dir) == []


def test_errors_name_the_files_row(tmp_path):
    path = make_file(tmp_path / "d.csv", n=3000, bad_row=2500)
    with pytest.raises(DataError) as whole:
        fit_whole(path, settings())
    with pytest.raises(DataError) as chunked:
        fit_chunked(path, settings())
    assert str(chunked.value) == str(whole.value)
    assert "row 2501" in str(chunked.value) and '"oops"' in str(chunked.value)


def test_whole_file_rule_retypes_before_fitting(tmp_path):
    # the first block looks numeric, but most of the column is text further down
    lines = ["a,b,y"] + [f"{i},{i % 7},{i % 2}" for i in range(400)]
    lines += [f"w{i},{i % 7},{i % 2}" for i in range(4000)]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    whole, _ = fit_whole(str(path), settings(epochs=1))
    chunked, _ = fit_chunked(str(path), settings(epochs=1))
    kinds = [(s["name"], s["kind"]) for s in chunked.pre.specs]
    assert kinds == [(s["name"], s["kind"]) for s in whole.pre.specs]
    assert whole.pre.ids == chunked.pre.ids


# ---------------------------------------------------------------- eval and predict


def _cli(*args):
    from click.testing import CliRunner

    from neuralcli.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_eval_and_predict_read_in_chunks_as_whole(tmp_path, monkeypatch):
    import neuralcli.reader as reader

    path = make_file(tmp_path / "d.csv", n=3000)
    model = tmp_path / "m.ncm"
    assert _cli("train", path, "--epochs", "2", "-o", model).exit_code == 0
    whole_pred = _cli("predict", model, path, "--keep", "color")
    whole_eval = _cli("eval", model, path, "--json")
    monkeypatch.setattr(reader, "BLOCK_SIZE", 4096)
    chunked_pred = _cli("predict", model, path, "--keep", "color")
    chunked_eval = _cli("eval", model, path, "--json")
    assert whole_pred.exit_code == chunked_pred.exit_code == 0
    assert chunked_pred.stdout == whole_pred.stdout
    assert len(chunked_pred.stdout.splitlines()) == 3001
    assert chunked_eval.stdout == whole_eval.stdout


def test_predict_leaves_no_partial_output(tmp_path, monkeypatch):
    import neuralcli.reader as reader

    path = make_file(tmp_path / "d.csv", n=3000)
    model = tmp_path / "m.ncm"
    assert _cli("train", path, "--epochs", "1", "-o", model).exit_code == 0
    bad = make_file(tmp_path / "bad.csv", n=3000, bad_row=2900)
    monkeypatch.setattr(reader, "BLOCK_SIZE", 4096)
    out = tmp_path / "out.csv"
    result = _cli("predict", model, bad, "-o", out)
    assert result.exit_code == 1 and "row 2901" in result.output
    assert not out.exists() and not (tmp_path / "out.csv.part").exists()


def test_a_model_reads_its_columns_in_the_formats_it_was_trained_on(tmp_path):
    rng = np.random.default_rng(3)
    rows = ["amount;rate;y"]
    for _ in range(400):
        a = int(rng.integers(100_000, 900_000))
        rate = f"{rng.normal(2, 1):.2f}".replace(".", ",")
        # amount with a dot between thousands, rate with a decimal comma
        rows.append(f"{a // 1000}.{a % 1000:03d};{rate};{int(a > 500_000)}")
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(rows) + "\n")
    model = tmp_path / "m.ncm"
    trained = _cli("train", path, "--thousands", ".", "--decimal", ",", "--epochs", "2",
                   "-o", model)
    assert trained.exit_code == 0, trained.output
    given = _cli("predict", model, path, "--thousands", ".", "--decimal", ",")
    remembered = _cli("predict", model, path)
    assert given.exit_code == remembered.exit_code == 0
    assert remembered.stdout == given.stdout
    assert _cli("eval", model, path, "--json").stdout == \
        _cli("eval", model, path, "--json", "--thousands", ".", "--decimal", ",").stdout


def test_explain_reads_a_typed_row_in_the_columns_format(tmp_path):
    rng = np.random.default_rng(4)
    rows = ["price,x,y"]
    for _ in range(300):
        p = rng.uniform(10, 5000)
        rows.append(f'"${p:,.2f}",{rng.normal():.3f},{int(p > 2500)}')
    path = tmp_path / "money.csv"
    path.write_text("\n".join(rows) + "\n")
    model = tmp_path / "m.ncm"
    assert _cli("train", path, "--epochs", "2", "-o", model).exit_code == 0
    shown = _cli("explain", model, "--input", '"$1,234.50",0.5', "--format", "json")
    assert shown.exit_code == 0, shown.output
    import json

    raw = [c for c in json.loads(shown.stdout)["preprocessing"] if c["column"] == "price"]
    assert raw and raw[0]["raw"] == "1234.5"


def test_filled_cells_are_told_once_for_all_rows(tmp_path):
    rng = np.random.default_rng(5)
    rows = ["x,c,y"] + [f"{'NA' if i % 10 == 0 else round(rng.normal(), 3)},"
                        f"{'' if i % 25 == 0 else 'abc'[i % 3]},{i % 2}" for i in range(500)]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    result = _cli("train", path, "--impute", "mean", "--epochs", "1", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "missing cells filled" in line]
    assert len(lines) == 2, lines
    assert any(line.startswith('column "x": 50 missing cells filled with the training mean')
               for line in lines), lines
    assert 'column "c": 20 missing cells filled with the training\'s most frequent value ' \
           '"a"' in lines, lines


def test_the_first_missing_cell_in_the_file_is_reported(tmp_path):
    rows = ["a,b,y"] + [f"{'' if i == 40 else i},{'NA' if i == 3 else i * 2},{i % 2}"
                        for i in range(60)]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as whole:
        fit_whole(str(path), settings(val_split=0.0))
    assert "row 4" in str(whole.value) and 'column "b"' in str(whole.value)
    with pytest.raises(DataError) as chunked:
        fit_chunked(str(path), settings(val_split=0.0))
    assert str(chunked.value) == str(whole.value)
