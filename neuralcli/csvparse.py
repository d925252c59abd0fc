"""Parse a CSV file's records into typed columns, the work done in C (csrc/csvread.c).

The reader decides the delimiter, the header and first guesses of the column kinds;
`parse` reads every record once in large blocks and returns the columns. The kinds are
then checked against the whole file, and the file read once more if any changed:

- a number or date column with more than 10% of its non-missing cells unreadable is text;
- a text column with at least 90% of its non-missing cells numbers is a plain number column;
- a column with no non-missing cell is a text column with no categories.
"""
import io
import os
import stat
from collections import namedtuple

import numpy as np

from neuralcli import _kernels
from neuralcli.errors import DataError, show
from neuralcli.table import DateColumn, NumberColumn, TextColumn

__all__ = ["parse", "parse_chunks", "settle"]

# a piece of a file read in chunks: typed columns, the lines its rows start on, the index
# of its first row in the file, and each column's counts over the file so far
Chunk = namedtuple("Chunk", "columns lines first_row stats")

BLOCK_SIZE = 1 << 24
BAD_PERCENT = 10           # more unreadable cells than this makes a column text
NUMBER_PERCENT = 90        # at least this share of numbers makes a text column numbers


def parse(open_stream, *, path, delimiter, ncols, kinds, formats, na_values,
          skip_records=0, threads=None, block_size=BLOCK_SIZE, progress=None):
    """(columns, lines): one NumberColumn, TextColumn or DateColumn per field and the
    1-based line where each data row starts (int64).

    open_stream() returns a new binary file object of UTF-8 bytes (a BOM is skipped);
    it is called a second time when the whole file changes a column's kind. kinds[j] is
    "number", "text" or "date"; formats[j] a NumberFormat or None for number columns;
    na_values the stripped cells that mean missing; skip_records the leading non-blank
    records that are not data (a header). progress(bytes_done) is called after each block.
    Problems in the file raise DataError at their line."""
    kinds, formats, na_values, threads, block_size = _arguments(
        path, delimiter, ncols, kinds, formats, na_values, threads, block_size)

    def run(kinds_now):
        return _read(open_stream, path, delimiter, ncols, kinds_now, formats, na_values,
                     skip_records, threads, block_size, progress)

    parser = run(kinds)
    stats = [parser.stats(j) for j in range(ncols)]
    settled = [_settle(k, s) for k, s in zip(kinds, stats)]
    if any(new != old and new != "empty" for new, old in zip(settled, kinds)):
        formats = [f if s == old else None for f, s, old in zip(formats, settled, kinds)]
        kinds = [old if s == "empty" else s for s, old in zip(settled, kinds)]
        parser = None           # the first pass's columns go before the second's come
        parser = run(kinds)
        stats = [parser.stats(j) for j in range(ncols)]
    return _columns(parser, kinds, formats, stats, settled)


def parse_chunks(open_stream, *, path, delimiter, ncols, kinds, formats, na_values,
                 skip_records=0, threads=None, block_size=BLOCK_SIZE, chunk_rows=1 << 16,
                 progress=None, first_line=1, header=None):
    """The file in pieces, for files bigger than memory: yields (columns, lines,
    first_row) for consecutive runs of at least chunk_rows rows (the last may be
    shorter), as `parse` does for the whole file, except that the kinds are kept as given
    (no second pass: the caller applies the whole-file rule with `settle` on the counts
    of the last chunk). Text codes index one dictionary that grows from chunk to chunk;
    each chunk's columns carry the counts of the file so far, the rows of their first bad
    cells counted from the file's start (as a chunk's Table.first_row is); `stats` holds
    the same counts as dicts. first_line: the line of the file the stream starts on (a
    range of a file's bytes), for the rows' lines and the problems' lines; header: whether
    the file has a header (for the problems' wording), when the range starts after it."""
    kinds, formats, na_values, threads, block_size = _arguments(
        path, delimiter, ncols, kinds, formats, na_values, threads, block_size)
    parser = _new_parser(ncols, kinds, formats, na_values, delimiter, skip_records,
                         threads)
    # one list of categories per text column, grown as new ones appear, shared by the
    # chunks (a chunk's codes index only the entries before its end)
    shared = {j: [] for j, k in enumerate(kinds) if k == "text"}
    first_row = 0
    for last in _blocks(parser, open_stream, path, delimiter, ncols, skip_records,
                        block_size, progress, lines_before=first_line - 1,
                        header=bool(skip_records if header is None else header)):
        n = parser.rows()
        if n and (n >= chunk_rows or last):
            stats = [parser.stats(j) for j in range(ncols)]
            columns, lines = _columns(parser, kinds, formats, stats, kinds, shared)
            if first_line != 1:
                lines = lines + (first_line - 1)
            parser.flush()
            yield Chunk(columns, lines, first_row, stats)
            first_row += n


