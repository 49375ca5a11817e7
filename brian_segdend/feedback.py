"""Feedback synapses Y_l into a hidden layer's apical compartment (spec §1, §5).

Learned (``update_feedback_weights``), fixed, sparse (only the unmasked entries are connected), or,
with symmetric broadcast feedback through several hidden layers, rebuilt from the forward weights after
every update (``Y_l = W_{l+1}^T Y_{l+1}``, :func:`equations.rebuilt_feedback`). Symmetric feedback of
one layer above (``Y_l = W_{l+1}^T``) needs no synapses of its own: W's synapses carry it backwards
(:func:`topology.carries_symmetric_feedback`).
"""

from __future__ import annotations

import numpy as np

from . import equations as eq
from . import schedule, topology
from .config import ModelConfig

__all__ = ["build_feedback"]


def build_feedback(config: ModelConfig, l: int, source, target, mask: np.ndarray, synapses):
    """The ``Synapses`` of Y_l from layer ``source`` into hidden layer ``target`` (spec §1, §5).

    ``mask`` marks the entries of Y_l (``(n_l, n_source)``) that sparse feedback leaves out;
    ``synapses(source, target, name, dense=..., **keywords)`` makes the object (the network's factory;
    dense ones come connected all-to-all).
    Returns the synapses and the ``(rows, columns)`` of Y_l they hold, synapse by synapse.
    """
    cfg, src_index = config, topology.feedback_source(config, l)
    learn, rebuilt = topology.learns_feedback(cfg), topology.rebuilds_symmetric_feedback(cfg)
    model, on_pre, on_post, on_event = ["y : 1"], {}, {}, {}
    if cfg.spiking_feedback:
        on_pre["pre"], on_event["pre"] = eq.spike_input(cfg, "apical", "y"), "spike"
    else:
        model.append(eq.summed_rate("a_fb", "y"))
    if learn:
        regrows = cfg.sparse_feedback and cfg.sparse_feedback_rescale_each_example
        reweights = cfg if (cfg.sparse_feedback and cfg.spiking_feedback) else None  # else: collectors (s_fb)
        on_pre["learn"] = eq.feedback_update(cfg.sparse_scale if regrows else None, reweights)
        on_event["learn"] = "learn"
    if rebuilt:  # y = Y_l rebuilt from W after every update (connected entries of a sparse Y: x5)
        gain = cfg.sparse_scale if cfg.sparse_feedback else 1.0
        on_post["rebuild"], on_event["rebuild"] = eq.rebuilt_feedback(cfg, cfg.n_outputs, gain), "rebuild"
    dense = not mask.any()
    syn = synapses(  # all-to-all in presynaptic order unless sparse
        source,
        target,
        f"{target.name}_fb",
        dense=dense,
        model="\n".join(model),
        on_pre=on_pre or None,
        on_post=on_post or None,
        on_event=on_event or "spike",
    )
    post_idx, pre_idx = np.nonzero(~mask)  # Y[post, pre]; sparse entries are not connected
    order = np.lexsort((post_idx, pre_idx))
    pre_idx, post_idx = pre_idx[order], post_idx[order]
    if not dense:
        syn.connect(i=pre_idx, j=post_idx)
    if cfg.spiking_feedback:
        schedule.place(syn.pre, "feedback", src_index)
    else:
        schedule.place(syn.summed_updaters["a_fb_post"], "rate_feedback", l)
    if learn:
        schedule.place(syn.learn, "weights")
    if rebuilt:
        schedule.place(syn.rebuild, "rebuild_feedback", l)
    return syn, (post_idx, pre_idx)
