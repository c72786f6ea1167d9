"""One stage at a time in a shared run folder (``--stage``, ``run_stage``), as the Airflow tasks do.

Toy set ``stages``: 01_first writes staging/first.txt; 02_left and 03_right each need only
01_first (02_left fails while staging/fail_left exists); 04_join needs both.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from params_files import write_params

from pipeline import cli, run_pipeline, run_stage
from pipeline.errors import RunFolderError
from pipeline.runfolder import locked
from pipeline.stages import StageError

TOYS = Path(__file__).resolve().parent / "runner_notebooks"
STAGES = TOYS / "stages"
DATE = "2024-06-25"
ALL_FILES = [
    "01_first.code.html",
    "01_first.html",
    "01_first.ipynb",
    "02_left.code.html",
    "02_left.html",
    "02_left.ipynb",
    "03_right.code.html",
    "03_right.html",
    "03_right.ipynb",
    "04_join.code.html",
    "04_join.html",
    "04_join.ipynb",
    "index.html",
    "logs",
    "manifest.json",
    "run.log",
    "staging",
]


def stage(params: Path, name: str, run_id: str | None = "r1", notebooks: Path = STAGES) -> tuple[int, str]:
    """``python -m pipeline run --stage`` in-process: (exit status, stderr)."""
    err = io.StringIO()
    argv = ["run", "--date", DATE, "--params", str(params), "--stage", name, "--notebooks-dir", str(notebooks)]
    if run_id is not None:
        argv += ["--run-id", run_id]
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def stage_process(params: Path, name: str, run_id: str = "r1") -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--date",
            DATE,
            "--params",
            str(params),
            "--stage",
            name,
            "--run-id",
            run_id,
            "--notebooks-dir",
            str(STAGES),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def statuses(run_dir: Path) -> list[str]:
    return [nb["status"] for nb in manifest_of(run_dir)["notebooks"]]


def test_stages_one_by_one_make_the_same_run_folder_as_a_whole_run(tmp_path):
    params = write_params(tmp_path)
    run_dir = tmp_path / "reports" / DATE / "r1"

    code, err = stage(params, "join")
    assert code == 2 and not run_dir.exists()
    assert "cannot run stage join (04_join.ipynb)" in err
    assert "first (01_first.ipynb), left (02_left.ipynb), right (03_right.ipynb)" in err

    code, err = stage(params, "first")
    assert code == 0, err
    assert statuses(run_dir) == ["succeeded", "not run", "not run", "not run"]
    assert manifest_of(run_dir)["status"] == "incomplete"
    assert "incomplete" in (run_dir / "index.html").read_text()
    assert re.search(r"^\[1/4\] 01_first\.ipynb ok \(\d+\.\d s\)$", err, re.M)
    assert "run incomplete (1 of 4 notebooks succeeded)" in err

    code, err = stage(params, "04_join")
    assert code == 2
    assert (
        f"in run folder {run_dir}: it needs left (02_left.ipynb: not run), right (03_right.ipynb: not run)"
        " to have succeeded there first; run them with --run-id r1 --stage NAME"
    ) in err

    # the two branches at the same time, in two processes writing the one manifest
    left, right = stage_process(params, "left"), stage_process(params, "right")
    for process in (left, right):
        assert process.wait(timeout=120) == 0, process.communicate()[1]
    assert statuses(run_dir) == ["succeeded", "succeeded", "succeeded", "not run"]

    code, err = stage(params, "join")
    assert code == 0, err
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "succeeded" and manifest["error"] is None
    assert manifest["run_id"] == "r1" and manifest["run_date"] == DATE
    assert sorted(p.name for p in run_dir.iterdir()) == ALL_FILES
    assert manifest["notebooks"][3]["scraps"] == {"joined": [f"{DATE} left", f"{DATE} right"]}
    assert not any("attempts" in nb for nb in manifest["notebooks"])
    log = (run_dir / "run.log").read_text()
    assert [
        line.split()[2] for line in log.splitlines() if line.startswith("pipeline: stage") and " of run " in line
    ] == ["first", *sorted(["left", "right"], key=lambda n: log.index(f"stage {n} of run")), "join"]

    whole = run_pipeline(DATE, params, notebooks_dir=STAGES, run_id="whole", stream=io.StringIO())
    assert whole.ok and sorted(p.name for p in whole.run_dir.iterdir()) == ALL_FILES
    same_keys = ["name", "status", "ipynb", "html", "parameters", "error", "scraps"]
    assert [{k: nb[k] for k in same_keys if k != "parameters"} for nb in whole.manifest["notebooks"]] == [
        {k: nb[k] for k in same_keys if k != "parameters"} for nb in manifest["notebooks"]
    ]
    assert set(whole.manifest) == set(manifest)
    assert (run_dir / "index.html").read_text().count('href="0') == (whole.run_dir / "index.html").read_text().count(
        'href="0'
    )


def test_a_failed_stage_blocks_what_needs_it_and_its_retry_keeps_the_failed_attempt(tmp_path):
    params = write_params(tmp_path)
    run_dir = tmp_path / "reports" / DATE / "r1"
    assert stage(params, "first")[0] == 0
    (run_dir / "staging" / "fail_left").write_text("")

    code, err = stage(params, "left")
    assert code == 1
    assert "pipeline failed in 02_left.ipynb, cell 4: RuntimeError: left was told to fail" in err
    assert manifest_of(run_dir)["status"] == "failed"
    assert manifest_of(run_dir)["error"]["notebook"] == "02_left.ipynb"
    assert stage(params, "right")[0] == 0  # independent of left
    code, err = stage(params, "join")
    assert (
        code == 2 and "left (02_left.ipynb: failed)" in err and "right" not in err.split("needs")[1].split("to have")[0]
    )

    (run_dir / "staging" / "fail_left").unlink()
    code, err = stage(params, "left")
    assert code == 0, err
    assert "02_left.ipynb ran here before (failed); kept as 02_left.try1.ipynb and 02_left.try1.html" in err
    assert (run_dir / "02_left.try1.ipynb").is_file() and (run_dir / "02_left.try1.html").is_file()
    assert "left was told to fail" in (run_dir / "02_left.try1.html").read_text()
    entry = manifest_of(run_dir)["notebooks"][1]
    assert entry["status"] == "succeeded" and entry["ipynb"] == "02_left.ipynb"
    (attempt,) = entry["attempts"]
    assert (attempt["status"], attempt["ipynb"], attempt["html"]) == (
        "failed",
        "02_left.try1.ipynb",
        "02_left.try1.html",
    )
    assert attempt["html_code"] == "02_left.try1.code.html" and (run_dir / "02_left.try1.code.html").is_file()
    log = (run_dir / "logs" / "02_left.log").read_text()  # one log for every attempt of the stage
    assert "cell 4/5 raised RuntimeError: left was told to fail" in log and log.count(": started") == 2
    assert attempt["error"]["ename"] == "RuntimeError"
    assert manifest_of(run_dir)["status"] == "incomplete" and manifest_of(run_dir)["error"] is None
    index = (run_dir / "index.html").read_text()
    assert "earlier attempts" in index and 'href="02_left.try1.html"' in index

    assert stage(params, "join")[0] == 0
    assert manifest_of(run_dir)["status"] == "succeeded"


def test_a_stage_continues_a_run_folder_made_by_a_whole_run(tmp_path):
    params = write_params(tmp_path)
    whole = run_pipeline(DATE, params, notebooks_dir=STAGES, run_id="made-by-make-run", stream=io.StringIO())
    assert whole.ok
    code, err = stage(params, "join", run_id="made-by-make-run")
    assert code == 0, err
    entry = manifest_of(whole.run_dir)["notebooks"][3]
    assert entry["attempts"][0]["status"] == "succeeded" and entry["attempts"][0]["ipynb"] == "04_join.try1.ipynb"
    assert manifest_of(whole.run_dir)["started"] == whole.manifest["started"]


def test_run_stage_api(tmp_path):
    params = write_params(tmp_path)
    result = run_stage(DATE, params, "01_first.ipynb", notebooks_dir=STAGES, stream=io.StringIO())
    assert result.ok and result.exit_code == 0 and result.stage == "first"
    assert result.status == "incomplete" and [nb.name for nb in result.notebooks] == ["01_first.ipynb"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{4}", result.run_id)  # a new folder by default
    assert result.manifest == manifest_of(result.run_dir)
    with pytest.raises(StageError, match="a new run folder would be empty"):
        run_stage(DATE, params, "left", notebooks_dir=STAGES, stream=io.StringIO())


def test_a_run_folder_is_not_continued_with_other_params(tmp_path):
    params = write_params(tmp_path)
    assert stage(params, "first")[0] == 0
    other = write_params(tmp_path, session_gap_minutes=45)
    code, err = stage(other, "left")
    assert code == 2
    assert "made with other params (different session_gap_minutes)" in err
    assert statuses(tmp_path / "reports" / DATE / "r1") == ["succeeded", "not run", "not run", "not run"]


def test_a_folder_that_is_not_a_run_folder_is_refused(tmp_path):
    params = write_params(tmp_path)
    (tmp_path / "reports" / DATE / "foreign").mkdir(parents=True)
    with pytest.raises(RunFolderError, match="holds no manifest.json"):
        run_stage(DATE, params, "first", run_id="foreign", notebooks_dir=STAGES, stream=io.StringIO())
    assert list((tmp_path / "reports" / DATE / "foreign").iterdir()) == []


def test_unknown_stage_exits_2(tmp_path):
    code, err = stage(write_params(tmp_path), "archive")
    assert code == 2 and "unknown stage 'archive'; stages: first, left, right, join" in err
    assert not (tmp_path / "reports").exists()


def test_sigterm_stops_a_stage_and_records_it(tmp_path):
    params = write_params(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--date",
            DATE,
            "--params",
            str(params),
            "--stage",
            "sleep",
            "--run-id",
            "slow",
            "--notebooks-dir",
            str(TOYS / "slow"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    executed = tmp_path / "reports" / DATE / "slow" / "01_sleep.ipynb"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "time.sleep(60)" not in _started_cells(executed):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    entry = manifest_of(executed.parent)["notebooks"][0]
    assert entry["status"] == "failed" and entry["error"]["ename"] == "KeyboardInterrupt"
    assert manifest_of(executed.parent)["status"] == "failed"


def _started_cells(executed: Path) -> str:
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError):
        return ""
    return "".join("".join(c["source"]) for c in cells if c.get("metadata", {}).get("papermill", {}).get("start_time"))


def _add_many(args) -> None:
    path, times = args
    for _ in range(times):
        with locked(path.parent):
            count = int(path.read_text())
            os.sched_yield()
            path.write_text(str(count + 1))


@pytest.mark.skipif(not hasattr(os, "sched_yield"), reason="POSIX only")
def test_the_run_folder_lock_serialises_read_modify_write(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_add_many, [(counter, 100)] * 4)
    assert counter.read_text() == "400"
