"""All terminal output of the CLI: results on stdout, progress and messages on stderr.

With a terminal and colour, output goes through rich (tables, live progress). Off a
terminal, or with --no-color, everything is plain text with no control characters, so
logs and files stay clean. Commands describe what to show (titles, columns, rows, key and
value pairs); only this module builds rich objects.

A console writes its results in one format, fixed when it is built: "rich" (colour where
the terminal has it, else plain text), "plain" (text only, on stdout and stderr alike),
"json" (results as JSON through .json(); messages and progress on stderr as ever) or
"markdown" (tables as Markdown pipe tables, text as it is). A command's --format option
asks for one with Console.with_format."""
import json
import math
import os
import sys
import time


_CONTROL = {c: f"\\x{c:02x}" for c in list(range(0x20)) + list(range(0x7f, 0xa0))}
_CONTROL_KEEP_NEWLINE = {c: v for c, v in _CONTROL.items() if c != 0x0a}


def _clean(text, newlines=False):
    """Text with control characters (ESC, BEL, CR...) written as \\xNN escapes, so what
    a data file holds can neither colour, move nor clear the terminal; newlines kept only
    where asked."""
    return str(text).translate(_CONTROL_KEEP_NEWLINE if newlines else _CONTROL)


FORMATS = ("rich", "plain", "json", "markdown")


