"""Building blocks of the sample generator: seeded random streams, Arrow string columns, CSV lines.

Files are written from whole columns (Arrow string kernels, numpy fixed-width records), never row
by row: that is what keeps a day of ten million streams to seconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400  # seconds
LARGE_STRING = pa.large_string()

# What each random stream is for: the first number of its key after the seed. Every stream has a
# key of its own, so a file's content never depends on how much another file drew.
SONGS = 1  # songs.csv
DAY_PLAN = 2  # the planted rows of a day, and the parts they go into (key: day)
MIDNIGHT = 3  # the rows of the 20 minutes around a midnight (key: day after it)
STREAM_PART = 4  # the regular rows of one part of a day (key: day, part)
USERS = 5  # users.csv, one chunk of rows (key: chunk)
PLANTED_USERS = 6  # the users with a bad age or a repeated user_id (key: none, or the chunk)
LISTENING = 7  # how much each user listens
VOLUME = 8  # the day-to-day noise of a date's volume (key: day + 1, so the day before the range has one)
STALE_CATALOG = 9  # a stale_catalog incident: its new releases (key: day), the rows using them (key: day, part)


def random_stream(seed: int, purpose: int, *key: int) -> np.random.Generator:
    """The numpy generator of `purpose` (and `key`), from a seed of up to 64 bits."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, purpose, *key])


def text(value: str) -> pa.Scalar:
    return pa.scalar(value, LARGE_STRING)


def texts(values) -> pa.Array:
    return pa.array(values, LARGE_STRING)


def concat(*parts) -> pa.Array:
    """Element-wise concatenation of string arrays and str constants."""
    return pc.binary_join_element_wise(*[text(p) if isinstance(p, str) else p for p in parts], text(""))


def choose(mask: np.ndarray, if_true, if_false) -> pa.Array:
    """`if_true` where `mask`, else `if_false` (string arrays or str constants)."""
    if_true = text(if_true) if isinstance(if_true, str) else if_true
    if_false = text(if_false) if isinstance(if_false, str) else if_false
    return pc.if_else(pa.array(mask), if_true, if_false)


def by_band(u: np.ndarray, default, bands) -> pa.Array:
    """`default`, replaced by a band's value where uniform `u` falls in that band.

    `bands` is a sequence of ``(upper, value)``; each band starts where the previous one ends (at 0
    for the first).
    """
    out, lower = default, 0.0
    for upper, value in bands:
        out = choose((u >= lower) & (u < upper), value, out)
        lower = upper
    return out


def int_texts(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, np.int64)), LARGE_STRING)


def csv_quoted(column: pa.Array) -> pa.Array:
    """RFC-4180 quoting, only where needed (as pandas writes): commas, quotes, CR or LF."""
    column = pc.cast(column, LARGE_STRING)
    has_quote = pc.match_substring(column, '"')
    needs_quotes = pc.or_(
        pc.or_(has_quote, pc.match_substring(column, ",")),
        pc.or_(pc.match_substring(column, "\n"), pc.match_substring(column, "\r")),
    )
    if not pc.any(needs_quotes).as_py():
        return column
    body = pc.if_else(has_quote, pc.replace_substring(column, '"', '""'), column)
    return pc.if_else(needs_quotes, concat('"', body, '"'), column)


def csv_lines(columns: list[pa.Array], quotable: set[int]) -> memoryview:
    """The CSV lines (each ending in ``\\n``) of `columns`, as contiguous bytes.

    Only the columns whose index is in `quotable` are quoted where needed; the others are numbers.
    """
    fields = [csv_quoted(c) if k in quotable else pc.cast(c, LARGE_STRING) for k, c in enumerate(columns)]
    return string_bytes(concat(pc.binary_join_element_wise(*fields, text(",")), "\n"))


def string_bytes(column: pa.Array) -> memoryview:
    """The concatenated values of a large_string array, without a copy."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    offsets = np.frombuffer(column.buffers()[1], np.int64)
    first, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    return memoryview(column.buffers()[2])[first:end]


def _clock_table() -> np.ndarray:
    seconds = np.arange(DAY)
    clock = np.empty((DAY, 8), np.uint8)
    for j, value in enumerate((seconds // 3600, (seconds // 60) % 60, seconds % 60)):
        clock[:, 3 * j] = value // 10 + ord("0")
        clock[:, 3 * j + 1] = value % 10 + ord("0")
    clock[:, 2] = clock[:, 5] = ord(":")
    return clock.view("S8").ravel()


CLOCK = _clock_table()  # b"HH:MM:SS" of every second of a day
TWO_DIGITS = np.array([b"%02d" % k for k in range(100)], "S2")
YEARS = np.array([b"%04d" % y for y in range(1970, 2300)], "S4")  # indexed by years since 1970


def datetime_texts(epoch_seconds: np.ndarray) -> pa.Array:
    """Epoch seconds -> ``YYYY-MM-DD HH:MM:SS``, through fixed-width numpy records."""
    seconds = np.asarray(epoch_seconds, np.int64)
    day = (seconds // DAY).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    fields = ("year", "S4"), ("dash1", "S1"), ("month", "S2"), ("dash2", "S1"), ("day", "S2"), ("space", "S1")
    records = np.empty(len(seconds), [*fields, ("clock", "S8")])
    records["year"] = YEARS[year.astype(np.int64)]
    records["dash1"] = records["dash2"] = b"-"
    records["month"] = TWO_DIGITS[month.astype(np.int64) % 12 + 1]
    records["day"] = TWO_DIGITS[(day - month).astype(np.int64) + 1]
    records["space"] = b" "
    records["clock"] = CLOCK[seconds % DAY]
    column = pa.array(records.view("S19"))  # large inputs come back chunked
    return pc.cast(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column, LARGE_STRING)


BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)


def random_track_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` distinct 22-character base-62 ids (Spotify's shape), as an ``S22`` array."""
    while True:
        ids = np.ascontiguousarray(BASE62[rng.integers(0, 62, (n, 22))]).view("S22").ravel()
        if len(np.unique(ids)) == n:
            return ids


def count_items(items) -> dict:
    """Occurrences of each item, in the order of first occurrence."""
    counts: dict = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts
