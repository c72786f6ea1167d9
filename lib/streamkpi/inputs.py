"""The input root: where songs.csv, users.csv and the stream files live, and their headers.

An input root is a local folder or ``s3://bucket/prefix`` (see :mod:`streamkpi.storage`); both
give the same :class:`InputFiles`, whose files are opened as byte streams. Files are read front
to back once: the SHA-256 and size of each are computed while ingest streams it, so the run
manifest's checksums cost no second read (an S3 ETag is not a SHA-256).

Stream files may be laid out by date: a folder directly under ``streams/`` named ``YYYY-MM-DD`` or
``date=YYYY-MM-DD`` is *dated*. A run for date D reads the dated folders of D-k..D+k
(k = ``lookaround_days``, params ``partition_lookaround_days``) and skips the other dated folders
without listing their files (on S3 too); files directly under ``streams/`` and in folders with
other names are *undated* and always read. Ingest keeps only D's rows of whatever it reads, so a
flat folder works as well, read whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import storage
from .errors import InputValidationError
from .lines import LineBreakCounter, LineTracker, line_breaks

SONGS_FILE = "songs.csv"
USERS_FILE = "users.csv"
STREAMS_DIR = "streams"
# CSV files as exported, or compressed as exports usually are: read as if decompressed, checksummed as stored.
COMPRESSIONS = {".csv": None, ".csv.gz": "gzip", ".csv.zst": "zstd"}
# Names that exporters give their markers and work files (_SUCCESS, .part-0.csv.crc, _temporary/): never read,
# as pyarrow.dataset and Spark ignore them.
HIDDEN_PREFIXES = (".", "_")
STREAM_PATTERNS = ", ".join("*" + suffix for suffix in COMPRESSIONS)
NOT_A_STREAM_FILE = f"not a stream file ({STREAM_PATTERNS})"
HIDDEN_FILE = "an exporter's marker or hidden file (a name under streams/ starts with '.' or '_')"
# A dated stream folder: streams/2024-06-25/... or streams/date=2024-06-25/... (Hive style).
DATED_FOLDER = re.compile(r"(?:date=)?([0-9]{4}-[0-9]{2}-[0-9]{2})")
# Exports near midnight and time-zone offsets put a few rows of D into the folders of D-1 and D+1.
DEFAULT_LOOKAROUND_DAYS = 1
# Headers of S3 objects are fetched this many at a time; a file larger than HEADER_PROBE bytes has
# its header read from a ranged GET of its first HEADER_PROBE bytes.
HEADER_THREADS = 16
HEADER_PROBE = 1 << 20
# The CSV reader parses a stream file this many bytes at a time.
CSV_BLOCK_BYTES = 16 << 20

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

    @property
    def compression(self) -> str | None:
        """``gzip`` or ``zstd`` for a ``.csv.gz`` / ``.csv.zst`` file, else ``None``."""
        return next((codec for suffix, codec in COMPRESSIONS.items() if self.name.endswith(suffix)), None)

    def open(self) -> BinaryIO:
        """A binary stream of the file's bytes as stored, from the start."""
        return self.opener()

    def csv_bytes(self, stored: BinaryIO) -> BinaryIO:
        """The CSV bytes of ``stored`` (a stream of :meth:`open`), decompressed if the file is compressed."""
        return stored if self.compression is None else pa.CompressedInputStream(stored, self.compression)

    def __str__(self) -> str:
        return self.location


@dataclass(frozen=True)
class InputFiles:
    """The files of one input root; stream files in sorted path order.

    ``headers`` and ``digests`` fill in as files are read (header names; ``(size, sha256)``). A stream
    file of 0 bytes is read as a file with no rows (:attr:`empty_streams`).
    """

    root: str
    songs: InputFile
    users: InputFile
    streams: tuple[InputFile, ...]
    selection: StreamSelection | None = None  # None: every stream file (no run date given)
    ignored: tuple[tuple[str, str], ...] = ()  # (path, why) of the files under streams/ not read
    headers: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    digests: dict[str, tuple[int, str]] = field(default_factory=dict, compare=False, repr=False)

    def all(self) -> list[InputFile]:
        return [self.songs, self.users, *self.streams]

    def relative(self, file: InputFile) -> str:
        return file.relative

    @property
    def empty_streams(self) -> list[str]:
        """The stream files of 0 bytes (a failed export, an S3 folder marker): read, no rows."""
        return [f.relative for f in self.streams if f.size == 0]


