"""Weights of a microcircuit network: initial values, the self-predicting state, validation.

Weights travel as a dict of lists of numpy arrays in the spec's shapes (rows = postsynaptic):

* ``'ff'``: W^PP_{k,k-1}, k = 1..N, shape (n_k, n_{k-1}); ``'b'``: basal biases b_k, (n_k,)
* ``'td'``: W^PP_{k,k+1}, hidden k, (n_k, n_{k+1})
* ``'ip'``: W^IP_{k,k}, hidden k, (n_{k+1}, n_k); ``'b_I'``: interneuron biases, (n_{k+1},)
* ``'pi'``: W^PI_{k,k}, hidden k, (n_k, n_{k+1})
"""

from __future__ import annotations

import numpy as np

from ..validation import check_arrays
from .config import MicrocircuitConfig

__all__ = ["KEYS", "initial_weights", "self_predicting", "self_prediction_distances", "check_weights", "weight_shapes"]

KEYS = ("ff", "b", "td", "ip", "b_I", "pi")


def weight_shapes(config: MicrocircuitConfig) -> dict:
    """``{key: [shape, ...]}`` of every matrix and bias (see the module docstring)."""
    n = config.layer_sizes
    hidden = range(1, config.n_layers)
    return {
        "ff": [(n[k], n[k - 1]) for k in range(1, config.n_layers + 1)],
        "b": [(n[k],) for k in range(1, config.n_layers + 1)],
        "td": [(n[k], n[k + 1]) for k in hidden],
        "ip": [(n[k + 1], n[k]) for k in hidden],
        "b_I": [(n[k + 1],) for k in hidden],
        "pi": [(n[k], n[k + 1]) for k in hidden],
    }


def initial_weights(config: MicrocircuitConfig, rng) -> dict:
    """Random initial weights (spec §6): ``init`` decides the ranges, biases start at 0.

    ``uniform``: every matrix ~ U(-init_scale, init_scale) (regression, [P] uniform, range [C]);
    ``glorot``: every matrix ~ U(+-init_scale sqrt(6/(n_in + n_out))) [C]. With
    ``self_predicting_init`` the interneuron weights are then set by :func:`self_predicting`.
    """
    shapes = weight_shapes(config)
    weights = {key: [] for key in KEYS}
    for key in ("ff", "td", "ip", "pi"):
        for shape in shapes[key]:
            limit = config.init_scale * (1.0 if config.init == "uniform" else np.sqrt(6.0 / sum(shape)))
            weights[key].append(rng.uniform(-limit, limit, shape))
    for key in ("b", "b_I"):
        weights[key] = [np.zeros(shape) for shape in shapes[key]]
    return self_predicting(config, weights) if config.self_predicting_init else weights


def self_predicting(config: MicrocircuitConfig, weights) -> dict:
    """A copy of ``weights`` with the interneuron weights in the closed-form self-predicting state.

    Spec §4: W^PI_{k,k} = -W^PP_{k,k+1}, W^IP_{k,k} = (alpha_{k+1}/delta_I) W^PP_{k+1,k},
    b^I_k = (alpha_{k+1}/delta_I) b_{k+1}: without a target, interneurons then match the layer
    above, apical potentials vanish and every plasticity bracket is 0.
    """
    out = {key: [np.array(w, dtype=float) for w in weights[key]] for key in KEYS}
    for k in range(1, config.n_layers):
        factor = config.self_prediction_factor(k)
        out["pi"][k - 1] = -out["td"][k - 1]
        out["ip"][k - 1] = factor * out["ff"][k]
        out["b_I"][k - 1] = factor * out["b"][k]
    return out


def self_prediction_distances(config: MicrocircuitConfig, weights) -> dict:
    """How far the interneuron weights are from :func:`self_predicting`, per hidden layer k:
    ``{'pi_distance_hidden<k>': ||W^PI + W^PP_{k,k+1}||_F, 'ip_distance_hidden<k>': ||W^IP - (alpha_{k+1}/delta_I) W^PP_{k+1,k}||_F}``.
    """
    out = {}
    for k in range(1, config.n_layers):
        factor = config.self_prediction_factor(k)
        out[f"pi_distance_hidden{k}"] = float(np.linalg.norm(weights["pi"][k - 1] + weights["td"][k - 1]))
        out[f"ip_distance_hidden{k}"] = float(np.linalg.norm(weights["ip"][k - 1] - factor * weights["ff"][k]))
    return out


def check_weights(config: MicrocircuitConfig, weights) -> None:
    """Raise ``ValueError`` naming the first problem: missing keys, wrong shapes, non-finite values,
    or non-zero biases in a network without biases."""
    if not isinstance(weights, dict):
        raise ValueError(f"weights must be a dict with keys {KEYS}, got {type(weights).__name__}")
    missing, unknown = set(KEYS) - set(weights), set(weights) - set(KEYS)
    if missing or unknown:
        raise ValueError(f"weights need exactly the keys {KEYS}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    for key, shapes in weight_shapes(config).items():
        for k, value in enumerate(check_arrays(f"weights[{key!r}]", weights[key], shapes)):
            if key in ("b", "b_I") and not config.biases and np.any(value != 0):
                raise ValueError(f"weights[{key!r}][{k}] is non-zero, but this network has no biases (biases=False)")
