"""Training from a CSV file read in chunks, in passes:

1. a first pass keeps only the target column, to decide the task on the whole file, apply
   the whole-file typing rule and choose the validation rows (by row index, stratified,
   exactly as for a table in memory);
2. a second pass fits the preprocessing on the training rows, chunk by chunk
   (Preprocessor.fit_chunks);
3. a third pass encodes the rows in the model's dtype, into arrays in memory when they fit
   under the memory limit, otherwise into a spill file that training reads a window at a
   time (neuralcli.spill).

The first pass keeps its chunks while they fit under the memory limit, and then the file
is parsed once: the later passes take the kept chunks, the third letting go of each once
encoded, so the typed columns and the encoded rows are hardly ever in memory together.
Past the limit, each pass reads the file again and only a chunk is held at a time.
"""
import contextlib

import numpy as np

from neuralcli.network import Encoded
from neuralcli.spill import SpillArrays, SpilledRows
from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn

__all__ = ["chunks", "Passes", "target_table", "Rows", "encoded_bytes"]

CHUNK_ROWS = 1 << 16


def _empty_table(scan):
    return Table(scan.names, [TextColumn(np.empty(0, np.int32), []) for _ in scan.names],
                 path=scan.path, has_header=scan.has_header)


def chunks(scan, passes=None, label=""):
    """The scan's chunks, its progress reported through passes(label) when given: a
    context manager yielding a progress(bytes_done) callback for this pass."""
    with (passes(label) if passes else contextlib.nullcontext(None)) as update:
        scan.progress = update
        yield from scan.chunks(CHUNK_ROWS)


def table_bytes(table):
    """Memory a table's columns and line numbers take."""
    total = table.lines.nbytes
    for col in table.data:
        for name in ("values", "missing", "codes"):
            a = getattr(col, name, None)
            if isinstance(a, np.ndarray):
                total += a.nbytes
    return total


class Passes:
    """The passes over a file read in chunks. The first pass keeps its chunks while they
    fit in `limit` bytes, so that the later passes read them from memory (the file is then
    parsed once); past the limit they are dropped and each later pass reads the file
    again. again(consume=True) lets go of each kept chunk once it is given out."""

    def __init__(self, scan, limit=None, passes=None):
        self.scan, self.limit, self.passes = scan, limit, passes
        self.kept = None

    def first(self, label):
        kept, size = [], 0
        for chunk in chunks(self.scan, self.passes, label):
            if kept is not None:
                size += table_bytes(chunk)
                if self.limit is not None and size > self.limit:
                    kept = None
                else:
                    kept.append(chunk)
            yield chunk
        self.kept = kept

    def again(self, label, consume=False):
        if self.kept is None:
            yield from chunks(self.scan, self.passes, label)
        elif not consume:
            yield from list(self.kept)
        else:
            while self.kept:
                yield self.kept.pop(0)


def target_table(runs, target):
    """A one-column Table holding the whole file's target column, from a first pass over
    the file (a Passes), with the file's lines; the scan's kinds settled by the whole-file
    rule first (a pass again when they change)."""
    scan = runs.scan
    while True:
        j = _empty_table(scan).resolve(
            scan.names[-1] if target is None else target, role="target column")
        parts, lines = [], []
        last = None
        for chunk in runs.first("pass 1 of 3"):
            parts.append(chunk.data[j])
            lines.append(chunk.lines)
            last = chunk.data[j]
        if not scan.retype():
            break
    st = scan.stats[j]
    if last.kind == "text":
        col = TextColumn(np.concatenate([p.codes for p in parts]), list(last.categories),
                         st["numbers"], st["first_text"])
    else:
        values = np.concatenate([p.values for p in parts])
        missing = np.concatenate([p.missing for p in parts])
        if last.kind == "number":
            col = NumberColumn(values, missing, st["bad"], st["first_bad"], st["nonfinite"],
                               st["first_nonfinite"], st["integral"], last.fmt)
        else:
            col = DateColumn(values, missing, st["bad"], st["first_bad"], st["has_time"])
    return Table([scan.names[j]], [col], path=scan.path, lines=np.concatenate(lines),
                 has_header=scan.has_header)


def encoded_bytes(n_rows, pre, spec, dtype, weighted):
    """Bytes that n_rows encoded rows take: inputs, codes, targets and row weights."""
    item = np.dtype(dtype).itemsize
    per = pre.n_dense * item + 4 * len(pre.blocks)
    per += 4 if spec.loss == "cross_entropy" else spec.n_out * item
    return n_rows * (per + (item if weighted else 0))


class Rows:
    """Where a split's encoded rows go: arrays in memory, or a spill file.

    add(X, y, sw) appends the next chunk's rows (X an Encoded); data() is then what
    Trainer.fit takes: (X, y, sw) for arrays, or a SpilledRows."""

    def __init__(self, n_rows, pre, spec, dtype, weighted, *, spill=False,
                 window_bytes=None, directory=None):
        self.n_rows, self.at = int(n_rows), 0
        self.dtype = np.dtype(dtype)
        n_cat = len(pre.blocks)
        y_shape = () if spec.loss == "cross_entropy" else (spec.n_out,)
        y_dtype = np.int32 if spec.loss == "cross_entropy" else self.dtype
        self.shapes = {"dense": (self.dtype, (pre.n_dense,)), "y": (y_dtype, y_shape)}
        if n_cat:
            self.shapes["codes"] = (np.int32, (n_cat,))
        if weighted:
            self.shapes["sw"] = (self.dtype, ())
        self.spill = SpillArrays(self.shapes, directory=directory) if spill else None
        self._slot = None  # the view dense_slot handed out for the next rows
        self.window_bytes = window_bytes
        if self.spill is None:
            self.arrays = {k: np.empty((self.n_rows,) + shape, dtype=d)
                           for k, (d, shape) in self.shapes.items()}

    def dense_slot(self, n):
        """Where the next n rows' dense inputs go in memory, for the transform to write
        them there directly; None when they are spilled."""
        if self.spill is not None:
            return None
        self._slot = self.arrays["dense"][self.at:self.at + n]
        return self._slot

    def add(self, X, y, sw=None):
        """Append the next rows; dense inputs written into dense_slot are not copied."""
        chunk = {"dense": X.dense, "y": y.reshape((len(y),) + self.shapes["y"][1])}
        if "codes" in self.shapes:
            chunk["codes"] = X.codes
        if "sw" in self.shapes:
            chunk["sw"] = sw
        if self.spill is not None:
            self.spill.append(**chunk)
        else:
            n = len(y)
            for k, a in chunk.items():
                if not (k == "dense" and a is self._slot):
                    self.arrays[k][self.at:self.at + n] = a
        self._slot = None
        self.at += len(y)

    def data(self):
        if self.spill is not None:
            self.spill.flush()
            return SpilledRows(self.spill, window_bytes=self.window_bytes)
        a = self.arrays
        X = Encoded(a["dense"], a.get("codes")) if "codes" in a else a["dense"]
        return X, a["y"], a.get("sw")

    def close(self):
        if self.spill is not None:
            self.spill.close()
