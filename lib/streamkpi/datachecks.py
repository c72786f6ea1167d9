"""Data checks: the run date's figures judged against the days before it.

A day whose export was cut off, whose catalog is out of date or whose volume halved still computes
KPIs; these checks say that it looks wrong before anyone reads them. Each check takes one figure of
the day (:class:`DayFigures`) and the same figure over the loaded dates before it (:class:`History`)
and gives one :class:`CheckResult`: ``pass``, ``warn`` or ``fail`` (its severity, when the figure is
out of its expected range), or ``skipped`` (too little history to judge, or turned off).

The expected range is robust: the median of the history ± ``threshold`` times its median absolute
deviation (scaled to a standard deviation), so one bad day in the history neither widens the range
nor hides the next; and at least ``min_spread`` around the median, so a very regular history does
not turn ordinary noise into alarms. Weekday checks compare a Tuesday with the Tuesdays before it.
Every default, and why, is in ``docs/KPIS.md`` ("Data checks").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import ingest, warehouse
from .errors import StreamKPIError
from .kpis import KPI_TABLES, kpi_path, save_kpis, staged_connection
from .rowdiff import LoadedDay
from .tables import DEFAULT_LOCK_TIMEOUT_SECONDS, TABLES

TABLE = "kpi_checks"
SEVERITIES = ("warn", "fail", "off")
FLAGGED = ("warn", "fail")
MAD_TO_SIGMA = 1.4826  # the MAD of normal data times this is its standard deviation
WEEKS_BACK = 8  # weekday checks look at the same weekday of up to this many weeks before
RECENT_DAYS = 28  # the other checks look at up to this many days before
REJECT_REASONS = ingest.STREAM_REJECT_REASONS

# check -> its settings; a params file's ``checks:`` block overrides any of them, check by check.
# threshold: MADs; min_spread: relative to the median (volumes) or absolute (shares, distances);
# min_history: the fewest history values the check judges with (weekday checks: same weekdays).
DEFAULTS: dict[str, dict[str, Any]] = {
    "volume_weekday": {"severity": "warn", "threshold": 4.0, "min_spread": 0.15, "min_history": 4},
    "volume_recent": {"severity": "warn", "threshold": 4.0, "min_spread": 0.35, "min_history": 7},
    "completeness": {"severity": "fail", "min_share": 0.25, "min_usual": 50, "min_history": 4},
    "freshness": {"severity": "warn", "tolerance_hours": 1.0, "min_history": 7},
    "hourly_listens": {"severity": "warn", "threshold": 5.0, "min_spread": 0.20, "max_hours": 2, "min_history": 4},
    **{
        f"rejects_{reason}": {"severity": "warn", "threshold": 4.0, "min_spread": 0.005, "min_history": 7}
        for reason in REJECT_REASONS
    },
    "unknown_users": {"severity": "warn", "threshold": 4.0, "min_spread": 0.01, "min_history": 7},
    "genre_mix": {"severity": "warn", "threshold": 4.0, "min_spread": 0.03, "min_history": 7},
    "unique_listeners": {"severity": "warn", "threshold": 4.0, "min_spread": 0.15, "min_history": 4},
}
# Checks whose figure is a share (shown as a percentage).
SHARES = (*(f"rejects_{r}" for r in REJECT_REASONS), "unknown_users", "genre_mix")


class ChecksFailedError(StreamKPIError):
    """A check of severity ``fail`` flagged the day: its KPI rows are not loaded."""


@dataclass(frozen=True)
class DayFigures:
    """The figures of the run date the checks judge."""

    listen_date: dt.date
    hourly_listens: pd.Series  # listens per hour 0..23 (0 where none)
    genre_listens: pd.Series  # listens per genre
    latest_listen: pd.Timestamp | None
    day_rows: int  # stream rows of the day read (valid or rejected)
    rejects: dict[str, int]  # stream rejects per reason
    unknown_user_streams: int
    unique_listeners: int

    @property
    def valid_streams(self) -> int:
        return int(self.hourly_listens.sum())


@dataclass(frozen=True)
class History:
    """The loaded dates before the run date: listens per (date, hour) and (date, genre), and what
    the recorded checks observed on them (``check_name`` -> observed per date)."""

    hourly: pd.DataFrame  # index listen_date (datetime64), columns 0..23
    genres: pd.DataFrame  # index listen_date, columns genres; listens
    recorded: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return self.hourly.index


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on the day; ``history`` holds the values it compared with (by date, or by
    hour for the hourly checks, with ``low`` and ``high`` columns) for the report's chart."""

    check_name: str
    status: str
    observed: float | None
    expected_low: float | None
    expected_high: float | None
    message: str
    history: pd.DataFrame | None = None

    @property
    def flagged(self) -> bool:
        return self.status in FLAGGED

    @property
    def is_share(self) -> bool:  # its figure is a share, shown as a percentage
        return self.check_name in SHARES

    def record(self) -> dict[str, Any]:
        """The result as the manifest and the alerts carry it (no history)."""
        return {
            "check_name": self.check_name,
            "status": self.status,
            "observed": self.observed,
            "expected_low": self.expected_low,
            "expected_high": self.expected_high,
            "message": self.message,
        }


