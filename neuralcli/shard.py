"""A CSV file cut into byte ranges at record boundaries, one range for each of N readers.

Reader r of N takes the records that start in [B(r), B(r+1)), where B(0) is the file's
start, B(N) its end, and B(r) for 0 < r < N is the first record start at or after byte
r * size // N that holds whatever the quoting before that byte was: the quote-aware rule
of the parallel reader (csrc/csvread.c, scan_records) applied from both possible states.

A byte in a CSV file lies outside quoted fields or inside one. Just after a line end,
outside means a record starts there; inside means a quoted field goes on across that line
end. The two readings are followed from the first line end at or after the cut, jumping
from quote to quote as the parser does (a quote opens a quoted field only at a field's
start; inside one, a doubled quote is a quote and a single one closes it; a line end
outside a quoted field ends a record), until they meet at a record start. From there on
they agree, so that record start is a record start of the file, whichever reading was
right; a reading that ends inside a never-closed quoted field is the wrong one. In most
files the readings meet at the first or second line end; the bytes are only looked at for
quotes and line ends (no parsing), and only this far.

Every reader finds its own cut; the readers exchange them, and the line ends of their
ranges, so that each knows where its range starts in the file's lines."""
import mmap
import os

__all__ = ["record_start", "cut", "ranges", "line_ends"]

_STEP = 1 << 24


def _field_start(buf, at, delimiter, lo):
    """Whether a quote at `at` opens a quoted field: only spaces between it and the
    delimiter or line end before it (or the data's start `lo`)."""
    t = at
    while t > lo and buf[t - 1] == 0x20:
        t -= 1
    return t == lo or buf[t - 1] in (delimiter, 0x0A) or (delimiter == 0x20 and t < at)


def _records(buf, pos, end, delimiter, inside):
    """The record starts after `pos` (after `pos` itself, when the reading starts
    outside a field there), reading from `pos` inside a quoted field or not. Ends with
    None when the data ends inside a quoted field that never closes."""
    if not inside:
        yield pos
    while True:
        if inside:
            r = pos
            while True:
                c = buf.find(b'"', r, end)
                if c < 0:
                    yield None          # never closed
                    return
                if c + 1 < end and buf[c + 1] == 0x22:
                    r = c + 2           # a doubled quote, part of the value
                    continue
                break
            pos, inside = c + 1, False
        qt = buf.find(b'"', pos, end)
        z = end if qt < 0 else qt
        nl = buf.find(b"\n", pos, z)
        if nl >= 0:
            pos = nl + 1
            yield pos
            continue
        if qt < 0:
            return                      # the data ends outside a quoted field
        if _field_start(buf, qt, delimiter, 0):
            pos, inside = qt + 1, True
        else:
            pos = qt + 1                # a literal quote


def record_start(buf, at, delimiter=",", end=None):
    """The first record start at or after byte `at` of `buf` (bytes or an mmap) that
    holds whatever the quoting before `at` was (see the module's notes); `end` (the
    data's length) when no such start comes before the data ends."""
    end = len(buf) if end is None else end
    if at <= 0:
        return 0
    nl = buf.find(b"\n", at - 1, end)
    if nl < 0:
        return end
    p = nl + 1
    d = ord(delimiter)
    outside = _records(buf, p, end, d, False)
    inside = _records(buf, p, end, d, True)
    a, b = next(outside, end), next(inside, end)
    while True:
        if a is None:
            return end if b is None else b
        if b is None:
            return a
        if a == b:
            return a
        if a >= end and b >= end:
            return end
        if a < b:
            a = next(outside, end)
        else:
            b = next(inside, end)


def cut(path, rank, size, delimiter=","):
    """This reader's own cut: the record start that begins reader `rank` of `size` in the
    file at `path` (0 for the first). The readers' cuts, exchanged, give the ranges
    (see ranges)."""
    if rank <= 0:
        return 0
    n = os.path.getsize(path)
    if n == 0:
        return 0
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return record_start(mm, rank * n // size, delimiter, n)


def ranges(cuts, n):
    """[(start, end)] of each reader from every reader's cut, in reader order, and the
    file's length n. A cut before an earlier one (a quoted field spanning a whole range)
    moves up to it: that reader's range is then empty."""
    starts, at = [], 0
    for c in cuts:
        at = max(at, c)
        starts.append(at)
    return list(zip(starts, starts[1:] + [n]))


def line_ends(path, start, end):
    """The line ends (newline bytes) in bytes [start, end) of the file at `path`."""
    count = 0
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            data = f.read(min(_STEP, left))
            if not data:
                break
            count += data.count(b"\n")
            left -= len(data)
    return count
