"""Training speed of neuralcli against PyTorch, scikit-learn and numpy, at the same thread
count in the same run: per step, per whole fit, per epoch, and from a CSV file to a saved
model.

Per step (forward, loss, backward, one Adam update at lr 1e-3, float32, a fixed batch):

    a  2-64-1 (ReLU, one logit, BCE on logits), full batch of 500 two-spirals points
    b  784-256-128-10 (ReLU, softmax cross-entropy), batch 128, random data
    c  1024-1024-1024-10 (ReLU, softmax cross-entropy), batch 256, random data

Peers: neuralcli's `Trainer.step`; PyTorch eager (nn.Sequential, torch.optim.Adam with its
default implementation choice); scikit-learn's MLPClassifier (solver adam); a hand-written
numpy forward/backward/Adam that allocates its temporaries each step. Each peer runs in
its own fresh worker process, one after another, so an idle thread pool of one library
never competes with the next for the two cores.

scikit-learn has no public per-step call, so it is timed through `fit` on exactly one
batch (one epoch = one step): per step = (t(fit, max_iter=E) - t(fit, max_iter=1)) / (E-1),
which drops fit's one-off setup (validation, label encoding, weight init) and keeps its
real loop. `partial_fit` would charge input validation to every step.

For b and c the table also gives a GEMM-bound floor: each layer's FLOPs (forward
2*N*C*OC, dW the same, dX the same but for the first layer) at our own GEMM's measured
GFLOP/s on that layer's three shapes (the thin output layer at the last hidden layer's
rates), and the ratio step time / floor. For c, the fit overhead: MLPClassifier.fit of
one epoch of 32 batches of 256 rows against 32 bare `Trainer.step` calls, in one worker.

Whole runs, in seconds:

    a fit   a's network through MLPClassifier.fit for 200 full-batch epochs, against 200
            steps of the PyTorch eager loop and scikit-learn's fit for 200 epochs
    d       28-64-64-1 (ReLU, one logit, BCE on logits, Adam), 1,000,000 rows of 28
            normal floats with a nonlinear label: one epoch of fit from arrays at batch
            32 and at batch 256 (MLPClassifier.fit, scikit-learn's fit, a PyTorch loop)
    d e2e   from the 1M-row CSV (file i of data.py) to a saved model, 5 epochs at batch
            256: `neuralcli train` against pandas.read_csv + scikit-learn + pickle and
            pandas.read_csv + a PyTorch loop + torch.save, each a whole process

busy=True (`--busy`) keeps the other core busy with a spinning process the whole run; every
row has the ratio of its two-thread time to its one-thread time.

Run it with `neuralcli bench train` (or benchmarks/bench_train.py, which runs that):

    neuralcli bench train                        # 1 and 2 threads, cases a b c d
    neuralcli bench train --threads 2 --cases a,b --quick --json
    neuralcli bench train --cases d --quick --busy
"""
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from neuralcli.benchmarks import busy_core, csv_peers, worker_command

PEERS = ("ours", "torch", "sklearn", "numpy")
PEER_LABELS = {"ours": "neuralcli", "torch": "PyTorch", "sklearn": "scikit-learn",
               "numpy": "numpy"}
PEER_MODULES = {"ours": "neuralcli", "torch": "torch", "sklearn": "sklearn", "numpy": "numpy"}

CASES = {
    "a": {"sizes": (2, 64, 1), "batch": 500, "kind": "binary",
          "data": "two spirals (n=500), full batch"},
    "b": {"sizes": (784, 256, 128, 10), "batch": 128, "kind": "multiclass",
          "data": "random, batch 128"},
    "c": {"sizes": (1024, 1024, 1024, 10), "batch": 256, "kind": "multiclass",
          "data": "random, batch 256"},
    "d": {"sizes": (28, 64, 64, 1), "batch": None, "kind": "binary",
          "data": "normal floats, label x0 + x1*x2/2 + noise/2 > 0"},
}
STEP_CASES = ("a", "b", "c")
FLOOR_CASES = ("b", "c")

LR = 1e-3
FIT_EPOCHS = 200                 # "a fit": full-batch epochs of MLPClassifier.fit
D_ROWS, D_QUICK_ROWS = 1_000_000, 100_000
D_BATCHES = (32, 256)
E2E_EPOCHS, E2E_BATCH = 5, 256
OVERHEAD_STEPS = 32              # c: a fit of this many batches against as many steps

