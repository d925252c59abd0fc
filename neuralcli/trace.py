"""Step-by-step traces of how a trained network computes and learns on one row.

Every number comes from the engine's own kernels: the dense forward and backward of each
layer, the loss kernel, and for the update step the optimizer that trains the model. A
trace is plain data (dicts, lists, floats) for the CLI to render or print as JSON;
contributions (input times weight) are the one quantity computed here, as the products
whose sum the kernel's z is."""
import math

import numpy as np

from neuralcli import _kernels, kernels
from neuralcli.errors import DataError
from neuralcli.preprocess import DATE_FEATURES
from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn, date_text
from neuralcli.losses import evaluate
from neuralcli.network import layer_slices

WHY = {
    "network": "The shapes fix what the network can compute: every layer is a matrix "
               "product, a bias and a non-linearity.",
    "preprocessing": "Raw values become numbers on one scale, so no input dominates just "
                     "by its units; the statistics come from the training data.",
    "forward": "Each neuron weighs its inputs, adds its bias and bends the sum with its "
               "activation; the next layer sees only these outputs.",
    "loss": "The loss turns 'how wrong' into one number; its gradient is where learning "
            "starts.",
    "backward": "The chain rule carries the error back layer by layer: each weight's "
                "gradient is (its input) x (the error at its neuron).",
    "step": "One step of the optimizer moves every weight against its gradient; the loss "
            "on this row should drop.",
}


def _step_why(opt):
    """What one step of optimizer `opt` does from a fresh state, as training's first step."""
    if opt.name == "sgd":
        return ("Gradient descent moves every weight against its gradient, by the learning "
                "rate times the gradient; a small enough step lowers the loss on this row.")
    if opt.name == "rmsprop":
        return (f"RMSprop divides each gradient by the root of its running mean square; from "
                f"a fresh state that holds (1 - alpha) times this gradient squared, so every "
                f"weight moves by about {1 / math.sqrt(1 - opt.alpha):.3g} times the learning "
                f"rate against its gradient's sign, however small the gradient.")
    return (f"{'AdamW' if opt.name == 'adamw' else 'Adam'} steps by each gradient's running "
            f"averages; from a fresh state they hold this one gradient, so after bias "
            f"correction every weight moves by about the learning rate against its "
            f"gradient's sign, however small the gradient.")


def row_table(pre, values, *, target=None):
    """A one-row Table from values given as text in the order of the model's input
    columns (and the target's value when given), each typed as its training column."""
    cols = list(pre.input_columns)
    if len(values) != len(cols):
        raise DataError(f"--input has {len(values)} values, the model takes {len(cols)}: "
                        f"{', '.join(cols)}", hint="give one value per column, in that order")
    data = [_cell(s["kind"], v, s.get("number_format")) for s, v in zip(pre.specs, values)]
    if target is not None:
        cols.append(pre.target)
        data.append(target_cell(pre, target))
    return Table(cols, data, path="--input", lines=np.array([2]))


def target_cell(pre, text):
    """The target's value as a one-row column of the kind the model's target is."""
    return _cell("text" if pre.label_kind == "text" else "number", text)


def _cell(kind, text, fmt=None):
    """One cell as a one-row column of `kind`, read by the reader's rules: numbers as
    float() reads them, or in the column's NumberFormat `fmt` (NaN and inf kept, to be
    refused), ISO dates and date-times, the default missing-value markers missing."""
    from neuralcli.reader import DEFAULT_NA, _date, _formatted

    text = str(text).strip()
    missing = text == "" or text in DEFAULT_NA
    gone = np.array([missing])
    if kind == "text":
        return TextColumn(np.array([-1 if missing else 0], dtype=np.int32),
                          [] if missing else [text], first_text=None if missing else (0, text))
    if missing:
        cls = NumberColumn if kind == "number" else DateColumn
        return cls(np.array([np.nan]), gone)
    if kind == "number":
        v = _formatted(text, fmt)
        if v is None:
            return NumberColumn(np.array([np.nan]), gone, bad=1, first_bad=(0, text))
        if not math.isfinite(v):
            return NumberColumn(np.array([v]), gone, nonfinite=1, first_nonfinite=(0, text))
        return NumberColumn(np.array([v]), gone, integral=v.is_integer())
    parsed = _date(text)
    if parsed is None:
        return DateColumn(np.array([np.nan]), gone, bad=1, first_bad=(0, text))
    return DateColumn(np.array([parsed[0]]), gone, has_time=parsed[1])


