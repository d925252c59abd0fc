"""Reading CSV data into a typed Table.

read_table(source, ...) opens the source, sniffs how the file is written from a few samples
of it, and hands the file to the parser (`neuralcli.csvparse.parse`, in C), which types
every cell once into number, text and date columns.

Sources: a path; a gzip file (named *.gz, or starting with the gzip magic bytes), read
streaming; "-" for standard input, spooled to a temporary file (the parser may read the
data twice) that is removed whatever happens. Encodings: UTF-8 with or without a
byte-order mark; a UTF-16 or UTF-32 byte-order mark is honoured; any other encoding is
given by name and transcoded to UTF-8 while the parser reads.

Sniffing, on the first block (64 KiB of whole lines) and, for a plain file on disk, a
block from its middle and one from its end:
  - the delimiter: the one of , ; tab | that splits the first rows into the most
    consistent number (>= 2) of fields (comma when none does);
  - the header. A cell "is a number" when float() parses it; missing markers count as
    empty. The first row is a header when
      (a) one of its cells is text and the cells below it are mostly numbers (the 90 %
          rule of column typing), e.g. `age,income` over numbers; or
      (b) all of its cells are non-empty text, unique, and none of them appears again
          further down its own column: `color,size` over `red,small` is a header, while
          `red,small` over `blue,large` and `red,big` is data.
    Otherwise the columns are named col1..colN;
  - each column's kind: numbers when 90 % of its present sample cells are numbers as
    float() reads them; else numbers in one local format when 90 % of them match it
    (thousands separators, a decimal comma in files delimited by ; or tab, a currency
    symbol, a trailing %); else ISO dates when 90 % are; else text. The parser then
    checks the guess against the whole file (see neuralcli.csvparse).

Missing values: empty cells, and cells equal (after stripping) to one of `na_values`
(DEFAULT_NA unless given). Every problem a user can fix raises one DataError.
"""
import codecs
import csv
import datetime
import functools
import gzip
import io
import os
import re
import shutil
import stat
import sys
import tempfile
import zlib
from collections import Counter
from contextlib import ExitStack

import numpy as np

from neuralcli.errors import ColumnNote, DataError, Note, show
from neuralcli.table import DateColumn, NumberColumn, NumberFormat, Table, TextColumn

__all__ = ["read_table", "load_builtin", "DEFAULT_NA"]

DEFAULT_NA = ("NA", "N/A", "NaN", "null", "None", "?")   # and empty cells, always
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
CURRENCIES = ("$", "€", "£", "¥", "₹")
THOUSANDS = (",", ".", " ", "'")
NUMERIC_SHARE = (9, 10)     # a column is of a kind when 9 in 10 of its cells are
BLOCK_SIZE = 1 << 24        # the parser's read size
SNIFF_BYTES = 1 << 16       # each sample the sniffer reads
SNIFF_MAX = 1 << 24         # the first block grows up to this to hold two whole records
SNIFF_ROWS = 50             # rows the delimiter is judged on
GZIP_MAGIC = b"\x1f\x8b"
# Byte-order marks that name an encoding other than UTF-8; UTF-32 first (it starts like
# UTF-16). The codecs named consume the mark themselves.
BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_EPOCH = datetime.date(1970, 1, 1).toordinal()
_UTF8_HINT = "save it as UTF-8"

# ------------------------------------------------------------------ reading


def read_table(source, *, delimiter=None, encoding=None, na_values=None, decimal=None,
               thousands=None, threads=None, progress=None, block_size=None, kinds=None,
               formats=None):
    """Read a CSV source (a path, a .gz path, or "-" for standard input) into a Table.

    delimiter: one character (or "comma", "semicolon", "tab", "pipe"), sniffed unless
    given; encoding: a Python codec name, UTF-8 (or what a byte-order mark says) unless
    given; na_values: the strings that mean missing besides an empty cell (DEFAULT_NA
    unless given; matched exactly against the stripped cell); decimal ("." or ",") and
    thousands ("," "." " " "'" or "" for none): the number format of every number column
    instead of the detected one; threads, progress(bytes_done) and block_size go to the
    parser; kinds and formats fix named columns' kinds and number formats (see Scan).
    What the reader recognized (formats, dates, columns re-typed by the whole
    file) is left in `table.notes` (each a Note naming its column), the delimiter and
    encoding it read the file with in `table.delimiter` and `table.encoding`.
    """
    with Scan(source, delimiter=delimiter, encoding=encoding, na_values=na_values,
              decimal=decimal, thousands=thousands, threads=threads, progress=progress,
              block_size=block_size, kinds=kinds, formats=formats) as scan:
        return scan.read()


