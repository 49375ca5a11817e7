"""The Brian2 microcircuit against the independent NumPy oracle (spec §5.1, §5.2), to 1e-9 relative.

Same initial weights, patterns and targets; compared: somatic and dendritic potentials at every step
(runtime numpy), and after every chunk the whole carried state (potentials, input filter, plasticity
traces, weights, biases) and the read-outs, in runtime numpy and ``cpp_standalone``. Every matrix and
bias learns, with rates large enough that the weights move visibly, so the comparison is not vacuous.
"""

import numpy as np
import pytest
from brian2 import StateMonitor
from microcircuit_oracle import Oracle, params_of

from brian_segdend.microcircuits import MicrocircuitConfig, MicrocircuitNetwork, MicrocircuitSimulator, initial_weights

RTOL, ATOL = 1e-9, 1e-12
SIZES = dict(n_inputs=5, n_hidden=(4, 3), n_outputs=2)
CASES = {
    "continuous": dict(
        T_pres=2.0,
        T_test=2.0,
        sigma=0.0,
        tau_w=3.0,
        biases=True,
        gamma=1.0,
        theta=0.5,
        eta_ff=(0.5, 0.3, 0.2),
        eta_td=(0.1, 0.2),
        eta_ip=(0.4, 0.3),
        eta_pi=(0.2, 0.1),
    ),
    "continuous-conductance-logistic": dict(
        T_pres=1.5,
        T_test=1.5,
        sigma=0.0,
        tau_w=2.0,
        transfer="logistic",
        nudge="conductance",
        g_A=0.3,
        eta_ff=(0.5,),
        eta_td=(0.0,),
        eta_ip=(0.4,),
        eta_pi=(0.0, 0.3),
    ),
    "sweep": dict(
        dynamics="sweep",
        transfer="logistic",
        sigma=0.0,
        biases=True,
        minibatch=3,
        g_A=0.2,
        g_som=0.3,
        eta_ff=(0.5, 0.4, 0.3),
        eta_td=(0.2, 0.1),
        eta_ip=(0.6, 0.5),
        eta_pi=(0.3, 0.2),
    ),
    "sweep-literal-softplus": dict(
        dynamics="sweep",
        sweep_literal=True,
        sigma=0.0,
        minibatch=2,
        gamma=0.5,
        beta=2.0,
        theta=0.0,
        eta_ff=(0.5, 0.4, 0.3),
        eta_td=(0.0,),
        eta_ip=(0.6, 0.5),
        eta_pi=(0.0,),
    ),
}


def stimulus(cfg, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, cfg.n_inputs))
    U = rng.uniform(0, 4, (n, cfg.n_outputs))  # inside [E_inh, E_exc] of the conductance form
    U[1::3] = np.nan  # every third pattern has no target
    return X, U


def make(case, capacity, monitors=False):
    cfg = MicrocircuitConfig(**SIZES, **CASES[case])
    weights = initial_weights(cfg, np.random.default_rng(3))
    weights["b"] = [np.random.default_rng(4).normal(0, 0.3, b.shape) * cfg.biases for b in weights["b"]]
    weights["b_I"] = [np.random.default_rng(5).normal(0, 0.3, b.shape) * cfg.biases for b in weights["b_I"]]
    net = MicrocircuitNetwork(cfg, weights=weights, capacity=capacity)
    mons = {}
    if monitors:
        for layer in net.layers[1:]:
            names = ["u", "v_B"] + (["v_A"] if layer.interneurons is not None else [])
            mons[layer.name] = StateMonitor(layer.pyramidal, names, record=True, when="end", order=50)
            if layer.interneurons is not None:
                mons[layer.name + "_I"] = StateMonitor(layer.interneurons, "u", record=True, when="end", order=50)
        net.brian_network.add(*mons.values())
    return cfg, weights, net, MicrocircuitSimulator(net), mons