def _plain_table(title, columns, rows, aligns):
    """Columns padded with spaces; numbers right-aligned."""
    cells = [[_clean(c) for c in columns]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    if title:
        out.append(title)
    for k, r in enumerate(cells):
        parts = []
        for i, v in enumerate(r):
            right = aligns[i] == "right"
            parts.append(v.rjust(widths[i]) if right else v.ljust(widths[i]))
        out.append("  ".join(parts).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _markdown_table(title, columns, rows):
    """A pipe table, as GitHub renders it, under its title and a blank line."""
    def cell(v):
        return _fmt(v).replace("|", "\\|")

    out = [_clean(title), ""] if title else []
    out.append("| " + " | ".join(cell(c) for c in columns) + " |")
    out.append("|" + "---|" * len(columns))
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _fmt(v):
    if isinstance(v, bool) or v is None:
        return "-" if v is None else ("yes" if v else "no")
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e5 or a < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4f}".rstrip("0").rstrip(".") if a < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return _clean(v)


def cell_text(v):
    """How a value reads in a table cell (numbers grouped or rounded, None as "-"), for
    a command that puts several values in one cell."""
    return _fmt(v)


class Console:
    """The one place the CLI writes to the terminal."""

    def __init__(self, color=None, quiet=False, out=None, err=None, fmt="rich"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color, self.quiet, self.format = color, quiet, fmt
        no_color_env = "NO_COLOR" in os.environ
        # results are rich only in the rich format; messages and progress in any format
        # but plain
        self.rich_out = fmt == "rich" and bool(color if color is not None else
                                               (not no_color_env and _isatty(self.out)))
        self.rich_err = fmt != "plain" and bool(color if color is not None else
                                                (not no_color_env and _isatty(self.err)))
        self._out_console = None
        self._err_console = None

    def with_format(self, fmt):
        """A console to the same streams, with the same colour and quiet settings, that
        writes its results in `fmt` (this one when it already does)."""
        if fmt == self.format:
            return self
        return Console(color=self.color, quiet=self.quiet, out=self.out, err=self.err,
                       fmt=fmt)

    # -------------------------------------------------------------- rich consoles

    def _rich(self, stream):
        from rich.console import Console as RichConsole

        if stream == "out":
            if self._out_console is None:
                self._out_console = RichConsole(file=self.out, highlight=False,
                                                soft_wrap=False)
            return self._out_console
        if self._err_console is None:
            self._err_console = RichConsole(file=self.err, highlight=False, soft_wrap=False)
        return self._err_console

    @property
    def width(self):
        if self.rich_out:
            return self._rich("out").width
        try:
            return max(40, min(os.get_terminal_size(self.out.fileno()).columns, 200))
        except (OSError, ValueError, AttributeError):
            return int(os.environ.get("COLUMNS", 100))

    # -------------------------------------------------------------- results (stdout)

    def line(self, text=""):
        self.out.write(f"{_clean(text, newlines=True)}\n")
        self.out.flush()

    def heading(self, text):
        text = _clean(text)
        if self.rich_out:
            self._rich("out").print(f"[bold]{_escape(text)}[/bold]")
        else:
            self.line(text)

    def table(self, columns, rows, *, title=None, aligns=None, styles=None):
        """A table: columns are header strings, rows lists of values; numbers right-align."""
        rows = [list(r) for r in rows]
        if aligns is None:
            aligns = ["right" if rows and all(isinstance(r[i], (int, float))
                                              and not isinstance(r[i], bool)
                                              for r in rows if r[i] is not None)
                      else "left" for i in range(len(columns))]
        if self.format == "markdown":
            self.line(_markdown_table(title, columns, rows))
            return
        if not self.rich_out:
            self.line(_plain_table(title, columns, rows, aligns))
            return
        from rich import box
        from rich.table import Table

        t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left",
                  title_style="bold")
        for i, c in enumerate(columns):
            t.add_column(_clean(c), justify=aligns[i])
        for r in rows:
            t.add_row(*[_escape(_fmt(v)) for v in r])
        self._rich("out").print(t)

    def pairs(self, items, *, title=None):
        """Key and value lines, aligned."""
        items = [(_clean(k), _fmt(v)) for k, v in items]
        width = max((len(k) for k, _ in items), default=0)
        if title:
            self.heading(title)
        for k, v in items:
            if self.rich_out:
                self._rich("out").print(f"  [dim]{_escape(k.ljust(width))}[/dim]  {_escape(v)}")
            else:
                self.line(f"  {k.ljust(width)}  {v}")

    def text(self, text, *, style=None):
        text = _clean(text, newlines=True)
        if self.rich_out and style:
            self._rich("out").print(f"[{style}]{_escape(text)}[/{style}]")
        else:
            self.line(text)

    def json(self, obj):
        """Strict JSON: NaN and infinities, which JSON has no words for, become null."""
        self.out.write(json.dumps(_finite(obj), indent=2, default=_json_default,
                                  allow_nan=False) + "\n")
        self.out.flush()

    # -------------------------------------------------------------- messages (stderr)

    def note(self, text):
        if self.quiet:
            return
        text = _clean(text)
        if self.rich_err:
            self._rich("err").print(f"[dim]{_escape(text)}[/dim]")
        else:
            self.err.write(f"{text}\n")
            self.err.flush()

    def warn(self, text):
        text = _clean(text)
        if self.rich_err:
            self._rich("err").print(f"[yellow]warning:[/yellow] {_escape(text)}")
        else:
            self.err.write(f"warning: {text}\n")
            self.err.flush()

    def error(self, text):
        """One line on stderr: what happened, where, and what to do."""
        text = _clean(" ".join(str(text).split()))
        if self.rich_err:
            self._rich("err").print(f"[bold red]error:[/bold red] {_escape(text)}")
        else:
            self.err.write(f"error: {text}\n")
            self.err.flush()

    # -------------------------------------------------------------- training progress

    def progress(self, epochs, batches, *, live=None):
        """A progress reporter for training: a live view fitted to the width on a terminal,
        otherwise a line per epoch (thinned past LINE_EPOCHS epochs). Use as a context
        manager; call .batch() and .epoch(), with scaled=True where the losses are on a
        standardized target."""
        live = self.rich_err if live is None else live
        if self.quiet:
            return _QuietProgress()
        if live:
            return _RichProgress(self._rich("err"), epochs, batches)
        return _LineProgress(self.err, epochs)

    def reading(self, label, total=None, *, after=1.0):
        """Progress of reading a file: use as a context manager and call .update(done,
        rows=None) with bytes read so far. Nothing shows for a read shorter than `after`
        seconds; past that, a live bar of bytes (of `total`, when known) and rows per
        second on a terminal, or one line when the read ends otherwise."""
        if self.quiet:
            return _QuietReading()
        if self.rich_err:
            return _RichReading(self._rich("err"), label, total, after)
        return _LineReading(self.err, label, after)

    def chart(self, series, *, title=None, height=10, width=None):
        """A line chart of one or more series (name -> list of values) drawn in text."""
        lines = ascii_chart(series, height=height,
                            width=width or min(72, max(30, self.width - 14)))
        if title:
            self.heading(title)
        for ln in lines:
            self.line(ln)

    # -------------------------------------------------------------- lessons (neuralcli demo):
    # bar tables, labelled curves, class maps and a live map view

    def bar_table(self, columns, rows, bars, *, title=None, log=False, width=24):
        """A table with horizontal bars in its last columns: `bars` maps a column name to
        one value per row, all on one shared scale (log10 when log). Plain text draws the
        bars with '#'."""
        names = list(bars)
        rows = [list(r) for r in rows]
        scale = _bar_scale([v for vals in bars.values() for v in vals], log)
        glyph = "\u2588" if self.rich_out else "#"
        drawn = {n: [_bar_text(v, scale, width, glyph) for v in bars[n]] for n in names}
        aligns = ["right" if rows and all(isinstance(r[i], (int, float))
                                          and not isinstance(r[i], bool)
                                          for r in rows if r[i] is not None)
                  else "left" for i in range(len(columns))] + ["left"] * len(names)
        if not self.rich_out:
            full = [r + [drawn[n][k] for n in names] for k, r in enumerate(rows)]
            self.line(_plain_table(title, list(columns) + names, full, aligns))
            return
        from rich import box
        from rich.table import Table

        t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left",
                  title_style="bold")
        for i, c in enumerate(list(columns) + names):
            t.add_column(str(c), justify=aligns[i], no_wrap=i >= len(columns))
        colours = ["cyan", "magenta", "yellow", "green"]
        for k, r in enumerate(rows):
            cells = [_escape(_fmt(v)) for v in r]
            cells += [f"[{colours[j % len(colours)]}]{drawn[n][k]}[/]"
                      for j, n in enumerate(names)]
            t.add_row(*cells)
        self._rich("out").print(t)

    def curves(self, series, *, title=None, x_label="step", log=False, height=10,
               width=None):
        """Like chart, with a named x axis and optionally log10 of the values (for losses
        that span orders of magnitude); the title should say when the scale is log."""
        if log:
            series = {k: [math.log10(v) if v is not None and v > 0 and math.isfinite(v)
                          else None for v in vals] for k, vals in series.items()}
        lines = ascii_chart(series, height=height,
                            width=width or min(72, max(30, self.width - 14)))
        if len(lines) > 3:
            label_w = lines[0].index(" |")
            cols = len(lines[-3]) - label_w - 2
            n = max(len(v) for v in series.values())
            lines[-2] = " " * label_w + f"  1{(x_label + ' ' + str(n)).rjust(max(1, cols - 1))}"
        if title:
            self.heading(title)
        if not self.rich_out:
            for ln in lines:
                self.line(ln)
            return
        colours = {"*": "cyan", "o": "magenta", "+": "yellow", "x": "green", "#": "red"}
        for ln in lines:
            cut = ln.find(" |") + 2 if " |" in ln else len(ln)
            if ln is lines[-1]:
                cut = 0
            body = "".join(f"[{colours[ch]}]{ch}[/]" if ch in colours else _escape(ch)
                           for ch in ln[cut:])
            self._rich("out").print(_escape(ln[:cut]) + body)

    def class_map(self, probs, points, *, title=None, caption=None, width=None):
        """A map of P(class 1) over a grid (rows top to bottom, values in [0, 1]) with data
        points (row, col, label 0/1, correct) drawn over it: coloured cells on a
        terminal, shading characters in plain text. A legend follows: one line, or in
        plain text wrapped to `width` columns when given."""
        if title:
            self.heading(title)
        if self.rich_out:
            self._rich("out").print(_map_renderable(probs, points, caption))
            return
        if caption:
            self.line(caption)
        for ln in _map_lines(probs, points):
            self.line(ln)
        if width is None:
            self.line(MAP_LEGEND_PLAIN)
            return
        import textwrap

        self.line("\n".join(textwrap.wrap(MAP_LEGEND_PLAIN, width, break_long_words=False,
                                           break_on_hyphens=False)))

    def live_map(self):
        """A map view that redraws in place on a terminal (rich Live); elsewhere it is
        inactive (`.active` is False) and the caller prints snapshots or the final map."""
        return _LiveMap(self)


