"""Tests of the sample-data generator (tools.sample_data).

The generated files are checked by parsing them independently with the csv module and
applying the spec's rules here (not the pipeline's code).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tools import sample_data as sd

SMALL = dict(start_date="2024-06-24", days=2, streams_per_day=3000, n_users=400, n_tracks=2000, seed=7, variation=False)
DATES = ["2024-06-24", "2024-06-25"]
SONGS_COLS = sd.SONGS_HEADER.split(",")
NON_LATIN = re.compile(
    r"[\u0370-\u03ff\u0400-\u04ff\u0600-\u06ff\u0900-\u097f\u3040-\u30ff"
    r"\u4e00-\u9fff\uac00-\ud7af]"
)
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    return out, sd.generate(out, **SMALL)


@pytest.fixture(scope="module")
def small_flat(tmp_path_factory):
    out = tmp_path_factory.mktemp("flat")
    return out, sd.generate(out, layout="flat", **SMALL)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{path}: BOM"
    assert b"\r" not in raw, f"{path}: CR line ends"
    assert raw.endswith(b"\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body), f"{path}: ragged rows"
    return header, body


def stream_files(out: Path) -> list[Path]:
    return sorted((out / "streams").rglob("*.csv"))


def parse_time(text: str) -> dt.datetime | None:
    if not TIME_RE.fullmatch(text):
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def positive_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def catalog(out: Path) -> tuple[dict[str, list[str]], Counter]:
    """Cleaned catalog by the spec's rules: track_id -> first valid row; and reject counts."""
    header, rows = read_csv(out / "songs.csv")
    ix = {c: header.index(c) for c in header}
    tracks: dict[str, list[str]] = {}
    counts: Counter = Counter()
    for r in rows:
        if not r[ix["track_id"]] or not r[ix["track_genre"]] or not positive_number(r[ix["duration_ms"]]):
            counts["bad_song"] += 1
        elif r[ix["track_id"]] in tracks:
            counts["duplicate_track_rows"] += 1
        else:
            tracks[r[ix["track_id"]]] = r
    return tracks, counts


def users(out: Path) -> tuple[dict[int, str], Counter]:
    header, rows = read_csv(out / "users.csv")
    ages: dict[int, str] = {}
    counts: Counter = Counter()
    for uid, _name, age, _country, _created in rows:
        if int(uid) in ages:
            counts["duplicate_user_id"] += 1
            continue
        ages[int(uid)] = age
        if not re.fullmatch(r"\d+", age) or not 13 <= int(age) <= 120:
            counts["bad_user_age"] += 1
    return ages, counts


def classify_streams(out: Path):
    """Apply the spec's stream rules to every stream row; counts by UTC date."""
    tracks, _ = catalog(out)
    known_users, _ = users(out)
    by_date: dict[str, Counter] = defaultdict(Counter)
    seen: set = set()
    undated = Counter()
    valid_keys: Counter = Counter()
    per_user_times: dict[int, list[dt.datetime]] = defaultdict(list)
    folder_mismatch = 0
    for path in stream_files(out):
        header, rows = read_csv(path)
        assert header == ["user_id", "track_id", "listen_time"]
        folder = path.parent.name
        for user, track, ts in rows:
            t = parse_time(ts)
            if t is None:
                undated["bad_stream"] += 1
                continue
            day = t.date().isoformat()
            c = by_date[day]
            c["rows"] += 1
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", folder) and day != folder:
                folder_mismatch += 1
            if "T" in ts or "." in ts or ts.endswith("Z") or re.search(r"[+-]\d\d:\d\d$", ts):
                c["iso_time"] += 1
            if not re.fullmatch(r"\d+", user) or not track:
                c["bad_stream"] += 1
                continue
            key = (int(user), track, t)
            if key in seen:
                c["duplicate_stream"] += 1
                continue
            seen.add(key)
            if track not in tracks:
                c["unknown_track"] += 1
                continue
            c["valid"] += 1
            if int(user) not in known_users:
                c["unknown_user"] += 1
            valid_keys[(int(user), t)] += 1
            per_user_times[int(user)].append(t)
    return by_date, undated, valid_keys, per_user_times, folder_mismatch


