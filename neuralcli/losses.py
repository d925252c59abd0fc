"""The loss table: each name with its code in the C core, its fused kernel (value and
gradient in one pass), the targets it reads and the other names it answers to. Each
kernel returns the weighted mean loss and writes d(loss)/d(out). The trainer, the fused
step, the compiled runs, L-BFGS and neuralcli.kernels read it here."""
from dataclasses import dataclass

from neuralcli import _kernels
from neuralcli._kernels import nc_loss


@dataclass(frozen=True)
class Loss:
    code: int             # enum nc_loss, as the fused step and the compiled runs take it
    kernel: object        # shim function
    targets: str          # "labels" (int32 class indices (N,)) or "values" (float (N, K))
    aliases: tuple = ()


LOSSES = {
    "mse": Loss(nc_loss.NC_LOSS_MSE, _kernels.mse, "values", ("squared_error", "l2")),
    "mae": Loss(nc_loss.NC_LOSS_MAE, _kernels.mae, "values", ("absolute_error", "l1")),
    # on logits: the sigmoid is inside the loss
    "bce": Loss(nc_loss.NC_LOSS_BCE, _kernels.bce_logits, "values",
                ("bce_logits", "binary_crossentropy")),
    # on logits: the softmax is inside the loss
    "cross_entropy": Loss(nc_loss.NC_LOSS_CE, _kernels.softmax_ce, "labels",
                          ("softmax_ce", "cross-entropy", "ce", "log_loss")),
}
ALIASES = {alias: name for name, spec in LOSSES.items() for alias in spec.aliases}


def loss_name(name):
    """The table's name for `name`, which may be an alias; ValueError when unknown."""
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
