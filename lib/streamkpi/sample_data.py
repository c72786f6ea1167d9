"""Deterministic, fast generator of sample input data (``songs.csv``, ``users.csv``, ``streams/``).

The files follow section 1 of ``KPI_SPEC.md`` and reproduce the quirks of the real public
track catalog (the same ``track_id`` on several rows, one per genre; ``;``-joined artists;
quoted commas and quotes; non-Latin scripts; empty text fields). With ``dirty=True`` a few
rows of every kind the cleaning rules reject or flag are planted, and the returned summary
says how many of each kind were planted and where.

Row counts, stated exactly
--------------------------
* ``songs.csv`` has exactly ``n_tracks`` data rows: the planted bad rows (``bad_song``) are
  included, and so are the second-genre rows. Of the rest, about ``dual_genre_fraction`` of
  the unique tracks get one more row, with another genre, later in the file (rows are
  grouped by genre, like the real catalog).
* ``users.csv`` has ``n_users`` users (``user_id`` 1..n_users) plus the planted rows that
  repeat an earlier ``user_id`` (``duplicate_user_id``), which are **on top**.
* streams: every date D of the range gets exactly ``streams_per_day`` rows, **dirty rows
  included** (the copies of duplicated rows, unknown tracks/users, bad rows). All of them
  have a ``listen_time`` on D (UTC), except the planted unparseable ones (``not-a-time``,
  ``2024-06-25 25:61:00``, empty), which are counted for the D whose folder they sit in.
  A few rows near midnight are written into the neighbouring date's folder (late/early
  exports), so a folder's row count is close to, not exactly, ``streams_per_day``; and a
  few rows of the dates just outside the range (the evening before the first day, the
  morning after the last) are written too, the way real exports contain them. Those extra
  rows are on top and are reported as ``other_date_rows``.
* ISO-8601 ``listen_time`` values (``T``, fractional seconds, ``Z``, ``+02:00``,
  ``-05:00``) are valid rows; one per day (``iso_cross_midnight``) is written with a
  ``+02:00`` offset whose local date is D+1 while its UTC instant is on D.

Apart from the planted duplicates, no two valid stream rows share (user_id, listen_time),
so the planted counts are exactly the counts the cleaning rules should find, and
``summary["dates"][D]["expected_valid_streams"]`` is the number of valid streams of D.
One ``unknown_track`` row a day uses a track_id that is in ``songs.csv`` only on a rejected
(``bad_song``) row: it is not in the *cleaned* catalog. The first planted duplicate of a
day is copied into another part file than its original (duplicates are across files).

Layouts: ``by-date`` (default) writes ``streams/<date>/part-000.csv``... (at least 2 parts
per day, one per ~1M rows); ``flat`` writes ``streams/streams1.csv``, ``streams2.csv``...
each holding parts of several dates. Both layouts hold exactly the same rows.

Same arguments give byte-identical files (numpy ``Generator`` streams seeded from
``(seed, purpose, day, part)``; nothing depends on the clock or on set/dict order).
Streams are built and written one part (<= ~1M rows) at a time, vectorised with numpy and
formatted through Arrow, so memory stays bounded by the part size.

CLI: ``python -m streamkpi.sample_data --out DIR [--start-date 2024-06-24] [--days 7]
[--streams-per-day 3e4] [--users 5e4] [--tracks 114000] [--seed N] [--no-dirty]
[--layout by-date|flat]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["generate", "main", "GENRES", "STREAM_HEADER", "SONGS_HEADER", "USERS_HEADER"]

SONGS_HEADER = (
    "id,track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,"
    "tempo,time_signature,track_genre"
)
USERS_HEADER = "user_id,user_name,user_age,user_country,created_at"
STREAM_HEADER = "user_id,track_id,listen_time"

# The 114 genres of the public Spotify tracks dataset.
GENRES = (
    "acoustic afrobeat alt-rock alternative ambient anime black-metal bluegrass blues brazil "
    "breakbeat british cantopop chicago-house children chill classical club comedy country "
    "dance dancehall death-metal deep-house detroit-techno disco disney drum-and-bass dub "
    "dubstep edm electro electronic emo folk forro french funk garage german gospel goth "
    "grindcore groove grunge guitar happy hard-rock hardcore hardstyle heavy-metal hip-hop "
    "honky-tonk house idm indian indie indie-pop industrial iranian j-dance j-idol j-pop j-rock "
    "jazz k-pop kids latin latino malay mandopop metal metalcore minimal-techno mpb new-age "
    "opera pagode party piano pop pop-film power-pop progressive-house psych-rock punk "
    "punk-rock r-n-b reggae reggaeton rock rock-n-roll rockabilly romance sad salsa samba "
    "sertanejo show-tunes singer-songwriter ska sleep songwriter soul spanish study swedish "
    "synth-pop tango techno trance trip-hop turkish world-music"
).split()

_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)

# --------------------------------------------------------------------------- text pools
# Scripts, in a fixed order. Names are (given, family); CJK names are family+given, no space.
_SCRIPTS = ("en", "es", "pt", "fr", "de", "sv", "tr", "ja", "ko", "zh", "ru", "ar", "el", "hi")
_CJK = {"ja", "ko", "zh"}

_WORDS = {
    "en": "Love Night Heart Fire Dreams Summer Rain Blue Gold Midnight Forever Home Light "
    "Shadow Wild Sweet City River Moon Sunshine Stars Ocean Road Time Dance Lonely Broken "
    "Electric Paradise Angel Ghost Echo Velvet Neon Silver Hollow Golden Crazy Young Lost Free "
    "Kiss Storm Memories Highway Diamonds Thunder Tonight Yesterday Waves Glow Runaway Stay "
    "Alive Falling Together Baby Girl Boy Heaven Devil Honey Cherry Roses Wonder Magic Youth "
    "Satellite Gravity Rebel Silence Fever Desire Mirror Garden Winter Spring Morning Sunday "
    "Friday Radio Money Party Happy Dark Bright Little Secret Promise Don't I'm Lovin' "
    "Rock'n'Roll Nothin' Summertime Heartbeat Goodbye Hello Closer Higher Slow Fast Gone".split(),
    "es": "Corazón Noche Amor Mañana Fuego Bésame Luna Canción Sueños Vida Bailando Niña Cielo "
    "Señorita Pasión Tú Olé Dónde Ojalá Fiesta Mar Sol Cumbia Perdón".split(),
    "pt": "Saudade Coração Canção Você Não Amanhã Sertão Paixão Chão Forró Menina Alegria Mãe "
    "Ilusão Lua Sol Samba Verão".split(),
    "fr": "Été Mélodie Café Rêve Cœur Chérie Naïve Paris Ça Étoile Fenêtre Noël Soleil Amour Déjà Rivière".split(),
    "de": "Träume Fröhlich Herz Größer Nacht Mädchen Schön Grün Sehnsucht Süß Weiß Liebe".split(),
    "sv": "Sjön Ångest Älskling Sommarnatt Kärlek Gökotta Förlåt Hösten Vår Midsommar".split(),
    "tr": "Aşk Gönül Güzel Şarkı Yağmur Gözlerin Dönence Çiçek Sevgilim Işık".split(),
    "ja": "夜に駆ける 桜 夢 東京 恋 さくら ありがとう 青い空 花火 紅蓮華 春 星 君の名は 雨 約束 "
    "ラブソング アイドル ドライフラワー 群青 白日".split(),
    "ko": "사랑 봄날 밤 너의 의미 꿈 좋은 날 별 하늘 눈물 안녕 다이너마이트 첫눈".split(),
    "zh": "月亮 爱情 晴天 稻香 夜曲 小幸运 告白气球 光年之外 後來 朋友 青花瓷".split(),
    "ru": "Любовь Ночь Звезда Кино Весна Город Зима Мечта Море Песня Кукушка Лето".split(),
    "ar": "حبيبي ليل قلبي سلام أحبك نور بحر دل عشق يا_ليل".replace("_", " ").split(),
    "el": "Αγάπη Νύχτα Θάλασσα Καρδιά Όνειρο Ήλιος".split(),
    "hi": "दिल प्यार सपना चाँद रात ज़िंदगी".split(),
}
_GIVEN = {
    "en": "James Mary John Olivia Liam Emma Noah Ava Ethan Mia Lucas Chloe Harry Grace Jack "
    "Lily Taylor Billie Ariana Kendrick Dua Ed Bruno Lana Ingrid Zayn Sam Alex Jordan "
    "Morgan Casey Riley".split(),
    "es": "José María Sofía Martín Lucía Andrés Jesús Ángel Inés Raúl".split(),
    "pt": "João Gonçalo Conceição Antônio Fábio Luís Tânia Marília".split(),
    "fr": "François Chloé Zoé Hélène Jérôme Amélie Noël Léa".split(),
    "de": "Jürgen Björn Günter Jörg Anneliese Käthe Sören".split(),
    "sv": "Åsa Björn Märta Örjan Agnetha Benny".split(),
    "tr": "Ayşe Çağla Gülşen İbrahim Şebnem Oğuz".split(),
    "ja": "花子 太郎 結衣 翔太 美咲 大輝 さくら 健".split(),
    "ko": "민준 서연 지우 하준 지민 수아".split(),
    "zh": "伟 芳 娜 秀英 敏 静 杰".split(),
    "ru": "Александр Мария Дмитрий Анна Сергей Елена Иван Ольга".split(),
    "ar": "محمد فاطمة أحمد مريم علي ليلى يوسف نور".split(),
    "el": "Γιώργος Μαρία Νίκος Ελένη Δημήτρης".split(),
    "hi": "राहुल प्रिया अमित सुनीता अर्जुन".split(),
}
_FAMILY = {
    "en": "Smith Johnson Brown Taylor Miller Wilson Moore Clark Lewis Walker Young King Wright "
    "Hill Green Adams Baker Nelson Carter O'Brien O'Neil McCartney Stone Rivers Michaelson".split(),
    "es": "García Rodríguez Martínez Hernández López Pérez Gómez Muñoz Núñez Ibáñez".split(),
    "pt": "Gonçalves Araújo Simões Magalhães Brandão Conceição".split(),
    "fr": "Lefèvre Dupré Bélanger Moreau Girard Frère Lemaître".split(),
    "de": "Müller Schröder Weiß Groß Köhler Bäcker".split(),
    "sv": "Åkesson Strömberg Söderström Öberg Lindqvist".split(),
    "tr": "Yılmaz Öztürk Şahin Çelik Doğan Aydın".split(),
    "ja": "佐藤 鈴木 高橋 田中 渡辺 伊藤 山本 中村".split(),
    "ko": "김 이 박 최 정 강".split(),
    "zh": "王 李 张 刘 陈 杨 黄".split(),
    "ru": "Иванов Смирнова Кузнецов Попова Соколов Лебедева Новиков".split(),
    "ar": "حسن العلي الحسيني خليل منصور سعيد".split(),
    "el": "Παπαδόπουλος Ιωάννου Νικολάου Γεωργίου".split(),
    "hi": "शर्मा वर्मा गुप्ता सिंह पटेल".split(),
}
# Default script mix of names and titles; some genres lean to one script.
_SCRIPT_P = dict(
    en=0.66,
    es=0.08,
    pt=0.04,
    fr=0.03,
    de=0.03,
    sv=0.02,
    tr=0.01,
    ja=0.04,
    ko=0.03,
    zh=0.02,
    ru=0.02,
    ar=0.01,
    el=0.005,
    hi=0.005,
)
_GENRE_SCRIPT = {
    "anime": "ja",
    "j-dance": "ja",
    "j-idol": "ja",
    "j-pop": "ja",
    "j-rock": "ja",
    "k-pop": "ko",
    "cantopop": "zh",
    "mandopop": "zh",
    "iranian": "ar",
    "indian": "hi",
    "turkish": "tr",
    "swedish": "sv",
    "german": "de",
    "french": "fr",
    "spanish": "es",
    "latin": "es",
    "latino": "es",
    "salsa": "es",
    "reggaeton": "es",
    "tango": "es",
    "brazil": "pt",
    "mpb": "pt",
    "forro": "pt",
    "pagode": "pt",
    "samba": "pt",
    "sertanejo": "pt",
}
_USER_SCRIPT_P = dict(
    en=0.55,
    es=0.10,
    pt=0.06,
    fr=0.04,
    de=0.04,
    sv=0.02,
    tr=0.02,
    ja=0.04,
    ko=0.03,
    zh=0.03,
    ru=0.03,
    ar=0.02,
    el=0.01,
    hi=0.01,
)
_COUNTRIES = ("US GB DE BR MX FR JP KR IN ES IT CA AU SE NL TR RU PL AR CO ID PH SA EG GR NG ZA CN").split()
_COUNTRY_W = np.array([20, 8, 7, 9, 6, 5, 5, 3, 6, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1], float)

# UTC listening curve, relative weight per hour 0..23: low at 3-5h, evening peak.
_HOURLY = np.array(
    [
        3.0,
        2.0,
        1.3,
        0.8,
        0.7,
        1.0,
        2.0,
        3.5,
        4.5,
        4.8,
        5.0,
        5.2,
        5.5,
        5.5,
        5.4,
        5.5,
        5.8,
        6.2,
        6.8,
        7.3,
        7.5,
        7.0,
        5.8,
        4.3,
    ]
)

DAY = 86_400
EDGE = 600  # regular rows live in [00:10, 23:50); the 20 minutes around midnight are boundary rows
WIN_LO, WIN_HI = EDGE, DAY - EDGE
WIN_LEN = WIN_HI - WIN_LO
PART_ROWS = 1_000_000  # target rows per stream part
FLAT_FILE_ROWS = 2_000_000  # target rows per flat streams file
MEAN_STREAMS_PER_ACTIVE_USER = 12
NEW_SESSION_P = 0.2  # probability that a stream (not a user's first of the day) opens a session

# kinds of planted rows
_BAD_STREAM_VARIANTS = (
    "empty_user_id",
    "user_id_u123",
    "user_id_12.5",
    "empty_track_id",
    "time_not-a-time",
    "time_25:61",
    "time_empty",
)
_UNPARSEABLE = {"time_not-a-time", "time_25:61", "time_empty"}
_ISO_VARIANTS = ("T", "T_Z", "frac", "T_frac_Z", "+02:00", "-05:00")
_BAD_SONG_VARIANTS = (
    "empty_track_id",
    "empty_track_genre",
    "duration_zero",
    "duration_negative",
    "duration_text",
    "duration_empty",
)
_BAD_AGE_VARIANTS = ("", "abc", "25.5", "5", "130")

_LS = pa.large_string()


# --------------------------------------------------------------------------- helpers
def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, *key])


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _LS)


def _arr(values) -> pa.Array:
    return pa.array(values, _LS)


def _cat(*parts) -> pa.Array:
    """Element-wise concatenation of large_string arrays and str constants."""
    return pc.binary_join_element_wise(*[_s(p) if isinstance(p, str) else p for p in parts], _s(""))


def _where(mask: np.ndarray, a, b) -> pa.Array:
    a = _s(a) if isinstance(a, str) else a
    b = _s(b) if isinstance(b, str) else b
    return pc.if_else(pa.array(mask), a, b)


def _int_str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, np.int64)), _LS)


def _float_str(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, np.float64)
    s = pc.cast(pc.cast(pa.array(values), pa.string()), _LS)
    plain = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 1e15)
    return _where(plain, _cat(s, ".0"), s) if plain.any() else s


def _round(x: np.ndarray, decimals: int) -> np.ndarray:
    return np.round(x * 10.0**decimals) / 10.0**decimals


def _round_sig(x: np.ndarray, sig: int = 3) -> np.ndarray:
    """Round positive values to `sig` significant digits (exact shortest repr, e.g. 1.01e-06)."""
    x = np.asarray(x, float)
    out = np.zeros_like(x)
    pos = x > 0
    k = sig - 1 - np.floor(np.log10(x[pos])).astype(np.int64)
    k = np.clip(k, -20, 22)
    out[pos] = np.where(
        k >= 0,
        np.round(x[pos] * 10.0 ** np.abs(k)) / 10.0 ** np.abs(k),
        np.round(x[pos] / 10.0 ** np.abs(k)) * 10.0 ** np.abs(k),
    )
    return out


def _csv_field(arr: pa.Array) -> pa.Array:
    """RFC-4180 quoting, only where needed (like pandas): commas, quotes, CR/LF."""
    arr = pc.cast(arr, _LS)
    has_quote = pc.match_substring(arr, '"')
    need = pc.or_(
        pc.or_(has_quote, pc.match_substring(arr, ",")),
        pc.or_(pc.match_substring(arr, "\n"), pc.match_substring(arr, "\r")),
    )
    if not pc.any(need).as_py():
        return arr
    body = pc.if_else(has_quote, pc.replace_substring(arr, '"', '""'), arr)
    return pc.if_else(need, _cat('"', body, '"'), arr)


def _lines_bytes(columns: list[pa.Array], text: set[int]) -> memoryview:
    """Join columns into CSV lines (each ending in \\n) and return the contiguous bytes.

    Only the columns whose index is in `text` can need quoting; the others are numbers.
    """
    cols = [_csv_field(c) if k in text else pc.cast(c, _LS) for k, c in enumerate(columns)]
    lines = pc.binary_join_element_wise(*cols, _s(","))
    lines = _cat(lines, "\n")
    return _string_data(lines)


def _string_data(arr: pa.Array) -> memoryview:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.frombuffer(arr.buffers()[1], np.int64)
    a, b = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    return memoryview(arr.buffers()[2])[a:b]


def _pick(rng: np.random.Generator, pools: dict[str, list[str]], script: np.ndarray) -> pa.Array:
    """One random entry of pools[script] per row (script given as an index into _SCRIPTS)."""
    flat, off, size = [], [], []
    for name in _SCRIPTS:
        pool = pools.get(name) or pools["en"]
        off.append(len(flat))
        size.append(len(pool))
        flat.extend(pool)
    off, size = np.array(off), np.array(size)
    idx = off[script] + (rng.random(len(script)) * size[script]).astype(np.int64)
    return _arr(flat).take(pa.array(idx))


def _script_draw(rng: np.random.Generator, n: int, probs: dict[str, float]) -> np.ndarray:
    p = np.array([probs.get(s, 0.0) for s in _SCRIPTS])
    return rng.choice(len(_SCRIPTS), size=n, p=p / p.sum())


def _names(rng: np.random.Generator, script: np.ndarray) -> pa.Array:
    given, family = _pick(rng, _GIVEN, script), _pick(rng, _FAMILY, script)
    cjk = np.isin(script, [_SCRIPTS.index(s) for s in _CJK])
    return _where(cjk, _cat(family, given), _cat(given, " ", family))


def _random_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 22-char base-62 ids as an 'S22' array."""
    while True:
        ids = np.ascontiguousarray(_B62[rng.integers(0, 62, (n, 22))]).view("S22").ravel()
        if len(np.unique(ids)) == n:
            return ids


