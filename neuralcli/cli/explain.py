"""neuralcli explain and explain-neuron: how a network computes and learns, step by step,
on your model and your data, with the numbers its kernels produce."""
import click

from neuralcli import optim
from neuralcli.cli import format_option
from neuralcli.cli.options import positive_float, reading_kwargs, reading_options

# the optimizers `train --optimizer` offers, for the update step
OPTIMIZERS = list(optim.OPTIMIZERS)

EPILOG = """\b
Examples:
  neuralcli explain model.ncm --row 3 data.csv
  neuralcli explain model.ncm --input "42,rome,51000" --target yes --lr 0.05
  neuralcli explain model.ncm --row 3 data.csv --optimizer sgd --lr 0.1
  neuralcli explain model.ncm --row 1 data.csv --format json > trace.json
  neuralcli explain model.ncm --row 3 data.csv --attributions
  neuralcli explain model.ncm --row 3 data.csv --attributions --class no --json
"""

NEURON_EPILOG = """\b
Examples:
  neuralcli explain-neuron --inputs 45000,680,3,12000 \\
      --weights 0.00001,0.01,0.1,-0.00005 --bias -3
  neuralcli explain-neuron --inputs 1,0 --weights 0.6,0.6 --bias -1 --activation sigmoid
"""


@click.command("explain", epilog=EPILOG, short_help="Trace one row through a model.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", required=False, type=click.Path())
@click.option("--row", type=int, help="Data row of DATA to trace (1 = the first row "
                                      "after the header).")
@click.option("--input", "input_text", help="The row's values, comma-separated, in the "
                                            "order of the model's input columns.")
@click.option("--target", help="The true value, for the loss and backward pass (default: "
                               "DATA's target column when it has one).")
@click.option("--top", type=int, default=3, show_default=True,
              help="Neurons, inputs and weights to show per layer (largest first).")
@click.option("--lr", type=float, help="Learning rate of the update step shown at the end "
                                        "(default: the model's own).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS),
              help="Optimizer of the update step shown at the end (default: the model's "
                   "own).")
@click.option("--attributions", is_flag=True,
              help="Instead of the trace, each input column's share of the row's output "
                   "(integrated gradients from the training mean).")
@click.option("--steps", type=int, help="Intervals of the path from the training mean to "
                                        "the row, for --attributions (default: 64).")
@click.option("--class", "class_name", help="The class whose probability --attributions "
                                            "explains (default: the predicted class).")
@format_option(json_flag=True)
@reading_options
@click.pass_obj
def command(app, model_path, data, row, input_text, target, top, lr, optimizer,
            attributions, steps, class_name, delimiter, na_values, decimal, thousands,
            encoding):
    """Trace one row through MODEL: the network, the preprocessing of each value, the
    forward pass neuron by neuron, the loss, the backward pass and one update step of the
    model's optimizer at its learning rate, from a fresh optimizer state.

    Give the row as --row N with DATA.csv, or as --input "v1,v2,...". Every number shown
    is what the training engine computes for that row.

    With --attributions: how much each input column moved the row's output (a class's
    probability, or the prediction) away from the output at the training mean, by
    integrated gradients along the straight path between them, with the engine's
    gradients; the attributions add up to the difference, and the check is shown."""
    from neuralcli.cli.app import CliError
    from neuralcli.model import TrainedModel
    from neuralcli.cli import source
    from neuralcli.trace import row_table, trace

    if top < 1:
        raise click.BadParameter(f"must be at least 1, got {top}", param_hint="--top")
    positive_float("--lr", lr)
    if (row is None) == (input_text is None):
        raise click.UsageError("give either --row N with DATA.csv, or --input \"v1,v2,...\"")
    if row is not None and data is None:
        raise click.UsageError("--row needs DATA.csv")
    if not attributions:
        for name, given in (("--steps", steps), ("--class", class_name)):
            if given is not None:
                raise click.UsageError(f"{name} applies to --attributions")
    elif steps is not None and steps < 1:
        raise click.BadParameter(f"must be at least 1, got {steps}", param_hint="--steps")
    model = TrainedModel.load(model_path)
    if attributions:
        _attributions(app, model, model_path, data, row, input_text, steps, class_name,
                      reading_kwargs(delimiter, na_values, decimal, thousands, encoding))
        return
    if optimizer is None and model.settings.optimizer not in OPTIMIZERS:
        raise CliError(f"{model_path} was trained with optimizer "
                       f"{model.settings.optimizer!r}, which this version does not have; "
                       f"pass --optimizer {'|'.join(OPTIMIZERS)} for the update step")
    if row is not None:
        table = source.read(app.console, data,
                            reading_kwargs(delimiter, na_values, decimal, thousands,
                                           encoding),
                            kinds=model.pre.input_kinds(), formats=model.pre.input_formats())
        if not 1 <= row <= table.n_rows:
            raise CliError(f"{table.path} has {table.n_rows} data rows; --row must lie in "
                           f"1..{table.n_rows}, got {row}")
        result = trace(model, table, row=row - 1, target=target, top=top, lr=lr,
                       optimizer=optimizer)
    else:
        import csv
        values = next(csv.reader([input_text]))
        table = row_table(model.pre, values, target=target)
        result = trace(model, table, top=top, lr=lr, optimizer=optimizer)
    console = app.console
    if console.format == "json":
        console.json(result)
        return
    _render(console, result, model_path)


