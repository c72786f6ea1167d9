"""Write tiny input roots (songs.csv, users.csv, streams/**/*.csv) from inline rows.

Used by the hand-worked rule tests (tests/test_rules_*.py). Rows are given inline:

- songs: tuples ``(track_id, track_genre, duration_ms[, artists])`` or dicts (see :func:`song`);
- users: tuples ``(user_id, user_age)`` or dicts;
- streams: tuples ``(user_id, track_id, listen_time)``; either a list (written to
  ``streams/part-0.csv``) or a dict ``{relative path under streams/: rows}``.

Every value is written as text, exactly as given (``None`` -> empty field), with the
``csv`` module's minimal quoting, UTF-8. The run helpers at the bottom call the library
(lazily), they never compute expected values.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd

D = "2024-06-25"  # the run date used by default in the rule tests

SONG_COLUMNS = [
    "id",
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "duration_ms",
    "explicit",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
    "track_genre",
]
SONG_REQUIRED = ["track_id", "artists", "track_name", "popularity", "duration_ms", "track_genre"]
USER_COLUMNS = ["user_id", "user_name", "user_age", "user_country", "created_at"]
USER_REQUIRED = ["user_id", "user_age"]
STREAM_COLUMNS = ["user_id", "track_id", "listen_time"]


def t(hms: str, day: str = D) -> str:
    """``t("10:00:00")`` -> ``"2024-06-25 10:00:00"``."""
    return f"{day} {hms}"


def song(track_id, genre, duration_ms=200000, artists="Some Artist", **extra) -> dict:
    row = {
        "track_id": track_id,
        "artists": artists,
        "album_name": "Some Album",
        "track_name": f"Song {track_id}",
        "popularity": 50,
        "duration_ms": duration_ms,
        "explicit": "False",
        "danceability": 0.5,
        "energy": 0.5,
        "key": 1,
        "loudness": -5.0,
        "mode": 1,
        "speechiness": 0.05,
        "acousticness": 0.1,
        "instrumentalness": 0.0,
        "liveness": 0.1,
        "valence": 0.5,
        "tempo": 120.0,
        "time_signature": 4,
        "track_genre": genre,
    }
    row.update(extra)
    return row


def user(user_id, age, **extra) -> dict:
    row = {
        "user_id": user_id,
        "user_name": f"user {user_id}",
        "user_age": age,
        "user_country": "FR",
        "created_at": "2024-01-01",
    }
    row.update(extra)
    return row


def _as_song(r) -> dict:
    if isinstance(r, dict):
        base = song(r.get("track_id"), r.get("track_genre"))
        base.update(r)
        return base
    return song(*r)


def _as_user(r) -> dict:
    if isinstance(r, dict):
        base = user(r.get("user_id"), r.get("user_age"))
        base.update(r)
        return base
    return user(*r)


def _as_stream(r) -> dict:
    if isinstance(r, dict):
        return dict(r)
    uid, tid, lt = r
    return {"user_id": uid, "track_id": tid, "listen_time": lt}


def _cell(v) -> str:
    return "" if v is None else str(v)


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    """Write ``rows`` (dicts) with exactly ``columns`` as header (missing keys -> empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for i, r in enumerate(rows):
            w.writerow([_cell(i if (c in ("", "id") and c not in r) else r.get(c)) for c in columns])
    return path


def write_text(root: Path, relpath: str, text: str) -> Path:
    p = Path(root) / relpath
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def make_root(
    base: Path,
    songs=None,
    users=None,
    streams=None,
    *,
    name: str = "input",
    song_columns=SONG_COLUMNS,
    user_columns=USER_COLUMNS,
    stream_columns=STREAM_COLUMNS,
) -> Path:
    """Create ``base/name`` holding the given inputs; ``None`` leaves that input out."""
    root = Path(base) / name
    root.mkdir(parents=True, exist_ok=True)
    if songs is not None:
        write_csv(root / "songs.csv", list(song_columns), [_as_song(r) for r in songs])
    if users is not None:
        write_csv(root / "users.csv", list(user_columns), [_as_user(r) for r in users])
    if streams is not None:
        (root / "streams").mkdir(exist_ok=True)
        files = {"part-0.csv": streams} if isinstance(streams, list) else streams
        for rel, rows in files.items():
            write_csv(root / "streams" / rel, list(stream_columns), [_as_stream(r) for r in rows])
    return root


# --------------------------------------------------------------------------- run helpers


def stage(base: Path, songs, users, streams, run_date=D, *, staging_name="staging", **kw):
    """Write the root under ``base`` and stage it; returns ``(summary, staging_dir)``."""
    from streamkpi.ingest import stage_day

    root = make_root(base, songs, users, streams, **kw)
    staging = Path(base) / staging_name
    staging.mkdir(parents=True, exist_ok=True)
    return stage_day(root, run_date, staging), staging


def run_all(base: Path, songs, users, streams, run_date=D, session_gap_minutes=None, **kw):
    """Stage and compute both KPI frames; returns ``(summary, genre_df, hourly_df)``."""
    from streamkpi.kpis import genre_level_kpis, hourly_kpis

    summary, staging = stage(base, songs, users, streams, run_date, **kw)
    g = genre_level_kpis(staging, run_date)
    if session_gap_minutes is None:
        h = hourly_kpis(staging, run_date)
    else:
        h = hourly_kpis(staging, run_date, session_gap_minutes=session_gap_minutes)
    return summary, g, h


def as_date(v) -> dt.date:
    return pd.Timestamp(v).date()


def by_genre(df: pd.DataFrame) -> dict:
    """``{track_genre: row dict}``; asserts the genre key is unique."""
    out = {}
    for rec in df.to_dict("records"):
        assert rec["track_genre"] not in out, f"duplicate genre row {rec['track_genre']!r}"
        out[rec["track_genre"]] = rec
    return out


def by_hour(df: pd.DataFrame) -> dict:
    """``{listen_hour (int): row dict}``; asserts the hour key is unique."""
    out = {}
    for rec in df.to_dict("records"):
        h = int(rec["listen_hour"])
        assert h not in out, f"duplicate hour row {h}"
        out[h] = rec
    return out


def is_null(v) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v))


def utc_naive(v) -> pd.Timestamp:
    ts = pd.Timestamp(v)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def read_rejects(staging: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(staging) / "rejects" / name, dtype=str, keep_default_na=False)


def rel_source(source_file: str, candidates) -> str:
    """Map a reject's ``source_file`` to the one candidate relative path it ends with."""
    s = str(source_file).replace("\\", "/")
    hits = [c for c in candidates if s.endswith(c)]
    assert len(hits) == 1, f"source_file {source_file!r} matches {hits} of {list(candidates)}"
    return hits[0]


def staged_streams(staging: Path) -> pd.DataFrame:
    """The staged valid streams with their text ``track_id`` (streams.parquet carries the catalog's
    ``track_key``; every key must resolve to exactly one staged track)."""
    streams = pd.read_parquet(Path(staging) / "streams.parquet")
    tracks = pd.read_parquet(Path(staging) / "tracks.parquet", columns=["track_key", "track_id"])
    assert tracks["track_key"].is_unique
    resolved = streams.merge(tracks, on="track_key", how="left", validate="many_to_one")
    assert resolved["track_id"].notna().all(), "a staged stream's track_key is not in tracks.parquet"
    return resolved
