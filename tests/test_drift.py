"""Input drift: the training statistics the preprocessing keeps (checked against numpy,
the same read whole or in chunks, the quantile sample within a few standard errors), the
measures of new rows against them, the note and `eval --json` object of predict and eval,
--strict's one-line errors, and model files written before the statistics were kept."""
import csv
import io
import json
import os

import numpy as np
import pytest

from neuralcli import drift, reader, stream
from neuralcli.drift import QUANTILES, QuantileSample
from neuralcli.errors import DataError
from neuralcli.model import Settings, TrainedModel
from neuralcli.preprocess import Preprocessor
from neuralcli.reader import Scan, read_table

from helpers import error_of
from test_cli import assert_one_line_error, run

DATA = os.path.join(os.path.dirname(__file__), "data")
CITIES = ["oslo", "rome", "paris", "lima", "kyiv", "bern"]
FAST = ["--epochs", "2", "--hidden", "4", "--batch-size", "0"]


def write_rows(path, n, *, seed, shift=0.0, cities=CITIES[:3], late_day=False, gap_every=0):
    """x ~ N(10 + 2 shift, 2) (shift in x's standard deviations), w ~ U(0, 1), a date in
    2024 (or up to 2026 with late_day), a city, and a binary target."""
    rng = np.random.default_rng(seed)
    lines = ["x,w,day,city,y"]
    for i in range(n):
        x = rng.normal(10 + 2 * shift, 2)
        w = rng.uniform(0, 1)
        year = 2024 + (int(rng.integers(0, 3)) if late_day else 0)
        day = f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        city = cities[int(rng.integers(0, len(cities)))]
        y = "yes" if x + 3 * w + rng.normal(0, 1) > 11.5 else "no"
        xs = "" if gap_every and i % gap_every == 3 else f"{x:.4f}"
        lines.append(f"{xs},{w:.4f},{day},{city},{y}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    where = tmp_path_factory.mktemp("drift")
    train = write_rows(where / "train.csv", 500, seed=0)
    same = write_rows(where / "same.csv", 400, seed=1)
    shifted = write_rows(where / "shifted.csv", 400, seed=2, shift=1.5,
                         cities=CITIES[:5], late_day=True)
    model = where / "m.ncm"
    result = run("train", train, *FAST, "--val-split", "0", "-o", model)
    assert result.exit_code == 0, result.stderr
    return {"train": train, "same": same, "shifted": shifted, "model": model,
            "where": where}


def assert_same_report(a, b):
    """Two drift reports equal, their floats to rounding."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same_report(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_report(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    else:
        assert a == b


def column(path, name, kind=float):
    with open(path, newline="") as f:
        return np.array([kind(r[name]) for r in csv.DictReader(f)])


def days(path):
    return column(path, "day", lambda t: np.datetime64(t, "D").astype(np.int64))


# ------------------------------------------------------------------ the quantile sample

@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1024])
def test_sample_is_numpy_exact_up_to_twice_its_size(n):
    v = np.random.default_rng(n).normal(size=n)
    sample = QuantileSample(size=512)
    sample.add(v)
    assert sample.exact and sample.kept == n
    np.testing.assert_array_equal(sample.quantiles(QUANTILES), np.quantile(v, QUANTILES))


def test_sample_does_not_depend_on_how_the_values_are_cut():
    v = np.random.default_rng(1).standard_t(2, size=20000)
    whole = QuantileSample(size=256)
    whole.add(v)
    cuts = np.sort(np.random.default_rng(2).choice(len(v), 40, replace=False))
    pieces = QuantileSample(size=256)
    for part in np.split(v, cuts):
        pieces.add(part)
    assert not whole.exact and whole.level == pieces.level
    np.testing.assert_array_equal(np.concatenate(whole.values),
                                  np.concatenate(pieces.values))
    np.testing.assert_array_equal(whole.quantiles(QUANTILES), pieces.quantiles(QUANTILES))


def test_sample_keeps_between_its_size_and_twice_that():
    sample = QuantileSample(size=300)
    n = 1_500_000       # past the hash table's 2**20 positions
    for part in np.array_split(np.arange(n, dtype=float), 7):
        sample.add(part)
        assert sample.kept <= 600
    assert 300 <= sample.kept and sample.count == n
    # the values are their positions: the sample spans them all, past the table's end
    kept = np.concatenate(sample.values)
    assert kept.min() < n / 100 and kept.max() > n * 0.99


@pytest.mark.parametrize("values", ["heavy", "ties", "sorted", "hour of day", "period 64"])
def test_sample_quantiles_are_within_a_few_standard_errors(values):
    rng = np.random.default_rng(3)
    n = 200_000
    i = np.arange(n)
    v = {"heavy": rng.standard_cauchy(n), "ties": rng.integers(0, 30, n).astype(float),
         "sorted": i.astype(float), "hour of day": (i % 24).astype(float),
         "period 64": (i % 64).astype(float)}[values]
    sample = QuantileSample(size=1024)
    sample.add(v)
    m = sample.kept
    assert 1024 <= m <= 2048
    srt = np.sort(v)
    qs = np.linspace(0.01, 0.99, 41)
    for q, got in zip(qs, sample.quantiles(qs)):
        below = np.searchsorted(srt, got, side="left") / n
        upto = np.searchsorted(srt, got, side="right") / n
        # the returned value's ranks bracket q to within four standard errors of a
        # sample of m (a strided sample of the periodic columns would miss by far more)
        err = 4 * np.sqrt(q * (1 - q) / m) + 1 / m
        assert below <= q + err and upto >= q - err, (q, got, below, upto, err)


def test_sample_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        QuantileSample(size=0)


# ------------------------------------------------------------------ training statistics

def test_training_statistics_are_those_of_the_present_training_values(files, tmp_path):
    path = write_rows(tmp_path / "g.csv", 300, seed=4, gap_every=10)
    table = read_table(path)
    rows = np.arange(0, 300, 3)
    pre = Preprocessor().fit(table, rows=rows, target="y", impute="median")
    x = column(path, "x", lambda t: float(t) if t else np.nan)[rows]
    x = x[~np.isnan(x)]
    st = pre._spec_of["x"]["drift"]
    assert st["rows"] == len(x) < len(rows)
    assert (st["min"], st["max"]) == (x.min(), x.max())
    # the present values' mean and spread, not those with the median merged in
    assert st["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert st["std"] == pytest.approx(x.std(), rel=1e-12)
    assert pre._spec_of["x"]["scale"] < st["std"]
    assert st["sampled"] == st["rows"]
    np.testing.assert_allclose(st["quantiles"], np.quantile(x, QUANTILES), rtol=1e-15)
    d = days(path)[rows].astype(float)
    sd = pre._spec_of["day"]["drift"]
    assert (sd["min"], sd["max"]) == (d.min(), d.max())
    np.testing.assert_allclose(sd["quantiles"], np.quantile(d, QUANTILES), rtol=1e-15)
    assert pre._spec_of["city"]["drift"] == {"cut": frozenset()}


def test_categories_cut_by_max_categories_are_kept_as_seen(tmp_path):
    path = write_rows(tmp_path / "c.csv", 300, seed=5, cities=CITIES)
    pre = Preprocessor().fit(read_table(path), target="y", max_categories=4)
    s = pre._spec_of["city"]
    assert len(s["categories"]) == 4 and s["other"]
    assert s["drift"]["cut"] == frozenset(CITIES) - set(s["categories"])
    # a cut category is not unseen; a new one is
    lines = ["x,w,day,city,y"] + [f"10,0.5,2024-03-03,{c},no" for c in
                                  sorted(s["drift"]["cut"]) + ["quito"]]
    (tmp_path / "n.csv").write_text("\n".join(lines) + "\n")
    meter = pre.drift_meter()
    pre.transform(read_table(tmp_path / "n.csv"), drift=meter)
    city = meter.report()["columns"][3]
    assert city["unseen_rows"] == 1 and city["unseen_categories"] == ["quito"]


def test_the_unseen_categories_listed_are_the_first_few_whatever_the_chunks(files,
                                                                           tmp_path):
    model = TrainedModel.load(files["model"])
    new = [f"c{k:02d}" for k in range(12)][::-1]
    lines = ["x,w,day,city,y"] + [f"10,0.5,2024-03-03,{c},no" for c in new]
    (tmp_path / "n.csv").write_text("\n".join(lines) + "\n")
    table = read_table(tmp_path / "n.csv")
    meter = model.drift_meter()
    for part in np.array_split(np.arange(12), 4):
        model.predict_table(table, rows=part, drift=meter)
    city = meter.report()["columns"][3]
    assert city["unseen_categories"] == sorted(new)[:drift.EXAMPLES]
    assert city["unseen_rows"] == 12 and city["unseen"] == 1.0


def _chunk_sizes(monkeypatch):
    """The row counts of the chunks Scan.chunks yields from here on, as they come."""
    sizes = []
    real = Scan.chunks

    def counted(self, chunk_rows=1 << 16):
        for chunk in real(self, chunk_rows):
            sizes.append(chunk.n_rows)
            yield chunk
    monkeypatch.setattr(Scan, "chunks", counted)
    return sizes


def test_a_file_read_in_chunks_gives_the_same_statistics(files, monkeypatch):
    # a quantile sample smaller than the file, so that its thinning crosses the chunks
    monkeypatch.setattr(drift, "SAMPLE", 16)
    monkeypatch.setattr(stream, "CHUNK_ROWS", 50)
    s = Settings(hidden=[4], epochs=1, val_split=0.2, dtype="float64")
    whole, _ = TrainedModel.fit(read_table(files["train"]), s)
    sizes = _chunk_sizes(monkeypatch)
    with Scan(str(files["train"]), block_size=1024) as scan:
        chunked, _ = TrainedModel.fit_file(scan, s)
    assert len(set(sizes)) > 1 and max(sizes) < 200
    for a, b in zip(whole.pre.specs, chunked.pre.specs):
        sa, sb = a["drift"], b["drift"]
        if a["kind"] == "text":
            assert sa == sb
            continue
        assert sa["sampled"] < sa["rows"]
        for key in ("rows", "min", "max", "quantiles", "sampled"):
            assert sa[key] == sb[key], (a["name"], key)
        for key in ("mean", "std"):
            assert sa[key] == pytest.approx(sb[key], rel=1e-12), (a["name"], key)


def test_statistics_survive_the_model_file(files, tmp_path):
    model = TrainedModel.load(files["model"])
    again = tmp_path / "again.ncm"
    model.save(again)
    back = TrainedModel.load(again)
    assert back.has_drift_statistics
    for a, b in zip(model.pre.specs, back.pre.specs):
        assert a["drift"] == b["drift"]
    x = column(files["train"], "x")
    st = back.pre._spec_of["x"]["drift"]
    np.testing.assert_allclose(st["quantiles"], np.quantile(x, QUANTILES), rtol=1e-15)


def test_damaged_statistics_are_refused(files, tmp_path):
    from neuralcli import persist

    saved = persist.load(files["model"])
    arrays = dict(saved.arrays)
    arrays["data.drift.quantiles"] = arrays["data.drift.quantiles"][:, :3].copy()
    path = tmp_path / "bad.ncm"
    persist.save(path, saved.model, meta=saved.meta, arrays=arrays)
    with pytest.raises(persist.ModelFileError) as info:
        TrainedModel.load(path)
    err = info.value
    assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
    assert "drift statistics" in str(err) and "retrain" in str(err)


# ------------------------------------------------------------------ measures of new rows

def test_measures_match_numpy(files):
    model = TrainedModel.load(files["model"])
    new = read_table(files["shifted"])
    whole = model.drift_meter()
    model.predict_table(new, drift=whole)
    chunked = model.drift_meter()
    for part in np.array_split(np.arange(new.n_rows), 7):
        model.predict_table(new, rows=part, drift=chunked)
    report = whole.report()
    assert_same_report(report, chunked.report())
    got = {e["column"]: e for e in report["columns"]}
    assert [e["column"] for e in report["columns"]] == ["x", "w", "day", "city"]
    for name, train, now in (("x", column(files["train"], "x"),
                              column(files["shifted"], "x")),
                             ("w", column(files["train"], "w"),
                              column(files["shifted"], "w")),
                             ("day", days(files["train"]), days(files["shifted"]))):
        e = got[name]
        assert e["rows"] == len(now)
        assert e["below_min"] == np.mean(now < train.min())
        assert e["above_max"] == np.mean(now > train.max())
        assert e["mean_shift"] == pytest.approx((now.mean() - train.mean()) / train.std(),
                                                rel=1e-9)
        edges = np.concatenate([[-np.inf], np.quantile(train, QUANTILES), [np.inf]])
        assert e["between_quantiles"] == pytest.approx(
            [np.mean((now > a) & (now <= b)) for a, b in zip(edges[:-1], edges[1:])],
            abs=1e-15)
        assert e["training"]["min"] == train.min() and e["training"]["std"] == \
            pytest.approx(train.std(), rel=1e-12)
    cities = column(files["shifted"], "city", str)
    assert got["city"]["unseen"] == np.mean(~np.isin(cities, CITIES[:3]))
    assert got["city"]["unseen_categories"] == ["kyiv", "lima"]
    # x moved by 1.5 sd, the dates ran on past the training year, two cities are new
    assert got["x"]["mean_shift"] == pytest.approx(1.5, abs=0.25)
    assert got["day"]["above_max"] > 0.5
    assert report["drifted"] == ["day", "city", "x"] and not got["w"]["drifted"]
    assert [got[c]["severity"] for c in report["drifted"]] == sorted(
        [got[c]["severity"] for c in report["drifted"]], reverse=True)


def test_rows_like_the_training_ones_do_not_drift(files):
    model = TrainedModel.load(files["model"])
    meter = model.drift_meter()
    model.predict_table(read_table(files["same"]), drift=meter)
    report = meter.report()
    assert report["drifted"] == []
    for e in report["columns"]:
        assert e["severity"] < 1 and not e["drifted"], e
        if e["kind"] != "text":
            # like the training rows: about 1, 4, 20, 25, 25, 20, 4, 1 % between quantiles
            want = np.diff([0, *QUANTILES, 1])
            assert e["between_quantiles"] == pytest.approx(want, abs=0.06), e["column"]
    assert report["columns"][3]["unseen_rows"] == 0


def test_thresholds_allow_for_chance():
    t = drift.thresholds(1, 99)
    assert t["outside_range"] == pytest.approx(0.02 + 3 * np.sqrt(0.02 * 0.98))
    assert t["mean_shift"] == pytest.approx(3 * np.sqrt(1 + 1 / 99))
    big = drift.thresholds(10 ** 8, 10 ** 8)
    assert big == {"outside_range": drift.RANGE_SHARE, "mean_shift": drift.MEAN_SHIFT}


def test_strict_meter_names_the_earliest_row(files, tmp_path):
    model = TrainedModel.load(files["model"])
    x = column(files["train"], "x")
    width = x.max() - x.min()
    lines = ["x,w,day,city,y", "10,0.5,2024-01-05,oslo,no",
             f"{x.max() + 0.05 * width:.4f},0.5,2024-01-05,oslo,no",   # within the margin
             f"{x.max() + 0.5 * width:.4f},0.5,2024-01-05,oslo,no",    # beyond it
             "10,0.5,2024-01-05,lima,no"]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path)
    err = error_of(model.predict_table, table, rows=[0, 1, 3],
                   drift=model.drift_meter(strict=True))
    assert (err.row, err.column) == (4, "city") and '"lima"' in err.message
    err = error_of(model.predict_table, table, drift=model.drift_meter(strict=True))
    assert (err.row, err.column) == (3, "x") and "outside the training range" in err.message
    model.predict_table(table, rows=[0, 1], drift=model.drift_meter(strict=True))


# ------------------------------------------------------------------ the commands

def test_predict_notes_the_drifted_columns_on_stderr_only(files):
    result = run("predict", files["model"], files["shifted"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["predicted_y", "p_no", "p_yes"] and len(rows) == 401
    notes = [ln for ln in result.stderr.splitlines() if ln.startswith("input drift")]
    assert len(notes) == 1, result.stderr
    assert notes[0] == ('input drift in 3 of 4 columns against the training data: "day" '
                        '(mean shifted +3.41 training sd, 64% outside the training range), '
                        '"city" (36% unseen categories), "x" (mean shifted +1.45 training '
                        'sd, 8% outside the training range)')


def test_no_note_without_drift(files):
    result = run("predict", files["model"], files["same"])
    assert result.exit_code == 0 and "drift" not in result.stderr, result.stderr


def test_predict_measures_the_whole_file_across_its_chunks(files, monkeypatch):
    want = run("eval", files["model"], files["shifted"], "--json")
    monkeypatch.setattr(reader, "BLOCK_SIZE", 2048)
    monkeypatch.setattr(stream, "CHUNK_ROWS", 60)
    sizes = _chunk_sizes(monkeypatch)
    got = run("eval", files["model"], files["shifted"], "--json")
    assert len(sizes) > 3
    assert_same_report(json.loads(want.stdout)["drift"], json.loads(got.stdout)["drift"])
    result = run("predict", files["model"], files["shifted"])
    assert result.exit_code == 0 and "input drift in 3 of 4 columns" in result.stderr


def test_eval_json_has_the_drift_object(files):
    result = run("eval", files["model"], files["shifted"], "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)["drift"]
    model = TrainedModel.load(files["model"])
    meter = model.drift_meter()
    model.predict_table(read_table(files["shifted"]), drift=meter)
    assert_same_report(got, json.loads(json.dumps(meter.report())))
    assert got["drifted"] == ["day", "city", "x"]
    city = got["columns"][3]
    assert city["unseen_categories"] == ["kyiv", "lima"] and city["thresholds"] == {
        "unseen": drift.UNSEEN_SHARE}
    assert "input drift in 3 of 4" in result.stderr
    same = json.loads(run("eval", files["model"], files["same"], "--json").stdout)
    assert same["drift"]["drifted"] == []


@pytest.mark.parametrize("cmd", ["predict", "eval"])
def test_strict_refuses_an_unseen_category(files, tmp_path, cmd):
    lines = open(files["same"]).read().splitlines()
    lines[7] = lines[7].replace(lines[7].split(",")[3], "quito")
    path = tmp_path / "u.csv"
    path.write_text("\n".join(lines) + "\n")
    assert run(cmd, files["model"], path).exit_code == 0
    result = run(cmd, files["model"], path, "--strict")
    line = assert_one_line_error(result, 'row 7, column "city"', 'category "quito" was not '
                                                                 'seen in training',
                                 "leave out --strict")
    assert str(path) in line


def test_strict_refuses_a_value_far_outside_the_training_range(files, tmp_path):
    x = column(files["train"], "x")
    lines = open(files["same"]).read().splitlines()
    far = x.max() + 0.2 * (x.max() - x.min())
    cells = lines[12].split(",")
    lines[12] = ",".join([f"{far:.4f}"] + cells[1:])
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    result = run("predict", files["model"], path, "--strict", "-o", out)
    assert_one_line_error(result, 'row 12, column "x"', f"{far:.4f}",
                          "outside the training range", "by more than 10% of its width")
    assert not out.exists() and not os.path.exists(f"{out}.part")
    # dates are named as dates
    lines = open(files["same"]).read().splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join(cells[:2] + ["2031-06-01"] + cells[3:])
    path.write_text("\n".join(lines) + "\n")
    assert_one_line_error(run("eval", files["model"], path, "--strict"),
                          'row 2, column "day"', "2031-06-01 is outside the training "
                                                 "range (2024-01-")


# ------------------------------------------------------------------ earlier model files

def test_a_model_file_without_statistics_predicts_with_one_note():
    # format2.ncm was written by the release before the drift statistics were kept
    path = os.path.join(DATA, "format2.ncm")
    data = os.path.join(DATA, "format1-new.csv")
    model = TrainedModel.load(path)
    assert not model.has_drift_statistics
    with pytest.raises(DataError, match="no training statistics"):
        model.drift_meter()
    result = run("predict", path, data)
    assert result.exit_code == 0, result.stderr
    notes = [ln for ln in result.stderr.splitlines() if "drift" in ln]
    assert notes == ["input drift is not measured: the model file holds no training "
                     "statistics (it was written by an earlier neuralcli; retrain the "
                     "model to measure it)"]
    assert len(result.stdout.splitlines()) == 5
    result = run("eval", path, data, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["drift"] is None
    assert "input drift is not measured" in result.stderr
    line = assert_one_line_error(run("predict", path, data, "--strict"),
                                 "no training statistics", "leave out --strict")
    assert path in line


def test_the_strict_help_states_the_bound_the_meter_applies():
    from neuralcli.cli.drift import STRICT_HELP

    assert f"by more than {drift.STRICT_MARGIN:.0%} of its width" in STRICT_HELP
    for cmd in ("predict", "eval"):
        result = run(cmd, "--help")
        assert result.exit_code == 0 and "--strict" in result.stdout
