"""Dataset scalability (Lange 2018, experiment 1): every model x MNIST, Fashion-MNIST, CIFAR-10, several seeds.

Each (model, dataset, seed) is an ordinary run directory ``out/runs/<model>_<dataset>_s<seed>/``
(``results.json``/``.csv`` per epoch with train, validation and test error, a checkpoint) plus
``study.json``, the budget it was run under. With ``resume=True`` a finished run is skipped and a
killed one continues from its checkpoint; a run directory made under another budget is refused.
At the end ``out/table.csv``, ``out/table.md`` (mean ± sd test accuracy per model and dataset) and
``out/accuracy.png`` (one panel per dataset, error bars = sd over seeds) are written from the
finished runs, and ``out/plan.json`` records the budget of every run.

Every run is a task of the study's Dask engine (:mod:`.engine`: a local cluster with one worker
per core, or ``--scheduler``), trained in a process of its own. The spiking models run on
``--device`` (default ``auto`` = ``cpp_standalone``, builds shared per architecture); the baselines
on the CPU with ``--threads`` torch threads. A model kind that Brian simulates (the segregated
dendrites, the dendritic microcircuits) is an entry in :data:`TRAINERS` and ``brian_segdend.model.KINDS``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import datasets, registry
from ..results import RunLog, atomic_write_text
from . import engine
from .plans import (
    OVERRIDE_KEYS,
    PLAN_OPTIONS,
    SEGDEND,
    RunPlan,
    expected_seconds,
    format_seconds,
    plan_runs,
    run_data,
    sizes,
)
from .tables import LANGE_ACCURACY, MODELS, STUDY_FILE, budget_note, load_runs, plot_accuracy, summarize, write_table

__all__ = [
    "DESCRIPTION",
    "MODELS",
    "LANGE_ACCURACY",
    "TRAINERS",
    "RunPlan",
    "add_arguments",
    "run",
    "plan_runs",
    "run_data",
    "train_run",
    "expected_seconds",
    "load_runs",
]

DESCRIPTION = (
    "every model x MNIST, Fashion-MNIST, CIFAR-10 over several seeds: per-run learning curves, "
    "a test-accuracy table (CSV + Markdown) and figure"
)

# ------------------------------------------------------------------------------------------ options


def add_arguments(parser) -> None:
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
    engine.add_arguments(parser)


# ------------------------------------------------------------------------------------------ runs


def _status(plan, run_dir, resume):
    """``'done'``, ``'partial'`` or ``'new'``; refuses a directory of another budget or without resume."""
    study = run_dir / STUDY_FILE
    if not study.exists():
        from ..results import CHECKPOINT_FILES

        if (run_dir / RunLog.JSON_NAME).exists() or any((run_dir / name).exists() for name in CHECKPOINT_FILES):
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


def _train_baseline(plan: RunPlan, run_dir: Path, data_dir, threads: int) -> None:
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
        progress=False,
        data={"train": (X, y), "test": (Xt, yt)},
        data_source=datasets.locate(plan.dataset, data_dir).to_dict(),
        val_fraction=val_fraction,
        num_threads=threads,
    )


def spiking_config(plan: RunPlan):
    """The config of a Brian run (its kind's class; dataset overrides and ``n_hidden`` applied)."""
    from ..model import config_class

    config = config_class(plan.kind).from_dict(registry.load_model(plan.model).params_for(plan.dataset))
    if plan.n_hidden is not None:
        config = config.replace(n_hidden=(plan.n_hidden,) * len(config.n_hidden))
    return config


def _train_brian(plan: RunPlan, run_dir: Path, data_dir, threads: int) -> None:
    """Train one run of a Brian model kind on ``plan.device`` (builds shared per architecture)."""
    from .. import devices, training

    X, y, Xt, yt, val_fraction = run_data(plan, data_dir)
    config = spiking_config(plan).replace(n_inputs=int(X.shape[1]))
    active = devices.activate(plan.device, make_jobs=1)
    capacity = min(1000, max(*sizes(plan), 1))  # as training.train computes it
    with devices.shared_build(training.build_key(config, capacity)) as build:
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
            progress=False,
            model_name=plan.model,
            build_directory=build if active.endswith("standalone") else None,
            log=print,
        )


