"""Hand-worked rule tests for ingestion: KPI_SPEC.md sections 1-3 and the lead's decisions
(/tmp/contract.md, numbered 1-9 below as "decision N").

Every expected value is worked out by hand in the test (see the comments); no library
code is used to compute an expected value. Run date D = 2024-06-25 unless stated.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fixtures_small import (
    SONG_COLUMNS,
    SONG_REQUIRED,
    STREAM_COLUMNS,
    USER_COLUMNS,
    USER_REQUIRED,
    D,
    by_genre,
    by_hour,
    is_null,
    make_root,
    read_rejects,
    rel_source,
    run_all,
    stage,
    staged_streams,
    t,
    utc_naive,
    write_csv,
    write_text,
)
from streamkpi.errors import InputValidationError, NoValidStreamsError, StreamKPIError
from streamkpi.ingest import stage_day
from streamkpi.kpis import genre_level_kpis, hourly_kpis

SONGS = [("T1", "rock", 200000, "Artist A"), ("T2", "pop", 100000, "Artist B")]
USERS = [(1, 30), (2, 40), (3, 50)]
STREAMS = [(1, "T1", t("10:00:00"))]

COUNT_KEYS = {
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
}


def _stage_raises(tmp_path, exc, **kw):
    root = make_root(tmp_path, **kw)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(exc) as ei:
        stage_day(root, D, staging)
    return str(ei.value)


# ============================================================== 1. inputs: required columns


@pytest.mark.parametrize("missing", SONG_REQUIRED)
def test_songs_missing_required_column_names_file_and_column(tmp_path, missing):
    msg = _stage_raises(
        tmp_path,
        InputValidationError,
        songs=SONGS,
        users=USERS,
        streams=STREAMS,
        song_columns=[c for c in SONG_COLUMNS if c != missing],
    )
    assert "songs.csv" in msg
    assert missing in msg


def test_songs_missing_two_columns_names_both(tmp_path):
    cols = [c for c in SONG_COLUMNS if c not in ("duration_ms", "track_genre")]
    msg = _stage_raises(tmp_path, InputValidationError, songs=SONGS, users=USERS, streams=STREAMS, song_columns=cols)
    assert "songs.csv" in msg and "duration_ms" in msg and "track_genre" in msg


@pytest.mark.parametrize("missing", USER_REQUIRED)
def test_users_missing_required_column_names_file_and_column(tmp_path, missing):
    msg = _stage_raises(
        tmp_path,
        InputValidationError,
        songs=SONGS,
        users=USERS,
        streams=STREAMS,
        user_columns=[c for c in USER_COLUMNS if c != missing],
    )
    assert "users.csv" in msg
    assert missing in msg


@pytest.mark.parametrize("missing", STREAM_COLUMNS)
def test_stream_file_missing_required_column_names_file_and_column(tmp_path, missing):
    # one good stream file, one nested file lacking a column: the run fails, naming that file
    root = make_root(tmp_path, songs=SONGS, users=USERS, streams={"good.csv": STREAMS})
    cols = [c for c in STREAM_COLUMNS if c != missing]
    write_csv(
        root / "streams" / "2024-06-25" / "part-bad.csv",
        cols,
        [{"user_id": 2, "track_id": "T1", "listen_time": t("11:00:00")}],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(InputValidationError) as ei:
        stage_day(root, D, staging)
    msg = str(ei.value)
    assert "part-bad.csv" in msg
    assert missing in msg


def test_stream_file_of_other_dates_missing_column_still_fails(tmp_path):
    # the header check is per file, before anything is read: a file holding only other dates
    # but lacking listen_time still fails the run
    root = make_root(tmp_path, songs=SONGS, users=USERS, streams={"a.csv": STREAMS})
    write_csv(
        root / "streams" / "old.csv",
        ["user_id", "track_id", "when"],
        [{"user_id": 1, "track_id": "T1", "when": "2024-01-01 10:00:00"}],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(InputValidationError) as ei:
        stage_day(root, D, staging)
    assert "old.csv" in str(ei.value) and "listen_time" in str(ei.value)


def test_missing_songs_csv(tmp_path):
    msg = _stage_raises(tmp_path, InputValidationError, songs=None, users=USERS, streams=STREAMS)
    assert "songs.csv" in msg


def test_missing_users_csv(tmp_path):
    msg = _stage_raises(tmp_path, InputValidationError, songs=SONGS, users=None, streams=STREAMS)
    assert "users.csv" in msg


def test_missing_streams_folder(tmp_path):
    msg = _stage_raises(tmp_path, InputValidationError, songs=SONGS, users=USERS, streams=None)
    assert "streams" in msg


def test_streams_folder_without_csv_files_fails(tmp_path):
    # no stream file at all ("any stream file is missing"): the run must fail with a
    # pipeline error (a non-csv file is not a stream file)
    root = make_root(tmp_path, songs=SONGS, users=USERS, streams={})
    write_text(root, "streams/README.txt", "not a csv\n")
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises((InputValidationError, NoValidStreamsError)):
        stage_day(root, D, staging)


def test_errors_subclass_streamkpierror():
    assert issubclass(InputValidationError, StreamKPIError)
    assert issubclass(NoValidStreamsError, StreamKPIError)


def test_extra_columns_other_order_and_unnamed_index_accepted(tmp_path):
    # songs: unnamed first index column, required columns only + an extra one, shuffled order
    song_cols = ["", "track_genre", "extra_col", "duration_ms", "popularity", "track_name", "artists", "track_id"]
    user_cols = ["created_at", "user_age", "favourite_colour", "user_id"]
    stream_cols = ["listen_time", "device", "track_id", "user_id"]
    songs = [
        dict(track_id="T1", track_genre="rock", duration_ms=200000, artists="A", extra_col="x"),
        dict(track_id="T2", track_genre="pop", duration_ms=100000, artists="B", extra_col="y"),
    ]
    users = [
        dict(user_id=1, user_age=30, favourite_colour="red"),
        dict(user_id=2, user_age=20, favourite_colour="blue"),
    ]
    streams = [
        dict(user_id=1, track_id="T1", listen_time=t("10:00:00"), device="phone"),
        dict(user_id=2, track_id="T2", listen_time=t("10:20:00"), device="web"),
        dict(user_id=2, track_id="T1", listen_time=t("11:00:00"), device="web"),
    ]
    s, g, h = run_all(
        tmp_path, songs, users, streams, song_columns=song_cols, user_columns=user_cols, stream_columns=stream_cols
    )
    assert s.counts["valid_streams"] == 3
    assert s.counts["bad_stream"] == 0 and s.counts["bad_song"] == 0
    gg = by_genre(g)
    # rock: T1 twice (200 s); pop: T2 once (100 s)
    assert gg["rock"]["listen_count"] == 2 and gg["pop"]["listen_count"] == 1
    assert gg["rock"]["average_duration"] == pytest.approx(200.0, abs=1e-12)
    assert gg["pop"]["average_duration"] == pytest.approx(100.0, abs=1e-12)
    hh = by_hour(h)
    # hour 10: user 1 (30 -> 25-34) and user 2 (20 -> 18-24), one stream each -> tie -> younger
    assert hh[10]["most_engaged_age_group"] == "18-24"
    assert hh[11]["top_artist"] == "A"


def test_songs_with_index_column_named_unnamed_0_accepted(tmp_path):
    # pandas-written catalogs carry "Unnamed: 0"; it is just an extra column
    cols = ["Unnamed: 0"] + SONG_REQUIRED
    s, g, _ = run_all(
        tmp_path,
        [dict(track_id="T1", track_genre="rock", duration_ms=250000, **{"Unnamed: 0": 0})],
        USERS,
        STREAMS,
        song_columns=cols,
    )
    assert by_genre(g)["rock"]["average_duration"] == pytest.approx(250.0, abs=1e-12)


def test_nested_stream_folders_and_multiple_files(tmp_path):
    streams = {
        "top.csv": [(1, "T1", t("01:00:00"))],
        "2024-06-25/part-0.csv": [(1, "T1", t("02:00:00")), (2, "T2", t("02:10:00"))],
        "2024-06-25/part-1.csv": [(3, "T2", t("03:00:00"))],
        "a/b/c/deep.csv": [(2, "T1", t("04:00:00")), (2, "T1", "2024-06-26 04:00:00")],
    }
    root = make_root(tmp_path, SONGS, USERS, streams)
    write_text(root, "streams/a/notes.txt", "this,is\nnot,a stream file\n")  # ignored: not *.csv
    staging = tmp_path / "staging"
    staging.mkdir()
    s = stage_day(root, D, staging)
    # 1 + 2 + 1 + 2 = 6 rows read; one is 2024-06-26 -> other_date; 5 valid
    assert s.counts["rows_read"] == 6
    assert s.counts["other_date"] == 1
    assert s.counts["valid_streams"] == 5
    h = by_hour(hourly_kpis(staging, D))
    assert sorted(h) == [1, 2, 3, 4]
    assert h[2]["listen_counts"] == 2 and h[2]["unique_listeners"] == 2
    g = by_genre(genre_level_kpis(staging, D))
    # rock: T1 at 01, 02, 04 -> 3; pop: T2 at 02:10, 03 -> 2; 3/5 and 2/5
    assert g["rock"]["listen_count"] == 3 and g["pop"]["listen_count"] == 2
    assert g["rock"]["popularity_index"] == pytest.approx(0.6, abs=1e-12)


def test_stream_files_any_column_order_per_file(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, {"a.csv": [(1, "T1", t("10:00:00"))]})
    write_csv(
        root / "streams" / "b.csv",
        ["track_id", "listen_time", "user_id"],
        [{"user_id": 2, "track_id": "T2", "listen_time": t("10:30:00")}],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    s = stage_day(root, D, staging)
    assert s.counts["valid_streams"] == 2
    g = by_genre(genre_level_kpis(staging, D))
    assert g["pop"]["listen_count"] == 1 and g["rock"]["listen_count"] == 1


def test_catalog_quoted_commas_quotes_and_non_latin_text(tmp_path):
    # hand-written CSV text, so the quoting is exactly as in the real catalog
    songs_csv = (
        ",track_id,artists,album_name,track_name,popularity,duration_ms,track_genre\n"
        '0,Q1,"Smith, John;宇多田ヒカル","Album, ""Deluxe""","He said ""hi"", then left",50,200000,кантри\n'
        '1,Q2,"The ""Band""",Plain,"Ünïcødé, ok",10,100000,"r&b, soul"\n'
        "2,Q3,宇多田ヒカル,初恋,初恋,70,300000,j-pop\n"
    )
    root = make_root(
        tmp_path,
        None,
        USERS,
        [(1, "Q1", t("10:00:00")), (1, "Q2", t("11:00:00")), (2, "Q3", t("12:00:00")), (3, "Q1", t("12:30:00"))],
    )
    write_text(root, "songs.csv", songs_csv)
    staging = tmp_path / "staging"
    staging.mkdir()
    s = stage_day(root, D, staging)
    assert s.counts["bad_song"] == 0 and s.counts["valid_streams"] == 4
    g = by_genre(genre_level_kpis(staging, D))
    # genres parsed whole, including a quoted comma and Cyrillic
    assert set(g) == {"кантри", "r&b, soul", "j-pop"}
    assert g["кантри"]["listen_count"] == 2 and g["кантри"]["most_popular_track_id"] == "Q1"
    assert g["кантри"]["average_duration"] == pytest.approx(200.0, abs=1e-12)
    assert g["r&b, soul"]["average_duration"] == pytest.approx(100.0, abs=1e-12)
    h = by_hour(hourly_kpis(staging, D))
    # hour 10: Q1 credits "Smith, John" and "宇多田ヒカル" once each -> tie -> 'S' (U+0053) < '宇'
    assert h[10]["top_artist"] == "Smith, John"
    # hour 11: Q2 -> 'The "Band"' (inner quotes unescaped)
    assert h[11]["top_artist"] == 'The "Band"'
    # hour 12: Q3 (宇多田ヒカル) + Q1 (Smith, John; 宇多田ヒカル) -> 宇多田ヒカル 2, Smith 1
    assert h[12]["top_artist"] == "宇多田ヒカル"


