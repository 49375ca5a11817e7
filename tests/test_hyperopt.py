"""The `hyperopt` and `replay` experiments (issues 6, 13): spaces, smoke budget on Dask, resume, failures."""

import dataclasses
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from brian_segdend import datasets, registry
from brian_segdend.config import FLAGS, ModelConfig
from brian_segdend.study import engine, hyperopt, run_experiment
from brian_segdend.study.hyperopt import replay
from brian_segdend.study.hyperopt.search import Proposer


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
    symmetric = dict(point, symmetric_weights=1, broadcast=1)  # built for several hidden layers (issue 14)
    assert ModelConfig.from_dict(hyperopt.to_params("segdend", symmetric)).symmetric_weights
    cnn = hyperopt.to_params("cnn", [20, 0.01, 2.4, 8, 3, 1, 2])
    assert cnn["channels"] == [8, 8] and cnn["kernel_size"] == 3 and cnn["padding"] == 2
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
    idx = datasets.subset(y, 100, seed=3, stratify=True)
    assert len(idx) == 100 and len(set(idx)) == 100 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [10, 20, 5, 5, 10, 10, 10, 10, 10, 10]
    keep, splits = hyperopt.cv_split(y, 100, 3, seed=3)
    assert np.array_equal(keep, idx) and len(splits) == 3
    assert sorted(np.concatenate([va for _, va in splits]).tolist()) == list(range(100))
    plain = datasets.subset(y, 30, seed=[1, 6])
    assert np.array_equal(plain, np.sort(np.random.default_rng([1, 6]).permutation(len(y))[:30]))
    with pytest.raises(ValueError, match="positive number of examples, got 0"):
        datasets.subset(y, 0, seed=1)


def test_lange_log_points_map_onto_the_model():
    family, params = hyperopt.from_lange(LANGE_BEST_MNIST)
    assert family == "segdend" and params["n_hidden"] == [30] and params["dt"] == 1.0
    assert params["symmetric_weights"] is True and params["spiking_feedforward"] is False
    assert params["learning_rates"] == [0.5] and params["forward_steps"] == params["target_steps"] == 2
    assert params["test_steps"] == 100 and params["spike_memory"] == 1
    ModelConfig.from_dict(params)
    family, params = hyperopt.from_lange(
        {"batch_size": 238.0, "learning_rate": 0.0173, "num_layers": 2.0, **{f"h_l_{k}": 30.0 + k for k in range(1, 7)}}
    )
    assert family == "mlp" and params["hidden"] == [31, 32] and params["batch_size"] == 238
    family, params = hyperopt.from_lange(
        {"batch_size": 20, "learning_rate": 0.01, "num_layers": 2, "stride": 1, "padding": 2, "ch_1": 8, "ch_2": 9,
         "k_1": 3, "k_2": 5, **{f"{p}_{k}": 3 for p in ("ch", "k") for k in range(3, 6)}}
    )  # fmt: skip
    assert family == "cnn" and params["channels"] == [8, 9] and params["kernel_size"] == [3, 5]
    with pytest.raises(ValueError, match="not a point of Lange's logs"):
        hyperopt.from_lange({"colour": 1})


def test_initial_design_is_fixed_by_the_seed_and_never_repeats():
    s = hyperopt.SearchSettings("mlp", initial_points=6, seed=4)
    one, two = Proposer(s), Proposer(s)
    first = [one.ask(k, []) for k in range(6)]
    assert [two.ask(k, first[:k][-2:]) for k in range(6)] == first  # pending points change nothing
    assert len({tuple(x) for x in first}) == 6
    for k, x in enumerate(first):
        one.tell(x, 50.0 + k)
    later = [one.ask(6 + k, []) for k in range(2)]
    assert all(tuple(x) not in {tuple(f) for f in first} for x in later)
    assert [d.name for d in hyperopt.search_space("mlp")][1] == "learning_rate"
    assert all(1e-4 <= x[1] <= 0.05 for x in first + later)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("hyperopt")
    result = run_experiment("hyperopt", "smoke", out, progress=False)
    return out / "smoke", result


