"""neuralcli demo optimizers: SGD, momentum and Adam on a narrow valley and on the two
spirals."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG, opt_name
from neuralcli.cli.demo.render import Lesson
from neuralcli.cli.options import positive_float


def _lr_pairs(ctx, param, value):
    """'sgd=0.03,adam=0.3' -> {'sgd': 0.03, 'adam': 0.3}."""
    from neuralcli.demos import OPTIMIZER_RUNS

    if not value:
        return {}
    name = opt_name(param)
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


@click.command("optimizers", epilog=EPILOG,
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
@format_option()
@click.pass_obj
def command(app, steps, lrs, net_lrs, momentum, epochs, seed):
    """SGD, SGD with momentum and Adam side by side: on an ill-conditioned valley with
    exact gradients, then training one network on the spirals."""
    from neuralcli import demos

    valley = demos.optimizers_valley(steps=steps, lrs=lrs, momentum=momentum)
    net = demos.optimizers_spirals(epochs=epochs, lrs=net_lrs, momentum=momentum, seed=seed)
    L = Lesson(app, "optimizers", {"steps": steps, "momentum": momentum, "epochs": epochs,
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
