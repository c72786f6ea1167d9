"""Params files for runner tests: every output of the run lies under one temp folder."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_params(base: Path, **extra) -> Path:
    """A params file whose every output lies under ``base`` (DuckDB warehouse included)."""
    path = base / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "input_uri": str(base / "input"),
                "warehouse_url": f"duckdb:///{base / 'warehouse' / 'test.duckdb'}",
                "reports_dir": str(base / "reports"),
                **extra,
            }
        )
    )
    return path
