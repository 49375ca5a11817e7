"""Dataset scalability (Lange 2018, experiment 1): every model x MNIST, Fashion-MNIST, CIFAR-10, several seeds.

Each (model, dataset, seed) is an ordinary run directory ``out/runs/<model>_<dataset>_s<seed>/``
(``results.json``/``.csv`` per epoch with train, validation and test error, a checkpoint) plus
``study.json``, the budget it was run under. With ``resume=True`` a finished run is skipped and a
killed one continues from its checkpoint; a run directory made under another budget is refused.
At the end ``out/table.csv``, ``out/table.md`` (mean ± sd test accuracy per model and dataset) and
``out/accuracy.png`` (one panel per dataset, error bars = sd over seeds) are written from the
finished runs, and ``out/plan.json`` records the budget of every run.

The spiking models run on ``--device`` (default ``auto`` = ``cpp_standalone``, each run in its own
process, builds cached per architecture); the baselines on the CPU with ``--threads`` torch threads.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from .. import datasets, registry
from ..config import parse_setting
from ..results import RunLog, atomic_write_text, write_csv

__all__ = [
    "DESCRIPTION",
    "MODELS",
    "LANGE_ACCURACY",
    "RunPlan",
    "add_arguments",
    "run",
    "plan_runs",
    "expected_seconds",
    "load_runs",
    "summarize",
    "write_table",
    "plot_accuracy",
]

DESCRIPTION = (
    "every model x MNIST, Fashion-MNIST, CIFAR-10 over several seeds: per-run learning curves, "
    "a test-accuracy table (CSV + Markdown) and figure"
)

#: Models of the study, in table order (``tp`` is optional: pass it in ``--models``).
MODELS = ("ref-s", "lange-base", "bp-mlp", "bp-cnn", "fa", "dfa", "dtp", "sdtp")
SEGDEND = "segdend"

#: Lange (2018), test accuracy (%) after 10 epochs on the full datasets; his compartment model is the
#: reference for both segregated-dendrite models.
LANGE_ACCURACY = {
    "bp-mlp": {"mnist": 97.38, "fashion-mnist": 88.38, "cifar10": 44.86},
    "bp-cnn": {"mnist": 98.94, "fashion-mnist": 90.33, "cifar10": 47.63},
    "lange-base": {"mnist": 97.13, "fashion-mnist": 84.76, "cifar10": 34.03},
    "ref-s": {"mnist": 97.13, "fashion-mnist": 84.76, "cifar10": 34.03},
}

#: Budget defaults. ``n_train=None``: every training image not held out for validation;
#: ``n_test=None``: the whole test set. ``per_model``: overrides for single models.
BUDGET_DEFAULTS = {
    "smoke": {
        "seeds": 1,
        "epochs": 1,
        "n_train": 200,
        "n_val": 50,
        "n_test": 100,
        "device": "numpy",
        "per_model": {
            "ref-s": {"n_train": 40, "n_val": 10, "n_test": 20, "n_hidden": 20},
            "lange-base": {"n_hidden": 20},
        },
    },
    "full": {
        "seeds": 3,
        "epochs": 10,
        "n_train": None,
        "n_val": 5000,
        "n_test": None,
        "device": "auto",
        "per_model": {},
    },
}
#: Keys a ``--set`` override may change; ``n_hidden`` only for the segregated-dendrite models.
OVERRIDE_KEYS = ("seeds", "epochs", "n_train", "n_val", "n_test", "n_hidden")
#: Override targets besides model names.
GROUPS = {"spiking": "segregated-dendrite models", "baselines": "PyTorch baselines"}

#: Measured cost on this project's 2-core machine (ms per training example, ms per evaluated
#: example), MNIST-sized inputs / CIFAR-10: baselines from the 10-epoch runs in results/baselines
#: (README), spiking models in cpp_standalone: medians of the runs in results/scalability (ref-s
#: 2.4 / 6.0 ms, CIFAR-10 10.5 / 26 ms; lange-base 0.8 / 0.5 ms, CIFAR-10 3.2 / 1.4 ms).
COST_MS = {
    "ref-s": ((2.4, 6.0), (10.5, 26.0)),
    "lange-base": ((0.8, 0.5), (3.2, 1.4)),
    "bp-mlp": ((0.08, 0.01), (0.23, 0.03)),
    "bp-cnn": ((0.95, 0.3), (1.4, 0.4)),
    "fa": ((0.10, 0.01), (0.28, 0.03)),
    "dfa": ((0.09, 0.01), (0.25, 0.03)),
    "tp": ((0.23, 0.01), (0.6, 0.03)),
    "dtp": ((0.26, 0.01), (0.65, 0.03)),
    "sdtp": ((0.25, 0.01), (0.65, 0.03)),
}
COMPILE_S = 60.0  # one cpp_standalone build of a new architecture
RUNTIME_SLOWDOWN = 40.0  # runtime numpy/cython against cpp_standalone (README speed table)

STUDY_FILE = "study.json"


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The budget of one run: model, dataset, seed, epochs and example counts (``None``: all)."""

    model: str
    kind: str
    dataset: str
    seed: int
    epochs: int
    n_train: int | None
    n_val: int
    n_test: int | None
    n_hidden: int | None = None
    device: str = "auto"

    @property
    def name(self) -> str:
        """Run directory name ``<model>_<dataset>_s<seed>``."""
        return f"{self.model}_{self.dataset}_s{self.seed}"

    @property
    def spiking(self) -> bool:
        return self.kind == SEGDEND

    def budget(self) -> dict:
        """What must match for a run directory to be reused (the device only changes the speed)."""
        d = dataclasses.asdict(self)
        d.pop("device")
        return d


