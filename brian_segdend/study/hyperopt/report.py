"""The report of a search: best model, convergence, timing, flag importance, robustness over datasets.

Lange's (2018) own searches are the reference (:data:`LANGE_BO`: best and median accuracy of the
evaluations in his published logs, ``logs/bo_logs_<type>_<dataset>.json``; 10 epochs on all images
of each fold, 3-fold CV).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...config import FLAGS
from ...plotting import save_figure
from ...results import atomic_write_text, write_csv
from .objective import PENALTY, POOL_SIZE
from .search import SearchSettings, objective_value, read_log
from .space import BASELINE_KIND, FAMILIES

__all__ = ["LANGE_BO", "summarize", "write_model", "plot_convergence", "flag_importance", "robustness"]

#: Lange's searches, from his logs: ``(family, dataset) -> (best %, median %, evaluations)``.
LANGE_BO = {
    ("mlp", "mnist"): (96.82, 92.36, 50),
    ("mlp", "fashion-mnist"): (87.25, 84.19, 50),
    ("mlp", "cifar10"): (45.26, 39.99, 50),
    ("cnn", "mnist"): (99.04, 97.97, 50),
    ("cnn", "fashion-mnist"): (90.90, 88.27, 50),
    ("cnn", "cifar10"): (53.10, 47.16, 50),
    ("segdend", "mnist"): (93.04, 88.01, 41),
    ("segdend", "fashion-mnist"): (86.47, 12.96, 30),
    ("segdend", "cifar10"): (37.12, 11.89, 23),
}
MEASURED = ("ok", "chance")  # statuses with a measured error


def summarize(
    s: SearchSettings, directory: Path, entries: list[dict], models_dir: Path | None, log=print
) -> dict[str, Any]:
    """``summary.json``, ``best.json``, the named model, ``timing.json`` and the figures of one search."""
    measured = [e for e in entries if e["status"] in MEASURED]
    walls = [e["wall_s"] for e in entries if e["status"] != "failed"]  # runs only, not rejected configurations
    compile_s = [e["compile_s"] for e in entries if "compile_s" in e]
    lange = LANGE_BO.get((s.family, s.dataset))
    summary = {
        "family": s.family,
        **{k: getattr(s, k) for k in ("dataset", "subset", "folds", "epochs", "stop_at_chance")},
        "subset_images": s.images,
        "evaluations": len(entries),
        "ok": len(measured),
        "status_counts": {st: sum(e["status"] == st for e in entries) for st in sorted({e["status"] for e in entries})},
        "median_accuracy": float(np.median([100 - objective_value(e) for e in entries])) if entries else None,
        "median_eval_s": float(np.median(walls)) if walls else None,
        "lange_best_accuracy": lange[0] if lange else None,
        "lange_median_accuracy": lange[1] if lange else None,
        "best_accuracy": None,
    }
    timing = {"median_eval_s": summary["median_eval_s"], "eval_s": walls}
    timing["median_compile_s"] = float(np.median(compile_s)) if compile_s else None
    atomic_write_text(directory / "timing.json", json.dumps(timing, indent=1))
    if measured:
        best = min(measured, key=lambda e: e["error"])
        summary.update(best_accuracy=best["accuracy"], best_index=best["index"], best_params=best["params"])
        atomic_write_text(directory / "best.json", json.dumps({**summary, "best": best}, indent=1))
        if models_dir is not None:
            summary["model"] = write_model(s, best, models_dir, len(entries)).stem  # the name --model takes
    else:
        log(f"[{s.family}] no evaluation succeeded: no best model written")
    plot_convergence(s.family, entries, directory / "convergence.png")
    if s.family == "segdend" and entries:
        flag_importance(entries, directory)
    if summary["median_eval_s"] is not None:
        best_text = "-" if summary["best_accuracy"] is None else f"{summary['best_accuracy']:.2f}"
        log(
            f"[{s.family}] {len(entries)} evaluations ({summary['status_counts']}), best cv accuracy {best_text} %"
            f" (Lange: {lange[0] if lange else '-'} %), median wall time of one evaluation "
            f"{summary['median_eval_s']:.1f} s"
        )
    atomic_write_text(directory / "summary.json", json.dumps(summary, indent=1))
    return summary


def write_model(s: SearchSettings, best: dict, models_dir: Path, n_evals: int) -> Path:
    """``<models_dir>/bo-<family>-<dataset>.toml``, loadable by :func:`brian_segdend.registry.load_model`."""
    import tomli_w

    from ...registry import load_model

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    description = (
        f"Best of {n_evals} Bayesian-optimisation evaluations over Lange's (2018) {s.family} search space "
        f"(segdend experiment hyperopt): {best['accuracy']:.2f} % {s.folds}-fold CV accuracy on a "
        f"stratified subset of {s.images} {s.dataset} images, {s.epochs} epoch(s) per fold"
    )
    model = {
        "kind": BASELINE_KIND.get(s.family, s.family),
        "description": description,
        "reference": "Lange (2018) Bayesian-optimisation search spaces; results/hyperopt",
        "params": best["params"],
    }
    path = models_dir / f"bo-{s.family}-{s.dataset}.toml"
    atomic_write_text(path, tomli_w.dumps(model))
    load_model(path)  # validate (segdend: ModelConfig)
    return path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_convergence(family: str, entries: list[dict], path: Path) -> None:
    """Objective of every evaluation in order, with the best so far."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    n = np.arange(1, len(entries) + 1)
    obj = np.array([objective_value(e) for e in entries], dtype=float)
    ok = np.array([e["status"] in MEASURED for e in entries], dtype=bool)
    if len(entries):
        ax.scatter(n[ok], obj[ok], s=14, label="evaluation (CV error)")
        ax.scatter(
            n[~ok], obj[~ok], marker="x", color="tab:red", s=20, label=f"failed/diverged/timeout ({PENALTY:.0f} %)"
        )
        ax.step(n, np.minimum.accumulate(obj), where="post", color="k", label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("cross-validated error (%)")
    ax.set_title(f"Bayesian optimisation: {family}")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)


