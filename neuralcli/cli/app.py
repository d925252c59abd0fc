"""The application object every command receives, and the CLI's own error type."""


class CliError(Exception):
    """A problem the user can fix, printed as one line: what, where, what to do."""


class App:
    """Shared state of one invocation: the console and global options."""

    def __init__(self, console):
        self.console = console


# Exceptions of the layers below that carry a message meant for the user.
def user_errors():
    from neuralcli.data import DataError
    from neuralcli.persist import ModelFileError
    from neuralcli.training import TrainingError

    return (CliError, DataError, ModelFileError, TrainingError)
