"""Epoch time of compiled runs of batches against the per-batch loop over the same kernels
(Trainer.compiled_runs False), measured in the same process, same thread count and dtype:
one epoch of a 28-64-64-1 ReLU network (binary, bce, Adam) on 200,000 float32 rows at
batch 32 and 256, and MLPClassifier.fit on the two spirals (2-64-1, n=500, 200 epochs) at
batch "auto", 500 and 32. Medians over repeats after a warm-up.

Run it with `neuralcli bench epoch` (or benchmarks/bench_epoch.py, which runs that):

    neuralcli bench epoch [--threads 1,2] [--repeats 3]
"""
import time
import warnings

import numpy as np

ROWS, QUICK_ROWS = 200_000, 20_000
EPOCH_BATCHES = (32, 256)
SPIRALS_BATCHES = ("auto", 500, 32)


def epoch_seconds(X, y, batch, compiled):
    """Seconds of one epoch of the 28-64-64-1 network at `batch`."""
    from neuralcli.network import MLP
    from neuralcli.training import Task, TrainConfig, Trainer

    net = MLP([28, 64, 64, 1], ["relu", "relu", "identity"], seed=0)
    tr = Trainer(net, Task("binary", "bce", 1), TrainConfig(epochs=1, batch_size=batch))
    tr.compiled_runs = compiled
    t0 = time.perf_counter()
    tr.fit(X, y)
    return time.perf_counter() - t0


def spirals_seconds(X, y, batch, compiled):
    """Seconds of MLPClassifier((64,)).fit for 200 epochs at `batch`."""
    from neuralcli.estimators import MLPClassifier
    from neuralcli.training import Trainer

    before = Trainer.compiled_runs
    Trainer.compiled_runs = compiled
    try:
        clf = MLPClassifier((64,), max_iter=200, batch_size=batch, random_state=0, tol=0.0,
                            n_iter_no_change=10**9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            clf.fit(X, y)
            return time.perf_counter() - t0
    finally:
        Trainer.compiled_runs = before


def median(fn, repeats):
    fn()
    return float(np.median([fn() for _ in range(repeats)]))


def run(threads=(1, 2), repeats=3, quick=False):
    """Rows, one per (case, thread count): "case", "threads", "rows", "per_batch_s" (one
    Python step per batch), "runs_s" (runs of batches in C) and "speedup" (per_batch_s /
    runs_s). quick: the epochs on QUICK_ROWS rows, one repeat."""
    import neuralcli
    from neuralcli.datasets import spirals

    if isinstance(threads, int):
        threads = (threads,)
    if quick:
        repeats = 1
    n = QUICK_ROWS if quick else ROWS
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 28)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] * X[:, 2] > 0).astype(np.float32).reshape(-1, 1)
    sx, sy, *_ = spirals(n=500)
    cases = [(f"28-64-64-1 epoch, batch {b}", epoch_seconds, X, y, b, n)
             for b in EPOCH_BATCHES]
    cases += [(f"spirals 2-64-1 fit, batch {b}", spirals_seconds, sx, sy, b, len(sx))
              for b in SPIRALS_BATCHES]
    before = neuralcli.get_num_threads()
    rows = []
    try:
        for nt in threads:
            neuralcli.set_num_threads(nt)
            for name, fn, a, b, batch, count in cases:
                old = median(lambda: fn(a, b, batch, False), repeats)
                new = median(lambda: fn(a, b, batch, True), repeats)
                rows.append({"case": name, "threads": nt, "batch": batch, "rows": count,
                             "repeats": repeats, "per_batch_s": old, "runs_s": new,
                             "speedup": old / new})
    finally:
        neuralcli.set_num_threads(before)
    return rows
