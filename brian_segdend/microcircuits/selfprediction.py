"""The self-predicting state (spec §4): its check, and the learned pre-training phase.

In the self-predicting state the interneurons of each hidden layer reproduce the layer above and
cancel its top-down input: without a target every apical potential is 0 and the output is a
feedforward function of the input. :func:`self_prediction_errors` measures how far a network is from
it; :func:`pretrain_self_prediction` establishes it by microcircuit plasticity from any start
(Fig. S1: bottom-up and top-down weights fixed, W^IP and W^PI learn, no target).
"""

from __future__ import annotations

import numpy as np

__all__ = ["self_prediction_errors", "pretrain_self_prediction", "pretrain_and_check"]


def self_prediction_errors(sim, patterns):
    """Distance from the self-predicting state, per hidden layer (spec §4, the curves of Fig. 1C / 2C(ii)).

    Parameters
    ----------
    sim : MicrocircuitSimulator
        Its network must be built with ``probes=True``.
    patterns : array (n, n_inputs)
        Presented without target, plasticity or noise (:meth:`~MicrocircuitSimulator.probe`).

    Returns
    -------
    dict
        ``{'<layer>': {...}}`` with ``apical``: mean over patterns of ||v_A||^2 at the end of each
        pattern, ``interneuron``: mean ||u^P_{k+1} - u^I_k||^2, ``pi``: ||W^PI + W^PP_{k,k+1}||_F,
        ``ip``: ||W^IP - (alpha_{k+1}/delta_I) W^PP_{k+1,k}||_F.
    """
    net = sim.net
    if not net.probes:
        raise ValueError("self_prediction_errors needs a network built with probes=True")
    out = sim.probe(patterns)
    weights = sim.get_weights()
    report = {}
    for k, layer in enumerate(net.hidden, start=1):
        above = out["u"] if k + 1 == net.N else out[net.layers[k + 1].name]["u"]
        factor = net.config.self_prediction_factor(k)
        report[layer.name] = {
            "apical": float(np.mean(np.sum(out[layer.name]["v_A"] ** 2, axis=1))),
            "interneuron": float(np.mean(np.sum((above - out[f"{layer.name}_interneurons"]["u"]) ** 2, axis=1))),
            "pi": float(np.linalg.norm(weights["pi"][k - 1] + weights["td"][k - 1])),
            "ip": float(np.linalg.norm(weights["ip"][k - 1] - factor * weights["ff"][k])),
        }
    return report


def pretrain_self_prediction(sim, n_patterns, rng, low=-1.0, high=1.0, sigma=0.1, chunk=None, seed=None):
    """Learn the self-predicting state (Fig. S1; spec §4 protocol [R/C]).

    Patterns r_0 ~ U(``low``, ``high``) are presented without target, each for ``T_pres``, with the
    bottom-up and top-down learning rates set to 0 (restored afterwards) and W^IP, W^PI learning at
    the network's rates (the spec's Fig. S1 rates are eta_ip = 0.0002375, eta_pi = 0.0005 per ms [R];
    ``sim.set_learning_rates`` changes them), noise ``sigma`` (0.1 [R]; a network built with
    ``sigma=0`` has none).

    Parameters
    ----------
    sim : MicrocircuitSimulator
    n_patterns : int
    rng : numpy.random.Generator
        Draws the patterns.
    low, high : float
    sigma : float
    chunk : int, optional
        Patterns per call of :meth:`~MicrocircuitSimulator.present` (default: the network's capacity).
    seed : int, optional
        Seed of the noise.
    """
    cfg = sim.config
    if not any(cfg.eta_ip) and not any(cfg.eta_pi):
        raise ValueError("pretrain_self_prediction needs learning interneuron weights (eta_ip or eta_pi > 0)")
    rates, noise = sim.learning_rates, sim.sigma
    chunk = chunk or sim.net.capacity
    sim.set_learning_rates(ff=0.0, td=0.0)
    sim.sigma = sigma
    try:
        for c, start in enumerate(range(0, int(n_patterns), chunk)):
            patterns = rng.uniform(low, high, (min(chunk, n_patterns - start), cfg.n_inputs))
            sim.present(patterns, None, learn=True, seed=None if seed is None else seed + 1000 * c)
    finally:
        sim.set_learning_rates(ff=rates["ff"], td=rates["td"])
        sim.sigma = noise


def pretrain_and_check(config, n_patterns, seed=0, checks=4, n_probe=50, build_directory=None):
    """The pre-training phase with its check, on the active device (``segdend selfpredict``).

    Builds a network of ``config`` (weights from ``seed``), measures :func:`self_prediction_errors`
    on ``n_probe`` fixed patterns, then ``checks`` times pre-trains ``n_patterns / checks`` patterns
    (:func:`pretrain_self_prediction`) and measures again.

    Returns
    -------
    (MicrocircuitSimulator, dict)
        The simulator and ``{'history': [{'patterns': int, '<layer>': {...}}, ...], 'reached': bool}``;
        ``reached``: every measure of every hidden layer (apical potential, interneuron mismatch, both
        weight distances) ends below its start.
    """
    from .network import MicrocircuitNetwork
    from .simulator import MicrocircuitSimulator

    per_check = -(-int(n_patterns) // int(checks))
    sim = MicrocircuitSimulator(
        MicrocircuitNetwork(config, seed=seed, capacity=min(per_check, 1000), probes=True), build_directory
    )
    rng = np.random.default_rng([seed, 1])
    probe = rng.uniform(-1.0, 1.0, (n_probe, config.n_inputs))
    history = [{"patterns": 0, **self_prediction_errors(sim, probe)}]
    for c in range(int(checks)):
        pretrain_self_prediction(sim, per_check, rng, seed=seed + 1 + c)
        history.append({"patterns": (c + 1) * per_check, **self_prediction_errors(sim, probe)})
    first, last = history[0], history[-1]
    reached = all(
        last[layer][key] < first[layer][key] for layer in first if layer != "patterns" for key in first[layer]
    )
    return sim, {"history": history, "reached": bool(reached)}