# ============================================================== 3. catalog rules


def test_bad_songs_rejected_and_counted(tmp_path):
    songs = [
        ("", "rock", 200000),  # empty track_id              -> bad_song
        ("  ", "rock", 200000),  # blank track_id (trimmed)    -> bad_song (decision 1)
        ("S1", "", 200000),  # empty genre                 -> bad_song
        ("S1b", "   ", 200000),  # blank genre                 -> bad_song
        ("S2", "rock", 0),  # duration 0                  -> bad_song
        ("S3", "rock", -1000),  # negative                    -> bad_song
        ("S4", "rock", "abc"),  # non-numeric                 -> bad_song
        ("S5", "rock", ""),  # empty duration              -> bad_song
        ("S6", "rock", "nan"),  # not finite                  -> bad_song
        ("S7", "rock", "inf"),  # not finite                  -> bad_song
        ("G1", "rock", "1.5e5"),  # 150000 ms -> 150 s (decision 4: a number)
        ("G2", "rock", "200000.0"),  # 200 s
        ("G3", "pop", 1500),  # 1.5 s
    ]
    streams = [
        (1, "G1", t("10:00:00")),
        (1, "G2", t("10:05:00")),
        (2, "G3", t("10:10:00")),
        (2, "S2", t("10:15:00")),
        (3, "S4", t("10:20:00")),
    ]
    s, g, _ = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["bad_song"] == 10
    assert s.counts["duplicate_track_rows"] == 0
    # streams of rejected tracks S2, S4 -> unknown_track
    assert s.counts["unknown_track"] == 2
    assert s.counts["valid_streams"] == 3
    gg = by_genre(g)
    # rock: G1 150 s, G2 200 s -> 175; pop: G3 1.5 s
    assert gg["rock"]["average_duration"] == pytest.approx(175.0, abs=1e-12)
    assert gg["pop"]["average_duration"] == pytest.approx(1.5, abs=1e-12)


