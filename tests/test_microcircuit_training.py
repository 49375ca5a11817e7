"""The microcircuit as a model kind: the shared Simulator, training loop, result files, checkpoints,
``segdend train / test / plot``, and the checkpoints of ``experiments/microcircuit_mnist.py``."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from brian_segdend.microcircuits import (
    MicrocircuitConfig,
    MicrocircuitNetwork,
    MicrocircuitSimulator,
    coupling_conductance,
    load_config,
)
from brian_segdend.model import Config, Model, config_class, model_class
from brian_segdend.simulator import Simulator
from brian_segdend.training import load_network, train

#: a small classifier in the MNIST model's dynamics (sweep, logistic, biases, self-predicting start) at
#: lambda = 0.3 (g = 0.33/0.7 per ms); only the output learns, at eta_0/lambda = 1/0.3 per image (with the hidden
#: layer learning too, this 16-20-10 network collapses to one class on the task below: README, open points)
SMALL = load_config("microcircuit-mnist").replace(
    n_inputs=16,
    n_hidden=(20,),
    g_A=coupling_conductance(0.3),
    g_som=coupling_conductance(0.3),
    eta_ff=(0.0, 1 / 0.3),
    eta_td=(0.0,),
    eta_ip=(0.3,),
    eta_pi=(0.0,),
    minibatch=1,
)


def bright_pixel_task(n=150, seed=0):
    """16 inputs, pixel k bright for class k (chance: 90 % error)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    X = 0.2 * rng.uniform(0, 1, (n, 16))
    X[np.arange(n), y] += 0.8
    return X[:100], y[:100], X[100:], y[100:]


@pytest.mark.codegen_independent
def test_the_microcircuit_is_a_registered_kind():
    assert config_class("microcircuit") is MicrocircuitConfig and MicrocircuitConfig.kind == "microcircuit"
    assert model_class("microcircuit") is MicrocircuitNetwork
    assert isinstance(SMALL, Config) and SMALL.from_dict(SMALL.to_dict()) == SMALL


def test_the_network_implements_the_interface(device):
    net = MicrocircuitNetwork(SMALL, seed=0, capacity=3)
    assert isinstance(net, Model)
    X, y = np.full((2, 16), 0.5), np.array([3, 4])
    stimulus = net.stimulus(X, y, learn=True)
    assert stimulus.steps == 2 * SMALL.steps_per_example
    np.testing.assert_array_equal(stimulus.tables[net.nudged], [1, 1, 0])  # class targets while learning
    low, high = stimulus.tables[net.targets][0, [0, 3]]
    np.testing.assert_allclose(1 / (1 + np.exp(-np.array([low, high]))), [SMALL.target_low, SMALL.target_high])
    assert not net.stimulus(X, y, learn=False).tables[net.nudged].any()  # no nudging at test (spec §5.1)
    with pytest.raises(ValueError, match=r"targets have shape \(2, 3\); expected \(2, 10\)"):
        net.example_settings(2, True, targets=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="4 patterns do not fit in one run of this network \\(capacity=3\\)"):
        net.stimulus(np.zeros((4, 16)), np.zeros(4, int), learn=True)
    assert net.readout(True)[1] == "u_ff" and net.readout(False)[1] == "u"  # the nudged soma holds the target
    np.testing.assert_array_equal(net.predict(np.array([[0.0, 2.0, 1.0], [5.0, -1.0, 5.0]])), [1, 0])


def test_generic_simulator_and_front_end_learn_the_same_weights(device):
    """Simulator.present(images, labels) and MicrocircuitSimulator.train(patterns, class targets) are
    one path: the same weights after two chunks, the same test read-outs."""
    from brian_segdend.microcircuits import class_targets

    X, y, Xt, _ = bright_pixel_task(60)
    generic = Simulator(MicrocircuitNetwork(SMALL, seed=1, capacity=25))
    front = MicrocircuitSimulator(MicrocircuitNetwork(SMALL, seed=1, capacity=25))
    generic.present(X, y, learn=True)
    front.train(X, class_targets(SMALL, y))
    a, b = generic.get_weights(), front.get_weights()
    assert a.keys() == b.keys() and all(np.array_equal(p, q) for k in a for p, q in zip(a[k], b[k]))
    np.testing.assert_array_equal(generic.present(Xt, np.zeros(len(Xt), int), learn=False), front.probe(Xt)["u"])


