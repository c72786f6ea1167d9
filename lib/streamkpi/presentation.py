"""What the report pages say: number formats, formatted tables, plain-language summaries and the
data-quality tables.

The notebooks stay thin: they hand the KPI frames and ingest's counts to these functions and
display what comes back. Everything here reads frames already computed (KPI tables, ingest's
``counts``, the warehouse history of :mod:`streamkpi.breakdowns`); nothing recomputes a KPI.

Formats: whole numbers with thousands separators (``29,985``), shares as percentages
(``4.1%``), durations as ``m:ss`` (``3:07``; ``1:02:03`` from an hour up).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pandas as pd
from IPython.display import HTML, Markdown

if TYPE_CHECKING:
    from .inputs import StreamSelection

Formatter = Callable[[object], str]

# --------------------------------------------------------------------------- number formats


def thousands(value) -> str:
    """``29985`` -> ``29,985``; missing -> ``–``."""
    if _missing(value):
        return "–"
    return f"{round(float(value)):,}"


def percent(value, digits: int = 1) -> str:
    """A share (``0.0412``) as a percentage (``4.1%``); a share too small to show is ``<0.1%``."""
    if _missing(value):
        return "–"
    if 0 < value < 0.5 * 10 ** -(digits + 2):
        return f"<{10**-digits:.{digits}f}%"
    return f"{value:.{digits}%}"


def duration(seconds) -> str:
    """Seconds as ``m:ss`` (``187.4`` -> ``3:07``), or ``h:mm:ss`` from an hour up."""
    if _missing(seconds):
        return "–"
    total = round(float(seconds))
    if total < 0:
        return "-" + duration(-total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def decimal(digits: int) -> Formatter:
    """A formatter with ``digits`` decimals (``decimal(3)(0.98765)`` -> ``0.988``)."""
    return lambda value: "–" if _missing(value) else f"{value:,.{digits}f}"


def hour(value) -> str:
    """An hour of the day as its range, ``14`` -> ``14:00–15:00``."""
    return "–" if _missing(value) else f"{int(value):02d}:00–{(int(value) + 1) % 24:02d}:00"


def long_date(run_date: str | dt.date) -> str:
    """``2024-06-25`` -> ``Tuesday 25 June 2024``."""
    day = run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))
    return f"{day:%A} {day.day} {day:%B %Y}"


def file_size(size) -> str:
    """Bytes in the largest unit that keeps the number at least 1: ``18630437`` -> ``18.6 MB``."""
    if _missing(size):
        return "–"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def day(value) -> str:
    """A date as ``Tue 25 Jun 2024``."""
    return "–" if _missing(value) else f"{pd.Timestamp(value):%a %d %b %Y}"


def text(value) -> str:
    return "–" if _missing(value) else str(value)


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


# --------------------------------------------------------------------------- tables

# Column -> (heading, formatter) of the two KPI tables, in the order a reader wants them.
GENRE_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "track_genre": ("Genre", text),
    "listen_count": ("Listens", thousands),
    "popularity_index": ("Share of the day", percent),
    "average_duration": ("Avg track length", duration),
    "most_popular_track_id": ("Most streamed track", text),
}
HOURLY_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "listen_hour": ("Hour (UTC)", hour),
    "listen_counts": ("Listens", thousands),
    "unique_listeners": ("Unique listeners", thousands),
    "avg_sessions_per_user": ("Sessions per listener", decimal(2)),
    "diversity_index": ("Genre diversity", decimal(3)),
    "top_artist": ("Top artist", text),
    "most_engaged_age_group": ("Most engaged age group", text),
}
_TABLE_STYLES = [
    {"selector": "th", "props": [("text-align", "left"), ("padding", "4px 10px")]},
    {"selector": "td", "props": [("padding", "3px 10px"), ("vertical-align", "top")]},
    {
        "selector": "caption",
        "props": [("caption-side", "top"), ("text-align", "left"), ("font-weight", "600"), ("padding-bottom", "4px")],
    },
]


def formatted_table(
    frame: pd.DataFrame,
    columns: Mapping[str, tuple[str, Formatter]],
    caption: str | None = None,
    wrap: tuple[str, ...] = (),
) -> pd.io.formats.style.Styler:
    """``frame``'s ``columns`` (in that order) with their headings and formats, index hidden,
    numbers right-aligned, a cell's text on one line except in the ``wrap`` columns; displays as an
    HTML table in the notebook and its report."""
    shown = frame[list(columns)].reset_index(drop=True)
    # Escaped: rejected rows are raw input and may hold anything, markup included.
    styler = shown.style.format({c: fmt for c, (_, fmt) in columns.items()}, escape="html")
    styler = styler.relabel_index([heading for heading, _ in columns.values()], axis="columns")
    # Text reads from the left, numbers line up on the right (hours are shown as text: 20:00–21:00).
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) and c != "listen_hour"]
    text_columns = [c for c in shown.columns if c not in numeric]
    one_line = [c for c in shown.columns if c not in wrap]
    # Cell by cell: a cell's own style outranks the page's (JupyterLab right-aligns every cell).
    styler = (
        styler.hide(axis="index")
        .set_properties(subset=numeric, **{"text-align": "right"})
        .set_properties(subset=text_columns, **{"text-align": "left"})
        .set_properties(subset=one_line, **{"white-space": "nowrap"})
    )
    styler = styler.set_table_styles(_TABLE_STYLES)
    return styler.set_caption(caption) if caption else styler


def folded(table: pd.io.formats.style.Styler, label: str) -> HTML:
    """``table`` folded under ``label``: one click shows it (a long table stays out of the way)."""
    return HTML(f"<details><summary>{html.escape(label)}</summary>\n{table.to_html()}\n</details>")


def genre_table(genre_kpis: pd.DataFrame, top: int | None = None) -> pd.io.formats.style.Styler:
    """The genre KPIs, most listened first (ties by name); only the first ``top`` when given."""
    ordered = _genres_by_listens(genre_kpis)
    caption = None
    if top is not None and len(ordered) > top:
        ordered = ordered.head(top)
        caption = f"Top {top} of {len(genre_kpis)} genres by listens"
    return formatted_table(ordered, GENRE_COLUMNS, caption)


def hourly_table(hourly_kpis: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The hourly KPIs, hour by hour."""
    return formatted_table(hourly_kpis.sort_values("listen_hour"), HOURLY_COLUMNS)