def fixed(v, places=4, sign=False):
    """v to `places` decimals (with its sign when `sign`); one that is not zero but would
    read as zero there, in scientific notation to two significant digits."""
    plus = "+" if sign else ""
    text = f"{v:{plus}.{places}f}"
    if v != 0 and float(text) == 0:
        return f"{v:{plus}.1e}"
    return text


def probability(p, q, paren=False):
    """A probability p whose complement 1 - p is q (computed without cancellation), as
    fixed writes it, but as "1 - q" when it is below 1 yet would read 1.0000 (the log of
    such a p is what a tiny loss is made of); in parentheses when `paren`, so that a
    formula does not break inside it."""
    if 0 < q and f"{1 - q:.4f}" == "1.0000":
        return f"(1 - {q:.1e})" if paren else f"1 - {q:.1e}"
    return fixed(p)


def loss_format(before, after):
    """How the update step shows the loss before and after it: (format spec, resolution).
    Six decimals, or, when either is not zero but below 1e-5 (where six decimals leave it
    one significant digit or none), both in scientific notation to two significant
    digits. The resolution is half a unit in the last place shown of the larger: a change
    within it does not show."""
    if any(v != 0 and abs(v) < 1e-5 for v in (before, after)):
        exponent = int(f"{max(abs(before), abs(after)):.1e}".split("e")[1])
        return ".1e", 0.05 * 10.0 ** exponent
    return ".6f", 5e-7


def _sigmoid(z):
    """sigmoid(z) in float64 with no cancellation at either end, as the bce kernel takes
    it: exp only of a non-positive number."""
    e = math.exp(-abs(z))
    return 1 / (1 + e) if z >= 0 else e / (1 + e)


SMALL_LAYER = 8  # layers (and inputs) up to this wide are shown whole


def _shown(count, top):
    """How many of `count` neurons or inputs to show: all of a small layer, else top K."""
    return count if count <= max(top, SMALL_LAYER) else top


def _top(values, k):
    """Indices of the k largest |values|, largest first (stable for ties)."""
    order = sorted(range(len(values)), key=lambda i: (-abs(values[i]), i))
    return order[:k]


def _vec(v):
    return [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]


def _neuron_names(model, layer, width):
    last = layer == model.net.n_layers - 1
    if last and model.task == "multiclass":
        return [f"out:{n}" for n in model.pre.class_names]
    if last:
        return ["out"] if width == 1 else [f"out{j + 1}" for j in range(width)]
    return [f"h{layer + 1}.{j + 1}" for j in range(width)]


def _value(column, row, kind):
    """A present cell's number (or day count), also from a column read as text."""
    if column.kind != "text":
        return float(column.values[row])
    from neuralcli.reader import _date, _number

    text = column.categories[column.codes[row]]
    return _number(text) if kind == "number" else _date(text)[0]


