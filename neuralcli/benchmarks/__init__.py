"""The benchmarks behind `neuralcli bench` (which benchmarks/*.py run): our kernels,
training and CSV reading beside numpy/OpenBLAS, PyTorch, scikit-learn, pyarrow and pandas,
measured in the same run. Each module measures and returns rows (dicts); the tables are
laid out in one place, neuralcli/cli/bench.py."""
import contextlib
import datetime
import importlib.util
import os
import platform
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


def environment():
    """What the figures were measured on: CPU, cores, load, date and library versions."""
    import numpy as np

    env = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "python": platform.python_version(), "numpy": np.__version__,
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                env["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    for peer, dist in (("torch", "torch"), ("sklearn", "scikit-learn")):
        if importlib.util.find_spec(peer) is not None:
            # the version without importing the package
            from importlib import metadata

            try:
                env[peer] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                env[peer] = "installed"
    try:
        import neuralcli

        env["neuralcli"] = neuralcli.runtime_info()
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [{k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                                "threading_layer", "filepath")}
                       for lib in threadpool_info() if lib.get("user_api") == "blas"]
    except ImportError:
        pass
    return env
