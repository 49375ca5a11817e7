"""The search spaces: Lange's (2018) ranges per model family, and his mapping of a point onto a model.

* ``mlp``: backprop MLP (batch size 10-500, SGD learning rate 1e-4-0.05 log-uniform, 1-6 hidden
  layers of 30-500 units, each layer separately);
* ``cnn``: backprop CNN (batch size, learning rate, 1-6 conv layers, channels 3-64, kernel 2-10,
  stride 1-3, padding 1-3; one value per option for every layer as in the report's table; Lange's
  block conv -> batch norm -> ReLU -> 2x2 max pool, then a linear read-out);
* ``segdend``: the segregated-dendrite compartment model, every flag and range of spec section 8
  with LANGE's mapping (integers and flags are rounded, N_mem = int(1/dt), constant phase lengths,
  windows of one step, g_A fixed by the apical-conductance flag);
* ``microcircuit``: Sacramento et al.'s (2018) MNIST network (``models/microcircuit-mnist.toml``, sweep
  dynamics) with the five knobs that decide whether and how fast it learns (README): the base
  bottom-up rate eta_0 (log-uniform 1e-3-0.1, rescaled per layer by the inverse mixing factors), the
  interneuron rate eta_ip (log-uniform 0.03-1), the coupling lambda of apical and nudging
  conductances (0.05-0.5: the weak-nudging approximation against the size of the error signal), the
  minibatch (1-50) and the gain on Glorot's initial range (1-4), plus 1-3 hidden layers of 30-500 units.

:func:`from_lange` reads a point of Lange's own logs (``logs/bo_logs_<type>_<dataset>.json`` of his
repository, parameter names such as ``h_l_1``, ``f_etas``, ``use_broadcast``) into model parameters.
"""

from __future__ import annotations

from typing import Any

from ...config import FLAGS

__all__ = [
    "FAMILIES",
    "BASELINE_KIND",
    "MAX_LAYERS",
    "BRIAN_FAMILIES",
    "search_space",
    "to_params",
    "space_table",
    "check_family",
    "LANGE_TYPES",
    "lange_family",
    "from_lange",
    "lange_point",
]

FAMILIES = ("mlp", "cnn", "segdend", "microcircuit")
#: baseline kind behind each PyTorch family (a Brian family's kind is its name)
BASELINE_KIND = {"mlp": "bp-mlp", "cnn": "bp-cnn"}
#: families simulated by Brian (they share the ``segdend_*`` search settings: subset, epochs, device)
BRIAN_FAMILIES = ("segdend", "microcircuit")
#: most hidden layers of the microcircuit family (784-500-500-10 in the paper)
MICROCIRCUIT_LAYERS = 3
MAX_LAYERS = 6