def _preprocessing(pre, table, row, x):
    """Each input column's raw value and its inputs in x (the row's dense expansion)."""
    out = []
    at = 0
    blocks = {name: (start, size) for name, start, size in pre.blocks}
    for s in pre.specs:
        column = table.column(s["name"])
        raw = column.text(row)   # as the user wrote it, numbers in their shortest form
        filled = raw == "" and s.get("fill") is not None
        if s["kind"] == "number":
            v = float(s["fill"]) if filled else _value(column, row, "number")
            enc = float(x[at])
            out.append({"column": s["name"], "kind": "numeric", "raw": raw,
                        "filled": filled, "mean": s["mean"], "scale": s["scale"],
                        "encoded": [enc], "features": [s["name"]],
                        "formula": f"({v:g} - {s['mean']:.4g}) / {s['scale']:.4g} = "
                                   f"{fixed(enc, sign=True)}"})
            at += 1
        elif s["kind"] == "date":
            v = float(s["fill"]) if filled else _value(column, row, "date")
            enc = [float(e) for e in x[at:at + len(DATE_FEATURES)]]
            day = np.datetime64(int(math.floor(v)), "D").item()
            out.append({"column": s["name"], "kind": "date", "raw": raw, "filled": filled,
                        "mean": s["mean"], "scale": s["scale"], "encoded": enc,
                        "features": [f"{s['name']}:{f}" for f in DATE_FEATURES],
                        "formula": f"{date_text(v)} is day {v:g} since 1970: ({v:g} - "
                                   f"{s['mean']:.6g}) / {s['scale']:.4g} = "
                                   f"{fixed(enc[0], sign=True)}; "
                                   f"a {day.strftime('%A')} in {day.strftime('%B')}, as "
                                   f"points on the week's and the year's circles"})
            at += len(DATE_FEATURES)
        else:
            start, size = blocks[s["name"]]
            names = pre.feature_names[start:start + size]
            enc = [float(e) for e in x[start:start + size]]
            value = raw if raw != "" else (s.get("fill") or "")
            hot = names[enc.index(1.0)].split("=", 1)[1] if 1.0 in enc else None
            if hot == value:
                how = f"one-hot: {s['name']}={hot} -> 1, the other {size - 1} -> 0"
            elif hot is not None:
                how = (f"{value!r} is not among the kept categories: it selects {hot}, the "
                       f"other {size - 1} -> 0")
            else:
                how = (f"{value!r} was not seen in training: all {size} one-hot columns "
                       f"are 0")
            out.append({"column": s["name"], "kind": "categorical", "raw": raw,
                        "hot": hot, "unseen": hot != value, "encoded": enc,
                        "features": list(names), "formula": how})
    return out


