"""The study's Dask engine (issue 13): tasks in fresh processes, time limits, killed workers."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from brian_segdend.study import engine

pytest.importorskip("distributed")


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# ---------------------------------------------------------------------- task functions (run in task processes)
def add(a, b):
    return a + b


def fail():
    raise ArithmeticError("bad configuration")


def sleep_and_record(directory, seconds):
    """Record this task process's and its worker's pids, then sleep."""
    (Path(directory) / f"{os.getpid()}").write_text(str(os.getppid()))
    time.sleep(seconds)
    return os.getpid()


def kill_my_worker():
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)


@pytest.fixture(scope="module")
def client():
    with engine.connect(engine.EngineSettings(workers=2), log=lambda _: None) as c:
        yield c


def _run(client, tasks, timeout=None):
    """Run ``[(tag, function, args)]``; returns ``{tag: outcome}``."""
    queue, outcomes = list(tasks), {}
    engine.run_tasks(
        client,
        lambda: queue.pop(0) if queue else None,
        outcomes.__setitem__,
        parallel=2,
        timeout=timeout,
        progress=False,
    )
    return outcomes


def test_results_errors_and_time_limits(client, tmp_path):
    t0 = time.monotonic()
    tasks = [("sum", add, (2, 3)), ("bad", fail, ()), ("slow", sleep_and_record, (str(tmp_path), 300))]
    out = _run(client, tasks, timeout=45)  # generous: a task process starting on a busy machine takes seconds
    assert out["sum"].status == "ok" and out["sum"].value == 5
    assert out["bad"].status == "failed" and "ArithmeticError: bad configuration" in out["bad"].message
    assert out["slow"].status == "timeout" and "45 s limit" in out["slow"].message
    assert 45 <= out["slow"].wall_s < 90 and time.monotonic() - t0 < 200
    (pid,) = [int(p.name) for p in tmp_path.iterdir()]
    assert _gone(pid)  # the task process was killed at its limit


def test_a_worker_killed_mid_task_is_retried_and_its_process_dies(client, tmp_path):
    def kill_first_worker():
        while not any(tmp_path.iterdir()):
            time.sleep(0.2)
        first = next(tmp_path.iterdir())
        os.kill(int(first.read_text()), signal.SIGKILL)  # the worker process running the task

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    out = _run(client, [("a", sleep_and_record, (str(tmp_path), 8))])
    killer.join()
    assert out["a"].status == "ok"  # retried once on a live worker
    pids = {int(p.name) for p in tmp_path.iterdir()}
    assert len(pids) == 2 and out["a"].value in pids
    orphan = (pids - {out["a"].value}).pop()
    assert _gone(orphan)  # the task process of the dead worker killed itself


def test_a_task_that_kills_its_workers_twice_is_lost(client):
    out = _run(client, [("killer", kill_my_worker, ()), ("sum", add, (1, 1))])
    assert out["killer"].status == "lost" and "worker died" in out["killer"].message
    assert out["sum"].value == 2  # the others go on


def test_bad_worker_count_is_named():
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        engine.EngineSettings(workers=0)
