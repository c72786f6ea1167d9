"""Every rejected row names the line of its file it starts on, as an editor counts lines: the header
is line 1, a quoted value with a line break makes its row two lines, blank lines count, and CRLF,
LF and CR all end a line. Expected lines are worked out by hand next to each row, and checked
against the file itself (its line there begins with the row's text).
"""

from __future__ import annotations

import gzip
import io
import random

import pyarrow as pa
import pytest
from fixtures_small import D, read_rejects, t
from streamkpi import inputs as inputs_module
from streamkpi.ingest import stage_day
from streamkpi.inputs import ReadFindings, read_text_columns
from streamkpi.lines import LineBreakCounter, LineTracker

SONGS_HEADER = b"id,track_id,artists,album_name,track_name,popularity,duration_ms,track_genre\n"


def write_root(root, streams: dict[str, bytes], songs: bytes | None = None):
    (root / "streams").mkdir(parents=True)
    for name, data in streams.items():
        (root / "streams" / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (root / "songs.csv").write_bytes(songs or SONGS_HEADER + b"0,T1,A,x,t,1,200000,rock\n1,T2,B,y,u,1,100000,pop\n")
    (root / "users.csv").write_text("user_id,user_age\n1,30\n2,40\n")
    return root


def file_line(data: bytes, line: int) -> bytes:
    """Line ``line`` (1-based) of ``data``, split where an editor splits it."""
    return data.splitlines()[line - 1]


A_CSV = (
    b"user_id,track_id,listen_time\n"  # 1
    b"1,T1,2024-06-25 10:00:00\n"  # 2 valid
    b'2,"T\n'  # 3 unknown_track (its track_id holds a line break)
    b'1",2024-06-25 10:01:00\n'  # 4
    b"\n"  # 5 blank
    b"1,T1,2024-06-25 10:00:00\n"  # 6 duplicate of line 2
    b"3,T2\n"  # 7 malformed: two fields
    b"x,T2,2024-06-25 10:02:00\n"  # 8 bad user_id
)
B_CSV = (  # CRLF, compressed, a fourth column the ingest does not read
    b"user_id,track_id,listen_time,note\r\n"  # 1
    b'1,T2,2024-06-25 11:00:00,"two\r\nlines"\r\n'  # 2-3 valid
    b"2,T2,2024-06-25 1x:00:00,plain\r\n"  # 4 bad listen_time
    b"2,T\xff,2024-06-25 12:00:00,plain\r\n"  # 5 not UTF-8
    b'2,T2,2024-06-25 12:00:00,"a,b"\r\n'  # 6 valid
    b"1,T2,2024-06-25 11:00:00,again\r\n"  # 7 duplicate of line 2
)


def test_stream_rejects_carry_the_line_each_row_starts_on(tmp_path):
    root = write_root(tmp_path / "input", {"a.csv": A_CSV, "b.csv.gz": B_CSV})
    staging = tmp_path / "staging"
    staging.mkdir()
    summary = stage_day(root, D, staging)
    assert summary.counts["valid_streams"] == 3
    rejects = read_rejects(staging, "streams.csv")
    got = [(r.source_file.rsplit("/", 1)[-1], int(r.line), r.reason) for r in rejects.itertuples()]
    assert got == [
        ("a.csv", 7, "bad_stream"),
        ("a.csv", 8, "bad_stream"),
        ("b.csv.gz", 4, "bad_stream"),
        ("b.csv.gz", 5, "bad_stream"),
        ("a.csv", 6, "duplicate_stream"),
        ("b.csv.gz", 7, "duplicate_stream"),
        ("a.csv", 3, "unknown_track"),
    ]
    files = {"a.csv": A_CSV, "b.csv.gz": B_CSV}
    for r in rejects.itertuples():
        first_field = (r.user_id or r.rule.rsplit(": ", 1)[-1]).split(",")[0]
        assert file_line(files[r.source_file.rsplit("/", 1)[-1]], int(r.line)).startswith(first_field.encode())


def test_song_rejects_count_the_lines_of_columns_ingest_does_not_read(tmp_path):
    songs = (
        SONGS_HEADER  # 1
        + b'0,T1,A,x,"a title\non two lines",1,200000,rock\n'  # 2-3 (track_name is not read)
        b"1,T2,B,y,u,1,-5,pop\n"  # 4 bad duration
        b"2,T3,C\n"  # 5 malformed
        b"3,T4,D,z,v,1,100000,\n"  # 6 empty genre
    )
    root = write_root(
        tmp_path / "input", {"a.csv": b"user_id,track_id,listen_time\n1,T1," + t("10:00:00").encode()}, songs
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_day(root, D, staging)
    rejects = read_rejects(staging, "songs.csv")
    assert [int(line) for line in rejects["line"]] == [4, 5, 6]
    assert file_line(songs, 4).startswith(b"1,T2") and file_line(songs, 6).startswith(b"3,T4")


def _random_csv(seed: int) -> tuple[bytes, list[tuple[str, int]]]:
    """A CSV of three columns with multi-line values, malformed rows, doubled quotes and (for half the
    seeds) blank lines; with each row's first field and the line it starts on, counted as it is written."""
    rnd = random.Random(seed)
    end = rnd.choice(["\n", "\r\n", "\r"])
    parts, line, expected = ["a,b,c" + end], 2, []
    blank_lines = seed % 2 == 0
    for i in range(2000):
        if blank_lines and rnd.random() < 0.02:
            parts.append(end)
            line += 1
            continue
        kind = rnd.random()
        if kind < 0.05:
            text, lines = f'{i},"x{end}y{end}z",c', 3
        elif kind < 0.08:
            text, lines = f"{i},malformed", 1
        elif kind < 0.1:
            text, lines = f'{i},"malformed{end}too",c,d', 2
        elif kind < 0.12:
            text, lines = f'{i},"say ""hi""",c', 1
        else:
            text, lines = f"{i},b,c", 1
        expected.append((str(i), line))
        parts.append(text + end)
        line += lines
    if seed % 3 == 0:  # no line break after the last row
        parts[-1] = parts[-1].rstrip("\r\n")
    return "".join(parts).encode(), expected


@pytest.mark.parametrize("seed", range(12))
def test_lines_of_random_files_read_in_small_blocks(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(inputs_module, "CSV_BLOCK_BYTES", 4096)  # many blocks: rows numbered across them
    data, expected = _random_csv(seed)
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    found = ReadFindings()
    table = read_text_columns([path], ("a", "b", "c"), found).read_all()
    anchors = sorted(zip(*found.lines_table().to_pydict().values()))

    def line_of(row_number: int) -> int:
        _, row, line = max(a for a in anchors if a[1] <= row_number)
        return line + row_number - row

    rows = [(first, number) for first, number in zip(table["a"].to_pylist(), table["row_number"].to_pylist())]
    rows += [(m.text.split(",")[0], m.row_number) for m in found.malformed]
    assert sorted((line_of(number), first) for first, number in rows) == sorted((line, f) for f, line in expected)


class TinyReads(io.RawIOBase):
    """Hands out one byte per read, so that a CRLF straddles two reads."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(1)
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_line_break_counter_counts_a_crlf_split_between_reads_once():
    counter = LineBreakCounter(TinyReads(b"a\r\nb\rc\n\r\n"))
    while counter.read(1):
        pass
    assert counter.breaks == 4 and counter.trailing_breaks == 2


def test_a_file_without_blank_lines_is_placed_without_a_second_read():
    # By hand: rows 1 (line 2), 2 (lines 3-4, a value with a CRLF), 3 malformed (lines 5-7), 4 (line 8).
    data = b'h1,h2\n1,2\n3,"x\r\ny"\n5,"a\nb\rc"\n7,8'
    counter = LineBreakCounter(io.BytesIO(data))
    while counter.read(64):
        pass
    tracker = LineTracker()
    assert list(tracker.number([pa.array([b"1", b"3"], pa.binary()), pa.array([b"2", b"x\r\ny"], pa.binary())])) == [
        1,
        2,
    ]
    assert tracker.malformed(4, '5,"a\nb\rc"') == 3
    assert list(tracker.number([pa.array([b"7"], pa.binary()), pa.array([b"8"], pa.binary())])) == [4]

    def no_second_read():
        raise AssertionError("the file was read a second time")

    rows, lines = tracker.anchors(counter, no_second_read)
    assert list(rows) == [1, 3, 4] and list(lines) == [2, 5, 8]


def test_a_quote_first_met_many_blocks_into_a_file_still_places_the_rows_after_it(tmp_path, monkeypatch):
    # The reader looks for line breaks inside values only once the file's bytes have shown a double quote: here the
    # first quote, in a value of two lines, comes some hundred blocks in (pyarrow reads a few dozen ahead). By hand:
    # row r starts on line r + 1 up to the two-line row 40001 (lines 40002-40003), then on line r + 2.
    monkeypatch.setattr(inputs_module, "CSV_BLOCK_BYTES", 4096)

    def no_second_read(file):
        raise AssertionError(f"{file} was read a second time")

    monkeypatch.setattr(inputs_module, "_csv_bytes_again", no_second_read)
    searched = []  # per batch, whether its values were searched for line breaks

    class Tracker(LineTracker):
        def number(self, values, *, quoted=True):
            searched.append(quoted)
            return super().number(values, quoted=quoted)

    monkeypatch.setattr(inputs_module, "LineTracker", Tracker)
    rows = [f"{i},b,c" for i in range(1, 40001)] + ['40001,"x\ny",c'] + [f"{i},b,c" for i in range(40002, 40101)]
    path = tmp_path / "late_quote.csv"
    path.write_bytes(("a,b,c\n" + "\n".join(rows) + "\n").encode())
    found = ReadFindings()
    table = read_text_columns([path], ("a", "b", "c"), found).read_all()
    assert table["b"].to_pylist()[40000] == "x\ny"
    assert searched[0] is False and searched[-1] is True  # the first batches skipped the search, the last did not
    anchors = list(zip(*found.lines_table().to_pydict().values()))
    assert [(row, line) for _, row, line in anchors] == [(1, 2), (40002, 40004)]
