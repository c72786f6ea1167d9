"""Run by tests/test_airflow_dag.py with .venv-airflow's python: prints, as JSON, what Airflow's
DagBag makes of the DAG folder given as argument, and what the DAG module's helpers return."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import SimpleNamespace

from airflow.dag_processing.dagbag import DagBag

dags_folder, dag_file = sys.argv[1], sys.argv[2]
bag = DagBag(dag_folder=dags_folder)
dag = bag.dags.get("streamkpi_daily")
facts: dict = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dags)}
if dag is not None:
    facts.update(
        tasks={t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        order=[t.task_id for t in dag.topological_sort()],
        retries={t.task_id: t.retries for t in dag.tasks},
        depends_on_past={t.task_id: t.depends_on_past for t in dag.tasks},
        retry_delay_seconds={t.task_id: t.retry_delay.total_seconds() for t in dag.tasks},
        operators=sorted({type(t).__name__ for t in dag.tasks}),
        op_kwargs={t.task_id: t.op_kwargs for t in dag.tasks},
        timetable=type(dag.timetable).__name__,
        cron=getattr(dag.timetable, "expression", None),
        timezone=str(getattr(dag.timetable, "timezone", "")),
        start_date=dag.start_date.isoformat(),
        catchup=dag.catchup,
        max_active_runs=dag.max_active_runs,
        params=sorted(dag.params.keys()),
    )

spec = importlib.util.spec_from_file_location("streamkpi_daily_helpers", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
connections = {
    "streamkpi_warehouse": SimpleNamespace(login="loader", password="pg-secret", extra_dejson={}),
    "streamkpi_aws": SimpleNamespace(
        login="AKIAEXAMPLE",
        password="aws-secret",
        extra_dejson={"region_name": "eu-west-1", "aws_session_token": "tok"},
    ),
}
facts["credentials_env"] = module.credentials_env(connections.get)
facts["credentials_env_without_connections"] = module.credentials_env(lambda conn_id: None)
facts["run_folder_ids"] = [
    module.run_folder_id(r)
    for r in (
        "scheduled__2024-06-25T00:00:00+00:00",
        "scheduled__2024-06-25T00:00:00+00:00",
        "manual__2024-06-25T00:00:00+00:00",
    )
]
facts["project_dir"] = str(module.PROJECT_DIR)
print("FACTS " + json.dumps(facts))
