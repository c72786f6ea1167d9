"""The line each row of a CSV file starts on, so that a rejected row can be found in its file.

The CSV reader numbers records, not lines: a quoted value may hold line breaks and blank lines are
skipped. :class:`LineTracker` follows one file as it is read: it numbers the rows (malformed ones
included), notes the rare rows that span several lines, and counts every line break of the file's
bytes. When the count agrees with the rows' lines (no blank line between rows: nearly always),
each row's line follows from its number; else the file is read once more by Python's csv module,
which places every record exactly.

A file's lines are given as anchors: from an anchor ``(row_number, line)`` on, up to the next one,
row ``r`` starts on line ``line + r - row_number``.
"""

from __future__ import annotations

import csv
import io
import logging
from array import array
from collections.abc import Callable, Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

BREAK_BYTES = b"\r\n"


def line_breaks(text: str | bytes) -> int:
    """Line breaks in ``text`` as the CSV reader and editors count them: ``\\n``, ``\\r\\n`` or a lone ``\\r``."""
    if isinstance(text, str):
        return text.count("\n") + text.count("\r") - text.count("\r\n")
    return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")


class LineBreakCounter(io.RawIOBase):
    """Passes reads through and counts the line breaks of the bytes read, and those they end with; ``quoted``
    says whether they hold a double quote (a CSV value can hold a line break only inside quotes)."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self.breaks = 0
        self.quoted = False
        self._ends_with_cr = False
        self._tail = b""  # the run of \r and \n bytes the data read so far ends with

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if chunk:
            self._count(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self._count(bytes(memoryview(buffer)[:n]))
        return n or 0

    def _count(self, chunk: bytes) -> None:
        # None in most files (a quick search says so): then every break is a \n. numpy counts them 3x faster than
        # bytes.count, and without the GIL.
        carriage_returns = chunk.count(b"\r") if b"\r" in chunk else 0
        newlines = int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n")))
        self.breaks += newlines + (carriage_returns and carriage_returns - chunk.count(b"\r\n"))
        self.breaks -= self._ends_with_cr and chunk[:1] == b"\n"  # a \r\n split between two reads
        self.quoted = self.quoted or b'"' in chunk  # pyarrow's default quote character, which the reader keeps
        self._ends_with_cr = chunk[-1:] == b"\r"
        run = 0  # the line-break bytes the chunk ends with (one, usually)
        while run < len(chunk) and chunk[-1 - run] in BREAK_BYTES:
            run += 1
        self._tail = self._tail + chunk if run == len(chunk) else chunk[len(chunk) - run :]

    @property
    def trailing_breaks(self) -> int:
        """The line breaks the bytes read end with: the last row's own and any blank lines after it."""
        return line_breaks(self._tail)


