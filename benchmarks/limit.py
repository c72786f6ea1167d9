"""Run the limit: the typed read of the day's stream files by DuckDB alone, no KPI computed.

    python benchmarks/limit.py --input ROOT

One query reads every stream CSV under ``ROOT/streams/`` (the files the floor reads) with typed
columns (user_id BIGINT, track_id VARCHAR, listen_time TIMESTAMP), skipping the rows that do not
parse, and aggregates all three columns: DuckDB neither parses nor checks a column no aggregate
uses, so a narrower query would skip most of the work (and keep rows whose fields do not parse).
It writes nothing: its time is what reading the streams into these types costs, before any KPI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

STREAMS_QUERY = """
SELECT count(*), count(track_id), max(listen_time), sum(user_id)
FROM read_csv('{streams}/**/*.csv', header = true, union_by_name = true, delim = ',', quote = '"',
              escape = '"', ignore_errors = true,
              types = {{'user_id': 'BIGINT', 'track_id': 'VARCHAR', 'listen_time': 'TIMESTAMP'}})
"""


def read_streams(input_root: str | Path) -> dict:
    """The typed read's aggregates: rows, rows with a track id, latest listen_time, sum of user ids."""
    import duckdb

    streams = (Path(input_root).resolve() / "streams").as_posix().replace("'", "''")
    with duckdb.connect() as con:
        rows, track_ids, latest, user_id_sum = con.execute(STREAMS_QUERY.format(streams=streams)).fetchone()
    return {"rows": rows, "track_ids": track_ids, "latest_listen_time": latest, "user_id_sum": user_id_sum}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="input root (streams/ under it)")
    a = ap.parse_args(argv)
    r = read_streams(a.input)
    print(
        f"limit: {r['rows']:,} stream rows read ({r['track_ids']:,} with a track id, latest listen_time "
        f"{r['latest_listen_time']}, user ids summing to {r['user_id_sum']}) from {a.input}/streams"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
