"""The benchmark's comparators are trustworthy: the floor (benchmarks/floor.sql) and the seed
approach (benchmarks/seed_approach.py) give the independent reference's KPI tables on a small
generated day, and the harness measures, compares and reports what it says it does.

Fast (a few seconds): nothing here runs the project's notebooks; `make bench` does that.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reference_kpis import reference_run  # noqa: E402

from benchmarks import compare  # noqa: E402
from benchmarks.floor import run_floor  # noqa: E402

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

    def measured(wall, rss):
        return {
            "measurement": {
                "exit_code": 0,
                "wall_seconds": wall,
                "cpu_seconds": wall * 1.5,
                "peak_rss_bytes": rss,
                "other_load_cores": 0.1,
            }
        }

    results = {
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
        "sizes": [
            {
                "n": n,
                "label": str(n),
                "input_root": "/x",
                "generator": {"cached": True},
                "contenders": {
                    "project": {**measured(20.0 * k, 2**30 * k), "stages": stages},
                    "seed": measured(90.0 * k, 3 * 2**30 * k),
                    "floor": measured(5.0 * k, 2**29 * k),
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
        ],
    }
    write_reports(results, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    html = (tmp_path / "summary.html").read_text()
    assert "| 1,000,000 | 20.0 s | 90.0 s | 5.0 s | 4.00× | 4.50× |" in md
    assert "PASS (equal)" in md and "FAIL (different)" in md and "x differs" in md
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    json.dumps(results)  # what bench.py writes as results.json
