"""One run folder shared by several processes, each running one stage (the Airflow tasks).

``manifest.json`` is the run folder's state. A stage process changes it only while holding an
exclusive ``flock`` on the run folder itself (no lock file is left behind): it reads the
manifest, replaces its own notebook's entry, recomputes the run's summary and writes the
manifest and ``index.html`` back, each atomically (a temporary file renamed over the old one).
Stages running at the same time therefore never lose each other's results. The lock needs a
file system with working ``flock`` (local disks; NFS/EFS via the kernel's lock emulation).

Nothing is overwritten: when a stage runs again in a folder where it already ran, its earlier
executed notebook, its two HTML pages and its published figures are renamed
``<stem>.try<N>.ipynb`` / ``.html`` / ``.code.html`` / ``figures/<stem>.try<N>.<name>.png`` and its
earlier entry is kept under the entry's ``attempts``; its log ``logs/<stem>.log`` goes on with the
new attempt's lines.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import RunFolderError

try:
    import fcntl
except ImportError:  # Windows: no flock; stage runs on one folder must then not overlap
    fcntl = None

MANIFEST = "manifest.json"


@contextlib.contextmanager
def locked(directory: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (blocks until other holders release it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The run folder's manifest; :class:`RunFolderError` if it has none or it is unreadable."""
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(
            f"{run_dir} exists but holds no {MANIFEST}: it is not a run folder the runner made; choose another --run-id"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("notebooks"), list):
        raise RunFolderError(f"{path} is not a run manifest")
    return manifest


def check_same_run(
    manifest: Mapping[str, Any], *, run_date: str, notebooks: list[str], params: Mapping[str, Any], run_dir: Path
) -> None:
    """Refuse to add a stage to a run folder made for another date, other notebooks or other params."""
    problems = []
    if manifest.get("run_date") != run_date:
        problems.append(f"it is a run of {manifest.get('run_date')}, not {run_date}")
    names = [entry.get("name") for entry in manifest["notebooks"]]
    if names != notebooks:
        problems.append(f"its notebooks are {', '.join(map(str, names))}, not {', '.join(notebooks)}")
    recorded = manifest.get("params") or {}
    differing = sorted(k for k in set(recorded) | set(params) if recorded.get(k) != params.get(k))
    if differing:
        problems.append(f"it was made with other params (different {', '.join(differing)})")
    if problems:
        raise RunFolderError(
            f"cannot add a stage to run folder {run_dir}: "
            + "; ".join(problems)
            + ". A run folder holds one run: use the params file it was made with, or another --run-id."
        )


def entry_of(manifest: Mapping[str, Any], notebook: str) -> dict[str, Any]:
    return next(e for e in manifest["notebooks"] if e["name"] == notebook)


def set_aside_earlier_attempt(
    manifest: dict[str, Any], notebook: str, run_dir: Path, not_run_entry: dict[str, Any]
) -> dict[str, Any] | None:
    """If ``notebook`` already ran in this folder, keep that attempt aside and reset its entry.

    Files become ``<stem>.try<N>.ipynb`` / ``.html`` / ``.code.html`` and the figures
    ``figures/<stem>.try<N>.<name>.png`` (N = 1 for the first attempt); the old entry, with those
    names, is appended to the new entry's ``attempts``. Returns the earlier entry.
    """
    entries = manifest["notebooks"]
    position = next(i for i, e in enumerate(entries) if e["name"] == notebook)
    earlier = entries[position]
    if earlier.get("status") in (None, "not run") and not earlier.get("ipynb"):
        return None
    attempts = list(earlier.get("attempts") or [])
    number = len(attempts) + 1
    kept = {k: v for k, v in earlier.items() if k != "attempts"}
    stem = Path(notebook).stem
    for key in ("ipynb", "html", "html_code"):
        kept[key] = _set_aside(run_dir, kept.get(key), stem, number)
    kept["figures"] = {
        name: _set_aside(run_dir, path, stem, number) for name, path in (kept.get("figures") or {}).items()
    }
    entries[position] = {**not_run_entry, "attempts": [*attempts, kept]}
    return kept


def _set_aside(run_dir: Path, name: str | None, stem: str, attempt: int) -> str | None:
    """Rename the run folder's file ``name`` of notebook ``stem`` (e.g. ``02_left.code.html``,
    ``figures/02_left.chart.png``) to its attempt's name (``02_left.try1.code.html``); returns the
    new name, or ``None`` if the file is missing."""
    if not name:
        return None
    source = run_dir / name
    target = source.with_name(f"{stem}.try{attempt}{source.name[len(stem) :]}")
    if not source.exists():
        return None
    os.replace(source, target)
    return target.relative_to(run_dir).as_posix()


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
