"""neuralcli bench: our kernels and training step beside the peers installed here."""
import click

EPILOG = """\b
Examples:
  neuralcli bench gemm --threads 1 --quick
  neuralcli bench train --threads 1,2
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
@click.option("--cases", default="a,b,c", show_default=True,
              help="Training cases: a 2-64-1 on 500 points, b 784-256-128-10 batch 128, "
                   "c 1024-1024-1024-10 batch 256.")
@click.option("--files", default="i,ii,iii", show_default=True,
              help="Data files: i 1M rows x 28 floats, ii 1M rows x 20 floats + 5 text "
                   "columns, CRLF, iii 20k rows x 2,000 floats (generated once).")
@click.option("--quick", is_flag=True, help="Fewer repeats and sizes: a smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_obj
def command(app, what, threads_text, cases, files, quick, as_json):
    """Measure GEMM GFLOP/s against numpy's BLAS (its default kernels and AVX-512),
    milliseconds per training step against PyTorch, scikit-learn and plain numpy, and
    reading CSV files against pyarrow, pandas and numpy, in the same run at the same thread
    count, as medians after warm-up. This is the code of benchmarks/; peers that are not
    installed are left out."""
    from neuralcli.benchmarks import data, gemm, train

    def x(ratio):
        return "-" if ratio is None else f"{ratio:.2f}x"

    def gf(v):
        return "-" if v is None else f"{v:.1f}"

    def ms(v):
        return "-" if v is None else (f"{v:.4f}" if v < 1 else f"{v:.2f}")

    threads = _threads(threads_text)
    console = app.console
    out = {}
    if what in ("gemm", "all"):
        console.note("measuring GEMM (each column in its own process)...")
        out["gemm"] = gemm.run(threads=threads, quick=quick)
    if what in ("train", "all"):
        console.note("measuring training steps (each peer in its own process)...")
        out["train"] = train.run(threads=threads, cases=tuple(cases.split(",")),
                                 quick=quick)
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
        console.table(["case", "threads", "ours ms", "PyTorch ms", "sklearn ms", "numpy ms",
                       "x PyTorch", "x sklearn", "x numpy"], aligns=["left"] + ["right"] * 8,
                      rows=
                      [[r["model"], r["threads"], ms(r["ours_ms"]), ms(r.get("torch_ms")),
                        ms(r.get("sklearn_ms")), ms(r.get("numpy_ms")), x(r.get("ratio_torch")),
                        x(r.get("ratio_sklearn")), x(r.get("ratio_numpy"))]
                       for r in out["train"]],
                      title="Training step, float32, Adam (ratios: peer ms / ours)")
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
