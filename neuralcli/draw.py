"""Figures drawn with matplotlib (the optional extra neuralcli[plot]) from the numbers of
neuralcli.plots: one function per kind, each returning a matplotlib Figure, and save()
and svg_text() to write one out. Figures are made without pyplot, on the Agg canvas, so
no window or display is ever involved."""
import io

import numpy as np

from neuralcli import plots

EXTRA = 'pip install "neuralcli[plot]"'
FORMATS = ("png", "svg")

# the colours of a two-class map: TensorFlow Playground's orange (negative) and blue
NEGATIVE = "#f59322"
POSITIVE = "#0877bd"
TRAIN = "#0877bd"
VALIDATION = "#e8710a"
BEST = "#5f6368"
# a light grid and no top or right frame: the figures read as one family on the page
STYLE = {"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
         "grid.color": "#dddddd", "grid.linewidth": 0.6, "font.size": 9,
         "axes.titlesize": 10, "axes.titleweight": "bold", "legend.frameon": False,
         "svg.hashsalt": "neuralcli", "svg.fonttype": "path"}


class MissingExtra(Exception):
    """matplotlib is not installed; str() names the extra that brings it."""


def matplotlib():
    """The matplotlib module, or MissingExtra naming the extra."""
    try:
        import matplotlib as mpl
    except ImportError:
        raise MissingExtra(f"drawing figures needs matplotlib: {EXTRA}") from None
    return mpl


def _figure(width=6.4, height=4.0):
    matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styled(draw):
    """Run a drawing function in the house style."""
    def run(*args, **kw):
        mpl = matplotlib()
        with mpl.rc_context(STYLE):
            return draw(*args, **kw)
    run.__name__ = draw.__name__
    run.__doc__ = draw.__doc__
    return run


def save(fig, path, fmt):
    """Write fig to `path` as "png" or "svg", with no date or software stamp, so the
    same figure gives the same file."""
    matplotlib()
    with matplotlib().rc_context(STYLE):
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, dpi=150, metadata=meta)


def svg_text(fig):
    """The figure as SVG text, for a page to hold."""
    buf = io.BytesIO()
    save(fig, buf, "svg")
    return buf.getvalue().decode("utf-8")


# ------------------------------------------------------------------ history