# --------------------------------------------------------------------------- settings


def parse_settings(overrides: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """:data:`DEFAULTS` with the params file's ``checks:`` block applied; a ValueError names any
    unknown check or setting and any value of the wrong kind."""
    settings = {name: dict(values) for name, values in DEFAULTS.items()}
    problems = []
    for name, values in (overrides or {}).items():
        if name not in DEFAULTS:
            problems.append(f"checks: unknown check {name!r}; known: {', '.join(DEFAULTS)}")
            continue
        if not isinstance(values, Mapping):
            problems.append(f"checks.{name} must be a mapping of setting: value, got {values!r}")
            continue
        for key, value in values.items():
            if key not in DEFAULTS[name]:
                problems.append(f"checks.{name}: unknown setting {key!r}; known: {', '.join(DEFAULTS[name])}")
            elif key == "severity" and value not in SEVERITIES:
                problems.append(f"checks.{name}.severity must be one of {', '.join(SEVERITIES)}, got {value!r}")
            elif key != "severity" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                problems.append(f"checks.{name}.{key} must be a number >= 0, got {value!r}")
            else:
                settings[name][key] = value
    if problems:
        raise ValueError("invalid checks settings:\n" + "\n".join(f"  - {p}" for p in problems))
    return settings


# --------------------------------------------------------------------------- statistics


def robust_band(values: Any, threshold: float, min_spread: float) -> tuple[float, float, float]:
    """``(low, median, high)``: the median of ``values`` ± max(``threshold`` × MAD × 1.4826,
    ``min_spread``), ``min_spread`` in the values' units."""
    values = np.asarray(values, dtype=float)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * MAD_TO_SIGMA
    spread = max(threshold * mad, min_spread)
    return median - spread, median, median + spread


def count_spread(reference: pd.DataFrame) -> float:
    """The spread of counts (rows: dates, columns: hours) in units of the square root of their median:
    one robust sigma for all columns, from every deviation of the history pooled (MAD × 1.4826).

    A count of mean m spreads about c·√m (c = 1 for independent events; listens come in sessions, so
    c > 1), so the deviations of all 24 hours, each divided by √ of its median, estimate one c from
    24 × n values, where one hour's n values (4 weeks) are too few for a MAD of their own."""
    usual = reference.median()
    scaled = (reference - usual) / np.sqrt(usual.clip(lower=1.0))
    return float(np.median(np.abs(scaled.to_numpy()))) * MAD_TO_SIGMA


def distance(shares: pd.Series, usual: pd.Series) -> float:
    """Total variation distance of two share vectors (half the sum of absolute differences): the
    share of listens that would have to move to another genre to turn one mix into the other."""
    both = pd.concat([shares, usual], axis=1).fillna(0.0)
    return float((both.iloc[:, 0] - both.iloc[:, 1]).abs().sum() / 2)


def same_weekday(history: History, day: dt.date) -> pd.DatetimeIndex:
    """The history's dates of ``day``'s weekday in the :data:`WEEKS_BACK` weeks before it."""
    earliest = pd.Timestamp(day - dt.timedelta(weeks=WEEKS_BACK))
    dates = history.dates
    return dates[(dates.day_of_week == day.weekday()) & (dates >= earliest)]


def recent(history: History, day: dt.date, days: int = RECENT_DAYS) -> pd.DatetimeIndex:
    """The history's dates in the ``days`` days before ``day``."""
    dates = history.dates
    return dates[dates >= pd.Timestamp(day - dt.timedelta(days=days))]


# --------------------------------------------------------------------------- the checks


def _skipped(name: str, observed: float | None, have: int, need: int, of: str) -> CheckResult:
    return CheckResult(
        name, "skipped", observed, None, None, f"not enough history to judge: {have} {of}, {need} needed"
    )


def _verdict(out_of_range: bool, severity: str) -> str:
    return severity if out_of_range else "pass"


def _scalar(
    name: str,
    observed: float,
    values: pd.Series,
    settings: Mapping[str, Any],
    *,
    what: str,
    shown: Callable[[float], str],
    of: str,
    relative: bool = True,
    high_only: bool = False,
    noise: float = 0.0,
) -> CheckResult:
    """A figure against the robust band of its history ``values`` (by date), at least ``threshold`` ×
    ``noise`` (the counting noise of a figure this size) wide."""
    if len(values) < settings["min_history"]:
        return _skipped(name, observed, len(values), settings["min_history"], of)
    spread = settings["min_spread"] * (abs(float(values.median())) if relative else 1.0)
    spread = max(spread, settings["threshold"] * noise)
    low, _, high = robust_band(values, settings["threshold"], spread)
    low = max(low, 0.0)
    if high_only:
        low = None
    out = observed > high or (low is not None and observed < low)
    usual = f"{shown(low)}–{shown(high)}" if low is not None else f"at most {shown(high)}"
    if out:
        direction = "higher" if observed > high else "lower"
        message = f"{what} {direction} than usual: {shown(observed)}, expected {usual} ({len(values)} {of})"
    else:
        message = f"{what}: {shown(observed)}, usually {usual} ({len(values)} {of})"
    history = values.rename("value").rename_axis("listen_date").reset_index()
    return CheckResult(name, _verdict(out, settings["severity"]), observed, low, high, message, history)


def _share_rise(name: str, observed: float, values: pd.Series, settings: Mapping[str, Any], what: str) -> CheckResult:
    """A share against the recent days' band, flagged only above it (fewer rejects are never an alarm)."""
    return _scalar(
        name, observed, values, settings, what=what, shown=_share, of="recent days", relative=False, high_only=True
    )


def _count(value: float) -> str:
    return f"{round(value):,}"


def _share(value: float) -> str:
    return f"{value:.2%}"


def _weekday_of(day: dt.date) -> str:
    return day.strftime("%A") + "s"


def check_volume_weekday(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """The day's valid streams against the same weekday of the weeks before."""
    dates = same_weekday(history, day.listen_date)
    return _scalar(
        "volume_weekday",
        day.valid_streams,
        history.hourly.loc[dates].sum(axis=1),
        settings,
        what="Valid streams",
        shown=_count,
        of=f"earlier {_weekday_of(day.listen_date)}",
        noise=_volume_noise(history.hourly.loc[dates]),
    )


def check_volume_recent(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """The day's valid streams against the days just before, whatever their weekday."""
    hourly = history.hourly.loc[recent(history, day.listen_date, 14)]
    return _scalar(
        "volume_recent",
        day.valid_streams,
        hourly.sum(axis=1),
        settings,
        what="Valid streams",
        shown=_count,
        of="recent days",
        noise=_volume_noise(hourly),
    )


def _volume_noise(hourly: pd.DataFrame) -> float:
    """The counting noise of a day's listens: the hours' (:func:`count_spread`) summed, c × √(daily median)."""
    return count_spread(hourly) * float(np.sqrt(hourly.sum(axis=1).median())) if len(hourly) else 0.0


def _hour_reference(
    name: str, day: DayFigures, history: History, settings: Mapping[str, Any]
) -> pd.DataFrame | CheckResult:
    """Listens per hour on the same weekday before (rows: dates, columns: hours), or check ``name`` skipped."""
    dates = same_weekday(history, day.listen_date)
    if len(dates) < settings["min_history"]:
        return _skipped(name, None, len(dates), settings["min_history"], f"earlier {_weekday_of(day.listen_date)}")
    return history.hourly.loc[dates]


def _hours(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}:00" for h in hours)


def check_completeness(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """Hours with no or few listens where the same hour of the same weekday usually has many: an
    export cut off, a missing file."""
    name = "completeness"
    reference = _hour_reference(name, day, history, settings)
    if isinstance(reference, CheckResult):
        return reference
    usual = reference.median()
    low = usual * settings["min_share"]
    short = [h for h in range(24) if usual[h] >= settings["min_usual"] and day.hourly_listens[h] < low[h]]
    chart = pd.DataFrame({"hour": range(24), "value": day.hourly_listens.to_numpy(), "low": low.to_numpy()})
    chart["high"] = usual.to_numpy()
    if short:
        message = (
            f"{len(short)} hour(s) with less than {settings['min_share']:.0%} of their usual listens: {_hours(short)} "
            f"(usual: the median of {len(reference)} earlier {_weekday_of(day.listen_date)})"
        )
    else:
        message = f"every hour has at least {settings['min_share']:.0%} of its usual listens"
    return CheckResult(name, _verdict(bool(short), settings["severity"]), len(short), 0, 0, message, chart)


def check_hourly_listens(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """Listens per hour against the same hour of the same weekday: hours out of their range."""
    name = "hourly_listens"
    reference = _hour_reference(name, day, history, settings)
    if isinstance(reference, CheckResult):
        return reference
    usual = reference.median()
    spread = np.maximum(
        settings["threshold"] * count_spread(reference) * np.sqrt(usual), settings["min_spread"] * usual
    )
    chart = pd.DataFrame(
        {
            "hour": range(24),
            "value": day.hourly_listens.to_numpy(),
            "low": (usual - spread).clip(lower=0.0).to_numpy(),
            "high": (usual + spread).to_numpy(),
        }
    )
    out = chart[(chart["value"] < chart["low"]) | (chart["value"] > chart["high"])]["hour"].tolist()
    flagged = len(out) > settings["max_hours"]
    message = (
        f"{len(out)} hour(s) out of their usual range: {_hours(out)}"
        if out
        else "every hour's listens are in their usual range"
    ) + f" (the same hour of {len(reference)} earlier {_weekday_of(day.listen_date)}; {settings['max_hours']} allowed)"
    return CheckResult(
        name, _verdict(flagged, settings["severity"]), len(out), 0, settings["max_hours"], message, chart
    )


def check_freshness(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """How far into the day the listens reach (the end of the last hour with listens) against the
    days before; the message gives the latest listen time."""
    name = "freshness"
    reach = _reach(day.hourly_listens)
    dates = recent(history, day.listen_date)
    if len(dates) < settings["min_history"]:
        return _skipped(name, reach, len(dates), settings["min_history"], "recent days")
    usual = float(history.hourly.loc[dates].apply(_reach, axis=1).median())
    low = usual - settings["tolerance_hours"]
    latest = f" (the latest listen: {day.latest_listen:%H:%M:%S})" if day.latest_listen is not None else ""
    if reach < low:
        message = f"the listens stop early: up to {reach:02.0f}:00{latest}, usually up to {usual:02.0f}:00"
    else:
        message = f"the listens reach {reach:02.0f}:00{latest}, as usual"
    return CheckResult(name, _verdict(reach < low, settings["severity"]), reach, low, 24.0, message)


def _reach(listens: pd.Series) -> float:
    hours = [h for h in range(24) if listens[h] > 0]
    return float(max(hours) + 1) if hours else 0.0


def _recorded(name: str, history: History, dates: pd.DatetimeIndex) -> pd.Series:
    values = history.recorded.get(name, pd.Series(dtype=float))
    return values[values.index.isin(dates)].dropna()


def check_reject_share(reason: str) -> Callable[[DayFigures, History, Mapping[str, Any]], CheckResult]:
    """The share of the day's stream rows rejected for ``reason`` against the days before: an
    out-of-date catalog shows as a jump in ``unknown_track``."""

    def check(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
        name = f"rejects_{reason}"
        observed = day.rejects[reason] / day.day_rows if day.day_rows else 0.0
        values = _recorded(name, history, recent(history, day.listen_date))
        return _share_rise(name, observed, values, settings, f"Rows rejected as {reason}")

    check.__doc__ = check_reject_share.__doc__
    return check


def check_unknown_users(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """The share of valid streams by users missing from ``users.csv`` against the days before."""
    observed = day.unknown_user_streams / day.valid_streams if day.valid_streams else 0.0
    values = _recorded("unknown_users", history, recent(history, day.listen_date))
    return _share_rise("unknown_users", observed, values, settings, "Streams by users missing from users.csv")


def check_genre_mix(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """How far the day's genre shares are from the usual ones (the median share of each genre over
    the recent days), against how far each recent day was."""
    name = "genre_mix"
    dates = recent(history, day.listen_date)
    if len(dates) < settings["min_history"]:
        return _skipped(name, None, len(dates), settings["min_history"], "recent days")
    genres = history.genres.loc[dates]
    shares = genres.div(genres.sum(axis=1), axis=0).fillna(0.0)
    usual = shares.median()
    usual = usual / usual.sum()
    past = pd.Series([distance(shares.loc[d], usual) for d in dates], index=dates, dtype=float)
    observed = distance(day.genre_listens / day.genre_listens.sum(), usual)
    return _share_rise(name, observed, past, settings, "Distance of the genre mix from the usual one")


def check_unique_listeners(day: DayFigures, history: History, settings: Mapping[str, Any]) -> CheckResult:
    """The day's unique listeners against the same weekday of the weeks before."""
    values = _recorded("unique_listeners", history, same_weekday(history, day.listen_date))
    return _scalar(
        "unique_listeners",
        day.unique_listeners,
        values,
        settings,
        what="Unique listeners",
        shown=_count,
        of=f"earlier {_weekday_of(day.listen_date)}",
        noise=float(np.sqrt(values.median())) if len(values) else 0.0,  # distinct users: about Poisson
    )


# check name -> the function judging it; the report and the table list them in this order.
CHECKS: dict[str, Callable[[DayFigures, History, Mapping[str, Any]], CheckResult]] = {
    "volume_weekday": check_volume_weekday,
    "volume_recent": check_volume_recent,
    "completeness": check_completeness,
    "freshness": check_freshness,
    "hourly_listens": check_hourly_listens,
    **{f"rejects_{reason}": check_reject_share(reason) for reason in REJECT_REASONS},
    "unknown_users": check_unknown_users,
    "genre_mix": check_genre_mix,
    "unique_listeners": check_unique_listeners,
}


def run_checks(
    day: DayFigures, history: History, settings: Mapping[str, Mapping[str, Any]] | None = None
) -> list[CheckResult]:
    """Every check of :data:`CHECKS` on ``day``, in order (``settings``: :func:`parse_settings`'s)."""
    settings = settings if settings is not None else parse_settings(None)
    results = []
    for name, check in CHECKS.items():
        if settings[name]["severity"] == "off":
            results.append(CheckResult(name, "skipped", None, None, None, "turned off in the params file"))
        else:
            results.append(check(day, history, settings[name]))
    return results


# --------------------------------------------------------------------------- I/O


def day_figures(staging_dir: str | Path, run_date: str | dt.date) -> DayFigures:
    """The run date's figures, from what the earlier steps staged: ingest's counts (unique
    listeners among them), the day's KPI tables and the valid streams' latest listen time."""
    counts = ingest.read_counts(staging_dir)
    genre_kpis, hourly_kpis = (pd.read_parquet(kpi_path(staging_dir, table)) for table in KPI_TABLES)
    with staged_connection(staging_dir) as con:
        # Answered from the Parquet statistics; the distinct users were counted by ingest.
        (latest,) = con.execute("SELECT MAX(listen_time) FROM valid_streams").fetchone()
    return DayFigures(
        listen_date=pd.Timestamp(run_date).date(),
        hourly_listens=hourly_kpis.set_index("listen_hour")["listen_counts"].reindex(range(24), fill_value=0),
        genre_listens=genre_kpis.set_index("track_genre")["listen_count"].astype(float),
        latest_listen=pd.Timestamp(latest) if latest is not None else None,
        day_rows=int(counts["rows_read"] - counts["other_date"]),
        rejects={reason: int(counts[reason]) for reason in REJECT_REASONS},
        unknown_user_streams=int(counts["unknown_user_streams"]),
        unique_listeners=int(counts["unique_listeners"]),
    )


def read_history(
    warehouse_url: str, run_date: str | dt.date, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> History:
    """The loaded dates before ``run_date`` (at most :data:`WEEKS_BACK` weeks), read-only."""
    day = pd.Timestamp(run_date)
    earliest = day - pd.Timedelta(weeks=WEEKS_BACK)

    def before(table: str) -> pd.DataFrame:
        frame = warehouse.read_dated_table(warehouse_url, table, lock_timeout=lock_timeout)
        return frame[(frame["listen_date"] < day) & (frame["listen_date"] >= earliest)]

    hours = before("hourly_kpis")
    hourly = (
        hours.pivot_table(index="listen_date", columns="listen_hour", values="listen_counts", aggfunc="sum")
        .reindex(columns=range(24))
        .fillna(0)
        .astype(float)
    )
    genres = before("genre_level_kpis").pivot_table(
        index="listen_date", columns="track_genre", values="listen_count", aggfunc="sum"
    )
    genres = genres.reindex(index=hourly.index).fillna(0.0).astype(float)
    checks = before(TABLE)
    recorded = {
        name: rows.set_index("listen_date")["observed"].astype(float)
        for name, rows in checks[checks["listen_date"].isin(hourly.index)].groupby("check_name")
    }
    return History(hourly=hourly, genres=genres, recorded=recorded)


def flagged_dates(warehouse_url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> pd.DataFrame:
    """The dates a data check flagged (``kpi_checks``): ``listen_date`` (datetime64), ``status`` (``fail``
    when a check failed, else ``warn``) and ``checks`` (the flagged checks' names), oldest first."""
    results = warehouse.read_dated_table(warehouse_url, TABLE, lock_timeout=lock_timeout)
    return (
        results[results["status"].isin(FLAGGED)]
        .groupby("listen_date")
        .agg(status=("status", lambda s: "fail" if (s == "fail").any() else "warn"), checks=("check_name", ", ".join))
        .reset_index()
    )


def results_frame(results: list[CheckResult], run_date: str | dt.date) -> pd.DataFrame:
    """The results as rows of the warehouse table ``kpi_checks``."""
    rows = [{"listen_date": pd.Timestamp(run_date).date(), **r.record()} for r in results]
    return pd.DataFrame(rows, columns=TABLES[TABLE].column_names)


def save_results(results: list[CheckResult], staging_dir: str | Path, run_date: str | dt.date) -> Path:
    """Write the results for the load step (``kpis/kpi_checks.parquet`` of the staging folder)."""
    return save_kpis(results_frame(results, run_date), staging_dir, TABLE)


def load_day(
    warehouse_url: str,
    run_date: str | dt.date,
    staging_dir: str | Path,
    *,
    iam_role: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> LoadedDay:
    """Load the day's KPI tables and its check results (:func:`save_results`) in one transaction
    (:func:`streamkpi.warehouse.load_day`). When a check of severity ``fail`` flagged the day, only
    the check results are loaded, the KPI rows of the day stay as they were, and
    :class:`ChecksFailedError` names the checks."""
    files = {table: kpi_path(staging_dir, table) for table in (*KPI_TABLES, TABLE)}
    results = pd.read_parquet(files[TABLE])
    failed = results[results["status"] == "fail"]
    if len(failed):
        warehouse.load_day(warehouse_url, run_date, {TABLE: files[TABLE]}, iam_role=iam_role, lock_timeout=lock_timeout)
        named = "; ".join(f"{r.check_name}: {r.message}" for r in failed.itertuples())
        raise ChecksFailedError(
            f"{len(failed)} check(s) of severity fail flagged {run_date}, so its KPI rows are not loaded (the "
            f"warehouse keeps those it had; the check results are in {TABLE}): {named}"
        )
    return warehouse.load_day(warehouse_url, run_date, files, iam_role=iam_role, lock_timeout=lock_timeout)
