"""The Airflow DAG (pipeline/airflow/streamkpi_daily.py), in Airflow's own environment .venv-airflow.

Skipped when .venv-airflow is absent (``make airflow-venv`` builds it; ``.ci/run`` does, and
sets STREAMKPI_REQUIRE_AIRFLOW=1 so that an absent environment fails instead of skipping).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from tools.sample_data import generate

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "pipeline" / "airflow" / "streamkpi_daily.py"
AIRFLOW_BIN = REPO / ".venv-airflow" / "bin"
DAY = "2024-06-25"
TASKS = {
    "ingest": [],
    "genre_kpis": ["ingest"],
    "hourly_kpis": ["ingest"],
    "checks": ["genre_kpis", "hourly_kpis"],
    "load": ["checks", "genre_kpis", "hourly_kpis"],
}
SECRET = "pg-pass-never-in-notebooks"

if not (AIRFLOW_BIN / "airflow").exists():
    message = (
        "Airflow environment .venv-airflow is absent: run `make airflow-venv` to test the DAG (bash .ci/run builds it)"
    )
    if os.environ.get("STREAMKPI_REQUIRE_AIRFLOW"):
        raise RuntimeError(message)
    pytest.skip(message, allow_module_level=True)


def airflow_env(home: Path, dags: Path, **extra: str) -> dict[str, str]:
    """A clean Airflow configuration: SQLite metadata database in ``home``, DAGs from ``dags``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMKPI_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        **extra,
    )
    return env


def dags_folder(base: Path) -> Path:
    """A DAG folder holding a symlink to the project's DAG file, as a deployment would."""
    folder = base / "dags"
    folder.mkdir()
    (folder / DAG_FILE.name).symlink_to(DAG_FILE)
    return folder


