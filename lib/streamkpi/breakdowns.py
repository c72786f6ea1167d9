"""The numbers behind the report charts that the KPI tables do not hold, and the warehouse's
history of the day's headline figures.

- :func:`genre_hour_listens` and :func:`age_group_hour_listens` count the staged valid streams by
  (genre, hour) and (age group, hour): the detail under the hourly KPIs' ``diversity_index`` and
  ``most_engaged_age_group``. They run in DuckDB over the staged Parquet files of this machine
  whatever the KPI engine, as ingest did over the same streams: a GROUP BY, never a KPI.
- :func:`top_genres_and_other` folds the long tail of a day's genres into one "other" row.
- :func:`daily_headlines` and :func:`genre_share_by_day` read every loaded date of the warehouse
  tables, so a week of runs reads as a week (the dates a data check flagged:
  :func:`streamkpi.datachecks.flagged_dates`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .kpis import staged_connection
from .sqltext import literal
from .tables import DEFAULT_LOCK_TIMEOUT_SECONDS

# (label, youngest age) of each age group, youngest first: the KPI spec's groups (section 5), the
# same boundaries as ``sql/hourly_kpis.sql``; a test checks both give the same most engaged group.
AGE_GROUPS = (("<18", 13), ("18-24", 18), ("25-34", 25), ("35-44", 35), ("45-54", 45), ("55-64", 55), ("65+", 65))
AGE_GROUP_LABELS = tuple(label for label, _ in AGE_GROUPS)
OTHER_GENRES = "other"


def genre_hour_listens(staging_dir: str | Path) -> pd.DataFrame:
    """Valid streams per (``track_genre``, ``listen_hour``): columns ``track_genre``,
    ``listen_hour``, ``listens``; only pairs with listens."""
    with staged_connection(staging_dir) as con:
        return con.execute(
            """SELECT t.track_genre, CAST(EXTRACT(HOUR FROM s.listen_time) AS INTEGER) AS listen_hour,
                      CAST(COUNT(*) AS BIGINT) AS listens
               FROM valid_streams s JOIN tracks t ON t.track_key = s.track_key
               GROUP BY 1, 2 ORDER BY 1, 2"""
        ).df()


def age_group_hour_listens(staging_dir: str | Path) -> pd.DataFrame:
    """Valid streams of listeners of known age per (``age_group``, ``listen_hour``): columns
    ``age_group`` (an ordered categorical of :data:`AGE_GROUP_LABELS`), ``listen_hour``, ``listens``."""
    cases = " ".join(f"WHEN user_age >= {youngest} THEN {literal(label)}" for label, youngest in reversed(AGE_GROUPS))
    with staged_connection(staging_dir) as con:
        # Counted per (age, hour) first: an integer key per stream, the group's label per count (half the time at 100M).
        frame = con.execute(
            f"""SELECT CASE {cases} END AS age_group, listen_hour, CAST(SUM(listens) AS BIGINT) AS listens
                FROM (SELECT u.user_age, CAST(EXTRACT(HOUR FROM s.listen_time) AS INTEGER) AS listen_hour,
                             COUNT(*) AS listens
                      FROM valid_streams s JOIN users u ON u.user_id = s.user_id
                      WHERE u.user_age IS NOT NULL
                      GROUP BY 1, 2) per_age_hour
                GROUP BY 1, 2 ORDER BY 2, 1"""
        ).df()
    frame["age_group"] = pd.Categorical(frame["age_group"], categories=AGE_GROUP_LABELS, ordered=True)
    return frame.sort_values(["listen_hour", "age_group"], ignore_index=True)


def top_genres_and_other(genre_kpis: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` genres by listens (ties by name) and, when more genres listened, one last row
    ``other`` summing the rest: columns ``track_genre``, ``listen_count``, ``popularity_index``,
    ``genres`` (how many genres the row stands for) and ``is_other``."""
    ordered = genre_kpis.sort_values(["listen_count", "track_genre"], ascending=[False, True])
    head = ordered.head(top)[["track_genre", "listen_count", "popularity_index"]].assign(genres=1, is_other=False)
    tail = ordered.iloc[top:]
    if tail.empty:
        return head.reset_index(drop=True)
    other = pd.DataFrame(
        {
            "track_genre": [OTHER_GENRES],
            "listen_count": [tail["listen_count"].sum()],
            "popularity_index": [tail["popularity_index"].sum()],
            "genres": [len(tail)],
            "is_other": [True],
        }
    )
    return pd.concat([head, other], ignore_index=True)


