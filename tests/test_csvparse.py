"""neuralcli.csvparse.parse against an oracle built on Python's csv module and float().

The oracle reads the bytes as the old pure-Python reader did (csv.reader with
skipinitialspace=True and strict=False, then str.strip() on every cell) and types the
cells by the parse contract; every test compares the whole result: values bit for bit,
missing masks, codes, categories, counts, first examples, line numbers, or the exact
DataError message.
"""
import csv
import datetime
import io
import math
import random
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuralcli.csvparse import parse
from neuralcli.errors import DataError, show
from neuralcli.table import DateColumn, NumberColumn, NumberFormat, TextColumn

BOM = b"\xef\xbb\xbf"
MARK = "\x00\x01end"
TWO53 = 2.0 ** 53


# ------------------------------------------------------------------ the oracle

def py_number(s):
    """float(s) where the contract calls s a number, else None."""
    if not s or "_" in s or not s.isascii():
        return None
    try:
        return float(s)
    except ValueError:
        return None


def py_formatted(s, fmt):
    q, neg, signed, cur = s, False, False, False
    if q[:1] in ("+", "-") and q:
        neg, signed, q = q[0] == "-", True, q[1:]
    if fmt.currency and q.startswith(fmt.currency):
        q, cur = q[len(fmt.currency):].lstrip(" "), True
        if not signed and q[:1] in ("+", "-") and q:
            neg, q = q[0] == "-", q[1:]
    if fmt.percent and q.endswith("%"):
        q = q[:-1].rstrip(" ")
    if not cur and fmt.currency and q.endswith(fmt.currency):
        q = q[:-len(fmt.currency)].rstrip(" ")
    if not q:
        return None
    if q[0].isascii() and q[0].isalpha():
        v = py_number(q)
        return None if v is None or math.isfinite(v) else (-v if neg else v)
    t = re.escape(fmt.thousands) if fmt.thousands else None
    groups = f"((?:{t}[0-9]{{3}})*)" if t else "()"
    m = re.fullmatch(f"([0-9]*){groups}(?:{re.escape(fmt.decimal)}([0-9]*))?"
                     f"([eE][+-]?[0-9]*)?", q)
    if not m:
        return None
    whole, rest, frac, exp = m.groups()
    if rest and not 1 <= len(whole) <= 3:
        return None
    plain = whole + (rest.replace(fmt.thousands, "") if rest else "") + \
        ("." + frac if frac is not None else "") + (exp or "")
    v = py_number(plain)
    if v is None:
        return None
    return -v if neg else v


DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})"
                     r"(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?")


def py_date(s):
    """(value, has_time) or None."""
    m = DATE_RE.fullmatch(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    try:
        days = datetime.date(int(y), int(mo), int(d)).toordinal() - 719163
    except ValueError:
        return None
    if h is None:
        return float(days), False
    h, mi, sec = int(h), int(mi), int(sec or 0)
    if h > 23 or mi > 59 or sec > 59:
        return None
    off = 0
    if tz and tz != "Z":
        oh, om = int(tz[1:3]), int(tz[-2:])
        if oh > 23 or om > 59:
            return None
        off = (oh * 60 + om) * (-1 if tz[0] == "-" else 1)
    secs = h * 3600 + mi * 60 + sec - off * 60
    return days + (secs + (float(frac) if frac else 0.0)) / 86400.0, True


def records(data, delimiter):
    """[(raw cells, first line)], and whether the last record's quote never closes."""
    text = data.decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text + "\n" + MARK, newline=""), delimiter=delimiter,
                        skipinitialspace=True, strict=False)
    out, end = [], 0
    for row in reader:
        out.append((row, end + 1))
        end = reader.line_num
    unclosed = out[-1][0] != [MARK]
    if not unclosed:
        out.pop()
    return out, unclosed


def bad_utf8(cells):
    return any(re.search("[\udc80-\udcff]", c) for c in cells)


def type_cells(kind, fmt, cells, na):
    """A column summary from its stripped cells, by the contract."""
    n = len(cells)
    present = [c != "" and c not in na for c in cells]
    s = {"present": sum(present)}
    if kind == "text":
        cats, codes, numbers, first = {}, [], 0, None
        for r, (c, p) in enumerate(zip(cells, present)):
            if not p:
                codes.append(-1)
                continue
            codes.append(cats.setdefault(c, len(cats)))
            if py_number(c) is not None:
                numbers += 1
            elif first is None:
                first = (r, c)
        s.update(kind="text", codes=codes, categories=list(cats), numbers=numbers,
                 first_text=first)
        return s
    values, bad, first_bad, nonfin, first_nonfin, integral, has_time = [], 0, None, 0, None, \
        True, False
    for r, (c, p) in enumerate(zip(cells, present)):
        if not p:
            values.append(float("nan"))
            continue
        if kind == "date":
            got = py_date(c)
            v = None if got is None else got[0]
            has_time |= bool(got and got[1])
        elif fmt is None or fmt.plain:
            v = py_number(c)
        else:
            v = py_formatted(c, fmt)
        if v is None:
            bad += 1
            first_bad = first_bad or (r, c)
            values.append(float("nan"))
            continue
        values.append(v)
        if not math.isfinite(v):
            nonfin += 1
            first_nonfin = first_nonfin or (r, c)
        elif not (abs(v) < TWO53 and v == int(v)):
            integral = False
    s.update(kind=kind, values=values, missing=[not p for p in present], bad=bad,
             first_bad=first_bad)
    if kind == "number":
        s.update(nonfinite=nonfin, first_nonfinite=first_nonfin, integral=integral,
                 fmt=None if fmt is None or fmt.plain else fmt.describe())
    else:
        s.update(has_time=has_time)
    return s


