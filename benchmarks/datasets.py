"""Bench inputs: one day of N streams made by the project's generator, cached under build/.

``build/bench-data/<N>/`` holds ``input/`` (the input root: songs.csv, users.csv, streams/) and
``generator.json`` (the generator arguments, the generator's summary, how long it took and a hash
of the generator's source). A later bench reuses the folder when the arguments are the same; a
changed generator source only prints a warning (pass ``--regenerate`` to rebuild).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO / "build" / "bench-data"

# The bench day: a 114,000-row catalog, a fifth of the tracks under two genres, 1M users.
DEFAULTS = {"start_date": "2024-06-25", "days": 1, "users": 1_000_000, "tracks": 114_000, "dual_genre_fraction": 0.2}


def parse_size(text: str) -> int:
    """``1e6``, ``10000000``, ``1_000_000`` -> int (must be a positive whole number)."""
    value = float(str(text).replace("_", ""))
    if value < 1 or value != int(value):
        raise ValueError(f"size {text!r} is not a positive whole number")
    return int(value)


def size_label(n: int) -> str:
    """10000000 -> '1e7' (exact powers of ten), else the digits."""
    exponent = len(str(n)) - 1
    return f"1e{exponent}" if n == 10**exponent else str(n)


def generator_args(n: int, **overrides) -> dict:
    args = {**DEFAULTS, **overrides, "streams_per_day": int(n)}
    return {k: args[k] for k in ("start_date", "days", "streams_per_day", "users", "tracks", "dual_genre_fraction")}


def generator_command(out: Path, args: dict, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "tools.sample_data",
        "--out",
        str(out),
        "--start-date",
        args["start_date"],
        "--days",
        str(args["days"]),
        "--streams-per-day",
        str(args["streams_per_day"]),
        "--users",
        str(args["users"]),
        "--tracks",
        str(args["tracks"]),
        "--dual-genre-fraction",
        str(args["dual_genre_fraction"]),
        "--flat-volume",  # exactly N streams: the bench sizes
    ]


def generator_source_hash() -> str | None:
    """A hash of the generator's source: tools/sample_data.py and its helper modules (tools/sample_*.py)."""
    try:
        import tools.sample_data as sd

        digest = hashlib.sha256()
        for path in sorted(Path(sd.__file__).parent.glob("sample_*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:16]
    except Exception:  # pragma: no cover - the bench reports it as unknown
        return None


def ensure_dataset(
    n: int,
    data_dir: Path = DEFAULT_DATA_DIR,
    *,
    regenerate: bool = False,
    log=print,
    name: str | None = None,
    **overrides,
) -> tuple[Path, dict]:
    """The input root of the bench day with ``n`` streams, generating it when not cached.

    Returns ``(input_root, info)``; ``info`` is the content of ``generator.json`` plus
    ``cached`` (True when reused). ``name`` replaces ``<N>`` as the folder name; ``overrides``
    change generator arguments (``users=``, ``tracks=``, ...).
    """
    args = generator_args(n, **overrides)
    folder = Path(data_dir) / (name or str(n))
    meta_path, input_root = folder / "generator.json", folder / "input"
    source_hash = generator_source_hash()
    if not regenerate and meta_path.is_file() and input_root.is_dir():
        meta = json.loads(meta_path.read_text())
        if meta.get("args") == args:
            if source_hash and meta.get("generator_sha256") not in (None, source_hash):
                log(
                    f"bench: note: {folder} was made by another version of tools/sample_*.py; "
                    "reusing it (pass --regenerate to rebuild)"
                )
            return input_root, {**meta, "cached": True}
        log(f"bench: {folder} was generated with other arguments; regenerating")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    command = generator_command(input_root, args)
    log(f"bench: generating {size_label(n)} streams into {input_root} ...")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"generator failed ({done.returncode}): {' '.join(command)}\n{done.stderr}")
    files = sorted(p for p in input_root.rglob("*.csv"))
    meta = {
        "args": args,
        "command": command[1:],
        "generator_sha256": source_hash,
        "generate_seconds": round(elapsed, 2),
        "generator_output": done.stdout.strip()[-2000:],
        "bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"bench: generated in {elapsed:.1f} s ({meta['bytes'] / 1e6:.0f} MB in {len(files)} files)")
    return input_root, {**meta, "cached": False}


def tiny_dataset(out: Path, streams: int = 1000, users: int = 1000, tracks: int = 2000) -> Path:
    """A small generated day for overhead runs and unit tests (not cached here)."""
    from tools.sample_data import generate

    generate(
        out,
        start_date=DEFAULTS["start_date"],
        days=1,
        streams_per_day=streams,
        n_users=users,
        n_tracks=tracks,
        dual_genre_fraction=DEFAULTS["dual_genre_fraction"],
        variation=False,
    )
    return out