# --------------------------------------------------------------------------- tests
def test_layout_and_headers(small):
    out, s = small
    assert (out / "songs.csv").read_text(encoding="utf-8").splitlines()[0] == sd.SONGS_HEADER
    assert (out / "users.csv").read_text(encoding="utf-8").splitlines()[0] == sd.USERS_HEADER
    files = stream_files(out)
    assert [p.relative_to(out).as_posix() for p in files] == [
        f"streams/{d}/part-{k:03d}.csv" for d in DATES for k in range(2)
    ]
    for p in files:
        assert p.read_text(encoding="utf-8").split("\n", 1)[0] == sd.STREAM_HEADER
    assert sorted(s["files"]["streams"]) == sorted(str(p) for p in files)
    assert {Path(p).name for p in (s["files"]["songs"], s["files"]["users"])} == {"songs.csv", "users.csv"}
    # summary row counts match the files
    assert len(read_csv(out / "songs.csv")[1]) == s["rows"]["songs"] == SMALL["n_tracks"]
    assert len(read_csv(out / "users.csv")[1]) == s["rows"]["users"]
    assert sum(len(read_csv(p)[1]) for p in files) == s["rows"]["streams"]
    for p in files:
        assert len(read_csv(p)[1]) == s["stream_files"][str(p)]


def test_deterministic(tmp_path, small):
    out, _ = small
    again = tmp_path / "again"
    sd.generate(again, **SMALL)
    a = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    b = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert a == b
    for rel in a:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = tmp_path / "other_seed"
    sd.generate(other, **{**SMALL, "seed": 8})
    assert (other / "songs.csv").read_bytes() != (out / "songs.csv").read_bytes()


def test_songs_quirks(small):
    out, s = small
    header, rows = read_csv(out / "songs.csv")
    assert header == SONGS_COLS
    ix = {c: header.index(c) for c in header}
    assert [r[0] for r in rows] == [str(k) for k in range(len(rows))]
    ids = [r[ix["track_id"]] for r in rows if r[ix["track_id"]]]
    assert all(re.fullmatch(r"[0-9A-Za-z]{22}", i) for i in ids)
    # the same track on several rows, with another genre, later in the file
    genres_of = defaultdict(list)
    for r in rows:
        if r[ix["track_id"]]:
            genres_of[r[ix["track_id"]]].append(r[ix["track_genre"]])
    multi = {k: g for k, g in genres_of.items() if len(g) > 1}
    assert len(multi) == s["catalog"]["duplicate_track_rows"] > 0.1 * len(genres_of)
    assert all(len(set(g)) == len(g) for g in multi.values())
    genres = {r[ix["track_genre"]] for r in rows} - {""}
    assert len(genres) == 114 and {"acoustic", "k-pop", "world-music"} <= genres
    artists = [r[ix["artists"]] for r in rows]
    assert any(";" in a for a in artists)
    assert "Ingrid Michaelson;ZAYN" in artists
    raw = (out / "songs.csv").read_text(encoding="utf-8")
    assert re.search(r',"[^"\n]*,[^"\n]*",', raw), "a quoted field with a comma"
    assert '""' in raw, "a quoted field with a doubled quote"
    text = [r[ix[c]] for r in rows for c in ("artists", "album_name", "track_name")]
    assert any(NON_LATIN.search(t) for t in text)
    assert any(re.search(r"[éñçøåöüß]", t) for t in text)
    assert "" in {r[ix["album_name"]] for r in rows} and "" in {r[ix["track_name"]] for r in rows}
    ok = [r for r in rows if r[ix["track_id"]] and r[ix["track_genre"]] and positive_number(r[ix["duration_ms"]])]
    assert all(0 <= int(r[ix["popularity"]]) <= 100 for r in ok)
    assert all(int(r[ix["duration_ms"]]) > 0 for r in ok)
    assert {r[ix["explicit"]] for r in ok} == {"True", "False"}
    for col in ("danceability", "energy", "loudness", "tempo", "instrumentalness"):
        [float(r[ix[col]]) for r in ok]


