"""Which layer feeds which (spec §1-§2, §10.3): pure functions of a :class:`ModelConfig` and a layer index.

Layers are numbered as in the spec: 0 input, 1 ... L hidden, L + 1 output. Nothing here builds a Brian
object, so the wiring can be read and tested on its own; :mod:`brian_segdend.network` builds the
groups and synapses these functions describe.
"""

from __future__ import annotations

from .config import ModelConfig

__all__ = [
    "layer_name",
    "role",
    "feeds_forward",
    "feedback_source",
    "feedback_targets",
    "learns_feedback",
    "sends_learned_feedback",
    "spiking_source",
    "spike_lags",
    "memory_length",
    "carries_symmetric_feedback",
    "corrects_symmetric_feedback",
    "collectors",
    "correction_source",
    "keeps_previous",
    "backpropagates",
    "rebuilds_symmetric_feedback",
]


def layer_name(config: ModelConfig, l: int) -> str:
    """``'input'``, ``'hidden1'`` ... ``'output'``."""
    return {"input": "input", "output": "output"}.get(role(config, l), f"hidden{l}")


def role(config: ModelConfig, l: int) -> str:
    """``'input'``, ``'hidden'`` or ``'output'``."""
    n_layers = len(config.layer_sizes)
    if not 0 <= l < n_layers:
        raise IndexError(f"layer {l} does not exist; this network has layers 0..{n_layers - 1}")
    return "input" if l == 0 else "output" if l == n_layers - 1 else "hidden"


def feeds_forward(config: ModelConfig, l: int) -> bool:
    """Whether layer ``l`` drives the basal compartment of layer ``l + 1`` (through W_{l+1})."""
    return role(config, l) != "output"


def feedback_source(config: ModelConfig, l: int) -> int:
    """The layer whose activity reaches hidden layer ``l``'s apical compartment (through Y_l):
    the output layer (``broadcast``) or layer ``l + 1``."""
    if role(config, l) != "hidden":
        raise ValueError(f"layer {l} is not a hidden layer and receives no feedback")
    return len(config.layer_sizes) - 1 if config.broadcast else l + 1


def feedback_targets(config: ModelConfig, l: int) -> list[int]:
    """Hidden layers whose apical compartment receives layer ``l``'s activity."""
    hidden = range(1, len(config.n_hidden) + 1)
    return [k for k in hidden if feedback_source(config, k) == l]


def learns_feedback(config: ModelConfig) -> bool:
    """Whether the feedback weights Y learn (spec §5; symmetric Y follows W instead)."""
    return config.update_feedback_weights and not config.symmetric_weights


def sends_learned_feedback(config: ModelConfig, l: int) -> bool:
    """Whether layer ``l`` is the source of a learning Y (it then averages what it sent, q̄^f)."""
    return bool(feedback_targets(config, l)) and learns_feedback(config)


def spiking_source(config: ModelConfig, l: int) -> bool:
    """Whether any consumer of layer ``l`` reads its filtered spikes (rather than its rate)."""
    return (feeds_forward(config, l) and config.spiking_feedforward) or (
        bool(feedback_targets(config, l)) and config.spiking_feedback
    )


def spike_lags(config: ModelConfig, l: int) -> int:
    """How many past counts ``S_1, S_2, ...`` layer ``l`` keeps (truncated kernel).

    The window average of the filtered output needs N_mem - 1 of them; the average of the feedback
    sent (one step late) needs N_mem.
    """
    if config.kernel != "truncated" or not spiking_source(config, l):
        return 0
    one_step_late = sends_learned_feedback(config, l) and config.spiking_feedback
    return config.spike_memory if one_step_late else config.spike_memory - 1


def memory_length(config: ModelConfig) -> int:
    """Variables per receiving compartment for spike input: the ring's N_mem lags, or 2 accumulators."""
    return config.spike_memory if config.kernel == "truncated" else 2


def carries_symmetric_feedback(config: ModelConfig, l: int) -> bool:
    """Whether the synapses of W_l also carry the feedback into layer ``l - 1`` (Y_{l-1} = W_l^T)."""
    return (
        config.symmetric_weights
        and l >= 2
        and (l - 1) in feedback_targets(config, l)
        and not rebuilds_symmetric_feedback(config)
    )


def corrects_symmetric_feedback(config: ModelConfig, l: int) -> bool:
    """Whether hidden layer ``l``'s apical memory is corrected after each update of W_{l+1}.

    With spiking symmetric feedback, Y_l = W_{l+1}^T changes by a rank-one matrix, so the spikes in
    memory are re-weighted exactly as for W (spec §10.3). Sparse symmetric feedback masks the update,
    which breaks the rank-one form (documented as approximate).
    """
    return (
        config.symmetric_weights
        and config.spiking_feedback
        and not config.sparse_feedback
        and role(config, l) == "hidden"
        and l in feedback_targets(config, l + 1)
        and not rebuilds_symmetric_feedback(config)
    )


def collectors(config: ModelConfig, l: int) -> list[str]:
    """Per-lag correction sums that layer ``l`` receives after rank-one weight updates (spec §10.3).

    ``'s_ff'``: its basal memory (update of W_l); ``'s_fb'``: its apical memory (update of a learned
    Y_l); ``'s_sym'``: its apical memory (update of W_{l+1} = Y_l^T, spiking symmetric feedback).
    """
    names = []
    if l > 0 and config.spiking_feedforward:
        names.append("s_ff")
    if (
        role(config, l) == "hidden"
        and learns_feedback(config)
        and config.spiking_feedback
        and not config.sparse_feedback  # sparse: each synapse re-weights the memory itself (feedback.py)
    ):
        names.append("s_fb")
    if corrects_symmetric_feedback(config, l):
        names.append("s_sym")
    return names


def correction_source(config: ModelConfig, l: int, name: str) -> int:
    """The layer whose spikes the correction sum ``name`` of layer ``l`` collects (see :func:`collectors`)."""
    if name == "s_ff":  # W_l: the layer below
        return l - 1
    if name == "s_fb":  # Y_l: the feedback source
        return feedback_source(config, l)
    if name == "s_sym":  # W_{l+1} = Y_l^T: the layer above
        return l + 1
    raise ValueError(f"unknown correction sum {name!r}; expected 's_ff', 's_fb' or 's_sym'")


def keeps_previous(config: ModelConfig, l: int) -> list[str]:
    """Variables holding layer ``l``'s output of the previous step: ``'p_prev'`` (filtered spikes,
    untruncated kernel) and ``'r_prev'`` (rate, for the one-step-late average q̄^f of learned rate
    feedback)."""
    names = []
    if spiking_source(config, l) and config.kernel == "untruncated":
        names.append("p_prev")
    if l > 0 and sends_learned_feedback(config, l) and not config.spiking_feedback:
        names.append("r_prev")
    return names


def backpropagates(config: ModelConfig) -> bool:
    """Whether the hidden layers compute backpropagated errors: to learn from (``backprop``) or to record
    the angle between them and the errors they learn from (``record_backprop_angle``)."""
    return bool(config.n_hidden) and (config.backprop or config.record_backprop_angle)


def rebuilds_symmetric_feedback(config: ModelConfig) -> bool:
    """Whether Y are products of transposed weights (symmetric, broadcast, several hidden layers, spec §5):
    feedback synapses from the output whose weights are rebuilt from W after every update."""
    return config.symmetric_weights and config.broadcast and len(config.n_hidden) > 1
