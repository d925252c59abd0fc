"""Parquet files into the same typed columns as CSV, read in record batches with pyarrow
(the optional extra `neuralcli[parquet]`).

Arrow types map to column kinds: integers, floats, decimals and booleans are numbers
(nulls and float NaN are missing, infinities are reported where the column is used),
strings and dictionaries are text, dates and timestamps are dates. A column of any other
type (lists, structs, binary) is refused with its name and type.
"""
import os

import numpy as np

from neuralcli.errors import DataError, show
from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn

__all__ = ["read_parquet", "is_parquet"]

MAGIC = b"PAR1"
BATCH_ROWS = 1 << 16
_NS_PER_DAY = 86_400 * 10**9


def is_parquet(path):
    """True when the file starts with Parquet's magic bytes (or is named *.parquet)."""
    if str(path).lower().endswith((".parquet", ".pq")):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:
        raise DataError("reading Parquet files needs pyarrow",
                        hint='install the extra: pip install "neuralcli[parquet]"') from None
    return pyarrow


class _Numbers:
    """A number column built batch by batch."""

    def __init__(self):
        self.values, self.missing = [], []

    def add(self, pa, arr):
        floats = pa.compute.cast(arr, pa.float64(), safe=False)
        v = floats.to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
        self._store(v, arr.is_null().to_numpy(zero_copy_only=False) | np.isnan(v))

    def _store(self, v, missing):
        v[missing] = np.nan
        self.values.append(v)
        self.missing.append(missing)

    def _joined(self):
        return (np.concatenate(self.values) if self.values else np.empty(0),
                np.concatenate(self.missing) if self.missing else np.empty(0, bool))

    def column(self):
        v, m = self._joined()
        present = v[~m]
        finite = np.isfinite(present)
        nonfinite = int((~finite).sum())
        first = None
        if nonfinite:
            row = int(np.flatnonzero(~m)[np.argmax(~finite)])
            first = (row, repr(float(v[row])))
        whole = present[finite]
        integral = bool(np.all(whole == np.floor(whole)) and np.all(np.abs(whole) < 2**53))
        return NumberColumn(v, m, nonfinite=nonfinite, first_nonfinite=first,
                            integral=integral)


class _Dates(_Numbers):
    """Dates and timestamps as days since 1970-01-01 (a timestamp's zone is UTC)."""

    def __init__(self):
        super().__init__()
        self.has_time = False

    def add(self, pa, arr):
        t = arr.type
        missing = arr.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_date(t):
            days = pa.compute.cast(arr, pa.date32()).cast(pa.int32()).fill_null(0)
            v = days.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            ns = pa.compute.cast(arr, pa.timestamp("ns", tz=t.tz)).cast(pa.int64())
            raw = ns.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            whole, part = np.divmod(raw, _NS_PER_DAY)
            v = whole.astype(np.float64) + part / _NS_PER_DAY
            self.has_time = self.has_time or bool(np.any(part[~missing] != 0))
        self._store(v, missing)

    def column(self):
        v, m = self._joined()
        return DateColumn(v, m, has_time=self.has_time)


class _Text:
    """A text column: each batch dictionary-encoded by Arrow, its dictionary mapped onto
    the column's codes in order of first appearance."""

    def __init__(self):
        self.codes, self.categories, self.index = [], [], {}

    def add(self, pa, arr):
        if not pa.types.is_dictionary(arr.type):
            arr = pa.compute.dictionary_encode(arr)
        local = arr.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        missing = arr.is_null().to_numpy(zero_copy_only=False)
        words = arr.dictionary.to_pylist()
        # a batch's dictionary is in its own first-appearance order; map each entry,
        # visiting entries in the order the batch first uses them
        order = np.unique(np.where(missing, -1, local), return_index=True)
        firsts = sorted((int(pos), int(code)) for code, pos in zip(*order) if code >= 0)
        remap = np.full(len(words) + 1, -1, dtype=np.int32)
        for _, code in firsts:
            word = str(words[code]).strip()
            if word == "":
                continue
            k = self.index.get(word)
            if k is None:
                k = self.index[word] = len(self.categories)
                self.categories.append(word)
            remap[code] = k
        codes = remap[np.where(missing, len(words), local)]
        self.codes.append(codes.astype(np.int32))

    def column(self):
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, np.int32)
        numbers, first = 0, None
        counts = np.bincount(codes[codes >= 0], minlength=len(self.categories))
        firsts = {}
        if len(codes):
            present = np.flatnonzero(codes >= 0)
            uniq, pos = np.unique(codes[present], return_index=True)
            firsts = dict(zip(uniq.tolist(), present[pos].tolist()))
        for k, word in enumerate(self.categories):
            if _is_number(word):
                numbers += int(counts[k])
            elif first is None or firsts[k] < first[0]:
                first = (firsts[k], word)
        return TextColumn(codes, list(self.categories), numbers=numbers, first_text=first)


def _is_number(text):
    if not text.isascii() or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _builder(pa, name, t, path):
    if pa.types.is_dictionary(t):
        t = t.value_type
    if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_boolean(t)):
        return _Numbers()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _Text()
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return _Dates()
    raise DataError(f"has type {t}, which a model cannot take as input", path=path,
                    column=name, hint="write the file without that column, or as CSV")


def read_parquet(path, *, progress=None, batch_rows=BATCH_ROWS):
    """A Parquet file as a Table, read in record batches. progress(rows_done, rows_total)
    is called after each batch when given."""
    pa = _pyarrow()
    shown = os.fspath(path)
    try:
        f = pa.parquet.ParquetFile(shown)
    except FileNotFoundError:
        raise DataError("no such file", path=shown, hint="check the path") from None
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"cannot read the Parquet file ({err})", path=shown) from None
    schema = f.schema_arrow
    names = [str(n) for n in schema.names]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"column name {show(dup)} appears twice", path=shown)
    builders = [_builder(pa, n, schema.field(n).type, shown) for n in names]
    total, done = f.metadata.num_rows, 0
    try:
        for batch in f.iter_batches(batch_size=batch_rows):
            for b, arr in zip(builders, batch.columns):
                b.add(pa, arr)
            done += batch.num_rows
            if progress is not None:
                progress(done, total)
    except pa.ArrowException as err:
        raise DataError(f"cannot read the Parquet file ({err})", path=shown) from None
    if done == 0:
        raise DataError("has no rows", path=shown, hint="a training file needs data rows")
    data = [b.column() for b in builders]
    return Table(names, data, path=shown, has_header=True)
