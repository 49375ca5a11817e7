"""The dendritic cortical microcircuit (Sacramento et al. 2018) as plain Brian2 objects (spec §1, §8).

:class:`MicrocircuitNetwork` builds one ``NeuronGroup`` of pyramidal neurons per layer, one of
interneurons per hidden layer, ``Synapses`` for the four weight matrices, and a one-neuron controller
that counts steps and patterns. Patterns, targets and the nudge switch come from ``TimedArray`` s
indexed by the pattern counter, and the run stops itself after its last pattern, so chunks of
patterns rerun the same objects (runtime) or the same compiled binary (``cpp_standalone``).

Schedule of one step (``net.brian_network.scheduling_summary()`` prints it):

``continuous`` (spec §5.1, Jacobi: every right-hand side from the step-start state):
``groups`` 0 input filter; 1 rates ``r = phi(u)``; 2 dendritic sums (summed variables); 3 plasticity
brackets; 4 synaptic plasticity (W += dt eta Delta, then Delta); ``after_groups`` somata (interneurons
first, so that ``u_up`` is the step-start potential of the layer above).

``sweep`` (spec §5.2, one step per image): ``groups`` 10k+1..4 the forward pass of layer k (basal
sum, soma, interneuron sum, interneuron); from 10(N+1) the backward pass, output first, then per
hidden layer downwards interneuron, apical sums, soma. While learning, each group's pass ends by
storing this image's errors and presynaptic rates in ring slot ``batch_pos`` (and, at the end of a
minibatch, updating its bias); then the ``apply`` event of every presynaptic group adds the minibatch
mean to the learning matrices.

``end``: read-out of the output at each pattern's last step (``example_end``), controller.
"""

from __future__ import annotations

import numpy as np
from brian2 import Clock, EventMonitor, Network, NeuronGroup, TimedArray, linked_var, ms

from ..codegen import synapses
from ..model import Stimulus
from ..simulator import stop_run
from . import equations as eq
from .config import MicrocircuitConfig
from .schedule import schedule_continuous, schedule_sweep
from .tasks import class_targets
from .weights import KEYS, check_weights, initial_weights, self_prediction_distances

__all__ = ["MicrocircuitLayer", "MicrocircuitNetwork"]

#: (matrix key, Synapses attribute, dendritic sum, presynaptic rate in sweep, in continuous)
MATRICES = (
    ("ff", "v_ff", "r_ff", "r"),
    ("ip", "v_ip", "r_ff", "r"),
    ("td", "v_td", "r", "r"),
    ("pi", "v_pi", "r", "r"),
)


class MicrocircuitLayer:
    """The Brian objects of one layer.

    Attributes
    ----------
    name : str
        ``'input'``, ``'hidden1'`` ... ``'output'``.
    pyramidal : NeuronGroup
        Pyramidal neurons (``u``, ``r``, ``v_B``, ``v_A``, ...); the input rates for ``'input'``.
    interneurons : NeuronGroup or None
        Interneurons of a hidden layer (``u``, ``r``, ``v_D``, ``u_up``).
    ff, td, ip, pi : Synapses or None
        W^PP_{k,k-1} (bottom-up, into the basal dendrites), W^PP_{k,k+1} (top-down, apical),
        W^IP_{k,k} (pyramidal to interneuron dendrites), W^PI_{k,k} (interneurons to apical); weight ``w``.
    """

    def __init__(self, name, pyramidal, interneurons=None):
        self.name = name
        self.pyramidal = pyramidal
        self.interneurons = interneurons
        self.ff = self.td = self.ip = self.pi = None

    def __iter__(self):
        for obj in (self.pyramidal, self.interneurons, self.ff, self.td, self.ip, self.pi):
            if obj is not None:
                yield obj

    def __repr__(self):
        extra = f" + {self.interneurons.N} interneurons" if self.interneurons is not None else ""
        return f"<MicrocircuitLayer {self.name}: {self.pyramidal.N} pyramidal{extra}>"


