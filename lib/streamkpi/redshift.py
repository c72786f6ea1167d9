"""Amazon Redshift, and PostgreSQL as its stand-in: loading the KPI tables, and pushdown.

The backend of :mod:`streamkpi.warehouse` for ``redshift`` and ``postgresql`` URLs, and the
warehouse side of the ``redshift`` KPI engine of :mod:`streamkpi.kpis`.

Both are reached through SQLAlchemy (``redshift+psycopg2://`` via sqlalchemy-redshift,
``postgresql+psycopg2://``) with the password from the environment (``PGPASSWORD``,
``~/.pgpass``), never from the URL. They run the same statements except for one step, putting a
Parquet file of the staging folder into a temporary table:

- Redshift: ``COPY <temp table> FROM 's3://…' FORMAT AS PARQUET`` (compiled with the dialect's
  :class:`~sqlalchemy_redshift.commands.CopyCommand`), reading the file's copy in the staging
  folder's S3 mirror, with an IAM role (recommended) or the AWS chain's credentials;
- PostgreSQL: ``COPY <temp table> FROM STDIN`` of the same rows as CSV.

**Loading a day** (:func:`load_day`): create the schema and tables if missing; COPY each KPI
file into a temporary staging table and check it holds only the run date; then, in **one
transaction**, for each table ``DELETE`` the day's rows and ``INSERT … SELECT`` the staged ones;
commit; read back the counts. No ``TRUNCATE`` (it commits implicitly on Redshift), no row-by-row
insert. A failure before the commit leaves the previous rows of the day.

**Pushdown** (:func:`run_query_on_staged`): COPY the staged relations the KPI SQL reads into
temporary tables named like them, run the KPI SQL inside the warehouse, fetch the (small) result.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from . import storage
from .errors import StorageError, WarehouseError
from .rowdiff import LoadedDay, diff_rows
from .sqltext import literal
from .tables import DEFAULT_LOCK_TIMEOUT_SECONDS, SCHEMA, TABLES, Table, conform, create_table_sql, day_query, ddl

FLAVORS = ("postgresql", "redshift")
STAGE_PREFIX = "stage_"
SERIALIZATION_RETRIES = 5  # waits of 1, 2, 4, 8 and 16 s
# What a CREATE ... IF NOT EXISTS raises when another transaction created the object meanwhile: PostgreSQL's
# IF NOT EXISTS does not guard against a concurrent CREATE (unique violation in its catalog, or "already exists").
CREATED_MEANWHILE = ("23505", "42P06", "42P07", "42710")


def flavor_of(warehouse_url: str) -> str:
    """The flavor of a warehouse URL: ``postgresql`` or ``redshift``."""
    backend = make_url(warehouse_url).get_backend_name()
    if backend not in FLAVORS:
        raise WarehouseError(f"{backend!r} is not Redshift or PostgreSQL")
    return backend


def shown(warehouse_url: str) -> str:
    """The URL as it may be printed: any password masked."""
    return make_url(warehouse_url).render_as_string(hide_password=True)


def create_engine(warehouse_url: str) -> sa.Engine:
    """An engine that never puts statement parameters (COPY credentials) into error messages."""
    return sa.create_engine(warehouse_url, hide_parameters=True, poolclass=NullPool)


@contextmanager
def _errors_named(action: str):
    """Database errors become :class:`WarehouseError` with the server's message (and no parameters);
    a serialization failure :class:`SerializationFailure`, which may be retried."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        message = str(exc.orig).strip() if exc.orig is not None else type(exc).__name__
        # Redshift reports its error 1023 under SQLSTATE XX000, with this text
        serialization = getattr(exc.orig, "pgcode", None) == "40001" or "Serializable isolation violation" in message
        raise (SerializationFailure if serialization else WarehouseError)(f"{action} failed: {message}") from None


class SerializationFailure(WarehouseError):
    """SQLSTATE 40001 (Redshift: error 1023): another transaction conflicted; running it again may succeed."""


# --------------------------------------------------------------------------- COPY


def copy_credentials(iam_role: str | None) -> dict:
    """How Redshift's COPY authenticates to S3: the IAM role, else the AWS chain's credentials."""
    if iam_role:
        return {"iam_role_arns": [iam_role]}
    import boto3

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise WarehouseError(
            "Redshift COPY needs an IAM role attached to the cluster (params redshift_iam_role, "
            "recommended) or AWS credentials from the standard chain; neither was found"
        )
    frozen = credentials.get_frozen_credentials()
    return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key, "session_token": frozen.token}


def copy_command(table_name: str, s3_uri: str, credentials: dict):
    """``COPY <table_name> FROM '<s3_uri>' … FORMAT AS PARQUET`` (columns by position)."""
    from sqlalchemy_redshift.commands import CopyCommand, Format

    return CopyCommand(sa.table(table_name), data_location=s3_uri, format=Format.parquet, **credentials)


