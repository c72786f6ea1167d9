"""Provenance of a run: the repository's git commit and the versions of the tools."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

# Distributions whose versions go into the manifest (missing ones are reported as null).
KEY_PACKAGES = (
    "streamkpi-pipeline",
    "streamkpi",
    "papermill",
    "nbclient",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "jupyter_client",
    "scrapbook",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "sqlalchemy",
    "matplotlib",
    "seaborn",
    "pyyaml",
)


def git_info(repo: str | Path) -> dict[str, object]:
    """``{"git_commit": sha or None, "git_dirty": bool or None}`` of the repository at ``repo``.

    Both are ``None`` when ``repo`` is not a git work tree, has no commit yet, or git is missing.
    ``git_dirty`` is true when tracked files are modified or untracked files are present.
    """
    commit = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = _git(repo, "status", "--porcelain")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _git(repo: str | Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` if not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def python_version() -> str:
    return platform.python_version()
