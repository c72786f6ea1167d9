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

_RUN_DIR = re.compile(r"^pipeline: (?:run|stage) .* -> (\S+)$", re.MULTILINE)  # the run's first log line


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
            raise AssertionError(f"stuck after {timeout:g} s: {' '.join(command)}\n{_where(err)}") from None
    return subprocess.CompletedProcess(command, p.returncode, out, err)


def _where(stderr: str, lines: int = 150) -> str:
    logs = sorted(Path(found[1]).glob("logs/*.log")) if (found := _RUN_DIR.search(stderr)) else []
    parts = [("stderr", stderr), *((str(log), log.read_text(errors="replace")) for log in logs)]
    return "\n".join(f"--- {name}, its last {lines} lines\n" + "\n".join(t.splitlines()[-lines:]) for name, t in parts)
