"""`neuralcli bench gemm` with this script's arguments, its tables in Markdown unless they
ask for another format (--format, --json). The code is neuralcli/benchmarks/gemm.py (the
measuring) and neuralcli/cli/bench.py (the tables). See benchmarks/README.md."""
from neuralcli.cli.bench import script

if __name__ == "__main__":
    script("gemm")
