"""neuralcli inspect: what the reader and train's preprocessing make of a file."""
import click

from neuralcli.cli import format_option

from neuralcli.cli.options import (drop_option, impute_option, keep_id_option,
                                   max_categories_option, positive_int, reading_kwargs,
                                   reading_options, target_option, task_option)

SHOWN_COLUMNS = 50          # columns in the terminal's tables; --json gives them all
SHOWN_LINES = 50            # notes and problems listed in the terminal
SHOWN_TOP = 3               # categories in the terminal's values column

EPILOG = """\b
Examples:
  neuralcli inspect loan.csv
  neuralcli inspect sales.csv.gz --target revenue --drop order_id --head 5
  neuralcli inspect data.parquet --json

\b
--json prints one object: path, n_rows, n_columns, delimiter, header, encoding, target,
task, task_reason, inputs, problems, notes, columns (one object per column: name,
position, kind, format, missing, distinct, range, top, encoding, notes, problems) and
head; docs/inspect.md describes every key.
"""


@click.command("inspect", epilog=EPILOG, short_help="Show what train would make of a file.")
@click.argument("data", type=click.Path())
@target_option
@drop_option
@task_option
@impute_option
@reading_options
@max_categories_option
@keep_id_option
@click.option("--head", "head", type=int, default=0, show_default=True,
              help="Show the first N rows as parsed.")
@format_option(json_flag=True)
@click.pass_obj
def command(app, data, target, drop, task, impute, delimiter, na_values, decimal, thousands,
            encoding, max_categories, keep_id, head):
    """Show what neuralcli reads in DATA and what train would do with each column.

    DATA is a CSV file (also .gz, or - for standard input) or a Parquet file. For each
    column: the type detected (number and its format, date with or without a time of
    day, text), the missing and distinct counts, the range (numbers, dates) or the most
    frequent categories (text), and how train, given the same options, would encode it:
    a standardized number, date features, categories, left out as an ID, dropped, or the
    target with the task train would choose and why. Every cell that would stop train is
    reported with its column and row, all at once."""
    from neuralcli.cli import train
    from neuralcli.cli.app import fix_words
    from neuralcli.parquet import is_parquet, read_parquet
    from neuralcli.preprocess import check_max_categories
    from neuralcli.profile import profile
    from neuralcli.reader import read_table

    check_max_categories(max_categories)
    positive_int("--head", head, minimum=0)
    if data != "-" and is_parquet(data):
        table = read_parquet(data)
    else:
        table = read_table(data, **reading_kwargs(delimiter, na_values, decimal, thousands,
                                                  encoding))
    # fixes worded as train's options: inspect says what train would do
    result = profile(table, target=target, drop=drop, task=task, impute=impute,
                     max_categories=max_categories, keep=keep_id, head=head,
                     fix_words=fix_words(train.command))
    if app.console.format == "json":
        app.console.json(result)
        return
    show(app.console, result)


def show(console, result):
    """The result in the terminal: a summary line, a table of the columns, then the
    target, the problems train would stop on, the notes and the first rows."""
    from neuralcli.preprocess import summarize_notes
    from neuralcli.reader import DELIMITERS

    delim = result["delimiter"]
    how = "Parquet" if delim is None else (
        f"delimiter {DELIMITERS.get(delim, repr(delim))}, header "
        f"{'yes' if result['header'] else 'no'}, encoding {result['encoding']}")
    rows = "1 row" if result["n_rows"] == 1 else f"{result['n_rows']:,} rows"
    cols = "1 column" if result["n_columns"] == 1 else f"{result['n_columns']:,} columns"
    console.heading(f"{result['path']}: {rows}, {cols}; {how}")
    columns = result["columns"]
    shown = columns[:SHOWN_COLUMNS]
    console.table(["#", "column", "type", "missing", "distinct", "values", "train uses it as"],
                  [[c["position"], c["name"], _type(c), c["missing"], c["distinct"],
                    _values(c), _use(c)] for c in shown])
    if len(columns) > len(shown):
        console.line(f"... and {len(columns) - len(shown):,} more columns (all of them "
                     f"with --json)")
    console.line()
    inputs = "1 input" if result["inputs"] == 1 else f"{result['inputs']:,} inputs"
    console.pairs([("target", result["target"]),
                   ("task", result["task_reason"] or "none: the target has a problem"),
                   ("inputs", f"{inputs} to the network's first layer")])
    problems = result["problems"]
    if problems:
        console.line()
        stops = "1 problem" if len(problems) == 1 else f"{len(problems):,} problems"
        console.heading(f"train would stop on {stops} (it reports one at a time):")
        _listed(console, problems)
    notes = summarize_notes(result["notes"] + [n for c in columns for n in c["notes"]])
    if notes:
        console.line()
        console.heading("Notes")
        _listed(console, notes)
    if result["head"]:
        console.line()
        names = [c["name"] for c in shown]
        console.table(names, [[_cell(row[n]) for n in names] for row in result["head"]],
                      title=f"First {len(result['head'])} rows as parsed")


def _listed(console, lines):
    for line in lines[:SHOWN_LINES]:
        console.line(f"  {line}")
    if len(lines) > SHOWN_LINES:
        console.line(f"  ... and {len(lines) - SHOWN_LINES:,} more (all of them with --json)")


def _type(c):
    if c["kind"] == "number":
        return f"number ({c['format']})" if c["format"] else "number"
    if c["kind"] == "date":
        return c["format"]
    return "text"


def _values(c):
    from neuralcli.cli.console import cell_text

    r = c["range"]
    if c["kind"] == "number" and r:
        return (f"{cell_text(r['min'])} .. {cell_text(r['max'])}, mean "
                f"{cell_text(r['mean'])}")
    if c["kind"] == "date" and r:
        return f"{r['first']} .. {r['last']}"
    if c["top"]:
        top = ", ".join(f"{t['value']} ({t['count']:,})" for t in c["top"][:SHOWN_TOP])
        return top + (", ..." if c["distinct"] > SHOWN_TOP else "")
    return ""


def _use(c):
    e = c["encoding"]
    if c["problems"]:
        return ("target, " if e and e["use"] == "target" else "") + "stops train (below)"
    if e is None:
        return ""
    use = e["use"]
    if use == "standardized":
        return "standardized number"
    if use == "date":
        return f"date features ({e['inputs']} inputs)"
    if use == "categorical":
        k = e["categories"]
        return f"categorical, {k:,} categor{'y' if k == 1 else 'ies'}" + (
            " + other" if e["other"] else "")
    if use == "id":
        return "left out: looks like an ID"
    if use == "dropped":
        return "dropped (--drop)"
    return f"target: {e['task']}" if e["task"] else "target"


def _cell(v):
    """A parsed value as the head table shows it, exactly as parsed (a number as its
    shortest exact text, not rounded for display); missing as an empty cell."""
    from neuralcli.writer import number_text

    if v is None:
        return ""
    return number_text(v) if isinstance(v, float) else v
