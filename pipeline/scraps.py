"""Reading what notebooks glued with scrapbook, as JSON-ready values (no KPI knowledge here)."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any


def read_scraps(executed: str | Path) -> dict[str, Any]:
    """``{name: data}`` of the scraps glued in the executed notebook, JSON-serialisable.

    Display-only scraps (glued with ``display=True`` and no data) map to ``None``.
    """
    import scrapbook

    scraps = scrapbook.read_notebook(str(executed)).scraps
    return {name: to_jsonable(scrap.data) for name, scrap in scraps.items()}


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON data: dicts, lists, str, int, float (finite), bool, None.

    Handles numpy scalars and arrays, pandas DataFrames (list of row dicts) and Series (dict),
    dates (ISO strings) and Decimals; anything else becomes its ``str``.
    """
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