#: How each model kind trains one run: ``trainer(plan, run_dir, data_dir, threads)``; a kind not
#: listed is a PyTorch baseline. A new Brian model kind adds its trainer here (and its kind to model.KINDS).
TRAINERS: dict[str, Callable] = {SEGDEND: _train_brian, "microcircuit": _train_brian}


def train_run(plan: RunPlan, run_dir: str | Path, data_dir=None, threads: int = 1) -> str:
    """Train (or continue) one run into ``run_dir`` in this process; returns the run's name.

    The study runs each in a process of its own (a Brian device is global per process).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / STUDY_FILE).exists():
        counts = dict(zip(("n_train", "n_val", "n_test"), sizes(plan)))
        study = {"budget": plan.budget(), "device": plan.device, "sizes": counts}
        atomic_write_text(run_dir / STUDY_FILE, json.dumps(study, indent=2) + "\n")
    TRAINERS.get(plan.kind, _train_baseline)(plan, run_dir, data_dir, threads)
    return plan.name


# ------------------------------------------------------------------------------------------ entry


def run(budget: str, out, data_dir=None, resume: bool = False, progress: bool = True, **options) -> dict[str, Any]:
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
    scheduler, workers
        Where runs train (:class:`~brian_segdend.study.engine.EngineSettings`): one task per run.
    dry_run : bool
        Only print the plan and its expected duration.
    table_only : bool
        Train nothing; write the table and figure from the runs finished so far (a run with fewer
        seeds than planned counts the seeds it has: the ``seeds`` column says how many).
    """
    where = engine.EngineSettings.pop_from(options)
    threads, dry_run, table_only = (
        options.pop(k, d) for k, d in (("threads", 1), ("dry_run", False), ("table_only", False))
    )
    unknown = set(options) - set(PLAN_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) of scalability: {', '.join(sorted(unknown))}")
    if out is None:
        raise ValueError("out (the output directory) is required")
    plans = plan_runs(budget, *(options.get(k) for k in PLAN_OPTIONS))
    out = Path(out)
    runs_dir = out / "runs"
    status = {plan.name: _status(plan, runs_dir / plan.name, resume or table_only) for plan in plans}
    done = {name for name, s in status.items() if s == "done"}
    note = budget_note(plans)
    print(
        f"scalability ({budget}): {len(plans)} runs, {len(done)} finished already. {note}\n"
        f"expected duration: {format_seconds(expected_seconds(plans, done))} "
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
    todo = [plan for plan in plans if plan.name not in done and not table_only]
    failed = _train_all(todo, status, runs_dir, data_dir, threads, progress, where)
    rows = summarize(plans, runs_dir, sizes)
    table = write_table(rows, out, note)
    figure = plot_accuracy(rows, out / "accuracy.png", textwrap.fill(f"{budget} budget. {note}", 160))
    print(table, file=sys.stdout, flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: {'; '.join(failed)}; rerun with --resume to continue them")
    return {
        "plans": plans,
        "rows": rows,
        "table": out / "table.csv",
        "markdown": out / "table.md",
        "figure": figure,
        "status": status,
        "failed": failed,
    }


def _train_all(todo, status, runs_dir, data_dir, threads, progress, where) -> list[str]:
    """Train ``todo`` as tasks of the engine (one per run); returns the failures."""
    if not todo:
        return []
    queue, failed = list(todo), []

    def next_task():
        if not queue:
            return None
        plan = queue.pop(0)
        print(f"{plan.name} ({status[plan.name]}) started", flush=True)
        return plan, train_run, (plan, str(runs_dir / plan.name), data_dir, threads)

    def on_done(plan, outcome):
        if outcome.status != "ok":
            failed.append(f"{plan.name}: {outcome.status} {outcome.message[-300:]}")
        print(f"{plan.name}: {outcome.status} after {outcome.wall_s:.0f} s", flush=True)

    with engine.stop_on_sigterm(), engine.connect(where) as client:
        parallel = max(1, sum(client.nthreads().values()))
        engine.run_tasks(client, next_task, on_done, parallel, None, len(todo), progress, "scalability runs")
    return failed
