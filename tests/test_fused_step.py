"""The fused small-network step: the same gradients and loss as the layer-by-layer path,
bitwise identical for any thread count and on every ISA path."""
import os

import numpy as np
import pytest

from helpers import run_python
from neuralcli import _kernels
from neuralcli.activations import ACTIVATIONS
from neuralcli.losses import evaluate
from neuralcli.network import MLP

CASES = [
    ([2, 64, 1], ["relu", "identity"], "bce"),
    ([4, 33, 17, 3], ["tanh", "gelu", "identity"], "cross_entropy"),
    ([5, 130, 33, 2], ["leaky_relu", "elu", "identity"], "mse"),
    ([3, 9, 2], ["softmax", "identity"], "mae"),
    ([6, 200, 1], ["sigmoid", "sigmoid"], "mse"),
    # one-output layers whose inputs are no multiple of a vector: the scalar columns
    ([5, 1], ["identity"], "bce"),
    ([4, 21, 1], ["tanh", "identity"], "mse"),
]


def _problem(sizes, loss, dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        return x, None, rng.integers(0, sizes[-1], n).astype(np.int32)
    t = rng.standard_normal((n, sizes[-1])).astype(dtype)
    if loss == "bce":
        t = (t > 0).astype(dtype)
    return x, t, None


def _fused(net, x, t, labels, loss, sw=None, l2=0.0):
    n = x.shape[0]
    work = np.zeros(net.workspace_bytes(n, fused=True) + 64, np.uint8)
    grads = np.empty_like(net.params)
    out = np.empty((n, net.sizes[-1]), net.dtype)
    value = net.fused_step(grads, out, work, x, t, labels, sw, loss, l2=l2)
    return value, grads, out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes,acts,loss", CASES)
@pytest.mark.parametrize("n", [1, 31, 77, 500])
def test_matches_layer_by_layer_path(sizes, acts, loss, dtype, n):
    net = MLP(sizes, acts, dtype=dtype, seed=1)
    assert net.fused
    net.params[...] = np.random.default_rng(2).standard_normal(net.n_params) * 0.5
    x, t, labels = _problem(sizes, loss, dtype, n)
    sw = np.random.default_rng(3).uniform(0.5, 2, n).astype(dtype)
    target = labels if labels is not None else t
    want_loss, want = net.gradient(x, lambda o, d: evaluate(loss, o, target, sw, d))
    got_loss, got, out = _fused(net, x, t, labels, loss, sw)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got_loss, want_loss, rtol=tol)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(out, net.forward(x), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", [a for a, spec in ACTIVATIONS.items() if spec.trainable])
def test_every_activation_matches_layer_by_layer(act, dtype):
    test_matches_layer_by_layer_path([4, 21, 9, 3], [act, act, "identity"], "cross_entropy",
                                     dtype, 77)


def test_l2_and_zero_weights():
    net = MLP([3, 16, 1], ["relu", "identity"], dtype=np.float64, seed=4)
    # non-zero biases, so an L2 term that reached them would show
    net.params[...] = np.random.default_rng(6).standard_normal(net.n_params)
    x, t, _ = _problem(net.sizes, "mse", np.float64, 40)
    _, g0, _ = _fused(net, x, t, None, "mse")
    _, g1, _ = _fused(net, x, t, None, "mse", l2=0.5)
    diff = g1 - g0
    np.testing.assert_allclose(diff[:48], 0.5 * net.params[:48], rtol=1e-12)     # W0
    assert not diff[48:64].any()                                                  # b0
    np.testing.assert_allclose(diff[64:80], 0.5 * net.params[64:80], rtol=1e-12)  # W1
    assert not diff[80:].any()                                                    # b1
    loss, g, _ = _fused(net, x, t, None, "mse", sw=np.zeros(40))
    assert loss == 0 and not g.any()


@pytest.mark.parametrize("sizes,acts,loss", CASES)
def test_bitwise_equal_across_thread_counts(sizes, acts, loss, threads):
    net = MLP(sizes, acts, dtype=np.float32, seed=5)
    x, t, labels = _problem(sizes, loss, np.float32, 1000)
    runs = []
    for n in (1, 2):
        threads(n)
        runs.append(_fused(net, x, t, labels, loss))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1].tobytes() == runs[1][1].tobytes()


SCRIPT = r"""
import numpy as np, sys
from neuralcli.network import MLP
from neuralcli import _kernels
net = MLP([7, 100, 37, 3], ["relu", "tanh", "identity"], dtype=np.float32, seed=6)
rng = np.random.default_rng(7)
x = rng.standard_normal((333, 7)).astype(np.float32)
labels = rng.integers(0, 3, 333).astype(np.int32)
work = np.zeros(net.workspace_bytes(333, fused=True) + 64, np.uint8)
g = np.empty_like(net.params)
out = np.empty((333, 3), np.float32)
loss = net.fused_step(g, out, work, x, None, labels, None, "cross_entropy")
sys.stdout.write(_kernels.get_isa() + " " + g.tobytes().hex()[:4000] + " " + repr(loss))
"""


ISAS = ("portable", "avx2", "avx512")


def test_bitwise_equal_across_isa_paths():
    """Each NEURALCLI_ISA cap runs the path it names, or the best this CPU has below it;
    every path this CPU supports runs once at least, and all give the same bits."""
    detected = ISAS.index(_kernels.detect_isa())
    results = {}
    for want, isa in enumerate(ISAS):
        env = dict(os.environ, NEURALCLI_ISA=isa)
        out = run_python(SCRIPT, env=env, check=True).stdout.split()
        assert out[0] == ISAS[min(want, detected)], f"NEURALCLI_ISA={isa} ran {out[0]}"
        results[out[0]] = out[1:]
    assert sorted(results, key=ISAS.index) == list(ISAS[:detected + 1])
    assert len(set(map(tuple, results.values()))) == 1, list(results)


def test_large_networks_take_the_general_path():
    assert not MLP([784, 256, 128, 10], ["relu", "relu", "identity"]).fused
    assert not MLP([2, 64, 1], ["relu", "identity"], dropout=[0.2, 0]).fused


def test_the_limit_follows_the_weight_bytes():
    assert MLP([5, 64, 64, 1], ["relu", "relu", "identity"]).fused          # 18 KB
    assert not MLP([5, 128, 128, 1], ["relu", "relu", "identity"]).fused    # 68 KB
    # the same shape fits in float32 and not in float64
    sizes, acts = [5, 100, 60, 1], ["relu", "relu", "identity"]
    assert MLP(sizes, acts, dtype=np.float32).fused
    assert not MLP(sizes, acts, dtype=np.float64).fused
