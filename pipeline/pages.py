"""Every HTML page the runner writes, self-contained: per notebook, by nbconvert, the report ``NN_name.html`` (no code)
and the audit record ``NN_name.code.html``; by Jinja, the run's ``index.html`` and ``<reports_dir>/index.html``."""

import functools
import html
import json
import re
import threading
import warnings
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from .progress import format_duration
from .results import FAILED, INTERRUPTED, NOT_RUN, SUCCEEDED

STATUS_CSS = {SUCCEEDED: "succeeded", FAILED: "failed", INTERRUPTED: "failed"}  # others are shown as "not-run"
TEMPLATES_DIR, DATE_FOLDER = Path(__file__).resolve().parent / "templates", re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SUMMARY_SCRAP = "summary"  # a text scrap of this name is shown as the notebook's lead paragraph
SCALARS = (str, int, float, bool, type(None))  # shown in a scraps' table of key | value
MAX_TABLE_ROWS, OPEN_TABLE_ROWS = 500, 10  # a table of records is cut beyond the first, folded beyond the second
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_ONE_PAGE_AT_A_TIME = threading.Lock()  # runs at once (a backfill): the exporters' filters and warnings are shared


@functools.cache
def exporters() -> tuple[Any, Any]:
    """nbconvert's offline-template exporters of the report (no code, no prompts) and the code page; built once."""
    from nbconvert import HTMLExporter

    base = dict(template_name="offline", extra_template_basedirs=[str(TEMPLATES_DIR)], embed_images=True)
    exclude = ("exclude_input", "exclude_input_prompt", "exclude_output_prompt")
    return tuple(HTMLExporter(**base, **dict.fromkeys(exclude, hide)) for hide in (True, False))


def render_pages(executed: Path, report: Path, code: Path, *, subtitle: str, index_page: str = "index.html") -> None:
    """A notebook's two pages, linking each other and the index, titled ``<first # heading, else stem> · subtitle``."""
    import nbformat

    for path, exporter, other in ((report, exporters()[0], code), (code, exporters()[1], report)):
        nb = nbformat.read(str(executed), as_version=4)  # read anew: the export may change it
        nb.metadata["title"] = f"{notebook_title(nb) or executed.stem} · {subtitle}"
        bar = {"shows_code": not exporter.exclude_input, "other_page": other.name, "index_page": index_page}
        resources = {"metadata": {"name": executed.stem, "path": str(executed.parent)}, "report_bar": bar}
        with _ONE_PAGE_AT_A_TIME, warnings.catch_warnings():  # scrapbook's scrap outputs have no visible form: expected
            warnings.filterwarnings("ignore", message="Your element with mimetype", category=UserWarning)
            path.write_text(exporter.from_notebook_node(nb, resources=resources)[0], encoding="utf-8")


def notebook_title(nb) -> str | None:
    """The text of the first ``# heading`` of the notebook's markdown cells, if any."""
    found = (_HEADING.search(cell.source) for cell in nb.cells if cell.cell_type == "markdown")
    return next((heading.group(1) for heading in found if heading), None)


def render_run_index(manifest: Mapping[str, Any]) -> str:
    """The HTML of the run's ``index.html``, from its ``manifest`` (the run folder's ``manifest.json``)."""
    environment = {"python": manifest.get("python"), **(manifest.get("packages") or {})}
    return _environment().get_template("run_index.html.j2").render(m=manifest, environment=environment)


def error_text(error: Mapping[str, Any] | None, *, notebook: bool = False) -> str:
    """A manifest error as text, ``[notebook, ]cell N: Ename: evalue`` (empty for none)."""
    if not error:
        return ""
    where = [str(error.get("notebook"))] if notebook else []
    if error.get("cell") is not None:
        where.append(f"cell {error['cell']}")
    what = f"{error.get('ename')}: {error.get('evalue') or ''}"
    return f"{', '.join(where)}: {what}" if where else what