# ------------------------------------------------------------------ attributions

def _attributions(app, model, model_path, data, row, input_text, steps, class_name,
                  reading):
    """explain --attributions: integrated gradients of one row, shown or as JSON."""
    from neuralcli.attribution import DEFAULT_STEPS, integrated_gradients
    from neuralcli.cli import source
    from neuralcli.cli.app import CliError
    from neuralcli.trace import row_table

    console = app.console
    pre = model.pre
    index = None
    if class_name is not None:
        if model.task == "regression":
            raise CliError(f"--class applies to a classifier; {model_path} is a regression "
                           f"model, whose prediction --attributions explains")
        if class_name not in pre.class_names:
            raise CliError(f"--class {class_name!r} is not a class of {model_path}; its "
                           f"classes are {', '.join(pre.class_names)}")
        index = pre.class_names.index(class_name)
    if row is not None:
        table = source.read(console, data, reading, kinds=pre.input_kinds(),
                            formats=pre.input_formats())
        if not 1 <= row <= table.n_rows:
            raise CliError(f"{table.path} has {table.n_rows} data rows; --row must lie in "
                           f"1..{table.n_rows}, got {row}")
        at, where = row - 1, f"row {row} of {table.path}"
    else:
        import csv
        table = row_table(pre, next(csv.reader([input_text])))
        at, where = 0, "the --input row"
    X = model.encode_inputs(table, rows=[at])
    for note in pre.last_notes:
        console.note(note)
    try:
        ig = integrated_gradients(model, X, index=index,
                                  steps=DEFAULT_STEPS if steps is None else steps)
    except ValueError as err:
        raise CliError(f"{model_path}: {err}; --attributions needs gradients") from None
    values = {c.column: table.data[table.columns.index(c.column)].text(at)
              for c in ig.columns}
    if console.format == "json":
        console.json({
            "row": row, "output": ig.output, "kind": ig.kind,
            "class": None if ig.kind != "probability" else pre.class_names[ig.index],
            "baseline": "training mean", "method": "integrated gradients",
            "steps": ig.steps, "rule": ig.rule, "points": ig.points,
            "f_row": ig.f_row, "f_baseline": ig.f_baseline,
            "difference": ig.f_row - ig.f_baseline, "sum": ig.total, "error": ig.error,
            "baseline_uniform": list(ig.unrecorded),
            "attributions": [{"column": c.column, "value": values[c.column],
                              "attribution": c.value,
                              "inputs": [{"input": n, "value": v, "baseline": b,
                                          "attribution": a} for n, v, b, a in c.inputs]}
                             for c in ig.columns]})
        return
    what = ig.output if ig.kind == "probability" else f"the prediction of {ig.output}"
    _say(console, f"Integrated gradients of {what} for {where}", style="bold",
         prose=True)
    for name in ig.unrecorded:
        console.note(f"{model_path} does not record the training shares of column "
                     f"{name!r}'s categories (an older model file); its baseline is "
                     f"uniform over them")
    _prose(console, f"The baseline is the training mean of every input: each number at its "
                  f"mean, each category at its share of the training rows. "
                  f"{ig.steps} equal steps of the trapezoid rule from the baseline to the "
                  f"row" + (f", refined to {ig.points} points where a step missed the "
                            f"change of the output" if ig.points > ig.steps + 1 else "") +
                  ". Each column's attribution is its share of the output's change; a "
                  "category's inputs are summed into its column.")
    console.line()
    order = sorted(ig.columns, key=lambda c: -abs(c.value))
    _table(console, ["column", "value", "attribution"],
           [[c.column, values[c.column] or "(empty)", _n(c.value)] for c in order],
           ["left", "left", "right"])
    console.line()
    diff = ig.f_row - ig.f_baseline
    _table(console, ["completeness check", ig.output],
           [["at the row", _n(ig.f_row)], ["at the baseline", _n(ig.f_baseline)],
            ["difference", _n(diff)], ["sum of attributions", _n(ig.total)],
            ["error", f"{ig.error:+.1e}"]], ["left", "right"])


