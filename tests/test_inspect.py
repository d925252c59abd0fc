"""neuralcli inspect through click's CliRunner: what it says of each column, that its
encodings are train's, that --head gives the file's values as parsed, and its errors."""
import csv
import gzip
import json
import sys

import numpy as np
import pytest

from neuralcli.cli import cli

from test_cli import assert_one_line_error, run


def inspect_json(*args, **kw):
    result = run("inspect", *args, "--json", **kw)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def by_name(result):
    return {c["name"]: c for c in result["columns"]}


@pytest.fixture
def shop(tmp_path):
    """40 rows: an ID, a plain number, a number with thousands separators, a date, a
    date-time, a text column of 4 cities, and a 3-class text target."""
    rng = np.random.default_rng(3)
    lines = ["id,age,price,day,stamp,city,grade"]
    cities = ["paris", "rome", "oslo", "lima"]
    for i in range(40):
        age = int(rng.integers(18, 70))
        price = f'"{int(rng.integers(1000, 90000)):,}"'
        day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        stamp = f"2023-05-{1 + i % 28:02d}T{i % 24:02d}:30:00"
        city = cities[0] if i % 2 else cities[1 + i % 3]
        grade = "abc"[i % 3]
        lines.append(f"c{i:03d},{age},{price},{day},{stamp},{city},{grade}")
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def read_back(path, **kw):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, **kw))
    return rows[0], rows[1:]


def test_types_formats_counts_and_ranges(shop):
    r = inspect_json(shop)
    assert (r["n_rows"], r["n_columns"], r["delimiter"], r["header"], r["encoding"]) == \
        (40, 7, ",", True, "utf-8")
    c = by_name(r)
    assert [c[n]["kind"] for n in ("id", "age", "price", "day", "stamp", "city", "grade")] \
        == ["text", "number", "number", "date", "date", "text", "text"]
    assert c["age"]["format"] is None
    assert c["price"]["format"] == "thousands separator ','"
    assert c["day"]["format"] == "date" and c["stamp"]["format"] == "date-time"
    header, rows = read_back(shop)
    ages = [int(row[1]) for row in rows]
    prices = [int(row[2].replace(",", "")) for row in rows]
    assert c["age"]["range"] == {"min": min(ages), "max": max(ages),
                                 "mean": pytest.approx(np.mean(ages))}
    assert c["price"]["range"]["max"] == max(prices)
    assert isinstance(c["age"]["range"]["min"], int)
    assert c["age"]["distinct"] == len(set(ages))
    days = sorted(row[3] for row in rows)
    assert c["day"]["range"] == {"first": days[0], "last": days[-1]}
    stamps = sorted(row[4] for row in rows)
    assert c["stamp"]["range"] == {"first": stamps[0], "last": stamps[-1]}
    assert all(col["missing"] == 0 for col in r["columns"])
    assert r["problems"] == []


def test_top_categories_id_capped_and_target(shop):
    r = inspect_json(shop, "--max-categories", "2")
    c = by_name(r)
    cities = [row[5] for row in read_back(shop)[1]]
    # most frequent first, ties by first appearance
    expected = sorted(((cities.count(v), v) for v in set(cities)),
                      key=lambda t: (-t[0], cities.index(t[1])))
    assert [(t["count"], t["value"]) for t in c["city"]["top"]] == expected
    assert c["city"]["distinct"] == 4
    assert c["city"]["encoding"]["use"] == "categorical"
    assert (c["city"]["encoding"]["categories"], c["city"]["encoding"]["other"]) == (2, True)
    assert any("2 most frequent of 4 categories" in n for n in c["city"]["notes"])
    assert c["id"]["encoding"]["use"] == "id"
    assert any("looks like an identifier" in n for n in c["id"]["notes"])
    assert c["age"]["encoding"]["use"] == "standardized"
    assert c["day"]["encoding"]["use"] == "date" and c["day"]["encoding"]["inputs"] == 5
    assert r["target"] == "grade" and r["task"] == "multiclass"
    assert "3 text classes" in r["task_reason"]
    assert c["grade"]["encoding"] == {"use": "target", "text": r["task_reason"],
                                      "inputs": 0, "task": "multiclass"}
    # the inputs are train's: 1 + 1 (numbers) + 5 + 5 (dates) + 2 + other (city)
    assert r["inputs"] == 15


def test_options_change_the_encoding(shop):
    r = inspect_json(shop, "--target", "age", "--drop", "price", "--keep-id", "id")
    c = by_name(r)
    assert r["target"] == "age" and r["task"] == "regression"
    assert "non-integer" not in r["task_reason"] and "regression" in r["task_reason"]
    assert c["price"]["encoding"]["use"] == "dropped"
    assert c["id"]["encoding"]["use"] == "categorical"
    assert c["grade"]["encoding"]["use"] == "categorical"


