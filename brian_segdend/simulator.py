"""Present examples to a network in chunks, on whatever Brian device is active.

This is the one place that looks at ``get_device()``: under runtime targets (numpy, cython) the
network stays in memory and each chunk is one ``Network.run``; under ``cpp_standalone`` the network
is built once and each chunk reruns the compiled binary with ``device.run(run_args=...)``, carrying
the weights and the whole dynamic state from one chunk to the next. A run ends itself after its last
example (``stop_run``), so chunks of examples with random phase lengths need no rebuild.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from brian2 import get_device, ms
from brian2 import seed as brian_seed
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

from .config import ModelConfig
from .network import SegregatedDendriteNetwork
from .weights import check_weights, symmetric_feedback

__all__ = ["Simulator", "draw_phase_lengths"]

MAX_EXTRA_STEPS = 400  # bound on the random part of one example's two phases (checked)


def draw_phase_lengths(config: ModelConfig, n, rng):
    """Forward and target lengths of ``n`` training examples (spec §4): min + floor(Wald(2, 1))."""
    T_f = np.full(n, config.forward_steps, dtype=np.int64)
    T_t = np.full(n, config.target_steps, dtype=np.int64)
    if config.random_phase_lengths:
        T_f += np.floor(rng.wald(2.0, 1.0, n)).astype(np.int64)
        T_t += np.floor(rng.wald(2.0, 1.0, n)).astype(np.int64)
    return T_f, T_t


class Simulator:
    """Runs examples through a :class:`SegregatedDendriteNetwork` on the active device.

    Parameters
    ----------
    network : SegregatedDendriteNetwork
        Built under the device that is active now (``set_device`` is the caller's business).
    build_directory : str, optional
        ``cpp_standalone`` project directory (a temporary one by default).
    """

    def __init__(self, network: SegregatedDendriteNetwork, build_directory=None):
        self.net = network
        cfg = network.config
        per_example = max(cfg.forward_steps + cfg.target_steps + MAX_EXTRA_STEPS, cfg.test_steps)
        self.max_steps = network.capacity * per_example
        self.standalone = isinstance(get_device(), CPPStandaloneDevice)
        self._built = False
        self._build_directory = build_directory
        self._state = self._initial_state() if self.standalone else None  # carried between standalone runs
        self._readout_offset = {"forward_readout": 0, "example_readout": 0}
        self._replay = {}
        #: seconds spent inside simulation runs (standalone: the binary), for overhead measurements
        self.simulation_seconds = 0.0

    # ------------------------------------------------------------------ public API
    def present(
        self, images, labels, train, forward_lengths=None, target_lengths=None, seed=None, replay=None, record=False
    ):
        """Present examples in order; learn if ``train``, else test (state zeroed per example).

        Parameters
        ----------
        images : array, shape (n, n_inputs)
            Intensities in [0, 1].
        labels : array of int, shape (n,)
        train : bool
        forward_lengths, target_lengths : array of int, optional
            Phase lengths per example (training; defaults: the configured minimum lengths).
        seed : int, optional
            Seed of the spike draws of this call (each chunk is seeded ``seed + chunk``).
        record : bool
            Fire the ``record`` event every step of this call (recorders of :mod:`brian_segdend.monitoring`
            record only then; other calls pay one comparison per neuron and step).
        replay : dict, optional
            ``{layer index: counts (steps, n)}`` spike counts to replay (network built with
            ``replay=True``; all examples must fit in one chunk).

        Returns
        -------
        dict
            ``'u_out'`` (n, n_outputs): mean output soma over the forward window of each example
            (training: as used by learning; testing: over the test window).
        """
        cfg = self.net.config
        images = np.asarray(images, dtype=float)
        labels = np.asarray(labels)
        n = len(images)
        if images.ndim != 2 or images.shape[1] != cfg.n_inputs:
            raise ValueError(f"images have shape {images.shape}; expected (n, {cfg.n_inputs})")
        if labels.shape != (n,):
            raise ValueError(f"labels have shape {labels.shape}; expected ({n},)")
        if n and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"labels must be classes 0..9, got values in [{labels.min()}, {labels.max()}]")
        if not np.all(np.isfinite(images)) or (n and (images.min() < 0 or images.max() > 1)):
            raise ValueError("images must be finite intensities in [0, 1]")
        T_f, T_t = self.net.phase_lengths(n, train, forward_lengths, target_lengths)
        if train and (np.any(T_f < cfg.window_steps) or np.any(T_t < cfg.window_steps)):
            raise ValueError(f"phase lengths must be >= window_steps={cfg.window_steps}")
        outputs = []
        cap = self.net.capacity
        if replay is not None:
            if not self.net.replay or n > cap:
                raise ValueError("replay needs a network built with replay=True and at most `capacity` examples")
            self._replay = {self.net.replay_arrays[l]: np.asarray(v, float) for l, v in replay.items()}
        for k, start in enumerate(range(0, n, cap)):
            sl = slice(start, start + cap)
            chunk_seed = None if seed is None else int(seed) + k
            outputs.append(self._run_chunk(images[sl], labels[sl], T_f[sl], T_t[sl], train, chunk_seed, record))
        if not train:
            self.reset_state()  # spec §2: training resumes from a zero state after a test run
        u = np.concatenate(outputs) if outputs else np.zeros((0, cfg.n_outputs))
        return {"u_out": u}

    def train(self, images, labels, rng=None, seed=None):
        """Train on the examples in order, with random phase lengths drawn from ``rng`` (spec §4)."""
        rng = np.random.default_rng(seed) if rng is None else rng
        T_f, T_t = draw_phase_lengths(self.net.config, len(images), rng)
        out = self.present(images, labels, True, T_f, T_t, seed=seed)
        return self.predict(out["u_out"])

    def test(self, images, labels, seed=None):
        """Predicted classes of ``images`` (spec §7)."""
        return self.predict(self.present(images, labels, False, seed=seed)["u_out"])

    def predict(self, u_out):
        """Class per example: argmax of the mean output soma per class group (first on ties)."""
        r = self.net.config.units_per_class
        return np.asarray(u_out).reshape(len(u_out), 10, r).mean(axis=2).argmax(axis=1)

    def error(self, images, labels, seed=None):
        """Test error in percent."""
        return 100.0 * float(np.mean(self.test(images, labels, seed=seed) != np.asarray(labels)))

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Current ``{'W', 'b', 'Y', 'c'}`` (lists of numpy arrays in the spec's shapes)."""
        net, cfg = self.net, self.net.config
        W, b, Y, c = [], [], [], []
        for layer in net.layers[1:]:
            w = self._value(layer.ff, "w")
            W.append(w.reshape(layer.ff.source.N, layer.neurons.N).T.copy())
            b.append(self._value(layer.neurons, "b").copy())
        for l, layer in enumerate(net.hidden, start=1):
            c.append(self._value(layer.neurons, "c").copy())
            if layer.fb is not None:
                y = np.zeros(net.feedback_shape(l))
                post, pre = net.feedback_index[l]
                y[post, pre] = self._value(layer.fb, "y")
                Y.append(y)
        if cfg.symmetric_weights:
            masks = net.sparse_masks if cfg.sparse_feedback else None
            Y = symmetric_feedback(cfg, W, masks)
            if cfg.noisy_symmetric_weights:
                for l in range(1, len(Y) + 1):
                    syn = net.layers[l + 1].ff
                    noise = self._value(syn, "fb_noise")
                    noise = noise.reshape(syn.source.N, syn.target.N) if noise.size > 1 else float(np.ravel(noise)[0])
                    gain = np.where(masks[l - 1], 0.0, cfg.sparse_scale) if masks else 1.0
                    Y[l - 1] = gain * (W[l].T + noise)
        return {"W": W, "b": b, "Y": Y, "c": c}

    def set_weights(self, weights):
        """Replace weights and biases (validated: shapes, finiteness; see :func:`check_weights`)."""
        net, cfg = self.net, self.net.config
        weights = {k: v for k, v in weights.items() if k != "sparse_masks"}
        check_weights(cfg, {**weights, "sparse_masks": net.sparse_masks})
        for l, layer in enumerate(net.layers[1:], start=1):
            self._assign(layer.ff, "w", np.asarray(weights["W"][l - 1], float).T.ravel())
            self._assign(layer.neurons, "b", weights["b"][l - 1])
        for l, layer in enumerate(net.hidden, start=1):
            self._assign(layer.neurons, "c", weights["c"][l - 1] if cfg.feedback_bias else np.zeros(layer.neurons.N))
            if layer.fb is not None:
                post, pre = net.feedback_index[l]
                self._assign(layer.fb, "y", np.asarray(weights["Y"][l - 1], float)[post, pre])

    def _initial_state(self):
        state = {}
        for obj, names in self._carried().items():
            for name in names:
                initial = self.net.initial_values.get((obj.name, name))
                dtype = obj.variables[name].dtype
                state[(obj, name)] = (initial if initial is not None else np.zeros(obj.N)).astype(dtype)
        return state

    def _value(self, obj, name):
        if self.standalone:
            return self._state[(obj, name)]
        return np.asarray(getattr(obj, name)[:])

    def _assign(self, obj, name, values):
        values = np.asarray(values)
        if self.standalone:
            self._state[(obj, name)] = values.astype(self._state[(obj, name)].dtype, copy=True)
        else:
            getattr(obj, name)[:] = values

    # ------------------------------------------------------------------ state
    def get_state(self):
        """``{'<object>.<variable>': array}`` of all weights and dynamic state (for checkpoints)."""
        return {
            f"{obj.name}.{name}": np.array(self._value(obj, name))
            for obj, names in self._carried().items()
            for name in names
        }

    def set_state(self, state):
        """Restore :meth:`get_state`'s output exactly; names and shapes must match this network."""
        carried = {f"{obj.name}.{name}": (obj, name) for obj, names in self._carried().items() for name in names}
        missing, unknown = set(carried) - set(state), set(state) - set(carried)
        if missing or unknown:
            raise ValueError(
                f"state does not fit this network: missing {sorted(missing)[:5]}, unknown {sorted(unknown)[:5]}"
            )
        for key, (obj, name) in carried.items():
            values = np.asarray(state[key])
            shape = np.shape(self._value(obj, name))
            if values.shape != shape and not (values.size == 1 == int(np.prod(shape))):  # shared: () or (1,)
                raise ValueError(f"state {key!r} has shape {values.shape}; expected {shape}")
            self._assign(obj, name, values.reshape(shape))

    def reset_state(self):
        """Zero every dynamic variable (potentials, rates, spike memory, windows); keep weights."""
        for obj, names in self._carried(weights=False).items():
            for name in names:
                self._assign(obj, name, np.zeros_like(self._value(obj, name)))

    # ------------------------------------------------------------------ internals
    def _carried(self, weights=True):
        net = self.net
        objs = {}
        for layer in net.layers:
            names = list(net.dynamic_variables[layer.neurons.name])
            if weights and layer.neurons.name != "input_neurons":
                names += ["b"] + (["c"] if "c" in layer.neurons.variables else [])
            objs[layer.neurons] = names
            if weights and layer.ff is not None:
                objs[layer.ff] = [v for v in ("w", "fb_noise") if v in layer.ff.variables]
            if weights and layer.fb is not None:
                objs[layer.fb] = ["y"]
        return objs

    def _run_chunk(self, images, labels, T_f, T_t, train, seed, record=False):
        net = self.net
        cfg = net.config
        n = len(images)
        stimulus, controls = net.stimulus(images, labels, train, T_f, T_t, record)
        if int(np.sum(T_f) + np.sum(T_t)) > self.max_steps:
            raise ValueError(f"chunk needs {int(np.sum(T_f) + np.sum(T_t))} steps, more than {self.max_steps}")
        for ta, counts in self._replay.items():
            values = np.zeros(ta.values.shape)
            values[: len(counts)] = counts
            stimulus[ta] = values
        if self.standalone:
            return self._run_standalone(stimulus, controls, n, train, seed)
        net.load(stimulus, controls)
        if seed is not None:
            brian_seed(seed)
        t0 = time.perf_counter()
        net.network.run(self.max_steps * cfg.dt * ms, namespace={})
        self.simulation_seconds += time.perf_counter() - t0
        return self._readout(n, train)

    def _readout(self, n, train):
        net = self.net
        mon = net.forward_readout if train else net.example_readout
        key = mon.name
        values = np.asarray(mon.u_f[:])
        start = 0 if self.standalone else self._readout_offset[key]
        if not self.standalone:
            self._readout_offset[key] = len(values)
            other = "example_readout" if train else "forward_readout"
            self._readout_offset[other] = len(getattr(net, other).u_f[:])
        values = values[start:]
        if len(values) != n * net.config.n_outputs:
            raise RuntimeError(f"expected {n} read-outs, got {len(values) / net.config.n_outputs}")
        return values.reshape(n, net.config.n_outputs)

    # ------------------------------------------------------------------ cpp_standalone
    def build(self):
        """Compile the network now (``cpp_standalone``; nothing to do under runtime targets)."""
        if self.standalone and not self._built:
            self._build()

    def _build(self):
        from brian2 import device

        net = self.net
        code = (
            '{ const char* _segdend_seed = std::getenv("BRIAN_SEGDEND_SEED");\n'
            "  if (_segdend_seed) { unsigned long _s = std::strtoul(_segdend_seed, NULL, 10);\n"
            "    for (int _i = 0; _i < %d; _i++) brian::_random_generators[_i].seed(_s + _i); } }"
        ) % max(1, int(__import__("brian2").prefs.devices.cpp_standalone.openmp_threads))
        device.insert_code("main", code)
        net.network.run(self.max_steps * net.config.dt * ms, namespace={})
        directory = self._build_directory or tempfile.mkdtemp(prefix="brian_segdend_")
        device.build(directory=directory, run=False, compile=True)
        self._built = True

    def _run_standalone(self, stimulus, controls, n, train, seed):
        from brian2 import device

        if not self._built:
            self._build()
        ctrl = self.net.controller
        used = set(device.timed_arrays)  # arrays no generated code reads cannot be set
        run_args = {ta: v for ta, v in stimulus.items() if ta in used}
        for name, value in controls.items():
            run_args[getattr(ctrl, name)] = value
        for (obj, name), values in self._state.items():
            run_args[getattr(obj, name)] = values
        if seed is not None:
            device.run_environment_variables["BRIAN_SEGDEND_SEED"] = str(seed)
        device.run(run_args=run_args, with_output=False)
        self.simulation_seconds += device.timers["run_binary"]
        self._state = {(obj, name): np.array(getattr(obj, name)[:]) for (obj, name) in self._state}
        return self._readout(n, train)
