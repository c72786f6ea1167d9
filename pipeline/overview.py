"""The top-level ``<reports_dir>/index.html``: every date and run, newest first, and the figures
the most recent successful run published.

It is built from the run folders' ``manifest.json`` files alone, after every run and stage (and by
``python -m pipeline index``), so it always lists what is on disk. Like the run index it knows
nothing of what the notebooks compute: it shows statuses, times, links, and the published figures
(see :mod:`pipeline.figures`) of the newest run that has any — a notebook that reads the whole
warehouse makes them trend charts of every loaded date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from .log import format_duration
from .report import PAGE_CSS, error_text, status_badge
from .results import SUCCEEDED
from .runfolder import write_text_atomically

INDEX_NAME = "index.html"
DATE_FOLDER = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def collect_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """The manifests of every run folder ``<reports_dir>/<date>/<run id>/``, newest date first and,
    within a date, the newest run first. A folder whose manifest cannot be read is listed with
    status ``unreadable``."""
    reports_dir = Path(reports_dir)
    runs = []
    for manifest_path in reports_dir.glob("*/*/manifest.json"):
        run_dir = manifest_path.parent
        if not DATE_FOLDER.fullmatch(run_dir.parent.name):  # not a run folder (e.g. benchmark output)
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            manifest = {
                "run_date": run_dir.parent.name,
                "run_id": run_dir.name,
                "status": "unreadable",
                "error": {"notebook": "manifest.json", "ename": type(exc).__name__, "evalue": str(exc)},
                "notebooks": [],
            }
        manifest["folder"] = run_dir.relative_to(reports_dir).as_posix()
        runs.append(manifest)
    runs.sort(key=lambda m: (str(m.get("run_date")), str(m.get("started") or ""), str(m.get("run_id"))), reverse=True)
    return runs


def latest_figures(runs: list[Mapping[str, Any]]) -> tuple[Mapping[str, Any] | None, list[tuple[str, str]]]:
    """The most recently finished successful run that published figures, and its figures as
    ``(name, path relative to the reports folder)``."""
    candidates = [r for r in runs if r.get("status") == SUCCEEDED and _figures_of(r)]
    if not candidates:
        return None, []
    newest = max(candidates, key=lambda r: str(r.get("finished") or ""))
    return newest, [(name, f"{newest['folder']}/{path}") for name, path in _figures_of(newest)]


def render_overview(runs: list[Mapping[str, Any]], now: datetime | None = None) -> str:
    """The HTML of the top-level index for ``runs`` (from :func:`collect_runs`)."""
    now = now or datetime.now(UTC)
    dates = sorted({str(r.get("run_date")) for r in runs}, reverse=True)
    latest_status = {d: next(r.get("status") for r in runs if str(r.get("run_date")) == d) for d in dates}
    counts = {}
    for status in latest_status.values():
        counts[status] = counts.get(status, 0) + 1
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Pipeline runs: {len(dates)} dates</title><style>{PAGE_CSS}{_CSS}</style></head><body>",
        "<h1>Pipeline runs</h1>",
        f'<p class="muted">{len(dates)} date{"s" if len(dates) != 1 else ""}, {len(runs)} run'
        f"{'s' if len(runs) != 1 else ''}; latest run of each date: "
        + (", ".join(f"{n} {escape(str(s))}" for s, n in sorted(counts.items())) or "none")
        + f". Built {now:%Y-%m-%d %H:%M} UTC from the run folders' manifests.</p>",
    ]
    source, figures = latest_figures(runs)
    if figures:
        parts.append("<h2>Trends</h2>")
        parts.append(
            f'<p class="muted">Published by the most recent successful run, <a href="{escape(source["folder"])}/'
            f'{INDEX_NAME}">{escape(str(source["run_date"]))} / {escape(str(source["run_id"]))}</a>, finished '
            f"{escape(_time(source.get('finished')))} UTC.</p>"
        )
        parts.extend(f'<figure><img src="{escape(path)}" alt="{escape(name)}"></figure>' for name, path in figures)
    parts.append("<h2>Runs, newest first</h2>")
    parts.append(_runs_table(runs, dates) if runs else '<p class="muted">No run yet.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_overview(reports_dir: str | Path) -> Path:
    """Rebuild ``<reports_dir>/index.html`` from the run folders under it; returns its path."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    return write_text_atomically(reports_dir / INDEX_NAME, render_overview(collect_runs(reports_dir)))


_CSS = """
tr.first-of-date td { border-top: 2px solid #8c959f; } td.date { font-weight: 600; white-space: nowrap; }
"""


def _runs_table(runs: list[Mapping[str, Any]], dates: list[str]) -> str:
    rows = [
        "<table><tr><th>date</th><th>run</th><th>status</th><th>started (UTC)</th><th>duration</th>"
        "<th>reports</th><th>failure</th></tr>"
    ]
    for date in dates:
        of_date = [r for r in runs if str(r.get("run_date")) == date]
        for position, run in enumerate(of_date):
            date_cell = f'<td class="date" rowspan="{len(of_date)}">{escape(date)}</td>' if position == 0 else ""
            failure = error_text(run.get("error"), notebook=True)
            rows.append(
                f'<tr class="{"first-of-date" if position == 0 else ""}">{date_cell}'
                f'<td><a href="{escape(run["folder"])}/{INDEX_NAME}">'
                f"<code>{escape(str(run.get('run_id')))}</code></a></td>"
                f"<td>{status_badge(str(run.get('status')))}</td><td>{escape(_time(run.get('started')))}</td>"
                f'<td class="num">{format_duration(run.get("duration_seconds"))}</td>'
                f"<td>{_report_links(run)}</td><td>{failure}</td></tr>"
            )
    rows.append("</table>")
    return "\n".join(rows)


def _report_links(run: Mapping[str, Any]) -> str:
    links = [
        f'<a href="{escape(run["folder"])}/{escape(nb["html"])}">{escape(Path(nb["name"]).stem)}</a>'
        for nb in run.get("notebooks") or []
        if nb.get("html")
    ]
    return " &middot; ".join(links) or '<span class="muted">-</span>'


def _figures_of(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, path) for nb in run.get("notebooks") or [] for name, path in (nb.get("figures") or {}).items()]


def _time(moment: Any) -> str:
    """``2026-11-27T19:35:01.123Z`` -> ``2026-11-27 19:35:01``."""
    return str(moment or "-").replace("T", " ").split(".")[0].rstrip("Z")
