"""Executed notebook -> self-contained HTML that renders offline.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from a CDN; the ``offline``
template shipped in ``pipeline/templates/`` extends ``lab`` and drops those scripts. CSS is
inlined by ``lab`` itself, and ``embed_images`` turns images referenced from markdown into data
URIs (plot outputs already are).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "offline"

_EXTERNAL_REF = re.compile(
    r"""(?:\b(?:src|href|data)\s*=\s*["']?\s*|\burl\(\s*["']?|\bimport\(\s*["'])(https?:)?//""",
    re.IGNORECASE,
)


def html_exporter():
    """An nbconvert ``HTMLExporter`` using the offline template (reuse it for several notebooks)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        embed_images=True,
    )


def render_notebook(executed: str | Path, html_path: str | Path, exporter=None) -> Path:
    """Render the executed notebook to ``html_path`` and return it."""
    import nbformat

    executed, html_path = Path(executed), Path(html_path)
    exporter = exporter or html_exporter()
    nb = nbformat.read(str(executed), as_version=4)
    resources = {"metadata": {"name": executed.stem, "path": str(executed.parent)}}
    with warnings.catch_warnings():
        # scrapbook's scrap outputs have no visible representation; that is expected.
        warnings.filterwarnings("ignore", message="Your element with mimetype", category=UserWarning)
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def external_references(html: str) -> list[str]:
    """Network references that would need a connection: ``src``/``href``/``data`` attributes,
    CSS ``url(...)`` and JS ``import(...)`` pointing at ``http(s)://`` or ``//host``.

    Used by the tests; an empty list means the page renders offline. (A markdown link a
    notebook author wrote is a plain ``<a href>`` and would be listed too.)
    """
    return [html[m.start(): m.end() + 40] for m in _EXTERNAL_REF.finditer(html)]