# The rows in seconds, by id: what each measures beside the per-step rows a, b and c.
SECONDS_ROWS = {
    "a-fit": {"case": "a", "kind": "fit", "batch": 500, "epochs": FIT_EPOCHS,
              "label": f"a 2-64-1 via MLPClassifier.fit, {FIT_EPOCHS} epochs"},
    "d-b32": {"case": "d", "kind": "epoch", "batch": 32, "epochs": 1,
              "label": "d 28-64-64-1, one epoch, batch 32"},
    "d-b256": {"case": "d", "kind": "epoch", "batch": 256, "epochs": 1,
               "label": "d 28-64-64-1, one epoch, batch 256"},
    "d-e2e": {"case": "d", "kind": "end_to_end", "batch": E2E_BATCH, "epochs": E2E_EPOCHS,
              "label": f"d CSV to saved model, {E2E_EPOCHS} epochs, batch {E2E_BATCH}"},
}
# the options of `neuralcli train` for the end-to-end row: the same network, optimizer
# and epochs as the peers, every row trained on, no early stopping, a fixed seed
E2E_OPTIONS = ("--epochs", str(E2E_EPOCHS), "--batch-size", str(E2E_BATCH),
               "--hidden", "64,64", "--lr", str(LR), "--optimizer", "adam",
               "--val-split", "0", "--no-early-stopping", "--seed", "0")

# goals at two threads, by row id: a speed-up over a peer (>=), or at most a ratio to
# the GEMM floor ("floor") or of a fit to bare steps ("fit_overhead")
TARGETS = {
    ("a", "torch"): 30.0,
    ("a-fit", "torch"): 30.0,
    ("b", "floor"): 1.3,
    ("c", "floor"): 1.1,
    ("c", "fit_overhead"): 1.15,
    ("d-b32", "torch"): 30.0,
    ("d-b32", "sklearn"): 20.0,
    ("d-b256", "torch"): 10.0,
    ("d-b256", "sklearn"): 10.0,
    ("d-e2e", "sklearn"): 10.0,
    ("d-e2e", "torch"): 5.0,
}
# with the other core busy, the only goal: two threads take at most this times the time
# of one, on every row
BUSY_TARGET = 1.3
TARGET_THREADS = 2


# ---------------------------------------------------------------------- cases and data

def model_name(case):
    return "-".join(str(s) for s in CASES[case]["sizes"])


def row_ids(cases):
    """The ids of the rows the cases give, per-step rows first: a gives a and a-fit, d
    gives its two epochs and its end-to-end run."""
    step = [c for c in cases if c in STEP_CASES]
    seconds = [rid for rid, spec in SECONDS_ROWS.items() if spec["case"] in cases]
    return step + seconds


def make_data(case):
    """X float32 (N, C) and integer labels (N,) for a case, the same in every worker."""
    spec = CASES[case]
    n, c = spec["batch"], spec["sizes"][0]
    if case == "a":
        from neuralcli.datasets import spirals

        X, y, _, _ = spirals(n=n)
        return np.ascontiguousarray(X, dtype=np.float32), y.astype(np.int64)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, c)).astype(np.float32)
    k = spec["sizes"][-1]
    y = rng.permutation(np.arange(n) % k)   # every class present, as scikit-learn needs
    return X, y.astype(np.int64)


def d_data(rows):
    """Case d's arrays: rows x 28 float32 standard normal features and a 0/1 label that a
    network can learn, the sign of x0 + x1*x2/2 plus some noise (the rule of data.py's
    file i, so the CSV of the end-to-end row holds the same kind of data)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, CASES["d"]["sizes"][0]), dtype=np.float32)
    noise = rng.standard_normal(rows, dtype=np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + 0.5 * noise > 0).astype(np.int64)
    return X, y


def _layers(case):
    spec = CASES[case]
    return list(zip(spec["sizes"][:-1], spec["sizes"][1:]))


def layer_flops(case):
    """FLOPs of one training step per layer and GEMM kind: forward 2*N*C*OC, dW the same,
    dX the same for every layer but the first (the input needs no gradient)."""
    n = CASES[case]["batch"]
    out = []
    for i, (c, oc) in enumerate(_layers(case)):
        f = 2 * n * c * oc
        out.append({"fwd": f, "dW": f, "dX": f if i else 0})
    return out


def train_flops(case):
    """FLOPs of one training step by GEMM kind, summed over the layers."""
    per_layer = layer_flops(case)
    return {k: sum(layer[k] for layer in per_layer) for k in ("fwd", "dW", "dX")}


def _gemm(kind, n, c, oc):
    """One GEMM of a (C -> OC) layer on N rows as bench_gemm.py describes it:
    (label, m, n, k, trans_a, trans_b) with op(A) (m,k) and op(B) (k,n)."""
    if kind == "fwd":       # X (N,C) @ W (C,OC)
        return (f"fwd {n}x{c}@{c}x{oc}", n, oc, c, False, False)
    if kind == "dW":        # X^T (C,N) @ dY (N,OC)
        return (f"dW {c}x{n}@{n}x{oc} (A^T)", c, oc, n, True, False)
    return (f"dX {n}x{oc}@{oc}x{c} (B^T)", n, c, oc, False, True)   # dY (N,OC) @ W^T


def layer_gemms(case):
    """Per layer, {kind: GEMM shape} whose rate its FLOPs are charged at: its own shapes
    for the hidden layers; the thin output layer (1% of c's FLOPs, 0.5% of b's), whose
    own GEMMs are too narrow to say anything about the step, takes the last hidden
    layer's."""
    n = CASES[case]["batch"]
    layers = _layers(case)
    out = []
    for i in range(len(layers)):
        c, oc = layers[min(i, len(layers) - 2)]
        out.append({kind: _gemm(kind, n, c, oc) for kind in ("fwd", "dW", "dX")})
    return out


