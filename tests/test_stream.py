"""Training from a file read in chunks: the same preprocessing and encoded rows as a fit
on the whole table, rows spilled to a temporary file past the memory limit, errors that
name the file's rows, and no temporary file left behind."""
import os

import numpy as np
import pytest

from neuralcli.errors import DataError
from neuralcli.model import Settings, TrainedModel
from neuralcli.preprocess import Preprocessor, decide_task
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


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of about 128 rows (the reader cuts at its blocks), so that the test files
    come in many; the list of their sizes."""
    from neuralcli import stream

    monkeypatch.setattr(stream, "CHUNK_ROWS", 128)
    seen = []
    real = Scan.chunks

    def counted(self, chunk_rows=1 << 16):
        for chunk in real(self, chunk_rows):
            seen.append(chunk.n_rows)
            yield chunk
    monkeypatch.setattr(Scan, "chunks", counted)
    return seen


def test_chunked_fit_matches_the_whole_table(tmp_path, small_chunks):
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
    assert len(small_chunks) > 10 and max(small_chunks) < 3000     # many chunks


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


def test_errors_name_the_files_row(tmp_path, small_chunks):
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


def test_the_first_missing_cell_in_the_file_is_reported(tmp_path, small_chunks):
    # chunks of about 425 and 175 rows: b's first gap comes first in the file, before a's,
    # and b has another in the second chunk
    rows = ["a,b,y"] + [f"{'' if i == 300 else i},{'NA' if i in (100, 500) else i * 2},"
                        f"{i % 2}" for i in range(600)]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as whole:
        fit_whole(str(path), settings(val_split=0.0))
    assert "row 101" in str(whole.value) and 'column "b"' in str(whole.value)
    with pytest.raises(DataError) as chunked:
        fit_chunked(str(path), settings(val_split=0.0))
    assert str(chunked.value) == str(whole.value)


def make_mixed_file(path, n=2400, seed=5):
    """Columns whose statistics need the whole file: categories that first appear late
    and whose totals decide which are kept, gaps in a number column (filled), a column
    of numbers with a few words (read as text), an identifier, and a number target."""
    rng = np.random.default_rng(seed)
    lines = ["x,code,mix,gap,id,t"]
    for i in range(n):
        x = rng.normal(50.0, 10.0)
        late = i > n // 2
        # early rows: a, b, c; late rows: mostly d and e, so d's total passes b's and c's
        code = (rng.choice(["d", "e", "d", "a"]) if late else
                rng.choice(["a", "b", "c"], p=[0.4, 0.35, 0.25]))
        if i == 700:
            code = "e"          # a new category amid the early rows' chunks
        mix = "none" if i % 9 == 5 else str(int(rng.integers(0, 40)))
        gap = "" if i % 13 == 0 else f"{rng.normal(1e3, 50.0):.3f}"
        t = x * 0.1 + (code == "d") + rng.normal(0, 0.1)
        lines.append(f"{x:.6f},{code},{mix},{gap},row{i},{t:.6f}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_chunked_fit_of_late_categories_gaps_and_words_matches_the_whole(tmp_path,
                                                                         small_chunks):
    path = make_mixed_file(tmp_path / "m.csv")
    s = settings(epochs=1)
    kw = dict(impute="median", max_categories=3)
    whole, _ = TrainedModel.fit(read_table(path), s, **kw)
    with Scan(path, block_size=2048) as scan:
        chunked, _ = TrainedModel.fit_file(scan, s, **kw)
    a, b = whole.pre, chunked.pre
    assert a.task == b.task == "regression" and a.ids == b.ids == ["id"]
    assert a.fit_notes == b.fit_notes and len(a.fit_notes) >= 3
    assert a.feature_names == b.feature_names
    assert [c for c in a.feature_names if c.startswith("code=")] == \
        ["code=a", "code=b", "code=d", "code=<other>"]
    for sa, sb in zip(a.specs, b.specs):
        assert sa.keys() == sb.keys()
        for key in sa:
            if key in ("mean", "scale", "fill") and isinstance(sa[key], float):
                assert sb[key] == pytest.approx(sa[key], rel=1e-12), (sa["name"], key)
            else:
                assert sb[key] == sa[key], (sa["name"], key)
    assert b.target_mean == pytest.approx(a.target_mean, rel=1e-12)
    assert b.target_std == pytest.approx(a.target_std, rel=1e-12)
    assert len(small_chunks) > 10 and max(small_chunks) < 2400     # many chunks


def test_chunked_fit_of_an_empty_column_says_so(tmp_path, small_chunks):
    rows = ["a,e,y"] + [f"{i},,{i % 2}" for i in range(600)]
    path = tmp_path / "empty.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as whole:
        fit_whole(str(path), settings())
    with pytest.raises(DataError) as chunked:
        fit_chunked(str(path), settings())
    assert str(chunked.value) == str(whole.value)
    assert str(whole.value).endswith('column "e": the column has no values in the training '
                                     'rows; drop column e if it is not a feature '
                                     '(drop=[...])')


def _chunks(path, rows, chunk_rows, first_pass=False):
    """The file's chunks, each with its rows among the file's training rows `rows`, as
    Preprocessor.fit_chunks takes them (a generator): those of a second pass, with the kinds the first
    settled (as training reads them), or with first_pass those of the first, whose text
    columns learn their categories as they go."""
    with Scan(path, block_size=1024) as scan:
        if not first_pass:
            for _ in scan.chunks(chunk_rows):
                pass
            scan.retype()
        n = 0
        # one at a time, as a pass reads them: a chunk's text columns hold the categories
        # seen so far
        for c in scan.chunks(chunk_rows):
            n += 1
            yield c, rows[(rows >= c.first_row) & (rows < c.first_row + c.n_rows)] - c.first_row
    assert n > 3


def _chunked_fit(path, rows, chunk_rows, first_pass=False, **kw):
    """(fit on the whole table, fit_chunks over its chunks) of the training rows."""
    table = read_table(path)
    decision = decide_task(table)
    whole = Preprocessor().fit(table, rows=rows, task=decision, **kw)
    parts = _chunks(path, rows, chunk_rows, first_pass)
    return whole, Preprocessor().fit_chunks(parts, decision=decision, **kw)


@pytest.mark.parametrize("first_pass", [False, True], ids=["settled", "first-pass"])
def test_fit_chunks_gives_the_fit_of_the_whole_training_rows(tmp_path, first_pass):
    path = make_mixed_file(tmp_path / "m.csv", n=900)
    if first_pass:
        # no column the whole-file rule retypes: the first pass's chunks are final
        lines = path_lines = open(path).read().splitlines()
        path = str(tmp_path / "late.csv")
        with open(path, "w") as f:
            f.write("\n".join(",".join(c for k, c in enumerate(line.split(","))
                                       if k != 2) for line in path_lines) + "\n")
        with Scan(path, block_size=1024) as scan:
            sizes = [len(c.data[1].categories) for c in scan.chunks(60)]
        assert sizes[0] < sizes[-1]              # categories that first appear later
    rows = np.flatnonzero(np.arange(900) % 5 != 2)
    a, b = _chunked_fit(path, rows, 60, first_pass, impute="most-frequent", max_categories=3)
    assert a.fit_notes == b.fit_notes and a.feature_names == b.feature_names
    assert len(a.fit_notes) >= 2
    for sa, sb in zip(a.specs, b.specs):
        for key in sa:
            if key in ("mean", "scale") or isinstance(sa[key], float):
                assert sb[key] == pytest.approx(sa[key], rel=1e-12), (sa["name"], key)
            else:
                assert sb[key] == sa[key], (sa["name"], key)


def test_fit_chunks_of_a_column_empty_in_the_training_rows(tmp_path):
    rows_text = ["a,e,y"] + [f"{i},{'7' if i == 450 else ''},{i % 2}" for i in range(600)]
    path = tmp_path / "e.csv"
    path.write_text("\n".join(rows_text) + "\n")
    rows = np.flatnonzero(np.arange(600) != 450)
    decision = decide_task(read_table(str(path)))
    with pytest.raises(DataError) as err:
        Preprocessor().fit_chunks(_chunks(str(path), rows, 100), decision=decision)
    assert str(err.value).endswith('column "e": the column has no values in the training '
                                   'rows; drop column e if it is not a feature (drop=[...])')


def test_fit_chunks_of_a_column_empty_in_every_row(tmp_path):
    # all rows train: the message does not speak of training rows
    rows_text = ["a,e,y"] + [f"{i},,{i % 2}" for i in range(600)]
    path = tmp_path / "e.csv"
    path.write_text("\n".join(rows_text) + "\n")
    decision = decide_task(read_table(str(path)))
    with pytest.raises(DataError) as err:
        Preprocessor().fit_chunks(_chunks(str(path), np.arange(600), 100), decision=decision)
    assert str(err.value).endswith('column "e": the column has no values; drop column e if '
                                   'it is not a feature (drop=[...])')
