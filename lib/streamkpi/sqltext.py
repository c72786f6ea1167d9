"""SQL text written in Python: quoting, and the statements kept in ``sql/*.sql``.

Values enter a statement through :func:`literal` and :func:`identifier` only, so a path or a file
name holding a quote can neither break nor change a statement. The SQL itself lives in ``sql/``,
where it reads as SQL: the KPI queries (a file each, run on every engine) and ingest's statements
(several to a file, each after a ``-- name: <section>`` line), all read by :func:`load_sql`.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

SQL_DIR = Path(__file__).parent / "sql"
SECTION = re.compile(r"^-- name: (\w+)\n", re.MULTILINE)


def literal(value: object) -> str:
    """``value`` as a SQL string literal: its text in single quotes, quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes, doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


def load_sql(file: str, section: str | None = None, /, **values: object) -> str:
    """The SQL of ``sql/<file>.sql``, or of one of its sections, with its placeholders filled in.

    Parameters
    ----------
    file
        The file's name without ``.sql``.
    section
        The statement after the file's ``-- name: <section>`` line; ``None``: the whole file.
    values
        The text of each ``${name}`` placeholder, inserted as it is (``str(value)``): numbers,
        dates and the rules' patterns; anything read from the data goes through :func:`literal`.
    """
    text = (SQL_DIR / f"{file}.sql").read_text("utf-8")
    if section is not None:
        _, *parts = SECTION.split(text)
        sections = dict(zip(parts[::2], parts[1::2]))
        if section not in sections:
            raise ValueError(f"{SQL_DIR / file}.sql has no section {section!r} (it has: {', '.join(sections)})")
        text = sections[section].strip()
    return Template(text).substitute(values)