def trace(model, table, *, row=0, target=None, top=5, lr=None, optimizer=None):
    """Trace row `row` (0-based) of `table` through `model`: preprocessing, forward pass,
    the output's reading, and, when the truth is known (`target`, the value as text, or
    the table's target column), the loss, the backward pass and one update step of the
    model's optimizer at its learning rate (or `optimizer`, a name of optim.OPTIMIZERS,
    and `lr` when given). Errors name the table's own row."""
    pre, net = model.pre, model.net
    dt = net.dtype
    top = max(1, int(top))
    X = model.encode_inputs(table, rows=[row])
    notes = list(pre.last_notes)
    # one traced row: its dense expansion is small and is what the kernels below take
    x = np.ascontiguousarray(X.to_dense(pre.n_features), dtype=dt)
    truth, truth_row = table, row
    if target is not None:
        truth = Table([pre.target], [target_cell(pre, target)], path="--target",
                      lines=np.array([2]))
        truth_row = 0
    has_target = pre.target in truth.columns and not \
        truth.column(pre.target).missing[truth_row]
    result = {"why": dict(WHY), "notes": notes, "task": model.task, "target_name": pre.target}

    layers = []
    for i, (c, oc, (w, b)) in enumerate(zip(net.sizes[:-1], net.sizes[1:],
                                             layer_slices(net.sizes))):
        layers.append({"layer": i + 1, "in": c, "out": oc, "activation": net.activations[i],
                       "params": b.stop - w.start, "weights": [c, oc], "bias": [oc],
                       "kind": "output" if i == net.n_layers - 1 else "hidden"})
    result["network"] = {"inputs": net.sizes[0], "input_features": list(pre.feature_names),
                         "layers": layers, "params": net.n_params,
                         "output": {"link": model.spec.link, "loss": model.spec.loss}}
    result["preprocessing"] = _preprocessing(pre, table, row, x[0])
    result["input"] = _vec(x[0])

    # ---- forward, one dense kernel call per layer, keeping what backward needs
    acts, zs = [x], []
    fwd = []
    names_in = list(pre.feature_names)
    for li in range(net.n_layers):
        w, b = net.weights[li], net.biases[li]
        act, param = net.activations[li], net.act_params[li]
        y, z = kernels.dense_forward(acts[-1], w, b, act, param=param, return_z=True)
        acts.append(y)
        zs.append(z)
        a_in = np.asarray(acts[-2][0], dtype=np.float64)
        wd = np.asarray(w, dtype=np.float64)
        names_out = _neuron_names(model, li, w.shape[1])
        shown = _top(_vec(y[0]) if act != "identity" or li < net.n_layers - 1
                     else _vec(z[0]), _shown(w.shape[1], top))
        neurons = []
        for j in shown:
            contrib = a_in * wd[:, j]
            order = _top(contrib.tolist(), _shown(len(contrib), top))
            rest = [p for p in range(len(contrib)) if p not in order]
            neurons.append({
                "name": names_out[j], "index": j, "z": float(z[0, j]), "a": float(y[0, j]),
                "bias": float(b[j]), "sum": float(contrib.sum()),
                "contributions": [{"input": names_in[p], "value": float(a_in[p]),
                                   "weight": float(wd[p, j]), "product": float(contrib[p]),
                                   "direction": "up" if contrib[p] > 0 else
                                   ("down" if contrib[p] < 0 else "none")}
                                  for p in order],
                "more": {"count": len(rest), "total": float(contrib[rest].sum())}})
        fwd.append({"layer": li + 1, "activation": act, "shapes": {
            "x": [1, w.shape[0]], "W": list(w.shape), "b": [w.shape[1]], "z": [1, w.shape[1]]},
            "z": _vec(z[0]), "a": _vec(y[0]), "neurons": neurons,
            "more_neurons": w.shape[1] - len(neurons), "names": names_out})
        names_in = names_out
    result["forward"] = fwd
    out = np.asarray(acts[-1], dtype=np.float64)
    result["output"] = _read_output(model, out)

    if not has_target:
        result["loss"] = None
        return result
    # ---- loss through the loss kernel, as training computes it
    t_enc = pre.target_of(truth, rows=[truth_row])
    target = model.encode_targets(t_enc[:1])
    if model.spec.loss != "cross_entropy":
        target = np.ascontiguousarray(target, dtype=dt)
    out_dt = np.ascontiguousarray(acts[-1], dtype=dt)
    dout = np.empty_like(out_dt)
    loss = float(evaluate(model.spec.loss, out_dt, target, None, dout))
    result["loss"] = _explain_loss(model, out, target, loss, t_enc)

    # ---- backward, one dense kernel call per layer from the output
    dy = dout
    back = []
    grads = np.empty(net.n_params, dtype=dt)   # laid out as the network's parameters
    slices = layer_slices(net.sizes)
    # with no error at the output there is none anywhere: every gradient is zero
    if np.any(dout):
        no_error = None
    elif model.task == "regression":
        no_error = "the prediction equals the target exactly"
    else:
        no_error = (f"the output is saturated: its probability of the truth is exactly 1 "
                    f"in {np.dtype(dt).name}")
    for li in reversed(range(net.n_layers)):
        w = net.weights[li]
        act, param = net.activations[li], net.act_params[li]
        y, z, xin = acts[li + 1], zs[li], acts[li]
        dx, dw, db = kernels.dense_backward(dy, xin, w, y, z, act, param=param)
        if act == "softmax":
            deriv = None  # a row Jacobian, not one number per neuron
        else:
            deriv = _vec(kernels.activation_backward(act, np.ones_like(y), y, z, param=param))
        dz = kernels.activation_backward(act, dy, y, z, param=param)
        names_out = fwd[li]["names"]
        names_prev = list(pre.feature_names) if li == 0 else fwd[li - 1]["names"]
        dwd = np.asarray(dw, dtype=np.float64)
        flat = dwd.ravel()
        blame = []
        for k in _top(flat.tolist(), top):
            if flat[k] == 0:  # a weight with no gradient takes no blame
                break
            p, j = divmod(k, dwd.shape[1])
            blame.append({"from": names_prev[p], "to": names_out[j], "weight": float(w[p, j]),
                          "grad": float(dwd[p, j])})
        if blame:
            no_blame = None
        elif no_error is None:
            no_blame = "every gradient of this layer's weights is zero"
        else:
            no_blame = ("all gradients are zero" if back else
                        f"all gradients are zero ({no_error})")
        back.append({"layer": li + 1, "activation": act, "dL_dA": _vec(dy[0]),
                     "act_derivative": deriv, "dL_dZ": _vec(dz[0]), "db": _vec(db),
                     "dW_shape": list(dw.shape), "dW_norm": float(np.linalg.norm(dwd)),
                     "dX": _vec(dx[0]), "names": names_out, "prev_names": names_prev,
                     "blame": blame, "no_blame": no_blame})
        w_at, b_at = slices[li]
        grads[w_at], grads[b_at] = dw.ravel(), db
        dy = dx
    result["backward"] = back

    # ---- one update step with the optimizer that trains the model
    names = [list(pre.feature_names)] + [layer["names"] for layer in fwd]
    result["step"], result["why"]["step"] = _update(model, x, target, grads, loss,
                                                    names, top, lr=lr, optimizer=optimizer)
    return result


