"""neuralcli demo learning-rate: gradient descent on x^2 at several learning rates, from a
crawl to divergence."""
import math

import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG, numbers
from neuralcli.cli.demo.render import Lesson, g


@click.command("learning-rate", epilog=EPILOG,
                 short_help="Gradient descent on x^2: crawl, converge, oscillate, diverge.")
@click.option("--lrs", default="0.01,0.1,0.5,0.9,5", show_default=True,
              callback=numbers(positive=True), help="Learning rates, comma-separated.")
@click.option("--steps", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--start", type=float, default=10.0, show_default=True, help="Starting x.")
@format_option()
@click.pass_obj
def command(app, lrs, steps, start):
    """Gradient descent on f(x) = x^2 from x = START with several learning rates: the
    gradient from the mse kernel, each update by the sgd kernel."""
    from neuralcli import demos

    if not math.isfinite(start) or start == 0:
        raise click.BadParameter(f"must be a finite non-zero number, got {start}",
                                 param_hint="--start")
    r = demos.learning_rate(lrs=lrs, steps=steps, start=start)
    L = Lesson(app, "learning-rate", {"lrs": lrs, "steps": steps, "start": start})
    c = r["gradient_check"]
    L.step("The gradient, from the mse kernel",
           "With prediction x, target 0 and one element, mse is x^2 and its gradient 2x: "
           "our loss kernel gives f and f' without writing them by hand.")
    L.pairs([("x", c["x"]), ("mse = x^2", c["loss"]), ("gradient", c["gradient"]),
             ("2x", c["two_x"])])
    L.note("the kernel's gradient is exactly 2x" if c["exact"] else
           "the kernel's gradient differs from 2x", style="green" if c["exact"] else "red")
    L.step("Descend: x <- x - lr * 2x = (1 - 2 lr) x",
           f"The sgd kernel updates a one-element parameter buffer, {steps} steps per "
           f"learning rate. Each step multiplies x by the same factor 1 - 2 lr.")
    marks = sorted({0, 1, 2, 3, 10} & set(range(steps)))
    rows = []
    for run in r["runs"]:
        traj = run["trajectory"]
        # a run stopped early has no x at the last step: its column shows "-"
        rows.append([run["lr"], run["factor"]] +
                    [traj[k] if k < len(traj) else None for k in marks + [steps]])
    L.table(["lr", "1-2lr"] + [f"x{k}" for k in marks] + [f"x{steps} (end)"], rows)
    for run in r["runs"]:
        if run["stopped_at"] is not None:
            L.note(f"lr {g(run['lr'])}: stopped at step {run['stopped_at']} with "
                   f"x{run['stopped_at']} = {g(run['final'], 5)}, the first |x| past "
                   f"{g(r['stop_limit'])}")
    L.step("Verdicts",
           f"Converged means |x| <= {g(r['tolerance'])} (1e-3 of the start) at the end; "
           f"diverged, |x| above its start; not converging, |x| back at its start; "
           f"anything else is not yet converged. Oscillating in sign: x changed sign "
           f"on the way.")
    width = max(len(g(run["lr"])) for run in r["runs"])
    for run in r["runs"]:
        when = (f" (from step {run['steps_to_tolerance']})"
                if run["verdict"] == "converged" and run["steps_to_tolerance"] else "")
        sign = ", oscillating in sign" if run["sign_flips"] else ""
        L.note(f"lr {g(run['lr']).ljust(width)}  {run['verdict']}{sign}{when}: "
               f"{run['reason']}", style=_verdict_style(run["verdict"]),
               indent=" " * (width + 5))
    L.lesson("gradient descent on x^2 converges only for lr < 1 (|1 - 2 lr| < 1); it is "
             "fastest at lr 0.5; above 0.5 x flips sign every step, still shrinking "
             "below lr 1; past 1 it diverges.")
    L.finish(r)


def _verdict_style(verdict):
    return {"converged": "green", "not yet converged": "yellow", "not converging": "magenta",
            "diverged": "red"}.get(verdict, None)

