"""A layer's neurons: one ``NeuronGroup`` assembled from the parts of :mod:`~brian_segdend.equations`.

:func:`build_layer` splits the work the way the model reads: the layer's compartments, its basal
input, its apical input (hidden layers), what it averages as a source, its learning rule and its
spike draw are :class:`Part` s; their code runs as the scheduled operations
of :data:`OPERATIONS` (slots of :mod:`~brian_segdend.schedule`). Which parts a layer has follows from
:mod:`~brian_segdend.topology`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import Equations, NeuronGroup, Synapses, linked_var

from . import equations as eq
from . import schedule, topology
from .codegen import dense_rows_code_object
from .config import ModelConfig

__all__ = [
    "Layer",
    "Part",
    "OPERATIONS",
    "PHASE_CLOCK",
    "build_layer",
    "build_controller",
    "add_collector",
    "layer_parts",
    "compartments",
    "basal_input",
    "apical_input",
    "source_averages",
    "learning",
    "spike_draw",
]

#: Operations of a layer's neurons: name -> (schedule slot, event that triggers it; None: every step).
OPERATIONS = {
    "zero_state": ("zero_state", "example_start"),
    "fresh_draws": ("fresh_draws", "new_example"),
    "prepare": ("prepare", None),
    "shift": ("shift", None),
    "soma": ("soma", None),
    "draw": ("draw", None),
    "windows": ("windows", None),
    "averages": ("windows", "learning_window"),
    "keep_previous": ("keep_previous", None),
    "errors": ("errors", "learn"),
    "backprop": ("backprop_error", "backprop"),
    "update": ("update", "update"),
    "window_reset": ("window_reset", "example_end"),
}
#: Variables every layer links to the controller (the phase clock of ``equations.PHASE``).
PHASE_CLOCK = ("step", "example", "run_step", "T_f", "T_t", "K_f", "K_t", "plastic", "recording")


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
    collectors : list of NeuronGroup and Synapses
        One-neuron groups (and their pathways) that sum the corrections of rank-one weight updates.
    """

    def __init__(self, name: str, neurons: NeuronGroup):
        self.name = name
        self.neurons = neurons
        self.ff = None
        self.fb = None
        self.collectors = []
        #: dynamic variables of the neurons: zeroed in test runs, carried from run to run
        self.state = []

    def __iter__(self):
        yield self.neurons
        for obj in (self.ff, self.fb, *self.collectors):
            if obj is not None:
                yield obj

    def __repr__(self):
        return f"<Layer {self.name}: {self.neurons.N} neurons>"


def build_layer(config: ModelConfig, l: int, form: dict, controller: NeuronGroup, **group_options) -> Layer:
    """Layer ``l``'s neurons with their scheduled operations, linked to the ``controller``'s phase clock.

    ``form`` is the spike-count form of :mod:`equations` (Poisson, Bernoulli, replay);
    ``group_options`` go to the ``NeuronGroup`` (clock, namespace).
    """
    name = topology.layer_name(config, l)
    parts, threshold, reset = layer_parts(config, l, form)
    model = Equations(eq.PHASE)
    for part in parts:
        model += part.equations
    state = [v for part in parts for v in part.state]
    windows = [v for part in parts for v in part.windows]
    code = {op: [line for part in parts for line in part.code.get(op, [])] for op in OPERATIONS}
    code["zero_state"] = [f"{v} = 0" for v in state]
    code["window_reset"] = [f"{v} = 0" for v in windows]
    events = [event for op, (_, event) in OPERATIONS.items() if code[op] and event]
    events += ["record"] + (["learn_pre"] if topology.feeds_forward(config, l) else [])
    events += ["forward_end"] if topology.role(config, l) == "output" else []
    events += ["backprop"] if topology.backpropagates(config) and l > 0 else []  # e^bp reaches the layer below
    events += ["rebuild"] if topology.rebuilds_symmetric_feedback(config) and l > 0 else []  # Y from W
    group = NeuronGroup(
        config.layer_sizes[l],
        model,
        threshold=threshold,
        reset=reset,
        events={event: condition for event, condition in eq.PHASE_EVENTS.items() if event in events},
        name=f"{name}_neurons",
        codeobj_class=dense_rows_code_object(),
        **group_options,
    )
    for var in PHASE_CLOCK:
        setattr(group, var, linked_var(controller, var))
    set_constants(group, config, l)
    schedule.place(group.thresholder["spike"], "spikes", l)
    if reset:
        schedule.place(group.resetter["spike"], "counts", l)
    schedule_operations(group, l, code, name)
    layer = Layer(name, group)
    layer.state = state + windows
    return layer