def gemm_shapes(case):
    """The distinct GEMM shapes the floor of a case needs measured, in layer order."""
    shapes = []
    for layer, flops in zip(layer_gemms(case), layer_flops(case)):
        for kind, shape in layer.items():
            if flops[kind] and shape not in shapes:
                shapes.append(shape)
    return shapes


# ---------------------------------------------------------------------- timing

def _settings(case, quick):
    """(warm-up seconds, repeats, seconds per repeat)."""
    if quick:
        return 0.0, 3, 0.01
    if case == "c":
        return 0.5, 5, 0.3
    return 0.5, 7, 0.25


def median_ms(step, case, quick):
    """Median milliseconds of step() over repeats of many calls, after a warm-up of at
    least three calls (and half a second in a full run)."""
    warm, reps, per_rep = _settings(case, quick)
    t_end = time.perf_counter() + warm
    for _ in range(3):
        step()
    while time.perf_counter() < t_end:
        step()
    t0 = time.perf_counter()
    step()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(per_rep / once))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        times.append((time.perf_counter() - t0) / inner)
    return 1e3 * float(np.median(times)), {"repeats": reps, "steps_per_repeat": inner}


# ---------------------------------------------------------------------- peers

def _ours_step(case, X, y):
    from neuralcli.network import MLP
    from neuralcli.training import Task, TrainConfig, Trainer

    sizes = CASES[case]["sizes"]
    acts = ["relu"] * (len(sizes) - 2) + ["identity"]
    model = MLP(sizes, acts, dtype="float32", seed=0)
    if CASES[case]["kind"] == "binary":
        task = Task("binary", "bce", 1)
        yb = np.ascontiguousarray(y.reshape(-1, 1), dtype=np.float32)
    else:
        task = Task("multiclass", "cross_entropy", sizes[-1])
        yb = np.ascontiguousarray(y, dtype=np.int32)
    trainer = Trainer(model, task, TrainConfig(optimizer="adam", lr=LR))
    return lambda: trainer.step(X, yb, None, LR, 0)


def _torch_step(case, X, y):
    import torch
    from torch import nn

    torch.manual_seed(0)
    sizes = CASES[case]["sizes"]
    layers = []
    for i, (c, oc) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(c, oc))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    xt = torch.from_numpy(X)
    if CASES[case]["kind"] == "binary":
        loss_fn = nn.BCEWithLogitsLoss()
        yt = torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
    else:
        loss_fn = nn.CrossEntropyLoss()
        yt = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()

    return step


