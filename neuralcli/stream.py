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

Training over MPI, each process parses only its byte range of the file (Shards), keeps its
chunks, and learns from the others what the first pass gives one process reading the
whole file: the kinds, the rows' places, the categories and the target column.
"""
import contextlib

import numpy as np

from neuralcli.network import Encoded
from neuralcli.spill import SpillArrays, SpilledRows
from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn

__all__ = ["chunks", "Passes", "target_table", "Rows", "encoded_bytes", "Shards"]

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


class Shards:
    """A plain CSV file read by the processes of `comm` (a distributed.Comm), each only
    the records of its own byte range (neuralcli.shard), its chunks kept in memory; then
    what one process reading the whole file would know, made the same in every process:

    - the kinds, by the whole-file rule on the processes' counts added up (a process
      whose range changes a column's kind reads its range again);
    - the rows' places: each chunk's first_row, and its first bad cells' rows, are the
      file's (`first_row` is this process's first row, `n_rows` the file's);
    - the categories of each text column: every process's, in file order (so the file's
      order of first appearance), and each chunk's codes index that list;
    - `last`, a Table of no rows whose columns carry the file's kinds, categories and
      counts, as the last chunk of a whole read does; `targets`, the whole file's target
      column as stream.target_table gives it.

    Passes.again gives the kept chunks (`runs`). A problem in any process's range (a
    row with too many fields, say) is every process's (distributed.agreed)."""

    def __init__(self, scan, comm, target, passes=None):
        from neuralcli import shard
        from neuralcli.distributed import agreed

        self.scan, self.comm = scan, comm
        path = scan.src.path
        size = shard.os.path.getsize(path)
        cuts = comm.allgather(agreed(comm, lambda: shard.cut(path, comm.rank, comm.size,
                                                             scan.delimiter)))
        self.start, self.end = shard.ranges(cuts, size)[comm.rank]
        # the line ends of each range place the next ones' lines (the last's, none)
        last = comm.rank == comm.size - 1
        ends = comm.allgather(0 if last else shard.line_ends(path, self.start, self.end))
        scan.restrict(self.start, self.end, 1 + sum(ends[:comm.rank]))
        self.runs = Passes(scan, None, passes)
        while True:
            chunks = agreed(comm, lambda: list(self.runs.first("pass 1 of 3")))
            counts = comm.allgather((sum(c.n_rows for c in chunks), scan.stats))
            offsets = np.cumsum([0] + [n for n, _ in counts])
            scan.stats = _merged_stats([st for _, st in counts], offsets, len(scan.names))
            if not scan.retype():
                break
        self.first_row, self.n_rows = int(offsets[comm.rank]), int(offsets[-1])
        scan.n_rows = self.n_rows
        scan.check_rows(self.n_rows)
        for chunk in chunks:
            _move_rows(chunk, self.first_row)
        categories = self._categories(chunks)
        self.last = _empty_columns(scan, categories)
        scan.last_notes = scan.notes(self.last.data, scan.stats)
        self.targets = self._targets(chunks, target)

    def _categories(self, chunks):
        """Each text column's categories in file order, every chunk's codes made to index
        them: {column: list}."""
        scan = self.scan
        text = [j for j, k in enumerate(scan.kinds) if k == "text"]
        mine = {j: list(chunks[-1].data[j].categories) if chunks else [] for j in text}
        merged = {}
        for j in text:
            merged[j], place = [], {}
            luts = []
            for part in self.comm.allgather(mine[j]):
                lut = np.empty(len(part), dtype=np.int32)
                for i, c in enumerate(part):
                    if c not in place:
                        place[c] = len(merged[j])
                        merged[j].append(c)
                    lut[i] = place[c]
                luts.append(lut)
            lut = luts[self.comm.rank]
            for chunk in chunks:
                col = chunk.data[j]
                codes = col.codes
                have = codes >= 0
                codes[have] = lut[codes[have]]
                col.categories = merged[j]
                col.numbers = scan.stats[j]["numbers"]
                col.first_text = scan.stats[j]["first_text"]
        return merged

    def _targets(self, chunks, target):
        """The whole file's target column, as a one-column Table."""
        scan = self.scan
        j = self.last.resolve(scan.names[-1] if target is None else target,
                              role="target column")
        col = self.last.data[j]
        if chunks:
            lines = np.concatenate([c.lines for c in chunks])
            if col.kind == "text":
                mine = (np.concatenate([c.data[j].codes for c in chunks]),)
            else:
                mine = (np.concatenate([c.data[j].values for c in chunks]),
                        np.concatenate([c.data[j].missing for c in chunks]))
        else:
            lines = np.zeros(0, dtype=np.int64)
            mine = ((np.zeros(0, dtype=np.int32),) if col.kind == "text" else
                    (np.zeros(0), np.zeros(0, dtype=bool)))
        parts = self.comm.allgather((lines, mine))
        lines = np.concatenate([p[0] for p in parts])
        arrays = [np.concatenate([p[1][i] for p in parts]) for i in range(len(mine))]
        if col.kind == "text":
            whole = TextColumn(arrays[0], col.categories, col.numbers, col.first_text)
        elif col.kind == "number":
            whole = NumberColumn(arrays[0], arrays[1], col.bad, col.first_bad,
                                 col.nonfinite, col.first_nonfinite, col.integral, col.fmt)
        else:
            whole = DateColumn(arrays[0], arrays[1], col.bad, col.first_bad, col.has_time)
        return Table([scan.names[j]], [whole], path=scan.path, lines=lines,
                     has_header=scan.has_header)

    def starts(self, chunks_rows, columns):
        """{column: (the file's position of this process's first present value among the
        rows given, the file's first such value)} for the number and date columns given;
        chunks_rows: (chunk, rows) pairs (see preprocess.Summary)."""
        mine = {j: [0, None] for j in columns if self.last.data[j].kind != "text"}
        for chunk, rows in chunks_rows:
            for j, at in mine.items():
                col = chunk.data[j]
                present = rows[~col.missing[rows]]
                if at[1] is None and len(present):
                    at[1] = float(col.values[present[0]])
                at[0] += len(present)
        every = self.comm.allgather(mine)
        return {j: (sum(part[j][0] for part in every[:self.comm.rank]),
                    next((part[j][1] for part in every if part[j][1] is not None), None))
                for j in mine}


