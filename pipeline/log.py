"""What the runner prints: each line goes to stderr and to the run folder's ``run.log``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO


class RunLog:
    """Line printer for a run: writes to ``stream`` (stderr) and, once set, to ``run.log``.

    Lines printed before the run folder exists are kept and written when :meth:`attach` is called.
    With ``quiet`` (cron), only the lines marked ``always`` (failures) reach ``stream``; ``run.log``
    still gets every line. Notebooks running at the same time log from several threads: each line
    is written whole.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self._file: TextIO | None = None
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def attach(self, path: str | Path, *, append: bool = False) -> None:
        """Start copying lines to ``path``: a new file, or with ``append`` the end of an existing
        one (a stage run adds its lines to its run folder's log)."""
        self._file = open(path, "a" if append else "x", encoding="utf-8")
        for line in self._pending:
            self._file.write(line + "\n")
        self._pending.clear()
        self._file.flush()

    def line(self, text: str, *, always: bool = False) -> None:
        with self._lock:
            for part in text.splitlines() or [""]:
                if always or not self.quiet:
                    print(part, file=self.stream, flush=True)
                self._keep(part)

    def record(self, text: str) -> None:
        """Write ``text`` to ``run.log`` only (what the console shows another way, e.g. a live line)."""
        with self._lock:
            for part in text.splitlines() or [""]:
                self._keep(part)

    def _keep(self, line: str) -> None:
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()
        else:
            self._pending.append(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
