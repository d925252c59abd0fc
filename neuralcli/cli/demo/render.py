"""How a lesson reads: numbered steps with a line on why each matters, the numbers as
tables, bars, curves and maps, and a takeaway; or, in JSON, the steps, notes and result as
one object."""
import math
import textwrap

PLAIN_WIDTH = 80    # the widest line of plain text, which often lands in files and logs


class Lesson:
    """Writes one lesson through the invocation's console (app.console) as numbered
    steps: the title, one line on what is computed and why it matters, then the numbers.
    In JSON mode nothing is printed as it goes; the steps and their notes are kept and
    `finish` prints them with the result."""

    def __init__(self, app, name, options):
        from neuralcli.demos import LESSONS

        self.console = app.console
        self.json = self.console.format == "json"
        self.name, self.options = name, options
        self.description = LESSONS[name]
        self.steps = []
        if not self.json:
            self._heading(f"{name}: {self.description}")
            self._say(_options_text(options), style="dim")

    @property
    def width(self):
        """Columns to fill: the terminal's with rich, at most PLAIN_WIDTH in plain text."""
        if self.console.rich_out:
            return self.console.width
        return min(self.console.width, PLAIN_WIDTH)

    def _wrap(self, text, indent=""):
        """Plain text wrapped to the width; rich wraps to the terminal by itself."""
        if self.console.rich_out:
            return [text]
        return textwrap.wrap(text, self.width, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False) or [""]

    def _heading(self, text):
        for ln in self._wrap(text):
            self.console.heading(ln)

    def _say(self, text, style=None, indent=""):
        self.console.text("\n".join(self._wrap(text, indent)), style=style)

    def step(self, title, why):
        self.steps.append({"title": title, "why": why, "notes": []})
        if not self.json:
            self.console.line()
            self._heading(f"{len(self.steps)}. {title}")
            self._say(why, style="dim")

    def note(self, text, style=None, indent=""):
        """A conclusion drawn from the numbers, kept in JSON as the step's note; indent
        starts the continuation lines of wrapped plain text."""
        if self.steps:
            self.steps[-1]["notes"].append(text)
        if not self.json:
            self._say(text, style=style, indent=indent)

    def table(self, *args, **kw):
        if not self.json:
            self.console.table(*args, **kw)

    def pairs(self, *args, **kw):
        if not self.json:
            self.console.pairs(*args, **kw)

    def bar_table(self, *args, **kw):
        if not self.json:
            self.console.bar_table(*args, **kw)

    def curves(self, *args, **kw):
        if not self.json:
            if not self.console.rich_out:
                # room for the axis labels (up to 10 characters) and " |"
                kw.setdefault("width", min(72, self.width - 12))
            self.console.curves(*args, **kw)

    def class_map(self, probs, points):
        if self.json:
            return
        # the legend of a plain map is wrapped to the width like the lesson's other text
        self.console.class_map(probs, points,
                               width=None if self.console.rich_out else self.width)

    def lesson(self, text):
        """The closing line: what to remember."""
        self.summary = text
        if not self.json:
            self.console.line()
            self._say(f"Takeaway: {text}", style="bold")

    def finish(self, result):
        if self.json:
            self.console.json({"lesson": self.name, "description": self.description,
                               "options": self.options, "steps": self.steps,
                               "takeaway": getattr(self, "summary", None),
                               "result": result})


def _options_text(options):
    parts = []
    for k, v in options.items():
        if isinstance(v, dict):
            v = ",".join(f"{a}={b:g}" for a, b in v.items())
        elif isinstance(v, (list, tuple)):
            v = ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        elif isinstance(v, float):
            v = f"{v:g}"
        parts.append(f"{k.replace('_', '-')} {v}")
    return "(" + ", ".join(parts) + ")"


def g(v, digits=4):
    """A number for a sentence: compact, scientific when tiny or huge."""
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{max(1, digits - 2)}e}"
    return f"{v:.{digits}g}"
