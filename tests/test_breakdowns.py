"""The numbers behind the report charts: genre x hour and age group x hour counts of a tiny staged
day, the top genres + "other", and the warehouse history of the headline KPIs."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from fixtures_small import stage, t
from streamkpi import breakdowns, tables
from streamkpi.kpis import hourly_kpis

SONGS = [
    ("R1", "rock", 200000, "A"),
    ("R2", "rock", 100000, "B"),
    ("P1", "pop", 180000, "C"),
    ("J1", "jazz", 300000, "D"),
    ("R1", "pop", 1000, "X"),
]  # the repeated R1 row: R1 stays rock


def test_genre_hour_listens_counts_valid_streams_by_primary_genre_and_utc_hour(tmp_path):
    streams = [
        (1, "R1", t("10:00:00")),
        (2, "R1", t("10:59:59")),
        (3, "P1", t("10:30:00")),
        (1, "R2", t("11:00:00")),
        (1, "R2", t("11:00:00")),  # the copy is a duplicate, not a listen
        (2, "J1", "2024-06-26T01:30:00+02:00"),  # 23:30 UTC on the run date
        (3, "NOPE", t("12:00:00")),
        (4, "P1", "2024-06-24 09:00:00"),
    ]
    _, staging = stage(tmp_path, SONGS, [(1, 30), (2, 40), (3, 50)], streams)
    counts = breakdowns.genre_hour_listens(staging)
    assert counts.to_dict("records") == [
        {"track_genre": "jazz", "listen_hour": 23, "listens": 1},
        {"track_genre": "pop", "listen_hour": 10, "listens": 1},
        {"track_genre": "rock", "listen_hour": 10, "listens": 2},
        {"track_genre": "rock", "listen_hour": 11, "listens": 1},
    ]


AGES = [
    (13, "<18"),
    (17, "<18"),
    (18, "18-24"),
    (24, "18-24"),
    (25, "25-34"),
    (34, "25-34"),
    (35, "35-44"),
    (44, "35-44"),
    (45, "45-54"),
    (54, "45-54"),
    (55, "55-64"),
    (64, "55-64"),
    (65, "65+"),
    (120, "65+"),
]


def test_age_group_hour_listens_uses_the_spec_groups_and_skips_unknown_ages(tmp_path):
    users = [(i + 1, age) for i, (age, _) in enumerate(AGES)] + [(50, "abc")]
    streams = [(i + 1, "R1", t(f"{i:02d}:30:00")) for i in range(len(AGES))]
    streams += [(50, "R1", t("02:00:00")), (99, "R1", t("02:00:00"))]  # unknown age, unknown user
    _, staging = stage(tmp_path, SONGS, users, streams)
    counts = breakdowns.age_group_hour_listens(staging)
    assert list(counts["age_group"].cat.categories) == list(breakdowns.AGE_GROUP_LABELS)
    assert [(g, h, n) for g, h, n in counts.itertuples(index=False)] == [
        (group, hour, 1) for hour, (_, group) in enumerate(AGES)
    ]


def test_age_groups_agree_with_the_kpi_most_engaged_age_group(tmp_path):
    """The chart's groups and the KPI SQL's: the largest group of each hour is the KPI's."""
    users = [(1, 15), (2, 20), (3, 22), (4, 30), (5, 40), (6, 50), (7, 60), (8, 70), (9, None)]
    streams = [
        (u, "R1", t(f"{h:02d}:{m:02d}:00"))
        for h, group in enumerate([[2, 3, 3], [1, 1, 8], [4, 5, 6, 7, 7], [8, 8, 9, 9, 9], [5, 6]])
        for m, u in enumerate(group)
    ]
    _, staging = stage(tmp_path, SONGS, users, streams)
    counts = breakdowns.age_group_hour_listens(staging)
    largest = (
        counts.sort_values(["listen_hour", "listens", "age_group"], ascending=[True, False, True])
        .groupby("listen_hour")
        .head(1)
        .set_index("listen_hour")["age_group"]
        .astype(str)
    )
    kpi = hourly_kpis(staging, "2024-06-25").set_index("listen_hour")["most_engaged_age_group"]
    assert largest.to_dict() == kpi.to_dict() == {0: "18-24", 1: "<18", 2: "55-64", 3: "65+", 4: "35-44"}


def genre_rows(listens: dict[str, int]) -> pd.DataFrame:
    total = sum(listens.values())
    return pd.DataFrame(
        {
            "track_genre": list(listens),
            "listen_count": list(listens.values()),
            "popularity_index": [n / total for n in listens.values()],
        }
    )


