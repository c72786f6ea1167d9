"""``streams/`` of the sample input: a day of listening for every date, with the planted dirty rows.

A date is written in parts (one per ~1M rows, at least two), so memory stays bounded by a part; all
of a user's streams of a date are in one part. The rows of the 20 minutes around each midnight are
drawn apart, and some of them go into the neighbouring date's folder, as late or early exports do.

A date's volume varies (busier weekends, a slight upward trend, noise), and chosen dates can have an
incident: a ``cutoff`` export, a ``stale_catalog`` or a ``volume_drop``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.sample_catalog import Catalog, Users
from tools.sample_columns import (
    CLOCK,
    DAY,
    DAY_PLAN,
    MIDNIGHT,
    STALE_CATALOG,
    STREAM_PART,
    VOLUME,
    random_stream,
    random_track_ids,
)

STREAM_HEADER = "user_id,track_id,listen_time"

# UTC listening curve, relative weight of each hour 0..23: low at 3-5h, evening peak.
HOURLY = np.array(
    [3.0, 2.0, 1.3, 0.8, 0.7, 1.0, 2.0, 3.5, 4.5, 4.8, 5.0, 5.2]  # 0-11h
    + [5.5, 5.5, 5.4, 5.5, 5.8, 6.2, 6.8, 7.3, 7.5, 7.0, 5.8, 4.3]  # 12-23h
)
EDGE = 600  # regular rows are in [00:10, 23:50); the 20 minutes around midnight are drawn apart
WINDOW_START, WINDOW_END = EDGE, DAY - EDGE
PART_ROWS = 1_000_000  # target rows of a stream part
FLAT_FILE_ROWS = 2_000_000  # target rows of a file of the flat layout
MEAN_STREAMS_PER_ACTIVE_USER = 12
NEW_SESSION_P = 0.2  # probability that a stream (not a user's first of the day) opens a session

# A date's volume: streams_per_day x weekday factor x trend x noise (see StreamWriter.volume_factor).
WEEKDAY_VOLUME = (1.0, 1.0, 1.0, 1.0, 1.05, 1.2, 1.15)  # Monday..Sunday
TREND_PER_DAY = 0.002  # +0.2 % a day from the first date
VOLUME_NOISE_SD = 0.025
INCIDENTS = ("cutoff", "stale_catalog", "volume_drop")
CUTOFF = 18 * 3600  # a cut-off export holds none of its date's rows from 18:00 UTC on
STALE_SHARE = 0.2  # of a stale_catalog date's regular rows play a new release songs.csv lacks
VOLUME_DROP = 0.5

# The planted bad rows, as line templates; the last three have no parseable listen_time.
BAD_STREAM_LINES = {
    "empty_user_id": ",{track},{time}",
    "user_id_u123": "u{user},{track},{time}",
    "user_id_12.5": "{user}.5,{track},{time}",
    "empty_track_id": "{user},,{time}",
    "time_not-a-time": "{user},{track},not-a-time",
    "time_25:61": "{user},{track},{date} 25:61:00",
    "time_empty": "{user},{track},",
}
UNPARSEABLE = {"time_not-a-time", "time_25:61", "time_empty"}
ISO_STYLES = ("T", "T_Z", "frac", "T_frac_Z", "+02:00", "-05:00")
# For each planted bad variant and ISO style, a day has `per_kind` rows; and 4 * `per_kind` each of
# unknown tracks, unknown users and duplicates.
UNKNOWN_AND_DUPLICATES = 4

INSERT, REPLACE = 0, 1  # edits of a part: insert a line before a row, or write it instead of the row


class PlantedRow(NamedTuple):
    kind: str  # bad_stream, unknown_track or unknown_user
    variant: str | None
    line: str  # without its newline
    time: int | None  # epoch seconds; None: unparseable, goes anywhere in its part


class DayPlan(NamedTuple):
    planted: list[list[PlantedRow]]  # by part
    iso: list[list[str]]  # by part: ISO styles (or "cross") to rewrite a row's listen_time in
    duplicates: list[tuple[int, int]]  # (part of the original row, part its copy goes into)


def format_time(epoch_seconds: int, style: str = "plain", fraction: int = 0) -> str:
    """A listen_time: ``plain`` (``YYYY-MM-DD HH:MM:SS``) or one of ISO_STYLES, at the same instant."""
    t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(epoch_seconds))
    if style == "plain":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if style == "T":
        return t.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "T_Z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "frac":
        return t.strftime("%Y-%m-%d %H:%M:%S") + f".{fraction % 1000:03d}"
    if style == "T_frac_Z":
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:06d}Z"
    offset = re.fullmatch(r"([+-])(\d\d):(\d\d)", style)
    if offset:  # local time with an explicit offset
        sign = 1 if offset.group(1) == "+" else -1
        local = t + sign * dt.timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return local.strftime("%Y-%m-%dT%H:%M:%S") + style
    raise ValueError(style)


def iso_candidates(style: str, second_of_day: np.ndarray) -> np.ndarray:
    """Rows that may be rewritten in `style`.

    With an offset the local date must stay the UTC date, except for ``cross`` (written ``+02:00``),
    whose local date must be the next day.
    """
    if style == "+02:00":
        return second_of_day < DAY - 2 * 3600
    if style == "-05:00":
        return second_of_day >= 5 * 3600
    if style == "cross":
        return second_of_day >= DAY - 2 * 3600
    return np.ones(len(second_of_day), bool)


def squeeze_per_user(user: np.ndarray, t: np.ndarray, lo: int, length: int, only_overflowing: bool) -> np.ndarray:
    """Make each user's times distinct and inside ``[lo, lo + length)``, keeping their order.

    `user` must be grouped (contiguous per user) and `t` non-decreasing inside each group. A
    squeezed user's times become ``lo + floor(x * (length - n) / span) + rank``, ``x`` being
    ``t - lo`` and ``n`` the user's number of times. With `only_overflowing`, only the users whose
    last time is past the window are squeezed (``span``: up to that time); otherwise all are
    (``span``: `length`).
    """
    n = len(user)
    if n == 0:
        return t
    first = np.flatnonzero(np.concatenate([[True], user[1:] != user[:-1]]))
    size = np.diff(np.append(first, n))
    if size.max() > length:
        raise ValueError(
            f"a user would need {size.max()} streams in a {length}-second window; "
            "increase the number of users (--users) or lower --streams-per-day"
        )
    last = t[first + size - 1]
    squeezed = (last >= lo + length) if only_overflowing else np.ones(len(first), bool)
    if not squeezed.any():
        return t
    rows = squeezed[np.repeat(np.arange(len(first)), size)]
    rank = np.arange(n) - np.repeat(first, size)
    x = t[rows] - lo
    span = np.repeat(last - lo + 1, size)[rows] if only_overflowing else np.full(rows.sum(), length)
    count = np.repeat(size, size)[rows]
    t = t.copy()
    t[rows] = lo + (x * (length - count)) // span + rank[rows]
    return t


class StreamLineFormatter:
    """The ``user_id,track_id,YYYY-MM-DD HH:MM:SS\\n`` lines of many rows at once.

    Each line is first a fixed-width numpy record, the user id zero-padded (looked up in tables of
    up to 4 digits); an Arrow copy then drops each line's leading zeros.
    """

    def __init__(self, track_ids: np.ndarray, first_date: np.datetime64, n_dates: int, max_user: int):
        self.track_ids = track_ids  # S22
        self.user_digits = len(str(max_user))
        self.dates = np.array([str(first_date + np.timedelta64(k, "D")) for k in range(n_dates)], "S10")
        n_groups = -(-self.user_digits // 4)
        self.group_digits = [self.user_digits - 4 * (n_groups - 1)] + [4] * (n_groups - 1)  # most significant first
        self.tables = {w: np.array([b"%0*d" % (w, k) for k in range(10**w)], f"S{w}") for w in set(self.group_digits)}
        fields = [(f"user{g}", f"S{w}") for g, w in enumerate(self.group_digits)]
        fields += [("comma1", "S1"), ("track", "S22"), ("comma2", "S1"), ("date", "S10"), ("space", "S1")]
        self.dtype = np.dtype([*fields, ("clock", "S8"), ("newline", "S1")])
        self.powers_of_ten = 10 ** np.arange(1, self.user_digits + 1, dtype=np.int64)
        self._records = self._views = None  # reused from part to part (no page faults for each part)

    def format(
        self, user: np.ndarray, track: np.ndarray, date_index: np.ndarray, second_of_day: np.ndarray
    ) -> tuple[memoryview, np.ndarray]:
        """The lines' bytes, and the offsets of the lines in them (``len(user) + 1`` values)."""
        n, width = len(user), self.dtype.itemsize
        if self._records is None or len(self._records) < n:
            self._records = np.empty(max(n, 1), self.dtype)
            self._views = np.empty((max(n, 1), 4), np.int32)
        records = self._records[:n]
        rest = user.astype(np.int64)
        for g in reversed(range(len(self.group_digits))):
            digits = self.group_digits[g]
            records[f"user{g}"] = self.tables[digits][rest % 10**digits]
            rest //= 10**digits
        records["comma1"] = records["comma2"] = b","
        records["track"] = self.track_ids[track]
        records["date"] = self.dates[date_index]
        records["space"] = b" "
        records["clock"] = CLOCK[second_of_day]
        records["newline"] = b"\n"
        padding = self.user_digits - 1 - np.searchsorted(self.powers_of_ten, user, side="right")  # leading zeros
        return self._strip(records.view(np.uint8).reshape(n, width), padding, self._views[:n])

    @staticmethod
    def _strip(raw: np.ndarray, padding: np.ndarray, views: np.ndarray) -> tuple[memoryview, np.ndarray]:
        """The lines of `raw` without their first `padding` bytes, copied by Arrow (a C++ loop).

        `views` is filled as a binary_view array over `raw`: (length, first 4 bytes, buffer,
        offset) per line; every line is longer than 12 bytes, so none is inlined.
        """
        n, width = raw.shape
        views[:, 0] = width - padding
        for skip in np.flatnonzero(np.bincount(padding)).tolist():
            rows = np.flatnonzero(padding == skip)
            views[rows, 1] = np.ascontiguousarray(raw[rows, skip : skip + 4]).view(np.int32)[:, 0]
        views[:, 2] = 0
        views[:, 3] = np.arange(n, dtype=np.int32) * np.int32(width) + padding
        lines = pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(raw.reshape(-1))])
        compact = pc.cast(lines, pa.large_binary())
        offsets = np.frombuffer(compact.buffers()[1], np.int64)[: n + 1]
        return memoryview(compact.buffers()[2])[: int(offsets[-1])], offsets


