"""neuralcli demo: the classic lessons of neural networks, computed live by the engine.

The numbers come from neuralcli.demos, which runs each experiment through the real
kernels. This package holds the group and the option parsers its lessons share; each
lesson is a module of its own that explains each step and shows its numbers through the
writer in render.py, as rich or plain text or as one JSON object."""
import textwrap

import click

from neuralcli.cli import format_option
from neuralcli.cli.options import number_list, positive_float

EPILOG = """\b
Examples:
  neuralcli demo               # list the lessons
  neuralcli demo backprop      # the classic worked example, every number
  neuralcli demo learning-rate --lrs 0.05,0.45,1.1
  neuralcli demo spirals --epochs 300 --size 60
  neuralcli demo xor --format json
"""


# ------------------------------------------------------------------ option parsing

def opt_name(param):
    return param.opts[0] if param.opts else param.name


def numbers(count=None, positive=False):
    """A click callback reading 'a,b,c' with options.number_list."""
    def parse(ctx, param, value):
        if value is None:
            return None
        return number_list(value, opt_name(param), count=count, positive=positive)
    return parse


def positive(ctx, param, value):
    return positive_float(opt_name(param), value)


def widths(ctx, param, value):
    from neuralcli.cli.options import hidden_sizes

    sizes = hidden_sizes(value)
    if not sizes:
        raise click.BadParameter("give at least one layer width, like 32,32",
                                 param_hint="--hidden")
    for v in sizes:
        if not 1 <= v <= 1024:
            raise click.BadParameter(f"layer width {v} is not in 1..1024; the lesson needs "
                                     f"small layers", param_hint="--hidden")
    return sizes


# ------------------------------------------------------------------ the group

@click.group("demo", invoke_without_command=True, epilog=EPILOG,
             short_help="Classic lessons of neural networks, computed live.")
@format_option()
@click.pass_context
def command(ctx):
    """The classic lessons of neural networks, each computed live by neuralcli's own
    kernels, with options to change its numbers. Without a NAME, list the lessons."""
    if ctx.invoked_subcommand is not None:
        return
    from neuralcli.cli.demo.render import PLAIN_WIDTH
    from neuralcli.demos import LESSONS

    console = ctx.obj.console
    if console.format == "json":
        console.json([{"name": k, "description": v} for k, v in LESSONS.items()])
        return
    rows = list(LESSONS.items())
    if not console.rich_out:
        # a description too long for the line goes on under itself
        room = min(console.width, PLAIN_WIDTH) - max(len(k) for k in LESSONS) - 2
        rows = [[k if i == 0 else "", part] for k, v in LESSONS.items()
                for i, part in enumerate(textwrap.wrap(v, room))]
    console.table(["lesson", "what it shows"], rows,
                  title="Lessons, each computed live by the engine")
    console.note("run one with: neuralcli demo NAME [--format plain|json]; NAME --help "
                 "for options")


def _register():
    from neuralcli.cli.demo import (backprop, dropout, learning_rate, linear_collapse,
                                    optimizers, spirals, vanishing_gradients, xor)

    for lesson in (linear_collapse, vanishing_gradients, learning_rate, optimizers, dropout,
                   spirals, xor, backprop):
        command.add_command(lesson.command)


_register()
