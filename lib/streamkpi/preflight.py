"""What a run checks before ingest stages anything: that it can write the warehouse and the staging
mirror (``staging_uri``), and that the params file's ``checks:`` settings are valid. A bad path, host,
password, right or setting then fails in seconds, naming the URL, path or setting and the cause,
instead of after a whole day's compute. (The input root is checked as ingest begins: listing it is
the first thing :func:`streamkpi.ingest.stage_day` does.)
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from . import datachecks, duckdb_file, redshift, storage
from .errors import PreflightError, StorageError, WarehouseError
from .sqltext import literal
from .tables import SCHEMA, TABLES
from .warehouse import warehouse_engine

CONNECT_TIMEOUT_SECONDS = 10
PROBE_PREFIX = "_preflight/"  # under staging_uri: a probe object, written then deleted


def check_run(
    warehouse_url: str,
    staging_uri: str | None = None,
    s3_endpoint_url: str | None = None,
    data_checks: dict | None = None,
) -> list[str]:
    """Check the warehouse, the staging mirror and the data checks' settings (``data_checks``, the params file's
    ``checks:``, which 04_checks would otherwise refuse after the day's compute); :class:`PreflightError` lists
    every problem found. Returns a line per check that passed, for the ingest report."""
    checks = [lambda: check_warehouse(warehouse_url)]
    if staging_uri:
        checks.append(lambda: check_staging(staging_uri, s3_endpoint_url))
    if data_checks:
        checks.append(lambda: datachecks.parse_settings(data_checks) and "the data checks' settings are valid")
    passed, problems = [], []
    for check in checks:
        try:
            passed.append(check())
        except (PreflightError, WarehouseError, StorageError, ValueError) as exc:
            problems.append(str(exc))
    if problems:
        raise PreflightError("the run cannot go on, nothing was staged:\n" + "\n".join(f"  - {p}" for p in problems))
    return passed


def check_warehouse(warehouse_url: str) -> str:
    """DuckDB: the file, or the folder it is to be made in, is writable. PostgreSQL / Redshift: a
    connection, and the rights to create ``reporting_schema`` and its tables or to change them."""
    if warehouse_engine(warehouse_url) == "duckdb":
        return _check_duckdb_file(duckdb_file.duckdb_path(warehouse_url))
    return _check_database(warehouse_url)


def _check_duckdb_file(path: Path) -> str:
    if path.exists() and not path.is_file():
        raise PreflightError(f"the DuckDB warehouse {path} is not a file")
    folder = path.parent if path.exists() else next(p for p in path.parents if p.exists())
    if not folder.is_dir():
        raise PreflightError(f"the DuckDB warehouse {path} cannot be made: {folder} is not a folder")
    try:  # a real write, as the load's: the rights, a read-only file system, a full disk
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".streamkpi-preflight-"):
            pass
        if path.exists():
            path.open("r+b").close()
    except OSError as exc:
        raise PreflightError(f"the DuckDB warehouse {path} cannot be written: {exc.strerror or exc}") from None
    return f"the DuckDB warehouse {path} can be written"


def _check_database(warehouse_url: str) -> str:
    shown = redshift.shown(warehouse_url)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = sa.create_engine(warehouse_url, hide_parameters=True, poolclass=NullPool, connect_args=connect_args)
    schema = literal(SCHEMA)
    try:
        with engine.connect() as conn:

            def allowed(function: str, target: str, *rights: str) -> bool:
                checks = " AND ".join(f"{function}({target}, {literal(right)})" for right in rights)
                return bool(conn.exec_driver_sql(f"SELECT {checks}").scalar())

            if not conn.exec_driver_sql(f"SELECT count(*) FROM pg_namespace WHERE nspname = {schema}").scalar():
                missing = (
                    []
                    if allowed("has_database_privilege", "current_database()", "CREATE")
                    else [f"CREATE on the database (to create {SCHEMA})"]
                )
            else:
                missing = (
                    []
                    if allowed("has_schema_privilege", schema, "CREATE", "USAGE")
                    else [f"CREATE and USAGE on {SCHEMA}"]
                )
                listed = f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"
                for table in sorted({row[0] for row in conn.exec_driver_sql(listed)} & set(TABLES)):
                    if not allowed("has_table_privilege", literal(f"{SCHEMA}.{table}"), "INSERT", "DELETE", "SELECT"):
                        missing.append(f"INSERT, DELETE and SELECT on {SCHEMA}.{table}")
    except sa.exc.DBAPIError as exc:
        message = str(exc.orig).strip() if exc.orig is not None else type(exc).__name__
        raise PreflightError(f"the warehouse {shown} cannot be reached: {message}") from None
    if missing:
        raise PreflightError(f"the warehouse {shown} refuses the load: its user lacks {'; '.join(missing)}")
    return f"the warehouse {shown} is reachable and its user may load {SCHEMA}"


def check_staging(staging_uri: str, s3_endpoint_url: str | None = None) -> str:
    """Write then delete a probe object under ``staging_uri``: the bucket exists and may be written."""
    probe = storage.S3Uri.parse(staging_uri).join(PROBE_PREFIX + uuid.uuid4().hex)
    with tempfile.NamedTemporaryFile() as empty:
        storage.upload_file(empty.name, probe, s3_endpoint_url)
    try:
        storage.s3_client(s3_endpoint_url).delete_object(Bucket=probe.bucket, Key=probe.key)
    except Exception as exc:  # written but not deleted: the load can go on, the probe stays
        return f"staging_uri {staging_uri} can be written (the probe {probe} could not be deleted: {exc})"
    return f"staging_uri {staging_uri} can be written"
