"""The study's engine: every evaluation or training run is a task on a ``dask.distributed`` cluster.

* :func:`connect` opens a client: by default an embedded ``LocalCluster`` with one single-threaded
  worker process per core, or a running cluster (``--scheduler ADDRESS`` or a scheduler file).
* :func:`run_tasks` keeps up to ``parallel`` tasks in flight and asks for the next one as soon as
  one finishes (the hyperopt search asks its optimizer then), records every finished task through a
  callback, draws a progress bar, and on Ctrl-C or SIGTERM cancels what is running.
* Each task runs in a fresh Python process that its worker starts (:func:`run_isolated`): Brian's
  device is global per process, so nothing carries over between tasks; the worker kills the process
  (with its compiler or simulation binary) when the task passes its time limit or the study is
  stopped, and the process kills itself if its worker dies.
* A worker that dies while running a task (crash, out of memory, killed) makes Dask retry the task
  once on another worker (``distributed.scheduler.allowed-failures = 1`` in the embedded cluster;
  a running cluster uses its own setting); a second loss is reported as status ``'lost'``.
* Tasks build in :func:`brian_segdend.devices.shared_build` directories: one ``cpp_standalone``
  project per architecture in the cache, which all workers of a machine share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "Outcome",
    "EngineSettings",
    "add_arguments",
    "connect",
    "run_tasks",
    "run_isolated",
    "stop_on_sigterm",
]

#: Retries of a task whose worker died (embedded cluster): Dask's ``allowed-failures``.
RETRIES = 1
#: Seconds between two checks of a running task for its time limit and for a stop of the study.
POLL_S = 0.5


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one task: ``status`` 'ok' (``value`` holds the result), 'failed' (an exception
    or a crashed process), 'timeout' (killed at its limit), 'lost' (its workers died) or 'cancelled'."""

    status: str
    value: Any = None
    message: str = ""
    wall_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Where tasks run: ``scheduler`` (address such as ``tcp://host:8786`` or a scheduler-file path;
    ``None``: an embedded ``LocalCluster`` of ``workers`` processes, default one per core)."""

    scheduler: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) < 1):
            raise ValueError(f"workers must be a positive integer, got {self.workers!r}")

    @classmethod
    def pop_from(cls, options: dict) -> EngineSettings:
        """The settings in an experiment's ``options`` (``scheduler``, ``workers``), removed from them."""
        return cls(options.pop("scheduler", None), options.pop("workers", None))


def add_arguments(parser) -> None:
    """``--scheduler`` and ``--workers`` (shared by every experiment that trains)."""
    parser.add_argument(
        "--scheduler",
        default=None,
        help="address (tcp://host:8786) or scheduler-file of a running Dask cluster (default: a local "
        "cluster, one worker process per core)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes of the local cluster")


