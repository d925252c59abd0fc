"""neuralcli demo vanishing-gradients: the gradient norm of every layer of a deep sigmoid
network against a deep ReLU network with He initialization."""
import math

import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG
from neuralcli.cli.demo.render import Lesson, g


@click.command("vanishing-gradients", epilog=EPILOG,
                 short_help="Gradients vanish through deep sigmoid nets, not ReLU/He ones.")
@click.option("--depth", type=click.IntRange(2, 200), default=10, show_default=True,
              help="Weight layers in each network.")
@click.option("--width", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Units per hidden layer.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@format_option()
@click.pass_obj
def command(app, depth, width, seed):
    """One forward and backward pass through a deep sigmoid network and a deep ReLU
    network with He initialization; the gradient norm of every layer's weights."""
    from neuralcli import demos

    r = demos.vanishing_gradients(depth=depth, width=width, seed=seed)
    L = Lesson(app, "vanishing-gradients", {"depth": depth, "width": width, "seed": seed})
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
