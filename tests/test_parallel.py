"""Notebooks side by side and kernels started ahead of their turn, with real kernels.

Toy set ``parallel``: 01_first; 02_left and 03_right need 01 only; 04_join needs both branches;
05_extra needs 01 only. Files in the input folder tell the branches what to do: ``together``
(each waits until the other has started, so both can succeed only if they ran at the same time),
``fail_left`` (left fails, and right ends only once run.log shows the runner has seen that),
``hold`` (both sleep a minute, to be interrupted). Toy set ``warm``: 01_clean (plain imports),
02_noisy (an import that prints), 03_missing (an import that fails). Toy set ``stopped``: 01_fails fails at
once; 02_never imports a module whose import never ends.

The whole runs go through ``python -m pipeline run`` in a process of their own, with a marker in
its environment that the kernels inherit: after the run no process may carry it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest
import stuck
from jupyter_core.utils import run_sync
from params_files import write_params

from pipeline import cli, run_pipeline
from pipeline.errors import PipelineError
from pipeline.execute import Kernels
from pipeline.progress import NotebookProgress, RunLog
from pipeline.results import FAILED, NOT_RUN, SUCCEEDED
from pipeline.stages import MAX_PARALLEL_ENV
from pipeline.stages import resolve_max_parallel as max_parallel
from pipeline.warmup import Import, cell_imports, notebook_imports, warm_up_code

TOYS = Path(__file__).resolve().parent / "runner_notebooks"
PARALLEL, WARM = TOYS / "parallel", TOYS / "warm"
DATE = "2024-06-25"
MARKER = "PIPELINE_TEST_RUN_MARKER"
LEFT_FAILURE = "pipeline failed in 02_left.ipynb, cell 5: RuntimeError: left was told to fail"

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc to find kernels")


# --------------------------------------------------------------------------- helpers


def toy_input(base: Path, *flags: str) -> Path:
    """A params file for ``base`` whose input folder holds the flag files ``flags``."""
    (base / "input").mkdir(parents=True)
    for flag in flags:
        (base / "input" / flag).write_text("")
    return write_params(base)


def start_run(
    base: Path, *flags: str, args: tuple[str, ...] = (), env: dict | None = None
) -> tuple[subprocess.Popen, str]:
    """``python -m pipeline run`` of the parallel toys in a process of its own: (process, marker)."""
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--date",
            DATE,
            "--params",
            str(toy_input(base, *flags)),
            "--notebooks-dir",
            str(PARALLEL),
            "--run-id",
            "run",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {}), MARKER: marker},
    )
    return process, marker


def finished_run(base: Path, *flags: str, args: tuple[str, ...] = (), env: dict | None = None) -> dict:
    process, marker = start_run(base, *flags, args=args, env=env)
    _, err = process.communicate(timeout=300)
    return outcome(base, process, err, marker)


def outcome(base: Path, process: subprocess.Popen, err: str, marker: str) -> dict:
    run_dir = base / "reports" / DATE / "run"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {
        "returncode": process.returncode,
        "stderr": err,
        "run_dir": run_dir,
        "manifest": manifest,
        "notebooks": {nb["name"].split(".")[0]: nb for nb in manifest["notebooks"]},
        "survivors": processes_with(marker),
    }


def processes_with(marker: str) -> list[str]:
    """Command lines of the processes whose environment carries ``marker`` (the kernels of a run)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"{MARKER}={marker}".encode() in environ.read_bytes().split(b"\0"):
                found.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def interval(entry: dict) -> tuple[datetime, datetime]:
    return moment(entry["started"]), moment(entry["finished"])


def started_cells(executed: Path) -> str:
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError):
        return ""
    return "".join("".join(c["source"]) for c in cells if c.get("metadata", {}).get("papermill", {}).get("start_time"))


# --------------------------------------------------------------------------- side by side


@pytest.fixture(scope="module")
def together_run(tmp_path_factory):
    return finished_run(tmp_path_factory.mktemp("together"), "together", args=("--max-parallel", "2"))


