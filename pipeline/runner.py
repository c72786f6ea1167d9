"""A run opens its run folder, then runs its stages: all side by side as the stage graph allows (``make run``), or
one in a folder where those it needs succeeded (``--stage``, Airflow). Pages are rendered in the background."""

import contextlib
import logging
import os
import platform
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from graphlib import TopologicalSorter
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from jupyter_core.utils import run_sync

from . import alerts, pages, runfolder, warmup
from .errors import PipelineError
from .execute import Kernels, execute_notebook, select_parameters
from .params import load_params, repo_root, validate_run_date
from .progress import CONSOLE_MODES, LIVE_SHOWN, NotebookProgress, RunLog, format_duration
from .results import FAILED, SUCCEEDED, NotebookError, NotebookResult, RunResult
from .scraps import read_scraps
from .stages import Stage, StageError, alongside, find_stage, load_stages, prerequisites, resolve_max_parallel

RUN_PARAMETERS = ("run_date", "run_id", "staging_dir")  # what the runner provides besides the params keys
PARALLEL_NOTEBOOKS_ENV = "PIPELINE_PARALLEL_NOTEBOOKS"  # in each kernel: how many notebooks may run with it
KEY_PACKAGES = """streamkpi-pipeline streamkpi papermill nbclient nbconvert nbformat ipykernel jupyter_client
    scrapbook pandas numpy pyarrow duckdb sqlalchemy matplotlib seaborn pyyaml""".split()  # versions in the manifest


def run_pipeline(
    run_date: str,
    params_path: str | Path,
    *,
    notebooks_dir: str | Path | None = None,
    run_id: str | None = None,
    console: str | None = None,
    stream: TextIO | None = None,
    max_parallel: int | None = None,
    gate: Callable[[], bool] | None = None,
) -> RunResult:
    """Run every ``NN_<name>.ipynb`` of ``notebooks_dir`` (default ``<repo>/notebooks``) for ``run_date`` in a new run
    folder, logging to ``stream`` (default stderr); wrong inputs raise :class:`PipelineError`, a failed notebook not.
    ``gate()`` (a backfill's), asked while the run waits: may the stages flagged ``after_earlier_dates`` start yet?"""
    run = _Run(run_date, params_path, notebooks_dir, run_id, console, stream)
    parallel = resolve_max_parallel(max_parallel)
    # The folder first: the first kernels start while papermill checks the parameters; if wrong, the folder goes.
    made = [folder for folder in (run.date_dir.parent, run.date_dir) if not folder.exists()]
    run.run_dir, run.run_id = runfolder.create_run_dir(run.date_dir, run.run_id)
    notebooks = run.results(run.stages)

    def prepare() -> None:
        run.plan_parameters(run.stages)
        for nb, planned in zip(notebooks, run.results(run.stages)):
            nb.parameters = planned.parameters
        run.write_first_manifest()
        run.logger.info(f"pipeline: run {run.run_date} {run.run_id} with {run.params.source} -> {run.run_dir}")

    try:
        run.logger = RunLog(run.run_dir / "run.log", console=run.stream, mode=run.console, append=False, date=run_date)
        return run.execute(notebooks, parallel, prepare, gate)
    except PipelineError:
        run.logger.close()
        shutil.rmtree(run.run_dir, ignore_errors=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):  # another run made something there meanwhile
                folder.rmdir()
        raise


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
    """Run one stage (``load``, ``05_load`` or ``05_load.ipynb``) in run folder ``run_id``, made if need be, unless one
    it needs has not succeeded there or it is another run's (:class:`PipelineError`). ``ok``: the stage's."""
    run = _Run(run_date, params_path, notebooks_dir, run_id, console, stream, stage)
    run.plan_parameters([run.target])
    target, needed = run.target, prerequisites(run.stages, run.target)
    refused = f"cannot run stage {target.name} ({target.notebook})"
    run.date_dir.mkdir(parents=True, exist_ok=True)
    with runfolder.locked(run.date_dir):  # creating a folder and its first manifest is one step for others
        existing = run_id is not None and (run.date_dir / run_id).is_dir()
        if not existing and needed:
            hint = "a new run folder would be empty (pass the --run-id of the run to continue)"
            where = f"run folder {run.date_dir / run_id} does not exist" if run_id else hint
            names = ", ".join(f"{s.name} ({s.notebook})" for s in needed)
            raise StageError(f"{refused}: {where}; it needs {names} to have succeeded there first")
        if not existing:
            run.run_dir, run.run_id = runfolder.create_run_dir(run.date_dir, run.run_id)
            run.write_first_manifest()
    run.run_dir = run.date_dir / run.run_id
    (nb,) = run.results([target])
    with runfolder.locked(run.run_dir):
        manifest = runfolder.read_manifest(run.run_dir)
        if existing:
            runfolder.check_same_run(manifest, run.run_date, [s.notebook for s in run.stages], run.params.sanitised())
            unmet = {e["name"]: e["status"] for e in manifest["notebooks"] if e["status"] != SUCCEEDED}
            if missing := [f"{s.name} ({s.notebook}: {unmet[s.notebook]})" for s in needed if s.notebook in unmet]:
                raise StageError(
                    f"{refused} in run folder {run.run_dir}: it needs {', '.join(missing)} to have succeeded there "
                    f"first; run {'it' if len(missing) == 1 else 'them'} with --run-id {run.run_id} --stage NAME"
                )
        if (earlier := runfolder.set_aside_earlier_attempt(manifest, nb)) is not None:
            runfolder.write_manifest(manifest, run.run_dir)
    run.logger = RunLog(run.run_dir / "run.log", console=run.stream, mode=run.console, append=True, date=run.run_date)
    of_run = f"run {run.run_date} {run.run_id} with {run.params.source} -> {run.run_dir}"
    run.logger.info(f"pipeline: stage {target.name} of {of_run}")
    if earlier is not None:
        kept = f"{earlier.get('ipynb') or '-'} and {earlier.get('html') or '-'}"
        run.logger.info(f"pipeline: {nb.name} ran here before ({earlier.get('status')}); kept as {kept}")
    return run.execute([nb], resolve_max_parallel())  # one notebook, but its siblings may run beside it