def _prose(console, text):
    """A dim paragraph wrapped to the console's width, its lines flush left."""
    import textwrap

    for ln in textwrap.wrap(text, max(20, console.width - 1), break_on_hyphens=False):
        console.text(ln, style="dim")


# ------------------------------------------------------------------ rendering

def _n(v):
    """A signed number to four decimals; a large one, or one that is not zero but would
    read +0.0000 or -0.0000, in scientific notation."""
    from neuralcli.trace import fixed

    if abs(v) >= 1e4:
        return f"{v:+.3e}"
    return fixed(v, sign=True)


def _size(v):
    """A norm or other size, unsigned, as _n writes it."""
    return _n(v)[1:]


def _shape(s):
    return "x".join(str(v) for v in s)


def _top_vec(names, values, k):
    order = sorted(range(len(values)), key=lambda i: (-abs(values[i]), i))[:k]
    text = ", ".join(f"{names[i]} {_n(values[i])}" for i in order)
    if len(values) > k:
        norm = sum(v * v for v in values) ** 0.5
        text += f"  (+{len(values) - k} more; norm {_size(norm)})"
    return text


def _breaks(text):
    """Where text may break: (start, end, depth, kind) for each run of spaces inside it,
    with the bracket depth there; kind 0 before a '+ ' or '- ' operator, so between the
    terms of a sum, 1 after punctuation, 2 before '= ', 3 elsewhere."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text[i] != " ":
            depth = max(0, depth + (text[i] in "([{") - (text[i] in ")]}"))
            i += 1
            continue
        j = i
        while j < len(text) and text[j] == " ":
            j += 1
        if 0 < i and j < len(text):
            after = text[j:j + 2]
            kind = (0 if after in ("+ ", "- ") else 1 if text[i - 1] in ",;:" else
                    2 if after == "= " else 3)
            out.append((i, j, depth, kind))
        i = j
    return out


def _wrap(text, width, prose=False):
    """text in lines of at most `width` columns, continuation lines indented 4 more than
    its own indent. Lines break only at spaces, so no number or term is cut: a formula's
    at the shallowest bracket depth in the line's second half, before a sum's operator
    where it can (the operator opens the next line), else after punctuation, else before
    an '='; prose at the last space that fits. A word longer than a line is cut (only a
    name is that long)."""
    lead = len(text) - len(text.lstrip(" "))
    rest, prefix, lines = text.strip(), " " * lead, []
    while len(prefix) + len(rest) > width:
        room = max(1, width - len(prefix))
        spots = [b for b in _breaks(rest) if b[0] <= room]
        if not spots:
            lines.append(prefix + rest[:room])
            rest = rest[room:]
        else:
            if prose:
                cut = spots[-1]
            else:
                late = [b for b in spots if 2 * b[0] >= room] or spots
                cut = min(late, key=lambda b: (b[2], b[3], -b[0]))
            lines.append(prefix + rest[:cut[0]])
            rest = rest[cut[1]:]
        prefix = " " * (lead + 4)
    lines.append(prefix + rest)
    return lines


def _say(console, text, style=None, prose=False):
    """A line wrapped to the console's width (see _wrap)."""
    for ln in _wrap(text, max(20, console.width - 1), prose):
        if style:
            console.text(ln, style=style)
        else:
            console.line(ln)


