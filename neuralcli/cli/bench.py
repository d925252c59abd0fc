"""neuralcli bench: our kernels, training and CSV reading beside the peers installed here.

The one front end of the benchmarks (benchmarks/bench_*.py run it too): the modules of
neuralcli/benchmarks/ measure and return rows; this one chooses what to run and lays the
rows out as tables, the same tables in every format: rich or plain text, Markdown (as
benchmarks/README.md records them), or JSON, which is the rows themselves."""
import click

from neuralcli.cli import format_option

BENCHMARKS = ("gemm", "train", "data", "epoch")

EPILOG = """\b
Examples:
  neuralcli bench gemm --threads 1 --quick
  neuralcli bench train --threads 1,2
  neuralcli bench train --cases d --quick --busy
  neuralcli bench data --files i --quick
  neuralcli bench epoch --repeats 1
  neuralcli bench train --cases a,b --format markdown > results.md
  neuralcli bench all --json > bench.json
"""

# Options for some benchmarks only, by parameter: (its flag, the benchmarks it applies to,
# whether `all` takes it too). Given elsewhere, it is a usage error rather than ignored.
ONLY = {
    "cases": ("--cases", ("train",), True),
    "rows": ("--rows", ("train",), True),
    "busy": ("--busy", ("train",), False),   # the spinner would slow every benchmark
    "files": ("--files", ("data",), True),
    "no_train": ("--no-train", ("data",), True),
    "directory": ("--dir", ("train", "data"), True),
    "rounds": ("--rounds", ("gemm",), True),
    "repeats": ("--repeats", ("epoch",), True),
}


def _threads(text):
    try:
        values = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: give thread counts like 1,2",
                                 param_hint="--threads") from None
    if not values or any(v < 1 for v in values):
        raise click.BadParameter(f"{text!r}: thread counts are at least 1",
                                 param_hint="--threads")
    return values


def _names(text, known, flag, what):
    names = tuple(v.strip() for v in str(text).split(",") if v.strip())
    if not names or any(n not in known for n in names):
        raise click.BadParameter(f"{text!r}: choose {what} from {', '.join(known)}",
                                 param_hint=flag)
    return names


@click.command("bench", epilog=EPILOG, short_help="Benchmark against numpy, PyTorch, "
                                                  "scikit-learn.")
@click.argument("what", type=click.Choice([*BENCHMARKS, "all"]), default="all")
@click.option("--threads", "threads_text", default="1,2", show_default=True,
              help="Thread counts, comma-separated; every peer runs at the same count.")
@click.option("--cases", default="a,b,c,d", show_default=True,
              help="Training cases: a 2-64-1 on 500 points (per step, and a fit of 200 "
                   "epochs), b 784-256-128-10 batch 128, c 1024-1024-1024-10 batch 256, "
                   "d 28-64-64-1 on 1M rows (an epoch at batch 32 and 256, and CSV to "
                   "saved model).")
@click.option("--rows", type=click.IntRange(min=256), metavar="N",
              help="Rows of training case d (default 1,000,000; 100,000 with --quick).")
@click.option("--busy", is_flag=True,
              help="Training only: keep the other core busy with a spinning process while "
                   "measuring, and report each case's 2-thread / 1-thread time.")
@click.option("--files", default="i,ii,iii", show_default=True,
              help="Data files: i 1M rows x 28 floats, ii 1M rows x 20 floats + 5 text "
                   "columns, CRLF, iii 20k rows x 2,000 floats (generated once).")
@click.option("--no-train", is_flag=True,
              help="Data only: leave out the end-to-end `neuralcli train` rows.")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Where the data files and case d's CSV are generated (default: "
                   "neuralcli-bench in the user's cache directory).")
@click.option("--rounds", type=click.IntRange(min=1),
              help="GEMM only: rounds over the columns, the median taken (default 3; 1 "
                   "with --quick).")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs only: timed runs of each figure after a warm-up, the median "
                   "taken (1 with --quick).")
