"""KPI computation: the portable KPI SQL run over the staged Parquet files.

The SQL files in ``sql/`` are the single definition of every KPI. They read four relations
(``valid_streams``, ``tracks``, ``track_artists``, ``users``) that ingest staged; any engine
that exposes those relations can run them unchanged. Two engines do (:data:`ENGINES`):

- ``duckdb`` (default): DuckDB on this machine reads the staged files;
- ``redshift`` (pushdown): the staged files are COPYed into temporary tables of the warehouse
  (Redshift from the staging folder's S3 mirror; PostgreSQL, the stand-in, from this machine)
  and the same SQL runs there, so no KPI is computed here and the work scales with the cluster.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from . import localdb, storage
from .dates import parse_run_date
from .sqltext import literal, load_sql
from .tables import STAGED_TABLES, TABLES, conform, typed_query

KPI_TABLES = ("genre_level_kpis", "hourly_kpis")

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
    return load_sql(table, run_date=parse_run_date(run_date).isoformat(), session_gap_seconds=session_gap_minutes * 60)


def staged_connection(staging_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection exposing the staged files as the relations the KPI SQL reads."""
    con = localdb.connect(staging_dir)
    try:
        for relation in STAGED_RELATIONS:
            path = staged_path(staging_dir, relation)
            con.execute(f"CREATE VIEW {relation} AS SELECT * FROM read_parquet({literal(path)})").fetchall()
    except Exception:
        con.close()
        raise
    return con


def compute_kpis(
    staging_dir: str | Path,
    table: str,
    run_date: str | dt.date,
    session_gap_minutes: int = 30,
    *,
    engine: str = "duckdb",
    warehouse_url: str | None = None,
    iam_role: str | None = None,
) -> pd.DataFrame:
    """Compute one KPI table from the staged files, with ``engine`` (a key of :data:`ENGINES`).

    The ``redshift`` engine runs in the warehouse of ``warehouse_url`` (Redshift or PostgreSQL);
    on Redshift the staging folder needs an S3 mirror and COPY uses ``iam_role`` if given.
    """
    sql = kpi_sql(table, run_date, session_gap_minutes)
    if engine not in ENGINES:
        raise ValueError(f"unknown KPI engine {engine!r}; known: {', '.join(ENGINES)}")
    return ENGINES[engine](sql, staging_dir, table, warehouse_url=warehouse_url, iam_role=iam_role)


def _on_this_machine(sql: str, staging_dir: str | Path, table: str, **_warehouse) -> pd.DataFrame:
    """The KPI query run by DuckDB over the staged files; the warehouse plays no part."""
    with staged_connection(staging_dir) as con:
        return con.execute(sql).df()


def _in_the_warehouse(
    sql: str, staging_dir: str | Path, table: str, *, warehouse_url: str | None, iam_role: str | None
) -> pd.DataFrame:
    """The KPI query pushed down: run inside the warehouse over the staged relations it reads."""
    from . import redshift, warehouse  # SQLAlchemy's import: 0.2 CPU-s a kernel that computes here does not pay

    if not warehouse_url or warehouse.warehouse_engine(warehouse_url) not in redshift.FLAVORS:
        raise ValueError(
            f"engine 'redshift' computes the KPIs inside the warehouse, so warehouse_url must be "
            f"redshift+psycopg2://… or postgresql+psycopg2://…, not {warehouse_url!r}"
        )
    relations = {
        name: (STAGED_TABLES[name], staged_path(staging_dir, name))
        for name in redshift.relations_read_by(sql, STAGED_RELATIONS)
    }
    frame = redshift.run_query_on_staged(warehouse_url, sql, relations, iam_role=iam_role)
    return conform(frame, TABLES[table])


# KPI engine -> how it runs a KPI query; its keys are the engines there are.
ENGINES = {"duckdb": _on_this_machine, "redshift": _in_the_warehouse}


def genre_level_kpis(staging_dir: str | Path, run_date: str | dt.date, **engine) -> pd.DataFrame:
    """One row per genre with at least one valid stream on ``run_date`` (spec section 4).

    ``engine``: optional ``engine=``, ``warehouse_url=``, ``iam_role=`` of :func:`compute_kpis`.
    """
    return compute_kpis(staging_dir, "genre_level_kpis", run_date, **engine)


def hourly_kpis(
    staging_dir: str | Path, run_date: str | dt.date, session_gap_minutes: int = 30, **engine
) -> pd.DataFrame:
    """One row per hour with at least one valid stream on ``run_date`` (spec section 5)."""
    return compute_kpis(staging_dir, "hourly_kpis", run_date, session_gap_minutes, **engine)


def staged_path(staging_dir: str | Path, relation: str) -> Path:
    """The staged Parquet file of one relation the KPI SQL reads."""
    path = Path(staging_dir) / STAGED_RELATIONS[relation]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the ingest step for this staging folder first")
    return path


def kpi_path(staging_dir: str | Path, table: str) -> Path:
    """Where a KPI step leaves its table for the load step."""
    return Path(staging_dir) / "kpis" / f"{table}.parquet"


def save_kpis(frame: pd.DataFrame, staging_dir: str | Path, table: str) -> Path:
    """Write a KPI table as Parquet for the load step, typed exactly as the warehouse table's
    columns, and copy it to the staging folder's S3 mirror if it has one; returns the path."""
    path = kpi_path(staging_dir, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.register("kpi_frame", frame)
        con.execute(
            f"COPY ({typed_query(TABLES[table], 'kpi_frame')}) TO {literal(path)} (FORMAT parquet, COMPRESSION snappy)"
        ).fetchall()
    storage.publish(staging_dir, [path])
    return path