def test_terminal_output(shop):
    result = run("inspect", shop, "--max-categories", "2", "--head", "2")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "shop.csv: 40 rows, 7 columns; delimiter comma, header yes, encoding utf-8" in out
    assert "number (thousands separator ',')" in out
    assert "left out: looks like an ID" in out
    assert "categorical, 2 categories + other" in out
    assert "date features (5 inputs)" in out
    assert "target: multiclass" in out
    assert "First 2 rows as parsed" in out
    head = out.split("First 2 rows as parsed", 1)[1].splitlines()
    assert head[3].split()[0] == "c000" and head[4].split()[0] == "c001"
    assert len(head) == 5


def test_problems_are_all_reported_with_their_rows(tmp_path):
    lines = ["a,b,c,y"]
    for i in range(30):
        a = "" if i == 4 else str(i)
        b = "oops" if i == 9 else str(i * 0.5)
        c = "NA" if i == 12 else "xyz"[i % 3]
        lines.append(f"{a},{b},{c},{i % 2}")
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n")
    r = inspect_json(path)
    c = by_name(r)
    assert c["a"]["missing"] == 1 and c["c"]["missing"] == 1 and c["b"]["missing"] == 0
    assert c["a"]["problems"] == [
        "row 5: missing value (an empty cell or a missing-value marker); fill it in, or "
        "pass --impute mean|median|most-frequent"]
    assert len(c["b"]["problems"]) == 1
    assert c["b"]["problems"][0].startswith('row 10: "oops" is not a number')
    assert "--drop b" in c["b"]["problems"][0]
    assert c["c"]["problems"][0].startswith("row 13: missing value")
    assert len(r["problems"]) == 3
    assert c["a"]["encoding"] is None
    assert r["task"] == "binary"                  # the target is fine
    # train stops on the first of them, in the same words
    train = run("train", path, "--epochs", "1", "-o", tmp_path / "m.ncm")
    assert assert_one_line_error(train) == "error: " + r["problems"][0]
    # with --impute, the missing cells are filled: only the bad cell remains
    r = inspect_json(path, "--impute", "median")
    assert len(r["problems"]) == 1
    assert 'row 10, column "b": "oops" is not a number' in r["problems"][0]
    assert "missing -> 15" in by_name(r)["a"]["encoding"]["text"]


def test_a_column_with_bad_and_missing_cells_has_both_problems(tmp_path):
    from neuralcli.errors import DataError
    from neuralcli.preprocess import Preprocessor
    from neuralcli.reader import read_table

    lines = ["a,y"] + [f"{'' if i == 3 else 'x?' if i == 20 else i},{i % 2}"
                       for i in range(30)]
    path = tmp_path / "both.csv"
    path.write_text("\n".join(lines) + "\n")
    a = by_name(inspect_json(path))["a"]
    assert len(a["problems"]) == 2
    assert a["problems"][0].startswith('row 21: "x?" is not a number')
    assert a["problems"][1].startswith("row 4: missing value")
    table = read_table(path)
    problems = []
    pre = Preprocessor().fit(table, problems=problems)
    assert [j for j, _ in problems] == [0, 0] and not pre.fitted
    with pytest.raises(DataError) as err:
        Preprocessor().fit(table)
    assert str(err.value) == str(problems[0][1])