def _escape(text):
    from rich.markup import escape

    return escape(str(text))


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return obj
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    return obj


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# The training loop's figures as a progress line names them, in its order
_METRICS = (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"),
            ("val_accuracy", "val_acc"), ("val_r2", "val_r2"))
_LOSSES = ("loss", "val_loss")


def _metric_text(logs, scaled=False, keys=None, digits=4):
    """An epoch's figures: "loss 0.4120  acc 0.8125  val_loss 0.3980  val_acc 0.8200" (one
    space between them below 4 digits); `keys` picks which. Losses on a standardized
    regression target read "loss(std)", "val_loss(std)"."""
    parts = []
    for key, name in _METRICS:
        if key in logs and (keys is None or key in keys):
            label = f"{name}(std)" if scaled and key in _LOSSES else name
            value = logs[key]
            parts.append(f"{label} {'-' if value is None else f'{value:.{digits}f}'}")
    return ("  " if digits >= 4 else " ").join(parts)


class _QuietProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def batch(self, epoch, batch, loss, *, scaled=False):
        pass

    def epoch(self, logs, *, scaled=False):
        pass


# Off a terminal, a run of up to LINE_EPOCHS epochs has a line for every epoch; a longer
# one a line every ceil(epochs / LINE_EPOCHS)th epoch, and for its first and last
LINE_EPOCHS = 1000