def collect_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Each run folder's manifest and ``folder``, newest first; status ``unreadable``, or ``interrupted`` if none."""
    reports_dir, runs = Path(reports_dir), []
    for run_dir in (d for d in reports_dir.glob("*/*") if d.is_dir() and DATE_FOLDER.fullmatch(d.parent.name)):
        try:
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            error = {"notebook": "manifest.json", "ename": type(exc).__name__, "evalue": str(exc)}
            status = INTERRUPTED if isinstance(exc, FileNotFoundError) else "unreadable"
            manifest = dict(run_date=run_dir.parent.name, run_id=run_dir.name, status=status, error=error, notebooks=[])
        manifest["folder"] = run_dir.relative_to(reports_dir).as_posix()
        runs.append(manifest)
    runs.sort(key=lambda m: (str(m.get("run_date")), str(m.get("started") or ""), str(m.get("run_id"))), reverse=True)
    return runs


def latest_figures(runs: list[Mapping[str, Any]]) -> tuple[Mapping[str, Any] | None, list[tuple[str, str]]]:
    """The last-finished successful run with figures, and its ``(name, path under reports)``; or ``(None, [])``."""
    candidates = [r for r in runs if r.get("status") == SUCCEEDED and _figures_of(r)]
    newest = max(candidates, key=lambda r: str(r.get("finished") or ""), default=None)
    return newest, [(name, f"{newest['folder']}/{path}") for name, path in _figures_of(newest or {})]


def render_overview(runs: list[Mapping[str, Any]], now: datetime | None = None) -> str:
    """The HTML of the top-level index for ``runs`` (from :func:`collect_runs`), built at ``now``."""
    dates = sorted({str(r.get("run_date")) for r in runs}, reverse=True)
    by_date = [(d, [r for r in runs if str(r.get("run_date")) == d]) for d in dates]
    counts = sorted(Counter(str(of_date[0].get("status")) for _, of_date in by_date).items())  # latest runs
    source, figures = latest_figures(runs)
    context = {"runs": runs, "by_date": by_date, "counts": counts, "source": source, "figures": figures}
    return _environment().get_template("overview.html.j2").render(context, now=now or datetime.now(UTC))


def _figures_of(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, path) for nb in run.get("notebooks") or [] for name, path in (nb.get("figures") or {}).items()]


@functools.cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(TEMPLATES_DIR / "pages")
    options = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True}
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, **options)
    env.filters.update(text=_text, duration=format_duration, error_text=error_text, markdown=_markdown)
    env.filters.update(scrap_parts=_scrap_parts, stem=lambda name: Path(name).stem)
    env.filters["json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["time"] = lambda moment: str(moment or "-").replace("T", " ").split(".")[0].rstrip("Z")
    env.filters["columns"] = lambda records: list(dict.fromkeys(str(k) for record in records for k in record))
    env.tests["num"] = lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
    env.globals.update(STATUS_CSS=STATUS_CSS, NOT_RUN=NOT_RUN)
    env.globals.update(MAX_TABLE_ROWS=MAX_TABLE_ROWS, OPEN_TABLE_ROWS=OPEN_TABLE_ROWS)
    return env


def _markdown(text: str) -> str:
    """Markdown as HTML (to mark safe), with any HTML in the text escaped first (a scrap is data, not markup)."""
    from nbconvert.filters import markdown2html

    return markdown2html(html.escape(text, quote=False))


def _scrap_parts(scraps: Mapping[str, Any] | None, skip=()) -> tuple[str | None, dict, list[tuple[str, str, Any]]]:
    """A notebook's scraps not in ``skip``: text summary (or ``None``), scalars, the others as (name, kind, value)."""
    scraps = {k: v for k, v in (scraps or {}).items() if k not in skip}
    summary = scraps.pop(SUMMARY_SCRAP) if isinstance(scraps.get(SUMMARY_SCRAP), str) else None
    scalars = {k: v for k, v in scraps.items() if isinstance(v, SCALARS)}
    return summary, scalars, [(k, _scrap_kind(v), v) for k, v in scraps.items() if k not in scalars]


def _scrap_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "records"
    if isinstance(value, list) and all(isinstance(v, SCALARS) for v in value):
        return "list"
    return "json"


def _text(value: Any) -> str:
    if isinstance(value, str | None):
        return value or ""
    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 1e-3 else f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return json.dumps(value, ensure_ascii=False)  # true and false too
