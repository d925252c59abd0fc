"""neuralcli demo linear-collapse: two stacked linear layers are one matrix multiply;
a ReLU between them breaks the collapse."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG
from neuralcli.cli.demo.render import Lesson, g


@click.command("linear-collapse", epilog=EPILOG,
                 short_help="Two linear layers are one; a ReLU between them is not.")
@click.option("--inputs", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Input features.")
@click.option("--hidden", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Hidden units between the two layers.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@format_option()
@click.pass_obj
def command(app, inputs, hidden, seed):
    """Two stacked linear layers equal one: W = W1 W2, b = b1 W2 + b2. Then a ReLU
    between them, and they no longer collapse."""
    from neuralcli import demos

    r = demos.linear_collapse(inputs=inputs, hidden=hidden, seed=seed)
    L = Lesson(app, "linear-collapse", {"inputs": inputs, "hidden": hidden, "seed": seed})
    s = r["shapes"]
    L.step("Two linear layers",
           f"y = (x W1 + b1) W2 + b2: the dense kernel twice, identity activation, "
           f"{s['inputs']} -> {s['hidden']} -> {s['outputs']}, on {s['rows']} random rows.")
    L.table(["row", "y1", "y2"], [[i + 1, *row] for i, row in enumerate(r["two_layers"])])
    L.step("Collapse them into one layer",
           "Multiply out: y = x (W1 W2) + (b1 W2 + b2). The gemm kernel computes "
           "W = W1 W2 and b = b1 W2 + b2 (beta = 1 adds b2 in the same call).")
    shown = r["W"][:8]
    L.table(["W row", "out 1", "out 2"], [[f"x{i + 1}", *row] for i, row in enumerate(shown)])
    if len(r["W"]) > len(shown):
        L.note(f"... {len(r['W']) - len(shown)} more rows")
    L.note(f"b = {', '.join(g(v) for v in r['b'])}")
    L.step("The same inputs through the single layer",
           "If depth added anything, these outputs would differ from the two layers'.")
    L.table(["row", "one layer y1", "y2", "two layers y1", "y2", "max |diff|"],
            [[i + 1, *one, *two, max(abs(a - b) for a, b in zip(one, two))]
             for i, (one, two) in enumerate(zip(r["one_layer"], r["two_layers"]))])
    L.note(f"max difference {g(r['max_difference_linear'])}: float32 rounding "
           f"(outputs are up to {g(r['output_scale'])}), so the two layers ARE one layer.",
           style="green" if r["collapses"] else "red")
    L.step("Put a ReLU between them",
           "ReLU sets negative hidden values to zero, which depends on the input: no "
           "single matrix can do that.")
    L.table(["row", "relu net y1", "y2", "one layer y1", "y2"],
            [[i + 1, *a, *b] for i, (a, b) in enumerate(zip(r["relu_two_layers"],
                                                             r["one_layer"]))])
    L.note(f"ReLU zeroed {r['relu_zeroed']} of {r['hidden_values']} hidden values; max "
           f"difference {g(r['max_difference_relu'])}: not rounding, a different function.",
           style="yellow")
    L.lesson("without a non-linearity, depth adds nothing: any stack of linear layers is "
             "one matrix multiply.")
    L.finish(r)
