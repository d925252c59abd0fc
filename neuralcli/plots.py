"""The numbers behind `neuralcli plot` and the report's figures: what each kind of figure
shows of a trained model, from its history or from its predictions over a data set
(neuralcli.scoring.Scored), computed with neuralcli.metrics. Drawing them is
neuralcli.draw's part; nothing here imports matplotlib."""
from dataclasses import dataclass

import numpy as np

from neuralcli import metrics


@dataclass(frozen=True)
class Kind:
    """A kind of figure: whether it needs a data set, which tasks it applies to (None:
    every task) and what it shows, for --kind's help."""
    needs_data: bool
    tasks: tuple
    what: str


CLASSIFICATION = ("binary", "multiclass")
KINDS = {
    "loss": Kind(False, None, "training and validation loss per epoch, best epoch marked"),
    "lr": Kind(False, None, "the learning rate per epoch"),
    "gradients": Kind(False, None, "per layer: gradient RMS, update ratio, weight norm per "
                                   "epoch"),
    "dead": Kind(False, None, "per layer: shares of dead and of saturated units per epoch"),
    "confusion": Kind(True, CLASSIFICATION, "the confusion matrix"),
    "roc": Kind(True, CLASSIFICATION, "ROC curves with their AUC"),
    "pr": Kind(True, CLASSIFICATION, "precision-recall curves, average precision"),
    "calibration": Kind(True, CLASSIFICATION, "predicted probability against the observed "
                                              "share"),
    "residuals": Kind(True, ("regression",), "residuals against the predictions"),
    "predicted-vs-actual": Kind(True, ("regression",), "predictions against the true "
                                                      "values"),
    "boundary": Kind(True, None, "the map of two number inputs, with the data and each "
                                 "neuron"),
    "importance": Kind(True, None, "permutation importance of each input column"),
}

# most curves drawn in one figure (one-vs-rest classes); the rest are named in the title
MAX_CURVES = 10
# most first-layer neurons given a map of their own
MAX_NEURONS = 32
# most data points drawn on a boundary map (a spread of rows, every k-th)
MAX_POINTS = 3000
CALIBRATION_BINS = 10
# the shuffles of permutation importance, as `eval --importance` takes them by default
IMPORTANCE_REPEATS = 5
IMPORTANCE_SEED = 0


class NotApplicable(Exception):
    """A kind of figure that does not apply to this model; str() says why in one
    sentence, with what to draw instead where there is such a kind."""


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def check(kind, model):
    """Raise NotApplicable when `kind` cannot be drawn for `model` (a TrainedModel)."""
    spec = KINDS[kind]
    if spec.tasks is not None and model.task not in spec.tasks:
        if model.task == "regression":
            raise NotApplicable(f"--kind {kind} applies to classifiers, and this is a "
                                f"regression model; try --kind residuals or "
                                f"predicted-vs-actual")
        raise NotApplicable(f"--kind {kind} applies to regression models, and this is a "
                            f"{model.task} classifier; try --kind confusion, roc, pr or "
                            f"calibration")
    if kind in ("loss", "lr") and not model.history:
        raise NotApplicable("the model's history is empty: it was saved before its first "
                            "epoch ended")
    if kind in ("gradients", "dead") and not any("diagnostics" in h for h in model.history):
        raise NotApplicable(f"--kind {kind} draws the per-epoch diagnostics, and this "
                            f"model's history holds none; train it again with this version "
                            f"of neuralcli")
    if kind == "dead":
        d = diagnostics(model)
        if d is None or (np.all(np.isnan(d["dead"])) and np.all(np.isnan(d["saturated"]))):
            raise NotApplicable("--kind dead counts ReLU-family, sigmoid and tanh units, and "
                                "no layer of this model has one of those activations")
    if kind == "boundary":
        why = _two_numbers(model)
        if why:
            raise NotApplicable(why)


def _two_numbers(model):
    """Why a model is not one of two number inputs, or None when it is."""
    pre = model.pre
    specs = pre.specs
    if len(specs) == 2 and all(s["kind"] == "number" for s in specs):
        return None
    kinds = ", ".join(f"{s['name']} ({s['kind']})" for s in specs[:6])
    more = f" and {len(specs) - 6} more" if len(specs) > 6 else ""
    return (f"--kind boundary maps models of two number inputs, and this one reads "
            f"{_plural(len(specs), 'input column')}: {kinds}{more}")


# ------------------------------------------------------------------ from the history

