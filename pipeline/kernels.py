"""Kernels started ahead of their notebook's turn and warmed up, each living in one thread.

papermill runs a notebook through nbclient, which takes a kernel manager (``km``) that already
has a kernel: it then uses that kernel and leaves it running (it does not own it). The runner
uses this to start a notebook's kernel while the notebooks it depends on still run, and to
import in it, silently, the modules the notebook's code imports (:mod:`pipeline.warmup`): the
notebook's turn then begins with its kernel up and its imports done. A warm-up must leave no
trace in the executed notebook: it runs with ``silent=True, store_history=False`` (no execution
count, no output), and if it failed or printed anything, that kernel is shut down and a fresh
one, not warmed, takes its place, so the notebook's own cell fails or prints exactly as without
warming.

**Threads.** jupyter_client's ``AsyncKernelManager``, its clients and their zmq sockets belong
to the asyncio event loop that uses them, and jupyter_core's ``run_sync`` (through which
nbclient runs) keeps one event loop per thread. So each kernel lives in a thread of its own from
start to shutdown (start, warm-up, the notebook's execution by papermill, shutdown); another
thread only ever kills its process (:meth:`NotebookKernel.kill`, on Ctrl-C), which nbclient
notices within a second (``DeadKernelError``).

The kernel is started as nbclient would start it for papermill: kernel ``python3``, the
notebooks folder as working directory, this process's environment (plus the runner's variables),
and the process's own output (e.g. jupyter_client's warnings, a crash) into the notebook's log.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .log import format_duration
from .stages import Stage
from .warmup import notebook_imports, warm_up_code

KERNEL_NAME = "python3"
STARTUP_TIMEOUT = 60  # seconds for a started kernel to answer: papermill's start_timeout
POLL_SECONDS = 1.0  # how often a waiting warm-up checks that its kernel lives and is still wanted
# A kernel asked to shut down after its notebook ran (everything is saved by then) gets this long
# before SIGTERM; jupyter_client waits 5 s by default, and now and then ipykernel needs them all.
SHUTDOWN_WAIT_SECONDS = 1.0
# nbclient runs IPython kernels with an in-memory history (its ``ipython_hist_file``).
IPYTHON_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
EXECUTED, EXITED = "executed", "exited"  # what a kernel reports: its notebook ran; the kernel is gone
# iopub messages (besides an error) that would put something in the notebook.
SHOWN = {"stream", "display_data", "update_display_data", "execute_result", "clear_output"}


class KernelOutput:
    """What a kernel process itself prints (stdout and stderr), read from a pipe and held until
    :meth:`attach` names the notebook's log, which does not exist yet when the kernel starts
    ahead; the output of a kernel whose notebook never runs is dropped."""

    def __init__(self) -> None:
        read_end, self.fd = os.pipe()  # kernels get ``fd`` as their stdout and stderr
        self._lock = threading.Lock()
        self._held: list[str] = []
        self._file: Any = None
        self._pump = threading.Thread(target=self._copy, args=(read_end,), name="kernel-output", daemon=True)
        self._pump.start()

    def attach(self, log_path: Path) -> None:
        """From now on append to ``log_path``, starting with what was held."""
        with self._lock:
            self._file = open(log_path, "a", encoding="utf-8")
            self._file.write("".join(self._held))
            self._file.flush()
            self._held.clear()

    def close(self, wait: float = 5.0) -> None:
        """Once the kernels are gone: take what they printed last, then close the log."""
        os.close(self.fd)
        self._pump.join(wait)  # a process the kernel left behind may hold the pipe open
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _copy(self, read_end: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with open(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                self._deliver(decoder.decode(chunk))

    def _deliver(self, text: str) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(text)
                self._file.flush()
            else:
                self._held.append(text)


class NotebookKernel:
    """One notebook's kernel in a thread of its own: started and warmed up at once, it runs the
    notebook when :meth:`run` hands it over, then shuts down. :meth:`cancel` (the notebook will
    not run) kills it unused; :meth:`kill` (Ctrl-C) kills its process at any point.

    ``on_event(EXECUTED, self)`` is called, in its thread, once the notebook ran (the kernel then
    shuts down), and ``on_event(EXITED, self)`` last, once the kernel is gone."""

    def __init__(
        self,
        stage: Stage,
        *,
        cwd: Path,
        extra_env: Mapping[str, str],
        cell_timeout: Callable[[], int | None],
        on_event: Callable[[str, NotebookKernel], None],
    ):
        self.stage = stage
        self.cwd = cwd
        self.extra_env = dict(extra_env)  # on top of this process's environment
        self.cell_timeout = cell_timeout  # read when needed: the params file may still be loading
        self.output = KernelOutput()
        self.note = ""  # how the kernel was prepared, for the notebook's log
        self.failure: BaseException | None = None  # what the handed-over task raised, if anything
        self._imports = notebook_imports(stage.path)
        self._on_event = on_event
        self._lock = threading.Lock()
        self._km: Any = None  # the started kernel's manager, once there is one
        self._stopped = False  # cancelled or killed
        self._go = threading.Event()
        self._task: Callable[[Any], None] | None = None
        self._ready: float | None = None
        self._turn: float | None = None
        self._thread = threading.Thread(target=self._live, name=f"kernel {stage.stem}", daemon=True)
        self._thread.start()

    @property
    def stem(self) -> str:
        return self.stage.stem

    def run(self, task: Callable[[Any], None]) -> None:
        """Hand the notebook over: ``task(km)`` runs in the kernel's thread once it is ready
        (``km`` is the manager to give papermill), then the kernel shuts down."""
        with self._lock:
            self._turn = time.monotonic()
            self._task = task
        self._go.set()

    def cancel(self) -> None:
        """The notebook will not run: kill its unused kernel (one already running its notebook
        goes on)."""
        with self._lock:
            handed_over = self._task is not None
        if not handed_over:
            self.kill()

    def kill(self) -> None:
        """Kill the kernel's process now, whatever it is doing."""
        with self._lock:
            self._stopped = True
            km = self._km
        if km is not None:
            kill_process_group(km)
        self._go.set()

    @property
    def alive(self) -> bool:
        """Its thread still runs (the kernel may still be up)."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def env(self) -> dict[str, str]:
        """The kernel's environment: this process's, plus the runner's variables."""
        return {**os.environ, **self.extra_env}

    def describe(self) -> str:
        """How the kernel was prepared and when it was ready, for the notebook's log."""
        return "; ".join(part for part in (self.note, self._readiness()) if part)

    def _readiness(self) -> str:
        if self._ready is None or self._turn is None:
            return ""
        if self._ready <= self._turn:
            return f"ready {format_duration(self._turn - self._ready)} before the notebook's turn"
        return f"ready {format_duration(self._ready - self._turn)} after the notebook's turn"

    # -------------------------------------------------------------------- the kernel's thread

    def _live(self) -> None:
        km = None
        try:
            km = self._prepared()
            with self._lock:
                self._km = km  # also one papermill starts the kernel of: a kill then finds it
            self._ready = time.monotonic()
            self._go.wait()
            if self._task is not None and not self._stopped:
                self._run_task(km)
        finally:
            try:
                if km is not None:
                    self._shut_down(km)
            finally:
                self.output.close()
                self._on_event(EXITED, self)

    def _prepared(self) -> Any:
        """:meth:`_prepare`, or ``None`` if it failed unexpectedly (papermill then starts a kernel
        of its own): the thread always lives on until the notebook's turn."""
        try:
            from jupyter_core.utils import run_sync

            return run_sync(self._prepare)()
        except Exception as exc:
            self.note = f"kernel could not be prepared ahead of the notebook's turn ({type(exc).__name__}: {exc})"
            return None

    def _run_task(self, km: Any) -> None:
        try:
            self._task(km)
        except Exception as exc:  # a bug of the runner: reported as the notebook's failure
            self.failure = exc
        finally:
            self._on_event(EXECUTED, self)

    def _shut_down(self, km: Any) -> None:
        from jupyter_core.utils import run_sync

        run_sync(shut_down)(km, now=self._stopped)

    async def _prepare(self) -> Any:
        """A started (and, if possible, warm) kernel's manager; if the kernel cannot start, an
        unstarted one, which papermill starts at the notebook's turn and so reports why not."""
        km = _manager()
        problem = await self._start(km)
        if problem is not None:
            self.note = f"kernel could not start ahead of the notebook's turn ({problem}); papermill starts it"
            return _manager()
        if self._stopped:
            return km
        if not self._imports:
            self.note = "kernel started ahead of the notebook's turn (nothing to pre-import)"
            return km
        started = time.monotonic()
        problem = await warm_up(
            km, warm_up_code(self._imports), timeout=self.cell_timeout, stopped=lambda: self._stopped
        )
        if self._stopped:  # cancelled or killed meanwhile: no fresh kernel
            return km
        modules = ", ".join(dict.fromkeys(i.module for i in self._imports))
        if problem is None:
            self.note = (
                f"kernel started ahead of the notebook's turn, {modules} pre-imported"
                f" in {format_duration(time.monotonic() - started)}"
            )
            return km
        await shut_down(km, now=True)
        self.note = (
            f"kernel started ahead of the notebook's turn, but pre-importing {modules} failed or"
            f" printed ({problem}): a fresh kernel runs the notebook"
        )
        fresh = _manager()
        return fresh if await self._start(fresh) is None else _manager()

    async def _start(self, km: Any) -> str | None:
        """Start the kernel of ``km``; ``None``, or why it did not start."""
        try:
            await km.start_kernel(
                extra_arguments=IPYTHON_ARGUMENTS if km.ipykernel else [],
                cwd=str(self.cwd),
                env=self.env(),
                stdout=self.output.fd,
                stderr=self.output.fd,
            )
        except Exception as exc:
            await shut_down(km, now=True)  # whatever part of it did start
            return f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._km = km
            stopped = self._stopped
        if stopped:  # killed while it started: the kill did not see its process
            kill_process_group(km)
        return None


