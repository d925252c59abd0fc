"""The `neuralcli` command: the root group, global options, error handling, commands.

Exit codes: 0 success, 1 a data or model error, 2 a usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM, during train)."""
import os
import sys

import click

from neuralcli._version import __version__
from neuralcli.cli.app import (App, Stopped, Terminated, error_text, option_error,
                               user_errors)
from neuralcli.cli.console import Console

# options of the root command, which go before the subcommand's name
GLOBAL_FLAGS = ("-q", "--quiet", "--no-color", "--version")

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# click 8.2 reports a bare `neuralcli` as a usage error holding the help; before, it printed
# the help itself and exited 0
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Group(click.Group):
    """Turns the exceptions of a command into one line on stderr and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        # click's own reports (usage errors, bad option values) become one line as well
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NO_ARGS_IS_HELP as exc:
            # the help as --help prints it, as git and hatch do when given no command
            click.echo(exc.ctx.get_help(), color=exc.ctx.color)
            rv = 0
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else (prog_name or "neuralcli")
            message = exc.format_message()
            flag = getattr(exc, "option_name", None)
            if flag in GLOBAL_FLAGS and exc.ctx is not None and exc.ctx.parent is not None:
                message = message.rstrip(".") + (f"; {flag} is an option of neuralcli itself and goes before the "
                            f"command: neuralcli {flag} {exc.ctx.info_name} ...")
            Console().error(f"{message} (see '{where} --help')")
            rv = exc.exit_code
        except click.exceptions.Abort:
            Console().error("interrupted")
            rv = EXIT_INTERRUPTED
        except click.ClickException as exc:
            Console().error(exc.format_message())
            rv = exc.exit_code
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx):
        try:
            import numpy as np

            # an overflow shows in the figures themselves (inf); numpy's warning text
            # would only clutter the output
            with np.errstate(all="ignore"):
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Stopped as exc:
            ctx.exit(EXIT_TERMINATED if exc.terminated else EXIT_INTERRUPTED)
        except Terminated:
            _console(ctx).error("terminated")
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            _console(ctx).error("interrupted")
            ctx.exit(EXIT_INTERRUPTED)
        except MemoryError:
            _console(ctx).error("out of memory; use a smaller network (--hidden), a smaller "
                                "--batch-size, or float32")
            ctx.exit(EXIT_ERROR)
        except BrokenPipeError:
            # the reader went away (| head): stop quietly, as other tools do
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            ctx.exit(0)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            console = _console(ctx)
            if isinstance(exc, user_errors()):
                command = _subcommand(self, ctx)
                usage = option_error(exc, command, ctx)
                if usage is not None:
                    raise usage from None
                console.error(error_text(exc, command))
            elif isinstance(exc, OSError):
                where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
                console.error(f"{exc.strerror or exc}{where}; check the path and its "
                              f"permissions")
            else:
                if os.environ.get("NEURALCLI_DEBUG"):
                    raise
                console.error(f"internal error: {type(exc).__name__}: {exc}. This is a bug "
                              f"in neuralcli; rerun with NEURALCLI_DEBUG=1 for the traceback "
                              f"and please report it")
            ctx.exit(EXIT_ERROR)


def _subcommand(group, ctx):
    name = ctx.invoked_subcommand
    return group.get_command(ctx, name) if name else None


def _console(ctx):
    obj = ctx.find_object(App)
    return obj.console if obj is not None else Console()


def _print_version(ctx, param, value):
    if not value or ctx.resilient_parsing:
        return
    from neuralcli import runtime_info

    info = runtime_info()
    console = Console()
    console.line(f"neuralcli {__version__}")
    console.pairs([("isa", f"{info['isa']} (detected {info['isa_detected']})"),
                   ("threads", f"{info['threads']} of {info['cpu_count']} cores"),
                   ("python", sys.version.split()[0])])
    ctx.exit(0)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# what each output format means, for --format's help
FORMAT_HELP = {"rich": "colour on a terminal (the default, plain text elsewhere)",
               "plain": "text only", "json": "the results as JSON",
               "markdown": "tables as Markdown"}


def format_option(*formats, json_flag=False):
    """The --format option of a command that prints results, with json_flag also --json,
    short for --format json. Given, it sets the invocation's console (App.console) to one
    that writes in that format (Console.with_format), through which the command writes as
    ever; not given, the console stays as it was (rich, or what a group's --format chose).
    The command reads the format as app.console.format."""
    formats = formats or ("rich", "plain", "json")

    def use(ctx, param, value):
        if value:
            app = ctx.find_object(App)
            app.console = app.console.with_format("json" if value is True else value)

    def decorate(f):
        if json_flag:
            f = click.option("--json", is_flag=True, expose_value=False, callback=use,
                             help="Short for --format json.")(f)
        return click.option("--format", type=click.Choice(formats), expose_value=False,
                            callback=use, help="; ".join(f"{k}: {FORMAT_HELP[k]}"
                                                         for k in formats) + ".")(f)
    return decorate


@click.group(cls=Group, context_settings=CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and the runtime (SIMD path, "
                                            "threads), then exit.")
@click.option("--no-color", is_flag=True, help="Plain text output, no colours or live "
                                                "progress (also when not on a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors; no progress "
                                                   "or notes.")
@click.pass_context
def cli(ctx, no_color, quiet):
    """Train, evaluate and explain neural networks on CSV data.

    \b
    Examples:
      neuralcli train                      # two spirals, the built-in demo set
      neuralcli train data.csv --target y -o model.ncm
      neuralcli eval model.ncm test.csv
      neuralcli predict model.ncm new.csv -o predictions.csv
      neuralcli info model.ncm
      neuralcli export model.ncm -o model.onnx
      neuralcli inspect data.csv           # what train would make of each column
    """
    ctx.obj = App(Console(color=False if no_color else None, quiet=quiet))


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="neuralcli")


def _register():
    from neuralcli.cli import (bench, datasets, demo, evaluate, explain, export, info, inspect,
                               plot, predict, report_page, train)

    for module in (train, evaluate, predict, info, inspect, datasets, explain, demo, bench,
                   export, plot, report_page):
        cli.add_command(module.command)
    cli.add_command(explain.neuron_command)


_register()
