"""The Brian2 network against the independent NumPy oracle, step by step (spec §2-§5).

Identical inputs: the same initial weights and the same spike counts for every layer (replayed in
the Brian network, given to the oracle), or the deterministic non-spiking mode. Compared at every
step: basal, apical and somatic potentials; after every example: all weights and biases.
"""

import numpy as np
import pytest
from brian2 import StateMonitor
from conftest import SMALL_OPTIONS
from oracle import PARAM_KEYS, OracleNetwork

from brian_segdend import ModelConfig, SegregatedDendriteNetwork, Simulator, initial_weights, schedule

RTOL = 1e-9
SMALL = {**SMALL_OPTIONS, "learning_rates": (0.5,)}


def oracle_params(cfg):
    d = cfg.to_dict()
    d["n_outputs"] = cfg.n_outputs
    return {k: d[k] for k in PARAM_KEYS}


def run_both(cfg, n_examples=3, seed=0, train=True):
    """Run ``n_examples`` through the oracle and the Brian network with the same spikes."""
    rng = np.random.default_rng(seed)
    weights = initial_weights(cfg, rng)
    X = rng.uniform(0, 1, (n_examples, cfg.n_inputs))
    labels = rng.integers(0, 10, n_examples)
    T_f = cfg.forward_steps + rng.integers(0, 3, n_examples)
    T_t = cfg.target_steps + rng.integers(0, 3, n_examples)
    if not train:
        T_f, T_t = np.full(n_examples, cfg.test_steps), np.zeros(n_examples, int)
    steps = int(np.sum(T_f + T_t))
    sizes = cfg.layer_sizes
    counts = {l: rng.poisson(0.3 if l == 0 else 0.15, (steps, n)) for l, n in enumerate(sizes)}

    oracle = OracleNetwork(
        oracle_params(cfg), weights["W"], weights["b"], weights["Y"], weights["c"], weights.get("sparse_masks")
    )
    traces, oracle_weights, start = [], [], 0
    for k in range(n_examples):
        n_steps = T_f[k] + T_t[k]
        spikes = {l: c[start : start + n_steps] for l, c in counts.items()}
        if train:
            traces.append(oracle.train_example(X[k], labels[k], T_f[k], T_t[k], spikes=spikes))
        else:
            traces.append(oracle.test_example(X[k], T_f[k], spikes=spikes))
        oracle_weights.append(
            {"W": [w.copy() for w in oracle.W], "b": [x.copy() for x in oracle.b], "Y": [y.copy() for y in oracle.Y]}
        )
        start += n_steps

    net = SegregatedDendriteNetwork(cfg, weights=weights, capacity=n_examples, replay=True, replay_steps=steps)
    monitors = {}
    for layer in net.layers[1:]:
        names = ["d", "u"] + (["a"] if layer in net.hidden else [])
        monitors[layer.name] = StateMonitor(layer.neurons, names, record=True, **schedule.at("monitors"))
        net.brian_network.add(monitors[layer.name])
    sim = Simulator(net)
    out = sim.present(X, labels, learn=train, forward_lengths=T_f, target_lengths=T_t, replay=counts)
    return traces, oracle_weights, monitors, sim, out, (T_f, T_t)


def assert_traces_equal(cfg, traces, monitors, net_layers):
    expected = {
        name: {v: np.concatenate([tr[v][i] for tr in traces]) for v in ("d", "u")} for i, name in enumerate(net_layers)
    }
    for i, name in enumerate(net_layers[:-1]):
        expected[name]["a"] = np.concatenate([tr["a"][i] for tr in traces])
    for name, variables in expected.items():
        for var, values in variables.items():
            got = getattr(monitors[name], var)[:].T
            assert got.shape == values.shape, (name, var)
            np.testing.assert_allclose(got, values, rtol=RTOL, atol=1e-12, err_msg=f"{name}.{var}")


