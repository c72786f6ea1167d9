"""The seed approach: what the original Airflow DAG did, redone locally for the benchmark.

The seed project (``SEED_README.md``) ran a DAG of pandas tasks on Airflow: ``validate_datasets``
read every CSV whole into pandas and checked its columns; ``calculate_genre_level_kpis`` read
every stream file whole again (``pd.concat``), merged it with the songs and grouped it with
pandas; ``calculate_hourly_kpis`` read everything once more, merged with songs and users and
ran its group-bys; each task then loaded its table row by row with ``cursor.executemany`` into
a temporary table and moved the rows into the reporting table in one transaction.

This module keeps that shape on purpose: each task runs in its own Python process (as Airflow
runs a task), re-reads the CSVs whole, builds whole-day DataFrames, and loads with
``executemany`` (into an SQLite file standing in for Redshift). What it computes, however,
follows KPI_SPEC.md and docs/KPIS.md (cleaning rules, primary genre, sessions, artists split on
``;``, ties), written in the same naive pandas style, so its tables can be checked against the
reference and against the floor.

    python benchmarks/seed_approach.py --input ROOT --date 2024-06-25 --db OUT.sqlite [--gap 30]
    python benchmarks/seed_approach.py ... --task genre   # one task in this process
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = {
    "songs": ["track_id", "artists", "track_name", "popularity", "duration_ms", "track_genre"],
    "users": ["user_id", "user_age"],
    "streams": ["user_id", "track_id", "listen_time"],
}
LISTEN_TIME = (
    r"\d{4}-\d{2}-\d{2}[ T]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?"
    r"(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?"
)
INTEGER = r"[+-]?\d+"
AGE_BINS = [12, 17, 24, 34, 44, 54, 64, 120]
AGE_LABELS = ["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
TASKS = ("validate", "genre", "hourly")

DDL = {
    "genre_level_kpis": """listen_date DATE NOT NULL, track_genre VARCHAR(255) NOT NULL,
        listen_count INT, popularity_index FLOAT, average_duration FLOAT,
        most_popular_track_id VARCHAR(255), PRIMARY KEY (listen_date, track_genre)""",
    "hourly_kpis": """listen_date DATE NOT NULL, listen_hour INT NOT NULL, unique_listeners INT,
        listen_counts INT, top_artist VARCHAR(255), avg_sessions_per_user FLOAT,
        diversity_index FLOAT, most_engaged_age_group VARCHAR(50),
        PRIMARY KEY (listen_date, listen_hour)""",
}


# --------------------------------------------------------------------------- reading


def read_csv(path) -> pd.DataFrame:
    # every file read whole; text kept as text so that the cleaning rules can look at it
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def stream_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "streams").rglob("*.csv") if p.is_file())


def read_streams(root: Path) -> pd.DataFrame:
    return pd.concat([read_csv(f) for f in stream_files(root)], ignore_index=True)


def clean_songs(songs: pd.DataFrame) -> pd.DataFrame:
    songs = songs.copy()
    songs.columns = [c.strip() for c in songs.columns]
    songs["track_id"] = songs["track_id"].str.strip()
    songs["track_genre"] = songs["track_genre"].str.strip()
    songs["duration_ms"] = pd.to_numeric(songs["duration_ms"].str.strip(), errors="coerce")
    good = (songs["track_id"] != "") & (songs["track_genre"] != "") & songs["duration_ms"].between(0.001, 1e20)
    return songs[good].drop_duplicates("track_id", keep="first")


def clean_users(users: pd.DataFrame) -> pd.DataFrame:
    users = users.copy()
    users.columns = [c.strip() for c in users.columns]
    uid = users["user_id"].str.strip()
    users = users[uid.str.fullmatch(INTEGER)].copy()
    users["user_id"] = users["user_id"].str.strip().astype("int64")
    users = users.drop_duplicates("user_id", keep="first")
    age = users["user_age"].str.strip()
    whole = age.str.fullmatch(r"\d+(\.0+)?")
    users["user_age"] = pd.to_numeric(age.where(whole), errors="coerce")
    users.loc[~users["user_age"].between(13, 120), "user_age"] = np.nan
    return users[["user_id", "user_age"]]


def valid_streams(streams: pd.DataFrame, songs: pd.DataFrame, run_date: str) -> pd.DataFrame:
    """The day's valid streams merged with their track (inner merge drops unknown tracks)."""
    streams = streams.copy()
    streams.columns = [c.strip() for c in streams.columns]
    lt = streams["listen_time"].str.strip()
    ts = pd.to_datetime(lt.where(lt.str.fullmatch(LISTEN_TIME)), format="ISO8601", utc=True, errors="coerce")
    streams["listen_time"] = ts.dt.tz_localize(None).dt.floor("us")
    streams["listen_date"] = streams["listen_time"].dt.date
    streams = streams[streams["listen_date"] == dt.date.fromisoformat(run_date)]
    streams["user_id"] = streams["user_id"].str.strip()
    streams["track_id"] = streams["track_id"].str.strip()
    streams = streams[streams["user_id"].str.fullmatch(INTEGER) & (streams["track_id"] != "")].copy()
    streams["user_id"] = streams["user_id"].astype("int64")
    streams = streams.drop_duplicates(["user_id", "track_id", "listen_time"], keep="first")
    merged = streams.merge(songs[["track_id", "track_genre", "duration_ms", "artists"]], on="track_id", how="inner")
    merged["listen_hour"] = merged["listen_time"].dt.hour
    return merged


