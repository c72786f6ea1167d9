"""Ingest: validate the input root, apply the cleaning rules, stage the day as typed Parquet.

Staged files (the contract with the KPI and load steps), all under ``staging_dir``:

- ``streams.parquet``: the valid streams of the run date (user_id, track_id, listen_time UTC);
- ``tracks.parquet``: the cleaned catalog, one row per track (its first valid row);
- ``track_artists.parquet``: one row per (track, credited artist);
- ``users.parquet``: one row per user, ``user_age`` NULL when unknown;
- ``rejects/streams.csv`` and ``rejects/songs.csv``: every rejected row, raw, with reason and rule.

The cleaning runs as DuckDB SQL over the CSV files, so a day of any size streams through it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import NoValidStreamsError
from .inputs import InputFiles, check_required_columns, locate_inputs

# listen_time forms accepted: date, space or T, time, optional fraction, optional offset.
LISTEN_TIME_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?"
)
INTEGER_PATTERN = r"[+-]?[0-9]+"
WHOLE_NUMBER_PATTERN = r"[+-]?[0-9]+(\.0*)?"
MIN_AGE, MAX_AGE = 13, 120

STREAM_REJECT_REASONS = ("bad_stream", "duplicate_stream", "unknown_track")


@dataclass
class IngestSummary:
    """What ingest read, kept and rejected for one run date."""

    run_date: dt.date
    staging_dir: Path
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rejects(self) -> dict[str, int]:
        """Rejected rows per reason (streams and catalog)."""
        return {r: self.counts[r] for r in ("bad_song", *STREAM_REJECT_REASONS)}


def stage_day(input_uri: str | Path, run_date: str | dt.date, staging_dir: str | Path) -> IngestSummary:
    """Validate and clean the input root for ``run_date`` and write the staged files."""
    run_date = parse_run_date(run_date)
    staging_dir = Path(staging_dir)
    inputs = locate_inputs(input_uri)
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
    if counts["valid_streams"] == 0:
        raise NoValidStreamsError(
            f"no valid stream for {run_date} in {inputs.root}: {counts['rows_read']} stream rows read, "
            f"{counts['other_date']} of other dates, {counts['bad_stream']} bad, "
            f"{counts['unknown_track']} of unknown tracks; nothing is loaded"
        )
    return IngestSummary(run_date=run_date, staging_dir=staging_dir, counts=counts)


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
    return con


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _read_text_columns(path: Path, columns: tuple[str, ...]) -> pa.Table:
    """Read the named columns of a CSV as text, in file order, with a 1-based data row number."""
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding="utf8"),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(columns),
            column_types={c: pa.string() for c in columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.append_column("row_number", pa.array(range(1, table.num_rows + 1), pa.int64()))


def _stage_catalog(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    songs = _read_text_columns(inputs.songs, ("track_id", "artists", "track_genre", "duration_ms"))
    con.register("songs_text", songs)
    _run(
        con,
        """
        CREATE TEMP TABLE songs_checked AS
        SELECT row_number, trim(track_id) AS track_id, trim(track_genre) AS track_genre,
               trim(duration_ms) AS duration_text, TRY_CAST(trim(duration_ms) AS DOUBLE) AS duration_ms,
               artists,
               CASE WHEN trim(track_id) = '' THEN 'empty track_id'
                    WHEN trim(track_genre) = '' THEN 'empty track_genre'
                    WHEN NOT coalesce(isfinite(TRY_CAST(trim(duration_ms) AS DOUBLE))
                                      AND TRY_CAST(trim(duration_ms) AS DOUBLE) > 0, false)
                         THEN 'duration_ms is not a positive number'
               END AS rule
        FROM songs_text
        """
    )
    _run(
        con,
        """
        CREATE TEMP TABLE tracks AS
        SELECT track_id, track_genre, duration_ms, artists FROM songs_checked
        WHERE rule IS NULL
        QUALIFY row_number() OVER (PARTITION BY track_id ORDER BY row_number) = 1
        """
    )
    _run(
        con,
        """
        CREATE TEMP TABLE track_artists AS
        SELECT DISTINCT track_id, trim(artist) AS artist
        FROM (SELECT track_id, unnest(string_split(artists, ';')) AS artist FROM tracks)
        WHERE trim(artist) <> ''
        """
    )
    _copy(con, "SELECT * FROM tracks ORDER BY track_id", staging_dir / "tracks.parquet")
    _copy(con, "SELECT * FROM track_artists ORDER BY track_id, artist", staging_dir / "track_artists.parquet")
    source = inputs.relative(inputs.songs).replace("'", "''")
    _copy(
        con,
        f"""SELECT '{source}' AS source_file, row_number, track_id, track_genre, duration_text AS duration_ms,
                   'bad_song' AS reason, rule
            FROM songs_checked WHERE rule IS NOT NULL ORDER BY row_number""",
        staging_dir / "rejects" / "songs.csv",
        csv=True,
    )
    bad, valid, tracks = con.execute(
        """SELECT count(*) FILTER (WHERE rule IS NOT NULL), count(*) FILTER (WHERE rule IS NULL),
                  (SELECT count(*) FROM tracks) FROM songs_checked"""
    ).fetchall()[0]
    return {"bad_song": bad, "duplicate_track_rows": valid - tracks, "tracks": tracks}


def _stage_users(con, inputs: InputFiles, staging_dir: Path) -> dict[str, int]:
    users = _read_text_columns(inputs.users, ("user_id", "user_age"))
    con.register("users_text", users)
    _run(
        con,
        f"""
        CREATE TEMP TABLE users_checked AS
        SELECT row_number,
               CASE WHEN regexp_full_match(trim(user_id), '{INTEGER_PATTERN}')
                    THEN TRY_CAST(trim(user_id) AS BIGINT) END AS user_id,
               CASE WHEN regexp_full_match(trim(user_age), '{WHOLE_NUMBER_PATTERN}')
                     AND TRY_CAST(trim(user_age) AS DOUBLE) BETWEEN {MIN_AGE} AND {MAX_AGE}
                    THEN CAST(TRY_CAST(trim(user_age) AS DOUBLE) AS INTEGER) END AS user_age
        FROM users_text
        """
    )
    _run(
        con,
        """
        CREATE TEMP TABLE users AS
        SELECT user_id, user_age FROM users_checked WHERE user_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY row_number) = 1
        """
    )
    _copy(con, "SELECT * FROM users ORDER BY user_id", staging_dir / "users.parquet")
    bad_rows, kept_rows, users_kept, unknown_age = con.execute(
        """SELECT count(*) FILTER (WHERE user_id IS NULL), count(*) FILTER (WHERE user_id IS NOT NULL),
                  (SELECT count(*) FROM users), (SELECT count(*) FROM users WHERE user_age IS NULL)
           FROM users_checked"""
    ).fetchall()[0]
    return {
        "bad_user_rows": bad_rows,
        "duplicate_user_rows": kept_rows - users_kept,
        "users": users_kept,
        "unknown_age_users": unknown_age,
    }


def _stage_streams(con, inputs: InputFiles, run_date: dt.date, staging_dir: Path) -> dict[str, int]:
    files = ", ".join(f"'{_sql_path(p)}'" for p in inputs.streams)
    root_prefix = _sql_path(inputs.root) + "/"
    day_start, day_end = run_date.isoformat(), (run_date + dt.timedelta(days=1)).isoformat()
    _run(
        con,
        f"""
        CREATE TEMP TABLE classified AS
        WITH raw AS (
            SELECT replace(filename, '{root_prefix}', '') AS source_file,
                   user_id AS raw_user_id, track_id AS raw_track_id, listen_time AS raw_listen_time
            FROM read_csv([{files}], header = true, all_varchar = true, union_by_name = true,
                          filename = true, delim = ',', quote = '"', escape = '"', null_padding = true)
        ), parsed AS (
            SELECT *,
                   CASE WHEN regexp_full_match(trim(raw_listen_time), '{LISTEN_TIME_PATTERN}')
                        THEN timezone('UTC', TRY_CAST(trim(raw_listen_time) AS TIMESTAMPTZ)) END AS listen_time,
                   CASE WHEN regexp_full_match(trim(raw_user_id), '{INTEGER_PATTERN}')
                        THEN TRY_CAST(trim(raw_user_id) AS BIGINT) END AS user_id,
                   nullif(trim(raw_track_id), '') AS track_id
            FROM raw
        )
        SELECT CASE WHEN listen_time IS NULL THEN 'bad_stream'
                    WHEN listen_time < TIMESTAMP '{day_start}' OR listen_time >= TIMESTAMP '{day_end}' THEN 'other_date'
                    WHEN user_id IS NULL OR track_id IS NULL THEN 'bad_stream'
               END AS reason,
               CASE WHEN listen_time IS NULL THEN 'unparseable listen_time'
                    WHEN user_id IS NULL THEN 'empty or non-integer user_id'
                    WHEN track_id IS NULL THEN 'empty track_id'
               END AS rule,
               source_file, raw_user_id, raw_track_id, raw_listen_time, user_id, track_id, listen_time
        FROM parsed
        """
    )
    # The copy kept among exact duplicates is the first by file path, then raw text: deterministic.
    _run(
        con,
        """
        CREATE TEMP TABLE candidates AS
        SELECT *, row_number() OVER (PARTITION BY user_id, track_id, listen_time
                                     ORDER BY source_file, raw_listen_time, raw_user_id, raw_track_id) AS copy_no,
               track_id IN (SELECT track_id FROM tracks) AS known_track
        FROM classified WHERE reason IS NULL
        """
    )
    _copy(
        con,
        "SELECT user_id, track_id, listen_time FROM candidates WHERE copy_no = 1 AND known_track",
        staging_dir / "streams.parquet",
    )
    _copy(
        con,
        """
        SELECT source_file, raw_user_id AS user_id, raw_track_id AS track_id, raw_listen_time AS listen_time, reason, rule
        FROM (
            SELECT * EXCLUDE (user_id, track_id, listen_time) FROM classified WHERE reason = 'bad_stream'
            UNION ALL
            SELECT CASE WHEN copy_no > 1 THEN 'duplicate_stream' ELSE 'unknown_track' END,
                   CASE WHEN copy_no > 1 THEN 'exact duplicate of an earlier row'
                        ELSE 'track_id not in the cleaned catalog' END,
                   source_file, raw_user_id, raw_track_id, raw_listen_time
            FROM candidates WHERE copy_no > 1 OR NOT known_track
        )
        ORDER BY reason, source_file, listen_time, user_id, track_id
        """,
        staging_dir / "rejects" / "streams.csv",
        csv=True,
    )
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM classified),
               (SELECT count(*) FROM classified WHERE reason = 'other_date'),
               (SELECT count(*) FROM classified WHERE reason = 'bad_stream'),
               count(*) FILTER (WHERE copy_no > 1),
               count(*) FILTER (WHERE copy_no = 1 AND NOT known_track),
               count(*) FILTER (WHERE copy_no = 1 AND known_track),
               count(*) FILTER (WHERE copy_no = 1 AND known_track
                                AND user_id NOT IN (SELECT user_id FROM users))
        FROM candidates
        """
    ).fetchall()[0]
    keys = ("rows_read", "other_date", "bad_stream", "duplicate_stream", "unknown_track",
            "valid_streams", "unknown_user_streams")
    return dict(zip(keys, row))


def _run(con, statement: str) -> None:
    """Execute a statement and drain its result (DuckDB wants results consumed before the next call)."""
    con.execute(statement).fetchall()


def _copy(con, query: str, target: Path, *, csv: bool = False) -> None:
    options = "FORMAT csv, HEADER true" if csv else "FORMAT parquet, COMPRESSION zstd"
    _run(con, f"COPY ({query}) TO '{_sql_path(target)}' ({options})")
