"""The segregated-dendrite network as plain Brian2 objects (spec §1-§5).

:class:`SegregatedDendriteNetwork` builds one ``NeuronGroup`` per layer, ``Synapses`` for the
feedforward (W) and feedback (Y) weights, and a one-neuron controller that counts steps and examples.
Everything a training example needs (phases, windows, plateaus, weight and bias updates) runs in
generated code, so the same objects run in runtime mode and under ``cpp_standalone``.

Schedule of one time step (spec §3; ``net.scheduling_summary()`` prints it):

* ``start``: the controller reads the example's phase lengths; test runs zero all state at step 0;
  every spiking group draws fresh Exp(1) amounts for its Poisson counts at step 0.
* ``groups``, layer by layer (order ``100*l + 10*k`` for operation k): 0 apical potential from the feedback received up
  to the previous step, ring shifts; 1 feedforward spikes/rates of this step arrive; 2 soma and rate;
  3 per-step part of the spike draw (lag shift, ``S = 0``); 4 threshold (the ``spike`` event) and
  reset (the counts, see ``equations.POISSON_NEURONS``); 5 this layer's spikes reach the apical rings of the layers it feeds back
  to (read by them at the next step: the one-step feedback lag).
* ``end``: window averages (10), read-outs (15), plasticity at the end of the target phase
  (errors 19, collectors 20, biases and ring corrections 25 on the `update` event, weights 30), window reset (50), controller (90).
"""

from __future__ import annotations

import math

import numpy as np
from brian2 import (
    Clock,
    Equations,
    EventMonitor,
    Function,
    Network,
    NeuronGroup,
    Synapses,
    TimedArray,
    linked_var,
    ms,
)
from brian2.core.network import Network as _BrianNetwork

from . import equations as eq
from .codegen import dense_rows_code_object
from .config import ModelConfig
from .weights import check_weights, feedback_shape, initial_weights

__all__ = ["Layer", "SegregatedDendriteNetwork", "stop_run"]

#: presynaptic side of learning: inputs whose window average is 0 change no weight (exact skip)
PHASE_LEARN_PRE = eq.PHASE_EVENTS["learn"] + " and pbar_f != 0"


# ---------------------------------------------------------------------------------------------
# A function that ends the current run from generated code (after the chunk's last example).
def _stop_python(x):
    if len(x):
        _BrianNetwork._globally_stopped = True
    return 0.0 * x


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