@_styled
def loss(curves, title="Loss per epoch"):
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(curves["epoch"], curves["train"], color=TRAIN, label="training")
    if curves["val"] is not None:
        ax.plot(curves["epoch"], curves["val"], color=VALIDATION, label="validation")
    best = curves["best_epoch"]
    if best and 1 <= best <= len(curves["epoch"]):
        series = curves["val"] if curves["monitor"] == "val_loss" and \
            curves["val"] is not None else curves["train"]
        at = int(np.searchsorted(curves["epoch"], best))
        if at < len(series) and curves["epoch"][at] == best:
            ax.axvline(best, color=BEST, linestyle="--", linewidth=0.8)
            ax.plot([best], [series[at]], "o", color=BEST,
                    label=f"best epoch {best} ({curves['monitor']} {series[at]:.4g})")
    _log_if_wide(ax, curves["train"], curves["val"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardized target)" if curves["scaled"] else "loss")
    ax.set_title(title)
    ax.legend()
    return fig


def _log_if_wide(ax, *series):
    """A log scale when the values span more than two decades (a loss that falls fast)."""
    values = np.concatenate([np.asarray(s, np.float64) for s in series if s is not None])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() > 100 * values.min():
        ax.set_yscale("log")


@_styled
def learning_rate(curve):
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    ax.plot(curve["epoch"], curve["lr"], color=TRAIN, drawstyle="steps-mid")
    _log_if_wide(ax, curve["lr"])
    if ax.get_yscale() == "linear":
        ax.set_ylim(0, 1.1 * float(np.nanmax(curve["lr"])) or 1.0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("Learning rate per epoch")
    return fig


def _layer_lines(ax, d, name, log=False):
    """One line per layer that has a value of `name`; whether any was drawn."""
    drawn = False
    for j, layer in enumerate(d["layers"]):
        values = d[name][:, j]
        if np.all(np.isnan(values)):
            continue
        ax.plot(d["epoch"], values, label=layer, color=f"C{j % 10}")
        drawn = True
    if drawn and log:
        positive = d[name][np.isfinite(d[name]) & (d[name] > 0)]
        if positive.size:
            ax.set_yscale("log")
    return drawn


@_styled
def gradients(d):
    fig = _figure(6.4, 7.2)
    axes = fig.subplots(3, 1, sharex=True)
    for ax, name, label, title, log in (
            (axes[0], "grad_rms", "gradient RMS", "Gradient RMS per layer", True),
            (axes[1], "update_ratio", "update / weight", "Update-to-weight ratio per layer",
             True),
            (axes[2], "weight_norm", "weight norm", "Weight norm per layer", False)):
        _layer_lines(ax, d, name, log=log)
        ax.set_ylabel(label)
        ax.set_title(title)
    axes[0].legend(fontsize=8, ncols=2)
    axes[-1].set_xlabel("epoch")
    return fig


@_styled
def dead(d):
    panels = [(n, t) for n, t in (("dead", "Dead units (ReLU family) per layer"),
                                  ("saturated", "Saturated units (sigmoid, tanh) per layer"))
              if not np.all(np.isnan(d[n]))]
    fig = _figure(6.4, 3.4 * len(panels))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, (name, title) in zip(axes, panels):
        _layer_lines(ax, d, name)
        ax.set_ylim(-0.03, 1.03)
        ax.yaxis.set_major_formatter(_percent())
        ax.set_ylabel("share of the layer's units")
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("epoch")
    return fig


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


# ------------------------------------------------------------------ predictions

@_styled
def confusion(c):
    names, cm = c["names"], c["matrix"]
    k = len(names)
    side = min(9.0, 2.6 + 0.45 * k)
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot()
    totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{cm[i, j]:,}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.55 else "#202124")
    ticks = range(k)
    short = [n if len(n) <= 14 else n[:13] + "\u2026" for n in map(str, names)]
    ax.set_xticks(ticks, short, rotation=45 if k > 4 else 0, ha="right" if k > 4 else
                  "center")
    ax.set_yticks(ticks, short)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (counts)")
    fig.colorbar(image, ax=ax, format=_percent(), shrink=0.8, label="share of the true class")
    return fig


def _left_out(ax, left):
    if left:
        ax.text(0.99, 0.01, f"not drawn: {len(left)} more classes", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color=BEST)


@_styled
def roc(r):
    fig = _figure(5.6, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=BEST, linestyle=":", linewidth=0.8,
            label="chance (AUC 0.5)")
    one = len(r["curves"]) == 1
    for i, c in enumerate(r["curves"]):
        ax.plot(c["fpr"], c["tpr"], color=POSITIVE if one else f"C{i % 10}",
                label=f"class {c['label']} (AUC {c['auc']:.3f})")
    _left_out(ax, r["left_out"])
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve" if one else "ROC curves, one class against the rest")
    ax.legend(loc="lower right", fontsize=8)
    return fig


@_styled
def precision_recall(r):
    fig = _figure(5.6, 5.0)
    ax = fig.add_subplot()
    one = len(r["curves"]) == 1
    for i, c in enumerate(r["curves"]):
        colour = POSITIVE if one else f"C{i % 10}"
        ax.plot(c["recall"], c["precision"], color=colour, drawstyle="steps-post",
                label=f"class {c['label']} (AP {c['ap']:.3f})")
        if one:
            ax.axhline(c["share"], color=BEST, linestyle=":", linewidth=0.8,
                       label=f"no skill (share {c['share']:.3f})")
    _left_out(ax, r["left_out"])
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall curve" if one else
                 "Precision-recall curves, one class against the rest")
    ax.legend(loc="lower left", fontsize=8)
    return fig


@_styled
def calibration(c):
    fig = _figure(5.6, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color=BEST, linestyle=":", linewidth=0.8,
             label="perfectly calibrated")
    top.plot(c["predicted"], c["observed"], "o-", color=POSITIVE, label="model")
    top.set_xlim(-0.01, 1.01)
    top.set_ylim(-0.01, 1.01)
    top.set_ylabel("observed share")
    top.set_title(f"Calibration: {c['what']}")
    top.legend(loc="upper left", fontsize=8)
    width = 1.0 / c["bins"]
    edges = np.floor(np.clip(c["predicted"], 0, 1 - 1e-12) / width) * width
    bottom.bar(edges, c["count"], width=width, align="edge", color=POSITIVE, alpha=0.5)
    bottom.set_xlabel(f"predicted probability ({c['what']}, {c['bins']} bins)")
    bottom.set_ylabel("rows")
    return fig


