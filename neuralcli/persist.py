"""Model files that hold a network, its metadata and named arrays, and never run code.

Layout (docs/model-format.md has the full description):

    magic b"NEURALCL" | uint32 format version | uint64 header length | JSON header
    | zero padding to 64 | array bytes, each at a 64-byte aligned offset | SHA-256

Loading checks every claim the header makes against the file before it allocates
anything, then reads the arrays in one pass while hashing, and builds the network only
if the checksum matches. There is no pickle, marshal or eval anywhere.
"""
import hashlib
import json
import math
import os
import secrets
import stat
import struct
from dataclasses import dataclass, field

import numpy as np

from neuralcli._version import __version__
from neuralcli.network import ACTIVATIONS, DTYPES, MLP, n_params

MAGIC = b"NEURALCL"
FORMAT_VERSION = 1
EXTENSION = ".ncm"

_PRELUDE = struct.Struct("<8sIQ")      # magic, format version, header length
_DIGEST = 32                           # SHA-256, over every byte before it
_ALIGN = 64
_MAX_HEADER = 256 << 20                # a header larger than this is corruption
_CHUNK = 1 << 20

# the only array dtypes a file may hold, stored little-endian
ARRAY_DTYPES = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "int64": np.dtype("<i8"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "bool": np.dtype("?"),
}
_STR = "str"                           # 1-D unicode arrays, kept as JSON lists


class ModelFileError(ValueError):
    """A model file that cannot be read or written; the message names the file."""


@dataclass
class SavedModel:
    model: MLP
    meta: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    version: str = __version__          # library version that wrote the file
    format_version: int = FORMAT_VERSION