def settle(kind, s):
    if s["present"] == 0:
        return "empty"
    if kind in ("number", "date") and 10 * s["bad"] > s["present"]:
        return "text"
    if kind == "text" and 10 * s["numbers"] >= 9 * s["present"]:
        return "number"
    return kind


def oracle(data, *, delimiter=",", ncols, kinds, formats=None, na_values=(),
           skip_records=0, path="t.csv"):
    """(column summaries, lines), or the DataError message the file must raise."""
    if data.startswith(BOM):
        data = data[3:]
    formats = list(formats or [None] * ncols)
    recs, unclosed = records(data, delimiter)
    rows, lines, skip = [], [], skip_records
    for i, (raw, line) in enumerate(recs):
        if bad_utf8(raw):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                err = e
            first = data[:err.start].count(b"\n") + 1
            return str(DataError(f"byte 0x{data[err.start]:02x} is not UTF-8 text",
                                 path=path, line=first, hint="save it as UTF-8",
                                 fix=("encoding", "latin-1")))
        if unclosed and i == len(recs) - 1:
            return str(DataError("a quote opened in this row is never closed", path=path,
                                 line=line, hint="close the quote (\"), or double a quote "
                                                 "that is part of a value (\"\")"))
        cells = [c.strip() for c in raw]
        if not any(cells):
            continue
        if skip:
            skip -= 1
            continue
        if len(cells) != ncols:
            against = "the header has" if skip_records else "the first row has"
            if any("\n" in c or "\r" in c for c in cells):
                hint = ("a quoted field in it spans several lines: check for an "
                        "unbalanced quote (\")")
            elif len(cells) > ncols:
                hint = (f"quote values that contain the delimiter {show(delimiter)}, e.g. "
                        f"\"1{delimiter}5\"")
                if len(cells) == ncols + 1 and not cells[-1]:
                    hint += ", or remove the trailing delimiter"
            else:
                hint = "add the missing fields (an empty value still needs its delimiter)"
            return str(DataError(f"has {len(cells)} fields but {against} {ncols}",
                                 path=path, line=line, hint=hint))
        rows.append(cells)
        lines.append(line)
    cols = [[r[j] for r in rows] for j in range(ncols)]
    summ = [type_cells(k, f, c, set(na_values)) for k, f, c in zip(kinds, formats, cols)]
    settled = [settle(k, s) for k, s in zip(kinds, summ)]
    if any(s not in (k, "empty") for s, k in zip(settled, kinds)):
        formats = [f if s == k else None for f, s, k in zip(formats, settled, kinds)]
        kinds = [k if s == "empty" else s for s, k in zip(settled, kinds)]
        summ = [type_cells(k, f, c, set(na_values)) for k, f, c in zip(kinds, formats, cols)]
    summ = [{"kind": "text", "present": 0, "codes": [-1] * len(rows), "categories": [],
             "numbers": 0, "first_text": None} if st_ == "empty" else s
            for s, st_ in zip(summ, settled)]
    return summ, lines


# ------------------------------------------------------------------ comparing

def bits(values):
    return np.asarray(values, dtype=np.float64).view(np.int64).tolist()


def summary(col):
    if isinstance(col, TextColumn):
        return {"kind": "text", "codes": col.codes.tolist(), "categories": col.categories,
                "numbers": col.numbers, "first_text": col.first_text}
    s = {"kind": col.kind, "values": bits(col.values), "missing": col.missing.tolist(),
         "bad": col.bad, "first_bad": col.first_bad}
    if isinstance(col, NumberColumn):
        s.update(nonfinite=col.nonfinite, first_nonfinite=col.first_nonfinite,
                 integral=col.integral, fmt=col.fmt)
    else:
        assert isinstance(col, DateColumn)
        s.update(has_time=col.has_time)
    return s


def expected_summary(s):
    s = dict(s)
    s.pop("present")
    if "values" in s:
        s["values"] = bits(s["values"])
    return s


