"""Whole-network gradients against finite differences and PyTorch autograd, for every
activation, loss and task; the flat parameter layout; the summary."""
import numpy as np
import pytest

import reference as ref
from neuralcli.activations import ACTIVATIONS
from neuralcli.losses import evaluate
from neuralcli.network import MLP

HIDDEN_ACTS = [name for name, a in ACTIVATIONS.items() if a.trainable]
# task -> (loss, output activation, outputs)
TASKS = {
    "binary": ("bce", "identity", 1),
    "multiclass": ("cross_entropy", "identity", 3),
    "regression_mse": ("mse", "identity", 2),
    "regression_mae": ("mae", "identity", 2),
    "sigmoid_mse": ("mse", "sigmoid", 1),  # the textbook sigmoid output trained with MSE
}


def _targets(task, n, rng):
    loss, _, k = TASKS[task]
    if loss == "cross_entropy":
        return rng.integers(0, k, n).astype(np.int32)
    if loss == "bce" or task == "sigmoid_mse":
        return rng.integers(0, 2, (n, k)).astype(np.float64)
    return rng.standard_normal((n, k))


def _net(act, task, seed=0):
    loss, out_act, k = TASKS[task]
    net = MLP([4, 6, 5, k], [act, act, out_act], dtype="float64", seed=seed)
    rng = np.random.default_rng(seed + 100)
    net.params[...] = rng.standard_normal(net.n_params) * 0.7  # biases non-zero too
    return net, loss


def _numeric(net, x, loss, t, sw=None):
    p0 = net.params.copy()

    def f(p):
        net.params[...] = p
        return evaluate(loss, net.forward(x), t, sw)

    g = ref.numeric_grad(f, p0, eps=1e-6)
    net.params[...] = p0
    return g


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("act", HIDDEN_ACTS)
def test_gradient_matches_finite_differences(act, task):
    net, loss = _net(act, task)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4))
    t = _targets(task, 7, rng)
    sw = rng.uniform(0.5, 2.0, 7)
    val, g = net.gradient(x, lambda out, dout: evaluate(loss, out, t, sw, dout))
    num = _numeric(net, x, loss, t, sw)
    tol = 1e-4 if loss == "mae" else 1e-6  # |.| has a kink a difference may straddle
    np.testing.assert_allclose(g, num, rtol=tol, atol=tol)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("act", [a for a in HIDDEN_ACTS if a not in ("identity", "softmax")])
def test_gradient_matches_torch_autograd(act, task):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net, loss = _net(act, task, seed=2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 4))
    t = _targets(task, 9, rng)
    val, g = net.gradient(x, lambda out, dout: evaluate(loss, out, t, None, dout))

    tw = [torch.tensor(w.copy(), requires_grad=True) for w in net.weights]
    tb = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    h = torch.tensor(x)
    for i, (w, b) in enumerate(zip(tw, tb)):
        h = ref.torch_activation(net.activations[i])(h @ w + b)
    tt = torch.tensor(t)
    tl = {"bce": lambda: F.binary_cross_entropy_with_logits(h, tt),
          "cross_entropy": lambda: F.cross_entropy(h, tt.long()),
          "mse": lambda: F.mse_loss(h, tt), "mae": lambda: F.l1_loss(h, tt)}[loss]()
    tl.backward()
    assert abs(val - tl.item()) < 1e-10
    want = np.concatenate([np.concatenate([w.grad.numpy().ravel(), b.grad.numpy()])
                           for w, b in zip(tw, tb)])
    np.testing.assert_allclose(g, want, rtol=1e-9, atol=1e-11)


def test_l2_penalty_gradient():
    net, loss = _net("tanh", "regression_mse")
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    work, out, dout = net.buffers(5)
    net.forward_into(out, work, x, train=True, step=1)
    evaluate("mse", out, t, None, dout)
    g0 = np.empty_like(net.params)
    g1 = np.empty_like(net.params)
    net.backward_into(g0, work, dout, x, out, step=1)
    net.backward_into(g1, work, dout, x, out, step=1, l2=0.25)
    expect = g0.copy()
    off = 0
    for c, oc in zip(net.sizes[:-1], net.sizes[1:]):
        expect[off:off + c * oc] += 0.25 * net.params[off:off + c * oc]  # weights only
        off += c * oc + oc
    np.testing.assert_allclose(g1, expect, rtol=1e-13, atol=1e-15)


