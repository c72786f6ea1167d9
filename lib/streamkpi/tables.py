"""The tables: the warehouse tables (the KPI tables and the data checks' results) and the staged
relations the KPI SQL reads.

These definitions are the only place their columns, types and keys are written down; each
engine's DDL is generated from them, and :func:`conform` gives a frame of any engine the types
DuckDB gives it. The names follow the seed's Redshift DDL (schema ``reporting_schema``).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from .sqltext import identifier

SCHEMA = "reporting_schema"
# How long a load or a read waits for a warehouse another process holds (params warehouse_lock_timeout_seconds).
DEFAULT_LOCK_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Column:
    """A column and its logical type (a key of each engine's :data:`TYPE_MAP`)."""

    name: str
    type: str  # logical type: DATE, INT, BIGINT, FLOAT, DECIMAL, TIMESTAMP, VARCHAR, TEXT


@dataclass(frozen=True)
class Table:
    """A table: its columns in order and its primary key (none for the staged relations)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

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
        # One row per (date, data check): the verdict of streamkpi.datachecks on the day.
        Table(
            "kpi_checks",
            (
                Column("listen_date", "DATE"),
                Column("check_name", "VARCHAR"),
                Column("status", "VARCHAR"),
                Column("observed", "FLOAT"),
                Column("expected_low", "FLOAT"),
                Column("expected_high", "FLOAT"),
                Column("message", "TEXT"),
            ),
            ("listen_date", "check_name"),
        ),
    )
}

# The relations ingest stages (one Parquet file each) and the KPI SQL reads, column for column in
# file order. The pushdown engine creates them as temporary tables in the warehouse and COPYs the
# files in; tests check that the staged files have exactly these columns and types.
STAGED_TABLES = {
    t.name: t
    for t in (
        Table(
            "valid_streams",
            (Column("user_id", "BIGINT"), Column("track_key", "INT"), Column("listen_time", "TIMESTAMP")),
        ),
        Table(
            "tracks",
            (
                Column("track_key", "INT"),
                Column("track_id", "VARCHAR"),
                Column("track_genre", "VARCHAR"),
                Column("duration_ms", "DECIMAL"),
                Column("artists", "TEXT"),
            ),
        ),
        Table("track_artists", (Column("track_key", "INT"), Column("artist", "VARCHAR"))),
        Table("users", (Column("user_id", "BIGINT"), Column("user_age", "INT"))),
    )
}

# Logical type -> engine type. FLOAT means 8-byte floating point everywhere (Redshift's FLOAT8);
# DECIMAL is exact with 3 decimals (durations in ms). Text compares by code point everywhere:
# DuckDB and Redshift compare bytes by default; PostgreSQL needs COLLATE "C". Redshift's VARCHAR
# lengths are bytes, and a name of 400 characters of Japanese is 1,200 bytes: every text column is
# Redshift's widest, which costs nothing on tables of this size, and ingest rejects a catalog row
# with a longer field (streamkpi.ingest.MAX_TEXT_BYTES), so no value it accepts overflows a COPY.
TYPE_MAP = {
    "duckdb": {
        "DATE": "DATE",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "FLOAT": "DOUBLE",
        "DECIMAL": "DECIMAL(38, 3)",
        "TIMESTAMP": "TIMESTAMP",
        "VARCHAR": "VARCHAR",
        "TEXT": "VARCHAR",
    },
    "postgresql": {
        "DATE": "DATE",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "FLOAT": "DOUBLE PRECISION",
        "DECIMAL": "DECIMAL(38, 3)",
        "TIMESTAMP": "TIMESTAMP",
        "VARCHAR": 'VARCHAR COLLATE "C"',
        "TEXT": 'TEXT COLLATE "C"',
    },
    "redshift": {
        "DATE": "DATE",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "FLOAT": "DOUBLE PRECISION",
        "DECIMAL": "DECIMAL(38, 3)",
        "TIMESTAMP": "TIMESTAMP",
        "VARCHAR": "VARCHAR(65535)",
        "TEXT": "VARCHAR(65535)",
    },
}


def create_table_sql(table: Table, engine: str, *, name: str | None = None, temporary: bool = False) -> str:
    """CREATE TABLE for ``table`` in ``engine``'s types.

    Parameters
    ----------
    table, engine
        The definition, and a key of :data:`TYPE_MAP`.
    name
        The table's name in the database; default ``table.name``.
    temporary
        A session-private table without keys; otherwise ``IF NOT EXISTS`` in ``reporting_schema``.
    """
    types = TYPE_MAP[engine]
    columns = [f"    {c.name} {types[c.type]}" for c in table.columns]
    if table.primary_key and not temporary:
        columns.append(f"    PRIMARY KEY ({', '.join(table.primary_key)})")
    body = ",\n".join(columns)
    if temporary:
        return f"CREATE TEMPORARY TABLE {name or table.name} (\n{body}\n)"
    return f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{name or table.name} (\n{body}\n)"


def ddl(engine: str) -> list[str]:
    """Every statement that creates the schema and the KPI tables when missing, in ``engine``'s types."""
    return [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"] + [create_table_sql(t, engine) for t in TABLES.values()]


def day_query(table: Table, day: str) -> str:
    """The rows of one day (``day``: an SQL date expression) of a warehouse table, in key order."""
    return (
        f"SELECT {', '.join(table.column_names)} FROM {SCHEMA}.{table.name} WHERE listen_date = {day} "
        f"ORDER BY {', '.join(table.primary_key)}"
    )


def typed_query(table: Table, relation: str) -> str:
    """A SELECT of ``table``'s columns from ``relation``, each cast to its DuckDB type."""
    casts = ", ".join(
        f"CAST({identifier(c.name)} AS {TYPE_MAP['duckdb'][c.type]}) AS {identifier(c.name)}" for c in table.columns
    )
    return f"SELECT {casts} FROM {relation}"


def conform(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame``'s columns of ``table`` with the dtypes DuckDB gives them, whichever engine made it."""
    with duckdb.connect() as con:
        con.register("frame", frame[table.column_names])
        return con.execute(typed_query(table, "frame")).df()
