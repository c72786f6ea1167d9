"""KPI computation: the portable KPI SQL run by DuckDB over the staged Parquet files.

The SQL files in ``sql/`` are the single definition of every KPI. They read four relations
(``valid_streams``, ``tracks``, ``track_artists``, ``users``) that ingest staged; any engine
that exposes those relations can run them unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from string import Template

import duckdb
import pandas as pd

from .ingest import parse_run_date

KPI_TABLES = ("genre_level_kpis", "hourly_kpis")
SQL_DIR = Path(__file__).parent / "sql"

STAGED_RELATIONS = {
    "valid_streams": "streams.parquet",
    "tracks": "tracks.parquet",
    "track_artists": "track_artists.parquet",
    "users": "users.parquet",
}


def kpi_sql(table: str, run_date: str | dt.date, session_gap_minutes: int = 30) -> str:
    """The KPI query of ``table`` for ``run_date``, ready to run."""
    if table not in KPI_TABLES:
        raise ValueError(f"unknown KPI table {table!r}; known: {', '.join(KPI_TABLES)}")
    if not isinstance(session_gap_minutes, int) or isinstance(session_gap_minutes, bool) or session_gap_minutes <= 0:
        raise ValueError(f"session_gap_minutes must be a positive whole number, not {session_gap_minutes!r}")
    template = Template((SQL_DIR / f"{table}.sql").read_text("utf-8"))
    return template.substitute(
        run_date=parse_run_date(run_date).isoformat(),
        session_gap_seconds=session_gap_minutes * 60,
    )


def staged_connection(staging_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection exposing the staged files as the relations the KPI SQL reads."""
    staging_dir = Path(staging_dir)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    for relation, file_name in STAGED_RELATIONS.items():
        path = staging_dir / file_name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run the ingest step for this staging folder first")
        con.execute(f"CREATE VIEW {relation} AS SELECT * FROM read_parquet('{_quote(path)}')").fetchall()
    return con


def compute_kpis(staging_dir: str | Path, table: str, run_date: str | dt.date,
                 session_gap_minutes: int = 30) -> pd.DataFrame:
    """Compute one KPI table from the staged files."""
    with staged_connection(staging_dir) as con:
        return con.execute(kpi_sql(table, run_date, session_gap_minutes)).df()


def genre_level_kpis(staging_dir: str | Path, run_date: str | dt.date) -> pd.DataFrame:
    """One row per genre with at least one valid stream on ``run_date`` (spec section 4)."""
    return compute_kpis(staging_dir, "genre_level_kpis", run_date)


def hourly_kpis(staging_dir: str | Path, run_date: str | dt.date, session_gap_minutes: int = 30) -> pd.DataFrame:
    """One row per hour with at least one valid stream on ``run_date`` (spec section 5)."""
    return compute_kpis(staging_dir, "hourly_kpis", run_date, session_gap_minutes)


def kpi_path(staging_dir: str | Path, table: str) -> Path:
    """Where a KPI step leaves its table for the load step."""
    return Path(staging_dir) / "kpis" / f"{table}.parquet"


def save_kpis(frame: pd.DataFrame, staging_dir: str | Path, table: str) -> Path:
    """Write a KPI table as Parquet for the load step; returns the path."""
    path = kpi_path(staging_dir, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.register("kpi_frame", frame)
        con.execute(f"COPY (SELECT * REPLACE (CAST(listen_date AS DATE) AS listen_date) FROM kpi_frame) TO '{_quote(path)}' (FORMAT parquet)").fetchall()
    return path


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
