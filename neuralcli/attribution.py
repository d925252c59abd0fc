"""Integrated gradients: how much each input column moved one row's output away from the
output at the training mean, with the gradients of the engine's own backward kernels.

For an output f of the network, a row x and a baseline b, input i's attribution is
(x_i - b_i) times the mean of df/dx_i along the straight path from b to x,
    A_i = (x_i - b_i) * integral over a in [0, 1] of df/dx_i (b + a (x - b)) da,
and the attributions add up to f(x) - f(b) (completeness) up to the error of the rule
that approximates the integral: here the trapezoid rule on `steps` equal intervals, whose
steps + 1 points run as one batch through the network's forward and backward passes.

Inputs are those of the first layer in the one-hot layout: a categorical column's
category reaches the network as a code that selects a row of the first layer's weights,
which is the product with its one-hot block, so the gradient with respect to each input
of the block is the backward pass's dX on a copy of the network that takes the block as
dense inputs. Points on the path hold fractions of categories, which only that layout
can express. A column's attribution is the sum over its inputs (a date's five, a
category's block).

The baseline is the training mean of every input (Preprocessor.input_means): 0 for the
standardized inputs, and for a categorical block the categories' shares of the training
rows, the mean of the block's one-hot inputs. f is a classifier's probability of one
class (by default the predicted one) or a regression's prediction in the target's units.
"""
from dataclasses import dataclass

import numpy as np

from neuralcli.network import MLP, Encoded

__all__ = ["DEFAULT_STEPS", "RULE", "ColumnAttribution", "IntegratedGradients",
           "integrated_gradients", "output_function"]

DEFAULT_STEPS = 64
RULE = "trapezoid"
# An interval [a, a + h] of the path is halved while its trapezoid sum misses the change
# of f over it by more than REFINE_TOL * h (times the target's scale for a regression)
# plus ROUNDING units of the dtype's rounding of f, for at most MAX_REFINE rounds and
# MAX_POINTS_PER_STEP points per interval of `steps`, the last of them to the intervals
# that miss the most. The gradient of a network of
# relu-family units jumps where a unit switches on or off along the path, and the
# trapezoid rule's error there shrinks only as fast as the interval holding the jump.
REFINE_TOL = 1e-5
ROUNDING = 4
MAX_REFINE = 24
MAX_POINTS_PER_STEP = 16


@dataclass(frozen=True)
class ColumnAttribution:
    """One input column's share of f(x) - f(baseline): `value` is the sum of `inputs`,
    its first-layer inputs' attributions as (name, input value, baseline value,
    attribution)."""
    column: str
    value: float
    inputs: tuple


@dataclass(frozen=True)
class IntegratedGradients:
    """The attributions of one row, in the order of the model's input columns, with what
    they explain: `output` names f ("P(approved = yes)", or the target's name), `index`
    its class or target index; f(x) is `f_row`, f(baseline) `f_baseline`; `total` is the
    sum of the attributions and `error` total - (f_row - f_baseline), the completeness
    check.
    `steps` equal intervals, refined to `points` points where an interval's trapezoid sum
    missed f's change over it. `unrecorded`: categorical columns whose training shares the model file lacks (their
    baseline is uniform over the categories)."""
    columns: tuple
    output: str
    index: int
    kind: str            # "probability" or "prediction"
    f_row: float
    f_baseline: float
    total: float
    error: float
    steps: int
    points: int          # the path's points evaluated: steps + 1, and any refinement's
    rule: str
    unrecorded: tuple


def output_function(model, index):
    """(f, dout_fn) of output `index` of model (a class index, or a target index of a
    regression): f(out) gives f for raw network outputs (n, n_out) as float64 (n,);
    dout_fn(out, dout) fills dout with d(f)/d(out) row by row, as MLP.input_gradient
    takes it."""
    spec, task = model.spec, model.task
    if task == "regression":
        scale = model.pre.target_std if model.pre.scale_target else 1.0
        shift = model.pre.target_mean if model.pre.scale_target else 0.0

        def f(out):
            return out[:, index].astype(np.float64) * scale + shift

        def dout_fn(out, dout):
            dout[...] = 0
            dout[:, index] = scale
        return f, dout_fn

    def f(out):
        return model.probabilities(np.asarray(out, dtype=np.float64))[:, index]

    def dout_fn(out, dout):
        dout[...] = 0
        if spec.link == "sigmoid":
            # p1 = sigmoid(z): dp1/dz = p1 (1 - p1), and p0 = 1 - p1
            p1 = model.probabilities(np.asarray(out, dtype=np.float64))[:, 1]
            dout[:, 0] = (1 if index == 1 else -1) * p1 * (1 - p1)
        elif spec.link == "softmax":
            # dp_c/dz_j = p_c (delta_cj - p_j)
            p = model.probabilities(np.asarray(out, dtype=np.float64))
            dout[...] = -p[:, index:index + 1] * p
            dout[:, index] += p[:, index]
        elif task == "binary":
            # a sigmoid output read as P(class 1) directly
            dout[:, 0] = 1 if index == 1 else -1
        else:
            # a softmax output read directly: its outputs add up to 1 at every input, so
            # dividing by their sum changes no derivative
            dout[:, index] = 1
    return f, dout_fn


