"""The input root: where songs.csv, users.csv and the stream files live, and their headers.

An input root is a local folder today; the functions take the root's URI so that other
storage (``s3://``) can be added behind the same calls.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

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


@dataclass(frozen=True)
class MalformedRow:
    """A CSV row whose number of fields differs from its header's."""

    file_no: int
    fields: int
    expected: int
    text: str

    @property
    def rule(self) -> str:
        return f"malformed CSV row: {self.fields} fields where the header has {self.expected}"


def read_text_columns(paths: list[Path], columns: tuple[str, ...], malformed: list[MalformedRow]) -> pa.RecordBatchReader:
    """Stream the named columns of CSV files as text, in file order.

    Each batch carries ``file_no`` (position in ``paths``) and ``row_number`` (1-based, among the
    file's well-formed data rows), so "first in file order" stays well defined. Header names are
    matched after stripping spaces; rows with the wrong number of fields are skipped and appended
    to ``malformed`` (a list the caller owns, filled as the reader is consumed).
    """
    schema = pa.schema(
        [("file_no", pa.int32()), ("row_number", pa.int64())] + [(c, pa.string()) for c in columns]
    )
    return pa.RecordBatchReader.from_batches(schema, _text_batches(paths, columns, schema, malformed))


def _text_batches(paths, columns, schema, malformed) -> Iterator[pa.RecordBatch]:
    for file_no, path in enumerate(paths):
        def skip(row, file_no=file_no):
            malformed.append(MalformedRow(file_no, row.actual_columns, row.expected_columns, row.text))
            return "skip"

        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=read_header(path), skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(columns),
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        next_row = 1
        for batch in reader:
            rows = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.full(rows, file_no, dtype=np.int32)),
                 pa.array(np.arange(next_row, next_row + rows, dtype=np.int64)),
                 *(batch.column(c) for c in columns)],
                schema=schema,
            )
            next_row += rows