def _table(console, columns, rows, aligns):
    """A table; off a terminal, where it would be wider than the console, one wrapped
    line per row instead: "first cell: column value, column value, ..."."""
    from neuralcli.cli.console import cell_text

    if not console.rich_out:
        cells = [list(columns)] + [[cell_text(v) for v in r] for r in rows]
        wide = sum(max(len(r[i]) for r in cells) for i in range(len(columns))) + \
            2 * (len(columns) - 1)
        if wide > console.width - 1:
            for r in cells[1:]:
                _say(console, f"  {r[0]}: " + ", ".join(f"{c} {v}" for c, v in
                                                       zip(columns[1:], r[1:])))
            return
    console.table(columns, rows, aligns=aligns)


def _section(console, number, title, why):
    console.line()
    console.heading(f"{number}. {title}")
    _say(console, why, style="dim", prose=True)


def _diagram(console, net):
    """The layers side by side when they fit the terminal, else one per line."""
    boxes = [(f"input ({net['inputs']})", "", "")]
    for layer in net["layers"]:
        name = "output" if layer["kind"] == "output" else f"hidden {layer['layer']}"
        boxes.append((f"{name} ({layer['out']}, {layer['activation']})",
                      f"W {_shape(layer['weights'])} + b {layer['out']}",
                      f"{layer['params']:,} params"))
    widths = [max(len(t) for t in b) for b in boxes]
    total = sum(widths) + 6 * (len(boxes) - 1) + 2
    if total <= console.width:
        for k in range(3):
            parts = []
            for i, b in enumerate(boxes):
                sep = "  ->  " if k == 0 and i else "      " if i else ""
                parts.append(sep + b[k].ljust(widths[i]))
            console.line("  " + "".join(parts).rstrip())
    else:
        for i, b in enumerate(boxes):
            console.line(f"  {'-> ' if i else '   '}{b[0]}" + (f"   {b[1]}, {b[2]}" if b[1]
                                                             else ""))
    link = net["output"]["link"]
    if link != "none":
        _say(console, f"  the output is read through {link} as probabilities; "
                      f"{net['params']:,} parameters in all")