# ------------------------------------------------------------------------------------------ options


def add_arguments(parser):
    """Options of ``segdend experiment scalability``."""
    parser.add_argument("--models", default=None, help=f"comma-separated model names (default: {','.join(MODELS)})")
    parser.add_argument(
        "--datasets", default=None, help=f"comma-separated datasets (default: {','.join(datasets.DATASETS)})"
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (smoke 1, full 3)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (smoke 1, full 10)")
    parser.add_argument(
        "--n-train", type=int, default=None, help="training examples per epoch (smoke 200, full 0 = all not held out)"
    )
    parser.add_argument("--n-val", type=int, default=None, help="validation examples (smoke 50, full 5000)")
    parser.add_argument("--n-test", type=int, default=None, help="test examples (smoke 100, full 0 = all)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=None,
        metavar="TARGET.KEY=VALUE",
        help="per-model budget, TARGET a model name, 'spiking' or 'baselines', KEY one of "
        f"{', '.join(OVERRIDE_KEYS)} (e.g. --set ref-s.n_train=5000); repeatable",
    )
    parser.add_argument("--device", default=None, help="Brian device of the spiking models (smoke numpy, full auto)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the baselines (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and expected duration only")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="train nothing: table and figure from the runs of the plan finished so far",
    )


def _split_names(value, valid, what):
    if value is None:
        return list(valid)
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    if not names:
        raise ValueError(f"no {what} given")
    return names


def _check_models(names):
    known = registry.list_models()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown model {name!r}; valid names are: {', '.join(known)}")
    return {name: known[name] for name in names}


def _check_datasets(names):
    for name in names:
        if name not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(datasets.DATASETS)}")
    return names


