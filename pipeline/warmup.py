"""Kernels started ahead of their notebook's turn, its top-level imports run silently (1.5 s of a 1,000-stream
``make run``); an import that fails or prints leaves a fresh kernel: the notebook's cell fails or prints as unwarmed."""

import ast
import contextlib
import json
import queue
import re
import time
from pathlib import Path
from typing import Any, NamedTuple

from .progress import format_duration

_SHELL_OR_MAGIC = re.compile(r"^\s*[%!]")  # lines IPython turns into calls (%matplotlib inline, !ls): not Python
SHOWN = {"stream", "display_data", "update_display_data", "execute_result", "clear_output"}  # outputs


class Import(NamedTuple):
    """``import module`` (``names`` empty) or ``from module import names``."""

    module: str
    names: tuple[str, ...] = ()


def notebook_imports(notebook: str | Path) -> list[Import]:
    """The top-level imports of the notebook's code cells, in order, each once."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    sources = ["".join(c.get("source", "")) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    return list(dict.fromkeys(i for source in sources for i in cell_imports(source)))


def cell_imports(source: str) -> list[Import]:
    """The top-level imports of one code cell (none if it is not Python: no parse, or a ``%%`` magic)."""
    python = "\n".join("" if _SHELL_OR_MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse("" if source.lstrip().startswith("%%") else python)
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
    """A statement importing ``imports`` as the notebook does (submodules too), binding no name; raises if one fails."""
    return f"[__import__(module, fromlist=names) for module, names in {[(i.module, list(i.names)) for i in imports]!r}]"


async def prepare(km: Any, notebook: Path, timeout: int) -> str:
    """Start ``km``'s kernel as nbclient would, import what ``notebook`` imports; returns what happened, for its log."""
    try:
        await km.start_kernel(cwd=str(notebook.parent), extra_arguments=["--HistoryManager.hist_file=:memory:"])
    except Exception as exc:  # papermill starts it at the notebook's turn, and so reports why
        return f"kernel could not start ahead of the notebook's turn ({type(exc).__name__}: {exc}); papermill starts it"
    ahead = "kernel started ahead of the notebook's turn"
    imports, started = notebook_imports(notebook), time.monotonic()
    if not imports:
        return f"{ahead} (nothing to pre-import)"
    modules = ", ".join(dict.fromkeys(i.module for i in imports))
    if (problem := await _silently(km, warm_up_code(imports), timeout)) is None:
        return f"{ahead}, {modules} pre-imported in {format_duration(time.monotonic() - started)}"
    with contextlib.suppress(Exception):  # killed meanwhile: its notebook will not run, or papermill says why
        await km.restart_kernel(now=True)
    return f"{ahead}, but pre-importing {modules} failed or printed ({problem}): a fresh kernel runs the notebook"


async def _silently(km: Any, code: str, timeout: int) -> str | None:
    """Run ``code`` silently (no execution count or history): ``None`` if it ran quietly in ``timeout`` s, else why."""
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        msg_id, shown, deadline = kc.execute(code, silent=True, store_history=False), set(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = await kc.get_iopub_msg(timeout=1)
            except queue.Empty:  # still busy, or killed (Ctrl-C, or its notebook will not run)
                if not await km.is_alive():
                    return "the kernel died"
                continue
            kind = msg["msg_type"] if msg["parent_header"].get("msg_id") == msg_id else None  # None: not ours
            if kind == "error":
                return f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}"
            shown |= {kind} & SHOWN
            if kind == "status" and msg["content"].get("execution_state") == "idle":
                return f"it showed {', '.join(sorted(shown))} output" if shown else None
        return f"no answer within {timeout} s"
    except Exception as exc:  # the kernel died, or said nothing in time
        return f"{type(exc).__name__}: {exc}"
    finally:
        kc.stop_channels()