def _aligned(n):
    return -(-n // _ALIGN) * _ALIGN


# ------------------------------------------------------------------ writing


def _plain(obj, where, stack):
    """A copy of meta made of JSON types only; numpy scalars become Python numbers.

    json.dumps alone would turn an int key into a string and a tuple into a list without
    a word, so a value would not come back as it went in; refuse what JSON cannot hold."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return obj.item()
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in stack:
            raise ValueError(f"meta{where} refers to itself")
        stack.add(id(obj))
        try:
            if isinstance(obj, dict):
                out = {}
                for k, v in obj.items():
                    if not isinstance(k, str):
                        raise TypeError(f"meta{where} has key {k!r}; keys must be strings")
                    out[k] = _plain(v, f"{where}[{k!r}]", stack)
                return out
            return [_plain(v, f"{where}[{i}]", stack) for i, v in enumerate(obj)]
        finally:
            stack.discard(id(obj))
    hint = " (put arrays in arrays=)" if isinstance(obj, np.ndarray) else ""
    raise TypeError(f"meta{where} is a {type(obj).__name__}, which JSON cannot hold{hint}")


def _prepare_arrays(arrays):
    """(table entries without offsets, little-endian contiguous arrays) for arrays=."""
    binary, strings = [], []
    for name, value in (arrays or {}).items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"array names must be non-empty strings, got {name!r}")
        a = np.asarray(value)
        if a.dtype.kind == "U":
            if a.ndim != 1:
                raise ValueError(f"array {name!r}: string arrays must be 1-D, got shape "
                                 f"{a.shape}")
            strings.append({"name": name, "dtype": _STR, "shape": [a.shape[0]],
                            "width": a.dtype.itemsize // 4, "values": a.tolist()})
            continue
        key = next((k for k, dt in ARRAY_DTYPES.items()
                    if (a.dtype.kind, a.dtype.itemsize) == (dt.kind, dt.itemsize)), None)
        if key is None:
            raise TypeError(f"array {name!r} has dtype {a.dtype}; a model file holds "
                            f"{', '.join(ARRAY_DTYPES)} or 1-D unicode strings")
        a = np.asarray(a, dtype=ARRAY_DTYPES[key], order="C")   # keeps 0-d shapes
        binary.append(({"name": name, "dtype": key, "shape": list(a.shape)}, a))
    return binary, strings


def _layout(model, meta, arrays):
    """The file's header bytes and [(offset in file, array)], offsets 64-aligned."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an MLP, got {type(model).__name__}")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    meta = _plain(meta, "", set())
    # what load would refuse is refused here, so no file is written that cannot be read
    if not all(_is_num(p) for p in model.act_params):
        raise ValueError(f"activation parameters must be finite, got {model.act_params}")
    if not all(_is_num(d) and 0 <= d < 1 for d in model.dropout):
        raise ValueError(f"dropout rates must be in [0, 1), got {model.dropout}")
    binary, strings = _prepare_arrays(arrays)
    params = np.ascontiguousarray(model.params,
                                  dtype=ARRAY_DTYPES[model.dtype.name])
    blobs = [({"dtype": model.dtype.name, "shape": [params.size]}, params)] + binary
    off = end = 0
    for entry, a in blobs:
        entry["offset"] = off
        entry["nbytes"] = a.nbytes
        end = off + a.nbytes
        off = _aligned(end)
    params_entry = blobs[0][0]
    header = {
        "library_version": __version__,
        "network": {
            "sizes": list(model.sizes),
            "activations": list(model.activations),
            "act_params": [float(p) for p in model.act_params],
            "dropout": [float(d) for d in model.dropout],
            "dtype": model.dtype.name,
            "n_dense": int(model.n_dense),
            "params": params_entry,
        },
        "arrays": [e for e, _ in binary] + strings,
        "data_bytes": end,
        "meta": meta,
    }
    # ASCII keeps lone surrogates and any text safe; NaN and Infinity are allowed in meta
    # (a diverged run's loss history), never in the architecture, which load checks.
    text = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    data_start = _aligned(_PRELUDE.size + len(text))
    return text, [(data_start + e["offset"], a) for e, a in blobs]


def _write_all(f, h, text, blobs):
    head = _PRELUDE.pack(MAGIC, FORMAT_VERSION, len(text)) + text
    f.write(head)
    h.update(head)
    pos = len(head)
    for offset, a in blobs:
        pad = bytes(offset - pos)
        f.write(pad)
        h.update(pad)
        view = memoryview(a).cast("B") if a.nbytes else b""
        f.write(view)
        h.update(view)
        pos = offset + a.nbytes
    f.write(h.digest())


def _fsync_dir(directory):
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return                          # no directory handles here (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass                            # some filesystems refuse; the data is synced
    finally:
        os.close(fd)


def save(path, model, *, meta=None, arrays=None):
    """Write `model`, a JSON-able `meta` dict and named `arrays` to one file at `path`.

    arrays maps names to numpy arrays of float32, float64, int64, int32, uint8 or bool
    (any shape), or to 1-D unicode string arrays, which are kept as JSON lists in the
    header. meta comes back from load() as a plain dict; numpy scalars in it become
    Python numbers, and non-string keys, arrays and other objects are refused.

    The write is atomic: a temporary file beside the target is written, flushed, synced
    and renamed over it, so the target is either the old file or the whole new one.
    Bad arguments raise TypeError or ValueError before the disk is touched; a failure to
    write (missing or read-only directory, disk full) raises ModelFileError.
    """
    text, blobs = _layout(model, meta, arrays)
    path = os.fspath(path)
    target = os.path.abspath(path)
    directory, base = os.path.split(target)
    if os.path.isdir(target):
        raise ModelFileError(f"{path}: cannot write a model: it is a directory")
    if not os.path.isdir(directory):
        raise ModelFileError(f"{path}: cannot write a model: directory {directory} "
                             f"does not exist")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    try:
        while True:
            tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
            try:
                fd = os.open(tmp, flags, 0o666)   # 0o666 less the umask, as open() does
                break
            except FileExistsError:
                continue
    except OSError as err:
        raise ModelFileError(f"{path}: cannot write a model: "
                             f"{err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, hashlib.sha256(), text, blobs)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise ModelFileError(f"{path}: cannot write a model: "
                                 f"{err.strerror or err}") from err
        raise
    _fsync_dir(directory)


# ------------------------------------------------------------------ reading


def _unique_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x):
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:               # an integer too big for a float
        return False


