"""neuralcli plot: one figure of a model as a PNG or SVG image."""
import click

from neuralcli.cli.options import reading_kwargs, reading_options
from neuralcli.plots import KINDS

EPILOG = """\b
Examples:
  neuralcli plot model.ncm --kind loss -o loss.png
  neuralcli plot model.ncm test.csv --kind roc -o roc.svg
  neuralcli plot model.ncm data.csv --kind boundary -o boundary.png

\b
Kinds:
""" + "\n".join(f"  {name:<20} {k.what}{' (needs DATA)' if k.needs_data else ''}"
                for name, k in KINDS.items())


def output_format(output, option="-o"):
    """"png" or "svg" from the output file's name, else a usage error of `option`."""
    suffix = str(output).rsplit(".", 1)[-1].lower() if "." in str(output) else ""
    if suffix not in ("png", "svg"):
        raise click.BadParameter(f"{output!r} must end in .png or .svg, the formats the "
                                 f"figure is written in", param_hint=option)
    return suffix


def read_scored(console, model, data, reading, keep=(), inputs=False):
    """The model's predictions over DATA, read a chunk at a time as eval reads it (with
    the encoded inputs when `inputs`)."""
    from neuralcli import scoring
    from neuralcli.cli import source

    scored = scoring.score_tables(model, source.model_tables(console, data, reading, model),
                                  keep=keep, inputs=inputs)
    for note in scored.notes:
        console.note(note)
    return scored


@click.command("plot", epilog=EPILOG, short_help="Draw a figure of a model as an image.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", required=False, type=click.Path())
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), metavar="KIND",
              help="What to draw (see Kinds below).")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The image to write: FILE.png or FILE.svg.")
@reading_options
@click.pass_obj
def command(app, model_path, data, kind, output, delimiter, na_values, decimal, thousands,
            encoding):
    """Draw one KIND of figure of MODEL into an image: from its training history (loss,
    lr, gradients, dead), or from its predictions over DATA.csv, which must hold the
    target column (the other kinds). Needs matplotlib: pip install "neuralcli[plot]"."""
    from neuralcli import draw, plots
    from neuralcli.cli.app import CliError
    from neuralcli.model import TrainedModel

    fmt = output_format(output)
    try:
        draw.matplotlib()
    except draw.MissingExtra as err:
        raise CliError(str(err)) from None
    spec = KINDS[kind]
    console = app.console
    model = TrainedModel.load(model_path)
    try:
        plots.check(kind, model)
    except plots.NotApplicable as err:
        raise CliError(f"{model_path}: {err}") from None
    if spec.needs_data and data is None:
        raise click.UsageError(f"--kind {kind} draws the model's predictions and needs "
                               f"DATA: neuralcli plot {model_path} DATA.csv --kind {kind} "
                               f"-o {output}")
    scored = None
    if spec.needs_data:
        keep = [s["name"] for s in model.pre.specs] if kind == "boundary" else ()
        scored = read_scored(console, model, data, reading_kwargs(
            delimiter, na_values, decimal, thousands, encoding), keep,
            inputs=kind == "importance")
    elif data is not None:
        console.note(f"--kind {kind} draws the model's history; DATA is not read")
    try:
        fig = draw.figure(kind, model, scored)
    except ValueError as err:      # importance of fewer than two rows
        raise CliError(f"--kind {kind}: {err}") from None
    draw.save(fig, output, fmt)
    console.note(f"wrote {output}")
