"""What a run produced: plain dataclasses shared by the runner, the manifest and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import EXIT_FAILED, EXIT_OK
from .render import code_page_path

SUCCEEDED = "succeeded"
FAILED = "failed"
NOT_RUN = "not run"
INCOMPLETE = "incomplete"  # a run folder where some stages have not run yet (and none failed)


@dataclass
class NotebookError:
    """Where and how a notebook failed.

    ``cell`` is the execution count shown in the executed notebook and its HTML (``In [5]`` is
    cell 5; the cell papermill injects after the ``parameters`` cell counts as one code cell).
    ``cell_index`` is the 0-based position of the failing cell among all cells (markdown
    included) of the executed notebook, before papermill adds its red error banner. Both are
    ``None`` when the failure is not tied to a cell (e.g. the kernel did not start).
    """

    notebook: str
    cell: int | None
    cell_index: int | None
    ename: str
    evalue: str
    source: str | None = None  # the failing cell's code, if known

    def describe(self) -> str:
        """``01_ingest.ipynb, cell 5: InputValidationError: <message>``."""
        where = self.notebook
        if self.cell is not None:
            where += f", cell {self.cell}"
        elif self.cell_index is not None:
            where += f", cell #{self.cell_index + 1} (not executed)"
        message = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return f"{where}: {message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "cell": self.cell,
            "cell_index": self.cell_index,
            "ename": self.ename,
            "evalue": self.evalue,
            "source": self.source,
        }


@dataclass
class NotebookResult:
    """One notebook of a run."""

    name: str  # file name, e.g. 01_ingest.ipynb
    input_path: Path
    output_path: Path  # executed notebook in the run folder
    html_path: Path
    parameters: dict[str, Any] = field(default_factory=dict)  # what was injected
    status: str = NOT_RUN
    started: datetime | None = None
    finished: datetime | None = None
    duration_seconds: float | None = None
    error: NotebookError | None = None
    scraps: dict[str, Any] = field(default_factory=dict)
    scraps_error: str | None = None
    render_error: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)  # earlier runs in the same folder
    figures: dict[str, str] = field(default_factory=dict)  # published figure -> file in the run folder

    @property
    def stem(self) -> str:
        return self.input_path.stem

    @property
    def saved(self) -> bool:
        return self.output_path.is_file()

    @property
    def rendered(self) -> bool:
        return self.html_path.is_file()

    @property
    def code_html_path(self) -> Path:
        """The page with the code, beside the report ``html_path``: ``NN_name.code.html``."""
        return code_page_path(self.html_path)

    @property
    def log_path(self) -> Path:
        """The notebook's log in the run folder: ``logs/NN_name.log``."""
        return self.output_path.parent / "logs" / f"{self.stem}.log"


@dataclass
class RunResult:
    """The outcome of :func:`pipeline.run_pipeline` or :func:`pipeline.run_stage`.

    ``status`` is the run folder's: after a stage run it may be ``incomplete`` (later stages not
    run yet) while the stage itself succeeded (``ok``, exit status 0).
    """

    run_date: str
    run_id: str
    run_dir: Path
    status: str
    started: datetime
    finished: datetime
    notebooks: list[NotebookResult]  # the notebooks this call ran (one for a stage run)
    manifest: dict[str, Any]
    stage: str | None = None  # set when one stage ran (``run_stage``)

    @property
    def ok(self) -> bool:
        """A whole run: every notebook succeeded. A stage run: that stage's notebook succeeded."""
        if self.stage is not None:
            return all(nb.status == SUCCEEDED for nb in self.notebooks)
        return self.status == SUCCEEDED

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    @property
    def error(self) -> NotebookError | None:
        """The first notebook failure, if any."""
        return next((nb.error for nb in self.notebooks if nb.error is not None), None)

    @property
    def duration_seconds(self) -> float:
        return (self.finished - self.started).total_seconds()

    @property
    def staging_dir(self) -> Path:
        return self.run_dir / "staging"

    @property
    def index_path(self) -> Path:
        return self.run_dir / "index.html"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"
