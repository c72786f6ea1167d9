"""What a load changed: the rows of a day before and after it, compared by the table's key.

A rerun of a date replaces its rows; the audit trail says how many rows it added, removed and
changed, and shows the first changed cells, so that a rerun on the same input can be seen to have
changed nothing and a rerun on corrected input to have changed what was meant.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EXAMPLES = 5  # changed cells shown per table


@dataclass(frozen=True)
class LoadedDay:
    """A day's load: the rows now in the warehouse per table, and per table what the load changed
    (:func:`diff_rows` of the day's rows before and after, in the load's transaction)."""

    rows: dict[str, int]
    diff: dict[str, dict[str, Any]]


def diff_rows(old: pd.DataFrame, new: pd.DataFrame, key: Sequence[str], examples: int = EXAMPLES) -> dict[str, Any]:
    """Compare two versions of a day's rows, each row identified by its ``key`` columns.

    Returns ``{"added", "removed", "changed", "unchanged"}`` (row counts) and ``"examples"``: up to
    ``examples`` changed cells, in key order, each ``{"key": {...}, "column", "old", "new"}``. Cells
    are equal when their values are, or both are null.
    """
    key = list(key)
    before, after = old.set_index(key), new.set_index(key)
    common = before.index.intersection(after.index).sort_values()
    before, after = before.loc[common], after.loc[common]
    columns = [c for c in after.columns if c in before.columns]
    differs = pd.DataFrame({c: ~_same(before[c], after[c]) for c in columns}, index=common)
    changed_rows = differs.any(axis=1) if columns else pd.Series(False, index=common)
    cells = [
        {
            "key": {k: _plain(v) for k, v in zip(key, at if isinstance(at, tuple) else (at,), strict=True)},
            "column": column,
            "old": _plain(before.at[at, column]),
            "new": _plain(after.at[at, column]),
        }
        for at in common[changed_rows.to_numpy()]
        for column in columns
        if differs.at[at, column]
    ]
    return {
        "added": int((~new.set_index(key).index.isin(common)).sum()),
        "removed": int((~old.set_index(key).index.isin(common)).sum()),
        "changed": int(changed_rows.sum()),
        "unchanged": int((~changed_rows).sum()),
        "examples": cells[:examples],
    }


def _same(old: pd.Series, new: pd.Series) -> pd.Series:
    return pd.Series(
        [a == b or (_is_null(a) and _is_null(b)) for a, b in zip(old, new, strict=True)], index=old.index, dtype=bool
    )


def _is_null(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A cell as JSON holds it: numbers as numbers (an exact decimal as its text), dates as ISO text."""
    if isinstance(value, np.generic):
        value = value.item()
    if _is_null(value):
        return None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, pd.Timestamp):  # a date column as pandas reads it: shown as the date it is
        value = value.date() if value == value.normalize() else value.to_pydatetime()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
