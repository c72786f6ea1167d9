"""Stream folders by date: a run reads the dated folders of D-k..D+k and every undated file.

A folder directly under streams/ named ``YYYY-MM-DD`` or ``date=YYYY-MM-DD`` is dated; anything
else is undated and always read (params ``partition_lookaround_days`` = k, default 1). Every
expected value is worked out by hand in the comments; run date D = 2024-06-25.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fixtures_small import D, by_genre, make_root, t, write_text
from reference_kpis import COUNT_KEYS, reference_run
from streamkpi import inputs, presentation
from streamkpi.errors import InputValidationError
from streamkpi.ingest import stage_day
from streamkpi.kpis import genre_level_kpis

from tools.sample_data import generate

SONGS = [("T1", "rock", 200000, "Artist A"), ("T2", "pop", 100000, "Artist B")]
USERS = [(1, 30), (2, 40), (3, 50)]


def by_date(form: str) -> dict:
    """Folders of 2024-06-20, 24, 25 and 26 named with ``form`` ("{}" or "date={}")."""
    return {
        f"{form.format('2024-06-20')}/part-0.csv": [(1, "T1", t("12:00:00"))],  # a row of D far away
        f"{form.format('2024-06-24')}/part-0.csv": [
            (1, "T1", "2024-06-24 10:00:00"),  # other date
            (2, "T1", "2024-06-25 00:02:00"),  # D, exported early into D-1's folder
        ],
        f"{form.format('2024-06-25')}/part-0.csv": [
            (1, "T1", t("09:00:00")),
            (2, "T2", t("10:00:00")),
            (3, "T1", "2024-06-24 23:58:00"),  # other date, exported late into D's folder
        ],
        f"{form.format('2024-06-25')}/part-1.csv": [(3, "T2", t("11:00:00"))],
        f"{form.format('2024-06-26')}/part-0.csv": [
            (3, "T2", "2024-06-25 23:59:30"),  # D, exported late into D+1's folder
            (1, "T2", "2024-06-26 08:00:00"),  # other date
        ],
    }


def stage(root, lookaround_days):
    staging = root.parent / f"staging-{lookaround_days}"
    return stage_day(root, D, staging, partition_lookaround_days=lookaround_days), staging


def stage_with(tmp_path, streams, lookaround_days):
    root = make_root(tmp_path, SONGS, USERS, streams)
    return (root, *stage(root, lookaround_days))


def reference_counts(root, lookaround_days) -> dict:
    """The independent reference's counts (tests/reference_kpis.py) for the same selection."""
    return reference_run(root, D, partition_lookaround_days=lookaround_days).counts


def library_counts(summary) -> dict:
    return {k: summary.counts[k] for k in COUNT_KEYS}


def stream_paths(summary) -> list[str]:
    return [f["path"] for f in summary.input_files if f["path"].startswith("streams/")]


@pytest.mark.parametrize("form", ["{}", "date={}"], ids=["YYYY-MM-DD", "date=YYYY-MM-DD"])
def test_lookaround_0_reads_only_the_run_dates_folder(tmp_path, form):
    root, s, staging = stage_with(tmp_path, by_date(form), 0)
    # D's folder only: 3 + 1 rows, one of 2024-06-24; the D rows in the 24 and 26 folders are not read
    assert (s.counts["rows_read"], s.counts["other_date"], s.counts["valid_streams"]) == (4, 1, 3)
    g = by_genre(genre_level_kpis(staging, D))
    assert (g["rock"]["listen_count"], g["pop"]["listen_count"]) == (1, 2)  # T1 09:00; T2 10:00, 11:00
    # the manifest lists the files read, and only those
    day = form.format("2024-06-25")
    assert [f["path"] for f in s.input_files] == [
        "songs.csv",
        "users.csv",
        f"streams/{day}/part-0.csv",
        f"streams/{day}/part-1.csv",
    ]
    selection = s.stream_selection
    assert (selection.dated_files, selection.undated_files, selection.window) == (2, 0, "2024-06-25")
    assert selection.dated_folders_read == (day,)
    assert selection.dated_folders_skipped == tuple(form.format(d) for d in ("2024-06-20", "2024-06-24", "2024-06-26"))
    assert reference_counts(root, 0) == library_counts(s)


