"""Replay: logged or published configurations evaluated again through the search's own objective.

``segdend experiment replay LOG`` reads

* this project's ``log.jsonl`` (entries with ``family``, ``params`` and ``accuracy``), or
* Lange's log format (his repository's ``logs/bo_logs_<type>_<dataset>.json``: one JSON object per
  line, ``{"target": accuracy in [0, 1], "params": {his parameter names}, "datetime": {...}}``;
  :func:`~.space.from_lange` maps the names),

and evaluates the selected configurations (``--top N`` by logged accuracy, or ``--indices``) with
:func:`~.objective.cross_validated_error` under the hyperopt budget's settings and overrides
(``--subset``, ``--epochs``, ...), on the study's Dask engine. It writes ``<out>/<log name>/log.jsonl``
(the search's entry format plus ``source_index`` and ``logged_accuracy``; ``--resume`` skips what is
there), ``replay.csv`` and ``replay.png`` (replayed against logged accuracy).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...plotting import save_figure
from ...results import atomic_write_text, write_csv
from .. import engine
from . import family_settings
from .objective import cross_validated_error
from .search import append_log, evaluate_task, log_message, make_entry, read_log
from .space import from_lange

__all__ = ["DESCRIPTION", "add_arguments", "run", "read_configurations"]

DESCRIPTION = (
    "evaluate logged configurations (this project's log.jsonl or Lange's bo_logs_*.json) through the objective"
)
#: dataset names in Lange's log file names
_LANGE_DATASETS = {"mnist": "mnist", "fashion": "fashion-mnist", "cifar10": "cifar10"}
_OPTIONS = ("subset", "segdend_subset", "epochs", "segdend_epochs", "folds", "seed", "segdend_device", "stop_at_chance")


def add_arguments(parser) -> None:
    """Options of ``segdend experiment replay``."""
    parser.add_argument("log", help="a log.jsonl of `segdend experiment hyperopt` or one of Lange's bo_logs_*.json")
    parser.add_argument("--top", type=int, default=None, help="replay the N best logged configurations (default: all)")
    parser.add_argument("--indices", type=int, nargs="+", default=None, help="replay these entries (0-based lines)")
    parser.add_argument("--dataset", default=None, help="default: from the log (Lange's file name or settings.json)")
    for name in _OPTIONS[:-2]:
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None, help="as for hyperopt")
    parser.add_argument("--segdend-device", default=None, help="Brian device of the compartment model (default auto)")
    parser.add_argument("--stop-at-chance", action="store_true", default=None, help="as for hyperopt")
    parser.add_argument("--eval-timeout", type=float, default=None, help="seconds per evaluation before it is killed")
    engine.add_arguments(parser)


def read_configurations(path: str | Path) -> tuple[list[dict[str, Any]], str | None]:
    """``([{'index', 'family', 'params', 'logged_accuracy'}], dataset or None)`` of a log in either format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no log file {str(path)!r}")
    configurations, dataset = [], None
    for index, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break  # a torn last line
        if "family" in record and "params" in record:
            family, params, accuracy = record["family"], record["params"], record.get("accuracy")
        elif "target" in record and "params" in record:
            (family, params), accuracy = from_lange(record["params"]), 100.0 * float(record["target"])
        else:
            raise ValueError(f"line {index + 1} of {str(path)!r} is neither a hyperopt log entry nor Lange's format")
        configurations.append({"index": index, "family": family, "params": params, "logged_accuracy": accuracy})
    match = re.fullmatch(r"bo_logs_(comp_dnn|dnn|cnn)_(\w+)\.json", path.name)
    if match and match.group(2) in _LANGE_DATASETS:
        dataset = _LANGE_DATASETS[match.group(2)]
    elif (path.parent / "settings.json").exists():
        dataset = json.loads((path.parent / "settings.json").read_text()).get("dataset")
    return configurations, dataset