def test_independent_notebooks_run_at_the_same_time(together_run):
    assert together_run["returncode"] == 0, together_run["stderr"]
    nbs = together_run["notebooks"]
    assert [nb["status"] for nb in together_run["manifest"]["notebooks"]] == [SUCCEEDED] * 5
    (left_start, left_end), (right_start, right_end) = interval(nbs["02_left"]), interval(nbs["03_right"])
    assert left_start < right_end and right_start < left_end  # they overlap
    first_end = interval(nbs["01_first"])[1]
    assert first_end <= min(left_start, right_start, interval(nbs["05_extra"])[0])
    assert interval(nbs["04_join"])[0] >= max(left_end, right_end)
    assert nbs["02_left"]["scraps"] == {"parallel_notebooks": 2}  # $PIPELINE_PARALLEL_NOTEBOOKS, read as JSON
    assert nbs["04_join"]["scraps"] == {"joined": ["first left", "first right"]}
    assert together_run["survivors"] == []


def test_lines_and_logs_name_their_notebook(together_run):
    run_dir, printed = together_run["run_dir"], together_run["stderr"]
    assert (run_dir / "run.log").read_text() == printed
    for tag in (
        "[1/5] 01_first.ipynb",
        "[2/5] 02_left.ipynb",
        "[3/5] 03_right.ipynb",
        "[4/5] 04_join.ipynb",
        "[5/5] 05_extra.ipynb",
    ):
        assert f"{tag} ...\n" in printed and f"{tag} ok (" in printed and f"{tag} cell 2/" in printed
    for nb in together_run["manifest"]["notebooks"]:
        log = (run_dir / nb["log"]).read_text()
        assert log.count(": started") == 1 and "ended after" in log
        assert "kernel started ahead of the notebook's turn" in log
        assert (run_dir / nb["html"]).is_file() and (run_dir / nb["html_code"]).is_file()
    assert "02_left.ipynb" in (run_dir / "logs" / "02_left.log").read_text()
    assert "03_right" not in (run_dir / "logs" / "02_left.log").read_text()


def test_max_parallel_1_runs_the_notebooks_one_after_the_other(tmp_path):
    run = finished_run(tmp_path, args=("--max-parallel", "1"))
    assert run["returncode"] == 0, run["stderr"]
    entries = run["manifest"]["notebooks"]
    assert [nb["status"] for nb in entries] == [SUCCEEDED] * 5
    for before, after in zip(entries, entries[1:]):  # notebook order, no overlap
        assert interval(before)[1] <= interval(after)[0], (before["name"], after["name"])
    assert run["notebooks"]["02_left"]["scraps"] == {"parallel_notebooks": 1}
    assert run["survivors"] == []


def test_a_failure_lets_the_running_notebook_finish_and_starts_nothing_new(tmp_path):
    run = finished_run(tmp_path, "together", "fail_left", args=("--max-parallel", "2"))
    assert run["returncode"] == 1
    assert LEFT_FAILURE in run["stderr"]
    assert [nb["status"] for nb in run["manifest"]["notebooks"]] == [SUCCEEDED, FAILED, SUCCEEDED, NOT_RUN, NOT_RUN]
    assert run["manifest"]["error"]["notebook"] == "02_left.ipynb" and run["manifest"]["error"]["cell"] == 5
    assert "[4/5] 04_join.ipynb not run" in run["stderr"] and "[5/5] 05_extra.ipynb not run" in run["stderr"]
    assert not (run["run_dir"] / "logs" / "05_extra.log").exists()  # its kernel waited warm, unused
    assert (run["run_dir"] / "02_left.html").is_file() and (run["run_dir"] / "03_right.html").is_file()
    assert run["survivors"] == []


def test_ctrl_c_kills_every_kernel_and_records_the_interrupted_notebooks(tmp_path):
    process, marker = start_run(tmp_path, "together", "hold", args=("--max-parallel", "2"))
    run_dir = tmp_path / "reports" / DATE / "run"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        "time.sleep(60)" in started_cells(run_dir / name) for name in ("02_left.ipynb", "03_right.ipynb")
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    run = outcome(tmp_path, process, err, marker)
    assert run["returncode"] == 130, err
    assert "pipeline: interrupted" in err
    assert [nb["status"] for nb in run["manifest"]["notebooks"]] == [SUCCEEDED, FAILED, FAILED, NOT_RUN, NOT_RUN]
    for name in ("02_left", "03_right"):
        assert run["notebooks"][name]["error"]["ename"] == "KeyboardInterrupt"
        assert f"{name}.ipynb FAILED (" in err and "): interrupted" in err
    assert run["survivors"] == []


