"""When things happen: the slots of one time step (spec §3) and the phase lengths of an example (spec §4).

Every operation of the model sits in a named slot with its ``(when, order)``.

Brian runs a step slot by slot (``start``, ``groups``, ..., ``end``) and, within a slot, by ``order``
(ties by object name; no two dependent operations here share an order). ``net.brian_network.scheduling_summary()``
prints the result.

* ``start``: the controller reads the example's phase lengths; test runs zero all state at step 0;
  spiking groups draw fresh Exp(1) amounts at step 0.
* ``groups``: the layer sweep of spec §3, layer by layer (order ``100*l + offset``, see
  :data:`LAYER_STEPS`): apical potential from the feedback received up to the previous step, the
  feedforward input of this step, soma and rate, spike counts, then this layer's spikes reach the
  apical memory of the layers it feeds back to (read there at the next step: the one-step lag).
* ``end``: window sums, read-outs, plasticity at the end of a training example (errors, correction
  sums, biases and memory corrections, weights), window reset, controller.
"""

from __future__ import annotations

import numpy as np

from .config import PLATEAU_OFFSET_MAX, PLATEAU_OFFSET_SD, ModelConfig

__all__ = [
    "SLOTS",
    "LAYER_STEPS",
    "TOP_DOWN_STEPS",
    "EVENT_SLOTS",
    "at",
    "place",
    "draw_phase_lengths",
    "phase_lengths",
    "max_example_steps",
    "draw_plateau_offsets",
    "plateau_offsets",
    "MAX_EXTRA_STEPS",
]

#: Operations outside the layer sweep, in the order they run.
SLOTS = {
    "phase_lengths": ("start", -10),  # controller: the current example's T_f and T_t
    "example_events": ("start", -5),  # thresholders of example_start and new_example
    "zero_state": ("start", -4),  # test runs: every dynamic variable to 0 at step 0 (spec §7)
    "fresh_draws": ("start", -3),  # fresh Exp(1) amounts of the spike draws at step 0
    "record_event": ("end", 5),  # thresholder of the 'record' event (monitoring runs)
    "monitors": ("end", 6),  # recorders (monitoring.py) and monitors of the state after the sweep
    "window_event": ("end", 9),  # thresholder of learning_window
    "windows": ("end", 10),  # window sums (spec §4) and the sources' input averages
    "keep_previous": ("end", 11),  # a source's output of this step, read one step late
    "example_end_events": ("end", 12),  # thresholders of example_end and forward_end
    "readouts": ("end", 15),  # output u_f at the forward end / example end
    "learn_events": ("end", 18),  # thresholders of learn, learn_pre and update
    "errors": ("end", 19),  # per-neuron errors (spec §5); correction sums zeroed
    # ("end", 20 ... 31): the backpropagated errors, layer by layer from the top (TOP_DOWN_STEPS)
    "collect": ("end", 40),  # correction sums of rank-one updates (spec §10.3)
    "update": ("end", 45),  # biases and corrections of spikes in memory
    "weights": ("end", 50),  # weight updates (the Synapses' 'learn' pathways)
    "redraw_noise": ("end", 55),  # noisy symmetric feedback, one scalar per example (QUIRK)
    # ("end", 56 ... 67): symmetric broadcast feedback rebuilt, layer by layer from the top (TOP_DOWN_STEPS)
    "window_reset": ("end", 70),
    "advance": ("end", 90),  # controller: next step, next example
    "done_event": ("end", 95),  # thresholder of 'done' (all examples presented)
    "stop": ("end", 96),  # stop_run
}

#: Operations of layer ``l`` in the ``groups`` slot, at order ``100*l + offset``.
LAYER_STEPS = {
    "rate_feedback": -10,  # summed rate feedback into this layer (its source has not updated yet)
    "prepare": 0,  # apical potential from its memory
    "shift": 1,  # the input memories and past counts move one step back (or decay: untruncated kernel)
    "feedforward": 10,  # this step's spikes or rates of the layer below arrive
    "soma": 20,  # somatic potential and rate
    "draw": 30,  # per-step part of the spike draw (S = 0)
    "spikes": 40,  # threshold: the neurons that fire this step
    "counts": 41,  # reset: their spike counts
    "feedback": 50,  # this layer's spikes reach the apical memory of the layers it feeds back to
}

#: Per-hidden-layer steps of the ``end`` slot that run from the top layer down, at order
#: ``first + 2*(MAX_HIDDEN - l) + offset`` (name -> (first, offset)):
#: backpropagated errors (spec §5, ``backprop`` and its angle diagnostic): the synapses of W_{l+1} sum
#: W_{l+1}^T e^bp_{l+1} (with W_{l+1} after this example's update, REF's order), then layer l's neurons
#: turn the sum into their error, all between ``errors`` and ``collect``; symmetric broadcast feedback
#: with several hidden layers (spec §5): after the weight updates, the synapses of W_{l+1} sum layer l's
#: rows of Y_l = W_{l+1}^T Y_{l+1}, then the feedback synapses into layer l take their new weights.
TOP_DOWN_STEPS = {
    "backprop_sum": (20, 0),
    "backprop_error": (20, 1),
    "row_sums": (56, 0),
    "rebuild_feedback": (56, 1),
}
MAX_HIDDEN = 6

#: Where each per-example event's condition is checked (its thresholder).
EVENT_SLOTS = {
    "example_start": "example_events",
    "new_example": "example_events",
    "record": "record_event",
    "learning_window": "window_event",
    "example_end": "example_end_events",
    "forward_end": "example_end_events",
    "learn": "learn_events",
    "learn_pre": "learn_events",
    "update": "learn_events",
    "backprop": "learn_events",
    "rebuild": "learn_events",
}