def _path_order(relative: str) -> tuple[str, ...]:
    """Sort key of "sorted path order": component by component, as local paths sort."""
    return tuple(relative.split("/"))


def folder_date(name: str) -> dt.date | None:
    """The date of a dated stream folder (``2024-06-25`` or ``date=2024-06-25``), else ``None``."""
    match = DATED_FOLDER.fullmatch(name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:  # 2024-02-30 is no date: an undated folder
        return None


@dataclass(frozen=True)
class StreamSelection:
    """Which stream files a run for ``run_date`` reads: the dated folders of its window and every
    undated file; ``dated_folders_skipped`` were neither listed nor read."""

    run_date: dt.date
    lookaround_days: int
    dated_files: int  # stream files read from dated folders
    undated_files: int  # stream files read from streams/ itself or from undated folders
    dated_folders_read: tuple[str, ...]
    dated_folders_skipped: tuple[str, ...]

    @property
    def files_read(self) -> int:
        return self.dated_files + self.undated_files

    @property
    def window(self) -> str:
        """The dates whose folders are read: ``2024-06-24..2024-06-26`` (one date when k is 0)."""
        margin = dt.timedelta(days=self.lookaround_days)
        return _span(self.run_date - margin, self.run_date + margin)


def _span(first: dt.date, last: dt.date) -> str:
    return str(first) if first == last else f"{first}..{last}"


def locate_inputs(
    input_uri: str | Path,
    s3_endpoint_url: str | None = None,
    *,
    run_date: dt.date | None = None,
    lookaround_days: int = DEFAULT_LOOKAROUND_DAYS,
) -> InputFiles:
    """Find the input files under ``input_uri``; a missing file or folder is an error naming it.

    With a ``run_date``, dated stream folders outside ``run_date`` ± ``lookaround_days`` are
    skipped (see the module docstring); without, every stream file is found.
    """
    if lookaround_days < 0:
        raise ValueError(f"lookaround_days must be >= 0, got {lookaround_days}")
    if storage.is_s3(str(input_uri)):
        return _locate_s3(str(input_uri), s3_endpoint_url, run_date, lookaround_days)
    return _locate_local(Path(input_uri), run_date, lookaround_days)


def _select_streams(
    shown_dir: str,
    top_files: list[InputFile],
    folders: list[str],
    list_folder: Callable[[str], list[InputFile]],
    run_date: dt.date | None,
    lookaround_days: int,
) -> tuple[tuple[InputFile, ...], StreamSelection | None, tuple[tuple[str, str], ...]]:
    """The stream files to read, in sorted path order, what was read and skipped, and the other
    files found, each with why it is not read.

    ``top_files`` are the files directly under ``streams/``, ``folders`` the names of its
    sub-folders; ``list_folder(name)`` lists every file below one of them. Only the sub-folders
    read are listed.
    """
    dates = {name: folder_date(name) for name in folders}
    skipped = (
        set()
        if run_date is None
        else {name for name, day in dates.items() if day and abs((day - run_date).days) > lookaround_days}
    )
    listed = {name: list_folder(name) for name in folders if name not in skipped}
    found = sorted(top_files + [f for files in listed.values() for f in files], key=lambda f: _path_order(f.relative))
    why_not = {f.relative: not_read_because(f.relative) for f in found}
    ignored = tuple((f.relative, why_not[f.relative]) for f in found if why_not[f.relative])
    streams = tuple(f for f in found if not why_not[f.relative])
    if run_date is None:
        if not streams:
            raise InputValidationError(f"{shown_dir} holds no stream file ({STREAM_PATTERNS})")
        return streams, None, ignored
    dated_read = sorted(name for name in listed if dates[name])
    dated_files = sum(not why_not[f.relative] for name in dated_read for f in listed[name])
    selection = StreamSelection(
        run_date, lookaround_days, dated_files, len(streams) - dated_files, tuple(dated_read), tuple(sorted(skipped))
    )
    if not streams:
        raise _no_stream_file(shown_dir, selection, sorted(day for day in dates.values() if day))
    return streams, selection, ignored


def not_read_because(relative: str) -> str | None:
    """Why the file at ``relative`` (``streams/...``) is not a stream file to read; ``None`` if it is one."""
    if any(part.startswith(HIDDEN_PREFIXES) for part in relative.split("/")[1:]):
        return HIDDEN_FILE
    return None if relative.endswith(tuple(COMPRESSIONS)) else NOT_A_STREAM_FILE


def _no_stream_file(shown_dir: str, selection: StreamSelection, folder_dates: list[dt.date]) -> InputValidationError:
    found = (
        f"dated folders span {_span(folder_dates[0], folder_dates[-1])}"
        if folder_dates
        else f"it holds no stream file ({STREAM_PATTERNS}) and no dated folder"
    )
    return InputValidationError(
        f"no stream file for {selection.run_date} under {shown_dir}: {found} (a run reads the undated files and "
        f"the dated folders of {selection.window}, partition_lookaround_days {selection.lookaround_days})"
    )


def _catalog_file(files: dict[str, InputFile], name: str, root: str | Path) -> InputFile:
    """``songs.csv`` (or ``users.csv``) of the input root, or its ``.gz`` / ``.zst`` form: exactly one of them."""
    forms = [name + suffix.removeprefix(".csv") for suffix in COMPRESSIONS]
    found = [files[form] for form in forms if form in files]
    if len(found) != 1:
        which = "no" if not found else "more than one of"
        raise InputValidationError(f"input root {root} has {which} {' or '.join(forms)}: it needs exactly one")
    return found[0]


def _local_file(root: Path, path: Path) -> InputFile:
    return InputFile(path.relative_to(root).as_posix(), str(path), path.stat().st_size, opener=lambda: open(path, "rb"))


def _locate_local(root: Path, run_date: dt.date | None, lookaround_days: int) -> InputFiles:
    if not root.is_dir():
        raise InputValidationError(f"input root {root} is not a folder")
    streams_dir = root / STREAMS_DIR
    present = {p.name: _local_file(root, p) for p in root.iterdir() if p.is_file()}
    songs, users = (_catalog_file(present, name, root) for name in (SONGS_FILE, USERS_FILE))
    if not streams_dir.is_dir():
        raise InputValidationError(f"input root {root} has no {STREAMS_DIR}/ folder")
    entries = list(streams_dir.iterdir())
    top_files = [_local_file(root, p) for p in entries if p.is_file()]
    # as rglob, which never descends into a symbolic link to a folder
    folders = [p.name for p in entries if p.is_dir() and not p.is_symlink()]

    def list_folder(name: str) -> list[InputFile]:
        return [_local_file(root, p) for p in (streams_dir / name).rglob("*") if p.is_file()]

    streams, selection, ignored = _select_streams(
        str(streams_dir), top_files, folders, list_folder, run_date, lookaround_days
    )
    return InputFiles(
        root=str(root),
        songs=songs,
        users=users,
        streams=streams,
        selection=selection,
        ignored=ignored,
    )


def _locate_s3(input_uri: str, endpoint_url: str | None, run_date: dt.date | None, lookaround_days: int) -> InputFiles:
    """As :func:`_locate_local`, listing one folder level at a time: a layout by date is listed
    only for the dated folders read, however long its history."""
    root = storage.S3Uri.parse(input_uri)
    shown = str(root).rstrip("/")
    files, folders = _s3_level(root, root, endpoint_url)
    if not files and not folders:
        raise InputValidationError(f"input root {shown} holds no object (check the bucket and prefix)")
    by_name = {f.relative: f for f in files}
    songs, users = (_catalog_file(by_name, name, shown) for name in (SONGS_FILE, USERS_FILE))
    if STREAMS_DIR not in folders:
        raise InputValidationError(f"input root {shown} has no {STREAMS_DIR}/ folder")
    streams_uri = root.join(STREAMS_DIR)
    top_files, stream_folders = _s3_level(root, streams_uri, endpoint_url)

    def list_folder(name: str) -> list[InputFile]:
        folder = storage.S3Uri(root.bucket, streams_uri.prefix + name + "/")
        return [_s3_file(root, obj, endpoint_url) for obj in storage.list_objects(folder, endpoint_url)]

    streams, selection, ignored = _select_streams(
        f"{shown}/{STREAMS_DIR}", top_files, stream_folders, list_folder, run_date, lookaround_days
    )
    return InputFiles(root=shown, songs=songs, users=users, streams=streams, selection=selection, ignored=ignored)


def _s3_level(
    root: storage.S3Uri, folder: storage.S3Uri, endpoint_url: str | None
) -> tuple[list[InputFile], list[str]]:
    """The files directly under ``folder`` and the names of its sub-folders (one delimited listing)."""
    files, folders = [], []
    for item in storage.list_objects(folder, endpoint_url, delimiter="/"):
        if isinstance(item, storage.S3Folder):
            folders.append(item.prefix[len(folder.prefix) : -1])  # without the trailing delimiter
        elif item.key != folder.prefix:  # the folder's own marker object
            files.append(_s3_file(root, item, endpoint_url))
    return files, folders


def _s3_file(root: storage.S3Uri, obj: storage.S3Object, endpoint_url: str | None) -> InputFile:
    uri = storage.S3Uri(root.bucket, obj.key)

    def opener():
        return storage.open_object(uri, endpoint_url, etag=obj.etag, size=obj.size)

    def head_opener(limit):
        return storage.open_object(uri, endpoint_url, etag=obj.etag, size=obj.size, limit=limit)

    return InputFile(obj.key[len(root.prefix) :], str(uri), obj.size, opener, head_opener)


def read_header(file: InputFile | Path) -> list[str]:
    """The header row of a CSV file (UTF-8, an optional BOM; decompressed if ``.gz`` / ``.zst``), names
    stripped of spaces.

    Only the first record is read; a large plain S3 object has only its first bytes fetched.
    """
    file, header = _as_input_file(file), None
    if file.head_opener is not None and file.size > HEADER_PROBE and file.compression is None:
        with file.head_opener(HEADER_PROBE) as raw:
            probe = raw.read()
        _check_utf8_start(file, probe)
        records = csv.reader(io.StringIO(probe.decode("utf-8-sig", errors="surrogateescape"), newline=""))
        first, second = next(records, None), next(records, None)
        if second is not None:  # the first record ended inside the probe
            header = first
    if header is None:
        raw = file.open()
        with raw, io.BufferedReader(file.csv_bytes(raw), 64 << 10) as buffered:
            _check_utf8_start(file, buffered.peek(2))
            # Rows after the header may hold bytes that are not UTF-8 (rows ingest rejects): kept as surrogates here.
            text = io.TextIOWrapper(buffered, "utf-8-sig", errors="surrogateescape", newline="")
            header = next(csv.reader(text), None)
    if not header:
        raise InputValidationError(f"{file} is empty: a header row is required")
    try:
        "".join(header).encode("utf-8")
    except UnicodeEncodeError:
        shown = ",".join(header).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputValidationError(f"{file}: its header row is not UTF-8: {shown}") from None
    return [name.strip() for name in header]


def _check_utf8_start(file: InputFile, start: bytes) -> None:
    if start[:2] in UTF16_MARKS:
        raise InputValidationError(
            f"{file} is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8: "
            "save it as UTF-8 (with or without BOM)"
        )


def read_headers(inputs: InputFiles) -> dict[str, list[str]]:
    """The header of every input file (fetched in parallel for S3; none for an empty stream file), kept in
    ``inputs.headers``."""
    inputs.headers.update(dict.fromkeys(inputs.empty_streams, []))
    missing = [f for f in inputs.all() if f.relative not in inputs.headers]
    threads = HEADER_THREADS if storage.is_s3(inputs.root) and len(missing) > 1 else 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for file, header in zip(missing, pool.map(read_header, missing)):
            inputs.headers[file.relative] = header
    return inputs.headers


def check_required_columns(inputs: InputFiles) -> None:
    """Fail before anything is staged when a file lacks a required column, naming file and columns."""
    headers = read_headers(inputs)
    streams = [("streams", p) for p in inputs.streams if p.relative not in inputs.empty_streams]
    kinds = [("songs", inputs.songs), ("users", inputs.users), *streams]
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
    """A CSV row that is no row of its file: its number of fields differs from its header's, or its bytes
    are not UTF-8 (``text`` then shows the fields read, each byte that is not UTF-8 as ``\\xNN``)."""

    file_no: int
    row_number: int
    rule: str
    text: str


@dataclass
class ReadFindings:
    """What reading CSV files meets besides the rows it returns, filled in as the reader is consumed:
    the malformed rows, and per file the anchors that give each row's line (see :mod:`streamkpi.lines`)."""

    malformed: list[MalformedRow] = field(default_factory=list)
    line_anchors: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)  # (file_no, rows, lines)

    def malformed_table(self) -> pa.Table:
        """``(file_no, row_number, rule)``, the raw text kept in the rule."""
        return pa.table(
            {
                "file_no": pa.array([m.file_no for m in self.malformed], pa.int64()),
                "row_number": pa.array([m.row_number for m in self.malformed], pa.int64()),
                "rule": pa.array([f"{m.rule}: {m.text}" for m in self.malformed], pa.string()),
            }
        )

    def lines_table(self) -> pa.Table:
        """``(file_no, row_number, line)``: from each anchor row on, row r starts on ``line + r - row_number``."""
        anchors = self.line_anchors
        return pa.table(
            {
                "file_no": pa.array(np.concatenate([np.full(len(r), f) for f, r, _ in anchors] or [[]]), pa.int64()),
                "row_number": pa.array(np.concatenate([r for _, r, _ in anchors] or [[]]), pa.int64()),
                "line": pa.array(np.concatenate([lines for _, _, lines in anchors] or [[]]), pa.int64()),
            }
        )


