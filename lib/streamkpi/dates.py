"""The run date: the one day a run stages, computes and loads, always given as ``YYYY-MM-DD``."""

from __future__ import annotations

import datetime as dt
import re


def parse_run_date(value: str | dt.date) -> dt.date:
    """A run date from a ``date`` or a strict ``YYYY-MM-DD`` string.

    Raises
    ------
    ValueError
        When ``value`` is not a real date written ``YYYY-MM-DD``.
    """
    if isinstance(value, dt.date):
        return value
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"run date {value!r} is not a date of the form YYYY-MM-DD")
