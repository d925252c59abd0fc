"""Reading CSV files into typed columns, and training end to end from a CSV file, against
pyarrow, pandas and numpy, in the same run at the same thread count.

Files, generated once into a cache directory (seeded, so every run reads the same bytes):

    i    1,000,000 rows x 28 floats + a 0/1 label (about 200 MB)
    ii   1,000,000 rows x 20 floats + 5 text columns (3 to 50 categories, some values
         quoted because they hold commas) + a label, CRLF line ends
    iii  20,000 rows x 2,000 floats

Read: each (peer, file, thread count) runs in its own fresh interpreter: it imports its
library, reads the file once as a warm-up (the file is then in the page cache for every
peer alike), then `repeats` times; the figure is the median. Peers: neuralcli's
`read_table` (typed columns: float64 values and masks, int32 codes), pyarrow.csv.read_csv
(its thread pools set to the count), pandas.read_csv (C engine, one thread whatever the
count), numpy.loadtxt (all-numeric files only). Peak RSS is the worker's maximum resident
size (ru_maxrss), and "read RSS" that less the size after imports.

End to end: `neuralcli train FILE --epochs 1` (read, preprocess, one epoch, save) as a
user runs it, timed as a whole command (interpreter start included), beside the time
pandas.read_csv alone takes to read the same file.

Run it with `neuralcli bench data` (or benchmarks/bench_data.py, which runs that):

    neuralcli bench data                       # files i ii iii, 1 and 2 threads
    neuralcli bench data --files i --threads 2 --quick --json
"""
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from neuralcli.benchmarks import worker_command

PEERS = ("ours", "pyarrow", "pandas", "numpy")
PEER_LABELS = {"ours": "neuralcli", "pyarrow": "pyarrow", "pandas": "pandas",
               "numpy": "numpy.loadtxt"}
PEER_MODULES = {"ours": "neuralcli", "pyarrow": "pyarrow", "pandas": "pandas",
                "numpy": "numpy"}
FILES = {
    "i": {"rows": 1_000_000, "floats": 28, "text": 0, "crlf": False,
          "about": "1M rows x 28 floats + label"},
    "ii": {"rows": 1_000_000, "floats": 20, "text": 5, "crlf": True,
           "about": "1M rows x 20 floats + 5 text + label, CRLF"},
    "iii": {"rows": 20_000, "floats": 2_000, "text": 0, "crlf": False,
            "about": "20k rows x 2,000 floats"},
}
QUICK_ROWS = {"i": 50_000, "ii": 50_000, "iii": 2_000}
# goals: ours against a peer at the same thread count (>=)
TARGETS = {"pyarrow": 1.0, "pandas": 4.0}
TEXT_CATEGORIES = (3, 7, 12, 25, 50)


def default_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or
                        os.path.join(os.path.expanduser("~"), ".cache"), "neuralcli-bench")


# ---------------------------------------------------------------------- files

def make_file(name, directory, rows=None, chunk=100_000):
    """The path of file `name` with `rows` rows in `directory`, written if missing."""
    spec = FILES[name]
    rows = spec["rows"] if rows is None else int(rows)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}-{rows}.csv")
    if os.path.exists(path):
        return path
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(1234)
    eol = "\r\n" if spec["crlf"] else "\n"
    f_names = [f"f{j}" for j in range(spec["floats"])]
    t_names = [f"t{j}" for j in range(spec["text"])]
    # the categories of text column j: some hold a comma, so the writer quotes them
    vocab = [np.array([f"c{j}_{k}" if k % 4 else f"c{j}, kind {k}" for k in range(m)])
             for j, m in enumerate(TEXT_CATEGORIES[:spec["text"]])]
    tmp = path + ".part"
    with open(tmp, "wb") as out:
        out.write((",".join(f_names + t_names + ["label"]) + eol).encode())
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            X = np.round(rng.normal(size=(n, spec["floats"])), 4)
            cols = {c: X[:, j] for j, c in enumerate(f_names)}
            for j, c in enumerate(t_names):
                cols[c] = vocab[j][rng.integers(0, len(vocab[j]), n)]
            cols["label"] = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + rng.normal(0, 0.5, n)
                             > 0).astype(np.int8)
            buf = io.BytesIO()
            pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(
                include_header=False, eol=eol, quoting_style="needed"))
            out.write(buf.getvalue())
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------- workers

def _peak_rss():
    """This process's peak resident size in bytes. VmHWM belongs to the address space,
    which exec makes anew; ru_maxrss would carry over the parent's peak from the fork."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reader(peer, path, threads):
    """A function that reads the file once, after this peer's imports and settings."""
    if peer == "ours":
        import neuralcli
        from neuralcli.reader import read_table

        neuralcli.set_num_threads(threads)
        return lambda: read_table(path, threads=threads)
    if peer == "pyarrow":
        import pyarrow
        import pyarrow.csv

        pyarrow.set_cpu_count(threads)
        pyarrow.set_io_thread_count(threads)
        opts = pyarrow.csv.ReadOptions(use_threads=threads > 1)
        return lambda: pyarrow.csv.read_csv(path, read_options=opts)
    if peer == "pandas":
        import pandas

        return lambda: pandas.read_csv(path, engine="c")
    if peer == "numpy":
        return lambda: np.loadtxt(path, delimiter=",", skiprows=1)
    raise ValueError(peer)


