"""Tabular data in: CSV files and built-in sets become a Table of string cells, and a
Preprocessor turns a Table into the float arrays the model layer trains on, keeping
everything it learned (scales, vocabularies, fill values, classes) for the model file.

Only numpy and the standard library. Every problem a user can fix raises DataError, whose
str() is one line naming the file, the row as an editor numbers it (header = line 1), the
column and what to do.

Rules this module follows (the CLI states them to users):

Header detection (csv.Sniffer.has_header guesses too often). A cell "is a number" when
float() parses it (nan/inf count, so they reach the clear NaN/inf error). The first row is
a header when
  (a) one of its cells is text and the cells below it are mostly numbers (the same 90 %
      rule as column typing), e.g. `age,income` over numbers; or
  (b) all of its cells are non-empty text, unique, and none of them appears again further
      down its own column: `color,size` over `red,small` is a header, while `red,small`
      over `blue,large` and `red,big` is data (a column name does not recur as a value).
Otherwise the file has no header and its columns are named col1..colN (also referable by
1-based index). A header whose names are all numbers over numeric data (`2019,2020`)
cannot be told from data and is read as data; empty header names become colJ.

Column typing. A column is numeric when at least 90 % of its non-empty cells are numbers;
its other cells are then errors (the first is reported). Otherwise it is categorical.
NaN and inf are refused wherever a number is used.

Task detection (task="auto"), from the target column:
  - a text column -> classification: binary with 2 classes, multiclass with more;
  - numbers that are all integers, with k distinct values where k == 2, or 3 <= k <= 20
    and there are at least 5 rows per value on average (rows >= 5 k) -> classification;
  - any other numeric target -> regression.
The decision is kept as a sentence in Preprocessor.task_reason.
"""
import csv
import io
import json
import math
import os
from collections import Counter

import numpy as np

__all__ = ["DataError", "Table", "Preprocessor", "read_csv", "load_builtin", "write_csv",
           "IMPUTE_MODES", "TASKS"]

IMPUTE_MODES = ("mean", "median", "most-frequent")
TASKS = ("auto", "binary", "multiclass", "regression")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}

NUMERIC_SHARE = 0.9         # a column is numeric when this share of its cells are numbers
MAX_INT_CLASSES = 20        # integer targets with more distinct values are regression
ROWS_PER_CLASS = 5          # ... and so are those with fewer rows per value on average
_SNIFF_ROWS = 50
_SNIFF_CHARS = 1 << 16
_SHOW_MAX = 40              # longest value quoted in full in a message
_LIST_MAX = 8               # longest list of names/values quoted in full
_MISSING_MARKERS = {"na", "n/a", "nan", "null", "none", "?", "-", "--", "missing", "#n/a"}
_META_FORMAT = 1


# ------------------------------------------------------------------ errors


class DataError(Exception):
    """A data problem the user can fix. str() is one line: where, what, what to do.

    path: the file as the user named it (or None); row: line number in the file, the
    header being line 1; column: the column's name, or its 1-based index in a file
    without a header; hint: what to do about it.
    """

    def __init__(self, message, *, path=None, row=None, column=None, hint=None):
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __str__(self):
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(_column_label(self.column))
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        return " ".join(text.splitlines())


def _column_label(column):
    return f"column {column}" if isinstance(column, int) else f"column {_show(column)}"


def _show(value):
    """A value quoted for a one-line message: escapes visible, long values cut."""
    value = str(value)
    if len(value) > _SHOW_MAX:
        value = value[:_SHOW_MAX - 1] + "…"
    return json.dumps(value, ensure_ascii=False)


def _listing(items, quote=False, limit=_LIST_MAX):
    items = [_show(i) if quote else str(i) for i in items]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return ", ".join(items)


# ------------------------------------------------------------------ cells


def _number(cell):
    """float(cell), or None when the (stripped) cell is not a number. nan/inf parse."""
    if not cell or not cell.isascii() or "_" in cell:   # float() takes 1_000 and ١٢
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _mostly_numbers(cells):
    """True when there are non-empty cells and at least 90 % of them are numbers."""
    filled = [c for c in cells if c]
    if not filled:
        return False
    return sum(_number(c) is not None for c in filled) >= NUMERIC_SHARE * len(filled)


def _moments(v):
    """Mean and population standard deviation, computed on values scaled by their largest
    magnitude: squaring numbers past ~1e154 would overflow to infinity."""
    v = np.asarray(v, dtype=np.float64)
    big = float(np.max(np.abs(v))) if v.size else 0.0
    if big == 0.0:
        return 0.0, 0.0
    u = v / big
    return big * float(np.mean(u)), big * float(np.std(u))


