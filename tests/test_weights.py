"""Initial weights (spec §6), weight access through the network, save/load."""

import numpy as np
import pytest
from oracle import init_statistics

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, initial_weights
from brian_segdend.training import load_network, save_network
from brian_segdend.weights import SPREAD, weight_statistics

pytestmark = pytest.mark.usefixtures("device")


def test_check_values_of_spec():
    assert weight_statistics(784, 0.2) == pytest.approx((0.018707, 0.5049), abs=1e-4)
    assert weight_statistics(500, 0.2) == pytest.approx((0.029333, 0.6321), abs=1e-4)
    for n in (30, 100, 784):
        assert weight_statistics(n, 0.3) == pytest.approx(init_statistics(n, 0.3))  # the oracle agrees


def test_initial_weights_follow_the_quirks():
    cfg = ModelConfig(n_hidden=(300,))
    w = initial_weights(cfg, np.random.default_rng(0))
    mean, sd = weight_statistics(784, 0.2)
    W1 = w["W"][0]
    assert W1.shape == (300, 784)
    assert W1.mean() == pytest.approx(mean, abs=0.01)
    assert W1.std() == pytest.approx(SPREAD * sd / np.sqrt(3), rel=0.02)  # = 2.0 x W_sd (QUIRK)
    assert np.abs(W1 - mean).max() <= SPREAD * sd
    # feedback uses the statistics of the layer above (fan-in = rows of Y)
    ymean, ysd = weight_statistics(300, 0.2)
    assert w["Y"][0].shape == (300, 10)
    assert w["Y"][0].mean() == pytest.approx(ymean, abs=0.1)
    assert np.abs(w["Y"][0] - ymean).max() <= SPREAD * ysd
    assert np.all(np.abs(w["b"][0] - 0.8) <= SPREAD * 0.001)
    plain = initial_weights(cfg.replace(weight_optimization=False), np.random.default_rng(0))
    assert np.abs(plain["W"][0]).max() <= 0.1 and np.abs(plain["b"][0]).max() <= 1


def test_sparse_feedback_zeroes_eighty_percent_and_scales():
    cfg = ModelConfig(n_hidden=(40,), sparse_feedback=True)
    dense = initial_weights(cfg.replace(sparse_feedback=False), np.random.default_rng(3))
    sparse = initial_weights(cfg, np.random.default_rng(3))
    Y, mask = sparse["Y"][0], sparse["sparse_masks"][0]
    assert mask.sum() == int(0.8 * Y.size) and np.all(Y[mask] == 0)
    net = SegregatedDendriteNetwork(cfg, weights=sparse, capacity=1)
    assert len(net.layer("hidden1").fb) == Y.size - mask.sum()  # masked entries are not connected
    got = Simulator(net).get_weights()["Y"][0]
    np.testing.assert_array_equal(got, Y)
    assert np.abs(Y[~mask]).mean() > 3 * np.abs(dense["Y"][0]).mean()  # x5


def test_symmetric_feedback_is_transposed_forward_weights():
    cfg = ModelConfig(n_hidden=(20,), symmetric_weights=True)
    w = initial_weights(cfg, np.random.default_rng(1))
    np.testing.assert_array_equal(w["Y"][0], w["W"][1].T)
    net = SegregatedDendriteNetwork(cfg, weights=w, capacity=1)
    assert net.layer("hidden1").fb is None  # feedback reads w of the output synapses
    two = ModelConfig(n_hidden=(20, 15), symmetric_weights=True, broadcast=False)
    w2 = initial_weights(two, np.random.default_rng(1))
    np.testing.assert_array_equal(w2["Y"][0], w2["W"][1].T)
    np.testing.assert_array_equal(w2["Y"][1], w2["W"][2].T)


def test_feedback_wiring_broadcast_vs_next_layer():
    broadcast = SegregatedDendriteNetwork(ModelConfig(n_hidden=(6, 5)), seed=0, capacity=1)
    assert broadcast.layer("hidden1").fb.source is broadcast.output.neurons
    assert broadcast.layer("hidden2").fb.source is broadcast.output.neurons
    chain = SegregatedDendriteNetwork(ModelConfig(n_hidden=(6, 5), broadcast=False), seed=0, capacity=1)
    assert chain.layer("hidden1").fb.source is chain.layer("hidden2").neurons
    assert chain.layer("hidden2").fb.source is chain.output.neurons


def test_set_get_weights_roundtrip_and_bad_input(tmp_path):
    cfg = ModelConfig(n_inputs=10, n_hidden=(6,), feedback_bias=True)
    sim = Simulator(SegregatedDendriteNetwork(cfg, seed=0, capacity=1))
    w = initial_weights(cfg, np.random.default_rng(9))
    sim.set_weights(w)
    got = sim.get_weights()
    for key in ("W", "b", "Y", "c"):
        for a, b in zip(got[key], w[key]):
            np.testing.assert_array_equal(a, b)
    bad = {**w, "W": [w["W"][0].T, w["W"][1]]}
    with pytest.raises(ValueError, match=r"weights\['W'\]\[0\] has shape \(10, 6\); expected \(6, 10\)"):
        sim.set_weights(bad)
    nan = {**w, "b": [w["b"][0], np.full(10, np.nan)]}
    with pytest.raises(ValueError, match=r"weights\['b'\]\[1\] contains 10 NaN"):
        sim.set_weights(nan)
    with pytest.raises(ValueError, match="missing"):
        sim.set_weights({"W": w["W"]})
    save_network(tmp_path / "net.npz", sim)
    config, loaded = load_network(tmp_path / "net.npz")
    assert config == cfg
    np.testing.assert_array_equal(loaded["W"][0], w["W"][0])
    np.testing.assert_array_equal(loaded["c"][0], w["c"][0])


def test_state_round_trip_with_a_shared_noise_scalar():
    """get_state -> set_state restores every variable, also the shared scalar noise of non-broadcast
    noisy symmetric feedback (which reads back as shape () in runtime mode)."""
    from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator

    cfg = ModelConfig(
        n_inputs=12,
        n_hidden=(7, 5),
        broadcast=False,
        symmetric_weights=True,
        noisy_symmetric_weights=True,
        forward_steps=14,
        target_steps=12,
        window_steps=5,
        spike_memory=4,
    )
    sim = Simulator(SegregatedDendriteNetwork(cfg, seed=0, capacity=2))
    initial = sim.get_state()
    sim.train(np.random.default_rng(0).uniform(0, 1, (2, 12)), np.array([1, 2]), seed=1)
    assert not np.allclose(sim.get_state()["hidden2_ff.w"], initial["hidden2_ff.w"])
    sim.set_state({k: np.atleast_1d(v) for k, v in initial.items()})
    for key, value in sim.get_state().items():
        np.testing.assert_array_equal(np.ravel(value), np.ravel(initial[key]), err_msg=key)
    with pytest.raises(ValueError, match="hidden2_ff.fb_noise"):
        sim.set_state({**initial, "hidden2_ff.fb_noise": np.zeros(3)})
    with pytest.raises(ValueError, match="hidden2_ff.w"):  # same size, wrong shape
        sim.set_state({**initial, "hidden2_ff.w": initial["hidden2_ff.w"].reshape(7, 5)})