def measure_read(peer, path, threads, repeats):
    """Run in a worker: {"seconds": median, "all": [...], "peak_rss", "import_rss"}."""
    read = _reader(peer, path, threads)
    import_rss = _peak_rss()
    result = read()                       # warm-up: the page cache, lazy imports
    del result
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = read()
        times.append(time.perf_counter() - t0)
        del result
    return {"seconds": statistics.median(times), "all": times, "peak_rss": _peak_rss(),
            "import_rss": import_rss}


def _run_worker(peer, path, threads, repeats):
    cmd, cwd = worker_command("neuralcli.benchmarks.data", "--worker", peer, "--path", path,
                              "--threads", str(threads), "--repeats", str(repeats))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"the {peer} worker failed on {path}:\n{out.stderr.strip()}")
    return json.loads(out.stdout)


def train_end_to_end(path, threads, workdir, options=("--epochs", "1")):
    """Wall seconds and peak RSS of `neuralcli train path *options`, run as a user runs
    it in a fresh interpreter (start-up included); the command's own process reports its
    peak resident size as it exits."""
    model = os.path.join(workdir, "bench.ncm")
    report = os.path.join(workdir, "rss.json")
    cmd, cwd = worker_command("neuralcli.benchmarks.data", "--train-worker", report, "--",
                              "train", path, *options, "--threads", str(threads),
                              "-o", model, "--force")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"neuralcli train failed on {path}:\n{out.stderr.strip()}")
    with open(report) as f:
        return {"seconds": seconds, "peak_rss": json.load(f)["peak_rss"]}


def _train_worker(report, args):
    """Run the neuralcli command `args` in this process, then record its peak RSS."""
    from neuralcli.cli import main as cli_main

    code = 0
    try:
        cli_main(args)
    except SystemExit as exc:
        code = exc.code or 0
    with open(report, "w") as f:
        json.dump({"peak_rss": _peak_rss()}, f)
    sys.exit(code)


def available(peer):
    return importlib.util.find_spec(PEER_MODULES[peer]) is not None


def run(files=("i", "ii", "iii"), threads=(1, 2), quick=False, directory=None,
        end_to_end=True):
    """{"read": rows, "train": rows}: one read row per (file, thread count) with every
    peer's median seconds and peak RSS and our speed-up over each; one end-to-end row
    per (file i, thread count)."""
    directory = directory or default_dir()
    repeats = 2 if quick else 5
    peers = [p for p in PEERS if available(p)]
    read_rows, train_rows = [], []
    for name in files:
        rows = QUICK_ROWS[name] if quick else None
        path = make_file(name, directory, rows)
        size = os.path.getsize(path)
        for nt in threads:
            row = {"file": name, "about": FILES[name]["about"], "rows": rows or
                   FILES[name]["rows"], "mbytes": size / 1e6, "threads": nt}
            for p in peers:
                if p == "numpy" and FILES[name]["text"]:
                    row["numpy_s"] = row["numpy_rss"] = None
                    continue
                got = _run_worker(p, path, nt, repeats)
                row[f"{p}_s"] = got["seconds"]
                row[f"{p}_rss"] = got["peak_rss"]
                row[f"{p}_read_rss"] = got["peak_rss"] - got["import_rss"]
            for p in PEERS[1:]:
                s = row.get(f"{p}_s")
                row[f"ratio_{p}"] = None if s is None else s / row["ours_s"]
            read_rows.append(row)
            if end_to_end and name == "i":
                with tempfile.TemporaryDirectory() as work:
                    e2e = train_end_to_end(path, nt, work)
                train_rows.append({
                    "file": name, "threads": nt, "train_s": e2e["seconds"],
                    "train_rss": e2e["peak_rss"], "pandas_read_s": row.get("pandas_s"),
                    "pandas_rss": row.get("pandas_rss"),
                    "time_ratio": (None if row.get("pandas_s") is None else
                                   row["pandas_s"] / e2e["seconds"]),
                    "rss_ratio": (None if row.get("pandas_rss") is None else
                                  e2e["peak_rss"] / row["pandas_rss"])})
    return {"read": read_rows, "train": train_rows}


def _worker_main(argv=None):
    """A worker process: a reader's figures (_run_worker) printed as JSON, or a neuralcli
    command run with its peak RSS recorded (train_end_to_end)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--path")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-worker")
    ap.add_argument("command", nargs="*")
    args = ap.parse_args(argv)
    if args.train_worker:
        _train_worker(args.train_worker, args.command)
        return
    print(json.dumps(measure_read(args.worker, args.path, args.threads, args.repeats)))


if __name__ == "__main__":
    _worker_main()
