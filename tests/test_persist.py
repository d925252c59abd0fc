"""Model files: round trips, every kind of damaged or foreign file, atomic writes."""
import ast
import hashlib
import json
import math
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest

from neuralcli import persist
from neuralcli._version import __version__
from neuralcli.network import MLP
from neuralcli.persist import ModelFileError, load, save

from helpers import assert_bitwise_equal

DTYPES = ["float32", "float64"]


def make_model(dtype="float32"):
    return MLP([5, 9, 4, 3], ["relu", "leaky_relu", "softmax"], dtype=dtype, seed=7,
               dropout=[0.25, 0.0, 0.0], act_params=[0.0, 0.2, 0.0])


def sample_arrays():
    return {
        "mean": np.linspace(-1, 1, 5),
        "scale": np.arange(1, 6, dtype=np.float32),
        "codes": np.arange(12, dtype=np.int64).reshape(3, 4),
        "counts": np.array([3, -1], dtype=np.int32),
        "bytes": np.arange(7, dtype=np.uint8),
        "mask": np.array([[True, False], [False, True]]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "big_endian": np.arange(4, dtype=">f8"),
        "params": np.array([1.0]),          # a name the weights' own entry does not clash with
        "labels": np.array(["cat", "dög", "", "🐍"]),
    }


@pytest.fixture
def saved(tmp_path):
    """A file with a network and arrays, and its bytes."""
    path = tmp_path / "model.ncm"
    save(path, make_model(), meta={"task": "classification"}, arrays=sample_arrays())
    return path, path.read_bytes()


def rewrite(path, data):
    path.write_bytes(bytes(data))
    return path


def raises(path, *fragments):
    """Load must fail with a one-line ModelFileError naming the file and each fragment."""
    with pytest.raises(ModelFileError) as info:
        load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def parts(data):
    """(header dict, data section bytes) of a valid file."""
    _, _, hlen = struct.unpack_from("<8sIQ", data)
    start = -(-(20 + hlen) // 64) * 64
    return json.loads(data[20:20 + hlen]), data[start:-32]


def craft(path, header, body=b"", *, version=1, magic=b"NEURALCL", header_len=None):
    """A file laid out like save's, from any header, with a correct checksum, so each
    check is reached on its own rather than caught by the checksum."""
    text = json.dumps(header).encode() if isinstance(header, dict) else header
    head = struct.pack("<8sIQ", magic, version,
                       len(text) if header_len is None else header_len) + text
    head += bytes(-len(head) % 64)
    data = head + body
    return rewrite(path, data + hashlib.sha256(data).digest())


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_is_bitwise(tmp_path, dtype):
    model = make_model(dtype)
    arrays = sample_arrays()
    meta = {"task": "classification", "loss": "cross_entropy", "labels": ["a", "b", "c"],
            "history": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": None}],
            "settings": {"lr": 1e-3, "nested": {"deep": [1, [2, [3]]]}}, "unicode": "héllo"}
    save(tmp_path / "m.ncm", model, meta=meta, arrays=arrays)
    got = load(tmp_path / "m.ncm")

    assert isinstance(got, persist.SavedModel)
    m = got.model
    assert (m.sizes, m.activations, m.act_params, m.dropout, m.dtype) == \
        (model.sizes, model.activations, model.act_params, model.dropout, model.dtype)
    assert_bitwise_equal(m.params, model.params, "params")
    x = np.random.default_rng(0).standard_normal((33, 5)).astype(dtype)
    assert_bitwise_equal(m.forward(x), model.forward(x), "forward")

    assert got.meta == meta
    assert list(got.arrays) == list(arrays)
    for name, want in arrays.items():
        have = got.arrays[name]
        assert have.shape == want.shape and have.dtype.kind == want.dtype.kind, name
        if want.dtype.kind == "U":
            assert have.tolist() == want.tolist(), name
        else:
            native = want.astype(want.dtype.newbyteorder("="))
            assert_bitwise_equal(have.reshape(-1), native.reshape(-1), name)
    assert got.version == __version__ and got.format_version == persist.FORMAT_VERSION


def test_round_trip_untrainable_net_and_defaults(tmp_path):
    model = MLP([3, 2, 1], ["step", "identity"], dtype="float64", seed=1)
    save(str(tmp_path / "p.ncm"), model)                  # str paths work too
    got = load(str(tmp_path / "p.ncm"))
    assert got.meta == {} and got.arrays == {}
    x = np.random.default_rng(1).standard_normal((10, 3))
    assert_bitwise_equal(got.model.forward(x), model.forward(x), "forward")


def test_meta_is_plain_json(tmp_path):
    meta = {"loss": np.float32(0.25), "epochs": np.int64(3), "ok": np.bool_(True),
            "pair": (1, 2), "history": [1.0, float("nan"), float("inf")]}
    save(tmp_path / "m.ncm", make_model(), meta=meta)
    got = load(tmp_path / "m.ncm").meta
    assert got["loss"] == 0.25 and type(got["loss"]) is float
    assert got["epochs"] == 3 and got["ok"] is True and got["pair"] == [1, 2]
    assert math.isnan(got["history"][1]) and got["history"][2] == math.inf


@pytest.mark.parametrize("meta, error", [
    ({1: "int key"}, TypeError),
    ({"a": np.zeros(3)}, TypeError),
    ({"a": {1, 2}}, TypeError),
    ({"a": object()}, TypeError),
    ([1, 2], TypeError),
])
def test_meta_that_json_cannot_hold_is_refused_before_writing(tmp_path, meta, error):
    with pytest.raises(error):
        save(tmp_path / "m.ncm", make_model(), meta=meta)
    assert os.listdir(tmp_path) == []


def test_self_referencing_meta_is_refused(tmp_path):
    meta = {"a": []}
    meta["a"].append(meta)
    with pytest.raises(ValueError, match="refers to itself"):
        save(tmp_path / "m.ncm", make_model(), meta=meta)


@pytest.mark.parametrize("attr, value", [("dropout", [1.0, 0.0, 0.0]),
                                         ("act_params", [0.0, float("inf"), 0.0])])
def test_unloadable_models_are_refused_before_writing(tmp_path, attr, value):
    model = make_model()
    setattr(model, attr, value)
    with pytest.raises(ValueError, match="dropout|finite"):
        save(tmp_path / "m.ncm", model)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value, error", [
    (np.zeros(3, dtype=np.complex128), TypeError),
    (np.zeros(3, dtype=np.float16), TypeError),
    (np.array([object()]), TypeError),
    (np.array(["a", "b"]).reshape(1, 2), ValueError),
    (np.array([b"bytes"]), TypeError),
])
def test_arrays_outside_the_allow_list_are_refused(tmp_path, value, error):
    with pytest.raises(error):
        save(tmp_path / "m.ncm", make_model(), arrays={"x": value})
    assert os.listdir(tmp_path) == []


