"""Independent reference implementation of the KPI spec (shared/KPI_SPEC.md).

Deliberately simple and slow: only the standard library (csv, datetime, re, collections),
straightforward loops, one rule per function. It must never import the library under test:
its whole point is to be a second, independent reading of the spec and of the lead's
decisions where the spec is silent (written down in the docstrings below as "decision N").

    ref = reference_run(input_root, "2024-06-25", session_gap_minutes=30, partition_lookaround_days=1)
    ref.genre_rows   # list of dicts, genre_level_kpis columns, listen_date a datetime.date
    ref.hourly_rows  # list of dicts, hourly_kpis columns
    ref.counts       # dict with the keys of IngestSummary.counts
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

GENRE_COLUMNS = [
    "listen_date",
    "track_genre",
    "listen_count",
    "popularity_index",
    "average_duration",
    "most_popular_track_id",
]
HOURLY_COLUMNS = [
    "listen_date",
    "listen_hour",
    "unique_listeners",
    "listen_counts",
    "top_artist",
    "avg_sessions_per_user",
    "diversity_index",
    "most_engaged_age_group",
]
COUNT_KEYS = [
    "rows_read",
    "other_date",
    "bad_stream",
    "duplicate_stream",
    "unknown_track",
    "valid_streams",
    "unknown_user_streams",
    "bad_song",
    "duplicate_track_rows",
    "bad_user_rows",
    "duplicate_user_rows",
    "unknown_age_users",
]
# Age groups, youngest first (the order is the tie-break: "ties: the younger group").
AGE_GROUPS = [
    ("<18", 13, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65+", 65, 120),
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass
class Reference:
    genre_rows: list = field(default_factory=list)
    hourly_rows: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    # extras, handy when debugging a mismatch
    valid_streams: list = field(default_factory=list)  # (user_id, track_id, utc datetime)
    tracks: dict = field(default_factory=dict)  # track_id -> dict(genre, duration_ms, artists)
    user_ages: dict = field(default_factory=dict)  # user_id -> int age or None
    stream_rejects: list = field(default_factory=list)  # (file, user_id, track_id, listen_time, reason)


# --------------------------------------------------------------------------- parsing rules

_LISTEN_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d+))?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_listen_time(text: str):
    """Decision 2: `YYYY-MM-DD HH:MM:SS` or with `T`, optional fraction, optional offset
    (`Z`, `+HH:MM`, `-HH:MM`, `+HHMM`, `+HH`). Returns a naive UTC datetime, or None."""
    s = text.strip()
    m = _LISTEN_TIME_RE.match(s)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    fraction = m.group(7)
    micro = 0
    if fraction is not None:
        # the generator never writes more than 6 digits; pad to microseconds
        micro = int((fraction + "000000")[:6])
    try:
        local = datetime(year, month, day, hour, minute, second, micro)
    except ValueError:  # 24:00:00, Feb 30, second 60, ...
        return None
    offset = m.group(8)
    if offset is None or offset == "Z":
        return local
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    off_h = int(digits[:2])
    off_m = int(digits[2:4]) if len(digits) > 2 else 0
    if off_h > 23 or off_m > 59:
        return None
    return local - sign * timedelta(hours=off_h, minutes=off_m)


_INT_RE = re.compile(r"^[+-]?\d+$")


def parse_user_id(text: str):
    """Decision 3c / 6: optional sign + digits, fitting in 64 bits. Else None."""
    s = text.strip()
    if not _INT_RE.match(s):
        return None
    value = int(s)
    if value < INT64_MIN or value > INT64_MAX:
        return None
    return value


_AGE_RE = re.compile(r"^(\d+)(?:\.0+)?$")


def parse_age(text: str):
    """Decision 6: whole number written as digits, optionally `.0...`, within 13..120."""
    s = text.strip()
    m = _AGE_RE.match(s)
    if m is None:
        return None
    age = int(m.group(1))
    if 13 <= age <= 120:
        return age
    return None


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_duration(text: str):
    """Decision 4: a finite number > 0 (`1.5e5` is a number). Else None."""
    s = text.strip()
    if not _NUMBER_RE.match(s):
        return None
    value = float(s)
    if not math.isfinite(value) or value <= 0:
        return None
    return value


def split_artists(text: str):
    """Decision 5: split on `;`, trim, drop empties, each artist once per track (first-seen order)."""
    out = []
    for part in text.split(";"):
        name = part.strip()
        if name and name not in out:
            out.append(name)
    return out


def age_group(age):
    if age is None:
        return None
    for name, lo, hi in AGE_GROUPS:
        if lo <= age <= hi:
            return name
    return None


# --------------------------------------------------------------------------- reading files


def _read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else value


def load_catalog(songs_path: Path, counts: Counter):
    """Decision 4: bad songs removed first, then first remaining row per track_id wins."""
    tracks = {}
    for row in _read_csv(songs_path):
        track_id = _cell(row, "track_id").strip()
        genre = _cell(row, "track_genre").strip()
        duration = parse_duration(_cell(row, "duration_ms"))
        if track_id == "" or genre == "" or duration is None:
            counts["bad_song"] += 1
            continue
        if track_id in tracks:
            counts["duplicate_track_rows"] += 1
            continue
        tracks[track_id] = {
            "genre": genre,
            "duration_ms": duration,
            "artists": split_artists(_cell(row, "artists")),
        }
    return tracks


def load_users(users_path: Path, counts: Counter):
    """Decision 6: bad user ids ignored; first row per user id kept, even with a bad age."""
    ages = {}
    for row in _read_csv(users_path):
        user_id = parse_user_id(_cell(row, "user_id"))
        if user_id is None:
            counts["bad_user_rows"] += 1
            continue
        if user_id in ages:
            counts["duplicate_user_rows"] += 1
            continue
        ages[user_id] = parse_age(_cell(row, "user_age"))
    counts["unknown_age_users"] = sum(1 for a in ages.values() if a is None)
    return ages


_DATED_FOLDER_RE = re.compile(r"^(?:date=)?([0-9]{4})-([0-9]{2})-([0-9]{2})$")


def dated_folder(name: str):
    """Decision 10: a folder named `YYYY-MM-DD` or `date=YYYY-MM-DD` (a real date) holds that date's
    files. Returns the date, or None for any other name."""
    m = _DATED_FOLDER_RE.match(name)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def stream_files(input_root: Path, run_date: date, lookaround_days: int):
    """Decision 9: every *.csv under streams/, any depth, sorted path order; decision 10: except the
    files of a dated folder directly under streams/ more than `lookaround_days` days from the run date."""
    base = Path(input_root) / "streams"
    found = []
    for p in sorted(base.rglob("*.csv")):
        parts = p.relative_to(base).parts
        folder_day = dated_folder(parts[0]) if len(parts) > 1 else None
        if folder_day is not None and abs((folder_day - run_date).days) > lookaround_days:
            continue
        if p.is_file():
            found.append(p)
    return found


def load_valid_streams(
    input_root: Path, run_date: date, tracks: dict, counts: Counter, rejects: list, lookaround_days: int
):
    """Decision 3: (a) bad time, (b) other date, (c) bad user/track, (d) duplicate, (e) unknown track."""
    valid = []
    seen = set()
    for path in stream_files(input_root, run_date, lookaround_days):
        for row in _read_csv(path):
            counts["rows_read"] += 1
            raw_user = _cell(row, "user_id")
            raw_track = _cell(row, "track_id")
            raw_time = _cell(row, "listen_time")

            def reject(reason):
                counts[reason] += 1
                rejects.append((str(path), raw_user, raw_track, raw_time, reason))  # noqa: B023 (called in this iteration)

            instant = parse_listen_time(raw_time)
            if instant is None:
                reject("bad_stream")
                continue
            if instant.date() != run_date:
                counts["other_date"] += 1
                continue
            user_id = parse_user_id(raw_user)
            track_id = raw_track.strip()
            if user_id is None or track_id == "":
                reject("bad_stream")
                continue
            key = (user_id, track_id, instant)
            if key in seen:
                reject("duplicate_stream")
                continue
            seen.add(key)
            if track_id not in tracks:
                reject("unknown_track")
                continue
            valid.append(key)
    return valid


# --------------------------------------------------------------------------- KPIs


def _argmax_smallest(counter: dict):
    """Key with the highest count; ties: smallest key by code point (Python str order)."""
    if not counter:
        return None
    best = max(counter.values())
    return min(k for k, v in counter.items() if v == best)


def genre_kpis(valid, tracks, run_date):
    total = len(valid)
    by_genre = defaultdict(list)
    for _user_id, track_id, _instant in valid:
        by_genre[tracks[track_id]["genre"]].append(track_id)
    rows = []
    for genre, track_ids in by_genre.items():
        n = len(track_ids)
        durations = [tracks[t]["duration_ms"] / 1000 for t in track_ids]
        rows.append(
            {
                "listen_date": run_date,
                "track_genre": genre,
                "listen_count": n,
                "popularity_index": n / total,
                "average_duration": math.fsum(durations) / n,
                "most_popular_track_id": _argmax_smallest(Counter(track_ids)),
            }
        )
    rows.sort(key=lambda r: r["track_genre"])
    return rows


def assign_sessions(valid, session_gap_minutes):
    """Decision 7: per user, ordered by time; new session when gap > session_gap (strictly).
    Returns a list parallel to `valid` with the session number of each stream."""
    gap = timedelta(minutes=session_gap_minutes)
    order_by_user = defaultdict(list)
    for index, (user_id, _track_id, instant) in enumerate(valid):
        order_by_user[user_id].append((instant, index))
    session_of = [None] * len(valid)
    for items in order_by_user.values():
        items.sort()
        session = 0
        previous = None
        for instant, index in items:
            if previous is not None and instant - previous > gap:
                session += 1
            session_of[index] = session
            previous = instant
    return session_of


def hourly_kpis(valid, tracks, user_ages, run_date, session_gap_minutes):
    session_of = assign_sessions(valid, session_gap_minutes)
    by_hour = defaultdict(list)
    for index, stream in enumerate(valid):
        by_hour[stream[2].hour].append(index)
    rows = []
    for hour in sorted(by_hour):
        indexes = by_hour[hour]
        n = len(indexes)
        users = set()
        sessions = set()
        artist_counts = Counter()
        genre_counts = Counter()
        age_counts = Counter()
        for index in indexes:
            user_id, track_id, instant = valid[index]
            users.add(user_id)
            sessions.add((user_id, session_of[index]))
            for artist in tracks[track_id]["artists"]:
                artist_counts[artist] += 1
            genre_counts[tracks[track_id]["genre"]] += 1
            group = age_group(user_ages.get(user_id))
            if group is not None:
                age_counts[group] += 1
        if age_counts:
            best = max(age_counts.values())
            engaged = next(name for name, _, _ in AGE_GROUPS if age_counts.get(name) == best)
        else:
            engaged = None
        rows.append(
            {
                "listen_date": run_date,
                "listen_hour": hour,
                "unique_listeners": len(users),
                "listen_counts": n,
                "top_artist": _argmax_smallest(artist_counts),
                "avg_sessions_per_user": len(sessions) / len(users),
                "diversity_index": 1 - math.fsum((c / n) ** 2 for c in genre_counts.values()),
                "most_engaged_age_group": engaged,
            }
        )
    return rows


# --------------------------------------------------------------------------- entry point


def _as_date(run_date) -> date:
    if isinstance(run_date, datetime):
        return run_date.date()
    if isinstance(run_date, date):
        return run_date
    return date.fromisoformat(str(run_date))


def reference_run(input_root, run_date, session_gap_minutes: int = 30, partition_lookaround_days: int = 1) -> Reference:
    input_root = Path(input_root)
    run_date = _as_date(run_date)
    counts = Counter({k: 0 for k in COUNT_KEYS})
    rejects = []
    tracks = load_catalog(input_root / "songs.csv", counts)
    user_ages = load_users(input_root / "users.csv", counts)
    valid = load_valid_streams(input_root, run_date, tracks, counts, rejects, partition_lookaround_days)
    counts["valid_streams"] = len(valid)
    counts["unknown_user_streams"] = sum(1 for u, _, _ in valid if u not in user_ages)
    return Reference(
        genre_rows=genre_kpis(valid, tracks, run_date),
        hourly_rows=hourly_kpis(valid, tracks, user_ages, run_date, session_gap_minutes),
        counts={k: int(counts[k]) for k in COUNT_KEYS},
        valid_streams=valid,
        tracks=tracks,
        user_ages=user_ages,
        stream_rejects=rejects,
    )
