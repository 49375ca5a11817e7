"""The network's own spike generators, observed in the simulation (spec §1, §3.2.6, §10.4).

Every layer draws its counts in generated code: input pixels Poisson(lambda x), hidden and output somata
Poisson(r(t)) by time rescaling (``equations.POISSON_INPUT`` / ``POISSON_NEURONS``), or at most one spike
(``spike_counts='bernoulli'``). The equivalence tests replay counts drawn in Python, so here the counts
come from the generators themselves: recorded with the package's recorders together with the rate of the
same step, in training and test runs, and compared with the distribution they must have.

Each check is a z-score of a sum over independent neuron-steps (|z| < 5: a false alarm about once in
3 million runs).
"""

import numpy as np
import pytest

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator
from brian_segdend.monitoring import record, traces

#: tests taking ``device`` run under runtime numpy and cpp_standalone (tests/conftest.py)
pytestmark = pytest.mark.standalone_compatible

Z_MAX = 5.0
CFG = ModelConfig(
    n_inputs=200,
    n_hidden=(100,),
    units_per_class=5,  # 50 output units
    lambda_max=0.9,  # rates up to 0.9 per step: many multiple spikes (Poisson)
    forward_steps=50,
    target_steps=50,
    window_steps=5,
    test_steps=60,
    test_window_steps=10,
    spike_memory=4,
    random_phase_lengths=False,
)
LAYERS = ("input", "hidden1", "output")


def run_recorded(sim, recorders, calls, seed):
    """Counts and rates ``{layer: (S, r)}``, each ``(steps, neurons)``, of the runs in ``calls``."""
    out = {layer: ([], []) for layer in LAYERS}
    for k, (images, labels, train) in enumerate(calls):
        # runtime monitors keep every run; a standalone binary's hold its last run (and none before the first)
        before = {layer: 0 if sim.standalone else traces(recorders[layer], "S")[1].shape[1] for layer in LAYERS}
        sim.present(images, labels, learn=train, seed=seed + k, record=True)
        for layer in LAYERS:
            for store, var in zip(out[layer], ("S", "r")):
                store.append(traces(recorders[layer], var)[1][:, before[layer] :].T)
    return {layer: (np.concatenate(S).astype(float), np.concatenate(r)) for layer, (S, r) in out.items()}


def moments(r, kind):
    """Variance of S, variance of (S - r)^2 and P(S >= 2) of one step's count at rate ``r``."""
    if kind == "poisson":
        return r, r + 2 * r**2, 1 - np.exp(-r) * (1 + r)  # 4th central moment r + 3 r^2
    var = r * (1 - r)
    return var, var * (1 - 3 * var) - var**2, np.zeros_like(r)  # Bernoulli: mu_4 = var (1 - 3 var)


def z(total, variance):
    return total / np.sqrt(variance)


def check_distribution(S, r, kind, steps_per_example, where):
    """Per-step mean and variance against the rate of the same step, multiple spikes, independence."""
    var, var4, p_multi = moments(r, kind)
    dev = S - r
    assert r.sum() > 2000, f"{where}: too few expected spikes for the test to mean anything"
    assert abs(z(dev.sum(), var.sum())) < Z_MAX, f"{where}: mean differs from the rate"
    assert abs(z((dev**2 - var).sum(), var4.sum())) < Z_MAX, f"{where}: variance differs"
    # the same at every position within an example (e.g. no burst or silence at a phase or example start)
    position = np.arange(len(S)) % steps_per_example
    per_position = [z(dev[position == k].sum(), var[position == k].sum()) for k in range(steps_per_example)]
    assert np.max(np.abs(per_position)) < Z_MAX + 1, f"{where}: step {int(np.argmax(np.abs(per_position)))}"
    multiple = (S >= 2).sum()
    if kind == "poisson":
        assert abs(z(multiple - p_multi.sum(), (p_multi * (1 - p_multi)).sum())) < Z_MAX, f"{where}: share of >= 2"
        assert multiple > 100
    else:
        assert multiple == 0 and S.max() == 1, f"{where}: Bernoulli counts are 0 or 1"
    # independence between steps: lag-1 covariance, and the mean right after a spike (no refractoriness)
    lagged = dev[1:] * dev[:-1]
    assert abs(z(lagged.sum(), (var[1:] * var[:-1]).sum())) < Z_MAX, f"{where}: consecutive counts correlated"
    after = S[:-1] > 0
    assert abs(z(dev[1:][after].sum(), var[1:][after].sum())) < Z_MAX, f"{where}: counts after a spike biased"


@pytest.mark.parametrize(
    "kind, device",
    [
        ("poisson", "numpy"),
        ("bernoulli", "numpy"),
        ("poisson", "cpp_standalone"),
        pytest.param("bernoulli", "cpp_standalone", marks=pytest.mark.long),
    ],
    indirect=["device"],
)
def test_every_generator_draws_counts_of_the_rate_of_its_step_reproducibly(kind, device):
    cfg = CFG.replace(spike_counts=kind)
    net = SegregatedDendriteNetwork(cfg, seed=0, capacity=3)
    recorders = {layer: record(net, layer, ["S", "r"]) for layer in LAYERS}
    sim = Simulator(net)
    initial = sim.get_state()
    rng = np.random.default_rng(0)
    train = (rng.uniform(0, 1, (3, cfg.n_inputs)), rng.integers(0, 10, 3), True)
    test = (rng.uniform(0, 1, (3, cfg.n_inputs)), rng.integers(0, 10, 3), False)
    counts = {}
    for name, call, steps in (
        ("training", train, cfg.forward_steps + cfg.target_steps),
        ("test", test, cfg.test_steps),
    ):
        counts[name] = run_recorded(sim, recorders, (call,), seed=11)
        for layer, (S, r) in counts[name].items():
            check_distribution(S, r, kind, steps, f"{kind} {layer} ({name})")
    # a seeded run is reproducible bit for bit from the same state; another seed draws other counts
    for seed in (11, 12):
        sim.set_state(initial)
        again = run_recorded(sim, recorders, (train,), seed=seed)
        for layer in LAYERS:
            (S, r), (S_again, r_again) = counts["training"][layer], again[layer]
            if seed == 11:
                np.testing.assert_array_equal(S_again, S, err_msg=f"{layer}: the same seed drew other counts")
                np.testing.assert_array_equal(r_again, r, err_msg=f"{layer}: the same seed gave other rates")
            else:
                assert not np.array_equal(S_again, S), f"{layer}: another seed drew the same counts"