class Scan:
    """A CSV source opened and sniffed once (delimiter, header, kinds, formats), to be
    read whole (read_table) or in chunks, as often as a caller needs: training on a file
    bigger than memory reads it more than once. Use it as a context manager: the source
    (a spooled standard input, say) is released when it closes.

    `kinds` may fix the kind of named columns ({name: "number" | "text" | "date"}), and
    `formats` their NumberFormat ({name: NumberFormat}), as a model does for the columns
    it was trained on."""

    def __init__(self, source, *, delimiter=None, encoding=None, na_values=None,
                 decimal=None, thousands=None, threads=None, progress=None,
                 block_size=None, kinds=None, formats=None):
        self.na = list(DEFAULT_NA if na_values is None else _na_list(na_values))
        self._stack = ExitStack()
        try:
            self.src = src = _open_source(source, encoding, self._stack)
            self.forced = _forced_format(decimal, thousands, src.shown)
            delim = None if delimiter is None else _check_delimiter(delimiter, src.shown)
            head = _read_head(src, delim)
            if not head.records:
                raise DataError("is empty", path=src.shown,
                                hint="a CSV needs a header row and data rows")
            self.delimiter = head.delimiter
            self.has_header, self.names = _header(head, self.na, src.shown)
            self.sniffed, self.formats = _sniff_kinds(src, head, self.has_header, self.na,
                                                      self.forced)
        except BaseException:
            self._stack.close()
            raise
        self.kinds = list(self.sniffed)
        for name, kind in (kinds or {}).items():
            if name in self.names:
                j = self.names.index(name)
                if kind != self.kinds[j]:
                    self.kinds[j] = kind
                    self.formats[j] = None if kind != "number" else self.formats[j]
        for name, fmt in (formats or {}).items():
            if name in self.names and self.kinds[self.names.index(name)] == "number":
                self.formats[self.names.index(name)] = fmt
        self.threads, self.progress = threads, progress
        self.block_size = block_size or BLOCK_SIZE
        self.n_rows = None          # known after a whole pass
        self.stats = None           # each column's counts over the whole file, likewise
        self.span = None            # (start, end, first line): chunks() reads only these

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stack.close()

    @property
    def path(self):
        return self.src.shown

    def parse_args(self):
        return dict(path=self.src.shown, delimiter=self.delimiter, ncols=len(self.names),
                    kinds=self.kinds, formats=self.formats, na_values=self.na,
                    skip_records=int(self.has_header), threads=self.threads,
                    block_size=self.block_size, progress=self.progress)

    def read(self):
        """The whole file as one Table (re-typed by the whole-file rule), with the
        reader's notes."""
        columns, lines = parse(self.src.open, **self.parse_args())
        self.check_rows(len(lines))
        return self.table(columns, lines, notes=self.notes(columns))

    def check_rows(self, n):
        if self.has_header and n == 0:
            raise DataError("has a header but no data rows", path=self.src.shown,
                            hint="add data rows below the header")

    def table(self, columns, lines, *, notes=(), first_row=0):
        return Table(self.names, list(columns), path=self.src.shown, lines=lines,
                     has_header=self.has_header, notes=list(notes),
                     delimiter=self.delimiter, encoding=self.src.codec or "utf-8",
                     first_row=first_row)

    def notes(self, columns, stats=None):
        """What the reader recognized, from columns whose counts cover the whole file
        (a whole file's, or the last chunk's with its `stats`)."""
        notes = []
        for j, col in enumerate(columns):
            if col.kind == "number" and self.formats[j] is not None and col.fmt is None:
                col.fmt = self.formats[j].describe()
                col.number_format = self.formats[j]
            notes += _notes(self.names[j], col, self.sniffed[j], self.formats[j],
                            self.forced, None if stats is None else stats[j]["present"])
        return notes

    def restrict(self, start, end, first_line):
        """Let chunks() read only the records in bytes [start, end) of a plain file, the
        first of them on line `first_line` of the file (see neuralcli.shard): rows and
        counts are then the range's, from 0, and the lines the file's."""
        if not self.src.plain:
            raise ValueError("only a plain file's bytes can be read in ranges")
        self.span = (int(start), int(end), int(first_line))

    def chunks(self, chunk_rows=1 << 16):
        """The file as consecutive Tables of about chunk_rows rows, their first_row set.
        After a whole pass, `n_rows` and `stats` describe the file, and `retype()` applies
        the whole-file typing rule for the next pass. With a span (restrict), the range's
        records alone, and `n_rows` and `stats` are the range's."""
        from neuralcli.csvparse import parse_chunks

        n = 0
        last = None
        args = self.parse_args()
        open_stream = self.src.open
        if self.span is not None:
            start, end, first_line = self.span
            args["skip_records"] = args["skip_records"] if start == 0 else 0
            args["first_line"] = first_line if start else 1
            args["header"] = self.has_header
            if self.progress is not None and end > start:
                # the ranges are read side by side: this one's share done is the file's
                whole, part, report = os.path.getsize(self.src.path), end - start, \
                    self.progress
                args["progress"] = lambda done: report(done * whole // part)
            open_stream = lambda: _Range(self.src.open(), start, end)  # noqa: E731
        for chunk in parse_chunks(open_stream, chunk_rows=chunk_rows, **args):
            n = chunk.first_row + len(chunk.lines)
            self.stats, last = chunk.stats, chunk.columns
            yield self.table(chunk.columns, chunk.lines, first_row=chunk.first_row)
        if self.span is None:
            self.check_rows(n)
        elif last is None:
            self.stats = None
        self.n_rows = n
        self.last_notes = [] if last is None else self.notes(last, self.stats)

    def retype(self):
        """After a whole pass: give columns the kinds the whole file calls for (a number
        column with too many unreadable cells is text, and so on). True when any
        changed, and the next pass must be read again from the start."""
        from neuralcli.csvparse import settle

        changed = False
        for j, kind in enumerate(settle(self.kinds, self.stats)):
            if kind not in ("empty", self.kinds[j]):
                self.kinds[j] = kind
                self.formats[j] = None
                changed = True
        return changed


def _header(head, na, shown):
    """(has_header, column names) from the first block's records."""
    first_line, first = head.records[0]
    if not _has_header([r for _, r in head.records], na):
        return False, [f"col{j + 1}" for j in range(len(first))]
    names = [c or f"col{j + 1}" for j, c in enumerate(first)]
    seen = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(f"column name {show(name)} appears twice (columns "
                            f"{seen[name] + 1} and {j + 1})", path=shown, line=first_line,
                            hint="rename one of them")
        seen[name] = j
    return True, names


def _sniff_kinds(src, head, has_header, na, forced):
    """Each column's first-pass kind and number format, from the rows of the first block
    and of the samples further on."""
    ncols = len(head.records[0][1])
    sample = [r for _, r in head.records[int(has_header):] if len(r) == ncols]
    sample += _far_samples(src, head, head.delimiter, ncols)
    kinds, formats = [], []
    for j in range(ncols):
        cells = [r[j] for r in sample if r[j] and r[j] not in na]
        kind, fmt = _sniff_column(cells, head.delimiter, forced)
        kinds.append(kind)
        formats.append(fmt)
    return kinds, formats


def _notes(name, col, sniffed, fmt, forced, present=None):
    """What a user should hear about a column: a number format or dates recognized, a
    kind the whole file changed. A format given by the caller is not news."""
    notes = []
    if col.kind == "number" and fmt is not None and not fmt.plain and \
            (forced is None or fmt.currency or fmt.percent):
        how = _and(fmt.describe().split(", "))
        notes.append(ColumnNote(f"column {show(name)}: numbers with {how}", name,
                                f"{{n}} columns of numbers with {how}"))
    elif col.kind == "date":
        what = "date-times" if col.has_time else "dates"
        notes.append(ColumnNote(f"column {show(name)}: read as ISO {what}", name,
                                f"{{n}} columns read as ISO {what}"))
    if col.kind != sniffed:
        note = _retyped(name, sniffed, col, present)
        if note:
            notes.append(Note(note, name))
    return notes


def _na_list(na_values):
    if isinstance(na_values, str):
        na_values = [na_values]
    return [str(v).strip() for v in na_values if str(v).strip()]


def _and(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _retyped(name, sniffed, col, present=None):
    """The note for a column whose kind the whole file changed from the sample's guess;
    present: its non-missing cells in the whole file (default: counted in col)."""
    words = {"number": "numbers", "date": "dates", "text": "text"}
    if col.kind == "text":
        if present is None:
            present = int(np.count_nonzero(col.codes >= 0))
        if not present:
            return None                 # no value anywhere: nothing to type
        note = (f"column {show(name)}: read as text: the first rows looked like "
                f"{words[sniffed]}, but more than 10% of its {present} values are not")
        if sniffed == "number" and col.first_text is not None:
            row, text = col.first_text
            note += f" (the first, {show(text)}, is at row {row + 1})"
        return note
    return (f"column {show(name)}: read as {words[col.kind]}: the first rows looked like "
            f"{words[sniffed]}, but the whole file holds mostly {words[col.kind]}")


def _forced_format(decimal, thousands, shown):
    """(decimal, thousands) given by the caller for every number column, or None."""
    if decimal is None and thousands is None:
        return None
    if decimal is not None and decimal not in (".", ","):
        raise DataError(f"{show(decimal)} cannot be a decimal mark", path=shown,
                        hint="use \".\" or \",\"")
    if thousands is not None and thousands not in ("",) + THOUSANDS:
        raise DataError(f"{show(thousands)} cannot be a thousands separator", path=shown,
                        hint="use \",\", \".\", \" \", \"'\" or \"\" for none")
    if decimal is None:
        decimal = "," if thousands == "." else "."
    if thousands == decimal:
        raise DataError(f"the decimal mark and the thousands separator are both "
                        f"{show(decimal)}", path=shown, hint="give two different marks")
    return decimal, thousands


def _check_delimiter(delimiter, shown):
    named = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
    d = named.get(str(delimiter).lower(), delimiter)
    if not isinstance(d, str) or len(d) != 1 or not d.isascii() or d in "\"\r\n" \
            or d.isalnum():
        raise DataError(f"{show(delimiter)} cannot be a delimiter", path=shown,
                        hint="use one ASCII character such as , ; | or tab")
    return d


# ------------------------------------------------------------------ sources


class _Source:
    """Where the data comes from: `open()` gives a new binary stream of UTF-8 bytes (what
    the parser reads), every stream closed when the read ends."""

    def __init__(self, path, shown, gz, codec, stack):
        self.path, self.shown, self.gz, self.codec = path, shown, gz, codec
        self._stack = stack

    @property
    def plain(self):
        """The stream is the file's own bytes: offsets in it are offsets in the file."""
        return not self.gz and self.codec is None

    def open(self):
        f = self._stack.enter_context(_open_file(self.path, self.shown))
        if self.gz:
            f = self._stack.enter_context(gzip.GzipFile(fileobj=f, mode="rb"))
        if not self.plain:
            f = self._stack.enter_context(_Stream(f, self.shown, self.codec, self.gz))
        return f


def _open_source(source, encoding, stack):
    if isinstance(source, str) and source == "-":
        shown = "<stdin>"
        path = _spool_stdin(stack)
    else:
        shown = os.fspath(source)
        if isinstance(shown, bytes):
            shown = os.fsdecode(shown)
        path = shown
        if os.path.isdir(path):
            raise DataError("is a directory, not a CSV file", path=shown,
                            hint="give the path of a .csv file")
        if _is_pipe(path):
            # a named pipe (`<(zcat ...)`, /dev/stdin) can be read only once
            with _open_file(path, shown) as f:
                path = _spool(f, stack)
    with _open_file(path, shown) as f:
        magic = f.read(4)
    gz = magic[:2] == GZIP_MAGIC
    if not gz and magic and shown.lower().endswith(".gz"):
        raise DataError("is not a gzip file", path=shown,
                        hint="give the file's real name, or compress it with gzip")
    codec = _codec(encoding, shown)
    if encoding is None:
        if gz:
            with _open_file(path, shown) as raw, \
                    _Stream(gzip.GzipFile(fileobj=raw, mode="rb"), shown, None, True) as g:
                magic = g.read(4)
        codec = next((name for bom, name in BOMS if magic.startswith(bom)), None)
    return _Source(path, shown, gz, codec, stack)


def _open_file(path, shown):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError("no such file", path=shown, hint="check the path") from None
    except PermissionError:
        raise DataError("cannot read the file: permission denied", path=shown,
                        hint="check the file's permissions") from None
    except IsADirectoryError:
        raise DataError("is a directory, not a CSV file", path=shown,
                        hint="give the path of a .csv file") from None
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror or err}",
                        path=shown) from None


