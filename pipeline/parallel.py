"""Running the notebooks of a run side by side, as their stage graph allows.

Each notebook starts as soon as every notebook it depends on has succeeded, at most
``max_parallel`` at once, in notebook order when several may (:mod:`pipeline.schedule`), in a
kernel started and warmed up ahead of its turn (:mod:`pipeline.kernels`). Once a notebook's last
cell has run, what depends on it may start and its scraps, figures and pages are collected in
the background (:mod:`pipeline.collect`), while its kernel shuts down (a graceful exit of a
kernel that imported pandas & co. takes half a second); so what a notebook hands over must be
complete when its cells end, as in JupyterLab, where the kernel outlives the last cell. After a
failure nothing new starts: the running notebooks finish and the others are not run. On Ctrl-C
every kernel is killed and the notebooks running then are recorded as interrupted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .collect import Collector
from .kernels import KernelPool, NotebookKernel
from .log import RunLog, format_duration
from .progress import LiveLine, NotebookProgress
from .results import FAILED, NOT_RUN, SUCCEEDED, NotebookError, NotebookResult
from .schedule import PARALLEL_NOTEBOOKS_ENV, RUNNING, WARMING, Schedule
from .stages import Stage


@contextlib.contextmanager
def notebook_kernels(
    stages: Sequence[Stage], *, max_parallel: int, cwd: Path, at_once: Callable[[Stage], int]
) -> Iterator[tuple[Schedule, KernelPool]]:
    """The schedule and the kernels of a run. The kernels of the notebooks that can start
    first are started at once, while the runner prepares the run; none outlives the block.
    ``at_once(stage)``: how many notebooks may run at the same time as that one, itself included
    (its kernel gets it as ``PIPELINE_PARALLEL_NOTEBOOKS``, to size its memory by)."""
    schedule = Schedule(stages, max_parallel)
    kernels = KernelPool(cwd=cwd, extra_env=lambda stage: {PARALLEL_NOTEBOOKS_ENV: str(at_once(stage))})
    try:
        for stage in schedule.to_start():
            kernels.start(stage)
            schedule.mark(stage.stem, WARMING)
        yield schedule, kernels
    finally:
        kernels.close()


def run_notebooks(
    notebooks: Sequence[NotebookResult],
    schedule: Schedule,
    kernels: KernelPool,
    log: RunLog,
    *,
    console: str,
    run_date: str,
    numbering: tuple[int, int] | None = None,
) -> None:
    """Run ``notebooks`` (those of ``schedule``'s stages, in the same order) as the schedule
    allows, each with its progress shown as ``console`` says and logged in its ``logs/`` file;
    return once every notebook that ran has its pages rendered (kernels may still be shutting
    down: :func:`notebook_kernels` waits for them). ``numbering`` = (first position, total) for
    the ``[i/total]`` tags (default: 1 and ``len(notebooks)``). Ctrl-C propagates once the
    running notebooks are recorded as interrupted."""
    first, total = numbering or (1, len(notebooks))
    collector = Collector(log, subtitle=run_date)
    with _live_console(log, console) as live:
        run = _Run(
            notebooks,
            schedule,
            kernels,
            log,
            console=console,
            live=live,
            collector=collector,
            tags=[f"[{i}/{total}] {nb.name}" for i, nb in enumerate(notebooks, first)],
        )
        try:
            run.until_done()
        except KeyboardInterrupt as exc:
            run.interrupt(exc)
            raise
        finally:
            kernels.cancel_waiting()
            collector.close()
            run.report_not_run()


def run_notebook(
    nb: NotebookResult,
    *,
    cwd: Path,
    timeout: int | None,
    progress: NotebookProgress | None = None,
    kernel_manager: Any = None,
    env: Mapping[str, str] | None = None,
) -> NotebookResult:
    """Execute one notebook (in the kernel of ``kernel_manager`` if it has one, see
    :func:`pipeline.execute.execute_notebook`) and record status, times and error on ``nb``."""
    from .execute import execute_notebook  # papermill: the runner imports it once kernels start

    nb.started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        nb.error = execute_notebook(
            nb.input_path,
            nb.output_path,
            nb.parameters,
            cwd=cwd,
            timeout=timeout,
            progress=progress,
            kernel_manager=kernel_manager,
            env=env,
        )
    except BaseException as exc:  # what execute_notebook does not turn into a result (Ctrl-C, a bug)
        nb.error = NotebookError(nb.name, None, None, type(exc).__name__, str(exc) or "the run was interrupted")
        raise
    finally:
        nb.finished = datetime.now(UTC)
        nb.duration_seconds = time.monotonic() - clock
        nb.status = SUCCEEDED if nb.error is None else FAILED
    return nb


@contextlib.contextmanager
def _live_console(log: RunLog, console: str) -> Iterator[LiveLine | None]:
    """In the ``live`` mode, the line the running notebooks share; the runner's lines go
    through it meanwhile (above it)."""
    if console != "live":
        yield None
        return
    live = LiveLine(log.stream)
    log.stream = live
    try:
        yield live
    finally:
        live.close()
        log.stream = live.console


class _Run:
    """The notebooks of one run (by stem) and what happens to each."""

    def __init__(
        self,
        notebooks: Sequence[NotebookResult],
        schedule: Schedule,
        kernels: KernelPool,
        log: RunLog,
        *,
        console: str,
        live: LiveLine | None,
        collector: Collector,
        tags: list[str],
    ):
        self.notebooks = {nb.stem: nb for nb in notebooks}
        self.tags = {nb.stem: tag for nb, tag in zip(notebooks, tags)}
        self.schedule = schedule
        self.kernels = kernels
        self.log = log
        self.console = console
        self.live = live
        self.collector = collector
        # Progress lines always reach run.log; on a terminal the live line shows them instead.
        self.say = log.record if console == "live" else log.line

    def until_done(self) -> None:
        while True:
            for stage in self.schedule.to_start():
                self._start(stage)
            for stage in self.schedule.to_warm():
                self.kernels.start(stage)
                self.schedule.mark(stage.stem, WARMING)
            if not self.schedule.running:
                return
            self._ended(self._next_ended())

    def interrupt(self, exc: BaseException) -> None:
        """Ctrl-C: kill every kernel and record the notebooks that were running."""
        self.schedule.stop()
        self.kernels.kill_all()
        while self.schedule.running:
            kernel = self._next_ended()
            nb, tag = self.notebooks[kernel.stem], self.tags[kernel.stem]
            if nb.started is None:  # its turn had come, its kernel was not ready yet
                self.schedule.mark(kernel.stem, NOT_RUN)
            elif nb.status == SUCCEEDED:  # it ended just before
                self._ended(kernel)
            else:
                nb.error = NotebookError(nb.name, None, None, type(exc).__name__, str(exc) or "the run was interrupted")
                nb.status = FAILED
                self.schedule.mark(kernel.stem, FAILED)
                self.log.line(f"{tag} FAILED ({format_duration(nb.duration_seconds)}): interrupted", always=True)

    def report_not_run(self) -> None:
        for stem in self.schedule.not_run():
            self.log.line(f"{self.tags[stem]} {NOT_RUN}")

    def _start(self, stage: Stage) -> None:
        nb, tag = self.notebooks[stage.stem], self.tags[stage.stem]
        self.say(f"{tag} ...")
        kernel = self.kernels.start(stage)
        self.schedule.mark(stage.stem, RUNNING)
        kernel.run(lambda kernel_manager: self._execute(nb, tag, kernel, kernel_manager))

    def _execute(self, nb: NotebookResult, tag: str, kernel: NotebookKernel, kernel_manager: Any) -> None:
        """In the kernel's thread: run the notebook, its progress shown and logged."""
        with NotebookProgress(
            tag, nb.log_path, mode=self.console, console=self.log.stream, say=self.say, live=self.live
        ) as progress:
            kernel.output.attach(nb.log_path)
            how = kernel.describe()
            if how:
                progress.event(how)
            run_notebook(
                nb,
                cwd=self.kernels.cwd,
                timeout=self.kernels.cell_timeout,
                progress=progress,
                kernel_manager=kernel_manager,
                env=kernel.env(),
            )

    def _next_ended(self) -> NotebookKernel:
        """The kernel of the next running notebook to end: its cells have run (or its kernel
        exited without running them)."""
        while True:
            _, kernel = self.kernels.events.get()
            if self.schedule.state[kernel.stem] == RUNNING:
                return kernel

    def _ended(self, kernel: NotebookKernel) -> None:
        nb, tag = self.notebooks[kernel.stem], self.tags[kernel.stem]
        if kernel.failure is not None and nb.error is None:  # a bug around the notebook, not in it
            nb.error = NotebookError(nb.name, None, None, type(kernel.failure).__name__, str(kernel.failure))
            nb.status = FAILED
        self.schedule.mark(kernel.stem, nb.status)
        failed = nb.status != SUCCEEDED
        if failed:
            self.kernels.cancel_waiting()
        self.log.line(f"{tag} {'FAILED' if failed else 'ok'} ({format_duration(nb.duration_seconds)})", always=failed)
        self.collector.submit(nb, tag)
