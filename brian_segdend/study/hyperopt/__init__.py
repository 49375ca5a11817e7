"""Hyperparameter robustness (Lange 2018): Bayesian optimisation over his search spaces, k-fold CV.

* :mod:`.space`: the families and their spaces (:data:`FAMILIES`, :func:`search_space`,
  :func:`to_params`), and Lange's own log format (:func:`from_lange`);
* :mod:`.objective`: :func:`cross_validated_error` and the data split;
* :mod:`.search`: :class:`SearchSettings`, the ask/tell loop over the study's Dask engine, the log
  and resume;
* :mod:`.report`: best model, convergence, flag importance, robustness over all datasets;
* :mod:`.replay`: the ``replay`` experiment (logged or published configurations through the objective).

Files per family in ``<out>/<dataset>/<family>/`` (``<out>/smoke/...`` for the smoke budget):
``settings.json``, ``log.jsonl``, ``best.json``, ``summary.json``, ``convergence.png``,
``timing.json``; for ``segdend`` also ``flag_importance.png|csv``. Across families and datasets in
``<out>``: ``robustness.png|csv`` and ``summary.json``. The best configuration becomes the named model
``bo-<family>-<dataset>`` (``models/``; the smoke budget writes ``<out>/smoke/models``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ... import datasets
from ...results import atomic_write_text
from .. import engine
from .objective import CHANCE_MARGIN, PENALTY, cross_validated_error, cv_split
from .report import LANGE_BO, flag_importance, robustness, summarize
from .search import ACQUISITIONS, BUDGETS, DESIGNS, SearchSettings, read_log, search
from .space import BRIAN_FAMILIES, FAMILIES, check_family, from_lange, search_space, to_params

__all__ = [
    "DESCRIPTION",
    "FAMILIES",
    "PENALTY",
    "CHANCE_MARGIN",
    "BUDGETS",
    "LANGE_BO",
    "SearchSettings",
    "search_space",
    "to_params",
    "from_lange",
    "cv_split",
    "cross_validated_error",
    "family_settings",
    "read_log",
    "search",
    "robustness",
    "flag_importance",
    "add_arguments",
    "run",
]

DESCRIPTION = (
    "Bayesian optimisation (scikit-optimize) of MLP, CNN and the compartment model over "
    "Lange's (2018) search spaces, objective k-fold cross-validated error, evaluations on Dask"
)
#: options of :func:`run` besides the budget's (``objective``: a replacement objective, for tests)
OPTIONS = (
    "dataset",
    "evaluations",
    "subset",
    "segdend_subset",
    "epochs",
    "segdend_epochs",
    "folds",
    "seed",
    "segdend_device",
    "stop_at_chance",
    "initial_points",
    "initial_design",
    "acquisition",
    "eval_timeout",
    "max_minutes",
    "parallel",
    "models_dir",
    "objective",
)


def add_arguments(parser) -> None:
    """Options of ``segdend experiment hyperopt`` (budget presets fill in what is not given)."""
    parser.add_argument("--family", nargs="+", default=None, metavar="FAMILY", help=f"{', '.join(FAMILIES)} or all")
    parser.add_argument("--dataset", default=None, choices=datasets.DATASETS, help="default: mnist")
    parser.add_argument(
        "--evaluations", type=int, default=None, help="per family, logged ones included (smoke 2, full 50)"
    )
    parser.add_argument(
        "--subset", type=int, default=None, help="stratified subset of the pooled images, mlp/cnn (0: all)"
    )
    parser.add_argument("--segdend-subset", type=int, default=None, help="the same for the compartment model (0: all)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fold, mlp/cnn (smoke 1, full 10)")
    parser.add_argument("--segdend-epochs", type=int, default=None, help="epochs per fold, compartment model")
    parser.add_argument("--folds", type=int, default=None, help="k of the stratified k-fold CV (default 3)")
    parser.add_argument(
        "--stop-at-chance",
        action="store_true",
        default=None,
        help=f"skip the other folds when the first ends within {CHANCE_MARGIN:g} points of chance (status 'chance')",
    )
    parser.add_argument("--max-minutes", type=float, default=None, help="per family: no evaluation starts after it")
    parser.add_argument("--eval-timeout", type=float, default=None, help="seconds per evaluation before it is killed")
    parser.add_argument("--parallel", type=int, default=None, help="evaluations at once (default: one per worker)")
    parser.add_argument("--initial-points", type=int, default=None, help="points of the initial design (default 10)")
    parser.add_argument("--initial-design", default=None, choices=DESIGNS, help="default sobol")
    parser.add_argument(
        "--acquisition", default=None, choices=ACQUISITIONS, help="default LCB (kappa 2.5, Lange's UCB)"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--segdend-device", default=None, help="Brian device of the compartment model (default auto)")
    parser.add_argument("--models-dir", default=None, help="where bo-<family>-<dataset>.toml goes (full: models/)")
    engine.add_arguments(parser)


def family_settings(budget: str, family: str, options: dict[str, Any]) -> SearchSettings:
    """The :class:`SearchSettings` of ``family`` under ``budget`` with the non-None ``options``."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown hyperopt option(s) {unknown}; valid: {', '.join(OPTIONS)}")
    given = {**BUDGETS[budget], **{k: v for k, v in options.items() if v is not None}}
    seg = family in BRIAN_FAMILIES
    fields = {f.name for f in dataclasses.fields(SearchSettings)}
    values = {k: v for k, v in given.items() if k in fields}
    values.update(
        family=family,
        subset=given["segdend_subset" if seg else "subset"] or None,  # 0 on the command line: all
        epochs=given["segdend_epochs" if seg else "epochs"],
        device=given.get("segdend_device") or "auto" if seg else "cpu",
    )
    return SearchSettings(**values)