def _number_text(v):
    """How a number reads in a CSV: integers without '.0', floats shortest round-trip."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2 ** 53 else repr(v)
    return str(v)


# ------------------------------------------------------------------ Table


class Table:
    """Raw string cells of a CSV (or built-in set), by column, with where they came from.

    columns: names (col1..colN when there was no header); cells: one list of stripped
    strings per column; path: the file as shown in messages; lines: the line in the file
    where each data row starts; has_header: whether names came from the file.
    Columns are referred to by name, or by 1-based index (int or digit string).
    """

    def __init__(self, columns, cells, *, path="<data>", lines=None, has_header=True):
        self.columns = [str(c) for c in columns]
        self.cells = [list(col) for col in cells]
        if len(self.cells) != len(self.columns):
            raise DataError(f"{len(self.columns)} column names for {len(self.cells)} "
                            f"columns", path=path)
        n = len(self.cells[0]) if self.cells else 0
        if any(len(col) != n for col in self.cells):
            raise DataError("columns of different lengths", path=path)
        self.path = str(path)
        first = 2 if has_header else 1
        self.lines = list(lines) if lines is not None else list(range(first, first + n))
        if len(self.lines) != n:
            raise DataError(f"{len(self.lines)} line numbers for {n} rows", path=path)
        self.has_header = has_header
        self._parsed = {}

    @classmethod
    def from_rows(cls, columns, rows, **kw):
        """A Table from a header and rows of values (numbers are written as text)."""
        rows = [[c if isinstance(c, str) else _number_text(c) for c in r] for r in rows]
        width = len(columns)
        for i, r in enumerate(rows):
            if len(r) != width:
                raise DataError(f"row {i + 1} has {len(r)} values for {width} columns",
                                path=kw.get("path", "<data>"))
        cells = [[r[j].strip() for r in rows] for j in range(width)]
        return cls(columns, cells, **kw)

    def __len__(self):
        return self.n_rows

    def __repr__(self):
        return (f"Table({self.path!r}, {self.n_rows} rows, columns="
                f"{_listing(self.columns, limit=6)})")

    @property
    def n_rows(self):
        return len(self.lines)

    @property
    def n_columns(self):
        return len(self.columns)

    def row(self, i):
        return [col[i] for col in self.cells]

    def take(self, indices):
        """A Table of the given rows (e.g. a train/validation split); lines follow them."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        cells = [[col[i] for i in idx] for col in self.cells]
        return Table(self.columns, cells, path=self.path,
                     lines=[self.lines[i] for i in idx], has_header=self.has_header)

    # ---- naming columns

    def find(self, ref):
        """The 0-based position of a column named `ref`, or at 1-based index `ref`
        (an int, or a digit string that is not itself a column's name); None if none."""
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            return int(ref) - 1 if 1 <= ref <= len(self.columns) else None
        ref = str(ref).strip()
        if ref in self.columns:
            return self.columns.index(ref)
        if ref.isdigit() and ref.isascii():
            return self.find(int(ref))
        return None

    def resolve(self, ref, *, role="column"):
        j = self.find(ref)
        if j is None:
            raise DataError(f"no {role} {_show(ref)}; the columns are "
                            f"{_listing(self.columns, limit=20)}", path=self.path,
                            hint="name a column, or give its 1-based position")
        return j

    def ident(self, j):
        """The column as DataError reports it: its name, or its index without a header."""
        return self.columns[j] if self.has_header else j + 1

    def label(self, j):
        return _column_label(self.ident(j))

    def error(self, message, *, row=None, column=None, hint=None):
        """DataError at data row index `row` and column position `column` of this table."""
        return DataError(message, path=self.path,
                         row=None if row is None else self.lines[row],
                         column=None if column is None else self.ident(column), hint=hint)

    # ---- typing

    def _numbers_of(self, j):
        if j not in self._parsed:
            self._parsed[j] = [_number(c) for c in self.cells[j]]
        return self._parsed[j]

    def kind(self, j):
        """'numeric', 'categorical' or 'empty' (no values at all) for column position j."""
        parsed = self._numbers_of(j)
        filled = [p for c, p in zip(self.cells[j], parsed) if c]
        if not filled:
            return "empty"
        good = sum(p is not None for p in filled)
        return "numeric" if good >= NUMERIC_SHARE * len(filled) else "categorical"

    def numbers(self, j, *, allow_empty=False, hint=None):
        """Column j as float64; empty cells become NaN when allow_empty, else an error.
        Text, NaN and inf are errors naming the first such cell."""
        cells, parsed = self.cells[j], self._numbers_of(j)
        name = self.columns[j]
        for i, (c, p) in enumerate(zip(cells, parsed)):
            if not c:
                if not allow_empty:
                    raise self.error("empty cell", row=i, column=j, hint=hint or (
                        "fill it in, or pass --impute mean|median|most-frequent"))
            elif p is None:
                extra = ""
                if c.lower() in _MISSING_MARKERS:
                    extra = ("; if it marks a missing value, leave the cell empty and "
                             "pass --impute")
                raise self.error(f"{_show(c)} is not a number", row=i, column=j,
                                 hint=(hint or f"fix the value, or pass --drop {name} if "
                                               f"the column is not a feature") + extra)
            elif not math.isfinite(p):
                raise self.error(f"NaN/inf is not allowed ({_show(c)})", row=i, column=j,
                                 hint=hint or "fix the value, or leave the cell empty and "
                                              "pass --impute mean|median|most-frequent")
        return np.array([math.nan if p is None else p for p in parsed], dtype=np.float64)


