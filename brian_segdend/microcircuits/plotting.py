"""Figures of a trained microcircuit (``segdend plot`` of a microcircuit run): compartment traces, the
apical error with and without a target, and interneurons against the pyramidal neurons they predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_microcircuit"]


def plot_microcircuit(config, weights, images, labels, out_dir, n: int = 20) -> list[Path]:
    """Replay ``n`` labelled images through a copy of the network (runtime numpy) and write
    ``compartments.png``, ``apical_error.png`` and ``interneurons.png`` to ``out_dir``.

    The first hidden layer's pyramidal neuron 0 is recorded (soma ``u``, basal ``v_B``, apical
    ``v_A``) while the images are learned with their class targets; the apical error is
    ``||v_A||^2`` of the first hidden layer at the end of each image, nudged (learning) and free
    (test: in the self-predicting state it is near 0); the interneurons of the first hidden layer
    are plotted against the pyramidal neurons of the layer above at test.
    """
    import matplotlib.pyplot as plt
    from brian2 import StateMonitor, ms, prefs

    from ..plotting import save_figure
    from .network import MicrocircuitNetwork
    from .simulator import MicrocircuitSimulator
    from .tasks import class_targets

    prefs.codegen.target = "numpy"
    out_dir = Path(out_dir)
    images, labels = np.asarray(images[:n], float), np.asarray(labels[:n])
    net = MicrocircuitNetwork(config, weights=weights, capacity=len(images), probes=True)
    hidden = net.layer("hidden1")
    above = net.layers[2]
    trace = StateMonitor(hidden.pyramidal, ["u", "v_B", "v_A"], record=[0], when="end", name="plot_trace")
    net.brian_network.add(trace)
    sim = MicrocircuitSimulator(net)
    free = sim.probe(images)
    t_free = len(trace.t)
    nudged = sim.present(images, class_targets(config, labels), learn=True)
    written = []

    fig, ax = plt.subplots(figsize=(7, 3))
    t = np.asarray(trace.t[t_free:] / ms)
    for var, style in (("v_B", dict(lw=1)), ("v_A", dict(lw=1)), ("u", dict(lw=1.5, color="k"))):
        ax.plot(t - t[0], getattr(trace, var)[0, t_free:], label={"u": "soma u"}.get(var, var), **style)
    ax.set_xlabel("ms" if config.dynamics == "continuous" else "ms (one step per image)")
    ax.set_ylabel("potential")
    ax.set_title(f"hidden1 pyramidal neuron 0, {len(images)} training images ({config.dynamics})", fontsize=9)
    ax.legend(fontsize=7)
    written.append(save_figure(fig, out_dir / "compartments.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, out in (("with target (learning)", nudged), ("without target (test)", free)):
        ax.plot(np.sum(out["hidden1"]["v_A"] ** 2, axis=1), "o-", ms=3, label=name)
    ax.set_xlabel("image")
    ax.set_ylabel("apical error ||v_A||² (hidden1)")
    ax.legend(fontsize=7)
    written.append(save_figure(fig, out_dir / "apical_error.png"))

    fig, ax = plt.subplots(figsize=(4, 4))
    pyramidal = free["u"] if above is net.output else free[above.name]["u"]
    inter = free["hidden1_interneurons"]["u"]
    ax.plot(pyramidal.ravel(), inter.ravel(), ".", ms=2)
    low, high = float(min(pyramidal.min(), inter.min())), float(max(pyramidal.max(), inter.max()))
    ax.plot([low, high], [low, high], color="grey", ls=":")
    ax.set_xlabel(f"{above.name} pyramidal u")
    ax.set_ylabel("hidden1 interneuron u")
    ax.set_title("self-prediction: interneurons vs the layer above (test)", fontsize=9)
    written.append(save_figure(fig, out_dir / "interneurons.png"))
    return written
