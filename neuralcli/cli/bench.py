"""neuralcli bench: our kernels and training step beside the peers installed here."""
import click

EPILOG = """\b
Examples:
  neuralcli bench gemm --threads 1 --quick
  neuralcli bench train --threads 1,2
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
@click.argument("what", type=click.Choice(["gemm", "train", "all"]), default="all")
@click.option("--threads", "threads_text", default="1,2", show_default=True,
              help="Thread counts, comma-separated; every peer runs at the same count.")
@click.option("--cases", default="a,b,c", show_default=True,
              help="Training cases: a 2-64-1 on 500 points, b 784-256-128-10 batch 128, "
                   "c 1024-1024-1024-10 batch 256.")
@click.option("--quick", is_flag=True, help="Fewer repeats and sizes: a smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_obj
def command(app, what, threads_text, cases, quick, as_json):
    """Measure GEMM GFLOP/s against numpy's BLAS (its default kernels and AVX-512), and
    milliseconds per training step against PyTorch, scikit-learn and plain numpy, in the
    same run at the same thread count, as medians after warm-up. This is the code of
    benchmarks/; peers that are not installed are left out."""
    from neuralcli.benchmarks import gemm, train

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