def test_a_kernel_starts_ahead_once_those_it_needs_have_theirs_with_one_kernel_more_than_may_run(tmp_path):
    """05 needs 04, which needs 02 and 03 (as 05_load, 04_checks). With N = 2: while 02 and 03 run, 04's kernel
    waits and 05's does not start (N + 1 kernels alive at most); once 02 has ended, 05's starts while 03 runs, so
    05 does not wait for its kernel once 04 ends."""
    chain = tmp_path / "notebooks"
    shutil.copytree(PARALLEL, chain)
    extra = nbformat.read(chain / "05_extra.ipynb", as_version=4)
    extra.metadata["pipeline"]["depends_on"] = ["04_join"]
    nbformat.write(extra, chain / "05_extra.ipynb")
    left = nbformat.read(chain / "02_left.ipynb", as_version=4)  # 02 holds while input/hold_left exists
    for cell in left.cells:
        cell.source = cell.source.replace("if (control / 'hold').exists():\n    time.sleep(60)", "while (control / "
                                          "'hold_left').exists():\n    time.sleep(0.1)")  # fmt: skip
    nbformat.write(left, chain / "02_left.ipynb")
    assert "hold_left" in "".join(cell.source for cell in left.cells)
    process, marker = start_run(tmp_path, "hold", "hold_left", args=("--notebooks-dir", str(chain)))
    run_dir, held = tmp_path / "reports" / DATE / "run", {"02_left": "hold_left", "03_right": "time.sleep(60)"}
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not all(
            code in started_cells(run_dir / f"{name}.ipynb") for name, code in held.items()
        ):
            time.sleep(0.2)
        time.sleep(3)  # 01's kernel gone; 04's started, and 05's would have
        both_running = [c for c in processes_with(marker) if "ipykernel" in c]
        (tmp_path / "input" / "hold_left").unlink()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (run_dir / "staging" / "left.txt").exists():
            time.sleep(0.2)
        time.sleep(3)  # 02's kernel gone; 05's started
        kernels = [c for c in processes_with(marker) if "ipykernel" in c]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    run = outcome(tmp_path, process, err, marker)
    assert len(both_running) == 3, both_running  # 02's and 03's running, 04's waiting
    assert len(kernels) == 3, kernels  # 03's running, 04's and 05's waiting
    assert [nb["status"] for nb in run["manifest"]["notebooks"]] == [SUCCEEDED, SUCCEEDED, FAILED, NOT_RUN, NOT_RUN]
    assert run["survivors"] == []


def test_a_kernel_that_cannot_start_fails_its_notebook_as_papermill_reports_it(tmp_path):
    """The kernel started ahead fails to start: papermill tries again at the notebook's turn and
    reports why, as it did when it started every kernel itself."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(tmp_path / "no-such-python"), "-f", "{connection_file}"],
                "display_name": "broken",
                "language": "python",
            }
        )
    )
    run = finished_run(tmp_path, args=("--max-parallel", "2"), env={"JUPYTER_PATH": str(tmp_path / "jupyter")})
    assert run["returncode"] == 1
    first = run["notebooks"]["01_first"]
    assert first["status"] == FAILED and first["error"]["ename"] == "FileNotFoundError"
    assert "pipeline failed in 01_first.ipynb: FileNotFoundError" in run["stderr"]
    assert first["ipynb"] == "01_first.ipynb" and first["html"] == "01_first.html"  # saved and rendered
    assert (
        "kernel could not start ahead of the notebook's turn (FileNotFoundError"
        in (run["run_dir"] / "logs" / "01_first.log").read_text()
    )
    assert [nb["status"] for nb in run["manifest"]["notebooks"][1:]] == [NOT_RUN] * 4
    assert run["survivors"] == []


def test_a_stopped_run_kills_the_kernels_warming_up_for_notebooks_that_will_not_run(tmp_path):
    """01 fails while 02's kernel, started ahead, pre-imports a module that never finishes importing: the run ends
    all the same (it used to wait for that warm-up), 02 not run, no kernel left."""
    marker = uuid.uuid4().hex
    command = [sys.executable, "-m", "pipeline", "run", "--date", DATE, "--params", str(toy_input(tmp_path))]
    command += ["--notebooks-dir", str(TOYS / "stopped"), "--run-id", "run"]
    done = stuck.run(command, timeout=120, env={**os.environ, MARKER: marker})
    run = outcome(tmp_path, done, done.stderr, marker)
    assert run["returncode"] == 1 and "RuntimeError: the first notebook fails" in run["stderr"]
    assert [nb["status"] for nb in run["manifest"]["notebooks"]] == [FAILED, NOT_RUN]
    assert run["survivors"] == []


def test_a_killed_kernel_does_not_start_again_by_a_restart(tmp_path):
    """The warm-up restarts a kernel whose imports failed; one killed meanwhile (its notebook will not run) stays
    dead: jupyter_client's restart_kernel does not call start_kernel."""
    kernels = Kernels()
    with (tmp_path / "kernel.log").open("w") as output, kernels.kernel("02_never", os.environ, output) as km:
        run_sync(km.start_kernel)()
        assert run_sync(km.is_alive)()
        kernels.kill(["02_never"])
        with pytest.raises(RuntimeError, match="its notebook will not run"):
            run_sync(km.restart_kernel)(now=True)
        assert not run_sync(km.is_alive)()