def _merged_stats(parts, offsets, ncols):
    """One column's counts over the whole file from every process's (None for a process
    without rows), in file order; the rows of first cells moved by each process's first
    row."""
    merged = []
    for j in range(ncols):
        st = {"present": 0, "bad": 0, "nonfinite": 0, "numbers": 0, "integral": True,
              "has_time": False, "first_bad": None, "first_nonfinite": None,
              "first_text": None}
        for part, off in zip(parts, offsets):
            if part is None:
                continue
            p = part[j]
            for k in ("present", "bad", "nonfinite", "numbers"):
                st[k] += p[k]
            st["integral"] = st["integral"] and p["integral"]
            st["has_time"] = st["has_time"] or p["has_time"]
            for k in ("first_bad", "first_nonfinite", "first_text"):
                if st[k] is None and p[k] is not None:
                    st[k] = (int(p[k][0]) + int(off), p[k][1])
        merged.append(st)
    return merged


def _move_rows(chunk, offset):
    """A chunk of a process's range, its rows made the file's."""
    if not offset:
        return
    chunk.first_row += offset
    for col in chunk.data:
        for name in ("first_bad", "first_nonfinite", "first_text"):
            first = getattr(col, name, None)
            if first is not None:
                setattr(col, name, (first[0] + offset, first[1]))


def _empty_columns(scan, categories):
    """A Table of no rows whose columns carry the file's kinds, formats, categories and
    counts (scan.stats)."""
    columns = []
    for j, (kind, fmt, st) in enumerate(zip(scan.kinds, scan.formats, scan.stats)):
        if kind == "text":
            columns.append(TextColumn(np.zeros(0, np.int32), categories[j], st["numbers"],
                                      st["first_text"]))
        elif kind == "number":
            plain = fmt is None or fmt.plain
            columns.append(NumberColumn(np.zeros(0), np.zeros(0, bool), st["bad"],
                                        st["first_bad"], st["nonfinite"],
                                        st["first_nonfinite"], st["integral"],
                                        None if plain else fmt.describe(),
                                        None if plain else fmt))
        else:
            columns.append(DateColumn(np.zeros(0), np.zeros(0, bool), st["bad"],
                                      st["first_bad"], st["has_time"]))
    return scan.table(columns, np.zeros(0, dtype=np.int64))
