"""Executed notebook -> self-contained HTML pages that render offline.

Each notebook gets two pages, linked to each other by a bar at the top:

- ``NN_name.html``, the **report**: the code cells' input and the ``In``/``Out`` prompts are left
  out, so it reads as a document (markdown, tables, charts); a code cell with no visible output
  takes no space;
- ``NN_name.code.html``, the **audit record**: the whole notebook, code and prompts included.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from a CDN; the ``offline``
template shipped in ``pipeline/templates/`` extends ``lab``, drops those scripts and adds the bar.
CSS is inlined by ``lab`` itself, and ``embed_images`` turns images referenced from markdown into
data URIs (plot outputs already are).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "offline"
CODE_PAGE_SUFFIX = ".code.html"

_EXTERNAL_REF = re.compile(
    r"""(?:\b(?:src|href|data)\s*=\s*["']?\s*|\burl\(\s*["']?|\bimport\(\s*["'])(https?:)?//""",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def html_exporter(show_code: bool = True):
    """An nbconvert ``HTMLExporter`` using the offline template (reuse it for several notebooks):
    the whole notebook, or with ``show_code=False`` the report without code and prompts."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        embed_images=True,
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=not show_code,
    )


def code_page_path(html_path: str | Path) -> Path:
    """The code-visible page that goes with the report ``html_path``: ``NN_name.code.html``."""
    html_path = Path(html_path)
    return html_path.with_name(html_path.stem + CODE_PAGE_SUFFIX)


def render_notebook(
    executed: str | Path,
    html_path: str | Path,
    exporter=None,
    *,
    subtitle: str | None = None,
    other_page: str | None = None,
    index_page: str | None = None,
) -> Path:
    """Render the executed notebook to ``html_path`` and return it.

    The page title is the notebook's first ``# heading`` (else its file name), then ``subtitle``
    if given (the run date); ``other_page`` and ``index_page`` are links for the bar at the top:
    the notebook's other page (with or without code) and the run's index.
    """
    import nbformat

    executed, html_path = Path(executed), Path(html_path)
    exporter = exporter or html_exporter()
    nb = nbformat.read(str(executed), as_version=4)
    title = notebook_title(nb) or executed.stem
    nb.metadata["title"] = f"{title} · {subtitle}" if subtitle else title
    resources = {
        "metadata": {"name": executed.stem, "path": str(executed.parent)},
        "report_bar": {"shows_code": not exporter.exclude_input, "other_page": other_page, "index_page": index_page},
    }
    with warnings.catch_warnings():
        # scrapbook's scrap outputs have no visible representation; that is expected.
        warnings.filterwarnings("ignore", message="Your element with mimetype", category=UserWarning)
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def render_pages(
    executed: str | Path,
    html_path: str | Path,
    exporters=None,
    *,
    subtitle: str | None = None,
    index_page: str | None = None,
) -> tuple[Path, Path]:
    """Both pages of an executed notebook: the report at ``html_path`` and the code-visible page
    beside it (:func:`code_page_path`), each linking to the other. ``exporters`` is a pair
    ``(report, code)`` from :func:`html_exporter` to reuse across notebooks."""
    report_exporter, code_exporter = exporters or (html_exporter(show_code=False), html_exporter())
    html_path = Path(html_path)
    code_path = code_page_path(html_path)
    render_notebook(
        executed, html_path, report_exporter, subtitle=subtitle, other_page=code_path.name, index_page=index_page
    )
    render_notebook(
        executed, code_path, code_exporter, subtitle=subtitle, other_page=html_path.name, index_page=index_page
    )
    return html_path, code_path


def notebook_title(nb) -> str | None:
    """The text of the first ``# heading`` of the notebook's markdown cells, if any."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = _HEADING.search(cell.source)
            if found:
                return found.group(1)
    return None


def external_references(html: str) -> list[str]:
    """Network references that would need a connection: ``src``/``href``/``data`` attributes,
    CSS ``url(...)`` and JS ``import(...)`` pointing at ``http(s)://`` or ``//host``.

    Used by the tests; an empty list means the page renders offline. (A markdown link a
    notebook author wrote is a plain ``<a href>`` and would be listed too.)
    """
    return [html[m.start() : m.end() + 40] for m in _EXTERNAL_REF.finditer(html)]