def run(data, *, threads=1, block_size=1 << 24, delimiter=",", ncols, kinds, formats=None,
        na_values=(), skip_records=0, calls=None):
    def open_stream():
        if calls is not None:
            calls.append(1)
        return io.BytesIO(data)
    try:
        cols, lines = parse(open_stream, path="t.csv", delimiter=delimiter, ncols=ncols,
                            kinds=kinds, formats=formats or [None] * ncols,
                            na_values=list(na_values), skip_records=skip_records,
                            threads=threads, block_size=block_size)
    except DataError as err:
        return str(err)
    assert lines.dtype == np.int64
    for c in cols:
        assert len(c) == len(lines)
    return [summary(c) for c in cols], lines.tolist()


def check(data, block_sizes=(1 << 24,), threads=(1,), **kw):
    """Parse `data` at every block size and thread count; all must equal the oracle."""
    want = oracle(data, **kw)
    if not isinstance(want, str):
        want = ([expected_summary(s) for s in want[0]], want[1])
    for bs in block_sizes:
        for t in threads:
            got = run(data, threads=t, block_size=bs, **kw)
            if got != want:
                if isinstance(want, str) or isinstance(got, str):
                    assert got == want, f"block {bs}, {t} threads"
                for j, (g, w) in enumerate(zip(got[0], want[0])):
                    for key in w:
                        assert g[key] == w[key], f"column {j} {key}, block {bs}, {t} threads"
                assert got[1] == want[1], f"lines, block {bs}, {t} threads"
    return want


# ------------------------------------------------------------------ syntax

SMALL_BLOCKS = (1, 2, 3, 5, 8, 13, 64, 1 << 24)


