"""The deterministic sample input of the pipeline: ``songs.csv``, ``users.csv`` and ``streams/``.

The notebooks, tests and benchmarks need input with the real data's quirks and every kind of dirty
row the cleaning rules handle, at any size and without the real data. This writes it, byte-identical
for the same arguments (every draw comes from a numpy generator seeded from the seed and what the
draw is for), in seconds even for ten million streams a day. A developer tool: no notebook imports it.

    python -m tools.sample_data --out DIR [--start-date 2024-06-24] [--days 7] [--streams-per-day 3e4]
        [--users 5e4] [--tracks 114000] [--dual-genre-fraction 0.2] [--seed N] [--no-dirty]
        [--layout by-date|flat] [--flat-volume] [--incident DATE=KIND ...]

A date's rows are ``--streams-per-day`` times its volume factor: x1.05 on Fridays, x1.2 on
Saturdays, x1.15 on Sundays, +0.2 % a day from the start date and about 2.5 % of noise.
``--flat-volume`` gives every date exactly ``--streams-per-day`` rows (as the benchmarks need).

``--incident DATE=KIND`` (repeatable; DATE in the range) gives a date one of these incidents:

``cutoff``
    the export stops at 18:00 UTC: none of the date's regular rows from 18:00 on are written.
``stale_catalog``
    about 20 % of the date's streams play new releases that songs.csv does not have yet
    (``unknown_track`` rejects).
``volume_drop``
    the date's volume factor is halved.

For example five weeks with two incidents (``make sample-data SAMPLE_ARGS="..."`` passes the same)::

    python -m tools.sample_data --out data/sample --start-date 2024-05-27 --days 35 \\
        --incident 2024-06-28=cutoff --incident 2024-06-12=stale_catalog
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from tools.sample_catalog import GENRES, SONGS_HEADER, USERS_HEADER, write_songs, write_users
from tools.sample_streams import INCIDENTS, STREAM_HEADER, StreamWriter, remove_old_stream_files

__all__ = ["generate", "main", "GENRES", "INCIDENTS", "STREAM_HEADER", "SONGS_HEADER", "USERS_HEADER"]

LAYOUTS = ("by-date", "flat")


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
    variation=True,
    incidents=None,
) -> dict:
    """Write ``songs.csv``, ``users.csv`` and ``streams/`` into `out_dir`; return a summary.

    Parameters
    ----------
    out_dir : str or Path
        The input root. Stream files of an earlier run there are replaced; anything else under
        ``streams/`` raises FileExistsError.
    start_date, days
        The dates ``[start_date, start_date + days)``.
    streams_per_day : int
        Stream rows of a date before its volume factor, **dirty rows included**.
    n_users : int
        Users of ``users.csv`` (user_id 1..n_users); the rows repeating a user_id are on top.
    n_tracks : int
        Rows of ``songs.csv``, second-genre rows and planted bad rows included.
    dual_genre_fraction : float
        About this fraction of the unique tracks get a second row, with another genre.
    seed : int
    dirty : bool
        Plant rows of every kind the cleaning rules reject or flag (section 1 of ``docs/KPIS.md``).
    layout : {"by-date", "flat"}
        ``by-date`` writes ``streams/<date>/part-000.csv``... (one part per ~1M rows, at least two);
        ``flat`` writes ``streams/streams1.csv``, ``streams2.csv``... (at least three), each holding
        parts of several dates. Both layouts hold exactly the same rows.
    variation : bool
        Vary the dates' volume (weekday, trend, noise; see the module docstring); False: every
        date's volume factor is 1.
    incidents : dict, optional
        ``{date: kind}``, kind one of INCIDENTS (see the module docstring); dates in the range.

    Returns
    -------
    dict
        ``files`` (paths), ``rows`` (data rows per file kind), ``stream_files`` (rows per stream
        file), ``catalog``, ``dirty`` (planted rows per kind), ``dirty_detail`` (per kind:variant),
        ``dates`` (per date of the range: ``volume_factor``, ``rows``,
        ``rows_with_listen_time_on_date``, ``unparseable_time``, the counts of the rows planted with
        that date, stale_catalog rows included in ``unknown_track``, and ``expected_valid_streams``),
        ``other_date_rows`` (rows of dates outside the range), ``variation`` and ``incidents``.

    Notes
    -----
    Every date D of the range gets exactly ``round(streams_per_day * volume_factor)`` rows, the
    planted ones included (the same number of planted rows every day), fewer after a cutoff. All
    have a ``listen_time`` on D (UTC) except the unparseable ones (``not-a-time``,
    ``2024-06-25 25:61:00``, empty), counted for the D whose folder they are in. A few rows near
    midnight are written into the neighbouring date's folder, so a folder holds about, not
    exactly, `streams_per_day` rows; and a few rows of the evening before the first date and the
    morning after the last are written too, as real exports hold them (``other_date_rows``).

    ISO-8601 listen times (``T``, fractional seconds, ``Z``, ``+02:00``, ``-05:00``) are valid
    rows; one a day (``iso_cross_midnight``; none after a cutoff) is written ``+02:00`` with a local
    date of D+1 and a UTC instant on D. Apart from the planted duplicates no two valid rows share (user_id,
    listen_time), so the planted counts are exactly what the cleaning rules should find and
    ``dates[D]["expected_valid_streams"]`` is the number of valid streams of D. One
    ``unknown_track`` row a day uses a track_id that ``songs.csv`` has only on a rejected row; the
    first duplicate of a day is in another part file than its original.
    """
    out = Path(out_dir)
    start = dt.date.fromisoformat(str(start_date))
    days, streams_per_day = int(days), int(streams_per_day)
    n_users, n_tracks, seed, dirty = int(n_users), int(n_tracks), int(seed), bool(dirty)
    if layout not in LAYOUTS:
        raise ValueError("layout must be 'by-date' or 'flat'")
    if days < 1 or n_users < 2 or not 0 <= dual_genre_fraction <= 1:
        raise ValueError("days >= 1, n_users >= 2 and 0 <= dual_genre_fraction <= 1 required")
    incident_days = _incident_days(incidents or {}, start, days)
    out.mkdir(parents=True, exist_ok=True)
    remove_old_stream_files(out / "streams")
    catalog = write_songs(out, n_tracks, float(dual_genre_fraction), seed, dirty)
    users = write_users(out, n_users, start, seed, dirty)
    streams = StreamWriter(
        out=out,
        layout=layout,
        start=start,
        days=days,
        streams_per_day=streams_per_day,
        n_users=n_users,
        seed=seed,
        dirty=dirty,
        catalog=catalog,
        users=users,
        variation=bool(variation),
        incidents=incident_days,
    )
    streams.run()

    in_range = [streams.date_of(i) for i in range(days)]
    dates = {}
    for day, date in enumerate(in_range):
        planted = streams.planted_by_date.get(date, {})
        rejected = sum(planted.get(kind, 0) for kind in ("bad_stream", "duplicate_stream", "unknown_track"))
        dated, unparseable = streams.rows_by_date.get(date, 0), streams.unparseable_by_date.get(date, 0)
        dates[date] = {
            "volume_factor": round(streams.volume[day], 4),
            "rows": dated + unparseable,
            "rows_with_listen_time_on_date": dated,
            "unparseable_time": unparseable,
            **dict(sorted(planted.items())),
            "expected_valid_streams": dated + unparseable - rejected,
        }
    dirty_rows = {
        "bad_song": catalog.bad_rows,
        "bad_user_age": users.bad_ages,
        "duplicate_user_id": users.repeated_ids,
    }
    for planted in streams.planted_by_date.values():
        for kind, count in planted.items():
            dirty_rows[kind] = dirty_rows.get(kind, 0) + count
    for kind in ("bad_stream", "duplicate_stream", "unknown_track", "unknown_user", "iso_time"):
        dirty_rows.setdefault(kind, 0)
    return {
        "out_dir": str(out),
        "layout": layout,
        "start_date": start.isoformat(),
        "days": days,
        "streams_per_day": streams_per_day,
        "seed": seed,
        "files": {"songs": str(catalog.path), "users": str(users.path), "streams": [str(p) for p in streams.files]},
        "rows": {"songs": catalog.rows, "users": users.rows, "streams": streams.rows_total},
        "stream_files": {str(p): count for p, count in streams.file_rows.items()},
        "catalog": {
            "unique_tracks": catalog.unique_tracks,
            "duplicate_track_rows": catalog.dual_genre_rows,
            "genres": len(GENRES),
        },
        "dirty": dirty_rows,
        "dirty_detail": {
            **{f"bad_song:{k}": v for k, v in catalog.bad_detail.items()},
            **{f"bad_user_age:{k}": v for k, v in users.bad_age_detail.items()},
            **dict(sorted(streams.planted_detail.items())),
        },
        "dates": dates,
        "other_date_rows": {d: count for d, count in sorted(streams.rows_by_date.items()) if d not in in_range},
        "variation": bool(variation),
        "incidents": {streams.date_of(day): kind for day, kind in sorted(incident_days.items())},
    }


def _incident_days(incidents: dict, start: dt.date, days: int) -> dict[int, str]:
    """``{date: kind}`` -> ``{day index: kind}``; ValueError for an unknown kind or a date out of the range."""
    by_day = {}
    for date, kind in incidents.items():
        if kind not in INCIDENTS:
            raise ValueError(f"incident on {date}: unknown kind {kind!r} (one of {', '.join(INCIDENTS)})")
        try:
            day = (dt.date.fromisoformat(str(date)) - start).days
        except ValueError:
            raise ValueError(f"incident date {date!r} is not a YYYY-MM-DD date") from None
        if not 0 <= day < days:
            last = start + dt.timedelta(days=days - 1)
            raise ValueError(f"incident date {date} is outside the range {start}..{last}")
        by_day[day] = kind
    return by_day


# --------------------------------------------------------------------------- CLI
def _whole_number(text: str) -> int:
    """``3e4``, ``30_000``, ``30,000`` -> 30000 (a whole number >= 0)."""
    try:
        value = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"not a whole non-negative number: {text!r}")
    return int(value)


def _incident(text: str) -> tuple[str, str]:
    """``DATE=KIND`` -> (DATE, KIND); both are checked by generate()."""
    date, sep, kind = text.partition("=")
    if not sep or not date or not kind:
        raise argparse.ArgumentTypeError(f"not DATE=KIND: {text!r}")
    return date.strip(), kind.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.sample_data", description="Generate the deterministic sample input data."
    )
    parser.add_argument("--out", required=True, help="output folder (input root)")
    parser.add_argument("--start-date", default="2024-06-24")
    parser.add_argument("--days", type=_whole_number, default=7)
    parser.add_argument("--streams-per-day", type=_whole_number, default=30_000)
    parser.add_argument("--users", type=_whole_number, default=50_000)
    parser.add_argument("--tracks", type=_whole_number, default=114_000)
    parser.add_argument("--dual-genre-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=_whole_number, default=20240624)
    parser.add_argument("--no-dirty", action="store_true", help="plant no dirty rows")
    parser.add_argument("--layout", choices=LAYOUTS, default="by-date")
    parser.add_argument(
        "--flat-volume",
        action="store_true",
        help="exactly --streams-per-day rows every date (no weekday, trend, noise)",
    )
    parser.add_argument(
        "--incident",
        type=_incident,
        action="append",
        default=[],
        metavar="DATE=KIND",
        help=f"an incident on DATE, KIND one of {', '.join(INCIDENTS)} (repeatable)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        incidents = dict(args.incident)
        if len(incidents) < len(args.incident):
            raise ValueError("at most one --incident per date")
        summary = generate(
            args.out,
            start_date=args.start_date,
            days=args.days,
            streams_per_day=args.streams_per_day,
            n_users=args.users,
            n_tracks=args.tracks,
            dual_genre_fraction=args.dual_genre_fraction,
            seed=args.seed,
            dirty=not args.no_dirty,
            layout=args.layout,
            variation=not args.flat_volume,
            incidents=incidents,
        )
    except (ValueError, FileExistsError) as e:
        print(f"sample_data: error: {e}", file=sys.stderr)
        return 2
    rows = summary["rows"]
    dirty = " ".join(f"{kind}={count}" for kind, count in summary["dirty"].items())
    per_date = " ".join(f"{date}={d['rows']}" for date, d in summary["dates"].items())
    incidents = " ".join(f"{date}={kind}" for date, kind in summary["incidents"].items()) or "none"
    volume = "flat" if args.flat_volume else "varied"
    print(
        f"sample_data: wrote {summary['out_dir']} ({summary['layout']}): songs.csv {rows['songs']} rows, "
        f"users.csv {rows['users']} rows, {len(summary['files']['streams'])} stream files "
        f"{rows['streams']} rows ({summary['days']} days of {volume} volume around {summary['streams_per_day']} + "
        f"{sum(summary['other_date_rows'].values())} other-date; by date: {per_date}); incidents: {incidents}; "
        f"dirty: {dirty}; {time.perf_counter() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
