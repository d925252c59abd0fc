"""Process-wide runtime settings of the compiled core: thread count and ISA path."""
import os

from neuralcli import _kernels
from neuralcli._version import __version__


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _threads_from_env():
    """NEURALCLI_NUM_THREADS, else OMP_NUM_THREADS, else every core we may run on."""
    for var in ("NEURALCLI_NUM_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(var, "").strip()
        if raw:
            # OMP_NUM_THREADS may be a list ("4,2") for nested levels: the first counts
            try:
                n = int(raw.split(",")[0])
            except ValueError:
                continue
            if n >= 1:
                return n
    return _cpu_count()


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
    want = os.environ.get("NEURALCLI_ISA", "").strip().lower()
    if want in ("portable", "avx2", "avx512"):
        _kernels.set_isa(want)
    else:
        _kernels.set_isa(_kernels.detect_isa())


_init()
