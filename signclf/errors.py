"""The one exception type the CLI turns into a single clear line and an exit code.

Anything raised as `SignclfError` is the user's problem to fix (bad config, bad file, missing run);
anything else is our bug and keeps its traceback.
"""


# The shell's convention for "stopped by signal 2 / 15", used by every command that handles them.
SIGINT_EXIT, SIGTERM_EXIT = 130, 143


class SignclfError(Exception):
    """A problem with the user's input: printed as one line, exit code `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(SignclfError):
    """Bad configuration: exit code 2, like click's usage errors."""

    exit_code = 2


class DataError(SignclfError):
    """A dataset or image that cannot be used as given."""


class CheckpointError(SignclfError):
    """A run directory or checkpoint that cannot be restored."""
