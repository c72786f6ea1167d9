"""``songs.csv`` and ``users.csv`` of the sample input, with the quirks of the real public data.

The catalog repeats a track under a second genre, joins artists with ``;``, quotes commas and
quotes, mixes scripts and leaves some text fields empty, as the public Spotify tracks dataset does;
the planted bad rows are the ones the cleaning rules of ``docs/KPIS.md`` must reject or flag.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.sample_columns import (
    LARGE_STRING,
    LISTENING,
    PLANTED_USERS,
    SONGS,
    USERS,
    by_band,
    choose,
    concat,
    count_items,
    csv_lines,
    datetime_texts,
    int_texts,
    random_stream,
    random_track_ids,
    texts,
)

SONGS_HEADER = (
    "id,track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,"
    "tempo,time_signature,track_genre"
)
USERS_HEADER = "user_id,user_name,user_age,user_country,created_at"

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
# Scripts, in a fixed order. Names are (given, family); CJK names are family+given, no space.
SCRIPTS = ("en", "es", "pt", "fr", "de", "sv", "tr", "ja", "ko", "zh", "ru", "ar", "el", "hi")
CJK_SCRIPTS = {"ja", "ko", "zh"}

WORDS = {
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
GIVEN_NAMES = {
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
FAMILY_NAMES = {
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
# Script mix of artist names and titles (some genres lean to one script) and of user names.
TITLE_SCRIPTS = {"en": 0.66, "es": 0.08, "pt": 0.04, "fr": 0.03, "de": 0.03, "sv": 0.02, "tr": 0.01}
TITLE_SCRIPTS |= {"ja": 0.04, "ko": 0.03, "zh": 0.02, "ru": 0.02, "ar": 0.01, "el": 0.005, "hi": 0.005}
USER_SCRIPTS = {"en": 0.55, "es": 0.10, "pt": 0.06, "fr": 0.04, "de": 0.04, "sv": 0.02, "tr": 0.02}
USER_SCRIPTS |= {"ja": 0.04, "ko": 0.03, "zh": 0.03, "ru": 0.03, "ar": 0.02, "el": 0.01, "hi": 0.01}
GENRE_SCRIPT = {
    genre: script
    for script, genres in {
        "ja": "anime j-dance j-idol j-pop j-rock",
        "ko": "k-pop",
        "zh": "cantopop mandopop",
        "ar": "iranian",
        "hi": "indian",
        "tr": "turkish",
        "sv": "swedish",
        "de": "german",
        "fr": "french",
        "es": "spanish latin latino salsa reggaeton tango",
        "pt": "brazil mpb forro pagode samba sertanejo",
    }.items()
    for genre in genres.split()
}
COUNTRIES = ("US GB DE BR MX FR JP KR IN ES IT CA AU SE NL TR RU PL AR CO ID PH SA EG GR NG ZA CN").split()
COUNTRY_WEIGHTS = np.array([20, 8, 7, 9, 6, 5, 5, 3, 6, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1], float)

# The planted bad rows of songs.csv (twice each in a catalog of 5,000 rows or more).
BAD_DURATIONS = {"duration_zero": "0", "duration_negative": "-215000", "duration_text": "abc", "duration_empty": ""}
BAD_SONG_VARIANTS = ("empty_track_id", "empty_track_genre", *BAD_DURATIONS)
BAD_AGES = ("", "abc", "25.5", "5", "130")
USER_CHUNK_ROWS = 1_000_000  # users.csv is built and written this many rows at a time


# --------------------------------------------------------------------------- text from the pools
def draw_scripts(rng: np.random.Generator, n: int, mix: dict[str, float]) -> np.ndarray:
    """`n` scripts (indices into SCRIPTS) drawn with the probabilities of `mix`."""
    p = np.array([mix.get(s, 0.0) for s in SCRIPTS])
    return rng.choice(len(SCRIPTS), size=n, p=p / p.sum())


def pick(rng: np.random.Generator, pool: dict[str, list[str]], script: np.ndarray) -> pa.Array:
    """One random entry of ``pool[script]`` per row."""
    entries, first, size = [], [], []
    for name in SCRIPTS:
        first.append(len(entries))
        size.append(len(pool[name]))
        entries.extend(pool[name])
    first, size = np.array(first), np.array(size)
    index = first[script] + (rng.random(len(script)) * size[script]).astype(np.int64)
    return texts(entries).take(pa.array(index))


def person_names(rng: np.random.Generator, script: np.ndarray) -> pa.Array:
    """``Given Family``, or ``FamilyGiven`` in the CJK scripts."""
    given, family = pick(rng, GIVEN_NAMES, script), pick(rng, FAMILY_NAMES, script)
    cjk = np.isin(script, [SCRIPTS.index(s) for s in CJK_SCRIPTS])
    return choose(cjk, concat(family, given), concat(given, " ", family))


# --------------------------------------------------------------------------- songs.csv
@dataclass
class Catalog:
    """What the streams draw from ``songs.csv``, and its counts for the summary."""

    path: Path
    rows: int
    unique_tracks: int
    dual_genre_rows: int
    bad_rows: int
    bad_detail: dict
    track_ids: np.ndarray  # S22 ids of the valid tracks
    track_cdf: np.ndarray  # cumulative probability of each of track_ids in a stream
    rejected_ids: np.ndarray  # ids that are in songs.csv only on a rejected row
    all_ids_sorted: np.ndarray  # every id drawn for songs.csv (a made-up unknown id must avoid them)


def round_to(x: np.ndarray, decimals: int) -> np.ndarray:
    return np.round(x * 10.0**decimals) / 10.0**decimals


def round_significant(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """Positive values rounded to `digits` significant digits (so they print short: ``1.01e-06``)."""
    x = np.asarray(x, float)
    out = np.zeros_like(x)
    positive = x > 0
    shift = np.clip(digits - 1 - np.floor(np.log10(x[positive])).astype(np.int64), -20, 22)
    scale = 10.0 ** np.abs(shift)
    out[positive] = np.where(shift >= 0, np.round(x[positive] * scale) / scale, np.round(x[positive] / scale) * scale)
    return out


def float_texts(values: np.ndarray) -> pa.Array:
    """Floats as text, whole numbers with a trailing ``.0`` (as pandas writes them)."""
    values = np.asarray(values, np.float64)
    written = pc.cast(pc.cast(pa.array(values), pa.string()), LARGE_STRING)
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 1e15)
    return choose(whole, concat(written, ".0"), written) if whole.any() else written


def _artist_pool(rng: np.random.Generator, n_artists: int) -> pa.Array:
    """Artist names: people, bands, DJs, duos; a few with a comma or quotes."""
    script = draw_scripts(rng, n_artists, TITLE_SCRIPTS)
    person = person_names(rng, script)
    word, other_word = pick(rng, WORDS, script), pick(rng, WORDS, script)
    english = pick(rng, WORDS, np.zeros(n_artists, np.int64))
    u = rng.random(n_artists)
    return by_band(
        u,
        person,
        [
            (0.22, concat("The ", english, "s")),
            (0.34, word),
            (0.38, concat("DJ ", word)),
            (0.41, concat("Lil ", english)),
            (0.46, concat(word, " ", other_word)),
            (0.475, concat(word, ", The ", english)),
            (0.49, concat(pick(rng, FAMILY_NAMES, script), ", ", pick(rng, GIVEN_NAMES, script))),
            (0.50, concat(pick(rng, GIVEN_NAMES, script), ' "', word, '" ', pick(rng, FAMILY_NAMES, script))),
            (0.51, concat(word, " & ", other_word)),
        ],
    )


def _track_names(rng: np.random.Generator, script: np.ndarray, featured: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(track_name, album_name) of each track: one to three words, and the usual decorations."""
    n = len(script)
    n_words = rng.choice([1, 2, 3], size=n, p=[0.35, 0.45, 0.20])
    w1, w2, w3 = (pick(rng, WORDS, script) for _ in range(3))
    base = choose(n_words == 1, w1, choose(n_words == 2, concat(w1, " ", w2), concat(w1, " ", w2, " ", w3)))
    u = rng.random(n)
    year = int_texts(rng.integers(1960, 2020, n))
    title = by_band(
        u,
        base,
        [
            (0.03, concat(base, " - Remastered ", year)),
            (0.07, concat(base, " (feat. ", featured, ")")),
            (0.09, concat(base, " - Live")),
            (0.10, concat(base, ", Pt. 2")),
            (0.11, concat(base, ' (From "', w3, '")')),
            (0.115, concat('"', base, '"')),
            (0.12, concat(w1, ", ", w2)),
        ],
    )
    u = rng.random(n)
    a1, a2 = pick(rng, WORDS, script), pick(rng, WORDS, script)
    album = by_band(
        u,
        concat(a1, " ", a2),
        [
            (0.40, base),
            (0.45, concat(a1, " (Deluxe Edition)")),
            (0.47, concat(a1, ", Vol. 2")),
            (0.48, concat(a1, ' "', a2, '"')),
        ],
    )
    return title, album


