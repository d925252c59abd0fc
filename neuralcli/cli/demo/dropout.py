"""neuralcli demo dropout: the mask, the 1/(1-p) scaling, and train against eval mode."""
import math

import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG
from neuralcli.cli.demo.render import Lesson, g


@click.command("dropout", epilog=EPILOG,
                 short_help="The dropout mask, the 1/(1-p) scaling, train vs eval mode.")
@click.option("--p", "p", type=click.FloatRange(0, 1, max_open=True), default=0.5,
              show_default=True, help="Dropout rate: the chance each value is zeroed.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@format_option()
@click.pass_obj
def command(app, p, seed):
    """Dropout on one layer's activations: which values the mask drops, why the kept ones
    are scaled by 1/(1-p), and how a network's train and eval modes differ."""
    from neuralcli import demos

    if math.isnan(p):
        raise click.BadParameter("must be a number in [0, 1)", param_hint="--p")
    r = demos.dropout(p=p, seed=seed)
    L = Lesson(app, "dropout", {"p": p, "seed": seed})
    L.step("One layer's activations",
           "relu(x W + b) by the dense kernel for 4 rows of 8 units: what dropout acts on.")
    L.table(["row"] + [f"u{j + 1}" for j in range(len(r["activations"][0]))],
            [[i + 1, *row] for i, row in enumerate(r["activations"])])
    L.step(f"The mask: each value dropped with probability p = {g(p)}",
           f"The dropout kernel draws it from (seed {seed}, step 1), so backward can "
           f"redraw the same mask. 1 = kept, 0 = dropped.")
    for i, row in enumerate(r["mask"]):
        L.note(f"row {i + 1}:  " + " ".join(str(v) for v in row))
    L.note(f"dropped {g(r['dropped_fraction'])} of these values "
           f"({g(r['many']['dropped_fraction'])} over {r['many']['rows']:,} rows)")
    L.step(f"Kept values scaled by 1/(1-p) = {g(r['scale'])}",
           "The output; dropped values are 0, kept ones divided by the keep rate.")
    L.table(["row"] + [f"u{j + 1}" for j in range(len(r["output"][0]))],
            [[i + 1, *row] for i, row in enumerate(r["output"])])
    ok = r["scaled_exact"] and r["dropped_zero"]
    L.note("every kept value equals x/(1-p) exactly; every dropped one is 0" if ok else
           "the kernel's output is not x/(1-p) on the kept values", style="green"
           if ok else "red")
    m = r["many"]
    L.step("Why scale: the expected value stays the same",
           f"Mean activation over {m['rows']:,} rows: with the scaling the next layer sees "
           f"the same average in training as without dropout at inference.")
    L.pairs([("before dropout", m["mean_before"]),
             ("after, scaled by 1/(1-p)", m["mean_after_scaled"]),
             ("after, unscaled", m["mean_after_unscaled"])])
    n = r["network"]
    L.step("Train mode versus eval mode",
           f"A {' -> '.join(map(str, n['sizes']))} network with dropout {g(p)} after its "
           f"hidden layer: training passes each draw a new mask; eval mode uses no mask.")
    rows = [["eval", *n["eval"][0], *n["eval"][1]]]
    rows += [[f"train step {k + 1}", *o[0], *o[1]] for k, o in enumerate(n["train"])]
    rows.append([f"mean of {n['passes']} train", *n["train_mean"][0], *n["train_mean"][1]])
    L.table(["mode", "row 1 out 1", "out 2", "row 2 out 1", "out 2"], rows)
    L.note(f"eval mode repeats exactly: {'yes' if n['eval_repeatable'] else 'NO'}; the mean "
           f"of the training passes is within {g(n['train_mean_gap'], 2)} of it")
    L.lesson("dropout zeroes a random fraction p in training and scales the rest by "
             "1/(1-p), so nothing needs changing at inference, where it is off.")
    L.finish(r)
