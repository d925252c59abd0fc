"""What neuralcli makes of a table: each column's type, counts, range or top categories,
and how training would encode it, taken from a Preprocessor fitted on the whole table.

profile(table, ...) -> dict, JSON-able (the object `neuralcli inspect --json` prints;
docs/inspect.md lists its keys). The Preprocessor is fitted with problems collected
rather than raised, so one call reports every column that would stop training, each with
its row and the fix.
"""
import math

import numpy as np

from neuralcli.errors import DataError, library_fix
from neuralcli.preprocess import MAX_CATEGORIES, Preprocessor, date_text

__all__ = ["profile", "TOP_CATEGORIES"]

TOP_CATEGORIES = 5          # the most frequent categories given per text column


def profile(table, *, target=None, drop=(), task="auto", impute=None,
            max_categories=MAX_CATEGORIES, keep=(), head=0, fix_words=library_fix):
    """The table described, as a dict (see docs/inspect.md).

    target, drop, task, impute, max_categories, keep: as Preprocessor.fit takes them, so
    that "encoding" says what training with them would do; head: how many of the first
    rows to give as parsed values; fix_words(kind, arg): how a problem's fix is worded (a
    front end words it as its own options). A target that names no column, or drop and
    keep naming unknown columns, raise DataError."""
    problems = []
    pre = Preprocessor().fit(table, target=target, drop=drop, task=task, impute=impute,
                             max_categories=max_categories, keep=keep, problems=problems)
    by_column = {}
    file_problems = []
    for j, err in problems:
        if j is None:
            file_problems.append(err.worded(fix_words))
        else:
            by_column.setdefault(j, []).append(_local(err).worded(fix_words))
    notes = list(table.notes) + list(pre.fit_notes)
    column_notes = {}
    # the Notes themselves (JSON strings all the same): a front end can say many of a
    # kind in one line (preprocess.summarize_notes)
    for note in notes:
        column_notes.setdefault(getattr(note, "column", None), []).append(note)
    columns = []
    for j, (name, col) in enumerate(zip(table.columns, table.data)):
        info = {"name": name, "position": j + 1, "kind": col.kind,
                "format": _format(col), "missing": int(np.count_nonzero(col.missing)),
                "distinct": _distinct(col), "range": _range(col), "top": _top(col)}
        info["encoding"] = pre.encoding(name)
        info["notes"] = column_notes.get(name, [])
        info["problems"] = by_column.get(j, [])
        columns.append(info)
    return {
        "path": table.path,
        "n_rows": table.n_rows,
        "n_columns": table.n_columns,
        "delimiter": table.delimiter,
        "header": bool(table.has_header),
        "encoding": table.encoding,
        "target": pre.target,
        "task": pre.task,
        "task_reason": pre.task_reason,
        "inputs": pre.n_features,
        "problems": [e.worded(fix_words) for _, e in problems],
        "notes": column_notes.get(None, []),
        "columns": columns,
        "head": head_rows(table, head),
    }


def head_rows(table, n):
    """The first n rows as parsed, one dict per row keyed by column name: numbers as int
    (whole numbers) or float, text as str, dates as ISO text; None for a
    missing cell and for a cell the column's kind cannot read."""
    n = max(0, min(int(n), table.n_rows))
    cells = [_values(col, n) for col in table.data]
    return [{name: values[i] for name, values in zip(table.columns, cells)}
            for i in range(n)]


def _values(col, n):
    if col.kind == "text":
        return [None if c < 0 else col.categories[c] for c in col.codes[:n].tolist()]
    values = col.values[:n].tolist()
    gone = (col.missing[:n] | np.isnan(col.values[:n])).tolist()
    if col.kind == "date":
        return [None if g else date_text(v, time=col.has_time)
                for v, g in zip(values, gone)]
    return [None if g else _number(v) for v, g in zip(values, gone)]


def _number(v):
    """A whole number as int (JSON writes it without a fraction), others as float."""
    return int(v) if math.isfinite(v) and v.is_integer() and abs(v) < 2 ** 53 else v


def _local(err):
    """The error without its file and column: said beside the column it is about."""
    return DataError(err.message, row=err.row, line=err.line, hint=err.hint, fix=err.fix)


def _format(col):
    if col.kind == "number":
        return None if col.fmt in (None, "plain") else col.fmt
    if col.kind == "date":
        return "date-time" if col.has_time else "date"
    return None


def _readable(col):
    """A number or date column's values that are present and finite."""
    v = col.values[~col.missing]
    return v[np.isfinite(v)]


def _distinct(col):
    if col.kind == "text":
        return int(np.count_nonzero(col.counts()))
    return int(len(np.unique(_readable(col))))


def _range(col):
    if col.kind == "text":
        return None
    v = _readable(col)
    if not len(v):
        return None
    lo, hi = float(v.min()), float(v.max())
    if col.kind == "date":
        return {"first": date_text(lo, time=col.has_time),
                "last": date_text(hi, time=col.has_time)}
    return {"min": _number(lo), "max": _number(hi), "mean": float(np.mean(v))}


def _top(col):
    """The most frequent categories with their counts; ties by first appearance."""
    if col.kind != "text":
        return None
    counts = col.counts()
    seen = np.flatnonzero(counts)
    order = seen[np.argsort(-counts[seen], kind="stable")][:TOP_CATEGORIES]
    return [{"value": col.categories[c], "count": int(counts[c])} for c in order.tolist()]