def train_small(device, tmp_path, out, epochs, config=SMALL, resume=False):
    """:func:`train` on the bright-pixel task into ``tmp_path/out`` (standalone: one build per run)."""
    if device == "cpp_standalone":
        from brian2 import device as active

        from brian_segdend import devices

        active.reinit()
        devices.activate("cpp_standalone", build_directory=tmp_path / "build")
    return train(
        config,
        epochs=epochs,
        out=tmp_path / out,
        resume=resume,
        data=bright_pixel_task(),
        seed=2,
        chunk_size=40,
        progress=False,
        log=None,
    )


@pytest.mark.standalone_compatible
def test_trains_checkpoints_and_resumes_through_the_shared_loop(device, tmp_path):
    """The training loop of every kind: test error far below chance, results per epoch with the
    self-prediction distances, the saved network, and a killed run resumed to the same weights."""

    def run(out, epochs, resume=False):
        return train_small(device, tmp_path, out, epochs, resume=resume)

    full = run("full", 3)
    assert full["test_error"] < 30, full["test_error"]  # chance: 90 %
    saved = json.loads((tmp_path / "full" / "results.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [1, 2, 3]
    assert saved["epochs"][-1]["ip_distance_hidden1"] > 0 == saved["epochs"][-1]["pi_distance_hidden1"]  # W^PI fixed
    config, weights = load_network(tmp_path / "full" / "network.npz")
    assert config == SMALL and sorted(weights) == ["b", "b_I", "ff", "ip", "pi", "td"]
    np.testing.assert_array_equal(weights["ff"][1], full["simulator"].get_weights()["ff"][1])
    run("killed", 1)
    resumed = run("killed", 3, resume=True)
    for key, arrays in weights.items():
        for a, b in zip(arrays, resumed["simulator"].get_weights()[key]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.standalone_compatible
def test_a_schedule_changes_later_epochs_and_may_be_added_on_resume(device, tmp_path):
    """``eta_schedule`` [[2, 0]] freezes every weight from epoch 2 on; a run trained one epoch without it
    and resumed with it ends with the same weights; a schedule that changes a trained epoch is refused."""

    def run(out, epochs, config, resume=False):
        return train_small(device, tmp_path, out, epochs, config, resume)

    frozen = SMALL.replace(eta_schedule=[[2, 0.0]])
    first = run("first", 1, SMALL)["simulator"].get_weights()
    scheduled = run("scheduled", 3, frozen)["simulator"].get_weights()
    run("resumed", 1, SMALL)
    with pytest.raises(ValueError, match=r"eta_schedule=\(\(1, 0.5\),\) changes epochs 1..1, which this run has"):
        run("resumed", 3, SMALL.replace(eta_schedule=[[1, 0.5]]), resume=True)
    resumed = run("resumed", 3, frozen, resume=True)["simulator"].get_weights()
    for key in first:
        for a, b, c in zip(first[key], scheduled[key], resumed[key]):
            np.testing.assert_array_equal(a, b, err_msg=key)
            np.testing.assert_array_equal(a, c, err_msg=key)
    saved = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert saved["config"]["eta_schedule"] == [[2, 0.0]] and [e["epoch"] for e in saved["epochs"]] == [1, 2, 3]


# ------------------------------------------------------------ checkpoints of experiments/microcircuit_mnist.py
def _driver():
    spec = importlib.util.spec_from_file_location(
        "microcircuit_mnist", Path(ROOT) / "experiments" / "microcircuit_mnist.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mnist_runs_checkpoint_fits_this_code(device):
    """The state names and sizes in the checkpoint of the 50-epoch run begun at commit 45754b3
    (tests/data/microcircuit_mnist_checkpoint.json, read from it) are those of this code's network."""
    stored = json.loads((Path(ROOT) / "tests" / "data" / "microcircuit_mnist_checkpoint.json").read_text())
    run = load_config("microcircuit-mnist").replace(minibatch=10)  # that run's minibatch sized its rings
    sim = MicrocircuitSimulator(MicrocircuitNetwork(run, seed=0, capacity=5000))
    state = sim.get_state()
    assert sorted(state) == sorted(stored["state"])
    assert {k: int(np.size(v)) for k, v in state.items()} == {k: int(np.prod(s)) for k, s in stored["state"].items()}
    sim.set_state({k: np.zeros(s) for k, s in stored["state"].items()})  # accepted as saved


def test_the_mnist_driver_resumes_its_checkpoint(device, tmp_path):
    """experiments/microcircuit_mnist.py: killed after one epoch and resumed, it ends with the state of
    an uninterrupted run (small network, 40 images, runtime numpy)."""
    model = tmp_path / "small.toml"
    params = {**SMALL.to_dict(), "n_inputs": 784}
    model.write_text(
        'kind = "microcircuit"\n[params]\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in params.items())
    )
    common = f"--model {model} --n-train 40 --n-val 20 --n-test 20 --chunk 20 --device numpy".split()
    driver = _driver()
    driver.main(["--out", str(tmp_path / "full"), "--epochs", "2", *common])
    driver.main(["--out", str(tmp_path / "killed"), "--epochs", "1", *common])
    driver.main(["--out", str(tmp_path / "killed"), "--epochs", "2", "--resume", *common])
    full, resumed = (np.load(tmp_path / d / "checkpoint.npz") for d in ("full", "killed"))
    drop = lambda rows: [{k: v for k, v in row.items() if k != "train_seconds"} for row in rows]  # noqa: E731
    assert drop(json.loads(str(full["meta"]))["epochs"]) == drop(json.loads(str(resumed["meta"]))["epochs"])
    for key in full.files:
        if key.startswith("state/"):
            np.testing.assert_array_equal(full[key], resumed[key], err_msg=key)


# ------------------------------------------------------------------ search space and the pre-training command
@pytest.mark.codegen_independent
def test_search_space_maps_onto_valid_microcircuits():
    """The corners of the microcircuit search space are valid networks with the coupling lambda in every
    layer and bottom-up rates eta_0 / kappa_k (inverse mixing factors)."""
    from brian_segdend.microcircuits import inverse_mixing_rates
    from brian_segdend.study import hyperopt

    for pick in ("low", "high"):
        point = {d.name: getattr(d, pick) for d in hyperopt.search_space("microcircuit")}
        config = MicrocircuitConfig.from_dict(hyperopt.to_params("microcircuit", point))
        assert len(config.n_hidden) == point["n_layers"] and config.minibatch == point["minibatch"]
        for lam in (config.lambda_hidden, config.lambda_output, config.lambda_I):
            assert lam == pytest.approx(point["coupling"])
        assert config.eta_ff == pytest.approx(inverse_mixing_rates(config, point["eta_0"])["eta_ff"])
        assert config.eta_ip == (pytest.approx(point["eta_ip"]),) * len(config.n_hidden)


@pytest.mark.codegen_independent
def test_selfpredict_rejects_other_kinds_before_building(tmp_path, capsys):
    from brian_segdend.cli import main

    assert main(["selfpredict", "--model", "ref-s", "--out", str(tmp_path / "x")]) == 2
    assert "'ref-s' is of kind 'segdend'; selfpredict needs a microcircuit model" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.long
@pytest.mark.standalone_only
def test_selfpredict_reaches_and_saves_the_self_predicting_state(device, tmp_path, capsys):
    """``segdend selfpredict`` on the regression network (600 patterns, three checks, cpp_standalone):
    every measure falls, the apical potential by more than 10 % (check 6's protocol), exit status 0,
    the history in selfprediction.json and the pre-trained weights in network.npz."""
    from brian_segdend.cli import main

    out = tmp_path / "sp"
    assert (
        main(["selfpredict", "--patterns", "600", "--checks", "3", "--device", "cpp_standalone", "--out", str(out)])
        == 0
    )
    report = json.loads((out / "selfprediction.json").read_text())
    first, last = report["history"][0]["hidden1"], report["history"][-1]["hidden1"]
    assert report["reached"] and last["apical"] < 0.9 * first["apical"], (first, last)
    config, weights = load_network(out / "network.npz")
    assert config == load_config("microcircuit-regression")
    factor = config.self_prediction_factor(1)
    assert np.linalg.norm(weights["ip"][0] - factor * weights["ff"][1]) == pytest.approx(last["ip"])
    assert "self-predicting state reached" in capsys.readouterr().out
