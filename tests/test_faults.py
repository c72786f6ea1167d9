"""Faults an operator meets, made for real: a runner killed with SIGKILL (as by the OOM killer), a run
folder left without its manifest. Nothing is mocked: real processes, real kernels, real files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from params_files import write_params

NOTEBOOKS = Path(__file__).resolve().parent / "runner_notebooks"
REPO = Path(__file__).resolve().parents[1]
DATE = "2024-06-25"


def manifests(reports: Path) -> list[Path]:
    return sorted(reports.glob(f"{DATE}/*/manifest.json"))


def index(params: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "index", "--params", str(params)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_sigkilled_run_is_running_while_it_lives_and_interrupted_once_it_is_gone(tmp_path):
    params = write_params(tmp_path)
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params)]
    runner = subprocess.Popen([*command, "--notebooks-dir", str(NOTEBOOKS / "slow"), "--quiet"], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # its notebook sleeps for a minute: it is running
            found = manifests(tmp_path / "reports")
            if found and json.loads(found[0].read_text())["status"] == "running":
                break
            time.sleep(0.2)
        manifest = json.loads(found[0].read_text())
        assert manifest["status"] == "running"
        assert manifest["notebooks"][0]["runner"] == {"host": os.uname().nodename, "pid": runner.pid}
        assert index(params).returncode == 0  # the runner lives: nothing to settle
        assert json.loads(found[0].read_text())["status"] == "running"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)

    assert index(params).returncode == 0
    manifest = json.loads(found[0].read_text())
    assert manifest["status"] == "interrupted"
    entry = manifest["notebooks"][0]
    assert entry["status"] == "interrupted" and "runner" not in entry
    assert entry["error"]["ename"] == "Interrupted"
    assert f"its runner, pid {runner.pid} on {os.uname().nodename}, died" in entry["error"]["evalue"]
    assert "interrupted" in (found[0].parent / "index.html").read_text(encoding="utf-8")
    overview = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert found[0].parent.name in overview and "interrupted" in overview


def test_a_sigkilled_run_keeps_the_notebooks_that_ended_and_stage_continues_it(tmp_path):
    """A notebook's manifest entry is recorded once it ends, not with the run's end: a runner killed later (as by
    the OOM killer) leaves 01 succeeded, with its pages, and --stage continues the run folder from there."""
    params = write_params(tmp_path)
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params)]
    command += ["--notebooks-dir", str(NOTEBOOKS / "resumable")]
    runner = subprocess.Popen([*command, "--quiet"], cwd=REPO, env={**os.environ, "TOY_SLEEP_SECONDS": "60"})
    try:
        deadline, found, running = time.monotonic() + 60, [], {}
        while time.monotonic() < deadline and not running:  # 01 has ended and has its pages, 02 sleeps for a minute
            found = manifests(tmp_path / "reports")
            manifest = json.loads(found[0].read_text()) if found else {}
            running = manifest if manifest.get("notebooks", [{}])[0].get("html") else {}
            time.sleep(0.2)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    assert running["status"] == "running"
    assert [e["status"] for e in running["notebooks"]] == ["succeeded", "not run"]

    assert index(params).returncode == 0
    manifest, run_dir = json.loads(found[0].read_text()), found[0].parent
    assert manifest["status"] == "interrupted"
    assert [e["status"] for e in manifest["notebooks"]] == ["succeeded", "interrupted"]
    assert manifest["notebooks"][0]["html"] == "01_first.html" and (run_dir / "01_first.html").is_file()
    resumed = [*command, "--run-id", run_dir.name, "--stage", "second", "--quiet"]
    done = subprocess.run(resumed, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(found[0].read_text())
    assert manifest["status"] == "succeeded"
    assert [e["status"] for e in manifest["notebooks"]] == ["succeeded", "succeeded"]


def test_a_notebook_whose_ok_line_printed_stays_succeeded_when_the_runner_dies_at_once(tmp_path):
    """Its status is recorded before its ok line prints, its pages after: a runner killed while it renders them
    (as at once here) leaves it succeeded, maybe without its pages, and only the notebook still running interrupted."""
    params = write_params(tmp_path)
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params)]
    command += ["--notebooks-dir", str(NOTEBOOKS / "resumable")]
    env = {**os.environ, "TOY_SLEEP_SECONDS": "60"}
    runner = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = iter(runner.stderr.readline, "")
        printed = next((line for line in lines if "01_first.ipynb ok" in line or "FAILED" in line), "")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        runner.stderr.close()
    assert "01_first.ipynb ok" in printed

    assert index(params).returncode == 0
    (found,) = manifests(tmp_path / "reports")
    manifest = json.loads(found.read_text())
    assert manifest["status"] == "interrupted"
    assert [e["status"] for e in manifest["notebooks"]] == ["succeeded", "interrupted"]
    assert manifest["notebooks"][0]["error"] is None and (found.parent / "01_first.ipynb").is_file()


def test_a_run_folder_without_a_manifest_is_listed_as_interrupted(tmp_path):
    params = write_params(tmp_path)
    (tmp_path / "reports" / DATE / "20240625T000000Z-dead").mkdir(parents=True)
    assert index(params).returncode == 0
    overview = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert "20240625T000000Z-dead" in overview and "interrupted" in overview


def test_a_runner_killed_while_it_waits_for_the_warehouse_leaves_the_day_as_it_was_and_a_rerun_succeeds(tmp_path):
    import duckdb
    from streamkpi import warehouse

    from tools.sample_data import generate

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=500, n_users=100, n_tracks=300, seed=4)
    params = write_params(tmp_path)
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(params), "--quiet"]
    assert subprocess.run(command, cwd=REPO, timeout=300).returncode == 0
    url = f"duckdb:///{tmp_path / 'warehouse' / 'test.duckdb'}"
    before = {table: warehouse.read_table(url, table) for table in ("genre_level_kpis", "hourly_kpis")}

    hold = "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); print(1, flush=True); time.sleep(120)"
    database = str(tmp_path / "warehouse" / "test.duckdb")  # another process holds it: the second run waits
    holder = subprocess.Popen([sys.executable, "-c", hold, database], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "1"
    runner = subprocess.Popen(command, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until its checks (reading the history) or its load say they wait
            logs = (tmp_path / "reports" / DATE).glob("*/logs/0[45]_*.log")
            logs = [p for p in logs if "is held by" in p.read_text()]
            if logs:
                break
            time.sleep(0.2)
        assert logs, "the second run never waited for the warehouse"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        holder.kill()
        holder.wait(timeout=30)
    time.sleep(2)  # the killed runner's kernels notice their parent is gone and exit
    with duckdb.connect(str(tmp_path / "warehouse" / "test.duckdb")):
        pass  # nobody holds the warehouse any more: no kernel of the killed run survived with it open
    for table, frame in before.items():  # the day as the first run left it
        assert warehouse.read_table(url, table).equals(frame)

    assert subprocess.run(command, cwd=REPO, timeout=300).returncode == 0  # a rerun succeeds
    statuses = sorted(json.loads(m.read_text())["status"] for m in manifests(tmp_path / "reports"))
    assert statuses == ["interrupted", "succeeded", "succeeded"]  # the rerun's index settled the dead run
    overview = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert "interrupted" in overview


def test_a_full_disk_fails_the_run_plainly_naming_a_file(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("NOT RUN: mounting a small tmpfs to fill needs root (CI runs the tests as root)")
    from tools.sample_data import generate

    generate(tmp_path / "input", start_date=DATE, days=1, streams_per_day=20000, n_users=2000, n_tracks=5000, seed=4)
    reports = tmp_path / "reports"
    reports.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(reports)], check=True)
    try:
        command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(write_params(tmp_path))]
        run = subprocess.run([*command, "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["umount", str(reports)], check=True)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "No space left on device" in run.stderr and str(reports) in run.stderr
