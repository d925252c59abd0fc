"""ONNX export: a trained model as one ONNX graph that needs nothing of neuralcli to run.

A command-line model (model.TrainedModel) becomes a graph with one input per feature
column, named as the column, of shape [N, 1], holding the preprocessing, the network and
the output link:

  - a number column: tensor(float) for a float32 model, tensor(double) for a float64 one,
    NaN for a missing cell; filled with the stored statistic (when training imputed),
    then standardized in double precision, as `predict` does;
  - a date column: tensor(double), the days since 1970-01-01 UTC with the time of day as
    the fraction (what the reader makes of an ISO date); its five inputs (the days
    standardized, the day of the week and the month on circles) are computed in the
    graph, the calendar month by integer arithmetic;
  - a text column: tensor(string); ai.onnx.ml LabelEncoder maps each kept category to
    its row of the first layer, an empty string or a missing-value marker to the stored
    fill (when training imputed), and anything else to the <other> row, or to a row of
    zeros where the column has none. The rows are taken with Gather, as the C core's
    first layer adds one weight row per code.

Outputs: a classifier's `label` [N] (the original labels: string, int64 or double) and
`probabilities` [N, K] (no ZipMap), read by the same link as `predict`; a regression's
`value` [N, n_out], in the target's units. The estimators export the bare network with one
input `input` [N, n_features] (export_estimator), as skl2onnx does for an MLP outside a
Pipeline.

The versions are pinned (IR_VERSION, OPSET, ML_OPSET; docs/export.md says why) so that
the file loads in every onnxruntime of recent years, whatever onnx package writes it.
"""
import json
import os

import numpy as np

from neuralcli._version import __version__

__all__ = ["ExportError", "IR_VERSION", "OPSET", "ML_OPSET", "export_model",
           "export_estimator", "export_network", "export_file", "save"]

IR_VERSION = 8      # onnx 1.10-1.12; onnxruntime 1.10 and later read it
OPSET = 17          # the default domain: onnxruntime 1.13 and later
ML_OPSET = 3        # ai.onnx.ml: LabelEncoder with string keys
_MAX_BYTES = 2 ** 31 - 1    # protobuf's limit on one serialized message
_EPOCH_WEEKDAY = 3          # 1970-01-01 was a Thursday (Monday = 0)
# Howard Hinnant's days_from_civil epoch shift: day 0 of his 400-year eras is 0000-03-01
_CIVIL_SHIFT = 719468
_ERA_DAYS = 146097


class ExportError(Exception):
    """A model that cannot be exported, or a missing onnx package: one line."""


def _onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ExportError('ONNX export needs the onnx package, which is not installed: '
                          'pip install "neuralcli[onnx]"') from None
    return onnx


# ------------------------------------------------------------------ the graph under way


class _Graph:
    """Nodes and initializers of one graph, with value names that never collide with the
    graph's inputs and outputs (a column may be named anything)."""

    def __init__(self, onnx, reserved):
        self.onnx = onnx
        self.nodes, self.initializers = [], []
        self.used = set(reserved)
        self.count = 0

    def fresh(self, hint):
        name, k = hint, 1
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    def const(self, hint, value, dtype=None):
        """An initializer holding `value` (a number or array; strings as text)."""
        name = self.fresh(hint)
        arr = np.asarray(value, dtype=dtype)
        helper = self.onnx.helper
        if arr.dtype.kind in "USO":
            tensor = helper.make_tensor(name, self.onnx.TensorProto.STRING, arr.shape,
                                        [str(v).encode("utf-8") for v in arr.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type, inputs, hint=None, *, out=None, domain="", **attrs):
        """Append a node; returns its output's name (`out`, or a fresh one)."""
        out = out or self.fresh(hint or op_type.lower())
        self.count += 1
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), [out], name=f"{op_type}_{self.count}", domain=domain,
            **attrs))
        return out

    def cast(self, x, dtype, hint=None, *, out=None):
        return self.op("Cast", [x], hint, out=out, to=_elem(self.onnx, dtype))


def _elem(onnx, dtype):
    """The TensorProto element type of a numpy dtype (or "string")."""
    if isinstance(dtype, str) and dtype == "string":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