# --------------------------------------------------------------------------- tasks


def validate_datasets(root: Path) -> dict:
    results = {}
    for kind, paths in (
        ("songs", [root / "songs.csv"]),
        ("users", [root / "users.csv"]),
        ("streams", stream_files(root)),
    ):
        for path in paths:
            frame = read_csv(path)
            missing = set(REQUIRED_COLUMNS[kind]) - {c.strip() for c in frame.columns}
            if missing:
                raise ValueError(f"{path} lacks columns {sorted(missing)}")
            results[str(path)] = len(frame)
    return results


def genre_level_kpis(root: Path, run_date: str) -> pd.DataFrame:
    streams = read_streams(root)
    songs = clean_songs(read_csv(root / "songs.csv"))
    merged = valid_streams(streams, songs, run_date)
    if merged.empty:
        raise ValueError(f"no valid stream on {run_date}")

    counts = merged.groupby("track_genre").size().reset_index(name="listen_count")
    counts["popularity_index"] = counts["listen_count"] / len(merged)
    merged["duration_seconds"] = merged["duration_ms"] / 1000
    durations = merged.groupby("track_genre")["duration_seconds"].mean().reset_index(name="average_duration")
    tracks = merged.groupby(["track_genre", "track_id"]).size().reset_index(name="track_count")
    tracks = tracks.sort_values(["track_genre", "track_count", "track_id"], ascending=[True, False, True])
    top = tracks.drop_duplicates("track_genre", keep="first").rename(columns={"track_id": "most_popular_track_id"})

    kpis = counts.merge(durations, on="track_genre").merge(
        top[["track_genre", "most_popular_track_id"]], on="track_genre"
    )
    kpis.insert(0, "listen_date", run_date)
    return kpis[
        ["listen_date", "track_genre", "listen_count", "popularity_index", "average_duration", "most_popular_track_id"]
    ].sort_values("track_genre", ignore_index=True)


def hourly_kpis(root: Path, run_date: str, gap_minutes: int = 30) -> pd.DataFrame:
    streams = read_streams(root)
    songs = clean_songs(read_csv(root / "songs.csv"))
    users = clean_users(read_csv(root / "users.csv"))
    full = valid_streams(streams, songs, run_date).merge(users, on="user_id", how="left")
    if full.empty:
        raise ValueError(f"no valid stream on {run_date}")

    # unique listeners and streams per hour
    per_hour = (
        full.groupby("listen_hour")
        .agg(unique_listeners=("user_id", "nunique"), listen_counts=("track_id", "size"))
        .reset_index()
    )

    # top artist: every artist of the track is credited (once per stream)
    artists = full[["listen_hour", "artists"]].copy()
    artists["artist"] = artists["artists"].str.split(";")
    artists = artists.explode("artist")
    artists["artist"] = artists["artist"].str.strip()
    artists = artists[artists["artist"].notna() & (artists["artist"] != "")]
    artists = artists.reset_index().drop_duplicates(["index", "artist"])
    artist_counts = artists.groupby(["listen_hour", "artist"]).size().reset_index(name="streams")
    artist_counts = artist_counts.sort_values(["listen_hour", "streams", "artist"], ascending=[True, False, True])
    top_artist = artist_counts.drop_duplicates("listen_hour").rename(columns={"artist": "top_artist"})

    # sessions: per user in time order, a new one after a gap of more than gap_minutes
    full = full.sort_values(["user_id", "listen_time"], kind="stable")
    gap = full.groupby("user_id")["listen_time"].diff()
    full["new_session"] = gap.isna() | (gap > pd.Timedelta(minutes=gap_minutes))
    full["session_id"] = full.groupby("user_id")["new_session"].cumsum()
    sessions = (
        full[["listen_hour", "user_id", "session_id"]]
        .drop_duplicates()
        .groupby("listen_hour")
        .size()
        .reset_index(name="sessions")
    )

    # Simpson diversity of primary genres
    genres = full.groupby(["listen_hour", "track_genre"]).size().reset_index(name="n")
    genres["share"] = genres["n"] / genres.groupby("listen_hour")["n"].transform("sum")
    diversity = (
        genres.groupby("listen_hour")["share"].apply(lambda s: 1 - (s**2).sum()).reset_index(name="diversity_index")
    )

    # most engaged age group among streams of users of known age (ties: the younger group)
    full["age_group"] = pd.cut(full["user_age"], bins=AGE_BINS, labels=AGE_LABELS)
    ages = full.groupby(["listen_hour", "age_group"], observed=True).size().reset_index(name="streams")
    ages["order"] = ages["age_group"].cat.codes
    ages = ages.sort_values(["listen_hour", "streams", "order"], ascending=[True, False, True])
    engaged = ages.drop_duplicates("listen_hour").rename(columns={"age_group": "most_engaged_age_group"})
    engaged["most_engaged_age_group"] = engaged["most_engaged_age_group"].astype(str)

    kpis = (
        per_hour.merge(top_artist[["listen_hour", "top_artist"]], on="listen_hour", how="left")
        .merge(sessions, on="listen_hour")
        .merge(diversity, on="listen_hour")
        .merge(engaged[["listen_hour", "most_engaged_age_group"]], on="listen_hour", how="left")
    )
    kpis["avg_sessions_per_user"] = kpis["sessions"] / kpis["unique_listeners"]
    kpis.insert(0, "listen_date", run_date)
    return kpis[
        [
            "listen_date",
            "listen_hour",
            "unique_listeners",
            "listen_counts",
            "top_artist",
            "avg_sessions_per_user",
            "diversity_index",
            "most_engaged_age_group",
        ]
    ]


