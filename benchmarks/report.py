"""The bench summary: ``summary.md``, ``summary.html`` (self-contained, offline) and ``chart.png``.

Everything is rendered from the ``results`` dict that ``bench.py`` also writes as
``results.json``, so the three files always agree.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

NAMES = {"project": "project", "seed": "seed approach", "floor": "floor", "limit": "limit"}
COLORS = {"project": "#0173b2", "seed": "#de8f05", "floor": "#029e73", "limit": "#cc78bc"}
# Issue 13's targets by N: the most project / floor may be, and the most the project's process tree may hold.
TARGETS = {10_000_000: {"ratio": 1.0}, 100_000_000: {"ratio": 0.6, "peak_rss_gb": 3.0}}
STAGE_ORDER = (
    "startup_and_exit",
    "01_ingest",
    "render_01_ingest",
    "02_genre_kpis",
    "render_02_genre_kpis",
    "03_hourly_kpis",
    "render_03_hourly_kpis",
    "04_checks",
    "render_04_checks",
    "05_load",
    "render_05_load",
)


def _m(entry: dict, contender: str) -> dict | None:
    res = entry["contenders"].get(contender)
    return res.get("measurement") if res and "measurement" in res else None


def _ok(m: dict | None) -> bool:
    return bool(m) and m["exit_code"] == 0


def _secs(x) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x < 100 else f"{x:.0f} s")


def _gib(b) -> str:
    return "–" if b is None else f"{b / 2**30:.2f} GiB"


def _ratio(a, b) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def _cell(entry, contender, key, fmt):
    m = _m(entry, contender)
    res = entry["contenders"].get(contender)
    if res is None:
        return "not run"
    if "skipped" in res:
        return "skipped"
    if not _ok(m):
        return f"FAILED (exit {m['exit_code']})"
    return fmt(m[key])


def _wall(entry, contender):
    m = _m(entry, contender)
    return m["wall_seconds"] if _ok(m) else None


def figures_rows(results: dict) -> list[list[str]]:
    rows = []
    for e in results["sizes"]:
        p, s, f, lim = (_wall(e, c) for c in ("project", "seed", "floor", "limit"))
        rows.append(
            [
                f"{e['n']:,}",
                *(_cell(e, c, "wall_seconds", _secs) for c in NAMES),
                _ratio(p, f),
                _ratio(p, lim),
                _ratio(f, lim),
                _ratio(s, p),
                " / ".join(_cell(e, c, "cpu_seconds", _secs) for c in NAMES),
                " / ".join(_cell(e, c, "peak_rss_bytes", _gib) for c in NAMES),
                " / ".join(_cell(e, c, "other_load_cores", lambda x: "?" if x is None else f"{x:.2f}") for c in NAMES),
            ]
        )
    return rows


FIGURES_HEADER = [
    "N streams",
    "project wall",
    "seed wall",
    "floor wall",
    "limit wall",
    "project / floor",
    "project / limit",
    "floor / limit",
    "seed / project",
    "CPU user+sys (project / seed / floor / limit)",
    "peak RSS, process tree (project / seed / floor / limit)",
    "other load, cores (project / seed / floor / limit)",
]


def stage_rows(results: dict, kind: str = "wall") -> tuple[list[str], list[list[str]]]:
    """The project's stages per N: ``kind`` wall seconds (manifest), CPU seconds or peak RSS (samples)."""

    def pick(res):
        if kind == "wall":
            return res.get("stages")
        key = "cpu_seconds" if kind == "cpu" else "peak_rss_bytes"
        return (res.get("stage_resources") or {}).get(key)

    def total(res):
        m = res.get("measurement") or {}
        if m.get("exit_code") != 0:
            return None
        return m.get({"wall": "wall_seconds", "cpu": "cpu_seconds"}.get(kind, "peak_rss_bytes"))

    fmt = _gib if kind == "rss" else _secs
    entries = [
        (f"{e['n']:,}", pick(e["contenders"].get("project", {})), total(e["contenders"].get("project", {})))
        for e in results["sizes"]
    ]
    ov = results.get("overheads")
    if ov and pick(ov.get("project", {})):
        entries.insert(0, (f"{ov['streams']:,} (overhead run)", pick(ov["project"]), total(ov["project"])))
    keys = [k for k in STAGE_ORDER if any(st and k in st for _, st, _ in entries)]
    keys += sorted({k for _, st, _ in entries if st for k in st} - set(keys))
    header = ["N streams"] + keys + [{"wall": "wall", "cpu": "CPU (os.wait4)", "rss": "peak"}[kind]]
    rows = []
    for label, st, whole in entries:
        if not st:
            continue
        rows.append([label] + [fmt(st.get(k)) for k in keys] + [fmt(whole)])
    return header, rows


