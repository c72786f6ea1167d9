"""Where things are: the repository root, the notebooks, the run folder."""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from .errors import PipelineError, RunFolderError
from .stages import NOTEBOOK_GLOB

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def repo_root() -> Path:
    """The repository root: the directory holding ``pyproject.toml`` next to the package.

    Relative paths of the params file are resolved from here, never from the current directory.
    Falls back to the current directory when the package is not installed from a checkout.
    """
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd().resolve()


def default_notebooks_dir() -> Path:
    """``<repo root>/notebooks``."""
    return repo_root() / "notebooks"


def resolve_local_path(path: str | Path, root: Path | None = None) -> Path:
    """``path`` made absolute: ``~`` expanded, relative paths taken from ``root`` (the repo root)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = (root or repo_root()) / p
    # Collapse ``.`` and ``..`` without resolving symlinks or requiring the path to exist.
    return Path(os.path.normpath(p))


def discover_notebooks(notebooks_dir: str | Path) -> list[Path]:
    """The notebooks to run, in order: ``NN_<name>.ipynb`` files of ``notebooks_dir``, sorted."""
    directory = Path(notebooks_dir)
    if not directory.is_dir():
        raise PipelineError(f"notebooks folder {directory} does not exist")
    notebooks = sorted(p for p in directory.glob(NOTEBOOK_GLOB) if p.is_file())
    if not notebooks:
        raise PipelineError(f"no notebook named NN_<name>.ipynb in {directory}")
    return notebooks


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time plus 4 random hex digits, e.g. ``20261127T193501Z-3f2a``."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it is a safe folder name (letters, digits, ``.``, ``_``, ``-``), else an error."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or run_id in {".", ".."}:
        raise RunFolderError(
            f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-' "
            "(first character a letter or digit, at most 128 characters)"
        )
    return run_id


def run_dir_for(reports_dir: Path, run_date: str, run_id: str) -> Path:
    """``<reports_dir>/<run_date>/<run_id>``."""
    return Path(reports_dir) / run_date / run_id


def create_run_dir(reports_dir: Path, run_date: str, run_id: str | None = None) -> tuple[Path, str]:
    """Create and return ``(run folder, run id)``; never reuses an existing folder.

    With an explicit ``run_id`` an existing folder is an error; with the default id a collision
    (same second, same random suffix) simply draws a new id.
    """
    date_dir = Path(reports_dir) / run_date
    date_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        rid = validate_run_id(run_id) if run_id is not None else new_run_id()
        run_dir = date_dir / rid
        try:
            run_dir.mkdir()
        except FileExistsError:
            if run_id is not None:
                raise RunFolderError(
                    f"run folder {run_dir} already exists; choose another --run-id "
                    "(runs never overwrite earlier reports)"
                ) from None
            continue
        (run_dir / "staging").mkdir()
        return run_dir, rid
    raise RunFolderError(f"could not create a new run folder under {date_dir}")
