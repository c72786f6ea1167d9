"""The workflow around the reports: the top-level index of every run, backfill, quiet mode, and
the generic pieces of the run index (summary scrap, long tables). Runner-only: toy notebooks."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pipeline import cli
from pipeline.backfill import (
    COULD_NOT_START,
    INTERRUPTED,
    NOT_RUN,
    DateOutcome,
    backfill,
    dates_between,
    exit_code,
    summary_table,
)
from pipeline.errors import PipelineError
from pipeline.pages import collect_runs, latest_figures, notebook_title, render_overview
from pipeline.progress import NotebookProgress, RunLog
from pipeline.results import NotebookError, NotebookResult, RunResult
from pipeline.runfolder import write_overview

TOYS = Path(__file__).resolve().parent / "runner_notebooks"


# --------------------------------------------------------------------------- the top-level index


def write_run(reports: Path, date: str, run_id: str, status: str, started: str, *, figures=None, error=None) -> Path:
    run_dir = reports / date / run_id
    run_dir.mkdir(parents=True)
    finished = (datetime.fromisoformat(started) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    (run_dir / "manifest.json").write_text(
        json.dumps(
            {
                "run_date": date,
                "run_id": run_id,
                "status": status,
                "started": started.replace("+00:00", "Z"),
                "finished": finished,
                "duration_seconds": 30.0,
                "error": error,
                "notebooks": [{"name": "01_a.ipynb", "html": "01_a.html", "figures": figures or {}}],
            }
        )
    )
    return run_dir


@pytest.fixture
def reports(tmp_path) -> Path:
    reports = tmp_path / "reports"
    write_run(reports, "2024-06-24", "r1", "succeeded", "2026-11-27T10:00:00+00:00", figures={"trend": "figures/t.png"})
    write_run(
        reports,
        "2024-06-25",
        "r2",
        "failed",
        "2026-11-27T11:00:00+00:00",
        error={"notebook": "01_a.ipynb", "cell": 3, "ename": "ValueError", "evalue": "<bad>"},
    )
    write_run(reports, "2024-06-25", "r3", "succeeded", "2026-11-27T12:00:00+00:00", figures={"trend": "figures/t.png"})
    write_run(reports, "2024-06-23", "r0", "succeeded", "2026-11-27T13:00:00+00:00")  # a late backfill, no figure
    (reports / "bench" / "x").mkdir(parents=True)  # not a date: not a run folder
    (reports / "bench" / "x" / "manifest.json").write_text("{}")
    broken = reports / "2024-06-26" / "r4"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    return reports


def test_runs_newest_date_first_then_newest_run_first(reports):
    runs = collect_runs(reports)
    assert [(r["run_date"], r["run_id"]) for r in runs] == [
        ("2024-06-26", "r4"),
        ("2024-06-25", "r3"),
        ("2024-06-25", "r2"),
        ("2024-06-24", "r1"),
        ("2024-06-23", "r0"),
    ]
    assert runs[0]["status"] == "unreadable" and runs[1]["folder"] == "2024-06-25/r3"


def test_trends_come_from_the_most_recently_finished_successful_run_with_figures(reports):
    source, figures = latest_figures(collect_runs(reports))
    assert source["run_id"] == "r3" and figures == [("trend", "2024-06-25/r3/figures/t.png")]


def test_overview_page(reports):
    html = render_overview(collect_runs(reports), now=datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    assert "4 dates, 5 runs; latest run of each date: 3 succeeded, 1 unreadable" in html
    assert '<img src="2024-06-25/r3/figures/t.png" alt="trend">' in html
    assert html.index(">2024-06-26<") < html.index(">2024-06-25<") < html.index(">2024-06-24<")
    assert html.index('href="2024-06-25/r3/index.html"') < html.index('href="2024-06-25/r2/index.html"')
    assert 'rowspan="2">2024-06-25' in html and 'href="2024-06-24/r1/01_a.html"' in html
    assert "01_a.ipynb, cell 3: ValueError: &lt;bad&gt;" in html and "<bad>" not in html
    assert "bench" not in html


def test_each_run_has_a_badge_of_its_data_checks(tmp_path):
    reports = tmp_path / "reports"
    badges = {  # date: (check statuses, expected badge)
        "2024-06-21": (["pass", "skipped"], "all clear</span>"),
        "2024-06-22": (["skipped", "skipped"], "not judged</span>"),
        "2024-06-23": (["pass", "warn"], "1 warning</span> b"),
        "2024-06-24": (["warn", "warn"], "2 warnings</span> a, b"),
        "2024-06-25": (["fail", "warn"], "failed check</span> a, b"),
    }
    for date, (statuses, _) in badges.items():
        manifest = write_run(reports, date, "r", "succeeded", "2026-11-27T10:00:00+00:00") / "manifest.json"
        checks = [{"check_name": name, "status": s, "message": "m"} for name, s in zip("ab", statuses)]
        manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"checks": checks}))
    html = render_overview(collect_runs(reports))
    for date, (_, badge) in badges.items():
        row = html[html.index(f">{date}<") :]
        assert badge in row[: row.index("</tr>")], date


def test_overview_without_runs(tmp_path):
    page = write_overview(tmp_path / "reports")
    assert "0 dates, 0 runs" in page.read_text() and "No run yet." in page.read_text()


# --------------------------------------------------------------------------- backfill


def test_dates_between():
    assert dates_between("2024-02-28", "2024-03-01") == ["2024-02-28", "2024-02-29", "2024-03-01"]
    assert dates_between("2024-06-25", "2024-06-25") == ["2024-06-25"]
    with pytest.raises(PipelineError, match="before its start"):
        dates_between("2024-06-25", "2024-06-24")


def fake_result(date: str, ok: bool) -> RunResult:
    start = datetime(2026, 11, 27, tzinfo=UTC)
    nb = NotebookResult(
        name="01_a.ipynb",
        input_path=Path("01_a.ipynb"),
        output_path=Path("/r/01_a.ipynb"),
        status="succeeded" if ok else "failed",
    )
    if not ok:
        nb.error = NotebookError("01_a.ipynb", 2, 3, "ValueError", "no valid stream\nLINE 3: details")
    return RunResult(
        run_date=date,
        run_id=f"id-{date}",
        run_dir=Path("/r"),
        status=nb.status,
        started=start,
        finished=start + timedelta(seconds=12),
        notebooks=[nb],
        manifest={},
    )


def test_backfill_goes_on_after_a_failure_and_a_date_that_cannot_start():
    def run(date, **_):  # gate: these runs never ask it
        if date == "2024-06-26":
            raise PipelineError("params file is broken\nmore detail")
        return fake_result(date, ok=date != "2024-06-25")

    printed = io.StringIO()
    outcomes = backfill(["2024-06-24", "2024-06-25", "2024-06-26", "2024-06-27"], run, stream=printed)
    assert [o.status for o in outcomes] == ["succeeded", "failed", COULD_NOT_START, "succeeded"]
    assert outcomes[1].detail == "01_a.ipynb, cell 2: ValueError: no valid stream"
    assert outcomes[2].detail == "params file is broken"
    assert exit_code(outcomes) == 1
    assert printed.getvalue().splitlines()[0] == "backfill: date 1/4: 2024-06-24"
    table = summary_table(outcomes).splitlines()
    assert table[0].split() == ["date", "status", "run", "id", "duration", "failure"]
    assert table[2].startswith("2024-06-25  failed ")
    assert table[2].endswith("01_a.ipynb, cell 2: ValueError: no valid stream")  # its first line
    assert table[1].split()[:4] == ["2024-06-24", "succeeded", "id-2024-06-24", "12.0"]
    assert table[-1] == "4 dates: 2 succeeded, 1 failed, 1 could not start; 36.0 s of runs"


def test_backfill_stops_on_ctrl_c_and_lists_the_dates_not_run():
    def run(date, **_):
        if date == "2024-06-25":
            raise KeyboardInterrupt
        return fake_result(date, ok=True)

    outcomes = backfill(["2024-06-24", "2024-06-25", "2024-06-26"], run, stream=None)
    assert [o.status for o in outcomes] == ["succeeded", INTERRUPTED, NOT_RUN]
    assert exit_code(outcomes) == 130
    assert exit_code([DateOutcome("2024-06-24", "succeeded")]) == 0


def test_make_backfill_quiet_runs_every_date_and_reports_only_the_failure(tmp_path):
    """Three real runs: the middle date fails, the last still runs; quiet prints only the failure
    and the summary; the top-level index lists the three dates."""
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "input_uri": str(tmp_path),
                "reports_dir": str(tmp_path / "reports"),
                "warehouse_url": f"duckdb:///{tmp_path / 'wh.duckdb'}",
            }
        )
    )
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(
            [
                "backfill",
                "--start",
                "2024-06-25",
                "--end",
                "2024-06-27",
                "--params",
                str(params),
                "--notebooks-dir",
                str(TOYS / "backfill"),
                "--quiet",
            ]
        )
    lines = stderr.getvalue().splitlines()
    assert code == 1, lines
    header = next(i for i, line in enumerate(lines) if line.startswith("date "))
    failure, summary = lines[:header], lines[header:]
    assert len(failure) == 3, failure  # the failed notebook, where it failed, the run's last line
    # Each after its run's date, as in every quiet run (backfill --jobs N > 1 runs quiet): dates at once stay apart.
    assert failure[0].startswith("2024-06-26 [1/1] 01_only.ipynb FAILED")
    assert failure[1] == "2024-06-26 pipeline failed in 01_only.ipynb, cell 3: RuntimeError: told to fail on 2024-06-26"
    assert failure[2].startswith("2024-06-26 pipeline: failed in ") and "/2024-06-26/" in failure[2]
    assert [line.split()[:2] for line in summary[1:4]] == [
        ["2024-06-25", "succeeded"],
        ["2024-06-26", "failed"],
        ["2024-06-27", "succeeded"],
    ]
    assert summary[-1].startswith("3 dates: 2 succeeded, 1 failed; ")
    overview = (tmp_path / "reports" / "index.html").read_text()
    assert "3 dates, 3 runs; latest run of each date: 1 failed, 2 succeeded" in overview
    for date in ("2024-06-25", "2024-06-26", "2024-06-27"):
        (run_dir,) = (tmp_path / "reports" / date).iterdir()
        log = (run_dir / "logs" / "01_only.log").read_text()
        assert f"running {date}" in log and "cell 3/3" in log  # what the cell printed, its progress
        assert "cell 1/3 done" in (run_dir / "run.log").read_text()  # quiet on the console, not in run.log


def test_bad_backfill_range_exits_2(tmp_path, capsys):
    assert cli.main(["backfill", "--start", "2024-06-25", "--end", "2024-06-24", "--params", "x.yaml"]) == 2
    assert "before its start" in capsys.readouterr().err


# --------------------------------------------------------------------------- generic run-index pieces


def test_a_text_summary_scrap_leads_the_notebooks_section_as_markdown(render_scraps):
    html = render_scraps({"rows": 3, "summary": "**29,985 valid streams** <script>x</script>\n\nSecond line."})
    assert html.startswith('<div class="summary"><p><strong>29,985 valid streams</strong> &lt;script&gt;')
    assert "<p>Second line.</p>" in html and "<th>rows</th>" in html and "<th>summary</th>" not in html
    assert "<h3>summary</h3>" in render_scraps({"summary": {"a": 1}})  # not text: a scrap like any other


def test_long_tables_are_folded(render_scraps):
    html = render_scraps({"files": [{"path": f"f{i}"} for i in range(11)], "few": [{"path": "a"}]})
    assert html.count("<details>") == 1 and "<summary>11 rows</summary>" in html


def test_page_title_is_the_first_heading():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("intro\n# Genres: what was listened to #"),
    ]
    assert notebook_title(nb) == "Genres: what was listened to"
    assert notebook_title(nbformat.v4.new_notebook()) is None


# --------------------------------------------------------------------------- progress


@pytest.mark.parametrize("mode", ["live", "lines", "quiet"])
def test_progress_of_a_notebook(tmp_path, mode):
    import nbformat

    console = io.StringIO()
    run_log = RunLog(tmp_path / "run.log", console=console, mode=mode, append=False)
    with NotebookProgress("[1/2] 01_a.ipynb", tmp_path / "logs" / "01_a.log", run_log) as progress:
        hooks = progress.hooks()  # called by nbclient as it runs the cells
        hooks["on_notebook_start"](
            notebook=nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell() for _ in "abc"])
        )
        hooks["on_cell_start"](cell=None, cell_index=0)
        progress.write("printed by cell 1, no newline")
        hooks["on_cell_executed"](cell=None, cell_index=0, execute_reply={"content": {"status": "ok"}})
        hooks["on_cell_start"](cell=None, cell_index=1)
        failure = {"content": {"status": "error", "ename": "ValueError", "evalue": "bad"}}
        hooks["on_cell_executed"](cell=None, cell_index=1, execute_reply=failure)
        hooks["on_cell_error"](cell=None, cell_index=1, execute_reply=failure)
    run_log.close()
    said = (tmp_path / "run.log").read_text().splitlines()
    assert [line.split(" in ")[0] for line in said] == [
        "[1/2] 01_a.ipynb cell 1/3 done",
        "[1/2] 01_a.ipynb cell 2/3 FAILED",
    ]
    live = console.getvalue()
    if mode == "live":
        assert "\r\x1b[2K[1/2] 01_a.ipynb  cell 2/3  " in live and live.endswith("\r\x1b[2K")
    else:  # a line per finished cell, but not when quiet
        assert live.splitlines() == (said if mode == "lines" else [])
    log = (tmp_path / "logs" / "01_a.log").read_text().splitlines()
    events = [line.split("] ", 1)[1] if line.startswith("[20") else line for line in log]
    assert events[0] == "[1/2] 01_a.ipynb: started" and events[-1].startswith("[1/2] 01_a.ipynb: ended after ")
    assert events[1:7] == [
        "cell 1/3 started",
        "printed by cell 1, no newline",
        events[3],
        "cell 2/3 started",
        "cell 2/3 raised ValueError: bad",
        events[6],
    ]
    assert events[3].startswith("cell 1/3 done in ") and events[6].startswith("cell 2/3 FAILED in ")