HEADLINE_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "listen_date": ("Date", day),
    "streams": ("Listens", thousands),
    "genres": ("Genres", thousands),
    "top_genre": ("Top genre", text),
    "top_genre_share": ("Its share", percent),
    "average_duration": ("Avg track length", duration),
    "peak_hour": ("Busiest hour (UTC)", hour),
    "peak_hour_streams": ("Its listens", thousands),
    "max_hourly_listeners": ("Most listeners in an hour", thousands),
    "diversity": ("Genre diversity", decimal(4)),  # days differ in the 4th decimal
    "sessions_per_listener": ("Sessions per listener", decimal(2)),
}


def headlines_table(headlines: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The headline figures of every loaded day (``breakdowns.daily_headlines``), oldest first."""
    return formatted_table(headlines.sort_values("listen_date"), HEADLINE_COLUMNS)


INPUT_FILE_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "path": ("File (under the input root)", text),
    "size": ("Size", file_size),
    "sha256": ("SHA-256", text),
}


def input_files_table(input_files: list[dict]) -> pd.io.formats.style.Styler:
    """The files a run read (ingest's ``input_files``): path, size and checksum."""
    return formatted_table(pd.DataFrame(input_files, columns=list(INPUT_FILE_COLUMNS)), INPUT_FILE_COLUMNS)


NOT_READ_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "path": ("File (under the input root)", text),
    "what": ("What ingest did", text),
}


def files_not_read_table(ignored_files: list[dict], empty_files: list[str]) -> pd.io.formats.style.Styler:
    """The files under ``streams/`` that ingest did not read, with why, and the stream files of 0 bytes."""
    rows = [{"path": f["path"], "what": f"not read: {f['reason']}"} for f in ignored_files]
    rows += [{"path": path, "what": "read as a file with no rows: it is empty (0 bytes)"} for path in empty_files]
    caption = None if rows else "Every file found under streams/ was read, and none was empty."
    return formatted_table(pd.DataFrame(rows, columns=list(NOT_READ_COLUMNS)), NOT_READ_COLUMNS, caption)


def _genres_by_listens(genre_kpis: pd.DataFrame) -> pd.DataFrame:
    return genre_kpis.sort_values(["listen_count", "track_genre"], ascending=[False, True])


# --------------------------------------------------------------------------- summaries


def run_header(run_date: str | dt.date) -> str:
    """The line under a report's title: the day the figures are about."""
    return f"**Run date: {long_date(run_date)}** (UTC day {run_date})"


def ingest_summary(
    counts: Mapping[str, int], run_date: str | dt.date, selection: StreamSelection | None = None
) -> Markdown:
    """What ingest read, kept and rejected, in plain words with the run's figures; with ingest's
    ``stream_selection``, also which stream files it read and which dated folders it skipped."""
    day_rows = counts["rows_read"] - counts["other_date"]
    rejected = {reason: counts[reason] for reason in STREAM_REJECTS}
    rejected_total = sum(rejected.values())
    reasons = ", ".join(f"{thousands(n)} {STREAM_REJECTS[r]['short']}" for r, n in rejected.items() if n)
    lines = [
        run_header(run_date),
        "",
        f"**{thousands(counts['valid_streams'])} valid streams** of {long_date(run_date)} "
        f"({percent(_share(counts['valid_streams'], day_rows))} of the {thousands(day_rows)} stream rows of the day) "
        "go on to the KPIs. "
        + (
            f"{thousands(rejected_total)} rows were rejected: {reasons}. "
            if rejected_total
            else "No stream row was rejected. "
        )
        + f"The stream files also held {thousands(counts['other_date'])} rows of other dates, skipped.",
        "",
        *([stream_files_read(selection), ""] if selection else []),
        f"The catalog lists {thousands(counts['tracks'])} tracks; {thousands(counts['duplicate_track_rows'])} "
        "repeated rows (a track listed again under another genre) were set aside and "
        f"{thousands(counts['bad_song'])} catalog rows rejected. "
        f"{thousands(counts['unknown_user_streams'])} valid streams come from users missing from `users.csv` "
        "(kept, age unknown).",
    ]
    return Markdown("\n".join(lines))


def stream_files_read(selection: StreamSelection) -> str:
    """How many stream files a run read, dated and undated, and how many dated folders it skipped."""
    read = f"**{_counted(selection.files_read, 'stream file')} read**"
    skipped = len(selection.dated_folders_skipped)
    if not selection.dated_folders_read and not skipped:
        return f"{read}; no stream folder is named by date, so every stream file is read."
    dated = f"the dated folders of {selection.window} (`partition_lookaround_days` {selection.lookaround_days})"
    where = (
        f"all from {dated}"
        if not selection.undated_files
        else f"{thousands(selection.dated_files)} from {dated} and {thousands(selection.undated_files)} undated"
    )
    outside = (
        f"{_counted(skipped, 'dated folder')} outside those dates {'was' if skipped == 1 else 'were'} "
        "skipped, not read."
        if skipped
        else "No dated folder lies outside those dates."
    )
    return f"{read}, {where}. {outside}"


def _counted(n: int, thing: str) -> str:
    """``_counted(3, "file")`` -> ``3 files``; ``_counted(1, "file")`` -> ``1 file``."""
    return f"{thousands(n)} {thing}{'' if n == 1 else 's'}"


def genre_summary(genre_kpis: pd.DataFrame, run_date: str | dt.date, top: int = 3) -> Markdown:
    """The day's genres in plain words: how many, the leaders and their share, track lengths."""
    ordered = _genres_by_listens(genre_kpis)
    streams = int(ordered["listen_count"].sum())
    leaders = ordered.head(top)
    leader_text = ", ".join(
        f"**{g}** ({percent(s)})" for g, s in zip(leaders["track_genre"], leaders["popularity_index"])
    )
    longest = ordered.loc[ordered["average_duration"].idxmax()]
    shortest = ordered.loc[ordered["average_duration"].idxmin()]
    lines = [
        run_header(run_date),
        "",
        f"**{thousands(streams)} valid streams** spread over **{len(ordered)} genres**. "
        f"The most listened: {leader_text}; together the top {len(leaders)} take "
        f"{percent(leaders['popularity_index'].sum())} of the day.",
        "",
        f"The average track streamed lasts {duration(mean_track_length(ordered))}; by genre it ranges from "
        f"{duration(shortest['average_duration'])} ({shortest['track_genre']}) to "
        f"{duration(longest['average_duration'])} ({longest['track_genre']}).",
    ]
    return Markdown("\n".join(lines))


def hourly_summary(hourly_kpis: pd.DataFrame, run_date: str | dt.date) -> Markdown:
    """The day's hours in plain words: the peak, the quietest hour, sessions, diversity, ages."""
    hours = hourly_kpis.sort_values("listen_hour")
    peak = hours.sort_values(["listen_counts", "listen_hour"], ascending=[False, True]).iloc[0]
    quiet = hours.sort_values(["listen_counts", "listen_hour"], ascending=[True, True]).iloc[0]
    groups = hours["most_engaged_age_group"].dropna()
    age_text = "No stream had a listener of known age."
    if not groups.empty:
        leading = groups.value_counts()
        age_text = f"The **{leading.index[0]}** group is the most engaged in {leading.iloc[0]} of {len(hours)} hours."
    lines = [
        run_header(run_date),
        "",
        f"Listening peaks at **{hour(peak['listen_hour'])}** with {thousands(peak['listen_counts'])} streams by "
        f"{thousands(peak['unique_listeners'])} listeners; the quietest hour is {hour(quiet['listen_hour'])} "
        f"({thousands(quiet['listen_counts'])} streams). {len(hours)} of 24 hours have listens.",
        "",
        f"A listener of an hour has {decimal(2)(weighted_mean(hours, 'avg_sessions_per_user', 'unique_listeners'))} "
        "listening sessions in it on average, and genre diversity stays between "
        f"{decimal(3)(hours['diversity_index'].min())} and {decimal(3)(hours['diversity_index'].max())} "
        f"(0 = one genre, 1 = evenly spread). {age_text}",
    ]
    return Markdown("\n".join(lines))


def load_summary(rows_loaded: Mapping[str, int], headlines: pd.DataFrame, run_date: str | dt.date) -> Markdown:
    """What the load left in the warehouse, and how the day compares with the other loaded days."""
    loaded = ", ".join(f"{thousands(n)} rows of `{table}`" for table, n in rows_loaded.items())
    lines = [run_header(run_date), "", f"The warehouse now holds {loaded} for {run_date}."]
    days = headlines.sort_values("listen_date")
    if len(days) > 1:
        today = days[days["listen_date"].astype(str) == str(run_date)]
        if not today.empty:
            streams = today["streams"].iloc[0]
            rank = int((days["streams"] > streams).sum()) + 1
            lines.append(
                f"It has **{len(days)} days** of KPIs, {day(days['listen_date'].iloc[0])} to "
                f"{day(days['listen_date'].iloc[-1])}; with {thousands(streams)} streams this day ranks {rank} of "
                f"{len(days)} (daily average {thousands(days['streams'].mean())})."
            )
    else:
        lines.append("It is the only day loaded so far, so the trend charts below have one point each.")
    return Markdown("\n".join(lines))


def load_diff_table(diff: Mapping[str, Mapping]) -> pd.io.formats.style.Styler:
    """What the load changed (``LoadedDay.diff``): per table the rows added, removed, changed and
    unchanged against the rows of the day there before."""
    kinds = ("added", "removed", "changed", "unchanged")
    counts = pd.DataFrame([{"table": table, **{k: d[k] for k in kinds}} for table, d in diff.items()])
    columns = {"table": ("Table", text)} | {k: (k.capitalize(), thousands) for k in kinds}
    return formatted_table(counts, columns, caption="The day's rows against those there before this load")


def changed_cells_table(diff: Mapping[str, Mapping]) -> pd.io.formats.style.Styler:
    """The first changed cells of each table (``LoadedDay.diff``): the row's key, the column, old → new."""
    cells = pd.DataFrame(
        [
            {
                "table": table,
                "row": ", ".join(f"{k} {v}" for k, v in cell["key"].items() if k != "listen_date"),
                "column": cell["column"],
                "change": f"{cell['old']} → {cell['new']}",
            }
            for table, d in diff.items()
            for cell in d["examples"]
        ],
        columns=["table", "row", "column", "change"],
    )
    columns = {c: (c.capitalize(), text) for c in cells.columns}
    return formatted_table(cells, columns, None if len(cells) else "No value changed.")


def mean_track_length(genre_kpis: pd.DataFrame) -> float:
    """The day's stream-weighted average track length in seconds, from the genre rows."""
    return weighted_mean(genre_kpis, "average_duration", "listen_count")


def weighted_mean(frame: pd.DataFrame, value: str, weight: str) -> float:
    return float((frame[value] * frame[weight]).sum() / frame[weight].sum())


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


# --------------------------------------------------------------------------- data quality

STREAM_REJECTS = {
    "bad_stream": {
        "short": "malformed",
        "meaning": "unreadable listen_time, empty or non-integer user_id, empty track_id, "
        "or a malformed or non-UTF-8 row",
    },
    "duplicate_stream": {"short": "duplicates", "meaning": "a copy of an earlier row: same user, track and instant"},
    "unknown_track": {"short": "of unknown tracks", "meaning": "track_id not in the cleaned catalog"},
}
CATALOG_REJECTS = {
    "bad_song": {
        "short": "malformed",
        "meaning": "empty track_id or track_genre, duration_ms not a positive number, or a malformed or non-UTF-8 row",
    },
}
REJECT_MEANINGS = {reason: about["meaning"] for reason, about in {**STREAM_REJECTS, **CATALOG_REJECTS}.items()}


def data_quality_frame(counts: Mapping[str, int]) -> pd.DataFrame:
    """Rows read, valid and rejected per reason, for the streams, the catalog and the users.

    ``share`` is relative to the rows each block starts from (the day's stream rows, the catalog's
    rows, ``users.csv``'s rows); streams of other dates are not part of the day.
    """
    day_rows = counts["rows_read"] - counts["other_date"]
    catalog_rows = counts["tracks"] + counts["duplicate_track_rows"] + counts["bad_song"]
    user_rows = counts["users"] + counts["duplicate_user_rows"] + counts["bad_user_rows"]
    rows = [
        (
            "Streams",
            "rows read, every stream file",
            counts["rows_read"],
            None,
            "every data row of the stream files read (dated folders outside the run's dates are not read)",
        ),
        (
            "Streams",
            "of other dates (skipped)",
            counts["other_date"],
            None,
            "listen_time on another day: left for that day's run",
        ),
        ("Streams", "rows of the day", day_rows, day_rows, "the rows this run checks"),
        *[
            ("Streams", f"rejected: {reason}", counts[reason], day_rows, about["meaning"])
            for reason, about in STREAM_REJECTS.items()
        ],
        ("Streams", "valid streams", counts["valid_streams"], day_rows, "what every KPI counts"),
        (
            "Streams",
            "… by unknown users",
            counts["unknown_user_streams"],
            counts["valid_streams"],
            "user_id not in users.csv: kept as a listen, age unknown",
        ),
        ("Catalog", "rows read", catalog_rows, catalog_rows, "songs.csv"),
        ("Catalog", "rejected: bad_song", counts["bad_song"], catalog_rows, CATALOG_REJECTS["bad_song"]["meaning"]),
        (
            "Catalog",
            "repeated catalog rows",
            counts["duplicate_track_rows"],
            catalog_rows,
            "a track listed again (once per genre): its first row is the track",
        ),
        ("Catalog", "tracks", counts["tracks"], catalog_rows, "one per track_id"),
        ("Users", "rows read", user_rows, user_rows, "users.csv"),
        (
            "Users",
            "ignored: no whole-number user_id",
            counts["bad_user_rows"],
            user_rows,
            "a row without a usable user_id (or with the wrong number of fields)",
        ),
        ("Users", "repeated user rows", counts["duplicate_user_rows"], user_rows, "the first row of a user_id is kept"),
        ("Users", "users", counts["users"], user_rows, "one per user_id"),
        (
            "Users",
            "… of unknown age",
            counts["unknown_age_users"],
            counts["users"],
            "age missing, not a whole number or outside 13–120",
        ),
    ]
    frame = pd.DataFrame(rows, columns=["source", "check", "rows", "of", "meaning"])
    frame["share"] = [_share(r, of) if of is not None else float("nan") for r, of in zip(frame["rows"], frame["of"])]
    return frame.drop(columns="of")


DATA_QUALITY_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "source": ("Source", text),
    "check": ("Rows", text),
    "rows": ("Count", thousands),
    "share": ("Share", lambda v: percent(v, 2)),
    "meaning": ("What it means", text),
}