def _count(key, value):
    """An example count or number of epochs/seeds from the command line (0 means 'all' for counts)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}={value!r} is not an integer")
    if key in ("n_train", "n_test") and value == 0:
        return None
    low = 0 if key == "n_val" else 1
    if value < low:
        raise ValueError(f"{key}={value} must be >= {low}")
    return value


def parse_overrides(items, specs):
    """``['ref-s.n_train=5000', 'baselines.epochs=3']`` -> ``{model: {key: value}}`` for ``specs``."""
    result = {name: {} for name in specs}
    for item in items or ():
        target, key, value = parse_setting(item, OVERRIDE_KEYS, example="ref-s.n_train=5000", targets=True)
        if target == "spiking":
            names = [n for n, s in specs.items() if s.kind == SEGDEND]
        elif target == "baselines":
            names = [n for n, s in specs.items() if s.kind != SEGDEND]
        elif target in specs:
            names = [target]
        else:
            raise ValueError(
                f"unknown override target {target!r} in {item!r}; valid targets are: {', '.join([*specs, *GROUPS])}"
            )
        if key == "n_hidden" and any(specs[n].kind != SEGDEND for n in names):
            raise ValueError(f"n_hidden applies to segregated-dendrite models only ({item!r})")
        for name in names:
            result[name][key] = _count(key, value)
    return result


def plan_runs(
    budget,
    models=None,
    datasets_=None,
    seeds=None,
    epochs=None,
    n_train=None,
    n_val=None,
    n_test=None,
    overrides=None,
    device=None,
):
    """Every run of the study under ``budget`` and the overrides, as a list of :class:`RunPlan`.

    Global options (``epochs``, ``n_train``, ...) replace the budget's defaults for every model;
    ``overrides`` (``TARGET.KEY=VALUE`` strings) then set single models or groups.
    """
    if budget not in BUDGET_DEFAULTS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGET_DEFAULTS)}")
    defaults = BUDGET_DEFAULTS[budget]
    specs = _check_models(_split_names(models, MODELS, "models"))
    names = _check_datasets(_split_names(datasets_, datasets.DATASETS, "datasets"))
    given = {
        k: _count(k, v)
        for k, v in (("seeds", seeds), ("epochs", epochs), ("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
        if v is not None
    }
    common = {k: defaults[k] for k in ("seeds", "epochs", "n_train", "n_val", "n_test")}
    common.update(given)
    extra = parse_overrides(overrides, specs)
    plans = []
    for model, spec in specs.items():
        b = dict(common, n_hidden=None)
        # the budget's per-model defaults yield to options given explicitly for every model
        b.update({k: v for k, v in defaults["per_model"].get(model, {}).items() if k not in given})
        b.update(extra[model])
        for dataset in names:
            for seed in range(b["seeds"]):
                plans.append(
                    RunPlan(
                        model,
                        spec.kind,
                        dataset,
                        seed,
                        b["epochs"],
                        b["n_train"],
                        b["n_val"],
                        b["n_test"],
                        b["n_hidden"] if spec.kind == SEGDEND else None,
                        device or defaults["device"],
                    )
                )
    return plans


# ------------------------------------------------------------------------------------------ data

TEST_SUBSET_SEED = 2018
DATASET_SIZES = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000), "cifar10": (50000, 10000)}


def _sizes(plan):
    """``(n_train, n_val, n_test)`` actually used by ``plan``."""
    n_pool, n_test_all = DATASET_SIZES[plan.dataset]
    if plan.n_val >= n_pool:
        raise ValueError(f"n_val={plan.n_val} leaves no training images of {plan.dataset} ({n_pool})")
    n_train = n_pool - plan.n_val if plan.n_train is None else min(plan.n_train, n_pool - plan.n_val)
    n_test = n_test_all if plan.n_test is None else min(plan.n_test, n_test_all)
    return n_train, plan.n_val, n_test


def run_data(plan, data_dir=None):
    """``(X_train, y_train, X_test, y_test, val_fraction)`` of one run.

    The training part is a subset of ``n_train + n_val`` images drawn with the run's seed (the
    trainers hold out ``val_fraction`` of it, again with the seed); the test part is a fixed random
    subset of ``n_test`` test images, the same for every model and seed (not the first ``n_test``:
    the CIFAR-10 copy is sorted by class).
    """
    n_train, n_val, n_test = _sizes(plan)
    X, y = datasets.load(plan.dataset, "train", data_dir)
    Xt, yt = datasets.load(plan.dataset, "test", data_dir)
    keep = np.sort(np.random.default_rng([plan.seed, 6]).permutation(len(X))[: n_train + n_val])
    test = np.sort(np.random.default_rng(TEST_SUBSET_SEED).permutation(len(Xt))[:n_test])
    return X[keep], y[keep], Xt[test], yt[test], n_val / (n_train + n_val)


# ------------------------------------------------------------------------------------------ runs


def _status(plan, run_dir, resume):
    """``'done'``, ``'partial'`` or ``'new'``; refuses a directory of another budget or without resume."""
    study = run_dir / STUDY_FILE
    if not study.exists():
        from ..training import CHECKPOINT  # the baselines' checkpoint has the same name

        if (run_dir / RunLog.JSON_NAME).exists() or (run_dir / CHECKPOINT).exists():
            raise ValueError(
                f"run directory {str(run_dir)!r} holds results or a checkpoint of unknown budget "
                f"(no {STUDY_FILE}); move it away or choose another --out"
            )
        return "new"
    saved = json.loads(study.read_text())
    if saved.get("budget") != plan.budget():
        diff = {
            k: (saved.get("budget", {}).get(k), v)
            for k, v in plan.budget().items()
            if saved.get("budget", {}).get(k) != v
        }
        raise ValueError(
            f"run directory {str(run_dir)!r} was made under another budget "
            f"(saved, requested: {diff}); choose another --out or delete it"
        )
    if not resume:
        raise ValueError(f"run directory {str(run_dir)!r} exists; pass --resume to continue or skip it")
    try:
        epochs = RunLog.load(run_dir).epochs
    except (FileNotFoundError, ValueError):
        return "partial"
    return "done" if epochs and epochs[-1]["epoch"] >= plan.epochs else "partial"


def _train_baseline(plan, run_dir, data_dir, progress, threads):
    from .. import baselines

    spec = registry.load_model(plan.model)
    X, y, Xt, yt, val_fraction = run_data(plan, data_dir)
    baselines.train(
        plan.kind,
        spec.params_for(plan.dataset),
        plan.dataset,
        plan.epochs,
        plan.seed,
        run_dir,
        resume=True,
        progress=progress,
        data={"train": (X, y), "test": (Xt, yt)},
        data_source=datasets.locate(plan.dataset, data_dir).to_dict(),
        val_fraction=val_fraction,
        num_threads=threads,
    )


def spiking_config(plan):
    """The :class:`ModelConfig` of a spiking run (dataset overrides and ``n_hidden`` applied)."""
    from ..config import ModelConfig

    config = ModelConfig.from_dict(registry.load_model(plan.model).params_for(plan.dataset))
    if plan.n_hidden is not None:
        config = config.replace(n_hidden=(plan.n_hidden,) * len(config.n_hidden))
    return config


def _train_spiking(plan, run_dir, data_dir, progress, build_root=None):
    """Train one spiking run in this process on the device that is active now."""
    from .. import training

    X, y, Xt, yt, val_fraction = run_data(plan, data_dir)
    config = spiking_config(plan).replace(n_inputs=int(X.shape[1]))
    build = None
    if build_root is not None:
        capacity = min(1000, max(*_sizes(plan), 1))  # as training.train computes it
        build = Path(build_root) / f"build-study-{training.architecture_key(config, capacity)}"
    training.train(
        config,
        plan.dataset,
        epochs=plan.epochs,
        seed=plan.seed,
        out=run_dir,
        data=(X, y, Xt, yt),
        data_source=datasets.locate(plan.dataset, data_dir).to_dict(),
        val_fraction=val_fraction,
        chunk_size=1000,
        resume=(run_dir / training.CHECKPOINT).exists(),
        progress=progress,
        model_name=plan.model,
        build_directory=build,
        log=print,
    )


def _spiking_child(plan, run_dir, data_dir, progress):
    """Entry point of the process that runs one spiking run under a standalone device."""
    from .. import devices
    from ..datasets import cache_dir

    devices.activate(plan.device, build_directory=None)
    _train_spiking(plan, Path(run_dir), data_dir, progress, build_root=cache_dir())


def _standalone(device):
    from ..devices import fastest_available

    return (fastest_available() if device == "auto" else device).endswith("standalone")


def train_run(plan, run_dir, data_dir=None, progress=True, threads=1):
    """Train (or continue) one run into ``run_dir``.

    A spiking run under a standalone device runs in a fresh process (a Brian standalone device builds
    one network per process); under a runtime target it runs here.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / STUDY_FILE).exists():
        atomic_write_text(
            run_dir / STUDY_FILE,
            json.dumps(
                {
                    "budget": plan.budget(),
                    "device": plan.device,
                    "sizes": dict(zip(("n_train", "n_val", "n_test"), _sizes(plan))),
                },
                indent=2,
            )
            + "\n",
        )
    if not plan.spiking:
        _train_baseline(plan, run_dir, data_dir, progress, threads)
    elif _standalone(plan.device):
        process = multiprocessing.get_context("spawn").Process(
            target=_spiking_child, args=(plan, str(run_dir), data_dir, progress)
        )
        process.start()
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(
                f"spiking run {plan.name} failed (exit code {process.exitcode}); "
                f"rerun with --resume to continue from {str(run_dir)!r}"
            )
    else:
        from .. import devices

        devices.activate(plan.device)
        _train_spiking(plan, run_dir, data_dir, progress)


