"""Present patterns with target potentials to a :class:`MicrocircuitNetwork` (regression, probes,
learning rates), on top of the model-agnostic :class:`~brian_segdend.simulator.Simulator`.

The generic :class:`~brian_segdend.simulator.Simulator` trains a microcircuit on labelled images like
any model kind (``segdend train``); this front end adds what the paper's experiments need besides:
arbitrary target potentials, the read-out of every probe, state-preserving probes, and learning
rates and noise changed between runs (the self-prediction pre-training). The test protocol is spec
§5.1: sigma = 0, plasticity and output nudging off.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..simulator import Simulator
from .network import MicrocircuitNetwork

__all__ = ["MicrocircuitSimulator"]


class MicrocircuitSimulator:
    """Runs patterns through a :class:`MicrocircuitNetwork` on the active device.

    Parameters
    ----------
    network : MicrocircuitNetwork
        Built under the device that is active now.
    build_directory : str, optional
        ``cpp_standalone`` project directory (a temporary one by default).

    Attributes
    ----------
    simulator : Simulator
        The generic simulator of the network (runs, weights and state on every device).

    Examples
    --------
    >>> from brian2 import prefs
    >>> prefs.codegen.target = "numpy"
    >>> net = MicrocircuitNetwork(MicrocircuitConfig(dynamics="sweep", sigma=0, transfer="logistic"), seed=0)
    >>> sim = MicrocircuitSimulator(net)
    >>> out = sim.present(np.random.rand(3, 30), np.zeros((3, 10)), learn=True)
    """

    def __init__(self, network: MicrocircuitNetwork, build_directory=None):
        if not isinstance(network, MicrocircuitNetwork):
            raise TypeError(f"network must be a MicrocircuitNetwork, got {type(network).__name__}")
        self.net = network
        self.config = network.config
        self.simulator = Simulator(network, build_directory)

    @property
    def sigma(self):
        """Noise amplitude while learning (``continuous``; the config's ``sigma``, changeable between runs)."""
        return self.net.sigma

    @sigma.setter
    def sigma(self, value):
        self.net.sigma = float(value)

    @property
    def simulation_seconds(self):
        """Seconds spent inside simulation runs (standalone: the binary)."""
        return self.simulator.simulation_seconds

    def build(self):
        """Compile now (``cpp_standalone``; nothing to do under runtime targets)."""
        self.simulator.build()

    # ------------------------------------------------------------------ presenting patterns
    def present(self, patterns, targets=None, learn=False, seed=None):
        """Present patterns in order, each for ``T_pres`` (learning) or ``T_test`` (not learning).

        Parameters
        ----------
        patterns : array (n, n_inputs)
            Input rates r_0 (finite; any sign).
        targets : array (n, n_outputs), optional
            Target potentials u_trgt; a row of NaN (or ``targets=None``) presents a pattern without
            target: no output nudging.
        learn : bool
            Plasticity and (``continuous``) noise on; off, weights and plasticity traces stay put and sigma = 0.
        seed : int, optional
            Seed of the noise of this call (chunk ``c`` is seeded ``seed + c``).

        Returns
        -------
        dict
            ``'u'``, ``'u_ff'``, ``'r'`` (n, n_outputs): output soma, its feedforward prediction
            (alpha v_B; the forward pass in ``sweep``) and rate, at the last step of each pattern;
            with ``probes``, also ``{'<layer>': {'u', 'v_A'}, '<layer>_interneurons': {'u'}}``.
        """
        cfg, net = self.config, self.net
        patterns = np.asarray(patterns, dtype=float)
        if patterns.ndim != 2 or patterns.shape[1] != cfg.n_inputs:
            raise ValueError(f"patterns have shape {patterns.shape}; expected (n, {cfg.n_inputs})")
        if not np.all(np.isfinite(patterns)):
            raise ValueError("patterns contain non-finite values")
        n = len(patterns)
        targets = np.full((n, cfg.n_outputs), np.nan) if targets is None else targets
        targets = net.example_settings(n, learn, targets=targets)["targets"]
        has = ~np.isnan(targets).any(axis=1)
        if cfg.nudge == "conductance" and np.any((targets[has] < cfg.E_inh) | (targets[has] > cfg.E_exc)):
            warnings.warn(
                f"targets outside [E_inh, E_exc] = [{cfg.E_inh}, {cfg.E_exc}] make a teaching conductance negative",
                RuntimeWarning,
                stacklevel=2,
            )
        recorded = {
            name: {var: [] for var in sorted(set(mon.record_variables) - {"i", "t"})}
            for name, mon in net.readouts.items()
        }
        for c, start in enumerate(range(0, n, net.capacity)):
            sl = slice(start, start + net.capacity)
            stimulus = net.stimulus(patterns[sl], None, learn, targets=targets[sl])
            self.simulator.run(stimulus, seed=None if seed is None else int(seed) + c)
            for name, mon in net.readouts.items():
                for var, values in recorded[name].items():
                    values.append(self.simulator.recorded(mon, var).reshape(-1, mon.source.N))
        result = {}
        for name, mon in net.readouts.items():
            values = {var: np.concatenate(v) if v else np.zeros((0, mon.source.N)) for var, v in recorded[name].items()}
            if any(len(v) != n for v in values.values()):
                raise RuntimeError(f"expected {n} read-outs of {name}, got {[len(v) for v in values.values()]}")
            if name == "output":
                result.update(values)
            else:
                result[name] = values
        result["r"] = self.net.phi.pyfunc(result["u"])
        return result

    def probe(self, patterns, targets=None):
        """:meth:`present` without learning or noise, then restore the dynamic state (potentials, filters,
        traces), so that probing between training chunks does not disturb the training dynamics [C]."""
        saved = {key: value for key, value in self.get_state().items() if key in self._dynamic_keys()}
        out = self.present(patterns, targets, learn=False)
        self.set_state({**self.get_state(), **saved})
        return out

    def train(self, patterns, targets, seed=None):
        """Learn from patterns with targets; returns the read-out of :meth:`present`."""
        return self.present(patterns, targets, learn=True, seed=seed)

    def test(self, patterns):
        """Output rates after each test pattern (no target, no plasticity, sigma = 0; see :meth:`probe`)."""
        return self.probe(patterns)["r"]

    def predict(self, patterns):
        """Class of the output neuron with the highest rate (spec §6.3; first on ties)."""
        return np.argmax(self.test(patterns), axis=1)

    def error(self, patterns, labels):
        """Classification test error in percent."""
        return 100.0 * float(np.mean(self.predict(patterns) != np.asarray(labels)))

    # ------------------------------------------------------------------ weights and learning rates
    def get_weights(self):
        """``{'ff', 'b', 'td', 'ip', 'b_I', 'pi'}``: lists of arrays in the spec's shapes."""
        return self.simulator.get_weights()

    def set_weights(self, weights):
        """Replace all weights and biases (validated: keys, shapes, finiteness)."""
        self.simulator.set_weights(weights)

    @property
    def learning_rates(self):
        """``{'ff': (...), 'td': (...), 'ip': (...), 'pi': (...)}``: current rates (0: fixed)."""
        rates = {key: list(getattr(self.config, f"eta_{key}")) for key in ("ff", "td", "ip", "pi")}
        for key, k, _ in self.net.matrices():
            group = self._eta_owner(key, k)
            if f"eta_{key}" in group.variables:
                rates[key][k - 1] = float(np.ravel(self.simulator.value(group, f"eta_{key}"))[0])
        return {key: tuple(v) for key, v in rates.items()}

    def set_learning_rates(self, **rates):
        """Change learning rates of matrices built plastic, e.g. ``set_learning_rates(ip=(0.0,))``.

        A matrix whose rate was 0 in the config was built fixed and cannot start learning.
        """
        for key, values in rates.items():
            if key not in ("ff", "td", "ip", "pi"):
                raise ValueError(f"unknown matrix {key!r}; choose from 'ff', 'td', 'ip', 'pi'")
            n = len(getattr(self.config, f"eta_{key}"))
            values = tuple(float(v) for v in np.broadcast_to(np.asarray(values, float), (n,)))
            for k, value in enumerate(values, start=1):
                if not np.isfinite(value) or value < 0:
                    raise ValueError(f"learning rate eta_{key}[{k - 1}]={value!r} must be finite and >= 0")
                group = self._eta_owner(key, k)
                if f"eta_{key}" not in group.variables:
                    if value != 0:
                        raise ValueError(f"eta_{key}[{k - 1}] was 0 in the config: that matrix was built fixed")
                    continue
                self.simulator.assign(group, f"eta_{key}", value)

    def _eta_owner(self, key, k):
        layer = self.net.layers[k]
        return layer.interneurons if key == "ip" else layer.pyramidal

    # ------------------------------------------------------------------ state
    def get_state(self):
        """``{'<object>.<variable>': array}``: weights, biases, learning rates and dynamic state."""
        return self.simulator.get_state()

    def set_state(self, state):
        """Restore :meth:`get_state`'s output exactly; names and shapes must match this network."""
        bad = sorted(key for key, values in state.items() if not np.all(np.isfinite(values)))
        if bad:
            raise ValueError(f"state {bad[0]!r} contains non-finite values")
        self.simulator.set_state(state)

    def _dynamic_keys(self):
        return {
            f"{obj.name}.{name}" for obj, names in self.net.state_variables(weights=False).items() for name in names
        }