class NumpyMLP:
    """The numpy MLP an engineer writes: float32, ReLU hidden layers, logits out, Adam;
    every step allocates its activations, gradients and temporaries afresh."""

    def __init__(self, sizes, binary, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [(rng.standard_normal((c, oc)) * np.sqrt(2.0 / c)).astype(np.float32)
                  for c, oc in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(oc, np.float32) for oc in sizes[1:]]
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.binary = binary

    def step(self, X, y, lr=LR, beta1=0.9, beta2=0.999, eps=1e-8):
        n = X.shape[0]
        hs = [X]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = hs[-1] @ W + b
            hs.append(np.maximum(z, 0) if i < len(self.W) - 1 else z)
        z = hs.pop()
        if self.binary:
            yf = y.reshape(-1, 1)
            loss = np.mean(np.logaddexp(0, z) - yf * z)
            dz = (1 / (1 + np.exp(-z)) - yf) / n
        else:
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            p = e / e.sum(axis=1, keepdims=True)
            loss = -np.mean(np.log(p[np.arange(n), y]))
            dz = p
            dz[np.arange(n), y] -= 1
            dz /= n
        dW, db = [None] * len(self.W), [None] * len(self.W)
        for i in range(len(self.W) - 1, -1, -1):
            dW[i] = hs[i].T @ dz
            db[i] = dz.sum(axis=0)
            if i > 0:
                dz = (dz @ self.W[i].T) * (hs[i] > 0)
        self.t += 1
        c1, c2 = 1 - beta1 ** self.t, 1 - beta2 ** self.t
        for j, (p, g) in enumerate(zip(self.params, dW + db)):
            self.m[j] = beta1 * self.m[j] + (1 - beta1) * g
            self.v[j] = beta2 * self.v[j] + (1 - beta2) * g * g
            p -= lr * (self.m[j] / c1) / (np.sqrt(self.v[j] / c2) + eps)
        return float(loss)


def _numpy_step(case, X, y):
    net = NumpyMLP(CASES[case]["sizes"], CASES[case]["kind"] == "binary")
    return lambda: net.step(X, y)


def _sklearn_fit_seconds(case, X, y, epochs):
    from sklearn.neural_network import MLPClassifier

    sizes = CASES[case]["sizes"]
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1], activation="relu", solver="adam",
                        alpha=0.0, batch_size=len(X), learning_rate_init=LR,
                        max_iter=epochs, shuffle=False, tol=0.0, n_iter_no_change=10**9,
                        early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # max_iter reached: a ConvergenceWarning
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
    assert clf.n_iter_ == epochs and clf.coefs_[0].dtype == np.float32
    return seconds


def _sklearn_ms(case, X, y, quick):
    """Per-step ms of MLPClassifier's adam loop: fit on one batch (one epoch = one step)
    with max_iter E and with max_iter 1; the difference over E-1 steps is the loop alone.
    E doubles from 4 until the loop runs ten times as long as a whole fit(max_iter=1),
    which keeps the difference well clear of the setup's noise."""
    warm, reps, per_rep = _settings(case, quick)
    t_end = time.perf_counter() + warm
    _sklearn_fit_seconds(case, X, y, 2)
    while time.perf_counter() < t_end:
        _sklearn_fit_seconds(case, X, y, 2)
    t1 = float(np.median([_sklearn_fit_seconds(case, X, y, 1) for _ in range(3)]))
    epochs = 4
    while epochs < 4096 and _sklearn_fit_seconds(case, X, y, epochs) - t1 < max(per_rep,
                                                                                10 * t1):
        epochs *= 2
    long, short = [], []
    for _ in range(reps):
        long.append(_sklearn_fit_seconds(case, X, y, epochs))
        short.append(_sklearn_fit_seconds(case, X, y, 1))
    t_long, t_short = float(np.median(long)), float(np.median(short))
    step = (t_long - t_short) / (epochs - 1)
    return 1e3 * step, {"repeats": reps, "epochs": epochs,
                        "fit_setup_ms": 1e3 * (t_short - step)}


def _gemm_floor(case, threads, quick):
    """Our GEMM's GFLOP/s on the case's shapes, measured with bench_gemm.py's own helper,
    and the step time the FLOPs would take at those rates."""
    from neuralcli.benchmarks.gemm import _ours_gflops

    shapes = gemm_shapes(case)
    rates = dict(zip([s[0] for s in shapes], _ours_gflops(shapes, threads, quick)))
    floor = sum(flops[kind] / (rates[layer[kind][0]] * 1e9)
                for layer, flops in zip(layer_gemms(case), layer_flops(case))
                for kind in flops if flops[kind])
    return {"gemm_gflops": rates, "train_flops": sum(train_flops(case).values()),
            "floor_ms": 1e3 * floor}


def _ours_classifier(hidden, batch, epochs, shuffle=True):
    """neuralcli's MLPClassifier set up as the peers are: adam at LR, no L2 penalty, no
    held-out rows, no stopping before max_iter."""
    from neuralcli.estimators import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden, batch_size=batch, max_iter=epochs,
                         shuffle=shuffle, random_state=0, tol=0.0, n_iter_no_change=10**9,
                         early_stopping=False, alpha=0.0, learning_rate_init=LR)