def loss_curves(model):
    """{"epoch", "train", "val" (None without validation rows; NaN where an epoch has
    none), "best_epoch" (1-based, or None), "monitor", "scaled" (losses on a standardized
    target)}."""
    h = model.history
    epochs = np.array([e.get("epoch", i + 1) for i, e in enumerate(h)], np.int64)
    val = None
    if any("val_loss" in e for e in h):
        val = np.array([_number(e.get("val_loss")) for e in h])
    best = model.info.get("best_epoch") or None
    return {"epoch": epochs, "train": np.array([_number(e.get("loss")) for e in h]),
            "val": val, "best_epoch": best, "monitor": model.info.get("monitor", "loss"),
            "scaled": model.task == "regression" and bool(model.pre.scale_target)}


def lr_curve(model):
    """{"epoch", "lr"}: the learning rate each epoch ran at."""
    h = model.history
    return {"epoch": np.array([e.get("epoch", i + 1) for i, e in enumerate(h)], np.int64),
            "lr": np.array([_number(e.get("lr")) for e in h])}


DIAGNOSTICS = ("grad_rms", "weight_norm", "update_ratio", "dead", "saturated")


def diagnostics(model):
    """The per-epoch diagnostics of the history as arrays (epochs, dense layers), NaN
    where an epoch or a layer has none (a dead share of a layer that is not of the ReLU
    family, say): {"epoch", "layers" (names such as "layer 1 (relu)"), and one array per
    name of DIAGNOSTICS}; None when no epoch has diagnostics."""
    rows = [(i, e["diagnostics"]) for i, e in enumerate(model.history) if "diagnostics" in e]
    if not rows:
        return None
    n_layers = len(model.net.weights)
    out = {"epoch": np.array([model.history[i].get("epoch", i + 1) for i, _ in rows],
                             np.int64),
           "layers": [f"layer {j + 1} ({a})" for j, a in
                      enumerate(model.net.activations[:n_layers])]}
    for name in DIAGNOSTICS:
        values = np.full((len(rows), n_layers), np.nan)
        for r, (_, d) in enumerate(rows):
            for j, v in enumerate((d.get(name) or [])[:n_layers]):
                values[r, j] = _number(v)
        out[name] = values
    return out


def _number(v):
    return np.nan if v is None else float(v)


# ------------------------------------------------------------------ from predictions

def confusion(model, scored):
    """{"names", "matrix"}: the confusion matrix (rows true, columns predicted) as eval
    reports it."""
    k = model.pre.n_classes
    return {"names": list(model.pre.class_names),
            "matrix": np.array(metrics.confusion_matrix(scored.y, scored.pred, k))}


def _one_vs_rest(model, scored):
    """[(label, positive (N,) bool, score (N,))]: the positive class of a binary model;
    every class present in the data, one against the rest, of a multiclass one."""
    names = model.pre.class_names
    y, p = scored.y, scored.proba
    if model.task == "binary":
        return [(str(names[1]), y == 1, p[:, 1])]
    return [(str(names[k]), y == k, p[:, k]) for k in range(len(names)) if np.any(y == k)]


def roc(model, scored):
    """{"curves": [{"label", "fpr", "tpr", "auc"}], "left_out": classes not drawn,
    "auc": the AUC eval reports}. A class whose curve is undefined (every row of it, or
    none) is left out."""
    curves = []
    for label, positive, score in _one_vs_rest(model, scored):
        c = metrics.roc_curve(positive, score)
        if c is None:
            continue
        fpr, tpr, _ = c
        curves.append({"label": label, "fpr": fpr, "tpr": tpr,
                       "auc": metrics.roc_auc(positive.astype(np.int64),
                                              np.column_stack([1 - score, score]), 2)})
    return {"curves": curves[:MAX_CURVES], "left_out": [c["label"] for c in
                                                        curves[MAX_CURVES:]],
            "auc": metrics.roc_auc(scored.y, scored.proba, model.pre.n_classes)}


def precision_recall(model, scored):
    """{"curves": [{"label", "precision", "recall", "ap", "share"}], "left_out"}: each
    curve with its average precision and the share of positive rows (a classifier that
    ignores its inputs scores that precision at every recall)."""
    curves = []
    for label, positive, score in _one_vs_rest(model, scored):
        c = metrics.precision_recall_curve(positive, score)
        if c is None:
            continue
        precision, recall, _ = c
        curves.append({"label": label, "precision": precision, "recall": recall,
                       "ap": metrics.average_precision(positive, score),
                       "share": float(np.mean(positive))})
    return {"curves": curves[:MAX_CURVES],
            "left_out": [c["label"] for c in curves[MAX_CURVES:]]}


def calibration(model, scored, n_bins=CALIBRATION_BINS):
    """{"what", "observed", "predicted", "count"}: per bin of predicted probability
    holding rows, the share of rows that are so and the mean predicted probability. A
    binary model's P(positive class); a multiclass model's probability of the class it
    predicts, against how often that class is right."""
    names = model.pre.class_names
    if model.task == "binary":
        what = f"P({names[1]})"
        positive, prob = scored.y == 1, scored.proba[:, 1]
    else:
        what = "probability of the predicted class"
        positive, prob = scored.pred == scored.y, scored.proba.max(axis=1)
    observed, predicted, count = metrics.calibration_curve(positive, np.clip(prob, 0, 1),
                                                           n_bins)
    return {"what": what, "observed": observed, "predicted": predicted, "count": count,
            "bins": n_bins}