def test_quoting_blank_lines_and_lines():
    data = ('a,b,c\n'
            '1, "x,y" ,2020-01-02\n'
            '\n'
            '  ,  ,\n'
            '2,"say ""hi""",2020-01-03\n'
            '3,"two\nlines",2020-01-04\r\n'
            '4,"a"tail, 2020-01-05 \n'
            '5,q"uote,2020-01-06').encode()
    want = check(data, block_sizes=SMALL_BLOCKS, ncols=3, kinds=["number", "text", "date"],
                 skip_records=1)
    summ, lines = want
    assert lines == [2, 5, 6, 8, 9]
    assert summ[1]["categories"] == ["x,y", 'say "hi"', "two\nlines", "atail", 'q"uote']
    assert summ[0]["values"] == bits([1, 2, 3, 4, 5]) and summ[0]["integral"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_every_delimiter_crlf_and_bom(delimiter):
    d = delimiter
    rows = [f"x{d}y{d}z", f"1.5{d}\"a{d}b\"{d}é", f"-2{d} \"\" {d}€ 5", f"{d}{d}", f"3{d}c{d}"]
    data = BOM + "\r\n".join(rows).encode() + b"\r\n"
    summ, lines = check(data, block_sizes=SMALL_BLOCKS, delimiter=d, ncols=3,
                        kinds=["number", "text", "text"], skip_records=1)
    assert lines == [2, 3, 5]
    assert summ[1]["categories"] == [f"a{d}b", "c"] and summ[1]["codes"] == [0, -1, 1]


def test_empty_files_and_header_only():
    for data in (b"", BOM, b"\n\n", b"a,b\n", b" , \r\n\n"):
        summ, lines = check(data, block_sizes=(1, 4, 1 << 20), ncols=2,
                            kinds=["number", "text"], skip_records=1)
        assert lines == [] and [s["kind"] for s in summ] == ["text", "text"]


def test_ragged_rows():
    for data in (b"a,b,c\n1,2\n", b"a,b,c\n1,2,3,\n", b"a,b,c\n1,2,3,4,5\n",
                 b'a,b,c\n\n1,"x\ny",3,4\n', b"a,b,c\n1,2,3\n\n\n4,5\n"):
        msg = check(data, block_sizes=(1, 7, 1 << 20), ncols=3, kinds=["number"] * 3,
                    skip_records=1)
        assert isinstance(msg, str) and "fields but the header has 3" in msg
    msg = run(b"1,2\n3\n", ncols=2, kinds=["number"] * 2)
    assert msg == ("t.csv, line 2: has 1 fields but the first row has 2; add the missing "
                   "fields (an empty value still needs its delimiter)")
    msg = run(b"a,b\n1,2\n3,4,\n", ncols=2, kinds=["number"] * 2, skip_records=1)
    assert msg.startswith("t.csv, line 3: has 3 fields but the header has 2;")
    assert msg.endswith(", or remove the trailing delimiter")


def test_unclosed_quote():
    for data in (b'a,b\n1,"x\n2,3\n', b'a,b\n1,2\n3,"oops', b'"a,b\n1,2\n'):
        msg = check(data, block_sizes=(1, 3, 1 << 20), ncols=2, kinds=["number", "text"],
                    skip_records=1)
        assert "a quote opened in this row is never closed" in msg
    assert run(b'a,b\n1,2\n\n3,"x\ny\n', ncols=2, kinds=["number", "text"],
               skip_records=1).startswith("t.csv, line 4: a quote opened")


def test_invalid_utf8():
    for data in (b"a,b\n1,caf\xe9\n", b"a,b\n1,x\n2,\xe2\x82\n", b"a\xff,b\n1,2\n",
                 b"a,b\n1,\xed\xa0\x80\n", b'a,b\n1,"x\n\xc3"\n', b"a,b\n1,2\n3,\xf4\x90\x80\x80"):
        msg = check(data, block_sizes=(1, 2, 5, 1 << 20), ncols=2, kinds=["number", "text"],
                    skip_records=1)
        assert "is not UTF-8 text" in msg
    assert run(b"a,b\n1,x\n\n2,caf\xe9\n", ncols=2, kinds=["number", "text"],
               skip_records=1) == ("t.csv, line 4: byte 0xe9 is not UTF-8 text; save it as "
                                   "UTF-8, or give the file's encoding "
                                   "(encoding=\"latin-1\" or another)")


def test_multibyte_text_and_unicode_whitespace():
    cells = ["日本", "\u00a0naïve\u3000", "😀x", "\u2003€\u2003", "ü", "日本", " \u200a"]
    data = ("t\n" + "\n".join(cells) + "\n").encode()
    summ, _ = check(data, block_sizes=SMALL_BLOCKS, ncols=1, kinds=["text"], skip_records=1)
    assert summ[0]["categories"] == ["日本", "naïve", "😀x", "€", "ü"]
    assert summ[0]["codes"] == [0, 1, 2, 3, 4, 0]


def test_missing_markers():
    data = b"a,b,c\nNA,NA,2020-01-01\n1,x,NA\n n/a ,NAN,-\n2,NA ,2020-01-02\n"
    summ, _ = check(data, ncols=3, kinds=["number", "text", "date"],
                    na_values=["NA", "n/a", "-"], skip_records=1)
    assert summ[0]["missing"] == [True, False, True, False]
    assert summ[1]["codes"] == [-1, 0, 1, -1]


# ------------------------------------------------------------------ generated files

CELL_POOL = ["0", "1", "-1.5", "2.", ".5", "1e3", "nan", "-inf", "abc", "x y", "", "NA",
             "a,b", 'say "hi"', "two\nlines", "crlf\r\nin", " pad ", "é", "日本", "-0",
             "2021-03-04", "2021-02-29", "2020-02-29T23:59:59.5+01:00", "1,234", "$5",
             "12.5%", "1_0", "\u00a0", "0x10", "1e400", "4.9e-324"]


def render(cell, delimiter, rng):
    need = any(ch in cell for ch in (delimiter, '"', "\n", "\r")) or cell[:1] == " "
    if need or rng.random() < 0.1:
        out = '"' + cell.replace('"', '""') + '"'
    else:
        out = cell
    return " " * rng.randrange(2) + out + (" " if rng.random() < 0.05 else "")


def generate(rng, nrows, ncols, delimiter=",", pool=CELL_POOL):
    out = []
    if rng.random() < 0.3:
        out.append("\ufeff")
    for i in range(nrows):
        if rng.random() < 0.05:
            out.append(rng.choice(["", " ", delimiter * (ncols - 1)]))
        else:
            out.append(delimiter.join(render(rng.choice(pool), delimiter, rng)
                                      for _ in range(ncols)))
        out.append(rng.choice(["\n", "\r\n"]))
    if rng.random() < 0.5 and out:
        out.pop()
    return "".join(out).encode()


@pytest.mark.parametrize("seed", range(12))
def test_generated_files(seed):
    rng = random.Random(seed)
    ncols = rng.randrange(1, 6)
    delimiter = rng.choice([",", ";", "\t", "|"])
    data = generate(rng, rng.randrange(0, 60), ncols, delimiter)
    kinds = [rng.choice(["number", "text", "date"]) for _ in range(ncols)]
    check(data, block_sizes=(1, 3, 16, 1 << 20), threads=(1, 2), delimiter=delimiter,
          ncols=ncols, kinds=kinds, na_values=["NA"])


TOKENS = ["a", "1", "2.5", ",", '"', '""', "\n", "\r\n", " ", "é", "\t", "e", "-", "NA"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS + ["\xff", "\xe2\x82"]), max_size=60),
       st.sampled_from(["number", "text", "date"]), st.integers(1, 9), st.booleans())
