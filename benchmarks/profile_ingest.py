"""Where the ingest step spends its time: ``stage_day`` run in-process, each step timed.

    .venv/bin/python benchmarks/profile_ingest.py --input build/bench-data/10000000/input \\
        [--date 2024-06-25] [--staging build/bench-work/profile-staging] [--threads N]

A diagnosis aid for the tuning pass (not part of ``make bench``). It wraps, at run time and
without changing the library, the ingest helpers that exist (``_register_text``: Arrow CSV
reading into a DuckDB table; ``_run``/``_copy``: each SQL statement or COPY; the input checks
and checksums; the S3 publish) and prints one line per call in order, then totals per helper,
the whole ``stage_day`` wall and CPU time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import functools
import re
import resource
import shutil
import sys
import time
from pathlib import Path

WRAPPED = {
    "streamkpi.ingest": ("_register_text", "_run", "_copy", "check_required_columns", "describe_files"),
    "streamkpi.inputs": ("describe_files", "check_required_columns"),
    "streamkpi.storage": ("publish",),
}


def _label(name: str, args) -> str:
    if name == "_register_text" and len(args) > 1:
        return f"{name}: {args[1]} (Arrow CSV read -> DuckDB temp table)"
    for a in args:
        if isinstance(a, str) and a.strip():
            # the statement, not the comments of sql/ingest_*.sql it opens with
            text = re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", a)).strip()
            return f"{name}: {text[:110]}"
    return name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Time each step of streamkpi.ingest.stage_day.")
    ap.add_argument("--input", required=True)
    ap.add_argument("--date", default="2024-06-25")
    ap.add_argument("--staging", default="build/bench-work/profile-staging")
    a = ap.parse_args(argv)

    import importlib

    calls: list[tuple[str, float, float]] = []
    depth = [0]
    for module_name, names in WRAPPED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            fn = getattr(module, name, None)
            if not callable(fn) or getattr(fn, "_profiled", False):
                continue

            def wrapper(*args, __fn=fn, __name=name, **kwargs):
                depth[0] += 1
                w0, c0 = time.perf_counter(), time.process_time()
                try:
                    return __fn(*args, **kwargs)
                finally:
                    depth[0] -= 1
                    calls.append(
                        ("  " * depth[0] + _label(__name, args), time.perf_counter() - w0, time.process_time() - c0)
                    )

            functools.update_wrapper(wrapper, fn)
            wrapper._profiled = True
            setattr(module, name, wrapper)

    from streamkpi import ingest

    staging = Path(a.staging)
    if staging.exists():
        shutil.rmtree(staging)
    w0, c0 = time.perf_counter(), time.process_time()
    summary = ingest.stage_day(a.input, a.date, staging)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    print(f"{'wall s':>8} {'cpu s':>8}  step (in completion order; nested calls indented)")
    for label, w, c in calls:
        print(f"{w:8.2f} {c:8.2f}  {label}")
    totals: dict[str, list[float]] = {}
    for label, w, c in calls:
        if label.startswith(" "):
            continue
        key = label.split(":")[0]
        t = totals.setdefault(key, [0.0, 0.0, 0])
        t[0] += w
        t[1] += c
        t[2] += 1
    print("\ntotals per helper (top level):")
    for key, (w, c, n) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        print(f"{w:8.2f} {c:8.2f}  {key} x{n}")
    print(
        f"\nstage_day: wall {wall:.2f} s, cpu {cpu:.2f} s (cpu/wall {cpu / wall:.2f}), "
        f"peak RSS {peak:.2f} GiB; counts {summary.counts}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
