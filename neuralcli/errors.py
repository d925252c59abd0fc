"""The one exception type for data a user can fix, the notes said about data, and how
values are quoted in them."""
import json

__all__ = ["DataError", "Note", "ColumnNote", "summarize_notes", "FIXES", "library_fix", "show",
           "listing", "column_label"]

SHOW_MAX = 40              # longest value quoted in full in a message
LIST_MAX = 8               # longest list of names/values quoted in full
FEW_NOTES = 3               # column notes of one kind said one by one; more share a line
NOTE_WIDTH = 79             # ... of at most this many characters (an 80-column terminal)


class DataError(Exception):
    """A data problem the user can fix. str() is one line: where, what, what to do.

    path: the source as the user named it (or None); row: the 1-based data row (1 = the
    first row after the header, as `explain --row` counts); line: the line in the file,
    given where no row is known yet (a parse error) or where it differs from the row;
    column: the column's name, or its 1-based index in a file without a header; hint:
    what to do about it, in the library's terms; fix: None, or a machine-readable remedy
    (kind, argument) that the hint's library wording stands for, such as ("drop", name),
    ("impute", None), ("target", None), ("task", "multiclass"): a front end words it as
    its own option where it has one (FIXES lists the kinds); setting: when the fault is
    an argument's value rather than the data, that argument's name, such as
    "max_categories", which the message then follows ("max_categories must be at least
    1, got 0"), so that a front end can say it of its own option."""

    def __init__(self, message, *, path=None, row=None, line=None, column=None, hint=None,
                 fix=None, setting=None):
        self.message = message
        self.setting = setting
        self.path = None if path is None else str(path)
        self.row = row
        self.line = line
        self.column = column
        self.hint = hint
        self.fix = fix
        super().__init__(str(self))

    def where(self):
        """The message without hint or fix: "path, row N, column "c": what"."""
        return self.worded(lambda kind, arg: None, hint=False)

    def __str__(self):
        return self.worded(library_fix)

    def worded(self, fix_words, *, hint=True):
        """The one line, with the fix worded by fix_words(kind, arg) (a front end words it
        as its own option, or returns None where it has none) after the hint."""
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(column_label(self.column))
        message = self.message if self.setting is None else f"{self.setting} {self.message}"
        text = f"{', '.join(where)}: {message}" if where else message
        if hint:
            remedy = fix_words(*self.fix) if self.fix else None
            advice = ", or ".join(a for a in (self.hint, remedy) if a)
            if advice:
                text = f"{text}; {advice}"
        return " ".join(text.splitlines())


class Note(str):
    """A sentence the user should hear about the data: a str, with `column` the name of
    the column it is about (None for the file as a whole), so a front end can show it
    beside that column."""

    def __new__(cls, text, column=None):
        self = super().__new__(cls, text)
        self.column = None if column is None else str(column)
        return self

    def __reduce__(self):
        return Note, (str(self), self.column)


# The remedies a DataError's `fix` can name, worded in the library's terms.
FIXES = {
    "drop": "drop column {arg} if it is not a feature (drop=[...])",
    "impute": "impute missing values (impute=\"mean\", \"median\" or \"most-frequent\")",
    "target": "choose another target column (target=...)",
    "task": "set task=\"{arg}\"",
    "keep_id": "keep column {arg} as a feature (keep=[...])",
    "na_values": "count {arg} as a missing value (na_values=[...])",
    "delimiter": "give the delimiter (delimiter=...), or leave it out to sniff it",
    "encoding": "give the file's encoding (encoding=\"{arg}\" or another)",
    "strict": "measure drift without strict=True to predict it all the same",
}


def library_fix(kind, arg):
    template = FIXES.get(kind)
    return None if template is None else template.format(arg=arg)


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


class ColumnNote(Note):
    """A Note about one column, of a kind that can repeat column after column: `many` is
    what such notes say together, with {n} for how many columns and {total} for the sum
    of their `count`s (missing cells, rows); notes with the same `many` are one kind."""

    def __new__(cls, text, column, many, count=0):
        self = super().__new__(cls, text, column)
        self.many, self.count = many, int(count)
        return self

    def __reduce__(self):
        return ColumnNote, (str(self), self.column, self.many, self.count)


def summarize_notes(notes, few=FEW_NOTES, width=NOTE_WIDTH):
    """The notes with each kind of ColumnNote that comes more than `few` times said in one
    line where its first one was: what they say together, then the columns' names, as
    many as fit in `width` characters, and how many more. Other notes pass unchanged."""
    kinds = {}
    for n in notes:
        if isinstance(n, ColumnNote):
            kinds.setdefault(n.many, []).append(n)
    out = []
    for n in notes:
        same = kinds.get(getattr(n, "many", None), ())
        if len(same) <= few:
            out.append(n)
        elif n is same[0]:
            lead = n.many.format(n=f"{len(same):,}", total=f"{sum(m.count for m in same):,}")
            names = _names_within([m.column for m in same], max(16, width - len(lead) - 2))
            out.append(Note(f"{lead}: {names}"))
    return out


def _names_within(names, room):
    """names joined by ", " in at most `room` characters, with "and N more" for those
    that do not fit; the first always shown, cut with "…" when it alone is too long."""
    used, shown = 0, 0
    for k, name in enumerate(names):
        more = len(names) - k - 1
        need = used + (2 if k else 0) + len(name) + (len(f" and {more:,} more") if more
                                                     else 0)
        if need > room:
            break
        used += (2 if k else 0) + len(name)
        shown += 1
    if shown == 0:
        tail = f" and {len(names) - 1:,} more" if len(names) > 1 else ""
        return names[0][:max(1, room - len(tail) - 1)] + "…" + tail
    text = ", ".join(names[:shown])
    return text if shown == len(names) else f"{text} and {len(names) - shown:,} more"
