"""The typed table: what the reader produces and the preprocessing consumes.

A Table holds one typed column per field of the file, never a Python object per cell:

- NumberColumn: float64 values with a missing mask; cells that are not numbers are kept
  only as a count and the first of them, so they can be reported where the column is used;
- TextColumn: int32 codes into a list of distinct strings (first-appearance order);
- DateColumn: ISO dates and date-times as float64 days since 1970-01-01 (UTC).

Row numbers: `row` arguments are 0-based data-row indices; what a user reads ("row N")
is the 1-based data row (1 = the first row after the header), the same number that
`explain --row N` takes. `lines` keeps the line in the file where each row starts, for
messages about rows whose line differs (blank lines, quoted newlines).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from neuralcli.errors import DataError, column_label, listing, show
from neuralcli.writer import number_text

__all__ = ["NumberFormat", "NumberColumn", "TextColumn", "DateColumn", "Table",
           "date_text"]


def date_text(days, *, time=False):
    """ISO text of a day count since 1970 (with the time of day when it has one, or
    always when `time`)."""
    day = math.floor(days)
    text = str(np.datetime64(int(day), "D"))
    if days != day or time:
        seconds = int(round((days - day) * 86400))
        if seconds >= 86400:
            return date_text(day + 1, time=time)
        text += f"T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text


@dataclass(frozen=True)
class NumberFormat:
    """How a column writes its numbers, when not as Python's float() reads them.

    decimal: "." or ","; thousands: None or the grouping separator ("," "." " " "'");
    currency: None or the symbol allowed before (or after) the number ("$", "€", "£", ...);
    percent: a trailing "%" is allowed (the value is the number as written: 12.5% -> 12.5).
    """
    decimal: str = "."
    thousands: str = None
    currency: str = None
    percent: bool = False

    @property
    def plain(self):
        return self == NumberFormat()

    def describe(self):
        parts = []
        if self.decimal != ".":
            parts.append("decimal comma")
        if self.thousands:
            sep = {" ": "space", "'": "apostrophe"}.get(self.thousands, self.thousands)
            parts.append(f"thousands separator {sep!r}" if len(sep) == 1 else
                         f"thousands separator ({sep})")
        if self.currency:
            parts.append(f"currency {self.currency}")
        if self.percent:
            parts.append("percent")
        return ", ".join(parts) or "plain"


@dataclass
class NumberColumn:
    """values: float64 (n,), NaN where missing or bad; missing: bool (n,), empty cells and
    missing markers; bad: count of cells that are not numbers, first_bad its first
    (row, text); nonfinite: count of nan/inf cells (or overflow such as 1e400),
    first_nonfinite likewise; integral: every present value is a whole number;
    fmt: the number format recognized ("thousands ','", "decimal comma", ...) or None, and
    number_format the NumberFormat itself."""
    values: np.ndarray
    missing: np.ndarray
    bad: int = 0
    first_bad: tuple = None
    nonfinite: int = 0
    first_nonfinite: tuple = None
    integral: bool = False
    fmt: str = None
    number_format: "NumberFormat" = None
    kind = "number"

    def __len__(self):
        return len(self.values)

    def take(self, idx):
        """The column at rows idx. Counts of bad cells keep describing the whole file."""
        return NumberColumn(self.values[idx], self.missing[idx], self.bad, self.first_bad,
                            self.nonfinite, self.first_nonfinite, self.integral, self.fmt,
                            self.number_format)

    def text(self, row):
        """The cell at `row` as text: the number's shortest exact text, "" if missing."""
        return "" if self.missing[row] else number_text(float(self.values[row]))

    def texts(self):
        """Every cell as text(row) gives it."""
        return ["" if gone else number_text(v)
                for v, gone in zip(self.values.tolist(), self.missing.tolist())]


@dataclass
class TextColumn:
    """codes: int32 (n,), -1 where missing, else an index into categories (the distinct
    strings, in order of first appearance); numbers: how many cells parse as numbers;
    first_text: the first (row, text) that does not, for the 'read as text' note."""
    codes: np.ndarray
    categories: list
    numbers: int = 0
    first_text: tuple = None
    kind = "text"

    def __len__(self):
        return len(self.codes)

    @property
    def missing(self):
        return self.codes < 0

    def counts(self):
        """How often each category occurs, aligned with categories."""
        c = self.codes[self.codes >= 0]
        return np.bincount(c, minlength=len(self.categories))

    def take(self, idx):
        return TextColumn(self.codes[idx], self.categories, self.numbers, self.first_text)

    def text(self, row):
        """The cell at `row` as read, "" if missing."""
        code = self.codes[row]
        return "" if code < 0 else self.categories[code]

    def texts(self):
        """Every cell as text(row) gives it."""
        names = list(self.categories) + [""]   # code -1, missing, reads the last
        return [names[c] for c in self.codes.tolist()]


