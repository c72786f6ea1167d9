"""Random generator of small but nasty input roots that conform to shared/KPI_SPEC.md.

    write_random_input(root, seed, run_date="2024-06-25")

writes songs.csv, users.csv and several streams/**/*.csv under `root`. Everything is drawn
from `random.Random(seed)`, so a seed always gives the same bytes. The data is built to hit
every rule of the spec and of the lead's decisions: tiny id alphabets (so collisions and
count ties really happen), repeated track_ids under other genres, bad songs of each kind,
messy `;`-joined artists, case-only artist differences, non-Latin text, quoted commas and
quotes, edge ages, duplicate and bad user ids, nested stream files with shuffled columns and
an extra column, every accepted listen_time form (offsets crossing midnight, fractions),
invalid times, exact and re-written duplicates, unknown tracks and users, session bursts with
gaps of exactly the gap and gap + 1 s (for gaps 30 and 7), and hours built to force ties for
most_popular_track_id, top_artist and most_engaged_age_group.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

SONG_COLUMNS = [
    "id",
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "duration_ms",
    "explicit",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
    "track_genre",
]
USER_COLUMNS = ["user_id", "user_name", "user_age", "user_country", "created_at"]

GENRES = ["pop", "Pop", "rock", "k-pop", "música", "hip hop", "r&b, soul", "ジャズ", "metal", "edm"]
# small base-62 alphabet: case-only differences and digits sort differently by code point
ID_CHARS = "aAbB0zZ"
ARTISTS = [
    "Ingrid Michaelson",
    "ZAYN",
    "Zayn",
    "zayn",
    "Björk",
    "Beyoncé",
    "王菲",
    "Михаил",
    "AC/DC",
    "Guns N' Roses",
    'The "Band"',
    "Earth, Wind & Fire",
    "a",
    "B",
    "é",
    "Émile",
]
TRACK_NAMES = [
    'Say "Hi", now',
    "Hello, World",
    "Ça va",
    "夜に駆ける",
    "Песня",
    "plain",
    "",
    'It\'s "fine"',
]
EDGE_AGES = ["12", "13", "17", "18", "24", "25", "64", "65", "120", "121", "", "x", "30.0", "30.5"]
GOOD_AGES = ["19", "22", "27", "31", "38", "41", "47", "52", "58", "70", "44.00", " 33 "]
BAD_USER_IDS = ["", "   ", "u3", "3.0", "1e2", "abc"]
BAD_STREAM_USER_IDS = ["", " ", "u7", "7.0", "1e3", "99999999999999999999", "9223372036854775808", "x"]
BAD_TIMES = [
    "2024-06-25",
    "2024-06-25 24:00:00",
    "2024-02-30 10:00:00",
    "25/06/2024 10:00",
    "",
    "2024-06-25 10:00",
    "garbage",
    "2024-6-25 10:00:00",
    "2024-06-25 10:00:60",
    "2023-02-29 10:00:00",
    "2024-06-31T10:00:00Z",
    "2024-06-25 10:61:00",
    "2024-13-01 00:00:00",
]
OFFSETS_MIN = [0, 60, 120, -60, -300, 330, -570, 600, -720, 840, 45]
GAP_CHOICES = [
    timedelta(minutes=30),
    timedelta(minutes=30, seconds=1),
    timedelta(minutes=7),
    timedelta(minutes=7, seconds=1),
    timedelta(minutes=29, seconds=59),
    timedelta(seconds=1),
    timedelta(0),
    timedelta(minutes=45),
    timedelta(hours=2),
    timedelta(minutes=6, seconds=59),
    timedelta(minutes=30, microseconds=1),
]


def _dur(rng: random.Random) -> str:
    return rng.choice(["215000", "180000", "1.5e5", "2E5", "180000.5", "99999", "240000", "3000", "0.5"])


def _track_ids(rng: random.Random, n: int) -> list[str]:
    pool = sorted({a + b for a in ID_CHARS for b in ID_CHARS} | set(ID_CHARS))
    rng.shuffle(pool)
    return pool[:n]


def _artists_field(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.08:
        return rng.choice(["", ";", " ; ", ";;"])
    names = rng.sample(ARTISTS, rng.randint(1, 3))
    if rng.random() < 0.15:
        names.append(names[0])  # same artist twice on one track
    parts = []
    for name in names:
        pad_l = rng.choice(["", "", " ", "  "])
        pad_r = rng.choice(["", "", " "])
        parts.append(pad_l + name + pad_r)
        if rng.random() < 0.2:
            parts.append(rng.choice(["", " "]))  # empty artist between separators
    text = ";".join(parts)
    if rng.random() < 0.2:
        text += rng.choice([";", ";;", "; "])
    return text


def _song_row(rng, index, track_id, genre, duration, artists):
    row = {
        "id": str(index),
        "track_id": track_id,
        "artists": artists,
        "album_name": rng.choice(["Album, Vol. 1", 'The "Best"', "アルバム", ""]),
        "track_name": rng.choice(TRACK_NAMES),
        "popularity": str(rng.randint(0, 100)),
        "duration_ms": duration,
        "explicit": rng.choice(["True", "False"]),
        "danceability": f"{rng.random():.3f}",
        "energy": f"{rng.random():.3f}",
        "key": str(rng.randint(0, 11)),
        "loudness": f"{-rng.random() * 20:.3f}",
        "mode": str(rng.randint(0, 1)),
        "speechiness": f"{rng.random():.4f}",
        "acousticness": f"{rng.random():.4f}",
        "instrumentalness": f"{rng.random():.5f}",
        "liveness": f"{rng.random():.3f}",
        "valence": f"{rng.random():.3f}",
        "tempo": f"{rng.uniform(60, 200):.3f}",
        "time_signature": "4",
        "track_genre": genre,
    }
    return row


def _pad(rng, text: str, p: float = 0.15) -> str:
    if rng.random() < p:
        return rng.choice([" ", "  "]) + text + rng.choice(["", " "])
    return text


def _render_time(rng: random.Random, instant: datetime) -> str:
    """Render a UTC instant in a random accepted form (same instant)."""
    form = rng.random()
    if form < 0.35:
        offset = 0
        suffix = rng.choice(["", "", "Z", "+00:00", "+0000", "+00", "-00:00"])
    else:
        offset = rng.choice(OFFSETS_MIN)
        sign = "+" if offset >= 0 else "-"
        h, m = divmod(abs(offset), 60)
        if m == 0:
            suffix = rng.choice([f"{sign}{h:02d}:00", f"{sign}{h:02d}00", f"{sign}{h:02d}"])
        else:
            suffix = rng.choice([f"{sign}{h:02d}:{m:02d}", f"{sign}{h:02d}{m:02d}"])
    local = instant + timedelta(minutes=offset)
    sep = rng.choice([" ", " ", "T"])
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    us = local.microsecond
    if us:
        frac = f"{us:06d}".rstrip("0")
        text += "." + rng.choice([frac, f"{us:06d}"])
    elif rng.random() < 0.1:
        text += rng.choice([".0", ".000000"])
    text += suffix
    if rng.random() < 0.05:
        text = rng.choice([" ", "  "]) + text + rng.choice(["", " "])  # decision 1: trimmed
    return text


def _render_user(rng: random.Random, user_id: int) -> str:
    r = rng.random()
    if r < 0.75 or user_id < 0:
        return str(user_id)
    if r < 0.85:
        return "00" + str(user_id)
    if r < 0.93:
        return "+" + str(user_id)
    return " " + str(user_id) + " "


def write_random_input(root: Path, seed: int, run_date="2024-06-25") -> None:
    rng = random.Random(seed)
    root = Path(root)
    D = date.fromisoformat(str(run_date))
    day0 = datetime(D.year, D.month, D.day)

    # ------------------------------------------------------------------ catalog
    genres = rng.sample(GENRES, rng.randint(3, 6))
    tie_genre = "tié-genre"
    ids = _track_ids(rng, rng.randint(18, 45))
    song_rows = []  # dicts; index assigned at write time
    good_tracks = []  # track ids that end up in the cleaned catalog (some may be dup'd)
    bad_only_ids = []  # ids that appear only on bad rows -> unknown tracks

    def add(track_id, genre, duration, artists=None):
        song_rows.append((track_id, genre, duration, _artists_field(rng) if artists is None else artists))

    for tid in ids:
        r = rng.random()
        if r < 0.1:
            # only bad rows for this id
            add(tid, rng.choice(["", "  "]), _dur(rng))
            add(tid, rng.choice(genres), rng.choice(["0", "-5", "abc", "", "inf", "nan"]))
            bad_only_ids.append(tid)
            continue
        if r < 0.2:
            # first row bad, a later good row becomes the record
            add(_pad(rng, tid), rng.choice(genres), rng.choice(["0", "-1", "x", "", "NaN", "-inf"]))
        add(_pad(rng, tid), _pad(rng, rng.choice(genres)), _dur(rng))
        good_tracks.append(tid)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            # same track listed under other genres (later rows: duplicate_track_rows)
            add(_pad(rng, tid), rng.choice(genres), _dur(rng))
        if rng.random() < 0.1:
            add(tid, rng.choice(genres), rng.choice(["0", "-3"]))  # later bad row: bad_song
    # shuffle the tail a bit but keep most structure (file order matters for "first row")
    head, tail = song_rows[: len(song_rows) // 2], song_rows[len(song_rows) // 2 :]
    rng.shuffle(tail)
    song_rows = head + tail
    # ids for the tie hour, only in tie_genre; each track credits "Zoe"/"zoe"/"Émile" equally
    tie_ids = ["tB", "ta", "tb"]
    tie_artists = {"tB": "zoe;Zoe", "ta": " Zoe ; Émile;", "tb": "Émile;;zoe; zoe"}
    for tid in tie_ids:
        add(tid, tie_genre, rng.choice(["200000", "1.5e5", "123456.789"]), tie_artists[tid])
    # a track that credits nobody (for an hour whose top_artist is NULL)
    add("nn", rng.choice(genres), "100000", rng.choice(["", ";", " ; "]))
    add("nn", tie_genre, "100000", "Somebody")  # listed again under another genre
    # bad rows of every kind with empty track_id
    for _ in range(rng.randint(1, 3)):
        add(rng.choice(["", " "]), rng.choice(genres), _dur(rng))
    for _ in range(rng.randint(1, 3)):
        add(rng.choice(ids), rng.choice(["", " "]), _dur(rng))
    for _ in range(rng.randint(1, 3)):
        add(rng.choice(ids + ["zz"]), rng.choice(genres), rng.choice(["0", "-100", "abc", "", "inf", "1e5x"]))

    first_col = rng.choice(["", "id"])
    columns = [first_col] + SONG_COLUMNS[1:]
    extra = rng.random() < 0.5
    if extra:
        columns.append("extra_note")
    with open(root / "songs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for i, (tid, genre, duration, artists) in enumerate(song_rows):
            d = _song_row(rng, i, tid, genre, duration, artists)
            values = [str(i)] + [d[c] for c in SONG_COLUMNS[1:]]
            if extra:
                values.append(rng.choice(["x", "a, b", ""]))
            w.writerow(values)

    catalog_ids = good_tracks  # random streams use these (never the tie ids)
    unknown_ids = bad_only_ids + ["unk", "A0b", "Zzz", "q1"]

    # ------------------------------------------------------------------ users
    n_users = rng.randint(8, 16)
    user_rows = []
    for uid in range(1, n_users + 1):
        age = rng.choice(EDGE_AGES + GOOD_AGES + GOOD_AGES)
        user_rows.append((_render_user(rng, uid) if uid > 0 else str(uid), age))
        if rng.random() < 0.2:  # duplicate user id (later row ignored)
            user_rows.append((_render_user(rng, uid), rng.choice(EDGE_AGES + GOOD_AGES)))
    for bad in rng.sample(BAD_USER_IDS, rng.randint(1, 3)):
        user_rows.append((bad, rng.choice(GOOD_AGES)))
    rng.shuffle(user_rows)
    # fixed users for the tie hours (appended after the shuffle: they are first of their ids)
    tie_users = {50: "24", 51: "25", 52: "65", 53: "17", 54: "65.0", 55: "121", 56: "x", 57: "13"}
    for uid, age in tie_users.items():
        user_rows.append((str(uid), age))
    user_rows.append(("051", "40"))  # duplicate of 51 written differently: ignored
    with open(root / "users.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(USER_COLUMNS)
        for uid, age in user_rows:
            w.writerow(
                [
                    uid,
                    rng.choice(["Ann", "Łukasz", "李雷", 'O"Brien, Jr', ""]),
                    age,
                    rng.choice(["US", "DE", "日本", ""]),
                    "2023-01-01 00:00:00",
                ]
            )

    stream_user_pool = list(range(1, n_users + 1)) + [n_users + 1, n_users + 2, 77, -3, 0]

    # ------------------------------------------------------------------ streams
    # events: (user_text, track_text, time_text)
    events = []
    hours = list(range(24))
    reserved = rng.sample(hours, 3)  # tie hour, null hour, young/old tie hour
    tie_hour, null_hour, age_tie_hour = reserved
    busy_hours = [h for h in hours if h not in reserved]
    busy_hours = rng.sample(busy_hours, rng.randint(4, 9))

    def emit(user_id: int, track_id: str, instant: datetime):
        events.append((_render_user(rng, user_id), _pad(rng, track_id, 0.1), _render_time(rng, instant)))

    def random_instant():
        h = rng.choice(busy_hours)
        sec = rng.choice([0, 0, 59, rng.randint(0, 3599)])
        us = rng.choice([0, 0, 0, 500000, 123456, 1])
        return day0 + timedelta(hours=h, seconds=sec, microseconds=us)

    # plain random streams
    for _ in range(rng.randint(30, 90)):
        uid = rng.choice(stream_user_pool)
        tid = rng.choice(catalog_ids) if rng.random() < 0.9 else rng.choice(unknown_ids)
        emit(uid, tid, random_instant())
    # session bursts (some cross midnight out of D)
    for _ in range(rng.randint(4, 10)):
        uid = rng.choice(stream_user_pool)
        t = random_instant() if rng.random() < 0.8 else day0 + timedelta(hours=23, minutes=rng.randint(0, 59))
        for _ in range(rng.randint(2, 7)):
            if t.hour not in reserved or t.date() != D:
                emit(uid, rng.choice(catalog_ids), t)
            t = t + rng.choice(GAP_CHOICES)
    # same user, same instant, different tracks (gap 0: never a new session), often
    # right after a gap longer than any session gap
    for _ in range(rng.randint(2, 5)):
        uid = rng.choice(stream_user_pool)
        t = random_instant()
        if rng.random() < 0.7:
            emit(uid, rng.choice(catalog_ids), t - rng.choice([timedelta(minutes=31), timedelta(hours=3)]))
        for tid in rng.sample(catalog_ids, min(len(catalog_ids), rng.randint(2, 3))):
            emit(uid, tid, t)
    # a burst starting the day before (only its D part counts)
    uid = rng.choice(stream_user_pool)
    t = day0 - timedelta(minutes=rng.choice([30, 31, 7, 8]))
    for _ in range(3):
        if t.hour not in reserved or t.date() != D:
            emit(uid, rng.choice(catalog_ids), t)
        t += rng.choice([timedelta(minutes=30), timedelta(minutes=7), timedelta(minutes=30, seconds=1)])
    # boundary instants
    for instant in [
        day0,
        day0 + timedelta(days=1) - timedelta(microseconds=1),
        day0 + timedelta(days=1),
        day0 - timedelta(microseconds=1),
    ]:
        if instant.date() != D or instant.hour not in reserved:
            emit(rng.choice(stream_user_pool), rng.choice(catalog_ids), instant)
    # offsets crossing midnight, into and out of D (rendered explicitly)
    into = rng.choice(catalog_ids)
    if 23 not in reserved:
        events.append(("5", into, (D + timedelta(days=1)).isoformat() + "T01:30:00+02:00"))  # D 23:30Z
        events.append(("5", into, (D + timedelta(days=1)).isoformat() + " 01:30:00+0200"))  # duplicate
    if 1 not in reserved:
        events.append(("6", into, (D - timedelta(days=1)).isoformat() + "T22:00:00-03:00"))  # D 01:00Z
    events.append(("6", into, D.isoformat() + "T23:30:00-01:00"))  # D+1 00:30Z: other_date
    events.append(("6", into, D.isoformat() + "T00:30:00+01:00"))  # D-1 23:30Z: other_date
    # streams on other dates, some with bad user / empty track (still other_date)
    for _ in range(rng.randint(3, 10)):
        other = day0 + timedelta(days=rng.choice([-1, 1, 2, -30]), hours=rng.randint(0, 23))
        user_text = rng.choice(BAD_STREAM_USER_IDS) if rng.random() < 0.3 else str(rng.choice(stream_user_pool))
        track_text = "" if rng.random() < 0.2 else rng.choice(catalog_ids + unknown_ids)
        events.append((user_text, track_text, _render_time(rng, other)))
    events.append(("1", rng.choice(catalog_ids), "2024-02-29T10:00:00Z"))  # leap day: valid, other_date
    # bad streams of D
    for _ in range(rng.randint(3, 8)):
        kind = rng.random()
        if kind < 0.4:
            events.append((str(rng.choice(stream_user_pool)), rng.choice(catalog_ids), rng.choice(BAD_TIMES)))
        elif kind < 0.8:
            events.append(
                (rng.choice(BAD_STREAM_USER_IDS), rng.choice(catalog_ids), _render_time(rng, random_instant()))
            )
        else:
            events.append(
                (str(rng.choice(stream_user_pool)), rng.choice(["", "  "]), _render_time(rng, random_instant()))
            )
    # extreme but valid user ids (unknown users)
    if rng.random() < 0.5:
        emit(9223372036854775807, rng.choice(catalog_ids), random_instant())
        events.append(("-9223372036854775808", rng.choice(catalog_ids), _render_time(rng, random_instant())))

    # tie hour: 3 streams of each tie track -> most_popular tie (tB), artist tie (Zoe),
    # ages: 4x 18-24 (user 50), 4x 25-34 (user 51), 1x 65+ (user 52) -> "18-24"
    tie_users_seq = [50] * 4 + [51] * 4 + [52]
    rng.shuffle(tie_users_seq)
    tie_tracks_seq = tie_ids * 3
    rng.shuffle(tie_tracks_seq)
    for k, (uid, tid) in enumerate(zip(tie_users_seq, tie_tracks_seq)):
        emit(uid, tid, day0 + timedelta(hours=tie_hour, minutes=6 * k, seconds=rng.choice([0, 1])))
    # null hour: track credits nobody, users of unknown age only -> top_artist NULL, age NULL
    for k in range(rng.randint(1, 4)):
        uid = rng.choice([55, 56, 77, -3])
        emit(uid, "nn", day0 + timedelta(hours=null_hour, minutes=7 * k))
    # young/old tie hour: 2x <18 (53, 57), 2x 65+ (54, 52) -> "<18"
    for k, uid in enumerate([53, 54, 57, 52]):
        emit(uid, rng.choice(catalog_ids), day0 + timedelta(hours=age_tie_hour, minutes=10 * k))

    # duplicates: exact textual copies, and copies written in another form
    base = list(events)
    for _ in range(rng.randint(4, 12)):
        u, t, lt = rng.choice(base)
        events.append((u, t, lt))
    for _ in range(rng.randint(3, 10)):
        u, t, lt = rng.choice(base)
        from_ref = _parse_for_rewrite(lt)
        if from_ref is None:
            continue
        try:
            uid = int(u.strip())
        except ValueError:
            continue
        events.append((_render_user(rng, uid), _pad(rng, t.strip(), 0.3), _render_time(rng, from_ref)))
    rng.shuffle(events)

    # ------------------------------------------------------------------ stream files
    folders = ["streams", f"streams/{D.isoformat()}", "streams/a/b/c", "streams/zz"]
    n_files = rng.randint(2, 4)
    chunks = [[] for _ in range(n_files)]
    for ev in events:
        chunks[rng.randrange(n_files)].append(ev)
    for i, chunk in enumerate(chunks):
        folder = root / rng.choice(folders)
        folder.mkdir(parents=True, exist_ok=True)
        cols = ["user_id", "track_id", "listen_time"]
        rng.shuffle(cols)
        with_extra = rng.random() < 0.5
        header = list(cols)
        if with_extra:
            header.insert(rng.randrange(len(header) + 1), "device")
        quoting = csv.QUOTE_ALL if rng.random() < 0.3 else csv.QUOTE_MINIMAL
        eol = rng.choice(["\r\n", "\n"])
        with open(folder / f"part-{i}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=quoting, lineterminator=eol)
            w.writerow(header)
            for u, t, lt in chunk:
                rec = {
                    "user_id": u,
                    "track_id": t,
                    "listen_time": lt,
                    "device": rng.choice(["phone", "web, beta", 'tv "4k"', ""]),
                }
                w.writerow([rec[c] for c in header])
    # a header-only file, and a non-csv file that must be ignored
    (root / "streams" / "empty").mkdir(parents=True, exist_ok=True)
    with open(root / "streams" / "empty" / "none.csv", "w", newline="", encoding="utf-8") as fh:
        fh.write("listen_time,user_id,track_id\n")
    (root / "streams" / "README.txt").write_text("user_id,track_id,listen_time\n1,aa,2024-06-25 10:00:00\n")


def _parse_for_rewrite(text: str):
    """Parse a time we rendered ourselves (for duplicates written in another form)."""
    # local import: spec_data is usable without the reference, but reuse its parser
    try:
        from reference_kpis import parse_listen_time
    except ImportError:  # imported as tests.spec_data
        from .reference_kpis import parse_listen_time

    return parse_listen_time(text)
