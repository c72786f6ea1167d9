"""Which notebook of a run starts next, and whose kernel to start ahead: bookkeeping only.

A notebook may start once every notebook it depends on (:mod:`pipeline.stages`) has succeeded,
at most ``max_parallel`` at once, in notebook order when several may. Once one fails (or the run
is interrupted) nothing new starts: the running ones finish and the others are not run.

Kernels are started ahead of their notebook's turn (:mod:`pipeline.kernels`) for the notebooks
that may start next, i.e. those whose prerequisites have succeeded or are running; at most
``max_parallel`` kernels wait at a time, as many as can start at once: more would compete for the
CPU with the notebooks running now.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .errors import PipelineError
from .results import FAILED, NOT_RUN, SUCCEEDED
from .stages import Stage

DEFAULT_MAX_PARALLEL = 2
MAX_PARALLEL_ENV = "PIPELINE_MAX_PARALLEL"  # the default of ``--max-parallel``
PARALLEL_NOTEBOOKS_ENV = "PIPELINE_PARALLEL_NOTEBOOKS"  # set for the kernels: how many may run at once

PENDING = "pending"
WARMING = "warming"  # its kernel is started, the notebook waits for its turn
RUNNING = "running"


def max_parallel(value: int | str | None = None) -> int:
    """How many notebooks may run at once: ``value`` (``--max-parallel``), else
    ``$PIPELINE_MAX_PARALLEL``, else 2; :class:`PipelineError` unless a whole number >= 1."""
    if value is None:
        source, text = MAX_PARALLEL_ENV, os.environ.get(MAX_PARALLEL_ENV, "").strip() or str(DEFAULT_MAX_PARALLEL)
    else:
        source, text = "max_parallel", str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise PipelineError(f"{source} must be a whole number of notebooks, 1 or more, not {text!r}")
    return int(text)


class Schedule:
    """The state of every notebook of a run (by stem) and what may happen next."""

    def __init__(self, stages: Sequence[Stage], max_parallel: int):
        self.stages = list(stages)
        self.max_parallel = max_parallel
        self.state = {stage.stem: PENDING for stage in self.stages}
        self.stopped = False

    def to_start(self) -> list[Stage]:
        """The notebooks to start now."""
        if self.stopped:
            return []
        free = self.max_parallel - len(self.running)
        ready = [s for s in self.stages if self.state[s.stem] in (PENDING, WARMING) and self._after(s, (SUCCEEDED,))]
        return ready[: max(free, 0)]

    def to_warm(self) -> list[Stage]:
        """The notebooks whose kernels to start now, ahead of their turn."""
        if self.stopped:
            return []
        room = self.max_parallel - len(self.in_state(WARMING))
        soon = [s for s in self.stages if self.state[s.stem] == PENDING and self._after(s, (SUCCEEDED, RUNNING))]
        return soon[: max(room, 0)]

    def mark(self, stem: str, state: str) -> None:
        self.state[stem] = state
        if state == FAILED:
            self.stop()

    def stop(self) -> None:
        """Start nothing new (a notebook failed, or the run is interrupted)."""
        self.stopped = True

    @property
    def running(self) -> list[str]:
        return self.in_state(RUNNING)

    def in_state(self, *states: str) -> list[str]:
        """Stems of the notebooks in any of ``states``, in notebook order."""
        return [s.stem for s in self.stages if self.state[s.stem] in states]

    def not_run(self) -> list[str]:
        """Once nothing runs: the notebooks that never started."""
        return self.in_state(PENDING, WARMING, NOT_RUN)

    def _after(self, stage: Stage, states: Iterable[str]) -> bool:
        return all(self.state[stem] in states for stem in stage.depends_on)