def test_target_problem_is_the_target_status(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,a\n2,\n3,b\n4,a\n")
    r = inspect_json(path)
    c = by_name(r)
    assert r["task"] is None and c["y"]["encoding"]["use"] == "target"
    assert c["y"]["problems"][0].startswith("row 2: the target is empty")
    assert c["x"]["encoding"]["use"] == "standardized"


def expected_cell(text, kind):
    if text.strip() in ("", "NA"):
        return None
    if kind == "number":
        v = float(text.replace(".", "").replace(",", ".")) if "," in text else float(text)
        return int(v) if v.is_integer() else v
    return text.strip()


def test_head_values_match_the_file(tmp_path):
    text = ('name,amount,when,memo,qty\n'
            '"Smith, Jo",12.5,2024-03-01,"two\nlines",3\n'
            'Lee,NA,2024-03-02,plain,4\n'
            '"Quote ""q""",-7.25,,"a, b, c",\n'
            'Kim,1e3,2024-12-31,NA,10\n')
    path = tmp_path / "head.csv"
    path.write_text(text)
    r = inspect_json(path, "--head", "4")
    header, rows = read_back(path)
    kinds = {c["name"]: c["kind"] for c in r["columns"]}
    assert kinds == {"name": "text", "amount": "number", "when": "date", "memo": "text",
                     "qty": "number"}
    assert len(r["head"]) == 4
    for got, row in zip(r["head"], rows):
        assert list(got) == header
        want = {h: expected_cell(v, "number" if kinds[h] == "number" else "text")
                for h, v in zip(header, row)}
        assert got == want
    assert isinstance(r["head"][0]["qty"], int)
    assert isinstance(r["head"][3]["amount"], int)         # 1e3: a whole number
    assert isinstance(r["head"][0]["amount"], float)
    assert r["head"][0]["memo"] == "two\nlines"
    assert r["head"][2]["name"] == 'Quote "q"'


def test_head_decimal_comma_file(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("ort;preis;menge;tag\nBerlin;1.234,5;3;2024-01-05\n"
                    "Köln;12,75;;2024-01-06\nBonn;NA;7;\n")
    r = inspect_json(path, "--head", "10")
    assert r["delimiter"] == ";"
    c = by_name(r)
    assert c["preis"]["format"] == "decimal comma, thousands separator '.'"
    assert r["head"] == [
        {"ort": "Berlin", "preis": 1234.5, "menge": 3, "tag": "2024-01-05"},
        {"ort": "Köln", "preis": 12.75, "menge": None, "tag": "2024-01-06"},
        {"ort": "Bonn", "preis": None, "menge": 7, "tag": None}]
    assert (c["preis"]["missing"], c["menge"]["missing"], c["tag"]["missing"]) == (1, 1, 1)


def test_head_datetime_and_stdin_and_gzip(tmp_path):
    text = "t,v\n2024-01-01T00:00:00,1\n2024-01-02T06:30:00,2\n2024-01-03T12:00:00,1\n"
    r = inspect_json("-", "--head", "2", input=text)
    assert [row["t"] for row in r["head"]] == ["2024-01-01T00:00:00", "2024-01-02T06:30:00"]
    gz = tmp_path / "d.csv.gz"
    with gzip.open(gz, "wt") as f:
        f.write(text)
    assert inspect_json(gz, "--head", "3")["head"] == r["head"] + [
        {"t": "2024-01-03T12:00:00", "v": 1}]


def test_wide_file_stays_readable(tmp_path):
    n = 120
    header = ",".join(f"f{j}" for j in range(n))
    rows = [",".join(str((i * 7 + j) % 11) for j in range(n)) for i in range(25)]
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    result = run("inspect", path, "--head", "2")
    assert result.exit_code == 0, result.stderr
    assert "... and 70 more columns (all of them with --json)" in result.stdout
    assert " f49 " in result.stdout and "f50" not in result.stdout
    assert len(inspect_json(path)["columns"]) == n


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"n": [1, 2, None, 4], "x": [0.5, 1.5, 2.5, None],
                             "s": ["a", "b", "a", None], "y": [0, 1, 0, 1]}), path)
    r = inspect_json(path, "--head", "4", "--impute", "mean")
    assert r["delimiter"] is None and r["n_rows"] == 4
    c = by_name(r)
    assert [c[k]["kind"] for k in "nxsy"] == ["number", "number", "text", "number"]
    assert c["n"]["range"] == {"min": 1, "max": 4, "mean": pytest.approx(7 / 3)}
    assert c["s"]["top"] == [{"value": "a", "count": 2}, {"value": "b", "count": 1}]
    assert r["head"][2] == {"n": None, "x": 2.5, "s": "a", "y": 0}
    assert r["task"] == "binary"
    out = run("inspect", path).stdout
    assert "4 rows, 4 columns; Parquet" in out


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 not really")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert_one_line_error(run("inspect", path), "pyarrow", "neuralcli[parquet]")


@pytest.mark.parametrize("content, needle", [
    (None, "no such file"),
    ("", "is empty"),
    ("a,b\n1,2\n3,4,5\n", "has 3 fields"),
    ('a,b\n1,"2\n', "never closed"),
])
def test_unreadable_file_is_one_error_line(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    assert_one_line_error(run("inspect", path), needle)
    assert_one_line_error(run("inspect", path, "--json"), needle)


def test_one_column_file(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a;b|c\n1\n2\n3\n")
    r = inspect_json(path, "--delimiter", ",")
    assert r["n_columns"] == 1 and r["task"] is not None
    assert len(r["problems"]) == 1 and "no feature columns" in r["problems"][0]
    assert "pass --delimiter" in r["problems"][0]


def test_bad_options(shop):
    assert_one_line_error(run("inspect", shop, "--target", "nope"), "no target column")
    assert_one_line_error(run("inspect", shop, "--head", "-1"), "--head", code=2)
    assert_one_line_error(run("inspect", shop, "--drop", "grade"), "drop names the target")


def test_train_options_are_shared():
    names = {p.name for p in cli.commands["inspect"].params}
    train = {p.name: p for p in cli.commands["train"].params}
    for name in ("delimiter", "encoding", "na_values", "decimal", "thousands",
                 "max_categories", "keep_id", "target", "drop", "task", "impute"):
        assert name in names
        mine = next(p for p in cli.commands["inspect"].params if p.name == name)
        assert (mine.opts, mine.help, mine.default) == \
            (train[name].opts, train[name].help, train[name].default)