# --------------------------------------------------------------------------- load


def _python(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def upsert(db_path: Path, table: str, frame: pd.DataFrame, run_date: str) -> int:
    """Row-by-row load: executemany into a temporary table, then replace the day in one transaction."""
    con = sqlite3.connect(str(db_path), timeout=60)
    try:
        cur = con.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({DDL[table]})")
        cur.execute(f"CREATE TABLE IF NOT EXISTS tmp_{table} ({DDL[table]})")
        rows = [tuple(_python(v) for v in row) for row in frame.itertuples(index=False, name=None)]
        columns = ", ".join(frame.columns)
        marks = ", ".join("?" * len(frame.columns))
        cur.executemany(f"INSERT INTO tmp_{table} ({columns}) VALUES ({marks})", rows)
        cur.execute(f"DELETE FROM {table} WHERE listen_date = ?", [run_date])
        cur.execute(f"INSERT INTO {table} SELECT * FROM tmp_{table}")
        cur.execute(f"DELETE FROM tmp_{table}")
        con.commit()
        return len(rows)
    except Exception:
        con.rollback()
        raise
    finally:
        con.close()


def run_task(task: str, root: Path, run_date: str, db_path: Path, gap_minutes: int) -> str:
    if task == "validate":
        files = validate_datasets(root)
        return f"validate: {len(files)} files, {sum(files.values())} rows"
    if task == "genre":
        return f"genre: {upsert(db_path, 'genre_level_kpis', genre_level_kpis(root, run_date), run_date)} rows"
    if task == "hourly":
        return f"hourly: {upsert(db_path, 'hourly_kpis', hourly_kpis(root, run_date, gap_minutes), run_date)} rows"
    raise ValueError(f"unknown task {task!r}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="The seed approach (pandas DAG tasks) for one day.")
    ap.add_argument("--input", required=True, type=Path)
    ap.add_argument("--date", required=True)
    ap.add_argument("--db", required=True, type=Path, help="SQLite file standing in for the warehouse")
    ap.add_argument("--gap", type=int, default=30)
    ap.add_argument(
        "--task",
        choices=TASKS + ("all",),
        default="all",
        help="one task in this process, or all: each task in its own process (default)",
    )
    a = ap.parse_args(argv)
    if a.task != "all":
        print(f"seed {run_task(a.task, a.input, a.date, a.db, a.gap)}", flush=True)
        return 0
    a.db.unlink(missing_ok=True)
    for task in TASKS:  # validate >> genre >> hourly, one process per task like Airflow's workers
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--input",
                str(a.input),
                "--date",
                a.date,
                "--db",
                str(a.db),
                "--gap",
                str(a.gap),
                "--task",
                task,
            ]
        )
        if done.returncode != 0:
            print(f"seed: task {task} failed ({done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