def _codec(encoding, shown):
    """The Python codec to transcode from, or None when the bytes are UTF-8 already."""
    if encoding is None:
        return None
    try:
        info = codecs.lookup(str(encoding))
        text = isinstance(codecs.getincrementaldecoder(info.name)().decode(b""), str)
    except (LookupError, TypeError, ValueError):     # ValueError: a NUL in the name
        text = False
    if not text:
        raise DataError(f"unknown encoding {show(encoding)}", path=shown,
                        hint="give a text encoding such as utf-8, latin-1, cp1252 or "
                             "utf-16")
    return None if info.name in ("utf-8", "utf-8-sig") else info.name


def _spool_stdin(stack):
    """Copy standard input to a temporary file, removed when `stack` closes."""
    stdin = sys.stdin
    if stdin is None:
        raise DataError("there is no standard input to read", path="<stdin>",
                        hint="pipe a CSV file in, or give its path")
    isatty = getattr(stdin, "isatty", None)
    if isatty is not None and isatty():
        raise DataError("standard input is a terminal, not data", path="<stdin>",
                        hint="pipe a CSV file in, or give its path")
    return _spool(getattr(stdin, "buffer", None) or _Encoded(stdin), stack)


def _spool(f, stack):
    """Copy the binary stream `f` to a temporary file, removed when `stack` closes."""
    fd, path = tempfile.mkstemp(prefix="neuralcli-stdin-", suffix=".csv")
    stack.callback(_remove, path)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)
    return path


