"""The papermill runner on toy notebooks (tests/runner_notebooks/<set>/NN_<name>.ipynb).

Sets: ``ok`` (01 glues scraps and writes into staging_dir, 02 reads it), ``failing`` (02 raises
in ``In [5]``, 03 must not run), ``undeclared`` (02 declares a parameter the run cannot provide),
``slow`` (a cell outlives the timeout), ``tiny`` (one cheap notebook).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import threading
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from params_files import write_params

from pipeline import cli, run_pipeline
from pipeline.errors import NotebookParameterError, RunFolderError
from pipeline.execute import select_parameters
from pipeline.results import NotebookError
from pipeline.runfolder import new_run_id
from pipeline.scraps import to_jsonable
from pipeline.stages import notebook_files

NOTEBOOKS = Path(__file__).resolve().parent / "runner_notebooks"
# A reference that needs the network: src/href/data attributes, CSS url(...) and JS import(...) of
# http(s):// or //host (a markdown link a notebook author wrote would be one too).
EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|data)\s*=\s*["']?\s*|\burl\(\s*["']?|\bimport\(\s*["'])(https?:)?//""", re.IGNORECASE
)
DATE = "2024-06-25"
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")
FAILURE = (
    "pipeline failed in 02_boom.ipynb, cell 5: "
    "InputValidationError: streams/x.csv is missing required column(s): listen_time"
)


def only_run_folder(reports: Path) -> Path:
    (run,) = [p for p in (reports / DATE).iterdir()]
    return run


def external_references(html: str) -> list[str]:
    """What in ``html`` would need a connection (empty: the page renders offline)."""
    return [html[m.start() : m.end() + 40] for m in EXTERNAL_REFERENCE.finditer(html)]


def executed_parameters(path: Path) -> dict:
    return nbformat.read(str(path), as_version=4).metadata.papermill.parameters


# --------------------------------------------------------------------------- shared runs


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory):
    """``shared_run(name, make)``: ``make(folder)`` runs once per test session, even across xdist
    workers (file lock in the session's shared temp folder), and its JSON result is reused.

    Module-scoped fixtures would rerun a pipeline on every worker that gets one of its tests, and
    ``xdist_group`` marks are not honoured with pytest 9.2 + pytest-xdist 3.8 (pytest-xdist#1386).
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): share within this process only
        fcntl = None
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        root = root.parent  # the session's folder, common to all workers

    def get(name, make):
        folder, done = root / f"shared-{name}", root / f"shared-{name}.json"
        with open(root / f"shared-{name}.lock", "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                folder.mkdir(exist_ok=True)
                done.write_text(json.dumps(make(folder)))
        return json.loads(done.read_text())

    return get


def _ok_run(base: Path) -> dict:
    out = io.StringIO()
    result = run_pipeline(DATE, write_params(base), notebooks_dir=NOTEBOOKS / "ok", stream=out)
    return {
        "base": str(base),
        "run_dir": str(result.run_dir),
        "printed": out.getvalue(),
        "exit_code": result.exit_code,
        "same_manifest": result.manifest == read_manifest(result.run_dir),
    }


def _failing_run(base: Path) -> dict:
    """The failing set run through the command line's ``main`` (in-process: no second interpreter)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(
            [
                "run",
                "--date",
                DATE,
                "--params",
                str(write_params(base)),
                "--notebooks-dir",
                str(NOTEBOOKS / "failing"),
                "--run-id",
                "failing-1",
            ]
        )
    return {
        "base": str(base),
        "run_dir": str(base / "reports" / DATE / "failing-1"),
        "returncode": code,
        "stderr": stderr.getvalue(),
    }


def read_manifest(run_dir) -> dict:
    return json.loads((Path(run_dir) / "manifest.json").read_text())


@pytest.fixture
def ok_run(shared_run):
    """The ``ok`` set, run in-process with ``run_pipeline``."""
    run = shared_run("ok", _ok_run)
    run_dir = Path(run["run_dir"])
    return {**run, "base": Path(run["base"]), "run_dir": run_dir, "manifest": read_manifest(run_dir)}


