"""The run folder ``<reports_dir>/<date>/<run id>/`` and its ``manifest.json``, changed only under a ``flock`` of it
(stages may run at once: Airflow). Nothing is overwritten: a stage rerun keeps its old files as ``*.try<N>.*``."""

import contextlib
import fcntl
import json
import os
import re
import secrets
import socket
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import pages
from .errors import RunFolderError
from .results import FAILED, INCOMPLETE, INTERRUPTED, NOT_RUN, RUNNING, SUCCEEDED, NotebookError, NotebookResult, iso
from .scraps import to_jsonable

MANIFEST, MANIFEST_VERSION = "manifest.json", 1
LIFTED_SCRAPS = ("input_files", "ignored_files", "empty_files", "checks", "load_diff")  # also at the manifest's top
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time plus 4 random hex digits, e.g. ``20261127T193501Z-3f2a``."""
    return f"{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it is a safe folder name (letters, digits, ``.``, ``_``, ``-``), else an error."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or run_id in {".", ".."}:
        rule = "use letters, digits, '.', '_' and '-' (first character a letter or digit, at most 128 characters)"
        raise RunFolderError(f"invalid run id {run_id!r}: {rule}")
    return run_id


def create_run_dir(date_dir: Path, run_id: str | None = None) -> tuple[Path, str]:
    """Create ``(run folder, run id)`` with ``staging/``, never reusing one: an explicit id that exists is an error."""
    date_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        rid = run_id or new_run_id()
        with contextlib.suppress(FileExistsError):  # a generated id drawn twice: draw again
            (date_dir / rid).mkdir()
            (date_dir / rid / "staging").mkdir()
            return date_dir / rid, rid
        if run_id is not None:
            why = "choose another --run-id (runs never overwrite earlier reports)"
            raise RunFolderError(f"run folder {date_dir / rid} already exists; {why}")
    raise RunFolderError(f"could not create a new run folder under {date_dir}")


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (blocks until other holders release it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` through a temporary file in the same folder, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:  # a full disk, say: the old file stays whole, the error names the new one
        temporary.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return path


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run folder's manifest; :class:`RunFolderError` if it has none or it is unreadable."""
    path = run_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        why = "it is not a run folder the runner made; choose another --run-id"
        raise RunFolderError(f"{run_dir} exists but holds no {MANIFEST}: {why}") from None
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("notebooks"), list):
        raise RunFolderError(f"{path} is not a run manifest")
    return manifest


def write_manifest(manifest: dict[str, Any], run_dir: Path) -> None:
    """``manifest.json`` and the run's ``index.html`` rendered from it."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False)
    write_text_atomically(run_dir / MANIFEST, text + "\n")
    write_text_atomically(run_dir / "index.html", pages.render_run_index(manifest))


def new_manifest(run_date: str, run_id: str, notebooks: list[NotebookResult], context: Mapping[str, Any]) -> dict:
    """The manifest of a new run folder; ``context``: params, params file, folders, provenance."""
    now = iso(datetime.now(UTC))
    manifest = dict(manifest_version=MANIFEST_VERSION, run_date=run_date, run_id=run_id, status=INCOMPLETE)
    manifest.update(started=now, finished=now, duration_seconds=0.0, error=None)  # the summary comes first
    manifest.update(to_jsonable(dict(context)), notebooks=[nb.entry() for nb in notebooks])
    return summarised(manifest, datetime.now(UTC))


def summarised(manifest: dict[str, Any], finished: datetime) -> dict[str, Any]:
    """Recompute the summary (status, first error, finish, duration, lifted scraps) from the entries."""
    entries, statuses = manifest["notebooks"], {e["status"] for e in manifest["notebooks"]}
    settled = SUCCEEDED if statuses == {SUCCEEDED} else INCOMPLETE  # unless one failed or was interrupted
    ended = next((s for s in (FAILED, INTERRUPTED) if s in statuses), settled)
    manifest["status"] = RUNNING if any(e.get("runner") for e in entries) else ended
    failed = next((e for e in entries if e["error"]), None)  # its error links to the code page, which shows the cell
    manifest["error"] = {**failed["error"], "html": failed.get("html_code") or failed["html"]} if failed else None
    manifest["finished"] = iso(finished)
    manifest["duration_seconds"] = round((finished - datetime.fromisoformat(manifest["started"])).total_seconds(), 3)
    for name in LIFTED_SCRAPS:
        manifest[name] = next((e["scraps"][name] for e in entries if name in (e["scraps"] or {})), None)
    return manifest


def record(run_dir: Path, notebooks: list[NotebookResult], finished: datetime) -> dict[str, Any]:
    """Put what ``notebooks`` did into the manifest and index under the folder's lock: its one change after creation."""
    with locked(run_dir):
        manifest, entries = read_manifest(run_dir), {nb.name: nb.entry() for nb in notebooks}
        manifest["notebooks"] = [entries.get(e["name"], e) for e in manifest["notebooks"]]
        write_manifest(summarised(manifest, finished), run_dir)
    return manifest


