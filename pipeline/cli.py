"""Command line: ``python -m pipeline run --date YYYY-MM-DD --params FILE [--run-id ID]``.

Exit status: 0 when every notebook succeeded, 1 when a notebook failed (the message names the
notebook and the cell), 2 when the run could not start (bad date, params, run id, notebook
parameters: nothing ran and no run folder was created), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
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
                     help="name of the run folder (default: UTC time + random suffix); must not exist")
    run.add_argument("--notebooks-dir", metavar="DIR", help="folder of NN_<name>.ipynb (default: notebooks/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)  # bad --date: argparse prints usage and exits 2
    from .runner import run_pipeline  # imported late: ``--help`` and usage errors stay fast

    try:
        result = run_pipeline(args.date, args.params, notebooks_dir=args.notebooks_dir, run_id=args.run_id)
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=sys.stderr)
        return 130
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
