"""Input drift as predict and eval say it: the --strict option, the meter a command gives
every chunk of its file, and the one note naming the columns that drifted most (the
measures and thresholds are neuralcli.drift's)."""
import click

SHOWN = 3                   # drifted columns named in the note

STRICT_HELP = ("Refuse a row with a category not seen in training, or a value outside "
               "the training range by more than 10% of its width: an error naming the "
               "row, the column and the value.")


def strict_option(command):
    return click.option("--strict", is_flag=True, help=STRICT_HELP)(command)


def meter(model, model_path, strict):
    """The DriftMeter for the command's rows, or None for a model file without training
    statistics (--strict then is an error)."""
    from neuralcli.cli.app import CliError

    if model.has_drift_statistics:
        return model.drift_meter(strict=strict)
    if strict:
        raise CliError(f"{model_path} holds no training statistics to check the rows "
                       f"against (it was written by an earlier neuralcli); retrain it, or "
                       f"leave out --strict")
    return None


def _share(x):
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1g}%"


def _what(entry):
    """What a drifted column's entry says, the measures past their thresholds first."""
    if entry["kind"] == "text":
        return f"{_share(entry['unseen'])} unseen categories"
    limits = entry["thresholds"]
    parts = []
    shift = entry["mean_shift"]
    if shift is not None and abs(shift) > limits["mean_shift"]:
        parts.append(f"mean shifted {shift:+.2f} training sd")
    if entry["outside_range"] > limits["outside_range"]:
        parts.append(f"{_share(entry['outside_range'])} outside the training range")
    return ", ".join(parts)


def note(report):
    """The one note about a file's drift (a DriftMeter's report), or None when no column
    drifted past its thresholds."""
    from neuralcli.errors import show

    if report is None:
        return ("input drift is not measured: the model file holds no training "
                "statistics (it was written by an earlier neuralcli; retrain the model "
                "to measure it)")
    by_name = {e["column"]: e for e in report["columns"]}
    drifted = report["drifted"]
    if not drifted:
        return None
    named = ", ".join(f"{show(name)} ({_what(by_name[name])})" for name in drifted[:SHOWN])
    if len(drifted) > SHOWN:
        named += f" and {len(drifted) - SHOWN} more"
    return (f"input drift in {len(drifted)} of {len(report['columns'])} columns against "
            f"the training data: {named}")
