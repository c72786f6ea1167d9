"""Backfills of several dates at once (``--jobs N``): the warehouse ends as after one date at a time, each date's
checks start once the earlier dates' runs ended, Ctrl-C interrupts the runs in flight, the summary is in date order.

The real backfills run the project's notebooks on a generated history whose first week is loaded beforehand (through
the library, as 04_checks and 05_load do), so that the checks of the backfilled dates are judged, each against what
the earlier dates loaded: checks that ran too early would record other expected ranges."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import stuck
from params_files import write_params
from streamkpi import datachecks
from test_parallel import moment, processes_with
from test_reports_workflow import fake_result

from pipeline.backfill import INTERRUPTED, NOT_RUN, backfill, exit_code, summary_table
from tools.check_rates import check_day
from tools.sample_data import generate

REPO = Path(__file__).resolve().parents[1]
TOYS = Path(__file__).resolve().parent / "runner_notebooks"
SEEDED = [f"2024-06-{day:02d}" for day in range(10, 17)]  # a week loaded before the backfills: the checks judge
BACKFILLED = ["2024-06-17", "2024-06-18", "2024-06-19", "2024-06-20"]
TABLES = ["genre_level_kpis", "hourly_kpis", "kpi_checks"]

pytestmark = pytest.mark.xdist_group("end_to_end")


def run_backfill(params: Path, first: str, last: str, *args: str, **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "backfill", "--start", first, "--end", last, "--params", str(params)]
    return stuck.run([*command, *args], cwd=REPO, timeout=900, **popen)


def summary_rows(stderr: str) -> list[tuple[str, str]]:
    """The summary table's (date, status) rows."""
    lines = stderr.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("date "))
    status, run_id = lines[header].index("status"), lines[header].index("run id")
    return [(line[:10], line[status:run_id].strip()) for line in lines[header + 1 : -1]]


def manifests(reports: Path) -> dict[str, dict]:
    """The manifest of each date's one run folder."""
    return {
        date_dir.name: json.loads(next(date_dir.glob("*/manifest.json")).read_text())
        for date_dir in sorted(reports.glob("2024-*"))
    }


@pytest.fixture(scope="module")
def backfills(tmp_path_factory):
    """The same four dates backfilled with --jobs 1 and with --jobs 2, each onto a copy of one seeded warehouse."""
    base = tmp_path_factory.mktemp("jobs")
    generate(base / "input", start_date=SEEDED[0], days=11, streams_per_day=1000, n_users=300, n_tracks=800, seed=13)
    seeded = f"duckdb:///{base / 'seeded.duckdb'}"
    for date in SEEDED:
        staging = base / "staging" / date
        check_day(base / "input", date, staging, seeded)
        datachecks.load_day(seeded, date, staging)
    runs = {}
    for jobs in (1, 2):
        place = base / f"jobs{jobs}"
        (place / "warehouse").mkdir(parents=True)
        shutil.copy(base / "seeded.duckdb", place / "warehouse" / "test.duckdb")
        params = write_params(place, input_uri=str(base / "input"))
        done = run_backfill(params, BACKFILLED[0], BACKFILLED[-1], "--jobs", str(jobs))
        runs[jobs] = {"done": done, "db": place / "warehouse" / "test.duckdb", "reports": place / "reports"}
    return runs


def test_every_date_succeeds_and_the_summary_is_in_date_order(backfills):
    for jobs, run in backfills.items():
        assert run["done"].returncode == 0, (jobs, run["done"].stderr[-3000:])
        assert summary_rows(run["done"].stderr) == [(date, "succeeded") for date in BACKFILLED]
        assert list(manifests(run["reports"])) == BACKFILLED
    # with --jobs 2 the runs print only their failures: none; the backfill says when each date starts
    said = backfills[2]["done"].stderr.splitlines()
    assert said[:4] == [f"backfill: date {n}/4: {date}" for n, date in enumerate(BACKFILLED, 1)]
    assert not any(line.startswith("[") for line in said)


def test_the_warehouse_equals_that_of_one_date_at_a_time(backfills):
    for table in TABLES:
        frames = []
        for jobs in (1, 2):
            with duckdb.connect(str(backfills[jobs]["db"]), read_only=True) as con:
                frames.append(con.execute(f"SELECT * FROM reporting_schema.{table} ORDER BY ALL").df())
        pd.testing.assert_frame_equal(frames[0], frames[1], obj=table)
        assert set(frames[0]["listen_date"].astype(str)) >= set(BACKFILLED), table
    checks = frames[0]  # kpi_checks: each backfilled date judged against a history that grew with the earlier ones
    recent = checks[checks["listen_date"].astype(str).isin(BACKFILLED) & (checks["check_name"] == "volume_recent")]
    assert list(recent["status"]) == ["pass"] * 4 and recent["expected_low"].nunique() == 4