class _LineProgress(_QuietProgress):
    """Off a terminal: a line per epoch. A run of more than LINE_EPOCHS epochs has a line
    every ceil(epochs / LINE_EPOCHS)th epoch and for its first and its last epoch (the last
    one run, when training stops before the planned number), so a log holds at most
    LINE_EPOCHS + 2 of them."""

    def __init__(self, err, epochs):
        self.err, self.epochs = err, epochs
        self.every = -(-epochs // LINE_EPOCHS)
        self.t0 = time.perf_counter()
        self.unwritten = None

    def epoch(self, logs, *, scaled=False):
        e = logs["epoch"]
        self.unwritten = (logs, scaled, time.perf_counter())
        if e % self.every == 0 or e == 1 or e == self.epochs:
            self._write()

    def __exit__(self, *exc):
        if self.unwritten is not None:
            self._write()
        return False

    def _write(self):
        logs, scaled, at = self.unwritten
        self.unwritten = None
        width = len(str(self.epochs))
        self.err.write(f"epoch {logs['epoch']:>{width}}/{self.epochs}  "
                       f"{_metric_text(logs, scaled)}  {at - self.t0:.1f}s\n")
        self.err.flush()


class _RichProgress(_QuietProgress):
    """On a terminal: a live view (_ProgressView) redrawn ten times a second in a thread of
    rich's; .batch() and .epoch() only store what it shows."""

    def __init__(self, console, epochs, batches):
        from rich.live import Live

        self.view = _ProgressView(epochs, batches)
        self.live = Live(self.view, console=console, refresh_per_second=10,
                         transient=False)

    def __enter__(self):
        self.view.t0 = time.perf_counter()
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        self.view.t1 = time.perf_counter()  # the clock stops and the batch bar goes
        return self.live.__exit__(*exc)

    def batch(self, epoch, batch, loss, *, scaled=False):
        self.view.batch_done, self.view.batch_loss, self.view.scaled = batch, loss, scaled

    def epoch(self, logs, *, scaled=False):
        view = self.view
        view.logs, view.scaled, view.batch_done, view.batch_loss = logs, scaled, 0, None


# The live view's figures by width, most first: which, and to how many digits. It shows
# the first that leaves the bar BAR_MIN columns (a shorter clock tried before fewer figures).
_FIGURES = ((("loss", "accuracy", "val_loss", "val_accuracy", "val_r2"), 4),
            (("loss", "accuracy", "val_loss", "val_accuracy", "val_r2"), 3),
            (("loss", "val_loss", "val_accuracy", "val_r2"), 3),
            (("loss", "val_loss"), 3),
            (("loss",), 3),
            ((), 3))
BAR_MIN, BAR_MAX = 10, 40


def _clock(seconds):
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _ProgressView:
    """Training progress on a terminal, laid out for the width it is drawn in (here 80):

        epoch 123/300 ━━━━╸━━━━━━━ loss 0.412 val_loss 0.398 val_acc 0.820 0:02 eta 0:02
        batch  7/13   ━━━━━━╺━━━━━ loss 0.405

    The batch line shows while an epoch has several batches; its loss (the last batch's)
    only once the first epoch has said whether losses are standardized. As the width
    shrinks the figures lose a digit, then the training accuracy, the validation accuracy
    and loss, the training loss; before each step the clock "0:02 eta 0:02" is tried as
    "0:02<0:02". Nothing is cut."""

    def __init__(self, epochs, batches):
        self.epochs, self.batches = epochs, batches
        self.logs, self.scaled = None, False
        self.batch_done, self.batch_loss = 0, None
        self.t0 = time.perf_counter()
        self.t1 = None

    def _clock_text(self, done, long):
        end = self.t1 if self.t1 is not None else time.perf_counter()
        spent = _clock(end - self.t0)
        if self.t1 is not None:
            return spent
        left = "?" if done <= 0 else _clock((end - self.t0) / done * (self.epochs - done))
        return f"{spent} eta {left}" if long else f"{spent}<{left}"

    def layout(self, width):
        """[(head, done, total, bar width, right text)], one a line, fitting `width`."""
        epoch = self.logs["epoch"] if self.logs else 0
        batches = self.batches > 1 and self.t1 is None
        done = epoch + (self.batch_done / self.batches if batches else 0)
        heads = [f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}"]
        if batches:
            heads.append(f"batch {self.batch_done:>{len(str(self.batches))}}/{self.batches}")
        head_w = max(len(h) for h in heads)
        for keys, digits, long in ((k, d, g) for k, d in _FIGURES for g in (True, False)):
            figures = _metric_text(self.logs or {}, self.scaled, keys, digits)
            rights = [" ".join(t for t in (figures, self._clock_text(done, long)) if t)]
            if batches:
                rights.append("" if not keys or self.batch_loss is None else
                              _metric_text({"loss": self.batch_loss}, self.scaled,
                                           digits=digits))
            right_w = max(len(r) for r in rights)
            spare = width - head_w - 1 - (right_w + 1 if right_w else 0)
            if spare >= BAR_MIN:
                bar = min(BAR_MAX, spare)
                break
        else:  # too narrow for any figure: the heads and what room is left for the bar
            rights = [""] * len(heads)
            bar = max(0, min(BAR_MAX, width - head_w - 1))
        bars = [(done, self.epochs), (self.batch_done, self.batches)]
        return [(h.ljust(head_w), d, t, bar, r)
                for h, (d, t), r in zip(heads, bars, rights)]

    def __rich_console__(self, console, options):
        from rich.progress_bar import ProgressBar
        from rich.table import Column, Table
        from rich.text import Text

        lines = self.layout(options.max_width)
        head_w, bar_w = len(lines[0][0]), lines[0][3]
        right_w = max(len(ln[4]) for ln in lines)
        columns = [Column(width=head_w, no_wrap=True)]
        if bar_w:
            columns.append(Column(width=bar_w, no_wrap=True))
        if right_w:
            columns.append(Column(width=right_w, no_wrap=True))
        grid = Table.grid(*columns, padding=(0, 1))
        for head, done, total, _, right in lines:
            word, rest = head.split(" ", 1)
            row = [Text.assemble((word, "bold"), " " + rest)]
            if bar_w:
                row.append(ProgressBar(total=total, completed=done, width=bar_w))
            if right_w:
                row.append(Text(right))
            grid.add_row(*row)
        yield grid


class _QuietReading:
    def __init__(self, *args):
        self.t0 = time.perf_counter()
        self.done, self.rows = 0, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, done, rows=None):
        self.done, self.rows = done, rows


