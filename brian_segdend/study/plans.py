"""The plan of the scalability study: budgets, one :class:`RunPlan` per run, the data and cost of a run.

``plan_runs`` turns a budget (``smoke``/``full``), global options and ``TARGET.KEY=VALUE`` overrides
into the list of runs; ``run_data`` draws a run's images; ``expected_seconds`` prices a plan from
measured per-example times.
"""

from __future__ import annotations

import dataclasses

from .. import datasets, registry
from ..config import parse_setting
from ..model import KINDS
from .tables import MODELS

__all__ = [
    "BUDGET_DEFAULTS",
    "OVERRIDE_KEYS",
    "BRIAN_KINDS",
    "RunPlan",
    "parse_overrides",
    "plan_runs",
    "sizes",
    "run_data",
    "expected_seconds",
    "format_seconds",
    "standalone",
]

SEGDEND = registry.SEGDEND
#: Model kinds simulated by Brian (``spiking`` in ``--set``; run on ``--device``): the registry of
#: :mod:`brian_segdend.model`; the others are PyTorch baselines.
BRIAN_KINDS = KINDS
#: options of the scalability experiment that shape its plan, in :func:`plan_runs` order
PLAN_OPTIONS = ("models", "datasets", "seeds", "epochs", "n_train", "n_val", "n_test", "overrides", "device")

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
            "microcircuit-mnist": {"n_hidden": 20},
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
#: Keys a ``--set`` override may change; ``n_hidden`` only for the Brian models (every hidden layer).
OVERRIDE_KEYS = ("seeds", "epochs", "n_train", "n_val", "n_test", "n_hidden")
#: Override targets besides model names.
GROUPS = {"spiking": "Brian models (segregated dendrites, microcircuits)", "baselines": "PyTorch baselines"}

#: Measured cost on this project's 2-core machine (ms per training example, ms per evaluated
#: example), MNIST-sized inputs / CIFAR-10: baselines from the 10-epoch runs in results/baselines
#: (README), spiking models in cpp_standalone: medians of the runs in results/scalability (ref-s
#: 2.4 / 6.0 ms, CIFAR-10 10.5 / 26 ms; lange-base 0.8 / 0.5 ms, CIFAR-10 3.2 / 1.4 ms).
COST_MS = {
    "ref-s": ((2.4, 6.0), (10.5, 26.0)),
    "lange-base": ((0.8, 0.5), (3.2, 1.4)),
    "microcircuit-mnist": ((1.6, 1.0), (3.3, 2.0)),  # 784-500-500-10 sweep: 55 000 images in 53-350 s (README)
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
        """Simulated by Brian (a model of :data:`BRIAN_KINDS`)."""
        return self.kind in BRIAN_KINDS

    def budget(self) -> dict:
        """What must match for a run directory to be reused (the device only changes the speed)."""
        d = dataclasses.asdict(self)
        d.pop("device")
        return d


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


def parse_overrides(items: list[str] | None, specs: dict) -> dict[str, dict]:
    """``['ref-s.n_train=5000', 'baselines.epochs=3']`` -> ``{model: {key: value}}`` for ``specs``."""
    result = {name: {} for name in specs}
    for item in items or ():
        target, key, value = parse_setting(item, OVERRIDE_KEYS, example="ref-s.n_train=5000", targets=True)
        if target == "spiking":
            names = [n for n, s in specs.items() if s.kind in BRIAN_KINDS]
        elif target == "baselines":
            names = [n for n, s in specs.items() if s.kind not in BRIAN_KINDS]
        elif target in specs:
            names = [target]
        else:
            raise ValueError(
                f"unknown override target {target!r} in {item!r}; valid targets are: {', '.join([*specs, *GROUPS])}"
            )
        if key == "n_hidden" and any(specs[n].kind not in BRIAN_KINDS for n in names):
            raise ValueError(f"n_hidden applies to Brian models only ({item!r})")
        for name in names:
            result[name][key] = _count(key, value)
    return result


def plan_runs(
    budget: str,
    models: str | list[str] | None = None,
    datasets_: str | list[str] | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    overrides: list[str] | None = None,
    device: str | None = None,
) -> list[RunPlan]:
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
                        b["n_hidden"] if spec.kind in BRIAN_KINDS else None,
                        device or defaults["device"],
                    )
                )
    return plans


# ------------------------------------------------------------------------------------------ data

TEST_SUBSET_SEED = 2018
DATASET_SIZES = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000), "cifar10": (50000, 10000)}


def sizes(plan: RunPlan) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` actually used by ``plan``."""
    n_pool, n_test_all = DATASET_SIZES[plan.dataset]
    if plan.n_val >= n_pool:
        raise ValueError(f"n_val={plan.n_val} leaves no training images of {plan.dataset} ({n_pool})")
    n_train = n_pool - plan.n_val if plan.n_train is None else min(plan.n_train, n_pool - plan.n_val)
    n_test = n_test_all if plan.n_test is None else min(plan.n_test, n_test_all)
    return n_train, plan.n_val, n_test


def run_data(plan: RunPlan, data_dir=None) -> tuple:
    """``(X_train, y_train, X_test, y_test, val_fraction)`` of one run.

    The training part is a subset of ``n_train + n_val`` images drawn with the run's seed (the
    trainers hold out ``val_fraction`` of it, again with the seed); the test part is a fixed random
    subset of ``n_test`` test images, the same for every model and seed (not the first ``n_test``:
    the CIFAR-10 copy is sorted by class).
    """
    n_train, n_val, n_test = sizes(plan)
    X, y = datasets.load(plan.dataset, "train", data_dir)
    Xt, yt = datasets.load(plan.dataset, "test", data_dir)
    keep = datasets.subset(y, n_train + n_val, [plan.seed, 6])
    test = datasets.subset(yt, n_test, TEST_SUBSET_SEED)
    return X[keep], y[keep], Xt[test], yt[test], n_val / (n_train + n_val)


def standalone(device: str) -> bool:
    """Whether ``device`` (``auto`` resolved) is a standalone device."""
    from ..devices import fastest_available

    return (fastest_available() if device == "auto" else device).endswith("standalone")


def expected_seconds(plans: list[RunPlan], done=()) -> float:
    """Expected wall time (s) of ``plans`` not in ``done``, from :data:`COST_MS` and compile times."""
    total, architectures = 0.0, set()
    for plan in plans:
        if plan.name in done:
            continue
        train_ms, eval_ms = COST_MS.get(plan.model, COST_MS["bp-mlp"])[plan.dataset == "cifar10"]
        if plan.spiking and not standalone(plan.device):
            train_ms, eval_ms = train_ms * RUNTIME_SLOWDOWN, eval_ms * RUNTIME_SLOWDOWN
        n_train, n_val, n_test = sizes(plan)
        total += plan.epochs * (n_train * train_ms + (n_val + n_test) * eval_ms) / 1000 + 2.0
        if plan.spiking and standalone(plan.device):
            architectures.add((plan.model, plan.dataset == "cifar10", plan.n_hidden))
    return total + COMPILE_S * len(architectures)


def format_seconds(seconds: float) -> str:
    """``3725`` -> ``'1 h 02 min'``."""
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
