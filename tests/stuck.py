"""Running the pipeline's CLI from a test so that a run stuck past its timeout says where it is stuck.

A stuck run gets SIGABRT, its kernels too: with ``PYTHONFAULTHANDLER`` set, each prints the stack of every thread
(the runner to its stderr, a kernel to its notebook's log), and the test fails showing them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import psutil

from pipeline.params import load_params

_RUN_DIR = re.compile(r"^pipeline: (?:run|stage) .* -> (\S+)$", re.MULTILINE)  # a run's first log line


def run(command: list[str], *, timeout: float, **popen) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True, timeout=timeout, **popen)``, but a timeout fails the
    test with the tracebacks of the stuck processes and the tails of the run's logs."""
    env = {**(popen.pop("env", None) or os.environ), "PYTHONFAULTHANDLER": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kernels = psutil.Process(p.pid).children(recursive=True)
            for process in [*kernels, p]:
                with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
                    process.send_signal(signal.SIGABRT)
            psutil.wait_procs(kernels, timeout=10)
            out, err = p.communicate()
            raise AssertionError(f"stuck after {timeout:g} s: {' '.join(command)}\n{_where(command, err)}") from None
    return subprocess.CompletedProcess(command, p.returncode, out, err)


def _where(command: list[str], stderr: str, lines: int = 150) -> str:
    runs = _RUN_DIR.findall(stderr)  # every run a backfill of one date at a time started
    if not runs and "--params" in command:  # quiet runs (dates at once) name none: every run folder of reports_dir
        runs = sorted(Path(load_params(command[command.index("--params") + 1])["reports_dir"]).glob("*/*"))
    logs = sorted(log for run in runs for log in Path(run).glob("logs/*.log"))
    parts = [("stderr", stderr), *((str(log), log.read_text(errors="replace")) for log in logs)]
    return "\n".join(f"--- {name}, its last {lines} lines\n" + "\n".join(t.splitlines()[-lines:]) for name, t in parts)
