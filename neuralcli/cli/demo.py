"""neuralcli demo: the classic lessons of neural networks, computed live by the engine.

The numbers come from neuralcli.demos, which runs each experiment through the real
kernels; this module explains each step and shows its numbers, as rich or plain text or
as one JSON object."""
import io
import math
import textwrap

import click

from neuralcli.cli.console import cell_text
from neuralcli.cli.options import number_list, positive_float

FORMATS = ("rich", "plain", "json")
PLAIN_WIDTH = 80    # the widest line of plain text, which often lands in files and logs

EPILOG = """\b
Examples:
  neuralcli demo               # list the lessons
  neuralcli demo backprop      # the classic worked example, every number
  neuralcli demo learning-rate --lrs 0.05,0.45,1.1
  neuralcli demo spirals --epochs 300 --size 60
  neuralcli demo xor --format json
"""


# ------------------------------------------------------------------ option parsing

def _opt_name(param):
    return param.opts[0] if param.opts else param.name


def _numbers(count=None, positive=False):
    """A click callback reading 'a,b,c' with options.number_list."""
    def parse(ctx, param, value):
        if value is None:
            return None
        return number_list(value, _opt_name(param), count=count, positive=positive)
    return parse


def _positive(ctx, param, value):
    return positive_float(_opt_name(param), value)


def _widths(ctx, param, value):
    from neuralcli.cli.options import hidden_sizes

    sizes = hidden_sizes(value)
    if max(sizes) > 1024:
        raise click.BadParameter(f"layer width {max(sizes)} is over 1024; the lesson needs "
                                 f"small layers", param_hint="--hidden")
    return sizes


def _format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="rich: colour on a terminal (the default, plain text "
                             "elsewhere); plain: text only; json: one JSON object.")(f)


# ------------------------------------------------------------------ the lesson writer

class Lesson:
    """Writes one lesson as numbered steps: the title, one line on what is computed and
    why it matters, then the numbers. In JSON mode nothing is printed as it goes; the
    steps and their notes are kept and `finish` prints them with the result."""

    def __init__(self, ctx, name, options):
        from neuralcli.cli.console import Console
        from neuralcli.demos import LESSONS

        app = ctx.obj
        fmt = ctx.params.get("fmt") or (ctx.parent.params.get("fmt") if ctx.parent else None)
        self.fmt = fmt or "rich"
        base = app.console
        self.console = base if self.fmt == "rich" else Console(
            color=False, quiet=base.quiet, out=base.out, err=base.err)
        self.json = self.fmt == "json"
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
        if self.console.rich_out:
            self.console.class_map(probs, points)
            return
        # The console writes the legend under the map as one long line; drawn into a
        # buffer first, the legend is wrapped to the width like the lesson's other text.
        from neuralcli.cli.console import Console

        buf = io.StringIO()
        Console(color=False, out=buf).class_map(probs, points)
        *grid, legend = buf.getvalue().splitlines()
        for ln in grid:
            self.console.line(ln)
        self._say(legend)

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


def _verdict_style(verdict):
    return {"converged": "green", "not yet converged": "yellow", "not converging": "magenta",
            "diverged": "red"}.get(verdict, None)


# ------------------------------------------------------------------ the group

@click.group("demo", invoke_without_command=True, epilog=EPILOG,
             short_help="Classic lessons of neural networks, computed live.")
@_format_option
@click.pass_context
def command(ctx, fmt):
    """The classic lessons of neural networks, each computed live by neuralcli's own
    kernels, with options to change its numbers. Without a NAME, list the lessons."""
    if ctx.invoked_subcommand is not None:
        return
    from neuralcli.cli.console import Console
    from neuralcli.demos import LESSONS

    base = ctx.obj.console
    if fmt == "json":
        base.json([{"name": k, "description": v} for k, v in LESSONS.items()])
        return
    console = base if fmt != "plain" else Console(color=False, quiet=base.quiet,
                                                  out=base.out, err=base.err)
    rows = list(LESSONS.items())
    if not console.rich_out:
        # a description too long for the line goes on under itself
        room = min(console.width, PLAIN_WIDTH) - max(len(k) for k in LESSONS) - 2
        rows = [[k if i == 0 else "", part] for k, v in LESSONS.items()
                for i, part in enumerate(textwrap.wrap(v, room))]
    console.table(["lesson", "what it shows"], rows,
                  title="Lessons, each computed live by the engine")
    console.note("run one with: neuralcli demo NAME [--format plain|json]; NAME --help "
                 "for options")


# ------------------------------------------------------------------ linear-collapse