def _families(value) -> list[str]:
    if value is None:
        return list(FAMILIES)
    names = [value] if isinstance(value, str) else list(value)
    if "all" in names:
        return list(FAMILIES)
    return list(dict.fromkeys(check_family(name) for name in names))


def run(budget: str, out, data_dir=None, resume: bool = False, progress: bool = True, **options) -> dict[str, Any]:
    """Run the hyperopt study under ``budget`` ('smoke' or 'full'); see the module docstring.

    Parameters
    ----------
    out : path
        Root directory (default ``results/hyperopt``); the smoke budget writes under ``<out>/smoke``.
    resume : bool
        Continue from the ``log.jsonl`` files already there.
    **options
        ``family`` (str or list: the families to search, default all), ``scheduler`` and ``workers``
        (where evaluations run: :class:`~brian_segdend.study.engine.EngineSettings`), and overrides of
        the budget (:data:`OPTIONS`).

    Returns
    -------
    dict
        ``{'families': {family: summary}, 'robustness': rows, 'out': root}``.
    """
    from ...registry import models_dir as default_models_dir

    families = _families(options.pop("family", None))
    where = engine.EngineSettings.pop_from(options)
    objective = options.pop("objective", None) or cross_validated_error
    models_dir = options.pop("models_dir", None)
    settings = {f: family_settings(budget, f, options) for f in families}
    first = settings[families[0]]
    root = Path(out if out is not None else "results/hyperopt") / ("smoke" if budget == "smoke" else "")
    models = Path(models_dir or (root / "models" if budget == "smoke" else default_models_dir()))
    datasets.load(first.dataset, "train", data_dir)  # fail early (and cache) if the data is missing
    print(
        f"hyperopt ({budget}): families {', '.join(families)} on {first.dataset}, {first.evaluations} evaluations "
        f"each, {first.folds}-fold CV (the expected time of each search follows, from the cost model)",
        flush=True,
    )
    summaries = {}
    with engine.stop_on_sigterm(), engine.connect(where) as client:
        for f, s in settings.items():
            directory = root / s.dataset / f
            entries = search(
                s,
                directory,
                client,
                resume=resume,
                progress=progress,
                options={"data_dir": None if data_dir is None else str(data_dir)},
                objective=objective,
                overwrite=budget == "smoke",
            )
            summaries[f] = summarize(s, directory, entries, models)
    rows = robustness(root)
    result = {"budget": budget, "families": summaries, "robustness": rows, "out": str(root)}
    path = root / "summary.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    mine = {f"{s.dataset}/{f}": summaries[f] for f, s in settings.items()}
    merged = {**result, "families": {**old.get("families", {}), **mine}}  # searches run one at a time
    atomic_write_text(path, json.dumps(merged, indent=1, default=str))
    return result
