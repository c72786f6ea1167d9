"""DuckDB on this machine: the connections ingest and the KPI queries run in.

Every such connection works in UTC, holds at most :func:`duckdb_memory_limit` and spills the rest
to the staging folder, so a day of any size runs in bounded memory. The notebooks the runner runs
at once share one budget: the runner tells each kernel how many run at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from .sqltext import literal

MEMORY_LIMIT_ENV = "STREAMKPI_DUCKDB_MEMORY_LIMIT"
# Set by the runner for each kernel: how many notebooks run at once.
PARALLEL_NOTEBOOKS_ENV = "PIPELINE_PARALLEL_NOTEBOOKS"
# DuckDB memory of the whole run, shared by the notebooks running at once. With the kernels' own
# memory, the run's process tree then peaked at 2.3-2.6 GiB at 100M streams, 1.9 GiB since duplicates are
# found by a sort (3584 made it 2.53-2.7 GiB and 4096 2.8 GiB, neither faster: 3072 took 92.0 and 86.3 s,
# 3584 87.5 and 88.9 s, alternated in one sitting).
MEMORY_BUDGET_MB = 3072
# Where DuckDB spills, inside the staging folder.
SPILL_DIR = ".spill"
# Group keys of up to this many bits (DuckDB's default: 12) are counted in an array, not a hash table:
# (hour, track_key) fits for a catalog of up to 131,072 tracks, and its count over 100M streams takes
# 1.2 s, not 2.7 s. The array has 2^bits slots per thread, whatever the day's size: at most 4M.
PERFECT_HASH_BITS = 22


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit: ``STREAMKPI_DUCKDB_MEMORY_LIMIT`` (e.g. ``4GB``), by default 3 GB
    divided by the notebooks running at once (``PIPELINE_PARALLEL_NOTEBOOKS``)."""
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or _shared_budget()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*[KMGT]i?B", value, flags=re.IGNORECASE):
        raise ValueError(f"{MEMORY_LIMIT_ENV} must be a size such as 4GB, not {value!r}")
    return value


def _shared_budget() -> str:
    text = os.environ.get(PARALLEL_NOTEBOOKS_ENV, "").strip()
    notebooks = int(text) if text.isdigit() and int(text) > 0 else 1
    return f"{MEMORY_BUDGET_MB // notebooks}MB"


def connect(staging_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC, within :func:`duckdb_memory_limit`, spilling to
    ``<staging_dir>/.spill``."""
    con = duckdb.connect()
    try:
        for statement in (
            "SET TimeZone = 'UTC'",
            f"SET memory_limit = {literal(duckdb_memory_limit())}",
            f"SET temp_directory = {literal(Path(staging_dir) / SPILL_DIR)}",
            f"SET perfect_ht_threshold = {PERFECT_HASH_BITS}",
        ):
            con.execute(statement).fetchall()
    except Exception:
        con.close()
        raise
    return con
