"""Preflight: a warehouse or staging mirror the run cannot write fails before anything is staged,
in seconds, naming the path or URL and the cause. Real files, a real PostgreSQL server and a real
S3-protocol server on loopback.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from params_files import write_params
from streamkpi import preflight
from streamkpi.errors import PreflightError

from tools.sample_data import generate

DATE = "2024-06-25"


def test_a_duckdb_warehouse_that_cannot_be_made_stops_the_run_before_anything_is_staged(tmp_path):
    from pipeline import run_pipeline

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=200, n_users=50, n_tracks=100, seed=2)
    (tmp_path / "not-a-folder").write_text("a file where the warehouse's folder should be")
    warehouse = tmp_path / "not-a-folder" / "w.duckdb"
    result = run_pipeline(DATE, write_params(tmp_path, warehouse_url=f"duckdb:///{warehouse}"), console="quiet")
    assert not result.ok
    assert result.error.notebook == "01_ingest.ipynb" and result.error.ename == "PreflightError"
    assert f"the DuckDB warehouse {warehouse} cannot be made: {tmp_path / 'not-a-folder'} is not a folder" in (
        result.error.evalue
    )
    assert not any((result.run_dir / "staging").iterdir())  # nothing staged
    assert [nb.status for nb in result.notebooks[1:]] == ["not run"] * 4


def test_a_misspelt_data_check_stops_the_run_before_anything_is_staged(tmp_path):
    from pipeline import run_pipeline

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=200, n_users=50, n_tracks=100, seed=2)
    params = write_params(tmp_path, checks={"volum_weekday": {"severity": "fail"}})
    result = run_pipeline(DATE, params, console="quiet")
    assert result.error.notebook == "01_ingest.ipynb" and result.error.ename == "PreflightError"
    assert "checks: unknown check 'volum_weekday'" in result.error.evalue
    assert not any((result.run_dir / "staging").iterdir())  # nothing staged


def test_valid_data_check_settings_pass(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    passed = preflight.check_run(url, data_checks={"completeness": {"severity": "warn"}})
    assert passed[-1] == "the data checks' settings are valid"


def test_a_writable_duckdb_warehouse_passes_and_leaves_no_trace(tmp_path):
    assert preflight.check_run(f"duckdb:///{tmp_path / 'new' / 'w.duckdb'}") == [
        f"the DuckDB warehouse {tmp_path / 'new' / 'w.duckdb'} can be written"
    ]
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a probe file was left


def test_a_duckdb_warehouse_on_a_read_only_file_system_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("NOT RUN: mounting a read-only file system needs root (CI runs the tests as root)")
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=True)
    try:
        with pytest.raises(PreflightError, match=f"the DuckDB warehouse {mount}/w.duckdb cannot be written: Read-only"):
            preflight.check_run(f"duckdb:///{mount / 'w.duckdb'}")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_postgres_user_without_rights_is_refused_naming_what_it_lacks(postgres, database):
    with sa.create_engine(database, isolation_level="AUTOCOMMIT").connect() as conn:
        name = sa.engine.make_url(database).database
        conn.exec_driver_sql("DROP ROLE IF EXISTS reader")
        conn.exec_driver_sql("CREATE ROLE reader LOGIN")
        conn.exec_driver_sql(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC')
    reader = database.replace("postgres@", "reader@", 1)
    with pytest.raises(PreflightError, match="its user lacks CREATE on the database \\(to create reporting_schema\\)"):
        preflight.check_run(reader)
    with sa.create_engine(database).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA reporting_schema")
        conn.exec_driver_sql("CREATE TABLE reporting_schema.hourly_kpis (listen_date DATE)")
        conn.exec_driver_sql("GRANT CREATE, USAGE ON SCHEMA reporting_schema TO reader")
        conn.exec_driver_sql("GRANT SELECT ON reporting_schema.hourly_kpis TO reader")
    with pytest.raises(PreflightError, match="lacks INSERT, DELETE and SELECT on reporting_schema.hourly_kpis"):
        preflight.check_run(reader)
    with sa.create_engine(database).begin() as conn:
        conn.exec_driver_sql("GRANT INSERT, DELETE ON reporting_schema.hourly_kpis TO reader")
    assert preflight.check_run(reader)[0].endswith("is reachable and its user may load reporting_schema")


def test_an_unreachable_warehouse_host_fails_naming_it(tmp_path):
    with socket.socket() as free:  # a loopback port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"postgresql+psycopg2://someone@127.0.0.1:{port}/db"
    with pytest.raises(PreflightError, match=f"the warehouse {re.escape(url)} cannot be reached: .*refused"):
        preflight.check_run(url)


def test_a_staging_bucket_that_does_not_exist_is_refused_and_one_that_does_passes(s3_server, tmp_path):
    warehouse = f"duckdb:///{tmp_path / 'w.duckdb'}"
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/runs"
    with pytest.raises(PreflightError, match=f"cannot write {missing}/{preflight.PROBE_PREFIX}"):
        preflight.check_run(warehouse, missing, s3_server.endpoint_url)
    client = s3_server.client()
    client.create_bucket(Bucket="staging-ok")
    passed = preflight.check_run(warehouse, "s3://staging-ok/runs", s3_server.endpoint_url)
    assert passed[1] == "staging_uri s3://staging-ok/runs can be written"
    assert client.list_objects_v2(Bucket="staging-ok").get("KeyCount") == 0  # the probe is gone


@pytest.fixture
def database(postgres) -> str:
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
