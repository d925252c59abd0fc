"""Run the gemm benchmark; the code lives in neuralcli/benchmarks/gemm.py, which
`neuralcli bench gemm` runs too. See benchmarks/README.md."""
from neuralcli.benchmarks.gemm import main

if __name__ == "__main__":
    main()