def test_each_dates_checks_and_load_start_after_the_earlier_dates_runs_ended(backfills):
    runs = manifests(backfills[2]["reports"])
    for position, date in enumerate(BACKFILLED):
        notebooks = {nb["name"]: nb for nb in runs[date]["notebooks"]}
        ended = [moment(runs[earlier]["finished"]) for earlier in BACKFILLED[:position]]
        for name in ("04_checks.ipynb", "05_load.ipynb"):
            assert all(moment(notebooks[name]["started"]) > end for end in ended), (date, name)
    # and the dates did overlap: the second date's ingest began while the first date ran
    second_ingest = next(nb for nb in runs[BACKFILLED[1]]["notebooks"] if nb["name"] == "01_ingest.ipynb")
    assert moment(second_ingest["started"]) < moment(runs[BACKFILLED[0]]["finished"])


# --------------------------------------------------------------------------- toys: the order, Ctrl-C


def test_the_summary_is_in_date_order_whatever_order_the_dates_ended_in():
    second_done = threading.Event()

    def run(date, gate):
        if date == "2024-06-24":
            assert second_done.wait(30)  # the first date ends last
        if date == "2024-06-25":
            second_done.set()
        return fake_result(date, ok=date != "2024-06-25")

    outcomes = backfill(["2024-06-24", "2024-06-25", "2024-06-26"], run, stream=None, jobs=2)
    assert [(o.run_date, o.status) for o in outcomes] == [
        ("2024-06-24", "succeeded"),
        ("2024-06-25", "failed"),  # a failure stops no other date
        ("2024-06-26", "succeeded"),
    ]
    assert [line.split()[0] for line in summary_table(outcomes).splitlines()[1:4]] == [o.run_date for o in outcomes]
    assert exit_code(outcomes) == 1


def test_an_error_of_the_runner_itself_stops_the_backfill_and_reaches_the_caller():
    """A full disk under the runner's own files (or a bug) is not a date's failure: no later date starts, and the
    error goes on, as for one run (the CLI says "cannot write ...")."""
    started = []

    def run(date, gate):
        started.append(date)
        raise OSError(28, "No space left on device", "reports/index.html")

    with pytest.raises(OSError, match="No space left on device"):
        backfill(["2024-06-24", "2024-06-25", "2024-06-26"], run, stream=None, jobs=1)
    assert started == ["2024-06-24"]


def test_the_gate_of_a_date_opens_once_every_earlier_date_ended():
    said, entered = [], {date: threading.Event() for date in ("2024-06-25", "2024-06-26")}

    def run(date, gate):
        if date == "2024-06-24":  # the later dates ask their gates before the first ends
            assert all(event.wait(30) for event in entered.values())
        else:
            while not gate():  # as a run asks it while it waits
                entered[date].set()
                time.sleep(0.01)
            said.append(f"{date} through the gate")
        said.append(f"{date} ends")
        return fake_result(date, ok=True)

    backfill(["2024-06-24", "2024-06-25", "2024-06-26"], run, stream=None, jobs=3)
    assert said == [
        "2024-06-24 ends",
        "2024-06-25 through the gate",
        "2024-06-25 ends",
        "2024-06-26 through the gate",
        "2024-06-26 ends",
    ]


def test_jobs_must_be_at_least_1(capsys):
    from pipeline import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["backfill", "--start", "2024-06-25", "--end", "2024-06-26", "--params", "x.yaml", "--jobs", "0"])
    assert exited.value.code == 2 and "--jobs must be 1 or more, not 0" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_interrupts_the_runs_in_flight_and_runs_no_other_date(tmp_path, signum):
    """Toys: the first date's notebook sleeps, the second date's gated notebook waits for it; the signal interrupts
    both runs (their kernels killed; the waiting notebook never started), the two later dates are not run, exit 130."""
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "hold-2024-06-25").write_text("")
    params, marker = write_params(tmp_path), uuid.uuid4().hex
    command = [sys.executable, "-m", "pipeline", "backfill", "--start", "2024-06-25", "--end", "2024-06-28"]
    process = subprocess.Popen(
        [*command, "--params", str(params), "--notebooks-dir", str(TOYS / "gated"), "--jobs", "2"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PIPELINE_TEST_RUN_MARKER": marker},
    )
    reports, deadline = tmp_path / "reports", time.monotonic() + 120

    def log(date: str, name: str) -> str:
        found = list(reports.glob(f"{date}/*/{name}"))
        return found[0].read_text() if found else ""

    while time.monotonic() < deadline and not (
        "cell 3/3 started" in log("2024-06-25", "logs/01_day.log") and "01_day.ipynb ok" in log("2024-06-26", "run.log")
    ):
        time.sleep(0.2)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert summary_rows(err) == [
        ("2024-06-25", INTERRUPTED),
        ("2024-06-26", INTERRUPTED),
        ("2024-06-27", NOT_RUN),
        ("2024-06-28", NOT_RUN),
    ]
    runs = manifests(reports)
    assert list(runs) == ["2024-06-25", "2024-06-26"]  # the others never began
    statuses = {
        date: [(nb["status"], (nb["error"] or {}).get("ename")) for nb in m["notebooks"]] for date, m in runs.items()
    }
    assert statuses == {
        "2024-06-25": [("failed", "KeyboardInterrupt"), (NOT_RUN, None)],
        "2024-06-26": [("succeeded", None), (NOT_RUN, None)],  # it waited for the first date, which never ended
    }
    assert processes_with(marker) == []  # no kernel outlives the backfill
