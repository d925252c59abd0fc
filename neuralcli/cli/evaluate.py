"""neuralcli eval: how a model does on labelled data, beside a trivial baseline."""
import click

from neuralcli.cli.options import reading_kwargs, reading_options

EPILOG = """\b
Examples:
  neuralcli eval model.ncm test.csv
  neuralcli eval model.ncm test.csv --json > metrics.json
"""


def _rows(n):
    return "1 row" if n == 1 else f"{n:,} rows"


@click.command("eval", epilog=EPILOG, short_help="Evaluate a model on labelled data.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@reading_options
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def command(app, model_path, data, delimiter, na_values, decimal, thousands, encoding,
            as_json):
    """Evaluate MODEL on DATA.csv (a .gz file, - for standard input, or a Parquet file),
    which must hold the target column.

    Classification: accuracy, log-loss, per-class precision, recall and F1, macro and
    weighted F1, the confusion matrix and ROC AUC. Regression: MSE, RMSE, MAE and R^2.
    Every figure stands beside a baseline that ignores the inputs (the majority class,
    or the training mean), so you can see whether the network beats the trivial answer."""
    import numpy as np

    from neuralcli import metrics
    from neuralcli.cli import source
    from neuralcli.model import TrainedModel

    console = app.console
    model = TrainedModel.load(model_path)
    reading = reading_kwargs(delimiter, na_values, decimal, thousands, encoding)
    # the file a chunk at a time: only the targets and outputs are kept
    ys, probas, preds, notes = [], [], [], []
    n_rows, path = 0, data
    for table in source.model_tables(console, data, reading, model):
        _, out, proba, pred = model.predict_table(table)
        notes += [n for n in model.pre.last_notes if n not in notes]
        ys.append(model.pre.target_of(table, scaled=False) if model.task == "regression"
                  else model.pre.target_of(table))
        probas.append(proba)
        preds.append(pred)
        n_rows, path = n_rows + table.n_rows, table.path
    for note in notes:
        console.note(note)
    pred = np.concatenate(preds)
    proba = None if probas[0] is None else np.concatenate(probas)
    pre = model.pre
    if model.task == "regression":
        y = np.concatenate(ys)
        got = metrics.regression_report(y, pred)
        base = metrics.baseline_regression(y, mean=pre.target_mean if pre.scale_target
                                           else None)
        if as_json:
            console.json({"task": model.task, "rows": n_rows, "model": got,
                          "baseline": base, "baseline_kind": "mean of the training target"})
            return
        console.heading(f"{model.task}: {_rows(n_rows)} of {path}")
        console.table(["metric", "model", "baseline (training mean)"],
                      [[k.upper() if k != "r2" else "R^2", got[k], base[k]]
                       for k in ("mse", "rmse", "mae", "r2")])
        return
    y = np.concatenate(ys)
    k = pre.n_classes
    got = metrics.classification_report(y, proba, k)
    base = metrics.baseline_classification(y, k, prior=model.info.get("class_prior"))
    names = pre.class_names
    if as_json:
        console.json({"task": model.task, "rows": n_rows, "classes": names,
                      "model": got, "baseline": base,
                      "baseline_kind": "always the majority class"})
        return
    console.heading(f"{model.task} classification: {_rows(n_rows)} of {path}")
    rows = [["accuracy", got["accuracy"], base["accuracy"]],
            ["log-loss", got["log_loss"], base["log_loss"]],
            ["macro F1", got["macro_f1"], base["macro_f1"]],
            ["weighted F1", got["weighted_f1"], base["weighted_f1"]],
            ["ROC AUC" + (" (one-vs-rest)" if k > 2 else ""), got["roc_auc"],
             base["roc_auc"]]]
    console.table(["metric", "model", "baseline (majority class)"], rows)
    console.line()
    console.table(["class", "precision", "recall", "F1", "support"],
                  [[names[i], got["precision"][i], got["recall"][i], got["f1"][i],
                    got["support"][i]] for i in range(k)], title="Per class")
    console.line()
    console.table(["true \\ predicted"] + names,
                  [[names[i]] + list(got["confusion_matrix"][i]) for i in range(k)],
                  title="Confusion matrix")