def warehouse_rows(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM reporting_schema.{table} ORDER BY ALL").fetchall()


def test_dagbag_loads_the_dag_with_its_structure(tmp_path):
    dags = dags_folder(tmp_path)
    done = subprocess.run(
        [
            str(AIRFLOW_BIN / "python"),
            str(REPO / "tests" / "airflow_dag_facts.py"),
            str(dags),
            str(dags / DAG_FILE.name),
        ],
        env=airflow_env(tmp_path / "home", dags),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.split("FACTS ", 1)[1])
    assert facts["import_errors"] == {} and facts["dag_ids"] == ["streamkpi_daily"]
    assert facts["tasks"] == TASKS
    assert facts["order"][0] == "ingest" and facts["order"][-1] == "load"
    assert facts["operators"] == ["PythonOperator"]
    assert facts["op_kwargs"] == {name: {"stage": name} for name in TASKS}
    assert facts["retries"] == {name: 2 for name in TASKS}
    # 04_checks and 05_load say "after_earlier_dates": true: with several DAG runs at once, each waits for the
    # previous day's to succeed, as make backfill JOBS=N holds them until the earlier dates ended
    assert facts["depends_on_past"] == {name: name in ("checks", "load") for name in TASKS}
    assert facts["retry_delay_seconds"] == {name: 300.0 for name in TASKS}
    assert (facts["timetable"], facts["cron"], facts["timezone"]) == (
        "CronDataIntervalTimetable",
        "0 0 * * *",
        "UTC",
    )  # @daily
    assert facts["start_date"] == "2024-06-24T00:00:00+00:00"
    assert facts["catchup"] is False and facts["max_active_runs"] == 1
    assert facts["params"] == ["params_file", "run_date"]
    assert facts["project_dir"] == str(REPO)  # found through the symlink
    assert facts["credentials_env"] == {
        "PGPASSWORD": "pg-secret",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    assert facts["credentials_env_without_connections"] == {}
    first, again, manual = facts["run_folder_ids"]
    assert first == again != manual
    assert first.startswith("airflow-scheduled__2024-06-25T00-00-00-00-00-")


def test_schedule_settings_come_from_the_environment(tmp_path):
    dags = dags_folder(tmp_path)
    env = airflow_env(
        tmp_path / "home",
        dags,
        STREAMKPI_START_DATE="2024-06-01",
        STREAMKPI_CATCHUP="true",
        STREAMKPI_RETRIES="4",
        STREAMKPI_RETRY_DELAY_MINUTES="1",
        STREAMKPI_MAX_ACTIVE_RUNS="2",
    )
    done = subprocess.run(
        [
            str(AIRFLOW_BIN / "python"),
            str(REPO / "tests" / "airflow_dag_facts.py"),
            str(dags),
            str(dags / DAG_FILE.name),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.split("FACTS ", 1)[1])
    assert facts["start_date"] == "2024-06-01T00:00:00+00:00" and facts["catchup"] is True
    assert set(facts["retries"].values()) == {4} and set(facts["retry_delay_seconds"].values()) == {60.0}
    assert facts["max_active_runs"] == 2


def test_airflow_dags_test_gives_the_same_rows_and_run_folder_as_make_run(tmp_path):
    generate(
        tmp_path / "input", start_date="2024-06-24", days=2, streams_per_day=3000, n_users=400, n_tracks=1500, seed=7
    )

    def params(name: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "input_uri": str(tmp_path / "input"),
                    "warehouse_url": f"duckdb:///{tmp_path / name / 'kpis.duckdb'}",
                    "reports_dir": str(tmp_path / name / "reports"),
                }
            )
        )
        return path

    # what `make run DATE=2024-06-25 PARAMS=...` runs
    made = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params("make"))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr

    dags = dags_folder(tmp_path)
    env = airflow_env(
        tmp_path / "home",
        dags,
        AIRFLOW_VAR_STREAMKPI_PYTHON=sys.executable,
        AIRFLOW_CONN_STREAMKPI_WAREHOUSE=f"postgresql://loader:{SECRET}@db.invalid:5439/kpis",
    )
    migrate = subprocess.run(
        [str(AIRFLOW_BIN / "airflow"), "db", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    dag_test = subprocess.run(
        [
            str(AIRFLOW_BIN / "airflow"),
            "dags",
            "test",
            "streamkpi_daily",
            DAY,
            "--conf",
            json.dumps({"params_file": str(params("airflow"))}),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = dag_test.stdout + dag_test.stderr
    assert dag_test.returncode == 0, output[-6000:]
    assert "state=success" in output, output[-6000:]

    for table in ("genre_level_kpis", "hourly_kpis"):
        expected = warehouse_rows(tmp_path / "make" / "kpis.duckdb", table)
        assert expected and warehouse_rows(tmp_path / "airflow" / "kpis.duckdb", table) == expected

    (make_run,) = (tmp_path / "make" / "reports" / DAY).iterdir()
    (dag_run,) = (tmp_path / "airflow" / "reports" / DAY).iterdir()
    assert dag_run.name.startswith("airflow-manual__")

    def files(run: Path) -> list[str]:
        return sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))

    assert files(dag_run) == files(make_run)
    ours, theirs = (json.loads((r / "manifest.json").read_text()) for r in (dag_run, make_run))
    assert set(ours) == set(theirs)
    assert ours["status"] == theirs["status"] == "succeeded" and ours["run_id"] == dag_run.name
    for mine, other in zip(ours["notebooks"], theirs["notebooks"]):
        assert {k: mine[k] for k in ("name", "status", "ipynb", "html", "scraps")} == {
            k: other[k] for k in ("name", "status", "ipynb", "html", "scraps")
        }
        assert set(mine["parameters"]) == set(other["parameters"])
    assert ours["input_files"] == theirs["input_files"]
    for kpis in ("genre_level_kpis", "hourly_kpis"):
        staged = [
            duckdb.sql(f"SELECT * FROM '{r}/staging/kpis/{kpis}.parquet' ORDER BY ALL").fetchall()
            for r in (dag_run, make_run)
        ]
        assert staged[0] == staged[1]
    index = (dag_run / "index.html").read_text()
    assert "succeeded" in index and all(
        f'href="{n}.html"' in index for n in ("01_ingest", "02_genre_kpis", "03_hourly_kpis", "04_checks", "05_load")
    )
    # credentials reach the runner's environment only, never the run folder
    assert not any(
        SECRET in p.read_text(errors="replace")
        for p in dag_run.rglob("*")
        if p.is_file() and p.suffix in {".ipynb", ".html", ".json", ".log"}
    )