def cell_rows(results: dict, threshold: float = 0.5) -> list[list[str]]:
    """The project's slow cells (>= threshold s) and each notebook's time outside its cells."""
    entries = []
    ov = results.get("overheads")
    if ov and ov.get("project", {}).get("cells"):
        entries.append((f"{ov['streams']:,}", ov["project"]["cells"]))
    entries += [(f"{e['n']:,}", e["contenders"].get("project", {}).get("cells")) for e in results["sizes"]]
    rows = []
    for label, cells in entries:
        for nb, info in (cells or {}).items():
            if info.get("notebook_seconds") is not None:
                rows.append(
                    [
                        label,
                        nb,
                        "(kernel start + papermill, outside cells)",
                        _secs(info["notebook_seconds"] - info["cells_seconds"]),
                    ]
                )
            rows += [
                [label, nb, c["first_line"], _secs(c["seconds"])] for c in info["cells"] if c["seconds"] >= threshold
            ]
    return rows


def target_lines(results: dict) -> list[str]:
    """Issue 13's targets (``TARGETS``) at each N, met or not by this sitting's figures; other sizes: the ratio."""

    def verdict(value, most):
        return "not measured" if value is None else ("met" if value <= most else "not met")

    out = []
    for e in results["sizes"]:
        p, f = _wall(e, "project"), _wall(e, "floor")
        ratio = p / f if p and f else None
        target = TARGETS.get(e["n"])
        if not target:
            out.append(f"{e['n']:,}: project / floor {_ratio(p, f)} (no target at this size)")
            continue
        parts = [f"project / floor {_ratio(p, f)} (target <= {target['ratio']}: {verdict(ratio, target['ratio'])})"]
        if "peak_rss_gb" in target:
            m = _m(e, "project")
            gb = m["peak_rss_bytes"] / 1e9 if _ok(m) else None
            parts.append(
                f"project peak RSS {'–' if gb is None else f'{gb:.2f} GB'} "
                f"(target <= {target['peak_rss_gb']} GB: {verdict(gb, target['peak_rss_gb'])})"
            )
        out.append(f"{e['n']:,}: " + "; ".join(parts))
    return out


def check_lines(results: dict) -> list[tuple[str, bool | None, list[str]]]:
    """(line, equal, differences) per check; equal is None for a contender not compared (the limit)."""
    out = []
    for e in results["sizes"]:
        for name, chk in e.get("checks", {}).items():
            who = name.replace("_vs_floor", "")
            if "not_compared" in chk:
                out.append((f"N={e['n']:,}: {who}: not compared ({chk['not_compared']})", None, []))
                continue
            rows = chk.get("rows") or {}
            detail = ", ".join(f"{t} {r[0]} rows" for t, r in rows.items())
            out.append(
                (
                    f"N={e['n']:,}: {who} vs floor: {'PASS (equal)' if chk['equal'] else 'FAIL (different)'}"
                    + (f" — {detail}" if detail else ""),
                    chk["equal"],
                    chk.get("differences", []),
                )
            )
    return out


CHECK_CLASS = {True: "pass", False: "fail", None: "not-compared"}


def overhead_rows(results: dict) -> list[list[str]]:
    probes = (results.get("overheads") or {}).get("probes") or {}
    return [[k, _secs(v)] for k, v in probes.items() if isinstance(v, (int, float))]


# --------------------------------------------------------------------------- chart


