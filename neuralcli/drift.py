"""Input drift: how the rows a model meets differ from the rows it was trained on, column
by column.

What training keeps (gathered by preprocess.Summary while the preprocessing is fitted on
the training rows, and stored in the model file, docs/model-format.md):
  - a number or date column: the count of present values, their min, max, mean,
    population standard deviation and the QUANTILES (a date's in days since 1970);
  - a text column: its kept categories (the preprocessing's own), and the categories
    cut by max_categories, so that a category seen in training but not kept is not
    counted as unseen.

What a DriftMeter measures, fed by Preprocessor.transform one table (or chunk) at a time,
on the present cells (missing cells are left out):
  - outside_range: the share of values below the training min or above the training max;
  - mean_shift: (mean - training mean) / training standard deviation (None for a column
    constant in training);
  - unseen: the share of a text column's rows whose category training never saw.

A column has drifted when one of these passes its threshold. The thresholds allow for
the chance of the comparison, with n the rows measured and n_train the training values:
  - outside_range > max(RANGE_SHARE, p0 + SIGMAS * sqrt(p0 (1 - p0) / n)), where
    p0 = 2 / (n_train + 1) is the share of new values from the training distribution
    expected outside the range of n_train draws of it;
  - |mean_shift| > max(MEAN_SHIFT, SIGMAS * sqrt(1 / n + 1 / n_train));
  - unseen > UNSEEN_SHARE.

Strict mode (DriftMeter(strict=True)) refuses, with a DataError naming the row, the
column and the value, the first unseen category and the first value outside the training
range widened by STRICT_MARGIN of its width on each side.

Quantiles (QuantileSample): exact (numpy's linear interpolation) while a column has at most
2 * SAMPLE training values; past that, numpy's quantiles of a deterministic sample of them.
Value number i of the column (in row order) stays in the sample while the low `level` bits
of a fixed hash of i are zero, and the level rises until at most 2 * SAMPLE values are left,
so the sample holds between SAMPLE and 2 * SAMPLE values, each value with the same chance.
Which values are kept depends only on their positions, not on how the column is cut into
chunks, so a file read in chunks gives the same statistics as the file read whole; and the
positions are hashed, not strided, so a column with a period (an hour of the day, a sorted
file) is not sampled in step with it. A quantile of m sampled values is off by about
sqrt(q (1 - q) / m) of the ranks: at most 0.4 % at the median for m >= SAMPLE. Adding a
million values costs a few milliseconds, against tens for sorting them.
"""
import math

import numpy as np

from neuralcli.errors import DataError, show

__all__ = ["QUANTILES", "QuantileSample", "DriftMeter", "numeric_record", "RANGE_SHARE",
           "MEAN_SHIFT", "UNSEEN_SHARE", "SIGMAS", "STRICT_MARGIN"]

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SAMPLE = 1 << 14            # a thinned quantile sample keeps SAMPLE to 2 * SAMPLE values
RANGE_SHARE = 0.01          # share of values outside the training range reported
MEAN_SHIFT = 0.25           # mean shift, in training standard deviations, reported
UNSEEN_SHARE = 0.01         # share of rows with unseen categories reported
SIGMAS = 3                  # standard errors a measure must also exceed
STRICT_MARGIN = 0.1         # strict: the training range widened by this share of its width
EXAMPLES = 8                # unseen categories listed per column


_HASH_BITS = 20             # positions hashed once into a table of this many bits


