"""GEMM throughput of neuralcli against numpy's BLAS, measured in the same run.

Columns: our sgemm, numpy (OpenBLAS with its default kernel choice) and numpy with
OPENBLAS_CORETYPE=SkylakeX (OpenBLAS's AVX-512 kernels). OpenBLAS reads that variable when
it loads, so the AVX-512 column comes from this script re-run as a worker subprocess.
Each column is measured in its own fresh worker process, one after another, at the same
thread count; every figure is a median over repeats after warm-up.

Run it with `neuralcli bench gemm` (or benchmarks/bench_gemm.py, which runs that):

    neuralcli bench gemm                       # 1 and 2 threads, full table
    neuralcli bench gemm --threads 2 --quick --json
"""
import json
import os
import subprocess
import time

import numpy as np

from neuralcli.benchmarks import worker_command

SQUARES = (64, 128, 256, 512, 1024, 2048)

# (label, m, n, k, trans_a, trans_b): op(A) is (m,k), op(B) is (k,n)
MLP_SHAPES = (
    ("tiny fwd 500x2@2x64", 500, 64, 2, False, False),
    ("tiny fwd 500x64@64x1", 500, 1, 64, False, False),
    ("tiny dW 2x500@500x64 (A^T)", 2, 64, 500, True, False),
    ("tiny dW 64x500@500x1 (A^T)", 64, 1, 500, True, False),
    ("tiny dX 500x1@1x64 (B^T)", 500, 64, 1, False, True),
    ("fwd 128x784@784x256", 128, 256, 784, False, False),
    ("dW 784x128@128x256 (A^T)", 784, 256, 128, True, False),
    ("dX 128x256@256x784 (B^T)", 128, 784, 256, False, True),
    ("fwd 128x256@256x128", 128, 128, 256, False, False),
    ("dW 256x128@128x128 (A^T)", 256, 128, 128, True, False),
    ("dX 128x128@128x256 (B^T)", 128, 256, 128, False, True),
    ("fwd 256x1024@1024x1024", 256, 1024, 1024, False, False),
    ("dW 1024x256@256x1024 (A^T)", 1024, 1024, 256, True, False),
    ("dX 256x1024@1024x1024 (B^T)", 256, 1024, 1024, False, True),
)


def shapes(quick=False):
    """All benchmark cases as (label, m, n, k, trans_a, trans_b)."""
    sq = SQUARES[:-1] if quick else SQUARES
    rows = [(f"square {s}", s, s, s, False, False) for s in sq]
    return rows + list(MLP_SHAPES)


def _operands(m, n, k, ta, tb, dtype=np.float32):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def _median_time(fn, flops, quick):
    """Median seconds of fn(); repeats sized to the work so each row takes ~0.1-0.3 s."""
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(2e-3 / once))  # batch tiny calls so timer overhead does not count
    reps = 5 if quick else 11
    if once * reps > 2.0:
        reps = 5
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return float(np.median(times))


def _warm_up(gemm, seconds=0.3):
    """Run a 512^3 product for a while before timing anything: the first threaded calls of
    a process create the thread team, and an idle core (an idle vCPU on a virtual machine)
    takes a while to come back, which would otherwise fall on the first rows only."""
    a = np.ones((512, 512), np.float32)
    c = np.empty((512, 512), np.float32)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        gemm(c, a, a)


def _aligned_work(nbytes):
    """A uint8 buffer of nbytes whose first byte is 64-byte aligned."""
    raw = np.empty(nbytes + 64, dtype=np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + nbytes]


def _numpy_gflops(cases, threads, quick):
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(limits=threads):
        _warm_up(lambda c, a, b: np.matmul(a, b, out=c))
        for (_, m, n, k, ta, tb) in cases:
            a, b = _operands(m, n, k, ta, tb)
            opa = a.T if ta else a
            opb = b.T if tb else b
            c = np.empty((m, n), np.float32)
            t = _median_time(lambda: np.matmul(opa, opb, out=c), 2.0 * m * n * k, quick)
            out.append(2.0 * m * n * k / t / 1e9)
    return out


def _ours_gflops(cases, threads, quick):
    import neuralcli
    from neuralcli import _kernels

    neuralcli.set_num_threads(threads)
    work = _aligned_work(_kernels.gemm_workspace(512, 512, 512, threads, False))
    _warm_up(lambda c, a, b: _kernels.gemm(c, a, b, False, False, 1.0, 0.0, work))
    out = []
    for (_, m, n, k, ta, tb) in cases:
        a, b = _operands(m, n, k, ta, tb)
        c = np.zeros((m, n), np.float32)
        work = _aligned_work(_kernels.gemm_workspace(m, n, k, threads, False))
        t = _median_time(lambda: _kernels.gemm(c, a, b, ta, tb, 1.0, 0.0, work),
                         2.0 * m * n * k, quick)
        out.append(2.0 * m * n * k / t / 1e9)
    return out


def _worker(kind, threads, quick):
    """GFLOP/s of one column, measured in a fresh interpreter so nothing left running in
    this process (an idle BLAS or OpenMP pool spinning) steals a core, and so OpenBLAS can
    be told its kernel (OPENBLAS_CORETYPE is read once, when it loads)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if kind == "numpy-avx512":
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    cmd, cwd = worker_command("neuralcli.benchmarks.gemm", "--worker",
                              "ours" if kind == "ours" else "numpy", "--threads", str(threads),
                              *(["--quick"] if quick else []))
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def run(threads=(1, 2), quick=False, rounds=None):
    """Benchmark rows: one dict per (case, thread count) with GFLOP/s and ratios.

    The three columns are measured in turn, `rounds` times over (3, or 1 when quick), and
    each figure is the median over rounds: on a machine shared with other work, a burst
    of load then hits one round of one column rather than the ratio. A CPU without
    AVX-512 has no AVX-512 column (OpenBLAS's SkylakeX kernels would die on it of an
    illegal instruction): its figures and ratios are None."""
    import neuralcli

    if isinstance(threads, int):
        threads = (threads,)
    if rounds is None:
        rounds = 1 if quick else 3
    kinds = ["ours", "numpy"]
    if neuralcli.runtime_info()["isa_detected"] == "avx512":
        kinds.append("numpy-avx512")
    cases = shapes(quick)
    rows = []
    for nt in threads:
        cols = {kind: [] for kind in kinds}
        for _ in range(rounds):
            for kind in cols:
                cols[kind].append(_worker(kind, nt, quick))
        ours, default, avx512 = (np.median(np.array(cols[kind]), axis=0).tolist()
                                 if kind in cols else [None] * len(cases)
                                 for kind in ("ours", "numpy", "numpy-avx512"))
        for i, (label, m, n, k, ta, tb) in enumerate(cases):
            rows.append({
                "case": label, "m": m, "n": n, "k": k, "trans_a": ta, "trans_b": tb,
                "threads": nt, "dtype": "float32",
                "ours_gflops": ours[i], "numpy_gflops": default[i],
                "numpy_avx512_gflops": avx512[i],
                "ratio_numpy": ours[i] / default[i],
                "ratio_numpy_avx512": None if avx512[i] is None else ours[i] / avx512[i],
            })
    return rows


def _worker_main(argv=None):
    """A column's worker process (_worker): print its GFLOP/s over the cases as JSON."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--worker", choices=("ours", "numpy"), required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    measure = _ours_gflops if args.worker == "ours" else _numpy_gflops
    print(json.dumps(measure(shapes(args.quick), args.threads, args.quick)))


if __name__ == "__main__":
    _worker_main()
