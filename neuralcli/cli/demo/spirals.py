"""neuralcli demo spirals: a network learns the two spirals, its decision boundary drawn
as a map (live on a terminal)."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG, positive, widths
from neuralcli.cli.demo.render import Lesson, g


@click.command("spirals", epilog=EPILOG,
                 short_help="Watch a network learn the two spirals' decision boundary.")
@click.option("--epochs", type=click.IntRange(1, 20000), default=200, show_default=True)
@click.option("--hidden", default="32,32", show_default=True, callback=widths,
              help="Hidden layer widths.")
@click.option("--lr", type=float, default=0.01, show_default=True, callback=positive,
              help="Adam's learning rate.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--size", type=click.IntRange(10, 400), default=48, show_default=True,
              help="Map width in characters (narrowed to fit the terminal).")
@format_option()
@click.pass_obj
def command(app, epochs, hidden, lr, seed, size):
    """Train a network on the two spirals and draw its decision boundary as a map: each
    cell coloured by the predicted probability, the data points on top. On a terminal the
    map refreshes as the network learns."""
    from neuralcli import demos

    L = Lesson(app, "spirals", {"epochs": epochs, "hidden": hidden, "lr": lr, "seed": seed,
                                "size": size})
    size = max(10, min(size, L.width - 2))
    every = max(1, epochs // 20)
    L.step("The data and the network",
           f"300 points on two interleaved spirals; 2 -> {' -> '.join(map(str, hidden))} "
           f"-> 1 relu, bce loss, Adam lr {g(lr)}, {epochs} epochs. No straight line "
           f"separates the spirals: the network has to bend its boundary around them.")
    if L.console.rich_out and not L.json:
        L.step("Training, the map redrawn as it learns",
               f"Each cell is the network's P(class 1) at that point, redrawn every "
               f"{every} epochs; the data points on top.")
    with L.console.live_map() if not L.json else _Inactive() as live:

        def show(snap):
            live.update(snap["probs"], snap["cells"],
                        f"epoch {snap['epoch']}/{epochs}  loss {snap['loss']:.4f}  "
                        f"accuracy {snap['accuracy']:.1%}")

        r = demos.spirals_boundary(epochs=epochs, hidden=hidden, lr=lr, seed=seed, size=size,
                                   every=every, on_snapshot=show if live.active else None)
    hist = r["history"]
    if not live.active:
        L.step("Training", "Loss and accuracy as the network learns (the map is drawn "
                           "live on a terminal).")
        picks = sorted({0, len(hist) // 4, len(hist) // 2, 3 * len(hist) // 4,
                        len(hist) - 1} & set(range(len(hist))))
        L.table(["epoch", "loss", "accuracy"],
                [[hist[i]["epoch"], hist[i]["loss"], hist[i]["accuracy"]] for i in picks])
        f = r["final"]
        L.step("The decision boundary", f"P(class 1) on a {r['grid']['cols']} x "
                                        f"{r['grid']['rows']} grid after {f['epoch']} "
                                        f"epochs, the data points on top.")
        L.class_map(f["probs"], f["cells"])
    if r["stop_reason"] not in ("completed", ""):
        L.note(r["message"], style="yellow")
    f = r["final"]
    acc, wrong = f["accuracy"], f["misclassified"]
    marked = sum(1 for c in f["cells"] if not c[3])
    shown = (f", shown as capitals in {marked} cell{'s' if marked > 1 else ''} (a cell is "
             f"a capital if any point in it is misclassified)" if wrong else "")
    L.note(f"final accuracy {acc:.1%} on the training points: {wrong} of {r['points']} "
           f"misclassified{shown}",
           style="green" if acc > 0.95 else "yellow")
    L.lesson("hidden layers let the network carve a curved boundary; it starts near a "
             "line and bends as it learns.")
    L.finish(r)


class _Inactive:
    """A stand-in for the live map in JSON mode."""
    active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *args):
        pass
