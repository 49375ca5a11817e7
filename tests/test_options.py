"""Effects of the options the oracle comparison does not pin down (random parts, spike generators)."""

import numpy as np
import pytest
from brian2 import StateMonitor
from conftest import SMALL_OPTIONS

from brian_segdend import (
    ModelConfig,
    SegregatedDendriteNetwork,
    Simulator,
    draw_phase_lengths,
    initial_weights,
    schedule,
)
from brian_segdend.monitoring import record, traces

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


# ---------------------------------------------------------------------------------------------
# Symmetric feedback, observed in the simulation: the apical potential a(t) that the network computed
# against the output spikes it emitted, q(t) = sum_k kappa(k) S_out(t - k) (spec §2, §3, one-step lag).
SYMMETRIC = SMALL.replace(
    n_hidden=(40,),
    lambda_max=0.9,  # many output spikes: q(t) spans all 10 directions
    forward_steps=40,
    target_steps=40,
    random_phase_lengths=False,
    symmetric_weights=True,
)


class FeedbackObserver:
    """Present examples one at a time and recover the feedback matrix each one ran with.

    Per example: ``a(t) - c = Y q(t)`` at every step whose ``N_mem`` lags lie inside the example (earlier
    steps still hold spikes that arrived before the last update), solved for Y by least squares; the
    residual must vanish, i.e. the apical potential really is a linear read-out of the output spikes.
    """

    def __init__(self, cfg, weights=None):
        self.cfg = cfg
        self.net = SegregatedDendriteNetwork(cfg, weights=weights, seed=None if weights else 0, capacity=1)
        self.apical = record(self.net, "hidden1", ["a", "c"])
        self.spikes = record(self.net, "output", ["S"])
        self.sim = Simulator(self.net)
        self.rng = np.random.default_rng(1)

    def example(self):
        """``(W_out before the example, Y the example ran with)``."""
        W = self.sim.get_weights()["W"][-1]
        steps = self.cfg.forward_steps + self.cfg.target_steps
        image, label = self.rng.uniform(0, 1, (1, self.cfg.n_inputs)), self.rng.integers(0, 10, 1)
        self.sim.present(image, label, learn=True, seed=int(self.rng.integers(1 << 30)), record=True)
        a = traces(self.apical, "a")[1][:, -steps:].T - traces(self.apical, "c")[1][:, -steps:].T
        S = traces(self.spikes, "S")[1][:, -steps:].T
        kappa, n = self.cfg.kernel_values(), self.cfg.spike_memory
        q = np.array([sum(kappa[k - 1] * S[t - k] for k in range(1, n + 1)) for t in range(n, steps)])
        Y, *_ = np.linalg.lstsq(q, a[n:], rcond=None)
        assert np.linalg.matrix_rank(q) == q.shape[1], "too few output spikes to identify Y"
        np.testing.assert_allclose(q @ Y, a[n:], atol=1e-9 * np.abs(a).max(), err_msg="a is not Y q")
        return W, Y.T


def test_symmetric_feedback_follows_learning():
    """Spec §5: Y = W_out^T, rebuilt from the new W after every example."""
    observer = FeedbackObserver(SYMMETRIC)
    before = None
    for _ in range(3):
        W, Y = observer.example()
        np.testing.assert_allclose(Y, W.T, rtol=1e-7, atol=1e-9)
        assert before is None or np.abs(W - before).max() > 1e-6  # W did learn in between
        before = W


@pytest.mark.parametrize("device", ["numpy", pytest.param("cpp_standalone", marks=pytest.mark.long)], indirect=True)
def test_noisy_symmetric_feedback_broadcast_noise_per_entry(device):
    """Spec §5: W^T plus an i.i.d. N(0, 0.05^2) matrix, redrawn after every example (numpy's and C++'s randn)."""
    observer = FeedbackObserver(SYMMETRIC.replace(noisy_symmetric_weights=True))
    observer.example()  # the first example: see the phase-B test below
    noises = [Y - W.T for W, Y in (observer.example(), observer.example())]
    for noise in noises:
        assert noise.std() == pytest.approx(0.05, rel=0.15) and abs(noise.mean()) < 0.015
    assert abs(np.corrcoef(noises[0].ravel(), noises[1].ravel())[0, 1]) < 0.2  # redrawn


@pytest.mark.parametrize("device", ["numpy", pytest.param("cpp_standalone", marks=pytest.mark.long)], indirect=True)
def test_noisy_symmetric_feedback_non_broadcast_is_one_scalar(device):
    """Spec §5 QUIRK: without broadcast one scalar N(0, 0.05^2) is added to every entry, redrawn per example."""
    observer = FeedbackObserver(SYMMETRIC.replace(noisy_symmetric_weights=True, broadcast=False))
    observer.example()
    noises = [Y - W.T for W, Y in (observer.example(), observer.example())]
    for noise in noises:
        np.testing.assert_allclose(noise, noise[0, 0], atol=1e-7)
        assert 1e-6 < abs(noise[0, 0]) < 0.25
    assert noises[0][0, 0] != pytest.approx(noises[1][0, 0], abs=1e-6)