def test_dropout_gradient_uses_the_same_mask():
    net = MLP([3, 8, 8, 1], ["relu", "relu", "identity"], dropout=[0.3, 0.3, 0.0],
              dtype="float64", seed=5)
    rng = np.random.default_rng(6)
    # non-zero biases keep every pre-activation off relu's kink at exactly 0
    net.params[...] = rng.standard_normal(net.n_params) * 0.7
    x, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    work, out, dout = net.buffers(6)

    def loss_at(p):
        keep = net.params.copy()
        net.params[...] = p
        o = np.empty((6, 1))
        net.forward_into(o, work, x, train=True, seed=11, step=7)  # same key: same mask
        net.params[...] = keep
        return evaluate("mse", o, t)

    net.forward_into(out, work, x, train=True, seed=11, step=7)
    evaluate("mse", out, t, None, dout)
    g = np.empty_like(net.params)
    net.backward_into(g, work, dout, x, out, seed=11, step=7)
    num = ref.numeric_grad(loss_at, net.params.copy())
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    # eval mode has no dropout: it differs from the training-mode output
    train_out = out.copy()
    assert not np.allclose(net.forward(x), train_out)


def test_flat_buffer_views_and_from_weights():
    w1, b1 = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    w2, b2 = np.ones((3, 1)), np.array([0.5])
    net = MLP.from_weights([w1, w2], [b1, b2], ["relu", "identity"], dtype="float64")
    assert net.sizes == [2, 3, 1] and net.n_params == 13
    np.testing.assert_array_equal(net.params[:6], w1.ravel())
    net.weights[0][0, 0] = 42.0  # a view: writes reach the flat buffer
    assert net.params[0] == 42.0
    x = np.array([[1.0, -1.0]])
    np.testing.assert_allclose(net.forward(x), np.maximum(x @ net.weights[0] + b1, 0) @ w2 + b2)


def test_initialization_is_seeded_and_scaled():
    a = MLP([100, 200, 1], ["relu", "identity"], seed=1)
    b = MLP([100, 200, 1], ["relu", "identity"], seed=1)
    c = MLP([100, 200, 1], ["tanh", "identity"], seed=1)
    assert a.params.tobytes() == b.params.tobytes()
    assert abs(a.weights[0].std() - np.sqrt(2 / 100)) < 0.01       # He
    assert abs(c.weights[0].std() - np.sqrt(2 / 300)) < 0.01       # Glorot uniform
    assert not a.biases[0].any()


def test_summary_counts():
    net = MLP([784, 256, 128, 10], ["relu", "relu", "identity"])
    s = net.summary()
    assert s["params"] == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert s["flops_forward"] == 2 * (784 * 256 + 256 * 128 + 128 * 10)
    assert s["param_bytes"] == 4 * s["params"] and s["optimizer_bytes"] == 8 * s["params"]
    assert [r["out"] for r in s["layers"]] == [256, 128, 10]


def test_perceptron_with_step_runs_forward_only():
    net = MLP.from_weights([np.array([[0.00001], [0.01], [0.1], [-0.00005]])], [np.array([-3.0])],
                           ["step"], dtype="float64")
    x = np.array([[45000, 680, 3, 12000]], dtype=float)
    assert net.forward(x)[0, 0] == 1.0  # 0.45 + 6.8 + 0.3 - 0.6 - 3 = 3.95 >= 0


def test_bad_architecture_is_refused():
    with pytest.raises(ValueError, match="at least one unit"):
        MLP([2, 0, 1], "relu")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP([2, 3, 1], ["mish", "identity"])
    with pytest.raises(ValueError, match="output layer takes no dropout"):
        MLP([2, 3, 1], ["relu", "identity"], dropout=[0.1, 0.1])
    net = MLP([2, 3, 1], ["relu", "identity"])
    with pytest.raises(ValueError, match="takes"):
        net.forward(np.zeros((4, 3)))
