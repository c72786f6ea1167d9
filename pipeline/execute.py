"""Running one notebook with stock papermill, and what a failure says. The runner's kernel manager gives a kernel its
notebook's environment and output, kills it at Ctrl-C, and stops it once the notebooks waiting for it have started."""

import contextlib
import os
import re
import signal
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from .errors import NotebookParameterError
from .progress import NotebookProgress
from .results import FAILED, SUCCEEDED, NotebookError, NotebookResult

KERNEL_NAME, SHUTDOWN_WAIT_SECONDS = "python3", 1.0  # a done kernel's time to exit before SIGTERM (ipykernel: 5 s)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def select_parameters(notebooks: Sequence[Path], available: Iterable[str]) -> dict[Path, list[str]]:
    """The names each notebook's ``parameters`` cell assigns; :class:`NotebookParameterError` unless the run has all."""
    import papermill  # half a second: imported while the first kernels start (pipeline.runner), not before

    available, plan, problems = set(available), {}, []
    for notebook in notebooks:
        try:
            plan[notebook] = list(papermill.inspect_notebook(str(notebook)))
        except Exception as exc:  # unreadable JSON, no kernelspec, ...
            why = f"cannot inspect its parameters cell: {type(exc).__name__}: {exc}"
            raise NotebookParameterError(f"{notebook.name}: {why}") from exc
        problems += [f"{notebook.name} declares parameter {name!r}" for name in plan[notebook] if name not in available]
    if problems:
        listed, provided = "".join(f"  - {p}\n" for p in problems), ", ".join(sorted(available))
        fix = "Remove the name from the notebook's 'parameters' cell (keep notebook-only settings in another cell)"
        why = f"notebook parameters the run cannot provide:\n{listed}the run provides: {provided}.\n{fix}"
        raise NotebookParameterError(f"{why} or add a key for it to the params file.")
    return plan


class NotebookKernel(AsyncKernelManager):
    """The kernel papermill starts for a notebook, with the notebook's environment and output; once killed, no more.
    Over IPC: a TCP port picked free can be taken (by a connection, another kernel) before the kernel binds it."""

    def __init__(self, *, kernels: "Kernels", env: Mapping[str, str], output: Any):
        path = os.path.join(tempfile.gettempdir(), f"streamkpi-kernel-{os.urandom(6).hex()}")  # path-1 .. path-5
        super().__init__(kernel_name=KERNEL_NAME, shutdown_wait_time=SHUTDOWN_WAIT_SECONDS, transport="ipc", ip=path)
        self._kernels, self._launch, self.killed = kernels, dict(env=dict(env), stdout=output, stderr=output), False
        self.clients: list[Any] = []  # papermill leaves open a client of a kernel it was given: closed with the kernel

    def client(self, **kw: Any) -> Any:
        self.clients.append(kc := super().client(**kw))
        return kc

    async def _async_start_kernel(self, **kw: Any) -> None:  # what start_kernel and restart_kernel call
        if self._kernels.interrupted or self.killed:
            raise RuntimeError("the run was interrupted" if self._kernels.interrupted else "its notebook will not run")
        await super()._async_start_kernel(**{**kw, **self._launch})  # a restart passes them again
        if self._kernels.interrupted or self.killed:  # killed while it started: the kill did not see its process
            kill(self)

    start_kernel = _async_start_kernel


class Kernels:
    """The kernels of a run's notebooks, by notebook: :meth:`kill` kills some or (Ctrl-C) all at once."""

    def __init__(self) -> None:
        self.interrupted, self._live = False, {}  # the kernels by notebook: setting and popping a key are atomic

    @contextlib.contextmanager
    def kernel(self, name: str, env: Mapping[str, str], output: Any):
        """A kernel manager for papermill, for notebook ``name``; its kernel is gone when the block ends."""
        km = NotebookKernel(kernels=self, env=env, output=output)
        self._live[name] = km
        try:
            yield km
        finally:  # what nbclient does with a kernel it owns once the notebook ran (shutdown also cleans up)
            with contextlib.suppress(Exception):  # already gone, or it would not stop: the kill is the last word
                for kc in km.clients:  # else their heartbeat threads ping on
                    kc.stop_channels()
                run_sync(km.shutdown_kernel)(now=self.interrupted or km.killed)
            kill(km)
            self._live.pop(name, None)

    def kill(self, names: Collection[str] | None = None) -> None:
        """Kill the kernels of notebooks ``names`` (that will not run), even mid-start or mid-warm-up; ``None``: all."""
        self.interrupted = self.interrupted or names is None
        for km in [km for name, km in list(self._live.items()) if names is None or name in names]:
            kill(km)


def kill(km: NotebookKernel) -> None:
    """SIGKILL the kernel's process group (it leads its own session, so its children go too)."""
    km.killed = True
    process = getattr(km.provisioner, "process", None)  # jupyter_client's LocalProvisioner
    if process is not None and process.poll() is None:  # else: none, or it already ended
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:  # it does not lead a group
            process.kill()


def execute_notebook(
    nb: NotebookResult, km: NotebookKernel, *, cwd: Path, timeout: int, progress: NotebookProgress
) -> None:
    """Run ``nb`` with papermill in ``km``'s kernel, recording its status, times and error (its output always saved)."""
    import nbformat
    import papermill

    nb.started, clock = datetime.now(UTC), monotonic()
    try:
        papermill.execute_notebook(
            str(nb.input_path), str(nb.output_path), nb.parameters, kernel_name=KERNEL_NAME, execution_timeout=timeout,
            progress_bar=False, stdout_file=progress, stderr_file=progress, km=km,
            resources={"metadata": {"path": str(cwd)}}, **progress.hooks(),  # the working directory: never a chdir
        )  # fmt: skip
    except papermill.PapermillExecutionError as exc:
        evalue = _ANSI.sub("", str(exc.evalue))
        nb.error = NotebookError(nb.name, exc.exec_count, exc.cell_index, exc.ename, evalue, exc.source)
    except Exception as exc:  # cell timeout, dead kernel, a kernel that does not start, ...: at the last cell started
        cell = cell_index = source = None
        with contextlib.suppress(Exception):  # as the saved notebook says
            for index, c in enumerate(nbformat.read(str(nb.output_path), as_version=4).cells):
                if c.get("metadata", {}).get("papermill", {}).get("start_time"):
                    cell_index, cell, source = index, c.get("execution_count"), c.get("source", "")
        message = next(iter(_ANSI.sub("", str(exc)).strip().splitlines()), "").strip()  # the rest previews the cell
        nb.error = NotebookError(nb.name, cell, cell_index, type(exc).__name__, message, source)
    finally:
        nb.finished, nb.duration_seconds = datetime.now(UTC), monotonic() - clock
        nb.status = FAILED if nb.error else SUCCEEDED
        if nb.error:
            progress.event(f"failed: {nb.error.describe()}")