def flag_importance(entries: list[dict], directory: Path) -> list[dict]:
    """Which of the eleven flags matter: mean CV accuracy with each flag on vs off, and a random forest.

    Failed evaluations count at chance level (10 % accuracy). Writes ``flag_importance.csv`` and
    ``flag_importance.png`` in ``directory``; returns the rows (sorted by |on - off|).
    """
    entries = [e for e in entries if e.get("x") is not None]
    acc = np.array([100.0 - objective_value(e) for e in entries])
    flags = np.array([[float(e["params"][f]) for f in FLAGS] for e in entries]).reshape(len(entries), len(FLAGS))
    forest = np.full(len(FLAGS), np.nan)
    if len(entries) >= 8 and np.ptp(acc) > 0:
        from sklearn.ensemble import RandomForestRegressor

        X = np.array([e["x"] for e in entries], dtype=float)
        rf = RandomForestRegressor(n_estimators=300, random_state=0, min_samples_leaf=2).fit(X, acc)
        forest = rf.feature_importances_[: len(FLAGS)]  # flags are the first 11 dimensions
    rows = []
    for j, flag in enumerate(FLAGS):
        on, off = acc[flags[:, j] == 1], acc[flags[:, j] == 0]
        rows.append(
            {
                "flag": flag,
                "n_on": len(on),
                "n_off": len(off),
                "mean_acc_on": float(on.mean()) if len(on) else None,
                "mean_acc_off": float(off.mean()) if len(off) else None,
                "difference": float(on.mean() - off.mean()) if len(on) and len(off) else None,
                "forest_importance": None if np.isnan(forest[j]) else float(forest[j]),
            }
        )
    rows.sort(key=lambda r: -abs(r["difference"] or 0.0))
    write_csv(directory / "flag_importance.csv", rows)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    names = [r["flag"] for r in rows]
    axes[0].barh(names, [r["difference"] or 0.0 for r in rows], color="tab:blue")
    axes[0].set_xlabel("mean CV accuracy, flag on - off (points)")
    axes[1].barh(names, [r["forest_importance"] or 0.0 for r in rows], color="tab:green")
    axes[1].set_xlabel("random-forest importance (all dimensions)")
    axes[0].invert_yaxis()
    fig.suptitle(f"Compartment model: flag importance over {len(entries)} evaluations (failed = 10 % acc.)")
    save_figure(fig, directory / "flag_importance.png", dpi=120)
    return rows


def robustness(root: Path) -> list[dict]:
    """Distribution of CV accuracy over all evaluations per family and dataset (Lange's central question).

    Reads every ``<root>/<dataset>/<family>/log.jsonl``; writes ``robustness.png`` and ``robustness.csv``
    in ``root``, with Lange's best and median per family and dataset. Failed evaluations are counted and
    drawn at chance level. Returns the CSV rows.
    """
    root = Path(root)
    groups = []
    for dataset in POOL_SIZE:
        for family in FAMILIES:
            entries = read_log(root / dataset / family / "log.jsonl")
            if entries:
                groups.append((dataset, family, entries))
    if not groups:
        return []
    rows, data, labels = [], [], []
    for dataset, family, entries in groups:
        acc = np.array([100.0 - objective_value(e) for e in entries])
        ok = np.array([e["status"] in MEASURED for e in entries])
        lange = LANGE_BO.get((family, dataset), (None, None, None))
        rows.append(
            {
                "dataset": dataset,
                "family": family,
                "evaluations": len(entries),
                "ok": int(ok.sum()),
                "best_acc": float(acc.max()),
                "median_acc": float(np.median(acc)),
                "q25_acc": float(np.percentile(acc, 25)),
                "q75_acc": float(np.percentile(acc, 75)),
                "share_near_chance": float(np.mean(acc < 20.0)),
                "share_above_90": float(np.mean(acc >= 90.0)),
                "lange_best_acc": lange[0],
                "lange_median_acc": lange[1],
                "lange_evaluations": lange[2],
            }
        )
        data.append(acc)
        labels.append(f"{family}\n{dataset}\n(n={len(entries)}, {int((~ok).sum())} failed)")
    write_csv(root / "robustness.csv", rows)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.6 * len(data) + 2, 4.2))
    ax.boxplot(data, showfliers=False)
    rng = np.random.default_rng(0)
    for k, (acc, row) in enumerate(zip(data, rows), start=1):
        ax.scatter(k + rng.uniform(-0.12, 0.12, len(acc)), acc, s=12, alpha=0.7)
        if row["lange_best_acc"] is not None:
            ax.hlines(row["lange_best_acc"], k - 0.3, k + 0.3, colors="k", linestyles="--")
            ax.hlines(row["lange_median_acc"], k - 0.3, k + 0.3, colors="tab:purple", linestyles="-.")
    ax.axhline(10, color="grey", lw=0.8, ls=":")
    ax.set_xticks(range(1, len(data) + 1), labels, fontsize=7)
    ax.set_ylabel("cross-validated accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(
        "Accuracy over all BO evaluations (dashed: Lange's best, dash-dot: his median; dotted: chance; failed at chance)"
    )
    ax.title.set_fontsize(8)
    save_figure(fig, root / "robustness.png", dpi=120)
    return rows
