"""The `hyperopt` experiment (issue 6): search spaces, smoke budget, resume, failed evaluations."""

import json
import math
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

from brian_segdend import registry
from brian_segdend.config import FLAGS, ModelConfig
from brian_segdend.study import hyperopt, run_experiment


def _bounds(family):
    return {d.name: (d.low, d.high, type(d).__name__, getattr(d, "prior", None)) for d in hyperopt.search_space(family)}


def test_search_spaces_are_lange_ranges():
    units = {f"units_{k}": (30, 500, "Integer", None) for k in range(1, 7)}
    common = {
        "batch_size": (10, 500, "Integer", None),
        "learning_rate": (1e-4, 0.05, "Real", "log-uniform"),
        "n_layers": (1, 6, "Integer", None),
    }
    mlp = _bounds("mlp")
    assert {k: v[:3] for k, v in mlp.items() if k != "learning_rate"} == {
        k: v[:3] for k, v in {**common, **units}.items() if k != "learning_rate"
    }
    assert mlp["learning_rate"] == common["learning_rate"]
    cnn = _bounds("cnn")
    assert set(cnn) == set(common) | {"channels", "kernel_size", "stride", "padding"}
    assert [cnn[k][:2] for k in ("channels", "kernel_size", "stride", "padding")] == [(3, 64), (2, 10), (1, 3), (1, 3)]
    seg = _bounds("segdend")
    assert [n for n in seg][: len(FLAGS)] == list(FLAGS) and len(FLAGS) == 11
    assert all(seg[f][:3] == (0, 1, "Integer") for f in FLAGS)
    expected = {
        "dt": (0.1, 1.0),
        "forward_steps": (2, 50),
        "target_steps": (2, 50),
        "test_steps": (50, 100),
        "lambda_max": (0.2, 0.5),
        "tau_s": (1.0, 5.0),
        "tau_L": (7.0, 13.0),
        "g_B": (0.3, 0.9),
        "g_A": (0.02, 0.1),
        "E_E": (5.0, 12.0),
        "E_I": (-12.0, -5.0),
        "forward_learning_rate": (0.01, 0.5),
        "backward_learning_rate": (0.01, 0.5),
        "n_layers": (1, 6),
        **{k: v[:2] for k, v in units.items()},
    }
    assert {k: seg[k][:2] for k in expected} == expected
    assert len(seg) == len(FLAGS) + len(expected)


def test_lange_mapping_rounds_and_validates():
    point = {d.name: d.low for d in hyperopt.search_space("segdend")}
    point.update(
        dt=0.26,
        n_layers=2.4,
        units_1=30.6,
        units_2=99.4,
        sparse_feedback=0.7,
        g_A=0.09,
        forward_steps=7.5,
        test_steps=93,
    )
    params = hyperopt.to_params("segdend", point)
    assert params["n_hidden"] == [31, 99] and params["sparse_feedback"] is True
    assert params["spike_memory"] == 3 and params["forward_steps"] == 8 and params["test_steps"] == 93
    assert params["g_A"] == 0.05 and params["window_steps"] == 1 and params["random_phase_lengths"] is False
    ModelConfig.from_dict(params)  # a valid configuration
    bad = dict(point, symmetric_weights=1, broadcast=1)  # not supported with 2 hidden layers
    with pytest.raises(ValueError, match="symmetric_weights"):
        ModelConfig.from_dict(hyperopt.to_params("segdend", bad))
    mlp = hyperopt.to_params("mlp", [200.2, 0.01, 2, 40, 60, 500, 500, 500, 500])
    assert mlp["hidden"] == [40, 60] and mlp["batch_size"] == 200 and mlp["momentum"] == 0.0


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown model family 'rnn'"):
        hyperopt.run("smoke", tmp_path, family=["rnn"])
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        hyperopt.run("huge", tmp_path)
    with pytest.raises(ValueError, match="folds .* >= 2, got 1"):
        hyperopt.run("smoke", tmp_path, folds=1)
    with pytest.raises(ValueError, match="unknown hyperopt option"):
        hyperopt.run("smoke", tmp_path, colour="red")


def test_stratified_subset_keeps_class_proportions():
    y = np.repeat(np.arange(10), [100, 200, 50, 50, 100, 100, 100, 100, 100, 100])
    idx = hyperopt.stratified_subset(y, 100, seed=3)
    assert len(idx) == 100 and len(set(idx)) == 100
    assert np.bincount(y[idx]).tolist() == [10, 20, 5, 5, 10, 10, 10, 10, 10, 10]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("hyperopt")
    result = run_experiment("hyperopt", "smoke", out, progress=False)
    return out / "smoke", result


