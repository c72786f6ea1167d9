"""The project's own files: pinned environment, clean notebook templates, documented targets."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~ ]", requirement.strip())[0].lower().replace("_", "-")


def test_every_requirement_is_pinned_and_environment_yml_matches():
    pins = {
        _name(line): line.split("==")[1].strip()
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    requirements = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    requirements = [r for r in requirements if r]
    conda = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    conda_pins = {_name(r.split("==")[0]): r.split("==")[1] for r in conda_pip if "==" in r}
    for requirement in requirements:
        assert _name(requirement) in pins, f"{requirement} is not pinned in constraints.txt"
        assert conda_pins.get(_name(requirement)) == pins[_name(requirement)], (
            f"environment.yml differs on {requirement}"
        )


def test_notebook_templates_are_committed_clean_with_a_parameters_cell():
    templates = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [t.stem for t in templates] == ["01_ingest", "02_genre_kpis", "03_hourly_kpis", "04_checks", "05_load"]
    for template in templates:
        cells = json.loads(template.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{template.name} has outputs"
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code), template.name


def test_make_help_lists_the_documented_targets():
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for target in ("run", "backfill", "test", "sample-data", "lab", "strip-notebooks"):
        assert re.search(rf"^\s+{target}\s", out, re.M), f"make help does not list {target}"


def test_notebook_defaults_are_the_default_run_of_the_sample_date():
    """Opened fresh in JupyterLab (working directory notebooks/), every notebook runs with its
    defaults: the same date and staging folder, and params/local.yaml's input, warehouse, gap and
    partition lookaround,
    so it shows the figures `make run DATE=2024-06-25` shows."""
    import papermill

    local = yaml.safe_load((REPO / "params" / "local.yaml").read_text())
    from_notebooks = {  # params/local.yaml's paths are relative to the repository root
        "input_uri": "../" + local["input_uri"],
        "warehouse_url": local["warehouse_url"].replace("duckdb:///", "duckdb:///../"),
        "session_gap_minutes": local["session_gap_minutes"],
        "partition_lookaround_days": local["partition_lookaround_days"],
        "run_date": "2024-06-25",
        "staging_dir": "../reports/interactive/staging",
    }
    for template in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        declared = papermill.inspect_notebook(str(template))
        defaults = {name: ast.literal_eval(p["default"]) for name, p in declared.items()}
        shared = {name: value for name, value in defaults.items() if name in from_notebooks}
        assert shared == {name: from_notebooks[name] for name in shared}, template.name
        assert "run_date" in shared and "staging_dir" in shared, template.name


def _package_imports(package: Path, name: str) -> dict[str, set[str]]:
    """Which modules of ``package`` each module imports, at the top or inside a function."""
    modules = {p.stem for p in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(name + "."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith(name + ".")}
        graph[path.stem] = found & modules - {"__init__", path.stem}
    return graph


def test_no_import_cycle_in_the_library_or_the_runner():
    from graphlib import TopologicalSorter

    for package, name in ((REPO / "lib" / "streamkpi", "streamkpi"), (REPO / "pipeline", "pipeline")):
        list(TopologicalSorter(_package_imports(package, name)).static_order())  # raises CycleError


def test_the_sample_generator_is_no_part_of_the_runtime_library():
    assert not list((REPO / "lib" / "streamkpi").glob("sample*.py"))
    assert (REPO / "tools" / "sample_data.py").is_file()