class _Checker:
    """Raises ModelFileError("<path>: <what>") for one file."""

    def __init__(self, path):
        self.path = path

    def fail(self, what):
        raise ModelFileError(f"{self.path}: {what}")

    def need(self, ok, what):
        if not ok:
            self.fail(what)

    def obj(self, d, key, kind, where):
        self.need(isinstance(d, dict) and key in d, f"header: {where} has no {key!r}")
        v = d[key]
        self.need(isinstance(v, kind),
                  f"header: {where}.{key} should be a {kind.__name__}, got "
                  f"{type(v).__name__}")
        return v


def _check_network(c, header):
    net = c.obj(header, "network", dict, "header")
    sizes = c.obj(net, "sizes", list, "network")
    c.need(len(sizes) >= 2 and all(_is_int(s) and s >= 1 for s in sizes),
           f"header: network.sizes should be two or more positive integers, got "
           f"{str(sizes)[:80]}")
    n_layers = len(sizes) - 1
    acts = c.obj(net, "activations", list, "network")
    c.need(len(acts) == n_layers and all(isinstance(a, str) and a in ACTIVATIONS
                                         for a in acts),
           f"header: network.activations should be {n_layers} of "
           f"{', '.join(sorted(ACTIVATIONS))}, got {str(acts)[:80]}")
    act_params = c.obj(net, "act_params", list, "network")
    c.need(len(act_params) == n_layers and all(_is_num(p) for p in act_params),
           f"header: network.act_params should be {n_layers} finite numbers")
    dropout = c.obj(net, "dropout", list, "network")
    c.need(len(dropout) == n_layers and all(_is_num(d) and 0 <= d < 1 for d in dropout),
           f"header: network.dropout should be {n_layers} rates in [0, 1)")
    # files written before categorical rows existed hold dense inputs only
    n_dense = net.get("n_dense", sizes[0])
    c.need(_is_int(n_dense) and 0 <= n_dense <= sizes[0],
           f"header: network.n_dense should be an integer in [0, {sizes[0]}], got "
           f"{str(n_dense)[:40]}")
    dtype = c.obj(net, "dtype", str, "network")
    c.need(dtype in DTYPES, f"header: network dtype {dtype[:20]!r} is not float32 or "
                            f"float64")
    params = c.obj(net, "params", dict, "network")
    c.need(params.get("dtype") == dtype,
           f"header: params dtype {str(params.get('dtype'))[:20]!r} differs from the "
           f"network dtype {dtype!r}")
    count = n_params(sizes)
    c.need(params.get("shape") == [count],
           f"header: params shape {str(params.get('shape'))[:40]} does not match the "
           f"{count:,} parameters of a {'-'.join(map(str, sizes))} network")
    return net, params


def _check_entry(c, e, data_bytes, what):
    """Shape, dtype, offset and length of one binary array, all without allocating."""
    dtype = e.get("dtype")
    c.need(dtype in ARRAY_DTYPES,
           f"{what} has dtype {str(dtype)[:20]!r}; allowed: {', '.join(ARRAY_DTYPES)}")
    shape = e.get("shape")
    c.need(isinstance(shape, list) and len(shape) <= 32
           and all(_is_int(s) and s >= 0 for s in shape),
           f"{what} has shape {str(shape)[:40]}; expected a list of non-negative integers")
    offset, nbytes = e.get("offset"), e.get("nbytes")
    c.need(_is_int(offset) and _is_int(nbytes) and offset >= 0 and nbytes >= 0,
           f"{what} has offset {str(offset)[:24]} and length {str(nbytes)[:24]}; "
           f"expected non-negative integers")
    c.need(offset % _ALIGN == 0, f"{what} starts at {offset:,}, not a multiple of {_ALIGN}")
    want = math.prod(shape) * ARRAY_DTYPES[dtype].itemsize
    c.need(nbytes == want, f"{what} has shape {shape} of {dtype}, which is {want:,} "
                           f"bytes, but claims {nbytes:,}")
    c.need(offset + nbytes <= data_bytes,
           f"{what} ends at byte {offset + nbytes:,} of a {data_bytes:,}-byte data section")