def test_fuzzed_bytes(tokens, kind, block, header):
    data = "".join(tokens).encode("utf-8").replace(b"\xc3\xbf", b"\xff") \
        .replace(b"\xc3\xa2\xc2\x82", b"\xe2\x82")
    recs, _ = records(data[3:] if data.startswith(BOM) else data, ",")
    firsts = [r for r, _ in recs if any(c.strip() for c in r)]
    ncols = len(firsts[0]) if firsts else 1
    check(data, block_sizes=(block, 1 << 20), ncols=ncols, kinds=[kind] * ncols,
          na_values=["NA"], skip_records=int(header))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.sampled_from('ab1.5,;"\n é€ \t-'), max_size=6),
                         min_size=2, max_size=2), max_size=12), st.integers(1, 12))
def test_hypothesis_rows(rows, block):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    data = out.getvalue().encode()
    check(data, block_sizes=(block, 1 << 20), ncols=2, kinds=["text", "number"])


def test_many_rows_threads_and_blocks():
    rng = random.Random(7)
    data = generate(rng, 12000, 4, ",", pool=CELL_POOL + ["%.6g" % rng.random()
                                                         for _ in range(40)])
    kinds = ["number", "text", "number", "date"]
    assert len(data) > 300_000
    check(data, block_sizes=(1000, 150_000, 1 << 24), threads=(1, 2), ncols=4, kinds=kinds,
          na_values=["NA"])


def unquoted_file(rng, nrows):
    """Rows of numbers, text and dates with no quote byte anywhere: blank lines, CRLF,
    spaces, multibyte text."""
    pool = [c for c in CELL_POOL if not any(ch in c for ch in ',"\r\n')]
    pool += ["%.6g" % rng.random() for _ in range(40)]
    out = []
    for _ in range(nrows):
        if rng.random() < 0.03:
            out.append(rng.choice(["", " ", ",,"]))
        else:
            out.append(",".join(" " * rng.randrange(2) + rng.choice(pool)
                                for _ in range(3)))
        out.append(rng.choice(["\n", "\r\n"]))
    return "".join(out).encode()


def test_unquoted_blocks_split_at_line_ends():
    # Blocks without a quote byte are split at the line ends near the cut points without
    # the quote-aware walk; with a quote in some blocks only, both ways alternate.
    rng = random.Random(11)
    data = unquoted_file(rng, 15000)
    assert b'"' not in data and len(data) > 200_000
    kinds = ["number", "text", "date"]
    blocks = (1000, 140_000, 150_001, 1 << 24)
    check(data, block_sizes=blocks, threads=(1, 2, 3), ncols=3, kinds=kinds)
    at = data.index(b"\n", len(data) // 2) + 1
    quoted = data[:at] + b'"q,1",x,\n' + data[at:]
    check(quoted, block_sizes=blocks, threads=(1, 2), ncols=3, kinds=kinds)
    # one record longer than the stretch between cut points: cuts fall inside it
    long = data[:at] + b"1," + b"x" * 120_000 + b",\n" + data[at:]
    check(long, block_sizes=(150_000, 1 << 24), threads=(1, 2, 3), ncols=3, kinds=kinds)
    # the first error in file order wins, whichever chunk sees it
    for bad in (b"1,2\n", b"1,\xff,\n"):
        for frac in (0.1, 0.5, 0.97):
            k = data.index(b"\n", int(len(data) * frac)) + 1
            msg = check(data[:k] + bad + data[k:] + b"1,2,3,4\n", block_sizes=(150_000, 1 << 24),
                        threads=(1, 2), ncols=3, kinds=kinds)
            assert "t.csv, line" in msg


def test_utf8_checked_across_windows():
    # Multibyte characters straddle every offset, so some cross each boundary where the
    # check stops and resumes; a bad byte far into a chunk is still found at its line.
    cells = ["é" * (k % 7) + "x" * (k % 5) + "日本😀"[: k % 4] for k in range(5000)]
    data = ("t,n\n" + "".join(f"{c},{k}\n" for k, c in enumerate(cells))).encode()
    assert len(data) > 4 * (1 << 14)
    check(data, block_sizes=(1 << 24, 30_001), threads=(1, 2), ncols=2,
          kinds=["text", "number"], skip_records=1)
    for at in (20_000, 40_000, len(data) - 30):
        k = data.index(b"\n", at) + 1
        for bad in (b"\xc3,1\n", b"\xe6\x97,1\n", b"\xed\xa0\x80,1\n"):
            broken = data[:k] + bad + data[k:]
            msg = check(broken, block_sizes=(1 << 24, 30_001), threads=(1, 2), ncols=2,
                        kinds=["text", "number"], skip_records=1)
            assert "is not UTF-8 text" in msg
            # a ragged row before the bad byte in the same stretch is the error reported
            early = data.index(b"\n", k - 300) + 1
            msg = check(broken[:early] + b"1,2,3\n" + broken[early:],
                        block_sizes=(1 << 24,), threads=(1, 2), ncols=2,
                        kinds=["text", "number"], skip_records=1)
            assert "has 3 fields" in msg


# ------------------------------------------------------------------ numbers

def number_corpus(rng):
    out = ["0", "-0", "+1", ".5", "5.", "-.5e-3", "1e400", "-1e400", "1e-400", "nan", "NaN",
           "-nan", "+inf", "-Infinity", "INF", "iNfInItY", "4.9e-324", "5e-324",
           "2.4703282292062327e-324", "2.4703282292062328e-324", "2.2250738585072011e-308",
           "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623158e308",
           "1.7976931348623159e308", "9007199254740992", "9007199254740993",
           "9007199254740993.0000000001", "9007199254740994.9999", "123456789012345678901234567890",
           "0.1", "0.30000000000000004", "1e22", "1e23", "1.5e37", "9e37", "123456789e30",
           "000000000000000000000000000001.5", "0." + "0" * 340 + "1", "1" + "0" * 330,
           "1e-5", "1E+05", "7.0e0", "1e0000000000000000000001"]
    for _ in range(3000):
        v = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(v):
            out.append(repr(v))
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 30)))
        point = rng.randrange(len(digits) + 1)
        s = digits[:point] + "." + digits[point:] if rng.random() < 0.7 else digits
        if rng.random() < 0.6:
            s += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randrange(0, 330))
        out.append(rng.choice(["", "-", "+"]) + s)
    for _ in range(1000):
        # exactly halfway between two neighbouring doubles, and just above it
        m, e = rng.getrandbits(52) | (1 << 52), rng.randrange(-80, 40)
        half = exact_decimal(2 * m + 1, e - 1)
        out += [half, half + ("1" if "." in half else ".0001")]
    for _ in range(50):
        # halfway between two subnormals
        half = exact_decimal(2 * rng.getrandbits(rng.randrange(1, 52)) + 1, -1075)
        out += [half, half + "1"]
    return out


