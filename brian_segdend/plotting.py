"""Figures people look at (matplotlib). Every function draws on ``axes`` (new ones if ``None``) and
returns them; none calls ``plt.show()``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = [
    "plot_compartments",
    "plot_output_rates",
    "plot_raster",
    "plot_learning_curve",
    "plot_weight_statistics",
    "plot_feedback_angle",
    "plot_run",
]


def _axes(axes, n=1, **kw):
    import matplotlib.pyplot as plt

    if axes is not None:
        return axes
    fig, ax = plt.subplots(n, 1, **kw)
    return ax


def plot_compartments(times, d, a, u, forward_steps, target_steps, window_steps, dt=1.0, alpha=None, axes=None):
    """Basal, apical and somatic potential of one hidden neuron through one training example.

    ``times`` in ms; phases start at ``times[0]``. The averaging windows of both phases are shaded
    and the plateau potentials (``alpha = (alpha_f, alpha_t)``) are written on them.
    """
    ax = _axes(axes, figsize=(7, 3))
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


def plot_output_rates(rates_forward, rates_target, label, lambda_step, axes=None):
    """Output rates of one example: forward-phase mean, target-phase mean, and the teaching target."""
    ax = _axes(axes, figsize=(5, 3))
    k = np.arange(len(rates_forward))
    ax.bar(k - 0.2, rates_forward, width=0.4, label="forward")
    ax.bar(k + 0.2, rates_target, width=0.4, label="target phase")
    ax.plot(k, lambda_step * (k == label), "k_", ms=12, label="label")
    ax.set_xticks(k)
    ax.set_xlabel("output unit")
    ax.set_ylabel("rate (spikes / step)")
    ax.legend(fontsize=7)
    return ax


def plot_raster(spike_times, neuron_indices, axes=None, label=None):
    """Spike raster (times in ms)."""
    ax = _axes(axes, figsize=(6, 2.5))
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


def plot_learning_curve(results, axes=None, key="test_error"):
    """Error (percent) against examples seen, from ``results.json`` of one or several runs."""
    ax = _axes(axes, figsize=(5, 3.5))
    for r in _runs(results):
        x = [e["examples_seen"] for e in r["epochs"]]
        for k, style in ((key, "o-"), ("train_error", "s:"), ("val_error", "^--")):
            y = [e.get(k) for e in r["epochs"]]
            if all(v is not None for v in y):
                ax.plot(x, y, style, label=f"{r['model']} {k.replace('_', ' ')}")
        quick = [point for e in r["epochs"] for point in e.get("quick_test") or []]
        if quick:  # REF's quick tests (training.train(quick_test_every=...))
            ax.plot(*zip(*quick), ".-", lw=0.8, label=f"{r['model']} quick test")
    ax.set_xlabel("training examples seen")
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


def plot_weight_statistics(results, axes=None):
    """Mean and standard deviation of each layer's W over epochs (``results.json``)."""
    ax = _axes(axes, figsize=(5, 3.5))
    for epochs, l, std, r in _per_layer(results, "weight_std"):
        mean = [e["weight_mean"][l] for e in r["epochs"]]
        ax.errorbar(epochs, mean, yerr=std, capsize=3, label=f"W{l + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weight mean ± SD")
    ax.legend(fontsize=7)
    return ax


def plot_feedback_angle(results, axes=None):
    """Feedback-alignment diagnostic: angle between Y and the transposed forward weights over epochs."""
    ax = _axes(axes, figsize=(5, 3.5))
    for epochs, l, angles, _ in _per_layer(results, "feedback_angle"):
        ax.plot(epochs, angles, "o-", label=f"Y{l + 1} vs W^T")
    ax.axhline(90, color="grey", ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("angle (degrees)")
    ax.legend(fontsize=7)
    return ax


def plot_run(run_dir, out_dir=None, example=0, data_dir=None):
    """All figures of a training run directory (``segdend plot``); returns the written paths.

    Curves come from ``results.json``; the compartment, output and raster figures replay one training
    example through the saved network in runtime numpy mode, with recorders attached.
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
    ):
        if not res["epochs"] or key not in res["epochs"][0]:
            continue  # not recorded by this run
        fig, ax = plt.subplots(figsize=(5, 3.5))
        fn(res, axes=ax)
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png", dpi=110)
        plt.close(fig)
        written.append(out_dir / f"{name}.png")

    config, weights = load_network(run_dir / "network.npz")
    if not config.n_hidden:
        return written
    prefs.codegen.target = "numpy"
    X, y = datasets.load(res["dataset"], "test", data_dir)
    cfg = config.replace(random_phase_lengths=False)
    net = SegregatedDendriteNetwork(cfg, weights=weights, capacity=1)
    rec_h = record(net, "hidden1", ["d", "a", "u"], neurons=[0])
    rec_o = record(net, "output", ["r"])
    spikes = {name: SpikeMonitor(net.layer(name).neurons) for name in ("input", "hidden1", "output")}
    net.network.add(*spikes.values())
    sim = Simulator(net)
    sim.present(X[example : example + 1], y[example : example + 1], True, seed=0, record=True)
    t, d = traces(rec_h, "d")
    a, u = traces(rec_h, "a")[1], traces(rec_h, "u")[1]
    fig, ax = plt.subplots(figsize=(7, 3))
    plot_compartments(t, d[0], a[0], u[0], cfg.forward_steps, cfg.target_steps, cfg.window_steps, cfg.dt, axes=ax)
    ax.set_title(f"hidden1 neuron 0, one training example (label {y[example]})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "compartments.png", dpi=110)
    plt.close(fig)
    _, r = traces(rec_o, "r")
    fig, ax = plt.subplots(figsize=(5, 3))
    W = cfg.window_steps
    plot_output_rates(
        r[:, cfg.forward_steps - W : cfg.forward_steps].mean(1), r[:, -W:].mean(1), y[example], cfg.lambda_step, axes=ax
    )
    fig.tight_layout()
    fig.savefig(out_dir / "output_rates.png", dpi=110)
    plt.close(fig)
    fig, axs = plt.subplots(3, 1, figsize=(7, 6), sharex=True)
    for ax, (name, mon) in zip(axs, spikes.items()):
        plot_raster(np.asarray(mon.t[:] / ms), mon.i[:], axes=ax, label=name)
    fig.tight_layout()
    fig.savefig(out_dir / "raster.png", dpi=110)
    plt.close(fig)
    return written + [out_dir / n for n in ("compartments.png", "output_rates.png", "raster.png")]
