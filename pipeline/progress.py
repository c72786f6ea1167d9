"""Progress of a running notebook: which notebook, which cell, how long so far.

papermill runs a notebook through an *engine*; :class:`ProgressEngine` is papermill's own nbclient
engine that also tells a :class:`NotebookProgress` when each cell starts and ends, and hands it
what the cells print. :class:`NotebookProgress` then

- writes every event, with the time, to the notebook's log in the run folder
  (``logs/NN_<name>.log``), followed by what the cells printed on stdout and stderr;
- hands a line per finished cell to the runner, which writes it to ``run.log``;
- shows progress on the console in one of three ways (:data:`CONSOLE_MODES`): ``live``, one line
  rewritten in place with the cell and the elapsed time ticking (a terminal); ``lines``, the line
  per finished cell (a log collector, e.g. Airflow's task log); ``quiet``, nothing (cron).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from .log import format_duration

ENGINE_NAME = "pipeline-progress"
CONSOLE_MODES = ("live", "lines", "quiet")
TICK_SECONDS = 1.0


class NotebookProgress:
    """Reports the execution of one notebook (see the module docstring); use as a context manager."""

    def __init__(self, tag: str, log_path: str | Path, *, mode: str, console: TextIO,
                 say: Callable[[str], None]):
        """``tag`` names the notebook in every line (``[2/4] 02_genre_kpis.ipynb``); ``console``
        gets the ``live`` line; ``say`` gets a line per finished cell, whatever the mode (the runner
        prints it in the ``lines`` mode and writes it to ``run.log`` in every mode)."""
        if mode not in CONSOLE_MODES:
            raise ValueError(f"console mode must be one of {', '.join(CONSOLE_MODES)}, not {mode!r}")
        self.tag = tag
        self.console = console
        self.say = say
        self.mode = mode
        self.log_path = Path(log_path)
        self.code_cells = 0
        self.cell: int | None = None  # the code cell running now, numbered as its In [N]
        self._started = time.monotonic()
        self._cell_started = self._started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._log: TextIO | None = None
        self._line_open = False  # the last thing a cell printed did not end its line

    def __enter__(self) -> "NotebookProgress":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A stage rerun in the same folder appends: the log keeps every attempt.
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._started = time.monotonic()
        self.event(f"{self.tag}: started")
        if self.mode == "live":
            self._ticker = threading.Thread(target=self._tick, name="notebook-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            with self._lock:
                self.console.write("\r\x1b[2K")  # the caller prints the notebook's result line next
                self.console.flush()
        self.event(f"{self.tag}: ended after {format_duration(self.elapsed)}")
        if self._log is not None:
            self._log.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    # -------------------------------------------------------------------- called by the engine

    def notebook_loaded(self, code_cells: int) -> None:
        self.code_cells = code_cells

    def cell_started(self, number: int) -> None:
        self.cell = number
        self._cell_started = time.monotonic()
        self.event(f"cell {number}/{self.code_cells} started")
        self._show_live()

    def cell_failed(self, number: int, ename: str, evalue: str) -> None:
        self.event(f"cell {number}/{self.code_cells} raised {ename}: {evalue}")

    def cell_finished(self, number: int, failed: bool) -> None:
        took = format_duration(time.monotonic() - self._cell_started)
        outcome = "FAILED" if failed else "done"
        self.event(f"cell {number}/{self.code_cells} {outcome} in {took}")
        self.say(f"{self.tag} cell {number}/{self.code_cells} {outcome} in {took}"
                 f" ({format_duration(self.elapsed)} so far)")

    def write(self, text: str) -> None:
        """What a cell printed (stdout or stderr), as it comes: kept in the log only. (With
        :meth:`flush`, the file protocol of papermill's ``stdout_file`` and ``stderr_file``.)"""
        with self._lock:
            if self._log is not None:
                self._log.write(text)
                self._log.flush()
                self._line_open = not text.endswith("\n")

    def flush(self) -> None:
        pass

    @property
    def kernel_output(self) -> TextIO:
        """The log file itself, for the kernel process's stdout and stderr."""
        return self._log

    # -------------------------------------------------------------------- internals

    def event(self, text: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.write(("\n" if self._line_open else "") + f"[{stamp}] {text}\n")

    def _show_live(self) -> None:
        if self.mode != "live":
            return
        cell = f"cell {self.cell}/{self.code_cells}" if self.cell else "starting the kernel"
        self._print(f"\r\x1b[2K{self.tag}  {cell}  {format_duration(self.elapsed)}")

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self._show_live()

    def _print(self, text: str) -> None:
        with self._lock:
            self.console.write(text)
            self.console.flush()


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, reporting each code cell to ``progress`` (a
    :class:`NotebookProgress`, passed to ``papermill.execute_notebook`` as an engine argument) and
    sending what the cells print to it."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, progress: NotebookProgress | None = None, **kwargs):
        if progress is None:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        code = [i for i, cell in enumerate(nb_man.nb.cells) if cell.cell_type == "code"]
        numbers = {index: number for number, index in enumerate(code, 1)}  # the In [N] each cell gets
        progress.notebook_loaded(len(code))
        # The execution manager is papermill's hook on every cell; report around its own handling.
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
                progress.cell_failed(numbers[cell_index], getattr(error, "ename", type(error).__name__),
                                     getattr(error, "evalue", str(error)))
            return cell_exception(cell, cell_index, **kw)

        def on_complete(cell, cell_index=None, **kw):
            result = cell_complete(cell, cell_index, **kw)
            if cell_index in numbers:
                progress.cell_finished(numbers[cell_index], failed=cell_index in failed)
            return result

        nb_man.cell_start, nb_man.cell_exception, nb_man.cell_complete = on_start, on_exception, on_complete
        return cls._execute_with_kernel_output_to(progress, nb_man, kernel_name, **kwargs)

    @classmethod
    def _execute_with_kernel_output_to(cls, progress: NotebookProgress, nb_man, kernel_name, log_output=False,
                                       start_timeout=60, execution_timeout=None, **kwargs):
        """What ``NBClientEngine.execute_managed_notebook`` does, with what the cells print and the
        kernel process's own output (e.g. jupyter_client's warnings, a crash) going to the
        notebook's log instead of the console, which a quiet run must keep silent."""
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
        client = PapermillNotebookClient(nb_man, **final_kwargs)
        return client.execute(stdout=progress.kernel_output, stderr=progress.kernel_output)


papermill_engines.register(ENGINE_NAME, ProgressEngine)
