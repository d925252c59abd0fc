"""neuralcli predict: add the model's predictions to the rows of a CSV file."""
import click

from neuralcli.cli.drift import strict_option
from neuralcli.cli.options import reading_kwargs, reading_options

EPILOG = """\b
Examples:
  neuralcli predict model.ncm new.csv                  # CSV on stdout
  neuralcli predict model.ncm new.csv -o out.csv --keep customer_id
  neuralcli predict model.ncm new.csv --strict         # refuse unseen values
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
@strict_option
@click.pass_obj
def command(app, model_path, data, output, keep, delimiter, na_values, decimal, thousands,
            encoding, force, strict):
    """Predict with MODEL for every row of DATA.csv (a .gz file, - for standard input, or a
    Parquet file).

    Columns are matched by name, in any order; columns the model does not use are ignored
    with a note, and missing ones are an error naming them. The output has the kept
    columns (text as read, numbers as their shortest exact text, dates in ISO form), the
    prediction and, for classifiers, one probability column per class.

    The rows are compared with the training data, column by column (values outside the
    training range, the shift of the mean, unseen categories); a note on stderr names
    the columns that drifted most."""
    import contextlib
    import csv
    import os

    from neuralcli.cli import drift, source
    from neuralcli.cli.app import CliError
    from neuralcli.model import TrainedModel

    console = app.console
    model = TrainedModel.load(model_path)
    if output and os.path.exists(output) and not force:
        raise CliError(f"{output} already exists; pass --force to overwrite it")
    reading = reading_kwargs(delimiter, na_values, decimal, thousands, encoding)
    meter = drift.meter(model, model_path, strict)
    notes, written = [], 0
    # a file is written under a temporary name and renamed when complete, so an error
    # half way leaves no truncated output behind
    part = None if not output else f"{output}.part"
    try:
        with (open(part, "w", encoding="utf-8", newline="") if part else
              contextlib.nullcontext(console.out)) as f:
            writer = csv.writer(f, lineterminator="\n")
            kept = None
            for table in source.model_tables(console, data, reading, model):
                if kept is None:
                    kept = _kept(table, keep, CliError)
                rows = model.prediction_rows(table, drift=meter)
                notes += [n for n in model.pre.last_notes if n not in notes]
                if written == 0:
                    writer.writerow([table.columns[j] for j in kept]
                                    + model.prediction_columns())
                writer.writerows(cells + values
                                 for cells, values in zip(table.row_texts(kept), rows))
                written += table.n_rows
        if part:
            os.replace(part, output)
    finally:
        if part and os.path.exists(part):
            os.remove(part)
    for note in notes:
        console.note(note)
    said = drift.note(None if meter is None else meter.report())
    if said:
        console.note(said)
    if output:
        console.note(f"wrote {written:,} predictions to {output}")


def _kept(table, keep, error):
    kept = []
    for name in keep:
        j = table.find(name)
        if j is None:
            raise error(f"--keep names {name!r}, which is not a column of {table.path}; "
                        f"the columns are {', '.join(table.columns)}")
        kept.append(j)
    return kept