@click.option("--quick", is_flag=True, help="Fewer repeats and sizes: a smoke test.")
@format_option("rich", "plain", "json", "markdown", json_flag=True)
@click.pass_context
def command(ctx, what, threads_text, cases, rows, busy, files, no_train, directory, rounds,
            repeats, quick):
    """Measure GEMM GFLOP/s against numpy's BLAS (its default kernels and AVX-512),
    milliseconds per training step against PyTorch, scikit-learn and plain numpy, whole
    fits, epochs and CSV-to-model runs in seconds, reading CSV files against pyarrow,
    pandas and numpy, and epochs with their batches run in C against one Python step per
    batch, in the same run at the same thread count, as medians after warm-up. Peers that
    are not installed are left out; the machine, its load and the date come first."""
    import os

    from click.core import ParameterSource

    from neuralcli.benchmarks import data, environment, epoch, gemm, train

    chosen = BENCHMARKS if what == "all" else (what,)
    for name, (flag, used_by, with_all) in ONLY.items():
        given = ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        if given and what not in used_by and not (what == "all" and with_all):
            raise click.BadParameter(f"applies to `neuralcli bench "
                                     f"{'|'.join(used_by)}` only", param_hint=flag)
    threads = _threads(threads_text)
    case_list = _names(cases, tuple(train.CASES), "--cases", "cases") \
        if "train" in chosen else ()
    file_list = _names(files, tuple(data.FILES), "--files", "files") \
        if "data" in chosen else ()
    console = ctx.obj.console
    result = {"environment": environment()}
    if busy:
        result["environment"]["busy"] = train.BUSY_NOTE
    if "gemm" in chosen:
        console.note("measuring GEMM (each column in its own process)...")
        result["gemm"] = gemm.run(threads=threads, quick=quick, rounds=rounds)
    if "train" in chosen:
        console.note("measuring training (each peer in its own process"
                     + ("; the other core kept busy" if busy else "") + ")...")
        result["train"] = train.run(threads=threads, cases=case_list, quick=quick, busy=busy,
                                    d_rows=rows, directory=directory)
    if "data" in chosen:
        console.note("measuring CSV reading (each peer in its own process; the files are "
                     f"generated once in {directory or data.default_dir()})...")
        result["data"] = data.run(files=file_list, threads=threads, quick=quick,
                                  directory=directory, end_to_end=not no_train)
    if "epoch" in chosen:
        console.note("measuring epochs (both ways in this process)...")
        result["epoch"] = epoch.run(threads=threads, repeats=repeats, quick=quick)
    result["environment"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if console.format == "json":
        console.json(result)
        return
    show(console, result)


# ------------------------------------------------------------------ the tables

class Table:
    """A table as every format shows it: cells already written as text (each figure to
    the digits its column has), the first column left-aligned, and `left` more."""

    def __init__(self, title, columns, rows, left=()):
        self.title, self.columns, self.rows = title, columns, rows
        self.aligns = ["left" if i == 0 or c in left else "right"
                       for i, c in enumerate(columns)]


def show(console, result):
    """A run's result (what the command gathers: "environment" and the rows of each
    benchmark run) as blocks, tables and paragraphs, a blank line between them, through
    the console in its format."""
    blocks = []
    if "environment" in result:
        blocks.append(_environment(result["environment"]))
    for name, blocks_of in (("gemm", _gemm), ("train", _train), ("data", _data),
                            ("epoch", _epoch)):
        if result.get(name):
            blocks += blocks_of(result[name])
    for i, block in enumerate(blocks):
        if i:
            console.line()
        if isinstance(block, Table):
            console.table(block.columns, block.rows, title=block.title, aligns=block.aligns)
        else:
            for line in block:
                console.line(line)


def tables_text(result, fmt="markdown"):
    """show()'s output as text in `fmt` (Markdown by default, as benchmarks/README.md
    records the tables)."""
    import io

    from neuralcli.cli.console import Console

    out = io.StringIO()
    show(Console(color=False, out=out, fmt=fmt), result)
    return out.getvalue()


def _f(v, spec):
    """A figure to `spec`'s digits; a missing one as a dash."""
    return "\u2014" if v is None else format(v, spec)


def _x(v, spec=".2f"):
    """A ratio, as 1.23x."""
    return "\u2014" if v is None else f"{v:{spec}}x"


def _environment(env):
    lines = [f"date {env['date']}; CPU {env['cpu']}, {env['cores']} cores; "
             f"load average {' '.join(str(x) for x in env['load_average'])}"
             + (f" before, {' '.join(str(x) for x in env['load_average_after'])} after"
                if env.get("load_average_after") else ""),
             f"python {env['python']}, numpy {env['numpy']}, torch {env.get('torch', '-')}, "
             f"scikit-learn {env.get('sklearn', '-')}"]
    if "neuralcli" in env:
        nc = env["neuralcli"]
        lines.append(f"neuralcli {nc['version']} (ISA {nc['isa']})")
    for lib in env.get("blas", []):
        lines.append(f"numpy BLAS: {lib['internal_api']} {lib['version']}, core type "
                     f"{lib['architecture']}, {lib['threading_layer']} threads")
    return lines


def _gemm(rows):
    return [Table("GEMM, float32, GFLOP/s (ratios: ours / numpy)",
                  ["case", "threads", "ours GFLOP/s", "numpy (default)", "numpy (SkylakeX)",
                   "ours/default", "ours/SkylakeX"],
                  [[r["case"], r["threads"], _f(r["ours_gflops"], ".1f"),
                    _f(r["numpy_gflops"], ".1f"), _f(r["numpy_avx512_gflops"], ".1f"),
                    _f(r["ratio_numpy"], ".2f"), _f(r["ratio_numpy_avx512"], ".2f")]
                   for r in rows])]


def _target_text(row):
    """A row's goals at two threads and whether it met them: "≥30x PyTorch (met)"."""
    from neuralcli.benchmarks.train import PEERS, peer_label

    parts = []
    for key, goal in row["target"].items():
        if key == "floor":
            got, text = row.get("floor_ratio"), f"≤{goal:g}x floor"
        elif key == "fit_overhead":
            got, text = row.get("fit_overhead"), f"fit ≤{goal:g}x steps"
        elif key == "threads_ratio":
            got, text = row.get("threads_ratio"), f"2t/1t ≤{goal:g}x"
        else:
            got, text = row.get(f"ratio_{key}"), f"≥{goal:g}x {peer_label(row, key)}"
        ok = None if got is None else (got >= goal if key in PEERS else got <= goal)
        parts.append(text + ("" if ok is None else (" (met)" if ok else " (missed)")))
    return ", ".join(parts) or "\u2014"


def _train(rows):
    """The per-step table, the whole-run table, then notes on how each row was measured."""
    from neuralcli.benchmarks.train import BUSY_NOTE, peer_label, row_label

    blocks = []
    if any(r["busy"] for r in rows):
        blocks.append([f"All training figures {BUSY_NOTE}."])
    steps = [r for r in rows if r["kind"] == "step"]
    whole = [r for r in rows if r["kind"] != "step"]
    target = "target (2 threads)"
    if steps:
        blocks.append(Table(
            "Per training step, float32, Adam, ms (ratios: peer ms / ours)",
            ["case", "threads", "neuralcli ms", "PyTorch ms", "scikit-learn ms", "numpy ms",
             "x PyTorch", "x scikit-learn", "x numpy", "GEMM floor ms", "ours/floor",
             "fit/steps", "2t/1t", target, "others' CPU"],
            [[row_label(r), r["threads"], _f(r["ours_ms"], ".3f"), _f(r["torch_ms"], ".3f"),
              _f(r["sklearn_ms"], ".3f"), _f(r["numpy_ms"], ".3f"), _x(r["ratio_torch"]),
              _x(r["ratio_sklearn"]), _x(r["ratio_numpy"]), _f(r.get("floor_ms"), ".2f"),
              _f(r.get("floor_ratio"), ".2f"), _f(r.get("fit_overhead"), ".2f"),
              _f(r["threads_ratio"], ".2f"), _target_text(r), _f(r["others_cpu"], ".0%")]
             for r in steps], left=(target,)))
    if whole:
        blocks.append(Table(
            "Whole runs, seconds (ratios: peer s / ours; end to end, the peers read with "
            "pandas)",
            ["run", "threads", "neuralcli s", "PyTorch s", "scikit-learn s", "x PyTorch",
             "x scikit-learn", "2t/1t", target, "others' CPU"],
            [[row_label(r), r["threads"], _f(r["ours_s"], ".3f"), _f(r["torch_s"], ".3f"),
              _f(r["sklearn_s"], ".3f"), _x(r["ratio_torch"]), _x(r["ratio_sklearn"]),
              _f(r["threads_ratio"], ".2f"), _target_text(r), _f(r["others_cpu"], ".0%")]
             for r in whole], left=(target,)))
    notes = []
    for r in rows:
        where = f"{r['id']}, {r['threads']} thread(s)"
        if "gemm_gflops" in r:
            rates = ", ".join(f"{k} {v:.1f}" for k, v in r["gemm_gflops"].items())
            notes.append(f"{where}: our GEMM {rates} GFLOP/s; step "
                         f"{r['train_flops'] / 1e9:.3f} GFLOP, {r['ours_gflops']:.1f} "
                         f"GFLOP/s achieved")
        if "fit_overhead" in r:
            notes.append(f"{where}: MLPClassifier.fit of {r['fit_overhead_steps']} batches "
                         f"{r['fit_ms']:.1f} ms, {r['fit_overhead_steps']} bare steps "
                         f"{r['steps_ms']:.1f} ms")
        if r.get("sklearn_epochs"):
            notes.append(f"{where}: scikit-learn fit E={r['sklearn_epochs']} epochs of one "
                         f"batch, setup {r['sklearn_fit_setup_ms']:.1f} ms excluded")
        if r["kind"] in ("epoch", "end_to_end"):
            reps = ", ".join(f"{peer_label(r, p)} {n}" for p, n in r["repeats"].items())
            notes.append(f"{where}: {r['rows']:,} rows; runs (median taken): {reps}")
        if r["kind"] == "end_to_end":
            rss = ", ".join(f"{peer_label(r, p)} {r[f'{p}_rss'] / 1e6:.0f}"
                            for p in r["repeats"] if r.get(f"{p}_rss"))
            phases = "; ".join(
                f"{peer_label(r, p)} read {r[f'{p}_read_s']:.2f}, fit {r[f'{p}_fit_s']:.2f}, "
                f"save {r[f'{p}_save_s']:.2f}" for p in ("sklearn", "torch")
                if f"{p}_read_s" in r)
            notes.append(f"{where}: peak RSS MB {rss}; inside the peers' processes (s): "
                         f"{phases or '—'}")
    if any(r["busy"] for r in rows):
        notes.append("others' CPU includes the spinner, about one core of the machine's")
    elif any((r["others_cpu"] or 0) > 0.05 for r in rows):
        notes.append("others' CPU: the largest share of the machine that other processes "
                     "used while a peer of the row was timed; above a few per cent the "
                     "row's figures are disturbed and worth re-running")
    return blocks + ([notes] if notes else [])


def _data(result):
    """Reading into typed columns, then training end to end against pandas' read alone."""
    def mb(v):
        return _f(None if v is None else v / 1e6, ".0f")

    blocks = [Table(
        "Read into typed columns: median seconds, peak RSS in MB, speed-up = peer seconds "
        "/ ours",
        ["file", "threads", "ours s", "pyarrow s", "pandas s", "numpy s", "x pyarrow",
         "x pandas", "x numpy", "ours MB", "pyarrow MB", "pandas MB"],
        [[f"{r['file']} ({r['about']}, {r['mbytes']:.0f} MB)", r["threads"],
          _f(r.get("ours_s"), ".3f"), _f(r.get("pyarrow_s"), ".3f"),
          _f(r.get("pandas_s"), ".3f"), _f(r.get("numpy_s"), ".3f"),
          _f(r.get("ratio_pyarrow"), ".2f"), _f(r.get("ratio_pandas"), ".2f"),
          _f(r.get("ratio_numpy"), ".2f"), mb(r.get("ours_rss")), mb(r.get("pyarrow_rss")),
          mb(r.get("pandas_rss"))] for r in result["read"]])]
    if result["train"]:
        blocks.append(Table(
            "End to end, `neuralcli train FILE --epochs 1` against pandas.read_csv alone",
            ["file", "threads", "train s", "pandas read s", "pandas s / train s",
             "train MB", "pandas MB", "train MB / pandas MB"],
            [[r["file"], r["threads"], _f(r["train_s"], ".2f"),
              _f(r["pandas_read_s"], ".2f"), _f(r["time_ratio"], ".2f"), mb(r["train_rss"]),
              mb(r["pandas_rss"]), _f(r["rss_ratio"], ".2f")] for r in result["train"]]))
    return blocks


def _epoch(rows):
    return [Table("Epochs: batches run in C against one Python step per batch, seconds "
                  "(speed-up: per batch / runs in C)",
                  ["case", "threads", "per batch (s)", "runs in C (s)", "speed-up"],
                  [[r["case"], r["threads"], _f(r["per_batch_s"], ".3f"),
                    _f(r["runs_s"], ".3f"), _x(r["speedup"])] for r in rows])]


def script(what, argv=None):
    """benchmarks/bench_<what>.py: `neuralcli bench <what>` with the script's arguments,
    in Markdown unless they ask for another format (--format, --json)."""
    import sys

    from neuralcli.cli import main

    main(["bench", what, "--format", "markdown",
          *(sys.argv[1:] if argv is None else argv)])
