"""neuralcli eval: how a model does on labelled data, beside a trivial baseline."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.drift import strict_option
from neuralcli.cli.options import reading_kwargs, reading_options

EPILOG = """\b
Examples:
  neuralcli eval model.ncm test.csv
  neuralcli eval model.ncm test.csv --json > metrics.json
  neuralcli eval model.ncm test.csv --strict           # refuse unseen values
  neuralcli eval model.ncm test.csv --importance --repeats 10 --seed 1
"""


TOP_PAIRS = 10              # confused pairs listed when the matrix is too wide to show
SHORTEST_NAME = 8           # class names are cut no shorter than this to fit the width


def _rows(n):
    return "1 row" if n == 1 else f"{n:,} rows"


def _fitted(console, columns, rows, names=(0,)):
    """(rows, fits): rows with the class names in columns `names` cut to the longest
    that lets the table fit the console's width, but no shorter than SHORTEST_NAME, and
    whether the table then fits. Off a terminal columns are two spaces apart; rich pads
    each cell with a space on both sides and puts one between cells."""
    from neuralcli.cli.console import cell_text

    cells = [[cell_text(v) for v in r] for r in rows]
    widths = [max([len(str(c))] + [len(r[i]) for r in cells])
              for i, c in enumerate(columns)]
    gaps = 3 * len(columns) + 1 if console.rich_out else 2 * (len(columns) - 1)
    fixed = sum(w for i, w in enumerate(widths) if i not in names) + gaps

    def width(cut):
        return fixed + sum(max(len(str(columns[i])), min(cut, widths[i])) for i in names)

    cut = max([widths[i] for i in names], default=0)
    while width(cut) > console.width and cut > SHORTEST_NAME:
        cut -= 1
    short = _shortened({r[i] for r in rows for i in names}, cut)
    return ([[short.get(v, v) if i in names else v for i, v in enumerate(r)]
             for r in rows], width(cut) <= console.width)


def _shortened(names, cut):
    """{name: shorter} for the names longer than `cut` characters: their first and last
    characters around "\u2026", `cut` in all, split nearest the middle where the names
    stay apart (class names often differ only near one end)."""
    long = sorted(n for n in names if len(n) > cut)
    keep = cut - 1
    splits = sorted(range(keep + 1), key=lambda tail: (abs(2 * tail - keep), tail))
    for tail in splits:
        short = {n: n[:keep - tail] + "\u2026" + n[len(n) - tail:] for n in long}
        if len(set(short.values()) | (set(names) - set(long))) == len(names):
            return short
    return {n: n[:keep - splits[0]] + "\u2026" + n[len(n) - splits[0]:] for n in long}


def _say(console, text, heading=False):
    """Prose (or a heading) wrapped to the console's width; a word longer than a line
    (a path) is cut."""
    import textwrap

    for line in textwrap.wrap(text, console.width, break_on_hyphens=False):
        if heading:
            console.heading(line)
        else:
            console.line(line)


def _confusion(console, names, cm, support):
    """The confusion matrix: whole when it fits the width; else with the predicted
    classes by number; else the most confused pairs, largest first."""
    k = len(names)
    corner = "true \\ predicted"
    rows, fits = _fitted(console, [corner] + names,
                         [[names[i]] + cm[i] for i in range(k)], names=())
    if fits:
        console.table([corner] + names, rows, title="Confusion matrix")
        return
    columns = ["#", corner] + [str(i + 1) for i in range(k)]
    rows, fits = _fitted(console, columns, [[i + 1, names[i]] + cm[i] for i in range(k)],
                         names=(1,))
    if fits:
        console.table(columns, rows, title="Confusion matrix (predicted classes by #)")
        return
    pairs = sorted(((cm[i][j], i, j) for i in range(k) for j in range(k)
                    if i != j and cm[i][j]), key=lambda p: (-p[0], p[1], p[2]))
    wrong, total = sum(p[0] for p in pairs), sum(support)
    top = min(TOP_PAIRS, len(pairs))
    console.heading("Confusion matrix: " + ("no row is misclassified" if not pairs else
                                            "the most confused pair" if top == 1 else
                                            f"the {top} most confused pairs"))
    _say(console, f"{wrong:,} of {total:,} rows are misclassified, in {len(pairs):,} "
                  f"(true, predicted) pairs. --json gives the whole matrix of the {k} "
                  f"classes (model.confusion_matrix: a row per true class, a column per "
                  f"predicted class, in the order of \"classes\").")
    if not pairs:
        return
    columns = ["true class", "predicted", "rows", "of true class"]
    shown = [[names[i], names[j], n, f"{100 * n / support[i]:.0f}%"]
             for n, i, j in pairs[:top]]
    console.line()
    console.table(columns, _fitted(console, columns, shown, names=(0, 1))[0],
                  aligns=["left", "left", "right", "right"])


@click.command("eval", epilog=EPILOG, short_help="Evaluate a model on labelled data.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--importance", is_flag=True,
              help="Also each input column's permutation importance: how much the score "
                   "(accuracy, or R^2) drops when the column's values are shuffled.")
@click.option("--repeats", type=int, help="Shuffles per column for --importance "
                                          "(default: 5).")
@click.option("--seed", type=int, help="Seed of the shuffles for --importance (default: 0).")
@reading_options
@format_option(json_flag=True)
@strict_option
@click.pass_obj
def command(app, model_path, data, importance, repeats, seed, delimiter, na_values, decimal,
            thousands, encoding, strict):
    """Evaluate MODEL on DATA.csv (a .gz file, - for standard input, or a Parquet file),
    which must hold the target column.

    Classification: accuracy, log-loss, per-class precision, recall and F1, macro and
    weighted F1, the confusion matrix and ROC AUC. Regression: MSE, RMSE, MAE and R^2.
    Every figure stands beside a baseline that ignores the inputs (the majority class,
    or the training mean), so you can see whether the network beats the trivial answer.

    The rows are compared with the training data, column by column (values outside the
    training range, the shift of the mean, unseen categories): a note names the columns
    that drifted most, and --json gives every column's figures under "drift".

    With --importance, each input column's permutation importance: the drop of the
    accuracy (or R^2) when that column's values are shuffled across the rows, the mean
    over --repeats seeded shuffles with the smallest and largest drop."""
    from neuralcli import scoring
    from neuralcli.cli import drift, source
    from neuralcli.model import TrainedModel

    console = app.console
    if not importance:
        for name, given in (("--repeats", repeats), ("--seed", seed)):
            if given is not None:
                raise click.UsageError(f"{name} applies to --importance")
    elif repeats is not None and repeats < 1:
        raise click.BadParameter(f"must be at least 1, got {repeats}",
                                 param_hint="--repeats")
    model = TrainedModel.load(model_path)
    reading = reading_kwargs(delimiter, na_values, decimal, thousands, encoding)
    meter = drift.meter(model, model_path, strict)
    # the file a chunk at a time: only the targets and outputs are kept (and the encoded
    # inputs, for --importance)
    scored = scoring.score_tables(model, source.model_tables(console, data, reading, model),
                                  drift=meter, inputs=importance)
    for note in scored.notes:
        console.note(note)
    report = None if meter is None else meter.report()
    said = drift.note(report)
    if said:
        console.note(said)
    n_rows, path = scored.n_rows, scored.path
    got, base = scoring.figures(model, scored)
    pre = model.pre
    ranked = None
    if importance:
        ranked = _importance(model, scored, 5 if repeats is None else repeats,
                             0 if seed is None else seed)
    if model.task == "regression":
        if console.format == "json":
            console.json({"task": model.task, "rows": n_rows, "model": got,
                          "baseline": base, "baseline_kind": "mean of the training target",
                          "drift": report, **_importance_json(ranked)})
            return
        _say(console, f"{model.task}: {_rows(n_rows)} of {path}", heading=True)
        console.table(["metric", "model", "baseline (training mean)"],
                      [[k.upper() if k != "r2" else "R^2", got[k], base[k]]
                       for k in ("mse", "rmse", "mae", "r2")])
        _show_importance(console, ranked)
        return
    k = pre.n_classes
    names = pre.class_names
    if console.format == "json":
        console.json({"task": model.task, "rows": n_rows, "classes": names,
                      "model": got, "baseline": base,
                      "baseline_kind": "always the majority class", "drift": report,
                      **_importance_json(ranked)})
        return
    _say(console, f"{model.task} classification: {_rows(n_rows)} of {path}", heading=True)
    rows = [["accuracy", got["accuracy"], base["accuracy"]],
            ["log-loss", got["log_loss"], base["log_loss"]],
            ["macro F1", got["macro_f1"], base["macro_f1"]],
            ["weighted F1", got["weighted_f1"], base["weighted_f1"]],
            ["ROC AUC" + (" (one-vs-rest)" if k > 2 else ""), got["roc_auc"],
             base["roc_auc"]]]
    console.table(["metric", "model", "baseline (majority class)"], rows)
    console.line()
    columns = ["class", "precision", "recall", "F1", "support"]
    rows = [[names[i], got["precision"][i], got["recall"][i], got["f1"][i],
             got["support"][i]] for i in range(k)]
    console.table(columns, _fitted(console, columns, rows)[0], title="Per class")
    console.line()
    _confusion(console, names, [list(r) for r in got["confusion_matrix"]], got["support"])
    _show_importance(console, ranked)


def _importance(model, scored, repeats, seed):
    """(ranked, repeats, seed): the permutation importance of the encoded inputs of
    every chunk read (neuralcli.importance), most important first."""
    from neuralcli import scoring
    from neuralcli.cli.app import CliError

    try:
        return scoring.importance(model, scored, repeats=repeats, seed=seed), repeats, seed
    except ValueError as err:
        raise CliError(f"--importance: {err}") from None


def _importance_json(ranked):
    if ranked is None:
        return {}
    found, repeats, seed = ranked
    return {"importance": {
        "metric": found[0].metric, "repeats": repeats, "seed": seed,
        "interval": "smallest and largest drop over the repeats",
        "columns": [{"column": g.column, "mean": g.mean, "low": g.low, "high": g.high,
                     "drops": list(g.drops)} for g in found]}}


def _show_importance(console, ranked):
    if ranked is None:
        return
    found, repeats, seed = ranked
    metric = "R^2" if found[0].metric == "r2" else found[0].metric
    console.line()
    _say(console, f"Permutation importance: the drop of the {metric} when a column's "
                  f"values are shuffled ({repeats} shuffle{'s' if repeats != 1 else ''}, "
                  f"seed {seed})", heading=True)
    console.table(["column", "mean drop", "smallest", "largest"],
                  [[g.column, _signed(g.mean), _signed(g.low), _signed(g.high)]
                   for g in found])


def _signed(v):
    """A drop to four decimals, signed; one that rounds to zero reads 0.0000."""
    return "0.0000" if abs(v) < 5e-5 else f"{v:+.4f}"