def test_layout(saved):
    _, data = saved
    magic, version, hlen = struct.unpack_from("<8sIQ", data)
    assert magic == b"NEURALCL" and version == 1
    header, body = parts(data)
    start = -(-(20 + hlen) // 64) * 64
    entries = [header["network"]["params"]] + [e for e in header["arrays"]
                                                if e["dtype"] != "str"]
    assert all(e["offset"] % 64 == 0 for e in entries)
    assert len(data) == start + header["data_bytes"] + 32
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    assert header["library_version"] == __version__


# ------------------------------------------------------------------ damaged files


def test_truncations_are_refused(tmp_path, saved):
    _, data = saved
    cut = tmp_path / "cut.ncm"
    # every byte of the preamble, a stride through the rest, every byte of the checksum
    points = sorted({*range(24), *range(24, len(data), 11), *range(len(data) - 40, len(data))})
    for n in points:
        msg = raises(rewrite(cut, data[:n]))
        assert ("truncated" in msg) or ("empty file" in msg), msg


def test_truncation_messages_say_what_is_missing(tmp_path, saved):
    _, data = saved
    header, _ = parts(data)
    _, _, hlen = struct.unpack_from("<8sIQ", data)
    start = -(-(20 + hlen) // 64) * 64
    cut = tmp_path / "cut.ncm"
    raises(rewrite(cut, b""), "empty file")
    raises(rewrite(cut, data[:12]), "truncated", "preamble")
    raises(rewrite(cut, data[:40]), "truncated", f"{hlen:,}-byte header")
    nbytes = header["network"]["params"]["nbytes"]
    raises(rewrite(cut, data[:start + 10]), f"expected {nbytes:,} bytes of the weights",
           "found 10")
    raises(rewrite(cut, data[:-5]), "checksum", "found 27")
    raises(rewrite(cut, data + b"\0"), "1 unexpected bytes")


def test_flipped_bytes_in_the_data_fail_the_checksum(tmp_path, saved):
    _, data = saved
    _, _, hlen = struct.unpack_from("<8sIQ", data)
    start = -(-(20 + hlen) // 64) * 64
    bad = tmp_path / "bad.ncm"
    for pos in [start, start + 17, len(data) - 40, len(data) - 1]:
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        raises(rewrite(bad, flipped), "checksum mismatch")


def test_flipped_header_bytes_are_refused(tmp_path, saved):
    _, data = saved
    _, _, hlen = struct.unpack_from("<8sIQ", data)
    bad = tmp_path / "bad.ncm"
    for pos in [*range(20), *range(20, 20 + hlen, 5)]:
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        raises(rewrite(bad, flipped))


def test_header_flip_that_stays_valid_json_is_caught_by_the_checksum(tmp_path, saved):
    _, data = saved
    pos = data.index(b'"task":"classification"') + len(b'"task":"c')
    flipped = bytearray(data)
    flipped[pos] ^= 0x01                                  # still a valid string
    raises(rewrite(tmp_path / "bad.ncm", flipped), "checksum mismatch")


class Marker:
    """Unpickling this creates a file: the test that nothing is ever unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def test_foreign_files_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(Marker(str(marker)), protocol=4))
    raises(pickled, "not a neuralcli model file", "pickle")
    np.save(tmp_path / "arr.npy", np.arange(3))
    raises(tmp_path / "arr.npy", "not a neuralcli model file")
    raises(rewrite(tmp_path / "data.csv", b"a,b,c\n1,2,3\n"), "not a neuralcli model file")
    raises(rewrite(tmp_path / "img.png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
           "not a neuralcli model file")
    raises(rewrite(tmp_path / "noise", np.random.default_rng(0).bytes(4096)),
           "not a neuralcli model file")
    raises(rewrite(tmp_path / "tiny", b"NEUR"), "truncated")
    assert not marker.exists()


def test_persist_never_imports_or_calls_a_code_loader():
    tree = ast.parse(open(persist.__file__, encoding="utf-8").read())
    banned = {"pickle", "cPickle", "marshal", "shelve", "dill", "joblib", "cloudpickle"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & banned
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
            assert name not in {"eval", "exec", "compile", "__import__", "load", "loads"} \
                or ast.unparse(f) in {"json.loads"}, ast.unparse(node)
        elif isinstance(node, ast.keyword):
            assert node.arg != "allow_pickle"


# ------------------------------------------------------------------ crafted headers


def good_header(**net):
    network = {"sizes": [2, 3], "activations": ["relu"], "act_params": [0.0],
               "dropout": [0.0], "dtype": "float64",
               "params": {"dtype": "float64", "shape": [9], "offset": 0, "nbytes": 72}}
    network.update(net)
    return {"library_version": "0.1.0", "network": network, "arrays": [],
            "data_bytes": 72, "meta": {}}


def test_crafted_good_header_loads(tmp_path):
    got = load(craft(tmp_path / "m.ncm", good_header(), np.arange(9.0).tobytes()))
    assert got.model.sizes == [2, 3] and got.model.params.tolist() == list(range(9))


def test_huge_array_is_refused_without_allocating(tmp_path):
    header = good_header()
    header["arrays"] = [{"name": "huge", "dtype": "float64", "shape": [10 ** 12],
                         "offset": 128, "nbytes": 8 * 10 ** 12}]
    path = craft(tmp_path / "m.ncm", header, np.arange(9.0).tobytes())
    tracemalloc.start()
    try:
        raises(path, "'huge'", "data section")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_huge_params_and_sizes_are_refused(tmp_path):
    n = 10 ** 6 * 10 ** 6 + 10 ** 6
    header = good_header(sizes=[10 ** 6, 10 ** 6],
                         params={"dtype": "float64", "shape": [n], "offset": 0,
                                 "nbytes": 8 * n})
    raises(craft(tmp_path / "m.ncm", header, np.arange(9.0).tobytes()), "the weights",
           "data section")


@pytest.mark.parametrize("entry, fragment", [
    ({"dtype": "float16", "shape": [2], "offset": 128, "nbytes": 4}, "dtype 'float16'"),
    ({"dtype": "object", "shape": [1], "offset": 128, "nbytes": 8}, "dtype 'object'"),
    ({"dtype": "<U4", "shape": [1], "offset": 128, "nbytes": 16}, "allowed"),
    ({"dtype": "float64", "shape": [-1], "offset": 128, "nbytes": 8}, "non-negative"),
    ({"dtype": "float64", "shape": [1.5], "offset": 128, "nbytes": 12}, "non-negative"),
    ({"dtype": "float64", "shape": [True], "offset": 128, "nbytes": 8}, "non-negative"),
    ({"dtype": "float64", "shape": 3, "offset": 128, "nbytes": 24}, "non-negative"),
    ({"dtype": "float64", "shape": [2], "offset": 128, "nbytes": 8}, "claims 8"),
    ({"dtype": "float64", "shape": [2], "offset": 100, "nbytes": 16}, "multiple of 64"),
    ({"dtype": "float64", "shape": [2], "offset": -64, "nbytes": 16}, "non-negative"),
    ({"dtype": "float64", "shape": [2], "offset": 0, "nbytes": 16}, "overlap"),
    ({"dtype": "str", "shape": [2], "width": 1, "values": ["a"]}, "1 strings"),
    ({"dtype": "str", "shape": [1], "width": 1, "values": ["long"]}, "width"),
    ({"dtype": "str", "shape": [1], "width": 1, "values": [3]}, "list of strings"),
])
def test_bad_array_entries_are_refused(tmp_path, entry, fragment):
    header = good_header()
    header["arrays"] = [{"name": "x", **entry}]
    header["data_bytes"] = 144
    raises(craft(tmp_path / "m.ncm", header, bytes(144)), fragment)


@pytest.mark.parametrize("net, fragment", [
    ({"sizes": [2]}, "network.sizes"),
    ({"sizes": [2, 0]}, "network.sizes"),
    ({"sizes": "2,3"}, "network.sizes should be a list"),
    ({"activations": ["mish"]}, "network.activations"),
    ({"activations": ["relu", "relu"]}, "network.activations"),
    ({"act_params": [float("nan")]}, "act_params"),
    ({"act_params": [10 ** 400]}, "act_params"),
    ({"dropout": [1.0]}, "dropout"),
    ({"dtype": "float16"}, "float16"),
    ({"params": {"dtype": "float32", "shape": [9], "offset": 0, "nbytes": 36}},
     "differs from the network dtype"),
    ({"params": {"dtype": "float64", "shape": [8], "offset": 0, "nbytes": 64}},
     "9 parameters of a 2-3 network"),
])
def test_bad_architecture_is_refused(tmp_path, net, fragment):
    raises(craft(tmp_path / "m.ncm", good_header(**net), np.arange(9.0).tobytes()),
           fragment)


def test_bad_bool_bytes_are_refused(tmp_path):
    header = good_header()
    header["arrays"] = [{"name": "b", "dtype": "bool", "shape": [2], "offset": 128,
                         "nbytes": 2}]
    header["data_bytes"] = 130
    body = np.arange(9.0).tobytes() + bytes(56) + b"\x01\x07"
    raises(craft(tmp_path / "m.ncm", header, body), "bool bytes")


def test_future_format_version_says_to_upgrade(tmp_path):
    path = craft(tmp_path / "m.ncm", good_header(), np.arange(9.0).tobytes(), version=7)
    raises(path, "format version 7", f"up to {persist.FORMAT_VERSION}", "upgrade")
    raises(craft(path, good_header(), version=0), "version 0 is not valid")


@pytest.mark.parametrize("header, fragment", [
    (b"[1, 2]", "JSON object"),
    (b"{not json", "not valid JSON"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"s": "\xff\xfe"}', "not UTF-8"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b"{}", "has no 'network'"),
    (json.dumps({**good_header(), "arrays": [{"name": "a", "dtype": "str", "shape": [0],
                                             "width": 0, "values": []}] * 2}).encode(),
     "appears twice"),
])
def test_malformed_headers_are_refused(tmp_path, header, fragment):
    raises(craft(tmp_path / "m.ncm", header), fragment)


def test_header_length_beyond_the_file_is_refused(tmp_path):
    raises(craft(tmp_path / "m.ncm", b"{}", header_len=10 ** 15), "implausible")
    raises(craft(tmp_path / "m.ncm", b"{}", header_len=5000), "truncated", "5,000-byte")


# ------------------------------------------------------------------ paths


def test_unopenable_paths(tmp_path):
    raises(tmp_path / "missing.ncm", "no such file")
    raises(tmp_path, "is a directory")
    raises(rewrite(tmp_path / "empty.ncm", b""), "empty file")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        raises(tmp_path / "fifo", "not a regular file")


@pytest.mark.unprivileged
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permission bits do not bind root")
def test_unreadable_file(saved):
    path, _ = saved
    path.chmod(0)
    try:
        raises(path, "cannot open", "ermission")
    finally:
        path.chmod(0o644)


# ------------------------------------------------------------------ atomic writes


def test_saving_over_a_file_replaces_it(saved):
    path, old = saved
    other = MLP([2, 2], "identity", dtype="float64", seed=3)
    save(path, other, meta={"v": 2})
    got = load(path)
    assert got.model.sizes == [2, 2] and got.meta == {"v": 2}
    assert path.read_bytes() != old
    assert os.listdir(path.parent) == [path.name]


def test_new_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save(tmp_path / "m.ncm", make_model())
    finally:
        os.umask(old)
    assert (tmp_path / "m.ncm").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("where", ["fsync", "write", "replace", "interrupt"])
def test_a_failed_write_leaves_the_old_file_and_no_temp(saved, monkeypatch, where):
    path, old = saved

    def boom(*args, **kwargs):
        raise {"fsync": OSError(5, "Input/output error"),
               "write": RuntimeError("disk vanished"),
               "replace": OSError(28, "No space left on device"),
               "interrupt": KeyboardInterrupt()}[where]

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    elif where == "replace":
        monkeypatch.setattr(os, "replace", boom)
    else:
        def write(f, *args):
            f.write(b"NEURALCL partial")
            boom()
        monkeypatch.setattr(persist, "_write_all", write)

    expected = {"fsync": ModelFileError, "replace": ModelFileError,
                "write": RuntimeError, "interrupt": KeyboardInterrupt}[where]
    with pytest.raises(expected) as info:
        save(path, MLP([2, 2], "identity"), meta={"new": True})
    if expected is ModelFileError:
        assert str(info.value).startswith(f"{path}: cannot write a model")
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(path.parent) == [path.name]


def test_missing_directory(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        save(tmp_path / "nope" / "m.ncm", make_model())
    assert os.listdir(tmp_path) == []


def test_directory_at_the_target(tmp_path):
    (tmp_path / "m.ncm").mkdir()
    with pytest.raises(ModelFileError, match="is a directory"):
        save(tmp_path / "m.ncm", make_model())


def test_permission_denied_is_a_model_file_error(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(ModelFileError, match="Permission denied") as info:
        save(tmp_path / "m.ncm", make_model())
    assert isinstance(info.value.__cause__, PermissionError)


@pytest.mark.unprivileged
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permission bits do not bind root")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ModelFileError, match="ermission denied"):
            save(ro / "m.ncm", make_model())
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------ categorical rows


def test_round_trip_keeps_n_dense(tmp_path):
    from neuralcli.network import Encoded
    net = MLP([3 + 40, 6, 2], ["relu", "identity"], n_dense=3, seed=1)
    path = tmp_path / "m.ncm"
    save(path, net)
    assert parts(path.read_bytes())[0]["network"]["n_dense"] == 3
    got = load(path).model
    assert got.n_dense == 3
    rng = np.random.default_rng(0)
    enc = Encoded(rng.standard_normal((5, 3)), np.array([[3], [42], [-1], [10], [3]],
                                                         np.int32))
    assert_bitwise_equal(got.forward(enc), net.forward(enc))


def test_a_file_without_n_dense_loads_every_input_dense(tmp_path):
    assert "n_dense" not in good_header()["network"]
    got = load(craft(tmp_path / "m.ncm", good_header(), np.arange(9.0).tobytes()))
    assert got.model.n_dense == 2


@pytest.mark.parametrize("value", [-1, 3, 1.5, "2", True])
def test_a_bad_n_dense_is_refused(tmp_path, value):
    path = craft(tmp_path / "m.ncm", good_header(n_dense=value), np.arange(9.0).tobytes())
    raises(path, "network.n_dense should be an integer in [0, 2]")