def _fit_overhead(threads, quick):
    """Case c through MLPClassifier.fit, one epoch of OVERHEAD_STEPS batches of 256 rows
    (shuffled, no validation), against as many bare Trainer.step calls on a fixed batch,
    alternately in this worker; medians of 5 (2 when quick) after one of each."""
    batch, k = CASES["c"]["batch"], CASES["c"]["sizes"][-1]
    n = OVERHEAD_STEPS * batch
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, CASES["c"]["sizes"][0]), dtype=np.float32)
    y = rng.permutation(np.arange(n) % k)
    hidden = CASES["c"]["sizes"][1:-1]
    step = _ours_step("c", *make_data("c"))

    def fit():
        return csv_peers.timed_fit(_ours_classifier(hidden, batch, 1), X, y, 1)

    def steps():
        t0 = time.perf_counter()
        for _ in range(OVERHEAD_STEPS):
            step()
        return time.perf_counter() - t0

    fit(), steps()
    fits, bare = [], []
    for _ in range(2 if quick else 5):
        fits.append(fit())
        bare.append(steps())
    fit_s, steps_s = float(np.median(fits)), float(np.median(bare))
    return {"fit_ms": 1e3 * fit_s, "steps_ms": 1e3 * steps_s, "fit_overhead": fit_s / steps_s}


def _repeats(first, quick):
    """How many runs a whole-run figure takes the median of, the first included: one when
    quick; else three if one run takes under 5 s, two under 15 s, one beyond (an epoch of
    the slow peers at batch 32 takes half a minute)."""
    if quick:
        return 1
    return 3 if first < 5 else 2 if first < 15 else 1


def _median_runs(run, quick):
    times = [run()]
    times += [run() for _ in range(_repeats(times[0], quick) - 1)]
    return {"s": float(np.median(times)), "repeats": len(times)}


def _fit_a(peer, X, y, quick):
    """Seconds of FIT_EPOCHS full-batch epochs of case a: MLPClassifier.fit for us and
    scikit-learn, as many steps of the per-step PyTorch loop (its model made before the
    clock starts). Median of 7 (3 when quick) after one run."""
    if peer == "ours":
        def run():
            return csv_peers.timed_fit(_ours_classifier((64,), len(X), FIT_EPOCHS,
                                                        shuffle=False), X, y, FIT_EPOCHS)
    elif peer == "sklearn":
        def run():
            return _sklearn_fit_seconds("a", X, y, FIT_EPOCHS)
    else:
        def run():
            step = _torch_step("a", X, y)
            t0 = time.perf_counter()
            for _ in range(FIT_EPOCHS):
                step()
            return time.perf_counter() - t0
    run()
    times = [run() for _ in range(3 if quick else 7)]
    return {"s": float(np.median(times)), "repeats": len(times)}