class KernelPool:
    """The kernels of one run, one per notebook, started when the runner asks (ahead of a
    notebook's turn); each reports on :attr:`events`, as ``(EXECUTED or EXITED, kernel)``.
    :meth:`close` leaves no kernel. ``cell_timeout`` (the params' ``notebook_timeout_seconds``)
    is set once the params file is loaded, after the first kernels started."""

    def __init__(self, *, cwd: Path, extra_env: Callable[[Stage], Mapping[str, str]]):
        # Imported here, not in the first kernel's thread: there it would share the GIL with the
        # runner's own imports and start the first kernel later.
        import jupyter_client.manager  # noqa: F401

        self.cwd = cwd
        self.extra_env = extra_env  # a notebook's variables on top of this process's environment
        self.cell_timeout: int | None = None
        self.events: queue.Queue[tuple[str, NotebookKernel]] = queue.Queue()
        self._kernels: dict[str, NotebookKernel] = {}

    def start(self, stage: Stage) -> NotebookKernel:
        """The notebook's kernel, started now if it was not yet."""
        if stage.stem not in self._kernels:
            self._kernels[stage.stem] = NotebookKernel(
                stage,
                cwd=self.cwd,
                extra_env=self.extra_env(stage),
                cell_timeout=lambda: self.cell_timeout,
                on_event=lambda event, kernel: self.events.put((event, kernel)),
            )
        return self._kernels[stage.stem]

    def cancel_waiting(self) -> None:
        """Kill the kernels whose notebooks were not handed over (they will not run)."""
        for kernel in self._kernels.values():
            kernel.cancel()

    def kill_all(self) -> None:
        for kernel in self._kernels.values():
            kernel.kill()

    def close(self) -> None:
        """Kill the unused kernels and wait until every kernel is gone (the others shut down
        once their notebooks ran)."""
        self.cancel_waiting()
        for kernel in self._kernels.values():
            kernel.join(STARTUP_TIMEOUT)
            if kernel.alive:  # stuck: its process at least goes
                kernel.kill()


