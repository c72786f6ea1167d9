"""Reading the two KPI tables from a warehouse file and comparing two copies of them.

Equality: the same keys, and for each row every column equal: integers, strings, dates and
NULLs exactly, floats within a relative (and absolute) tolerance of 1e-9.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

KEYS = {"genre_level_kpis": ("listen_date", "track_genre"), "hourly_kpis": ("listen_date", "listen_hour")}
COLUMNS = {
    "genre_level_kpis": (
        "listen_date",
        "track_genre",
        "listen_count",
        "popularity_index",
        "average_duration",
        "most_popular_track_id",
    ),
    "hourly_kpis": (
        "listen_date",
        "listen_hour",
        "unique_listeners",
        "listen_counts",
        "top_artist",
        "avg_sessions_per_user",
        "diversity_index",
        "most_engaged_age_group",
    ),
}
INT_COLUMNS = {"listen_count", "listen_hour", "unique_listeners", "listen_counts"}
FLOAT_COLUMNS = {"popularity_index", "average_duration", "avg_sessions_per_user", "diversity_index"}
TOLERANCE = 1e-9


def normalise(column: str, value):
    """One cell as a plain Python value: date, int, float, str or None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if column == "listen_date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])
    if column in INT_COLUMNS:
        return int(value) if float(value) == int(value) else float(value)
    if column in FLOAT_COLUMNS:
        return float(value)
    return str(value)


def rows_of(records, table: str) -> list[dict]:
    """Dict rows (any extra columns dropped, cells normalised) sorted by the table's key."""
    rows = [{c: normalise(c, r.get(c)) for c in COLUMNS[table]} for r in records]
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in KEYS[table]))


def read_duckdb(path: str | Path, table: str, run_date: str, schema: str | None = None) -> list[dict]:
    """The rows of ``run_date`` of ``[schema.]table`` in a DuckDB file (opened read-only)."""
    import duckdb

    name = f"{schema}.{table}" if schema else table
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute(f"SELECT * FROM {name} WHERE listen_date = CAST(? AS DATE)", [run_date])
        names = [d[0] for d in cur.description]
        return rows_of([dict(zip(names, r)) for r in cur.fetchall()], table)


def read_sqlite(path: str | Path, table: str, run_date: str) -> list[dict]:
    import sqlite3

    con = sqlite3.connect(str(path))
    try:
        cur = con.execute(f"SELECT * FROM {table} WHERE listen_date = ?", [run_date])
        names = [d[0] for d in cur.description]
        return rows_of([dict(zip(names, r)) for r in cur.fetchall()], table)
    finally:
        con.close()


def same_value(column: str, a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if column in FLOAT_COLUMNS:
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return type(a) is type(b) and a == b


def differences(table: str, left: list[dict], right: list[dict], names=("left", "right"), limit: int = 20) -> list[str]:
    """Human-readable differences between two copies of ``table`` (empty when equal)."""
    key = KEYS[table]
    lmap = {tuple(r[k] for k in key): r for r in left}
    rmap = {tuple(r[k] for k in key): r for r in right}
    out = []
    if len(lmap) != len(left) or len(rmap) != len(right):
        out.append(
            f"{table}: duplicate keys ({names[0]} {len(left)} rows/{len(lmap)} keys, "
            f"{names[1]} {len(right)} rows/{len(rmap)} keys)"
        )
    for k in sorted(set(lmap) | set(rmap), key=lambda t: tuple(map(str, t))):
        if k not in rmap:
            out.append(f"{table} {k}: only in {names[0]}")
        elif k not in lmap:
            out.append(f"{table} {k}: only in {names[1]}")
        else:
            for c in COLUMNS[table]:
                a, b = lmap[k][c], rmap[k][c]
                if not same_value(c, a, b):
                    out.append(f"{table} {k} {c}: {names[0]}={a!r} {names[1]}={b!r}")
        if len(out) >= limit:
            out.append("... (more differences not shown)")
            break
    return out
