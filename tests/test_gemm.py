"""nc_gemm through the shim against a float64 numpy oracle: every tile and block edge,
transposes, alpha and beta, leading dimensions, views of either layout, the fused
epilogue, every ISA path, 1 vs 2 threads bitwise."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuralcli
import reference as oracle
from helpers import run_python
from neuralcli.activations import ACTIVATIONS
from neuralcli import _kernels
from neuralcli.kernels import workspace

DTYPES = (np.float32, np.float64)
ISAS = [i for i in ("avx512", "avx2", "portable")
        if ("portable", "avx2", "avx512").index(i)
        <= ("portable", "avx2", "avx512").index(_kernels.detect_isa())]


@pytest.fixture(autouse=True)
def _restore_runtime():
    threads, isa = neuralcli.get_num_threads(), _kernels.get_isa()
    yield
    neuralcli.set_num_threads(threads)
    _kernels.set_isa(isa)


def _work(m, n, k, dtype, threads=2):
    """64-byte aligned scratch of the size the core asks for."""
    return workspace(_kernels.gemm_workspace(m, n, k, threads, dtype == np.float64))


def _matrix(rng, r, c, dtype, pad=0, order="C"):
    """An (r, c) matrix of normal draws as a view: its rows contiguous and `pad` elements
    apart beyond their length (order "C"), or likewise its columns (order "F")."""
    if order == "F":
        return _matrix(rng, c, r, dtype, pad).T
    full = rng.standard_normal((r, c + pad)).astype(dtype)
    return full[:, :c]


def _operands(rng, m, n, k, ta, tb, dtype, pad=0, layout="CC"):
    """A and B (transposed storage when asked) as views of the orders in `layout`."""
    a = _matrix(rng, *((k, m) if ta else (m, k)), dtype, pad, layout[0])
    b = _matrix(rng, *((n, k) if tb else (k, n)), dtype, pad, layout[1])
    return a, b


def _oracle(a, b, ta, tb, alpha, beta, c0):
    """The oracle's alpha op(A) op(B) + beta C, and the scale sum |a||b| for the
    tolerance."""
    ref = oracle.gemm(a, b, ta, tb, alpha, beta, c0)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    opa, opb = (a64.T if ta else a64), (b64.T if tb else b64)
    scale = abs(alpha) * (np.abs(opa) @ np.abs(opb))
    if beta != 0:
        scale = scale + abs(beta) * np.abs(c0.astype(np.float64))
    return ref, scale


def check_close(got, ref, scale, k, dtype, what=""):
    """Error relative to sum |a||b|, allowed to grow like sqrt(k); reports the worst."""
    eps = np.finfo(dtype).eps
    tol = 8 * eps * np.sqrt(max(k, 1)) + 4 * eps
    err = np.abs(got.astype(np.float64) - ref) / np.maximum(scale, np.finfo(dtype).tiny)
    assert np.all(np.isfinite(got)), f"{what}: non-finite output"
    if err.size:
        worst = np.unravel_index(np.argmax(err), err.shape)
        assert err[worst] <= tol, (f"{what}: max rel err {err[worst]:.3g} at {worst} "
                                   f"(got {got[worst]}, want {ref[worst]}), tol {tol:.3g}")


def run_gemm(m, n, k, ta=False, tb=False, alpha=1.0, beta=0.0, dtype=np.float32, pad=0,
             seed=0, work=True, threads=None, layout="CCC"):
    """One call through the shim, checked against the oracle; returns C. layout: the
    orders of A, B and C as _matrix takes them, each view `pad` elements past its rows
    (or columns)."""
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, n, k, ta, tb, dtype, pad, layout[:2])
    c = _matrix(rng, m, n, dtype, pad, layout[2])
    c0 = c.copy()
    if beta == 0:
        c[...] = np.nan  # beta == 0 must not read C
    if threads is not None:
        neuralcli.set_num_threads(threads)
    w = _work(m, n, k, dtype) if work else None
    _kernels.gemm(c, a, b, ta, tb, alpha, beta, w)
    ref, scale = _oracle(a, b, ta, tb, alpha, beta, c0)
    check_close(c, ref, scale, k, dtype,
                f"m={m} n={n} k={k} ta={ta} tb={tb} alpha={alpha} beta={beta} "
                f"{np.dtype(dtype).name} pad={pad} layout={layout}")
    return c


# Edge-straddling values for MR (12, 6, 4), NR (32, 16, 8) and the K block (256/384)
EDGES = (1, 5, 13, 33)
SWEEP = list(range(1, 131))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", ("m", "n", "k"))
def test_sweep_one_axis(axis, dtype):
    """Each of m, n, k walks 1..130 while the other two sit at edge-straddling values."""
    rng = np.random.default_rng(1)
    for v in SWEEP:
        o1, o2 = EDGES[v % 4], EDGES[(v // 4) % 4] + 24
        m, n, k = {"m": (v, o1, o2), "n": (o1, v, o2), "k": (o1 + 12, o2, v)}[axis]
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        run_gemm(m, n, k, ta, tb, dtype=dtype, seed=v)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_triples(dtype):
    rng = np.random.default_rng(2)
    for i in range(60):
        m, n, k = (int(x) for x in rng.integers(1, 131, 3))
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        alpha = float(rng.choice([1.0, -0.5, 2.0]))
        beta = float(rng.choice([0.0, 1.0, 0.75]))
        layout = "".join(rng.choice(["C", "F"], 3))
        run_gemm(m, n, k, ta, tb, alpha, beta, dtype, pad=int(rng.integers(0, 3)), seed=i,
                 layout=layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", (False, True))
@pytest.mark.parametrize("tb", (False, True))
@pytest.mark.parametrize("shape", ((300, 520, 700), (1031, 1025, 257), (145, 2100, 400)))
def test_large(shape, ta, tb, dtype):
    m, n, k = shape
    run_gemm(m, n, k, ta, tb, 1.0, 0.0, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", ((1.0, 0.0), (0.5, 0.0), (1.0, 1.0), (-2.0, 0.25),
                                        (0.0, 1.5), (1.0, -1.0)))
def test_alpha_beta(alpha, beta, dtype):
    for (m, n, k) in ((7, 9, 3), (40, 70, 50), (130, 97, 401)):
        for ta in (False, True):
            for tb in (False, True):
                run_gemm(m, n, k, ta, tb, alpha, beta, dtype, pad=3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leading_dimensions(dtype):
    for (m, n, k) in ((1, 1, 1), (13, 33, 17), (50, 45, 300), (200, 150, 90)):
        for ta in (False, True):
            for tb in (False, True):
                run_gemm(m, n, k, ta, tb, 1.0, 0.5, dtype, pad=5)


LAYOUTS = [a + b + c for a in "CF" for b in "CF" for c in "CF"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout, dtype):
    """Each of A, B and C as a view with contiguous rows or with contiguous columns,
    packed or padded, in every transpose, across tile edges."""
    for (m, n, k) in ((1, 1, 1), (13, 33, 17), (1, 40, 9), (40, 1, 9), (130, 70, 300)):
        for ta in (False, True):
            for tb in (False, True):
                for pad in (0, 3):
                    run_gemm(m, n, k, ta, tb, 1.0, 0.5, dtype, pad=pad, layout=layout)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_are_flags_and_leading_dimensions(dtype):
    """A view with contiguous columns is the transpose of a row-major matrix: the shim
    gives the core that matrix with the transpose flag flipped, and for C computes
    C.T = op(B).T op(A).T, so each call is bitwise the row-major call it stands for."""
    rng = np.random.default_rng(8)
    m, n, k = 70, 45, 130
    for ta in (False, True):
        for tb in (False, True):
            a, b = _operands(rng, m, n, k, ta, tb, dtype, pad=2, layout="FF")
            c0 = _matrix(rng, m, n, dtype, pad=1)
            got, want = c0.copy(), c0.copy()
            _kernels.gemm(got, a, b, ta, tb, 1.5, 0.5, _work(m, n, k, dtype))
            _kernels.gemm(want, np.ascontiguousarray(a.T), np.ascontiguousarray(b.T),
                          not ta, not tb, 1.5, 0.5, _work(m, n, k, dtype))
            assert np.array_equal(got, want), f"columns of A and B, ta={ta} tb={tb}"
            a, b = _operands(rng, m, n, k, ta, tb, dtype, pad=2)
            got = _matrix(rng, m, n, dtype, pad=3, order="F")
            want = np.ascontiguousarray(got.T)
            _kernels.gemm(got, a, b, ta, tb, 1.5, 0.5, _work(m, n, k, dtype))
            _kernels.gemm(want, b, a, not tb, not ta, 1.5, 0.5, _work(n, m, k, dtype))
            assert np.array_equal(got.T, want), f"columns of C, ta={ta} tb={tb}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_views_the_core_cannot_take_are_refused(dtype):
    """Views with neither rows nor columns contiguous, rows at decreasing addresses or
    overlapping, and wrong shapes: a ValueError naming the operand, C untouched."""
    rng = np.random.default_rng(9)
    a, b = _operands(rng, 6, 5, 4, False, False, dtype)
    grid = rng.standard_normal((12, 10)).astype(dtype)
    size = np.dtype(dtype).itemsize
    cases = [
        ("c", grid[::2, ::2], a, b, "neither its rows nor its columns are contiguous"),
        ("a", np.zeros((6, 5), dtype), grid[::2, ::2][:, :4], b,
         "neither its rows nor its columns are contiguous"),
        ("b", np.zeros((6, 5), dtype), a, grid[:4, :5][::-1],
         "row stride -"),
        ("b", np.zeros((6, 5), dtype), a,
         np.lib.stride_tricks.as_strided(grid, (4, 5), (2 * size, size)),
         "at least one row long"),
        ("a", np.zeros((6, 5), dtype), a.T, b, "a has shape"),
        ("b", np.zeros((6, 5), dtype), a, b[:3], "b has shape"),
    ]
    for name, c, x, y, match in cases:
        before = c.copy()
        with pytest.raises(ValueError, match=match) as info:
            _kernels.gemm(c, x, y, False, False, 1.0, 0.0, None)
        assert str(info.value).startswith(name), str(info.value)
        assert np.array_equal(c, before, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero(dtype):
    for beta in (0.0, 1.0, 2.5):
        c = run_gemm(17, 40, 0, beta=beta, dtype=dtype, pad=2)
        if beta == 0:
            assert np.all(c == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vectors(dtype):
    """m == 1, n == 1 and k == 1 in every transpose: the gemv-like and outer-product cases."""
    for (m, n, k) in ((1, 1, 1), (1, 300, 200), (300, 1, 200), (1, 1, 500), (500, 64, 1),
                      (500, 2, 64), (2, 64, 500), (64, 1, 500), (64, 2, 500), (3, 700, 3)):
        for ta in (False, True):
            for tb in (False, True):
                run_gemm(m, n, k, ta, tb, 1.0, 0.0, dtype, pad=1)
                run_gemm(m, n, k, ta, tb, -1.5, 0.5, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_workspace(dtype):
    """Without scratch (or with too little) the unpacked path gives the same answers."""
    for (m, n, k) in ((64, 64, 64), (130, 70, 300)):
        for ta in (False, True):
            for tb in (False, True):
                run_gemm(m, n, k, ta, tb, 1.0, 0.5, dtype, work=False)
    rng = np.random.default_rng(3)
    a, b = _operands(rng, 100, 90, 80, False, False, dtype)
    c = np.full((100, 90), np.nan, dtype)
    short = _work(100, 90, 80, dtype)[:100]
    _kernels.gemm(c, a, b, False, False, 1.0, 0.0, short)
    ref, scale = _oracle(a, b, False, False, 1.0, 0.0, c)
    check_close(c, ref, scale, 80, dtype, "short workspace")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISAS)
def test_threads_bitwise(isa, dtype):
    """1 and 2 threads give identical bits, packed and unpacked, on every ISA path."""
    _kernels.set_isa(isa)
    shapes = ((500, 64, 2), (64, 1, 500), (40, 1, 2000), (300, 1, 700), (40, 50, 30), (129, 257, 385), (300, 33, 1000),
              (7, 700, 300), (260, 300, 520))
    for (m, n, k) in shapes:
        for ta in (False, True):
            for tb in (False, True):
                c1 = run_gemm(m, n, k, ta, tb, 1.0, 0.0, dtype, threads=1)
                c2 = run_gemm(m, n, k, ta, tb, 1.0, 0.0, dtype, threads=2)
                assert np.array_equal(c1, c2), f"{isa} {m}x{n}x{k} ta={ta} tb={tb}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISAS)
def test_isa_paths(isa, dtype):
    """Each micro-kernel (forced in-process) over edge shapes, transposes and beta."""
    _kernels.set_isa(isa)
    rng = np.random.default_rng(4)
    for (m, n, k) in ((1, 1, 1), (13, 17, 19), (25, 33, 40), (49, 65, 257), (130, 129, 513),
                      (300, 300, 300)):
        for ta in (False, True):
            for tb in (False, True):
                beta = float(rng.choice([0.0, 0.5]))
                run_gemm(m, n, k, ta, tb, 1.5, beta, dtype, pad=int(rng.integers(0, 3)))


@pytest.mark.parametrize("isa", [i for i in ISAS if i != _kernels.detect_isa()] or
                         ["portable"])
def test_isa_env_subprocess(isa):
    """NEURALCLI_ISA picks the path at import: prove it in a fresh interpreter."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import numpy as np
        import neuralcli
        from neuralcli import _kernels
        assert _kernels.get_isa() == {isa!r}, _kernels.get_isa()
        import test_gemm as t
        for dt in (np.float32, np.float64):
            for (m, n, k) in ((13, 17, 19), (130, 129, 300), (64, 1, 500), (500, 64, 2)):
                for ta in (False, True):
                    for tb in (False, True):
                        c1 = t.run_gemm(m, n, k, ta, tb, 1.0, 0.0, dt, threads=1)
                        c2 = t.run_gemm(m, n, k, ta, tb, 1.0, 0.0, dt, threads=2)
                        assert np.array_equal(c1, c2)
        print("ok")
    """)
    env = dict(os.environ, NEURALCLI_ISA=isa)
    res = run_python(code, env=env, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]


# ------------------------------------------------------------------ fused epilogue

EPILOGUE_ACTS = ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "step")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", EPILOGUE_ACTS)
def test_dense_forward_epilogue(act, dtype):
    """Bias, stored z and the activation fused into the write-back, at tile edges."""
    rng = np.random.default_rng(5)
    code = ACTIVATIONS[act].code
    param = 0.1 if act == "leaky_relu" else 1.0
    for (n, c, oc) in ((1, 1, 1), (13, 7, 33), (130, 70, 65), (200, 400, 97), (500, 2, 64),
                       (500, 64, 1)):
        x = rng.standard_normal((n, c)).astype(dtype)
        w = rng.standard_normal((c, oc)).astype(dtype)
        b = rng.standard_normal(oc).astype(dtype)
        y = np.full((n, oc), np.nan, dtype)
        z = np.full((n, oc), np.nan, dtype)
        nbytes = _kernels.dense_workspace(n, c, oc, 2, dtype == np.float64)
        _kernels.dense_forward(y, z, x, w, b, code, param, np.zeros(nbytes + 64, np.uint8))
        zr = x.astype(np.float64) @ w + b
        scale = np.abs(x.astype(np.float64)) @ np.abs(w) + np.abs(b)
        check_close(z, zr, scale, c, dtype, f"z {act} {n}x{c}x{oc}")
        # y from the stored z: the activation itself is tested elsewhere
        yr = oracle.act_forward(act, z, param)
        tol = 50 * np.finfo(dtype).eps
        if act == "step":
            assert np.array_equal(y, yr.astype(dtype)), act
        else:
            assert np.allclose(y, yr, rtol=tol, atol=tol), (
                f"y {act} {n}x{c}x{oc}: max diff {np.max(np.abs(y - yr))}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward_no_z_no_bias(dtype):
    rng = np.random.default_rng(6)
    for (n, c, oc) in ((37, 300, 70), (128, 784, 256)):
        x = rng.standard_normal((n, c)).astype(dtype)
        w = rng.standard_normal((c, oc)).astype(dtype)
        y = np.full((n, oc), np.nan, dtype)
        nbytes = _kernels.dense_workspace(n, c, oc, 2, dtype == np.float64)
        _kernels.dense_forward(y, None, x, w, None, ACTIVATIONS["relu"].code, 0.0,
                               np.zeros(nbytes + 64, np.uint8))
        zr = x.astype(np.float64) @ w
        scale = np.abs(x.astype(np.float64)) @ np.abs(w)
        check_close(y, np.maximum(zr, 0), scale, c, dtype, "relu no bias")


# ------------------------------------------------------------------ packed driver paths

# (m, n, k, note): shapes that reach each path of the packed driver
DRIVER_SHAPES = (
    (100, 100, 100, "last column panel of 4: half-width kernel into a stack tile"),
    (80, 48, 70, "last column panel of exactly 16: half-width kernel straight into C"),
    (104, 64, 200, "last row panel of exactly 8: short kernel straight into C"),
    (122, 40, 90, "last row panel of 10 under MR 14: 12-row short kernel, stack tile"),
    (130, 17, 1024, "lda 1024 (in place would crowd one L1 set): rows copied"),
    (130, 300, 256, "lda 256: A's rows read in place, short last panel packed"),
    (64, 2000, 300, "wide: the unit grid splits columns; A's rows copied"),
    (700, 40, 300, "tall: the unit grid splits rows"),
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISAS)
def test_driver_paths_bitwise(isa, dtype):
    """Every packed-driver path against the oracle, with alpha/beta and padded leading
    dimensions, and 1 vs 2 threads bitwise."""
    _kernels.set_isa(isa)
    for (m, n, k, note) in DRIVER_SHAPES:
        for ta in (False, True):
            for tb in (False, True):
                for (alpha, beta, pad) in ((1.0, 0.0, 0), (-1.5, 0.5, 3)):
                    args = (m, n, k, ta, tb, alpha, beta, dtype, pad)
                    c1 = run_gemm(*args, threads=1)
                    c2 = run_gemm(*args, threads=2)
                    assert np.array_equal(c1, c2), f"{isa} {note} ta={ta} tb={tb}"


def test_several_units_per_thread_bitwise():
    """Over 2^30 multiply-adds every thread takes several units of the grid."""
    for (ta, tb) in ((False, False), (True, True)):
        args = (1030, 1040, 1010, ta, tb, 0.5, -1.0, np.float32, 1)
        c1 = run_gemm(*args, threads=1)
        c2 = run_gemm(*args, threads=2)
        assert np.array_equal(c1, c2), f"ta={ta} tb={tb}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_workspace_for_one_thread(dtype):
    """Scratch sized for one thread: a 2-thread setting runs the packed path on one thread,
    with the same bits."""
    m, n, k = 200, 300, 400
    rng = np.random.default_rng(7)
    a, b = _operands(rng, m, n, k, False, False, dtype)
    one = _work(m, n, k, dtype, threads=1)
    assert one.size < _work(m, n, k, dtype, threads=2).size
    out = []
    for threads, work in ((1, one), (2, one), (2, _work(m, n, k, dtype, threads=2))):
        neuralcli.set_num_threads(threads)
        c = np.full((m, n), np.nan, dtype)
        _kernels.gemm(c, a, b, False, False, 1.0, 0.0, work)
        out.append(c)
    ref, scale = _oracle(a, b, False, False, 1.0, 0.0, out[0])
    check_close(out[0], ref, scale, k, dtype, "one-thread workspace")
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])


def test_busy_core_bitwise():
    """With another process spinning on a core (threads then take work units in whatever
    order they get to run), 2-thread calls still give exactly the 1-thread bits."""
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for (m, n, k) in ((128, 128, 256), (64, 64, 64), (300, 200, 500)):
            c1 = run_gemm(m, n, k, threads=1, seed=m)
            for _ in range(20):
                c2 = run_gemm(m, n, k, threads=2, seed=m)
                assert np.array_equal(c1, c2), f"{m}x{n}x{k}"
    finally:
        spin.kill()
        spin.wait()