def test_bad_songs_written_to_rejects_file(tmp_path):
    songs = [("", "rock", 200000), ("S1", "", 200000), ("S2", "rock", 0), ("S4", "rock", "abc"), ("T1", "rock", 200000)]
    _, staging = stage(tmp_path, songs, USERS, [(1, "T1", t("10:00:00"))])
    rj = read_rejects(staging, "songs.csv")
    assert {"source_file", "line", "track_id", "track_genre", "duration_ms", "reason"} <= set(rj.columns)
    bad = rj[rj["reason"] == "bad_song"]
    assert sorted(zip(bad["track_id"], bad["track_genre"], bad["duration_ms"])) == sorted(
        [("", "rock", "200000"), ("S1", "", "200000"), ("S2", "rock", "0"), ("S4", "rock", "abc")]
    )
    assert all(str(f).replace("\\", "/").endswith("songs.csv") for f in bad["source_file"])
    # the lines of the first four rows after the header, in file order
    assert [int(x) for x in bad["line"]] == [2, 3, 4, 5]


def test_repeated_track_first_row_is_record(tmp_path):
    songs = [
        ("T1", "rock", 200000, "First Artist"),  # record: primary genre rock, 200 s
        ("T2", "pop", 100000, "Other"),
        ("T1", "pop", 100000, "Second Artist"),  # duplicate_track_rows
        ("T1", "jazz", 50000, "Third Artist"),  # duplicate_track_rows
    ]
    streams = [(1, "T1", t("10:00:00")), (2, "T1", t("10:10:00")), (3, "T2", t("11:00:00"))]
    s, g, h = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["duplicate_track_rows"] == 2
    assert s.counts["bad_song"] == 0
    gg = by_genre(g)
    # T1 is rock (first row) -> rock 2 streams, 200 s each; pop only T2; no jazz row
    assert set(gg) == {"rock", "pop"}
    assert gg["rock"]["listen_count"] == 2
    assert gg["rock"]["average_duration"] == pytest.approx(200.0, abs=1e-12)
    assert gg["pop"]["listen_count"] == 1
    assert gg["pop"]["most_popular_track_id"] == "T2"
    # artists of the first row too (decision 4)
    assert by_hour(h)[10]["top_artist"] == "First Artist"


def test_bad_first_row_followed_by_good_row_decision_4(tmp_path):
    songs = [
        ("T1", "", 200000, "Bad"),  # bad_song (empty genre): removed first
        ("T1", "pop", 100000, "Good"),  # -> T1's record: pop, 100 s
        ("T2", "rock", 0, "Zero"),  # bad_song (duration 0)
        ("T2", "rock", 300000, "Real"),  # -> T2's record: rock, 300 s
        ("T2", "jazz", 1000, "Later"),  # duplicate_track_rows
    ]
    streams = [(1, "T1", t("10:00:00")), (2, "T2", t("11:00:00"))]
    s, g, h = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["bad_song"] == 2
    assert s.counts["duplicate_track_rows"] == 1
    assert s.counts["unknown_track"] == 0 and s.counts["valid_streams"] == 2
    gg = by_genre(g)
    assert set(gg) == {"pop", "rock"}
    assert gg["pop"]["average_duration"] == pytest.approx(100.0, abs=1e-12)
    assert gg["rock"]["average_duration"] == pytest.approx(300.0, abs=1e-12)
    hh = by_hour(h)
    assert hh[10]["top_artist"] == "Good" and hh[11]["top_artist"] == "Real"


