"""nbval (--nbval-lax) runs the four notebook templates, in order, on a tiny generated input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from tools.sample_data import generate

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.xdist_group("nbval")
def test_templates_run_under_nbval(tmp_path):
    generate(tmp_path / "input", start_date="2024-06-25", days=1, streams_per_day=400, n_users=60, n_tracks=120, seed=3)
    parameters = {
        "run_date": "2024-06-25",
        "input_uri": str(tmp_path / "input"),
        "staging_dir": str(tmp_path / "staging"),
        "warehouse_url": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "session_gap_minutes": 30,
    }
    copies = tmp_path / "notebooks"
    copies.mkdir()
    for template in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        declared = papermill.inspect_notebook(str(template))
        papermill.execute_notebook(
            str(template),
            str(copies / template.name),
            prepare_only=True,
            parameters={k: v for k, v in parameters.items() if k in declared},
        )

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(copies),
            str(copies),
        ],
        cwd=copies,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
    assert (tmp_path / "warehouse.duckdb").is_file()