def _execute_copy(conn, command) -> None:
    """Run a Redshift COPY (its own function so tests can stand in for S3-side COPY)."""
    with warnings.catch_warnings():
        # sqlalchemy-redshift's CopyCommand predates SQLAlchemy's statement cache: harmless here
        warnings.filterwarnings("ignore", message=".*inherit_cache.*", category=sa.exc.SAWarning)
        conn.execute(command)


def _copy_from_stdin(conn, table_name: str, spec: Table, parquet: Path) -> None:
    """PostgreSQL: the file's rows as CSV through ``COPY … FROM STDIN`` (same transaction)."""
    columns = ", ".join(spec.column_names)
    with tempfile.TemporaryDirectory(prefix="streamkpi-copy-") as tmp:
        csv_path = Path(tmp) / "rows.csv"
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT {columns} FROM read_parquet({literal(parquet)})) "
                f"TO {literal(csv_path)} (FORMAT csv, HEADER true)"
            ).fetchall()
        cursor = conn.connection.cursor()
        try:
            with csv_path.open("rb") as rows:
                cursor.copy_expert(f"COPY {table_name} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)", rows)
        finally:
            cursor.close()


def stage_file(conn, flavor: str, spec: Table, table_name: str, parquet: Path, *, iam_role: str | None = None) -> None:
    """Create temporary table ``table_name`` shaped like ``spec`` and COPY ``parquet`` into it."""
    parquet = Path(parquet)
    if not parquet.is_file():
        raise WarehouseError(f"{parquet} is missing: run the steps that stage it first")
    conn.exec_driver_sql(create_table_sql(spec, flavor, name=table_name, temporary=True))
    if flavor == "postgresql":
        _copy_from_stdin(conn, table_name, spec, parquet)
        return
    mirror = storage.find_mirror(parquet)
    if mirror is None:
        raise WarehouseError(
            f"Redshift COPYs from S3, but {parquet} is in no staging folder with an S3 mirror: "
            "set staging_uri (s3://bucket/prefix) in the params"
        )
    try:
        s3_uri = mirror.ensure(parquet)
    except StorageError as exc:
        raise WarehouseError(f"staging {parquet.name} in S3 for COPY failed: {exc}") from None
    _execute_copy(conn, copy_command(table_name, s3_uri, copy_credentials(iam_role)))


# --------------------------------------------------------------------------- loading a day


@contextmanager
def connected(warehouse_url: str, lock_timeout: float):
    """A connection on which PostgreSQL waits ``lock_timeout`` s at most for a lock (Redshift has no such setting)."""
    with create_engine(warehouse_url).connect() as conn:
        if flavor_of(warehouse_url) == "postgresql":
            conn.exec_driver_sql(f"SET lock_timeout = '{int(lock_timeout * 1000)}ms'")
            conn.commit()
        yield conn