def _update(model, x, target, grads, loss, names, top, *, lr, optimizer):
    """One step of the training optimizer on this row's gradients, from a fresh state as
    at training's first step: the model's own optimizer and learning rate (or those
    given), with its weight decay, momentum and gradient clipping. (step, why)."""
    from neuralcli.optim import make_optimizer

    net, s = model.net, model.settings
    name = optimizer or s.optimizer
    rate = float(s.lr if lr is None else lr)
    opts = {"momentum": float(s.momentum)} if name == "sgd" else {}
    opt = make_optimizer(name, net.n_params, net.dtype, weight_decay=float(s.weight_decay),
                         **opts)
    g = np.ascontiguousarray(grads, dtype=net.dtype)
    # clipped as training clips a batch's gradient: by its global norm
    norm = math.sqrt(_kernels.sum_squares(g))
    clip = float(s.clip_norm or 0.0)
    scale = clip / norm if clip and norm > clip else 1.0
    after = net.copy()
    opt.step(after.params, g, rate, scale)
    out_after = np.ascontiguousarray(after.forward(x), dtype=net.dtype)
    loss_after = float(evaluate(model.spec.loss, out_after, target, None, None))
    delta = after.params.astype(np.float64) - net.params.astype(np.float64)
    gd = g.astype(np.float64)

    # the largest gradients, the weights the row blames most (Adam's first step moves
    # every weight by about lr, so the largest moves would be an arbitrary few)
    order = np.lexsort((np.arange(len(gd)), -np.abs(delta), -np.abs(gd)))[:top]
    changes = []
    slices = layer_slices(net.sizes)
    for k in (int(k) for k in order):
        li = next(i for i, (_, b) in enumerate(slices) if k < b.stop)
        w, b = slices[li]
        if k < w.stop:
            p, j = divmod(k - w.start, net.sizes[li + 1])
            what = f"W{li + 1}[{names[li][p]} -> {names[li + 1][j]}]"
        else:
            what = f"b{li + 1}[{names[li + 1][k - b.start]}]"
        changes.append({"param": what, "layer": li + 1, "index": k,
                        "before": float(net.params[k]), "after": float(after.params[k]),
                        "delta": float(delta[k]), "grad": float(gd[k])})

    # a change within a few units in the last place of the loss, or below the last digit
    # the loss is shown with, is rounding, not learning
    change = loss_after - loss
    tolerance = max(4 * float(np.finfo(net.dtype).eps) * max(abs(loss), abs(loss_after)),
                    loss_format(loss, loss_after)[1])
    verdict = "no change" if abs(change) <= tolerance else \
        ("helped" if change < 0 else "rose")
    step = {"optimizer": name, "lr": rate, "fresh_state": True,
            "source": {"optimizer": "model" if optimizer is None else "given",
                       "lr": "model" if lr is None else "given"},
            "model_optimizer": s.optimizer, "model_lr": float(s.lr),
            "hyperparameters": opt.hyperparameters(),
            "gradient_norm": norm, "clip_norm": clip, "clipped": scale != 1.0,
            "loss_before": loss, "loss_after": loss_after, "change": change,
            "tolerance": tolerance, "verdict": verdict, "helped": verdict == "helped",
            "changes": changes,
            "output_after": _read_output(model, out_after.astype(np.float64))}
    return step, _step_why(opt)


