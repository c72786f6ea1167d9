"""Progress of a running notebook: which notebook, which cell, how long so far.

papermill runs a notebook through an *engine*; the runner's (:mod:`pipeline.engine`) tells a
:class:`NotebookProgress` when each cell starts and ends, and hands it what the cells print.
:class:`NotebookProgress` then

- writes every event, with the time, to the notebook's log in the run folder
  (``logs/NN_<name>.log``), followed by what the cells printed on stdout and stderr;
- hands a line per finished cell to the runner, which writes it to ``run.log``;
- shows progress on the console in one of three ways (:data:`CONSOLE_MODES`): ``live``, one line
  rewritten in place with the cell and the elapsed time ticking (a terminal; notebooks running
  at the same time share it, see :class:`LiveLine`); ``lines``, the line per finished cell (a
  log collector, e.g. Airflow's task log); ``quiet``, nothing (cron).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .log import format_duration

CONSOLE_MODES = ("live", "lines", "quiet")
TICK_SECONDS = 1.0
CLEAR_LINE = "\r\x1b[2K"
SEPARATOR = "  |  "  # between notebooks running at the same time on the live line


class LiveLine:
    """The console line of the ``live`` mode, rewritten in place every second: each running
    notebook with its cell and its time so far, side by side when several run at once, cut to
    the terminal's width.

    It is also a text stream for the runner's own lines: a line written through it clears the
    live line, takes its place, and the live line is drawn again below it.
    """

    def __init__(self, console: TextIO):
        self.console = console
        self._lock = threading.RLock()
        self._running: list[NotebookProgress] = []
        self._shown = False
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="live-line", daemon=True)
        self._ticker.start()

    def add(self, progress: NotebookProgress) -> None:
        with self._lock:
            self._running.append(progress)
            self._draw()

    def remove(self, progress: NotebookProgress) -> None:
        with self._lock:
            self._running.remove(progress)
            self._draw()

    def refresh(self) -> None:
        with self._lock:
            self._draw()

    def write(self, text: str) -> None:
        with self._lock:
            self._clear()
            self.console.write(text)
            if text.endswith("\n"):
                self._draw()

    def flush(self) -> None:
        self.console.flush()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        with self._lock:
            self._clear()
            self.console.flush()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.refresh()

    def _draw(self) -> None:
        if not self._running:
            self._clear()
            return
        text = SEPARATOR.join(progress.status() for progress in self._running)
        width = _width(self.console)
        if width is not None and len(text) >= width:
            text = text[: max(width - 4, 0)] + "..."
        self.console.write(CLEAR_LINE + text)
        self.console.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.console.write(CLEAR_LINE)
            self._shown = False


def _width(console: TextIO) -> int | None:
    """The terminal's width, if ``console`` is one (a longer line would wrap and not be rewritten)."""
    try:
        return os.get_terminal_size(console.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


class NotebookProgress:
    """Reports the execution of one notebook (see the module docstring); use as a context manager."""

    def __init__(
        self,
        tag: str,
        log_path: str | Path,
        *,
        mode: str,
        console: TextIO,
        say: Callable[[str], None],
        live: LiveLine | None = None,
    ):
        """``tag`` names the notebook in every line (``[2/4] 02_genre_kpis.ipynb``); ``console``
        gets the ``live`` line, through ``live`` when given (the line notebooks running at the
        same time share), else through a line of its own; ``say`` gets a line per finished cell,
        whatever the mode (the runner prints it in the ``lines`` mode and writes it to ``run.log``
        in every mode)."""
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
        self._shared_live = live
        self._live: LiveLine | None = None
        self._log: TextIO | None = None
        self._line_open = False  # the last thing a cell printed did not end its line

    def __enter__(self) -> NotebookProgress:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A stage rerun in the same folder appends: the log keeps every attempt.
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._started = time.monotonic()
        self.event(f"{self.tag}: started")
        if self.mode == "live":
            self._live = self._shared_live or LiveLine(self.console)
            self._live.add(self)
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.remove(self)  # the caller prints the notebook's result line next
            if self._live is not self._shared_live:
                self._live.close()
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
        if self._live is not None:
            self._live.refresh()

    def cell_failed(self, number: int, ename: str, evalue: str) -> None:
        self.event(f"cell {number}/{self.code_cells} raised {ename}: {evalue}")

    def cell_finished(self, number: int, failed: bool) -> None:
        took = format_duration(time.monotonic() - self._cell_started)
        outcome = "FAILED" if failed else "done"
        self.event(f"cell {number}/{self.code_cells} {outcome} in {took}")
        self.say(
            f"{self.tag} cell {number}/{self.code_cells} {outcome} in {took} ({format_duration(self.elapsed)} so far)"
        )

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

    def status(self) -> str:
        """What the live line shows of this notebook: ``[2/4] 02_genre_kpis.ipynb  cell 5/9  3.1 s``."""
        cell = f"cell {self.cell}/{self.code_cells}" if self.cell else "starting"
        return f"{self.tag}  {cell}  {format_duration(self.elapsed)}"

    # -------------------------------------------------------------------- internals

    def event(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.write(("\n" if self._line_open else "") + f"[{stamp}] {text}\n")