class _Run:
    """One call: what it starts from, validated before any folder is made, then its run folder."""

    def __init__(self, run_date, params_path, notebooks_dir, run_id, console, stream, stage: str | None = None):
        self.run_date = validate_run_date(run_date)
        self.run_id = None if run_id is None else runfolder.validate_run_id(run_id)
        self.notebooks_dir = Path(notebooks_dir).resolve() if notebooks_dir else repo_root() / "notebooks"
        self.stages = load_stages(self.notebooks_dir)  # a malformed stage declaration stops every kind of run
        self.target = find_stage(self.stages, stage) if stage is not None else None
        self.params = load_params(params_path)
        self.plan: dict[Path, list[str]] = {}  # the parameters each notebook declares: plan_parameters
        self.stream = stream if stream is not None else sys.stderr
        self.console = console or ("live" if getattr(self.stream, "isatty", bool)() else "lines")
        if self.console not in CONSOLE_MODES:
            raise ValueError(f"console must be one of {', '.join(CONSOLE_MODES)}, not {console!r}")
        self.date_dir = Path(self.params["reports_dir"]) / self.run_date
        self.alert_webhook = os.environ.get(alerts.WEBHOOK_ENV, "").strip() or self.params["alert_webhook_url"]
        self.prepared = False  # once _run_notebooks ran prepare(): the notebooks are recorded, whatever happens

    def plan_parameters(self, stages: list[Stage]) -> None:
        """What the ``parameters`` cells of ``stages`` declare; a NotebookParameterError names any the run lacks."""
        self.plan = select_parameters([s.path for s in stages], [*RUN_PARAMETERS, *self.params.notebook_parameters()])

    def results(self, stages: list[Stage]) -> list[NotebookResult]:
        """A result per stage, each with the parameters its notebook declares (once they are planned)."""
        values = {"run_date": self.run_date, "run_id": self.run_id, "staging_dir": str(self.run_dir / "staging")}
        values.update(self.params.notebook_parameters())
        parameters = {s.path: {name: values[name] for name in self.plan.get(s.path, [])} for s in stages}
        return [NotebookResult(s.notebook, s.path, self.run_dir / s.notebook, parameters[s.path]) for s in stages]

    def write_first_manifest(self) -> None:
        """The run folder's first manifest: its context, and every stage not run yet."""
        context = {"params_file": str(Path(self.params.source).resolve()), "params": self.params.sanitised()}
        context.update(notebooks_dir=str(self.notebooks_dir), run_dir=str(self.run_dir), **provenance())
        manifest = runfolder.new_manifest(self.run_date, self.run_id, self.results(self.stages), context)
        runfolder.write_manifest(manifest, self.run_dir)

    def execute(self, notebooks: list[NotebookResult], parallel: int, prepare=lambda: None, gate=None) -> RunResult:
        """Run ``notebooks``, ``prepare()`` as the first kernels start; unless it raised, record them, come what may."""
        started = datetime.now(UTC)
        try:
            _run_notebooks(self, notebooks, parallel, prepare, gate)
        finally:
            if self.prepared:  # else prepare raised before any notebook ran, and so does this
                result = self.record(notebooks, started)
        return result

    def record(self, notebooks: list[NotebookResult], started: datetime) -> RunResult:
        """What ``notebooks`` did into the manifest, the indexes rebuilt, the outcome logged."""
        manifest = runfolder.record(self.run_dir, notebooks, ended := datetime.now(UTC))
        overview = Path(self.params["reports_dir"]) / "index.html"
        try:
            runfolder.write_overview(overview.parent)
        except Exception as exc:  # never fails the run
            self.logger.warning(f"pipeline: could not rebuild {overview}: {type(exc).__name__}: {exc}")
        if (error := next((nb.error for nb in notebooks if nb.error), None)) is not None:
            self.logger.warning(f"pipeline failed in {error.describe()}")
        took, status = format_duration((ended - started).total_seconds()), manifest["status"]
        outcome, stage = f"{status} in {took}", None
        if self.target:
            stage, done = self.target.name, sum(e["status"] == SUCCEEDED for e in manifest["notebooks"])
            of_run = f"run {status} ({done} of {len(manifest['notebooks'])} notebooks succeeded)"
            outcome = f"stage {stage} {notebooks[0].status} in {took}; {of_run}"
        level = logging.WARNING if error else logging.INFO
        self.logger.log(level, f"pipeline: {outcome}; report {self.run_dir / 'index.html'}; all runs {overview}")
        if self.alert_webhook and (message := alerts.alert_message(manifest, notebooks, self.run_dir / "index.html")):
            alerts.send(self.alert_webhook, message, self.logger)
        self.logger.close()
        return RunResult(self.run_date, self.run_id, self.run_dir, status, started, ended, notebooks, manifest, stage)


