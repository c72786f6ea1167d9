"""The input root: where songs.csv, users.csv and the stream files live, and their headers.

An input root is a local folder today; the functions take the root's URI so that other
storage (``s3://``) can be added behind the same calls.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputValidationError

SONGS_FILE = "songs.csv"
USERS_FILE = "users.csv"
STREAMS_DIR = "streams"

REQUIRED_COLUMNS = {
    "songs": ("track_id", "artists", "track_name", "popularity", "duration_ms", "track_genre"),
    "users": ("user_id", "user_age"),
    "streams": ("user_id", "track_id", "listen_time"),
}


@dataclass(frozen=True)
class InputFiles:
    """The files of one input root, as local paths; stream files in sorted path order."""

    root: Path
    songs: Path
    users: Path
    streams: tuple[Path, ...]

    def all(self) -> list[Path]:
        return [self.songs, self.users, *self.streams]

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def locate_inputs(input_uri: str | Path) -> InputFiles:
    """Find the input files under ``input_uri``; a missing file or folder is an error naming it."""
    root = Path(input_uri)
    if not root.is_dir():
        raise InputValidationError(f"input root {root} is not a folder")
    songs, users, streams_dir = root / SONGS_FILE, root / USERS_FILE, root / STREAMS_DIR
    for required in (songs, users):
        if not required.is_file():
            raise InputValidationError(f"input root {root} has no {required.name}")
    if not streams_dir.is_dir():
        raise InputValidationError(f"input root {root} has no {STREAMS_DIR}/ folder")
    streams = tuple(sorted(p for p in streams_dir.rglob("*.csv") if p.is_file()))
    if not streams:
        raise InputValidationError(f"{streams_dir} holds no *.csv stream file")
    return InputFiles(root=root, songs=songs, users=users, streams=streams)


def read_header(path: Path) -> list[str]:
    """The header row of a CSV file (UTF-8, an optional BOM), names stripped of spaces."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InputValidationError(f"{path} is empty: a header row is required")
    return [name.strip() for name in header]


def check_required_columns(inputs: InputFiles) -> None:
    """Fail before anything is staged when a file lacks a required column, naming file and columns."""
    kinds = [("songs", inputs.songs), ("users", inputs.users)] + [("streams", p) for p in inputs.streams]
    for kind, path in kinds:
        present = set(read_header(path))
        missing = [c for c in REQUIRED_COLUMNS[kind] if c not in present]
        if missing:
            raise InputValidationError(
                f"{inputs.relative(path)} is missing required column(s): {', '.join(missing)} "
                f"(a {kind} file needs {', '.join(REQUIRED_COLUMNS[kind])}; input root {inputs.root})"
            )


def describe_files(inputs: InputFiles) -> list[dict]:
    """Path (relative to the root), size and SHA-256 of every input file, for the run manifest."""
    return [
        {"path": inputs.relative(p), "size": p.stat().st_size, "sha256": _sha256(p)}
        for p in inputs.all()
    ]


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
