"""Hand-worked rule tests for the KPIs: KPI_SPEC.md sections 4-5 and the lead's decisions
(/tmp/contract.md, "decision N"). Each test stages a tiny input root and asserts values
worked out by hand in the comments; no library code computes an expected value.
Run date D = 2024-06-25.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fixtures_small import D, as_date, by_genre, by_hour, is_null, run_all, stage, t
from streamkpi.kpis import genre_level_kpis, hourly_kpis

GENRE_COLUMNS = [
    "listen_date",
    "track_genre",
    "listen_count",
    "popularity_index",
    "average_duration",
    "most_popular_track_id",
]
HOURLY_COLUMNS = {
    "listen_date",
    "listen_hour",
    "unique_listeners",
    "listen_counts",
    "top_artist",
    "avg_sessions_per_user",
    "diversity_index",
    "most_engaged_age_group",
}

USERS = [(i, 30) for i in range(1, 10)]  # users 1..9, all 30 years old (25-34)


def approx(x):
    return pytest.approx(x, abs=1e-12)


# ============================================================== 4. genre-level KPIs


def test_genre_kpis_hand_worked(tmp_path):
    songs = [("R1", "rock", 200000), ("R2", "rock", 100000), ("P1", "pop", 180000), ("J1", "jazz", 333333)]
    streams = [
        (1, "R1", t("10:00:00")),
        (2, "R1", t("11:00:00")),
        (1, "R2", t("12:00:00")),
        (3, "P1", t("13:00:00")),
        (1, "R1", t("10:00:00")),  # duplicate: not counted
        (1, "NOPE", t("10:00:00")),  # unknown track: not counted
        (1, "P1", "2024-06-24 13:00:00"),  # other date: not counted
        ("x", "P1", t("13:00:00")),  # bad stream: not counted
    ]
    s, g, _ = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["valid_streams"] == 4
    assert list(g.columns) == GENRE_COLUMNS
    # one row per genre with >= 1 valid stream (no jazz), sorted by genre
    assert list(g["track_genre"]) == ["pop", "rock"]
    assert all(as_date(x) == dt.date(2024, 6, 25) for x in g["listen_date"])
    gg = by_genre(g)
    # rock: R1, R1, R2 -> 3 of 4 valid streams -> 0.75; durations 200, 200, 100 s -> 500/3
    assert gg["rock"]["listen_count"] == 3
    assert gg["rock"]["popularity_index"] == approx(0.75)
    assert gg["rock"]["average_duration"] == approx(500 / 3)
    assert gg["rock"]["most_popular_track_id"] == "R1"  # 2 streams vs 1
    # pop: P1 -> 1 of 4 -> 0.25; 180 s
    assert gg["pop"]["listen_count"] == 1
    assert gg["pop"]["popularity_index"] == approx(0.25)
    assert gg["pop"]["average_duration"] == approx(180.0)
    assert gg["pop"]["most_popular_track_id"] == "P1"
    assert float(g["popularity_index"].sum()) == approx(1.0)
    assert int(g["listen_count"].sum()) == 4


def test_popularity_index_thirds_sum_to_one(tmp_path):
    songs = [("A", "a", 1000), ("B", "b", 1000), ("C", "c", 1000)]
    streams = [(1, "A", t("01:00:00")), (1, "B", t("02:00:00")), (1, "C", t("03:00:00"))]
    _, g, _ = run_all(tmp_path, songs, USERS, streams)
    # 1 of 3 each
    for x in g["popularity_index"]:
        assert float(x) == approx(1 / 3)
    assert float(g["popularity_index"].sum()) == approx(1.0)


def test_average_duration_is_stream_weighted_seconds(tmp_path):
    songs = [("J1", "jazz", 333333), ("J2", "jazz", 1), ("J3", "jazz", 210123)]
    streams = [(1, "J1", t("10:00:00")), (2, "J1", t("10:01:00")), (3, "J2", t("10:02:00")), (4, "J3", t("10:03:00"))]
    _, g, _ = run_all(tmp_path, songs, USERS, streams)
    # (333.333 + 333.333 + 0.001 + 210.123) / 4 = 876.79 / 4 = 219.1975
    # (a track-weighted mean would be (333.333 + 0.001 + 210.123) / 3 = 181.152333...)
    assert by_genre(g)["jazz"]["average_duration"] == approx(219.1975)


def test_most_popular_track_ties_binary_order(tmp_path):
    songs = [
        dict(track_id="a1", track_genre="case", duration_ms=1000, popularity=100),
        dict(track_id="B2", track_genre="case", duration_ms=1000, popularity=0),
        ("a9", "num", 1000),
        ("a10", "num", 1000),
        ("z1", "accent", 1000),
        ("é1", "accent", 1000),
        ("A", "most", 1000),
        ("C", "most", 1000),
    ]
    streams = [
        (1, "a1", t("10:00:00")),
        (2, "B2", t("10:00:00")),  # 1 each: 'B' (66) < 'a' (97)
        (1, "a9", t("11:00:00")),
        (2, "a10", t("11:00:00")),  # 1 each: 'a1' prefix < 'a9'
        (1, "é1", t("12:00:00")),
        (2, "z1", t("12:00:00")),  # 1 each: 'z' (122) < 'é' (233)
        (1, "A", t("13:00:00")),
        (1, "C", t("13:00:00")),
        (2, "C", t("13:30:00")),  # C 2 > A 1
    ]
    _, g, _ = run_all(tmp_path, songs, USERS, streams)
    gg = by_genre(g)
    assert gg["case"]["most_popular_track_id"] == "B2"
    assert gg["num"]["most_popular_track_id"] == "a10"
    assert gg["accent"]["most_popular_track_id"] == "z1"
    assert gg["most"]["most_popular_track_id"] == "C"


def test_genre_of_repeated_track_is_primary_genre(tmp_path):
    songs = [("T", "rock", 100000), ("P", "pop", 300000), ("T", "pop", 500000)]
    streams = [(1, "T", t("10:00:00")), (2, "T", t("10:10:00")), (1, "P", t("10:20:00")), (3, "P", t("10:30:00"))]
    _, g, h = run_all(tmp_path, songs, USERS, streams)
    gg = by_genre(g)
    # T counts for rock only: rock 2 (100 s each), pop 2 (P, 300 s)
    assert gg["rock"]["listen_count"] == 2 and gg["pop"]["listen_count"] == 2
    assert gg["rock"]["average_duration"] == approx(100.0)
    assert gg["pop"]["average_duration"] == approx(300.0)
    assert gg["pop"]["most_popular_track_id"] == "P"
    assert gg["rock"]["popularity_index"] == approx(0.5)
    # hour 10: rock 2, pop 2 -> 1 - (0.25 + 0.25) = 0.5
    assert by_hour(h)[10]["diversity_index"] == approx(0.5)


# ============================================================== 5. hourly KPIs: counts


def test_hourly_unique_listeners_and_listen_counts(tmp_path):
    songs = [("T1", "rock", 200000, "Art")]
    streams = [
        (1, "T1", t("00:00:00")),
        (1, "T1", t("00:20:00")),
        (2, "T1", t("00:59:59")),
        (3, "T1", t("23:00:00")),
        (1, "T1", t("00:20:00")),  # duplicate
        (4, "NOPE", t("00:30:00")),  # unknown track
        (5, "T1", "2024-06-26 00:10:00"),  # other date
        (99, "T1", t("23:10:00")),  # unknown user: still a listener
    ]
    s, _, h = run_all(tmp_path, songs, USERS, streams)
    assert set(h.columns) == HOURLY_COLUMNS
    assert [int(x) for x in h["listen_hour"]] == [0, 23]  # only hours with streams, sorted
    assert all(as_date(x) == dt.date(2024, 6, 25) for x in h["listen_date"])
    hh = by_hour(h)
    # hour 0: users 1, 1, 2 -> 2 listeners, 3 streams; hour 23: users 3, 99 -> 2, 2
    assert hh[0]["unique_listeners"] == 2 and hh[0]["listen_counts"] == 3
    assert hh[23]["unique_listeners"] == 2 and hh[23]["listen_counts"] == 2


# ============================================================== 5. top_artist


def test_top_artist_multi_artist_credit_trim_empties_and_repeats(tmp_path):
    songs = [
        ("X", "g", 1000, "A;B"),
        ("Y", "g", 1000, "B"),
        ("IZ", "g", 1000, "Ingrid Michaelson;ZAYN"),
        ("Z", "g", 1000, "ZAYN"),
        ("TR", "g", 1000, " Alpha ; Beta "),
        ("BE", "g", 1000, "Beta"),
        ("ZE", "g", 1000, "Zed;;"),
        ("EM", "g", 1000, ";;"),
        ("NO", "g", 1000, ""),
        ("AA", "g", 1000, "Ann; Ann ;Bob"),
        ("BO", "g", 1000, "Bob"),
    ]
    streams = [
        # hour 10: X credits A and B, Y credits B -> B 2, A 1 -> B
        (1, "X", t("10:00:00")),
        (2, "Y", t("10:05:00")),
        # hour 11: IZ credits Ingrid Michaelson and ZAYN, Z credits ZAYN -> ZAYN 2
        (1, "IZ", t("11:00:00")),
        (2, "Z", t("11:05:00")),
        # hour 12: TR -> Alpha, Beta (trimmed); BE -> Beta -> Beta 2, Alpha 1
        #   (untrimmed ' Alpha ', ' Beta ', 'Beta' would tie and give ' Alpha ')
        (1, "TR", t("12:00:00")),
        (2, "BE", t("12:05:00")),
        # hour 13: ZE -> Zed only ('' dropped; '' would tie and win as smallest); EM -> nothing
        (1, "ZE", t("13:00:00")),
        (2, "EM", t("13:05:00")),
        # hour 14: EM (';;') and NO ('') credit nobody -> NULL
        (1, "EM", t("14:00:00")),
        (2, "NO", t("14:05:00")),
        # hour 15: AA credits Ann once (named twice) and Bob, twice -> Ann 2, Bob 2;
        #   BO -> Bob 3 -> Bob (crediting Ann per mention would give Ann 4)
        (1, "AA", t("15:00:00")),
        (2, "AA", t("15:05:00")),
        (3, "BO", t("15:10:00")),
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[10]["top_artist"] == "B"
    assert hh[11]["top_artist"] == "ZAYN"
    assert hh[12]["top_artist"] == "Beta"
    assert hh[13]["top_artist"] == "Zed"
    assert is_null(hh[14]["top_artist"])
    assert hh[15]["top_artist"] == "Bob"


def test_top_artist_tie_smallest_name_by_code_point(tmp_path):
    songs = [
        ("S1", "g", 1000, "abba"),
        ("S2", "g", 1000, "Beatles"),
        ("S3", "g", 1000, "émile"),
        ("S4", "g", 1000, "zed"),
        ("S5", "g", 1000, "Ab"),
        ("S6", "g", 1000, "AB"),
        ("S7", "g", 1000, "Zoe;Adam"),
    ]
    streams = [
        (1, "S1", t("10:00:00")),
        (2, "S2", t("10:00:00")),  # 1-1: 'B' (66) < 'a' (97) -> Beatles
        (1, "S3", t("11:00:00")),
        (2, "S4", t("11:00:00")),  # 1-1: 'z' (122) < 'é' (233) -> zed
        (1, "S5", t("12:00:00")),
        (2, "S6", t("12:00:00")),  # 1-1: 'AB' < 'Ab' -> AB
        (1, "S7", t("13:00:00")),  # one track, 2 artists: Adam < Zoe
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[10]["top_artist"] == "Beatles"
    assert hh[11]["top_artist"] == "zed"
    assert hh[12]["top_artist"] == "AB"
    assert hh[13]["top_artist"] == "Adam"


# ============================================================== 5. sessions


def test_sessions_gap_exactly_30_min_vs_30_min_1_s_and_two_hour_span(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = [
        # user 1: 10:00, 10:30, 11:00 -> gaps exactly 30 min -> 1 session touching 10 and 11
        (1, "T1", t("10:00:00")),
        (1, "T1", t("10:30:00")),
        (1, "T1", t("11:00:00")),
        # user 2: 10:10, 10:40:01 -> gap 30 min 1 s -> 2 sessions, both in hour 10
        (2, "T1", t("10:10:00")),
        (2, "T1", t("10:40:01")),
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    # hour 10: sessions (1,s1), (2,s1), (2,s2) = 3; listeners 2 -> 1.5
    assert hh[10]["avg_sessions_per_user"] == approx(1.5)
    # hour 11: (1,s1) touches it too -> 1 / 1
    assert hh[11]["avg_sessions_per_user"] == approx(1.0)


def test_sessions_fractional_second_gap(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = [
        (1, "T1", t("12:00:00")),
        (1, "T1", t("12:30:00.5")),  # 1800.5 s > 1800 -> 2 sessions
        (2, "T1", t("13:00:00.5")),
        (2, "T1", t("13:30:00.5")),  # exactly 1800 s -> 1 session
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[12]["avg_sessions_per_user"] == approx(2.0)
    assert hh[13]["avg_sessions_per_user"] == approx(1.0)


def test_session_spanning_three_hours(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = [
        # user 1: 10:50, 11:15, 11:40, 12:05 -> gaps 25 min -> 1 session touching 10, 11, 12
        (1, "T1", t("10:50:00")),
        (1, "T1", t("11:15:00")),
        (1, "T1", t("11:40:00")),
        (1, "T1", t("12:05:00")),
        # user 2: 11:00, 11:45 -> gap 45 -> 2 sessions in hour 11
        (2, "T1", t("11:00:00")),
        (2, "T1", t("11:45:00")),
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[10]["avg_sessions_per_user"] == approx(1.0)
    # hour 11: (1,s1) + (2,s1) + (2,s2) = 3 sessions / 2 listeners
    assert hh[11]["avg_sessions_per_user"] == approx(1.5)
    assert hh[12]["avg_sessions_per_user"] == approx(1.0)


def test_sessions_ordered_by_time_not_file_order_and_per_user(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = {
        # user 1 in file order 11:20, 10:00, 10:40; by time 10:00, 10:40, 11:20: gaps 40, 40
        #   -> 3 sessions: two touch hour 10, one touches hour 11
        "b.csv": [(1, "T1", t("11:20:00")), (1, "T1", t("10:00:00"))],
        "a.csv": [(1, "T1", t("10:40:00"))],
        # user 3: 10:20 only. (Pooling users would see gaps of 20 min and merge sessions.)
        "c.csv": [(3, "T1", t("10:20:00"))],
    }
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    # hour 10: user 1 sessions 1 and 2, user 3 session 1 -> 3 / 2 listeners
    assert hh[10]["avg_sessions_per_user"] == approx(1.5)
    assert hh[11]["avg_sessions_per_user"] == approx(1.0)


def test_sessions_use_valid_streams_only(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = [
        # user 1: 10:00 valid, 10:25 unknown track (not valid), 10:50 valid -> gap 50 -> 2 sessions
        (1, "T1", t("10:00:00")),
        (1, "NOPE", t("10:25:00")),
        (1, "T1", t("10:50:00")),
        # user 2: 23:50 on D-1 (other date) must not join D's 00:10 stream; 00:10 and 00:15 -> 1
        (2, "T1", "2024-06-24 23:50:00"),
        (2, "T1", t("00:10:00")),
        (2, "T1", t("00:15:00")),
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[10]["avg_sessions_per_user"] == approx(2.0)
    assert hh[0]["avg_sessions_per_user"] == approx(1.0)


def test_session_gap_minutes_parameter(tmp_path):
    songs = [("T1", "rock", 1000)]
    streams = [
        # user 1: 10:00, 10:10, 10:20:01 -> gaps 10 min, 10 min 1 s
        (1, "T1", t("10:00:00")),
        (1, "T1", t("10:10:00")),
        (1, "T1", t("10:20:01")),
        # user 2: 11:00, 11:40 -> gap 40 min
        (2, "T1", t("11:00:00")),
        (2, "T1", t("11:40:00")),
    ]
    _, staging = stage(tmp_path, songs, USERS, streams)
    h30 = by_hour(hourly_kpis(staging, D))
    h10 = by_hour(hourly_kpis(staging, D, session_gap_minutes=10))
    h45 = by_hour(hourly_kpis(staging, D, session_gap_minutes=45))
    # gap 30: user 1 one session (10, 10:01 <= 30); user 2 gap 40 > 30 -> 2 sessions
    assert h30[10]["avg_sessions_per_user"] == approx(1.0)
    assert h30[11]["avg_sessions_per_user"] == approx(2.0)
    # gap 10: user 1: 10 min = same, 10 min 1 s > 10 -> 2 sessions; user 2: 2 sessions
    assert h10[10]["avg_sessions_per_user"] == approx(2.0)
    assert h10[11]["avg_sessions_per_user"] == approx(2.0)
    # gap 45: user 1 one session; user 2: 40 <= 45 -> one session
    assert h45[10]["avg_sessions_per_user"] == approx(1.0)
    assert h45[11]["avg_sessions_per_user"] == approx(1.0)
    # the other columns do not depend on the gap
    assert h10[10]["listen_counts"] == 3 and h10[10]["unique_listeners"] == 1


# ============================================================== 5. diversity


def test_diversity_index(tmp_path):
    songs = [
        ("R", "rock", 1000),
        ("P", "pop", 1000),
        ("J", "jazz", 1000),
        ("M", "rock", 1000),
        ("M", "pop", 1000),
    ]  # M: primary genre rock
    streams = [
        # hour 10: rock 2, pop 2 -> 1 - (1/4 + 1/4) = 0.5
        (1, "R", t("10:00:00")),
        (2, "R", t("10:01:00")),
        (1, "P", t("10:02:00")),
        (2, "P", t("10:03:00")),
        # hour 11: rock 3 -> 1 - 1 = 0.0
        (1, "R", t("11:00:00")),
        (2, "R", t("11:01:00")),
        (3, "R", t("11:02:00")),
        # hour 12: rock 2, pop 1, jazz 1 -> 1 - (4 + 1 + 1)/16 = 0.625
        (1, "R", t("12:00:00")),
        (2, "R", t("12:01:00")),
        (1, "P", t("12:02:00")),
        (1, "J", t("12:03:00")),
        # hour 13: 3 genres, 1 each -> 1 - 3/9 = 2/3
        (1, "R", t("13:00:00")),
        (1, "P", t("13:01:00")),
        (1, "J", t("13:02:00")),
        # hour 14: M (primary rock) + R -> rock 2 -> 0.0
        (1, "M", t("14:00:00")),
        (1, "R", t("14:01:00")),
        # hour 15: R, its duplicate (not counted), P -> rock 1, pop 1 -> 0.5
        (1, "R", t("15:00:00")),
        (1, "R", t("15:00:00")),
        (1, "P", t("15:01:00")),
    ]
    _, _, h = run_all(tmp_path, songs, USERS, streams)
    hh = by_hour(h)
    assert hh[10]["diversity_index"] == approx(0.5)
    assert hh[11]["diversity_index"] == approx(0.0)
    assert hh[12]["diversity_index"] == approx(0.625)
    assert hh[13]["diversity_index"] == approx(2 / 3)
    assert hh[14]["diversity_index"] == approx(0.0)
    assert hh[15]["diversity_index"] == approx(0.5)
    assert hh[15]["listen_counts"] == 2


# ============================================================== 5. most_engaged_age_group

AGE_BOUNDARIES = [
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


def test_age_group_boundaries(tmp_path):
    # user i+1 has age AGE_BOUNDARIES[i] and streams once in hour i
    users = [(i + 1, age) for i, (age, _) in enumerate(AGE_BOUNDARIES)]
    streams = [(i + 1, "T1", t(f"{i:02d}:30:00")) for i in range(len(AGE_BOUNDARIES))]
    _, _, h = run_all(tmp_path, [("T1", "rock", 1000)], users, streams)
    hh = by_hour(h)
    for i, (age, group) in enumerate(AGE_BOUNDARIES):
        assert hh[i]["most_engaged_age_group"] == group, f"age {age}"


def test_age_group_ties_weighting_and_unknowns(tmp_path):
    users = [(1, 20), (2, 40), (3, 15), (4, 70), (5, 41), (6, 21), (7, 30), (8, 50), (9, 60), (10, "abc")]
    T = "T1"
    streams = [
        # hour 10: 18-24 1, 35-44 1 -> tie -> younger: 18-24
        (1, T, t("10:00:00")),
        (2, T, t("10:00:00")),
        # hour 11: <18 1, 65+ 1 -> tie -> <18
        (3, T, t("11:00:00")),
        (4, T, t("11:00:00")),
        # hour 12: user 4 (65+) 3 streams; users 1, 6 (18-24) 1 each -> 65+ 3 vs 18-24 2 -> 65+
        #   (counted by users it would be 18-24)
        (4, T, t("12:00:00")),
        (4, T, t("12:10:00")),
        (4, T, t("12:20:00")),
        (1, T, t("12:00:00")),
        (6, T, t("12:00:00")),
        # hour 13: 25-34, 45-54, 55-64 two streams each -> 3-way tie -> 25-34
        (7, T, t("13:00:00")),
        (7, T, t("13:10:00")),
        (8, T, t("13:00:00")),
        (8, T, t("13:10:00")),
        (9, T, t("13:00:00")),
        (9, T, t("13:10:00")),
        # hour 14: unknown user 99 x3, user 10 (age 'abc' -> unknown) x3, user 2 (40) x1
        #   -> only 35-44 has a known age -> 35-44; listeners 3, streams 7
        (99, T, t("14:00:00")),
        (99, T, t("14:10:00")),
        (99, T, t("14:20:00")),
        (10, T, t("14:00:00")),
        (10, T, t("14:10:00")),
        (10, T, t("14:20:00")),
        (2, T, t("14:30:00")),
        # hour 15: only unknown ages -> NULL
        (99, T, t("15:00:00")),
        (10, T, t("15:00:00")),
    ]
    s, _, h = run_all(tmp_path, [("T1", "rock", 1000)], users, streams)
    assert s.counts["unknown_user_streams"] == 4
    hh = by_hour(h)
    assert hh[10]["most_engaged_age_group"] == "18-24"
    assert hh[11]["most_engaged_age_group"] == "<18"
    assert hh[12]["most_engaged_age_group"] == "65+"
    assert hh[13]["most_engaged_age_group"] == "25-34"
    assert hh[14]["most_engaged_age_group"] == "35-44"
    assert hh[14]["unique_listeners"] == 3 and hh[14]["listen_counts"] == 7
    assert is_null(hh[15]["most_engaged_age_group"])
    assert hh[15]["unique_listeners"] == 2 and hh[15]["listen_counts"] == 2


# ============================================================== determinism

RICH_SONGS = [
    ("R1", "rock", 200000, "A;B"),
    ("R2", "rock", 100000, "B"),
    ("P1", "pop", 180000, "C"),
    ("R1", "pop", 1, "X"),
    ("a1", "pop", 1000, "Zed"),
]
RICH_STREAMS = {
    "d/part-0.csv": [
        (1, "R1", t("10:00:00")),
        (2, "P1", t("10:10:00")),
        (3, "a1", t("10:20:00")),
        (99, "R2", t("11:00:00")),
        (1, "R1", t("10:00:00")),
    ],
    "part-1.csv": [
        (1, "R2", "2024-06-25T12:40:00+02:00"),
        (2, "R1", t("23:59:59.5")),
        (4, "P1", "2024-06-26T00:30:00+01:00"),
        (5, "NOPE", t("12:00:00")),
    ],
}
RICH_USERS = [(1, 30), (2, 17), (3, 70), (4, "x"), (5, 44)]


def test_determinism_staging_twice_gives_identical_frames(tmp_path):
    s1, st1 = stage(tmp_path, RICH_SONGS, RICH_USERS, RICH_STREAMS, staging_name="s1")
    s2, st2 = stage(tmp_path, RICH_SONGS, RICH_USERS, RICH_STREAMS, staging_name="s2")
    assert s1.counts == s2.counts
    pd.testing.assert_frame_equal(genre_level_kpis(st1, D), genre_level_kpis(st2, D))
    pd.testing.assert_frame_equal(hourly_kpis(st1, D), hourly_kpis(st2, D))
    # restaging into the same (already used) staging dir gives the same frames again
    s3, st3 = stage(tmp_path, RICH_SONGS, RICH_USERS, RICH_STREAMS, staging_name="s1")
    assert s3.counts == s1.counts
    pd.testing.assert_frame_equal(genre_level_kpis(st3, D), genre_level_kpis(st2, D))
    pd.testing.assert_frame_equal(hourly_kpis(st3, D), hourly_kpis(st2, D))


def test_rich_fixture_hand_worked(tmp_path):
    # valid streams of D (files in sorted order: d/part-0.csv, part-1.csv):
    #   u1 R1 10:00, u2 P1 10:10, u3 a1 10:20, u99 R2 11:00, [u1 R1 10:00 duplicate],
    #   u1 R2 10:40 (12:40+02:00), u2 R1 23:59:59.5, [u4 P1 -> 2024-06-25 23:30 UTC: valid!],
    #   [u5 NOPE unknown]
    s, g, h = run_all(tmp_path, RICH_SONGS, RICH_USERS, RICH_STREAMS)
    # rows 9: duplicate 1, unknown 1, other_date 0 -> valid 7
    assert s.counts["rows_read"] == 9
    assert s.counts["duplicate_stream"] == 1 and s.counts["unknown_track"] == 1
    assert s.counts["other_date"] == 0 and s.counts["valid_streams"] == 7
    assert s.counts["unknown_user_streams"] == 1  # u99
    assert s.counts["duplicate_track_rows"] == 1  # second R1 row
    gg = by_genre(g)
    # rock (R1 primary rock): R1 x2 (u1 10:00, u2 23:59), R2 x2 (u99, u1) -> 4 of 7
    #   durations 200, 200, 100, 100 -> 150; tie R1/R2 at 2 -> R1
    assert gg["rock"]["listen_count"] == 4
    assert gg["rock"]["popularity_index"] == approx(4 / 7)
    assert gg["rock"]["average_duration"] == approx(150.0)
    assert gg["rock"]["most_popular_track_id"] == "R1"
    # pop: P1 x2 (u2 10:10, u4 23:30), a1 x1 -> 3 of 7; (180 + 180 + 1) / 3 = 361/3; P1
    assert gg["pop"]["listen_count"] == 3
    assert gg["pop"]["popularity_index"] == approx(3 / 7)
    assert gg["pop"]["average_duration"] == approx(361 / 3)
    assert gg["pop"]["most_popular_track_id"] == "P1"
    hh = by_hour(h)
    assert sorted(hh) == [10, 11, 23]
    # hour 10: u1 R1 10:00, u2 P1 10:10, u3 a1 10:20, u1 R2 10:40 -> 3 listeners, 4 streams
    #   artists: A 1, B 2 (R1, R2), C 1, Zed 1 -> B
    #   sessions: u1 10:00, 10:40 (gap 40 -> 2), u2 1, u3 1 -> 4 / 3
    #   genres: rock 2 (R1, R2), pop 2 -> 0.5
    #   ages: u1 30 x2 (25-34), u2 17 (<18), u3 70 (65+) -> 25-34
    r = hh[10]
    assert r["unique_listeners"] == 3 and r["listen_counts"] == 4
    assert r["top_artist"] == "B"
    assert r["avg_sessions_per_user"] == approx(4 / 3)
    assert r["diversity_index"] == approx(0.5)
    assert r["most_engaged_age_group"] == "25-34"
    # hour 11: u99 R2 -> 1, 1, B, 1.0, 0.0, NULL
    r = hh[11]
    assert r["unique_listeners"] == 1 and r["listen_counts"] == 1 and r["top_artist"] == "B"
    assert r["avg_sessions_per_user"] == approx(1.0) and r["diversity_index"] == approx(0.0)
    assert is_null(r["most_engaged_age_group"])
    # hour 23: u4 P1 23:30 (age 'x' unknown), u2 R1 23:59:59.5 (17 -> <18)
    #   artists: C 1, A 1, B 1 -> A; sessions 1 + 1 over 2 -> 1.0; rock 1, pop 1 -> 0.5
    r = hh[23]
    assert r["unique_listeners"] == 2 and r["listen_counts"] == 2
    assert r["top_artist"] == "A"
    assert r["avg_sessions_per_user"] == approx(1.0)
    assert r["diversity_index"] == approx(0.5)
    assert r["most_engaged_age_group"] == "<18"


def test_sessions_with_many_streams_at_the_same_instant_are_one_session(tmp_path):
    # one user plays 6000 different tracks, all at 10:00:00: every gap is 0 -> ONE session;
    # hour 10: 1 session / 1 listener = 1.0, on every computation (determinism). Ties on
    # listen_time must not split a session (repeat the KPI query: the failure was intermittent).
    n = 6000
    songs = [(f"T{i:04d}", "rock", 1000) for i in range(n)]
    streams = [(1, f"T{i:04d}", t("10:00:00")) for i in range(n)]
    s, staging = stage(tmp_path, songs, [(1, 30)], streams)
    assert s.counts["valid_streams"] == n
    got = [float(hourly_kpis(staging, D)["avg_sessions_per_user"].iloc[0]) for _ in range(10)]
    assert got == [1.0] * 10