def test_catalog_fields_trimmed_decision_1(tmp_path):
    songs = [(" T1 ", " rock ", 200000, "  Artist A  ")]
    s, g, h = run_all(tmp_path, songs, USERS, [(1, "T1", t("10:00:00"))])
    assert s.counts["valid_streams"] == 1 and s.counts["unknown_track"] == 0
    assert list(g["track_genre"]) == ["rock"]
    assert g["most_popular_track_id"].iloc[0] == "T1"
    assert by_hour(h)[10]["top_artist"] == "Artist A"


def test_trimmed_track_id_duplicates_first_row(tmp_path):
    # "T1" and " T1 " are the same track after trimming: the second row is a duplicate
    songs = [("T1", "rock", 200000), (" T1 ", "pop", 100000)]
    s, g, _ = run_all(tmp_path, songs, USERS, [(1, "T1", t("10:00:00"))])
    assert s.counts["duplicate_track_rows"] == 1
    assert list(g["track_genre"]) == ["rock"]


# ============================================================== 3. users rules

# one user per hour, one stream each; expected age group (None = unknown age)
AGE_CASES = [
    ("13", "<18"),
    ("120", "65+"),
    ("30.0", "25-34"),
    ("25.00", "25-34"),
    (" 40 ", "35-44"),
    ("", None),
    ("abc", None),
    ("12", None),
    ("121", None),
    ("25.5", None),
    ("-20", None),
    ("2e1", None),
    ("0", None),
    ("+25", None),
    ("25.", None),
]


def test_user_age_validity(tmp_path):
    users = [(i + 1, age) for i, (age, _) in enumerate(AGE_CASES)]
    streams = [(i + 1, "T1", t(f"{i:02d}:00:00")) for i in range(len(AGE_CASES))]
    s, _, h = run_all(tmp_path, SONGS, users, streams)
    hh = by_hour(h)
    for i, (age, group) in enumerate(AGE_CASES):
        got = hh[i]["most_engaged_age_group"]
        if group is None:
            assert is_null(got), f"age {age!r}: expected NULL, got {got!r}"
        else:
            assert got == group, f"age {age!r}: expected {group!r}, got {got!r}"
    # unknown ages: '', abc, 12, 121, 25.5, -20, 2e1, 0, +25, 25. -> 10 users
    assert s.counts["unknown_age_users"] == 10
    assert s.counts["unknown_user_streams"] == 0  # they are known users, just no age
    assert s.counts["bad_user_rows"] == 0


def test_duplicate_user_keeps_first_row_and_bad_user_ids(tmp_path):
    users = [
        (1, "30"),  # kept: 25-34
        (1, "70"),  # duplicate_user_rows
        (2, "abc"),  # kept even though the age is bad -> unknown age (decision 6)
        (2, "40"),  # duplicate_user_rows
        ("u5", "30"),  # bad_user_rows
        ("", "30"),  # bad_user_rows
        ("1.5", "30"),  # bad_user_rows
        (3, "50"),
    ]
    streams = [(1, "T1", t("10:00:00")), (2, "T1", t("11:00:00")), (3, "T1", t("12:00:00"))]
    s, _, h = run_all(tmp_path, SONGS, users, streams)
    assert s.counts["duplicate_user_rows"] == 2
    assert s.counts["bad_user_rows"] == 3
    assert s.counts["unknown_age_users"] == 1  # user 2
    assert s.counts["unknown_user_streams"] == 0
    hh = by_hour(h)
    assert hh[10]["most_engaged_age_group"] == "25-34"
    assert is_null(hh[11]["most_engaged_age_group"])
    assert hh[12]["most_engaged_age_group"] == "45-54"


def test_user_fields_trimmed_and_integer_ids_match(tmp_path):
    # users ' 7 ' and '008' are integers 7 and 8; streams '7' and ' 8' are the same users
    users = [(" 7 ", " 30 "), ("008", "60")]
    streams = [("7", "T1", t("10:00:00")), (" 8", "T1", t("11:00:00"))]
    s, _, h = run_all(tmp_path, SONGS, users, streams)
    assert s.counts["unknown_user_streams"] == 0 and s.counts["bad_user_rows"] == 0
    hh = by_hour(h)
    assert hh[10]["most_engaged_age_group"] == "25-34"
    assert hh[11]["most_engaged_age_group"] == "55-64"


def test_unknown_user_stream_kept_with_unknown_age(tmp_path):
    streams = [
        (99, "T1", t("10:00:00")),
        (99, "T2", t("10:10:00")),
        (1, "T1", t("10:20:00")),
        (98, "T1", t("11:00:00")),
    ]
    s, g, h = run_all(tmp_path, SONGS, USERS, streams)
    # users 99 and 98 are not in users.csv: their 3 streams are valid
    assert s.counts["valid_streams"] == 4
    assert s.counts["unknown_user_streams"] == 3
    hh = by_hour(h)
    # hour 10: users 99, 1 -> 2 listeners, 3 streams; only user 1 (30) has a known age
    assert hh[10]["unique_listeners"] == 2 and hh[10]["listen_counts"] == 3
    assert hh[10]["most_engaged_age_group"] == "25-34"
    # hour 11: only unknown user -> NULL age group
    assert hh[11]["unique_listeners"] == 1
    assert is_null(hh[11]["most_engaged_age_group"])
    assert by_genre(g)["rock"]["listen_count"] == 3


