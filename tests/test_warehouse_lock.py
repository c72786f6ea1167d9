"""A DuckDB warehouse held by another process: the load waits for it, up to
``warehouse_lock_timeout_seconds``, then fails naming the holder, the warehouse unchanged. Real
processes hold the file; nothing is mocked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from params_files import write_params
from streamkpi import warehouse
from streamkpi.errors import WarehouseError

DATE = "2024-06-25"
HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
if sys.argv[3] == "until-told":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[3]))
"""


def hold(path: Path, seconds: float | str, mode: str = "rw") -> subprocess.Popen:
    """Another process that opens the DuckDB file and keeps it for ``seconds``, or, given
    ``"until-told"``, until a line arrives on its stdin."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def kpi_files(tmp_path: Path, listens: int) -> dict[str, Path]:
    genre = tmp_path / "genre.parquet"
    frame = pd.DataFrame(
        {
            "listen_date": [pd.Timestamp(DATE).date()],
            "track_genre": ["rock"],
            "listen_count": [listens],
            "popularity_index": [1.0],
            "average_duration": [200.0],
            "most_popular_track_id": ["T1"],
        }
    )
    frame.to_parquet(genre)
    return {"genre_level_kpis": genre}


@pytest.fixture
def loaded(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    warehouse.load_day(url, DATE, kpi_files(tmp_path, 5))
    return url, tmp_path / "w.duckdb"


def test_a_load_waits_for_the_process_holding_the_file_and_then_loads(loaded, tmp_path, capfd):
    url, path = loaded
    holder = hold(path, 3)
    try:
        assert warehouse.load_day(url, DATE, kpi_files(tmp_path, 7), lock_timeout=60).rows == {"genre_level_kpis": 1}
    finally:
        holder.wait(timeout=30)
    told = capfd.readouterr().err
    assert f"the DuckDB warehouse {path} is held by " in told and f"(PID {holder.pid})" in told
    assert "waiting up to 60 s" in told and told.count("is held by") == 1  # said once
    waited = re.search(rf"the DuckDB warehouse {re.escape(str(path))} was free after ([0-9.]+) s", told)
    assert waited and 2 <= float(waited[1]) < 60  # the holder kept the file for 3 s once it said so
    assert warehouse.read_table(url, "genre_level_kpis")["listen_count"].tolist() == [7]


def test_a_reader_holding_the_file_read_only_also_makes_the_load_wait(loaded, tmp_path):
    url, path = loaded
    holder = hold(path, 3, "ro")
    try:
        warehouse.load_day(url, DATE, kpi_files(tmp_path, 8), lock_timeout=60)
    finally:
        holder.wait(timeout=30)
    assert warehouse.read_table(url, "genre_level_kpis")["listen_count"].tolist() == [8]


def test_a_holder_that_outlasts_the_timeout_fails_the_load_naming_it_and_changes_nothing(loaded, tmp_path):
    url, path = loaded
    holder = hold(path, 60)
    try:
        with pytest.raises(WarehouseError) as error:
            warehouse.load_day(url, DATE, kpi_files(tmp_path, 9), lock_timeout=1)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    message = str(error.value)
    assert f"the DuckDB warehouse {path} is still held by " in message and f"(PID {holder.pid})" in message
    assert "after 1 s (warehouse_lock_timeout_seconds)" in message
    assert warehouse.read_table(url, "genre_level_kpis")["listen_count"].tolist() == [5]


def test_other_duckdb_errors_are_not_waited_for(tmp_path):
    (tmp_path / "not-a-db.duckdb").write_text("this is not a DuckDB file")
    with pytest.raises(duckdb.Error):
        warehouse.read_table(f"duckdb:///{tmp_path / 'not-a-db.duckdb'}", "genre_level_kpis", lock_timeout=30)


def test_a_run_waits_for_a_warehouse_held_for_20_s_and_succeeds(tmp_path):
    from tools.sample_data import generate

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=1000, n_users=300, n_tracks=800, seed=5)
    params = write_params(tmp_path)
    (tmp_path / "warehouse").mkdir()
    path = tmp_path / "warehouse" / "test.duckdb"
    duckdb.connect(str(path)).close()
    # Held until the run has said it is waiting (however slow the machine is to get there), and
    # for 20 s in all: a fixed hold raced a loaded CI machine, whose run got there after the release.
    holder, started = hold(path, "until-told"), time.monotonic()
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params), "--quiet"]
    cwd = Path(__file__).resolve().parents[1]
    run = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def logs() -> str:
        return "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "reports" / DATE).glob("*/logs/0[45]_*.log"))

    while "is held by" not in logs() and run.poll() is None and time.monotonic() - started < 240:
        time.sleep(0.2)
    time.sleep(max(0.0, 20 - (time.monotonic() - started)))
    assert run.poll() is None, run.communicate()  # still waiting, not failed
    holder.communicate("release\n", timeout=30)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert time.monotonic() - started >= 20  # it could only go on once the holder let go
    assert "is held by" in logs() and f"(PID {holder.pid})" in logs()  # said by the checks' read or the load
    assert "was free after" in logs()  # and how long that wait was


def test_two_runs_of_one_date_started_together_both_succeed_and_leave_one_copy(tmp_path):
    from tools.sample_data import generate

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=1000, n_users=300, n_tracks=800, seed=5)
    params = write_params(tmp_path)
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params), "--quiet"]
    env = {**os.environ, "PIPELINE_MAX_PARALLEL": "1"}  # two runs on two cores
    cwd = Path(__file__).resolve().parents[1]
    runs = [subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    url = f"duckdb:///{tmp_path / 'warehouse' / 'test.duckdb'}"
    genres = warehouse.read_table(url, "genre_level_kpis")
    assert len(genres) == len(genres.drop_duplicates(["listen_date", "track_genre"])) > 0
    assert set(genres["listen_date"].astype(str)) == {DATE}
