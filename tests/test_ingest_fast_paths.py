"""The fast paths of stream ingest (canonical fields parsed without the full rules, duplicates found
from sorted key hashes, stream files read in parallel) give exactly what the full rules give, and so
does the large-day path (parsed rows in Parquet files, duplicates found one user bucket at a time).

Expected values are worked out by hand in the comments. Run date D = 2024-06-25.
"""

from __future__ import annotations

import pytest
from fixtures_small import D, make_root, read_rejects, rel_source, stage, t
from streamkpi import ingest
from streamkpi.errors import NoValidStreamsError
from streamkpi.inputs import ReadFindings, locate_inputs, read_text_columns
from streamkpi.localdb import duckdb_memory_limit

SONGS = [("T1", "rock", 200000, "Artist A"), ("T2", "pop", 100000, "Artist B")]
USERS = [(1, 30), (2, 40)]


@pytest.fixture(params=["one bucket", "many buckets"])
def buckets(request, monkeypatch):
    """Both ingest paths: a day that fits one bucket, and (with a bucket every 64 bytes of stream
    files, so these few rows spread over several) the partitioned path of a large day."""
    if request.param == "many buckets":
        monkeypatch.setattr(ingest, "BUCKET_BYTES", 64)
    return request.param


def test_rejected_rows_keep_their_raw_text_on_every_path(tmp_path, buckets):
    streams = [
        (1, "T1", t("10:00:00")),  # kept (all fields canonical)
        ("01", " T1 ", "2024-06-25T10:00:00"),  # duplicate of the row above; raw text as written
        (1, "T1", t("10:00:00")),  # duplicate, canonical text
        (2, "NOPE", t("11:00:00")),  # unknown_track (first copy)
        ("+2", "NOPE", "2024-06-25 11:00:00Z"),  # duplicate of the unknown-track row
        (2, "T2", "2024-06-25 24:00:00"),  # bad_stream: hour 24 (a plain cast would accept it)
        (2, "T2", "2024-06-25 10:00:60"),  # bad_stream: second 60
        (2, "", t("12:00:00")),  # bad_stream: empty track_id
        ("x", "T2", t("12:00:00")),  # bad_stream: user_id
    ]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["valid_streams"] == 1
    assert s.counts["duplicate_stream"] == 3
    assert s.counts["unknown_track"] == 1
    assert s.counts["bad_stream"] == 4
    rj = read_rejects(staging, "streams.csv")
    got = [(r.line, r.user_id, r.track_id, r.listen_time, r.reason) for r in rj.itertuples()]
    assert got == [  # the header is line 1
        ("7", "2", "T2", "2024-06-25 24:00:00", "bad_stream"),
        ("8", "2", "T2", "2024-06-25 10:00:60", "bad_stream"),
        ("9", "2", "", t("12:00:00"), "bad_stream"),
        ("10", "x", "T2", t("12:00:00"), "bad_stream"),
        ("3", "01", " T1 ", "2024-06-25T10:00:00", "duplicate_stream"),
        ("4", "1", "T1", t("10:00:00"), "duplicate_stream"),
        ("6", "+2", "NOPE", "2024-06-25 11:00:00Z", "duplicate_stream"),
        ("5", "2", "NOPE", t("11:00:00"), "unknown_track"),
    ]


def test_rejected_rows_keep_quotes_backslashes_and_control_characters_of_their_raw_text(tmp_path, buckets):
    # A rejected row's raw text travels through ingest inside one JSON value (sql/ingest_streams.sql's
    # parsed_rows): every character of it must come back as written.
    odd_user, odd_track, odd_time = 'a\\b"c', "T\tx\\u0000 \u00fc\U0001f600", "not\x01a time"
    streams = [
        (1, "T1", t("09:00:00")),  # line 2, kept (a day without a valid stream stops ingest)
        (odd_user, "T1", t("10:00:00")),  # line 3, bad_stream: user_id
        (1, odd_track, t("10:00:00")),  # line 4, unknown_track: no edge whitespace, so the id as written
        (2, "T2", odd_time),  # line 5, bad_stream: listen_time
    ]
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert (s.counts["valid_streams"], s.counts["bad_stream"], s.counts["unknown_track"]) == (1, 2, 1)
    rj = read_rejects(staging, "streams.csv")
    assert [(r.line, r.user_id, r.track_id, r.listen_time, r.reason) for r in rj.itertuples()] == [
        ("3", odd_user, "T1", t("10:00:00"), "bad_stream"),
        ("5", "2", "T2", odd_time, "bad_stream"),
        ("4", "1", odd_track, t("10:00:00"), "unknown_track"),
    ]


