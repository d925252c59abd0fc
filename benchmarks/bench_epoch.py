"""`neuralcli bench epoch` with this script's arguments, its tables in Markdown unless they
ask for another format (--format, --json): epoch time of compiled runs of batches against
the per-batch loop over the same kernels. The code is neuralcli/benchmarks/epoch.py (the
measuring) and neuralcli/cli/bench.py (the tables). See benchmarks/README.md.

    python benchmarks/bench_epoch.py [--threads 1,2] [--repeats 3]
"""
from neuralcli.cli.bench import script

if __name__ == "__main__":
    script("epoch")
