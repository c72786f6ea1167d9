"""Exit codes; a :class:`PipelineError` stops a run before any notebook runs (exit 2), a failed notebook is recorded."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130  # 130: Ctrl-C or SIGTERM


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
