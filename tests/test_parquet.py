"""Parquet files read in record batches into the same typed columns as CSV."""
import builtins
import datetime as dt

import numpy as np
import pytest

from neuralcli.errors import DataError
from neuralcli.parquet import is_parquet, read_parquet

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def write(tmp_path, table, name="t.parquet", **kw):
    path = str(tmp_path / name)
    pq.write_table(table, path, **kw)
    return path


@pytest.fixture
def mixed(tmp_path):
    t = pa.table({
        "n": [1, 2, None, 4, 5],
        "x": [0.5, float("nan"), float("inf"), 2.0, -0.0],
        "s": ["b", " a", "b", None, ""],
        "d": pa.array(["p", "q", "p", "q", "r"]).dictionary_encode(),
        "day": [dt.date(1970, 1, 2), None, dt.date(2024, 2, 29), dt.date(1969, 12, 31),
                dt.date(2000, 1, 1)],
        "ts": pa.array([dt.datetime(1970, 1, 1, 12), None, None, dt.datetime(1970, 1, 1),
                        dt.datetime(1970, 1, 3, 6)], pa.timestamp("us", tz="UTC")),
        "flag": [True, False, True, None, False],
    })
    return write(tmp_path, t, name="mixed.data", row_group_size=2)


def test_types_map_to_columns(mixed):
    assert is_parquet(mixed)                 # by its magic bytes, whatever the name
    t = read_parquet(mixed)
    assert t.columns == ["n", "x", "s", "d", "day", "ts", "flag"] and t.n_rows == 5
    n, x, s, d, day, ts, flag = t.data
    np.testing.assert_array_equal(n.missing, [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(n.values[~n.missing], [1, 2, 4, 5])
    assert n.integral and n.nonfinite == 0
    # NaN in a float column is missing; inf is kept and reported where it is used
    np.testing.assert_array_equal(x.missing, [0, 1, 0, 0, 0])
    assert x.nonfinite == 1 and x.first_nonfinite[0] == 2 and not x.integral
    assert np.signbit(x.values[4])
    # text is stripped; null and empty are missing; codes in first-appearance order
    assert s.categories == ["b", "a"]
    np.testing.assert_array_equal(s.codes, [0, 1, 0, -1, -1])
    assert s.first_text == (0, "b") and s.numbers == 0
    assert d.categories == ["p", "q", "r"]
    np.testing.assert_array_equal(d.codes, [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(day.values[~day.missing], [1, 19782, -1, 10957])
    assert not day.has_time
    np.testing.assert_array_equal(ts.values[~ts.missing], [0.5, 0.0, 2.25])
    assert ts.has_time
    np.testing.assert_array_equal(flag.values[~flag.missing], [1, 0, 1, 0])


def test_batch_size_does_not_change_the_result(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "7", "8.5"])
    n = 1000
    t = pa.table({"v": rng.normal(size=n),
                  "w": pa.array(words[rng.integers(0, 5, n)].tolist()),
                  "k": rng.integers(-5, 5, n)})
    path = write(tmp_path, t, row_group_size=97)
    whole = read_parquet(path, batch_rows=1 << 20)
    for rows in (1, 7, 64, 333):
        part = read_parquet(path, batch_rows=rows)
        for a, b in zip(whole.data, part.data):
            for field in ("values", "missing", "codes"):
                if hasattr(a, field):
                    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert part.data[1].categories == whole.data[1].categories
    w = whole.data[1]
    assert w.numbers == int(np.isin(w.codes, [w.categories.index("7"),
                                               w.categories.index("8.5")]).sum())


def test_progress_reports_rows(tmp_path):
    path = write(tmp_path, pa.table({"a": list(range(10)), "b": [0.5] * 10}))
    seen = []
    read_parquet(path, batch_rows=4, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_unsupported_type_is_named(tmp_path):
    path = write(tmp_path, pa.table({"a": [1, 2], "tags": [[1, 2], [3]]}))
    with pytest.raises(DataError) as info:
        read_parquet(path)
    assert 'column "tags"' in str(info.value) and "list" in str(info.value)


def test_empty_and_missing_files(tmp_path):
    path = write(tmp_path, pa.table({"a": pa.array([], pa.float64())}))
    with pytest.raises(DataError, match="has no rows"):
        read_parquet(path)
    with pytest.raises(DataError, match="no such file"):
        read_parquet(str(tmp_path / "absent.parquet"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="cannot read the Parquet file"):
        read_parquet(str(bad))


def test_without_pyarrow_one_line_names_the_extra(mixed, monkeypatch):
    real = builtins.__import__

    def no_pyarrow(name, *args, **kw):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(DataError) as info:
        read_parquet(mixed)
    text = str(info.value)
    assert "\n" not in text and 'neuralcli[parquet]' in text
