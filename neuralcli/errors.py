"""The one exception type for data a user can fix, and how values are quoted in it."""
import json

__all__ = ["DataError", "show", "listing", "column_label"]

SHOW_MAX = 40              # longest value quoted in full in a message
LIST_MAX = 8               # longest list of names/values quoted in full


class DataError(Exception):
    """A data problem the user can fix. str() is one line: where, what, what to do.

    path: the source as the user named it (or None); row: the 1-based data row (1 = the
    first row after the header, as `explain --row` counts); line: the line in the file,
    given where no row is known yet (a parse error) or where it differs from the row;
    column: the column's name, or its 1-based index in a file without a header; hint:
    what to do about it, in the library's terms (the CLI words it as its options)."""

    def __init__(self, message, *, path=None, row=None, line=None, column=None, hint=None):
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __str__(self):
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(column_label(self.column))
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        return " ".join(text.splitlines())


def column_label(column):
    return f"column {column}" if isinstance(column, int) else f"column {show(column)}"


def show(value):
    """A value quoted for a one-line message: escapes visible, long values cut."""
    value = str(value)
    if len(value) > SHOW_MAX:
        value = value[:SHOW_MAX - 1] + "…"
    return json.dumps(value, ensure_ascii=False)


def listing(items, quote=False, limit=LIST_MAX):
    items = [show(i) if quote else str(i) for i in items]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return ", ".join(items)
