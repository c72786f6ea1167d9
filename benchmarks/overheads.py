"""Fixed costs of a project run that do not depend on the number of streams.

    python benchmarks/overheads.py [--run-dir REPORTS/D/RUN_ID] [--repeat 3]

Prints one JSON object (seconds, best of ``--repeat``):

- ``python_startup``: ``python -c pass``;
- ``import_<module>``: ``python -c "import <module>"`` minus the startup, for the modules the
  runner and the notebooks import (scrapbook, papermill, nbconvert, pandas, duckdb, seaborn via
  ``streamkpi.plots``, the runner itself);
- ``kernel_start``: start a ``python3`` kernel, wait until it is ready, run ``pass``, shut it
  down (what papermill pays for every notebook before its first cell);
- ``runner_prelude``: what ``run_pipeline`` does before the first notebook (params,
  ``inspect_notebook`` of every template, git and package provenance), measured in-process;
- with ``--run-dir``: ``render_<notebook>`` for each executed notebook of that run folder
  (nbconvert HTML with the offline template, the exporter built once, like the runner) and
  ``render_exporter`` (building the exporter).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("scrapbook", "papermill", "nbconvert", "pandas", "duckdb", "pyarrow", "streamkpi.plots", "pipeline.runner")


def _wall(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


def _best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


_KERNEL = """
import time
from jupyter_client.manager import start_new_kernel
t = time.perf_counter()
km, kc = start_new_kernel(kernel_name="python3")
kc.execute_interactive("pass", timeout=60)
kc.stop_channels(); km.shutdown_kernel(now=False)
print(time.perf_counter() - t)
"""

_PRELUDE = """
import time, tempfile, pathlib
t0 = time.perf_counter()
from pipeline import runner
from pipeline.params import load_params
from pipeline.params import repo_root
from pipeline.stages import notebook_files
from pipeline.execute import select_parameters
t1 = time.perf_counter()
params = load_params("params/local.yaml")
nbs = notebook_files(repo_root() / "notebooks")
select_parameters(nbs, [*runner.RUN_PARAMETERS, *params.notebook_parameters()])
t2 = time.perf_counter()
runner.provenance()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

_RENDER = """
import sys, time, json
from pathlib import Path
from pipeline.pages import exporters, render_pages
out = {}
t = time.perf_counter(); exporters(); out["render_exporter"] = time.perf_counter() - t
tmp = Path(sys.argv[2])
for nb in sorted(Path(sys.argv[1]).glob("[0-9][0-9]_*.ipynb")):
    t = time.perf_counter()
    render_pages(nb, tmp / (nb.stem + ".html"), tmp / (nb.stem + ".code.html"), subtitle="bench")
    out["render_" + nb.stem] = time.perf_counter() - t
print(json.dumps(out))
"""


def measure(run_dir: Path | None = None, repeat: int = 3) -> dict:
    out: dict = {}
    startup = _best(lambda: _wall("pass"), repeat)
    out["python_startup"] = startup
    for module in MODULES:
        out[f"import_{module}"] = max(0.0, _best(lambda module=module: _wall(f"import {module}"), repeat) - startup)

    def kernel():
        done = subprocess.run([sys.executable, "-c", _KERNEL], cwd=REPO, check=True, capture_output=True, text=True)
        return float(done.stdout.strip().splitlines()[-1])

    out["kernel_start"] = _best(kernel, repeat)

    done = subprocess.run([sys.executable, "-c", _PRELUDE], cwd=REPO, check=True, capture_output=True, text=True)
    imports, plan, provenance = map(float, done.stdout.split())
    out.update(runner_imports=imports, runner_inspect_notebooks=plan, runner_provenance=provenance)

    if run_dir is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-c", _RENDER, str(run_dir), tmp], cwd=REPO, check=True, capture_output=True, text=True
            )
        out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return {k: round(v, 3) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Fixed costs of a project run (prints JSON).")
    ap.add_argument("--run-dir", type=Path, help="a run folder whose executed notebooks to render")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    print(json.dumps(measure(a.run_dir, a.repeat), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
