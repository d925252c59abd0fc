"""From a typed Table to model inputs: the task decided on the whole file, then a
Preprocessor fitted once, on the training rows, that writes Encoded inputs directly in the
model's dtype and keeps everything it learned for the model file.

Task detection (task="auto"), from the whole file's target column:
  - a text column -> classification: binary with 2 classes, multiclass with more;
  - numbers that are all integers, with k distinct values where k == 2, or 3 <= k <= 20
    and there are at least 5 rows per value on average (rows >= 5 k) -> classification;
  - any other numeric target -> regression.

Features, in the first layer's row order (`feature_names`):
  - dense inputs first, in column order: a number column standardized with the training
    mean and population standard deviation (a constant column gets scale 1); a date column
    as name:days (days since 1970-01-01, standardized), name:dow_sin, name:dow_cos (the day
    of the week on a circle) and name:month_sin, name:month_cos;
  - then one block per text column, in column order: its kept categories sorted, then
    "<other>" when some were cut. The `max_categories` most frequent categories of the
    training rows are kept (ties by first appearance); the rest share the other row. A
    category unseen in training selects the other row, or no row (all zeros) when the
    column has none. Text columns become row codes (Encoded.codes), never one-hot floats.
  - A text column whose values are nearly all distinct (an ID: at least 95 % distinct among
    at least 20 values) is left out with a note, unless named in `keep`.

Missing cells (empty, or a missing-value marker of the reader) are errors naming the first,
unless impute is "mean", "median" or "most-frequent": number and date columns get that
statistic of the training rows, text columns their most frequent category. The target is
never imputed.
"""
import math

import numpy as np

from neuralcli.drift import (QUANTILES, DriftMeter, QuantileSample, check_record,
                             missing_statistics, numeric_record)
from neuralcli.errors import ColumnNote, DataError, Note, listing, show, summarize_notes
from neuralcli.network import Encoded
from neuralcli.table import NumberFormat, date_text
from neuralcli.writer import number_text

__all__ = ["Preprocessor", "TaskDecision", "decide_task", "IMPUTE_MODES", "TASKS",
           "MAX_CATEGORIES", "check_max_categories", "ColumnNote", "summarize_notes"]

IMPUTE_MODES = ("mean", "median", "most-frequent")
TASKS = ("auto", "binary", "multiclass", "regression")
MAX_INT_CLASSES = 20        # integer targets with more distinct values are regression
ROWS_PER_CLASS = 5          # ... and so are those with fewer rows per value on average
MAX_CATEGORIES = 100        # categories kept per text column by default
ID_SHARE = 0.95             # a text column this distinct ...
ID_MIN_ROWS = 20            # ... over at least this many values is an identifier
OTHER = "<other>"
DATE_FEATURES = ("days", "dow_sin", "dow_cos", "month_sin", "month_cos")
_EPOCH_WEEKDAY = 3          # 1970-01-01 was a Thursday (Monday = 0)
_META_FORMAT = 2


# ------------------------------------------------------------------ helpers


def _count(n, noun):
    n = int(n)
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def _date_parts(days):
    """(day of week 0..6 with Monday 0, month 0..11) of day counts since 1970."""
    d = np.floor(days).astype(np.int64)
    dow = (d + _EPOCH_WEEKDAY) % 7
    month = d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    return dow, month


def _rows_of(table, rows):
    return np.arange(table.n_rows) if rows is None else np.asarray(rows, dtype=np.int64)


def _rescaled(big, scale, mean_s, m2_s):
    """(scale, mean_s, m2_s) in a unit of a power of two at least `big`, if `scale` is
    smaller: exact, since the ratio of two powers of two is one."""
    if big <= scale:
        return scale, mean_s, m2_s
    exp = math.frexp(big)[1]
    grow = math.ldexp(scale, -exp)
    return math.ldexp(1.0, exp), mean_s * grow, m2_s * (grow * grow)


