"""neuralcli bench: our kernels and training step beside the peers installed here."""
import click

EPILOG = """\b
Examples:
  neuralcli bench gemm --threads 1 --quick
  neuralcli bench train --threads 1,2
  neuralcli bench train --cases d --quick --busy
  neuralcli bench data --files i --quick
  neuralcli bench all --json > bench.json
"""


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


@click.command("bench", epilog=EPILOG, short_help="Benchmark against numpy, PyTorch, "
                                                  "scikit-learn.")
@click.argument("what", type=click.Choice(["gemm", "train", "data", "all"]), default="all")
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
@click.option("--quick", is_flag=True, help="Fewer repeats and sizes: a smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_obj
def command(app, what, threads_text, cases, rows, busy, files, quick, as_json):
    """Measure GEMM GFLOP/s against numpy's BLAS (its default kernels and AVX-512),
    milliseconds per training step against PyTorch, scikit-learn and plain numpy, whole
    fits, epochs and CSV-to-model runs in seconds, and reading CSV files against pyarrow,
    pandas and numpy, in the same run at the same thread count, as medians after warm-up.
    This is the code of benchmarks/; peers that are not installed are left out."""
    from neuralcli.benchmarks import data, gemm, train

    def x(ratio):
        return "-" if ratio is None else f"{ratio:.2f}x"

    def gf(v):
        return "-" if v is None else f"{v:.1f}"

    def ms(v):
        return "-" if v is None else (f"{v:.4f}" if v < 1 else f"{v:.2f}")

    threads = _threads(threads_text)
    if busy and what != "train":
        raise click.BadParameter("applies to `neuralcli bench train` only",
                                 param_hint="--busy")
    console = app.console
    out = {}
    if what in ("gemm", "all"):
        console.note("measuring GEMM (each column in its own process)...")
        out["gemm"] = gemm.run(threads=threads, quick=quick)
    if what in ("train", "all"):
        case_list = tuple(c.strip() for c in cases.split(",") if c.strip())
        unknown = [c for c in case_list if c not in train.CASES]
        if unknown or not case_list:
            raise click.BadParameter(f"{cases!r}: choose cases from "
                                     f"{', '.join(train.CASES)}", param_hint="--cases")
        console.note("measuring training (each peer in its own process"
                     + ("; the other core kept busy" if busy else "") + ")...")
        out["train"] = train.run(threads=threads, cases=case_list, quick=quick, busy=busy,
                                 d_rows=rows)
    if what in ("data", "all"):
        console.note("measuring CSV reading (each peer in its own process; the files are "
                     f"generated once in {data.default_dir()})...")
        out["data"] = data.run(files=tuple(f for f in files.split(",") if f),
                               threads=threads, quick=quick)
    if as_json:
        console.json(out)
        return
    if "gemm" in out:
        console.table(["case", "threads", "ours GFLOP/s", "numpy", "numpy AVX-512",
                       "ours/numpy", "ours/AVX-512"], aligns=["left"] + ["right"] * 6,
                      rows=
                      [[r["case"], r["threads"], gf(r["ours_gflops"]), gf(r["numpy_gflops"]),
                        gf(r["numpy_avx512_gflops"]), x(r["ratio_numpy"]),
                        x(r["ratio_numpy_avx512"])]
                       for r in out["gemm"]], title="GEMM, float32")
    if "train" in out:
        if "gemm" in out:
            console.line()
        if busy:
            console.line(f"All training figures {train.BUSY_NOTE}.")
        steps = [r for r in out["train"] if r["kind"] == "step"]
        whole = [r for r in out["train"] if r["kind"] != "step"]
        if steps:
            console.table(["case", "threads", "ours ms", "PyTorch ms", "sklearn ms",
                           "numpy ms", "x PyTorch", "x sklearn", "x numpy", "ours/floor",
                           "fit/steps", "2t/1t"], aligns=["left"] + ["right"] * 11,
                          rows=
                          [[r["model"], r["threads"], ms(r["ours_ms"]), ms(r.get("torch_ms")),
                            ms(r.get("sklearn_ms")), ms(r.get("numpy_ms")),
                            x(r.get("ratio_torch")), x(r.get("ratio_sklearn")),
                            x(r.get("ratio_numpy")), x(r.get("floor_ratio")),
                            x(r.get("fit_overhead")), x(r["threads_ratio"])]
                           for r in steps],
                          title="Training step, float32, Adam (ratios: peer ms / ours)")
        if whole:
            if steps:
                console.line()
            console.table(["run", "threads", "ours s", "PyTorch s", "sklearn s",
                           "x PyTorch", "x sklearn", "2t/1t"],
                          aligns=["left"] + ["right"] * 7,
                          rows=[[train.row_label(r), r["threads"], ms(r["ours_s"]),
                                 ms(r.get("torch_s")), ms(r.get("sklearn_s")),
                                 x(r.get("ratio_torch")), x(r.get("ratio_sklearn")),
                                 x(r["threads_ratio"])] for r in whole],
                          title="Whole fits, epochs and CSV to saved model, seconds "
                                "(ratios: peer s / ours; end to end, the peers read with "
                                "pandas)")
    if "data" in out:
        if len(out) > 1:
            console.line()
        mb = lambda v: "-" if v is None else f"{v / 1e6:.0f}"  # noqa: E731
        console.table(["file", "threads", "ours s", "pyarrow s", "pandas s", "numpy s",
                       "x pyarrow", "x pandas", "x numpy", "ours MB", "pandas MB"],
                      aligns=["left"] + ["right"] * 10,
                      rows=[[f"{r['file']} ({r['about']})", r["threads"], ms(r["ours_s"]),
                             ms(r.get("pyarrow_s")), ms(r.get("pandas_s")),
                             ms(r.get("numpy_s")), x(r.get("ratio_pyarrow")),
                             x(r.get("ratio_pandas")), x(r.get("ratio_numpy")),
                             mb(r.get("ours_rss")), mb(r.get("pandas_rss"))]
                            for r in out["data"]["read"]],
                      title="Reading CSV into typed columns (ratios: peer s / ours)")
        if out["data"]["train"]:
            console.line()
            console.table(["file", "threads", "train s", "pandas read s", "x", "train MB",
                           "pandas MB"], aligns=["left"] + ["right"] * 6,
                          rows=[[r["file"], r["threads"], ms(r["train_s"]),
                                 ms(r["pandas_read_s"]), x(r["time_ratio"]),
                                 mb(r["train_rss"]), mb(r["pandas_rss"])]
                                for r in out["data"]["train"]],
                          title="neuralcli train FILE --epochs 1, end to end, against "
                                "pandas.read_csv alone")