# ------------------------------------------------------------------ the network


def _activation(g, z, act, param, dtype, layer):
    """act(z) as the C core computes it (csrc/activations_impl.h), in standard ops."""
    t = np.dtype(dtype)
    at = f"layer{layer}"
    if act == "identity":
        return z
    if act == "relu":
        return g.op("Relu", [z], f"{at}_relu")
    if act == "sigmoid":
        return g.op("Sigmoid", [z], f"{at}_sigmoid")
    if act == "tanh":
        return g.op("Tanh", [z], f"{at}_tanh")
    if act == "softmax":
        return g.op("Softmax", [z], f"{at}_softmax", axis=1)

    def const(what, value):
        return g.const(f"{at}_{what}", value, t)

    if act == "leaky_relu":
        # z * (z < 0 ? slope : 1), the slope in the model's dtype
        factor = g.op("Where", [g.op("Less", [z, const("zero", 0)], f"{at}_negative"),
                                const("slope", param), const("one", 1)], f"{at}_factor")
        return g.op("Mul", [z, factor], f"{at}_leaky_relu")
    if act == "elu":
        # z > 0 ? z : alpha * (e^z - 1)
        em1 = g.op("Sub", [g.op("Exp", [z], f"{at}_exp"), const("one", 1)], f"{at}_expm1")
        return g.op("Where", [g.op("Greater", [z, const("zero", 0)], f"{at}_positive"), z,
                              g.op("Mul", [const("alpha", param), em1], f"{at}_scaled")],
                    f"{at}_elu")
    if act == "gelu":
        # the exact form: z * 0.5 * (1 + erf(z / sqrt 2)). onnxruntime has Erf for
        # float only, so a float64 model's erf is float's (within 1e-7 of the double)
        scaled = g.op("Mul", [z, const("rsqrt2", 0.70710678118654752440)], f"{at}_scaled")
        if t == np.float64:
            erf = g.cast(g.op("Erf", [g.cast(scaled, np.float32, f"{at}_narrow")],
                              f"{at}_erf"), t, f"{at}_erf_double")
        else:
            erf = g.op("Erf", [scaled], f"{at}_erf")
        return g.op("Mul", [g.op("Mul", [z, const("half", 0.5)], f"{at}_half_z"),
                            g.op("Add", [const("one", 1), erf], f"{at}_one_plus")],
                    f"{at}_gelu")
    if act == "swish":
        # z / (1 + e^-z), not z * Sigmoid(z): onnxruntime 1.20 fuses that product into an
        # op it has for float only, and then cannot load a float64 model. An e^-z that
        # overflows gives z / inf = -0, the limit.
        exp = g.op("Exp", [g.op("Neg", [z], f"{at}_negated")], f"{at}_exp")
        return g.op("Div", [z, g.op("Add", [const("one", 1), exp], f"{at}_denominator")],
                    f"{at}_swish")
    if act == "step":
        # z >= 0 ? 1 : 0 (NaN gives 0, as in C)
        return g.cast(g.op("GreaterOrEqual", [z, const("zero", 0)], f"{at}_nonnegative"),
                      t, f"{at}_step")
    raise ExportError(f"the activation {act!r} has no ONNX form")


def _layers(g, net, h, first):
    """Layers `first`.. of the network on h: the activated output of layer first - 1,
    or the network's input rows for first == 0."""
    for i in range(first, net.n_layers):
        w = g.const(f"layer{i}_weight", net.weights[i])
        b = g.const(f"layer{i}_bias", net.biases[i])
        z = g.op("Add", [g.op("MatMul", [h, w], f"layer{i}_product"), b], f"layer{i}_z")
        h = _activation(g, z, net.activations[i], net.act_params[i], net.dtype, i)
    return h


def _rest(g, net, z0):
    """The network's output from the first layer's pre-activation z0."""
    h = _activation(g, z0, net.activations[0], net.act_params[0], net.dtype, 0)
    return _layers(g, net, h, 1)


# ------------------------------------------------------------------ preprocessing


