"""A messy input root reads exactly as its clean twin: stream files compressed (``.csv.gz``,
``.csv.zst``) or written with a BOM and CRLF line ends, a gzipped catalog, empty stream files, rows
whose bytes are not UTF-8 (rejected, the rest kept), and the stray files exports leave
(``_SUCCESS``, notes, ``.crc`` files, a ``_temporary/`` folder), each of which is listed with why it
was not read. Run date D = 2024-06-25.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil

import pandas as pd
import pyarrow as pa
import pytest
from fixtures_small import D, make_root, t
from params_files import write_params
from streamkpi.errors import InputValidationError, NoValidStreamsError
from streamkpi.ingest import stage_day
from streamkpi.inputs import HIDDEN_FILE, NOT_A_STREAM_FILE
from streamkpi.kpis import genre_level_kpis, hourly_kpis

SONGS = [("T1", "rock", 200000, "Artist A"), ("T2", "pop", 100000, "Artist B"), ("T3", "jazz", 300000, "Artist C")]
USERS = [(1, 30), (2, 40), (3, 50)]
STREAMS = {
    "part-0.csv": [(1, "T1", t("10:00:00")), (2, "T2", t("10:05:00")), (1, "T2", t("10:20:00"))],
    "part-1.csv": [(3, "T3", t("11:00:00")), (2, "T1", t("23:59:59")), (9, "T9", t("12:00:00"))],
    "2024-06-25/part-2.csv": [(3, "T1", t("08:00:00")), (1, "T3", t("08:10:00")), (2, "bad", "not a time")],
}
STRAY = {  # what exports leave beside the data, with why ingest does not read it
    "streams/_SUCCESS": HIDDEN_FILE,
    "streams/notes.txt": NOT_A_STREAM_FILE,
    "streams/.part-0.csv.gz.crc": HIDDEN_FILE,
    "streams/2024-06-25/_SUCCESS": HIDDEN_FILE,
    "streams/_temporary/part-9.csv": HIDDEN_FILE,  # rows an exporter had not committed: must not count
}


def clean_and_messy(tmp_path):
    """The clean root and its messy twin, holding the same rows."""
    clean = make_root(tmp_path, SONGS, USERS, STREAMS, name="clean")
    messy = tmp_path / "messy"
    shutil.copytree(clean, messy)
    part0, part1, part2 = (messy / "streams" / name for name in STREAMS)
    part0.with_name("part-0.csv.gz").write_bytes(gzip.compress(part0.read_bytes()))
    part1.with_name("part-1.csv.zst").write_bytes(pa.compress(part1.read_bytes(), "zstd", asbytes=True))
    part0.unlink()
    part1.unlink()
    part2.write_bytes(b"\xef\xbb\xbf" + part2.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    with part2.open("ab") as rows:  # Latin-1 bytes in a UTF-8 file: a rejected row
        rows.write(b"1,T\xe91,2024-06-25 09:30:00\r\n")
    songs = messy / "songs.csv"
    with songs.open("ab") as rows:  # a catalog row with a Latin-1 artist name: a rejected song
        rows.write(b"0,T4,Bj\xf6rk,Album,Song,50,200000,False,0,0,0,0,0,0,0,0,0,0,0,4,pop\r\n")
    (messy / "songs.csv.gz").write_bytes(gzip.compress(songs.read_bytes()))
    songs.unlink()
    (messy / "streams" / "empty.csv").write_bytes(b"")
    (messy / "streams" / "2024-06-25" / "empty.csv.gz").write_bytes(b"")
    for relative in STRAY:
        (messy / relative).parent.mkdir(parents=True, exist_ok=True)
        (messy / relative).write_text("user_id,track_id,listen_time\n1,T1,2024-06-25 09:00:00\n" * ("part" in relative))
    return clean, messy


def stage_and_compute(root, staging):
    staging.mkdir()
    summary = stage_day(root, D, staging)
    return summary, genre_level_kpis(staging, D), hourly_kpis(staging, D)


def test_the_messy_root_gives_the_counts_and_kpis_of_its_clean_twin(tmp_path):
    clean, messy = clean_and_messy(tmp_path)
    clean_summary, clean_genres, clean_hours = stage_and_compute(clean, tmp_path / "staging-clean")
    messy_summary, messy_genres, messy_hours = stage_and_compute(messy, tmp_path / "staging-messy")
    # By hand: 9 rows read; (9, T9) an unknown track, (2, bad) a bad stream; 7 valid. The messy root
    # has one stream row and one song more, both not UTF-8: a bad stream and a bad song.
    assert clean_summary.counts["rows_read"] == 9 and clean_summary.counts["valid_streams"] == 7
    more = {"rows_read": 1, "bad_stream": 1, "bad_song": 1}
    assert messy_summary.counts == {k: v + more.get(k, 0) for k, v in clean_summary.counts.items()}
    pd.testing.assert_frame_equal(messy_genres, clean_genres)
    pd.testing.assert_frame_equal(messy_hours, clean_hours)


def test_the_files_not_read_are_listed_with_why_and_the_compressed_ones_checksummed_as_stored(tmp_path):
    _, messy = clean_and_messy(tmp_path)
    (tmp_path / "staging").mkdir()
    summary = stage_day(messy, D, tmp_path / "staging")
    assert {f["path"]: f["reason"] for f in summary.ignored_files} == STRAY
    assert sorted(summary.empty_files) == ["streams/2024-06-25/empty.csv.gz", "streams/empty.csv"]
    described = {f["path"]: f for f in summary.input_files}
    for relative in ("songs.csv.gz", "streams/part-0.csv.gz", "streams/part-1.csv.zst", "streams/empty.csv"):
        stored = (messy / relative).read_bytes()
        assert described[relative]["size"] == len(stored)
        assert described[relative]["sha256"] == hashlib.sha256(stored).hexdigest()
    assert not any(path in described for path in STRAY)


def test_rows_that_are_not_utf8_are_rejected_with_their_bytes_escaped(tmp_path):
    _, messy = clean_and_messy(tmp_path)
    (tmp_path / "staging").mkdir()
    stage_day(messy, D, tmp_path / "staging")
    streams = pd.read_csv(tmp_path / "staging" / "rejects" / "streams.csv", dtype=str, keep_default_na=False)
    [row] = streams[streams["rule"].str.contains("not UTF-8")].to_dict("records")
    assert row["reason"] == "bad_stream" and row["source_file"] == "streams/2024-06-25/part-2.csv"
    assert row["rule"].endswith("1,T\\xe91,2024-06-25 09:30:00")
    songs = pd.read_csv(tmp_path / "staging" / "rejects" / "songs.csv", dtype=str, keep_default_na=False)
    [row] = songs[songs["rule"].str.contains("not UTF-8")].to_dict("records")
    assert "T4" in row["rule"] and "Bj\\xf6rk" in row["rule"]


def test_a_file_in_utf16_fails_naming_the_file_and_the_encoding(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, STREAMS)
    text = (root / "streams" / "part-1.csv").read_text(encoding="utf-8")
    (root / "streams" / "part-1.csv").write_bytes(text.encode("utf-16"))  # with its byte-order mark
    (tmp_path / "staging").mkdir()
    with pytest.raises(
        InputValidationError, match=r"streams/part-1.csv is UTF-16 \(it starts with a UTF-16 byte-order"
    ):
        stage_day(root, D, tmp_path / "staging")


def test_a_day_whose_only_stream_file_is_empty_still_fails_as_the_spec_says(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, {})
    (root / "streams" / "part-0.csv").write_bytes(b"")
    (tmp_path / "staging").mkdir()
    with pytest.raises(NoValidStreamsError, match="no valid stream for 2024-06-25"):
        stage_day(root, D, tmp_path / "staging")


def test_a_catalog_given_twice_plain_and_compressed_is_refused(tmp_path):
    root = make_root(tmp_path, SONGS, USERS, STREAMS)
    (root / "songs.csv.gz").write_bytes(gzip.compress((root / "songs.csv").read_bytes()))
    (tmp_path / "staging").mkdir()
    with pytest.raises(InputValidationError, match="has more than one of songs.csv or songs.csv.gz or songs.csv.zst"):
        stage_day(root, D, tmp_path / "staging")


def test_a_run_of_the_messy_root_records_what_it_read_and_what_it_did_not(tmp_path):
    from pipeline import run_pipeline

    _, messy = clean_and_messy(tmp_path)
    messy.rename(tmp_path / "input")
    result = run_pipeline(D, write_params(tmp_path), console="quiet")
    assert result.ok, result.error
    manifest = result.manifest
    assert "streams/part-0.csv.gz" in {f["path"] for f in manifest["input_files"]}
    assert {f["path"]: f["reason"] for f in manifest["ignored_files"]} == STRAY
    assert sorted(manifest["empty_files"]) == ["streams/2024-06-25/empty.csv.gz", "streams/empty.csv"]
    report = (result.run_dir / "01_ingest.html").read_text(encoding="utf-8")
    assert "streams/notes.txt" in report and "read as a file with no rows" in report


def test_multibyte_names_are_kept_and_a_field_too_long_for_the_warehouse_is_a_bad_song(tmp_path):
    long_name, too_long = "日" * 400, "x" * 65536  # 1,200 bytes (it overflowed Redshift's old VARCHAR(1024)); 65,536
    songs = [*SONGS, ("T4", "pop", 100000, long_name), ("T5", "pop", 100000, too_long)]
    streams = {"part-0.csv": [(1, "T4", t("10:00:00")), (2, "T5", t("11:00:00"))]}
    root = make_root(tmp_path, songs, USERS, streams)
    (tmp_path / "staging").mkdir()
    summary = stage_day(root, D, tmp_path / "staging")
    # By hand: T5 is rejected, so its stream is of an unknown track; T4 and its artist are kept whole.
    assert summary.counts["bad_song"] == 1 and summary.counts["unknown_track"] == 1
    assert summary.counts["valid_streams"] == 1
    rejects = pd.read_csv(tmp_path / "staging" / "rejects" / "songs.csv", dtype=str, keep_default_na=False)
    assert rejects["track_id"].tolist() == ["T5"]
    assert rejects["rule"].tolist() == ["a text field longer than 65535 bytes (the most a warehouse column holds)"]
    hours = hourly_kpis(tmp_path / "staging", D)
    assert hours.loc[hours["listen_hour"] == 10, "top_artist"].tolist() == [long_name]


def test_a_clean_root_says_that_every_file_was_read():
    from streamkpi import presentation

    assert (
        "Every file found under streams/ was read, and none was empty."
        in presentation.files_not_read_table([], []).to_html()
    )
    shown = presentation.files_not_read_table([{"path": "streams/<b>x</b>.txt", "reason": "why"}], []).to_html()
    assert "&lt;b&gt;x&lt;/b&gt;" in shown and "<b>x</b>" not in shown  # a file name is data, not markup
