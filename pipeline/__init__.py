"""Papermill runner that chains the project's notebooks for one date; it knows nothing of KPIs.

See ``pipeline/README.md`` for the run contract and a table of the modules.
"""

from .errors import PipelineError
from .params import Params, load_params, validate_run_date
from .results import NotebookError, NotebookResult, RunResult

__all__ = ["NotebookError", "NotebookResult", "Params", "PipelineError", "RunResult", "load_params"]
__all__ += ["validate_run_date", "run_pipeline", "run_stage"]  # the last two imported on first use, below


def __getattr__(name: str):
    """``run_pipeline`` and ``run_stage``, imported on first use: papermill is slow to import, and
    ``python -m pipeline --help`` need not wait for it."""
    if name in ("run_pipeline", "run_stage"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