def _position_hashes():
    """Splitmix64's output for positions 0 .. 2**_HASH_BITS - 1, low 32 bits: positions
    further on reuse the table, period 2**_HASH_BITS."""
    x = np.arange(1 << _HASH_BITS, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x.astype(np.uint32)


_HASHES = None


def _hashes(start, n):
    """The hashes of positions start .. start + n - 1."""
    global _HASHES
    if _HASHES is None:
        _HASHES = _position_hashes()
    size = len(_HASHES)
    at = start % size
    if at + n <= size:
        return _HASHES[at:at + n]
    parts, left = [], n
    while left:
        take = min(left, size - at)
        parts.append(_HASHES[at:at + take])
        left -= take
        at = 0
    return np.concatenate(parts)


class QuantileSample:
    """Quantiles of a stream of values from a deterministic sample of bounded size (see
    the module's notes): exact while at most 2 * `size` values were added."""

    def __init__(self, size=None):
        size = SAMPLE if size is None else size
        if size < 1:
            raise ValueError(f"the sample size must be at least 1, got {size}")
        self.size = int(size)
        self.count = 0          # values added
        self.level = 0          # a value stays while the low `level` bits of its hash are 0
        self.values, self.marks = [], []   # the kept values and their hashes (level > 0)
        self.kept = 0

    def add(self, values):
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        n = len(v)
        start, self.count = self.count, self.count + n
        if self.level == 0 and self.kept + n <= 2 * self.size:
            # a copy: a kept slice would keep the caller's whole array alive
            self.values.append(np.array(v))
            self.kept += n
            return
        h = _hashes(start, n)
        if self.level:
            new = np.flatnonzero((h & np.uint32((1 << self.level) - 1)) == 0)
            if self.kept + len(new) <= 2 * self.size:
                self.values.append(v.take(new))
                self.marks.append(h.take(new))
                self.kept += len(new)
                return
        if self.level == 0:
            # every value so far was kept: they are positions 0 .. kept - 1
            old_values = np.concatenate(self.values) if self.values else np.zeros(0)
            old_marks = _hashes(0, len(old_values))
        else:
            old_values, old_marks = np.concatenate(self.values), np.concatenate(self.marks)
        # the lowest level that leaves at most 2 * size values: the same level, and so
        # the same values, however the column was cut, since counts only grow
        while True:
            low = np.uint32((1 << self.level) - 1)
            kept = np.count_nonzero((old_marks & low) == 0) + \
                np.count_nonzero((h & low) == 0)
            if kept <= 2 * self.size:
                break
            self.level += 1
        # positions, then a gather: a boolean mask of random bits as an index
        # mispredicts a branch per value
        old = np.flatnonzero((old_marks & low) == 0)
        new = np.flatnonzero((h & low) == 0)
        self.values = [old_values.take(old), v.take(new)]
        self.marks = [old_marks.take(old), h.take(new)]
        self.kept = kept

    @property
    def exact(self):
        return self.level == 0

    def quantiles(self, qs):
        """numpy's linear-interpolation quantiles qs (each in [0, 1]) of the kept values
        (of all values while exact); NaN for none."""
        qs = np.asarray(qs, dtype=np.float64)
        if self.kept == 0:
            return np.full(qs.shape, np.nan)
        return np.quantile(np.concatenate(self.values), qs)


def numeric_record(summary):
    """A number or date column's training statistics from its preprocess.Summary over the
    present training values (before any imputed cells are merged in)."""
    return {"rows": int(summary.count), "min": float(summary.lo), "max": float(summary.hi),
            "mean": float(summary.mean), "std": float(summary.std),
            "quantiles": [float(q) for q in summary.sample.quantiles(QUANTILES)],
            "sampled": int(summary.sample.kept)}


class _Numbers:
    def __init__(self):
        self.rows = self.below = self.above = 0
        self.dev = 0.0          # sum of (value - training mean)
        self.bins = np.zeros(len(QUANTILES) + 1, dtype=np.int64)


class _Categories:
    def __init__(self):
        self.rows = self.unseen = 0
        self.values = set()


class DriftMeter:
    """The drift of the rows given to Preprocessor.transform(..., drift=meter), added up
    over every call: one meter for all the chunks of a file. `specs` are the fitted
    Preprocessor's column specs, each with its training statistics under "drift".
    strict: raise a DataError at the first unseen category or value past the widened
    range (see the module's docstring), naming the table's row."""

    def __init__(self, specs, strict=False):
        self.specs = list(specs)
        self.strict = bool(strict)
        self._refusal = None
        self.columns = {s["name"]: (_Categories() if s["kind"] == "text" else _Numbers())
                        for s in self.specs}

    def numbers(self, table, j, spec, values, gaps, sel):
        """Add a number or date column's values at table rows sel (gaps: missing)."""
        st = spec["drift"]
        acc = self.columns[spec["name"]]
        x = values[~gaps] if gaps.any() else values
        acc.rows += len(x)
        acc.below += int(np.count_nonzero(x < st["min"]))
        acc.above += int(np.count_nonzero(x > st["max"]))
        acc.dev += float(np.sum(x - st["mean"]))
        acc.bins += np.bincount(np.searchsorted(st["quantiles"], x, side="left"),
                                minlength=len(acc.bins))
        if not self.strict:
            return
        lo, hi = strict_bounds(st)
        bad = ~gaps & ((values < lo) | (values > hi))
        if bad.any():
            i = int(np.argmax(bad))
            message = (f"{_value_text(spec, values[i])} is outside the training range "
                       f"({_value_text(spec, st['min'])} to "
                       f"{_value_text(spec, st['max'])}) by more than "
                       f"{STRICT_MARGIN:.0%} of its width")
            self._refuse(sel[i], lambda: table.error(message, row=sel[i], column=j,
                                                     fix=("strict", None)))

    def categories(self, table, j, spec, names, raw, unseen, present, sel):
        """Add a text column's rows at table rows sel: raw[i] indexes names (the cell's
        category, -1 when missing), unseen marks cells whose category the kept ones do
        not hold, present the non-missing cells."""
        acc = self.columns[spec["name"]]
        acc.rows += int(np.count_nonzero(present))
        if not unseen.any():
            return
        cut = spec["drift"]["cut"]
        new = np.array([names[r] not in cut for r in range(len(names))] + [False],
                       dtype=bool)
        fresh = unseen & new[np.where(raw >= 0, raw, len(names))]
        k = int(np.count_nonzero(fresh))
        if not k:
            return
        acc.unseen += k
        # the alphabetically first few, whatever the chunks
        acc.values = set(sorted(acc.values | {names[r] for r in
                                              np.unique(raw[fresh]).tolist()})[:EXAMPLES])
        if self.strict:
            i = int(np.argmax(fresh))
            self._refuse(sel[i], lambda: table.error(
                f"category {show(names[raw[i]])} was not seen in training", row=sel[i],
                column=j, fix=("strict", None)))

    def _refuse(self, row, error):
        """Strict mode: keep the refusal of the earliest row of the table being read
        (error() makes it); check() raises it once every column is measured."""
        if self._refusal is None or row < self._refusal[0]:
            self._refusal = (row, error)

    def check(self):
        """Raise strict mode's refusal of the table just measured, if any: the one at
        its earliest row."""
        refusal, self._refusal = self._refusal, None
        if refusal is not None:
            raise refusal[1]()

    def report(self):
        """Every column's drift, in the model's column order, and the drifted ones worst
        first: {"quantiles": QUANTILES, "columns": [...], "drifted": [names]}. A column's
        entry has "column", "kind", "rows" (present cells measured), "drifted",
        "severity" (its largest measure over its threshold) and "thresholds"; number and
        date columns add "below_min", "above_max", "outside_range", "mean_shift",
        "between_quantiles" (the shares of values in the len(QUANTILES) + 1 intervals
        the training quantiles cut, each closed above) and "training" (min, max, mean,
        std and quantiles); text columns "unseen", "unseen_rows" and
        "unseen_categories" (the first few, sorted)."""
        out = []
        for s in self.specs:
            acc = self.columns[s["name"]]
            n = acc.rows
            entry = {"column": s["name"], "kind": s["kind"], "rows": n}
            if s["kind"] == "text":
                share = acc.unseen / n if n else 0.0
                limits = {"unseen": UNSEEN_SHARE}
                entry.update(unseen=share, unseen_rows=acc.unseen,
                             unseen_categories=sorted(acc.values)[:EXAMPLES])
                severity = share / UNSEEN_SHARE
            else:
                st = s["drift"]
                limits = thresholds(n, st["rows"])
                below = acc.below / n if n else 0.0
                above = acc.above / n if n else 0.0
                shift = None
                if n and st["std"] > 0:
                    shift = acc.dev / n / st["std"]
                entry.update(below_min=below, above_max=above, outside_range=below + above,
                             mean_shift=shift,
                             between_quantiles=(acc.bins / max(n, 1)).tolist(),
                             training={k: st[k] for k in ("min", "max", "mean", "std",
                                                           "quantiles")})
                severity = (below + above) / limits["outside_range"]
                if shift is not None:
                    severity = max(severity, abs(shift) / limits["mean_shift"])
            entry["severity"] = float(severity)
            entry["drifted"] = bool(n) and severity > 1
            entry["thresholds"] = limits
            out.append(entry)
        worst = sorted((e for e in out if e["drifted"]), key=lambda e: -e["severity"])
        return {"quantiles": list(QUANTILES), "columns": out,
                "drifted": [e["column"] for e in worst]}


def thresholds(n, n_train):
    """A number or date column's thresholds for n measured values against n_train
    training values (see the module's docstring)."""
    n, n_train = max(int(n), 1), max(int(n_train), 1)
    p0 = 2 / (n_train + 1)
    return {"outside_range": max(RANGE_SHARE, p0 + SIGMAS * math.sqrt(p0 * (1 - p0) / n)),
            "mean_shift": max(MEAN_SHIFT, SIGMAS * math.sqrt(1 / n + 1 / n_train))}


def strict_bounds(st):
    """The values strict mode accepts: the training range widened by STRICT_MARGIN of its
    width on each side."""
    width = st["max"] - st["min"]
    return st["min"] - STRICT_MARGIN * width, st["max"] + STRICT_MARGIN * width


def _value_text(spec, v):
    from neuralcli.table import date_text
    from neuralcli.writer import number_text

    v = float(v)
    if spec["kind"] == "date":
        return date_text(v, time=bool(spec.get("has_time")))
    return number_text(v)


def check_record(st):
    """Refuse a damaged statistics record of a number or date column (ValueError)."""
    if not (st["rows"] >= 0 and 0 <= st["sampled"] <= st["rows"]
            and len(st["quantiles"]) == len(QUANTILES)):
        raise ValueError("drift statistics out of range")
    if st["rows"] and not st["min"] <= st["max"]:
        raise ValueError("drift statistics: min above max")
    return st


def missing_statistics():
    """The DataError for strict mode on a model file without training statistics."""
    return DataError("the model file holds no training statistics for drift (it was "
                     "written by an earlier neuralcli)", hint="retrain the model")