def _missing_keys(categories):
    """The strings a text input takes for a missing cell: the empty string and the
    reader's default missing-value markers, less any that is a category itself."""
    from neuralcli.reader import DEFAULT_NA

    return [m for m in ("",) + tuple(DEFAULT_NA) if m not in set(categories)]


def _number_input(g, s, x, dtype):
    """A number or date column's value in double precision, missing cells filled."""
    v = x if np.dtype(dtype) == np.float64 else g.cast(x, np.float64, f"{s['name']}_double")
    if s["fill"] is not None:
        fill = g.const(f"{s['name']}_fill", s["fill"], np.float64)
        v = g.op("Where", [g.op("IsNaN", [v], f"{s['name']}_missing"), fill, v],
                 f"{s['name']}_filled")
    return v


def _standardized(g, s, v):
    mean = g.const(f"{s['name']}_mean", s["mean"], np.float64)
    scale = g.const(f"{s['name']}_scale", s["scale"], np.float64)
    return g.op("Div", [g.op("Sub", [v, mean], f"{s['name']}_centered"), scale],
                f"{s['name']}_standardized")


def _date_inputs(g, s, v):
    """The five inputs of a date column (preprocess.DATE_FEATURES) from its days v
    [N, 1] double: the days standardized, then sin and cos of the day of the week and
    of the month. The month comes from Hinnant's civil_from_days in int64, all of whose
    divisions are of non-negative numbers (where ONNX's truncation is a floor)."""
    name = s["name"]

    def i64(value):
        return g.const(f"{name}_c{value}", value, np.int64)

    def div(a, k):
        return g.op("Div", [a, i64(k)], f"{name}_div")

    days = g.cast(g.op("Floor", [v], f"{name}_floor"), np.int64, f"{name}_day")
    dow = g.op("Mod", [g.op("Add", [days, i64(_EPOCH_WEEKDAY)], f"{name}_shifted"),
                       i64(7)], f"{name}_dow", fmod=0)
    doe = g.op("Mod", [g.op("Add", [days, i64(_CIVIL_SHIFT)], f"{name}_civil"),
                       i64(_ERA_DAYS)], f"{name}_doe", fmod=0)
    yoe = div(g.op("Sub", [g.op("Add", [g.op("Sub", [doe, div(doe, 1460)]),
                                        div(doe, 36524)]), div(doe, 146096)]), 365)
    start = g.op("Sub", [g.op("Add", [g.op("Mul", [yoe, i64(365)]), div(yoe, 4)]),
                         div(yoe, 100)])
    doy = g.op("Sub", [doe, start], f"{name}_doy")
    mp = div(g.op("Add", [g.op("Mul", [doy, i64(5)]), i64(2)]), 153)
    # mp counts months from March: January is month 0 of the year at mp 10
    month = g.op("Mod", [g.op("Add", [mp, i64(2)]), i64(12)], f"{name}_month", fmod=0)
    out = [_standardized(g, s, v)]
    for part, period in ((dow, 7), (month, 12)):
        # sin and cos of the 7 (12) angles, taken from tables numpy computed as the
        # preprocessing does: the same bits, and no Sin or Cos in double, which older
        # onnxruntime releases lack
        angle = 2 * np.pi * np.arange(period) / period
        for f in (np.sin, np.cos):
            out.append(g.op("Gather", [g.const(f"{name}_{f.__name__}{period}", f(angle)),
                                       part], f"{name}_{f.__name__}", axis=0))
    return out


def _text_rows(g, s, x, start, w0):
    """A text column's first-layer rows [N, H]: its code by LabelEncoder, then Gather
    from its block of the first layer's weights, a row of zeros appended where the
    column has no <other> row, so that the encoder's default (one past the kept
    categories) selects <other> or nothing, as `predict` does."""
    name = s["name"]
    cats = list(s["categories"])
    k = len(cats)
    keys = cats[:]
    values = list(range(k))
    if s["fill"] is not None:
        missing = _missing_keys(cats)
        keys += missing
        # the fill is a kept category (else it selects <other>, or nothing)
        values += [cats.index(s["fill"]) if s["fill"] in cats else k] * len(missing)
    code = g.op("LabelEncoder", [x], f"{name}_code", domain="ai.onnx.ml",
                keys_strings=keys, values_int64s=values, default_int64=k)
    flat = g.op("Reshape", [code, g.const(f"{name}_flat", [-1], np.int64)],
                f"{name}_codes")
    block = w0[start:start + k + bool(s["other"])]
    if not s["other"]:
        block = np.vstack([block, np.zeros((1, w0.shape[1]), dtype=w0.dtype)])
    table = g.const(f"{name}_rows", block)
    return g.op("Gather", [table, flat], f"{name}_weights", axis=0)


