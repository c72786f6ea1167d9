"""The input root: where songs.csv, users.csv and the stream files live, and their headers.

An input root is a local folder or ``s3://bucket/prefix`` (see :mod:`streamkpi.storage`); both
give the same :class:`InputFiles`, whose files are opened as byte streams. Files are read front
to back once: the SHA-256 and size of each are computed while ingest streams it, so the run
manifest's checksums cost no second read (an S3 ETag is not a SHA-256).
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import storage
from .errors import InputValidationError

SONGS_FILE = "songs.csv"
USERS_FILE = "users.csv"
STREAMS_DIR = "streams"
# Headers of S3 objects are fetched this many at a time; a file larger than HEADER_PROBE bytes has
# its header read from a ranged GET of its first HEADER_PROBE bytes.
HEADER_THREADS = 16
HEADER_PROBE = 1 << 20

REQUIRED_COLUMNS = {
    "songs": ("track_id", "artists", "track_name", "popularity", "duration_ms", "track_genre"),
    "users": ("user_id", "user_age"),
    "streams": ("user_id", "track_id", "listen_time"),
}


@dataclass(frozen=True)
class InputFile:
    """One input file: its path under the root, where it is, its size, and how to open it."""

    relative: str  # '/'-separated path under the input root, e.g. streams/2024-06-25/part-0.csv
    location: str  # absolute local path or s3://bucket/key
    size: int
    opener: Callable[[], BinaryIO] = field(repr=False, compare=False)
    # opens only the first n bytes (S3: a ranged GET); None where opening is cheap anyway
    head_opener: Callable[[int], BinaryIO] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]

    def open(self) -> BinaryIO:
        """A binary stream of the file's bytes, from the start."""
        return self.opener()

    def __str__(self) -> str:
        return self.location


@dataclass(frozen=True)
class InputFiles:
    """The files of one input root; stream files in sorted path order.

    ``headers`` and ``digests`` fill in as files are read (header names; ``(size, sha256)``).
    """

    root: str
    songs: InputFile
    users: InputFile
    streams: tuple[InputFile, ...]
    headers: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    digests: dict[str, tuple[int, str]] = field(default_factory=dict, compare=False, repr=False)

    def all(self) -> list[InputFile]:
        return [self.songs, self.users, *self.streams]

    def relative(self, file: InputFile) -> str:
        return file.relative


def _path_order(relative: str) -> tuple[str, ...]:
    """Sort key of "sorted path order": component by component, as local paths sort."""
    return tuple(relative.split("/"))


def locate_inputs(input_uri: str | Path, s3_endpoint_url: str | None = None) -> InputFiles:
    """Find the input files under ``input_uri``; a missing file or folder is an error naming it."""
    if storage.is_s3(str(input_uri)):
        return _locate_s3(str(input_uri), s3_endpoint_url)
    return _locate_local(Path(input_uri))


def _local_file(root: Path, path: Path) -> InputFile:
    return InputFile(path.relative_to(root).as_posix(), str(path), path.stat().st_size,
                     opener=lambda: open(path, "rb"))


def _locate_local(root: Path) -> InputFiles:
    if not root.is_dir():
        raise InputValidationError(f"input root {root} is not a folder")
    songs, users, streams_dir = root / SONGS_FILE, root / USERS_FILE, root / STREAMS_DIR
    for required in (songs, users):
        if not required.is_file():
            raise InputValidationError(f"input root {root} has no {required.name}")
    if not streams_dir.is_dir():
        raise InputValidationError(f"input root {root} has no {STREAMS_DIR}/ folder")
    streams = sorted(p for p in streams_dir.rglob("*.csv") if p.is_file())
    if not streams:
        raise InputValidationError(f"{streams_dir} holds no *.csv stream file")
    return InputFiles(root=str(root), songs=_local_file(root, songs), users=_local_file(root, users),
                      streams=tuple(_local_file(root, p) for p in streams))


def _locate_s3(input_uri: str, endpoint_url: str | None) -> InputFiles:
    root = storage.S3Uri.parse(input_uri)
    shown = str(root).rstrip("/")
    files: dict[str, InputFile] = {}
    for obj in storage.list_objects(root, endpoint_url):
        relative = obj.key[len(root.prefix):]
        if not relative or relative.endswith("/"):
            continue  # the prefix itself or a "folder" marker
        uri = storage.S3Uri(root.bucket, obj.key)

        def opener(uri=uri, obj=obj):
            return storage.open_object(uri, endpoint_url, etag=obj.etag, size=obj.size)

        def head_opener(limit, uri=uri, obj=obj):
            return storage.open_object(uri, endpoint_url, etag=obj.etag, size=obj.size, limit=limit)

        files[relative] = InputFile(relative, str(uri), obj.size, opener, head_opener)
    if not files:
        raise InputValidationError(f"input root {shown} holds no object (check the bucket and prefix)")
    for required in (SONGS_FILE, USERS_FILE):
        if required not in files:
            raise InputValidationError(f"input root {shown} has no {required}")
    under_streams = [r for r in files if r.startswith(STREAMS_DIR + "/")]
    if not under_streams:
        raise InputValidationError(f"input root {shown} has no {STREAMS_DIR}/ folder")
    streams = sorted((r for r in under_streams if r.endswith(".csv")), key=_path_order)
    if not streams:
        raise InputValidationError(f"{shown}/{STREAMS_DIR} holds no *.csv stream file")
    return InputFiles(root=shown, songs=files[SONGS_FILE], users=files[USERS_FILE],
                      streams=tuple(files[r] for r in streams))