def _check_strings(c, e, what):
    shape, width, values = e.get("shape"), e.get("width"), e.get("values")
    c.need(isinstance(values, list) and all(isinstance(v, str) for v in values),
           f"{what} should hold a list of strings")
    c.need(shape == [len(values)], f"{what} has shape {str(shape)[:40]} but "
                                   f"{len(values):,} strings")
    c.need(_is_int(width) and max(map(len, values), default=0) <= width <= 1 << 20,
           f"{what} has width {str(width)[:20]}, which does not fit its strings")
    return np.array(values, dtype=f"<U{max(width, 1)}").reshape(len(values))


def _read_prelude(c, f, size):
    c.need(size > 0, "empty file, not a neuralcli model file")
    first = f.read(_PRELUDE.size)
    if not first.startswith(MAGIC[:len(first)]) or not first:
        kind = ""
        if first[:1] == b"\x80" or first[:2] in (b"PK",):
            kind = " (it looks like a pickle or zip; those are never loaded because " \
                   "loading them can run code)"
        c.fail(f"not a neuralcli model file{kind}")
    c.need(len(first) == _PRELUDE.size,
           f"truncated: {size:,} bytes, too short for the {_PRELUDE.size}-byte preamble")
    _, version, hlen = _PRELUDE.unpack(first)
    c.need(version >= 1, f"format version {version} is not valid")
    c.need(version <= FORMAT_VERSION,
           f"written in model format version {version}, but this neuralcli "
           f"{__version__} reads versions up to {FORMAT_VERSION}; upgrade neuralcli "
           f"to load it")
    c.need(hlen <= _MAX_HEADER, f"header length {hlen:,} is implausible (corrupt file?)")
    avail = size - _PRELUDE.size
    c.need(hlen <= avail, f"truncated: expected a {hlen:,}-byte header, found {avail:,} "
                          f"bytes")
    return first, version, hlen


def _parse_header(c, text):
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as err:
        c.fail(f"header is not UTF-8 text (byte {err.start:,}): corrupt file")
    except RecursionError:
        c.fail("header JSON is nested too deeply")
    except ValueError as err:
        c.fail(f"header is not valid JSON ({str(err)[:80]}): corrupt file")
    c.need(isinstance(header, dict), "header: expected a JSON object")
    return header


