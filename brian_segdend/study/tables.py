"""Tables and figures of the study's training runs, shared by ``scalability`` and ``learning_dynamics``.

A run is an ordinary run directory (``results.json`` per epoch, plus the ``study.json`` budget it was
run under); :func:`load_runs` reads them, :func:`summarize` averages the finished ones over seeds,
:func:`write_table` and :func:`plot_accuracy` write the table and figure next to Lange's numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import datasets
from ..plotting import save_figure
from ..results import RunLog, atomic_write_text, write_csv

__all__ = [
    "MODELS",
    "LANGE_ACCURACY",
    "STUDY_FILE",
    "load_runs",
    "mean_sd",
    "summarize",
    "write_table",
    "plot_accuracy",
    "budget_note",
]

#: Models of the study, in table order (``tp`` is optional: pass it in ``--models``).
MODELS = ("ref-s", "lange-base", "microcircuit-mnist", "bp-mlp", "bp-cnn", "fa", "dfa", "dtp", "sdtp")

#: Lange (2018), test accuracy (%) after 10 epochs on the full datasets; his compartment model is the
#: reference for both segregated-dendrite models.
LANGE_ACCURACY = {
    "bp-mlp": {"mnist": 97.38, "fashion-mnist": 88.38, "cifar10": 44.86},
    "bp-cnn": {"mnist": 98.94, "fashion-mnist": 90.33, "cifar10": 47.63},
    "lange-base": {"mnist": 97.13, "fashion-mnist": 84.76, "cifar10": 34.03},
    "ref-s": {"mnist": 97.13, "fashion-mnist": 84.76, "cifar10": 34.03},
}
#: The budget a run directory was made under (beside its ``results.json``).
STUDY_FILE = "study.json"


def load_runs(runs_dir: str | Path) -> list[dict]:
    """Every run record under ``runs_dir`` (``*/results.json``) as a list of dicts.

    Each dict is the ``results.json`` content plus ``run_dir`` and, where present, the ``study``
    budget. Raises ``FileNotFoundError`` when the directory holds no results.
    """
    runs_dir = Path(runs_dir)
    paths = sorted(runs_dir.glob(f"*/{RunLog.JSON_NAME}")) if runs_dir.is_dir() else []
    if not paths:
        raise FileNotFoundError(
            f"no run results (*/{RunLog.JSON_NAME}) under {str(runs_dir)!r}; run "
            "`segdend experiment scalability` first (or point --runs at its runs/ folder)"
        )
    records = []
    for path in paths:
        record = json.loads(path.read_text())
        record["run_dir"] = str(path.parent)
        study = path.parent / STUDY_FILE
        if study.exists():
            record["study"] = json.loads(study.read_text())
        records.append(record)
    return records


def mean_sd(values) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def summarize(plans: list, runs_dir: str | Path, sizes: Callable) -> list[dict]:
    """One row per (model, dataset) of ``plans`` with finished runs: mean ± sd test accuracy over seeds.

    ``sizes(plan)`` gives the ``(n_train, n_val, n_test)`` a plan used.
    """
    groups = {}
    for plan in plans:
        groups.setdefault((plan.model, plan.dataset), []).append(plan)
    rows = []
    for (model, dataset), members in groups.items():
        finished = []
        for plan in members:
            try:
                log = RunLog.load(Path(runs_dir) / plan.name)
            except (FileNotFoundError, ValueError):
                continue
            last = [e for e in log.epochs if e["epoch"] == plan.epochs]
            if last:
                finished.append(last[0])
        if not finished:
            continue
        n_train, n_val, n_test = sizes(members[0])
        test_mean, test_sd = mean_sd([100 - e["test_error"] for e in finished])
        val_mean, _ = mean_sd([None if e.get("val_error") is None else 100 - e["val_error"] for e in finished])
        wall_mean, _ = mean_sd([e.get("wall_time_s") for e in finished])
        rows.append(
            {
                "model": model,
                "kind": members[0].kind,
                "dataset": dataset,
                "n_seeds": len(finished),
                "epochs": members[0].epochs,
                "n_train": n_train,
                "n_val": n_val,
                "n_test": n_test,
                "test_accuracy_mean": round(test_mean, 2),
                "test_accuracy_sd": None if test_sd is None else round(test_sd, 2),
                "val_accuracy_mean": None if val_mean is None else round(val_mean, 2),
                "lange_10_epochs": LANGE_ACCURACY.get(model, {}).get(dataset),
                "wall_time_s_mean": None if wall_mean is None else round(wall_mean, 1),
            }
        )
    return rows


def write_table(rows: list[dict], out: str | Path, budget_note: str = "") -> str:
    """``out/table.csv`` and ``out/table.md``; returns the Markdown text."""
    out = Path(out)
    if not rows:
        raise ValueError("no finished runs to tabulate")
    write_csv(out / "table.csv", rows)
    lines = [
        "| model | dataset | test acc. % (mean ± sd) | seeds | epochs | train ex./epoch | test ex. | "
        "val acc. % | Lange 10 ep. % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = f"{r['test_accuracy_mean']:.2f}" + (
            "" if r["test_accuracy_sd"] is None else f" ± {r['test_accuracy_sd']:.2f}"
        )
        lines.append(
            f"| {r['model']} | {r['dataset']} | {acc} | {r['n_seeds']} | {r['epochs']} | {r['n_train']} | "
            f"{r['n_test']} | {_dash(r['val_accuracy_mean'])} | {_dash(r['lange_10_epochs'])} |"
        )
    text = "\n".join(lines) + "\n" + (f"\n{budget_note}\n" if budget_note else "")
    atomic_write_text(out / "table.md", text)
    return text


def _dash(value):
    return "–" if value is None else f"{value:.2f}"


def plot_accuracy(rows: list[dict], path: str | Path, title: str = "") -> Path:
    """Test accuracy with sd error bars, one panel per dataset (Lange's 10-epoch numbers as crosses)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [d for d in datasets.DATASETS if any(r["dataset"] == d for r in rows)]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    handle = None
    for ax, dataset in zip(axes[0], names):
        mine = [r for r in rows if r["dataset"] == dataset]
        x = np.arange(len(mine))
        means = [r["test_accuracy_mean"] for r in mine]
        ax.bar(
            x,
            means,
            color=[f"C{i % 10}" for i in x],
            yerr=[r["test_accuracy_sd"] or 0 for r in mine],
            capsize=3,
            alpha=0.85,
        )
        for i, mean in zip(x, means):
            ax.text(i, 1.5, f"{mean:.1f}", ha="center", va="bottom", fontsize=6, rotation=90)
        lange = [(i, r["lange_10_epochs"]) for i, r in zip(x, mine) if r["lange_10_epochs"] is not None]
        if lange:
            (handle,) = ax.plot(*zip(*lange), "kx", ms=7)
        ax.set_xticks(x)
        ax.set_xticklabels([r["model"] for r in mine], rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_title(dataset)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("test accuracy % (mean ± sd over seeds)")
    if handle is not None:
        fig.legend([handle], ["Lange 2018, 10 epochs, full data"], loc="lower left", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=8)
    return save_figure(fig, path, dpi=120, rect=(0, 0.03, 1, 1))


def budget_note(plans: list) -> str:
    """The budget in one sentence, models with the same budget grouped (for the table and the figure)."""
    seeds = {}
    for plan in plans:
        seeds.setdefault(plan.model, set()).add(plan.seed)
    groups = {}
    for plan in plans:
        key = (
            len(seeds[plan.model]),
            plan.epochs,
            plan.n_val,
            plan.n_train or "all",
            plan.n_test or "all",
            plan.n_hidden,
        )
        models = groups.setdefault(key, [])
        if plan.model not in models:
            models.append(plan.model)
    parts = []
    for (n_seeds, epochs, n_val, n_train, n_test, hidden), models in groups.items():
        parts.append(
            f"{', '.join(models)}: {n_seeds} seed(s) x {epochs} epoch(s) of {n_train} training "
            f"examples, {n_val} validation, {n_test} test examples" + (f", {hidden} hidden units" if hidden else "")
        )
    return "Budget: " + "; ".join(parts) + "."