# --------------------------------------------------------------------------- catalog
def _make_songs(out: Path, n_tracks: int, dual_fraction: float, seed: int, dirty: bool) -> dict:
    rng = _rng(seed, 1)
    bad_variants = [v for v in _BAD_SONG_VARIANTS for _ in range(2 if n_tracks >= 5000 else 1)]
    n_bad = len(bad_variants) if dirty else 0
    n_valid_rows = n_tracks - n_bad
    if n_valid_rows < 10:
        raise ValueError(f"n_tracks={n_tracks} is too small")
    n_unique = int(round(n_valid_rows / (1.0 + dual_fraction)))
    n_dual = n_valid_rows - n_unique
    n_pseudo = n_unique + n_bad  # bad rows get their own (fresh) ids and fields
    G = len(GENRES)

    ids = _random_ids(rng, n_pseudo)
    genre1 = rng.integers(0, G, n_pseudo)
    dual_idx = np.sort(rng.choice(n_unique, size=n_dual, replace=False))
    genre2 = (genre1[dual_idx] + rng.integers(1, G, n_dual)) % G

    # ---- per-track text
    gscript = np.array([_SCRIPTS.index(_GENRE_SCRIPT.get(g, "en")) for g in GENRES])
    script = _script_draw(rng, n_pseudo, _SCRIPT_P)
    lean = (gscript[genre1] != 0) & (rng.random(n_pseudo) < 0.65)
    script = np.where(lean, gscript[genre1], script)

    # artist pool
    n_art = max(50, n_unique // 4)
    a_script = _script_draw(rng, n_art, _SCRIPT_P)
    person = _names(rng, a_script)
    w1, w2 = _pick(rng, _WORDS, a_script), _pick(rng, _WORDS, a_script)
    en_w = _pick(rng, _WORDS, np.zeros(n_art, np.int64))
    u = rng.random(n_art)
    artist = person
    artist = _where(u < 0.22, _cat("The ", en_w, "s"), artist)
    artist = _where((u >= 0.22) & (u < 0.34), w1, artist)
    artist = _where((u >= 0.34) & (u < 0.38), _cat("DJ ", w1), artist)
    artist = _where((u >= 0.38) & (u < 0.41), _cat("Lil ", en_w), artist)
    artist = _where((u >= 0.41) & (u < 0.46), _cat(w1, " ", w2), artist)
    artist = _where((u >= 0.46) & (u < 0.475), _cat(w1, ", The ", en_w), artist)  # comma
    artist = _where(
        (u >= 0.475) & (u < 0.49), _cat(_pick(rng, _FAMILY, a_script), ", ", _pick(rng, _GIVEN, a_script)), artist
    )
    artist = _where(
        (u >= 0.49) & (u < 0.50),
        _cat(_pick(rng, _GIVEN, a_script), ' "', w1, '" ', _pick(rng, _FAMILY, a_script)),
        artist,
    )
    artist = _where((u >= 0.50) & (u < 0.51), _cat(w1, " & ", w2), artist)
    # skewed productivity: low artist indices have many tracks
    n_art_per = np.select([rng.random(n_pseudo) < p for p in (0.75, 0.92, 0.98)], [1, 2, 3], 4)
    cols = [artist.take(pa.array((n_art * rng.random(n_pseudo) ** 1.6).astype(np.int64))) for _ in range(4)]
    spaced = rng.random(n_pseudo) < 0.01  # "A; B" instead of "A;B" (trimmed by the pipeline)
    sep = _where(spaced, "; ", ";")
    artists = cols[0]
    for k in range(1, 4):
        artists = _where(n_art_per > k, _cat(artists, sep, cols[k]), artists)
    # the classic example, once
    artists = _where(np.arange(n_pseudo) == min(7, n_pseudo - 1), "Ingrid Michaelson;ZAYN", artists)

    nw = rng.choice([1, 2, 3], size=n_pseudo, p=[0.35, 0.45, 0.20])
    t1, t2, t3 = (_pick(rng, _WORDS, script) for _ in range(3))
    base = _where(nw == 1, t1, _where(nw == 2, _cat(t1, " ", t2), _cat(t1, " ", t2, " ", t3)))
    u = rng.random(n_pseudo)
    year = _int_str(rng.integers(1960, 2020, n_pseudo))
    feat = cols[3]
    title = base
    title = _where(u < 0.03, _cat(base, " - Remastered ", year), title)
    title = _where((u >= 0.03) & (u < 0.07), _cat(base, " (feat. ", feat, ")"), title)
    title = _where((u >= 0.07) & (u < 0.09), _cat(base, " - Live"), title)
    title = _where((u >= 0.09) & (u < 0.10), _cat(base, ", Pt. 2"), title)
    title = _where((u >= 0.10) & (u < 0.11), _cat(base, ' (From "', t3, '")'), title)
    title = _where((u >= 0.11) & (u < 0.115), _cat('"', base, '"'), title)
    title = _where((u >= 0.115) & (u < 0.12), _cat(t1, ", ", t2), title)
    u = rng.random(n_pseudo)
    a1, a2 = _pick(rng, _WORDS, script), _pick(rng, _WORDS, script)
    album = _cat(a1, " ", a2)
    album = _where(u < 0.40, base, album)
    album = _where((u >= 0.40) & (u < 0.45), _cat(a1, " (Deluxe Edition)"), album)
    album = _where((u >= 0.45) & (u < 0.47), _cat(a1, ", Vol. 2"), album)
    album = _where((u >= 0.47) & (u < 0.48), _cat(a1, ' "', a2, '"'), album)
    # empty text fields (at least one of each when the catalog is not tiny)
    n_empty = max(1, n_pseudo // 1000)
    e_album = np.zeros(n_pseudo, bool)
    e_album[rng.choice(n_unique, n_empty, replace=False)] = True
    e_title = np.zeros(n_pseudo, bool)
    e_title[rng.choice(n_unique, max(1, n_empty // 2), replace=False)] = True
    e_art = np.zeros(n_pseudo, bool)
    e_art[rng.choice(n_unique, max(1, n_empty // 5), replace=False)] = True
    album = _where(e_album, "", album)
    title = _where(e_title, "", title)
    artists = _where(e_art & (np.arange(n_pseudo) != min(7, n_pseudo - 1)), "", artists)

    popularity = np.where(
        rng.random(n_pseudo) < 0.14, 0, np.clip(np.round(rng.normal(38, 18, n_pseudo)), 1, 100)
    ).astype(np.int64)
    duration = np.clip(np.round(np.exp(rng.normal(math.log(210_000), 0.35, n_pseudo))), 30_000, 1_800_000).astype(
        np.int64
    )
    explicit = rng.random(n_pseudo) < 0.09
    instr = rng.random(n_pseudo)
    feats = {
        "danceability": _round(rng.beta(5, 3.5, n_pseudo), 3),
        "energy": _round(rng.beta(3, 2, n_pseudo), 3),
        "key": rng.integers(0, 12, n_pseudo),
        "loudness": _round(np.clip(rng.normal(-8.3, 5, n_pseudo), -49.5, 4.5), 3),
        "mode": (rng.random(n_pseudo) < 0.64).astype(np.int64),
        "speechiness": _round(np.clip(0.022 + rng.exponential(0.06, n_pseudo), 0, 0.965), 4),
        "acousticness": _round_sig(rng.beta(0.5, 1.2, n_pseudo), 3),
        "instrumentalness": np.where(
            instr < 0.35,
            0.0,
            np.where(
                instr < 0.65, _round_sig(10 ** rng.uniform(-6, -2, n_pseudo), 3), _round(rng.beta(0.6, 1, n_pseudo), 3)
            ),
        ),
        "liveness": _round(0.02 + rng.beta(1.5, 6, n_pseudo) * 0.97, 4),
        "valence": _round(rng.beta(2, 2, n_pseudo), 3),
        "tempo": _round(np.clip(rng.normal(122, 29, n_pseudo), 0, 243), 3),
        "time_signature": rng.choice([4, 3, 5, 1, 0], size=n_pseudo, p=[0.88, 0.08, 0.02, 0.015, 0.005]),
    }

    # ---- rows: grouped by genre, random order inside a genre; bad rows anywhere
    row_track = np.concatenate([np.arange(n_unique), dual_idx])
    row_genre = np.concatenate([genre1[:n_unique], genre2])
    order = np.lexsort((rng.random(n_valid_rows), row_genre))
    row_track, row_genre = row_track[order], row_genre[order]
    if n_bad:
        pos = np.sort(rng.integers(0, n_valid_rows + 1, n_bad))
        row_track = np.insert(row_track, pos, np.arange(n_unique, n_pseudo))
        row_genre = np.insert(row_genre, pos, genre1[n_unique:])
    row_bad = row_track >= n_unique
    bad_kind = np.full(n_tracks, "", object)
    bad_kind[row_bad] = np.array(bad_variants, object)[row_track[row_bad] - n_unique]

    take = pa.array(row_track)
    id_col = _arr(ids.astype(str)).take(take)
    genre_col = _arr(GENRES).take(pa.array(row_genre))
    dur_col = _int_str(duration).take(take)
    for kind, value in (
        ("empty_track_id", None),
        ("empty_track_genre", None),
        ("duration_zero", "0"),
        ("duration_negative", "-215000"),
        ("duration_text", "abc"),
        ("duration_empty", ""),
    ):
        mask = bad_kind == kind
        if not mask.any():
            continue
        if kind == "empty_track_id":
            id_col = _where(mask, "", id_col)
        elif kind == "empty_track_genre":
            genre_col = _where(mask, "", genre_col)
        else:
            dur_col = _where(mask, value, dur_col)
    columns = [
        _int_str(np.arange(n_tracks)),
        id_col,
        artists.take(take),
        album.take(take),
        title.take(take),
        _int_str(popularity).take(take),
        dur_col,
        _where(explicit, "True", "False").take(take),
    ]
    for name in (
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
    ):
        v = feats[name]
        columns.append((_int_str(v) if v.dtype.kind == "i" else _float_str(v)).take(take))
    columns.append(genre_col)
    path = out / "songs.csv"
    with open(path, "wb") as f:
        f.write((SONGS_HEADER + "\n").encode())
        f.write(_lines_bytes(columns, text={1, 2, 3, 4, 6, 20}))

    # track ids of the rejected rows that still carry an id (streams of them are unknown_track)
    rejected_ids = (
        ids[n_unique:][np.array([v != "empty_track_id" for v in bad_variants[:n_bad]], bool)] if n_bad else ids[:0]
    )
    # streams' track popularity: Zipf over tracks ranked by catalog popularity (+ noise)
    rank = np.empty(n_unique, np.int64)
    rank[np.argsort(-(popularity[:n_unique] + rng.normal(0, 8, n_unique)), kind="stable")] = np.arange(n_unique)
    w = 1.0 / (rank + 20.0) ** 1.0
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return {
        "path": path,
        "rows": n_tracks,
        "unique_tracks": n_unique,
        "duplicate_track_rows": n_dual,
        "bad_song": n_bad,
        "bad_song_detail": _count_list(bad_variants[:n_bad]),
        "ids": ids[:n_unique],
        "rejected_ids": rejected_ids,
        "all_ids_sorted": np.sort(ids),
        "track_cdf": cdf,
    }


def _count_list(items) -> dict:
    out: dict = {}
    for it in items:
        out[it] = out.get(it, 0) + 1
    return out


# --------------------------------------------------------------------------- users
USER_CHUNK = 1_000_000  # users.csv is built and written this many rows at a time


def _user_rows(
    rng: np.random.Generator, ids: np.ndarray, t0: int, t1: int, age: np.ndarray | None = None
) -> tuple[list[pa.Array], np.ndarray]:
    """Columns of users.csv for `ids` (and the ages drawn, as ints)."""
    n = len(ids)
    script = _script_draw(rng, n, _USER_SCRIPT_P)
    name = _names(rng, script)
    u = rng.random(n)
    name = _where(u < 0.01, _cat(_pick(rng, _FAMILY, script), ", ", _pick(rng, _GIVEN, script)), name)
    name = _where(
        (u >= 0.01) & (u < 0.013),
        _cat(_pick(rng, _GIVEN, script), ' "', _pick(rng, _WORDS, script), '" ', _pick(rng, _FAMILY, script)),
        name,
    )
    name = _where((u >= 0.013) & (u < 0.014), "", name)
    if age is None:  # mostly 16-70, skewed young; some teens (13-15) and some old
        age = 16 + np.floor(rng.gamma(2.2, 8.0, n))
        v = rng.random(n)
        age = np.where(v < 0.03, rng.integers(13, 16, n), age)
        age = np.where(v > 0.992, rng.integers(70, 100, n), age)
        age = np.where(v > 0.9995, rng.integers(100, 121, n), age)
        age = np.clip(age, 13, 120).astype(np.int64)
    cw = _COUNTRY_W / _COUNTRY_W.sum()
    country = _arr(_COUNTRIES).take(pa.array(rng.choice(len(_COUNTRIES), n, p=cw)))
    created = _ts_strings(rng.integers(t0, t1, n))
    return [_int_str(ids), name, _int_str(age), country, created], age


def _make_users(out: Path, n_users: int, start: dt.date, seed: int, dirty: bool) -> dict:
    n = n_users
    t0 = int(np.datetime64("2015-01-01", "s").astype(np.int64))
    t1 = int(np.datetime64(start - dt.timedelta(days=1), "s").astype(np.int64))
    # planted rows: bad ages, and later rows repeating an earlier user_id (other age)
    prng = _rng(seed, 6)
    bad_detail: dict = {}
    bad_age: dict[int, str] = {}
    dups: list[tuple[int, int]] = []  # (row index the copy goes before, user index)
    if dirty and n >= 20:
        reps = 2 if n >= 1000 else 1
        variants = [v for v in _BAD_AGE_VARIANTS for _ in range(reps)]
        who = prng.choice(n, size=len(variants) + 2, replace=False).tolist()
        bad_age = dict(zip(who[: len(variants)], variants))
        dups = sorted((int(prng.integers(i + 1, n + 1)), i) for i in who[len(variants) :])
        bad_detail = _count_list(f"age_{v!r}" for v in variants)
    path = out / "users.csv"
    with open(path, "wb") as f:
        f.write((USERS_HEADER + "\n").encode())
        for c, a in enumerate(range(0, n, USER_CHUNK)):
            b = min(n, a + USER_CHUNK)
            cols, _ = _user_rows(_rng(seed, 5, c), np.arange(a + 1, b + 1), t0, t1)
            mine = sorted(k for k in bad_age if a <= k < b)
            if mine:
                mask = np.zeros(b - a, bool)
                mask[np.array(mine) - a] = True
                cols[2] = pc.replace_with_mask(cols[2], pa.array(mask), _arr([bad_age[k] for k in mine]))
            ins = [(pos, i) for pos, i in dups if a <= pos < b or (pos == n and b == n)]
            if ins:
                drng = _rng(seed, 6, c)
                ages = np.array([(int(drng.integers(13, 90)) - 13 + 7 * (j + 1)) % 90 + 13 for j in range(len(ins))])
                dcols, _ = _user_rows(drng, np.array([i + 1 for _, i in ins]), t0, t1, ages)
                key = np.concatenate([np.arange(a, b) * 2 + 1, np.array([p for p, _ in ins]) * 2])
                order = pa.array(np.argsort(key, kind="stable"))
                cols = [pa.concat_arrays([x, y]).take(order) for x, y in zip(cols, dcols)]
            f.write(_lines_bytes(cols, text={1, 2, 3}))
    # listening propensity (some users listen much more than others), capped so that even
    # 100M streams/day over 50k users stay placeable
    wrng = _rng(seed, 7)
    weight = np.minimum(np.exp(wrng.normal(0, 0.8, n)), 11.0)
    return {
        "path": path,
        "rows": n + len(dups),
        "bad_user_age": sum(bad_detail.values()),
        "bad_user_age_detail": bad_detail,
        "duplicate_user_id": len(dups),
        "weight": weight,
    }


def _ts_strings(epoch_s: np.ndarray) -> pa.Array:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS' (vectorised, via fixed-width records)."""
    ts = np.asarray(epoch_s, np.int64)
    d = (ts // DAY).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    rec = np.empty(
        len(ts), [("y", "S4"), ("s1", "S1"), ("m", "S2"), ("s2", "S1"), ("d", "S2"), ("sp", "S1"), ("hms", "S8")]
    )
    t2 = np.array([b"%02d" % k for k in range(100)], "S2")
    rec["y"] = np.array([b"%04d" % y for y in range(1970, 2300)], "S4")[year.astype(np.int64)]
    rec["s1"] = rec["s2"] = b"-"
    rec["m"] = t2[month.astype(np.int64) % 12 + 1]
    rec["d"] = t2[(d - month).astype(np.int64) + 1]
    rec["sp"] = b" "
    rec["hms"] = _HMS[ts % DAY]
    arr = pa.array(rec.view("S19"))  # large inputs come back chunked
    return pc.cast(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr, _LS)


def _hms_table() -> np.ndarray:
    sod = np.arange(DAY)
    hms = np.empty((DAY, 8), np.uint8)
    for j, v in enumerate((sod // 3600, (sod // 60) % 60, sod % 60)):
        hms[:, 3 * j] = v // 10 + 48
        hms[:, 3 * j + 1] = v % 10 + 48
    hms[:, 2] = hms[:, 5] = ord(":")
    return hms.view("S8").ravel()


_HMS = _hms_table()


# --------------------------------------------------------------------------- streams
class _Formatter:
    """Vectorised formatting of 'user_id,track_id,YYYY-MM-DD HH:MM:SS\\n' lines."""

    def __init__(self, track_ids: np.ndarray, first_date: np.datetime64, n_dates: int, max_user: int):
        self.tracks = track_ids  # S22
        self.wu = len(str(max_user))
        self.dates = np.array([str(first_date + np.timedelta64(k, "D")) for k in range(n_dates)], "S10")
        self.hms = _HMS
        # the user id is written zero-padded in groups of 4 digits (lookup tables); the
        # leading zeros are skipped when the lines are compacted
        ng = -(-self.wu // 4)
        self.groups = [self.wu - 4 * (ng - 1)] + [4] * (ng - 1)
        self.tables = {w: np.array([b"%0*d" % (w, k) for k in range(10**w)], f"S{w}") for w in set(self.groups)}
        self.dtype = np.dtype(
            [(f"u{g}", f"S{w}") for g, w in enumerate(self.groups)]
            + [("c1", "S1"), ("tr", "S22"), ("c2", "S1"), ("d", "S10"), ("sp", "S1"), ("hms", "S8"), ("nl", "S1")]
        )
        self.pow10 = 10 ** np.arange(1, self.wu + 1, dtype=np.int64)
        self._rec = self._views = None

    def format(
        self, user: np.ndarray, track: np.ndarray, date_idx: np.ndarray, sod: np.ndarray
    ) -> tuple[memoryview, np.ndarray]:
        n = len(user)
        wu, W = self.wu, self.dtype.itemsize
        if self._rec is None or len(self._rec) < n:  # reused: no page faults per part
            self._rec = np.empty(max(n, 1), self.dtype)
            self._views = np.empty((max(n, 1), 4), np.int32)
        rec = self._rec[:n]
        raw = rec.view(np.uint8).reshape(n, W)
        u = user.astype(np.int64)
        for g in range(len(self.groups) - 1, -1, -1):
            w = self.groups[g]
            rec[f"u{g}"] = self.tables[w][u % 10**w]
            u //= 10**w
        rec["c1"] = b","
        rec["tr"] = self.tracks[track]
        rec["c2"] = b","
        rec["d"] = self.dates[date_idx]
        rec["sp"] = b" "
        rec["hms"] = self.hms[sod]
        rec["nl"] = b"\n"
        pad = wu - 1 - np.searchsorted(self.pow10, user, side="right")  # leading zeros to skip
        lens = W - pad
        try:
            return self._compact_views(raw, pad, lens, self._views[:n])
        except (pa.ArrowException, ValueError, TypeError, AttributeError):  # pragma: no cover
            keep = np.arange(W)[None, :] >= pad[:, None]
            data = raw[keep].copy()
            off = np.concatenate([[0], np.cumsum(lens)])
            return memoryview(data), off

    @staticmethod
    def _compact_views(raw: np.ndarray, pad: np.ndarray, lens: np.ndarray, views: np.ndarray):
        """Drop each line's leading padding with an Arrow binary_view array (fast C++ copy)."""
        n, W = raw.shape
        flat = raw.reshape(-1)
        views[:, 0] = lens
        for p in np.flatnonzero(np.bincount(pad)).tolist():  # first 4 bytes (view prefix)
            rows = np.flatnonzero(pad == p)
            views[rows, 1] = np.ascontiguousarray(raw[rows, p : p + 4]).view(np.int32)[:, 0]
        views[:, 2] = 0
        views[:, 3] = np.arange(n, dtype=np.int32) * np.int32(W) + pad
        arr = pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(flat)])
        out = pc.cast(arr, pa.large_binary())
        off = np.frombuffer(out.buffers()[1], np.int64)[: n + 1]
        return memoryview(out.buffers()[2])[: int(off[-1])], off


def _format_time(epoch_s: int, variant: str = "plain", frac: int = 0) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(epoch_s))
    if variant == "plain":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if variant == "T":
        return t.strftime("%Y-%m-%dT%H:%M:%S")
    if variant == "T_Z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if variant == "frac":
        return t.strftime("%Y-%m-%d %H:%M:%S") + f".{frac % 1000:03d}"
    if variant == "T_frac_Z":
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:06d}Z"
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", variant)
    if m:  # same instant, written in local time with an explicit offset
        sign = 1 if m.group(1) == "+" else -1
        local = t + sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return local.strftime("%Y-%m-%dT%H:%M:%S") + variant
    raise ValueError(variant)


def _iso_ok(variant: str, sod: np.ndarray) -> np.ndarray:
    """Rows whose local date under `variant` stays the UTC date."""
    if variant == "+02:00":
        return sod < DAY - 2 * 3600
    if variant == "-05:00":
        return sod >= 5 * 3600
    if variant == "cross":
        return sod >= DAY - 2 * 3600
    return np.ones(len(sod), bool)


def _place_per_user(user: np.ndarray, t: np.ndarray, lo: int, length: int, only_overflow: bool) -> np.ndarray:
    """Make times strictly increasing per user inside [lo, lo+length).

    `user` must be grouped (contiguous per user) and `t` increasing inside each group.
    Affected users' times are squeezed by x -> floor(x*(L-n)/X) + rank, which keeps order
    and makes every second distinct (needs n <= L).
    """
    n = len(user)
    if n == 0:
        return t
    first = np.flatnonzero(np.concatenate([[True], user[1:] != user[:-1]]))
    cnt = np.diff(np.append(first, n))
    if cnt.max() > length:
        raise ValueError(
            f"a user would need {cnt.max()} streams in a {length}-second window; "
            "increase the number of users (--users) or lower --streams-per-day"
        )
    last = t[first + cnt - 1]
    fix = (last >= lo + length) if only_overflow else np.ones(len(first), bool)
    if not fix.any():
        return t
    g = np.repeat(np.arange(len(first)), cnt)
    rows = fix[g]
    rank = np.arange(n) - np.repeat(first, cnt)
    x = t[rows] - lo
    X = np.repeat(last - lo + 1, cnt)[rows] if only_overflow else np.full(rows.sum(), length)
    c = np.repeat(cnt, cnt)[rows]
    t = t.copy()
    t[rows] = lo + (x * (length - c)) // X + rank[rows]
    return t


class _Streams:
    def __init__(
        self,
        *,
        out: Path,
        layout: str,
        start: dt.date,
        days: int,
        n_per_day: int,
        n_users: int,
        seed: int,
        dirty: bool,
        songs: dict,
        users: dict,
    ):
        self.out, self.layout, self.days, self.N = out, layout, days, n_per_day
        self.n_users, self.seed, self.dirty = n_users, seed, dirty
        self.start = np.datetime64(start, "D")
        self.epoch0 = int(self.start.astype("datetime64[s]").astype(np.int64))
        self.ids, self.track_cdf = songs["ids"], songs["track_cdf"]
        self.track_p = np.diff(self.track_cdf, prepend=0.0)
        self.all_ids_sorted, self.rejected_ids = songs["all_ids_sorted"], songs["rejected_ids"]
        self.weight = users["weight"]
        self.user_cdf = np.cumsum(self.weight)
        self.user_cdf /= self.user_cdf[-1]
        self.P = max(2, math.ceil(n_per_day / PART_ROWS))
        if n_users < self.P:
            raise ValueError(f"need at least {self.P} users for {self.P} parts per day")
        # the daily curve, per minute
        minutes = (np.arange(1440) + 0.5) / 60.0
        dens = np.interp(minutes, np.arange(24) + 0.5, _HOURLY, period=24)
        total = dens.sum()
        self.mass_before = dens[1430:].sum() / total  # 23:50-24:00
        self.mass_after = dens[:10].sum() / total  # 00:00-00:10
        reg = np.cumsum(dens[10:1430])
        self.minute_cdf = reg / reg[-1]
        self.k_before = int(round(n_per_day * self.mass_before))
        self.k_after = int(round(n_per_day * self.mass_after))
        self.m = max(1, int(round((n_per_day / 30_000) ** 0.25))) if dirty else 0
        self.n_inserted = (len(_BAD_STREAM_VARIANTS) + 4 + 4 + 4) * self.m
        self.n_regular = n_per_day - self.k_before - self.k_after - self.n_inserted
        if self.n_regular < 20 * self.P:
            raise ValueError(
                f"streams_per_day={n_per_day} is too small (need >= {n_per_day - self.n_regular + 20 * self.P})"
            )
        self.active_p = min(1.0, n_per_day / (MEAN_STREAMS_PER_ACTIVE_USER * n_users))
        self.mean_w = float(self.weight.mean())
        self.unknown_user_base = n_users + 1
        max_user = n_users + days * 4 * max(self.m, 1) + 1
        self.fmt = _Formatter(self.ids, self.start - np.timedelta64(1, "D"), days + 2, max_user)
        self._bcache: dict = {}
        self.n_flat = max(3, math.ceil(days * n_per_day / FLAT_FILE_ROWS))
        # outputs
        self.files: list[Path] = []
        self.file_rows: dict[str, int] = {}
        self.rows_total = 0
        self.date_rows: dict[str, int] = {}  # rows by listen date (parseable times)
        self.unparseable: dict[str, int] = {}  # by the date whose quota they belong to
        self.kinds: dict[str, dict[str, int]] = {}  # date -> kind -> count
        self.detail: dict[str, int] = {}

    def _tracks(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n tracks drawn from the Zipf-like popularity (multinomial + shuffle: fast)."""
        counts = rng.multinomial(n, self.track_p)
        out = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        rng.shuffle(out)
        return out

    # -- bookkeeping
    def _date_str(self, i: int) -> str:
        return str(self.start + np.timedelta64(i, "D"))

    def _count(self, date: str, kind: str, variant: str | None = None, n: int = 1) -> None:
        d = self.kinds.setdefault(date, {})
        d[kind] = d.get(kind, 0) + n
        if variant:
            key = f"{kind}:{variant}"
            self.detail[key] = self.detail.get(key, 0) + n

    # -- boundary rows (the 20 minutes around midnight j, between day j-1 and day j)
    def _boundary(self, j: int) -> dict:
        if j in self._bcache:
            return self._bcache[j]
        rng = _rng(self.seed, 3, j)
        B = self.epoch0 + j * DAY
        parts = []
        for listen_day, lo, k in ((j - 1, B - EDGE, self.k_before), (j, B, self.k_after)):
            if k == 0:
                continue
            u = np.searchsorted(self.user_cdf, rng.random(k), side="right") + 1
            t = rng.integers(lo, lo + EDGE, k)
            o = np.lexsort((t, u))
            u, t = u[o], t[o]
            t = _place_per_user(u, t, lo, EDGE, only_overflow=False)
            tr = self._tracks(rng, k)
            folder = (t + rng.integers(-300, 601, k) - self.epoch0) // DAY
            listen_in = 0 <= listen_day < self.days
            keep = listen_in | ((folder >= 0) & (folder < self.days))
            parts.append(dict(u=u[keep], tr=tr[keep], t=t[keep], folder=np.clip(folder[keep], 0, self.days - 1)))
        res = {k: np.concatenate([p[k] for p in parts]) for k in ("u", "tr", "t", "folder")}
        res["part"] = (res["u"] - 1) % self.P
        self._bcache = {k: v for k, v in self._bcache.items() if k >= j - 1}
        self._bcache[j] = res
        return res

    # -- regular rows of (day i, part p)
    def _regular(self, rng: np.random.Generator, i: int, p: int, n_p: int):
        users = np.arange(p + 1, self.n_users + 1, self.P)
        w = self.weight[users - 1]
        active = rng.random(len(users)) < np.minimum(1.0, self.active_p * w / self.mean_w)
        if not active.any():
            active[np.argmax(w)] = True
        users, w = users[active], w[active]
        counts = rng.multinomial(n_p, w / w.sum())
        keep = counts > 0
        users, counts = users[keep], counts[keep]
        K = len(users)
        uk = np.repeat(np.arange(K), counts)
        ufirst = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(n_p) - ufirst[uk]
        new = rng.random(n_p) < NEW_SESSION_P
        new[rank == 0] = True
        sess = np.cumsum(new) - 1
        sfirst = np.flatnonzero(new)
        S = len(sfirst)
        suk = uk[sfirst]
        # session starts follow the daily curve; sorted per user
        minute = np.searchsorted(self.minute_cdf, rng.random(S), side="right") + 10
        sod = minute * 60 + rng.integers(0, 60, S)
        sod = np.sort(suk * DAY + sod) - suk * DAY
        # within a session: a song's length apart, sometimes a skip
        sp = np.clip(np.round(np.exp(rng.normal(math.log(200), 0.3, n_p))), 40, 900)
        sp = np.where(rng.random(n_p) < 0.12, rng.integers(15, 40, n_p), sp).astype(np.int64)
        sp[new] = 0
        cs = np.cumsum(sp)
        offset = cs - cs[sfirst][sess]
        slast = np.append(sfirst[1:], n_p) - 1
        dur = offset[slast]
        # sessions of a user never overlap and are > 30 min apart
        block = dur + 1860 + rng.integers(0, 1800, S)
        excl = np.cumsum(block) - block
        ufs = np.searchsorted(suk, np.arange(K))
        c = excl - excl[ufs][suk]
        BIG = np.int64(1) << 36
        start = c + (np.maximum.accumulate(sod - c + suk * BIG) - suk * BIG)
        tsod = start[sess] + offset
        tsod = _place_per_user(uk, tsod, WIN_LO, WIN_LEN, only_overflow=True)
        track = self._tracks(rng, n_p)
        return users[uk], track, self.epoch0 + i * DAY + tsod

    # -- the day's plan of planted rows
    def _plan(self, i: int) -> dict:
        rng = _rng(self.seed, 2, i)
        date = self._date_str(i)
        D0 = self.epoch0 + i * DAY
        P, m = self.P, self.m
        inserts = []  # dicts: part, kind, variant, text, t (None: anywhere)
        if not self.dirty:
            return {"inserts": [[] for _ in range(P)], "iso": [[] for _ in range(P)], "dups": []}

        def tid(k):
            return self.ids[k].decode()

        n_bad = len(_BAD_STREAM_VARIANTS) * m
        bad_tracks = rng.choice(len(self.ids), size=min(len(self.ids), n_bad + 4 * m), replace=False)
        bt = iter(bad_tracks.tolist())
        for variant in [v for v in _BAD_STREAM_VARIANTS for _ in range(m)]:
            user = int(rng.integers(1, self.n_users + 1))
            t = int(rng.integers(D0 + WIN_LO, D0 + WIN_HI))
            track = tid(next(bt, 0))
            ts = _format_time(t)
            if variant == "empty_user_id":
                text = f",{track},{ts}"
            elif variant == "user_id_u123":
                text = f"u{user},{track},{ts}"
            elif variant == "user_id_12.5":
                text = f"{user}.5,{track},{ts}"
            elif variant == "empty_track_id":
                text = f"{user},,{ts}"
            elif variant == "time_not-a-time":
                text, t = f"{user},{track},not-a-time", None
            elif variant == "time_25:61":
                text, t = f"{user},{track},{date} 25:61:00", None
            else:
                text, t = f"{user},{track},", None
            inserts.append(dict(kind="bad_stream", variant=variant, text=text, t=t))
        # unknown tracks: fresh ids, plus one id that only exists on a rejected songs.csv row
        fresh = _random_ids(rng, 4 * m + 8)
        pos = np.minimum(np.searchsorted(self.all_ids_sorted, fresh), len(self.all_ids_sorted) - 1)
        fresh = fresh[self.all_ids_sorted[pos] != fresh][: 4 * m]
        unk = [x.decode() for x in fresh]
        if len(self.rejected_ids):
            unk[0] = self.rejected_ids[i % len(self.rejected_ids)].decode()
        for j, track in enumerate(unk):
            user = int(rng.integers(1, self.n_users + 1))
            t = int(rng.integers(D0 + WIN_LO, D0 + WIN_HI))
            variant = "rejected_song" if (j == 0 and len(self.rejected_ids)) else "not_in_catalog"
            inserts.append(dict(kind="unknown_track", variant=variant, text=f"{user},{track},{_format_time(t)}", t=t))
        # users missing from users.csv (valid streams, age unknown)
        for j in range(4 * m):
            user = self.unknown_user_base + i * 4 * m + j
            t = int(rng.integers(D0 + WIN_LO, D0 + WIN_HI))
            track = tid(int(np.searchsorted(self.track_cdf, rng.random(), side="right")))
            inserts.append(dict(kind="unknown_user", variant=None, text=f"{user},{track},{_format_time(t)}", t=t))
        parts = rng.integers(0, P, len(inserts))
        by_part = [[] for _ in range(P)]
        for ins, q in zip(inserts, parts.tolist()):
            by_part[q].append(ins)
        iso = [[] for _ in range(P)]
        for variant in [v for v in _ISO_VARIANTS for _ in range(m)] + ["cross"]:
            iso[int(rng.integers(0, P))].append(variant)
        # exact duplicates: copy from part `src` into part `dst` >= src
        dups = []
        for j in range(4 * m):
            src = int(rng.integers(0, P))
            dst = int(rng.integers(src, P))
            if j == 0:
                src, dst = 0, 1  # at least one duplicate across files
            dups.append((src, dst))
        return {"inserts": by_part, "iso": iso, "dups": dups}

    def run(self) -> None:
        sdir = self.out / "streams"
        sdir.mkdir(parents=True, exist_ok=True)
        self.pending: dict[int, list] = {}
        chunk = 0
        for i in range(self.days):
            date = self._date_str(i)
            plan = self._plan(i)
            self.pending = {}
            n_parts = [self.n_regular // self.P + (1 if p < self.n_regular % self.P else 0) for p in range(self.P)]
            bnd = [self._boundary(i), self._boundary(i + 1)]
            for p in range(self.P):
                if self.layout == "by-date":
                    path = sdir / date / f"part-{p:03d}.csv"
                else:
                    path = sdir / f"streams{chunk % self.n_flat + 1}.csv"
                chunk += 1
                self._part(i, p, n_parts[p], plan, bnd, path)
            # all dates in range get a boundary row count; count rows by date below

    def _part(self, i, p, n_p, plan, bnd, path: Path) -> None:
        rng = _rng(self.seed, 4, i, p)
        date = self._date_str(i)
        u, tr, t = self._regular(rng, i, p, n_p)
        regular = np.ones(len(u), bool)
        for b in bnd:
            sel = (b["folder"] == i) & (b["part"] == p)
            u = np.concatenate([u, b["u"][sel]])
            tr = np.concatenate([tr, b["tr"][sel]])
            t = np.concatenate([t, b["t"][sel]])
            regular = np.concatenate([regular, np.zeros(sel.sum(), bool)])
        o = np.argsort(t, kind="stable")
        u, tr, t, regular = u[o], tr[o], t[o], regular[o]
        rel = t - (self.epoch0 - DAY)
        data, off = self.fmt.format(u, tr, rel // DAY, rel % DAY)
        n = len(u)
        # bookkeeping by listen date
        d_idx, d_cnt = np.unique(rel // DAY, return_counts=True)
        for d, c in zip(d_idx.tolist(), d_cnt.tolist()):
            ds = self._date_str(d - 1)
            self.date_rows[ds] = self.date_rows.get(ds, 0) + c
        ops = []  # (position, order, text) order 0 insert before row, 1 replace row

        def line(k: int) -> str:
            return bytes(data[int(off[k]) : int(off[k + 1])]).decode()

        used = np.zeros(n, bool)
        sod = t % DAY

        def pick(ok: np.ndarray) -> int | None:
            for _ in range(64):
                k = int(rng.integers(0, n))
                if regular[k] and ok[k] and not used[k]:
                    used[k] = True
                    return k
            cand = np.flatnonzero(regular & ok & ~used)
            if len(cand) == 0:
                return None
            k = int(cand[rng.integers(0, len(cand))])
            used[k] = True
            return k

        seq = 0
        for variant in plan["iso"][p]:
            k = pick(_iso_ok(variant, sod) if variant in ("+02:00", "-05:00", "cross") else np.ones(n, bool))
            if k is None:
                continue
            fmt_variant = "+02:00" if variant == "cross" else variant
            ts = _format_time(int(t[k]), fmt_variant, int(rng.integers(0, 1_000_000)))
            ops.append((k, 1, seq, f"{u[k]},{self.ids[tr[k]].decode()},{ts}\n"))
            seq += 1
            if variant == "cross":
                self._count(date, "iso_time", "iso_cross_midnight")
            else:
                self._count(date, "iso_time", variant)
        for src, dst in plan["dups"]:
            if src != p:
                continue
            k = pick(np.ones(n, bool))
            if k is None:
                continue
            self.pending.setdefault(dst, []).append((int(t[k]), line(k)))
            self._count(date, "duplicate_stream")
        for tt, text in self.pending.pop(p, []):
            ops.append((int(np.searchsorted(t, tt, side="right")), 0, seq, text))
            seq += 1
            self.date_rows[date] = self.date_rows.get(date, 0) + 1
        for ins in plan["inserts"][p]:
            if ins["t"] is None:
                pos = int(rng.integers(0, n + 1))
                self.unparseable[date] = self.unparseable.get(date, 0) + 1
            else:
                pos = int(np.searchsorted(t, ins["t"], side="right"))
                self.date_rows[date] = self.date_rows.get(date, 0) + 1
            ops.append((pos, 0, seq, ins["text"] + "\n"))
            seq += 1
            self._count(date, ins["kind"], ins["variant"])
        ops.sort()
        path.parent.mkdir(parents=True, exist_ok=True)
        new = path not in self.file_rows
        with open(path, "wb" if new else "ab") as f:
            if new:
                f.write((STREAM_HEADER + "\n").encode())
                self.files.append(path)
            cur = 0
            for pos, kind, _, text in ops:
                if pos > cur:
                    f.write(data[int(off[cur]) : int(off[pos])])
                f.write(text.encode())
                cur = pos + 1 if kind == 1 else pos
            if cur < n:
                f.write(data[int(off[cur]) : int(off[n])])
        added = n + sum(1 for op in ops if op[1] == 0)
        self.file_rows[path] = self.file_rows.get(path, 0) + added
        self.rows_total += added


def _clean_streams_dir(sdir: Path) -> None:
    """Remove stream files of a previous run; refuse to touch anything else."""
    if not sdir.exists():
        return
    pat_flat = re.compile(r"streams\d+\.csv")
    pat_date = re.compile(r"\d{4}-\d{2}-\d{2}/part-\d{3,}\.csv")
    files, dirs = [], []
    for q in sorted(sdir.rglob("*")):
        rel = q.relative_to(sdir).as_posix()
        if q.is_dir():
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", rel):
                raise FileExistsError(f"{q}: not written by the generator; refusing to overwrite")
            dirs.append(q)
        elif pat_flat.fullmatch(rel) or pat_date.fullmatch(rel):
            files.append(q)
        else:
            raise FileExistsError(f"{q}: not written by the generator; refusing to overwrite")
    for q in files:
        q.unlink()
    for q in sorted(dirs, reverse=True):
        q.rmdir()


# --------------------------------------------------------------------------- API
def generate(
    out_dir,
    *,
    start_date="2024-06-24",
    days=7,
    streams_per_day=30_000,
    n_users=50_000,
    n_tracks=114_000,
    dual_genre_fraction=0.2,
    seed=20240624,
    dirty=True,
    layout="by-date",
) -> dict:
    """Write ``songs.csv``, ``users.csv`` and ``streams/`` into `out_dir`; return a summary.

    Every date of ``[start_date, start_date + days)`` gets exactly `streams_per_day` stream
    rows, **dirty rows included** (see the module docstring for the exact accounting);
    ``songs.csv`` has exactly `n_tracks` rows (duplicated-genre and bad rows included);
    ``users.csv`` has `n_users` users plus the planted rows repeating a user_id.

    The summary holds ``files`` (paths), ``rows`` (data rows per file kind),
    ``stream_files`` (rows per stream file), ``dirty`` (planted rows per kind),
    ``dirty_detail`` (per kind:variant), ``dates`` (per date of the range: ``rows``,
    ``rows_with_listen_time_on_date``, ``unparseable_time`` and the per-kind counts of
    the rows planted with that date, plus ``expected_valid_streams``) and
    ``other_date_rows`` (rows of dates outside the range, by date).
    """
    out = Path(out_dir)
    start = dt.date.fromisoformat(str(start_date))
    days, streams_per_day = int(days), int(streams_per_day)
    n_users, n_tracks, seed = int(n_users), int(n_tracks), int(seed)
    if layout not in ("by-date", "flat"):
        raise ValueError("layout must be 'by-date' or 'flat'")
    if days < 1 or n_users < 2 or not 0 <= dual_genre_fraction <= 1:
        raise ValueError("days >= 1, n_users >= 2 and 0 <= dual_genre_fraction <= 1 required")
    out.mkdir(parents=True, exist_ok=True)
    _clean_streams_dir(out / "streams")
    songs = _make_songs(out, n_tracks, float(dual_genre_fraction), seed, bool(dirty))
    users = _make_users(out, n_users, start, seed, bool(dirty))
    st = _Streams(
        out=out,
        layout=layout,
        start=start,
        days=days,
        n_per_day=streams_per_day,
        n_users=n_users,
        seed=seed,
        dirty=bool(dirty),
        songs=songs,
        users=users,
    )
    st.run()

    in_range = [st._date_str(i) for i in range(days)]
    dates = {}
    for d in in_range:
        kinds = st.kinds.get(d, {})
        rejected = kinds.get("bad_stream", 0) + kinds.get("duplicate_stream", 0) + kinds.get("unknown_track", 0)
        dated = st.date_rows.get(d, 0)
        unparse = st.unparseable.get(d, 0)
        dates[d] = {
            "rows": dated + unparse,
            "rows_with_listen_time_on_date": dated,
            "unparseable_time": unparse,
            **dict(sorted(kinds.items())),
            "expected_valid_streams": dated + unparse - rejected,
        }
    other = {d: c for d, c in sorted(st.date_rows.items()) if d not in in_range}
    dirty_tot: dict = {
        "bad_song": songs["bad_song"],
        "bad_user_age": users["bad_user_age"],
        "duplicate_user_id": users["duplicate_user_id"],
    }
    for kinds in st.kinds.values():
        for k, v in kinds.items():
            dirty_tot[k] = dirty_tot.get(k, 0) + v
    for k in ("bad_stream", "duplicate_stream", "unknown_track", "unknown_user", "iso_time"):
        dirty_tot.setdefault(k, 0)
    detail = {
        **{f"bad_song:{k}": v for k, v in songs["bad_song_detail"].items()},
        **{f"bad_user_age:{k}": v for k, v in users["bad_user_age_detail"].items()},
        **dict(sorted(st.detail.items())),
    }
    return {
        "out_dir": str(out),
        "layout": layout,
        "start_date": start.isoformat(),
        "days": days,
        "streams_per_day": streams_per_day,
        "seed": seed,
        "files": {"songs": str(songs["path"]), "users": str(users["path"]), "streams": [str(q) for q in st.files]},
        "rows": {"songs": songs["rows"], "users": users["rows"], "streams": st.rows_total},
        "stream_files": {str(q): c for q, c in st.file_rows.items()},
        "catalog": {
            "unique_tracks": songs["unique_tracks"],
            "duplicate_track_rows": songs["duplicate_track_rows"],
            "genres": len(GENRES),
        },
        "dirty": dirty_tot,
        "dirty_detail": detail,
        "dates": dates,
        "other_date_rows": other,
    }


# --------------------------------------------------------------------------- CLI
def _count_arg(text: str) -> int:
    try:
        v = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v.is_integer() or v < 0:
        raise argparse.ArgumentTypeError(f"not a whole non-negative number: {text!r}")
    return int(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m streamkpi.sample_data", description="Generate the deterministic sample input data."
    )
    ap.add_argument("--out", required=True, help="output folder (input root)")
    ap.add_argument("--start-date", default="2024-06-24")
    ap.add_argument("--days", type=_count_arg, default=7)
    ap.add_argument("--streams-per-day", type=_count_arg, default=30_000)
    ap.add_argument("--users", type=_count_arg, default=50_000)
    ap.add_argument("--tracks", type=_count_arg, default=114_000)
    ap.add_argument("--dual-genre-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=_count_arg, default=20240624)
    ap.add_argument("--no-dirty", action="store_true", help="plant no dirty rows")
    ap.add_argument("--layout", choices=("by-date", "flat"), default="by-date")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        s = generate(
            a.out,
            start_date=a.start_date,
            days=a.days,
            streams_per_day=a.streams_per_day,
            n_users=a.users,
            n_tracks=a.tracks,
            dual_genre_fraction=a.dual_genre_fraction,
            seed=a.seed,
            dirty=not a.no_dirty,
            layout=a.layout,
        )
    except (ValueError, FileExistsError) as e:
        print(f"sample_data: error: {e}", file=sys.stderr)
        return 2
    dirty = " ".join(f"{k}={v}" for k, v in s["dirty"].items())
    print(
        f"sample_data: wrote {s['out_dir']} ({s['layout']}): songs.csv {s['rows']['songs']} rows, "
        f"users.csv {s['rows']['users']} rows, {len(s['files']['streams'])} stream files "
        f"{s['rows']['streams']} rows ({s['days']} days x {s['streams_per_day']} + "
        f"{sum(s['other_date_rows'].values())} other-date); dirty: {dirty}; "
        f"{time.perf_counter() - t0:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