CASES = {
    "REF-S": {},
    "REF-NS": dict(
        conductances=False,
        spiking_feedback=False,
        spiking_feedforward=False,
        spike_memory=1,
        forward_steps=2,
        target_steps=2,
        window_steps=1,
    ),
    "two-hidden-nonbroadcast": dict(n_hidden=(7, 5), broadcast=False),
    "two-hidden-broadcast-no-conductances": dict(n_hidden=(7, 5), conductances=False),
    "feedback-learning-bias-apical": dict(
        update_feedback_weights=True, feedback_learning_rates=(0.3,), feedback_bias=True, apical_conductance=True
    ),
    "untruncated": dict(kernel="untruncated"),
    "dt-half-lambda-taus-gains": dict(
        dt=0.5, lambda_max=0.35, tau_s=2.0, tau_L=8.0, g_B=0.4, E_E=6.0, E_I=-5.0, units_per_class=2
    ),
    "sparse-feedback": dict(sparse_feedback=True),
    "symmetric-nonspiking-feedback": dict(symmetric_weights=True, spiking_feedback=False),
    "symmetric-spiking-two-hidden": dict(symmetric_weights=True, n_hidden=(7, 5), broadcast=False),
    "mixed-rates": dict(
        spiking_feedforward=False,
        n_hidden=(7, 5),
        broadcast=False,
        update_feedback_weights=True,
        feedback_learning_rates=(0.2, 0.1),
    ),
    # a spiking feedforward source whose learned feedback is a rate, averaged one step late
    "untruncated-spiking-feedforward-rate-feedback-learning": dict(
        kernel="untruncated",
        spiking_feedback=False,
        n_hidden=(7, 5),
        broadcast=False,
        update_feedback_weights=True,
        feedback_learning_rates=(0.3, 0.2),
    ),
}
STANDALONE_CASES = [
    "REF-S",
    "REF-NS",
    "feedback-learning-bias-apical",
    "symmetric-spiking-two-hidden",
    "symmetric-nonspiking-feedback",
    "mixed-rates",
]


def check_against_oracle(case):
    """Potentials at every step and weights after three examples equal the oracle's (1e-9 relative)."""
    cfg = ModelConfig(**{**SMALL, **CASES[case]})
    traces, oracle_weights, monitors, sim, out, _ = run_both(cfg)
    assert_traces_equal(cfg, traces, monitors, [l.name for l in sim.model.layers[1:]])
    got = sim.get_weights()
    for key in ("W", "b", "Y"):
        for k, (g, w) in enumerate(zip(got[key], oracle_weights[-1][key])):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=1e-12, err_msg=f"{key}[{k}]")
    return cfg, oracle_weights[-1], out, traces


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_matches_oracle(case, device):
    cfg, want, out, traces = check_against_oracle(case)
    # the learning actually changed the weights (so the comparison is not vacuous)
    assert not np.allclose(want["W"][-1], initial_weights(cfg, np.random.default_rng(0))["W"][-1])
    # training read-out = mean output soma over the forward window
    np.testing.assert_allclose(out, np.array([tr["u_f_mean"][-1] for tr in traces]), rtol=RTOL)


@pytest.mark.standalone_only
@pytest.mark.parametrize("case", STANDALONE_CASES)
def test_training_matches_oracle_in_standalone(case, device):
    """The same comparison with the network compiled once by ``cpp_standalone``, whose all-to-all
    pathways and summed rates (into the postsynaptic and, for symmetric rate feedback, into the
    presynaptic group) use the dense-row code of :mod:`brian_segdend.codegen`; symmetric spiking
    feedback also runs Brian's generic postsynaptic pathway on the same objects."""
    check_against_oracle(case)


@pytest.mark.long
@pytest.mark.parametrize("device", ["cython"], indirect=True)
@pytest.mark.parametrize("case", ["REF-S", "REF-NS"])
def test_training_matches_oracle_in_cython(case, device):
    """The same comparison under runtime cython (long: every code object is compiled; ``-m long``)."""
    check_against_oracle(case)
