"""What a run prints and logs: all to ``run.log``; to the console per :data:`CONSOLE_MODES` (``live``: a line redrawn
each second; ``lines``: a line per finished cell too; ``quiet``: failures only); per notebook, ``logs/NN_name.log``."""

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

CONSOLE_MODES, CLEAR_LINE = ("live", "lines", "quiet"), "\r\x1b[2K"
HOOKS = ("on_notebook_start", "on_cell_start", "on_cell_error", "on_cell_executed")  # nbclient's, used here
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
    """The ``live`` console: records print above a line, redrawn every second, with each running notebook's cell."""

    def __init__(self, stream: TextIO):
        super().__init__(stream)
        self.running: list[NotebookProgress] = []
        self._stop, self._ticker = threading.Event(), threading.Thread(target=self._tick, name="live-line")
        self._ticker.start()

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, LIVE_SHOWN, False):
            self.stream.write(CLEAR_LINE)
            super().emit(record)
            self.redraw()

    def redraw(self) -> None:
        with self.lock:
            text = "  |  ".join(progress.status() for progress in self.running)  # the notebooks running now
            with contextlib.suppress(AttributeError, OSError, ValueError):  # not a terminal: no width
                width = os.get_terminal_size(self.stream.fileno()).columns
                text = text if len(text) < width else text[: max(width - 4, 0)] + "..."  # else it would wrap
            self.stream.write(CLEAR_LINE + text)
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        self.redraw()  # nothing runs any more: the line is cleared
        super().close()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.redraw()


class RunLog(logging.Logger):
    """One run's logger (not in logging's registry), a record at a time: ``run.log`` and console agree line for line."""

    def __init__(self, run_log: Path, *, console: TextIO, mode: str, append: bool, date: str = ""):
        super().__init__("pipeline.run")
        self._order, self.live = threading.Lock(), (LiveLine(console) if mode == "live" else None)
        shown = self.live or logging.StreamHandler(console)
        shown.setLevel(logging.WARNING if mode == "quiet" else logging.INFO)
        shown.setFormatter(logging.Formatter(f"{date} %(message)s" if mode == "quiet" and date else None))
        self.addHandler(logging.FileHandler(run_log, mode="a" if append else "x", encoding="utf-8"))
        self.addHandler(shown)  # logging's default format, the bare message (quiet: after the date, unlike run.log)

    def handle(self, record: logging.LogRecord) -> None:
        with self._order:
            super().handle(record)

    def close(self) -> None:
        for handler in list(self.handlers):
            handler.close()
            self.removeHandler(handler)


class NotebookProgress:
    """One notebook's progress, from nbclient's hooks: into its log (:attr:`file`), the run's log and the live line."""

    def __init__(self, tag: str, log_path: Path, logger: RunLog):
        self.tag, self.logger, self.live = tag, logger, logger.live
        self.numbers: dict[int, int] = {}  # cell index -> the In [N] it gets, once the notebook is known
        self.cell: int | None = None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(log_path, "a", encoding="utf-8")  # a stage rerun appends: every attempt is kept
        self._lock, self._line_open = threading.Lock(), False  # _line_open: a cell printed a line it did not end
        self._started = self._cell_started = time.monotonic()

    def __enter__(self) -> "NotebookProgress":
        self.event(f"{self.tag}: started")
        if self.live is not None:
            self.live.running.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.running.remove(self)
            self.live.redraw()
        self.event(f"{self.tag}: ended after {format_duration(time.monotonic() - self._started)}")
        self.file.close()

    def hooks(self) -> dict[str, Any]:
        """nbclient's ``on_notebook_start`` and ``on_cell_*`` hooks for this notebook: its methods of those names."""
        return {name: getattr(self, name) for name in HOOKS}

    def write(self, text: str) -> None:
        """What a cell printed (papermill's ``stdout_file`` / ``stderr_file``)."""
        with self._lock:
            self.file.write(text)
            self.file.flush()
            self._line_open = not text.endswith("\n")

    def flush(self) -> None: ...  # write() flushes

    def event(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.write(("\n" if self._line_open else "") + f"[{stamp}] {text}\n")

    def status(self) -> str:
        """The live line's part: ``[2/4] 02_genre_kpis.ipynb  cell 5/9  3.1 s``."""
        cell = f"cell {self.cell}/{len(self.numbers)}" if self.cell else "starting"
        return f"{self.tag}  {cell}  {format_duration(time.monotonic() - self._started)}"

    def on_notebook_start(self, notebook: Any) -> None:  # as papermill runs it, its injected parameters cell included
        code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        self.numbers = {index: number for number, index in enumerate(code, 1)}

    def on_cell_start(self, cell: Any, cell_index: int) -> None:
        if cell_index in self.numbers:
            self.cell, self._cell_started = self.numbers[cell_index], time.monotonic()
            self.event(f"cell {self.cell}/{len(self.numbers)} started")
            if self.live is not None:
                self.live.redraw()

    def on_cell_error(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply.get("content", {})
        self._finished(cell_index, "FAILED", f"raised {content.get('ename')}: {content.get('evalue')}")

    def on_cell_executed(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        if execute_reply.get("content", {}).get("status") != "error":  # else: on_cell_error, once it is known
            self._finished(cell_index, "done")

    def _finished(self, cell_index: int, outcome: str, raised: str | None = None) -> None:
        cell = f"cell {self.numbers[cell_index]}/{len(self.numbers)}"
        if raised:
            self.event(f"{cell} {raised}")
        self.event(line := f"{cell} {outcome} in {format_duration(time.monotonic() - self._cell_started)}")
        so_far = format_duration(time.monotonic() - self._started)
        self.logger.info(f"{self.tag} {line} ({so_far} so far)", extra={LIVE_SHOWN: True})