@command.command("linear-collapse", epilog=EPILOG,
                 short_help="Two linear layers are one; a ReLU between them is not.")
@click.option("--inputs", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Input features.")
@click.option("--hidden", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Hidden units between the two layers.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_format_option
@click.pass_context
def linear_collapse(ctx, inputs, hidden, seed, fmt):
    """Two stacked linear layers equal one: W = W1 W2, b = b1 W2 + b2. Then a ReLU
    between them, and they no longer collapse."""
    from neuralcli import demos

    r = demos.linear_collapse(inputs=inputs, hidden=hidden, seed=seed)
    L = Lesson(ctx, "linear-collapse", {"inputs": inputs, "hidden": hidden, "seed": seed})
    s = r["shapes"]
    L.step("Two linear layers",
           f"y = (x W1 + b1) W2 + b2: the dense kernel twice, identity activation, "
           f"{s['inputs']} -> {s['hidden']} -> {s['outputs']}, on {s['rows']} random rows.")
    L.table(["row", "y1", "y2"], [[i + 1, *row] for i, row in enumerate(r["two_layers"])])
    L.step("Collapse them into one layer",
           "Multiply out: y = x (W1 W2) + (b1 W2 + b2). The gemm kernel computes "
           "W = W1 W2 and b = b1 W2 + b2 (beta = 1 adds b2 in the same call).")
    shown = r["W"][:8]
    L.table(["W row", "out 1", "out 2"], [[f"x{i + 1}", *row] for i, row in enumerate(shown)])
    if len(r["W"]) > len(shown):
        L.note(f"... {len(r['W']) - len(shown)} more rows")
    L.note(f"b = {', '.join(g(v) for v in r['b'])}")
    L.step("The same inputs through the single layer",
           "If depth added anything, these outputs would differ from the two layers'.")
    L.table(["row", "one layer y1", "y2", "two layers y1", "y2", "max |diff|"],
            [[i + 1, *one, *two, max(abs(a - b) for a, b in zip(one, two))]
             for i, (one, two) in enumerate(zip(r["one_layer"], r["two_layers"]))])
    L.note(f"max difference {g(r['max_difference_linear'])}: float32 rounding "
           f"(outputs are up to {g(r['output_scale'])}), so the two layers ARE one layer.",
           style="green" if r["collapses"] else "red")
    L.step("Put a ReLU between them",
           "ReLU sets negative hidden values to zero, which depends on the input: no "
           "single matrix can do that.")
    L.table(["row", "relu net y1", "y2", "one layer y1", "y2"],
            [[i + 1, *a, *b] for i, (a, b) in enumerate(zip(r["relu_two_layers"],
                                                             r["one_layer"]))])
    L.note(f"ReLU zeroed {r['relu_zeroed']} of {r['hidden_values']} hidden values; max "
           f"difference {g(r['max_difference_relu'])}: not rounding, a different function.",
           style="yellow")
    L.lesson("without a non-linearity, depth adds nothing: any stack of linear layers is "
             "one matrix multiply.")
    L.finish(r)


# ------------------------------------------------------------------ vanishing-gradients

@command.command("vanishing-gradients", epilog=EPILOG,
                 short_help="Gradients vanish through deep sigmoid nets, not ReLU/He ones.")
@click.option("--depth", type=click.IntRange(2, 200), default=10, show_default=True,
              help="Weight layers in each network.")
@click.option("--width", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Units per hidden layer.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_format_option
@click.pass_context
def vanishing_gradients(ctx, depth, width, seed, fmt):
    """One forward and backward pass through a deep sigmoid network and a deep ReLU
    network with He initialization; the gradient norm of every layer's weights."""
    from neuralcli import demos

    r = demos.vanishing_gradients(depth=depth, width=width, seed=seed)
    L = Lesson(ctx, "vanishing-gradients", {"depth": depth, "width": width, "seed": seed})
    sg, rl = r["sigmoid"], r["relu"]
    L.step("Two deep networks of one shape",
           f"{r['inputs']} -> {width} x {depth - 1} -> 1: sigmoid hidden layers "
           f"({sg['init']} init) versus ReLU ({rl['init']} init); a linear output, mse "
           f"loss on a batch of {r['batch']} random rows.")
    L.step("One backward pass: the gradient norm of each layer's weights",
           "Backpropagation multiplies by each layer's derivative on the way down; "
           "sigmoid's is at most 0.25. Bars on a log scale, layer 1 nearest the input.")
    bar_w = max(8, min(24, (L.width - 36) // 2))
    L.bar_table(["layer", "sigmoid", "relu"],
                [[x["layer"], x["sigmoid"], x["relu"]] for x in r["layers"]],
                {"sigmoid |grad|": [x["sigmoid"] for x in r["layers"]],
                 "relu |grad|": [x["relu"] for x in r["layers"]]},
                log=True, width=bar_w)
    L.step("First layer against last",
           "The ratio says how much of the error signal reaches the first layer.")
    for name, net in (("sigmoid", sg), ("relu", rl)):
        said, style = _reach(net["ratio"])
        L.note(f"{name + ':':8} first/last = {g(net['ratio'], 3)} "
               f"(x{g(net['per_layer_factor'], 3)} per layer): {said}", style=style,
               indent=" " * 9)
    L.lesson("deep sigmoid networks starve their first layers of gradient; ReLU with He "
             "initialization keeps it flowing.")
    L.finish(r)


def _reach(ratio):
    """What a first/last gradient ratio says about the first layer, and its style."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "no gradient reaches the first layer.", "red"
    k = math.log10(ratio)
    if k <= -2:
        return (f"{-k:.0f} orders of magnitude smaller at the first layer, which barely "
                f"learns.", "red")
    if abs(k) < 1:
        return "within one order of magnitude: the signal keeps its scale.", "green"
    n = round(abs(k))
    return (f"{n} order{'s' if n > 1 else ''} of magnitude "
            f"{'smaller' if k < 0 else 'larger'} at the first layer.", "yellow")


# ------------------------------------------------------------------ learning-rate

@command.command("learning-rate", epilog=EPILOG,
                 short_help="Gradient descent on x^2: crawl, converge, oscillate, diverge.")
@click.option("--lrs", default="0.01,0.1,0.5,0.9,5", show_default=True,
              callback=_numbers(positive=True), help="Learning rates, comma-separated.")
@click.option("--steps", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--start", type=float, default=10.0, show_default=True, help="Starting x.")
@_format_option
@click.pass_context
def learning_rate(ctx, lrs, steps, start, fmt):
    """Gradient descent on f(x) = x^2 from x = START with several learning rates: the
    gradient from the mse kernel, each update by the sgd kernel."""
    from neuralcli import demos

    if not math.isfinite(start) or start == 0:
        raise click.BadParameter(f"must be a finite non-zero number, got {start}",
                                 param_hint="--start")
    r = demos.learning_rate(lrs=lrs, steps=steps, start=start)
    L = Lesson(ctx, "learning-rate", {"lrs": lrs, "steps": steps, "start": start})
    c = r["gradient_check"]
    L.step("The gradient, from the mse kernel",
           "With prediction x, target 0 and one element, mse is x^2 and its gradient 2x: "
           "our loss kernel gives f and f' without writing them by hand.")
    L.pairs([("x", c["x"]), ("mse = x^2", c["loss"]), ("gradient", c["gradient"]),
             ("2x", c["two_x"])])
    L.note("the kernel's gradient is exactly 2x" if c["exact"] else
           "the kernel's gradient differs from 2x", style="green" if c["exact"] else "red")
    L.step("Descend: x <- x - lr * 2x = (1 - 2 lr) x",
           f"The sgd kernel updates a one-element parameter buffer, {steps} steps per "
           f"learning rate. Each step multiplies x by the same factor 1 - 2 lr.")
    marks = sorted({0, 1, 2, 3, 10} & set(range(steps)))
    rows = []
    for run in r["runs"]:
        traj = run["trajectory"]
        # a run stopped early has no x at the last step: its column shows "-"
        rows.append([run["lr"], run["factor"]] +
                    [traj[k] if k < len(traj) else None for k in marks + [steps]])
    L.table(["lr", "1-2lr"] + [f"x{k}" for k in marks] + [f"x{steps} (end)"], rows)
    for run in r["runs"]:
        if run["stopped_at"] is not None:
            L.note(f"lr {g(run['lr'])}: stopped at step {run['stopped_at']} with "
                   f"x{run['stopped_at']} = {g(run['final'], 5)}, the first |x| past "
                   f"{g(r['stop_limit'])}")
    L.step("Verdicts",
           f"Converged means |x| <= {g(r['tolerance'])} (1e-3 of the start) at the end; "
           f"diverged, |x| above its start; not converging, |x| back at its start; "
           f"anything else is not yet converged. Oscillating in sign: x changed sign "
           f"on the way.")
    width = max(len(g(run["lr"])) for run in r["runs"])
    for run in r["runs"]:
        when = (f" (from step {run['steps_to_tolerance']})"
                if run["verdict"] == "converged" and run["steps_to_tolerance"] else "")
        sign = ", oscillating in sign" if run["sign_flips"] else ""
        L.note(f"lr {g(run['lr']).ljust(width)}  {run['verdict']}{sign}{when}: "
               f"{run['reason']}", style=_verdict_style(run["verdict"]),
               indent=" " * (width + 5))
    L.lesson("gradient descent on x^2 converges only for lr < 1 (|1 - 2 lr| < 1); it is "
             "fastest at lr 0.5; above 0.5 x flips sign every step, still shrinking "
             "below lr 1; past 1 it diverges.")
    L.finish(r)


# ------------------------------------------------------------------ optimizers

def _lr_pairs(ctx, param, value):
    """'sgd=0.03,adam=0.3' -> {'sgd': 0.03, 'adam': 0.3}."""
    from neuralcli.demos import OPTIMIZER_RUNS

    if not value:
        return {}
    name = _opt_name(param)
    out = {}
    for part in value.split(","):
        if "=" not in part:
            raise click.BadParameter(f"{part!r}: give optimizer=rate pairs like sgd=0.03,"
                                     f"adam=0.3", param_hint=name)
        key, v = (s.strip() for s in part.split("=", 1))
        if key not in OPTIMIZER_RUNS:
            raise click.BadParameter(f"unknown optimizer {key!r}; choose from "
                                     f"{', '.join(OPTIMIZER_RUNS)}", param_hint=name)
        try:
            out[key] = positive_float(name, float(v))
        except ValueError:
            raise click.BadParameter(f"rate {v!r} of {key} is not a number",
                                     param_hint=name) from None
    return out


@command.command("optimizers", epilog=EPILOG,
                 short_help="SGD, momentum and Adam on a narrow valley and on spirals.")
@click.option("--steps", type=click.IntRange(1, 100000), default=100, show_default=True,
              help="Steps on the valley.")
@click.option("--lr", "lrs", callback=_lr_pairs, metavar="NAME=RATE,...",
              help="Valley learning rates [default: sgd=0.035,momentum=0.01,adam=0.3].")
@click.option("--net-lr", "net_lrs", callback=_lr_pairs, metavar="NAME=RATE,...",
              help="Spirals learning rates [default: sgd=0.1,momentum=0.05,adam=0.01].")
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=0.9,
              show_default=True)
@click.option("--epochs", type=click.IntRange(1, 20000), default=200, show_default=True,
              help="Epochs on the spirals.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_format_option
@click.pass_context
def optimizers(ctx, steps, lrs, net_lrs, momentum, epochs, seed, fmt):
    """SGD, SGD with momentum and Adam side by side: on an ill-conditioned valley with
    exact gradients, then training one network on the spirals."""
    from neuralcli import demos

    valley = demos.optimizers_valley(steps=steps, lrs=lrs, momentum=momentum)
    net = demos.optimizers_spirals(epochs=epochs, lrs=net_lrs, momentum=momentum, seed=seed)
    L = Lesson(ctx, "optimizers", {"steps": steps, "momentum": momentum, "epochs": epochs,
                                   "seed": seed,
                                   "lr": {k: v["lr"] for k, v in valley["runs"].items()},
                                   "net_lr": {k: v["lr"] for k, v in net["runs"].items()}})
    x0, y0 = valley["start"]
    L.step(f"A narrow valley: f = {valley['function']} from ({x0:g}, {y0:g})",
           f"50 times steeper across (y) than along (x). Plain SGD must keep lr < "
           f"2/{valley['curvature']:g} = {valley['sgd_stability_limit']:g} or y blows up, "
           f"so x crawls; momentum builds speed along x, Adam rescales each coordinate.")
    L.table(["optimizer", "lr", f"loss after {steps}", "x", "y"],
            [[k, v["lr"], v["final_loss"], *v["final_point"]]
             for k, v in valley["runs"].items()])
    # losses[0] is the start; the curve shows the loss after each of the steps
    L.curves({k: v["losses"][1:] for k, v in valley["runs"].items()}, x_label="step",
             log=True, height=8, title="log10(loss) after each step (# where curves meet)")
    L.note(f"best on the valley: {valley['best']}")
    L.step("The same network on the two spirals",
           f"{' -> '.join(map(str, net['sizes']))} relu, bce loss, {net['points']} points, "
           f"batches of {net['batch_size']}; one seed, so every optimizer starts from the "
           f"same weights. The training loop is the real Trainer.")
    L.table(["optimizer", "lr", "final loss", "accuracy"],
            [[k, v["lr"], v["final_loss"], v["accuracy"]] for k, v in net["runs"].items()])
    for k, v in net["runs"].items():
        if v["stop_reason"] not in ("completed", ""):
            L.note(f"{k}: {v['message']}", style="yellow")
    L.curves({k: v["losses"] for k, v in net["runs"].items()}, x_label="epoch",
             height=8, title="training loss per epoch (# where curves meet)")
    L.note(f"best on the spirals: {net['best']}")
    L.lesson("when curvature differs by direction, plain SGD is held back by the steepest "
             "one; momentum and Adam get much further in the same number of steps.")
    L.finish({"valley": valley, "spirals": net})


# ------------------------------------------------------------------ dropout

@command.command("dropout", epilog=EPILOG,
                 short_help="The dropout mask, the 1/(1-p) scaling, train vs eval mode.")
@click.option("--p", "p", type=click.FloatRange(0, 1, max_open=True), default=0.5,
              show_default=True, help="Dropout rate: the chance each value is zeroed.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_format_option
@click.pass_context
def dropout(ctx, p, seed, fmt):
    """Dropout on one layer's activations: which values the mask drops, why the kept ones
    are scaled by 1/(1-p), and how a network's train and eval modes differ."""
    from neuralcli import demos

    if math.isnan(p):
        raise click.BadParameter("must be a number in [0, 1)", param_hint="--p")
    r = demos.dropout(p=p, seed=seed)
    L = Lesson(ctx, "dropout", {"p": p, "seed": seed})
    L.step("One layer's activations",
           "relu(x W + b) by the dense kernel for 4 rows of 8 units: what dropout acts on.")
    L.table(["row"] + [f"u{j + 1}" for j in range(len(r["activations"][0]))],
            [[i + 1, *row] for i, row in enumerate(r["activations"])])
    L.step(f"The mask: each value dropped with probability p = {g(p)}",
           f"The dropout kernel draws it from (seed {seed}, step 1), so backward can "
           f"redraw the same mask. 1 = kept, 0 = dropped.")
    for i, row in enumerate(r["mask"]):
        L.note(f"row {i + 1}:  " + " ".join(str(v) for v in row))
    L.note(f"dropped {g(r['dropped_fraction'])} of these values "
           f"({g(r['many']['dropped_fraction'])} over {r['many']['rows']:,} rows)")
    L.step(f"Kept values scaled by 1/(1-p) = {g(r['scale'])}",
           "The output; dropped values are 0, kept ones divided by the keep rate.")
    L.table(["row"] + [f"u{j + 1}" for j in range(len(r["output"][0]))],
            [[i + 1, *row] for i, row in enumerate(r["output"])])
    ok = r["scaled_exact"] and r["dropped_zero"]
    L.note("every kept value equals x/(1-p) exactly; every dropped one is 0" if ok else
           "the kernel's output is not x/(1-p) on the kept values", style="green"
           if ok else "red")
    m = r["many"]
    L.step("Why scale: the expected value stays the same",
           f"Mean activation over {m['rows']:,} rows: with the scaling the next layer sees "
           f"the same average in training as without dropout at inference.")
    L.pairs([("before dropout", m["mean_before"]),
             ("after, scaled by 1/(1-p)", m["mean_after_scaled"]),
             ("after, unscaled", m["mean_after_unscaled"])])
    n = r["network"]
    L.step("Train mode versus eval mode",
           f"A {' -> '.join(map(str, n['sizes']))} network with dropout {g(p)} after its "
           f"hidden layer: training passes each draw a new mask; eval mode uses no mask.")
    rows = [["eval", *n["eval"][0], *n["eval"][1]]]
    rows += [[f"train step {k + 1}", *o[0], *o[1]] for k, o in enumerate(n["train"])]
    rows.append([f"mean of {n['passes']} train", *n["train_mean"][0], *n["train_mean"][1]])
    L.table(["mode", "row 1 out 1", "out 2", "row 2 out 1", "out 2"], rows)
    L.note(f"eval mode repeats exactly: {'yes' if n['eval_repeatable'] else 'NO'}; the mean "
           f"of the training passes is within {g(n['train_mean_gap'], 2)} of it")
    L.lesson("dropout zeroes a random fraction p in training and scales the rest by "
             "1/(1-p), so nothing needs changing at inference, where it is off.")
    L.finish(r)


# ------------------------------------------------------------------ spirals

@command.command("spirals", epilog=EPILOG,
                 short_help="Watch a network learn the two spirals' decision boundary.")
@click.option("--epochs", type=click.IntRange(1, 20000), default=200, show_default=True)
@click.option("--hidden", default="32,32", show_default=True, callback=_widths,
              help="Hidden layer widths.")
@click.option("--lr", type=float, default=0.01, show_default=True, callback=_positive,
              help="Adam's learning rate.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--size", type=click.IntRange(10, 400), default=48, show_default=True,
              help="Map width in characters (narrowed to fit the terminal).")
@_format_option
@click.pass_context
def spirals(ctx, epochs, hidden, lr, seed, size, fmt):
    """Train a network on the two spirals and draw its decision boundary as a map: each
    cell coloured by the predicted probability, the data points on top. On a terminal the
    map refreshes as the network learns."""
    from neuralcli import demos

    L = Lesson(ctx, "spirals", {"epochs": epochs, "hidden": hidden, "lr": lr, "seed": seed,
                                "size": size})
    size = max(10, min(size, L.width - 2))
    every = max(1, epochs // 20)
    L.step("The data and the network",
           f"300 points on two interleaved spirals; 2 -> {' -> '.join(map(str, hidden))} "
           f"-> 1 relu, bce loss, Adam lr {g(lr)}, {epochs} epochs. No straight line "
           f"separates the spirals: the network has to bend its boundary around them.")
    if L.console.rich_out and not L.json:
        L.step("Training, the map redrawn as it learns",
               f"Each cell is the network's P(class 1) at that point, redrawn every "
               f"{every} epochs; the data points on top.")
    with L.console.live_map() if not L.json else _Inactive() as live:

        def show(snap):
            live.update(snap["probs"], snap["cells"],
                        f"epoch {snap['epoch']}/{epochs}  loss {snap['loss']:.4f}  "
                        f"accuracy {snap['accuracy']:.1%}")

        r = demos.spirals_boundary(epochs=epochs, hidden=hidden, lr=lr, seed=seed, size=size,
                                   every=every, on_snapshot=show if live.active else None)
    hist = r["history"]
    if not live.active:
        L.step("Training", "Loss and accuracy as the network learns (the map is drawn "
                           "live on a terminal).")
        picks = sorted({0, len(hist) // 4, len(hist) // 2, 3 * len(hist) // 4,
                        len(hist) - 1} & set(range(len(hist))))
        L.table(["epoch", "loss", "accuracy"],
                [[hist[i]["epoch"], hist[i]["loss"], hist[i]["accuracy"]] for i in picks])
        f = r["final"]
        L.step("The decision boundary", f"P(class 1) on a {r['grid']['cols']} x "
                                        f"{r['grid']['rows']} grid after {f['epoch']} "
                                        f"epochs, the data points on top.")
        L.class_map(f["probs"], f["cells"])
    if r["stop_reason"] not in ("completed", ""):
        L.note(r["message"], style="yellow")
    f = r["final"]
    acc, wrong = f["accuracy"], f["misclassified"]
    marked = sum(1 for c in f["cells"] if not c[3])
    shown = (f", shown as capitals in {marked} cell{'s' if marked > 1 else ''} (a cell is "
             f"a capital if any point in it is misclassified)" if wrong else "")
    L.note(f"final accuracy {acc:.1%} on the training points: {wrong} of {r['points']} "
           f"misclassified{shown}",
           style="green" if acc > 0.95 else "yellow")
    L.lesson("hidden layers let the network carve a curved boundary; it starts near a "
             "line and bends as it learns.")
    L.finish(r)


def _p_text(p, cut):
    """A probability as the table prints it, with the distance from the threshold spelled
    out when the usual digits would round it onto the threshold itself: a p printed as
    0.5 is exactly 0.5 and predicts 0."""
    text = cell_text(p)
    if p != cut and text == cell_text(cut):
        return f"{text} {'+' if p > cut else '-'} {abs(p - cut):.1e}"
    return text


class _Inactive:
    """A stand-in for the live map in JSON mode."""
    active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *args):
        pass


# ------------------------------------------------------------------ xor

@command.command("xor", epilog=EPILOG,
                 short_help="One neuron cannot learn XOR; a hidden layer can.")
@click.option("--epochs", type=click.IntRange(1, 100000), default=500, show_default=True)
@click.option("--lr", type=float, default=0.1, show_default=True, callback=_positive,
              help="Adam's learning rate.")
@click.option("--hidden", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Hidden units of the second network.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_format_option
@click.pass_context
def xor(ctx, epochs, lr, hidden, seed, fmt):
    """Train a single neuron and a network with one hidden layer on the four XOR points
    with the real trainer; compare what each predicts."""
    from neuralcli import demos

    r = demos.xor(epochs=epochs, lr=lr, hidden=hidden, seed=seed)
    L = Lesson(ctx, "xor", {"epochs": epochs, "lr": lr, "hidden": hidden, "seed": seed})
    one, deep = r["models"]["single neuron"], r["models"]["hidden layer"]
    cut = r["threshold"]
    L.step("Train both on the four XOR points",
           f"A single neuron p = sigmoid(w1 x1 + w2 x2 + b), and 2 -> {hidden} -> 1 with "
           f"tanh; bce loss, Adam lr {g(lr)}, {epochs} full-batch epochs. Each predicts "
           f"1 when p > {g(cut)}, else 0.")
    rows = [[int(a), int(b), t, _p_text(pa, cut), int(qa), _p_text(pb, cut), int(qb)]
            for (a, b), t, pa, qa, pb, qb in
            zip(r["inputs"], r["targets"], one["probabilities"], one["predictions"],
                deep["probabilities"], deep["predictions"])]
    L.table(["x1", "x2", "xor", "neuron p", "pred", "hidden p", "pred"], rows,
            aligns=["right"] * 7)
    L.step("A single neuron",
           "Its decision boundary is one straight line, w1 x1 + w2 x2 + b = 0.")
    L.note(f"{one['correct']}/4 correct (accuracy {one['accuracy']:.0%}), loss "
           f"{g(one['loss'])}. No line puts (0,1) and (1,0) on one side and (0,0) and "
           f"(1,1) on the other; the best a line can do is 3/4.", style="red")
    off = max(abs(p - 0.5) for p in one["probabilities"])
    if off < 1e-3:
        L.note(f"Yet bce's best line for XOR is no line: at w = 0, b = 0 its gradient is "
               f"zero and the loss is at its minimum, ln 2 = 0.6931, with p = 0.5 on all "
               f"four points. Training got there (every p within {off:.0e} of 0.5), so "
               f"which side of {g(cut)} each p lands on is rounding noise.")
    L.step("One hidden layer",
           f"The {hidden} tanh units map the four points to new coordinates (below); "
           f"there they are linearly separable, and the output neuron draws its line.")
    L.table(["x1", "x2"] + [f"h{j + 1}" for j in range(hidden)][:8],
            [[int(a), int(b), *hv[:8]] for (a, b), hv in zip(r["inputs"],
                                                               deep["hidden_values"])])
    L.note(f"{deep['correct']}/4 correct (accuracy {deep['accuracy']:.0%}), loss "
           f"{g(deep['loss'])}.", style="green" if deep["accuracy"] == 1 else "yellow")
    L.lesson("a line cannot separate XOR; a hidden layer bends the space until one can.")
    L.finish(r)


# ------------------------------------------------------------------ backprop

@command.command("backprop", epilog=EPILOG,
                 short_help="The classic 2-2-2 worked example, every number.")
@click.option("--inputs", default="0.05,0.10", show_default=True, callback=_numbers(2),
              help="i1,i2.")
@click.option("--targets", default="0.01,0.99", show_default=True, callback=_numbers(2),
              help="Targets of o1,o2.")
@click.option("--w1", default="0.15,0.20,0.25,0.30", show_default=True,
              callback=_numbers(4), help="w1..w4: i1->h1, i2->h1, i1->h2, i2->h2.")
@click.option("--w2", default="0.40,0.45,0.50,0.55", show_default=True,
              callback=_numbers(4), help="w5..w8: h1->o1, h2->o1, h1->o2, h2->o2.")
@click.option("--biases", default="0.35,0.60", show_default=True, callback=_numbers(2),
              help="Hidden bias, output bias.")
@click.option("--lr", type=float, default=0.5, show_default=True, callback=_positive)
@_format_option
@click.pass_context
def backprop(ctx, inputs, targets, w1, w2, biases, lr, fmt):
    """Every step of forward pass, error, backward pass and one SGD update of a 2-2-2
    sigmoid network, in float64, with the published numbers of the classic example
    (Matt Mazur's) beside the engine's when the defaults are used."""
    from neuralcli import demos

    r = demos.backprop(inputs=inputs, targets=targets, w1=w1, w2=w2, biases=biases, lr=lr)
    L = Lesson(ctx, "backprop", {"inputs": inputs, "targets": targets, "w1": w1, "w2": w2,
                                 "biases": biases, "lr": lr})
    pub = {c["quantity"]: c for c in r["published"]}
    cols_pub = ["published", "match"] if pub else []

    def row(label, key, value=None):
        v = r["values"][key] if value is None else value
        cells = [label, f"{v:.9f}"]
        if pub:
            c = pub.get(key)
            cells += [c["published"], ("ok" if c["agrees"] else "see note")] if c else ["", ""]
        return cells

    aligns = ["left", "right"] + (["right", "left"] if pub else [])
    s = r["setup"]
    L.step("The network", "i1, i2 -> h1, h2 -> o1, o2, sigmoid on both layers, float64. "
                          "W1 rows are inputs, columns hidden units; W2 likewise.")
    L.pairs([("inputs, targets", f"{s['inputs']}, {s['targets']}"),
             ("W1 = [[w1, w3], [w2, w4]]", str(r["W1"])),
             ("W2 = [[w5, w7], [w6, w8]]", str(r["W2"])),
             ("biases (hidden, output)", f"{s['biases'][0]:g}, {s['biases'][1]:g}"),
             ("learning rate", s["lr"])])
    L.step("Forward pass", "Hidden layer: net_h = x W1 + b1, out_h = sigmoid(net_h); "
                           "output layer: net_o = out_h W2 + b2, out_o = sigmoid(net_o). One "
                           "fused dense kernel call per layer.")
    L.table(["value", "engine"] + cols_pub,
            [row(k, k) for k in ("net_h1", "net_h2", "out_h1", "out_h2", "net_o1", "net_o2",
                                 "out_o1", "out_o2")], aligns=aligns)
    e = r["error"]
    L.step("The error", "Our mse kernel takes the mean over the 2 outputs of (o - t)^2, "
                        "which is the example's sum of 1/2 (t - o)^2; its gradient is o - t, "
                        "the example's dE/do.")
    L.table(["value", "engine"] + cols_pub,
            [row("E_o1", "E_o1"), row("E_o2", "E_o2"), row("E_total (mse kernel)", "E_total"),
             row("dE/dout_o1 (kernel)", "dE/dout_o1"), row("dE/dout_o2 (kernel)",
                                                           "dE/dout_o2")], aligns=aligns)
    L.note("checked: mse = sum of 1/2 (t-o)^2 " + ("yes" if e["mse_equals_half_sum"] else "NO")
           + "; gradient = o - t " + ("yes" if e["gradient_equals_o_minus_t"] else "NO"))
    L.step("Backward: output layer",
           "delta_o = dE/dout_o * out_o (1 - out_o); dE/dw = out_h * delta_o. The dense "
           "backward kernel returns these (its db of one row is delta).")
    L.table(["value", "engine"] + cols_pub,
            [row("dout_o1/dnet_o1", "dout_o1/dnet_o1"), row("delta_o1", "delta_o1")] +
            [row(f"dE/d{w}", f"dE/d{w}") for w in ("w5", "w6", "w7", "w8")], aligns=aligns)
    b = r["backward"]
    L.step("Backward: hidden layer",
           "dE/dout_h = W2 delta_o (the error reaching each hidden unit), then the same "
           "rule one layer down.")
    L.table(["value", "engine"] + cols_pub,
            [row("dE/dout_h1", "dE/dout_h1"), row("dout_h1/dnet_h1", "dout_h1/dnet_h1")] +
            [row(f"dE/d{w}", f"dE/d{w}") for w in ("w1", "w2", "w3", "w4")], aligns=aligns)
    L.note(f"the network's own backward pass (all layers in one call) agrees: max "
           f"difference {g(b['network_agrees'])}")
    u = r["update"]
    L.step(f"Update: w <- w - {g(lr)} * dE/dw",
           "One sgd kernel call on the flat parameter buffer (weights and biases).")
    L.table(["weight", "before"] + (["after", "published", "match"] if pub else ["after"]),
            [[w, g(u["weights_before"][w], 6), *row(w, w)[1:]] for w in
             ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")],
            aligns=["left", "right"] + aligns[1:])
    bb, ba = u["biases_before"], u["biases_after"]
    L.note(f"biases: the example leaves them at {g(bb[0])} and {g(bb[2])}; our engine gives "
           f"each unit its own bias and updates it: hidden {g(ba[0], 6)}, {g(ba[1], 6)}, "
           f"output {g(ba[2], 6)}, {g(ba[3], 6)}.")
    L.note(f"error after the step: {u['error_after_biases_held']:.9f} with biases held (as "
           f"the example), {u['error_after_engine']:.9f} with them updated (the engine).")
    if pub:
        c = pub["E_total_after"]
        L.note(f"published: {c['published']}; {c['note']}.")
        total = sum(1 for c in r["published"] if "note" not in c)
        agree = sum(1 for c in r["published"] if "note" not in c and c["agrees"])
        L.note(f"{agree} of {total} published numbers reproduced to their printed digits",
               style="green" if agree == total else "red")
    L.lesson("backpropagation is the chain rule applied layer by layer, each layer's error "
             "signal computed from the one above.")
    L.finish(r)