@pytest.fixture
def failing_run(shared_run):
    run = shared_run("failing", _failing_run)
    return {**run, "base": Path(run["base"]), "run_dir": Path(run["run_dir"])}


# --------------------------------------------------------------------------- a succeeding run


def test_run_folder_layout(ok_run):
    manifest, run_dir = ok_run["manifest"], ok_run["run_dir"]
    assert ok_run["exit_code"] == 0 and manifest["status"] == "succeeded"
    assert RUN_ID.fullmatch(manifest["run_id"])
    assert run_dir == ok_run["base"] / "reports" / DATE / manifest["run_id"]
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "01_first.code.html",
        "01_first.html",
        "01_first.ipynb",
        "02_second.code.html",
        "02_second.html",
        "02_second.ipynb",
        "figures",
        "index.html",
        "logs",
        "manifest.json",
        "run.log",
        "staging",
    ]
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == ["01_first.log", "02_second.log"]
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == ["01_first.chart.png"]


def test_notebooks_share_the_staging_dir_and_run_in_the_notebooks_dir(ok_run):
    staging = ok_run["run_dir"] / "staging"
    assert sorted(p.name for p in staging.iterdir()) == ["first.json", "first_cwd.txt"]
    assert json.loads((staging / "first.json").read_text()) == {
        "run_date": DATE,
        "run_id": ok_run["manifest"]["run_id"],
        "input_uri": str(ok_run["base"] / "input"),
    }
    assert (staging / "first_cwd.txt").read_text() == str(NOTEBOOKS / "ok")


def test_each_notebook_gets_only_the_parameters_it_declares(ok_run):
    run_dir, base, manifest = ok_run["run_dir"], ok_run["base"], ok_run["manifest"]
    staging = str(run_dir / "staging")
    assert executed_parameters(run_dir / "01_first.ipynb") == {
        "run_date": DATE,
        "run_id": manifest["run_id"],
        "staging_dir": staging,
        "input_uri": str(base / "input"),
    }
    assert executed_parameters(run_dir / "02_second.ipynb") == {
        "staging_dir": staging,
        "warehouse_url": f"duckdb:///{base / 'warehouse' / 'test.duckdb'}",
        "session_gap_minutes": 30,
    }
    assert [set(nb["parameters"]) for nb in manifest["notebooks"]] == [
        {"run_date", "run_id", "staging_dir", "input_uri"},
        {"staging_dir", "warehouse_url", "session_gap_minutes"},
    ]


def test_manifest(ok_run):
    manifest = ok_run["manifest"]
    assert ok_run["same_manifest"]  # RunResult.manifest is what manifest.json holds
    assert (manifest["run_date"], manifest["status"]) == (DATE, "succeeded")
    assert manifest["run_id"] == ok_run["run_dir"].name
    started = datetime.fromisoformat(manifest["started"])
    finished = datetime.fromisoformat(manifest["finished"])
    assert started.utcoffset().total_seconds() == 0 and started < finished
    assert manifest["duration_seconds"] == pytest.approx((finished - started).total_seconds(), abs=0.01)
    assert manifest["error"] is None
    assert manifest["params"]["reports_dir"] == str(ok_run["base"] / "reports")
    assert manifest["params"]["session_gap_minutes"] == 30
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    assert manifest["git_dirty"] in (None, True, False)
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    assert manifest["packages"]["papermill"] and manifest["packages"]["nbconvert"]

    first, second = manifest["notebooks"]
    assert [first["name"], second["name"]] == ["01_first.ipynb", "02_second.ipynb"]
    for nb in (first, second):
        assert nb["status"] == "succeeded" and nb["error"] is None
        assert nb["duration_seconds"] > 0 and nb["started"] < nb["finished"]
        assert nb["ipynb"] == nb["name"] and nb["html"] == nb["name"].replace(".ipynb", ".html")
        assert nb["html_code"] == nb["name"].replace(".ipynb", ".code.html")
        assert nb["log"] == "logs/" + nb["name"].replace(".ipynb", ".log")
    assert first["figures"] == {"chart": "figures/01_first.chart.png"} and second["figures"] == {}
    assert first["scraps"] == {
        "chart": None,  # a published figure: its image is the file above
        "counts": {"valid": 3, "rejected_bad_time": 1},
        "input_files": [
            {"path": "streams/a.csv", "size": 10, "sha256": "ab" * 32},
            {"path": "songs.csv", "size": 20, "sha256": "cd" * 32},
        ],
        "rows_staged": 3,
        "note": "<b>escaped</b>",
    }
    assert second["scraps"] == {
        "rows_loaded": 3,
        "summary": {"run_date": DATE, "session_gap_minutes": 30, "share": 0.25},
    }
    assert manifest["input_files"] == first["scraps"]["input_files"]