def _read_output(model, out):
    pre = model.pre
    o = out[0]
    if model.task == "regression":
        value = pre.inverse_target(o[0] if len(o) == 1 else o)
        return {"kind": "value", "raw": _vec(o), "value": _vec(value),
                "meaning": f"predicted {pre.target} = "
                           f"{', '.join(f'{v:.4g}' for v in np.atleast_1d(value))}"
                           + (" (the network works on the standardized target; this is "
                              "it converted back)" if pre.scale_target else "")}
    if model.spec.link == "sigmoid":
        # both without the cancellation of 1 - p, so a tiny one reads as the loss kernel
        # computes it
        proba = np.array([_sigmoid(-o[0]), _sigmoid(o[0])])
    else:
        proba = model.probabilities(out)[0]
    k = int(np.argmax(proba))
    names = pre.class_names
    if model.spec.link == "sigmoid":
        how = (f"sigmoid({fixed(o[0], sign=True)}) = {fixed(proba[1])} = "
               f"P({pre.target} = {names[1]})")
    elif model.spec.link == "softmax":
        how = "softmax of the outputs gives one probability per class"
    else:
        how = "the output layer's activation gives the probabilities directly"
    conf = proba[k]
    sure = "confident" if conf >= 0.9 else ("fairly sure" if conf >= 0.7 else "unsure")
    return {"kind": "class", "raw": _vec(o), "probabilities": dict(zip(names, _vec(proba))),
            "class": names[k], "confidence": float(conf), "how": how,
            "meaning": f"predicts {pre.target} = {names[k]} with probability {conf:.3f} "
                       f"({sure})"}


def _paren(v):
    """A number to subtract: negative ones in parentheses, so no '- -' appears."""
    return f"({fixed(v)})" if v < 0 else fixed(v)