def test_songs_dirty_rows(small):
    out, s = small
    _, counts = catalog(out)
    assert counts["bad_song"] == s["dirty"]["bad_song"] >= 6
    assert counts["duplicate_track_rows"] == s["catalog"]["duplicate_track_rows"]
    header, rows = read_csv(out / "songs.csv")
    ix = {c: header.index(c) for c in header}
    durations = {r[ix["duration_ms"]] for r in rows}
    assert {"0", ""} <= durations and any(d.startswith("-") for d in durations)
    assert any(d and not re.fullmatch(r"-?\d+", d) for d in durations)
    assert any(not r[ix["track_id"]] for r in rows)
    assert any(not r[ix["track_genre"]] for r in rows)


def test_users(small):
    out, s = small
    header, rows = read_csv(out / "users.csv")
    ages, counts = users(out)
    assert set(ages) == set(range(1, SMALL["n_users"] + 1))
    assert counts["duplicate_user_id"] == s["dirty"]["duplicate_user_id"] >= 1
    assert counts["bad_user_age"] == s["dirty"]["bad_user_age"]
    raw_ages = {r[2] for r in rows}
    assert {"", "abc", "25.5", "5", "130"} <= raw_ages
    good = [int(a) for a in ages.values() if re.fullmatch(r"\d+", a) and 13 <= int(a) <= 120]
    assert sum(16 <= a <= 70 for a in good) > 0.9 * len(good)
    assert sorted(good)[len(good) // 2] < 40  # skewed young
    assert any(NON_LATIN.search(r[1]) for r in rows)
    for r in rows:
        dt.datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S")
    # a duplicated user_id comes after its first row
    seen = set()
    for r in rows:
        if r[0] in seen:
            break
        seen.add(r[0])
    else:
        pytest.fail("no duplicated user_id row")


def test_streams_planted_kinds_and_counts(small):
    out, s = small
    by_date, undated, valid_keys, per_user, mismatch = classify_streams(out)
    n = SMALL["streams_per_day"]
    for d in DATES:
        exp, got = s["dates"][d], by_date[d]
        # exactly streams_per_day rows per date, dirty rows included (unparseable ones are
        # counted for the date of their folder)
        assert got["rows"] + exp["unparseable_time"] == exp["rows"] == n
        assert got["valid"] == exp["expected_valid_streams"]
        assert got["duplicate_stream"] == exp["duplicate_stream"] >= 4
        assert got["unknown_track"] == exp["unknown_track"] >= 4
        assert got["unknown_user"] == exp["unknown_user"] >= 4
        assert got["bad_stream"] + exp["unparseable_time"] == exp["bad_stream"] >= 7
        assert got["iso_time"] == exp["iso_time"] >= 7
    assert undated["bad_stream"] == sum(s["dates"][d]["unparseable_time"] for d in DATES) >= 6
    # rows of the dates just outside the range
    others = {d: c["rows"] for d, c in by_date.items() if d not in DATES}
    assert others == s["other_date_rows"] and set(others) == {"2024-06-23", "2024-06-26"}
    # near midnight, some rows sit in the neighbouring date's folder
    assert mismatch > 0
    # no accidental duplicates: valid streams never share (user, instant)
    assert max(valid_keys.values()) == 1
    assert s["dirty"]["unknown_track"] == sum(s["dates"][d]["unknown_track"] for d in DATES)


def test_streams_raw_variants(small):
    out, _ = small
    text = "".join(p.read_text(encoding="utf-8") for p in stream_files(out))
    for needle in (",not-a-time\n", " 25:61:00\n", "\nu", ".5,", ",,2024-", "\n,"):
        assert needle in text, needle
    assert re.search(r",\n", text), "empty listen_time"
    assert re.search(r"T\d\d:\d\d:\d\d\n", text)
    assert re.search(r"T\d\d:\d\d:\d\d\.\d+Z\n", text)
    assert re.search(r" \d\d:\d\d:\d\d\.\d+\n", text)
    assert re.search(r"\+02:00\n", text) and re.search(r"-05:00\n", text)
    # the cross-midnight one: local date D+1, UTC instant on D
    cross = [
        ln.rsplit(",", 1)[1]
        for ln in text.splitlines()
        if ln.endswith("+02:00") and parse_time(ln.rsplit(",", 1)[1]).date().isoformat() != ln.rsplit(",", 1)[1][:10]
    ]
    assert len(cross) == len(DATES)


def test_streams_realistic_shape(small):
    out, _ = small
    by_date, _, _, per_user, _ = classify_streams(out)
    hours = Counter(t.hour for ts in per_user.values() for t in ts)
    assert hours[4] * 3 < hours[20]
    assert min(hours[h] for h in (3, 4, 5)) < min(hours[h] for h in (18, 19, 20, 21))
    # sessions: bursts a few minutes apart separated by gaps > 30 min
    multi_session = short_gaps = 0
    for ts in per_user.values():
        ts.sort()
        gaps = [(b - a).total_seconds() for a, b in zip(ts, ts[1:])]
        for day in DATES:
            day_gaps = [g for g, a in zip(gaps, ts) if a.date().isoformat() == day]
            if sum(g > 1800 for g in day_gaps) >= 1 and any(g <= 600 for g in day_gaps):
                multi_session += 1
        short_gaps += sum(g <= 600 for g in gaps)
    assert multi_session >= 20
    assert short_gaps > 0.4 * sum(len(v) for v in per_user.values())
    # some users listen much more than others; tracks are skewed
    per = sorted(len(v) for v in per_user.values())
    assert per[-1] > 5 * per[len(per) // 2]
    tracks = Counter()
    for path in stream_files(out):
        tracks.update(r[1] for r in read_csv(path)[1])
    top = sum(c for _, c in tracks.most_common(max(1, len(tracks) // 100)))
    assert top > 0.05 * sum(tracks.values())


def test_flat_layout_same_rows(small, small_flat):
    (out, s), (flat, sf) = small, small_flat
    files = stream_files(flat)
    assert [p.name for p in files] == [f"streams{k}.csv" for k in range(1, len(files) + 1)]
    assert len(files) >= 3 and all(p.parent == flat / "streams" for p in files)
    dates_per_file = []
    for p in files:
        dates_per_file.append({r[2][:10] for r in read_csv(p)[1] if TIME_RE.fullmatch(r[2])})
    assert any({"2024-06-24", "2024-06-25"} <= d for d in dates_per_file)

    def lines(root):
        return sorted(ln for p in stream_files(root) for ln in p.read_text(encoding="utf-8").splitlines()[1:])

    assert lines(out) == lines(flat)
    assert (out / "songs.csv").read_bytes() == (flat / "songs.csv").read_bytes()
    assert sf["dates"] == s["dates"]


def test_no_dirty(tmp_path):
    s = sd.generate(tmp_path, **{**SMALL, "days": 1, "n_tracks": 1500}, dirty=False)
    assert s["dirty"]["bad_song"] == s["dirty"]["bad_stream"] == 0
    _, counts = catalog(tmp_path)
    assert counts["bad_song"] == 0
    _, ucounts = users(tmp_path)
    assert ucounts == Counter()
    by_date, undated, _, _, _ = classify_streams(tmp_path)
    assert not undated
    got = by_date["2024-06-24"]
    assert got["rows"] == got["valid"] == SMALL["streams_per_day"]
    assert got["iso_time"] == 0


def test_rewrite_replaces_old_stream_files(tmp_path):
    small_args = {**SMALL, "days": 1, "n_tracks": 1500}
    sd.generate(tmp_path, layout="flat", **small_args)
    sd.generate(tmp_path, **small_args)
    assert not list((tmp_path / "streams").glob("streams*.csv"))
    (tmp_path / "streams" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        sd.generate(tmp_path, **small_args)


def test_cli(tmp_path, capsys):
    rc = sd.main(
        [
            "--out",
            str(tmp_path),
            "--days",
            "1",
            "--streams-per-day",
            "3e3",
            "--users",
            "4e2",
            "--tracks",
            "1_500",
            "--seed",
            "3",
            "--layout",
            "flat",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "3000" in out[0]
    assert (tmp_path / "streams" / "streams1.csv").exists()
    with pytest.raises(SystemExit):
        sd.main(["--out", str(tmp_path), "--streams-per-day", "1.5"])


# --------------------------------------------------------------------------- daily volume and incidents
WEEK = dict(start_date="2024-06-24", days=7, streams_per_day=3000, n_users=400, n_tracks=2000, seed=7)  # Mon..Sun
WEEK_DATES = [f"2024-06-{d}" for d in range(24, 31)]
WEEKEND = {"2024-06-29", "2024-06-30"}
INCIDENTS = {"2024-06-26": "cutoff", "2024-06-27": "stale_catalog", "2024-06-28": "volume_drop"}


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    out = tmp_path_factory.mktemp("week")
    return out, sd.generate(out, **WEEK)


@pytest.fixture(scope="module")
def week_incidents(tmp_path_factory):
    out = tmp_path_factory.mktemp("incidents")
    return out, sd.generate(out, **WEEK, incidents=INCIDENTS)


def stream_rows(out: Path) -> list[tuple[str, str, str, dt.datetime | None]]:
    """(folder, user_id, track_id, UTC listen time or None) of every stream row."""
    return [(p.parent.name, *r[:2], parse_time(r[2])) for p in stream_files(out) for r in read_csv(p)[1]]


def rows_per_date(out: Path) -> Counter:
    """Rows by UTC listen date; a row without a parseable time counts for its folder's date."""
    return Counter(t.date().isoformat() if t else folder for folder, _, _, t in stream_rows(out))


def assert_summary_exact(out: Path, s: dict) -> None:
    by_date, _, _, _, _ = classify_streams(out)
    for d in WEEK_DATES:
        exp, got = s["dates"][d], by_date[d]
        assert got["rows"] + exp["unparseable_time"] == exp["rows"]
        assert got["valid"] == exp["expected_valid_streams"]
        assert got["unknown_track"] == exp["unknown_track"]
        assert got["duplicate_stream"] == exp["duplicate_stream"]
        assert got["iso_time"] == exp["iso_time"]


def test_variation_changes_daily_rows(week):
    out, s = week
    rows = rows_per_date(out)
    counts = [rows[d] for d in WEEK_DATES]
    assert len(set(counts)) >= 5, counts
    assert counts == [s["dates"][d]["rows"] for d in WEEK_DATES]
    for d in WEEK_DATES:  # rows = streams_per_day x the date's factor (rounded to 4 digits in the summary)
        assert abs(rows[d] - WEEK["streams_per_day"] * s["dates"][d]["volume_factor"]) <= 1
        assert 0.9 < s["dates"][d]["volume_factor"] < 1.35
    weekend = sum(rows[d] for d in WEEKEND) / len(WEEKEND)
    weekdays = sum(rows[d] for d in WEEK_DATES if d not in WEEKEND) / (len(WEEK_DATES) - len(WEEKEND))
    assert weekend > 1.08 * weekdays
    assert s["variation"] is True and s["incidents"] == {}
    assert_summary_exact(out, s)


def test_variation_off_gives_exact_rows(tmp_path):
    s = sd.generate(tmp_path, **WEEK, variation=False)
    rows = rows_per_date(tmp_path)
    assert [rows[d] for d in WEEK_DATES] == [3000] * 7
    assert {s["dates"][d]["volume_factor"] for d in WEEK_DATES} == {1.0}
    assert s["variation"] is False


def test_variation_and_incidents_deterministic(tmp_path, week, week_incidents):
    for (out, _), incidents in ((week, None), (week_incidents, INCIDENTS)):
        again = tmp_path / str(bool(incidents))
        sd.generate(again, **WEEK, incidents=incidents)
        files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
        for rel in files:
            assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_incidents_summary_exact(week_incidents):
    out, s = week_incidents
    assert s["incidents"] == INCIDENTS
    assert_summary_exact(out, s)


def test_cutoff_drops_the_evening(week_incidents):
    out, _ = week_incidents
    hours = defaultdict(Counter)  # date -> hour -> rows, in every file
    for _, _, _, t in stream_rows(out):
        if t:
            hours[t.date().isoformat()][t.hour] += 1
    assert sum(hours["2024-06-26"][h] for h in range(18, 24)) == 0
    assert hours["2024-06-26"][17] > 50  # the export stopped at 18:00, not earlier
    assert sum(hours["2024-06-25"][h] for h in range(18, 24)) > 500  # other dates keep their evening


def test_stale_catalog_tracks_missing(week_incidents):
    out, s = week_incidents
    header, songs = read_csv(out / "songs.csv")
    in_songs = {r[header.index("track_id")] for r in songs}
    for d, low, high in (("2024-06-27", 0.17, 0.23), ("2024-06-25", 0.0, 0.01)):
        rows = [track for _, _, track, t in stream_rows(out) if t and t.date().isoformat() == d]
        assert low < sum(track not in in_songs for track in rows) / len(rows) < high, d
    by_date, _, _, _, _ = classify_streams(out)
    assert by_date["2024-06-27"]["unknown_track"] == s["dates"]["2024-06-27"]["unknown_track"] > 450
    assert s["dates"]["2024-06-25"]["unknown_track"] == by_date["2024-06-25"]["unknown_track"] < 10


def test_volume_drop_halves_the_date(week, week_incidents):
    (_, plain), (out, s) = week, week_incidents
    rows = rows_per_date(out)
    assert 0.49 < rows["2024-06-28"] / plain["dates"]["2024-06-28"]["rows"] < 0.51
    others = [rows[d] for d in WEEK_DATES if d not in INCIDENTS]
    assert 0.4 < rows["2024-06-28"] / (sum(others) / len(others)) < 0.6
    assert abs(s["dates"]["2024-06-28"]["volume_factor"] - plain["dates"]["2024-06-28"]["volume_factor"] / 2) < 1e-4


def test_bad_incidents(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown kind"):
        sd.generate(tmp_path, **WEEK, incidents={"2024-06-25": "meltdown"})
    with pytest.raises(ValueError, match="outside the range"):
        sd.generate(tmp_path, **WEEK, incidents={"2024-07-01": "cutoff"})
    assert sd.main(["--out", str(tmp_path), "--incident", "2024-06-23=cutoff"]) == 2
    assert "outside the range" in capsys.readouterr().err


def test_cli_flat_volume_and_incidents(tmp_path, capsys):
    args = ["--out", str(tmp_path), "--days", "3", "--streams-per-day", "3000", "--users", "400", "--tracks", "1500"]
    rc = sd.main([*args, "--flat-volume", "--incident", "2024-06-25=volume_drop", "--incident", "2024-06-26=cutoff"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "2024-06-24=3000 2024-06-25=1500 " in out and "2024-06-26=cutoff" in out
    rows = rows_per_date(tmp_path)
    assert rows["2024-06-24"] == 3000 and rows["2024-06-25"] == 1500 and rows["2024-06-26"] < 2500


def test_cli_five_weeks(tmp_path, capsys):
    args = ["--out", str(tmp_path), "--start-date", "2024-05-27", "--days", "35", "--streams-per-day", "600"]
    assert sd.main([*args, "--users", "100", "--tracks", "300", "--incident", "2024-06-28=cutoff"]) == 0
    assert "2024-05-27=" in capsys.readouterr().out
    folders = sorted({p.parent.name for p in stream_files(tmp_path)})
    assert len(folders) == 35 and folders[0] == "2024-05-27" and folders[-1] == "2024-06-30"


def test_ingest_matches_summary(tmp_path):
    from streamkpi import ingest

    date = "2024-06-25"
    root = tmp_path / "input"
    s = sd.generate(root, **{**WEEK, "days": 3}, incidents={date: "stale_catalog"})
    counts = ingest.stage_day(root, date, tmp_path / "staging").counts
    assert counts["valid_streams"] == s["dates"][date]["expected_valid_streams"]
    assert counts["unknown_track"] == s["dates"][date]["unknown_track"] > 450
    assert counts["duplicate_stream"] == s["dates"][date]["duplicate_stream"]