@dataclass
class DateColumn:
    """values: float64 days since 1970-01-01 UTC (fractional with a time of day), NaN
    where missing or bad; missing, bad and first_bad as in NumberColumn; has_time: some
    cell carried a time of day."""
    values: np.ndarray
    missing: np.ndarray
    bad: int = 0
    first_bad: tuple = None
    has_time: bool = False
    kind = "date"

    def __len__(self):
        return len(self.values)

    def take(self, idx):
        return DateColumn(self.values[idx], self.missing[idx], self.bad, self.first_bad,
                          self.has_time)

    def text(self, row):
        """The cell at `row` as ISO text (with the time of day when it has one), "" if
        missing."""
        return "" if self.missing[row] else date_text(float(self.values[row]))

    def texts(self):
        """Every cell as text(row) gives it."""
        return ["" if gone else date_text(v)
                for v, gone in zip(self.values.tolist(), self.missing.tolist())]


@dataclass
class Table:
    """Typed columns with their names and where the rows came from.

    columns: names (col1..colN when the file had no header); data: one column object per
    name; path: the source as shown in messages; lines: int64 (n,), the line in the file
    where each row starts; has_header: whether the names came from the file; notes: what
    the reader wants the user to know (formats recognized, columns re-typed); first_row:
    the 0-based index in the file of this table's first row, for a chunk of a file read in
    pieces (messages name the file's row); delimiter and encoding: how a CSV source was
    read (the delimiter character, the codec name), None for sources without them
    (Parquet, built-in sets).
    Columns are referred to by name, or by 1-based index (int or digit string)."""
    columns: list
    data: list
    path: str = "<data>"
    lines: np.ndarray = None
    has_header: bool = True
    notes: list = field(default_factory=list)
    first_row: int = 0
    delimiter: str = None
    encoding: str = None

    def __post_init__(self):
        self.columns = [str(c) for c in self.columns]
        if len(self.data) != len(self.columns):
            raise DataError(f"{len(self.columns)} column names for {len(self.data)} "
                            f"columns", path=self.path)
        n = len(self.data[0]) if self.data else 0
        if any(len(c) != n for c in self.data):
            raise DataError("columns of different lengths", path=self.path)
        if self.lines is None:
            first = 2 if self.has_header else 1
            self.lines = np.arange(first, first + n, dtype=np.int64)
        self.lines = np.asarray(self.lines, dtype=np.int64)
        if len(self.lines) != n:
            raise DataError(f"{len(self.lines)} line numbers for {n} rows", path=self.path)

    def __len__(self):
        return self.n_rows

    def __repr__(self):
        return (f"Table({self.path!r}, {self.n_rows} rows, columns="
                f"{listing(self.columns, limit=6)})")

    @property
    def n_rows(self):
        return len(self.lines)

    @property
    def n_columns(self):
        return len(self.columns)

    def column(self, ref):
        return self.data[self.resolve(ref)]

    def row_texts(self, positions):
        """Row by row, the cells of the columns at 0-based `positions` as text, for
        writing them out again: text as read, numbers as their shortest exact text, dates
        in ISO form, missing cells empty. One list per row."""
        if not positions:
            return [[] for _ in range(self.n_rows)]
        return [list(cells) for cells in zip(*(self.data[j].texts() for j in positions))]

    def take(self, indices):
        """A Table of the given rows (a split, or one row to trace); lines follow them.
        Row numbers in later messages are those of the new table."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return Table(self.columns, [c.take(idx) for c in self.data], path=self.path,
                     lines=self.lines[idx], has_header=self.has_header,
                     notes=list(self.notes), delimiter=self.delimiter,
                     encoding=self.encoding)

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
            raise DataError(f"no {role} {show(ref)}; the columns are "
                            f"{listing(self.columns, limit=20)}", path=self.path,
                            hint="name a column, or give its 1-based position")
        return j

    def ident(self, j):
        """The column as DataError reports it: its name, or its index without a header."""
        return self.columns[j] if self.has_header else j + 1

    def label(self, j):
        return column_label(self.ident(j))

    def error(self, message, *, row=None, column=None, hint=None, fix=None):
        """DataError at 0-based data row `row` and column position `column`; fix as in
        DataError."""
        line = None
        if row is not None:
            row = self.first_row + int(row)
            line = int(self.lines[row - self.first_row])
            if line == row + 1 + self.has_header:
                line = None       # the line is the obvious one: say only the row
        return DataError(message, path=self.path,
                         row=None if row is None else row + 1, line=line,
                         column=None if column is None else self.ident(column), hint=hint,
                         fix=fix)
