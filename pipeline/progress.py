"""What a run prints and logs, through :mod:`logging`: every line to ``run.log``, and to the
console as one of :data:`CONSOLE_MODES` says (``live``: a line rewritten every second with each
running notebook's cell; ``lines``: a line per finished cell too; ``quiet``: failures only, logged
as warnings); each notebook's cells, output and kernel output to its ``logs/NN_name.log``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

CONSOLE_MODES = ("live", "lines", "quiet")
CLEAR_LINE = "\r\x1b[2K"
SEPARATOR = "  |  "  # between notebooks running at the same time on the live line
LIVE_SHOWN = "live_shown"  # marks a record whose news the live line shows instead


def format_duration(seconds: float | None) -> str:
    """``0.8 s``, ``12.3 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LiveLine(logging.StreamHandler):
    """The ``live`` console: records print above one line that shows every running notebook."""

    def __init__(self, stream: TextIO):
        super().__init__(stream)
        self.running: list[NotebookProgress] = []
        self._shown = False
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="live-line", daemon=True)
        self._ticker.start()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, LIVE_SHOWN, False):
            return
        self._clear()
        super().emit(record)
        self.redraw()

    def redraw(self) -> None:
        with self.lock:
            if not self.running:
                return self._clear()
            text = SEPARATOR.join(progress.status() for progress in self.running)
            try:
                width = os.get_terminal_size(self.stream.fileno()).columns
            except (AttributeError, OSError, ValueError):  # not a terminal
                width = None
            if width is not None and len(text) >= width:  # a wrapped line would not be rewritten
                text = text[: max(width - 4, 0)] + "..."
            self.stream.write(CLEAR_LINE + text)
            self.stream.flush()
            self._shown = True

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        with self.lock:
            self._clear()
            self.flush()
        super().close()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.redraw()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write(CLEAR_LINE)
            self._shown = False


class RunLog(logging.Logger):
    """One run's logger (not in logging's registry): each record reaches every handler before the
    next does, so ``run.log`` and the console agree line for line though notebooks log from threads."""

    def __init__(self, run_log: Path, *, console: TextIO, mode: str, append: bool):
        super().__init__("pipeline.run")
        self._order = threading.Lock()
        self.live = LiveLine(console) if mode == "live" else None
        shown = self.live or logging.StreamHandler(console)
        shown.setLevel(logging.WARNING if mode == "quiet" else logging.INFO)
        for handler in (logging.FileHandler(run_log, mode="a" if append else "x", encoding="utf-8"), shown):
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.addHandler(handler)

    def handle(self, record: logging.LogRecord) -> None:
        with self._order:
            super().handle(record)

    def close(self) -> None:
        for handler in list(self.handlers):
            handler.close()
            self.removeHandler(handler)


class NotebookProgress:
    """One notebook's progress: nbclient's cell hooks (:meth:`hooks`) log each cell to the
    notebook's log and a line per finished cell to the run's logger; its state shows on the live
    line. :attr:`file` (the log itself) takes what the cells and the kernel process print."""

    def __init__(self, tag: str, log_path: Path, logger: RunLog):
        self.tag, self.logger, self.live = tag, logger, logger.live
        self.numbers: dict[int, int] = {}  # cell index -> the In [N] it gets, once the notebook is known
        self.cell: int | None = None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(log_path, "a", encoding="utf-8")  # a stage rerun appends: every attempt is kept
        self._lock = threading.Lock()
        self._line_open = False  # the last thing a cell printed did not end its line
        self._started = self._cell_started = time.monotonic()

    def __enter__(self) -> NotebookProgress:
        self.event(f"{self.tag}: started")
        if self.live is not None:
            with self.live.lock:
                self.live.running.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            with self.live.lock:
                self.live.running.remove(self)
            self.live.redraw()
        self.event(f"{self.tag}: ended after {format_duration(self.elapsed)}")
        self.file.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def hooks(self) -> dict[str, Any]:
        """nbclient's hooks for this notebook (``on_notebook_start``, ``on_cell_*``)."""
        return {
            "on_notebook_start": self._loaded,
            "on_cell_start": self._start,
            "on_cell_error": self._error,
            "on_cell_executed": self._executed,
        }

    def write(self, text: str) -> None:
        """What a cell printed (papermill's ``stdout_file`` / ``stderr_file``)."""
        with self._lock:
            self.file.write(text)
            self.file.flush()
            self._line_open = not text.endswith("\n")

    def flush(self) -> None:
        pass

    def event(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.write(("\n" if self._line_open else "") + f"[{stamp}] {text}\n")

    def status(self) -> str:
        """The live line's part: ``[2/4] 02_genre_kpis.ipynb  cell 5/9  3.1 s``."""
        cell = f"cell {self.cell}/{len(self.numbers)}" if self.cell else "starting"
        return f"{self.tag}  {cell}  {format_duration(self.elapsed)}"

    def _loaded(self, notebook: Any) -> None:
        """The notebook as papermill runs it, its injected parameters cell included."""
        code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        self.numbers = {index: number for number, index in enumerate(code, 1)}

    def _start(self, cell: Any, cell_index: int) -> None:
        if cell_index in self.numbers:
            self.cell, self._cell_started = self.numbers[cell_index], time.monotonic()
            self.event(f"cell {self.cell}/{len(self.numbers)} started")
            if self.live is not None:
                self.live.redraw()

    def _error(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply.get("content", {})
        number = self.numbers[cell_index]
        self.event(f"cell {number}/{len(self.numbers)} raised {content.get('ename')}: {content.get('evalue')}")
        self._finished(number, "FAILED")

    def _executed(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        if execute_reply.get("content", {}).get("status") != "error":  # else: _error, once it is known
            self._finished(self.numbers[cell_index], "done")

    def _finished(self, number: int, outcome: str) -> None:
        took = format_duration(time.monotonic() - self._cell_started)
        line = f"cell {number}/{len(self.numbers)} {outcome} in {took}"
        self.event(line)
        self.logger.info(f"{self.tag} {line} ({format_duration(self.elapsed)} so far)", extra={LIVE_SHOWN: True})