class _Range(io.RawIOBase):
    """Bytes [start, end) of a binary file object, which it closes."""

    def __init__(self, f, start, end):
        self.f = f
        f.seek(start)
        self.left = end - start

    def readable(self):
        return True

    def readinto(self, b):
        want = min(len(b), self.left)
        if want <= 0:
            return 0
        n = self.f.readinto(memoryview(b)[:want]) or 0
        self.left -= n
        return n

    def close(self):
        if not self.closed:
            self.f.close()
        super().close()


class _Encoded:
    """A text stream read as UTF-8 bytes (standard input replaced by a text object)."""

    def __init__(self, text):
        self._text = text

    def read(self, n=-1):
        return self._text.read(n).encode("utf-8")


def _is_pipe(path):
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False                    # opening it says what is wrong


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _Stream(io.RawIOBase):
    """A binary file object over `inner` that yields UTF-8 bytes: text in another
    encoding is decoded incrementally and re-encoded; a damaged gzip stream and text
    that is not in the encoding become DataError."""

    def __init__(self, inner, shown, codec, gz):
        super().__init__()
        self._inner, self._shown, self._gz = inner, shown, gz
        self._codec = codec
        self._decoder = codecs.getincrementaldecoder(codec)("strict") if codec else None
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._lines = 1                 # the line the decoder is on, for its errors

    def readable(self):
        return True

    def readinto(self, b):
        while self._pos == len(self._buf) and not self._eof:
            self._buf, self._pos = self._fill(max(len(b), 1 << 16)), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def _fill(self, size):
        try:
            chunk = self._inner.read(size)
        except (EOFError, OSError, zlib.error) as err:
            what = ("is a damaged or truncated gzip file" if self._gz
                    else f"cannot read the file: {getattr(err, 'strerror', None) or err}")
            raise DataError(what, path=self._shown,
                            hint="check the file, or decompress it to see how much is "
                                 "left" if self._gz else None) from None
        self._eof = not chunk
        if self._decoder is None:
            return chunk
        try:
            text = self._decoder.decode(chunk, final=self._eof)
        except UnicodeDecodeError as err:
            done = err.object[:err.start].decode(self._codec, "replace")
            raise DataError(f"byte 0x{err.object[err.start]:02x} is not {self._codec} "
                            f"text", path=self._shown, line=self._lines + done.count("\n"),
                            hint="give the file's real encoding") from None
        except UnicodeError as err:
            # the codec's complaint about the stream as a whole, such as UTF-16 without a
            # byte-order mark (it cannot tell the byte order)
            raise DataError(f"is not {self._codec} text ({err})", path=self._shown,
                            line=self._lines, hint="give the file's real encoding") from None
        self._lines += text.count("\n")
        return text.encode("utf-8")

    def close(self):
        if not self.closed:
            self._inner.close()
        super().close()