# ------------------------------------------------------------------ reading CSV


def read_csv(path, *, delimiter=None):
    """Read a CSV file into a Table.

    UTF-8 with or without a byte-order mark; the delimiter (comma, semicolon or tab) is
    sniffed unless given; quoting follows the csv module (delimiters, quotes and newlines
    inside quoted fields); whitespace around values is stripped; blank lines and rows of
    only empty cells are skipped. The header is detected by the rule in this module's
    docstring. Every problem raises DataError.
    """
    shown = os.fspath(path)
    if isinstance(shown, bytes):
        shown = os.fsdecode(shown)
    if os.path.isdir(shown):
        raise DataError("is a directory, not a CSV file", path=shown,
                        hint="give the path of a .csv file")
    try:
        with open(shown, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError("no such file", path=shown, hint="check the path") from None
    except PermissionError:
        raise DataError("cannot read the file: permission denied", path=shown,
                        hint="check the file's permissions") from None
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror or err}",
                        path=shown) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise DataError(f"byte 0x{raw[err.start]:02x} is not UTF-8 text", path=shown,
                        row=line, hint="save the file as UTF-8 (a spreadsheet's "
                                       "\"CSV UTF-8\"), or convert it, e.g. "
                                       "iconv -f latin1 -t utf-8") from None
    if not text.strip():
        raise DataError("is empty", path=shown, hint="a CSV needs a header row and data "
                                                     "rows")
    delim = _sniff(text) if delimiter is None else _check_delimiter(delimiter, shown)
    rows, lines = _parse(text, delim, shown)
    if not rows:
        raise DataError("is empty", path=shown, hint="a CSV needs a header row and data "
                                                     "rows")
    has_header = _has_header(rows)
    width = len(rows[0])
    if has_header:
        names = [c or f"col{j + 1}" for j, c in enumerate(rows[0])]
        seen = {}
        for j, n in enumerate(names):
            if n in seen:
                raise DataError(f"column name {_show(n)} appears twice (columns "
                                f"{seen[n] + 1} and {j + 1})", path=shown, row=lines[0],
                                hint="rename one of them")
            seen[n] = j
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DataError("has a header but no data rows", path=shown,
                            hint="add data rows below the header")
    else:
        names = [f"col{j + 1}" for j in range(width)]
    for r, line in zip(rows, lines):
        if len(r) != width:
            raise _ragged(r, width, has_header, shown, line, delim)
    cells = [[r[j] for r in rows] for j in range(width)]
    return Table(names, cells, path=shown, lines=lines, has_header=has_header)


def _check_delimiter(delimiter, shown):
    named = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t"}
    d = named.get(str(delimiter).lower(), delimiter)
    if not isinstance(d, str) or len(d) != 1 or d in "\"\r\n" or d.isalnum():
        raise DataError(f"{_show(delimiter)} cannot be a delimiter", path=shown,
                        hint="use one character such as , ; or tab")
    return d


def _sniff(text):
    """The delimiter among comma, semicolon and tab that splits the first rows into the
    most consistent number (>= 2) of fields; comma when none does (one column)."""
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    best, best_score = ",", None
    for rank, d in enumerate(DELIMITERS):
        try:
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=d,
                                skipinitialspace=True)
            counts = []
            for row in reader:
                if any(c.strip() for c in row):
                    counts.append(len(row))
                if len(counts) > _SNIFF_ROWS:
                    break
        except csv.Error:
            continue
        if truncated and len(counts) > 1:
            counts.pop()                # the cut may have split the last row
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (hits / len(counts), mode, -rank)
        if best_score is None or score > best_score:
            best, best_score = d, score
    return best


