"""How often the data checks' defaults flag a clean day (false alarms), and which checks catch each
incident (detection), on generated histories.

Each history is generated with its own seed, then staged, computed, checked and loaded date by date
as a backfill does. With ``--incidents`` the last three dates get an incident each (``cutoff``,
``stale_catalog``, ``volume_drop``); the clean dates are counted for false alarms either way::

    python -m tools.check_rates [--seeds 5] [--days 35] [--streams-per-day 3000] [--users 1500] [--incidents]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from streamkpi import datachecks, ingest, kpis

from tools.sample_data import INCIDENTS, generate

START = dt.date(2024, 5, 27)  # a Monday


def check_day(input_root: Path, date: str, staging: Path, url: str) -> list[datachecks.CheckResult]:
    """What the notebooks 01 to 04 do for ``date``, in this process: stage, compute, check against the
    warehouse ``url``, and save the results for :func:`streamkpi.datachecks.load_day`."""
    ingest.stage_day(input_root, date, staging)
    for name in kpis.KPI_TABLES:
        kpis.save_kpis(kpis.compute_kpis(staging, name, date), staging, name)
    checked = datachecks.run_checks(datachecks.day_figures(staging, date), datachecks.read_history(url, date))
    datachecks.save_results(checked, staging, date)
    return checked


def judge_history(
    base: Path, url: str, *, seed: int, days: int, streams_per_day: int, users: int, incidents: dict
) -> dict[str, list]:
    """The check results of every date of one history generated into ``base``, by date, loaded into ``url``."""
    summary = generate(
        base / "input",
        start_date=START.isoformat(),
        days=days,
        streams_per_day=streams_per_day,
        n_users=users,
        n_tracks=max(2500, users),
        seed=seed,
        incidents=incidents,
    )
    results = {}
    for date in summary["dates"]:
        staging = base / "staging" / date
        checked = check_day(base / "input", date, staging, url)
        try:
            datachecks.load_day(url, date, staging)
        except datachecks.ChecksFailedError:
            pass
        results[date] = checked
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.check_rates", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--streams-per-day", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--incidents", action="store_true", help="an incident on each of the last three dates")
    args = parser.parse_args(argv)
    last = [START + dt.timedelta(days=args.days - 3 + i) for i in range(3)]
    incidents = {d.isoformat(): kind for d, kind in zip(last, INCIDENTS)} if args.incidents else {}
    judged, flagged, days_judged, days_flagged = Counter(), Counter(), 0, 0
    caught: dict[str, Counter] = defaultdict(Counter)  # incident kind -> check -> seeds it flagged in
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            size = {"days": args.days, "streams_per_day": args.streams_per_day, "users": args.users}
            url = f"duckdb:///{Path(tmp) / 'warehouse.duckdb'}"
            results = judge_history(Path(tmp), url, seed=seed, incidents=incidents, **size)
        for date, day_results in results.items():
            if date in incidents:
                caught[incidents[date]].update(f"{r.check_name} ({r.status})" for r in day_results if r.flagged)
                continue
            active = [r for r in day_results if r.status != "skipped"]
            days_judged += bool(active)
            days_flagged += any(r.flagged for r in active)
            for r in active:
                judged[r.check_name] += 1
                flagged[r.check_name] += r.flagged
                if r.flagged:
                    print(f"false alarm: seed {seed} {date} {r.check_name} {r.status}: {r.message}")
    print(f"{args.seeds} histories of {args.days} days x ~{args.streams_per_day:,} streams, {args.users:,} users")
    print("false alarms on the clean dates:")
    for name in datachecks.CHECKS:
        print(f"  {name:26} {flagged[name]:3} flagged of {judged[name]:4} judged")
    total_judged, total_flagged = sum(judged.values()), sum(flagged.values())
    print(f"  all checks: {total_flagged} of {total_judged} ({total_flagged / max(total_judged, 1):.2%})")
    print(f"  dates with any flag: {days_flagged} of {days_judged} judged ({days_flagged / max(days_judged, 1):.2%})")
    for date, kind in incidents.items():
        found = ", ".join(f"{check} {n}/{args.seeds}" for check, n in caught[kind].most_common()) or "nothing"
        print(f"detection, {kind} on {date}: {found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
