"""Command line: ``python -m pipeline run | backfill | index | stages`` (``--help`` for each). Exit status: 0 if all
notebooks (of ``--stage``; of each ``backfill`` date) succeeded, 1 if one failed, 2 if none ran, 130 if interrupted."""

import argparse
import functools
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from threading import current_thread, main_thread

from .backfill import backfill, dates_between, exit_code, summary_table
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PipelineError
from .params import KEYS, load_params, repo_root, validate_run_date
from .runfolder import validate_run_id, write_overview
from .runner import run_pipeline, run_stage
from .stages import describe, load_stages, resolve_max_parallel

NOTEBOOKS_HELP = "folder of NN_<name>.ipynb (default: notebooks/)"
QUIET_HELP = "print nothing but failures (for cron); run.log and the notebook logs still get everything"


def _argument(check, text: str):
    """``check(text)``, its :class:`PipelineError` an argparse error: with ``check`` bound, an argparse type."""
    try:
        return check(text)
    except PipelineError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_date, _max_parallel, _run_id = (
    functools.partial(_argument, check) for check in (validate_run_date, resolve_max_parallel, validate_run_id)
)


def build_parser() -> argparse.ArgumentParser:
    description = "Run the project's notebooks for one date with papermill and write the run's reports."
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=description)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keys = ", ".join(k.name + ("" if k.required else " (optional)") for k in KEYS)
    # fmt: off
    run = commands.add_parser("run", help="run all notebooks for one date into <reports_dir>/<date>/<run-id>/",
                              epilog=f"params keys: {keys}. Exit status: 0 all notebooks succeeded, 1 a notebook "
                                     "failed, 2 the run could not start.")
    run.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD", help="the run date")
    run.add_argument("--run-id", type=_run_id, metavar="ID", help="name of the run folder (default: UTC time + random "
                     "suffix); must not exist, except with --stage, which continues the run folder ID when it exists")
    run.add_argument("--stage", metavar="NAME",
                     help="run only this notebook (e.g. load, 05_load or 05_load.ipynb; see 'python -m pipeline "
                          "stages'); refused unless the stages it depends on succeeded in the run folder --run-id")
    backfill = commands.add_parser("backfill", help="run all notebooks for every date of a range, oldest first, past "
                                   "failures; a summary table ends the output", epilog="Exit status: 0 every date "
                                   "succeeded, 1 a date failed or could not start, 2 bad arguments, 130 interrupted.")
    backfill.add_argument("--start", required=True, type=_date, metavar="YYYY-MM-DD", help="first date")
    backfill.add_argument("--end", required=True, type=_date, metavar="YYYY-MM-DD", help="last date (included)")
    backfill.add_argument("--jobs", type=int, default=1, metavar="N", help="run up to N dates at once (default 1)")
    for command, stage_note, quiet_note in ((run, "; not with --stage", ""),
                                            (backfill, "", "; the summary table is printed only when a date failed")):
        command.add_argument("--params", required=True, metavar="FILE", help="params YAML, e.g. params/local.yaml")
        command.add_argument("--notebooks-dir", metavar="DIR", help=NOTEBOOKS_HELP)
        command.add_argument("--max-parallel", type=_max_parallel, metavar="N", help="run at most N notebooks at once, "
                             "each as soon as the notebooks it depends on succeeded (default: $PIPELINE_MAX_PARALLEL, "
                             "else 2; 1 runs them one after the other)" + stage_note)
        command.add_argument("--quiet", action="store_true", help=QUIET_HELP + quiet_note)
    index = commands.add_parser("index", help="rebuild <reports_dir>/index.html from the run folders' manifests "
                                               "(every run does it at its end)")
    index.add_argument("--params", required=True, metavar="FILE", help="params YAML naming the reports_dir")
    stages = commands.add_parser("stages", help="list the stages (notebooks) and the stages each depends on "
                                                "(its metadata's pipeline.depends_on; default: every earlier one)")
    # fmt: on
    stages.add_argument("--notebooks-dir", metavar="DIR", help=NOTEBOOKS_HELP)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)  # bad --date: argparse prints usage and exits 2
    if args.command == "run" and args.stage is not None and args.max_parallel is not None:
        build_parser().error("--max-parallel does not go with --stage (a stage is one notebook)")
    if args.command == "backfill" and args.jobs < 1:
        build_parser().error(f"--jobs must be 1 or more, not {args.jobs}")
    # A scheduler stops a task with SIGTERM: finish the manifest and index as for Ctrl-C.
    if own_sigterm := current_thread() is main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return _command(args)
    except PipelineError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pipeline: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the runner's own files (a full disk, a folder gone): the run failed, said plainly
        print(f"pipeline: error: cannot write {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if own_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _command(args: argparse.Namespace) -> int:
    if args.command == "stages":
        print(describe(load_stages(args.notebooks_dir or repo_root() / "notebooks")))
        return EXIT_OK
    if args.command == "index":
        print(write_overview(Path(load_params(args.params)["reports_dir"])))
        return EXIT_OK
    quiet = args.quiet or args.command == "backfill" and args.jobs > 1  # the lines of dates at once would mix
    options = {"notebooks_dir": args.notebooks_dir, "console": "quiet" if quiet else None}
    if args.command == "backfill":
        run = functools.partial(run_pipeline, params_path=args.params, max_parallel=args.max_parallel, **options)
        dates, stream = dates_between(args.start, args.end), None if args.quiet else sys.stderr
        outcomes = backfill(dates, run, stream=stream, jobs=args.jobs)
        if exit_code(outcomes) != EXIT_OK or not args.quiet:
            print(summary_table(outcomes), file=sys.stderr)
        return exit_code(outcomes)
    if args.stage is not None:
        return run_stage(args.date, args.params, args.stage, run_id=args.run_id, **options).exit_code
    return run_pipeline(args.date, args.params, run_id=args.run_id, max_parallel=args.max_parallel, **options).exit_code
