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


def test_a_run_folder_without_a_manifest_is_listed_as_interrupted(tmp_path):
    params = write_params(tmp_path)
    (tmp_path / "reports" / DATE / "20240625T000000Z-dead").mkdir(parents=True)
    assert index(params).returncode == 0
    overview = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert "20240625T000000Z-dead" in overview and "interrupted" in overview