NOT_UTF8 = "row with bytes that are not UTF-8 (shown as \\xNN)"
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # a UTF-16 file's first two bytes


def read_text_columns(
    files: Sequence[InputFile | Path],
    columns: tuple[str, ...],
    findings: ReadFindings,
    inputs: InputFiles | None = None,
    *,
    threads: int = 1,
) -> pa.RecordBatchReader:
    """Stream the named columns of CSV files as text, in file order.

    Each batch carries ``file_no`` (position in ``files``) and ``row_number`` (1-based, among the
    file's data rows, malformed ones included), so "first in file order" stays well defined. Header
    names are matched after stripping spaces; rows with the wrong number of fields or bytes that are
    not UTF-8 are left out and appended to ``findings.malformed``; each file's line anchors land in
    ``findings.line_anchors`` once it has been read (``findings`` is the caller's, filled as the
    reader is consumed). With ``inputs``, headers already read are reused and each file's size and
    SHA-256 land in ``inputs.digests`` once the file has been read to its end.

    With ``threads`` > 1, up to that many files are read at once and batches come in the order they
    are ready, not in file order (``file_no`` and ``row_number`` still place every row).
    """
    schema = pa.schema([("file_no", pa.int32()), ("row_number", pa.int64())] + [(c, pa.string()) for c in columns])
    files = [_as_input_file(f) for f in files]
    if threads > 1 and len(files) > 1:
        batches = _parallel_batches(files, columns, schema, findings, inputs, min(threads, len(files)))
    else:
        batches = (
            batch
            for file_no, file in enumerate(files)
            for batch in _file_batches(file_no, file, columns, schema, findings, inputs)
        )
    return pa.RecordBatchReader.from_batches(schema, batches)


