"""neuralcli datasets: the built-in data sets, listed or written as CSV."""
import click

from neuralcli.cli import format_option

EPILOG = """\b
Examples:
  neuralcli datasets                       # list them
  neuralcli datasets loan -o loan.csv
  neuralcli datasets spirals --rows 1000 --seed 3 -o spirals.csv
"""


@click.command("datasets", epilog=EPILOG, short_help="List or export built-in data sets.")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="CSV file to write (default, or -: standard output).")
@click.option("--rows", type=int, help="Number of rows (default: the set's own).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@format_option(json_flag=True)
@click.pass_obj
def command(app, name, output, rows, seed, force):
    """List the built-in data sets, or write NAME as CSV."""
    import os

    from neuralcli.cli.app import CliError
    from neuralcli.writer import write_csv
    from neuralcli.datasets import DATASETS

    console = app.console
    if name is None:
        if console.format == "json":
            console.json([{"name": d.name, "task": d.task, "description": d.description}
                          for d in DATASETS.values()])
            return
        console.table(["name", "task", "description"],
                      [[d.name, d.task, d.description] for d in DATASETS.values()],
                      title="Built-in data sets")
        console.note("write one as CSV with: neuralcli datasets NAME -o FILE.csv")
        return
    if name not in DATASETS:
        raise CliError(f"no built-in data set {name!r}; choose from {', '.join(DATASETS)}")
    if rows is not None and rows < 4:
        raise click.BadParameter(f"must be at least 4, got {rows}", param_hint="--rows")
    kw = {"seed": seed}
    if rows is not None:
        kw["n"] = rows
    X, y, features, target = DATASETS[name].make(**kw)
    table_rows = [list(map(float, x)) + [v.item() if hasattr(v, "item") else v]
                  for x, v in zip(X, y)]
    if output and output != "-":
        if os.path.exists(output) and not force:
            raise CliError(f"{output} already exists; pass --force to overwrite it")
        write_csv(output, features + [target], table_rows)
        console.note(f"wrote {len(table_rows):,} rows of {name} to {output}")
    else:
        write_csv(console.out, features + [target], table_rows)