def _dense_network(net):
    """A copy of net whose first layer takes every input as a dense column (the one-hot
    blocks included), for gradients with respect to the one-hot inputs."""
    if not net.trainable:
        raise ValueError(f"the network's activations "
                         f"({', '.join(sorted(set(net.activations)))}) include one without a "
                         f"derivative, so it has no gradients to attribute with")
    return MLP.from_weights(net.weights, net.biases, net.activations, dtype=net.dtype,
                            act_params=net.act_params)


def integrated_gradients(model, X, *, index=None, steps=DEFAULT_STEPS, refine=True):
    """Integrated gradients of one row: X is that row's encoded inputs (an Encoded of one
    row, as model.encode_inputs gives them). index: the class whose probability to
    attribute (default: the predicted class), or the regression target's index (default
    0). steps: the trapezoid rule's equal intervals along the path (at least 1).
    refine: halve, again and again, the intervals whose trapezoid sum misses the change
    of f over them (see REFINE_TOL). Returns an IntegratedGradients."""
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if len(X) != 1:
        raise ValueError(f"integrated_gradients takes one row, got {len(X)}")
    pre = model.pre
    if not isinstance(X, Encoded):
        X = Encoded(np.asarray(X))
    x = X.to_dense(pre.n_features)[0].astype(np.float64)
    n_out = model.spec.n_out
    if model.task == "regression":
        if index is None:
            index = 0
        if not 0 <= index < n_out:
            raise ValueError(f"the model has {n_out} targets, so index lies in "
                             f"0..{n_out - 1}, got {index}")
        name, kind = pre.target, "prediction"
    else:
        k = pre.n_classes
        if index is None:
            index = int(model.probabilities(model.outputs(X))[0].argmax())
        if not 0 <= index < k:
            raise ValueError(f"the model has {k} classes, so index lies in 0..{k - 1}, "
                             f"got {index}")
        name, kind = f"P({pre.target} = {pre.class_names[index]})", "probability"
    net = _dense_network(model.net)
    base, unrecorded = pre.input_means()
    f, dout_fn = output_function(model, index)
    scale = model.pre.target_std if kind == "prediction" and model.pre.scale_target else 1.0
    eps = float(np.finfo(net.dtype).eps)

    def at(alphas):
        out, grad = net.input_gradient(base + alphas[:, None] * (x - base), dout_fn)
        return f(out), grad.astype(np.float64) @ (x - base), grad.astype(np.float64)

    alphas = np.arange(steps + 1, dtype=np.float64) / steps
    values, slopes, grads = at(alphas)
    for _ in range(MAX_REFINE if refine else 0):
        # the trapezoid sum of an interval against the change of f over it, which
        # completeness says it equals; a kink of a relu-family unit inside an interval
        # makes them differ, and halving the interval halves that part of the error
        h = np.diff(alphas)
        miss = np.abs(0.5 * h * (slopes[:-1] + slopes[1:]) - np.diff(values))
        # below the rounding of f's values in the network's dtype a miss is noise
        noise = ROUNDING * eps * max(scale, float(np.abs(values).max()))
        bad = np.flatnonzero(miss > REFINE_TOL * scale * h + noise)
        room = MAX_POINTS_PER_STEP * steps - len(alphas)
        if len(bad) > room:
            # the points left go to the intervals that miss the most
            bad = np.sort(bad[np.argsort(-miss[bad], kind="stable")[:room]])
        if not len(bad):
            break
        mid = 0.5 * (alphas[bad] + alphas[bad + 1])
        v, s_, g = at(mid)
        order = np.argsort(np.concatenate([alphas, mid]), kind="stable")
        alphas = np.concatenate([alphas, mid])[order]
        values = np.concatenate([values, v])[order]
        slopes = np.concatenate([slopes, s_])[order]
        grads = np.concatenate([grads, g])[order]
    h = np.diff(alphas)
    weights = np.zeros(len(alphas))
    weights[:-1] += 0.5 * h
    weights[1:] += 0.5 * h
    mean_grad = weights @ grads
    per_input = (x - base) * mean_grad
    columns = []
    for column, start, stop, _ in pre.column_inputs():
        inputs = tuple((pre.feature_names[i], float(x[i]), float(base[i]),
                        float(per_input[i])) for i in range(start, stop))
        columns.append(ColumnAttribution(column, float(per_input[start:stop].sum()),
                                         inputs))
    total = float(sum(c.value for c in columns))
    f_row, f_base = float(values[-1]), float(values[0])
    return IntegratedGradients(tuple(columns), name, int(index), kind, f_row, f_base,
                               total, total - (f_row - f_base), steps, len(alphas), RULE,
                               tuple(unrecorded))
