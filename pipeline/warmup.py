"""What a notebook's kernel may import before the notebook's turn: the modules its code imports.

The runner knows nothing of a notebook beyond its import statements: the top-level ``import x``
and ``from x import y`` statements of its code cells (not those inside a function, an ``if`` or
a ``try``, which may not run). :func:`warm_up_code` turns them into one statement that imports
those modules without binding any name in the notebook's namespace; the kernel runs it silently
(:mod:`pipeline.kernels`) before the first cell.

Standard library only: the runner parses notebooks before it imports papermill.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import NamedTuple

# Lines IPython turns into calls (``%matplotlib inline``, ``!ls``): not Python, dropped before parsing.
_SHELL_OR_MAGIC = re.compile(r"^\s*[%!]")


class Import(NamedTuple):
    """``import module`` (``names`` empty) or ``from module import names``."""

    module: str
    names: tuple[str, ...] = ()


def notebook_imports(notebook: str | Path) -> list[Import]:
    """The top-level imports of the notebook's code cells, in order, each once (unreadable
    notebooks and cells that are not Python give none)."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    found: list[Import] = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            found += cell_imports("".join(source) if isinstance(source, list) else str(source))
    return list(dict.fromkeys(found))


def cell_imports(source: str) -> list[Import]:
    """The top-level imports of one code cell (none if it does not parse, or if a cell magic such as
    ``%%bash`` or ``%%writefile`` makes it something else than Python)."""
    if source.lstrip().startswith("%%"):
        return []
    python = "\n".join("" if _SHELL_OR_MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        return []
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            found += [Import(alias.name) for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            found.append(Import(statement.module, tuple(alias.name for alias in statement.names)))
    return found


def warm_up_code(imports: list[Import]) -> str:
    """One statement importing ``imports`` as the notebook's own statements would (``from x
    import y`` imports the submodule ``x.y`` if ``y`` is one), binding no name in the
    notebook's namespace. It raises at the first import that fails."""
    pairs = [(i.module, list(i.names)) for i in imports]
    return f"[__import__(module, fromlist=names) for module, names in {pairs!r}]"
