"""The warehouse the notebooks load the KPI tables into and read them from, whatever its engine.

The URL's backend picks the module that does the work (:data:`BACKENDS`): ``duckdb``, an
embedded file (:mod:`streamkpi.duckdb_file`); ``redshift``, Amazon Redshift through
sqlalchemy-redshift, and ``postgresql``, the stand-in the tests run Redshift's SQL on (both
:mod:`streamkpi.redshift`). Each loads a day as its partition overwrite in one transaction. The
tables are defined once, in :mod:`streamkpi.tables`; ``python -m streamkpi.warehouse ddl
redshift`` prints their DDL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import make_url

from . import duckdb_file, redshift
from .dates import parse_run_date
from .errors import WarehouseError
from .rowdiff import LoadedDay
from .tables import DEFAULT_LOCK_TIMEOUT_SECONDS, SCHEMA, TABLES, TYPE_MAP, ddl

# URL backend -> the module implementing create_tables, load_day and read_table for it.
BACKENDS = {"duckdb": duckdb_file, "postgresql": redshift, "redshift": redshift}


def warehouse_engine(warehouse_url: str) -> str:
    """The engine of a warehouse URL: a key of :data:`BACKENDS`."""
    backend = make_url(warehouse_url).get_backend_name()
    if backend not in BACKENDS:
        raise WarehouseError(f"warehouse {backend!r} is not supported (supported: {', '.join(BACKENDS)})")
    return backend


def create_tables(warehouse_url: str) -> None:
    """Create ``reporting_schema`` and the KPI tables in the warehouse when missing."""
    BACKENDS[warehouse_engine(warehouse_url)].create_tables(warehouse_url)


def load_day(
    warehouse_url: str,
    run_date: str | dt.date,
    tables: dict[str, str | Path],
    *,
    iam_role: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> LoadedDay:
    """Replace all rows of ``run_date`` in each KPI table with the rows of its Parquet file.

    The delete of the day and the insert of its rows happen in one transaction: on any failure
    the previous rows of the day stay.

    Parameters
    ----------
    warehouse_url
        SQLAlchemy URL of the warehouse (no password).
    run_date
        The day loaded; every row of every file must be of that day.
    tables
        KPI table name -> its Parquet file. On Redshift the files must lie in a staging folder
        with an S3 mirror: they are COPYed from there.
    iam_role
        The IAM role Redshift's COPY reads S3 as; default: the AWS chain's credentials.
    lock_timeout
        Seconds to wait while another process holds the warehouse (DuckDB: the file; PostgreSQL:
        the tables' locks; Redshift waits for its LOCK as long as it takes) before failing.

    Returns
    -------
    LoadedDay
        ``rows``: the rows now in the warehouse for the day, per table, read back after the commit;
        ``diff``: per table, the rows the load added, removed, changed and left unchanged, and the
        first changed cells (:func:`streamkpi.rowdiff.diff_rows`): a rerun on unchanged input
        changes nothing.
    """
    run_date = parse_run_date(run_date)
    backend = BACKENDS[warehouse_engine(warehouse_url)]
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise WarehouseError(f"not KPI tables: {', '.join(sorted(unknown))}")
    files = {name: Path(path) for name, path in tables.items()}
    return backend.load_day(warehouse_url, run_date, files, iam_role=iam_role, lock_timeout=lock_timeout)


def read_table(
    warehouse_url: str,
    table: str,
    run_date: str | dt.date | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> pd.DataFrame:
    """A KPI table (or the day ``run_date`` of it) ordered by its key, with the dtypes DuckDB gives
    it; empty, with the table's columns, when it does not exist yet. Read-only; waits for the
    warehouse as :func:`load_day` does."""
    backend = BACKENDS[warehouse_engine(warehouse_url)]
    day = parse_run_date(run_date) if run_date else None
    return backend.read_table(warehouse_url, table, day, lock_timeout=lock_timeout)


def read_dated_table(
    warehouse_url: str, table: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> pd.DataFrame:
    """Every loaded date of ``table`` (:func:`read_table`), ``listen_date`` as datetime64 whatever the engine
    returned (dates, strings, timestamps): what the trend charts and the data checks compare by date."""
    frame = read_table(warehouse_url, table, lock_timeout=lock_timeout)
    return frame.assign(listen_date=pd.to_datetime(frame["listen_date"]))


def count_rows(warehouse_url: str, table: str, run_date: str | dt.date) -> int:
    """The rows of one day in a KPI table."""
    return len(read_table(warehouse_url, table, run_date))


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
    create_tables(args.warehouse_url)
    print(f"{SCHEMA} tables ready in {make_url(args.warehouse_url).render_as_string(hide_password=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
