"""The segregated-dendrite network as plain Brian2 objects (spec §1-§5), the ``'segdend'`` model kind.

:class:`SegregatedDendriteNetwork` builds one ``NeuronGroup`` per layer, ``Synapses`` for the
feedforward (W) and feedback (Y) weights, and a one-neuron controller that counts steps and examples.
Everything a training example needs (phases, windows, plateaus, weight and bias updates) runs in
generated code, so the same objects run in runtime mode and under ``cpp_standalone``.

Where things are: the equations and the learning rule in :mod:`~brian_segdend.equations`, the order
of operations in :mod:`~brian_segdend.schedule`, which layer feeds which in
:mod:`~brian_segdend.topology`; this module wires them into Brian objects and implements the model
interface of :mod:`~brian_segdend.model`.
"""

from __future__ import annotations

import numpy as np
from brian2 import Clock, EventMonitor, Network, Quantity, Synapses, TimedArray, ms

from . import equations as eq
from . import schedule, topology
from .codegen import synapses
from .config import ModelConfig
from .feedback import build_feedback
from .layers import Layer, add_collector, build_controller, build_layer
from .model import Stimulus
from .simulator import stop_run
from .weights import (
    angles_degrees,
    check_weights,
    feedback_angles,
    feedback_shape,
    initial_weights,
    symmetric_feedback,
    symmetric_noise,
)

__all__ = ["Layer", "SegregatedDendriteNetwork"]


