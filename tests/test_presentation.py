"""Number formats, formatted tables, summaries and data-quality tables of the report pages,
on small hand-made frames."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import pytest
from streamkpi import presentation as p

COUNTS = {  # ingest's counts for a small day, consistent with each other
    "rows_read": 1_250,
    "other_date": 200,
    "bad_stream": 3,
    "duplicate_stream": 2,
    "unknown_track": 5,
    "valid_streams": 1_040,
    "unknown_user_streams": 7,
    "tracks": 90,
    "duplicate_track_rows": 8,
    "bad_song": 2,
    "users": 40,
    "duplicate_user_rows": 1,
    "bad_user_rows": 1,
    "unknown_age_users": 4,
}

GENRES = pd.DataFrame(
    {
        "listen_date": [dt.date(2024, 6, 25)] * 4,
        "track_genre": ["rock", "pop", "jazz", "ambient"],
        "listen_count": [500, 300, 150, 50],
        "popularity_index": [0.5, 0.3, 0.15, 0.05],
        "average_duration": [200.0, 180.0, 400.4, 3725.0],
        "most_popular_track_id": ["R1", "P1", "J1", "A1"],
    }
)

HOURS = pd.DataFrame(
    {
        "listen_date": [dt.date(2024, 6, 25)] * 3,
        "listen_hour": [8, 9, 20],
        "unique_listeners": [10, 30, 60],
        "listen_counts": [12, 40, 1_200],
        "top_artist": ["A", "B", None],
        "avg_sessions_per_user": [1.0, 1.5, 1.0],
        "diversity_index": [0.5, 0.25, 0.75],
        "most_engaged_age_group": ["18-24", None, "25-34"],
    }
)


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, "0"),
        (999, "999"),
        (1_000, "1,000"),
        (29_985, "29,985"),
        (1_234_567.4, "1,234,567"),
        (None, "–"),
        (float("nan"), "–"),
        (pd.NA, "–"),
    ],
)
def test_thousands(value, expected):
    assert p.thousands(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0412, "4.1%"),
        (1.0, "100.0%"),
        (0.0, "0.0%"),
        (0.00049, "<0.1%"),
        (0.0005, "0.1%"),
        (None, "–"),
    ],
)
def test_percent(value, expected):
    assert p.percent(value) == expected


def test_percent_digits():
    assert p.percent(0.000133, 2) == "0.01%"
    assert p.percent(0.00004, 2) == "<0.01%"


@pytest.mark.parametrize(
    "seconds, expected",
    [
        (0, "0:00"),
        (59.4, "0:59"),
        (59.6, "1:00"),
        (187.4, "3:07"),
        (600, "10:00"),
        (3599.4, "59:59"),
        (3600, "1:00:00"),
        (3725, "1:02:05"),
        (-61, "-1:01"),
        (None, "–"),
        (math.nan, "–"),
    ],
)
def test_duration_as_minutes_and_seconds(seconds, expected):
    assert p.duration(seconds) == expected


def test_hour_range_and_dates():
    assert p.hour(0) == "00:00–01:00" and p.hour(23) == "23:00–00:00"
    assert p.long_date("2024-06-25") == "Tuesday 25 June 2024"
    assert p.long_date(dt.date(2024, 7, 1)) == "Monday 1 July 2024"
    assert p.decimal(3)(0.98765) == "0.988"


def test_genre_table_is_formatted_sorted_and_can_show_the_top_only():
    html = p.genre_table(GENRES).to_html()
    assert all(h in html for h in ("Genre", "Listens", "Share of the day", "Avg track length", "Most streamed track"))
    assert "listen_count" not in html and "popularity_index" not in html
    assert "50.0%" in html and "6:40" in html and "1:02:05" in html
    assert html.index("rock") < html.index("pop") < html.index("jazz") < html.index("ambient")
    top = p.genre_table(GENRES, top=2).to_html()
    assert "Top 2 of 4 genres by listens" in top and "jazz" not in top


def test_hourly_table_formats_hours_counts_and_missing_values():
    html = p.hourly_table(HOURS).to_html()
    assert "20:00–21:00" in html and "1,200" in html and "1.50" in html and "0.750" in html
    assert "Most engaged age group" in html and "–" in html


def test_genre_summary_states_the_days_figures():
    text = p.genre_summary(GENRES, "2024-06-25").data
    assert "Tuesday 25 June 2024" in text
    assert "1,000 valid streams" in text and "4 genres" in text
    assert "**rock** (50.0%), **pop** (30.0%), **jazz** (15.0%)" in text and "95.0%" in text
    # stream-weighted: (500*200 + 300*180 + 150*400.4 + 50*3725) / 1000 = 400.31 s
    assert "lasts 6:40" in text and "3:00 (pop)" in text and "1:02:05 (ambient)" in text


def test_hourly_summary_states_peak_quiet_hour_sessions_diversity_and_ages():
    text = p.hourly_summary(HOURS, "2024-06-25").data
    assert "**20:00–21:00** with 1,200 streams by 60 listeners" in text
    assert "quietest hour is 08:00–09:00 (12 streams)" in text and "3 of 24 hours" in text
    # listener-weighted sessions: (10*1 + 30*1.5 + 60*1) / 100 = 1.15
    assert "1.15" in text and "between 0.250 and 0.750" in text
    assert "**18-24** group is the most engaged in 1 of 3 hours" in text


def test_hourly_summary_without_any_known_age():
    text = p.hourly_summary(HOURS.assign(most_engaged_age_group=None), "2024-06-25").data
    assert "No stream had a listener of known age" in text


def test_ingest_summary_counts_valid_rejected_other_dates_repeats_and_unknown_users():
    text = p.ingest_summary(COUNTS, "2024-06-25").data
    assert "**1,040 valid streams**" in text and "of the 1,050 stream rows of the day" in text
    assert "99.0%" in text
    assert "10 rows were rejected: 3 malformed, 2 duplicates, 5 of unknown tracks" in text
    assert "200 rows of other dates" in text
    assert "90 tracks" in text and "8 repeated rows" in text and "2 catalog rows rejected" in text
    assert "7 valid streams come from users missing" in text


def test_ingest_summary_without_rejects_says_so():
    clean = {**COUNTS, "bad_stream": 0, "duplicate_stream": 0, "unknown_track": 0, "valid_streams": 1_050}
    assert "No stream row was rejected." in p.ingest_summary(clean, "2024-06-25").data


def test_data_quality_frame_accounts_for_every_row():
    frame = p.data_quality_frame(COUNTS).set_index(["source", "check"])["rows"]
    assert frame["Streams", "rows of the day"] == 1_050
    rejected = sum(frame["Streams", f"rejected: {r}"] for r in p.STREAM_REJECTS)
    assert frame["Streams", "rows of the day"] == rejected + frame["Streams", "valid streams"]
    assert frame["Streams", "… by unknown users"] == 7
    catalog = frame["Catalog", "rows read"]
    assert (
        catalog
        == 100
        == (
            frame["Catalog", "rejected: bad_song"]
            + frame["Catalog", "repeated catalog rows"]
            + frame["Catalog", "tracks"]
        )
    )
    assert frame["Users", "rows read"] == 42 and frame["Users", "… of unknown age"] == 4


def test_data_quality_table_shares_and_highlights_rejects_that_occurred():
    quiet = {**COUNTS, "duplicate_stream": 0, "valid_streams": 1_042}
    shares = p.data_quality_frame(quiet).set_index("check")["share"]
    assert shares["valid streams"] == pytest.approx(1_042 / 1_050)
    assert math.isnan(shares["of other dates (skipped)"])
    html = p.data_quality_table(quiet).to_html()
    assert "What it means" in html and "1,250" in html and "99.24%" in html
    highlighted = {
        int(row)
        for block in html.split("}")
        if "background-color" in block
        for row in re.findall(r"_row(\d+)_col", block)
    }
    checks = p.data_quality_frame(quiet)["check"]
    assert sorted(checks[sorted(highlighted)]) == [
        "rejected: bad_song",
        "rejected: bad_stream",
        "rejected: unknown_track",
    ]
    assert "unreadable listen_time" in html


def test_reject_examples_table_shows_reason_rule_place_and_fields():
    examples = pd.DataFrame(
        {  # as ingest.reject_examples gives them: the other file's fields are NaN
            "source_file": ["songs.csv", "streams/a.csv"],
            "line": ["7", "12"],
            "track_id": ["", "T9"],
            "track_genre": ["<b>rock</b>", None],
            "duration_ms": ["-1", None],
            "reason": ["bad_song", "unknown_track"],
            "rule": ["empty track_id", "track_id not in the catalog"],
            "file_kind": ["songs", "streams"],
            "user_id": [None, "42"],
            "listen_time": [None, "2024-06-25 10:00:00"],
        }
    )
    html = p.reject_examples_table(examples).to_html()
    assert "songs.csv, line 7" in html and "streams/a.csv, line 12" in html
    assert "track_id=&#39;&#39;, track_genre=&#39;&lt;b&gt;rock&lt;/b&gt;&#39;, duration_ms=&#39;-1&#39;" in html
    assert "track_id=&#39;T9&#39;, user_id=&#39;42&#39;, listen_time=" in html
    assert "<b>rock</b>" not in html and "file_kind" not in html
    empty = p.reject_examples_table(examples.iloc[0:0]).to_html()
    assert "No row was rejected." in empty


def test_load_summary_compares_the_day_with_the_other_loaded_days():
    days = pd.DataFrame(
        {"listen_date": pd.to_datetime(["2024-06-24", "2024-06-25", "2024-06-26"]), "streams": [1_000, 3_000, 2_000]}
    )
    text = p.load_summary({"genre_level_kpis": 4, "hourly_kpis": 24}, days, "2024-06-26").data
    assert "4 rows of `genre_level_kpis`, 24 rows of `hourly_kpis` for 2024-06-26" in text
    assert "**3 days**" in text and "Mon 24 Jun 2024 to Wed 26 Jun 2024" in text
    assert "ranks 2 of 3" in text and "daily average 2,000" in text
    alone = p.load_summary({"genre_level_kpis": 4}, days.iloc[:1], "2024-06-24").data
    assert "only day loaded so far" in alone


@pytest.mark.parametrize(
    "size, expected",
    [
        (0, "0 B"),
        (999, "999 B"),
        (1_000, "1.0 kB"),
        (731_714, "731.7 kB"),
        (18_630_437, "18.6 MB"),
        (2_500_000_000, "2.5 GB"),
        (3_000_000_000_000, "3,000.0 GB"),
        (None, "–"),
    ],
)
def test_file_size(size, expected):
    assert p.file_size(size) == expected


def test_headlines_table_one_formatted_row_per_day_oldest_first():
    days = pd.DataFrame(
        {
            "listen_date": pd.to_datetime(["2024-06-25", "2024-06-24"]),
            "streams": [29_985, 30_010],
            "genres": [114, 113],
            "top_genre": ["bluegrass", "opera"],
            "top_genre_share": [0.0186, 0.02],
            "average_duration": [222.0, 221.4],
            "peak_hour": [20, 19],
            "peak_hour_streams": [2_149, 2_000],
            "max_hourly_listeners": [595, 590],
            "diversity": [0.98963, 0.9891],
            "sessions_per_listener": [1.0424, 1.04],
        }
    )
    html = p.headlines_table(days).to_html()
    assert html.index("Mon 24 Jun 2024") < html.index("Tue 25 Jun 2024")
    for text in ("29,985", "1.9%", "3:42", "20:00–21:00", "2,149", "0.9896", "1.04", "Most listeners in an hour"):
        assert text in html, text


def test_input_files_table():
    html = p.input_files_table([{"path": "songs.csv", "size": 18_630_437, "sha256": "ab" * 32}]).to_html()
    assert "songs.csv" in html and "18.6 MB" in html and "ab" * 32 in html and "SHA-256" in html


def test_folded_table_is_one_click_away():
    html = p.folded(p.genre_table(GENRES), "All 4 genres & more").data
    assert html.startswith("<details><summary>All 4 genres &amp; more</summary>") and "rock" in html
