"""Effects of the options the oracle comparison does not pin down (random parts, spike generators)."""

import numpy as np
import pytest
from brian2 import StateMonitor
from conftest import SMALL_OPTIONS

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, draw_phase_lengths, schedule

SMALL = ModelConfig(**SMALL_OPTIONS)


pytestmark = pytest.mark.usefixtures("device")


def run(cfg, n=3, seed=0, monitor=None):
    net = SegregatedDendriteNetwork(cfg, seed=seed, capacity=n)
    mon = None
    if monitor:
        mon = StateMonitor(net.layer(monitor[0]).neurons, monitor[1], record=True, **schedule.at("monitors"))
        net.brian_network.add(mon)
    sim = Simulator(net)
    before = sim.get_weights()
    rng = np.random.default_rng(seed)
    sim.train(rng.uniform(0, 1, (n, cfg.n_inputs)), rng.integers(0, 10, n), seed=seed)
    return before, sim.get_weights(), mon


def test_feedback_learning_changes_Y_only_when_on():
    before, after, _ = run(SMALL)
    np.testing.assert_array_equal(before["Y"][0], after["Y"][0])
    before, after, _ = run(SMALL.replace(update_feedback_weights=True, feedback_learning_rates=(0.5,)))
    assert np.abs(before["Y"][0] - after["Y"][0]).max() > 1e-6


def test_feedback_bias_is_drawn_and_learned():
    before, after, _ = run(
        SMALL.replace(feedback_bias=True, update_feedback_weights=True, feedback_learning_rates=(0.5,))
    )
    assert np.all(np.abs(before["c"][0] - 0.8) < 0.01)  # b-bar + 3.465 b_sd U(-1, 1)
    assert np.abs(after["c"][0] - before["c"][0]).max() > 0
    _, plain, _ = run(SMALL)
    np.testing.assert_array_equal(plain["c"][0], 0)


def test_noisy_symmetric_feedback_broadcast_noise_per_entry():
    cfg = SMALL.replace(n_hidden=(40,), symmetric_weights=True, noisy_symmetric_weights=True)
    _, after, _ = run(cfg)
    noise = after["Y"][0] - after["W"][1].T
    assert noise.std() == pytest.approx(0.05, rel=0.15)  # N(0, 0.05^2) per entry, redrawn
    assert len(np.unique(np.round(noise, 12))) > 100


def test_noisy_symmetric_feedback_non_broadcast_is_one_scalar():
    cfg = SMALL.replace(symmetric_weights=True, noisy_symmetric_weights=True, broadcast=False)
    _, after, _ = run(cfg)
    noise = after["Y"][0] - after["W"][1].T
    np.testing.assert_allclose(noise, noise[0, 0], atol=1e-12)  # QUIRK: one value for all entries
    assert noise[0, 0] != 0


def test_symmetric_feedback_follows_learning():
    _, after, _ = run(SMALL.replace(symmetric_weights=True))
    np.testing.assert_array_equal(after["Y"][0], after["W"][1].T)


def test_bernoulli_spikes_are_single_and_poisson_can_be_multiple():
    cfg = SMALL.replace(lambda_max=0.9, forward_steps=60, target_steps=60)
    _, _, mon = run(cfg.replace(spike_counts="bernoulli"), monitor=("hidden1", "S"))
    assert mon.S[:].max() == 1
    _, _, mon = run(cfg, monitor=("hidden1", "S"))
    assert mon.S[:].max() >= 2


def test_random_phase_lengths():
    rng = np.random.default_rng(0)
    T_f, T_t = draw_phase_lengths(ModelConfig(), 20000, rng)
    assert T_f.min() >= 50 and T_t.min() >= 50
    assert (T_f - 50).mean() == pytest.approx(np.floor(np.random.default_rng(1).wald(2, 1, 200000)).mean(), abs=0.05)
    T_f, T_t = draw_phase_lengths(ModelConfig(random_phase_lengths=False), 10, rng)
    assert set(T_f) == {50} and set(T_t) == {50}


def test_sparse_feedback_learning_regrowth_quirk_is_opt_in():
    """Spec §5: REF multiplies learned sparse feedback by 5 after every example (exponential growth);
    the default re-zeroes the masked entries only."""
    cfg = SMALL.replace(sparse_feedback=True, update_feedback_weights=True, feedback_learning_rates=(0.01,))
    _, fixed, _ = run(cfg, n=2)
    _, quirk, _ = run(cfg.replace(sparse_feedback_rescale_each_example=True), n=2)
    mask = fixed["Y"][0] == 0
    np.testing.assert_array_equal(quirk["Y"][0][mask], 0)
    ratio = np.abs(quirk["Y"][0][~mask]).mean() / np.abs(fixed["Y"][0][~mask]).mean()
    assert 20 < ratio < 30  # two examples: x 5 x 5


def test_poisson_counts_by_time_rescaling_match_the_rates():
    """Spec §3.2.6: S(t) ~ Poisson(r(t)) per neuron and step. The draw keeps an Exp(1) amount of
    integrated rate per neuron (equations.POISSON_NEURONS); the counts must still have mean and variance
    r(t) per step and the right share of multiple spikes."""
    cfg = SMALL.replace(lambda_max=0.9, forward_steps=100, target_steps=100, n_hidden=(20,))
    _, _, mon = run(cfg, n=2, monitor=("hidden1", ["S", "r"]))
    S, r = mon.S[:].astype(float).ravel(), mon.r[:].ravel()
    assert r.sum() > 2000
    assert abs(S.sum() - r.sum()) < 4 * np.sqrt(r.sum())  # mean r
    assert abs(((S - r) ** 2).sum() - r.sum()) < 0.1 * r.sum()  # variance r
    multiple = (1 - np.exp(-r) * (1 + r)).sum()  # expected steps with >= 2
    assert abs((S >= 2).sum() - multiple) < 4 * np.sqrt(multiple)


def test_poisson_counts_after_a_zeroed_state_are_not_a_burst():
    """Test runs zero all state per example (spec §7); the first step then draws like any other."""
    cfg = SMALL.replace(lambda_max=0.2, n_hidden=(50,))
    net = SegregatedDendriteNetwork(cfg, seed=0, capacity=20)
    mon = StateMonitor(net.layer("hidden1").neurons, ["S", "r"], record=True, **schedule.at("monitors"))
    net.brian_network.add(mon)
    Simulator(net).test(np.random.default_rng(0).uniform(0, 1, (20, 12)), np.zeros(20, int), seed=3)
    first = np.arange(20) * cfg.test_steps  # each example's first step
    S, r = mon.S[:, first].astype(float), mon.r[:, first]
    assert abs(S.sum() - r.sum()) < 4 * np.sqrt(r.sum()) + 1