class LineTracker:
    """Numbers the rows of one CSV file as the reader meets them and works out the line each starts on.

    Parameters
    ----------
    header_lines
        The lines the header record takes (1 unless a quoted name holds a line break).
    """

    def __init__(self, header_lines: int = 1):
        self.header_lines = header_lines
        self.rows = 0  # rows numbered so far, malformed ones included
        self._good_before: list[int] = []  # per malformed row, how many well-formed rows precede it
        self._good = 0
        self._tall_rows: list[np.ndarray] = []  # row numbers of rows that span more than one line
        self._extra_lines: list[np.ndarray] = []  # and the lines each takes beyond one

    def malformed(self, record_number: int, text: str) -> int:
        """Note a malformed row (the reader's record number counts the header as 1); its row number."""
        row = record_number - 1
        self._good_before.append(row - 1 - len(self._good_before))
        self.rows = max(self.rows, row)
        if extra := line_breaks(text):
            self._tall_rows.append(np.array([row], dtype=np.int64))
            self._extra_lines.append(np.array([extra], dtype=np.int64))
        return row

    def number(self, values: Sequence[pa.Array], *, quoted: bool = True) -> np.ndarray:
        """Row numbers of the next well-formed rows, whose ``values`` are all their fields (binary).

        ``quoted=False`` says that no byte of the file read so far is a double quote: then no value holds a line
        break, and the values need no search for one (a fifth of the reader's CPU time on stream files)."""
        count = len(values[0]) if values else 0
        ordinals = np.arange(self._good, self._good + count, dtype=np.int64)
        self._good += count
        # Well-formed rows before a malformed one push the rows after it one number on.
        skipped = np.searchsorted(np.array(self._good_before, dtype=np.int64), ordinals, side="right")
        rows = ordinals + 1 + skipped
        if count:
            self.rows = max(self.rows, int(rows[-1]))
        if not quoted:
            return rows
        extra = sum((self._breaks_per_value(column) for column in values), np.zeros(count, dtype=np.int64))
        if (tall := extra > 0).any():
            self._tall_rows.append(rows[tall])
            self._extra_lines.append(extra[tall])
        return rows

    @staticmethod
    def _breaks_per_value(column: pa.Array) -> np.ndarray | int:
        data = column.buffers()[2]
        if data is None:
            return 0
        raw = np.frombuffer(data, dtype=np.uint8)
        if not (np.count_nonzero(raw == 10) or np.count_nonzero(raw == 13)):
            return 0  # the usual case: no value holds a line break
        counts = [
            pc.count_substring(column, pattern).to_numpy(zero_copy_only=False) for pattern in ("\n", "\r", "\r\n")
        ]
        return (counts[0] + counts[1] - counts[2]).astype(np.int64)

    def anchors(self, counter: LineBreakCounter, reread: Callable[[], BinaryIO]) -> tuple[np.ndarray, np.ndarray]:
        """The file's line anchors ``(row_numbers, lines)``, once it has been read to its end through ``counter``.

        ``reread()`` opens the file's CSV bytes again, for a file with blank lines between its rows.
        """
        tall = np.concatenate(self._tall_rows) if self._tall_rows else np.zeros(0, dtype=np.int64)
        extra = np.concatenate(self._extra_lines) if self._extra_lines else np.zeros(0, dtype=np.int64)
        order = np.argsort(tall, kind="stable")
        tall, extra = tall[order], np.cumsum(extra[order])
        rows = np.concatenate([[1], tall + 1])
        lines = np.concatenate([[self.header_lines + 1], tall + 1 + self.header_lines + extra])
        record_lines = self.header_lines + self.rows + (int(extra[-1]) if len(extra) else 0)
        # Every break ends a line of a record, or is a blank line; blank lines after the last row move no row.
        if counter.breaks == record_lines - 1 + counter.trailing_breaks:
            return rows, lines
        with reread() as stream:
            starts = _record_starts(stream)
        if len(starts) != self.rows:
            logger.warning(
                "line numbers of rejected rows may be off: Python's csv module finds %d rows where the reader found %d",
                len(starts),
                self.rows,
            )
            return rows, lines
        if not len(starts):
            return rows, lines
        first = np.concatenate([[0], np.flatnonzero(np.diff(starts) != 1) + 1])  # rows not right below the last
        return first + 1, starts[first]


def _record_starts(stream: BinaryIO) -> np.ndarray:
    """The line each data record of a CSV byte stream starts on (the first record is the header)."""
    # latin-1 maps every byte to one character: line breaks stay where they are, whatever the encoding.
    # (The counter only makes any binary stream, pyarrow's decompressing ones too, a raw one to buffer.)
    text = io.TextIOWrapper(io.BufferedReader(LineBreakCounter(stream), 1 << 20), "latin-1", newline="")
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        reader = csv.reader(text)
        starts, lines_before, header = array("q"), 0, True
        for record in reader:
            if record and not header:
                starts.append(lines_before + 1)
            header = header and not record
            lines_before = reader.line_num
    finally:
        csv.field_size_limit(limit)
    return np.array(starts, dtype=np.int64)
