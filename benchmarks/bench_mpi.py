"""Data-parallel training over MPI against one process: samples/s of one epoch of a
28-64-64-1 regression network (Adam, float32) on ROWS x 28 random floats, for

  - 2 ranks x 1 thread  (mpirun -n 2; each step's batch split over the ranks),
  - 1 process x 2 threads,
  - 1 process x 1 thread,

at each batch size, the three taken in turn in every repeat (medians over the repeats),
and the share of the ranks' step time spent in the gradient reduction. With --ranks, the
batch of 2048 is also run at each N of that list (N ranks x 1 thread; past the cores,
oversubscribed: the timing's shape only), for docs/distributed.md's scaling model.

    python benchmarks/bench_mpi.py [--rows 1000000] [--batches 256,2048] [--repeats 3]
                                   [--ranks 2,3,4] [--hidden 64,64] [--mpirun-args ARGS]

--mpirun-args passes options to mpirun ("--mca mpi_yield_when_idle 1 --bind-to none" on a
machine shared with other work: see docs/distributed.md).

Needs the neuralcli[mpi] extra (mpirun beside this Python, or on PATH). As root, Open MPI
needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1, which the script
sets for the runs it starts."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

FEATURES = 28


def make_data(rows, seed=0):
    """ROWS x 28 float32 inputs and a smooth target of them (the same on every rank)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    w = rng.standard_normal(FEATURES).astype(np.float32)
    y = (np.tanh(X @ w / 4) + 0.1 * X[:, 0] * X[:, 1]).astype(np.float32).reshape(-1, 1)
    return X, y


def network(hidden):
    from neuralcli.network import MLP

    sizes = [FEATURES, *hidden, 1]
    return MLP(sizes, ["relu"] * len(hidden) + ["identity"], dtype="float32", seed=0)


def one_epoch(trainer, X, y):
    """Samples/s of one epoch (the trainer's own clock) on X, y."""
    state = trainer.fit(X, y)
    return state.samples / state.elapsed


def single(rows, batch, threads, hidden):
    import neuralcli
    from neuralcli.training import Task, TrainConfig, Trainer

    X, y = make_data(rows)
    neuralcli.set_num_threads(threads)
    trainer = Trainer(network(hidden), Task("regression", "mse", 1),
                      TrainConfig(epochs=1, batch_size=batch, seed=0, shuffle=True))
    return {"samples_per_s": one_epoch(trainer, X, y)}


def worker(rows, batch, hidden):
    """One rank of an mpirun: its block of the rows, one thread; prints rank 0's figures
    as JSON: samples/s and the share of the step time in the reduction (the gradients'
    gather and rank-order sum, the mean over the ranks)."""
    import neuralcli
    from neuralcli import distributed
    from neuralcli.training import Task, TrainConfig

    neuralcli.set_num_threads(1)
    comm = distributed.world()
    X, y = make_data(rows)
    lo, hi = comm.block(rows)
    X, y = X[lo:hi].copy(), y[lo:hi].copy()
    spent = [0.0]
    reduce = comm.sum_rows

    def timed(part):
        t = time.perf_counter()
        out = reduce(part)
        spent[0] += time.perf_counter() - t
        return out

    comm.sum_rows = timed
    trainer = distributed.DistributedTrainer(
        network(hidden), Task("regression", "mse", 1),
        TrainConfig(epochs=1, batch_size=batch, seed=0, shuffle=True), comm=comm)
    comm.comm.Barrier()
    rate = one_epoch(trainer, X, y)
    share = spent[0] / trainer.state.elapsed
    shares = comm.allgather(share)
    if comm.rank == 0:
        print(json.dumps({"samples_per_s": rate, "comm_share": statistics.mean(shares),
                          "steps": trainer.state.step}))


def mpirun():
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


def ranks(n, rows, batch, hidden, extra=()):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1")
    cmd = [mpirun(), "--oversubscribe", *extra, "-n", str(n), sys.executable, __file__,
           "--worker",
           "--rows", str(rows), "--batches", str(batch), "--hidden",
           ",".join(map(str, hidden))]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def single_run(rows, batch, threads, hidden):
    """single() in a fresh interpreter, as the ranks run, so that no run inherits
    another's warm buffers."""
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            f"import bench_mpi; print(json.dumps(bench_mpi.single({rows}, {batch}, "
            f"{threads}, {list(hidden)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batches", default="256,2048")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ranks", default="")
    p.add_argument("--hidden", default="64,64")
    p.add_argument("--mpirun-args", default="")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    hidden = [int(h) for h in a.hidden.split(",")]
    extra = a.mpirun_args.split()
    batches = [int(b) for b in a.batches.split(",")]
    if a.worker:
        worker(a.rows, batches[0], hidden)
        return
    if mpirun() is None:
        sys.exit('bench_mpi: mpirun not found; pip install "neuralcli[mpi]"')
    import platform

    print(f"{a.rows:,} rows x {FEATURES} floats, {FEATURES}-{'-'.join(map(str, hidden))}-1,"
          f" Adam, float32, one epoch; {platform.node()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; medians of "
          f"{a.repeats}; mpirun {' '.join(['--oversubscribe', *extra])}\n")
    print("| batch | 1 x 1 thread | 1 x 2 threads | 2 ranks x 1 thread | 2 ranks / 1x2 "
          "| 2 ranks / 1x1 | reduction share |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for batch in batches:
        got = {"1x1": [], "1x2": [], "2x1": [], "share": []}
        for _ in range(a.repeats):
            got["1x1"].append(single_run(a.rows, batch, 1, hidden)["samples_per_s"])
            got["1x2"].append(single_run(a.rows, batch, 2, hidden)["samples_per_s"])
            r = ranks(2, a.rows, batch, hidden, extra)
            got["2x1"].append(r["samples_per_s"])
            got["share"].append(r["comm_share"])
        m = {k: statistics.median(v) for k, v in got.items()}
        print(f"| {batch} | {m['1x1']:,.0f} | {m['1x2']:,.0f} | {m['2x1']:,.0f} | "
              f"{m['2x1'] / m['1x2']:.2f} | {m['2x1'] / m['1x1']:.2f} | "
              f"{100 * m['share']:.1f}% |")
    if a.ranks:
        print("\n| ranks (batch 2048) | samples/s | per step | reduction per step "
              "| reduction share |")
        print("|---:|---:|---:|---:|---:|")
        for n in (int(k) for k in a.ranks.split(",")):
            runs = [ranks(n, a.rows, 2048, hidden, extra) for _ in range(a.repeats)]
            rate = statistics.median(r["samples_per_s"] for r in runs)
            share = statistics.median(r["comm_share"] for r in runs)
            step = 2048 / rate
            print(f"| {n} | {rate:,.0f} | {1e3 * step:.2f} ms | "
                  f"{1e3 * step * share:.3f} ms | {100 * share:.1f}% |")


if __name__ == "__main__":
    main()