@dataclass
class Part:
    """Part of a layer's ``NeuronGroup``: its equations, code lines per operation (names of
    :data:`OPERATIONS`), dynamic ``state`` (zeroed at the start of each test example, carried from run
    to run) and ``windows`` (averages, zeroed after every example)."""

    equations: Equations = field(default_factory=lambda: Equations(""))
    code: dict = field(default_factory=dict)
    state: list = field(default_factory=list)
    windows: list = field(default_factory=list)


def layer_parts(config: ModelConfig, l: int, form: dict) -> tuple[list[Part], str, str]:
    """The parts of layer ``l``'s neurons, its threshold condition and its reset code."""
    role = topology.role(config, l)
    draw, threshold, reset = spike_draw(config, l, form)
    parts = [compartments(config, l)]
    if role == "hidden":
        parts.append(apical_input(config))
    if role != "input":
        parts.append(basal_input(config))
    parts += [source_averages(config, l), learning(config, l), draw]
    parts.append(Part(eq.variables(list(eq.kernel_constants(config)), "1 (shared, constant)")))
    return parts, threshold, reset


def compartments(config: ModelConfig, l: int) -> Part:
    """The potentials of an input, hidden or output layer, their soma and rate, and window sums."""
    role = topology.role(config, l)
    if role == "input":
        return Part(Equations(eq.INPUT))
    if role == "hidden":
        soma = eq.SOMA_DYNAMIC_HIDDEN if config.conductances else eq.SOMA_STEADY_HIDDEN
        eqs = Equations(eq.HIDDEN) + Equations(eq.HIDDEN_LEARNING)
        windows = eq.HIDDEN_WINDOWS
        if config.random_plateau_times:
            eqs += Equations(eq.plateau_times(f"plateau_offsets_{topology.layer_name(config, l)}"))
            windows = eq.HIDDEN_WINDOWS_PLATEAU_TIMES
        code = {"soma": [soma, eq.RATE_UPDATE], "windows": [windows]}
        return Part(eqs, code, ["a", "u", "r"], ["u_f", "a_f", "a_t"])
    soma = eq.SOMA_DYNAMIC_OUTPUT if config.conductances else eq.SOMA_STEADY_OUTPUT
    code = {"soma": [soma, eq.RATE_UPDATE], "windows": [eq.OUTPUT_WINDOWS]}
    return Part(Equations(eq.OUTPUT) + Equations(eq.OUTPUT_LEARNING), code, ["u", "r"], ["u_f", "r_t"])


def basal_input(config: ModelConfig) -> Part:
    """``d_ff`` of spec §2: the filtered spike memory, or a summed rate (``spiking_feedforward`` off)."""
    if not config.spiking_feedforward:
        return Part(Equations("d_ff : 1"))
    memory = eq.memory_variables(config, "basal")
    eqs = eq.variables(memory) + Equations(f"d_ff = {eq.memory_sum(config, 'basal')} : 1")
    return Part(eqs, {"shift": [eq.memory_step(config, "basal")]}, memory)


def apical_input(config: ModelConfig) -> Part:
    """``a = Y q + c`` of spec §3, computed first in the layer's step (the feedback is one step old)."""
    if not config.spiking_feedback:
        return Part(Equations("a_fb : 1"), {"prepare": ["a = a_fb + c + a_ext"]})
    memory = eq.memory_variables(config, "apical")
    code = {
        "prepare": [f"a = {eq.memory_sum(config, 'apical')} + c + a_ext"],
        "shift": [eq.memory_step(config, "apical")],
    }
    return Part(eq.variables(memory), code, memory)