async def warm_up(km: Any, code: str, *, timeout: Callable[[], int | None], stopped: Callable[[], bool]) -> str | None:
    """Run ``code`` silently in the kernel of ``km``: ``None`` if it ran without error and put
    nothing on display within ``timeout()`` seconds, else what happened."""
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        return await _silent_outcome(kc, msg_id, timeout=timeout, stopped=stopped)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        kc.stop_channels()


async def _silent_outcome(
    kc: Any, msg_id: str, *, timeout: Callable[[], int | None], stopped: Callable[[], bool]
) -> str | None:
    started = time.monotonic()
    shown = set()
    while True:
        limit = timeout()
        if stopped():
            return "stopped"
        if limit is not None and time.monotonic() - started > limit:
            return f"no answer within {limit} s"
        try:
            msg = await kc.get_iopub_msg(timeout=POLL_SECONDS)
        except queue.Empty:
            if not await kc.is_alive():
                return "the kernel died"
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            return f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}"
        if msg["msg_type"] in SHOWN:
            shown.add(msg["msg_type"])
        if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            return f"it showed {', '.join(sorted(shown))} output" if shown else None


def _manager() -> Any:
    from jupyter_client.manager import AsyncKernelManager

    return AsyncKernelManager(kernel_name=KERNEL_NAME, shutdown_wait_time=SHUTDOWN_WAIT_SECONDS)


async def shut_down(km: Any, *, now: bool) -> None:
    """What nbclient does with a kernel it owns once the notebook ran: shut it down (politely
    unless ``now``) if it still lives, and remove its connection file in any case."""
    try:
        if km.has_kernel and await km.is_alive():
            await km.shutdown_kernel(now=now)
    except Exception:  # already gone, or it would not stop: the kill below is the last word
        kill_process_group(km)
    finally:
        with contextlib.suppress(Exception):
            await km.cleanup_resources()


def kill_process_group(km: Any) -> None:
    """SIGKILL the kernel's process group (the kernel leads its own session, see jupyter_client's
    ``launch_kernel``, so children it started go too); callable from any thread."""
    process = getattr(km.provisioner, "process", None)  # jupyter_client's LocalProvisioner
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)  # no such group unless the kernel leads it
    except (AttributeError, OSError):  # no process groups (Windows), or it does not lead one
        process.kill()