def _run_notebooks(run: _Run, notebooks: list[NotebookResult], parallel: int, prepare, gate) -> None:
    """Each notebook once those it needs succeeded, in notebook order but past those ``gate`` holds, ``parallel`` at
    most at once, none after a failure. Kernels start ahead with imports (:mod:`pipeline.warmup`); Ctrl-C kills all."""
    by_stem = {nb.stem: nb for nb in notebooks}
    stages = {s.stem: s for s in run.stages if s.stem in by_stem}
    needs = {stem: [d for d in s.depends_on if d in by_stem] for stem, s in stages.items()}
    tags = {s.stem: f"[{i}/{len(run.stages)}] {s.notebook}" for i, s in enumerate(run.stages, 1) if s.stem in by_stem}
    graph, order = TopologicalSorter(needs), list(stages)  # stages: in notebook order
    graph.prepare()
    kernels, ended, log = Kernels(), queue.Queue(), run.logger  # the notebooks, as they end
    turns: dict[str, threading.Event] = {}  # the workers started, each waiting for its turn
    ready, running, done, cancelled = [], set(), set(), set()

    def run_one(nb: NotebookResult) -> None:
        at_once = min(parallel, 1 + len(alongside(run.stages, stages[nb.stem])))
        env = {**os.environ, PARALLEL_NOTEBOOKS_ENV: str(at_once)}
        had_log, reported, timeout = nb.log_path.exists(), False, run.params["notebook_timeout_seconds"]
        try:
            progress = NotebookProgress(tags[nb.stem], nb.log_path, log)  # the kernel's output goes to the log
            with kernels.kernel(nb.stem, env, progress.file) as km:
                note = run_sync(warmup.prepare)(km, nb.input_path, timeout)
                turns[nb.stem].wait()
                if nb.stem in cancelled:  # its turn never came: no trace of it
                    progress.file.close()
                    if not had_log:
                        nb.log_path.unlink()
                    return
                with progress:
                    progress.event(note)
                    execute_notebook(nb, km, cwd=run.notebooks_dir, timeout=timeout, progress=progress)
                    runfolder.record(run.run_dir, [nb], datetime.now(UTC))  # before its ok line: a kill now keeps it
                    ended.put(nb)  # what depends on it may start while its kernel shuts down
                    reported = True
        except Exception as exc:  # a bug around the notebook, not in it: told at its turn
            turns[nb.stem].wait()
            if not reported and nb.stem not in cancelled:
                nb.error, nb.status = NotebookError(nb.name, None, None, type(exc).__name__, str(exc)), FAILED
                ended.put(nb)

    def start_ahead(stem: str) -> None:
        turns[stem] = threading.Event()
        workers.submit(run_one, by_stem[stem])

    def finish(nb: NotebookResult, interrupted: BaseException | None = None) -> None:
        running.discard(nb.stem)
        if interrupted is not None and nb.status != SUCCEEDED:
            message = str(interrupted) or "the run was interrupted"
            nb.error, nb.status = NotebookError(nb.name, None, None, type(interrupted).__name__, message), FAILED
        ok = nb.status == SUCCEEDED
        line = f"{tags[nb.stem]} {'ok' if ok else 'FAILED'} ({format_duration(nb.duration_seconds)})"
        log.log(logging.INFO if ok else logging.WARNING, line + (": interrupted" if interrupted and not ok else ""))
        collected.append(collector.submit(_collect, nb, tags[nb.stem], log, run.run_date))

    with ThreadPoolExecutor(len(notebooks), "notebook") as workers, ThreadPoolExecutor(1, "collect") as collector:
        collected, stopped = [], False
        try:
            while not stopped or running:
                ready = [] if stopped else sorted([*ready, *graph.get_ready()], key=order.index)
                if not run.prepared:  # the first notebooks' kernels start, then papermill is imported meanwhile
                    for stem in ready[:parallel]:
                        start_ahead(stem)
                    try:
                        prepare()
                        runfolder.mark_running(run.run_dir, notebooks)
                    except BaseException:
                        kernels.kill()
                        raise
                    run.prepared = True
                    collected.append(collector.submit(pages.exporters))  # nbconvert, while the first notebooks run
                may = gate is None or gate()  # a KeyboardInterrupt from it interrupts the run as Ctrl-C does
                for stem in [s for s in ready if may or not stages[s].after_earlier_dates][: parallel - len(running)]:
                    ready.remove(stem)
                    running.add(stem)
                    log.info(f"{tags[stem]} ...", extra={LIVE_SHOWN: True})
                    if stem not in turns:
                        start_ahead(stem)
                    turns[stem].set()
                soon = [s for s in stages if s not in turns and all(d in turns for d in needs[s])]
                for stem in [] if stopped else soon[: parallel + 1 - len(turns.keys() - done)]:  # kernels alive
                    start_ahead(stem)
                if not running and not ready:
                    break
                with contextlib.suppress(queue.Empty):  # timed: the gate asked again, a Ctrl-C seen
                    if (nb := ended.get(timeout=0.2)).status == SUCCEEDED:
                        graph.done(nb.stem)
                        done.add(nb.stem)
                    stopped = stopped or nb.status != SUCCEEDED
                    finish(nb)
        except KeyboardInterrupt as exc:
            kernels.kill()
            while running:  # each ends within a second or so: its kernel is gone
                finish(ended.get(), interrupted=exc)
            raise
        finally:
            cancelled.update(stem for stem, turn in turns.items() if not turn.is_set())  # their notebooks will not run
            kernels.kill(cancelled)  # their workers may wait on a kernel's start or warm-up, not only their turn
            for stem in cancelled:
                turns[stem].set()
            for stem in (stem for stem in stages if run.prepared and (stem not in turns or stem in cancelled)):
                log.info(f"{tags[stem]} not run")
            wait(collected)


