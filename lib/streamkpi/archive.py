"""Archive the day's processed stream files: move them out of ``streams/`` after a successful load.

Optional and **off by default** (params key ``archive_processed_inputs: false``). While inputs
stay where they are they are immutable: rerunning any date reads exactly the files the first run
read (the run manifest lists them with their SHA-256), so a rerun reproduces it, and a fixed rule
or KPI can be replayed over past days. Once a date's files are archived, ingest no longer sees
them and a rerun of that date fails with "no valid stream"; turn it on only where the input root
is a landing zone that must be emptied, as the original Airflow DAG did.

The day's stream files are the ``*.csv`` files under ``streams/`` whose path below ``streams/``
contains the run date written ``YYYY-MM-DD`` in a folder or file name, e.g.
``streams/2024-06-25/part-000.csv``, ``streams/dt=2024-06-25/x.csv`` or
``streams/plays-2024-06-25.csv``. Files without the date in their path are never moved (ingest
reads every stream file and keeps the rows of the run date, so a file holding several days must
not be archived after one of them). Each moves to ``archived/<same path>`` under the input root,
which ingest never reads; an existing file there is never overwritten.

Local input roots are supported; ``s3://`` input roots slot in behind the same function.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .errors import InputValidationError

STREAMS_DIR = "streams"
ARCHIVE_DIR = "archived"


def day_stream_files(input_uri: str | Path, run_date: str | dt.date) -> list[str]:
    """Paths (relative to the input root, ``/``-separated) of the run date's stream files."""
    day = _day(run_date)
    if _is_s3(input_uri):
        raise NotImplementedError("archiving s3:// input roots is not implemented yet")
    streams = Path(input_uri) / STREAMS_DIR
    if not streams.is_dir():
        raise InputValidationError(f"input root {input_uri} has no {STREAMS_DIR}/ folder")
    found = []
    for path in sorted(streams.rglob("*.csv")):
        below = path.relative_to(streams)
        if path.is_file() and any(day in part for part in (*below.parts[:-1], below.stem)):
            found.append(path.relative_to(input_uri).as_posix())
    return found


def archive_processed_inputs(input_uri: str | Path, run_date: str | dt.date) -> list[dict[str, str]]:
    """Move the run date's stream files to ``archived/`` under the input root.

    Returns ``[{"from": "streams/...", "to": "archived/streams/..."}]`` (paths relative to the
    root), empty when there is nothing to move. Every target is checked before the first move:
    a file already at a target stops it with :class:`InputValidationError` and nothing moves.
    """
    relative = day_stream_files(input_uri, run_date)
    root = Path(input_uri)
    moves = [(root / path, root / ARCHIVE_DIR / path) for path in relative]
    taken = [target for _, target in moves if target.exists()]
    if taken:
        raise InputValidationError(
            f"cannot archive the stream files of {_day(run_date)}: "
            + ", ".join(t.relative_to(root).as_posix() for t in taken)
            + " already exist(s); archived files are never overwritten"
        )
    done = []
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        done.append({"from": source.relative_to(root).as_posix(), "to": target.relative_to(root).as_posix()})
    return done


def _is_s3(uri: str | Path) -> bool:
    return isinstance(uri, str) and uri.lower().startswith("s3://")


def _day(run_date: str | dt.date) -> str:
    return (run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))).isoformat()