def data_quality_table(counts: Mapping[str, int]) -> pd.io.formats.style.Styler:
    """:func:`data_quality_frame` formatted, rejected rows that occurred highlighted."""
    frame = data_quality_frame(counts)
    styler = formatted_table(frame, DATA_QUALITY_COLUMNS, wrap=("meaning",))
    flagged = frame.index[frame["check"].str.startswith("rejected") & (frame["rows"] > 0)]
    return styler.set_properties(subset=pd.IndexSlice[flagged, :], **{"background-color": "#fff4e5"})


def reject_examples_table(examples: pd.DataFrame) -> pd.io.formats.style.Styler:
    """A few rejected rows per reason (``ingest.reject_examples``), one line each: reason, rule,
    where it was (file and line, as an editor counts them) and the row's fields as read."""
    fields = [c for c in examples.columns if c not in {"source_file", "line", "reason", "rule", "file_kind"}]

    def as_read(row: pd.Series) -> str:  # the fields of the row's own file (the other file's are NaN)
        return ", ".join(f"{c}={row[c]!r}" for c in fields if isinstance(row[c], str))

    frame = pd.DataFrame(
        {
            "reason": examples["reason"],
            "rule": examples["rule"],
            "where": examples["source_file"] + ", line " + examples["line"].astype(str),
            "row": examples.apply(as_read, axis=1) if len(examples) else pd.Series(dtype=str),
        }
    )
    columns = {
        "reason": ("Reason", text),
        "rule": ("Rule", text),
        "where": ("File, line", text),
        "row": ("Fields as read", text),
    }
    caption = None if len(frame) else "No row was rejected."
    return formatted_table(frame, columns, caption, wrap=("row",))