def check_family(family: str) -> str:
    """``family`` if it is one of :data:`FAMILIES` (else a ``ValueError`` naming it)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    return family


def search_space(family: str) -> list:
    """Lange's search space of ``family`` as a list of named ``skopt.space`` dimensions.

    Integers (and the eleven flags, as 0/1) are ``Integer``; floats ``Real`` (the baselines'
    learning rate log-uniform, everything else uniform as in Lange's code).
    """
    from skopt.space import Integer, Real

    check_family(family)
    units = [Integer(30, 500, name=f"units_{k}") for k in range(1, MAX_LAYERS + 1)]
    common = [
        Integer(10, 500, name="batch_size"),
        Real(1e-4, 0.05, prior="log-uniform", name="learning_rate"),
        Integer(1, MAX_LAYERS, name="n_layers"),
    ]
    if family == "mlp":
        return common + units
    if family == "cnn":
        return common + [
            Integer(3, 64, name="channels"),
            Integer(2, 10, name="kernel_size"),
            Integer(1, 3, name="stride"),
            Integer(1, 3, name="padding"),
        ]
    if family == "microcircuit":
        return [
            Real(1e-3, 0.1, prior="log-uniform", name="eta_0"),
            Real(0.03, 1.0, prior="log-uniform", name="eta_ip"),
            Real(0.05, 0.5, name="coupling"),
            Integer(1, 50, name="minibatch"),
            Real(1.0, 4.0, name="init_scale"),
            Integer(1, MICROCIRCUIT_LAYERS, name="n_layers"),
            *units[:MICROCIRCUIT_LAYERS],
        ]
    return (
        [Integer(0, 1, name=flag) for flag in FLAGS]
        + [
            Real(0.1, 1.0, name="dt"),
            Integer(2, 50, name="forward_steps"),
            Integer(2, 50, name="target_steps"),
            Integer(50, 100, name="test_steps"),
            Real(0.2, 0.5, name="lambda_max"),
            Real(1.0, 5.0, name="tau_s"),
            Real(7.0, 13.0, name="tau_L"),
            Real(0.3, 0.9, name="g_B"),
            Real(0.02, 0.1, name="g_A"),
            Real(5.0, 12.0, name="E_E"),
            Real(-12.0, -5.0, name="E_I"),
            Real(0.01, 0.5, name="forward_learning_rate"),
            Real(0.01, 0.5, name="backward_learning_rate"),
            Integer(1, MAX_LAYERS, name="n_layers"),
        ]
        + units
    )


def space_table(family: str) -> list[dict]:
    """The dimensions of :func:`search_space` as plain dicts (name, low, high, prior, type)."""
    return [
        {
            "name": d.name,
            "low": d.low,
            "high": d.high,
            "prior": getattr(d, "prior", "uniform"),
            "type": "integer" if type(d).__name__ == "Integer" else "real",
        }
        for d in search_space(family)
    ]


def to_params(family: str, point: dict | list) -> dict[str, Any]:
    """Model parameters of a search-space point, with LANGE's mapping.

    Parameters
    ----------
    family : {'mlp', 'cnn', 'segdend'}
    point : dict or sequence
        ``{dimension name: value}`` or values in :func:`search_space` order.

    Returns
    -------
    dict
        ``mlp``/``cnn``: parameters of the ``bp-mlp`` / ``bp-cnn`` baseline (plain SGD, no momentum,
        as Lange); ``segdend``: :class:`~brian_segdend.config.ModelConfig` fields. Not validated
        here: an impossible combination raises ``ValueError`` when the model is built.
    """
    names = [d.name for d in search_space(family)]
    if not isinstance(point, dict):
        if len(point) != len(names):
            raise ValueError(f"a {family} point needs {len(names)} values, got {len(point)}")
        point = dict(zip(names, point))
    missing = sorted(set(names) - set(point))
    if missing:
        raise ValueError(f"{family} point lacks {missing}")
    r = {k: int(round(float(v))) for k, v in point.items()}  # Lange: int(round(x))
    if family == "cnn":
        return _cnn([r["channels"]] * r["n_layers"], r["kernel_size"], r["stride"], r["padding"], r, point)
    hidden = [r[f"units_{k}"] for k in range(1, r["n_layers"] + 1)]
    if family == "mlp":
        return dict(_sgd(r, point), hidden=hidden, activation="relu")
    if family == "microcircuit":
        return _microcircuit(point, hidden, r["minibatch"])
    dt = float(point["dt"])
    params: dict[str, Any] = {flag: bool(r[flag]) for flag in FLAGS}
    params.update(
        dt=dt,
        spike_memory=max(1, int(1.0 / dt)),
        forward_steps=r["forward_steps"],
        target_steps=r["target_steps"],
        test_steps=r["test_steps"],
        window_steps=1,
        test_window_steps=1,
        random_phase_lengths=False,
        lambda_max=float(point["lambda_max"]),
        tau_s=float(point["tau_s"]),
        tau_L=float(point["tau_L"]),
        g_B=float(point["g_B"]),
        g_A=0.05,  # LANGE overwrites the sampled g_A (spec section 8)
        E_E=float(point["E_E"]),
        E_I=float(point["E_I"]),
        learning_rates=[float(point["forward_learning_rate"])],
        feedback_learning_rates=[float(point["backward_learning_rate"])],
        n_hidden=hidden,
    )
    return params


def _microcircuit(point: dict, hidden: list, minibatch: int) -> dict[str, Any]:
    """``models/microcircuit-mnist.toml`` with the point's rates, coupling, minibatch, init and layers."""
    from ...microcircuits.config import MicrocircuitConfig, coupling_conductance, inverse_mixing_rates
    from ...registry import load_model

    params = dict(load_model("microcircuit-mnist").params, n_hidden=hidden, minibatch=minibatch)
    g = coupling_conductance(float(point["coupling"]), params["g_lk"], params["g_B"])
    params.update(g_A=g, g_som=g, eta_ff=[1.0], eta_ip=[float(point["eta_ip"])], init_scale=float(point["init_scale"]))
    rates = inverse_mixing_rates(MicrocircuitConfig.from_dict(params), float(point["eta_0"]))
    return dict(params, eta_ff=list(rates["eta_ff"]))


def _sgd(r: dict, point: dict) -> dict[str, Any]:
    """Lange's optimiser: plain SGD without momentum or decay, inputs normalised."""
    return dict(
        batch_size=r["batch_size"],
        learning_rate=float(point["learning_rate"]),
        momentum=0.0,
        optimizer="sgd",
        lr_decay=1.0,
        normalize_input=True,
    )


def _cnn(channels, kernel_size, stride, padding, r, point) -> dict[str, Any]:
    return dict(
        channels=channels,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        pool=True,
        batch_norm=True,
        fc_hidden=[],
        dropout=0.0,
        activation="relu",
        **_sgd(r, point),
    )


# ---------------------------------------------------------------------------------------------- Lange's logs
#: model type in Lange's log names (``bo_logs_<type>_<dataset>.json``) -> family
LANGE_TYPES = {"comp_dnn": "segdend", "dnn": "mlp", "cnn": "cnn"}
#: Lange's parameter names -> dimension names of :func:`search_space` (the rest are the same)
_LANGE_NAMES = {
    "num_layers": "n_layers",
    "l_f_phase": "forward_steps",
    "l_t_phase": "target_steps",
    "l_f_phase_test": "test_steps",
    "f_etas": "forward_learning_rate",
    "b_etas": "backward_learning_rate",
    **{f"h_l_{k}": f"units_{k}" for k in range(1, MAX_LAYERS + 1)},
    **{f"use_{flag}": flag for flag in FLAGS},
}


def lange_family(params: dict) -> str:
    """The family of a point of Lange's logs, from its parameter names."""
    if "f_etas" in params:
        return "segdend"
    if "k_1" in params:
        return "cnn"
    if "h_l_1" in params and "batch_size" in params:
        return "mlp"
    raise ValueError(f"not a point of Lange's logs: parameters {sorted(params)[:8]}")


def from_lange(params: dict) -> tuple[str, dict[str, Any]]:
    """``(family, model parameters)`` of one point of Lange's logs (his ``params`` dict).

    The compartment model and the MLP map onto :func:`search_space` and :func:`to_params`; his CNN
    (1-5 conv layers with their own channels ``ch_k`` and kernels ``k_k``) maps straight onto the
    ``bp-cnn`` baseline, which takes per-layer values too.
    """
    family = lange_family(params)
    if family == "cnn":
        r = {k: int(round(float(v))) for k, v in params.items()}
        layers = range(1, r["num_layers"] + 1)
        channels, kernels = [r[f"ch_{k}"] for k in layers], [r[f"k_{k}"] for k in layers]
        return family, _cnn(channels, kernels, r["stride"], r["padding"], r, params)
    return family, to_params(family, lange_point(params))


def lange_point(params: dict) -> dict[str, float]:
    """A compartment-model or MLP point of Lange's logs as ``{dimension name: value}`` of :func:`search_space`."""
    family = lange_family(params)
    point = {_LANGE_NAMES.get(k, k): v for k, v in params.items()}
    unknown = sorted(set(point) - {d.name for d in search_space(family)})
    if unknown or family == "cnn":
        raise ValueError(
            f"parameters {unknown or sorted(params)} of a {family} point of Lange's logs are not in this space"
        )
    return point
