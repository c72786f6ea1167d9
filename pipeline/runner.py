"""Chaining the notebooks of one run: plan, execute in order, collect scraps, render, report."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from .environment import git_info, package_versions, python_version
from .execute import execute_notebook, parameters_for, select_parameters
from .log import RunLog, format_duration
from .params import Params, load_params, validate_run_date
from .paths import create_run_dir, default_notebooks_dir, discover_notebooks, repo_root, validate_run_id
from .render import html_exporter, render_notebook
from .report import build_manifest, write_index, write_manifest
from .results import FAILED, NOT_RUN, SUCCEEDED, NotebookError, NotebookResult, RunResult
from .scraps import read_scraps

# Parameters the runner itself provides, next to the params-file keys meant for notebooks.
RUN_PARAMETERS = ("run_date", "run_id", "staging_dir")


def run_pipeline(
    run_date: str,
    params_path: str | Path,
    *,
    notebooks_dir: str | Path | None = None,
    run_id: str | None = None,
    progress_bar: bool | None = None,
    stream: TextIO | None = None,
) -> RunResult:
    """Run every ``NN_<name>.ipynb`` of ``notebooks_dir`` (default ``<repo>/notebooks``) for
    ``run_date`` and write the run folder ``<reports_dir>/<run_date>/<run_id>/``.

    Raises :class:`pipeline.errors.PipelineError` before anything runs or any folder is created
    if the date, the params file, the run id or a notebook's parameters are wrong (an existing
    run folder is detected when it is created). A failing notebook does not raise: the result's
    ``status`` is ``"failed"`` and ``error`` says where. ``progress_bar`` defaults to showing
    papermill's cell progress when stderr is a terminal; ``stream`` (default stderr) receives
    the runner's lines, which are also written to ``run.log``.
    """
    run_date = validate_run_date(run_date)
    if run_id is not None:
        validate_run_id(run_id)
    params = load_params(params_path)
    notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else default_notebooks_dir()
    notebooks = discover_notebooks(notebooks_dir)
    plan = select_parameters(notebooks, [*RUN_PARAMETERS, *params.notebook_parameters()])
    if progress_bar is None:
        progress_bar = _isatty(sys.stderr)
    provenance = collect_provenance()

    run_dir, run_id = create_run_dir(Path(params["reports_dir"]), run_date, run_id)
    values = run_parameters(run_date, run_id, run_dir / "staging", params)
    results = [
        NotebookResult(
            name=path.name,
            input_path=path,
            output_path=run_dir / path.name,
            html_path=run_dir / f"{path.stem}.html",
            parameters=parameters_for(plan[path], values),
        )
        for path in notebooks
    ]

    log = RunLog(stream)
    log.attach(run_dir / "run.log")
    started = _now()
    log.line(f"pipeline: run {run_date} {run_id} with {params.source} -> {run_dir}")
    try:
        _run_all(results, log, cwd=notebooks_dir, timeout=params["notebook_timeout_seconds"],
                 progress_bar=progress_bar)
    finally:
        finished = _now()
        status = SUCCEEDED if all(nb.status == SUCCEEDED for nb in results) else FAILED
        manifest = build_manifest(
            run_date=run_date, run_id=run_id, status=status, started=started, finished=finished,
            params=params.sanitised(), params_file=str(Path(params.source).resolve()),
            notebooks_dir=str(notebooks_dir), run_dir=str(run_dir), notebooks=results,
            provenance=provenance,
        )
        write_manifest(manifest, run_dir / "manifest.json")
        write_index(manifest, run_dir / "index.html")
        error = next((nb.error for nb in results if nb.error), None)
        if error is not None:
            log.line(f"pipeline failed in {error.describe()}")
        log.line(f"pipeline: {status} in {format_duration((finished - started).total_seconds())};"
                 f" report {run_dir / 'index.html'}")
        log.close()
    return RunResult(run_date=run_date, run_id=run_id, run_dir=run_dir, status=status,
                     started=started, finished=finished, notebooks=results, manifest=manifest)


def run_parameters(run_date: str, run_id: str, staging_dir: Path, params: Params) -> dict[str, Any]:
    """Every value a notebook may declare: the runner's own plus the params-file keys for notebooks."""
    return {"run_date": run_date, "run_id": run_id, "staging_dir": str(staging_dir),
            **params.notebook_parameters()}


def collect_provenance() -> dict[str, Any]:
    """Git commit/dirty state of the repository and tool versions, taken at the start of a run."""
    return {**git_info(repo_root()), "python": python_version(), "packages": package_versions()}


def run_notebook(nb: NotebookResult, *, cwd: Path, timeout: int | None, progress_bar: bool) -> NotebookResult:
    """Execute one notebook and record status, times, error and scraps on ``nb``."""
    nb.started = _now()
    clock = time.monotonic()
    try:
        nb.error = execute_notebook(nb.input_path, nb.output_path, nb.parameters,
                                    cwd=cwd, timeout=timeout, progress_bar=progress_bar)
    except BaseException as exc:  # Ctrl-C (execute_notebook already turns errors into results)
        nb.error = NotebookError(nb.name, None, None, type(exc).__name__,
                                 str(exc) or "the run was interrupted")
        raise
    finally:
        nb.finished = _now()
        nb.duration_seconds = time.monotonic() - clock
        nb.status = SUCCEEDED if nb.error is None else FAILED
    if nb.saved:
        try:
            nb.scraps = read_scraps(nb.output_path)
        except Exception as exc:
            nb.scraps_error = f"{type(exc).__name__}: {exc}"
    return nb


def _run_all(results: list[NotebookResult], log: RunLog, *, cwd: Path, timeout: int | None,
             progress_bar: bool) -> None:
    total = len(results)
    exporter = None
    failed = False
    for i, nb in enumerate(results, 1):
        tag = f"[{i}/{total}] {nb.name}"
        if failed:
            log.line(f"{tag} {NOT_RUN}")
            continue
        log.line(f"{tag} ...")
        try:
            run_notebook(nb, cwd=cwd, timeout=timeout, progress_bar=progress_bar)
        except KeyboardInterrupt:
            log.line(f"{tag} FAILED ({format_duration(nb.duration_seconds)}): interrupted")
            for j, rest in enumerate(results[i:], i + 1):
                log.line(f"[{j}/{total}] {rest.name} {NOT_RUN}")
            raise
        failed = nb.status != SUCCEEDED
        log.line(f"{tag} {'FAILED' if failed else 'ok'} ({format_duration(nb.duration_seconds)})")
        if nb.scraps_error:
            log.line(f"{tag}: could not read scraps: {nb.scraps_error}")
        if nb.saved:
            try:
                exporter = exporter or html_exporter()
                render_notebook(nb.output_path, nb.html_path, exporter)
            except Exception as exc:
                nb.render_error = f"{type(exc).__name__}: {exc}"
                log.line(f"{tag}: could not render {nb.html_path.name}: {nb.render_error}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
