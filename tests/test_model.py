"""The model interface (model.py): the registry of kinds and what a model offers the simulator."""

import numpy as np
import pytest
from conftest import SMALL_OPTIONS

from brian_segdend import ModelConfig, SegregatedDendriteNetwork
from brian_segdend.model import KINDS, Config, Model, config_class, model_class, register_kind

SMALL = ModelConfig(**SMALL_OPTIONS)


@pytest.mark.codegen_independent
def test_kinds_name_their_config_and_model_classes(monkeypatch):
    assert config_class("segdend") is ModelConfig and ModelConfig.kind == "segdend"
    assert model_class("segdend") is SegregatedDendriteNetwork
    with pytest.raises(ValueError, match="unknown model kind 'bp-mlp'; Brian model kinds are: segdend"):
        model_class("bp-mlp")
    monkeypatch.setattr("brian_segdend.model.KINDS", dict(KINDS))  # the registry is restored afterwards
    register_kind("other", "brian_segdend.config:ModelConfig", "brian_segdend.network:SegregatedDendriteNetwork")
    assert model_class("other") is SegregatedDendriteNetwork


def test_the_segregated_dendrite_network_implements_the_interface(device):
    net = SegregatedDendriteNetwork(SMALL, seed=0, capacity=3)
    assert isinstance(net, Model) and isinstance(net.config, Config)
    X, y = np.full((2, 12), 0.5), np.array([3, 4])
    stimulus = net.stimulus(X, y, learn=True, forward_lengths=[14, 15], target_lengths=[12, 13])
    assert stimulus.steps == 14 + 15 + 12 + 13
    np.testing.assert_array_equal(stimulus.tables[net.images][:2], X)
    np.testing.assert_array_equal(stimulus.tables[net.labels], [3, 4, 0])
    np.testing.assert_array_equal(stimulus.tables[net.forward_lengths], [14, 15, 1])
    assert stimulus.variables[(net.controller, "n_examples")] == 2
    assert stimulus.variables[(net.controller, "plastic")] == 1
    test = net.stimulus(X, y, learn=False)
    assert test.steps == 2 * SMALL.test_steps and test.variables[(net.controller, "K_f")] == SMALL.test_window_steps
    with pytest.raises(ValueError, match="4 examples do not fit in one run of this network \\(capacity=3\\)"):
        net.stimulus(np.zeros((4, 12)), np.zeros(4, int), learn=True)
    with pytest.raises(ValueError, match="phase lengths must be >= window_steps=5"):
        net.example_settings(2, True, forward_lengths=[14, 4])
    with pytest.raises(ValueError, match="a run of 3 examples needs 2010 steps, more than 1278"):
        net.example_settings(2, True, forward_lengths=[1000, 1000], target_lengths=[5, 5])
    carried = net.state_variables()
    assert carried[net.layer("hidden1").ff] == ["w"] and "hazard" in carried[net.layer("hidden1").neurons]
    assert "b" not in net.state_variables(weights=False)[net.layer("hidden1").neurons]
    np.testing.assert_array_equal(net.predict(np.eye(10)[[7, 2]]), [7, 2])


@pytest.mark.standalone_compatible
def test_a_second_kind_trains_through_the_shared_stack(device, tmp_path, monkeypatch):
    """A toy kind (tests/toy_model.py: delta rule, no phases) runs through the same Simulator, training
    loop, result files, checkpoints and saved networks as the segregated-dendrite network."""
    import json

    from toy_model import DeltaConfig, DeltaModel

    from brian_segdend.training import load_network, train

    monkeypatch.setattr(
        "brian_segdend.model.KINDS", {**KINDS, "delta": ("toy_model:DeltaConfig", "toy_model:DeltaModel")}
    )
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 150)
    X = 0.2 * rng.uniform(0, 1, (150, 16))
    X[np.arange(150), y] += 0.8  # pixel k is bright for class k
    data = (X[:100], y[:100], X[100:], y[100:])
    options = dict(data=data, seed=1, chunk_size=40, progress=False, log=None, build_directory=tmp_path / "build")

    def run(out, epochs, resume=False):
        if device == "cpp_standalone":  # one build per training run
            from brian2 import device as active

            from brian_segdend import devices

            active.reinit()
            devices.activate("cpp_standalone", build_directory=tmp_path / "build")
        return train(DeltaConfig(), epochs=epochs, out=tmp_path / out, resume=resume, **options)

    full = run("full", 3)
    assert isinstance(full["simulator"].model, DeltaModel)
    assert full["test_error"] < 20, full["test_error"]  # chance: 90 %
    saved = json.loads((tmp_path / "full" / "results.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [1, 2, 3] and saved["epochs"][-1]["weight_norm"] > 0
    config, weights = load_network(tmp_path / "full" / "network.npz")
    assert config == DeltaConfig()
    np.testing.assert_array_equal(weights["W"], full["simulator"].get_weights()["W"])
    run("killed", 1)
    resumed = run("killed", 3, resume=True)
    np.testing.assert_array_equal(resumed["simulator"].get_weights()["W"], weights["W"])