def test_smoke_budget_writes_every_file(smoke):
    root, result = smoke
    n = hyperopt.BUDGETS["smoke"]["evaluations"]
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
            assert summary["model"] == f"bo-{family}-mnist"  # a name, not a path of this machine
            spec = registry.load_model(root / "models" / f"bo-{family}-mnist.toml")
            assert spec.kind == {"mlp": "bp-mlp", "cnn": "bp-cnn"}.get(family, family)
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


# ---------------------------------------------------------------------- objectives run in task processes
def quick_objective(family, params, calls=None, **options):
    """A quick deterministic objective of the MLP parameters (the real one runs in the smoke test)."""
    if calls:
        Path(calls, f"{time.time_ns()}-{os.getpid()}").touch()
    error = 10.0 + 1000.0 * abs(params["learning_rate"] - 0.01) + len(params["hidden"])
    return {"status": "ok", "fold_errors": [error] * 3, "error": error}


def flaky_objective(family, params, calls, **options):
    """Call 1 raises, call 2 runs past any short time limit, later calls succeed."""
    Path(calls, f"{time.time_ns()}-{os.getpid()}").touch()
    n = len(list(Path(calls).iterdir()))
    if n == 1:
        raise RuntimeError("simulated crash")
    if n == 2:
        time.sleep(300)
    return {"status": "ok", "fold_errors": [50.0, 40.0, 30.0], "error": 40.0}


def sleeping_objective(family, params, pids=None, seconds=120.0, **options):
    """Records ``<task pid>`` -> worker pid in ``pids`` (or $SEGDEND_TEST_PIDS), then sleeps."""
    directory = Path(pids or os.environ["SEGDEND_TEST_PIDS"])
    (directory / str(os.getpid())).write_text(str(os.getppid()))
    time.sleep(seconds)
    return quick_objective(family, params)


@pytest.fixture(scope="module")
def client():
    with engine.connect(engine.EngineSettings(workers=2), log=lambda _: None) as c:
        yield c


def _mlp(**options):
    return hyperopt.SearchSettings("mlp", subset=150, epochs=1, **options)


def _gone(pid, wait=15.0):
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_interrupted_log_resumes_without_repeats(tmp_path, client):
    calls = tmp_path / "calls"
    calls.mkdir()
    s = _mlp(evaluations=2, initial_points=3)
    run = dict(progress=False, options={"calls": str(calls)}, objective=quick_objective)
    hyperopt.search(s, tmp_path / "mlp", client, **run)
    path = tmp_path / "mlp" / "log.jsonl"
    first = path.read_text().splitlines()
    assert len(first) == 2
    with open(path, "a") as fh:  # a run killed while writing
        fh.write('{"index": 2, "x": [1')
    with pytest.raises(ValueError, match="settings differ"):
        hyperopt.search(dataclasses.replace(s, subset=120), tmp_path / "mlp", client, resume=True, **run)
    with pytest.raises(ValueError, match="pass --resume"):
        hyperopt.search(s, tmp_path / "mlp", client, **run)
    hyperopt.search(dataclasses.replace(s, evaluations=4), tmp_path / "mlp", client, resume=True, **run)
    lines = [line for line in path.read_text().splitlines() if line.startswith('{"index"') and line.endswith("}")]
    assert lines[:2] == first
    entries = [json.loads(line) for line in lines]
    assert [e["index"] for e in entries] == [0, 1, 2, 3]
    assert len({tuple(e["x"]) for e in entries}) == 4
    assert len(list(calls.iterdir())) == 4  # nothing evaluated twice
    design = Proposer(s).design
    assert {tuple(x) for x in design} <= {tuple(e["x"]) for e in entries}  # the design continued


