"""Errors the runner raises on purpose.

Everything detected *before* a notebook runs (bad date, bad params file, a notebook asking for a
parameter the run cannot provide, an existing run folder) is a :class:`PipelineError`; the CLI
prints its message and exits with :data:`EXIT_USAGE`. A notebook that fails while running is not
an exception of the runner: it is recorded in the run's ``RunResult`` / manifest / index and the
CLI exits with :data:`EXIT_FAILED`.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class PipelineError(Exception):
    """A run cannot start: the message says what to fix."""


class RunDateError(PipelineError):
    """``--date`` is not a valid ``YYYY-MM-DD`` calendar date."""


class ParamsError(PipelineError):
    """The params file is missing, unreadable, or has an unknown, missing or malformed key."""


class NotebookParameterError(PipelineError):
    """A notebook's ``parameters`` cell declares a parameter the run does not provide."""


class RunFolderError(PipelineError):
    """The run folder cannot be created (for instance it already exists)."""
