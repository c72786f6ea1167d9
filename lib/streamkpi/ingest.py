"""Ingest: validate the input root, apply the cleaning rules, stage the day as typed Parquet.

Staged files (the contract with the KPI and load steps), all under ``staging_dir``:

- ``streams.parquet``: the valid streams of the run date (user_id, track_key, listen_time UTC);
- ``tracks.parquet``: the cleaned catalog, one row per track (its first valid row), numbered by
  ``track_key`` (1, 2, ... in track_id byte order), ``duration_ms`` as an exact DECIMAL(38, 3) so
  every engine sums the same numbers;
- ``track_artists.parquet``: one row per (track_key, credited artist);
- ``users.parquet``: one row per user, ``user_age`` NULL when unknown;
- ``rejects/streams.csv`` and ``rejects/songs.csv``: every rejected row, raw, with reason and rule.

The cleaning runs as DuckDB SQL over the CSV files, so a day of any size streams through it.
The input root may be a local folder or ``s3://bucket/prefix``; when the staging folder has an S3
mirror (:func:`streamkpi.storage.attach_mirror`), the staged files are uploaded to it as well.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from . import storage
from .errors import NoValidStreamsError
from .inputs import (
    InputFile,
    InputFiles,
    MalformedRow,
    StreamSelection,
    check_required_columns,
    describe_files,
    locate_inputs,
    read_text_columns,
)

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
WHITESPACE = " \t\n\r\v\f"
# A stream row's place in file order as one integer: file_no * ROW_ID_FACTOR + row_number.
ROW_ID_FACTOR = 1 << 40
# DuckDB memory of the whole run, shared by the notebooks the runner runs at once (it says how many
# in PIPELINE_PARALLEL_NOTEBOOKS): their kernels together stay within about 6 GB at any day size.
DUCKDB_MEMORY_BUDGET_MB = 4096
PARALLEL_NOTEBOOKS_ENV = "PIPELINE_PARALLEL_NOTEBOOKS"
# Stream files read at once (CSV parsing in Arrow threads, next to DuckDB's own).
READER_THREADS = 2
# Stream file bytes per duplicate-detection bucket: about 18M rows, whose aggregate fits in memory.
BUCKET_BYTES = 1 << 30

STREAM_REJECT_REASONS = ("bad_stream", "duplicate_stream", "unknown_track")
# Everything ingest writes into the staging folder (relative paths).
STAGED_FILES = (
    "streams.parquet",
    "tracks.parquet",
    "track_artists.parquet",
    "users.parquet",
    "rejects/streams.csv",
    "rejects/songs.csv",
)


@dataclass
class IngestSummary:
    """What ingest read, kept and rejected for one run date."""

    run_date: dt.date
    staging_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    # path (relative to the input root), size and SHA-256 of every input file, computed while reading
    input_files: list[dict] = field(default_factory=list)
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
        counts = {}
        counts.update(_stage_catalog(con, inputs, staging_dir))
        counts.update(_stage_users(con, inputs, staging_dir))
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
    storage.publish(staging_dir, [staging_dir / name for name in STAGED_FILES])
    return IngestSummary(
        run_date=run_date,
        staging_dir=staging_dir,
        counts=counts,
        input_files=describe_files(inputs),
        stream_selection=inputs.selection,
    )


def reject_examples(staging_dir: str | Path, per_reason: int = 3) -> pd.DataFrame:
    """A few rejected rows of each reason, streams and catalog, for the report."""
    frames = []
    for kind in ("songs", "streams"):
        rejects = pd.read_csv(Path(staging_dir) / "rejects" / f"{kind}.csv", dtype=str, keep_default_na=False)
        frames.append(rejects.groupby("reason", sort=True).head(per_reason).assign(file_kind=kind))
    return pd.concat(frames, ignore_index=True)


def parse_run_date(value: str | dt.date) -> dt.date:
    """A run date from a ``date`` or a strict ``YYYY-MM-DD`` string."""
    if isinstance(value, dt.date):
        return value
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"run date {value!r} is not a date of the form YYYY-MM-DD")


def _connect(staging_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _run(con, "SET TimeZone = 'UTC'")
    _run(con, f"SET temp_directory = '{_sql_path(staging_dir / '.spill')}'")
    # Every text field is compared without surrounding whitespace (spaces, tabs, line breaks).
    # DuckDB holds at most this much memory and spills the rest to the staging folder; the order of
    # rows inside a table never matters here (every output that needs an order sorts).
    _run(con, f"SET memory_limit = '{duckdb_memory_limit()}'")
    _run(con, "SET preserve_insertion_order = false")
    # Most fields have no edge whitespace: they skip the trim.
    _run(
        con,
        f"""CREATE MACRO clean_text(s) AS
                  CASE WHEN s = '' OR (ascii(s) > 32 AND ascii(right(s, 1)) > 32) THEN s
                       ELSE trim(s, '{WHITESPACE}') END""",
    )
    return con


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for ingest and the KPI queries: ``STREAMKPI_DUCKDB_MEMORY_LIMIT`` (e.g.
    ``4GB``), by default 4 GB divided by the notebooks running at once, so a day of any size runs
    within a few GB of memory (DuckDB spills the rest to disk)."""
    value = os.environ.get("STREAMKPI_DUCKDB_MEMORY_LIMIT", "").strip() or _shared_budget()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*[KMGT]i?B", value, flags=re.IGNORECASE):
        raise ValueError(f"STREAMKPI_DUCKDB_MEMORY_LIMIT must be a size such as 4GB, not {value!r}")
    return value


