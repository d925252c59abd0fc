"""Categorical inputs as first-layer row codes: the gather and scatter kernels against
their naive forms, whole networks against the oracle on the one-hot expansion, finite
differences and PyTorch, thread counts and ISA paths bitwise, training on an Encoded
against training on its expansion, and the shim's checks."""
import copy
import os
import pickle

import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, run_python, tolerance
from neuralcli import _kernels
from neuralcli.losses import LOSSES, evaluate
from neuralcli.network import MLP, Encoded
from neuralcli.training import Task, TrainConfig, Trainer

DTYPES = [np.float64, np.float32]


def _codes(rng, n, n_dense, blocks, missing=0.15):
    """(n, len(blocks)) int32 codes, column c picking a row of its block of W_0's rows
    (blocks are category counts, laid out after the n_dense dense rows); a fraction of
    each column is -1. Categories above half of each block are never drawn, so some rows
    are never selected."""
    cols, start = [], n_dense
    for k in blocks:
        col = start + rng.integers(0, max(1, k // 2 + 1), n)
        col[rng.random(n) < missing] = -1
        cols.append(col)
        start += k
    return np.stack(cols, axis=1).astype(np.int32) if cols else np.zeros((n, 0), np.int32)


def _problem(n_dense, blocks, hidden, acts, dtype, n, seed=0):
    sizes = [n_dense + sum(blocks), *hidden]
    net = MLP(sizes, acts, n_dense=n_dense, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    net.params[...] = rng.standard_normal(net.n_params) * 0.5
    enc = Encoded(rng.standard_normal((n, n_dense)).astype(dtype),
                  _codes(rng, n, n_dense, blocks))
    return net, enc


def _oracle(net, x, dout):
    """float64 forward and backward of the layers on dense inputs x: (out, grads)."""
    hs, zs = [np.asarray(x, np.float64)], []
    for w, b, act, p in zip(net.weights, net.biases, net.activations, net.act_params):
        y, z = ref.dense_forward(hs[-1], w, b, act, p)
        hs.append(y)
        zs.append(z)
    grads, dy = [], np.asarray(dout, np.float64)
    for l in reversed(range(net.n_layers)):
        w = net.weights[l]
        dx, dw, db = ref.dense_backward(dy, hs[l], w, zs[l], net.activations[l],
                                        net.act_params[l])
        grads = [dw.reshape(-1), db] + grads
        dy = dx
    return hs[-1], np.concatenate(grads)


def _gradient(net, x, dout):
    """The network's (out, grads) with dout as d(loss)/d(out), into a NaN-filled buffer
    so every element must be written."""
    grads = np.full_like(net.params, np.nan)

    def fill(out, d):
        d[...] = dout
        return 0.0

    net.gradient(x, fill, grads=grads)
    return net.forward(x), grads


# ------------------------------------------------------------------ kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("oc", [1, 15, 16, 17, 33, 64, 100])
def test_gather_and_scatter_match_their_naive_forms_and_numpy(dtype, oc, threads):
    rng = np.random.default_rng(oc)
    n, c, r0 = 300, 90, 10
    w = rng.standard_normal((c, oc)).astype(dtype)
    codes = _codes(rng, n, r0, [30, 1, 50])
    dz = rng.standard_normal((n, oc)).astype(dtype)
    y0 = rng.standard_normal((n, oc)).astype(dtype)
    onehot = Encoded(np.zeros((n, r0), dtype), codes).to_dense(c).astype(np.float64)
    want_y = y0 + onehot @ w
    want_dw = onehot.T @ dz
    results = []
    for t in (1, 2):
        threads(t)
        y, y_ref = y0.copy(), y0.copy()
        _kernels.gather_rows_add(y, codes, w)
        _kernels.gather_rows_add(y_ref, codes, w, ref=True)
        dw = np.full((c, oc), np.nan, dtype)
        dw_ref = np.full((c, oc), np.nan, dtype)
        _kernels.scatter_rows_add(dw, dz, codes, r0, c)
        _kernels.scatter_rows_add(dw_ref, dz, codes, r0, c, ref=True)
        # the same additions in the same order: the same bits
        assert_bitwise_equal(y, y_ref, "gather")
        assert_bitwise_equal(dw[r0:], dw_ref[r0:], "scatter")
        assert np.isnan(dw[:r0]).all()  # rows outside [r0, r1) untouched
        rtol, atol = tolerance(dtype, 10)
        assert_close(y, want_y, rtol, atol, "gather")
        assert_close(dw[r0:], want_dw[r0:], rtol, atol, "scatter")
        results.append((y, dw))
    assert_bitwise_equal(results[0][0], results[1][0], "gather 1 vs 2 threads")
    assert_bitwise_equal(results[0][1][r0:], results[1][1][r0:], "scatter 1 vs 2 threads")


def test_scatter_writes_zero_rows_no_code_selects():
    dw = np.full((8, 3), 7.0)
    codes = np.array([[5], [-1], [5]], np.int32)
    _kernels.scatter_rows_add(dw, np.ones((3, 3)), codes, 4, 8)
    assert (dw[:4] == 7).all() and (dw[5] == 2).all()
    assert (dw[[4, 6, 7]] == 0).all()


# ------------------------------------------------------------------ networks vs the oracle

# (n_dense, category counts per column, hidden and output widths, activations)
CASES = [
    (3, [4, 7], [5, 2], ["tanh", "identity"]),                          # fused, narrow
    (0, [9], [33, 1], ["relu", "identity"]),                            # codes only
    (5, [20, 1, 60], [17, 3], ["gelu", "softmax"]),                     # needs z; softmax
    (7, [300, 40], [65, 4], ["elu", "identity"]),                       # GEMM path
    (2, [1000], [130, 33, 2], ["leaky_relu", "sigmoid", "identity"]),   # wide, deep
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_dense,blocks,hidden,acts", CASES)
@pytest.mark.parametrize("n", [1, 31, 200])
def test_forward_and_backward_match_the_oracle_on_the_expansion(n_dense, blocks, hidden,
                                                                 acts, dtype, n):
    net, enc = _problem(n_dense, blocks, hidden, acts, dtype, n)
    x = enc.to_dense(net.sizes[0])
    dout = np.random.default_rng(9).standard_normal((n, net.sizes[-1])).astype(dtype)
    want_out, want_g = _oracle(net, x, dout)
    out, g = _gradient(net, enc, dout)
    rtol, atol = tolerance(dtype, 50)
    assert_close(out, want_out, rtol, atol, "forward")
    assert_close(g, want_g, rtol, atol * max(1.0, np.abs(want_g).max()), "gradient")
    # the categorical rows never selected get an exact zero
    w0 = g[:net.sizes[0] * net.sizes[1]].reshape(net.sizes[0], net.sizes[1])
    used = np.zeros(net.sizes[0], bool)
    used[enc.codes[enc.codes >= 0]] = True
    assert not w0[n_dense:][~used[n_dense:]].any()
    # the same network given the one-hot floats agrees
    out_d, g_d = _gradient(net, x, dout)
    assert_close(out, out_d, rtol, atol, "codes vs one-hot forward")
    assert_close(g, g_d, rtol, atol * max(1.0, np.abs(g_d).max()), "codes vs one-hot grads")


def test_without_codes_is_the_dense_network_bitwise():
    rng = np.random.default_rng(0)
    net = MLP([6, 40, 3], ["relu", "identity"], dtype=np.float32, seed=2)
    x = rng.standard_normal((50, 6)).astype(np.float32)
    dout = rng.standard_normal((50, 3)).astype(np.float32)
    out_a, g_a = _gradient(net, x, dout)
    out_b, g_b = _gradient(net, Encoded(x, None), dout)
    assert_bitwise_equal(out_a, out_b, "forward")
    assert_bitwise_equal(g_a, g_b, "gradient")


def test_all_missing_codes_are_zero_one_hot_columns():
    net, enc = _problem(4, [10, 5], [8, 1], ["tanh", "identity"], np.float64, 20)
    enc = Encoded(enc.dense, np.full_like(enc.codes, -1))
    out, g = _gradient(net, enc, np.ones((20, 1)))
    w0 = g[:net.sizes[0] * 8].reshape(net.sizes[0], 8)
    assert not w0[4:].any()
    dense = MLP.from_weights([net.weights[0][:4], net.weights[1]], net.biases,
                             net.activations)
    np.testing.assert_allclose(out, dense.forward(enc.dense), rtol=1e-14)


def test_dropout_masks_the_same_units_with_codes_as_with_one_hot_floats():
    net, enc = _problem(4, [50, 8], [40, 30, 2], ["relu", "tanh", "identity"], np.float64,
                        60)
    net = MLP(net.sizes, net.activations, n_dense=4, dropout=[0.3, 0.2, 0.0],
              dtype="float64", seed=2)
    dout = np.random.default_rng(3).standard_normal((60, 2))
    got, want = [], []
    for x, res in ((enc, got), (enc.to_dense(net.sizes[0]), want)):
        grads = np.full_like(net.params, np.nan)
        captured = {}

        def fill(out, d):
            captured["out"] = out.copy()
            d[...] = dout
            return 0.0

        net.gradient(x, fill, grads=grads, train=True, seed=5, step=3)
        res += [captured["out"], grads]
    assert not np.allclose(got[0], net.forward(enc))  # dropout was applied
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_gradient_matches_finite_differences(loss):
    net, enc = _problem(2, [3, 4], [5, 3], ["tanh", "identity"], np.float64, 9, seed=3)
    rng = np.random.default_rng(4)
    t = (rng.integers(0, 3, 9).astype(np.int32) if loss == "cross_entropy"
         else rng.standard_normal((9, 3)))
    _, g = net.gradient(enc, lambda out, d: evaluate(loss, out, t, None, d))
    p0 = net.params.copy()

    def f(p):
        net.params[...] = p
        return evaluate(loss, net.forward(enc), t)

    num = ref.numeric_grad(f, p0)
    net.params[...] = p0
    assert_close(g, num, 1e-6, 1e-8, "gradient vs finite differences")


def test_gradient_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    net, enc = _problem(3, [6, 2, 9], [7, 2], ["elu", "identity"], np.float64, 25, seed=5)
    t = np.random.default_rng(6).standard_normal((25, 2))
    _, g = net.gradient(enc, lambda out, d: evaluate("mse", out, t, None, d))
    x = torch.tensor(enc.to_dense(net.sizes[0]))
    ws = [torch.tensor(w.copy(), requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    h = torch.nn.functional.elu(x @ ws[0] + bs[0])
    loss = torch.nn.functional.mse_loss(h @ ws[1] + bs[1], torch.tensor(t))
    loss.backward()
    want = np.concatenate([a.grad.numpy().reshape(-1)
                           for pair in zip(ws, bs) for a in pair])
    assert_close(g, want, 1e-10, 1e-12, "gradient vs torch")


# ------------------------------------------------------------------ the fused step


def _fused(net, enc, labels, sw=None, l2=0.0):
    n = len(enc)
    work = np.zeros(net._net.small_workspace(n, 2, net.dtype == np.float64) + 64, np.uint8)
    grads = np.full_like(net.params, np.nan)
    out = np.empty((n, net.sizes[-1]), net.dtype)
    loss = net._net.step_small(grads, out, work, enc.dense, None, labels, sw, net.params,
                               LOSSES["cross_entropy"].code, l2, enc.codes)
    return loss, grads, out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 33, 300])
@pytest.mark.parametrize("n_dense,blocks,hidden,acts", CASES[:3])
def test_fused_step_matches_the_layer_by_layer_path(n_dense, blocks, hidden, acts, dtype, n):
    net, enc = _problem(n_dense, blocks, hidden, acts, dtype, n)
    assert net.fused
    labels = np.random.default_rng(7).integers(0, net.sizes[-1], n).astype(np.int32)
    sw = np.random.default_rng(8).uniform(0.5, 2, n).astype(dtype)
    want_loss, want = net.gradient(enc, lambda o, d: evaluate("cross_entropy", o, labels,
                                                              sw, d))
    loss, got, out = _fused(net, enc, labels, sw)
    tol = 1e-12 if dtype == np.float64 else 5e-5
    np.testing.assert_allclose(loss, want_loss, rtol=tol)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(out, net.forward(enc), rtol=tol, atol=tol)


# ------------------------------------------------------------------ determinism


def test_bitwise_equal_at_one_and_two_threads(threads):
    # wide enough that the GEMM, gather and scatter all split across threads
    big, enc = _problem(5, [3000, 50], [64, 64, 2], ["relu", "relu", "identity"],
                        np.float32, 2000)
    small, senc = _problem(3, [20, 9], [16, 3], ["tanh", "identity"], np.float32, 1000)
    assert not big.fused and small.fused
    dout = np.random.default_rng(1).standard_normal((2000, 2)).astype(np.float32)
    labels = np.random.default_rng(2).integers(0, 3, 1000).astype(np.int32)
    runs = []
    for t in (1, 2):
        threads(t)
        runs.append(_gradient(big, enc, dout) + _fused(small, senc, labels)[1:])
    for a, b, name in zip(runs[0], runs[1], ["out", "grads", "fused grads", "fused out"]):
        assert_bitwise_equal(a, b, name)


ISA_SCRIPT = r"""
import hashlib, sys
import numpy as np
sys.path.insert(0, TESTS_DIR)
from neuralcli import _kernels
from test_sparse_input import _problem, _gradient, _fused
big, enc = _problem(5, [3000, 50], [64, 2], ["relu", "identity"], np.float32, 2000)
small, senc = _problem(3, [20, 9], [16, 3], ["tanh", "identity"], np.float32, 1000)
dout = np.random.default_rng(1).standard_normal((2000, 2)).astype(np.float32)
labels = np.random.default_rng(2).integers(0, 3, 1000).astype(np.int32)
def digest(arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.asarray(a).tobytes())
    return h.hexdigest()
out = [_kernels.get_isa()]
for t in (1, 2):
    _kernels.set_num_threads(t)
    out += [digest(_gradient(big, enc, dout)), digest(_fused(small, senc, labels))]
sys.stdout.write(" ".join(out))
"""


def test_bitwise_equal_across_thread_counts_on_every_isa_path():
    """On each ISA path 1 and 2 threads agree bitwise; the fused step also agrees across
    paths (the GEMM's micro-kernels differ by path, as they do for dense inputs)."""
    fused = set()
    for isa in ("portable", "avx2", "avx512"):
        env = dict(os.environ, NEURALCLI_ISA=isa)
        script = ISA_SCRIPT.replace("TESTS_DIR", repr(os.path.dirname(__file__)))
        got, gemm1, fused1, gemm2, fused2 = run_python(script, env=env,
                                                       check=True).stdout.split()
        assert gemm1 == gemm2, got
        assert fused1 == fused2, got
        fused.add(fused1)
    assert len(fused) == 1


# ------------------------------------------------------------------ training


@pytest.mark.parametrize("hidden", [[8], [96, 96]])  # fused step, then the GEMM path
def test_fit_on_encoded_matches_fit_on_its_expansion(hidden):
    rng = np.random.default_rng(0)
    n, n_dense, blocks = 240, 3, [12, 5]
    enc = Encoded(rng.standard_normal((n, n_dense)), _codes(rng, n, n_dense, blocks))
    sizes = [n_dense + sum(blocks), *hidden, 3]
    x = enc.to_dense(sizes[0])
    score = x @ rng.standard_normal((sizes[0], 3))
    y = score.argmax(axis=1).astype(np.int32)
    acts = ["relu"] * len(hidden) + ["identity"]
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.01, seed=3, l2=0.01)
    task = Task("multiclass", "cross_entropy", 3)
    nets = [MLP(sizes, acts, n_dense=n_dense, dtype="float64", seed=1) for _ in range(2)]
    assert nets[0].fused == (hidden == [8])
    st_enc = Trainer(nets[0], task, cfg).fit(enc, y, X_val=enc.take(slice(0, 60)),
                                             y_val=y[:60])
    st_den = Trainer(nets[1], task, cfg).fit(x, y, X_val=x[:60], y_val=y[:60])
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-9, atol=1e-11)
    for a, b in zip(st_enc.history, st_den.history):
        assert abs(a["loss"] - b["loss"]) < 1e-9 and abs(a["val_loss"] - b["val_loss"]) < 1e-9
    tr = Trainer(nets[0], task, cfg)
    np.testing.assert_allclose(tr.evaluate(enc, y), tr.evaluate(x, y), rtol=1e-12)


# ------------------------------------------------------------------ model objects


def test_copy_pickle_and_from_weights_keep_n_dense():
    net, enc = _problem(3, [4, 7], [5, 2], ["tanh", "identity"], np.float32, 10)
    for other in (net.copy(), pickle.loads(pickle.dumps(net)), copy.deepcopy(net),
                  MLP.from_weights(net.weights, net.biases, net.activations, n_dense=3)):
        assert other.n_dense == 3
        assert_bitwise_equal(other.forward(enc), net.forward(enc))
    old = net.__getstate__()
    del old["n_dense"]  # a pickle from before n_dense: every input dense
    restored = MLP.__new__(MLP)
    restored.__setstate__(old)
    assert restored.n_dense == net.sizes[0]


def test_summary_counts_a_row_add_per_code():
    net = MLP([5 + 20000, 64, 64, 1], ["relu", "relu", "identity"], n_dense=5, init=False)
    first = net.summary(n_cat=1)["layers"][0]
    assert first["flops_forward"] == 2 * 5 * 64 + 64
    assert first["flops_train"] == 2 * (2 * 5 * 64 + 64)
    assert net.summary(n_cat=3)["layers"][0]["flops_forward"] == 2 * 5 * 64 + 3 * 64
    dense = MLP([6, 64, 1], ["relu", "identity"], init=False).summary()["layers"][0]
    assert dense["flops_forward"] == 2 * 6 * 64 and "codes" not in dense


# ------------------------------------------------------------------ the shim's checks


@pytest.mark.parametrize("codes,match", [
    (np.array([[3, 4]] * 4, np.int64), "codes must be int32"),
    (np.array([3, 4, 5, 6], np.int32), r"codes has shape \(4,\), expected \(4, n_cat\)"),
    (np.array([[3, 4]] * 5, np.int32), r"codes has shape \(5, 2\)"),
    (np.asfortranarray(np.array([[3, 4]] * 4, np.int32)), "C-contiguous"),
    (np.array([[3, 4], [3, 2], [3, 4], [3, 4]], np.int32),
     r"codes\[1, 1\] = 2 is neither -1 nor a categorical row .* \[3, 14\)"),
    (np.array([[3, 4], [3, 4], [14, 4], [3, 4]], np.int32), r"codes\[2, 0\] = 14"),
    (np.array([[3, 4], [3, 4], [3, 4], [3, -2]], np.int32), r"codes\[3, 1\] = -2"),
])
def test_bad_codes_are_clear_value_errors(codes, match):
    net = MLP([14, 4, 1], ["relu", "identity"], n_dense=3)
    work, out, dout = net.buffers(4)
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        net._net.forward(out, work, x, net.params, False, 0, 0, codes)
    with pytest.raises(ValueError, match=match):
        net._net.backward(np.empty_like(net.params), None, work, dout, x, out, net.params,
                          0, 0, 0.0, codes)


def test_bad_shapes_are_clear_value_errors():
    net = MLP([14, 4, 1], ["relu", "identity"], n_dense=3)
    work, out, _ = net.buffers(4)
    codes = np.full((4, 1), 5, np.int32)
    with pytest.raises(ValueError, match=r"x has shape \(4, 14\), expected \(4, 3\)"):
        net._net.forward(out, work, np.zeros((4, 14), np.float32), net.params, False, 0, 0,
                         codes)
    with pytest.raises(ValueError, match=r"expected \(4, 14\), or \(4, 3\) with codes"):
        net._net.forward(out, work, np.zeros((4, 3), np.float32), net.params, False, 0, 0)
    with pytest.raises(ValueError, match="n_dense is 15"):
        MLP([14, 4, 1], ["relu", "identity"], n_dense=15)
    with pytest.raises(ValueError, match=r"Encoded.dense has shape \(4, 5\)"):
        net.forward(Encoded(np.zeros((4, 5)), codes))
