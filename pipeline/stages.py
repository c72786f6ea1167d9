"""The stage graph, in notebook metadata: ``"pipeline": {"depends_on": [...], "after_earlier_dates": true}`` (earlier
notebooks it reads, default all; in a backfill, after the earlier dates). Stdlib only: Airflow loads it."""

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

try:  # part of the ``pipeline`` package
    from .errors import PipelineError as _Base
except ImportError:  # loaded on its own by path (the Airflow DAG): no package around it
    _Base = ValueError

METADATA_KEY, DEPENDS_ON, AFTER_EARLIER_DATES = "pipeline", "depends_on", "after_earlier_dates"  # notebook metadata
DEFAULT_MAX_PARALLEL, MAX_PARALLEL_ENV = 2, "PIPELINE_MAX_PARALLEL"  # --max-parallel by default: the variable, else 2


class StageError(_Base):
    """The stage graph is malformed, a stage name is unknown, or a stage's inputs are missing."""


@dataclass(frozen=True)
class Stage:
    """One notebook of the pipeline and the stems of the notebooks it depends on directly."""

    path: Path
    depends_on: tuple[str, ...]
    declared: bool  # depends_on came from the notebook's metadata (else: every earlier notebook)
    after_earlier_dates: bool = False  # in a backfill: not before every earlier date's run ended

    @property
    def notebook(self) -> str:  # 02_genre_kpis.ipynb
        return self.path.name

    @property
    def stem(self) -> str:  # 02_genre_kpis
        return self.path.stem

    @property
    def name(self) -> str:  # genre_kpis: the stem without NN_, the Airflow task id
        return re.sub(r"^\d\d_", "", self.stem)


def notebook_files(notebooks_dir: str | Path) -> list[Path]:
    """``NN_<name>.ipynb`` files of ``notebooks_dir``, sorted: the notebook order."""
    return sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if p.is_file())


def read_stages(notebooks: Sequence[str | Path]) -> list[Stage]:
    """The stages of ``notebooks`` (in notebook order), their declarations checked."""
    paths, stages, problems = [Path(p) for p in notebooks], [], []
    for position, path in enumerate(paths):
        earlier, (declared, after_earlier_dates) = [p.stem for p in paths[:position]], _declared(path)
        for stem in [entry for entry in declared or () if not isinstance(entry, str) or entry not in earlier]:
            why = f"is not a notebook of {path.parent}"
            if any(p.stem == stem for p in paths[position:]):
                why = "is not an earlier notebook (dependencies must come earlier in notebook order)"
            problems.append(f"{path.name}: {METADATA_KEY}.{DEPENDS_ON} entry {stem!r} {why}")
        if declared and len(set(map(str, declared))) != len(declared):
            problems.append(f"{path.name}: {METADATA_KEY}.{DEPENDS_ON} lists a notebook twice")
        stage = Stage(path, tuple(earlier if declared is None else declared), declared is not None, after_earlier_dates)
        if same := [s.notebook for s in stages if s.name == stage.name]:  # the last one is named
            problems.append(f"{path.name} and {same[-1]} have the same stage name {stage.name!r}")
        stages.append(stage)
    if problems:
        raise StageError("invalid stage graph:\n" + "\n".join(f"  - {p}" for p in problems))
    return stages


def load_stages(notebooks_dir: str | Path) -> list[Stage]:
    """The stages of the notebooks in ``notebooks_dir``."""
    if not (notebooks := notebook_files(notebooks_dir)):
        raise StageError(f"no notebook named NN_<name>.ipynb in {notebooks_dir}")
    return read_stages(notebooks)


def find_stage(stages: Sequence[Stage], name: str) -> Stage:
    """The stage called ``name``: ``load``, ``05_load`` or ``05_load.ipynb``."""
    if found := next((s for s in stages if name in (s.name, s.stem, s.notebook)), None):
        return found
    names, example = ", ".join(s.name for s in stages), stages[0].stem if stages else "01_ingest"
    raise StageError(f"unknown stage {name!r}; stages: {names} (or their notebook names, e.g. {example})")


def prerequisites(stages: Sequence[Stage], stage: Stage) -> list[Stage]:
    """Every stage ``stage`` depends on, directly or through others, in notebook order."""
    needed = set(stage.depends_on)
    for earlier in reversed(stages):  # what a stage depends on comes before it
        if earlier.stem in needed:
            needed.update(earlier.depends_on)
    return [s for s in stages if s.stem in needed]


def alongside(stages: Sequence[Stage], stage: Stage) -> list[Stage]:
    """The stages that may run alongside ``stage``: those it neither needs nor is needed by, even indirectly."""
    related = {stage.stem} | {s.stem for s in prerequisites(stages, stage)}
    related |= {s.stem for s in stages if stage.stem in {p.stem for p in prerequisites(stages, s)}}
    return [s for s in stages if s.stem not in related]


def describe(stages: Sequence[Stage]) -> str:
    """One line per stage: ``load  05_load.ipynb  after genre_kpis, hourly_kpis``."""
    names = {s.stem: s.name for s in stages}
    width, files = max(len(s.name) for s in stages), max(len(s.notebook) for s in stages)
    return "\n".join(
        f"{s.name:<{width}}  {s.notebook:<{files}}  after: {', '.join(names[d] for d in s.depends_on) or '-'}"
        + ("" if s.declared or not s.depends_on else "  (default: every earlier notebook)")
        + ("; in a backfill, after the earlier dates" if s.after_earlier_dates else "")
        for s in stages
    )


def _declared(path: Path) -> tuple[list | None, bool]:  # depends_on (None: not declared), after_earlier_dates
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise StageError(f"{path.name}: cannot read the notebook: {type(exc).__name__}: {exc}") from None
    section = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if section is not None and not isinstance(section, dict):
        raise StageError(f"{path.name}: notebook metadata {METADATA_KEY!r} must be a mapping, got {section!r}")
    section, key = section or {}, f"{path.name}: {METADATA_KEY}."
    if not isinstance(value := section.get(DEPENDS_ON, []), list):
        raise StageError(f"{key}{DEPENDS_ON} must be a list of notebook stems, got {value!r}")
    if not isinstance(after := section.get(AFTER_EARLIER_DATES, False), bool):
        raise StageError(f"{key}{AFTER_EARLIER_DATES} must be true or false, got {after!r}")
    return section.get(DEPENDS_ON), after


def resolve_max_parallel(value: int | str | None = None) -> int:
    """How many notebooks run at once: ``value`` or ``$PIPELINE_MAX_PARALLEL`` or 2; :class:`StageError` unless >= 1."""
    default = os.environ.get(MAX_PARALLEL_ENV, "").strip() or str(DEFAULT_MAX_PARALLEL)
    source, text = (MAX_PARALLEL_ENV, default) if value is None else ("max_parallel", str(value).strip())
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise StageError(f"{source} must be a whole number of notebooks, 1 or more, not {text!r}")
    return int(text)