@pytest.mark.parametrize("form", ["{}", "date={}"], ids=["YYYY-MM-DD", "date=YYYY-MM-DD"])
def test_lookaround_1_counts_the_rows_of_the_day_in_the_neighbouring_folders(tmp_path, form):
    root, s, staging = stage_with(tmp_path, by_date(form), 1)
    # folders 24, 25, 26: 2 + 4 + 2 rows; other dates: 24 10:00, 24 23:58, 26 08:00
    assert (s.counts["rows_read"], s.counts["other_date"], s.counts["valid_streams"]) == (8, 3, 5)
    g = by_genre(genre_level_kpis(staging, D))
    assert (g["rock"]["listen_count"], g["pop"]["listen_count"]) == (2, 3)  # + T1 00:02, + T2 23:59:30
    assert s.stream_selection.window == "2024-06-24..2024-06-26"
    assert s.stream_selection.dated_folders_skipped == (form.format("2024-06-20"),)
    assert len(stream_paths(s)) == 4
    assert reference_counts(root, 1) == library_counts(s)
    # a wider window reaches the 2024-06-20 folder: one more row, of D
    assert stage_with(tmp_path, by_date(form), 5)[1].counts["valid_streams"] == 6


def test_a_flat_folder_is_read_whole_and_filtered_by_date(tmp_path):
    streams = {
        "part-0.csv": [(1, "T1", "2024-06-24 22:00:00"), (1, "T1", t("08:00:00")), (2, "T2", "2024-06-26 01:00:00")],
        "more/part-1.csv": [(2, "T2", t("09:00:00")), (3, "T1", "2024-06-20 09:00:00")],
    }
    root, s, _ = stage_with(tmp_path, streams, 0)
    # every file is undated, so even k = 0 reads them all: 5 rows, 3 of other dates
    assert (s.counts["rows_read"], s.counts["other_date"], s.counts["valid_streams"]) == (5, 3, 2)
    assert stream_paths(s) == ["streams/more/part-1.csv", "streams/part-0.csv"]
    selection = s.stream_selection
    assert (selection.dated_files, selection.undated_files) == (0, 2)
    assert selection.dated_folders_read == selection.dated_folders_skipped == ()
    assert reference_counts(root, 0) == library_counts(s)


def test_undated_files_are_read_beside_the_dated_folders(tmp_path):
    streams = {
        "late.csv": [(1, "T1", t("01:00:00")), (1, "T1", "2024-06-19 10:00:00")],  # directly under streams/
        "backfill/x.csv": [(2, "T2", t("02:00:00"))],  # a folder with another name
        "archive/2024-06-20/x.csv": [(3, "T1", t("03:00:00"))],  # a date below the first level: undated
        "dt=2024-06-20/x.csv": [(3, "T2", t("04:00:00"))],  # not one of the two dated forms
        "2024-02-30/x.csv": [(1, "T2", t("05:00:00"))],  # no such date
        "2024-06-20/x.csv": [(2, "T1", t("06:00:00"))],  # dated, outside 24..26: skipped
        "2024-06-25/x.csv": [(2, "T1", t("07:00:00"))],
        "date=2024-06-26/x.csv": [(3, "T1", t("08:00:00"))],
    }
    root, s, _ = stage_with(tmp_path, streams, 1)
    # every file but 2024-06-20/x.csv: 2 + 1 + 1 + 1 + 1 + 1 + 1 = 8 rows, one of 2024-06-19
    assert (s.counts["rows_read"], s.counts["other_date"], s.counts["valid_streams"]) == (8, 1, 7)
    assert stream_paths(s) == [  # sorted path order, folder names compared as text
        "streams/2024-02-30/x.csv",
        "streams/2024-06-25/x.csv",
        "streams/archive/2024-06-20/x.csv",
        "streams/backfill/x.csv",
        "streams/date=2024-06-26/x.csv",
        "streams/dt=2024-06-20/x.csv",
        "streams/late.csv",
    ]
    selection = s.stream_selection
    assert (selection.dated_files, selection.undated_files) == (2, 5)
    assert selection.dated_folders_read == ("2024-06-25", "date=2024-06-26")
    assert selection.dated_folders_skipped == ("2024-06-20",)
    assert reference_counts(root, 1) == library_counts(s)


def test_no_stream_file_in_the_window_names_the_root_the_dates_and_the_folders_there(tmp_path):
    streams = {
        "2024-06-01/part-0.csv": [(1, "T1", "2024-06-01 10:00:00")],
        "date=2024-06-20/part-0.csv": [(1, "T1", "2024-06-20 10:00:00")],
    }
    root = make_root(tmp_path, SONGS, USERS, streams)
    write_text(root, "streams/notes/README.txt", "an undated folder without a stream file\n")
    with pytest.raises(InputValidationError) as error:
        stage_day(root, D, tmp_path / "staging")
    message = str(error.value)
    assert f"no stream file for 2024-06-25 under {root}/streams: dated folders span 2024-06-01..2024-06-20" in message
    assert "dated folders of 2024-06-24..2024-06-26, partition_lookaround_days 1" in message
    assert not (tmp_path / "staging" / "streams.parquet").exists()