class StreamWriter:
    """Writes ``streams/`` (:meth:`run`) and counts what it wrote, by file, date and planted kind."""

    def __init__(
        self,
        *,
        out: Path,
        layout: str,
        start: dt.date,
        days: int,
        streams_per_day: int,
        n_users: int,
        seed: int,
        dirty: bool,
        catalog: Catalog,
        users: Users,
        variation: bool = True,
        incidents: dict[int, str] | None = None,
    ):
        self.streams_dir = out / "streams"
        self.layout, self.days, self.n_users, self.seed, self.dirty = layout, days, n_users, seed, dirty
        self.variation, self.incidents = variation, dict(incidents or {})
        self.first_weekday = start.weekday()
        self.start = np.datetime64(start, "D")
        self.first_midnight = int(self.start.astype("datetime64[s]").astype(np.int64))  # epoch seconds
        self.track_ids, self.track_cdf = catalog.track_ids, catalog.track_cdf
        self.track_p = np.diff(self.track_cdf, prepend=0.0)
        self.all_ids_sorted, self.rejected_ids = catalog.all_ids_sorted, catalog.rejected_ids
        self.weight = users.weight
        self.user_cdf = np.cumsum(self.weight)
        self.user_cdf /= self.user_cdf[-1]
        self.n_parts = max(2, math.ceil(streams_per_day / PART_ROWS))
        if n_users < self.n_parts:
            raise ValueError(f"need at least {self.n_parts} users for {self.n_parts} parts per day")
        # the daily curve, per minute
        minutes = (np.arange(1440) + 0.5) / 60.0
        density = np.interp(minutes, np.arange(24) + 0.5, HOURLY, period=24)
        total = density.sum()
        # by day index, from the day before the range (its evening is written) to the day after it
        self.volume = {day: self.volume_factor(day) for day in range(-1, days + 1)}
        self.day_rows = {day: int(round(streams_per_day * factor)) for day, factor in self.volume.items()}
        self.n_before_midnight = {d: int(round(n * (density[1430:].sum() / total))) for d, n in self.day_rows.items()}
        self.n_after_midnight = {d: int(round(n * (density[:10].sum() / total))) for d, n in self.day_rows.items()}
        regular = np.cumsum(density[10:1430])
        self.minute_cdf = regular / regular[-1]
        # planted rows of each kind a day grow with the 4th root of the day's size; the same every day
        self.per_kind = max(1, int(round((streams_per_day / 30_000) ** 0.25))) if dirty else 0
        n_planted = (len(BAD_STREAM_LINES) + 3 * UNKNOWN_AND_DUPLICATES) * self.per_kind
        self.n_regular = {}
        for day in range(days):
            n_day = self.day_rows[day]
            self.n_regular[day] = n_day - self.n_before_midnight[day] - self.n_after_midnight[day] - n_planted
            if self.n_regular[day] < 20 * self.n_parts:
                needed = math.ceil((n_day - self.n_regular[day] + 20 * self.n_parts) * streams_per_day / max(n_day, 1))
                raise ValueError(f"streams_per_day={streams_per_day} is too small (need >= {needed})")
        self.mean_weight = float(self.weight.mean())
        self.cutoff_days = np.array(sorted(d for d, kind in self.incidents.items() if kind == "cutoff"), np.int64)
        # each stale_catalog date's new releases: made-up ids, after the catalog's in the formatter's table
        line_track_ids = [self.track_ids]
        self.new_releases: dict[int, tuple[int, int]] = {}  # day -> (first index, number)
        for day in sorted(d for d, kind in self.incidents.items() if kind == "stale_catalog"):
            made_up = random_track_ids(random_stream(seed, STALE_CATALOG, day), max(20, len(self.track_ids) // 200))
            nearest = np.minimum(np.searchsorted(self.all_ids_sorted, made_up), len(self.all_ids_sorted) - 1)
            made_up = made_up[self.all_ids_sorted[nearest] != made_up]
            self.new_releases[day] = (sum(len(ids) for ids in line_track_ids), len(made_up))
            line_track_ids.append(made_up)
        self.line_track_ids = np.concatenate(line_track_ids)
        self.formatter = StreamLineFormatter(
            self.line_track_ids, self.start - np.timedelta64(1, "D"), days + 2, n_users
        )
        self._midnight_cache: dict[int, dict] = {}
        self.n_flat_files = max(3, math.ceil(days * streams_per_day / FLAT_FILE_ROWS))
        self.pending_duplicates: dict[int, list[tuple[int, str]]] = {}  # by part: (time, line)
        # what was written
        self.files: list[Path] = []
        self.file_rows: Counter[Path] = Counter()
        self.rows_total = 0
        self.rows_by_date: Counter[str] = Counter()  # by listen date (parseable times)
        self.unparseable_by_date: Counter[str] = Counter()  # by the date whose quota they belong to
        self.planted_by_date: defaultdict[str, Counter[str]] = defaultdict(Counter)  # date -> kind -> rows
        self.planted_detail: Counter[str] = Counter()  # "kind:variant" -> rows

    def date_of(self, day: int) -> str:
        return str(self.start + np.timedelta64(day, "D"))

    def volume_factor(self, day: int) -> float:
        """How many times `streams_per_day` the date of index `day` has (1 without variation or incident)."""
        factor = VOLUME_DROP if self.incidents.get(day) == "volume_drop" else 1.0
        if not self.variation:
            return factor
        noise = random_stream(self.seed, VOLUME, day + 1).normal(0.0, VOLUME_NOISE_SD)
        weekday = WEEKDAY_VOLUME[(self.first_weekday + day) % 7]
        return factor * weekday * (1.0 + TREND_PER_DAY * day) * (1.0 + noise)

    def cut_off(self, time: np.ndarray) -> np.ndarray:
        """Which of the epoch seconds `time` fall in a cut-off export's missing evening."""
        since = time - self.first_midnight
        return np.isin(since // DAY, self.cutoff_days) & (since % DAY >= CUTOFF)

    def make_stale(self, day: int, part: int, track: np.ndarray) -> np.ndarray:
        """On a stale_catalog date, point about STALE_SHARE of `track` at new releases; which ones."""
        if day not in self.new_releases:
            return np.zeros(len(track), bool)
        first, n_new = self.new_releases[day]
        rng = random_stream(self.seed, STALE_CATALOG, day, part)
        stale = rng.random(len(track)) < STALE_SHARE
        # squared uniforms: a few new releases get most of the plays, as hits do
        track[stale] = first + (n_new * rng.random(int(stale.sum())) ** 2).astype(track.dtype)
        return stale

    def run(self) -> None:
        self.streams_dir.mkdir(parents=True, exist_ok=True)
        parts = range(self.n_parts)
        for day in range(self.days):
            n_regular = self.n_regular[day]
            part_rows = [n_regular // self.n_parts + (1 if p < n_regular % self.n_parts else 0) for p in parts]
            plan = self.day_plan(day)
            midnights = [self.midnight_rows(day), self.midnight_rows(day + 1)]
            self.pending_duplicates = {}
            for part in parts:
                if self.layout == "by-date":
                    path = self.streams_dir / self.date_of(day) / f"part-{part:03d}.csv"
                else:
                    path = self.streams_dir / f"streams{(day * self.n_parts + part) % self.n_flat_files + 1}.csv"
                self.write_part(day, part, part_rows[part], plan, midnights, path)

    def _count(self, date: str, kind: str, variant: str | None = None) -> None:
        self.planted_by_date[date][kind] += 1
        if variant:
            self.planted_detail[f"{kind}:{variant}"] += 1

    def draw_tracks(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` track indices drawn from the streams' popularity (a multinomial, shuffled: fast)."""
        tracks = np.repeat(np.arange(len(self.track_p), dtype=np.int32), rng.multinomial(n, self.track_p))
        rng.shuffle(tracks)
        return tracks

    def midnight_rows(self, day: int) -> dict:
        """The rows of the 20 minutes around the midnight that starts `day`.

        Keys ``user``, ``track``, ``time`` (epoch seconds), and the ``folder`` (day index) and
        ``part`` each row is written into. Rows of dates outside the range are kept only when their
        folder is in it.
        """
        if day in self._midnight_cache:
            return self._midnight_cache[day]
        rng = random_stream(self.seed, MIDNIGHT, day)
        midnight = self.first_midnight + day * DAY
        pieces = []
        for listen_day, lo, n in (
            (day - 1, midnight - EDGE, self.n_before_midnight[day - 1]),
            (day, midnight, self.n_after_midnight[day]),
        ):
            if n == 0:
                continue
            user = np.searchsorted(self.user_cdf, rng.random(n), side="right") + 1
            time = rng.integers(lo, lo + EDGE, n)
            order = np.lexsort((time, user))
            user, time = user[order], time[order]
            time = squeeze_per_user(user, time, lo, EDGE, only_overflowing=False)
            track = self.draw_tracks(rng, n)
            # exported up to 5 minutes early or 10 late: some rows land in the neighbouring date's folder
            folder = (time + rng.integers(-300, 601, n) - self.first_midnight) // DAY
            keep = ((0 <= listen_day < self.days) | ((folder >= 0) & (folder < self.days))) & ~self.cut_off(time)
            folder = np.clip(folder[keep], 0, self.days - 1)
            pieces.append({"user": user[keep], "track": track[keep], "time": time[keep], "folder": folder})
        rows = {key: np.concatenate([p[key] for p in pieces]) for key in ("user", "track", "time", "folder")}
        rows["part"] = (rows["user"] - 1) % self.n_parts  # the part of the user's regular rows
        self._midnight_cache = {k: v for k, v in self._midnight_cache.items() if k >= day - 1}
        self._midnight_cache[day] = rows
        return rows

    def regular_rows(self, rng: np.random.Generator, day: int, part: int, n_rows: int):
        """`n_rows` streams of the part's users on `day`, in sessions, inside [00:10, 23:50).

        Returns (user, track index, epoch seconds), grouped by user.
        """
        users = np.arange(part + 1, self.n_users + 1, self.n_parts)
        weight = self.weight[users - 1]
        active_p = min(1.0, self.day_rows[day] / (MEAN_STREAMS_PER_ACTIVE_USER * self.n_users))
        active = rng.random(len(users)) < np.minimum(1.0, active_p * weight / self.mean_weight)
        if not active.any():
            active[np.argmax(weight)] = True
        users, weight = users[active], weight[active]
        counts = rng.multinomial(n_rows, weight / weight.sum())
        users, counts = users[counts > 0], counts[counts > 0]
        n_listeners = len(users)
        listener = np.repeat(np.arange(n_listeners), counts)  # of each row
        rank = np.arange(n_rows) - np.concatenate([[0], np.cumsum(counts)[:-1]])[listener]
        opens = rng.random(n_rows) < NEW_SESSION_P  # the row opens a session
        opens[rank == 0] = True
        session = np.cumsum(opens) - 1  # of each row
        session_first = np.flatnonzero(opens)
        n_sessions = len(session_first)
        session_listener = listener[session_first]
        # session starts follow the daily curve; sorted per user
        minute = np.searchsorted(self.minute_cdf, rng.random(n_sessions), side="right") + 10
        start = minute * 60 + rng.integers(0, 60, n_sessions)
        start = np.sort(session_listener * DAY + start) - session_listener * DAY
        # inside a session, a song's length apart, sometimes a skip
        gap = np.clip(np.round(np.exp(rng.normal(math.log(200), 0.3, n_rows))), 40, 900)
        gap = np.where(rng.random(n_rows) < 0.12, rng.integers(15, 40, n_rows), gap).astype(np.int64)
        gap[opens] = 0
        elapsed = np.cumsum(gap)
        offset = elapsed - elapsed[session_first][session]  # seconds since the session's start
        duration = offset[np.append(session_first[1:], n_rows) - 1]
        # a user's sessions never overlap and are more than 30 minutes apart: a session starts no
        # earlier than its drawn start nor than the end (plus a gap) of the user's session before
        block = duration + 1860 + rng.integers(0, 1800, n_sessions)
        first_session = np.searchsorted(session_listener, np.arange(n_listeners))  # of each user
        blocks_before = np.cumsum(block) - block
        blocks_before -= blocks_before[first_session][session_listener]  # the user's blocks before
        big = np.int64(1) << 36  # keeps the running maximum inside each user
        latest = np.maximum.accumulate(start - blocks_before + session_listener * big) - session_listener * big
        start = blocks_before + latest
        window_length = WINDOW_END - WINDOW_START
        second = squeeze_per_user(listener, start[session] + offset, WINDOW_START, window_length, only_overflowing=True)
        track = self.draw_tracks(rng, n_rows)
        return users[listener], track, self.first_midnight + day * DAY + second

    def day_plan(self, day: int) -> DayPlan:
        """The planted rows of `day`, and the parts they go into."""
        n_parts, per_kind = self.n_parts, self.per_kind
        if not self.dirty:
            return DayPlan([[] for _ in range(n_parts)], [[] for _ in range(n_parts)], [])
        rng = random_stream(self.seed, DAY_PLAN, day)
        date = self.date_of(day)
        end = CUTOFF if self.incidents.get(day) == "cutoff" else WINDOW_END  # planted rows survive a cutoff
        window = (self.first_midnight + day * DAY + WINDOW_START, self.first_midnight + day * DAY + end)
        n_extra = UNKNOWN_AND_DUPLICATES * per_kind
        planted = []
        # bad rows; the draw's size (n_extra more than used) is part of the random stream
        n_bad = len(BAD_STREAM_LINES) * per_kind
        bad_tracks = rng.choice(len(self.track_ids), size=min(len(self.track_ids), n_bad + n_extra), replace=False)
        bad_tracks = iter(bad_tracks.tolist())
        for variant in [v for v in BAD_STREAM_LINES for _ in range(per_kind)]:
            user = int(rng.integers(1, self.n_users + 1))
            time = int(rng.integers(*window))
            track = self.track_ids[next(bad_tracks, 0)].decode()
            line = BAD_STREAM_LINES[variant].format(user=user, track=track, time=format_time(time), date=date)
            planted.append(PlantedRow("bad_stream", variant, line, None if variant in UNPARSEABLE else time))
        # tracks not in the cleaned catalog: made-up ids, and one that is only on a rejected songs.csv row
        made_up = random_track_ids(rng, n_extra + 8)
        nearest = np.minimum(np.searchsorted(self.all_ids_sorted, made_up), len(self.all_ids_sorted) - 1)
        unknown = [x.decode() for x in made_up[self.all_ids_sorted[nearest] != made_up][:n_extra]]
        if len(self.rejected_ids):
            unknown[0] = self.rejected_ids[day % len(self.rejected_ids)].decode()
        for j, track in enumerate(unknown):
            user = int(rng.integers(1, self.n_users + 1))
            time = int(rng.integers(*window))
            variant = "rejected_song" if (j == 0 and len(self.rejected_ids)) else "not_in_catalog"
            planted.append(PlantedRow("unknown_track", variant, f"{user},{track},{format_time(time)}", time))
        # users not in users.csv (valid streams, age unknown)
        for j in range(n_extra):
            user = self.n_users + 1 + day * n_extra + j
            time = int(rng.integers(*window))
            track = self.track_ids[int(np.searchsorted(self.track_cdf, rng.random(), side="right"))].decode()
            planted.append(PlantedRow("unknown_user", None, f"{user},{track},{format_time(time)}", time))
        by_part = [[] for _ in range(n_parts)]
        for row, part in zip(planted, rng.integers(0, n_parts, len(planted)).tolist()):
            by_part[part].append(row)
        iso = [[] for _ in range(n_parts)]
        for style in [s for s in ISO_STYLES for _ in range(per_kind)] + ["cross"]:
            iso[int(rng.integers(0, n_parts))].append(style)
        duplicates = []  # copied from a part into the same or a later one
        for j in range(n_extra):
            source = int(rng.integers(0, n_parts))
            target = int(rng.integers(source, n_parts))
            duplicates.append((0, 1) if j == 0 else (source, target))  # the first one across files
        return DayPlan(by_part, iso, duplicates)

    def write_part(self, day: int, part: int, n_rows: int, plan: DayPlan, midnights: list[dict], path: Path) -> None:
        """Write (or append, in the flat layout) one part of `day` into `path`."""
        rng = random_stream(self.seed, STREAM_PART, day, part)
        date = self.date_of(day)
        user, track, time = self.regular_rows(rng, day, part, n_rows)
        stale = self.make_stale(day, part, track)
        kept = ~self.cut_off(time)
        user, track, time, stale = user[kept], track[kept], time[kept], stale[kept]
        if day in self.new_releases:
            self.planted_by_date[date]["unknown_track"] += int(stale.sum())
            self.planted_detail["unknown_track:stale_catalog"] += int(stale.sum())
        regular = np.ones(len(user), bool)
        for rows in midnights:
            here = (rows["folder"] == day) & (rows["part"] == part)
            user = np.concatenate([user, rows["user"][here]])
            track = np.concatenate([track, rows["track"][here]])
            time = np.concatenate([time, rows["time"][here]])
            regular = np.concatenate([regular, np.zeros(here.sum(), bool)])
            stale = np.concatenate([stale, np.zeros(here.sum(), bool)])
        order = np.argsort(time, kind="stable")
        user, track, time, regular, stale = user[order], track[order], time[order], regular[order], stale[order]
        since = time - (self.first_midnight - DAY)  # the formatter's date 0 is the day before the range
        date_index, second_of_day = since // DAY, since % DAY
        data, offsets = self.formatter.format(user, track, date_index, second_of_day)
        n = len(user)
        listen_days, counts = np.unique(date_index, return_counts=True)
        for d, count in zip(listen_days.tolist(), counts.tolist()):
            self.rows_by_date[self.date_of(d - 1)] += count

        used = np.zeros(n, bool)

        def take_row(allowed: np.ndarray) -> int | None:
            """A random regular row, allowed and not used yet (None if there is none)."""
            for _ in range(64):
                k = int(rng.integers(0, n))
                if regular[k] and allowed[k] and not used[k]:
                    used[k] = True
                    return k
            candidates = np.flatnonzero(regular & allowed & ~used)
            if len(candidates) == 0:
                return None
            k = int(candidates[rng.integers(0, len(candidates))])
            used[k] = True
            return k

        # ISO times and duplicates only on rows of known tracks: their counts do not depend on which
        # of the rules a stale row is rejected by first
        known = ~stale
        edits = []  # (row, INSERT or REPLACE, sequence, line)
        for style in plan.iso[part]:
            k = take_row(iso_candidates(style, second_of_day) & known)
            if k is None:
                continue
            written = format_time(
                int(time[k]), "+02:00" if style == "cross" else style, int(rng.integers(0, 1_000_000))
            )
            edits.append((k, REPLACE, len(edits), f"{user[k]},{self.line_track_ids[track[k]].decode()},{written}\n"))
            self._count(date, "iso_time", "iso_cross_midnight" if style == "cross" else style)
        for source, target in plan.duplicates:
            if source != part:
                continue
            k = take_row(known)
            if k is None:
                continue
            line = bytes(data[int(offsets[k]) : int(offsets[k + 1])]).decode()
            self.pending_duplicates.setdefault(target, []).append((int(time[k]), line))
            self._count(date, "duplicate_stream")
        for copied_time, line in self.pending_duplicates.pop(part, []):
            edits.append((int(np.searchsorted(time, copied_time, side="right")), INSERT, len(edits), line))
            self.rows_by_date[date] += 1
        for row in plan.planted[part]:
            if row.time is None:
                at = int(rng.integers(0, n + 1))
                self.unparseable_by_date[date] += 1
            else:
                at = int(np.searchsorted(time, row.time, side="right"))
                self.rows_by_date[date] += 1
            edits.append((at, INSERT, len(edits), row.line + "\n"))
            self._count(date, row.kind, row.variant)
        edits.sort()

        path.parent.mkdir(parents=True, exist_ok=True)
        new = path not in self.file_rows
        with open(path, "wb" if new else "ab") as f:
            if new:
                f.write((STREAM_HEADER + "\n").encode())
                self.files.append(path)
            done = 0  # rows written or replaced so far
            for at, action, _, line in edits:
                if at > done:
                    f.write(data[int(offsets[done]) : int(offsets[at])])
                f.write(line.encode())
                done = at + 1 if action == REPLACE else at
            if done < n:
                f.write(data[int(offsets[done]) : int(offsets[n])])
        added = n + sum(1 for edit in edits if edit[1] == INSERT)
        self.file_rows[path] += added
        self.rows_total += added


def remove_old_stream_files(streams_dir: Path) -> None:
    """Remove the stream files of a previous run; refuse (FileExistsError) if anything else is there."""
    if not streams_dir.exists():
        return
    flat_file = re.compile(r"streams\d+\.csv")
    dated_file = re.compile(r"\d{4}-\d{2}-\d{2}/part-\d{3,}\.csv")
    files, folders = [], []
    for path in sorted(streams_dir.rglob("*")):
        relative = path.relative_to(streams_dir).as_posix()
        if path.is_dir():
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", relative):
                raise FileExistsError(f"{path}: not written by the generator; refusing to overwrite")
            folders.append(path)
        elif flat_file.fullmatch(relative) or dated_file.fullmatch(relative):
            files.append(path)
        else:
            raise FileExistsError(f"{path}: not written by the generator; refusing to overwrite")
    for path in files:
        path.unlink()
    for path in sorted(folders, reverse=True):
        path.rmdir()