def _render(console, t, model_path):
    _say(console, f"How {model_path} computes and learns, on one row", style="bold",
         prose=True)
    for note in t["notes"]:
        console.note(note)
    _section(console, 1, "Network", t["why"]["network"])
    _diagram(console, t["network"])

    _section(console, 2, "Preprocessing", t["why"]["preprocessing"])
    rows = []
    for p in t["preprocessing"]:
        enc = p["encoded"]
        shown = _n(enc[0]) if p["kind"] == "numeric" else \
            "[" + ",".join(f"{v:g}" for v in enc[:8]) + (",..." if len(enc) > 8 else "") + "]"
        rows.append([p["column"], p["raw"] or "(empty)", shown, p["formula"]])
    _table(console, ["column", "raw", "encoded", "how"], rows, ["left"] * 4)

    _section(console, 3, "Forward pass", t["why"]["forward"])
    for layer in t["forward"]:
        s = layer["shapes"]
        _say(console, f"  Layer {layer['layer']}: Z = X.W + b   ({_shape(s['x'])}).("
                     f"{_shape(s['W'])}) + ({_shape(s['b'])}) -> ({_shape(s['z'])}), "
                     f"then {layer['activation']}")
        for nr in layer["neurons"]:
            _say(console, f"    {nr['name']}: z = {_n(nr['z'])} -> {layer['activation']} -> "
                         f"a = {_n(nr['a'])}")
            for c in nr["contributions"]:
                push = {"up": "pushes up", "down": "pushes down", "none": ""}[c["direction"]]
                _say(console, f"      {c['input'][:24]:<24} {_n(c['value'])} x "
                             f"{_n(c['weight'])} = {_n(c['product'])}  {push}")
            if nr["more"]["count"]:
                _say(console, f"      +{nr['more']['count']} more inputs, together "
                             f"{_n(nr['more']['total'])}")
            _say(console, f"      contributions {_n(nr['sum'])} + bias {_n(nr['bias'])} = "
                         f"z {_n(nr['z'])}")
        if layer["more_neurons"]:
            _say(console, f"    +{layer['more_neurons']} more neurons (showing the "
                         f"{len(layer['neurons'])} most active)")
    out = t["output"]
    console.line()
    if out["kind"] == "class":
        _say(console, f"  Output: {out['how']}", prose=True)
        from neuralcli.trace import fixed

        probs = ", ".join(f"{k} {fixed(v)}" for k, v in out["probabilities"].items())
        _say(console, f"  probabilities: {probs}")
    _say(console, f"  The model {out['meaning']}.", style="bold", prose=True)

    loss = t["loss"]
    if loss is None:
        console.line()
        console.note("no target given: pass --target (or a DATA row with the target column) "
                     "to see the loss, the backward pass and a gradient step")
        return
    _section(console, 4, "Loss", t["why"]["loss"])
    _say(console, f"  truth: {t['target_name']} = {loss['truth']}"
         + (f"; {loss['scale']}" if loss["scale"] else ""))
    _say(console, f"  {loss['name']} = {loss['formula']}")
    _say(console, f"  {loss['meaning']}.", style="bold", prose=True)

    _section(console, 5, "Backward pass", t["why"]["backward"])
    k = len(t["forward"][0]["neurons"])
    for b in t["backward"]:
        names = b["names"]
        _say(console, f"  Layer {b['layer']} ({b['activation']}):")
        _say(console, f"    dL/dA   = {_top_vec(names, b['dL_dA'], k)}")
        if b["act_derivative"] is None:
            _say(console, "    softmax: dL/dZ = A * (dL/dA - sum(dL/dA * A)) per row")
        elif all(v in (0.0, 1.0) for v in b["act_derivative"]):
            on = sum(1 for v in b["act_derivative"] if v == 1.0)
            _say(console, f"    act'(Z) = 1 for the {on} active neurons, 0 for the "
                         f"{len(names) - on} inactive ones (their error stops here)"
                         if on < len(names) else "    act'(Z) = 1 everywhere")
        else:
            _say(console, f"    act'(Z) = {_top_vec(names, b['act_derivative'], k)}")
        _say(console, f"    dL/dZ   = dL/dA * act'(Z) = {_top_vec(names, b['dL_dZ'], k)}")
        c, oc = b["dW_shape"]
        _say(console, f"    dW = A_prev^T . dZ: ({c}x1).(1x{oc}) -> ({c}x{oc}), norm "
                     f"{_size(b['dW_norm'])};  db = dZ ({oc})")
        if b["layer"] > 1:
            _say(console, f"    error passed back, dL/dA_prev = dZ . W^T: (1x{oc}).({oc}x{c}) "
                         f"-> (1x{c}) = {_top_vec(b['prev_names'], b['dX'], k)}")
        if not b["blame"]:
            _say(console, f"    no blame to assign: {b['no_blame']}")
            continue
        blame = "; ".join(f"{x['from']} -> {x['to']} (w {_n(x['weight'])}, dL/dw "
                          f"{_n(x['grad'])})" for x in b["blame"][:3])
        _say(console, f"    most blame: {blame}")

    st = t["step"]
    _section(console, 6, f"One {st['optimizer']} step (learning rate {st['lr']:g})",
             t["why"]["step"])
    _say(console, f"  {_step_setup(st)}")
    _table(console, ["parameter", "before", "gradient", "after", "change"],
           [[c["param"], c["before"], c["grad"], c["after"], c["delta"]]
            for c in st["changes"]], ["left"] + ["right"] * 4)
    _say(console, f"  {_step_verdict(st)}", style="bold")
    _say(console, f"  after the step the model {st['output_after']['meaning']}.",
         prose=True)


