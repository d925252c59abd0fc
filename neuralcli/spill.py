"""Training data bigger than memory: a memory limit, encoded rows spilled to a temporary
file, and batches read back in a seeded block shuffle.

The spill file holds fixed-width arrays (the dense inputs in the model's dtype, the
category codes, the targets and row weights), each appended chunk by chunk while the data
is encoded, so that no more than one chunk is ever in memory. Training reads a window of
blocks at a time: each epoch shuffles the order of the blocks, then the rows within each
window of consecutive (shuffled) blocks. Rows are read with plain positioned reads, so
what was read leaves the process's memory with the window.

Spill files live in a private temporary directory that is removed when the object is
closed, when the process exits, and on Ctrl-C or an error (the caller uses `with`).
"""
import os
import re
import shutil
import tempfile
import weakref

import numpy as np

__all__ = ["parse_size", "available_memory", "default_limit", "SpillArrays", "BlockOrder",
           "SpilledRows", "take_rows"]

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text):
    """'256M', '8G', '1.5G', '512k' or a number of bytes -> bytes (int). ValueError else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size; give a number with K, M, G or T "
                         f"(e.g. 256M, 8G)")
    size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if size <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return size


def available_memory():
    """Bytes of memory available to new allocations (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_limit():
    """Half of the available memory (4 GiB when it cannot be told)."""
    have = available_memory()
    return have // 2 if have else 4 * 2**30


class SpillArrays:
    """Named row arrays appended chunk by chunk to files in a private temporary directory.

    spec: {name: (dtype, row_shape)}; append(**chunks) adds rows to every array (the same
    number to each); read(name, start, stop) returns rows [start, stop) as a new array."""

    def __init__(self, spec, *, directory=None, prefix="neuralcli-"):
        self.spec = {k: (np.dtype(d), tuple(s)) for k, (d, s) in spec.items()}
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=directory)
        self._files = {k: open(os.path.join(self.dir, k), "w+b") for k in self.spec}
        self.n_rows = 0
        # weakref.finalize also runs at interpreter exit, so the directory goes even if
        # close() is never reached
        self._finalizer = weakref.finalize(self, _remove, self.dir, list(self._files.values()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._finalizer()

    @property
    def closed(self):
        return not self._finalizer.alive

    def row_bytes(self):
        return sum(d.itemsize * int(np.prod(s, dtype=np.int64)) for d, s in self.spec.values())

    def append(self, **chunks):
        if set(chunks) != set(self.spec):
            raise ValueError(f"append needs {sorted(self.spec)}, got {sorted(chunks)}")
        n = {len(a) for a in chunks.values()}
        if len(n) != 1:
            raise ValueError("every array of a chunk needs the same number of rows")
        for k, a in chunks.items():
            d, s = self.spec[k]
            a = np.ascontiguousarray(a, dtype=d)
            if a.shape[1:] != s:
                raise ValueError(f"{k}: rows of shape {a.shape[1:]}, expected {s}")
            self._files[k].write(a.reshape(-1).view(np.uint8))
        self.n_rows += n.pop()

    def flush(self):
        for f in self._files.values():
            f.flush()

    def read(self, name, start, stop, out=None):
        """Rows [start, stop) of one array, into `out` (C-contiguous, of exactly that many
        rows) when given, else into a new array."""
        d, s = self.spec[name]
        start, stop = max(0, int(start)), min(self.n_rows, int(stop))
        count = max(0, stop - start)
        per = d.itemsize * int(np.prod(s, dtype=np.int64))
        if out is None:
            out = np.empty((count,) + s, dtype=d)
        elif out.shape != (count,) + s or out.dtype != d or not out.flags.c_contiguous:
            raise ValueError(f"{name}: reading {count} rows needs a C-contiguous {d} array "
                             f"of shape {(count,) + s}, got {out.dtype} {out.shape}")
        if count:
            got = os.preadv(self._files[name].fileno(), [out.reshape(-1).view(np.uint8)],
                            start * per)
            if got != count * per:
                raise OSError(f"short read from the spill file ({got} of {count * per} "
                              f"bytes)")
        return out


def _remove(directory, files):
    for f in files:
        try:
            f.close()
        except OSError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


class BlockOrder:
    """The seeded block shuffle of n rows: blocks of `block` consecutive rows, an epoch's
    blocks in a random order, grouped into windows of `window` blocks whose rows are then
    shuffled together. Everything is drawn from the generator given to epoch(), so a seed
    gives one order."""

    def __init__(self, n_rows, block, window):
        if block < 1 or window < 1:
            raise ValueError("block and window hold at least one row and block")
        self.n_rows, self.block, self.window = int(n_rows), int(block), int(window)
        self.n_blocks = (self.n_rows + self.block - 1) // self.block

    def epoch(self, rng, shuffle=True):
        """Yield (ranges, perm) per window: ranges, the (start, stop) row ranges read in
        this order; perm, the order of the window's rows after reading (None when not
        shuffling)."""
        order = rng.permutation(self.n_blocks) if shuffle else np.arange(self.n_blocks)
        for w in range(0, self.n_blocks, self.window):
            ranges = [(int(b) * self.block, min(self.n_rows, (int(b) + 1) * self.block))
                      for b in order[w:w + self.window]]
            rows = sum(hi - lo for lo, hi in ranges)
            yield ranges, (rng.permutation(rows) if shuffle else None)


class SpilledRows:
    """Model rows that live in a SpillArrays, read back one window at a time.

    The spill holds "dense" (the dense inputs, in the model's dtype), "codes" (int32 first
    layer rows of the categorical inputs, when the model has them), "y" (int32 labels of
    shape () for cross-entropy, else (K,) targets in the model's dtype) and optionally
    "sw" (a row weight in the model's dtype). Blocks of `block_rows` consecutive rows are
    read a window at a time: as many whole blocks as fit in `window_rows` rows, or in
    `window_bytes` bytes of rows. The default block is a sixteenth of the window, so a
    shuffled window mixes rows from sixteen places in the data.

    The caller owns the spill: closing this object (or leaving its `with`) closes it and
    removes its files; training and evaluation leave it open."""

    NAMES = ("dense", "codes", "y", "sw")

    def __init__(self, spill, *, window_rows=None, window_bytes=None, block_rows=None):
        names = set(spill.spec)
        if not {"dense", "y"} <= names or not names <= set(self.NAMES):
            raise ValueError(f"spilled rows hold the arrays dense and y, and optionally "
                             f"codes and sw; this spill holds {', '.join(sorted(names))}")
        if (window_rows is None) == (window_bytes is None):
            raise ValueError("give the window's size as window_rows or as window_bytes")
        if window_bytes is not None:
            window_rows = int(window_bytes) // spill.row_bytes()
            if window_rows < 1:
                raise ValueError(f"a window of {int(window_bytes)} bytes holds no row of "
                                 f"{spill.row_bytes()} bytes; give a larger window")
        window_rows = int(window_rows)
        if window_rows < 1:
            raise ValueError(f"a window holds at least one row, got {window_rows}")
        block_rows = max(1, window_rows // 16) if block_rows is None else int(block_rows)
        if not 1 <= block_rows <= window_rows:
            raise ValueError(f"a block of {block_rows} rows does not fit in a window of "
                             f"{window_rows} rows")
        self.spill = spill
        self.block_rows = block_rows
        self.window_blocks = window_rows // block_rows
        self.window_rows = self.window_blocks * block_rows    # rows a window can hold

    def __len__(self):
        return self.spill.n_rows

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.spill.close()

    def has(self, name):
        return name in self.spill.spec

    def order(self):
        return BlockOrder(len(self), self.block_rows, self.window_blocks)

    def windows(self, rng=None, shuffle=False):
        """Yield (arrays, perm) per window, the blocks in the seeded order that `rng`
        draws (in file order when not shuffling): arrays maps each name to the window's
        rows as read, perm the order to take them in (None when not shuffling). The
        arrays are views of buffers that the next window overwrites."""
        n = len(self)
        if n == 0:
            return
        self.spill.flush()
        cap = min(n, self.window_rows)
        bufs = {k: np.empty((cap,) + s, d) for k, (d, s) in self.spill.spec.items()}
        for ranges, perm in self.order().epoch(rng, shuffle):
            at = 0
            for lo, hi in ranges:
                for k, b in bufs.items():
                    self.spill.read(k, lo, hi, out=b[at:at + hi - lo])
                at += hi - lo
            yield {k: b[:at] for k, b in bufs.items()}, perm

    def batches(self, batch_rows, rng=None, shuffle=False):
        """Yield one epoch of rows as batches (name -> array) of batch_rows rows, every one
        full but the last: the rows a window leaves over start the next batch, which the
        next window fills. Batches are views of buffers that the next batch overwrites."""
        bs = int(batch_rows)
        bufs = {k: np.empty((bs,) + s, d) for k, (d, s) in self.spill.spec.items()}
        fill = 0
        for arrays, perm in self.windows(rng, shuffle):
            rows = len(arrays["y"])
            at = 0
            while at < rows:
                take = min(bs - fill, rows - at)
                if perm is None and fill == 0 and take == bs:
                    # a whole batch in file order: the window's rows themselves
                    yield {k: a[at:at + bs] for k, a in arrays.items()}
                else:
                    take_rows(arrays, perm, at, take, bufs, fill)
                    fill += take
                    if fill == bs:
                        yield bufs
                        fill = 0
                at += take
        if fill:
            yield {k: b[:fill] for k, b in bufs.items()}


def take_rows(arrays, perm, at, take, dst, fill):
    """Rows [at, at+take) of a window, in the order perm gives them (file order for
    None), into the rows [fill, fill+take) of dst's arrays of the same names."""
    for k, a in arrays.items():
        out = dst[k][fill:fill + take]
        if perm is None:
            out[...] = a[at:at + take]
        else:
            a.take(perm[at:at + take], axis=0, out=out, mode="clip")
