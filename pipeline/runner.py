"""Chaining the notebooks of one run: plan, execute, collect scraps, render, report.

``run_pipeline`` runs every notebook in a new run folder (``make run``), side by side as the
stage graph allows (:mod:`pipeline.parallel`); ``run_stage`` runs one notebook (stage) in a new
or an existing run folder, once the stages it depends on (see :mod:`pipeline.stages`) have
succeeded there, and merges its result into that folder's manifest (see
:mod:`pipeline.runfolder`).

papermill is imported only once the first kernels are starting
(:func:`pipeline.parallel.notebook_kernels`): they start while the runner imports it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .environment import git_info, package_versions, python_version
from .kernels import KernelPool
from .log import RunLog, format_duration
from .overview import write_overview
from .parallel import notebook_kernels, run_notebooks
from .params import Params, load_params, validate_run_date
from .paths import create_run_dir, default_notebooks_dir, discover_notebooks, repo_root, validate_run_id
from .progress import CONSOLE_MODES
from .report import build_manifest, notebook_entry, refresh_manifest, write_index, write_manifest
from .results import FAILED, INCOMPLETE, SUCCEEDED, NotebookResult, RunResult
from .runfolder import check_same_run, entry_of, locked, read_manifest, set_aside_earlier_attempt
from .schedule import max_parallel as resolve_max_parallel
from .scraps import to_jsonable
from .stages import Stage, StageError, alongside, find_stage, prerequisites, read_stages

# Parameters the runner itself provides, next to the params-file keys meant for notebooks.
RUN_PARAMETERS = ("run_date", "run_id", "staging_dir")


def run_pipeline(
    run_date: str,
    params_path: str | Path,
    *,
    notebooks_dir: str | Path | None = None,
    run_id: str | None = None,
    console: str | None = None,
    stream: TextIO | None = None,
    max_parallel: int | None = None,
) -> RunResult:
    """Run every ``NN_<name>.ipynb`` of ``notebooks_dir`` (default ``<repo>/notebooks``) for
    ``run_date`` and write the run folder ``<reports_dir>/<run_date>/<run_id>/``, then the
    top-level ``<reports_dir>/index.html``.

    Each notebook starts once the notebooks it depends on have succeeded, at most
    ``max_parallel`` at once (default ``$PIPELINE_MAX_PARALLEL``, else 2; 1 runs them one after
    the other); after a failure nothing new starts and the running notebooks finish.

    Raises :class:`pipeline.errors.PipelineError` before anything runs or any folder is created
    if the date, the params file, the run id, ``max_parallel`` or a notebook's parameters are
    wrong (an existing run folder is detected when it is created). A failing notebook does not
    raise: the result's ``status`` is ``"failed"`` and ``error`` says where. ``stream`` (default
    stderr) receives the runner's lines, which are also written to ``run.log``; ``console`` is
    how cell progress shows there (:data:`pipeline.progress.CONSOLE_MODES`; default ``live``
    when ``stream`` is a terminal, else ``lines``; ``quiet`` prints failures only).
    """
    run_date, notebooks_dir, notebooks = _checked_inputs(run_date, run_id, notebooks_dir)
    stages = read_stages(notebooks)  # a malformed stage declaration stops every kind of run
    parallel = resolve_max_parallel(max_parallel)
    console = _console_mode(console, stream)
    with notebook_kernels(
        stages, max_parallel=parallel, cwd=notebooks_dir, at_once=lambda stage: _at_once(stages, stage, parallel)
    ) as (schedule, kernels):
        params = _loaded_params(params_path, kernels)
        from .execute import parameters_for, select_parameters  # papermill, while the first kernels start

        plan = select_parameters(notebooks, [*RUN_PARAMETERS, *params.notebook_parameters()])
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

        log = RunLog(stream, quiet=console == "quiet")
        log.attach(run_dir / "run.log")
        started = _now()
        log.line(f"pipeline: run {run_date} {run_id} with {params.source} -> {run_dir}")
        try:
            run_notebooks(results, schedule, kernels, log, console=console, run_date=run_date)
        finally:
            finished = _now()
            status = SUCCEEDED if all(nb.status == SUCCEEDED for nb in results) else FAILED
            manifest = build_manifest(
                run_date=run_date,
                run_id=run_id,
                status=status,
                started=started,
                finished=finished,
                params=params.sanitised(),
                params_file=str(Path(params.source).resolve()),
                notebooks_dir=str(notebooks_dir),
                run_dir=str(run_dir),
                notebooks=results,
                provenance=provenance,
            )
            write_manifest(manifest, run_dir / "manifest.json")
            write_index(manifest, run_dir / "index.html")
            overview = _write_overview(Path(params["reports_dir"]), log)
            error = next((nb.error for nb in results if nb.error), None)
            if error is not None:
                log.line(f"pipeline failed in {error.describe()}", always=True)
            log.line(
                f"pipeline: {status} in {format_duration((finished - started).total_seconds())};"
                f" report {run_dir / 'index.html'}; all runs {overview}",
                always=error is not None,
            )
            log.close()
    return RunResult(
        run_date=run_date,
        run_id=run_id,
        run_dir=run_dir,
        status=status,
        started=started,
        finished=finished,
        notebooks=results,
        manifest=manifest,
    )


def run_stage(
    run_date: str,
    params_path: str | Path,
    stage: str,
    *,
    run_id: str | None = None,
    notebooks_dir: str | Path | None = None,
    console: str | None = None,
    stream: TextIO | None = None,
) -> RunResult:
    """Run one stage (``load``, ``04_load`` or ``04_load.ipynb``) of the run ``run_id``.

    The run folder ``<reports_dir>/<run_date>/<run_id>/`` is reused when it exists and created
    otherwise (``run_id`` defaults to a new one). The stage's executed notebook and HTML go
    there exactly as in a whole run, its lines are appended to ``run.log``, and its entry in
    ``manifest.json`` and ``index.html`` is updated under the folder's lock, so stages running
    at the same time on one folder do not clobber each other; the top-level index is rebuilt.
    ``console`` and ``stream``: as for :func:`run_pipeline`.

    Raises :class:`pipeline.errors.PipelineError` before anything runs when the stage is unknown,
    when a stage it depends on has not succeeded in that folder
    (:class:`pipeline.stages.StageError`), or when the existing folder belongs to another date,
    other notebooks or other params (:class:`pipeline.errors.RunFolderError`). The result's
    ``ok``/``exit_code`` are the stage's; its ``status`` is the run folder's (``incomplete``
    until every stage has succeeded).
    """
    run_date, notebooks_dir, notebooks = _checked_inputs(run_date, run_id, notebooks_dir)
    stages = read_stages(notebooks)
    target = find_stage(stages, stage)
    needed = prerequisites(stages, target)
    console = _console_mode(console, stream)
    alone = replace(target, depends_on=())  # its prerequisites are checked in the run folder below
    # An orchestrator (Airflow) may run the stages beside this one at the same time.
    with notebook_kernels(
        [alone],
        max_parallel=1,
        cwd=notebooks_dir,
        at_once=lambda _: _at_once(stages, target, resolve_max_parallel(None)),
    ) as (schedule, kernels):
        params = _loaded_params(params_path, kernels)
        from .execute import parameters_for, select_parameters  # papermill, while the kernel starts

        plan = select_parameters([target.path], [*RUN_PARAMETERS, *params.notebook_parameters()])
        names = [p.name for p in notebooks]
        sanitised = params.sanitised()
        date_dir = Path(params["reports_dir"]) / run_date

        def blank(path: Path, run_dir: Path) -> NotebookResult:
            return NotebookResult(
                name=path.name,
                input_path=path,
                output_path=run_dir / path.name,
                html_path=run_dir / f"{path.stem}.html",
            )

        date_dir.mkdir(parents=True, exist_ok=True)
        with locked(date_dir):  # creating a folder and its first manifest is one step for others
            existing = run_id is not None and (date_dir / run_id).is_dir()
            if existing:
                run_dir = date_dir / run_id
            else:
                if needed:
                    where = (
                        f"run folder {date_dir / run_id} does not exist"
                        if run_id is not None
                        else "a new run folder would be empty (pass the --run-id of the run to continue)"
                    )
                    raise StageError(
                        f"cannot run stage {target.name} ({target.notebook}): {where}; it needs "
                        + ", ".join(f"{s.name} ({s.notebook})" for s in needed)
                        + " to have succeeded there first"
                    )
                run_dir, run_id = create_run_dir(Path(params["reports_dir"]), run_date, run_id)
                started = _now()
                write_run_documents(
                    build_manifest(
                        run_date=run_date,
                        run_id=run_id,
                        status=INCOMPLETE,
                        started=started,
                        finished=started,
                        params=sanitised,
                        params_file=str(Path(params.source).resolve()),
                        notebooks_dir=str(notebooks_dir),
                        run_dir=str(run_dir),
                        notebooks=[blank(p, run_dir) for p in notebooks],
                        provenance=collect_provenance(),
                    ),
                    run_dir,
                )

        with locked(run_dir):
            manifest = read_manifest(run_dir)
            if existing:
                check_same_run(
                    manifest, run_date=run_date, notebooks=names, params=to_jsonable(sanitised), run_dir=run_dir
                )
                missing = [
                    (s, entry_of(manifest, s.notebook)["status"])
                    for s in needed
                    if entry_of(manifest, s.notebook)["status"] != SUCCEEDED
                ]
                if missing:
                    raise StageError(
                        f"cannot run stage {target.name} ({target.notebook}) in run folder {run_dir}: it needs "
                        + ", ".join(f"{s.name} ({s.notebook}: {status})" for s, status in missing)
                        + " to have succeeded there first; run "
                        + ("it" if len(missing) == 1 else "them")
                        + f" with --run-id {run_id} --stage NAME"
                    )
            earlier = set_aside_earlier_attempt(
                manifest, target.notebook, run_dir, notebook_entry(blank(target.path, run_dir))
            )
            if earlier is not None:
                write_run_documents(manifest, run_dir)
            attempts = entry_of(manifest, target.notebook).get("attempts") or []

        values = run_parameters(run_date, run_id, run_dir / "staging", params)
        nb = blank(target.path, run_dir)
        nb.parameters = parameters_for(plan[target.path], values)
        nb.attempts = list(attempts)
        position = names.index(target.notebook) + 1

        log = RunLog(stream, quiet=console == "quiet")
        log.attach(run_dir / "run.log", append=True)
        started = _now()
        log.line(f"pipeline: stage {target.name} of run {run_date} {run_id} with {params.source} -> {run_dir}")
        if earlier is not None:
            log.line(
                f"pipeline: {target.notebook} ran here before ({earlier.get('status')});"
                f" kept as {earlier.get('ipynb') or '-'} and {earlier.get('html') or '-'}"
            )
        try:
            run_notebooks(
                [nb], schedule, kernels, log, console=console, run_date=run_date, numbering=(position, len(names))
            )
        finally:
            finished = _now()
            with locked(run_dir):
                manifest = read_manifest(run_dir)
                entries = manifest["notebooks"]
                entries[names.index(target.notebook)] = notebook_entry(nb)
                write_run_documents(refresh_manifest(manifest, finished), run_dir)
            overview = _write_overview(Path(params["reports_dir"]), log)
            if nb.error is not None:
                log.line(f"pipeline failed in {nb.error.describe()}", always=True)
            done = sum(e["status"] == SUCCEEDED for e in manifest["notebooks"])
            log.line(
                f"pipeline: stage {target.name} {nb.status} in {format_duration((finished - started).total_seconds())};"
                f" run {manifest['status']} ({done} of {len(names)} notebooks succeeded);"
                f" report {run_dir / 'index.html'}; all runs {overview}",
                always=nb.error is not None,
            )
            log.close()
    return RunResult(
        run_date=run_date,
        run_id=run_id,
        run_dir=run_dir,
        status=manifest["status"],
        started=started,
        finished=finished,
        notebooks=[nb],
        manifest=manifest,
        stage=target.name,
    )


def write_run_documents(manifest: dict[str, Any], run_dir: Path) -> None:
    """``manifest.json`` and the ``index.html`` rendered from it."""
    write_manifest(manifest, run_dir / "manifest.json")
    write_index(manifest, run_dir / "index.html")


def _checked_inputs(
    run_date: str, run_id: str | None, notebooks_dir: str | Path | None
) -> tuple[str, Path, list[Path]]:
    """Everything a run starts from but its params (:func:`_loaded_params`), validated before any
    folder is made: ``(run date, notebooks folder, notebooks)``."""
    run_date = validate_run_date(run_date)
    if run_id is not None:
        validate_run_id(run_id)
    notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else default_notebooks_dir()
    return run_date, notebooks_dir, discover_notebooks(notebooks_dir)


def _loaded_params(params_path: str | Path, kernels: KernelPool) -> Params:
    """The params file, loaded once the first kernels are starting (it takes a while: the
    warehouse URL is parsed with SQLAlchemy); their cells' timeout comes from it."""
    params = load_params(params_path)
    kernels.cell_timeout = params["notebook_timeout_seconds"]
    return params


