"""The warehouse: one DDL source for the KPI tables, and the day's partition overwrite.

The table definitions below are the only place the KPI tables' columns, types and keys
are written down; each engine's DDL is generated from them. The names follow the seed's
Redshift DDL (schema ``reporting_schema``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy.engine import make_url

from .errors import WarehouseError
from .ingest import parse_run_date

SCHEMA = "reporting_schema"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # logical type: DATE, INT, FLOAT, VARCHAR


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


TABLES = {
    t.name: t
    for t in (
        Table(
            "genre_level_kpis",
            (
                Column("listen_date", "DATE"),
                Column("track_genre", "VARCHAR"),
                Column("listen_count", "INT"),
                Column("popularity_index", "FLOAT"),
                Column("average_duration", "FLOAT"),
                Column("most_popular_track_id", "VARCHAR"),
            ),
            ("listen_date", "track_genre"),
        ),
        Table(
            "hourly_kpis",
            (
                Column("listen_date", "DATE"),
                Column("listen_hour", "INT"),
                Column("unique_listeners", "INT"),
                Column("listen_counts", "INT"),
                Column("top_artist", "VARCHAR"),
                Column("avg_sessions_per_user", "FLOAT"),
                Column("diversity_index", "FLOAT"),
                Column("most_engaged_age_group", "VARCHAR"),
            ),
            ("listen_date", "listen_hour"),
        ),
    )
}

# Logical type -> engine type. FLOAT means 8-byte floating point everywhere (Redshift's FLOAT).
TYPE_MAP = {
    "duckdb": {"DATE": "DATE", "INT": "INTEGER", "FLOAT": "DOUBLE", "VARCHAR": "VARCHAR"},
}


def create_table_sql(table: Table, engine: str) -> str:
    """CREATE TABLE IF NOT EXISTS for ``table`` in ``engine``'s types."""
    types = TYPE_MAP[engine]
    columns = ",\n".join(f"    {c.name} {types[c.type]}" for c in table.columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{table.name} (\n{columns},\n"
        f"    PRIMARY KEY ({', '.join(table.primary_key)})\n)"
    )


def ddl(engine: str) -> list[str]:
    """Every statement that creates the schema and the KPI tables when missing."""
    return [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"] + [create_table_sql(t, engine) for t in TABLES.values()]


def warehouse_engine(warehouse_url: str) -> str:
    backend = make_url(warehouse_url).get_backend_name()
    if backend not in TYPE_MAP:
        raise WarehouseError(f"warehouse {backend!r} is not supported (supported: {', '.join(TYPE_MAP)})")
    return backend


def duckdb_path(warehouse_url: str) -> Path:
    """The database file of a ``duckdb:///path.duckdb`` URL."""
    database = make_url(warehouse_url).database
    if not database or database == ":memory:":
        raise WarehouseError(f"warehouse URL {warehouse_url!r} names no DuckDB file")
    return Path(database)


def load_day(warehouse_url: str, run_date: str | dt.date, tables: dict[str, str | Path]) -> dict[str, int]:
    """Replace all rows of ``run_date`` in each KPI table with the rows of its Parquet file.

    Everything happens in one transaction: on any failure the previous rows of the day stay.
    Returns the rows now in the warehouse for the day, per table, read back after the commit.
    """
    run_date = parse_run_date(run_date)
    warehouse_engine(warehouse_url)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise WarehouseError(f"not KPI tables: {', '.join(sorted(unknown))}")
    path = duckdb_path(warehouse_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            for statement in ddl("duckdb"):
                con.execute(statement).fetchall()
            expected = {}
            for name, parquet in tables.items():
                expected[name] = _replace_partition(con, TABLES[name], run_date, Path(parquet))
            con.execute("COMMIT").fetchall()
        except Exception:
            con.execute("ROLLBACK").fetchall()
            raise
    loaded = {name: count_rows(warehouse_url, name, run_date) for name in tables}
    if loaded != expected:
        raise WarehouseError(f"read-back of {run_date} found {loaded} rows, expected {expected}")
    return loaded


def _replace_partition(con, table: Table, run_date: dt.date, parquet: Path) -> int:
    columns = ", ".join(table.column_names)
    source = f"read_parquet('{_quote(parquet)}')"
    other_dates = con.execute(
        f"SELECT count(*) FROM {source} WHERE listen_date IS DISTINCT FROM DATE '{run_date}'"
    ).fetchall()[0][0]
    if other_dates:
        raise WarehouseError(f"{parquet} holds {other_dates} row(s) not dated {run_date}; nothing is loaded")
    con.execute(f"DELETE FROM {SCHEMA}.{table.name} WHERE listen_date = DATE '{run_date}'").fetchall()
    return con.execute(f"INSERT INTO {SCHEMA}.{table.name} ({columns}) SELECT {columns} FROM {source}").fetchall()[0][0]


def count_rows(warehouse_url: str, table: str, run_date: str | dt.date) -> int:
    frame = read_table(warehouse_url, table, run_date)
    return len(frame)


def read_table(warehouse_url: str, table: str, run_date: str | dt.date | None = None) -> pd.DataFrame:
    """A KPI table (or one day of it) ordered by its key; empty when the table does not exist yet."""
    spec = TABLES[table]
    warehouse_engine(warehouse_url)
    path = duckdb_path(warehouse_url)
    if not path.exists():
        return pd.DataFrame(columns=spec.column_names)
    where = f"WHERE listen_date = DATE '{parse_run_date(run_date)}'" if run_date else ""
    with duckdb.connect(str(path), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, table],
        ).fetchall()[0][0]
        if not exists:
            return pd.DataFrame(columns=spec.column_names)
        return con.execute(
            f"SELECT {', '.join(spec.column_names)} FROM {SCHEMA}.{table} {where} "
            f"ORDER BY {', '.join(spec.primary_key)}"
        ).df()


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