def _shared_budget() -> str:
    text = os.environ.get(PARALLEL_NOTEBOOKS_ENV, "").strip()
    notebooks = int(text) if text.isdigit() and int(text) > 0 else 1
    return f"{DUCKDB_MEMORY_BUDGET_MB // notebooks}MB"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _register_text(
    con, name: str, inputs: InputFiles, files: list[InputFile], columns: tuple[str, ...]
) -> list[MalformedRow]:
    """Materialise the text columns of ``files`` as table ``name``; returns the malformed rows met."""
    malformed: list[MalformedRow] = []
    con.register(f"{name}_reader", read_text_columns(files, columns, malformed, inputs))
    _run(con, f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_reader")
    con.unregister(f"{name}_reader")
    return malformed


def _stage_catalog(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    malformed = _register_text(
        con, "songs_text", inputs, [inputs.songs], ("track_id", "artists", "track_genre", "duration_ms")
    )
    _run(
        con,
        f"""
        CREATE TEMP TABLE songs_checked AS
        SELECT row_number, clean_text(track_id) AS track_id, clean_text(track_genre) AS track_genre,
               duration_ms AS duration_text, TRY_CAST(clean_text(duration_ms) AS DOUBLE) AS duration_ms,
               artists,
               CASE WHEN clean_text(track_id) = '' THEN 'empty track_id'
                    WHEN clean_text(track_genre) = '' THEN 'empty track_genre'
                    WHEN NOT coalesce(TRY_CAST(clean_text(duration_ms) AS DOUBLE)
                                      BETWEEN {MIN_DURATION_MS} AND {MAX_DURATION_MS}, false)
                         THEN 'duration_ms is not a positive number of milliseconds'
               END AS rule
        FROM songs_text
        """,
    )
    _run(
        con,
        """
        CREATE TEMP TABLE first_rows AS
        SELECT track_id, track_genre, CAST(duration_ms AS DECIMAL(38, 3)) AS duration_ms, artists FROM songs_checked
        WHERE rule IS NULL
        QUALIFY row_number() OVER (PARTITION BY track_id ORDER BY row_number) = 1
        """,
    )
    # track_key numbers the tracks in track_id (byte) order: streams carry it instead of the text id,
    # which makes them a third of the size and every join and count on tracks an integer one.
    _run(
        con,
        """
        CREATE TEMP TABLE tracks AS
        SELECT CAST(row_number() OVER (ORDER BY track_id) AS INTEGER) AS track_key, *
        FROM first_rows
        """,
    )
    _run(con, "DROP TABLE first_rows")
    _run(
        con,
        """
        CREATE TEMP TABLE track_artists AS
        SELECT DISTINCT track_key, clean_text(artist) AS artist
        FROM (SELECT track_key, unnest(string_split(artists, ';')) AS artist FROM tracks)
        WHERE clean_text(artist) <> ''
        """,
    )
    _copy(con, "SELECT * FROM tracks ORDER BY track_key", staging_dir / "tracks.parquet")
    _copy(con, "SELECT * FROM track_artists ORDER BY track_key, artist", staging_dir / "track_artists.parquet")
    source = _sql_text(inputs.relative(inputs.songs))
    con.register("songs_malformed", _malformed_frame(malformed))
    _copy(
        con,
        f"""SELECT '{source}' AS source_file, row_number, track_id, track_genre, duration_ms, 'bad_song' AS reason, rule
            FROM (SELECT row_number, track_id, track_genre, duration_text AS duration_ms, rule
                  FROM songs_checked WHERE rule IS NOT NULL
                  UNION ALL
                  SELECT NULL, NULL, NULL, NULL, rule FROM songs_malformed)
            ORDER BY row_number NULLS LAST, rule""",
        staging_dir / "rejects" / "songs.csv",
        csv=True,
    )
    bad, valid, tracks = con.execute(
        """SELECT count(*) FILTER (WHERE rule IS NOT NULL), count(*) FILTER (WHERE rule IS NULL),
                  (SELECT count(*) FROM tracks) FROM songs_checked"""
    ).fetchall()[0]
    return {"bad_song": bad + len(malformed), "duplicate_track_rows": valid - tracks, "tracks": tracks}


def _stage_users(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    malformed = _register_text(con, "users_text", inputs, [inputs.users], ("user_id", "user_age"))
    _run(
        con,
        f"""
        CREATE TEMP TABLE users_checked AS
        SELECT row_number,
               CASE WHEN regexp_full_match(clean_text(user_id), '{INTEGER_PATTERN}')
                    THEN TRY_CAST(clean_text(user_id) AS BIGINT) END AS user_id,
               CASE WHEN regexp_full_match(clean_text(user_age), '{AGE_PATTERN}')
                     AND TRY_CAST(clean_text(user_age) AS DOUBLE) BETWEEN {MIN_AGE} AND {MAX_AGE}
                    THEN CAST(TRY_CAST(clean_text(user_age) AS DOUBLE) AS INTEGER) END AS user_age
        FROM users_text
        """,
    )
    _run(
        con,
        """
        CREATE TEMP TABLE users AS
        SELECT user_id, user_age FROM users_checked WHERE user_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY row_number) = 1
        """,
    )
    _copy(con, "SELECT * FROM users ORDER BY user_id", staging_dir / "users.parquet")
    bad_rows, kept_rows, users_kept, unknown_age = con.execute(
        """SELECT count(*) FILTER (WHERE user_id IS NULL), count(*) FILTER (WHERE user_id IS NOT NULL),
                  (SELECT count(*) FROM users), (SELECT count(*) FROM users WHERE user_age IS NULL)
           FROM users_checked"""
    ).fetchall()[0]
    return {
        "bad_user_rows": bad_rows + len(malformed),
        "duplicate_user_rows": kept_rows - users_kept,
        "users": users_kept,
        "unknown_age_users": unknown_age,
    }


def _stage_streams(con, inputs: InputFiles, run_date: dt.date, staging_dir: Path) -> dict[str, int]:
    malformed: list[MalformedRow] = []
    # Stream files are read in parallel: every row carries its file_no and row_number, so the order
    # in which batches arrive does not matter.
    reader = read_text_columns(
        list(inputs.streams), ("user_id", "track_id", "listen_time"), malformed, inputs, threads=READER_THREADS
    )
    con.register("streams_reader", reader)
    con.register(
        "stream_files",
        pd.DataFrame(
            {"file_no": range(len(inputs.streams)), "source_file": [inputs.relative(p) for p in inputs.streams]}
        ),
    )
    day_start, day_end = run_date.isoformat(), (run_date + dt.timedelta(days=1)).isoformat()
    # One pass over the CSV rows parses and classifies them into a narrow table. Most fields take a
    # fast path that is exact by construction: the value cast back to text must give the raw text
    # back (a canonical integer; a plain "YYYY-MM-DD HH:MM:SS" of the run date; a track_id without
    # edge whitespace), so such a field's raw text need not be kept. Any other field goes through
    # the full rules and keeps its raw text (NULL otherwise) for the rejects file; other-date rows
    # keep none. A row's place in file order is ``id`` = file_no * 2^40 + row_number.
    # DuckDB cannot size a stream of Arrow batches and would build the catalog join's hash table
    # on the streams: for this statement, the catalog is always the build side.
    _run(con, "SET disabled_optimizers = 'build_side_probe_side'")
    buckets = duplicate_buckets(sum(f.size for f in inputs.streams))
    _store_parsed(
        con,
        f"""
        WITH raw AS (
            SELECT file_no, row_number, user_id AS raw_user_id, track_id AS raw_track_id,
                   listen_time AS raw_listen_time,
                   TRY_CAST(listen_time AS TIMESTAMP) AS fast_listen_time,
                   TRY_CAST(user_id AS BIGINT) AS fast_user_id
            FROM streams_reader
        ),
        checked AS (
            SELECT *,
                   coalesce(length(raw_listen_time) = 19
                            AND fast_listen_time >= TIMESTAMP '{day_start}' AND fast_listen_time < TIMESTAMP '{day_end}'
                            AND CAST(fast_listen_time AS VARCHAR) = raw_listen_time, false) AS listen_time_ok,
                   coalesce(CAST(fast_user_id AS VARCHAR) = raw_user_id, false) AS user_id_ok,
                   raw_track_id <> '' AND ascii(raw_track_id) > 32 AND ascii(right(raw_track_id, 1)) > 32 AS track_id_ok
            FROM raw
        ),
        typed AS (
            SELECT file_no, row_number, listen_time_ok, user_id_ok, track_id_ok,
                   raw_user_id, raw_track_id, raw_listen_time,
                   CASE WHEN listen_time_ok THEN fast_listen_time
                        WHEN regexp_full_match(clean_text(raw_listen_time), '{LISTEN_TIME_PATTERN}')
                        THEN timezone('UTC', TRY_CAST(clean_text(raw_listen_time) AS TIMESTAMPTZ)) END AS listen_time,
                   CASE WHEN user_id_ok THEN fast_user_id
                        WHEN regexp_full_match(clean_text(raw_user_id), '{INTEGER_PATTERN}')
                        THEN TRY_CAST(clean_text(raw_user_id) AS BIGINT) END AS user_id,
                   CASE WHEN track_id_ok THEN raw_track_id ELSE nullif(clean_text(raw_track_id), '') END AS track_id
            FROM checked
        ),
        classified AS (
            SELECT *,
                   CASE WHEN listen_time IS NULL THEN 'bad_stream'
                        WHEN listen_time < TIMESTAMP '{day_start}' OR listen_time >= TIMESTAMP '{day_end}'
                             THEN 'other_date'
                        WHEN user_id IS NULL OR track_id IS NULL THEN 'bad_stream'
                   END AS reason
            FROM typed
        )
        SELECT CAST(file_no AS BIGINT) * {ROW_ID_FACTOR} + row_number AS id, reason,
               CASE WHEN reason = 'bad_stream' THEN
                   CASE WHEN listen_time IS NULL THEN 'unparseable listen_time'
                        WHEN user_id IS NULL THEN 'empty or non-integer user_id'
                        WHEN c.track_id IS NULL THEN 'empty track_id' END
               END AS rule,
               user_id, listen_time, t.track_key,
               -- the cleaned text id only where no track has it (an unknown track, a bad row's)
               CASE WHEN t.track_key IS NULL AND reason IS DISTINCT FROM 'other_date' THEN c.track_id END AS track_id,
               CASE WHEN NOT user_id_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_user_id END AS raw_user_id,
               CASE WHEN NOT track_id_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_track_id END AS raw_track_id,
               CASE WHEN NOT listen_time_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_listen_time END
                   AS raw_listen_time,
               CAST(hash(user_id) % {buckets} AS INTEGER) AS bucket
        FROM classified c LEFT JOIN tracks t ON t.track_id = c.track_id
        """,
        buckets,
        staging_dir,
        make_source_empty=lambda: con.register("streams_reader", reader.schema.empty_table()),
    )
    _run(con, "RESET disabled_optimizers")
    con.unregister("streams_reader")
    con.register("streams_malformed", _malformed_frame(malformed))
    # Exact duplicates without sorting every row: a hash aggregate on one 64-bit hash of the key
    # (user, instant, track) finds the few hashes seen more than once; only the rows of those are
    # then numbered in file order on their exact keys, and every copy after the first is rejected.
    # A candidate row's track is its key, or its text id when it has no key (an unknown track).
    # Copies share their user, hence their bucket: one bucket at a time keeps the aggregate in memory.
    _run(con, "CREATE TEMP TABLE duplicate_ids (id BIGINT)")
    for bucket in range(buckets):
        _run(
            con,
            f"""
            INSERT INTO duplicate_ids
            SELECT id
            FROM (SELECT id, row_number() OVER (PARTITION BY user_id, listen_time, track_key, track_id ORDER BY id)
                             AS copy_no
                  FROM parsed
                  WHERE bucket = {bucket} AND reason IS NULL
                    AND hash(user_id, listen_time, track_key, track_id) IN (
                        SELECT hash(user_id, listen_time, track_key, track_id) AS key_hash FROM parsed
                        WHERE bucket = {bucket} AND reason IS NULL GROUP BY key_hash HAVING count(*) > 1)) copies
            WHERE copy_no > 1
            """,
        )
    _copy(
        con,
        """SELECT user_id, track_key, listen_time FROM parsed
           WHERE reason IS NULL AND track_key IS NOT NULL AND id NOT IN (SELECT id FROM duplicate_ids)""",
        staging_dir / "streams.parquet",
    )
    # The raw text of a rejected row: as kept in ``parsed``, else the parsed value's text (equal to it);
    # a track known by its key gets its id back from the catalog.
    _copy(
        con,
        f"""
        WITH rejected AS (
            SELECT id, reason, rule, user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id,
                   raw_listen_time
            FROM parsed WHERE reason = 'bad_stream'
            UNION ALL
            SELECT id, 'duplicate_stream', 'exact duplicate of an earlier row',
                   user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id, raw_listen_time
            FROM parsed WHERE reason IS NULL AND id IN (SELECT id FROM duplicate_ids)
            UNION ALL
            SELECT id, 'unknown_track', 'track_id not in the cleaned catalog',
                   user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id, raw_listen_time
            FROM parsed WHERE reason IS NULL AND track_key IS NULL AND id NOT IN (SELECT id FROM duplicate_ids)
        )
        SELECT f.source_file, r.row_number, r.user_id, r.track_id, r.listen_time, r.reason, r.rule
        FROM (
            SELECT id // {ROW_ID_FACTOR} AS file_no, id % {ROW_ID_FACTOR} AS row_number,
                   coalesce(raw_user_id, CAST(user_id AS VARCHAR)) AS user_id,
                   coalesce(raw_track_id, rejected.track_id, t.track_id) AS track_id,
                   coalesce(raw_listen_time, CAST(listen_time AS VARCHAR)) AS listen_time,
                   reason, rule
            FROM rejected LEFT JOIN tracks t ON t.track_key = rejected.track_key
            UNION ALL
            SELECT file_no, NULL, NULL, NULL, NULL, 'bad_stream', rule FROM streams_malformed
        ) r
        JOIN stream_files f ON f.file_no = r.file_no
        ORDER BY r.reason, r.file_no, r.row_number NULLS LAST, r.rule
        """,
        staging_dir / "rejects" / "streams.csv",
        csv=True,
    )
    # Per reason, then the kept streams (candidates less later copies) and their unknown users.
    row = con.execute(
        """
        WITH duplicates AS (
            SELECT p.track_key IS NOT NULL AS known_track, p.user_id NOT IN (SELECT user_id FROM users) AS unknown_user
            FROM parsed p WHERE p.id IN (SELECT id FROM duplicate_ids)
        )
        SELECT count(*),
               count(*) FILTER (WHERE reason = 'other_date'),
               count(*) FILTER (WHERE reason = 'bad_stream'),
               (SELECT count(*) FROM duplicates),
               count(*) FILTER (WHERE reason IS NULL AND track_key IS NULL)
                   - (SELECT count(*) FROM duplicates WHERE NOT known_track),
               count(*) FILTER (WHERE reason IS NULL AND track_key IS NOT NULL)
                   - (SELECT count(*) FROM duplicates WHERE known_track),
               count(*) FILTER (WHERE reason IS NULL AND track_key IS NOT NULL
                                AND user_id NOT IN (SELECT user_id FROM users))
                   - (SELECT count(*) FROM duplicates WHERE known_track AND unknown_user)
        FROM parsed
        """
    ).fetchall()[0]
    counts = dict(
        zip(
            (
                "rows_read",
                "other_date",
                "bad_stream",
                "duplicate_stream",
                "unknown_track",
                "valid_streams",
                "unknown_user_streams",
            ),
            (int(v) for v in row),
        )
    )
    counts["rows_read"] += len(malformed)
    counts["bad_stream"] += len(malformed)
    return counts


def duplicate_buckets(stream_bytes: int) -> int:
    """How many buckets (by user) duplicate detection splits the day's streams into: one per
    :data:`BUCKET_BYTES` of stream files, so each bucket's aggregate fits in memory."""
    return max(1, -(-stream_bytes // BUCKET_BYTES))


def _store_parsed(con, query: str, buckets: int, staging_dir: Path, *, make_source_empty: Callable[[], None]) -> None:
    """Make ``parsed`` the relation of ``query``'s rows: a temp table when one bucket fits in memory,
    else Parquet files partitioned by bucket in the spill folder, read back one bucket at a time.
    ``make_source_empty()`` makes ``query`` read no row, for a day whose files held none (no file then)."""
    if buckets == 1:
        _run(con, f"CREATE TEMP TABLE parsed AS {query}")
        return
    folder = _parsed_folder(staging_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run(con, f"COPY ({query}) TO '{_sql_path(folder)}' (FORMAT parquet, PARTITION_BY (bucket), OVERWRITE)")
    if not any(folder.glob("*/*.parquet")):
        make_source_empty()
        _run(con, f"CREATE TEMP TABLE parsed AS {query}")
        return
    _run(
        con,
        f"CREATE TEMP VIEW parsed AS SELECT * FROM read_parquet('{_sql_path(folder)}/*/*.parquet', "
        "hive_partitioning = true, hive_types = {'bucket': INTEGER})",
    )


def _parsed_folder(staging_dir: Path) -> Path:
    return staging_dir / ".spill" / "parsed"


def _malformed_frame(malformed: list[MalformedRow]) -> pd.DataFrame:
    """Malformed rows as a table (raw text kept in the rule), empty but typed when there are none."""
    return pd.DataFrame(
        {
            "file_no": pd.Series([m.file_no for m in malformed], dtype="int64"),
            "rule": pd.Series([f"{m.rule}: {m.text}" for m in malformed], dtype="object"),
        }
    )


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _run(con, statement: str) -> None:
    """Execute a statement and drain its result (DuckDB wants results consumed before the next call)."""
    con.execute(statement).fetchall()


def _copy(con, query: str, target: Path, *, csv: bool = False) -> None:
    # Snappy: the Parquet compression every reader of the staged files supports (Redshift COPY included).
    options = "FORMAT csv, HEADER true" if csv else "FORMAT parquet, COMPRESSION snappy"
    _run(con, f"COPY ({query}) TO '{_sql_path(target)}' ({options})")
