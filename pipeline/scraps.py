"""Scrapbook's scraps as JSON-ready values, and the figures glued for display, published as ``figures/<nb>.<name>.png``.
Plain scraps are read from the notebook's JSON: importing scrapbook takes a second of CPU from the notebooks running."""

import base64
import contextlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

FIGURES_DIR, IMAGE_TYPES = "figures", {"image/png": ".png", "image/svg+xml": ".svg", "image/jpeg": ".jpg"}
_SCRAP_MIME = re.compile(r"application/scrapbook\.scrap\.(\w+)\+json")


class Scrap(NamedTuple):
    data: Any  # None for a display-only scrap
    display: dict | None  # {"data": {mime: content}, "metadata": ...}; None when glued without display


def notebook_scraps(executed: str | Path) -> dict[str, Scrap]:
    """The executed notebook's scraps by name; a later glue of a name replaces an earlier one."""
    scraps: dict[str, list] = {}
    for cell in json.loads(Path(executed).read_text(encoding="utf-8")).get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not isinstance(meta, dict) or "name" not in meta:
                continue
            scrap = scraps.setdefault(meta["name"], [None, None])
            if meta.get("display"):
                scrap[1] = {"data": output.get("data", {}), "metadata": output.get("metadata", {})}
            if meta.get("data"):
                encoded = next((v for k, v in output.get("data", {}).items() if _SCRAP_MIME.fullmatch(k)), None)
                if not isinstance(encoded, dict) or encoded.get("encoder") not in ("json", "text"):
                    import scrapbook  # another encoder (a DataFrame as Parquet, ...): scrapbook decodes it

                    book = scrapbook.read_notebook(str(executed))
                    return {name: Scrap(s.data, s.display) for name, s in book.scraps.items()}
                scrap[0] = encoded.get("data")
                if encoded["encoder"] == "json" and isinstance(scrap[0], str):  # scrapbook parses JSON text
                    with contextlib.suppress(ValueError):
                        scrap[0] = json.loads(scrap[0])
    return {name: Scrap(*scrap) for name, scrap in scraps.items()}


def read_scraps(executed: str | Path, run_dir: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The notebook's scraps ``{name: JSON-ready data}`` and its figures published in ``run_dir``: ``{name: path}``."""
    executed, run_dir, scraps, figures = Path(executed), Path(run_dir), {}, {}
    for name, (data, display) in notebook_scraps(executed).items():
        scraps[name] = to_jsonable(data)
        shown = (display or {}).get("data", {})
        if (mime := next((m for m in IMAGE_TYPES if m in shown), None)) is None:
            continue
        safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "figure"
        relative = Path(FIGURES_DIR) / f"{executed.stem}.{safe_name}{IMAGE_TYPES[mime]}"
        content = "".join(shown[mime]) if isinstance(shown[mime], list) else shown[mime]  # nbformat may split lines
        (run_dir / FIGURES_DIR).mkdir(exist_ok=True)
        (run_dir / relative).write_bytes(content.encode() if mime == "image/svg+xml" else base64.b64decode(content))
        figures[name] = relative.as_posix()
    return scraps, figures


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON data: NaN/inf as ``None``; numpy, pandas, dates, Decimals, sets converted; else its ``str``."""
    return json.loads(json.dumps(value, default=_plain), parse_constant=lambda _: None)


def _plain(value: Any) -> Any:
    """What ``json`` cannot write, as something it can (a DataFrame as row dicts, a date in ISO)."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas DataFrame
        return value.to_dict(orient="records")
    for method in ("to_dict", "tolist", "isoformat"):  # pandas Series; numpy; dates and times
        if hasattr(value, method):
            return getattr(value, method)()
    if isinstance(value, (set, frozenset)):
        return list(value)
    return float(value) if isinstance(value, Decimal) else str(value)