def _explain_loss(model, out, target, loss, t_enc):
    pre, spec = model.pre, model.spec
    o = out[0]
    if spec.loss == "bce":
        t = float(target[0, 0])
        # p and 1 - p each without cancellation, as the kernel's log1p form keeps them
        p, q = _sigmoid(o[0]), _sigmoid(-o[0])
        formula = (f"-[t*log(p) + (1-t)*log(1-p)] with t = {t:g}, p = sigmoid("
                   f"{fixed(o[0], sign=True)}) = {probability(p, q, paren=True)}: -[{t:g}*log("
                   f"{probability(p, q)}) + {1 - t:g}*log({probability(q, p)})] = "
                   f"{fixed(loss)}")
        p_true = p if t == 1 else q
    elif spec.loss == "cross_entropy":
        y = int(target[0])
        # in the network's dtype, as the kernel takes the log: where its probability of
        # the truth rounds to 1 there, the loss is 0
        proba = model.probabilities(np.asarray(out, dtype=model.net.dtype))[0]
        p_true = float(proba[y])
        formula = (f"-log(p[{pre.class_names[y]}]) = -log("
                   f"{probability(p_true, float(1 - proba[y]))}) = {fixed(loss)}")
    elif spec.loss == "mse":
        t = np.asarray(target[0], dtype=np.float64)
        terms = " + ".join(f"({fixed(a)} - {_paren(b)})^2" for a, b in zip(o, t))
        formula = f"mean of squared errors: ({terms}) / {len(t)} = {fixed(loss)}"
        p_true = None
        if model.task != "regression":
            p_true = float(model.probabilities(out)[0][int(t_enc[0])])
    else:
        t = np.asarray(target[0], dtype=np.float64)
        terms = " + ".join(f"|{fixed(a)} - {_paren(b)}|" for a, b in zip(o, t))
        formula = f"mean of absolute errors: ({terms}) / {len(t)} = {fixed(loss)}"
        p_true = None
    truth = (pre.class_names[int(t_enc[0])] if model.task != "regression"
             else f"{float(pre.inverse_target(t_enc[:1])[0]):.4g}")
    if p_true is None:
        meaning = ("the prediction is close to the truth" if loss < 0.05 else
                   "the prediction misses the truth; the gradient will pull it closer")
    elif p_true >= 0.5:
        meaning = ("right and confident: a small loss, little left to learn" if p_true >= 0.9
                   else "right but uncertain: the loss asks for more confidence")
    else:
        meaning = ("confident and wrong: the loss is large and so is the gradient"
                   if p_true < 0.1 else "wrong but uncertain: a moderate loss")
    return {"name": spec.loss, "value": loss, "truth": truth, "formula": formula,
            "p_true": p_true, "meaning": meaning,
            "scale": "the network is trained on the standardized target, so the loss compares "
                     "its output with the truth on that scale"
            if model.task == "regression" and pre.scale_target else None}


def neuron(inputs, weights, bias, activation="step"):
    """The single-neuron decision through the real dense kernel (float64)."""
    x = np.asarray([inputs], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1, 1)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{x.shape[1]} inputs but {w.shape[0]} weights; give one weight "
                         f"per input")
    b = np.asarray([bias], dtype=np.float64)
    y, z = kernels.dense_forward(x, w, b, activation, return_z=True)
    contrib = x[0] * w[:, 0]
    items = [{"input": float(x[0, i]), "weight": float(w[i, 0]), "product": float(c),
              "direction": "yes" if c > 0 else ("no" if c < 0 else "neither")}
             for i, c in enumerate(contrib)]
    a = float(y[0, 0])
    if activation == "step":
        decision = "yes" if a >= 1 else "no"
        reading = f"step({float(z[0, 0]):+.4g}) = {a:g}: the neuron fires" if a >= 1 else \
            f"step({float(z[0, 0]):+.4g}) = {a:g}: the neuron stays silent"
    elif activation == "sigmoid":
        decision = "yes" if a >= 0.5 else "no"
        reading = f"sigmoid({float(z[0, 0]):+.4g}) = {fixed(a)}, read as P(yes)"
    elif activation == "tanh":
        decision = "yes" if a >= 0 else "no"
        reading = f"tanh({float(z[0, 0]):+.4g}) = {fixed(a)}, positive means yes"
    else:
        decision = "yes" if a > 0 else "no"
        reading = f"relu({float(z[0, 0]):+.4g}) = {fixed(a)}, above zero means yes"
    return {"inputs": items, "weighted_sum": float(contrib.sum()), "bias": float(bias),
            "z": float(z[0, 0]), "activation": activation, "output": a,
            "decision": decision, "reading": reading}
