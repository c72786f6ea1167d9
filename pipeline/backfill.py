"""Backfill: a run for every date of a range, oldest first, N at once, past failures; Ctrl-C stops it; a summary."""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
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


def backfill(dates: list[str], run: Callable[..., RunResult], *, stream: TextIO | None, jobs=1) -> list[DateOutcome]:
    """``run(date, gate=)`` for each date, ``jobs`` at once in date order, past failures; ``gate()``: whether every
    earlier date's run ended. At Ctrl-C the gates raise it: the runs in flight are interrupted, the rest not run."""
    ended, stop = set(), threading.Event()

    def one(number: int, run_date: str) -> DateOutcome:
        def gate() -> bool:  # asked by the date's run while it waits
            if stop.is_set():
                raise KeyboardInterrupt
            return ended.issuperset(dates[: number - 1])

        try:
            if stop.is_set():
                return DateOutcome(run_date, NOT_RUN)
            if stream is not None:  # one write: the lines of dates at once do not mix
                print(f"backfill: date {number}/{len(dates)}: {run_date}\n", end="", file=stream, flush=True)
            result = run(run_date, gate=gate)
        except PipelineError as exc:
            return DateOutcome(run_date, COULD_NOT_START, detail=str(exc).splitlines()[0])
        except BaseException as exc:  # Ctrl-C or SIGTERM (the run's, or its gate's); else a full disk or a bug
            stop.set()  # no later date starts
            if isinstance(exc, KeyboardInterrupt):
                return DateOutcome(run_date, INTERRUPTED, detail="stopped by Ctrl-C or SIGTERM")
            raise  # for the CLI to say what it was, as for one run
        finally:
            ended.add(run_date)
        detail = result.error.describe().splitlines()[0] if result.error else ""
        took = (result.finished - result.started).total_seconds()
        return DateOutcome(run_date, result.status, result.run_id, took, detail)

    with ThreadPoolExecutor(jobs, "date") as dates_at_once:
        futures = [dates_at_once.submit(one, number, run_date) for number, run_date in enumerate(dates, 1)]
        try:  # timed waits: a signal that another thread took still reaches this one within 0.5 s
            while wait(futures, timeout=0.5).not_done:
                pass
        except KeyboardInterrupt:
            stop.set()
    return [future.result() for future in futures]


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
    interrupted = any(o.status == INTERRUPTED for o in outcomes)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK if all(o.status == SUCCEEDED for o in outcomes) else EXIT_FAILED