def test_first_copy_in_file_order_is_kept_with_files_read_in_parallel(tmp_path, buckets):
    # a.csv precedes b.csv: its copies come first whatever the order batches are read in
    streams = {
        "a.csv": [(2, "T2", t("09:00:00")), (1, "T1", t("10:00:00"))],
        "b.csv": [(1, "T1", t("10:00:00")), (2, "T2", t("09:00:00"))],
        "c.csv": [(1, "T1", t("10:00:00"))],
    }
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["valid_streams"] == 2 and s.counts["duplicate_stream"] == 3
    rj = read_rejects(staging, "streams.csv")
    got = [(rel_source(r.source_file, list(streams)), r.line) for r in rj.itertuples()]
    assert got == [("b.csv", "2"), ("b.csv", "3"), ("c.csv", "2")]


def test_parallel_reader_gives_the_same_rows_malformed_rows_and_digests(tmp_path):
    root = tmp_path / "input"
    (root / "streams").mkdir(parents=True)
    for name in ("songs.csv", "users.csv"):
        (root / name).write_text("x\n")
    for i in range(4):
        rows = "".join(f"{u},T{u},{t('10:00:00')}\n" for u in range(i * 100, i * 100 + 50))
        (root / "streams" / f"p{i}.csv").write_text("user_id,track_id,listen_time\n" + rows + "1,2\n")
    results = []
    for threads in (1, 3):
        inputs, found = locate_inputs(root), ReadFindings()
        table = read_text_columns(
            list(inputs.streams), ("user_id", "track_id", "listen_time"), found, inputs, threads=threads
        ).read_all()
        rows = sorted(zip(*(table.column(c).to_pylist() for c in table.column_names)))
        results.append((rows, sorted((m.file_no, m.row_number, m.text) for m in found.malformed), dict(inputs.digests)))
    assert results[0] == results[1]
    assert len(results[0][0]) == 200 and len(results[0][1]) == 4 and len(results[0][2]) == 4


def test_duckdb_memory_limit_setting(monkeypatch):
    monkeypatch.delenv("STREAMKPI_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("PIPELINE_PARALLEL_NOTEBOOKS", raising=False)
    assert duckdb_memory_limit() == "3072MB"
    monkeypatch.setenv("PIPELINE_PARALLEL_NOTEBOOKS", "2")  # the runner's two KPI notebooks share it
    assert duckdb_memory_limit() == "1536MB"
    monkeypatch.setenv("PIPELINE_PARALLEL_NOTEBOOKS", "not a number")
    assert duckdb_memory_limit() == "3072MB"
    monkeypatch.setenv("STREAMKPI_DUCKDB_MEMORY_LIMIT", "512MB")
    assert duckdb_memory_limit() == "512MB"
    monkeypatch.setenv("STREAMKPI_DUCKDB_MEMORY_LIMIT", "3; DROP TABLE x")
    with pytest.raises(ValueError):
        duckdb_memory_limit()


def test_duplicate_buckets_grow_with_the_stream_bytes():
    assert ingest.duplicate_buckets(0) == 1
    assert ingest.duplicate_buckets(ingest.BUCKET_BYTES) == 1
    assert ingest.duplicate_buckets(ingest.BUCKET_BYTES + 1) == 2
    assert ingest.duplicate_buckets(10 * ingest.BUCKET_BYTES) == 10


def test_many_buckets_leave_no_parsed_files_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BUCKET_BYTES", 64)
    streams = [(1, "T1", t(f"10:0{i}:00")) for i in range(8)] + [(2, "T2", t("11:00:00"))] * 2
    s, staging = stage(tmp_path, SONGS, USERS, streams)
    assert s.counts["valid_streams"] == 9 and s.counts["duplicate_stream"] == 1
    assert not (staging / ".spill" / "parsed").exists()


def test_many_buckets_and_not_one_readable_row(tmp_path, monkeypatch):
    # both rows have the wrong number of fields: nothing to partition, yet the rejects are written
    monkeypatch.setattr(ingest, "BUCKET_BYTES", 8)
    root = make_root(tmp_path, SONGS, USERS, [])
    (root / "streams" / "part-0.csv").write_text(f"user_id,track_id,listen_time\n1,T1\n2,T1,{t('10:00:00')},extra\n")
    with pytest.raises(NoValidStreamsError, match="2 stream rows read, 0 of other dates, 2 bad"):
        ingest.stage_day(root, D, tmp_path / "staging")
    rj = read_rejects(tmp_path / "staging", "streams.csv")
    assert list(rj["rule"]) == [
        "malformed CSV row: 2 fields where the header has 3: 1,T1",
        "malformed CSV row: 4 fields where the header has 3: 2,T1,2024-06-25 10:00:00,extra",
    ]