def _bytes_text(n):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


class _LineReading(_QuietReading):
    """Off a terminal: one line when a read that took a while ends."""

    def __init__(self, err, label, after):
        super().__init__()
        self.err, self.label, self.after = err, _clean(label), after

    def __exit__(self, *exc):
        took = time.perf_counter() - self.t0
        if exc[0] is None and took >= self.after:
            rows = "" if self.rows is None else f", {self.rows:,} rows"
            self.err.write(f"read {self.label}: {_bytes_text(self.done)}{rows} in "
                           f"{took:.1f} s\n")
            self.err.flush()
        return False


class _RichReading(_QuietReading):
    """On a terminal: a transient bar that appears once a read has taken `after` s."""

    def __init__(self, console, label, total, after):
        super().__init__()
        self.console, self.label, self.total, self.after = console, label, total, after
        self.progress = self.task = None
        self.last = 0.0

    def update(self, done, rows=None):
        super().update(done, rows)
        now = time.perf_counter()
        if now - self.t0 < self.after or now - self.last < 0.1:
            return
        self.last = now
        rate = "" if rows is None else f"{rows / (now - self.t0):,.0f} rows/s"
        if self.progress is None:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeElapsedColumn)

            self.progress = Progress(TextColumn("reading {task.description}"), BarColumn(),
                                     DownloadColumn(), TextColumn("{task.fields[rate]}"),
                                     TimeElapsedColumn(), console=self.console,
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task(_escape(_clean(self.label)),
                                               total=self.total, rate=rate)
        self.progress.update(self.task, completed=done, rate=rate)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False


def ascii_chart(series, *, height=10, width=60, x_label="epoch"):
    """Plot series (name -> values) on a shared scale with one marker each; returns lines.
    A series longer than the width is sampled: column c shows the value at the matching
    point of the series, its first and last points included. The y axis is labelled with
    the largest and smallest values drawn, on the top and bottom rows; a series too short
    for its x-axis labels is spread over enough columns to hold them."""
    markers = "*o+x#"
    # a missing or non-finite value is a gap that keeps the later points in place
    named = [(name, [float(v) if v is not None and math.isfinite(v) else None
                     for v in vals]) for name, vals in series.items()]
    named = [(name, vals) for name, vals in named if any(v is not None for v in vals)]
    if not named:
        return ["(nothing to plot)"]
    n = max(len(v) for _, v in named)
    cols = min(width, n)
    if 1 < n < len(f"{x_label} {n}") + 2:
        cols = min(width, len(f"{x_label} {n}") + 2)
    # each series' values by column, as drawn: a point's column is fixed by its index, so
    # series of different lengths stay aligned
    if n == 1:
        at = [(0, 0)]
    elif n <= cols:
        at = [(int(round(i * (cols - 1) / (n - 1))), i) for i in range(n)]
    else:
        at = [(c, int(round(c * (n - 1) / (cols - 1)))) for c in range(cols)]
    drawn = [{c: vals[i] for c, i in at if i < len(vals) and vals[i] is not None}
             for _, vals in named]
    if not any(drawn):
        return ["(nothing to plot)"]
    lo = min(min(p.values()) for p in drawn if p)
    hi = max(max(p.values()) for p in drawn if p)
    grid = [[" "] * cols for _ in range(height)]
    for k, points in enumerate(drawn):
        mark = markers[k % len(markers)]
        for c, y in points.items():
            # a flat chart is one line across the middle row
            r = (height - 1) // 2 if hi == lo else \
                int(round((hi - y) / (hi - lo) * (height - 1)))
            grid[r][c] = mark if grid[r][c] in (" ", mark) else "#"
    labels = {}
    if hi == lo:
        labels[(height - 1) // 2] = f"{hi:.4g}"
    else:
        labels[height - 1], labels[0] = _chart_extremes(lo, hi)
    label_w = max(len(t) for t in labels.values())
    lines = [f"{labels.get(r, '').rjust(label_w)} |{''.join(grid[r])}" for r in range(height)]
    lines.append(" " * label_w + " +" + "-" * cols)
    lines.append(" " * label_w + "  " + _chart_x_labels(n, cols, x_label))
    legend = "   ".join(f"{markers[k % len(markers)]} {name}" for k, (name, _) in
                       enumerate(named))
    lines.append(" " * label_w + "  " + legend)
    return lines


def _chart_extremes(lo, hi):
    """The labels of a chart's smallest and largest values: four significant digits, more
    where four would write the two alike."""
    for digits in range(4, 17):
        low, high = f"{lo:.{digits}g}", f"{hi:.{digits}g}"
        if low != high:
            break
    return low, high


def _chart_x_labels(n, cols, x_label):
    """The x axis's labels under `cols` columns of a chart of n points: 1 under the first
    column and "x_label n" ending under the last, or only n where that does not fit with
    a space between, or only 1."""
    if n == 1:
        return "1"
    for right in (f"{x_label} {n}", str(n)):
        if len(right) + 2 <= cols:
            return "1" + right.rjust(cols - 1)
    return "1"


# ------------------------------------------------------------------ lessons: bars and maps

def _bar_scale(values, log):
    """(lo, hi, log) of the finite values; positive ones only on a log scale."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)
            and (v > 0 if log else v >= 0)]
    if not vals:
        return (0.0, 1.0, log)
    if log:
        return (math.log10(min(vals)), math.log10(max(vals)), True)
    return (0.0, max(vals) or 1.0, False)


def _bar_text(v, scale, width, glyph):
    """A bar of 1..width glyphs for v on the scale; empty for zero or missing values."""
    lo, hi, log = scale
    if v is None or not math.isfinite(v) or v <= 0:
        return ""
    if log:
        span = hi - lo
        frac = 1.0 if span <= 0 else (math.log10(v) - lo) / span
        return glyph * (1 + int(round(max(0.0, min(1.0, frac)) * (width - 1))))
    return glyph * max(1, int(round(v / hi * width)))


MAP_SHADES = " .:+#"   # P(class 1) in fifths, low to high
MAP_LEGEND_PLAIN = ("background P(class 1): ' ' <.2  '.' <.4  ':' <.6  '+' <.8  '#' >=.8;"
                    " points: o class 0, x class 1, capitals misclassified")
MAP_LEGEND_RICH = ("background: blue class 0, red class 1, pale unsure; points: o class 0, "
                   "x class 1, capitals misclassified")


def _point_glyphs(points):
    marks = {}
    for r, c, label, correct in points:
        g = "x" if label else "o"
        marks[(r, c)] = g if correct else g.upper()
    return marks


def _map_lines(probs, points):
    marks = _point_glyphs(points)
    lines = []
    for r, row in enumerate(probs):
        cells = [marks.get((r, c)) or MAP_SHADES[min(4, max(0, int(p * 5)))]
                 for c, p in enumerate(row)]
        lines.append("|" + "".join(cells) + "|")
    border = "+" + "-" * (len(probs[0]) if probs else 0) + "+"
    return [border] + lines + [border]


def _map_colour(p):
    """Blue (class 0) through pale grey (unsure) to red (class 1), as (r, g, b)."""
    blue, pale, red = (45, 95, 200), (232, 232, 232), (210, 65, 50)
    a, b, t = (blue, pale, p / 0.5) if p < 0.5 else (pale, red, (p - 0.5) / 0.5)
    t = max(0.0, min(1.0, t))
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _map_renderable(probs, points, caption=None):
    from rich.text import Text

    marks = _point_glyphs(points)
    text = Text()
    if caption:
        text.append(caption + "\n", style="bold")
    for r, row in enumerate(probs):
        for c, p in enumerate(row):
            rgb = _map_colour(float(p))
            bg = f"on rgb({rgb[0]},{rgb[1]},{rgb[2]})"
            g = marks.get((r, c))
            if g is None:
                text.append(" ", style=bg)
            else:
                light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 140
                text.append(g, style=f"bold {'bright_white' if light else 'black'} {bg}")
        text.append("\n")
    text.append(MAP_LEGEND_RICH, style="dim")
    return text


class _LiveMap:
    def __init__(self, console):
        self.console = console
        self.active = console.rich_out
        self.live = None

    def __enter__(self):
        if self.active:
            from rich.live import Live

            self.live = Live(console=self.console._rich("out"), auto_refresh=False,
                             transient=False, vertical_overflow="visible")
            self.live.__enter__()
        return self

    def update(self, probs, points, caption=None):
        if self.live is not None:
            self.live.update(_map_renderable(probs, points, caption), refresh=True)

    def __exit__(self, *exc):
        if self.live is not None:
            return self.live.__exit__(*exc)
        return False