def _parse(text, delim, shown):
    """(rows of stripped cells, the line each row starts on); blank rows skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim,
                        skipinitialspace=True, strict=False)
    rows, lines = [], []
    end = 0
    last = None
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            last = (row, start)
            cells = [c.strip() for c in row]
            if any(cells):
                rows.append(cells)
                lines.append(start)
    except csv.Error as err:
        raise DataError(f"cannot parse the CSV ({err})", path=shown, row=end + 1,
                        hint="check for an unbalanced quote (\") on or before this "
                             "line") from None
    if last and any("\n" in c or "\r" in c for c in last[0]) and \
            _runs_to_end(text, delim, last[1]):
        raise DataError("a quote opened in this row is never closed", path=shown,
                        row=last[1], hint="close the quote (\"), or double a quote that "
                                          "is part of a value (\"\")")
    return rows, lines


def _runs_to_end(text, delim, line):
    """Whether the record starting at `line` has a quoted field the file never closes
    (the lenient reader silently makes the rest of the file that field)."""
    tail = "".join(io.StringIO(text, newline="").readlines()[line - 1:])
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delim,
                            skipinitialspace=True, strict=True):
            pass
    except csv.Error as err:
        return "end of data" in str(err)
    return False


def _has_header(rows):
    first, rest = rows[0], rows[1:]
    # (a) a text cell over a column of numbers
    for j, cell in enumerate(first):
        if cell and _number(cell) is None:
            below = [r[j] for r in rest if j < len(r)]
            if _mostly_numbers(below):
                return True
    # (b) unique non-empty text names that never recur as values in their column
    if not all(c and _number(c) is None for c in first) or len(set(first)) != len(first):
        return False
    for j, cell in enumerate(first):
        if any(j < len(r) and r[j] == cell for r in rest):
            return False
    return True


def _ragged(r, width, has_header, shown, line, delim):
    against = "the header has" if has_header else "the first row has"
    msg = f"has {len(r)} fields but {against} {width}"
    if any("\n" in c or "\r" in c for c in r):
        hint = "a quoted field in it spans several lines: check for an unbalanced quote (\")"
    elif len(r) > width:
        hint = (f"quote values that contain the delimiter {_show(delim)}, e.g. "
                f"\"1{delim}5\"")
        if len(r) == width + 1 and not r[-1]:
            hint += ", or remove the trailing delimiter"
    else:
        hint = "add the missing fields (an empty value still needs its delimiter)"
    return DataError(msg, path=shown, row=line, hint=hint)


# ------------------------------------------------------------------ built-in sets and writing


def load_builtin(name, **kw):
    """A built-in data set (neuralcli.datasets) as a Table, just as if read from its CSV:
    feature columns, then the target, numbers written as their shortest exact text."""
    from neuralcli import datasets
    if name not in datasets.DATASETS:
        raise DataError(f"unknown built-in data set {_show(name)}",
                        hint=f"choose from {', '.join(datasets.DATASETS)}")
    X, y, feature_names, target_name = datasets.load(name, **kw)
    X = np.asarray(X, dtype=np.float64)
    cells = [[repr(v) for v in X[:, j].tolist()] for j in range(X.shape[1])]
    cells.append([_number_text(v) if not isinstance(v, str) else v
                  for v in np.asarray(y).tolist()])
    return Table(list(feature_names) + [target_name], cells, path=f"{name} (built-in)",
                 has_header=True)


def write_csv(path_or_file, columns, rows):
    """Write a header and rows as comma-separated UTF-8 with '\\n' line ends to a path or
    an open text file. Numbers are written as their shortest exact text."""
    def emit(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow([str(c) for c in columns])
        for r in rows:
            w.writerow([c if isinstance(c, str) else _number_text(c) for c in r])

    if hasattr(path_or_file, "write"):
        emit(path_or_file)
        return
    shown = os.fspath(path_or_file)
    if os.path.isdir(shown):
        raise DataError("cannot write a CSV: it is a directory", path=shown,
                        hint="give a file name")
    try:
        with open(shown, "w", encoding="utf-8", newline="") as f:
            emit(f)
    except OSError as err:
        directory = os.path.dirname(os.path.abspath(shown))
        hint = (f"directory {directory} does not exist" if not os.path.isdir(directory)
                else "check the path and its permissions")
        raise DataError(f"cannot write a CSV: {err.strerror or err}", path=shown,
                        hint=hint) from None


# ------------------------------------------------------------------ Preprocessor


class Preprocessor:
    """What turns a Table into model inputs X (float64) and targets y, learned from the
    training table and stored in the model file.

    fit(table, target=None, drop=(), impute=None, task="auto", scale_target=True)
        target: a column name or 1-based index (default: the last column); drop: columns
        left out; impute: None (empty cells are errors), "mean", "median" or
        "most-frequent"; task: "auto", "binary", "multiclass" or "regression".
    transform(table) / prepare_predict(table) -> X
        Columns are matched by name in any order; extra columns are ignored. What a user
        should hear (ignored columns, unseen categories, filled cells) is left in
        `last_notes`, a list of one-line sentences, replaced on every call.
    target_of(table, scaled=True) -> y
        int64 class indices 0..K-1 (sorted label order), or float64 regression values
        (standardized when the target is, unless scaled=False).
    labels(indices) / inverse_target(y): back to labels or target units.
    to_meta() -> (meta, arrays), Preprocessor.from_meta(meta, arrays): model file round trip.

    Numeric features are standardized with the training mean and (population) standard
    deviation, a constant column getting scale 1; categorical features are one-hot with
    the sorted training vocabulary and named "column=value"; a category unseen in
    training encodes as all zeros for that column.
    """

    def __init__(self):
        self.fitted = False
        self.last_notes = []
        self.fit_notes = []

    # ---- fitting

    def fit(self, table, *, target=None, drop=(), impute=None, task="auto",
            scale_target=True):
        if impute is not None:
            impute = str(impute).replace("_", "-")
            if impute not in IMPUTE_MODES:
                raise DataError(f"unknown impute mode {_show(impute)}",
                                hint=f"use one of {', '.join(IMPUTE_MODES)}")
        if task not in TASKS:
            raise DataError(f"unknown task {_show(task)}", hint=f"use one of "
                                                                f"{', '.join(TASKS)}")
        t = table.n_columns - 1 if target is None else table.resolve(target,
                                                                     role="target column")
        if isinstance(drop, (str, int)):
            drop = [drop]
        missing = [d for d in drop if table.find(d) is None]
        if missing:
            raise DataError(f"--drop names {_listing(missing, quote=True)}, which "
                            f"{'is not a column' if len(missing) == 1 else 'are not columns'}",
                            path=table.path, hint=f"the columns are "
                                                  f"{_listing(table.columns, limit=20)}")
        dropped = {table.find(d) for d in drop}
        if t in dropped:
            raise DataError(f"--drop names the target column {_show(table.columns[t])}",
                            path=table.path, hint="choose another target with --target, "
                                                  "or do not drop it")
        features = [j for j in range(table.n_columns) if j != t and j not in dropped]
        if not features:
            hint = "a model needs at least one input column"
            if table.n_columns == 1 and any(d in table.columns[0] for d in ",;\t"):
                hint = ("the whole line was read as one column: the file seems to use "
                        "another delimiter; pass --delimiter or leave it out to sniff it")
            raise DataError(f"no feature columns besides the target "
                            f"{_show(table.columns[t])}", path=table.path, hint=hint)

        self.target = table.columns[t]
        self.impute = impute
        self.dropped = [table.columns[j] for j in sorted(dropped)]
        self.specs = []
        notes = []
        for j in features:
            spec = self._fit_column(table, j, impute, notes)
            self.specs.append(spec)
        self._fit_target(table, t, task, scale_target, notes)
        self.fit_notes = notes
        self.fitted = True
        self._build_layout()
        return self

    def _fit_column(self, table, j, impute, notes):
        name = table.columns[j]
        kind = table.kind(j)
        if kind == "empty":
            raise table.error("the column has no values", column=j,
                              hint=f"pass --drop {name}")
        if kind == "numeric":
            v = table.numbers(j, allow_empty=impute is not None)
            gaps = np.isnan(v)
            fill = None
            if impute is not None:
                present = v[~gaps]
                if impute == "mean":
                    fill = float(np.mean(present))
                elif impute == "median":
                    fill = float(np.median(present))
                else:
                    fill = float(_most_frequent(present.tolist()))
                v = np.where(gaps, fill, v)
            mean, scale = _moments(v)
            if np.ptp(v) == 0 or not scale > 0:
                scale = 1.0
                notes.append(f"column {_show(name)} has the same value "
                             f"({_number_text(v[0])}) in every training row, so it "
                             f"carries no information; it is kept with scale 1 (pass "
                             f"--drop {name} to leave it out)")
            return {"name": name, "kind": "numeric", "mean": mean, "scale": scale,
                    "fill": fill}
        cells = table.cells[j]
        fill = None
        if "" in cells:
            if impute is None:
                i = cells.index("")
                raise table.error("empty cell", row=i, column=j,
                                  hint="fill it in, or pass --impute most-frequent")
            fill = _most_frequent([c for c in cells if c])
        vocab = sorted(set(c for c in cells if c) | ({fill} if fill else set()))
        parsed = table._numbers_of(j)
        texts = [c for c, p in zip(cells, parsed) if c and p is None]
        if len(texts) < 0.5 * sum(1 for c in cells if c):
            # mostly numbers: say why it is read as text, in case that is a mistake
            first = next(r for r, (c, p) in enumerate(zip(cells, parsed)) if c and p is None)
            notes.append(f"column {_show(name)} is read as text (one-hot) because "
                         f"{_count(len(texts), 'cell')} of it are not numbers, such as "
                         f"{_show(texts[0])} at row {table.lines[first]}; to use it as a "
                         f"number, fix those cells or leave them empty and use --impute")
        if len(vocab) > 50 and len(vocab) > 0.5 * table.n_rows:
            notes.append(f"column {_show(name)} has {len(vocab)} distinct values in "
                         f"{table.n_rows} rows, each a one-hot feature; if it is an "
                         f"identifier, pass --drop {name}")
        return {"name": name, "kind": "categorical", "categories": vocab, "fill": fill}

    def _fit_target(self, table, t, task, scale_target, notes):
        name = table.columns[t]
        cells = table.cells[t]
        if "" in cells:
            i = cells.index("")
            raise table.error("the target is empty", row=i, column=t,
                              hint="fill in the value or remove the row (a target is "
                                   "never imputed)")
        kind = table.kind(t)
        tgt = _show(name)
        fix = "fix the value or remove the row"
        self.scale_target = False
        self.target_mean, self.target_std = 0.0, 1.0
        self.classes = None
        self.class_names = None
        if kind == "categorical":
            if task == "regression":
                i = next(i for i, p in enumerate(table._numbers_of(t)) if p is None)
                raise table.error(f"target {tgt} holds text ({_show(cells[i])}), which "
                                  f"regression cannot predict", row=i, column=t,
                                  hint="use --task multiclass or binary, or choose a "
                                       "numeric target")
            labels = sorted(set(cells))
            self.label_kind = "text"
            self.classes = np.array(labels, dtype=str)
            self.class_names = list(labels)
            k = len(labels)
            reason = f"target {tgt} has {k} text classes"
        else:
            y = table.numbers(t, hint=fix)
            uniq = np.unique(y)
            k = len(uniq)
            integral = bool(np.all(np.mod(uniq, 1) == 0) and np.all(np.abs(uniq) < 2 ** 53))
            chosen = task != "auto"
            if not chosen:
                if not integral:
                    task = "regression"
                    reason = f"target {tgt} has non-integer values"
                elif k > MAX_INT_CLASSES:
                    task = "regression"
                    reason = (f"target {tgt} has {k} distinct integer values (more than "
                              f"{MAX_INT_CLASSES})")
                elif k > 2 and table.n_rows < ROWS_PER_CLASS * k:
                    task = "regression"
                    reason = (f"target {tgt} has {k} distinct integer values in "
                              f"{table.n_rows} rows (fewer than {ROWS_PER_CLASS} rows per "
                              f"value)")
                else:
                    reason = (f"target {tgt} has {k} integer values "
                              f"({_listing([_number_text(u) for u in uniq])})")
            else:
                reason = f"target {tgt} has {k} distinct numeric values"
            if task == "regression":
                self.task = "regression"
                self.label_kind = "number"
                self.task_reason = reason + " -> regression" + (
                    " (chosen with --task)" if chosen else "")
                if scale_target:
                    self.scale_target = True
                    self.target_mean, std = _moments(y)
                    if np.ptp(y) == 0 or not std > 0:
                        std = 1.0
                        notes.append(f"target {tgt} has the same value in every "
                                     f"training row")
                    self.target_std = std
                return
            self.label_kind = "integer" if integral else "number"
            self.classes = uniq.astype(np.int64) if integral else uniq
            first_text = {}
            for c, v in zip(cells, y.tolist()):
                first_text.setdefault(v, c)
            self.class_names = [first_text[float(u)] for u in uniq.tolist()]
        if k < 2:
            raise DataError(f"target {tgt} has only one class ({_show(self.class_names[0])}); "
                            f"a classifier needs at least two", path=table.path,
                            column=table.ident(t),
                            hint="check the target column, or choose another with --target")
        chosen = task != "auto"
        if not chosen:
            task = "binary" if k == 2 else "multiclass"
        elif task == "binary" and k != 2:
            raise DataError(f"target {tgt} has {k} classes "
                            f"({_listing(self.class_names, quote=True)}); binary "
                            f"classification needs exactly 2", path=table.path,
                            column=table.ident(t), hint="use --task multiclass")
        self.task = task
        self.task_reason = f"{reason} -> {task} classification" + (
            " (chosen with --task)" if chosen else "")

    def _build_layout(self):
        names = []
        for s in self.specs:
            if s["kind"] == "numeric":
                names.append(s["name"])
            else:
                names.extend(f"{s['name']}={c}" for c in s["categories"])
        self.feature_names = names
        self.input_columns = [s["name"] for s in self.specs]

    @property
    def n_features(self):
        return len(self.feature_names)

    @property
    def n_classes(self):
        return None if self.classes is None else len(self.classes)

    # ---- transforming

    def fit_transform(self, table, **kw):
        return self.fit(table, **kw).transform(table)

    def transform(self, table):
        """X (float64, rows x n_features) for a table with the training columns (by name,
        any order, extra columns ignored); notes for the user in self.last_notes."""
        self._need_fit()
        notes = []
        missing = [c for c in self.input_columns if c not in table.columns]
        if missing:
            hint = f"the file's columns are {_listing(table.columns, limit=20)}"
            if not table.has_header:
                hint = "the file has no header row; add one with the training columns' names"
            raise DataError(f"missing {'column' if len(missing) == 1 else 'columns'} the "
                            f"model was trained on: {_listing(missing, limit=50)}",
                            path=table.path, hint=hint)
        known = set(self.input_columns) | set(self.dropped) | {self.target}
        extra = [c for c in table.columns if c not in known]
        if extra:
            notes.append(f"ignored columns not used in training: {_listing(extra)}")
        n = table.n_rows
        X = np.empty((n, self.n_features), dtype=np.float64)
        at = 0
        for s in self.specs:
            j = table.columns.index(s["name"])
            fill = s["fill"]
            if s["kind"] == "numeric":
                v = table.numbers(j, allow_empty=fill is not None)
                gaps = np.isnan(v)
                if gaps.any():
                    v[gaps] = fill
                    notes.append(f"column {_show(s['name'])}: {_count(gaps.sum(), 'empty cell')} "
                                 f"filled with the training {self.impute} "
                                 f"({_number_text(fill)})")
                X[:, at] = (v - s["mean"]) / s["scale"]
                at += 1
                continue
            cells = table.cells[j]
            if fill is None and "" in cells:
                raise table.error("empty cell", row=cells.index(""), column=j,
                                  hint="fill it in, or train with --impute most-frequent")
            cats = s["categories"]
            index = {c: i for i, c in enumerate(cats)}
            block = np.zeros((n, len(cats)), dtype=np.float64)
            filled = 0
            unseen = Counter()
            unseen_rows = 0
            for r, c in enumerate(cells):
                if not c:
                    c = fill
                    filled += 1
                i = index.get(c)
                if i is None:
                    unseen[c] += 1
                    unseen_rows += 1
                else:
                    block[r, i] = 1.0
            X[:, at:at + len(cats)] = block
            at += len(cats)
            if filled:
                notes.append(f"column {_show(s['name'])}: {_count(filled, 'empty cell')} "
                             f"filled with the training's most frequent value "
                             f"{_show(fill)}")
            if unseen:
                rows = "1 row has a category" if unseen_rows == 1 else \
                    f"{unseen_rows} rows have categories"
                notes.append(f"column {_show(s['name'])}: {rows} not seen in training "
                             f"({_listing(sorted(unseen), quote=True)}); "
                             f"{'it was' if unseen_rows == 1 else 'they were'} encoded as "
                             f"all zeros")
        self.last_notes = notes
        return X

    def prepare_predict(self, table):
        """X for a prediction (or evaluation) file: transform() by another name, for the
        CLI's reading; the target column may be present or absent."""
        return self.transform(table)

    def target_of(self, table, *, scaled=True):
        """The encoded target of a table that has the target column (evaluation):
        class indices (int64), or regression values (standardized if scaled and the
        target was standardized in training)."""
        self._need_fit()
        j = table.find(self.target) if self.target in table.columns else None
        if j is None:
            raise DataError(f"no target column {_show(self.target)}", path=table.path,
                            hint="evaluation needs the true values in a column of that "
                                 "name")
        self.last_notes = []
        cells = table.cells[j]
        if "" in cells:
            raise table.error("the target is empty", row=cells.index(""), column=j,
                              hint="fill in the value or remove the row")
        if self.task == "regression":
            y = table.numbers(j, hint="fix the value or remove the row")
            if scaled and self.scale_target:
                y = (y - self.target_mean) / self.target_std
            return y
        if self.label_kind == "text":
            keys = cells
            lookup = {c: i for i, c in enumerate(self.classes.tolist())}
        else:
            keys = table.numbers(j, hint="fix the value or remove the row").tolist()
            lookup = {float(c): i for i, c in enumerate(self.classes.tolist())}
        out = np.empty(len(keys), dtype=np.int64)
        unknown = {}
        for r, k in enumerate(keys):
            i = lookup.get(k)
            if i is None:
                unknown.setdefault(cells[r], r)
                out[r] = -1
            else:
                out[r] = i
        if unknown:
            first = min(unknown.values())
            raise table.error(f"target {_show(self.target)} has "
                              f"{'a label' if len(unknown) == 1 else 'labels'} not seen in "
                              f"training: {_listing(sorted(unknown), quote=True)}",
                              row=first, column=j,
                              hint=f"the model knows {_listing(self.class_names, quote=True)}")
        return out

    def labels(self, indices):
        """Class labels (the original numbers or strings) for class indices."""
        self._need_fit()
        if self.classes is None:
            raise DataError("a regression model has no class labels")
        return self.classes[np.asarray(indices, dtype=np.int64)]

    def label_names(self, indices):
        """Class labels as the input wrote them, for display."""
        return [self.class_names[i] for i in np.asarray(indices, dtype=np.int64).tolist()]

    def inverse_target(self, y):
        """Regression outputs back in the target's units."""
        self._need_fit()
        y = np.asarray(y, dtype=np.float64)
        if self.task != "regression" or not self.scale_target:
            return y
        return y * self.target_std + self.target_mean

    def _need_fit(self):
        if not self.fitted:
            raise DataError("the preprocessor has not been fitted")

    # ---- model file

    def to_meta(self):
        """(meta, arrays) holding everything from_meta needs: meta is JSON-able, arrays
        (names prefixed "data.") are float64/int64 or 1-D string arrays."""
        self._need_fit()
        numeric = [s for s in self.specs if s["kind"] == "numeric"]
        columns = []
        for s in self.specs:
            c = {"name": s["name"], "kind": s["kind"], "fill": s["fill"]}
            if s["kind"] == "categorical":
                c["categories"] = list(s["categories"])
            columns.append(c)
        meta = {
            "format": _META_FORMAT, "target": self.target, "task": self.task,
            "task_reason": self.task_reason, "impute": self.impute,
            "dropped": list(self.dropped), "columns": columns,
            "label_kind": self.label_kind, "class_names": self.class_names,
            "scale_target": self.scale_target,
        }
        arrays = {
            "data.mean": np.array([s["mean"] for s in numeric], dtype=np.float64),
            "data.scale": np.array([s["scale"] for s in numeric], dtype=np.float64),
            "data.target_scale": np.array([self.target_mean, self.target_std],
                                          dtype=np.float64),
        }
        if self.classes is not None:
            arrays["data.classes"] = (self.classes if self.label_kind == "text" else
                                      self.classes.astype(np.int64 if self.label_kind ==
                                                          "integer" else np.float64))
        return meta, arrays

    @classmethod
    def from_meta(cls, meta, arrays):
        """A fitted Preprocessor from to_meta()'s output, as read back from a model file."""
        try:
            if meta.get("format") != _META_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            self = cls()
            self.target = str(meta["target"])
            self.task = meta["task"]
            if self.task not in TASKS[1:]:
                raise ValueError(f"task {self.task!r}")
            self.task_reason = str(meta["task_reason"])
            self.impute = meta["impute"]
            self.dropped = [str(d) for d in meta["dropped"]]
            self.label_kind = meta["label_kind"]
            self.scale_target = bool(meta["scale_target"])
            mean = np.asarray(arrays["data.mean"], dtype=np.float64)
            scale = np.asarray(arrays["data.scale"], dtype=np.float64)
            ts = np.asarray(arrays["data.target_scale"], dtype=np.float64)
            self.target_mean, self.target_std = float(ts[0]), float(ts[1])
            self.specs = []
            k = 0
            for c in meta["columns"]:
                s = {"name": str(c["name"]), "kind": c["kind"], "fill": c["fill"]}
                if c["kind"] == "numeric":
                    s["mean"], s["scale"] = float(mean[k]), float(scale[k])
                    k += 1
                elif c["kind"] == "categorical":
                    s["categories"] = [str(v) for v in c["categories"]]
                else:
                    raise ValueError(f"column kind {c['kind']!r}")
                self.specs.append(s)
            if k != len(mean) or len(scale) != len(mean):
                raise ValueError("scales do not match the numeric columns")
            if self.task == "regression":
                self.classes = self.class_names = None
            else:
                self.classes = np.asarray(arrays["data.classes"])
                self.class_names = [str(n) for n in meta["class_names"]]
                if len(self.class_names) != len(self.classes):
                    raise ValueError("class names do not match the classes")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise DataError(f"the model file's preprocessing record is damaged ({err})",
                            hint="retrain the model") from None
        self.fitted = True
        self._build_layout()
        return self


def _most_frequent(values):
    """The most frequent value; ties go to the smallest, so the choice is reproducible."""
    counts = Counter(values)
    top = max(counts.values())
    return min(v for v, n in counts.items() if n == top)


def _count(n, noun):
    n = int(n)
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
