"""Run chunks of patterns through a model's Brian network, on whatever device is active.

Model-independent: the model supplies its ``network``, the stimulus values of a chunk, the variables
it carries from chunk to chunk and a read-out monitor; :class:`ChunkRunner` does the rest. Under
runtime targets the objects stay in memory and a chunk is one ``Network.run``; under
``cpp_standalone`` the network is compiled once and each chunk reruns the binary with
``device.run(run_args=...)``, passing in and reading back every carried variable.

(This is the minimal runner the microcircuit tests need; it mirrors
:class:`brian_segdend.simulator.Simulator` and is meant to merge into the generic simulator.)
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from brian2 import get_device, prefs
from brian2 import seed as brian_seed
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

__all__ = ["ChunkRunner"]

#: C++ inserted into ``main``: reseed every generator from $BRIAN_SEGDEND_SEED (one seed per run)
SEED_CODE = (
    '{ const char* _segdend_seed = std::getenv("BRIAN_SEGDEND_SEED");\n'
    "  if (_segdend_seed) { unsigned long _s = std::strtoul(_segdend_seed, NULL, 10);\n"
    "    for (int _i = 0; _i < %d; _i++) brian::_random_generators[_i].seed(_s + _i); } }"
)


class ChunkRunner:
    """Presents chunks of a model's stimulus on the active device, carrying its state.

    Parameters
    ----------
    model
        Provides ``network`` (a Brian ``Network``), ``carried()`` (``{object: [variable, ...]}``),
        ``initial_values`` (``{(object name, variable): array}``), ``load(stimulus, controls)``,
        ``max_duration()``, ``controller`` and ``readouts`` (``{name: EventMonitor}``).
    build_directory : str, optional
        ``cpp_standalone`` project directory (a temporary one by default).
    """

    def __init__(self, model, build_directory=None):
        self.model = model
        self.standalone = isinstance(get_device(), CPPStandaloneDevice)
        self._build_directory = build_directory
        self._built = False
        self._state = self._initial_state() if self.standalone else None
        self._readout_seen = {name: 0 for name in model.readouts}
        #: seconds spent inside simulation runs (standalone: the binary)
        self.simulation_seconds = 0.0

    # ------------------------------------------------------------------ values
    def value(self, obj, name):
        """Current values of ``obj.name`` (a numpy array)."""
        if self.standalone:
            return self._state[(obj, name)]
        return np.asarray(obj.variables[name].get_value()).copy()

    def assign(self, obj, name, values):
        """Set ``obj.name`` for the next run."""
        values = np.asarray(values, dtype=float)
        if self.standalone:
            old = self._state[(obj, name)]
            self._state[(obj, name)] = np.broadcast_to(values, old.shape).astype(old.dtype, copy=True)
        else:
            obj.variables[name].set_value(np.broadcast_to(values, obj.variables[name].get_value().shape))

    def _initial_state(self):
        """Values before the first standalone run: the model's initial values, else zeros (the size of a
        ``Synapses`` variable, unknown before the build, is that of the object's initial weights)."""
        state = {}
        for obj, names in self.model.carried().items():
            sizes = [np.size(v) for (owner, _), v in self.model.initial_values.items() if owner == obj.name]
            for name in names:
                var = obj.variables[name]
                initial = self.model.initial_values.get((obj.name, name))
                shape = (1,) if var.scalar else (max(sizes) if sizes else var.size,)
                value = np.zeros(shape) if initial is None else np.broadcast_to(initial, shape)
                state[(obj, name)] = np.array(value, dtype=var.dtype)
        return state

    # ------------------------------------------------------------------ runs
    def run(self, stimulus, controls, seed=None):
        """Present one chunk; returns ``{read-out: {variable: array (events, neurons)}}``.

        Parameters
        ----------
        stimulus : dict
            ``{TimedArray: values}`` of this chunk.
        controls : dict
            ``{controller variable: value}`` of this chunk.
        seed : int, optional
            Seed of the random numbers drawn in this run.
        """
        if self.standalone:
            return self._run_standalone(stimulus, controls, seed)
        self.model.load(stimulus, controls)
        if seed is not None:
            brian_seed(seed)
        t0 = time.perf_counter()
        self.model.network.run(self.model.max_duration(), namespace={})
        self.simulation_seconds += time.perf_counter() - t0
        return self._readout()

    def _readout(self):
        """The events recorded in this run (runtime monitors keep earlier runs' events too)."""
        out = {}
        for name, mon in self.model.readouts.items():
            start = 0 if self.standalone else self._readout_seen[name]
            values = {var: np.asarray(mon.variables[var].get_value())[start:] for var in sorted(mon.record_variables)}
            if not self.standalone:
                self._readout_seen[name] += len(values["i"])
            out[name] = {var: v.reshape(-1, mon.source.N) for var, v in values.items()}
        return out

    def build(self):
        """Compile now (``cpp_standalone``; nothing to do under runtime targets)."""
        if self.standalone and not self._built:
            from brian2 import device

            device.insert_code("main", SEED_CODE % max(1, int(prefs.devices.cpp_standalone.openmp_threads)))
            self.model.network.run(self.model.max_duration(), namespace={})
            directory = self._build_directory or tempfile.mkdtemp(prefix="brian_microcircuit_")
            device.build(directory=directory, run=False, compile=True)
            self._built = True

    def _run_standalone(self, stimulus, controls, seed):
        from brian2 import device

        self.build()
        used = set(device.timed_arrays)  # arrays no generated code reads cannot be set
        run_args = {ta: v for ta, v in stimulus.items() if ta in used}
        for name, value in controls.items():
            run_args[getattr(self.model.controller, name)] = value
        for (obj, name), values in self._state.items():
            run_args[getattr(obj, name)] = values
        if seed is None:  # the binary's own seeding, not the seed of an earlier run
            device.run_environment_variables.pop("BRIAN_SEGDEND_SEED", None)
        else:
            device.run_environment_variables["BRIAN_SEGDEND_SEED"] = str(seed)
        device.run(run_args=run_args, with_output=False)
        self.simulation_seconds += device.timers["run_binary"]
        self._state = {(obj, name): np.array(obj.variables[name].get_value()) for (obj, name) in self._state}
        return self._readout()
