"""The run's summary documents: ``manifest.json`` (for machines) and ``index.html`` (for people).

The index is rendered from the manifest alone, so both always agree. Scraps are shown
generically: scalars in one key/value table, dicts as two-column tables, lists of dicts as tables;
a text scrap named ``summary`` is the notebook's lead paragraph, rendered as Markdown. Figures a
notebook published (:mod:`pipeline.figures`) are shown as images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from .log import format_duration
from .results import FAILED, INCOMPLETE, NOT_RUN, SUCCEEDED, NotebookResult
from .runfolder import write_text_atomically
from .scraps import to_jsonable

MANIFEST_VERSION = 1
LIFTED_SCRAPS = ("input_files",)  # scraps also copied to the top level of the manifest
MAX_TABLE_ROWS = 500
OPEN_TABLE_ROWS = 10  # a longer table of records is folded
SUMMARY_SCRAP = "summary"  # a text scrap of this name is shown as the notebook's lead paragraph


# --------------------------------------------------------------------------- manifest


def iso(moment: datetime | None) -> str | None:
    """UTC ISO-8601 with a ``Z``, e.g. ``2026-11-27T19:35:01.123456Z``."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def notebook_entry(nb: NotebookResult) -> dict[str, Any]:
    """One notebook's manifest entry; file names are relative to the run folder.

    ``attempts`` (earlier runs of the notebook in the same folder, see :mod:`pipeline.runfolder`)
    is present only when there were any.
    """
    entry = {
        "name": nb.name,
        "status": nb.status,
        "input": str(nb.input_path),
        "ipynb": nb.output_path.name if nb.saved else None,
        "html": nb.html_path.name if nb.rendered else None,
        "html_code": nb.code_html_path.name if nb.code_html_path.is_file() else None,
        "log": nb.log_path.relative_to(nb.output_path.parent).as_posix() if nb.log_path.is_file() else None,
        "figures": dict(nb.figures),
        "started": iso(nb.started),
        "finished": iso(nb.finished),
        "duration_seconds": None if nb.duration_seconds is None else round(nb.duration_seconds, 3),
        "parameters": to_jsonable(nb.parameters),
        "error": nb.error.to_dict() if nb.error else None,
        "scraps": to_jsonable(nb.scraps),
        "scraps_error": nb.scraps_error,
        "render_error": nb.render_error,
    }
    if nb.attempts:
        entry["attempts"] = list(nb.attempts)
    return entry


def run_status(statuses: list[str]) -> str:
    """``succeeded`` when every notebook did, ``failed`` when one failed, else ``incomplete``."""
    if statuses and all(s == SUCCEEDED for s in statuses):
        return SUCCEEDED
    if any(s == FAILED for s in statuses):
        return FAILED
    return INCOMPLETE