# ------------------------------------------------------------------ sniffing


class _Head:
    """The first block: its records (line, stripped cells), blank ones left out; the
    delimiter; how many bytes of the stream it covers, and whether that is all of it."""

    def __init__(self, records, delimiter, size, eof):
        self.records, self.delimiter, self.size, self.eof = records, delimiter, size, eof


def _read_head(src, delimiter):
    """At least SNIFF_BYTES of whole lines (more, up to SNIFF_MAX, until two records
    are whole), decoded and split into records."""
    data = b""
    eof = False
    want = SNIFF_BYTES
    with src.open() as f:
        while True:
            while len(data) < want and not eof:
                chunk = f.read(want - len(data))
                eof = not chunk
                data += chunk
            end = len(data) if eof else data.rfind(b"\n") + 1
            if end == 0 and want >= SNIFF_MAX:
                end = len(data) - _utf8_tail(data)      # one line longer than that
            text = _decode_utf8(data[:end], src.shown)
            delim = delimiter or _sniff(text, truncated=not eof)
            records = _records_of(text, delim)
            if not eof and len(records) > 1:
                records.pop()           # a quoted field may run past the block
            if eof or len(records) >= 2 or want >= SNIFF_MAX:
                return _Head(records, delim, end, eof)
            want *= 2


def _decode_utf8(data, shown):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _not_utf8(data, err.start, data[:err.start].count(b"\n") + 1,
                        shown) from None
    return text[1:] if text.startswith("\ufeff") else text


def _not_utf8(data, at, line, shown):
    return DataError(f"byte 0x{data[at]:02x} is not UTF-8 text", path=shown, line=line,
                     hint=_UTF8_HINT, fix=("encoding", "latin-1"))


