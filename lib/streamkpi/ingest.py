"""Ingest: validate the input root, apply the cleaning rules, stage the day as typed Parquet.

Staged files (the contract with the KPI and load steps), all under ``staging_dir``:

- ``streams.parquet``: the valid streams of the run date (user_id, track_key, listen_time UTC);
- ``tracks.parquet``: the cleaned catalog, one row per track (its first valid row), numbered by
  ``track_key`` (1, 2, ... in track_id byte order), ``duration_ms`` as an exact DECIMAL(38, 3) so
  every engine sums the same numbers;
- ``track_artists.parquet``: one row per (track_key, credited artist);
- ``users.parquet``: one row per user, ``user_age`` NULL when unknown;
- ``rejects/streams.csv`` and ``rejects/songs.csv``: every rejected row, raw, with reason and rule;
- ``counts.json``: the rows read, kept and rejected, and the valid streams' distinct users
  (:attr:`IngestSummary.counts`), for the checks.

The cleaning runs as DuckDB SQL over the CSV files, so a day of any size streams through it;
the statements are in ``sql/ingest_*.sql``, this module runs them in order with the rules' values.
The input root may be a local folder or ``s3://bucket/prefix``; when the staging folder has an S3
mirror (:func:`streamkpi.storage.attach_mirror`), the staged files are uploaded to it as well.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd

from . import localdb, storage
from .dates import parse_run_date
from .errors import NoValidStreamsError, StagedFilesError
from .inputs import (
    InputFile,
    InputFiles,
    ReadFindings,
    StreamSelection,
    check_required_columns,
    describe_files,
    locate_inputs,
    read_text_columns,
)
from .sqltext import literal, load_sql

# listen_time forms accepted: date, space or T, time, optional fraction, optional offset.
LISTEN_TIME_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?"
)
INTEGER_PATTERN = r"[+-]?[0-9]+"
# An age: digits, optionally followed by ".0...", as pandas exports whole numbers (30.0).
AGE_PATTERN = r"[0-9]+(\.0+)?"
MIN_AGE, MAX_AGE = 13, 120
# Durations are summed as exact decimals with 3 places (to the microsecond), so they must fit that.
MIN_DURATION_MS, MAX_DURATION_MS = 0.001, 1e20
MAX_TEXT_BYTES = 65535  # the widest text a Redshift column holds (VARCHAR(65535), in bytes): longer is a bad song
# What surrounds a field and is ignored (clean_text in sql/ingest_clean_text.sql).
WHITESPACE = " \t\n\r\v\f"
# A stream row's place in file order as one integer: file_no * ROW_ID_FACTOR + row_number.
ROW_ID_FACTOR = 1 << 40
# Stream files read at once (CSV parsing in Arrow threads, next to DuckDB's own).
READER_THREADS = 2
# The stream rows' Parquet (streams.parquet, the spill files) without dictionaries, in plain pages: of their columns
# only listen_time got one, for no smaller file, and trying cost DuckDB's writer 40 % of its time. The catalog's
# files keep theirs (genres and artists repeat).
NO_DICTIONARY = "DICTIONARY_SIZE_LIMIT 1"
# Stream file bytes per duplicate-detection bucket: about 18M rows, whose aggregate fits in memory.
BUCKET_BYTES = 1 << 30

STREAM_REJECT_REASONS = ("bad_stream", "duplicate_stream", "unknown_track")
# The streams' counts, in the order of sql/ingest_streams.sql's counts statement.
STREAM_COUNTS = (
    *("rows_read", "other_date", "bad_stream", "duplicate_stream", "unknown_track", "valid_streams"),
    *("unknown_user_streams", "unique_listeners"),
)
# What counts.json holds (IngestSummary.counts): the catalog's, the users' and the streams'.
COUNT_NAMES = (
    *("bad_song", "duplicate_track_rows", "tracks"),
    *("bad_user_rows", "duplicate_user_rows", "users", "unknown_age_users"),
    *STREAM_COUNTS,
)
# Everything ingest writes into the staging folder (relative paths).
STAGED_FILES = (
    "streams.parquet",
    "tracks.parquet",
    "track_artists.parquet",
    "users.parquet",
    "rejects/streams.csv",
    "rejects/songs.csv",
    "counts.json",
)


@dataclass
class IngestSummary:
    """What ingest read, kept and rejected for one run date."""

    run_date: dt.date
    staging_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    # path (relative to the input root), size and SHA-256 of every input file, computed while reading
    input_files: list[dict] = field(default_factory=list)
    # the files under streams/ that were not read, each with why (path, reason); the stream files of 0 bytes
    ignored_files: list[dict] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    # the stream files read and the dated folders skipped (inputs.StreamSelection)
    stream_selection: StreamSelection | None = None

    @property
    def rejects(self) -> dict[str, int]:
        """Rejected rows per reason (streams and catalog)."""
        return {r: self.counts[r] for r in ("bad_song", *STREAM_REJECT_REASONS)}


def stage_day(
    input_uri: str | Path,
    run_date: str | dt.date,
    staging_dir: str | Path,
    *,
    s3_endpoint_url: str | None = None,
    partition_lookaround_days: int = 1,
) -> IngestSummary:
    """Validate and clean the input root for ``run_date`` and write the staged files.

    ``input_uri`` is a local folder or ``s3://bucket/prefix`` (``s3_endpoint_url`` for an
    S3-compatible store). When ``staging_dir`` has an S3 mirror, the staged files go there too.
    Dated stream folders outside ``run_date`` ± ``partition_lookaround_days`` are not read
    (:func:`streamkpi.inputs.locate_inputs`).
    """
    run_date = parse_run_date(run_date)
    staging_dir = Path(staging_dir)
    inputs = locate_inputs(input_uri, s3_endpoint_url, run_date=run_date, lookaround_days=partition_lookaround_days)
    check_required_columns(inputs)
    (staging_dir / "rejects").mkdir(parents=True, exist_ok=True)

    con = _connect(staging_dir)
    try:
        # The catalog and the users side by side, each mostly one thread: the fixed part of every day's ingest.
        with con.cursor() as users_con, ThreadPoolExecutor(1, "ingest-users") as pool:
            users = pool.submit(_stage_users, users_con, inputs, staging_dir)
            counts = _stage_catalog(con, inputs, staging_dir)
            counts.update(users.result())
        counts.update(_stage_streams(con, inputs, run_date, staging_dir))
    finally:
        con.close()
        shutil.rmtree(_parsed_folder(staging_dir), ignore_errors=True)  # a large day's parsed rows, if any
    if counts["valid_streams"] == 0:
        raise NoValidStreamsError(
            f"no valid stream for {run_date} in {inputs.root}: {counts['rows_read']} stream rows read, "
            f"{counts['other_date']} of other dates, {counts['bad_stream']} bad, "
            f"{counts['unknown_track']} of unknown tracks; nothing is loaded"
        )
    (staging_dir / "counts.json").write_text(json.dumps(counts, indent=1), encoding="utf-8")
    storage.publish(staging_dir, [staging_dir / name for name in STAGED_FILES])
    return IngestSummary(
        run_date=run_date,
        staging_dir=staging_dir,
        counts=counts,
        input_files=describe_files(inputs),
        ignored_files=[{"path": path, "reason": why} for path, why in inputs.ignored],
        empty_files=inputs.empty_streams,
        stream_selection=inputs.selection,
    )


def read_counts(staging_dir: str | Path) -> dict[str, int]:
    """The counts ingest staged (``counts.json``): what it read, kept and rejected, and the day's listeners;
    :class:`StagedFilesError` if one of :data:`COUNT_NAMES` is missing (staged by an older ingest)."""
    path = Path(staging_dir) / "counts.json"
    counts = json.loads(path.read_text(encoding="utf-8"))
    if missing := [name for name in COUNT_NAMES if name not in counts]:
        rerun = "rerun the date, or this run's ingest (--stage ingest with its --run-id) and the stages after it"
        raise StagedFilesError(f"{path} has no {', '.join(missing)}: an older version of ingest staged it; {rerun}")
    return counts


def reject_examples(staging_dir: str | Path, per_reason: int = 3) -> pd.DataFrame:
    """A few rejected rows of each reason, streams and catalog, for the report."""
    frames = []
    for kind in ("songs", "streams"):
        rejects = pd.read_csv(Path(staging_dir) / "rejects" / f"{kind}.csv", dtype=str, keep_default_na=False)
        frames.append(rejects.groupby("reason", sort=True).head(per_reason).assign(file_kind=kind))
    return pd.concat(frames, ignore_index=True)


def _connect(staging_dir: Path) -> duckdb.DuckDBPyConnection:
    con = localdb.connect(staging_dir)
    # The order of rows inside a table never matters here (every output that needs an order sorts).
    _run(con, "SET preserve_insertion_order = false")
    _run(con, load_sql("ingest_clean_text", whitespace=WHITESPACE))
    return con


def _register_text(
    con, name: str, inputs: InputFiles, files: list[InputFile], columns: tuple[str, ...]
) -> ReadFindings:
    """Materialise the text columns of ``files`` as table ``name``; returns what the reading found."""
    findings = ReadFindings()
    con.register(f"{name}_reader", read_text_columns(files, columns, findings, inputs))
    _run(con, f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_reader")
    con.unregister(f"{name}_reader")
    return findings


def _stage_catalog(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    findings = _register_text(
        con, "songs_text", inputs, [inputs.songs], ("track_id", "artists", "track_genre", "duration_ms")
    )
    sql = partial(load_sql, "ingest_catalog")
    limits = {"min_duration_ms": MIN_DURATION_MS, "max_duration_ms": MAX_DURATION_MS, "max_text_bytes": MAX_TEXT_BYTES}
    _run(con, sql("songs_checked", **limits))
    _run(con, sql("first_rows"))
    _run(con, sql("tracks"))
    _run(con, sql("drop_first_rows"))
    _run(con, sql("track_artists"))
    _copy(con, sql("tracks_file"), staging_dir / "tracks.parquet")
    _copy(con, sql("track_artists_file"), staging_dir / "track_artists.parquet")
    con.register("songs_malformed", findings.malformed_table())
    con.register("songs_lines", findings.lines_table())
    source_file = literal(inputs.relative(inputs.songs))
    _copy(con, sql("rejects", source_file=source_file), staging_dir / "rejects" / "songs.csv", csv=True)
    bad, valid, tracks = con.execute(sql("counts")).fetchall()[0]
    return {"bad_song": bad + len(findings.malformed), "duplicate_track_rows": valid - tracks, "tracks": tracks}


def _stage_users(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    findings = _register_text(con, "users_text", inputs, [inputs.users], ("user_id", "user_age"))
    sql = partial(load_sql, "ingest_users")
    _run(
        con,
        sql(
            "users_checked", integer_pattern=INTEGER_PATTERN, age_pattern=AGE_PATTERN, min_age=MIN_AGE, max_age=MAX_AGE
        ),
    )
    _run(con, sql("users"))
    _copy(con, sql("users_file"), staging_dir / "users.parquet")
    bad_rows, kept_rows, users_kept, unknown_age = con.execute(sql("counts")).fetchall()[0]
    return {
        "bad_user_rows": bad_rows + len(findings.malformed),
        "duplicate_user_rows": kept_rows - users_kept,
        "users": users_kept,
        "unknown_age_users": unknown_age,
    }


def _stage_streams(con, inputs: InputFiles, run_date: dt.date, staging_dir: Path) -> dict[str, int]:
    findings = ReadFindings()
    # Stream files are read in parallel: every row carries its file_no and row_number, so the order
    # in which batches arrive does not matter.
    reader = read_text_columns(
        list(inputs.streams), ("user_id", "track_id", "listen_time"), findings, inputs, threads=READER_THREADS
    )
    con.register("streams_reader", reader)
    con.register(
        "stream_files",
        pd.DataFrame(
            {"file_no": range(len(inputs.streams)), "source_file": [inputs.relative(p) for p in inputs.streams]}
        ),
    )
    buckets = duplicate_buckets(sum(f.size for f in inputs.streams))
    sql = partial(load_sql, "ingest_streams", row_id_factor=ROW_ID_FACTOR)
    parsed_rows = sql(
        "parsed_rows",
        day_start=run_date.isoformat(),
        day_end=(run_date + dt.timedelta(days=1)).isoformat(),
        listen_time_pattern=LISTEN_TIME_PATTERN,
        integer_pattern=INTEGER_PATTERN,
        buckets=buckets,
    )
    # DuckDB cannot size a stream of Arrow batches and would build the catalog join's hash table
    # on the streams: for this statement, the catalog is always the build side.
    _run(con, "SET disabled_optimizers = 'build_side_probe_side'")
    _store_parsed(
        con,
        parsed_rows,
        buckets,
        staging_dir,
        make_source_empty=lambda: con.register("streams_reader", reader.schema.empty_table()),
    )
    _run(con, "RESET disabled_optimizers")
    con.unregister("streams_reader")
    con.register("streams_malformed", findings.malformed_table())
    con.register("stream_lines", findings.lines_table())
    _run(con, sql("duplicate_ids"))
    for bucket in range(buckets):
        _run(con, sql("duplicates_of_bucket", bucket=bucket))
    _copy(con, sql("valid_streams_file"), staging_dir / "streams.parquet", dictionary=False)
    _copy(con, sql("rejects"), staging_dir / "rejects" / "streams.csv", csv=True)
    row = con.execute(sql("counts")).fetchall()[0]
    counts = dict(zip(STREAM_COUNTS, (int(v) for v in row), strict=True))
    counts["rows_read"] += len(findings.malformed)
    counts["bad_stream"] += len(findings.malformed)
    return counts


def duplicate_buckets(stream_bytes: int) -> int:
    """How many buckets (by user) duplicate detection splits the day's streams into: one per
    :data:`BUCKET_BYTES` of stream files, so each bucket's aggregate fits in memory."""
    return max(1, -(-stream_bytes // BUCKET_BYTES))


def _store_parsed(con, query: str, buckets: int, staging_dir: Path, *, make_source_empty: Callable[[], None]) -> None:
    """Make ``parsed`` the view of ``query``'s rows (``sql/ingest_streams.sql``'s ``parsed_rows``), their text
    fields as columns. The rows: a temp table when one bucket fits in memory, else Parquet files partitioned by
    bucket in the spill folder, read back one bucket at a time. ``make_source_empty()`` makes ``query`` read no
    row, for a day whose files held none (no file then)."""
    rows = _keep_parsed_rows(con, query, buckets, staging_dir, make_source_empty=make_source_empty)
    _run(con, "CREATE TEMP VIEW parsed AS " + load_sql("ingest_streams", "parsed", parsed_rows=rows))


def _keep_parsed_rows(
    con, query: str, buckets: int, staging_dir: Path, *, make_source_empty: Callable[[], None]
) -> str:
    """Store ``query``'s rows (see :func:`_store_parsed`); the relation that reads them back."""
    if buckets > 1:
        folder = _parsed_folder(staging_dir)
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Uncompressed: ingest's own temporary files, read from the page cache; Snappy cost 7 % of a 100M-stream ingest.
        options = f"FORMAT parquet, COMPRESSION uncompressed, {NO_DICTIONARY}, PARTITION_BY (bucket), OVERWRITE"
        _run(con, f"COPY ({query}) TO {literal(folder)} ({options})")
        if any(folder.glob("*/*.parquet")):
            hive = "hive_partitioning = true, hive_types = {'bucket': INTEGER}"
            return f"read_parquet({literal(folder / '*' / '*.parquet')}, {hive})"
        make_source_empty()
    _run(con, f"CREATE TEMP TABLE parsed_rows AS {query}")
    return "parsed_rows"


def _parsed_folder(staging_dir: Path) -> Path:
    return staging_dir / localdb.SPILL_DIR / "parsed"


def _run(con, statement: str) -> None:
    """Execute a statement and drain its result (DuckDB wants results consumed before the next call)."""
    con.execute(statement).fetchall()


def _copy(con, query: str, target: Path, *, csv: bool = False, dictionary: bool = True) -> None:
    # Snappy: the Parquet compression every reader of the staged files supports (Redshift COPY included).
    if csv:
        options = "FORMAT csv, HEADER true"
    else:
        options = "FORMAT parquet, COMPRESSION snappy" + ("" if dictionary else f", {NO_DICTIONARY}")
    _run(con, f"COPY ({query}) TO {literal(target)} ({options})")