def exact_decimal(n, e):
    """n * 2**e written out exactly."""
    if e >= 0:
        return str(n << e)
    k = -e
    s = str(n * 5 ** k).rjust(k + 1, "0")
    return s[:-k] + "." + s[-k:]


def test_numbers_bit_for_bit():
    corpus = number_corpus(random.Random(3))
    data = ("v\n" + "\n".join(f"  {c} " for c in corpus) + "\n").encode()
    summ, _ = check(data, block_sizes=(1 << 24, 777), threads=(1, 2), ncols=1,
                    kinds=["number"], skip_records=1)
    want = [float(c) for c in corpus]
    assert summ[0]["values"] == bits(want)
    assert summ[0]["bad"] == 0
    assert summ[0]["nonfinite"] == sum(not math.isfinite(v) for v in want)


def short_decimals(rng, n):
    """Cells as a writer of fixed-point numbers makes them, around the 7-digit edges of the
    word-at-a-time reading: sign, 0-9 digits, an optional point and 0-9 more."""
    out = []
    for _ in range(n):
        whole = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 10)))
        frac = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 10)))
        s = whole + ("." + frac if rng.random() < 0.8 else "")
        if not any(ch.isdigit() for ch in s):
            s = "0" + s
        out.append(rng.choice(["", "", "-", "+"]) + s)
    return out


