"""streamkpi_daily: the project's notebook pipeline, once a day, one Airflow task per notebook.

Each task runs the project's own runner for one stage, in the project's virtual environment
(not Airflow's)::

    <streamkpi_python> -m pipeline run --date <logical date> --params <params file> \\
        --run-id <from the DAG run's id> --stage <task id>

All tasks of a DAG run share one run folder ``<reports_dir>/<date>/<run id>/``, so it ends up as
the one ``make run`` writes: every executed notebook, its HTML, ``index.html`` and
``manifest.json`` (updated by each stage as it finishes). The tasks and their order come from the
notebooks themselves (``python -m pipeline stages``): ingest, then genre and hourly KPIs in
parallel, then load. A retried task reruns its stage in the same folder; the failed attempt's
notebook is kept beside it as ``<stem>.try1.ipynb``.

Schedule ``@daily`` on data intervals (UTC): the run for day D starts once D is over, and its
logical date, hence the pipeline's ``--date``, is D.

Read when the DAG file is parsed (environment variables of the scheduler / DAG processor):
  STREAMKPI_PROJECT_DIR          project checkout (default: the checkout holding this file,
                                 symlinks followed)
  STREAMKPI_START_DATE           first logical date, YYYY-MM-DD (default 2024-06-24)
  STREAMKPI_CATCHUP              true/false: run the missed days since the start date (default false)
  STREAMKPI_RETRIES              retries of a failed task (default 2)
  STREAMKPI_RETRY_DELAY_MINUTES  delay between tries (default 5)
  STREAMKPI_MAX_ACTIVE_RUNS      DAG runs at a time (default 1: days load one after another); with more,
                                 a stage flagged after_earlier_dates (checks, load) waits for the
                                 previous day's to succeed (depends_on_past)

Read when a task runs:
  Variable streamkpi_python       the project's python (default: env STREAMKPI_PYTHON, else
                                  <project>/.venv/bin/python)
  Variable streamkpi_params_file  params YAML, relative to the project (default: env
                                  STREAMKPI_PARAMS_FILE, else params/local.yaml); the DAG param
                                  ``params_file`` of a triggered run takes precedence
  Connection streamkpi_warehouse  optional: its password is given to the runner as PGPASSWORD
  Connection streamkpi_aws        optional: login/password/extra aws_session_token, region_name
                                  as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
                                  AWS_DEFAULT_REGION
Credentials travel only as environment variables of the runner's process; the notebooks get
the params file's values, which never hold a secret. Without the connections, the worker's own
environment (PGPASSWORD, ~/.pgpass, the AWS credential chain or instance role) applies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

DAG_ID = "streamkpi_daily"
WAREHOUSE_CONN_ID = "streamkpi_warehouse"
AWS_CONN_ID = "streamkpi_aws"
# Exit status of the runner when the stage could not start (bad params, missing inputs, ...):
# retrying cannot help, so the task fails at once.
EXIT_USAGE = 2

log = logging.getLogger(__name__)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


PROJECT_DIR = Path(os.environ.get("STREAMKPI_PROJECT_DIR") or Path(__file__).resolve().parents[2]).resolve()
START_DATE = datetime.fromisoformat(os.environ.get("STREAMKPI_START_DATE") or "2024-06-24").replace(tzinfo=UTC)
CATCHUP = _env_bool("STREAMKPI_CATCHUP", False)
RETRIES = _env_int("STREAMKPI_RETRIES", 2)
RETRY_DELAY = timedelta(minutes=_env_int("STREAMKPI_RETRY_DELAY_MINUTES", 5))
MAX_ACTIVE_RUNS = _env_int("STREAMKPI_MAX_ACTIVE_RUNS", 1)


def load_stages(project_dir: Path = PROJECT_DIR):
    """The project's stage graph, read by the project's own ``pipeline/stages.py`` (stdlib only,
    loaded by path: Airflow's environment does not have the project's packages)."""
    source = project_dir / "pipeline" / "stages.py"
    if not source.is_file():
        raise FileNotFoundError(
            f"{source} not found: set STREAMKPI_PROJECT_DIR to the streamkpi checkout on this machine"
        )
    name = "_streamkpi_stages"
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module.load_stages(project_dir / "notebooks")


def run_folder_id(airflow_run_id: str) -> str:
    """A run id the runner accepts, the same for every task of a DAG run: the DAG run's id with
    other characters replaced, plus a short hash of it (distinct DAG runs never share a folder)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", airflow_run_id).strip("-._")[:100] or "run"
    digest = hashlib.sha256(airflow_run_id.encode()).hexdigest()[:8]
    return f"airflow-{readable}-{digest}"