def test_diverging_mlp_is_detected():
    params = hyperopt.to_params("mlp", [10, 0.01, 1, 30, 30, 30, 30, 30, 30])
    params["learning_rate"] = 1e12  # far outside the space: NaN loss
    result = hyperopt.cross_validated_error("mlp", params, subset=90, folds=3, epochs=1)
    assert result["status"] == "diverged"


def test_stop_at_chance_skips_the_other_folds():
    still = dict(hyperopt.to_params("mlp", [500, 1e-4, 1, 30, 30, 30, 30, 30, 30]), learning_rate=1e-9)
    result = hyperopt.cross_validated_error("mlp", still, subset=600, stop_at_chance=True)
    assert result["status"] == "chance" and len(result["fold_errors"]) == 1
    assert result["error"] >= 100 - 10 - hyperopt.CHANCE_MARGIN
    learner = hyperopt.to_params("mlp", [10, 0.05, 1, 100, 30, 30, 30, 30, 30])
    result = hyperopt.cross_validated_error("mlp", learner, subset=600, stop_at_chance=True)
    assert result["status"] == "ok" and len(result["fold_errors"]) == 3 and result["error"] < 50


def test_failed_and_timed_out_evaluations_are_logged_and_search_continues(tmp_path, client):
    calls = tmp_path / "calls"
    calls.mkdir()
    s = _mlp(evaluations=4, parallel=1, eval_timeout=45.0)  # generous: task processes start slowly on a busy machine
    entries = hyperopt.search(
        s, tmp_path / "mlp", client, progress=False, options={"calls": str(calls)}, objective=flaky_objective
    )
    assert entries == hyperopt.read_log(tmp_path / "mlp" / "log.jsonl")
    assert [e["status"] for e in entries] == ["failed", "timeout", "ok", "ok"]
    assert "simulated crash" in entries[0]["message"] and "45 s limit" in entries[1]["message"]
    assert [e["objective"] for e in entries] == [90.0, 90.0, 40.0, 40.0]
    assert entries[2]["accuracy"] == 60.0


def test_a_worker_killed_mid_evaluation_leaves_the_search_running(tmp_path, client):
    pids = tmp_path / "pids"
    pids.mkdir()
    killed = []

    def kill_first_worker():
        while not any(pids.iterdir()):
            time.sleep(0.2)
        task = next(pids.iterdir())
        killed.append(int(task.name))
        os.kill(int(task.read_text()), signal.SIGKILL)  # the worker process of a running evaluation

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    s = _mlp(evaluations=4)
    options = {"pids": str(pids), "seconds": 6.0}
    entries = hyperopt.search(
        s, tmp_path / "mlp", client, progress=False, options=options, objective=sleeping_objective
    )
    killer.join()
    assert [e["index"] for e in entries] == [0, 1, 2, 3] and {e["status"] for e in entries} == {"ok"}
    assert hyperopt.read_log(tmp_path / "mlp" / "log.jsonl") == entries
    assert len(list(pids.iterdir())) == 5  # the killed evaluation ran again
    assert _gone(killed[0])  # and its first process died with its worker


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_kills_running_evaluations_and_keeps_the_log(tmp_path, monkeypatch, sig):
    """Ctrl-C (SIGINT) or SIGTERM stops a search at once: its evaluation processes are killed, not
    waited for, the embedded cluster is closed, and the log keeps what had finished."""
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("SEGDEND_TEST_PIDS", str(pids))  # the workers inherit it

    def interrupt_when_both_run():
        while len(list(pids.iterdir())) < 2:
            time.sleep(0.2)
        os.kill(os.getpid(), sig)

    handler = signal.getsignal(signal.SIGTERM)
    # Ctrl-C's Python handler even where the test runner started with SIGINT ignored (a background job)
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_when_both_run, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            hyperopt.run(
                "smoke",
                tmp_path,
                family=["mlp"],
                evaluations=2,
                workers=2,
                progress=False,
                objective=sleeping_objective,
            )
    finally:
        signal.signal(signal.SIGINT, sigint)
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) == 2 and all(_gone(pid) for pid in started)
    assert hyperopt.read_log(tmp_path / "smoke" / "mnist" / "mlp" / "log.jsonl") == []
    assert signal.getsignal(signal.SIGTERM) == handler  # restored


