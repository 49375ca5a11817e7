"""Learning dynamics (Lange 2018, experiment 2): train and validation error against examples seen.

Made only from the per-epoch ``results.json`` files that the ``scalability`` experiment saved
(``--runs``, default ``results/scalability/runs``); nothing is trained here, so the budget changes
nothing (run ``scalability`` under the budget you want first). Writes one figure per dataset,
``out/learning_dynamics_<dataset>.png`` (two panels, train and validation error; one line per model,
the mean over seeds with a ±1 sd band), and ``out/curves.csv`` with the plotted numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import datasets as _datasets
from ..plotting import save_figure
from ..results import write_csv
from .tables import MODELS, load_runs

__all__ = ["DESCRIPTION", "add_arguments", "run", "curves", "plot_dynamics"]

DESCRIPTION = (
    "train and validation error against examples seen, per model and dataset, from the saved "
    "per-epoch results of the scalability runs (no training)"
)
DEFAULT_RUNS = "results/scalability/runs"
#: Tick positions of the (log) examples axis.
TICKS = tuple(m * 10**e for e in range(1, 8) for m in (1, 2, 5))
METRICS = (("train_error", "train error % (running, during the epoch)"), ("val_error", "validation error %"))


def add_arguments(parser) -> None:
    """Options of ``segdend experiment learning_dynamics``."""
    parser.add_argument("--runs", default=None, help=f"folder of run directories (default: {DEFAULT_RUNS})")
    parser.add_argument("--models", default=None, help="comma-separated models to plot (default: all found)")
    parser.add_argument("--datasets", default=None, help="comma-separated datasets to plot (default: all found)")


def _select(value, found, valid, what):
    """Requested names (comma-separated or list) checked against ``valid``; default: ``found``."""
    if value is None:
        return found
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    for name in names:
        if name not in valid:
            raise ValueError(f"unknown {what} {name!r}; valid names are: {', '.join(valid)}")
    return names


def curves(records: list[dict]) -> list[dict]:
    """Mean and sd over seeds per (dataset, model, epoch).

    Returns
    -------
    list of dict
        ``dataset, model, epoch, n_seeds, examples_seen`` and ``<metric>_mean`` / ``<metric>_sd``
        for :data:`METRICS` (``None`` where a metric was not measured).
    """
    groups = {}
    for record in records:
        for entry in record["epochs"]:
            groups.setdefault((record["dataset"], record["model"], entry["epoch"]), []).append(entry)
    order = {m: i for i, m in enumerate(MODELS)}
    rows = []
    for (dataset, model, epoch), entries in sorted(
        groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1], kv[0][2])
    ):
        row = {
            "dataset": dataset,
            "model": model,
            "epoch": epoch,
            "n_seeds": len(entries),
            "examples_seen": float(np.mean([e["examples_seen"] for e in entries])),
        }
        for key, _ in METRICS:
            values = [e[key] for e in entries if e.get(key) is not None]
            row[f"{key}_mean"] = float(np.mean(values)) if values else None
            row[f"{key}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        rows.append(row)
    return rows


def plot_dynamics(rows: list[dict], dataset: str, path) -> Path:
    """Train and validation error against examples seen for every model of ``rows`` on ``dataset``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    mine = [r for r in rows if r["dataset"] == dataset]
    if not mine:
        raise ValueError(f"no results for dataset {dataset!r}")
    models = list(dict.fromkeys(r["model"] for r in mine))
    colours = {m: f"C{i % 10}" for i, m in enumerate([*MODELS, *sorted(set(models) - set(MODELS))])}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, (key, label) in zip(axes, METRICS):
        for model in models:
            pts = [r for r in mine if r["model"] == model and r[f"{key}_mean"] is not None]
            if not pts:
                continue
            x = np.array([r["examples_seen"] for r in pts])
            y = np.array([r[f"{key}_mean"] for r in pts])
            sd = np.array([r[f"{key}_sd"] or 0.0 for r in pts])
            ax.plot(
                x, y, "o-", color=colours[model], ms=3, lw=1.3, label=f"{model} (n={max(r['n_seeds'] for r in pts)})"
            )
            ax.fill_between(x, y - sd, y + sd, color=colours[model], alpha=0.2, lw=0)
        ax.set_xscale("log")
        lo, hi = min(r["examples_seen"] for r in mine), max(r["examples_seen"] for r in mine)
        ax.set_xticks([t for t in TICKS if lo / 1.5 <= t <= hi * 1.5] or [lo, hi])
        ax.xaxis.set_major_formatter(FuncFormatter(_examples_label))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("training examples seen")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylim(bottom=0)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{dataset}: mean over seeds, band ±1 sd (per-epoch results)", fontsize=10)
    return save_figure(fig, path, dpi=120)


def _examples_label(value, _pos=None):
    """``3000`` -> ``'3k'``, ``2e6`` -> ``'2M'``."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{unit}"
    return f"{value:g}"


def run(
    budget: str,
    out,
    data_dir=None,
    resume: bool = False,
    progress: bool = True,
    runs=None,
    models=None,
    datasets=None,
    **unknown,
) -> dict:
    """Plot the learning dynamics of the saved runs; returns ``{'figures', 'curves', 'rows'}``.

    Parameters
    ----------
    budget : {'smoke', 'full'}
        Accepted for the common interface; nothing is trained, so it changes nothing.
    out : path
        Output directory of the figures and ``curves.csv``.
    runs : path, optional
        Folder of run directories (default :data:`DEFAULT_RUNS`).
    models, datasets : str or list of str, optional
        Restrict the figures to these models / datasets.

    Raises
    ------
    FileNotFoundError
        If ``runs`` holds no ``*/results.json``.
    """
    if unknown:
        raise ValueError(f"unknown option(s) of learning_dynamics: {', '.join(sorted(unknown))}")
    if budget not in ("smoke", "full"):
        raise ValueError(f"unknown budget {budget!r}; choose one of smoke, full")
    if out is None:
        raise ValueError("out (the output directory) is required")
    records = load_runs(runs or DEFAULT_RUNS)
    found_models = list(dict.fromkeys(r["model"] for r in records))
    found_sets = [d for d in _datasets.DATASETS if any(r["dataset"] == d for r in records)]
    want_models = _select(models, found_models, sorted(set(MODELS) | set(found_models)), "model")
    want_sets = _select(datasets, found_sets, _datasets.DATASETS, "dataset")
    records = [r for r in records if r["model"] in want_models and r["dataset"] in want_sets and r["epochs"]]
    if not records:
        raise FileNotFoundError(
            f"no per-epoch results for models {want_models} and datasets {want_sets} under "
            f"{str(runs or DEFAULT_RUNS)!r}"
        )
    rows = curves(records)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "curves.csv", rows)
    figures = [
        plot_dynamics(rows, d, out / f"learning_dynamics_{d}.png")
        for d in want_sets
        if any(r["dataset"] == d for r in rows)
    ]
    print(f"learning_dynamics: {len(records)} runs -> {', '.join(str(f) for f in figures)}", flush=True)
    return {"figures": figures, "curves": out / "curves.csv", "rows": rows}