def mark_running(run_dir: Path, notebooks: list[NotebookResult]) -> None:
    """Name this process (host, pid) in ``notebooks``' entries: ``running`` until recorded, interrupted if it dies."""
    runner, names = {"host": socket.gethostname(), "pid": os.getpid()}, {nb.name for nb in notebooks}
    with locked(run_dir):
        manifest = read_manifest(run_dir)
        for entry in manifest["notebooks"]:
            entry.update({"runner": runner} if entry["name"] in names else {})
        write_manifest(summarised(manifest, datetime.now(UTC)), run_dir)


def settle_interrupted(run_dir: Path) -> dict[str, Any]:
    """Record as ``interrupted`` the notebooks whose runner, a process of this host, is gone; returns the manifest."""
    with locked(run_dir):
        manifest = read_manifest(run_dir)
        gone = [e for e in manifest["notebooks"] if e.get("runner") and not _alive(e["runner"])]
        for entry in gone:
            runner = entry.pop("runner")
            why = f"its runner, pid {runner['pid']} on {runner['host']}, died before recording it (SIGKILL? OOM?)"
            entry.update(status=INTERRUPTED, error=asdict(NotebookError(entry["name"], None, None, "Interrupted", why)))
        if gone:  # it ended at its last sign of life, the manifest's last update
            write_manifest(summarised(manifest, datetime.fromisoformat(manifest["finished"])), run_dir)
    return manifest


def _alive(runner: Mapping[str, Any]) -> bool:
    """Whether the runner process lives (a process of another host is taken to)."""
    try:
        if runner.get("host") == socket.gethostname():
            os.kill(int(runner["pid"]), 0)  # signal 0: only whether the process exists
    except (ProcessLookupError, PermissionError, ValueError, OverflowError) as exc:  # gone; else taken to live
        return not isinstance(exc, ProcessLookupError)
    return True


def check_same_run(manifest: Mapping[str, Any], run_date: str, notebooks: list[str], params: Mapping[str, Any]) -> None:
    """Refuse to add a stage to a run folder made for another date, other notebooks or other params."""
    names, recorded = [entry.get("name") for entry in manifest["notebooks"]], manifest.get("params") or {}
    differing = sorted(k for k in set(recorded) | set(params) if recorded.get(k) != params.get(k))
    checks = {  # problem: whether the folder has it
        f"it is a run of {manifest.get('run_date')}, not {run_date}": manifest.get("run_date") != run_date,
        f"its notebooks are {', '.join(map(str, names))}, not {', '.join(notebooks)}": names != notebooks,
        f"it was made with other params (different {', '.join(differing)})": bool(differing),
    }
    if problems := [problem for problem, found in checks.items() if found]:
        where = f"cannot add a stage to run folder {manifest.get('run_dir')}"
        why = "A run folder holds one run: use the params file it was made with, or another --run-id."
        raise RunFolderError(f"{where}: {'; '.join(problems)}. {why}")


def set_aside_earlier_attempt(manifest: dict[str, Any], nb: NotebookResult) -> dict[str, Any] | None:
    """If ``nb`` ran here: its files renamed ``<stem>.try<N>.*``, its entry kept in ``nb.attempts`` and returned."""
    position, earlier = next((i, e) for i, e in enumerate(manifest["notebooks"]) if e["name"] == nb.name)
    nb.attempts = list(earlier.get("attempts") or [])
    if earlier.get("status") in (None, NOT_RUN) and not earlier.get("ipynb"):
        return None
    kept = {k: v for k, v in earlier.items() if k != "attempts"}
    run_dir, number = nb.output_path.parent, len(nb.attempts) + 1

    def set_aside(name: str | None) -> str | None:
        if not name or not (source := run_dir / name).exists():
            return None
        target = source.with_name(f"{nb.stem}.try{number}{source.name[len(nb.stem) :]}")
        os.replace(source, target)
        return target.relative_to(run_dir).as_posix()

    kept.update({key: set_aside(kept.get(key)) for key in ("ipynb", "html", "html_code")})
    kept["figures"] = {name: set_aside(path) for name, path in (kept.get("figures") or {}).items()}
    nb.attempts.append(kept)
    manifest["notebooks"][position] = nb.entry()
    return kept


def write_overview(reports_dir: Path) -> Path:
    """Rebuild ``<reports_dir>/index.html`` from every run folder's manifest, the dead runs recorded as interrupted."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    with locked(reports_dir):  # runs ending at once (a parallel backfill): one rebuild at a time, the last one newest
        runs = pages.collect_runs(reports_dir)  # every manifest read once
        for run in (r for r in runs if r["status"] == RUNNING):
            run.update(settle_interrupted(reports_dir / run["folder"]))
        return write_text_atomically(reports_dir / "index.html", pages.render_overview(runs))