# ============================================================== 2./3. streams rules


def test_other_date_counted_and_excluded_with_day_boundaries(tmp_path):
    streams = [
        (1, "T1", "2024-06-24 23:59:59"),  # other_date
        (1, "T1", t("00:00:00")),  # D, hour 0
        (2, "T1", t("23:59:59")),  # D, hour 23
        (2, "T1", "2024-06-26 00:00:00"),  # other_date (end exclusive)
        (3, "T2", "2024-06-20 12:00:00"),  # other_date
    ]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["rows_read"] == 5
    assert s.counts["other_date"] == 3
    assert s.counts["valid_streams"] == 2
    assert s.counts["bad_stream"] == 0
    h = by_hour(hourly_kpis(staging, D))
    assert sorted(h) == [0, 23]
    g = by_genre(genre_level_kpis(staging, D))
    assert set(g) == {"rock"}  # the only pop stream is of another date
    # other_date rows are not rejects (an absent rejects file also means "no rejects")
    if (staging / "rejects" / "streams.csv").exists():
        assert len(read_rejects(staging, "streams.csv")) == 0


# (listen_time text, expected UTC instant in D, or None when it falls on another date)
TIME_FORMS = [
    ("2024-06-25 10:00:00", "2024-06-25 10:00:00"),
    ("2024-06-25T10:00:00", "2024-06-25 10:00:00"),
    ("2024-06-25 10:00:00.5", "2024-06-25 10:00:00.5"),
    ("2024-06-25T10:59:59.123456", "2024-06-25 10:59:59.123456"),
    ("2024-06-25T10:00:00Z", "2024-06-25 10:00:00"),
    ("2024-06-25 10:00:00Z", "2024-06-25 10:00:00"),
    ("2024-06-25T12:00:00+02:00", "2024-06-25 10:00:00"),  # 12:00 - 2 h
    ("2024-06-25 12:00:00+02:00", "2024-06-25 10:00:00"),
    ("2024-06-25T07:30:00-02:30", "2024-06-25 10:00:00"),  # 07:30 + 2:30
    ("2024-06-25T07:30:00-0230", "2024-06-25 10:00:00"),
    ("2024-06-25T15:30:00+0530", "2024-06-25 10:00:00"),  # 15:30 - 5:30
    ("2024-06-25T15:00:00+05", "2024-06-25 10:00:00"),  # 15:00 - 5 h
    ("2024-06-25T12:00:00.250+02:00", "2024-06-25 10:00:00.25"),
    ("2024-06-26T01:30:00+02:00", "2024-06-25 23:30:00"),  # next local day -> D 23:30
    ("2024-06-26T00:59:59.5+01:00", "2024-06-25 23:59:59.5"),
    ("2024-06-24T21:00:00-03:00", "2024-06-25 00:00:00"),  # previous local day -> D 00:00
    ("2024-06-24T23:30:00-0100", "2024-06-25 00:30:00"),
    ("2024-06-25T00:30:00+01:00", None),  # -> 2024-06-24 23:30
    ("2024-06-25T00:00:00+00:01", None),  # -> 2024-06-24 23:59
    ("2024-06-25T22:30:00-02:00", None),  # -> 2024-06-26 00:30
    ("2024-06-25T23:59:59.5-00:01", None),  # -> 2024-06-26 00:00:59.5
    ("2024-06-25 23:59:59.999", "2024-06-25 23:59:59.999"),
]


@pytest.mark.parametrize("text,expected", TIME_FORMS, ids=[x[0] for x in TIME_FORMS])
def test_listen_time_forms_converted_to_utc(tmp_path, text, expected):
    # anchor: user 2 at 05:00 so that D always has a valid stream (no expected hour is 5)
    streams = [(2, "T2", t("05:00:00")), (1, "T1", text)]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["bad_stream"] == 0
    st = staged_streams(staging)
    h = by_hour(hourly_kpis(staging, D))
    if expected is None:
        assert s.counts["other_date"] == 1 and s.counts["valid_streams"] == 1
        assert sorted(h) == [5]
    else:
        exp = pd.Timestamp(expected)
        assert s.counts["other_date"] == 0 and s.counts["valid_streams"] == 2
        got = st[st["track_id"] == "T1"]["listen_time"].tolist()
        assert len(got) == 1 and utc_naive(got[0]) == exp
        assert h[exp.hour]["listen_counts"] == 1 and h[exp.hour]["unique_listeners"] == 1


UNPARSEABLE = [
    "2024-06-25",  # date only
    "2024-06-25 24:00:00",  # hour 24
    "2024-06-25 10:60:00",  # minute 60
    "2024-02-30 10:00:00",  # no such day (rule a before b: bad_stream, not other_date)
    "2024-13-01 10:00:00",  # month 13
    "25/06/2024 10:00",
    "2024-06-25 10:00",  # no seconds
    "",
    "   ",
    "yesterday",
    "2024-06-25T10:00:00 UTC",
]


@pytest.mark.parametrize("text", UNPARSEABLE, ids=[repr(x) for x in UNPARSEABLE])
def test_unparseable_listen_time_is_bad_stream(tmp_path, text):
    streams = [(2, "T2", t("05:00:00")), (1, "T1", text)]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["bad_stream"] == 1
    assert s.counts["other_date"] == 0
    assert s.counts["valid_streams"] == 1
    rj = read_rejects(staging, "streams.csv")
    assert list(rj["reason"]) == ["bad_stream"] and list(rj["track_id"]) == ["T1"]


