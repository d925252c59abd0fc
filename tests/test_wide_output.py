"""Output that grows with the data stays readable: eval's tables fit the console's width
however many classes there are, and a note that would repeat for every column of a kind
is said once for all of them."""
import csv
import io
import json
import re
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from neuralcli.cli import cli

FAST = ["--epochs", "3", "--batch-size", "0"]


def run(*args, columns=None):
    env = None if columns is None else {"COLUMNS": str(columns)}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def classification_csv(path, names, n, seed):
    """n rows of 10 number features; the class is the rank of a mix of three of them,
    cut into len(names) equal bands, so neighbouring classes are easy to confuse."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    score = X[:, :3] @ np.array([1.0, 0.7, 0.4])
    band = np.argsort(np.argsort(score)) * len(names) // n
    return write_rows(path, [f"x{i}" for i in range(10)] + ["label"],
                      [[f"{v:.4f}" for v in X[r]] + [names[band[r]]] for r in range(n)])


def predicted_pairs(model, data):
    """{(true, predicted): rows} from the file's labels and `predict`'s output."""
    out = ok(run("predict", model, data)).stdout
    predicted = [r["predicted_label"] for r in csv.DictReader(io.StringIO(out))]
    with open(data, newline="") as f:
        true = [r["label"] for r in csv.DictReader(f)]
    assert len(predicted) == len(true)
    return Counter(zip(true, predicted))


def assert_fits(text, width):
    long = [ln for ln in text.splitlines() if len(ln) > width]
    assert not long, f"{len(long)} lines wider than {width}, such as {long[0]!r}"


def table_after(lines, title):
    """The rows of the plain table under the line `title` (up to a blank line), split
    at runs of two or more spaces."""
    at = lines.index(title)
    rule = next(i for i in range(at, len(lines)) if set(lines[i]) <= {"-", " "}
                and lines[i].strip())
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


# ------------------------------------------------------------------ eval, many classes


@pytest.fixture(scope="module")
def fifty(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fifty")
    names = [f"class_{i:02d}" for i in range(50)]
    data = classification_csv(tmp / "fifty.csv", names, 2000, seed=0)
    model = tmp / "fifty.ncm"
    ok(run("train", data, *FAST, "-o", model))
    return model, data, names


@pytest.mark.parametrize("width", [80, 120])
def test_fifty_classes_fit_the_width_and_name_the_most_confused_pairs(fifty, width):
    model, data, names = fifty
    out = ok(run("eval", model, data, columns=width)).stdout
    assert_fits(out, width)
    lines = out.splitlines()
    # every class keeps its line in the per-class table
    per_class = table_after(lines, "Per class")
    assert [r[0] for r in per_class] == names
    # the matrix is too wide: the largest off-diagonal cells instead, as predict's
    # output counts them, largest first
    pairs = predicted_pairs(model, data)
    wrong = {p: n for p, n in pairs.items() if p[0] != p[1]}
    heading = [ln for ln in lines if ln.startswith("Confusion matrix")]
    assert heading == ["Confusion matrix: the 10 most confused pairs"]
    prose = " ".join(lines[lines.index(heading[0]) + 1:])
    assert (f"{sum(wrong.values()):,} of 2,000 rows are misclassified, in {len(wrong):,} "
            f"(true, predicted) pairs") in prose
    assert "--json gives the whole matrix" in prose
    shown = table_after(lines, "true class  predicted  rows  of true class")
    assert len(shown) == 10
    counts = [int(r[2]) for r in shown]
    assert counts == sorted(counts, reverse=True)
    support = Counter(t for t, _ in pairs.elements())
    for true, predicted, rows, share in shown:
        assert wrong[(true, predicted)] == int(rows), (true, predicted)
        assert share == f"{100 * int(rows) / support[true]:.0f}%"
    # none left out is larger than the smallest shown
    listed = {(r[0], r[1]) for r in shown}
    assert max([n for p, n in wrong.items() if p not in listed], default=0) <= min(counts)
    # and --json carries the whole matrix, the same counts
    got = json.loads(ok(run("eval", model, data, "--json")).stdout)
    cm = got["model"]["confusion_matrix"]
    assert len(cm) == 50 and all(len(r) == 50 for r in cm)
    assert {(names[i], names[j]): n for i, r in enumerate(cm) for j, n in enumerate(r)
            if n} == dict(pairs)


LONG = [f"a rather long class name number {i} of the set" for i in range(7)]


@pytest.fixture(scope="module")
def long_names(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("long")
    data = classification_csv(tmp / "long.csv", LONG, 600, seed=3)
    model = tmp / "long.ncm"
    ok(run("train", data, *FAST, "-o", model))
    return model, data


@pytest.mark.parametrize("width", [60, 80])
def test_long_class_names_are_cut_apart_and_the_matrix_numbers_its_columns(long_names,
                                                                           width):
    model, data = long_names
    out = ok(run("eval", model, data, columns=width)).stdout
    assert_fits(out, width)
    lines = out.splitlines()
    per_class = [r[0] for r in table_after(lines, "Per class")]
    assert len(set(per_class)) == 7
    for shown, name in zip(per_class, LONG):
        head, _, tail = shown.partition("\u2026")
        assert name.startswith(head) and name.endswith(tail)
    matrix = table_after(lines, "Confusion matrix (predicted classes by #)")
    pairs = predicted_pairs(model, data)
    for i, row in enumerate(matrix):
        assert int(row[0]) == i + 1
        assert [int(v) for v in row[2:]] == [pairs[(LONG[i], p)] for p in LONG]


def test_a_matrix_that_fits_is_shown_whole(long_names):
    model, data = long_names
    out = ok(run("eval", model, data, columns=400)).stdout
    lines = out.splitlines()
    matrix = table_after(lines, "Confusion matrix")
    header = lines[lines.index("Confusion matrix") + 1]
    assert re.split(r"\s{2,}", header.strip()) == ["true \\ predicted"] + LONG
    pairs = predicted_pairs(model, data)
    assert [[int(v) for v in r[1:]] for r in matrix] == \
        [[pairs[(t, p)] for p in LONG] for t in LONG]


# ------------------------------------------------------------------ notes, many columns


@pytest.fixture
def constant(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(200):
        a, b = rng.normal(size=2)
        rows.append([f"{a:.3f}", f"{b:.3f}"] + ["7"] * 300 + [int(a + b > 0)])
    return write_rows(tmp_path / "const.csv",
                      ["a", "b"] + [f"c{i}" for i in range(1, 301)] + ["y"], rows)


def summary_names(line, prefix):
    """The names a summary note lists and how many more it counts."""
    assert line.startswith(prefix + ": "), line
    listed, _, more = line[len(prefix) + 2:].partition(" and ")
    return listed.split(", "), int(more.removesuffix(" more").replace(",", "") or 0)


def test_constant_columns_are_one_line_in_train_and_inspect(tmp_path, constant):
    result = ok(run("train", constant, *FAST, "-o", tmp_path / "c.ncm"))
    err = result.stderr.splitlines()
    about = [ln for ln in err if not ln.startswith("data: ") and (
        "constant" in ln or "no information" in ln or re.search(r"\bc\d+\b", ln))]
    assert len(about) == 1, about
    assert len(about[0]) <= 79
    names, more = summary_names(about[0], "300 columns are constant and carry no "
                                          "information")
    assert names == [f"c{i}" for i in range(1, len(names) + 1)] and len(names) >= 3
    assert len(names) + more == 300
    assert len(err) < 12, err

    out = ok(run("inspect", constant)).stdout.splitlines()
    notes = out[out.index("Notes") + 1:]
    assert len(notes) == 1 and notes[0].startswith("  300 columns are constant")
    # --json still says it beside each column
    got = json.loads(ok(run("inspect", constant, "--json")).stdout)
    said = [c["name"] for c in got["columns"] if any("same value" in n for n in c["notes"])]
    assert said == [f"c{i}" for i in range(1, 301)]


def test_a_few_constant_columns_keep_a_note_each(tmp_path):
    rows = [[i % 7, 5, 5, 5, i % 2] for i in range(40)]
    data = write_rows(tmp_path / "few.csv", ["a", "k1", "k2", "k3", "y"], rows)
    err = ok(run("train", data, *FAST, "-o", tmp_path / "f.ncm")).stderr
    for k in ("k1", "k2", "k3"):
        assert f'column "{k}" has the same value (5) in every training row' in err
    assert "columns are constant" not in err


@pytest.fixture
def mixed(tmp_path):
    """Six columns each of dates, numbers with gaps, text of 8 categories and text of
    mostly numbers, and three ID-like columns (a few: said one by one); and new rows
    with categories the training never saw."""
    rng = np.random.default_rng(1)
    n = 200
    cols = {"a": [f"{v:.3f}" for v in rng.normal(size=n)],
            "b": [f"{v:.3f}" for v in rng.normal(size=n)]}
    for i in range(6):
        cols[f"d{i}"] = [str(np.datetime64("2020-01-01") + int(k))
                         for k in rng.integers(0, 900, n)]
    for i in range(3):
        cols[f"id{i}"] = [f"u{i}_{k}" for k in range(n)]
    for i in range(6):
        v = [f"{x:.2f}" for x in rng.normal(size=n)]
        for k in rng.choice(n, 5, replace=False):
            v[k] = ""
        cols[f"m{i}"] = v
    for i in range(6):
        cols[f"t{i}"] = [f"k{int(x)}" for x in rng.integers(0, 8, n)]
    for i in range(6):
        cols[f"x{i}"] = [f"w{k}" if k < 40 else f"{x:.2f}"
                         for k, x in enumerate(rng.normal(size=n))]
    cols["y"] = [int(float(a) + float(b) > 0) for a, b in zip(cols["a"], cols["b"])]
    data = write_rows(tmp_path / "mixed.csv", list(cols),
                      [[cols[c][r] for c in cols] for r in range(n)])
    # new rows: categories of t0..t5 unseen in training
    fresh = write_rows(tmp_path / "fresh.csv", list(cols),
                       [[f"new{r % 3}" if c.startswith("t") and r % 4 == 0 else cols[c][r]
                         for c in cols] for r in range(n)])
    return data, fresh


def test_notes_that_repeat_per_column_are_one_line_per_kind(tmp_path, mixed):
    data, fresh = mixed
    model = tmp_path / "m.ncm"
    err = ok(run("train", data, *FAST, "--impute", "mean", "--max-categories", "5",
                 "-o", model)).stderr.splitlines()
    expect = {"6 date columns give 5 inputs each": ["d0", "d1", "d2", "d3", "d4", "d5"],
              "6 columns: 30 missing cells filled (training mean)":
                  ["m0", "m1", "m2", "m3", "m4", "m5"],
              "12 columns keep 5 categories (the rest: <other>)":
                  [f"t{i}" for i in range(6)] + [f"x{i}" for i in range(6)],
              "6 columns of mostly numbers are read as text":
                  ["x0", "x1", "x2", "x3", "x4", "x5"]}
    for lead, columns in expect.items():
        said = [ln for ln in err if ln.startswith(lead + ": ")]
        assert len(said) == 1, (lead, err)
        names, more = summary_names(said[0], lead)
        assert names + columns[len(names):] == columns and len(names) + more == len(columns)
        assert len(said[0]) <= 79
    for prefix in ("is a date", "missing cell filled", "missing cells filled with",
                   "most frequent of", "is read as text"):
        assert not [ln for ln in err if ln.startswith("column ") and prefix in ln], prefix
    # three of a kind are still said one by one
    ids = [ln for ln in err if "looks like an identifier" in ln]
    assert [ln.split('"')[1] for ln in ids] == ["id0", "id1", "id2"]

    for command in ("eval", "predict"):
        err = ok(run(command, model, fresh)).stderr.splitlines()
        unseen = [ln for ln in err if "categories not kept" in ln or "outside the" in ln]
        assert len(unseen) == 1, err
        lead = re.match(r"12 columns: [\d,]+ cells of categories not kept \(<other>\)",
                        unseen[0])
        assert lead, unseen
        names, more = summary_names(unseen[0], lead.group(0))
        assert names == ["t0", "t1", "t2", "t3", "t4", "t5", "x0", "x1"][:len(names)]
        assert len(names) + more == 12
        filled = [ln for ln in err if "filled" in ln]
        assert len(filled) == 1 and filled[0].startswith(
            "6 columns: 30 missing cells filled (training mean): m0, "), err


def test_the_readers_column_notes_of_one_kind_share_a_line(tmp_path):
    # 6 date columns and 5 columns with thousands separators: the reader's notes about
    # them come one line per kind in train, eval and predict, at most 79 characters
    rng = np.random.default_rng(3)
    dates = [f"d{k}" for k in range(6)]
    money = [f"m{k}" for k in range(5)]
    rows = [",".join(dates + money + ["y"])]
    for i in range(60):
        day = [f"2024-{1 + (i + k) % 12:02d}-{1 + i % 28:02d}" for k in range(6)]
        amount = [f'"{int(v):,}"' for v in rng.integers(1000, 90000, 5)]
        rows.append(",".join(day + amount + [str(i % 2)]))
    data = tmp_path / "many.csv"
    data.write_text("\n".join(rows) + "\n")
    model = tmp_path / "many.ncm"
    result = run("train", data, "--epochs", "2", "-o", model)
    assert result.exit_code == 0, result.stderr
    for command in (["train", data, "--epochs", "2", "-o", tmp_path / "m2.ncm"],
                    ["eval", model, data], ["predict", model, data]):
        err = run(*command).stderr.splitlines()
        said = [ln for ln in err if "ISO dates" in ln]
        assert said == ["6 columns read as ISO dates: d0, d1, d2, d3, d4, d5"], err
        said = [ln for ln in err if "thousands" in ln]
        assert said == ["5 columns of numbers with thousands separator ',': m0, m1, m2, "
                        "m3, m4"], err
        assert all(f"m{k}" in said[0] for k in range(5)) and len(said[0]) <= 79
