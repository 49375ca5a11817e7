"""The PyTorch baselines after 10 epochs (Lange 2018, and the published FA/DFA/DTP/SDTP errors).

Trains each baseline with its preset in ``models/<kind>.toml`` on the full training set (10 % held
out for validation, seed 0), one run per engine task, and reports the last epoch's test error next
to the targets (:data:`TARGETS`). Checkpoints stay in ``--work-dir`` (default ``runs/baselines``);
``--resume`` continues a sweep where it stopped. Writes ``<out>/<kind>_<dataset>/results.json|csv``,
``<out>/summary.md`` and ``summary.csv``. ``--budget smoke`` trains 1 epoch on 500 images into
``<out>/smoke``. CIFAR-10 is the JPEG copy of the dataset (lossy), so its numbers can differ slightly
from results on the original binary batches.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..results import atomic_write_text, write_csv
from . import engine

__all__ = ["DESCRIPTION", "RUNS", "TARGETS", "add_arguments", "run", "summarize"]

DESCRIPTION = "the PyTorch baselines' presets after 10 epochs on the full datasets, against published targets"
RUNS = (
    ("bp-mlp", "mnist"),
    ("bp-mlp", "fashion-mnist"),
    ("bp-mlp", "cifar10"),
    ("fa", "mnist"),
    ("dfa", "mnist"),
    ("tp", "mnist"),
    ("dtp", "mnist"),
    ("sdtp", "mnist"),
    ("bp-cnn", "mnist"),
    ("bp-cnn", "fashion-mnist"),
    ("bp-cnn", "cifar10"),
)
#: ``(kind, dataset) -> (target text, 'accuracy' or 'error', bound in percent)``
TARGETS = {
    ("bp-mlp", "mnist"): ("accuracy >= 98.2 %", "accuracy", 98.2),
    ("bp-mlp", "fashion-mnist"): ("accuracy >= 89 %", "accuracy", 89.0),
    ("bp-mlp", "cifar10"): ("accuracy >= 50 %", "accuracy", 50.0),
    ("bp-cnn", "mnist"): ("accuracy >= 99.1 %", "accuracy", 99.1),
    ("bp-cnn", "fashion-mnist"): ("accuracy >= 90.5 %", "accuracy", 90.5),
    ("bp-cnn", "cifar10"): ("accuracy >= 65 %", "accuracy", 65.0),
    ("fa", "mnist"): ("error <= 2.85 % (Bartunov 2018: 1.85 %)", "error", 2.85),
    ("dfa", "mnist"): ("error <= 3.0 % (Nøkland 2016: ~1.8-2 %)", "error", 3.0),
    ("dtp", "mnist"): ("error <= 2.83 % (Bartunov 2018: 1.83 %)", "error", 2.83),
    ("sdtp", "mnist"): ("error <= 3.28 % (Bartunov 2018: 2.28 %)", "error", 3.28),
}
BUDGETS = {"smoke": dict(epochs=1, max_train_examples=500), "full": dict(epochs=10, max_train_examples=None)}


def add_arguments(parser) -> None:
    """Options of ``segdend experiment baselines``."""
    parser.add_argument("--only", nargs="+", default=None, metavar="KIND:DATASET", help="run only these pairs")
    parser.add_argument("--epochs", type=int, default=None, help="default: smoke 1, full 10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default=None, help="checkpoints go here (default runs/baselines)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--max-train-examples", type=int, default=None)
    parser.add_argument("--summary-only", action="store_true", help="train nothing; rebuild the summary")
    engine.add_arguments(parser)


def _pairs(only) -> list[tuple[str, str]]:
    from .. import datasets
    from ..baselines import KINDS

    if not only:
        return list(RUNS)
    pairs = [tuple(item.split(":", 1)) for item in only]
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in KINDS or pair[1] not in datasets.DATASETS:
            raise ValueError(f"bad run {':'.join(pair)!r}; expected KIND:DATASET, e.g. bp-mlp:mnist")
    return pairs


def train_one(kind: str, dataset: str, options: dict[str, Any], work: str, dest: str) -> str:
    """Train (or continue) one preset into ``work``; copy its results to ``dest`` (a task)."""
    from .. import baselines, registry

    params = registry.load_model(kind).params_for(dataset)
    baselines.train(kind, params, dataset, out_dir=work, progress=False, **options)
    Path(dest).mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "results.csv"):
        shutil.copyfile(Path(work) / name, Path(dest) / name)
    return dest


def run(budget: str, out, data_dir=None, resume: bool = False, progress: bool = True, **options) -> dict[str, Any]:
    """Train the baselines under ``budget``; returns ``{'rows', 'markdown', 'failed'}``.

    ``options``: ``only``, ``epochs``, ``seed``, ``work_dir``, ``threads``, ``max_train_examples``,
    ``summary_only``, ``scheduler``, ``workers`` (the command-line options).
    """
    where = engine.EngineSettings.pop_from(options)
    defaults = dict(
        only=None, epochs=None, seed=0, work_dir=None, threads=1, max_train_examples=None, summary_only=False
    )
    unknown = set(options) - set(defaults)
    if unknown:
        raise ValueError(f"unknown option(s) of baselines: {', '.join(sorted(unknown))}")
    o = {**defaults, **options}
    only, epochs, seed, work_dir = o["only"], o["epochs"], o["seed"], o["work_dir"]
    threads, max_train_examples, summary_only = o["threads"], o["max_train_examples"], o["summary_only"]
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    pairs = _pairs(only)
    out = Path(out if out is not None else "results/baselines") / ("smoke" if budget == "smoke" else "")
    work = Path(work_dir or "runs/baselines") / ("smoke" if budget == "smoke" else "")
    options = dict(BUDGETS[budget], seed=seed, data_dir=data_dir, num_threads=threads)
    options.update({k: v for k, v in (("epochs", epochs), ("max_train_examples", max_train_examples)) if v})
    for kind, dataset in pairs:
        if (work / f"{kind}_{dataset}").exists() and not (resume or summary_only):
            raise ValueError(f"{str(work / f'{kind}_{dataset}')!r} exists; pass --resume to continue it")
    failed = []
    if not summary_only:
        queue = list(pairs)

        def next_task():
            if not queue:
                return None
            kind, dataset = queue.pop(0)
            args = (
                kind,
                dataset,
                dict(options, resume=True),
                str(work / f"{kind}_{dataset}"),
                str(out / f"{kind}_{dataset}"),
            )
            return (kind, dataset), train_one, args

        def on_done(pair, outcome):
            print(f"{pair[0]} on {pair[1]}: {outcome.status} after {outcome.wall_s:.0f} s", flush=True)
            if outcome.status != "ok":
                failed.append(f"{pair[0]}:{pair[1]} {outcome.status} {outcome.message[-300:]}")

        with engine.stop_on_sigterm(), engine.connect(where) as client:
            parallel = max(1, sum(client.nthreads().values()))
            engine.run_tasks(client, next_task, on_done, parallel, None, len(pairs), progress, "baselines")
    rows, markdown = summarize(out)
    print(markdown, flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: {'; '.join(failed)}; rerun with --resume")
    return {"rows": rows, "markdown": markdown, "failed": failed}


def summarize(out: Path) -> tuple[list[dict], str]:
    """``summary.csv`` and ``summary.md`` from the results in ``out``; returns the rows and the Markdown."""
    rows = []
    for kind, dataset in RUNS:
        path = out / f"{kind}_{dataset}" / "results.json"
        epochs = json.loads(path.read_text())["epochs"] if path.is_file() else []
        if not epochs:
            continue
        last, err = epochs[-1], epochs[-1]["test_error"]
        target, measure, bound = TARGETS.get((kind, dataset), ("-", None, None))
        met = {"accuracy": 100 - err >= (bound or 0), "error": err <= (bound or 0), None: None}[measure]
        rows.append(
            {
                "kind": kind,
                "dataset": dataset,
                "epochs": last["epoch"],
                "test_error_percent": round(err, 2),
                "test_accuracy_percent": round(100 - err, 2),
                "val_error_percent": None if last["val_error"] is None else round(last["val_error"], 2),
                "target": target,
                "met": "-" if met is None else ("yes" if met else "no"),
                "s_per_epoch": round(sum(e.get("epoch_time_s") or 0 for e in epochs) / len(epochs), 1),
            }
        )
    lines = [
        "# Baselines (CPU)",
        "",
        "Produced by `segdend experiment baselines --budget full --resume` (presets in `models/<kind>.toml`,",
        "seed 0, full training sets with 10 % held out for validation, 1 torch thread). Errors are the test",
        "error of the last epoch, in percent.",
        "",
        "| kind | dataset | epochs | test acc. % | test err. % | val err. % | target | met | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['dataset']} | {r['epochs']} | {r['test_accuracy_percent']:.2f} | "
            f"{r['test_error_percent']:.2f} | {r['val_error_percent']} | {r['target']} | {r['met']} | {r['s_per_epoch']} |"
        )
    text = "\n".join(lines) + "\n"
    if rows:
        write_csv(out / "summary.csv", rows)
        atomic_write_text(out / "summary.md", text)
    return rows, text
