"""The application object every command receives, the CLI's own error type, SIGTERM taken
as an interruption (it and Ctrl-C held off while a model is saved), and how a library
error is worded as the command's options: a fix as the option that makes it, a setting's
bad value as a usage error of the option that gave it."""
import signal
import threading


class CliError(Exception):
    """A problem the user can fix, printed as one line: what, where, what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken like Ctrl-C: training stops after its current run of batches and
    keeps the best weights; the command then exits 143 instead of 130."""


class Stopped(Exception):
    """A command ended by Ctrl-C or SIGTERM that has said so in its output: it exits 130
    (143 for SIGTERM) with no further line."""

    def __init__(self, terminated=False):
        super().__init__("terminated" if terminated else "interrupted")
        self.terminated = terminated


class TermAsInterrupt:
    """While open, SIGTERM raises Terminated in the main thread, and Ctrl-C (SIGINT)
    KeyboardInterrupt as it always does: where Python next runs, so during a compiled call
    when it returns. After hold(), either signal is only recorded (nothing interrupts the
    saving of a model); `received` tells whether one came, `terminated` whether it was
    SIGTERM. Outside the main thread it does nothing."""

    def __init__(self):
        self.received = False
        self.terminated = False
        self.armed = True
        self._before = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._before[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, before in self._before.items():
            signal.signal(sig, before)
        self._before = {}

    def hold(self):
        self.armed = False

    def _handle(self, signum, frame):
        self.received = True
        self.terminated = self.terminated or signum == signal.SIGTERM
        if self.armed:
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class App:
    """Shared state of one invocation: the console and global options."""

    def __init__(self, console):
        self.console = console


# Exceptions of the layers below that carry a message meant for the user.
def user_errors():
    from neuralcli.errors import DataError
    from neuralcli.onnx_export import ExportError
    from neuralcli.persist import ModelFileError
    from neuralcli.training import TrainingError

    return (CliError, DataError, ExportError, ModelFileError, TrainingError)


# A DataError's fix as a command's option: kind -> (the option's parameter name, wording).
OPTION_FIXES = {
    "drop": ("drop", "pass --drop {arg} if the column is not a feature"),
    "impute": ("impute", "pass --impute mean|median|most-frequent"),
    "target": ("target", "choose another target with --target"),
    "task": ("task", "use --task {arg}"),
    "keep_id": ("keep_id", "pass --keep-id {arg} to use it anyway"),
    "na_values": ("na_values", "list {arg} in --na-values to count it as missing"),
    "delimiter": ("delimiter", "pass --delimiter, or leave it out to sniff it"),
    "encoding": ("encoding", "pass the file's encoding, such as --encoding {arg}"),
    "strict": ("strict", "leave out --strict to predict it all the same"),
}


def fix_words(command):
    """fix_words(kind, arg) for DataError.worded: a fix worded as `command`'s option, or
    None where the command has no such option."""
    params = {p.name for p in command.params} if command is not None else set()

    def words(kind, arg):
        name, text = OPTION_FIXES.get(kind, (None, None))
        return text.format(arg=arg) if name in params else None

    return words


def option_error(exc, command, parent):
    """click's BadParameter for a library error about one setting's value (its `setting`,
    see TrainingError and DataError) when `command`, run under the context `parent`, has
    an option of that name: the library's words about the value said of the option, a
    usage error. None otherwise."""
    import click

    setting = getattr(exc, "setting", None)
    if setting is None or command is None:
        return None
    for param in command.params:
        if param.name == setting:
            ctx = click.Context(command, info_name=command.name, parent=parent)
            # named as the command's own checks name theirs: the long flag, unquoted
            return click.BadParameter(exc.message, ctx=ctx, param=param,
                                      param_hint=max(param.opts, key=len))
    return None


def error_text(exc, command=None):
    """The one line a user reads for an error: a DataError's fix worded as `command`'s
    option when the command has that option, and left out when it has not."""
    from neuralcli.errors import DataError

    if not isinstance(exc, DataError):
        return str(exc)
    return exc.worded(fix_words(command))