def test_index_shows_run_notebooks_and_scraps(ok_run):
    index = (ok_run["run_dir"] / "index.html").read_text()
    for text in (
        DATE,
        ok_run["manifest"]["run_id"],
        "succeeded",
        'href="01_first.html"',
        'href="01_first.ipynb"',
        'href="02_second.html"',
        'href="02_second.ipynb"',
        "rejected_bad_time",
        "rows_loaded",
        "<th>sha256</th>",
        "ab" * 32,
        "&lt;b&gt;escaped&lt;/b&gt;",
        "session_gap_minutes",
    ):
        assert text in index, text
    assert "<b>escaped</b>" not in index


def test_html_renders_offline(ok_run):
    run_dir = ok_run["run_dir"]
    pages = sorted(run_dir.glob("*.html"))
    assert [p.name for p in pages] == [
        "01_first.code.html",
        "01_first.html",
        "02_second.code.html",
        "02_second.html",
        "index.html",
    ]
    for page in pages:
        html = page.read_text()
        assert external_references(html) == [], page.name
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I), page.name
        assert "<script src" not in html
    first = (run_dir / "01_first.html").read_text()
    assert 'src="data:image/png;base64,' in first  # the PNG output is embedded


def test_each_notebook_has_a_report_without_code_and_a_page_with_it(ok_run):
    run_dir = ok_run["run_dir"]
    report, code = (run_dir / "01_first.html").read_text(), (run_dir / "01_first.code.html").read_text()
    assert "<title>First toy notebook · 2024-06-25</title>" in report
    assert "getcwd" not in report and 'class="jp-InputPrompt' not in report  # no code, no prompts
    assert "getcwd" in code and "In\xa0[1]:" in code
    assert 'Code hidden. <a href="01_first.code.html">Show the code</a>' in report
    assert '<a href="01_first.html">Hide the code</a>' in code
    assert report.count('href="index.html">Run index</a>') == code.count('href="index.html">Run index</a>') == 1
    assert report.count('src="data:image/png;base64,') == code.count('src="data:image/png;base64,') == 2


def test_each_notebook_has_a_log_of_its_cells_and_what_they_printed(ok_run):
    log = (ok_run["run_dir"] / "logs" / "01_first.log").read_text()
    assert re.search(r"^\[\S+Z\] \[1/2\] 01_first\.ipynb: started$", log, re.M)
    assert re.search(r"^\[\S+Z\] cell 2/7 done in \d+\.\d s$", log, re.M)
    assert "Kernel is running" in log or "cell 7/7 done" in log  # the kernel's own output lands here too
    assert re.search(r"ended after \d+\.\d s$", log)