def _panels(n, width=5.4, height=4.4):
    fig = _figure(width * min(n, 2), height * ((n + 1) // 2))
    axes = np.atleast_1d(fig.subplots((n + 1) // 2, min(n, 2))).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


@_styled
def residuals(outputs):
    fig, axes = _panels(len(outputs))
    for ax, o in zip(axes, outputs):
        res = o["actual"] - o["predicted"]
        ax.scatter(o["predicted"], res, s=6, alpha=0.5, color=POSITIVE, linewidths=0)
        ax.axhline(0, color=BEST, linewidth=0.8)
        ax.set_xlabel(f"predicted {o['label']}")
        ax.set_ylabel("residual (actual - predicted)")
        ax.set_title(f"Residuals of {o['label']}")
    return fig


@_styled
def predicted_vs_actual(outputs):
    fig, axes = _panels(len(outputs))
    for ax, o in zip(axes, outputs):
        ax.scatter(o["actual"], o["predicted"], s=6, alpha=0.5, color=POSITIVE,
                   linewidths=0)
        lo = float(min(o["actual"].min(), o["predicted"].min()))
        hi = float(max(o["actual"].max(), o["predicted"].max()))
        ax.plot([lo, hi], [lo, hi], color=BEST, linestyle=":", linewidth=0.8,
                label="predicted = actual")
        ax.set_xlabel(f"actual {o['label']}")
        ax.set_ylabel(f"predicted {o['label']}")
        ax.set_title(f"Predicted against actual {o['label']}")
        ax.legend(loc="upper left", fontsize=8)
    return fig


# ------------------------------------------------------------------ the boundary map

def _two_colour_map():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("playground", [NEGATIVE, "#ffffff", POSITIVE])


@_styled
def boundary(b):
    n = b["neurons"].shape[0]
    cols = min(8, max(n, 1))
    rows = -(-n // cols)
    fig = _figure(7.2, 5.6 + 1.1 * rows + (0.3 if n else 0))
    top, bottom = fig.subfigures(2, 1, height_ratios=[5.6, 1.1 * rows + 0.3]) if n else \
        (fig, None)
    ax = top.add_subplot()
    extent = b["extent"]
    pts, py = b["points"], b["point_y"]
    if b["map_kind"] == "probability":
        image = ax.imshow(b["map"], origin="lower", extent=extent, aspect="auto",
                          cmap=_two_colour_map(), vmin=0, vmax=1, alpha=0.75)
        ax.contour(np.linspace(extent[0], extent[1], b["map"].shape[1]),
                   np.linspace(extent[2], extent[3], b["map"].shape[0]), b["map"],
                   levels=[0.5], colors=BEST, linewidths=0.8)
        for k, colour in ((0, NEGATIVE), (1, POSITIVE)):
            held = py == k
            ax.scatter(pts[held, 0], pts[held, 1], s=9, color=colour, edgecolors="white",
                       linewidths=0.4, label=str(b["names"][k]))
        top.colorbar(image, ax=ax, label=b["label"], shrink=0.9)
        ax.legend(loc="upper right", fontsize=8, frameon=True)
    elif b["map_kind"] == "class":
        from matplotlib.colors import ListedColormap

        k = len(b["names"])
        colours = [f"C{i % 10}" for i in range(k)]
        ax.imshow(b["map"], origin="lower", extent=extent, aspect="auto",
                  cmap=ListedColormap(colours), vmin=-0.5, vmax=k - 0.5, alpha=0.35,
                  interpolation="nearest")
        for i in range(k):
            held = py == i
            ax.scatter(pts[held, 0], pts[held, 1], s=9, color=colours[i],
                       edgecolors="white", linewidths=0.4, label=str(b["names"][i]))
        ax.legend(loc="upper right", fontsize=8, frameon=True)
    else:
        image = ax.imshow(b["map"], origin="lower", extent=extent, aspect="auto",
                          cmap="viridis", alpha=0.8)
        ax.scatter(pts[:, 0], pts[:, 1], s=9, c=py, cmap="viridis", edgecolors="white",
                   linewidths=0.4, vmin=np.nanmin(b["map"]), vmax=np.nanmax(b["map"]))
        top.colorbar(image, ax=ax, label=b["label"], shrink=0.9)
    ax.grid(False)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(b["inputs"][0])
    ax.set_ylabel(b["inputs"][1])
    if b["map_kind"] == "value":
        ax.set_title(f"The model's map: {b['label']}; points: the data's values")
    else:
        ax.set_title(f"The model's map: {b['label']}, with the data's points")
    cmap = _two_colour_map()
    if not n:
        return fig
    smalls = np.atleast_1d(bottom.subplots(rows, cols)).ravel()
    for i, small in enumerate(smalls):
        small.set_xticks([])
        small.set_yticks([])
        small.grid(False)
        if i >= n:
            small.set_visible(False)
            continue
        values = b["neurons"][i]
        top_value = float(np.max(np.abs(values))) or 1.0
        small.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=-top_value,
                     vmax=top_value)
        for side in ("top", "right"):
            small.spines[side].set_visible(True)
        small.set_title(f"neuron {i + 1}", fontsize=7, fontweight="normal")
    more = "" if b["n_neurons"] <= n else f" (the first {n} of {b['n_neurons']})"
    bottom.suptitle(f"First-layer neurons{more}: each one's {b['activation']} output over "
                    f"the same plane (blue positive, orange negative)", fontsize=8)
    return fig


# most columns drawn in the importance chart; the rest are named in a note
MAX_COLUMNS = 30


@_styled
def importance(imp):
    """Permutation importance: one bar per column (the mean drop), most important at the
    top, with the interval over the repeats as a whisker."""
    cols = imp["columns"][:MAX_COLUMNS]
    n = len(cols)
    fig = _figure(6.4, 1.4 + 0.32 * max(n, 3))
    ax = fig.add_subplot()
    at = np.arange(n)[::-1]
    means = np.array([c["mean"] for c in cols])
    lows = np.array([c["low"] for c in cols])
    highs = np.array([c["high"] for c in cols])
    ax.barh(at, means, color=[POSITIVE if m > 0 else NEGATIVE for m in means], alpha=0.85,
            height=0.6)
    ax.errorbar(means, at, xerr=[means - lows, highs - means], fmt="none", ecolor=BEST,
                elinewidth=1, capsize=3)
    ax.axvline(0, color=BEST, linewidth=0.8)
    names = [c["column"] if len(c["column"]) <= 24 else c["column"][:23] + "\u2026"
             for c in cols]
    ax.set_yticks(at, names)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"drop in {imp['metric']} when the column is shuffled "
                  f"(whiskers: smallest and largest drop)")
    ax.set_title(f"Permutation importance ({imp['repeats']} shuffles, seed {imp['seed']})")
    if len(imp["columns"]) > n:
        ax.text(0.99, 0.01, f"not drawn: {len(imp['columns']) - n} more columns",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color=BEST)
    return fig


DRAW = {
    "loss": loss, "lr": learning_rate, "gradients": gradients, "dead": dead,
    "confusion": confusion, "roc": roc, "pr": precision_recall, "calibration": calibration,
    "residuals": residuals, "predicted-vs-actual": predicted_vs_actual,
    "boundary": boundary, "importance": importance,
}


def figure(kind, model, scored=None):
    """The figure of `kind` (a name of plots.KINDS) for `model`, from `scored` (its
    predictions over a data set, neuralcli.scoring.Scored, with the encoded inputs kept
    for "importance") for the kinds that need data.
    plots.NotApplicable when the kind does not apply to the model; MissingExtra without
    matplotlib."""
    matplotlib()
    plots.check(kind, model)
    numbers = {
        "loss": lambda: plots.loss_curves(model),
        "lr": lambda: plots.lr_curve(model),
        "gradients": lambda: plots.diagnostics(model),
        "dead": lambda: plots.diagnostics(model),
        "confusion": lambda: plots.confusion(model, scored),
        "roc": lambda: plots.roc(model, scored),
        "pr": lambda: plots.precision_recall(model, scored),
        "calibration": lambda: plots.calibration(model, scored),
        "residuals": lambda: plots.regression_points(model, scored),
        "predicted-vs-actual": lambda: plots.regression_points(model, scored),
        "boundary": lambda: plots.boundary(model, scored),
        "importance": lambda: plots.importance(model, scored),
    }[kind]()
    return DRAW[kind](numbers)
