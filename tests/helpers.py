"""Shared test helpers: one comparison that prints the max difference and where, and a
way to run code in a fresh interpreter."""
import os
import subprocess
import sys

import numpy as np


def run_python(code, env=None, **kw):
    """Run `python -c code` against the neuralcli this test imported. The child starts in
    the directory holding that package: `-c` puts the working directory first on
    sys.path, and a source checkout's uncompiled package would otherwise win over an
    installed one."""
    import neuralcli

    root = os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                          capture_output=True, text=True, **kw)


def tolerance(dtype, scale=1.0):
    """(rtol, atol) for comparing a kernel in `dtype` with the float64 oracle."""
    if np.dtype(dtype) == np.float32:
        return 2e-5 * scale, 2e-6 * scale
    return 1e-11 * scale, 1e-13 * scale


def assert_close(got, want, rtol, atol, name="result"):
    """Like numpy's assert_allclose, but the message names the op and the worst element."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != expected {want.shape}"
    if got.size == 0:
        return
    err = np.abs(got - want)
    bound = atol + rtol * np.abs(want)
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        excess = np.where(np.isnan(err), np.inf, err - bound)
        idx = np.unravel_index(int(np.argmax(excess)), got.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())}/{got.size} elements off; max |diff| {np.nanmax(err):.3e} "
            f"at {idx}: got {got[idx]!r}, want {want[idx]!r} (rtol={rtol}, atol={atol})")


def assert_bitwise_equal(a, b, name="result"):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{name}: shape/dtype differ"
    if not np.array_equal(a.view(np.uint8), b.view(np.uint8)):
        diff = np.argwhere(a.view(np.uint8).reshape(-1) != b.view(np.uint8).reshape(-1))
        raise AssertionError(f"{name}: not bitwise equal; first differing byte {diff[0][0]}")


def error_of(fn, *args, **kw):
    """The DataError that fn(*args, **kw) raises, checked to be one line."""
    import pytest

    from neuralcli.errors import DataError

    with pytest.raises(DataError) as info:
        fn(*args, **kw)
    err = info.value
    assert "\n" not in str(err)
    return err