def load(path):
    """Read a model file written by save(); returns a SavedModel.

    Every problem with the file (missing, unreadable, foreign, truncated, corrupt,
    from a newer format) raises ModelFileError with a one-line message naming it.
    """
    shown = os.fspath(path)
    c = _Checker(shown)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)       # non-blocking so a FIFO cannot hang us
    except FileNotFoundError:
        c.fail("no such file")
    except IsADirectoryError:
        c.fail("is a directory, not a model file")
    except OSError as err:
        c.fail(f"cannot open: {err.strerror or err}")
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            c.fail("is a directory, not a model file")
        c.need(stat.S_ISREG(st.st_mode), "not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        try:
            return _load(c, f, st.st_size)
        except OSError as err:
            c.fail(f"cannot read: {err.strerror or err}")


def _load(c, f, size):
    first, version, hlen = _read_prelude(c, f, size)
    text = f.read(hlen)
    c.need(len(text) == hlen, "file changed while reading")
    header = _parse_header(c, text)

    # structure, then every offset and length against the file size; nothing big yet
    net, params = _check_network(c, header)
    data_bytes = header.get("data_bytes")
    c.need(_is_int(data_bytes) and data_bytes >= 0,
           "header: data_bytes should be a non-negative integer")
    data_start = _aligned(_PRELUDE.size + hlen)
    expected = data_start + data_bytes + _DIGEST
    table = c.obj(header, "arrays", list, "header")
    entries = [("params", params, "the weights")]
    strings = {}
    seen = set()
    for i, e in enumerate(table):
        c.need(isinstance(e, dict) and isinstance(e.get("name"), str),
               f"header: arrays[{i}] should be an object with a name")
        name = e["name"]
        c.need(name not in seen, f"header: array {name[:40]!r} appears twice")
        seen.add(name)
        if e.get("dtype") == _STR:
            strings[name] = e
        else:
            entries.append((name, e, f"array {name[:40]!r}"))
    for _, e, what in entries:
        _check_entry(c, e, data_bytes, f"header: {what}")
    meta = header.get("meta", {})
    c.need(isinstance(meta, dict), "header: meta should be a JSON object")
    library_version = header.get("library_version")
    c.need(isinstance(library_version, str), "header: library_version should be a string")

    if size < expected:
        for _, e, what in sorted(entries, key=lambda t: t[1]["offset"]):
            start = data_start + e["offset"]
            if start + e["nbytes"] > size:
                found = max(0, size - start)
                c.fail(f"truncated: expected {e['nbytes']:,} bytes of {what[:60]}, "
                       f"found {found:,}")
        found = max(0, size - (data_start + data_bytes))
        c.fail(f"truncated: expected a {_DIGEST}-byte checksum, found {found:,} bytes")
    c.need(size == expected, f"{size - expected:,} unexpected bytes after the checksum "
                             f"(expected a {expected:,}-byte file)")
    ordered = sorted(range(len(entries)), key=lambda i: entries[i][1]["offset"])
    for i, j in zip(ordered, ordered[1:]):
        (_, a, wa), (_, b, wb) = entries[i], entries[j]
        c.need(a["offset"] + a["nbytes"] <= b["offset"],
               f"header: {wa[:40]} and {wb[:40]} overlap")
    string_arrays = {name: _check_strings(c, e, f"header: array {name[:40]!r}")
                     for name, e in strings.items()}

    # one pass over the data: read each array into its buffer and hash everything
    h = hashlib.sha256(first)
    h.update(text)
    pos = _PRELUDE.size + hlen
    loaded = [None] * len(entries)
    for i in ordered:
        e = entries[i][1]
        start = data_start + e["offset"]
        _hash_span(c, f, h, start - pos)
        buf = np.empty(e["shape"], dtype=ARRAY_DTYPES[e["dtype"]])
        _read_into(c, f, h, memoryview(buf.reshape(-1).view(np.uint8)))
        loaded[i] = buf
        pos = start + e["nbytes"]
    _hash_span(c, f, h, size - _DIGEST - pos)
    digest = f.read(_DIGEST)
    c.need(h.digest() == digest, "checksum mismatch: the file is corrupt or was modified")

    arrays = dict(string_arrays)
    for (name, e, what), a in zip(entries[1:], loaded[1:]):
        c.need(e["dtype"] != "bool" or not (a.view(np.uint8) > 1).any(),
               f"{what}: bool bytes other than 0 and 1")
        arrays[name] = a
    arrays = {e["name"]: arrays[e["name"]] for e in table}   # the order they were saved
    try:
        model = MLP(net["sizes"], net["activations"], dropout=net["dropout"],
                    dtype=net["dtype"], act_params=net["act_params"], init=False,
                    n_dense=net.get("n_dense"))
    except ValueError as err:
        c.fail(f"header: network: {err}")
    model.params[...] = loaded[0]
    return SavedModel(model=model, meta=meta, arrays=arrays, version=library_version,
                      format_version=version)


def _hash_span(c, f, h, n):
    """Hash the next n bytes (padding between arrays) without keeping them."""
    while n > 0:
        chunk = f.read(min(n, _CHUNK))
        c.need(chunk, "file changed while reading")
        h.update(chunk)
        n -= len(chunk)


def _read_into(c, f, h, view):
    pos = 0
    while pos < len(view):
        got = f.readinto(view[pos:pos + _CHUNK])
        c.need(got, "file changed while reading")
        h.update(view[pos:pos + got])
        pos += got
