"""Present examples to a model in chunks, on whatever Brian device is active.

This is the one place that looks at ``get_device()``: under runtime targets (numpy, cython) the
model stays in memory and each chunk is one ``Network.run``; under ``cpp_standalone`` the model is
built once and each chunk reruns the compiled binary with ``device.run(run_args=...)``, carrying the
weights and the whole dynamic state from one chunk to the next. A run ends itself after its last
example (:data:`stop_run`, called from the model's generated code), so chunks of examples with random
lengths need no rebuild. The :class:`Simulator` knows models only through the interface of
:mod:`brian_segdend.model`.
"""

from __future__ import annotations

import contextlib
import glob
import multiprocessing
import os
import shutil
import tempfile
import time
import weakref
from typing import Any

import numpy as np
from brian2 import EventMonitor, Function, get_device, prefs
from brian2 import seed as brian_seed
from brian2.core.network import Network as _BrianNetwork
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

from .model import Model
from .validation import check_examples, check_positive_int

__all__ = ["Simulator", "stop_run"]


def _stop_python(x):
    if len(x):
        _BrianNetwork._globally_stopped = True
    return 0.0 * x


#: A function that ends the current run from generated code (after the chunk's last example).
stop_run = Function(_stop_python, arg_units=[1], return_unit=1, stateless=False)
stop_run.implementations.add_implementation(
    "cpp",
    "double stop_run(double x) { Network::_globally_stopped = true; return 0.0; }",
    compiler_kwds={"headers": ['"network.h"']},
)
stop_run.implementations.add_implementation(
    "cython",
    "cdef double stop_run(double x):\n"
    "    from brian2.core.network import Network\n"
    "    Network._globally_stopped = True\n"
    "    return 0.0\n",
)


#: (simulator, chunk runner, parts) of the parallel test run in progress, read by the forked processes
_PARALLEL_JOB = None


def _can_fork() -> bool:
    """Whether a parallel test may fork: POSIX, and not inside a daemonic process (a Dask or
    multiprocessing worker, which may not have children); otherwise tests run serially."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def _remove_directory(directory, owner):
    """Remove a temporary project directory, from the process that made it only (not a forked part)."""
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


def _drop_initial_copies(device, variables):
    """Drop the build's copies of the values set before the first run of ``variables`` (``cpp_standalone``).

    Brian keeps each array set before the build as a static array, which the binary loads when it
    starts and holds until it ends: for the weights, their memory once more. The simulator sets every
    carried variable through ``run_args`` at each run, so those copies are never read.
    """
    names = {device.get_array_name(var, access_data=False) for var in variables}
    kept = []
    for op, args in device.main_queue:
        if op == "set_by_array" and args[0] in names:
            del device.static_arrays[args[1]]
        else:
            kept.append((op, args))
    device.main_queue[:] = kept


def _run_part(p):
    """In a forked process: run part ``p``'s chunks; returns their read-outs and the seconds inside runs."""
    sim, run_chunks, parts = _PARALLEL_JOB
    folder = None
    if sim.standalone:  # the binary writes its results into a folder of this process's own
        from brian2 import device

        sim._results_directory = f"results_part{p}_{os.getpid()}"
        folder = os.path.join(device.project_dir, sim._results_directory)
    before = sim.simulation_seconds
    try:
        return run_chunks([int(k) for k in parts[p]]), sim.simulation_seconds - before
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


