"""Papermill runner that chains the project's notebooks for one date.

It knows nothing of KPIs: it validates the params file, passes each notebook the parameters its
``parameters`` cell declares, executes the notebooks (side by side where their stage graph
allows, each in a kernel started ahead of its turn), reads their scrapbook scraps and published
figures, renders two offline HTML pages per notebook (the report, the code), writes
``index.html`` and ``manifest.json`` into the run folder and rebuilds the index of every run.

Modules: ``cli`` (command line), ``params`` (params file and date), ``paths`` (repo root,
notebooks, run folder), ``stages`` (which notebooks each notebook needs), ``runfolder`` (a run
folder shared by stage processes: lock, reuse, attempts), ``schedule`` (which notebook starts
next), ``parallel`` (the notebooks of a run side by side), ``kernels`` and ``warmup`` (kernels
started ahead, their imports done), ``execute`` and ``engine`` (papermill), ``progress`` (cell
progress on the console and in each notebook's log), ``collect`` (scraps, figures and pages in
the background), ``scraps`` (scrapbook), ``figures`` (published figures), ``render`` (HTML),
``report`` (manifest and index), ``overview`` (the index of every run), ``backfill`` (a range of
dates), ``environment`` (git and versions), ``log`` (printed lines and run.log), ``runner`` (the
chain, one stage), ``results`` and ``errors``.
"""

from .errors import PipelineError
from .params import Params, load_params, validate_run_date
from .results import NotebookError, NotebookResult, RunResult
from .runner import run_pipeline, run_stage

__all__ = [
    "NotebookError",
    "NotebookResult",
    "Params",
    "PipelineError",
    "RunResult",
    "load_params",
    "run_pipeline",
    "run_stage",
    "validate_run_date",
]
