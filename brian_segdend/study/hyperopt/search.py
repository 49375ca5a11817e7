"""The search loop: asynchronous ask/tell Bayesian optimisation over the engine, its log and resume.

scikit-optimize's :class:`skopt.Optimizer` (a Gaussian process with Matérn 5/2 kernel) proposes the
points; :data:`SEARCH_DEFAULTS` are the design and acquisition settings, chosen by
``benchmarks/search_settings.py`` (README, "Hyperparameter robustness"). The first
``initial_points`` points are a space-filling design drawn up front from the seed (the same points
whatever the number of workers); after that, whenever a worker is free, the optimizer is asked for a
point with the evaluations still running told as a constant lie (the best value so far). Every
finished evaluation is appended to ``log.jsonl`` at once; ``resume`` tells the optimizer every logged
point and continues, so nothing that finished is repeated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...results import atomic_write_text
from .. import engine
from .objective import PENALTY, POOL_SIZE, check_folds, cross_validated_error
from .space import check_family, search_space, space_table, to_params

__all__ = ["SearchSettings", "BUDGETS", "SEARCH_DEFAULTS", "read_log", "objective_value", "search", "evaluate_task"]

#: Design and acquisition of every search (justified by ``benchmarks/search_settings.py``).
SEARCH_DEFAULTS = dict(initial_points=10, initial_design="sobol", acquisition="LCB", kappa=2.5)
#: initial designs of ``skopt.sampler`` (or plain random points)
DESIGNS = ("random", "sobol", "lhs", "halton")
ACQUISITIONS = ("LCB", "EI", "PI", "gp_hedge")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """One family's search. The fields of :meth:`study` define the objective: a resumed search must
    match them; the others (how points are chosen, limits) may change between sittings."""

    family: str
    dataset: str = "mnist"
    subset: int | None = None  # stratified subset of the pooled images (None: all)
    epochs: int = 10
    folds: int = 3
    seed: int = 0
    device: str = "cpu"  # Brian device of the compartment model ('cpu' for the baselines)
    stop_at_chance: bool = False
    evaluations: int = 50
    initial_points: int = SEARCH_DEFAULTS["initial_points"]
    initial_design: str = SEARCH_DEFAULTS["initial_design"]
    acquisition: str = SEARCH_DEFAULTS["acquisition"]
    kappa: float = SEARCH_DEFAULTS["kappa"]
    eval_timeout: float | None = None
    max_minutes: float | None = None
    parallel: int | None = None  # evaluations at once (None: one per worker thread)

    def __post_init__(self) -> None:
        from ... import datasets

        check_family(self.family)
        check_folds(self.folds)
        if self.dataset not in datasets.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(datasets.DATASETS)}")
        for key in ("evaluations", "epochs", "initial_points", "parallel", "subset"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{key.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.initial_design not in DESIGNS:
            raise ValueError(f"unknown initial design {self.initial_design!r}; choose one of {', '.join(DESIGNS)}")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {self.acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")

    def study(self) -> dict[str, Any]:
        """What the logged evaluations measured (``settings.json``; resume compares it)."""
        keys = ("family", "dataset", "seed", "folds", "subset", "epochs", "device", "stop_at_chance")
        return {k: getattr(self, k) for k in keys}

    @property
    def images(self) -> int:
        """Images in the cross-validated subset."""
        return self.subset or POOL_SIZE[self.dataset]


#: Budget presets of ``segdend experiment hyperopt`` (``subset``/``epochs`` for the baselines,
#: ``segdend_*`` for the compartment model; ``None``: the whole pool).
BUDGETS = {
    # random design, seed 9: both compartment-model points are one-layer networks (quick to build)
    "smoke": dict(
        evaluations=2,
        subset=300,
        epochs=1,
        segdend_subset=60,
        segdend_epochs=1,
        initial_points=2,
        initial_design="random",
        eval_timeout=400.0,
        seed=9,
    ),
    "full": dict(evaluations=50, subset=None, epochs=10, segdend_subset=None, segdend_epochs=10),
}
#: Rough cost model for the printed duration estimate (seconds: start, per training and per held-out
#: example), replaced by measured times on resume. segdend: the 6000-image run in results/hyperopt-6000
#: (median 116 s of which 41 s compiling, for 24 000 training and 6000 held-out examples).
_COST = {
    "mlp": dict(start=6.0, train=2e-4, test=2e-5),
    "cnn": dict(start=6.0, train=1.5e-3, test=3e-4),
    "segdend": dict(start=45.0, train=0.0025, test=0.0025),
    "microcircuit": dict(start=45.0, train=0.0015, test=0.0015),  # sweep dynamics, 784-500-500-10 (README)
}


def expected_seconds(s: SearchSettings, evaluations: int, parallel: int, measured: float | None = None) -> float:
    """Wall time of ``evaluations`` evaluations (a measured median if given, else the cost model)."""
    if measured is None:
        c = _COST[s.family]
        measured = c["start"] + c["train"] * s.images * (s.folds - 1) * s.epochs + c["test"] * s.images
    return measured * evaluations / max(1, parallel)


# ---------------------------------------------------------------------------------------------- log
def read_log(path: str | os.PathLike) -> list[dict]:
    """Entries of a ``log.jsonl`` (a torn last line from a killed run is ignored)."""
    entries = []
    path = Path(path)
    if not path.exists():
        return entries
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return entries


def append_log(path: Path, entry: dict) -> None:
    """Append one entry to a ``log.jsonl`` and flush it to disk."""
    with open(path, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def objective_value(entry: dict) -> float:
    """What the optimizer was told: the measured error, or :data:`PENALTY` for a failed evaluation."""
    return float(entry["error"]) if entry["status"] in ("ok", "chance") else PENALTY


def make_entry(index: int, family: str, x: list | None, params: dict, outcome: engine.Outcome) -> dict:
    """The log entry of one finished evaluation (status from the task and the result)."""
    result = outcome.value if outcome.status == "ok" else {"status": outcome.status}
    status = result.get("status", "failed")
    error = result.get("error")
    if status in ("ok", "chance") and (error is None or not math.isfinite(error)):
        status = "diverged"
    entry = {
        "index": index,
        "family": family,
        "x": x,
        "params": params,
        "status": status,
        "fold_errors": result.get("fold_errors"),
        "error": error,
        "objective": None,
        "accuracy": None,
        "wall_s": round(outcome.wall_s, 3),
        "message": outcome.message,
    }
    entry["objective"] = objective_value(entry)
    entry["accuracy"] = 100.0 - entry["error"] if status in ("ok", "chance") else None
    entry.update({k: result[k] for k in ("compile_s", "device") if k in result})
    return entry


def evaluate_task(objective: Callable, family: str, params: dict, options: dict) -> dict:
    """What a task process runs: ``objective(family, params, **options)``."""
    return objective(family, params, **options)


def log_message(entry: dict, done: int, total: int, best: float) -> str:
    """One progress line of a finished evaluation."""
    acc = f"{entry['accuracy']:.2f} %" if entry["accuracy"] is not None else f"- (penalty {PENALTY:.0f} % error)"
    note = f" ({entry['message'][:120]})" if entry.get("message") else ""
    return (
        f"[{entry['family']}] eval {done}/{total}: {entry['status']}, cv acc {acc}, best {100 - best:.2f} %, "
        f"{entry['wall_s']:.0f} s{note}"
    )


# ---------------------------------------------------------------------------------------------- optimizer
class Proposer:
    """The points of a search: the initial design, then the Gaussian process (ask/tell)."""

    def __init__(self, s: SearchSettings):
        from skopt import Optimizer

        self.space = search_space(s.family)
        self.optimizer = Optimizer(
            self.space,
            base_estimator="GP",
            acq_func=s.acquisition,
            acq_func_kwargs={"kappa": s.kappa},
            n_initial_points=0,  # the design below comes first
            random_state=s.seed,
        )
        self.design = design_points(self.space, s.initial_design, s.initial_points, s.seed)
        self.rng = np.random.default_rng([s.seed, 1])
        self.seen: set[tuple] = set()

    def tell(self, x: list, y: float) -> None:
        """Record an evaluation; the GP is fitted only once the whole design has been told."""
        self.seen.add(tuple(x))
        self.optimizer.tell(list(x), float(y), fit=len(self.optimizer.yi) + 1 >= len(self.design))

    def ask(self, started: int, pending: list[list]) -> list:
        """Point number ``started`` (the design's, else the GP's with ``pending`` told as lies)."""
        opt = self.optimizer
        if started < len(self.design):
            x = self.design[started]
        elif pending or not opt.yi:
            proxy = opt.copy(random_state=int(self.rng.integers(2**31)))
            proxy.tell([list(p) for p in pending], [min(opt.yi) if opt.yi else PENALTY] * len(pending))
            x = proxy.ask()
        else:
            x = opt.ask()
        x = _plain(x)
        while tuple(x) in self.seen:  # a repeat adds nothing: draw a fresh random point
            x = _plain(opt.space.rvs(random_state=int(self.rng.integers(2**31)))[0])
        self.seen.add(tuple(x))
        return x


def design_points(space: list, design: str, n: int, seed: int) -> list[list]:
    """``n`` points of the initial design (``skopt.sampler``), the same for the same seed."""
    from skopt.space import Space

    sp = Space(space)
    if design == "random":
        return [_plain(x) for x in sp.rvs(n, random_state=seed)]
    from skopt import sampler

    generator = {"sobol": sampler.Sobol(), "lhs": sampler.Lhs(criterion="maximin"), "halton": sampler.Halton()}[design]
    with warnings.catch_warnings():  # Sobol's "n should be a power of 2": a design of any size is wanted
        warnings.filterwarnings("ignore", "The balance properties of Sobol", UserWarning)
        return [_plain(x) for x in generator.generate(sp.dimensions, n, random_state=seed)]


def _plain(x) -> list:
    return [int(v) if isinstance(v, (int, np.integer)) else float(v) for v in x]


# ---------------------------------------------------------------------------------------------- search
def search(
    s: SearchSettings,
    directory: Path,
    client: Any,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    options: dict | None = None,
    objective: Callable = cross_validated_error,
    overwrite: bool = False,
) -> list[dict]:
    """Run (or continue) one family's search into ``directory``; returns every log entry.

    ``options`` go to ``objective`` with the study's settings (e.g. ``data_dir``); ``overwrite``
    starts a logged search afresh instead of refusing (the smoke budget).
    """
    directory.mkdir(parents=True, exist_ok=True)
    log_path, settings_path = directory / "log.jsonl", directory / "settings.json"
    if resume and settings_path.exists():
        saved = json.loads(settings_path.read_text())
        differ = {k: (saved.get(k), v) for k, v in s.study().items() if saved.get(k) != v}
        if differ:
            raise ValueError(f"cannot resume {str(directory)!r}: settings differ (logged, requested): {differ}")
    elif log_path.exists() and not resume:
        if not overwrite:
            raise ValueError(f"{str(log_path)!r} exists; pass --resume to continue it or choose another --out")
        log_path.unlink()
    settings = {**s.study(), "search": dataclasses.asdict(s), "search_space": space_table(s.family)}
    atomic_write_text(settings_path, json.dumps(settings, indent=1))
    entries = read_log(log_path) if resume else []
    if resume and log_path.exists():  # drop a torn last line of a killed run before appending
        atomic_write_text(log_path, "".join(json.dumps(e) + "\n" for e in entries))

    proposer = Proposer(s)
    for e in entries:
        if e.get("x") is not None:
            proposer.tell(e["x"], objective_value(e))
    parallel = s.parallel or max(1, sum(client.nthreads().values()))
    todo = max(0, s.evaluations - len(entries))
    walls = [e["wall_s"] for e in entries if e["status"] in ("ok", "chance")]
    expected = expected_seconds(s, todo, parallel, float(np.median(walls)) if walls else None)
    log(
        f"[{s.family}] {len(entries)} logged, {todo} to run: stratified subset of {s.images} {s.dataset} images, "
        f"{s.folds}-fold CV, {s.epochs} epoch(s) per fold, {parallel} at once; expected ~{expected / 60:.1f} min"
    )
    task_options = {**{k: v for k, v in s.study().items() if k != "family"}, **(options or {})}
    deadline = time.monotonic() + 60 * s.max_minutes if s.max_minutes else None
    pending: dict[int, list] = {}
    started = len(entries)

    def next_task():
        nonlocal started
        if started >= s.evaluations or (deadline is not None and time.monotonic() > deadline):
            return None
        x = proposer.ask(started, list(pending.values()))
        pending[started] = x
        started += 1
        return (started - 1, x), evaluate_task, (objective, s.family, to_params(s.family, x), task_options)

    def on_done(tag, outcome):
        _, x = tag
        del pending[tag[0]]
        entry = make_entry(len(entries), s.family, x, to_params(s.family, x), outcome)
        append_log(log_path, entry)
        entries.append(entry)
        proposer.tell(x, entry["objective"])
        if progress:
            log(log_message(entry, len(entries), s.evaluations, min(objective_value(e) for e in entries)))

    engine.run_tasks(
        client, next_task, on_done, parallel, s.eval_timeout, total=todo, progress=progress, label=f"{s.family} search"
    )
    if deadline is not None and len(entries) < s.evaluations:
        log(f"[{s.family}] wall-clock budget of {s.max_minutes} min reached after {len(entries)} evaluations")
    return entries