def expected_seconds(plans, done=()):
    """Expected wall time (s) of ``plans`` not in ``done``, from :data:`COST_MS` and compile times."""
    total, architectures = 0.0, set()
    for plan in plans:
        if plan.name in done:
            continue
        train_ms, eval_ms = COST_MS.get(plan.model, COST_MS["bp-mlp"])[plan.dataset == "cifar10"]
        if plan.spiking and not _standalone(plan.device):
            train_ms, eval_ms = train_ms * RUNTIME_SLOWDOWN, eval_ms * RUNTIME_SLOWDOWN
        n_train, n_val, n_test = _sizes(plan)
        total += plan.epochs * (n_train * train_ms + (n_val + n_test) * eval_ms) / 1000 + 2.0
        if plan.spiking and _standalone(plan.device):
            architectures.add((plan.model, plan.dataset == "cifar10", plan.n_hidden))
    return total + COMPILE_S * len(architectures)


def _format_seconds(seconds):
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


# ------------------------------------------------------------------------------------------ results


def load_runs(runs_dir):
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


def _mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def summarize(plans, runs_dir):
    """One row per (model, dataset) of ``plans`` with finished runs: mean ± sd test accuracy over seeds."""
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
        n_train, n_val, n_test = _sizes(members[0])
        test_mean, test_sd = _mean_sd([100 - e["test_error"] for e in finished])
        val_mean, _ = _mean_sd([None if e.get("val_error") is None else 100 - e["val_error"] for e in finished])
        wall_mean, _ = _mean_sd([e.get("wall_time_s") for e in finished])
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