def _epoch_d(peer, X, y, batch, quick):
    """Seconds of one epoch of case d at `batch` from arrays: a whole MLPClassifier.fit
    (max_iter=1) for us and scikit-learn, the bare loop for PyTorch (its model made
    before the clock starts). A warm-up run on the first 2% of the rows, then the median
    of _repeats runs."""
    hidden = CASES["d"]["sizes"][1:-1]
    if peer == "ours":
        def run(X, y):
            return csv_peers.timed_fit(_ours_classifier(hidden, batch, 1), X, y, 1)
    elif peer == "sklearn":
        def run(X, y):
            return csv_peers.timed_fit(csv_peers.sklearn_classifier(hidden, 1, batch, LR, 0),
                                       X, y, 1)
    else:
        def run(X, y):
            model = csv_peers.torch_network(X.shape[1], hidden, 0)
            return csv_peers.torch_train(model, X, y, 1, batch, LR)
    warm = max(2 * batch, len(X) // 50)
    run(X[:warm], y[:warm])
    return _median_runs(lambda: run(X, y), quick)


def _cpu_seconds(children=False):
    """(seconds every CPU of the machine spent busy, seconds this process ran, and with
    children its waited-for children too), or None where /proc/stat is missing. Their
    difference over a measurement is the CPU time other processes took from it."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]      # all but idle and iowait
    own = os.times()
    mine = own.user + own.system
    if children:
        mine += own.children_user + own.children_system
    return busy / os.sysconf("SC_CLK_TCK"), mine


def _watched(measure, children=False):
    """measure()'s dict with "others_cpu": the share of the machine that other processes
    used meanwhile (None where /proc/stat is missing)."""
    t0, cpu0 = time.perf_counter(), _cpu_seconds(children)
    out = measure()
    cpu1 = _cpu_seconds(children)
    out["others_cpu"] = None
    if cpu0 and cpu1:
        others = (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count()
        out["others_cpu"] = max(0.0, others / (time.perf_counter() - t0) / cores)
    return out


def measure(peer, cases, threads, quick, d_rows=D_ROWS):
    """This process's figures for one peer: {row id: {...}}. Run in a worker."""
    from threadpoolctl import threadpool_limits

    if peer == "ours":
        import neuralcli

        neuralcli.set_num_threads(threads)
    elif peer == "torch":
        import torch

        torch.set_num_threads(threads)
    out = {}
    # the limits cover numpy's BLAS for the numpy and scikit-learn peers, and keep any
    # OpenMP pool loaded alongside at the same count
    with threadpool_limits(limits=threads):
        for case in cases:
            if case == "d":
                if peer == "numpy":
                    continue
                X, y = d_data(d_rows)
                for b in D_BATCHES:
                    out[f"d-b{b}"] = _watched(lambda: _epoch_d(peer, X, y, b, quick))
                del X, y
                continue
            X, y = make_data(case)
            if peer == "sklearn":
                out[case] = _watched(lambda: dict(zip(("ms", "info"),
                                                      _sklearn_ms(case, X, y, quick))))
            else:
                make = {"ours": _ours_step, "torch": _torch_step, "numpy": _numpy_step}[peer]
                out[case] = _watched(lambda: dict(zip(("ms", "info"),
                                                      median_ms(make(case, X, y), case,
                                                                quick))))
            out[case].update(out[case].pop("info"))
            if peer == "ours" and case in FLOOR_CASES:
                out[case].update(_gemm_floor(case, threads, quick))
            if peer == "ours" and case == "c":
                out[case].update(_fit_overhead(threads, quick))
            if case == "a" and peer != "numpy":
                out["a-fit"] = _watched(lambda: _fit_a(peer, X, y, quick))
    return out


def _preload(peer):
    """Import what a peer needs, so a worker can load while another one measures."""
    import threadpoolctl  # noqa: F401

    if peer == "ours":
        import neuralcli.estimators  # noqa: F401
        import neuralcli.training  # noqa: F401
    elif peer == "torch":
        import torch

        # the first optimizer step imports more of torch; do that now, not while timing
        lin = torch.nn.Linear(2, 1)
        opt = torch.optim.Adam(lin.parameters())
        lin(torch.ones(1, 2)).sum().backward()
        opt.step()
    elif peer == "sklearn":
        import sklearn.neural_network  # noqa: F401


class _Worker:
    """One peer at one thread count in a fresh interpreter. Workers start together and
    load their libraries side by side (no one is measuring yet), then measure strictly
    one at a time when told to go, so nothing competes with a measurement but idle
    processes blocked on a read."""

    def __init__(self, peer, cases, threads, quick, d_rows):
        self.peer = peer
        cmd, cwd = worker_command("neuralcli.benchmarks.train", "--worker", peer,
                                  "--threads", str(threads), "--cases", ",".join(cases),
                                  "--rows", str(d_rows), *(["--quick"] if quick else []))
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)

    def _fail(self):
        self.proc.wait()
        self.err.seek(0)
        raise RuntimeError(f"the {self.peer} worker failed:\n{self.err.read().strip()}")

    def ready(self):
        if self.proc.stdout.readline().strip() != "ready":
            self._fail()

    def result(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.read()
        if self.proc.wait() != 0:
            self._fail()
        return json.loads(out)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            f.close()


def available(peer):
    return importlib.util.find_spec(PEER_MODULES[peer]) is not None


# ---------------------------------------------------------------------- end to end

def _warm_file(path):
    """Read the file once so that every command finds it in the page cache alike."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def _peer_end_to_end(peer, path, threads, workdir):
    """Seconds of one whole csv_peers.py process (interpreter start to exit), with the
    phases and the peak RSS it reports. runpy keeps neuralcli's package off its path, so
    the process imports only numpy, pandas and the peer."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csv_peers.py")
    cmd = [sys.executable, "-c", f"import runpy; runpy.run_path({script!r}, "
                                 f"run_name='__main__')",
           peer, path, workdir, "--hidden", ",".join(map(str, CASES["d"]["sizes"][1:-1])),
           "--epochs", str(E2E_EPOCHS), "--batch", str(E2E_BATCH), "--lr", str(LR),
           "--seed", "0", "--threads", str(threads)]
    n = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"the {peer} end-to-end run failed on {path}:\n"
                           f"{out.stderr.strip()}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, **report}


