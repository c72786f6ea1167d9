"""Running notebooks with papermill: which parameters each one gets, and how a failure is reported."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from .engine import ENGINE_NAME
from .errors import NotebookParameterError
from .kernels import KERNEL_NAME
from .progress import NotebookProgress
from .results import NotebookError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SOURCE_LIMIT = 4000


def declared_parameters(notebook: str | Path) -> list[str]:
    """Names assigned in the notebook's ``parameters`` cell (empty if it has none)."""
    notebook = Path(notebook)
    try:
        return list(papermill.inspect_notebook(str(notebook)))
    except Exception as exc:  # unreadable JSON, no kernelspec, ...
        raise NotebookParameterError(
            f"{notebook.name}: cannot inspect its parameters cell: {type(exc).__name__}: {exc}"
        ) from exc


def select_parameters(notebooks: Sequence[str | Path], available: Iterable[str]) -> dict[Path, list[str]]:
    """For each notebook, the parameter names it declares, all of which the run must provide.

    Raises :class:`NotebookParameterError` naming every notebook and parameter the run cannot
    provide, before anything runs.
    """
    available = set(available)
    plan: dict[Path, list[str]] = {}
    problems: list[str] = []
    for notebook in map(Path, notebooks):
        names = declared_parameters(notebook)
        for name in names:
            if name not in available:
                problems.append(f"{notebook.name} declares parameter {name!r}")
        plan[notebook] = [n for n in names if n in available]
    if problems:
        raise NotebookParameterError(
            "notebook parameters the run cannot provide:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nthe run provides: {', '.join(sorted(available))}."
            "\nRemove the name from the notebook's 'parameters' cell (keep notebook-only"
            " settings in another cell) or add a key for it to the params file."
        )
    return plan


def parameters_for(names: Iterable[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``values`` a notebook declared, in the notebook's order."""
    return {name: values[name] for name in names}


def execute_notebook(
    input_path: str | Path,
    output_path: str | Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | Path,
    timeout: int | None,
    progress: NotebookProgress | None = None,
    kernel_manager: Any = None,
    env: Mapping[str, str] | None = None,
) -> NotebookError | None:
    """Execute one notebook with papermill; ``None`` on success, else where and how it failed.

    The executed notebook is written to ``output_path`` in both cases (papermill saves after
    every cell). ``progress`` is told of every cell and gets what the cells print. The notebook
    runs in the kernel of ``kernel_manager`` if it has one (left running: the caller shuts it
    down); otherwise a kernel is started (by that manager, if given) in ``cwd`` with ``env``
    (default: this process's environment). Only failures of the notebook itself are returned;
    a failure to even read the input notebook propagates.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    kernel_start = {"cwd": str(cwd)} if env is None else {"cwd": str(cwd), "env": dict(env)}
    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=dict(parameters),
            engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            progress=progress,
            km=kernel_manager,
            kernel_start=kernel_start,
        )
    except PapermillExecutionError as exc:
        return error_from_papermill(input_path.name, exc)
    except Exception as exc:  # cell timeout, dead kernel, kernel that does not start, ...
        return error_from_exception(input_path.name, exc, output_path)
    return None


def error_from_papermill(notebook: str, exc: PapermillExecutionError) -> NotebookError:
    """A :class:`NotebookError` from papermill's exception (cell = execution count ``In [N]``)."""
    return NotebookError(
        notebook=notebook,
        cell=exc.exec_count,
        cell_index=exc.cell_index,
        ename=exc.ename,
        evalue=strip_ansi(str(exc.evalue)),
        source=_clip(exc.source),
    )


def error_from_exception(notebook: str, exc: BaseException, output_path: Path) -> NotebookError:
    """A :class:`NotebookError` for an exception raised around the cells (timeout, dead kernel).

    The cell is the last one that started, read from the notebook papermill saved.
    """
    cell = cell_index = source = None
    found = last_started_cell(output_path)
    if found is not None:
        cell_index, cell, source = found
    message = strip_ansi(str(exc)).strip()
    return NotebookError(
        notebook=notebook,
        cell=cell,
        cell_index=cell_index,
        ename=type(exc).__name__,
        evalue=_first_line(message),
        source=_clip(source),
    )


def last_started_cell(executed: str | Path) -> tuple[int, int | None, str] | None:
    """``(cell_index, execution count, source)`` of the last cell papermill started, if any."""
    try:
        nb = nbformat.read(str(executed), as_version=4)
    except Exception:
        return None
    found = None
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            found = (index, cell.get("execution_count"), cell.get("source", ""))
    return found


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _first_line(text: str) -> str:
    # nbclient's timeout/dead-kernel messages go on with a preview of the cell source.
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _clip(source: str | None) -> str | None:
    if source is None:
        return None
    return source if len(source) <= _SOURCE_LIMIT else source[:_SOURCE_LIMIT] + "\n..."
