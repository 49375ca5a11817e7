"""Figures people look at (matplotlib), in one place.

Every figure function draws on ``ax`` (a new figure if ``None``) and returns it, so figures compose
into your own layouts; none calls ``plt.show()``. :func:`save_figure` writes a figure atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = [
    "save_figure",
    "plot_compartments",
    "plot_output_rates",
    "plot_raster",
    "plot_learning_curve",
    "plot_weight_statistics",
    "plot_feedback_angle",
    "plot_backprop_angle",
    "plot_run",
]


def _new_ax(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def save_figure(figure, path, dpi: int = 110, rect=None) -> Path:
    """Lay out ``figure`` (a ``Figure``, or an ``Axes`` of one), write it to ``path`` atomically (the
    format from the suffix) and close it; returns the path."""
    import matplotlib.pyplot as plt

    from .results import atomic_write_bytes

    figure = getattr(figure, "figure", figure)
    figure.tight_layout(rect=rect)
    path = Path(path)
    atomic_write_bytes(path, lambda fh: figure.savefig(fh, format=path.suffix[1:] or "png", dpi=dpi))
    plt.close(figure)
    return path


def plot_compartments(times, d, a, u, forward_steps, target_steps, window_steps, dt=1.0, alpha=None, ax=None):
    """Basal, apical and somatic potential of one hidden neuron through one training example.

    ``times`` in ms; phases start at ``times[0]``. The averaging windows of both phases are shaded
    and the plateau potentials (``alpha = (alpha_f, alpha_t)``) are written on them.
    """
    ax = _new_ax(ax, (7, 3))
    t0 = times[0]
    ax.plot(times, d, label="basal d", lw=1)
    ax.plot(times, a, label="apical a", lw=1)
    ax.plot(times, u, label="soma u", lw=1.5, color="k")
    t_f = t0 + forward_steps * dt
    ax.axvline(t_f, color="grey", ls="--", lw=1)
    for k, (start, stop) in enumerate(
        ((t_f - window_steps * dt, t_f), (t_f + (target_steps - window_steps) * dt, t_f + target_steps * dt))
    ):
        ax.axvspan(start, stop, color="C3", alpha=0.12)
        if alpha is not None:
            ax.text(
                (start + stop) / 2, ax.get_ylim()[1], f"α{'ᶠᵗ'[k]}={alpha[k]:.3f}", ha="center", va="top", fontsize=8
            )
    ax.text(t0 + forward_steps * dt / 2, ax.get_ylim()[0], "forward", ha="center", va="bottom", fontsize=8)
    ax.text(t_f + target_steps * dt / 2, ax.get_ylim()[0], "target", ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("potential")
    ax.legend(fontsize=7, loc="upper left")
    return ax


def plot_output_rates(rates_forward, rates_target, label, lambda_step, ax=None):
    """Output rates of one example: forward-phase mean, target-phase mean, and the teaching target."""
    ax = _new_ax(ax, (5, 3))
    k = np.arange(len(rates_forward))
    ax.bar(k - 0.2, rates_forward, width=0.4, label="forward")
    ax.bar(k + 0.2, rates_target, width=0.4, label="target phase")
    ax.plot(k, lambda_step * (k == label), "k_", ms=12, label="label")
    ax.set_xticks(k)
    ax.set_xlabel("output unit")
    ax.set_ylabel("rate (spikes / step)")
    ax.legend(fontsize=7)
    return ax


def plot_raster(spike_times, neuron_indices, ax=None, label=None):
    """Spike raster (times in ms)."""
    ax = _new_ax(ax, (6, 2.5))
    ax.plot(spike_times, neuron_indices, "|", ms=2, color="k")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(label or "neuron")
    return ax


def _runs(results):
    out = []
    for r in [results] if isinstance(results, (str, Path, dict)) else results:
        if not isinstance(r, dict):
            path = Path(r)
            r = json.loads((path / "results.json" if path.is_dir() else path).read_text())
        out.append(r)
    return out


def plot_learning_curve(results, ax=None, keys=("test_error", "train_error", "val_error"), x="examples_seen"):
    """Errors (percent) per epoch against ``x`` (``'examples_seen'`` or ``'epoch'``), from ``results.json``
    of one or several runs (paths, run directories or loaded dicts)."""
    ax = _new_ax(ax, (5, 3.5))
    styles = {"test_error": "o-", "train_error": "s:", "val_error": "^--"}
    for r in _runs(results):
        for key in keys:
            y = [e.get(key) for e in r["epochs"]]
            if all(v is not None for v in y):
                label = r["model"] if len(keys) == 1 else f"{r['model']} {key.replace('_', ' ')}"
                ax.plot([e[x] for e in r["epochs"]], y, styles.get(key, "o-"), label=label)
        quick = [point for e in r["epochs"] for point in e.get("quick_test") or []]
        if quick and x == "examples_seen":  # REF's quick tests (training.train(quick_test_every=...))
            ax.plot(*zip(*quick), ".-", lw=0.8, label=f"{r['model']} quick test")
    ax.set_xlabel("training examples seen" if x == "examples_seen" else x)
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def _per_layer(results, key):
    """``(epochs, layer, [value per epoch])`` for each run and layer of a per-layer epoch metric."""
    for r in _runs(results):
        epochs = [e["epoch"] for e in r["epochs"]]
        for l in range(len(r["epochs"][0].get(key, [])) if r["epochs"] else 0):
            yield epochs, l, [e[key][l] for e in r["epochs"]], r


def plot_weight_statistics(results, ax=None):
    """Mean and standard deviation of each layer's W over epochs (``results.json``)."""
    ax = _new_ax(ax, (5, 3.5))
    for epochs, l, std, r in _per_layer(results, "weight_std"):
        mean = [e["weight_mean"][l] for e in r["epochs"]]
        ax.errorbar(epochs, mean, yerr=std, capsize=3, label=f"W{l + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weight mean ± SD")
    ax.legend(fontsize=7)
    return ax