def end_to_end(path, threads, quick):
    """{peer: figures} for CSV to saved model at one thread count: `neuralcli train` with
    E2E_OPTIONS, and csv_peers.py for scikit-learn and PyTorch (which need pandas), each
    a fresh process per run, timed whole; the median of _repeats runs."""
    from neuralcli.benchmarks import data

    peers = ["ours"] + [p for p in ("sklearn", "torch")
                        if available(p) and importlib.util.find_spec("pandas")]
    out = {}
    for peer in peers:
        runs = []

        def run():
            with tempfile.TemporaryDirectory() as work:
                if peer == "ours":
                    got = data.train_end_to_end(path, threads, work, options=E2E_OPTIONS)
                else:
                    got = _peer_end_to_end(peer, path, threads, work)
            runs.append(got)
            return got["seconds"]

        out[peer] = _watched(lambda: _median_runs(run, quick), children=True)
        out[peer]["peak_rss"] = max(r["peak_rss"] or 0 for r in runs) or None
        if peer != "ours":
            for phase in ("read_s", "fit_s", "save_s"):
                out[peer][phase] = float(np.median([r[phase] for r in runs]))
    return out


# ---------------------------------------------------------------------- rows

def _time(row, peer):
    """A row's figure for a peer: ms per step, or seconds for the whole-run rows."""
    return row.get(f"{peer}_ms" if row["kind"] == "step" else f"{peer}_s")


def _target(row_id, threads, busy):
    """A row's goals as {peer, "floor", "fit_overhead" or "threads_ratio": value}; empty
    but at TARGET_THREADS."""
    if threads != TARGET_THREADS:
        return {}
    if busy:
        return {"threads_ratio": BUSY_TARGET}
    return {k: v for (r, k), v in TARGETS.items() if r == row_id}


def _step_row(case, nt, res):
    ours = res["ours"][case]
    row = {"id": case, "case": case, "kind": "step", "model": model_name(case),
           "batch": CASES[case]["batch"], "data": CASES[case]["data"], "threads": nt,
           "dtype": "float32", "optimizer": "adam", "lr": LR}
    for p in PEERS:
        ms = None if res[p] is None else res[p][case]["ms"]
        row[f"{p}_ms"] = ms
        if p != "ours":
            row[f"ratio_{p}"] = None if ms is None else ms / ours["ms"]
    busy = [res[p][case].get("others_cpu") for p in PEERS if res[p] is not None]
    busy = [b for b in busy if b is not None]
    # the most any other process took from the machine while a peer was timed
    row["others_cpu"] = max(busy) if busy else None
    row["ours_steps_per_repeat"] = ours["steps_per_repeat"]
    row["repeats"] = ours["repeats"]
    if res["sklearn"] is not None:
        sk = res["sklearn"][case]
        row["sklearn_method"] = ("fit on one batch: (t(max_iter=E) - t(max_iter=1))"
                                 " / (E-1)")
        row["sklearn_epochs"] = sk["epochs"]
        row["sklearn_fit_setup_ms"] = sk["fit_setup_ms"]
    if "floor_ms" in ours:
        row.update({k: ours[k] for k in ("gemm_gflops", "train_flops", "floor_ms")})
        row["floor_ratio"] = ours["ms"] / ours["floor_ms"]
        row["ours_gflops"] = ours["train_flops"] / (ours["ms"] * 1e-3) / 1e9
    if "fit_overhead" in ours:
        row.update({k: ours[k] for k in ("fit_ms", "steps_ms", "fit_overhead")})
        row["fit_overhead_steps"] = OVERHEAD_STEPS
    return row


def _seconds_row(rid, nt, got, d_rows, path):
    """A whole-run row from {peer: {"s", "repeats", "others_cpu", ...}}."""
    spec = SECONDS_ROWS[rid]
    case = spec["case"]
    rows = CASES[case]["batch"] if case == "a" else d_rows
    row = {"id": rid, "case": case, "kind": spec["kind"], "model": model_name(case),
           "batch": spec["batch"], "epochs": spec["epochs"], "rows": rows,
           "data": CASES[case]["data"], "threads": nt, "dtype": "float32",
           "optimizer": "adam", "lr": LR}
    ours = got["ours"]["s"]
    for p in ("ours", "torch", "sklearn"):
        s = got[p]["s"] if got.get(p) else None
        row[f"{p}_s"] = s
        if p != "ours":
            row[f"ratio_{p}"] = None if s is None else s / ours
    row["repeats"] = {p: got[p]["repeats"] for p in got if got[p]}
    busy = [got[p]["others_cpu"] for p in got if got[p] and got[p]["others_cpu"] is not None]
    row["others_cpu"] = max(busy) if busy else None
    if spec["kind"] == "end_to_end":
        row["file"] = path
        row["command"] = "neuralcli train FILE " + " ".join(E2E_OPTIONS)
        for p in got:
            row[f"{p}_rss"] = got[p]["peak_rss"]
            for phase in ("read_s", "fit_s", "save_s"):
                if phase in got[p]:
                    row[f"{p}_{phase}"] = got[p][phase]
    return row


