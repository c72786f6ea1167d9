"""Run the floor (``benchmarks/floor.sql``): both KPI tables of one day, straight from the CSVs.

    python benchmarks/floor.py --input ROOT --date 2024-06-25 --db OUT.duckdb [--gap 30]

Substitutes the parameters into the script, runs it in one DuckDB connection on ``OUT.duckdb``
(replaced if present) and leaves ``main.genre_level_kpis`` and ``main.hourly_kpis`` there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from string import Template

SQL_PATH = Path(__file__).with_name("floor.sql")


def floor_sql(input_root: str | Path, run_date: str, gap_minutes: int = 30) -> str:
    day = dt.date.fromisoformat(run_date)
    root = Path(input_root).resolve().as_posix().replace("'", "''")
    return Template(SQL_PATH.read_text("utf-8")).substitute(
        input_root=root,
        run_date=day.isoformat(),
        next_date=(day + dt.timedelta(days=1)).isoformat(),
        gap_seconds=int(gap_minutes) * 60,
    )


def run_floor(
    input_root: str | Path,
    run_date: str,
    db_path: str | Path | None = None,
    gap_minutes: int = 30,
    *,
    threads: int | None = None,
):
    """Run the script; returns the open connection (``db_path=None``: in memory)."""
    import duckdb

    if db_path is not None:
        db_path = Path(db_path)
        for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
            stale.unlink(missing_ok=True)
    con = duckdb.connect(str(db_path) if db_path is not None else ":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(floor_sql(input_root, run_date, gap_minutes))
    return con


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="input root (songs.csv, users.csv, streams/)")
    ap.add_argument("--date", required=True, help="run date YYYY-MM-DD")
    ap.add_argument("--db", required=True, help="DuckDB file to write the two tables into")
    ap.add_argument("--gap", type=int, default=30, help="session gap in minutes (default 30)")
    a = ap.parse_args(argv)
    con = run_floor(a.input, a.date, a.db, a.gap)
    genres, hours = (
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("genre_level_kpis", "hourly_kpis")
    )
    con.close()
    print(f"floor: {genres} genre rows, {hours} hourly rows -> {a.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
