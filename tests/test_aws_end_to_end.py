"""The AWS path end to end: `make run`-equivalent runs with the input on the S3 test server and the
warehouse on the PostgreSQL test server, KPIs by DuckDB and pushed down into the warehouse, against
a local run on the same data. Every KPI table must be identical, and the AWS credentials the runs
had must appear in none of their outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from servers import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, TEST_SESSION_TOKEN
from streamkpi import storage, warehouse

from tools.sample_data import generate

DAY, OTHER_DAY = "2024-06-25", "2024-06-24"
BUCKET = "streamkpi-e2e"
NOTEBOOKS = ["01_ingest", "02_genre_kpis", "03_hourly_kpis", "04_checks", "05_load"]

pytestmark = [pytest.mark.xdist_group("end_to_end"), pytest.mark.usefixtures("aws_env")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, s3_server, postgres):
    """Three runs of DAY on the same generated data, started together: local folder + DuckDB;
    S3 + PostgreSQL with DuckDB computing the KPIs; S3 + PostgreSQL with the KPIs pushed down."""
    base = tmp_path_factory.mktemp("aws-e2e")
    generate(base / "input", start_date=OTHER_DAY, days=2, streams_per_day=2000, n_users=300, n_tracks=900, seed=3)
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(p for p in (base / "input").rglob("*") if p.is_file()):
        client.upload_file(str(path), BUCKET, f"landing/{path.relative_to(base / 'input').as_posix()}")
    s3 = {
        "input_uri": f"s3://{BUCKET}/landing",
        "staging_uri": f"s3://{BUCKET}/staging",
        "s3_endpoint_url": s3_server.endpoint_url,
    }
    plans = {
        "local": {"input_uri": str(base / "input"), "warehouse_url": f"duckdb:///{base / 'local.duckdb'}"},
        "s3_postgres": {**s3, "warehouse_url": postgres.create_database("e2e_duckdb_engine")},
        "s3_pushdown": {**s3, "warehouse_url": postgres.create_database("e2e_pushdown"), "engine": "redshift"},
    }
    processes = {}
    for name, values in plans.items():
        params = base / f"{name}.yaml"
        params.write_text(yaml.safe_dump({**values, "reports_dir": str(base / name)}))
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params)],
            cwd=base,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
    done = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=600)
        run_dirs = sorted((base / name / DAY).iterdir()) if (base / name / DAY).exists() else []
        done[name] = {
            "returncode": process.returncode,
            "stdout": stdout,
            "stderr": stderr,
            "run_dir": run_dirs[0] if run_dirs else None,
            **plans[name],
        }
    return {"base": base, **done}


def test_every_run_succeeds(runs):
    for name in ("local", "s3_postgres", "s3_pushdown"):
        assert runs[name]["returncode"] == 0, f"{name}:\n{runs[name]['stderr'][-3000:]}"
        manifest = json.loads((runs[name]["run_dir"] / "manifest.json").read_text())
        assert [nb["status"] for nb in manifest["notebooks"]] == ["succeeded"] * 5


def test_kpi_tables_are_identical_whatever_the_input_warehouse_and_engine(runs):
    for table in warehouse.TABLES:
        local = warehouse.read_table(runs["local"]["warehouse_url"], table)
        assert len(local) > 10
        for name in ("s3_postgres", "s3_pushdown"):
            pd.testing.assert_frame_equal(
                warehouse.read_table(runs[name]["warehouse_url"], table),
                local,
                check_exact=True,
                obj=f"{name}: {table}",
            )


def test_s3_inputs_are_listed_in_the_manifest_with_their_sha256(runs):
    local = json.loads((runs["local"]["run_dir"] / "manifest.json").read_text())["input_files"]
    for name in ("s3_postgres", "s3_pushdown"):
        assert json.loads((runs[name]["run_dir"] / "manifest.json").read_text())["input_files"] == local
    for entry in local:
        data = (runs["base"] / "input" / entry["path"]).read_bytes()
        assert (entry["size"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


def test_staged_and_kpi_files_are_mirrored_under_the_staging_uri(runs, s3_server):
    for name in ("s3_postgres", "s3_pushdown"):
        run_dir = runs[name]["run_dir"]
        prefix = storage.S3Uri(BUCKET, f"staging/{DAY}/{run_dir.name}")
        listed = {
            o.key.removeprefix(prefix.prefix): o.size for o in storage.list_objects(prefix, s3_server.endpoint_url)
        }
        local = {
            p.relative_to(run_dir / "staging").as_posix(): p.stat().st_size
            for p in (run_dir / "staging").rglob("*")
            if p.is_file() and p.name != storage.MIRROR_FILE
        }
        assert listed == local and "streams.parquet" in listed and "kpis/hourly_kpis.parquet" in listed


def test_the_pushdown_run_still_shows_tables_and_charts(runs):
    for notebook in ("02_genre_kpis", "03_hourly_kpis"):
        html = (runs["s3_pushdown"]["run_dir"] / f"{notebook}.html").read_text()
        assert "<table" in html and "data:image/png;base64" in html, notebook
        executed = (runs["s3_pushdown"]["run_dir"] / f"{notebook}.ipynb").read_text()
        assert '"engine = \\"redshift\\"\\n"' in executed, notebook  # the injected parameter


def test_the_aws_credentials_appear_in_no_output_of_the_runs(runs):
    secrets = [TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, TEST_SESSION_TOKEN]
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == TEST_SECRET_ACCESS_KEY  # the runs had them
    checked = 0
    for name in ("s3_postgres", "s3_pushdown"):
        run_dir = runs[name]["run_dir"]
        for path in [p for p in run_dir.rglob("*") if p.is_file()]:
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), f"a credential leaked into {path}"
            checked += path.suffix in (".ipynb", ".html", ".json", ".log")
        for stream in ("stdout", "stderr"):
            assert not any(s in runs[name][stream] for s in secrets)
    assert checked >= 2 * (2 * len(NOTEBOOKS) + 3)  # notebooks, pages, manifest, mirror.json, run.log
