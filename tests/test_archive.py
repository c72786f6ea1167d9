"""The optional archive step: the day's stream files move to archived/ after a successful load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.errors import ParamsError
from pipeline.params import parse_params
from streamkpi.archive import archive_processed_inputs, day_stream_files
from streamkpi.errors import InputValidationError
from streamkpi.sample_data import generate

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


def test_only_files_with_the_date_in_their_path_move(tmp_path):
    root = make_root(tmp_path, [
        "songs.csv", "users.csv",
        "streams/2024-06-25/part-000.csv", "streams/2024-06-25/part-001.csv",
        "streams/dt=2024-06-25/x.csv", "streams/plays-2024-06-25.csv",
        "streams/2024-06-24/part-000.csv", "streams/all-days.csv", "streams/2024-06-25/notes.txt",
    ])
    assert day_stream_files(root, DAY) == [
        "streams/2024-06-25/part-000.csv", "streams/2024-06-25/part-001.csv",
        "streams/dt=2024-06-25/x.csv", "streams/plays-2024-06-25.csv",
    ]
    moved = archive_processed_inputs(str(root), DAY)
    assert moved == [{"from": f, "to": f"archived/{f}"} for f in (
        "streams/2024-06-25/part-000.csv", "streams/2024-06-25/part-001.csv",
        "streams/dt=2024-06-25/x.csv", "streams/plays-2024-06-25.csv")]
    assert tree(root) == [
        "archived/streams/2024-06-25/part-000.csv", "archived/streams/2024-06-25/part-001.csv",
        "archived/streams/dt=2024-06-25/x.csv", "archived/streams/plays-2024-06-25.csv",
        "songs.csv", "streams/2024-06-24/part-000.csv", "streams/2024-06-25/notes.txt",
        "streams/all-days.csv", "users.csv",
    ]
    assert (root / "archived/streams/plays-2024-06-25.csv").read_text().endswith("# streams/plays-2024-06-25.csv\n")
    assert archive_processed_inputs(root, DAY) == []  # nothing left to move


def test_an_archived_file_is_never_overwritten_and_nothing_moves(tmp_path):
    root = make_root(tmp_path, ["streams/2024-06-25/a.csv", "streams/2024-06-25/b.csv",
                                "archived/streams/2024-06-25/b.csv"])
    before = {p: (root / p).read_text() for p in tree(root)}
    with pytest.raises(InputValidationError, match="archived/streams/2024-06-25/b.csv already exist"):
        archive_processed_inputs(root, DAY)
    assert {p: (root / p).read_text() for p in tree(root)} == before


def test_s3_roots_are_not_archived_yet():
    with pytest.raises(NotImplementedError, match="s3://"):
        archive_processed_inputs("s3://bucket/prefix", DAY)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_params_key_is_a_boolean_off_by_default(value):
    base = {"input_uri": "in", "warehouse_url": "duckdb:///w.duckdb", "reports_dir": "r"}
    assert parse_params(base, root=Path("/repo"))["archive_processed_inputs"] is False
    assert parse_params({**base, "archive_processed_inputs": True}, root=Path("/repo"))["archive_processed_inputs"] is True
    with pytest.raises(ParamsError, match="'archive_processed_inputs' must be true or false"):
        parse_params({**base, "archive_processed_inputs": value}, root=Path("/repo"))


def test_a_run_with_archiving_moves_the_days_files_after_the_load(tmp_path):
    generate(tmp_path / "input", start_date="2024-06-24", days=2, streams_per_day=400, n_users=60,
             n_tracks=120, seed=3)
    params = tmp_path / "archive.yaml"
    params.write_text(yaml.safe_dump({
        "input_uri": str(tmp_path / "input"), "warehouse_url": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "reports_dir": str(tmp_path / "out"), "archive_processed_inputs": True}))
    day_files = day_stream_files(tmp_path / "input", DAY)
    assert day_files

    run = subprocess.run([sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params)],
                         capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, run.stderr
    (folder,) = (tmp_path / "out" / DAY).iterdir()
    load = json.loads((folder / "manifest.json").read_text())["notebooks"][3]
    assert load["parameters"]["archive_processed_inputs"] is True
    assert load["scraps"]["archived_inputs"] == [{"from": f, "to": f"archived/{f}"} for f in day_files]
    assert day_stream_files(tmp_path / "input", DAY) == []
    assert all((tmp_path / "input" / "archived" / f).is_file() for f in day_files)
    assert day_stream_files(tmp_path / "input", "2024-06-24")  # the other day stays
    # why it is off by default: the date can no longer be rerun from its inputs
    rerun = subprocess.run([sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params)],
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1 and f"no valid stream for {DAY}" in rerun.stderr