def oracle_state(cfg, oracle):
    """The oracle's state under the names of :meth:`MicrocircuitSimulator.get_state`."""
    N = cfg.n_layers
    names = {k: ("output" if k == N else f"hidden{k}") for k in range(1, N + 1)}
    state = {}
    for key in ("ff", "td", "ip", "pi"):
        for k, w in enumerate(oracle.W[key], start=1):
            state[f"{names[k]}_{key}.w"] = w.T.ravel()
            if cfg.dynamics == "continuous" and cfg.plastic(key, k):
                state[f"{names[k]}_{key}.Delta"] = oracle.Delta[key][k - 1].T.ravel()
    for k in range(1, N + 1):
        state[f"{names[k]}_pyramidal.b"] = oracle.b[k - 1]
        if cfg.dynamics == "continuous":
            state[f"{names[k]}_pyramidal.u"] = oracle.uP[k]
            if cfg.biases and cfg.plastic("ff", k):
                state[f"{names[k]}_pyramidal.Delta_b"] = oracle.Delta_b[k - 1]
    for k in range(1, N):
        state[f"{names[k]}_interneurons.b"] = oracle.b_I[k - 1]
        if cfg.dynamics == "continuous":
            state[f"{names[k]}_interneurons.u"] = oracle.uI[k]
            if cfg.biases and cfg.plastic("ip", k):
                state[f"{names[k]}_interneurons.Delta_b"] = oracle.Delta_bI[k - 1]
    if cfg.dynamics == "continuous":
        state["input_neurons.r"] = oracle.r0
    return state


def run_oracle_chunk(cfg, oracle, X, U, traces):
    """Present a chunk to the oracle; returns the read-outs (u, u_ff of the output per pattern)."""
    N = cfg.n_layers
    out_u, out_uff = [], []
    for x, u in zip(X, U):
        target = None if np.isnan(u).any() else u
        if cfg.dynamics == "sweep":
            res = oracle.sweep_learn(x, target)
            traces.append(res)
            out_u.append(res["u"][N])
            out_uff.append(res["uff"][N])
            continue
        for _ in range(cfg.steps_per_example):
            res = oracle.step(x, target)
            traces.append(res)
        out_u.append(res["uP"][N])
        out_uff.append(oracle.alpha(N) * res["vB"][N])
    return np.array(out_u), np.array(out_uff)


def compare_chunks(case, chunks=3, per_chunk=3, monitors=False):
    """Three chunks of three patterns (sweep minibatches of 4 and 2 straddle the chunk boundaries)."""
    cfg, weights, net, sim, mons = make(case, per_chunk, monitors)
    oracle = Oracle(params_of(cfg), weights)
    X, U = stimulus(cfg, chunks * per_chunk)
    traces = []
    for c in range(chunks):
        sl = slice(c * per_chunk, (c + 1) * per_chunk)
        out = sim.present(X[sl], U[sl], learn=True)
        want_u, want_uff = run_oracle_chunk(cfg, oracle, X[sl], U[sl], traces)
        np.testing.assert_allclose(out["u"], want_u, rtol=RTOL, atol=ATOL, err_msg=f"read-out u, chunk {c}")
        np.testing.assert_allclose(out["u_ff"], want_uff, rtol=RTOL, atol=ATOL, err_msg=f"read-out u_ff, chunk {c}")
        state = sim.get_state()
        for key, want in oracle_state(cfg, oracle).items():
            np.testing.assert_allclose(state[key], want, rtol=RTOL, atol=ATOL, err_msg=f"{key}, chunk {c}")
    for key in ("ff", "td", "ip", "pi"):  # every learning matrix moved, so the comparison means something
        for k, (w, w0) in enumerate(zip(oracle.W[key], weights[key]), start=1):
            assert not cfg.plastic(key, k) or np.abs(w - w0).max() > 1e-3, (key, k)
    return cfg, sim, mons, traces


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_oracle_numpy(case, device):
    """Every step's potentials and, after each of two chunks, the whole state and the read-outs."""
    cfg, sim, mons, traces = compare_chunks(case, monitors=True)
    N = cfg.n_layers
    for k in range(1, N + 1):
        name = "output" if k == N else f"hidden{k}"
        if cfg.dynamics == "continuous":
            want = {"u": [t["uP"][k] for t in traces], "v_B": [t["vB"][k] for t in traces]}
        else:
            want = {"u": [t["u"][k] for t in traces], "v_B": [t["vB"][k] for t in traces]}
        if k < N:
            want["v_A"] = [t["vA"][k] for t in traces]
            want_I = [t["uI"][k] for t in traces]
            np.testing.assert_allclose(mons[name + "_I"].u[:].T, want_I, rtol=RTOL, atol=ATOL, err_msg=f"{name} u_I")
        for var, values in want.items():
            got = getattr(mons[name], var)[:].T
            np.testing.assert_allclose(got, np.array(values), rtol=RTOL, atol=ATOL, err_msg=f"{name}.{var}")


@pytest.mark.standalone_only
@pytest.mark.parametrize("case", ["continuous", "sweep"])
def test_matches_oracle_cpp_standalone(case, device):
    """The same chunked comparison compiled once by ``cpp_standalone`` (dense-row summed variables
    and pathways of :mod:`brian_segdend.codegen`); the state travels through ``run_args``."""
    compare_chunks(case)
