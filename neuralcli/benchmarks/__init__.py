"""The benchmarks behind `neuralcli bench` and benchmarks/*.py: our kernels and training
step beside numpy/OpenBLAS, PyTorch and scikit-learn, measured in the same run."""
import contextlib
import os
import subprocess
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


# Spins until the process that started it (its first argument) is no longer its parent:
# checking every million iterations (some tens of milliseconds) keeps the core busy all
# the while, and a benchmark killed outright (SIGKILL, no finally) still leaves nothing
# spinning behind. The pid comes from the starter, since the starter may be gone before
# the spinner's interpreter has even started.
_SPIN = ("import os, sys\n"
         "parent = int(sys.argv[1])\n"
         "while os.getppid() == parent:\n"
         "    for _ in range(1000000):\n"
         "        pass\n")


@contextlib.contextmanager
def busy_core():
    """Keep one core busy for the duration of the block with a spinning Python process,
    pinned to no core (the scheduler places it, as it would any other job). Yields its
    Popen; the process is killed and reaped when the block ends, however it ends (an
    error, Ctrl-C)."""
    proc = subprocess.Popen([sys.executable, "-c", _SPIN, str(os.getpid())], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
