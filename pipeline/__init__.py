"""Papermill runner of the project's notebooks, knowing nothing of KPIs (contract and modules: pipeline/README.md)."""

from .errors import PipelineError
from .params import Params, load_params, validate_run_date
from .results import NotebookError, NotebookResult, RunResult
from .runner import run_pipeline, run_stage  # papermill, slow to import, only once a run needs it

__all__ = ["NotebookError", "NotebookResult", "Params", "PipelineError", "RunResult", "load_params"]
__all__ += ["validate_run_date", "run_pipeline", "run_stage"]