# --------------------------------------------------------------------------- data checks

CHECK_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "check_name": ("Check", text),
    "status": ("Status", text),
    "message": ("What it found", text),
}
_STATUS_STYLE = {"fail": "background-color: #f8d0d0", "warn": "background-color: #fdf0c4"}


def checks_summary(results: list, run_date: str | dt.date) -> Markdown:
    """The checks (``datachecks.CheckResult``) in a few lines: all clear, not judged, or each flagged check."""
    failed, warned = ([r for r in results if r.status == s] for s in ("fail", "warn"))
    passed, skipped = (sum(r.status == s for r in results) for s in ("pass", "skipped"))
    tally = f"{passed} passed, {skipped} skipped"
    lines = [run_header(run_date), ""]
    if skipped == len(results):  # as the indexes' badge says: nothing was judged, so nothing is clear either
        lines.append(f"**Not judged**: every check was skipped ({tally}); each says why below.")
    elif not failed and not warned:
        lines.append(f"**All clear**: no check flagged the day ({tally}).")
    else:
        parts = [_counted(len(failed), "failed check")] if failed else []
        parts += [_counted(len(warned), "warning")] if warned else []
        lines += [f"**{' and '.join(parts)}** ({tally}):", ""]
        lines += [f"- **{r.check_name}** ({r.status}): {r.message}" for r in failed + warned]
        if failed:
            lines += ["", "A failed check stops the load: the warehouse keeps the KPI rows it had for the day."]
    return Markdown("\n".join(lines))


def checks_table(results: list) -> pd.io.formats.style.Styler:
    """Every check: its status and what it found; flagged rows highlighted."""
    frame = pd.DataFrame([r.record() for r in results], columns=list(CHECK_COLUMNS))
    table = formatted_table(frame, CHECK_COLUMNS, wrap=("message",))
    return table.apply(lambda row: [_STATUS_STYLE.get(frame.at[row.name, "status"], "")] * len(row), axis=1)
