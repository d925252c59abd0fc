"""Cutting a CSV file into byte ranges at record starts (neuralcli.shard), reading a range
(reader.Scan.restrict), and the statistics of a column's parts merged (preprocess.Summary,
drift.QuantileSample): the pieces a run over several processes reads a file with."""
import csv
import io
import os

import numpy as np
import pytest

from neuralcli import shard
from neuralcli.drift import QuantileSample
from neuralcli.preprocess import Summary
from neuralcli.reader import Scan
from neuralcli.table import NumberColumn, Table

CELLS = ["a", 'b"c', "x\ny", '"q"', " z", "1,2", "", 'p""', "r\n\ns", '"\n"']


def _record_starts(data, delimiter=b","):
    """Every record start of data, by a byte-at-a-time reading of the quoting rules."""
    starts, inside, field_start, i = {0, len(data)}, False, True, 0
    while i < len(data):
        ch = data[i:i + 1]
        if inside:
            if ch == b'"':
                if data[i + 1:i + 2] == b'"':
                    i += 2
                    continue
                inside = False
        elif ch == b'"' and field_start:
            inside = True
        elif ch == b"\n":
            starts.add(i + 1)
            field_start = True
            i += 1
            continue
        elif ch != b" " or not field_start:
            field_start = ch == delimiter
        i += 1
    return starts


def _random_csv(rng, rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [[CELLS[k] for k in rng.integers(0, len(CELLS), 3)] for _ in range(rows)])
    return out.getvalue().encode()


