"""Writing CSV files: a header and rows, comma-separated UTF-8 with '\\n' line ends."""
import csv
import os

import numpy as np

from neuralcli.errors import DataError

__all__ = ["write_csv"]


def number_text(v):
    """How a number reads in a CSV: integers without '.0', floats shortest round-trip."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2 ** 53 else repr(v)
    return str(v)


def write_csv(path_or_file, columns, rows):
    """Write a header and rows as comma-separated UTF-8 with '\\n' line ends to a path or
    an open text file. Numbers are written as their shortest exact text."""
    def emit(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow([str(c) for c in columns])
        for r in rows:
            w.writerow([c if isinstance(c, str) else number_text(c) for c in r])

    if hasattr(path_or_file, "write"):
        emit(path_or_file)
        return
    shown = os.fspath(path_or_file)
    if os.path.isdir(shown):
        raise DataError("cannot write a CSV: it is a directory", path=shown,
                        hint="give a file name")
    try:
        with open(shown, "w", encoding="utf-8", newline="") as f:
            emit(f)
    except OSError as err:
        directory = os.path.dirname(os.path.abspath(shown))
        hint = (f"directory {directory} does not exist" if not os.path.isdir(directory)
                else "check the path and its permissions")
        raise DataError(f"cannot write a CSV: {err.strerror or err}", path=shown,
                        hint=hint) from None
