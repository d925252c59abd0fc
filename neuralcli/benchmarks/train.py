"""Milliseconds per training step of neuralcli against PyTorch, scikit-learn and numpy.

One step is forward, loss, backward and one Adam update (lr 1e-3), float32, on a fixed
batch. Cases:

    a  2-64-1 (ReLU, one logit, BCE on logits), full batch of 500 two-spirals points
    b  784-256-128-10 (ReLU, softmax cross-entropy), batch 128, random data
    c  1024-1024-1024-10 (ReLU, softmax cross-entropy), batch 256, random data

Peers, all at the same thread count: neuralcli's `Trainer.step`; PyTorch eager
(nn.Sequential, torch.optim.Adam with its default implementation choice); scikit-learn's
MLPClassifier (solver adam); a hand-written numpy forward/backward/Adam that allocates its
temporaries each step. Each peer runs in its own fresh worker process, one after another,
so an idle thread pool of one library never competes with the next for the two cores.

scikit-learn has no public per-step call, so it is timed through `fit` on exactly one
batch (one epoch = one step): per step = (t(fit, max_iter=E) - t(fit, max_iter=1)) / (E-1),
which drops fit's one-off setup (validation, label encoding, weight init) and keeps its
real loop. `partial_fit` would charge input validation to every step.

For case c the table also gives a GEMM-bound floor: the step's FLOPs (forward 2*N*sum(C*OC),
backward 4*N*sum(C*OC) less the first layer's dX) at our own GEMM's measured GFLOP/s on
the step's three GEMM shapes (forward, dW, dX), and the ratio step time / floor.

    python benchmarks/bench_train.py                  # 1 and 2 threads, cases a b c
    python benchmarks/bench_train.py --threads 2 --cases a,b --quick --json
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from neuralcli.benchmarks import worker_command

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
}

LR = 1e-3
# goals at two threads: a speed-up over a peer (>=) or a ratio to the GEMM floor (<=)
TARGETS = {
    ("a", "torch"): 15.0,
    ("b", "torch"): 4.0,
    ("c", "torch"): 2.5,
    ("b", "sklearn"): 5.0,
    ("c", "floor"): 1.3,
}
TARGET_THREADS = 2


# ---------------------------------------------------------------------- cases and data

def model_name(case):
    return "-".join(str(s) for s in CASES[case]["sizes"])


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


def train_flops(case):
    """FLOPs of one training step by GEMM kind: forward 2*N*C*OC per layer, dW the same,
    dX the same for every layer but the first (the input needs no gradient)."""
    spec = CASES[case]
    n, sizes = spec["batch"], spec["sizes"]
    per_layer = [2 * n * c * oc for c, oc in zip(sizes[:-1], sizes[1:])]
    return {"fwd": sum(per_layer), "dW": sum(per_layer), "dX": sum(per_layer[1:])}


def gemm_shapes(case):
    """The three GEMMs of a hidden layer of the case as bench_gemm.py describes them:
    (label, m, n, k, trans_a, trans_b) with op(A) (m,k) and op(B) (k,n)."""
    spec = CASES[case]
    n, c, oc = spec["batch"], spec["sizes"][1], spec["sizes"][2]
    return (
        ("fwd", n, oc, c, False, False),    # X (N,C) @ W (C,OC)
        ("dW", c, oc, n, True, False),      # X^T (C,N) @ dY (N,OC)
        ("dX", n, c, oc, False, True),      # dY (N,OC) @ W^T (OC,C)
    )


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
    """Our GEMM's GFLOP/s on the case's three shapes, measured with bench_gemm.py's own
    helper, and the step time the FLOPs would take at those rates."""
    from neuralcli.benchmarks.gemm import _ours_gflops

    shapes = gemm_shapes(case)
    rates = dict(zip([s[0] for s in shapes], _ours_gflops(shapes, threads, quick)))
    flops = train_flops(case)
    floor = sum(flops[k] / (rates[k] * 1e9) for k in flops)
    return {"gemm_gflops": rates, "train_flops": sum(flops.values()),
            "floor_ms": 1e3 * floor}


def _cpu_seconds():
    """(seconds every CPU of the machine spent busy, seconds this process ran), or None
    where /proc/stat is missing. Their difference over a measurement is the CPU time
    other processes took from it."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]      # all but idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def measure(peer, cases, threads, quick):
    """This process's figures for one peer: {case: {"ms": ..., ...}}. Run in a worker."""
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
            X, y = make_data(case)
            t0, cpu0 = time.perf_counter(), _cpu_seconds()
            if peer == "sklearn":
                ms, info = _sklearn_ms(case, X, y, quick)
            else:
                make = {"ours": _ours_step, "torch": _torch_step, "numpy": _numpy_step}[peer]
                ms, info = median_ms(make(case, X, y), case, quick)
            out[case] = {"ms": ms, **info}
            cpu1 = _cpu_seconds()
            if cpu0 and cpu1:
                # share of the machine other processes used while this case was timed
                others = (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                    else os.cpu_count()
                out[case]["others_cpu"] = max(0.0, others / (time.perf_counter() - t0)
                                              / cores)
            if peer == "ours" and case == "c":
                out[case].update(_gemm_floor(case, threads, quick))
    return out


def _preload(peer):
    """Import what a peer needs, so a worker can load while another one measures."""
    import threadpoolctl  # noqa: F401

    if peer == "ours":
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

    def __init__(self, peer, cases, threads, quick):
        self.peer = peer
        cmd, cwd = worker_command("neuralcli.benchmarks.train", "--worker", peer,
                                  "--threads", str(threads), "--cases", ",".join(cases),
                                  *(["--quick"] if quick else []))
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


# ---------------------------------------------------------------------- rows

def _target(case, threads):
    """This row's goals as {peer or "floor": value}; empty but at TARGET_THREADS."""
    if threads != TARGET_THREADS:
        return {}
    return {k: v for (c, k), v in TARGETS.items() if c == case}


def run(threads=(1, 2), cases=("a", "b", "c"), quick=False):
    """Benchmark rows: one dict per (case, thread count) with ms/step of every peer (None
    when the peer is not installed), our speed-up over each, and for case c the GEMM floor."""
    if isinstance(threads, int):
        threads = (threads,)
    if isinstance(cases, str):
        cases = tuple(c for c in cases.split(",") if c)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    peers = [p for p in PEERS if available(p)]
    if "ours" not in peers:
        raise RuntimeError("neuralcli is not importable")
    workers = {(nt, p): _Worker(p, cases, nt, quick) for nt in threads for p in peers}
    try:
        for w in workers.values():
            w.ready()
        results = {key: w.result() for key, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    rows = []
    for nt in threads:
        res = {p: results.get((nt, p)) for p in PEERS}
        for case in cases:
            ours = res["ours"][case]
            row = {"case": case, "model": model_name(case), "batch": CASES[case]["batch"],
                   "data": CASES[case]["data"], "threads": nt, "dtype": "float32",
                   "optimizer": "adam", "lr": LR}
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
            row["target"] = _target(case, nt)
            rows.append(row)
    return rows


def environment():
    """What the figures were measured on: CPU, cores, load, date and library versions."""
    env = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "python": platform.python_version(), "numpy": np.__version__,
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                env["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    for peer in ("torch", "sklearn"):
        if available(peer):
            # the version without importing the package
            from importlib import metadata

            dist = {"torch": "torch", "sklearn": "scikit-learn"}[peer]
            try:
                env[peer] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                env[peer] = "installed"
    try:
        import neuralcli

        env["neuralcli"] = neuralcli.runtime_info()
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [{k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                                "threading_layer", "filepath")}
                       for lib in threadpool_info() if lib.get("user_api") == "blas"]
    except ImportError:
        pass
    return env


def format_environment(env):
    lines = [f"date {env['date']}; CPU {env['cpu']}, {env['cores']} cores; "
             f"load average {' '.join(str(x) for x in env['load_average'])}",
             f"python {env['python']}, numpy {env['numpy']}, torch {env.get('torch', '-')}, "
             f"scikit-learn {env.get('sklearn', '-')}"]
    if "neuralcli" in env:
        nc = env["neuralcli"]
        lines.append(f"neuralcli {nc['version']} (ISA {nc['isa']}, OpenMP {nc['openmp']})")
    for lib in env.get("blas", []):
        lines.append(f"numpy BLAS: {lib['internal_api']} {lib['version']}, core type "
                     f"{lib['architecture']}, {lib['threading_layer']} threads")
    return "\n".join(lines)


def _fmt(x, spec, none="—"):
    return none if x is None else format(x, spec)


def _target_text(row):
    parts = []
    for key, goal in row["target"].items():
        if key == "floor":
            got, ok, text = row.get("floor_ratio"), None, f"≤{goal:g}x floor"
            if got is not None:
                ok = got <= goal
        else:
            got, text = row.get(f"ratio_{key}"), f"≥{goal:g}x {PEER_LABELS[key]}"
            ok = None if got is None else got >= goal
        parts.append(text + ("" if ok is None else (" (met)" if ok else " (missed)")))
    return ", ".join(parts) or "—"


def format_table(rows):
    head = ("| case | threads | neuralcli ms | PyTorch ms | scikit-learn ms | numpy ms "
            "| vs PyTorch | vs scikit-learn | vs numpy | GEMM floor ms | ours/floor "
            "| target (2 threads) | others' CPU |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['case']} {r['model']} | {r['threads']} | {r['ours_ms']:.3f} "
            f"| {_fmt(r['torch_ms'], '.3f')} | {_fmt(r['sklearn_ms'], '.3f')} "
            f"| {_fmt(r['numpy_ms'], '.3f')} | {_fmt(r['ratio_torch'], '.2f')}x "
            f"| {_fmt(r['ratio_sklearn'], '.2f')}x | {_fmt(r['ratio_numpy'], '.2f')}x "
            f"| {_fmt(r.get('floor_ms'), '.2f')} | {_fmt(r.get('floor_ratio'), '.2f')} "
            f"| {_target_text(r)} | {_fmt(r['others_cpu'], '.0%')} |")
    notes = []
    for r in rows:
        if "gemm_gflops" in r:
            g = r["gemm_gflops"]
            notes.append(f"case {r['case']}, {r['threads']} thread(s): our GEMM "
                         f"fwd {g['fwd']:.1f}, dW {g['dW']:.1f}, dX {g['dX']:.1f} GFLOP/s; "
                         f"step {r['train_flops'] / 1e9:.2f} GFLOP, "
                         f"{r['ours_gflops']:.1f} GFLOP/s achieved")
        if r.get("sklearn_epochs"):
            notes.append(f"case {r['case']}, {r['threads']} thread(s): scikit-learn "
                         f"fit E={r['sklearn_epochs']} epochs of one batch, setup "
                         f"{r['sklearn_fit_setup_ms']:.1f} ms excluded")
    if any((r["others_cpu"] or 0) > 0.05 for r in rows):
        notes.append("others' CPU: the largest share of the machine that other processes "
                     "used while a peer of the row was timed; above a few per cent the "
                     "row's figures are disturbed and worth re-running")
    return "\n".join(lines + [""] + notes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2",
                   help="comma-separated thread counts (default: 1,2)")
    p.add_argument("--cases", default="a,b,c", help="comma-separated cases (default: a,b,c)")
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    p.add_argument("--json", action="store_true",
                   help="print the environment and the rows as JSON")
    p.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = tuple(int(t) for t in str(args.threads).replace(" ", ",").split(",") if t)
    cases = tuple(c.strip() for c in args.cases.split(",") if c.strip())
    if args.worker:
        _preload(args.worker)
        print("ready", flush=True)
        sys.stdin.readline()
        print(json.dumps(measure(args.worker, cases, threads[0], args.quick)), flush=True)
        # skip the interpreter's teardown (torch's takes seconds of CPU) so it never
        # overlaps the next worker's measurement
        os._exit(0)
    env = environment()
    rows = run(threads=threads, cases=cases, quick=args.quick)
    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps({"environment": env, "rows": rows}, indent=1))
    else:
        print(format_environment(env))
        print(f"load average after the run: "
              f"{' '.join(str(x) for x in env['load_average_after'])}\n")
        print(format_table(rows))


if __name__ == "__main__":
    main()
