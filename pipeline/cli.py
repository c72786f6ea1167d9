"""Command line: ``python -m pipeline run --date YYYY-MM-DD --params FILE [--run-id ID] [--stage NAME]``
and ``python -m pipeline stages``.

Exit status: 0 when every notebook (with ``--stage``: that stage's notebook) succeeded, 1 when a
notebook failed (the message names the notebook and the cell), 2 when the run could not start
(bad date, params, run id, notebook parameters, or with ``--stage`` a stage whose inputs are
missing: nothing ran), 130 when interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Sequence

from .errors import EXIT_USAGE, PipelineError
from .params import KEYS, validate_run_date
from .paths import validate_run_id


def _date(text: str) -> str:
    try:
        return validate_run_date(text)
    except PipelineError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_id(text: str) -> str:
    try:
        return validate_run_id(text)
    except PipelineError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Run the project's notebooks for one date with papermill and write the run's reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run all notebooks for one date",
        description="Run notebooks/NN_*.ipynb in order for --date and write "
        "<reports_dir>/<date>/<run-id>/ (executed notebooks, HTML, index.html, manifest.json, run.log).",
        epilog="params keys: " + ", ".join(k.name + ("" if k.required else " (optional)") for k in KEYS)
        + ". Exit status: 0 all notebooks succeeded, 1 a notebook failed, 2 the run could not start.",
    )
    run.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD", help="the run date")
    run.add_argument("--params", required=True, metavar="FILE", help="params YAML, e.g. params/local.yaml")
    run.add_argument("--run-id", type=_run_id, metavar="ID",
                     help="name of the run folder (default: UTC time + random suffix); must not exist, "
                     "except with --stage, which continues the run folder ID when it exists")
    run.add_argument("--stage", metavar="NAME",
                     help="run only this notebook (e.g. load, 04_load or 04_load.ipynb; see "
                     "'python -m pipeline stages'); refused unless the stages it depends on "
                     "succeeded in the run folder --run-id")
    run.add_argument("--notebooks-dir", metavar="DIR", help="folder of NN_<name>.ipynb (default: notebooks/)")
    stages = commands.add_parser(
        "stages",
        help="list the stages (notebooks) and what each depends on",
        description="One line per notebook: stage name, notebook, the stages it needs "
        "(declared in the notebook's metadata as pipeline.depends_on; default: every earlier notebook).",
    )
    stages.add_argument("--notebooks-dir", metavar="DIR", help="folder of NN_<name>.ipynb (default: notebooks/)")
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)  # bad --date: argparse prints usage and exits 2
    if args.command == "stages":
        return _stages(args.notebooks_dir)
    from .runner import run_pipeline, run_stage  # imported late: ``--help`` and usage errors stay fast

    # A scheduler stops a task with SIGTERM: finish the manifest and index as for Ctrl-C.
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    else:
        previous = None
    try:
        if args.stage is not None:
            result = run_stage(args.date, args.params, args.stage, notebooks_dir=args.notebooks_dir,
                               run_id=args.run_id)
        else:
            result = run_pipeline(args.date, args.params, notebooks_dir=args.notebooks_dir, run_id=args.run_id)
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return result.exit_code


def _stages(notebooks_dir: str | None) -> int:
    from .paths import default_notebooks_dir
    from .stages import describe, load_stages

    try:
        print(describe(load_stages(notebooks_dir or default_notebooks_dir())))
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