def test_no_stream_file_and_no_dated_folder_says_so(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, {})
    with pytest.raises(
        InputValidationError,
        match="no stream file for 2024-06-25 under .*/streams: it holds no stream file "
        "\\(\\*.csv, \\*.csv.gz, \\*.csv.zst\\) and no dated folder",
    ):
        inputs.locate_inputs(root, run_date=dt.date(2024, 6, 25), lookaround_days=0)


def test_without_a_run_date_every_stream_file_is_found(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, by_date("{}"))
    found = inputs.locate_inputs(root)
    assert len(found.streams) == 5 and found.selection is None


def test_a_negative_lookaround_is_refused():
    with pytest.raises(ValueError, match="lookaround_days must be >= 0"):
        inputs.locate_inputs("/nowhere", run_date=dt.date(2024, 6, 25), lookaround_days=-1)


@pytest.mark.parametrize(
    "name, day",
    [
        ("2024-06-25", dt.date(2024, 6, 25)),
        ("date=2024-02-29", dt.date(2024, 2, 29)),
        ("2023-02-29", None),
        ("dt=2024-06-25", None),
        ("2024-6-25", None),
        ("2024-06-25x", None),
        ("date=", None),
        ("20240625", None),
        ("date=2024-06-25=x", None),
    ],
)
def test_folder_date(name, day):
    assert inputs.folder_date(name) == day


def test_the_sample_layout_gives_the_same_valid_streams_with_lookaround_1_as_with_every_folder(tmp_path):
    """The generator writes a few rows near midnight into the neighbouring dates' folders: with
    k = 1 the run reads them all and stages exactly the valid streams that reading every folder
    stages (only the counts of rows of other dates, and of bad rows in far folders, shrink)."""
    root = tmp_path / "input"
    generate(root, start_date="2024-06-23", days=5, streams_per_day=400, n_users=60, n_tracks=120, seed=5)
    near, near_dir = stage(root, 1)
    every, every_dir = stage(root, 10)
    assert near.stream_selection.dated_folders_skipped == ("2024-06-23", "2024-06-27")
    assert every.stream_selection.dated_folders_skipped == ()
    for count in ("valid_streams", "duplicate_stream", "unknown_track", "unknown_user_streams"):
        assert near.counts[count] == every.counts[count], count
    assert near.counts["other_date"] < every.counts["other_date"]
    staged = [pd.read_parquet(folder / "streams.parquet") for folder in (near_dir, every_dir)]
    columns = list(staged[0].columns)
    pd.testing.assert_frame_equal(*(f.sort_values(columns, ignore_index=True) for f in staged))


def test_the_ingest_report_says_what_was_read_and_skipped():
    def sentence(k, dated_files, undated_files, read, skipped):
        return presentation.stream_files_read(
            inputs.StreamSelection(dt.date(2024, 6, 25), k, dated_files, undated_files, read, skipped)
        )

    assert sentence(1, 5, 1, ("2024-06-24", "2024-06-25", "2024-06-26"), ("2024-06-20", "2024-06-27")) == (
        "**6 stream files read**, 5 from the dated folders of 2024-06-24..2024-06-26 (`partition_lookaround_days` 1) "
        "and 1 undated. 2 dated folders outside those dates were skipped, not read."
    )
    assert sentence(0, 2, 0, ("2024-06-25",), ("2024-06-24",)) == (
        "**2 stream files read**, all from the dated folders of 2024-06-25 (`partition_lookaround_days` 0). "
        "1 dated folder outside those dates was skipped, not read."
    )
    assert sentence(1, 1, 0, ("2024-06-25",), ()).endswith("No dated folder lies outside those dates.")
    assert sentence(0, 0, 1, (), ()) == (
        "**1 stream file read**; no stream folder is named by date, so every stream file is read."
    )


def test_the_ingest_summary_carries_the_sentence_only_with_a_selection():
    counts = {
        "rows_read": 10,
        "other_date": 2,
        "bad_stream": 0,
        "duplicate_stream": 0,
        "unknown_track": 0,
        "valid_streams": 8,
        "tracks": 2,
        "duplicate_track_rows": 0,
        "bad_song": 0,
        "unknown_user_streams": 0,
    }
    selection = inputs.StreamSelection(dt.date(2024, 6, 25), 1, 3, 0, ("2024-06-25",), ())
    assert "**3 stream files read**" in presentation.ingest_summary(counts, D, selection).data
    assert "stream files read" not in presentation.ingest_summary(counts, D).data