def plot_feedback_angle(results, ax=None):
    """Feedback-alignment diagnostic: angle between Y and the transposed forward weights over epochs."""
    return _plot_angles(results, "feedback_angle", "Y{} vs W^T", ax)


def plot_backprop_angle(results, ax=None):
    """REF's diagnostic (``record_backprop_angle``): mean angle per epoch between each hidden layer's
    update and the backprop update."""
    return _plot_angles(results, "backprop_angle", "hidden {} vs backprop", ax)


def _plot_angles(results, key, label, ax):
    ax = _new_ax(ax, (5, 3.5))
    several = len(_runs(results)) > 1
    for epochs, l, angles, r in _per_layer(results, key):
        ax.plot(epochs, angles, "o-", label=f"{r['model']} {label.format(l + 1)}" if several else label.format(l + 1))
    ax.axhline(90, color="grey", ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("angle (degrees)")
    ax.legend(fontsize=7)
    return ax


def plot_run(run_dir, out_dir=None, example: int = 0, data_dir=None) -> list[Path]:
    """All figures of a training run directory (``segdend plot``); returns the written paths.

    Curves come from ``results.json``; the compartment, output and raster figures replay one training
    example through the saved network in runtime numpy mode, with recorders attached (a microcircuit:
    :func:`~brian_segdend.microcircuits.plotting.plot_microcircuit`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from brian2 import SpikeMonitor, ms, prefs

    from . import datasets
    from .monitoring import record, traces
    from .network import SegregatedDendriteNetwork
    from .simulator import Simulator
    from .training import load_network

    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    res = _runs(run_dir)[0]
    written = []
    for name, fn, key in (
        ("learning_curve", plot_learning_curve, "test_error"),
        ("weight_statistics", plot_weight_statistics, "weight_std"),
        ("feedback_angle", plot_feedback_angle, "feedback_angle"),
        ("backprop_angle", plot_backprop_angle, "backprop_angle"),
    ):
        if res["epochs"] and key in res["epochs"][0]:  # recorded by this run
            written.append(save_figure(fn(res), out_dir / f"{name}.png"))

    config, weights = load_network(run_dir / "network.npz")
    if not config.n_hidden:
        return written
    prefs.codegen.target = "numpy"
    X, y = datasets.load(res["dataset"], "test", data_dir)
    if config.kind == "microcircuit":
        from .microcircuits.plotting import plot_microcircuit

        return written + plot_microcircuit(config, weights, X[example:], y[example:], out_dir)
    cfg = config.replace(random_phase_lengths=False)
    net = SegregatedDendriteNetwork(cfg, weights=weights, capacity=1)
    rec_h = record(net, "hidden1", ["d", "a", "u"], neurons=[0])
    rec_o = record(net, "output", ["r"])
    spikes = {name: SpikeMonitor(net.layer(name).neurons) for name in ("input", "hidden1", "output")}
    net.brian_network.add(*spikes.values())
    Simulator(net).present(X[example : example + 1], y[example : example + 1], learn=True, seed=0, record=True)
    t, d = traces(rec_h, "d")
    a, u = traces(rec_h, "a")[1], traces(rec_h, "u")[1]
    ax = plot_compartments(t, d[0], a[0], u[0], cfg.forward_steps, cfg.target_steps, cfg.window_steps, cfg.dt)
    ax.set_title(f"hidden1 neuron 0, one training example (label {y[example]})", fontsize=9)
    written.append(save_figure(ax, out_dir / "compartments.png"))
    _, r = traces(rec_o, "r")
    W = cfg.window_steps
    forward, target = r[:, cfg.forward_steps - W : cfg.forward_steps].mean(1), r[:, -W:].mean(1)
    written.append(
        save_figure(plot_output_rates(forward, target, y[example], cfg.lambda_step), out_dir / "output_rates.png")
    )
    fig, axs = plt.subplots(3, 1, figsize=(7, 6), sharex=True)
    for ax, (name, mon) in zip(axs, spikes.items()):
        plot_raster(np.asarray(mon.t[:] / ms), mon.i[:], ax=ax, label=name)
    written.append(save_figure(fig, out_dir / "raster.png"))
    return written