def importance(model, scored, *, repeats=IMPORTANCE_REPEATS, seed=IMPORTANCE_SEED):
    """{"metric" ("accuracy" or "R²"), "repeats", "seed", "columns": [{"column", "mean",
    "low", "high"}]}: each input column's permutation importance, most important first,
    as `eval --importance` gives it. Needs the encoded inputs kept in `scored`
    (score_tables(..., inputs=True))."""
    from neuralcli import scoring

    found = scoring.importance(model, scored, repeats=repeats, seed=seed)
    return {"metric": "R²" if model.task == "regression" else "accuracy",
            "repeats": repeats, "seed": seed,
            "columns": [{"column": str(g.column), "mean": g.mean, "low": g.low,
                         "high": g.high} for g in found]}


def regression_points(model, scored):
    """[{"label", "actual", "predicted"}]: one per output, in the target's units."""
    y = scored.y.reshape(len(scored.y), -1)
    pred = np.asarray(scored.pred, np.float64).reshape(len(y), -1)
    target = model.pre.target
    labels = [str(target)] if y.shape[1] == 1 else \
        [f"{target} {k + 1}" for k in range(y.shape[1])]
    return [{"label": labels[k], "actual": y[:, k], "predicted": pred[:, k]}
            for k in range(y.shape[1])]


def boundary(model, scored, *, size=160, neuron_size=48):
    """The model's map over the plane of its two number inputs, spanning the data's
    points with a margin: {"inputs" (the two column names), "extent" (x0, x1, y0, y1),
    "map" (size, size), "map_kind" ("probability", "class" or "value"), "label" (what the
    map shows), "names" (class names, or None), "points" ((n, 2) raw values), "point_y"
    (their classes or target values), "neurons" ((n, neuron_size, neuron_size) first-layer
    activations), "n_neurons" (the layer's width), "activation"}. Needs `scored` to hold
    the two columns (score_tables(..., keep=the model's input columns))."""
    why = _two_numbers(model)
    if why:
        raise NotApplicable(why)
    names = [s["name"] for s in model.pre.specs]
    xs = [np.asarray(scored.columns[n], np.float64) for n in names]
    held = np.isfinite(xs[0]) & np.isfinite(xs[1])
    extent = []
    for x in xs:
        lo, hi = (float(np.min(x[held])), float(np.max(x[held]))) if held.any() else \
            (-1.0, 1.0)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        extent += [lo - pad, hi + pad]
    grid = _grid_inputs(model, names, extent, size)
    out = model.outputs(grid)
    proba = model.probabilities(out)
    if model.task == "binary":
        kind, label, values = "probability", f"P({model.pre.class_names[1]})", proba[:, 1]
    elif model.task == "multiclass":
        kind, label, values = "class", "predicted class", proba.argmax(axis=1)
    else:
        pred = model.pre.inverse_target(out[:, 0])
        kind, label, values = "value", f"predicted {model.pre.target}", pred
    first = model.net._forward_layers(np.asarray(_grid_inputs(model, names, extent,
                                                              neuron_size).dense))[0]
    width = first.shape[1]
    neurons = np.asarray(first[:, :MAX_NEURONS], np.float64).T.reshape(
        -1, neuron_size, neuron_size)
    step = max(1, -(-int(held.sum()) // MAX_POINTS))
    rows = np.flatnonzero(held)[::step]
    y = scored.y if scored.y.ndim == 1 else scored.y[:, 0]
    return {"inputs": names, "extent": tuple(extent),
            "map": np.asarray(values, np.float64).reshape(size, size), "map_kind": kind,
            "label": label, "names": None if model.task == "regression" else
            list(model.pre.class_names),
            "points": np.column_stack([xs[0][rows], xs[1][rows]]), "point_y": y[rows],
            "neurons": neurons, "n_neurons": width,
            "activation": model.net.activations[0]}


def _grid_inputs(model, names, extent, size):
    """The model's inputs (Encoded) for a size x size grid over `extent`, row by row
    from the bottom (y0) up, through the model's own preprocessing."""
    from neuralcli.table import NumberColumn, Table

    gx = np.linspace(extent[0], extent[1], size)
    gy = np.linspace(extent[2], extent[3], size)
    values = [np.tile(gx, size), np.repeat(gy, size)]
    table = Table(columns=names, data=[NumberColumn(v, np.zeros(v.size, bool))
                                       for v in values], path="<grid>")
    return model.encode_inputs(table)
