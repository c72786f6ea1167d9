"""Command line: ``python -m pipeline run --date YYYY-MM-DD --params FILE [--run-id ID] [--stage NAME]
[--max-parallel N] [--quiet]``, ``python -m pipeline backfill --start DATE --end DATE --params FILE
[--max-parallel N] [--quiet]``,
``python -m pipeline index --params FILE`` and ``python -m pipeline stages``.

Exit status: 0 when every notebook (with ``--stage``: that stage's notebook; with ``backfill``:
every date) succeeded, 1 when a notebook failed (the message names the notebook and the cell), 2
when the run could not start (bad date, params, run id, notebook parameters, or with ``--stage`` a
stage whose inputs are missing: nothing ran), 130 when interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .errors import EXIT_USAGE, PipelineError
from .params import KEYS, validate_run_date
from .paths import validate_run_id
from .schedule import max_parallel

QUIET_HELP = "print nothing but failures (for cron); run.log and the notebook logs still get everything"
MAX_PARALLEL_HELP = (
    "run at most N notebooks at once, each as soon as the notebooks it depends on succeeded "
    "(default: $PIPELINE_MAX_PARALLEL, else 2; 1 runs them one after the other)"
)


def _date(text: str) -> str:
    try:
        return validate_run_date(text)
    except PipelineError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _max_parallel(text: str) -> int:
    try:
        return max_parallel(text)
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
        epilog="params keys: "
        + ", ".join(k.name + ("" if k.required else " (optional)") for k in KEYS)
        + ". Exit status: 0 all notebooks succeeded, 1 a notebook failed, 2 the run could not start.",
    )
    run.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD", help="the run date")
    run.add_argument("--params", required=True, metavar="FILE", help="params YAML, e.g. params/local.yaml")
    run.add_argument(
        "--run-id",
        type=_run_id,
        metavar="ID",
        help="name of the run folder (default: UTC time + random suffix); must not exist, "
        "except with --stage, which continues the run folder ID when it exists",
    )
    run.add_argument(
        "--stage",
        metavar="NAME",
        help="run only this notebook (e.g. load, 04_load or 04_load.ipynb; see "
        "'python -m pipeline stages'); refused unless the stages it depends on "
        "succeeded in the run folder --run-id",
    )
    run.add_argument("--notebooks-dir", metavar="DIR", help="folder of NN_<name>.ipynb (default: notebooks/)")
    run.add_argument("--max-parallel", type=_max_parallel, metavar="N", help=MAX_PARALLEL_HELP + "; not with --stage")
    run.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    backfill = commands.add_parser(
        "backfill",
        help="run all notebooks for every date of a range, oldest first",
        description="Run the pipeline for each date from --start to --end (both included), in order, each in its "
        "own run folder; a failed date does not stop the others. A summary table ends the output.",
        epilog="Exit status: 0 every date succeeded, 1 a date failed or could not start, 2 bad arguments, "
        "130 interrupted.",
    )
    backfill.add_argument("--start", required=True, type=_date, metavar="YYYY-MM-DD", help="first date")
    backfill.add_argument("--end", required=True, type=_date, metavar="YYYY-MM-DD", help="last date (included)")
    backfill.add_argument("--params", required=True, metavar="FILE", help="params YAML, e.g. params/local.yaml")
    backfill.add_argument("--notebooks-dir", metavar="DIR", help="folder of NN_<name>.ipynb (default: notebooks/)")
    backfill.add_argument("--max-parallel", type=_max_parallel, metavar="N", help=MAX_PARALLEL_HELP)
    backfill.add_argument(
        "--quiet", action="store_true", help=QUIET_HELP + "; the summary table is printed only when a date failed"
    )
    index = commands.add_parser(
        "index",
        help="rebuild <reports_dir>/index.html from the run folders",
        description="Rebuild the top-level index of every date and run from the run folders' manifests "
        "(every run does this itself at its end).",
    )
    index.add_argument("--params", required=True, metavar="FILE", help="params YAML naming the reports_dir")
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
    if args.command == "index":
        return _index(args.params)
    if args.command == "run" and args.stage is not None and args.max_parallel is not None:
        build_parser().error("--max-parallel does not go with --stage (a stage is one notebook)")
    from .runner import run_pipeline, run_stage  # imported late: ``--help`` and usage errors stay fast

    # A scheduler stops a task with SIGTERM: finish the manifest and index as for Ctrl-C.
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    else:
        previous = None
    console = "quiet" if args.quiet else None
    try:
        if args.command == "backfill":
            return _backfill(args, console, run_pipeline)
        if args.stage is not None:
            result = run_stage(
                args.date,
                args.params,
                args.stage,
                notebooks_dir=args.notebooks_dir,
                run_id=args.run_id,
                console=console,
            )
        else:
            result = run_pipeline(
                args.date,
                args.params,
                notebooks_dir=args.notebooks_dir,
                run_id=args.run_id,
                console=console,
                max_parallel=args.max_parallel,
            )
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


def _backfill(args, console: str | None, run_pipeline) -> int:
    from .backfill import backfill, dates_between, exit_code, summary_table

    dates = dates_between(args.start, args.end)
    outcomes = backfill(
        dates,
        lambda run_date: run_pipeline(
            run_date, args.params, notebooks_dir=args.notebooks_dir, console=console, max_parallel=args.max_parallel
        ),
        stream=None if args.quiet else sys.stderr,
    )
    code = exit_code(outcomes)
    if code != 0 or not args.quiet:
        print(summary_table(outcomes), file=sys.stderr)
    return code


def _index(params_file: str) -> int:
    from .overview import write_overview
    from .params import load_params

    try:
        path = write_overview(load_params(params_file)["reports_dir"])
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(path)
    return 0


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
