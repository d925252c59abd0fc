"""The network's head: what each task asks of the last layer, in one place for the
command line's TrainedModel and the estimators. The output layer, loss and probability
link of each task (OutputSpec), targets in the form the loss kernel takes, "balanced"
class weights, class probabilities read from raw outputs, and the kernels' thread count
for the span of a call.

Tasks are "binary", "multiclass" and "regression". A classifier's targets arrive here as
class indices (0..K-1), a regression's as float values, one column per target."""
import contextlib
from dataclasses import dataclass

import numpy as np

from neuralcli import _kernels
from neuralcli.losses import ALIASES as LOSS_ALIASES
from neuralcli.training import TrainingError

__all__ = ["TASK_LOSSES", "OutputSpec", "output_spec", "encode_targets",
           "balanced_class_weights", "probabilities", "threads"]

# loss choices per task; the first is the default
TASK_LOSSES = {"binary": ("bce", "mse"), "multiclass": ("cross_entropy", "mse"),
               "regression": ("mse", "mae")}


@dataclass
class OutputSpec:
    """How a task's outputs are produced and read: the network's last layer, the loss it
    trains with, and what turns an output into a probability."""
    n_out: int
    out_act: str      # the network's last activation
    loss: str         # the loss kernel's name
    link: str         # "sigmoid" or "softmax" applied to read probabilities, or "none"


def output_spec(task, n_classes, n_targets, loss="auto"):
    """The OutputSpec of `task` with `n_classes` classes or `n_targets` target columns,
    trained with `loss`: a name of TASK_LOSSES[task] or an alias of losses.ALIASES
    ("auto" or None: the task's default). TrainingError when the loss does not fit the
    task."""
    if loss in ("auto", None):
        loss = TASK_LOSSES[task][0]
    loss = LOSS_ALIASES.get(loss, loss)
    if loss not in TASK_LOSSES[task]:
        raise TrainingError(f"loss {loss!r} does not fit a {task} task; choose "
                            f"{' or '.join(TASK_LOSSES[task])}")
    if task == "binary":
        # bce trains the logit; mse trains a sigmoid output, as in textbook examples
        return OutputSpec(1, "identity", "bce", "sigmoid") if loss == "bce" else \
            OutputSpec(1, "sigmoid", "mse", "none")
    if task == "multiclass":
        return OutputSpec(n_classes, "identity", "cross_entropy", "softmax") \
            if loss == "cross_entropy" else OutputSpec(n_classes, "softmax", "mse", "none")
    return OutputSpec(n_targets, "identity", loss, "none")


def encode_targets(y, spec, task):
    """Targets y in the form the loss kernel takes: int32 class indices for
    cross_entropy, one-hot rows for mse on a softmax output, else float64 (N, n) (a
    binary class index as 0.0 or 1.0)."""
    if spec.loss == "cross_entropy":
        return y.astype(np.int32)
    if task == "multiclass":
        onehot = np.zeros((len(y), spec.n_out))
        onehot[np.arange(len(y)), y] = 1.0
        return onehot
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(len(y), -1)


def balanced_class_weights(counts):
    """'balanced' weights of the k classes whose rows number `counts`: n / (k * count)
    with n the rows counted, so every class weighs as much in all; a class without rows
    counts as one."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts.sum() / (len(counts) * np.maximum(counts, 1))


def probabilities(out, spec, task):
    """Class probabilities (N, K) from raw outputs `out` (N, n_out), in out's dtype;
    None for regression. A sigmoid output's two columns are P(class 0) and P(class 1)."""
    if task == "regression":
        return None
    if spec.link == "sigmoid":
        p = 0.5 * (1 + np.tanh(0.5 * out[:, 0]))  # sigmoid without overflow
        return np.column_stack([1 - p, p])
    if spec.link == "softmax":
        e = out - out.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        return e / e.sum(axis=1, keepdims=True)
    if task == "binary":  # a sigmoid output read directly
        p = np.clip(out[:, 0], 0.0, 1.0)
        return np.column_stack([1 - p, p])
    p = np.clip(out, 0.0, None)  # a softmax output, read directly
    s = p.sum(axis=1, keepdims=True)
    return np.where(s > 0, p / np.where(s > 0, s, 1), 1.0 / p.shape[1])


@contextlib.contextmanager
def threads(n):
    """Inside the block the kernels use `n` threads (None: as many as they use now);
    after it, as many as before. Yields the count in effect."""
    before = _kernels.get_num_threads()
    if n is not None:
        _kernels.set_num_threads(int(n))
    try:
        yield _kernels.get_num_threads()
    finally:
        _kernels.set_num_threads(before)
