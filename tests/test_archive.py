"""The optional archive step: the day's stream files move to archived/ after a successful load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from streamkpi.archive import archive_processed_inputs, day_stream_files
from streamkpi.errors import InputValidationError

from pipeline.errors import ParamsError
from pipeline.params import parse_params
from tools.sample_data import generate

DAY = "2024-06-25"


def make_root(base: Path, files: list[str]) -> Path:
    root = base / "input"
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"user_id,track_id,listen_time\n# {relative}\n")
    return root


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


FILES = [
    "songs.csv",
    "users.csv",
    "streams/2024-06-25/part-000.csv",
    "streams/2024-06-25/part-001.csv",
    "streams/2024-06-25/notes.txt",
    "streams/date=2024-06-24/part-000.csv",
    "streams/2024-06-24/extra/part-001.csv",
    "streams/dt=2024-06-24/x.csv",
    "streams/plays-2024-06-24.csv",
    "streams/all-days.csv",
]


def test_with_lookaround_0_the_run_dates_own_folder_moves(tmp_path):
    root = make_root(tmp_path, FILES)
    assert day_stream_files(root, DAY, 0) == ["streams/2024-06-25/part-000.csv", "streams/2024-06-25/part-001.csv"]
    moved = archive_processed_inputs(str(root), DAY, 0)
    assert moved == [
        {"from": f, "to": f"archived/{f}"}
        for f in ("streams/2024-06-25/part-000.csv", "streams/2024-06-25/part-001.csv")
    ]
    assert tree(root) == sorted(
        [f for f in FILES if not f.startswith("streams/2024-06-25/part")]
        + ["archived/streams/2024-06-25/part-000.csv", "archived/streams/2024-06-25/part-001.csv"]
    )
    assert (
        (root / "archived/streams/2024-06-25/part-001.csv").read_text().endswith("# streams/2024-06-25/part-001.csv\n")
    )
    assert archive_processed_inputs(root, DAY, 0) == []  # nothing left to move


def test_with_lookaround_1_the_folder_of_the_day_before_moves(tmp_path):
    # the run of 2024-06-26 still reads 2024-06-25's folder: the run of 2024-06-25 archives 2024-06-24's,
    # in both dated forms; undated folders (dt=...) and files directly under streams/ never move
    root = make_root(tmp_path, FILES)
    expected = ["streams/2024-06-24/extra/part-001.csv", "streams/date=2024-06-24/part-000.csv"]
    assert day_stream_files(root, DAY) == day_stream_files(root, DAY, 1) == expected
    assert [m["from"] for m in archive_processed_inputs(root, DAY)] == expected
    assert sorted(f for f in tree(root) if not f.startswith("archived/")) == sorted(set(FILES) - set(expected))


def test_an_archived_file_is_never_overwritten_and_nothing_moves(tmp_path):
    root = make_root(
        tmp_path, ["streams/2024-06-25/a.csv", "streams/2024-06-25/b.csv", "archived/streams/2024-06-25/b.csv"]
    )
    before = {p: (root / p).read_text() for p in tree(root)}
    with pytest.raises(InputValidationError, match="archived/streams/2024-06-25/b.csv already exist"):
        archive_processed_inputs(root, DAY, 0)
    assert {p: (root / p).read_text() for p in tree(root)} == before


def test_s3_roots_are_not_archived_yet():
    with pytest.raises(NotImplementedError, match="s3://"):
        archive_processed_inputs("s3://bucket/prefix", DAY)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_params_key_is_a_boolean_off_by_default(value):
    base = {"input_uri": "in", "warehouse_url": "duckdb:///w.duckdb", "reports_dir": "r"}
    assert parse_params(base, root=Path("/repo"))["archive_processed_inputs"] is False
    assert (
        parse_params({**base, "archive_processed_inputs": True}, root=Path("/repo"))["archive_processed_inputs"] is True
    )
    with pytest.raises(ParamsError, match="'archive_processed_inputs' must be true or false"):
        parse_params({**base, "archive_processed_inputs": value}, root=Path("/repo"))


def test_a_run_with_archiving_moves_the_days_files_after_the_load(tmp_path):
    generate(tmp_path / "input", start_date="2024-06-24", days=2, streams_per_day=400, n_users=60, n_tracks=120, seed=3)
    params = tmp_path / "archive.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "input_uri": str(tmp_path / "input"),
                "warehouse_url": f"duckdb:///{tmp_path / 'wh.duckdb'}",
                "reports_dir": str(tmp_path / "out"),
                "archive_processed_inputs": True,
            }
        )
    )
    day_files = day_stream_files(tmp_path / "input", DAY)  # 2024-06-24's folder: 2024-06-25 looks back one day
    assert day_files and all(f.startswith("streams/2024-06-24/") for f in day_files)

    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params)],
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stderr
    (folder,) = (tmp_path / "out" / DAY).iterdir()
    load = json.loads((folder / "manifest.json").read_text())["notebooks"][4]
    assert load["parameters"]["archive_processed_inputs"] is True
    assert load["scraps"]["archived_inputs"] == [{"from": f, "to": f"archived/{f}"} for f in day_files]
    assert day_stream_files(tmp_path / "input", DAY) == []
    assert all((tmp_path / "input" / "archived" / f).is_file() for f in day_files)
    assert day_stream_files(tmp_path / "input", DAY, 0)  # the run date's own folder stays
    # why it is off by default: 2024-06-24 can no longer be rerun from its inputs (it reads 2024-06-25's
    # folder, which holds none of its streams)
    rerun = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--date", "2024-06-24", "--params", str(params)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 1 and "no valid stream for 2024-06-24" in rerun.stderr
