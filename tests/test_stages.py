"""The stage graph read from the notebooks' metadata (pipeline/stages.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.stages import StageError, alongside, find_stage, load_stages, prerequisites, read_stages

REPO = Path(__file__).resolve().parents[1]
TOYS = Path(__file__).resolve().parent / "runner_notebooks"


def notebook(folder: Path, stem: str, depends_on=None, metadata=None) -> Path:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if depends_on is not None:
        meta["pipeline"] = {"depends_on": depends_on}
    meta.update(metadata or {})
    path = folder / f"{stem}.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return path


def graph(stages) -> dict[str, list[str]]:
    return {s.name: list(s.depends_on) for s in stages}


def test_the_projects_notebooks_run_genre_and_hourly_side_by_side():
    stages = load_stages(REPO / "notebooks")
    assert graph(stages) == {
        "ingest": [],
        "genre_kpis": ["01_ingest"],
        "hourly_kpis": ["01_ingest"],
        "checks": ["02_genre_kpis", "03_hourly_kpis"],
        "load": ["02_genre_kpis", "03_hourly_kpis", "04_checks"],
    }
    assert all(s.declared for s in stages)
    # they read what the earlier dates loaded: in a backfill, not before those dates' runs ended
    assert [s.name for s in stages if s.after_earlier_dates] == ["checks", "load"]
    load = find_stage(stages, "load")
    assert [s.name for s in prerequisites(stages, load)] == ["ingest", "genre_kpis", "hourly_kpis", "checks"]
    assert prerequisites(stages, find_stage(stages, "ingest")) == []
    # what may run at the same time as each (the memory each kernel may take depends on it)
    assert {s.name: [o.name for o in alongside(stages, s)] for s in stages} == {
        "ingest": [],
        "genre_kpis": ["hourly_kpis"],
        "hourly_kpis": ["genre_kpis"],
        "checks": [],
        "load": [],
    }


def test_without_a_declaration_a_notebook_needs_every_earlier_one():
    stages = load_stages(TOYS / "failing")
    assert graph(stages) == {"first": [], "boom": ["01_first"], "after": ["01_first", "02_boom"]}
    assert not any(s.declared for s in stages)


def test_an_empty_list_means_no_prerequisite(tmp_path):
    paths = [notebook(tmp_path, "01_a"), notebook(tmp_path, "02_b", []), notebook(tmp_path, "03_c", ["01_a"])]
    stages = read_stages(paths)
    assert graph(stages) == {"a": [], "b": [], "c": ["01_a"]}


@pytest.mark.parametrize("name", ["load", "05_load", "05_load.ipynb"])
def test_a_stage_is_found_by_name_stem_or_file(name):
    assert find_stage(load_stages(REPO / "notebooks"), name).notebook == "05_load.ipynb"


def test_unknown_stage_lists_the_stages():
    with pytest.raises(StageError) as info:
        find_stage(load_stages(REPO / "notebooks"), "archive")
    assert "unknown stage 'archive'" in str(info.value)
    assert "ingest, genre_kpis, hourly_kpis, checks, load" in str(info.value)
    assert isinstance(info.value, PipelineError)  # the CLI's exit status 2


@pytest.mark.parametrize(
    "depends_on, message",
    [
        (["03_c"], "'03_c' is not an earlier notebook"),
        (["02_b"], "'02_b' is not an earlier notebook"),  # itself
        (["09_nope"], "'09_nope' is not a notebook of"),
        (["01_a", "01_a"], "lists a notebook twice"),
    ],
)
def test_bad_declarations_are_refused(tmp_path, depends_on, message):
    paths = [notebook(tmp_path, "01_a"), notebook(tmp_path, "02_b", depends_on), notebook(tmp_path, "03_c")]
    with pytest.raises(StageError, match="invalid stage graph") as info:
        read_stages(paths)
    assert "02_b.ipynb" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"pipeline": {"depends_on": "01_a"}}, "must be a list of notebook stems, got '01_a'"),
        ({"pipeline": ["01_a"]}, "must be a mapping"),
        ({"pipeline": {"after_earlier_dates": "yes"}}, "pipeline.after_earlier_dates must be true or false, got 'yes'"),
    ],
)
def test_malformed_metadata_is_refused(tmp_path, metadata, message):
    paths = [notebook(tmp_path, "01_a"), notebook(tmp_path, "02_b", metadata=metadata)]
    with pytest.raises(StageError, match="02_b.ipynb") as info:
        read_stages(paths)
    assert message in str(info.value)


def test_a_stage_waits_for_the_earlier_dates_only_if_its_metadata_says_so(tmp_path):
    flag = {"pipeline": {"depends_on": ["01_a"], "after_earlier_dates": True}}
    stages = read_stages([notebook(tmp_path, "01_a"), notebook(tmp_path, "02_b", metadata=flag)])
    assert [(s.name, s.after_earlier_dates) for s in stages] == [("a", False), ("b", True)]
    assert graph(stages) == {"a": [], "b": ["01_a"]}


def test_stage_names_must_be_unique(tmp_path):
    paths = [notebook(tmp_path, "01_load"), notebook(tmp_path, "02_load")]
    with pytest.raises(StageError, match="same stage name 'load'"):
        read_stages(paths)


def test_stages_command_prints_the_graph():
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "stages"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split()[:2] for line in out] == [
        ["ingest", "01_ingest.ipynb"],
        ["genre_kpis", "02_genre_kpis.ipynb"],
        ["hourly_kpis", "03_hourly_kpis.ipynb"],
        ["checks", "04_checks.ipynb"],
        ["load", "05_load.ipynb"],
    ]
    assert out[3].endswith("after: genre_kpis, hourly_kpis; in a backfill, after the earlier dates")
    assert out[4].endswith("after: genre_kpis, hourly_kpis, checks; in a backfill, after the earlier dates")
    assert out[2].endswith("after: ingest")


def test_stages_module_loads_on_its_own_with_the_standard_library_only():
    """The Airflow DAG loads pipeline/stages.py by path in Airflow's environment."""
    code = (
        "import importlib.util, sys\n"
        "sys.modules['pipeline'] = None  # the package must not be needed\n"
        f"spec = importlib.util.spec_from_file_location('_stages', {str(REPO / 'pipeline' / 'stages.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['_stages'] = module\n"
        "spec.loader.exec_module(module)\n"
        f"print([s.name for s in module.load_stages({str(REPO / 'notebooks')!r})])\n"
        "print(issubclass(module.StageError, ValueError))\n"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['ingest', 'genre_kpis', 'hourly_kpis', 'checks', 'load']", "True"]
