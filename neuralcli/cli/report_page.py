"""neuralcli report: a self-contained HTML page about a model and its scores on DATA."""
import click

from neuralcli.cli.options import reading_kwargs, reading_options

EPILOG = """\b
Examples:
  neuralcli report model.ncm test.csv -o report.html
"""


@click.command("report", epilog=EPILOG,
               short_help="Write an HTML page of a model's scores and figures.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The page to write, such as report.html.")
@reading_options
@click.pass_obj
def command(app, model_path, data, output, delimiter, na_values, decimal, thousands,
            encoding):
    """Write one HTML page about MODEL scored on DATA.csv (which must hold the target
    column): the scores beside the baseline, as eval gives them; the training curves and
    diagnostics; the confusion matrix, ROC, precision-recall and calibration curves (or
    the residuals of a regression model); each input column's permutation importance (as
    eval --importance gives it); the map of a model of two number inputs; the network and
    its settings. The page fetches nothing: its figures are inside it, and
    it prints. Needs matplotlib: pip install "neuralcli[plot]"."""
    import os

    from neuralcli import draw, htmlreport
    from neuralcli.cli.app import CliError
    from neuralcli.cli.plot import read_scored
    from neuralcli.model import TrainedModel

    try:
        draw.matplotlib()
    except draw.MissingExtra as err:
        raise CliError(str(err)) from None
    console = app.console
    model = TrainedModel.load(model_path)
    keep = [s["name"] for s in model.pre.specs] if len(model.pre.specs) == 2 else ()
    scored = read_scored(console, model, data, reading_kwargs(
        delimiter, na_values, decimal, thousands, encoding), keep, inputs=True)
    page = htmlreport.render(model, scored, model_path=str(model_path))
    # written whole or not at all: a page cut short by an error would still open
    tmp = f"{output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    console.note(f"wrote {output}")
