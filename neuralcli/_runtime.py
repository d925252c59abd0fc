"""Process-wide runtime settings of the compiled core: thread count and ISA path."""
import os
import sys

from neuralcli._version import __version__


def _missing_core(exc):
    """The ImportError for a neuralcli without its compiled core: a source folder (a clone
    in the working directory shadows the installed package) says so and what to do; a
    compiled file that is there but does not load keeps its own error."""
    from importlib.machinery import EXTENSION_SUFFIXES

    folder = os.path.dirname(os.path.abspath(__file__))
    if any(os.path.exists(os.path.join(folder, "_kernels" + s)) for s in EXTENSION_SUFFIXES):
        return exc
    return ImportError(
        f"neuralcli's compiled core (_kernels) is not built in {folder}, the source folder "
        f"Python imported neuralcli from: run from another directory to use the installed "
        f"neuralcli, or build the core here with `pip install -e .` or "
        f"`python setup.py build_ext --inplace`", name="neuralcli._kernels", path=folder)


try:
    from neuralcli import _kernels
except ImportError as exc:
    raise _missing_core(exc) from None


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _warn(text):
    # a setting read once at import: one line, as a runtime that parses its environment
    # reports it, not a Python warning with its source line
    if sys.stderr is not None:
        sys.stderr.write(f"neuralcli: warning: {text}\n")


def _threads_from_env():
    """NEURALCLI_NUM_THREADS, else OMP_NUM_THREADS, else every core we may run on. A value
    that is no positive integer is named on stderr and skipped."""
    bad, n = [], None
    for var in ("NEURALCLI_NUM_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(var, "").strip()
        if not raw:
            continue
        # OMP_NUM_THREADS may be a list ("4,2") for nested levels: the first counts
        try:
            value = int(raw.split(",")[0])
        except ValueError:
            value = 0
        if value >= 1:
            n = value
            break
        bad.append((var, raw))
    if n is None:
        n = _cpu_count()
    for var, raw in bad:
        _warn(f"{var}={raw!r} is not a thread count (a positive integer, such as 2); "
              f"using {n} threads")
    return n


def set_num_threads(n):
    """Use n threads in every kernel from now on (n >= 1)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"thread count must be at least 1, got {n}")
    _kernels.set_num_threads(n)


def get_num_threads():
    """Threads the kernels use, on the core's own pool."""
    return _kernels.get_num_threads()


def runtime_info():
    """What this build runs with: the SIMD path, threads and version."""
    return {
        "version": __version__,
        "isa": _kernels.get_isa(),
        "isa_detected": _kernels.detect_isa(),
        "threads": get_num_threads(),
        "cpu_count": _cpu_count(),
    }


def _init():
    _kernels.set_num_threads(_threads_from_env())
    # NEURALCLI_ISA caps the SIMD path (portable, avx2, avx512), e.g. to test a slower one
    raw = os.environ.get("NEURALCLI_ISA", "").strip()
    want = raw.lower()
    detected = _kernels.detect_isa()
    if want and want not in _kernels.ISA_NAMES:
        _warn(f"NEURALCLI_ISA={raw!r} is not an ISA path (one of "
              f"{', '.join(_kernels.ISA_NAMES)}, or unset for the best this CPU has); "
              f"using {detected}")
        want = ""
    chosen = _kernels.set_isa(want or detected)
    if want and chosen != want:
        _warn(f"NEURALCLI_ISA={raw!r} asks for a path this CPU lacks; using {chosen}, the "
              f"best it has")


_init()