class Summary:
    """What fitting needs of one column over the training rows, gathered chunk by chunk.

    For number and date columns: count, mean and m2 of the present values (and the values
    themselves when `keep_values`, for a median or most-frequent fill), their min and
    max, and a drift.QuantileSample of them; for text: the count of each category code.
    first_missing is the (table, row) of the first missing cell.

    The mean and m2 do not depend on how the column was cut into chunks, or into the
    parts that several processes read: the present values are taken in fixed blocks of
    BLOCK (the values at positions [k * BLOCK, (k+1) * BLOCK) of the column), each block's
    mean and sum of squared deviations computed from its values alone, and the blocks
    merged in order by Chan's update. Deviations are taken from the column's first value
    (`shift`; a part that does not start the column is given it), so the merges work on
    numbers of the size of the spread, not of the mean, and lose nothing to cancellation;
    they are accumulated in units of a power of two at least as large as every deviation
    seen, so squares cannot overflow and rescaling is exact (a block's figures are
    computed in its own such unit, and moved to the running one exactly)."""

    BLOCK = 1 << 16

    def __init__(self, kind, keep_values=False, quantiles=True, start=0, shift=None):
        self.kind = kind
        self.rows = self.missing = 0
        self.first_missing = None
        # start: the position in the whole column of this part's first present value
        self.start = self.pos = int(start)
        self.shift = None if shift is None else float(shift)
        self.head = None        # a part's values before its first block boundary
        self.blocks = []        # (n, largest deviation, unit, mean, m2) of each block
        self.pending = []       # the values since the last block boundary
        self.crossed = False    # a block boundary was passed since start
        self.folded = None      # (count, unit, mean, m2) once the blocks are merged
        self.values = [] if keep_values else None
        self.counts = np.zeros(0, dtype=np.int64)
        self.lo, self.hi = math.inf, -math.inf
        self.sample = QuantileSample(start=start) if kind != "text" and quantiles else None

    def add(self, table, j, sel):
        """Add rows `sel` of column j of `table` (a whole table, or a chunk of one)."""
        col = table.data[j]
        gaps = col.missing[sel]
        self.rows += len(sel)
        k = int(gaps.sum())
        if k and self.first_missing is None:
            self.first_missing = (table, int(sel[np.argmax(gaps)]))
        self.missing += k
        if self.kind == "text":
            codes = col.codes[sel]
            self._count(np.bincount(codes[codes >= 0], minlength=len(col.categories)))
            return
        v = col.values[sel]
        if k:
            v = v[~gaps]
        if self.values is not None:
            self.values.append(v)
        if len(v):
            self.lo = min(self.lo, float(v.min()))
            self.hi = max(self.hi, float(v.max()))
            if self.sample is not None:
                self.sample.add(v)
        self._take(v)

    def _count(self, counts):
        """Add counts (per category code; an array this summary may keep) to its own."""
        if len(counts) > len(self.counts):
            counts[:len(self.counts)] += self.counts
            self.counts = counts
        else:
            self.counts[:len(counts)] += counts

    def _take(self, v):
        """The present values v, next in the column: cut at the block boundaries."""
        if not len(v):
            return
        if self.shift is None:
            self.shift = float(v[0])
        at = 0
        while at < len(v):
            boundary = (self.pos // self.BLOCK + 1) * self.BLOCK
            take = min(len(v) - at, boundary - self.pos)
            self.pending.append(v[at:at + take])
            at += take
            self.pos += take
            if self.pos == boundary:
                self._close()

    def _close(self):
        """The pending values end at a block boundary: a whole block, or a part's head."""
        values = np.concatenate(self.pending)
        self.pending = []
        if self.crossed or self.start % self.BLOCK == 0:
            self.blocks.append(self._block(values))
        else:
            self.head = values
        self.crossed = True

    def _block(self, v):
        """(n, largest deviation, unit, mean, m2) of a block's values, in its own unit."""
        dev = v - self.shift
        big = max(float(dev.max()), -float(dev.min()))
        unit = math.ldexp(1.0, math.frexp(big)[1]) if big > 0 else 1.0
        # in place on dev, this call's own array: the same operations as
        # u = dev / unit, m2 = sum((u - mean)^2), without a temporary per step
        u = dev
        u /= unit
        mean = float(np.mean(u))
        u -= mean
        np.square(u, out=u)
        return len(v), big, unit, mean, float(np.sum(u))

    def portable(self):
        """This summary with its first missing cell's table cut to that row: small enough
        to send to another process."""
        if self.first_missing is not None:
            table, row = self.first_missing
            one = table.take([row])
            one.first_row = table.first_row + row
            self.first_missing = (one, 0)
        return self

    def combine(self, other):
        """Take in the summary of the present values that follow this one's (the part of
        the column another process read; this one starts the column): the same summary
        as if this one had been given all the values."""
        self.rows += other.rows
        self.missing += other.missing
        if self.first_missing is None:
            self.first_missing = other.first_missing
        if self.kind == "text":
            self._count(other.counts.copy())
            return
        if self.values is not None:
            self.values += other.values
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        if self.sample is not None and other.sample is not None:
            self.sample.extend(other.sample)
        if other.pos == other.start:
            return
        if self.shift is None:
            self.shift = other.shift
        if not other.crossed:
            self.pending += other.pending
        else:
            if other.head is not None:
                self.pending.append(other.head)
            if self.pending:
                self.blocks.append(self._block(np.concatenate(self.pending)))
            self.blocks += other.blocks
            self.pending = list(other.pending)
            self.crossed = True
        self.pos = other.pos

    def _fold(self):
        """(count, unit, mean, m2): the blocks, and the values after the last, merged in
        order (once; the values a fill adds later go in by merge)."""
        if self.folded is None:
            blocks = list(self.blocks)
            if self.pending:
                blocks.append(self._block(np.concatenate(self.pending)))
            count, scale, mean_s, m2_s = 0, 1.0, 0.0, 0.0
            for n, big, unit, mean_b, m2_b in blocks:
                scale, mean_s, m2_s = _rescaled(big, scale, mean_s, m2_s)
                r = unit / scale                       # exact: powers of two
                total = count + n
                d = mean_b * r - mean_s
                mean_s += d * n / total
                m2_s += m2_b * r * r + d * d * (count * n / total)
                count = total
            self.folded = (count, scale, mean_s, m2_s)
        return self.folded

    @property
    def count(self):
        return self.pos - self.start if self.folded is None else self.folded[0]

    def merge(self, n, v=None, *, value=None):
        """Fold in n present values: an array v (before any fill), or n copies of one
        value (a fill, after the present values)."""
        if v is not None:
            if self.folded is not None:
                raise ValueError("values come before the fills")
            self._take(np.asarray(v, dtype=np.float64))
            return
        if n == 0:
            return
        count, scale, mean_s, m2_s = self._fold()
        if self.shift is None:
            self.shift = float(value)
        scale, mean_s, m2_s = _rescaled(abs(value - self.shift), scale, mean_s, m2_s)
        total = count + n
        d = (value - self.shift) / scale - mean_s
        mean_s += d * n / total
        m2_s += d * d * (count * n / total)
        self.folded = (total, scale, mean_s, m2_s)

    @property
    def mean(self):
        count, scale, mean_s, _ = self._fold()
        return 0.0 if self.shift is None else self.shift + mean_s * scale

    @property
    def std(self):
        count, scale, _, m2_s = self._fold()
        return math.sqrt(m2_s / count) * scale if count else 0.0

    def fill_value(self, impute):
        """The impute statistic of the present values; most-frequent ties go to the
        smallest. A median or most-frequent needs the values (keep_values)."""
        if impute == "mean":
            return self.mean
        present = np.concatenate(self.values)
        if impute == "median":
            return float(np.median(present))
        values, counts = np.unique(present, return_counts=True)
        return float(values[np.argmax(counts)])



# ------------------------------------------------------------------ the task


class TaskDecision:
    """What the target is and which task it makes, decided once on the whole file.

    target: the column's name; task: "binary", "multiclass" or "regression"; reason: the
    sentence saying why; label_kind: "text", "integer" or "number"; classes: the sorted
    labels (None for regression); class_names: the labels as text; codes: int64 class
    index of every row of the table it was decided on (None for regression), the strata
    of a validation split."""

    def __init__(self, target, task, reason, label_kind, classes=None, class_names=None,
                 codes=None):
        self.target, self.task, self.reason = target, task, reason
        self.label_kind = label_kind
        self.classes, self.class_names, self.codes = classes, class_names, codes

    def __repr__(self):
        return f"TaskDecision({self.target!r}, {self.task!r})"


def _target_position(table, target):
    return table.n_columns - 1 if target is None else table.resolve(target,
                                                                     role="target column")


def decide_task(table, target=None, task="auto"):
    """The task for predicting column `target` (name or 1-based index; default the last
    column) of the whole table, by the rules in this module's docstring."""
    if isinstance(task, TaskDecision):
        return task
    if task not in TASKS:
        raise DataError(f"unknown task {show(task)}", hint=f"use one of {', '.join(TASKS)}")
    t = _target_position(table, target)
    col = table.data[t]
    name = table.columns[t]
    tgt = show(name)
    chosen = task != "auto"
    missing = np.flatnonzero(col.missing)
    if len(missing):
        raise table.error("the target is empty", row=missing[0], column=t,
                     hint="fill in the value or remove the row (a target is never "
                          "imputed)")
    if col.kind == "date":
        raise table.error(f"target {tgt} holds dates, which neuralcli cannot predict",
                     column=t, fix=("target", None))
    if col.kind == "text":
        if task == "regression":
            row, text = col.first_text or (0, col.categories[col.codes[0]])
            raise table.error(f"target {tgt} holds text ({show(text)}), which "
                                f"regression cannot predict", row=row, column=t,
                         hint="choose a numeric target", fix=("task", "multiclass"))
        present = np.unique(col.codes)
        labels = sorted(col.categories[c] for c in present.tolist())
        classes = np.array(labels, dtype=str)
        lookup = np.full(len(col.categories), -1, dtype=np.int64)
        order = {v: i for i, v in enumerate(labels)}
        for c in present.tolist():
            lookup[c] = order[col.categories[c]]
        k = len(labels)
        decision = TaskDecision(name, None, f"target {tgt} has {k} text classes", "text",
                                classes, list(labels), lookup[col.codes])
    else:
        _check_numbers(table, t, col, hint="fix the value or remove the row")
        y = col.values
        uniq = np.unique(y)
        k = len(uniq)
        integral = bool(np.all(np.mod(uniq, 1) == 0) and np.all(np.abs(uniq) < 2 ** 53))
        if not chosen:
            if not integral:
                task, reason = "regression", f"target {tgt} has non-integer values"
            elif k > MAX_INT_CLASSES:
                task = "regression"
                reason = (f"target {tgt} has {k} distinct integer values (more than "
                          f"{MAX_INT_CLASSES})")
            elif k > 2 and table.n_rows < ROWS_PER_CLASS * k:
                task = "regression"
                reason = (f"target {tgt} has {k} distinct integer values in "
                          f"{table.n_rows} rows (fewer than {ROWS_PER_CLASS} rows per "
                          f"value)")
            else:
                reason = (f"target {tgt} has {k} integer values "
                          f"({listing([number_text(u) for u in uniq])})")
        else:
            reason = f"target {tgt} has {k} distinct numeric values"
        if task == "regression":
            return TaskDecision(name, "regression", reason + " -> regression" + (
                " (chosen with --task)" if chosen else ""), "number")
        classes = uniq.astype(np.int64) if integral else uniq
        decision = TaskDecision(name, None, reason, "integer" if integral else "number",
                                classes, [number_text(u) for u in uniq.tolist()],
                                np.searchsorted(uniq, y).astype(np.int64))
    if k < 2:
        raise DataError(f"target {tgt} has only one class "
                        f"({show(decision.class_names[0])}); a classifier needs at least "
                        f"two", path=table.path, column=table.ident(t),
                        hint="check the target column", fix=("target", None))
    if not chosen:
        task = "binary" if k == 2 else "multiclass"
    elif task == "binary" and k != 2:
        raise DataError(f"target {tgt} has {k} classes "
                        f"({listing(decision.class_names, quote=True)}); binary "
                        f"classification needs exactly 2", path=table.path,
                        column=table.ident(t), fix=("task", "multiclass"))
    decision.task = task
    decision.reason = f"{decision.reason} -> {task} classification" + (
        " (chosen with --task)" if chosen else "")
    return decision


def _check_numbers(table, j, col, *, hint, fix=None, rows=None):
    """Refuse a number or date column's bad and non-finite cells, naming the first (among
    `rows` when given). The reader keeps the text of the file's first such cells; a row
    past those (a subset of rows, a split) is named without its text."""
    if not (col.bad or getattr(col, "nonfinite", 0)):
        return
    sel = _rows_of(table, rows)
    wrong = ~np.isfinite(col.values[sel]) & ~col.missing[sel]
    if not wrong.any():
        return
    first = int(sel[np.argmax(wrong)])
    what = "a date" if col.kind == "date" else "a number"
    bad = col.first_bad
    nonfinite = getattr(col, "first_nonfinite", None)
    if bad is not None and bad[0] == table.first_row + first:
        message = f"{show(bad[1])} is not {what}"
    elif nonfinite is not None and nonfinite[0] == table.first_row + first:
        message = f"NaN/inf is not allowed ({show(nonfinite[1])})"
    elif col.kind == "number" and np.isinf(col.values[first]):
        message = "NaN/inf is not allowed"
    else:
        message = f"the value is not {what}"
    raise table.error(message, row=first, column=j, hint=hint, fix=fix)


# ------------------------------------------------------------------ the Preprocessor


def check_max_categories(max_categories):
    """The one check of max_categories, which fit and fit_chunks make and a front end may
    make before reading anything: a DataError with its `setting` unless it is at least
    1."""
    if max_categories is None or int(max_categories) < 1:
        raise DataError(f"must be at least 1, got {max_categories}",
                        setting="max_categories")


class Preprocessor:
    """What turns a Table into model inputs (Encoded) and targets, learned from the
    training rows and stored in the model file.

    fit(table, *, rows=None, target=None, drop=(), impute=None, task="auto",
        scale_target=True, max_categories=MAX_CATEGORIES, keep=())
        rows: the training rows (0-based; default all), the only rows any statistic comes
        from; target: a column name or 1-based index (default the last column); drop:
        columns left out; impute: None (missing cells are errors), "mean", "median" or
        "most-frequent"; task: "auto", "binary", "multiclass", "regression", or a
        TaskDecision made by decide_task on the whole file; keep: ID-like text columns to
        use anyway; problems: None (the first problem found raises its DataError), or a
        list that collects every problem as (column position or None, DataError), the
        column then left out: a fit that describes the data (`describe()`, notes), which
        cannot encode it when it found any (`fitted` stays False).
    transform(table, *, rows=None, dtype=np.float64) -> Encoded
        Columns are matched by name in any order; extra columns are ignored. What a user
        should hear (ignored columns, unseen categories, filled cells) is left in
        `last_notes`, replaced on every call; what fit found is in `fit_notes`.
    target_of(table, *, rows=None, scaled=True) -> y
        int64 class indices 0..K-1 (sorted label order), or float64 regression values
        (standardized when the target is, unless scaled=False).
    labels(indices), label_names(indices), inverse_target(y): back to labels or units.
    to_meta() -> (meta, arrays), Preprocessor.from_meta(meta, arrays): model file round trip.
    Errors name rows of the table given, so a file's rows as `explain --row` counts them.
    """

    def __init__(self):
        self.fitted = False
        self.last_notes = []
        self.fit_notes = []
        self.legacy_order = None

    # ---- fitting

    def fit(self, table, *, rows=None, target=None, drop=(), impute=None, task="auto",
            scale_target=True, max_categories=MAX_CATEGORIES, keep=(), problems=None):
        """Fit on rows `rows` (default all) of a table held in memory."""
        try:
            decision = decide_task(table, target, task)
        except DataError as err:
            if problems is None:
                raise
            # no task: the target's problem is reported, the features fitted all the same
            name = table.columns[_target_position(table, target)]
            problems.append((table.columns.index(name), err))
            decision = TaskDecision(name, None, None, None)
        return self.fit_chunks([(table, rows)], decision=decision, drop=drop, impute=impute,
                               scale_target=scale_target, max_categories=max_categories,
                               keep=keep, problems=problems)

    def fit_chunks(self, chunks, *, decision, drop=(), impute=None, scale_target=True,
                   max_categories=MAX_CATEGORIES, keep=(), problems=None, gather=None,
                   last=None, starts=None):
        """Fit on a file given as consecutive chunks: (table, rows) pairs, each table a
        piece of the file (its first_row says where) and rows the training rows among its
        rows (None: all). decision: the task decided on the whole file's target (its task
        None when none could be, with problems collected). The statistics are the same as
        a fit on the whole file at once (see Summary). problems: as in fit.

        A file read in parts by several processes, each its own consecutive chunks:
        gather(fn) runs fn() in every process and returns every process's result in file
        order (the same list in every process; a failure in one process is every
        process's); last, a Table of no rows whose columns carry the whole file's kinds,
        categories and counts, stands for the file's last chunk; starts ({column: (the
        position in the file's present training values of this part's first, the file's
        first)}) places the part's values in the column (see Summary). The parts'
        summaries are merged in file order, so every process fits the same
        preprocessing, that of one process given the whole file."""
        if impute is not None:
            impute = str(impute).replace("_", "-")
            if impute not in IMPUTE_MODES:
                raise DataError(f"unknown impute mode {show(impute)}",
                                hint=f"use one of {', '.join(IMPUTE_MODES)}")
        check_max_categories(max_categories)
        drop = [drop] if isinstance(drop, (str, int)) else list(drop)
        keep = [keep] if isinstance(keep, (str, int)) else list(keep)
        failed = set()

        def problem(column, err):
            if problems is None:
                raise err
            problems.append((column, err))
            failed.add(column)

        summaries = target_summary = None
        t = features = kept = None
        classes = set()
        rows_seen = rows_used = 0
        present = {}
        table = None

        place = {j: dict(start=first, shift=shift)
                 for j, (first, shift) in (starts or {}).items()}

        def start(head):
            t, features, kept = self._columns_of(head, decision, drop, keep, problem)
            summaries = {j: Summary(head.data[j].kind,
                                    keep_values=impute in ("median", "most-frequent"),
                                    **place.get(j, {}))
                         for j in features}
            return t, features, kept, summaries, {j: 0 for j in features}

        if last is not None:
            t, features, kept, summaries, present = start(last)
            target_summary = Summary("number", quantiles=False, **place.get(t, {}))

        def accumulate():
            nonlocal t, features, kept, summaries, target_summary, present, rows_seen, \
                rows_used, table
            for table, rows in chunks:
                if summaries is None:
                    t, features, kept, summaries, present = start(table)
                    target_summary = Summary("number", quantiles=False, **place.get(t, {}))
                sel = _rows_of(table, rows)
                rows_seen += table.n_rows
                rows_used += len(sel)
                for j, summary in summaries.items():
                    col = table.data[j]
                    if col.kind in ("number", "date") and j not in failed:
                        try:
                            _check_numbers(table, j, col, hint="fix the value",
                                           fix=("drop", table.columns[j]))
                        except DataError as err:
                            problem(j, err)
                    summary.add(table, j, sel)
                    present[j] += int((~col.missing).sum())
                if decision.task == "regression":
                    target_summary.add(table, t, sel)
                elif decision.codes is not None:
                    seen = np.bincount(decision.codes[table.first_row + sel],
                                       minlength=len(decision.classes))
                    classes.update(np.flatnonzero(seen).tolist())
            if gather is not None:
                return ({j: sm.portable() for j, sm in summaries.items()}, target_summary,
                        classes, rows_seen, rows_used, present)

        if gather is None:
            accumulate()
        else:
            # every process's part, in file order; a problem in one is every process's
            parts = gather(accumulate)
            summaries, target_summary, classes, rows_seen, rows_used, present = parts[0]
            for part in parts[1:]:
                for j, sm in part[0].items():
                    summaries[j].combine(sm)
                target_summary.combine(part[1])
                classes = classes | part[2]
                rows_seen += part[3]
                rows_used += part[4]
                present = {j: k + part[5][j] for j, k in present.items()}
            table = last
        if table is None or not rows_used:
            raise DataError("no training rows", path=None if table is None else table.path)
        self.target = decision.target
        self.impute = impute
        self.max_categories = int(max_categories)
        self.dropped = [table.columns[j] for j in sorted(table.find(d) for d in drop)]
        self.ids = []
        notes = []
        specs = []
        order = list(summaries)
        if impute is None:
            # without imputing, the missing cell that comes first in the file is the one
            # reported, whatever its column
            def first_gap(j):
                sm = summaries[j]
                if not sm.missing or sm.missing == sm.rows:
                    return (1, 0)
                where, row = sm.first_missing
                return (0, where.first_row + row)
            order.sort(key=first_gap)
        fitted = {}
        for j in order:
            fitted[j] = self._fit_column(table, j, summaries[j], impute,
                                         self.max_categories, j in kept, notes,
                                         subset=rows_used < rows_seen,
                                         file_present=present[j], problem=problem)
        for j in summaries:
            if j in failed:
                continue
            if fitted[j] is None:
                self.ids.append(table.columns[j])
            else:
                specs.append(fitted[j])
        if features and not specs and not failed:
            problem(None, DataError(f"no feature columns left besides the target "
                                    f"{show(table.columns[t])}: "
                                    f"{listing([show(i) for i in self.ids])} look like "
                                    f"identifiers", path=table.path,
                                    fix=("keep_id", self.ids[0])))
        self.specs = specs
        self._no_target()
        if decision.task is not None:
            try:
                self._fit_target(table, t, decision, scale_target, notes, target_summary,
                                 classes)
            except DataError as err:
                self._no_target()
                problem(t, err)
        self.fit_notes = notes
        self._build_layout()
        # a fit that found problems describes the data; it cannot encode it
        self.fitted = not problems
        return self

    def _no_target(self):
        self.task = self.task_reason = self.label_kind = None
        self.classes = self.class_names = None
        self.scale_target = False
        self.target_mean, self.target_std = 0.0, 1.0

    @staticmethod
    def _columns_of(table, decision, drop, keep, problem):
        """(target position, feature positions, kept-ID positions), checking the names;
        no features is a problem(None, DataError)."""
        t = table.columns.index(decision.target)
        for option, names in (("drop", drop), ("keep", keep)):
            unknown = [d for d in names if table.find(d) is None]
            if unknown:
                raise DataError(f"{option} names {listing(unknown, quote=True)}, which "
                                f"{'is not a column' if len(unknown) == 1 else 'are not columns'}",
                                path=table.path, hint=f"the columns are "
                                                      f"{listing(table.columns, limit=20)}")
        dropped = {table.find(d) for d in drop}
        if t in dropped:
            raise DataError(f"drop names the target column {show(table.columns[t])}",
                            path=table.path, hint="do not drop it", fix=("target", None))
        features = [j for j in range(table.n_columns) if j != t and j not in dropped]
        if not features:
            hint, fix = "a model needs at least one input column", None
            if table.n_columns == 1 and any(d in table.columns[0] for d in ",;\t"):
                hint = ("the whole line was read as one column: the file seems to use "
                        "another delimiter")
                fix = ("delimiter", None)
            problem(None, DataError(f"no feature columns besides the target "
                                    f"{show(table.columns[t])}", path=table.path,
                                    hint=hint, fix=fix))
        return t, features, {table.find(k) for k in keep}

    def _fit_column(self, table, j, summary, impute, max_categories, keep, notes, *,
                    subset, file_present, problem):
        """The spec of feature column j from its Summary over the training rows, or None
        for an identifier left out. `table` (the file, or its last chunk) gives the
        column's name, kind and whole-file facts; `subset`: the rows are not all of it;
        file_present: the column's non-missing cells in the whole file; problem(j,
        DataError) takes a problem, after which the result is None."""
        name = table.columns[j]
        col = table.data[j]
        if summary.missing == summary.rows:
            problem(j, table.error("the column has no values" + (
                " in the training rows" if subset else ""), column=j, fix=("drop", name)))
            return None
        if summary.missing and impute is None:
            where, row = summary.first_missing
            problem(j, where.error("missing value (an empty cell or a missing-value "
                                     "marker)", row=row, column=j, hint="fill it in",
                              fix=("impute", None)))
            return None
        if col.kind in ("number", "date"):
            fill = None
            # the drift statistics are those of the present values, as prediction
            # measures them
            stats = numeric_record(summary)
            if impute is not None:
                fill = summary.fill_value(impute)
                # the filled cells count in the statistics, as the values they become
                summary.merge(summary.missing, value=fill)
            mean, scale = summary.mean, summary.std
            # values that are all equal deviate by exactly 0 from the shift: std 0
            if not scale > 0:
                scale = 1.0
                if col.kind == "number":
                    notes.append(ColumnNote(f"column {show(name)} has the same value "
                                            f"({number_text(mean)}) in every training "
                                            f"row, so it carries no information; it is "
                                            f"kept with scale 1 (pass --drop {name} to "
                                            f"leave it out)", name,
                                            "{n} columns are constant and carry no "
                                            "information"))
            spec = {"name": name, "kind": col.kind, "mean": mean, "scale": scale,
                    "fill": fill, "drift": stats}
            if col.kind == "number":
                spec["format"] = col.fmt     # the reader's note says it to the user
                nf = getattr(col, "number_format", None)
                if nf is not None and not nf.plain:
                    spec["number_format"] = nf
            else:
                spec["has_time"] = bool(col.has_time)
                notes.append(ColumnNote(f"column {show(name)} is a date: its inputs are "
                                        f"the days since 1970 (standardized) and the day of "
                                        f"the week and month on circles "
                                        f"({', '.join(f'{name}:{f}' for f in DATE_FEATURES)})",
                                        name, f"{{n}} date columns give "
                                              f"{len(DATE_FEATURES)} inputs each"))
            return spec
        # text
        counts = summary.counts
        seen = np.flatnonzero(counts)
        n_values = int(counts.sum())
        if (not keep and n_values >= ID_MIN_ROWS and len(seen) >= ID_SHARE * n_values):
            notes.append(ColumnNote(f"column {show(name)} looks like an identifier "
                                    f"({len(seen):,} distinct values in {n_values:,} rows) "
                                    f"and is left out; pass --keep-id {name} to use it "
                                    f"anyway", name, "{n} ID-like columns are left out "
                                                     "(see --keep-id)"))
            return None
        # most frequent first; ties by first appearance (the category list's order)
        order = seen[np.argsort(-counts[seen], kind="stable")]
        top = order[:max_categories]
        other = len(order) > max_categories
        fill = None
        if summary.missing or impute is not None:
            # the most frequent category; ties go to the smallest of those kept (a tie at
            # the top count may leave some out), so the choice is reproducible and the
            # fill is a category the model has an input for
            best = counts[order[0]]
            fill = min(col.categories[c] for c in top.tolist() if counts[c] == best)
        cats = sorted(col.categories[c] for c in top.tolist())
        cut = frozenset(col.categories[c] for c in order[max_categories:].tolist())
        if other:
            rest = order[max_categories:]
            notes.append(ColumnNote(f"column {show(name)}: the {max_categories} most "
                                    f"frequent of {len(order):,} categories are kept; the "
                                    f"other {_count(len(rest), 'value')} "
                                    f"({_count(counts[rest].sum(), 'row')}) share one "
                                    f"{OTHER} input", name,
                                    f"{{n}} columns keep {max_categories} categories "
                                    f"(the rest: {OTHER})"))
        if (col.numbers and col.first_text is not None
                and col.numbers > 0.5 * max(1, file_present)):
            # mostly numbers: say why it is read as text, in case that is a mistake
            r, text = col.first_text
            notes.append(ColumnNote(f"column {show(name)} is read as text (categories) "
                                    f"because {_count(file_present - col.numbers, 'cell')} "
                                    f"of it are not numbers, such as {show(text)} at row "
                                    f"{r + 1}; to use it as a number, fix those "
                                    f"cells or mark them missing and use --impute", name,
                                    "{n} columns of mostly numbers are read as text"))
        # each one-hot input's share of the training rows (a missing cell counts as its
        # fill): the mean of the block's inputs, the baseline of attributions
        place = {c: i for i, c in enumerate(cats)}
        hits = np.zeros(len(cats) + other)
        for c in order.tolist():
            hits[place.get(col.categories[c], len(cats))] += counts[c]
        if fill is not None:
            hits[place[fill]] += summary.missing
        return {"name": name, "kind": "text", "categories": cats, "other": other,
                "fill": fill, "drift": {"cut": cut},
                "freq": (hits / max(1.0, hits.sum())).tolist()}

    def _fit_target(self, table, t, decision, scale_target, notes, target_summary,
                    classes):
        """The target's side: the decision's classes (`classes`: the class indices that
        occur in the training rows), or the regression target's scaling from its
        Summary over the training rows."""
        self.task = decision.task
        self.task_reason = decision.reason
        self.label_kind = decision.label_kind
        self.classes = decision.classes
        self.class_names = decision.class_names
        self.scale_target = False
        self.target_mean, self.target_std = 0.0, 1.0
        tgt = show(decision.target)
        if self.task != "regression":
            if len(classes) < 2:
                raise DataError(f"the training rows have only one class of {tgt}",
                                path=table.path, column=table.ident(t),
                                hint="use more data or a smaller validation split")
            return
        if scale_target:
            self.scale_target = True
            self.target_mean, std = target_summary.mean, target_summary.std
            if not std > 0:
                std = 1.0
                notes.append(Note(f"target {tgt} has the same value in every training row",
                                  decision.target))
            self.target_std = std

    def _build_layout(self):
        """feature_names and the first-layer rows: dense features, then text blocks."""
        names = []
        for s in self.specs:
            if s["kind"] == "number":
                names.append(s["name"])
            elif s["kind"] == "date":
                names.extend(f"{s['name']}:{f}" for f in DATE_FEATURES)
        self.n_dense = len(names)
        self.blocks = []
        for s in self.specs:
            if s["kind"] == "text":
                cats = list(s["categories"]) + ([OTHER] if s["other"] else [])
                self.blocks.append((s["name"], len(names), len(cats)))
                names.extend(f"{s['name']}={c}" for c in cats)
        self.feature_names = names
        self.input_columns = [s["name"] for s in self.specs]
        self._spec_of = {s["name"]: s for s in self.specs}

    def column_inputs(self):
        """[(column, start, stop, kind)]: each input column's first-layer inputs
        start..stop-1 in the one-hot layout of feature_names, in the columns' order. kind
        is "number" or "date" (dense inputs, start < n_dense) or "text" (a one-hot block,
        which an Encoded input reaches through its codes column in the order of the
        blocks)."""
        out, at = [], 0
        blocks = {name: (start, size) for name, start, size in self.blocks}
        for s in self.specs:
            if s["kind"] == "text":
                start, size = blocks[s["name"]]
                out.append((s["name"], start, start + size, "text"))
            else:
                k = 1 if s["kind"] == "number" else len(DATE_FEATURES)
                out.append((s["name"], at, at + k, s["kind"]))
                at += k
        return out

    def input_means(self):
        """(means, unrecorded): the training mean of each first-layer input, in the
        layout of feature_names, as far as the fit recorded it. A number's standardized
        input and a date's day count have mean 0, and 0 stands for a date's four cyclic
        inputs too (the centre of their circles); a categorical block's means are its
        categories' shares of the training rows. `unrecorded` names the categorical
        columns of a model file saved without those shares, whose block is then uniform
        over its inputs."""
        means = np.zeros(self.n_features)
        unrecorded = []
        for name, start, stop, kind in self.column_inputs():
            if kind != "text":
                continue
            freq = self._spec_of[name].get("freq")
            if freq is None:
                unrecorded.append(name)
                freq = np.full(stop - start, 1.0 / (stop - start))
            means[start:stop] = freq
        return means, unrecorded

    def _layout_record(self):
        """The first layer's layout as the model file records it (JSON types), checked
        against the layout rebuilt from the columns on loading."""
        return {"dense": self.n_dense,
                "blocks": [[name, start, size] for name, start, size in self.blocks]}

    @property
    def n_features(self):
        return len(self.feature_names)

    @property
    def n_classes(self):
        return None if self.classes is None else len(self.classes)

    @property
    def notes(self):
        """What fit and the last transform found, one sentence each."""
        return list(self.fit_notes) + list(self.last_notes)

    def input_formats(self):
        """{column: NumberFormat} of the number columns that training read in a local
        format (thousands separators, a decimal comma, currency, percent)."""
        return {s["name"]: s["number_format"] for s in self.specs
                if s.get("number_format") is not None}

    def input_kinds(self):
        """{column: "number" | "date" | "text"}: how the training read each column the
        model uses, the target included."""
        kinds = {s["name"]: s["kind"] for s in self.specs}
        kinds[self.target] = "text" if self.label_kind == "text" else "number"
        return kinds

    def describe(self):
        """Each input column's encoding: [(column, kind, how)], then left-out IDs."""
        out = [(s["name"], s["kind"], self._how(s)) for s in self.specs]
        for name in getattr(self, "ids", []):
            out.append((name, "text", "left out: looks like an identifier"))
        return out

    def encoding(self, name):
        """How column `name` is used, as a dict: "use" is "standardized" (a number
        column), "date", "categorical", "id" (left out as an identifier), "dropped" or
        "target"; "text" says it in words (describe()'s wording; for the target, the task
        and why, or None when no task could be decided); "inputs" is how many
        first-layer inputs it makes. A categorical column adds "categories" (how many are
        kept) and "other" (whether the rest share an <other> input); the target adds
        "task". None for a column the fit left out for a problem."""
        name = str(name)
        if name == self.target:
            return {"use": "target", "text": self.task_reason, "inputs": 0,
                    "task": self.task}
        if name in self.dropped:
            return {"use": "dropped", "text": "left out (drop)", "inputs": 0}
        if name in self.ids:
            return {"use": "id", "text": "left out: looks like an identifier",
                    "inputs": 0}
        s = self._spec_of.get(name)
        if s is None:
            return None
        if s["kind"] == "number":
            return {"use": "standardized", "text": self._how(s), "inputs": 1}
        if s["kind"] == "date":
            return {"use": "date", "text": self._how(s), "inputs": len(DATE_FEATURES)}
        k = len(s["categories"])
        return {"use": "categorical", "text": self._how(s), "inputs": k + bool(s["other"]),
                "categories": k, "other": bool(s["other"])}

    @staticmethod
    def _how(s):
        """A column spec's encoding in words."""
        fill = s.get("fill")
        if s["kind"] == "number":
            fmt = s.get("format")
            how = f"standardized (mean {s['mean']:.4g}, scale {s['scale']:.4g})"
            if fmt and fmt != "plain":
                how += f", read with {fmt}"
            if fill is not None:
                how += f"; missing -> {number_text(fill)}"
        elif s["kind"] == "date":
            how = (f"date: days since 1970 standardized (mean {s['mean']:.6g}), day of "
                   f"week and month as sin/cos")
            if fill is not None:
                how += f"; missing -> {date_text(fill)}"
        else:
            k = len(s["categories"])
            how = f"categorical with {k} categor{'y' if k == 1 else 'ies'}" + (
                f" + {OTHER}" if s["other"] else "")
            if fill is not None:
                how += f"; missing -> {fill}"
        return how

    # ---- drift

    @property
    def has_drift_statistics(self):
        """Whether the fit kept the training statistics drift is measured against (a
        model file written before they were kept has none)."""
        return all("drift" in s for s in self.specs)

    def drift_meter(self, strict=False):
        """A drift.DriftMeter for transform(..., drift=meter), over every call it is given
        to; a DataError when the fit kept no training statistics."""
        self._need_fit()
        if not self.has_drift_statistics:
            raise missing_statistics()
        return DriftMeter(self.specs, strict=strict)

    # ---- transforming

    def fill_notes(self, filled):
        """One note per column of {column: cells filled} (what transform counted in
        last_filled, or such counts added up over several calls), or one for many columns
        filled alike (see summarize_notes)."""
        notes = []
        for s in self.specs:
            k = filled.get(s["name"])
            if not k:
                continue
            if s["kind"] == "text":
                what = f"the training's most frequent value {show(s['fill'])}"
                how = "most frequent"
            else:
                shown = number_text(s["fill"]) if s["kind"] == "number" else \
                    date_text(s["fill"])
                what = f"the training {self.impute} ({shown})"
                how = "most frequent" if self.impute == "most-frequent" else \
                    f"training {self.impute}"
            notes.append(ColumnNote(f"column {show(s['name'])}: "
                                    f"{_count(k, 'missing cell')} filled with {what}",
                                    s["name"], f"{{n}} columns: {{total}} missing cells "
                                               f"filled ({how})", k))
        return summarize_notes(notes)

    def transform(self, table, *, rows=None, dtype=np.float64, training=False, out=None,
                  drift=None):
        """Encoded inputs (dense in `dtype`, codes int32) for the table's rows (or `rows`
        of it), from the training columns matched by name. training: the rows are the
        training file's, whose categories beyond a column's cap the fit's notes already
        told of. out: an array of shape (rows, n_dense) in dtype to write the dense
        inputs into (a slice of the arrays training takes), instead of a new one.
        drift: a drift.DriftMeter (see drift_meter) given each column's cells as they are
        read, before missing ones are filled."""
        self._need_fit()
        notes = []
        self.last_filled = {}
        self._check_columns(table)
        known = set(self.input_columns) | set(self.dropped) | set(self.ids) | {self.target}
        extra = [c for c in table.columns if c not in known]
        if extra:
            notes.append(f"ignored columns not used in training: {listing(extra)}")
        sel = _rows_of(table, rows)
        n = len(sel)
        if out is None:
            dense = np.empty((n, self.n_dense), dtype=dtype)
        elif out.shape != (n, self.n_dense) or out.dtype != np.dtype(dtype):
            raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}, the rows "
                             f"need ({n}, {self.n_dense}) in {np.dtype(dtype)}")
        else:
            dense = out
        codes = np.empty((n, len(self.blocks)), dtype=np.int32) if self.blocks else None
        at = 0
        block = 0
        for s in self.specs:
            j = table.columns.index(s["name"])
            col = table.data[j]
            if s["kind"] in ("number", "date"):
                v = self._values(table, j, col, s, sel, notes, drift)
                if s["kind"] == "number":
                    # in place: v is this call's own copy
                    v -= s["mean"]
                    v /= s["scale"]
                    dense[:, at] = v
                    at += 1
                else:
                    dow, month = _date_parts(v)
                    dense[:, at] = (v - s["mean"]) / s["scale"]
                    dense[:, at + 1] = np.sin(2 * np.pi * dow / 7)
                    dense[:, at + 2] = np.cos(2 * np.pi * dow / 7)
                    dense[:, at + 3] = np.sin(2 * np.pi * month / 12)
                    dense[:, at + 4] = np.cos(2 * np.pi * month / 12)
                    at += len(DATE_FEATURES)
                continue
            codes[:, block] = self._codes(table, j, col, s, self.blocks[block][1], sel,
                                          training, notes, drift)
            block += 1
        if drift is not None:
            drift.check()
        self.last_notes = summarize_notes(notes) + self.fill_notes(self.last_filled)
        return Encoded(dense, codes)

    def _check_columns(self, table):
        missing = [c for c in self.input_columns if c not in table.columns]
        if missing:
            hint = f"the file's columns are {listing(table.columns, limit=20)}"
            if not table.has_header:
                hint = "the file has no header row; add one with the training columns' names"
            raise DataError(f"missing {'column' if len(missing) == 1 else 'columns'} the "
                            f"model was trained on: {listing(missing, limit=50)}",
                            path=table.path, hint=hint)

    def _values(self, table, j, col, s, sel, notes, drift=None):
        """A number or date column's values at rows sel, missing ones filled; the drift
        meter, when given, measures them first."""
        want = s["kind"]
        if col.kind == want:
            _check_numbers(table, j, col, hint="fix the value", rows=sel)
            v = col.values[sel].astype(np.float64, copy=False)  # a copy: sel picks rows
            gaps = col.missing[sel]
        elif col.kind == "text":
            v, gaps = self._parse_text(table, j, col, want, sel)
        else:
            raise table.error(f"the column holds {col.kind}s where the model was trained "
                                f"on {want}s", column=j, hint="check that it is the same "
                                                              "column as in training")
        if drift is not None:
            drift.numbers(table, j, s, v, gaps, sel)
        if gaps.any():
            if s["fill"] is None:
                raise table.error("missing value (an empty cell or a missing-value marker)",
                             row=sel[np.argmax(gaps)], column=j,
                             hint="fill it in (the model was trained without imputing)")
            v[gaps] = s["fill"]
            self.last_filled[s["name"]] = int(gaps.sum())
        return v

    @staticmethod
    def _parse_text(table, j, col, want, sel, hint="fix the value"):
        """A column the reader typed as text (the whole file's cells are not all numbers,
        or none is present), where the model takes numbers or dates: the selected rows'
        values by the reader's rules, or an error at the first that is not one."""
        from neuralcli.reader import _date, _number

        parse = _number if want == "number" else (lambda c: (_date(c) or (None,))[0])
        values = [parse(c) for c in col.categories]
        parsed = np.array([np.nan if v is None else v for v in values] + [np.nan],
                          dtype=np.float64)
        codes = col.codes[sel]
        gaps = codes < 0
        v = parsed[np.where(gaps, len(col.categories), codes)]
        wrong = ~np.isfinite(v) & ~gaps
        if wrong.any():
            i = int(np.argmax(wrong))
            text = col.categories[codes[i]]
            message = (f"NaN/inf is not allowed ({show(text)})" if want == "number" and
                       _number(text) is not None else
                       f"{show(text)} is not {'a number' if want == 'number' else 'a date'}")
            raise table.error(message, row=sel[i], column=j, hint=hint)
        return v, gaps

    def _codes(self, table, j, col, s, start, sel, training, notes, drift=None):
        """A text column's first-layer rows at rows sel: start + its category's place in
        the block, the other row for an unseen category (or -1 without one)."""
        cats = s["categories"]
        other = start + len(cats) if s["other"] else -1
        place = {c: start + i for i, c in enumerate(cats)}
        if col.kind == "text":
            names = list(col.categories)
            raw = col.codes[sel]
        elif col.kind == "number":
            # the file's cells were all numbers: match them with numeric categories
            as_number = {}
            for c in cats:
                try:
                    as_number.setdefault(float(c), c)
                except ValueError:
                    pass
            values = col.values[sel]
            uniq, raw = np.unique(values, return_inverse=True)
            raw = np.where(col.missing[sel], -1, raw).astype(np.int64)
            names = [as_number.get(float(u), number_text(float(u))) for u in uniq.tolist()]
        else:
            raise table.error("the column holds dates where the model was trained on text",
                         column=j, hint="check that it is the same column as in training")
        lookup = np.array([place.get(c, -2) for c in names] + [-3], dtype=np.int64)
        out = lookup[np.where(raw >= 0, raw, len(names))]
        gaps = out == -3
        if gaps.any():
            if s["fill"] is None:
                raise table.error("missing value (an empty cell or a missing-value marker)",
                             row=sel[np.argmax(gaps)], column=j,
                             hint="fill it in (the model was trained without imputing)")
            out[gaps] = place[s["fill"]]
            self.last_filled[s["name"]] = int(gaps.sum())
        unseen = out == -2
        if drift is not None:
            drift.categories(table, j, s, names, raw, unseen, ~gaps, sel)
        if unseen.any() and not (training and s["other"]):
            values = sorted({names[r] for r in raw[unseen].tolist()})
            k = int(unseen.sum())
            rows = "1 row has a category" if k == 1 else f"{k:,} rows have categories"
            if s["other"]:
                where = f"outside the {len(cats)} kept"
                how = f"the {OTHER} input"
            else:
                where, how = "not seen in training", "all zeros"
            notes.append(ColumnNote(f"column {show(s['name'])}: {rows} {where} "
                                    f"({listing(values, quote=True)}); "
                                    f"{'it was' if k == 1 else 'they were'} encoded as "
                                    f"{how}", s["name"],
                                    "{n} columns: {total} cells of " + (
                                        f"categories not kept ({OTHER})" if s["other"] else
                                        "unseen categories (zeros)"), k))
        out[unseen] = other
        return out.astype(np.int32)

    # ---- targets

    def target_of(self, table, *, rows=None, scaled=True):
        """The encoded target of a table that has the target column (evaluation):
        class indices (int64), or regression values (standardized if scaled and the
        target was standardized in training)."""
        self._need_fit()
        if self.target not in table.columns:
            raise DataError(f"no target column {show(self.target)}", path=table.path,
                            hint="evaluation needs the true values in a column of that "
                                 "name")
        j = table.columns.index(self.target)
        col = table.data[j]
        sel = _rows_of(table, rows)
        gaps = col.missing[sel]
        if gaps.any():
            raise table.error("the target is empty", row=sel[np.argmax(gaps)], column=j,
                         hint="fill in the value or remove the row")
        if col.kind == "date":
            raise table.error("the target column holds dates", column=j,
                         hint="check that it is the same column as in training")
        if self.task == "regression":
            if col.kind == "text":
                # read as text (a cell is no number, or the kinds said so): the rows'
                # numbers by the reader's rules, or an error at the first that is none
                y, _ = self._parse_text(table, j, col, "number", sel,
                                        hint="fix the value or remove the row")
            else:
                _check_numbers(table, j, col, hint="fix the value or remove the row",
                               rows=sel)
                y = col.values[sel].astype(np.float64)
            if scaled and self.scale_target:
                y = (y - self.target_mean) / self.target_std
            return y
        if col.kind == "text":
            names = list(col.categories)
            raw = col.codes[sel]
        else:
            _check_numbers(table, j, col, hint="fix the value or remove the row", rows=sel)
            uniq, raw = np.unique(col.values[sel], return_inverse=True)
            names = uniq.tolist()
        if self.label_kind == "text":
            index = {c: i for i, c in enumerate(self.classes.tolist())}
            if col.kind != "text":
                index = {}
                for i, c in enumerate(self.classes.tolist()):
                    try:
                        index.setdefault(float(c), i)
                    except ValueError:
                        pass
        else:
            index = {float(c): i for i, c in enumerate(self.classes.tolist())}
            if col.kind == "text":
                text_index = {}
                for c in names:
                    try:
                        f = float(c)
                    except ValueError:
                        continue
                    if f in index:
                        text_index[c] = index[f]
                index = text_index
        lookup = np.array([index.get(c, -1) for c in names], dtype=np.int64)
        out = lookup[raw]
        bad = out < 0
        if bad.any():
            unknown = sorted({str(names[r]) if col.kind == "text" else number_text(names[r])
                              for r in raw[bad].tolist()})
            raise table.error(f"target {show(self.target)} has "
                                f"{'a label' if len(unknown) == 1 else 'labels'} not seen in "
                                f"training: {listing(unknown, quote=True)}",
                         row=sel[np.argmax(bad)], column=j,
                         hint=f"the model knows {listing(self.class_names, quote=True)}")
        return out

    def labels(self, indices):
        """Class labels (the original numbers or strings) for class indices."""
        self._need_fit()
        if self.classes is None:
            raise DataError("a regression model has no class labels")
        return self.classes[np.asarray(indices)]

    def label_names(self, indices):
        """Class labels as text, for display."""
        return [self.class_names[i] for i in np.asarray(indices).tolist()]

    def inverse_target(self, y):
        """Regression outputs back in the target's units."""
        self._need_fit()
        y = np.asarray(y, dtype=np.float64)
        if self.task != "regression" or not self.scale_target:
            return y
        return y * self.target_std + self.target_mean

    def _need_fit(self):
        if not self.fitted:
            raise DataError("the preprocessor has not been fitted")

    # ---- model file

    def to_meta(self):
        """(meta, arrays) holding everything from_meta needs: meta is JSON-able, arrays
        (names prefixed "data.") are float64/int64 or 1-D string arrays."""
        self._need_fit()
        scaled = [s for s in self.specs if s["kind"] in ("number", "date")]
        columns = []
        for s in self.specs:
            c = {"name": s["name"], "kind": s["kind"], "fill": s["fill"]}
            if s["kind"] == "number":
                c["format"] = s.get("format")
                if s.get("number_format") is not None:
                    nf = s["number_format"]
                    c["number_format"] = {"decimal": nf.decimal, "thousands": nf.thousands,
                                          "currency": nf.currency, "percent": nf.percent}
            elif s["kind"] == "date":
                c["has_time"] = bool(s.get("has_time"))
            else:
                c["categories"] = list(s["categories"])
                c["other"] = bool(s["other"])
                if "drift" in s:
                    c["cut"] = sorted(s["drift"]["cut"])
                if s.get("freq") is not None:
                    c["freq"] = [float(f) for f in s["freq"]]
            columns.append(c)
        meta = {
            "format": _META_FORMAT, "target": self.target, "task": self.task,
            "task_reason": self.task_reason, "impute": self.impute,
            "dropped": list(self.dropped), "ids": list(self.ids), "columns": columns,
            "label_kind": self.label_kind, "class_names": self.class_names,
            "scale_target": self.scale_target,
            "max_categories": self.max_categories,
            "layout": self._layout_record(),
        }
        arrays = {
            "data.mean": np.array([s["mean"] for s in scaled], dtype=np.float64),
            "data.scale": np.array([s["scale"] for s in scaled], dtype=np.float64),
            "data.target_scale": np.array([self.target_mean, self.target_std],
                                          dtype=np.float64),
        }
        if self.has_drift_statistics:
            meta["drift"] = {"format": 1, "quantiles": list(QUANTILES)}
            stats = [s["drift"] for s in scaled]
            for key in ("min", "max", "mean", "std"):
                arrays[f"data.drift.{key}"] = np.array([st[key] for st in stats],
                                                       dtype=np.float64)
            for key in ("rows", "sampled"):
                arrays[f"data.drift.{key}"] = np.array([st[key] for st in stats],
                                                       dtype=np.int64)
            arrays["data.drift.quantiles"] = np.array(
                [st["quantiles"] for st in stats], dtype=np.float64).reshape(
                len(stats), len(QUANTILES))
        if self.classes is not None:
            arrays["data.classes"] = (self.classes if self.label_kind == "text" else
                                      self.classes.astype(np.int64 if self.label_kind ==
                                                          "integer" else np.float64))
        return meta, arrays

    @classmethod
    def from_meta(cls, meta, arrays):
        """A fitted Preprocessor from to_meta()'s output, as read back from a model file.
        A format-1 record (number and text columns one-hot in column order) loads too;
        then `legacy_order` holds, for each input of the current layout, its place in the
        old one (the model's first-layer weight rows must be permuted with it)."""
        try:
            version = meta.get("format")
            if version not in (1, _META_FORMAT):
                raise ValueError(f"format {version!r}")
            self = cls()
            self.target = str(meta["target"])
            self.task = meta["task"]
            if self.task not in TASKS[1:]:
                raise ValueError(f"task {self.task!r}")
            self.task_reason = str(meta["task_reason"])
            self.impute = meta["impute"]
            self.dropped = [str(d) for d in meta["dropped"]]
            self.ids = [str(d) for d in meta.get("ids", [])]
            self.label_kind = meta["label_kind"]
            self.scale_target = bool(meta["scale_target"])
            self.max_categories = int(meta.get("max_categories", MAX_CATEGORIES))
            mean = np.asarray(arrays["data.mean"], dtype=np.float64)
            scale = np.asarray(arrays["data.scale"], dtype=np.float64)
            ts = np.asarray(arrays["data.target_scale"], dtype=np.float64)
            self.target_mean, self.target_std = float(ts[0]), float(ts[1])
            kinds = {"numeric": "number", "categorical": "text"} if version == 1 else \
                {"number": "number", "date": "date", "text": "text"}
            self.specs = []
            k = 0
            for c in meta["columns"]:
                kind = kinds.get(c["kind"])
                s = {"name": str(c["name"]), "kind": kind, "fill": c["fill"]}
                if kind in ("number", "date"):
                    s["mean"], s["scale"] = float(mean[k]), float(scale[k])
                    k += 1
                    if kind == "number":
                        s["format"] = c.get("format")
                        if c.get("number_format") is not None:
                            nf = c["number_format"]
                            s["number_format"] = NumberFormat(
                                str(nf["decimal"]), nf["thousands"], nf["currency"],
                                bool(nf["percent"]))
                    else:
                        s["has_time"] = bool(c.get("has_time"))
                    if s["fill"] is not None:
                        s["fill"] = float(s["fill"])
                elif kind == "text":
                    s["categories"] = [str(v) for v in c["categories"]]
                    s["other"] = bool(c.get("other", False))
                    # files saved before the frequencies were recorded have none
                    s["freq"] = None if c.get("freq") is None else \
                        [float(f) for f in c["freq"]]
                    if s["freq"] is not None and \
                            len(s["freq"]) != len(s["categories"]) + s["other"]:
                        raise ValueError(f"column {s['name']!r} has {len(s['freq'])} "
                                         f"category frequencies for "
                                         f"{len(s['categories']) + s['other']} inputs")
                    if s["fill"] is not None:
                        s["fill"] = str(s["fill"])
                else:
                    raise ValueError(f"column kind {c['kind']!r}")
                self.specs.append(s)
            if k != len(mean) or len(scale) != len(mean):
                raise ValueError("scales do not match the number and date columns")
            if meta.get("drift") is not None:
                self._drift_from_meta(meta, arrays, k)
            if self.task == "regression":
                self.classes = self.class_names = None
            else:
                self.classes = np.asarray(arrays["data.classes"])
                self.class_names = [str(n) for n in meta["class_names"]]
                if len(self.class_names) != len(self.classes):
                    raise ValueError("class names do not match the classes")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise DataError(f"the model file's preprocessing record is damaged ({err})",
                            hint="retrain the model") from None
        self.fitted = True
        self._build_layout()
        if version == 1:
            self.legacy_order = self._format1_order()
        elif meta.get("layout") != self._layout_record():
            raise DataError("the model file's preprocessing record is damaged (its layout "
                            "does not match its columns)", hint="retrain the model")
        return self

    def _drift_from_meta(self, meta, arrays, k):
        """The training statistics of drift into the specs, from a record written with
        them (ValueError, KeyError, ... when damaged; from_meta words it)."""
        record = meta["drift"]
        if record.get("format") != 1 or \
                [float(q) for q in record["quantiles"]] != list(QUANTILES):
            raise ValueError("drift statistics of an unknown kind")
        got = {key: np.asarray(arrays[f"data.drift.{key}"])
               for key in ("min", "max", "mean", "std", "rows", "sampled")}
        quantiles = np.asarray(arrays["data.drift.quantiles"], dtype=np.float64)
        if any(a.shape != (k,) for a in got.values()) or \
                quantiles.shape != (k, len(QUANTILES)):
            raise ValueError("drift statistics do not match the number and date columns")
        texts = {c["name"]: c for c in meta["columns"]}
        at = 0
        for s in self.specs:
            if s["kind"] == "text":
                s["drift"] = {"cut": frozenset(str(v) for v in texts[s["name"]]["cut"])}
                continue
            st = {key: float(got[key][at]) for key in ("min", "max", "mean", "std")}
            st["rows"], st["sampled"] = int(got["rows"][at]), int(got["sampled"][at])
            st["quantiles"] = [float(q) for q in quantiles[at]]
            s["drift"] = check_record(st)
            at += 1

    def _format1_order(self):
        """For each input of the current layout, its row in format 1's layout, where each
        column's inputs (one, or its one-hot block) followed in column order."""
        old = {}
        at = 0
        for s in self.specs:
            if s["kind"] == "number":
                old[s["name"]] = at
                at += 1
            else:
                for c in s["categories"]:
                    old[f"{s['name']}={c}"] = at
                    at += 1
        order = []
        for s in self.specs:
            if s["kind"] == "number":
                order.append(old[s["name"]])
        for s in self.specs:
            if s["kind"] == "text":
                order.extend(old[f"{s['name']}={c}"] for c in s["categories"])
        return np.array(order, dtype=np.int64)
