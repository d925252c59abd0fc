"""The benchmarks behind `neuralcli bench` and benchmarks/*.py: our kernels and training
step beside numpy/OpenBLAS, PyTorch and scikit-learn, measured in the same run."""
