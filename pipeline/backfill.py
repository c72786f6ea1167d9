"""Backfill: a run for every date of a range, oldest first, past failures; Ctrl-C stops it; a summary table ends it."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TextIO

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, PipelineError
from .progress import format_duration
from .results import INTERRUPTED, NOT_RUN, SUCCEEDED, RunResult

COULD_NOT_START = "could not start"


@dataclass
class DateOutcome:
    """One date of a backfill."""

    run_date: str
    status: str  # the run's status, or could not start / interrupted / not run
    run_id: str | None = None
    duration_seconds: float | None = None
    detail: str = ""  # where it failed, or why it could not start (one line)


def dates_between(start: str, end: str) -> list[str]:
    """Every date from ``start`` to ``end`` included, as ``YYYY-MM-DD``; ``end`` before ``start`` is an error."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise PipelineError(f"backfill end {end} is before its start {start}")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def backfill(dates: list[str], run: Callable[[str], RunResult], *, stream: TextIO | None) -> list[DateOutcome]:
    """``run(date)`` for each date in order, whatever came before; ``stream`` (``None``: quiet) gets a line per date."""
    outcomes = []
    for number, run_date in enumerate(dates, 1):
        if stream is not None:
            print(f"backfill: date {number}/{len(dates)}: {run_date}", file=stream, flush=True)
        try:
            result = run(run_date)
        except PipelineError as exc:
            outcomes.append(DateOutcome(run_date, COULD_NOT_START, detail=str(exc).splitlines()[0]))
            continue
        except KeyboardInterrupt:
            outcomes.append(DateOutcome(run_date, INTERRUPTED, detail="stopped by Ctrl-C or SIGTERM"))
            outcomes.extend(DateOutcome(rest, NOT_RUN) for rest in dates[number:])
            break
        detail = result.error.describe().splitlines()[0] if result.error else ""
        took = (result.finished - result.started).total_seconds()
        outcomes.append(DateOutcome(run_date, result.status, result.run_id, took, detail))
    return outcomes


def summary_table(outcomes: list[DateOutcome]) -> str:
    """A plain-text table of the outcomes, one line per date, then the totals."""
    header = ("date", "status", "run id", "duration", "failure")
    rows = [(o.run_date, o.status, o.run_id or "-", format_duration(o.duration_seconds), o.detail) for o in outcomes]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [("  ".join(str(v).ljust(w) for v, w in zip(r, widths)) + "  " + r[-1]).rstrip() for r in [header, *rows]]
    tally = ", ".join(f"{n} {status}" for status, n in Counter(o.status for o in outcomes).items())
    total = format_duration(sum(o.duration_seconds or 0 for o in outcomes))
    return "\n".join([*lines, f"{len(outcomes)} dates: {tally}; {total} of runs"])


def exit_code(outcomes: list[DateOutcome]) -> int:
    """0 when every date succeeded, 130 when interrupted, else 1."""
    if any(o.status == INTERRUPTED for o in outcomes):
        return EXIT_INTERRUPTED
    return EXIT_OK if all(o.status == SUCCEEDED for o in outcomes) else EXIT_FAILED