class SegregatedDendriteNetwork:
    """A segregated-dendrite network (Guerguiev et al. 2017) as Brian2 objects.

    Parameters
    ----------
    config : ModelConfig
        Model parameters and flags.
    weights : dict, optional
        Initial ``{'W': [...], 'b': [...], 'Y': [...], 'c': [...]}`` (see :func:`initial_weights`);
        drawn from ``seed`` when omitted.
    seed : int, optional
        Seed of the initial weights (numpy), when ``weights`` is not given.
    capacity : int
        Most examples one run (chunk) can present; sizes the stimulus ``TimedArray`` s.
    replay : bool
        Read every layer's spike counts from ``TimedArray`` s (``replay_<layer>``, indexed by step of
        the run) instead of drawing them: for step-by-step comparisons with a reference.
    replay_steps : int
        Steps the replay arrays hold.

    Notes
    -----
    The objects are ``controller``, then for each layer ``<layer>_neurons``, ``<layer>_ff``,
    ``<layer>_fb``; :attr:`brian_network` holds them all, or add :attr:`objects` (or the layers) to
    your own ``Network``. Read-outs are the ``EventMonitor`` s :attr:`forward_readout` (output ``u_f``
    at each training example's forward end) and :attr:`example_readout` (at the end of each example).

    Examples
    --------
    >>> from brian2 import StateMonitor
    >>> net = SegregatedDendriteNetwork(ModelConfig(n_hidden=(30,)), seed=1)
    >>> mon = StateMonitor(net.layer("hidden1").neurons, ["d", "a", "u"], record=[0, 1])
    """

    kind = ModelConfig.kind

    def __init__(
        self,
        config: ModelConfig | None = None,
        weights: dict | None = None,
        seed: int | None = None,
        capacity: int = 100,
        replay: bool = False,
        replay_steps: int = 1,
    ):
        self.config = config = config if config is not None else ModelConfig()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config must be a ModelConfig, got {type(config).__name__}")
        if weights is None:
            weights = initial_weights(config, np.random.default_rng(seed))
        check_weights(config, weights)
        #: noise of noisy symmetric feedback held in the initial Y (spec §6), per W_l, l >= 2
        self._noise = symmetric_noise(config, weights, weights.get("sparse_masks")) if config.symmetric_weights else []
        self.capacity = int(capacity)
        self.replay = bool(replay)
        self.replay_steps = int(replay_steps)
        self.n_layers = len(config.layer_sizes)  # input, hidden..., output
        self.sparse_masks = weights.get("sparse_masks")
        self.feedback_index = {}  # hidden layer -> (rows, columns) of Y held by its fb synapses
        #: steps and duration of the longest run (``capacity`` examples of the longest allowed phases)
        self.max_steps = self.capacity * schedule.max_example_steps(config)
        self.max_duration = self.max_steps * config.dt * ms

        # Stimulus of one run: images, labels and phase lengths of up to `capacity` examples.
        # One row per clock step (equations read row k as f(k*dt)), so the grids align for any dt.
        cap = self.capacity
        self.images, self.labels, self.forward_lengths, self.target_lengths = tables = [
            TimedArray(values, dt=config.dt * ms, name=name)
            for name, values in (
                ("images", np.zeros((cap, config.n_inputs))),
                ("labels", np.zeros(cap)),
                ("forward_lengths", np.full(cap, float(config.forward_steps))),
                ("target_lengths", np.full(cap, float(config.target_steps))),
            )
        ]
        #: random plateau times: per hidden layer, the offsets of example k in rows 2k (forward) and 2k + 1
        self.plateau_tables = [
            TimedArray(np.zeros((2 * cap, n)), dt=config.dt * ms, name=f"plateau_offsets_hidden{l}")
            for l, n in enumerate(config.n_hidden if config.random_plateau_times else (), start=1)
        ]
        self.replay_arrays = {}
        self.initial_values = {}
        self.recorded_neurons = {}  # layer name -> 0/1 mask of neurons taken by recorders
        self._namespace = {**{table.name: table for table in tables + self.plateau_tables}, "stop_run": stop_run}

        #: the model's own clock (dt of the config), so that it can share a Network with other dt's
        self.clock = Clock(dt=config.dt * ms, name="segdend_clock*")
        self.controller = build_controller(config, clock=self.clock, namespace=self._namespace)
        group_options = {"clock": self.clock, "namespace": self._namespace}
        self.layers = [
            build_layer(config, l, self._spike_form(l), self.controller, **group_options) for l in range(self.n_layers)
        ]
        for l in range(1, self.n_layers):
            self._build_feedforward(l, weights["W"][l - 1])
        for l in range(1, self.n_layers - 1):
            self._build_feedback(l, weights["Y"][l - 1])
        for l in range(1, self.n_layers):
            for name in topology.collectors(config, l):
                source = self.layers[topology.correction_source(config, l, name)]
                add_collector(config, source, self.layers[l], name, clock=self.clock, namespace=self._namespace)
        self._set_biases(weights)
        self.forward_readout, self.example_readout = (
            schedule.place(EventMonitor(self.output.neurons, event, variables=["u_f"], name=name), "readouts")
            for event, name in (("forward_end", "forward_readout"), ("example_end", "example_readout"))
        )
        #: per hidden layer, errors and backprop errors at each training example's end (record_backprop_angle)
        self.backprop_angle_monitors = [
            schedule.place(
                EventMonitor(layer.neurons, "backprop", ["error", "error_bp"], name=f"{layer.name}_bp"), "update"
            )
            for layer in (self.hidden if config.record_backprop_angle else [])
        ]
        #: every Brian object of the model in one ``Network`` (monitors may be added to it)
        self.brian_network = Network(self.objects)

    # ------------------------------------------------------------------ access
    @property
    def input(self) -> Layer:
        return self.layers[0]

    @property
    def hidden(self) -> list[Layer]:
        return self.layers[1:-1]

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def layer(self, name: str) -> Layer:
        """The :class:`Layer` called ``name`` (``'input'``, ``'hidden1'``, ..., ``'output'``)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {[l.name for l in self.layers]}")

    @property
    def objects(self) -> list:
        """Every Brian object of the model, to add to a ``Network``."""
        objs = [self.controller]
        for layer in self.layers:
            objs.extend(layer)
        readouts = [getattr(self, n) for n in ("forward_readout", "example_readout") if hasattr(self, n)]
        return objs + readouts + getattr(self, "backprop_angle_monitors", [])

    def __iter__(self):
        return iter(self.objects)

    def feedback_shape(self, l: int) -> tuple[int, int]:
        """Shape of Y_l (hidden layer ``l``, 1-based)."""
        return feedback_shape(self.config, l)

    # ------------------------------------------------------------------ stimulus (model interface)
    def draw_settings(self, n: int, rng: np.random.Generator, epoch: int = 0) -> dict[str, np.ndarray]:
        """Random phase lengths of ``n`` training examples (spec §4), see :func:`schedule.draw_phase_lengths`,
        and with ``random_plateau_times`` the plateau offsets (:func:`schedule.draw_plateau_offsets`)."""
        T_f, T_t = schedule.draw_phase_lengths(self.config, n, rng)
        settings = {"forward_lengths": T_f, "target_lengths": T_t}
        if self.config.random_plateau_times:
            settings["plateau_offsets"] = schedule.draw_plateau_offsets(self.config, n, rng)
        return settings

    def example_settings(
        self, n: int, learn: bool, forward_lengths=None, target_lengths=None, plateau_offsets=None
    ) -> dict:
        """Phase lengths of ``n`` examples (:func:`schedule.phase_lengths`; each run must fit :attr:`max_steps`)
        and plateau offsets (:func:`schedule.plateau_offsets`, with ``random_plateau_times``)."""
        T_f, T_t = schedule.phase_lengths(self.config, n, learn, forward_lengths, target_lengths)
        offsets = schedule.plateau_offsets(self.config, n, learn, plateau_offsets, T_f, T_t)
        steps = np.add.reduceat(T_f + T_t, np.arange(0, n, self.capacity)) if n else np.zeros(0)
        if np.any(steps > self.max_steps):
            raise ValueError(
                f"a run of {self.capacity} examples needs {int(steps.max())} steps, more than {self.max_steps}"
            )
        return {
            "forward_lengths": T_f,
            "target_lengths": T_t,
            **({} if offsets is None else {"plateau_offsets": offsets}),
        }

    def stimulus(self, images, labels, learn: bool, record: bool = False, **settings) -> Stimulus:
        """The tables and controller settings of one run over these examples (at most :attr:`capacity`)."""
        cfg, cap, n = self.config, self.capacity, len(images)
        if n > cap:
            raise ValueError(f"{n} examples do not fit in one run of this network (capacity={cap})")
        settings = self.example_settings(n, learn, **settings)
        T_f, T_t = settings["forward_lengths"], settings["target_lengths"]
        tables = {
            self.images: np.zeros((cap, cfg.n_inputs)),
            self.labels: np.zeros(cap),
            self.forward_lengths: np.ones(cap),
            self.target_lengths: np.zeros(cap),
        }
        for table, values in zip(tables, (images, labels, T_f, T_t)):
            tables[table][:n] = values
        offsets = settings.get("plateau_offsets", np.zeros((n, 2, sum(cfg.n_hidden))))
        for table, values in zip(self.plateau_tables, np.split(offsets, np.cumsum(cfg.n_hidden)[:-1], axis=2)):
            tables[table] = np.zeros(table.values.shape)
            tables[table][: 2 * n] = values.reshape(2 * n, -1)
        controls = {
            "n_examples": n,
            "plastic": int(learn),
            "K_t": cfg.window_steps,
            "K_f": cfg.window_steps if learn else cfg.test_window_steps,
            "recording": int(record),
        }
        variables = {(self.controller, name): value for name, value in controls.items()}
        return Stimulus(tables, variables, int(np.sum(T_f) + np.sum(T_t)))

    def replay_tables(self, counts: dict) -> dict:
        """``{layer index: counts (steps, n)}`` as values of the replay ``TimedArray`` s (``replay=True``)."""
        if not self.replay:
            raise ValueError("replay needs a network built with replay=True")
        tables = {}
        for l, values in counts.items():
            table = self.replay_arrays[l]
            tables[table] = np.zeros(table.values.shape)
            tables[table][: len(values)] = values
        return tables

    def load(self, stimulus: Stimulus) -> None:
        """Write a :class:`Stimulus` into the objects (runtime, or standalone before the build)."""
        stimulus.write()
        self.controller.example = self.controller.step = self.controller.run_step = 0

    def load_examples(self, images, labels, learn: bool = False, record: bool = False, **settings) -> Quantity:
        """Prepare a run of your own ``Network`` over these examples; returns its maximal duration.

        The run stops by itself after the last example (``stop_run``), read-outs are in
        :attr:`example_readout` / :attr:`forward_readout`.
        """
        stimulus = self.stimulus(images, labels, learn, record, **settings)
        self.load(stimulus)
        return (stimulus.steps + 1) * self.config.dt * ms

    # ------------------------------------------------------------------ read-outs, weights, state
    def readout(self, learn: bool) -> tuple[EventMonitor, str]:
        """Mean output soma over the forward window: at each forward end (learning) or example end."""
        return (self.forward_readout if learn else self.example_readout), "u_f"

    def example_records(self, read) -> dict[str, np.ndarray]:
        """Per-example records of the last run, read through ``read(monitor, variable)``: with
        ``record_backprop_angle``, ``'bp_angle'`` (examples x hidden layers, degrees) between the error each
        hidden layer learned from and its backpropagated error (REF's diagnostic)."""
        if not self.backprop_angle_monitors:
            return {}
        angles = [
            angles_degrees(
                read(mon, "error").reshape(-1, mon.source.N), read(mon, "error_bp").reshape(-1, mon.source.N)
            )
            for mon in self.backprop_angle_monitors
        ]
        return {"bp_angle": np.stack(angles, axis=1)}

    def predict(self, outputs) -> np.ndarray:
        """Class per example: argmax of the mean output soma per class group (first on ties)."""
        r = self.config.units_per_class
        return np.asarray(outputs).reshape(len(outputs), 10, r).mean(axis=2).argmax(axis=1)

    def read_weights(self, value) -> dict:
        """``{'W', 'b', 'Y', 'c'}`` (lists of arrays in the spec's shapes; also ``'sparse_masks'`` with
        sparse feedback), reading each variable through ``value(obj, name)``."""
        cfg = self.config
        W, b, Y, c = [], [], [], []
        for layer in self.layers[1:]:
            W.append(value(layer.ff, "w").reshape(layer.ff.source.N, layer.neurons.N).T.copy())
            b.append(value(layer.neurons, "b").copy())
        for l, layer in enumerate(self.hidden, start=1):
            c.append(value(layer.neurons, "c").copy())
            if layer.fb is not None:
                y = np.zeros(self.feedback_shape(l))
                post, pre = self.feedback_index[l]
                y[post, pre] = value(layer.fb, "y")
                Y.append(y)
        masks = self.sparse_masks if cfg.sparse_feedback else None
        if cfg.symmetric_weights and not topology.rebuilds_symmetric_feedback(cfg):  # Y follows W's synapses
            noisy = cfg.noisy_symmetric_weights
            noise = [value(self.layers[l].ff, "fb_noise") for l in range(2, self.n_layers)] if noisy else None
            Y = symmetric_feedback(cfg, W, masks, noise=noise)
        weights = {"W": W, "b": b, "Y": Y, "c": c}
        if masks:
            weights["sparse_masks"] = [m.copy() for m in masks]
        return weights

    def write_weights(self, weights: dict, assign) -> None:
        """Write weights and biases through ``assign(obj, name, values)`` (validated: shapes, finiteness)."""
        cfg = self.config
        weights = {k: v for k, v in weights.items() if k != "sparse_masks"}
        check_weights(cfg, {**weights, "sparse_masks": self.sparse_masks})
        noises = symmetric_noise(cfg, weights, self.sparse_masks) if cfg.symmetric_weights else []
        if cfg.noisy_symmetric_weights and not topology.rebuilds_symmetric_feedback(cfg):
            for l, noise in enumerate(noises, start=2):
                assign(self.layers[l].ff, "fb_noise", np.ravel(noise))
        for l, layer in enumerate(self.layers[1:], start=1):
            assign(layer.ff, "w", np.asarray(weights["W"][l - 1], float).T.ravel())
            assign(layer.neurons, "b", weights["b"][l - 1])
        for l, layer in enumerate(self.hidden, start=1):
            assign(layer.neurons, "c", weights["c"][l - 1] if cfg.feedback_bias else np.zeros(layer.neurons.N))
            if layer.fb is not None:
                post, pre = self.feedback_index[l]
                assign(layer.fb, "y", np.asarray(weights["Y"][l - 1], float)[post, pre])

    def diagnostics(self, weights: dict) -> dict:
        """Mean and SD of each W, and the angle between each Y and backprop's feedback (degrees)."""
        record = {
            "weight_mean": [float(w.mean()) for w in weights["W"]],
            "weight_std": [float(w.std()) for w in weights["W"]],
        }
        if weights["Y"]:
            record["feedback_angle"] = feedback_angles(self.config, weights)
        return record

    def state_variables(self, weights: bool = True) -> dict:
        """``{object: [variables]}`` carried from run to run: dynamic state, and weights if ``weights``."""
        carried = {}
        for layer in self.layers:
            names = list(layer.state)
            if weights and layer.name != "input":
                names += ["b"] + (["c"] if "c" in layer.neurons.variables else [])
            carried[layer.neurons] = names
            if weights and layer.ff is not None:
                carried[layer.ff] = [v for v in ("w", "fb_noise") if v in layer.ff.variables]
            if weights and layer.fb is not None:
                carried[layer.fb] = ["y"]
        return carried

    def initial_value(self, obj, name: str) -> np.ndarray:
        """Value before the first run: the initial weights and biases, zeros for the dynamic state."""
        initial = self.initial_values.get((obj.name, name))
        values = initial if initial is not None else np.zeros(obj.N)
        return values.astype(obj.variables[name].dtype)

    # ------------------------------------------------------------------ construction
    def _spike_form(self, l: int) -> dict:
        """How layer ``l`` draws its spike counts: one of :mod:`equations`' spike-count forms."""
        cfg = self.config
        if not self.replay:
            return (
                eq.BERNOULLI if cfg.spike_counts == "bernoulli" else eq.POISSON_INPUT if l == 0 else eq.POISSON_NEURONS
            )
        name = f"replay_{topology.layer_name(cfg, l)}"
        self.replay_arrays[l] = TimedArray(np.zeros((self.replay_steps, cfg.layer_sizes[l])), dt=cfg.dt * ms, name=name)
        self._namespace[name] = self.replay_arrays[l]
        return eq.replay_counts(name)

    def _synapses(self, source: Layer, target: Layer, name: str, dense: bool = True, **kwds) -> Synapses:
        """:func:`codegen.synapses` between two layers, on the network's clock and namespace."""
        kwds.update(clock=self.clock, namespace=self._namespace, name=name)
        return synapses(source.neurons, target.neurons, dense, **kwds)

    def _build_feedforward(self, l: int, W: np.ndarray):
        """Feedforward weights W_l (spec §1), all-to-all in presynaptic order; with symmetric feedback
        the same synapses carry Y_{l-1} = W_l^T backwards (spec §5)."""
        cfg = self.config
        pre, post = self.layers[l - 1], self.layers[l]
        symmetric = topology.carries_symmetric_feedback(cfg, l)
        products = topology.rebuilds_symmetric_feedback(cfg) and l >= 2  # W_l^T is a factor of Y_{l-1}
        model = ["w : 1"]
        if symmetric:  # noise per entry (broadcast) or one scalar (QUIRK, spec §5)
            model.append(eq.SYMMETRIC_FEEDBACK + ("" if cfg.broadcast else " (shared)"))
        elif products and cfg.noisy_symmetric_weights:
            model.append("fb_noise : 1")
        on_pre, on_event = {}, {}
        if cfg.spiking_feedforward:
            on_pre["pre"], on_event["pre"] = eq.spike_input(cfg, "basal", "w"), "spike"
        else:
            model.append(eq.summed_rate("d_ff", "w"))
        update = eq.FEEDFORWARD_UPDATE
        redraws_noise = (symmetric or products) and cfg.noisy_symmetric_weights and cfg.broadcast
        if redraws_noise:  # every synapse redraws its noise, so no presynaptic neuron may skip
            update += "\n" + eq.noise_redraw(cfg.symmetric_noise_sd)
        on_pre["learn"], on_event["learn"] = update, "learn" if redraws_noise else "learn_pre"
        on_post = {}
        y = eq.symmetric_feedback_weight(cfg.noisy_symmetric_weights)
        if topology.backpropagates(cfg) and l >= 2:  # W_{l+1}^T e^bp into hidden layer l - 1 (spec §5)
            on_post["backprop"], on_event["backprop"] = eq.BACKPROP_SUM, "backprop"
        if products:  # rows of Y_{l-1} = (W_l + N)^T Y_l
            top = l == self.n_layers - 1
            on_post["rebuild"] = eq.row_sum(cfg.n_outputs, top, cfg.noisy_symmetric_weights)
            on_event["rebuild"] = "rebuild"
        if symmetric and cfg.spiking_feedback:
            on_post["post"], on_event["post"] = eq.spike_input(cfg, "apical", y, receiver="pre"), "spike"
        elif symmetric:
            model.append(eq.summed_rate("a_fb", y, receiver="pre"))
        syn = self._synapses(
            pre,
            post,
            f"{post.name}_ff",
            model="\n".join(model),
            on_pre=on_pre,
            on_post=on_post or None,
            on_event=on_event,
        )
        n_pre, n_post = W.shape[1], W.shape[0]
        self._initial(syn, "w", W.T.ravel())
        schedule.place(syn.pre if cfg.spiking_feedforward else syn.summed_updaters["d_ff_post"], "feedforward", l)
        schedule.place(syn.learn, "weights")
        for pathway, slot in (("backprop", "backprop_sum"), ("rebuild", "row_sums")):
            if pathway in on_post:
                schedule.place(getattr(syn, pathway), slot, l - 1)
        if products and cfg.noisy_symmetric_weights:  # redrawn with each update, before the rows use it
            self._initial(syn, "fb_noise", np.zeros(n_pre * n_post))
        if symmetric:
            mask = self.sparse_masks[l - 2] if (cfg.sparse_feedback and self.sparse_masks) else None
            gain = np.ones((n_post, n_pre)) if mask is None else np.where(mask.T, 0.0, cfg.sparse_scale)
            syn.fb_gain = gain.T.ravel()
            noise = self._noise[l - 2] if cfg.noisy_symmetric_weights else 0.0
            self._initial(syn, "fb_noise", np.ravel(noise) * np.ones(n_pre * n_post if cfg.broadcast else 1))
            if "post" in on_post:
                schedule.place(syn.post, "feedback", l)
            else:
                schedule.place(syn.summed_updaters["a_fb_pre"], "rate_feedback", l - 1)
            if cfg.noisy_symmetric_weights and not cfg.broadcast:
                syn.run_regularly(eq.scalar_noise_redraw(cfg.symmetric_noise_sd), **schedule.at("redraw_noise"))
        post.ff = syn

    def _build_feedback(self, l: int, Y: np.ndarray):
        """Feedback weights Y_l into hidden layer ``l`` (:func:`feedback.build_feedback`), unless W's
        synapses carry them (symmetric feedback of the layer above)."""
        cfg = self.config
        if cfg.symmetric_weights and not topology.rebuilds_symmetric_feedback(cfg):
            return
        mask = self.sparse_masks[l - 1] if (cfg.sparse_feedback and self.sparse_masks) else np.zeros(Y.shape, bool)
        source, target = self.layers[topology.feedback_source(cfg, l)], self.layers[l]
        target.fb, self.feedback_index[l] = build_feedback(cfg, l, source, target, mask, self._synapses)
        post, pre = self.feedback_index[l]
        self._initial(target.fb, "y", Y[post, pre])

    def _initial(self, obj, name: str, values):
        """Set a weight/bias array before the first run and remember it (standalone state)."""
        values = np.asarray(values, dtype=float)
        setattr(obj, name, values)
        self.initial_values[(obj.name, name)] = values.copy()

    def _set_biases(self, weights: dict):
        for l in range(1, self.n_layers):
            self._initial(self.layers[l].neurons, "b", weights["b"][l - 1])
            if 0 < l < self.n_layers - 1:
                c = weights["c"][l - 1] if self.config.feedback_bias else np.zeros(self.layers[l].neurons.N)
                self._initial(self.layers[l].neurons, "c", c)