class Layer:
    """The Brian objects of one layer, reachable by attribute and by iteration.

    Attributes
    ----------
    name : str
        ``'input'``, ``'hidden1'`` ... ``'output'``.
    neurons : NeuronGroup
        The layer's neurons (variables ``d``, ``a``, ``u``, ``r``, ``S``, windows, ...).
    ff : Synapses or None
        Feedforward weights ``w`` from the layer below (W of spec §1).
    fb : Synapses or None
        Feedback weights ``y`` into this layer's apical compartments (Y of spec §1); ``None`` for
        symmetric feedback, which reads ``w`` of the layer above through its ``post`` pathway.
    collectors : list of NeuronGroup
        One-neuron groups that sum the per-lag corrections of rank-one weight updates.
    """

    def __init__(self, name, neurons):
        self.name = name
        self.neurons = neurons
        self.ff = None
        self.fb = None
        self.collectors = []

    def __iter__(self):
        yield self.neurons
        for obj in (self.ff, self.fb, *self.collectors):
            if obj is not None:
                yield obj

    def __repr__(self):
        return f"<Layer {self.name}: {self.neurons.N} neurons>"


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
    ``<layer>_fb``; add :attr:`objects` (or the layers) to your own ``Network``. Read-outs are the
    ``EventMonitor`` s :attr:`forward_readout` (output ``u_f`` at each training example's forward end)
    and :attr:`example_readout` (output ``u_f`` at the end of each example).

    Examples
    --------
    >>> from brian2 import StateMonitor
    >>> net = SegregatedDendriteNetwork(ModelConfig(n_hidden=(30,)), seed=1)
    >>> mon = StateMonitor(net.layer("hidden1").neurons, ["d", "a", "u"], record=[0, 1])
    """

    def __init__(self, config=None, weights=None, seed=None, capacity=100, replay=False, replay_steps=1):

        self.config = config = config if config is not None else ModelConfig()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config must be a ModelConfig, got {type(config).__name__}")
        if weights is None:
            weights = initial_weights(config, np.random.default_rng(seed))
        check_weights(config, weights)
        self.capacity = int(capacity)
        self.replay = bool(replay)
        self.replay_steps = int(replay_steps)
        self.kappa = config.kernel_values()
        sizes = config.layer_sizes
        self.n_layers = len(sizes)  # input, hidden..., output
        self.sparse_masks = weights.get("sparse_masks")
        self.feedback_index = {}  # hidden layer -> (rows, columns) of Y held by its fb synapses

        # Stimulus of one run: images, labels and phase lengths of up to `capacity` examples.
        # One row per clock step (equations read row k as f(k*dt)), so the grids align for any dt.
        row = config.dt * ms
        self.images = TimedArray(np.zeros((self.capacity, config.n_inputs)), dt=row, name="images")
        self.labels = TimedArray(np.zeros(self.capacity), dt=row, name="labels")
        self.forward_lengths = TimedArray(
            np.full(self.capacity, float(config.forward_steps)), dt=row, name="forward_lengths"
        )
        self.target_lengths = TimedArray(
            np.full(self.capacity, float(config.target_steps)), dt=row, name="target_lengths"
        )
        self.replay_arrays = {}
        self.initial_values = {}
        self.recorded_neurons = {}  # layer name -> 0/1 mask of neurons taken by recorders
        self.dynamic_variables = {}  # group name -> state variables (zeroed in tests, carried across runs)
        self._namespace = {
            "images": self.images,
            "labels": self.labels,
            "forward_lengths": self.forward_lengths,
            "target_lengths": self.target_lengths,
            "stop_run": stop_run,
        }

        self._learn_code = {}
        #: the model's own clock (dt of the config), so that it can share a Network with other dt's
        self.clock = Clock(dt=config.dt * ms, name="segdend_clock*")
        self.controller = self._build_controller()
        self.layers = [self._build_neurons(l) for l in range(self.n_layers)]
        for l in range(1, self.n_layers):
            self._build_feedforward(l, weights["W"][l - 1])
        for l in range(1, self.n_layers - 1):
            self._build_feedback(l, weights["Y"][l - 1])
        self._set_biases(weights)
        for layer in self.layers[1:]:  # biases and ring corrections, once per example (spec §5)
            layer.neurons.run_on_event("update", "\n".join(self._learn_code[layer.name]), when="end", order=25)
        self.forward_readout = EventMonitor(
            self.output.neurons, "forward_end", variables=["u_f"], when="end", order=15, name="forward_readout"
        )
        self.example_readout = EventMonitor(
            self.output.neurons, "example_end", variables=["u_f"], when="end", order=15, name="example_readout"
        )
        self.network = Network(self.objects)

    # ------------------------------------------------------------------ access
    @property
    def input(self):
        return self.layers[0]

    @property
    def hidden(self):
        return self.layers[1:-1]

    @property
    def output(self):
        return self.layers[-1]

    def layer(self, name):
        """The :class:`Layer` called ``name`` (``'input'``, ``'hidden1'``, ..., ``'output'``)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {[l.name for l in self.layers]}")

    @property
    def objects(self):
        """Every Brian object of the model, to add to a ``Network``."""
        objs = [self.controller]
        for layer in self.layers:
            objs.extend(layer)
        readouts = [getattr(self, n) for n in ("forward_readout", "example_readout") if hasattr(self, n)]
        return objs + readouts

    def __iter__(self):
        return iter(self.objects)

    # ------------------------------------------------------------------ stimulus
    def stimulus(self, images, labels, train, forward_lengths=None, target_lengths=None, record=False):
        """Values of the stimulus ``TimedArray`` s and controller settings for one run.

        Returns ``({TimedArray: values}, {controller variable: value})``; see :meth:`load_examples`.
        """
        cfg, cap = self.config, self.capacity
        n = len(images)
        if n > cap:
            raise ValueError(f"{n} examples do not fit in one run of this network (capacity={cap})")
        T_f, T_t = self.phase_lengths(n, train, forward_lengths, target_lengths)
        values = {
            self.images: np.zeros((cap, cfg.n_inputs)),
            self.labels: np.zeros(cap),
            self.forward_lengths: np.ones(cap),
            self.target_lengths: np.zeros(cap),
        }
        values[self.images][:n] = images
        values[self.labels][:n] = labels
        values[self.forward_lengths][:n] = T_f
        values[self.target_lengths][:n] = T_t
        controls = {
            "n_examples": n,
            "plastic": int(train),
            "K_t": cfg.window_steps,
            "K_f": cfg.window_steps if train else cfg.test_window_steps,
            "recording": int(record),
        }
        return values, controls

    def phase_lengths(self, n, train, forward_lengths=None, target_lengths=None):
        """Forward and target lengths of ``n`` examples: given, else the configured minima (training),
        or ``test_steps`` and 0 (testing, spec §7)."""
        cfg = self.config
        if not train:
            return np.full(n, cfg.test_steps), np.zeros(n, dtype=int)
        T_f = np.full(n, cfg.forward_steps) if forward_lengths is None else np.asarray(forward_lengths)
        T_t = np.full(n, cfg.target_steps) if target_lengths is None else np.asarray(target_lengths)
        return T_f, T_t

    def load(self, stimulus, controls):
        """Write :meth:`stimulus` output into the objects (runtime, or standalone before the build)."""
        for ta, values in stimulus.items():
            ta.values[:] = values
        for name, value in controls.items():
            setattr(self.controller, name, value)
        self.controller.example = self.controller.step = self.controller.run_step = 0

    def load_examples(self, images, labels, train=False, forward_lengths=None, target_lengths=None, record=False):
        """Prepare a run of your own ``Network`` over these examples; returns its maximal duration.

        The run stops by itself after the last example (``stop_run``), read-outs are in
        :attr:`example_readout` / :attr:`forward_readout`.
        """
        values, controls = self.stimulus(images, labels, train, forward_lengths, target_lengths, record)
        self.load(values, controls)
        steps = int(np.sum(values[self.forward_lengths][: len(images)] + values[self.target_lengths][: len(images)]))
        return (steps + 1) * self.config.dt * ms

    # ------------------------------------------------------------------ construction
    def _build_controller(self):
        ctrl = NeuronGroup(
            1,
            eq.CONTROLLER,
            events={"done": "example >= n_examples"},
            clock=self.clock,
            namespace=self._namespace,
            name="controller",
        )
        ctrl.run_regularly(eq.CONTROLLER_PHASE_LENGTHS, when="start", order=-10, name="controller_phases")
        ctrl.run_regularly(eq.CONTROLLER_ADVANCE, when="end", order=90, name="controller_advance")
        ctrl.thresholder["done"].when, ctrl.thresholder["done"].order = "end", 95
        ctrl.run_on_event("done", "stopped = stop_run(stopped)", when="end", order=96)
        cfg = self.config
        ctrl.K_f, ctrl.K_t, ctrl.plastic, ctrl.n_examples = cfg.window_steps, cfg.window_steps, 1, 0
        ctrl.recording = 0
        return ctrl

    def _order(self, l, k):
        """Schedule order of operation ``k`` of layer ``l`` within the ``groups`` slot."""
        return 100 * l + 10 * k

    def _layer_name(self, l):
        if l == 0:
            return "input"
        if l == self.n_layers - 1:
            return "output"
        return f"hidden{l}"

    def _feeds_forward(self, l):
        return l < self.n_layers - 1

    def feedback_shape(self, l):
        """Shape of Y_l (hidden layer ``l``, 1-based)."""
        return feedback_shape(self.config, l)

    def _feedback_targets(self, l):
        """Hidden layers whose apical compartment receives layer ``l``'s activity."""
        if l == 0:
            return []
        L = self.n_layers - 2
        if self.config.broadcast:
            return list(range(1, L + 1)) if l == L + 1 else []
        return [l - 1] if 1 <= l - 1 <= L else []

    def _is_feedback_source(self, l):
        return bool(self._feedback_targets(l))

    def _spiking_source(self, l):
        """Whether any consumer of layer ``l`` reads its (filtered) spikes."""
        cfg = self.config
        return (self._feeds_forward(l) and cfg.spiking_feedforward) or (
            self._is_feedback_source(l) and cfg.spiking_feedback
        )

    def _n_lags(self, l):
        """How many past counts (S_1 ...) layer ``l`` keeps (truncated kernel only)."""
        cfg = self.config
        if cfg.kernel != "truncated" or not self._spiking_source(l):
            return 0
        learns_from_lag = self._is_feedback_source(l) and cfg.spiking_feedback and self._learns_feedback()
        return cfg.spike_memory if learns_from_lag else cfg.spike_memory - 1

    def _build_neurons(self, l):
        cfg = self.config
        name = self._layer_name(l)
        N = cfg.layer_sizes[l]
        hidden = 0 < l < self.n_layers - 1
        is_output = l == self.n_layers - 1
        kappa = self.kappa
        Nmem = cfg.spike_memory
        o = lambda k: self._order(l, k)  # noqa: E731

        model = Equations(eq.PHASE) + Equations("S : integer  # spike count emitted this step")
        lags = eq.lag_names("S", self._n_lags(l), first=1)
        model += eq.variables(lags, "integer")
        source_code = []  # end of step: window accumulation of this layer's output as a source
        reset_vars = ["S", *lags]
        window_reset = []
        if l == 0:
            model += Equations(eq.INPUT)
        elif hidden:
            model += Equations(eq.HIDDEN) + Equations(eq.HIDDEN_LEARNING)
            reset_vars += ["a", "u", "r"]
            window_reset += ["u_f", "a_f", "a_t"]
            if self._learns_feedback():
                model += Equations(eq.FEEDBACK_LEARNING)
        else:
            model += Equations(eq.OUTPUT) + Equations(eq.OUTPUT_LEARNING)
            reset_vars += ["u", "r"]
            window_reset += ["u_f", "r_t"]

        # --- basal input (spec §2): ring of weighted spikes, exponential accumulators, or rates
        prepare = []
        if l > 0:
            if not cfg.spiking_feedforward:
                model += Equations("d_ff : 1")
            elif cfg.kernel == "truncated":
                ring = eq.lag_names("D", Nmem)
                model += eq.variables(ring) + Equations(f"d_ff = {eq.fir_sum(ring, kappa)} : 1")
                prepare.append(eq.shift_code(ring, "0"))
                reset_vars += ring
            else:
                model += Equations("A_L : 1\nA_s : 1\nd_ff = A_L - A_s : 1")
                prepare.append(f"A_L = A_L*{math.exp(-1 / cfg.tau_L)!r}\nA_s = A_s*{math.exp(-1 / cfg.tau_s)!r}")
                reset_vars += ["A_L", "A_s"]
        # --- apical input (hidden only), computed before the feedback source updates this step
        if hidden:
            if cfg.spiking_feedback and cfg.kernel == "truncated":
                ring = eq.lag_names("B", Nmem)
                model += eq.variables(ring)
                prepare.insert(0, f"a = {eq.fir_sum(ring, kappa)} + c + a_ext\n" + eq.shift_code(ring, "0"))
                reset_vars += ring
            elif cfg.spiking_feedback:
                model += Equations("B_L : 1\nB_s : 1")
                prepare.insert(
                    0,
                    f"a = B_L - B_s + c + a_ext\nB_L = B_L*{math.exp(-1 / cfg.tau_L)!r}\n"
                    f"B_s = B_s*{math.exp(-1 / cfg.tau_s)!r}",
                )
                reset_vars += ["B_L", "B_s"]
            else:
                model += Equations("a_fb : 1")
                prepare.insert(0, "a = a_fb + c + a_ext")

        # --- this layer as a source: filtered output p and its forward-window average (spec §4)
        if self._feeds_forward(l):
            model += Equations("pbar_f : 1   # mean filtered output over the forward window")
            window_reset.append("pbar_f")
            source_code.append(f"pbar_f += ({self._filtered(l, lagged=False)})/K_f")
        if self._is_feedback_source(l) and self._learns_feedback():
            model += Equations("qbar_f : 1   # mean of the feedback this layer sent (one step late)")
            window_reset.append("qbar_f")
            source_code.append(f"qbar_f += ({self._filtered(l, lagged=True)})/K_f")
        if self._spiking_source(l) and cfg.kernel == "untruncated":
            model += Equations("x_L : 1\nx_s : 1\np_prev : 1")
            reset_vars += ["x_L", "x_s", "p_prev"]
        if l > 0 and self._is_feedback_source(l) and not cfg.spiking_feedback and self._learns_feedback():
            model += Equations("r_prev : 1")
            reset_vars.append("r_prev")

        for prefix in self._collector_prefixes(l):
            model += eq.variables(eq.lag_names(prefix, self._n_sums()), "1 (linked)")

        spikes = self._spike_generation(l)
        draw_state = Equations(spikes["variables"])
        model += draw_state
        reset_vars += list(draw_state.names)
        conditions = {**eq.PHASE_EVENTS, "learn_pre": PHASE_LEARN_PRE}
        events = {
            ev: conditions[ev]
            for ev in self._events(l, bool(source_code), bool(window_reset), bool(spikes["new_example"]))
        }
        reset = "\n".join(filter(None, [spikes["reset"], self._trace_increments(l)]))
        group = NeuronGroup(
            N,
            model,
            threshold=spikes["threshold"],
            reset=reset,
            events=events,
            clock=self.clock,
            namespace=self._namespace,
            name=f"{name}_neurons",
        )
        group.thresholder["spike"].when, group.thresholder["spike"].order = "groups", o(4)
        if reset:
            group.resetter["spike"].when, group.resetter["spike"].order = "groups", o(4) + 1
        for ev, (when, order) in {
            "learn": ("end", 18),
            "learn_pre": ("end", 18),
            "update": ("end", 18),
            "example_end": ("end", 12),
            "forward_end": ("end", 12),
            "example_start": ("start", -5),
            "new_example": ("start", -5),
            "forward_window": ("end", 9),
            "record": ("end", 5),
        }.items():
            if ev in group.thresholder:
                group.thresholder[ev].when, group.thresholder[ev].order = when, order
        for var in ("step", "example", "run_step", "T_f", "T_t", "K_f", "K_t", "plastic", "recording"):
            setattr(group, var, linked_var(self.controller, var))
        group.lambda_step = cfg.lambda_step
        if l > 0:
            group.g_L, group.g_B = cfg.g_L, cfg.g_B
            group.eta_P = cfg.learning_rates[l - 1] * (cfg.P_output if is_output else cfg.P_hidden)
        if hidden:
            group.g_A, group.k_B = cfg.g_A_effective, cfg.k_B
            if self._learns_feedback():
                group.eta_Y = cfg.feedback_learning_rates[l - 1]
        if is_output:
            group.k_D, group.E_E, group.E_I = cfg.k_D, cfg.E_E, cfg.E_I
            group.class_index = np.arange(N) // cfg.units_per_class

        # --- per-step operations in REF order
        if prepare:
            group.run_regularly("\n".join(prepare), when="groups", order=o(0), name=f"{name}_prepare")
        if l > 0:
            if hidden:
                soma = eq.SOMA_DYNAMIC_HIDDEN if cfg.conductances else eq.SOMA_STEADY_HIDDEN
            else:
                soma = eq.SOMA_DYNAMIC_OUTPUT if cfg.conductances else eq.SOMA_STEADY_OUTPUT
            group.run_regularly(soma + "\n" + eq.RATE_UPDATE, when="groups", order=o(2), name=f"{name}_soma")
        group.run_regularly(self._draw_code(l, lags, spikes), when="groups", order=o(3), name=f"{name}_draw")
        if spikes["new_example"]:
            group.run_on_event("new_example", spikes["new_example"], when="start", order=-3)
        if l > 0:
            windows = eq.HIDDEN_WINDOWS if hidden else eq.OUTPUT_WINDOWS
            group.run_regularly(windows, when="end", order=10, name=f"{name}_windows")
        if source_code:
            group.run_on_event("forward_window", "\n".join(source_code), when="end", order=10)
        if "p_prev" in reset_vars or "r_prev" in reset_vars:
            keep = "p_prev = x_L - x_s" if "p_prev" in reset_vars else "r_prev = r"
            group.run_regularly(keep, when="end", order=11, name=f"{name}_keep_previous")
        if l > 0:
            errors = [eq.HIDDEN_ERROR if hidden else eq.OUTPUT_ERROR]
            if hidden and self._learns_feedback():
                errors.append(eq.FEEDBACK_ERROR)
            # errors first (order 19), so that the collectors (order 20) can read them
            group.run_on_event("learn", "\n".join(errors), when="end", order=19)
            learn = ["b += eta_P*error"]
            if hidden and self._learns_feedback() and cfg.feedback_bias:
                learn.append("c += eta_Y*error_Y")
            self._learn_code[name] = learn
        if window_reset:
            group.run_on_event("example_end", "\n".join(f"{v} = 0" for v in window_reset), when="end", order=50)
        group.run_on_event("example_start", "\n".join(f"{v} = 0" for v in reset_vars), when="start", order=-4)
        self.dynamic_variables[group.name] = reset_vars + window_reset
        return Layer(name, group)

    def _n_sums(self):
        return self.config.spike_memory if self.config.kernel == "truncated" else 2

    def _collector_prefixes(self, l):
        """Per-lag correction sums that layer ``l`` receives (see :meth:`_add_collector`)."""
        cfg = self.config
        prefixes = []
        if l > 0 and cfg.spiking_feedforward:
            prefixes.append("s_ff")
        if (
            0 < l < self.n_layers - 1
            and self._learns_feedback()
            and cfg.spiking_feedback
            and not (cfg.sparse_feedback and cfg.sparse_feedback_rescale_each_example)
        ):
            prefixes.append("s_fb")
        if self._corrects_symmetric_feedback(l):
            prefixes.append("s_sym")
        return prefixes

    def _corrects_symmetric_feedback(self, l):
        """Whether hidden layer ``l``'s apical ring is corrected after each update of W_{l+1} (spiking
        symmetric feedback, Y_l = W_{l+1}^T: the update of Y_l is rank one too). Sparse symmetric
        feedback masks the update, so it is not corrected (documented as approximate)."""
        cfg = self.config
        return (
            cfg.symmetric_weights
            and cfg.spiking_feedback
            and not cfg.sparse_feedback
            and 0 < l < self.n_layers - 1
            and l in self._feedback_targets(l + 1)
        )

    def _learns_feedback(self):
        return self.config.update_feedback_weights and not self.config.symmetric_weights

    def _filtered(self, l, lagged):
        """Expression of layer ``l``'s filtered output p(t) (or p(t-1) if ``lagged``), spec §2."""
        cfg = self.config
        if l == 0 and not cfg.spiking_feedforward:
            return "r"
        if (
            not self._spiking_source(l)
            or (lagged and not cfg.spiking_feedback)
            or (not lagged and not cfg.spiking_feedforward)
        ):
            return "r_prev" if lagged else "r"
        if cfg.kernel == "untruncated":
            return "p_prev" if lagged else "x_L - x_s"
        names = eq.lag_names("S", cfg.spike_memory, first=1 if lagged else 0)
        names = ["S" if n == "S_0" else n for n in names]
        return eq.fir_sum(names, self.kappa)

    def _events(self, l, windows_in, windows_reset, new_example):
        """Names of the per-example events group ``l`` needs (each costs a check per neuron and step)."""
        needed = ["example_start", "record"]
        needed += ["learn", "update"] if l > 0 else []
        needed += ["learn_pre"] if self._feeds_forward(l) else []
        needed += ["forward_end"] if l == self.n_layers - 1 else []
        needed += ["forward_window"] if windows_in else []
        needed += ["example_end"] if windows_reset else []
        needed += ["new_example"] if new_example else []
        return needed

    def _spike_generation(self, l):
        """How layer ``l`` draws its spike counts: a dict of :mod:`equations`' spike-count forms."""
        cfg = self.config
        if self.replay:
            name = f"replay_{self._layer_name(l)}"
            self.replay_arrays[l] = TimedArray(
                np.zeros((self.replay_steps, cfg.layer_sizes[l])), dt=cfg.dt * ms, name=name
            )
            self._namespace[name] = self.replay_arrays[l]
            return {**eq.REPLAY, "step": eq.REPLAY["step"].format(array=name)}
        if cfg.spike_counts == "bernoulli":
            return eq.BERNOULLI
        return eq.POISSON_INPUT if l == 0 else eq.POISSON_NEURONS

    def _draw_code(self, l, lags, spikes):
        """Per-step code before the threshold: lag shift, ``S = 0`` (or replay), trace decay."""
        lines = [eq.shift_code(lags, "S")] if lags else []
        lines.append(spikes["step"])
        if self._spiking_source(l) and self.config.kernel == "untruncated":
            lines.append(f"x_L = x_L*{math.exp(-1 / self.config.tau_L)!r}")
            lines.append(f"x_s = x_s*{math.exp(-1 / self.config.tau_s)!r}")
        return "\n".join(lines)

    def _trace_increments(self, l):
        """Reset code adding this step's spikes to the untruncated traces (``x*decay + c*S`` in two parts)."""
        cfg = self.config
        if not (self._spiking_source(l) and cfg.kernel == "untruncated"):
            return ""
        cL = math.exp(-1 / cfg.tau_L) / (cfg.tau_L - cfg.tau_s)
        cs = math.exp(-1 / cfg.tau_s) / (cfg.tau_L - cfg.tau_s)
        return f"x_L = x_L + {cL!r}*S\nx_s = x_s + {cs!r}*S"

    def _spike_add_code(self, target_prefix, weight):
        """Synaptic code adding this step's weighted spikes to the receiving ring/accumulators."""
        cfg = self.config
        if cfg.kernel == "truncated":
            return f"{target_prefix}_0_post += {weight}*S_pre"
        cL = math.exp(-1 / cfg.tau_L) / (cfg.tau_L - cfg.tau_s)
        cs = math.exp(-1 / cfg.tau_s) / (cfg.tau_L - cfg.tau_s)
        return f"{target_prefix}_L_post += {cL!r}*{weight}*S_pre\n{target_prefix}_s_post += {cs!r}*{weight}*S_pre"

    def _build_feedforward(self, l, W):
        cfg = self.config
        pre, post = self.layers[l - 1], self.layers[l]
        name = f"{post.name}_ff"
        model = "w : 1"
        symmetric_source = cfg.symmetric_weights and l >= 2 and (l - 1) in self._feedback_targets(l)
        if symmetric_source:
            # noise of noisy symmetric feedback: per entry (broadcast) or one scalar (QUIRK, spec §5)
            model += "\nfb_gain : 1 (constant)\nfb_noise : 1" + ("" if cfg.broadcast else " (shared)")
        on_pre, on_event = {}, {}
        if cfg.spiking_feedforward:
            on_pre["pre"], on_event["pre"] = (
                self._spike_add_code("D" if cfg.kernel == "truncated" else "A", "w"),
                "spike",
            )
        else:
            model += "\nd_ff_post = w*r_pre : 1 (summed)"
        update = "w += eta_P_post*error_post*pbar_f_pre"
        redraws_noise = symmetric_source and cfg.noisy_symmetric_weights and cfg.broadcast
        if redraws_noise:  # every synapse redraws its noise, so no presynaptic neuron may skip
            update += f"\nfb_noise = {cfg.symmetric_noise_sd!r}*randn()"
        on_pre["learn"], on_event["learn"] = update, "learn" if redraws_noise else "learn_pre"
        on_post = None
        if symmetric_source and cfg.spiking_feedback:
            y = "fb_gain*(w + fb_noise)" if cfg.noisy_symmetric_weights else "fb_gain*w"
            code = self._spike_add_code("B", y).replace("_post +=", "_pre +=").replace("S_pre", "S_post")
            on_post, on_event["post"] = code, "spike"
        elif symmetric_source:
            y = "fb_gain*(w + fb_noise)" if cfg.noisy_symmetric_weights else "fb_gain*w"
            model += f"\na_fb_pre = {y}*r_post : 1 (summed)"
        syn = Synapses(
            pre.neurons,
            post.neurons,
            model=model,
            on_pre=on_pre,
            on_post=on_post,
            on_event=on_event,
            clock=self.clock,
            namespace=self._namespace,
            name=name,
            codeobj_class=dense_rows_code_object(),
        )  # all-to-all in presynaptic order
        n_pre, n_post = W.shape[1], W.shape[0]
        syn.connect(i=np.repeat(np.arange(n_pre), n_post), j=np.tile(np.arange(n_post), n_pre))
        self._initial(syn, "w", W.T.ravel())
        if cfg.spiking_feedforward:
            syn.pre.when, syn.pre.order = "groups", self._order(l, 1)
        else:
            syn.summed_updaters["d_ff_post"].when = "groups"
            syn.summed_updaters["d_ff_post"].order = self._order(l, 1)
        syn.learn.when, syn.learn.order = "end", 30
        if symmetric_source:
            mask = self.sparse_masks[l - 2] if (cfg.sparse_feedback and self.sparse_masks) else None
            gain = np.ones((n_post, n_pre)) if mask is None else np.where(mask.T, 0.0, cfg.sparse_scale)
            syn.fb_gain = gain.T.ravel()
            self._initial(syn, "fb_noise", np.zeros(n_pre * n_post if cfg.broadcast else 1))
            if on_post is not None:
                syn.post.when, syn.post.order = "groups", self._order(l, 5)
            else:
                syn.summed_updaters["a_fb_pre"].when = "groups"
                syn.summed_updaters["a_fb_pre"].order = self._order(l - 1, -1)
            if cfg.noisy_symmetric_weights and not cfg.broadcast:
                # QUIRK (spec §5): one scalar noise value for all entries, redrawn after each example
                syn.run_regularly(
                    f"fb_noise = fb_noise + int(plastic_post == 1 and step_post == T_f_post + T_t_post - 1)"
                    f"*({cfg.symmetric_noise_sd!r}*randn() - fb_noise)",
                    when="end",
                    order=45,
                )
        post.ff = syn
        if symmetric_source and self._corrects_symmetric_feedback(l - 1):
            self._add_collector(post, pre, "eta_P_pre*error", "B", "pbar_f", "s_sym")
        if cfg.spiking_feedforward:
            self._add_collector(
                pre, post, "pbar_f", "D" if cfg.kernel == "truncated" else "A", "eta_P*error", "s_ff", event="learn_pre"
            )

    def _build_feedback(self, l, Y):
        """Feedback weights Y_l into hidden layer ``l`` (spec §1), unless they mirror W (symmetric)."""
        cfg = self.config
        if cfg.symmetric_weights:
            return
        target = self.layers[l]
        src_index = self.n_layers - 1 if cfg.broadcast else l + 1
        source = self.layers[src_index]
        learn = self._learns_feedback()
        model = "y : 1"
        on_pre, on_event = {}, {}
        if cfg.spiking_feedback:
            on_pre["pre"], on_event["pre"] = self._spike_add_code("B", "y"), "spike"
        else:
            model += "\na_fb_post = y*r_pre : 1 (summed)"
        if learn:
            rescale = (
                "*" + repr(cfg.sparse_scale)
                if (cfg.sparse_feedback and cfg.sparse_feedback_rescale_each_example)
                else ""
            )
            on_pre["learn"] = f"y = (y + eta_Y_post*error_Y_post*qbar_f_pre){rescale}"
            on_event["learn"] = "learn"
        mask = self.sparse_masks[l - 1] if (cfg.sparse_feedback and self.sparse_masks) else np.zeros(Y.shape, bool)
        syn = Synapses(
            source.neurons,
            target.neurons,
            model=model,
            on_pre=on_pre or None,
            on_event=on_event if on_pre else "spike",
            clock=self.clock,
            namespace=self._namespace,
            name=f"{target.name}_fb",  # all-to-all in presynaptic order unless sparse
            codeobj_class=None if mask.any() else dense_rows_code_object(),
        )
        post_idx, pre_idx = np.nonzero(~mask)  # Y[post, pre]; sparse entries are not connected
        order = np.lexsort((post_idx, pre_idx))
        pre_idx, post_idx = pre_idx[order], post_idx[order]
        syn.connect(i=pre_idx, j=post_idx)
        self._initial(syn, "y", Y[post_idx, pre_idx])
        self.feedback_index[l] = (post_idx, pre_idx)
        if cfg.spiking_feedback:
            syn.pre.when, syn.pre.order = "groups", self._order(src_index, 5)
        else:
            syn.summed_updaters["a_fb_post"].when = "groups"
            syn.summed_updaters["a_fb_post"].order = self._order(l, -1)
        if learn:
            syn.learn.when, syn.learn.order = "end", 30
        target.fb = syn
        if "s_fb" in self._collector_prefixes(l):
            self._add_collector(source, target, "qbar_f", "B", "eta_Y*error_Y", "s_fb")

    def _add_collector(self, source, target, pre_average, ring, post_factor, prefix, event="learn"):
        """Exact correction of spikes in memory after a rank-one weight update (spec §10.3).

        The receiving ring of ``target`` holds, per lag k, the weighted counts ``sum_j w_ij S_j(t-k)``.
        After ``dW = eta e avg^T`` each lag gains ``eta e_i * sum_j avg_j S_j(t-k)``; a one-neuron group
        sums the scalar per lag once per example through a ``learn`` pathway of ``source``. With the
        untruncated kernel the same holds for the two accumulators and the source's traces.
        """
        cfg = self.config
        if cfg.kernel == "truncated":
            src = ["S"] + eq.lag_names("S", cfg.spike_memory - 1, first=1)
            targets = eq.lag_names(ring, cfg.spike_memory)
        else:
            src, targets = ["x_L", "x_s"], [f"{ring}_L", f"{ring}_s"]
        sums = eq.lag_names(prefix, len(targets))
        name = f"{target.name}_{prefix}"
        collector = NeuronGroup(
            1, eq.variables(sums), clock=self.clock, namespace=self._namespace, name=f"{name}_collector"
        )
        collector.run_regularly("\n".join(f"{s} = 0" for s in sums), when="end", order=19)
        code = "\n".join(f"{s}_post += {pre_average}_pre*{x}_pre" for s, x in zip(sums, src))
        path = Synapses(
            source.neurons,
            collector,
            on_pre=code,
            on_event=event,
            clock=self.clock,
            namespace=self._namespace,
            name=f"{name}_sum",
        )
        path.connect()
        path.pre.when, path.pre.order = "end", 20
        for s in sums:
            setattr(target.neurons, s, linked_var(collector, s, index=np.zeros(target.neurons.N, dtype=int)))
        self._learn_code[target.name] += [f"{t} += {post_factor}*{s}" for t, s in zip(targets, sums)]
        target.collectors.extend([collector, path])

    def _initial(self, obj, name, values):
        """Set a weight/bias array before the first run and remember it (standalone state)."""
        values = np.asarray(values, dtype=float)
        setattr(obj, name, values)
        self.initial_values[(obj.name, name)] = values.copy()

    def _set_biases(self, weights):
        for l in range(1, self.n_layers):
            self._initial(self.layers[l].neurons, "b", weights["b"][l - 1])
            if 0 < l < self.n_layers - 1:
                c = weights["c"][l - 1] if self.config.feedback_bias else np.zeros(self.layers[l].neurons.N)
                self._initial(self.layers[l].neurons, "c", c)