def _select(configurations, top, indices):
    if indices is not None:
        known = {c["index"]: c for c in configurations}
        missing = sorted(set(indices) - set(known))
        if missing:
            raise ValueError(f"the log has no entries {missing} (it has {len(configurations)} lines)")
        return [known[i] for i in indices]
    if top is not None:
        if top < 1:
            raise ValueError(f"top must be a positive number of configurations, got {top}")
        return sorted(configurations, key=lambda c: -(c["logged_accuracy"] or 0.0))[:top]
    return configurations


def run(budget: str, out, data_dir=None, resume: bool = False, progress: bool = True, **options) -> dict[str, Any]:
    """Replay configurations of ``options['log']`` under ``budget``; returns ``{'entries', 'rows', 'out'}``.

    ``options``: ``log`` (path), ``top``, ``indices``, ``dataset``, ``eval_timeout``, ``scheduler``,
    ``workers``, ``objective`` (a replacement objective, for tests) and hyperopt's budget overrides.
    """
    where = engine.EngineSettings.pop_from(options)
    log, top, indices, dataset, eval_timeout = (
        options.pop(k, None) for k in ("log", "top", "indices", "dataset", "eval_timeout")
    )
    objective = options.pop("objective", None) or cross_validated_error
    if log is None:
        raise ValueError("replay needs a log file (LOG)")
    configurations, logged_dataset = read_configurations(log)
    chosen = _select(configurations, top, indices)
    dataset = dataset or logged_dataset or "mnist"
    name = Path(log).stem if Path(log).stem != "log" else "-".join(Path(log).resolve().parts[-3:-1])
    directory = Path(out if out is not None else "results/replay") / name
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "log.jsonl"
    if log_path.exists() and not resume:
        raise ValueError(f"{str(log_path)!r} exists; pass --resume to continue it or choose another --out")
    entries = read_log(log_path)
    done = {e["source_index"] for e in entries}
    todo = [c for c in chosen if c["index"] not in done]
    settings = {f: family_settings(budget, f, {"dataset": dataset, **options}) for f in {c["family"] for c in chosen}}
    atomic_write_text(
        directory / "settings.json",
        json.dumps({"source": str(log), "budget": budget, **{f: s.study() for f, s in settings.items()}}, indent=1),
    )
    print(
        f"replay ({budget}): {len(todo)} of {len(chosen)} configurations of {log} to evaluate on {dataset}", flush=True
    )
    queue = list(todo)

    def next_task():
        if not queue:
            return None
        c = queue.pop(0)
        study = {k: v for k, v in settings[c["family"]].study().items() if k != "family"}
        study["data_dir"] = None if data_dir is None else str(data_dir)
        return c, evaluate_task, (objective, c["family"], c["params"], study)

    def on_done(c, outcome):
        entry = make_entry(len(entries), c["family"], None, c["params"], outcome)
        entry.update(source_index=c["index"], logged_accuracy=c["logged_accuracy"])
        append_log(log_path, entry)
        entries.append(entry)
        if progress:
            print(log_message(entry, len(entries), len(chosen), entry["objective"]), f"(logged {c['logged_accuracy']})")

    with engine.stop_on_sigterm(), engine.connect(where) as client:
        parallel = max(1, sum(client.nthreads().values()))
        engine.run_tasks(client, next_task, on_done, parallel, eval_timeout, len(todo), progress, "replay")
    rows = [
        {k: e.get(k) for k in ("source_index", "family", "logged_accuracy", "accuracy", "status", "wall_s")}
        for e in sorted(entries, key=lambda e: e["source_index"])
    ]
    if rows:
        write_csv(directory / "replay.csv", rows)
        _plot(rows, directory / "replay.png", f"{name}: {budget} budget on {dataset}")
    return {"entries": entries, "rows": rows, "out": str(directory)}


def _plot(rows, path, title):
    from .report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    pts = [(r["logged_accuracy"], r["accuracy"] if r["accuracy"] is not None else 10.0) for r in rows]
    ax.scatter(*zip(*pts), s=16)
    ax.plot([0, 100], [0, 100], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("logged accuracy (%)")
    ax.set_ylabel("replayed CV accuracy (%) (failed at 10 %)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=8)
    save_figure(fig, path, dpi=120)