# (user_id text, outcome): "bad" -> bad_stream; "known" -> valid, user in users.csv;
# "unknown" -> valid, unknown user (counted unknown_user_streams)
USER_ID_CASES = [
    ("", "bad"),
    ("   ", "bad"),
    ("u1", "bad"),
    ("12.0", "bad"),
    ("1e3", "bad"),
    ("1 2", "bad"),
    ("99999999999999999999", "bad"),  # does not fit in 64 bits
    ("9223372036854775808", "bad"),  # 2^63: does not fit
    ("1", "known"),
    (" 1 ", "known"),
    ("001", "known"),
    ("+1", "known"),
    ("-5", "unknown"),
    ("9223372036854775807", "unknown"),
]


@pytest.mark.parametrize("uid,outcome", USER_ID_CASES, ids=[repr(x[0]) for x in USER_ID_CASES])
def test_stream_user_id_validation(tmp_path, uid, outcome):
    streams = [(2, "T2", t("05:00:00")), (uid, "T1", t("10:00:00"))]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    if outcome == "bad":
        assert s.counts["bad_stream"] == 1 and s.counts["valid_streams"] == 1
    else:
        assert s.counts["bad_stream"] == 0 and s.counts["valid_streams"] == 2
        assert s.counts["unknown_user_streams"] == (1 if outcome == "unknown" else 0)
        st = staged_streams(staging)
        exp = int(uid.strip())
        assert sorted(int(x) for x in st["user_id"]) == sorted([2, exp])


@pytest.mark.parametrize("tid", ["", "   "])
def test_empty_track_id_is_bad_stream(tmp_path, tid):
    streams = [(2, "T2", t("05:00:00")), (1, tid, t("10:00:00"))]
    s, _ = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["bad_stream"] == 1
    assert s.counts["unknown_track"] == 0
    assert s.counts["valid_streams"] == 1


def test_rule_order_other_date_before_user_and_track_checks(tmp_path):
    # decision 3: (a) parse, (b) date, (c) user/track; an other-date row with a bad user id
    # or empty track id is other_date, not bad_stream; an unparseable time is bad_stream
    streams = [
        (2, "T2", t("05:00:00")),  # valid
        ("u1", "T1", "2024-06-24 10:00:00"),  # other_date
        (1, "", "2024-06-26 10:00:00"),  # other_date
        ("u1", "T1", "garbage"),  # bad_stream
        (1, "NOPE", "2024-06-26 10:00:00"),  # other_date (not unknown_track)
    ]
    s, _ = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["other_date"] == 3
    assert s.counts["bad_stream"] == 1
    assert s.counts["unknown_track"] == 0
    assert s.counts["valid_streams"] == 1


def test_stream_fields_trimmed(tmp_path):
    streams = [(" 1 ", " T1 ", " 2024-06-25 10:00:00 ")]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["valid_streams"] == 1 and s.counts["bad_stream"] == 0
    assert s.counts["unknown_track"] == 0
    st = staged_streams(staging)
    assert list(st["track_id"]) == ["T1"]
    assert utc_naive(st["listen_time"].iloc[0]) == pd.Timestamp("2024-06-25 10:00:00")


def test_exact_duplicates_counted_once(tmp_path):
    streams = [
        (1, "T1", t("10:00:00")),  # kept
        (1, "T1", t("10:00:00")),  # duplicate_stream
        (1, "T1", t("10:00:00")),  # duplicate_stream
        (1, "T1", "2024-06-25T12:00:00+02:00"),  # same instant, other form -> duplicate_stream
        (1, "T1", "2024-06-25T10:00:00.000Z"),  # same instant -> duplicate_stream
        ("001", "T1", t("10:00:00")),  # user 001 == 1 -> duplicate_stream
        (1, "T1", t("10:00:01")),  # 1 s later: a different stream, kept
        (1, "T2", t("10:00:00")),  # other track: kept
        (2, "T1", t("10:00:00")),  # other user: kept
        (1, "t1", t("10:00:00")),  # track ids are case-sensitive: t1 unknown
    ]
    s, g, h = run_all(tmp_path, SONGS, USERS, streams)
    assert s.counts["duplicate_stream"] == 5
    assert s.counts["unknown_track"] == 1
    assert s.counts["valid_streams"] == 4
    hh = by_hour(h)
    assert hh[10]["listen_counts"] == 4 and hh[10]["unique_listeners"] == 2
    gg = by_genre(g)
    # rock: T1 x3 (10:00 u1, 10:00:01 u1, 10:00 u2); pop: T2 x1 -> 0.75 / 0.25
    assert gg["rock"]["listen_count"] == 3
    assert gg["rock"]["popularity_index"] == pytest.approx(0.75, abs=1e-12)


def test_duplicates_across_files_first_in_sorted_path_order_kept(tmp_path):
    # decision 9: files read in sorted path order: a/x.csv before b.csv; the copy in b.csv
    # is the duplicate (whatever the order the files were written in)
    streams = {"b.csv": [(1, "T1", "2024-06-25T10:00:00Z")], "a/x.csv": [(1, "T1", t("10:00:00"))]}
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["duplicate_stream"] == 1 and s.counts["valid_streams"] == 1
    rj = read_rejects(staging, "streams.csv")
    assert len(rj) == 1
    assert rel_source(rj["source_file"].iloc[0], ["b.csv", "a/x.csv"]) == "b.csv"
    assert rj["listen_time"].iloc[0] == "2024-06-25T10:00:00Z"
    assert rj["reason"].iloc[0] == "duplicate_stream"


def test_duplicates_of_rejected_or_other_date_rows(tmp_path):
    streams = [
        (2, "T2", t("05:00:00")),  # valid
        (1, "NOPE", t("10:00:00")),  # unknown_track (first copy)
        (1, "NOPE", t("10:00:00")),  # duplicate_stream (decision 3e)
        ("u1", "T1", t("10:00:00")),  # bad_stream
        ("u1", "T1", t("10:00:00")),  # bad_stream again (rule c precedes dedup d)
        (1, "T1", "2024-06-24 10:00:00"),  # other_date
        (1, "T1", "2024-06-24 10:00:00"),  # other_date again (rule b precedes d)
    ]
    s, _ = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["unknown_track"] == 1
    assert s.counts["duplicate_stream"] == 1
    assert s.counts["bad_stream"] == 2
    assert s.counts["other_date"] == 2
    assert s.counts["valid_streams"] == 1