def _collect(nb: NotebookResult, tag: str, log: logging.Logger, run_date: str) -> None:
    """Scraps, published figures, the two pages and the manifest entry of an executed notebook."""
    if not nb.output_path.is_file():
        return
    try:
        nb.scraps, nb.figures = read_scraps(nb.output_path, nb.output_path.parent)
    except Exception as exc:
        nb.scraps_error = f"{type(exc).__name__}: {exc}"
        log.warning(f"{tag}: could not read scraps: {nb.scraps_error}")
    try:
        pages.render_pages(nb.output_path, nb.html_path, nb.code_html_path, subtitle=run_date)
    except Exception as exc:
        nb.render_error = f"{type(exc).__name__}: {exc}"
        log.warning(f"{tag}: could not render {nb.html_path.name}: {nb.render_error}")
    runfolder.record(nb.output_path.parent, [nb], datetime.now(UTC))  # its pages and scraps, as soon as they exist


def provenance() -> dict[str, Any]:
    """The repository's commit (and whether the work tree differs from it); KEY_PACKAGES' versions (null if missing)."""

    def git(*args: str) -> str | None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(["git", "-C", str(repo_root()), *args], capture_output=True, text=True, timeout=30)
            return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "--quiet", "HEAD")
    status = git("status", "--porcelain") if commit else None
    dirty = None if status is None else bool(status)
    packages = {name: next((d.version for d in metadata.distributions(name=name)), None) for name in KEY_PACKAGES}
    return {"git_commit": commit, "git_dirty": dirty, "python": platform.python_version(), "packages": packages}