def test_kernels_talk_over_socket_files_not_tcp_ports_picked_ahead(tmp_path):
    """A TCP port picked free can be taken (by an S3 client's connection, another run's kernel) before the kernel binds
    it, which then dies before replying to kernel_info: kernels talk over socket files, removed with the kernel."""
    with (tmp_path / "kernel.log").open("w") as output, Kernels().kernel("02_any", os.environ, output) as km:
        run_sync(km.start_kernel)()
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        assert run_sync(kc.execute_interactive)("6 * 7", timeout=60)["content"]["status"] == "ok"
        info, kernel = km.get_connection_info(), psutil.Process(km.provisioner.process.pid)
        sockets = [Path(f"{info['ip']}-{info[channel]}") for channel in ("shell_port", "iopub_port", "stdin_port")]
        sockets += [Path(f"{info['ip']}-{info[channel]}") for channel in ("control_port", "hb_port")]
        assert info["transport"] == "ipc" and all(path.is_socket() for path in sockets)
        listening = [c for c in kernel.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
        assert len(listening) <= 1  # ipykernel's own pipe for subprocess output: bound by it, to a port free then
    assert not any(path.exists() for path in sockets) and not kernel.is_running()
    assert "TCP" not in (tmp_path / "kernel.log").read_text()


# --------------------------------------------------------------------------- warm kernels


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("warm")
    result = run_pipeline(DATE, write_params(base), notebooks_dir=WARM, stream=io.StringIO(), max_parallel=2)
    reference = base / "papermill"
    reference.mkdir()
    for nb in result.notebooks:  # the same notebooks, by papermill alone
        try:
            papermill.execute_notebook(
                str(nb.input_path),
                str(reference / nb.name),
                parameters=nb.parameters,
                kernel_name="python3",
                cwd=str(WARM),
                progress_bar=False,
            )
        except papermill.PapermillExecutionError:
            pass
    return result, reference


def cells_without_timing(path: Path) -> list[dict]:
    """The cells as executed: sources, execution counts and outputs (metadata holds the times)."""
    return [
        {k: v for k, v in cell.items() if k not in ("metadata", "id")}  # papermill draws a new id for the
        for cell in nbformat.read(str(path), as_version=4).cells
    ]  # parameters cell it injects


def test_warm_kernels_leave_the_executed_notebooks_as_papermill_alone_makes_them(warm_run):
    result, reference = warm_run
    assert [nb.status for nb in result.notebooks] == [SUCCEEDED, SUCCEEDED, FAILED]
    for nb in result.notebooks:
        assert cells_without_timing(nb.output_path) == cells_without_timing(reference / nb.name), nb.name
    clean = nbformat.read(str(result.notebooks[0].output_path), as_version=4).cells
    assert [c.execution_count for c in clean if c.cell_type == "code"] == [1, 2, 3, 4, 5]
    assert clean[4].outputs[0].text == '{"run_date": "2024-06-25", "cwd": "warm", "joined": "a/b"}\n'
    noisy = nbformat.read(str(result.notebooks[1].output_path), as_version=4).cells
    assert noisy[4].outputs[0].text == "noisy_module: imported\n"  # printed by its own cell


def test_what_the_warm_up_did_is_in_each_notebook_log(warm_run):
    result, _ = warm_run
    clean, noisy, missing = (nb.log_path.read_text() for nb in result.notebooks)
    assert "kernel started ahead of the notebook's turn, json, os.path, collections, pathlib pre-imported in" in clean
    assert "pre-importing json, noisy_module failed or printed (it showed stream output)" in noisy
    assert (
        "pre-importing json, missing_module_of_the_warm_toy failed or printed (ModuleNotFoundError: "
        "No module named 'missing_module_of_the_warm_toy')"
    ) in missing
    assert "a fresh kernel runs the notebook" in noisy and "a fresh kernel runs the notebook" in missing


def test_a_failing_import_fails_in_its_own_cell(warm_run):
    result, _ = warm_run
    error = result.notebooks[2].error
    assert (error.notebook, error.cell, error.ename) == ("03_missing.ipynb", 4, "ModuleNotFoundError")
    assert error.source == "from missing_module_of_the_warm_toy import anything"
    assert result.error is error


# --------------------------------------------------------------------------- units


def test_imports_are_the_top_level_import_statements():
    source = (
        "%matplotlib inline\n!ls\nimport os, json as j\nimport a.b.c\nfrom x.y import z, w as v\n"
        "from . import rel\nfrom p import *\nif True:\n    import hidden\ndef f():\n    import inner\n"
    )
    assert cell_imports(source) == [
        Import("os"),
        Import("json"),
        Import("a.b.c"),
        Import("x.y", ("z", "w")),
        Import("p", ("*",)),
    ]
    assert cell_imports("%%time\nimport os") == [] and cell_imports("this is not python") == []
    assert notebook_imports(PARALLEL / "01_first.ipynb") == [Import("pathlib", ("Path",))]
    assert notebook_imports(TOYS / "no-such.ipynb") == []


def test_the_warm_up_imports_submodules_and_binds_nothing():
    namespace: dict = {}
    exec(warm_up_code([Import("json"), Import("email", ("mime",)), Import("xml.dom", ("minidom",))]), namespace)
    assert set(namespace) == {"__builtins__"}
    assert "email.mime" in sys.modules and "xml.dom.minidom" in sys.modules
    with pytest.raises(ModuleNotFoundError):
        exec(warm_up_code([Import("json"), Import("no_module_called_this")]), {})


def test_max_parallel_comes_from_the_argument_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv(MAX_PARALLEL_ENV, raising=False)
    assert max_parallel() == 2 and max_parallel(1) == 1
    monkeypatch.setenv(MAX_PARALLEL_ENV, "3")
    assert max_parallel() == 3 and max_parallel(5) == 5
    for bad in ("0", "two", "1.5", "-1"):
        monkeypatch.setenv(MAX_PARALLEL_ENV, bad)
        with pytest.raises(PipelineError, match=MAX_PARALLEL_ENV):
            max_parallel()
    with pytest.raises(PipelineError):
        max_parallel(0)


def test_bad_max_parallel_exits_2(tmp_path, capsys, monkeypatch):
    params = str(write_params(tmp_path))
    for argv in (["--max-parallel", "0"], ["--max-parallel", "x"], ["--max-parallel", "2", "--stage", "first"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["run", "--date", DATE, "--params", params, "--notebooks-dir", str(PARALLEL), *argv])
        assert exit_.value.code == 2
    monkeypatch.setenv(MAX_PARALLEL_ENV, "none")
    assert cli.main(["run", "--date", DATE, "--params", params, "--notebooks-dir", str(PARALLEL)]) == 2
    assert f"{MAX_PARALLEL_ENV} must be a whole number" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def code_cells(count: int):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass") for _ in range(count)])


def test_the_live_line_shows_every_running_notebook_and_keeps_printed_lines_above_it(tmp_path):
    console = io.StringIO()
    log = RunLog(tmp_path / "run.log", console=console, mode="live", append=False)
    with (
        NotebookProgress("[2/4] 02_a.ipynb", tmp_path / "a.log", log) as a,
        NotebookProgress("[3/4] 03_b.ipynb", tmp_path / "b.log", log) as b,
    ):
        a.hooks()["on_notebook_start"](notebook=code_cells(3))
        b.hooks()["on_notebook_start"](notebook=code_cells(5))
        a.hooks()["on_cell_start"](cell=None, cell_index=1)
        b.hooks()["on_cell_start"](cell=None, cell_index=3)
        shown = console.getvalue().split("\r\x1b[2K")[-1]
        assert shown.startswith("[2/4] 02_a.ipynb  cell 2/3  ") and "  |  [3/4] 03_b.ipynb  cell 4/5  " in shown
        log.info("[2/4] 02_a.ipynb ok (1.0 s)")
        after = console.getvalue().rsplit("[2/4] 02_a.ipynb ok (1.0 s)\n", 1)[1]
        assert after.startswith("\r\x1b[2K[2/4] 02_a.ipynb  cell 2/3")  # drawn again below the line
    log.close()
    assert console.getvalue().endswith("\r\x1b[2K")
