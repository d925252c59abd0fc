"""Run the train benchmark; the code lives in neuralcli/benchmarks/train.py, which
`neuralcli bench train` runs too. See benchmarks/README.md."""
from neuralcli.benchmarks.train import main

if __name__ == "__main__":
    main()
