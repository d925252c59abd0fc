"""A model's predictions over a labelled data set and the figures `eval` reports from
them, beside a baseline that ignores the inputs. `eval`, `plot` and `report` all score
through here, so they show the same numbers."""
from dataclasses import dataclass, field

import numpy as np

from neuralcli import metrics


@dataclass
class Scored:
    """What a model predicted for every row of a data set. y: class indices, or target
    values in the target's own units; proba: (N, K) class probabilities (None for
    regression); pred: class indices or values in the target's units; columns: the raw
    values ({name: float64 (N,)}) of the number columns asked for; notes: what reading
    and encoding the rows found, once each; inputs: the rows' encoded inputs (an
    Encoded), when kept."""
    task: str
    y: np.ndarray
    proba: np.ndarray
    pred: np.ndarray
    n_rows: int
    path: str
    columns: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    inputs: object = None


def score_tables(model, tables, *, keep=(), drift=None, inputs=False):
    """The predictions of `model` (a TrainedModel) for the rows of `tables` (Tables read
    with the model's column kinds, such as a file's chunks), kept one after another; only
    the targets, outputs and the number columns named in `keep` are kept, and with
    `inputs` the encoded inputs too (for importance()). drift: a DriftMeter that measures
    the rows as they pass (neuralcli.drift)."""
    ys, probas, preds, notes, encoded = [], [], [], [], []
    kept = {name: [] for name in keep}
    n_rows, path = 0, None
    for table in tables:
        X, _, proba, pred = model.predict_table(table, drift=drift)
        if inputs:
            encoded.append(X)
        notes += [n for n in model.pre.last_notes if n not in notes]
        ys.append(model.pre.target_of(table, scaled=False) if model.task == "regression"
                  else model.pre.target_of(table))
        probas.append(proba)
        preds.append(pred)
        for name in keep:
            kept[name].append(np.asarray(table.column(name).values, np.float64))
        n_rows, path = n_rows + table.n_rows, table.path
    return Scored(task=model.task, y=np.concatenate(ys),
                  proba=None if probas[0] is None else np.concatenate(probas),
                  pred=np.concatenate(preds), n_rows=n_rows, path=str(path),
                  columns={k: np.concatenate(v) for k, v in kept.items()}, notes=notes,
                  inputs=_joined(encoded) if inputs else None)


def _joined(chunks):
    """One Encoded of the chunks' encoded inputs."""
    from neuralcli.network import Encoded

    return Encoded(np.concatenate([x.dense for x in chunks]),
                   None if chunks[0].codes is None else
                   np.concatenate([x.codes for x in chunks]))


def importance(model, scored, *, repeats=5, seed=0):
    """Permutation importance of each input column (neuralcli.importance), from the
    encoded inputs `scored` kept (score_tables(..., inputs=True)): a list of Importance,
    most important first, the same numbers `eval --importance` gives. ValueError for
    fewer than 2 rows or repeats below 1."""
    from neuralcli.importance import inputs_importance

    return inputs_importance(model, scored.inputs, scored.y, repeats=repeats, seed=seed)


def figures(model, scored):
    """(model's figures, baseline's figures) as `eval` reports them: the
    metrics.regression_report of the predictions beside that of the training mean, or the
    metrics.classification_report beside that of the training rows' class shares (the
    majority class)."""
    pre = model.pre
    if model.task == "regression":
        got = metrics.regression_report(scored.y, scored.pred)
        base = metrics.baseline_regression(scored.y, mean=pre.target_mean
                                           if pre.scale_target else None)
        return got, base
    k = pre.n_classes
    got = metrics.classification_report(scored.y, scored.proba, k)
    base = metrics.baseline_classification(scored.y, k, prior=model.info.get("class_prior"))
    return got, base
