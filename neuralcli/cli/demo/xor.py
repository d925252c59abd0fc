"""neuralcli demo xor: a single neuron cannot learn XOR; one hidden layer can."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.console import cell_text
from neuralcli.cli.demo import EPILOG, positive
from neuralcli.cli.demo.render import Lesson, g


@click.command("xor", epilog=EPILOG,
                 short_help="One neuron cannot learn XOR; a hidden layer can.")
@click.option("--epochs", type=click.IntRange(1, 100000), default=500, show_default=True)
@click.option("--lr", type=float, default=0.1, show_default=True, callback=positive,
              help="Adam's learning rate.")
@click.option("--hidden", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Hidden units of the second network.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@format_option()
@click.pass_obj
def command(app, epochs, lr, hidden, seed):
    """Train a single neuron and a network with one hidden layer on the four XOR points
    with the real trainer; compare what each predicts."""
    from neuralcli import demos

    r = demos.xor(epochs=epochs, lr=lr, hidden=hidden, seed=seed)
    L = Lesson(app, "xor", {"epochs": epochs, "lr": lr, "hidden": hidden, "seed": seed})
    one, deep = r["models"]["single neuron"], r["models"]["hidden layer"]
    cut = r["threshold"]
    L.step("Train both on the four XOR points",
           f"A single neuron p = sigmoid(w1 x1 + w2 x2 + b), and 2 -> {hidden} -> 1 with "
           f"tanh; bce loss, Adam lr {g(lr)}, {epochs} full-batch epochs. Each predicts "
           f"1 when p > {g(cut)}, else 0.")
    rows = [[int(a), int(b), t, _p_text(pa, cut), int(qa), _p_text(pb, cut), int(qb)]
            for (a, b), t, pa, qa, pb, qb in
            zip(r["inputs"], r["targets"], one["probabilities"], one["predictions"],
                deep["probabilities"], deep["predictions"])]
    L.table(["x1", "x2", "xor", "neuron p", "pred", "hidden p", "pred"], rows,
            aligns=["right"] * 7)
    L.step("A single neuron",
           "Its decision boundary is one straight line, w1 x1 + w2 x2 + b = 0.")
    L.note(f"{one['correct']}/4 correct (accuracy {one['accuracy']:.0%}), loss "
           f"{g(one['loss'])}. No line puts (0,1) and (1,0) on one side and (0,0) and "
           f"(1,1) on the other; the best a line can do is 3/4.", style="red")
    off = max(abs(p - 0.5) for p in one["probabilities"])
    if off < 1e-3:
        L.note(f"Yet bce's best line for XOR is no line: at w = 0, b = 0 its gradient is "
               f"zero and the loss is at its minimum, ln 2 = 0.6931, with p = 0.5 on all "
               f"four points. Training got there (every p within {off:.0e} of 0.5), so "
               f"which side of {g(cut)} each p lands on is rounding noise.")
    L.step("One hidden layer",
           f"The {hidden} tanh units map the four points to new coordinates (below); "
           f"there they are linearly separable, and the output neuron draws its line.")
    L.table(["x1", "x2"] + [f"h{j + 1}" for j in range(hidden)][:8],
            [[int(a), int(b), *hv[:8]] for (a, b), hv in zip(r["inputs"],
                                                               deep["hidden_values"])])
    L.note(f"{deep['correct']}/4 correct (accuracy {deep['accuracy']:.0%}), loss "
           f"{g(deep['loss'])}.", style="green" if deep["accuracy"] == 1 else "yellow")
    L.lesson("a line cannot separate XOR; a hidden layer bends the space until one can.")
    L.finish(r)


def _p_text(p, cut):
    """A probability as the table prints it, with the distance from the threshold spelled
    out when the usual digits would round it onto the threshold itself: a p printed as
    0.5 is exactly 0.5 and predicts 0."""
    text = cell_text(p)
    if p != cut and text == cell_text(cut):
        return f"{text} {'+' if p > cut else '-'} {abs(p - cut):.1e}"
    return text
