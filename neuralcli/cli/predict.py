"""neuralcli predict: add the model's predictions to the rows of a CSV file."""
import click

from neuralcli.cli.options import reading_kwargs, reading_options

EPILOG = """\b
Examples:
  neuralcli predict model.ncm new.csv                  # CSV on stdout
  neuralcli predict model.ncm new.csv -o out.csv --keep customer_id
"""


@click.command("predict", epilog=EPILOG, short_help="Predict for the rows of a CSV file.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="CSV file to write (default: standard output).")
@click.option("--keep", multiple=True, help="Column to carry through, such as an ID "
                                            "(repeatable).")
@reading_options
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.pass_obj
def command(app, model_path, data, output, keep, delimiter, na_values, decimal, thousands,
            encoding, force):
    """Predict with MODEL for every row of DATA.csv (a .gz file, or - for standard input).

    Columns are matched by name, in any order; columns the model does not use are ignored
    with a note, and missing ones are an error naming them. The output has the kept
    columns (text as read, numbers as their shortest exact text, dates in ISO form), the
    prediction and, for classifiers, one probability column per class."""
    import os

    from neuralcli.cli.app import CliError
    from neuralcli.reader import read_table
    from neuralcli.writer import write_csv
    from neuralcli.model import TrainedModel

    console = app.console
    model = TrainedModel.load(model_path)
    table = read_table(data, **reading_kwargs(delimiter, na_values, decimal, thousands,
                                              encoding))
    for note in table.notes:
        console.note(note)
    kept = []
    for name in keep:
        j = table.find(name)
        if j is None:
            raise CliError(f"--keep names {name!r}, which is not a column of {table.path}; "
                           f"the columns are {', '.join(table.columns)}")
        kept.append(j)
    if output and os.path.exists(output) and not force:
        raise CliError(f"{output} already exists; pass --force to overwrite it")
    _, out, proba, pred = model.predict_table(table)
    for note in model.pre.last_notes:
        console.note(note)
    target = model.pre.target
    columns = [table.columns[j] for j in kept]
    pred_col = f"predicted_{target}"
    columns.append(pred_col)
    if proba is not None:
        labels = model.pre.label_names(pred)
        names = model.pre.class_names
        columns += [f"p_{n}" for n in names]
    kept_text = [cell_texts(table.data[j]) for j in kept]
    rows = []
    for i in range(table.n_rows):
        row = [texts[i] for texts in kept_text]
        if proba is not None:
            row.append(labels[i])
            row.extend(float(p) for p in proba[i])
        else:
            row.extend([float(v) for v in pred[i]] if pred.ndim == 2 else [float(pred[i])])
        rows.append(row)
    if proba is None and pred.ndim == 2:
        columns = columns[:-1] + [f"predicted_{target}_{k + 1}" for k in range(pred.shape[1])]
    if output:
        write_csv(output, columns, rows)
        console.note(f"wrote {len(rows):,} predictions to {output}")
    else:
        write_csv(console.out, columns, rows)


def cell_texts(column):
    """A column's values as text for the output: text as read, numbers as their shortest
    exact text, dates in ISO form, missing cells empty."""
    from neuralcli.preprocess import date_text, number_text

    if column.kind == "text":
        names = list(column.categories) + [""]
        return [names[c] for c in column.codes.tolist()]
    show = number_text if column.kind == "number" else date_text
    return ["" if gone else show(v)
            for v, gone in zip(column.values.tolist(), column.missing.tolist())]