# ---------------------------------------------------------------------- replay
LANGE_BEST_MNIST = {  # Lange's best MNIST compartment-model point (his logs/bo_logs_comp_dnn_mnist.json)
    "E_E": 5.0, "E_I": -12.0, "b_etas": 0.01, "dt": 1.0, "f_etas": 0.5, "g_A": 0.02, "g_B": 0.3,
    "h_l_1": 30.0, "h_l_2": 500.0, "h_l_3": 30.0, "h_l_4": 30.0, "h_l_5": 30.0, "h_l_6": 500.0,
    "l_f_phase": 2.0, "l_f_phase_test": 100.0, "l_t_phase": 2.0, "lambda_max": 0.2,
    "noisy_symmetric_weights": 0.0, "num_layers": 1.0, "tau_L": 7.0, "tau_s": 1.0,
    "update_feedback_weights": 0.0, "use_apical_conductance": 0.0, "use_broadcast": 0.0,
    "use_conductances": 0.0, "use_feedback_bias": 0.0, "use_sparse_feedback": 0.0,
    "use_spiking_feedback": 0.0, "use_spiking_feedforward": 0.0, "use_symmetric_weights": 1.0,
    "use_weight_optimization": 0.0,
}  # fmt: skip


def _lange_mlp(lr, layers, target):
    units = {f"h_l_{k}": 40.0 + k for k in range(1, 7)}
    params = {"batch_size": 100.0, "learning_rate": lr, "num_layers": float(layers), **units}
    return {"target": target, "params": params, "datetime": {"datetime": "2019-02-01 10:18:41", "elapsed": 0.0}}


def test_replay_of_lange_and_own_logs(tmp_path, client):
    lange = tmp_path / "bo_logs_dnn_fashion.json"  # Lange's format: one JSON object per line
    lange.write_text(
        "".join(json.dumps(_lange_mlp(*p)) + "\n" for p in [(0.01, 1, 0.9), (0.03, 2, 0.5), (0.02, 3, 0.8)])
    )
    configs, dataset = replay.read_configurations(lange)
    assert dataset == "fashion-mnist" and [c["logged_accuracy"] for c in configs] == [90.0, 50.0, 80.0]
    options = dict(scheduler=client.scheduler.address, progress=False, objective=quick_objective, subset=150)
    result = replay.run("smoke", tmp_path / "out", log=str(lange), top=2, **options)
    rows = {r["source_index"]: r for r in result["rows"]}
    assert set(rows) == {0, 2} and rows[2]["logged_accuracy"] == 80.0
    assert rows[0]["accuracy"] == pytest.approx(100 - 11.0) and rows[2]["accuracy"] == pytest.approx(100 - 23.0)
    settings = json.loads((tmp_path / "out" / "bo_logs_dnn_fashion" / "settings.json").read_text())
    assert settings["mlp"]["dataset"] == "fashion-mnist" and settings["mlp"]["subset"] == 150
    again = replay.run("smoke", tmp_path / "out", log=str(lange), resume=True, **options)  # nothing new
    assert len(again["entries"]) == 3 and sorted(r["source_index"] for r in again["rows"]) == [0, 1, 2]
    own = tmp_path / "out" / "bo_logs_dnn_fashion" / "log.jsonl"
    mine = replay.run("smoke", tmp_path / "own", log=str(own), indices=[1], **options)
    assert [r["accuracy"] for r in mine["rows"]] == [hyperopt.read_log(own)[1]["accuracy"]]
    with pytest.raises(ValueError, match="has no entries \\[7\\]"):
        replay.run("smoke", tmp_path / "x", log=str(lange), indices=[7], **options)
