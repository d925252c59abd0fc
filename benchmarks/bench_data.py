"""CSV reading: neuralcli.csvparse.parse against pyarrow.csv.read_csv and pandas.read_csv.

Two files, generated once (deterministic) if missing:
  higgs1m.csv       1,000,000 rows: a 0/1 label and 28 float columns (about 190 MB)
  higgs1m_text.csv  the same rows plus 5 text columns of 3-50 categories, some quoted
                    with a comma inside, with CRLF line ends

Each reader runs in its own fresh process (so peak RSS is its own), once to warm the page
cache and then `--repeats` times; the readers alternate over `--rounds` rounds, and the
figure is the median over rounds of each process's median wall time, with its CPU time
(all threads, user + system) in brackets: on a machine shared with other jobs the CPU
time of a one-thread read moves much less than its wall time. pyarrow runs with
set_cpu_count(n) and set_io_thread_count(n) at the same thread count n as ours; pandas
uses its C engine (one thread). Ratios are the peer's time / ours (above 1: ours faster).

    python benchmarks/bench_data.py [--dir /work/data] [--threads 1 2] [--repeats 3]
                                    [--rounds 3]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

import numpy as np

ROWS = 1_000_000
FEATURES = 28

CHILD = r"""
import json, resource, statistics, sys, time
path, reader, threads, repeats, text = sys.argv[1:6]
threads, repeats, text = int(threads), int(repeats), text == "1"
if reader == "ours":
    import io
    import neuralcli
    from neuralcli.csvparse import parse
    neuralcli.set_num_threads(threads)
    with open(path, "rb") as f:
        header = f.readline().decode().rstrip("\r\n").split(",")
    ncols = len(header)
    kinds = ["number"] * (ncols - 5 if text else ncols) + ["text"] * (5 if text else 0)
    def run():
        return parse(lambda: open(path, "rb"), path=path, delimiter=",", ncols=ncols,
                     kinds=kinds, formats=[None] * ncols, na_values=["NA"],
                     skip_records=1, threads=threads)
elif reader == "pyarrow":
    import pyarrow, pyarrow.csv
    pyarrow.set_cpu_count(threads)
    pyarrow.set_io_thread_count(threads)
    def run():
        return pyarrow.csv.read_csv(path, read_options=pyarrow.csv.ReadOptions(
            use_threads=threads > 1))
else:
    import pandas
    def run():
        return pandas.read_csv(path, engine="c")
run()
times, cpus = [], []
for _ in range(repeats):
    t, c = time.perf_counter(), time.process_time()
    out = run()
    times.append(time.perf_counter() - t)
    cpus.append(time.process_time() - c)
    del out
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"median": statistics.median(times), "cpu": statistics.median(cpus),
                  "rss_mb": rss}))
"""


def generate(directory):
    """Write the two files if they are missing; return their paths."""
    os.makedirs(directory, exist_ok=True)
    plain = os.path.join(directory, "higgs1m.csv")
    text = os.path.join(directory, "higgs1m_text.csv")
    if os.path.exists(plain) and os.path.exists(text):
        return plain, text
    rng = np.random.default_rng(2026)
    label = rng.integers(0, 2, ROWS)
    x = np.empty((ROWS, FEATURES))
    x[:, ::2] = rng.lognormal(0.0, 0.5, (ROWS, (FEATURES + 1) // 2))
    x[:, 1::2] = rng.normal(0.0, 1.2, (ROWS, FEATURES // 2))
    header = ["label"] + [f"f{j + 1}" for j in range(FEATURES)]
    body = [",".join(header)]
    fmt = ",".join(["%d"] + ["%.3f", "%.4f"] * (FEATURES // 2))
    for i in range(ROWS):
        body.append(fmt % (label[i], *x[i]))
    if not os.path.exists(plain):
        with open(plain, "w", newline="") as f:
            f.write("\n".join(body) + "\n")
    if not os.path.exists(text):
        sizes = (3, 7, 12, 25, 50)
        cats = [[f"c{j}_{k}" if k % 4 else f'"c{j},{k}"' for k in range(n)]
                for j, n in enumerate(sizes)]
        picks = [rng.integers(0, n, ROWS) for n in sizes]
        lines = [body[0] + "," + ",".join(f"t{j + 1}" for j in range(len(sizes)))]
        for i in range(ROWS):
            lines.append(body[i + 1] + "," + ",".join(cats[j][picks[j][i]]
                                                     for j in range(len(sizes))))
        with open(text, "w", newline="") as f:
            f.write("\r\n".join(lines) + "\r\n")
    return plain, text


def measure(path, reader, threads, repeats, text):
    out = subprocess.run([sys.executable, "-c", CHILD, path, reader, str(threads),
                          str(repeats), "1" if text else "0"], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/work/data")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    plain, text = generate(args.dir)
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print("| file | MB | threads | ours s | pyarrow s | pandas s | pyarrow/ours | "
          "pandas/ours | RSS MB ours / pyarrow / pandas |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path, is_text in ((plain, False), (text, True)):
        mb = os.path.getsize(path) / 1e6
        runs = {}
        for _ in range(args.rounds):
            for reader, t in [("pandas", 1)] + [(r, t) for t in args.threads
                                                for r in ("ours", "pyarrow")]:
                got = measure(path, reader, t, args.repeats, is_text)
                runs.setdefault((reader, t), []).append(got)

        def med(reader, t, key="median"):
            return statistics.median(r[key] for r in runs[reader, t])

        def both(reader, t):
            return f"{med(reader, t):.3f} ({med(reader, t, 'cpu'):.2f})"

        def rss(reader, t):
            return max(r["rss_mb"] for r in runs[reader, t])

        pandas = med("pandas", 1)
        for t in args.threads:
            ours, arrow = med("ours", t), med("pyarrow", t)
            print(f"| {os.path.basename(path)} | {mb:.0f} | {t} | {both('ours', t)} | "
                  f"{both('pyarrow', t)} | {both('pandas', 1)} | {arrow / ours:.2f} | "
                  f"{pandas / ours:.2f} | "
                  f"{rss('ours', t):.0f} / {rss('pyarrow', t):.0f} / {rss('pandas', 1):.0f} |",
                  flush=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