class Simulator:
    """Runs examples through a model (e.g. a :class:`SegregatedDendriteNetwork`) on the active device.

    Parameters
    ----------
    model : Model
        Built under the device that is active now (``set_device`` is the caller's business).
    build_directory : str, optional
        ``cpp_standalone`` project directory; by default a temporary one, removed with the simulator
        (or at the end of the process).
    """

    def __init__(self, model: Model, build_directory=None):
        self.model = model
        self.standalone = isinstance(get_device(), CPPStandaloneDevice)
        self._built = False
        self._build_directory = build_directory
        self._state = self._initial_state() if self.standalone else None  # carried between standalone runs
        self._recorded_before = {}  # runtime: events each monitor held before the last run
        self._results_directory = None  # standalone: Brian's results folder (a forked part has its own)
        #: per-example records of the last :meth:`present` call (``model.example_records``, e.g. ``'bp_angle'``;
        #: none from a test split over processes)
        self.records = {}
        #: seconds spent inside simulation runs (standalone: the binary), for overhead measurements
        self.simulation_seconds = 0.0

    # ------------------------------------------------------------------ public API
    def present(
        self,
        images,
        labels,
        *,
        learn: bool,
        seed: int | None = None,
        record: bool = False,
        replay: dict | None = None,
        workers: int = 1,
        **settings: Any,
    ) -> np.ndarray:
        """Present examples in order; learn if ``learn``, else test (state zeroed per example).

        Parameters
        ----------
        images : array, shape (n, n_inputs)
            Intensities in [0, 1].
        labels : array of int, shape (n,)
        learn : bool
            Training (plasticity on) or testing.
        seed : int, optional
            Seed of the spike draws of this call (each chunk is seeded ``seed + chunk``).
        record : bool
            Fire the ``record`` event every step of this call (recorders of :mod:`brian_segdend.monitoring`
            record only then; other calls pay one comparison per neuron and step).
        replay : dict, optional
            ``{layer index: counts (steps, n)}`` spike counts to replay (a network built with
            ``replay=True``; all examples must fit in one chunk).
        workers : int
            Test runs (``learn=False``) only: split the chunks over up to this many processes (forked
            from this one, one per part; see :meth:`_present_parallel`). Test examples start from a
            zero state and each chunk is seeded ``seed + chunk`` either way, so the read-outs are
            identical to a serial run.
        **settings
            Per-example settings of the model, e.g. ``forward_lengths`` and ``target_lengths`` (arrays
            of int; defaults: the configured minimum lengths).

        Returns
        -------
        array, shape (n, n_outputs)
            The model's read-out per example; for the segregated-dendrite network the mean output soma
            over the forward window (training: as used by learning; testing: over the test window).
        """
        model, cap = self.model, self.model.capacity
        images, labels = check_examples(images, labels, model.config.n_inputs)
        n = len(images)
        settings = model.example_settings(n, learn, **settings)
        if replay is not None and n > cap:
            raise ValueError(f"replay needs all {n} examples in one run (capacity={cap})")
        check_positive_int("workers", workers)
        chunks = list(range(-(-n // cap)))
        records = []

        def run_chunks(ks):
            outputs = []
            for k in ks:
                sl = slice(k * cap, (k + 1) * cap)
                stimulus = model.stimulus(
                    images[sl], labels[sl], learn, record, **{name: v[sl] for name, v in settings.items()}
                )
                if replay is not None:
                    stimulus.tables.update(model.replay_tables(replay))
                self.run(stimulus, seed=None if seed is None else int(seed) + k)
                outputs.append(self._readout(len(images[sl]), learn))
                records.append(self._records())
            return outputs

        if learn or workers == 1 or len(chunks) == 1 or not _can_fork():
            outputs = run_chunks(chunks)
        else:
            self.build()  # once, before the parts fork
            outputs = self._present_parallel(run_chunks, np.array_split(chunks, min(workers, len(chunks))))
        self.records = {name: np.concatenate([r[name] for r in records]) for name in (records[0] if records else {})}
        if self.standalone:
            self._remove_run_arguments()
        if not learn:
            self.reset_state()  # spec §2: training resumes from a zero state after a test run
        return np.concatenate(outputs) if outputs else np.zeros((0, model.config.n_outputs))

    def _present_parallel(self, run_chunks, parts):
        """Run each part's chunks in a process forked from this one (a copy of the built model and of
        Brian's device); standalone runs write their results into a folder of their own."""
        global _PARALLEL_JOB
        _PARALLEL_JOB = (self, run_chunks, parts)
        try:
            with multiprocessing.get_context("fork").Pool(len(parts), maxtasksperchild=1) as pool:
                results = pool.map(_run_part, range(len(parts)), chunksize=1)
        finally:
            _PARALLEL_JOB = None
        self.simulation_seconds += max(seconds for _, seconds in results)
        return [values for outputs, _ in results for values in outputs]

    def _remove_run_arguments(self):
        """Delete the files Brian wrote for the runs' ``run_args`` (``static_arrays/init_*.dat``, one per
        distinct value, never deleted by Brian: about 7 MB per 1000 MNIST examples, 12 GB after 21
        epochs of a 60-epoch run). Called after every :meth:`present`, when no run of this project is
        pending (a project directory serves one simulator at a time)."""
        from brian2 import device

        for path in glob.glob(os.path.join(device.project_dir, "static_arrays", "init_*.dat*")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def train(self, images, labels, rng: np.random.Generator | None = None, seed: int | None = None) -> np.ndarray:
        """Train on the examples in order, with the model's random settings drawn from ``rng`` (spec §4)."""
        rng = np.random.default_rng(seed) if rng is None else rng
        settings = self.model.draw_settings(len(images), rng)
        return self.predict(self.present(images, labels, learn=True, seed=seed, **settings))

    def test(self, images, labels, seed: int | None = None, workers: int = 1) -> np.ndarray:
        """Predicted classes of ``images`` (spec §7), the chunks split over ``workers`` processes."""
        return self.predict(self.present(images, labels, learn=False, seed=seed, workers=workers))

    def predict(self, outputs) -> np.ndarray:
        """Class per example from the read-outs of :meth:`present`."""
        return self.model.predict(outputs)

    def error(self, images, labels, seed: int | None = None, workers: int = 1) -> float:
        """Test error in percent."""
        return 100.0 * float(np.mean(self.test(images, labels, seed=seed, workers=workers) != np.asarray(labels)))

    # ------------------------------------------------------------------ weights and state
    def get_weights(self) -> dict:
        """Current weights; for the segregated-dendrite network ``{'W', 'b', 'Y', 'c'}`` (lists of
        numpy arrays in the spec's shapes)."""
        return self.model.read_weights(self.value)

    def set_weights(self, weights: dict) -> None:
        """Replace weights and biases (validated: shapes, finiteness)."""
        self.model.write_weights(weights, self.assign)

    def get_state(self) -> dict[str, np.ndarray]:
        """``{'<object>.<variable>': array}`` of all weights and dynamic state (for checkpoints)."""
        return {f"{obj.name}.{name}": np.array(self.value(obj, name)) for obj, name in self._carried()}

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state`'s output exactly; names and shapes must match this model."""
        carried = {f"{obj.name}.{name}": (obj, name) for obj, name in self._carried()}
        missing, unknown = set(carried) - set(state), set(state) - set(carried)
        if missing or unknown:
            raise ValueError(
                f"state does not fit this network: missing {sorted(missing)[:5]}, unknown {sorted(unknown)[:5]}"
            )
        for key, (obj, name) in carried.items():
            values = np.asarray(state[key])
            shape = np.shape(self.value(obj, name))
            if values.shape != shape and not (values.size == 1 == int(np.prod(shape))):  # shared: () or (1,)
                raise ValueError(f"state {key!r} has shape {values.shape}; expected {shape}")
            self.assign(obj, name, values.reshape(shape))

    def reset_state(self) -> None:
        """Zero every dynamic variable (potentials, rates, spike memory, windows); keep weights."""
        for obj, name in self._carried(weights=False):
            self.assign(obj, name, np.zeros_like(self.value(obj, name)))

    # ------------------------------------------------------------------ internals
    def _carried(self, weights=True):
        return [(obj, name) for obj, names in self.model.state_variables(weights).items() for name in names]

    def _initial_state(self):
        return {(obj, name): self.model.initial_value(obj, name) for obj, name in self._carried()}

    def value(self, obj, name) -> np.ndarray:
        """Current values of ``obj.name`` (any device)."""
        if self.standalone:
            return self._state[(obj, name)]
        return np.asarray(getattr(obj, name)[:])

    def assign(self, obj, name, values) -> None:
        """Set ``obj.name`` (broadcast to its shape) for the next run (any device)."""
        values = np.asarray(values)
        if self.standalone:
            old = self._state[(obj, name)]
            self._state[(obj, name)] = np.broadcast_to(values, old.shape).astype(old.dtype, copy=True)
        else:
            getattr(obj, name)[:] = values

    def run(self, stimulus, seed: int | None = None) -> None:
        """One run of the model over a :class:`~brian_segdend.model.Stimulus` (at most ``capacity``
        examples; :meth:`present` splits examples into such runs); ``seed`` seeds its random numbers."""
        if self.standalone:
            self._run_standalone(stimulus, seed)
            return
        self._recorded_before = {
            obj.name: int(obj.num_events) for obj in self.model.brian_network.objects if isinstance(obj, EventMonitor)
        }
        self.model.load(stimulus)
        if seed is not None:
            brian_seed(seed)
        t0 = time.perf_counter()
        self.model.brian_network.run(self.model.max_duration, namespace={})
        self.simulation_seconds += time.perf_counter() - t0

    def recorded(self, monitor, variable: str) -> np.ndarray:
        """What ``monitor`` (an ``EventMonitor`` of the model) recorded of ``variable`` in the last run
        (runtime monitors keep the earlier runs' events too)."""
        values = np.asarray(monitor.variables[variable].get_value())
        return values[self._recorded_before.get(monitor.name, 0) :] if not self.standalone else values.copy()

    def _readout(self, n, learn):
        """The last run's ``n`` read-outs ``(n, n_outputs)``."""
        values = self.recorded(*self.model.readout(learn))
        n_outputs = self.model.config.n_outputs
        if len(values) != n * n_outputs:
            raise RuntimeError(f"expected {n} read-outs, got {len(values) / n_outputs}")
        return values.reshape(n, n_outputs)

    def _records(self) -> dict:
        """The model's per-example records of the last run (an optional member of the model interface)."""
        example_records = getattr(self.model, "example_records", None)
        if example_records is None:
            return {}
        return example_records(self.recorded)

    # ------------------------------------------------------------------ cpp_standalone
    def build(self) -> None:
        """Compile the model now (``cpp_standalone``; nothing to do under runtime targets)."""
        if self.standalone and not self._built:
            self._build()

    def _build(self):
        from brian2 import device

        code = (
            '{ const char* _segdend_seed = std::getenv("BRIAN_SEGDEND_SEED");\n'
            "  if (_segdend_seed) { unsigned long _s = std::strtoul(_segdend_seed, NULL, 10);\n"
            "    for (int _i = 0; _i < %d; _i++) brian::_random_generators[_i].seed(_s + _i); } }"
        ) % max(1, int(prefs.devices.cpp_standalone.openmp_threads))
        device.insert_code("main", code)
        _drop_initial_copies(device, [obj.variables[name] for obj, name in self._state])
        self.model.brian_network.run(self.model.max_duration, namespace={})
        directory = self._build_directory
        if directory is None:
            directory = tempfile.mkdtemp(prefix="brian_segdend_")
            weakref.finalize(self, _remove_directory, directory, os.getpid())
        device.build(directory=directory, run=False, compile=True)
        self._built = True

    def _run_standalone(self, stimulus, seed):
        from brian2 import device

        if not self._built:
            self._build()
        used = set(device.timed_arrays)  # arrays no generated code reads cannot be set
        run_args = {table: v for table, v in stimulus.tables.items() if table in used}
        for (obj, name), value in stimulus.variables.items():
            run_args[getattr(obj, name)] = value
        for (obj, name), values in self._state.items():
            run_args[getattr(obj, name)] = values
        if seed is None:  # the binary's own seeding, not the seed of an earlier run
            device.run_environment_variables.pop("BRIAN_SEGDEND_SEED", None)
        else:
            device.run_environment_variables["BRIAN_SEGDEND_SEED"] = str(seed)
        device.run(results_directory=self._results_directory, run_args=run_args, with_output=False)
        self.simulation_seconds += device.timers["run_binary"]
        self._state = {(obj, name): np.array(getattr(obj, name)[:]) for (obj, name) in self._state}
