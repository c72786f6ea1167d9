"""The project's own files: pinned environment, clean notebook templates, documented targets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~ ]", requirement.strip())[0].lower().replace("_", "-")


def test_every_requirement_is_pinned_and_environment_yml_matches():
    pins = {_name(line): line.split("==")[1].strip()
            for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line}
    requirements = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    requirements = [r for r in requirements if r]
    conda = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    conda_pins = {_name(r.split("==")[0]): r.split("==")[1] for r in conda_pip if "==" in r}
    for requirement in requirements:
        assert _name(requirement) in pins, f"{requirement} is not pinned in constraints.txt"
        assert conda_pins.get(_name(requirement)) == pins[_name(requirement)], f"environment.yml differs on {requirement}"


def test_notebook_templates_are_committed_clean_with_a_parameters_cell():
    templates = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [t.stem for t in templates] == ["01_ingest", "02_genre_kpis", "03_hourly_kpis", "04_load"]
    for template in templates:
        cells = json.loads(template.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{template.name} has outputs"
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code), template.name


def test_make_help_lists_the_documented_targets():
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for target in ("run", "test", "sample-data", "lab"):
        assert re.search(rf"^\s+{target}\s", out, re.M), f"make help does not list {target}"