def test_a_published_figure_is_saved_and_shown_in_both_indexes(ok_run):
    run_dir = ok_run["run_dir"]
    assert (run_dir / "figures" / "01_first.chart.png").read_bytes().startswith(b"\x89PNG")
    assert '<img src="figures/01_first.chart.png" alt="chart">' in (run_dir / "index.html").read_text()
    overview = (ok_run["base"] / "reports" / "index.html").read_text()
    assert f'<img src="{DATE}/{run_dir.name}/figures/01_first.chart.png" alt="chart">' in overview
    assert f'href="{DATE}/{run_dir.name}/index.html"' in overview and "1 date, 1 run" in overview
    assert external_references(overview) == []


def test_printed_lines_and_run_log(ok_run):
    printed = ok_run["printed"]
    assert (ok_run["run_dir"] / "run.log").read_text() == printed
    assert re.search(r"^\[1/2\] 01_first\.ipynb \.\.\.$", printed, re.M)
    assert re.search(r"^\[1/2\] 01_first\.ipynb ok \(\d+\.\d s\)$", printed, re.M)
    assert re.search(r"^\[2/2\] 02_second\.ipynb ok \(\d+\.\d s\)$", printed, re.M)
    # not a terminal: a line per finished cell, the cell numbered as its In [N]
    assert re.search(r"^\[1/2\] 01_first\.ipynb cell 7/7 done in \d+\.\d s \(\d+\.\d s so far\)$", printed, re.M)
    assert "index.html" in printed.splitlines()[-1]


# --------------------------------------------------------------------------- a failing run


def test_failure_exits_1_naming_notebook_and_cell(failing_run):
    stderr = failing_run["stderr"]
    assert failing_run["returncode"] == 1, stderr
    assert FAILURE in stderr
    assert re.search(r"^\[2/3\] 02_boom\.ipynb FAILED \(\d+\.\d s\)$", stderr, re.M)
    assert re.search(r"^\[3/3\] 03_after\.ipynb not run$", stderr, re.M)
    log = (failing_run["run_dir"] / "run.log").read_text()
    assert FAILURE in log and "03_after.ipynb not run" in log


def test_failed_notebook_is_saved_and_rendered_and_later_ones_not_run(failing_run):
    run_dir = failing_run["run_dir"]
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "01_first.code.html",
        "01_first.html",
        "01_first.ipynb",
        "02_boom.code.html",
        "02_boom.html",
        "02_boom.ipynb",
        "index.html",
        "logs",
        "manifest.json",
        "run.log",
        "staging",
    ]
    html = (run_dir / "02_boom.html").read_text()
    assert "InputValidationError" in html and "listen_time" in html
    assert external_references(html) == []