def run(threads=(1, 2), cases=("a", "b", "c", "d"), quick=False, busy=False, d_rows=None,
        directory=None):
    """Benchmark rows, one dict per (row id, thread count): per-step rows (kind "step":
    ms of every peer, None when not installed, our speed-up over each, the GEMM floor of b
    and c, c's fit overhead) first, then the whole-run rows in seconds (kinds "fit",
    "epoch", "end_to_end"). Every row carries "threads_ratio": our time at its thread
    count over our time at one thread (None without a one-thread row), and "busy".

    busy: keep the other core busy with a spinning process from before the workers start
    until the last measurement ends. d_rows: rows of case d (default D_ROWS, D_QUICK_ROWS
    when quick); directory: where the CSV of the end-to-end row is generated (default
    data.default_dir())."""
    if isinstance(threads, int):
        threads = (threads,)
    if isinstance(cases, str):
        cases = tuple(c for c in cases.split(",") if c)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if d_rows is None:
        d_rows = D_QUICK_ROWS if quick else D_ROWS
    d_rows = int(d_rows)
    if d_rows < max(D_BATCHES):
        raise ValueError(f"case d needs at least {max(D_BATCHES)} rows, got {d_rows}")
    peers = [p for p in PEERS if available(p)
             and (p != "numpy" or any(c in STEP_CASES for c in cases))]
    if "ours" not in peers:
        raise RuntimeError("neuralcli is not importable")
    path = None
    if "d" in cases:
        from neuralcli.benchmarks import data

        path = data.make_file("i", directory or data.default_dir(), d_rows)
    results, e2e = {}, {}
    with busy_core() if busy else contextlib.nullcontext():
        workers = {}
        try:
            for nt in threads:
                for p in peers:
                    workers[(nt, p)] = _Worker(p, cases, nt, quick, d_rows)
            for w in workers.values():
                w.ready()
            results = {key: w.result() for key, w in workers.items()}
        finally:
            for w in workers.values():
                w.close()
        if path:
            _warm_file(path)
            for nt in threads:
                e2e[nt] = end_to_end(path, nt, quick)
    rows = []
    for nt in threads:
        res = {p: results.get((nt, p)) for p in PEERS}
        for rid in row_ids(cases):
            if rid in STEP_CASES:
                row = _step_row(rid, nt, res)
            else:
                got = e2e[nt] if rid == "d-e2e" else \
                    {p: res[p][rid] for p in ("ours", "torch", "sklearn")
                     if res[p] is not None and rid in res[p]}
                row = _seconds_row(rid, nt, got, d_rows, path)
            row["busy"] = bool(busy)
            row["target"] = _target(rid, nt, busy)
            rows.append(row)
    one = {r["id"]: r for r in rows if r["threads"] == 1}
    for r in rows:
        base = one.get(r["id"]) if r["threads"] != 1 else None
        r["threads_ratios"] = {}
        for p in PEERS:
            t, t1 = _time(r, p), None if base is None else _time(base, p)
            if t is not None and t1:
                r["threads_ratios"][p] = t / t1
        r["threads_ratio"] = r["threads_ratios"].get("ours")
    return rows


BUSY_NOTE = ("measured with the other core busy: a spinning Python process (a bare loop, "
             "pinned to no core) ran from before the workers started to the end")


def peer_label(row, peer):
    """A peer's name in a row: the end-to-end row's peers read the CSV with pandas."""
    label = PEER_LABELS[peer]
    return f"pandas+{label}" if row["kind"] == "end_to_end" and peer != "ours" else label


def row_label(row):
    if row["kind"] == "step":
        return f"{row['case']} {row['model']}"
    return SECONDS_ROWS[row["id"]]["label"]


def _worker_main(argv=None):
    """A peer's worker process (_Worker): load, say "ready", wait for "go" on stdin, then
    measure and print the figures as JSON."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--worker", choices=PEERS, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--rows", type=int, default=D_ROWS)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    cases = tuple(c for c in args.cases.split(",") if c)
    _preload(args.worker)
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(measure(args.worker, cases, args.threads, args.quick, args.rows)),
          flush=True)
    # skip the interpreter's teardown (torch's takes seconds of CPU) so it never overlaps
    # the next worker's measurement
    os._exit(0)


if __name__ == "__main__":
    _worker_main()