@contextlib.contextmanager
def connect(settings: EngineSettings, log: Callable[[str], None] = print) -> Iterator[Any]:
    """A ``distributed.Client`` for ``settings``; an embedded cluster is closed on exit."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if settings.scheduler is None:
        workers = settings.workers or os.cpu_count() or 1
        dashboard = ":0" if _has_dashboard() else None
        with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=dashboard,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    elif Path(settings.scheduler).is_file():
        client = Client(scheduler_file=settings.scheduler)
    else:
        client = Client(settings.scheduler)
    try:
        services = client.scheduler_info().get("services", {})
        where = f"dashboard {client.dashboard_link}" if "dashboard" in services else "no dashboard"
        log(f"dask: {len(client.nthreads())} worker(s) at {client.scheduler.address}, {where}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def run_tasks(
    client: Any,
    next_task: Callable[[], tuple[Any, Callable, tuple] | None],
    on_done: Callable[[Any, Outcome], None],
    parallel: int,
    timeout: float | None = None,
    total: int | None = None,
    progress: bool = True,
    label: str = "tasks",
) -> None:
    """Run tasks on ``client`` until ``next_task`` returns ``None`` and all have finished.

    Parameters
    ----------
    next_task : callable
        Returns ``(tag, function, args)`` of the next task, or ``None`` when there is none now.
        It is called whenever fewer than ``parallel`` tasks are in flight.
    on_done : callable
        ``on_done(tag, outcome)`` for every finished task, in the order they finish.
    timeout : float, optional
        Seconds a task may run before its process is killed (status 'timeout').
    total : int, optional
        Length of the progress bar.

    On ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM under :func:`stop_on_sigterm`) every running task
    is killed and cancelled, and the exception propagates; finished tasks were already recorded.
    """
    from distributed import Event, wait
    from tqdm.auto import tqdm

    stop = Event(f"segdend-stop-{uuid.uuid4().hex}", client=client)
    pending: dict = {}
    bar = tqdm(total=total, desc=label, unit="task", disable=not progress, dynamic_ncols=True)
    try:
        while True:
            while len(pending) < parallel:
                task = next_task()
                if task is None:
                    break
                tag, function, args = task
                future = client.submit(run_isolated, function, args, timeout, stop.name, pure=False)
                pending[future] = tag
            if not pending:
                break
            done = wait(list(pending), return_when="FIRST_COMPLETED").done
            for future in done:
                with bar.external_write_mode():  # lines printed by on_done above the bar
                    on_done(pending.pop(future), _outcome(future))
                bar.update()
    except BaseException:
        stop.set()  # running tasks kill their processes
        client.cancel(list(pending))
        raise
    finally:
        bar.close()


def _outcome(future) -> Outcome:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        return Outcome("lost", message=f"the worker died while running it ({RETRIES + 1} attempts): {exc}")
    except Exception as exc:  # e.g. a worker that could not unpickle the task
        return Outcome("failed", message=f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------- worker side
def run_isolated(function: Callable, args: tuple, timeout: float | None = None, stop: str | None = None) -> Outcome:
    """Run ``function(*args)`` in a fresh Python process; runs on a worker (or anywhere).

    The process starts a session of its own, so killing it at ``timeout`` or when the ``distributed.Event``
    named ``stop`` is set kills what it started too. It sees this process's ``sys.path``.
    """
    import cloudpickle

    t0 = time.monotonic()
    event = _event(stop)
    with tempfile.TemporaryDirectory(prefix="segdend-task-") as tmp:
        task, result, output = Path(tmp) / "task.pkl", Path(tmp) / "result.pkl", Path(tmp) / "output.txt"
        task.write_bytes(cloudpickle.dumps((function, args)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), OMP_NUM_THREADS="1")
        with open(output, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__, tmp],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            status = _wait(proc, t0, timeout, event)
        finally:
            if proc.poll() is None:
                _kill(proc)
        wall = time.monotonic() - t0
        if status == "timeout":
            return Outcome("timeout", message=f"no result within the {timeout:.0f} s limit", wall_s=wall)
        if status == "cancelled":
            return Outcome("cancelled", message="the study was stopped", wall_s=wall)
        if result.exists():
            ok, value = pickle.loads(result.read_bytes())
            return Outcome("ok", value, wall_s=wall) if ok else Outcome("failed", message=value, wall_s=wall)
        tail = output.read_text(errors="replace")[-800:]
        return Outcome("failed", message=f"task process exited with code {proc.returncode}: {tail}", wall_s=wall)


def _event(name):
    if name is None:
        return None
    try:
        from distributed import Event, get_client

        return Event(name, client=get_client())
    except ValueError:  # not inside a worker: nobody can stop us
        return None


def _wait(proc, t0, timeout, event) -> str:
    while True:
        try:
            proc.wait(timeout=POLL_S)
            return "finished"
        except subprocess.TimeoutExpired:
            pass
        if timeout is not None and time.monotonic() - t0 > timeout:
            return "timeout"
        if event is not None and event.is_set():
            return "cancelled"


def _kill(proc) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _exit_with_parent() -> None:
    """Kill this process group when the worker that started it dies."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(POLL_S)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def _main(directory: str) -> None:
    """Entry of a task process: ``directory/task.pkl`` in, ``directory/result.pkl`` out."""
    import traceback

    from ..results import atomic_write_bytes

    _exit_with_parent()
    function, args = pickle.loads((Path(directory) / "task.pkl").read_bytes())
    try:
        result = (True, function(*args))
    except Exception as exc:  # reported as a failed task
        traceback.print_exc()
        result = (False, f"{type(exc).__name__}: {exc}")
    atomic_write_bytes(Path(directory) / "result.pkl", lambda fh: pickle.dump(result, fh))


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    _main(sys.argv[1])
