"""Dendritic microcircuits learn: the teacher-student regression (spec §6.2) and self-prediction from a
random start (spec §4, check 6).

The regression network of the paper (30-50-10, soft rectifier, random U(-1, 1) weights, top-down fixed,
interneuron weights plastic) with the learning rates of spec §3 moves its weights by ~1e-5 per pattern
(rates of ~0.01 and slopes of ~0.01 of the soft rectifier near rest): learning takes 10^5 patterns or more,
i.e. hours of simulated time (README, "Dendritic microcircuits"). The default test therefore runs the
``sweep`` dynamics (the same rules at the steady state, one step per pattern) with a larger rate; the
``slow`` test runs the continuous dynamics, with the rates scaled to the same change per pattern.
"""

import numpy as np
import pytest

from brian_segdend.microcircuits import MicrocircuitNetwork, MicrocircuitSimulator, Teacher, load_config
from brian_segdend.microcircuits.selfprediction import pretrain_self_prediction, self_prediction_errors


def squared_error(sim, teacher, X, U):
    """Mean over patterns of ||r_N - r_trgt||^2 (spec §6.2's metric, sigma = 0, no nudging)."""
    return float(np.mean(np.sum((sim.test(X) - teacher.phi(U)) ** 2, axis=1)))


def full_and_shallow(cfg, n_train, seed=2, chunk=None):
    """Test errors (before, full model, shallow learner) after ``n_train`` patterns from the same start.

    The shallow learner is the same network with only W^PP_{2,1} learning [P §3.3]."""
    teacher = Teacher(cfg, np.random.default_rng(100 + seed))
    X_test, U_test = teacher.examples(100, np.random.default_rng(200 + seed))
    X, U = teacher.examples(n_train, np.random.default_rng(300 + seed))
    net = MicrocircuitNetwork(cfg, seed=seed, capacity=chunk or n_train)
    sim = MicrocircuitSimulator(net)
    start = sim.get_state()
    before = squared_error(sim, teacher, X_test, U_test)
    errors = {}
    for mode in ("full", "shallow"):
        sim.set_state(start)
        if mode == "shallow":
            sim.set_learning_rates(ff=(0.0, cfg.eta_ff[1]), ip=0.0, pi=0.0)
        for c, i in enumerate(range(0, n_train, chunk or n_train)):
            sim.train(X[i : i + (chunk or n_train)], U[i : i + (chunk or n_train)], seed=c)
        errors[mode] = squared_error(sim, teacher, X_test, U_test)
    return before, errors


def test_regression_full_model_beats_the_shallow_learner(device):
    """Sweep dynamics, learning rate 10 per pattern on every plastic matrix, 8000 patterns: the full
    microcircuit (hidden weights learning from apical errors through fixed random top-down weights,
    interneurons learning to cancel them) ends clearly below the shallow learner (measured: 0.115 vs
    0.144, from 0.191; 5 teacher seeds with the oracle: ratio 0.80-0.91 at 8000 patterns)."""
    cfg = load_config("microcircuit-regression").replace(
        dynamics="sweep", sigma=0.0, minibatch=1, eta_ff=(10.0,), eta_ip=(10.0,), eta_pi=(10.0,)
    )
    before, errors = full_and_shallow(cfg, 8000)
    full, shallow = errors["full"], errors["shallow"]
    assert shallow < 0.85 * before and full < 0.9 * shallow, (before, full, shallow)


@pytest.mark.standalone_only
def test_self_prediction_is_learned_from_a_random_start(device, tmp_path):
    """Check 6 (Fig. S1 protocol, spec §4): regression network from random weights, bottom-up and top-down
    fixed, W^IP and W^PI learning, no target, sigma = 0.1, patterns U(-1, 1) held 100 ms: after 400
    patterns the apical potential (measured: by 10 %), the interneuron mismatch and both weight distances
    have fallen, each at every check."""
    cfg = load_config("microcircuit-regression")
    sim = MicrocircuitSimulator(MicrocircuitNetwork(cfg, seed=0, capacity=200, probes=True), str(tmp_path / "build"))
    probe = np.random.default_rng(1).uniform(-1, 1, (20, cfg.n_inputs))
    history = [self_prediction_errors(sim, probe)["hidden1"]]
    rng = np.random.default_rng(2)
    for seed in (3, 4):
        pretrain_self_prediction(sim, 200, rng, seed=seed)
        history.append(self_prediction_errors(sim, probe)["hidden1"])
    for key in ("apical", "interneuron", "pi", "ip"):
        values = [h[key] for h in history]
        assert values[0] > values[1] > values[2], (key, values)
    assert history[-1]["apical"] < 0.95 * history[0]["apical"]
    assert sim.learning_rates["ff"] == cfg.eta_ff  # restored after the pre-training phase


@pytest.mark.long
@pytest.mark.standalone_only
def test_regression_continuous_full_model_beats_the_shallow_learner(device, tmp_path):
    """The continuous network (100 ms per pattern, noise 0.3) with the default test's change per pattern
    (eta = 10 per pattern / 100 ms = 0.1/ms, 100 times the spec's rates): full below shallow after 8000
    patterns. (At these rates the interneurons do not keep up with the forward weights: the apical
    potential without target grew from 0.008 to 0.018 here, where the paper's slow learning shrinks it.)"""
    cfg = load_config("microcircuit-regression").replace(eta_ff=(0.1,), eta_ip=(0.1,), eta_pi=(0.1,))
    before, errors = full_and_shallow(cfg, 8000, chunk=1000)
    full, shallow = errors["full"], errors["shallow"]
    print(f"squared error: before {before:.5f}, full {full:.5f}, shallow {shallow:.5f}")
    assert shallow < before and full < 0.95 * shallow, (before, full, shallow)