def first_error(entries: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The first failed notebook's error, with the name of its HTML page (the one with the code,
    where the failing cell's source shows, when there is one)."""
    return next(({**e["error"], "html": e.get("html_code") or e["html"]} for e in entries if e["error"]), None)


def refresh_manifest(manifest: dict[str, Any], finished: datetime) -> dict[str, Any]:
    """Recompute a manifest's summary (status, error, finish, duration, lifted scraps) from its
    notebook entries, after a stage changed one of them."""
    entries = manifest["notebooks"]
    manifest["status"] = run_status([e["status"] for e in entries])
    manifest["error"] = first_error(entries)
    manifest["finished"] = iso(finished)
    started = datetime.fromisoformat(manifest["started"].replace("Z", "+00:00"))
    manifest["duration_seconds"] = round((finished - started).total_seconds(), 3)
    for name in LIFTED_SCRAPS:
        manifest[name] = next((e["scraps"][name] for e in entries if name in (e["scraps"] or {})), None)
    return manifest


def build_manifest(
    *,
    run_date: str,
    run_id: str,
    status: str,
    started: datetime,
    finished: datetime,
    params: Mapping[str, Any],
    params_file: str | None,
    notebooks_dir: str,
    run_dir: str,
    notebooks: list[NotebookResult],
    provenance: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest as a JSON-ready dict.

    ``provenance`` holds ``git_commit``, ``git_dirty``, ``python`` and ``packages``.
    """
    entries = [notebook_entry(nb) for nb in notebooks]
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "run_date": run_date,
        "run_id": run_id,
        "status": status,
        "started": iso(started),
        "finished": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
        "error": first_error(entries),
        "params_file": params_file,
        "params": to_jsonable(dict(params)),
        "notebooks_dir": notebooks_dir,
        "run_dir": run_dir,
        "git_commit": provenance.get("git_commit"),
        "git_dirty": provenance.get("git_dirty"),
        "python": provenance.get("python"),
        "packages": dict(provenance.get("packages") or {}),
        "notebooks": entries,
    }
    for name in LIFTED_SCRAPS:
        manifest[name] = next((e["scraps"][name] for e in entries if name in e["scraps"]), None)
    return manifest


def write_manifest(manifest: Mapping[str, Any], path: str | Path) -> Path:
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomically(path, text + "\n")


# --------------------------------------------------------------------------- index.html


PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; } h3 { font-size: 1.05rem; margin: 1rem 0 .3rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; border-radius: 4px; }
.status { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-weight: 600; font-size: .85rem; }
.succeeded { background: #dafbe1; color: #116329; } .failed { background: #ffebe9; color: #a40e26; }
.not-run { background: #eaeef2; color: #57606a; }
.failure { border: 2px solid #cf222e; background: #fff5f5; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.muted { color: #57606a; } details { margin: .5rem 0; } summary { cursor: pointer; }
.summary p { margin: .3rem 0 .6rem; max-width: 60rem; }
figure { margin: .5rem 0 1.2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
"""


def render_index(manifest: Mapping[str, Any]) -> str:
    """``index.html`` for the run described by ``manifest`` (self-contained: no external resources)."""
    m = manifest
    title = f"Run {m['run_date']} / {m['run_id']}: {m['status']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>",
        f"<h1>Pipeline run {escape(m['run_date'])} {status_badge(m['status'])}</h1>",
        f'<p class="muted">run id <code>{escape(m["run_id"])}</code></p>',
        _kv_table(
            {
                "run date": m["run_date"],
                "run id": m["run_id"],
                "status": m["status"],
                "started (UTC)": m["started"],
                "finished (UTC)": m["finished"],
                "duration": format_duration(m["duration_seconds"]),
                "git commit": _git_text(m),
                "params file": m.get("params_file"),
                "run folder": m.get("run_dir"),
            }
        ),
    ]
    if m.get("error"):
        parts.append(_failure(m["error"]))
    parts.append("<h2>Notebooks</h2>")
    parts.append(_notebooks_table(m["notebooks"]))
    for entry in m["notebooks"]:
        parts.append(_notebook_section(entry))
    parts.append("<h2>Parameters</h2>")
    parts.append(_kv_table(m["params"]))
    parts.append("<h2>Environment</h2>")
    parts.append(_kv_table({"python": m.get("python"), **m.get("packages", {})}))
    parts.append(
        '<p class="muted">Machine-readable: <a href="manifest.json">manifest.json</a>'
        ' &middot; runner output: <a href="run.log">run.log</a>'
        ' &middot; every run and date: <a href="../../index.html">all runs</a></p>'
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_index(manifest: Mapping[str, Any], path: str | Path) -> Path:
    return write_text_atomically(path, render_index(manifest))


def error_text(error: Mapping[str, Any] | None, *, notebook: bool = False) -> str:
    """A manifest error as escaped HTML text, ``[notebook, ]cell N: Ename: evalue`` (empty for none)."""
    if not error:
        return ""
    where = [str(error.get("notebook"))] if notebook else []
    if error.get("cell") is not None:
        where.append(f"cell {error['cell']}")
    what = f"{error.get('ename')}: {error.get('evalue') or ''}"
    return escape(f"{', '.join(where)}: {what}" if where else what)


def status_badge(status: str) -> str:
    """A run or notebook status as a coloured label."""
    css = {SUCCEEDED: "succeeded", FAILED: "failed", NOT_RUN: "not-run", INCOMPLETE: "not-run"}.get(status, "not-run")
    return f'<span class="status {css}">{escape(status)}</span>'


def _git_text(m: Mapping[str, Any]) -> str:
    if not m.get("git_commit"):
        return "unknown (not a git repository or no commit)"
    return m["git_commit"] + (" (uncommitted changes)" if m.get("git_dirty") else "")


def _failure(error: Mapping[str, Any]) -> str:
    where = escape(error["notebook"])
    if error.get("cell") is not None:
        where += f", cell {error['cell']} (<code>In [{error['cell']}]</code>)"
    html = [
        '<div class="failure" id="failure">',
        f"<strong>Failed in {where}</strong>",
        f"<p><code>{escape(error['ename'])}</code>: {escape(error.get('evalue') or '')}</p>",
    ]
    if error.get("html"):
        html.append(
            f'<p><a href="{escape(error["html"])}#papermill-error-cell">open the failing cell in the report</a></p>'
        )
    if error.get("source"):
        html.append(f"<details open><summary>cell source</summary><pre>{escape(error['source'])}</pre></details>")
    html.append("</div>")
    return "\n".join(html)


def _links(entry: Mapping[str, Any]) -> str:
    links = []
    if entry.get("html"):
        links.append(f'<a href="{escape(entry["html"])}">report</a>')
    if entry.get("html_code"):
        links.append(f'<a href="{escape(entry["html_code"])}">with code</a>')
    if entry.get("ipynb"):
        links.append(f'<a href="{escape(entry["ipynb"])}">notebook</a>')
    if entry.get("log"):
        links.append(f'<a href="{escape(entry["log"])}">log</a>')
    return " &middot; ".join(links) or '<span class="muted">-</span>'


def _notebooks_table(entries: list[Mapping[str, Any]]) -> str:
    rows = ["<table><tr><th>#</th><th>notebook</th><th>status</th><th>duration</th><th>files</th><th>error</th></tr>"]
    for i, e in enumerate(entries, 1):
        err_text = error_text(e.get("error"))
        rows.append(
            f'<tr><td class=num>{i}</td><td><a href="#nb-{escape(e["name"])}">{escape(e["name"])}</a></td>'
            f"<td>{status_badge(e['status'])}</td><td class=num>{format_duration(e.get('duration_seconds'))}</td>"
            f"<td>{_links(e)}</td><td>{err_text}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _notebook_section(entry: Mapping[str, Any]) -> str:
    html = [f'<h2 id="nb-{escape(entry["name"])}">{escape(entry["name"])} {status_badge(entry["status"])}</h2>']
    meta = f"duration {format_duration(entry.get('duration_seconds'))}" if entry.get("started") else "not run"
    html.append(f'<p class="muted">{meta} &middot; {_links(entry)}</p>')
    for key in ("render_error", "scraps_error"):
        if entry.get(key):
            html.append(f'<p class="failed">{escape(key.replace("_", " "))}: {escape(entry[key])}</p>')
    figures = entry.get("figures") or {}
    # A published figure's scrap holds no data (its image is the figure shown below).
    html.append(render_scraps({k: v for k, v in (entry.get("scraps") or {}).items() if k not in figures}))
    html.extend(f'<figure><img src="{escape(path)}" alt="{escape(name)}"></figure>' for name, path in figures.items())
    if entry.get("attempts"):
        html.append(_attempts(entry["attempts"]))
    return "\n".join(html)


def _attempts(attempts: list[Mapping[str, Any]]) -> str:
    rows = [
        "<h3>earlier attempts</h3>",
        "<table><tr><th>try</th><th>status</th><th>started (UTC)</th><th>files</th><th>error</th></tr>",
    ]
    for number, attempt in enumerate(attempts, 1):
        err = attempt.get("error")
        err_text = escape(f"{err['ename']}: {err.get('evalue') or ''}") if err else ""
        rows.append(
            f"<tr><td class=num>{number}</td><td>{status_badge(attempt.get('status') or NOT_RUN)}</td>"
            f"<td>{escape(str(attempt.get('started') or '-'))}</td><td>{_links(attempt)}</td>"
            f"<td>{err_text}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def render_scraps(scraps: Mapping[str, Any]) -> str:
    """HTML for a notebook's scraps, whatever their names (a text ``summary`` first, as Markdown)."""
    if not scraps:
        return ""
    html = []
    if isinstance(scraps.get(SUMMARY_SCRAP), str):
        html.append(f'<div class="summary">{_markdown(scraps[SUMMARY_SCRAP])}</div>')
        scraps = {k: v for k, v in scraps.items() if k != SUMMARY_SCRAP}
    scalars = {k: v for k, v in scraps.items() if _is_scalar(v)}
    if scalars:
        html.append(_kv_table(scalars))
    for name, value in scraps.items():
        if name in scalars:
            continue
        html.append(f"<h3>{escape(name)}</h3>")
        if isinstance(value, dict):
            html.append(_kv_table(value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            html.append(_records_table(value))
        elif isinstance(value, list) and all(_is_scalar(v) for v in value):
            html.append(
                "<p>" + (escape(", ".join(_text(v) for v in value)) or '<span class="muted">(empty)</span>') + "</p>"
            )
        else:
            html.append(f"<pre>{escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>")
    return "\n".join(html)


def _markdown(text: str) -> str:
    """Markdown as HTML, with any HTML in the text escaped first (a scrap is data, not markup)."""
    from nbconvert.filters import markdown2html

    return markdown2html(escape(text, quote=False))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _cell(value: Any) -> str:
    css = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{css}>{escape(_text(value))}</td>"


def _kv_table(mapping: Mapping[str, Any]) -> str:
    if not mapping:
        return '<p class="muted">(empty)</p>'
    rows = [f"<tr><th>{escape(str(k))}</th>{_cell(v)}</tr>" for k, v in mapping.items()]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _records_table(records: list[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for record in records:
        columns.extend(str(k) for k in record if str(k) not in columns)
    head = "<tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
    body = ["<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in records[:MAX_TABLE_ROWS]]
    more = ""
    if len(records) > MAX_TABLE_ROWS:
        more = f'<p class="muted">{len(records) - MAX_TABLE_ROWS} more rows in manifest.json</p>'
    table = "<table>\n" + head + "\n" + "\n".join(body) + "\n</table>" + more
    if len(records) > OPEN_TABLE_ROWS:  # a long list stays one click away, not in the reader's way
        return f"<details><summary>{len(records):,} rows</summary>\n{table}\n</details>"
    return table