def daily_headlines(warehouse_url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> pd.DataFrame:
    """One row per date loaded in the warehouse, oldest first, with the day's headline figures:

    ``listen_date``, ``streams`` (valid streams), ``genres`` (genres listened), ``top_genre`` and
    ``top_genre_share``, ``average_duration`` (seconds, stream-weighted), ``peak_hour`` and
    ``peak_hour_streams`` (ties: the earlier hour), ``max_hourly_listeners`` (most unique listeners
    in one hour), ``diversity`` (hourly Simpson diversity, stream-weighted) and
    ``sessions_per_listener`` (hourly sessions per listener, listener-weighted). ``lock_timeout``: as
    :func:`streamkpi.warehouse.read_table`.
    """
    genres = _warehouse_table(warehouse_url, "genre_level_kpis", lock_timeout)
    hours = _warehouse_table(warehouse_url, "hourly_kpis", lock_timeout)
    columns = [
        "listen_date",
        "streams",
        "genres",
        "top_genre",
        "top_genre_share",
        "average_duration",
        "peak_hour",
        "peak_hour_streams",
        "max_hourly_listeners",
        "diversity",
        "sessions_per_listener",
    ]
    if genres.empty or hours.empty:
        return pd.DataFrame(columns=columns)

    by_genre = genres.assign(duration_weight=genres["average_duration"] * genres["listen_count"])
    per_day = by_genre.groupby("listen_date").agg(
        streams=("listen_count", "sum"), genres=("track_genre", "size"), duration_weight=("duration_weight", "sum")
    )
    per_day["average_duration"] = per_day.pop("duration_weight") / per_day["streams"]
    top = (
        genres.sort_values(["listen_date", "listen_count", "track_genre"], ascending=[True, False, True])
        .groupby("listen_date")
        .head(1)
        .set_index("listen_date")
    )
    per_day["top_genre"] = top["track_genre"]
    per_day["top_genre_share"] = top["popularity_index"]

    by_hour = hours.assign(
        diversity_weight=hours["diversity_index"] * hours["listen_counts"],
        sessions=hours["avg_sessions_per_user"] * hours["unique_listeners"],
    )
    hourly = by_hour.groupby("listen_date").agg(
        hour_streams=("listen_counts", "sum"),
        diversity_weight=("diversity_weight", "sum"),
        sessions=("sessions", "sum"),
        listener_hours=("unique_listeners", "sum"),
        max_hourly_listeners=("unique_listeners", "max"),
    )
    peak = (
        hours.sort_values(["listen_date", "listen_counts", "listen_hour"], ascending=[True, False, True])
        .groupby("listen_date")
        .head(1)
        .set_index("listen_date")
    )
    per_day["peak_hour"] = peak["listen_hour"]
    per_day["peak_hour_streams"] = peak["listen_counts"]
    per_day["max_hourly_listeners"] = hourly["max_hourly_listeners"]
    per_day["diversity"] = hourly["diversity_weight"] / hourly["hour_streams"]
    per_day["sessions_per_listener"] = hourly["sessions"] / hourly["listener_hours"]
    return per_day.reset_index()[columns]


def genre_share_by_day(
    warehouse_url: str, top: int = 5, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> pd.DataFrame:
    """Each loaded date's share of listens of the ``top`` genres most listened over all dates:
    columns ``listen_date``, ``track_genre`` (ordered by listens over all dates), ``share``.
    A top genre without listens on a date has share 0 that day."""
    genres = _warehouse_table(warehouse_url, "genre_level_kpis", lock_timeout)
    if genres.empty:
        return pd.DataFrame(columns=["listen_date", "track_genre", "share"])
    totals = genres.groupby("track_genre")["listen_count"].sum().reset_index()
    ranked = totals.sort_values(["listen_count", "track_genre"], ascending=[False, True])
    leaders = list(ranked["track_genre"].head(top))
    shares = (
        genres[genres["track_genre"].isin(leaders)]
        .pivot_table(index="listen_date", columns="track_genre", values="popularity_index", aggfunc="sum")
        .reindex(index=sorted(genres["listen_date"].unique()), columns=leaders)
        .fillna(0.0)
    )
    long = shares.rename_axis(index="listen_date", columns="track_genre").stack().rename("share").reset_index()
    long["track_genre"] = pd.Categorical(long["track_genre"], categories=leaders, ordered=True)
    return long.sort_values(["listen_date", "track_genre"], ignore_index=True)


def _warehouse_table(warehouse_url: str, table: str, lock_timeout: float) -> pd.DataFrame:
    """:func:`streamkpi.warehouse.read_dated_table`, imported here: SQLAlchemy only for the notebooks that read the
    warehouse."""
    from . import warehouse

    return warehouse.read_dated_table(warehouse_url, table, lock_timeout=lock_timeout)