# ------------------------------------------------------------------ outputs


def _probabilities(g, out, link, task, n_classes, dtype):
    """The [N, K] probabilities of head.probabilities from raw outputs `out`."""
    t = np.dtype(dtype)
    if link == "softmax":
        return g.op("Softmax", [out], "softmax", axis=1)
    one = g.const("prob_one", 1, t)
    if link == "sigmoid" or task == "binary":
        p = g.op("Sigmoid", [out], "p_positive") if link == "sigmoid" else \
            g.op("Clip", [out, g.const("prob_zero", 0, t), one], "p_positive")
        return g.op("Concat", [g.op("Sub", [one, p], "p_negative"), p], "probabilities",
                    axis=1)
    # a softmax output read directly: negatives clipped, rows renormalized, a row of
    # zeros read as uniform
    p = g.op("Clip", [out, g.const("prob_zero", 0, t)], "clipped")
    total = g.op("ReduceSum", [p, g.const("class_axis", [1], np.int64)], "total",
                 keepdims=1)
    positive = g.op("Greater", [total, g.const("zero_total", 0, t)], "positive_total")
    safe = g.op("Where", [positive, total, one], "safe_total")
    return g.op("Where", [positive, g.op("Div", [p, safe], "renormalized"),
                          g.const("uniform", 1.0 / n_classes, t)], "probabilities")


def _classes(classes):
    """Class labels as an array a tensor holds: text, int64, double or bool."""
    arr = np.asarray(classes)
    if arr.dtype.kind == "b":
        return arr.astype(bool)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        return arr.astype(np.float64)
    return np.array([str(c) for c in arr.tolist()], dtype=object)


def _label_type(classes):
    return "string" if classes.dtype == object else classes.dtype


# ------------------------------------------------------------------ models


def _model(onnx, g, inputs, outputs, *, doc, meta):
    """The ModelProto with the pinned versions, checked by onnx.checker."""
    helper = onnx.helper
    graph = helper.make_graph(g.nodes, "neuralcli", inputs, outputs, g.initializers)
    model = helper.make_model(
        graph, ir_version=IR_VERSION, producer_name="neuralcli",
        producer_version=__version__, doc_string=doc,
        opset_imports=[helper.make_opsetid("", OPSET),
                       helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v)
                                   for k, v in meta.items()})
    if model.ByteSize() > _MAX_BYTES:
        raise ExportError(f"the model takes {model.ByteSize() / 2 ** 30:.1f} GiB, more than "
                          f"the 2 GiB one ONNX file can hold")
    onnx.checker.check_model(model, full_check=True)
    return model


def _value_info(onnx, name, dtype, shape, doc=""):
    return onnx.helper.make_tensor_value_info(name, _elem(onnx, dtype), shape, doc)


def _head_outputs(onnx, g, out, *, task, link, classes, dtype, n_out, label_index=None):
    """Wire the outputs `label` and `probabilities` (classification) or `value` (the
    value already in units) and return their ValueInfos."""
    if task == "regression":
        g.op("Identity", [out], out="value")
        return [_value_info(onnx, "value", dtype, ["N", n_out],
                            "the prediction in the target's units")]
    # the link in double precision, on the outputs widened, as `predict` and
    # predict_proba() read them: the same label on a row near a tie, and probabilities
    # rounded once, to the model's dtype
    wide = out if np.dtype(dtype) == np.float64 else g.cast(out, np.float64, "output_double")
    probs = _probabilities(g, wide, link, task, len(classes), np.float64)
    if np.dtype(dtype) == np.float64:
        g.op("Identity", [probs], out="probabilities")
    else:
        g.cast(probs, dtype, out="probabilities")
    if label_index is None:
        label_index = g.op("ArgMax", [probs], "class_index", axis=1, keepdims=0)
    labels = _classes(classes)
    g.op("Gather", [g.const("classes", labels), label_index], out="label", axis=0)
    names = ", ".join(str(c) for c in labels.tolist())
    return [_value_info(onnx, "label", _label_type(labels), ["N"],
                        "the predicted class"),
            _value_info(onnx, "probabilities", dtype, ["N", len(labels)],
                        f"the probability of each class, in the order {names}")]