@pytest.mark.parametrize("broadcast", [True, False])
def test_noisy_symmetric_feedback_is_noisy_from_the_first_example(broadcast):
    """Spec §6: the noise is drawn at initialisation; initial_weights puts it into Y, and the simulation
    must run the first example with that Y."""
    cfg = SYMMETRIC.replace(noisy_symmetric_weights=True, broadcast=broadcast)
    weights = initial_weights(cfg, np.random.default_rng(2))
    assert np.abs(weights["Y"][0] - weights["W"][1].T).max() > 1e-3
    _, Y = FeedbackObserver(cfg, weights).example()
    np.testing.assert_allclose(Y, weights["Y"][0], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "changes",
    [dict(), dict(n_hidden=(7, 5)), dict(n_hidden=(7, 5), broadcast=False), dict(sparse_feedback=True)],
)
def test_set_weights_refuses_a_feedback_matrix_that_symmetric_mode_would_ignore(changes):
    cfg = SMALL.replace(symmetric_weights=True, **changes)
    sim = Simulator(SegregatedDendriteNetwork(cfg, seed=0, capacity=1))
    weights = sim.get_weights()
    sim.set_weights(weights)  # the symmetric Y itself is fine
    weights["Y"] = [2 * y for y in weights["Y"]]
    with pytest.raises(ValueError, match=r"weights\['Y'\]\[0\] is not the feedback that symmetric_weights=True"):
        sim.set_weights(weights)
    with pytest.raises(ValueError, match=r"weights\['Y'\]\[0\]"):
        SegregatedDendriteNetwork(cfg, weights=weights)


def test_noisy_symmetric_set_weights_writes_the_noise_the_simulation_applies():
    """Noisy symmetric feedback (one hidden layer, broadcast): a supplied Y = W^T + N sets the noise the
    next example runs with; without broadcast the noise is one scalar, and any other Y is refused."""
    cfg = SYMMETRIC.replace(noisy_symmetric_weights=True)
    observer = FeedbackObserver(cfg)
    weights = observer.sim.get_weights()
    noise = np.random.default_rng(5).normal(0, 0.05, weights["Y"][0].shape)
    weights["Y"] = [weights["W"][1].T + noise]
    observer.sim.set_weights(weights)
    _, Y = observer.example()
    np.testing.assert_allclose(Y, weights["Y"][0], rtol=1e-7, atol=1e-9)
    scalar = Simulator(SegregatedDendriteNetwork(cfg.replace(broadcast=False), seed=0, capacity=1))
    with pytest.raises(ValueError, match=r"weights\['Y'\]\[0\] is not W\[1\].T plus one scalar noise"):
        scalar.set_weights(weights)


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


def test_random_plateau_offsets_are_drawn_as_the_spec_says_and_checked():
    """Spec §4: min(|int(N(0, 3))|, 5) per example, phase and hidden neuron, drawn by draw_settings (so by
    Simulator.train and training.train); present() checks what it is given before anything runs."""
    cfg = SMALL.replace(random_plateau_times=True, n_hidden=(7, 5))
    net = SegregatedDendriteNetwork(cfg, seed=0, capacity=2)
    offsets = net.draw_settings(20000, np.random.default_rng(1))["plateau_offsets"]
    assert offsets.shape == (20000, 2, 12) and offsets.dtype.kind == "i"
    share = np.bincount(offsets.ravel(), minlength=6) / offsets.size
    from scipy.stats import norm

    want = [2 * (norm.cdf((k + 1) / 3) - norm.cdf(k / 3)) for k in range(5)]
    np.testing.assert_allclose(share, want + [1 - sum(want)], atol=0.003)  # P(0) = 0.26, P(5) = 0.096
    sim, X, y = Simulator(net), np.zeros((2, cfg.n_inputs)), np.zeros(2, int)
    with pytest.raises(ValueError, match="needs plateau_offsets when learning"):
        sim.present(X, y, learn=True)
    good = ([np.zeros((2, 7), int), np.zeros((2, 5), int)], [np.zeros((2, 7), int), np.zeros((2, 5), int)])
    with pytest.raises(ValueError, match=r"shape \(2, 2, 12\)"):
        sim.present(X, y, learn=True, plateau_offsets=np.zeros((2, 2, 11)))
    with pytest.raises(ValueError, match="one array per hidden layer"):
        sim.present(X, y, learn=True, plateau_offsets=(good[0][:1], good[1]))
    too_late = np.full((2, 2, 12), cfg.target_steps - cfg.window_steps + 1)
    with pytest.raises(ValueError, match="no room for the window of 5 steps"):
        sim.present(X, y, learn=True, plateau_offsets=too_late)
    sim.present(X, y, learn=True, plateau_offsets=good)
    with pytest.raises(ValueError, match="random_plateau_times is off"):
        Simulator(SegregatedDendriteNetwork(SMALL, seed=0)).present(X, y, learn=True, plateau_offsets=good)