def create_tables(
    warehouse_url: str, *, flavor: str | None = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> None:
    """Create ``reporting_schema`` and the KPI tables when missing; once more when another process created them
    meanwhile (two first loads at once), which the second try then finds."""
    flavor = flavor or flavor_of(warehouse_url)
    with _errors_named(f"creating the KPI tables in {shown(warehouse_url)}"):
        for attempt in (1, 2):
            try:
                with connected(warehouse_url, lock_timeout) as conn, conn.begin():
                    for statement in ddl(flavor):
                        conn.exec_driver_sql(statement)
                return
            except sa.exc.DBAPIError as exc:
                if attempt == 2 or getattr(exc.orig, "pgcode", None) not in CREATED_MEANWHILE:
                    raise


def load_day(
    warehouse_url: str,
    run_date: dt.date,
    tables: dict[str, Path],
    *,
    iam_role: str | None = None,
    flavor: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> LoadedDay:
    """Replace the rows of ``run_date`` in each KPI table with those of its Parquet file; the rows
    read back per table, and what changed (the day's rows before and after, in the transaction).

    The replacing transaction first LOCKs the target tables (PostgreSQL waits ``lock_timeout`` s for
    them at most; Redshift as long as it takes), so loads and readers of the same tables queue
    instead of failing; a serialization failure (SQLSTATE 40001, Redshift's error 1023) is retried
    with backoff, :data:`SERIALIZATION_RETRIES` times at most. ``flavor`` (default: the URL's)
    chooses the statements: ``redshift`` may be run on a PostgreSQL connection by tests, with
    :func:`_execute_copy` replaced.
    """
    flavor = flavor or flavor_of(warehouse_url)
    create_tables(warehouse_url, flavor=flavor, lock_timeout=lock_timeout)
    where = shown(warehouse_url)
    with connected(warehouse_url, lock_timeout) as conn:
        expected = {}
        with _errors_named(f"staging the KPI rows of {run_date} in {where}"), conn.begin():
            for name, parquet in tables.items():
                staged = STAGE_PREFIX + name
                stage_file(conn, flavor, TABLES[name], staged, parquet, iam_role=iam_role)
                total, other_dates = conn.exec_driver_sql(
                    f"SELECT COUNT(*), COUNT(CASE WHEN listen_date IS NULL OR listen_date <> DATE {literal(run_date)} "
                    f"THEN 1 END) FROM {staged}"
                ).one()
                if other_dates:
                    raise WarehouseError(
                        f"{parquet} holds {other_dates} row(s) not dated {run_date}; nothing is loaded"
                    )
                expected[name] = total
        for attempt in range(SERIALIZATION_RETRIES + 1):
            try:
                with _errors_named(f"replacing {run_date} in {where}"), conn.begin():
                    conn.exec_driver_sql(f"LOCK {', '.join(f'{SCHEMA}.{name}' for name in tables)}")
                    diff = {}
                    for name in tables:
                        before = _day_rows(conn, TABLES[name], run_date)
                        _delete_day(conn, TABLES[name], run_date)
                        _insert_from_staging(conn, TABLES[name], STAGE_PREFIX + name)
                        diff[name] = diff_rows(
                            before, _day_rows(conn, TABLES[name], run_date), TABLES[name].primary_key
                        )
                break
            except SerializationFailure as exc:
                if attempt == SERIALIZATION_RETRIES:
                    raise WarehouseError(f"{exc} ({attempt + 1} attempts)") from None
                pause = 2**attempt
                print(f"{exc}: another transaction touched the tables; retrying in {pause} s", file=sys.stderr)
                time.sleep(pause)
        with _errors_named(f"reading back {run_date} from {where}"):
            loaded = {
                name: conn.exec_driver_sql(
                    f"SELECT COUNT(*) FROM {SCHEMA}.{name} WHERE listen_date = DATE {literal(run_date)}"
                ).scalar()
                for name in tables
            }
    if loaded != expected:
        raise WarehouseError(f"read-back of {run_date} found {loaded} rows, expected {expected}")
    return LoadedDay(loaded, diff)


def _day_rows(conn, table: Table, run_date: dt.date) -> pd.DataFrame:
    rows = conn.exec_driver_sql(day_query(table, f"DATE {literal(run_date)}")).fetchall()
    return conform(pd.DataFrame([tuple(r) for r in rows], columns=table.column_names), table)


def _delete_day(conn, table: Table, run_date: dt.date) -> None:
    conn.exec_driver_sql(f"DELETE FROM {SCHEMA}.{table.name} WHERE listen_date = DATE {literal(run_date)}")


def _insert_from_staging(conn, table: Table, staged: str) -> None:
    columns = ", ".join(table.column_names)
    conn.exec_driver_sql(f"INSERT INTO {SCHEMA}.{table.name} ({columns}) SELECT {columns} FROM {staged}")


def read_table(
    warehouse_url: str,
    table: str,
    run_date: dt.date | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> pd.DataFrame:
    """A KPI table (or one day of it) ordered by its key, with the same dtypes as from DuckDB."""
    spec = TABLES[table]
    where = f"WHERE listen_date = DATE {literal(run_date)}" if run_date else ""
    reading = f"reading {SCHEMA}.{table} from {shown(warehouse_url)}"
    with _errors_named(reading), connected(warehouse_url, lock_timeout) as conn:
        exists = conn.execute(
            sa.text("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = :t"),
            {"s": SCHEMA, "t": table},
        ).scalar()
        rows = []
        if exists:
            rows = conn.exec_driver_sql(
                f"SELECT {', '.join(spec.column_names)} FROM {SCHEMA}.{table} {where} "
                f"ORDER BY {', '.join(spec.primary_key)}"
            ).fetchall()
    return conform(pd.DataFrame([tuple(r) for r in rows], columns=spec.column_names), spec)


# --------------------------------------------------------------------------- pushdown


def relations_read_by(sql: str, candidates) -> list[str]:
    """Which of ``candidates`` (relation names) the SQL text reads, comments aside."""
    code = re.sub(r"--[^\n]*", "", sql)
    return [name for name in candidates if re.search(rf"\b{re.escape(name)}\b", code)]


def run_query_on_staged(
    warehouse_url: str,
    sql: str,
    relations: dict[str, tuple[Table, Path]],
    *,
    iam_role: str | None = None,
    flavor: str | None = None,
) -> pd.DataFrame:
    """Run ``sql`` inside the warehouse over temporary tables loaded from staged Parquet files.

    ``relations`` maps each relation name the SQL reads to its definition and staged file. The
    temporary tables live only in this session; nothing persists in the warehouse.
    """
    flavor = flavor or flavor_of(warehouse_url)
    engine = create_engine(warehouse_url)
    with _errors_named(f"computing KPIs in {shown(warehouse_url)}"), engine.connect() as conn, conn.begin():
        for name, (spec, parquet) in relations.items():
            stage_file(conn, flavor, spec, name, parquet, iam_role=iam_role)
            if flavor == "postgresql":  # Redshift's COPY into an empty table updates statistics itself
                conn.exec_driver_sql(f"ANALYZE {name}")
        result = conn.exec_driver_sql(sql)
        columns = list(result.keys())
        rows = [tuple(r) for r in result.fetchall()]
    return pd.DataFrame(rows, columns=columns)