def chart_png(results: dict) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    sizes = results["sizes"]
    if not sizes:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax_t, ax_m, ax_s = axes
    for c in NAMES:
        pts = [(e["n"], _m(e, c)) for e in sizes if _ok(_m(e, c))]
        if not pts:
            continue
        ns = [n for n, _ in pts]
        ax_t.plot(ns, [m["wall_seconds"] for _, m in pts], "o-", color=COLORS[c], label=f"{NAMES[c]} wall")
        ax_t.plot(ns, [m["cpu_seconds"] for _, m in pts], "s--", color=COLORS[c], alpha=0.6, label=f"{NAMES[c]} CPU")
        ax_m.plot(ns, [m["peak_rss_bytes"] / 2**30 for _, m in pts], "o-", color=COLORS[c], label=NAMES[c])
    for ax, title, unit in ((ax_t, "time against N", "seconds"), (ax_m, "peak RSS (process tree) against N", "GiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("streams in the day (N)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.legend(fontsize=8)
    header, rows = stage_rows(results)
    st_entries = [(e["n"], e["contenders"].get("project", {}).get("stages")) for e in sizes]
    st_entries = [(n, st) for n, st in st_entries if st]
    if st_entries:
        keys = [k for k in STAGE_ORDER if any(k in st for _, st in st_entries)]
        keys += sorted({k for _, st in st_entries for k in st} - set(keys))
        palette = plt.get_cmap("tab20").colors
        labels = [f"{n:,}" for n, _ in st_entries]
        bottom = [0.0] * len(st_entries)
        for i, k in enumerate(keys):
            vals = [st.get(k) or 0.0 for _, st in st_entries]
            ax_s.bar(labels, vals, bottom=bottom, color=palette[i % len(palette)], label=k)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax_s.set_title("project: seconds per stage")
        ax_s.set_xlabel("streams in the day (N)")
        ax_s.set_ylabel("seconds")
        ax_s.legend(fontsize=7, loc="upper left")
    else:
        ax_s.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------- documents


def _md_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _intro(results: dict) -> list[str]:
    m = results["machine"]
    return [
        f"Run date {results['run_date']}, session gap {results['session_gap_minutes']} min; "
        f"machine: {m['cpus']} cores, {m['memory_gib']} GiB RAM, {m['platform']}; Python {m['python']}, "
        f"DuckDB {m['duckdb']}, pandas {m['pandas']}, pyarrow {m['pyarrow']}; git {m['git_commit']}"
        f"{' (dirty)' if m.get('git_dirty') else ''}.",
        f"Load average at start {tuple(m.get('loadavg_start') or ())}, at end {tuple(m.get('loadavg_end') or ())} "
        "(other engineers' jobs share the machine: the 'other load' column is the average number of cores "
        "busy with other work while each contender ran).",
    ]


NOTES = [
    "Each contender runs in a fresh process; wall is the elapsed time; CPU is user+sys from os.wait4, "
    "which covers the process and every descendant it reaped (papermill kernels, the seed's task processes).",
    "Peak RSS is the peak of the sum of the RSS of every live process of the tree, sampled every 0.1 s "
    "(at least the largest single process's ru_maxrss); shared pages count once per process.",
    "Inputs are read from a warm page cache (generated, then read by each contender in turn).",
    "project = `python -m pipeline run` (five notebooks, HTML reports, load into DuckDB); seed approach = "
    "benchmarks/seed_approach.py (pandas, whole-day frames, one process per DAG task, executemany into SQLite); "
    "floor = benchmarks/floor.sql (one DuckDB script from the CSVs to both tables); limit = benchmarks/limit.py "
    "(DuckDB's typed read of every stream file, aggregated so every field is parsed; no KPI, nothing written, "
    "so not compared).",
    "Per-stage CPU and peak RSS come from the samples falling in each stage's time window (CPU: the "
    "processes' cumulative CPU as last seen, so a process's final < 0.1 s may be missing).",
    "Stages come from the project's manifest.json: startup_and_exit = process wall minus the run's duration "
    "(interpreter, imports, params, inspecting the notebooks); NN = each notebook's execution (its kernel's "
    "start and its cells); render_NN = the gap until the next notebook "
    "starts. 02 and 03 run side by side and HTML is rendered in the background, so stages overlap and do "
    "not add up to the wall time.",
]


def generator_rows(results: dict) -> list[list[str]]:
    rows = []
    for e in results["sizes"]:
        g = e.get("generator") or {}
        rows.append(
            [
                f"{e['n']:,}",
                f"{(g.get('bytes') or 0) / 1e6:,.0f} MB",
                str(g.get("files")),
                "cached" if g.get("cached") else f"generated in {_secs(g.get('generate_seconds'))}",
                e["input_root"],
            ]
        )
    return rows


def counts_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    keys = ["rows_read", "valid_streams", "other_date", "bad_stream", "duplicate_stream", "unknown_track"]
    rows = []
    for e in results["sizes"]:
        counts = e["contenders"].get("project", {}).get("counts")
        if counts:
            rows.append(
                [f"{e['n']:,}"] + [f"{counts.get(k, ''):,}" if isinstance(counts.get(k), int) else "–" for k in keys]
            )
    return ["N streams"] + keys, rows


def write_reports(results: dict, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    png = chart_png(results)
    if png:
        (out_dir / "chart.png").write_bytes(png)
    checks = check_lines(results)
    targets = target_lines(results)
    st_header, st_rows = stage_rows(results)
    c_header, c_rows = counts_rows(results)
    ov_rows = overhead_rows(results)
    failures = [(t, d) for t, ok, d in checks if ok is False]
    title = f"Benchmark {results['timestamp']}: project vs seed approach vs floor vs limit"

    md = [
        f"# {title}",
        "",
        *_intro(results),
        "",
        "## Figures",
        "",
        _md_table(FIGURES_HEADER, figures_rows(results)),
        "",
        "## KPI equality (project's warehouse vs the floor; seed for information)",
        "",
    ]
    md += [f"- {t}" for t, _, _ in checks] or ["- no check ran"]
    for t, diffs in failures:
        md += ["", f"Differences, {t}:", ""] + [f"    {d}" for d in diffs]
    md += ["", "## Issue 13 targets", ""]
    md += [f"- {t}" for t in targets] or ["- no size benched"]
    md += ["", "## Project: seconds per stage", "", _md_table(st_header, st_rows)]
    for kind, heading in (("cpu", "CPU seconds per stage (sampled)"), ("rss", "peak RSS per stage (sampled)")):
        h, r = stage_rows(results, kind)
        if r:
            md += ["", f"## Project: {heading}", "", _md_table(h, r)]
    cl_rows = cell_rows(results)
    if cl_rows:
        md += [
            "",
            "## Project: notebook cells of 0.5 s or more",
            "",
            _md_table(["N streams", "notebook", "cell (first line)", "seconds"], cl_rows),
        ]
    if ov_rows:
        md += ["", "## Fixed overheads (probes, best of 2)", "", _md_table(["probe", "seconds"], ov_rows)]
    if c_rows:
        md += ["", "## What the project read (ingest counts)", "", _md_table(c_header, c_rows)]
    md += [
        "",
        "## Inputs",
        "",
        _md_table(["N streams", "size", "files", "generator", "input root"], generator_rows(results)),
    ]
    if png:
        md += ["", "## Chart", "", "![time and memory against N](chart.png)"]
    md += ["", "## How it was measured", ""] + [f"- {n}" for n in NOTES] + [""]
    (out_dir / "summary.md").write_text("\n".join(md), encoding="utf-8")

    css = (
        "body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;"
        "max-width:1200px;padding:0 1rem;color:#1f2328;line-height:1.45}"
        "table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}"
        "th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;vertical-align:top}"
        "th{background:#f6f8fa}.pass{color:#116329;font-weight:600}.fail{color:#a40e26;font-weight:600}"
        ".not-compared{color:#59636e}"
        "pre{background:#f6f8fa;padding:.6rem;overflow-x:auto}img{max-width:100%}"
    )
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{css}</style></head><body><h1>{escape(title)}</h1>"
    ]
    parts += [f"<p>{escape(p)}</p>" for p in _intro(results)]
    parts += [
        "<h2>Figures</h2>",
        _html_table(FIGURES_HEADER, figures_rows(results)),
        "<h2>KPI equality (project's warehouse vs the floor; seed for information)</h2><ul>",
    ]
    parts += [f"<li class='{CHECK_CLASS[ok]}'>{escape(t)}</li>" for t, ok, _ in checks]
    parts.append("</ul>")
    for t, diffs in failures:
        parts.append(f"<p>Differences, {escape(t)}:</p><pre>{escape(chr(10).join(diffs))}</pre>")
    parts += ["<h2>Issue 13 targets</h2><ul>"]
    parts += [f"<li>{escape(t)}</li>" for t in targets] + ["</ul>"]
    if png:
        parts.append(
            "<h2>Chart</h2><img alt='time and memory against N' src='data:image/png;base64,"
            + base64.b64encode(png).decode()
            + "'>"
        )
    parts += ["<h2>Project: seconds per stage</h2>", _html_table(st_header, st_rows)]
    for kind, heading in (("cpu", "CPU seconds per stage (sampled)"), ("rss", "peak RSS per stage (sampled)")):
        h, r = stage_rows(results, kind)
        if r:
            parts += [f"<h2>Project: {escape(heading)}</h2>", _html_table(h, r)]
    if cl_rows:
        parts += [
            "<h2>Project: notebook cells of 0.5 s or more</h2>",
            _html_table(["N streams", "notebook", "cell (first line)", "seconds"], cl_rows),
        ]
    if ov_rows:
        parts += ["<h2>Fixed overheads (probes, best of 2)</h2>", _html_table(["probe", "seconds"], ov_rows)]
    if c_rows:
        parts += ["<h2>What the project read (ingest counts)</h2>", _html_table(c_header, c_rows)]
    parts += [
        "<h2>Inputs</h2>",
        _html_table(["N streams", "size", "files", "generator", "input root"], generator_rows(results)),
    ]
    parts += ["<h2>How it was measured</h2><ul>"] + [f"<li>{escape(n)}</li>" for n in NOTES]
    parts += ["</ul></body></html>"]
    (out_dir / "summary.html").write_text("".join(parts), encoding="utf-8")