def _as_input_file(file: InputFile | Path) -> InputFile:
    if isinstance(file, InputFile):
        return file
    path = Path(file)
    return InputFile(path.name, str(path), path.stat().st_size, opener=lambda: open(path, "rb"))


def _parallel_batches(files, columns, schema, findings, inputs, threads: int) -> Iterator[pa.RecordBatch]:
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
                for batch in _file_batches(file_no, file, columns, schema, findings, inputs):
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


def _as_text(numbered: list[pa.Array], file_no: int, malformed: list[MalformedRow]) -> list[pa.Array]:
    """``[file_no, row_number, *byte columns]`` with the byte columns as text; the rows whose bytes are not
    UTF-8 are left out and appended to ``malformed`` (the fast path: every row is UTF-8)."""
    columns = numbered[2:]
    try:
        return [*numbered[:2], *(column.cast(pa.string()) for column in columns)]
    except pa.ArrowInvalid:  # some row is not UTF-8: find which, by Python's own decoder
        pass
    keep = []
    for row_number, *values in zip(numbered[1].to_pylist(), *(column.to_pylist() for column in columns)):
        try:
            keep.append(all(value.decode("utf-8") is not None for value in values))
        except UnicodeDecodeError:
            keep.append(False)
            text = ",".join(v.decode("utf-8", "backslashreplace") for v in values)
            malformed.append(MalformedRow(file_no, row_number, NOT_UTF8, text))
    mask = pa.array(keep)
    return [*(array.filter(mask) for array in numbered[:2]), *(c.filter(mask).cast(pa.string()) for c in columns)]