@pytest.mark.parametrize("quoted", [False, True])
def test_bare_number_cells_bit_for_bit(quoted):
    # Cells with nothing around them take the fast paths (field ends by bit scans when the
    # file has no quote byte, else the quote-aware walk); each must read as float() does,
    # the last cell of a line too, before LF and CRLF, and mark the column whole or not.
    rng = random.Random(5)
    cells = short_decimals(rng, 6000) + number_corpus(rng)[:2000] + ["-0", "0.0", "7."]
    rng.shuffle(cells)
    rows = [cells[k:k + 3] for k in range(0, len(cells) - 2, 3)]
    if quoted:
        rows.insert(len(rows) // 2, ['"1.5"', "2", "3"])
    ends = [rng.choice(["\n", "\r\n"]) for _ in rows]
    data = ("a,b,c\n" + "".join(",".join(r) + e for r, e in zip(rows, ends))).encode()
    assert (b'"' in data) == quoted
    summ, _ = check(data, block_sizes=(1 << 24, 4099), threads=(1, 2), ncols=3,
                    kinds=["number"] * 3, skip_records=1)
    for j in range(3):
        assert summ[j]["values"] == bits([float(r[j].strip('"')) for r in rows])
    whole = ["12", "-0", "0.000", "+3.0", "1234567.0000000", "9007199254740991"]
    for tail, integral in (([], True), (["0.5"], False), (["1.0000001"], False)):
        data = ("v\n" + "\n".join(whole * 50 + tail + whole) + "\n").encode()
        summ, _ = check(data, threads=(1, 2), ncols=1, kinds=["number"], skip_records=1)
        assert summ[0]["integral"] is integral


def test_vector_and_portable_paths_agree():
    # Line counts, field ends, ASCII runs and the tile copy have vector forms chosen at
    # run time; the word-at-a-time forms must give every column and line bit for bit.
    from neuralcli import _kernels

    best = _kernels.get_isa()
    if best == "portable":
        pytest.skip("no vector path on this machine")
    rng = random.Random(13)
    plain = unquoted_file(rng, 3000)
    numbers = ("a,b\n" + "".join(f"{x},{y}\r\n" for x, y in zip(
        short_decimals(rng, 3000), short_decimals(rng, 3000)))).encode()
    texts = ("t,n\n" + "".join(f"\"{k % 7}\",é{k % 5},{k}\n" for k in range(3000))).encode()
    cases = [(plain, 3, ["number", "text", "date"], 0), (numbers, 2, ["number"] * 2, 1),
             (texts, 3, ["text", "text", "number"], 1)]
    for data, ncols, kinds, skip in cases:
        got = {}
        for isa in ("portable", best):
            try:
                _kernels.set_isa(isa)
                got[isa] = [run(data, threads=t, block_size=bs, ncols=ncols, kinds=kinds,
                                skip_records=skip) for t in (1, 2) for bs in (5000, 1 << 24)]
            finally:
                _kernels.set_isa(best)
        assert got["portable"] == got[best]
        assert not isinstance(got[best][0], str)


def test_not_numbers():
    bad = ["1_0", "١", "0x10", "1e", "e5", ".", "+", "--1", "1..2", "1e+", "inf5", "nanx",
           "in f", "1 2", "½", "1e5.5", "+-1", "infinit", "1;5", "٣.٥"]
    good = ["1"] * 200
    data = ("v\n" + "\n".join(bad + good) + "\n").encode()
    summ, _ = check(data, ncols=1, kinds=["number"], skip_records=1)
    assert summ[0]["bad"] == len(bad) and summ[0]["first_bad"] == (0, "1_0")
    assert summ[0]["kind"] == "number"


def test_formats():
    fmts = [NumberFormat(decimal=",", thousands="."), NumberFormat(thousands=","),
            NumberFormat(currency="$", thousands=","), NumberFormat(currency="€", decimal=","),
            NumberFormat(percent=True), NumberFormat(thousands=" ", decimal=",")]
    cells = [["1.234,5", "1,234.5", "$1,234.50", "1.234,5 €", "12.5%", "1 234,5"],
             ["-1.234.567,25", "-1,234,567.25", "-$5", "€-5", "-3%", "12 345 678"],
             ["12,5", "12", "$-5", "-5 €", "100 %", "0,25"],
             ["1234,5", "1234.5", "5 $", "€5", "1e3%", "1234"],
             ["12.34,5", "1,23,4", "$$5", "5€€", "%5", "12 34"],
             ["1.5", "1.5.5", "5$", "€ 5", "5", ",5"],
             ["", "NA", "$", "€", "%", " "]]
    data = ("a;b;c;d;e;f\n" + "\n".join(";".join(r) for r in cells) + "\n").encode()
    summ, _ = check(data, block_sizes=(1, 9, 1 << 20), delimiter=";", ncols=6,
                    kinds=["number"] * 6, formats=fmts, na_values=["NA"], skip_records=1)
    # most columns have more than 10% bad cells and become text; check those that stay
    values = {j: s for j, s in enumerate(summ) if s["kind"] == "number"}
    for j, s in values.items():
        assert s["fmt"] == fmts[j].describe()


def test_formats_stay_numbers():
    fmt = NumberFormat(decimal=",", thousands=".", currency="€", percent=True)
    cells = ["1.234,5 €", "€ 2", "-€3,25", "€-4", "5%", "6,5 %", "1.000.000", "7", "-0,5",
             "8,"] * 3 + ["1.23"]
    data = ("x\n" + "\n".join(cells) + "\n").encode()
    summ, _ = check(data, delimiter=";", ncols=1, kinds=["number"], formats=[fmt],
                    skip_records=1)
    s = summ[0]
    assert s["kind"] == "number" and s["bad"] == 1 and s["first_bad"] == (30, "1.23")
    assert s["values"][:10] == bits([1234.5, 2, -3.25, -4, 5, 6.5, 1e6, 7, -0.5, 8])


# ------------------------------------------------------------------ dates

def test_dates():
    cells = ["2020-02-29", "2019-02-29", "1900-02-29", "2000-02-29", "2023-02-30",
             "2023-04-31", "1970-01-01T00:00", "1970-01-01 12:00:00", "1969-12-31T23:59:59.75Z",
             "2021-06-01T10:00+02:00", "2021-06-01T10:00-0530", "2021-06-01T24:00",
             "2021-13-01", "0001-01-01", "9999-12-31T23:59:59.999999", "2021-6-1",
             "2021-06-01T10:00:00.", "2021-06-01Z", "2021-06-01T10"] + ["2022-01-01"] * 100
    data = ("d\n" + "\n".join(cells) + "\n").encode()
    summ, _ = check(data, block_sizes=(1, 5, 1 << 20), ncols=1, kinds=["date"],
                    skip_records=1)
    s = summ[0]
    assert s["kind"] == "date" and s["has_time"]
    assert s["bad"] == 10 and s["first_bad"] == (1, "2019-02-29")
    assert s["values"][6:8] == bits([0.0, 0.5])


# ------------------------------------------------------------------ the typing rule

def test_typing_rule_and_one_reparse():
    rows = [f"{i},{i if i % 10 else 'x'},{i % 3},t{i % 4},2020-01-0{1 + i % 9}"
            for i in range(100)]
    rows[5] = "bad,5,1,t1,2020-01-01"
    rows[6] = "bad2,6,1,t1,no"
    data = ("a,b,c,d,e\n" + "\n".join(rows) + "\n").encode()
    calls = []
    got = run(data, ncols=5, kinds=["number", "text", "text", "text", "date"],
              skip_records=1, calls=calls)
    assert len(calls) == 2
    kinds = [s["kind"] for s in got[0]]
    # a: 2% bad stays a number; b: 90% numbers becomes one; c: all numbers becomes one;
    # d: text stays; e: 1% bad stays a date
    assert kinds == ["number", "number", "number", "text", "date"]
    assert got[0][1]["bad"] == 10 and got[0][1]["first_bad"] == (0, "x")
    check(data, ncols=5, kinds=["number", "text", "text", "text", "date"], skip_records=1)

    calls = []
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(20))
    run(data, ncols=2, kinds=["number", "number"], skip_records=1, calls=calls)
    assert len(calls) == 1


