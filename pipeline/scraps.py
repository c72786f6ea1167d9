"""What notebooks glued with scrapbook: scraps as JSON-ready values, and the figures glued for display
(published: saved as ``figures/<notebook>.<name>.png`` for the indexes). Plain scraps are read from
the notebook's JSON, as importing scrapbook takes a second of CPU from the notebooks still running.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

_SCRAP_MIME = re.compile(r"application/scrapbook\.scrap\.(\w+)\+json")
_PLAIN_ENCODERS = ("json", "text")


@dataclass
class Scrap:
    """One scrap: its ``data`` (``None`` for a display-only scrap) and its ``display`` output
    (``{"data": {mime: content}, ...}``, ``None`` when it was glued without display)."""

    data: Any = None
    display: dict | None = None


def notebook_scraps(executed: str | Path) -> dict[str, Scrap]:
    """The scraps of the executed notebook by name; a later glue of a name replaces an earlier one."""
    nb = json.loads(Path(executed).read_text(encoding="utf-8"))
    scraps: dict[str, Scrap] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not isinstance(meta, dict) or "name" not in meta:
                continue
            scrap = scraps.setdefault(meta["name"], Scrap())
            if meta.get("display"):
                scrap.display = {"data": output.get("data", {}), "metadata": output.get("metadata", {})}
            if meta.get("data"):
                encoded = next((v for k, v in output.get("data", {}).items() if _SCRAP_MIME.fullmatch(k)), None)
                if not isinstance(encoded, dict) or encoded.get("encoder") not in _PLAIN_ENCODERS:
                    return _scrapbook_scraps(executed)
                scrap.data = _decoded(encoded)
    return scraps


def _decoded(encoded: dict) -> Any:
    """A scrap's value as scrapbook decodes it: the ``json`` encoder also parses a string that is JSON."""
    data = encoded.get("data")
    if encoded.get("encoder") == "json" and isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            pass
    return data


def read_scraps(executed: str | Path) -> dict[str, Any]:
    """``{name: data}`` of the executed notebook's scraps, JSON-ready (display-only ones: ``None``)."""
    return {name: to_jsonable(scrap.data) for name, scrap in notebook_scraps(executed).items()}


def _scrapbook_scraps(executed: str | Path) -> dict[str, Scrap]:
    import scrapbook

    return {
        name: Scrap(scrap.data, scrap.display) for name, scrap in scrapbook.read_notebook(str(executed)).scraps.items()
    }


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON data (non-finite floats as ``None``): numpy, pandas (a frame as a list of
    row dicts), dates (ISO) and Decimals converted; anything else becomes its ``str``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return to_jsonable(float(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas DataFrame
        return [to_jsonable(row) for row in value.to_dict(orient="records")]
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # pandas Series
        return to_jsonable(value.to_dict())
    if hasattr(value, "tolist"):  # numpy array or scalar
        return to_jsonable(value.tolist())
    if hasattr(value, "isoformat"):  # pandas Timestamp, numpy datetime
        return value.isoformat()
    return str(value)


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