def _some_rows(rng: np.random.Generator, n: int, among: int, count: int) -> np.ndarray:
    """A mask of `n` rows with `count` of the first `among` set."""
    mask = np.zeros(n, bool)
    mask[rng.choice(among, count, replace=False)] = True
    return mask


def write_songs(out: Path, n_tracks: int, dual_genre_fraction: float, seed: int, dirty: bool) -> Catalog:
    """Write ``songs.csv``: exactly `n_tracks` rows, second-genre and planted bad rows included."""
    rng = random_stream(seed, SONGS)
    bad_variants = [v for v in BAD_SONG_VARIANTS for _ in range(2 if n_tracks >= 5000 else 1)]
    n_bad = len(bad_variants) if dirty else 0
    bad_variants = bad_variants[:n_bad]
    n_valid = n_tracks - n_bad
    if n_valid < 10:
        raise ValueError(f"n_tracks={n_tracks} is too small")
    n_unique = int(round(n_valid / (1.0 + dual_genre_fraction)))
    n_dual = n_valid - n_unique
    n_drawn = n_unique + n_bad  # tracks 0..n_unique-1 are valid; each bad row gets a track of its own
    n_genres = len(GENRES)

    ids = random_track_ids(rng, n_drawn)
    genre = rng.integers(0, n_genres, n_drawn)
    dual = np.sort(rng.choice(n_unique, size=n_dual, replace=False))
    second_genre = (genre[dual] + rng.integers(1, n_genres, n_dual)) % n_genres

    # ---- text
    genre_script = np.array([SCRIPTS.index(GENRE_SCRIPT.get(g, "en")) for g in GENRES])
    script = draw_scripts(rng, n_drawn, TITLE_SCRIPTS)
    leans = (genre_script[genre] != 0) & (rng.random(n_drawn) < 0.65)
    script = np.where(leans, genre_script[genre], script)
    pool = _artist_pool(rng, max(50, n_unique // 4))
    # one to four artists a track, ';'-joined; low pool indices (prolific artists) come up more
    n_credited = np.select([rng.random(n_drawn) < p for p in (0.75, 0.92, 0.98)], [1, 2, 3], 4)
    credited = [pool.take(pa.array((len(pool) * rng.random(n_drawn) ** 1.6).astype(np.int64))) for _ in range(4)]
    separator = choose(rng.random(n_drawn) < 0.01, "; ", ";")  # "A; B" is trimmed by the pipeline
    artists = credited[0]
    for k in range(1, 4):
        artists = choose(n_credited > k, concat(artists, separator, credited[k]), artists)
    classic = np.arange(n_drawn) == min(7, n_drawn - 1)  # the spec's example, on one row
    artists = choose(classic, "Ingrid Michaelson;ZAYN", artists)
    title, album = _track_names(rng, script, featured=credited[3])
    # empty text fields (at least one of each)
    n_empty = max(1, n_drawn // 1000)
    album = choose(_some_rows(rng, n_drawn, n_unique, n_empty), "", album)
    title = choose(_some_rows(rng, n_drawn, n_unique, max(1, n_empty // 2)), "", title)
    artists = choose(_some_rows(rng, n_drawn, n_unique, max(1, n_empty // 5)) & ~classic, "", artists)

    # ---- numbers
    popularity = np.where(rng.random(n_drawn) < 0.14, 0, np.clip(np.round(rng.normal(38, 18, n_drawn)), 1, 100)).astype(
        np.int64
    )
    duration = np.clip(np.round(np.exp(rng.normal(math.log(210_000), 0.35, n_drawn))), 30_000, 1_800_000).astype(
        np.int64
    )
    explicit = rng.random(n_drawn) < 0.09
    instrumental = rng.random(n_drawn)
    features = {  # in the order of the columns
        "danceability": round_to(rng.beta(5, 3.5, n_drawn), 3),
        "energy": round_to(rng.beta(3, 2, n_drawn), 3),
        "key": rng.integers(0, 12, n_drawn),
        "loudness": round_to(np.clip(rng.normal(-8.3, 5, n_drawn), -49.5, 4.5), 3),
        "mode": (rng.random(n_drawn) < 0.64).astype(np.int64),
        "speechiness": round_to(np.clip(0.022 + rng.exponential(0.06, n_drawn), 0, 0.965), 4),
        "acousticness": round_significant(rng.beta(0.5, 1.2, n_drawn), 3),
        "instrumentalness": np.where(
            instrumental < 0.35,
            0.0,
            np.where(
                instrumental < 0.65,
                round_significant(10 ** rng.uniform(-6, -2, n_drawn), 3),
                round_to(rng.beta(0.6, 1, n_drawn), 3),
            ),
        ),
        "liveness": round_to(0.02 + rng.beta(1.5, 6, n_drawn) * 0.97, 4),
        "valence": round_to(rng.beta(2, 2, n_drawn), 3),
        "tempo": round_to(np.clip(rng.normal(122, 29, n_drawn), 0, 243), 3),
        "time_signature": rng.choice([4, 3, 5, 1, 0], size=n_drawn, p=[0.88, 0.08, 0.02, 0.015, 0.005]),
    }

    # ---- rows: grouped by genre, in random order inside a genre; the bad rows anywhere
    row_track = np.concatenate([np.arange(n_unique), dual])
    row_genre = np.concatenate([genre[:n_unique], second_genre])
    order = np.lexsort((rng.random(n_valid), row_genre))
    row_track, row_genre = row_track[order], row_genre[order]
    if n_bad:
        at = np.sort(rng.integers(0, n_valid + 1, n_bad))
        row_track = np.insert(row_track, at, np.arange(n_unique, n_drawn))
        row_genre = np.insert(row_genre, at, genre[n_unique:])
    row_variant = np.full(n_tracks, "", object)  # the planted bad variant of each row, or ""
    is_bad = row_track >= n_unique
    row_variant[is_bad] = np.array(bad_variants, object)[row_track[is_bad] - n_unique]

    take = pa.array(row_track)
    track_id = choose(row_variant == "empty_track_id", "", texts(ids.astype(str)).take(take))
    track_genre = choose(row_variant == "empty_track_genre", "", texts(GENRES).take(pa.array(row_genre)))
    duration_ms = int_texts(duration).take(take)
    for variant, written in BAD_DURATIONS.items():
        duration_ms = choose(row_variant == variant, written, duration_ms)
    columns = [
        int_texts(np.arange(n_tracks)),
        track_id,
        artists.take(take),
        album.take(take),
        title.take(take),
        int_texts(popularity).take(take),
        duration_ms,
        choose(explicit, "True", "False").take(take),
        *[(int_texts(v) if v.dtype.kind == "i" else float_texts(v)).take(take) for v in features.values()],
        track_genre,
    ]
    header = SONGS_HEADER.split(",")
    quotable = {
        header.index(c) for c in ("track_id", "artists", "album_name", "track_name", "duration_ms", "track_genre")
    }
    path = out / "songs.csv"
    with open(path, "wb") as f:
        f.write((SONGS_HEADER + "\n").encode())
        f.write(csv_lines(columns, quotable))

    # how often a track is streamed: Zipf over the tracks ranked by catalog popularity (plus noise)
    noisy_popularity = popularity[:n_unique] + rng.normal(0, 8, n_unique)
    rank = np.empty(n_unique, np.int64)
    rank[np.argsort(-noisy_popularity, kind="stable")] = np.arange(n_unique)
    cdf = np.cumsum(1.0 / (rank + 20.0))
    cdf /= cdf[-1]
    return Catalog(
        path=path,
        rows=n_tracks,
        unique_tracks=n_unique,
        dual_genre_rows=n_dual,
        bad_rows=n_bad,
        bad_detail=count_items(bad_variants),
        track_ids=ids[:n_unique],
        track_cdf=cdf,
        rejected_ids=ids[n_unique:][np.array([v != "empty_track_id" for v in bad_variants], bool)],
        all_ids_sorted=np.sort(ids),
    )


# --------------------------------------------------------------------------- users.csv
@dataclass
class Users:
    """What the streams draw from ``users.csv``, and its counts for the summary."""

    path: Path
    rows: int
    bad_ages: int
    bad_age_detail: dict
    repeated_ids: int
    weight: np.ndarray  # how much each user listens, by user_id - 1


def _user_columns(
    rng: np.random.Generator, ids: np.ndarray, created_from: int, created_to: int, age: np.ndarray | None = None
) -> list[pa.Array]:
    """The columns of ``users.csv`` for `ids`; the ages are drawn unless given."""
    n = len(ids)
    script = draw_scripts(rng, n, USER_SCRIPTS)
    name = person_names(rng, script)
    u = rng.random(n)
    name = by_band(
        u,
        name,
        [
            (0.01, concat(pick(rng, FAMILY_NAMES, script), ", ", pick(rng, GIVEN_NAMES, script))),
            (
                0.013,
                concat(
                    pick(rng, GIVEN_NAMES, script),
                    ' "',
                    pick(rng, WORDS, script),
                    '" ',
                    pick(rng, FAMILY_NAMES, script),
                ),
            ),
            (0.014, ""),
        ],
    )
    if age is None:  # mostly 16-70, skewed young; some teens (13-15) and some old
        age = 16 + np.floor(rng.gamma(2.2, 8.0, n))
        v = rng.random(n)
        age = np.where(v < 0.03, rng.integers(13, 16, n), age)
        age = np.where(v > 0.992, rng.integers(70, 100, n), age)
        age = np.where(v > 0.9995, rng.integers(100, 121, n), age)
        age = np.clip(age, 13, 120).astype(np.int64)
    country_p = COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()
    country = texts(COUNTRIES).take(pa.array(rng.choice(len(COUNTRIES), n, p=country_p)))
    created = datetime_texts(rng.integers(created_from, created_to, n))
    return [int_texts(ids), name, int_texts(age), country, created]


def write_users(out: Path, n_users: int, start: dt.date, seed: int, dirty: bool) -> Users:
    """Write ``users.csv``: users 1..`n_users` (a few with a bad age), plus rows repeating a user_id."""
    created_from = int(np.datetime64("2015-01-01", "s").astype(np.int64))
    created_to = int(np.datetime64(start - dt.timedelta(days=1), "s").astype(np.int64))
    rng = random_stream(seed, PLANTED_USERS)
    bad_age: dict[int, str] = {}  # user index -> the age written
    repeats: list[tuple[int, int]] = []  # (row index the repeat goes before, user index), sorted
    if dirty and n_users >= 20:
        variants = [v for v in BAD_AGES for _ in range(2 if n_users >= 1000 else 1)]
        chosen = rng.choice(n_users, size=len(variants) + 2, replace=False).tolist()
        bad_age = dict(zip(chosen[: len(variants)], variants))
        repeats = sorted([(int(rng.integers(i + 1, n_users + 1)), i) for i in chosen[len(variants) :]])
    header = USERS_HEADER.split(",")
    quotable = {header.index(c) for c in ("user_name", "user_age", "user_country")}
    path = out / "users.csv"
    with open(path, "wb") as f:
        f.write((USERS_HEADER + "\n").encode())
        for chunk, first in enumerate(range(0, n_users, USER_CHUNK_ROWS)):
            end = min(n_users, first + USER_CHUNK_ROWS)
            ids = np.arange(first + 1, end + 1)
            columns = _user_columns(random_stream(seed, USERS, chunk), ids, created_from, created_to)
            bad_here = sorted(k for k in bad_age if first <= k < end)
            if bad_here:
                mask = np.zeros(end - first, bool)
                mask[np.array(bad_here) - first] = True
                columns[2] = pc.replace_with_mask(columns[2], pa.array(mask), texts([bad_age[k] for k in bad_here]))
            repeats_here = [(at, i) for at, i in repeats if first <= at < end or at == end == n_users]
            if repeats_here:
                rng_repeats = random_stream(seed, PLANTED_USERS, chunk)
                ages = [
                    (int(rng_repeats.integers(13, 90)) - 13 + 7 * (j + 1)) % 90 + 13 for j in range(len(repeats_here))
                ]
                repeated_ids = np.array([i + 1 for _, i in repeats_here])
                repeated = _user_columns(rng_repeats, repeated_ids, created_from, created_to, np.array(ages))
                # row r sorts at 2r + 1, a repeat planted before row r at 2r: just before it
                key = np.concatenate([np.arange(first, end) * 2 + 1, np.array([at for at, _ in repeats_here]) * 2])
                order = pa.array(np.argsort(key, kind="stable"))
                columns = [pa.concat_arrays([c, r]).take(order) for c, r in zip(columns, repeated)]
            f.write(csv_lines(columns, quotable))
    # how much each user listens (some much more than others), capped so that even 100M streams a
    # day over 50k users stay placeable
    weight = np.minimum(np.exp(random_stream(seed, LISTENING).normal(0, 0.8, n_users)), 11.0)
    return Users(
        path=path,
        rows=n_users + len(repeats),
        bad_ages=len(bad_age),
        bad_age_detail=count_items(f"age_{v!r}" for v in bad_age.values()),
        repeated_ids=len(repeats),
        weight=weight,
    )