def source_averages(config: ModelConfig, l: int) -> Part:
    """What layer ``l`` averages as a source over the forward window (spec §4): p̄^f for W_{l+1}, and
    q̄^f (its output one step late) for a learning Y; with the variables that keep the previous step."""
    spiking, part = topology.spiking_source(config, l), Part()
    if topology.feeds_forward(config, l):
        p = eq.filtered_output(config, spiking and config.spiking_feedforward, lagged=False)
        part.equations += Equations("pbar_f : 1   # mean filtered output over the forward window")
        part.windows.append("pbar_f")
        part.code.setdefault("averages", []).append(f"pbar_f += ({p})/K_f")
    if topology.sends_learned_feedback(config, l):
        q = eq.filtered_output(config, spiking and config.spiking_feedback, lagged=True)
        part.equations += Equations("qbar_f : 1   # mean of the feedback this layer sent (one step late)")
        part.windows.append("qbar_f")
        part.code.setdefault("averages", []).append(f"qbar_f += ({q})/K_f")
    keep = topology.keeps_previous(config, l)
    if "p_prev" in keep:
        part.equations += Equations("x_L : 1\nx_s : 1\np_prev : 1")
        part.state += ["x_L", "x_s", "p_prev"]
        part.code.setdefault("keep_previous", []).append("p_prev = x_L - x_s")
    if "r_prev" in keep:
        part.equations += Equations("r_prev : 1")
        part.state.append("r_prev")
        part.code.setdefault("keep_previous", []).append("r_prev = r")
    return part


def learning(config: ModelConfig, l: int) -> Part:
    """Neuron side of spec §5: errors (on ``learn``), then biases and the corrections of spikes in
    memory (on ``update``), with the linked correction sums. The synaptic side is
    :data:`equations.FEEDFORWARD_UPDATE` and :func:`equations.feedback_update`."""
    role = topology.role(config, l)
    if role == "input":
        return Part()
    errors, update, eqs = (
        [eq.OUTPUT_ERROR if role == "output" else eq.HIDDEN_ERROR],
        ["b += eta_P*error"],
        Equations(""),
    )
    if role == "hidden" and topology.learns_feedback(config):
        eqs += Equations(eq.FEEDBACK_LEARNING)
        errors.append(eq.FEEDBACK_ERROR)
        if config.feedback_bias:
            update.append("c += eta_Y*error_Y")
    if role == "hidden" and topology.rebuilds_symmetric_feedback(config):  # rows of Y_l, summed after updates
        rows = eq.row_names(config.n_outputs)
        eqs += eq.variables(rows)
        update += [f"{r} = 0" for r in rows]
    code = {"errors": errors, "update": update}
    if topology.backpropagates(config):
        if role == "output":
            eqs += Equations(eq.OUTPUT_BACKPROP)
        else:
            eqs += Equations(eq.BACKPROP)
            code["backprop"] = [eq.BACKPROP_ERROR] + ([eq.LEARN_FROM_BACKPROP] if config.backprop else [])
    for name in topology.collectors(config, l):
        update += eq.correction_apply(config, name)
        eqs += eq.variables(eq.correction_sums(config, name), "1 (linked)")
    return Part(eqs, code)


def spike_draw(config: ModelConfig, l: int, form: dict) -> tuple[Part, str, str]:
    """Spike counts ``S`` as threshold and reset (``form``: a spike-count form of :mod:`equations`), the
    past counts ``S_1, S_2, ...`` and, untruncated, the traces of a spiking source.

    Returns the part, the threshold condition and the reset code.
    """
    lags = eq.lag_names("S", topology.spike_lags(config, l), first=1)
    draw = [form["step"]]
    reset = [form["reset"]] if form["reset"] else []
    if topology.spiking_source(config, l) and config.kernel == "untruncated":
        draw.append(eq.trace_decay(config))
        reset.append(eq.trace_increments(config))
    draw_state = Equations(form["variables"])
    eqs = Equations("S : integer  # spike count emitted this step") + eq.variables(lags, "integer") + draw_state
    code = {"shift": [eq.shift_code(["S", *lags], "0")] if lags else [], "draw": draw}
    code["fresh_draws"] = [form["new_example"]] if form["new_example"] else []
    return Part(eqs, code, ["S", *lags, *draw_state.names]), form["threshold"], "\n".join(reset)