def write_table(rows, out, budget_note=""):
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


def plot_accuracy(rows, path, title=""):
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
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def _budget_note(plans):
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


# ------------------------------------------------------------------------------------------ entry


def run(
    budget,
    out,
    data_dir=None,
    resume=False,
    progress=True,
    models=None,
    datasets=None,
    seeds=None,
    epochs=None,
    n_train=None,
    n_val=None,
    n_test=None,
    overrides=None,
    device=None,
    threads=1,
    dry_run=False,
    table_only=False,
    **unknown,
):
    """Run the scalability study under ``budget``; returns ``{'plans', 'rows', 'table', 'figure', ...}``.

    Parameters
    ----------
    budget : {'smoke', 'full'}
    out : path
        Output directory (runs in ``out/runs``).
    resume : bool
        Skip finished runs and continue killed ones (without it an existing run directory is an error).
    models, datasets : str or list of str, optional
        Subsets of :data:`MODELS` and the datasets (comma-separated string or list).
    seeds, epochs, n_train, n_val, n_test : int, optional
        Replace the budget's defaults for every model (0 examples: all).
    overrides : list of str, optional
        ``TARGET.KEY=VALUE`` per-model budgets (see :func:`parse_overrides`).
    device : str, optional
        Brian device of the spiking models.
    threads : int
        Torch threads of the baselines.
    dry_run : bool
        Only print the plan and its expected duration.
    table_only : bool
        Train nothing; write the table and figure from the runs finished so far (a run with fewer
        seeds than planned counts the seeds it has: the ``seeds`` column says how many).
    """
    if unknown:
        raise ValueError(f"unknown option(s) of scalability: {', '.join(sorted(unknown))}")
    if out is None:
        raise ValueError("out (the output directory) is required")
    plans = plan_runs(budget, models, datasets, seeds, epochs, n_train, n_val, n_test, overrides, device)
    out = Path(out)
    runs_dir = out / "runs"
    status = {plan.name: _status(plan, runs_dir / plan.name, resume or table_only) for plan in plans}
    done = {name for name, s in status.items() if s == "done"}
    note = _budget_note(plans)
    print(
        f"scalability ({budget}): {len(plans)} runs, {len(done)} finished already. {note}\n"
        f"expected duration: {_format_seconds(expected_seconds(plans, done))} "
        "(from measured per-example times on a quiet 2-core machine)",
        flush=True,
    )
    if dry_run:
        return {"plans": plans, "status": status}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "plan.json",
        json.dumps({"budget": budget, "note": note, "runs": [dataclasses.asdict(p) for p in plans]}, indent=2) + "\n",
    )
    t0 = time.perf_counter()
    for k, plan in enumerate(plans):
        if plan.name in done or table_only:
            continue
        print(
            f"[{k + 1}/{len(plans)}] {plan.name} ({status[plan.name]}), {time.perf_counter() - t0:.0f} s so far",
            flush=True,
        )
        train_run(plan, runs_dir / plan.name, data_dir, progress, threads)
    rows = summarize(plans, runs_dir)
    table = write_table(rows, out, note)
    figure = plot_accuracy(rows, out / "accuracy.png", textwrap.fill(f"{budget} budget. {note}", 160))
    print(table, file=sys.stdout, flush=True)
    return {
        "plans": plans,
        "rows": rows,
        "table": out / "table.csv",
        "markdown": out / "table.md",
        "figure": figure,
        "status": status,
    }
