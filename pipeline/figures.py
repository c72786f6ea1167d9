"""Figures a notebook publishes for the indexes.

A notebook publishes a figure by gluing it for display,
``scrapbook.glue("kpi_trends", figure, display=True)``: the figure shows in the notebook as usual,
and the runner saves its image as a file of the run folder, ``figures/<notebook>.<name>.png``,
lists it in the manifest (the notebook's ``figures``) and shows it in the run's ``index.html`` and
in the top-level ``reports/index.html`` (see :mod:`pipeline.overview`). The runner never looks at
what a figure shows.
"""

from __future__ import annotations

import base64
from pathlib import Path

from .scraps import notebook_scraps

FIGURES_DIR = "figures"
IMAGE_TYPES = {"image/png": ".png", "image/svg+xml": ".svg", "image/jpeg": ".jpg"}


def save_figures(executed: str | Path, run_dir: str | Path) -> dict[str, str]:
    """Save the images of the display scraps of the executed notebook; returns ``{scrap name:
    path relative to the run folder}`` (empty when it published none)."""
    executed, run_dir = Path(executed), Path(run_dir)
    saved = {}
    for name, scrap in notebook_scraps(executed).items():
        shown = (scrap.display or {}).get("data", {})
        mime = next((m for m in IMAGE_TYPES if m in shown), None)
        if mime is None:
            continue
        relative = Path(FIGURES_DIR) / f"{executed.stem}.{_file_name(name)}{IMAGE_TYPES[mime]}"
        content = shown[mime]
        if isinstance(content, list):  # nbformat may split text content into lines
            content = "".join(content)
        data = content.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(content)
        (run_dir / relative).parent.mkdir(exist_ok=True)
        (run_dir / relative).write_bytes(data)
        saved[name] = relative.as_posix()
    return saved


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "figure"
