"""Measuring one contender as a whole process tree: wall, CPU (user+sys) and peak RSS.

``run_measured(command)`` starts the command in a fresh process and waits for it with
``os.wait4``, whose resource usage covers the process and every descendant it waited for
(papermill's kernels, the seed's task processes): that gives the CPU time. Memory is sampled
while it runs: every ``interval`` seconds the RSS of every live process of the tree is summed,
and the peak of that sum is the tree's peak RSS (``ru_maxrss`` alone is the largest single
process, reported as well). Each sample also records the tree's CPU seconds so far (the last
value seen for every process, live or gone), so that ``Measurement.window`` gives the peak RSS
and the CPU of any stretch of the run. The machine's other load during the run is estimated
from the system-wide busy CPU time minus the tree's own.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil


@dataclass
class Measurement:
    command: list[str]
    exit_code: int
    wall_seconds: float
    user_seconds: float
    sys_seconds: float
    peak_rss_bytes: int  # peak of the sum of RSS over the live process tree (sampled)
    max_single_rss_bytes: int  # ru_maxrss: the largest single process of the tree
    peak_processes: int  # most processes alive at once in the tree
    samples: int
    other_load_cores: float | None  # average cores busy with other work during the run
    loadavg_before: tuple[float, float, float]
    loadavg_after: tuple[float, float, float]
    started_unix: float = 0.0  # time.time() when the process was started
    # (seconds since start, tree RSS bytes, tree CPU seconds so far), one per sample
    timeline: list[tuple[float, int, float]] = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.sys_seconds

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cpu_seconds"] = round(self.cpu_seconds, 3)
        d["timeline"] = _thin(self.timeline)
        return d

    def window(self, start_unix: float, end_unix: float) -> tuple[int | None, float | None]:
        """Peak tree RSS and tree CPU seconds between two instants (from the samples)."""
        a, b = start_unix - self.started_unix, end_unix - self.started_unix
        inside = [s for s in self.timeline if a <= s[0] <= b]
        if not inside:
            return None, None
        before = [s for s in self.timeline if s[0] < a]
        cpu0 = before[-1][2] if before else 0.0
        return max(s[1] for s in inside), round(inside[-1][2] - cpu0, 3)


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float, started: float):
        super().__init__(daemon=True)
        self.pid, self.interval, self.started = pid, interval, started
        self.stop = threading.Event()
        self.peak, self.peak_processes, self.samples = 0, 0, 0
        self.timeline: list[tuple[float, int, float]] = []
        self._procs: dict[int, psutil.Process] = {}
        self._cpu: dict[int, float] = {}  # last CPU seen per process (dead ones keep theirs)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = self._procs.get(self.pid) or psutil.Process(self.pid)
            self._procs[self.pid] = root
            tree = [root] + root.children(recursive=True)
        except psutil.Error:
            return []
        # keep Process objects so that a reused pid is not mistaken for ours
        out = []
        for p in tree:
            known = self._procs.get(p.pid)
            if known is None:
                self._procs[p.pid] = known = p
            out.append(known)
        return out

    def sample(self) -> None:
        total, alive = 0, 0
        for p in self._tree():
            try:
                with p.oneshot():
                    total += p.memory_info().rss
                    t = p.cpu_times()
                self._cpu[p.pid] = t.user + t.system
                alive += 1
            except psutil.Error:
                pass
        self.samples += 1
        self.peak = max(self.peak, total)
        self.peak_processes = max(self.peak_processes, alive)
        self.timeline.append((round(time.perf_counter() - self.started, 3), total, round(sum(self._cpu.values()), 3)))

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def _busy(times) -> float:
    return sum(getattr(times, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def _thin(timeline: list, keep: int = 400) -> list:
    if len(timeline) <= keep:
        return timeline
    step = len(timeline) / keep
    return [timeline[int(i * step)] for i in range(keep)] + [timeline[-1]]


def run_measured(
    command: list[str],
    *,
    cwd: str | Path | None = None,
    env: dict | None = None,
    log_path: str | Path | None = None,
    interval: float = 0.1,
) -> Measurement:
    """Run ``command`` to completion and measure it (stdout and stderr go to ``log_path``)."""
    load_before = os.getloadavg()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        busy_before = _busy(psutil.cpu_times())
        started_unix = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        sampler = _Sampler(proc.pid, interval, started)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        finally:
            sampler.stop.set()
            sampler.join()
        wall = time.perf_counter() - started
        busy_after = _busy(psutil.cpu_times())
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log_path:
            log.close()
    cpu = usage.ru_utime + usage.ru_stime
    other = max(0.0, (busy_after - busy_before - cpu) / wall) if wall > 0 else None
    max_single = usage.ru_maxrss * 1024  # KiB on Linux
    return Measurement(
        command=[str(c) for c in command],
        exit_code=proc.returncode,
        wall_seconds=round(wall, 3),
        user_seconds=round(usage.ru_utime, 3),
        sys_seconds=round(usage.ru_stime, 3),
        peak_rss_bytes=max(sampler.peak, max_single),
        max_single_rss_bytes=max_single,
        peak_processes=sampler.peak_processes,
        samples=sampler.samples,
        other_load_cores=None if other is None else round(other, 2),
        loadavg_before=tuple(round(x, 2) for x in load_before),
        loadavg_after=tuple(round(x, 2) for x in os.getloadavg()),
        started_unix=started_unix,
        timeline=sampler.timeline,
    )
