"""A layer's neurons: one ``NeuronGroup`` assembled from the parts of :mod:`~brian_segdend.equations`.

:func:`build_layer` splits the work the way the model reads: the layer's compartments, its basal
input, its apical input (hidden layers), what it averages as a source, its learning rule and its
spike draw are :class:`~brian_segdend.equations.Part` s; their code runs as the scheduled operations
of :data:`OPERATIONS` (slots of :mod:`~brian_segdend.schedule`). Which parts a layer has follows from
:mod:`~brian_segdend.topology`.
"""

from __future__ import annotations

import numpy as np
from brian2 import Equations, NeuronGroup, linked_var

from . import equations as eq
from . import schedule, topology
from .config import ModelConfig

__all__ = ["Layer", "OPERATIONS", "PHASE_CLOCK", "build_layer", "layer_parts"]

#: Operations of a layer's neurons: name -> (schedule slot, event that triggers it; None: every step).
OPERATIONS = {
    "zero_state": ("zero_state", "example_start"),
    "fresh_draws": ("fresh_draws", "new_example"),
    "prepare": ("prepare", None),
    "soma": ("soma", None),
    "draw": ("draw", None),
    "windows": ("windows", None),
    "averages": ("windows", "forward_window"),
    "keep_previous": ("keep_previous", None),
    "errors": ("errors", "learn"),
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
    group = NeuronGroup(
        config.layer_sizes[l],
        model,
        threshold=threshold,
        reset=reset,
        events={event: condition for event, condition in eq.PHASE_EVENTS.items() if event in events},
        name=f"{name}_neurons",
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


def layer_parts(config: ModelConfig, l: int, form: dict) -> tuple[list[eq.Part], str, str]:
    """The parts of layer ``l``'s neurons, its threshold condition and its reset code."""
    role = topology.role(config, l)
    lags = eq.lag_names("S", topology.spike_lags(config, l), first=1)
    traces = topology.spiking_source(config, l) and config.kernel == "untruncated"
    draw, threshold, reset = eq.spike_draw(config, form, lags, traces)
    parts = [eq.compartments(role, config.conductances)]
    if role == "hidden":
        parts.append(eq.apical_input(config))
    if role != "input":
        parts.append(eq.basal_input(config))
    parts += [source_averages(config, l), learning(config, l), draw]
    return parts, threshold, reset


def source_averages(config: ModelConfig, l: int) -> eq.Part:
    """What layer ``l`` averages as a source: p̄^f for W_{l+1}, q̄^f for a learning Y (spec §4)."""
    spiking = topology.spiking_source(config, l)
    forward = feedback = None
    if topology.feeds_forward(config, l):
        forward = eq.filtered_output(config, spiking and config.spiking_feedforward, lagged=False)
    if topology.sends_learned_feedback(config, l):
        feedback = eq.filtered_output(config, spiking and config.spiking_feedback, lagged=True)
    return eq.source_averages(config, forward, feedback, topology.keeps_previous(config, l))


def learning(config: ModelConfig, l: int) -> eq.Part:
    """Layer ``l``'s errors, bias updates and corrections of spikes in memory, with the linked sums."""
    collectors = topology.collectors(config, l)
    corrections = [line for name in collectors for line in eq.correction_apply(config, name)]
    role = topology.role(config, l)
    part = eq.learning_rule(role, topology.learns_feedback(config), config.feedback_bias, corrections)
    for name in collectors:
        part.equations += eq.variables(eq.correction_sums(config, name), "1 (linked)")
    return part


def schedule_operations(group: NeuronGroup, l: int, code: dict, name: str):
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


def set_constants(group: NeuronGroup, config: ModelConfig, l: int):
    """The layer's constants: rates, conductances, learning rates times P (spec §5, §8)."""
    cfg, role = config, topology.role(config, l)
    group.lambda_step = cfg.lambda_step
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
