"""The activation table: each name with its code in the C core, its default parameter,
its initialization, where it may serve and the other names it answers to. The network,
neuralcli.kernels, the model files' check and the command line's choices read it here;
adding an activation is a C forward/backward pair, an nc_act value and a row."""
from dataclasses import dataclass

from neuralcli._kernels import nc_act


@dataclass(frozen=True)
class Activation:
    code: int                 # enum nc_act
    param: float = 0.0        # default parameter (leaky slope, elu alpha), else 0
    init: str = "glorot"      # "he" (the relu family) or "glorot"
    trainable: bool = True    # False: no derivative, so forward only
    hidden: bool = True       # fit for a hidden layer (softmax couples a row's units)
    aliases: tuple = ()


# in the order the command line offers the hidden ones
ACTIVATIONS = {
    "relu": Activation(nc_act.NC_ACT_RELU, init="he"),
    "leaky_relu": Activation(nc_act.NC_ACT_LEAKY_RELU, 0.01, "he"),
    "elu": Activation(nc_act.NC_ACT_ELU, 1.0, "he"),
    "gelu": Activation(nc_act.NC_ACT_GELU, init="he"),
    # SiLU. He, as for relu: swish keeps about 0.36 of a unit-variance input's second
    # moment (relu 0.5), so He's factor 2 loses about a third of the scale per layer
    # where Glorot's factor 1 would lose two thirds
    "swish": Activation(nc_act.NC_ACT_SWISH, init="he", aliases=("silu",)),
    "tanh": Activation(nc_act.NC_ACT_TANH),
    # scikit-learn's name for it is logistic
    "sigmoid": Activation(nc_act.NC_ACT_SIGMOID, aliases=("logistic",)),
    "identity": Activation(nc_act.NC_ACT_IDENTITY),
    "softmax": Activation(nc_act.NC_ACT_SOFTMAX, hidden=False),
    "step": Activation(nc_act.NC_ACT_STEP, trainable=False, hidden=False),
}
ALIASES = {alias: name for name, a in ACTIVATIONS.items() for alias in a.aliases}


def activation_name(name):
    """The table's name for `name`, which may be an alias; ValueError when unknown."""
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        also = "".join(f" (or {a!r})" for a in ALIASES)
        raise ValueError(f"unknown activation {name!r}; choose from "
                         f"{', '.join(sorted(ACTIVATIONS))}{also}")
    return name


def hidden_activations():
    """The names fit for a hidden layer, in the table's order."""
    return [name for name, a in ACTIVATIONS.items() if a.hidden]
