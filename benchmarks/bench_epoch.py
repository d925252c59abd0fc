"""Epoch time of compiled runs of batches against the per-batch loop over the same
kernels (Trainer.compiled_runs False), measured in the same process, same thread count
and dtype: one epoch of a 28-64-64-1 ReLU network (binary, bce, Adam) on 200,000 float32
rows at batch 32 and 256, and MLPClassifier.fit on the two spirals (2-64-1, n=500).
Medians over repeats after a warm-up; the machine and date are printed.

    python benchmarks/bench_epoch.py [--threads 1,2] [--repeats 3]
"""
import argparse
import datetime
import platform
import time
import warnings

import numpy as np

import neuralcli
from neuralcli.datasets import spirals
from neuralcli.estimators import MLPClassifier
from neuralcli.network import MLP
from neuralcli.training import Task, TrainConfig, Trainer


def epoch_seconds(X, y, batch, compiled):
    net = MLP([28, 64, 64, 1], ["relu", "relu", "identity"], seed=0)
    tr = Trainer(net, Task("binary", "bce", 1), TrainConfig(epochs=1, batch_size=batch))
    tr.compiled_runs = compiled
    t0 = time.perf_counter()
    tr.fit(X, y)
    return time.perf_counter() - t0


def spirals_seconds(X, y, batch, compiled):
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{neuralcli.runtime_info()}")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 28)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] * X[:, 2] > 0).astype(np.float32).reshape(-1, 1)
    sx, sy, *_ = spirals(n=500)
    print(f"{'case':34} {'threads':>7} {'per-batch s':>11} {'runs s':>8} {'speed-up':>8}")
    for threads in [int(t) for t in args.threads.split(",")]:
        neuralcli.set_num_threads(threads)
        cases = [(f"28-64-64-1 epoch, batch {b}", epoch_seconds, X, y, b) for b in (32, 256)]
        cases += [(f"spirals 2-64-1 fit, batch {b}", spirals_seconds, sx, sy, b)
                  for b in ("auto", 500, 32)]
        for name, fn, a, b, batch in cases:
            old = median(lambda: fn(a, b, batch, False), args.repeats)
            new = median(lambda: fn(a, b, batch, True), args.repeats)
            print(f"{name:34} {threads:7d} {old:11.4f} {new:8.4f} {old / new:7.2f}x")


if __name__ == "__main__":
    main()
