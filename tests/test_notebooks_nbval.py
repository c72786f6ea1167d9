"""nbval (--nbval-lax) runs the four notebook templates, in order, on a tiny generated input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from papermill.parameterize import parameterize_notebook

from streamkpi.sample_data import generate

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
        notebook = nbformat.read(template, as_version=4)
        declared = {line.split("=")[0].strip() for c in notebook.cells if "parameters" in c.metadata.get("tags", [])
                    for line in c.source.splitlines() if "=" in line}
        nbformat.write(parameterize_notebook(notebook, {k: v for k, v in parameters.items() if k in declared}),
                       copies / template.name)

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(copies), str(copies)],
        cwd=copies, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
    assert (tmp_path / "warehouse.duckdb").is_file()
