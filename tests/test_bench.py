"""The benchmark's comparators are trustworthy: the floor (benchmarks/floor.sql) and the seed
approach (benchmarks/seed_approach.py) give the independent reference's KPI tables on a small
generated day, the limit (benchmarks/limit.py) reads the rows an independent count says it
must, and the harness measures, compares and reports what it says it does.

Fast (a few seconds): nothing here runs the project's notebooks; `make bench` does that.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reference_kpis import reference_run  # noqa: E402

from benchmarks import compare  # noqa: E402
from benchmarks.floor import run_floor  # noqa: E402
from benchmarks.limit import read_streams  # noqa: E402

RUN_DATE = "2024-06-25"


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory) -> Path:
    """A generated day with every kind of planted dirty row, dual-genre tracks and sessions."""
    from tools.sample_data import generate

    root = tmp_path_factory.mktemp("bench-day")
    generate(
        root, start_date=RUN_DATE, days=1, streams_per_day=3000, n_users=1500, n_tracks=2500, dual_genre_fraction=0.2
    )
    return root


def _reference(root: Path, gap: int) -> dict:
    ref = reference_run(root, RUN_DATE, session_gap_minutes=gap)
    return {
        "genre_level_kpis": compare.rows_of(ref.genre_rows, "genre_level_kpis"),
        "hourly_kpis": compare.rows_of(ref.hourly_rows, "hourly_kpis"),
    }


def _floor_tables(root: Path, gap: int) -> dict:
    con = run_floor(root, RUN_DATE, None, gap)
    out = {}
    for table in compare.KEYS:
        cur = con.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cur.description]
        out[table] = compare.rows_of([dict(zip(names, r)) for r in cur.fetchall()], table)
    con.close()
    return out


def _assert_same(actual: dict, expected: dict, who: str) -> None:
    for table in compare.KEYS:
        assert expected[table], f"the reference has no {table} rows: the test day is empty"
        diffs = compare.differences(table, actual[table], expected[table], (who, "reference"))
        assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize("gap", [30, 7])
def test_floor_equals_the_reference_on_a_generated_day(tiny_day, gap):
    _assert_same(_floor_tables(tiny_day, gap), _reference(tiny_day, gap), "floor")


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_floor_equals_the_reference_on_nasty_inputs(tmp_path, seed):
    from spec_data import write_random_input

    write_random_input(tmp_path, seed, run_date=RUN_DATE)
    _assert_same(_floor_tables(tmp_path, 30), _reference(tmp_path, 30), "floor")


def test_floor_script_runs_as_a_process_into_a_duckdb_file(tiny_day, tmp_path):
    import subprocess

    db = tmp_path / "floor.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "floor.py"),
            "--input",
            str(tiny_day),
            "--date",
            RUN_DATE,
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    tables = {t: compare.read_duckdb(db, t, RUN_DATE) for t in compare.KEYS}
    _assert_same(tables, _reference(tiny_day, 30), "floor")


def test_seed_approach_equals_the_reference_and_loads_row_by_row(tiny_day, tmp_path):
    from benchmarks import seed_approach as seed

    assert seed.validate_datasets(tiny_day)
    db = tmp_path / "seed.sqlite"
    genre = seed.genre_level_kpis(tiny_day, RUN_DATE)
    hourly = seed.hourly_kpis(tiny_day, RUN_DATE, 30)
    assert seed.upsert(db, "genre_level_kpis", genre, RUN_DATE) == len(genre)
    assert seed.upsert(db, "hourly_kpis", hourly, RUN_DATE) == len(hourly)
    seed.upsert(db, "hourly_kpis", hourly, RUN_DATE)  # a rerun replaces the day, no duplicates
    tables = {t: compare.read_sqlite(db, t, RUN_DATE) for t in compare.KEYS}
    _assert_same(tables, _reference(tiny_day, 30), "seed")
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM tmp_hourly_kpis").fetchone()[0] == 0


def test_seed_approach_with_a_short_session_gap(tiny_day):
    from benchmarks import seed_approach as seed

    hourly = compare.rows_of(seed.hourly_kpis(tiny_day, RUN_DATE, 7).to_dict("records"), "hourly_kpis")
    diffs = compare.differences("hourly_kpis", hourly, _reference(tiny_day, 7)["hourly_kpis"], ("seed", "reference"))
    assert not diffs, "\n".join(diffs)


def test_differences_uses_exact_ints_and_strings_and_a_float_tolerance():
    row = {
        "listen_date": "2024-06-25",
        "track_genre": "pop",
        "listen_count": 3,
        "popularity_index": 0.5,
        "average_duration": 200.0,
        "most_popular_track_id": "a",
    }
    base = compare.rows_of([row], "genre_level_kpis")
    assert (
        compare.differences(
            "genre_level_kpis", base, compare.rows_of([{**row, "popularity_index": 0.5 + 1e-12}], "genre_level_kpis")
        )
        == []
    )
    for change in (
        {"popularity_index": 0.5 + 1e-6},
        {"listen_count": 4},
        {"most_popular_track_id": "A"},
        {"track_genre": "Pop"},
    ):
        other = compare.rows_of([{**row, **change}], "genre_level_kpis")
        assert compare.differences("genre_level_kpis", base, other), change
    assert compare.differences("genre_level_kpis", base, [])  # a missing row


def test_limit_reads_every_stream_file_typed_and_skips_the_rows_that_do_not_parse(tmp_path):
    day = tmp_path / "streams" / "2024-06-25"
    (day / "late").mkdir(parents=True)
    (day / "a.csv").write_text(
        "user_id,track_id,listen_time\n"
        "1,t1,2024-06-25 10:00:00\n"
        "2,t2,2024-06-25 23:59:59\n"
        "u3,t3,2024-06-25 11:00:00\n"  # not a number: skipped
        "4,t4,2024-06-25 25:61:00\n"  # not a time: skipped
        "5,,2024-06-25 12:00:00\n"  # no track id: kept
    )
    (day / "late" / "b.csv").write_text(  # a folder deeper, columns in another order
        "listen_time,track_id,user_id\n"
        "2024-06-26 00:30:00,t6,6\n"
        ",t7,7\n"  # no listen_time: kept
        "2024-06-25 09:00:00,t8\n"  # a field short: skipped
    )
    (day / "_SUCCESS").write_text("")
    assert read_streams(tmp_path) == {
        "rows": 5,
        "track_ids": 4,
        "latest_listen_time": dt.datetime(2024, 6, 26, 0, 30),
        "user_id_sum": 1 + 2 + 5 + 6 + 7,
    }


def _rows_a_typed_read_keeps(root: Path) -> tuple[int, int]:
    """(rows kept, all rows) of the stream files, by the csv module: a row is kept when it has as many
    fields as its header, a user_id that is empty or a number and a listen_time that is empty or an ISO
    8601 date and time (an empty field is a NULL, not an error)."""
    kept = total = 0
    for path in sorted((root / "streams").rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            header = next(rows)
            for fields in rows:
                total += 1
                if len(fields) != len(header):
                    continue
                row = dict(zip(header, fields))
                user, time = row["user_id"].strip(), row["listen_time"].strip()
                if (not user or re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", user)) and (not time or _is_datetime(time)):
                    kept += 1
    return kept, total


def _is_datetime(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def test_limit_runs_in_the_bench_and_reads_the_rows_that_parse(tiny_day, tmp_path):
    from benchmarks.bench import Bench, parse_args

    assert "limit" in parse_args([]).contenders
    bench = Bench(parse_args(["--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")]))
    res = bench.run_contender("limit", 3000, tiny_day, tmp_path / "work")
    bench.log_file.close()
    assert res["measurement"]["exit_code"] == 0, res.get("error_tail")
    kept, total = _rows_a_typed_read_keeps(tiny_day)
    assert kept < total  # the generator's unparseable rows were parsed, and skipped
    output = (Path(res["work_dir"]) / "output.log").read_text()
    assert f"limit: {kept:,} stream rows read" in output
    assert bench.checks({"label": "3000", "contenders": {"limit": res}}) == {
        "limit_vs_floor": {"equal": None, "not_compared": "reads only: the limit writes no KPI tables"}
    }


def test_repeated_runs_keep_the_median_run_and_its_folder(tiny_day, tmp_path):
    from benchmarks.bench import Bench, parse_args

    args = ["--repeat", "3", "--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")]
    bench = Bench(parse_args(args))
    res = bench.run_contender("limit", 3000, tiny_day, tmp_path / "work")
    bench.log_file.close()
    assert len(res["walls"]) == 3
    assert res["measurement"]["wall_seconds"] == sorted(res["walls"])[1]
    assert [p.name for p in (tmp_path / "work").iterdir()] == [Path(res["work_dir"]).name]  # the others' removed
    assert (Path(res["work_dir"]) / "output.log").is_file()


def test_measurement_covers_the_whole_process_tree(tmp_path):
    from benchmarks.measure import run_measured

    # the parent starts a child that holds ~150 MB and burns CPU, and waits for it
    child = (
        "import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
        "t = time.process_time()\nwhile time.process_time() - t < 0.4: pass\ntime.sleep(0.3)"
    )
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    m = run_measured([sys.executable, "-c", parent], log_path=tmp_path / "out.log", interval=0.05)
    assert m.exit_code == 0
    assert m.cpu_seconds >= 0.35
    assert m.peak_rss_bytes >= 150 * 2**20
    assert m.peak_processes >= 2
    assert m.wall_seconds >= 0.7
    rss, cpu = m.window(m.started_unix, m.started_unix + m.wall_seconds)  # per-stage figures
    assert rss >= 150 * 2**20 and cpu >= 0.3


def _measured(wall, rss):
    return {
        "measurement": {
            "exit_code": 0,
            "wall_seconds": wall,
            "cpu_seconds": wall * 1.5,
            "peak_rss_bytes": rss,
            "other_load_cores": 0.1,
        }
    }


def _results(sizes: list[dict]) -> dict:
    """A bench's results around hand-made ``sizes``, as bench.py gathers them."""
    return {
        "timestamp": "T",
        "run_date": RUN_DATE,
        "session_gap_minutes": 30,
        "machine": {
            "cpus": 2,
            "memory_gib": 24,
            "platform": "p",
            "python": "3",
            "duckdb": "d",
            "pandas": "p",
            "pyarrow": "a",
            "git_commit": "c",
            "loadavg_start": [1, 1, 1],
        },
        "sizes": [{"label": str(e["n"]), "input_root": "/x", "generator": {"cached": True}, **e} for e in sizes],
    }