def test_record_start_is_a_record_start_at_or_after_the_cut():
    """At every byte of random files with quoted fields holding line ends, delimiters and
    doubled quotes, the cut is a record start of the file, and the first one when the
    byte before the cut's line end lies outside quoted fields."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        data = _random_csv(rng, int(rng.integers(1, 9)))
        starts = _record_starts(data)
        for at in range(len(data) + 1):
            b = shard.record_start(data, at)
            assert b in starts and b >= at, (data, at, b)
    # a file of plain records: every cut is the first record start after it
    plain = b"".join(b"%d,%d\n" % (i, i * i) for i in range(50))
    starts = _record_starts(plain)
    for at in range(1, len(plain)):
        assert shard.record_start(plain, at) == min(s for s in starts if s >= at)


def test_the_two_readings_of_a_cut():
    # no quote after the cut: reading inside a quoted field would need one to close it,
    # so the record starts at the line end's next byte
    assert shard.record_start(b"a,b\n1,2\n3,4\n", 5) == 8
    # the cut inside a quoted field: the line after its line end is still the field's
    data = b'a,b\n1,"x\ny"\n2,3\n'
    assert shard.record_start(data, 8) == 12
    assert shard.record_start(data, 12) == 12 and shard.record_start(data, 13) == 16


def test_ranges_move_up_to_an_earlier_cut():
    assert shard.ranges([0, 40, 30, 90], 100) == [(0, 40), (40, 40), (40, 90), (90, 100)]


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_ranges_read_every_record_once_with_the_files_lines(tmp_path, n):
    rng = np.random.default_rng(n)
    path = tmp_path / "d.csv"
    body = _random_csv(rng, 300).replace(b"\n\n", b"\n")
    path.write_bytes(b"num,t1,t2,t3\n" + b"".join(
        b"%d," % i + line for i, line in enumerate(_lines(body))))
    with Scan(str(path)) as scan:
        whole = list(scan.chunks())
    want = [np.concatenate([c.data[j].texts() if c.data[j].kind == "text" else
                            [str(v) for v in c.data[j].values] for c in whole])
            for j in range(4)]
    size = os.path.getsize(path)
    cuts = [shard.cut(str(path), r, n) for r in range(n)]
    got, lines, first = [[] for _ in range(4)], [], 1
    for start, end in shard.ranges(cuts, size):
        with Scan(str(path)) as scan:
            scan.restrict(start, end, first)
            for c in scan.chunks():
                for j in range(4):
                    col = c.data[j]
                    got[j] += col.texts() if col.kind == "text" else \
                        [str(v) for v in col.values]
                lines.append(c.lines)
        first += shard.line_ends(str(path), start, end)
    for j in range(4):
        assert got[j] == list(want[j])
    assert np.concatenate(lines).tolist() == np.concatenate([c.lines for c in whole]).tolist()


def _lines(body):
    """The records of body (whole records, each ending in its line end)."""
    starts = sorted(_record_starts(body))
    return [body[a:b] for a, b in zip(starts, starts[1:])]


def test_a_bad_record_in_a_range_names_the_files_line(tmp_path):
    from neuralcli.errors import DataError

    path = tmp_path / "d.csv"
    path.write_text('a,b\n1,"x\ny"\n2,z\n3,w,extra\n4,v\n')
    text = path.read_bytes()
    start = text.index(b"2,z")
    with Scan(str(path)) as scan:
        scan.restrict(start, len(text), text[:start].count(b"\n") + 1)
        with pytest.raises(DataError) as err:
            list(scan.chunks())
    assert err.value.line == 5 and "the header has 2" in str(err.value)


def _table(v):
    return Table(["a"], [NumberColumn(np.nan_to_num(v), np.isnan(v))])


def _fed(parts, **kw):
    s = Summary("number", **kw)
    for p in parts:
        s.add(_table(p), 0, np.arange(len(p)))
    return s


def _cut(rng, v, k):
    c = [0] + sorted(rng.choice(np.arange(1, len(v)), k, replace=False).tolist()) + [len(v)]
    return [v[a:b] for a, b in zip(c, c[1:])]


@pytest.mark.parametrize("block", [64, 1 << 16])
def test_summary_parts_merged_are_the_whole_columns_bit_for_bit(monkeypatch, block):
    """The column cut into chunks, or into parts (a process's each) summarized apart and
    combined in order: the same count, mean, std, min, max and quantile sample, to the
    last bit, as the whole column given at once."""
    monkeypatch.setattr(Summary, "BLOCK", block)
    rng = np.random.default_rng(1)
    x = rng.normal(1e6, 1e3, 3000)
    x[rng.random(3000) < 0.1] = np.nan
    x[:3] = np.nan
    present = x[~np.isnan(x)]
    whole = _fed([x])
    want = (whole.count, whole.mean, whole.std, whole.lo, whole.hi,
            np.concatenate(whole.sample.values).tolist())
    for _ in range(30):
        ranks = _cut(rng, x, int(rng.integers(1, 6)))
        counts = [int(np.count_nonzero(~np.isnan(r))) for r in ranks]
        parts = [_fed(_cut(rng, r, 2) if len(r) > 3 else [r], start=sum(counts[:i]),
                      shift=float(present[0])) for i, r in enumerate(ranks)]
        merged = parts[0]
        for p in parts[1:]:
            merged.combine(p)
        got = (merged.count, merged.mean, merged.std, merged.lo, merged.hi,
               np.concatenate(merged.sample.values).tolist())
        assert got == want
    assert whole.mean == pytest.approx(present.mean(), rel=1e-13)
    assert whole.std == pytest.approx(present.std(), rel=1e-13)


@pytest.mark.parametrize("size", [10, 1000])
def test_quantile_samples_of_parts_extended_are_the_whole_columns(size):
    rng = np.random.default_rng(2)
    x = rng.normal(size=50000)
    whole = QuantileSample(size)
    for i in range(0, len(x), 7000):
        whole.add(x[i:i + 7000])
    cuts = [0, 20000, 20001, 20001, 41000, 50000]
    parts = []
    for a, b in zip(cuts, cuts[1:]):
        q = QuantileSample(size, start=a)
        for i in range(a, b, 3000):
            q.add(x[i:min(b, i + 3000)])
        parts.append(q)
    merged = parts[0]
    for q in parts[1:]:
        merged.extend(q)
    assert (merged.level, merged.kept) == (whole.level, whole.kept)
    assert np.concatenate(merged.values).tolist() == np.concatenate(whole.values).tolist()