def export_model(model):
    """The ONNX ModelProto of a command-line model (model.TrainedModel): preprocessing,
    network and output link in one graph (see the module's docstring)."""
    onnx = _onnx()
    pre, net, spec = model.pre, model.net, model.spec
    dtype = net.dtype
    outputs = ("value",) if pre.task == "regression" else ("label", "probabilities")
    clash = [s["name"] for s in pre.specs if s["name"] in outputs]
    if clash:
        raise ExportError(f"column {clash[0]!r} has the name of an output of the ONNX model "
                          f"({', '.join(outputs)}); rename the column and retrain to export")
    g = _Graph(onnx, [s["name"] for s in pre.specs] + list(outputs))
    w0 = net.weights[0]
    inputs, dense, rows = [], [], []
    block = 0
    for s in pre.specs:
        name = s["name"]
        if s["kind"] == "number":
            inputs.append(_value_info(onnx, name, dtype, ["N", 1], _input_doc(s)))
            dense.append(_standardized(g, s, _number_input(g, s, name, dtype)))
        elif s["kind"] == "date":
            inputs.append(_value_info(onnx, name, np.float64, ["N", 1], _input_doc(s)))
            dense += _date_inputs(g, s, _number_input(g, s, name, np.float64))
        else:
            inputs.append(_value_info(onnx, name, "string", ["N", 1], _input_doc(s)))
            rows.append(_text_rows(g, s, name, pre.blocks[block][1], w0))
            block += 1
    terms = []
    if dense:
        x = dense[0] if len(dense) == 1 else g.op("Concat", dense, "dense_inputs", axis=1)
        if dtype != np.float64:
            x = g.cast(x, dtype, "dense_inputs_cast")
        terms.append(g.op("MatMul", [x, g.const("layer0_weight_dense",
                                                w0[:pre.n_dense])], "layer0_product"))
    terms += rows
    z = terms[0]
    for term in terms[1:]:
        z = g.op("Add", [z, term], "layer0_sum")
    z = g.op("Add", [z, g.const("layer0_bias", net.biases[0])], "layer0_z")
    out = _rest(g, net, z)
    if pre.task == "regression" and pre.scale_target:
        # back in the target's units, in double precision as `predict` computes it
        wide = out if dtype == np.float64 else g.cast(out, np.float64, "output_double")
        wide = g.op("Add", [g.op("Mul", [wide, g.const("target_std", pre.target_std,
                                                        np.float64)], "scaled"),
                            g.const("target_mean", pre.target_mean, np.float64)], "units")
        out = wide if dtype == np.float64 else g.cast(wide, dtype, "value_cast")
    outs = _head_outputs(onnx, g, out, task=pre.task, link=spec.link, classes=pre.classes,
                         dtype=dtype, n_out=spec.n_out)
    doc = (f"neuralcli {pre.task} model of {pre.target!r}: "
           f"{'class labels and probabilities' if pre.task != 'regression' else 'values'}"
           f" from the columns {', '.join(s['name'] for s in pre.specs)}")
    meta = {"target": pre.target, "task": pre.task}
    if pre.class_names is not None:
        meta["classes"] = pre.class_names
    return _model(onnx, g, inputs, outs, doc=doc, meta=meta)