def _records_of(text, delimiter):
    """(line, stripped cells) of the non-blank records of `text`."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True, strict=False)
    records = []
    end = 0
    with _field_limit():
        for row in reader:
            start, end = end + 1, reader.line_num
            cells = [c.strip() for c in row]
            if any(cells):
                records.append((start, cells))
    return records


def _far_samples(src, head, delimiter, ncols):
    """Rows from the middle and the end of a plain file on disk that the first block
    does not reach: each sample starts at the line after where it seeks to."""
    if head.eof or not src.plain:
        return []
    size = os.path.getsize(src.path)
    rows = []
    done = head.size                    # samples start on a line boundary after this
    with open(src.path, "rb") as f:
        for pos in (size // 2 - SNIFF_BYTES // 2, size - SNIFF_BYTES):
            pos = max(pos, done)
            if pos >= size:
                break
            f.seek(pos)
            chunk = f.read(SNIFF_BYTES)
            start = 0 if pos == done else chunk.find(b"\n") + 1
            end = len(chunk) if pos + len(chunk) >= size else chunk.rfind(b"\n") + 1
            if start == 0 and pos != done or end <= start:
                continue
            done = pos + end
            text = chunk[start:end].decode("utf-8", "replace")
            rows += [r for _, r in _records_of(text, delimiter) if len(r) == ncols]
    return rows


def _sniff(text, truncated):
    """The delimiter among comma, semicolon, tab and pipe that splits the first rows into
    the most consistent number (>= 2) of fields; comma when none does (one column)."""
    best, best_score = ",", None
    for rank, d in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=d,
                            skipinitialspace=True)
        counts = []
        try:
            with _field_limit():
                for row in reader:
                    if any(c.strip() for c in row):
                        counts.append(len(row))
                    if len(counts) > SNIFF_ROWS:
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


def _has_header(rows, na):
    rows = [["" if c in na else c for c in r] for r in rows]
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


def _mostly_numbers(cells):
    """True when there are non-empty cells and at least 90 % of them are numbers."""
    filled = [c for c in cells if c]
    if not filled:
        return False
    return _most(sum(_number(c) is not None for c in filled), len(filled))


def _most(count, total):
    """Whether `count` is at least 90 % of `total` (in integers: no rounding)."""
    return count * NUMERIC_SHARE[1] >= total * NUMERIC_SHARE[0]


def _sniff_column(cells, delimiter, forced):
    """(kind, NumberFormat or None) for a column from its present sample cells."""
    if not cells:
        return "text", None
    n = len(cells)
    if forced is None and _most(sum(_number(c) is not None for c in cells), n):
        return "number", None
    if _most(sum(_NUMBERISH.match(c) is not None for c in cells), n):
        fmt = _best_format(cells, delimiter, forced)
        if _most(sum(_formatted(c, fmt) is not None for c in cells), n):
            return "number", None if fmt.plain else fmt
    if _most(sum(_date(c) is not None for c in cells), n):
        return "date", None
    return "text", None


# Only the characters a formatted number may hold: a quick test that spares text
# columns the trial of every format.
_MARKS = "-+.,' %" + re.escape("".join(CURRENCIES))
_NUMBERISH = re.compile(rf"[{_MARKS}0-9eE]*[0-9][{_MARKS}0-9eE]*\Z"
                        rf"|[{_MARKS}]*(?i:inf|infinity|nan)[{_MARKS}]*\Z")


def _best_format(cells, delimiter, forced):
    """The number format that reads the most cells; among equals, the first of: a point
    before a comma as the decimal mark (a comma first in files delimited by ;), no
    grouping before grouping by , . space '."""
    symbols = Counter(s for c in cells for s in CURRENCIES if s in c).most_common(1)
    currency = symbols[0][0] if symbols else None
    percent = any(c.endswith("%") for c in cells)
    if forced is not None:
        decimals = [forced[0]]
    elif delimiter == ";":
        decimals = [",", "."]
    elif delimiter == "\t":
        decimals = [".", ","]
    else:
        decimals = ["."]
    candidates = []
    used = [t for t in THOUSANDS if any(t in c for c in cells)]
    for d in decimals:
        if forced is not None and forced[1] is not None:
            groups = [forced[1] or None]
        else:
            groups = [None] + [t for t in used if t != d]
        candidates += [NumberFormat(d, t, currency, percent) for t in groups]
    return max(candidates, key=lambda fmt: sum(_formatted(c, fmt) is not None
                                               for c in cells))


# ------------------------------------------------------------------ cells


def _number(cell):
    """float(cell), or None when the (stripped) cell is not a number. nan/inf parse."""
    if not cell or not cell.isascii() or "_" in cell:   # float() takes 1_000 and ١٢
        return None
    try:
        return float(cell)
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)
def _format_pattern(fmt):
    d = re.escape(fmt.decimal)
    digits = r"\d+"
    if fmt.thousands:
        digits = rf"(?:\d{{1,3}}(?:{re.escape(fmt.thousands)}\d{{3}})+|\d+)"
    body = rf"(?:(?:{digits}(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?|(?i:inf(?:inity)?|nan))"
    cur = re.escape(fmt.currency) if fmt.currency else "(?!)"
    pct = "(?: *%)?" if fmt.percent else ""
    return re.compile(rf"(?P<s1>[+-]?)(?:(?P<c1>{cur}) *)?(?P<s2>[+-]?)(?P<n>{body})"
                      rf"(?: *(?P<c2>{cur}))?{pct}\Z", re.ASCII)


def _formatted(cell, fmt):
    """The value of a cell written in number format `fmt`, or None: float()'s syntax
    with the format's decimal mark, its thousands separator between groups of three
    digits, its currency symbol before or after (a sign on either side of it, spaces
    next to it) and, when allowed, a trailing %."""
    if fmt is None or fmt.plain:
        return _number(cell)
    m = _format_pattern(fmt).match(cell)
    if m is None or (m["s1"] and m["s2"]) or (m["c1"] and m["c2"]):
        return None
    n = m["n"]
    if fmt.thousands:
        n = n.replace(fmt.thousands, "")
    if fmt.decimal != ".":
        n = n.replace(fmt.decimal, ".")
    return float((m["s1"] or m["s2"]) + n)


_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
                   r"(Z|[+-]\d\d:?\d\d)?)?\Z", re.ASCII)


def _date(cell):
    """(days since 1970-01-01 UTC, has a time of day) for an ISO 8601 date or
    date-time, or None."""
    m = _DATE.match(cell)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        days = datetime.date(int(year), int(month), int(day)).toordinal() - _EPOCH
    except ValueError:
        return None
    if hour is None:
        return float(days), False
    h, mi, s = int(hour), int(minute), int(second or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    offset = 0
    if zone and zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[-2:])
        if zh > 23 or zm > 59:
            return None
        offset = (zh * 60 + zm) * (-1 if zone[0] == "-" else 1)
    seconds = h * 3600 + mi * 60 + s - offset * 60
    frac = float("0." + fraction) if fraction else 0.0
    return days + (seconds + frac) / 86400.0, True


