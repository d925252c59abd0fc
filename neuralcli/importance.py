"""Permutation importance: how much a trained model's score drops when one input column's
values are shuffled across the rows, which breaks the column's link to the target while
keeping its distribution.

The score is the metric `train` reports and `eval` shows first: accuracy for a classifier,
R^2 for a regression, computed by neuralcli.metrics as `eval` computes them. A column's
importance is the drop (score on the data as it is, minus score with the column
shuffled), over `repeats` shuffles drawn from one seeded generator; its interval is the
smallest and largest drop of those repeats. Shuffling a column's encoded inputs together
(a number's one input, a date's five, a category's code) is shuffling the column itself,
since each row's encoding depends on that row's value alone, so the data is encoded once.
"""
from dataclasses import dataclass

import numpy as np

from neuralcli import metrics
from neuralcli.network import Encoded

__all__ = ["Importance", "permutation_importance", "inputs_importance", "metric_name",
           "score", "targets"]


@dataclass(frozen=True)
class Importance:
    """One input column's permutation importance: `mean` is the mean drop of the score
    (`metric`) over the repeats, `low` and `high` the smallest and largest drop, `drops`
    each repeat's drop in the order drawn. A drop near zero, or an interval around zero,
    means the model does not use the column; a negative one that it scored better
    without it (by chance, on these rows)."""
    column: str
    mean: float
    low: float
    high: float
    drops: tuple
    metric: str


def metric_name(model):
    """The score importance measures drops of: "accuracy" or "r2"."""
    return "r2" if model.task == "regression" else "accuracy"


def targets(model, table):
    """The table's targets as `eval` scores them: class indices, or regression values in
    the target's own units."""
    if model.task == "regression":
        return model.pre.target_of(table, scaled=False)
    return model.pre.target_of(table)


def score(model, X, y):
    """The model's accuracy (classifier) or R^2 (regression) on encoded inputs X with
    targets y (as targets() gives them)."""
    _, _, pred = model.predict_inputs(X)
    if model.task == "regression":
        return metrics.r2(y, pred)
    return metrics.accuracy(y, pred)


def permutation_importance(model, table, *, repeats=5, seed=0):
    """Permutation importance of each input column of `model` (a TrainedModel) on `table`
    (a Table holding the model's input columns and its target), as a list of Importance
    sorted most important first (by mean drop; ties in the columns' order). `repeats`
    shuffles per column, drawn from numpy's default_rng(seed). Notes of the encoding are
    in model.pre.last_notes."""
    X = model.encode_inputs(table)
    return inputs_importance(model, X, targets(model, table), repeats=repeats, seed=seed)


def inputs_importance(model, X, y, *, repeats=5, seed=0):
    """permutation_importance on inputs already encoded (an Encoded X of
    model.encode_inputs) with their targets y (as targets() gives them)."""
    repeats = int(repeats)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    n = len(X)
    if n < 2:
        raise ValueError(f"permutation importance needs at least 2 rows, got {n}")
    if not isinstance(X, Encoded):
        X = Encoded(np.asarray(X))
    dense = np.array(X.dense, copy=True)
    codes = None if X.codes is None else np.array(X.codes, copy=True)
    work = Encoded(dense, codes)
    base = score(model, work, y)
    rng = np.random.default_rng(seed)
    # the same shuffles for every column, so columns are compared on equal draws
    perms = [rng.permutation(n) for _ in range(repeats)]
    name = metric_name(model)
    block = 0
    found = []
    for order, (column, start, stop, kind) in enumerate(model.pre.column_inputs()):
        if kind == "text":
            part, cols = codes, block
            block += 1
        else:
            part, cols = dense, slice(start, stop)
        kept = part[:, cols].copy()
        drops = []
        for perm in perms:
            part[:, cols] = kept[perm]
            drops.append(base - score(model, work, y))
        part[:, cols] = kept
        drops = tuple(float(d) for d in drops)
        found.append((order, Importance(column, float(np.mean(drops)), min(drops),
                                        max(drops), drops, name)))
    found.sort(key=lambda item: (-item[1].mean, item[0]))
    return [imp for _, imp in found]