def test_typing_thresholds_are_exact():
    # 63 numbers of 70 cells is exactly 90%; 7 bad of 70 is exactly 10% (not more)
    data = b"a,b\n" + b"".join(b"%s,%s\n" % (b"%d" % i if i < 63 else b"t",
                                              b"%d" % i if i < 63 else b"x")
                               for i in range(70))
    summ, _ = check(data, ncols=2, kinds=["text", "number"], skip_records=1)
    assert [s["kind"] for s in summ] == ["number", "number"]
    assert summ[1]["bad"] == 7


def test_number_column_with_many_bad_cells_becomes_text():
    data = b"a,b\n" + b"".join(b"%s,1\n" % (b"x" if i % 5 == 0 else b"%d" % i)
                               for i in range(50))
    summ, _ = check(data, ncols=2, kinds=["number", "number"], skip_records=1)
    assert summ[0]["kind"] == "text" and summ[0]["numbers"] == 40
    assert summ[0]["first_text"] == (0, "x")


def test_all_missing_column_is_empty_text():
    data = b"a,b\n1,\n2,NA\n3, \n"
    summ, _ = check(data, ncols=2, kinds=["number", "number"], na_values=["NA"],
                    skip_records=1)
    assert summ[1] == {"kind": "text", "codes": [-1, -1, -1], "categories": [], "numbers": 0,
                       "first_text": None}


def test_progress_and_errors_of_the_call():
    seen = []
    data = b"a\n" + b"1\n" * 1000
    parse(lambda: io.BytesIO(data), path="p", delimiter=",", ncols=1, kinds=["number"],
          formats=[None], na_values=[], skip_records=1, block_size=256,
          progress=seen.append)
    assert seen[-1] == len(data) and seen == sorted(seen) and len(seen) > 5
    with pytest.raises(DataError, match="cannot be a delimiter"):
        parse(lambda: io.BytesIO(b""), path="p", delimiter="§", ncols=1, kinds=["text"],
              formats=[None], na_values=[])


def test_streams_without_readinto_and_gzip():
    import gzip

    data = "a,b\n1,x\n2,\"y\nz\"\n3,é\n".encode()

    class ReadOnly:
        def __init__(self):
            self.f, self.closed = io.BytesIO(data), False

        def read(self, n):
            return self.f.read(min(n, 3))

        def close(self):
            self.closed = True

    streams = []

    def read_only():
        streams.append(ReadOnly())
        return streams[-1]

    packed = gzip.compress(data)
    want = run(data, ncols=2, kinds=["number", "text"], skip_records=1)
    for opener in (read_only, lambda: gzip.GzipFile(fileobj=io.BytesIO(packed))):
        cols, lines = parse(opener, path="t.csv", delimiter=",", ncols=2,
                            kinds=["number", "text"], formats=[None, None], na_values=[],
                            skip_records=1, block_size=5)
        assert ([summary(c) for c in cols], lines.tolist()) == want
    assert want[1] == [2, 3, 5] and streams[0].closed