def _step_setup(st):
    """Which optimizer and learning rate the step used and whose they are, and the
    settings that shape a first step."""
    text = f"one {st['optimizer']} step at lr {st['lr']:g}, from a fresh optimizer state"
    given = [f"--{k}" for k in ("optimizer", "lr") if st["source"][k] == "given"]
    if given:
        text += (f" ({' and '.join(given)} given; the model trained with "
                 f"{st['model_optimizer']} at lr {st['model_lr']:g})")
    else:
        text += " (the model's own settings)"
    hyper = st["hyperparameters"]
    if hyper.get("weight_decay"):
        text += (f"; {'decoupled ' if st['optimizer'] == 'adamw' else ''}weight decay "
                 f"{hyper['weight_decay']:g}")
    if hyper.get("momentum") and st["optimizer"] == "sgd":
        text += (f"; momentum {hyper['momentum']:g}, with no velocity yet, so a plain "
                 f"gradient step")
    if st["clipped"]:
        text += (f"; the row's gradient norm {st['gradient_norm']:.4g} clipped to "
                 f"{st['clip_norm']:g}, as in training")
    return text


def _step_verdict(st):
    """The loss before and after the step, and whether it measurably dropped or rose."""
    from neuralcli.trace import loss_format

    spec, _ = loss_format(st["loss_before"], st["loss_after"])
    before, after = f"{st['loss_before']:{spec}}", f"{st['loss_after']:{spec}}"
    text = f"loss {before} -> {after}"
    if st["change"] and (st["verdict"] == "no change" or before == after):
        text += f" (change {st['change']:+.1e})"
    if st["verdict"] == "helped":
        return f"{text}: the update helped."
    if st["verdict"] == "no change":
        return f"{text}: no measurable change" + (", within rounding." if st["change"]
                                                  else ".")
    cause = "the step was too large for this row"
    if st["hyperparameters"].get("weight_decay"):
        cause += ", or weight decay outweighed it"
    return f"{text}: the update did not help: the loss rose ({cause})."


@click.command("explain-neuron", epilog=NEURON_EPILOG,
               short_help="One neuron's decision, input by input.")
@click.option("--inputs", required=True, help="Input values, comma-separated.")
@click.option("--weights", required=True, help="One weight per input, comma-separated.")
@click.option("--bias", type=float, required=True, help="The neuron's bias.")
@click.option("--activation", type=click.Choice(["step", "sigmoid", "relu", "tanh"]),
              default="step", show_default=True)
@click.option("--names", help="Names of the inputs, comma-separated (for display).")
@format_option()
@click.pass_obj
def neuron_command(app, inputs, weights, bias, activation, names):
    """One neuron's decision, as a loan officer weighs an application: each input times
    its weight pushes toward yes or no; their sum plus the bias is the pre-activation,
    and the activation turns it into the decision."""
    from neuralcli.trace import neuron

    from neuralcli.cli.options import number_list

    x = number_list(inputs, "--inputs")
    w = number_list(weights, "--weights")
    bias = number_list(str(bias), "--bias", count=1)[0]
    if len(x) != len(w) or not x:
        raise click.BadParameter(f"{len(x)} inputs but {len(w)} weights; give one weight "
                                 f"per input", param_hint="--weights")
    labels = [s.strip() for s in names.split(",")] if names else \
        [f"x{i + 1}" for i in range(len(x))]
    if len(labels) != len(x):
        raise click.BadParameter(f"{len(labels)} names for {len(x)} inputs",
                                 param_hint="--names")
    result = neuron(x, w, bias, activation)
    for item, label in zip(result["inputs"], labels):
        item["name"] = label
    console = app.console
    if console.format == "json":
        console.json(result)
        return
    console.heading("One neuron's decision")
    console.text("Each input is multiplied by its weight; a positive product pushes toward "
                 "yes, a negative one toward no.", style="dim")
    console.table(["input", "value", "weight", "value x weight", "pushes toward"],
                  [[i["name"], i["input"], i["weight"], i["product"], i["direction"]]
                   for i in result["inputs"]], aligns=["left", "right", "right", "right",
                                                       "left"])
    console.line(f"  weighted sum {result['weighted_sum']:+.6g} + bias {result['bias']:+.6g} "
                 f"= pre-activation z {result['z']:+.6g}")
    console.line(f"  {result['reading']}")
    console.text(f"  decision: {result['decision']}", style="bold")
