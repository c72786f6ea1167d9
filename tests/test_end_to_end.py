"""End to end: the pipeline as `make run` runs it, on generated data, in a params-chosen place.

Expected KPI values come from tests/reference_kpis.py, an independent implementation of the spec.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import stuck
import yaml
from reference_kpis import reference_run

from tools.sample_data import generate

REPO = Path(__file__).resolve().parents[1]
DAY, OTHER_DAY = "2024-06-25", "2024-06-24"
NOTEBOOKS = ["01_ingest", "02_genre_kpis", "03_hourly_kpis", "04_checks", "05_load"]

pytestmark = pytest.mark.xdist_group("end_to_end")


def run_pipeline(date: str, params: Path, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "run", "--date", date, "--params", str(params)]
    return stuck.run(command, cwd=cwd, timeout=600)


def warehouse_rows(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM reporting_schema.{table} ORDER BY ALL").fetchall()


def run_folders(reports: Path, date: str) -> list[Path]:
    return sorted(p for p in (reports / date).iterdir() if p.is_dir()) if (reports / date).exists() else []


def repo_outputs() -> set[str]:
    """Files under the repo's own default output places, to prove a custom run wrote none."""
    return {str(p) for d in ("reports", "warehouse", "data") for p in (REPO / d).rglob("*")}


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Generated input, warehouse and reports, all outside the repository."""
    base = tmp_path_factory.mktemp("e2e")
    generate(base / "input", start_date=OTHER_DAY, days=2, streams_per_day=3000, n_users=400, n_tracks=1500, seed=7)
    params = base / "custom.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "input_uri": str(base / "input"),
                "warehouse_url": f"duckdb:///{base / 'wh' / 'kpis.duckdb'}",
                "reports_dir": str(base / "out"),
                "session_gap_minutes": 30,
            }
        )
    )
    before = repo_outputs()
    first = run_pipeline(DAY, params, cwd=base)
    second = run_pipeline(DAY, params, cwd=base)
    return {
        "base": base,
        "params": params,
        "first": first,
        "second": second,
        "repo_before": before,
        "db": base / "wh" / "kpis.duckdb",
        "reports": base / "out",
    }


def test_run_succeeds_and_leaves_the_audit_trail(place):
    assert place["first"].returncode == 0, place["first"].stderr
    run = run_folders(place["reports"], DAY)[0]
    for name in NOTEBOOKS:
        assert (run / f"{name}.ipynb").is_file() and (run / f"{name}.html").is_file()
    index = (run / "index.html").read_text()
    assert "succeeded" in index and all(f"{n}.html" in index for n in NOTEBOOKS)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["run_date"] == DAY
    assert [nb["status"] for nb in manifest["notebooks"]] == ["succeeded"] * 5


def test_manifest_lists_input_files_with_true_checksums(place):
    run = run_folders(place["reports"], DAY)[0]
    manifest = json.loads((run / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["input_files"]}
    on_disk = [p for p in (place["base"] / "input").rglob("*.csv")]
    assert set(listed) == {p.relative_to(place["base"] / "input").as_posix() for p in on_disk}
    for path in on_disk:
        entry = listed[path.relative_to(place["base"] / "input").as_posix()]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_custom_params_read_and_write_only_there(place):
    assert place["db"].is_file()
    assert repo_outputs() == place["repo_before"]
    written = {p.relative_to(place["base"]).parts[0] for p in place["base"].rglob("*")}
    assert written == {"input", "custom.yaml", "wh", "out"}


def test_warehouse_equals_the_independent_reference(place):
    ref = reference_run(place["base"] / "input", DAY, 30)
    genre = warehouse_rows(place["db"], "genre_level_kpis")
    hourly = warehouse_rows(place["db"], "hourly_kpis")
    assert len(genre) == len(ref.genre_rows) and len(hourly) == len(ref.hourly_rows)
    expected_genre = sorted((r["listen_date"], r["track_genre"]) for r in ref.genre_rows)
    assert [(g[0], g[1]) for g in genre] == expected_genre
    by_genre = {r["track_genre"]: r for r in ref.genre_rows}
    for _, genre_name, count, share, duration, track in genre:
        ref_row = by_genre[genre_name]
        assert (count, track) == (ref_row["listen_count"], ref_row["most_popular_track_id"])
        assert math.isclose(share, ref_row["popularity_index"], rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(duration, ref_row["average_duration"], rel_tol=1e-9, abs_tol=1e-9)
    by_hour = {r["listen_hour"]: r for r in ref.hourly_rows}
    for _, hour, listeners, streams, artist, sessions, diversity, age_group in hourly:
        ref_row = by_hour[hour]
        assert (listeners, streams, artist, age_group) == (
            ref_row["unique_listeners"],
            ref_row["listen_counts"],
            ref_row["top_artist"],
            ref_row["most_engaged_age_group"],
        )
        assert math.isclose(sessions, ref_row["avg_sessions_per_user"], rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(diversity, ref_row["diversity_index"], rel_tol=1e-9, abs_tol=1e-9)


def test_rerun_adds_a_run_folder_and_keeps_tables_identical(place):
    assert place["second"].returncode == 0, place["second"].stderr
    assert len(run_folders(place["reports"], DAY)) == 2
    genre = warehouse_rows(place["db"], "genre_level_kpis")
    staged = [
        duckdb.sql(f"SELECT * FROM '{run}/staging/kpis/genre_level_kpis.parquet' ORDER BY ALL").fetchall()
        for run in run_folders(place["reports"], DAY)
    ]
    assert staged[0] == staged[1] == genre  # identical run after run, and no duplicate rows
    keys = [(r[0], r[1]) for r in genre]
    assert len(keys) == len(set(keys))
    first, second = (json.loads((run / "manifest.json").read_text()) for run in run_folders(place["reports"], DAY))
    hours = len([r for r in warehouse_rows(place["db"], "hourly_kpis") if str(r[0]) == DAY])
    days_genres = len([r for r in genre if str(r[0]) == DAY])
    checks = len(first["checks"])  # one row per check in kpi_checks
    assert checks == len(warehouse_rows(place["db"], "kpi_checks")) > 0
    assert first["load_diff"] == {  # the first load of the day added every row, the rerun changed none
        "genre_level_kpis": {"added": days_genres, "removed": 0, "changed": 0, "unchanged": 0, "examples": []},
        "hourly_kpis": {"added": hours, "removed": 0, "changed": 0, "unchanged": 0, "examples": []},
        "kpi_checks": {"added": checks, "removed": 0, "changed": 0, "unchanged": 0, "examples": []},
    }
    assert second["load_diff"] == {
        "genre_level_kpis": {"added": 0, "removed": 0, "changed": 0, "unchanged": days_genres, "examples": []},
        "hourly_kpis": {"added": 0, "removed": 0, "changed": 0, "unchanged": hours, "examples": []},
        "kpi_checks": {"added": 0, "removed": 0, "changed": 0, "unchanged": checks, "examples": []},
    }
    assert "What this load changed" in (run_folders(place["reports"], DAY)[1] / "05_load.html").read_text()


def test_second_date_leaves_the_first_untouched(place):
    before = {t: warehouse_rows(place["db"], t) for t in ("genre_level_kpis", "hourly_kpis")}
    result = run_pipeline(OTHER_DAY, place["params"], cwd=place["base"])
    assert result.returncode == 0, result.stderr
    for table, rows in before.items():
        after = warehouse_rows(place["db"], table)
        assert [r for r in after if str(r[0]) == DAY] == rows
        assert any(str(r[0]) == OTHER_DAY for r in after)


def test_stream_file_without_listen_time_fails_cleanly(place, tmp_path):
    bad_input = tmp_path / "input"
    subprocess.run(["cp", "-r", str(place["base"] / "input"), str(bad_input)], check=True)
    broken = bad_input / "streams" / "broken.csv"
    broken.write_text("user_id,track_id,when\n1,abc,2024-06-25 10:00:00\n")
    params = tmp_path / "bad.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                **yaml.safe_load(place["params"].read_text()),
                "input_uri": str(bad_input),
                "reports_dir": str(tmp_path / "out"),
            }
        )
    )
    before = {t: warehouse_rows(place["db"], t) for t in ("genre_level_kpis", "hourly_kpis")}

    result = run_pipeline(DAY, params, cwd=tmp_path)

    assert result.returncode != 0
    assert "01_ingest" in result.stderr and "cell" in result.stderr
    assert "streams/broken.csv" in result.stderr and "listen_time" in result.stderr
    run = run_folders(tmp_path / "out", DAY)[0]
    assert (run / "01_ingest.ipynb").is_file() and (run / "01_ingest.html").is_file()
    assert "listen_time" in (run / "01_ingest.html").read_text()
    assert "failed" in (run / "index.html").read_text().lower()
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"
    assert not (run / "02_genre_kpis.ipynb").exists()
    assert {t: warehouse_rows(place["db"], t) for t in before} == before


def test_a_day_without_valid_streams_changes_nothing(place, tmp_path):
    params = tmp_path / "p.yaml"
    # a window reaching the input's dated folders (2024-06-24, 25): their files are read, none holds the day
    params.write_text(
        yaml.safe_dump(
            {
                **yaml.safe_load(place["params"].read_text()),
                "reports_dir": str(tmp_path / "out"),
                "partition_lookaround_days": 30,
            }
        )
    )
    before = {t: warehouse_rows(place["db"], t) for t in ("genre_level_kpis", "hourly_kpis")}
    result = run_pipeline("2024-07-15", params, cwd=tmp_path)
    assert result.returncode != 0
    assert "no valid stream for 2024-07-15" in result.stderr
    assert {t: warehouse_rows(place["db"], t) for t in before} == before