def test_stages_and_reports_from_results(tmp_path):
    from benchmarks.bench import Bench
    from benchmarks.report import write_reports

    manifest = {
        "duration_seconds": 10.0,
        "started": "2024-01-01T00:00:00Z",
        "finished": "2024-01-01T00:00:10Z",
        "notebooks": [
            {
                "name": "01_ingest.ipynb",
                "started": "2024-01-01T00:00:00Z",
                "finished": "2024-01-01T00:00:04Z",
                "duration_seconds": 4.0,
            },
            {
                "name": "02_genre_kpis.ipynb",
                "started": "2024-01-01T00:00:05Z",
                "finished": "2024-01-01T00:00:09Z",
                "duration_seconds": 4.0,
            },
        ],
    }
    stages = Bench.stages(manifest, wall=12.0)
    assert stages == {
        "startup_and_exit": 2.0,
        "01_ingest": 4.0,
        "render_01_ingest": 1.0,
        "02_genre_kpis": 4.0,
        "render_02_genre_kpis": 1.0,
    }

    results = _results(
        [
            {
                "n": n,
                "contenders": {
                    "project": {**_measured(20.0 * k, 2**30 * k), "stages": stages},
                    "seed": _measured(90.0 * k, 3 * 2**30 * k),
                    "floor": _measured(5.0 * k, 2**29 * k),
                },
                "checks": {
                    "project_vs_floor": {
                        "equal": k == 1,
                        "differences": ["x differs"],
                        "rows": {"hourly_kpis": [24, 24]},
                    }
                },
            }
            for n, k in ((10**6, 1), (10**7, 8))
        ]
    )
    write_reports(results, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    html = (tmp_path / "summary.html").read_text()
    assert "| 1,000,000 | 20.0 s | 90.0 s | 5.0 s | not run | 4.00× | – | – | 4.50× |" in md
    assert "PASS (equal)" in md and "FAIL (different)" in md and "x differs" in md
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    json.dumps(results)  # what bench.py writes as results.json


def test_report_shows_the_limit_its_ratios_and_that_it_is_not_compared(tmp_path):
    from benchmarks.report import write_reports

    not_compared = {"limit_vs_floor": {"equal": None, "not_compared": "reads only: the limit writes no KPI tables"}}
    results = _results(
        [
            {
                "n": 10**6,
                "contenders": {
                    "project": _measured(9.0, 2**30),
                    "seed": _measured(18.0, 2**31),
                    "floor": _measured(1.8, 2**28),
                    "limit": _measured(0.6, int(0.2 * 2**30)),
                },
                "checks": not_compared,
            },
            {
                "n": 10**7,
                "contenders": {
                    "project": _measured(12.0, 2**31),
                    "floor": _measured(10.0, 2**29),
                    "limit": _measured(4.0, 2**28),
                },
                "checks": not_compared,
            },
            {"n": 10**8, "contenders": {"project": _measured(45.0, 2**31), "floor": _measured(90.0, 2**30)}},
        ]
    )
    write_reports(results, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    html = (tmp_path / "summary.html").read_text()
    assert "| limit wall | project / floor | project / limit | floor / limit | seed / project |" in md
    assert "| 1,000,000 | 9.0 s | 18.0 s | 1.8 s | 0.6 s | 5.00× | 15.00× | 3.00× | 2.00× |" in md
    assert "| 10,000,000 | 12.0 s | not run | 10.0 s | 4.0 s | 1.20× | 3.00× | 2.50× | – |" in md
    assert "| 100,000,000 | 45.0 s | not run | 90.0 s | not run | 0.50× | – | – | – |" in md
    assert "| 13.5 s / 27.0 s / 2.7 s / 0.9 s |" in md  # CPU, project / seed / floor / limit
    assert "| 1.00 GiB / 2.00 GiB / 0.25 GiB / 0.20 GiB |" in md  # peak RSS
    assert "- N=1,000,000: limit: not compared (reads only: the limit writes no KPI tables)" in md
    assert "FAIL" not in md and "Differences" not in md  # not compared is no failure
    assert "<th>limit wall</th>" in html
    assert "<li class='not-compared'>N=10,000,000: limit: not compared" in html
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_report_checks_the_issue_13_targets(tmp_path):
    from benchmarks.report import target_lines, write_reports

    def size(n, project_wall, floor_wall, project_rss=2**30):
        return {
            "n": n,
            "contenders": {"project": _measured(project_wall, project_rss), "floor": _measured(floor_wall, 2**29)},
        }

    results = _results(
        [
            size(10**6, 9.0, 1.8),  # no target at this size
            size(10**7, 12.0, 10.0),  # 1.2 > 1.0
            size(10**8, 45.0, 90.0, 3_200_000_000),  # 0.5 <= 0.6, but 3.2 GB > 3 GB
        ]
    )
    write_reports(results, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    html = (tmp_path / "summary.html").read_text()
    assert "Issue 4" not in md and "Issue 4" not in html
    assert md.split("## Issue 13 targets\n\n")[1].split("\n\n")[0].splitlines() == [
        "- 1,000,000: project / floor 5.00× (no target at this size)",
        "- 10,000,000: project / floor 1.20× (target <= 1.0: not met)",
        "- 100,000,000: project / floor 0.50× (target <= 0.6: met); "
        "project peak RSS 3.20 GB (target <= 3.0 GB: not met)",
    ]
    assert "<h2>Issue 13 targets</h2><ul><li>1,000,000: project / floor 5.00× (no target at this size)</li>" in html

    at_the_targets = _results([size(10**7, 10.0, 10.0), size(10**8, 50.0, 100.0, 2_900_000_000)])
    assert target_lines(at_the_targets) == [
        "10,000,000: project / floor 1.00× (target <= 1.0: met)",
        "100,000,000: project / floor 0.50× (target <= 0.6: met); project peak RSS 2.90 GB (target <= 3.0 GB: met)",
    ]
    failed = size(10**8, 50.0, 9.0)
    failed["contenders"]["project"]["measurement"]["exit_code"] = 1
    assert target_lines(_results([failed])) == [
        "100,000,000: project / floor – (target <= 0.6: not measured); "
        "project peak RSS – (target <= 3.0 GB: not measured)"
    ]