def run_parameters(run_date: str, run_id: str, staging_dir: Path, params: Params) -> dict[str, Any]:
    """Every value a notebook may declare: the runner's own plus the params-file keys for notebooks."""
    return {"run_date": run_date, "run_id": run_id, "staging_dir": str(staging_dir), **params.notebook_parameters()}


def collect_provenance() -> dict[str, Any]:
    """Git commit/dirty state of the repository and tool versions, taken at the start of a run."""
    return {**git_info(repo_root()), "python": python_version(), "packages": package_versions()}


def _at_once(stages: list[Stage], stage: Stage, max_parallel: int) -> int:
    """How many notebooks may run at the same time as ``stage``, itself included."""
    return min(max_parallel, 1 + len(alongside(stages, stage)))


def _now() -> datetime:
    return datetime.now(UTC)


def _console_mode(console: str | None, stream: TextIO | None) -> str:
    """The console mode asked for, else ``live`` on a terminal and ``lines`` elsewhere."""
    if console is None:
        return "live" if _isatty(stream if stream is not None else sys.stderr) else "lines"
    if console not in CONSOLE_MODES:
        raise ValueError(f"console must be one of {', '.join(CONSOLE_MODES)}, not {console!r}")
    return console


def _write_overview(reports_dir: Path, log: RunLog) -> Path:
    """Rebuild the top-level index; a failure to do so is reported, never fails the run."""
    try:
        return write_overview(reports_dir)
    except Exception as exc:
        log.line(f"pipeline: could not rebuild {reports_dir / 'index.html'}: {type(exc).__name__}: {exc}", always=True)
        return reports_dir / "index.html"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
