"""Papermill runner that chains the project's notebooks for one date; it knows nothing of KPIs (the run contract
and a table of the modules: ``pipeline/README.md``)."""

from .errors import PipelineError
from .params import Params, load_params, validate_run_date
from .results import NotebookError, NotebookResult, RunResult
from .runner import run_pipeline, run_stage  # papermill, slow to import, only once a run needs it

__all__ = ["NotebookError", "NotebookResult", "Params", "PipelineError", "RunResult", "load_params"]
__all__ += ["validate_run_date", "run_pipeline", "run_stage"]