def test_top_genres_and_other_folds_the_tail_in_one_row():
    frame = breakdowns.top_genres_and_other(genre_rows({"a": 5, "b": 50, "c": 20, "d": 20, "e": 5}), top=3)
    assert frame["track_genre"].tolist() == ["b", "c", "d", "other"]  # ties by name
    assert frame["listen_count"].tolist() == [50, 20, 20, 10]
    assert frame["popularity_index"].sum() == pytest.approx(1.0)
    assert frame["genres"].tolist() == [1, 1, 1, 2] and frame["is_other"].tolist() == [False] * 3 + [True]
    few = breakdowns.top_genres_and_other(genre_rows({"a": 1, "b": 2}), top=3)
    assert few["track_genre"].tolist() == ["b", "a"] and not few["is_other"].any()


def load_history(path, genre_rows_by_day: dict, hourly_rows_by_day: dict) -> str:
    """A DuckDB warehouse holding the given KPI rows, created with the project's DDL."""
    url = f"duckdb:///{path}"
    with duckdb.connect(str(path)) as con:
        for statement in tables.ddl("duckdb"):
            con.execute(statement)
        for day, rows in genre_rows_by_day.items():
            for genre, listens, share, seconds in rows:
                con.execute(
                    "INSERT INTO reporting_schema.genre_level_kpis VALUES (?, ?, ?, ?, ?, 'T')",
                    [day, genre, listens, share, seconds],
                )
        for day, rows in hourly_rows_by_day.items():
            for hour, listeners, listens, sessions, diversity in rows:
                con.execute(
                    "INSERT INTO reporting_schema.hourly_kpis VALUES (?, ?, ?, ?, 'A', ?, ?, '25-34')",
                    [day, hour, listeners, listens, sessions, diversity],
                )
    return url


def test_daily_headlines_one_row_per_loaded_date(tmp_path):
    d1, d2 = dt.date(2024, 6, 24), dt.date(2024, 6, 25)
    url = load_history(
        tmp_path / "wh.duckdb",
        {
            d2: [("rock", 30, 0.75, 200.0), ("pop", 10, 0.25, 100.0)],
            d1: [("jazz", 2, 0.5, 300.0), ("blues", 2, 0.5, 100.0)],
        },
        {d2: [(9, 10, 10, 1.0, 0.5), (20, 20, 30, 2.0, 0.3)], d1: [(7, 2, 2, 1.0, 0.0), (8, 3, 2, 1.0, 0.5)]},
    )
    days = breakdowns.daily_headlines(url)
    assert days["listen_date"].tolist() == [pd.Timestamp(d1), pd.Timestamp(d2)]
    first, second = days.to_dict("records")
    assert first["streams"] == 4 and first["genres"] == 2
    assert first["top_genre"] == "blues" and first["top_genre_share"] == 0.5  # tie: smallest name
    assert first["average_duration"] == pytest.approx(200.0)
    assert first["peak_hour"] == 7 and first["peak_hour_streams"] == 2  # tie: the earlier hour
    assert first["diversity"] == pytest.approx(0.25)
    assert second["streams"] == 40 and second["top_genre"] == "rock"
    assert second["average_duration"] == pytest.approx((30 * 200 + 10 * 100) / 40)
    assert second["peak_hour"] == 20 and second["max_hourly_listeners"] == 20
    assert second["diversity"] == pytest.approx((10 * 0.5 + 30 * 0.3) / 40)
    assert second["sessions_per_listener"] == pytest.approx((10 * 1 + 20 * 2) / 30)


def test_history_of_an_empty_or_missing_warehouse_is_empty(tmp_path):
    url = f"duckdb:///{tmp_path / 'none.duckdb'}"
    assert breakdowns.daily_headlines(url).empty
    assert breakdowns.genre_share_by_day(url).empty


def test_genre_share_by_day_follows_the_periods_top_genres(tmp_path):
    d1, d2 = dt.date(2024, 6, 24), dt.date(2024, 6, 25)
    url = load_history(
        tmp_path / "wh.duckdb",
        {
            d1: [("rock", 6, 0.6, 1.0), ("pop", 3, 0.3, 1.0), ("jazz", 1, 0.1, 1.0)],
            d2: [("pop", 5, 0.5, 1.0), ("jazz", 4, 0.4, 1.0), ("blues", 1, 0.1, 1.0)],
        },
        {},
    )
    shares = breakdowns.genre_share_by_day(url, top=2)
    assert list(shares["track_genre"].cat.categories) == ["pop", "rock"]  # 8, 6 and 5 listens over both days
    assert [(d.date(), g, s) for d, g, s in shares.itertuples(index=False)] == [
        (d1, "pop", 0.3),
        (d1, "rock", 0.6),
        (d2, "pop", 0.5),
        (d2, "rock", 0.0),
    ]