# ------------------------------------------------------------------ the parser in Python


class _field_limit:
    """Lift the csv module's field size limit (128 KiB) while reading: a long quoted
    field is data, not an error."""

    def __enter__(self):
        self._old = csv.field_size_limit(sys.maxsize)

    def __exit__(self, *exc):
        csv.field_size_limit(self._old)


def _parse_python(open_stream, *, path, delimiter, ncols, kinds, formats, na_values,
                  skip_records=0, threads=None, block_size=1 << 24, progress=None):
    """The parse contract (see neuralcli.csvparse) with Python's csv module: the reader
    until the C parser is built, and the oracle it is tested against. `threads` is
    accepted and unused."""
    na = frozenset(na_values)
    kinds, formats = list(kinds), list(formats)
    cells, lines = _python_cells(open_stream, path, delimiter, ncols, skip_records,
                                 block_size, progress)
    columns = [_type_column(c, k, f, na) for c, k, f in zip(cells, kinds, formats)]
    typed = [_whole_file_kind(col) for col in columns]
    if typed != [col.kind for col in columns]:
        formats = [f if t == k else None for f, t, k in zip(formats, typed, kinds)]
        cells, lines = _python_cells(open_stream, path, delimiter, ncols, skip_records,
                                     block_size, progress)
        columns = [_type_column(c, k, f, na) for c, k, f in zip(cells, typed, formats)]
    return columns, lines


def _whole_file_kind(col):
    """The whole-file typing rule: number or date columns with more than 10 % bad cells
    are text; text columns with 90 % numbers are numbers."""
    if col.kind == "text":
        present = int(np.count_nonzero(col.codes >= 0))
        return "number" if present and _most(col.numbers, present) else "text"
    present = int(np.count_nonzero(~col.missing))
    return "text" if not _most(present - col.bad, present) else col.kind


def _python_cells(open_stream, path, delimiter, ncols, skip_records, block_size,
                  progress):
    """Every data row's stripped cells by column, and the line each row starts on."""
    cells = [[] for _ in range(ncols)]
    lines = []
    against = "the header has" if skip_records else "the first row has"
    for k, (line, row) in enumerate(_python_records(open_stream, path, delimiter,
                                                    block_size, progress)):
        if k < skip_records:
            continue
        if len(row) != ncols:
            raise _ragged(row, ncols, against, path, line, delimiter)
        for j, c in enumerate(row):
            cells[j].append(c)
        lines.append(line)
    return cells, np.asarray(lines, dtype=np.int64)


def _python_records(open_stream, path, delimiter, block_size, progress):
    """(line, stripped cells) of each non-blank record, reading `block_size` bytes at a
    time. A record is given out once the next one is read, so that a quote left open to
    the end of the data is reported for the record it opened in."""
    state = {"recent": [], "last": []}

    def lines():
        for line in _python_lines(open_stream, path, block_size, progress):
            state["recent"].append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, skipinitialspace=True,
                        strict=False)
    held = None
    end = 0
    with _field_limit():
        for row in reader:
            start, end = end + 1, reader.line_num
            state["last"], state["recent"] = state["recent"], []
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if held is not None:
                yield held
            held = (start, cells)
        if state["last"] and _quote_left_open("".join(state["last"]), delimiter):
            raise DataError("a quote opened in this row is never closed", path=path,
                            line=end - len(state["last"]) + 1,
                            hint="close the quote (\"), or double a quote that is part "
                                 "of a value (\"\")")
    if held is not None:
        yield held


def _quote_left_open(record, delimiter):
    """Whether the last record of the data ends inside a quoted field: a line added
    after it is then read into that field rather than as a record of its own."""
    probe = record + "\n\x00end"
    with _field_limit():
        rows = list(csv.reader(io.StringIO(probe, newline=""), delimiter=delimiter,
                               skipinitialspace=True, strict=False))
    return not rows or rows[-1] != ["\x00end"]


def _python_lines(open_stream, path, block_size, progress):
    """The data's lines (ends kept, split as the csv module splits them), decoded from
    UTF-8 a block at a time; invalid UTF-8 raises DataError at its line."""
    carry = b""
    text_carry = ""
    line = 1
    done = 0
    first = True
    block_size = max(1, int(block_size))
    with open_stream() as f:
        while True:
            chunk = f.read(block_size)
            done += len(chunk)
            data = carry + chunk
            keep = _utf8_tail(data) if chunk else 0
            whole, carry = data[:len(data) - keep], data[len(data) - keep:]
            try:
                text = whole.decode("utf-8")
            except UnicodeDecodeError as err:
                bad_line = line + text_carry.count("\n") + whole[:err.start].count(b"\n")
                raise _not_utf8(whole, err.start, bad_line, path) from None
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            text = text_carry + text
            cut = len(text) if not chunk else text.rfind("\n") + 1
            ready, text_carry = text[:cut], text[cut:]
            line += ready.count("\n")
            if ready:
                yield from io.StringIO(ready, newline="")
            if progress is not None and chunk:
                progress(done)
            if not chunk:
                return


