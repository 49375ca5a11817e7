"""The study (Lange 2018, extended): dataset scalability, learning dynamics, hyperparameter robustness.

Every training run or evaluation is a task of a ``dask.distributed`` cluster (:mod:`.engine`); the
experiments are ``scalability`` (with :mod:`.plans` and :mod:`.tables`), ``learning_dynamics``
(:mod:`.dynamics`), ``hyperopt`` and ``replay`` (the :mod:`.hyperopt` package) and ``baselines``.

Each experiment is a module of this package with the same three members:

* ``DESCRIPTION`` : one line for ``segdend experiment --help``;
* ``add_arguments(parser)`` : its own command-line options (the common ones are added by the CLI);
* ``run(budget, out, data_dir=None, resume=False, progress=True, **options)`` : runs it under a
  budget (``'smoke'``: every step end to end on small subsets in minutes; ``'full'``: the real study,
  expected duration printed first), writes its files under ``out`` and returns a summary dict.

``experiments/<name>.py`` are thin scripts over :func:`run_experiment`; the CLI is
``segdend experiment <name> --budget smoke|full``.
"""

from __future__ import annotations

import importlib

__all__ = ["EXPERIMENTS", "BUDGETS", "experiment_module", "run_experiment"]

#: experiment name -> module of this package
EXPERIMENTS = {
    "scalability": "scalability",
    "learning_dynamics": "dynamics",
    "hyperopt": "hyperopt",
    "replay": "hyperopt.replay",
    "baselines": "baselines",
}
BUDGETS = ("smoke", "full")


def experiment_module(name: str):
    """The module that implements experiment ``name`` (clear error for an unknown name)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENTS[name]}")


def run_experiment(name: str, budget: str = "smoke", out=None, **options) -> dict:
    """Run experiment ``name`` under ``budget``; returns its summary dict."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    return experiment_module(name).run(budget=budget, out=out, **options)
