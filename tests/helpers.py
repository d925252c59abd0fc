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


NA = ("NA", "N/A", "NaN", "null", "None", "?", "")


def typed_table(text, path="<data>", na=NA):
    """A typed Table from small CSV text (header first), typed as the reader types it: a
    column whose present cells are at least 90 % numbers is a number column (the others
    counted as bad), one of ISO dates a date column, anything else text; empty cells and
    the missing markers `na` are missing. For tests that must not depend on the reader."""
    import math

    from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn

    lines = [ln for ln in text.strip("\n").split("\n")]
    names = [c.strip() for c in lines[0].split(",")]
    rows = [[c.strip() for c in ln.split(",")] for ln in lines[1:]]
    data = []
    for j in range(len(names)):
        cells = [r[j] for r in rows]
        missing = np.array([c in na for c in cells])
        present = [(i, c) for i, c in enumerate(cells) if c not in na]

        def number(c):
            try:
                return float(c)
            except ValueError:
                return None

        numbers = [(i, c, number(c)) for i, c in present]
        good = [t for t in numbers if t[2] is not None]
        if present and len(good) >= 0.9 * len(present):
            values = np.full(len(cells), np.nan)
            bad = [(i, c) for i, c, v in numbers if v is None]
            inf = [(i, c) for i, c, v in good if not math.isfinite(v)]
            for i, c, v in good:
                values[i] = v
            data.append(NumberColumn(values, missing, len(bad), bad[0] if bad else None,
                                     len(inf), inf[0] if inf else None,
                                     bool(all(v.is_integer() for _, _, v in good
                                              if math.isfinite(v)))))
            continue
        try:
            days = [(i, np.datetime64(c, "D").astype(np.int64)) for i, c in present
                    if len(c) == 10 and c[4] == "-"]
        except ValueError:
            days = []
        if present and len(days) == len(present):
            values = np.full(len(cells), np.nan)
            for i, d in days:
                values[i] = float(d)
            data.append(DateColumn(values, missing))
            continue
        cats, codes = [], np.full(len(cells), -1, dtype=np.int32)
        index = {}
        for i, c in present:
            codes[i] = index.setdefault(c, len(index))
        cats = list(index)
        texts = [(i, c) for i, c, v in numbers if v is None]
        data.append(TextColumn(codes, cats, len(good), texts[0] if texts else None))
    return Table(names, data, path=path)