def _file_batches(file_no, file, columns, schema, findings, inputs) -> Iterator[pa.RecordBatch]:
    if file.size == 0:  # no header, no rows (describe_files checksums it)
        return
    header = (inputs.headers if inputs is not None else {}).get(file.relative) or read_header(file)
    lines = LineTracker(header_lines=1 + line_breaks(",".join(header)))

    def skip(row):
        rule = f"malformed CSV row: {row.actual_columns} fields where the header has {row.expected_columns}"
        findings.malformed.append(MalformedRow(file_no, lines.malformed(row.number, row.text), rule, row.text))
        return "skip"

    with storage.DigestingReader(file.open()) as stream:
        counted = LineBreakCounter(file.csv_bytes(stream))
        reader = pacsv.open_csv(
            counted,
            # One thread per file: the reader then numbers the malformed rows it skips.
            read_options=pacsv.ReadOptions(
                column_names=header, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                # every column, though only ``columns`` are returned: a line break in any value moves the lines
                column_types={c: pa.binary() for c in header},  # checked as UTF-8 row by row below
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            numbered = [
                pa.array(np.full(batch.num_rows, file_no, dtype=np.int32)),
                pa.array(lines.number(batch.columns, quoted=counted.quoted)),  # its bytes were all read
                *(batch.column(c) for c in columns),
            ]
            yield pa.RecordBatch.from_arrays(_as_text(numbered, file_no, findings.malformed), schema=schema)
        while stream.read(1 << 20):  # normally nothing is left: the digest covers every byte
            pass
        if inputs is not None:
            inputs.digests[file.relative] = (stream.size, stream.sha256)
    findings.line_anchors.append((file_no, *lines.anchors(counted, lambda: _csv_bytes_again(file))))


@contextmanager
def _csv_bytes_again(file: InputFile) -> Iterator[BinaryIO]:
    with file.open() as stored:
        yield file.csv_bytes(stored)