class MicrocircuitNetwork:
    """A dendritic-microcircuit network as Brian2 objects.

    Parameters
    ----------
    config : MicrocircuitConfig
    weights : dict, optional
        Initial weights (see :mod:`brian_segdend.microcircuits.weights`); drawn from ``seed`` if omitted.
    seed : int, optional
        Seed of the initial weights (numpy).
    capacity : int
        Most patterns one run (chunk) presents; sizes the stimulus ``TimedArray`` s.
    probes : bool
        Also record every hidden layer at the end of each pattern (pyramidal ``u``, ``v_A``;
        interneuron ``u``), for the self-prediction check; costs a little per pattern.

    Notes
    -----
    Objects: ``controller``, ``input_neurons``, then per layer ``<layer>_pyramidal``,
    ``<layer>_interneurons``, ``<layer>_ff``, ``<layer>_td``, ``<layer>_ip``, ``<layer>_pi``; the
    read-outs are ``EventMonitor`` s at the end of each pattern: :attr:`readouts` ``['output']``
    (output ``u`` and feedforward ``u_ff``) and, with ``probes``, ``['<layer>']`` and
    ``['<layer>_interneurons']``. Add :attr:`objects` to your own ``Network`` to combine them with yours.

    Examples
    --------
    >>> from brian2 import StateMonitor
    >>> net = MicrocircuitNetwork(MicrocircuitConfig(), seed=1)
    >>> mon = StateMonitor(net.layer("hidden1").pyramidal, ["u", "v_B", "v_A"], record=[0, 1])
    """

    def __init__(self, config=None, weights=None, seed=None, capacity=100, probes=False):
        self.config = cfg = config if config is not None else MicrocircuitConfig()
        if not isinstance(cfg, MicrocircuitConfig):
            raise TypeError(f"config must be a MicrocircuitConfig, got {type(cfg).__name__}")
        if weights is None:
            weights = initial_weights(cfg, np.random.default_rng(seed))
        check_weights(cfg, weights)
        if int(capacity) < 1:
            raise ValueError(f"capacity={capacity!r} is invalid: must be a positive integer")
        self.capacity = int(capacity)
        self.probes = bool(probes)
        self.sweep = cfg.dynamics == "sweep"
        self.N = cfg.n_layers
        #: noise amplitude of learning runs (``continuous``; the config's ``sigma``, changeable between runs)
        self.sigma = cfg.sigma
        #: the longest run: ``capacity`` patterns of the longer of training and test presentations
        self.max_duration = self.capacity * max(cfg.steps_per_example, cfg.steps_per_test) * cfg.dt * ms
        self.initial_values = {}  # (object name, variable) -> values before the first run
        self.dynamic_variables = {}  # object name -> state carried between patterns (and chunks)

        self.clock = Clock(dt=cfg.dt * ms, name="microcircuit_clock*")
        row = cfg.dt * ms  # tables of patterns have one row per clock step: f(example*dt) is row `example`
        self.patterns = TimedArray(np.zeros((self.capacity, cfg.n_inputs)), dt=row, name="patterns")
        self.targets = TimedArray(np.zeros((self.capacity, cfg.n_outputs)), dt=row, name="target_potentials")
        self.nudged = TimedArray(np.zeros(self.capacity), dt=row, name="nudged")
        #: the rate function phi (a Brian ``Function``; ``phi.pyfunc`` evaluates it in numpy)
        self.phi = eq.rate_function(cfg)
        self._namespace = {
            "patterns": self.patterns,
            "target_potentials": self.targets,
            "nudged": self.nudged,
            "phi": self.phi,
            "stop_run": stop_run,
            "minibatch": cfg.minibatch,
            "tau_in": cfg.tau_in * ms,
            "tau_w": cfg.tau_w * ms,
            "E_exc": cfg.E_exc,
            "E_inh": cfg.E_inh,
            "sqrt_ms": ms**0.5,
            **{g: getattr(cfg, g) / ms for g in ("g_lk", "g_B", "g_A", "g_D", "g_som")},
        }
        self.controller = self._build_controller()
        self.layers = [self._build_layer(k) for k in range(self.N + 1)]
        for k in range(1, self.N + 1):
            self._connect("ff", k, self.layers[k - 1].pyramidal, self.layers[k].pyramidal, weights["ff"][k - 1])
            self._initial(self.layers[k].pyramidal, "b", weights["b"][k - 1])
        for k in range(1, self.N):
            layer, above, inter = self.layers[k], self.layers[k + 1].pyramidal, self.layers[k].interneurons
            self._connect("ip", k, layer.pyramidal, inter, weights["ip"][k - 1])
            self._connect("td", k, above, layer.pyramidal, weights["td"][k - 1])
            self._connect("pi", k, inter, layer.pyramidal, weights["pi"][k - 1])
            self._initial(inter, "b", weights["b_I"][k - 1])
            inter.u_up = linked_var(above, "u")  # one-to-one nudging by the layer above (spec §2.4)
        self._schedule()
        self.readouts = {"output": self._readout(self.output.pyramidal, ["u", "u_ff"], "readout")}
        for layer in self.hidden if self.probes else []:
            self.readouts[layer.name] = self._readout(layer.pyramidal, ["u", "v_A"], f"{layer.name}_probe")
            name = f"{layer.name}_interneurons"
            self.readouts[name] = self._readout(layer.interneurons, ["u"], f"{name}_probe")
        self.brian_network = Network(self.objects)

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
        """The :class:`MicrocircuitLayer` called ``name`` (``'input'``, ``'hidden1'``, ..., ``'output'``)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {[l.name for l in self.layers]}")

    @property
    def objects(self):
        """Every Brian object of the model, to add to a ``Network``."""
        objs = [self.controller] + [obj for layer in self.layers for obj in layer]
        return objs + list(getattr(self, "readouts", {}).values())

    def __iter__(self):
        return iter(self.objects)

    def matrices(self):
        """``(key, k, Synapses)`` of every weight matrix, in the order of the weights dict."""
        for key in ("ff", "td", "ip", "pi"):
            for layer_index, layer in enumerate(self.layers):
                if getattr(layer, key) is not None:
                    yield key, layer_index, getattr(layer, key)

    # ------------------------------------------------------------------ the model interface (model.py)
    def draw_settings(self, n, rng, epoch=0):
        """The learning-rate factor of epoch ``epoch`` for each of its ``n`` examples (``eta_scale``,
        from the config's ``eta_schedule``); ``{}`` without a schedule. Nothing is random (patterns
        are held for ``T_pres``)."""
        return {"eta_scale": np.full(n, self.config.eta_scale(epoch))} if self.config.eta_schedule else {}

    def example_settings(self, n, learn, targets=None, eta_scale=None):
        """The given settings, checked: ``targets`` (n, n_outputs) target potentials, ``eta_scale`` (n,)
        factors on every learning rate.

        Without ``targets`` a training run nudges towards the class targets of the labels
        (:func:`~brian_segdend.microcircuits.tasks.class_targets`) and a test run does not nudge.
        A row of NaN presents a pattern without target. Without ``eta_scale`` the factor is 1; it
        is one value per run, so it may change only between chunks (at ``capacity`` boundaries).
        """
        settings = {}
        if targets is not None:
            targets = np.asarray(targets, dtype=float)
            if targets.shape != (n, self.config.n_outputs):
                raise ValueError(f"targets have shape {targets.shape}; expected ({n}, {self.config.n_outputs})")
            nan = np.isnan(targets)
            if np.any(nan.any(axis=1) & ~nan.all(axis=1)) or np.any(np.isinf(targets)):
                raise ValueError("each target row must be all finite (a target) or all NaN (no target)")
            settings["targets"] = targets
        if eta_scale is not None:
            scale = np.asarray(eta_scale, dtype=float)
            if scale.shape != (n,) or not np.all(np.isfinite(scale) & (scale >= 0)):
                raise ValueError(f"eta_scale={eta_scale!r} is invalid: expected {n} finite factors >= 0")
            chunks = [scale[i : i + self.capacity] for i in range(0, n, self.capacity)]
            if any(np.any(chunk != chunk[0]) for chunk in chunks):
                raise ValueError(
                    f"eta_scale changes inside a run of {self.capacity} examples; it may change only between runs"
                )
            settings["eta_scale"] = scale
        return settings

    def stimulus(self, images, labels, learn, record=False, targets=None, eta_scale=None):
        """The :class:`~brian_segdend.model.Stimulus` of one run: patterns, target potentials, nudging.

        Parameters
        ----------
        images : array (n, n_inputs)
            Input rates r_0.
        labels : array of int (n,) or None
            Classes; training without ``targets`` nudges towards their class targets.
        learn : bool
            Plasticity on (and noise :attr:`sigma`, in ``continuous``); patterns held ``T_pres``, else ``T_test``.
        targets : array (n, n_outputs), optional
            Target potentials (rows of NaN: no target).
        eta_scale : array (n,), optional
            Factor on every learning rate (one value per run; default 1).
        """
        cfg, cap, n = self.config, self.capacity, len(images)
        if n > cap:
            raise ValueError(f"{n} patterns do not fit in one run of this network (capacity={cap})")
        if targets is None:
            targets = (
                class_targets(cfg, labels) if learn and labels is not None else np.full((n, cfg.n_outputs), np.nan)
            )
        tables = {
            self.patterns: np.zeros((cap, cfg.n_inputs)),
            self.targets: np.zeros((cap, cfg.n_outputs)),
            self.nudged: np.zeros(cap),
        }
        has_target = ~np.isnan(targets).any(axis=1)
        tables[self.patterns][:n] = images
        tables[self.targets][:n][has_target] = targets[has_target]
        tables[self.nudged][:n] = has_target
        steps = cfg.steps_per_example if learn else cfg.steps_per_test
        ctrl = self.controller
        variables = {
            (ctrl, "n_examples"): n,
            (ctrl, "plastic"): int(learn),
            (ctrl, "steps_per_example"): steps,
            (ctrl, "eta_scale"): float(eta_scale[0]) if eta_scale is not None and n else 1.0,
        }
        if "sigma" in ctrl.variables:
            variables[(ctrl, "sigma")] = float(self.sigma) * bool(learn)
        return Stimulus(tables, variables, n * steps)

    def load(self, stimulus):
        """Write a stimulus into the objects and restart the pattern counters (runtime devices)."""
        stimulus.write()
        self.controller.example = self.controller.step = 0

    def state_variables(self, weights=True):
        """``{object: [variable, ...]}`` carried from run to run: dynamic state, and (``weights``)
        weights, biases and learning rates."""
        objs = {}
        for obj in [self.controller] + [o for layer in self.layers for o in layer]:
            names = list(self.dynamic_variables.get(obj.name, []))
            if weights:
                names += [name for (owner, name) in self.initial_values if owner == obj.name]
            if names:
                objs[obj] = names
        return objs

    def initial_value(self, obj, name):
        """Value before the first run: the initial weight, bias or rate, else zeros (a ``Synapses``
        variable has the size of the object's initial weights, unknown to Brian before the build)."""
        var = obj.variables[name]
        sizes = [np.size(v) for (owner, _), v in self.initial_values.items() if owner == obj.name]
        shape = (1,) if var.scalar else (max(sizes) if sizes else var.size,)
        initial = self.initial_values.get((obj.name, name))
        return np.array(np.zeros(shape) if initial is None else np.broadcast_to(initial, shape), dtype=var.dtype)

    def readout(self, learn):
        """The output at the last step of each pattern: its feedforward prediction ``u_ff`` while learning
        (the nudged soma would contain the target), the soma ``u`` at test."""
        return self.readouts["output"], "u_ff" if learn else "u"

    def predict(self, outputs):
        """Class of the output neuron with the highest rate (spec §6.3; first on ties)."""
        return np.argmax(self.phi.pyfunc(np.asarray(outputs)), axis=1)

    def read_weights(self, value):
        """``{'ff', 'b', 'td', 'ip', 'b_I', 'pi'}``: lists of arrays in the spec's shapes."""
        weights = {key: [] for key in KEYS}
        for key, _, syn in self.matrices():
            weights[key].append(np.array(value(syn, "w")).reshape(syn.source.N, syn.target.N).T.copy())
        for layer in self.layers[1:]:
            weights["b"].append(np.array(value(layer.pyramidal, "b")))
            if layer.interneurons is not None:
                weights["b_I"].append(np.array(value(layer.interneurons, "b")))
        return weights

    def write_weights(self, weights, assign):
        """Replace all weights and biases (validated: keys, shapes, finiteness)."""
        check_weights(self.config, weights)
        index = {key: 0 for key in KEYS}
        for key, _, syn in self.matrices():
            assign(syn, "w", np.asarray(weights[key][index[key]], float).T.ravel())
            index[key] += 1
        for k, layer in enumerate(self.layers[1:]):
            assign(layer.pyramidal, "b", np.asarray(weights["b"][k], float))
            if layer.interneurons is not None:
                assign(layer.interneurons, "b", np.asarray(weights["b_I"][k], float))

    def diagnostics(self, weights):
        """Distances of the interneuron weights from the self-predicting state (spec §4), per hidden layer."""
        return self_prediction_distances(self.config, weights)

    # ------------------------------------------------------------------ construction
    def _build_controller(self):
        cfg = self.config
        model = eq.CONTROLLER
        if cfg.dynamics == "continuous" and cfg.sigma > 0:
            model += "sigma : 1 (shared, constant)  # noise amplitude of this run (0 at test)\n"
        ctrl = NeuronGroup(
            1,
            model,
            events={"done": "example >= n_examples"},
            clock=self.clock,
            namespace=self._namespace,
            name="controller",
        )
        ctrl.run_regularly(eq.CONTROLLER_ADVANCE, when="end", order=10, name="controller_advance")
        ctrl.thresholder["done"].when, ctrl.thresholder["done"].order = "end", 11
        ctrl.run_on_event("done", "stopped = stop_run(stopped)", when="end", order=12)
        ctrl.steps_per_example, ctrl.plastic, ctrl.n_examples, ctrl.eta_scale = cfg.steps_per_example, 0, 0, 1.0
        self.dynamic_variables["controller"] = ["batch_pos"] if self.sweep else []
        return ctrl

    def _name(self, k):
        return "input" if k == 0 else ("output" if k == self.N else f"hidden{k}")

    def _rings(self, k):
        """Sweep rings of pyramidal layer ``k`` and of its interneurons: (pyramidal, interneuron)."""
        cfg, N = self.config, self.N
        if not self.sweep:
            return [], []
        pyr, inter = [], []
        if k >= 1 and cfg.plastic("ff", k):
            pyr.append("e")
        if k < N and (cfg.plastic("ff", k + 1) or (k >= 1 and cfg.plastic("ip", k))):
            pyr.append("q_ff")
        if k >= 2 and cfg.plastic("td", k - 1):
            pyr.append("q")
        if 1 <= k < N:
            pyr += [ring for kind, ring in (("td", "e_td"), ("pi", "e_pi")) if cfg.plastic(kind, k)]
            inter += (["e"] if cfg.plastic("ip", k) else []) + (["q"] if cfg.plastic("pi", k) else [])
        return pyr, inter

    def _group(self, name, N_neurons, model, rings, namespace, read_out=False):
        """A group linked to the controller; ``read_out``: with the ``example_end`` event (last step of a pattern)."""
        events = self._events(rings, name == "input_neurons")
        links = ["example", "plastic", "batch_pos"]
        if read_out:
            model = model + eq.Equations("step : integer (linked)\nsteps_per_example : integer (linked)")
            events["example_end"] = "step == steps_per_example - 1"
            links += ["step", "steps_per_example"]
        group = NeuronGroup(
            N_neurons, model, method="euler", events=events, clock=self.clock, namespace=namespace, name=name
        )
        for var in links:
            setattr(group, var, linked_var(self.controller, var))
        for var in ("sigma", "eta_scale"):
            if var in group.equations.names:
                setattr(group, var, linked_var(self.controller, var))
        return group

    def _events(self, rings, is_input):
        """``apply`` (sweep): the minibatch update, on groups presynaptic to a learning matrix."""
        if not any(prefix.startswith("q") for prefix in rings):
            return {}
        apply = "plastic == 1 and batch_pos == minibatch - 1"
        if is_input:  # input rows that were 0 in every image of the minibatch change nothing
            apply += " and (" + " or ".join(f"{q} != 0" for q in eq.lag_names("q_ff", self.config.minibatch)) + ")"
        return {"apply": apply}

    def _build_layer(self, k):
        cfg, N = self.config, self.N
        name = self._name(k)
        pyr_rings, inter_rings = self._rings(k)
        if k == 0:
            group = self._group(
                "input_neurons", cfg.n_inputs, eq.input_equations(cfg, pyr_rings), pyr_rings, self._namespace
            )
            self.dynamic_variables[group.name] = ([] if self.sweep else ["r"]) + self._ring_names(pyr_rings)
            return MicrocircuitLayer(name, group)
        kind = "output" if k == N else "hidden"
        etas = [f"eta_{m}" for m in (("ff",) if k == N else ("ff", "td", "pi")) if cfg.plastic(m, k)]
        bias_eta = "eta_ff" if cfg.biases and cfg.plastic("ff", k) else None
        namespace = {
            **self._namespace,
            "alpha": cfg.alpha(k),
            "lam": cfg.lambda_output if k == N else cfg.lambda_hidden,
        }
        model = eq.group_equations(cfg, kind, etas, bias_eta, pyr_rings)
        pyramidal = self._group(
            f"{name}_pyramidal", cfg.layer_sizes[k], model, pyr_rings, namespace, k == N or self.probes
        )
        self._track(pyramidal, etas, bias_eta, pyr_rings, k)
        interneurons = None
        if k < N:
            etas_i = ["eta_ip"] if cfg.plastic("ip", k) else []
            bias_i = "eta_ip" if cfg.biases and etas_i else None
            ns = {**self._namespace, "alpha": cfg.delta_I, "lam": cfg.lambda_I}
            model = eq.group_equations(cfg, "interneuron", etas_i, bias_i, inter_rings)
            interneurons = self._group(
                f"{name}_interneurons", cfg.layer_sizes[k + 1], model, inter_rings, ns, self.probes
            )
            self._track(interneurons, etas_i, bias_i, inter_rings, k, eta_kind="ip")
        return MicrocircuitLayer(name, pyramidal, interneurons)

    def _readout(self, group, variables, name):
        group.thresholder["example_end"].when, group.thresholder["example_end"].order = "end", 0
        return EventMonitor(group, "example_end", variables=variables, when="end", order=1, name=name)

    def _ring_names(self, rings):
        return [name for prefix in rings for name in eq.lag_names(prefix, self.config.minibatch)]

    def _track(self, group, etas, bias_eta, rings, k, eta_kind=None):
        """Record a group's carried state, and set its learning rates (carried like weights)."""
        cfg = self.config
        dynamic = self._ring_names(rings)
        if not self.sweep:
            dynamic = ["u"] + (["Delta_b"] if bias_eta else [])
        self.dynamic_variables[group.name] = dynamic
        for eta in etas:
            kind = eta_kind or eta[4:]
            rate = getattr(cfg, f"eta_{kind}")[k - 1]
            setattr(group, eta, rate)
            self.initial_values[(group.name, eta)] = np.array(rate)

    def _connect(self, key, k, source, target, W):
        """Synapses of matrix ``key`` of layer ``k`` (all-to-all in presynaptic order: dense rows)."""
        cfg = self.config
        _, target_var, rate_sweep, rate_cont = next(m for m in MATRICES if m[0] == key)
        plastic = cfg.plastic(key, k)
        error = {"ff": "err_post", "ip": "err_post", "td": "err_td_post", "pi": "(-v_A_post)"}[key]
        model = eq.synapse_equations(
            cfg, target_var, rate_sweep if self.sweep else rate_cont, error, f"eta_{key}", plastic
        )
        on_pre, on_event = {}, {}
        if plastic and self.sweep:
            error_ring = {"ff": "e", "ip": "e", "td": "e_td", "pi": "e_pi"}[key]
            on_pre["apply"] = eq.apply_code(cfg, error_ring, "q_ff" if rate_sweep == "r_ff" else "q", f"eta_{key}")
            on_event["apply"] = "apply"
        layer = self.layers[k]
        syn = synapses(
            source,
            target,
            model=model,
            method="euler",
            on_pre=on_pre or None,
            on_event=on_event or "spike",
            clock=self.clock,
            namespace=self._namespace,
            name=f"{layer.name}_{key}",
        )
        self._initial(syn, "w", np.asarray(W, float).T.ravel())
        self.dynamic_variables[syn.name] = ["Delta"] if plastic and not self.sweep else []
        setattr(layer, key, syn)

    def _initial(self, obj, name, values):
        """Set a weight or bias before the first run and remember it (standalone state)."""
        values = np.asarray(values, dtype=float)
        setattr(obj, name, values)
        self.initial_values[(obj.name, name)] = values.copy()

    # ------------------------------------------------------------------ schedule
    def _schedule(self):
        (schedule_sweep if self.sweep else schedule_continuous)(self)