def test_unknown_track_rejected_case_sensitive(tmp_path):
    songs = SONGS + [("abc", "jazz", 100000)]
    streams = [(1, "abc", t("10:00:00")), (1, "ABC", t("10:05:00")), (1, "ZZ", t("10:10:00"))]
    s, g, _ = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["unknown_track"] == 2
    assert s.counts["valid_streams"] == 1
    assert list(g["track_genre"]) == ["jazz"]


def test_rejects_streams_file_and_summary_counts(tmp_path):
    streams = {
        "2024-06-25/part-0.csv": [
            (1, "T1", "2024-06-25 10:00:00"),  # valid
            (1, "T1", "2024-06-25 10:00:00"),  # duplicate_stream
            ("u1", "T1", "2024-06-25 10:05:00"),  # bad_stream (user id)
            (2, "", "2024-06-25 10:06:00"),  # bad_stream (track id)
            (2, "T1", "garbage"),  # bad_stream (time)
            (2, "NOPE", "2024-06-25 10:07:00"),  # unknown_track
            (3, "T1", "2024-06-24 10:00:00"),  # other_date: not a reject
        ],
        "x/y/part-1.csv": [
            (1, "T1", "2024-06-25T12:00:00+02:00"),  # duplicate_stream (same instant)
            (4, "T2", "2024-06-25 11:00:00"),  # valid, unknown user 4
        ],
    }
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    c = s.counts
    assert COUNT_KEYS <= set(c)
    assert c["rows_read"] == 9
    assert c["other_date"] == 1
    assert c["bad_stream"] == 3
    assert c["duplicate_stream"] == 2
    assert c["unknown_track"] == 1
    assert c["valid_streams"] == 2
    assert c["unknown_user_streams"] == 1
    # 9 = 1 + 3 + 2 + 1 + 2
    assert c["rows_read"] == (
        c["other_date"] + c["bad_stream"] + c["duplicate_stream"] + c["unknown_track"] + c["valid_streams"]
    )
    assert c["bad_song"] == 0 and c["duplicate_track_rows"] == 0
    assert c["bad_user_rows"] == 0 and c["duplicate_user_rows"] == 0
    assert c["unknown_age_users"] == 0

    rj = read_rejects(staging, "streams.csv")
    assert {"source_file", "user_id", "track_id", "listen_time", "reason"} <= set(rj.columns)
    files = ["2024-06-25/part-0.csv", "x/y/part-1.csv"]
    got = sorted(
        (rel_source(r.source_file, files), r.user_id, r.track_id, r.listen_time, r.reason) for r in rj.itertuples()
    )
    p0, p1 = files
    assert got == sorted(
        [
            (p0, "1", "T1", "2024-06-25 10:00:00", "duplicate_stream"),
            (p0, "u1", "T1", "2024-06-25 10:05:00", "bad_stream"),
            (p0, "2", "", "2024-06-25 10:06:00", "bad_stream"),
            (p0, "2", "T1", "garbage", "bad_stream"),
            (p0, "2", "NOPE", "2024-06-25 10:07:00", "unknown_track"),
            (p1, "1", "T1", "2024-06-25T12:00:00+02:00", "duplicate_stream"),
        ]
    )

    st = staged_streams(staging)
    assert {"user_id", "track_key", "listen_time"} <= set(pd.read_parquet(staging / "streams.parquet").columns)
    assert pd.api.types.is_integer_dtype(st["user_id"])
    got_valid = sorted(
        (int(u), tr, utc_naive(lt)) for u, tr, lt in zip(st["user_id"], st["track_id"], st["listen_time"])
    )
    assert got_valid == [(1, "T1", pd.Timestamp("2024-06-25 10:00:00")), (4, "T2", pd.Timestamp("2024-06-25 11:00:00"))]


# ============================================================== no valid streams, run date types


@pytest.mark.parametrize(
    "streams",
    [
        [(1, "T1", "2024-06-24 10:00:00")],  # only other dates
        [(1, "NOPE", t("10:00:00"))],  # only unknown tracks
        [("u1", "T1", t("10:00:00")), (1, "T1", "bad")],  # only bad streams
        [],  # header only
    ],
    ids=["other-date", "unknown-track", "bad", "empty"],
)
def test_no_valid_streams_raises(tmp_path, streams):
    root = make_root(tmp_path, SONGS, USERS, streams)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(NoValidStreamsError) as ei:
        stage_day(root, D, staging)
    assert "2024-06-25" in str(ei.value)


def test_run_date_as_date_object(tmp_path):
    s, g, h = run_all(
        tmp_path,
        SONGS,
        USERS,
        [(1, "T1", t("10:00:00")), (1, "T1", "2024-06-26 10:00:00")],
        run_date=dt.date(2024, 6, 25),
    )
    assert s.counts["valid_streams"] == 1 and s.counts["other_date"] == 1
    assert len(g) == 1 and len(h) == 1


def test_other_run_date_same_folder(tmp_path):
    # the same folder holds several days: D+1 sees the 2024-06-26 row only
    streams = [(1, "T1", t("10:00:00")), (2, "T2", "2024-06-26 03:00:00")]
    s, g, h = run_all(tmp_path, SONGS, USERS, streams, run_date="2024-06-26")
    assert s.counts["valid_streams"] == 1 and s.counts["other_date"] == 1
    assert list(g["track_genre"]) == ["pop"]
    assert [int(x) for x in h["listen_hour"]] == [3]
    assert all(pd.Timestamp(x).date() == dt.date(2024, 6, 26) for x in g["listen_date"])


