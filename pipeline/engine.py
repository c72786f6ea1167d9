"""The papermill engine the runner executes notebooks with: papermill's own nbclient engine that

- tells a :class:`pipeline.progress.NotebookProgress` when each code cell starts and ends, and
  sends it what the cells print (instead of the console, which a quiet run keeps silent);
- runs the notebook in the kernel of a given kernel manager (``km``) when it has one: one the
  runner started ahead of the notebook's turn (:mod:`pipeline.kernels`); nbclient then leaves
  the kernel running, and the runner shuts it down;
- otherwise starts the kernel with ``kernel_start`` (``cwd``, ``env``), the kernel process's own
  output going to the notebook's log. The working directory is the kernel's, never papermill's
  ``cwd`` (a ``chdir`` of the whole runner, which notebooks running side by side in threads
  would undo under each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from .progress import NotebookProgress

ENGINE_NAME = "pipeline-progress"


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine with a ``progress``, a ``km`` and ``kernel_start`` (engine
    arguments of ``papermill.execute_notebook``; see the module docstring)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        progress: NotebookProgress | None = None,
        km=None,
        kernel_start: Mapping[str, Any] | None = None,
        **kwargs,
    ):
        if progress is not None:
            _report_cells(nb_man, progress)
        return cls._execute(
            nb_man, kernel_name, progress=progress, km=km, kernel_start=dict(kernel_start or {}), **kwargs
        )

    @classmethod
    def _execute(
        cls,
        nb_man,
        kernel_name,
        *,
        progress: NotebookProgress | None,
        km,
        kernel_start: dict,
        log_output=False,
        start_timeout=60,
        execution_timeout=None,
        **kwargs,
    ):
        """What ``NBClientEngine.execute_managed_notebook`` does, with what the cells print and the
        kernel process's own output (e.g. jupyter_client's warnings, a crash) going to the
        notebook's log, and the given kernel manager."""
        kwargs = remove_args(["input_path", "stdout_file", "stderr_file"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=progress,
            stderr_file=progress,
        )
        if progress is not None:
            kernel_start.update(stdout=progress.kernel_output, stderr=progress.kernel_output)
        client = PapermillNotebookClient(nb_man, km=km, **final_kwargs)
        try:
            return client.execute(**kernel_start)
        finally:
            if not client.owns_km and client.kc is not None:
                client.kc.stop_channels()  # nbclient keeps its client of a kernel it does not own connected


def _report_cells(nb_man, progress: NotebookProgress) -> None:
    """Report each code cell to ``progress``, around papermill's own handling of it (the
    execution manager is papermill's hook on every cell)."""
    code = [i for i, cell in enumerate(nb_man.nb.cells) if cell.cell_type == "code"]
    numbers = {index: number for number, index in enumerate(code, 1)}  # the In [N] each cell gets
    progress.notebook_loaded(len(code))
    cell_start, cell_exception, cell_complete = nb_man.cell_start, nb_man.cell_exception, nb_man.cell_complete
    failed = set()

    def on_start(cell, cell_index=None, **kw):
        if cell_index in numbers:
            progress.cell_started(numbers[cell_index])
        return cell_start(cell, cell_index, **kw)

    def on_exception(cell, cell_index=None, **kw):
        failed.add(cell_index)
        error = kw.get("exception")
        if cell_index in numbers and error is not None:
            progress.cell_failed(
                numbers[cell_index], getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
            )
        return cell_exception(cell, cell_index, **kw)

    def on_complete(cell, cell_index=None, **kw):
        result = cell_complete(cell, cell_index, **kw)
        if cell_index in numbers:
            progress.cell_finished(numbers[cell_index], failed=cell_index in failed)
        return result

    nb_man.cell_start, nb_man.cell_exception, nb_man.cell_complete = on_start, on_exception, on_complete


papermill_engines.register(ENGINE_NAME, ProgressEngine)