def at(name: str, layer: int | None = None) -> dict:
    """``{'when': ..., 'order': ...}`` of slot ``name`` (keywords of Brian's objects and methods); a
    :data:`LAYER_STEPS` name needs the ``layer`` index."""
    if name in LAYER_STEPS:
        if layer is None:
            raise ValueError(f"slot {name!r} is a step of the layer sweep; give the layer index")
        return {"when": "groups", "order": 100 * layer + LAYER_STEPS[name]}
    if name in TOP_DOWN_STEPS:
        if layer is None or not 1 <= layer <= MAX_HIDDEN:
            raise ValueError(f"slot {name!r} belongs to a hidden layer (1..{MAX_HIDDEN}); got layer={layer!r}")
        first, offset = TOP_DOWN_STEPS[name]
        return {"when": "end", "order": first + 2 * (MAX_HIDDEN - layer) + offset}
    if name not in SLOTS:
        raise KeyError(f"no slot named {name!r}; slots are {sorted(SLOTS) + sorted(LAYER_STEPS)}")
    when, order = SLOTS[name]
    return {"when": when, "order": order}


def place(obj, name: str, layer: int | None = None):
    """Put a Brian object (code runner, thresholder, pathway, monitor) into slot ``name``; returns it."""
    slot = at(name, layer)
    obj.when, obj.order = slot["when"], slot["order"]
    return obj


# ---------------------------------------------------------------------------------------------
# Phase lengths of an example (spec §4)
MAX_EXTRA_STEPS = 400  # bound on the random part of one example's two phases (checked)


def draw_phase_lengths(config: ModelConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Forward and target lengths of ``n`` training examples (spec §4): min + floor(Wald(2, 1))."""
    T_f = np.full(n, config.forward_steps, dtype=np.int64)
    T_t = np.full(n, config.target_steps, dtype=np.int64)
    if config.random_phase_lengths:
        T_f += np.floor(rng.wald(2.0, 1.0, n)).astype(np.int64)
        T_t += np.floor(rng.wald(2.0, 1.0, n)).astype(np.int64)
    return T_f, T_t


def phase_lengths(config: ModelConfig, n: int, learn: bool, forward_lengths=None, target_lengths=None):
    """Forward and target lengths of ``n`` examples: given, else the configured minima (learning), or
    ``test_steps`` and 0 (testing, spec §7); learning phases must hold their averaging window."""
    if not learn:
        return np.full(n, config.test_steps), np.zeros(n, dtype=int)
    T_f = np.full(n, config.forward_steps) if forward_lengths is None else np.asarray(forward_lengths)
    T_t = np.full(n, config.target_steps) if target_lengths is None else np.asarray(target_lengths)
    if T_f.shape != (n,) or T_t.shape != (n,):
        raise ValueError(f"phase lengths have shapes {T_f.shape}, {T_t.shape}; expected ({n},)")
    if np.any(T_f < config.window_steps) or np.any(T_t < config.window_steps):
        raise ValueError(f"phase lengths must be >= window_steps={config.window_steps}")
    return T_f, T_t


def max_example_steps(config: ModelConfig) -> int:
    """Steps of the longest example a run is built for (training or test)."""
    return max(config.forward_steps + config.target_steps + MAX_EXTRA_STEPS, config.test_steps)


# ---------------------------------------------------------------------------------------------
# Random plateau times (spec §4): per example, phase and hidden neuron, the steps before the phase's end
# at which the neuron's apical window ends. Settings hold them as one int array (n, 2, hidden neurons),
# phase 0 forward, 1 target, hidden layers side by side.
def draw_plateau_offsets(config: ModelConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """``min(|int(N(0, 3))|, 5)`` per example, phase and hidden neuron (``int`` truncates), ``(n, 2, sum n_l)``."""
    z = rng.normal(0.0, PLATEAU_OFFSET_SD, size=(n, 2, sum(config.n_hidden)))
    return np.minimum(np.abs(np.trunc(z)), PLATEAU_OFFSET_MAX).astype(np.int64)


def plateau_offsets(config: ModelConfig, n: int, learn: bool, offsets, T_f, T_t) -> np.ndarray | None:
    """Checked plateau offsets of ``n`` examples as ``(n, 2, sum n_l)`` ints, or ``None`` (option off, tests).

    ``offsets`` is that array, or ``(forward, target)``: per phase a list over hidden layers of
    ``(n, n_l)`` arrays. Each window of K steps must fit in its phase (``offset <= T - K``).
    """
    if not config.random_plateau_times:
        if offsets is not None:
            raise ValueError("plateau_offsets given, but random_plateau_times is off")
        return None
    if not learn:
        return None  # test runs learn nothing: the apical averages are not used
    if offsets is None:
        raise ValueError("random_plateau_times needs plateau_offsets when learning (draw_settings draws them)")
    if isinstance(offsets, (tuple, list)):
        if len(offsets) != 2 or any(len(phase) != len(config.n_hidden) for phase in offsets):
            raise ValueError("plateau_offsets must be (forward, target), each a list with one array per hidden layer")
        offsets = np.stack([np.concatenate([np.asarray(o) for o in phase], axis=-1) for phase in offsets], axis=1)
    offsets = np.asarray(offsets)
    shape = (n, 2, sum(config.n_hidden))
    if offsets.shape != shape or np.any(offsets != np.round(offsets)) or np.any(offsets < 0):
        raise ValueError(f"plateau_offsets must be integers >= 0 of shape {shape} (examples, phase, hidden neurons)")
    room = np.stack([T_f, T_t], axis=1)[:, :, None] - config.window_steps
    if np.any(offsets > room):
        raise ValueError(f"a plateau offset leaves no room for the window of {config.window_steps} steps in its phase")
    return offsets.astype(np.int64)
