"""``make bench``: the project against the seed approach, the floor and the limit, for N streams a day.

    .venv/bin/python benchmarks/bench.py --sizes 1e6 1e7 [options]   (or: make bench SIZES="1e6 1e7")

For each N: make (or reuse) the bench day with the project's generator, then run in turn, on
the same files, each in a fresh measured process:

- ``project``: ``python -m pipeline run`` for the day (five notebooks, HTML reports, load)
  with a params file pointing input, warehouse and reports into ``build/bench-work/<N>/``;
- ``seed``: ``benchmarks/seed_approach.py`` (the original DAG's pandas approach);
- ``floor``: ``benchmarks/floor.py`` (one DuckDB SQL script from the CSVs to both tables);
- ``limit``: ``benchmarks/limit.py`` (DuckDB's typed read of the stream files, no KPI).

Then check that the project's KPI tables (read from its DuckDB warehouse) equal the floor's,
and (for information) the seed's (the limit writes none: not compared), and write
``reports/bench/<timestamp>/`` with ``summary.md``, ``summary.html`` (self-contained),
``chart.png``, ``results.json``, the project's manifests and every contender's output. Exit
status 0 when every contender ran and the project equals the floor at every N, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import compare  # noqa: E402
from benchmarks.datasets import DEFAULT_DATA_DIR, ensure_dataset, parse_size, size_label  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
DEFAULT_WORK_DIR = REPO / "build" / "bench-work"
DEFAULT_OUT_DIR = REPO / "reports" / "bench"
CONTENDERS = ("project", "seed", "floor", "limit")
OVERHEAD_STREAMS = 1000


class Bench:
    def __init__(self, args):
        self.args = args
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.out_dir = Path(args.out) / self.stamp
        self.out_dir.mkdir(parents=True, exist_ok=False)
        self.log_file = open(self.out_dir / "bench.log", "a", encoding="utf-8")
        self.python = sys.executable

    def log(self, text: str) -> None:
        line = f"[{dt.datetime.now().strftime('%H:%M:%S')}] {text}"
        print(line, file=sys.stderr, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    # ------------------------------------------------------------------ contenders

    def command(self, contender: str, root: Path, work: Path) -> list[str]:
        date, gap = self.args.date, str(self.args.gap)
        if contender == "project":
            params = work / "params.yaml"
            params.write_text(
                "# written by benchmarks/bench.py\n"
                f"input_uri: {json.dumps(str(root))}\n"
                f"warehouse_url: {json.dumps('duckdb:///' + str(work / 'warehouse.duckdb'))}\n"
                f"reports_dir: {json.dumps(str(work / 'reports'))}\n"
                f"session_gap_minutes: {gap}\n"
            )
            return [self.python, "-m", "pipeline", "run", "--date", date, "--params", str(params)]
        if contender == "seed":
            return [
                self.python,
                str(BENCH / "seed_approach.py"),
                "--input",
                str(root),
                "--date",
                date,
                "--db",
                str(work / "seed.sqlite"),
                "--gap",
                gap,
            ]
        if contender == "floor":
            return [
                self.python,
                str(BENCH / "floor.py"),
                "--input",
                str(root),
                "--date",
                date,
                "--db",
                str(work / "floor.duckdb"),
                "--gap",
                gap,
            ]
        if contender == "limit":
            return [self.python, str(BENCH / "limit.py"), "--input", str(root)]
        raise ValueError(contender)

    def run_contender(self, contender: str, n: int, root: Path, work_root: Path) -> dict:
        """Run ``contender`` ``--repeat`` times, each in its own folder; the median run of those that succeeded
        (the lower of the middle two for an even count) is kept with its folder, else the last failure."""
        runs = []
        for attempt in range(self.args.repeat):
            work = work_root / (contender if self.args.repeat == 1 else f"{contender}-{attempt + 1}")
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            cmd = self.command(contender, root, work)
            self.log(
                f"N={size_label(n)} {contender}: running"
                f"{'' if self.args.repeat == 1 else f' ({attempt + 1}/{self.args.repeat})'} ..."
            )
            m = run_measured(cmd, cwd=REPO, log_path=work / "output.log", interval=self.args.interval)
            runs.append((m, work))
            self.log(
                f"N={size_label(n)} {contender}: exit {m.exit_code}, wall {m.wall_seconds:.1f} s, "
                f"cpu {m.cpu_seconds:.1f} s, peak RSS {m.peak_rss_bytes / 2**30:.2f} GiB, "
                f"other load {m.other_load_cores} cores"
            )
        succeeded = sorted((run for run in runs if run[0].exit_code == 0), key=lambda run: run[0].wall_seconds)
        best = succeeded[(len(succeeded) - 1) // 2] if succeeded else runs[-1]
        for _, work in runs:
            if work != best[1]:
                shutil.rmtree(work)
        m, work = best
        walls = [run[0].wall_seconds for run in runs]
        result = {"measurement": m.to_dict(), "work_dir": str(work), "walls": walls, "_measurement": m}
        if m.exit_code != 0:
            tail = (work / "output.log").read_text(errors="replace").splitlines()[-15:]
            result["error_tail"] = tail
        return result

    # ------------------------------------------------------------------ project details

    @staticmethod
    def project_run_dir(work: Path) -> Path | None:
        runs = sorted((work / "reports").glob("*/*/manifest.json"))
        return runs[-1].parent if runs else None

    @staticmethod
    def stage_resources(manifest: dict, m) -> dict:
        """Per stage (same names as ``stages``): peak tree RSS (bytes) and CPU seconds, from the samples."""

        def u(s):
            return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() if s else None

        windows = []
        notebooks = manifest.get("notebooks", [])
        run_start, run_end = u(manifest.get("started")), u(manifest.get("finished"))
        if run_start:
            windows.append(("startup_and_exit", m.started_unix, run_start))
        for i, nb in enumerate(notebooks):
            name = Path(nb["name"]).stem
            start, end = u(nb.get("started")), u(nb.get("finished"))
            if start and end:
                windows.append((name, start, end))
                nxt = u(notebooks[i + 1].get("started")) if i + 1 < len(notebooks) else run_end
                if nxt and nxt > end:
                    windows.append((f"render_{name}", end, nxt))
        out = {"peak_rss_bytes": {}, "cpu_seconds": {}}
        for name, a, b in windows:
            rss, cpu = m.window(a, b)
            out["peak_rss_bytes"][name] = rss
            out["cpu_seconds"][name] = cpu
        return out

    @staticmethod
    def stages(manifest: dict, wall: float) -> dict:
        """Seconds per stage: process start-up, each notebook, the rendering after each."""

        def t(s):
            return dt.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None

        notebooks = manifest.get("notebooks", [])
        out = {"startup_and_exit": round(wall - (manifest.get("duration_seconds") or 0), 3)}
        run_end = t(manifest.get("finished"))
        for i, nb in enumerate(notebooks):
            name = Path(nb["name"]).stem
            out[name] = nb.get("duration_seconds")
            if nb.get("render_seconds") is not None:  # if a later runner records it
                out[f"render_{name}"] = nb["render_seconds"]
                continue
            nxt = (
                t(notebooks[i + 1]["started"])
                if i + 1 < len(notebooks) and notebooks[i + 1].get("started")
                else run_end
            )
            end = t(nb.get("finished"))
            if nxt and end:
                gap = (nxt - end).total_seconds()
                out[f"render_{name}"] = round(max(gap, 0.0), 3)
        return out

    @staticmethod
    def cells(run_dir: Path) -> dict:
        """Per executed notebook: papermill's duration, the sum of its cells, and its cells' durations
        (the difference is kernel start-up and papermill's own work)."""
        out = {}
        for path in sorted(run_dir.glob("[0-9][0-9]_*.ipynb")):
            try:
                nb = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            cells = []
            for c in nb.get("cells", []):
                if c.get("cell_type") != "code":
                    continue
                src = "".join(c.get("source", "")).strip().splitlines()
                d = (c.get("metadata", {}).get("papermill") or {}).get("duration")
                cells.append({"first_line": src[0][:80] if src else "", "seconds": round(d or 0.0, 3)})
            total = (nb.get("metadata", {}).get("papermill") or {}).get("duration")
            out[path.stem] = {
                "notebook_seconds": round(total, 3) if total else None,
                "cells_seconds": round(sum(c["seconds"] for c in cells), 3),
                "cells": cells,
            }
        return out

    # ------------------------------------------------------------------ one size

    def bench_size(self, n: int) -> dict:
        a = self.args
        root, gen = ensure_dataset(n, Path(a.data_dir), regenerate=a.regenerate, log=self.log)
        entry = {"n": n, "label": size_label(n), "input_root": str(root), "generator": gen, "contenders": {}}
        work_root = Path(a.work_dir) / str(n)
        shutil.rmtree(work_root, ignore_errors=True)  # an earlier bench's folders, whatever its --repeat
        for contender in a.contenders:
            if contender == "seed" and n > a.seed_max:
                entry["contenders"]["seed"] = {
                    "skipped": f"N > --seed-max {a.seed_max:.0e} (whole-day pandas frames; see the memory column)"
                }
                self.log(f"N={size_label(n)} seed: skipped (N > --seed-max)")
                continue
            entry["contenders"][contender] = self.run_contender(contender, n, root, work_root)

        size_dir = self.out_dir / size_label(n)
        size_dir.mkdir(exist_ok=True)
        for contender, res in entry["contenders"].items():
            log = Path(res.get("work_dir", "/nonexistent")) / "output.log"
            if log.is_file():
                shutil.copy(log, size_dir / f"{contender}-output.log")

        project = entry["contenders"].get("project")
        if project and "measurement" in project:
            run_dir = self.project_run_dir(Path(project["work_dir"]))
            if run_dir:
                manifest = json.loads((run_dir / "manifest.json").read_text())
                shutil.copy(run_dir / "manifest.json", size_dir / "project-manifest.json")
                project["run_dir"] = str(run_dir)
                project["status"] = manifest.get("status")
                project["stages"] = self.stages(manifest, project["measurement"]["wall_seconds"])
                project["stage_resources"] = self.stage_resources(manifest, project["_measurement"])
                project["cells"] = self.cells(run_dir)
                counts = next(
                    (
                        nb.get("scraps", {}).get("counts")
                        for nb in manifest.get("notebooks", [])
                        if nb.get("scraps", {}).get("counts")
                    ),
                    None,
                )
                project["counts"] = counts
        entry["checks"] = self.checks(entry)
        return entry

    def checks(self, entry: dict) -> dict:
        date = self.args.date
        c = entry["contenders"]

        def tables(name):
            res = c.get(name)
            if not res or "measurement" not in res or res["measurement"]["exit_code"] != 0:
                return None
            work = Path(res["work_dir"])
            try:
                if name == "project":
                    return {
                        t: compare.read_duckdb(work / "warehouse.duckdb", t, date, "reporting_schema")
                        for t in compare.KEYS
                    }
                if name == "floor":
                    return {t: compare.read_duckdb(work / "floor.duckdb", t, date) for t in compare.KEYS}
                return {t: compare.read_sqlite(work / "seed.sqlite", t, date) for t in compare.KEYS}
            except Exception as exc:  # a missing table is a failed check, not a crash
                return {"error": f"{type(exc).__name__}: {exc}"}

        floor = tables("floor")
        out = {}
        for name in ("project", "seed"):
            if name not in c or "skipped" in c[name]:
                continue
            other = tables(name)
            if floor is None or other is None or "error" in floor or "error" in other:
                why = (floor or {}).get("error") or (other or {}).get("error") or "a contender failed"
                out[f"{name}_vs_floor"] = {"equal": False, "differences": [f"not compared: {why}"]}
                continue
            diffs = []
            rows = {}
            for t in compare.KEYS:
                diffs += compare.differences(t, other[t], floor[t], (name, "floor"))
                rows[t] = [len(other[t]), len(floor[t])]
            out[f"{name}_vs_floor"] = {"equal": not diffs, "differences": diffs[:30], "rows": rows}
            self.log(
                f"N={entry['label']} {name} vs floor: {'EQUAL' if not diffs else 'DIFFERENT'} "
                + ", ".join(f"{t} {r[0]}/{r[1]} rows" for t, r in rows.items())
            )
            for d in diffs[:10]:
                self.log(f"    {d}")
        if "limit" in c:
            out["limit_vs_floor"] = {"equal": None, "not_compared": "reads only: the limit writes no KPI tables"}
        return out

    # ------------------------------------------------------------------ fixed overheads

    def overheads(self) -> dict:
        self.log(f"overheads: project on a day of {OVERHEAD_STREAMS} streams, then import/kernel/render probes ...")
        root, gen = ensure_dataset(
            OVERHEAD_STREAMS, Path(self.args.data_dir), name=f"overhead-{OVERHEAD_STREAMS}", users=50_000, log=self.log
        )
        work_root = Path(self.args.work_dir) / f"overhead-{OVERHEAD_STREAMS}"
        res = self.run_contender("project", OVERHEAD_STREAMS, root, work_root)
        run_dir = self.project_run_dir(Path(res["work_dir"]))
        if run_dir:
            manifest = json.loads((run_dir / "manifest.json").read_text())
            res["stages"] = self.stages(manifest, res["measurement"]["wall_seconds"])
            res["stage_resources"] = self.stage_resources(manifest, res["_measurement"])
            res["cells"] = self.cells(run_dir)
        probes_dir = run_dir
        big = [
            Path(e["contenders"]["project"].get("run_dir", ""))
            for e in self.results["sizes"]
            if e["contenders"].get("project", {}).get("run_dir")
        ]
        if big:
            probes_dir = big[-1]  # render the largest run's notebooks: the realistic render cost
        cmd = [self.python, str(BENCH / "overheads.py"), "--repeat", "2"]
        if probes_dir:
            cmd += ["--run-dir", str(probes_dir)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        probes = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-2000:]}
        if probes_dir:
            probes["rendered_run"] = str(probes_dir)
        self.log("overheads: " + ", ".join(f"{k} {v}" for k, v in probes.items() if isinstance(v, float)))
        return {"streams": OVERHEAD_STREAMS, "project": res, "probes": probes}

    # ------------------------------------------------------------------ all

    def machine(self) -> dict:
        import duckdb
        import pandas
        import psutil
        import pyarrow

        def git(*args):
            try:
                return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
            except OSError:
                return None

        return {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pandas": pandas.__version__,
            "pyarrow": pyarrow.__version__,
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain")),
            "loadavg_start": os.getloadavg(),
        }

    def run(self) -> int:
        a = self.args
        self.results = {
            "timestamp": self.stamp,
            "run_date": a.date,
            "session_gap_minutes": a.gap,
            "sizes_requested": a.sizes,
            "machine": self.machine(),
            "sizes": [],
        }
        self.log(
            f"bench {self.stamp}: sizes {', '.join(size_label(n) for n in a.sizes)}; "
            f"contenders {', '.join(a.contenders)}; load average {self.results['machine']['loadavg_start']}"
        )
        try:
            for n in a.sizes:
                self.results["sizes"].append(self.bench_size(n))
                self.write()  # partial results survive a later failure
            if not a.no_overheads:
                self.results["overheads"] = self.overheads()
        finally:
            self.results["machine"]["loadavg_end"] = os.getloadavg()
            self.write()
        ok = all(
            res.get("skipped") or res["measurement"]["exit_code"] == 0
            for e in self.results["sizes"]
            for res in e["contenders"].values()
        ) and all(
            e["checks"]
            .get("project_vs_floor", {})
            .get("equal", "project" not in a.contenders or "floor" not in a.contenders)
            for e in self.results["sizes"]
        )
        self.log(f"bench: {'OK' if ok else 'FAILED'}; summary {self.out_dir / 'summary.html'}")
        return 0 if ok else 1

    def write(self) -> None:
        from benchmarks.report import write_reports

        def public(x):
            if isinstance(x, dict):
                return {k: public(v) for k, v in x.items() if not k.startswith("_")}
            if isinstance(x, list):
                return [public(v) for v in x]
            return x

        (self.out_dir / "results.json").write_text(json.dumps(public(self.results), indent=2, default=str) + "\n")
        write_reports(self.results, self.out_dir)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Benchmark the project against the seed approach, the floor and the limit."
    )
    ap.add_argument("--sizes", nargs="+", default=["1e6", "1e7"], help="streams per day, e.g. 1e6 1e7 1e8")
    ap.add_argument("--date", default="2024-06-25", help="the bench day (default 2024-06-25)")
    ap.add_argument("--gap", type=int, default=30, help="session gap in minutes (default 30)")
    ap.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    ap.add_argument(
        "--seed-max",
        type=float,
        default=3e7,
        help="skip the seed approach above this N (default 3e7: its whole-day frames need RAM)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the median run is kept")
    ap.add_argument("--interval", type=float, default=0.1, help="RSS sampling interval in seconds")
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="cache of generated days")
    ap.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="where contenders write (wiped per N)")
    ap.add_argument("--out", default=str(DEFAULT_OUT_DIR), help="where reports/bench/<timestamp>/ goes")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the cached bench days")
    ap.add_argument("--no-overheads", action="store_true", help="skip the fixed-overhead probes")
    a = ap.parse_args(argv)
    sizes = []
    for text in a.sizes:
        for part in text.replace(",", " ").split():
            sizes.append(parse_size(part))
    a.sizes = sizes
    dt.date.fromisoformat(a.date)
    if a.repeat < 1:
        ap.error("--repeat must be >= 1")
    return a


def main(argv=None) -> int:
    return Bench(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
