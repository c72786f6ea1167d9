"""What a run produced: one result per notebook, its manifest entry, and the outcome of a call."""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import EXIT_FAILED, EXIT_OK
from .scraps import to_jsonable

SUCCEEDED, FAILED, NOT_RUN = "succeeded", "failed", "not run"  # what became of a notebook (or a whole run)
INCOMPLETE = "incomplete"  # a run folder where some stages have not run yet (and none failed)
RUNNING = "running"  # a process has notebooks of the folder to run (their manifest entries name it)
INTERRUPTED = "interrupted"  # that process is gone (SIGKILL, the OOM killer) without recording them


def iso(moment: datetime | None) -> str | None:
    """UTC ISO-8601 with a ``Z``, e.g. ``2026-11-27T19:35:01.123456Z``."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass
class NotebookError:
    """Where and how a notebook failed: ``cell`` is its ``In [N]``, ``cell_index`` its 0-based position, or ``None``."""

    notebook: str
    cell: int | None
    cell_index: int | None
    ename: str
    evalue: str
    source: str | None = None  # the failing cell's code, if known: its first 4,000 characters, as the manifest keeps

    def __post_init__(self) -> None:
        self.source = self.source if self.source is None or len(self.source) <= 4000 else self.source[:4000] + "\n..."

    def describe(self) -> str:
        """``01_ingest.ipynb, cell 5: InputValidationError: <message>``."""
        where = f", cell {self.cell}" if self.cell is not None else ""
        if self.cell is None and self.cell_index is not None:
            where = f", cell #{self.cell_index + 1} (not executed)"
        return f"{self.notebook}{where}: {self.ename}" + (f": {self.evalue}" if self.evalue else "")


@dataclass
class NotebookResult:
    """One notebook of a run; :meth:`entry` is its manifest entry."""

    name: str  # file name, e.g. 01_ingest.ipynb
    input_path: Path
    output_path: Path  # executed notebook in the run folder
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
    def stem(self) -> str:  # 01_ingest
        return self.input_path.stem

    @property
    def html_path(self) -> Path:  # the report, beside the executed notebook: NN_name.html
        return self.output_path.with_suffix(".html")

    @property
    def code_html_path(self) -> Path:  # the page with the code: NN_name.code.html
        return self.output_path.with_suffix(".code.html")

    @property
    def log_path(self) -> Path:  # logs/NN_name.log in the run folder
        return self.output_path.parent / "logs" / f"{self.stem}.log"

    def entry(self) -> dict[str, Any]:
        """The manifest entry: file names relative to the run folder, ``attempts`` only if any."""
        run_dir = self.output_path.parent
        files = dict(ipynb=self.output_path, html=self.html_path, html_code=self.code_html_path, log=self.log_path)
        entry = dict(name=self.name, status=self.status, input=str(self.input_path))
        entry |= {key: path.relative_to(run_dir).as_posix() if path.is_file() else None for key, path in files.items()}
        entry |= dict(figures=dict(self.figures), started=iso(self.started), finished=iso(self.finished))
        entry["duration_seconds"] = None if self.duration_seconds is None else round(self.duration_seconds, 3)
        entry |= dict(parameters=to_jsonable(self.parameters), error=asdict(self.error) if self.error else None)
        entry |= dict(scraps=to_jsonable(self.scraps), scraps_error=self.scraps_error, render_error=self.render_error)
        return entry | ({"attempts": list(self.attempts)} if self.attempts else {})


@dataclass
class RunResult:
    """The outcome of :func:`pipeline.run_pipeline` or :func:`pipeline.run_stage`; ``status`` is the run folder's."""

    run_date: str
    run_id: str
    run_dir: Path
    status: str
    started: datetime
    finished: datetime
    notebooks: list[NotebookResult]  # the notebooks this call ran (one for a stage run)
    manifest: dict[str, Any]
    stage: str | None = None  # set when one stage ran

    @property
    def ok(self) -> bool:
        """Every notebook of the call succeeded: a whole run's, or a stage run's one (whatever its folder's status)."""
        return all(nb.status == SUCCEEDED for nb in self.notebooks)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    @property
    def error(self) -> NotebookError | None:  # the first notebook failure, if any
        return next((nb.error for nb in self.notebooks if nb.error is not None), None)