def read_header(file: InputFile | Path) -> list[str]:
    """The header row of a CSV file (UTF-8, an optional BOM), names stripped of spaces.

    Only the first record is read; a large S3 object has only its first bytes fetched.
    """
    header = None
    if isinstance(file, InputFile) and file.head_opener is not None and file.size > HEADER_PROBE:
        with file.head_opener(HEADER_PROBE) as raw:
            records = csv.reader(io.StringIO(raw.read().decode("utf-8-sig", errors="replace"), newline=""))
            first, second = next(records, None), next(records, None)
        if second is not None:  # the first record ended inside the probe
            header = first
    if header is None:
        raw = open(file, "rb") if isinstance(file, Path) else file.open()
        with raw, io.TextIOWrapper(io.BufferedReader(raw, 64 << 10), encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    if not header:
        raise InputValidationError(f"{file} is empty: a header row is required")
    return [name.strip() for name in header]


def read_headers(inputs: InputFiles) -> dict[str, list[str]]:
    """The header of every input file (fetched in parallel for S3), kept in ``inputs.headers``."""
    missing = [f for f in inputs.all() if f.relative not in inputs.headers]
    threads = HEADER_THREADS if storage.is_s3(inputs.root) and len(missing) > 1 else 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for file, header in zip(missing, pool.map(read_header, missing)):
            inputs.headers[file.relative] = header
    return inputs.headers


def check_required_columns(inputs: InputFiles) -> None:
    """Fail before anything is staged when a file lacks a required column, naming file and columns."""
    headers = read_headers(inputs)
    kinds = [("songs", inputs.songs), ("users", inputs.users)] + [("streams", p) for p in inputs.streams]
    for kind, file in kinds:
        present = set(headers[file.relative])
        missing = [c for c in REQUIRED_COLUMNS[kind] if c not in present]
        if missing:
            raise InputValidationError(
                f"{file.relative} is missing required column(s): {', '.join(missing)} "
                f"(a {kind} file needs {', '.join(REQUIRED_COLUMNS[kind])}; input root {inputs.root})"
            )


def describe_files(inputs: InputFiles) -> list[dict]:
    """Path (relative to the root), size and SHA-256 of every input file, for the run manifest.

    Files already streamed by ingest use the digest computed then; others are read now.
    """
    described = []
    for file in inputs.all():
        if file.relative not in inputs.digests:
            with storage.DigestingReader(file.open()) as reader:
                while reader.read(8 << 20):
                    pass
                inputs.digests[file.relative] = (reader.size, reader.sha256)
        size, sha256 = inputs.digests[file.relative]
        described.append({"path": file.relative, "size": size, "sha256": sha256})
    return described


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


def read_text_columns(files: Sequence[InputFile | Path], columns: tuple[str, ...], malformed: list[MalformedRow],
                      inputs: InputFiles | None = None, *, threads: int = 1) -> pa.RecordBatchReader:
    """Stream the named columns of CSV files as text, in file order.

    Each batch carries ``file_no`` (position in ``files``) and ``row_number`` (1-based, among the
    file's well-formed data rows), so "first in file order" stays well defined. Header names are
    matched after stripping spaces; rows with the wrong number of fields are skipped and appended
    to ``malformed`` (a list the caller owns, filled as the reader is consumed). With ``inputs``,
    headers already read are reused and each file's size and SHA-256 land in ``inputs.digests``
    once the file has been read to its end.

    With ``threads`` > 1, up to that many files are read at once and batches come in the order they
    are ready, not in file order (``file_no`` and ``row_number`` still place every row).
    """
    schema = pa.schema(
        [("file_no", pa.int32()), ("row_number", pa.int64())] + [(c, pa.string()) for c in columns]
    )
    files = [_as_input_file(f) for f in files]
    if threads > 1 and len(files) > 1:
        batches = _parallel_batches(files, columns, schema, malformed, inputs, min(threads, len(files)))
    else:
        batches = (batch for file_no, file in enumerate(files)
                   for batch in _file_batches(file_no, file, columns, schema, malformed, inputs))
    return pa.RecordBatchReader.from_batches(schema, batches)


def _as_input_file(file: InputFile | Path) -> InputFile:
    if isinstance(file, InputFile):
        return file
    path = Path(file)
    return InputFile(path.name, str(path), path.stat().st_size, opener=lambda: open(path, "rb"))


def _parallel_batches(files, columns, schema, malformed, inputs, threads: int) -> Iterator[pa.RecordBatch]:
    """The batches of every file, ``threads`` files read at once, in the order they are ready."""
    ready: queue.Queue = queue.Queue(maxsize=2 * threads)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in enumerate(files):
        todo.put(item)

    def work() -> None:
        while not stop.is_set():
            try:
                file_no, file = todo.get_nowait()
            except queue.Empty:
                return
            try:
                for batch in _file_batches(file_no, file, columns, schema, malformed, inputs):
                    if not put(batch):
                        return
                put(done)
            except BaseException as error:  # handed to the consumer, which raises it
                put(error)
                return

    # Daemon threads: a reader abandoned half-way (its consumer failed) never holds up the exit.
    workers = [threading.Thread(target=work, name=f"csv-reader-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    try:
        remaining = len(files)
        while remaining:
            item = ready.get()
            if item is done:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def _file_batches(file_no, file, columns, schema, malformed, inputs) -> Iterator[pa.RecordBatch]:
    headers = inputs.headers if inputs is not None else {}

    def skip(row, file_no=file_no):
        malformed.append(MalformedRow(file_no, row.actual_columns, row.expected_columns, row.text))
        return "skip"

    header = headers.get(file.relative) or read_header(file)
    with storage.DigestingReader(file.open()) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=16 << 20),
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
        while stream.read(1 << 20):  # normally nothing is left: the digest covers every byte
            pass
        if inputs is not None:
            inputs.digests[file.relative] = (stream.size, stream.sha256)
