"""The warehouse: one DDL source for the KPI tables, and the day's partition overwrite.

The table definitions below are the only place the KPI tables' columns, types and keys
are written down; each engine's DDL is generated from them (``python -m streamkpi.warehouse ddl
redshift`` prints it). The names follow the seed's Redshift DDL (schema ``reporting_schema``).
The same source defines the staged relations the KPI SQL reads, which the pushdown engine
creates as temporary tables inside the warehouse.

Engines, by the URL's backend: ``duckdb`` (an embedded file, here), ``redshift`` (Amazon Redshift
through sqlalchemy-redshift) and ``postgresql`` (the stand-in the tests run Redshift's SQL on);
the last two are implemented in :mod:`streamkpi.redshift`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
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
    type: str  # logical type: DATE, INT, BIGINT, FLOAT, DECIMAL, TIMESTAMP, VARCHAR, TEXT


@dataclass(frozen=True)
class Table:
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
# lengths are bytes: VARCHAR for ids, genres and names, TEXT for a track's joined artists.
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
        "VARCHAR": "VARCHAR(1024)",
        "TEXT": "VARCHAR(65535)",
    },
}


def create_table_sql(table: Table, engine: str, *, name: str | None = None, temporary: bool = False) -> str:
    """CREATE TABLE for ``table`` in ``engine``'s types: ``IF NOT EXISTS`` in ``reporting_schema``,
    or, with ``temporary``, a session-private table named ``name`` (default: the table's name)."""
    types = TYPE_MAP[engine]
    columns = [f"    {c.name} {types[c.type]}" for c in table.columns]
    if table.primary_key and not temporary:
        columns.append(f"    PRIMARY KEY ({', '.join(table.primary_key)})")
    body = ",\n".join(columns)
    if temporary:
        return f"CREATE TEMPORARY TABLE {name or table.name} (\n{body}\n)"
    return f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{name or table.name} (\n{body}\n)"


def ddl(engine: str) -> list[str]:
    """Every statement that creates the schema and the KPI tables when missing."""
    return [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"] + [create_table_sql(t, engine) for t in TABLES.values()]


def warehouse_engine(warehouse_url: str) -> str:
    """The engine of a warehouse URL: ``duckdb``, ``postgresql`` or ``redshift``."""
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


def load_day(
    warehouse_url: str, run_date: str | dt.date, tables: dict[str, str | Path], *, iam_role: str | None = None
) -> dict[str, int]:
    """Replace all rows of ``run_date`` in each KPI table with the rows of its Parquet file.

    The delete of the day and the insert of its rows happen in one transaction: on any failure
    the previous rows of the day stay. Returns the rows now in the warehouse for the day, per
    table, read back after the commit. On Redshift the files must lie in a staging folder with an
    S3 mirror: they are COPYed from there (with ``iam_role``, or the AWS chain's credentials).
    """
    run_date = parse_run_date(run_date)
    engine = warehouse_engine(warehouse_url)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise WarehouseError(f"not KPI tables: {', '.join(sorted(unknown))}")
    if engine != "duckdb":
        from . import redshift

        return redshift.load_day(warehouse_url, run_date, {n: Path(p) for n, p in tables.items()}, iam_role=iam_role)
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
    if warehouse_engine(warehouse_url) != "duckdb":
        from . import redshift

        return redshift.read_table(warehouse_url, table, parse_run_date(run_date) if run_date else None)
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


def conform(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame``'s columns of ``table`` with the dtypes DuckDB gives them, whichever engine made it."""
    casts = ", ".join(f'CAST("{c.name}" AS {TYPE_MAP["duckdb"][c.type]}) AS "{c.name}"' for c in table.columns)
    with duckdb.connect() as con:
        con.register("frame", frame[table.column_names])
        return con.execute(f"SELECT {casts} FROM frame").df()


def main(argv: list[str] | None = None) -> int:
    """``python -m streamkpi.warehouse ddl ENGINE`` prints the DDL; ``create URL`` runs it."""
    parser = argparse.ArgumentParser(prog="python -m streamkpi.warehouse", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("ddl", help="print the CREATE statements of the KPI tables for an engine")
    show.add_argument("engine", choices=sorted(TYPE_MAP))
    create = sub.add_parser("create", help="create the schema and KPI tables in a warehouse (if missing)")
    create.add_argument(
        "warehouse_url", help="SQLAlchemy URL without password, e.g. redshift+psycopg2://user@host:5439/db"
    )
    args = parser.parse_args(argv)
    if args.command == "ddl":
        print(";\n\n".join(ddl(args.engine)) + ";")
        return 0
    engine = warehouse_engine(args.warehouse_url)
    if engine == "duckdb":
        path = duckdb_path(args.warehouse_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)) as con:
            for statement in ddl("duckdb"):
                con.execute(statement).fetchall()
    else:
        from . import redshift

        redshift.create_tables(args.warehouse_url)
    print(f"{SCHEMA} tables ready in {make_url(args.warehouse_url).render_as_string(hide_password=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