def _input_doc(s):
    """What a column's input takes and what the graph does with it, in a few words."""
    fill = s["fill"]
    if s["kind"] in ("number", "date"):
        doc = (f"number, standardized (mean {s['mean']:.6g}, scale {s['scale']:.6g})"
               if s["kind"] == "number" else
               "date as days since 1970-01-01 UTC, the time of day as the fraction")
        return doc + (f"; NaN -> {fill:.8g}" if fill is not None else
                      "; NaN is not filled")
    k = len(s["categories"])
    doc = f"text, {k} categor{'y' if k == 1 else 'ies'}; others -> " + (
        "<other>" if s["other"] else "zeros")
    if fill is not None:
        doc += f"; empty or NA -> {fill!r}"
    return doc


def export_network(net, *, input_name="input", output_name="output"):
    """The bare network (network.MLP) as ONNX: one input [N, sizes[0]] and its raw
    outputs [N, sizes[-1]], both in the network's dtype. Every first-layer input is a
    dense column (the one-hot rows of a command-line model's categories included)."""
    onnx = _onnx()
    g = _Graph(onnx, [input_name, output_name])
    g.op("Identity", [_layers(g, net, input_name, 0)], out=output_name)
    return _model(onnx, g, [_value_info(onnx, input_name, net.dtype, ["N", net.sizes[0]])],
                  [_value_info(onnx, output_name, net.dtype, ["N", net.sizes[-1]])],
                  doc="neuralcli network: raw outputs", meta={})


def export_estimator(est):
    """The ONNX ModelProto of a fitted MLPClassifier or MLPRegressor: one float input
    `input` [N, n_features] in the network's dtype (as skl2onnx exports an MLP outside a
    Pipeline); a classifier's `label` [N] and `probabilities` [N, K] (no ZipMap), the
    label chosen as predict() chooses it; a regressor's `value` [N, n_outputs]."""
    onnx = _onnx()
    est._check_fitted()
    net = est._model
    task = est._task_kind
    spec = est._output(net.sizes[-1])
    outputs = ("value",) if task == "regression" else ("label", "probabilities")
    g = _Graph(onnx, ["input", *outputs])
    out = _layers(g, net, "input", 0)
    label_index = None
    if task == "binary":
        # predict() takes the logit's sign, so a probability of exactly 0.5 agrees too
        flat = g.op("Reshape", [out, g.const("flat", [-1], np.int64)], "logit")
        label_index = g.cast(g.op("Greater", [flat, g.const("zero", 0, net.dtype)],
                                  "positive"), np.int64, "class_index")
    elif task == "multiclass":
        label_index = g.op("ArgMax", [out], "class_index", axis=1, keepdims=0)
    outs = _head_outputs(onnx, g, out, task=task, link=spec.link,
                         classes=getattr(est, "classes_", None), dtype=net.dtype,
                         n_out=net.sizes[-1], label_index=label_index)
    name = type(est).__name__
    inputs = [_value_info(onnx, "input", net.dtype, ["N", int(est.n_features_in_)],
                          "the feature rows, as predict() takes them")]
    meta = {"estimator": name}
    if hasattr(est, "feature_names_in_"):
        meta["feature_names"] = [str(n) for n in est.feature_names_in_]
    return _model(onnx, g, inputs, outs, doc=f"neuralcli {name}", meta=meta)


def export_file(path):
    """The ONNX ModelProto of a model file: a command-line model, or an estimator
    written by its save(). The file is read first, so that its errors come before a
    missing onnx package's."""
    from neuralcli import persist

    kind = persist.load(path).meta
    if kind.get("kind") == "estimator":
        from neuralcli import estimators

        cls = getattr(estimators, str(kind.get("estimator")), None)
        if cls not in (estimators.MLPClassifier, estimators.MLPRegressor):
            raise persist.ModelFileError(f"{path}: holds an estimator neuralcli does not "
                                         f"know ({kind.get('estimator')!r})")
        return export_estimator(cls.load(path))
    from neuralcli.model import TrainedModel

    return export_model(TrainedModel.load(path))


def save(model, path):
    """Write a ModelProto to `path` atomically: a temporary file beside it, renamed
    into place once complete."""
    data = model.SerializeToString()
    part = f"{path}.part"
    try:
        with open(part, "wb") as f:
            f.write(data)
        os.replace(part, path)
    finally:
        if os.path.exists(part):
            os.remove(part)
    return len(data)
