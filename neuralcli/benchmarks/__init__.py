"""The benchmarks behind `neuralcli bench` and benchmarks/*.py: our kernels and training
step beside numpy/OpenBLAS, PyTorch and scikit-learn, measured in the same run."""
import os
import sys


def worker_command(module, *args):
    """(argv, cwd) that run `python -m module args` against this very neuralcli.

    `python -m` puts the working directory first on sys.path; started from a source
    checkout beside an installed copy, the workers would import the uncompiled sources.
    The directory holding the imported package avoids that (the checkout itself for an
    editable install, site-packages otherwise)."""
    import neuralcli

    root = os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))
    return [sys.executable, "-m", module, *args], root