def schedule_operations(group: NeuronGroup, l: int, code: dict, name: str) -> None:
    """Run each operation's code in its slot: every step, or on its event; schedule the events' checks."""
    for event, thresholder in group.thresholder.items():
        if event != "spike":
            schedule.place(thresholder, schedule.EVENT_SLOTS[event])
    for op, (slot, event) in OPERATIONS.items():
        if not code[op]:
            continue
        if event is None:
            group.run_regularly("\n".join(code[op]), **schedule.at(slot, l), name=f"{name}_{op}")
        else:
            group.run_on_event(event, "\n".join(code[op]), **schedule.at(slot, l))


def set_constants(group: NeuronGroup, config: ModelConfig, l: int) -> None:
    """The layer's constants: rates, conductances, learning rates times P, kernel (spec §2, §5, §8)."""
    cfg, role = config, topology.role(config, l)
    group.lambda_step = cfg.lambda_step
    for name, value in eq.kernel_constants(cfg).items():
        setattr(group, name, value)
    if role != "input":
        group.g_L, group.g_B = cfg.g_L, cfg.g_B
        group.eta_P = cfg.learning_rates[l - 1] * (cfg.P_output if role == "output" else cfg.P_hidden)
    if role == "hidden":
        group.g_A, group.k_B = cfg.g_A_effective, cfg.k_B
        if topology.learns_feedback(cfg):
            group.eta_Y = cfg.feedback_learning_rates[l - 1]
    if role == "output":
        group.k_D, group.E_E, group.E_I = cfg.k_D, cfg.E_E, cfg.E_I
        group.class_index = np.arange(group.N) // cfg.units_per_class


def add_collector(config: ModelConfig, source: Layer, target: Layer, name: str, **options) -> None:
    """Exact correction of spikes in memory after a rank-one weight update (spec §10.3).

    The receiving memory of ``target`` holds, per lag k, the weighted counts ``sum_j w_ij S_j(t-k)``.
    After ``dW = eta e avg^T`` each lag gains ``eta e_i * sum_j avg_j S_j(t-k)``; a one-neuron group
    sums the scalar per lag once per example through a pathway of ``source``
    (:data:`equations.CORRECTIONS`). With the untruncated kernel the same holds for the two
    accumulators and the source's traces. ``options`` (clock, namespace) go to the new objects.
    """
    sums = eq.correction_sums(config, name)
    full = f"{target.name}_{name}"
    collector = NeuronGroup(1, eq.variables(sums), name=f"{full}_collector", **options)
    collector.run_regularly("\n".join(f"{s} = 0" for s in sums), **schedule.at("errors"))
    on_pre, event = eq.correction_collect(config, name), eq.CORRECTIONS[name][3]
    path = Synapses(source.neurons, collector, on_pre=on_pre, on_event=event, name=f"{full}_sum", **options)
    path.connect()
    schedule.place(path.pre, "collect")
    for s in sums:
        setattr(target.neurons, s, linked_var(collector, s, index=np.zeros(target.neurons.N, dtype=int)))
    target.collectors.extend([collector, path])


def build_controller(config: ModelConfig, **options) -> NeuronGroup:
    """The one-neuron controller (spec §4): steps and examples, phase lengths, the end of a run.

    ``options`` (clock, namespace with the phase-length tables and ``stop_run``) go to the group.
    """
    ctrl = NeuronGroup(1, eq.CONTROLLER, events={"done": "example >= n_examples"}, name="controller", **options)
    ctrl.run_regularly(eq.CONTROLLER_PHASE_LENGTHS, **schedule.at("phase_lengths"), name="controller_phases")
    ctrl.run_regularly(eq.CONTROLLER_ADVANCE, **schedule.at("advance"), name="controller_advance")
    schedule.place(ctrl.thresholder["done"], "done_event")
    ctrl.run_on_event("done", "stopped = stop_run(stopped)", **schedule.at("stop"))
    ctrl.K_f, ctrl.K_t, ctrl.plastic, ctrl.n_examples = config.window_steps, config.window_steps, 1, 0
    ctrl.recording = 0
    return ctrl