def _utf8_tail(data):
    """How many bytes at the end of `data` begin a UTF-8 character not yet complete."""
    for k in range(1, min(4, len(data)) + 1):
        b = data[-k]
        if b & 0xC0 != 0x80:            # a lead byte or ASCII
            need = 2 if 0xC0 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else \
                4 if 0xF0 <= b < 0xF8 else 1
            return k if need > k else 0
    return 0


def _ragged(r, width, against, path, line, delim):
    msg = f"has {len(r)} fields but {against} {width}"
    if any("\n" in c or "\r" in c for c in r):
        hint = "a quoted field in it spans several lines: check for an unbalanced quote (\")"
    elif len(r) > width:
        hint = (f"quote values that contain the delimiter {show(delim)}, e.g. "
                f"\"1{delim}5\"")
        if len(r) == width + 1 and not r[-1]:
            hint += ", or remove the trailing delimiter"
    else:
        hint = "add the missing fields (an empty value still needs its delimiter)"
    return DataError(msg, path=path, line=line, hint=hint)


def _type_column(cells, kind, fmt, na):
    """One column's stripped cells as a typed column of `kind`."""
    n = len(cells)
    missing = np.array([not c or c in na for c in cells], dtype=bool)
    if missing.all():
        return TextColumn(np.full(n, -1, dtype=np.int32), [])
    if kind == "text":
        index, codes = {}, np.full(n, -1, dtype=np.int32)
        numbers, first_text = 0, None
        for i, c in enumerate(cells):
            if missing[i]:
                continue
            codes[i] = index.setdefault(c, len(index))
            if _number(c) is not None:
                numbers += 1
            elif first_text is None:
                first_text = (i, c)
        return TextColumn(codes, list(index), numbers, first_text)
    values = np.full(n, np.nan, dtype=np.float64)
    bad, first_bad = 0, None
    nonfinite, first_nonfinite = 0, None
    has_time = False
    for i, c in enumerate(cells):
        if missing[i]:
            continue
        if kind == "date":
            v = _date(c)
            if v is not None:
                v, timed = v
                has_time = has_time or timed
        else:
            v = _formatted(c, fmt)
        if v is None:
            bad += 1
            first_bad = first_bad or (i, c)
            continue
        values[i] = v
        if not np.isfinite(v):
            nonfinite += 1
            first_nonfinite = first_nonfinite or (i, c)
    if kind == "date":
        return DateColumn(values, missing, bad, first_bad, has_time)
    finite = values[np.isfinite(values)]
    integral = bool(np.all((finite == np.floor(finite)) & (np.abs(finite) < 2.0 ** 53)))
    local = fmt is not None and not fmt.plain
    return NumberColumn(values, missing, bad, first_bad, nonfinite, first_nonfinite,
                        integral, fmt.describe() if local else None, fmt if local else None)


try:
    from neuralcli.csvparse import parse        # the parser in C
except ImportError:
    parse = _parse_python


# ------------------------------------------------------------------ built-in sets


def load_builtin(name, **kw):
    """A built-in data set (neuralcli.datasets) as a Table: feature columns, then the
    target, made directly as typed columns (text labels as a text column, integer labels
    as a whole-number column)."""
    from neuralcli import datasets
    if name not in datasets.DATASETS:
        raise DataError(f"unknown built-in data set {show(name)}",
                        hint=f"choose from {', '.join(datasets.DATASETS)}")
    X, y, feature_names, target_name = datasets.load(name, **kw)
    X = np.asarray(X, dtype=np.float64)
    columns = [_number_column(X[:, j]) for j in range(X.shape[1])]
    y = np.asarray(y)
    if y.dtype.kind in "USO":
        labels = [str(v) for v in y.tolist()]
        index = {}
        codes = np.array([index.setdefault(v, len(index)) for v in labels], dtype=np.int32)
        numbers = [_number(v) is not None for v in labels]
        first_text = next(((i, v) for i, v in enumerate(labels) if not numbers[i]), None)
        columns.append(TextColumn(codes, list(index), sum(numbers), first_text))
    else:
        columns.append(_number_column(y.astype(np.float64)))
    return Table(list(feature_names) + [target_name], columns, path=f"{name} (built-in)",
                 has_header=True)


def _number_column(values):
    values = np.ascontiguousarray(values, dtype=np.float64).copy()
    finite = np.isfinite(values)
    nonfinite = int(np.count_nonzero(~finite))
    first = None
    if nonfinite:
        i = int(np.argmin(finite))
        first = (i, repr(float(values[i])))
    v = values[finite]
    integral = bool(np.all((v == np.floor(v)) & (np.abs(v) < 2.0 ** 53)))
    return NumberColumn(values, np.zeros(len(values), dtype=bool), 0, None, nonfinite,
                        first, integral)
