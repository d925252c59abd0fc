"""Loss table: name -> fused C kernel (value and gradient in one pass) and how targets are
read. Each kernel returns the weighted mean loss and writes d(loss)/d(out)."""
from dataclasses import dataclass

from neuralcli import _kernels


@dataclass(frozen=True)
class Loss:
    name: str
    kernel: object        # shim function
    targets: str          # "labels" (int32 class indices) or "values" (float, (N,K))


LOSSES = {
    "mse": Loss("mse", _kernels.mse, "values"),
    "mae": Loss("mae", _kernels.mae, "values"),
    "bce": Loss("bce", _kernels.bce_logits, "values"),
    "cross_entropy": Loss("cross_entropy", _kernels.softmax_ce, "labels"),
}
ALIASES = {"squared_error": "mse", "binary_crossentropy": "bce", "log_loss": "cross_entropy",
           "ce": "cross_entropy", "l1": "mae", "l2": "mse"}


def loss_name(name):
    name = ALIASES.get(name, name)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    return name


def evaluate(loss, out, target, sample_weight=None, dout=None):
    """Mean loss of `out` against `target`; fills dout with the gradient when given."""
    spec = LOSSES[loss]
    if spec.targets == "labels":
        return spec.kernel(dout, None, out, target, sample_weight, None)
    return spec.kernel(dout, out, target, sample_weight)