# ============================================================== more decisions: file order, whitespace, extremes


def test_duplicate_within_one_file_first_row_in_file_order_is_kept(tmp_path):
    # spec 3: "an exact duplicate of an earlier row": the EARLIER row (file order) is kept and
    # the later copy is the duplicate_stream reject, whatever its text form
    streams = [
        (1, "T1", "2024-06-25T12:00:00+02:00"),  # row 1: kept
        (1, "T1", "2024-06-25 10:00:00"),  # row 2: same instant -> duplicate_stream
    ]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["duplicate_stream"] == 1 and s.counts["valid_streams"] == 1
    rj = read_rejects(staging, "streams.csv")
    assert list(zip(rj["listen_time"], rj["reason"])) == [("2024-06-25 10:00:00", "duplicate_stream")]


def test_duplicated_unknown_track_first_copy_unknown_track_in_file_order(tmp_path):
    # decision 3e: first copy (file order) unknown_track, the later copy duplicate_stream
    streams = [
        (2, "T2", t("05:00:00")),
        (1, "NOPE", "2024-06-25T10:00:00Z"),  # first copy -> unknown_track
        (1, "NOPE", "2024-06-25 10:00:00"),  # later copy -> duplicate_stream
    ]
    _, staging = stage(tmp_path, SONGS, USERS, streams)
    rj = read_rejects(staging, "streams.csv")
    assert sorted(zip(rj["listen_time"], rj["reason"])) == sorted(
        [("2024-06-25T10:00:00Z", "unknown_track"), ("2024-06-25 10:00:00", "duplicate_stream")]
    )


def test_stream_fields_tab_whitespace_trimmed_decision_1(tmp_path):
    # decision 1: whitespace (not only spaces) around stream fields is trimmed
    streams = [("\t1\t", "\tT1 ", "\t2024-06-25 10:00:00\t")]
    s, _ = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["valid_streams"] == 1
    assert s.counts["bad_stream"] == 0 and s.counts["unknown_track"] == 0


def test_catalog_and_user_fields_tab_whitespace_trimmed_decision_1(tmp_path):
    songs = [("T1\t", "\trock", 200000, "Zed;\tAl\t"), ("T2", "rock", 100000, "Al")]
    users = [("\t1", "30\t")]
    streams = [(1, "T1", t("10:00:00")), (1, "T2", t("10:01:00"))]
    s, g, h = run_all(tmp_path, songs, users, streams)
    assert s.counts["unknown_track"] == 0 and s.counts["unknown_age_users"] == 0
    assert list(g["track_genre"]) == ["rock"]
    r = by_hour(h)[10]
    # T1 credits Zed and Al, T2 credits Al -> Al 2
    assert r["top_artist"] == "Al"
    assert r["most_engaged_age_group"] == "25-34"


def test_extra_stream_column_named_filename_is_ignored(tmp_path):
    # spec 1: extra columns are allowed and ignored, whatever their name
    cols = ["user_id", "track_id", "listen_time", "filename", "source_file"]
    streams = [dict(user_id=1, track_id="T1", listen_time=t("10:00:00"), filename="x.mp3", source_file="y")]
    s, _ = stage(tmp_path, SONGS, USERS, streams, stream_columns=cols)
    assert s.counts["valid_streams"] == 1


def test_duration_range_is_one_microsecond_to_1e20_ms(tmp_path):
    # decision 4: durations are summed exactly to the microsecond, so a duration must lie in
    # [0.001 ms, 1e20 ms]; outside that range the row is a bad_song.
    # T1 0.001 ms -> 1e-6 s; T2 1e20 ms -> 1e17 s; T3 0.0004 ms and T4 1e40 ms are rejected.
    songs = [("T1", "rock", "0.001"), ("T2", "jazz", "1e20"), ("T3", "pop", "0.0004"), ("T4", "folk", "1e40")]
    streams = [(1, "T1", t("10:00:00")), (1, "T2", t("11:00:00")), (1, "T3", t("12:00:00")), (1, "T4", t("13:00:00"))]
    s, g, _ = run_all(tmp_path, songs, USERS, streams)
    assert s.counts["bad_song"] == 2 and s.counts["unknown_track"] == 2
    assert by_genre(g)["rock"]["average_duration"] == pytest.approx(1e-6, abs=1e-15)
    assert by_genre(g)["jazz"]["average_duration"] == pytest.approx(1e17, rel=1e-12)
    assert set(by_genre(g)) == {"rock", "jazz"}


def test_staging_files_written_and_root_as_str(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, STREAMS)
    staging = tmp_path / "staging"
    s = stage_day(str(root), D, str(staging))
    assert s.counts["valid_streams"] == 1
    for name in (
        "streams.parquet",
        "tracks.parquet",
        "track_artists.parquet",
        "users.parquet",
        "rejects/streams.csv",
        "rejects/songs.csv",
    ):
        assert (staging / name).is_file(), name


def test_crlf_line_endings_accepted(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, [(1, "T1", t("10:00:00")), (2, "T2", t("11:00:00"))])
    for rel in ("songs.csv", "users.csv", "streams/part-0.csv"):
        p = root / rel
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    staging = tmp_path / "staging"
    staging.mkdir()
    s = stage_day(root, D, staging)
    assert s.counts["valid_streams"] == 2 and s.counts["bad_stream"] == 0
    # genre is the last column of songs.csv: no stray '\r'
    assert list(genre_level_kpis(staging, D)["track_genre"]) == ["pop", "rock"]
    h = by_hour(hourly_kpis(staging, D))
    assert h[10]["most_engaged_age_group"] == "25-34" and h[11]["most_engaged_age_group"] == "35-44"