def credentials_env(get_connection) -> dict[str, str]:
    """Environment variables for the runner from the optional Airflow connections.

    ``get_connection(conn_id)`` returns the connection or ``None`` when it is not defined.
    """
    env: dict[str, str] = {}
    warehouse = get_connection(WAREHOUSE_CONN_ID)
    if warehouse is not None and warehouse.password:
        env["PGPASSWORD"] = warehouse.password
    aws = get_connection(AWS_CONN_ID)
    if aws is not None:
        extra = aws.extra_dejson or {}
        for name, value in (
            ("AWS_ACCESS_KEY_ID", aws.login),
            ("AWS_SECRET_ACCESS_KEY", aws.password),
            ("AWS_SESSION_TOKEN", extra.get("aws_session_token")),
            ("AWS_DEFAULT_REGION", extra.get("region_name")),
        ):
            if value:
                env[name] = str(value)
    return env


def _connection(conn_id: str):
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def _setting(variable: str, env: str, default: str) -> str:
    from airflow.sdk import Variable

    return Variable.get(variable, default=None) or os.environ.get(env) or default


def run_stage(stage: str, **context) -> str:
    """Run one stage of the DAG run's pipeline run; returns the run folder's id (XCom)."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    params = context["params"]
    run_date = params.get("run_date") or ""
    if not run_date:
        logical = context.get("logical_date")
        if logical is None:
            raise AirflowFailException(
                "this DAG run has no logical date: trigger it with one, or set the run_date param (YYYY-MM-DD)"
            )
        run_date = logical.astimezone(UTC).date().isoformat()
    python = _setting("streamkpi_python", "STREAMKPI_PYTHON", str(PROJECT_DIR / ".venv" / "bin" / "python"))
    params_file = params.get("params_file") or _setting(
        "streamkpi_params_file", "STREAMKPI_PARAMS_FILE", "params/local.yaml"
    )
    if not os.access(python, os.X_OK):
        raise AirflowFailException(
            f"{python} is not an executable python: build the project's environment "
            "(make venv) or set the Airflow Variable streamkpi_python"
        )
    folder = run_folder_id(context["run_id"])
    command = [
        python,
        "-m",
        "pipeline",
        "run",
        "--date",
        run_date,
        "--params",
        params_file,
        "--run-id",
        folder,
        "--stage",
        stage,
    ]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(credentials_env(_connection))
    log.info("running %s in %s", " ".join(command), PROJECT_DIR)
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        for line in process.stdout:
            log.info("%s", line.rstrip("\n"))
        code = process.wait()
    except BaseException:  # the task is being stopped: let the runner record it and exit
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    if code == EXIT_USAGE:
        raise AirflowFailException(f"stage {stage} could not start (exit {code}); see the lines above")
    if code != 0:
        raise AirflowException(f"stage {stage} failed (exit {code}); see the lines above")
    return folder


STAGES = load_stages()

with DAG(
    dag_id=DAG_ID,
    description="Daily genre and hourly streaming KPIs: the project's notebooks, one task each",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START_DATE,
    catchup=CATCHUP,
    max_active_runs=MAX_ACTIVE_RUNS,
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY},
    params={
        "params_file": Param(
            "",
            type="string",
            description="params YAML relative to the project; empty: the Variable "
            "streamkpi_params_file, else params/local.yaml",
        ),
        "run_date": Param(
            "", type="string", description="YYYY-MM-DD to run instead of the logical date; empty: the logical date"
        ),
    },
    tags=["streamkpi"],
    doc_md=__doc__,
) as dag:
    tasks = {
        stage.stem: PythonOperator(
            task_id=stage.name,
            python_callable=run_stage,
            op_kwargs={"stage": stage.name},
            # A stage that reads what earlier dates produced (its metadata's after_earlier_dates: the checks,
            # the load) waits for the previous DAG run's to succeed, as a backfill waits for earlier dates.
            depends_on_past=stage.after_earlier_dates,
            doc_md=f"Runs `{stage.notebook}` of the project in the DAG run's run folder.",
        )
        for stage in STAGES
    }
    for stage in STAGES:
        for needed in stage.depends_on:
            tasks[needed] >> tasks[stage.stem]