def settle(kinds, stats):
    """The kinds the whole-file rule gives columns whose counts (a last chunk's stats)
    cover the whole file; "empty" for a column without values."""
    return [_settle(k, st) for k, st in zip(kinds, stats)]


def _arguments(path, delimiter, ncols, kinds, formats, na_values, threads, block_size):
    """The arguments checked and made plain: (kinds, formats, na_values, threads,
    block_size)."""
    kinds = list(kinds)
    formats = list(formats) if formats is not None else [None] * ncols
    if len(kinds) != ncols or len(formats) != ncols:
        raise ValueError(f"{len(kinds)} kinds and {len(formats)} formats for {ncols} columns")
    bad_kinds = [k for k in kinds if k not in ("number", "text", "date")]
    if bad_kinds:
        raise ValueError(f"unknown column kind {bad_kinds[0]!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or not delimiter.isascii() \
            or delimiter in "\"\r\n":
        raise DataError(f"{show(delimiter)} cannot be a delimiter", path=path,
                        hint="use one ASCII character such as , ; | or tab")
    if threads is None:
        threads = _kernels.get_num_threads()
    return (kinds, formats, [str(v) for v in (na_values or ())], max(1, int(threads)),
            max(1, int(block_size)))


def _settle(kind, st):
    """The kind the whole file gives a column of first-guess `kind`, or "empty"."""
    present = st["present"]
    if present == 0:
        return "empty"
    # in whole numbers: 0.9 * 70 is 63.00000000000001 in floating point
    if kind in ("number", "date") and st["bad"] * 100 > BAD_PERCENT * present:
        return "text"
    if kind == "text" and st["numbers"] * 100 >= NUMBER_PERCENT * present:
        return "number"
    return kind


def _read(open_stream, path, delimiter, ncols, kinds, formats, na_values, skip_records,
          threads, block_size, progress):
    """One pass over the file: the CsvParser holding the columns."""
    parser = _new_parser(ncols, kinds, formats, na_values, delimiter, skip_records, threads)
    for _ in _blocks(parser, open_stream, path, delimiter, ncols, skip_records, block_size,
                     progress, whole=True):
        pass
    return parser


def _new_parser(ncols, kinds, formats, na_values, delimiter, skip_records, threads):
    parser = _kernels.CsvParser(ncols, kinds, delimiter, skip_records, threads)
    for j, (kind, fmt) in enumerate(zip(kinds, formats)):
        if kind == "number" and fmt is not None and not fmt.plain:
            parser.set_format(j, fmt.decimal, fmt.thousands, fmt.currency, bool(fmt.percent))
    for v in na_values:
        parser.add_na(v)
    return parser


def _blocks(parser, open_stream, path, delimiter, ncols, skip_records, block_size,
            progress, whole=False, lines_before=0, header=None):
    """Feed the file to the parser a block at a time; yields after each block whether it
    was the last. whole: the parser keeps every row (no flushes), so its columns are sized
    for the file's. The stream is closed however the reading ends."""
    done = 0
    stream = open_stream()
    try:
        size = _file_size(stream) if whole else None
        if size:
            parser.expect(size)
        readinto = getattr(stream, "readinto", None)
        while True:
            space = parser.space(block_size)
            n = _fill(stream, readinto, space)
            done += n
            eof = n < len(space)
            status = parser.feed(n, eof)
            if status != "ok":
                raise _error(parser.error(), path, delimiter, ncols,
                             skip_records if header is None else header, lines_before)
            if progress is not None:
                progress(done)
            yield eof
            if eof:
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _file_size(stream):
    """The bytes a stream reading a plain file from its start will give, or None (a pipe,
    a decompressed or re-encoded stream): a hint for sizing the columns."""
    if not isinstance(stream, (io.BufferedReader, io.FileIO)):
        return None
    try:
        st = os.fstat(stream.fileno())
        return st.st_size - stream.tell() if stat.S_ISREG(st.st_mode) else None
    except (OSError, ValueError):
        return None


def _fill(stream, readinto, space):
    """Read into `space` until it is full or the stream ends; the bytes read."""
    got, want = 0, len(space)
    while got < want:
        if readinto is not None:
            n = readinto(space[got:])
        else:
            data = stream.read(want - got)
            n = len(data)
            space[got:got + n] = data
        if not n:
            break
        got += n
    return got


def _error(err, path, delimiter, ncols, skip_records, lines_before=0):
    line = err["line"] + lines_before
    if err["status"] == "utf8":
        return DataError(f"byte 0x{err['byte']:02x} is not UTF-8 text", path=path, line=line,
                         hint="save it as UTF-8", fix=("encoding", "latin-1"))
    if err["status"] == "unclosed":
        return DataError("a quote opened in this row is never closed", path=path, line=line,
                         hint="close the quote (\"), or double a quote that is part of a "
                              "value (\"\")")
    fields = err["fields"]
    against = "the header has" if skip_records else "the first row has"
    if err["multiline"]:
        hint = "a quoted field in it spans several lines: check for an unbalanced quote (\")"
    elif fields > ncols:
        hint = f"quote values that contain the delimiter {show(delimiter)}, e.g. " \
               f"\"1{delimiter}5\""
        if fields == ncols + 1 and err["last_empty"]:
            hint += ", or remove the trailing delimiter"
    else:
        hint = "add the missing fields (an empty value still needs its delimiter)"
    return DataError(f"has {fields} fields but {against} {ncols}", path=path, line=line,
                     hint=hint)


def _array(parser, j, what, dtype, n):
    buf = parser.take(j, what)
    if buf is None:
        return np.empty(n, dtype=dtype)
    return np.frombuffer(buf, dtype=dtype)


def _columns(parser, kinds, formats, stats, settled, shared=None):
    n = parser.rows()
    lines = _array(parser, -1, "lines", np.int64, n)
    columns = []
    for j, (kind, fmt, st) in enumerate(zip(kinds, formats, stats)):
        if settled[j] == "empty":
            columns.append(TextColumn(np.full(n, -1, dtype=np.int32), []))
        elif kind == "text":
            if shared is None:
                categories = parser.categories(j)
            else:
                categories = shared[j]
                categories.extend(parser.categories(j, len(categories)))
            columns.append(TextColumn(_array(parser, j, "codes", np.int32, n), categories,
                                      st["numbers"], st["first_text"]))
        elif kind == "number":
            columns.append(NumberColumn(
                _array(parser, j, "values", np.float64, n),
                _array(parser, j, "missing", np.bool_, n), st["bad"], st["first_bad"],
                st["nonfinite"], st["first_nonfinite"], st["integral"],
                None if fmt is None or fmt.plain else fmt.describe(),
                None if fmt is None or fmt.plain else fmt))
        else:
            columns.append(DateColumn(_array(parser, j, "values", np.float64, n),
                                      _array(parser, j, "missing", np.bool_, n), st["bad"],
                                      st["first_bad"], st["has_time"]))
    return columns, lines
