"""Optimizer steps: several steps against the float64 oracle and torch.optim, thread-count
independence, and input checks."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, tolerance
from neuralcli import _kernels, kernels

DTYPES = [np.float32, np.float64]
# straddle the 16384-element parallel blocks
SIZES = [1, 7, 2049, 16384, 16385, 50001]
STEPS = 4

SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True),
             dict(lr=0.1, momentum=0.5, weight_decay=0.01, grad_scale=0.5),
             dict(lr=0.1, weight_decay=0.1)]
ADAM_CASES = [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.05),
              dict(lr=1e-2, weight_decay=0.05, decoupled=True),
              dict(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6, grad_scale=0.25)]
RMS_CASES = [dict(lr=1e-2), dict(lr=1e-2, momentum=0.9), dict(lr=1e-3, alpha=0.9, eps=1e-6,
                                                               weight_decay=0.01, grad_scale=2.0)]


def data(n, dtype, seed=0):
    """Parameters and one gradient per step."""
    rng = np.random.default_rng(seed + n)
    p = rng.standard_normal(n).astype(dtype)
    gs = [rng.standard_normal(n).astype(dtype) for _ in range(STEPS)]
    return p, gs


def run_sgd(p, gs, dtype, **kw):
    p = p.copy()
    v = np.zeros_like(p) if kw.get("momentum") else None
    for g in gs:
        kernels.sgd_step(p, g, v, **kw)
    return p, v


def run_adam(p, gs, dtype, decoupled=False, beta1=0.9, beta2=0.999, **kw):
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    step = kernels.adamw_step if decoupled else kernels.adam_step
    kw.setdefault("weight_decay", 0.0)
    for t, g in enumerate(gs, 1):
        step(p, g, m, v, step=t, betas=(beta1, beta2), **kw)
    return p, m, v


def run_rmsprop(p, gs, dtype, **kw):
    p, v = p.copy(), np.zeros_like(p)
    buf = np.zeros_like(p) if kw.get("momentum") else None
    for g in gs:
        kernels.rmsprop_step(p, g, v, buf, **kw)
    return p, v, buf


# ------------------------------------------------------------------ oracle

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_oracle(kw, n, dtype):
    p0, gs = data(n, dtype)
    p, v = run_sgd(p0, gs, dtype, **kw)
    rp, rv = p0, None
    for g in gs:
        rp, rv = ref.sgd(rp, rv, g, **kw)
    assert_close(p, rp, *tolerance(dtype, 5), "sgd params")
    if v is not None:
        assert_close(v, rv, *tolerance(dtype, 5), "sgd velocity")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_matches_oracle(kw, n, dtype):
    p0, gs = data(n, dtype)
    p, m, v = run_adam(p0, gs, dtype, **kw)
    rp, rm, rv = p0, np.zeros(n), np.zeros(n)
    for t, g in enumerate(gs, 1):
        rp, rm, rv = ref.adam(rp, rm, rv, g, t, **kw)
    assert_close(p, rp, *tolerance(dtype, 5), "adam params")
    assert_close(m, rm, *tolerance(dtype, 5), "adam m")
    assert_close(v, rv, *tolerance(dtype, 5), "adam v")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kw", RMS_CASES)
def test_rmsprop_matches_oracle(kw, n, dtype):
    p0, gs = data(n, dtype)
    p, v, buf = run_rmsprop(p0, gs, dtype, **kw)
    rp, rv, rb = p0, np.zeros(n), None
    for g in gs:
        rp, rv, rb = ref.rmsprop(rp, rv, rb, g, **kw)
    assert_close(p, rp, *tolerance(dtype, 5), "rmsprop params")
    assert_close(v, rv, *tolerance(dtype, 5), "rmsprop square average")
    if buf is not None:
        assert_close(buf, rb, *tolerance(dtype, 5), "rmsprop momentum buffer")


@pytest.mark.parametrize("dtype", DTYPES)
def test_any_shape_updates_in_place(dtype):
    p0, gs = data(24, dtype)
    p = p0.reshape(4, 6).copy()
    v = np.zeros_like(p)
    kernels.sgd_step(p, gs[0].reshape(4, 6), v, lr=0.1, momentum=0.9)
    rp, rv = ref.sgd(p0, None, gs[0], lr=0.1, momentum=0.9)
    assert_close(p.ravel(), rp, *tolerance(dtype), "params")
    assert_close(v.ravel(), rv, *tolerance(dtype), "velocity")


# ------------------------------------------------------------------ threads

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["sgd", "adam", "rmsprop"])
def test_threads_bitwise_equal(which, dtype, threads):
    p0, gs = data(300001, dtype)
    run = {"sgd": lambda: run_sgd(p0, gs, dtype, lr=0.1, momentum=0.9, nesterov=True,
                                  weight_decay=0.01),
           "adam": lambda: run_adam(p0, gs, dtype, lr=1e-2, weight_decay=0.01),
           "rmsprop": lambda: run_rmsprop(p0, gs, dtype, lr=1e-2, momentum=0.9)}[which]
    threads(1)
    one = run()
    threads(2)
    two = run()
    for a, b in zip(one, two):
        assert_bitwise_equal(a, b, which)


# ------------------------------------------------------------------ torch.optim

def torch_run(make_opt, p0, gs):
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.tensor(p0.copy()))
    opt = make_opt(torch.optim, [w])
    for g in gs:
        w.grad = torch.tensor(g.copy())
        opt.step()
    return w.detach().numpy(), opt.state[w]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_torch(kw, dtype):
    p0, gs = data(1000, dtype, seed=11)
    scale = kw.get("grad_scale", 1.0)
    tkw = {k: v for k, v in kw.items() if k != "grad_scale"}
    want, state = torch_run(lambda o, ps: o.SGD(ps, **tkw), p0, [g * dtype(scale) for g in gs])
    p, v = run_sgd(p0, gs, dtype, **kw)
    assert_close(p, want, *tolerance(dtype, 5), "sgd params vs torch")
    if v is not None:
        assert_close(v, state["momentum_buffer"].numpy(), *tolerance(dtype, 5),
                     "sgd velocity vs torch")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_matches_torch(kw, dtype):
    p0, gs = data(1000, dtype, seed=12)
    scale = kw.get("grad_scale", 1.0)
    lr, wd = kw["lr"], kw.get("weight_decay", 0.0)
    betas = (kw.get("beta1", 0.9), kw.get("beta2", 0.999))
    eps = kw.get("eps", 1e-8)
    cls = "AdamW" if kw.get("decoupled") else "Adam"
    want, state = torch_run(lambda o, ps: getattr(o, cls)(ps, lr=lr, betas=betas, eps=eps,
                                                          weight_decay=wd),
                            p0, [g * dtype(scale) for g in gs])
    p, m, v = run_adam(p0, gs, dtype, **kw)
    assert_close(p, want, *tolerance(dtype, 5), f"{cls} params vs torch")
    assert_close(m, state["exp_avg"].numpy(), *tolerance(dtype, 5), f"{cls} m vs torch")
    assert_close(v, state["exp_avg_sq"].numpy(), *tolerance(dtype, 5), f"{cls} v vs torch")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", RMS_CASES)
def test_rmsprop_matches_torch(kw, dtype):
    p0, gs = data(1000, dtype, seed=13)
    scale = kw.get("grad_scale", 1.0)
    tkw = {k: v for k, v in kw.items() if k != "grad_scale"}
    want, state = torch_run(lambda o, ps: o.RMSprop(ps, **tkw), p0,
                            [g * dtype(scale) for g in gs])
    p, v, buf = run_rmsprop(p0, gs, dtype, **kw)
    assert_close(p, want, *tolerance(dtype, 5), "rmsprop params vs torch")
    assert_close(v, state["square_avg"].numpy(), *tolerance(dtype, 5), "square_avg vs torch")
    if buf is not None:
        assert_close(buf, state["momentum_buffer"].numpy(), *tolerance(dtype, 5),
                     "momentum_buffer vs torch")


# ------------------------------------------------------------------ bad input

def test_bad_input():
    p, g = np.zeros(5), np.ones(5)
    with pytest.raises(ValueError, match="velocity"):
        kernels.sgd_step(p, g, None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov needs momentum"):
        kernels.sgd_step(p, g, np.zeros(5), lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="share one dtype"):
        kernels.sgd_step(p, g.astype(np.float32), lr=0.1)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.sgd_step(p.astype(int), g.astype(int), lr=0.1)
    with pytest.raises(TypeError, match="share one dtype"):
        _kernels.sgd(p, None, g.astype(np.float32), 0.1, 0.0, 0.0, False, 1.0)
    with pytest.raises(ValueError, match="grads has shape"):
        kernels.sgd_step(p, np.ones(4), lr=0.1)
    with pytest.raises(ValueError, match="velocity has 4 elements"):
        kernels.sgd_step(p, g, np.zeros(4), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="grad has length 4"):
        _kernels.sgd(p, None, np.ones(4), 0.1, 0.0, 0.0, False, 1.0)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        kernels.sgd_step(p, g, lr=-1.0)
    with pytest.raises(ValueError, match="step counts from 1"):
        kernels.adam_step(p, g, np.zeros(5), np.zeros(5), step=0)
    with pytest.raises(ValueError, match="step counts from 1"):
        _kernels.adam(p, np.zeros(5), np.zeros(5), g, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0, False, 1.0)
    with pytest.raises(ValueError, match="betas"):
        kernels.adam_step(p, g, np.zeros(5), np.zeros(5), step=1, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="both moment buffers"):
        kernels.adamw_step(p, g, None, np.zeros(5), step=1)
    with pytest.raises(ValueError, match="momentum buffer"):
        kernels.rmsprop_step(p, g, np.zeros(5), None, momentum=0.9)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.sgd_step(np.zeros(10)[::2], g, lr=0.1)
    ro = np.zeros(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kernels.sgd_step(ro, g, lr=0.1)
    with pytest.raises(ValueError):
        _kernels.sgd(ro, None, g, 0.1, 0.0, 0.0, False, 1.0)


def test_c_adam_step_zero_is_step_one():
    """The shim refuses step 0; the C entry point itself treats it as step 1 (1 - beta^0
    would divide by zero), so a direct caller gets step 1's update, not another step's."""
    import ctypes

    lib = ctypes.CDLL(_kernels.__file__)
    fn = lib.nc_adam_f64
    p_, d = ctypes.c_void_p, ctypes.c_double
    fn.argtypes = [p_, p_, p_, p_, ctypes.c_int64, d, d, d, d, d, ctypes.c_int64,
                   ctypes.c_int, d]
    fn.restype = None
    p0, gs = data(7, np.float64)
    out = []
    for step in (0, 1):
        p, m, v = p0.copy(), np.zeros(7), np.zeros(7)
        fn(p.ctypes.data, m.ctypes.data, v.ctypes.data, gs[0].ctypes.data, 7, 1e-2, 0.9, 0.999,
           1e-8, 0.0, step, 0, 1.0)
        out.append(p)
    assert_bitwise_equal(out[0], out[1], "step 0 against step 1")
    want, _, _ = ref.adam(p0, np.zeros(7), np.zeros(7), gs[0], 1, lr=1e-2)
    assert_close(out[0], want, *tolerance(np.float64), "step 0 against the oracle")
