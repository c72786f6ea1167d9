"""What the runner takes from a finished notebook, in the background while the next ones run:
its scraps, its published figures and its two HTML pages.

One thread does it for the whole run, notebook after notebook as they finish; it imports
nbconvert and builds the HTML exporters as soon as it starts, so that the first
finished notebook does not wait for them either. :meth:`Collector.close` waits until every
finished notebook is done: the manifest, written after it, is complete.
"""

from __future__ import annotations

import queue
import threading

from .figures import save_figures
from .log import RunLog
from .render import html_exporter, render_pages
from .results import NotebookResult
from .scraps import read_scraps


def read_outputs(nb: NotebookResult) -> None:
    """Record the scraps and the published figures of the executed notebook on ``nb``."""
    try:
        nb.scraps = read_scraps(nb.output_path)
        nb.figures = save_figures(nb.output_path, nb.output_path.parent)
    except Exception as exc:
        nb.scraps_error = f"{type(exc).__name__}: {exc}"


class Collector:
    """Reads the scraps and figures of each notebook :meth:`submit` gets and renders its pages
    (titled with ``subtitle``, the run date), reporting failures to ``log``."""

    def __init__(self, log: RunLog, *, subtitle: str):
        self._log = log
        self._subtitle = subtitle
        self._queue: queue.Queue[tuple[NotebookResult, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="collect", daemon=True)
        self._thread.start()

    def submit(self, nb: NotebookResult, tag: str) -> None:
        """Collect ``nb`` (``tag`` names it in lines) once the notebooks submitted before are done."""
        self._queue.put((nb, tag))

    def close(self) -> None:
        """Wait until every submitted notebook is done."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        exporters = _exporters_or_none()
        while (item := self._queue.get()) is not None:
            nb, tag = item
            exporters = self._collect(nb, tag, exporters)

    def _collect(self, nb: NotebookResult, tag: str, exporters):
        """Scraps, figures and pages of ``nb``; returns the exporters to reuse."""
        if not nb.saved:
            return exporters
        read_outputs(nb)
        if nb.scraps_error:
            self._log.line(f"{tag}: could not read scraps: {nb.scraps_error}", always=True)
        try:
            exporters = exporters or (html_exporter(show_code=False), html_exporter())
            render_pages(nb.output_path, nb.html_path, exporters, subtitle=self._subtitle, index_page="index.html")
        except Exception as exc:
            nb.render_error = f"{type(exc).__name__}: {exc}"
            self._log.line(f"{tag}: could not render {nb.html_path.name}: {nb.render_error}", always=True)
        return exporters


def _exporters_or_none():
    """The two HTML exporters, built ahead of the first page; ``None`` if they cannot be built
    (each notebook's rendering then says why)."""
    try:
        return html_exporter(show_code=False), html_exporter()
    except Exception:
        return None