def test_smoke_budget_writes_every_file(smoke):
    root, result = smoke
    n = hyperopt.BUDGET_SETTINGS["smoke"]["evaluations"]
    for family in hyperopt.FAMILIES:
        directory = root / "mnist" / family
        entries = hyperopt.read_log(directory / "log.jsonl")
        assert len(entries) == n
        assert [e["index"] for e in entries] == list(range(n))
        for e in entries:
            assert e["status"] in ("ok", "failed", "diverged", "timeout")
            assert e["wall_s"] > 0 and set(e["params"]) == set(hyperopt.to_params(family, e["x"]))
            if e["status"] == "ok":
                assert len(e["fold_errors"]) == 3 and math.isclose(e["error"], np.mean(e["fold_errors"]))
            else:
                assert e["objective"] == hyperopt.PENALTY and e["message"]
        assert (directory / "convergence.png").stat().st_size > 5000
        summary = json.loads((directory / "summary.json").read_text())
        assert summary["evaluations"] == n and summary["folds"] == 3
        if summary["ok"]:
            spec = registry.load_model(root / "models" / f"bo-{family}-mnist.toml")
            assert spec.kind == {"mlp": "bp-mlp", "cnn": "bp-cnn", "segdend": "segdend"}[family]
            best = json.loads((directory / "best.json").read_text())
            assert spec.params == best["best"]["params"]
            if family == "segdend":
                assert spec.config().n_hidden == tuple(best["best"]["params"]["n_hidden"])
    assert result["families"]["mlp"]["ok"] >= 1  # the baselines always train
    seg = root / "mnist" / "segdend"
    assert (seg / "flag_importance.png").exists()
    assert (seg / "flag_importance.csv").read_text().count("\n") == len(FLAGS) + 1
    assert json.loads((seg / "timing.json").read_text())["median_eval_s"] > 0
    assert (root / "robustness.png").stat().st_size > 5000
    rows = (root / "robustness.csv").read_text().splitlines()
    assert len(rows) == 1 + len(hyperopt.FAMILIES)


def _fake_execute(task, timeout):
    """A quick deterministic objective of the MLP parameters (the real ones run in the smoke test)."""
    error = 10.0 + 1000.0 * abs(task["params"]["learning_rate"] - 0.01) + len(task["params"]["hidden"])
    return {"status": "ok", "fold_errors": [error] * 3, "error": error}


def test_interrupted_log_resumes_without_repeats(tmp_path, monkeypatch):
    monkeypatch.setattr(hyperopt, "_execute", _fake_execute)
    options = dict(family=["mlp"], subset=150, evaluations=2, initial_points=3)
    hyperopt.run("smoke", tmp_path, progress=False, **options)
    path = tmp_path / "smoke" / "mnist" / "mlp" / "log.jsonl"
    first = path.read_text().splitlines()
    assert len(first) == 2
    with open(path, "a") as fh:  # a run killed while writing
        fh.write('{"index": 2, "x": [1')
    with pytest.raises(ValueError, match="settings differ"):
        hyperopt.run("smoke", tmp_path, progress=False, resume=True, **dict(options, subset=120))
    hyperopt.run("smoke", tmp_path, progress=False, resume=True, **dict(options, evaluations=4))
    lines = [line for line in path.read_text().splitlines() if line.startswith('{"index"') and line.endswith("}")]
    assert lines[:2] == first
    entries = [json.loads(line) for line in lines]
    assert [e["index"] for e in entries] == [0, 1, 2, 3]
    assert len({tuple(e["x"]) for e in entries}) == 4


def test_diverging_mlp_is_detected():
    params = hyperopt.to_params("mlp", [10, 0.01, 1, 30, 30, 30, 30, 30, 30])
    params["learning_rate"] = 1e12  # far outside the space: NaN loss
    result = hyperopt.evaluate("mlp", params, subset=90, folds=3, epochs=1)
    assert result["status"] == "diverged"


def test_failed_and_timed_out_evaluations_are_logged_and_search_continues(tmp_path, monkeypatch):
    calls = []
    real_execute = hyperopt._execute

    def flaky(task, timeout):
        calls.append(task["params"])
        if len(calls) == 1:
            raise RuntimeError("simulated crash")
        if len(calls) == 2:
            return real_execute(task, 0.01)  # a real subprocess, killed at once
        return {"status": "ok", "fold_errors": [50.0, 40.0, 30.0], "error": 40.0}

    monkeypatch.setattr(hyperopt, "_execute", flaky)
    result = hyperopt.run("smoke", tmp_path, family=["mlp"], evaluations=4, parallel=1, progress=False)
    entries = hyperopt.read_log(tmp_path / "smoke" / "mnist" / "mlp" / "log.jsonl")
    assert [e["status"] for e in entries] == ["failed", "timeout", "ok", "ok"]
    assert "simulated crash" in entries[0]["message"]
    assert [e["objective"] for e in entries] == [90.0, 90.0, 40.0, 40.0]
    assert entries[2]["accuracy"] == 60.0
    assert result["families"]["mlp"]["best_accuracy"] == 60.0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_kills_running_evaluations_and_keeps_the_log(tmp_path, monkeypatch, sig):
    """Ctrl-C (SIGINT) or SIGTERM stops a search at once: its evaluation subprocesses (which run in
    sessions of their own) are killed, not waited for, and the log keeps what had finished."""
    pids = tmp_path / "pids"
    pids.mkdir()
    sleeper = f"import os, time; open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close(); time.sleep(120)"
    monkeypatch.setattr(hyperopt, "WORKER_COMMAND", (sys.executable, "-c", sleeper))
    handler = signal.getsignal(signal.SIGTERM)
    # Ctrl-C's Python handler even where the test runner started with SIGINT ignored (a background job)
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Timer(4.0, os.kill, (os.getpid(), sig)).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            hyperopt.run("smoke", tmp_path, family=["mlp"], evaluations=2, parallel=2, progress=False)
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert time.monotonic() - t0 < 30
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) == 2
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert hyperopt.read_log(tmp_path / "smoke" / "mnist" / "mlp" / "log.jsonl") == []
    assert signal.getsignal(signal.SIGTERM) == handler  # restored
