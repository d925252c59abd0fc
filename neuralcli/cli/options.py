"""Parsers for option values, raising click's BadParameter (a usage error, exit 2), and
the option definitions that several commands share."""
import math

import click

from neuralcli.preprocess import IMPUTE_MODES, MAX_CATEGORIES
from neuralcli.training import TASK_CODES


def positive_int(name, value, minimum=1):
    if value is None:
        return None
    if value < minimum:
        raise click.BadParameter(f"must be at least {minimum}, got {value}",
                                 param_hint=name)
    return value


def positive_float(name, value):
    if value is None:
        return None
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive number, got {value}", param_hint=name)
    return value


def number_list(text, name, *, count=None, positive=False):
    """'a,b,c' -> [a, b, c] as floats: finite, positive when asked, and exactly `count`
    of them when given."""
    out = []
    for p in (p.strip() for p in str(text).split(",")):
        if not p:
            continue
        try:
            v = float(p)
        except ValueError:
            raise click.BadParameter(f"{p!r} is not a number; give comma-separated numbers",
                                     param_hint=name) from None
        if not math.isfinite(v):
            raise click.BadParameter(f"{p!r} is not a finite number", param_hint=name)
        if positive and v <= 0:
            raise click.BadParameter(f"{p} must be positive", param_hint=name)
        out.append(v)
    if not out:
        raise click.BadParameter("give at least one number", param_hint=name)
    if count is not None and len(out) != count:
        raise click.BadParameter(f"give {count} numbers separated by commas, got {len(out)}",
                                 param_hint=name)
    return out


def hidden_sizes(text):
    """'64,32' -> [64, 32]: whole numbers, their range left to the caller (train leaves
    it to model.Settings.validate)."""
    sizes = []
    for p in (p.strip() for p in str(text).split(",")):
        if not p:
            continue
        try:
            sizes.append(int(p))
        except ValueError:
            raise click.BadParameter(f"{p!r} is not a whole number; give layer widths like "
                                     f"64,32", param_hint="--hidden") from None
    return sizes


def class_weight(text):
    """'balanced', or 'label=weight,...'."""
    if text is None:
        return None
    if text.strip().lower() == "balanced":
        return "balanced"
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise click.BadParameter(f"{part!r}: give 'balanced' or label=weight pairs like "
                                     f"yes=3,no=1", param_hint="--class-weight")
        label, w = part.rsplit("=", 1)
        try:
            out[label.strip()] = float(w)
        except ValueError:
            raise click.BadParameter(f"weight {w!r} of {label!r} is not a number",
                                     param_hint="--class-weight") from None
    return out


# How train turns a file's columns into inputs; inspect takes the same options to show
# what train would do with them. Each is a decorator that adds one option.
target_option = click.option(
    "--target", help="Target column, by name or 1-based index (default: the last).")
drop_option = click.option(
    "--drop", multiple=True, help="Column to leave out, such as an ID (repeatable).")
task_option = click.option(
    "--task", type=click.Choice(["auto", *TASK_CODES]),
    default="auto", show_default=True,
    help="What to predict; auto decides from the target and says why.")
impute_option = click.option(
    "--impute", type=click.Choice(IMPUTE_MODES),
    help="Fill empty cells instead of stopping at the first one.")
max_categories_option = click.option(
    "--max-categories", type=int, default=MAX_CATEGORIES, show_default=True,
    help="Categories kept per text column (the most frequent); the rest share one "
         "'other' input.")
keep_id_option = click.option(
    "--keep-id", multiple=True, help="Use a column that looks like an ID (nearly all "
                                     "values distinct) anyway (repeatable).")


def reading_options(command):
    """The options that say how DATA is read, shared by train, eval and predict."""
    for option in reversed([
        click.option("--delimiter", help="Field separator (default: sniffed among , ; "
                                         "tab and |)."),
        click.option("--na-values", help="Comma-separated texts that mark a missing "
                                         "value, replacing the default list (NA, N/A, "
                                         "NaN, null, None, ?); empty cells are always "
                                         "missing."),
        click.option("--decimal", type=click.Choice([".", ","]),
                     help="Decimal mark of the numbers (default: detected per column)."),
        click.option("--thousands", help="Thousands separator of the numbers, such as , . "
                                         "or ' (default: detected per column)."),
        click.option("--encoding", help="Text encoding of DATA, such as latin-1 (default: "
                                        "UTF-8; UTF-16 and UTF-32 are known by their "
                                        "byte-order mark)."),
    ]):
        command = option(command)
    return command


def reading_kwargs(delimiter=None, na_values=None, decimal=None, thousands=None,
                   encoding=None):
    """read_table's keyword arguments from the reading options' values."""
    kw = {"delimiter": delimiter, "decimal": decimal, "thousands": thousands,
          "encoding": encoding}
    if na_values is not None:
        kw["na_values"] = tuple(v.strip() for v in na_values.split(",") if v.strip())
    return kw