def test_cell_number_is_the_execution_count_shown_in_the_executed_notebook(failing_run):
    nb = nbformat.read(str(failing_run["run_dir"] / "02_boom.ipynb"), as_version=4)
    (failed,) = [c for c in nb.cells if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert failed.execution_count == 5 and "raise InputValidationError" in failed.source


def test_manifest_of_a_failed_run(failing_run):
    manifest = json.loads((failing_run["run_dir"] / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["run_id"] == "failing-1"
    assert [nb["status"] for nb in manifest["notebooks"]] == ["succeeded", "failed", "not run"]
    error = manifest["notebooks"][1]["error"]
    assert {k: error[k] for k in ("notebook", "cell", "ename", "evalue")} == {
        "notebook": "02_boom.ipynb",
        "cell": 5,
        "ename": "InputValidationError",
        "evalue": "streams/x.csv is missing required column(s): listen_time",
    }
    assert manifest["error"]["notebook"] == "02_boom.ipynb" and manifest["error"]["cell"] == 5
    assert manifest["notebooks"][1]["scraps"] == {"before_failure": 1}  # glued before the failure
    not_run = manifest["notebooks"][2]
    assert not_run["ipynb"] is None and not_run["html"] is None and not_run["started"] is None
    assert manifest["input_files"] == manifest["notebooks"][0]["scraps"]["input_files"]


def test_index_shows_the_failure(failing_run):
    index = (failing_run["run_dir"] / "index.html").read_text()
    assert "failed" in index and "not run" in index
    failure = index[index.index('class="failure"') :]
    for text in (
        "02_boom.ipynb",
        "cell 5",
        "InputValidationError",
        "streams/x.csv is missing required column(s): listen_time",
        'href="02_boom.code.html#papermill-error-cell"',
    ):
        assert text in failure, text
    assert external_references(index) == []


# --------------------------------------------------------------------------- before anything runs


def test_undeclared_parameter_fails_before_running_anything(tmp_path):
    with pytest.raises(NotebookParameterError) as info:
        run_pipeline(DATE, write_params(tmp_path), notebooks_dir=NOTEBOOKS / "undeclared", stream=io.StringIO())
    assert "02_needs_more.ipynb declares parameter 'spotify_token'" in str(info.value)
    assert not (tmp_path / "reports").exists()


def test_undeclared_parameter_exits_2(tmp_path, capsys):
    code = cli.main(
        [
            "run",
            "--date",
            DATE,
            "--params",
            str(write_params(tmp_path)),
            "--notebooks-dir",
            str(NOTEBOOKS / "undeclared"),
        ]
    )
    assert code == 2
    assert "spotify_token" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_select_parameters_keeps_the_notebook_order():
    plan = select_parameters(
        notebook_files(NOTEBOOKS / "ok"),
        ["staging_dir", "run_id", "run_date", "input_uri", "warehouse_url", "session_gap_minutes"],
    )
    assert list(plan.values()) == [
        ["run_date", "run_id", "staging_dir", "input_uri"],
        ["staging_dir", "warehouse_url", "session_gap_minutes"],
    ]


def test_existing_run_folder_is_never_overwritten(tmp_path):
    existing = tmp_path / "reports" / DATE / "taken"
    existing.mkdir(parents=True)
    (existing / "manifest.json").write_text("earlier run")
    with pytest.raises(RunFolderError, match="already exists"):
        run_pipeline(
            DATE, write_params(tmp_path), notebooks_dir=NOTEBOOKS / "tiny", run_id="taken", stream=io.StringIO()
        )
    assert [p.name for p in existing.iterdir()] == ["manifest.json"]
    assert (existing / "manifest.json").read_text() == "earlier run"


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "", ".hidden", "x" * 200])
def test_unsafe_run_id_is_refused(tmp_path, run_id):
    with pytest.raises(RunFolderError, match="invalid run id"):
        run_pipeline(
            DATE, write_params(tmp_path), notebooks_dir=NOTEBOOKS / "tiny", run_id=run_id, stream=io.StringIO()
        )
    assert not (tmp_path / "reports").exists()


def test_discovery_takes_only_numbered_notebooks_in_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "10_c.ipynb", "1_x.ipynb", "readme.ipynb", "03_d.py", "ab_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in notebook_files(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]


def test_run_ids_sort_by_time_and_differ():
    earlier = new_run_id(datetime(2026, 11, 27, 19, 35, 1).astimezone())
    ids = {new_run_id() for _ in range(50)}
    assert RUN_ID.fullmatch(earlier) and len(ids) > 1 and all(earlier < i for i in ids)


# --------------------------------------------------------------------------- more runs


def test_second_run_creates_a_second_folder(tmp_path):
    params = write_params(tmp_path)
    first = run_pipeline(DATE, params, notebooks_dir=NOTEBOOKS / "tiny", stream=io.StringIO())
    first_manifest = (first.run_dir / "manifest.json").read_text()
    second = run_pipeline(DATE, params, notebooks_dir=NOTEBOOKS / "tiny", stream=io.StringIO())
    assert first.ok and second.ok and first.run_id != second.run_id
    assert sorted(p.name for p in (tmp_path / "reports" / DATE).iterdir()) == sorted([first.run_id, second.run_id])
    assert (first.run_dir / "manifest.json").read_text() == first_manifest
    assert second.manifest["input_files"] is None  # nothing glued input_files


def test_no_kernel_client_outlives_its_notebook(tmp_path):
    # A client left running pings its kernel's heartbeat port after the kernel is gone; in a backfill a later kernel
    # can get that port for its control or shell socket and print "DELIM not in msg_list" into a notebook.
    from jupyter_client.channels import HBChannel

    def heartbeats() -> set:
        return {t for t in threading.enumerate() if isinstance(t, HBChannel) and t.is_alive()}

    before = heartbeats()
    assert run_pipeline(DATE, write_params(tmp_path), notebooks_dir=NOTEBOOKS / "tiny", stream=io.StringIO()).ok
    assert heartbeats() - before == set()


def test_cell_timeout_fails_the_run(tmp_path):
    result = run_pipeline(
        DATE, write_params(tmp_path, notebook_timeout_seconds=1), notebooks_dir=NOTEBOOKS / "slow", stream=io.StringIO()
    )
    assert result.status == "failed" and result.exit_code == 1
    error = result.error
    assert (error.notebook, error.ename, error.cell) == ("01_sleep.ipynb", "CellTimeoutError", 4)
    assert "timed out" in error.evalue and error.source == "time.sleep(60)"
    assert (result.run_dir / "01_sleep.ipynb").is_file() and (result.run_dir / "01_sleep.html").is_file()


# --------------------------------------------------------------------------- units


def test_scraps_are_rendered_generically(render_scraps):
    html = render_scraps(
        {
            "rows": 1234,
            "share": 0.25,
            "name": "<i>x</i>",
            "counts": {"a": 1, "b": 2},
            "files": [{"path": "p", "size": 1}, {"path": "q", "sha256": "z"}],
            "tags": ["x", "y"],
            "nested": [[1, 2], {"k": 1}],
        }
    )
    assert '<th>rows</th><td class="num">1,234</td>' in html
    assert '<th>share</th><td class="num">0.25</td>' in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and "<i>x</i>" not in html
    assert '<th>a</th><td class="num">1</td>' in html
    assert "<tr><th>path</th><th>size</th><th>sha256</th></tr>" in html
    assert "x, y" in html and "<pre>" in html


def test_to_jsonable_handles_numpy_pandas_and_nan():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    value = {
        "i": np.int64(3),
        "f": np.float64(0.5),
        "nan": float("nan"),
        "arr": np.array([1, 2]),
        "df": pd.DataFrame({"a": [1, 2]}),
        "ts": pd.Timestamp("2024-06-25 10:00"),
        1: (1, 2),
    }
    assert to_jsonable(value) == {
        "i": 3,
        "f": 0.5,
        "nan": None,
        "arr": [1, 2],
        "df": [{"a": 1}, {"a": 2}],
        "ts": "2024-06-25T10:00:00",
        "1": [1, 2],
    }
    json.dumps(to_jsonable(value), allow_nan=False)


def test_error_description():
    error = NotebookError("01_ingest.ipynb", 5, 6, "InputValidationError", "streams/x.csv is missing")
    assert error.describe() == "01_ingest.ipynb, cell 5: InputValidationError: streams/x.csv is missing"
    assert NotebookError("01_x.ipynb", None, None, "NoSuchKernel", "").describe() == "01_x.ipynb: NoSuchKernel"


@pytest.mark.filterwarnings("ignore:No kernel detected")
def test_toy_glue_writes_what_scrapbook_glue_writes(monkeypatch):
    """The toy notebooks glue without importing scrapbook (3 s a kernel); same output as sb.glue."""
    scrapbook = pytest.importorskip("scrapbook")
    import IPython.display

    calls = []
    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: calls.append((args, kwargs)))
    value = {"valid": 3, "files": [{"path": "a.csv", "size": 1}]}
    scrapbook.glue("counts", value)
    nb = nbformat.read(str(NOTEBOOKS / "ok" / "01_first.ipynb"), as_version=4)
    namespace: dict = {}
    exec(next(c.source for c in nb.cells if "def glue" in c.source), namespace)
    namespace["glue"]("counts", value)
    assert len(calls) == 2 and calls[0] == calls[1]
