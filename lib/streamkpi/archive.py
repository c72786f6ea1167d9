"""Archive processed stream files: move them out of ``streams/`` after a successful load.

Optional and **off by default** (params key ``archive_processed_inputs: false``). While inputs
stay where they are they are immutable: rerunning any date reads exactly the files the first run
read (the run manifest lists them with their SHA-256), so a rerun reproduces it, and a fixed rule
or KPI can be replayed over past days. Once a date's files are archived, ingest no longer sees
them and a rerun of that date fails; turn it on only where the input root is a landing zone that
must be emptied, as the original Airflow DAG did.

Only dated folders are archived (``streams/<date>/`` or ``streams/date=<date>/``, the layout of
:mod:`streamkpi.inputs`): the run of date D also reads the folders of D-k..D+k
(k = ``partition_lookaround_days``), so the folder it archives is the one of **D-k**, which no run
of a later date reads (dates run in order: the run of D+1 reads from D+1-k). With k = 0 that is D's
own folder. Files outside dated folders are never moved: every run reads them. Each file moves to
``archived/<same path>`` under the input root, which ingest never reads; an existing file there is
never overwritten.

Local input roots are supported; ``s3://`` input roots slot in behind the same function.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .dates import parse_run_date
from .errors import InputValidationError
from .inputs import DEFAULT_LOOKAROUND_DAYS, STREAMS_DIR, folder_date, not_read_because
from .storage import is_s3

ARCHIVE_DIR = "archived"


def folder_to_archive(run_date: str | dt.date, lookaround_days: int = DEFAULT_LOOKAROUND_DAYS) -> dt.date:
    """The date whose stream folder the run of ``run_date`` archives: the last one no later run reads."""
    return parse_run_date(run_date) - dt.timedelta(days=lookaround_days)


def day_stream_files(
    input_uri: str | Path, run_date: str | dt.date, lookaround_days: int = DEFAULT_LOOKAROUND_DAYS
) -> list[str]:
    """Paths (relative to the input root, ``/``-separated) of the stream files the run of
    ``run_date`` archives: those of the dated folder(s) of :func:`folder_to_archive`."""
    day = folder_to_archive(run_date, lookaround_days)
    if is_s3(input_uri):
        raise NotImplementedError("archiving s3:// input roots is not implemented yet")
    streams = Path(input_uri) / STREAMS_DIR
    if not streams.is_dir():
        raise InputValidationError(f"input root {input_uri} has no {STREAMS_DIR}/ folder")
    return [
        relative
        for folder in sorted(streams.iterdir())
        if folder.is_dir() and folder_date(folder.name) == day
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not_read_because(relative := path.relative_to(input_uri).as_posix()) is None
    ]


def archive_processed_inputs(
    input_uri: str | Path, run_date: str | dt.date, lookaround_days: int = DEFAULT_LOOKAROUND_DAYS
) -> list[dict[str, str]]:
    """Move the stream files of :func:`day_stream_files` to ``archived/`` under the input root.

    Returns ``[{"from": "streams/...", "to": "archived/streams/..."}]`` (paths relative to the
    root), empty when there is nothing to move. Every target is checked before the first move:
    a file already at a target stops it with :class:`InputValidationError` and nothing moves.
    """
    relative = day_stream_files(input_uri, run_date, lookaround_days)
    root = Path(input_uri)
    moves = [(root / path, root / ARCHIVE_DIR / path) for path in relative]
    taken = [target for _, target in moves if target.exists()]
    if taken:
        raise InputValidationError(
            f"cannot archive the stream files of {folder_to_archive(run_date, lookaround_days)}: "
            + ", ".join(t.relative_to(root).as_posix() for t in taken)
            + " already exist(s); archived files are never overwritten"
        )
    done = []
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        done.append({"from": source.relative_to(root).as_posix(), "to": target.relative_to(root).as_posix()})
    return done
