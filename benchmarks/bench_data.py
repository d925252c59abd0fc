"""Run the data benchmark; the code lives in neuralcli/benchmarks/data.py, which
`neuralcli bench data` runs too. See benchmarks/README.md."""
from neuralcli.benchmarks.data import main

if __name__ == "__main__":
    main()
