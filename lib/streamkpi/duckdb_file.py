"""The warehouse as an embedded DuckDB file (``duckdb:///path.duckdb``), the default.

A load is one DuckDB transaction: create the schema and tables when missing, then for each table
check that its file holds only the run date, delete the day's rows and insert the file's. Any
failure rolls it all back, so the day keeps its previous rows.

A DuckDB file is open in one read-write process or in several read-only ones, and DuckDB fails a
conflicting connect at once; so every connect here waits for the file instead (an analyst's notebook,
a BI tool or a second run holding it), up to ``lock_timeout`` seconds, saying once who holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy.engine import make_url

from .errors import WarehouseError
from .rowdiff import LoadedDay, diff_rows
from .sqltext import literal
from .tables import DEFAULT_LOCK_TIMEOUT_SECONDS, SCHEMA, TABLES, Table, day_query, ddl

LOCK_CONFLICT = re.compile(
    r"Could not set lock on file .*?Conflicting lock is held in (?P<holder>.+?)(?:\. See |$)", re.S
)


def duckdb_path(warehouse_url: str) -> Path:
    """The database file of a ``duckdb:///path.duckdb`` URL."""
    database = make_url(warehouse_url).database
    if not database or database == ":memory:":
        raise WarehouseError(f"warehouse URL {warehouse_url!r} names no DuckDB file")
    return Path(database)


@contextlib.contextmanager
def connect(path: Path, *, read_only: bool = False, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> Iterator:
    """A connection to the DuckDB file ``path``; while another process holds the file, retried with
    backoff for up to ``lock_timeout`` seconds, then :class:`WarehouseError` naming the holder."""
    deadline, pause, told = time.monotonic() + lock_timeout, 0.1, False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            conflict = LOCK_CONFLICT.search(str(exc))
            if conflict is None:
                raise
            holder, left = conflict["holder"].strip(), deadline - time.monotonic()
            if left <= 0:
                raise WarehouseError(
                    f"the DuckDB warehouse {path} is still held by {holder} after {lock_timeout:g} s "
                    "(warehouse_lock_timeout_seconds): close that process's connection and run again"
                ) from None
            if not told:
                print(
                    f"the DuckDB warehouse {path} is held by {holder}: waiting up to {lock_timeout:g} s",
                    file=sys.stderr,
                )
                told = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 5.0)
    if told:  # the report shows how long the wait was
        waited = lock_timeout - (deadline - time.monotonic())
        print(f"the DuckDB warehouse {path} was free after {waited:.1f} s", file=sys.stderr)
    try:
        yield con
    finally:
        con.close()


def create_tables(warehouse_url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
    """Create the database file, ``reporting_schema`` and the KPI tables when missing."""
    path = duckdb_path(warehouse_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path, lock_timeout=lock_timeout) as con:
        for statement in ddl("duckdb"):
            con.execute(statement).fetchall()


def load_day(
    warehouse_url: str,
    run_date: dt.date,
    tables: dict[str, Path],
    *,
    iam_role: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> LoadedDay:
    """Replace the rows of ``run_date`` in each KPI table with those of its Parquet file, in one
    transaction; returns the rows read back per table and what changed. ``iam_role`` is Redshift's:
    unused here."""
    path = duckdb_path(warehouse_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path, lock_timeout=lock_timeout) as con:
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            for statement in ddl("duckdb"):
                con.execute(statement).fetchall()
            day = f"DATE {literal(run_date)}"
            expected, diff = {}, {}
            for name, file in tables.items():
                before = con.execute(day_query(TABLES[name], day)).df()
                expected[name] = _replace_partition(con, TABLES[name], run_date, file)
                diff[name] = diff_rows(before, con.execute(day_query(TABLES[name], day)).df(), TABLES[name].primary_key)
            con.execute("COMMIT").fetchall()
        except Exception:
            con.execute("ROLLBACK").fetchall()
            raise
    loaded = {name: len(read_table(warehouse_url, name, run_date, lock_timeout=lock_timeout)) for name in tables}
    if loaded != expected:
        raise WarehouseError(f"read-back of {run_date} found {loaded} rows, expected {expected}")
    return LoadedDay(loaded, diff)


def _replace_partition(con, table: Table, run_date: dt.date, parquet: Path) -> int:
    columns = ", ".join(table.column_names)
    source = f"read_parquet({literal(parquet)})"
    day = f"DATE {literal(run_date)}"
    query = f"SELECT count(*) FROM {source} WHERE listen_date IS DISTINCT FROM {day}"
    other_dates = con.execute(query).fetchall()[0][0]
    if other_dates:
        raise WarehouseError(f"{parquet} holds {other_dates} row(s) not dated {run_date}; nothing is loaded")
    con.execute(f"DELETE FROM {SCHEMA}.{table.name} WHERE listen_date = {day}").fetchall()
    return con.execute(f"INSERT INTO {SCHEMA}.{table.name} ({columns}) SELECT {columns} FROM {source}").fetchall()[0][0]


def read_table(
    warehouse_url: str,
    table: str,
    run_date: dt.date | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> pd.DataFrame:
    """A KPI table (or the day ``run_date`` of it) ordered by its key; empty when it does not exist yet."""
    spec = TABLES[table]
    path = duckdb_path(warehouse_url)
    if not path.exists():
        return pd.DataFrame(columns=spec.column_names)
    where = f"WHERE listen_date = DATE {literal(run_date)}" if run_date else ""
    with connect(path, read_only=True, lock_timeout=lock_timeout) as con:
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
