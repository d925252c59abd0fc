"""The fuzz targets: each takes the fuzzer's bytes, drives one entry point of neuralcli, and
raises only for a finding. The library's documented errors are outcomes, not findings:

  csv      read_table and Scan.chunks over the C reader: DataError
  model    persist.load, TrainedModel.load, the estimators' load and Checkpoint.read:
           ModelFileError
  options  the command line's parsing of numbers, sizes and lists: exit 1 or 2 with one
           error line (a usage error, or a DataError about the missing data file)

Anything else (another exception, a wrong result, a crash or sanitizer report, a hang) is
a finding. The targets need no fuzzer: tests/test_fuzz_regressions.py replays the seed
corpora and every input that once was a finding through them, and the atheris harness
(tests/fuzz/fuzz.py) runs them under libFuzzer.

The options each target reads from the input are taken from its first bytes by `Input`,
so an input file is a complete, replayable case.
"""
import contextlib
import gzip
import hashlib
import io
import os
import struct
import tempfile

import numpy as np

__all__ = ["TARGETS", "Input", "csv_target", "model_target", "options_target", "seal"]


class Input:
    """The fuzzer's bytes taken from the front: small choices first, the rest as data. Past
    the end every choice reads as zero, so any input, even an empty one, is a valid case."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def byte(self):
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def pick(self, options):
        return options[self.byte() % len(options)]

    def flag(self):
        return self.byte() & 1 == 1

    def uint16(self):
        return self.byte() | self.byte() << 8

    def text(self, limit=24):
        """A short string: a length byte, then that many bytes decoded as UTF-8 (bad bytes
        replaced) or, for the other half of length bytes, as Latin-1 (any byte a
        character)."""
        n = self.byte()
        raw = self.data[self.pos:self.pos + min(n >> 1, limit)]
        self.pos += len(raw)
        return raw.decode("latin-1") if n & 1 else raw.decode("utf-8", "replace")

    def rest(self):
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out


@contextlib.contextmanager
def _scratch(data, suffix):
    """A temporary file holding data (in /dev/shm when there is one: no disk writes per
    execution); removed afterwards."""
    where = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
        else None
    fd, path = tempfile.mkstemp(prefix="neuralcli-fuzz-", suffix=suffix, dir=where)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)


# ------------------------------------------------------------------ the CSV reader

DELIMITERS = (None, ",", ";", "\t", "|", "comma", "tab")
ENCODINGS = (None, None, "latin-1", "utf-16", "cp1252", "utf-8", "utf-8-sig")
DECIMALS = (None, None, ".", ",")
THOUSANDS = (None, None, "", ",", ".", " ", "'")
KINDS = ("number", "text", "date")


def _table_digest(table):
    """What a read produced, comparable between two reads of the same file."""
    cols = []
    for name, col in zip(table.columns, table.data):
        if col.kind == "text":
            cells = (tuple(col.categories), col.codes.tobytes())
        else:
            vals = np.where(col.missing, 0.0, col.values)
            cells = (vals.tobytes(), col.missing.tobytes(), col.bad)
        cols.append((name, col.kind, cells))
    return tuple(cols), table.lines.tobytes(), table.delimiter, table.encoding


def csv_target(data):
    from neuralcli.errors import DataError
    from neuralcli.reader import Scan, read_table

    inp = Input(data)
    mode = inp.byte() % 4
    kw = {"delimiter": inp.pick(DELIMITERS), "encoding": inp.pick(ENCODINGS),
          "decimal": inp.pick(DECIMALS), "thousands": inp.pick(THOUSANDS)}
    if inp.flag():
        kw["na_values"] = [v for v in inp.text().split(",")]
    raw_delim = inp.byte()
    if raw_delim & 0x80:
        kw["delimiter"] = chr(raw_delim & 0x7f)
    threads = 1 + inp.byte() % 2
    block = 1 + inp.uint16() % 4096
    chunk_rows = 1 + inp.byte() % 64
    kinds_byte = inp.byte()
    body = inp.rest()
    if mode == 3:
        body = gzip.compress(body, mtime=0)
    suffix = ".csv.gz" if mode == 3 else ".csv"
    with _scratch(body, suffix) as path:
        if mode == 1:
            # a file in chunks, as training on a file bigger than memory reads it, with
            # some columns' kinds fixed as a model fixes them, then the whole-file rule
            try:
                with Scan(path, threads=threads, block_size=block, **kw) as scan:
                    if kinds_byte and scan.names:
                        name = scan.names[kinds_byte % len(scan.names)]
                        scan.kinds[scan.names.index(name)] = KINDS[kinds_byte % 3]
                    n = sum(len(t.lines) for t in scan.chunks(chunk_rows))
                    assert n == scan.n_rows, (n, scan.n_rows)
                    scan.retype()
            except DataError:
                pass
            return
        # the same file read with small blocks and given threads, and with the defaults:
        # the blocks and threads must not change what is read, nor the error
        outcomes = []
        for args in ({"threads": threads, "block_size": block}, {"threads": 1}):
            try:
                outcomes.append(("table", _table_digest(read_table(path, **args, **kw))))
            except DataError as err:
                assert "\n" not in str(err), str(err)
                outcomes.append(("error", str(err)))
        assert outcomes[0] == outcomes[1], \
            f"block size {block} and {threads} threads read differently:\n" \
            f"{outcomes[0]!r:.2000}\n{outcomes[1]!r:.2000}"


# ------------------------------------------------------------------ the model loader

def seal(content):
    """content (a model file's bytes but its last 32) with the SHA-256 that load checks
    appended: lets mutations of the header and arrays reach the checks after the
    checksum."""
    return content + hashlib.sha256(content).digest()


def build_model_file(header_text, data_section):
    """A model file around a header's text and a data section: the preamble with the
    header's length, the padding, and the checksum (docs/model-format.md)."""
    from neuralcli.persist import FORMAT_VERSION, MAGIC

    head = struct.pack("<8sIQ", MAGIC, FORMAT_VERSION, len(header_text)) + header_text
    head += b"\0" * (-len(head) % 64)
    return seal(head + data_section)


def model_target(data):
    """First byte: 0 the input is the file; 1 the file re-sealed (its last 32 bytes
    replaced by the checksum of the rest); 2 a header's JSON text, a NUL byte, and the data
    section, put together into a file with a right preamble and checksum."""
    from neuralcli.checkpoint import Checkpoint
    from neuralcli.estimators import MLPClassifier, MLPRegressor
    from neuralcli.model import TrainedModel
    from neuralcli.persist import ModelFileError, load

    inp = Input(data)
    mode = inp.byte() % 3
    rest = inp.rest()
    if mode == 1:
        rest = seal(rest[:-32])
    elif mode == 2:
        header, _, section = rest.partition(b"\0")
        rest = build_model_file(header, section)
    with _scratch(rest, ".ncm") as path:
        try:
            saved = load(path)
        except ModelFileError as err:
            assert "\n" not in str(err) and str(err).startswith(path), str(err)
            return
        assert saved.model.params.size > 0
        # each loader takes its own kind of file and refuses the others'
        for cls in (TrainedModel, MLPClassifier, MLPRegressor):
            try:
                model = cls.load(path)
            except ModelFileError as err:
                assert "\n" not in str(err) and str(err).startswith(path), str(err)
                continue
            if cls is TrainedModel:
                assert model.pre.n_features == model.net.sizes[0]
            else:
                assert model.n_features_in_ == model._model.sizes[0]
        try:
            ckpt = Checkpoint.read(path)
        except ModelFileError as err:
            assert "\n" not in str(err) and str(err).startswith(path), str(err)
        else:
            assert ckpt.state.params.shape == ckpt.model.net.params.shape


# ------------------------------------------------------------------ command-line options

NUMBER_WORDS = ("0", "1", "-1", "1e400", "nan", "inf", "-0", "1_0", "0x10", "99999999999999999999",
                "1.5", " 2 ", "", "١٢", "1e-400")


def _value(inp):
    """An option's value: fuzzed text, or one of the tricky numbers, or two joined."""
    how = inp.byte() % 4
    if how == 0:
        return inp.pick(NUMBER_WORDS)
    if how == 1:
        return inp.pick(NUMBER_WORDS) + inp.pick((",", "M", "G", "k", "=", ".", "e")) + \
            inp.pick(NUMBER_WORDS)
    return inp.text()


# (command line before the options, options the fuzzer fills in)
COMMANDS = (
    (["train", "{missing}", "-o", "{out}"],
     ["--hidden", "--memory-limit", "--class-weight", "--lr", "--epochs", "--batch-size",
      "--val-split", "--patience", "--weight-decay", "--dropout", "--clip-norm", "--seed",
      "--threads", "--max-categories", "--na-values"]),
    (["inspect", "{csv}"],
     ["--na-values", "--delimiter", "--thousands", "--encoding", "--head",
      "--max-categories", "--target"]),
    (["explain", "neuron"], ["--inputs", "--weights", "--bias"]),
    (["demo", "learning-rate"], ["--lrs"]),
)
SMALL_CSV = b"a,b,c\n1,2.5,x\n3,,y\n5,1e3,x\n"


def options_target(data):
    from click.testing import CliRunner

    from neuralcli.cli import cli

    inp = Input(data)
    prefix, options = inp.pick(COMMANDS)
    argv_opts = []
    for _ in range(1 + inp.byte() % 4):
        argv_opts += [inp.pick(options), _value(inp)]
    with tempfile.TemporaryDirectory(prefix="neuralcli-fuzz-") as tmp:
        csv_path = os.path.join(tmp, "small.csv")
        with open(csv_path, "wb") as f:
            f.write(SMALL_CSV)
        names = {"missing": os.path.join(tmp, "missing.csv"), "csv": csv_path,
                 "out": os.path.join(tmp, "out.ncm")}
        argv = [a.format(**names) for a in prefix] + argv_opts
        # an unexpected exception raised, not worded as "internal error"
        result = CliRunner().invoke(cli, argv, env={"NEURALCLI_DEBUG": "1"})
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"neuralcli {argv!r} raised {type(exc).__name__}: "
                             f"{exc}") from exc
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    if result.exit_code != 0:
        assert result.exit_code in (1, 2), (argv, result.exit_code, out)
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, (argv, result.stderr)
    else:
        assert prefix[0] != "train", ("train of a missing file succeeded", argv)


TARGETS = {"csv": csv_target, "model": model_target, "options": options_target}
