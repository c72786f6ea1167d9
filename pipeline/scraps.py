"""What notebooks glued with scrapbook: scraps as JSON-ready values, and the figures glued for display
(published: saved as ``figures/<notebook>.<name>.png`` for the indexes, whatever they show).
"""

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

FIGURES_DIR = "figures"
IMAGE_TYPES = {"image/png": ".png", "image/svg+xml": ".svg", "image/jpeg": ".jpg"}


def notebook_scraps(executed: str | Path) -> dict[str, Any]:
    """The executed notebook's scraps by name (scrapbook's: ``.data``, ``.display``)."""
    import scrapbook  # imported on first use: it takes half a second

    return dict(scrapbook.read_notebook(str(executed)).scraps)


def read_scraps(executed: str | Path) -> dict[str, Any]:
    """``{name: data}`` of the executed notebook's scraps, JSON-ready (display-only ones: ``None``)."""
    return {name: to_jsonable(scrap.data) for name, scrap in notebook_scraps(executed).items()}


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
        safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "figure"
        relative = Path(FIGURES_DIR) / f"{executed.stem}.{safe_name}{IMAGE_TYPES[mime]}"
        content = "".join(shown[mime]) if isinstance(shown[mime], list) else shown[mime]  # nbformat may split lines
        (run_dir / FIGURES_DIR).mkdir(exist_ok=True)
        (run_dir / relative).write_bytes(content.encode() if mime == "image/svg+xml" else base64.b64decode(content))
        saved[name] = relative.as_posix()
    return saved


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON data: non-finite floats as ``None``; numpy, pandas (a frame as a list of row
    dicts), dates (ISO), Decimals and sets converted; anything else becomes its ``str``."""
    return json.loads(json.dumps(value, default=_plain), parse_constant=lambda _: None)


def _plain(value: Any) -> Any:
    """What ``json`` cannot write, as something it can."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas DataFrame
        return value.to_dict(orient="records")
    for method in ("to_dict", "tolist", "isoformat"):  # pandas Series; numpy; dates and times
        if hasattr(value, method):
            return getattr(value, method)()
    if isinstance(value, (set, frozenset)):
        return list(value)
    return float(value) if isinstance(value, Decimal) else str(value)
